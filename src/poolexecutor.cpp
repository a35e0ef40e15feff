// Executor::pool() and Executor::pool(QThreadPool *): actors that share a QThreadPool's threads.

#include <QtActors/detail/executorprivate.h>
#include "runtime_p.h"
#include "tuning_p.h"

#include <QtActors/detail/actorcore.h>
#include <QtActors/detail/clock.h>
#include <QtActors/executor.h>

#include <QtCore/QThreadPool>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace QtActors::detail {

// Pool executor. "Pumps" (one QRunnable, started up to maxThreadCount() times) take ready actors
// and run their turns. Ready actors wait in one of two places:
//   - the shared FIFO queue of the QThreadPool: actors readied from outside the pool's turns
//     (other threads, timers) and turns that yield (S5);
//   - the "next" slot of the pump whose running turn readied them (a message to an idle actor,
//     an answer waking a coroutine handler), which holds the newest: the pump runs it right after
//     the turn, and no other pump is woken for it, so a chain of actors each waking the next runs
//     on one thread without a hand-over. A turn that runs on for tuning::PumpNextPatience gives
//     it up (the watch, on the clock's thread), and so does a pump whose thread blocks or leaves;
//   - below the slot, the same pump's stack of what its turns readied before: the pump runs the
//     newest next, so trees of actors unfold depth first, and other pumps take the oldest when
//     the shared queue is empty (stealing).
// A pump that finds no work spins for a short while (at most one pump per pool spins), then
// returns its thread to QThreadPool. So while a pool is busy, handing an actor to another thread
// costs one short mutex section: no QThreadPool::start, no allocation, no futex. QThreadPool::start
// runs only to add a pump, when more actors are ready than pumps can take. The fairness guards
// are tuning::PumpSharedQueueEvery and tuning::PumpStackPatience.
//
// Thread contract: everything below m_mutex is guarded by it, the pumps' stacks included, except
// m_queued (every ready actor in the queue or a stack, not those in slots), which the spinning
// pump also reads without it; a slot, which its own pump fills and empties without it (others
// empty it with it: whoever exchanges an actor out owns it); and m_watchArmed, which a pump
// filling its slot reads without it. The scheduler stays alive while any pump runs (m_self).
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
        // A turn of this pool readying another actor: onto its pump's stack. A turn that yields
        // (S5) goes to the back of the shared queue, and its pump comes right back for more: it
        // counts as a taker.
        ActorCore *const running = t_pump == this ? ActorCore::current() : nullptr;
        const bool yielding = running == core;
        if (running && !yielding && t_stack) {
            // Into the slot, without the lock (the hop of a chain of actors); what it held before
            // goes on the stack, where other pumps may take it. (seq_cst: with lookAtSlots(),
            // either the watch sees the slot full or this thread sees the watch disarmed.)
            ActorCore *previous = t_stack->next.exchange(core, std::memory_order_seq_cst);
            if (!previous && m_watchArmed.load(std::memory_order_seq_cst))
                return;
            std::unique_lock lock(m_mutex);
            if (!previous && watchLocked())
                return;
            if (!previous) // (the watch cannot be armed: the slot must not hold it)
                previous = t_stack->next.exchange(nullptr, std::memory_order_acq_rel);
            if (!previous)
                return; // the watch or a waiting thread took it meanwhile: it is queued or running
            if (!t_stack->tryPush(previous))
                pushSharedLocked(previous);
            m_queued.store(m_queued.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            startPumpIfNeeded(lock, 0);
            return;
        }
        std::unique_lock lock(m_mutex);
        pushSharedLocked(core);
        m_queued.store(m_queued.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        startPumpIfNeeded(lock, yielding ? 1 : 0);
    }
    QThread *thread() const override { return nullptr; }
    int defaultThroughput() const override { return tuning::SharedThroughput; }
    std::chrono::nanoseconds linger() const override
    {
        // While nobody else waits for the pool, a turn that ran dry keeps its actor for a moment
        // (see ActorCore::lingerForMore): the next message then needs no trip through the queue.
        return spinningPays() ? std::chrono::nanoseconds(tuning::TurnLinger)
                              : std::chrono::nanoseconds(0);
    }
    bool othersWaiting() const noexcept override
    {
        // (A lingering turn that filled its own pump's slot gives the pump to that actor at once.)
        return m_queued.load(std::memory_order_relaxed) > 0
                || (t_pump == this && t_stack && t_stack->next.load(std::memory_order_relaxed));
    }
    std::shared_ptr<Scheduler> bind(const QString &) override { return shared_from_this(); }

    bool runForWaiter(ActorCore *core, const CallStateBase &answer) noexcept override
    {
        {
            std::lock_guard lock(m_mutex);
            if (!takeLocked(core))
                return false; // running, lingering, or deep in a busy queue: wait for the pool
        }
        core->runTurn(&answer); // the turn's reference came with it
        return true;
    }

    //! On one of this pool's pumps: moves its slot's actor to the shared queue (see
    //! shareReadiedActorBeforeWaiting()).
    void shareSlot() noexcept
    {
        if (!t_stack || !t_stack->next.load(std::memory_order_relaxed))
            return;
        std::unique_lock lock(m_mutex);
        if (shareSlotLocked(*t_stack))
            startPumpIfNeeded(lock, 0);
    }

    void enterBlocking()
    {
        m_pool->releaseThread();
        std::unique_lock lock(m_mutex);
        ++m_blocked;
        if (t_pump == this && t_stack)
            shareStackLocked(*t_stack); // its thread blocks: let the others run what it readied
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

    // The actors a pump's turns readied: the newest in the slot, the others on the stack, newest
    // at the back. Lives in pump()'s frame.
    struct Stack
    {
        // The slot: filled and emptied by its pump without m_mutex, emptied by others (the
        // watch, a waiting thread) with it; whoever exchanges an actor out of it owns it.
        std::atomic<ActorCore *> next{nullptr};
        std::deque<ActorCore *> actors;
        std::atomic<std::uint64_t> turns{0}; // the pump's turns (and looks) so far; its own writes
        std::uint64_t watchedTurns = ~std::uint64_t(0); // `turns` at the watch's last look
        std::uint64_t bottomSince = 0; // the turn count when the bottom one became the bottom

        std::uint64_t countTurn() noexcept
        {
            const std::uint64_t n = turns.load(std::memory_order_relaxed) + 1;
            turns.store(n, std::memory_order_relaxed);
            return n;
        }

        //! False when the stack cannot grow (no memory): the shared queue takes the actor then.
        bool tryPush(ActorCore *core) noexcept
        {
            try {
                actors.push_back(core);
            } catch (...) {
                return false;
            }
            if (actors.size() == 1)
                bottomSince = turns.load(std::memory_order_relaxed);
            return true;
        }
        ActorCore *popNewest() noexcept
        {
            ActorCore *core = actors.back();
            actors.pop_back();
            return core;
        }
        ActorCore *popOldest() noexcept
        {
            ActorCore *core = actors.front();
            actors.pop_front();
            // (The new bottom may have waited longer: the bound is loose.)
            bottomSince = turns.load(std::memory_order_relaxed);
            return core;
        }
    };

    void pushSharedLocked(ActorCore *core) noexcept
    {
        core->m_nextReady = nullptr;
        if (m_tail)
            m_tail->m_nextReady = core;
        else
            m_head = core;
        m_tail = core;
    }

    ActorCore *popShared() noexcept
    {
        ActorCore *core = m_head;
        if (core) {
            m_head = core->m_nextReady;
            if (!m_head)
                m_tail = nullptr;
        }
        return core;
    }

    // The next actor for the pump owning `own`: its stack's newest, else the shared queue's
    // oldest, else another pump's oldest; the guards of tuning::PumpSharedQueueEvery and
    // tuning::PumpStackPatience first.
    ActorCore *popLocked(Stack &own) noexcept
    {
        // (Counts looks too: the watch only asks whether a turn has ended since its last look.)
        const std::uint64_t turn = own.countTurn();
        ActorCore *core = nullptr;
        if (own.next.load(std::memory_order_relaxed) || !own.actors.empty()) {
            if (turn % tuning::PumpSharedQueueEvery == 0) {
                core = popShared();
                if (!core && !own.actors.empty() && turn - own.bottomSince > tuning::PumpStackPatience)
                    core = own.popOldest();
            }
            if (!core) {
                if (ActorCore *const next = own.next.exchange(nullptr, std::memory_order_acq_rel))
                    return next; // (not counted in m_queued)
            }
            if (!core && !own.actors.empty())
                core = own.popNewest();
        } else {
            core = popShared();
            for (auto it = m_stacks.begin(); !core && it != m_stacks.end(); ++it) {
                if (*it != &own && !(*it)->actors.empty())
                    core = (*it)->popOldest();
            }
        }
        if (core)
            m_queued.store(m_queued.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        return core;
    }

    // The watch: while a slot is full, the clock's thread looks at the slots every
    // tuning::PumpNextPatience and moves the actor of a pump whose turn has not ended since the
    // previous look (a long handler, one that waits for the actor it readied) to the shared queue.
    class Watch final : public TimerEntry
    {
    public:
        explicit Watch(std::weak_ptr<PoolScheduler> owner) : m_owner(std::move(owner)) { }
        void fire() noexcept override
        {
            if (std::shared_ptr<PoolScheduler> owner = m_owner.lock())
                owner->lookAtSlots();
        }

    private:
        std::weak_ptr<PoolScheduler> m_owner;
    };

    //! Makes sure the watch is armed; false if it cannot be (no memory): the slot must not hold
    //! an actor then.
    bool watchLocked() noexcept
    {
        if (m_watchArmed.load(std::memory_order_relaxed))
            return true;
        try {
            if (!m_watch)
                m_watch = Ref<Watch>::adopt(new Watch(weak_from_this()));
            systemClock().arm(m_watch.get(), systemClock().now() + tuning::PumpNextPatience);
        } catch (...) {
            return false;
        }
        m_watchArmed.store(true, std::memory_order_seq_cst);
        return true;
    }

    void lookAtSlots() noexcept
    {
        std::unique_lock lock(m_mutex);
        m_watchArmed.store(false, std::memory_order_seq_cst); // (see schedule())
        bool full = false;
        bool moved = false;
        for (Stack *stack : m_stacks) {
            const std::uint64_t turns = stack->turns.load(std::memory_order_relaxed);
            if (turns == stack->watchedTurns) {
                moved |= shareSlotLocked(*stack); // the same turn as at the previous look
            } else if (stack->next.load(std::memory_order_seq_cst)) {
                full = true;
            }
            stack->watchedTurns = turns;
        }
        if (full && !watchLocked()) {
            for (Stack *stack : m_stacks)
                moved |= shareSlotLocked(*stack);
        }
        if (moved)
            startPumpIfNeeded(lock, 0);
    }

    // Moves the actor in `stack`'s slot, if any, to the back of the shared queue.
    bool shareSlotLocked(Stack &stack) noexcept
    {
        ActorCore *const next = stack.next.exchange(nullptr, std::memory_order_acq_rel);
        if (!next)
            return false;
        pushSharedLocked(next);
        m_queued.store(m_queued.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return true;
    }

    // Takes `core` out of where it waits to run, if it waits near an end: the first
    // tuning::WaiterQueueLook of the shared queue (an idle pool holds one there), or either end of
    // a pump's stack. Only ends are searched so that a waiter never holds m_mutex for long.
    bool takeLocked(ActorCore *core) noexcept
    {
        bool taken = false;
        ActorCore *previous = nullptr;
        int looked = 0;
        for (ActorCore *c = m_head; c && looked < tuning::WaiterQueueLook; c = c->m_nextReady) {
            if (c == core) {
                (previous ? previous->m_nextReady : m_head) = c->m_nextReady;
                if (m_tail == c)
                    m_tail = previous;
                taken = true;
                break;
            }
            previous = c;
            ++looked;
        }
        for (Stack *stack : m_stacks) {
            ActorCore *expected = core;
            if (!taken && stack->next.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel))
                return true; // (slots are not counted in m_queued)
        }
        for (auto it = m_stacks.begin(); !taken && it != m_stacks.end(); ++it) {
            std::deque<ActorCore *> &actors = (*it)->actors;
            if (!actors.empty() && actors.back() == core) {
                actors.pop_back();
                taken = true;
            } else if (!actors.empty() && actors.front() == core) {
                (*it)->popOldest();
                taken = true;
            }
        }
        if (taken)
            m_queued.store(m_queued.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        return taken;
    }

    // Moves the actors of `stack` and its slot to the back of the shared queue, oldest first.
    void shareStackLocked(Stack &stack) noexcept
    {
        for (ActorCore *core : stack.actors)
            pushSharedLocked(core);
        stack.actors.clear();
        shareSlotLocked(stack);
    }

    // Waits up to the spin time for an actor to be queued; true if one may be.
    bool spinForWork() const noexcept
    {
        if (!spinningPays())
            return false;
        const auto deadline = std::chrono::steady_clock::now() + tuning::PumpSpin;
        for (;;) {
            if (m_queued.load(std::memory_order_relaxed) > 0)
                return true;
            if (std::chrono::steady_clock::now() > deadline)
                return false;
            for (int k = 0; k < 16; ++k)
                cpuRelax();
        }
    }

    void pump() noexcept
    {
        if (m_ownPool)
            lowerThisThreadsPriority(); // the library's own pool works in the background
        PoolScheduler *const outer = std::exchange(t_pump, this);
        Stack stack;
        Stack *const outerStack = std::exchange(t_stack, &stack);
        // On a pool the application shares with other work, give the thread back now and then.
        const auto sliceEnd = std::chrono::steady_clock::now() + tuning::PumpSlice;
        int turns = 0;
        std::unique_lock lock(m_mutex);
        --m_starting;
        m_stacks.push_back(&stack);
        const auto leave = [&] { // with m_mutex held
            shareStackLocked(stack);
            std::erase(m_stacks, &stack);
            t_stack = outerStack;
            t_pump = outer;
        };
        for (;;) {
            if (ActorCore *core = popLocked(stack)) {
                lock.unlock();
                for (;;) {
                    core->runTurn(); // consumes the turn's reference; may delete core
                    if (!m_ownPool && ++turns % tuning::PumpSliceCheckEvery == 0
                        && std::chrono::steady_clock::now() > sliceEnd) {
                        lock.lock();
                        ++m_starting; // stays counted in m_running
                        leave();
                        lock.unlock();
                        m_pool->start(&m_pump); // behind whatever else waits for this pool
                        return;
                    }
                    // The actor that turn readied last, without the lock, unless it is time to
                    // look at the shared queue first (popLocked() then).
                    if ((stack.turns.load(std::memory_order_relaxed) + 1) % tuning::PumpSharedQueueEvery == 0)
                        break;
                    core = stack.next.exchange(nullptr, std::memory_order_acq_rel);
                    if (!core)
                        break;
                    stack.countTurn();
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
            if (m_queued.load(std::memory_order_relaxed) == 0)
                break;
        }
        // Leaving: nothing is ready, or another pump spins and takes what comes.
        leave();
        std::shared_ptr<PoolScheduler> self;
        if (--m_running == 0)
            self = std::move(m_self); // may be the last reference: released after the unlock
        lock.unlock();
    }

    static thread_local PoolScheduler *t_pump;
    static thread_local Stack *t_stack; // the running pump's stack

    QThreadPool *const m_pool;
    const bool m_ownPool;
    std::mutex m_mutex;
    ActorCore *m_head = nullptr;  // the shared queue
    ActorCore *m_tail = nullptr;
    std::vector<Stack *> m_stacks; // the running pumps' stacks
    std::atomic<int> m_queued{0}; // ready actors, in the queue or a stack; written under m_mutex
    int m_running = 0;            // pumps started and not yet finished, blocked ones included
    int m_starting = 0;           // pumps started but not yet looking at the queue
    int m_blocked = 0;            // pumps whose thread is blocked in Call::wait()
    bool m_spinning = false;      // a pump spins, waiting for work
    std::atomic<bool> m_watchArmed{false}; // the watch looks at the slots soon; written under m_mutex
    Ref<Watch> m_watch;           // made when a slot is first filled
    std::shared_ptr<PoolScheduler> m_self; // keeps this alive while pumps run
    Pump m_pump{this};
};

thread_local PoolScheduler *PoolScheduler::t_pump = nullptr;
thread_local PoolScheduler::Stack *PoolScheduler::t_stack = nullptr;

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

bool runsPoolTurns() noexcept
{
    return PoolScheduler::current() != nullptr;
}

void shareReadiedActorBeforeWaiting() noexcept
{
    if (PoolScheduler *pool = PoolScheduler::current())
        pool->shareSlot();
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

} // namespace QtActors::detail

namespace QtActors {

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

} // namespace QtActors
