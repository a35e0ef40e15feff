#include "timerheap_p.h"

#include <climits>
#include <stdexcept>

namespace QtActors::detail {

void HeapOfTimers::insert(TimerEntry *entry, std::int64_t due)
{
    if (contains(entry))
        remove(entry);
    else if (m_heap.size() >= std::size_t(INT32_MAX))
        throw std::length_error("QtActors: more than 2^31 timers armed on one clock");
    entry->setDue(due);
    m_heap.push_back({entry, m_sequence++});
    entry->m_slot = std::int32_t(m_heap.size() - 1);
    siftUp(m_heap.size() - 1);
}

bool HeapOfTimers::remove(TimerEntry *entry) noexcept
{
    if (!contains(entry))
        return false;
    const auto i = std::size_t(entry->m_slot);
    entry->m_slot = -1;
    const Slot last = m_heap.back();
    m_heap.pop_back();
    if (i < m_heap.size()) {
        place(i, last);
        siftUp(i);
        siftDown(std::size_t(last.entry->m_slot));
    }
    return true;
}

TimerEntry *HeapOfTimers::pop() noexcept
{
    TimerEntry *entry = top();
    remove(entry);
    return entry;
}

void HeapOfTimers::siftUp(std::size_t i) noexcept
{
    const Slot moving = m_heap[i];
    while (i > 0) {
        const std::size_t parent = (i - 1) / 2;
        if (!before(moving, m_heap[parent]))
            break;
        place(i, m_heap[parent]);
        i = parent;
    }
    place(i, moving);
}

void HeapOfTimers::siftDown(std::size_t i) noexcept
{
    const Slot moving = m_heap[i];
    const std::size_t n = m_heap.size();
    for (;;) {
        std::size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && before(m_heap[child + 1], m_heap[child]))
            ++child;
        if (!before(m_heap[child], moving))
            break;
        place(i, m_heap[child]);
        i = child;
    }
    place(i, moving);
}

} // namespace QtActors::detail
