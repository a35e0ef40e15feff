// ActorCore: the actor itself, behind every Actor<State> handle. It owns the mailbox, the State
// storage and the binding to an executor, and runs turns: batches of messages, one at a time.
//
// Scheduling protocol. m_state packs a CLOSED bit and a count of work: messages sent but not yet
// finished, plus resumptions (below) queued but not yet run. A sender that moves the count from 0
// to 1 owns the turn token: it takes a reference on the core and schedules one turn. The turn
// keeps the token while it works through up to `throughput` items, and at the end either hands it
// to a new turn (more work, or budget spent: S5) or drops it when the count returns to 0. So at
// most one turn is ever pending or running (S1), and a message costs one allocation, one CAS and
// one exchange; no lock, no event.
//
// Resumptions. A coroutine that awaits a Call inside a coroutine handler continues on the actor's
// turn: whoever answers calls wake(node), which pushes the node onto m_resumes, a lock-free stack
// of ResumeNodes that live in the suspended frames themselves, and counts it like a message
// unless it found the turn parked (below). Any number may be pending at once (two awaits started
// together, S22's interleaved handlers). A turn runs every queued resumption before its next
// message.
//
// Parking. A coroutine handler holds the actor while it is suspended (S2): its message stays
// counted and no other message runs. With nothing to resume, the turn parks: it swaps the empty
// m_resumes for the Parked mark and returns, leaving the token with the mark. The next wake()
// finds the mark, takes the token over (its node needs no count: the suspended handler's message
// keeps the count above zero) and schedules the turn that continues. The same CAS that
// parks fails when a resumption arrived meanwhile, so no wake-up is ever lost.
//
// Closing (stop() or the last handle gone) sets CLOSED and pushes m_stopNode as one more counted
// message, so everything sent before still runs (S6, S7); later sends are refused (S9). When the
// count reaches 0 with CLOSED set, the turn destroys State on the context and detaches.
//
// When the context ends for good (the thread of a thread executor finishes), the scheduler calls
// contextEnded(): the actor closes, and its turns from then on refuse what needs State (calls get
// ActorStopped, casts are logged) and destroy State where they run.
//
// Thread contract: send(), requestStop(), wake(), contextEnded(), the handle counts and
// isClosed() are thread-safe. runTurn() runs only where the scheduler runs turns.
#pragma once

#include <QtActors/detail/callstate.h>
#include <QtActors/detail/flowcontrol.h>
#include <QtActors/detail/mailbox.h>
#include <QtActors/detail/resumption.h>
#include <QtActors/detail/scheduler.h>
#include <QtActors/options.h>

#include <QtCore/QMutex>
#include <QtCore/QString>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace QtActors::detail {

class QTACTORS_EXPORT ActorCore : public RefCounted
{
public:
    //! The core of the actor whose turn runs on this thread right now, or nullptr.
    static ActorCore *current() noexcept;
    //! The actor whose coroutine handler runs on this thread right now (started by its turn, or
    //! resumed by it), or nullptr: where a Call awaited here resumes (ResumeTarget).
    static ActorCore *currentCoroutineHandler() noexcept;

    // Handles (Actor copies) share one reference on the core while any exist.
    void addHandle() noexcept { m_handles.fetch_add(1, std::memory_order_relaxed); }
    void releaseHandle() noexcept;
    //! For WeakActor::lock(): adds a handle unless none is left.
    bool tryAddHandle() noexcept;

    //! Queues a message, or refuses it (drop() and a log line) when the actor is closed.
    //! Takes ownership. Any thread; never blocks.
    void send(MessageBase *message) noexcept;
    //! castLatest() (S25): queues `message` (a LatestMessageBase), superseding a waiting one
    //! with an equal key. Any thread; never blocks.
    void sendLatest(LatestMessageBase *message) noexcept;
    //! castWhenRoom() (S24): queues `message` as soon as the bound allows (at once when
    //! unbounded), then completes `accepted`; ActorStopped if the actor closes first.
    void sendWhenRoom(MessageBase *message, Ref<CallState<void>> accepted) noexcept;
    //! Messages waiting that will run, when bounded; -1 when unbounded. Any thread (a snapshot).
    qsizetype boundedWaiting() const noexcept;
    //! Messages refused or dropped by the bound (S23; S28 will show it). Any thread.
    quint64 droppedByBound() const noexcept;
    //! Closes the actor; `waiter` (may be null) completes once State is destroyed. Any thread.
    void requestStop(Ref<CallState<void>> waiter = {});
    bool isClosed() const noexcept { return m_state.load(std::memory_order_acquire) & Closed; }
    bool isCurrent() const noexcept { return current() == this; }

