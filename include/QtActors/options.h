// Options: how an actor is spawned (its name, executor, fairness budget and mailbox bound).
#pragma once

#include <QtActors/executor.h>

#include <QtCore/QString>

namespace QtActors {

//! What a bounded mailbox does with a message that finds it full (S23).
enum class Overflow {
    Reject,     //!< the new message is refused: a cast is dropped and logged, a call gets MailboxFull
    DropOldest, //!< the oldest waiting cast is dropped (logged) to make room; with none, as Reject
};

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
    //! At most this many messages wait that will run (queued, not started; S23); 0: unbounded,
    //! and cast()/call() then never refuse (S14). stop() is never refused; a timer's tick does
    //! not count (at most one per timer waits anyway).
    qsizetype mailboxCapacity = 0;
    //! What a message that finds the bounded mailbox full does.
    Overflow overflow = Overflow::Reject;
};

} // namespace QtActors
