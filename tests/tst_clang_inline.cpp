// The idiom GCC 12 miscompiles, done right: `co_await actor.call([s = QString(…)](State &) {…})`,
// a lambda temporary with non-trivially-destructible captures written inside the co_await
// expression (GCC 12.2 destroys it twice; see PLATFORM-NOTES.md). Built only with Clang
// (tests/CMakeLists.txt skips tst_clang_* elsewhere); run it under ASan, which reports the double
// destruction at once, and the capture counters below catch it without ASan too.
#include "testing.h"

#include <QtCore/QRandomGenerator>

#include <QCoroTask>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#ifndef __clang__
#error "tst_clang_inline exercises an idiom GCC 12 miscompiles: build it with Clang only"
#endif

using namespace QtActors;
using testing::errorKind;
using testing::scaled;

namespace {

//! A capture that counts its lives: every copy or move is one more construction, and a second
//! destruction of one object is seen through its cleared magic number.
struct Witness
{
    static inline std::atomic<int> constructed{0};
    static inline std::atomic<int> destroyed{0};
    static inline std::atomic<int> destroyedTwice{0};
    static constexpr quint32 Alive = 0x5eed1e55u;

    explicit Witness(QString text) : text(std::move(text)) { constructed.fetch_add(1); }
    Witness(const Witness &o) : text(o.text) { constructed.fetch_add(1); }
    Witness(Witness &&o) noexcept : text(std::move(o.text)) { constructed.fetch_add(1); }
    Witness &operator=(const Witness &) = delete;
    ~Witness()
    {
        if (magic != Alive)
            destroyedTwice.fetch_add(1);
        magic = 0;
        destroyed.fetch_add(1);
    }
    static void reset()
    {
        constructed = 0;
        destroyed = 0;
        destroyedTwice = 0;
    }

    QString text;
    quint32 magic = Alive;
};

struct Inner
{
    QStringList seen;
    qsizetype characters = 0;
};

//! A text long enough to live on the heap (no small-string buffer), different for each i.
QString textFor(int i)
{
    return QStringLiteral("capture #%1 ").arg(i).repeated(1 + i % 7);
}
std::string bytesFor(int i)
{
    return std::string(size_t(24 + i % 40), char('a' + i % 26));
}

} // namespace

