// Actor<State> and WeakActor<State>: handles to an actor that owns a State and handles closures
// sent to it one at a time, in order (S1). Copies of an Actor share one actor, like Qt's
// implicitly shared types; the actor finishes its queue and ends when the last copy is gone (S6).
// Thread contract: every member is thread-safe; any copy may be used from any thread (S16).
// cast() and call() never block (S14).
#pragma once

#include <QtActors/call.h>
#include <QtActors/detail/actortimer.h>
#include <QtActors/detail/handler.h>
#include <QtActors/errors.h>
#include <QtActors/options.h>
#include <QtActors/reply.h>
#include <QtActors/timer.h>

#include <chrono>

#include <concepts>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace QtActors {

template <typename State>
class WeakActor;

//! Wraps a coroutine handler (QCoro::Task<R>(State &)) for call() or cast() so that the actor
//! handles its other messages while the handler is suspended (S22). Between two suspension
//! points the handler still has State to itself, but State may change across a co_await, and a
//! call it awaits is no wait for S21's cycle detection (A awaits B awaits A works). Exclusive
//! handlers (S2) stay the default: while one is suspended nothing else runs on the actor, not
//! even the resumption of an interleaved one.
template <typename F>
auto interleaved(F &&handler)
{
    return detail::Interleaved<std::decay_t<F>>{std::forward<F>(handler)};
}

namespace detail {
//! The checks on State, made where State must be complete (S31: an Actor<Node> may be a member of
//! Node, where Node is still incomplete).
template <typename State>
constexpr bool checkState()
{
    static_assert(std::is_object_v<State> && !std::is_const_v<State> && !std::is_array_v<State>,
                  "QtActors: Actor<State> needs a non-const object type as State");
    static_assert(std::is_nothrow_destructible_v<State>,
                  "QtActors: State's destructor must not throw");
    return true;
}
} // namespace detail

template <typename State>
class Actor
{
public:
    //! An actor on the default pool with a default-constructed State (built in place, here).
    //! (A member `Actor<Node> next;` of Node would spawn an actor per Node: write
    //! `Actor<Node> next = nullptr;` for a null handle.)
    template <typename S = State>
        requires std::default_initializable<S>
    Actor() : d(new detail::Core<State>(Options{}))
    {
        static_assert(detail::checkState<State>());
        constructHere();
    }

    //! A null handle, as a moved-from one: behaves as a stopped actor (S9, S31).
    Actor(std::nullptr_t) noexcept { }

    //! An actor whose State is moved in from `initial` (here, on the calling thread).
    //! For a State that must be built on the actor's own thread (QObjects), use emplace().
    //! (`Init` defaults to State so that `Actor<P>({1, 2})` works. The constraint looks at the
    //! argument first: when a State holding an Actor<State> gets its implicit copy constructor,
    //! State is still incomplete, and this constructor is a candidate for copying the member.)
    template <typename Init = State>
        requires(!std::same_as<std::remove_cvref_t<Init>, Actor>
                 && !std::same_as<std::remove_cvref_t<Init>, std::nullptr_t>
                 && std::move_constructible<State> && std::convertible_to<Init, State>)
    explicit Actor(Init &&initial, Options options = {}) : d(new detail::Core<State>(options))
    {
        static_assert(detail::checkState<State>());
        if constexpr (std::same_as<std::remove_cvref_t<Init>, State>)
            constructHere(std::forward<Init>(initial)); // one copy or move, straight into place
        else
            constructHere(State(std::forward<Init>(initial)));
    }

    //! An actor whose State is built in place from `args`, on the actor's context (S3); State
    //! is never copied or moved. Messages sent before it is built wait for it. If the
    //! constructor throws, the error is logged and the actor is stopped (calls get ActorStopped).
    template <typename... Args>
    static Actor emplace(Options options, Args &&...args)
    {
        static_assert(detail::checkState<State>());
        static_assert(std::is_constructible_v<State, std::decay_t<Args> &&...>,
                      "QtActors: emplace(options, args…) needs State(args…) to be a constructor");
        Actor a(Adopt{}, new detail::Core<State>(options));
        a.d->send(new detail::ConstructMessage<State, std::decay_t<Args>...>(std::forward<Args>(args)...));
        return a;
    }

    //! Inside a handler of an Actor<State> (plain or coroutine, on any executor): a strong
    //! handle to that actor, to send to itself, hand itself to others or stop itself (S32).
    //! Elsewhere, or inside a handler of an actor of another State type, a null handle (and a
    //! Q_ASSERT in debug builds); also once the actor is ending because its last handle is gone.
    //! Stored in its own State it keeps the actor alive until stop(): store weak() there instead.
    static Actor self() noexcept
    {
        auto *core = dynamic_cast<detail::Core<State> *>(detail::ActorCore::current());
        Q_ASSERT_X(core, "Actor<State>::self()",
                   "QtActors: self() outside a handler of an Actor of this State type");
        if (core && core->tryAddHandle())
            return Actor(Adopt{}, core);
        return Actor(nullptr);
    }

