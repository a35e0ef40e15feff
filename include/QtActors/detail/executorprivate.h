// ExecutorPrivate: what an Executor handle shares. Each executor is a file of its own under src/
// (poolexecutor.cpp, threadexecutor.cpp, dedicatedexecutor.cpp) that implements this interface
// and the Executor factory function that makes it; a new executor is a new file. Executors from
// outside the library (test doubles) go through Executor::fromPrivate(). Internal API: it may
// change in any release.
// Thread contract: bind() may be called from any thread (S16).
#pragma once

#include <QtActors/detail/scheduler.h>

#include <QtCore/QString>

#include <memory>

namespace QtActors::detail {

class QTACTORS_EXPORT ExecutorPrivate
{
public:
    virtual ~ExecutorPrivate();
    //! The scheduler for one new actor named `actorName` (shared, or made for it alone).
    virtual std::shared_ptr<Scheduler> bind(const QString &actorName) = 0;
};

} // namespace QtActors::detail
