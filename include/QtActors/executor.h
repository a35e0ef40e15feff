// Executor: where an actor's handlers run. A cheap, copyable handle; copies share one executor.
// Thread contract: every member is thread-safe; any copy may be used from any thread (S16).
#pragma once

#include <QtActors/qtactors_export.h>

#include <QtCore/QString>

#include <memory>

QT_BEGIN_NAMESPACE
class QThread;
class QThreadPool;
QT_END_NAMESPACE

namespace QtActors {

namespace detail {
class ExecutorPrivate;
class Scheduler;
}

class QTACTORS_EXPORT Executor
{
public:
    //! The shared default: a QThreadPool owned by the library, one thread per core.
    //! Thousands of actors share it; each handles at most Options::throughput messages per turn.
    //! Its threads run below normal priority (QThread::LowPriority; on Linux, 5 nice levels below
    //! the main thread), so the GUI thread and the application's own threads come first when
    //! cores are short.
    static Executor pool();
    //! A pool the application owns. It must outlive every actor spawned with this executor.
    static Executor pool(QThreadPool *pool);
    //! Each actor spawned with this executor gets its own QThread running an event loop, named
    //! after Options::name. The thread ends when the actor is stopped or its last handle is gone.
    static Executor dedicatedThread();
    //! An existing thread that runs (or will run) a Qt event loop, such as the GUI thread.
    //! Handlers run there between other events. A null thread means the calling thread.
    static Executor thread(QThread *thread);

    Executor(const Executor &) = default;
    Executor(Executor &&) noexcept = default;
    Executor &operator=(const Executor &) = default;
    Executor &operator=(Executor &&) noexcept = default;
    ~Executor();

    //! True when both handles name the same executor.
    friend bool operator==(const Executor &a, const Executor &b) { return a.d == b.d; }

    //! \internal An executor made outside the library (a test double, S19/S30).
    static Executor fromPrivate(std::shared_ptr<detail::ExecutorPrivate> d);
    //! \internal binds one actor to this executor.
    std::shared_ptr<detail::Scheduler> bind(const QString &actorName) const;

private:
    explicit Executor(std::shared_ptr<detail::ExecutorPrivate> d);
    std::shared_ptr<detail::ExecutorPrivate> d;
};

} // namespace QtActors
