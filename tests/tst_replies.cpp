// Deferred replies (S13): answered later, from anywhere, exactly once; BrokenReply when dropped.
#include "testing.h"

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

using namespace QtActors;
using testing::errorKind;
using testing::thrownBy;

namespace {

struct Parking
{
    std::vector<Reply<int>> parked;
    int handled = 0;
};

} // namespace

class tst_Replies : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void replyAnsweredInsideTheHandler()
    {
        Actor<int> uut(3);
        auto c = uut.call([](int &n, Reply<int> reply) { reply(n * 3); });
        QCOMPARE(std::move(c).wait(), 9);
    }

    void replyTypeCanBeNamedForGenericHandlers()
    {
        Actor<int> uut(3);
        auto c = uut.call<QString>([](int &n, auto reply) { reply(QString::number(n)); });
        QCOMPARE(std::move(c).wait(), QStringLiteral("3"));
    }

    void replyOfVoid()
    {
        Actor<int> uut(0);
        auto c = uut.call([](int &n, Reply<void> reply) {
            ++n;
            reply();
        });
        std::move(c).wait();
        QCOMPARE(uut.call([](int &n) { return n; }).wait(), 1);
    }

    void actorHandlesOtherMessagesWhileAReplyIsOutstanding()
    {
        Actor<Parking> uut;
        auto first = uut.call([](Parking &p, Reply<int> reply) { p.parked.push_back(std::move(reply)); });
        // The actor is free: later messages run while `first` is unanswered.
        QCOMPARE(uut.call([](Parking &p) { return int(p.parked.size()); }).wait(), 1);
        QVERIFY(!first.isFinished());
        uut.cast([](Parking &p) {
            auto reply = std::move(p.parked.back());
            p.parked.pop_back();
            reply(77);
        });
        QCOMPARE(std::move(first).wait(), 77);
    }

    void replyMovedToAnotherThreadIsAnsweredThere()
    {
        Actor<int> uut(0);
        std::optional<std::thread> answerer;
        std::atomic<std::thread::id> answeredOn{};
        auto c = uut.call([&](int &, Reply<QString> reply) {
            answerer.emplace([&answeredOn, reply = std::move(reply)] {
                answeredOn = std::this_thread::get_id();
                reply(QStringLiteral("from a thread"));
            });
        });
        QCOMPARE(std::move(c).wait(), QStringLiteral("from a thread"));
        std::move(uut.flush()).wait(); // the handler that started the thread has returned
        const std::thread::id expected = answerer->get_id();
        answerer->join();
        QCOMPARE(answeredOn.load(), expected);
    }

    void replyMovedToAnotherActorIsAnsweredByIt()
    {
        Actor<int> backend(40);
        Actor<int> front(0);
        auto c = front.call([backend](int &, Reply<int> reply) {
            backend.cast([reply = std::move(reply)](int &n) { reply(n + 2); });
        });
        QCOMPARE(std::move(c).wait(), 42);
    }

    void droppedReplyGivesBrokenReply()
    {
        Actor<int> uut(0);
        auto c = uut.call([](int &, Reply<int> reply) { Q_UNUSED(reply); });
        QCOMPARE(thrownBy([&] { std::move(c).wait(); }), QStringLiteral("BrokenReply"));
    }

    void replyDroppedLaterOnAnotherThreadGivesBrokenReply()
    {
        Actor<Parking> uut;
        auto c = uut.call([](Parking &p, Reply<int> reply) { p.parked.push_back(std::move(reply)); });
        std::thread([uut] { uut.cast([](Parking &p) { p.parked.clear(); }); }).join();
        QCOMPARE(thrownBy([&] { std::move(c).wait(); }), QStringLiteral("BrokenReply"));
    }

    void replyFailCarriesTheError()
    {
        Actor<int> uut(0);
        auto c = uut.call([](int &, Reply<int> reply) {
            reply.fail(std::make_exception_ptr(std::runtime_error("declined")));
        });
        QCOMPARE(thrownBy([&] { std::move(c).wait(); }), QStringLiteral("declined"));
    }

    void handlerThatThrowsAfterTakingTheReplyReportsItsOwnException()
    {
        Actor<int> uut(0);
        auto c = uut.call([](int &, Reply<int> reply) {
            Reply<int> mine = std::move(reply);
            throw std::runtime_error("handler failed");
        });
        QCOMPARE(thrownBy([&] { std::move(c).wait(); }), QStringLiteral("handler failed"));
    }

    void handlerThatAnswersThenThrowsKeepsTheAnswerAndLogsTheError()
    {
        testing::LogCapture log;
        Actor<int> uut(0, {.name = QStringLiteral("late thrower")});
        auto c = uut.call([](int &, Reply<int> reply) {
            reply(5);
            throw std::runtime_error("too late");
        });
        QCOMPARE(std::move(c).wait(), 5);
        std::move(uut.flush()).wait(); // the handler has returned (thrown) by then
        QVERIFY2(log.contains(QStringLiteral("'late thrower': a handler threw after it had "
                                             "answered its call: too late")),
                 qPrintable(log.messages().join(u'\n')));
    }

    void secondAnswerIsIgnoredAndLogged()
    {
        testing::LogCapture log;
        Actor<int> uut(0);
        auto c = uut.call([](int &, Reply<int> reply) {
            reply(1);
            reply(2);
        });
        QCOMPARE(std::move(c).wait(), 1);
        std::move(uut.flush()).wait(); // the handler goes on after its first answer
        QVERIFY(log.contains(QStringLiteral("answered twice")));
        QCOMPARE(log.messages().size(), 1);
    }

    void isPendingTracksTheAnswer()
    {
        Actor<int> uut(0);
        auto c = uut.call([](int &, Reply<int> reply) {
            const bool before = reply.isPending();
            reply(before ? 1 : 0);
            if (reply.isPending())
                throw std::logic_error("still pending after answering");
        });
        QCOMPARE(std::move(c).wait(), 1);
    }

    void manyRepliesAnsweredInReverseOrderReachTheirOwnCallers()
    {
        Actor<Parking> uut;
        const int n = testing::scaled(500);
        std::vector<Call<int>> calls;
        for (int i = 0; i < n; ++i)
            calls.push_back(uut.call([](Parking &p, Reply<int> reply) { p.parked.push_back(std::move(reply)); }));
        uut.cast([](Parking &p) {
            for (int i = int(p.parked.size()) - 1; i >= 0; --i)
                p.parked[i](i);
            p.parked.clear();
        });
        for (int i = 0; i < n; ++i)
            QCOMPARE(std::move(calls[i]).wait(), i);
    }
};

QTEST_GUILESS_MAIN(tst_Replies)
#include "tst_replies.moc"
