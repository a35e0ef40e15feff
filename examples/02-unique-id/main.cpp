// 02-unique-id: UniqueId wraps an actor whose state is a counter. Many threads ask it for ids at
// once; the actor handles one message at a time, so every id is handed out exactly once, and
// each thread gets its ids in the order it asked.
#include <QtActors/QtActors>

#include <QCoreApplication>
#include <QSet>

#include <algorithm>
#include <cstdio>
#include <thread>
#include <vector>

class UniqueId
{
public:
    [[nodiscard]] QtActors::Call<quint64> next() const
    {
        return m_actor.call([](quint64 &counter) { return ++counter; });
    }

private:
    QtActors::Actor<quint64> m_actor{ quint64{ 0 }, { .name = QStringLiteral("unique-id") } };
};

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    constexpr int threadCount = 8;
    constexpr int idsPerThread = 1000;
    const UniqueId ids;

    std::vector<std::vector<quint64>> received(threadCount);
    {
        std::vector<std::jthread> threads;
        for (auto &mine : received) {
            threads.emplace_back([&ids, &mine] {
                std::vector<QtActors::Call<quint64>> pending; // send all requests, then collect
                for (int i = 0; i < idsPerThread; ++i)
                    pending.push_back(ids.next());
                for (auto &call : pending)
                    mine.push_back(std::move(call).wait());
            });
        }
    } // the jthreads join here

    constexpr quint64 expected = quint64(threadCount) * idsPerThread;
    QSet<quint64> unique;
    bool inRange = true; // the ids must be exactly 1..expected
    bool inOrder = true; // one sender's messages are handled in the order sent
    for (const auto &mine : received) {
        inOrder = inOrder && std::ranges::is_sorted(mine);
        for (const quint64 id : mine) {
            unique.insert(id);
            inRange = inRange && id >= 1 && id <= expected;
        }
    }
    const bool ok = quint64(unique.size()) == expected && inRange && inOrder;
    std::printf("%d threads received %llu ids, %lld distinct, in order per thread: %s -> %s\n",
                threadCount, static_cast<unsigned long long>(expected),
                static_cast<long long>(unique.size()), inOrder ? "yes" : "no",
                ok ? "all unique" : "FAILED");
    return ok ? 0 : 1;
}
