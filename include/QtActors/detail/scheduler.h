// Scheduler: one actor's binding to its executor. It turns "this actor has work" into exactly one
// call of ActorCore::runTurn() on the right context: one posted event for thread executors, one
// place in the pool's ready queue for pools. Each executor is a file of its own under src/.
// Thread contract: schedule() may be called from any thread, but only by the party that owns the
// actor's single turn token (see actorcore.h), so at most one turn is ever pending or running.
// attach() runs once when an actor binds to the scheduler, detach() once when it has finished
// (after State was destroyed, on its context) or when its core is destroyed without finishing.
#pragma once

#include <QtActors/detail/clock.h>
#include <QtActors/detail/common.h>

#include <chrono>

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace QtActors::detail {

class ActorCore;
class CallStateBase;

class QTACTORS_EXPORT Scheduler
{
public:
    virtual ~Scheduler();
    //! Arranges for core->runTurn() to run on this context. Takes over the turn's reference on core.
    virtual void schedule(ActorCore *core) = 0;
    //! The thread every handler runs on, or nullptr for pools. Compared only: once the context
    //! has ended the thread object may be gone.
    virtual QThread *thread() const = 0;
    //! Messages per turn when Options::throughput is 0.
    virtual int defaultThroughput() const = 0;
    //! How long a turn that ran out of messages spins for more before it gives up its context.
    //! Only worth it where the thread belongs to the actor alone (zero elsewhere).
    virtual std::chrono::nanoseconds linger() const { return std::chrono::nanoseconds(0); }
    //! True when other actors wait for this context: a lingering turn then gives it up at once.
    virtual bool othersWaiting() const noexcept { return false; }
    //! False while the context drains what is queued for good (process exit): a turn that spent
    //! its budget then goes on instead of yielding (S5 has nobody left to be fair to).
    virtual bool yieldsTurns() const noexcept { return true; }
    //! The clock of this executor's timers and timeouts (S19): the system clock, unless the
    //! executor keeps time of its own (a test executor's virtual time).
    virtual Clock &clock() const noexcept { return systemClock(); }
    //! Called by a thread that is about to block for `answer`, a call to `core`, and runs no turn
    //! itself. If core's turn is ready here and no thread of this context has taken it, the
    //! calling thread takes it and runs it until `answer` is ready (a pool actor's handler then
    //! runs on the waiting thread, as QtConcurrent runs a task that has not started on the thread
    //! that asks for its result). True if it ran a turn. Executors whose handlers must run on
    //! their own thread never do.
    virtual bool runForWaiter(ActorCore *, const CallStateBase &) noexcept { return false; }
    //! An actor was bound to this scheduler (from ActorCore's constructor).
    virtual void attach(ActorCore *) { }
    //! The actor has finished, or its core is destroyed: forget it (a dedicated thread quits).
    virtual void detach(ActorCore *) { }
};

} // namespace QtActors::detail
