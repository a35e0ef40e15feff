// The QtActors side, written against the public API (docs: /API.md of the design, <QtActors/QtActors>).
// Coroutine code follows the GCC 12 rule: no lambda with non-trivially-destructible captures inside
// a co_await expression (the calls awaited here are captureless or named first).
#include "alloccounter.h"
#include "harness.h"
#include "workloads.h"

#include <QtActors/QtActors>

#include <QCoroTask>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

namespace bench::qta {

using namespace QtActors;

bool available() { return true; }

namespace {

Options optionsFor(Exec exec)
{
    if (exec == Exec::Dedicated)
        return Options{.name = QStringLiteral("bench-dedicated"), .executor = Executor::dedicatedThread()};
    return Options{.name = QStringLiteral("bench-pool")};
}

struct Counter
{
    long count = 0;
};

std::atomic<long> g_liveStates{0};

struct Tracked
{
    Tracked() { g_liveStates.fetch_add(1, std::memory_order_relaxed); }
    ~Tracked() { g_liveStates.fetch_sub(1, std::memory_order_relaxed); }
    Tracked(const Tracked &) = delete;
    Tracked &operator=(const Tracked &) = delete;
    long count = 0;
};

void castOne(const Actor<Counter> &counter)
{
    counter.cast([](Counter &c) { ++c.count; });
}

long readCount(const Actor<Counter> &counter)
{
    return counter.call([](Counter &c) { return c.count; }).wait();
}

} // namespace

Seconds castThroughput(Exec exec, long casts)
{
    auto counter = Actor<Counter>::emplace(optionsFor(exec));
    readCount(counter); // the actor (and its dedicated thread) is up before the clock starts
    return timeCastsFromOneThread(
            casts, [&] { castOne(counter); }, [&] { return readCount(counter); }, "QtActors cast");
}

Seconds fanIn(int producers, long casts)
{
    auto counter = Actor<Counter>::emplace(optionsFor(Exec::Pool));
    readCount(counter);
    return timeFanIn(
            producers, casts, [&] { castOne(counter); }, [&] { return readCount(counter); },
            "QtActors fan-in cast");
}

Seconds blockingCalls(Exec exec, long calls)
{
    auto counter = Actor<Counter>::emplace(optionsFor(exec));
    readCount(counter);
    Seconds seconds = 0;
    long last = 0;
    runInThread([&] {
        const auto start = Clock::now();
        for (long i = 0; i < calls; ++i)
            last = counter.call([](Counter &c) { return ++c.count; }).wait();
        seconds = secondsSince(start);
    });
    expectCount(last, calls, "QtActors call().wait()");
    return seconds;
}

namespace {
struct Requester
{
};

// A coroutine function (not a coroutine lambda): its parameters live in the coroutine frame.
QCoro::Task<long> requestLoop(Actor<Counter> peer, long pairs)
{
    long last = 0;
    for (long i = 0; i < pairs; ++i) {
        auto answer = peer.call([](Counter &c) { return ++c.count; });
        last = co_await std::move(answer);
    }
    co_return last;
}

Seconds runCoAwait(long pairs, alloc::Snapshot *before, alloc::Snapshot *after)
{
    auto peer = Actor<Counter>::emplace(Options{.name = QStringLiteral("bench-peer")});
    auto requester = Actor<Requester>::emplace(Options{.name = QStringLiteral("bench-requester")});
    readCount(peer);
    requester.call([](Requester &) { return 0; }).wait();
    if (before)
        *before = alloc::snapshot();
    const auto start = Clock::now();
    auto handler = [peer, pairs](Requester &) { return requestLoop(peer, pairs); };
    const long last = requester.call(handler).wait();
    const Seconds seconds = secondsSince(start);
    if (after)
        *after = alloc::snapshot();
    expectCount(last, pairs, "QtActors co_await call");
    return seconds;
}
} // namespace

Seconds blockingCallsWithTimeout(long calls)
{
    using namespace std::chrono_literals;
    auto counter = Actor<Counter>::emplace(optionsFor(Exec::Pool));
    readCount(counter);
    Seconds seconds = 0;
    long last = 0;
    runInThread([&] {
        const auto start = Clock::now();
        for (long i = 0; i < calls; ++i)
            last = counter.call([](Counter &c) { return ++c.count; }).timeout(10s).wait();
        seconds = secondsSince(start);
    });
    expectCount(last, calls, "QtActors call().timeout().wait()");
    return seconds;
}

namespace {
QCoro::Task<long> requestLoopWithTimeout(Actor<Counter> peer, long pairs)
{
    using namespace std::chrono_literals;
    long last = 0;
    for (long i = 0; i < pairs; ++i) {
        auto answer = peer.call([](Counter &c) { return ++c.count; }).timeout(10s);
        last = co_await std::move(answer);
    }
    co_return last;
}
} // namespace

Seconds coAwaitCallsWithTimeout(long pairs)
{
    auto peer = Actor<Counter>::emplace(Options{.name = QStringLiteral("bench-peer")});
    auto requester = Actor<Requester>::emplace(Options{.name = QStringLiteral("bench-requester")});
    readCount(peer);
    requester.call([](Requester &) { return 0; }).wait();
    const auto start = Clock::now();
    auto handler = [peer, pairs](Requester &) { return requestLoopWithTimeout(peer, pairs); };
    const long last = requester.call(handler).wait();
    const Seconds seconds = secondsSince(start);
    expectCount(last, pairs, "QtActors co_await call with a timeout");
    return seconds;
}

Lateness castAfterLateness(int samples, int delayMs)
{
    auto actor = Actor<Counter>::emplace(optionsFor(Exec::Dedicated));
    readCount(actor);
    std::vector<double> late;
    late.reserve(std::size_t(samples));
    for (int i = 0; i < samples; ++i) {
        std::promise<double> fired;
        auto done = fired.get_future();
        const auto due = Clock::now() + std::chrono::milliseconds(delayMs);
        actor.castAfter(std::chrono::milliseconds(delayMs), [&fired, due](Counter &) {
                 fired.set_value(std::chrono::duration<double, std::milli>(Clock::now() - due).count());
             }).detach();
        late.push_back(done.get());
    }
    return latenessOf(std::move(late));
}

PendingTimers pendingTimers(long count)
{
    using namespace std::chrono_literals;
    auto actor = Actor<Counter>::emplace(optionsFor(Exec::Pool));
    readCount(actor);
    std::vector<Timer> timers;
    timers.reserve(std::size_t(count));
    (void)actor.castAfter(1h, [](Counter &) { }); // the timer thread and its heap exist already
    trimHeap();
    const alloc::Snapshot before = alloc::snapshot();
    const auto start = Clock::now();
    for (long i = 0; i < count; ++i)
        timers.push_back(actor.castAfter(1h, [](Counter &c) { ++c.count; }));
    const Seconds armed = secondsSince(start);
    const alloc::Snapshot pending = alloc::snapshot();
    const auto cancelStart = Clock::now();
    for (Timer &timer : timers)
        timer.cancel();
    const Seconds cancelled = secondsSince(cancelStart);
    long active = 0;
    for (const Timer &timer : timers)
        active += timer.isActive() ? 1 : 0;
    expectCount(active, 0, "QtActors timers still active after cancel()");
    PendingTimers result;
    result.heapBytesEach = double(pending.liveBytes - before.liveBytes) / double(count);
    result.armCancelMicros = (armed + cancelled) * 1e6 / double(count);
    return result;
}

Seconds burstCasts(long casts, int burst, long capacity)
{
    // Bursts that fit the bound, so that nothing is refused: what the bound costs a cast.
    auto counter = Actor<Counter>::emplace(Options{.name = QStringLiteral("bench-bounded"),
                                                   .mailboxCapacity = capacity});
    readCount(counter);
    Seconds seconds = 0;
    runInThread([&] {
        const auto start = Clock::now();
        for (long sent = 0; sent < casts;) {
            for (int i = 0; i < burst && sent < casts; ++i, ++sent)
                castOne(counter);
            readCount(counter);
        }
        seconds = secondsSince(start);
    });
    expectCount(readCount(counter), casts, "QtActors bounded casts");
    return seconds;
}

Seconds whenRoomProducer(long casts, long capacity)
{
    auto counter = Actor<Counter>::emplace(Options{.name = QStringLiteral("bench-room"),
                                                   .mailboxCapacity = capacity});
    readCount(counter);
    Seconds seconds = 0;
    runInThread([&] {
        const auto start = Clock::now();
        for (long i = 0; i < casts; ++i)
            counter.castWhenRoom([](Counter &c) { ++c.count; }).wait();
        // The last one handled (a call could find the mailbox full: it waits for room too).
        std::promise<void> done;
        counter.castWhenRoom([&done](Counter &) { done.set_value(); }).wait();
        done.get_future().wait();
        seconds = secondsSince(start);
    });
    expectCount(readCount(counter), casts, "QtActors castWhenRoom"); // (the mailbox has drained)
    return seconds;
}

LatestFlood latestFlood(long updates, bool coalesce)
{
    auto counter = Actor<Counter>::emplace(Options{.name = QStringLiteral("bench-latest")});
    readCount(counter);
    LatestFlood result;
    std::atomic<long> last{-1};
    runInThread([&] {
        const auto start = Clock::now();
        for (long i = 0; i < updates; ++i) {
            if (coalesce)
                counter.castLatest(0, [i, &last](Counter &c) { ++c.count; last = i; });
            else
                counter.cast([i, &last](Counter &c) { ++c.count; last = i; });
        }
        result.handled = readCount(counter);
        result.seconds = secondsSince(start);
    });
    expectCount(last.load(), updates - 1, "QtActors castLatest: the last update ran");
    return result;
}

Seconds coAwaitCalls(long pairs)
{
    return runCoAwait(pairs, nullptr, nullptr);
}

SpawnResult spawn(long count)
{
    { // warm up: the pool's threads exist before the baseline
        Actor<Tracked> warm;
        warm.call([](Tracked &t) { return t.count; }).wait();
    }
    waitUntil([] { return g_liveStates.load() == 0; }, "QtActors warm-up actor destroyed");

    SpawnResult result;
    result.actors = count;
    const Footprint before = footprint();

    const auto start = Clock::now();
    std::vector<Actor<Tracked>> actors;
    actors.reserve(count);
    for (long i = 0; i < count; ++i) {
        actors.emplace_back();
        actors.back().cast([](Tracked &t) { ++t.count; });
    }
    // One call each, all in flight at once, then every answer.
    std::vector<Call<long>> answers;
    answers.reserve(count);
    for (const auto &a : actors)
        answers.push_back(a.call([](Tracked &t) { return t.count; }));
    long sum = 0;
    for (auto &answer : answers)
        sum += std::move(answer).wait();
    answers.clear();
    Seconds seconds = secondsSince(start);
    expectCount(sum, count, "QtActors spawn: messages");

    const Footprint idle = footprint(); // what the call round freed is not part of an idle actor

    const auto dropStart = Clock::now();
    actors.clear();
    waitUntil([] { return g_liveStates.load() == 0; }, "QtActors actors destroyed");
    seconds += secondsSince(dropStart);

    result.seconds = seconds;
    setPerActor(result, before, idle, count);
    return result;
}

namespace {
struct RingNode
{
    long visits = 0;
};

struct Ring
{
    std::vector<Actor<RingNode>> nodes;
    std::promise<void> done;
};

void passToken(Ring *ring, int node, long remaining)
{
    ring->nodes[node].cast([ring, node, remaining](RingNode &n) {
        ++n.visits;
        if (remaining == 0) {
            ring->done.set_value();
            return;
        }
        passToken(ring, node + 1 == int(ring->nodes.size()) ? 0 : node + 1, remaining - 1);
    });
}
} // namespace

Seconds ring(int nodes, long hops)
{
    Ring ring;
    ring.nodes.reserve(nodes);
    for (int i = 0; i < nodes; ++i)
        ring.nodes.emplace_back();
    for (auto &node : ring.nodes) // every actor is up before the token starts
        node.call([](RingNode &n) { return n.visits; }).wait();
    auto finished = ring.done.get_future();
    const auto start = Clock::now();
    passToken(&ring, 0, hops);
    finished.wait();
    const Seconds seconds = secondsSince(start);
    long total = 0;
    for (auto &node : ring.nodes)
        total += node.call([](RingNode &n) { return n.visits; }).wait();
    expectCount(total, hops + 1, "QtActors ring visits");
    return seconds;
}

void guiLoad(int producers, long perProducer)
{
    constexpr int actorCount = 16;
    std::vector<Actor<Counter>> counters;
    for (int i = 0; i < actorCount; ++i)
        counters.push_back(Actor<Counter>::emplace(optionsFor(Exec::Pool)));
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            for (long i = 0; i < perProducer; ++i)
                castOne(counters[(i + p) % actorCount]);
        });
    }
    for (auto &t : threads)
        t.join();
    long sum = 0;
    for (auto &counter : counters)
        sum += readCount(counter);
    expectCount(sum, perProducer * producers, "GUI load cast");
}

