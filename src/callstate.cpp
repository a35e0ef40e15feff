// CallState publication and ResumeTarget: the hand-over from the thread that answers a call to
// the code that waits for it (a coroutine, a QPromise or a blocked thread).

#include "contextobject_p.h"
#include "runtime_p.h"
#include "tuning_p.h"

#include <QtActors/detail/actorcore.h>

#include <QtCore/QThread>
#include <QtCore/QThreadPool>

#include <chrono>
#include <climits>
#if defined(Q_OS_LINUX)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace QtActors::detail {

namespace {

// Blocking waits on a CallState's status word. On Linux, futexes on the word itself: a waiter
// with a deadline (on the system clock) sleeps until it, so a blocking call with a timeout needs
// no timer. Elsewhere, C++20 atomic waits, and deadlines come from a timeout entry.
#if defined(Q_OS_LINUX)
constexpr bool TimedBlockingWaits = true;

void sleepWhile(std::atomic<unsigned> &status, unsigned value, std::int64_t deadlineNs) noexcept
{
    static_assert(sizeof(std::atomic<unsigned>) == sizeof(std::uint32_t));
    timespec until{};
    timespec *timeout = nullptr;
    if (deadlineNs != CallStateBase::NoDeadline) {
        until.tv_sec = time_t(deadlineNs / 1'000'000'000);
        until.tv_nsec = long(deadlineNs % 1'000'000'000);
        timeout = &until; // absolute, CLOCK_MONOTONIC: the clock of std::chrono::steady_clock
    }
    syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&status), FUTEX_WAIT_BITSET_PRIVATE,
            value, timeout, nullptr, FUTEX_BITSET_MATCH_ANY);
}

void wakeSleepers(std::atomic<unsigned> &status) noexcept
{
    syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&status), FUTEX_WAKE_PRIVATE, INT_MAX,
            nullptr, nullptr, 0);
}
#else
constexpr bool TimedBlockingWaits = false;

void sleepWhile(std::atomic<unsigned> &status, unsigned value, std::int64_t) noexcept
{
    status.wait(value, std::memory_order_acquire);
}

void wakeSleepers(std::atomic<unsigned> &status) noexcept
{
    status.notify_all();
}
#endif

} // namespace

QString CallStateBase::Owner::displayName() const
{
    return core ? core->displayName() : QString::fromLatin1(what);
}

QThread *CallStateBase::Owner::thread() const noexcept
{
    return core ? core->scheduler()->thread() : nullptr;
}

Clock &CallStateBase::Owner::clock() const noexcept
{
    return core ? core->clock() : systemClock();
}


namespace {

thread_local CallStateBase *t_currentCall = nullptr;

} // namespace

CallStateBase::~CallStateBase()
{
    if (m_owner.counted)
        m_owner.counted->deref(); // may be the last reference on the actor's core
}

CallStateBase *CallStateBase::current() noexcept
{
    return t_currentCall;
}

CallStateBase *CallStateBase::CurrentScope::enter(CallStateBase *call) noexcept
{
    return std::exchange(t_currentCall, call);
}

void CallStateBase::setTimeout(Clock::Duration limit) noexcept
{
    const std::int64_t now = clock().now().count();
    const std::int64_t remaining = std::max<std::int64_t>(limit.count(), 0);
    setDue(remaining >= NoDeadline - now ? NoDeadline - 1 : now + remaining);
}

void CallStateBase::armTimeoutEntry() noexcept
{
    const std::int64_t deadline = due();
    if (deadline == NoDeadline || isReady())
        return;
    // The clock takes a reference, and holds this state until it fires or finds it obsolete
    // (answered). A consumer consumes once: this state is armed at most once.
    ref();
    try {
        clock().armLazily(this, Clock::Duration(deadline));
    } catch (...) {
        expire(); // the clock could not take it (no memory): the call cannot wait for its deadline
        deref();
    }
}

