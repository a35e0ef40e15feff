// Interleaved handlers (S22): the actor handles other messages while interleaved(h) is suspended.
// ctest-timeout: 600
// Each message is still alone with State between two suspension points; exclusive coroutine
// handlers (S2) still hold the actor, even against the resumptions of interleaved ones; State
// outlives every suspended handler (S6, S7); an interleaved await is no wait for S21's cycle
// detection, so A awaits B awaits A works.
// Every wait has a deadline: a wedged actor shows up as a failed check, never as a hang.
#include "stress.h"
#include "testing.h"

#include <QtCore/QPair>
#include <QtCore/QThread>

#include <QCoroTask>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace QtActors;
using enum testing::Where;
using testing::EventThread;
using testing::onExecutor;
using namespace std::chrono_literals;
using testing::errorKind;

namespace {

constexpr int MustFinishMs = 10000; // "must finish" checks: the answer is there in microseconds
//! How long something that must NOT happen (a message running while an exclusive handler holds
//! the actor) is given to happen anyway. Only absence checks use it; nothing waits on it.
constexpr int AbsenceWindowMs = 100;
//! On calls that could hang if the rule under test broke: a Timeout then fails the check.
constexpr std::chrono::milliseconds Safety{ 8000 };

void addExecutorRows()
{
    QTest::addColumn<int>("executor");
    QTest::newRow("pool") << int(Pool);
    QTest::newRow("dedicated thread") << int(Dedicated);
    QTest::newRow("main thread") << int(MainThread);
    QTest::newRow("another QThread") << int(OtherThread);
}

//! Starts consuming `call` (a detached coroutine on this thread); the outcome fills in later.
template <typename T>
std::shared_ptr<testing::Outcome<T>> start(Call<T> call)
{
    auto out = std::make_shared<testing::Outcome<T>>();
    (void)testing::capture(std::move(call).task(), out); // detached: it keeps `out` alive
    return out;
}

//! Runs the event loop until `out` has finished; false at the deadline.
template <typename T>
bool finishes(const std::shared_ptr<testing::Outcome<T>> &out, int timeoutMs = MustFinishMs)
{
    return QTest::qWaitFor([&] { return out->finished; }, timeoutMs);
}

//! Stops `actor` and waits (with a deadline) for it, so that thread(t) actors end before t does.
template <typename S>
bool stopWithin(const Actor<S> &actor, int timeoutMs = MustFinishMs)
{
    return finishes(start(actor.stop()), timeoutMs);
}

//! Calls answered when the test says so: a keeper actor hands each call's Reply over, and
//! open() answers them (and every later call at once), from the test's thread.
class Gate
{
public:
    Gate() : m_shared(std::make_shared<Shared>()), m_keeper(0, { .name = QStringLiteral("gate") })
    { }
    //! Finishes with the value given to open().
    Call<int> call() const
    {
        return m_keeper.call([shared = m_shared](int &, Reply<int> reply) {
            std::unique_lock lock(shared->mutex);
            shared->arrived.fetch_add(1);
            if (shared->isOpen) {
                const int value = shared->value;
                lock.unlock();
                reply(value);
                return;
            }
            shared->held.push_back(std::move(reply));
        });
    }
    //! Calls that have reached the gate so far (answered or not).
    int arrived() const { return m_shared->arrived.load(); }
    //! Answers every call held (the newest first, with `reversed`) and every later one.
    void open(int value = 1, bool reversed = false)
    {
        std::vector<Reply<int>> replies;
        {
            const std::lock_guard lock(m_shared->mutex);
            m_shared->isOpen = true;
            m_shared->value = value;
            replies.swap(m_shared->held);
        }
        if (reversed)
            std::reverse(replies.begin(), replies.end());
        for (const auto &reply : replies)
            reply(value);
    }
    //! Answers the oldest call held, if any; the gate stays shut for later ones.
    bool openOne(int value = 1)
    {
        std::optional<Reply<int>> reply;
        {
            const std::lock_guard lock(m_shared->mutex);
            if (m_shared->held.empty())
                return false;
            reply.emplace(std::move(m_shared->held.front()));
            m_shared->held.erase(m_shared->held.begin());
        }
        (*reply)(value);
        return true;
    }

private:
    struct Shared
    {
        std::mutex mutex;
        std::vector<Reply<int>> held;
        std::atomic<int> arrived{ 0 };
        bool isOpen = false;
        int value = 0;
    };
    std::shared_ptr<Shared> m_shared;
    Actor<int> m_keeper;
};

//! What handlers write down, in order, from any thread.
class Journal
{
public:
    void add(const QString &line)
    {
        const std::lock_guard lock(m_mutex);
        m_lines.append(line);
    }
    QStringList lines() const
    {
        const std::lock_guard lock(m_mutex);
        return m_lines;
    }
    qsizetype indexOf(const QString &line) const { return lines().indexOf(line); }

private:
    mutable std::mutex m_mutex;
    QStringList m_lines;
};

constexpr auto answerOne = [](int &) { return 1; };

// ---- other messages run while an interleaved handler is suspended ---------------------------

QCoro::Task<int> suspendOnceAtGate(int &n, std::shared_ptr<Journal> journal, Gate gate)
{
    journal->add(QStringLiteral("interleaved begins"));
    auto atGate = gate.call();
    const int answer = co_await std::move(atGate);
    journal->add(QStringLiteral("interleaved resumes"));
    co_return answer + n;
}

QCoro::Task<> castSuspendOnceAtGate(int &n, std::shared_ptr<Journal> journal, Gate gate)
{
    journal->add(QStringLiteral("interleaved cast begins"));
    auto atGate = gate.call();
    const int answer = co_await std::move(atGate);
    n += answer;
    journal->add(QStringLiteral("interleaved cast resumes"));
}

//! Reads State before and after a suspension: across a co_await, others may change it (S22).
QCoro::Task<QPair<int, int>> readAcrossAnAwait(int &n, Gate gate)
{
    const int before = n;
    auto atGate = gate.call();
    co_await std::move(atGate);
    co_return qMakePair(before, n);
}

QCoro::Task<int> suspendExclusivelyAtGate(int &, std::shared_ptr<Journal> journal, Gate gate,
                                          QString name)
{
    journal->add(name + QStringLiteral(" begins"));
    auto atGate = gate.call();
    const int answer = co_await std::move(atGate);
    journal->add(name + QStringLiteral(" ends"));
    co_return answer;
}

// ---- exclusion between suspension points ------------------------------------------------------

//! State that notices two handlers (or slices of handlers) running at once: every slice between
//! two suspension points counts itself in `inside`, which must be 1 wherever it is checked; an
//! exclusive coroutine handler writes its id into `holder` for its whole life (S2), so a slice of
//! any other handler that runs meanwhile is a violation too.
struct Guarded
{
    std::atomic<int> inside{ 0 };
    std::atomic<int> holder{ 0 };
    std::atomic<int> violations{ 0 };
    std::atomic<int> offContext{ 0 }; // resumed outside the actor's context
    std::atomic<int> suspendedNow{ 0 }; // interleaved handlers suspended at this moment
    qint64 work = 0; // written by every slice (a data race if two overlap)
    qint64 castsHandled = 0;
};

void enterSlice(Guarded &s, int id)
{
    if (s.inside.fetch_add(1) != 0)
        s.violations.fetch_add(1);
    const int holder = s.holder.load();
    if (holder != 0 && holder != id)
        s.violations.fetch_add(1);
}

void workInSlice(Guarded &s)
{
    for (int i = 0; i < 64; ++i) {
        if (s.inside.load(std::memory_order_relaxed) != 1)
            s.violations.fetch_add(1);
        ++s.work;
        stress::compilerBarrier();
    }
}

void leaveSlice(Guarded &s)
{
    if (s.inside.fetch_sub(1) != 1)
        s.violations.fetch_add(1);
}

void slice(Guarded &s, int id)
{
    enterSlice(s, id);
    workInSlice(s);
    leaveSlice(s);
}

void checkContext(Guarded &s, const WeakActor<Guarded> &self)
{
    if (!self.lock().isCurrent())
        s.offContext.fetch_add(1);
}

//! An interleaved handler's body: `awaits` slices, each followed by a co_await on `echo`.
QCoro::Task<int> interleavedSlices(Guarded &s, int id, Actor<int> echo, int awaits,
                                   WeakActor<Guarded> self)
{
    int sum = 0;
    for (int k = 0; k < awaits; ++k) {
        slice(s, id);
        auto c = echo.call(answerOne);
        sum += co_await std::move(c);
        checkContext(s, self);
    }
    slice(s, id);
    co_return sum + id;
}

//! An exclusive coroutine handler's body: holds the actor (S2) across its co_awaits.
QCoro::Task<int> exclusiveSlices(Guarded &s, int id, Actor<int> echo, int awaits,
                                 WeakActor<Guarded> self)
{
    enterSlice(s, id);
    s.holder.store(id);
    workInSlice(s);
    leaveSlice(s);
    int sum = 0;
    for (int k = 0; k < awaits; ++k) {
        auto c = echo.call(answerOne);
        sum += co_await std::move(c);
        checkContext(s, self);
        slice(s, id);
    }
    enterSlice(s, id);
    s.holder.store(0);
    leaveSlice(s);
    co_return sum + id;
}

QCoro::Task<int> waitAtGateGuarded(Guarded &s, int id, Gate gate, WeakActor<Guarded> self)
{
    slice(s, id);
    s.suspendedNow.fetch_add(1);
    auto atGate = gate.call();
    const int answer = co_await std::move(atGate);
    s.suspendedNow.fetch_sub(1);
    checkContext(s, self);
    slice(s, id);
    co_return id + answer;
}

// ---- errors -----------------------------------------------------------------------------------

QCoro::Task<int> throwInterleaved(int &, Actor<int> echo, bool afterAnAwait)
{
    if (afterAnAwait) {
        auto c = echo.call(answerOne);
        co_await std::move(c);
    }
    throw std::runtime_error("interleaved failure");
}

QCoro::Task<> throwInterleavedCast(int &, Actor<int> echo)
{
    auto c = echo.call(answerOne);
    co_await std::move(c);
    throw std::runtime_error("interleaved cast failure");
}

// ---- lifetime ---------------------------------------------------------------------------------

//! State that says when it is destroyed.
struct Tracked
{
    Tracked(std::shared_ptr<Journal> journal, std::shared_ptr<std::atomic<bool>> destroyed)
        : journal(std::move(journal)), destroyed(std::move(destroyed))
    { }
    ~Tracked()
    {
        destroyed->store(true);
        journal->add(QStringLiteral("State destroyed"));
    }
    std::shared_ptr<Journal> journal;
    std::shared_ptr<std::atomic<bool>> destroyed;
    int touched = 0;
};

QCoro::Task<int> suspendWhileStopping(Tracked &s, int id, Gate gate)
{
    auto atGate = gate.call();
    co_await std::move(atGate);
    // Still here: State must be too.
    s.journal->add(
            QStringLiteral("handler %1 resumes, State %2")
                    .arg(id)
                    .arg(s.destroyed->load() ? QStringLiteral("gone") : QStringLiteral("alive")));
    ++s.touched;
    co_return id;
}

// ---- A awaits B awaits A ------------------------------------------------------------------

//! B's side: awaits (or waits for) a call to A, which A handles while its interleaved handler
//! is suspended on B.
QCoro::Task<int> awaitBackOnA(int &, Actor<int> a)
{
    auto c = a.call([](int &n) { return n; }).timeout(Safety);
    const int v = co_await std::move(c);
    co_return v * 2;
}

//! B's handler: awaits the call back to A (co_await), or blocks on it (wait()).
Call<int> callBackThroughB(const Actor<int> &b, const Actor<int> &a, bool bWaits)
{
    if (bWaits) {
        return b.call([a](int &) {
                    return a.call([](int &m) { return m; }).timeout(Safety).wait() * 2;
                })
                .timeout(Safety);
    }
    return b.call([a](int &m) { return awaitBackOnA(m, a); }).timeout(Safety);
}

QCoro::Task<int> interleavedAwaitsB(int &n, Actor<int> b, Actor<int> a, bool bWaits)
{
    n = 20;
    auto toB = callBackThroughB(b, a, bWaits);
    const int v = co_await std::move(toB);
    co_return v + 1;
}

QCoro::Task<int> awaitOwnActor(int &n, WeakActor<int> weakSelf)
{
    n = 5;
    Actor<int> self = weakSelf.lock();
    auto c = self.call([](int &m) { return m * 10; }).timeout(Safety);
    const int v = co_await std::move(c);
    co_return v + n;
}

// ---- stress -----------------------------------------------------------------------------------

struct StressShared
{
    std::vector<Actor<Guarded>> actors;
    std::vector<Actor<int>> echoes;
    stress::Failures failures;
    std::atomic<int> finishedSenders{ 0 };
    std::atomic<qint64> progress{ 0 };
    std::atomic<qint64> castsSent[3]{};
};

//! An interleaved handler of the stress: its awaits go to an echo, to its own actor or to
//! another guarded actor (plain handlers there), in the order `targets` says.
QCoro::Task<int> interleavedStressBody(Guarded &s, int id, std::shared_ptr<StressShared> shared,
                                       std::vector<int> targets, WeakActor<Guarded> self)
{
    int sum = 0;
    for (int target : targets) {
        slice(s, id);
        if (target < 0) {
            auto c = shared->echoes[size_t(-target - 1)].call(answerOne);
            sum += co_await std::move(c);
        } else {
            auto c = shared->actors[size_t(target)]
                             .call([](Guarded &g) {
                                 slice(g, -1);
                                 return 1;
                             })
                             .timeout(30s);
            sum += co_await std::move(c);
        }
        checkContext(s, self);
    }
    slice(s, id);
    co_return sum;
}

QCoro::Task<> interleavedStressCast(Guarded &s, int id, Actor<int> echo, WeakActor<Guarded> self)
{
    slice(s, id);
    auto c = echo.call(answerOne);
    co_await std::move(c);
    checkContext(s, self);
    enterSlice(s, id);
    ++s.castsHandled;
    leaveSlice(s);
}

QCoro::Task<> exclusiveStressCast(Guarded &s, int id, Actor<int> echo, WeakActor<Guarded> self)
{
    co_await exclusiveSlices(s, id, echo, 1, self);
    enterSlice(s, id);
    ++s.castsHandled;
    leaveSlice(s);
}

void stressSender(std::shared_ptr<StressShared> shared, int sender, int messages, quint32 seed)
{
    std::mt19937 rng(seed + quint32(sender) * 7919u);
    struct Pending
    {
        Call<int> call;
        int expected;
        QString what;
    };
    std::vector<Pending> inFlight;
    const auto settle = [&](Pending &p) {
        try {
            const int got = std::move(p.call).wait();
            if (got != p.expected)
                shared->failures.add(QStringLiteral("%1 answered %2, not %3")
                                             .arg(p.what)
                                             .arg(got)
                                             .arg(p.expected));
        } catch (...) {
            shared->failures.add(p.what + QStringLiteral(" failed: ")
                                 + errorKind(std::current_exception()));
        }
        shared->progress.fetch_add(1);
    };
    for (int m = 0; m < messages; ++m) {
        const int id = sender * 1000000 + m + 1;
        const size_t a = rng() % shared->actors.size();
        const Actor<Guarded> &uut = shared->actors[a];
        const WeakActor<Guarded> weak = uut.weak();
        const Actor<int> echo = shared->echoes[rng() % shared->echoes.size()];
        switch (rng() % 6) {
        case 0: { // plain call
            auto c = uut.call([id](Guarded &s) {
                            slice(s, id);
                            return 1;
                        }).timeout(30s);
            inFlight.push_back({ std::move(c), 1, QStringLiteral("a plain call") });
            break;
        }
        case 1: // plain cast
            shared->castsSent[a].fetch_add(1);
            uut.cast([id](Guarded &s) {
                enterSlice(s, id);
                ++s.castsHandled;
                leaveSlice(s);
            });
            break;
        case 2: { // exclusive coroutine call
            const int awaits = 1 + int(rng() % 2);
            auto c = uut.call([id, echo, awaits, weak](Guarded &s) {
                            return exclusiveSlices(s, id, echo, awaits, weak);
                        }).timeout(30s);
            inFlight.push_back(
                    { std::move(c), awaits + id, QStringLiteral("an exclusive coroutine call") });
            break;
        }
        case 3: { // interleaved call
            std::vector<int> targets;
            const int awaits = 1 + int(rng() % 3);
            for (int k = 0; k < awaits; ++k) {
                const int pick = int(rng() % 4);
                targets.push_back(pick < 2 ? -1 - int(rng() % shared->echoes.size())
                                           : int(rng() % shared->actors.size()));
            }
            auto c = uut.call(interleaved([id, shared, targets, weak](Guarded &s) {
                            return interleavedStressBody(s, id, shared, targets, weak);
                        })).timeout(30s);
            inFlight.push_back({ std::move(c), awaits, QStringLiteral("an interleaved call") });
            break;
        }
        case 4: // interleaved cast
            shared->castsSent[a].fetch_add(1);
            uut.cast(interleaved([id, echo, weak](Guarded &s) {
                return interleavedStressCast(s, id, echo, weak);
            }));
            break;
        default: // exclusive coroutine cast
            shared->castsSent[a].fetch_add(1);
            uut.cast([id, echo, weak](Guarded &s) {
                return exclusiveStressCast(s, id, echo, weak);
            });
            break;
        }
        if (inFlight.size() >= 8) {
            settle(inFlight.front());
            inFlight.erase(inFlight.begin());
        }
    }
    for (auto &p : inFlight)
        settle(p);
    shared->finishedSenders.fetch_add(1);
}

} // namespace

