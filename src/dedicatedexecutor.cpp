// Executor::dedicatedThread(): each actor gets a QThread of its own, running an event loop, named
// after the actor. The thread quits when the actor has finished; a finished thread is joined and
// deleted by a reaper job, so no caller ever blocks on it.
//
// A handler may also quit the thread itself (QThread::currentThread()->quit(), the classic worker
// pattern): the loop's end then stops the actor there, as for any thread executor
// (LoopScheduler::end()), and the scheduler never touches the thread object again.

#include <QtActors/detail/executorprivate.h>
#include "loopscheduler_p.h"
#include "runtime_p.h"
#include "tuning_p.h"

#include <QtActors/executor.h>

#include <QtCore/QThread>
#include <QtCore/QThreadPool>

#include <memory>

namespace QtActors::detail {

namespace {

class DedicatedScheduler;

class ActorThread final : public QThread
{
public:
    explicit ActorThread(const QString &name) { setObjectName(name); }
    //! Starts the thread; it keeps `scheduler` alive until its loop has ended.
    void start(std::shared_ptr<DedicatedScheduler> scheduler)
    {
        m_scheduler = std::move(scheduler);
        QThread::start();
    }

protected:
    void run() override;

private:
    std::shared_ptr<DedicatedScheduler> m_scheduler;
};

class DedicatedScheduler final : public LoopScheduler
{
public:
    explicit DedicatedScheduler(ActorThread *thread) : LoopScheduler(thread), m_thread(thread) { }
    ~DedicatedScheduler() override
    {
        // Only when the actor never finished (its core died at process exit): end the thread.
        quitThread();
    }

    int defaultThroughput() const override { return tuning::DedicatedThroughput; }
    std::chrono::nanoseconds linger() const override
    {
        // A reply to a caller that spins in wait() comes back within microseconds: catching the
        // next message here saves a posted event and a thread wake-up. One core: never spin.
        return spinningPays() ? std::chrono::nanoseconds(tuning::TurnLinger)
                              : std::chrono::nanoseconds(0);
    }
    void detach(ActorCore *core) override
    {
        LoopScheduler::detach(core);
        quitThread(); // the actor has finished: so has its thread
    }

private:
    // The thread object is alive until its loop has ended (it is deleted only after run()).
    void quitThread()
    {
        whileRunning([this] { m_thread->quit(); });
    }

    ActorThread *const m_thread;
};

void ActorThread::run()
{
    setNormalPriority();
    exec();
    // The loop ended: because the actor finished, or because a handler quit this thread.
    m_scheduler->end();
    m_scheduler.reset();
    // Join and delete this QThread object off-thread, once run() has returned.
    QTACTORS_HANDOFF_RELEASE(this);
    reaperPool()->start([this] {
        QTACTORS_HANDOFF_ACQUIRE(this);
        wait();
        delete this;
    });
}

class DedicatedExecutor final : public ExecutorPrivate
{
public:
    std::shared_ptr<Scheduler> bind(const QString &actorName) override
    {
        auto *thread = new ActorThread(actorName); // deletes itself after it finished
        auto scheduler = std::make_shared<DedicatedScheduler>(thread);
        thread->start(scheduler);
        return scheduler;
    }
};

} // namespace

} // namespace QtActors::detail

namespace QtActors {

Executor Executor::dedicatedThread()
{
    static const Executor *executor = new Executor(std::make_shared<detail::DedicatedExecutor>());
    return *executor;
}

} // namespace QtActors
