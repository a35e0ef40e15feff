// Time: timeouts (S17), timers (S18), one clock an executor may replace (S19).
// ctest-timeout: 600
#include "stress.h"
#include "testing.h"

#include <QtActors/detail/executorprivate.h>

#include <QtCore/QDir>
#include <QtCore/QElapsedTimer>
#include <QtCore/QFile>
#include <QtCore/QFutureWatcher>
#include <QtCore/QTimer>

#include <QCoroFuture>
#include <QCoroTimer>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <dirent.h>
#include <pthread.h>

using namespace QtActors;
using namespace std::chrono_literals;
using testing::errorKind;
using testing::run;
using testing::thrownBy;

namespace {

//! A call handler that keeps its Reply and never answers on its own: the call can only time out.
struct Silent
{
    std::vector<Reply<int>> kept;
};

auto neverAnswer()
{
    return [](Silent &s, Reply<int> reply) { s.kept.push_back(std::move(reply)); };
}

//! Holds an actor's turn until open() (a handler that waits for a flag, with a deadline).
class Gate
{
public:
    void open() { m_open = true; }
    auto handler()
    {
        return [this](auto &) { hold(); };
    }
    //! True once the gate's handler runs.
    auto entered()
    {
        return [this](auto &) {
            m_entered = true;
            hold();
        };
    }
    bool isEntered() const { return m_entered.load(); }
    //! True when a handler gave up holding: nobody opened the gate within 20 s (a test that
    //! waits for something the held actor blocks is wedged, not slow).
    bool gaveUp() const { return m_gaveUp.load(); }

private:
    void hold()
    {
        QDeadlineTimer deadline(20000);
        while (!m_open.load()) {
            if (deadline.hasExpired()) {
                m_gaveUp = true;
                return;
            }
            QThread::yieldCurrentThread();
        }
    }

    std::atomic<bool> m_open{false};
    std::atomic<bool> m_entered{false};
    std::atomic<bool> m_gaveUp{false};
};

int threadsOfThisProcess()
{
    int n = 0;
    if (DIR *dir = opendir("/proc/self/task")) {
        while (dirent *entry = readdir(dir))
            n += entry->d_name[0] != '.';
        closedir(dir);
    }
    return n;
}

//! How often the thread named `name` of this process has gone to sleep and woken (its voluntary
//! context switches), or -1 if there is no such thread (Linux).
long wakeUpsOfThread(const QByteArray &name)
{
    QDir tasks(QStringLiteral("/proc/self/task"));
    for (const QString &tid : tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        QFile comm(tasks.filePath(tid + QStringLiteral("/comm")));
        if (!comm.open(QIODevice::ReadOnly) || comm.readAll().trimmed() != name)
            continue;
        QFile status(tasks.filePath(tid + QStringLiteral("/status")));
        if (!status.open(QIODevice::ReadOnly))
            return -1;
        for (const QByteArray &line : status.readAll().split('\n')) {
            if (line.startsWith("voluntary_ctxt_switches:"))
                return line.mid(line.indexOf(':') + 1).trimmed().toLong();
        }
    }
    return -1;
}

// ---- An executor with a clock of its own (S19): turns run when the test says, time moves when
// the test says. What the library's test executor (S30) will be, in a few lines.

class StepClock final : public detail::Clock
{
public:
    Duration now() const noexcept override { return m_now; }
    void arm(detail::TimerEntry *entry, Duration due) override
    {
        disarm(entry);
        entry->ref();
        m_due.emplace(due, entry);
    }
    bool disarm(detail::TimerEntry *entry) noexcept override
    {
        for (auto it = m_due.begin(); it != m_due.end(); ++it) {
            if (it->second == entry) {
                m_due.erase(it);
                entry->deref();
                return true;
            }
        }
        return false;
    }
    //! Moves time on, firing what falls due, in order.
    void advance(Duration by)
    {
        const Duration until = m_now + by;
        while (!m_due.empty() && m_due.begin()->first <= until) {
            auto it = m_due.begin();
            m_now = std::max(m_now, it->first);
            detail::TimerEntry *entry = it->second;
            m_due.erase(it);
            entry->fire();
            entry->deref();
        }
        m_now = until;
    }
    std::size_t pending() const { return m_due.size(); }

private:
    Duration m_now{0};
    std::multimap<Duration, detail::TimerEntry *> m_due;
};

class StepExecutor final : public detail::Scheduler,
                           public detail::ExecutorPrivate,
                           public std::enable_shared_from_this<StepExecutor>
{
public:
    void schedule(detail::ActorCore *core) override { m_ready.push_back(core); }
    QThread *thread() const override { return nullptr; }
    int defaultThroughput() const override { return 64; }
    detail::Clock &clock() const noexcept override { return m_clock; }
    std::shared_ptr<detail::Scheduler> bind(const QString &) override { return shared_from_this(); }

    int runUntilIdle()
    {
        int turns = 0;
        while (!m_ready.empty()) {
            detail::ActorCore *core = m_ready.front();
            m_ready.pop_front();
            core->runTurn();
            ++turns;
        }
        return turns;
    }
    StepClock &stepClock() const { return m_clock; }

private:
    std::deque<detail::ActorCore *> m_ready;
    mutable StepClock m_clock;
};

//! The calling thread's name, as the kernel knows it (the library names its threads).
QByteArray currentThreadName()
{
    char name[32] = {};
    pthread_getname_np(pthread_self(), name, sizeof name);
    return QByteArray(name);
}

} // namespace

