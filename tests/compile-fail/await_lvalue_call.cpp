// expect: (selected deleted operator .co_await.|use of deleted function .*QtActors::detail::CallAwaiter<int> QtActors::operator co_await\(Call<int>&\))
#include <QtActors/QtActors>

#include <QCoroTask>

QCoro::Task<int> misuse(QtActors::Actor<int> actor)
{
    auto c = actor.call([](int &n) { return n; });
    co_return co_await c; // a Call is consumed: co_await std::move(c)
}