class tst_Interleaved : public QObject
{
    Q_OBJECT

private:
    quint32 m_seed = 0;

private Q_SLOTS:
    void init() { m_seed = stress::drawSeed(); }
    void cleanup() { stress::warnIfFailed(m_seed); }

    // S22
    void anInterleavedCallLetsOtherMessagesRunWhileItIsSuspended_data() { addExecutorRows(); }
    void anInterleavedCallLetsOtherMessagesRunWhileItIsSuspended()
    {
        QFETCH(int, executor);
        EventThread worker;
        auto journal = std::make_shared<Journal>();
        Gate gate;
        Actor<int> uut(0, onExecutor(executor, worker.get(), QStringLiteral("uut")));
        auto handler = [journal, gate](int &n) { return suspendOnceAtGate(n, journal, gate); };
        auto first = start(uut.call(interleaved(handler)));
        QVERIFY2(QTest::qWaitFor([&] { return gate.arrived() == 1; }, MustFinishMs),
                 "the interleaved handler never reached its co_await");
        auto other = [journal](int &n) {
            journal->add(QStringLiteral("other"));
            n = 10;
            return n;
        };
        auto second = start(uut.call(other));
        QVERIFY2(finishes(second),
                 "a call sent while an interleaved handler was suspended did not run meanwhile");
        QVERIFY2(!first->finished, "the interleaved handler finished before its gate opened");
        gate.open(5);
        QVERIFY2(finishes(first), "the interleaved handler never resumed");
        QVERIFY2(!first->error, qPrintable(errorKind(first->error)));
        QCOMPARE(*first->value, 5 + 10);
        QCOMPARE(journal->lines(),
                 QStringList({ QStringLiteral("interleaved begins"), QStringLiteral("other"),
                               QStringLiteral("interleaved resumes") }));
        QVERIFY(stopWithin(uut));
    }

