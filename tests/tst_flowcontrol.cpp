// Flow control: bounded mailboxes (S23), castWhenRoom backpressure (S24), castLatest (S25).
// ctest-timeout: 600
//
// A mailbox fills deterministically only while its actor cannot take messages out of it, so the
// tests hold the actor's turn with a Gate: its handler runs (and, running, takes no room) until the
// test opens it. What ran is recorded by the handlers in a Record; what was dropped is counted in
// the "qtactors" log (testing::LogCapture), per actor name. The stress tests check the library's
// promises from outside: every message sent is handled or logged as dropped, exactly; per-sender
// order; the bound, through a counter the producers keep.
#include "stress.h"
#include "testing.h"

#include <QtCore/QDeadlineTimer>
#include <QtCore/QList>
#include <QtCore/QThread>
#include <QtCore/QTimer>

#include <QCoroTask>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace QtActors;
using namespace std::chrono_literals;
using testing::run;
using testing::thrownBy;

namespace {

constexpr int WaitMs = 20000; // "must happen" waits: the thing waited for takes microseconds

//! Holds an actor's turn: cast handler() to it, wait for isEntered(), and open() when done. The
//! handler blocks its thread (no spinning: the machine is shared) until open(), or a deadline.
//! Destroying the Gate opens it, so that a test that fails early leaves no handler blocked.
class Gate
{
public:
    Gate() : d(std::make_shared<Shared>()) { }
    ~Gate() { open(); }
    Gate(const Gate &) = delete;
    Gate &operator=(const Gate &) = delete;

    void open()
    {
        {
            const std::lock_guard lock(d->mutex);
            d->open = true;
        }
        d->wake.notify_all();
    }
    bool isEntered() const { return d->entered.load(); }
    //! A cast handler for any State.
    auto handler() const
    {
        return [d = d](auto &) {
            d->entered = true;
            std::unique_lock lock(d->mutex);
            d->wake.wait_for(lock, std::chrono::seconds(60), [&] { return d->open; });
        };
    }

private:
    struct Shared
    {
        std::mutex mutex;
        std::condition_variable wake;
        bool open = false;
        std::atomic<bool> entered{false};
    };
    std::shared_ptr<Shared> d;
};

//! What handlers ran, in order. Shared with the handlers, so that a test that fails early
//! leaves nothing dangling behind.
class Record
{
public:
    void add(int value)
    {
        const std::lock_guard lock(m_mutex);
        m_values.append(value);
    }
    QList<int> values() const
    {
        const std::lock_guard lock(m_mutex);
        return m_values;
    }
    int size() const
    {
        const std::lock_guard lock(m_mutex);
        return int(m_values.size());
    }

private:
    mutable std::mutex m_mutex;
    QList<int> m_values;
};

//! A cast handler that records `value`. Every call returns a lambda of one type (castLatest()
//! tests depend on that only where they say so).
auto noted(const std::shared_ptr<Record> &record, int value)
{
    return [record, value](auto &) { record->add(value); };
}

QList<int> range(int from, int to) // [from, to)
{
    QList<int> out;
    for (int i = from; i < to; ++i)
        out.append(i);
    return out;
}

//! Log lines of `log` about actor `name` that contain every one of `parts`.
int linesAbout(const testing::LogCapture &log, const QString &name,
               std::initializer_list<const char *> parts)
{
    const QString quoted = QLatin1Char('\'') + name + QLatin1Char('\'');
    int n = 0;
    for (const QString &line : log.messages()) {
        bool all = line.contains(quoted);
        for (const char *part : parts)
            all = all && line.contains(QLatin1String(part));
        n += all ? 1 : 0;
    }
    return n;
}
//! Casts refused by a full mailbox (Reject, or DropOldest with no cast to drop).
int refusedCasts(const testing::LogCapture &log, const QString &name)
{
    return linesAbout(log, name, {"the mailbox is full", "a cast was dropped"});
}
//! Casts dropped by DropOldest.
int droppedOldest(const testing::LogCapture &log, const QString &name)
{
    return linesAbout(log, name, {"the oldest waiting cast was dropped"});
}

//! Worker threads joined on destruction (declare before the Gate, so that the Gate opens first
//! when a test fails early).
class Threads
{
public:
    ~Threads() { join(); }
    template <typename F>
    void start(F &&f)
    {
        m_threads.emplace_back(std::forward<F>(f));
    }
    void join()
    {
        for (auto &t : m_threads)
            if (t.joinable())
                t.join();
        m_threads.clear();
    }

private:
    std::vector<std::thread> m_threads;
};

// A scoped enum with no qHash of its own (Qt 6.4 has none): castLatest hashes its value.
enum class Key { Volume = 1, Balance = 2 };

//! A castLatest() key: equal when the last digits are; its qHash throws for -1, and its ==
//! throws when comparing 13 with 1.
struct ThrowingKey
{
    int value;
    bool operator==(const ThrowingKey &other) const
    {
        if (value * other.value == 13)
            throw std::runtime_error("no comparing 13");
        return value % 10 == other.value % 10;
    }
};
size_t qHash(const ThrowingKey &key, size_t = 0)
{
    if (key.value == -1)
        throw std::runtime_error("no hashing -1");
    return 0; // every key in one bucket: == decides
}

//! A producer that co_awaits castWhenRoom for each of `count` casts; returns how many it sent.
QCoro::Task<int> produceWhenRoom(Actor<int> uut, std::shared_ptr<Record> record, int count,
                                 std::shared_ptr<std::atomic<int>> accepted,
                                 std::shared_ptr<std::atomic<int>> resumedElsewhere)
{
    QThread *const here = QThread::currentThread();
    for (int i = 0; i < count; ++i) {
        auto accepting = uut.castWhenRoom(noted(record, i)); // named: see PLATFORM-NOTES (GCC 12)
        co_await std::move(accepting);
        if (QThread::currentThread() != here)
            ++*resumedElsewhere;
        ++*accepted;
    }
    co_return accepted->load();
}

} // namespace

class tst_FlowControl : public QObject
{
    Q_OBJECT

    stress::Watchdog m_watchdog;

private Q_SLOTS:
    void init() { m_watchdog.arm(QTest::currentTestFunction(), 0, std::chrono::seconds(280)); }
    void cleanup() { m_watchdog.disarm(); }

    // ---- S23 bounded mailboxes: Reject ------------------------------------------------------

