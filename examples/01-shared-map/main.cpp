// 01-shared-map: the wrapper pattern. SharedMap hides an Actor<QHash<QString, QString>> behind
// plain member functions, so its callers never see message passing. A worker thread uses it with
// the blocking wait(); a QCoro coroutine on the main thread's event loop uses it with co_await.
#include <QtActors/QtActors>

#include <QCoreApplication>
#include <QCoroTask>
#include <QThread>
#include <QTimer>

#include <cstdio>
#include <optional>
#include <thread>

class SharedMap
{
public:
    void insert(QString key, QString value) const
    {
        m_actor.cast([key = std::move(key), value = std::move(value)](Map &map) {
            map.insert(key, value);
        });
    }
    [[nodiscard]] QtActors::Call<std::optional<QString>> get(QString key) const
    {
        return m_actor.call([key = std::move(key)](Map &map) -> std::optional<QString> {
            const auto it = map.constFind(key);
            return it == map.cend() ? std::nullopt : std::optional(*it);
        });
    }

private:
    using Map = QHash<QString, QString>;
    QtActors::Actor<Map> m_actor{ Map{}, { .name = QStringLiteral("shared-map") } };
};

// Safe under GCC 12: get() builds the capturing lambda, not the co_await expression itself.
QCoro::Task<> useFromCoroutine(const SharedMap &map)
{
    const std::optional<QString> language = co_await map.get(QStringLiteral("language"));
    const std::optional<QString> missing = co_await map.get(QStringLiteral("no-such-key"));
    const bool onMainThread = QThread::currentThread() == QCoreApplication::instance()->thread();
    std::printf("coroutine: language = %s, no-such-key %s, resumed on the main thread: %s\n",
                qPrintable(language.value_or(QString())), missing ? "found" : "absent",
                onMainThread ? "yes" : "no");
    QCoreApplication::exit(language == QStringLiteral("C++") && !missing && onMainThread ? 0 : 1);
}

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    const SharedMap map;
    map.insert(QStringLiteral("language"), QStringLiteral("C++"));

    std::optional<QString> fromWorker;
    std::thread([&] {
        map.insert(QStringLiteral("toolkit"), QStringLiteral("Qt"));
        fromWorker = map.get(QStringLiteral("toolkit")).wait(); // blocks this worker thread only
    }).join();
    std::printf("worker thread: toolkit = %s\n", qPrintable(fromWorker.value_or(QString())));
    if (fromWorker != QStringLiteral("Qt"))
        return 1;

    QTimer::singleShot(0, &app, [&map] { useFromCoroutine(map); }); // starts inside the event loop
    QTimer::singleShot(10'000, &app, [] { QCoreApplication::exit(2); }); // never hang
    return app.exec();
}
