// The harness the tst_stress_* suites share: failures collected on worker threads, the hang
// watchdog, waits with a deadline, and the seed each test function draws.
//
// Loops are sized with testing::scaled() (QTACTORS_STRESS_SCALE=0.25 under ThreadSanitizer). Every
// test function draws a fresh seed for its random choices (targets, message kinds, when to stop or
// drop); a failing one prints it, and QTACTORS_STRESS_SEED=<seed> replays those choices (the thread
// interleaving itself differs from run to run). A watchdog aborts with the seed if a test hangs,
// since a hang is how several of these rules would fail.
#pragma once

#include "testing.h"

#include <QtCore/QByteArray>
#include <QtCore/QCoreApplication>
#include <QtCore/QDeadlineTimer>
#include <QtCore/QRandomGenerator>
#include <QtCore/QString>
#include <QtCore/QStringList>
#include <QtCore/QThread>
#include <QtTest/QTest>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace stress {

//! A test function still running after this is taken to hang, and the watchdog aborts, naming it
//! and its seed. Longer than any deadline a test waits for (60 s), so that a step that never
//! happens fails with its own message first; each tst_stress_* file's ctest-timeout is this plus
//! room for the file's run time under the sanitizers, so that a hang ends with the watchdog's
//! message rather than with CTest killing the process.
inline constexpr std::chrono::seconds HangLimit{120};

//! The most senders a test's per-sender tables (std::array) have room for.
inline constexpr int MaxSenders = 8;

//! The rows of a test function that runs once on the pool and once on a dedicated thread: one
//! bool column, `dedicated`.
inline void addExecutorRows()
{
    QTest::addColumn<bool>("dedicated");
    QTest::newRow("pool") << false;
    QTest::newRow("dedicated thread") << true;
}

//! The seed of the test function about to run: QTACTORS_STRESS_SEED if set, else a fresh one.
inline quint32 drawSeed()
{
    bool fixed = false;
    const uint seed = qEnvironmentVariable("QTACTORS_STRESS_SEED").toUInt(&fixed);
    return fixed ? seed : QRandomGenerator::global()->generate();
}

//! For cleanup(): names the seed of a test function that failed, so that it can be replayed.
inline void warnIfFailed(quint32 seed)
{
    if (QTest::currentTestFailed())
        qWarning("%s: %s failed with seed %u; rerun it with QTACTORS_STRESS_SEED=%u",
                 qPrintable(QCoreApplication::applicationName()), QTest::currentTestFunction(),
                 seed, seed);
}

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
        m_thread = std::thread([this, app = QCoreApplication::applicationName().toUtf8(),
                                name = QByteArray(test), seed, limit] {
            std::unique_lock lock(m_mutex);
            if (!m_wake.wait_for(lock, limit, [this] { return !m_armed; })) {
                std::fprintf(stderr,
                             "%s: %s still running after %llds: hung "
                             "(seed %u; rerun with QTACTORS_STRESS_SEED=%u)\n",
                             app.constData(), name.constData(),
                             static_cast<long long>(limit.count()), seed, seed);
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

//! For States that never got destroyed: they point into the test's stack, so the test cannot
//! go on (or return) safely.
inline void abortUnless(bool ok, const QByteArray &what)
{
    if (!ok)
        qFatal("%s: %s", qPrintable(QCoreApplication::applicationName()), what.constData());
}

inline void joinAll(std::vector<std::thread> &threads)
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
        return testing::errorKind(std::current_exception());
    }
}

} // namespace stress
