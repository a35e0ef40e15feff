// expect: a cast\(\) handler returns void or QCoro::Task<void>; use call\(\) to get a result back
#include <QtActors/QtActors>

void misuse(const QtActors::Actor<int> &actor)
{
    actor.cast([](int &n) { return n + 1; });
}
