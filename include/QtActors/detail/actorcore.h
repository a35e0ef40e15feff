// ActorCore: the actor itself, behind every Actor<State> handle. It owns the mailbox, the State
// storage and the binding to an executor, and runs turns: batches of messages, one at a time.
//
// Scheduling protocol. m_state packs a CLOSED bit and the count of messages sent but not yet
// finished. A sender that moves the count from 0 to 1 owns the turn token: it takes a reference
// on the core and schedules one turn. The turn keeps the token while it drains up to
// `throughput` messages, and at the end either hands it to a new turn (more work, or budget
// spent: S5) or drops it when the count returns to 0. So at most one turn is ever pending or
// running (S1), and a message costs one allocation, one CAS and one exchange; no lock, no event.
//
// Coroutine handlers (S2) keep the token while suspended: the turn "parks". Whoever resumes the
// handler calls wake(); the park/wake handshake on m_park schedules exactly one turn to continue.
//
// Closing (stop() or the last handle gone) sets CLOSED and pushes m_stopNode as one more counted
// message, so everything sent before still runs (S6, S7); later sends are refused (S9). When the
// count reaches 0 with CLOSED set, the turn destroys State on the context and detaches.
//
// Thread contract: send(), requestStop(), wake(), the handle counts and isClosed() are
// thread-safe. runTurn() runs only on the actor's context, from its scheduler.
#pragma once

#include <QtActors/detail/callstate.h>
#include <QtActors/detail/mailbox.h>
#include <QtActors/detail/scheduler.h>
#include <QtActors/options.h>

#include <QtCore/QMutex>
#include <QtCore/QString>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

namespace QtActors::detail {

class QTACTORS_EXPORT ActorCore : public RefCounted
{
public:
    //! The core of the actor whose handler runs on this thread right now, or nullptr.
    static ActorCore *current() noexcept;

    // Handles (Actor copies) share one reference on the core while any exist.
    void addHandle() noexcept { m_handles.fetch_add(1, std::memory_order_relaxed); }
    void releaseHandle() noexcept;
    //! For WeakActor::lock(): adds a handle unless none is left.
    bool tryAddHandle() noexcept;

    //! Queues a message, or refuses it (drop() and a log line) when the actor is closed.
    //! Takes ownership. Any thread; never blocks.
    void send(MessageBase *message) noexcept;
    //! Closes the actor; `waiter` (may be null) completes once State is destroyed. Any thread.
    void requestStop(Ref<CallState<void>> waiter = {});
    bool isClosed() const noexcept { return m_state.load(std::memory_order_acquire) & Closed; }
    bool isCurrent() const noexcept { return current() == this; }

    //! The scheduler calls this on the actor's context. Consumes the turn's reference.
    void runTurn() noexcept;
    //! Continues a parked coroutine handler on the actor's context: resumes h there, or, with a
    //! null h, notes that the handler finished elsewhere. Any thread.
    void wake(std::coroutine_handle<> h) noexcept;
    //! The context will never run this actor again (its event loop is gone): drops what is queued,
    //! destroys State here and consumes the turn's reference. Any thread.
    void runWithoutContext() noexcept;
    //! A coroutine handler is about to start: the actor stays busy until handlerFinished().
    void beginCoroutineHandler() noexcept { m_busy = true; }
    //! Called when a coroutine handler's task has ended, on whatever thread it ended.
    void handlerFinished() noexcept;

    QString displayName() const;
    CallStateBase::Owner owner() const;
    Scheduler *scheduler() const noexcept { return m_scheduler.get(); }
    //! S8: an exception escaped a cast handler.
    void logCastError(std::exception_ptr error) const noexcept;
    //! State failed to construct on the context (emplace): the actor stops.
    void constructionFailed(std::exception_ptr error) noexcept;
    bool hasState() const noexcept { return m_stateAddress != nullptr; }

protected:
    explicit ActorCore(const Options &options);
    ~ActorCore() override;
    //! Destroys State. Called once, on the actor's context (or at exit, wherever the core dies).
    virtual void destroyState() noexcept = 0;
    void setStateAddress(void *state) noexcept { m_stateAddress = state; }

private:
    static constexpr std::uint64_t Closed = 1;
    static constexpr std::uint64_t One = 2; // one counted message

    enum Park : int { Running, Parked, Woken };

    class StopMessage final : public MessageBase
    {
        void run(ActorCore &, void *) override { }
        void drop(const ActorCore *) noexcept override { }
        bool needsState() const noexcept override { return false; }
    };
    friend class PoolScheduler;

    void scheduleTurn() noexcept;
    void refuse(MessageBase *message) noexcept;
    MessageBase *popCounted() noexcept;
    bool parkOrContinue() noexcept;
    void finalize() noexcept;
    void completeStopWaiters() noexcept;
    bool lingerForMore(std::uint64_t finished, bool afterCast) noexcept;

    // Layout: the fields senders write come first, the fields only the turn writes come last,
    // and the read-mostly fields in between keep the two groups on different cache lines (at
    // least 64 bytes apart whatever the allocation's alignment), with no padding.

    // Written by senders: the count, the handle count, the mailbox's producer end.
    std::atomic<std::uint64_t> m_state{0};
    std::atomic<int> m_handles{1};
    MailboxHead m_inbox;
    // Read-mostly.
    std::shared_ptr<Scheduler> m_scheduler;
    QString m_name;
    std::chrono::nanoseconds m_linger{0}; // spin for more work before idling
    int m_throughput;
    bool m_finalized = false; // guarded by m_stopMutex
    QMutex m_stopMutex;
    std::unique_ptr<std::vector<Ref<CallState<void>>>> m_stopWaiters; // rare: made on demand
    // Turn side: touched by the context, and by wake() once per suspension.
    MailboxTail m_outbox;
    std::atomic<int> m_park{Running};
    bool m_busy = false;        // context only: a coroutine handler holds the actor
    bool m_contextLost = false; // set once, by the turn that runs without a context
    std::coroutine_handle<> m_wakeHandle; // written by wake() before it publishes Woken
    void *m_stateAddress = nullptr;       // context only (and the constructor)
    StopMessage m_stopNode;
    ActorCore *m_nextReady = nullptr; // link in a pool's ready queue (guarded by the pool)
};

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
