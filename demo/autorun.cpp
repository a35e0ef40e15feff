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

// How long one step may take before the autorun gives up on it. Generous: the sanitizer builds
// run the autorun too, on a machine that may be busy with other builds.
constexpr auto stepDeadline = 120s;

QString number(qint64 n)
{
    return QLocale(QLocale::English).toString(n);
}

//! Polls predicate on the GUI thread's event loop until it holds or the deadline passes.
// predicate is a named object of the caller's: GCC 12 mishandles a lambda temporary written inside
// a co_await expression (shared/PLATFORM-NOTES.md).
QCoro::Task<bool> waitUntil(const std::function<bool()> &predicate,
                            std::chrono::milliseconds deadline = stepDeadline)
{
    QElapsedTimer clock;
    clock.start();
    while (!predicate()) {
        if (std::chrono::milliseconds(clock.elapsed()) > deadline)
            co_return false;
        co_await QCoro::sleepFor(20ms);
    }
    co_return true;
}

//! The steps' outcomes, in order; a failed step names the condition that did not hold in time.
class Steps
{
public:
    bool check(bool ok, const QString &what)
    {
        if (!ok)
            m_failures << what;
        return ok;
    }
    QStringList failures() const { return m_failures; }

private:
    QStringList m_failures;
};

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
    Steps steps;
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
    steps.check(report.mapOk, u"the shared map read back what was inserted"_s);

    // 2-4. Everything else runs at once. Each step waits for what it did to show, never for a
    // share of the clock: how fast each part runs depends on the machine and what else it runs.
    //
    // The worker is canceled at a progress point, from its own progress signal: the facade sends
    // the next chunk only after the previous answer, so the cancel lands between two chunks
    // whatever the machine's speed.
    const int cancelAtChunk = int(demo.worker.chunkCountFor(WorkerFacade::defaultLimit)
                                  * cancelAtProgress);
    int chunksAtCancel = -1;
    double progressAtCancel = 0;
    const QMetaObject::Connection canceler = QObject::connect(
            &demo.worker, &WorkerFacade::progressChanged, &demo.worker, [&] {
                if (chunksAtCancel < 0 && demo.worker.chunksDone() >= cancelAtChunk) {
                    chunksAtCancel = demo.worker.chunksDone();
                    progressAtCancel = demo.worker.progress();
                    demo.worker.cancel();
                }
            });

    constexpr double valleyX = -0.743643887; // the fractal dives into the seahorse valley
    constexpr double valleyY = 0.131825904;
    const std::function<bool()> fractalComplete = [&demo] { return demo.fractal.isComplete(); };
    demo.fractal.resetView();
    const int startAccounts = demo.swarm.accountCount();
    demo.swarm.start();
    demo.worker.start();
    demo.pipeline.start(); // runs until after the screenshot, to show its backpressure live
    const std::function<bool()> swarmTrafficFlows = [&demo] {
        return demo.swarm.messagesHandled() > 10000;
    };
    steps.check(co_await waitUntil(swarmTrafficFlows), u"the swarm's traffic flows"_s);

    bool fractalDone = steps.check(co_await waitUntil(fractalComplete), u"first render"_s);
    demo.fractal.setView(valleyX, valleyY, 8);
    fractalDone = steps.check(co_await waitUntil(fractalComplete), u"render at zoom 8"_s)
            && fractalDone;

    // A drag: 40 pans in a burst, as fast as mouse moves come. Each sends every tile actor a
    // castLatest; a tile's render still waiting when the next comes is superseded, so far fewer
    // than 40 renders per tile run (each takes far longer than sending the next pan does).
    co_await demo.fractal.flush();
    const qint64 dragSentBefore = demo.fractal.tileJobsSent();
    const qint64 dragRunBefore = demo.fractal.tileJobsRun();
    for (int i = 0; i < 40; ++i)
        demo.fractal.pan(0.002, 0.001);
    fractalDone = steps.check(co_await waitUntil(fractalComplete), u"render after a drag"_s)
            && fractalDone;
    co_await demo.fractal.flush();
    const qint64 dragSent = demo.fractal.tileJobsSent() - dragSentBefore;
    const qint64 dragRun = demo.fractal.tileJobsRun() - dragRunBefore;
    const bool dragCoalesced = steps.check(dragRun < dragSent && dragRun >= demo.fractal.tileCount(),
                                           u"castLatest skipped stale renders of the drag"_s);

    demo.swarm.addAccounts(10000);
    const std::function<bool()> accountsAdded = [&demo, startAccounts] {
        return demo.swarm.accountCount() == startAccounts + 10000;
    };
    steps.check(co_await waitUntil(accountsAdded), u"10,000 accounts opened"_s);
    const int peakAccounts = demo.swarm.accountCount();

    demo.fractal.setView(valleyX, valleyY, 60);
    fractalDone = steps.check(co_await waitUntil(fractalComplete), u"render at zoom 60"_s)
            && fractalDone;

    demo.swarm.removeAccounts(10000);
    const std::function<bool()> accountsRemoved = [&demo, startAccounts] {
        return demo.swarm.accountCount() == startAccounts;
    };
    steps.check(co_await waitUntil(accountsRemoved), u"10,000 accounts closed"_s);

    demo.fractal.setView(valleyX, valleyY, 600);
    const std::function<bool()> workerCanceled = [&demo] {
        return demo.worker.status() == u"canceled"_s;
    };
    const bool canceled = steps.check(co_await waitUntil(workerCanceled),
                                      u"the worker canceled at %1 of %2 chunks"_s.arg(
                                              cancelAtChunk).arg(demo.worker.chunkCount()));
    QObject::disconnect(canceler);
    demo.swarm.audit();
    fractalDone = steps.check(co_await waitUntil(fractalComplete), u"render at zoom 600"_s)
            && fractalDone;

    // The producer fills the writer's mailbox at once, then goes at the writer's pace.
    constexpr qint64 enoughRecords = 4 * PipelineFacade::mailboxCapacity;
    const std::function<bool()> pipelineWaited = [&demo] {
        return demo.pipeline.produced() >= enoughRecords && demo.pipeline.roomWaits() > 0;
    };
    const bool pipelineFlowed = steps.check(co_await waitUntil(pipelineWaited),
                                            u"the producer waited for room in the writer's mailbox"_s);

    // The screenshot shows the panels live, the swarm still running, after at least `seconds`
    // (this only sets how long the demo is on show; no check depends on it).
    const auto shownFor = std::chrono::milliseconds(qint64(seconds * 1000));
    if (std::chrono::milliseconds(clock.elapsed()) < shownFor)
        co_await QCoro::sleepFor(shownFor - std::chrono::milliseconds(clock.elapsed()));
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
    steps.check(report.screenshotOk, u"the screenshot is not blank (and saved)"_s);

    demo.probe.reset();

    demo.pipeline.stop();
    const std::function<bool()> pipelineDrained = [&demo] {
        return !demo.pipeline.isProducerWaiting()
                && demo.pipeline.written() == demo.pipeline.produced();
    };
    const bool pipelineDrainedInTime =
            steps.check(co_await waitUntil(pipelineDrained), u"the writer wrote every record"_s);
    const bool pipelineBounded = steps.check(
            demo.pipeline.maxOutstanding() <= PipelineFacade::mailboxCapacity + 1,
            u"at most capacity + 1 records were accepted and not written"_s);
    report.pipelineOk = pipelineFlowed && pipelineDrainedInTime && pipelineBounded;

    demo.swarm.stop(); // lets the money in flight land, then audits once more
    const std::function<bool()> swarmIdle = [&demo] { return !demo.swarm.isBusy(); };
    const auto flushed = demo.worker.flush();
    const std::function<bool()> workerFlushed = [&flushed] { return flushed.isFinished(); };
    const bool swarmSettled = steps.check(co_await waitUntil(swarmIdle), u"the swarm settled"_s);
    const bool workerFlushedInTime =
            steps.check(co_await waitUntil(workerFlushed), u"the worker's queue ran"_s);
    const bool cancelInRange = steps.check(
            progressAtCancel >= 0.3 && progressAtCancel <= 0.6,
            u"the worker was canceled between 30% and 60%"_s);
    const bool stoppedAfterCancel = steps.check(demo.worker.chunksDone() == chunksAtCancel,
                                                u"no chunk ran after the cancel"_s);
    report.workerOk = canceled && workerFlushedInTime && cancelInRange && stoppedAfterCancel;
    report.fractalOk = steps.check(fractalDone && dragCoalesced && demo.fractal.renders() >= 44,
                                   u"every render complete"_s);
    report.swarmOk = steps.check(swarmSettled && demo.swarm.audits() >= 2
                                         && demo.swarm.invariantHeld()
                                         && demo.swarm.inFlight() == 0,
                                 u"two audits found the swarm's total intact"_s);

    const auto yesNo = [](bool b) { return b ? u"yes"_s : u"NO"_s; };
    const qint64 total = demo.swarm.messagesHandled() + demo.fractal.tileJobsRun()
            + demo.map.messagesHandled() + demo.worker.chunksDone() + demo.pipeline.written();
    QStringList lines;
    lines << u"QtActors demo — autorun for %1 s"_s.arg(double(clock.elapsed()) / 1000, 0, 'f', 1)
          << u"  shared map       %1 calls, values read back correctly: %2 (handled on %3)"_s.arg(
                     number(demo.map.messagesHandled()), yesNo(report.mapOk), mapThread)
          << u"  fractal          %1 tiles by %2 tile actors in %3 renders, all shown: %4"_s
                     .arg(number(demo.fractal.tilesRendered()), number(demo.fractal.tileCount()),
                          number(demo.fractal.renders()), yesNo(report.fractalOk))
          << u"  fractal drag     40 pans: %1 of %2 tile renders ran, castLatest skipped %3: %4"_s
                     .arg(number(dragRun), number(dragSent), number(dragSent - dragRun),
                          yesNo(dragCoalesced))
          << u"  swarm            %1 messages between %2 → %3 → %4 accounts (actors)"_s.arg(
                     number(demo.swarm.messagesHandled()), number(startAccounts),
                     number(peakAccounts), number(demo.swarm.accountCount()))
          << u"                   %1 audits, total %2, swarm invariant held: %3"_s.arg(
                     number(demo.swarm.audits()), number(demo.swarm.lastAuditTotal()),
                     yesNo(report.swarmOk))
          << u"  dedicated worker %1 of %2 chunks on %3, canceled at %4%, stopped after cancel: %5"_s
                     .arg(number(std::max(chunksAtCancel, 0)), number(demo.worker.chunkCount()),
                          demo.worker.threadName())
                     .arg(progressAtCancel * 100, 0, 'f', 0)
                     .arg(yesNo(report.workerOk))
          << u"  backpressure     %1 records through a mailbox of %2, producer waited for room %3 times, at most %4 outstanding: %5"_s
                     .arg(number(demo.pipeline.produced()), number(PipelineFacade::mailboxCapacity),
                          number(demo.pipeline.roomWaits()),
                          number(demo.pipeline.maxOutstanding()), yesNo(report.pipelineOk))
          << u"  messages handled %1 in total"_s.arg(number(total))
          << u"  GUI timer delay  worst %1 ms (timer every %2 ms)"_s
                     .arg(std::max(worstBeforeShot, demo.probe.worstDelayMs()), 0, 'f', 1)
                     .arg(GuiProbe::intervalMs)
          << u"  screenshot       %1"_s.arg(shot);
    for (const QString &failure : steps.failures())
        lines << u"  FAILED STEP      %1"_s.arg(failure);
    lines << u"  result           %1"_s.arg(report.ok() ? u"OK"_s : u"FAILED"_s);
    report.text = lines.join(u'\n');
    co_return report;
}
