// Call<T>: the answer to Actor::call(). Move-only; consumed once, in one of four ways:
//   co_await std::move(call)  — in a QCoro coroutine or an actor's coroutine handler (S10)
//   std::move(call).future()  — a QFuture<T> for QFutureWatcher, QFuture::then, QtFuture (S12)
//   std::move(call).task()    — a QCoro::Task<T> for QCoro combinators and QCoro::QmlTask
//   std::move(call).wait()    — blocks the calling thread (S11)
// Thread contract: a Call is owned by one thread at a time; it may be moved to another thread.
// The answer may arrive on any thread; where the consumer continues is described above.
#pragma once

#include <QtActors/detail/callstate.h>

#include <QtCore/QFuture>
#include <QtCore/QPromise>
#include <QCoroTask>

#include <utility>

namespace QtActors {

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
            state->waitBlocking();
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
    void resume() noexcept override
    {
        try {
            if constexpr (std::is_void_v<T>) {
                m_state->take();
            } else {
                m_promise.addResult(m_state->take());
            }
        } catch (...) {
            m_promise.setException(std::current_exception());
        }
        m_promise.finish();
        delete this;
    }

private:
    Ref<CallState<T>> m_state;
    QPromise<T> m_promise;
};

} // namespace detail

//! A Call that finishes when `future` does, with its result or its exception (a canceled future
//! gives QtActors::Error). Lets a coroutine handler on a pool actor await a QFuture: QCoro's own
//! `co_await future` needs an event loop on the awaiting thread, which pool threads lack (S4).
template <typename T>
Call<T> asCall(QFuture<T> future)
{
    auto state = detail::Ref<detail::CallState<T>>::adopt(
            new detail::CallState<T>(detail::CallStateBase::Owner{nullptr, nullptr, QStringLiteral("QFuture")}));
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
    if (!state->setContinuation(continuation))
        continuation->resume();
    return future;
}

} // namespace QtActors