    // S22
    void anInterleavedCastLetsOtherMessagesRunWhileItIsSuspended_data() { addExecutorRows(); }
    void anInterleavedCastLetsOtherMessagesRunWhileItIsSuspended()
    {
        QFETCH(int, executor);
        EventThread worker;
        auto journal = std::make_shared<Journal>();
        Gate gate;
        Actor<int> uut(0, onExecutor(executor, worker.get(), QStringLiteral("uut")));
        auto handler = [journal, gate](int &n) { return castSuspendOnceAtGate(n, journal, gate); };
        uut.cast(interleaved(handler));
        QVERIFY2(QTest::qWaitFor([&] { return gate.arrived() == 1; }, MustFinishMs),
                 "the interleaved cast handler never reached its co_await");
        auto other = [journal](int &n) {
            journal->add(QStringLiteral("other"));
            n = 10;
            return n;
        };
        auto second = start(uut.call(other));
        QVERIFY2(finishes(second),
                 "a call sent while an interleaved cast was suspended did not run meanwhile");
        gate.open(5);
        QVERIFY2(QTest::qWaitFor(
                         [&] {
                             return journal->lines().contains(
                                     QStringLiteral("interleaved cast resumes"));
                         },
                         MustFinishMs),
                 "the interleaved cast handler never resumed");
        auto after = testing::run(uut.call([](int &n) { return n; }).task(), MustFinishMs);
        QVERIFY(after.finished);
        QCOMPARE(*after.value, 10 + 5);
        QCOMPARE(journal->lines(),
                 QStringList({ QStringLiteral("interleaved cast begins"), QStringLiteral("other"),
                               QStringLiteral("interleaved cast resumes") }));
        QVERIFY(stopWithin(uut));
    }

