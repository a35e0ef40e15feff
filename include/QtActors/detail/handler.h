// Handlers: what cast() and call() accept, checked at compile time with messages that say what is
// allowed, and the message types that carry a handler to the actor's turn.
//   cast: void(State &) | QCoro::Task<void>(State &)
//   call: R(State &) | QCoro::Task<R>(State &) | void(State &, Reply<R>)
// Coroutine handlers run under a small driver coroutine that owns the handler object (and so its
// captures) until the task ends, and tells the actor when it has (S2).
// Thread contract: messages are built on the sender's thread and run on the actor's context.
#pragma once

#include <QtActors/detail/actorcore.h>
#include <QtActors/reply.h>

#include <QCoroTask>

#include <coroutine>
#include <cstdint>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace QtActors::detail {

//! call<R>() default: deduce R from the handler.
struct Deduce
{
};

template <typename T>
struct TaskTraits : std::false_type
{
};
template <typename T>
struct TaskTraits<QCoro::Task<T>> : std::true_type
{
    using type = T; // what the task produces
};

// The R of a handler's Reply<R> parameter, when its call operator is not a template.
template <typename T>
struct ReplyParam
{
    using type = void;
    static constexpr bool found = false;
};
template <typename R>
struct ReplyParam<Reply<R>>
{
    using type = R;
    static constexpr bool found = true;
};
template <typename M>
struct SecondParam
{
    using type = void;
};
template <typename C, typename Ret, typename A, typename B>
struct SecondParam<Ret (C::*)(A, B)>
{
    using type = B;
};
template <typename C, typename Ret, typename A, typename B>
struct SecondParam<Ret (C::*)(A, B) const>
{
    using type = B;
};
template <typename C, typename Ret, typename A, typename B>
struct SecondParam<Ret (C::*)(A, B) noexcept>
{
    using type = B;
};
template <typename C, typename Ret, typename A, typename B>
struct SecondParam<Ret (C::*)(A, B) const noexcept>
{
    using type = B;
};
template <typename Ret, typename A, typename B>
struct SecondParam<Ret (*)(A, B)>
{
    using type = B;
};
template <typename Ret, typename A, typename B>
struct SecondParam<Ret (*)(A, B) noexcept>
{
    using type = B;
};

template <typename F, typename = void>
struct DeducedReply
{
    using type = void;
    static constexpr bool found = false;
};
template <typename F>
struct DeducedReply<F, std::void_t<decltype(&F::operator())>>
    : ReplyParam<std::remove_cvref_t<typename SecondParam<decltype(&F::operator())>::type>>
{
};
template <typename F>
    requires std::is_pointer_v<F>
struct DeducedReply<F, void> : ReplyParam<std::remove_cvref_t<typename SecondParam<F>::type>>
{
};

//! interleaved(h): a coroutine handler that lets the actor handle other messages while it is
//! suspended (S22). Callable as h is; the messages recognise it by its type.
template <typename F>
struct Interleaved
{
    F handler;
    template <typename S>
    auto operator()(S &state) -> decltype(std::invoke(handler, state))
    {
        return std::invoke(handler, state);
    }
};
template <typename F>
struct IsInterleaved : std::false_type
{
};
template <typename F>
struct IsInterleaved<Interleaved<F>> : std::true_type
{
};
template <typename F>
constexpr ActorCore::HandlerMode modeOf() noexcept
{
    return IsInterleaved<F>::value ? ActorCore::HandlerMode::Interleaved
                                   : ActorCore::HandlerMode::Exclusive;
}

enum class HandlerKind { Plain, Coroutine, WithReply, Invalid };

template <typename State, typename F, typename R>
struct CallHandler
{
    static constexpr bool byState = std::is_invocable_v<F &, State &>;
    using Deduced = std::conditional_t<std::is_same_v<R, Deduce>, DeducedReply<F>, ReplyParam<Reply<R>>>;
    using ReplyType = typename Deduced::type;
    // (conjunction: never instantiate a generic handler with a Reply type it was not meant for)
    static constexpr bool byReply = std::conjunction_v<
            std::bool_constant<!byState && Deduced::found>,
            std::is_invocable<F &, State &, Reply<std::conditional_t<Deduced::found, ReplyType, int>>>>;

