// The three executors and their per-actor schedulers.
//   pool            — one PoolScheduler per QThreadPool; a wake-up puts the actor in the pool's
//                     ready queue, which pump runnables drain (no allocation, no event).
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

#include <algorithm>
#include <cerrno>
#include <mutex>
#if defined(Q_OS_LINUX)
#include <sys/resource.h>
#include <unistd.h>
#endif
#include <unordered_map>

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

// Pool executor. Actors with work wait in one FIFO ready queue per QThreadPool. "Pumps" (one
// QRunnable, started up to maxThreadCount() times) take actors from the queue and run their turns.
// A pump that finds the queue empty spins for a short while (at most one pump per pool spins),
// then returns its thread to QThreadPool. So while a pool is busy, handing an actor to another
// thread costs one short mutex section: no QThreadPool::start, no allocation, no futex.
// QThreadPool::start runs only to add a pump, when more actors are ready than pumps can take.
//
// Thread contract: everything below m_mutex is guarded by it, except m_queued, which the spinning
// pump also reads without it. The scheduler stays alive while any pump runs (m_self).
class PoolScheduler final : public Scheduler, public ExecutorPrivate,
                            public std::enable_shared_from_this<PoolScheduler>
{
public:
    PoolScheduler(QThreadPool *pool, bool ownPool) : m_pool(pool), m_ownPool(ownPool) { }

    //! The one scheduler for `pool`, shared by every Executor::pool(pool), so that all actors on
    //! one QThreadPool take fair turns from one queue (S5).
    static std::shared_ptr<PoolScheduler> forPool(QThreadPool *pool);
    //! The pool whose pump runs on this thread, or nullptr.
    static PoolScheduler *current() noexcept { return t_pump; }

    void schedule(ActorCore *core) override
    {
        std::unique_lock lock(m_mutex);
        core->m_nextReady = nullptr;
        if (m_tail)
            m_tail->m_nextReady = core;
        else
            m_head = core;
        m_tail = core;
        m_queued.store(m_queued.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        // A turn that yields (S5) goes to the back of the queue and its pump comes right back
        // for more: it counts as a taker.
        const bool yielding = t_pump == this && ActorCore::current() == core;
        startPumpIfNeeded(lock, yielding ? 1 : 0);
    }
    QThread *thread() const override { return nullptr; }
    int defaultThroughput() const override { return SharedThroughput; }
    std::chrono::nanoseconds linger() const override
    {
        // While nobody else waits for the pool, a turn that ran dry keeps its actor for a moment
        // (see ActorCore::lingerForMore): the next message then needs no trip through the queue.
        return spinningPays() ? std::chrono::microseconds(20) : std::chrono::nanoseconds(0);
    }
    bool othersWaiting() const noexcept override
    {
        return m_queued.load(std::memory_order_relaxed) > 0;
    }
    std::shared_ptr<Scheduler> bind(const QString &) override { return shared_from_this(); }

    void enterBlocking()
    {
        m_pool->releaseThread();
        std::unique_lock lock(m_mutex);
        ++m_blocked;
        startPumpIfNeeded(lock, 0);
    }
    void leaveBlocking()
    {
        {
            std::lock_guard lock(m_mutex);
            --m_blocked;
        }
        m_pool->reserveThread();
    }

private:
    class Pump final : public QRunnable
    {
    public:
        explicit Pump(PoolScheduler *owner) : m_owner(owner) { setAutoDelete(false); }
        void run() override { m_owner->pump(); }

    private:
        PoolScheduler *m_owner;
    };

    // Starts one more pump when more actors wait than pumps are about to take them, and the
    // pool has room. Called with m_mutex held; releases it.
    void startPumpIfNeeded(std::unique_lock<std::mutex> &lock, int extraTakers)
    {
        const int takers = m_starting + (m_spinning ? 1 : 0) + extraTakers;
        if (m_queued.load(std::memory_order_relaxed) <= takers
            || m_running - m_blocked >= m_pool->maxThreadCount()) {
            return;
        }
        ++m_running;
        ++m_starting;
        if (!m_self)
            m_self = shared_from_this();
        lock.unlock();
        m_pool->start(&m_pump);
    }

    ActorCore *popLocked() noexcept
    {
        ActorCore *core = m_head;
        if (core) {
            m_head = core->m_nextReady;
            if (!m_head)
                m_tail = nullptr;
            m_queued.store(m_queued.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        }
        return core;
    }

    // Waits up to the spin time for an actor to be queued; true if one may be.
    bool spinForWork() const noexcept
    {
        if (!spinningPays())
            return false;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
        for (int i = 1;; ++i) {
            if (m_queued.load(std::memory_order_relaxed) > 0)
                return true;
            if (i % 4 == 0 && std::chrono::steady_clock::now() > deadline)
                return false;
            for (int k = 0; k < 16; ++k) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            }
        }
    }

    void pump() noexcept
    {
        if (m_ownPool)
            lowerThisThreadsPriority();
        PoolScheduler *const outer = std::exchange(t_pump, this);
        // On a pool the application shares with other work, give the thread back now and then.
        const auto sliceEnd = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
        int turns = 0;
        std::unique_lock lock(m_mutex);
        --m_starting;
        for (;;) {
            if (ActorCore *core = popLocked()) {
                lock.unlock();
                core->runTurn(); // consumes the turn's reference; may delete core
                if (!m_ownPool && ++turns % 16 == 0 && std::chrono::steady_clock::now() > sliceEnd) {
                    lock.lock();
                    ++m_starting; // stays counted in m_running
                    lock.unlock();
                    t_pump = outer;
                    m_pool->start(&m_pump); // behind whatever else waits for this pool
                    return;
                }
                lock.lock();
                continue;
            }
            if (m_spinning)
                break; // one spinning pump per pool is enough
            m_spinning = true;
            lock.unlock();
            spinForWork();
            lock.lock();
            m_spinning = false;
            if (!m_head)
                break;
        }
        // Leaving: the queue is empty, or another pump spins and takes what comes.
        std::shared_ptr<PoolScheduler> self;
        if (--m_running == 0)
            self = std::move(m_self); // may be the last reference: released after the unlock
        lock.unlock();
        t_pump = outer;
    }

    // The library's own pool works in the background: its threads yield to the GUI thread and
    // to the application's other threads when cores are short. On Linux, where QThread's
    // priorities do nothing for normal threads, that is 5 nice levels below the main thread
    // (about a third of a normal thread's share of a busy core).
    static void lowerThisThreadsPriority() noexcept
    {
        static thread_local bool lowered = false;
        if (lowered)
            return;
        lowered = true;
#if defined(Q_OS_LINUX)
        // Relative to the process's main thread (threads inherit the nice value of the thread
        // that created them, which may be a pool thread already lowered).
        errno = 0;
        const int base = getpriority(PRIO_PROCESS, static_cast<id_t>(getpid()));
        if (errno == 0)
            setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), std::min(base + 5, 19));
#else
        QThread::currentThread()->setPriority(QThread::LowPriority);
#endif
    }

    static thread_local PoolScheduler *t_pump;

    QThreadPool *const m_pool;
    const bool m_ownPool;
    std::mutex m_mutex;
    ActorCore *m_head = nullptr;
    ActorCore *m_tail = nullptr;
    std::atomic<int> m_queued{0}; // actors in the queue; written under m_mutex
    int m_running = 0;            // pumps started and not yet finished, blocked ones included
    int m_starting = 0;           // pumps started but not yet looking at the queue
    int m_blocked = 0;            // pumps whose thread is blocked in Call::wait()
    bool m_spinning = false;      // a pump spins, waiting for work
    std::shared_ptr<PoolScheduler> m_self; // keeps this alive while pumps run
    Pump m_pump{this};
};

