// Executors: thread affinity (S3), pool actors (S4), fairness (S5), one wake-up per batch rather
// than one Qt event per message, application-owned pools, thousands of cheap actors.
#include "testing.h"

#include <QtCore/QSemaphore>
#include <QtCore/QThreadPool>
#include <QtCore/QTimer>

#include <QCoroTimer>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#if defined(Q_OS_LINUX)
#include <sys/resource.h>
#include <unistd.h>
#endif

using namespace QtActors;

namespace {

//! A State holding QObjects, which must live in the actor's thread (S3).
struct WithTimer
{
    WithTimer() : timer(std::make_unique<QTimer>()), builtOn(QThread::currentThread()) { }
    ~WithTimer() { *destroyedOn = QThread::currentThread(); }
    std::unique_ptr<QTimer> timer;
    QThread *builtOn;
    std::shared_ptr<std::atomic<QThread *>> destroyedOn = std::make_shared<std::atomic<QThread *>>();
    int ticks = 0;
};

} // namespace

//! A one-thread pool whose only thread the application's own runnable holds until release():
//! pool actors' turns then wait in its queue. The mutex gives the runnable a visible edge from
//! the flags' construction to the pool thread (see
//! busyActorsLeaveRoomForTheApplicationsOwnRunnablesOnItsPool).
class HeldPool
{
public:
    HeldPool()
    {
        pool.setMaxThreadCount(1);
        { const std::lock_guard lock(m_visibleHandOff); }
        pool.start([this] {
            { const std::lock_guard lock(m_visibleHandOff); }
            m_holding = true;
            while (!m_release.load())
                std::this_thread::yield();
        });
    }
    ~HeldPool()
    {
        release();
        pool.waitForDone();
    }
    bool isHolding() const { return m_holding.load(); }
    void release() { m_release = true; }

    QThreadPool pool;

private:
    std::mutex m_visibleHandOff;
    std::atomic<bool> m_holding{false}, m_release{false};
};