    Actor(const Actor &other) noexcept : d(other.d)
    {
        if (d)
            d->addHandle();
    }
    //! Leaves `other` null: a null handle behaves as a stopped actor (S9).
    Actor(Actor &&other) noexcept : d(std::exchange(other.d, nullptr)) { }
    Actor &operator=(const Actor &other) noexcept
    {
        Actor(other).swap(*this);
        return *this;
    }
    Actor &operator=(Actor &&other) noexcept
    {
        Actor(std::move(other)).swap(*this);
        return *this;
    }
    ~Actor()
    {
        if (d)
            d->releaseHandle();
    }

    //! Sends `handler` to run later with State &. Fire and forget: an exception it throws is
    //! logged on the `qtactors` category and the actor goes on (S8). On a stopped or null actor
    //! the message is dropped and logged; cast never throws (S9).
    //! handler: void(State &) or QCoro::Task<void>(State &) (held until the task ends, S2).
    template <typename F>
    void cast(F &&handler) const
    {
        using H = std::decay_t<F>;
        static_assert(detail::CastHandler<State, H>::check());
        if constexpr (std::is_invocable_v<H &, State &>)
            send(new detail::CastMessage<State, H>(std::forward<F>(handler)));
    }

    //! A cast that waits for room in a bounded mailbox (S24): `handler` is queued as soon as the
    //! bound allows, and the Call finishes then (at once when there is room, or the mailbox is
    //! unbounded); ActorStopped if the actor stops first. It waits whatever the overflow policy
    //! (it never makes DropOldest drop), and senders waiting for room are admitted first come,
    //! first served. co_await it to slow a producer down to the actor's pace, or wait() on it
    //! from a worker thread; a waiting producer costs no thread. handler: as for cast().
    template <typename F>
    [[nodiscard]] Call<void> castWhenRoom(F &&handler) const
    {
        using H = std::decay_t<F>;
        static_assert(detail::CastHandler<State, H>::check());
        auto accepted = newCallState<void>();
        if constexpr (std::is_invocable_v<H &, State &>) {
            auto *message = new detail::CastMessage<State, H>(std::forward<F>(handler));
            if (d) {
                d->sendWhenRoom(message, accepted);
            } else {
                send(message); // a null handle: dropped and logged
                accepted->fail(detail::stoppedError(nullptr));
            }
        }
        return Call<void>(std::move(accepted));
    }

    //! A cast that only the newest of its key runs (S25): if a castLatest() with an equal key
    //! (== and qHash) still waits, not started, it is dropped, and this one goes to the end of
    //! the queue. For updates where only the latest value matters (a slider, search-as-you-type).
    //! Keys: anything with == and qHash, and enums. The key alone decides, whatever the handler;
    //! in a bounded mailbox, an update that replaces a waiting one takes its room (it is never
    //! refused, and makes DropOldest drop nothing). In every other respect a cast (handler forms,
    //! S8, DropOldest).
    template <typename Key, typename F>
    void castLatest(Key key, F &&handler) const
    {
        using H = std::decay_t<F>;
        static_assert(detail::CastHandler<State, H>::check());
        static_assert(requires(const Key &k) {
            { k == k } -> std::convertible_to<bool>;
            detail::hashOf(k);
        }, "QtActors: castLatest(key, …) needs a key with == and qHash (ints, QString, enums, …)");
        if constexpr (std::is_invocable_v<H &, State &>) {
            auto *message = new detail::LatestMessage<State, Key, H>(std::move(key),
                                                                     std::forward<F>(handler));
            if (d)
                d->sendLatest(message);
            else
                send(message);
        }
    }

    //! Casts `handler` once, `delay` from now (S18): exceptions are logged as for cast (S8).
    //! Cancel it with the returned Timer (or by destroying it). The timer does not keep the
    //! actor alive; it ends with the actor. handler: as for cast().
    template <typename F>
    [[nodiscard]] Timer castAfter(std::chrono::milliseconds delay, F &&handler) const
    {
        return startTimer(delay, std::chrono::milliseconds(0), std::forward<F>(handler));
    }

