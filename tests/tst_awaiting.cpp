// Awaiting inside and around actors (issue 10): several calls awaited at once inside one coroutine
// handler (item 1), where coroutines started inside plain handlers or on plain threads resume
// (S10, item 2), and co_await on the actor's own stop() (S11, item 10).
// Every wait here has a deadline: a wedged actor shows up as a failed check, never as a hang.
#include "testing.h"

#include <QtCore/QThread>

#include <QCoroTask>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

using namespace QtActors;
using enum testing::Where;
using testing::EventThread;
using testing::onExecutor;
using testing::errorKind;

namespace {

constexpr int MustFinishMs = 5000; // "must finish" checks: the answer is there in microseconds

//! Runs `task` in a nested event loop for at most `timeoutMs`. Unlike testing::run, the outcome
//! lives on the heap: a task that finishes after the deadline writes into it, not into a dead
//! stack frame. Check `finished` with QVERIFY2.
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
    (void)captureInto(std::move(task), out); // detached: it keeps `out` alive
    QDeadlineTimer deadline(timeoutMs);
    while (!out->finished && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    return out;
}

//! Spins (yielding) until `done()` or the deadline; true if done. For use off the main thread.
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

void addExecutorRows()
{
    QTest::newRow("pool") << int(Pool);
    QTest::newRow("dedicated thread") << int(Dedicated);
    QTest::newRow("main thread") << int(MainThread);
    QTest::newRow("another QThread") << int(OtherThread);
}

//! Stops `actor` and waits (with a deadline) for it, so that thread(t) actors end before t does.
template <typename S>
bool stopWithin(const Actor<S> &actor, int timeoutMs = MustFinishMs)
{
    return runFor(actor.stop().task(), timeoutMs)->finished;
}

// ---- item 1: several calls awaited at once --------------------------------------------------

//! QCoro 0.8 has no whenAll(); this is the combinator users write: the tasks already run
//! (QCoro tasks start eagerly), so their calls are all in flight while it awaits them.
template <typename T>
QCoro::Task<std::vector<T>> whenAll(std::vector<QCoro::Task<T>> tasks)
{
    std::vector<T> values;
    for (auto &task : tasks)
        values.push_back(co_await std::move(task));
    co_return values;
}

struct Answers
{
    std::atomic<bool> go{ false };
    std::atomic<int> answered{ 0 };
};

//! The body of a coroutine handler: starts `count` calls to `other` (each answers i + 1), lets
//! them answer only once all are in flight, and, with `answersFirst`, waits until every answer has
//! been published before the first co_await (so that every wake-up arrives at once). Returns the
//! sum of the answers, or -1 if the answers did not come.
QCoro::Task<int> awaitSeveralAtOnce(Actor<int> other, int count, bool useWhenAll, bool answersFirst)
{
    auto answers = std::make_shared<Answers>();
    std::vector<QCoro::Task<int>> tasks;
    for (int i = 0; i < count; ++i) {
        auto answer = [answers, i](int &, Reply<int> reply) {
            spinUntil([&] { return answers->go.load(); });
            reply(i + 1);
            answers->answered.fetch_add(1);
        };
        tasks.push_back(other.call(answer).task());
    }
    answers->go = true;
    if (answersFirst && !spinUntil([&] { return answers->answered.load() == count; }))
        co_return -1;
    int sum = 0;
    if (useWhenAll) {
        const std::vector<int> values = co_await whenAll(std::move(tasks));
        for (int v : values)
            sum += v;
    } else {
        for (auto &task : tasks)
            sum += co_await std::move(task);
    }
    co_return sum;
}

struct StartGate
{
    std::atomic<int> ready{ 0 };
};

//! A Reply handler that hands its Reply to a std::thread; the thread answers `value` once both
//! answerers stand at `gate`, so that the two answers are published at the same instant.
auto answerFromAThread(std::shared_ptr<StartGate> gate, int value)
{
    return [gate, value](int &, Reply<int> reply) {
        std::thread([gate, value, reply = std::move(reply)] {
            gate->ready.fetch_add(1);
            spinUntil([&] { return gate->ready.load() >= 2; });
            reply(value);
        }).detach();
    };
}

QCoro::Task<int> awaitTwoAnsweredTogether(Actor<int> other)
{
    auto gate = std::make_shared<StartGate>();
    auto t1 = other.call(answerFromAThread(gate, 1)).task();
    auto t2 = other.call(answerFromAThread(gate, 2)).task();
    const int a = co_await std::move(t1);
    const int b = co_await std::move(t2);
    co_return a + b;
}

int sumUpTo(int count)
{
    return count * (count + 1) / 2;
}

// ---- item 2: where coroutines resume ----------------------------------------------------------

struct ResumeProbe
{
    std::atomic<bool> gate{ false };
    std::atomic<int> value{ 0 };
    std::atomic<QThread *> resumedOn{ nullptr };
};

//! Started (and dropped) inside a plain handler: awaits a call, then notes where it resumed.
QCoro::Task<> recordWhereItResumes(Actor<int> answering, std::shared_ptr<ResumeProbe> probe)
{
    // The answer waits for the gate, so this coroutine surely suspends on it.
    auto c = answering.call([probe](int &n) {
        spinUntil([&] { return probe->gate.load(); });
        return n + 1;
    });
    const int value = co_await std::move(c);
    probe->value = value;
    probe->resumedOn = QThread::currentThread();
}

struct PlainThreadProbe
{
    std::atomic<bool> gate{ false };
    std::atomic<QThread *> answeredOn{ nullptr };
    std::atomic<QThread *> firstResumedOn{ nullptr };
    std::atomic<bool> insideAnswererAfterFirst{ true };
    std::atomic<bool> insideAnswererAfterSecond{ true };
    std::atomic<int> sum{ 0 };
    std::atomic<bool> finished{ false };
};

//! Started on a plain std::thread: awaits two calls to `answering` in a row.
QCoro::Task<> awaitTwiceInARow(Actor<int> answering, std::shared_ptr<PlainThreadProbe> probe)
{
    // The first answer waits for the gate, so this coroutine surely suspends on it.
    auto first = answering.call([probe](int &n) {
        spinUntil([&] { return probe->gate.load(); });
        probe->answeredOn = QThread::currentThread();
        return n + 1;
    });
    const int a = co_await std::move(first);
    probe->firstResumedOn = QThread::currentThread();
    probe->insideAnswererAfterFirst = answering.isCurrent();
    auto second = answering.call([](int &n) { return n + 2; });
    const int b = co_await std::move(second);
    probe->insideAnswererAfterSecond = answering.isCurrent();
    probe->sum = a + b;
    probe->finished = true;
}

// ---- item 10: co_await on the actor's own stop() ---------------------------------------------

QCoro::Task<QString> awaitOwnStop(Actor<int> self)
{
    try {
        auto stopped = self.stop();
        co_await std::move(stopped);
    } catch (...) {
        co_return errorKind(std::current_exception());
    }
    co_return QStringLiteral("none");
}

} // namespace

