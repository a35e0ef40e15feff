// expect: a cast\(\) handler must be callable as void\(State &\)
#include <QtActors/QtActors>

void misuse(const QtActors::Actor<int> &actor)
{
    actor.cast([](QString &s) { s.clear(); });
}
