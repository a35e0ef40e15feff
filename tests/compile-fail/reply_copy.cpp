// expect: (use of deleted function|call to deleted constructor|deleted)
#include <QtActors/QtActors>

void misuse(const QtActors::Actor<int> &actor)
{
    auto c = actor.call([](int &, QtActors::Reply<int> reply) {
        QtActors::Reply<int> copy = reply;
        copy(1);
    });
}