    template <bool, typename = void>
    struct FromState
    {
        using type = void;
        static constexpr bool coroutine = false;
    };
    template <typename D>
    struct FromState<true, D>
    {
        using Returned = std::invoke_result_t<F &, State &>;
        static constexpr bool coroutine = TaskTraits<Returned>::value;
        using Produced = typename std::conditional_t<coroutine, TaskTraits<Returned>,
                                                     std::type_identity<Returned>>::type;
        using type = std::conditional_t<std::is_same_v<R, Deduce>, Produced, R>;
    };

    static constexpr HandlerKind kind = byState
            ? (FromState<byState>::coroutine ? HandlerKind::Coroutine : HandlerKind::Plain)
            : (byReply ? HandlerKind::WithReply : HandlerKind::Invalid);

    using Result = std::conditional_t<kind == HandlerKind::WithReply, ReplyType,
                                      typename FromState<byState>::type>;

    static constexpr bool check()
    {
        static_assert(kind != HandlerKind::Invalid,
                      "QtActors: a call() handler must be callable as R(State &), "
                      "QCoro::Task<R>(State &) or void(State &, QtActors::Reply<R>); "
                      "for a generic Reply parameter name R explicitly: call<R>(…)");
        static_assert(!std::is_reference_v<Result>,
                      "QtActors: a call() handler must return by value; a reference into State "
                      "would escape the actor");
        if constexpr (kind == HandlerKind::WithReply) {
            static_assert(std::is_void_v<std::invoke_result_t<F &, State &, Reply<ReplyType>>>,
                          "QtActors: a handler taking a Reply<R> answers through it and returns void");
        }
        static_assert(!IsInterleaved<F>::value || kind == HandlerKind::Coroutine,
                      "QtActors: interleaved() takes a coroutine handler: "
                      "QCoro::Task<R>(State &)");
        if constexpr (kind == HandlerKind::Plain && !std::is_same_v<R, Deduce>) {
            static_assert(std::is_void_v<R>
                                  || std::is_convertible_v<typename FromState<byState>::Produced, R>,
                          "QtActors: call<R>(handler): the handler's result does not convert to R");
        }
        return true;
    }
};

template <typename State, typename F>
struct CastHandler
{
    static constexpr bool check()
    {
        static_assert(std::is_invocable_v<F &, State &>,
                      "QtActors: a cast() handler must be callable as void(State &) or "
                      "QCoro::Task<void>(State &)");
        if constexpr (std::is_invocable_v<F &, State &>) {
            using Returned = std::invoke_result_t<F &, State &>;
            static_assert(std::is_void_v<Returned> || std::is_same_v<Returned, QCoro::Task<void>>,
                          "QtActors: a cast() handler returns void or QCoro::Task<void>; "
                          "use call() to get a result back");
            static_assert(!IsInterleaved<F>::value || std::is_same_v<Returned, QCoro::Task<void>>,
                          "QtActors: interleaved() takes a coroutine handler: "
                          "QCoro::Task<void>(State &)");
        }
        return true;
    }
    static constexpr bool coroutine = std::is_same_v<std::invoke_result_t<F &, State &>, QCoro::Task<void>>;
};

// ---- The driver of coroutine handlers ------------------------------------------------------

struct DriverPromise;
struct Driver
{
    using promise_type = DriverPromise;
};

struct DriverPromise
{
    // Constructed once the frame exists and the handler has moved into it: if either fails, the
    // exception leaves drive() and the actor was never marked busy.
    template <typename... A>
    explicit DriverPromise(ActorCore &core, ActorCore::HandlerMode mode, std::uint64_t id,
                           A &&...) noexcept
        : core(&core), mode(mode)
    {
        endNode.handler = id;
        core.coroutineHandlerStarted(mode, id);
    }
    Driver get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    struct Final
    {
        bool await_ready() noexcept { return false; }
        void await_suspend(std::coroutine_handle<DriverPromise> h) noexcept
        {
            // The handler and its captures are destroyed with this frame, before the actor moves
            // on: here when on the actor's turn, else by the turn (touch nothing after this call).
            ResumeNode &node = h.promise().endNode;
            node.handle = h;
            h.promise().core->coroutineHandlerEnded(node, h.promise().mode);
        }
        void await_resume() noexcept { }
    };
    Final final_suspend() noexcept { return {}; }
    void return_void() noexcept { }
    void unhandled_exception() noexcept { std::terminate(); } // the driver catches everything