thread_local PoolScheduler *PoolScheduler::t_pump = nullptr;

std::shared_ptr<PoolScheduler> PoolScheduler::forPool(QThreadPool *pool)
{
    static std::mutex mutex;
    static auto *schedulers = new std::unordered_map<QThreadPool *, std::weak_ptr<PoolScheduler>>;
    std::lock_guard lock(mutex);
    std::erase_if(*schedulers, [](const auto &entry) { return entry.second.expired(); });
    std::weak_ptr<PoolScheduler> &slot = (*schedulers)[pool];
    std::shared_ptr<PoolScheduler> scheduler = slot.lock();
    if (!scheduler) {
        scheduler = std::make_shared<PoolScheduler>(pool, false);
        slot = scheduler;
    }
    return scheduler;
}

BlockingWait::BlockingWait() noexcept : m_pool(PoolScheduler::current())
{
    if (m_pool)
        m_pool->enterBlocking();
}

BlockingWait::~BlockingWait()
{
    if (m_pool)
        m_pool->leaveBlocking();
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
        return spinningPays() ? std::chrono::microseconds(20) : std::chrono::nanoseconds(0);
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
            new Executor(std::make_shared<detail::PoolScheduler>(detail::defaultPool(), true));
    return *executor;
}

Executor Executor::pool(QThreadPool *pool)
{
    if (!pool) {
        qCWarning(lcQtActors, "Executor::pool(nullptr): using the default pool");
        return Executor::pool();
    }
    return Executor(detail::PoolScheduler::forPool(pool));
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
