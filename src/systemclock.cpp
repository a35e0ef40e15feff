// The system clock (see detail/clock.h): steady time, and one library thread that sleeps until the
// next due time and fires what is due. Started on first use, never destroyed (S15): at process
// exit it is asleep, holding nothing.

#include "runtime_p.h"
#include "tuning_p.h"
#include "timerheap_p.h"

#include <QtActors/detail/clock.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>
#if defined(Q_OS_LINUX)
#include <pthread.h>
#endif

namespace QtActors::detail {

Clock::~Clock() = default;

namespace {
thread_local bool t_isClockThread = false;
} // namespace

bool isClockThread() noexcept
{
    return t_isClockThread;
}

class SystemClock final : public Clock
{
public:
    Duration now() const noexcept override
    {
        return std::chrono::steady_clock::now().time_since_epoch();
    }

    Duration latestNow() const noexcept override
    {
#if defined(Q_OS_LINUX)
        // CLOCK_MONOTONIC_COARSE is steady_clock's clock (CLOCK_MONOTONIC) as of the last tick:
        // a read of the kernel's time data, without reading the CPU's counter.
        if (m_coarseSlack > 0) {
            timespec coarse{};
            if (clock_gettime(CLOCK_MONOTONIC_COARSE, &coarse) == 0)
                return Duration(std::int64_t(coarse.tv_sec) * 1'000'000'000 + coarse.tv_nsec
                                + m_coarseSlack);
        }
#endif
        return now();
    }

    void arm(TimerEntry *entry, Duration due) override
    {
        std::unique_lock lock(m_mutex);
        startLocked(); // (first: should it throw, nothing is armed)
        const bool added = !HeapOfTimers::contains(entry);
        m_heap.insert(entry, due.count());
        if (added)
            entry->ref(); // the heap's reference (once the insertion cannot throw any more)
        // Wake the thread only if it sleeps past this due time. A due time later than the one it
        // sleeps until costs no wake-up: it finds this entry when it wakes (a call's timeout that
        // is disarmed when the answer comes, and re-armed by the next call, costs none).
        const bool earlier = due.count() < m_sleepingUntil.load(std::memory_order_relaxed);
        lock.unlock();
        if (earlier)
            m_wake.notify_one();
    }

    void armLazily(TimerEntry *entry, Duration due) override
    {
        // Into the arming thread's own list, under its own lock (nobody else takes it but this
        // thread's clock sweeps): first the entries of calls answered since, which this thread
        // frees itself, into its own caches; then the new one. The clock's thread is woken only
        // when this due time comes before the time it sleeps until.
        LazyList *own = localList();
        if (!own) { // this thread's list is gone (its thread-locals are being destroyed)
            arm(entry, due);
            entry->deref(); // arm() took its own reference
            return;
        }
        LazyList &list = *own;
        entry->setDue(due.count());
        TimerEntry *answered = nullptr;
        bool earlier = false;
        {
            const std::lock_guard lock(list.guard);
            answered = list.takeObsolete();
            list.append(entry);
            // Only a due time earlier than the list's can make the clock's thread wake sooner:
            // it looks at the list by that time anyway. (Calls arming with the same timeout, in
            // order, write nothing here.)
            if (due.count() < list.earliestDue.load(std::memory_order_relaxed)) {
                list.earliestDue.store(due.count(), std::memory_order_seq_cst);
                earlier = true;
            }
        }
        dropAll(answered);
        if (earlier)
            wakeIfSleepingPast(due.count());
    }

    bool disarm(TimerEntry *entry) noexcept override
    {
        {
            const std::lock_guard lock(m_mutex);
            if (!m_heap.remove(entry))
                return false;
        }
        entry->deref();
        return true;
    }

private:
    //! After an entry went into a lazy list, which now holds it: nothing here may throw (the
    //! caller would take its reference back). The clock's thread runs already: the list was
    //! registered with it (localList()), so startLocked() starts nothing.
    void wakeIfSleepingPast(std::int64_t due) noexcept
    {
        if (due >= m_sleepingUntil.load(std::memory_order_seq_cst))
            return;
        std::unique_lock lock(m_mutex); // (the thread is waiting, or will look at the lists)
        startLocked();
        lock.unlock();
        m_wake.notify_one();
    }

    //! How far the coarse clock may lag the precise one (0: not used).
    static std::int64_t coarseSlack() noexcept
    {
#if defined(Q_OS_LINUX)
        timespec tick{};
        if (clock_getres(CLOCK_MONOTONIC_COARSE, &tick) != 0)
            return 0;
        const std::int64_t tickNs = std::int64_t(tick.tv_sec) * 1'000'000'000 + tick.tv_nsec;
        if (tickNs <= 0 || tickNs > Duration(tuning::CoarseClockMaxTick).count())
            return 0;
        return tickNs * tuning::CoarseClockSlackTicks;
#else
        return 0;
#endif
    }