    //! Casts `handler` every `interval`, the first time one interval from now (S18). A tick is
    //! skipped while the previous one is still queued or running (missed ticks are not made up);
    //! an exception is logged (S8) and the timer goes on. An interval below 1 ms is taken as
    //! 1 ms. handler: as for cast(); it is called again at every tick.
    template <typename F>
    [[nodiscard]] Timer castEvery(std::chrono::milliseconds interval, F &&handler) const
    {
        if (interval.count() < 1) {
            qCWarning(lcQtActors, "QtActors: castEvery(%lld ms): the interval is taken as 1 ms",
                      static_cast<long long>(interval.count()));
            interval = std::chrono::milliseconds(1);
        }
        return startTimer(interval, interval, std::forward<F>(handler));
    }

    //! Sends `handler` and returns a Call for its answer. Never blocks (S14).
    //! handler: R(State &), QCoro::Task<R>(State &), or void(State &, Reply<R>) (S13).
    //! The Call finishes with the handler's exception if it throws (S8), and with ActorStopped
    //! if the actor is stopped, destroyed or null (S9).
    template <typename R = detail::Deduce, typename F>
    [[nodiscard]] Call<typename detail::CallHandler<State, std::decay_t<F>, R>::Result>
    call(F &&handler) const
    {
        using H = std::decay_t<F>;
        using Traits = detail::CallHandler<State, H, R>;
        static_assert(Traits::check());
        using Result = typename Traits::Result;
        if constexpr (Traits::kind != detail::HandlerKind::Invalid && !std::is_reference_v<Result>) {
            auto *message = new detail::CallMessage<State, H, R>(std::forward<F>(handler), owner());
            Call<Result> answer(message->callState());
            send(message);
            return answer;
        } else {
            return Call<Result>(newCallState<Result>()); // unreachable: check() failed above
        }
    }

    //! Finishes when every message sent before it (from this thread) has been handled.
    [[nodiscard]] Call<void> flush() const
    {
        return call([](State &) { });
    }

    //! Refuses new messages from now on; the messages already queued still run, then State is
    //! destroyed on the actor's context. The Call finishes after that (S7). Idempotent.
    [[nodiscard]] Call<void> stop() const
    {
        auto state = newCallState<void>();
        if (d)
            d->requestStop(state);
        else
            state->complete();
        return Call<void>(std::move(state));
    }

    //! True once stop() was called, the actor ended, or the handle is null.
    bool isStopped() const noexcept { return !d || d->isClosed(); }
    //! True while the calling code runs inside one of this actor's handlers.
    bool isCurrent() const noexcept { return d && d->isCurrent(); }
    //! A handle that does not keep the actor alive.
    WeakActor<State> weak() const noexcept { return WeakActor<State>(d); }
    //! The name from Options (or a generated one), as used in logs and errors.
    QString name() const { return d ? d->displayName() : QStringLiteral("(null)"); }

    friend bool operator==(const Actor &a, const Actor &b) noexcept { return a.d == b.d; }

private:
    template <typename>
    friend class WeakActor;
    struct Adopt
    {
    };
    Actor(Adopt, detail::Core<State> *core) noexcept : d(core) { }

    void swap(Actor &o) noexcept { std::swap(d, o.d); }
    template <typename F>
    Timer startTimer(std::chrono::milliseconds delay, std::chrono::milliseconds period,
                     F &&handler) const
    {
        using H = std::decay_t<F>;
        static_assert(detail::CastHandler<State, H>::check());
        if constexpr (std::is_invocable_v<H &, State &>) {
            if (!d || d->isClosed()) {
                qCWarning(lcQtActors, "QtActors: a timer on actor '%s', which is stopped, will never "
                          "deliver", qUtf8Printable(name()));
                return Timer();
            }
            auto timer = detail::Ref<detail::ActorTimer>::adopt(
                    new detail::TypedActorTimer<State, H>(d, detail::Clock::fromUser(period),
                                                          std::forward<F>(handler)));
            timer->start(detail::Clock::fromUser(delay));
            return Timer(std::move(timer));
        } else {
            return Timer();
        }
    }
    template <typename... A>
    void constructHere(A &&...args)
    {
        try {
            d->construct(std::forward<A>(args)...);
        } catch (...) {
            std::exchange(d, nullptr)->releaseHandle(); // ends the stateless actor
            throw;
        }
    }

    void send(detail::MessageBase *message) const
    {
        if (d) {
            d->send(message);
        } else {
            if (message->isCast())
                qCWarning(lcQtActors, "QtActors: cast to a null Actor handle dropped");
            message->drop(nullptr);
            message->dispose();
        }
    }
    detail::CallStateBase::Owner owner() const
    {
        return d ? d->owner() : detail::CallStateBase::Owner{nullptr, nullptr, "(null)"};
    }
    template <typename T>
    detail::Ref<detail::CallState<T>> newCallState() const
    {
        return detail::Ref<detail::CallState<T>>::adopt(new detail::CallState<T>(owner()));
    }
    detail::Core<State> *d = nullptr;
};

