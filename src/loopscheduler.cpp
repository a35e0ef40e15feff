// LoopScheduler: posting turns to a QThread's event loop, and what happens when that loop ends
// (see loopscheduler_p.h).

#include "loopscheduler_p.h"

#include "contextobject_p.h"
#include "runtime_p.h"
#include "tuning_p.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QThread>
#include <QtCore/QThreadPool>

#include <vector>

namespace QtActors::detail {

namespace {

// The scheduler whose end() runs on this thread: turns that become due meanwhile run in place.
thread_local const LoopScheduler *t_ending = nullptr;

} // namespace

LoopScheduler::LoopScheduler(QThread *thread) : m_thread(thread), m_context(new ContextObject)
{
    m_context->moveToThread(thread);
}

LoopScheduler::~LoopScheduler()
{
    if (!m_context)
        return; // the loop ended and took it
    if (m_context->thread() == QThread::currentThread())
        delete m_context;
    else
        m_context->deleteLater(); // its thread still runs: let it delete its own object
}

void LoopScheduler::schedule(ActorCore *core)
{
    {
        const std::lock_guard lock(m_mutex);
        if (!m_ended) {
            m_context->postWake(core);
            return;
        }
    }
    // The loop has ended: this turn refuses what is queued and destroys State, in place while
    // end() runs on this thread, else on the reaper thread.
    core->loseContext();
    if (t_ending == this)
        core->runTurn();
    else
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
    const LoopScheduler *outer = std::exchange(t_ending, this);
    for (const Ref<ActorCore> &core : actors)
        core->contextEnded();
    const bool onItsThread = QThread::currentThread() == m_thread;
    if (onItsThread) // the turns posted before the end: they run now, in place
        QCoreApplication::sendPostedEvents(m_context, ContextObject::wakeEventType());
    t_ending = outer;
    // Deleting the object hands any wake-up still queued for it (posted by a sender that raced
    // the end, or queued while the thread never ran) to the reaper, through ~WakeEvent.
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
    for (int round = 0; round < tuning::ExitDrainRounds; ++round) {
        const quint64 before = context->delivered();
        QCoreApplication::sendPostedEvents(nullptr, ContextObject::resumeEventType());
        QCoreApplication::sendPostedEvents(context, ContextObject::wakeEventType());
        if (context->delivered() == before)
            break;
    }
    m_draining.store(false, std::memory_order_relaxed);
}

} // namespace QtActors::detail
