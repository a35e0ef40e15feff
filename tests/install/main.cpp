// Uses QtActors only through the installed package: the umbrella header, the generated version
// header, and one call answered by an actor.
#include <QtActors/QtActors>
#include <QtActors/qtactorsversion.h>

#include <QCoreApplication>

#include <cstdio>

static_assert(QTACTORS_VERSION >= QTACTORS_VERSION_CHECK(0, 1, 0));

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QtActors::Actor<int> counter(41);
    const int answer = counter.call([](int &state) { return ++state; }).wait();
    std::printf("QtActors %s: the actor answered %d\n", QTACTORS_VERSION_STR, answer);
    return answer == 42 ? 0 : 1;
}
