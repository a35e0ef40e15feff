// Stress: the ordering, exclusion, lifetime and shutdown rules (S1–S9, S13, S16) hammered with many
// threads, many actors and random interleavings. Assertions are about values, order, threads and
// lifetimes, never timings; nothing sleeps to let work finish.
//
// Loops are sized with testing::scaled() (QTACTORS_STRESS_SCALE=0.25 under ThreadSanitizer). Every
// test function draws a fresh seed for its random choices (targets, message kinds, when to stop or
// drop); a failing one prints it, and QTACTORS_STRESS_SEED=<seed> replays those choices (the thread
// interleaving itself differs from run to run). A watchdog aborts with the seed if a test hangs,
// since a hang is how several of these rules would fail.
#include "testing.h"

#include <QtCore/QFile>
#include <QtCore/QFuture>
#include <QtCore/QRandomGenerator>
#include <QtCore/QThreadPool>

#include <QCoroTask>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace QtActors;
using testing::errorKind;
using testing::scaled;

namespace stress {

//! Failures seen on worker threads, where QCOMPARE cannot be used: checked on the test's thread.
class Failures
{
public:
    void add(const QString &what)
    {
        std::lock_guard lock(m_mutex);
        if (m_count++ < 5)
            m_first.append(what);
    }
    bool isEmpty() const
    {
        std::lock_guard lock(m_mutex);
        return m_count == 0;
    }
    QByteArray report() const
    {
        std::lock_guard lock(m_mutex);
        return QStringLiteral("%1 failure(s); first: %2")
                .arg(m_count)
                .arg(m_first.join(QStringLiteral(" | ")))
                .toUtf8();
    }

private:
    mutable std::mutex m_mutex;
    int m_count = 0;
    QStringList m_first;
};

//! Aborts the process, naming the test and its seed, when a test runs past its limit (a hang).
class Watchdog
{
public:
    ~Watchdog() { disarm(); }
    void arm(const char *test, quint32 seed, std::chrono::seconds limit)
    {
        disarm();
        m_armed = true;
        m_thread = std::thread([this, name = QByteArray(test), seed, limit] {
            std::unique_lock lock(m_mutex);
            if (!m_wake.wait_for(lock, limit, [this] { return !m_armed; })) {
                std::fprintf(stderr,
                             "tst_stress: %s still running after %llds: hung "
                             "(seed %u; rerun with QTACTORS_STRESS_SEED=%u)\n",
                             name.constData(), static_cast<long long>(limit.count()), seed, seed);
                std::fflush(stderr);
                std::abort();
            }
        });
    }
    void disarm()
    {
        {
            std::lock_guard lock(m_mutex);
            m_armed = false;
        }
        m_wake.notify_all();
        if (m_thread.joinable())
            m_thread.join();
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_armed = false;
    std::thread m_thread;
};

//! Polls `done` until it holds or the deadline passes; spins briefly first, then lets the
//! event loop run. For "eventually" rules (a destructor after the last handle is gone).
template <typename Pred>
bool eventually(Pred &&done, int timeoutMs = 30000)
{
    QDeadlineTimer deadline(timeoutMs);
    for (int spin = 0;; ++spin) {
        if (done())
            return true;
        if (deadline.hasExpired())
            return false;
        if (spin < 200)
            QThread::yieldCurrentThread();
        else
            QTest::qWait(1);
    }
}

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

//! For States that never got destroyed: they point into the test's stack, so the test cannot
//! go on (or return) safely.
void abortUnless(bool ok, const QByteArray &what)
{
    if (!ok)
        qFatal("tst_stress: %s", what.constData());
}

void joinAll(std::vector<std::thread> &threads)
{
    for (auto &t : threads)
        t.join();
    threads.clear();
}

//! Keeps the compiler from merging or reordering plain accesses around it, so that the
//! non-atomic "inside" counters really go up, are checked, and come down.
inline void compilerBarrier()
{
    std::atomic_signal_fence(std::memory_order_seq_cst);
}

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

//! A handler's own error, carrying the id of the message that threw it.
struct Boom : std::runtime_error
{
    explicit Boom(int id) : std::runtime_error("boom " + std::to_string(id)), id(id) { }
    int id;
};

//! "value <v>", "boom <id>", or the kind of library error that `get` threw.
template <typename F>
QString outcomeOf(F &&get)
{
    try {
        return QStringLiteral("value %1").arg(get());
    } catch (const Boom &b) {
        return QStringLiteral("boom %1").arg(b.id);
    } catch (...) {
        return errorKind(std::current_exception());
    }
}

// ---- S1 across many actors ------------------------------------------------------------------

constexpr int MaxSenders = 8;

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

class tst_Stress : public QObject
{
    Q_OBJECT

private:
    quint32 m_seed = 0;
    Watchdog m_watchdog;

    QByteArray withSeed(const QByteArray &what) const
    {
        return what + " (seed " + QByteArray::number(m_seed) + ")";
    }

    static void executorRows()
    {
        QTest::addColumn<bool>("dedicated");
        QTest::newRow("pool") << false;
        QTest::newRow("dedicated thread") << true;
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
        bool fixed = false;
        const uint seed = qEnvironmentVariable("QTACTORS_STRESS_SEED").toUInt(&fixed);
        m_seed = fixed ? seed : QRandomGenerator::global()->generate();
        m_watchdog.arm(QTest::currentTestFunction(), m_seed, std::chrono::seconds(120));
    }

    void cleanup()
    {
        m_watchdog.disarm();
        if (QTest::currentTestFailed())
            qWarning("tst_stress: %s failed with seed %u; rerun it with QTACTORS_STRESS_SEED=%u",
                     QTest::currentTestFunction(), m_seed, m_seed);
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
    void stopRacingWithSendersRunsEveryAcceptedMessageBeforeTheDestructor_data() { executorRows(); }
    void stopRacingWithSendersRunsEveryAcceptedMessageBeforeTheDestructor()
    {
        QFETCH(bool, dedicated);
        shutdownRace(Stop, dedicated);
    }

    // S6: the last handle dropped (by the test or a sender) while the others still send.
    void lastHandleDroppedWhileOthersSendRunsEveryMessageBeforeTheDestructor_data() { executorRows(); }
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
                const int got = std::move(seen).wait();
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
                        case 0: // the 64-byte class
                            castBytes.template operator()<8>();
                            break;
                        case 1: // 128
                            castBytes.template operator()<90>();
                            break;
                        case 2: // 256
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

QTEST_GUILESS_MAIN(tst_Stress)
#include "tst_stress.moc"
