// Message memory (src/messagememory.cpp), seen from the heap: casts queued faster than they are
// handled are carved from chunks (one heap allocation per chunk, not per message), and chunks go
// back to the heap once their messages have run, also when the thread that sent them has ended.
// This executable replaces the global operator new and delete to count calls to them; under
// ThreadSanitizer, whose runtime defines them itself, it cannot: the same workloads then run
// for the race checks and the values they compute, without the heap counts.
#include "testing.h"

#if defined(__SANITIZE_THREAD__)
#define QTACTORS_TEST_COUNTS_HEAP 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QTACTORS_TEST_COUNTS_HEAP 0
#endif
#endif
#ifndef QTACTORS_TEST_COUNTS_HEAP
#define QTACTORS_TEST_COUNTS_HEAP 1
#endif

#include <QtCore/QSemaphore>

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

using namespace QtActors;

namespace {

std::atomic<long> g_outstanding{0}; // heap blocks from operator new not yet deleted, all threads
thread_local long t_allocations = 0; // operator new calls on this thread

#if QTACTORS_TEST_COUNTS_HEAP
void *counted(std::size_t size) noexcept
{
    void *p = std::malloc(size ? size : 1);
    if (p) {
        ++t_allocations;
        g_outstanding.fetch_add(1, std::memory_order_relaxed);
    }
    return p;
}

void uncounted(void *p) noexcept
{
    if (p) {
        g_outstanding.fetch_sub(1, std::memory_order_relaxed);
        std::free(p);
    }
}
#endif

} // namespace

#if QTACTORS_TEST_COUNTS_HEAP
void *operator new(std::size_t size)
{
    if (void *p = counted(size))
        return p;
    throw std::bad_alloc();
}
void *operator new[](std::size_t size)
{
    return operator new(size);
}
void *operator new(std::size_t size, const std::nothrow_t &) noexcept
{
    return counted(size);
}
void *operator new[](std::size_t size, const std::nothrow_t &) noexcept
{
    return counted(size);
}
void operator delete(void *p) noexcept
{
    uncounted(p);
}
void operator delete[](void *p) noexcept
{
    uncounted(p);
}
void operator delete(void *p, std::size_t) noexcept
{
    uncounted(p);
}
void operator delete[](void *p, std::size_t) noexcept
{
    uncounted(p);
}
void operator delete(void *p, const std::nothrow_t &) noexcept
{
    uncounted(p);
}
void operator delete[](void *p, const std::nothrow_t &) noexcept
{
    uncounted(p);
}
#endif

namespace {

struct Sink
{
    long count = 0;
    long sum = 0;
};

constexpr int Casts = 20000;

//! An actor held by a handler until release(): everything cast to it meanwhile stays queued.
struct Held
{
    Actor<Sink> actor;
    QSemaphore entered;
    QSemaphore gate;
    Call<bool> holding;

    Held()
        : holding(actor.call([this](Sink &) {
              entered.release();
              return gate.tryAcquire(1, 10000); // a test that fails still lets it go
          }))
    {
    }
    bool waitHeld() { return entered.tryAcquire(1, 5000); }
    bool release()
    {
        gate.release();
        return std::move(holding).wait();
    }
};

} // namespace

class tst_MessageMemory : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void castsQueuedFasterThanTheyRunAreCarvedFromChunks()
    {
        Held held;
        QVERIFY(held.waitHeld());
        long allocations = -1;
        std::thread sender([&] {
            const long before = t_allocations;
            for (int i = 0; i < Casts; ++i)
                held.actor.cast([i](Sink &s) { ++s.count; s.sum += i; });
            allocations = t_allocations - before;
        });
        sender.join();
        // Each 48-byte block would be a heap allocation of its own without chunks.
        if (QTACTORS_TEST_COUNTS_HEAP)
            QVERIFY2(allocations >= 1 && allocations <= Casts / 50,
                     qPrintable(QStringLiteral("%1 heap allocations for %2 queued casts")
                                        .arg(allocations).arg(Casts)));
        QVERIFY(held.release());
        const Sink s = held.actor.call([](Sink &s) { return s; }).wait();
        QCOMPARE(s.count, long(Casts));
        QCOMPARE(s.sum, long(Casts) * (Casts - 1) / 2);
    }

    void chunksGoBackToTheHeapOnceTheirMessagesRanAfterTheSenderEnded()
    {
        Held held;
        QVERIFY(held.waitHeld());
        const long baseline = g_outstanding.load();
        long whileQueued = 0;
        std::thread sender([&] {
            // Three size classes, so that several chunks of each are in use at once.
            for (int i = 0; i < Casts; ++i) {
                switch (i % 3) {
                case 0:
                    held.actor.cast([](Sink &s) { ++s.count; });
                    break;
                case 1: {
                    std::array<char, 24> b{};
                    b[0] = 1;
                    held.actor.cast([b](Sink &s) { s.count += b[0]; });
                    break;
                }
                default: {
                    std::array<char, 72> b{};
                    b[71] = 1;
                    held.actor.cast([b](Sink &s) { s.count += b[71]; });
                    break;
                }
                }
            }
            whileQueued = g_outstanding.load() - baseline;
        });
        sender.join(); // its cache is now an orphan; the blocks still go back to their chunks
        if (QTACTORS_TEST_COUNTS_HEAP)
            QVERIFY2(whileQueued >= 3, qPrintable(QString::number(whileQueued)));
        QVERIFY(held.release());
        QCOMPARE(held.actor.call([](Sink &s) { return s.count; }).wait(), long(Casts));
        // What may stay: the ended thread's cache and the blocks it keeps for the next thread
        // (at most 64 per class, in a few chunks), each class's chunk being carved, and whatever
        // the pool's threads keep. Without giving chunks back, all of them would stay.
        const long left = g_outstanding.load() - baseline;
        if (QTACTORS_TEST_COUNTS_HEAP)
            QVERIFY2(left <= whileQueued / 4 && left < 40,
                     qPrintable(QStringLiteral("%1 heap blocks left of %2 while the casts were "
                                               "queued").arg(left).arg(whileQueued)));
    }

    void blocksRecycleThroughTheSenderAcrossManyRounds()
    {
        // Steady state: a sender whose messages come back reuses them; the heap sees no growth.
        Actor<Sink> sink;
        QCOMPARE(sink.call([](Sink &s) { return s.count; }).wait(), 0L);
        long grewBy = -1;
        std::thread sender([&] {
            auto round = [&] {
                for (int i = 0; i < 1000; ++i)
                    sink.cast([](Sink &s) { ++s.count; });
                return sink.call([](Sink &s) { return s.count; }).wait();
            };
            for (int r = 0; r < 5; ++r)
                round(); // warms the caches
            const long before = g_outstanding.load();
            for (int r = 0; r < 50; ++r)
                round();
            grewBy = g_outstanding.load() - before;
        });
        sender.join();
        if (QTACTORS_TEST_COUNTS_HEAP)
            QVERIFY2(grewBy < 20, qPrintable(QString::number(grewBy)));
        QCOMPARE(sink.call([](Sink &s) { return s.count; }).wait(), 55000L);
    }
};

QTEST_GUILESS_MAIN(tst_MessageMemory)
#include "tst_messagememory.moc"
