// Stress: coroutine handlers holding their actor while they await others (S2, S10), Replies
// answered later from other threads and actors (S13), and handler exceptions reaching exactly
// their callers (S8), under load from many threads with random interleavings. Assertions are about
// values, order and threads, never timings; nothing sleeps to let work finish. Sizes, seeds and
// the hang watchdog: see stress.h.
//
// ctest-timeout: 150
#include "stress.h"

#include <QtCore/QFuture>
#include <QtCore/QRandomGenerator>

#include <QCoroTask>

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

using namespace QtActors;
using testing::errorKind;
using testing::scaled;

namespace stress {

// ---- Coroutine handlers (S2) ------------------------------------------------------------------

struct Front
{
    int inside = 0; // plain on purpose
    int overlaps = 0;
    int interleaved = 0;  // something ran while a coroutine handler was suspended
    int wrongContext = 0; // a coroutine handler resumed outside its actor (S10)
    int outOfOrder = 0;
    qint64 counter = 0;
    std::array<int, MaxSenders> next{};
};

struct Back
{
    int factor;
};

void enterFront(Front &st, int sender, int seq)
{
    if (st.inside++ != 0)
        ++st.overlaps;
    if (st.next[sender] != seq)
        ++st.outOfOrder;
    st.next[sender] = seq + 1;
    compilerBarrier();
}

void leaveFront(Front &st)
{
    compilerBarrier();
    ++st.counter;
    --st.inside;
}

//! The expected answer of frontCall(…, back, seq): back's factor × seq + the tag's length.
int tagLength(int seq)
{
    return seq % 40; // longer than the small-string buffer half of the time
}

//! A coroutine call handler for a Front actor that awaits `back` (sometimes a coroutine itself)
//! while holding the Front actor. Its std::string capture must live until the task ends (S2).
auto frontCall(Actor<Front> self, Actor<Back> back, Actor<int> deep, int sender, int seq)
{
    return [self = std::move(self), back = std::move(back), deep = std::move(deep), sender, seq,
            tag = std::string(size_t(tagLength(seq)), 'x')](Front &st) -> QCoro::Task<int> {
        enterFront(st, sender, seq);
        const qint64 before = st.counter;
        int v = 0;
        if (seq % 3 == 0) {
            // The awaited actor's handler is a coroutine too, awaiting a third actor.
            auto c = back.call([deep, seq](Back &b) -> QCoro::Task<int> {
                auto d = deep.call([](int &n) { return ++n, 0; });
                const int zero = co_await std::move(d);
                co_return b.factor * seq + zero;
            });
            v = co_await std::move(c);
        } else {
            auto c = back.call([seq](Back &b) { return b.factor * seq; });
            v = co_await std::move(c);
        }
        if (!self.isCurrent())
            ++st.wrongContext;
        if (st.counter != before || st.inside != 1)
            ++st.interleaved;
        leaveFront(st);
        co_return v + int(tag.size());
    };
}

auto frontCast(int sender, int seq)
{
    return [sender, seq](Front &st) {
        enterFront(st, sender, seq);
        leaveFront(st);
    };
}

//! A coroutine cast: holds the actor across an await like a call does.
auto frontCoroutineCast(Actor<Back> back, int sender, int seq)
{
    return [back = std::move(back), sender, seq](Front &st) -> QCoro::Task<void> {
        enterFront(st, sender, seq);
        const qint64 before = st.counter;
        auto c = back.call([](Back &b) { return b.factor; });
        co_await std::move(c);
        if (st.counter != before)
            ++st.interleaved;
        leaveFront(st);
    };
}

//! Awaits `count` Front calls one by one from the calling thread's event loop and checks that
//! each resumes on that thread (S10) with the right value.
QCoro::Task<void> awaitFronts(std::vector<Actor<Front>> fronts, std::vector<Actor<Back>> backs,
                              Actor<int> deep, std::vector<int> factors, int sender, int count,
                              quint32 seed, Failures *failures, std::atomic<int> *finished)
{
    QRandomGenerator rng(seed);
    QThread *const home = QThread::currentThread();
    std::vector<int> seqs(fronts.size(), 0);
    for (int i = 0; i < count; ++i) {
        const int f = int(rng.bounded(quint32(fronts.size())));
        const int b = int(rng.bounded(quint32(backs.size())));
        const int seq = seqs[f]++;
        auto c = fronts[f].call(frontCall(fronts[f], backs[b], deep, sender, seq));
        const int v = co_await std::move(c);
        if (QThread::currentThread() != home)
            failures->add(QStringLiteral("co_await resumed on another thread than the awaiter's"));
        if (v != factors[b] * seq + tagLength(seq))
            failures->add(QStringLiteral("awaited front call %1 gave %2").arg(seq).arg(v));
    }
    finished->fetch_add(1, std::memory_order_release);
}

// ---- Replies (S13) ----------------------------------------------------------------------------

enum Fate { Answer, Fail, Drop };
enum Route { HandedOff, Held, Relayed };

Fate fateOf(quint32 seed, int id)
{
    const size_t h = qHash(id, seed) % 10;
    return h < 6 ? Answer : h < 8 ? Fail : Drop;
}
Route routeOf(quint32 seed, int id)
{
    return Route(qHash(id, seed ^ 0x5bd1e995u) % 3);
}
//! Answers, fails, or (Drop) leaves `reply` for its destructor to break.
void settle(Fate fate, int id, const Reply<int> &reply)
{
    if (fate == Answer)
        reply(id * 3);
    else if (fate == Fail)
        reply.fail(std::make_exception_ptr(Boom(id)));
}
QString expectedOutcome(Fate fate, int id)
{
    switch (fate) {
    case Answer:
        return QStringLiteral("value %1").arg(id * 3);
    case Fail:
        return QStringLiteral("boom %1").arg(id);
    case Drop:
        break;
    }
    return QStringLiteral("BrokenReply");
}

struct Desk
{
    std::vector<std::pair<int, Reply<int>>> held;
    qint64 counter = 0;
};

//! Replies handed from the actor to a pool of answering threads.
struct Handoff
{
    std::mutex mutex;
    std::vector<std::pair<int, Reply<int>>> items;
};

// ---- Exceptions (S8) --------------------------------------------------------------------------

struct Thrower
{
    qint64 handled = 0;
};

} // namespace stress

