// Stress: the lifetime, stop and shutdown rules (S3, S6, S7, S9, S11, S16, WeakActor::lock())
// hammered with many threads, many actors and random interleavings: every accepted message runs,
// in order, before State's destructor, on the actor's own thread, and every actor ends. Assertions
// are about values, order, threads and lifetimes, never timings; nothing sleeps to let work
// finish. Sizes, seeds and the hang watchdog: see stress.h.
//
// ctest-timeout: 180
#include "stress.h"

#include <QtCore/QFile>
#include <QtCore/QRandomGenerator>

#include <QCoroTask>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

using namespace QtActors;
using testing::scaled;

namespace stress {

//! A count that can be awaited with a deadline: for destructors that run "eventually" (S6).
class Counter
{
public:
    void add()
    {
        // Notifies under the lock: the waiter may destroy this as soon as it sees the value.
        std::lock_guard lock(m_mutex);
        ++m_value;
        m_changed.notify_all();
    }
    int value() const
    {
        std::lock_guard lock(m_mutex);
        return m_value;
    }
    //! True once the count reached `target`; false at the deadline.
    bool waitFor(int target, std::chrono::milliseconds timeout = std::chrono::seconds(30))
    {
        std::unique_lock lock(m_mutex);
        return m_changed.wait_for(lock, timeout, [&] { return m_value >= target; });
    }

private:
    mutable std::mutex m_mutex;
    std::condition_variable m_changed;
    int m_value = 0;
};

//! The number of threads of this process (Linux), or -1.
int processThreadCount()
{
    QFile status(QStringLiteral("/proc/self/status"));
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    while (!status.atEnd()) {
        const QByteArray line = status.readLine();
        if (line.startsWith("Threads:"))
            return line.mid(8).trimmed().toInt();
    }
    return -1;
}

// ---- Lifetime -------------------------------------------------------------------------------

struct Counted
{
    Counted(Counter *destroyed, std::atomic<int> *wrong, int id, Qt::HANDLE creator)
        : destroyed(destroyed), wrong(wrong), id(id), creator(creator)
    {
    }
    Counted(Counted &&o) noexcept
        : destroyed(std::exchange(o.destroyed, nullptr)), wrong(o.wrong), id(o.id), creator(o.creator)
    {
    }
    Counted &operator=(Counted &&) = delete;
    ~Counted()
    {
        if (!destroyed)
            return; // moved from
        // S6: both casts ran first, and State dies on the actor's context, not the sender's.
        if (casts != 2 || QThread::currentThreadId() == creator)
            wrong->fetch_add(1);
        destroyed->add();
    }
    Counter *destroyed;
    std::atomic<int> *wrong;
    int id;
    Qt::HANDLE creator;
    int casts = 0;
};

// ---- Shutdown races (S6, S7, S9, WeakActor) ---------------------------------------------------

//! What an actor's State leaves behind; outlives the actor.
struct Journal
{
    std::atomic<int> handled{0};
    Counter destroyed;
    std::atomic<int> overlaps{0};
    std::atomic<int> misplaced{0}; // handlers off the dedicated thread
    // Written by ~Racer before `destroyed` is released.
    int handledAtDestruction = -1;
    std::vector<std::vector<int>> ran;
    Qt::HANDLE home = nullptr;
    Qt::HANDLE destroyedOn = nullptr;
};

struct Racer
{
    Racer(Journal *journal, int senders, bool pinned)
        : journal(journal), ran(senders), home(QThread::currentThreadId()), pinned(pinned)
    {
        journal->home = home;
    }
    Racer(const Racer &) = delete;
    Racer &operator=(const Racer &) = delete;
    ~Racer()
    {
        journal->ran = std::move(ran);
        journal->handledAtDestruction = journal->handled.load();
        journal->destroyedOn = QThread::currentThreadId();
        journal->destroyed.add();
    }
    int record(int sender, int seq)
    {
        if (inside++ != 0)
            journal->overlaps.fetch_add(1);
        compilerBarrier();
        if (pinned && QThread::currentThreadId() != home)
            journal->misplaced.fetch_add(1);
        ran[sender].push_back(seq);
        journal->handled.fetch_add(1);
        compilerBarrier();
        --inside;
        return seq * 2 + 1;
    }

