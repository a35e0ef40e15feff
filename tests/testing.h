// Helpers shared by the QtActors test suites.
#pragma once

#include <QtActors/QtActors>

#include <QtCore/QCoreApplication>
#include <QtCore/QDeadlineTimer>
#include <QtCore/QHash>
#include <QtCore/QMutex>
#include <QtCore/QStringList>
#include <QtCore/QThread>
#include <QtTest/QTest>

#include <QCoroTask>

#include <atomic>
#include <cmath>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>

namespace testing {

//! Scales stress loops: QTACTORS_STRESS_SCALE (e.g. 0.25 under ThreadSanitizer), at least 1.
inline int scaled(int n)
{
    bool ok = false;
    const double scale = qEnvironmentVariable("QTACTORS_STRESS_SCALE").toDouble(&ok);
    return std::max(1, int(std::lround(n * (ok && scale > 0 ? scale : 1.0))));
}

//! Runs a coroutine to its end in a nested event loop; fails the test on the deadline.
//! (QCoro 0.8's waitFor hangs on a throwing task, so the outcome is caught inside.)
template <typename T>
struct Outcome
{
    bool finished = false;
    std::optional<T> value;
    std::exception_ptr error;
};
template <>
struct Outcome<void>
{
    bool finished = false;
    std::exception_ptr error;
};

template <typename T>
QCoro::Task<> capture(QCoro::Task<T> task, std::shared_ptr<Outcome<T>> out)
{
    try {
        if constexpr (std::is_void_v<T>)
            co_await std::move(task);
        else
            out->value.emplace(co_await std::move(task));
    } catch (...) {
        out->error = std::current_exception();
    }
    out->finished = true;
}

//! The outcome of `task`, run in a nested event loop. At the deadline the test fails, naming
//! the caller's line, and the outcome says finished == false (a caller that reads the value
//! anyway ends the test executable, after that message). A task that finishes later writes into
//! an outcome that is still alive.
template <typename T>
[[nodiscard]] Outcome<T> run(QCoro::Task<T> task, int timeoutMs = 20000,
                             std::source_location where = std::source_location::current())
{
    auto out = std::make_shared<Outcome<T>>();
    auto driver = capture(std::move(task), out);
    QDeadlineTimer deadline(timeoutMs);
    while (!out->finished && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    if (!out->finished) {
        QTest::qFail(qPrintable(QStringLiteral("the coroutine did not finish within %1 ms")
                                        .arg(timeoutMs)),
                     where.file_name(), int(where.line()));
    }
    return *out;
}

//! The name of the exception type in `e` among the library's, for QCOMPARE.
inline QString errorKind(const std::exception_ptr &e)
{
    if (!e)
        return QStringLiteral("none");
    try {
        std::rethrow_exception(e);
    } catch (const QtActors::ActorStopped &) {
        return QStringLiteral("ActorStopped");
    } catch (const QtActors::BrokenReply &) {
        return QStringLiteral("BrokenReply");
    } catch (const QtActors::Deadlock &) {
        return QStringLiteral("Deadlock");
    } catch (const QtActors::Timeout &) {
        return QStringLiteral("Timeout");
    } catch (const QtActors::MailboxFull &) {
        return QStringLiteral("MailboxFull");
    } catch (const QtActors::Error &) {
        return QStringLiteral("Error");
    } catch (const std::exception &ex) {
        return QString::fromUtf8(ex.what());
    } catch (...) {
        return QStringLiteral("unknown");
    }
}

//! Runs `f` and returns the kind of what it threw (see errorKind), "none" if nothing.
template <typename F>
QString thrownBy(F &&f)
{
    try {
        f();
    } catch (...) {
        return errorKind(std::current_exception());
    }
    return QStringLiteral("none");
}

//! Captures the messages logged on the "qtactors" category while alive.
class LogCapture
{
public:
    LogCapture()
    {
        const std::lock_guard lock(s_mutex);
        s_instance = this;
        m_previous = qInstallMessageHandler(&LogCapture::handler);
    }
    ~LogCapture()
    {
        const std::lock_guard lock(s_mutex);
        qInstallMessageHandler(m_previous);
        s_instance = nullptr;
    }
    QStringList messages() const
    {
        const std::lock_guard lock(s_mutex);
        return m_messages;
    }
    bool contains(const QString &part) const
    {
        for (const QString &m : messages())
            if (m.contains(part))
                return true;
        return false;
    }
    //! How many messages contain `part`.
    int count(const QString &part) const
    {
        int n = 0;
        for (const QString &m : messages())
            n += m.contains(part) ? 1 : 0;
        return n;
    }

private:
    static void handler(QtMsgType type, const QMessageLogContext &context, const QString &message)
    {
        // One lock for the capture and its end: other threads may log while a test ends.
        const std::lock_guard lock(s_mutex);
        if (s_instance && context.category && qstrcmp(context.category, "qtactors") == 0) {
            s_instance->m_messages.append(message);
            return;
        }
        if (s_instance && s_instance->m_previous)
            s_instance->m_previous(type, context, message);
    }
    // std:: rather than Qt mutexes: ThreadSanitizer sees their ordering (Qt is not instrumented).
    // Recursive: a previous handler may log again.
    static inline std::recursive_mutex s_mutex;
    static inline LogCapture *s_instance = nullptr;
    QtMessageHandler m_previous = nullptr;
    QStringList m_messages;
};

//! The seed's shared key/value map: a normal-looking API over an actor.
class SharedMap
{
public:
    explicit SharedMap(QtActors::Options options = {})
        : m_actor(QHash<QString, QString>{}, std::move(options))
    {
    }
    void insert(QString key, QString value) const
    {
        m_actor.cast([key = std::move(key), value = std::move(value)](QHash<QString, QString> &map) {
            map.insert(key, value);
        });
    }
    QtActors::Call<std::optional<QString>> get(QString key) const
    {
        return m_actor.call([key = std::move(key)](QHash<QString, QString> &map) {
            auto it = map.constFind(key);
            return it == map.cend() ? std::nullopt : std::optional<QString>(*it);
        });
    }
    QtActors::Call<qsizetype> size() const
    {
        return m_actor.call([](QHash<QString, QString> &map) { return map.size(); });
    }

private:
    QtActors::Actor<QHash<QString, QString>> m_actor;
};

//! The seed's ID generator.
class UniqueId
{
public:
    QtActors::Call<quint64> next() const
    {
        return m_actor.call([](quint64 &last) { return ++last; });
    }

private:
    QtActors::Actor<quint64> m_actor;
};

//! Where a test's actor runs, for data-driven rows over the executors.
enum Where { Pool, Dedicated, MainThread, OtherThread };

//! A worker thread with an event loop for Executor::thread() rows.
class EventThread
{
public:
    EventThread() { m_thread.start(); }
    ~EventThread()
    {
        m_thread.quit();
        m_thread.wait();
    }
    QThread *get() { return &m_thread; }

private:
    QThread m_thread;
};

//! Options for an actor named `name` on the executor `where` (OtherThread: on `worker`).
inline QtActors::Options onExecutor(int where, QThread *worker, const QString &name)
{
    using QtActors::Executor;
    switch (where) {
    case Dedicated:
        return { .name = name, .executor = Executor::dedicatedThread() };
    case MainThread:
        return { .name = name, .executor = Executor::thread(QThread::currentThread()) };
    case OtherThread:
        return { .name = name, .executor = Executor::thread(worker) };
    default:
        return { .name = name, .executor = Executor::pool() };
    }
}

} // namespace testing