    //! The scheduler calls this where the actor's turns run. Consumes the turn's reference.
    //! With `waiter`, the turn runs on a thread that blocks for that call (see
    //! Scheduler::runForWaiter): it does not linger, and once the answer is ready it hands what
    //! is left to the scheduler, so the waiting thread returns at once.
    void runTurn(const CallStateBase *waiter = nullptr) noexcept;
    //! Queues a resumption to run on the actor's turn (see the top of this file). Any thread.
    //! Once the actor has ended, the coroutine continues on the calling thread instead (logged).
    void wake(ResumeNode *node) noexcept;
    //! The context will never run this actor again: the actor closes, and its turns refuse what
    //! needs State and destroy State wherever they run. Any thread; idempotent.
    void contextEnded() noexcept;
    //! For schedulers whose context is gone: the turn about to run must not run handlers.
    void loseContext() noexcept { m_contextLost.store(true, std::memory_order_relaxed); }
    //! A turn discarded by Qt without being delivered (its thread's event queue was destroyed):
    //! runs it here without its context. Consumes the turn's reference. Any thread.
    void runWithoutContext() noexcept;

    //! How a coroutine handler shares the actor: exclusive (S2, the default: it holds the
    //! actor until its task ends) or interleaved (S22: the actor handles other messages while it
    //! is suspended).
    enum class HandlerMode : unsigned char { Exclusive, Interleaved };
    //! A new identity for a coroutine handler about to start. Turn only.
    std::uint64_t newHandlerId() noexcept { return ++m_lastHandlerId; }
    //! Called by the driver of a coroutine handler once its frame exists. An exclusive handler
    //! holds the actor until coroutineHandlerEnded(). Turn only.
    void coroutineHandlerStarted(HandlerMode mode, std::uint64_t id) noexcept
    {
        if (mode == HandlerMode::Exclusive) {
            m_busy = true;
            m_exclusiveId = id;
        } else {
            ++m_liveInterleaved;
        }
    }
    //! The driver of a coroutine handler has ended. On the actor's turn it ends the handler at
    //! once; elsewhere it queues `node` (kind HandlerEnd or InterleavedEnd), for the turn to
    //! destroy the driver.
    void coroutineHandlerEnded(ResumeNode &node, HandlerMode mode) noexcept;

    //! While alive, Calls awaited on this thread resume on `core`'s turn, on behalf of its
    //! coroutine handler `id` (whose driver is starting or resumed). Thread-local; nests.
    class CoroutineHandlerScope
    {
    public:
        CoroutineHandlerScope(ActorCore *core, std::uint64_t id) noexcept;
        ~CoroutineHandlerScope();
        CoroutineHandlerScope(const CoroutineHandlerScope &) = delete;
        CoroutineHandlerScope &operator=(const CoroutineHandlerScope &) = delete;

    private:
        ActorCore *m_previous;
        std::uint64_t m_previousId;
    };
    //! The identity of the coroutine handler running on this thread now (with
    //! currentCoroutineHandler()), or 0.
    static std::uint64_t currentCoroutineHandlerId() noexcept;
    //! True when the coroutine handler running on this thread now is `this` actor's exclusive
    //! one, holding it. Turn only.
    bool isHeldByCurrentHandler() const noexcept;
    //! True when handler `id` of this actor is the exclusive one holding it. Turn only.
    bool isHeldBy(std::uint64_t id) const noexcept { return m_busy && m_exclusiveId == id; }

    //! S21: records that this actor now waits for `target`, unless that closes a cycle of actors
    //! each waiting on the next: then nothing is recorded, `cycle` names the actors in order
    //! ("A → B → A") and the result is false. Any thread; the edge stays linked until endWait().
    bool beginWait(WaitEdge &edge, ActorCore *target, QString *cycle) noexcept;
    void endWait(WaitEdge &edge) noexcept;
    //! S21 for the calling thread, which will block until the running handler of `target`
    //! returns: while linked, a handler of `target` about to block waiting for an actor on this
    //! thread gets Deadlock instead (threadWaitsForMe()). False, and nothing linked, when that
    //! handler already waits for such an actor: blocking would never end. Any thread.
    static bool beginThreadWait(ThreadWait &wait, ActorCore *target) noexcept;
    static void endThreadWait(ThreadWait &wait) noexcept;
    //! In a handler of this actor, about to block for `target`: true when the thread that runs
    //! `target`'s handlers is blocked until this handler returns (beginThreadWait()). Call after
    //! beginWait(edge, target, …) has linked its edge.
    bool threadWaitsForMe(const ActorCore *target) const noexcept;

