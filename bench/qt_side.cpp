// The plain-Qt side: what a Qt developer writes by hand to put work on another thread.
// "Actors" are QObjects living on worker QThreads, messages are queued invokeMethod() calls.
#include "alloccounter.h"
#include "harness.h"
#include "workloads.h"

#include <QtConcurrent/QtConcurrentRun>
#include <QtCore/QFuture>
#include <QtCore/QObject>
#include <QtCore/QPromise>
#include <QtCore/QThread>
#include <QtCore/QThreadPool>
#include <QtCore/QSemaphore>
#include <QtCore/QTimer>

#include <atomic>
#include <future>
#include <memory>
#include <thread>
#include <vector>

namespace bench::qt {

namespace {

std::atomic<long> g_liveObjects{0};

//! The plain-Qt stand-in for an actor: a QObject with a counter, on a worker thread.
class Counter : public QObject
{
public:
    Counter() { g_liveObjects.fetch_add(1, std::memory_order_relaxed); }
    ~Counter() override { g_liveObjects.fetch_sub(1, std::memory_order_relaxed); }
    long count = 0; // touched only on the object's thread
};

//! A QThread running an event loop; its objects are deleted on it when it finishes.
class WorkerThread
{
public:
    WorkerThread() { m_thread.start(); }
    ~WorkerThread()
    {
        m_thread.quit();
        m_thread.wait();
    }
    Counter *newCounter()
    {
        auto *counter = new Counter;
        counter->moveToThread(&m_thread);
        QObject::connect(&m_thread, &QThread::finished, counter, &QObject::deleteLater);
        return counter;
    }

private:
    QThread m_thread;
};

void castOne(Counter *counter)
{
    QMetaObject::invokeMethod(counter, [counter] { ++counter->count; }, Qt::QueuedConnection);
}

long readCount(Counter *counter)
{
    long value = -1;
    QMetaObject::invokeMethod(counter, [counter] { return counter->count; },
                              Qt::BlockingQueuedConnection, &value);
    return value;
}

} // namespace

Seconds castThroughput(long casts)
{
    WorkerThread worker;
    Counter *counter = worker.newCounter();
    return timeCastsFromOneThread(
            casts, [&] { castOne(counter); }, [&] { return readCount(counter); }, "queued invokeMethod");
}

Seconds fanIn(int producers, long casts)
{
    WorkerThread worker;
    Counter *counter = worker.newCounter();
    return timeFanIn(
            producers, casts, [&] { castOne(counter); }, [&] { return readCount(counter); },
            "fan-in queued invokeMethod");
}

Seconds blockingQueuedCalls(long calls)
{
    WorkerThread worker;
    Counter *counter = worker.newCounter();
    Seconds seconds = 0;
    long last = 0;
    runInThread([&] {
        const auto start = Clock::now();
        for (long i = 0; i < calls; ++i) {
            QMetaObject::invokeMethod(counter, [counter] { return ++counter->count; },
                                      Qt::BlockingQueuedConnection, &last);
        }
        seconds = secondsSince(start);
    });
    expectCount(last, calls, "BlockingQueuedConnection");
    return seconds;
}

Seconds concurrentRunResults(long calls)
{
    Seconds seconds = 0;
    long last = 0;
    runInThread([&] {
        long count = 0;
        const auto start = Clock::now();
        for (long i = 0; i < calls; ++i)
            last = QtConcurrent::run([&count] { return ++count; }).result();
        seconds = secondsSince(start);
    });
    expectCount(last, calls, "QtConcurrent::run");
    return seconds;
}

SpawnResult spawn(long count)
{
    SpawnResult result;
    result.actors = count;
    const Footprint before = footprint();

    const auto start = Clock::now();
    std::vector<QThread *> threads;
    std::vector<Counter *> counters;
    threads.reserve(count);
    counters.reserve(count);
    for (long i = 0; i < count; ++i) {
        auto *thread = new QThread;
        auto *counter = new Counter;
        counter->moveToThread(thread);
        QObject::connect(thread, &QThread::finished, counter, &QObject::deleteLater);
        thread->start();
        castOne(counter);
        threads.push_back(thread);
        counters.push_back(counter);
    }
    // One call each, all in flight at once: a QPromise answered on the object's thread.
    std::vector<QFuture<long>> answers;
    answers.reserve(count);
    for (Counter *counter : counters) {
        auto promise = std::make_shared<QPromise<long>>();
        promise->start(); // a future of an unstarted promise does not wait in result()
        answers.push_back(promise->future());
        QMetaObject::invokeMethod(counter, [counter, promise] {
            promise->addResult(counter->count);
            promise->finish();
        }, Qt::QueuedConnection);
    }
    long sum = 0;
    for (auto &answer : answers)
        sum += answer.result();
    answers.clear();
    Seconds seconds = secondsSince(start);
    expectCount(sum, count, "QThread per object: messages");

    const Footprint idle = footprint(); // what the call round freed is not part of an idle actor

    const auto dropStart = Clock::now();
    for (QThread *thread : threads)
        thread->quit();
    for (QThread *thread : threads) {
        thread->wait();
        delete thread;
    }
    waitUntil([] { return g_liveObjects.load() == 0; }, "QObjects deleted");
    seconds += secondsSince(dropStart);

    result.seconds = seconds;
    setPerActor(result, before, idle, count);
    return result;
}

namespace {
struct Ring
{
    QThreadPool *pool = nullptr;
    std::vector<long> visits; // one node at a time: each hop happens-after the previous one
    std::promise<void> done;
};

void hop(Ring *ring, int node, long remaining)
{
    ++ring->visits[node];
    if (remaining == 0) {
        ring->done.set_value();
        return;
    }
    const int next = node + 1 == int(ring->visits.size()) ? 0 : node + 1;
    ring->pool->start([ring, next, remaining] { hop(ring, next, remaining - 1); });
}
} // namespace

Seconds ring(int nodes, long hops)
{
    Ring ring;
    ring.pool = QThreadPool::globalInstance();
    ring.visits.assign(nodes, 0);
    auto finished = ring.done.get_future();
    const auto start = Clock::now();
    ring.pool->start([&ring, hops] { hop(&ring, 0, hops); });
    finished.wait();
    const Seconds seconds = secondsSince(start);
    long total = 0;
    for (long v : ring.visits)
        total += v;
    expectCount(total, hops + 1, "QThreadPool ring visits");
    return seconds;
}

void guiLoad(int producers, long perProducer)
{
    constexpr int objectCount = 16;
    WorkerThread workers[2];
    std::vector<Counter *> counters;
    for (int i = 0; i < objectCount; ++i)
        counters.push_back(workers[i % 2].newCounter());
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            for (long i = 0; i < perProducer; ++i)
                castOne(counters[(i + p) % objectCount]);
        });
    }
    for (auto &t : threads)
        t.join();
    long sum = 0;
    for (Counter *counter : counters)
        sum += readCount(counter);
    expectCount(sum, perProducer * producers, "GUI load invokeMethod");
}

