// expect: (no match for|cannot be used|no matching|invalid operands|no viable|operator co_await|no member named .await_ready.)
#include <QtActors/QtActors>

#include <QCoroTask>

QCoro::Task<int> misuse(QtActors::Actor<int> actor)
{
    auto c = actor.call([](int &n) { return n; });
    co_return co_await c; // a Call is consumed: co_await std::move(c)
}