class tst_Time : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // ---- S17 timeouts --------------------------------------------------------------------

    void aCallThatTimesOutFinishesWithTimeoutWhicheverWayItIsConsumed_data()
    {
        QTest::addColumn<QString>("way");
        for (const char *way : {"wait", "co_await", "future", "task", "then"})
            QTest::newRow(way) << QString::fromLatin1(way);
    }
    void aCallThatTimesOutFinishesWithTimeoutWhicheverWayItIsConsumed()
    {
        QFETCH(QString, way);
        Actor<Silent> uut(Silent{}, {.name = QStringLiteral("silent")});
        auto call = uut.call(neverAnswer()).timeout(20ms);
        QString kind;
        if (way == QLatin1String("wait")) {
            kind = thrownBy([&] { std::move(call).wait(); });
        } else if (way == QLatin1String("co_await")) {
            auto out = run([](Call<int> c) -> QCoro::Task<int> { co_return co_await std::move(c); }(
                                   std::move(call)),
                           10000);
            QVERIFY(out.finished);
            kind = errorKind(out.error);
        } else if (way == QLatin1String("future")) {
            QFuture<int> f = std::move(call).future();
            QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 10000);
            kind = thrownBy([&] { f.result(); });
        } else if (way == QLatin1String("task")) {
            auto out = run(std::move(call).task(), 10000);
            QVERIFY(out.finished);
            kind = errorKind(out.error);
        } else {
            QObject context;
            bool valueRan = false;
            std::exception_ptr error;
            std::move(call).then(&context, [&](int) { valueRan = true; },
                                 [&](std::exception_ptr e) { error = e; });
            QTRY_VERIFY_WITH_TIMEOUT(error != nullptr, 10000);
            QVERIFY(!valueRan);
            kind = errorKind(error);
        }
        QCOMPARE(kind, QStringLiteral("Timeout"));
    }

    void theTimeoutNamesTheActor()
    {
        Actor<Silent> uut(Silent{}, {.name = QStringLiteral("slow service")});
        try {
            std::move(uut.call(neverAnswer()).timeout(1ms)).wait();
            QFAIL("no Timeout");
        } catch (const Timeout &e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("'slow service'")), e.what());
        }
    }

    void aCallAnsweredBeforeItsDeadlineGetsItsValue()
    {
        Actor<int> uut(41);
        testing::LogCapture log;
        for (int i = 0; i < 100; ++i)
            QCOMPARE(uut.call([](int &n) { return n + 1; }).timeout(10s).wait(), 42);
        auto out = run([](Actor<int> a) -> QCoro::Task<int> {
            co_return co_await a.call([](int &n) { return n; }).timeout(10s);
        }(uut));
        QCOMPARE(out.value.value(), 41);
        QVERIFY2(log.messages().isEmpty(), qPrintable(log.messages().join(u'\n')));
    }

    void aCallWhoseDeadlinePassedBeforeItStartedIsNeverRun_data()
    {
        QTest::addColumn<int>("kind");
        QTest::newRow("plain") << 0;
        QTest::newRow("coroutine") << 1;
        QTest::newRow("reply") << 2;
    }
    void aCallWhoseDeadlinePassedBeforeItStartedIsNeverRun()
    {
        QFETCH(int, kind);
        Actor<int> uut(0);
        Gate gate;
        uut.cast(gate.handler()); // holds the actor: the call below waits in the queue
        std::atomic<bool> ran{false};
        Call<int> call = [&] {
            switch (kind) {
            case 0:
                return uut.call([&ran](int &) { ran = true; return 1; });
            case 1:
                return uut.call([&ran](int &) -> QCoro::Task<int> { ran = true; co_return 1; });
            default:
                return uut.call([&ran](int &, Reply<int> r) { ran = true; r(1); });
            }
        }();
        QCOMPARE(thrownBy([&] { std::move(call).timeout(10ms).wait(); }), QStringLiteral("Timeout"));
        gate.open();
        std::move(uut.flush()).wait();
        QVERIFY(!ran.load());
        QVERIFY2(!gate.gaveUp(), "the wait ended only when the held handler gave up, not at its deadline");
    }

    void isCancelledTurnsTrueInsideAPlainHandlerOnceTheDeadlinePassed()
    {
        Actor<int> uut(0);
        QVERIFY(!isCancelled()); // outside any handler
        auto call = uut.call([](int &) {
            const bool before = isCancelled();
            QDeadlineTimer limit(20000);
            while (!isCancelled() && !limit.hasExpired())
                QThread::yieldCurrentThread();
            return before ? -1 : (isCancelled() ? 1 : 0);
        });
        QCOMPARE(thrownBy([&] { std::move(call).timeout(20ms).wait(); }), QStringLiteral("Timeout"));
        // The handler saw it and its late answer was discarded; a call without a deadline is not.
        QCOMPARE(uut.call([](int &) { return isCancelled(); }).wait(), false);
    }

    void isCancelledTurnsTrueInsideACoroutineHandlerAfterASuspension()
    {
        Actor<int> other(0);
        Actor<int> uut(0);
        std::atomic<int> seen{-1};
        auto call = uut.call([&seen, other](int &) -> QCoro::Task<int> {
            const bool before = isCancelled();
            QDeadlineTimer limit(20000);
            for (;;) {
                auto c = other.call([](int &n) { return ++n; });
                co_await std::move(c); // a suspension (or not): isCancelled() still knows the call
                if (isCancelled() || limit.hasExpired())
                    break;
            }
            seen = before ? 0 : (isCancelled() ? 1 : 2);
            co_return 7;
        });
        QCOMPARE(thrownBy([&] { std::move(call).timeout(30ms).wait(); }), QStringLiteral("Timeout"));
        QTRY_COMPARE_WITH_TIMEOUT(seen.load(), 1, 20000);
    }

    void aReplyHandlerSeesIsCancelledAndItsLateAnswerIsDiscarded()
    {
        Actor<int> uut(0);
        std::atomic<bool> cancelledSeen{false};
        auto call = uut.call([&](int &, Reply<int> reply) {
            QDeadlineTimer limit(20000);
            while (!isCancelled() && !limit.hasExpired())
                QThread::yieldCurrentThread();
            cancelledSeen = isCancelled();
            reply(5); // too late: discarded
        });
        QFuture<int> f = std::move(call).timeout(20ms).future();
        QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 20000);
        QCOMPARE(thrownBy([&] { f.result(); }), QStringLiteral("Timeout"));
        std::move(uut.flush()).wait();
        QVERIFY(cancelledSeen.load());
        QCOMPARE(f.resultCount(), 0);
    }

    void aCoroutineHandlerCanAwaitACallWithATimeout()
    {
        Actor<Silent> slow(Silent{});
        Actor<int> uut(0);
        auto call = uut.call([slow](int &) -> QCoro::Task<QString> {
            try {
                co_await slow.call(neverAnswer()).timeout(20ms);
                co_return QStringLiteral("no timeout");
            } catch (const Timeout &) {
                co_return QStringLiteral("Timeout");
            }
        });
        QCOMPARE(std::move(call).timeout(20s).wait(), QStringLiteral("Timeout"));
        QCOMPARE(uut.call([](int &n) { return n; }).wait(), 0); // and the actor goes on
    }

    void deadlineTakesAQDeadlineTimerAndForeverMeansNone()
    {
        Actor<Silent> silent(Silent{});
        QCOMPARE(thrownBy([&] { std::move(silent.call(neverAnswer()).deadline(QDeadlineTimer(20))).wait(); }),
                 QStringLiteral("Timeout"));
        Actor<int> uut(3);
        QCOMPARE(uut.call([](int &n) { return n; }).deadline(QDeadlineTimer(QDeadlineTimer::Forever)).wait(), 3);
        // A deadline already passed: Timeout without running the handler.
        std::atomic<bool> ran{false};
        QDeadlineTimer past(0);
        Gate gate;
        uut.cast(gate.handler());
        QCOMPARE(thrownBy([&] { std::move(uut.call([&](int &) { ran = true; return 0; }).deadline(past)).wait(); }),
                 QStringLiteral("Timeout"));
        gate.open();
        std::move(uut.flush()).wait();
        QVERIFY(!ran.load());
        QVERIFY2(!gate.gaveUp(), "the wait ended only when the held handler gave up, not at its deadline");
    }

    void hugeTimeoutsAndDelaysMeanAVeryLongTimeNeverAnOverflow()
    {
        // The longest durations a std::chrono::milliseconds holds overflow in nanoseconds: they
        // must wait (about 100 years), not finish or fire at once.
        Actor<int> uut(7);
        auto slowly = [](int &n) {
            std::this_thread::sleep_for(20ms); // allowed: slow work, past any deadline an overflow gives
            return n;
        };
        QCOMPARE(uut.call(slowly).timeout(std::chrono::milliseconds::max()).wait(), 7);
        QCOMPARE(uut.call(slowly).timeout(std::chrono::hours(24 * 365 * 1000)).wait(), 7);
        auto future = uut.call(slowly).timeout(std::chrono::milliseconds::max()).future();
        QCOMPARE(thrownBy([&] { future.waitForFinished(); }), QStringLiteral("none"));
        QCOMPARE(future.result(), 7);

        auto hits = std::make_shared<std::atomic<int>>(0);
        auto count = [hits](int &) { ++*hits; };
        const std::chrono::milliseconds almostMax(INT64_MAX / 1'000'000 - 1000);
        Timer once = uut.castAfter(std::chrono::milliseconds::max(), count);
        Timer nearly = uut.castAfter(almostMax, count);
        Timer every = uut.castEvery(std::chrono::milliseconds::max(), count);
        std::atomic<bool> witnessed{false};
        Timer witness = uut.castAfter(30ms, [&](int &) { witnessed = true; });
        QTRY_VERIFY_WITH_TIMEOUT(witnessed.load(), 10000);
        std::move(uut.flush()).wait();
        QCOMPARE(hits->load(), 0);
        QVERIFY(once.isActive() && nearly.isActive() && every.isActive());
    }

    void aTimedOutCallNeverContinuesOnTheTimersThread()
    {
        // One thread fires every timer and timeout in the process. What continues after a call
        // timed out and has no actor or event loop to continue on (a QFuture continuation, a
        // coroutine started on a plain thread) continues on a pool thread, never on that one:
        // there it could stall every timer, and waiting there for another timeout never ended.
        stress::Watchdog watchdog;
        watchdog.arm(QTest::currentTestFunction(), 0, std::chrono::seconds(120));
        Actor<Silent> silent(Silent{});
        Actor<int> helper(0);
        auto waitForAnotherTimeout = [silent, helper] {
            return helper.call([silent](int &) -> QCoro::Task<int> {
                try {
                    co_return co_await silent.call(neverAnswer()).timeout(20ms);
                } catch (const Timeout &) {
                    co_return -1;
                }
            }).wait();
        };

        std::mutex mutex;
        QByteArray futureThread, coroutineThread;
        std::atomic<int> futureGot{0}, coroutineGot{0};
        auto future = silent.call(neverAnswer()).timeout(10ms).future().then([](int) {}).onFailed([&] {
            {
                const std::lock_guard lock(mutex);
                futureThread = currentThreadName();
            }
            futureGot = waitForAnotherTimeout();
        });
        std::thread plain([&] {
            auto task = [&]() -> QCoro::Task<void> {
                try {
                    auto timed = silent.call(neverAnswer()).timeout(10ms);
                    (void)co_await std::move(timed);
                } catch (const Timeout &) {
                }
                {
                    const std::lock_guard lock(mutex);
                    coroutineThread = currentThreadName();
                }
                coroutineGot = waitForAnotherTimeout();
            };
            auto running = task();
            QDeadlineTimer enough(30000);
            while (coroutineGot.load() == 0 && !enough.hasExpired())
                std::this_thread::yield();
        });
        struct Join { std::thread &t; ~Join() { t.join(); } } join{plain}; // (also when failing)
        QTRY_COMPARE_WITH_TIMEOUT(futureGot.load(), -1, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(coroutineGot.load(), -1, 20000);
        const std::lock_guard lock(mutex);
        qInfo("continued on '%s' and '%s'", futureThread.constData(), coroutineThread.constData());
        QVERIFY2(futureThread != "QtActors timers", futureThread.constData());
        QVERIFY2(coroutineThread != "QtActors timers", coroutineThread.constData());
    }

    void eachCallWithATimeoutNearItsRunTimeEndsExactlyOnce()
    {
        // Answers and deadlines race: each Call ends once, with its value or Timeout.
        Actor<int> uut(0);
        const int calls = testing::scaled(20000);
        std::atomic<int> values{0}, timeouts{0}, others{0};
        std::vector<QFuture<int>> futures;
        futures.reserve(calls);
        for (int i = 0; i < calls; ++i) {
            auto c = uut.call([i](int &) {
                const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(i % 50);
                while (std::chrono::steady_clock::now() < until) { }
                return i;
            });
            futures.push_back(std::move(c).timeout(std::chrono::milliseconds(i % 40)).future());
        }
        for (int i = 0; i < calls; ++i)
            QTRY_VERIFY_WITH_TIMEOUT(futures[i].isFinished(), 60000);
        // QFuture hands values and errors over inside uninstrumented Qt; give ThreadSanitizer
        // visible edges from where they were made: the actor's handlers (a flush) and the timer
        // thread (a tick it sends after every timeout it has fired, which fire in due order).
        std::atomic<bool> ticked{false};
        uut.castAfter(0ms, [&ticked](int &) { ticked = true; }).detach();
        QTRY_VERIFY_WITH_TIMEOUT(ticked.load(), 60000);
        std::move(uut.flush()).wait();
        for (int i = 0; i < calls; ++i) {
            const QString kind = thrownBy([&] {
                if (futures[i].result() != i)
                    throw std::runtime_error("wrong value");
            });
            (kind == QLatin1String("none") ? values : kind == QLatin1String("Timeout") ? timeouts : others)++;
            QCOMPARE(futures[i].resultCount() + (kind == QLatin1String("Timeout") ? 1 : 0), 1);
        }
        QCOMPARE(values + timeouts, calls);
        QCOMPARE(others.load(), 0);
        qDebug("%d values, %d timeouts", values.load(), timeouts.load());
    }

    void aTimeoutArmedOnAThreadThatEndsStillFires()
    {
        // The clock keeps lazily armed timeouts per arming thread; when that thread ends, they
        // must still fire. Sixteen threads each arm one (behind answered ones) and end at once.
        Actor<Silent> silent(Silent{});
        Actor<int> fast(0);
        constexpr int Threads = 16;
        std::vector<QFuture<int>> futures(Threads);
        std::vector<std::thread> threads;
        std::atomic<int> answered{0};
        for (int t = 0; t < Threads; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 40; ++i)
                    answered += fast.call([](int &n) { return ++n; }).timeout(1h).future().result() > 0;
                futures[t] = silent.call(neverAnswer()).timeout(std::chrono::milliseconds(10 + t)).future();
            });
        }
        for (auto &thread : threads)
            thread.join();
        QCOMPARE(answered.load(), Threads * 40);
        for (auto &f : futures) {
            QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 10000);
            QCOMPARE(thrownBy([&] { f.result(); }), QStringLiteral("Timeout"));
        }
    }

    void aTimeoutArmedWhileItsThreadIsEndingStillFires()
    {
        // A thread-local destroyed after the clock's list for its thread (it was made before the
        // list) consumes a call with a timeout: the clock must still fire it.
        struct ArmsAtExit
        {
            Actor<Silent> *silent = nullptr;
            QFuture<int> *out = nullptr;
            ~ArmsAtExit()
            {
                if (silent)
                    *out = silent->call(neverAnswer()).timeout(10ms).future();
            }
        };
        Actor<Silent> silent(Silent{});
        QFuture<int> early, late;
        std::thread([&] {
            thread_local ArmsAtExit atExit; // made first: destroyed last
            atExit.silent = &silent;
            atExit.out = &late;
            early = silent.call(neverAnswer()).timeout(10ms).future(); // makes this thread's list
        }).join();
        for (QFuture<int> *f : {&early, &late}) {
            QTRY_VERIFY_WITH_TIMEOUT(f->isFinished(), 10000);
            QCOMPARE(thrownBy([&] { f->result(); }), QStringLiteral("Timeout"));
        }
    }

    void aLongPendingTimeoutLetsTheClockSleepUntilItsDeadline()
    {
        // A call that waits an hour for its answer must not keep the clock's thread waking up
        // meanwhile: its timeout goes from the arming thread's list into the clock's heap, and
        // the thread sleeps until the heap's first due time. (This test lets time pass on
        // purpose: what it checks is that nothing happens while it does.)
        Actor<Silent> silent(Silent{});
        QFuture<int> pending = silent.call(neverAnswer()).timeout(1h).future();
        QTest::qWait(300); // several sweep periods: the entry has left the list
        const long before = wakeUpsOfThread("QtActors timers");
        if (before < 0)
            QSKIP("no /proc/self/task/*/status here");
        QTest::qWait(500);
        const long woken = wakeUpsOfThread("QtActors timers") - before;
        QVERIFY2(woken <= 2, qPrintable(QStringLiteral("the clock's thread woke %1 times").arg(woken)));
        QVERIFY(!pending.isFinished());
        std::move(silent.stop()).wait();
        QTRY_VERIFY_WITH_TIMEOUT(pending.isFinished(), 10000);
    }

    void aShortDeadlineArmedAfterLongOnesFiresFirst()
    {
        // The clock sleeps until the earliest due time it knows; a later, earlier deadline wakes it.
        Actor<Silent> silent(Silent{});
        QFuture<int> late = silent.call(neverAnswer()).timeout(1h).future();
        QFuture<int> soon = silent.call(neverAnswer()).timeout(20ms).future();
        QTRY_VERIFY_WITH_TIMEOUT(soon.isFinished(), 10000);
        QCOMPARE(thrownBy([&] { soon.result(); }), QStringLiteral("Timeout"));
        QVERIFY(!late.isFinished());
        std::move(silent.stop()).wait(); // its kept Reply ends with the actor
        QTRY_VERIFY_WITH_TIMEOUT(late.isFinished(), 10000);
        QVERIFY(thrownBy([&] { late.result(); }) != QLatin1String("Timeout"));
    }

    void aTimeoutCannotBeSetOnAConsumedCall()
    {
#ifdef QT_NO_DEBUG
        Actor<int> uut(0);
        auto c = uut.call([](int &n) { return n; });
        auto moved = std::move(c);
        QCOMPARE(thrownBy([&] { (void)std::move(c).timeout(1s); }), QStringLiteral("Error"));
        QCOMPARE(std::move(moved).wait(), 0);
#else
        QSKIP("debug builds assert instead (tested in tst_misuse)");
#endif
    }

    // ---- S18 timers ----------------------------------------------------------------------

    void castAfterDeliversOnceNeverBeforeItsTime_data()
    {
        QTest::addColumn<int>("executor");
        QTest::newRow("pool") << 0;
        QTest::newRow("dedicated thread") << 1;
        QTest::newRow("main thread") << 2;
    }
    void castAfterDeliversOnceNeverBeforeItsTime()
    {
        QFETCH(int, executor);
        const Executor executors[] = {Executor::pool(), Executor::dedicatedThread(),
                                      Executor::thread(QThread::currentThread())};
        Actor<int> uut(0, {.executor = executors[executor]});
        QThread *actorThread = QThread::currentThread();
        if (executor != 2) // (wait() on the main thread for a main-thread actor is a Deadlock)
            actorThread = uut.call([](int &) { return QThread::currentThread(); }).timeout(20s).wait();
        QElapsedTimer clock;
        clock.start();
        std::atomic<qint64> deliveredAfter{-1};
        std::atomic<QThread *> deliveredOn{nullptr};
        std::atomic<int> deliveries{0};
        Timer timer = uut.castAfter(30ms, [&](int &) {
            deliveredAfter = clock.elapsed();
            deliveredOn = QThread::currentThread();
            ++deliveries;
        });
        QVERIFY(timer.isActive());
        QTRY_VERIFY_WITH_TIMEOUT(deliveries.load() == 1, 20000);
        QVERIFY2(deliveredAfter.load() >= 30, qPrintable(QString::number(deliveredAfter.load())));
        if (executor == 0)
            QVERIFY(deliveredOn.load() != QThread::currentThread()); // one of the pool's threads
        else
            QCOMPARE(deliveredOn.load(), actorThread);
        QVERIFY(!timer.isActive()); // it has delivered
        QTest::qWait(50);           // (nothing more may come: look a little later)
        QCOMPARE(deliveries.load(), 1);
    }

    void castEveryTicksEveryIntervalTheFirstTickOneIntervalAfterTheCall()
    {
        Actor<int> uut(0);
        QElapsedTimer clock;
        clock.start();
        std::atomic<qint64> first{-1};
        std::atomic<int> ticks{0};
        Timer timer = uut.castEvery(20ms, [&](int &) {
            if (ticks++ == 0)
                first = clock.elapsed();
        });
        QTRY_VERIFY_WITH_TIMEOUT(ticks.load() >= 5, 20000);
        QVERIFY2(first.load() >= 20, qPrintable(QString::number(first.load())));
        QVERIFY(clock.elapsed() >= 5 * 20 - 1); // five ticks take at least five intervals
        QVERIFY(timer.isActive());
        timer.cancel();
        QVERIFY(!timer.isActive());
        const int atCancel = ticks.load();
        std::move(uut.flush()).wait();
        QTest::qWait(60);
        QCOMPARE(ticks.load(), atCancel);
    }

    void cancelGuaranteesNothingIsDeliveredAfterItEvenATickAlreadyQueued()
    {
        Actor<int> uut(0);
        Gate gate;
        uut.cast(gate.entered());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), 20000);
        std::atomic<int> ticks{0};
        Timer timer = uut.castAfter(0ms, [&](int &) { ++ticks; });
        // The clock fires in due order: once a later timer of another actor has delivered, this
        // one's tick is queued behind the gate.
        Actor<int> witness(0);
        std::atomic<bool> later{false};
        witness.castAfter(1ms, [&](int &) { later = true; }).detach();
        QTRY_VERIFY_WITH_TIMEOUT(later.load(), 20000);
        QVERIFY(timer.isActive()); // queued, not delivered
        timer.cancel();
        gate.open();
        std::move(uut.flush()).wait();
        QCOMPARE(ticks.load(), 0);
        QVERIFY(!timer.isActive());
    }

    void destroyingTheTimerCancelsIt()
    {
        Actor<int> uut(0);
        std::atomic<int> ticks{0};
        {
            Timer timer = uut.castEvery(1ms, [&](int &) { ++ticks; });
            QTRY_VERIFY_WITH_TIMEOUT(ticks.load() > 0, 20000);
        }
        const int atEnd = ticks.load();
        std::move(uut.flush()).wait();
        QTest::qWait(20);
        QCOMPARE(ticks.load(), atEnd);
    }

    void movingATimerMovesItAndAssigningCancelsTheOldOne()
    {
        Actor<int> uut(0);
        std::atomic<int> a{0}, b{0};
        Timer first = uut.castEvery(1ms, [&](int &) { ++a; });
        Timer moved = std::move(first);
        QVERIFY(!first.isActive()); // NOLINT: a moved-from Timer is empty
        QVERIFY(moved.isActive());
        moved = uut.castEvery(1ms, [&](int &) { ++b; });
        const int aAtAssign = a.load();
        QTRY_VERIFY_WITH_TIMEOUT(b.load() > 2, 20000);
        std::move(uut.flush()).wait();
        QCOMPARE(a.load(), aAtAssign);
        Timer empty;
        QVERIFY(!empty.isActive());
        empty.cancel(); // nothing to do
    }

    void aPeriodicTimerNeverPilesUpTicks()
    {
        Actor<int> uut(0);
        Gate gate;
        uut.cast(gate.entered());
        QTRY_VERIFY_WITH_TIMEOUT(gate.isEntered(), 20000);
        std::atomic<int> ticks{0};
        Timer timer = uut.castEvery(1ms, [&](int &) { ++ticks; });
        QTest::qWait(100); // ~100 ticks fall due while the actor is held
        // Queued behind the gate and whatever ticks are queued now: it counts them.
        auto counted = uut.call([&ticks](int &) { return ticks.load(); });
        gate.open();
        const int queuedMeanwhile = std::move(counted).wait();
        QCOMPARE(queuedMeanwhile, 1);
        QTRY_VERIFY_WITH_TIMEOUT(ticks.load() >= 3, 20000); // and it goes on ticking
    }

    void aCoroutineTickHandlerHoldsTheActorAndItsTimerUntilItsTaskEnds()
    {
        QThread thread;
        thread.start();
        {
            Actor<int> uut(0, {.executor = Executor::thread(&thread)});
            std::atomic<int> running{0}, overlaps{0}, ticks{0};
            Timer timer = uut.castEvery(1ms, [&](int &) -> QCoro::Task<void> {
                if (running++ > 0)
                    ++overlaps;
                co_await QCoro::sleepFor(5ms);
                --running;
                ++ticks;
            });
            QTRY_VERIFY_WITH_TIMEOUT(ticks.load() >= 5, 20000);
            timer.cancel();
            std::move(uut.stop()).wait();
            QCOMPARE(overlaps.load(), 0);
        }
        thread.quit();
        QVERIFY(thread.wait(20000));
    }

    void exceptionsFromTicksAreLoggedAndAPeriodicTimerGoesOn()
    {
        testing::LogCapture log;
        Actor<int> uut(0, {.name = QStringLiteral("ticker")});
        std::atomic<int> ticks{0};
        Timer timer = uut.castEvery(1ms, [&](int &) {
            ++ticks;
            throw std::runtime_error("tick failed");
        });
        QTRY_VERIFY_WITH_TIMEOUT(ticks.load() >= 3, 20000);
        timer.cancel();
        QVERIFY(log.contains(QStringLiteral("'ticker': a cast handler threw: tick failed")));
    }

    void timersDoNotKeepTheirActorAliveAndEndWithIt()
    {
        auto destroyed = std::make_shared<std::atomic<bool>>(false);
        struct Watched
        {
            std::shared_ptr<std::atomic<bool>> flag;
            ~Watched() { *flag = true; }
        };
        Timer every, after;
        {
            Actor<Watched> uut(Watched{destroyed});
            every = uut.castEvery(1ms, [](Watched &) { });
            after = uut.castAfter(1h, [](Watched &) { });
            QVERIFY(every.isActive() && after.isActive());
        }
        QTRY_VERIFY_WITH_TIMEOUT(destroyed->load(), 20000);
        QTRY_VERIFY_WITH_TIMEOUT(!every.isActive(), 20000);
        QVERIFY(!after.isActive());
        // A timer on a stopped actor never starts.
        Actor<int> stopped(0);
        std::move(stopped.stop()).wait();
        testing::LogCapture log;
        Timer never = stopped.castAfter(1ms, [](int &) { });
        QVERIFY(!never.isActive());
    }

    void aDetachedTimerRunsOnWithoutAHandle()
    {
        Actor<int> uut(0);
        std::atomic<int> ticks{0};
        uut.castEvery(1ms, [&](int &) { ++ticks; }).detach();
        QTRY_VERIFY_WITH_TIMEOUT(ticks.load() >= 3, 20000);
        std::atomic<bool> once{false};
        uut.castAfter(1ms, [&](int &) { once = true; }).detach();
        QTRY_VERIFY_WITH_TIMEOUT(once.load(), 20000);
        std::move(uut.stop()).wait(); // the periodic one ends with the actor
    }

    void aTickCanCancelItsOwnTimer()
    {
        Actor<int> uut(0);
        std::atomic<int> ticks{0};
        auto timer = std::make_shared<Timer>();
        std::atomic<bool> assigned{false};
        *timer = uut.castEvery(1ms, [&ticks, &assigned, timer](int &) {
            if (!assigned.load()) // (the handle is being written by the test thread)
                return;
            if (++ticks == 3)
                timer->cancel(); // inside its own tick: returns at once
        });
        assigned = true;
        QTRY_COMPARE_WITH_TIMEOUT(ticks.load(), 3, 20000);
        std::move(uut.flush()).wait();
        QTest::qWait(20);
        QCOMPARE(ticks.load(), 3);
        std::move(uut.stop()).wait(); // (the handler holds its Timer: the stop frees it)
    }

    void cancelWaitingForATickThatWaitsForAnActorOnTheCancellingThreadNeverHangs()
    {
        // The GUI thread cancels (a widget's destructor) while the worker's tick blocks in wait()
        // for an actor on the GUI thread: that could never end. Either the tick gets Deadlock
        // (it blocked after cancel() began waiting) or cancel() returns without waiting (the tick
        // was blocked first); both are logged, and the tick ends once the GUI thread runs again.
        stress::Watchdog watchdog;
        watchdog.arm(QTest::currentTestFunction(), 0, std::chrono::seconds(120));
        testing::LogCapture log;
        Actor<int> gui(1, {.name = QStringLiteral("gui"),
                           .executor = Executor::thread(QThread::currentThread())});
        const int rounds = 40;
        int deadlocks = 0, unwaited = 0;
        for (int round = 0; round < rounds; ++round) {
            Actor<int> worker(0, {.name = QStringLiteral("worker-%1").arg(round)});
            auto inTick = std::make_shared<std::atomic<bool>>(false);
            auto cancelling = std::make_shared<std::atomic<bool>>(false);
            auto ended = std::make_shared<std::atomic<bool>>(false);
            // Even rounds: the tick blocks after cancel() began waiting; odd: before it.
            const int delay = round % 2 == 0 ? 1 + (round % 8) * 2000 : 0;
            Timer timer = worker.castAfter(0ms, [gui, inTick, cancelling, ended, delay](int &) {
                struct End { std::shared_ptr<std::atomic<bool>> ended; ~End() { *ended = true; } } end{ended};
                *inTick = true;
                while (delay > 0 && !cancelling->load())
                    std::this_thread::yield();
                for (int k = 0; k < delay; ++k)
                    std::this_thread::yield();
                (void)gui.call([](int &n) { return n; }).wait(); // from a worker: allowed
            });
            while (!inTick->load())
                std::this_thread::yield(); // (the GUI thread runs no events meanwhile)
            for (int k = 0; delay == 0 && k < 2000; ++k)
                std::this_thread::yield();
            *cancelling = true;
            timer.cancel();
            QTRY_VERIFY_WITH_TIMEOUT(ended->load(), 20000);
            std::move(worker.stop()).wait();
            const int d = log.count(QStringLiteral("is blocked in Timer::cancel() until this handler returns"));
            const int u = log.count(QStringLiteral("did not wait for the running tick of actor 'worker-%1'").arg(round));
            QCOMPARE(d - deadlocks + u, 1);
            deadlocks = d;
            unwaited += u;
        }
        qInfo("the tick got Deadlock in %d rounds; cancel() did not wait in %d", deadlocks, unwaited);
    }

    void cancelInAHandlerWaitingForATickThatWaitsForThatActorNeverHangs()
    {
        // Actor A's handler cancels B's timer while B's tick blocks waiting for A: a cycle of
        // waits (S21). The tick gets Deadlock, or cancel() returns without waiting.
        stress::Watchdog watchdog;
        watchdog.arm(QTest::currentTestFunction(), 0, std::chrono::seconds(120));
        testing::LogCapture log;
        struct Owner { Timer timer; };
        const int rounds = 40;
        for (int round = 0; round < rounds; ++round) {
            Actor<Owner> a(Owner{}, {.name = QStringLiteral("owner")});
            Actor<int> b(0, {.name = QStringLiteral("ticked")});
            auto ended = std::make_shared<std::atomic<bool>>(false);
            const int delay = round % 2 == 0 ? 1 + (round % 8) * 2000 : 0;
            WeakActor<Owner> weakA = a.weak();
            std::move(a.call([b, weakA, ended, delay](Owner &o) {
                auto inTick = std::make_shared<std::atomic<bool>>(false);
                auto cancelling = std::make_shared<std::atomic<bool>>(false);
                o.timer = b.castAfter(0ms, [weakA, inTick, cancelling, ended, delay](int &) {
                    struct End { std::shared_ptr<std::atomic<bool>> ended; ~End() { *ended = true; } } end{ended};
                    *inTick = true;
                    while (delay > 0 && !cancelling->load())
                        std::this_thread::yield();
                    for (int k = 0; k < delay; ++k)
                        std::this_thread::yield();
                    (void)weakA.lock().call([](Owner &) { return 1; }).wait();
                });
                while (!inTick->load())
                    std::this_thread::yield();
                for (int k = 0; delay == 0 && k < 2000; ++k)
                    std::this_thread::yield();
                *cancelling = true;
                o.timer.cancel(); // still in this handler: the tick's call to A waits behind it
            })).wait();
            QTRY_VERIFY_WITH_TIMEOUT(ended->load(), 20000);
        }
        const int deadlocks = log.count(QStringLiteral("a cast handler threw"));
        const int unwaited = log.count(QStringLiteral("did not wait for the running tick of actor 'ticked'"));
        QVERIFY2(deadlocks + unwaited == rounds, qPrintable(log.messages().join(QLatin1Char('\n'))));
        qInfo("the tick got Deadlock in %d rounds; cancel() did not wait in %d", deadlocks, unwaited);
    }

    void twoTicksCancellingEachOthersTimersNeverHang()
    {
        stress::Watchdog watchdog;
        watchdog.arm(QTest::currentTestFunction(), 0, std::chrono::seconds(120));
        testing::LogCapture log;
        for (int round = 0; round < 40; ++round) {
            Actor<int> a(0), b(0);
            auto timers = std::make_shared<std::array<Timer, 2>>();
            auto in = std::make_shared<std::atomic<int>>(0);
            auto armed = std::make_shared<std::atomic<bool>>(false);
            auto meet = [in, armed] {
                while (!armed->load())
                    std::this_thread::yield(); // (a Timer handle is not for two threads at once)
                ++*in;
                QDeadlineTimer enough(2000);
                while (in->load() < 2 && !enough.hasExpired())
                    std::this_thread::yield();
            };
            (*timers)[0] = a.castAfter(1ms, [timers, meet](int &) { meet(); (*timers)[1].cancel(); });
            (*timers)[1] = b.castAfter(1ms, [timers, meet](int &) { meet(); (*timers)[0].cancel(); });
            *armed = true;
            QTRY_COMPARE_WITH_TIMEOUT(in->load(), 2, 20000);
            std::move(a.stop()).wait();
            std::move(b.stop()).wait();
            QVERIFY(!(*timers)[0].isActive() && !(*timers)[1].isActive());
        }
    }

    void cancelRacingWithTickDeliveryFromAnotherThreadNeverDeliversAfterItReturns()
    {
        const int rounds = testing::scaled(2000);
        Actor<int> uut(0);
        for (int round = 0; round < rounds; ++round) {
            std::atomic<bool> cancelled{false};
            std::atomic<int> late{0};
            Timer timer = uut.castEvery(1ms, [&](int &) {
                if (cancelled.load())
                    ++late;
            });
            std::thread canceller([&] {
                std::this_thread::sleep_for(std::chrono::microseconds(round % 1500)); // allowed: it picks the moment of the race, it waits for nothing
                timer.cancel();
                cancelled = true;
            });
            canceller.join();
            std::move(uut.flush()).wait();
            QCOMPARE(late.load(), 0);
        }
    }

    void aHundredThousandPendingTimersNeedAtMostOneLibraryThread()
    {
        Actor<int> uut(0);
        (void)uut.castAfter(1ms, [](int &) { }); // the timer thread exists from here on
        std::move(uut.flush()).wait();
        const int threadsBefore = threadsOfThisProcess();
        const int count = testing::scaled(100000);
        std::vector<Timer> timers;
        timers.reserve(count);
        for (int i = 0; i < count; ++i)
            timers.push_back(uut.castAfter(1h, [](int &) { }));
        QCOMPARE(threadsOfThisProcess(), threadsBefore);
        for (const Timer &t : timers)
            QVERIFY(t.isActive());
        timers.clear(); // cancels them all
        QCOMPARE(threadsOfThisProcess(), threadsBefore);
    }

    void timersArmedAndCancelledFromFourThreadsAtOnce()
    {
        Actor<int> uut(0);
        std::atomic<int> delivered{0};
        const int perThread = testing::scaled(25000);
        std::vector<std::thread> threads;
        std::atomic<int> stillActive{0};
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&] {
                std::vector<Timer> mine;
                for (int i = 0; i < perThread; ++i) {
                    mine.push_back(uut.castAfter(std::chrono::milliseconds(i % 2 ? 1 : 3600000),
                                                 [&](int &) { ++delivered; }));
                    if (i % 3 == 0)
                        mine[std::size_t(i / 2)].cancel();
                }
                for (Timer &timer : mine)
                    stillActive += timer.isActive() ? 1 : 0;
            });
        }
        for (auto &t : threads)
            t.join();
        std::move(uut.flush()).wait();
        QVERIFY(delivered.load() <= 4 * perThread);
    }

    // ---- S19 one clock -------------------------------------------------------------------

    void timersAndTimeoutsReadTheClockOfTheirExecutor()
    {
        auto step = std::make_shared<StepExecutor>();
        Actor<int> uut(0, {.executor = Executor::fromPrivate(step)});
        StepClock &clock = step->stepClock();
        std::vector<int> order;
        Timer after = uut.castAfter(100ms, [&](int &) { order.push_back(100); });
        Timer every = uut.castEvery(40ms, [&](int &) { order.push_back(40); });
        clock.advance(40ms);
        step->runUntilIdle();
        clock.advance(40ms);
        step->runUntilIdle();
        clock.advance(19ms);
        step->runUntilIdle();
        QCOMPARE(order, (std::vector<int>{40, 40})); // at 40 and 80, in virtual time only
        clock.advance(1ms);
        step->runUntilIdle();
        QCOMPARE(order, (std::vector<int>{40, 40, 100}));
        every.cancel();

        // A timeout on that clock: nothing happens in real time, everything at the virtual deadline.
        bool ran = false;
        QFuture<int> f = uut.call([&ran](int &) { ran = true; return isCancelled() ? 1 : 0; })
                                 .timeout(50ms)
                                 .future();
        clock.advance(49ms);
        QVERIFY(!f.isFinished());
        clock.advance(1ms); // the deadline: Timeout, and the queued message will never run
        QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 1000);
        QCOMPARE(thrownBy([&] { f.result(); }), QStringLiteral("Timeout"));
        step->runUntilIdle();
        QVERIFY(!ran);

        // isCancelled() reads the same clock.
        auto c = uut.call([&clock](int &) {
            const bool before = isCancelled();
            clock.advance(10ms);
            return int(before) * 10 + int(isCancelled());
        });
        QFuture<int> g = std::move(c).timeout(10ms).future();
        step->runUntilIdle();
        QTRY_VERIFY_WITH_TIMEOUT(g.isFinished(), 1000);
        QCOMPARE(thrownBy([&] { g.result(); }), QStringLiteral("Timeout")); // the deadline won
        QCOMPARE(clock.pending(), std::size_t(0)); // every entry fired or was disarmed
        std::move(uut.stop()).future();
        step->runUntilIdle();
    }

    // Deadline checks ask the clock's cheap bound first (Clock::latestNow()) and read the precise
    // clock only when the bound says the deadline may have come: a bound behind the clock would
    // run a call whose deadline had passed. It may be ahead, by a few of the kernel's ticks.
    void theSystemClocksCheapBoundIsNeverBehindItAndOnlyAFewTicksAhead()
    {
        detail::Clock &clock = detail::systemClock();
        for (int i = 0; i < 200'000; ++i) {
            const auto before = clock.now();
            const auto bound = clock.latestNow();
            const auto after = clock.now();
            if (bound < before || bound > after + 100ms) // (8 ticks of at most 10 ms each)
                QFAIL(qPrintable(QStringLiteral("round %1: now %2 ns, bound %3 ns, then now %4 ns")
                                         .arg(i)
                                         .arg(before.count())
                                         .arg(bound.count())
                                         .arg(after.count())));
            if (i % 10'000 == 0)
                std::this_thread::yield(); // (and across the scheduler's ticks)
        }
    }
};

QTEST_GUILESS_MAIN(tst_Time)

#include "tst_time.moc"
