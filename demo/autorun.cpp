#include "autorun.h"

#include "demo.h"

#include <QCoroTimer>
#include <QElapsedTimer>
#include <QImage>
#include <QLocale>
#include <QQuickWindow>

#include <algorithm>
#include <chrono>
#include <functional>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;

namespace {

QString number(qint64 n)
{
    return QLocale(QLocale::English).toString(n);
}

//! Polls predicate on the GUI thread's event loop until it holds or timeout passes.
// predicate is a named object of the caller's: GCC 12 mishandles a lambda temporary written inside
// a co_await expression (shared/PLATFORM-NOTES.md).
QCoro::Task<bool> waitUntil(const std::function<bool()> &predicate,
                            std::chrono::milliseconds timeout)
{
    QElapsedTimer clock;
    clock.start();
    while (!predicate()) {
        if (std::chrono::milliseconds(clock.elapsed()) > timeout)
            co_return false;
        co_await QCoro::sleepFor(20ms);
    }
    co_return true;
}

//! Sleeps until fraction of the run has passed.
QCoro::Task<> until(const QElapsedTimer &clock, double seconds, double fraction)
{
    const auto at = std::chrono::milliseconds(qint64(seconds * fraction * 1000));
    const auto now = std::chrono::milliseconds(clock.elapsed());
    if (at > now)
        co_await QCoro::sleepFor(at - now);
}

} // namespace

bool isNotBlank(const QImage &image)
{
    if (image.isNull())
        return false;
    const QRgb first = image.pixel(0, 0);
    for (int y = 0; y < image.height(); ++y) {
        for (int x = 0; x < image.width(); ++x) {
            if (image.pixel(x, y) != first)
                return true;
        }
    }
    return false;
}

