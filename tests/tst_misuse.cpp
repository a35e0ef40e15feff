// Misuse and odd handlers (issue 10): a coroutine handler whose move throws (item 5), consuming a
// moved-from Call (item 7), undelivered wake-up events destroyed by Qt (item 8, meaningful under
// ThreadSanitizer) and a Reply handler that throws after it answered (item 9).
// Items 7 and 8 run in child processes: they crash, abort or report by design.
#include "testing.h"

#include <QtCore/QFile>
#include <QtCore/QFuture>
#include <QtCore/QSemaphore>
#include <QtCore/QThread>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

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

// ---- item 5 ---------------------------------------------------------------------------------

struct MoveFlags
{
    std::atomic<bool> armed{ false }; // the next copy or move throws (once)
    std::atomic<bool> threw{ false };
};

//! A coroutine handler whose copy and move constructors throw once armed. It is built into the
//! message unarmed (at call() time); armed, the first copy or move inside the actor's turn throws.
template <typename R>
struct MoveThrows
{
    explicit MoveThrows(std::shared_ptr<MoveFlags> f) : flags(std::move(f)) { }
    MoveThrows(const MoveThrows &other) : flags(other.flags) { maybeThrow(); }
    MoveThrows(MoveThrows &&other) : flags(other.flags)
    {
        maybeThrow();
    } // NOLINT: throws on purpose
    MoveThrows &operator=(const MoveThrows &) = delete;

    QCoro::Task<R> operator()(int &n) const { co_return n + 1; }

    void maybeThrow()
    {
        if (flags->armed.exchange(false)) {
            flags->threw = true;
            throw std::runtime_error("handler move failed");
        }
    }
    std::shared_ptr<MoveFlags> flags;
};

template <>
QCoro::Task<void> MoveThrows<void>::operator()(int &n) const
{
    ++n;
    co_return;
}

struct Gate
{
    std::atomic<bool> open{ false };
};

// ---- child processes (items 7 and 8) ---------------------------------------------------------

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
                .arg(out, err.left(6000));
    }
};

//! Runs this test executable again with QTACTORS_MISUSE_SCENARIO=scenario (a plain fork and exec:
//! QProcess is not usable under ThreadSanitizer); output goes to files.
ChildResult runChild(const QString &scenario, int timeoutMs = 30000)
{
    ChildResult result;
    const QByteArray exe = QFile::encodeName(QCoreApplication::applicationFilePath());
    const QByteArray base =
            QByteArray("/tmp/qtactors-misuse-") + QByteArray::number(getpid()) + '-';
    const QByteArray outPath = base + "out", errPath = base + "err";
    const QByteArray env = "QTACTORS_MISUSE_SCENARIO=" + scenario.toUtf8();
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

bool mentionsMovedOrConsumed(const QString &text)
{
    return text.contains(QStringLiteral("moved"), Qt::CaseInsensitive)
            || text.contains(QStringLiteral("consumed"), Qt::CaseInsensitive);
}

} // namespace

