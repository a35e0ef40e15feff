// The demo, loaded offscreen as the application loads it, driven panel by panel.
#include "autorun.h"
#include "demo.h"

#include <QGuiApplication>
#include <QJSValue>
#include <QQmlExtensionPlugin>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTest>

#include <memory>

Q_IMPORT_QML_PLUGIN(QtActorsDemoPlugin)

using namespace Qt::StringLiterals;

namespace {

constexpr int slow = 60000; // generous: the sanitizer builds run this too

QVariantMap toMap(const QVariant &value)
{
    if (value.metaType() == QMetaType::fromType<QJSValue>())
        return value.value<QJSValue>().toVariant().toMap();
    return value.toMap();
}

QCoro::Task<> runAutorun(Demo *demo, double seconds, AutorunReport *report, bool *done)
{
    const QString noScreenshot;
    *report = co_await autorun(*demo, seconds, noScreenshot);
    *done = true;
}

} // namespace

class tst_Demo : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void theWindowShowsFivePanelsAndTheDelayStrip();
    void aValueInsertedFromQmlIsReadBackFromQml();
    void aMissingKeyIsAnsweredAsNotFound();
    void everyTileIsRenderedByItsActor();
    void zoomingRendersEveryTileAgain();
    void doubleClickingTheFractalZoomsInAndDraggingPans();
    void aBurstOfPansRunsOnlyTheNewestRenderOfEachTile();
    void theProducerGoesAtTheWritersPaceAndTheMailboxStaysBounded();
    void theSwarmConservesItsTotalWhileActorsComeAndGo();
    void anAuditNoticesMoneyFromNowhere();
    void theWorkerCountsPrimesOnItsOwnThread();
    void cancelStopsTheWorkersJob();
    void theGrabbedWindowIsNotBlankInAnyPanel();
    void autorunDrivesEveryPanelAndReportsSuccess();

private:
    void callMapPanel(QVariantMap *answer, const char *function, const QString &key,
                      const QString &value = {});

    std::unique_ptr<Demo> uut;
};

void tst_Demo::initTestCase()
{
    uut = std::make_unique<Demo>();
    QVERIFY(uut->load());
    QVERIFY(QTest::qWaitForWindowExposed(uut->window()));
}

void tst_Demo::cleanupTestCase()
{
    uut->swarm.stop();
    QTRY_VERIFY_WITH_TIMEOUT(!uut->swarm.isBusy(), slow);
    uut->worker.cancel();
    QTRY_VERIFY_WITH_TIMEOUT(!uut->worker.isRunning(), slow);
    QTRY_VERIFY_WITH_TIMEOUT(uut->fractal.isComplete(), slow);
    uut.reset();
}

void tst_Demo::theWindowShowsFivePanelsAndTheDelayStrip()
{
    for (const auto &name : { u"mapPanel"_s, u"fractalPanel"_s, u"swarmPanel"_s, u"workerPanel"_s,
                              u"pipelinePanel"_s, u"fractalView"_s, u"mailboxFill"_s,
                              u"delayLabel"_s })
        QVERIFY2(uut->findItem(name), qPrintable(name));
    QCOMPARE(uut->window()->width(), 1280);
}

void tst_Demo::callMapPanel(QVariantMap *answer, const char *function, const QString &key,
                            const QString &value)
{
    QObject *panel = uut->findItem(u"mapPanel"_s);
    QVERIFY(panel);
    panel->setProperty("lastResult", QVariant());
    const bool invoked = value.isNull()
            ? QMetaObject::invokeMethod(panel, function, Q_ARG(QVariant, key))
            : QMetaObject::invokeMethod(panel, function, Q_ARG(QVariant, key),
                                        Q_ARG(QVariant, value));
    QVERIFY(invoked);
    // The answer arrives through QmlTask.then() in QML.
    QTRY_VERIFY_WITH_TIMEOUT(!toMap(panel->property("lastResult")).isEmpty(), slow);
    *answer = toMap(panel->property("lastResult"));
}