namespace {
//! The deadline has come on `clock`; the precise clock is read only when the cheap bound says
//! it may have.
bool isDue(const Clock &clock, std::int64_t deadline) noexcept
{
    if (deadline == CallStateBase::NoDeadline || clock.latestNow().count() < deadline)
        return false;
    return clock.now().count() >= deadline;
}
} // namespace

bool CallStateBase::isCancelled() const noexcept
{
    if (m_timedOut.load(std::memory_order_acquire))
        return true;
    return isDue(clock(), due());
}

bool CallStateBase::expireIfPast() noexcept
{
    if (!isDue(clock(), due()))
        return false;
    expire();
    return true;
}

void CallStateBase::expire() noexcept
{
    if (!tryClaim())
        return; // answered first: the timeout has nothing to do
    m_timedOut.store(true, std::memory_order_release);
    try {
        m_error = std::make_exception_ptr(
                Timeout(QStringLiteral("QtActors: actor '%1' did not answer before the call's "
                                       "deadline")
                                .arg(m_owner.displayName())));
    } catch (...) {
        m_error = std::current_exception();
    }
    if (isClockThread())
        publishOnClockThread();
    else
        publish();
}

void CallStateBase::afterPublishing(unsigned previous) noexcept
{
    switch (previous) {
    case Waiting:
        m_continuation->resume();
        break;
    case Blocking:
        wakeSleepers(m_status);
        break;
    case Abandoned:
        if (m_error)
            logLostError();
        break;
    default:
        break;
    }
}

void CallStateBase::publish() noexcept
{
    // The publisher holds a reference, so `this` outlives this function.
    afterPublishing(m_status.exchange(Ready, std::memory_order_acq_rel));
}

void CallStateBase::publishOnClockThread() noexcept
{
    const unsigned previous = m_status.exchange(Ready, std::memory_order_acq_rel);
    if (previous == Waiting && m_continuation->resumesHere() && resumeOnContinuationPool())
        return;
    afterPublishing(previous);
}

bool CallStateBase::resumeOnContinuationPool() noexcept
{
    ref(); // (the pool's, for as long as the resume is on its way)
    try {
        continuationPool()->start([this] {
            // The pool hands it over inside Qt, where ThreadSanitizer sees no edge: the status
            // the clock's thread published is the library's own.
            (void)m_status.load(std::memory_order_acquire);
            m_continuation->resume();
            deref();
        });
        return true;
    } catch (...) {
        deref(); // no memory to hand it off: it resumes here after all
        return false;
    }
}

void CallStateBase::releaseHolder() noexcept
{
    if (m_holders.fetch_sub(1, std::memory_order_acq_rel) != 1)
        return;
    if (m_claimed.load(std::memory_order_acquire))
        return;
    try {
        fail(std::make_exception_ptr(BrokenReply(
                QStringLiteral("QtActors: actor '%1': the Reply was destroyed without answering")
                        .arg(m_owner.displayName()))));
    } catch (...) {
        fail(std::current_exception());
    }
}

bool CallStateBase::setContinuation(Continuation *c) noexcept
{
    m_continuation = c;
    unsigned expected = Pending;
    return m_status.compare_exchange_strong(expected, Waiting, std::memory_order_acq_rel,
                                            std::memory_order_acquire);
}

