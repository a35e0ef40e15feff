// Clock: the one source of time for timeouts (S17) and timers (S18), with the queue of what is due
// when (S19). An executor may bring its own (Scheduler::clock()); every other one uses
// systemClock(): steady time, and one library thread that fires what is due, for all timers and
// timeouts of the process. No QObject, no QTimer, no thread per timer.
//
// TimerEntry: one thing due at one time. The clock holds a reference while it is armed, and
// calls fire() once when it is due, on the clock's thread (the system clock's thread, or the
// thread that advances a manual clock). fire() may arm the entry again.
//
// Thread contract: now(), arm() and disarm() may be called from any thread. An entry is armed at
// most once at a time; arming an armed entry moves it.
#pragma once

#include <QtActors/detail/common.h>
#include <QtActors/detail/mailbox.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace QtActors::detail {

class QTACTORS_EXPORT TimerEntry : public RefCounted
{
public:
    //! It is due: called once per arm(), on the clock's thread, without the clock's lock held.
    virtual void fire() noexcept = 0;
    //! For armLazily(): true once firing would do nothing (the clock may then drop the entry
    //! without firing it). Any thread.
    virtual bool isObsolete() const noexcept { return false; }

protected:
    explicit TimerEntry(std::int64_t due = 0) noexcept : m_due(due) { }
    ~TimerEntry() override = default;
    //! When the entry is due, on its clock: set by arm() (and by a call state's deadline, which
    //! is kept here), read by the clock. Relaxed: arming publishes it.
    std::int64_t due() const noexcept { return m_due.load(std::memory_order_relaxed); }
    void setDue(std::int64_t due) noexcept { m_due.store(due, std::memory_order_relaxed); }

private:
    friend class HeapOfTimers;
    friend class SystemClock;
    // (The slot first: it fits in RefCounted's tail padding. Every byte here is in each call.)
    std::int32_t m_slot = -1;  // the entry's place in the clock's heap, -1 while not armed
    std::atomic<std::int64_t> m_due;
    TimerEntry *m_lazyNext = nullptr; // armLazily(): the link in the arming thread's list
};

class QTACTORS_EXPORT Clock
{
public:
    using Duration = std::chrono::nanoseconds;
    //! The longest delay or timeout the clocks keep (about 100 years): a longer one is taken as
    //! this, so that no conversion to nanoseconds and no due time overflows.
    static constexpr Duration Longest = std::chrono::hours(24 * 365 * 100);
    //! A user's delay or timeout in the clocks' unit, at most Longest.
    static constexpr Duration fromUser(std::chrono::milliseconds limit) noexcept
    {
        return limit >= std::chrono::duration_cast<std::chrono::milliseconds>(Longest)
                ? Longest
                : Duration(limit);
    }
    virtual ~Clock();
    //! Time since the clock's own epoch.
    virtual Duration now() const noexcept = 0;
    //! A time no earlier than now(), possibly later, cheaper to read: deadline checks ask it
    //! first and read now() only when it says the deadline may have come. The default is now().
    virtual Duration latestNow() const noexcept { return now(); }
    //! Arms `entry` to fire at `due` (a time of this clock); takes a reference until it fired or
    //! was disarmed. A due time already past fires as soon as the clock gets to it.
    virtual void arm(TimerEntry *entry, Duration due) = 0;
    //! Disarms `entry`; true if it was armed (it will then not fire), false if it is firing or
    //! has fired or was never armed.
    virtual bool disarm(TimerEntry *entry) noexcept = 0;
    //! Arms an entry that is never disarmed but may become obsolete (a call's timeout, answered
    //! long before its deadline): the clock may learn of it late, as long as it fires by `due`,
    //! and drops it unfired once isObsolete(). Takes the entry's reference. The default arms it.
    virtual void armLazily(TimerEntry *entry, Duration due)
    {
        arm(entry, due);
        entry->deref();
    }
};

//! The clock of every executor that does not bring its own: std::chrono::steady_clock, and one
//! library thread ("QtActors timers") for every due time in the process. Never destroyed.
QTACTORS_EXPORT Clock &systemClock();

} // namespace QtActors::detail
