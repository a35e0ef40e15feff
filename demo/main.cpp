// qtactors-demo: actors behind a Qt Quick UI. With --autorun SECONDS [--screenshot PATH] it drives
// every panel by itself, saves a screenshot, prints a summary and exits (non-zero on a failure).
#include "autorun.h"
#include "demo.h"

#include <QCommandLineParser>
#include <QGuiApplication>
#include <QQmlExtensionPlugin>
#include <QTimer>

#include <cstdio>

Q_IMPORT_QML_PLUGIN(QtActorsDemoPlugin)

using namespace Qt::StringLiterals;

namespace {
QCoro::Task<> runAndQuit(Demo &demo, double seconds, QString screenshot)
{
    const AutorunReport report = co_await autorun(demo, seconds, screenshot);
    std::fputs(qPrintable(report.text + u'\n'), stdout);
    std::fflush(stdout);
    QCoreApplication::exit(report.ok() ? 0 : 1);
}
} // namespace

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    QGuiApplication::setApplicationName(u"qtactors-demo"_s);

    QCommandLineParser parser;
    parser.setApplicationDescription(u"QtActors: actors behind a Qt Quick UI"_s);
    parser.addHelpOption();
    const QCommandLineOption autorunOption(
            u"autorun"_s, u"Drive every panel for SECONDS seconds, print a summary and exit."_s,
            u"SECONDS"_s);
    const QCommandLineOption screenshotOption(
            u"screenshot"_s, u"With --autorun: save the window to PATH (PNG) at the end."_s,
            u"PATH"_s);
    parser.addOption(autorunOption);
    parser.addOption(screenshotOption);
    parser.process(app);

    Demo demo;
    if (!demo.load())
        return 2;

    if (parser.isSet(autorunOption)) {
        bool ok = false;
        const double seconds = parser.value(autorunOption).toDouble(&ok);
        if (!ok || seconds <= 0) {
            std::fputs("--autorun needs a positive number of seconds\n", stderr);
            return 2;
        }
        const QString screenshot = parser.value(screenshotOption);
        QTimer::singleShot(200, &app,
                           [&demo, seconds, screenshot] { runAndQuit(demo, seconds, screenshot); });
    }
    return app.exec();
}
