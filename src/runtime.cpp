// Library-wide threads: the default pool behind Executor::pool() and the reaper. Created on first
// use and never destroyed, so threads still running at process exit never touch a destroyed
// global (S15).

#include "runtime_p.h"
#include "tuning_p.h"

#include <QtCore/QThread>
#include <QtCore/QThreadPool>

namespace QtActors::detail {

QThreadPool *defaultPool()
{
    static QThreadPool *pool = [] {
        auto *p = new QThreadPool; // intentionally immortal
        p->setObjectName(QStringLiteral("QtActors pool"));
        p->setExpiryTimeout(-1); // keep workers: thread start-up dominates wake-up latency
        return p;
    }();
    return pool;
}

QThreadPool *reaperPool()
{
    static QThreadPool *pool = [] {
        auto *p = new QThreadPool; // intentionally immortal
        p->setObjectName(QStringLiteral("QtActors reaper"));
        p->setMaxThreadCount(1);
        return p;
    }();
    return pool;
}

QThreadPool *continuationPool()
{
    static QThreadPool *pool = [] {
        auto *p = new QThreadPool; // intentionally immortal
        p->setObjectName(QStringLiteral("QtActors continuations"));
        p->setMaxThreadCount(tuning::ContinuationThreads);
        return p; // (idle workers end after QThreadPool's expiry timeout)
    }();
    return pool;
}

bool spinningPays() noexcept
{
    static const bool pays = QThread::idealThreadCount() > 1;
    return pays;
}

} // namespace QtActors::detail
