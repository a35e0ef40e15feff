// The workloads of issue 4, one function per workload and side. Every function sets up its own
// actors/threads, measures only the workload itself and tears everything down before returning.
// They throw std::exception (for example when a count does not add up); the harness then prints
// n/a with the reason. All of them are called from the main thread, outside any event loop.
#pragma once

#include <cstdint>
#include <vector>

namespace bench {

//! Wall-clock seconds of the measured part of a workload.
using Seconds = double;

enum class Exec { Pool, Dedicated };

//! Spawn workload: time and memory per actor (measured in a fresh child process).
struct SpawnResult
{
    long actors = 0;
    Seconds seconds = 0;          // spawn + one message + one call each + drop all (destroyed)
    double rssBytesPerActor = 0;  // RSS growth per actor while all are idle
    double heapBytesPerActor = 0; // live operator-new bytes per idle actor
};

//! The process's memory at one moment, after returning freed heap to the system.
struct Footprint
{
    std::int64_t rss = 0;
    std::int64_t heap = 0; // live operator-new bytes
};
Footprint footprint();
//! Fills the per-actor figures of `result` from footprints taken before spawning and while idle.
void setPerActor(SpawnResult &result, const Footprint &before, const Footprint &idle, long count);

//! How late timers fire: the delay between the due time and the handler running, in ms.
struct Lateness
{
    double p50Ms = 0;
    double p99Ms = 0;
};

//! Many timers pending at once: what each costs.
struct PendingTimers
{
    double heapBytesEach = 0;  // live operator-new bytes per pending timer
    double armCancelMicros = 0; // arming one and cancelling it, per timer
};

//! Allocation counts of one operation kind, over many operations, all threads included.
struct AllocResult
{
    double perOperation = 0;
};

//! The mixed program: `rings` rings of `ringSize` actors each (a master and its links). A master
//! sends a token round its ring `laps` times, then starts a new ring, `repetitions` times in all.
//! At the start of each repetition the master also hands its own worker, on a thread of its own, a
//! factorization of kMixedSemiprime; the worker sends the factors to the one supervisor of the
//! program, which checks and counts them.
struct MixedSpec
{
    int rings = 5;
    int ringSize = 100;
    int laps = 1000;
    int repetitions = 4;
};
constexpr std::int64_t kMixedFactorA = 1'000'003; // prime
constexpr std::int64_t kMixedFactorB = 3'000'017; // prime
constexpr std::int64_t kMixedSemiprime = kMixedFactorA * kMixedFactorB;
//! The prime factors of n in ascending order, by trial division (the workers' CPU-bound job).
std::vector<std::int64_t> primeFactors(std::int64_t n);
//! Throws unless a mixed run saw every factorization right and every hop made.
void expectMixedCounts(const MixedSpec &spec, long factorizations, long wrong, long hops, const char *what);

namespace qt {
Seconds castThroughput(long casts);             // invokeMethod(Queued) to a QObject on a QThread
Seconds fanIn(int producers, long casts);       // the same from several producer threads
Seconds blockingQueuedCalls(long calls);        // invokeMethod(BlockingQueued) with a result
Seconds concurrentRunResults(long calls);       // QtConcurrent::run(f).result()
SpawnResult spawn(long threads);                // one QThread + QObject per "actor"
Seconds ring(int nodes, long hops);             // QThreadPool::start hops
void guiLoad(int producers, long perProducer);  // 2 worker QThreads with 16 objects
Lateness singleShotLateness(int samples, int delayMs); // QTimer::singleShot on a worker QThread
PendingTimers pendingTimers(long count);        // started QTimers on a worker QThread
Seconds semaphoreBoundedProducer(long casts, int window); // QSemaphore(window) + queued invokeMethod
AllocResult allocationsPerCast(long casts);
AllocResult allocationsPerCall(long calls);
} // namespace qt

namespace caf {
bool available();
Seconds castThroughput(long casts);             // anon_send to a stateful actor
Seconds fanIn(int producers, long casts);
Seconds blockingCalls(long calls);              // scoped_actor request + receive
Seconds requestThen(long pairs);                // request(...).then(...) between two actors
SpawnResult spawn(long actors);
Seconds ring(int nodes, long hops);             // send() around a ring of actors
AllocResult allocationsPerCast(long casts);
AllocResult allocationsPerCall(long calls);
AllocResult allocationsPerRequestThen(long pairs);
Seconds windowedProducer(long casts, int window); // at most `window` requests in flight
Seconds spawnTree(int depthLimit);              // each node requests two children (response promise)
Seconds mailboxFlood(int senders, long perSender);
Seconds mixed(const MixedSpec &spec);           // rings of event-based actors, detached workers
} // namespace caf

namespace qta {
bool available();
Seconds castThroughput(Exec exec, long casts);  // cast, then one call confirms the count
Seconds fanIn(int producers, long casts);
Seconds blockingCalls(Exec exec, long calls);   // call(...).wait() from a plain thread
Seconds coAwaitCalls(long pairs);               // co_await b.call(...) inside a's coroutine handler
SpawnResult spawn(long actors);
Seconds ring(int nodes, long hops);
void guiLoad(int producers, long perProducer);  // 16 pool actors
Seconds blockingCallsWithTimeout(long calls);   // call(...).timeout(10s).wait(), pool
Seconds coAwaitCallsWithTimeout(long pairs);    // co_await b.call(...).timeout(10s)
Lateness castAfterLateness(int samples, int delayMs); // castAfter on a dedicated-thread actor
PendingTimers pendingTimers(long count);        // castAfter(1 h) Timers, then cancelled
Seconds burstCasts(long casts, int burst, long capacity); // bursts of casts, a call after each
Seconds whenRoomProducer(long casts, long capacity); // castWhenRoom(...).wait() from one thread
struct LatestFlood
{
    Seconds seconds = 0;
    long handled = 0;
};
LatestFlood latestFlood(long updates, bool coalesce); // castLatest(0, …) or plain casts
AllocResult allocationsPerCast(Exec exec, long casts);
AllocResult allocationsPerCall(Exec exec, long calls);
AllocResult allocationsPerCoAwaitCall(long pairs);
Seconds spawnTree(int depthLimit);              // 2^(depth+1) - 1 actors, each calls two children
Seconds mailboxFlood(int senders, long perSender); // senders' casts all at once to one counter
Seconds mixed(const MixedSpec &spec);           // pool rings, dedicatedThread() workers
} // namespace qta

} // namespace bench
