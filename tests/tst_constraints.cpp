// What handlers compile, pinned at compile time. The forms that must NOT compile live in
// tests/compile-fail/, each checked by CTest for its diagnostic.
#include <QtActors/QtActors>

#include <QtTest/QTest>

#include <QCoroTask>

#include <string>

using namespace QtActors;
using detail::CallHandler;
using detail::Deduce;
using detail::HandlerKind;

namespace {

struct S
{
    int value = 0;
};

int plainFunction(S &s)
{
    return s.value;
}
void replyFunction(S &s, Reply<std::string> reply)
{
    reply(std::to_string(s.value));
}

[[maybe_unused]] auto plain = [](S &s) { return s.value; };
[[maybe_unused]] auto constRef = [](const S &s) { return s.value; };
[[maybe_unused]] auto voidPlain = [](S &) { };
[[maybe_unused]] auto coroutine = [](S &) -> QCoro::Task<double> { co_return 1.5; };
[[maybe_unused]] auto withReply = [](S &, Reply<QString> reply) { reply(QString()); };
[[maybe_unused]] auto genericReply = [](S &, auto reply) { reply(1); };
[[maybe_unused]] auto mutableLambda = [n = 0](S &) mutable { return ++n; };

template <typename F, typename R = Deduce>
constexpr HandlerKind kindOf = CallHandler<S, F, R>::kind;
template <typename F, typename R = Deduce>
using ResultOf = typename CallHandler<S, F, R>::Result;

// call(): the three accepted forms and what they return.
static_assert(kindOf<decltype(plain)> == HandlerKind::Plain);
static_assert(std::is_same_v<ResultOf<decltype(plain)>, int>);
static_assert(std::is_same_v<ResultOf<decltype(constRef)>, int>);
static_assert(std::is_same_v<ResultOf<decltype(voidPlain)>, void>);
static_assert(std::is_same_v<ResultOf<decltype(mutableLambda)>, int>);
static_assert(std::is_same_v<ResultOf<decltype(&plainFunction)>, int>);
static_assert(kindOf<decltype(coroutine)> == HandlerKind::Coroutine);
static_assert(std::is_same_v<ResultOf<decltype(coroutine)>, double>);
static_assert(kindOf<decltype(withReply)> == HandlerKind::WithReply);
static_assert(std::is_same_v<ResultOf<decltype(withReply)>, QString>);
static_assert(kindOf<decltype(&replyFunction)> == HandlerKind::WithReply);
static_assert(std::is_same_v<ResultOf<decltype(&replyFunction)>, std::string>);
// A generic Reply parameter needs R named; then it is a Reply handler.
static_assert(kindOf<decltype(genericReply)> == HandlerKind::Invalid);
static_assert(kindOf<decltype(genericReply), int> == HandlerKind::WithReply);
// call<R>() converts a plain handler's result.
static_assert(std::is_same_v<ResultOf<decltype(plain), double>, double>);
// Handlers that do not take State & are rejected.
static_assert(kindOf<decltype([](int) { return 1; })> == HandlerKind::Invalid);
static_assert(kindOf<decltype([] { return 1; })> == HandlerKind::Invalid);

// The public signatures.
static_assert(std::is_same_v<decltype(std::declval<Actor<S>>().call(plain)), Call<int>>);
static_assert(std::is_same_v<decltype(std::declval<Actor<S>>().call(coroutine)), Call<double>>);
static_assert(std::is_same_v<decltype(std::declval<Actor<S>>().call(withReply)), Call<QString>>);
static_assert(std::is_same_v<decltype(std::declval<Actor<S>>().flush()), Call<void>>);
static_assert(std::is_same_v<decltype(std::declval<Actor<S>>().stop()), Call<void>>);

// Handles: Actor copyable, Call and Reply move-only.
static_assert(std::is_copy_constructible_v<Actor<S>> && std::is_nothrow_move_constructible_v<Actor<S>>);
static_assert(std::is_copy_constructible_v<WeakActor<S>>);
static_assert(!std::is_copy_constructible_v<Call<int>> && std::is_move_constructible_v<Call<int>>);
static_assert(!std::is_copy_constructible_v<Reply<int>> && std::is_move_constructible_v<Reply<int>>);
static_assert(std::is_copy_constructible_v<Executor>);
// Options is an aggregate: designated initializers work.
static_assert(std::is_aggregate_v<Options>);
// Errors derive from the library's base and from QException (so QFuture carries them).
static_assert(std::is_base_of_v<Error, ActorStopped> && std::is_base_of_v<Error, BrokenReply>
              && std::is_base_of_v<Error, Deadlock> && std::is_base_of_v<QException, Error>);
// A non-movable State is fine with Actor() and emplace().
struct Pinned
{
    Pinned() = default;
    explicit Pinned(int) { }
    Pinned(const Pinned &) = delete;
};
static_assert(std::is_default_constructible_v<Actor<Pinned>>);
static_assert(requires { Actor<Pinned>::emplace(Options{}, 1); });
// Actor(State) needs a movable State; Actor() a default-constructible one.
static_assert(!std::is_constructible_v<Actor<Pinned>, Pinned>);
struct NoDefault
{
    explicit NoDefault(int) { }
};
static_assert(!std::is_default_constructible_v<Actor<NoDefault>>);
// co_await accepts only an rvalue Call (it consumes the answer).
template <typename C>
concept Awaitable = requires(C &&c) { operator co_await(std::forward<C>(c)); };
static_assert(Awaitable<Call<int>>);
static_assert(!Awaitable<Call<int> &>);

} // namespace

class tst_Constraints : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void acceptedHandlerFormsCompileAndRun()
    {
        Actor<S> uut(S{4});
        QCOMPARE(uut.call(&plainFunction).wait(), 4);
        QCOMPARE(uut.call(&replyFunction).wait(), std::string("4"));
        QCOMPARE(uut.call<int>(genericReply).wait(), 1);
        QCOMPARE(uut.call(mutableLambda).wait(), 1);
        QCOMPARE(uut.call(constRef).wait(), 4);
    }
};

QTEST_GUILESS_MAIN(tst_Constraints)
#include "tst_constraints.moc"
