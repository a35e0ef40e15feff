// The three executors and their per-actor schedulers.
//   pool            — one shared PoolScheduler; a wake-up starts the actor's embedded QRunnable
//                     (no allocation, no event).
//   thread(t)       — one shared ThreadScheduler; a wake-up posts one event to a ContextObject
//                     living in t.
//   dedicatedThread — a DedicatedScheduler per actor owning an ActorThread (QThread + event loop).
//                     When the actor ends, the thread quits; a finished thread is joined and
//                     deleted by a reaper job, so no caller ever blocks on it.
// Library-wide objects (the default pool, the reaper pool) are created once and never destroyed,
// so threads still running at process exit never touch a destroyed global (S15).

#include "context_p.h"
#include "runtime_p.h"

#include <QtActors/executor.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QThread>
#include <QtCore/QThreadPool>

namespace QtActors {
namespace detail {

Scheduler::~Scheduler() = default;

class ExecutorPrivate
{
public:
    virtual ~ExecutorPrivate() = default;
    virtual std::shared_ptr<Scheduler> bind(const QString &actorName) = 0;
};

namespace {

constexpr int SharedThroughput = 64;
constexpr int DedicatedThroughput = 1024;

} // namespace

QThreadPool *defaultPool()
{
    static QThreadPool *pool = [] {
        auto *p = new QThreadPool; // intentionally immortal, see the top of this file
        p->setObjectName(QStringLiteral("QtActors pool"));
        p->setExpiryTimeout(-1); // keep workers: thread start-up dominates wake-up latency
        return p;
    }();
    return pool;
}

QThreadPool *reaperPool()
{
    static QThreadPool *pool = [] {
        auto *p = new QThreadPool; // intentionally immortal
        p->setObjectName(QStringLiteral("QtActors reaper"));
        p->setMaxThreadCount(1);
        return p;
    }();
    return pool;
}

class PoolScheduler final : public Scheduler, public ExecutorPrivate,
                            public std::enable_shared_from_this<PoolScheduler>
{
public:
    explicit PoolScheduler(QThreadPool *pool) : m_pool(pool) { }
    void schedule(ActorCore *core) override
    {
        QTACTORS_HANDOFF_RELEASE(&core->m_runnable);
        m_pool->start(&core->m_runnable);
    }
    QThread *thread() const override { return nullptr; }
    QThreadPool *pool() const override { return m_pool; }
    int defaultThroughput() const override { return SharedThroughput; }
    std::shared_ptr<Scheduler> bind(const QString &) override { return shared_from_this(); }

private:
    QThreadPool *m_pool;
};

void ActorCore::Runnable::run()
{
    QTACTORS_HANDOFF_ACQUIRE(this);
    m_core->runTurn();
}

namespace {

class ThreadScheduler final : public Scheduler, public ExecutorPrivate,
                              public std::enable_shared_from_this<ThreadScheduler>
{
public:
    explicit ThreadScheduler(QThread *thread) : m_thread(thread), m_context(new ContextObject)
    {
        m_context->moveToThread(thread);
    }
    ~ThreadScheduler() override
    {
        // The context lives in another thread: let that thread delete it.
        m_context->deleteLater();
    }
    void schedule(ActorCore *core) override
    {
        if (m_onMainThread)
            deliverMainThreadWakeupsAtAppExit();
        m_context->postWake(core);
    }
    QThread *thread() const override { return m_thread; }
    int defaultThroughput() const override { return SharedThroughput; }
    std::shared_ptr<Scheduler> bind(const QString &) override { return shared_from_this(); }

private:
    QThread *m_thread;
    const bool m_onMainThread = QCoreApplication::instance()
            && m_thread == QCoreApplication::instance()->thread();
    ContextObject *m_context;
};

class ActorThread final : public QThread
{
public:
    explicit ActorThread(const QString &name) : m_context(new ContextObject)
    {
        setObjectName(name);
        m_context->moveToThread(this);
    }
    ContextObject *context() const { return m_context; }

protected:
    void run() override
    {
        exec();
        delete m_context; // pending wake-ups (only possible at exit) give their references back
        // Join and delete this QThread object off-thread, once run() has returned.
        reaperPool()->start([this] {
            wait();
            delete this;
        });
    }

private:
    ContextObject *m_context;
};

class DedicatedScheduler final : public Scheduler
{
public:
    explicit DedicatedScheduler(const QString &name) : m_thread(new ActorThread(name))
    {
        m_thread->start();
    }
    ~DedicatedScheduler() override
    {
        // Only when the actor never finished (its core died at process exit): end the thread.
        if (!m_detached)
            m_thread->quit();
    }
    void schedule(ActorCore *core) override { m_thread->context()->postWake(core); }
    QThread *thread() const override { return m_thread; }
    int defaultThroughput() const override { return DedicatedThroughput; }
    std::chrono::nanoseconds linger() const override
    {
        // A reply to a caller that spins in wait() comes back within microseconds: catching the
        // next message here saves a posted event and a thread wake-up. One core: never spin.
        static const bool worthIt = QThread::idealThreadCount() > 1;
        return worthIt ? std::chrono::microseconds(20) : std::chrono::nanoseconds(0);
    }
    void detach() override
    {
        // From here on the thread may finish and be deleted at any moment: never touch it again.
        m_detached = true;
        m_thread->quit();
    }

private:
    ActorThread *m_thread; // deletes itself after it finished
    bool m_detached = false;
};

class DedicatedExecutor final : public ExecutorPrivate
{
public:
    std::shared_ptr<Scheduler> bind(const QString &actorName) override
    {
        return std::make_shared<DedicatedScheduler>(actorName);
    }
};

} // namespace
} // namespace detail

Executor::Executor(std::shared_ptr<detail::ExecutorPrivate> d) : d(std::move(d)) { }
Executor::~Executor() = default;

Executor Executor::pool()
{
    static const Executor *executor =
            new Executor(std::make_shared<detail::PoolScheduler>(detail::defaultPool()));
    return *executor;
}

Executor Executor::pool(QThreadPool *pool)
{
    if (!pool) {
        qCWarning(lcQtActors, "Executor::pool(nullptr): using the default pool");
        return Executor::pool();
    }
    return Executor(std::make_shared<detail::PoolScheduler>(pool));
}

Executor Executor::dedicatedThread()
{
    static const Executor *executor = new Executor(std::make_shared<detail::DedicatedExecutor>());
    return *executor;
}

Executor Executor::thread(QThread *thread)
{
    if (!thread) {
        qCWarning(lcQtActors, "Executor::thread(nullptr): using the calling thread");
        thread = QThread::currentThread();
    }
    return Executor(std::make_shared<detail::ThreadScheduler>(thread));
}

std::shared_ptr<detail::Scheduler> Executor::bind(const QString &actorName) const
{
    return d->bind(actorName.isEmpty() ? QStringLiteral("QtActors actor") : actorName);
}

} // namespace QtActors