void tst_Demo::aValueInsertedFromQmlIsReadBackFromQml()
{
    QSignalSpy answers(&uut->map, &SharedMapFacade::finished);

    QVariantMap inserted;
    callMapPanel(&inserted, "insert", u"answer"_s, u"42"_s);
    QCOMPARE(inserted.value(u"ok"_s).toBool(), true);
    QCOMPARE(inserted.value(u"op"_s).toString(), u"insert"_s);
    QVERIFY(!inserted.value(u"thread"_s).toString().isEmpty());

    QVariantMap replaced;
    callMapPanel(&replaced, "insert", u"answer"_s, u"43"_s);
    QCOMPARE(replaced.value(u"previous"_s).toString(), u"42"_s);

    QVariantMap got;
    callMapPanel(&got, "get", u"answer"_s);
    QCOMPARE(got.value(u"ok"_s).toBool(), true);
    QCOMPARE(got.value(u"found"_s).toBool(), true);
    QCOMPARE(got.value(u"value"_s).toString(), u"43"_s);
    QCOMPARE(answers.count(), 3); // the panel's log saw every answer
}

void tst_Demo::aMissingKeyIsAnsweredAsNotFound()
{
    QVariantMap got;
    callMapPanel(&got, "get", u"no such key"_s);
    QCOMPARE(got.value(u"ok"_s).toBool(), true);
    QCOMPARE(got.value(u"found"_s).toBool(), false);
}

void tst_Demo::everyTileIsRenderedByItsActor()
{
    auto &fractal = uut->fractal;
    fractal.render();
    QTRY_VERIFY_WITH_TIMEOUT(fractal.isComplete(), slow);
    QCOMPARE(fractal.tilesDone(), fractal.tileCount());
    for (int i = 0; i < fractal.tileCount(); ++i) {
        QVERIFY(fractal.isTileCurrent(i));
        QCOMPARE(fractal.tile(i).size(), QSize(fractal.tileSize(), fractal.tileSize()));
    }
    QVERIFY(isNotBlank(fractal.tile(0)) || isNotBlank(fractal.tile(fractal.tileCount() / 2)));
}

void tst_Demo::zoomingRendersEveryTileAgain()
{
    auto &fractal = uut->fractal;
    QTRY_VERIFY_WITH_TIMEOUT(fractal.isComplete(), slow);
    const QImage before = fractal.tile(fractal.tileCount() / 2);
    const qint64 renderedBefore = fractal.tilesRendered();
    const double zoomBefore = fractal.zoom();

    fractal.zoomAt(0.455, 0.454, 2);
    fractal.zoomAt(0.5, 0.5, 2); // supersedes the first before it finished
    QVERIFY(!fractal.isComplete());
    QTRY_VERIFY_WITH_TIMEOUT(fractal.isComplete(), slow);

    QCOMPARE(fractal.zoom(), zoomBefore * 4);
    for (int i = 0; i < fractal.tileCount(); ++i)
        QVERIFY(fractal.isTileCurrent(i));
    QVERIFY(fractal.tilesRendered() >= renderedBefore + fractal.tileCount());
    QVERIFY(fractal.tile(fractal.tileCount() / 2) != before);
}

void tst_Demo::doubleClickingTheFractalZoomsInAndDraggingPans()
{
    auto &fractal = uut->fractal;
    QTRY_VERIFY_WITH_TIMEOUT(fractal.isComplete(), slow);
    auto *view = qobject_cast<QQuickItem *>(uut->findItem(u"fractalView"_s));
    QVERIFY(view);
    const QPoint center =
            view->mapToScene(QPointF(view->width() / 2, view->height() / 2)).toPoint();
    const double zoomBefore = fractal.zoom();
    const int rendersBefore = fractal.renders();

    QTest::mouseDClick(uut->window(), Qt::LeftButton, {}, center);
    QTRY_COMPARE_WITH_TIMEOUT(fractal.zoom(), zoomBefore * 2, slow);
    QCOMPARE(fractal.renders(), rendersBefore + 1);
    QTRY_VERIFY_WITH_TIMEOUT(fractal.isComplete(), slow);

    QTest::mousePress(uut->window(), Qt::LeftButton, {}, center);
    for (int step = 1; step <= 10; ++step)
        QTest::mouseMove(uut->window(), center + QPoint(step * 10, step * 5));
    // The view pans while the mouse moves (past the drag threshold): one render per move.
    QVERIFY(fractal.renders() >= rendersBefore + 3);
    QTest::mouseRelease(uut->window(), Qt::LeftButton, {}, center + QPoint(100, 50));
    QCOMPARE(fractal.zoom(), zoomBefore * 2); // panned, not zoomed
    QTRY_VERIFY_WITH_TIMEOUT(fractal.isComplete(), slow);
}