class tst_ClangInline : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init() { Witness::reset(); }

    void inlineLambdasWithStringCapturesAwaitedInALoop()
    {
        const Actor<Inner> uut(Inner{}, {.name = QStringLiteral("inner")});
        const int n = scaled(2000);
        auto task = [](Actor<Inner> uut, int n) -> QCoro::Task<int> {
            int wrong = 0;
            for (int i = 0; i < n; ++i) {
                // The very idiom: the lambda temporary with QString/std::string captures is
                // written inside the co_await expression.
                const qsizetype got = co_await uut.call(
                        [s = textFor(i), b = bytesFor(i)](Inner &in) {
                            in.seen.append(s);
                            in.characters += s.size();
                            return s.size() + qsizetype(b.size());
                        });
                if (got != textFor(i).size() + qsizetype(bytesFor(i).size()))
                    ++wrong;
                const QString last = co_await uut.call(
                        [key = QString::number(i)](Inner &in) { return in.seen.constLast() + key; });
                if (last != textFor(i) + QString::number(i))
                    ++wrong;
            }
            co_return wrong;
        };
        const auto out = testing::run(task(uut, n), 60000);
        QVERIFY(out.finished);
        QCOMPARE(errorKind(out.error), QStringLiteral("none"));
        QCOMPARE(*out.value, 0);
        const Inner st = uut.call([](Inner &in) { return in; }).wait();
        QCOMPARE(st.seen.size(), qsizetype(n));
        for (int i = 0; i < n; ++i)
            QCOMPARE(st.seen[i], textFor(i));
    }

    void eachCaptureIsDestroyedExactlyOnce()
    {
        const Actor<Inner> uut(Inner{}, {.name = QStringLiteral("witnessed")});
        const int n = scaled(1000);
        auto task = [](Actor<Inner> uut, int n) -> QCoro::Task<int> {
            int wrong = 0;
            for (int i = 0; i < n; ++i) {
                const QString got = co_await uut.call([w = Witness(textFor(i))](Inner &in) {
                    in.seen.append(w.text);
                    return w.text;
                });
                wrong += got != textFor(i);
                // A coroutine handler awaited inline, its capture alive across its own await.
                const qsizetype size = co_await uut.call(
                        [w = Witness(textFor(i))](Inner &) -> QCoro::Task<qsizetype> {
                            co_return w.text.size();
                        });
                wrong += size != textFor(i).size();
            }
            co_return wrong;
        };
        const auto out = testing::run(task(uut, n), 60000);
        QVERIFY(out.finished);
        QCOMPARE(errorKind(out.error), QStringLiteral("none"));
        QCOMPARE(*out.value, 0);
        uut.flush().wait();
        QCOMPARE(Witness::destroyedTwice.load(), 0);
        QCOMPARE(Witness::destroyed.load(), Witness::constructed.load());
        QVERIFY(Witness::constructed.load() >= 2 * n);
    }

    void actorsCoroutineHandlerAwaitsAnotherActorInline()
    {
        const Actor<Inner> inner(Inner{}, {.name = QStringLiteral("inner")});
        const Actor<QStringList> outer(QStringList{}, {.name = QStringLiteral("outer")});
        const int n = scaled(500);
        // Inside an actor's own coroutine handler: the inline idiom, resuming on that actor.
        auto handler = [inner, outer, n](QStringList &log) -> QCoro::Task<int> {
            int wrong = 0;
            for (int i = 0; i < n; ++i) {
                const QString echoed = co_await inner.call([s = textFor(i), b = bytesFor(i)](Inner &in) {
                    in.seen.append(s);
                    return s + QString::fromStdString(b);
                });
                if (echoed != textFor(i) + QString::fromStdString(bytesFor(i)))
                    ++wrong;
                if (!outer.isCurrent())
                    ++wrong; // S10: resumed outside the awaiting actor
                log.append(echoed.left(12));
            }
            co_return wrong;
        };
        QCOMPARE(outer.call(handler).wait(), 0);
        QCOMPARE(outer.call([](QStringList &log) { return log.size(); }).wait(), qsizetype(n));
        QCOMPARE(inner.call([](Inner &in) { return in.seen.size(); }).wait(), qsizetype(n));
    }

    void manyCoroutinesAwaitInlineCallsConcurrently()
    {
        // Several coroutines interleave on the test's thread, each awaiting inline calls on a few
        // pool actors, while a coroutine handler of another actor does the same.
        std::vector<Actor<Inner>> actors;
        for (int a = 0; a < 4; ++a)
            actors.emplace_back(Inner{}, Options{.name = QStringLiteral("shared %1").arg(a), .throughput = 1 + a});
        const int coroutines = 8;
        const int each = scaled(300);
        std::atomic<int> wrong{0};
        std::atomic<int> finished{0};
        auto one = [](std::vector<Actor<Inner>> actors, int c, int each, std::atomic<int> *wrong,
                      std::atomic<int> *finished) -> QCoro::Task<> {
            QRandomGenerator rng(quint32(c) * 7919u);
            for (int i = 0; i < each; ++i) {
                const Actor<Inner> &a = actors[rng.bounded(int(actors.size()))];
                const int id = c * each + i;
                const QString got = co_await a.call(
                        [s = textFor(id), tag = std::string("coroutine ") + std::to_string(c)](Inner &in) {
                            in.characters += s.size();
                            return QString::fromStdString(tag) + s;
                        });
                if (got != QStringLiteral("coroutine %1").arg(c) + textFor(id))
                    wrong->fetch_add(1);
            }
            finished->fetch_add(1);
        };
        std::vector<QCoro::Task<>> tasks;
        for (int c = 0; c < coroutines; ++c)
            tasks.push_back(one(actors, c, each, &wrong, &finished));
        const Actor<int> driver(0, {.name = QStringLiteral("driver")});
        Call<int> fromActor = driver.call([actors, each](int &) -> QCoro::Task<int> {
            int bad = 0;
            for (int i = 0; i < each; ++i) {
                const QString got = co_await actors[i % actors.size()].call(
                        [s = textFor(i)](Inner &in) { return in.characters >= 0 ? s : QString(); });
                bad += got != textFor(i);
            }
            co_return bad;
        });
        QTRY_COMPARE_WITH_TIMEOUT(finished.load(), coroutines, 60000);
        QCOMPARE(wrong.load(), 0);
        QCOMPARE(std::move(fromActor).wait(), 0);
    }

    void inlineCallOnAStoppedActorThrowsActorStopped()
    {
        const Actor<Inner> uut(Inner{}, {.name = QStringLiteral("stopped")});
        uut.stop().wait();
        auto task = [](Actor<Inner> uut) -> QCoro::Task<int> {
            int stopped = 0;
            for (int i = 0; i < 100; ++i) {
                try {
                    co_await uut.call([w = Witness(textFor(i))](Inner &) { return w.text.size(); });
                } catch (const ActorStopped &) {
                    ++stopped;
                }
            }
            co_return stopped;
        };
        const auto out = testing::run(task(uut), 20000);
        QVERIFY(out.finished);
        QCOMPARE(*out.value, 100);
        QCOMPARE(Witness::destroyedTwice.load(), 0);
        QCOMPARE(Witness::destroyed.load(), Witness::constructed.load());
    }
};

QTEST_GUILESS_MAIN(tst_ClangInline)
#include "tst_clang_inline.moc"
