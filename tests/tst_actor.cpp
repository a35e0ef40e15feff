// Actor basics: cast/call, order and exclusion (S1), flush, handles (S16), wrappers.
#include "testing.h"

#include <QtConcurrent/QtConcurrent>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using namespace QtActors;
using testing::errorKind;
using testing::scaled;

class tst_Actor : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void callReturnsTheHandlersValue()
    {
        Actor<int> uut(41);
        QCOMPARE(uut.call([](int &n) { return ++n; }).wait(), 42);
        QCOMPARE(uut.call([](int &n) { return n * 2; }).wait(), 84);
    }

    void castChangesStateSeenByALaterCall()
    {
        Actor<QString> uut(QStringLiteral("a"));
        uut.cast([](QString &s) { s += QLatin1Char('b'); });
        uut.cast([](QString &s) { s += QLatin1Char('c'); });
        QCOMPARE(uut.call([](QString &s) { return s; }).wait(), QStringLiteral("abc"));
    }

    void callOfVoidCompletes()
    {
        Actor<int> uut(0);
        Call<void> c = uut.call([](int &n) { n = 7; });
        std::move(c).wait();
        QCOMPARE(uut.call([](int &n) { return n; }).wait(), 7);
    }

    void callWithAnExplicitResultTypeConverts()
    {
        Actor<int> uut(5);
        Call<double> c = uut.call<double>([](int &n) { return n; });
        QCOMPARE(std::move(c).wait(), 5.0);
    }

    void defaultConstructedActorHasDefaultState()
    {
        Actor<std::vector<int>> uut;
        QCOMPARE(uut.call([](std::vector<int> &v) { return v.size(); }).wait(), size_t(0));
    }

    void emplaceBuildsANonMovableStateInPlace()
    {
        struct Pinned
        {
            explicit Pinned(int v) : value(v) { }
            Pinned(const Pinned &) = delete;
            Pinned &operator=(const Pinned &) = delete;
            std::atomic<int> value;
            std::mutex mutex;
        };
        auto uut = Actor<Pinned>::emplace({}, 3);
        QCOMPARE(uut.call([](Pinned &p) { return p.value.load() + 1; }).wait(), 4);
    }

    void moveOnlyResultsAndCapturesWork()
    {
        Actor<int> uut(9);
        auto payload = std::make_unique<int>(1);
        auto c = uut.call([p = std::move(payload)](int &n) { return std::make_unique<int>(n + *p); });
        QCOMPARE(*std::move(c).wait(), 10);
    }

    void castsFromOneSenderAreHandledInOrder_data()
    {
        QTest::addColumn<int>("executor");
        QTest::newRow("pool") << 0;
        QTest::newRow("dedicated thread") << 1;
    }
    void castsFromOneSenderAreHandledInOrder()
    {
        QFETCH(int, executor);
        Options options{.name = QStringLiteral("order"),
                        .executor = executor ? Executor::dedicatedThread() : Executor::pool(),
                        .throughput = 3};
        Actor<std::vector<int>> uut({}, options);
        const int n = scaled(20000);
        for (int i = 0; i < n; ++i)
            uut.cast([i](std::vector<int> &v) { v.push_back(i); });
        const auto seen = uut.call([](std::vector<int> &v) { return v; }).wait();
        QCOMPARE(int(seen.size()), n);
        for (int i = 0; i < n; ++i)
            QCOMPARE(seen[i], i);
    }

    void messagesFromManySendersKeepEachSendersOrderAndNeverOverlap()
    {
        struct State
        {
            int inside = 0;          // non-atomic on purpose: two handlers at once would show
            int overlaps = 0;
            std::vector<int> lastBySender = std::vector<int>(8, -1);
            int outOfOrder = 0;
        };
        Actor<State> uut;
        const int senders = 8;
        const int each = scaled(5000);
        std::vector<std::thread> threads;
        for (int s = 0; s < senders; ++s) {
            threads.emplace_back([&, s] {
                for (int i = 0; i < each; ++i) {
                    uut.cast([s, i](State &st) {
                        if (st.inside++ != 0)
                            ++st.overlaps;
                        if (st.lastBySender[s] != i - 1)
                            ++st.outOfOrder;
                        st.lastBySender[s] = i;
                        --st.inside;
                    });
                }
            });
        }
        for (auto &t : threads)
            t.join();
        const State result = uut.call([](State &st) { return st; }).wait();
        QCOMPARE(result.overlaps, 0);
        QCOMPARE(result.outOfOrder, 0);
        for (int s = 0; s < senders; ++s)
            QCOMPARE(result.lastBySender[s], each - 1);
    }

    void flushFinishesAfterEverythingSentBefore()
    {
        Actor<int> uut(0);
        for (int i = 0; i < 1000; ++i)
            uut.cast([](int &n) { ++n; });
        std::move(uut.flush()).wait();
        QCOMPARE(uut.call([](int &n) { return n; }).wait(), 1000);
    }

    void isCurrentIsTrueOnlyInsideTheActorsHandlers()
    {
        Actor<int> uut(0);
        Actor<int> other(0);
        QVERIFY(!uut.isCurrent());
        const auto inside = uut.call([&](int &) { return std::pair(uut.isCurrent(), other.isCurrent()); }).wait();
        QCOMPARE(inside.first, true);
        QCOMPARE(inside.second, false);
    }

    void copiesShareOneActor()
    {
        Actor<int> a(0);
        Actor<int> b = a;
        a.cast([](int &n) { n += 1; });
        b.cast([](int &n) { n += 10; });
        QVERIFY(a == b);
        QCOMPARE(b.call([](int &n) { return n; }).wait(), 11);
    }

    void nameComesFromOptions()
    {
        Actor<int> uut(0, {.name = QStringLiteral("counter")});
        QCOMPARE(uut.name(), QStringLiteral("counter"));
        QVERIFY(Actor<int>().name().startsWith(QStringLiteral("actor 0x")));
    }

    void weakActorLocksWhileTheActorLives()
    {
        WeakActor<int> empty;
        QVERIFY(empty.lock().isStopped());
        auto uut = std::make_optional<Actor<int>>(5);
        WeakActor<int> weak = uut->weak();
        Actor<int> locked = weak.lock();
        QVERIFY(!locked.isStopped());
        QCOMPARE(locked.call([](int &n) { return n; }).wait(), 5);
        locked = Actor<int>(0); // drop the locked copy
        uut.reset();
        QVERIFY(weak.lock().isStopped());
    }

    void handlesAreUsableFromManyThreadsAtOnce()
    {
        // S16: copying, destroying, casting and calling through shared handles concurrently.
        Actor<int> uut(0);
        WeakActor<int> weak = uut.weak();
        const int threads = 4;
        const int each = scaled(2000);
        std::atomic<int> answered{0};
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&] {
                for (int i = 0; i < each; ++i) {
                    Actor<int> copy = uut;
                    Actor<int> locked = weak.lock();
                    copy.cast([](int &n) { ++n; });
                    if (locked.call([](int &n) { return n; }).wait() >= 0)
                        answered.fetch_add(1);
                }
            });
        }
        for (auto &t : pool)
            t.join();
        QCOMPARE(answered.load(), threads * each);
        QCOMPARE(uut.call([](int &n) { return n; }).wait(), threads * each);
    }

    void sharedMapWrapperHidesTheMessagePassing()
    {
        testing::SharedMap map;
        map.insert(QStringLiteral("k"), QStringLiteral("v"));
        QCOMPARE(map.get(QStringLiteral("k")).wait(), std::optional<QString>(QStringLiteral("v")));
        QCOMPARE(map.get(QStringLiteral("missing")).wait(), std::optional<QString>());
        // From worker threads with wait(), and as a QFuture.
        auto future = QtConcurrent::run([map] {
            map.insert(QStringLiteral("x"), QStringLiteral("y"));
            return map.get(QStringLiteral("x")).wait();
        });
        QCOMPARE(future.result(), std::optional<QString>(QStringLiteral("y")));
        QCOMPARE(map.size().future().result(), qsizetype(2));
    }

    void uniqueIdHandsOutDistinctIdsToManyThreads()
    {
        testing::UniqueId ids;
        const int threads = 4;
        const int each = scaled(2000);
        std::vector<std::vector<quint64>> got(threads);
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                for (int i = 0; i < each; ++i)
                    got[t].push_back(ids.next().wait());
            });
        for (auto &t : pool)
            t.join();
        QSet<quint64> all;
        for (const auto &v : got) {
            for (size_t i = 1; i < v.size(); ++i)
                QVERIFY(v[i] > v[i - 1]); // one thread's ids increase
            for (quint64 id : v)
                all.insert(id);
        }
        QCOMPARE(all.size(), qsizetype(threads * each));
    }
};

QTEST_GUILESS_MAIN(tst_Actor)
#include "tst_actor.moc"
