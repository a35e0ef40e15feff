// Actors that know each other: actors inside State (S31), self() (S32), answers forwarded to an
// actor (S33), and the priority of threads that actors create.
// ctest-timeout: 300
#include "testing.h"

#include <atomic>
#include <memory>
#include <vector>

#if defined(Q_OS_LINUX)
#include <sys/resource.h>
#include <unistd.h>
#endif

using namespace QtActors;
using testing::errorKind;
using testing::thrownBy;

namespace {

// S31: a State that holds handles to actors of its own type, with its own special members
// declared, which needs Actor<Node> to be usable while Node is incomplete.
struct Node
{
    Node() = default;
    Node(const Node &) = default;
    Node(Node &&) = default;
    Node &operator=(const Node &) = default;
    ~Node()
    {
        if (destroyed) // (not a moved-from one)
            destroyed->fetch_add(1);
    }

    Actor<Node> next = nullptr;  // a null handle: `Actor<Node> next;` would spawn an actor
    WeakActor<Node> parent;      // weak: no cycle
    std::shared_ptr<std::atomic<int>> destroyed = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<std::atomic<long>> hops;
    int id = 0;
};

// S31 as most users write it: no special members declared, so the compiler declares the
// implicit ones while Link is still incomplete (Clang then looks at Actor<Link>'s constructors).
struct Link
{
    Actor<Link> next = nullptr;
    int id = 0;
};
static_assert(std::is_copy_constructible_v<Link> && std::is_move_constructible_v<Link>);
static_assert(std::is_constructible_v<Actor<Link>, Link>);
static_assert(!std::is_constructible_v<Actor<Link>, int>);

//! Passes the token on until it has made `left` more hops; the last hop reports.
void pass(Node &node, long left, std::shared_ptr<std::atomic<bool>> done)
{
    node.hops->fetch_add(1);
    if (left == 0) {
        *done = true;
        return;
    }
    node.next.cast([left, done](Node &n) { pass(n, left - 1, done); });
}

struct Held
{
    std::vector<Reply<int>> replies;
};

struct Inbox
{
    std::vector<int> values;
    std::vector<QString> errors;
    QThread *ranOn = nullptr;
};

#if defined(Q_OS_LINUX)
int niceOfThisThread()
{
    errno = 0;
    return getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
}
#endif

//! Counts the actors alive at once (State constructed and not yet destroyed) and the peak.
struct Census
{
    std::atomic<int> alive{0};
    std::atomic<int> peak{0};
    std::atomic<int> built{0};
    void born()
    {
        built.fetch_add(1);
        const int now = alive.fetch_add(1) + 1;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) { }
    }
};

//! A node of a spawn tree: its handler spawns two children, calls both and sums their answers.
struct TreeNode
{
    TreeNode(std::shared_ptr<Census> c, int d) : census(std::move(c)), depth(d) { census->born(); }
    TreeNode(TreeNode &&) = default;
    ~TreeNode()
    {
        if (census) // (not a moved-from one)
            census->alive.fetch_sub(1);
    }
    std::shared_ptr<Census> census;
    int depth = 0;
};

//! The whole subtree's size, counted by its actors, as a user of an actor framework writes it.
QCoro::Task<long> countSubtree(TreeNode &node, int depthLimit)
{
    if (node.depth == depthLimit)
        co_return 1;
    Actor<TreeNode> left(TreeNode(node.census, node.depth + 1));
    Actor<TreeNode> right(TreeNode(node.census, node.depth + 1));
    auto ask = [depthLimit](TreeNode &child) { return countSubtree(child, depthLimit); };
    auto fromLeft = left.call(ask);
    auto fromRight = right.call(ask);
    const long l = co_await std::move(fromLeft);
    const long r = co_await std::move(fromRight);
    co_return l + r + 1;
}

} // namespace