    void aFullRejectingMailboxDropsAndLogsTheCastsThatDoNotFitAndRefusesCalls()
    {
        const QString name = QStringLiteral("reject-full");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.name = name, .mailboxCapacity = 4});
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);

        for (int i = 0; i < 7; ++i)
            uut.cast(noted(record, i)); // never blocks: 0…3 fit, 4…6 are dropped
        QCOMPARE(refusedCasts(log, name), 3);

        auto refused = uut.call([record](int &) {
            record->add(100);
            return 1;
        });
        QVERIFY(refused.isFinished()); // at once: a call never waits for room
        try {
            std::move(refused).wait();
            QFAIL("a call to a full mailbox got no MailboxFull");
        } catch (const MailboxFull &e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("'reject-full'")),
                     e.what());
        }

        gate.open();
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), range(0, 4)); // exactly the admitted ones, in order
        QCOMPARE(refusedCasts(log, name), 3);
    }

    void theRunningHandlerTakesNoRoomAndAHandlerThatStartsFreesItsOwn()
    {
        const QString name = QStringLiteral("reject-running");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.name = name, .mailboxCapacity = 3});
        Gate first, second;
        uut.cast(first.handler());
        QTRY_VERIFY_WITH_TIMEOUT(first.isEntered(), WaitMs);
        // `first` runs: three wait, and the mailbox is full.
        uut.cast(second.handler());
        uut.cast(noted(record, 1));
        uut.cast(noted(record, 2));
        QCOMPARE(refusedCasts(log, name), 0);
        uut.cast(noted(record, 3));
        QCOMPARE(refusedCasts(log, name), 1);

        first.open();
        QTRY_VERIFY_WITH_TIMEOUT(second.isEntered(), WaitMs);
        // `second` has started: its room is free again, and exactly one more fits.
        uut.cast(noted(record, 4));
        QCOMPARE(refusedCasts(log, name), 1);
        uut.cast(noted(record, 5));
        QCOMPARE(refusedCasts(log, name), 2);

        second.open();
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), (QList<int>{1, 2, 4}));
    }

    void theBoundStaysExactRoundAfterRoundAsTheMailboxFillsAndDrains()
    {
        // Senders keep a bound below which there is surely room and look at what the turn has
        // started only when they reach it: each round must still admit exactly `capacity` and
        // refuse exactly the one after, however stale that bound is by then.
        const QString name = QStringLiteral("reject-rounds");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        constexpr int capacity = 16, rounds = 50;
        Actor<int> uut(0, {.name = name, .mailboxCapacity = capacity});
        QList<int> expected;
        for (int round = 0; round < rounds; ++round) {
            Gate gate;
            uut.cast(gate.handler());
            QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
            for (int i = 0; i < capacity; ++i) {
                uut.cast(noted(record, round * capacity + i));
                expected.append(round * capacity + i);
            }
            QCOMPARE(refusedCasts(log, name), round);
            uut.cast(noted(record, -1));
            QCOMPARE(refusedCasts(log, name), round + 1);
            gate.open();
            QTRY_COMPARE_WITH_TIMEOUT(record->size(), (round + 1) * capacity, WaitMs);
        }
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), expected);
    }

    void stopIsNeverRefusedByAFullMailboxAndWhatIsQueuedStillRuns()
    {
        const QString name = QStringLiteral("reject-stop");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.name = name, .mailboxCapacity = 2});
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        uut.cast(noted(record, 1));
        uut.cast(noted(record, 2)); // full

        auto stopping = uut.stop();
        QVERIFY(uut.isStopped());
        QVERIFY(!stopping.isFinished()); // accepted, and waiting for the queue to run

        // Once stopped, "stopped" comes first: ActorStopped and "is stopped", not MailboxFull.
        uut.cast(noted(record, 3));
        QCOMPARE(refusedCasts(log, name), 0);
        QCOMPARE(linesAbout(log, name, {"is stopped", "a cast was dropped"}), 1);
        QCOMPARE(thrownBy([&] { std::move(uut.call([](int &) { return 0; })).wait(); }),
                 QStringLiteral("ActorStopped"));
        QCOMPARE(thrownBy([&] { std::move(uut.flush()).wait(); }), QStringLiteral("ActorStopped"));
        auto late = uut.castWhenRoom(noted(record, 4));
        QVERIFY(late.isFinished());
        QCOMPARE(thrownBy([&] { std::move(late).wait(); }), QStringLiteral("ActorStopped"));

        gate.open();
        std::move(stopping).wait();
        QCOMPARE(record->values(), (QList<int>{1, 2}));
    }

    void flushIsACallLikeAnyOtherOnABoundedMailbox()
    {
        const QString name = QStringLiteral("reject-flush");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.name = name, .mailboxCapacity = 2});
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        uut.cast(noted(record, 1));
        auto admitted = uut.flush(); // the mailbox is full with it
        auto refused = uut.flush();
        QVERIFY(refused.isFinished());
        QCOMPARE(thrownBy([&] { std::move(refused).wait(); }), QStringLiteral("MailboxFull"));
        QVERIFY(!admitted.isFinished());
        uut.cast(noted(record, 2)); // full: dropped
        QCOMPARE(refusedCasts(log, name), 1);

        gate.open();
        std::move(admitted).wait();
        QCOMPARE(record->values(), (QList<int>{1}));
        std::move(uut.flush()).wait(); // with room again, it is admitted
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), (QList<int>{1}));
    }

    void timerTicksTakeNoRoomAndAreNeverRefused()
    {
        const QString name = QStringLiteral("reject-ticks");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.name = name, .mailboxCapacity = 2});
        // Ticks are fired by one timer thread, in the order they fall due: once `marker`'s later
        // tick ran, the earlier tick on uut has been queued.
        Actor<int> marker(0);
        auto ticked = std::make_shared<std::atomic<int>>(0);
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);

        Timer early = uut.castAfter(1ms, noted(record, 10));
        Timer firstMark = marker.castAfter(30ms, [ticked](int &) { *ticked = 1; });
        QTRY_COMPARE_WITH_TIMEOUT(ticked->load(), 1, WaitMs);
        // The tick waits in uut's mailbox, and two casts still fit.
        uut.cast(noted(record, 1));
        uut.cast(noted(record, 2));
        QCOMPARE(refusedCasts(log, name), 0);
        uut.cast(noted(record, 3));
        QCOMPARE(refusedCasts(log, name), 1);

        // A tick that falls due on the full mailbox is queued all the same.
        Timer late = uut.castAfter(1ms, noted(record, 11));
        Timer secondMark = marker.castAfter(30ms, [ticked](int &) { *ticked = 2; });
        QTRY_COMPARE_WITH_TIMEOUT(ticked->load(), 2, WaitMs);
        QCOMPARE(refusedCasts(log, name), 1);

        gate.open();
        QTRY_COMPARE_WITH_TIMEOUT(record->size(), 4, WaitMs);
        std::move(uut.flush()).wait();
        QCOMPARE(record->values(), (QList<int>{10, 1, 2, 11}));
    }

    void anUnboundedMailboxNeverRefuses()
    {
        const QString name = QStringLiteral("unbounded");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.name = name});
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        const int count = 10000;
        for (int i = 0; i < count; ++i)
            uut.cast(noted(record, i));
        auto answer = uut.call([](int &) { return 7; });
        QVERIFY(!answer.isFinished());
        gate.open();
        QCOMPARE(std::move(answer).wait(), 7);
        QCOMPARE(record->values(), range(0, count));
        QCOMPARE(linesAbout(log, name, {}), 0);
    }

    // ---- S23 bounded mailboxes: DropOldest --------------------------------------------------

    void dropOldestDropsTheOldestWaitingCastsAndTheNewestRun()
    {
        const QString name = QStringLiteral("drop-oldest");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.name = name, .mailboxCapacity = 4, .overflow = Overflow::DropOldest});
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        for (int i = 0; i < 10; ++i)
            uut.cast(noted(record, i));
        gate.open();
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), range(6, 10));
        QCOMPARE(droppedOldest(log, name), 6); // one line per drop, logged when its turn came
        QCOMPARE(refusedCasts(log, name), 0);
    }

    void dropOldestNeverDropsACallAndAMailboxFullOfCallsRefusesTheNextMessage()
    {
        const QString name = QStringLiteral("drop-oldest-calls");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.name = name, .mailboxCapacity = 4, .overflow = Overflow::DropOldest});
        auto callNoted = [&](int value) {
            return uut.call([record, value](int &) {
                record->add(value);
                return value;
            });
        };
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);

        std::vector<Call<int>> calls;
        calls.push_back(callNoted(101));
        uut.cast(noted(record, 1));
        calls.push_back(callNoted(102));
        uut.cast(noted(record, 2)); // full: 101, 1, 102, 2
        uut.cast(noted(record, 3)); // drops 1
        uut.cast(noted(record, 4)); // drops 2
        calls.push_back(callNoted(103)); // drops 3: a call is admitted by dropping a cast
        calls.push_back(callNoted(104)); // drops 4: 101, 102, 103, 104, all calls
        for (const auto &c : calls)
            QVERIFY(!c.isFinished());

        // No cast waits to be dropped: the next message is refused as with Reject.
        uut.cast(noted(record, 5));
        QCOMPARE(refusedCasts(log, name), 1);
        auto refused = callNoted(105);
        QVERIFY(refused.isFinished());
        QCOMPARE(thrownBy([&] { std::move(refused).wait(); }), QStringLiteral("MailboxFull"));

        gate.open();
        for (int i = 0; i < 4; ++i)
            QCOMPARE(std::move(calls[std::size_t(i)]).wait(), 101 + i);
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), (QList<int>{101, 102, 103, 104}));
        QCOMPARE(droppedOldest(log, name), 4);
        QCOMPARE(refusedCasts(log, name), 1);
    }

    // ---- S24 castWhenRoom -------------------------------------------------------------------

    void castWhenRoomFinishesAtOnceWhenThereIsRoomOrNoBound_data()
    {
        QTest::addColumn<int>("capacity");
        QTest::newRow("unbounded") << 0;
        QTest::newRow("room") << 8;
    }
    void castWhenRoomFinishesAtOnceWhenThereIsRoomOrNoBound()
    {
        QFETCH(int, capacity);
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.mailboxCapacity = capacity});
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        for (int i = 0; i < 5; ++i) {
            auto accepted = uut.castWhenRoom(noted(record, i));
            QVERIFY(accepted.isFinished()); // accepted, although the actor is held
            QCOMPARE(thrownBy([&] { std::move(accepted).wait(); }), QStringLiteral("none"));
        }
        QCOMPARE(record->size(), 0);
        gate.open();
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), range(0, 5));
    }

    void castWhenRoomWaitsWhileFullAndIsAdmittedAsSoonAsRoomFrees()
    {
        const QString name = QStringLiteral("when-room");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.name = name, .mailboxCapacity = 2});
        Gate first, second;
        uut.cast(first.handler());
        QTRY_VERIFY_WITH_TIMEOUT(first.isEntered(), WaitMs);
        uut.cast(second.handler());
        uut.cast(noted(record, 1)); // full

        auto waiting = uut.castWhenRoom(noted(record, 3));
        QVERIFY(!waiting.isFinished());
        uut.cast(noted(record, 2)); // a plain cast still finds it full
        QCOMPARE(refusedCasts(log, name), 1);

        first.open();
        QTRY_VERIFY_WITH_TIMEOUT(second.isEntered(), WaitMs);
        // `second` started, so one place is free: the waiter is in while the actor is still held.
        QTRY_VERIFY_WITH_TIMEOUT(waiting.isFinished(), WaitMs);
        QCOMPARE(thrownBy([&] { std::move(waiting).wait(); }), QStringLiteral("none"));
        QCOMPARE(record->size(), 0);
        uut.cast(noted(record, 4)); // and it took that place
        QCOMPARE(refusedCasts(log, name), 2);

        second.open();
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), (QList<int>{1, 3}));
    }

    void producersWaitingForRoomAreAdmittedFirstComeFirstServed()
    {
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.mailboxCapacity = 1});
        constexpr int producers = 6;
        std::array<std::atomic<int>, producers> phase{}; // 1: waiting for room, 2: accepted, 3: failed
        Threads threads;
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        uut.cast(noted(record, 0)); // full

        // Each producer, on a thread of its own, comes once the one before it waits.
        for (int p = 0; p < producers; ++p) {
            threads.start([uut, record, p, &phase] {
                auto accepting = uut.castWhenRoom(noted(record, p + 1));
                phase[std::size_t(p)] = accepting.isFinished() ? 0 : 1;
                try {
                    std::move(accepting).wait();
                    phase[std::size_t(p)] = 2;
                } catch (...) {
                    phase[std::size_t(p)] = 3;
                }
            });
            QTRY_COMPARE_WITH_TIMEOUT(phase[std::size_t(p)].load(), 1, WaitMs);
        }
        gate.open();
        for (int p = 0; p < producers; ++p)
            QTRY_COMPARE_WITH_TIMEOUT(phase[std::size_t(p)].load(), 2, WaitMs);
        threads.join();
        std::move(uut.stop()).wait();
        // One place at a time, so the order they ran in is the order they were admitted in.
        QCOMPARE(record->values(), range(0, producers + 1));
    }

    void castWhenRoomNeverMakesDropOldestDrop()
    {
        const QString name = QStringLiteral("when-room-drop-oldest");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.name = name, .mailboxCapacity = 2, .overflow = Overflow::DropOldest});
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        uut.cast(noted(record, 1));
        uut.cast(noted(record, 2)); // full
        auto waiting = uut.castWhenRoom(noted(record, 3));
        auto waitingToo = uut.castWhenRoom(noted(record, 4));
        QVERIFY(!waiting.isFinished());
        QVERIFY(!waitingToo.isFinished());
        gate.open();
        std::move(waiting).wait();
        std::move(waitingToo).wait();
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), (QList<int>{1, 2, 3, 4}));
        QCOMPARE(droppedOldest(log, name), 0);
        QCOMPARE(refusedCasts(log, name), 0);
    }

    void everyProducerWaitingForRoomGetsActorStoppedWhenTheActorStops()
    {
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.mailboxCapacity = 1});
        std::atomic<int> workerPhase{0}; // 1: waiting, 2: got ActorStopped
        Threads threads;
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        uut.cast(noted(record, 0)); // full

        std::vector<Call<void>> waiting;
        for (int i = 1; i <= 3; ++i)
            waiting.push_back(uut.castWhenRoom(noted(record, i)));
        threads.start([uut, record, &workerPhase] {
            auto accepting = uut.castWhenRoom(noted(record, 4));
            workerPhase = accepting.isFinished() ? -1 : 1;
            const QString kind = thrownBy([&] { std::move(accepting).wait(); });
            workerPhase = kind == QLatin1String("ActorStopped") ? 2 : -2;
        });
        QTRY_COMPARE_WITH_TIMEOUT(workerPhase.load(), 1, WaitMs);
        for (const auto &c : waiting)
            QVERIFY(!c.isFinished());

        auto stopping = uut.stop();
        // The actor stops before they get room: they fail at once, while it is still held.
        for (auto &c : waiting) {
            QTRY_VERIFY_WITH_TIMEOUT(c.isFinished(), WaitMs);
            QCOMPARE(thrownBy([&] { std::move(c).wait(); }), QStringLiteral("ActorStopped"));
        }
        QTRY_COMPARE_WITH_TIMEOUT(workerPhase.load(), 2, WaitMs);
        QVERIFY(gate.isEntered() && !stopping.isFinished());

        gate.open();
        std::move(stopping).wait();
        QCOMPARE(record->values(), (QList<int>{0})); // only what was admitted ran
    }

    void castWhenRoomOnAStoppedOrNullActorFinishesWithActorStopped_data()
    {
        QTest::addColumn<int>("capacity");
        QTest::newRow("unbounded") << 0;
        QTest::newRow("bounded") << 4;
    }
    void castWhenRoomOnAStoppedOrNullActorFinishesWithActorStopped()
    {
        QFETCH(int, capacity);
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.mailboxCapacity = capacity});
        std::move(uut.stop()).wait();
        auto refused = uut.castWhenRoom(noted(record, 1));
        QVERIFY(refused.isFinished());
        QCOMPARE(thrownBy([&] { std::move(refused).wait(); }), QStringLiteral("ActorStopped"));

        Actor<int> null(nullptr);
        auto toNull = null.castWhenRoom(noted(record, 2));
        QVERIFY(toNull.isFinished());
        QCOMPARE(thrownBy([&] { std::move(toNull).wait(); }), QStringLiteral("ActorStopped"));
        QCOMPARE(record->size(), 0);
    }

    void aCastWhenRoomThatTimedOutIsNeverRunAndLeavesItsPlaceToTheNext()
    {
        // S17 with S24: a Call whose deadline passed before its message got in finishes with
        // Timeout, and its handler never runs; the sender waiting behind it gets the room.
        for (const bool async : {false, true}) {
            auto record = std::make_shared<Record>();
            Actor<int> uut(0, {.mailboxCapacity = 1});
            Gate gate;
            uut.cast(gate.handler());
            QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
            uut.cast(noted(record, 0)); // full
            auto timed = uut.castWhenRoom(noted(record, 99)).timeout(20ms);
            if (async) {
                auto future = std::move(timed).future();
                QTRY_VERIFY_WITH_TIMEOUT(future.isFinished(), WaitMs);
                QCOMPARE(thrownBy([&] { future.waitForFinished(); }), QStringLiteral("Timeout"));
            } else {
                QCOMPARE(thrownBy([&] { std::move(timed).wait(); }), QStringLiteral("Timeout"));
            }
            auto later = uut.castWhenRoom(noted(record, 1));
            QVERIFY(!later.isFinished());
            gate.open();
            QCOMPARE(thrownBy([&] { std::move(later).wait(); }), QStringLiteral("none"));
            std::move(uut.stop()).wait();
            QCOMPARE(record->values(), (QList<int>{0, 1}));
        }
    }

    void stressCastWhenRoomWithTimeoutsEitherRunsOrTimesOutNeverBoth()
    {
        // Deadlines near the time room comes: each castWhenRoom ends exactly once, and its
        // handler ran exactly when it ended without Timeout.
        const int rounds = testing::scaled(2000);
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.mailboxCapacity = 1});
        QList<int> accepted;
        int timedOut = 0;
        for (int i = 0; i < rounds; ++i) {
            QCOMPARE(thrownBy([&] {
                         uut.castWhenRoom([](int &) {
                                std::this_thread::sleep_for(std::chrono::microseconds(300)); // allowed: slow work
                            }).wait();
                     }),
                     QStringLiteral("none"));
            auto c = uut.castWhenRoom(noted(record, i)).timeout(std::chrono::milliseconds(i % 2));
            const QString kind = thrownBy([&] { std::move(c).wait(); });
            if (kind == QStringLiteral("none"))
                accepted.append(i);
            else if (kind == QStringLiteral("Timeout"))
                ++timedOut;
            else
                QFAIL(qPrintable(kind));
        }
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), accepted);
        QCOMPARE(accepted.size() + timedOut, rounds);
    }

    void aCoroutineAwaitingCastWhenRoomIsSlowedDownToTheActorsPace()
    {
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.mailboxCapacity = 2});
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        auto accepted = std::make_shared<std::atomic<int>>(0);
        auto resumedElsewhere = std::make_shared<std::atomic<int>>(0);
        // The coroutine runs on until its first real suspension, before the event loop does.
        int acceptedWhenItFirstWaited = -1;
        QTimer::singleShot(0, this, [&] {
            acceptedWhenItFirstWaited = accepted->load();
            gate.open();
        });
        const int count = 20;
        auto out = run(produceWhenRoom(uut, record, count, accepted, resumedElsewhere), WaitMs);
        QVERIFY(out.finished);
        QCOMPARE(testing::errorKind(out.error), QStringLiteral("none"));
        QCOMPARE(out.value.value_or(-1), count);
        QCOMPARE(acceptedWhenItFirstWaited, 2); // the two that fitted; the third one waited
        QCOMPARE(resumedElsewhere->load(), 0);  // S10: it resumes on the awaiting thread
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), range(0, count));
    }

    void aWorkerThreadWaitingOnCastWhenRoomIsSlowedDownToTheActorsPace()
    {
        constexpr int capacity = 2;
        constexpr int count = 200;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.mailboxCapacity = capacity});
        auto accepted = std::make_shared<std::atomic<int>>(0);
        auto overBound = std::make_shared<std::atomic<int>>(0);
        std::atomic<bool> done{false};
        Threads threads;
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        threads.start([uut, record, accepted, overBound, &done] {
            for (int i = 0; i < count; ++i) {
                // When message i runs, at most i + 1 have started and `capacity` wait.
                auto handler = [record, accepted, overBound, i](int &) {
                    if (accepted->load() > i + 1 + capacity)
                        ++*overBound;
                    record->add(i);
                };
                try {
                    std::move(uut.castWhenRoom(handler)).wait();
                } catch (...) {
                    return;
                }
                ++*accepted;
            }
            done = true;
        });
        // Held, the mailbox takes two, and the producer waits for the third.
        QTRY_COMPARE_WITH_TIMEOUT(accepted->load(), capacity, WaitMs);
        QVERIFY(!done.load());
        gate.open();
        QTRY_VERIFY_WITH_TIMEOUT(done.load(), WaitMs);
        threads.join();
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), range(0, count));
        QCOMPARE(overBound->load(), 0);
    }

    // ---- S25 castLatest ---------------------------------------------------------------------

    void onlyTheNewestCastLatestOfEachKeyRunsAtTheEndOfTheQueue_data()
    {
        QTest::addColumn<int>("capacity");
        QTest::addColumn<int>("overflow");
        QTest::newRow("unbounded") << 0 << int(Overflow::Reject);
        QTest::newRow("bounded, Reject") << 8 << int(Overflow::Reject);
        QTest::newRow("bounded, DropOldest") << 8 << int(Overflow::DropOldest);
    }
    void onlyTheNewestCastLatestOfEachKeyRunsAtTheEndOfTheQueue()
    {
        QFETCH(int, capacity);
        QFETCH(int, overflow);
        const QString name = QStringLiteral("latest");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.name = name, .mailboxCapacity = capacity,
                           .overflow = Overflow(overflow)});
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        for (int i = 0; i < 100; ++i) {
            uut.castLatest(i % 3, noted(record, i));
            if (i == 50)
                uut.cast(noted(record, 1000));
        }
        gate.open();
        std::move(uut.stop()).wait();
        // The last of each key (97: key 1, 98: key 2, 99: key 0), each where it was sent.
        QCOMPARE(record->values(), (QList<int>{1000, 97, 98, 99}));
        QCOMPARE(linesAbout(log, name, {}), 0); // superseded is no error
    }

    void castLatestKeysOfDifferentTypesDoNotCollide()
    {
        enum Plain { PlainOne = 1 };
        auto record = std::make_shared<Record>();
        Actor<int> uut(0);
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        for (int round = 0; round < 3; ++round) {
            uut.castLatest(1, noted(record, 10 + round));
            uut.castLatest(qint64(1), noted(record, 20 + round));
            uut.castLatest(QString::number(1), noted(record, 30 + round)); // equal, not the same
            uut.castLatest(Key::Volume, noted(record, 40 + round));
            uut.castLatest(PlainOne, noted(record, 50 + round));
            uut.castLatest(QString::number(2), noted(record, 60 + round));
            uut.castLatest(Key::Balance, noted(record, 70 + round));
        }
        gate.open();
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), (QList<int>{12, 22, 32, 42, 52, 62, 72}));
    }

    void aCastLatestThatHasStartedIsNotSupersededAndTheNewOneRunsToo()
    {
        auto record = std::make_shared<Record>();
        Actor<int> uut(0);
        Gate first, second;
        uut.cast(first.handler());
        QTRY_VERIFY_WITH_TIMEOUT(first.isEntered(), WaitMs);
        uut.castLatest(7, [record, hold = second.handler()](int &state) {
            hold(state);
            record->add(1);
        });
        first.open();
        QTRY_VERIFY_WITH_TIMEOUT(second.isEntered(), WaitMs); // the castLatest runs
        uut.castLatest(7, noted(record, 2));
        uut.castLatest(7, noted(record, 3)); // this one supersedes 2, which waits
        second.open();
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), (QList<int>{1, 3}));
    }

    void aCastLatestSupersedesAnEqualKeyWhateverItsHandler()
    {
        // Two call sites, one key: "only the newest runs" is about the key, not the lambda type.
        auto record = std::make_shared<Record>();
        Actor<int> uut(0);
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        uut.castLatest(Key::Volume, [record](int &) { record->add(1); });
        uut.castLatest(Key::Volume, [record](int &) { record->add(2); });
        uut.castLatest(Key::Volume, [record](int &) -> QCoro::Task<void> {
            record->add(3);
            co_return;
        });
        gate.open();
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), (QList<int>{3}));
    }

    void aCastLatestThatReplacesAWaitingOneNeedsNoRoom_data()
    {
        QTest::addColumn<int>("overflow");
        QTest::newRow("Reject") << int(Overflow::Reject);
        QTest::newRow("DropOldest") << int(Overflow::DropOldest);
    }
    void aCastLatestThatReplacesAWaitingOneNeedsNoRoom()
    {
        // A full mailbox with an update waiting: the newer update takes its place (the count of
        // waiting messages stays), it is neither refused nor makes an unrelated cast drop.
        QFETCH(int, overflow);
        const QString name = QStringLiteral("latest-full");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.name = name, .mailboxCapacity = 2, .overflow = Overflow(overflow)});
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        uut.castLatest(1, noted(record, 1));
        uut.cast(noted(record, 10)); // full
        uut.castLatest(1, noted(record, 2));
        gate.open();
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), (QList<int>{10, 2}));
        QCOMPARE(refusedCasts(log, name) + droppedOldest(log, name), 0);
    }

    void dropOldestDropsOneCastPerMessageThatFindsItFullAlsoWhenACastLatestIsSuperseded()
    {
        // c finds the mailbox full and dooms the oldest cast (the update a); the update d then
        // finds it full too. However the supersession is counted, two messages found the mailbox
        // full, so at most two of a, b, c go, and c and d (the newest) run.
        const QString name = QStringLiteral("latest-doomed");
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0, {.name = name, .mailboxCapacity = 2, .overflow = Overflow::DropOldest});
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        uut.castLatest(1, noted(record, 1)); // a
        uut.cast(noted(record, 2));          // b: full
        uut.cast(noted(record, 3));          // c: drops a
        uut.castLatest(1, noted(record, 4)); // d
        gate.open();
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), (QList<int>{3, 4}));
    }

    void aCastLatestIsACastInEveryOtherRespect()
    {
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        {
            // DropOldest may drop it.
            const QString name = QStringLiteral("latest-drop-oldest");
            Actor<int> uut(0, {.name = name, .mailboxCapacity = 1, .overflow = Overflow::DropOldest});
            Gate gate;
            uut.cast(gate.handler());
            QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
            uut.castLatest(1, noted(record, 1));
            uut.cast(noted(record, 2));
            gate.open();
            std::move(uut.stop()).wait();
            QCOMPARE(record->values(), (QList<int>{2}));
            QCOMPARE(droppedOldest(log, name), 1);
        }
        {
            // Reject refuses it, and logs it.
            const QString name = QStringLiteral("latest-reject");
            Actor<int> uut(0, {.name = name, .mailboxCapacity = 1});
            Gate gate;
            uut.cast(gate.handler());
            QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
            uut.cast(noted(record, 3));
            uut.castLatest(2, noted(record, 4));
            QCOMPARE(refusedCasts(log, name), 1);
            gate.open();
            std::move(uut.stop()).wait();
            QCOMPARE(record->values(), (QList<int>{2, 3}));
        }
        {
            // Its exceptions are logged (S8) and the actor goes on; a coroutine handler works.
            const QString name = QStringLiteral("latest-forms");
            Actor<int> uut(0, {.name = name});
            uut.castLatest(3, [](int &) { throw std::runtime_error("latest failed"); });
            uut.castLatest(4, [record](int &) -> QCoro::Task<void> {
                record->add(5);
                co_return;
            });
            std::move(uut.flush()).wait();
            QCOMPARE(linesAbout(log, name, {"a cast handler threw: latest failed"}), 1);
            QCOMPARE(record->values(), (QList<int>{2, 3, 5}));
            // On a stopped actor it is dropped and logged (S9), as a cast.
            std::move(uut.stop()).wait();
            uut.castLatest(4, noted(record, 6));
            QCOMPARE(linesAbout(log, name, {"is stopped", "a cast was dropped"}), 1);
            Actor<int> null(nullptr);
            null.castLatest(4, noted(record, 7));
            QVERIFY(log.contains(QStringLiteral("cast to a null Actor handle dropped")));
            QCOMPARE(record->values(), (QList<int>{2, 3, 5}));
        }
    }

    void aKeyWhoseEqualityThrowsIsLoggedAndBothUpdatesRun()
    {
        testing::LogCapture log;
        auto record = std::make_shared<Record>();
        Actor<int> uut(0);
        Gate gate;
        uut.cast(gate.handler());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
        uut.castLatest(ThrowingKey{1}, noted(record, 1));
        uut.castLatest(ThrowingKey{13}, noted(record, 13)); // its == with 1 throws: both wait
        uut.castLatest(ThrowingKey{11}, noted(record, 11)); // equal to 1: replaces it
        gate.open();
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), (QList<int>{13, 11}));
        QCOMPARE(log.count(QStringLiteral("a key's == threw (no comparing 13)")), 1);
    }

    void aKeyWhoseHashThrowsMakesCastLatestThrowAndSendsNothing()
    {
        auto record = std::make_shared<Record>();
        Actor<int> uut(0);
        QCOMPARE(thrownBy([&] { uut.castLatest(ThrowingKey{-1}, noted(record, -1)); }),
                 QStringLiteral("no hashing -1"));
        uut.castLatest(ThrowingKey{1}, noted(record, 1));
        std::move(uut.stop()).wait();
        QCOMPARE(record->values(), (QList<int>{1}));
    }

    // ---- Stress -----------------------------------------------------------------------------

    void stressEightProducersThroughCastWhenRoomLoseNothingKeepTheirOrderAndStayInBound()
    {
        constexpr int producers = 8;
        constexpr qint64 capacity = 64;
        const int rounds = 8;
        const int perProducer = std::max(1, testing::scaled(100000) / 4);
        for (int round = 0; round < rounds; ++round) {
            struct Tally
            {
                // Written by the handlers only (one at a time), read after the stop.
                std::array<int, producers> next{};
                qint64 handled = 0;
                qint64 outOfOrder = 0;
                qint64 overBound = 0;
                // The producers'.
                std::atomic<qint64> accepted{0}; // counted once castWhenRoom's Call finished
                std::atomic<int> waiting{0};     // producers whose castWhenRoom waits now
                std::atomic<int> errors{0};
            };
            auto tally = std::make_shared<Tally>();
            Actor<int> uut(0, {.name = QStringLiteral("backpressure-%1").arg(round),
                               .mailboxCapacity = capacity});
            Threads threads;
            Gate gate;
            uut.cast(gate.handler());
            QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
            for (int p = 0; p < producers; ++p) {
                threads.start([uut, tally, p, perProducer] {
                    for (int seq = 0; seq < perProducer; ++seq) {
                        auto accepting = uut.castWhenRoom([tally, p, seq](int &) {
                            Tally &t = *tally;
                            if (t.next[std::size_t(p)]++ != seq)
                                ++t.outOfOrder;
                            // Admitted >= accepted; admitted = started (handled + this one) +
                            // waiting, and waiting <= capacity.
                            if (t.accepted.load() - t.handled - 1 > capacity)
                                ++t.overBound;
                            ++t.handled;
                        });
                        const bool waits = !accepting.isFinished();
                        if (waits)
                            ++tally->waiting;
                        try {
                            std::move(accepting).wait();
                        } catch (...) {
                            ++tally->errors;
                            return;
                        }
                        ++tally->accepted; // before `waiting` comes down: see below
                        if (waits)
                            --tally->waiting;
                    }
                });
            }
            // Held, the mailbox fills up to its bound and every producer ends up waiting: then
            // exactly `capacity` were accepted.
            QTRY_COMPARE_WITH_TIMEOUT(tally->waiting.load(), producers, WaitMs);
            QCOMPARE(tally->accepted.load(), capacity);
            gate.open();
            threads.join();
            std::move(uut.stop()).wait();
            QCOMPARE(tally->errors.load(), 0);
            QCOMPARE(tally->handled, qint64(producers) * perProducer);
            QCOMPARE(tally->accepted.load(), tally->handled);
            QCOMPARE(tally->outOfOrder, qint64(0));
            QCOMPARE(tally->overBound, qint64(0));
            for (int p = 0; p < producers; ++p)
                QCOMPARE(tally->next[std::size_t(p)], perProducer);
        }
    }

    void stressProducersOfACapacityOneMailboxAreNeverLeftWaitingWhenTheTurnEnds_data()
    {
        QTest::addColumn<bool>("dedicated");
        QTest::addColumn<int>("producers");
        QTest::newRow("pool, 1 producer") << false << 1;
        QTest::newRow("pool, 3 producers") << false << 3;
        QTest::newRow("dedicated thread, 1 producer") << true << 1;
        QTest::newRow("dedicated thread, 3 producers") << true << 3;
    }
    void stressProducersOfACapacityOneMailboxAreNeverLeftWaitingWhenTheTurnEnds()
    {
        // With one place, the mailbox is full or empty at every message: a producer finds it full
        // and queues itself as a waiter just as the turn starts the last message and ends. The
        // turn must see it then, or that producer waits forever.
        QFETCH(bool, dedicated);
        QFETCH(int, producers);
        const int each = std::max(1, testing::scaled(100000) / producers);
        auto handled = std::make_shared<std::atomic<qint64>>(0);
        Actor<int> uut(0, {.name = QStringLiteral("capacity-one"),
                           .executor = dedicated ? Executor::dedicatedThread() : Executor::pool(),
                           .mailboxCapacity = 1});
        std::atomic<int> finished{0};
        std::atomic<int> errors{0};
        std::atomic<qint64> accepted{0};
        Threads threads;
        for (int p = 0; p < producers; ++p) {
            threads.start([&, uut, handled] {
                for (int i = 0; i < each; ++i) {
                    try {
                        std::move(uut.castWhenRoom([handled](int &) { ++*handled; })).wait();
                    } catch (...) {
                        ++errors;
                        break;
                    }
                    ++accepted;
                }
                ++finished;
            });
        }
        // Each cast takes microseconds: a producer left waiting shows as a count that stops.
        QTRY_VERIFY_WITH_TIMEOUT(finished.load() == producers, 10 * WaitMs);
        threads.join();
        std::move(uut.stop()).wait();
        QCOMPARE(errors.load(), 0);
        QCOMPARE(accepted.load(), qint64(producers) * each);
        QCOMPARE(handled->load(), qint64(producers) * each);
    }

    void stressASenderWaitingForRoomIsAdmittedWhileTheHandlerThatFreedItStillRuns_data()
    {
        stress::addExecutorRows();
    }
    void stressASenderWaitingForRoomIsAdmittedWhileTheHandlerThatFreedItStillRuns()
    {
        // Capacity one. Handler i holds the actor until cast i + 1 is accepted: that needs the
        // room that handler i freed when it started, and the producer asks for it just as handler
        // i starts, round after round. A turn that missed the producer waiting would admit it only
        // once handler i returns, which it never does in time: the round fails.
        QFETCH(bool, dedicated);
        const int count = testing::scaled(50000);
        struct Shared
        {
            std::atomic<int> accepted{0};
            std::atomic<int> stuck{-1}; // the first handler that waited in vain
        };
        auto shared = std::make_shared<Shared>();
        Actor<int> uut(0, {.name = QStringLiteral("holds-while-admitting"),
                           .executor = dedicated ? Executor::dedicatedThread() : Executor::pool(),
                           .mailboxCapacity = 1});
        std::atomic<int> errors{0};
        Threads threads;
        threads.start([&, uut, shared, count, dedicated] {
            for (int i = 0; i < count; ++i) {
                auto handler = [shared, i, count](int &) {
                    if (i + 1 == count || shared->stuck.load() >= 0)
                        return;
                    const QDeadlineTimer patience(2000);
                    while (shared->accepted.load() < i + 2) {
                        if (patience.hasExpired()) {
                            int none = -1;
                            shared->stuck.compare_exchange_strong(none, i);
                            return;
                        }
                        std::this_thread::yield();
                    }
                };
                auto accepting = uut.castWhenRoom(handler);
                // On the pool, not wait(): a waiting thread may run the actor's turn itself, and
                // then handler i would wait for this thread.
                const QDeadlineTimer deadline(WaitMs);
                while (!dedicated && !accepting.isFinished() && !deadline.hasExpired())
                    std::this_thread::yield();
                try {
                    if (!dedicated && !accepting.isFinished())
                        throw std::runtime_error("castWhenRoom never finished");
                    std::move(accepting).wait();
                } catch (...) {
                    ++errors;
                    return;
                }
                ++shared->accepted;
            }
        });
        threads.join();
        std::move(uut.stop()).wait();
        QCOMPARE(errors.load(), 0);
        QCOMPARE(shared->stuck.load(), -1);
        QCOMPARE(shared->accepted.load(), count);
    }

    void stressFloodingABoundedActorAccountsForEveryMessage_data()
    {
        QTest::addColumn<int>("overflow");
        QTest::newRow("Reject") << int(Overflow::Reject);
        QTest::newRow("DropOldest") << int(Overflow::DropOldest);
    }
    void stressFloodingABoundedActorAccountsForEveryMessage()
    {
        // Six threads flood it with casts while two send calls, one at a time each. Every cast is
        // handled or logged as dropped, exactly. With DropOldest, at most two calls wait among 64
        // places, so there is always a cast to drop: no call is ever refused, nor a cast.
        QFETCH(int, overflow);
        const bool dropOldest = Overflow(overflow) == Overflow::DropOldest;
        constexpr int casters = 6, callers = 2;
        constexpr int capacity = 64;
        const int rounds = 8;
        const int castsEach = testing::scaled(25000);
        const int callsEach = testing::scaled(2000);
        for (int round = 0; round < rounds; ++round) {
            struct Tally
            {
                qint64 casts = 0; // handled; by the handlers only, read after the stop
                qint64 calls = 0;
                std::atomic<qint64> castsSent{0};
                std::atomic<qint64> answered{0};
                std::atomic<qint64> mailboxFull{0};
                std::atomic<qint64> wrongAnswers{0};
                std::atomic<qint64> otherErrors{0};
            };
            auto tally = std::make_shared<Tally>();
            const QString name = QStringLiteral("flood-%1-%2").arg(overflow).arg(round);
            testing::LogCapture log;
            Actor<int> uut(0, {.name = name, .mailboxCapacity = capacity,
                               .overflow = Overflow(overflow)});
            Threads threads;
            Gate gate;
            uut.cast(gate.handler());
            QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
            for (int t = 0; t < casters; ++t) {
                threads.start([uut, tally, castsEach] {
                    for (int i = 0; i < castsEach; ++i) {
                        uut.cast([tally](int &) { ++tally->casts; });
                        ++tally->castsSent;
                    }
                });
            }
            for (int t = 0; t < callers; ++t) {
                threads.start([uut, tally, callsEach] {
                    for (int i = 0; i < callsEach; ++i) {
                        try {
                            auto answer = uut.call([tally, i](int &) {
                                ++tally->calls;
                                return i;
                            });
                            if (std::move(answer).wait() == i)
                                ++tally->answered;
                            else
                                ++tally->wrongAnswers;
                        } catch (const MailboxFull &) {
                            ++tally->mailboxFull;
                        } catch (...) {
                            ++tally->otherErrors;
                        }
                    }
                });
            }
            // Held for the first half of the flood (drops for sure), then handling meanwhile.
            const qint64 castsSent = qint64(casters) * castsEach;
            QTRY_VERIFY_WITH_TIMEOUT(tally->castsSent.load() >= castsSent / 2, WaitMs * 3);
            gate.open();
            threads.join();
            std::move(uut.stop()).wait();

            const qint64 refused = refusedCasts(log, name);
            const qint64 dropped = droppedOldest(log, name);
            QCOMPARE(tally->castsSent.load(), castsSent);
            QCOMPARE(tally->casts + refused + dropped, castsSent);
            QVERIFY2(refused + dropped >= castsSent / 2 - capacity,
                     qPrintable(QStringLiteral("only %1 dropped").arg(refused + dropped)));
            QCOMPARE(tally->wrongAnswers.load(), qint64(0));
            QCOMPARE(tally->otherErrors.load(), qint64(0));
            QCOMPARE(tally->answered.load() + tally->mailboxFull.load(), qint64(callers) * callsEach);
            QCOMPARE(tally->calls, tally->answered.load());
            if (dropOldest) {
                QCOMPARE(tally->mailboxFull.load(), qint64(0));
                QCOMPARE(refused, qint64(0));
            } else {
                QCOMPARE(dropped, qint64(0));
            }
        }
    }

    void stressCastLatestFromFourThreadsEndsWithTheLastValueOfEveryKey()
    {
        // Each key has a single producer, so its last value is defined. The handler waits until
        // at least `Coalesce` more updates were sent (or the producers are done): so updates pile
        // up and at most one in `Coalesce` runs, whatever the speeds.
        constexpr int producers = 4, keysEach = 4, keys = producers * keysEach;
        constexpr qint64 Coalesce = 100;
        const int rounds = 4;
        const int perProducer = std::max(keysEach, testing::scaled(1000000) / 2 / producers);
        for (int round = 0; round < rounds; ++round) {
            struct Tally
            {
                std::array<int, keys> last{}; // by the handlers only
                qint64 handled = 0;
                qint64 regressions = 0;
                std::array<int, keys> lastSent{}; // by each key's producer; read after the join
                std::atomic<qint64> sent{0};
                std::atomic<bool> done{false};
            };
            auto tally = std::make_shared<Tally>();
            Actor<int> uut(0, {.name = QStringLiteral("latest-stress-%1").arg(round)});
            Threads threads;
            for (int p = 0; p < producers; ++p) {
                threads.start([uut, tally, p, perProducer] {
                    for (int i = 0; i < perProducer; ++i) {
                        const int key = p * keysEach + i % keysEach;
                        const int value = i / keysEach + 1;
                        uut.castLatest(key, [tally, key, value](int &) {
                            Tally &t = *tally;
                            if (value <= t.last[std::size_t(key)])
                                ++t.regressions;
                            t.last[std::size_t(key)] = value;
                            ++t.handled;
                            const qint64 until = t.sent.load() + Coalesce;
                            QDeadlineTimer deadline(WaitMs);
                            while (t.sent.load() < until && !t.done.load() && !deadline.hasExpired())
                                QThread::yieldCurrentThread();
                        });
                        tally->lastSent[std::size_t(key)] = value;
                        ++tally->sent;
                    }
                });
            }
            threads.join();
            tally->done = true;
            std::move(uut.flush()).wait();
            const qint64 sent = qint64(producers) * perProducer;
            QCOMPARE(tally->sent.load(), sent);
            QCOMPARE(tally->regressions, qint64(0));
            for (int k = 0; k < keys; ++k)
                QCOMPARE(tally->last[std::size_t(k)], tally->lastSent[std::size_t(k)]);
            // While they produce, one run per Coalesce sends at most; after, one per key.
            QVERIFY2(tally->handled <= sent / Coalesce + keys + 1,
                     qPrintable(QStringLiteral("%1 of %2 ran").arg(tally->handled).arg(sent)));
            std::move(uut.stop()).wait();
        }
    }

    void stressCastLatestRacingStopLosesNothingUnloggedAndTouchesNoFreedMessage()
    {
        // A castLatest that supersedes a waiting update just as stop() closes the mailbox: the
        // new one is refused (logged), and the waiting one, queued before the stop, still runs.
        // Before the fix the refused message was freed and then looked up (ASan), and the one it
        // had replaced was dropped unrun and unlogged.
        constexpr int perRound = 20;
        const int rounds = testing::scaled(3000);
        testing::LogCapture log;
        QDeadlineTimer enough(30000);
        for (int round = 0; round < rounds && !enough.hasExpired(); ++round) {
            const QString name = QStringLiteral("latest-stop-%1").arg(round);
            auto record = std::make_shared<Record>();
            Actor<int> uut(0, {.name = name});
            std::atomic<bool> go{false};
            std::thread sender([&] {
                while (!go.load())
                    std::this_thread::yield();
                for (int i = 0; i < perRound; ++i)
                    uut.castLatest(1, noted(record, i));
            });
            go = true;
            for (int k = 0; k < round % 64; ++k)
                QThread::yieldCurrentThread();
            std::move(uut.stop()).wait();
            sender.join();
            const int refused = linesAbout(log, name, {"is stopped", "a cast was dropped"});
            const QList<int> ran = record->values();
            // Updates run in order; the refused ones are those sent after the stop, and the last
            // one that got in before it runs.
            QVERIFY2(std::is_sorted(ran.begin(), ran.end())
                             && std::adjacent_find(ran.begin(), ran.end()) == ran.end(),
                     qPrintable(name));
            if (refused < perRound) {
                QVERIFY2(!ran.isEmpty(), qPrintable(QStringLiteral("%1: %2 refused, none ran")
                                                            .arg(name).arg(refused)));
                QCOMPARE(ran.last(), perRound - 1 - refused);
            } else {
                QVERIFY(ran.isEmpty());
            }
        }
    }

    void stressStoppingWhileProducersWaitForRoomFailsEveryWaiterWithActorStopped()
    {
        // Even rounds: the actor is held, every producer waits, then it stops. Odd rounds: it
        // stops while the producers stream through it. Either way every producer ends with
        // ActorStopped, and exactly the accepted messages run.
        constexpr int producers = 8;
        constexpr int capacity = 4;
        const int rounds = testing::scaled(40);
        testing::LogCapture log; // castWhenRoom refused by a stopped actor also logs the cast
        for (int round = 0; round < rounds; ++round) {
            const bool held = round % 2 == 0;
            struct Tally
            {
                std::atomic<qint64> handled{0};
                std::atomic<qint64> accepted{0};
                std::atomic<int> waiting{0};
                std::atomic<int> stopped{0};
                std::atomic<int> otherErrors{0};
            };
            auto tally = std::make_shared<Tally>();
            Actor<int> uut(0, {.name = QStringLiteral("stop-waiters-%1").arg(round),
                               .mailboxCapacity = capacity});
            Threads threads;
            Gate gate;
            if (held) {
                uut.cast(gate.handler());
                QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), WaitMs);
            }
            for (int p = 0; p < producers; ++p) {
                threads.start([uut, tally] {
                    for (;;) {
                        auto accepting = uut.castWhenRoom([tally](int &) { ++tally->handled; });
                        const bool waits = !accepting.isFinished();
                        if (waits)
                            ++tally->waiting;
                        try {
                            std::move(accepting).wait();
                        } catch (const ActorStopped &) {
                            ++tally->stopped;
                            return;
                        } catch (...) {
                            ++tally->otherErrors;
                            return;
                        }
                        ++tally->accepted;
                        if (waits)
                            --tally->waiting;
                    }
                });
            }
            if (held) {
                QTRY_COMPARE_WITH_TIMEOUT(tally->waiting.load(), producers, WaitMs);
                QCOMPARE(tally->accepted.load(), qint64(capacity));
            } else {
                QTRY_VERIFY_WITH_TIMEOUT(tally->accepted.load() >= 200 + 37 * round, WaitMs);
            }
            auto stopping = uut.stop();
            QTRY_COMPARE_WITH_TIMEOUT(tally->stopped.load() + tally->otherErrors.load(), producers,
                                      WaitMs);
            QCOMPARE(tally->otherErrors.load(), 0);
            if (held)
                QVERIFY(!stopping.isFinished()); // the waiters failed while the actor was held
            gate.open();
            threads.join();
            std::move(stopping).wait();
            QCOMPARE(tally->handled.load(), tally->accepted.load());
            if (held)
                QCOMPARE(tally->handled.load(), qint64(capacity));
        }
    }
};

QTEST_GUILESS_MAIN(tst_FlowControl)

#include "tst_flowcontrol.moc"
