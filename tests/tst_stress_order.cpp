// Stress: the ordering, exclusion and fairness rules (S1, S4, S5) and the message memory, hammered
// with many threads, many actors and random interleavings. Assertions are about values, order and
// threads, never timings; nothing sleeps to let work finish. Sizes, seeds and the hang watchdog:
// see stress.h.
//
// ctest-timeout: 150
#include "stress.h"

#include <QtCore/QRandomGenerator>
#include <QtCore/QThreadPool>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

using namespace QtActors;
using testing::scaled;

namespace stress {

// ---- S1 across many actors ------------------------------------------------------------------

struct Ordered
{
    int inside = 0; // plain on purpose: two handlers at once would show here (and under TSan)
    Qt::HANDLE runner = nullptr;
    int overlaps = 0;
    int outOfOrder = 0;
    qint64 handled = 0;
    std::array<int, MaxSenders> next{}; // the next sequence number expected from each sender
};

//! One message's bookkeeping; returns the sender's next expected sequence number.
int recordInOrder(Ordered &st, int sender, int seq)
{
    if (st.inside++ != 0)
        ++st.overlaps;
    const Qt::HANDLE me = QThread::currentThreadId();
    st.runner = me;
    compilerBarrier();
    if (st.next[sender] != seq)
        ++st.outOfOrder;
    st.next[sender] = seq + 1;
    ++st.handled;
    compilerBarrier();
    if (st.runner != me)
        ++st.overlaps;
    --st.inside;
    return st.next[sender];
}

} // namespace stress

using namespace stress;

class tst_StressOrder : public QObject
{
    Q_OBJECT

private:
    quint32 m_seed = 0;
    Watchdog m_watchdog;