    Journal *journal;
    std::vector<std::vector<int>> ran; // sequence numbers handled, per sender
    Qt::HANDLE home;
    bool pinned;
    int inside = 0;
};

struct SenderLog
{
    int sent = 0;
    int surelyAccepted = 0; // sent while the actor was still seen open afterwards
    int nullLocks = 0;
    std::vector<bool> isCast;                     // by sequence number
    int castsToNull = 0;                          // casts sent through a null handle
    std::vector<std::pair<int, Call<int>>> calls; // sequence number, call
};

enum ShutdownMode { Stop = 1, WeakLock = 2 };

// ---- Dedicated and shared threads (S3) --------------------------------------------------------

struct HomeLog
{
    std::atomic<int> constructed{0};
    Counter destroyed;
    std::atomic<int> misplaced{0};
};

struct Homed
{
    Homed(HomeLog *log, std::atomic<bool> *gone)
        : log(log), gone(gone), home(QThread::currentThread()), name(home->objectName())
    {
        log->constructed.fetch_add(1);
    }
    Homed(const Homed &) = delete;
    Homed &operator=(const Homed &) = delete;
    ~Homed()
    {
        check();
        gone->store(true, std::memory_order_release);
        log->destroyed.add();
    }
    QThread *check()
    {
        if (QThread::currentThread() != home)
            log->misplaced.fetch_add(1);
        return home;
    }
    HomeLog *log;
    std::atomic<bool> *gone;
    QThread *home;
    QString name;
    int handled = 0;
};

} // namespace stress

using namespace stress;

class tst_StressLifetime : public QObject
{
    Q_OBJECT

private:
    quint32 m_seed = 0;
    Watchdog m_watchdog;

    QByteArray withSeed(const QByteArray &what) const
    {
        return what + " (seed " + QByteArray::number(m_seed) + ")";
    }