using namespace stress;

class tst_StressCalls : public QObject
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

    // S2, S10: coroutine handlers awaiting other actors under load from several threads.
    void coroutineHandlersHoldTheirActorWhileAwaitingAnother()
    {
        const int frontCount = 4;
        const int senders = 4; // plus two awaiting coroutines: the test's thread and a worker
        const int each = scaled(6000);
        const std::vector<int> factors{3, 5, 7, 11};
        std::vector<Actor<Front>> fronts;
        for (int f = 0; f < frontCount; ++f)
            fronts.emplace_back(Front{}, Options{.name = QStringLiteral("front %1").arg(f),
                                                 .throughput = 1 + f});
        std::vector<Actor<Back>> backs;
        for (size_t b = 0; b < factors.size(); ++b)
            backs.emplace_back(Back{factors[b]},
                               Options{.name = QStringLiteral("back %1").arg(b),
                                       .executor = b == 0 ? Executor::dedicatedThread() : Executor::pool()});
        const Actor<int> deep(0, {.name = QStringLiteral("deep")});

        Failures failures;
        std::vector<std::vector<int>> sent(senders + 2, std::vector<int>(frontCount, 0));
        std::vector<std::thread> threads;
        for (int s = 0; s < senders; ++s) {
            threads.emplace_back([&, s, seed = m_seed + quint32(s)] {
                QRandomGenerator rng(seed);
                std::vector<int> &seqs = sent[s];
                std::vector<std::pair<int, Call<int>>> calls;
                for (int i = 0; i < each; ++i) {
                    const int f = int(rng.bounded(frontCount));
                    const int b = int(rng.bounded(quint32(backs.size())));
                    const int seq = seqs[f]++;
                    const quint32 dice = rng.bounded(10);
                    if (dice < 5)
                        calls.emplace_back(factors[b] * seq + tagLength(seq),
                                           fronts[f].call(frontCall(fronts[f], backs[b], deep, s, seq)));
                    else if (dice < 7)
                        fronts[f].cast(frontCoroutineCast(backs[b], s, seq));
                    else
                        fronts[f].cast(frontCast(s, seq));
                }
                for (auto &[expected, call] : calls) {
                    const QString got = outcomeOf([&c = call] { return std::move(c).wait(); });
                    if (got != QStringLiteral("value %1").arg(expected))
                        failures.add(QStringLiteral("sender %1: a coroutine call gave '%2', expected %3")
                                             .arg(s).arg(got).arg(expected));
                }
            });
        }

        // Two more senders await each call, one from a worker thread's event loop, one from here.
        std::atomic<int> finished{0};
        const int awaited = scaled(2000);
        QThread awaiterThread;
        awaiterThread.start();
        QObject context;
        context.moveToThread(&awaiterThread);
        QMetaObject::invokeMethod(&context, [&, seed = m_seed ^ 0x9e3779b9u] {
            (void)awaitFronts(fronts, backs, deep, factors, senders, awaited, seed, &failures, &finished);
        });
        const auto here = testing::run(awaitFronts(fronts, backs, deep, factors, senders + 1, awaited,
                                                   m_seed ^ 0x7f4a7c15u, &failures, &finished),
                                       60000);
        abortUnless(here.finished, withSeed("the awaiting coroutine on the test's thread did not finish"));
        QCOMPARE(errorKind(here.error), QStringLiteral("none"));
        joinAll(threads);
        abortUnless(eventually([&] { return finished.load(std::memory_order_acquire) == 2; }),
                    withSeed("the awaiting coroutine on the worker thread did not finish"));
        awaiterThread.quit();
        QVERIFY(awaiterThread.wait(QDeadlineTimer(30000)));
        QVERIFY2(failures.isEmpty(), withSeed(failures.report()).constData());

        qint64 total = 0;
        for (int f = 0; f < frontCount; ++f) {
            const Front st = fronts[f].call([](Front &st) { return st; }).wait();
            QVERIFY2(st.overlaps == 0, withSeed("two handlers of one actor ran at once"));
            QVERIFY2(st.interleaved == 0, withSeed("a message ran while a coroutine handler held the actor"));
            QVERIFY2(st.wrongContext == 0, withSeed("a coroutine handler resumed outside its actor"));
            QVERIFY2(st.outOfOrder == 0, withSeed("a sender's messages ran out of order"));
            total += st.counter;
        }
        qint64 expected = 0;
        for (const auto &perSender : sent)
            for (int n : perSender)
                expected += n;
        expected += 2 * awaited; // awaitFronts keeps its own sequence numbers, not in `sent`
        QCOMPARE(total, expected);
    }

    // S13: Replies answered later from other threads and actors, in random order, while the
    // actor keeps handling other messages; unanswered ones break.
    void repliesAnsweredFromOtherThreadsInRandomOrderReachTheirCallers()
    {
        const quint32 seed = m_seed;
        const int senders = 2;
        const int perSender = scaled(10000);
        const int floods = scaled(100000);
        auto handoff = std::make_shared<Handoff>();
        const Actor<qint64> relay(0, {.name = QStringLiteral("relay")});
        const Actor<Desk> desk(Desk{}, {.name = QStringLiteral("desk"), .throughput = 3});
        const auto replyHandler = [seed, handoff, relay](int id) {
            return [seed, handoff, relay, id](Desk &d, Reply<int> reply) {
                const Fate fate = fateOf(seed, id);
                switch (routeOf(seed, id)) {
                case HandedOff: {
                    std::lock_guard lock(handoff->mutex);
                    handoff->items.emplace_back(id, std::move(reply));
                    break;
                }
                case Held:
                    d.held.emplace_back(id, std::move(reply));
                    break;
                case Relayed:
                    relay.cast([fate, id, r = std::move(reply)](qint64 &n) {
                        ++n;
                        settle(fate, id, r);
                    });
                    break;
                }
            };
        };

        Failures failures;
        std::vector<std::vector<std::pair<int, Call<int>>>> calls(senders);
        std::vector<std::thread> threads;
        threads.emplace_back([&] {
            for (int i = 0; i < floods; ++i)
                desk.cast([](Desk &d) { ++d.counter; });
        });
        for (int s = 0; s < senders; ++s) {
            threads.emplace_back([&, s] {
                for (int i = 0; i < perSender; ++i) {
                    const int id = i * senders + s;
                    calls[s].emplace_back(id, desk.call(replyHandler(id)));
                }
                // The desk answers other calls while every Reply it handed off or holds is pending.
                const qint64 counter = desk.call([](Desk &d) { return d.counter; }).wait();
                if (counter < 0)
                    failures.add(QStringLiteral("impossible counter"));
                for (const auto &[id, call] : calls[s]) {
                    if (routeOf(seed, id) != Relayed && call.isFinished())
                        failures.add(QStringLiteral("call %1 finished before its Reply was answered").arg(id));
                }
            });
        }
        joinAll(threads);
        QVERIFY2(failures.isEmpty(), withSeed(failures.report()).constData());

        // Every handed-off Reply is in the queue now (FIFO: the senders' last calls came after).
        for (int t = 0; t < 3; ++t) {
            threads.emplace_back([handoff, seed, t] {
                QRandomGenerator rng(seed + quint32(t));
                for (;;) {
                    std::optional<std::pair<int, Reply<int>>> item;
                    {
                        std::lock_guard lock(handoff->mutex);
                        if (handoff->items.empty())
                            return;
                        const size_t i = rng.bounded(quint32(handoff->items.size()));
                        std::swap(handoff->items[i], handoff->items.back());
                        item.emplace(std::move(handoff->items.back()));
                        handoff->items.pop_back();
                    }
                    settle(fateOf(seed, item->first), item->first, item->second);
                    // A Drop-fated Reply breaks here, unanswered.
                }
            });
        }
        // Held Replies: a later message answers or fails them in random order; the Drop-fated
        // ones stay in State until it is destroyed.
        desk.cast([seed](Desk &d) {
            QRandomGenerator rng(seed);
            std::vector<std::pair<int, Reply<int>>> keep;
            while (!d.held.empty()) {
                const size_t i = rng.bounded(quint32(d.held.size()));
                std::swap(d.held[i], d.held.back());
                auto item = std::move(d.held.back());
                d.held.pop_back();
                if (fateOf(seed, item.first) == Drop)
                    keep.push_back(std::move(item));
                else
                    settle(fateOf(seed, item.first), item.first, item.second);
            }
            d.held = std::move(keep);
        });
        joinAll(threads);
        QCOMPARE(desk.call([](Desk &d) { return d.counter; }).wait(), qint64(floods));
        relay.stop().wait();
        desk.stop().wait();

        int checked = 0;
        for (auto &perSender : calls) {
            for (auto &[id, call] : perSender) {
                QVERIFY2(call.isFinished(), withSeed("call " + QByteArray::number(id) + " never answered"));
                const QString got = outcomeOf([&c = call] { return std::move(c).wait(); });
                const QString expected = expectedOutcome(fateOf(seed, id), id);
                QVERIFY2(got == expected,
                         withSeed(QStringLiteral("call %1 (route %2) gave '%3', expected '%4'")
                                          .arg(id).arg(int(routeOf(seed, id))).arg(got, expected).toUtf8()));
                ++checked;
            }
        }
        QCOMPARE(checked, senders * perSender);
    }

    // S8: handlers (plain, coroutine, Reply) throwing at random under load; casts throwing too.
    void exceptionsFromRandomHandlersReachExactlyTheirCallers()
    {
        testing::LogCapture logs;
        const int actorCount = 6;
        const int senders = 4;
        const int each = scaled(8000);
        std::vector<Actor<Thrower>> actors;
        for (int a = 0; a < actorCount; ++a)
            actors.emplace_back(Thrower{}, Options{.name = QStringLiteral("thrower %1").arg(a),
                                                   .executor = a == 0 ? Executor::dedicatedThread()
                                                                      : Executor::pool(),
                                                   .throughput = 1 + a});
        const Actor<int> helper(0, {.name = QStringLiteral("helper")});
        std::atomic<int> thrownByCasts{0};
        std::atomic<int> handledCasts{0};
        Failures failures;

        // The call for message `id`: a value id * 5, or Boom(id) when `fail`.
        const auto makeCall = [&](const Actor<Thrower> &a, int id, bool fail, int kind) -> Call<int> {
            switch (kind) {
            case 0:
                return a.call([id, fail](Thrower &t) {
                    ++t.handled;
                    if (fail)
                        throw Boom(id);
                    return id * 5;
                });
            case 1:
                return a.call([&helper, id, fail](Thrower &t) -> QCoro::Task<int> {
                    ++t.handled;
                    auto c = helper.call([](int &n) { return ++n; });
                    co_await std::move(c);
                    if (fail)
                        throw Boom(id);
                    co_return id * 5;
                });
            default:
                return a.call([id, fail](Thrower &t, Reply<int> reply) {
                    ++t.handled;
                    if (fail && id % 2)
                        throw Boom(id); // thrown by the handler itself, before answering
                    if (fail)
                        reply.fail(std::make_exception_ptr(Boom(id)));
                    else
                        reply(id * 5);
                });
            }
        };
        const auto expectedFor = [](int id, bool fail) {
            return fail ? QStringLiteral("boom %1").arg(id) : QStringLiteral("value %1").arg(id * 5);
        };

        std::vector<std::thread> threads;
        for (int s = 0; s < senders; ++s) {
            threads.emplace_back([&, s, seed = m_seed + quint32(s)] {
                QRandomGenerator rng(seed);
                std::vector<std::pair<int, QFuture<int>>> futures;
                std::vector<std::tuple<int, bool, Call<int>>> calls;
                for (int i = 0; i < each; ++i) {
                    const int id = s * each + i;
                    const auto &a = actors[rng.bounded(actorCount)];
                    const bool fail = rng.bounded(3) == 0;
                    const quint32 dice = rng.bounded(10);
                    if (dice < 2) {
                        // A throwing cast is logged and the actor goes on.
                        if (fail)
                            thrownByCasts.fetch_add(1);
                        if (dice == 0) {
                            a.cast([&handledCasts, id, fail](Thrower &) {
                                handledCasts.fetch_add(1);
                                if (fail)
                                    throw Boom(id);
                            });
                        } else {
                            a.cast([&handledCasts, &helper, id, fail](Thrower &) -> QCoro::Task<void> {
                                auto c = helper.call([](int &n) { return ++n; });
                                co_await std::move(c);
                                handledCasts.fetch_add(1);
                                if (fail)
                                    throw Boom(id);
                            });
                        }
                        continue;
                    }
                    Call<int> call = makeCall(a, id, fail, int(rng.bounded(3)));
                    const int how = int(rng.bounded(3));
                    if (how == 0) { // at once
                        const QString got = outcomeOf([&c = call] { return std::move(c).wait(); });
                        if (got != expectedFor(id, fail))
                            failures.add(QStringLiteral("call %1 gave '%2'").arg(id).arg(got));
                    } else if (how == 1) { // as a QFuture, later
                        futures.emplace_back(fail ? -id - 1 : id, std::move(call).future());
                    } else { // later
                        calls.emplace_back(id, fail, std::move(call));
                    }
                }
                for (auto &[id, fail, call] : calls) {
                    const QString got = outcomeOf([&c = call] { return std::move(c).wait(); });
                    if (got != expectedFor(id, fail))
                        failures.add(QStringLiteral("call %1 gave '%2'").arg(id).arg(got));
                }
                // QFuture hands results over under a lock inside uninstrumented Qt, invisible to
                // ThreadSanitizer; every answer here comes from a handler, so flushing the actors
                // gives it a visible happens-before edge. (The values are still read from the
                // QFutures.)
                for (const auto &a : actors)
                    std::move(a.flush()).wait();
                for (auto &[key, future] : futures) {
                    const bool fail = key < 0;
                    const int id = fail ? -key - 1 : key;
                    const QString got = outcomeOf([&f = future] { return f.result(); });
                    if (got != expectedFor(id, fail))
                        failures.add(QStringLiteral("future %1 gave '%2'").arg(id).arg(got));
                }
            });
        }

        // And from a coroutine on the test's thread, rethrown by co_await.
        const auto awaiting = [&]() -> QCoro::Task<int> {
            QRandomGenerator rng(m_seed ^ 0x2545f491u);
            int wrong = 0;
            for (int i = 0; i < scaled(2000); ++i) {
                const int id = senders * each + i;
                const bool fail = rng.bounded(2) == 0;
                auto call = makeCall(actors[rng.bounded(actorCount)], id, fail, int(rng.bounded(3)));
                QString got;
                try {
                    got = QStringLiteral("value %1").arg(co_await std::move(call));
                } catch (const Boom &b) {
                    got = QStringLiteral("boom %1").arg(b.id);
                } catch (...) {
                    got = errorKind(std::current_exception());
                }
                if (got != expectedFor(id, fail))
                    ++wrong;
            }
            co_return wrong;
        };
        const auto awaited = testing::run(awaiting(), 60000);
        abortUnless(awaited.finished, withSeed("the awaiting coroutine did not finish"));
        joinAll(threads);
        QCOMPARE(errorKind(awaited.error), QStringLiteral("none"));
        QCOMPARE(*awaited.value, 0);
        QVERIFY2(failures.isEmpty(), withSeed(failures.report()).constData());

        // Every actor survived its throwing handlers, and each throwing cast was logged once.
        for (const auto &a : actors)
            QVERIFY(a.call([](Thrower &t) { return t.handled; }).wait() >= 0);
        int logged = 0;
        for (const QString &m : logs.messages())
            logged += m.contains(QStringLiteral("a cast handler threw")) && m.contains(QStringLiteral("boom "));
        QCOMPARE(logged, thrownByCasts.load());
        QVERIFY(handledCasts.load() > 0);
    }
};

QTEST_GUILESS_MAIN(tst_StressCalls)
#include "tst_stress_calls.moc"
