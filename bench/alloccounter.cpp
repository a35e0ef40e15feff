// Global operator new/delete replacement counting into per-thread slots (see alloccounter.h).
#include "alloccounter.h"

#include <atomic>
#include <cstdlib>
#include <malloc.h>
#include <new>

namespace {

struct alignas(64) Slot
{
    std::atomic<std::uint64_t> allocations{0};
    std::atomic<std::int64_t> bytes{0};
};

// One slot per thread, written only by its thread (a relaxed load + store, no locked instruction),
// so counting costs a few cycles and never contends. Threads beyond the table share the overflow
// slot, updated with fetch_add.
constexpr unsigned slotCount = 4096;
Slot g_slots[slotCount + 1];
std::atomic<unsigned> g_nextSlot{0};
thread_local unsigned t_slot = ~0u; // constant-initialized: no TLS guard in operator new

inline void count(std::int64_t bytes)
{
    if (t_slot == ~0u) {
        const unsigned index = g_nextSlot.fetch_add(1, std::memory_order_relaxed);
        t_slot = index < slotCount ? index : slotCount;
    }
    Slot &slot = g_slots[t_slot];
    if (t_slot == slotCount) {
        if (bytes > 0)
            slot.allocations.fetch_add(1, std::memory_order_relaxed);
        slot.bytes.fetch_add(bytes, std::memory_order_relaxed);
        return;
    }
    if (bytes > 0)
        slot.allocations.store(slot.allocations.load(std::memory_order_relaxed) + 1,
                               std::memory_order_relaxed);
    slot.bytes.store(slot.bytes.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
}

inline void *allocate(std::size_t size)
{
    void *p = std::malloc(size ? size : 1);
    if (!p)
        throw std::bad_alloc();
    count(static_cast<std::int64_t>(malloc_usable_size(p)));
    return p;
}

inline void *allocateAligned(std::size_t size, std::align_val_t align)
{
    void *p = nullptr;
    std::size_t alignment = static_cast<std::size_t>(align);
    if (alignment < sizeof(void *))
        alignment = sizeof(void *);
    if (posix_memalign(&p, alignment, size ? size : 1) != 0)
        throw std::bad_alloc();
    count(static_cast<std::int64_t>(malloc_usable_size(p)));
    return p;
}

inline void release(void *p) noexcept
{
    if (!p)
        return;
    count(-static_cast<std::int64_t>(malloc_usable_size(p)));
    std::free(p);
}

} // namespace

namespace bench::alloc {

Snapshot snapshot()
{
    std::atomic_thread_fence(std::memory_order_acquire);
    Snapshot s;
    const unsigned used = g_nextSlot.load(std::memory_order_relaxed);
    const unsigned n = used < slotCount ? used : slotCount;
    for (unsigned i = 0; i < n; ++i) {
        s.allocations += g_slots[i].allocations.load(std::memory_order_relaxed);
        s.liveBytes += g_slots[i].bytes.load(std::memory_order_relaxed);
    }
    s.allocations += g_slots[slotCount].allocations.load(std::memory_order_relaxed);
    s.liveBytes += g_slots[slotCount].bytes.load(std::memory_order_relaxed);
    return s;
}

} // namespace bench::alloc

void *operator new(std::size_t size) { return allocate(size); }
void *operator new[](std::size_t size) { return allocate(size); }
void *operator new(std::size_t size, const std::nothrow_t &) noexcept
{
    try {
        return allocate(size);
    } catch (...) {
        return nullptr;
    }
}
void *operator new[](std::size_t size, const std::nothrow_t &) noexcept
{
    try {
        return allocate(size);
    } catch (...) {
        return nullptr;
    }
}
void *operator new(std::size_t size, std::align_val_t align) { return allocateAligned(size, align); }
void *operator new[](std::size_t size, std::align_val_t align) { return allocateAligned(size, align); }
void *operator new(std::size_t size, std::align_val_t align, const std::nothrow_t &) noexcept
{
    try {
        return allocateAligned(size, align);
    } catch (...) {
        return nullptr;
    }
}
void *operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t &) noexcept
{
    try {
        return allocateAligned(size, align);
    } catch (...) {
        return nullptr;
    }
}

void operator delete(void *p) noexcept { release(p); }
void operator delete[](void *p) noexcept { release(p); }
void operator delete(void *p, std::size_t) noexcept { release(p); }
void operator delete[](void *p, std::size_t) noexcept { release(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept { release(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { release(p); }
void operator delete(void *p, std::align_val_t) noexcept { release(p); }
void operator delete[](void *p, std::align_val_t) noexcept { release(p); }
void operator delete(void *p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void *p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept { release(p); }
void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept { release(p); }
