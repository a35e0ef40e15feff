// qtactors-demo: actors behind a Qt Quick UI. With --autorun [--show-for SECONDS] [--screenshot PATH]
// it drives every panel by itself, saves a screenshot, prints a summary and exits (non-zero on a
// failure).
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
            u"autorun"_s, u"Drive every panel step by step, print a summary and exit (0 when every "
                          u"check held)."_s);
    const QCommandLineOption showForOption(
            u"show-for"_s, u"With --autorun: keep the demo on show for at least SECONDS (8)."_s,
            u"SECONDS"_s, u"8"_s);
    const QCommandLineOption screenshotOption(
            u"screenshot"_s, u"With --autorun: save the window to PATH (PNG) at the end."_s,
            u"PATH"_s);
    parser.addOption(autorunOption);
    parser.addOption(showForOption);
    parser.addOption(screenshotOption);
    parser.process(app);

    Demo demo;
    if (!demo.load())
        return 2;

    if (parser.isSet(autorunOption)) {
        bool ok = false;
        const double seconds = parser.value(showForOption).toDouble(&ok);
        if (!ok || seconds < 0) {
            std::fputs("--show-for needs a number of seconds (0 or more)\n", stderr);
            return 2;
        }
        const QString screenshot = parser.value(screenshotOption);
        QTimer::singleShot(200, &app,
                           [&demo, seconds, screenshot] { runAndQuit(demo, seconds, screenshot); });
    }
    return app.exec();
}
