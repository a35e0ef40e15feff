#include "guiprobe.h"

#include <algorithm>

GuiProbe::GuiProbe(QObject *parent) : QObject(parent)
{
    m_timer.setTimerType(Qt::PreciseTimer);
    m_timer.setInterval(intervalMs);
    connect(&m_timer, &QTimer::timeout, this, &GuiProbe::tick);
    m_clock.start();
    m_lastNs = m_windowStartNs = m_clock.nsecsElapsed();
    m_timer.start();
}

void GuiProbe::reset()
{
    m_worst = m_windowWorst = m_current = 0;
    m_lastNs = m_windowStartNs = m_clock.nsecsElapsed();
    Q_EMIT changed();
}

void GuiProbe::tick()
{
    const qint64 now = m_clock.nsecsElapsed();
    const double late = std::max(0.0, double(now - m_lastNs) / 1e6 - intervalMs);
    m_lastNs = now;
    m_windowWorst = std::max(m_windowWorst, late);
    m_worst = std::max(m_worst, late);
    if (now - m_windowStartNs >= 250'000'000) {
        m_current = m_windowWorst;
        m_windowWorst = 0;
        m_windowStartNs = now;
        Q_EMIT changed();
    }
}
