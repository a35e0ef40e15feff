// Library-wide pieces used by the executors: the library's threads, thread priorities, and the
// blocking-wait bracket of pool threads.
#pragma once

#include <QtCore/qglobal.h>

QT_BEGIN_NAMESPACE
class QThreadPool;
QT_END_NAMESPACE

namespace QtActors::detail {

class PoolScheduler;

//! The pool behind Executor::pool() (runtime.cpp).
QThreadPool *defaultPool();
//! A one-thread pool for clean-up work nobody should wait for: joining finished threads, running
//! the last turns of actors whose context is gone (runtime.cpp).
QThreadPool *reaperPool();
//! Whether waiting by spinning can pay off: with one core, the awaited work cannot run meanwhile.
bool spinningPays() noexcept;

//! The library's pool threads run below normal priority (threadpriority.cpp).
void lowerThisThreadsPriority() noexcept;
//! A dedicated thread runs at the main thread's priority, whichever thread started it.
void setNormalPriority() noexcept;

//! True on a thread that runs a pool's turns (a QThreadPool worker the library pumps): it has an
//! event dispatcher, but its loop never runs (poolexecutor.cpp).
bool runsPoolTurns() noexcept;

//! Around a Call::wait() that blocks: when the calling thread is one of a pool's pumps, the pool
//! lends its place to another thread meanwhile, so the actors queued behind it still run
//! (poolexecutor.cpp).
class BlockingWait
{
public:
    BlockingWait() noexcept;
    ~BlockingWait();
    BlockingWait(const BlockingWait &) = delete;
    BlockingWait &operator=(const BlockingWait &) = delete;

private:
    PoolScheduler *m_pool;
};

} // namespace QtActors::detail