    void startLocked()
    {
        if (m_started.load(std::memory_order_relaxed))
            return;
        // Started only once the thread is there: if it cannot be made (std::system_error), the
        // next arm tries again, rather than arming entries that nothing would ever fire.
        std::thread([this] { run(); }).detach();
        m_started.store(true, std::memory_order_release);
    }

    //! The lock of a lazy list: taken at each lazy arm by its own thread, and by the clock's
    //! thread when it sweeps or takes over the list, so almost never contended. One atomic
    //! exchange to take, a store to release (a mutex costs two locked instructions and two calls).
    class ListLock
    {
    public:
        void lock() noexcept
        {
            for (int spins = 0; m_locked.exchange(true, std::memory_order_acquire);) {
                while (m_locked.load(std::memory_order_relaxed)) {
                    if (++spins < tuning::ListLockSpinsBeforeYield)
                        cpuRelax();
                    else
                        std::this_thread::yield(); // (the sweep of a long list)
                }
            }
        }
        void unlock() noexcept { m_locked.store(false, std::memory_order_release); }

    private:
        std::atomic<bool> m_locked{false};
    };

    //! The timeout entries that one thread armed lazily, oldest first. Guarded by `guard`.
    struct LazyList
    {
        ListLock guard;
        TimerEntry *head = nullptr;
        TimerEntry *tail = nullptr;
        //! No entry of the list is due before this (INT64_MAX: empty). Lowered by the arming
        //! thread, made exact by the clock's sweep.
        std::atomic<std::int64_t> earliestDue{NotSleeping};

        void append(TimerEntry *entry) noexcept
        {
            entry->m_lazyNext = nullptr;
            (tail ? tail->m_lazyNext : head) = entry;
            tail = entry;
        }
        //! Unlinks the obsolete entries at the front (the calls answered since, in the common
        //! case of calls answered in order), or all of them in a short list.
        TimerEntry *takeObsolete() noexcept
        {
            TimerEntry *dropped = nullptr;
            int looked = 0;
            TimerEntry **link = &head;
            TimerEntry *last = nullptr;
            while (*link && looked++ < tuning::LazyListLook) {
                TimerEntry *entry = *link;
                if (entry->isObsolete()) {
                    *link = entry->m_lazyNext;
                    entry->m_lazyNext = dropped;
                    dropped = entry;
                } else {
                    last = entry;
                    link = &entry->m_lazyNext;
                }
            }
            if (!*link)
                tail = last;
            if (!head)
                earliestDue.store(NotSleeping, std::memory_order_relaxed);
            return dropped;
        }
    };

    //! Drops the clock's references to `entries` (a chain through m_lazyNext).
    static void dropAll(TimerEntry *entries) noexcept
    {
        while (entries) {
            TimerEntry *next = entries->m_lazyNext;
            entries->m_lazyNext = nullptr;
            entries->deref(); // (no lock of the clock's held: a call state's last reference may go)
            entries = next;
        }
    }

    //! This thread's list, registered with the clock on first use. At thread exit the clock
    //! takes over its entries (LocalList's destructor); nullptr from then on.
    LazyList *localList()
    {
        struct LocalList
        {
            LazyList *list = nullptr;
            bool gone = false;
            ~LocalList()
            {
                gone = true;
                if (list)
                    static_cast<SystemClock &>(systemClock()).retire(std::exchange(list, nullptr));
            }
        };
        thread_local LocalList local;
        if (local.gone)
            return nullptr;
        if (!local.list) {
            auto *list = new LazyList;
            const std::lock_guard lock(m_mutex);
            m_lists.push_back(list);
            startLocked();
            local.list = list;
        }
        return local.list;
    }

    //! With m_mutex held: `entry`, unlinked from its list, goes into the heap, or onto `answered`
    //! (a chain for dropAll() once the lock is released) if it is obsolete.
    void takeOver(TimerEntry *entry, TimerEntry **answered) noexcept
    {
        entry->m_lazyNext = nullptr;
        if (entry->isObsolete()) {
            entry->m_lazyNext = *answered;
            *answered = entry;
        } else {
            m_heap.insert(entry, entry->due()); // the list's reference becomes the heap's
        }
    }

    //! A thread with a list ends: its entries that still matter go into the heap.
    void retire(LazyList *list) noexcept
    {
        TimerEntry *answered = nullptr;
        {
            const std::lock_guard lock(m_mutex);
            {
                const std::lock_guard listLock(list->guard);
                for (TimerEntry *entry = list->head; entry;) {
                    TimerEntry *next = entry->m_lazyNext;
                    takeOver(entry, &answered);
                    entry = next;
                }
                list->head = list->tail = nullptr;
            }
            m_lists.erase(std::find(m_lists.begin(), m_lists.end(), list));
        }
        delete list;
        dropAll(answered);
        m_wake.notify_one(); // the heap may have an earlier due time now
    }

