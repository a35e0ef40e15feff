// CallState: the shared state between one call() message (or Reply) that produces an answer and
// the one Call<T> that consumes it. Completion is claimed once (the first answer wins), published
// with one atomic exchange, and hands over to at most one registered Continuation.
// Thread contract: the producer side (complete/fail/releaseHolder) may run on any thread; the
// consumer side (setContinuation/take/waitBlocking/abandon) belongs to whoever holds the Call.
#pragma once

#include <QtActors/detail/clock.h>
#include <QtActors/detail/common.h>
#include <QtActors/detail/resumption.h>
#include <QtActors/errors.h>

#include <QtCore/QString>

#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace QtActors::detail {


//! Notified once when a CallState it was registered with is published.
class Continuation
{
public:
    virtual void resume() noexcept = 0;
    //! True when resume() runs the waiting code right there, on the publishing thread (a
    //! coroutine on a thread without an event loop, a QFuture's continuations): the clock's
    //! thread, expiring a call, hands such a resume to a pool thread instead.
    virtual bool resumesHere() const noexcept { return false; }

protected:
    ~Continuation() = default;
};

//! A call state is its own timeout entry (S17): once a consumer waits with a deadline, it is
//! armed on the owner's clock, which fires it at the deadline (expire()) unless it sees the call
//! answered first (isObsolete()). No entry of its own to allocate, per timed call.
class QTACTORS_EXPORT CallStateBase : public TimerEntry
{
public:
    //! Who answers. The call state holds a reference on the actor's core (its memory, not a
    //! handle), so that what() can name it and S21 can follow what it waits for, safely, for as
    //! long as the call exists. Calls that no actor answers (a null handle, asCall()) name what
    //! they are instead.
    struct Owner
    {
        ActorCore *core = nullptr;
        const RefCounted *counted = nullptr; // core, as what holds the reference (inline ref())
        const char *what = "(null)";         // when core is null
        QString displayName() const;
        //! The thread every handler of the actor runs on, or nullptr (compared only).
        QThread *thread() const noexcept;
        Clock &clock() const noexcept;
    };

    explicit CallStateBase(Owner owner) noexcept : TimerEntry(NoDeadline), m_owner(owner)
    {
        if (m_owner.counted)
            m_owner.counted->ref();
    }

    static constexpr std::int64_t NoDeadline = INT64_MAX;

    //! Claims the right to answer. True exactly once. Any thread.
    bool tryClaim() noexcept { return !m_claimed.exchange(true, std::memory_order_acq_rel); }
    //! Claims the right to answer with a value or an error of the answerer's. After the deadline
    //! (S17) the answer is discarded: the call finishes with Timeout instead, and this is false.
    bool tryClaimAnswer() noexcept
    {
        if (expireIfDue())
            return false;
        return tryClaim();
    }
    //! Publishes an answer written after a successful tryClaim(). Any thread.
    void publish() noexcept;
    //! Answers with an error after a successful tryClaim(). Any thread.
    void failClaimed(std::exception_ptr error) noexcept
    {
        m_error = std::move(error);
        publish();
    }
    //! Answers with an error, unless already answered.
    bool fail(std::exception_ptr error) noexcept
    {
        if (!tryClaimAnswer())
            return false;
        failClaimed(std::move(error));
        return true;
    }

    //! Reply bookkeeping: a call handled with a Reply<R> is answered with BrokenReply when both the
    //! running handler and every Reply have let go without answering.
    void addHolder() noexcept { m_holders.fetch_add(1, std::memory_order_relaxed); }
    void releaseHolder() noexcept;

