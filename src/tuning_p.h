// Tuning: every number that trades latency, throughput, fairness or CPU use, named once, with what
// it trades and how it was chosen. docs/guide.md and docs/performance.md quote these names.
// The figures come from the 2-core VM that docs/performance.md describes: a futex wake-up of a
// thread with no idle core costs 40–60 µs there, a cache-line round trip between cores ~0.1 µs.
#pragma once

#include <chrono>

namespace QtActors::detail::tuning {

using namespace std::chrono_literals;

// --- Turns -------------------------------------------------------------------------------------

//! Messages per turn on shared executors (pools, thread(t)) when Options::throughput is 0. Larger
//! batches amortise the wake-up; smaller ones let the other actors of the thread in sooner (S5).
inline constexpr int SharedThroughput = 64;
//! The same on a dedicated thread, where nobody else waits for the thread: only the event loop's
//! own events (timers, sockets of QObjects in State) wait behind a turn.
inline constexpr int DedicatedThroughput = 1024;

//! How long a turn that ran out of messages keeps its actor, spinning, when the thread is its own
//! or nobody else waits for the pool. A message arriving meanwhile costs no wake-up at all;
//! chosen as about half the cost of the wake-up it saves, so a miss costs less than a hit saves.
inline constexpr auto TurnLinger = 20us;
//! While lingering after a cast, how often the turn looks at the senders' cache line. Looking
//! pulls that line away from a sender; every 10 µs lets a stream of casts pile up in the sender's
//! cache and arrive as one batch. After a call the turn looks all the time: its caller waits.
inline constexpr auto LingerLookAfterCast = 10us;

//! A turn waiting for a message whose sender is between its two steps (CAS, push) spins this many
//! times before it yields the thread to that sender.
inline constexpr int PopSpinsBeforeYield = 16;

// --- The pool ----------------------------------------------------------------------------------

//! How long a pump that found the pool's queue empty spins for more before it returns its thread
//! to QThreadPool (at most one pump per pool spins). Spinning costs a core; giving the thread back
//! costs a QThreadPool::start and a futex wake-up (~50 µs here) when work comes again.
inline constexpr auto PumpSpin = 50us;
//! On a pool the application owns, a busy pump gives its thread back to QThreadPool about this
//! often, so that the application's own QRunnables on that pool still run.
inline constexpr auto PumpSlice = 2ms;
//! ... checking the clock once per this many turns (reading the clock costs ~20 ns).
inline constexpr int PumpSliceCheckEvery = 16;
//! An actor that a running turn readies (a message to an idle actor, an answer waking a
//! coroutine handler) goes on its pump's own stack and runs next, newest first: a tree of actors
//! spawning and calling children then unfolds depth first, with few of them alive at once, and the
//! woken actor's data is still in this core's cache. Other pumps take from the stack's oldest end
//! when the shared queue is empty. Two guards keep that from starving anyone (S5): once per this
//! many turns a pump takes from the shared queue (senders outside the pool, yielding turns) before
//! its stack ...
inline constexpr int PumpSharedQueueEvery = 61;
//! ... and an actor at the bottom of a pump's stack waits at most about this many of that pump's
//! turns before it runs (a pair of actors waking each other would hold the top forever).
//! Larger keeps trees narrower (8,192: about 8,000 actors alive at the peak of a 2^21-actor tree
//! on one thread, against 30,000 at 1,024); smaller bounds the wait of the bottom one sooner.
inline constexpr int PumpStackPatience = 8192;
//! The newest actor a running turn readies waits in its pump's "next" slot, where no other pump
//! looks and for which no pump is woken: in a chain of actors each waking the next (a ring, a
//! call answered to a coroutine), one thread runs them one after another with no hand-over. A
//! turn that runs on for this long after (or before) filling the slot gives the actor up: the
//! clock's thread, looking about this often while a slot is full, moves it to the shared queue
//! and wakes a pump. Shorter hands a chain to a second thread sooner behind a long handler; each
//! look costs the clock's thread a wake-up (~1,000 a second while a slot is full). A turn seen
//! by two looks in a row gives it up, so the actor waits at most about twice this long.
inline constexpr auto PumpNextPatience = 1ms;
//! How many nice levels below the main thread the library's own pool runs on Linux (about a third
//! of a normal thread's share of a busy core), so that the GUI thread comes first.
inline constexpr int LibraryPoolNiceOffset = 5;

// --- Time ------------------------------------------------------------------------------------

//! The system clock's cheap upper bound on the time (Clock::latestNow()) is the kernel's coarse
//! clock plus this many of its ticks. The coarse clock is the time of the last tick, so it lags by
//! a tick; Linux lets it lag up to 5 ticks when the CPU that keeps the time stalls (a VM whose
//! vCPU the host descheduled) before another CPU takes over. A deadline further away than this is
//! certainly not due, without reading the precise clock (~20 ns here, against ~4 ns). (Kernels
//! older than that takeover may lag longer under such a stall: a deadline is then seen late by
//! the checks, though the clock's thread, on the precise clock, still ends the call on time.)
inline constexpr int CoarseClockSlackTicks = 8;
//! Above this tick length the coarse clock is not used at all (the slack would cover most
//! short timeouts, and each of them would read both clocks).
inline constexpr auto CoarseClockMaxTick = 10ms;

// --- Blocking waits ----------------------------------------------------------------------------

//! How long Call::wait() spins before it sleeps in the kernel. An answer from a thread that is
//! awake comes in a few µs; sleeping and being woken costs tens of µs on a VM.
inline constexpr auto WaitSpin = 50us;

//! A thread about to block for a pool actor's answer first looks this far into the pool's
//! shared queue for that actor (and at both ends of each pump's stack): found there, its turn
//! runs on the waiting thread, with no wake-up of a pool thread to wait for. Only an idle or
//! lightly loaded pool has it that near; the bound keeps the look short under the pool's lock.
inline constexpr int WaiterQueueLook = 16;

// --- Timeouts ----------------------------------------------------------------------------------

//! A call's timeout is armed lazily, into a list of the arming thread's own: the next arm on that
//! thread frees the entries of the calls answered since (it looks at most this many) ...
inline constexpr int LazyListLook = 32;
//! ... and the system clock's thread sweeps every list at least this often while entries wait in
//! them, so that an answered call's entry (and the call state it holds) does not wait until its
//! deadline when its thread arms no more.
inline constexpr auto LazySweepPeriod = 50ms;
//! A thread arming lazily while the clock's thread sweeps its list spins this many times before
//! it yields (a sweep looks at each entry of the list once: a long list takes a while).
inline constexpr int ListLockSpinsBeforeYield = 64;
//! What continues after a call that timed out, with no actor or event loop of its own (a QFuture
//! continuation, a coroutine on a plain thread), runs on one of at most this many threads, not on
//! the clock's: it may block (and wait there for another timeout) without stopping any timer.
inline constexpr int ContinuationThreads = 4;

// --- The end of a thread's loop -----------------------------------------------------------------

//! When a thread executor's loop ends, how long LoopScheduler::end() waits for a sender caught
//! between counting its message and scheduling the turn, so that State is still destroyed on that
//! thread. Such a sender needs nanoseconds unless it is preempted; past this, the reaper finishes.
inline constexpr auto ThreadEndPatience = 100ms;

// --- Application exit --------------------------------------------------------------------------

//! At most this many rounds of delivering the main thread's wake-ups when a QCoreApplication is
//! destroyed (handlers may wake other main-thread actors; a cycle of them must not hang exit).
inline constexpr int ExitDrainRounds = 100;

} // namespace QtActors::detail::tuning

namespace QtActors::detail {

//! One pause in a spin-wait loop: tells the CPU this is a spin (frees resources for the other
//! hyper-thread, saves power). A no-op where there is no such instruction.
inline void cpuRelax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

} // namespace QtActors::detail
