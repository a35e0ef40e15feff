// Resumption: how a suspended coroutine gets going again on the right context (S10).
//   ResumeNode   — one pending resumption. It lives inside the suspended coroutine's own frame
//                  (in the awaiter), so queueing it allocates nothing, and any number of them may
//                  be pending for one actor at once.
//   ResumeTarget — where the coroutine that awaits a Call continues, captured when it suspends:
//                  * inside an actor's coroutine handler: that actor's turn (ActorCore::wake);
//                  * on a thread with a Qt event dispatcher: that thread, through a posted event;
//                  * on a thread without one (a plain std::thread, a pool thread outside a
//                    handler): the thread that answers, but outside any actor's turn — after the
//                    answering turn has ended when the answer comes from a handler.
// Thread contract: a ResumeTarget is captured and consumed once, by one awaiter; resume() may be
// called from any thread.
#pragma once

#include <QtActors/detail/common.h>

#include <coroutine>
#include <cstdint>

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace QtActors::detail {

class ActorCore;
class CallStateBase;
class ContextObject;

//! One pending resumption, linked into an actor's (or a thread's) list of them.
struct ResumeNode
{
    enum Kind : unsigned char {
        Resume,         //!< resume `handle`
        HandlerEnd,     //!< `handle` is a finished exclusive handler's driver: destroy it
        InterleavedEnd, //!< the same for an interleaved handler (S22)
    };
    std::coroutine_handle<> handle;
    Kind kind = Resume;
    bool counted = false; //!< counted in the actor's work count (see ActorCore::wake)
    ResumeNode *next = nullptr;
    CallStateBase *call = nullptr; //!< the call whose handler awaited (isCancelled()), if any
    std::uint64_t handler = 0;     //!< the actor's coroutine handler it belongs to (0: none)
};

//! S21: one edge of the wait-for graph, "this actor waits for `target`" (an exclusive coroutine
//! handler suspended on a call `target` must answer, or a handler blocked in wait() on one).
//! Lives in the waiting awaiter, or on the blocked thread's stack; linked into the waiting
//! actor's list while it waits.
struct WaitEdge
{
    ActorCore *from = nullptr; // the waiting actor, whose list it is linked into
    ActorCore *target = nullptr;
    WaitEdge *next = nullptr;
    WaitEdge *prev = nullptr;
};

//! S21 for a thread, not an actor: it blocks until a running handler of `target` returns
//! (Timer::cancel() waiting for a tick), so no actor whose handlers run on it can answer meanwhile.
struct ThreadWait
{
    QThread *thread = nullptr;
    ActorCore *target = nullptr;
    ThreadWait *next = nullptr;
    ThreadWait *prev = nullptr;
};

class QTACTORS_EXPORT ResumeTarget
{
public:
    //! Captures where the calling code continues. Call on the awaiting thread.
    static ResumeTarget current();
    ResumeTarget() = default;
    ResumeTarget(ResumeTarget &&o) noexcept;
    ResumeTarget &operator=(ResumeTarget &&o) noexcept;
    ResumeTarget(const ResumeTarget &) = delete;
    ResumeTarget &operator=(const ResumeTarget &) = delete;
    ~ResumeTarget();
    //! The actor whose turn the coroutine continues on, or nullptr; and which of its handlers.
    ActorCore *actor() const noexcept { return m_core; }
    std::uint64_t handler() const noexcept { return m_handler; }
    //! True when the awaiting handler is the exclusive one holding actor() (it then waits, S21).
    bool holdsActor() const noexcept { return m_holds; }
    //! Resumes node.handle there. Any thread; once. node must stay valid until it has run (it
    //! lives in the suspended frame, so it does).
    void resume(ResumeNode &node) noexcept;
    //! True when resume() runs the coroutine on the calling thread (no actor, no event loop).
    bool resumesHere() const noexcept { return !m_core && !m_context; }

private:
    ActorCore *m_core = nullptr;        // holds a reference
    ContextObject *m_context = nullptr; // holds a reference
    CallStateBase *m_call = nullptr;    // holds a reference: the call being handled, if any
    std::uint64_t m_handler = 0;        // with m_core: which of its coroutine handlers awaits
    bool m_holds = false;               // ... and whether it is the exclusive one holding it
};

//! Runs node.handle on the calling thread, outside any actor's turn: at once when the thread is
//! not inside a turn, else right after the outermost turn on this thread ends. Any thread.
QTACTORS_EXPORT void resumeOutsideTurns(ResumeNode &node) noexcept;

} // namespace QtActors::detail
