// Errors and bad use: exceptions in handlers (S8), stopped and null actors (S9), wait() on your
// own context (S11), the same exception types through every way of waiting (S12).
#include "testing.h"

#include <QtCore/QTimer>

#include <atomic>
#include <stdexcept>

using namespace QtActors;
using testing::errorKind;
using testing::run;
using testing::thrownBy;

namespace {

struct CustomError : std::runtime_error
{
    explicit CustomError(int c) : std::runtime_error("custom"), code(c) { }
    int code;
};

QCoro::Task<int> awaitCall(Call<int> c)
{
    co_return co_await std::move(c);
}

} // namespace

class tst_Errors : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void callHandlerExceptionReachesEveryWayOfWaiting_data()
    {
        QTest::addColumn<int>("way");
        QTest::newRow("wait") << 0;
        QTest::newRow("future") << 1;
        QTest::newRow("co_await") << 2;
        QTest::newRow("task") << 3;
    }
    void callHandlerExceptionReachesEveryWayOfWaiting()
    {
        QFETCH(int, way);
        Actor<int> uut(0);
        auto c = uut.call([](int &) -> int { throw CustomError(7); });
        std::exception_ptr error;
        switch (way) {
        case 0:
            try {
                std::move(c).wait();
            } catch (...) {
                error = std::current_exception();
            }
            break;
        case 1: {
            QFuture<int> f = std::move(c).future();
            try {
                f.waitForFinished();
                static_cast<void>(f.result());
            } catch (...) {
                error = std::current_exception();
            }
            // QFuture hands the exception over under a lock inside uninstrumented Qt, which
            // ThreadSanitizer cannot see; a flush gives it a visible happens-before edge.
            std::move(uut.flush()).wait();
            break;
        }
        case 2:
            error = run(awaitCall(std::move(c))).error;
            break;
        case 3:
            error = run(std::move(c).task()).error;
            break;
        }
        QVERIFY(error);
        // The original type and its data arrive, not a copy sliced to std::exception.
        try {
            std::rethrow_exception(error);
        } catch (const CustomError &e) {
            QCOMPARE(e.code, 7);
        } catch (...) {
            QFAIL("the handler's exception type was lost");
        }
        QCOMPARE(uut.call([](int &n) { return n + 1; }).wait(), 1); // the actor goes on
    }

    void castHandlerExceptionIsLoggedWithTheActorsNameAndTheActorGoesOn()
    {
        testing::LogCapture log;
        Actor<int> uut(0, {.name = QStringLiteral("fragile")});
        uut.cast([](int &) { throw std::runtime_error("cast went wrong"); });
        uut.cast([](int &n) { ++n; });
        QCOMPARE(uut.call([](int &n) { return n; }).wait(), 1);
        const QStringList messages = log.messages();
        QCOMPARE(messages.size(), 1);
        QVERIFY(messages.first().contains(QStringLiteral("fragile")));
        QVERIFY(messages.first().contains(QStringLiteral("cast went wrong")));
    }

    void coroutineCastExceptionIsLogged()
    {
        testing::LogCapture log;
        Actor<int> other(0);
        Actor<int> uut(0, {.name = QStringLiteral("co")});
        uut.cast([other](int &) -> QCoro::Task<void> {
            auto c = other.call([](int &n) { return n; });
            co_await std::move(c);
            throw std::runtime_error("after the await");
        });
        std::move(uut.flush()).wait();
        QVERIFY(log.contains(QStringLiteral("after the await")));
    }

    void nonStandardExceptionsAreReportedToo()
    {
        testing::LogCapture log;
        Actor<int> uut(0);
        auto c = uut.call([](int &) -> int { throw 42; });
        QCOMPARE(thrownBy([&] { std::move(c).wait(); }), QStringLiteral("unknown"));
        uut.cast([](int &) { throw 43; });
        std::move(uut.flush()).wait();
        QVERIFY(log.contains(QStringLiteral("not derived from std::exception")));
    }

    void callToAStoppedActorFailsWithActorStoppedEverywhere()
    {
        Actor<int> uut(0, {.name = QStringLiteral("gone")});
        std::move(uut.stop()).wait();
        QCOMPARE(thrownBy([&] { uut.call([](int &n) { return n; }).wait(); }), QStringLiteral("ActorStopped"));
        QFuture<int> f = uut.call([](int &n) { return n; }).future();
        QCOMPARE(thrownBy([&] { static_cast<void>(f.result()); }), QStringLiteral("ActorStopped"));
        QCOMPARE(errorKind(run(awaitCall(uut.call([](int &n) { return n; }))).error),
                 QStringLiteral("ActorStopped"));
        try {
            uut.call([](int &n) { return n; }).wait();
        } catch (const ActorStopped &e) {
            QVERIFY(QString::fromUtf8(e.what()).contains(QStringLiteral("gone")));
        }
    }

    void castToAStoppedActorIsDroppedAndLoggedWithoutThrowing()
    {
        testing::LogCapture log;
        Actor<int> uut(0, {.name = QStringLiteral("closed")});
        std::move(uut.stop()).wait();
        uut.cast([](int &) { QFAIL("must not run"); });
        QVERIFY(log.contains(QStringLiteral("'closed' is stopped; a cast was dropped")));
    }

    void waitInsideTheActorsOwnHandlerThrowsDeadlock_data()
    {
        QTest::addColumn<int>("executor");
        QTest::newRow("pool") << 0;
        QTest::newRow("dedicated thread") << 1;
    }
    void waitInsideTheActorsOwnHandlerThrowsDeadlock()
    {
        QFETCH(int, executor);
        Actor<int> uut(0, {.name = QStringLiteral("self"),
                           .executor = executor ? Executor::dedicatedThread() : Executor::pool()});
        auto outcome = uut.call([uut](int &) {
            return thrownBy([&] { uut.call([](int &n) { return n; }).wait(); });
        });
        QCOMPARE(std::move(outcome).wait(), QStringLiteral("Deadlock"));
        QCOMPARE(uut.call([](int &n) { return n + 1; }).wait(), 1); // and the actor goes on
    }

    void waitOnTheThreadAnActorRunsOnThrowsDeadlock()
    {
        Actor<int> uut(0, {.name = QStringLiteral("gui"), .executor = Executor::thread(QThread::currentThread())});
        QCOMPARE(thrownBy([&] { uut.call([](int &n) { return n; }).wait(); }), QStringLiteral("Deadlock"));
        // Awaiting instead works.
        auto out = run(awaitCall(uut.call([](int &n) { return n + 5; })));
        QCOMPARE(out.value.value(), 5);
    }

    void waitOnAFinishedCallInsideItsActorReturnsTheValue()
    {
        // Only a wait that could never finish is refused.
        Actor<int> uut(3);
        auto finished = std::make_shared<Call<int>>(uut.call([](int &n) { return n; }));
        QTRY_VERIFY_WITH_TIMEOUT(finished->isFinished(), 20000);
        auto inside = uut.call([finished](int &) { return std::move(*finished).wait(); });
        QCOMPARE(std::move(inside).wait(), 3);
    }

    void stateConstructorThatThrowsStopsTheActorAndIsLogged()
    {
        struct Throws
        {
            explicit Throws(int) { throw std::runtime_error("cannot build"); }
        };
        testing::LogCapture log;
        auto uut = Actor<Throws>::emplace({.name = QStringLiteral("unbuilt")}, 1);
        auto c = uut.call([](Throws &) { return 1; });
        QCOMPARE(thrownBy([&] { std::move(c).wait(); }), QStringLiteral("ActorStopped"));
        QVERIFY(uut.isStopped());
        QVERIFY(log.contains(QStringLiteral("cannot build")));
    }

    void failedCallNobodyReadsIsLogged()
    {
        testing::LogCapture log;
        Actor<int> uut(0, {.name = QStringLiteral("ignored")});
        static_cast<void>(uut.call([](int &) -> int { throw std::runtime_error("unread failure"); }));
        std::move(uut.flush()).wait();
        QTRY_VERIFY_WITH_TIMEOUT(log.contains(QStringLiteral("unread failure")), 20000);
    }

    void errorMessagesNameTheActorAndTheReason()
    {
        const ActorStopped e(QStringLiteral("QtActors: actor 'x' is stopped"));
        QCOMPARE(QString::fromUtf8(e.what()), QStringLiteral("QtActors: actor 'x' is stopped"));
        QCOMPARE(e.message(), QStringLiteral("QtActors: actor 'x' is stopped"));
        std::unique_ptr<QException> copy(e.clone());
        QCOMPARE(thrownBy([&] { copy->raise(); }), QStringLiteral("ActorStopped"));
    }

    void castAndCallNeverBlockTheCaller()
    {
        // S14: a busy actor does not make cast() or call() wait.
        Actor<int> uut(0);
        std::atomic<bool> release{false};
        uut.cast([&release](int &) {
            QDeadlineTimer deadline(20000);
            while (!release.load() && !deadline.hasExpired())
                QThread::yieldCurrentThread();
        });
        for (int i = 0; i < 10000; ++i)
            uut.cast([](int &n) { ++n; });
        auto c = uut.call([](int &n) { return n; });
        QVERIFY(!c.isFinished()); // we got here while the actor is still blocked
        release = true;
        QCOMPARE(std::move(c).wait(), 10000);
    }
};

QTEST_GUILESS_MAIN(tst_Errors)
#include "tst_errors.moc"
