// Scheduler: one actor's binding to its executor. It turns "this actor has work" into exactly one
// call of ActorCore::runTurn() on the right context: one posted event for thread executors, one
// place in the pool's ready queue for pools. Implementations live in src/executor.cpp.
// Thread contract: schedule() may be called from any thread, but only by the party that owns the
// actor's single turn token (see actorcore.h), so at most one turn is ever pending or running.
// detach() is called once, on the actor's context, after State was destroyed.
#pragma once

#include <QtActors/detail/common.h>

#include <chrono>

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace QtActors::detail {

class ActorCore;

class QTACTORS_EXPORT Scheduler
{
public:
    virtual ~Scheduler();
    //! Arranges for core->runTurn() to run on this context. Takes over the turn's reference on core.
    virtual void schedule(ActorCore *core) = 0;
    //! The thread every handler runs on, or nullptr for pools.
    virtual QThread *thread() const = 0;
    //! Messages per turn when Options::throughput is 0.
    virtual int defaultThroughput() const = 0;
    //! How long a turn that ran out of messages spins for more before it gives up its context.
    //! Only worth it where the thread belongs to the actor alone (zero elsewhere).
    virtual std::chrono::nanoseconds linger() const { return std::chrono::nanoseconds(0); }
    //! True when other actors wait for this context: a lingering turn then gives it up at once.
    virtual bool othersWaiting() const noexcept { return false; }
    //! The actor has finished: a dedicated thread quits and is cleaned up.
    virtual void detach() { }
};

} // namespace QtActors::detail
