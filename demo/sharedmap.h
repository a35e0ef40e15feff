// SharedMapFacade: the seed's key/value store as an actor, offered to QML.
// Q_INVOKABLE methods return QCoro::QmlTask; QML reads the answer with .then(). QmlTask has no
// error callback, so every answer is a value: {ok, error, ...}. GUI thread only.
#pragma once

#include <QtActors/QtActors>

#include <QHash>
#include <QObject>
#include <QVariantMap>
#include <QtQml/qqmlregistration.h>

#include <QCoroQmlTask>
#include <QCoroTask>

class SharedMapFacade : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("Created by the demo in C++")
    Q_PROPERTY(qint64 messagesHandled READ messagesHandled NOTIFY finished)

public:
    explicit SharedMapFacade(QObject *parent = nullptr);

    //! Stores value under key. Answers {ok, op, key, value, previous, size, thread}
    //! or {ok: false, error}.
    Q_INVOKABLE QCoro::QmlTask insert(const QString &key, const QString &value);
    //! Looks key up. Answers {ok, op, key, found, value, thread} or {ok: false, error}.
    Q_INVOKABLE QCoro::QmlTask get(const QString &key);

    // The same, for C++ coroutines.
    QCoro::Task<QVariantMap> insertTask(QString key, QString value);
    QCoro::Task<QVariantMap> getTask(QString key);

    qint64 messagesHandled() const { return m_handled; }

Q_SIGNALS:
    //! Every answer, whoever asked: the panel's log shows them.
    void finished(const QVariantMap &result);

private:
    using Map = QHash<QString, QString>;
    QCoro::Task<QVariantMap> finish(QtActors::Call<QVariantMap> call);

    QtActors::Actor<Map> m_map;
    qint64 m_handled = 0;
};
