// HeapOfTimers: TimerEntries ordered by due time (ties: the order they were armed in), a binary
// heap whose entries know their slot, so that disarming one is O(log n). Used by the clocks; not
// thread-safe (the clock guards it).
#pragma once

#include <QtActors/detail/clock.h>

#include <cstdint>
#include <vector>

namespace QtActors::detail {

class HeapOfTimers
{
public:
    bool isEmpty() const noexcept { return m_heap.empty(); }
    std::size_t size() const noexcept { return m_heap.size(); }
    //! The entry due first (not empty).
    TimerEntry *top() const noexcept { return m_heap.front().entry; }
    std::int64_t topDue() const noexcept { return m_heap.front().entry->due(); }
    //! Adds `entry` (or moves it, when it is in already) to fire at `due`.
    void insert(TimerEntry *entry, std::int64_t due);
    //! Removes `entry`; false when it is not in the heap.
    bool remove(TimerEntry *entry) noexcept;
    //! Removes and returns the entry due first (not empty).
    TimerEntry *pop() noexcept;
    static bool contains(const TimerEntry *entry) noexcept { return entry->m_slot >= 0; }

private:
    struct Slot
    {
        TimerEntry *entry;
        std::uint64_t sequence; // ties between equal due times go to the one armed first
    };
    static bool before(const Slot &a, const Slot &b) noexcept
    {
        const std::int64_t aDue = a.entry->due(), bDue = b.entry->due();
        return aDue < bDue || (aDue == bDue && a.sequence < b.sequence);
    }
    void place(std::size_t i, Slot slot) noexcept
    {
        m_heap[i] = slot;
        slot.entry->m_slot = std::int32_t(i);
    }
    void siftUp(std::size_t i) noexcept;
    void siftDown(std::size_t i) noexcept;

    std::vector<Slot> m_heap;
    std::uint64_t m_sequence = 0;
};

} // namespace QtActors::detail
