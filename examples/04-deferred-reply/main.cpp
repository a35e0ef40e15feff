// 04-deferred-reply: a call handler of the form void(State &, Reply<R>) may keep its Reply and
// answer later: from a later message (publish() answers every waiting nextNews()) or from another
// thread (squareOnWorker()). The actor handles other messages meanwhile. A Reply destroyed
// unanswered (closeAll()) gives its caller a BrokenReply error instead of a hang.
#include <QtActors/QtActors>

#include <QCoreApplication>

#include <cstdio>
#include <thread>
#include <vector>

using QtActors::Reply;

struct Board
{
    std::vector<Reply<QString>> waiting; // nextNews() callers, answered by publish()
    std::vector<std::jthread> workers; // answer squareOnWorker() calls; joined with the State
};

class NewsBoard
{
public:
    [[nodiscard]] QtActors::Call<QString> nextNews() const
    {
        return m_actor.call(
                [](Board &b, Reply<QString> reply) { b.waiting.push_back(std::move(reply)); });
    }
    void publish(QString news) const
    {
        m_actor.cast([news = std::move(news)](Board &b) {
            for (const Reply<QString> &reply : b.waiting)
                reply(news);
            b.waiting.clear();
        });
    }
    [[nodiscard]] QtActors::Call<int> squareOnWorker(int x) const
    {
        return m_actor.call([x](Board &b, Reply<int> reply) {
            b.workers.emplace_back([x, reply = std::move(reply)] { reply(x * x); });
        });
    }
    void closeAll() const // drops the waiting replies unanswered
    {
        m_actor.cast([](Board &b) { b.waiting.clear(); });
    }

private:
    QtActors::Actor<Board> m_actor{ Board{}, { .name = QStringLiteral("news-board") } };
};

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    const NewsBoard board;
    auto first = board.nextNews(); // nothing published yet: both calls stay pending
    auto second = board.nextNews();
    const int square = board.squareOnWorker(12).wait(); // handled while the two calls are pending
    board.publish(QStringLiteral("actors are here"));
    const QString a = std::move(first).wait(), b = std::move(second).wait();
    std::printf("square from a worker thread: %d; both waiters got: \"%s\" / \"%s\"\n", square,
                qPrintable(a), qPrintable(b));

    auto orphan = board.nextNews();
    board.closeAll();
    try {
        std::printf("unexpected answer: %s\n", qPrintable(std::move(orphan).wait()));
        return 1;
    } catch (const QtActors::BrokenReply &error) {
        std::printf("dropped reply -> BrokenReply: %s\n", error.what());
    }
    return square == 144 && a == QStringLiteral("actors are here") && b == a ? 0 : 1;
}
