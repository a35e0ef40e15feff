// ContextObject: a QObject living in one thread, the target of the library's posted events.
//   WakeEvent   — runs one turn of an actor bound to that thread (one event per wake-up, not per
//                 message);
//   ResumeEvent — resumes a coroutine that awaited a Call on that thread (S10).
// Each event carries a reference it releases when delivered or, if never delivered (the thread
// ended first), when Qt deletes it.
// Thread contract: post*() from any thread; event() runs in the object's thread.
#pragma once

#include <QtActors/detail/actorcore.h>

#include <QtCore/QEvent>
#include <QtCore/QObject>

#include <coroutine>

namespace QtActors::detail {

class ContextObject final : public QObject
{
public:
    explicit ContextObject(QObject *parent = nullptr) : QObject(parent) { }

    //! Schedules core->runTurn() in this object's thread; takes over the turn's reference.
    void postWake(ActorCore *core);
    //! Resumes h in this object's thread.
    void postResume(std::coroutine_handle<> h);

    //! The context of the calling thread, created on first use and owned by the thread (it is
    //! deleted when the thread ends). Null on threads without an event dispatcher.
    static ContextObject *forCurrentThread();

    //! Events delivered so far (wake-ups and resumptions). The object's thread only.
    quint64 delivered() const noexcept { return m_delivered; }
    static QEvent::Type wakeEventType() noexcept;
    static QEvent::Type resumeEventType() noexcept;

    //! Reference counting used by ResumeTarget: awaiters may outlive a finished thread.
    void ref() noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
    void deref() noexcept;

protected:
    bool event(QEvent *event) override;

private:
    std::atomic<int> m_refs{1};
    quint64 m_delivered = 0;
};

} // namespace QtActors::detail
