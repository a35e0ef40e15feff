// expect: a call\(\) handler must be callable as R\(State &\), QCoro::Task<R>\(State &\) or void\(State &, QtActors::Reply<R>\)
#include <QtActors/QtActors>

void misuse(const QtActors::Actor<int> &actor)
{
    auto c = actor.call([](int &, int extra) { return extra; });
}
