// expect: a call\(\) handler must return by value
#include <QtActors/QtActors>

void misuse(const QtActors::Actor<QString> &actor)
{
    auto c = actor.call([](QString &s) -> QString & { return s; });
}