AllocResult allocationsPerCast(Exec exec, long casts)
{
    auto counter = Actor<Counter>::emplace(optionsFor(exec));
    readCount(counter);
    AllocResult result;
    runInThread([&] {
        // The confirming call's own allocations are measured alone and subtracted.
        const auto c0 = alloc::snapshot();
        readCount(counter);
        const auto c1 = alloc::snapshot();
        for (long i = 0; i < casts; ++i)
            castOne(counter);
        expectCount(readCount(counter), casts, "QtActors cast");
        const auto c2 = alloc::snapshot();
        const auto callAllocations = c1.allocations - c0.allocations;
        result.perOperation = double(c2.allocations - c1.allocations - callAllocations) / double(casts);
    });
    return result;
}

AllocResult allocationsPerCall(Exec exec, long calls)
{
    auto counter = Actor<Counter>::emplace(optionsFor(exec));
    readCount(counter);
    AllocResult result;
    runInThread([&] {
        readCount(counter);
        const auto before = alloc::snapshot();
        for (long i = 0; i < calls; ++i)
            readCount(counter);
        const auto after = alloc::snapshot();
        result.perOperation = double(after.allocations - before.allocations) / double(calls);
    });
    return result;
}

AllocResult allocationsPerCoAwaitCall(long pairs)
{
    alloc::Snapshot before, after;
    runCoAwait(pairs, &before, &after);
    return {double(after.allocations - before.allocations) / double(pairs)};
}

