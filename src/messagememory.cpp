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
// Blocks are carved from chunks of about 4 KiB that a thread's cache takes from the global
// operator new, one size class per chunk: a thread that sends faster than its messages come
// back (a flood of casts queued at one actor) then pays one allocation per chunk, not one per
// message, and no per-block malloc overhead. A chunk counts its blocks that have not been given
// up; the thread that gives up the last returns the chunk to operator delete. A chunk thus lives
// as long as its longest-lived block: a few long-lived messages (a call whose answer is kept, a
// timer's entry) may each keep one chunk, a bounded cost of at most one chunk per such block.
//
// Bounds: a cache keeps at most Cap blocks per class locally and at most about Cap waiting to
// come back; beyond that, blocks are given up to their chunk. A thread's cache outlives
// the thread: at thread exit it joins a list of orphans that the next new thread adopts, so the
// number of caches is the largest number of threads that were ever alive at once, and blocks on
// their way back to an exited thread never find freed memory.
//
// Messages larger than the largest class, and over-aligned ones, use the global operator new.
// Under AddressSanitizer a block's payload is poisoned while it waits in a cache, and a chunk's
// blocks are poisoned until they are carved and after they are given up.

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

// Payload bytes. With the 16-byte header every block is a multiple of 16 bytes, so that blocks
// carved one after the other keep the payload aligned for any fundamental type. A cast whose
// lambda captures nothing (a vtable pointer and the mailbox link) is a 32-byte block while it
// waits; one that captures a pointer, 48; up to three pointers, 64. A call's message with its
// answer and a timer's entry are about 100 to 128 bytes: the classes are close together there.
constexpr int Classes = 7; // at most 7: Unclassed takes the eighth value of the low bits
constexpr std::size_t ClassSize[Classes] = {16, 32, 48, 64, 96, 128, 240};
constexpr int Cap = 64;
constexpr std::uintptr_t ClassMask = 7; // the low bits of Header::owner (a Cache is 64-aligned)
constexpr std::uintptr_t Unclassed = 7; // a block of another size: global operator delete

constexpr std::size_t ChunkTarget = 4096; // bytes of blocks per chunk, about
constexpr int MinBlocksPerChunk = 8;

struct Cache;
struct Chunk;

//! In front of every message: where the block comes from (while in use) or the next free one (in
//! a cache), and the chunk it was carved from.
struct Header
{
    union {
        std::uintptr_t owner; // in use: Cache* | class, or Unclassed
        Header *next;         // free, in a cache's list
    };
    Chunk *chunk; // nullptr: a block of its own from the global operator new
};
static_assert(sizeof(Header) == 16 && alignof(std::max_align_t) <= 16);

//! In front of a chunk's blocks.
struct alignas(16) Chunk
{
    std::atomic<int> live; // blocks not given up, the ones not carved yet included
};
static_assert(sizeof(Chunk) == 16); // the blocks after it keep the payload's alignment

constexpr std::size_t blockBytes(int c) noexcept
{
    return sizeof(Header) + ClassSize[c];
}

constexpr bool everyBlockKeepsAlignment() noexcept
{
    for (int c = 0; c < Classes; ++c)
        if (blockBytes(c) % alignof(std::max_align_t) != 0
            || (c > 0 && ClassSize[c] <= ClassSize[c - 1]))
            return false;
    return true;
}
static_assert(everyBlockKeepsAlignment(),
              "size classes must ascend, and header + payload must be a multiple of 16 bytes");

constexpr int blocksPerChunk(int c) noexcept
{
    return std::max(MinBlocksPerChunk, int(ChunkTarget / blockBytes(c)));
}

constexpr std::size_t chunkBytes(int c) noexcept
{
    return sizeof(Chunk) + std::size_t(blocksPerChunk(c)) * blockBytes(c);
}

void *payload(Header *h) noexcept
{
    return h + 1;
}

//! The end of a block's life in this allocator, its payload poisoned: back to its chunk, or to
//! the heap.
void giveUp(Header *h, [[maybe_unused]] int c) noexcept
{
    Chunk *chunk = h->chunk;
    if (!chunk) {
        QTACTORS_UNPOISON(payload(h), ClassSize[c]);
        ::operator delete(h);
        return;
    }
    QTACTORS_POISON(h, sizeof(Header));
    if (chunk->live.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        QTACTORS_UNPOISON(chunk, chunkBytes(c));
        ::operator delete(chunk);
    }
}

int classOf(std::size_t size) noexcept
{
    for (int c = 0; c < Classes; ++c)
        if (size <= ClassSize[c])
            return c;
    return -1;
}

struct alignas(64) Cache
{
    // Owner thread only.
    Header *local[Classes] = {};
    int localCount[Classes] = {};
    // The chunk each class carves blocks from, where the next block starts and how many are left.
    Chunk *carving[Classes] = {};
    unsigned char *carveAt[Classes] = {};
    int carveLeft[Classes] = {};
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
    //! A block that was never used, from this cache's chunk of class c; nullptr when no memory.
    Header *carve(int c) noexcept
    {
        if (carveLeft[c] == 0) {
            void *raw = ::operator new(chunkBytes(c), std::nothrow);
            if (!raw)
                return nullptr;
            auto *chunk = ::new (raw) Chunk{{blocksPerChunk(c)}};
            carving[c] = chunk;
            carveAt[c] = reinterpret_cast<unsigned char *>(chunk + 1);
            carveLeft[c] = blocksPerChunk(c);
            QTACTORS_POISON(carveAt[c], std::size_t(carveLeft[c]) * blockBytes(c));
        }
        auto *h = reinterpret_cast<Header *>(carveAt[c]);
        QTACTORS_UNPOISON(h, blockBytes(c));
        carveAt[c] += blockBytes(c);
        --carveLeft[c];
        h->chunk = carving[c];
        return h;
    }
    bool keep(Header *h, int c) noexcept
    {
        if (localCount[c] >= Cap)
            return false;
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
        Header *h = cache->take(c);
        if (h)
            QTACTORS_UNPOISON(payload(h), ClassSize[c]);
        else
            h = cache->carve(c);
        if (h) {
            h->owner = reinterpret_cast<std::uintptr_t>(cache) | std::uintptr_t(c);
            return payload(h);
        }
    }
    // A block of its own: too large, no cache (this thread is ending), or no memory for a chunk.
    auto *h = static_cast<Header *>(::operator new(sizeof(Header) + (c >= 0 ? ClassSize[c] : size)));
    h->owner = c < 0 ? Unclassed : reinterpret_cast<std::uintptr_t>(cache) | std::uintptr_t(c);
    h->chunk = nullptr;
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
        giveUp(h, c);
        return;
    }
    ::operator delete(h);
}

} // namespace QtActors::detail