    // S22: the documented hazard
    void stateMayChangeAcrossTheCoAwaitOfAnInterleavedHandler_data() { addExecutorRows(); }
    void stateMayChangeAcrossTheCoAwaitOfAnInterleavedHandler()
    {
        QFETCH(int, executor);
        EventThread worker;
        Gate gate;
        Actor<int> uut(1, onExecutor(executor, worker.get(), QStringLiteral("uut")));
        auto reader = [gate](int &n) { return readAcrossAnAwait(n, gate); };
        auto read = start(uut.call(interleaved(reader)));
        QVERIFY(QTest::qWaitFor([&] { return gate.arrived() == 1; }, MustFinishMs));
        auto write = start(uut.call([](int &n) { n = 2; }));
        QVERIFY2(finishes(write), "a write did not run while the reader was suspended");
        gate.open();
        QVERIFY(finishes(read));
        QVERIFY2(!read->error, qPrintable(errorKind(read->error)));
        QCOMPARE(read->value->first, 1);
        QCOMPARE(read->value->second, 2); // the write made while it was suspended is visible
        QVERIFY(stopWithin(uut));
    }

    // S22: between two suspension points a handler is alone with State (S1 still holds)
    void betweenSuspensionPointsEachHandlerIsAloneWithState_data() { addExecutorRows(); }
    void betweenSuspensionPointsEachHandlerIsAloneWithState()
    {
        QFETCH(int, executor);
        EventThread worker;
        Actor<int> echo(0, { .name = QStringLiteral("echo") });
        auto uut =
                Actor<Guarded>::emplace(onExecutor(executor, worker.get(), QStringLiteral("uut")));
        const WeakActor<Guarded> weak = uut.weak();
        std::vector<std::shared_ptr<testing::Outcome<int>>> outs;
        std::vector<int> expected;
        for (int i = 1; i <= 120; ++i) {
            switch (i % 4) {
            case 0:
                outs.push_back(start(uut.call([i](Guarded &s) {
                    slice(s, i);
                    return i;
                })));
                expected.push_back(i);
                break;
            case 1:
                outs.push_back(start(uut.call([i, echo, weak](Guarded &s) {
                    return exclusiveSlices(s, i, echo, 2, weak);
                })));
                expected.push_back(i + 2);
                break;
            default:
                outs.push_back(start(uut.call(interleaved([i, echo, weak](Guarded &s) {
                    return interleavedSlices(s, i, echo, 3, weak);
                }))));
                expected.push_back(i + 3);
                break;
            }
        }
        for (size_t k = 0; k < outs.size(); ++k) {
            QVERIFY2(finishes(outs[k]),
                     qPrintable(QStringLiteral("message %1 never finished").arg(k)));
            QVERIFY2(!outs[k]->error, qPrintable(errorKind(outs[k]->error)));
            QCOMPARE(*outs[k]->value, expected[k]);
        }
        auto figures =
                testing::run(uut.call([](Guarded &s) {
                                    return qMakePair(s.violations.load(), s.offContext.load());
                                }).task(),
                             MustFinishMs);
        QVERIFY(figures.finished);
        QCOMPARE(figures.value->first,
                 0); // no two slices at once, no slice inside an exclusive one
        QCOMPARE(figures.value->second, 0); // every resumption on the actor's context
        QVERIFY(stopWithin(uut));
    }