    //! One round of senders racing the end of an actor (stop() from another thread, or the last
    //! handle dropped), with senders that switch to WeakActor::lock() in WeakLock mode.
    void shutdownRound(int mode, bool dedicated, QRandomGenerator &rng, int round, Failures &failures,
                       int &nullLocks)
    {
        const bool stop = mode & Stop;
        const bool weak = mode & WeakLock;
        const int senders = 3;
        const int cap = 400;
        const auto where = [round](const QString &what) {
            return QStringLiteral("round %1: %2").arg(round).arg(what);
        };

        Journal journal;
        const testing::LogCapture logCapture;
        const Options options{.name = QStringLiteral("racer %1").arg(round),
                              .executor = dedicated ? Executor::dedicatedThread() : Executor::pool(),
                              .throughput = 1 + int(rng.bounded(8))};
        std::optional<Actor<Racer>> uut = Actor<Racer>::emplace(options, &journal, senders, dedicated);
        const WeakActor<Racer> weakHandle = uut->weak();

        std::atomic<int> total{0};
        std::atomic<int> finishedSenders{0};
        std::atomic<int> destroyedWhenStopReturned{-1};
        std::vector<SenderLog> logs(senders);
        std::vector<std::thread> threads;

        for (int s = 0; s < senders; ++s) {
            std::optional<Actor<Racer>> own = *uut; // copied before anybody drops anything
            // How long this sender keeps its own handle: for good (Stop), for a while, or briefly
            // before it has to lock() the weak handle for each message (WeakLock).
            const int keepOwnFor = weak ? int(rng.bounded(40)) : stop ? cap : int(rng.bounded(200));
            const quint32 seed = rng.generate();
            threads.emplace_back([&, s, own = std::move(own), keepOwnFor, seed]() mutable {
                QRandomGenerator r(seed);
                SenderLog &log = logs[s];
                int afterStop = 0;
                bool sawNull = false;
                for (int seq = 0; seq < cap; ++seq) {
                    if (seq == keepOwnFor) {
                        own.reset();
                        if (!weak)
                            break;
                    }
                    const Actor<Racer> h = own ? *own : weakHandle.lock();
                    if (!own) {
                        // lock() gives a working handle or a null one, and once null, always null.
                        const bool isNull = h == WeakActor<Racer>().lock();
                        if (sawNull && !isNull)
                            failures.add(where(QStringLiteral("lock() gave a live handle after a null one")));
                        if (isNull && !sawNull)
                            ++log.nullLocks;
                        sawNull = sawNull || isNull;
                        if (!isNull && !stop && h.isStopped())
                            failures.add(where(QStringLiteral("lock() gave a stopped handle, but nobody stopped the actor")));
                        if (isNull && !stop) {
                            for (int again = 0; again < 5; ++again) {
                                if (!weakHandle.lock().isStopped())
                                    failures.add(where(QStringLiteral("lock() gave a live handle after a null one")));
                            }
                            break; // gone for good, and nobody to send to
                        }
                    }
                    log.isCast.push_back(r.bounded(2));
                    if (log.isCast.back() && h == WeakActor<Racer>().lock())
                        ++log.castsToNull;
                    if (log.isCast.back()) {
                        h.cast([s, seq](Racer &st) { st.record(s, seq); });
                    } else {
                        log.calls.emplace_back(seq, h.call([s, seq](Racer &st) { return st.record(s, seq); }));
                    }
                    log.sent = seq + 1;
                    total.fetch_add(1, std::memory_order_relaxed);
                    if (!h.isStopped())
                        log.surelyAccepted = seq + 1; // sent before the actor closed: it must run
                    else if (++afterStop > 8)
                        break;
                }
                finishedSenders.fetch_add(1);
            });
        }
        if (stop) {
            const int stopAt = int(rng.bounded(senders * 60));
            threads.emplace_back([&, h = *uut, stopAt] {
                while (total.load(std::memory_order_relaxed) < stopAt && finishedSenders.load() < senders)
                    std::this_thread::yield();
                Call<void> stopped = h.stop();
                std::move(stopped).wait();
                destroyedWhenStopReturned = journal.destroyed.value();
            });
        }
        // The test's own handle goes at a random moment too.
        const int dropAt = int(rng.bounded(senders * 60));
        while (total.load(std::memory_order_relaxed) < dropAt && finishedSenders.load() < senders)
            std::this_thread::yield();
        uut.reset();
        joinAll(threads);

        if (stop && destroyedWhenStopReturned.load() != 1)
            failures.add(where(QStringLiteral("stop().wait() returned before State's destructor ran")));
        abortUnless(journal.destroyed.waitFor(1),
                    withSeed(where(QStringLiteral("State never destroyed after the actor ended")).toUtf8()));
        if (journal.destroyed.value() != 1)
            failures.add(where(QStringLiteral("State destroyed %1 times").arg(journal.destroyed.value())));
        if (journal.handled.load() != journal.handledAtDestruction)
            failures.add(where(QStringLiteral("%1 handler(s) ran after State's destructor")
                                       .arg(journal.handled.load() - journal.handledAtDestruction)));
        if (journal.overlaps.load() != 0)
            failures.add(where(QStringLiteral("handlers overlapped")));
        if (journal.misplaced.load() != 0 || (dedicated && journal.destroyedOn != journal.home))
            failures.add(where(QStringLiteral("a handler or the destructor left the dedicated thread")));

        int refusedCasts = 0;
        int castsToNull = 0;
        for (int s = 0; s < senders; ++s) {
            const SenderLog &log = logs[s];
            const std::vector<int> &ran = journal.ran[s];
            const int k = int(ran.size());
            for (int seq = k; seq < log.sent; ++seq)
                refusedCasts += log.isCast[seq];
            castsToNull += log.castsToNull;
            // What ran from one sender is a prefix of what it sent, in order (S1, S7, S9).
            for (int i = 0; i < k; ++i) {
                if (ran[i] != i) {
                    failures.add(where(QStringLiteral("sender %1: message %2 ran as #%3").arg(s).arg(ran[i]).arg(i)));
                    break;
                }
            }
            if (k < log.surelyAccepted)
                failures.add(where(QStringLiteral("sender %1: %2 message(s) accepted before the end, only %3 ran")
                                           .arg(s).arg(log.surelyAccepted).arg(k)));
            if (k > log.sent || (!stop && k != log.sent))
                failures.add(where(QStringLiteral("sender %1: sent %2 message(s) through live handles, %3 ran")
                                           .arg(s).arg(log.sent).arg(k)));
            nullLocks += log.nullLocks;
            for (auto &[seq, call] : logs[s].calls) {
                if (!call.isFinished()) {
                    failures.add(where(QStringLiteral("sender %1: call %2 still unanswered after the end").arg(s).arg(seq)));
                    continue;
                }
                const QString expected = seq < k ? QStringLiteral("value %1").arg(seq * 2 + 1)
                                                 : QStringLiteral("ActorStopped");
                const QString got = outcomeOf([&c = call] { return std::move(c).wait(); });
                if (got != expected)
                    failures.add(where(QStringLiteral("sender %1: call %2 gave '%3', expected '%4'")
                                               .arg(s).arg(seq).arg(got, expected)));
            }
        }
        // S9: each cast refused by the stopped actor (or its null handle) was dropped with a log
        // line naming the actor (or saying the handle was null).
        int loggedDrops = 0;
        int loggedNullDrops = 0;
        const QString name = QStringLiteral("'%1'").arg(options.name);
        for (const QString &m : logCapture.messages()) {
            if (m.contains(QLatin1String("cast"))) {
                loggedDrops += m.contains(name);
                loggedNullDrops += m.contains(QLatin1String("null"));
            }
        }
        if (loggedDrops != refusedCasts - castsToNull || loggedNullDrops != castsToNull)
            failures.add(where(QStringLiteral("%1 cast(s) refused (%2 through null handles); %3 logged, %4 as null")
                                       .arg(refusedCasts).arg(castsToNull).arg(loggedDrops).arg(loggedNullDrops)));
    }

