// Call<T>: the answer to Actor::call(). Move-only; consumed once, in one of four ways:
//   co_await std::move(call)  — in a QCoro coroutine or an actor's coroutine handler (S10)
//   std::move(call).future()  — a QFuture<T> for QFutureWatcher, QFuture::then, QtFuture (S12)
//   std::move(call).task()    — a QCoro::Task<T> for QCoro combinators and QCoro::QmlTask
//   std::move(call).wait()    — blocks the calling thread (S11)
// Thread contract: a Call is owned by one thread at a time; it may be moved to another thread.
// The answer may arrive on any thread; where the consumer continues is described above.
#pragma once

#include <QtActors/detail/callstate.h>

#include <QtCore/QDeadlineTimer>
#include <QtCore/QFuture>
#include <QtCore/QObject>
#include <QtCore/QPromise>
#include <QCoroTask>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace QtActors {

template <typename State>
class Actor;

//! Inside a call handler (plain, coroutine, also after a suspension, or Reply): true once the
//! call's deadline has passed (S17), so the handler may stop early; its answer will be
//! discarded. False elsewhere, and for calls without a deadline that have not timed out.
QTACTORS_EXPORT bool isCancelled() noexcept;

template <typename T>
class [[nodiscard]] Call
{
public:
    using value_type = T;

    Call(Call &&other) noexcept = default;
    Call &operator=(Call &&other) noexcept
    {
        Call(std::move(other)).swap(*this);
        return *this;
    }
    Call(const Call &) = delete;
    Call &operator=(const Call &) = delete;
    //! Dropping a Call does not cancel the message; an error answer is logged instead of lost.
    ~Call()
    {
        if (m_state)
            m_state->abandon();
    }

    //! Gives up waiting `limit` from now (S17): the Call then finishes with Timeout, whichever way
    //! it is consumed. A call message whose deadline passes before it starts is never run; a
    //! handler already running may ask isCancelled(), and its late answer is discarded. Set it
    //! before consuming the Call; chainable: co_await actor.call(f).timeout(200ms).
    [[nodiscard]] Call timeout(std::chrono::milliseconds limit) &&
    {
        detail::Ref<detail::CallState<T>> state = takeState("Call::timeout()");
        state->setTimeout(detail::Clock::fromUser(limit));
        return Call(std::move(state));
    }
    //! The same, as an absolute deadline (QDeadlineTimer::Forever: none).
    [[nodiscard]] Call deadline(QDeadlineTimer deadline) &&
    {
        detail::Ref<detail::CallState<T>> state = takeState("Call::deadline()");
        if (!deadline.isForever())
            state->setTimeout(std::chrono::nanoseconds(deadline.remainingTimeNSecs()));
        return Call(std::move(state));
    }

    //! Runs `onValue` with the value (no argument for Call<void>) on `context`'s thread, through
    //! its event loop, once the answer is there (S20); never inside then() itself. If `context`
    //! is destroyed first, nothing runs. An error is logged on `qtactors` with its what().
    //! `context` must live in a thread with an event loop.
    template <typename F>
    void then(QObject *context, F onValue) &&;
    //! The same, with `onError(std::exception_ptr)` for an error.
    template <typename F, typename E>
    void then(QObject *context, F onValue, E onError) &&;

    //! Delivers the answer to another actor (S33): `onValue(W &, T)` (`onValue(W &)` for
    //! Call<void>) runs as a cast on `receiver`, so it is alone with W's State. If `receiver` has
    //! stopped, it is dropped and logged like any cast (S9); it does not keep `receiver` alive.
    //! Without `onError`, an error is logged on `qtactors`.
    template <typename W, typename F>
    void then(const Actor<W> &receiver, F onValue) &&;
    //! The same, with `onError(W &, std::exception_ptr)` for an error.
    template <typename W, typename F, typename E>
    void then(const Actor<W> &receiver, F onValue, E onError) &&;

    //! True once the answer (value or error) is there. Never blocks.
    bool isFinished() const noexcept { return m_state && m_state->isReady(); }

    //! A QFuture that finishes with the value, or with the same exception (ActorStopped,
    //! BrokenReply, the handler's own) as co_await and wait() would throw (S12).
    QFuture<T> future() &&;

    //! A QCoro::Task that resumes on the awaiting thread (or actor), like co_await.
    QCoro::Task<T> task() &&
    {
        return toTask(Call(takeState("Call::task()")));
    }

    // Each of the four ways consumes the Call. On a Call already consumed or moved from, each
    // fails: Q_ASSERT in debug builds; in release builds it throws QtActors::Error.