    //! With m_mutex held: drops the lists' obsolete entries and moves into the heap those that are
    //! due or that were there at the previous sweep already (long-pending: the lists then empty
    //! out, and the thread sleeps until the heap's next due time instead of sweeping on);
    //! returns the earliest due time left in the lists (NotSleeping: none), and whether any is left.
    std::int64_t sweepLists(std::int64_t now, bool *anyLeft, TimerEntry **answered) noexcept
    {
        std::int64_t earliest = NotSleeping;
        *anyLeft = false;
        for (LazyList *list : m_lists) {
            const std::lock_guard lock(list->guard);
            std::int64_t listEarliest = NotSleeping;
            TimerEntry **link = &list->head;
            TimerEntry *last = nullptr;
            while (TimerEntry *entry = *link) {
                if (entry->isObsolete() || entry->due() <= now || entry->m_slot == SeenBySweep) {
                    *link = entry->m_lazyNext;
                    takeOver(entry, answered);
                } else {
                    entry->m_slot = SeenBySweep; // (not in the heap: its slot is free to mark)
                    listEarliest = std::min(listEarliest, entry->due());
                    last = entry;
                    link = &entry->m_lazyNext;
                }
            }
            list->tail = last;
            list->earliestDue.store(listEarliest, std::memory_order_seq_cst);
            earliest = std::min(earliest, listEarliest);
            *anyLeft = *anyLeft || list->head;
        }
        return earliest;
    }

    //! With m_mutex held: true when an arming thread lowered a list's earliest due time below
    //! `until` after the last sweep.
    bool listDueBefore(std::int64_t until) const noexcept
    {
        for (const LazyList *list : m_lists) {
            if (list->earliestDue.load(std::memory_order_seq_cst) < until)
                return true;
        }
        return false;
    }

    void run() noexcept
    {
        t_isClockThread = true;
#if defined(Q_OS_LINUX)
        pthread_setname_np(pthread_self(), "QtActors timers");
#endif
        setNormalPriority(); // whichever thread armed the first timer
        std::unique_lock lock(m_mutex);
        for (;;) {
            const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
            bool listsLeft = false;
            TimerEntry *answered = nullptr;
            const std::int64_t listsDue = sweepLists(now, &listsLeft, &answered);
            if (answered) {
                lock.unlock();
                dropAll(answered);
                lock.lock();
            }
            if (m_heap.isEmpty() || now < m_heap.topDue()) {
                // Sleep until the next due time; while lazily armed entries wait in the lists,
                // look at them now and then anyway, so that answered ones are freed.
                std::int64_t until = m_heap.isEmpty() ? NotSleeping : m_heap.topDue();
                until = std::min(until, listsDue);
                if (listsLeft)
                    until = std::min(until, now + std::chrono::nanoseconds(tuning::LazySweepPeriod).count());
                m_sleepingUntil.store(until, std::memory_order_seq_cst);
                if (listDueBefore(until))
                    continue; // armed meanwhile, earlier than `until`
                if (until == NotSleeping)
                    m_wake.wait(lock);
                else
                    m_wake.wait_until(lock, std::chrono::steady_clock::time_point(Duration(until)));
                continue;
            }
            m_sleepingUntil.store(Awake, std::memory_order_seq_cst);
            TimerEntry *entry = m_heap.pop();
            lock.unlock();
            entry->fire();
            entry->deref(); // the heap's reference (fire() may have armed it again: its own)
            lock.lock();
        }
    }

    // What the thread does: sleeps until a due time (that time), sleeps with nothing to wait for
    // (NotSleeping: every arm wakes it) or works through what is due (Awake: nothing wakes it).
    static constexpr std::int64_t NotSleeping = INT64_MAX;
    static constexpr std::int64_t Awake = INT64_MIN;
    //! TimerEntry::m_slot of an entry that a sweep left in its list (-1: never seen, ≥ 0: in the heap).
    static constexpr std::int32_t SeenBySweep = -2;

    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::atomic<std::int64_t> m_sleepingUntil{NotSleeping}; // written under m_mutex
    HeapOfTimers m_heap;                   // guarded by m_mutex
    std::atomic<bool> m_started{false};    // written under m_mutex
    const std::int64_t m_coarseSlack = coarseSlack();
    std::vector<LazyList *> m_lists;       // one per thread that armed lazily; guarded by m_mutex
};

Clock &systemClock()
{
    static auto *clock = new SystemClock; // immortal, like every library global (S15)
    return *clock;
}

} // namespace QtActors::detail