// --- Programs (issue "what real actor programs need"): run in a child process each ------------

namespace {
struct TreeNode
{
    int depth = 0;
};

// Each node spawns two children, calls both and sums their answers, as a port from another actor
// framework writes it.
QCoro::Task<long> treeCount(TreeNode &node, int depthLimit)
{
    if (node.depth == depthLimit)
        co_return 1;
    Actor<TreeNode> left(TreeNode{node.depth + 1});
    Actor<TreeNode> right(TreeNode{node.depth + 1});
    auto ask = [depthLimit](TreeNode &child) { return treeCount(child, depthLimit); };
    auto fromLeft = left.call(ask);
    auto fromRight = right.call(ask);
    const long l = co_await std::move(fromLeft);
    const long r = co_await std::move(fromRight);
    co_return l + r + 1;
}
} // namespace

Seconds spawnTree(int depthLimit)
{
    const auto start = Clock::now();
    long counted = 0;
    {
        Actor<TreeNode> root(TreeNode{0});
        auto ask = [depthLimit](TreeNode &node) { return treeCount(node, depthLimit); };
        counted = std::move(root.call(ask)).wait();
    }
    const Seconds seconds = secondsSince(start);
    expectCount(counted, (2L << depthLimit) - 1, "QtActors spawn tree: actors counted");
    return seconds;
}