    // S22: several interleaved handlers of one actor suspended at once
    void aHundredInterleavedHandlersSuspendedAtOnceAllResumeAndFinish_data() { addExecutorRows(); }
    void aHundredInterleavedHandlersSuspendedAtOnceAllResumeAndFinish()
    {
        QFETCH(int, executor);
        constexpr int Count = 100;
        EventThread worker;
        Gate gate;
        auto uut =
                Actor<Guarded>::emplace(onExecutor(executor, worker.get(), QStringLiteral("uut")));
        const WeakActor<Guarded> weak = uut.weak();
        std::vector<std::shared_ptr<testing::Outcome<int>>> outs;
        for (int i = 1; i <= Count; ++i) {
            outs.push_back(start(uut.call(interleaved(
                    [i, gate, weak](Guarded &s) { return waitAtGateGuarded(s, i, gate, weak); }))));
        }
        QVERIFY2(QTest::qWaitFor([&] { return gate.arrived() == Count; }, MustFinishMs),
                 qPrintable(QStringLiteral("only %1 of %2 interleaved handlers reached the gate")
                                    .arg(gate.arrived())
                                    .arg(Count)));
        // All of them are suspended now, and the actor still answers.
        auto suspended = testing::run(
                uut.call([](Guarded &s) { return s.suspendedNow.load(); }).task(), MustFinishMs);
        QVERIFY2(suspended.finished, "the actor did not answer while its handlers were suspended");
        QCOMPARE(*suspended.value, Count);
        for (const auto &out : outs)
            QVERIFY(!out->finished);
        gate.open(1000, true); // the newest first
        for (int i = 1; i <= Count; ++i) {
            const auto &out = outs[size_t(i - 1)];
            QVERIFY2(finishes(out), qPrintable(QStringLiteral("handler %1 never resumed").arg(i)));
            QVERIFY2(!out->error, qPrintable(errorKind(out->error)));
            QCOMPARE(*out->value, i + 1000);
        }
        auto figures =
                testing::run(uut.call([](Guarded &s) {
                                    return QList<int>{ s.violations.load(), s.offContext.load(),
                                                       s.suspendedNow.load() };
                                }).task(),
                             MustFinishMs);
        QVERIFY(figures.finished);
        QCOMPARE(*figures.value, QList<int>({ 0, 0, 0 }));
        QVERIFY(stopWithin(uut));
    }

