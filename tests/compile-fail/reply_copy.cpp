// expect: (use of deleted function .*QtActors::Reply<R>::Reply\(const QtActors::Reply<R>&\)|call to deleted constructor of .QtActors::Reply<int>.)
#include <QtActors/QtActors>

void misuse(const QtActors::Actor<int> &actor)
{
    auto c = actor.call([](int &, QtActors::Reply<int> reply) {
        QtActors::Reply<int> copy = reply;
        copy(1);
    });
}