class tst_ActorGraphs : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // ---- the pool: spawn trees unfold depth first ----------------------------------------------
    void aSpawnTreeUnfoldsDepthFirstWithFewActorsAliveAtOnce()
    {
        // 2^16 - 1 pool actors; each spawns two children and awaits their counts. Run breadth
        // first (a FIFO ready queue), about half of them are alive at once; depth first, a few
        // per level and pool thread.
        constexpr int depthLimit = 15;
        constexpr long total = (1L << (depthLimit + 1)) - 1;
        auto census = std::make_shared<Census>();
        long counted = 0;
        {
            Actor<TreeNode> root(TreeNode(census, 0));
            auto ask = [](TreeNode &node) { return countSubtree(node, depthLimit); };
            counted = std::move(root.call(ask)).wait();
        }
        QCOMPARE(counted, total);
        QTRY_COMPARE_WITH_TIMEOUT(census->alive.load(), 0, 20000);
        QCOMPARE(census->built.load(), int(total));
        qInfo("spawn tree: %d of %ld actors alive at the peak", census->peak.load(), total);
        QVERIFY2(census->peak.load() < total / 16,
                 qPrintable(QStringLiteral("%1 of %2 actors were alive at once")
                                    .arg(census->peak.load()).arg(total)));
    }

    // ---- S31 actors inside State -------------------------------------------------------------

    void aRingOfActorsLinkedThroughTheirStatePassesATokenAndShutsDownCleanly()
    {
        const int count = 1000;
        auto destroyed = std::make_shared<std::atomic<int>>(0);
        auto hops = std::make_shared<std::atomic<long>>(0);
        std::vector<Actor<Node>> ring;
        ring.reserve(count);
        for (int i = 0; i < count; ++i) {
            Node node;
            node.id = i;
            node.destroyed = destroyed;
            node.hops = hops;
            ring.emplace_back(std::move(node));
        }
        for (int i = 0; i < count; ++i) {
            Actor<Node> next = ring[std::size_t((i + 1) % count)];
            ring[std::size_t(i)].cast([next](Node &n) { n.next = next; });
        }
        for (auto &a : ring)
            std::move(a.flush()).wait();
        const long rounds = testing::scaled(20);
        auto done = std::make_shared<std::atomic<bool>>(false);
        ring.front().cast([left = rounds * count, done](Node &n) { pass(n, left, done); });
        QTRY_VERIFY_WITH_TIMEOUT(done->load(), 60000);
        QCOMPARE(hops->load(), rounds * count + 1);

        // The ring holds itself alive: unlink it, then let go; every State is destroyed once.
        const int destroyedBefore = destroyed->load();
        for (auto &a : ring)
            a.cast([](Node &n) { n.next = nullptr; });
        ring.clear();
        QTRY_COMPARE_WITH_TIMEOUT(destroyed->load(), destroyedBefore + count, 60000);
    }

    void aStateWithImplicitSpecialMembersHoldsActorsOfItsOwnType()
    {
        // Link declares no special members (see its definition): built from a braced Link, a
        // copied Link, linked in a triangle that passes a token 30 hops, copied, and unlinked.
        Actor<Link> a(Link{.id = 1});
        const Link two{.next = nullptr, .id = 2};
        Actor<Link> b(two);
        Actor<Link> c({.next = nullptr, .id = 3});
        a.cast([b](Link &l) { l.next = b; });
        b.cast([c](Link &l) { l.next = c; });
        c.cast([a](Link &l) { l.next = a; });
        auto trail = std::make_shared<std::vector<int>>();
        auto done = std::make_shared<std::atomic<bool>>(false);
        std::function<void(Link &, int)> hop = [trail, done, &hop](Link &l, int left) {
            trail->push_back(l.id); // one hop at a time: the token is the only message
            if (left == 0) {
                *done = true;
                return;
            }
            l.next.cast([left, &hop](Link &n) { hop(n, left - 1); });
        };
        a.cast([&hop](Link &l) { hop(l, 29); });
        QTRY_VERIFY_WITH_TIMEOUT(done->load(), 20000);
        QCOMPARE(int(trail->size()), 30);
        for (int i = 0; i < 30; ++i)
            QCOMPARE((*trail)[std::size_t(i)], 1 + i % 3);
        const Link copy = std::move(a.call([](Link &l) { return l; })).wait();
        QCOMPARE(copy.id, 1);
        QVERIFY(copy.next == b);
        for (Actor<Link> *x : {&a, &b, &c})
            std::move(x->call([](Link &l) { l.next = nullptr; })).wait();
    }

    void aNullHandleBehavesAsAStoppedActor()
    {
        testing::LogCapture log;
        Actor<Node> none = nullptr;
        QVERIFY(none.isStopped());
        QVERIFY(!none.isCurrent());
        none.cast([](Node &) { });
        QVERIFY(log.contains(QStringLiteral("null Actor")));
        QCOMPARE(thrownBy([&] { none.call([](Node &n) { return n.id; }).wait(); }),
                 QStringLiteral("ActorStopped"));
        QVERIFY(none.stop().isFinished());
        QVERIFY(none == Actor<Node>(nullptr));
        QVERIFY(none.weak().lock().isStopped());
    }

    void aTreeOfActorsKnowsItsParentsWeakly()
    {
        auto destroyed = std::make_shared<std::atomic<int>>(0);
        Node rootState;
        rootState.destroyed = destroyed;
        rootState.id = 1;
        Actor<Node> root(std::move(rootState));
        Node childState;
        childState.destroyed = destroyed;
        childState.id = 2;
        childState.parent = root.weak();
        Actor<Node> child(std::move(childState));
        const int parentId = child.call([](Node &n) -> QCoro::Task<int> {
            auto c = n.parent.lock().call([](Node &p) { return p.id; });
            co_return co_await std::move(c);
        }).wait();
        QCOMPARE(parentId, 1);
    }

    // ---- S32 self() --------------------------------------------------------------------------

    void selfInsideAHandlerIsThatActor_data()
    {
        QTest::addColumn<int>("executor");
        QTest::newRow("pool") << 0;
        QTest::newRow("dedicated thread") << 1;
        QTest::newRow("main thread") << 2;
    }
    void selfInsideAHandlerIsThatActor()
    {
        QFETCH(int, executor);
        const Executor executors[] = {Executor::pool(), Executor::dedicatedThread(),
                                      Executor::thread(QThread::currentThread())};
        Actor<int> uut(0, {.executor = executors[executor]});
        auto plain = uut.call([](int &) {
            Actor<int> me = Actor<int>::self();
            me.cast([](int &n) { n += 10; }); // it can send to itself: runs after this handler
            return std::pair(!me.isStopped(), me.isCurrent());
        });
        auto out = testing::run(std::move(plain).task());
        QVERIFY(out.finished);
        QCOMPARE(out.value->first, true);
        QCOMPARE(out.value->second, true);
        // Equal to the handle the test holds; also after a suspension in a coroutine handler.
        Actor<int> other(0);
        auto coroutine = uut.call([other](int &n) -> QCoro::Task<bool> {
            const bool before = Actor<int>::self() == Actor<int>::self();
            auto c = other.call([](int &m) { return m; });
            co_await std::move(c);
            co_return before && !Actor<int>::self().isStopped() && n == 10;
        });
        auto out2 = testing::run(std::move(coroutine).task());
        QVERIFY(out2.finished);
        QCOMPARE(out2.value.value(), true);
        auto same = uut.call([uut](int &) { return Actor<int>::self() == uut; });
        auto out3 = testing::run(std::move(same).task());
        QCOMPARE(out3.value.value(), true);
    }

    void anActorCanStopItselfThroughSelf()
    {
        auto destroyed = std::make_shared<std::atomic<int>>(0);
        Node state;
        state.destroyed = destroyed;
        Actor<Node> uut(std::move(state));
        const int before = destroyed->load();
        uut.cast([](Node &) { (void)Actor<Node>::self().stop(); });
        QTRY_VERIFY_WITH_TIMEOUT(uut.isStopped(), 20000);
        QTRY_COMPARE_WITH_TIMEOUT(destroyed->load(), before + 1, 20000);
    }

    void selfOutsideAHandlerOrForAnotherStateTypeIsNull()
    {
#ifdef QT_NO_DEBUG
        QVERIFY(Actor<int>::self().isStopped());
        Actor<QString> uut(QString{});
        const bool null = uut.call([](QString &) { return Actor<int>::self().isStopped(); }).wait();
        QVERIFY(null);
#else
        QSKIP("debug builds assert there");
#endif
    }

    void selfIsNullOnceTheLastHandleIsGoneAndTheActorEnds()
    {
        std::atomic<bool> release{false}, checked{false}, wasNull{false};
        {
            Actor<int> uut(0);
            uut.cast([&](int &) {
                QDeadlineTimer limit(20000);
                while (!release.load() && !limit.hasExpired())
                    QThread::yieldCurrentThread();
                wasNull = Actor<int>::self().isStopped();
                checked = true;
            });
        } // the last handle goes while the handler runs
        release = true;
        QTRY_VERIFY_WITH_TIMEOUT(checked.load(), 20000);
        QVERIFY(wasNull.load());
    }

    // ---- S33 answers forwarded to an actor ---------------------------------------------------

    void thenOnAnActorDeliversTheAnswerAsACast()
    {
        Actor<int> service(41, {.name = QStringLiteral("service")});
        QThread worker;
        worker.start();
        Actor<Inbox> inbox(Inbox{}, {.executor = Executor::thread(&worker)});
        service.call([](int &n) { return n + 1; }).then(inbox, [](Inbox &in, int v) {
            in.values.push_back(v);
            in.ranOn = QThread::currentThread();
        });
        service.call([](int &) -> int { throw std::runtime_error("broken"); })
                .then(inbox, [](Inbox &in, int v) { in.values.push_back(v); },
                      [](Inbox &in, std::exception_ptr e) { in.errors.push_back(errorKind(e)); });
        service.call([](int &) { }).then(inbox, [](Inbox &in) { in.values.push_back(-1); });
        QTRY_VERIFY_WITH_TIMEOUT(inbox.call([](Inbox &in) { return in.values.size() + in.errors.size(); }).wait() == 3, 20000);
        const Inbox seen = inbox.call([](Inbox &in) { return in; }).wait();
        QCOMPARE(seen.values, (std::vector<int>{42, -1}));
        QCOMPARE(seen.errors, (std::vector<QString>{QStringLiteral("broken")}));
        QCOMPARE(seen.ranOn, &worker);
        std::move(inbox.stop()).wait();
        worker.quit();
        QVERIFY(worker.wait(20000));
    }

    void thenOnAnActorWithoutOnErrorLogsTheError()
    {
        testing::LogCapture log;
        Actor<int> service(0, {.name = QStringLiteral("failing service")});
        Actor<Inbox> inbox(Inbox{});
        service.call([](int &) -> int { throw std::runtime_error("unheard"); })
                .then(inbox, [](Inbox &in, int v) { in.values.push_back(v); });
        QTRY_VERIFY_WITH_TIMEOUT(log.contains(QStringLiteral("unheard")), 20000);
        QVERIFY(log.contains(QStringLiteral("'failing service'")));
        QVERIFY(inbox.call([](Inbox &in) { return in.values.empty(); }).wait());
    }

    void thenOnAStoppedActorIsDroppedAndLoggedAndDoesNotKeepItAlive()
    {
        testing::LogCapture log;
        Actor<Held> service(Held{});
        auto destroyed = std::make_shared<std::atomic<int>>(0);
        bool ran = false;
        {
            Node state;
            state.destroyed = destroyed;
            Actor<Node> receiver(std::move(state), {.name = QStringLiteral("gone receiver")});
            service.call([](Held &h, Reply<int> r) { h.replies.push_back(std::move(r)); })
                    .then(receiver, [&ran](Node &, int) { ran = true; });
            std::move(service.flush()).wait();
        } // the receiver's last handle goes: then() does not keep it alive
        QTRY_COMPARE_WITH_TIMEOUT(destroyed->load(), 1, 20000);
        service.cast([](Held &h) { h.replies.front()(1); });
        std::move(service.flush()).wait();
        QTRY_VERIFY_WITH_TIMEOUT(log.contains(QStringLiteral("cast to a null Actor handle dropped")), 20000);
        QVERIFY(!ran);
    }

    // ---- Thread priorities -------------------------------------------------------------------

    void aDedicatedThreadCreatedFromAPoolHandlerRunsAtNormalPriority()
    {
#if defined(Q_OS_LINUX)
        const int mainNice = niceOfThisThread();
        Actor<int> spawner(0);
        auto nices = spawner.call([](int &) -> QCoro::Task<std::pair<int, int>> {
            const int poolNice = niceOfThisThread(); // the library's pool: below normal
            Actor<int> worker(0, {.executor = Executor::dedicatedThread()});
            auto c = worker.call([](int &) { return niceOfThisThread(); });
            co_return std::pair(poolNice, co_await std::move(c));
        }).future().result(); // not wait(): it may run the turn on this thread (S4)
        QVERIFY2(nices.first > mainNice, "the library's pool runs below normal priority");
        QCOMPARE(nices.second, mainNice);
#else
        QSKIP("nice levels are Linux's");
#endif
    }
};

QTEST_GUILESS_MAIN(tst_ActorGraphs)

#include "tst_actorgraphs.moc"