    // S2 with S22: an exclusive handler suspended holds the actor, also against the resumption
    // of an interleaved handler that was suspended before it
    void aSuspendedExclusiveHandlerHoldsBackInterleavedResumptions_data() { addExecutorRows(); }
    void aSuspendedExclusiveHandlerHoldsBackInterleavedResumptions()
    {
        QFETCH(int, executor);
        EventThread worker;
        auto journal = std::make_shared<Journal>();
        Gate interleavedGate;
        Gate exclusiveGate;
        Actor<int> uut(0, onExecutor(executor, worker.get(), QStringLiteral("uut")));
        auto interleavedHandler = [journal, interleavedGate](int &n) {
            return suspendOnceAtGate(n, journal, interleavedGate);
        };
        auto exclusiveHandler = [journal, exclusiveGate](int &n) {
            return suspendExclusivelyAtGate(n, journal, exclusiveGate, QStringLiteral("exclusive"));
        };
        auto first = start(uut.call(interleaved(interleavedHandler)));
        QVERIFY(QTest::qWaitFor([&] { return interleavedGate.arrived() == 1; }, MustFinishMs));
        auto second = start(uut.call(exclusiveHandler));
        QVERIFY2(QTest::qWaitFor([&] { return exclusiveGate.arrived() == 1; }, MustFinishMs),
                 "an exclusive handler did not start while an interleaved one was suspended");
        auto plain = start(uut.call([journal](int &) {
            journal->add(QStringLiteral("plain"));
            return 0;
        }));
        interleavedGate.open(1); // its answer is there: it may resume only once `exclusive` ends
        QTest::qWait(AbsenceWindowMs);
        QVERIFY2(!first->finished,
                 "an interleaved handler resumed while an exclusive one held the actor (S2)");
        QVERIFY2(!plain->finished, "a message ran while an exclusive handler held the actor (S2)");
        QCOMPARE(journal->lines(),
                 QStringList({ QStringLiteral("interleaved begins"),
                               QStringLiteral("exclusive begins") }));
        exclusiveGate.open(2);
        QVERIFY(finishes(second));
        QVERIFY(finishes(first));
        QVERIFY(finishes(plain));
        QVERIFY2(!first->error, qPrintable(errorKind(first->error)));
        QVERIFY2(!second->error, qPrintable(errorKind(second->error)));
        QCOMPARE(*second->value, 2);
        const QStringList lines = journal->lines();
        QCOMPARE(lines.size(), 5);
        QCOMPARE(lines.mid(0, 3),
                 QStringList({ QStringLiteral("interleaved begins"),
                               QStringLiteral("exclusive begins"),
                               QStringLiteral("exclusive ends") }));
        QVERIFY(lines.contains(QStringLiteral("interleaved resumes")));
        QVERIFY(lines.contains(QStringLiteral("plain")));
        QVERIFY(stopWithin(uut));
    }

    // S22 + S8: an interleaved call's exception reaches its caller
    void anInterleavedCallHandlersExceptionReachesTheCaller_data()
    {
        QTest::addColumn<int>("executor");
        QTest::addColumn<bool>("afterAnAwait");
        for (auto [where, name] :
             { std::pair(Pool, "pool"), std::pair(Dedicated, "dedicated thread"),
               std::pair(MainThread, "main thread"), std::pair(OtherThread, "another QThread") }) {
            QTest::addRow("%s, before its first co_await", name) << int(where) << false;
            QTest::addRow("%s, after a co_await", name) << int(where) << true;
        }
    }
    void anInterleavedCallHandlersExceptionReachesTheCaller()
    {
        QFETCH(int, executor);
        QFETCH(bool, afterAnAwait);
        EventThread worker;
        Gate gate;
        Actor<int> echo(0, { .name = QStringLiteral("echo") });
        Actor<int> uut(7, onExecutor(executor, worker.get(), QStringLiteral("uut")));
        // Another interleaved handler is suspended meanwhile: the failure does not disturb it.
        auto bystander =
                start(uut.call(interleaved([gate](int &n) { return readAcrossAnAwait(n, gate); })));
        QVERIFY(QTest::qWaitFor([&] { return gate.arrived() == 1; }, MustFinishMs));
        auto failing = testing::run(uut.call(interleaved([echo, afterAnAwait](int &n) {
                                           return throwInterleaved(n, echo, afterAnAwait);
                                       })).task(),
                                    MustFinishMs);
        QVERIFY(failing.finished);
        QCOMPARE(errorKind(failing.error), QStringLiteral("interleaved failure"));
        auto later = testing::run(uut.call([](int &n) { return n + 1; }).task(), MustFinishMs);
        QVERIFY2(later.finished, "the actor stopped answering after an interleaved handler threw");
        QCOMPARE(*later.value, 8);
        gate.open();
        QVERIFY(finishes(bystander));
        QVERIFY2(!bystander->error, qPrintable(errorKind(bystander->error)));
        QCOMPARE(*bystander->value, qMakePair(7, 7));
        QVERIFY(stopWithin(uut));
    }

    // S22 + S8: an interleaved cast's exception is logged with the actor's name
    void anInterleavedCastHandlersExceptionIsLogged_data() { addExecutorRows(); }
    void anInterleavedCastHandlersExceptionIsLogged()
    {
        QFETCH(int, executor);
        EventThread worker;
        testing::LogCapture log;
        Actor<int> echo(0, { .name = QStringLiteral("echo") });
        Actor<int> uut(3, onExecutor(executor, worker.get(), QStringLiteral("failing caster")));
        uut.cast(interleaved([echo](int &n) { return throwInterleavedCast(n, echo); }));
        QVERIFY2(QTest::qWaitFor(
                         [&] { return log.contains(QStringLiteral("interleaved cast failure")); },
                         MustFinishMs),
                 "the exception of an interleaved cast handler was not logged on qtactors");
        bool named = false;
        for (const QString &line : log.messages())
            named = named
                    || (line.contains(QStringLiteral("interleaved cast failure"))
                        && line.contains(QStringLiteral("failing caster")));
        QVERIFY2(named, qPrintable(log.messages().join(QLatin1Char('\n'))));
        auto later = testing::run(uut.call([](int &n) { return n; }).task(), MustFinishMs);
        QVERIFY2(later.finished, "the actor stopped answering after an interleaved cast threw");
        QCOMPARE(*later.value, 3);
        QVERIFY(stopWithin(uut));
    }