class tst_Executors : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void dedicatedThreadRunsEveryHandlerOnOneNamedThreadOfItsOwn()
    {
        Actor<int> a(0, {.name = QStringLiteral("alpha"), .executor = Executor::dedicatedThread()});
        Actor<int> b(0, {.name = QStringLiteral("beta"), .executor = Executor::dedicatedThread()});
        std::set<QThread *> seenByA;
        for (int i = 0; i < 50; ++i)
            seenByA.insert(a.call([](int &) { return QThread::currentThread(); }).wait());
        QCOMPARE(seenByA.size(), size_t(1));
        QThread *threadA = *seenByA.begin();
        QThread *threadB = b.call([](int &) { return QThread::currentThread(); }).wait();
        QVERIFY(threadA != threadB);
        QVERIFY(threadA != QThread::currentThread());
        QCOMPARE(threadA->objectName(), QStringLiteral("alpha"));
    }

    void emplaceBuildsQObjectsInTheActorsThreadAndTheyWorkThere()
    {
        auto uut = Actor<WithTimer>::emplace({.executor = Executor::dedicatedThread()});
        auto destroyedOn = uut.call([](WithTimer &s) { return s.destroyedOn; }).wait();
        const auto info = uut.call([](WithTimer &s) {
            return std::tuple(s.builtOn, s.timer->thread(), QThread::currentThread());
        }).wait();
        QCOMPARE(std::get<0>(info), std::get<2>(info));
        QCOMPARE(std::get<1>(info), std::get<2>(info)); // the QTimer has the right affinity
        // The timer fires in the actor's thread, through its event loop.
        auto ticks = uut.call([](WithTimer &s) -> QCoro::Task<int> {
            s.timer->setInterval(1);
            s.timer->start();
            for (int i = 0; i < 3; ++i) {
                co_await *s.timer;
                ++s.ticks;
            }
            s.timer->stop();
            co_return s.ticks;
        });
        QCOMPARE(std::move(ticks).wait(), 3);
        std::move(uut.stop()).wait();
        QCOMPARE(destroyedOn->load(), std::get<2>(info)); // and State is destroyed there too
    }

    void existingThreadExecutorRunsHandlersOnThatThread()
    {
        QThread worker;
        worker.start();
        Actor<int> uut(0, {.executor = Executor::thread(&worker)});
        QCOMPARE(uut.call([](int &) { return QThread::currentThread(); }).wait(), &worker);
        std::move(uut.stop()).wait();
        worker.quit();
        QVERIFY(worker.wait(20000));
    }

    void poolActorsRunOnPoolThreadsAndSeeEveryEarlierWrite()
    {
        // S4: a plain (non-atomic) State written by consecutive handlers on different threads.
        struct Plain
        {
            std::vector<int> values;
            std::set<std::thread::id> threads;
        };
        std::vector<Actor<Plain>> actors(16);
        const int rounds = testing::scaled(2000);
        for (int r = 0; r < rounds; ++r)
            for (auto &a : actors)
                a.cast([r](Plain &p) {
                    p.values.push_back(r);
                    p.threads.insert(std::this_thread::get_id());
                });
        size_t threadsSeen = 0;
        for (auto &a : actors) {
            // (future(): a wait() could run the turn on this thread, S4)
            const Plain p = a.call([](Plain &s) { return s; }).future().result();
            QCOMPARE(int(p.values.size()), rounds);
            for (int r = 0; r < rounds; ++r)
                QCOMPARE(p.values[r], r);
            QVERIFY(!p.threads.count(std::this_thread::get_id()));
            threadsSeen = std::max(threadsSeen, p.threads.size());
        }
        QVERIFY(threadsSeen >= 1);
    }

    void floodedActorDoesNotStarveOthersOnTheSamePool()
    {
        // S5: one pool thread; a flooded actor must yield after `throughput` messages.
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        const int throughput = 10;
        Options options{.executor = Executor::pool(&pool), .throughput = throughput};
        Actor<int> flooded(0, options);
        Actor<int> other(0, options);
        std::atomic<int> floodedCount{0};
        std::atomic<bool> gate{false};
        // Hold the only thread until everything is queued.
        flooded.cast([&gate](int &) {
            QDeadlineTimer deadline(20000);
            while (!gate.load() && !deadline.hasExpired())
                QThread::yieldCurrentThread();
        });
        for (int i = 0; i < 10000; ++i)
            flooded.cast([&floodedCount](int &) { floodedCount.fetch_add(1); });
        auto seenByOther = other.call([&floodedCount](int &) { return floodedCount.load(); });
        gate = true;
        const int handledBeforeOther = std::move(seenByOther).wait();
        QVERIFY2(handledBeforeOther < 2 * throughput,
                 qPrintable(QStringLiteral("the other actor waited for %1 messages").arg(handledBeforeOther)));
        std::move(flooded.flush()).wait();
        QCOMPARE(floodedCount.load(), 10000);
        pool.waitForDone();
    }

    void aPairOfActorsWakingEachOtherDoesNotStarveOneReadiedBeforeThem()
    {
        // S5 with the pump's stack: a turn readies `patient`, then a ping-pong pair that keeps
        // the newest end of the stack busy. `patient`, at the oldest end, must still get a turn
        // soon (bounded, not after the ping-pong ends by itself). On an application's pool the
        // pump's time slice bounds it (its stack goes to the shared queue when it gives its
        // thread back); tuning::PumpStackPatience bounds it on the library's pool too.
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        const Options options{.executor = Executor::pool(&pool)};
        struct Pair
        {
            Actor<int> ping = nullptr;
            Actor<int> pong = nullptr;
        };
        auto pair = std::make_shared<Pair>();
        pair->ping = Actor<int>(0, options);
        pair->pong = Actor<int>(0, options);
        Actor<int> patient(0, options);
        Actor<int> starter(0, options);
        constexpr long giveUpAfter = 2'000'000;
        auto hops = std::make_shared<std::atomic<long>>(0);
        auto hopsBeforePatient = std::make_shared<std::atomic<long>>(-1);
        auto stop = std::make_shared<std::atomic<bool>>(false);
        auto done = std::make_shared<std::atomic<bool>>(false);
        std::function<void(bool)> hop = [pair, hops, stop, done, &hop](bool toPing) {
            auto next = [toPing, &hop](int &) { hop(!toPing); };
            if (stop->load() || hops->fetch_add(1) >= giveUpAfter) {
                *done = true;
                return;
            }
            (toPing ? pair->ping : pair->pong).cast(next);
        };
        starter.cast([patient, hopsBeforePatient, hops, stop, &hop](int &) {
            patient.cast([hopsBeforePatient, hops, stop](int &) {
                *hopsBeforePatient = hops->load();
                *stop = true;
            });
            hop(true);
        });
        QTRY_VERIFY_WITH_TIMEOUT(done->load(), 60000);
        QVERIFY2(hopsBeforePatient->load() >= 0, "the patient actor never ran");
        QVERIFY2(hopsBeforePatient->load() < 100'000,
                 qPrintable(QStringLiteral("the patient actor waited for %1 hops")
                                    .arg(hopsBeforePatient->load())));
        for (Actor<int> *a : {&pair->ping, &pair->pong, &patient, &starter})
            std::move(a->stop()).wait();
        pool.waitForDone();
    }

    void aBatchOfMessagesCostsOneWakeUpEventNotOnePerMessage()
    {
        // Casts to a main-thread actor sent while its thread is busy are delivered by one posted
        // event per `throughput` messages (plus the flush), not one per message.
        const int throughput = 100;
        Actor<int> uut(0, {.executor = Executor::thread(QThread::currentThread()), .throughput = throughput});
        struct Filter : QObject
        {
            int userEvents = 0;
            bool eventFilter(QObject *, QEvent *event) override
            {
                if (event->type() >= QEvent::User && event->type() <= QEvent::MaxUser)
                    ++userEvents;
                return false;
            }
        } filter;
        QCoreApplication::instance()->installEventFilter(&filter);
        const int messages = 1000;
        for (int i = 0; i < messages; ++i)
            uut.cast([](int &n) { ++n; });
        auto out = testing::run([](Actor<int> a) -> QCoro::Task<int> {
            auto c = a.call([](int &n) { return n; });
            co_return co_await std::move(c);
        }(uut));
        QCoreApplication::instance()->removeEventFilter(&filter);
        QCOMPARE(out.value.value(), messages);
        // 1000 casts + 1 call in turns of 100, plus one event to resume the awaiting coroutine.
        QVERIFY2(filter.userEvents <= messages / throughput + 3,
                 qPrintable(QStringLiteral("%1 events for %2 messages").arg(filter.userEvents).arg(messages)));
        QVERIFY(filter.userEvents >= messages / throughput); // and it did yield between turns
    }

    void executorHandlesOfOneThreadOrPoolCompareEqual()
    {
        QThread worker;
        QThreadPool pool;
        QVERIFY(Executor::thread(&worker) == Executor::thread(&worker));
        QVERIFY(Executor::thread(QThread::currentThread()) == Executor::thread(QThread::currentThread()));
        QVERIFY(!(Executor::thread(&worker) == Executor::thread(QThread::currentThread())));
        QVERIFY(Executor::pool(&pool) == Executor::pool(&pool));
        QVERIFY(Executor::pool() == Executor::pool());
        QVERIFY(!(Executor::pool() == Executor::pool(&pool)));
        QVERIFY(Executor::dedicatedThread() == Executor::dedicatedThread()); // one kind, a thread each
    }

    void applicationOwnedPoolRunsTheHandlers()
    {
        QThreadPool pool;
        pool.setMaxThreadCount(2);
        std::set<QThread *> poolThreads;
        {
            Actor<int> uut(0, {.executor = Executor::pool(&pool)});
            for (int i = 0; i < 20; ++i)
                poolThreads.insert(uut.call([](int &) { return QThread::currentThread(); }).future().result());
            std::move(uut.stop()).wait();
        }
        QVERIFY(!poolThreads.count(QThread::currentThread()));
        QVERIFY(poolThreads.size() <= 2);
        pool.waitForDone();
    }

    void waitingInsideAPoolActorForAnotherActorOnAOneThreadPoolDoesNotDeadlock()
    {
        // A blocked pool thread lends its slot, so the awaited actor still gets a thread.
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        Actor<int> inner(5, {.executor = Executor::pool(&pool)});
        Actor<int> outer(0, {.executor = Executor::pool(&pool)});
        auto c = outer.call([inner](int &) { return inner.call([](int &n) { return n * 2; }).wait(); });
        QCOMPARE(std::move(c).wait(), 10);
        pool.waitForDone();
    }

    void executorHandlesCompareAndCopy()
    {
        Executor a = Executor::pool();
        Executor b = a;
        QVERIFY(a == b);
        QVERIFY(a == Executor::pool());
        QVERIFY(!(a == Executor::dedicatedThread()));
        // One QThreadPool, one executor: its actors share one ready queue and take fair turns.
        QThreadPool mine;
        QVERIFY(Executor::pool(&mine) == Executor::pool(&mine));
        QVERIFY(!(Executor::pool(&mine) == a));
        QThreadPool other;
        QVERIFY(!(Executor::pool(&mine) == Executor::pool(&other)));
    }

    void theLibrarysPoolRunsBelowNormalPriorityAndApplicationPoolsAsTheyAre()
    {
#if defined(Q_OS_LINUX)
        // Per-thread nice value: QThread's priorities do nothing for normal Linux threads.
        auto niceHere = [] { return getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())); };
        const int mine = niceHere(); // the main thread's, which the library's pool is relative to
        Actor<int> background(0);
        // (future(): a wait() could run the turn on this thread, S4)
        for (int i = 0; i < 20; ++i) // both pool threads, as far as they get used
            QCOMPARE(background.call([&](int &) { return niceHere(); }).future().result(), std::min(mine + 5, 19));
        QThreadPool pool;
        Actor<int> own(0, {.executor = Executor::pool(&pool)});
        QCOMPARE(own.call([&](int &) { return niceHere(); }).future().result(), mine);
        std::move(own.stop()).wait();
        pool.waitForDone();
