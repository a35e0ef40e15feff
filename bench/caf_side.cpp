// The CAF 0.17 side: the established C++ actor framework, used the way its manual shows
// (stateful event-based actors, anon_send, scoped_actor request/receive, request(...).then(...)).
// Every workload builds its own actor_system with the default configuration, so an idle CAF
// scheduler never competes with the other sides.
#include "alloccounter.h"
#include "harness.h"
#include "workloads.h"

#include <caf/all.hpp>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

namespace bench::caf {

using namespace ::caf;

bool available() { return true; }

namespace {

std::atomic<long> g_liveStates{0};

struct CounterState
{
    CounterState() { g_liveStates.fetch_add(1, std::memory_order_relaxed); }
    ~CounterState() { g_liveStates.fetch_sub(1, std::memory_order_relaxed); }
    long count = 0;
};

behavior counterActor(stateful_actor<CounterState> *self)
{
    return {
        [=](long delta) { self->state.count += delta; },               // the cast
        [=](add_atom) { return ++self->state.count; },                 // a call that changes state
        [=](get_atom) { return self->state.count; },                   // a call that reads it
    };
}

long readCount(actor_system &system, const actor &counter)
{
    scoped_actor self{system};
    long value = -1;
    self->request(counter, infinite, get_atom_v)
        .receive([&](long v) { value = v; },
                 [&](error &e) { throw std::runtime_error("CAF request failed: " + to_string(e)); });
    return value;
}

} // namespace

Seconds castThroughput(long casts)
{
    actor_system_config config;
    actor_system system{config};
    auto counter = system.spawn(counterActor);
    Seconds seconds = 0;
    long seen = 0;
    runInThread([&] {
        scoped_actor confirm{system}; // built before the clock starts
        const auto start = Clock::now();
        for (long i = 0; i < casts; ++i)
            anon_send(counter, 1L);
        confirm->request(counter, infinite, get_atom_v)
            .receive([&](long v) { seen = v; }, [&](error &) { seen = -1; });
        seconds = secondsSince(start);
    });
    expectCount(seen, casts, "CAF anon_send");
    return seconds;
}

Seconds fanIn(int producers, long casts)
{
    actor_system_config config;
    actor_system system{config};
    auto counter = system.spawn(counterActor);
    scoped_actor confirm{system};
    auto read = [&] {
        long seen = -1;
        confirm->request(counter, infinite, get_atom_v)
            .receive([&](long v) { seen = v; }, [&](error &) { seen = -1; });
        return seen;
    };
    return timeFanIn(producers, casts, [&] { anon_send(counter, 1L); }, read, "CAF fan-in anon_send");
}

Seconds blockingCalls(long calls)
{
    actor_system_config config;
    actor_system system{config};
    auto counter = system.spawn(counterActor);
    Seconds seconds = 0;
    long last = 0;
    runInThread([&] {
        scoped_actor self{system};
        const auto start = Clock::now();
        for (long i = 0; i < calls; ++i) {
            self->request(counter, infinite, add_atom_v)
                .receive([&](long v) { last = v; }, [&](error &) { last = -1; });
        }
        seconds = secondsSince(start);
    });
    expectCount(last, calls, "CAF scoped_actor request/receive");
    return seconds;
}

namespace {
struct RequesterState
{
    actor peer;
    long remaining = 0;
    long last = 0;
    response_promise promise;
};

void requestNext(stateful_actor<RequesterState> *self)
{
    self->request(self->state.peer, infinite, add_atom_v).then([=](long v) {
        self->state.last = v;
        if (--self->state.remaining == 0)
            self->state.promise.deliver(self->state.last);
        else
            requestNext(self);
    });
}

behavior requesterActor(stateful_actor<RequesterState> *self, actor peer)
{
    self->state.peer = std::move(peer);
    return {
        [=](ok_atom, long pairs) {
            self->state.remaining = pairs;
            self->state.promise = self->make_response_promise();
            requestNext(self);
            return self->state.promise;
        },
    };
}

Seconds runRequestThen(long pairs, alloc::Snapshot *before, alloc::Snapshot *after)
{
    actor_system_config config;
    actor_system system{config};
    auto counter = system.spawn(counterActor);
    auto requester = system.spawn(requesterActor, counter);
    scoped_actor self{system};
    long last = -1;
    if (before)
        *before = alloc::snapshot();
    const auto start = Clock::now();
    self->request(requester, infinite, ok_atom_v, pairs)
        .receive([&](long v) { last = v; },
                 [&](error &e) { throw std::runtime_error("CAF request failed: " + to_string(e)); });
    const Seconds seconds = secondsSince(start);
    if (after)
        *after = alloc::snapshot();
    expectCount(last, pairs, "CAF request/then");
    return seconds;
}
} // namespace

Seconds requestThen(long pairs)
{
    return runRequestThen(pairs, nullptr, nullptr);
}

SpawnResult spawn(long count)
{
    actor_system_config config;
    actor_system system{config};
    scoped_actor self{system};
    { // warm up: the scheduler's threads and caches exist before the baseline
        auto warm = system.spawn(counterActor);
        readCount(system, warm);
    }
    waitUntil([] { return g_liveStates.load() == 0; }, "CAF warm-up actor destroyed");

    SpawnResult result;
    result.actors = count;
    const Footprint before = footprint();

    const auto start = Clock::now();
    std::vector<actor> actors;
    actors.reserve(count);
    for (long i = 0; i < count; ++i) {
        actors.push_back(system.spawn(counterActor));
        anon_send(actors.back(), 1L);
    }
    // One call each, all in flight at once; the answers come back to the scoped actor.
    for (const actor &a : actors)
        self->send(a, get_atom_v);
    long sum = 0;
    long received = 0;
    self->receive_for(received, count)([&](long v) { sum += v; });
    Seconds seconds = secondsSince(start);
    expectCount(sum, count, "CAF spawn: messages");

    const Footprint idle = footprint(); // what the call round freed is not part of an idle actor

    const auto dropStart = Clock::now();
    actors.clear();
    waitUntil([] { return g_liveStates.load() == 0; }, "CAF actors destroyed");
    seconds += secondsSince(dropStart);

    result.seconds = seconds;
    setPerActor(result, before, idle, count);
    return result;
}

namespace {
struct RingNodeState
{
    actor next;
    long visits = 0;
};

behavior ringNode(stateful_actor<RingNodeState> *self, std::promise<void> *done)
{
    return {
        [=](actor next) { self->state.next = std::move(next); },
        [=](long remaining) {
            ++self->state.visits;
            if (remaining == 0)
                done->set_value();
            else
                self->send(self->state.next, remaining - 1);
        },
        [=](get_atom) { return self->state.visits; },
    };
}
} // namespace

Seconds ring(int nodes, long hops)
{
    actor_system_config config;
    actor_system system{config};
    std::promise<void> done;
    auto finished = done.get_future();
    std::vector<actor> ring;
    for (int i = 0; i < nodes; ++i)
        ring.push_back(system.spawn(ringNode, &done));
    for (int i = 0; i < nodes; ++i)
        anon_send(ring[i], ring[(i + 1) % nodes]);
    long total = 0;
    {
        scoped_actor self{system};
        for (auto &node : ring) // every node knows its successor before the token starts
            self->request(node, infinite, get_atom_v).receive([](long) {}, [](error &) {});
        const auto start = Clock::now();
        anon_send(ring[0], hops);
        finished.wait();
        const Seconds seconds = secondsSince(start);
        for (auto &node : ring)
            self->request(node, infinite, get_atom_v)
                .receive([&](long v) { total += v; }, [](error &) {});
        expectCount(total, hops + 1, "CAF ring visits");
        for (auto &node : ring) // break the cycle of handles
            anon_send_exit(node, exit_reason::user_shutdown);
        return seconds;
    }
}

AllocResult allocationsPerCast(long casts)
{
    actor_system_config config;
    actor_system system{config};
    auto counter = system.spawn(counterActor);
    AllocResult result;
    runInThread([&] {
        scoped_actor self{system};
        auto confirm = [&] {
            long value = -1;
            self->request(counter, infinite, get_atom_v)
                .receive([&](long v) { value = v; }, [&](error &) { value = -1; });
            return value;
        };
        confirm();
        // The confirming request's own allocations are measured alone and subtracted.
        const auto c0 = alloc::snapshot();
        confirm();
        const auto c1 = alloc::snapshot();
        for (long i = 0; i < casts; ++i)
            anon_send(counter, 1L);
        expectCount(confirm(), casts, "CAF anon_send");
        const auto c2 = alloc::snapshot();
        const auto callAllocations = c1.allocations - c0.allocations;
        result.perOperation = double(c2.allocations - c1.allocations - callAllocations) / double(casts);
    });
    return result;
}

AllocResult allocationsPerCall(long calls)
{
    actor_system_config config;
    actor_system system{config};
    auto counter = system.spawn(counterActor);
    alloc::Snapshot before, after;
    runInThread([&] {
        scoped_actor self{system};
        self->request(counter, infinite, add_atom_v).receive([](long) {}, [](error &) {});
        before = alloc::snapshot();
        for (long i = 0; i < calls; ++i)
            self->request(counter, infinite, add_atom_v).receive([](long) {}, [](error &) {});
        after = alloc::snapshot();
    });
    return {double(after.allocations - before.allocations) / double(calls)};
}

AllocResult allocationsPerRequestThen(long pairs)
{
    alloc::Snapshot before, after;
    runRequestThen(pairs, &before, &after);
    return {double(after.allocations - before.allocations) / double(pairs)};
}

Seconds windowedProducer(long casts, int window)
{
    // CAF 0.17 has no bounded mailbox; its users keep a window of requests in flight instead:
    // the producer sends at most `window` before it waits for an answer.
    actor_system_config config;
    actor_system system{config};
    auto counter = system.spawn(counterActor);
    readCount(system, counter);
    Seconds seconds = 0;
    long last = 0;
    runInThread([&] {
        scoped_actor self{system};
        const auto start = Clock::now();
        long sent = 0, answered = 0;
        for (; sent < std::min<long>(casts, window); ++sent)
            self->send(counter, add_atom_v);
        while (answered < casts) {
            self->receive([&](long v) { last = std::max(last, v); });
            ++answered;
            if (sent < casts) {
                self->send(counter, add_atom_v);
                ++sent;
            }
        }
        seconds = secondsSince(start);
    });
    expectCount(last, casts, "CAF windowed requests");
    return seconds;
}

// --- Programs: run in a child process each ----------------------------------------------------

namespace {
// Each node spawns two children, requests a count from both and answers with their sum, through a
// response promise, as CAF's manual shows.
behavior treeNode(event_based_actor *self)
{
    return {
        [=](int depth, int limit) {
            auto rp = self->make_response_promise();
            if (depth == limit) {
                rp.deliver(1L);
                return rp;
            }
            auto sum = std::make_shared<std::pair<int, long>>(0, 1L);
            for (int i = 0; i < 2; ++i) {
                auto child = self->spawn(treeNode);
                self->request(child, infinite, depth + 1, limit).then([=](long v) mutable {
                    sum->second += v;
                    if (++sum->first == 2)
                        rp.deliver(sum->second);
                });
            }
            return rp;
        },
    };
}

behavior floodSender(event_based_actor *self, actor receiver, long perSender)
{
    return {
        [=](get_atom) {
            for (long i = 0; i < perSender; ++i)
                self->send(receiver, 1L);
            return true;
        },
    };
}
} // namespace

Seconds spawnTree(int depthLimit)
{
    actor_system_config config;
    actor_system system{config};
    scoped_actor self{system};
    const auto start = Clock::now();
    long counted = 0;
    {
        auto root = system.spawn(treeNode);
        self->request(root, infinite, 0, depthLimit)
            .receive([&](long v) { counted = v; },
                     [&](error &e) { throw std::runtime_error("CAF spawn tree: " + to_string(e)); });
    }
    const Seconds seconds = secondsSince(start);
    expectCount(counted, (2L << depthLimit) - 1, "CAF spawn tree: actors counted");
    return seconds;
}

Seconds mailboxFlood(int senders, long perSender)
{
    actor_system_config config;
    actor_system system{config};
    scoped_actor self{system};
    auto receiver = system.spawn(counterActor);
    std::vector<actor> from;
    for (int i = 0; i < senders; ++i)
        from.push_back(system.spawn(floodSender, receiver, perSender));
    const auto start = Clock::now();
    for (const actor &sender : from)
        self->send(sender, get_atom_v);
    int done = 0;
    self->receive_for(done, senders)([](bool) {});
    const long count = readCount(system, receiver);
    const Seconds seconds = secondsSince(start);
    expectCount(count, long(senders) * perSender, "CAF mailbox flood: casts counted");
    return seconds;
}

namespace {
// The mixed program, as CAF's users write it: event-based ring links that forward the token and
// quit after its last lap, masters that spawn each new ring, detached workers and one stateful
// supervisor. Messages are told apart by their types: (lapsLeft, hops) for the token,
// (std::vector<int64_t>) for factors, (ok_atom, hops) for a master that is done.
using start_atom = atom_constant<atom("start")>;
constexpr start_atom start_atom_v{};

struct MixedSupervisorState
{
    long checked = 0;
    long wrong = 0;
    long hops = 0;
    int mastersDone = 0;
};

behavior mixedSupervisor(stateful_actor<MixedSupervisorState> *self, MixedSpec spec, std::promise<void> *done)
{
    auto finishIfComplete = [=] {
        auto &s = self->state;
        if (s.mastersDone == spec.rings && s.checked + s.wrong == long(spec.rings) * spec.repetitions)
            done->set_value();
    };
    return {
        [=](const std::vector<std::int64_t> &factors) {
            ++(factors == std::vector<std::int64_t>{kMixedFactorA, kMixedFactorB} ? self->state.checked : self->state.wrong);
            finishIfComplete();
        },
        [=](ok_atom, long hops) {
            self->state.hops += hops;
            ++self->state.mastersDone;
            finishIfComplete();
        },
        [=](get_atom) { return std::make_tuple(self->state.checked, self->state.wrong, self->state.hops); },
    };
}

behavior mixedWorker(event_based_actor *self, actor supervisor)
{
    return {
        [=](std::int64_t n) { self->send(supervisor, primeFactors(n)); },
    };
}

behavior mixedLink(event_based_actor *self, actor next)
{
    return {
        [=](int lapsLeft, long hops) {
            self->send(next, lapsLeft, hops + 1);
            if (lapsLeft == 1)
                self->quit();
        },
    };
}

struct MixedMasterState
{
    actor ring; // the first link of the current ring
    int repetition = 0;
    long hops = 0;
};

behavior mixedMaster(stateful_actor<MixedMasterState> *self, MixedSpec spec, actor worker, actor supervisor)
{
    auto startRepetition = [=] {
        actor next = actor_cast<actor>(self); // the ring's last link answers to this master
        for (int i = 1; i < spec.ringSize; ++i)
            next = self->spawn(mixedLink, next);
        self->state.ring = next;
        self->send(worker, kMixedSemiprime);
        self->send(self->state.ring, spec.laps, 1L);
    };
    return {
        [=](start_atom) { startRepetition(); },
        [=](int lapsLeft, long hops) {
            if (--lapsLeft > 0) {
                self->send(self->state.ring, lapsLeft, hops + 1);
                return;
            }
            self->state.hops += hops;
            if (++self->state.repetition < spec.repetitions) {
                startRepetition();
                return;
            }
            self->state.ring = nullptr;
            self->send(supervisor, ok_atom_v, self->state.hops);
            self->send_exit(worker, exit_reason::user_shutdown);
            self->quit();
        },
    };
}
} // namespace

Seconds mixed(const MixedSpec &spec)
{
    actor_system_config config;
    actor_system system{config};
    std::promise<void> done;
    auto finished = done.get_future();
    const auto start = Clock::now();
    auto supervisor = system.spawn(mixedSupervisor, spec, &done);
    for (int r = 0; r < spec.rings; ++r) {
        auto worker = system.spawn<detached>(mixedWorker, supervisor);
        anon_send(system.spawn(mixedMaster, spec, worker, supervisor), start_atom_v);
    }
    finished.wait();
    long checked = 0, wrong = 0, hops = 0;
    scoped_actor self{system};
    self->request(supervisor, infinite, get_atom_v)
        .receive([&](long c, long w, long h) { checked = c; wrong = w; hops = h; },
                 [&](error &e) { throw std::runtime_error("CAF mixed: " + to_string(e)); });
    const Seconds seconds = secondsSince(start);
    expectMixedCounts(spec, checked, wrong, hops, "CAF mixed");
    anon_send_exit(supervisor, exit_reason::user_shutdown);
    return seconds;
}

} // namespace bench::caf