    QByteArray withSeed(const QByteArray &what) const
    {
        return what + " (seed " + QByteArray::number(m_seed) + ")";
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

    // S1, S4, S5: hundreds of pool actors, many senders, tiny turns.
    void manySendersKeepTheirOrderAndNeverOverlapOnHundredsOfPoolActors_data()
    {
        QTest::addColumn<int>("throughput");
        QTest::addColumn<int>("poolThreads"); // 0: the library's default pool
        QTest::newRow("throughput 1") << 1 << 0;
        QTest::newRow("throughput 2") << 2 << 0;
        QTest::newRow("throughput 7") << 7 << 0;
        QTest::newRow("throughput 2, own pool of 4 threads") << 2 << 4;
    }
    void manySendersKeepTheirOrderAndNeverOverlapOnHundredsOfPoolActors()
    {
        QFETCH(int, throughput);
        QFETCH(int, poolThreads);
        std::unique_ptr<QThreadPool> ownPool; // outlives the actors
        if (poolThreads) {
            ownPool = std::make_unique<QThreadPool>();
            ownPool->setMaxThreadCount(poolThreads);
        }
        const Executor executor = ownPool ? Executor::pool(ownPool.get()) : Executor::pool();
        const int actorCount = 200;
        const int senders = 6;
        const int each = scaled(40000);

        std::vector<Actor<Ordered>> actors;
        for (int a = 0; a < actorCount; ++a)
            actors.emplace_back(Ordered{}, Options{.name = QStringLiteral("ordered %1").arg(a),
                                                   .executor = executor,
                                                   .throughput = throughput});
        std::vector<std::vector<int>> sent(senders, std::vector<int>(actorCount, 0));
        Failures failures;
        std::vector<std::thread> threads;
        for (int s = 0; s < senders; ++s) {
            threads.emplace_back([&, s, seed = m_seed + quint32(s)] {
                QRandomGenerator rng(seed);
                std::vector<int> &seqs = sent[s];
                std::vector<std::pair<int, Call<int>>> calls; // expected answer, call
                for (int i = 0; i < each; ++i) {
                    const int a = int(rng.bounded(actorCount));
                    const quint32 dice = rng.bounded(100);
                    if (dice < 1) {
                        // flush() covers everything this thread sent before it.
                        actors[a].flush().wait();
                        const int next = actors[a].call([s](Ordered &st) { return st.next[s]; }).wait();
                        if (next != seqs[a])
                            failures.add(QStringLiteral("after flush(), actor %1 saw %2 of %3 messages from sender %4")
                                                 .arg(a).arg(next).arg(seqs[a]).arg(s));
                        continue;
                    }
                    const int seq = seqs[a]++;
                    if (dice < 80)
                        actors[a].cast([s, seq](Ordered &st) { recordInOrder(st, s, seq); });
                    else
                        calls.emplace_back(seq + 1, actors[a].call([s, seq](Ordered &st) {
                            return recordInOrder(st, s, seq);
                        }));
                }
                for (auto &[expected, call] : calls) {
                    const int got = std::move(call).wait();
                    if (got != expected)
                        failures.add(QStringLiteral("sender %1: a call answered %2, expected %3").arg(s).arg(got).arg(expected));
                }
            });
        }
        joinAll(threads);
        QVERIFY2(failures.isEmpty(), withSeed(failures.report()).constData());

        qint64 handled = 0;
        for (int a = 0; a < actorCount; ++a) {
            const Ordered st = actors[a].call([](Ordered &st) { return st; }).wait();
            QVERIFY2(st.overlaps == 0, withSeed("two handlers of one actor ran at once"));
            QVERIFY2(st.outOfOrder == 0, withSeed("a sender's messages ran out of order"));
            for (int s = 0; s < senders; ++s)
                QCOMPARE(st.next[s], sent[s][a]);
            handled += st.handled;
        }
        qint64 expected = 0;
        for (const auto &perSender : sent)
            for (int n : perSender)
                expected += n;
        QCOMPARE(handled, expected);
        for (const auto &a : actors)
            a.stop().wait();
    }

    // S1, S4 with the pump's slot: chains of pool actors each waking the next (the newest goes
    // to the waking pump's slot), some hops waking a second actor (the slot's previous actor goes
    // to the stack) or running on past tuning::PumpNextPatience (the watch hands the slot over),
    // while threads outside the pool wait for calls to the same actors (a waiter may take an
    // actor out of a slot and run its turn). Every message runs exactly once, never two of one
    // actor at once, and each waiter's messages in order.
    void chainsThroughPumpSlotsRunEveryMessageOnceWhileWaitersAndTheWatchTakeThem_data()
    {
        QTest::addColumn<int>("poolThreads"); // 0: the library's default pool
        QTest::newRow("library pool") << 0;
        QTest::newRow("own pool of 2 threads") << 2;
        QTest::newRow("own pool of 1 thread") << 1;
    }
    void chainsThroughPumpSlotsRunEveryMessageOnceWhileWaitersAndTheWatchTakeThem()
    {
        QFETCH(int, poolThreads);
        std::unique_ptr<QThreadPool> ownPool; // outlives the actors
        if (poolThreads) {
            ownPool = std::make_unique<QThreadPool>();
            ownPool->setMaxThreadCount(poolThreads);
        }
        const Options options{.executor = ownPool ? Executor::pool(ownPool.get()) : Executor::pool()};
        constexpr int actorCount = 32;
        constexpr int tokens = 4;
        constexpr int waiters = 3; // senders tokens .. tokens + waiters - 1 (at most MaxSenders)
        const long hopsPerToken = scaled(4000);
        const int callsPerWaiter = scaled(2000);
        static_assert(tokens + waiters <= MaxSenders);

        struct Node
        {
            Ordered order;  // the waiters' calls
            long tokenMessages = 0; // hops and side casts
        };
        auto actors = std::make_shared<std::vector<Actor<Node>>>();
        for (int a = 0; a < actorCount; ++a)
            actors->emplace_back(Node{}, options);

        // One token's chain: its state is touched by one hop at a time, each cast by the last.
        struct Token
        {
            QRandomGenerator rng;
            long hopsLeft;
            std::vector<long> sentTo = std::vector<long>(actorCount, 0);
        };
        auto finished = std::make_shared<std::atomic<int>>(0);
        auto overlaps = std::make_shared<std::atomic<int>>(0);
        std::vector<std::shared_ptr<Token>> chains;
        struct Hop
        {
            std::shared_ptr<std::vector<Actor<Node>>> actors;
            std::shared_ptr<Token> token;
            std::shared_ptr<std::atomic<int>> finished, overlaps;
            void operator()(Node &node) const
            {
                if (node.order.inside++ != 0)
                    overlaps->fetch_add(1);
                ++node.tokenMessages;
                Token &t = *token;
                if (t.hopsLeft-- > 0) {
                    const quint32 dice = t.rng.bounded(64);
                    if (dice < 8) { // a side cast first: the next hop then displaces it
                        const int side = int(t.rng.bounded(actorCount));
                        ++t.sentTo[std::size_t(side)];
                        (*actors)[std::size_t(side)].cast([overlaps = overlaps](Node &n) {
                            if (n.order.inside++ != 0)
                                overlaps->fetch_add(1);
                            ++n.tokenMessages;
                            --n.order.inside;
                        });
                    }
                    const int next = int(t.rng.bounded(actorCount));
                    ++t.sentTo[std::size_t(next)];
                    (*actors)[std::size_t(next)].cast(*this);
                    if (dice == 63) { // runs on after the cast: the watch hands the slot over
                        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(3);
                        while (std::chrono::steady_clock::now() < until) { }
                    }
                } else {
                    finished->fetch_add(1);
                }
                --node.order.inside;
            }
        };
        for (int k = 0; k < tokens; ++k) {
            auto token = std::make_shared<Token>(Token{QRandomGenerator(m_seed + quint32(k)), hopsPerToken - 1});
            const int first = int(token->rng.bounded(actorCount));
            ++token->sentTo[std::size_t(first)];
            chains.push_back(token);
            (*actors)[std::size_t(first)].cast(Hop{actors, token, finished, overlaps});
        }

        Failures failures;
        std::vector<std::vector<int>> sent(waiters, std::vector<int>(actorCount, 0));
        std::vector<std::thread> threads;
        for (int w = 0; w < waiters; ++w) {
            threads.emplace_back([&, w, seed = m_seed + quint32(tokens + w)] {
                QRandomGenerator rng(seed);
                const int sender = tokens + w;
                for (int i = 0; i < callsPerWaiter; ++i) {
                    const int a = int(rng.bounded(actorCount));
                    const int seq = sent[std::size_t(w)][std::size_t(a)]++;
                    const int next = (*actors)[std::size_t(a)]
                                             .call([sender, seq](Node &n) { return recordInOrder(n.order, sender, seq); })
                                             .wait();
                    if (next != seq + 1)
                        failures.add(QStringLiteral("waiter %1: actor %2 answered %3, expected %4")
                                             .arg(w).arg(a).arg(next).arg(seq + 1));
                }
            });
        }
        joinAll(threads);
        QTRY_VERIFY2_WITH_TIMEOUT(finished->load() == tokens,
                                  withSeed("a chain stopped before its last hop").constData(), 60000);
        QVERIFY2(failures.isEmpty(), withSeed(failures.report()).constData());

        for (int a = 0; a < actorCount; ++a) {
            const Node n = (*actors)[std::size_t(a)].call([](Node &n) { return n; }).wait();
            long expected = 0;
            for (const auto &token : chains)
                expected += token->sentTo[std::size_t(a)];
            QCOMPARE(n.tokenMessages, expected);
            QCOMPARE(n.order.overlaps, 0);
            QCOMPARE(n.order.outOfOrder, 0);
            for (int w = 0; w < waiters; ++w)
                QCOMPARE(n.order.next[std::size_t(tokens + w)], sent[std::size_t(w)][std::size_t(a)]);
        }
        QCOMPARE(overlaps->load(), 0);
        for (const auto &a : *actors)
            a.stop().wait();
        actors->clear();
    }

    // S5: a flooded actor yields its thread after `throughput` messages.
    void floodedActorYieldsItsThreadAfterItsThroughput_data()
    {
        QTest::addColumn<int>("throughput");
        QTest::addColumn<int>("budget"); // the bound we expect
        QTest::newRow("1") << 1 << 1;
        QTest::newRow("2") << 2 << 2;
        QTest::newRow("7") << 7 << 7;
        QTest::newRow("default") << 0 << 64;
    }
    void floodedActorYieldsItsThreadAfterItsThroughput()
    {
        QFETCH(int, throughput);
        QFETCH(int, budget);
        QThreadPool pool; // one thread: the actors take turns on it
        pool.setMaxThreadCount(1);
        const int rounds = scaled(100);
        const int floods = scaled(2000);
        for (int round = 0; round < rounds; ++round) {
            std::atomic<bool> entered{false};
            std::atomic<bool> release{false};
            std::atomic<int> progress{0};
            {
                const Actor<int> flooded(0, {.name = QStringLiteral("flooded"),
                                             .executor = Executor::pool(&pool),
                                             .throughput = throughput});
                const Actor<int> other(0, {.name = QStringLiteral("other"), .executor = Executor::pool(&pool)});
                // Hold the only thread inside the flooded actor's first handler while the flood
                // and the other actor's call queue up behind it.
                flooded.cast([&](int &) {
                    entered = true;
                    while (!release.load())
                        std::this_thread::yield();
                });
                abortUnless(eventually([&] { return entered.load(); }),
                            withSeed("the flooded actor's first handler never started"));
                for (int i = 0; i < floods; ++i)
                    flooded.cast([&](int &n) { progress.store(++n, std::memory_order_relaxed); });
                Call<int> seen = other.call([&](int &) { return progress.load(std::memory_order_relaxed); });
                release = true;
                // future(), not wait(): wait() may run `other`'s turn on this thread at once (S4),
                // and this test is about what the pool's own thread runs next.
                const int got = std::move(seen).future().result();
                const int handled = flooded.call([](int &n) { return n; }).wait();
                flooded.stop().wait();
                other.stop().wait();
                QVERIFY2(got < budget,
                         withSeed("the other actor waited for " + QByteArray::number(got)
                                  + " flooded messages; the budget is " + QByteArray::number(budget)));
                QCOMPARE(handled, floods);
            }
        }
    }

    // Message memory: blocks of every size class (and larger, and over-aligned) sent by threads
    // that exit while their messages are still queued, so blocks come back to caches whose thread
    // is gone and are reused by the threads that adopt those caches. Every message carries bytes
    // it checks when it runs: a block handed out twice, or reused too early, shows up as a wrong
    // byte (and under AddressSanitizer as a use of poisoned memory).
    void messagesOfEverySizeFromShortLivedThreadsArriveIntact()
    {
        struct Tally
        {
            long long sum = 0;
            long count = 0;
            int corrupt = 0;
        };
        std::vector<Actor<Tally>> actors;
        for (int i = 0; i < 12; ++i)
            actors.emplace_back(Tally{}, Options{.name = QStringLiteral("pool %1").arg(i)});
        for (int i = 0; i < 2; ++i)
            actors.emplace_back(Tally{}, Options{.name = QStringLiteral("dedicated %1").arg(i),
                                                 .executor = Executor::dedicatedThread()});
        const int rounds = scaled(30);
        const int threadsPerRound = 6;
        const int each = scaled(1500);
        std::atomic<long long> expectedSum{0};
        std::atomic<long> expectedCount{0};
        Failures failures;
        for (int round = 0; round < rounds; ++round) {
            std::vector<std::thread> threads;
            for (int t = 0; t < threadsPerRound; ++t) {
                threads.emplace_back([&, seed = m_seed + quint32(round * threadsPerRound + t)] {
                    QRandomGenerator rng(seed);
                    long long sum = 0;
                    for (int i = 0; i < each; ++i) {
                        const Actor<Tally> &to = actors[rng.bounded(int(actors.size()))];
                        const auto mark = static_cast<unsigned char>(rng.generate());
                        const int value = int(rng.bounded(1000));
                        sum += value;
                        auto check = [mark, value](Tally &t, const unsigned char *bytes, std::size_t n) {
                            for (std::size_t k = 0; k < n; ++k)
                                if (bytes[k] != mark) {
                                    ++t.corrupt;
                                    break;
                                }
                            t.sum += value;
                            ++t.count;
                        };
                        // A cast whose closure carries N marked bytes.
                        auto castBytes = [&]<std::size_t N>() {
                            std::array<unsigned char, N> b;
                            b.fill(mark);
                            to.cast([b, check](Tally &t) { check(t, b.data(), b.size()); });
                        };
                        switch (rng.bounded(7)) {
                        case 0: // a small class
                            castBytes.template operator()<8>();
                            break;
                        case 1: // a large class
                            castBytes.template operator()<90>();
                            break;
                        case 2: // the largest class
                            castBytes.template operator()<200>();
                            break;
                        case 3: // larger than any class: the global operator new
                            castBytes.template operator()<600>();
                            break;
                        case 4: {
                            struct alignas(64) Aligned
                            {
                                std::array<unsigned char, 64> b;
                            } a;
                            a.b.fill(mark);
                            to.cast([a, check](Tally &t) {
                                if (reinterpret_cast<std::uintptr_t>(&a) % 64 != 0)
                                    ++t.corrupt;
                                check(t, a.b.data(), a.b.size());
                            });
                            break;
                        }
                        default: { // a call, whose answer shares the message's block
                            std::array<unsigned char, 48> b;
                            b.fill(mark);
                            Call<int> c = to.call([b, check](Tally &t) {
                                check(t, b.data(), b.size());
                                return int(b[0]);
                            });
                            if (rng.bounded(4) == 0) { // most are dropped unread
                                if (std::move(c).wait() != mark)
                                    failures.add(QStringLiteral("a call's answer was not its own"));
                            }
                            break;
                        }
                        }
                    }
                    expectedSum += sum;
                    expectedCount += each;
                    // Exits now, with its messages still queued.
                });
            }
            for (auto &t : threads)
                t.join();
        }
        long long sum = 0;
        long count = 0;
        int corrupt = 0;
        for (auto &a : actors) {
            const Tally t = a.call([](Tally &t) { return t; }).wait();
            sum += t.sum;
            count += t.count;
            corrupt += t.corrupt;
        }
        QVERIFY2(failures.isEmpty(), withSeed(failures.report()).constData());
        QCOMPARE(corrupt, 0);
        QCOMPARE(count, expectedCount.load());
        QCOMPARE(sum, expectedSum.load());
    }
};

QTEST_GUILESS_MAIN(tst_StressOrder)
#include "tst_stress_order.moc"
