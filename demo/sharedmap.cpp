#include "sharedmap.h"

#include "threadlabel.h"

#include <QPointer>

using namespace Qt::StringLiterals;

SharedMapFacade::SharedMapFacade(QObject *parent)
    : QObject(parent), m_map(Map{}, QtActors::Options{ .name = u"shared-map"_s })
{ }

QCoro::QmlTask SharedMapFacade::insert(const QString &key, const QString &value)
{
    return insertTask(key, value);
}

QCoro::QmlTask SharedMapFacade::get(const QString &key)
{
    return getTask(key);
}

// The handlers are built outside any co_await expression: GCC 12 miscompiles a capturing lambda
// written inside one (shared/PLATFORM-NOTES.md).
QCoro::Task<QVariantMap> SharedMapFacade::insertTask(QString key, QString value)
{
    auto call = m_map.call([key, value](Map &map) {
        const auto previous = map.constFind(key);
        QVariantMap answer{ { u"ok"_s, true },
                            { u"op"_s, u"insert"_s },
                            { u"key"_s, key },
                            { u"value"_s, value },
                            { u"previous"_s, previous == map.cend() ? QVariant() : *previous },
                            { u"thread"_s, currentThreadLabel() } };
        map.insert(key, value);
        answer.insert(u"size"_s, map.size());
        return answer;
    });
    return finish(std::move(call));
}

QCoro::Task<QVariantMap> SharedMapFacade::getTask(QString key)
{
    auto call = m_map.call([key](Map &map) {
        const auto found = map.constFind(key);
        return QVariantMap{ { u"ok"_s, true },
                            { u"op"_s, u"get"_s },
                            { u"key"_s, key },
                            { u"found"_s, found != map.cend() },
                            { u"value"_s, found == map.cend() ? QVariant() : *found },
                            { u"thread"_s, currentThreadLabel() } };
    });
    return finish(std::move(call));
}

QCoro::Task<QVariantMap> SharedMapFacade::finish(QtActors::Call<QVariantMap> call)
{
    QPointer<SharedMapFacade> self(this);
    QVariantMap answer;
    try {
        answer = co_await std::move(call);
    } catch (const std::exception &error) {
        answer = { { u"ok"_s, false }, { u"error"_s, QString::fromUtf8(error.what()) } };
    }
    if (self) {
        ++self->m_handled;
        Q_EMIT self->finished(answer);
    }
    co_return answer;
}