void tst_Demo::aBurstOfPansRunsOnlyTheNewestRenderOfEachTile()
{
    auto &fractal = uut->fractal;
    QTRY_VERIFY_WITH_TIMEOUT(fractal.isComplete(), slow);
    QCoro::waitFor(fractal.flush());
    const qint64 sentBefore = fractal.tileJobsSent();
    const qint64 runBefore = fractal.tileJobsRun();
    constexpr int pans = 30;
    for (int i = 0; i < pans; ++i)
        fractal.pan(0.001, 0.001);
    QCOMPARE(fractal.tileJobsSent() - sentBefore, qint64(pans) * fractal.tileCount());
    QTRY_VERIFY_WITH_TIMEOUT(fractal.isComplete(), slow);
    QCoro::waitFor(fractal.flush());
    // Every tile shows the last view, and a tile's render that waited was superseded: a tile
    // takes far longer to render than the next pan takes to send.
    for (int i = 0; i < fractal.tileCount(); ++i)
        QVERIFY(fractal.isTileCurrent(i));
    const qint64 ran = fractal.tileJobsRun() - runBefore;
    QVERIFY2(ran >= fractal.tileCount() && ran < qint64(pans) * fractal.tileCount() / 2,
             qPrintable(u"%1 of %2 tile renders ran"_s.arg(ran).arg(pans * fractal.tileCount())));
}

void tst_Demo::theProducerGoesAtTheWritersPaceAndTheMailboxStaysBounded()
{
    auto &pipeline = uut->pipeline;
    pipeline.setDelayMs(2);
    QCOMPARE(pipeline.delayMs(), 2);
    const qint64 producedBefore = pipeline.produced();
    pipeline.start();
    QVERIFY(pipeline.isRunning());
    // The first 16 go in at once; then the producer waits for room, one record per write.
    QTRY_VERIFY_WITH_TIMEOUT(pipeline.produced() >= producedBefore + 5 * pipeline.capacity()
                                     && pipeline.roomWaits() > 0,
                             slow);
    pipeline.stop();
    QVERIFY(!pipeline.isRunning());
    QTRY_VERIFY_WITH_TIMEOUT(!pipeline.isProducerWaiting()
                                     && pipeline.written() == pipeline.produced(),
                             slow);
    QVERIFY(pipeline.maxOutstanding() <= pipeline.capacity() + 1);
    QVERIFY(pipeline.maxOutstanding() >= pipeline.capacity()); // it did fill up
    pipeline.setDelayMs(8);
}

void tst_Demo::theSwarmConservesItsTotalWhileActorsComeAndGo()
{
    auto &swarm = uut->swarm;
    QSignalSpy audits(&swarm, &SwarmFacade::auditFinished);
    const int accounts = swarm.accountCount();
    QVERIFY(accounts >= 1000);

    swarm.start();
    QTRY_VERIFY_WITH_TIMEOUT(swarm.messagesHandled() > 20000, slow);
    swarm.addAccounts(10000);
    QTRY_COMPARE_WITH_TIMEOUT(swarm.accountCount(), accounts + 10000, slow);
    swarm.audit();
    swarm.removeAccounts(10000);
    swarm.audit();
    const qint64 handled = swarm.messagesHandled();
    QTRY_VERIFY_WITH_TIMEOUT(swarm.messagesHandled() > handled + 20000, slow); // traffic resumed
    swarm.stop();
    QTRY_VERIFY_WITH_TIMEOUT(!swarm.isBusy(), slow);

    QCOMPARE(swarm.accountCount(), accounts);
    QVERIFY(audits.count() >= 3);
    for (const auto &audit : std::as_const(audits))
        QVERIFY(audit.at(0).toBool());
    QVERIFY(swarm.invariantHeld());
    QCOMPARE(swarm.lastAuditTotal(), swarm.expectedTotal());
    QCOMPARE(swarm.expectedTotal(), qint64(accounts + 10000) * SwarmFacade::initialBalance);
    QCOMPARE(swarm.inFlight(), 0);
    QVERIFY(!swarm.isRunning());
}

