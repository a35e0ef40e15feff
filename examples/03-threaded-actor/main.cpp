// 03-threaded-actor: an actor with a QThread of its own (Executor::dedicatedThread()). emplace()
// builds the State on that thread, so the QTimer inside it belongs to the actor's thread: the
// timer fires there, every handler runs there (a coroutine handler can await the timer), and
// stop() destroys the State there too.
#include <QtActors/QtActors>

#include <QCoreApplication>
#include <QCoroTask>
#include <QCoroTimer>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <chrono>
#include <cstdio>

static std::atomic<bool> destroyedOnItsThread{ false };

struct Heartbeat
{
    explicit Heartbeat(std::chrono::milliseconds interval) { timer.start(interval); }
    ~Heartbeat() { destroyedOnItsThread = QThread::currentThread() == timer.thread(); }
    QTimer timer; // a QObject: neither copyable nor movable, so it must be built in place
    QThread *const builtOn = QThread::currentThread();
};

struct Report
{
    bool offMainThread = false;
    QString threadName;
    bool builtHere = false;
    int beatsOnThisThread = 0;
};

int main(int argc, char *argv[])
{
    using namespace std::chrono_literals;
    QCoreApplication app(argc, argv);
    QThread::currentThread()->setObjectName(QStringLiteral("main"));
    const QtActors::Options options{ .name = QStringLiteral("heartbeat"),
                                     .executor = QtActors::Executor::dedicatedThread() };
    const auto heartbeat = QtActors::Actor<Heartbeat>::emplace(options, 10ms);

    // A coroutine handler: awaiting the QTimer needs the event loop of the actor's thread.
    auto watchThreeBeats = [](Heartbeat &state) -> QCoro::Task<Report> {
        QThread *const here = QThread::currentThread();
        Report r{ here != qApp->thread(), here->objectName(), state.builtOn == here, 0 };
        for (int i = 0; i < 3; ++i) {
            co_await qCoro(state.timer).waitForTimeout();
            if (QThread::currentThread() == here && state.timer.thread() == here)
                ++r.beatsOnThisThread;
        }
        co_return r;
    };
    const Report report = heartbeat.call(watchThreeBeats).wait();
    heartbeat.stop().wait();

    std::printf("main runs on \"%s\", the handler on \"%s\"\n",
                qPrintable(app.thread()->objectName()), qPrintable(report.threadName));
    std::printf("State built there: %s; timer beats seen there: %d of 3; destroyed there: %s\n",
                report.builtHere ? "yes" : "no", report.beatsOnThisThread,
                destroyedOnItsThread ? "yes" : "no");
    const bool ok = report.offMainThread && report.builtHere
            && report.threadName.contains(QStringLiteral("heartbeat"))
            && report.beatsOnThisThread == 3 && destroyedOnItsThread;
    return ok ? 0 : 1;
}