class tst_Misuse : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // issue 10, item 5
    void coroutineCallHandlerWhoseMoveThrowsFailsThatCallAndTheActorGoesOn()
    {
        testing::LogCapture log;
        Actor<int> uut(0, { .name = QStringLiteral("mover") });
        auto gate = std::make_shared<Gate>();
        uut.cast([gate](int &) { spinUntil([&] { return gate->open.load(); }); });
        auto flags = std::make_shared<MoveFlags>();
        auto call = uut.call(MoveThrows<int>(flags)); // queued behind the gate; no throw here
        flags->armed = true;
        gate->open = true;
        auto out = runFor(std::move(call).task());
        QVERIFY2(out->finished, "the call whose handler failed to move never finished");
        if (flags->threw.load()) {
            QCOMPARE(errorKind(out->error), QStringLiteral("handler move failed"));
        } else { // the library never moved the handler in its turn: nothing could fail
            QVERIFY2(!out->error, qPrintable(errorKind(out->error)));
            QCOMPARE(*out->value, 1);
        }
        auto later = runFor(uut.call([](int &n) { return n + 10; }).task());
        QVERIFY2(later->finished, "the actor stayed busy after a handler failed to move");
        QVERIFY2(later->value.has_value(), qPrintable(errorKind(later->error)));
        QCOMPARE(*later->value, flags->threw.load() ? 10 : 11);
        QVERIFY2(!log.contains(QStringLiteral("cast handler")),
                 qPrintable(log.messages().join(u'\n')));
    }

    // issue 10, item 5
    void coroutineCastHandlerWhoseMoveThrowsIsLoggedAndTheActorGoesOn()
    {
        testing::LogCapture log;
        Actor<int> uut(0, { .name = QStringLiteral("mover") });
        auto gate = std::make_shared<Gate>();
        uut.cast([gate](int &) { spinUntil([&] { return gate->open.load(); }); });
        auto flags = std::make_shared<MoveFlags>();
        uut.cast(MoveThrows<void>(flags));
        flags->armed = true;
        gate->open = true;
        auto later = runFor(uut.call([](int &n) { return n + 10; }).task());
        QVERIFY2(later->finished, "the actor stayed busy after a cast handler failed to move");
        QCOMPARE(*later->value, flags->threw.load() ? 10 : 11);
        if (flags->threw.load())
            QVERIFY2(log.contains(QStringLiteral("handler move failed")),
                     qPrintable(log.messages().join(u'\n')));
    }

    // issue 10, item 7
    void consumingAMovedFromCallIsReported_data()
    {
        QTest::addColumn<QString>("way");
        QTest::newRow("wait") << QStringLiteral("wait");
        QTest::newRow("future") << QStringLiteral("future");
        QTest::newRow("task") << QStringLiteral("task");
        QTest::newRow("co_await") << QStringLiteral("co_await");
    }
    void consumingAMovedFromCallIsReported()
    {
        QFETCH(QString, way);
        const ChildResult child = runChild(QStringLiteral("moved-from-") + way);
        QVERIFY2(!child.hung, qPrintable(child.describe()));
#if defined(QT_NO_DEBUG)
        // Release: throws QtActors::Error saying the Call was consumed or moved from.
        QVERIFY2(child.exitedNormally, qPrintable(child.describe()));
        QVERIFY2(child.out.contains(QStringLiteral("kind: Error;")), qPrintable(child.describe()));
        QVERIFY2(mentionsMovedOrConsumed(child.out), qPrintable(child.describe()));
        QVERIFY2(child.exitCode == 0, qPrintable(child.describe()));
#else
        // Debug: a Q_ASSERT with a message fires (qFatal aborts).
        QVERIFY2(child.signal == SIGABRT, qPrintable(child.describe()));
        QVERIFY2(mentionsMovedOrConsumed(child.err), qPrintable(child.describe()));
#endif
    }

    // issue 10, item 8
    void undeliveredWakeUpsDestroyedByQtCauseNoThreadSanitizerReport_data()
    {
        QTest::addColumn<QString>("scenario");
        QTest::newRow("main-thread actor, application destroyed")
                << QStringLiteral("undelivered-main");
        QTest::newRow("main-thread actor, second application destroyed")
                << QStringLiteral("undelivered-second-application");
        QTest::newRow("actor on a busy thread, application destroyed")
                << QStringLiteral("undelivered-thread-at-app-exit");
    }
    void undeliveredWakeUpsDestroyedByQtCauseNoThreadSanitizerReport()
    {
        // Under TSan (halt_on_error=1, inherited by the child) a report makes the child fail;
        // without TSan this checks that the child neither crashes nor hangs.
        QFETCH(QString, scenario);
        const ChildResult child = runChild(scenario);
        QVERIFY2(!child.hung, qPrintable(child.describe()));
        QVERIFY2(!child.err.contains(QStringLiteral("ThreadSanitizer")),
                 qPrintable(child.describe()));
        QVERIFY2(child.exitedNormally && child.exitCode == 0, qPrintable(child.describe()));
        QVERIFY2(child.out.contains(QStringLiteral("done")), qPrintable(child.describe()));
    }

    // issue 10, item 9
    void replyHandlerThrowingAfterItAnsweredIsLogged()
    {
        testing::LogCapture log;
        Actor<int> uut(0, { .name = QStringLiteral("replier") });
        auto c = uut.call([](int &, Reply<int> reply) {
            reply(1);
            throw std::runtime_error("thrown after answering");
        });
        auto out = runFor(std::move(c).task());
        QVERIFY2(out->finished, "the answered call never finished");
        QVERIFY2(out->value.has_value(), qPrintable(errorKind(out->error)));
        QCOMPARE(*out->value, 1);
        QVERIFY2(QTest::qWaitFor(
                         [&] { return log.contains(QStringLiteral("thrown after answering")); },
                         MustFinishMs),
                 qPrintable(QStringLiteral("not logged; the qtactors log was: ")
                            + log.messages().join(u'\n')));
    }
};

// ---- Child-process scenarios ------------------------------------------------------------------

namespace {

QCoro::Task<int> awaitIt(Call<int> call)
{
    co_return co_await std::move(call);
}

//! Item 7: consumes a moved-from Call one way; prints "kind: <kind>; message: <what()>".
int consumeMovedFrom(const QByteArray &way, int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    Actor<int> actor(1);
    Call<int> original = actor.call([](int &n) { return n; });
    Call<int> taken = std::move(original);
    std::exception_ptr error;
    QString outcome;
    try {
        if (way == "wait") {
            std::move(original).wait(); // NOLINT(bugprone-use-after-move): the misuse under test
        } else if (way == "future") {
            QFuture<int> f = std::move(original).future(); // NOLINT(bugprone-use-after-move)
            if (!QTest::qWaitFor([&] { return f.isFinished(); }, MustFinishMs))
                outcome = QStringLiteral("the future never finished");
            else
                static_cast<void>(f.result()); // rethrows what the future carries
        } else if (way == "task") {
            auto out = testing::run(std::move(original).task(),
                                    MustFinishMs); // NOLINT(bugprone-use-after-move)
            if (!out.finished)
                outcome = QStringLiteral("the task never finished");
            error = out.error;
        } else if (way == "co_await") {
            auto out = testing::run(awaitIt(std::move(original)),
                                    MustFinishMs); // NOLINT(bugprone-use-after-move)
            if (!out.finished)
                outcome = QStringLiteral("the co_await never finished");
            error = out.error;
        }
    } catch (...) {
        error = std::current_exception();
    }
    QString message;
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception &e) {
            message = QString::fromUtf8(e.what());
        } catch (...) { }
    }
    std::printf("%s\nkind: %s; message: %s\n", qPrintable(outcome), qPrintable(errorKind(error)),
                qPrintable(message));
    // The Call it was moved into still works.
    const int value = std::move(taken).wait();
    std::printf("the moved-to Call answered %d\n", value);
    std::fflush(stdout);
    return errorKind(error) == QStringLiteral("Error") && mentionsMovedOrConsumed(message)
                    && value == 1
            ? 0
            : 1;
}

