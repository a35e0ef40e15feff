// expect: for a generic Reply parameter name R explicitly
#include <QtActors/QtActors>

void misuse(const QtActors::Actor<int> &actor)
{
    auto c = actor.call([](int &, auto reply) { reply(1); });
}
