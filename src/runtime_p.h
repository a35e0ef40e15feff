// Library-wide objects. Created on first use and never destroyed, so threads still running at
// process exit never touch a destroyed global (S15).
#pragma once

#include <QtActors/detail/actorcore.h>

#include <QtCore/QThread>

QT_BEGIN_NAMESPACE
class QThreadPool;
QT_END_NAMESPACE

namespace QtActors::detail {

//! The pool behind Executor::pool().
QThreadPool *defaultPool();
//! A one-thread pool for clean-up work nobody should wait for (joining finished threads,
//! releasing actors whose context is gone).
QThreadPool *reaperPool();
class PoolScheduler;

//! Whether waiting by spinning can pay off: with one core, the awaited work cannot run meanwhile.
inline bool spinningPays() noexcept
{
    static const bool pays = QThread::idealThreadCount() > 1;
    return pays;
}

//! Around a Call::wait() that blocks: when the calling thread is one of a pool's pumps, the pool
//! lends its place to another thread meanwhile, so the actors queued behind it still run.
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
//! Makes sure wake-ups still queued for the main thread are delivered when the current
//! QCoreApplication is destroyed, so main-thread actors finish there rather than never.
void deliverMainThreadWakeupsAtAppExit();
//! True while those wake-ups are delivered: turns then drain their actor completely.
bool isDeliveringAtAppExit() noexcept;

} // namespace QtActors::detail
