// The system clock (see detail/clock.h): steady time, and one library thread that sleeps until the
// next due time and fires what is due. Started on first use, never destroyed (S15): at process
// exit it is asleep, holding nothing.

#include "runtime_p.h"
#include "timerheap_p.h"

#include <QtActors/detail/clock.h>

#include <condition_variable>
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
        const bool first = m_heap.top() == entry;
        if (!m_started) {
            m_started = true;
            std::thread([this] { run(); }).detach();
        }
        lock.unlock();
        if (first)
            m_wake.notify_one(); // it sleeps until a later time, or has nothing to wait for
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
    void run() noexcept
    {
#if defined(Q_OS_LINUX)
        pthread_setname_np(pthread_self(), "QtActors timers");
#endif
        setNormalPriority(); // whichever thread armed the first timer
        std::unique_lock lock(m_mutex);
        for (;;) {
            if (m_heap.isEmpty()) {
                m_wake.wait(lock);
                continue;
            }
            const auto due = std::chrono::steady_clock::time_point(Duration(m_heap.topDue()));
            if (std::chrono::steady_clock::now() < due) {
                m_wake.wait_until(lock, due);
                continue;
            }
            TimerEntry *entry = m_heap.pop();
            lock.unlock();
            entry->fire();
            entry->deref(); // the heap's reference (fire() may have armed it again: its own)
            lock.lock();
        }
    }

    std::mutex m_mutex;
    std::condition_variable m_wake;
    HeapOfTimers m_heap;  // guarded by m_mutex
    bool m_started = false; // guarded by m_mutex
};

Clock &systemClock()
{
    static auto *clock = new SystemClock; // immortal, like every library global (S15)
    return *clock;
}

} // namespace QtActors::detail