    void shutdownRace(int mode, bool dedicated)
    {
        const int rounds = dedicated ? scaled(200) : scaled(800);
        QRandomGenerator rng(m_seed);
        Failures failures;
        int nullLocks = 0;
        for (int round = 0; round < rounds && failures.isEmpty(); ++round)
            shutdownRound(mode, dedicated, rng, round, failures, nullLocks);
        QVERIFY2(failures.isEmpty(), withSeed(failures.report()).constData());
        if (mode & WeakLock)
            qDebug("lock() gave a null handle to %d of %d senders", nullLocks, rounds * 3);
    }

private Q_SLOTS:
    void init()
    {
        m_seed = drawSeed();
        m_watchdog.arm(QTest::currentTestFunction(), m_seed, HangLimit);
    }

    void cleanup()
    {
        m_watchdog.disarm();
        warnIfFailed(m_seed);
    }

    // S6: many actors, each dropped right after its last send; all of them must end.
    void thousandsOfPoolActorsAreAllDestroyedOnceTheirHandlesAreDropped()
    {
        const int creators = 4;
        const int perCreator = scaled(10000);
        const int total = creators * perCreator;
        Counter destroyed;
        std::atomic<int> wrong{0};
        Failures failures;
        std::vector<std::thread> threads;
        for (int t = 0; t < creators; ++t) {
            threads.emplace_back([&, t] {
                const Qt::HANDLE me = QThread::currentThreadId();
                std::vector<std::pair<int, Call<int>>> calls;
                calls.reserve(perCreator);
                for (int i = 0; i < perCreator; ++i) {
                    const int id = t * perCreator + i;
                    const Actor<Counted> a = id % 2
                            ? Actor<Counted>(Counted(&destroyed, &wrong, id, me))
                            : Actor<Counted>::emplace({}, &destroyed, &wrong, id, me);
                    a.cast([](Counted &c) { ++c.casts; });
                    calls.emplace_back(id, a.call([](Counted &c) { return c.id * 2 + c.casts; }));
                    a.cast([](Counted &c) { ++c.casts; });
                    // `a` goes here, with its messages possibly still queued.
                }
                for (auto &[id, call] : calls) {
                    const QString got = outcomeOf([&c = call] { return std::move(c).wait(); });
                    if (got != QStringLiteral("value %1").arg(id * 2 + 1))
                        failures.add(QStringLiteral("actor %1's call gave '%2'").arg(id).arg(got));
                }
            });
        }
        joinAll(threads);
        abortUnless(destroyed.waitFor(total),
                    withSeed(QByteArray::number(destroyed.value()) + " of " + QByteArray::number(total)
                             + " States destroyed"));
        QVERIFY2(failures.isEmpty(), withSeed(failures.report()).constData());
        QCOMPARE(destroyed.value(), total);
        QVERIFY2(wrong.load() == 0,
                 withSeed(QByteArray::number(wrong.load())
                          + " State(s) destroyed before their casts or on the sender's thread"));
    }

