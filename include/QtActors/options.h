// Options: how an actor is spawned (its name, executor and fairness budget).
#pragma once

#include <QtActors/executor.h>

#include <QtCore/QString>

namespace QtActors {

//! How an actor is spawned. An aggregate: Options{.name = u"cache"_s, .executor = …} works.
struct Options
{
    //! Shown in log lines, error messages and (for dedicatedThread()) the QThread's objectName.
    QString name{}; // (the initializer keeps GCC's -Wmissing-field-initializers quiet)
    //! Where the handlers run.
    Executor executor = Executor::pool();
    //! At most this many messages per turn before the actor yields its thread (S5);
    //! 0 means the executor's default (64 on shared executors, 1024 on a dedicated thread).
    int throughput = 0;
};

} // namespace QtActors