    //! Blocks the calling thread until the answer arrives and returns it, or rethrows the error.
    //! \throws Deadlock at once when called from the actor's own context (its handler, or the
    //! thread its executor runs on), where the answer could never be produced (S11).
    T wait() &&
    {
        detail::Ref<detail::CallState<T>> state = takeState("Call::wait()");
        if (!state->isReady()) {
            state->checkDeadlock();
            state->waitBlocking(); // (keeps the deadline itself)
        }
        return state->take();
    }

    //! `co_await std::move(call)`: resumes on the awaiting thread through its event loop, or on
    //! the awaiting actor's context when awaited inside a handler (S10). No suspension when the
    //! answer is already there.
    friend detail::CallAwaiter<T> operator co_await(Call &&call)
    {
        return detail::CallAwaiter<T>(call.takeState("co_await Call"));
    }

    //! Not allowed: awaiting consumes the Call, so write co_await std::move(call).
    friend detail::CallAwaiter<T> operator co_await(Call &) = delete;

    //! \internal
    explicit Call(detail::Ref<detail::CallState<T>> state) noexcept : m_state(std::move(state)) { }

private:
    void swap(Call &o) noexcept { std::swap(m_state, o.m_state); }
    //! The state, taken for consuming; a consumed or moved-from Call is a programming error:
    //! Q_ASSERT in debug builds, Error thrown in release builds.
    detail::Ref<detail::CallState<T>> takeState(const char *where)
    {
        Q_ASSERT_X(m_state, where, "QtActors: this Call was already consumed or moved from");
        if (!m_state)
            detail::throwConsumedCall(where);
        return std::move(m_state);
    }
    static QCoro::Task<T> toTask(Call call) { co_return co_await std::move(call); }

    detail::Ref<detail::CallState<T>> m_state;
};

namespace detail {

//! Fulfils a QPromise when the CallState is published; deletes itself then.
template <typename T>
class FutureContinuation final : public Continuation
{
public:
    explicit FutureContinuation(Ref<CallState<T>> state) : m_state(std::move(state))
    {
        m_promise.start();
    }
    QFuture<T> future() { return m_promise.future(); }
    bool resumesHere() const noexcept override { return true; } // (continuations without a context)
    void resume() noexcept override
    {
        // An error is copied, not taken: QFuture hands it over inside Qt, where ThreadSanitizer
        // sees no edge, so its last reference had better stay with the call state (released with
        // edges the library's own atomics show) than end in the user's ~QFuture.
        if (m_state->hasError()) {
            m_promise.setException(m_state->error());
        } else {
            try {
                if constexpr (std::is_void_v<T>)
                    m_state->take();
                else
                    m_promise.addResult(m_state->take());
            } catch (...) {
                m_promise.setException(std::current_exception());
            }
        }
        m_promise.finish();
        delete this;
    }

private:
    Ref<CallState<T>> m_state;
    QPromise<T> m_promise;
};

//! Posts functors to a QObject's thread until the object is destroyed, safely from any thread:
//! the destroyed() signal (delivered in the destroying thread, before Qt removes the object's
//! posted events) and post() exclude each other.
class ContextGuard
{
public:
    explicit ContextGuard(QObject *context) : m_context(context), m_shared(std::make_shared<Shared>())
    {
        m_connection = QObject::connect(context, &QObject::destroyed, [shared = m_shared] {
            const std::lock_guard lock(shared->mutex);
            shared->alive = false;
        });
    }
    ~ContextGuard() { QObject::disconnect(m_connection); }
    ContextGuard(const ContextGuard &) = delete;
    ContextGuard &operator=(const ContextGuard &) = delete;

    //! Posts `f` to run on the context's thread (dropped, with f, if the context dies first);
    //! false when the context is gone already.
    template <typename F>
    bool post(F &&f)
    {
        const std::lock_guard lock(m_shared->mutex);
        if (!m_shared->alive)
            return false;
        QMetaObject::invokeMethod(m_context, std::forward<F>(f), Qt::QueuedConnection);
        return true;
    }

private:
    struct Shared
    {
        std::mutex mutex;
        bool alive = true;
    };
    QObject *const m_context;
    std::shared_ptr<Shared> m_shared;
    QMetaObject::Connection m_connection;
};

//! Logs an error that a then() without onError received, or that a then() callback threw.
QTACTORS_EXPORT void logThenError(const CallStateBase::Owner &owner, std::exception_ptr error,
                                  const char *what) noexcept;

//! then(context, onValue[, onError]): delivers the answer on the context's thread (S20).
template <typename T, typename F, typename E>
class ThenContinuation final : public Continuation
{
public:
    ThenContinuation(Ref<CallState<T>> state, QObject *context, F onValue, std::optional<E> onError)
        : m_state(std::move(state)), m_guard(context), m_onValue(std::move(onValue)),
          m_onError(std::move(onError))
    {
    }
    void resume() noexcept override
    {
        std::shared_ptr<ThenContinuation> self(this);
        try {
            if (m_guard.post([self] { self->deliver(); }))
                return;
        } catch (...) {
        }
        // The context is gone (or posting failed): nothing runs; an error is not lost silently.
        if (!m_onError)
            logUnread();
    }

private:
    void deliver() noexcept
    {
        if (!m_state->hasError()) {
            try {
                if constexpr (std::is_void_v<T>) {
                    m_state->take();
                    std::invoke(m_onValue);
                } else {
                    std::invoke(m_onValue, m_state->take());
                }
            } catch (...) { // onValue itself threw
                logThenError(m_state->owner(), std::current_exception(), "a then() callback threw");
            }
            return;
        }
        if (!m_onError) {
            logUnread();
            return;
        }
        try {
            std::invoke(*m_onError, m_state->takeError());
        } catch (...) {
            logThenError(m_state->owner(), std::current_exception(), "a then() error callback threw");
        }
    }
    void logUnread() noexcept
    {
        if (m_state->hasError())
            logThenError(m_state->owner(), m_state->takeError(),
                         "a call failed and its then() has no error callback");
    }

