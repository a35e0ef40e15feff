// Executor: the handle. The executors themselves are files of their own: poolexecutor.cpp,
// threadexecutor.cpp, dedicatedexecutor.cpp.

#include "executor_p.h"

#include <QtActors/executor.h>

namespace QtActors {

namespace detail {
Scheduler::~Scheduler() = default;
}

Executor::Executor(std::shared_ptr<detail::ExecutorPrivate> d) : d(std::move(d)) { }
Executor::~Executor() = default;

std::shared_ptr<detail::Scheduler> Executor::bind(const QString &actorName) const
{
    return d->bind(actorName.isEmpty() ? QStringLiteral("QtActors actor") : actorName);
}

} // namespace QtActors
