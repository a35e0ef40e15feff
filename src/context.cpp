#include "context_p.h"
#include "runtime_p.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QThread>
#include <QtCore/QThreadPool>
#include <QtCore/QThreadStorage>

namespace QtActors::detail {

namespace {

const QEvent::Type WakeEventType = static_cast<QEvent::Type>(QEvent::registerEventType());
const QEvent::Type ResumeEventType = static_cast<QEvent::Type>(QEvent::registerEventType());

// Qt discards a posted event without delivering it in two cases: its thread's queue is cleaned
// up (the thread ended, or QCoreApplication is being destroyed), or no QCoreApplication exists any
// more (after it is destroyed, Qt delivers nothing, even in threads whose loops still run). In the
// second case the event is destroyed inside the right thread's running event loop, so the work is
// done right there. In the first, Qt holds its queue lock: the actor is released later, elsewhere.
bool discardedInsideItsRunningLoop(QThread *target)
{
    QThread *current = QThread::currentThread();
    return current == target && current->loopLevel() > 0;
}

class WakeEvent final : public QEvent
{
public:
    WakeEvent(ActorCore *core, QThread *target) : QEvent(WakeEventType), m_core(core), m_target(target)
    {
    }
    ~WakeEvent() override
    {
        ActorCore *core = m_core;
        if (!core)
            return; // delivered
        if (discardedInsideItsRunningLoop(m_target)) {
            QTACTORS_HANDOFF_ACQUIRE(this);
            core->runTurn();
        } else {
            reaperPool()->start([core] { core->runWithoutContext(); });
        }
    }
    ActorCore *take() noexcept { return std::exchange(m_core, nullptr); }

private:
    ActorCore *m_core;
    QThread *m_target;
};

class ResumeEvent final : public QEvent
{
public:
    ResumeEvent(std::coroutine_handle<> h, QThread *target)
        : QEvent(ResumeEventType), m_handle(h), m_target(target)
    {
    }
    ~ResumeEvent() override
    {
        // A coroutine whose thread's loop is gone can never resume; its frame is left alone.
        if (m_handle && discardedInsideItsRunningLoop(m_target)) {
            QTACTORS_HANDOFF_ACQUIRE(this);
            take().resume();
        }
    }
    std::coroutine_handle<> take() noexcept { return std::exchange(m_handle, {}); }

private:
    std::coroutine_handle<> m_handle;
    QThread *m_target;
};

// Owned by QThreadStorage: lets go of the thread's ContextObject when the thread ends.
struct ContextHolder
{
    ContextObject *context = new ContextObject;
    ~ContextHolder() { context->deref(); }
};

QThreadStorage<ContextHolder *> &contexts()
{
    static QThreadStorage<ContextHolder *> storage;
    return storage;
}

} // namespace

namespace {
std::atomic<bool> g_deliveringAtAppExit{false};
}

bool isDeliveringAtAppExit() noexcept
{
    return g_deliveringAtAppExit.load(std::memory_order_relaxed);
}

void deliverMainThreadWakeupsAtAppExit()
{
    static std::atomic<QCoreApplication *> registeredFor{nullptr};
    QCoreApplication *app = QCoreApplication::instance();
    if (!app || registeredFor.load(std::memory_order_acquire) == app)
        return;
    if (registeredFor.exchange(app) == app)
        return;
    // Post routines run first in ~QCoreApplication, on the main thread, before Qt discards
    // the events still queued: deliver ours there, so that main-thread actors finish and
    // destroy State on their own thread.
    qAddPostRoutine([] {
        // Turns drain completely meanwhile; a few rounds, as handlers may send more messages to
        // main-thread actors.
        g_deliveringAtAppExit = true;
        for (int round = 0; round < 8; ++round) {
            QCoreApplication::sendPostedEvents(nullptr, ResumeEventType);
            QCoreApplication::sendPostedEvents(nullptr, WakeEventType);
        }
        g_deliveringAtAppExit = false;
    });
}

void ContextObject::postWake(ActorCore *core)
{
    auto *event = new WakeEvent(core, thread());
    QTACTORS_HANDOFF_RELEASE(event);
    QCoreApplication::postEvent(this, event);
}

void ContextObject::postResume(std::coroutine_handle<> h)
{
    auto *event = new ResumeEvent(h, thread());
    QTACTORS_HANDOFF_RELEASE(event);
    QCoreApplication::postEvent(this, event);
}

bool ContextObject::event(QEvent *event)
{
    if (event->type() == WakeEventType) {
        QTACTORS_HANDOFF_ACQUIRE(event);
        if (ActorCore *core = static_cast<WakeEvent *>(event)->take())
            core->runTurn();
        return true;
    }
    if (event->type() == ResumeEventType) {
        QTACTORS_HANDOFF_ACQUIRE(event);
        static_cast<ResumeEvent *>(event)->take().resume();
        return true;
    }
    return QObject::event(event);
}

ContextObject *ContextObject::forCurrentThread()
{
    // Threads started by QThread (and the main thread once QCoreApplication exists) have one;
    // plain std::threads do not, and there is no event loop to resume on.
    if (!QThread::currentThread()->eventDispatcher())
        return nullptr;
    auto &storage = contexts();
    if (!storage.hasLocalData())
        storage.setLocalData(new ContextHolder);
    return storage.localData()->context;
}

void ContextObject::deref() noexcept
{
    if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
        delete this;
}

} // namespace QtActors::detail