    Ref<CallState<T>> m_state;
    ContextGuard m_guard;
    F m_onValue;
    std::optional<E> m_onError;
};

struct NoErrorCallback
{
    void operator()(std::exception_ptr) const noexcept { }
};

template <typename T, typename F, typename E>
void startThen(Ref<CallState<T>> state, QObject *context, F onValue, std::optional<E> onError)
{
    if (!context) {
        Q_ASSERT_X(context, "Call::then()", "QtActors: then() needs a context object");
        qCWarning(lcQtActors, "QtActors: Call::then() without a context object: nothing will run");
        state->abandon();
        return;
    }
    auto *continuation =
            new ThenContinuation<T, F, E>(state, context, std::move(onValue), std::move(onError));
    state->armTimeout();
    if (!state->setContinuation(continuation))
        continuation->resume(); // answered already: still through the context's event loop
}

} // namespace detail

template <typename T>
template <typename F>
void Call<T>::then(QObject *context, F onValue) &&
{
    static_assert(std::is_void_v<T> ? std::is_invocable_v<F &> : std::is_invocable_v<F &, T>,
                  "QtActors: then(context, onValue): onValue must be callable as void(T), or "
                  "void() for a Call<void>");
    detail::startThen<T, F, detail::NoErrorCallback>(takeState("Call::then()"), context,
                                                     std::move(onValue), std::nullopt);
}

template <typename T>
template <typename F, typename E>
void Call<T>::then(QObject *context, F onValue, E onError) &&
{
    static_assert(std::is_void_v<T> ? std::is_invocable_v<F &> : std::is_invocable_v<F &, T>,
                  "QtActors: then(context, onValue, onError): onValue must be callable as void(T), "
                  "or void() for a Call<void>");
    static_assert(std::is_invocable_v<E &, std::exception_ptr>,
                  "QtActors: then(context, onValue, onError): onError must be callable as "
                  "void(std::exception_ptr)");
    detail::startThen<T, F, E>(takeState("Call::then()"), context, std::move(onValue),
                               std::optional<E>(std::move(onError)));
}

namespace detail {

} // namespace detail

//! A Call that finishes when `future` does, with its result or its exception (a canceled future
//! gives QtActors::Error). Lets a coroutine handler on a pool actor await a QFuture: QCoro's own
//! `co_await future` needs an event loop on the awaiting thread, which pool threads lack (S4).
template <typename T>
Call<T> asCall(QFuture<T> future)
{
    auto state = detail::Ref<detail::CallState<T>>::adopt(
            new detail::CallState<T>(detail::CallStateBase::Owner{nullptr, nullptr, "QFuture"}));
    future.then(QtFuture::Launch::Sync,
                [state](QFuture<T> f) {
                    try {
                        if constexpr (std::is_void_v<T>) {
                            f.waitForFinished(); // rethrows a stored exception
                            state->complete();
                        } else {
                            state->complete(f.result());
                        }
                    } catch (...) {
                        state->fail(std::current_exception());
                    }
                })
            .onCanceled([state] {
                state->fail(std::make_exception_ptr(
                        Error(QStringLiteral("QtActors: the awaited QFuture was canceled"))));
            });
    return Call<T>(std::move(state));
}

template <typename T>
QFuture<T> Call<T>::future() &&
{
    detail::Ref<detail::CallState<T>> state = takeState("Call::future()");
    auto *continuation = new detail::FutureContinuation<T>(state);
    QFuture<T> future = continuation->future();
    state->armTimeout();
    if (!state->setContinuation(continuation))
        continuation->resume();
    return future;
}

} // namespace QtActors
