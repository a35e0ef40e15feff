#include "demo.h"

#include <QCoroQml>
#include <QQuickStyle>
#include <QQuickWindow>

using namespace Qt::StringLiterals;

Demo::Demo()
{
    static const bool registered = [] {
        QCoro::Qml::registerTypes();
        return true;
    }();
    Q_UNUSED(registered);
}

Demo::~Demo() = default;

bool Demo::load()
{
    QQuickStyle::setStyle(u"Basic"_s);
    engine.setInitialProperties({ { u"probe"_s, QVariant::fromValue(&probe) },
                                  { u"map"_s, QVariant::fromValue(&map) },
                                  { u"fractal"_s, QVariant::fromValue(&fractal) },
                                  { u"swarm"_s, QVariant::fromValue(&swarm) },
                                  { u"worker"_s, QVariant::fromValue(&worker) },
                                  { u"pipeline"_s, QVariant::fromValue(&pipeline) } });
    engine.load(QUrl(u"qrc:/QtActorsDemo/Main.qml"_s));
    return window() != nullptr;
}

QQuickWindow *Demo::window() const
{
    const auto roots = engine.rootObjects();
    return roots.isEmpty() ? nullptr : qobject_cast<QQuickWindow *>(roots.first());
}

QObject *Demo::findItem(const QString &objectName) const
{
    QQuickWindow *w = window();
    if (!w)
        return nullptr;
    if (auto *found = w->findChild<QObject *>(objectName))
        return found;
    return w->contentItem()->findChild<QObject *>(objectName);
}