Lateness singleShotLateness(int samples, int delayMs)
{
    // A QObject on a worker QThread, and QTimer::singleShot armed in that thread (where it must be).
    WorkerThread worker;
    Counter *target = worker.newCounter();
    readCount(target);
    std::vector<double> late;
    late.reserve(std::size_t(samples));
    for (int i = 0; i < samples; ++i) {
        std::promise<double> fired;
        auto done = fired.get_future();
        const auto due = Clock::now() + std::chrono::milliseconds(delayMs);
        QMetaObject::invokeMethod(target, [target, &fired, due, delayMs] {
            QTimer::singleShot(delayMs, target, [&fired, due] {
                fired.set_value(std::chrono::duration<double, std::milli>(Clock::now() - due).count());
            });
        });
        late.push_back(done.get());
    }
    return latenessOf(std::move(late));
}

PendingTimers pendingTimers(long count)
{
    // The plain-Qt way: one QTimer per timer, started in the thread that runs its event loop.
    WorkerThread worker;
    Counter *owner = worker.newCounter();
    readCount(owner);
    std::vector<QTimer *> timers;
    timers.reserve(std::size_t(count));
    trimHeap();
    alloc::Snapshot before, pending;
    Seconds armed = 0, cancelled = 0;
    QMetaObject::invokeMethod(owner, [&] {
        before = alloc::snapshot();
        const auto start = Clock::now();
        for (long i = 0; i < count; ++i) {
            auto *timer = new QTimer(owner);
            timer->setSingleShot(true);
            QObject::connect(timer, &QTimer::timeout, owner, [owner] { ++owner->count; });
            timer->start(std::chrono::hours(1));
            timers.push_back(timer);
        }
        armed = secondsSince(start);
        pending = alloc::snapshot();
        const auto cancelStart = Clock::now();
        for (QTimer *timer : timers)
            timer->stop();
        cancelled = secondsSince(cancelStart);
        for (QTimer *timer : timers)
            delete timer;
    }, Qt::BlockingQueuedConnection);
    PendingTimers result;
    result.heapBytesEach = double(pending.liveBytes - before.liveBytes) / double(count);
    result.armCancelMicros = (armed + cancelled) * 1e6 / double(count);
    return result;
}

Seconds semaphoreBoundedProducer(long casts, int window)
{
    // The plain-Qt way to bound a queue of work for another thread: a semaphore of free slots.
    WorkerThread worker;
    Counter *counter = worker.newCounter();
    readCount(counter);
    QSemaphore free(window);
    Seconds seconds = 0;
    runInThread([&] {
        const auto start = Clock::now();
        for (long i = 0; i < casts; ++i) {
            free.acquire();
            QMetaObject::invokeMethod(counter, [counter, &free] {
                ++counter->count;
                free.release();
            }, Qt::QueuedConnection);
        }
        readCount(counter);
        seconds = secondsSince(start);
    });
    expectCount(readCount(counter), casts, "plain Qt semaphore-bounded invokeMethod");
    return seconds;
}

AllocResult allocationsPerCast(long casts)
{
    WorkerThread worker;
    Counter *counter = worker.newCounter();
    readCount(counter); // warm up the thread's event queue
    AllocResult result;
    runInThread([&] {
        // The confirming call's own allocations are measured alone and subtracted.
        const auto c0 = alloc::snapshot();
        readCount(counter);
        const auto c1 = alloc::snapshot();
        for (long i = 0; i < casts; ++i)
            castOne(counter);
        expectCount(readCount(counter), casts, "queued invokeMethod");
        const auto c2 = alloc::snapshot();
        const auto callAllocations = c1.allocations - c0.allocations;
        result.perOperation = double(c2.allocations - c1.allocations - callAllocations) / double(casts);
    });
    return result;
}

AllocResult allocationsPerCall(long calls)
{
    WorkerThread worker;
    Counter *counter = worker.newCounter();
    readCount(counter);
    const auto before = alloc::snapshot();
    runInThread([&] {
        for (long i = 0; i < calls; ++i)
            readCount(counter);
    });
    const auto after = alloc::snapshot();
    return {double(after.allocations - before.allocations) / double(calls)};
}

} // namespace bench::qt
