// Executor::thread(t): actors on an existing thread with an event loop, such as the GUI thread.
// One ThreadScheduler per QThread, shared by every Executor::thread(t) for it (so the handles
// compare equal and the thread's actors take turns through one queue of posted events).
//   - When t finishes (QThread::finished, on t), or its QThread object is destroyed without having
//     run, the loop has ended: LoopScheduler::end() stops t's actors there.
//   - The main thread does not finish; its loop ends with each QCoreApplication, and the shutdown
//     sequence (shutdown.cpp) delivers the main-thread actors' wake-ups before Qt discards them.

#include <QtActors/detail/executorprivate.h>
#include "loopscheduler_p.h"
#include "runtime_p.h"
#include "tuning_p.h"

#include <QtActors/executor.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QThread>

#include <memory>
#include <mutex>
#include <unordered_map>

namespace QtActors::detail {

namespace {

class ThreadScheduler final : public LoopScheduler, public ExecutorPrivate,
                              public std::enable_shared_from_this<ThreadScheduler>
{
public:
    //! The scheduler of `thread`, made on first use.
    static std::shared_ptr<ThreadScheduler> forThread(QThread *thread);

    explicit ThreadScheduler(QThread *thread) : LoopScheduler(thread) { }
    ~ThreadScheduler() override
    {
        QObject::disconnect(m_finished);
        QObject::disconnect(m_destroyed);
        forget();
    }

    void schedule(ActorCore *core) override
    {
        if (QCoreApplication *app = QCoreApplication::instance(); app && app->thread() == thread())
            drainAtApplicationExit();
        LoopScheduler::schedule(core);
    }
    int defaultThroughput() const override { return tuning::SharedThroughput; }
    std::shared_ptr<Scheduler> bind(const QString &) override { return shared_from_this(); }

private:
    void watch();
    //! Removes this scheduler from the registry, so that a restarted thread gets a new one.
    void forget();
    static void drainAtApplicationExit();

    QMetaObject::Connection m_finished;
    QMetaObject::Connection m_destroyed;
};

std::mutex &registryMutex()
{
    static auto *mutex = new std::mutex; // immortal, like every library global (S15)
    return *mutex;
}

std::unordered_map<QThread *, std::weak_ptr<ThreadScheduler>> &registry()
{
    static auto *schedulers = new std::unordered_map<QThread *, std::weak_ptr<ThreadScheduler>>;
    return *schedulers;
}

std::shared_ptr<ThreadScheduler> ThreadScheduler::forThread(QThread *thread)
{
    std::shared_ptr<ThreadScheduler> scheduler;
    {
        const std::lock_guard lock(registryMutex());
        std::weak_ptr<ThreadScheduler> &slot = registry()[thread];
        scheduler = slot.lock();
        if (scheduler)
            return scheduler;
        scheduler = std::make_shared<ThreadScheduler>(thread);
        slot = scheduler;
    }
    scheduler->watch();
    return scheduler;
}

void ThreadScheduler::watch()
{
    QThread *const t = thread();
    if (QCoreApplication *app = QCoreApplication::instance(); app && app->thread() == t)
        return; // the main thread: its end is each application's (see the top of this file)
    const std::weak_ptr<ThreadScheduler> weak = shared_from_this();
    const auto ended = [weak] {
        if (const std::shared_ptr<ThreadScheduler> self = weak.lock()) {
            self->forget();
            self->end();
        }
    };
    // Direct connections: both run in the thread that emits, t itself for finished().
    m_finished = QObject::connect(t, &QThread::finished, ended);
    m_destroyed = QObject::connect(t, &QObject::destroyed, ended);
    if (t->isFinished()) // it finished before the connection was made
        ended();
}

void ThreadScheduler::forget()
{
    const std::lock_guard lock(registryMutex());
    auto it = registry().find(thread());
    if (it != registry().end() && (it->second.expired() || it->second.lock().get() == this))
        registry().erase(it);
}

void ThreadScheduler::drainAtApplicationExit()
{
    drainMainThreadAtApplicationExit([] {
        std::shared_ptr<ThreadScheduler> main;
        {
            const std::lock_guard lock(registryMutex());
            auto it = registry().find(QThread::currentThread());
            if (it != registry().end())
                main = it->second.lock();
        }
        if (main)
            main->drainPosted();
    });
}

} // namespace

} // namespace QtActors::detail

namespace QtActors {

Executor Executor::thread(QThread *thread)
{
    if (!thread) {
        qCWarning(lcQtActors, "Executor::thread(nullptr): using the calling thread");
        thread = QThread::currentThread();
    }
    return Executor(detail::ThreadScheduler::forThread(thread));
}

} // namespace QtActors