//! Casts from another thread, which tells the caller it is done through a QSemaphore: a
//! synchronisation ThreadSanitizer cannot see (Qt is not instrumented), as in an application.
//! The library's own hand-off annotations are then all that orders the sender's writes before
//! the reads on the thread that destroys the wake-up event. Returns the sender, still to be
//! waited for and deleted (after the application is gone).
std::unique_ptr<QThread> castFromAnotherThread(const Actor<int> &actor, std::atomic<int> *handled)
{
    auto done = std::make_shared<QSemaphore>();
    std::unique_ptr<QThread> sender(QThread::create([actor, handled, done] {
        for (int i = 0; i < 100; ++i)
            actor.cast([handled](int &) { handled->fetch_add(1); });
        done->release();
    }));
    sender->start();
    done->acquire();
    return sender;
}

//! Item 8: wake-up events that Qt destroys undelivered.
int undelivered(const QByteArray &scenario, int argc, char **argv)
{
    std::atomic<int> handled{ 0 };
    if (scenario == "undelivered-main") {
        // A main-thread actor with casts queued from another thread; the loop never runs.
        auto *app = new QCoreApplication(argc, argv);
        Actor<int> onMain(0,
                          { .name = QStringLiteral("on main"),
                            .executor = Executor::thread(QThread::currentThread()) });
        auto sender = castFromAnotherThread(onMain, &handled);
        delete app; // with the actor's handle still alive
        sender->wait();
    } else if (scenario == "undelivered-second-application") {
        // The same, with a second QCoreApplication at the address of the first.
        std::optional<QCoreApplication> app;
        for (int pass = 0; pass < 2; ++pass) {
            app.emplace(argc, argv);
            Actor<int> onMain(0,
                              { .name = QStringLiteral("on main"),
                                .executor = Executor::thread(QThread::currentThread()) });
            auto sender = castFromAnotherThread(onMain, &handled);
            app.reset(); // with the actor's handle still alive
            sender->wait();
        }
    } else if (scenario == "undelivered-thread-at-app-exit") {
        // An actor on a running QThread; its wake-up, posted from another thread while that
        // thread is busy, is still queued when the application is destroyed: Qt then discards it
        // inside that thread's running loop.
        auto *app = new QCoreApplication(argc, argv);
        QThread worker;
        worker.start();
        QObject busy;
        busy.moveToThread(&worker);
        auto gate = std::make_shared<Gate>();
        std::atomic<bool> blocking{ false };
        QMetaObject::invokeMethod(&busy, [gate, &blocking] {
            blocking = true;
            spinUntil([&] { return gate->open.load(); });
        });
        spinUntil([&] { return blocking.load(); });
        {
            Actor<int> onWorker(0,
                                { .name = QStringLiteral("on a worker"),
                                  .executor = Executor::thread(&worker) });
            auto sender = castFromAnotherThread(onWorker, &handled);
            delete app;
            gate->open = true;
            sender->wait();
            spinUntil([&] { return handled.load() == 100; }, 2000);
        }
        worker.quit();
        worker.wait();
    } else {
        std::fprintf(stderr, "unknown scenario %s\n", scenario.constData());
        return 100;
    }
    std::printf("%s: done, %d casts handled\n", scenario.constData(), handled.load());
    std::fflush(stdout);
    return 0;
}

int runScenario(const QByteArray &scenario, int argc, char **argv)
{
    if (scenario.startsWith("moved-from-"))
        return consumeMovedFrom(scenario.mid(int(qstrlen("moved-from-"))), argc, argv);
    if (scenario.startsWith("undelivered-"))
        return undelivered(scenario, argc, argv);
    std::fprintf(stderr, "unknown scenario %s\n", scenario.constData());
    return 100;
}

} // namespace

int main(int argc, char **argv)
{
    const QByteArray scenario = qgetenv("QTACTORS_MISUSE_SCENARIO");
    if (!scenario.isEmpty())
        return runScenario(scenario, argc, argv);
    QCoreApplication app(argc, argv);
    tst_Misuse test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_misuse.moc"