class tst_Awaiting : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // issue 10, item 1
    void callsAwaitedAtOnceInsideACoroutineHandlerAllArrive_data()
    {
        QTest::addColumn<int>("executor");
        QTest::addColumn<int>("count");
        QTest::addColumn<bool>("useWhenAll");
        for (auto [where, name] :
             { std::pair(Pool, "pool"), std::pair(Dedicated, "dedicated thread"),
               std::pair(MainThread, "main thread"), std::pair(OtherThread, "another QThread") }) {
            QTest::addRow("%s, 2 in turn", name) << int(where) << 2 << false;
            QTest::addRow("%s, 2 whenAll", name) << int(where) << 2 << true;
            QTest::addRow("%s, 3 in turn", name) << int(where) << 3 << false;
            QTest::addRow("%s, 8 whenAll", name) << int(where) << 8 << true;
        }
    }
    void callsAwaitedAtOnceInsideACoroutineHandlerAllArrive()
    {
        QFETCH(int, executor);
        QFETCH(int, count);
        QFETCH(bool, useWhenAll);
        EventThread worker;
        Actor<int> other(
                0, { .name = QStringLiteral("answerer"), .executor = Executor::dedicatedThread() });
        Actor<int> uut(0, onExecutor(executor, worker.get(), QStringLiteral("awaiter")));
        // Every answer is published before the handler's first co_await: all wake-ups at once.
        auto handler = [other, count, useWhenAll](int &) {
            return awaitSeveralAtOnce(other, count, useWhenAll, true);
        };
        auto out = runFor(uut.call(handler).task());
        QVERIFY2(out->finished,
                 "the coroutine handler awaiting several calls at once never finished");
        QVERIFY2(!out->error, qPrintable(errorKind(out->error)));
        QCOMPARE(*out->value, sumUpTo(count));
        // The actor is free again: a later message runs.
        auto later = runFor(uut.call([](int &n) { return n + 41; }).task());
        QVERIFY2(later->finished, "the actor stayed busy after the handler finished");
        QCOMPARE(*later->value, 41);
        QVERIFY(stopWithin(uut));
    }

    // issue 10, item 1
    void callsAwaitedAtOnceWhileSuspendedAllArrive_data()
    {
        QTest::addColumn<int>("executor");
        addExecutorRows();
    }
    void callsAwaitedAtOnceWhileSuspendedAllArrive()
    {
        // The answers come while the handler is suspended on the first of them.
        QFETCH(int, executor);
        EventThread worker;
        Actor<int> other(0, { .name = QStringLiteral("answerer") });
        Actor<int> uut(0, onExecutor(executor, worker.get(), QStringLiteral("awaiter")));
        auto handler = [other](int &) { return awaitSeveralAtOnce(other, 8, false, false); };
        for (int round = 0; round < 20; ++round) {
            auto out = runFor(uut.call(handler).task());
            QVERIFY2(out->finished,
                     qPrintable(QStringLiteral("round %1 never finished").arg(round)));
            QCOMPARE(*out->value, sumUpTo(8));
        }
        QVERIFY(stopWithin(uut));
    }

    // issue 10, item 1
    void callsAwaitedAtOnceSurviveStressFromSeveralCallerThreads_data()
    {
        QTest::addColumn<int>("executor");
        QTest::newRow("pool") << int(Pool);
        QTest::newRow("dedicated thread") << int(Dedicated);
    }
    void callsAwaitedAtOnceSurviveStressFromSeveralCallerThreads()
    {
        QFETCH(int, executor);
        struct Shared
        {
            explicit Shared(Options options) : uut(0, std::move(options)) { }
            Actor<int> other{ 0, { .name = QStringLiteral("answerer") } };
            Actor<int> uut;
            std::atomic<int> completed{ 0 };
            std::atomic<int> wrong{ 0 };
            std::atomic<int> callersDone{ 0 };
        };
        auto shared =
                std::make_shared<Shared>(onExecutor(executor, nullptr, QStringLiteral("awaiter")));
        constexpr int Callers = 3;
        const int rounds = testing::scaled(300);
        std::vector<std::thread> callers;
        for (int c = 0; c < Callers; ++c) {
            callers.emplace_back([shared, rounds, c] {
                Actor<int> other = shared->other;
                auto handler = [other, c](int &) {
                    return awaitSeveralAtOnce(other, 2 + c, c == 1, false);
                };
                for (int r = 0; r < rounds; ++r) {
                    auto call = shared->uut.call(handler);
                    if (std::move(call).wait() != sumUpTo(2 + c))
                        shared->wrong.fetch_add(1);
                    shared->completed.fetch_add(1);
                }
                shared->callersDone.fetch_add(1);
            });
        }
        // Fails when no round finished for MustFinishMs (a wedged actor), not on slowness.
        int seen = -1;
        QDeadlineTimer idle(MustFinishMs);
        while (shared->callersDone.load() < Callers && !idle.hasExpired()) {
            if (shared->completed.load() != seen) {
                seen = shared->completed.load();
                idle.setRemainingTime(MustFinishMs);
            }
            QThread::yieldCurrentThread();
        }
        const bool allDone = shared->callersDone.load() == Callers;
        for (auto &t : callers) {
            if (allDone)
                t.join();
            else
                t.detach(); // blocked for ever in wait(); they own `shared`
        }
        QVERIFY2(allDone,
                 qPrintable(QStringLiteral("wedged after %1 of %2 rounds")
                                    .arg(shared->completed.load())
                                    .arg(Callers * rounds)));
        QCOMPARE(shared->wrong.load(), 0);
    }

    // issue 10, item 1
    void twoCallsAnsweredAtTheSameInstantFromTwoThreadsBothArrive()
    {
        Actor<int> other(0, { .name = QStringLiteral("hands replies out") });
        Actor<int> uut(0, { .name = QStringLiteral("awaiter") });
        auto handler = [other](int &) { return awaitTwoAnsweredTogether(other); };
        const int rounds = testing::scaled(300);
        for (int round = 0; round < rounds; ++round) {
            auto out = runFor(uut.call(handler).task());
            QVERIFY2(out->finished,
                     qPrintable(QStringLiteral("round %1 of %2 never finished")
                                        .arg(round)
                                        .arg(rounds)));
            QVERIFY2(!out->error, qPrintable(errorKind(out->error)));
            QCOMPARE(*out->value, 3);
        }
    }

    // issue 10, item 2 (a)
    void detachedCoroutineStartedInAPlainHandlerResumesOnTheHostsThread_data()
    {
        QTest::addColumn<int>("executor");
        QTest::newRow("dedicated thread") << int(Dedicated);
        QTest::newRow("main thread") << int(MainThread);
        QTest::newRow("another QThread") << int(OtherThread);
    }
    void detachedCoroutineStartedInAPlainHandlerResumesOnTheHostsThread()
    {
        QFETCH(int, executor);
        EventThread worker;
        Actor<int> answering(1, { .name = QStringLiteral("answering") });
        Actor<int> host(0, onExecutor(executor, worker.get(), QStringLiteral("host")));
        auto probe = std::make_shared<ResumeProbe>();
        host.cast([answering, probe](int &) {
            (void)recordWhereItResumes(answering, probe); // suspends on its co_await
            probe->gate = true;
        });
        auto hostThread = runFor(host.call([](int &) { return QThread::currentThread(); }).task());
        QVERIFY2(hostThread->finished, "the host did not answer");
        QVERIFY2(QTest::qWaitFor([&] { return probe->resumedOn.load() != nullptr; }, MustFinishMs),
                 "the coroutine started in a plain handler never resumed after its co_await");
        QCOMPARE(probe->value.load(), 2);
        QVERIFY2(probe->resumedOn.load() == *hostThread->value,
                 "the coroutine resumed on another thread than its host's");
        QVERIFY(stopWithin(host));
    }

    // issue 10, item 2 (b)
    void coroutineOnAPlainThreadAwaitsTwiceAndResumesOutsideTheAnsweringActor_data()
    {
        QTest::addColumn<int>("executor");
        QTest::newRow("pool") << int(Pool);
        QTest::newRow("dedicated thread") << int(Dedicated);
    }
    void coroutineOnAPlainThreadAwaitsTwiceAndResumesOutsideTheAnsweringActor()
    {
        QFETCH(int, executor);
        Actor<int> answering(1, onExecutor(executor, nullptr, QStringLiteral("answering")));
        auto probe = std::make_shared<PlainThreadProbe>();
        std::thread plain([answering, probe] {
            (void)awaitTwiceInARow(answering, probe); // suspends on the first call
            probe->gate = true;
        });
        plain.join(); // the plain thread ends; the coroutine lives on where it is resumed
        QVERIFY2(spinUntil([&] { return probe->finished.load(); }),
                 "a coroutine on a plain thread never finished its second co_await");
        QCOMPARE(probe->sum.load(), 2 + 3);
        // (pointers compared, not QCOMPARE'd: that would print a QThread that may be gone)
        QVERIFY2(probe->firstResumedOn.load() == probe->answeredOn.load(),
                 "after its first co_await the coroutine did not run on the thread that answered");
        QVERIFY2(!probe->insideAnswererAfterFirst.load(),
                 "after its first co_await the coroutine ran inside the answering actor's turn");
        QVERIFY(!probe->insideAnswererAfterSecond.load());
    }

    // issue 10, item 10
    void coAwaitingItsOwnStopInsideAHandlerFailsWithDeadlock_data()
    {
        QTest::addColumn<int>("executor");
        QTest::newRow("pool") << int(Pool);
        QTest::newRow("dedicated thread") << int(Dedicated);
        QTest::newRow("main thread") << int(MainThread);
    }
    void coAwaitingItsOwnStopInsideAHandlerFailsWithDeadlock()
    {
        QFETCH(int, executor);
        Actor<int> uut(0, onExecutor(executor, nullptr, QStringLiteral("self-stopper")));
        auto handler = [self = uut](int &) { return awaitOwnStop(self); };
        auto out = runFor(uut.call(handler).task());
        QVERIFY2(out->finished, "co_await self.stop() inside its own handler hung");
        QVERIFY2(!out->error, qPrintable(errorKind(out->error)));
        QCOMPARE(*out->value, QStringLiteral("Deadlock"));
        QVERIFY2(stopWithin(uut), "stop() from outside did not finish afterwards");
    }
};

QTEST_GUILESS_MAIN(tst_Awaiting)
#include "tst_awaiting.moc"