#else
        QSKIP("checks the Linux nice value");
#endif
    }

    void idlePoolThreadsGoBackToTheirQThreadPoolAndComeBackForNewWork()
    {
        QThreadPool pool;
        pool.setMaxThreadCount(2);
        Actor<int> uut(0, {.executor = Executor::pool(&pool)});
        for (int round = 0; round < 3; ++round) {
            for (int i = 0; i < 1000; ++i)
                uut.cast([](int &n) { ++n; });
            QCOMPARE(uut.call([](int &n) { return n; }).wait(), (round + 1) * 1000);
            // Nothing left to do: the library's runnables leave the pool's threads.
            QTRY_COMPARE_WITH_TIMEOUT(pool.activeThreadCount(), 0, 10000);
        }
        std::move(uut.stop()).wait();
        pool.waitForDone();
    }

    void busyActorsLeaveRoomForTheApplicationsOwnRunnablesOnItsPool()
    {
        // An actor that keeps itself busy forever must not keep the application's QRunnable
        // from ever running on the pool they share.
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        struct Loop
        {
            std::atomic<bool> *go;
            long turns = 0;
        };
        std::atomic<bool> go{true};
        Actor<Loop> busy(Loop{&go}, {.executor = Executor::pool(&pool)});
        std::function<void(Loop &)> again; // recasts itself until told to stop
        again = [&again, weak = busy.weak()](Loop &l) {
            ++l.turns;
            if (l.go->load())
                weak.lock().cast(again);
        };
        busy.cast(again);
        QTRY_VERIFY(busy.call([](Loop &l) { return l.turns; }).wait() > 1000);
        std::atomic<bool> ran{false};
        // QThreadPool::start hands the lambda over inside Qt, which ThreadSanitizer cannot see:
        // a mutex gives it a visible edge from `ran`'s construction to the pool thread.
        std::mutex visibleHandOff;
        { const std::lock_guard lock(visibleHandOff); }
        pool.start([&ran, &visibleHandOff] {
            { const std::lock_guard lock(visibleHandOff); }
            ran = true;
        });
        QTRY_VERIFY_WITH_TIMEOUT(ran.load(), 10000);
        go = false;
        QVERIFY(busy.call([](Loop &l) { return l.turns; }).wait() > 1000);
        std::move(busy.stop()).wait();
        pool.waitForDone();
    }

    void chainOfBlockingWaitsOnAOneThreadPoolCompletes()
    {
        // Each blocked pool thread lends its place, so eight nested waits on a one-thread pool
        // still reach the end of the chain.
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        const int length = 8;
        std::vector<Actor<int>> chain;
        for (int i = 0; i < length; ++i)
            chain.emplace_back(i, Options{.executor = Executor::pool(&pool)});
        std::function<int(int)> ask = [&](int i) {
            if (i == length - 1)
                return chain[i].call([](int &n) { return n; }).wait();
            return chain[i].call([&ask, i](int &n) { return n + ask(i + 1); }).wait();
        };
        for (int round = 0; round < testing::scaled(50); ++round)
            QCOMPARE(ask(0), length * (length - 1) / 2);
        for (auto &a : chain)
            std::move(a.stop()).wait();
        pool.waitForDone();
    }

    void aWaitingThreadRunsAPoolActorsTurnWhenNoPoolThreadIsFree()
    {
        // S4: the pool's one thread is held by the application's own runnable; a thread that
        // blocks for a pool actor's answer runs the actor's turn itself: what was sent before the
        // call first, in order, and nothing after the answer (the pool runs that, once free).
        HeldPool held;
        QTRY_VERIFY(held.isHolding());
        struct Log
        {
            std::vector<std::pair<int, QThread *>> ran;
        };
        std::atomic<bool> afterRan{false};
        {
            Actor<Log> uut(Log{}, {.executor = Executor::pool(&held.pool)});
            uut.cast([](Log &l) { l.ran.emplace_back(1, QThread::currentThread()); });
            auto answer = uut.call([](Log &l) {
                l.ran.emplace_back(2, QThread::currentThread());
                return int(l.ran.size());
            });
            uut.cast([&afterRan](Log &l) {
                l.ran.emplace_back(3, QThread::currentThread());
                afterRan = true;
            });
            // Should wait() not return by itself, the pool is freed after 20 s and the checks
            // below fail instead of the test hanging.
            std::atomic<bool> answered{false};
            std::thread watchdog([&] {
                const QDeadlineTimer deadline(20000);
                while (!answered.load() && !deadline.hasExpired())
                    std::this_thread::yield();
                held.release();
            });
            const int seen = std::move(answer).wait(); // returns although no pool thread is free
            const bool restLeftToThePool = !afterRan.load();
            answered = true;
            watchdog.join();
            QCOMPARE(seen, 2);
            QVERIFY(restLeftToThePool);
            // future() never runs the turn here: the pool's thread must.
            QFuture<Log> log = uut.call([](Log &l) { return l; }).future();
            log.waitForFinished();
            const auto ran = log.result().ran;
            QCOMPARE(int(ran.size()), 3);
            QCOMPARE(ran[0], std::make_pair(1, QThread::currentThread()));
            QCOMPARE(ran[1], std::make_pair(2, QThread::currentThread()));
            QCOMPARE(ran[2].first, 3);
            QVERIFY(ran[2].second != QThread::currentThread());
            QVERIFY(afterRan.load());
        }
    }

    void aHandlerThatWaitsNeverRunsAnotherActorsTurnInsideItsOwn()
    {
        // Only a thread outside every turn runs a turn while it waits: a handler blocked on
        // another pool actor leaves that actor to its pool, so turns never nest on one thread.
        HeldPool held;
        QTRY_VERIFY(held.isHolding());
        Actor<int> inner(0, {.executor = Executor::pool(&held.pool)});
        Actor<int> outer(0);
        std::atomic<bool> aboutToWait{false};
        QFuture<std::pair<QThread *, QThread *>> threads =
                outer.call([inner, &aboutToWait](int &) {
                         auto c = inner.call([](int &) { return QThread::currentThread(); });
                         aboutToWait = true;
                         return std::make_pair(QThread::currentThread(), std::move(c).wait());
                     }).future();
        QTRY_VERIFY(aboutToWait.load());
        held.release();
        threads.waitForFinished();
        const auto [outerThread, innerThread] = threads.result();
        QVERIFY(outerThread != innerThread);
        QVERIFY(innerThread != QThread::currentThread());
        std::move(inner.stop()).wait();
    }

    void aHandlerThatWaitsForTheActorItReadiedDoesNotHoldItFromTheOtherThreads()
    {
        // The actor a turn readies waits in its pump's "next" slot, where no other pump looks;
        // a handler that then runs on (here: waits for that very actor) must not keep it from
        // the pool's idle thread. The watch hands it over (tuning::PumpNextPatience). On the
        // application's pool and on the library's, whose threads may be busy with other tests.
        QThreadPool applicationPool;
        applicationPool.setMaxThreadCount(2);
        for (const Executor &executor : {Executor::pool(&applicationPool), Executor::pool()}) {
            if (executor == Executor::pool() && QThreadPool::globalInstance()->maxThreadCount() < 2)
                continue; // (the library's pool has one thread per core)
            auto ranOn = std::make_shared<std::atomic<QThread *>>(nullptr);
            auto released = std::make_shared<QSemaphore>();
            Actor<int> readied(0, {.executor = executor});
            Actor<int> waiter(0, {.executor = executor});
            // (future(), not wait(): wait() would run the handler on this thread, outside the pool)
            QFuture<std::pair<bool, QThread *>> outcome = waiter.call([readied, ranOn, released](int &) {
                readied.cast([ranOn, released](int &) {
                    *ranOn = QThread::currentThread();
                    released->release();
                });
                const bool acquired = released->tryAcquire(1, 20000);
                return std::make_pair(acquired, QThread::currentThread());
            }).future();
            outcome.waitForFinished();
            const auto [acquired, waiterThread] = outcome.result();
            QVERIFY2(acquired, "the readied actor ran only after the handler that readied it");
            QVERIFY(ranOn->load() != waiterThread);
            std::move(readied.stop()).wait();
        }
        applicationPool.waitForDone();
    }

    void aChainOfActorsWakingEachOtherRunsOnOneThreadWithoutHandOvers()
    {
        // A ring on a two-thread pool: each hop readies the next actor from a running turn, so
        // the same thread runs it next (nobody else is woken, nobody takes it). Hand-overs happen
        // only when that thread is preempted for tuning::PumpNextPatience, a few times at most on
        // a busy machine; were the next actor shared, the idle thread would take most hops.
        QThreadPool pool;
        pool.setMaxThreadCount(2);
        const Options options{.executor = Executor::pool(&pool)};
        struct Node
        {
            Actor<Node> next = nullptr;
        };
        constexpr int nodes = 100;
        const long hops = testing::scaled(20000);
        std::vector<Actor<Node>> ring;
        for (int i = 0; i < nodes; ++i)
            ring.emplace_back(Node{}, options);
        for (int i = 0; i < nodes; ++i)
            std::move(ring[i].call([next = ring[(i + 1) % nodes]](Node &n) { n.next = next; })).wait();
        struct Trace
        {
            std::atomic<long> left;
            std::atomic<long> handOvers{0};
            std::atomic<std::thread::id> last{};
            QSemaphore done;
        };
        auto trace = std::make_shared<Trace>();
        trace->left = hops;
        std::function<void(Node &)> hop = [trace, &hop](Node &n) {
            const auto here = std::this_thread::get_id();
            if (trace->last.exchange(here) != here)
                trace->handOvers.fetch_add(1);
            if (trace->left.fetch_sub(1) == 1) {
                trace->done.release();
                return;
            }
            n.next.cast(hop);
            // A little work after the cast: time enough for another thread to take the next
            // actor, were it shared.
            const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(5);
            while (std::chrono::steady_clock::now() < until) { }
        };
        ring[0].cast(hop);
        QVERIFY(trace->done.tryAcquire(1, 60000));
        const long handOvers = trace->handOvers.load();
        QVERIFY2(handOvers < hops / 20,
                 qPrintable(QStringLiteral("%1 hand-overs in %2 hops").arg(handOvers).arg(hops)));
        for (Actor<Node> &node : ring)
            std::move(node.call([](Node &n) { n.next = nullptr; })).wait();
        ring.clear();
        pool.waitForDone();
    }

    void aWaitingThreadTakesAnActorFromTheSlotOfABusyPump()
    {
        // The one pool thread runs a handler that readies `readied` (into its pump's slot) and
        // then holds the thread; a thread that waits for `readied`'s answer takes it from there
        // (or from the shared queue, if the watch moved it already) and runs its turn itself,
        // while that handler still runs.
        QThreadPool pool;
        pool.setMaxThreadCount(1);
        const Options options{.executor = Executor::pool(&pool)};
        Actor<int> readied(0, options);
        Actor<int> holder(0, options);
        auto castDone = std::make_shared<std::atomic<bool>>(false);
        auto release = std::make_shared<std::atomic<bool>>(false);
        holder.cast([readied, castDone, release](int &) {
            readied.cast([](int &n) { ++n; });
            *castDone = true;
            const QDeadlineTimer deadline(20000);
            while (!release->load() && !deadline.hasExpired())
                std::this_thread::yield();
        });
        // (At once, so that `readied` is still in the slot, not yet handed on by the watch.)
        const QDeadlineTimer castDeadline(20000);
        while (!castDone->load() && !castDeadline.hasExpired())
            std::this_thread::yield();
        QVERIFY(castDone->load());
        const auto [count, thread] =
                std::move(readied.call([](int &n) { return std::make_pair(n, QThread::currentThread()); }))
                        .wait();
        const bool holderStillRan = !release->exchange(true);
        QCOMPARE(count, 1);
        QCOMPARE(thread, QThread::currentThread());
        QVERIFY(holderStillRan);
        pool.waitForDone();
    }

    void hundredThousandPoolActorsAreCheap()
    {
        const int n = testing::scaled(100000);
        std::atomic<int> destroyed{0};
        struct Counted
        {
            std::atomic<int> *destroyed;
            int value = 0;
            ~Counted() { destroyed->fetch_add(1); }
        };
        {
            std::vector<Actor<Counted>> actors;
            actors.reserve(n);
            for (int i = 0; i < n; ++i)
                actors.emplace_back(Counted{&destroyed, i});
            for (auto &a : actors)
                a.cast([](Counted &c) { c.value += 1; });
            qint64 sum = 0;
            for (auto &a : actors)
                sum += a.call([](Counted &c) { return c.value; }).wait();
            QCOMPARE(sum, qint64(n) * (n + 1) / 2);
            destroyed = 0; // the temporaries moved from above
        }
        QTRY_COMPARE_WITH_TIMEOUT(destroyed.load(), n, 60000);
    }
};

QTEST_GUILESS_MAIN(tst_Executors)
#include "tst_executors.moc"
