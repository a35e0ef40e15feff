// When the thread under an actor ends (issue 10): a dedicated thread's handler calls quit()
// (item 3), a thread(t) the application owns quits with calls still queued (item 4), and a second
// QCoreApplication in one process (item 6, in a child process). The contract: the actor is then
// stopped; what is queued and what comes later is refused (calls finish with ActorStopped, casts
// are dropped and logged); State is destroyed exactly once, on that thread, before it finishes;
// stop() finishes. Nothing hangs, nothing is used after it is freed.
#include "testing.h"

#include <QtCore/QFile>
#include <QtCore/QLoggingCategory>
#include <QtCore/QThread>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

using namespace QtActors;
using testing::errorKind;

namespace {

constexpr int MustFinishMs = 5000;

//! Runs `task` in a nested event loop for at most `timeoutMs`; the outcome lives on the heap, so a
//! task that finishes after the deadline does not write into a dead stack frame.
template <typename T>
QCoro::Task<> captureInto(QCoro::Task<T> task, std::shared_ptr<testing::Outcome<T>> out)
{
    try {
        if constexpr (std::is_void_v<T>)
            co_await std::move(task);
        else
            out->value.emplace(co_await std::move(task));
    } catch (...) {
        out->error = std::current_exception();
    }
    out->finished = true;
}

template <typename T>
std::shared_ptr<testing::Outcome<T>> runFor(QCoro::Task<T> task, int timeoutMs = MustFinishMs)
{
    auto out = std::make_shared<testing::Outcome<T>>();
    (void)captureInto(std::move(task), out);
    QDeadlineTimer deadline(timeoutMs);
    while (!out->finished && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    return out;
}

template <typename F>
bool spinUntil(F done, int timeoutMs = MustFinishMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!done()) {
        if (deadline.hasExpired())
            return false;
        QThread::yieldCurrentThread();
    }
    return true;
}

//! What happened to a Tracked state, readable from the test thread.
struct Record
{
    std::atomic<int> handled{ 0 };
    std::atomic<int> destroyed{ 0 };
    std::atomic<QThread *> builtOn{ nullptr };
    std::atomic<QThread *> destroyedOn{ nullptr };
    std::atomic<bool> threadFinished{ false };
};

struct Tracked
{
    explicit Tracked(std::shared_ptr<Record> r) : record(std::move(r))
    {
        record->builtOn = QThread::currentThread();
        QThread *thread = QThread::currentThread();
        QObject::connect(
                thread, &QThread::finished, thread, [r = record] { r->threadFinished = true; },
                Qt::DirectConnection);
    }
    Tracked(Tracked &&) = delete;
    ~Tracked()
    {
        record->destroyedOn = QThread::currentThread();
        record->destroyed.fetch_add(1);
    }
    std::shared_ptr<Record> record;
};

//! Where State was destroyed, for QCOMPARE. (Compares addresses only: QCOMPARE on a QThread *
//! would print the object, and the thread may be gone.)
QString whereDestroyed(const Record &r, quintptr expected)
{
    const quintptr on = quintptr(r.destroyedOn.load());
    if (!r.destroyed.load())
        return QStringLiteral("not destroyed");
    if (on == expected)
        return QStringLiteral("on its thread");
    if (on == quintptr(QCoreApplication::instance()->thread()))
        return QStringLiteral("on the main thread");
    return QStringLiteral("on another thread");
}
QString whereDestroyed(const Record &r)
{
    return whereDestroyed(r, quintptr(r.builtOn.load()));
}

//! Keeps the library's log lines (thousands of refused messages) out of a stress test's output.
class QuietLog
{
public:
    QuietLog()
    {
        QLoggingCategory::setFilterRules(QStringLiteral(
                "qtactors.debug=false\nqtactors.info=false\nqtactors.warning=false"));
    }
    ~QuietLog() { QLoggingCategory::setFilterRules(QString()); }
};

//! How the calls queued around a thread's end finished.
struct Tally
{
    int values = 0;
    int stopped = 0;
    int unfinished = 0;
    QStringList other; // anything else: a bug
    QString describe() const
    {
        return QStringLiteral("%1 values, %2 ActorStopped, %3 unfinished, others: %4")
                .arg(values)
                .arg(stopped)
                .arg(unfinished)
                .arg(other.join(u", "));
    }
};

//! Waits (with a deadline) until every call has finished, then sorts their outcomes.
Tally finishAll(std::vector<Call<int>> &calls, int timeoutMs = MustFinishMs)
{
    static_cast<void>(QTest::qWaitFor(
            [&] {
                return std::all_of(calls.begin(), calls.end(),
                                   [](const Call<int> &c) { return c.isFinished(); });
            },
            timeoutMs));
    Tally tally;
    for (Call<int> &c : calls) {
        if (!c.isFinished()) {
            ++tally.unfinished;
            continue;
        }
        try {
            std::move(c).wait(); // finished: does not block
            ++tally.values;
        } catch (...) {
            const QString kind = errorKind(std::current_exception());
            if (kind == QStringLiteral("ActorStopped"))
                ++tally.stopped;
            else
                tally.other.append(kind);
        }
    }
    calls.clear();
    return tally;
}

struct Gate
{
    std::atomic<bool> started{ false };
    std::atomic<bool> open{ false };
};

// ---- child processes (item 6) ----------------------------------------------------------------

struct ChildResult
{
    bool hung = false;
    bool exitedNormally = false;
    int exitCode = -1;
    int signal = 0;
    QString out;
    QString err;
    QString describe() const
    {
        return QStringLiteral("hung=%1 exit=%2 signal=%3\nstdout:\n%4\nstderr:\n%5")
                .arg(hung)
                .arg(exitCode)
                .arg(signal)
                .arg(out, err.left(4000));
    }
};

//! Runs this test executable again with QTACTORS_THREADEND_SCENARIO=scenario (a plain fork and
//! exec: QProcess is not usable under ThreadSanitizer); output goes to files.
ChildResult runChild(const QString &scenario, int timeoutMs)
{
    ChildResult result;
    const QByteArray exe = QFile::encodeName(QCoreApplication::applicationFilePath());
    const QByteArray base =
            QByteArray("/tmp/qtactors-threadend-") + QByteArray::number(getpid()) + '-';
    const QByteArray outPath = base + "out", errPath = base + "err";
    const QByteArray env = "QTACTORS_THREADEND_SCENARIO=" + scenario.toUtf8();
    const pid_t pid = fork();
    if (pid == 0) {
        const int out = ::open(outPath.constData(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int err = ::open(errPath.constData(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::putenv(const_cast<char *>(env.constData()));
        char *argv[] = { const_cast<char *>(exe.constData()), nullptr };
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
    result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    auto slurp = [](const QByteArray &path) {
        QFile f(QFile::decodeName(path));
        const QString text =
                f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
        f.remove();
        return text;
    };
    result.out = slurp(outPath);
    result.err = slurp(errPath);
    return result;
}

} // namespace

class tst_ThreadEnd : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // issue 10, item 3
    void handlerQuittingItsDedicatedThreadStopsTheActor()
    {
        auto record = std::make_shared<Record>();
        auto uut = Actor<Tracked>::emplace(
                { .name = QStringLiteral("quitter"), .executor = Executor::dedicatedThread() },
                record);
        auto gate = std::make_shared<Gate>();
        uut.cast([gate](Tracked &) {
            spinUntil([&] { return gate->open.load(); });
            QThread::currentThread()->quit(); // the classic worker pattern
        });
        std::vector<Call<int>> queued;
        for (int i = 0; i < 100; ++i)
            queued.push_back(uut.call([](Tracked &t) { return ++t.record->handled; }));
        gate->open = true;
        QVERIFY2(QTest::qWaitFor([&] { return record->threadFinished.load(); }, MustFinishMs),
                 "the actor's thread did not end after quit()");
        // Queued when the thread ended: handled or refused, but finished.
        const Tally tally = finishAll(queued);
        QVERIFY2(tally.unfinished == 0 && tally.other.isEmpty(), qPrintable(tally.describe()));
        // Sent after it ended: refused.
        auto late = runFor(uut.call([](Tracked &t) { return ++t.record->handled; }).task());
        QVERIFY2(late->finished, "a call to an actor whose thread ended never finished");
        QCOMPARE(errorKind(late->error), QStringLiteral("ActorStopped"));
        QVERIFY(uut.isStopped());
    }

    // issue 10, item 3
    void stateOfAnActorWhoseThreadQuitIsDestroyedOnceOnThatThreadAndStopFinishes()
    {
        auto record = std::make_shared<Record>();
        auto uut = Actor<Tracked>::emplace(
                { .name = QStringLiteral("quitter"), .executor = Executor::dedicatedThread() },
                record);
        uut.cast([](Tracked &) { QThread::currentThread()->quit(); });
        QVERIFY2(QTest::qWaitFor([&] { return record->threadFinished.load(); }, MustFinishMs),
                 "the actor's thread did not end after quit()");
        QVERIFY2(QTest::qWaitFor([&] { return record->destroyed.load() > 0; }, MustFinishMs),
                 "State was not destroyed when the actor's thread ended");
        QCOMPARE(whereDestroyed(*record), QStringLiteral("on its thread"));
        QVERIFY(record->builtOn.load() != QThread::currentThread());
        auto stopped = runFor(uut.stop().task());
        QVERIFY2(stopped->finished, "stop() never finished on an actor whose thread ended");
        QVERIFY(!stopped->error);
        QCOMPARE(record->destroyed.load(), 1);
    }

    // issue 10, item 3
    void castToAnActorWhoseThreadQuitIsDroppedAndLogged()
    {
        auto record = std::make_shared<Record>();
        auto uut = Actor<Tracked>::emplace(
                { .name = QStringLiteral("quitter"), .executor = Executor::dedicatedThread() },
                record);
        uut.cast([](Tracked &) { QThread::currentThread()->quit(); });
        QVERIFY2(QTest::qWaitFor([&] { return record->threadFinished.load(); }, MustFinishMs),
                 "the actor's thread did not end after quit()");
        testing::LogCapture log;
        uut.cast([](Tracked &t) { t.record->handled.fetch_add(100); });
        QVERIFY2(QTest::qWaitFor([&] { return !log.messages().isEmpty(); }, MustFinishMs),
                 "the dropped cast was not logged on qtactors");
        QVERIFY2(log.contains(QStringLiteral("quitter")), qPrintable(log.messages().join(u'\n')));
        QCOMPARE(record->handled.load(), 0);
    }

    // issue 10, item 3
    void dedicatedThreadQuittingUnderConcurrentSendsFinishesEveryCall()
    {
        const QuietLog quiet;
        const int rounds = testing::scaled(200);
        constexpr int Senders = 3;
        constexpr int PerSender = 100;
        for (int round = 0; round < rounds; ++round) {
            auto record = std::make_shared<Record>();
            auto uut = Actor<Tracked>::emplace(
                    { .name = QStringLiteral("quitter"), .executor = Executor::dedicatedThread() },
                    record);
            std::atomic<int> sent{ 0 };
            std::vector<std::vector<Call<int>>> calls(Senders);
            std::vector<std::thread> senders;
            for (int s = 0; s < Senders; ++s) {
                senders.emplace_back([uut, &sent, &mine = calls[s]] {
                    for (int i = 0; i < PerSender; ++i) {
                        uut.cast([](Tracked &t) { t.record->handled.fetch_add(1); });
                        mine.push_back(
                                uut.call([](Tracked &t) { return t.record->handled.load(); }));
                        sent.fetch_add(1);
                    }
                });
            }
            QVERIFY(spinUntil([&] { return sent.load() >= Senders * PerSender / 3; }));
            uut.cast([](Tracked &) { QThread::currentThread()->quit(); });
            for (auto &t : senders)
                t.join(); // cast and call never block
            std::vector<Call<int>> all;
            for (auto &mine : calls)
                for (auto &c : mine)
                    all.push_back(std::move(c));
            const Tally tally = finishAll(all);
            QVERIFY2(tally.unfinished == 0 && tally.other.isEmpty(),
                     qPrintable(QStringLiteral("round %1: %2").arg(round).arg(tally.describe())));
            auto stopped = runFor(uut.stop().task());
            QVERIFY2(stopped->finished,
                     qPrintable(QStringLiteral("round %1: stop() never finished").arg(round)));
            QCOMPARE(record->destroyed.load(), 1);
            QVERIFY2(whereDestroyed(*record) == QStringLiteral("on its thread"),
                     qPrintable(QStringLiteral("round %1: State destroyed %2")
                                        .arg(round)
                                        .arg(whereDestroyed(*record))));
        }
    }

    // issue 10, item 4
    void everyCallQueuedOnAThreadThatEndsFinishes_data()
    {
        QTest::addColumn<bool>("deleteThread");
        QTest::newRow("thread waited for") << false;
        QTest::newRow("thread deleted") << true;
    }
    void everyCallQueuedOnAThreadThatEndsFinishes()
    {
        QFETCH(bool, deleteThread);
        auto thread = std::make_unique<QThread>();
        thread->start();
        const quintptr threadId = quintptr(thread.get());
        auto record = std::make_shared<Record>();
        auto uut = Actor<Tracked>::emplace(
                { .name = QStringLiteral("on t"), .executor = Executor::thread(thread.get()) },
                record);
        auto gate = std::make_shared<Gate>();
        std::vector<Call<int>> calls;
        calls.push_back(uut.call([gate](Tracked &t) {
            gate->started = true;
            spinUntil([&] { return gate->open.load(); });
            return ++t.record->handled;
        }));
        for (int i = 1; i < 300; ++i)
            calls.push_back(uut.call([](Tracked &t) { return ++t.record->handled; }));
        QVERIFY(spinUntil([&] { return gate->started.load(); })); // the other 299 are queued
        thread->quit();
        gate->open = true; // the running handler returns first
        if (!thread->wait(MustFinishMs)) {
            static_cast<void>(thread.release()); // still running: deleting it would abort
            QFAIL("the thread did not end after quit()");
        }
        if (deleteThread)
            thread.reset();
        const Tally tally = finishAll(calls);
        QVERIFY2(tally.unfinished == 0 && tally.other.isEmpty(), qPrintable(tally.describe()));
        QVERIFY2(tally.values >= 1, qPrintable(tally.describe())); // the first one ran
        // While t still ran, State was destroyed there, once.
        QCOMPARE(record->destroyed.load(), 1);
        QCOMPARE(whereDestroyed(*record, threadId), QStringLiteral("on its thread"));
        auto late = uut.call([](Tracked &t) { return ++t.record->handled; });
        QVERIFY2(late.isFinished(), "a call sent after the thread ended did not finish at once");
        QCOMPARE(testing::thrownBy([&] { std::move(late).wait(); }),
                 QStringLiteral("ActorStopped"));
        auto stopped = runFor(uut.stop().task());
        QVERIFY2(stopped->finished, "stop() never finished on an actor whose thread ended");
        QCOMPARE(record->destroyed.load(), 1);
    }

    // issue 10, item 4
    void sendsRacingTheEndOfAnExecutorsThreadAllFinish()
    {
        const QuietLog quiet;
        const int rounds = testing::scaled(200);
        constexpr int Senders = 3;
        constexpr int PerSender = 100;
        for (int round = 0; round < rounds; ++round) {
            auto thread = std::make_unique<QThread>();
            thread->start();
            const quintptr threadId = quintptr(thread.get());
            auto record = std::make_shared<Record>();
            auto uut = Actor<Tracked>::emplace(
                    { .name = QStringLiteral("on t"), .executor = Executor::thread(thread.get()) },
                    record);
            std::atomic<int> sent{ 0 };
            std::vector<std::vector<Call<int>>> calls(Senders);
            std::vector<std::thread> senders;
            for (int s = 0; s < Senders; ++s) {
                senders.emplace_back([uut, &sent, &mine = calls[s]] {
                    for (int i = 0; i < PerSender; ++i) {
                        uut.cast([](Tracked &t) { t.record->handled.fetch_add(1); });
                        mine.push_back(
                                uut.call([](Tracked &t) { return t.record->handled.load(); }));
                        sent.fetch_add(1);
                    }
                });
            }
            QVERIFY(spinUntil([&] { return sent.load() >= Senders * PerSender / 3; }));
            thread->quit();
            const bool ended = thread->wait(MustFinishMs);
            for (auto &t : senders)
                t.join(); // cast and call never block
            if (!ended) {
                static_cast<void>(thread.release());
                QFAIL(qPrintable(QStringLiteral("round %1: the thread did not end").arg(round)));
            }
            thread.reset();
            std::vector<Call<int>> all;
            for (auto &mine : calls)
                for (auto &c : mine)
                    all.push_back(std::move(c));
            const Tally tally = finishAll(all);
            QVERIFY2(tally.unfinished == 0 && tally.other.isEmpty(),
                     qPrintable(QStringLiteral("round %1: %2").arg(round).arg(tally.describe())));
            auto late = uut.call([](Tracked &t) { return t.record->handled.load(); });
            QVERIFY2(late.isFinished(),
                     qPrintable(QStringLiteral("round %1: a late call did not finish at once")
                                        .arg(round)));
            auto stopped = runFor(uut.stop().task());
            QVERIFY2(stopped->finished,
                     qPrintable(QStringLiteral("round %1: stop() never finished").arg(round)));
            QCOMPARE(record->destroyed.load(), 1);
            QVERIFY2(whereDestroyed(*record, threadId) == QStringLiteral("on its thread"),
                     qPrintable(QStringLiteral("round %1: State destroyed %2")
                                        .arg(round)
                                        .arg(whereDestroyed(*record, threadId))));
        }
    }

    // issue 10, item 6
    void secondApplicationInOneProcessDrainsMainThreadActorsToo()
    {
        const ChildResult child = runChild(QStringLiteral("second-application"), 30000);
        QVERIFY2(!child.hung, qPrintable(child.describe()));
        QVERIFY2(child.exitedNormally && child.exitCode == 0, qPrintable(child.describe()));
        QVERIFY2(child.out.count(QStringLiteral("1000 of 1000 casts drained on the main thread; "
                                                "State destroyed on the main thread"))
                         == 2,
                 qPrintable(child.describe()));
    }
};

// ---- Child-process scenarios ------------------------------------------------------------------

namespace {

//! Item 6: QCoreApplication created twice (at the same address), each time with a main-thread
//! actor holding 1000 undelivered casts when the application is destroyed.
int secondApplication(int argc, char **argv)
{
    struct Drained
    {
        std::atomic<int> onMainThread{ 0 };
        std::atomic<QThread *> destroyedOn{ nullptr };
    };
    struct State
    {
        std::shared_ptr<Drained> drained;
        ~State()
        {
            if (drained) // not a moved-from State
                drained->destroyedOn = QThread::currentThread();
        }
    };
    std::optional<QCoreApplication> app; // the same storage, so the second one reuses the address
    int failures = 0;
    for (int pass = 1; pass <= 2; ++pass) {
        app.emplace(argc, argv);
        QThread *mainThread = QThread::currentThread();
        auto drained = std::make_shared<Drained>();
        {
            Actor<State> onMain(State{ drained },
                                { .name = QStringLiteral("on main"),
                                  .executor = Executor::thread(mainThread) });
            for (int i = 0; i < 1000; ++i) {
                onMain.cast([mainThread](State &s) {
                    if (QThread::currentThread() == mainThread)
                        s.drained->onMainThread.fetch_add(1);
                });
            }
        } // the last handle goes; the event loop never runs
        const void *address = &*app;
        app.reset();
        QThread *destroyedOn = drained->destroyedOn.load();
        const int count = drained->onMainThread.load();
        std::printf("application %d at %p: %d of 1000 casts drained on the main thread; State "
                    "destroyed on %s\n",
                    pass, address, count,
                    destroyedOn == mainThread ? "the main thread"
                            : destroyedOn     ? "another thread"
                                              : "no thread (not yet)");
        std::fflush(stdout);
        if (count != 1000 || destroyedOn != mainThread)
            failures |= pass;
    }
    return failures;
}

int runScenario(const QByteArray &scenario, int argc, char **argv)
{
    if (scenario == "second-application")
        return secondApplication(argc, argv);
    std::fprintf(stderr, "unknown scenario %s\n", scenario.constData());
    return 100;
}

} // namespace

int main(int argc, char **argv)
{
    const QByteArray scenario = qgetenv("QTACTORS_THREADEND_SCENARIO");
    if (!scenario.isEmpty())
        return runScenario(scenario, argc, argv);
    QCoreApplication app(argc, argv);
    tst_ThreadEnd test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_threadend.moc"