void tst_Demo::anAuditNoticesMoneyFromNowhere()
{
    SwarmFacade forged(SwarmFacade::minimumAccounts);
    QSignalSpy audits(&forged, &SwarmFacade::auditFinished);
    forged.start();
    forged.forgeMoney(7);
    forged.stop();
    QTRY_COMPARE_WITH_TIMEOUT(audits.count(), 1, slow);
    QCOMPARE(audits.at(0).at(0).toBool(), false);
    QCOMPARE(audits.at(0).at(1).toLongLong(), forged.expectedTotal() + 7);
    QVERIFY(!forged.invariantHeld());
}

void tst_Demo::theWorkerCountsPrimesOnItsOwnThread()
{
    auto &worker = uut->worker;
    QSignalSpy ended(&worker, &WorkerFacade::ended);
    worker.start(1'000'000);
    QTRY_COMPARE_WITH_TIMEOUT(ended.count(), 1, slow);
    QCOMPARE(worker.status(), u"finished"_s);
    QCOMPARE(worker.primesFound(), 78498); // primes below one million
    QCOMPARE(worker.progress(), 1.0);
    QCOMPARE(worker.chunksDone(), 10);
    QVERIFY2(worker.threadName().contains(u"prime-worker"_s), qPrintable(worker.threadName()));
}

void tst_Demo::cancelStopsTheWorkersJob()
{
    auto &worker = uut->worker;
    worker.start(); // long enough to be canceled half-way
    QTRY_VERIFY_WITH_TIMEOUT(worker.chunksDone() >= 2, slow);
    worker.cancel();
    QTRY_COMPARE_WITH_TIMEOUT(worker.status(), u"canceled"_s, slow);
    const int chunks = worker.chunksDone();
    QVERIFY(worker.progress() < 1.0);

    const QFuture<void> flushed = worker.flush(); // everything sent to the worker has run
    QTRY_VERIFY_WITH_TIMEOUT(flushed.isFinished(), slow);
    QCOMPARE(worker.chunksDone(), chunks);
    QCOMPARE(worker.status(), u"canceled"_s);

    worker.start(1000); // and the worker is still good for another job
    QTRY_COMPARE_WITH_TIMEOUT(worker.status(), u"finished"_s, slow);
    QCOMPARE(worker.primesFound(), 168);
}

void tst_Demo::theGrabbedWindowIsNotBlankInAnyPanel()
{
    QQuickWindow *window = uut->window();
    const QImage image = window->grabWindow();
    QVERIFY(isNotBlank(image));
    const QStringList panels{ u"mapPanel"_s, u"fractalPanel"_s, u"swarmPanel"_s, u"workerPanel"_s };
    const qreal dpr = image.devicePixelRatio();
    for (const QString &name : panels) {
        auto *item = qobject_cast<QQuickItem *>(uut->findItem(name));
        QVERIFY(item);
        const QRectF r = item->mapRectToScene(QRectF(0, 0, item->width(), item->height()));
        QVERIFY2(r.width() > 300 && r.height() > 200, qPrintable(name));
        const QRect pixels = QRectF(r.topLeft() * dpr, r.size() * dpr).toRect();
        // inside the frame: a panel with nothing drawn would be a single colour
        QVERIFY2(isNotBlank(image.copy(pixels.adjusted(12, 40, -12, -12))), qPrintable(name));
    }
}

void tst_Demo::autorunDrivesEveryPanelAndReportsSuccess()
{
    AutorunReport report;
    bool done = false;
    runAutorun(uut.get(), 3, &report, &done);
    QTRY_VERIFY_WITH_TIMEOUT(done, slow);
    QVERIFY2(report.ok(), qPrintable(report.text));
    QVERIFY(report.text.contains(u"swarm invariant held: yes"_s));
}

int main(int argc, char *argv[])
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication app(argc, argv);
    tst_Demo test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_demo.moc"