void CallStateBase::waitBlocking()
{
    auto &status = m_status;
    // A thread outside any turn may run the awaited actor's turn itself, if it has not started
    // (pools only): the answer then needs no other thread to wake up, or to find a free core.
    // Not with a deadline: the turn runs the messages queued before this call too, and one of
    // them may take longer than the deadline leaves (S17: the wait ends at the deadline).
    if (m_owner.core && !ActorCore::current() && !hasDeadline()
        && status.load(std::memory_order_acquire) != Ready
        && m_owner.core->scheduler()->runForWaiter(m_owner.core, *this)
        && status.load(std::memory_order_acquire) == Ready) {
        return;
    }
    // A handler on a pool: the actor its turn just woke (likely the one this call waits for)
    // waits in the pump's slot, where the other pool threads do not look; hand it to them.
    if (ActorCore::current())
        shareReadiedActorBeforeWaiting();
    // Spin briefly first: a round trip to a thread that is awake takes a few microseconds, while
    // sleeping in the kernel and being woken costs tens on a virtual machine. Single-core
    // machines skip it, as the answer cannot arrive while this thread spins.
    if (spinningPays()) {
        const auto deadline = std::chrono::steady_clock::now() + tuning::WaitSpin;
        for (int i = 1;; ++i) {
            if (status.load(std::memory_order_acquire) == Ready)
                return;
            if (i % 64 == 0 && std::chrono::steady_clock::now() > deadline)
                break; // (the clock is read once per 64 pauses: it costs more than one)
            cpuRelax();
        }
    }
    // S21: a handler blocked here makes its actor wait for the answering one.
    WaitEdge edge;
    ActorCore *self = ActorCore::current();
    if (self && m_owner.core) {
        QString cycle;
        if (!self->beginWait(edge, m_owner.core, &cycle))
            throwCycle(cycle);
    }
    struct EndWait
    {
        ActorCore *self;
        WaitEdge &edge;
        ~EndWait()
        {
            if (self && edge.from)
                self->endWait(edge);
        }
    } endWait{self, edge};
    if (self && m_owner.core && self->threadWaitsForMe(m_owner.core)) {
        throw Deadlock(QStringLiteral("QtActors: wait() in a handler of actor '%1' for actor '%2' "
                                      "would never finish: the thread of '%2' is blocked in "
                                      "Timer::cancel() until this handler returns")
                               .arg(self->displayName(), m_owner.displayName()));
    }
    unsigned expected = Pending;
    if (!status.compare_exchange_strong(expected, Blocking, std::memory_order_acq_rel,
                                        std::memory_order_acquire))
        return; // Ready already
    // With a deadline on the system clock, this thread keeps the time itself; on another clock
    // (an executor's own), its timeout entry answers.
    const bool timed = TimedBlockingWaits && hasDeadline() && &clock() == &systemClock();
    if (hasDeadline() && !timed)
        armTimeoutEntry();
    // A pool thread that blocks lends its place to another, so that the actor it waits for
    // (maybe on the same pool) can still get a thread.
    const BlockingWait blocking;
    while (status.load(std::memory_order_acquire) != Ready) {
        if (timed && systemClock().now().count() >= due()) {
            expire(); // answers Timeout, unless the answer won (either way: Ready)
            continue;
        }
        sleepWhile(status, Blocking, timed ? due() : NoDeadline);
    }
}

