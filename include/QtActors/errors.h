// The exception types QtActors reports. They derive from QException so that QFuture carries
// them across threads unchanged (S8, S12). Each what() names the actor and the reason.
#pragma once

#include <QtActors/qtactors_export.h>

#include <QtCore/QByteArray>
#include <QtCore/QException>
#include <QtCore/QString>

namespace QtActors {

//! Base of every error raised by QtActors. what() says which actor and why, in UTF-8.
class QTACTORS_EXPORT Error : public QException
{
public:
    explicit Error(const QString &message);
    //! The message as a QString.
    QString message() const;
    const char *what() const noexcept override;
    void raise() const override;
    Error *clone() const override;

private:
    QByteArray m_what;
};

//! The actor was stopped or destroyed before it handled the message (S9), or the handle is null.
class QTACTORS_EXPORT ActorStopped : public Error
{
public:
    using Error::Error;
    void raise() const override;
    ActorStopped *clone() const override;
};

//! A Reply<R> was destroyed without answering its call (S13).
class QTACTORS_EXPORT BrokenReply : public Error
{
public:
    using Error::Error;
    void raise() const override;
    BrokenReply *clone() const override;
};

//! Call<T>::wait() was called from a context the answer needs, so it could never finish (S11).
class QTACTORS_EXPORT Deadlock : public Error
{
public:
    using Error::Error;
    void raise() const override;
    Deadlock *clone() const override;
};

//! The deadline of a Call (Call::timeout(), Call::deadline()) passed before its answer (S17).
class QTACTORS_EXPORT Timeout : public Error
{
public:
    using Error::Error;
    void raise() const override;
    Timeout *clone() const override;
};

//! A call refused by a full bounded mailbox (S23, Options::mailboxCapacity).
class QTACTORS_EXPORT MailboxFull : public Error
{
public:
    using Error::Error;
    void raise() const override;
    MailboxFull *clone() const override;
};

} // namespace QtActors
