// Continuations bound to a QObject (S20): Call::then(context, onValue[, onError]).
// ctest-timeout: 300
#include "testing.h"

#include <QtCore/QPointer>
#include <QtCore/QRandomGenerator>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

using namespace QtActors;
using namespace std::chrono_literals;
using testing::errorKind;

namespace {

//! A receiver that knows whether it is alive: a callback run on a destroyed one would see
//! `alive` false (and ASan would report the access).
class Receiver : public QObject
{
public:
    ~Receiver() override { alive = false; }
    bool alive = true;
    int hits = 0;
};

struct Held
{
    std::vector<Reply<int>> replies;
};

} // namespace

class tst_Continuations : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void thenRunsOnTheContextsThreadThroughItsEventLoopNeverInsideThen()
    {
        Actor<int> uut(41);
        auto call = uut.call([](int &n) { return n + 1; });
        QTRY_VERIFY_WITH_TIMEOUT(call.isFinished(), 20000); // answered before then() is called
        QObject context;
        int value = 0;
        QThread *ranOn = nullptr;
        std::move(call).then(&context, [&](int v) {
            value = v;
            ranOn = QThread::currentThread();
        });
        QCOMPARE(value, 0); // not inside then()
        QTRY_COMPARE_WITH_TIMEOUT(value, 42, 20000);
        QCOMPARE(ranOn, QThread::currentThread());
    }

    void thenOnAContextInAnotherThreadRunsThere()
    {
        QThread worker;
        worker.start();
        auto context = std::make_unique<QObject>();
        context->moveToThread(&worker);
        Actor<int> uut(1);
        std::atomic<QThread *> ranOn{nullptr};
        std::atomic<int> value{0};
        uut.call([](int &n) { return n * 7; }).then(context.get(), [&](int v) {
            ranOn = QThread::currentThread(); // before the value, which the test waits for
            value = v;
        });
        QTRY_COMPARE_WITH_TIMEOUT(value.load(), 7, 20000);
        QCOMPARE(ranOn.load(), &worker);
        QMetaObject::invokeMethod(context.release(), &QObject::deleteLater);
        worker.quit();
        QVERIFY(worker.wait(20000));
    }

    void thenOfACallVoidRunsWithoutAnArgument()
    {
        Actor<int> uut(0);
        QObject context;
        bool ran = false;
        uut.call([](int &n) { ++n; }).then(&context, [&] { ran = true; });
        QTRY_VERIFY_WITH_TIMEOUT(ran, 20000);
    }

    void thenIsDroppedWhenTheContextIsDestroyedFirst()
    {
        Actor<Held> uut(Held{});
        auto context = std::make_unique<Receiver>();
        bool ran = false, errorRan = false;
        uut.call([](Held &h, Reply<int> r) { h.replies.push_back(std::move(r)); })
                .then(context.get(), [&](int) { ran = true; }, [&](std::exception_ptr) { errorRan = true; });
        std::move(uut.flush()).wait(); // the Reply is held
        context.reset();                // the receiver dies first
        uut.cast([](Held &h) { h.replies.front()(3); });
        std::move(uut.flush()).wait();
        QCoreApplication::processEvents();
        QCoreApplication::processEvents();
        QVERIFY(!ran);
        QVERIFY(!errorRan);
    }

    void thenIsDroppedWhenTheContextIsDestroyedAfterTheAnswerWasPosted()
    {
        Actor<int> uut(0);
        auto context = std::make_unique<Receiver>();
        bool ran = false;
        auto call = uut.call([](int &n) { return n; });
        QTRY_VERIFY_WITH_TIMEOUT(call.isFinished(), 20000);
        std::move(call).then(context.get(), [&](int) { ran = true; }); // posted, not delivered
        context.reset();
        QCoreApplication::processEvents();
        QVERIFY(!ran);
    }

    void onErrorGetsTheErrorAndWithoutItTheErrorIsLogged()
    {
        Actor<int> uut(0, {.name = QStringLiteral("failing")});
        QObject context;
        std::exception_ptr error;
        bool valueRan = false;
        uut.call([](int &) -> int { throw std::runtime_error("no luck"); })
                .then(&context, [&](int) { valueRan = true; }, [&](std::exception_ptr e) { error = e; });
        QTRY_VERIFY_WITH_TIMEOUT(error != nullptr, 20000);
        QVERIFY(!valueRan);
        QCOMPARE(errorKind(error), QStringLiteral("no luck"));

        testing::LogCapture log;
        uut.call([](int &) -> int { throw std::runtime_error("nobody listens"); })
                .then(&context, [&](int) { valueRan = true; });
        QTRY_VERIFY_WITH_TIMEOUT(log.contains(QStringLiteral("nobody listens")), 20000);
        QVERIFY(log.contains(QStringLiteral("'failing'")));
        QVERIFY(!valueRan);
        // ActorStopped reaches onError too.
        std::move(uut.stop()).wait();
        std::exception_ptr stopped;
        uut.call([](int &n) { return n; }).then(&context, [](int) { }, [&](std::exception_ptr e) { stopped = e; });
        QTRY_VERIFY_WITH_TIMEOUT(stopped != nullptr, 20000);
        QCOMPARE(errorKind(stopped), QStringLiteral("ActorStopped"));
    }

    void aThrowingCallbackIsLogged()
    {
        testing::LogCapture log;
        Actor<int> uut(0);
        QObject context;
        bool ran = false;
        uut.call([](int &n) { return n; }).then(&context, [&](int) {
            ran = true;
            throw std::runtime_error("callback broke");
        });
        QTRY_VERIFY_WITH_TIMEOUT(ran, 20000);
        QTRY_VERIFY_WITH_TIMEOUT(log.contains(QStringLiteral("a then() callback threw: callback broke")), 20000);
    }

    void thenWithoutAContextRunsNothingAndSaysSo()
    {
#ifdef QT_NO_DEBUG
        testing::LogCapture log;
        Actor<int> uut(0);
        bool ran = false;
        uut.call([](int &n) { return n; }).then(nullptr, [&](int) { ran = true; });
        std::move(uut.flush()).wait();
        QCoreApplication::processEvents();
        QVERIFY(!ran);
        QVERIFY(log.contains(QStringLiteral("without a context object")));
#else
        QSKIP("debug builds assert");
#endif
    }

    void thenRacingWithReceiversDeletedOnTheirThreadNeverRunsOnADeadOne()
    {
        // Receivers live on a worker thread, which deletes them at random moments while answers
        // arrive from pool actors: a callback runs only for a receiver still alive.
        QThread worker;
        worker.start();
        auto *workerContext = new QObject; // deleted on its thread, as it ends
        workerContext->moveToThread(&worker);
        std::vector<Actor<int>> actors(8);
        const int rounds = testing::scaled(3000);
        std::atomic<int> ranOnDead{0}, ran{0}, deleted{0};
        for (int round = 0; round < rounds; ++round) {
            auto *receiver = new Receiver;
            receiver->moveToThread(&worker);
            const int delay = int(QRandomGenerator::global()->bounded(30));
            auto call = actors[std::size_t(round % 8)].call([delay](int &n) {
                const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(delay);
                while (std::chrono::steady_clock::now() < until) { }
                return ++n;
            });
            std::move(call).then(receiver, [receiver, &ran, &ranOnDead](int) {
                if (!receiver->alive)
                    ++ranOnDead;
                ++receiver->hits;
                ++ran;
            });
            // The deletion is asked for from another pool actor after a moment of its own, so
            // it reaches the worker before or after the answer, at random.
            const int when = int(QRandomGenerator::global()->bounded(30));
            actors[std::size_t((round + 3) % 8)].cast([=, &deleted](int &) {
                const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(when);
                while (std::chrono::steady_clock::now() < until) { }
                QMetaObject::invokeMethod(workerContext, [receiver, &deleted] {
                    delete receiver;
                    ++deleted;
                });
            });
        }
        QTRY_COMPARE_WITH_TIMEOUT(deleted.load(), rounds, 60000);
        for (auto &a : actors)
            std::move(a.flush()).wait();
        // Flush what is still posted to the worker.
        std::atomic<bool> drained{false};
        QMetaObject::invokeMethod(workerContext, [&] { drained = true; });
        QTRY_VERIFY_WITH_TIMEOUT(drained.load(), 60000);
        QCOMPARE(ranOnDead.load(), 0);
        qDebug("%d of %d callbacks ran before their receiver was deleted", ran.load(), rounds);
        workerContext->deleteLater();
        worker.quit();
        QVERIFY(worker.wait(20000));
    }
};

QTEST_GUILESS_MAIN(tst_Continuations)

#include "tst_continuations.moc"