    // S7, S9: stop() from another thread while three senders cast and call.
    void stopRacingWithSendersRunsEveryAcceptedMessageBeforeTheDestructor_data() { stress::addExecutorRows(); }
    void stopRacingWithSendersRunsEveryAcceptedMessageBeforeTheDestructor()
    {
        QFETCH(bool, dedicated);
        shutdownRace(Stop, dedicated);
    }

    // S6: the last handle dropped (by the test or a sender) while the others still send.
    void lastHandleDroppedWhileOthersSendRunsEveryMessageBeforeTheDestructor_data() { stress::addExecutorRows(); }
    void lastHandleDroppedWhileOthersSendRunsEveryMessageBeforeTheDestructor()
    {
        QFETCH(bool, dedicated);
        shutdownRace(0, dedicated);
    }

    // WeakActor::lock() racing with the last release, and with stop().
    void weakLockRacingWithTheEndGivesAWorkingOrANullHandle_data()
    {
        QTest::addColumn<bool>("dedicated");
        QTest::addColumn<bool>("stopped");
        QTest::newRow("pool, last handle dropped") << false << false;
        QTest::newRow("pool, stopped") << false << true;
        QTest::newRow("dedicated thread, last handle dropped") << true << false;
        QTest::newRow("dedicated thread, stopped") << true << true;
    }
    void weakLockRacingWithTheEndGivesAWorkingOrANullHandle()
    {
        QFETCH(bool, dedicated);
        QFETCH(bool, stopped);
        shutdownRace(WeakLock | (stopped ? Stop : 0), dedicated);
    }

    // S3, S6: dedicated-thread actors created, used and ended in a loop from two threads.
    void dedicatedThreadActorsRunAndDieOnTheirOwnThread()
    {
        const int creators = 2;
        const int perCreator = scaled(250);
        const int total = creators * perCreator;
        const int baselineThreads = processThreadCount();
        HomeLog log;
        std::unique_ptr<std::atomic<bool>[]> gone(new std::atomic<bool>[total]);
        for (int i = 0; i < total; ++i)
            gone[i] = false;
        std::vector<std::vector<WeakActor<Homed>>> weaks(creators);
        Failures failures;
        std::vector<std::thread> threads;
        for (int t = 0; t < creators; ++t) {
            threads.emplace_back([&, t] {
                QThread *const me = QThread::currentThread();
                for (int i = 0; i < perCreator; ++i) {
                    const int id = t * perCreator + i;
                    const QString name = QStringLiteral("homed %1").arg(id);
                    auto uut = Actor<Homed>::emplace(
                            {.name = name, .executor = Executor::dedicatedThread()}, &log, &gone[id]);
                    uut.cast([](Homed &h) {
                        h.check();
                        ++h.handled;
                    });
                    uut.cast([](Homed &h) -> QCoro::Task<void> {
                        h.check();
                        ++h.handled;
                        co_return;
                    });
                    const auto [home, homeName] =
                            uut.call([](Homed &h) { return std::pair(h.check(), h.name); }).wait();
                    if (home == me || homeName != name)
                        failures.add(QStringLiteral("%1 ran on '%2'").arg(name, homeName));
                    const int handled = uut.call([](Homed &h) { return h.handled; }).wait();
                    if (handled != 2)
                        failures.add(QStringLiteral("%1 handled %2 casts, not 2").arg(name).arg(handled));
                    // A weak handle outlives every actor: the ended actor must stay safe to hold.
                    weaks[t].push_back(uut.weak());
                    if (i % 2) {
                        uut.stop().wait();
                        if (!gone[id].load(std::memory_order_acquire))
                            failures.add(QStringLiteral("%1: stop().wait() returned before ~State").arg(name));
                    }
                }
            });
        }
        joinAll(threads);
        abortUnless(log.destroyed.waitFor(total),
                    withSeed(QByteArray::number(log.destroyed.value()) + " of " + QByteArray::number(total)
                             + " States destroyed"));
        QVERIFY2(failures.isEmpty(), withSeed(failures.report()).constData());
        QCOMPARE(log.constructed.load(), total);
        QCOMPARE(log.destroyed.value(), total);
        QCOMPARE(log.misplaced.load(), 0);
        for (const auto &perCreatorWeaks : weaks)
            for (const auto &w : perCreatorWeaks)
                QVERIFY(w.lock().isStopped());
        weaks.clear(); // the last references to the ended actors go now
        // Each dedicated thread ends and is cleaned up: the process is back to about its size.
        if (baselineThreads > 0)
            QVERIFY2(eventually([&] { return processThreadCount() <= baselineThreads + 2; }),
                     withSeed("dedicated threads left behind: " + QByteArray::number(processThreadCount())
                              + " threads, " + QByteArray::number(baselineThreads) + " before"));
    }

