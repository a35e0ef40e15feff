// The system clock (see detail/clock.h): steady time, and one library thread that sleeps until the
// next due time and fires what is due. Started on first use, never destroyed (S15): at process
// exit it is asleep, holding nothing.

#include "runtime_p.h"
#include "tuning_p.h"
#include "timerheap_p.h"

#include <QtActors/detail/clock.h>

#include <climits>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#if defined(Q_OS_LINUX)
#include <pthread.h>
#endif

namespace QtActors::detail {

Clock::~Clock() = default;

class SystemClock final : public Clock
{
public:
    Duration now() const noexcept override
    {
        return std::chrono::steady_clock::now().time_since_epoch();
    }

    void arm(TimerEntry *entry, Duration due) override
    {
        std::unique_lock lock(m_mutex);
        if (!HeapOfTimers::contains(entry))
            entry->ref(); // the heap's reference
        m_heap.insert(entry, due.count());
        startLocked();
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
        // One CAS into the inbox; the thread moves what is not obsolete yet into the heap when
        // it next wakes. It is woken only when this due time comes before the time it sleeps
        // until (or never woke), and after every LazyInboxBatch entries, to bound the memory
        // that answered calls hold in the inbox.
        entry->m_due = due.count();
        TimerEntry *head = m_inbox.load(std::memory_order_relaxed);
        do {
            entry->m_lazyNext = head;
        } while (!m_inbox.compare_exchange_weak(head, entry, std::memory_order_acq_rel,
                                                std::memory_order_relaxed));
        const unsigned n = m_inboxCount.fetch_add(1, std::memory_order_relaxed) + 1;
        if (due.count() < m_sleepingUntil.load(std::memory_order_seq_cst)
            || n % tuning::LazyInboxBatch == 0 || !m_started.load(std::memory_order_acquire)) {
            std::unique_lock lock(m_mutex); // (the thread is waiting, or will see the inbox)
            startLocked();
            lock.unlock();
            m_wake.notify_one();
        }
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
    void startLocked()
    {
        if (m_started.load(std::memory_order_relaxed))
            return;
        m_started.store(true, std::memory_order_release);
        std::thread([this] { run(); }).detach();
    }

    //! Moves the inbox's entries into the heap, dropping the obsolete ones. With m_mutex held;
    //! true if there were any.
    bool takeInbox() noexcept
    {
        TimerEntry *entry = m_inbox.exchange(nullptr, std::memory_order_acquire);
        if (!entry)
            return false;
        while (entry) {
            TimerEntry *next = entry->m_lazyNext;
            entry->m_lazyNext = nullptr;
            if (entry->isObsolete())
                entry->deref(); // (never the last user of the clock's lock: a TimeoutEntry)
            else
                m_heap.insert(entry, entry->m_due); // the inbox's reference becomes the heap's
            entry = next;
        }
        return true;
    }

    void run() noexcept
    {
#if defined(Q_OS_LINUX)
        pthread_setname_np(pthread_self(), "QtActors timers");
#endif
        setNormalPriority(); // whichever thread armed the first timer
        std::unique_lock lock(m_mutex);
        for (;;) {
            const bool hadInbox = takeInbox();
            if (m_heap.isEmpty() && !hadInbox) {
                m_sleepingUntil.store(NotSleeping, std::memory_order_seq_cst);
                if (m_inbox.load(std::memory_order_seq_cst))
                    continue; // armed meanwhile
                m_wake.wait(lock);
                continue;
            }
            const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
            if (m_heap.isEmpty() || now < m_heap.topDue()) {
                // While lazily armed entries come in, look at the inbox now and then even when
                // nothing is due, so that those answered meanwhile are freed.
                std::int64_t until = now + std::chrono::nanoseconds(tuning::LazyInboxPeriod).count();
                if (!m_heap.isEmpty())
                    until = std::min(until, m_heap.topDue());
                if (!hadInbox && m_heap.isEmpty())
                    until = NotSleeping;
                m_sleepingUntil.store(until, std::memory_order_seq_cst);
                if (m_inbox.load(std::memory_order_seq_cst))
                    continue; // armed meanwhile: perhaps earlier than `until`
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

    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::atomic<std::int64_t> m_sleepingUntil{NotSleeping}; // written under m_mutex
    HeapOfTimers m_heap;                   // guarded by m_mutex
    std::atomic<bool> m_started{false};    // written under m_mutex
    std::atomic<TimerEntry *> m_inbox{nullptr}; // armLazily()'s entries, newest first
    std::atomic<unsigned> m_inboxCount{0};
};

Clock &systemClock()
{
    static auto *clock = new SystemClock; // immortal, like every library global (S15)
    return *clock;
}

} // namespace QtActors::detail
