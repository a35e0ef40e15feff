// expect: Actor<State> needs a non-const object type as State
#include <QtActors/QtActors>

void misuse()
{
    QtActors::Actor<const int> actor(1);
}