    // S3, S11: many actors sharing one existing thread (a worker, or the test's own thread with
    // its event loop): all handlers and all destructors run there.
    void actorsOnOneSharedThreadAllRunAndDieThere_data()
    {
        QTest::addColumn<bool>("onTestThread");
        QTest::newRow("worker thread") << false;
        QTest::newRow("test's thread") << true;
    }
    void actorsOnOneSharedThreadAllRunAndDieThere()
    {
        QFETCH(bool, onTestThread);
        QThread worker;
        worker.setObjectName(QStringLiteral("shared worker"));
        QThread *const home = onTestThread ? QThread::currentThread() : &worker;
        if (!onTestThread)
            worker.start();
        const int actorCount = 50;
        const int senders = 3;
        const int each = onTestThread ? scaled(5000) : scaled(20000);
        HomeLog log;
        std::unique_ptr<std::atomic<bool>[]> gone(new std::atomic<bool>[actorCount]);
        std::vector<Actor<Homed>> actors;
        for (int a = 0; a < actorCount; ++a) {
            gone[a] = false;
            actors.push_back(Actor<Homed>::emplace(
                    {.name = QStringLiteral("on %1 %2").arg(home->objectName()).arg(a),
                     .executor = Executor::thread(home), .throughput = 1 + a % 5},
                    &log, &gone[a]));
        }
        Failures failures;
        std::atomic<int> sendersDone{0};
        std::vector<std::thread> threads;
        for (int s = 0; s < senders; ++s) {
            threads.emplace_back([&, seed = m_seed + quint32(s)] {
                QRandomGenerator rng(seed);
                for (int i = 0; i < each; ++i) {
                    const auto &a = actors[rng.bounded(actorCount)];
                    if (rng.bounded(4)) {
                        a.cast([](Homed &h) {
                            h.check();
                            ++h.handled;
                        });
                    } else if (a.call([](Homed &h) { return h.check(); }).wait() != home) {
                        failures.add(QStringLiteral("a handler ran off the shared thread"));
                    }
                }
                sendersDone.fetch_add(1);
            });
        }
        // On the test's thread the actors need its event loop while the senders wait for them.
        abortUnless(eventually([&] { return sendersDone.load() == senders; }, 60000),
                    withSeed("senders blocked on actors of the shared thread"));
        joinAll(threads);
        if (onTestThread) {
            // S11: waiting here for an actor that runs here could never finish.
            QCOMPARE(testing::thrownBy([&] { actors[0].call([](Homed &h) { return h.handled; }).wait(); }),
                     QStringLiteral("Deadlock"));
        }
        for (int a = 0; a < actorCount; a += 2) {
            Call<void> stopped = actors[a].stop(); // half stopped, half dropped
            if (!onTestThread)
                std::move(stopped).wait();
        }
        actors.clear();
        abortUnless(eventually([&] { return log.destroyed.value() >= actorCount; }),
                    withSeed(QByteArray::number(log.destroyed.value()) + " of "
                             + QByteArray::number(actorCount) + " States destroyed"));
        QVERIFY2(failures.isEmpty(), withSeed(failures.report()).constData());
        QCOMPARE(log.destroyed.value(), actorCount);
        QCOMPARE(log.misplaced.load(), 0);
        if (!onTestThread) {
            worker.quit();
            QVERIFY(worker.wait(QDeadlineTimer(30000)));
        }
    }
};

QTEST_GUILESS_MAIN(tst_StressLifetime)
#include "tst_stress_lifetime.moc"