    // S22 + S2: the library keeps an interleaved handler object, with its captures, until its
    // task ends (a coroutine lambda's captures live in the lambda, not in the frame)
    void anInterleavedCoroutineLambdaKeepsItsCapturesUntilItEnds_data() { addExecutorRows(); }
    void anInterleavedCoroutineLambdaKeepsItsCapturesUntilItEnds()
    {
        QFETCH(int, executor);
        EventThread worker;
        Gate gate;
        Actor<int> uut(0, onExecutor(executor, worker.get(), QStringLiteral("uut")));
        auto token = std::make_shared<int>(42);
        const std::weak_ptr<int> watch = token;
        std::shared_ptr<testing::Outcome<int>> out;
        {
            auto handler = [token = std::move(token), text = std::string(200, 'x'),
                            gate](int &) -> QCoro::Task<int> {
                auto atGate = gate.call();
                co_await std::move(atGate);
                co_return text == std::string(200, 'x') ? *token : -1;
            };
            out = start(uut.call(interleaved(std::move(handler))));
        }
        QVERIFY(QTest::qWaitFor([&] { return gate.arrived() == 1; }, MustFinishMs));
        QVERIFY2(!watch.expired(),
                 "the handler's captures were destroyed while its task was suspended");
        gate.open();
        QVERIFY(finishes(out));
        QVERIFY2(!out->error, qPrintable(errorKind(out->error)));
        QCOMPARE(*out->value, 42);
        QVERIFY2(QTest::qWaitFor([&] { return watch.expired(); }, MustFinishMs),
                 "the handler's captures were never released after its task ended");
        QVERIFY(stopWithin(uut));
    }

    // S22 + S21: an interleaved handler awaiting a call to its own actor gets the answer
    void anInterleavedHandlerAwaitingItsOwnActorGetsTheAnswer_data() { addExecutorRows(); }
    void anInterleavedHandlerAwaitingItsOwnActorGetsTheAnswer()
    {
        QFETCH(int, executor);
        EventThread worker;
        Actor<int> uut(0, onExecutor(executor, worker.get(), QStringLiteral("uut")));
        const WeakActor<int> weak = uut.weak();
        auto out = testing::run(
                uut.call(interleaved([weak](int &n) { return awaitOwnActor(n, weak); })).task(),
                MustFinishMs + int(Safety.count()));
        QVERIFY(out.finished);
        QVERIFY2(!out.error, qPrintable(errorKind(out.error)));
        QCOMPARE(*out.value, 5 * 10 + 5);
        QVERIFY(stopWithin(uut));
    }

    // S22 + S21: A awaits B awaits A works when A's handler is interleaved
    void aAwaitsBAwaitsAWorksWhenAsHandlerIsInterleaved_data()
    {
        QTest::addColumn<int>("executorA");
        QTest::addColumn<int>("executorB");
        QTest::addColumn<bool>("bWaits");
        QTest::newRow("pool, pool, co_await") << int(Pool) << int(Pool) << false;
        QTest::newRow("pool, pool, wait()") << int(Pool) << int(Pool) << true;
        QTest::newRow("dedicated, pool, co_await") << int(Dedicated) << int(Pool) << false;
        QTest::newRow("pool, dedicated, wait()") << int(Pool) << int(Dedicated) << true;
        QTest::newRow("dedicated, dedicated, co_await")
                << int(Dedicated) << int(Dedicated) << false;
        QTest::newRow("dedicated, dedicated, wait()") << int(Dedicated) << int(Dedicated) << true;
        QTest::newRow("main, pool, co_await") << int(MainThread) << int(Pool) << false;
        QTest::newRow("main, pool, wait()") << int(MainThread) << int(Pool) << true;
        QTest::newRow("pool, main, co_await") << int(Pool) << int(MainThread) << false;
        QTest::newRow("main, main, co_await") << int(MainThread) << int(MainThread) << false;
        QTest::newRow("another QThread, dedicated, wait()")
                << int(OtherThread) << int(Dedicated) << true;
    }
    void aAwaitsBAwaitsAWorksWhenAsHandlerIsInterleaved()
    {
        QFETCH(int, executorA);
        QFETCH(int, executorB);
        QFETCH(bool, bWaits);
        EventThread worker;
        Actor<int> a(0, onExecutor(executorA, worker.get(), QStringLiteral("A")));
        Actor<int> b(0, onExecutor(executorB, worker.get(), QStringLiteral("B")));
        auto out = testing::run(a.call(interleaved([a, b, bWaits](int &n) {
                                     return interleavedAwaitsB(n, b, a, bWaits);
                                 })).task(),
                                MustFinishMs + int(Safety.count()));
        QVERIFY(out.finished);
        QVERIFY2(!out.error, qPrintable(errorKind(out.error)));
        QCOMPARE(*out.value, 20 * 2 + 1);
        QVERIFY(stopWithin(a));
        QVERIFY(stopWithin(b));
    }