    bool isReady() const noexcept { return m_status.load(std::memory_order_acquire) == Ready; }
    //! Registers the continuation; false (and nothing registered) if the answer is already there.
    bool setContinuation(Continuation *c) noexcept;
    //! Blocks the calling thread until published, or until the deadline (then: Timeout).
    //! \throws Deadlock when a handler waiting here would close a cycle of waiting actors (S21).
    void waitBlocking();
    //! The consumer lets go without reading: an error answer is logged instead of being lost.
    void abandon() noexcept;
    //! The error answer, if any. Consumer only, after isReady().
    bool hasError() const noexcept { return bool(m_error); }
    std::exception_ptr error() const noexcept { return m_error; }
    //! The error answer, moved out: the consumer's copy is then the last one, so the exception
    //! object dies on the consumer's side, after its handler has read it. (Shared with the
    //! CallState, it died wherever the CallState did, and ThreadSanitizer, which does not see
    //! libstdc++'s reference counting, reported the consumer's read against that destructor.)
    //! Consumer only, once, after isReady().
    std::exception_ptr takeError() noexcept { return std::exchange(m_error, nullptr); }
    //! Rethrows the error, if any, moved out (see takeError()). Consumer only, once, after isReady().
    void rethrowIfFailed()
    {
        if (m_error)
            std::rethrow_exception(takeError());
    }
    const Owner &owner() const noexcept { return m_owner; }

    // Deadlines (S17). The deadline is set by the consumer before consuming, and read by the
    // message when it starts, by isCancelled() in the handler, and by the answer (which is
    // discarded after it). Once a consumer waits, the state itself, armed on the owner's clock
    // as its own timer entry, answers Timeout at the deadline; armed lazily (Clock::armLazily),
    // it costs an answered call almost nothing, and the clock drops it once it sees the call
    // answered.
    //! Sets the deadline to `limit` from now on the owner's clock. Consumer, before consuming.
    void setTimeout(Clock::Duration limit) noexcept;
    bool hasDeadline() const noexcept { return due() != NoDeadline; }
    //! Consumer side: when a deadline is set and the answer is not there, arms the timeout.
    void armTimeout() noexcept
    {
        if (hasDeadline())
            armTimeoutEntry();
    }
    //! The deadline has passed (the answer may still have come first), or the call timed out.
    bool isCancelled() const noexcept;
    //! Message side, before the handler runs: answers Timeout when the deadline has passed.
    //! True when it did (the handler must not run).
    bool expireIfDue() noexcept { return hasDeadline() && expireIfPast(); }
    //! Answers Timeout unless answered already (the timeout entry).
    void expire() noexcept;
    void fire() noexcept override { expire(); }
    bool isObsolete() const noexcept override { return isReady(); }
    //! The call whose handler runs on this thread now (set while a call handler runs, and while
    //! a coroutine call handler is resumed), or nullptr: what isCancelled() asks. Tracked for
    //! every call: a deadline may be set after the handler has started.
    static CallStateBase *current() noexcept;
    class CurrentScope
    {
    public:
        explicit CurrentScope(CallStateBase *call) noexcept : m_previous(enter(call)) { }
        ~CurrentScope() { enter(m_previous); }
        CurrentScope(const CurrentScope &) = delete;
        CurrentScope &operator=(const CurrentScope &) = delete;

    private:
        //! Makes `call` current; returns the one before.
        static CallStateBase *enter(CallStateBase *call) noexcept;
        CallStateBase *m_previous;
    };
    //! wait(): throws Deadlock when the calling thread is the context that has to produce the
    //! answer (S11).
    void checkDeadlock() const;
    //! S21, co_await inside the exclusive coroutine handler holding actor `self`: records that
    //! `self` waits for the answering actor (owner().core, not null), unless that would close a
    //! cycle of actors each waiting on the next: then false, and what the cycle is.
    bool beginAwait(ActorCore *self, WaitEdge &edge, QString *cycle) noexcept;
    static void endAwait(WaitEdge &edge) noexcept;
    [[noreturn]] static void throwCycle(const QString &cycle);

protected:
    ~CallStateBase() override;

private:
    enum Status : unsigned { Pending, Waiting, Blocking, Abandoned, Ready };
    void logLostError() const noexcept;
    void afterPublishing(unsigned previous) noexcept;
    //! publish() for expire() on the clock's thread: a continuation that would resume right here
    //! runs on a pool thread instead, so that no user code runs on (or blocks) the thread of
    //! every timer.
    void publishOnClockThread() noexcept;
    bool resumeOnContinuationPool() noexcept;
    Clock &clock() const noexcept { return m_owner.clock(); }
    void armTimeoutEntry() noexcept;
    bool expireIfPast() noexcept;