void CallStateBase::abandon() noexcept
{
    unsigned expected = Pending;
    if (m_status.compare_exchange_strong(expected, Abandoned, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
        return;
    if (expected == Ready && m_error)
        logLostError();
}

void CallStateBase::logLostError() const noexcept
{
    try {
        std::rethrow_exception(m_error);
    } catch (const ActorStopped &e) {
        qCInfo(lcQtActors, "QtActors: an unread call failed: %s", e.what());
    } catch (const std::exception &e) {
        qCWarning(lcQtActors, "QtActors: actor '%s': a call failed and nobody read the answer: %s",
                  qUtf8Printable(m_owner.displayName()), e.what());
    } catch (...) {
        qCWarning(lcQtActors, "QtActors: actor '%s': a call failed and nobody read the answer",
                  qUtf8Printable(m_owner.displayName()));
    }
}

void CallStateBase::checkDeadlock() const
{
    if (m_owner.core && ActorCore::current() == m_owner.core) {
        throw Deadlock(QStringLiteral("QtActors: wait() inside a handler of actor '%1' for that "
                                      "same actor's answer would never finish")
                               .arg(m_owner.displayName()));
    }
    if (QThread *thread = m_owner.thread(); thread && thread == QThread::currentThread()) {
        throw Deadlock(QStringLiteral("QtActors: wait() on thread '%1' for actor '%2', whose "
                                      "handlers run on that thread, would never finish")
                               .arg(thread->objectName(), m_owner.displayName()));
    }
}

void logThenError(const CallStateBase::Owner &owner, std::exception_ptr error,
                  const char *what) noexcept
{
    try {
        std::rethrow_exception(error);
    } catch (const std::exception &e) {
        qCWarning(lcQtActors, "QtActors: actor '%s': %s: %s", qUtf8Printable(owner.displayName()),
                  what, e.what());
    } catch (...) {
        qCWarning(lcQtActors, "QtActors: actor '%s': %s", qUtf8Printable(owner.displayName()), what);
    }
}

void throwConsumedCall(const char *where)
{
    throw Error(QStringLiteral("QtActors: %1 on a Call that was already consumed or moved from")
                        .arg(QString::fromLatin1(where)));
}

bool CallStateBase::beginAwait(ActorCore *self, WaitEdge &edge, QString *cycle) noexcept
{
    return self->beginWait(edge, m_owner.core, cycle);
}

void CallStateBase::endAwait(WaitEdge &edge) noexcept
{
    edge.from->endWait(edge);
}

void CallStateBase::throwCycle(const QString &cycle)
{
    throw Deadlock(QStringLiteral("QtActors: this call would close a cycle of actors each waiting "
                                  "on the next (%1) and never finish. An exclusive coroutine "
                                  "handler, or one blocked in wait(), holds its actor while it "
                                  "waits; interleaved() lets an actor handle other messages "
                                  "meanwhile")
                           .arg(cycle));
}

ResumeTarget ResumeTarget::current()
{
    ResumeTarget target;
    if (CallStateBase *call = CallStateBase::current()) {
        call->ref();
        target.m_call = call;
    }
    if (ActorCore *core = ActorCore::currentCoroutineHandler()) {
        core->ref();
        target.m_core = core;
        target.m_handler = ActorCore::currentCoroutineHandlerId();
        target.m_holds = core->isHeldBy(target.m_handler);
    } else if (ContextObject *context = runsPoolTurns() ? nullptr : ContextObject::forCurrentThread()) {
        // (A pool's threads have an event dispatcher but never run its loop.)
        context->ref();
        target.m_context = context;
    }
    return target;
}

ResumeTarget::ResumeTarget(ResumeTarget &&o) noexcept
    : m_core(std::exchange(o.m_core, nullptr)),
      m_context(std::exchange(o.m_context, nullptr)),
      m_call(std::exchange(o.m_call, nullptr)), m_handler(std::exchange(o.m_handler, 0)),
      m_holds(std::exchange(o.m_holds, false))
{
}

ResumeTarget &ResumeTarget::operator=(ResumeTarget &&o) noexcept
{
    std::swap(m_core, o.m_core);
    std::swap(m_context, o.m_context);
    std::swap(m_call, o.m_call);
    std::swap(m_handler, o.m_handler);
    std::swap(m_holds, o.m_holds);
    return *this;
}

ResumeTarget::~ResumeTarget()
{
    if (m_core)
        m_core->deref();
    if (m_context)
        m_context->deref();
    if (m_call)
        m_call->deref();
}

void ResumeTarget::resume(ResumeNode &node) noexcept
{
    // Once handed over, the coroutine may run (and destroy this) at once: no member access after.
    node.call = m_call;
    node.handler = m_handler;
    if (ActorCore *core = m_core)
        core->wake(&node);
    else if (ContextObject *context = m_context)
        context->postResume(node.handle);
    else
        resumeOutsideTurns(node);
}

} // namespace QtActors::detail

namespace QtActors {

bool isCancelled() noexcept
{
    const detail::CallStateBase *call = detail::CallStateBase::current();
    return call && call->isCancelled();
}

} // namespace QtActors
