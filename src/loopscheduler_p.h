// LoopScheduler: runs actors' turns on one QThread's event loop, one posted event per wake-up (not
// per message). The base of the thread(t) and dedicatedThread() executors.
//
// The end of the loop. A thread's event loop may end under its actors: the application quits a
// QThread it owns (thread(t)), or a handler quits its own dedicated thread. end() runs on that
// thread while it still runs (from QThread::finished, or after the dedicated thread's exec()):
// from then on nothing is posted to the thread; every actor bound here is closed; the turns
// already posted run at once, in place, refusing what is queued (calls get ActorStopped, casts are
// logged); and State is destroyed there. Turns that become due while end() runs (a sender racing
// the end) run there too: end() returns once every actor bound here has finished, or is held by
// a suspended coroutine handler. A turn that becomes due after that (the handler resumed by its
// answer) runs on the library's reaper thread under the same rules.
//
// Thread contract: schedule(), attach(), detach() and end() are thread-safe. end() runs once.
#pragma once

#include <QtActors/detail/actorcore.h>
#include <QtActors/detail/scheduler.h>

#include <mutex>

#include <atomic>
#include <unordered_set>
#include <vector>

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace QtActors::detail {

class ContextObject;

class LoopScheduler : public Scheduler
{
public:
    //! Posts to `thread`'s event loop (the thread may start later).
    explicit LoopScheduler(QThread *thread);
    ~LoopScheduler() override;

    void schedule(ActorCore *core) override;
    QThread *thread() const override { return m_thread; }
    bool yieldsTurns() const noexcept override
    {
        return !m_draining.load(std::memory_order_relaxed);
    }
    void attach(ActorCore *core) override;
    void detach(ActorCore *core) override;

    //! The loop has ended for good (see the top of this file). Runs once; later calls do nothing.
    void end();
    bool hasEnded() const;
    //! Delivers the wake-ups posted so far, and those their handlers post, with turns that drain
    //! their actors completely. On the loop's thread (the main thread at application exit).
    void drainPosted();

protected:
    //! With the mutex held, while the loop has not ended: the QThread object is still alive.
    template <typename F>
    void whileRunning(F &&f) const
    {
        const std::lock_guard lock(m_mutex);
        if (!m_ended)
            f();
    }

private:
    QThread *const m_thread; // compared, and used only while !m_ended
    mutable std::mutex m_mutex; // std::, so that ThreadSanitizer sees it
    bool m_ended = false;                   // guarded by m_mutex
    bool m_ending = false;                  // end() runs; guarded by m_mutex
    std::vector<ActorCore *> m_late;        // turns due while end() runs; guarded by m_mutex
    std::unordered_set<ActorCore *> m_actors; // attached, not yet detached; guarded by m_mutex
    ContextObject *m_context;               // lives in m_thread; gone once ended
    std::atomic<bool> m_draining{false};
};

} // namespace QtActors::detail