    QString displayName() const;
    CallStateBase::Owner owner() const;
    Scheduler *scheduler() const noexcept { return m_scheduler.get(); }
    Clock &clock() const noexcept { return *m_clock; }
    //! S8: an exception escaped a cast handler.
    void logCastError(std::exception_ptr error) const noexcept;
    //! A Reply handler threw after it had answered: nobody can receive the error, so it is logged.
    void logErrorAfterAnswer(std::exception_ptr error) const noexcept;
    //! State failed to construct on the context (emplace): the actor stops.
    void constructionFailed(std::exception_ptr error) noexcept;
    bool hasState() const noexcept { return m_stateAddress != nullptr; }
    //! True while the turn is parked: a suspended coroutine handler holds the actor, and nothing
    //! runs until it is resumed. Any thread (a snapshot).
    bool isParked() const noexcept
    {
        return m_resumes.load(std::memory_order_acquire) == parkedMark();
    }
    //! True while an exclusive coroutine handler holds the actor. Actor's context only.
    bool isHeldByCoroutineHandler() const noexcept { return m_busy; }

protected:
    explicit ActorCore(const Options &options);
    ~ActorCore() override;
    //! Destroys State. Called once, on the actor's context (or at exit, wherever the core dies).
    virtual void destroyState() noexcept = 0;
    void setStateAddress(void *state) noexcept { m_stateAddress = state; }

private:
    // m_state: bit 0 CLOSED; bits 1-40 the count of work (messages, resumptions); bits 41-63
    // the interleaved handlers still alive (S22), which keep State alive but are no work.
    static constexpr std::uint64_t Closed = 1;
    static constexpr std::uint64_t One = 2; // one counted message or resumption
    static constexpr int LiveShift = 41;
    static constexpr std::uint64_t Live = std::uint64_t(1) << LiveShift; // one live handler
    static constexpr std::uint64_t CountMask = (Live - 1) & ~Closed;
    static std::uint64_t countOf(std::uint64_t state) noexcept { return (state & CountMask) >> 1; }
    static std::uint64_t liveOf(std::uint64_t state) noexcept { return state >> LiveShift; }
    //! Closed, no work, no live handler: finalized (or about to be).
    static bool hasEnded(std::uint64_t state) noexcept
    {
        return (state & Closed) && countOf(state) == 0 && liveOf(state) == 0;
    }
    //! Subtracts the work the turn finished and publishes the live interleaved handlers; returns
    //! the state before. Turn only.
    std::uint64_t publishWork(std::uint64_t finished) noexcept;

    class StopMessage final : public MessageBase
    {
        void run(ActorCore &, void *) override { }
        void drop(const ActorCore *) noexcept override { }
        bool needsState() const noexcept override { return false; }
        bool isBounded() const noexcept override { return false; }
    };
    friend class PoolScheduler;
    friend class Registry;

    //! The mark m_resumes holds while the turn is parked (never dereferenced).
    static ResumeNode *parkedMark() noexcept { return reinterpret_cast<ResumeNode *>(std::uintptr_t(1)); }

    void scheduleTurn() noexcept;
    void refuse(MessageBase *message) noexcept;
    //! The counted push (the protocol at the top of this file); false (refused) when closed.
    bool sendCounted(MessageBase *message) noexcept;
    enum class Pushed { Refused, Queued, First };
    //! sendCounted()'s push alone: Refused (message untouched) when closed; First when it found
    //! the mailbox empty, and then the caller owes the turn (takeTurnToken()).
    Pushed pushCounted(MessageBase *message) noexcept;
    void takeTurnToken() noexcept;
    void sendBounded(Extras *extras, MessageBase *message) noexcept;
    void refuseFull(Extras *extras, MessageBase *message) noexcept;
    Extras *extras() const noexcept { return m_extras.load(std::memory_order_acquire); }
    Extras *ensureExtras() noexcept;
    //! The turn is about to run a bounded message: false when flow control drops it instead.
    bool startBounded(Extras *extras, MessageBase *message) noexcept;
    MessageBase *popCounted() noexcept;
    std::uint64_t runResumptions(int &budget) noexcept;
    std::uint64_t runResumptionList(ResumeNode *fifo, int &budget) noexcept;
    void finalize() noexcept;
    void completeStopWaiters() noexcept;
    void lockWaits() const noexcept;
    void unlockWaits() const noexcept { m_waitsLocked.store(false, std::memory_order_release); }
    bool lingerForMore(std::uint64_t finished, bool afterCast) noexcept;

