// Lifetime and stop: the last handle gone (S6), stop() (S7), State destroyed on its context (S3),
// dedicated threads ending, and process exit with live actors (S15, in child processes).
#include "testing.h"

#include <QtCore/QFile>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>

using namespace QtActors;
using testing::EventThread;
using testing::thrownBy;

namespace {

//! What happened to a Tracked state, readable from the test thread.
struct Record
{
    std::atomic<int> handled{0};
    std::atomic<bool> destroyed{false};
    std::atomic<int> handledAtDestruction{-1};
    std::atomic<QThread *> builtOn{nullptr};
    std::atomic<QThread *> destroyedOn{nullptr};
    std::atomic<bool> threadFinished{false};
};

struct Tracked
{
    explicit Tracked(std::shared_ptr<Record> r) : record(std::move(r))
    {
        record->builtOn = QThread::currentThread();
        QThread *thread = QThread::currentThread();
        // Observe the end of a dedicated thread without keeping a pointer to it.
        QObject::connect(thread, &QThread::finished, thread,
                         [r = record] { r->threadFinished = true; }, Qt::DirectConnection);
    }
    Tracked(Tracked &&) = delete;
    ~Tracked()
    {
        record->handledAtDestruction = record->handled.load();
        record->destroyedOn = QThread::currentThread();
        record->destroyed = true;
    }
    std::shared_ptr<Record> record;
};

Options onExecutor(int which, QThread *thread = nullptr)
{
    switch (which) {
    case 1:
        return {.name = QStringLiteral("dedicated"), .executor = Executor::dedicatedThread()};
    case 2:
        return {.name = QStringLiteral("on a thread"), .executor = Executor::thread(thread)};
    default:
        return {.name = QStringLiteral("pooled"), .executor = Executor::pool()};
    }
}

void addExecutorRows()
{
    QTest::addColumn<int>("executor");
    QTest::newRow("pool") << 0;
    QTest::newRow("dedicated thread") << 1;
    QTest::newRow("existing thread") << 2;
}

struct ChildResult
{
    bool hung = false;
    bool exitedNormally = false;
    int exitCode = -1;
    QString out;
    QString err;
};

//! Runs this test executable again with QTACTORS_EXIT_SCENARIO=scenario; output goes to files.
ChildResult runChild(const QString &scenario, int timeoutMs)
{
    ChildResult result;
    const QByteArray exe = QFile::encodeName(QCoreApplication::applicationFilePath());
    const QByteArray base = QByteArray("/tmp/qtactors-exit-") + QByteArray::number(getpid()) + '-';
    const QByteArray outPath = base + "out", errPath = base + "err";
    const QByteArray env = "QTACTORS_EXIT_SCENARIO=" + scenario.toUtf8();
    const pid_t pid = fork();
    if (pid == 0) {
        const int out = ::open(outPath.constData(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int err = ::open(errPath.constData(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::putenv(const_cast<char *>(env.constData()));
        char *argv[] = {const_cast<char *>(exe.constData()), nullptr};
        ::execv(exe.constData(), argv);
        ::_exit(127);
    }
    int status = 0;
    QDeadlineTimer deadline(timeoutMs);
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (deadline.hasExpired()) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            result.hung = true;
            break;
        }
        QThread::msleep(10); // allowed: polling a child process, not waiting for our own work
    }
    result.exitedNormally = !result.hung && WIFEXITED(status);
    result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    auto slurp = [](const QByteArray &path) {
        QFile f(QFile::decodeName(path));
        const QString text = f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
        f.remove();
        return text;
    };
    result.out = slurp(outPath);
    result.err = slurp(errPath);
    return result;
}

} // namespace

class tst_Lifetime : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void queuedMessagesRunAfterTheLastHandleIsGone_data() { addExecutorRows(); }
    void queuedMessagesRunAfterTheLastHandleIsGone()
    {
        QFETCH(int, executor);
        EventThread worker;
        auto record = std::make_shared<Record>();
        std::optional<Call<int>> outstanding;
        {
            auto uut = Actor<Tracked>::emplace(onExecutor(executor, worker.get()), record);
            for (int i = 0; i < 1000; ++i)
                uut.cast([](Tracked &t) { t.record->handled.fetch_add(1); });
            outstanding.emplace(uut.call([](Tracked &t) { return t.record->handled.load(); }));
            uut.cast([](Tracked &t) { t.record->handled.fetch_add(1); });
        } // the last handle goes here, with the queue still full
        QCOMPARE(std::move(*outstanding).wait(), 1000); // outstanding calls complete normally
        QTRY_VERIFY_WITH_TIMEOUT(record->destroyed.load(), 20000);
        QCOMPARE(record->handledAtDestruction.load(), 1001);
        // State is destroyed on its own context (S3).
        if (executor != 0)
            QCOMPARE(record->destroyedOn.load(), record->builtOn.load());
        if (executor == 2)
            QCOMPARE(record->destroyedOn.load(), worker.get());
        if (executor == 1) {
            QVERIFY(record->builtOn.load() != QThread::currentThread());
            QTRY_VERIFY_WITH_TIMEOUT(record->threadFinished.load(), 20000); // the thread ends
        }
    }

    void stopRunsWhatIsQueuedRefusesTheRestAndFinishesAfterState_data() { addExecutorRows(); }
    void stopRunsWhatIsQueuedRefusesTheRestAndFinishesAfterState()
    {
        QFETCH(int, executor);
        EventThread worker;
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        auto uut = Actor<Tracked>::emplace(onExecutor(executor, worker.get()), record);
        std::atomic<bool> gate{false};
        uut.cast([&gate](Tracked &t) {
            QDeadlineTimer deadline(20000);
            while (!gate.load() && !deadline.hasExpired())
                QThread::yieldCurrentThread();
            t.record->handled.fetch_add(1);
        });
        uut.cast([](Tracked &t) { t.record->handled.fetch_add(1); });
        auto beforeStop = uut.call([](Tracked &t) { return t.record->handled.load(); });
        Call<void> stopped = uut.stop();
        QVERIFY(uut.isStopped());
        // Refused from now on.
        uut.cast([](Tracked &t) { t.record->handled.fetch_add(100); });
        auto refused = uut.call([](Tracked &) { return 1; });
        QCOMPARE(thrownBy([&] { std::move(refused).wait(); }), QStringLiteral("ActorStopped"));
        QVERIFY(log.contains(QStringLiteral("a cast was dropped")));
        QVERIFY(!stopped.isFinished());
        QVERIFY(!record->destroyed.load());
        gate = true;
        std::move(stopped).wait();
        QVERIFY(record->destroyed.load()); // stop() finishes only after State is gone
        QCOMPARE(record->handledAtDestruction.load(), 2);
        QCOMPARE(std::move(beforeStop).wait(), 2);
        if (executor != 0)
            QCOMPARE(record->destroyedOn.load(), record->builtOn.load());
    }

    void stopIsIdempotentAndLateStopsFinishAtOnce()
    {
        auto record = std::make_shared<Record>();
        auto uut = Actor<Tracked>::emplace({}, record);
        Call<void> first = uut.stop();
        Call<void> second = uut.stop();
        std::move(first).wait();
        std::move(second).wait();
        Call<void> late = uut.stop();
        QVERIFY(late.isFinished());
        std::move(late).wait();
        QVERIFY(record->destroyed.load());
    }

    void stopFromInsideAHandlerFinishesAfterThatHandler()
    {
        auto record = std::make_shared<Record>();
        auto uut = Actor<Tracked>::emplace({}, record);
        auto c = uut.call([uut](Tracked &t) {
            Call<void> s = uut.stop();
            t.record->handled.fetch_add(1);
            return s;
        });
        std::move(c).wait().wait();
        QCOMPARE(record->handledAtDestruction.load(), 1);
    }

    void weakActorIsNullOnceTheActorIsGone()
    {
        auto record = std::make_shared<Record>();
        WeakActor<Tracked> weak;
        {
            auto uut = Actor<Tracked>::emplace({}, record);
            weak = uut.weak();
            QVERIFY(!weak.lock().isStopped());
        }
        QTRY_VERIFY_WITH_TIMEOUT(record->destroyed.load(), 20000);
        Actor<Tracked> locked = weak.lock();
        QVERIFY(locked.isStopped());
        QCOMPARE(thrownBy([&] { locked.call([](Tracked &) { return 0; }).wait(); }),
                 QStringLiteral("ActorStopped"));
    }

    void movedFromHandleIsNullAndBehavesAsStopped()
    {
        testing::LogCapture log;
        Actor<int> uut(1);
        Actor<int> other = std::move(uut);
        QVERIFY(uut.isStopped()); // NOLINT(bugprone-use-after-move): the documented behaviour
        uut.cast([](int &) { });
        QVERIFY(log.contains(QStringLiteral("null Actor")));
        QCOMPARE(thrownBy([&] { uut.call([](int &n) { return n; }).wait(); }), QStringLiteral("ActorStopped"));
        QVERIFY(uut.stop().isFinished());
        QCOMPARE(other.call([](int &n) { return n; }).wait(), 1);
    }

    void theRuntimeCountsLiveActorsUntilTheyHaveFinished()
    {
        // The registry of live actors (what S28's Monitor and S29's drain stand on).
        // The actors of earlier tests finish in the background (dedicated threads): start from none.
        QTRY_COMPARE_WITH_TIMEOUT(detail::liveActorCount(), qsizetype(0), 20000);
        const qsizetype before = 0;
        std::vector<Actor<int>> actors;
        for (int i = 0; i < 100; ++i)
            actors.emplace_back(i, onExecutor(i % 2));
        QCOMPARE(detail::liveActorCount(), before + 100);
        std::move(actors.front().stop()).wait(); // finished: State destroyed
        QCOMPARE(detail::liveActorCount(), before + 99);
        actors.clear();
        QTRY_COMPARE_WITH_TIMEOUT(detail::liveActorCount(), before, 20000);
    }

    void droppingCallsDoesNotCancelTheirMessages()
    {
        Actor<int> uut(0);
        for (int i = 0; i < 100; ++i)
            static_cast<void>(uut.call([](int &n) { return ++n; }));
        QCOMPARE(uut.call([](int &n) { return n; }).wait(), 100);
    }

    void stateBuiltWithEmplaceLivesOnItsDedicatedThread()
    {
        auto record = std::make_shared<Record>();
        auto uut = Actor<Tracked>::emplace(onExecutor(1), record);
        QThread *handlerThread = uut.call([](Tracked &) { return QThread::currentThread(); }).wait();
        QCOMPARE(record->builtOn.load(), handlerThread);
        QVERIFY(handlerThread != QThread::currentThread());
        QCOMPARE(handlerThread->objectName(), QStringLiteral("dedicated"));
        std::move(uut.stop()).wait();
        QCOMPARE(record->destroyedOn.load(), handlerThread);
        QTRY_VERIFY_WITH_TIMEOUT(record->threadFinished.load(), 20000);
    }

    void processExitWithLiveActorsNeitherCrashesNorHangs_data()
    {
        QTest::addColumn<QString>("scenario");
        QTest::addColumn<QString>("expected");
        QTest::newRow("actors held by statics") << QStringLiteral("statics") << QStringLiteral("statics: done");
        QTest::newRow("std::exit while handlers run") << QStringLiteral("exit-while-busy")
                                                      << QStringLiteral("exit-while-busy: exiting");
        QTest::newRow("application destroyed before main-thread actors")
                << QStringLiteral("app-first") << QStringLiteral("app-first: state destroyed on main thread");
    }
    void processExitWithLiveActorsNeitherCrashesNorHangs()
    {
        QFETCH(QString, scenario);
        QFETCH(QString, expected);
        // A plain fork and exec: QProcess's own spawning is not supported by ThreadSanitizer.
        const ChildResult child = runChild(scenario, 60000);
        QVERIFY2(!child.hung, "the child process hung at exit");
        QVERIFY2(child.exitedNormally, qPrintable(child.err));
        QVERIFY2(child.exitCode == 0, qPrintable(child.err));
        QVERIFY2(child.out.contains(expected), qPrintable(child.out + child.err));
        const QString &err = child.err;
        if (scenario != QStringLiteral("exit-while-busy")) // nothing queued was lost
            QVERIFY2(!err.contains(QStringLiteral("dropped")), qPrintable(err));
    }
};

// ---- Child-process scenarios for S15 ----------------------------------------------------------

namespace {

int runExitScenario(const QByteArray &scenario, int argc, char **argv)
{
    if (scenario == "statics") {
        QCoreApplication app(argc, argv);
        static Actor<int> pooled(0);
        static Actor<int> dedicated(0, {.executor = Executor::dedicatedThread()});
        static Actor<int> onMain(0, {.executor = Executor::thread(QThread::currentThread())});
        for (int i = 0; i < 1000; ++i) {
            pooled.cast([](int &n) { ++n; });
            dedicated.cast([](int &n) { ++n; });
            onMain.cast([](int &n) { ++n; });
        }
        std::move(pooled.flush()).wait();
        std::puts("statics: done");
        std::fflush(stdout);
        return 0; // statics are destroyed after main, with the application already gone
    }
    if (scenario == "exit-while-busy") {
        QCoreApplication app(argc, argv);
        auto *pooled = new Actor<int>(0);
        auto *dedicated = new Actor<int>(0, {.executor = Executor::dedicatedThread()});
        std::atomic<int> running{0};
        for (int i = 0; i < 4; ++i) {
            for (Actor<int> *a : {pooled, dedicated}) {
                a->cast([&running](int &n) {
                    running.fetch_add(1);
                    for (int k = 0; k < 200; ++k) {
                        ++n;
                        QThread::msleep(1); // allowed: simulates slow work inside a handler
                    }
                });
            }
        }
        QDeadlineTimer deadline(20000);
        while (running.load() < 2 && !deadline.hasExpired())
            QThread::yieldCurrentThread();
        std::puts("exit-while-busy: exiting");
        std::fflush(stdout);
        std::exit(0);
    }
    if (scenario == "app-first") {
        auto *app = new QCoreApplication(argc, argv);
        std::atomic<QThread *> destroyedOn{nullptr};
        struct State
        {
            std::atomic<QThread *> *out;
            ~State() { *out = QThread::currentThread(); }
        };
        QThread *mainThread = QThread::currentThread();
        {
            Actor<State> onMain(State{&destroyedOn}, {.executor = Executor::thread(mainThread)});
            onMain.cast([](State &) { });
        } // last handle gone; the event loop never runs again
        delete app;
        std::printf("app-first: state destroyed on %s\n",
                    destroyedOn.load() == mainThread ? "main thread"
                            : destroyedOn.load()     ? "another thread"
                                                     : "no thread (never)");
        std::fflush(stdout);
        return 0;
    }
    std::fprintf(stderr, "unknown scenario %s\n", scenario.constData());
    return 2;
}

} // namespace

int main(int argc, char **argv)
{
    const QByteArray scenario = qgetenv("QTACTORS_EXIT_SCENARIO");
    if (!scenario.isEmpty())
        return runExitScenario(scenario, argc, argv);
    QCoreApplication app(argc, argv);
    tst_Lifetime test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_lifetime.moc"