QCoro::Task<AutorunReport> autorun(Demo &demo, double seconds, const QString &screenshotPath)
{
    AutorunReport report;
    QElapsedTimer clock;
    clock.start();
    demo.probe.reset();

    // 1. Shared map: insert and read back through the same facade QML uses.
    const QStringList keys{ u"alpha"_s, u"beta"_s, u"gamma"_s, u"delta"_s };
    QString mapThread;
    report.mapOk = true;
    for (int i = 0; i < keys.size(); ++i) {
        const QString value = QString::number(i * i);
        const QVariantMap inserted = co_await demo.map.insertTask(keys[i], value);
        report.mapOk = report.mapOk && inserted.value(u"ok"_s).toBool();
    }
    for (int i = 0; i < keys.size(); ++i) {
        const QVariantMap got = co_await demo.map.getTask(keys[i]);
        report.mapOk = report.mapOk && got.value(u"found"_s).toBool()
                && got.value(u"value"_s).toString() == QString::number(i * i);
        mapThread = got.value(u"thread"_s).toString();
    }
    const QString noSuchKey = u"no such key"_s;
    const QVariantMap missing = co_await demo.map.getTask(noSuchKey);
    report.mapOk =
            report.mapOk && missing.value(u"ok"_s).toBool() && !missing.value(u"found"_s).toBool();

    // 2-4. Everything else runs at once. The fractal dives into the seahorse valley.
    constexpr double valleyX = -0.743643887;
    constexpr double valleyY = 0.131825904;
    demo.fractal.resetView();
    const int startAccounts = demo.swarm.accountCount();
    demo.swarm.start();
    demo.worker.start();

    co_await until(clock, seconds, 0.15);
    demo.fractal.setView(valleyX, valleyY, 8);
    co_await until(clock, seconds, 0.25);
    demo.swarm.addAccounts(10000);
    co_await until(clock, seconds, 0.35);
    demo.fractal.setView(valleyX, valleyY, 60);
    co_await until(clock, seconds, 0.5);
    const int peakAccounts = demo.swarm.accountCount();
    demo.swarm.removeAccounts(10000);
    co_await until(clock, seconds, 0.6);
    demo.fractal.setView(valleyX, valleyY, 600);
    co_await until(clock, seconds, 0.7);
    const double workerProgress = demo.worker.progress();
    demo.worker.cancel();
    const std::function<bool()> workerCanceled = [&demo] {
        return demo.worker.status() == u"canceled"_s;
    };
    const bool canceled = co_await waitUntil(workerCanceled, 5s);
    const int chunksAtCancel = demo.worker.chunksDone();
    co_await until(clock, seconds, 0.8);
    demo.swarm.audit();

    // The screenshot shows the panels live: the swarm still running, the last zoom complete.
    const std::function<bool()> fractalComplete = [&demo] { return demo.fractal.isComplete(); };
    const bool fractalDone = co_await waitUntil(fractalComplete, 30s);
    co_await until(clock, seconds, 0.92);
    // Grabbing and saving blocks the GUI thread itself: keep it out of the delay figure.
    const double worstBeforeShot = demo.probe.worstDelayMs();
    QString shot = u"not taken"_s;
    if (QQuickWindow *window = demo.window()) {
        const QImage image = window->grabWindow();
        report.screenshotOk = isNotBlank(image);
        if (!screenshotPath.isEmpty()) {
            report.screenshotOk = report.screenshotOk && image.save(screenshotPath);
            shot = u"%1 (%2x%3%4)"_s.arg(screenshotPath)
                           .arg(image.width())
                           .arg(image.height())
                           .arg(report.screenshotOk ? QString() : u", BLANK OR NOT SAVED"_s);
        } else {
            shot = report.screenshotOk ? u"grabbed, not blank"_s : u"BLANK"_s;
        }
    }

    demo.probe.reset();

    demo.swarm.stop(); // lets the money in flight land, then audits once more
    const std::function<bool()> swarmIdle = [&demo] { return !demo.swarm.isBusy(); };
    const auto flushed = demo.worker.flush();
    const std::function<bool()> workerFlushed = [&flushed] { return flushed.isFinished(); };
    const bool swarmSettled = co_await waitUntil(swarmIdle, 30s);
    co_await waitUntil(workerFlushed, 10s);
    report.workerOk = canceled && workerProgress > 0 && demo.worker.chunksDone() == chunksAtCancel;
    report.fractalOk = fractalDone && demo.fractal.renders() >= 4;
    report.swarmOk = swarmSettled && demo.swarm.audits() >= 2 && demo.swarm.invariantHeld()
            && demo.swarm.inFlight() == 0;

    const auto yesNo = [](bool b) { return b ? u"yes"_s : u"NO"_s; };
    const qint64 total = demo.swarm.messagesHandled() + demo.fractal.tilesRendered()
            + demo.map.messagesHandled() + demo.worker.chunksDone();
    QStringList lines;
    lines << u"QtActors demo — autorun for %1 s"_s.arg(double(clock.elapsed()) / 1000, 0, 'f', 1)
          << u"  shared map       %1 calls, values read back correctly: %2 (handled on %3)"_s.arg(
                     number(demo.map.messagesHandled()), yesNo(report.mapOk), mapThread)
          << u"  fractal          %1 tiles by %2 tile actors in %3 renders, all shown: %4"_s
                     .arg(number(demo.fractal.tilesRendered()), number(demo.fractal.tileCount()),
                          number(demo.fractal.renders()), yesNo(report.fractalOk))
          << u"  swarm            %1 messages between %2 → %3 → %4 accounts (actors)"_s.arg(
                     number(demo.swarm.messagesHandled()), number(startAccounts),
                     number(peakAccounts), number(demo.swarm.accountCount()))
          << u"                   %1 audits, total %2, swarm invariant held: %3"_s.arg(
                     number(demo.swarm.audits()), number(demo.swarm.lastAuditTotal()),
                     yesNo(report.swarmOk))
          << u"  dedicated worker %1 chunks on %2, canceled at %3%, stopped after cancel: %4"_s
                     .arg(number(chunksAtCancel), demo.worker.threadName())
                     .arg(demo.worker.progress() * 100, 0, 'f', 0)
                     .arg(yesNo(report.workerOk))
          << u"  messages handled %1 in total"_s.arg(number(total))
          << u"  GUI timer delay  worst %1 ms (timer every %2 ms)"_s
                     .arg(std::max(worstBeforeShot, demo.probe.worstDelayMs()), 0, 'f', 1)
                     .arg(GuiProbe::intervalMs)
          << u"  screenshot       %1"_s.arg(shot)
          << u"  result           %1"_s.arg(report.ok() ? u"OK"_s : u"FAILED"_s);
    report.text = lines.join(u'\n');
    co_return report;
}
