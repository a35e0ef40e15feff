// Awaiting calls and coroutine handlers: where awaiting resumes (S10), atomic coroutine handlers
// (S2), awaiting inside pool actors (S4), future() and task() (S12).
#include "testing.h"

#include <QtCore/QFutureWatcher>
#include <QtCore/QTimer>
#include <QtTest/QSignalSpy>

#include <QtConcurrent/QtConcurrent>

#include <QCoroFuture>
#include <QCoroTimer>

#include <atomic>
#include <thread>
#include <memory>
#include <vector>

using namespace QtActors;
using testing::errorKind;
using testing::run;

namespace {

struct Log
{
    std::vector<QString> entries;
};

QCoro::Task<QThread *> awaitAndReportThread(Actor<int> actor)
{
    auto c = actor.call([](int &n) { return n + 1; });
    const int value = co_await std::move(c);
    if (value != 2)
        co_return nullptr;
    co_return QThread::currentThread();
}

} // namespace

class tst_Coroutines : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void awaitingFromTheMainThreadResumesOnTheMainThread_data()
    {
        QTest::addColumn<int>("executor");
        QTest::newRow("pool") << 0;
        QTest::newRow("dedicated thread") << 1;
    }
    void awaitingFromTheMainThreadResumesOnTheMainThread()
    {
        QFETCH(int, executor);
        Actor<int> uut(1, {.executor = executor ? Executor::dedicatedThread() : Executor::pool()});
        auto out = run(awaitAndReportThread(uut));
        QVERIFY(out.finished);
        QCOMPARE(out.value.value(), QThread::currentThread());
    }

    void awaitingFromAnotherEventLoopThreadResumesThere()
    {
        Actor<int> uut(1);
        std::atomic<QThread *> resumedOn{nullptr};
        QThread worker;
        QObject context;
        context.moveToThread(&worker);
        worker.start();
        QMetaObject::invokeMethod(&context, [&] {
            [](Actor<int> a, std::atomic<QThread *> *out) -> QCoro::Task<> {
                *out = co_await awaitAndReportThread(a);
            }(uut, &resumedOn);
        });
        QTRY_VERIFY_WITH_TIMEOUT(resumedOn.load() != nullptr, 20000);
        QCOMPARE(resumedOn.load(), &worker);
        worker.quit();
        QVERIFY(worker.wait(20000));
    }

    void awaitingAFinishedCallDoesNotSuspend()
    {
        Actor<int> uut(1);
        Call<int> c = uut.call([](int &n) { return n; });
        QTRY_VERIFY_WITH_TIMEOUT(c.isFinished(), 20000);
        bool continuedSynchronously = false;
        auto task = [](Call<int> call, bool *flag) -> QCoro::Task<int> {
            const int v = co_await std::move(call);
            *flag = true; // reached before the coroutine returns to its starter if no suspension
            co_return v;
        }(std::move(c), &continuedSynchronously);
        QVERIFY(continuedSynchronously);
        auto out = run(std::move(task));
        QCOMPARE(out.value.value(), 1);
    }

    void coroutineHandlerResumesOnTheActorsContextAfterAwaiting()
    {
        Actor<int> other(10);
        Actor<Log> uut;
        auto result = uut.call([other, &uut](Log &log) -> QCoro::Task<int> {
            log.entries.push_back(QStringLiteral("before"));
            auto c = other.call([](int &n) { return n * 2; });
            const int v = co_await std::move(c);
            // Back inside this actor: its State is ours again.
            log.entries.push_back(uut.isCurrent() ? QStringLiteral("after, current")
                                                  : QStringLiteral("after, elsewhere"));
            co_return v;
        });
        QCOMPARE(std::move(result).wait(), 20);
        const auto entries = uut.call([](Log &l) { return l.entries; }).wait();
        QCOMPARE(entries, (std::vector<QString>{QStringLiteral("before"), QStringLiteral("after, current")}));
    }

    void coroutineHandlerOnADedicatedThreadResumesOnThatThread()
    {
        Actor<int> other(1);
        Actor<int> uut(0, {.executor = Executor::dedicatedThread()});
        auto threads = uut.call([other](int &) -> QCoro::Task<std::pair<QThread *, QThread *>> {
            QThread *before = QThread::currentThread();
            auto c = other.call([](int &n) { return n; });
            co_await std::move(c);
            co_return std::pair(before, QThread::currentThread());
        }).wait();
        QCOMPARE(threads.first, threads.second);
        QVERIFY(threads.first != QThread::currentThread());
    }

    void coroutineHandlerHoldsTheActorUntilItsTaskEnds()
    {
        // S2: a message sent while a coroutine handler is suspended waits for it.
        Actor<int> gate(0);
        Actor<Log> uut;
        std::atomic<bool> release{false};
        auto first = uut.call([gate, &release](Log &log) -> QCoro::Task<void> {
            log.entries.push_back(QStringLiteral("first begins"));
            // Await a call that finishes only when the test releases it.
            auto c = gate.call([&release](int &) {
                QDeadlineTimer deadline(20000);
                while (!release.load() && !deadline.hasExpired())
                    QThread::yieldCurrentThread();
            });
            co_await std::move(c);
            log.entries.push_back(QStringLiteral("first ends"));
        });
        auto second = uut.call([](Log &log) { log.entries.push_back(QStringLiteral("second")); });
        QVERIFY(!second.isFinished());
        release = true;
        std::move(first).wait();
        std::move(second).wait();
        const auto entries = uut.call([](Log &l) { return l.entries; }).wait();
        QCOMPARE(entries, (std::vector<QString>{QStringLiteral("first begins"),
                                                QStringLiteral("first ends"), QStringLiteral("second")}));
    }

    void coroutineHandlerCapturesStayAliveUntilTheTaskEnds()
    {
        Actor<int> other(5);
        Actor<int> uut(0);
        auto witness = std::make_shared<int>(3);
        std::weak_ptr<int> watch = witness;
        auto c = uut.call([other, witness = std::move(witness)](int &) -> QCoro::Task<int> {
            auto inner = other.call([](int &n) { return n; });
            const int v = co_await std::move(inner);
            co_return v + *witness; // the capture is read after the suspension
        });
        QCOMPARE(std::move(c).wait(), 8);
        QTRY_VERIFY_WITH_TIMEOUT(watch.expired(), 20000); // and released after
    }

    void coroutineCastHandlersRunAndHoldTheActor()
    {
        Actor<int> other(1);
        Actor<std::vector<int>> uut;
        for (int i = 0; i < 50; ++i) {
            uut.cast([other, i](std::vector<int> &v) -> QCoro::Task<void> {
                auto c = other.call([](int &n) { return n; });
                co_await std::move(c);
                v.push_back(i);
            });
        }
        const auto seen = uut.call([](std::vector<int> &v) { return v; }).wait();
        QCOMPARE(int(seen.size()), 50);
        for (int i = 0; i < 50; ++i)
            QCOMPARE(seen[i], i);
    }

    void poolActorCanAwaitChainsOfOtherActors()
    {
        // S4: actor A awaits B, which awaits C, all on the pool.
        Actor<int> c(7);
        Actor<int> b(0);
        Actor<int> a(0);
        auto result = a.call([b, c](int &) -> QCoro::Task<int> {
            auto viaB = b.call([c](int &) -> QCoro::Task<int> {
                auto fromC = c.call([](int &n) { return n * 3; });
                co_return co_await std::move(fromC) + 1;
            });
            co_return co_await std::move(viaB) * 2;
        });
        QCOMPARE(std::move(result).wait(), 44);
    }

    void poolActorCanAwaitAQFutureThroughAsCall()
    {
        // S4: QFutures too, on a pool thread with no event loop.
        Actor<int> uut(1);
        auto c = uut.call([&uut](int &n) -> QCoro::Task<std::pair<int, bool>> {
            auto work = asCall(QtConcurrent::run([] { return 41; }));
            const int v = co_await std::move(work);
            co_return std::pair(v + n, uut.isCurrent());
        });
        const auto result = std::move(c).wait();
        QCOMPARE(result.first, 42);
        QVERIFY(result.second); // resumed on the actor's context
    }

    void asCallCarriesExceptionsAndCancellation()
    {
        QPromise<int> failingPromise;
        auto failing = asCall(failingPromise.future());
        std::thread([&failingPromise] {
            failingPromise.start();
            failingPromise.setException(std::make_exception_ptr(std::runtime_error("in future")));
            failingPromise.finish();
        }).join();
        QCOMPARE(testing::thrownBy([&] { std::move(failing).wait(); }), QStringLiteral("in future"));
        QFuture<int> canceled;
        {
            QPromise<int> promise;
            canceled = promise.future();
            promise.start();
            promise.future().cancel();
            promise.finish();
        }
        auto c = asCall(canceled);
        QCOMPARE(testing::thrownBy([&] { std::move(c).wait(); }), QStringLiteral("Error"));
        auto empty = asCall(QFuture<void>());
        QCOMPARE(testing::thrownBy([&] { std::move(empty).wait(); }), QStringLiteral("Error"));
    }

    void coroutineHandlerOnAThreadExecutorCanAwaitQtTimers()
    {
        // S4: awaiting objects that need an event loop works on thread executors.
        auto uut = Actor<int>::emplace({.executor = Executor::dedicatedThread()}, 0);
        auto c = uut.call([](int &n) -> QCoro::Task<int> {
            QTimer timer;
            timer.setSingleShot(true);
            timer.start(1);
            co_await timer;
            co_return ++n;
        });
        QCOMPARE(std::move(c).wait(), 1);
        auto next = uut.call([](int &n) { return n + 1; });
        QCOMPARE(std::move(next).wait(), 2);
    }

    void futureDeliversTheValueToAThenContinuationOnTheContextThread()
    {
        Actor<int> uut(20);
        QObject context;
        QThread *ranOn = nullptr;
        int value = 0;
        uut.call([](int &n) { return n + 1; }).future().then(&context, [&](int v) {
            value = v;
            ranOn = QThread::currentThread();
        });
        QTRY_COMPARE_WITH_TIMEOUT(value, 21, 20000);
        QCOMPARE(ranOn, QThread::currentThread());
    }

    void futureWorksWithQFutureWatcher()
    {
        Actor<QString> uut(QStringLiteral("w"));
        QFutureWatcher<QString> watcher;
        QSignalSpy spy(&watcher, &QFutureWatcher<QString>::finished);
        watcher.setFuture(uut.call([](QString &s) { return s + s; }).future());
        QTRY_COMPARE_WITH_TIMEOUT(spy.count(), 1, 20000);
        QCOMPARE(watcher.result(), QStringLiteral("ww"));
    }

    void futureOfVoidFinishes()
    {
        Actor<int> uut(0);
        QFuture<void> f = uut.call([](int &n) { ++n; }).future();
        f.waitForFinished();
        QVERIFY(f.isFinished());
        QVERIFY(!f.isCanceled());
    }

    void taskComposesWithQCoroAndResumesOnTheAwaitingThread()
    {
        Actor<int> uut(2);
        auto out = run([](Actor<int> a) -> QCoro::Task<std::pair<int, QThread *>> {
            QCoro::Task<int> t = a.call([](int &n) { return n * 21; }).task();
            const int v = co_await std::move(t);
            co_return std::pair(v, QThread::currentThread());
        }(uut));
        QVERIFY(out.finished);
        QCOMPARE(out.value->first, 42);
        QCOMPARE(out.value->second, QThread::currentThread());
    }

    void awaitingRethrowsTheHandlersException()
    {
        Actor<int> uut(0);
        auto out = run([](Actor<int> a) -> QCoro::Task<int> {
            auto c = a.call([](int &) -> int { throw std::runtime_error("boom"); });
            co_return co_await std::move(c);
        }(uut));
        QVERIFY(out.finished);
        QCOMPARE(errorKind(out.error), QStringLiteral("boom"));
    }

    void coroutineHandlerExceptionReachesTheCaller()
    {
        Actor<int> other(0);
        Actor<int> uut(0);
        auto c = uut.call([other](int &) -> QCoro::Task<int> {
            auto inner = other.call([](int &n) { return n; });
            co_await std::move(inner);
            throw std::runtime_error("after await");
        });
        QCOMPARE(testing::thrownBy([&] { std::move(c).wait(); }), QStringLiteral("after await"));
        // The actor goes on.
        QCOMPARE(uut.call([](int &n) { return n + 1; }).wait(), 1);
    }

    void guiThreadActorRunsHandlersOnTheMainThread()
    {
        Actor<int> uut(0, {.executor = Executor::thread(QThread::currentThread())});
        auto out = run([](Actor<int> a) -> QCoro::Task<QThread *> {
            auto c = a.call([](int &) { return QThread::currentThread(); });
            co_return co_await std::move(c);
        }(uut));
        QCOMPARE(out.value.value(), QThread::currentThread());
    }
};

QTEST_GUILESS_MAIN(tst_Coroutines)
#include "tst_coroutines.moc"
