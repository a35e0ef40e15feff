// LoopScheduler: posting turns to a QThread's event loop, and what happens when that loop ends
// (see loopscheduler_p.h).

#include "loopscheduler_p.h"

#include "contextobject_p.h"
#include "runtime_p.h"
#include "tuning_p.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QThread>
#include <QtCore/QDeadlineTimer>
#include <QtCore/QThreadPool>

#include <memory>
#include <thread>
#include <utility>

#include <vector>

namespace QtActors::detail {

LoopScheduler::LoopScheduler(QThread *thread) : m_thread(thread), m_context(new ContextObject)
{
    m_context->moveToThread(thread);
}

LoopScheduler::~LoopScheduler()
{
    if (!m_context)
        return; // the loop ended and took it
    // (The thread object is alive: its end would have taken the context.)
    if (m_context->thread() == QThread::currentThread() || !m_thread->isRunning()) {
        delete m_context; // nothing can be delivering to it
        return;
    }
    // Its thread runs: it deletes its own object, from a posted call. Not deleteLater(): a
    // deferred delete is never run when the thread's loop has ended, or the application is
    // gone, before it. If the loop ends before delivering the call, Qt destroys it undelivered,
    // and the Disposal deletes the object then, where nothing delivers to it any more.
    struct Disposal
    {
        explicit Disposal(ContextObject *c) : context(c) { }
        Disposal(const Disposal &) = delete;
        Disposal &operator=(const Disposal &) = delete;
        ~Disposal() { delete context; }
        ContextObject *context;
    };
    auto disposal = std::make_shared<Disposal>(m_context);
    QMetaObject::invokeMethod(
            m_context, [disposal] { delete std::exchange(disposal->context, nullptr); },
            Qt::QueuedConnection);
}

void LoopScheduler::schedule(ActorCore *core)
{
    {
        const std::lock_guard lock(m_mutex);
        if (!m_ended) {
            m_context->postWake(core);
            return;
        }
        // The loop has ended: this turn refuses what is queued and destroys State, run by end()
        // while it runs, else on the reaper thread.
        core->loseContext();
        if (m_ending) {
            m_late.push_back(core);
            return;
        }
    }
    reaperPool()->start([core] { core->runTurn(); });
}

void LoopScheduler::attach(ActorCore *core)
{
    const std::lock_guard lock(m_mutex);
    m_actors.insert(core);
    if (m_ended)
        core->loseContext(); // bound after the end: its first turn finds no context either
}

void LoopScheduler::detach(ActorCore *core)
{
    const std::lock_guard lock(m_mutex);
    m_actors.erase(core);
}

bool LoopScheduler::hasEnded() const
{
    const std::lock_guard lock(m_mutex);
    return m_ended;
}

void LoopScheduler::end()
{
    std::vector<Ref<ActorCore>> actors;
    {
        const std::lock_guard lock(m_mutex);
        if (m_ended)
            return;
        m_ended = true;
        m_ending = true;
        actors.reserve(m_actors.size());
        for (ActorCore *core : m_actors) {
            if (core->tryRef()) // a core being destroyed detaches itself
                actors.push_back(Ref<ActorCore>::adopt(core));
        }
    }
    if (!actors.empty()) {
        qCWarning(lcQtActors, "QtActors: the event loop of thread '%s' has ended under %d actor(s): "
                  "they are stopped, what they had queued is refused",
                  qUtf8Printable(m_thread->objectName()), int(actors.size()));
    }
    for (const Ref<ActorCore> &core : actors)
        core->contextEnded();
    if (QThread::currentThread() == m_thread) // the turns posted before the end: they run now
        QCoreApplication::sendPostedEvents(m_context, ContextObject::wakeEventType());
    // Then the turns that became due since, until every actor has finished here or waits for a
    // suspended coroutine handler. A sender between its count and its schedule() holds a turn
    // for a moment: wait for it, within reason.
    QDeadlineTimer patience(tuning::ThreadEndPatience);
    for (;;) {
        std::vector<ActorCore *> late;
        bool unfinished = false;
        {
            const std::lock_guard lock(m_mutex);
            late.swap(m_late);
            if (late.empty()) {
                for (ActorCore *core : m_actors)
                    unfinished = unfinished || !core->isParked();
                if (!unfinished || patience.hasExpired()) {
                    m_ending = false; // from now on: the reaper
                    break;
                }
            }
        }
        for (ActorCore *core : late)
            core->runTurn();
        if (late.empty())
            std::this_thread::yield();
    }
    // Deleting the object hands any wake-up still queued for it (queued while the thread never
    // ran) to the reaper, through ~WakeEvent.
    ContextObject *context = std::exchange(m_context, nullptr);
    delete context;
}

void LoopScheduler::drainPosted()
{
    Q_ASSERT(QThread::currentThread() == m_thread);
    ContextObject *context = m_context;
    if (!context)
        return;
    m_draining.store(true, std::memory_order_relaxed);
    bool settled = false;
    for (int round = 0; round < tuning::ExitDrainRounds && !settled; ++round) {
        const quint64 before = context->delivered();
        QCoreApplication::sendPostedEvents(nullptr, ContextObject::resumeEventType());
        QCoreApplication::sendPostedEvents(context, ContextObject::wakeEventType());
        settled = context->delivered() == before;
    }
    m_draining.store(false, std::memory_order_relaxed);
    if (!settled) {
        // Handlers kept waking each other: what is still queued is discarded with the
        // application's events (and logged then, by the turns that run without their context).
        qCWarning(lcQtActors, "QtActors: the main thread's actors were still waking each other "
                  "after %d rounds at application exit; their remaining messages are dropped",
                  tuning::ExitDrainRounds);
    }
}

} // namespace QtActors::detail