    // Layout: the fields senders write come first, the fields only the turn writes come last,
    // and the read-mostly fields in between keep the two groups on different cache lines (at
    // least 64 bytes apart whatever the allocation's alignment), with no padding.

    // Written by senders: the count, the handle count, the mailbox's producer end. And read by
    // every send: the extras pointer, set once. It must not share a line with the turn side's
    // fields, which change at every message (m_outbox): there, each send would read a line the
    // turn had just written, and cast throughput would depend on where the core was allocated.
    std::atomic<std::uint64_t> m_state{0};
    std::atomic<int> m_handles{1};
    MailboxHead m_inbox;
    std::atomic<Extras *> m_extras{nullptr}; // bounded or coalescing actors only (flowcontrol.h)
    // Read-mostly.
    std::shared_ptr<Scheduler> m_scheduler;
    Clock *m_clock; // the scheduler's (S19), for the calls' deadlines
    QString m_name;
    std::chrono::nanoseconds m_linger{0}; // spin for more work before idling
    int m_throughput;
    bool m_finalized = false; // guarded by m_stopMutex
    bool m_detached = false;  // the scheduler let go of this core (finalize or destructor)
    unsigned char m_registryShard = 0; // the Registry's, like the two links below
    ActorCore *m_registryPrev = nullptr;
    ActorCore *m_registryNext = nullptr;
    QBasicMutex m_stopMutex; // 8 bytes; rarely contended (its inline fast path is what TSan sees)
    std::unique_ptr<std::vector<Ref<CallState<void>>>> m_stopWaiters; // rare: made on demand
    // Turn side: touched by the turn, and by wake() once per resumption.
    MailboxTail m_outbox;
    std::atomic<ResumeNode *> m_resumes{nullptr}; // pending resumptions, or parkedMark()
    std::atomic<bool> m_contextLost{false};       // set once, when the context has ended
    bool m_busy = false;                          // turn only: an exclusive handler holds the actor
    int m_liveInterleaved = 0;                    // turn only: interleaved handlers not ended
    int m_livePublished = 0;                      // turn only: ... as m_state last said
    std::uint64_t m_lastHandlerId = 0;            // turn only
    std::uint64_t m_exclusiveId = 0;              // turn only: the one holding the actor, if any
    std::atomic<WaitEdge *> m_waits{nullptr};     // S21: what this actor waits for (any thread,
    mutable std::atomic<bool> m_waitsLocked{false}; //   under this spin lock)
    ResumeNode *m_heldHead = nullptr;             // turn only: resumptions of other handlers,
    ResumeNode *m_heldTail = nullptr;             //   held while an exclusive handler holds (S2)
    void *m_stateAddress = nullptr;               // turn only (and the constructor)
    StopMessage m_stopNode;
    ActorCore *m_nextReady = nullptr; // link in a pool's ready queue (guarded by the pool)
};

//! Actors live in the process right now (the runtime's registry; S28 and S29 build on it).
QTACTORS_EXPORT qsizetype liveActorCount() noexcept;

template <typename State>
class Core final : public ActorCore
{
public:
    explicit Core(const Options &options) : ActorCore(options) { }
    ~Core() override
    {
        // Only when the core dies without having finished (its context never ran again,
        // e.g. the event loop was gone at process exit).
        if (hasState())
            destroyState();
    }

    template <typename... Args>
    void construct(Args &&...args)
    {
        ::new (static_cast<void *>(m_storage)) State(std::forward<Args>(args)...);
        setStateAddress(m_storage);
    }

protected:
    void destroyState() noexcept override
    {
        std::destroy_at(std::launder(reinterpret_cast<State *>(m_storage)));
        setStateAddress(nullptr);
    }

private:
    alignas(State) unsigned char m_storage[sizeof(State)];
};

} // namespace QtActors::detail
