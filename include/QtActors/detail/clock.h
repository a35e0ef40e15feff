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

    // Entries are made and dropped as often as messages (a call's timeout, a timer): they live in
    // the same recycled blocks.
    static void *operator new(std::size_t size) { return allocateMessage(size); }
    static void operator delete(void *block) noexcept { freeMessage(block); }

protected:
    ~TimerEntry() override = default;

private:
    friend class HeapOfTimers;
    std::int64_t m_due = 0;      // guarded by the clock holding the entry
    std::ptrdiff_t m_slot = -1;  // the entry's place in the clock's heap, -1 while not armed
    TimerEntry *m_lazyNext = nullptr; // armLazily(): the link in the arming thread's list
    friend class SystemClock;
};

class QTACTORS_EXPORT Clock
{
public:
    using Duration = std::chrono::nanoseconds;
    virtual ~Clock();
    //! Time since the clock's own epoch.
    virtual Duration now() const noexcept = 0;
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
