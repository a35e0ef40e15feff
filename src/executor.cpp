// Executor: the handle. The executors themselves are files of their own: poolexecutor.cpp,
// threadexecutor.cpp, dedicatedexecutor.cpp.

#include <QtActors/detail/executorprivate.h>

#include <QtActors/executor.h>

namespace QtActors {

namespace detail {
Scheduler::~Scheduler() = default;
ExecutorPrivate::~ExecutorPrivate() = default;
}

Executor::Executor(std::shared_ptr<detail::ExecutorPrivate> d) : d(std::move(d)) { }

Executor Executor::fromPrivate(std::shared_ptr<detail::ExecutorPrivate> d)
{
    return Executor(std::move(d));
}
Executor::~Executor() = default;

std::shared_ptr<detail::Scheduler> Executor::bind(const QString &actorName) const
{
    return d->bind(actorName.isEmpty() ? QStringLiteral("QtActors actor") : actorName);
}

} // namespace QtActors
