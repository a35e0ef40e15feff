#include "contextobject_p.h"
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
        QTACTORS_HANDOFF_ACQUIRE(this); // before reading what the poster wrote
        ActorCore *core = m_core;
        if (!core)
            return; // delivered
        if (discardedInsideItsRunningLoop(m_target)) {
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
        QTACTORS_HANDOFF_ACQUIRE(this); // before reading what the poster wrote
        if (!m_handle)
            return; // delivered
        if (discardedInsideItsRunningLoop(m_target)) {
            take().resume();
        } else {
            // Its thread's loop is gone for good: the coroutine can never resume where it
            // awaited, and resuming it elsewhere would break what it relies on (S10). Its frame
            // is left alone.
            qCWarning(lcQtActors, "QtActors: a coroutine awaited a Call on a thread whose event loop "
                      "has ended; it will never resume (its frame is not destroyed)");
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

QEvent::Type ContextObject::wakeEventType() noexcept
{
    return WakeEventType;
}

QEvent::Type ContextObject::resumeEventType() noexcept
{
    return ResumeEventType;
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
        if (ActorCore *core = static_cast<WakeEvent *>(event)->take()) {
            ++m_delivered;
            core->runTurn();
        }
        return true;
    }
    if (event->type() == ResumeEventType) {
        QTACTORS_HANDOFF_ACQUIRE(event);
        ++m_delivered;
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