Seconds mailboxFlood(int senders, long perSender)
{
    Actor<Counter> receiver;
    std::vector<Actor<Counter>> from(std::size_t(senders), Actor<Counter>(nullptr));
    for (auto &sender : from)
        sender = Actor<Counter>();
    const auto start = Clock::now();
    std::vector<Call<bool>> sent;
    sent.reserve(from.size());
    for (const auto &sender : from) {
        sent.push_back(sender.call([receiver, perSender](Counter &) {
            for (long i = 0; i < perSender; ++i)
                receiver.cast([](Counter &c) { ++c.count; });
            return true;
        }));
    }
    for (auto &call : sent)
        std::move(call).wait();
    // Behind every cast: the count once all have run.
    const long count = receiver.call([](Counter &c) { return c.count; }).wait();
    const Seconds seconds = secondsSince(start);
    expectCount(count, long(senders) * perSender, "QtActors mailbox flood: casts counted");
    return seconds;
}

namespace {
// The mixed program, as a port from another actor framework writes it: the links of a ring are
// Actor<MixedLink>s linked through their State (S31), the last one answers to its master through a
// weak handle, and a master builds each new ring from inside its handler with self() (S32).
struct MixedSupervisor
{
    long checked = 0;
    long wrong = 0;
    long hops = 0;
    int mastersDone = 0;
    MixedSpec spec;
    std::promise<void> *done = nullptr;