    ActorCore *core;
    ActorCore::HandlerMode mode;
    ResumeNode endNode;
};

//! Where a coroutine handler's outcome goes: a CallState, or the log for casts.
template <typename T>
struct CallSink
{
    Ref<CallState<T>> state;
    template <typename... V>
    void done(V &&...v) { state->complete(std::forward<V>(v)...); }
    void failed(ActorCore &, std::exception_ptr e) { state->fail(std::move(e)); }
};
struct CastSink
{
    void done() { }
    void failed(ActorCore &core, std::exception_ptr e) { core.logCastError(std::move(e)); }
};

// GCC reports coroutine frames holding references to types from an anonymous namespace
// (a State or result type local to the user's .cpp file) as -Wsubobject-linkage; the frame
// never leaves that translation unit, so the warning does not apply.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
#endif
template <typename T, typename State, typename F, typename Sink>
Driver drive(ActorCore &core, ActorCore::HandlerMode, std::uint64_t, F handler, State &state,
             Sink sink)
{
    try {
        auto task = std::invoke(handler, state);
        if constexpr (std::is_void_v<T>) {
            co_await std::move(task);
            sink.done();
        } else {
            T value = co_await std::move(task);
            sink.done(std::move(value));
        }
    } catch (...) {
        sink.failed(core, std::current_exception());
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

//! The ActorStopped error for a message the actor (null: a null handle) did not handle.
QTACTORS_EXPORT std::exception_ptr stoppedError(const ActorCore *core) noexcept;

// ---- Messages ------------------------------------------------------------------------------

template <typename State, typename F>
class CastMessage final : public MessageBase
{
public:
    template <typename G>
    explicit CastMessage(G &&f) : m_f(std::forward<G>(f))
    {
    }
    void run(ActorCore &core, void *state) override
    {
        State &s = *static_cast<State *>(state);
        try {
            if constexpr (CastHandler<State, F>::coroutine) {
                const std::uint64_t id = core.newHandlerId();
                const ActorCore::CoroutineHandlerScope scope(&core, id);
                drive<void>(core, modeOf<F>(), id, std::move(m_f), s, CastSink{});
            } else {
                std::invoke(m_f, s);
            }
        } catch (...) {
            // The handler threw, or (coroutines) its frame could not be made or moved into.
            core.logCastError(std::current_exception());
        }
    }
    void drop(const ActorCore *) noexcept override { }
    bool isCast() const noexcept override { return true; }

private:
    F m_f;
};

//! A castLatest() key's hash: its qHash, or for an enum without one (Qt 6.4 has none for scoped
//! enums), the qHash of its value.
template <typename Key>
    requires(requires(const Key &k) { qHash(k); } || std::is_enum_v<Key>)
std::size_t hashOf(const Key &key)
{
    if constexpr (requires { qHash(key); })
        return std::size_t(qHash(key));
    else
        return std::size_t(qHash(static_cast<std::underlying_type_t<Key>>(key)));
}

//! The key part of a castLatest() message: equality is about the key alone, whatever the handler
//! (two call sites with one key supersede each other, S25).
template <typename Key>
class KeyedLatestMessage : public LatestMessageBase
{
public:
    template <typename K>
    explicit KeyedLatestMessage(K &&key)
        : LatestMessageBase(hashOf(std::as_const(key))), m_key(std::forward<K>(key))
    {
    }
    bool sameKey(const LatestMessageBase &other) const noexcept override
    {
        const auto *o = dynamic_cast<const KeyedLatestMessage *>(&other);
        if (!o)
            return false;
        try {
            return bool(o->m_key == m_key);
        } catch (...) {
            logThrowingKeyComparison();
            return false;
        }
    }

private:
    Key m_key;
};

//! castLatest(key, h): a cast that a newer one with an equal key supersedes while it waits (S25).
template <typename State, typename Key, typename F>
class LatestMessage final : public KeyedLatestMessage<Key>
{
public:
    template <typename K, typename G>
    LatestMessage(K &&key, G &&f) : KeyedLatestMessage<Key>(std::forward<K>(key)), m_f(std::forward<G>(f))
    {
    }
    void run(ActorCore &core, void *state) override { m_f.run(core, state); }
    void drop(const ActorCore *core) noexcept override { m_f.drop(core); }

private:
    CastMessage<State, F> m_f; // (its own base is unused: it only runs the handler)
};

//! A call message and its CallState in one allocation. The mailbox's reference is given back by
//! dispose(), which first destroys the handler (and its captures); the Call, a Reply or a
//! running coroutine handler may keep the CallState part alive after that.
template <typename State, typename F, typename R>
class CallMessage final : public MessageBase,
                          public CallState<typename CallHandler<State, F, R>::Result>
{
    using Traits = CallHandler<State, F, R>;

public:
    using Result = typename Traits::Result;
    using StateType = CallState<Result>;

    template <typename G>
    CallMessage(G &&f, CallStateBase::Owner owner)
        : StateType(std::move(owner)), m_f(std::in_place, std::forward<G>(f))
    {
    }
    //! The CallState part, with a new reference.
    Ref<StateType> callState() noexcept { return Ref<StateType>::share(this); }

    void run(ActorCore &core, void *state) override
    {
        if (this->expireIfDue())
            return; // its deadline passed before it started: never run (S17)
        const CallStateBase::CurrentScope current(this); // isCancelled()
        State &s = *static_cast<State *>(state);
        if constexpr (Traits::kind == HandlerKind::Coroutine) {
            try {
                const std::uint64_t id = core.newHandlerId();
                const ActorCore::CoroutineHandlerScope scope(&core, id);
                drive<Result>(core, modeOf<F>(), id, std::move(*m_f), s,
                              CallSink<Result>{callState()});
            } catch (...) {
                // The frame could not be made, or the handler not moved into it.
                this->fail(std::current_exception());
            }
        } else if constexpr (Traits::kind == HandlerKind::WithReply) {
            this->addHolder(); // the running handler holds the call open until it returns
            try {
                std::invoke(*m_f, s, Reply<Result>(callState()));
            } catch (...) {
                if (!this->fail(std::current_exception()))
                    core.logErrorAfterAnswer(std::current_exception());
            }
            this->releaseHolder();
        } else {
            try {
                if constexpr (std::is_void_v<Result>) {
                    std::invoke(*m_f, s);
                    this->complete();
                } else {
                    this->complete(std::invoke(*m_f, s));
                }
            } catch (...) {
                this->fail(std::current_exception());
            }
        }
    }
    void drop(const ActorCore *core) noexcept override { this->fail(stoppedError(core)); }
    void refuseWith(std::exception_ptr error) noexcept override { this->fail(std::move(error)); }
    void dispose() noexcept override
    {
        m_f.reset();
        StateType::deref();
    }

private:
    std::optional<F> m_f;
};

//! emplace(): builds State on the actor's context; always the first message.
template <typename State, typename... Args>
class ConstructMessage final : public MessageBase
{
public:
    template <typename... A>
    explicit ConstructMessage(A &&...args) : m_args(std::forward<A>(args)...)
    {
    }
    void run(ActorCore &core, void *) override
    {
        try {
            std::apply([&](Args &...args) { static_cast<Core<State> &>(core).construct(std::move(args)...); },
                       m_args);
        } catch (...) {
            core.constructionFailed(std::current_exception());
        }
    }
    void drop(const ActorCore *) noexcept override { }
    bool needsState() const noexcept override { return false; }
    bool isBounded() const noexcept override { return false; }

private:
    std::tuple<Args...> m_args;
};

} // namespace QtActors::detail