template <typename State>
class WeakActor
{
public:
    //! Empty: lock() gives a null handle.
    WeakActor() noexcept = default;
    WeakActor(const WeakActor &o) noexcept : d(o.d)
    {
        if (d)
            d->ref();
    }
    WeakActor(WeakActor &&o) noexcept : d(std::exchange(o.d, nullptr)) { }
    WeakActor &operator=(WeakActor o) noexcept
    {
        std::swap(d, o.d);
        return *this;
    }
    ~WeakActor()
    {
        if (d)
            d->deref();
    }

    //! A strong handle while any exists; a null handle (isStopped() == true) once the actor is gone.
    Actor<State> lock() const noexcept
    {
        if (d && d->tryAddHandle())
            return Actor<State>(typename Actor<State>::Adopt{}, d);
        return Actor<State>(typename Actor<State>::Adopt{}, nullptr);
    }

private:
    friend class Actor<State>;
    explicit WeakActor(detail::Core<State> *core) noexcept : d(core)
    {
        if (d)
            d->ref();
    }
    detail::Core<State> *d = nullptr;
};

namespace detail {

//! then(receiver, onValue[, onError]): the answer travels on as a cast to `receiver` (S33).
template <typename T, typename W, typename F, typename E>
class ActorThenContinuation final : public Continuation
{
public:
    ActorThenContinuation(Ref<CallState<T>> state, WeakActor<W> receiver, F onValue,
                          std::optional<E> onError)
        : m_state(std::move(state)), m_receiver(std::move(receiver)), m_onValue(std::move(onValue)),
          m_onError(std::move(onError))
    {
    }
    void resume() noexcept override
    {
        std::shared_ptr<ActorThenContinuation> self(this);
        try {
            // A null handle (the receiver is gone) drops the cast and logs it, as any cast.
            self->m_receiver.lock().cast([self](W &w) { self->deliver(w); });
        } catch (...) {
            logThenError(m_state->owner(), std::current_exception(),
                         "then(receiver): the answer could not be delivered");
        }
    }

private:
    // A cast handler: what onValue or onError throw is logged by the receiver (S8).
    void deliver(W &w)
    {
        if (!m_state->hasError()) {
            if constexpr (std::is_void_v<T>)
                std::invoke(m_onValue, w);
            else
                std::invoke(m_onValue, w, m_state->take());
        } else if (m_onError) {
            std::invoke(*m_onError, w, m_state->takeError());
        } else {
            logThenError(m_state->owner(), m_state->takeError(),
                         "a call failed and its then(receiver) has no error callback");
        }
    }

    Ref<CallState<T>> m_state;
    WeakActor<W> m_receiver;
    F m_onValue;
    std::optional<E> m_onError;
};

template <typename T, typename W, typename F, typename E>
void startThenOnActor(Ref<CallState<T>> state, const Actor<W> &receiver, F onValue,
                      std::optional<E> onError)
{
    auto *continuation = new ActorThenContinuation<T, W, F, E>(state, receiver.weak(),
                                                             std::move(onValue), std::move(onError));
    state->armTimeout();
    if (!state->setContinuation(continuation))
        continuation->resume();
}

struct NoActorErrorCallback
{
    template <typename W>
    void operator()(W &, std::exception_ptr) const noexcept
    {
    }
};

} // namespace detail

template <typename T>
template <typename W, typename F>
void Call<T>::then(const Actor<W> &receiver, F onValue) &&
{
    static_assert(std::is_void_v<T> ? std::is_invocable_v<F &, W &> : std::is_invocable_v<F &, W &, T>,
                  "QtActors: then(receiver, onValue): onValue must be callable as void(W &, T), or "
                  "void(W &) for a Call<void>");
    detail::startThenOnActor<T, W, F, detail::NoActorErrorCallback>(
            takeState("Call::then()"), receiver, std::move(onValue), std::nullopt);
}

template <typename T>
template <typename W, typename F, typename E>
void Call<T>::then(const Actor<W> &receiver, F onValue, E onError) &&
{
    static_assert(std::is_void_v<T> ? std::is_invocable_v<F &, W &> : std::is_invocable_v<F &, W &, T>,
                  "QtActors: then(receiver, onValue, onError): onValue must be callable as "
                  "void(W &, T), or void(W &) for a Call<void>");
    static_assert(std::is_invocable_v<E &, W &, std::exception_ptr>,
                  "QtActors: then(receiver, onValue, onError): onError must be callable as "
                  "void(W &, std::exception_ptr)");
    detail::startThenOnActor<T, W, F, E>(takeState("Call::then()"), receiver, std::move(onValue),
                                         std::optional<E>(std::move(onError)));
}

} // namespace QtActors