    void finishIfComplete()
    {
        if (mastersDone == spec.rings && checked + wrong == long(spec.rings) * spec.repetitions)
            done->set_value();
    }
};

struct MixedWorker
{
    Actor<MixedSupervisor> supervisor = nullptr;
};

struct MixedMaster;

struct MixedLink
{
    Actor<MixedLink> next = nullptr; // null for the ring's last link, which answers to its master
    WeakActor<MixedMaster> master;
};

struct MixedMaster
{
    MixedSpec spec;
    Actor<MixedWorker> worker = nullptr;
    Actor<MixedSupervisor> supervisor = nullptr;
    Actor<MixedLink> ring = nullptr; // the first link of the current ring
    int repetition = 0;
    long hops = 0;
};

void completeLap(MixedMaster &master, int lapsLeft, long hops);

void passToken(MixedLink &link, int lapsLeft, long hops)
{
    if (!link.next.isStopped()) {
        link.next.cast([lapsLeft, hops](MixedLink &next) { passToken(next, lapsLeft, hops + 1); });
        return;
    }
    const Actor<MixedMaster> master = link.master.lock();
    master.cast([lapsLeft, hops](MixedMaster &m) { completeLap(m, lapsLeft, hops + 1); });
}

void sendRound(MixedMaster &master, int lapsLeft, long hops)
{
    master.ring.cast([lapsLeft, hops](MixedLink &first) { passToken(first, lapsLeft, hops + 1); });
}

void startRepetition(MixedMaster &master)
{
    // The new ring is built from its end; the old one goes with the last handle to its first link.
    Actor<MixedLink> next(MixedLink{nullptr, Actor<MixedMaster>::self().weak()});
    for (int i = 2; i < master.spec.ringSize; ++i)
        next = Actor<MixedLink>(MixedLink{std::move(next), {}});
    master.ring = std::move(next);
    master.worker.cast([](MixedWorker &worker) {
        worker.supervisor.cast([factors = primeFactors(kMixedSemiprime)](MixedSupervisor &s) {
            ++(factors == std::vector<std::int64_t>{kMixedFactorA, kMixedFactorB} ? s.checked : s.wrong);
            s.finishIfComplete();
        });
    });
    sendRound(master, master.spec.laps, 0);
}

void completeLap(MixedMaster &master, int lapsLeft, long hops)
{
    if (--lapsLeft > 0) {
        sendRound(master, lapsLeft, hops);
        return;
    }
    master.hops += hops;
    if (++master.repetition < master.spec.repetitions) {
        startRepetition(master);
        return;
    }
    master.ring = nullptr;
    master.supervisor.cast([hops = master.hops](MixedSupervisor &s) {
        s.hops += hops;
        ++s.mastersDone;
        s.finishIfComplete();
    });
}
} // namespace

Seconds mixed(const MixedSpec &spec)
{
    std::promise<void> done;
    auto finished = done.get_future();
    const auto start = Clock::now();
    Actor<MixedSupervisor> supervisor(MixedSupervisor{.spec = spec, .done = &done});
    std::vector<Actor<MixedMaster>> masters;
    for (int r = 0; r < spec.rings; ++r) {
        Actor<MixedWorker> worker(MixedWorker{supervisor},
                                  Options{.name = QStringLiteral("mixed-worker"), .executor = Executor::dedicatedThread()});
        masters.emplace_back(MixedMaster{.spec = spec, .worker = std::move(worker), .supervisor = supervisor});
    }
    for (const auto &master : masters)
        master.cast([](MixedMaster &m) { startRepetition(m); });
    finished.wait();
    struct Counts
    {
        long checked, wrong, hops;
    };
    const Counts counts = supervisor.call([](MixedSupervisor &s) { return Counts{s.checked, s.wrong, s.hops}; }).wait();
    const Seconds seconds = secondsSince(start);
    expectMixedCounts(spec, counts.checked, counts.wrong, counts.hops, "QtActors mixed");
    return seconds;
}

} // namespace bench::qta
