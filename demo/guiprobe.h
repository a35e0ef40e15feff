// GuiProbe: measures how late a GUI-thread timer fires, so "actors never block the UI" is visible.
// Lives in and is used only from the GUI thread.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <QtQml/qqmlregistration.h>

class GuiProbe : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("Created by the demo in C++")
    Q_PROPERTY(double currentDelayMs READ currentDelayMs NOTIFY changed)
    Q_PROPERTY(double worstDelayMs READ worstDelayMs NOTIFY changed)

public:
    static constexpr int intervalMs = 10;

    explicit GuiProbe(QObject *parent = nullptr);

    //! The worst lateness seen during the last quarter of a second.
    double currentDelayMs() const { return m_current; }
    //! The worst lateness since start or the last reset().
    double worstDelayMs() const { return m_worst; }
    //! Forgets the worst delay (e.g. after start-up, which is not the actors' doing).
    Q_INVOKABLE void reset();

Q_SIGNALS:
    void changed();

private:
    void tick();

    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_lastNs = 0;
    qint64 m_windowStartNs = 0;
    double m_windowWorst = 0;
    double m_current = 0;
    double m_worst = 0;
};
