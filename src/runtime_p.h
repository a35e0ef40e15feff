// The runtime layer: what every actor and executor stands on. Read this file first.
//
//   include/QtActors/*.h       the handles: Actor, Call, Reply, Timer, Executor, Options
//   actorcore.cpp              one actor: mailbox, turns, resumptions, stop (detail/actorcore.h)
//   callstate.cpp              one answer: publish once, timeouts, where awaits resume
//   actortimer.cpp             one timer (detail/actortimer.h)
//   poolexecutor.cpp           executors, each a file behind Scheduler (detail/scheduler.h)
//   threadexecutor.cpp           and ExecutorPrivate (detail/executorprivate.h); thread(t) and
//   dedicatedexecutor.cpp        dedicatedThread() post to a LoopScheduler (loopscheduler.cpp)
//   contextobject.cpp          the QObject in a thread that receives the library's events
//   ---- the runtime: below every executor, knows none of them ----
//   systemclock.cpp            the one clock and the timer thread (detail/clock.h; S19)
//   registry.cpp               every live actor (registry_p.h; S28, S29)
//   shutdown.cpp               the shutdown sequence at application exit
//   runtime.cpp                the library's pool and reaper threads
//   threadpriority.cpp         priorities of the library's threads
//   messagememory.cpp          recycled message blocks
//   tuning_p.h                 every tuning number, named once, and cpuRelax()
//
// Library-wide objects are created on first use and never destroyed, so threads still running
// at process exit never touch a destroyed global (S15).
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
//! Threads for code that must not run on the clock's thread: what continues after a call that
//! timed out, when it has no actor or event loop of its own to continue on (runtime.cpp).
QThreadPool *continuationPool();
//! Whether waiting by spinning can pay off: with one core, the awaited work cannot run meanwhile.
bool spinningPays() noexcept;

//! At the next QCoreApplication's destruction, calls `drain` on the main thread before Qt
//! discards the queued events (shutdown.cpp). Any thread; cheap after the first call per
//! application.
void drainMainThreadAtApplicationExit(void (*drain)()) noexcept;

//! True on the system clock's thread, "QtActors timers" (systemclock.cpp).
bool isClockThread() noexcept;

//! The library's pool threads run below normal priority (threadpriority.cpp).
void lowerThisThreadsPriority() noexcept;
//! A dedicated thread runs at the main thread's priority, whichever thread started it.
void setNormalPriority() noexcept;

//! True on a thread that runs a pool's turns (a QThreadPool worker the library pumps): it has an
//! event dispatcher, but its loop never runs (poolexecutor.cpp).
bool runsPoolTurns() noexcept;

//! Before a handler on a pool spins or blocks in Call::wait(): the actor its turn readied last
//! (in its pump's slot, which no other thread takes at once) goes where another thread can take
//! it, as it may be the one that answers (poolexecutor.cpp). Any thread; cheap when nothing waits.
void shareReadiedActorBeforeWaiting() noexcept;

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
