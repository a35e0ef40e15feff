#include <QtActors/errors.h>

namespace QtActors {

Error::Error(const QString &message) : m_what(message.toUtf8()) { }

QString Error::message() const
{
    return QString::fromUtf8(m_what);
}

const char *Error::what() const noexcept
{
    return m_what.constData();
}

void Error::raise() const
{
    throw *this;
}

Error *Error::clone() const
{
    return new Error(*this);
}

#define QTACTORS_DEFINE_ERROR(Type)                                                                \
    void Type::raise() const                                                                       \
    {                                                                                              \
        throw *this;                                                                               \
    }                                                                                              \
    Type *Type::clone() const                                                                      \
    {                                                                                              \
        return new Type(*this);                                                                    \
    }

QTACTORS_DEFINE_ERROR(ActorStopped)
QTACTORS_DEFINE_ERROR(BrokenReply)
QTACTORS_DEFINE_ERROR(Deadlock)
QTACTORS_DEFINE_ERROR(Timeout)
QTACTORS_DEFINE_ERROR(MailboxFull)

#undef QTACTORS_DEFINE_ERROR

} // namespace QtActors
