// Message memory: blocks for messages, recycled between the threads that send and the threads
// that handle them.
//
// A message is allocated by its sender and freed by the thread that ran it, usually another one.
// With the general-purpose allocator that pattern defeats its per-thread caches: every send then
// takes the allocator's slow path. Here each thread has a cache of free blocks per size class.
// A block freed on another thread goes back to the cache of the thread that allocated it, through
// a lock-free list that only that thread empties (in one exchange, so there is no ABA problem).
// A sender therefore reuses the blocks of the messages it sent before.
//
// Bounds: a cache keeps at most Cap blocks per class locally and at most about Cap waiting to
// come back; beyond that, blocks go back to the global operator delete. A thread's cache outlives
// the thread: at thread exit it joins a list of orphans that the next new thread adopts, so the
// number of caches is the largest number of threads that were ever alive at once, and blocks on
// their way back to an exited thread never find freed memory.
//
// Messages larger than the largest class, and over-aligned ones, use the global operator new.
// Under AddressSanitizer a block's payload is poisoned while it waits in a cache.

#include <QtActors/detail/mailbox.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define QTACTORS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QTACTORS_ASAN 1
#endif
#endif
#if defined(QTACTORS_ASAN)
#include <sanitizer/asan_interface.h>
#define QTACTORS_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define QTACTORS_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define QTACTORS_POISON(p, n) static_cast<void>(0)
#define QTACTORS_UNPOISON(p, n) static_cast<void>(0)
#endif

namespace QtActors::detail {

namespace {

// Payload bytes. With the 16-byte header a block of the first class is 40 bytes, a 48-byte chunk
// of glibc's malloc: a cast whose lambda captures at most one pointer (a vtable pointer, the
// mailbox link and 8 bytes of captures) costs 48 bytes while it waits; the next class, up to three
// pointers, 64. (One class of 64 made every queued cast a 96-byte chunk.)
constexpr int Classes = 5;
constexpr std::size_t ClassSize[Classes] = {24, 40, 64, 128, 256};
constexpr int Cap = 64;
constexpr std::uintptr_t ClassMask = 7; // the low bits of Header::owner (a Cache is 64-aligned)
constexpr std::uintptr_t Unclassed = 7; // a block of another size: global operator delete

struct Cache;

//! In front of every message: where the block comes from and, while it is free, the next one.
struct Header
{
    std::uintptr_t owner; // Cache* | class, or Unclassed
    Header *next;
};
static_assert(sizeof(Header) == 16 && alignof(std::max_align_t) <= 16);

int classOf(std::size_t size) noexcept
{
    for (int c = 0; c < Classes; ++c)
        if (size <= ClassSize[c])
            return c;
    return -1;
}

void *payload(Header *h) noexcept
{
    return h + 1;
}

struct alignas(64) Cache
{
    // Owner thread only.
    Header *local[Classes] = {};
    int localCount[Classes] = {};
    Cache *nextOrphan = nullptr; // guarded by the orphan mutex
    // Blocks freed by other threads, on their way back. Each on a cache line of its own.
    struct alignas(64) Returns
    {
        std::atomic<Header *> head{nullptr};
        std::atomic<int> count{0};
    } returns[Classes];

    Header *take(int c) noexcept
    {
        Header *h = local[c];
        if (!h) {
            // Look before taking: the exchange is a locked write to a line the freeing threads
            // write too, and a thread that only sends (nothing has come back yet) would pay it
            // for every message.
            if (!returns[c].head.load(std::memory_order_relaxed))
                return nullptr;
            h = returns[c].head.exchange(nullptr, std::memory_order_acquire);
            if (!h)
                return nullptr;
            // About how many came back: a sender may count one in before it is in the list.
            localCount[c] = std::min(returns[c].count.exchange(0, std::memory_order_relaxed), Cap);
        }
        local[c] = h->next;
        if (localCount[c] > 0)
            --localCount[c];
        return h;
    }
    bool keep(Header *h, int c) noexcept
    {
        if (localCount[c] >= Cap)
            return false;
        h->owner = reinterpret_cast<std::uintptr_t>(this) | std::uintptr_t(c);
        h->next = local[c];
        local[c] = h;
        ++localCount[c];
        return true;
    }
    bool giveBack(Header *h, int c) noexcept
    {
        Returns &r = returns[c];
        if (r.count.fetch_add(1, std::memory_order_relaxed) >= Cap) {
            r.count.fetch_sub(1, std::memory_order_relaxed);
            return false;
        }
        Header *old = r.head.load(std::memory_order_relaxed);
        do {
            h->next = old;
        } while (!r.head.compare_exchange_weak(old, h, std::memory_order_release,
                                               std::memory_order_relaxed));
        return true;
    }
};

// Library-wide and never destroyed (threads may still exit after static destruction).
std::mutex &orphanMutex()
{
    static auto *mutex = new std::mutex;
    return *mutex;
}
Cache *g_orphans = nullptr; // guarded by orphanMutex()

thread_local Cache *t_cache = nullptr;
thread_local bool t_exited = false;

struct ThreadExit
{
    ~ThreadExit()
    {
        t_exited = true;
        if (Cache *cache = std::exchange(t_cache, nullptr)) {
            const std::lock_guard lock(orphanMutex());
            cache->nextOrphan = g_orphans;
            g_orphans = cache;
        }
    }
};

Cache *threadCache() noexcept
{
    if (Cache *cache = t_cache)
        return cache;
    if (t_exited)
        return nullptr; // during this thread's own clean-up: use the heap
    static thread_local ThreadExit exit; // gives the cache up when the thread ends
    Cache *cache = nullptr;
    {
        const std::lock_guard lock(orphanMutex());
        if ((cache = g_orphans))
            g_orphans = cache->nextOrphan;
    }
    if (!cache)
        cache = new (std::nothrow) Cache;
    t_cache = cache;
    return cache;
}

} // namespace

void *allocateMessage(std::size_t size)
{
    const int c = classOf(size);
    Cache *cache = c >= 0 ? threadCache() : nullptr;
    if (cache) {
        if (Header *h = cache->take(c)) {
            h->owner = reinterpret_cast<std::uintptr_t>(cache) | std::uintptr_t(c);
            QTACTORS_UNPOISON(payload(h), ClassSize[c]);
            return payload(h);
        }
    }
    auto *h = static_cast<Header *>(::operator new(sizeof(Header) + (c >= 0 ? ClassSize[c] : size)));
    h->owner = c < 0 ? Unclassed : reinterpret_cast<std::uintptr_t>(cache) | std::uintptr_t(c);
    h->next = nullptr;
    return payload(h);
}

void freeMessage(void *p) noexcept
{
    Header *h = static_cast<Header *>(p) - 1;
    const std::uintptr_t owner = h->owner;
    if (owner != Unclassed) {
        const int c = int(owner & ClassMask);
        QTACTORS_POISON(p, ClassSize[c]);
        auto *home = reinterpret_cast<Cache *>(owner & ~ClassMask);
        Cache *mine = t_cache;
        if (home && home != mine) {
            if (home->giveBack(h, c))
                return;
        } else if (mine && mine->keep(h, c)) {
            return;
        }
        QTACTORS_UNPOISON(p, ClassSize[c]);
    }
    ::operator delete(h);
}

} // namespace QtActors::detail