    // Stress: exclusion (S1, S2, S22) under mixed messages from several threads
    void mixedMessagesFromManyThreadsKeepExclusionAndAllFinish_data()
    {
        QTest::addColumn<int>("executor");
        QTest::newRow("pool") << int(Pool);
        QTest::newRow("dedicated thread") << int(Dedicated);
        QTest::newRow("main thread") << int(MainThread);
    }
    void mixedMessagesFromManyThreadsKeepExclusionAndAllFinish()
    {
        QFETCH(int, executor);
        constexpr int Senders = 4;
        stress::Watchdog watchdog;
        watchdog.arm(QTest::currentTestFunction(), m_seed, stress::HangLimit);
        auto shared = std::make_shared<StressShared>();
        for (int a = 0; a < 3; ++a) {
            shared->actors.push_back(Actor<Guarded>::emplace(
                    onExecutor(executor, nullptr, QStringLiteral("guarded %1").arg(a))));
        }
        for (int e = 0; e < 2; ++e)
            shared->echoes.emplace_back(0, Options{ .name = QStringLiteral("echo %1").arg(e) });
        const int messages = testing::scaled(8000);
        std::vector<std::thread> senders;
        for (int s = 0; s < Senders; ++s)
            senders.emplace_back(stressSender, shared, s, messages, m_seed);
        // Fails when nothing finished for MustFinishMs (a wedged actor), not on slowness.
        qint64 seen = -1;
        QDeadlineTimer idle(MustFinishMs);
        while (shared->finishedSenders.load() < Senders && !idle.hasExpired()) {
            if (shared->progress.load() != seen) {
                seen = shared->progress.load();
                idle.setRemainingTime(MustFinishMs);
            }
            QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
        }
        const bool allDone = shared->finishedSenders.load() == Senders;
        if (!allDone) {
            // Their calls carry timeouts: they end within 30 s; keep the event loop running
            // for main-thread actors until then.
            (void)QTest::qWaitFor([&] { return shared->finishedSenders.load() == Senders; }, 40000);
        }
        stress::joinAll(senders);
        QVERIFY2(allDone, qPrintable(QStringLiteral("wedged after %1 answers").arg(seen)));
        QVERIFY2(shared->failures.isEmpty(), shared->failures.report().constData());
        for (size_t a = 0; a < shared->actors.size(); ++a) {
            const qint64 sent = shared->castsSent[a].load();
            // Interleaved casts count as handled when they first suspend: wait for their ends.
            qint64 handled = -1;
            QDeadlineTimer deadline(MustFinishMs);
            while (!deadline.hasExpired()) {
                auto figure = testing::run(
                        shared->actors[a].call([](Guarded &s) { return s.castsHandled; }).task(),
                        MustFinishMs);
                QVERIFY(figure.finished);
                handled = *figure.value;
                if (handled == sent)
                    break;
                QTest::qWait(1);
            }
            QCOMPARE(handled, sent);
            auto figures = testing::run(shared->actors[a]
                                                .call([](Guarded &s) {
                                                    return QList<int>{ s.violations.load(),
                                                                       s.offContext.load(),
                                                                       s.holder.load() };
                                                })
                                                .task(),
                                        MustFinishMs);
            QVERIFY(figures.finished);
            QCOMPARE(*figures.value, QList<int>({ 0, 0, 0 }));
        }
        for (const auto &actor : shared->actors)
            QVERIFY(stopWithin(actor));
    }

    // S22 + S7/S6: State outlives every suspended interleaved handler. (Kept last: a crash here
    // would hide the results of the functions after it.)
    void stateIsDestroyedOnlyAfterTheSuspendedInterleavedHandlersEnd_data()
    {
        QTest::addColumn<int>("executor");
        QTest::addColumn<bool>("byStop");
        for (auto [where, name] :
             { std::pair(Pool, "pool"), std::pair(Dedicated, "dedicated thread"),
               std::pair(MainThread, "main thread"), std::pair(OtherThread, "another QThread") }) {
            QTest::addRow("%s, stop()", name) << int(where) << true;
            QTest::addRow("%s, last handle gone", name) << int(where) << false;
        }
    }
    void stateIsDestroyedOnlyAfterTheSuspendedInterleavedHandlersEnd()
    {
        QFETCH(int, executor);
        QFETCH(bool, byStop);
        constexpr int Count = 3;
        EventThread worker;
        Gate gate;
        auto journal = std::make_shared<Journal>();
        auto destroyed = std::make_shared<std::atomic<bool>>(false);
        auto uut = Actor<Tracked>::emplace(
                onExecutor(executor, worker.get(), QStringLiteral("uut")), journal, destroyed);
        std::vector<std::shared_ptr<testing::Outcome<int>>> outs;
        for (int i = 1; i <= Count; ++i)
            outs.push_back(start(uut.call(interleaved(
                    [i, gate](Tracked &s) { return suspendWhileStopping(s, i, gate); }))));
        QVERIFY(QTest::qWaitFor([&] { return gate.arrived() == Count; }, MustFinishMs));
        std::shared_ptr<testing::Outcome<void>> stopped;
        if (byStop) {
            stopped = start(uut.stop());
            auto refused = testing::run(uut.call([](Tracked &) { return 0; }).task(), MustFinishMs);
            QVERIFY(refused.finished);
            QCOMPARE(errorKind(refused.error), QStringLiteral("ActorStopped"));
        } else {
            uut = Actor<Tracked>(nullptr); // the last handle
        }
        QTest::qWait(AbsenceWindowMs);
        QVERIFY2(!destroyed->load(),
                 "State was destroyed while interleaved handlers were suspended");
        if (stopped)
            QVERIFY2(!stopped->finished,
                     "stop() finished while interleaved handlers were suspended");
        for (int i = 1; i <= Count; ++i) {
            QVERIFY(gate.openOne(i));
            const auto &out = outs[size_t(i - 1)];
            QVERIFY2(finishes(out), qPrintable(QStringLiteral("handler %1 never resumed").arg(i)));
            QVERIFY2(!out->error, qPrintable(errorKind(out->error)));
            QCOMPARE(*out->value, i);
            if (i < Count) {
                QVERIFY2(!destroyed->load(),
                         qPrintable(QStringLiteral(
                                            "State destroyed with %1 handler(s) still suspended")
                                            .arg(Count - i)));
            }
        }
        QVERIFY2(QTest::qWaitFor([&] { return destroyed->load(); }, MustFinishMs),
                 "State was never destroyed after the last interleaved handler ended");
        if (stopped)
            QVERIFY2(finishes(stopped), "stop() never finished");
        QCOMPARE(journal->lines(),
                 QStringList({ QStringLiteral("handler 1 resumes, State alive"),
                               QStringLiteral("handler 2 resumes, State alive"),
                               QStringLiteral("handler 3 resumes, State alive"),
                               QStringLiteral("State destroyed") }));
    }
};

QTEST_GUILESS_MAIN(tst_Interleaved)
#include "tst_interleaved.moc"