    std::atomic<unsigned> m_status{Pending};
    std::atomic<bool> m_claimed{false};
    std::atomic<int> m_holders{0};
    std::atomic<bool> m_timedOut{false};
    Continuation *m_continuation = nullptr;
    std::exception_ptr m_error;
    // (The deadline, on the owner's clock, is the entry's due time: TimerEntry::due().)
    Owner m_owner;
};

template <typename T>
class CallState : public CallStateBase
{
public:
    using CallStateBase::CallStateBase;

    template <typename... A>
    bool complete(A &&...value)
    {
        if (!tryClaimAnswer())
            return false;
        try {
            m_value.emplace(std::forward<A>(value)...);
        } catch (...) {
            // The claim is ours: report the failed copy or move instead of the value.
            failClaimed(std::current_exception());
            return true;
        }
        publish();
        return true;
    }
    //! The answer (moved out) or the error rethrown. Consumer only, once, after isReady().
    T take()
    {
        rethrowIfFailed();
        return std::move(*m_value);
    }

private:
    std::optional<T> m_value;
};

template <>
class CallState<void> : public CallStateBase
{
public:
    using CallStateBase::CallStateBase;
    bool complete()
    {
        if (!tryClaimAnswer())
            return false;
        publish();
        return true;
    }
    void take() { rethrowIfFailed(); }
};

//! Throws the Error for a Call consumed twice or used after a move (`where` names the use).
[[noreturn]] QTACTORS_EXPORT void throwConsumedCall(const char *where);

//! The awaiter behind `co_await std::move(call)`. It is its own resumption node: any number of
//! awaits may be suspended at once, each with its own.
template <typename T>
class CallAwaiter final : public Continuation
{
public:
    explicit CallAwaiter(Ref<CallState<T>> state) : m_state(std::move(state)) { }
    CallAwaiter(CallAwaiter &&) = default; // (before the await: nothing is linked yet)

    bool await_ready() const noexcept { return m_state->isReady(); }
    bool await_suspend(std::coroutine_handle<> h)
    {
        m_node.handle = h;
        m_target = ResumeTarget::current();
        if (m_target.holdsActor() && m_state->owner().core) { // an exclusive handler waits (S21)
            if (!m_state->beginAwait(m_target.actor(), m_edge, &m_cycle))
                return false; // it would never finish: await_resume() throws Deadlock
            m_waiting = true;
        }
        m_state->armTimeout();
        // false: the answer arrived meanwhile; continue without suspending.
        return m_state->setContinuation(this);
    }
    T await_resume()
    {
        if (m_waiting) {
            m_waiting = false;
            CallStateBase::endAwait(m_edge);
        }
        if (!m_cycle.isEmpty())
            CallStateBase::throwCycle(m_cycle);
        return m_state->take();
    }
    ~CallAwaiter()
    {
        if (m_waiting) // (a frame destroyed while suspended)
            CallStateBase::endAwait(m_edge);
    }

    void resume() noexcept override { m_target.resume(m_node); }
    bool resumesHere() const noexcept override { return m_target.resumesHere(); }

private:
    Ref<CallState<T>> m_state;
    ResumeNode m_node;
    ResumeTarget m_target;
    WaitEdge m_edge;
    bool m_waiting = false;
    QString m_cycle; // not empty: the Deadlock to throw
};

} // namespace QtActors::detail
