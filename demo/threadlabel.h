// currentThreadLabel(): a short, human-readable name of the calling thread, for the panels.
#pragma once

#include <QString>
#include <QThread>

inline QString currentThreadLabel()
{
    const QString name = QThread::currentThread()->objectName();
    const QString id = QString::number(quintptr(QThread::currentThreadId()) & 0xffffff, 16);
    return name.isEmpty() ? QStringLiteral("thread %1").arg(id)
                          : QStringLiteral("%1 (%2)").arg(name, id);
}
