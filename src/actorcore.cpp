// The turn loop and the close/finalize protocol described at the top of actorcore.h.

#include <QtActors/detail/actorcore.h>
#include <QtActors/detail/handler.h>

#include "runtime_p.h"

#include <QtCore/QThread>

#include <thread>

namespace QtActors {
Q_LOGGING_CATEGORY(lcQtActors, "qtactors")
}

namespace QtActors::detail {

namespace {

thread_local ActorCore *t_current = nullptr;

class CurrentScope
{
public:
    explicit CurrentScope(ActorCore *core) noexcept : m_previous(std::exchange(t_current, core)) { }
    ~CurrentScope() { t_current = m_previous; }
    CurrentScope(const CurrentScope &) = delete;
    CurrentScope &operator=(const CurrentScope &) = delete;

private:
    ActorCore *m_previous;
};

QString describe(const std::exception_ptr &error)
{
    try {
        std::rethrow_exception(error);
    } catch (const std::exception &e) {
        return QString::fromUtf8(e.what());
    } catch (...) {
        return QStringLiteral("an exception not derived from std::exception");
    }
}

} // namespace

std::exception_ptr stoppedError(const ActorCore *core) noexcept
{
    try {
        return std::make_exception_ptr(ActorStopped(
                QStringLiteral("QtActors: actor '%1' is stopped; the call was not handled")
                        .arg(core ? core->displayName() : QStringLiteral("(null)"))));
    } catch (...) {
        return std::current_exception();
    }
}

ActorCore *ActorCore::current() noexcept
{
    return t_current;
}

ActorCore::ActorCore(const Options &options)
    : m_scheduler(options.executor.bind(options.name)), m_name(options.name)
{
    m_inbox.attach(m_outbox);
    m_throughput = options.throughput > 0 ? options.throughput : m_scheduler->defaultThroughput();
    m_linger = m_scheduler->linger();
}

ActorCore::~ActorCore()
{
    // Reached with work left only when the context never ran again (its event loop was gone at
    // process exit): nothing may be lost silently.
    while (MessageBase *message = m_outbox.pop(m_inbox)) {
        if (message == &m_stopNode)
            continue;
        refuse(message);
    }
    completeStopWaiters();
}

void ActorCore::releaseHandle() noexcept
{
    if (m_handles.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        requestStop();
        deref(); // the reference all handles shared
    }
}

bool ActorCore::tryAddHandle() noexcept
{
    int n = m_handles.load(std::memory_order_relaxed);
    while (n > 0) {
        if (m_handles.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel,
                                            std::memory_order_relaxed))
            return true;
    }
    return false;
}

void ActorCore::send(MessageBase *message) noexcept
{
    std::uint64_t old = m_state.load(std::memory_order_relaxed);
    do {
        if (old & Closed) {
            refuse(message);
            return;
        }
    } while (!m_state.compare_exchange_weak(old, old + One, std::memory_order_acq_rel,
                                            std::memory_order_relaxed));
    m_inbox.push(message);
    if ((old >> 1) == 0) {
        ref(); // the turn token
        scheduleTurn();
    }
}

void ActorCore::refuse(MessageBase *message) noexcept
{
    if (message->isCast())
        qCWarning(lcQtActors, "QtActors: actor '%s' is stopped; a cast was dropped",
                  qUtf8Printable(displayName()));
    else
        qCInfo(lcQtActors, "QtActors: actor '%s' is stopped; a call was answered with ActorStopped",
               qUtf8Printable(displayName()));
    message->drop(this);
    message->dispose();
}

void ActorCore::requestStop(Ref<CallState<void>> waiter)
{
    if (waiter) {
        QMutexLocker lock(&m_stopMutex);
        if (m_finalized) {
            lock.unlock();
            waiter->complete();
            return;
        }
        if (!m_stopWaiters)
            m_stopWaiters = std::make_unique<std::vector<Ref<CallState<void>>>>();
        m_stopWaiters->push_back(std::move(waiter));
    }
    std::uint64_t old = m_state.load(std::memory_order_relaxed);
    do {
        if (old & Closed)
            return;
    } while (!m_state.compare_exchange_weak(old, (old | Closed) + One, std::memory_order_acq_rel,
                                            std::memory_order_relaxed));
    m_inbox.push(&m_stopNode);
    if ((old >> 1) == 0) {
        ref();
        scheduleTurn();
    }
}

void ActorCore::scheduleTurn() noexcept
{
    m_scheduler->schedule(this);
}

MessageBase *ActorCore::popCounted() noexcept
{
    // The count says the message exists; its sender may still be between CAS and push.
    for (int spins = 0;; ++spins) {
        if (MessageBase *message = m_outbox.pop(m_inbox))
            return message;
        if (spins > 16)
            std::this_thread::yield();
    }
}

void ActorCore::runTurn() noexcept
{
    CurrentScope scope(this);
    std::uint64_t finished = 0; // handled this turn, not yet subtracted from m_state
    int budget = m_throughput;
    bool lastWasCast = false;

    for (;;) {
        // A coroutine handler holds the actor (S2): continue it when woken, else park.
        while (m_busy) {
            if (m_park.load(std::memory_order_acquire) == Running) {
                if (finished) {
                    m_state.fetch_sub(finished * One, std::memory_order_acq_rel);
                    finished = 0;
                }
                int expected = Running;
                if (m_park.compare_exchange_strong(expected, Parked, std::memory_order_acq_rel,
                                                   std::memory_order_acquire))
                    return; // wake() schedules the next turn with our token
            }
            m_park.store(Running, std::memory_order_relaxed);
            std::coroutine_handle<> h = std::exchange(m_wakeHandle, {});
            if (h)
                h.resume(); // may finish the handler: handlerFinished() clears m_busy
            else
                m_busy = false; // it finished outside the actor's turn
            if (!m_busy)
                ++finished;
        }

        std::uint64_t available = (m_state.load(std::memory_order_acquire) >> 1) - finished;
        while (available > 0 && budget > 0) {
            MessageBase *message = popCounted();
            --available;
            --budget;
            if ((!m_stateAddress || m_contextLost) && message->needsState()) {
                refuse(message); // State failed to build, or no context to run on
                ++finished;
                continue;
            }
            try {
                message->run(*this, m_stateAddress);
            } catch (...) {
                // Handlers' own exceptions are caught by the messages; this is the machinery
                // itself failing (e.g. no memory for a coroutine frame).
                logCastError(std::current_exception());
            }
            lastWasCast = message->isCast();
            if (message != &m_stopNode)
                message->dispose();
            if (m_busy)
                break;
            ++finished;
        }
        if (m_busy)
            continue;
        if (finished > 0 && budget > 0 && lingerForMore(finished, lastWasCast))
            continue;

        const std::uint64_t previous = m_state.fetch_sub(finished * One, std::memory_order_acq_rel);
        const std::uint64_t remaining = (previous >> 1) - finished;
        finished = 0;
        if (remaining == 0) {
            if (previous & Closed)
                finalize();
            deref(); // the turn token; may delete this
            return;
        }
        if (budget <= 0) {
            if (!m_contextLost && !isDeliveringAtAppExit()) {
                scheduleTurn(); // yield the thread to others sharing it (S5); the token moves on
                return;
            }
            budget = m_throughput; // no context to yield to: drain completely
        }
    }
}

void ActorCore::runWithoutContext() noexcept
{
    qCWarning(lcQtActors, "QtActors: actor '%s': its thread's event loop has ended; messages still "
              "queued are dropped and State is destroyed off its thread",
              qUtf8Printable(displayName()));
    m_contextLost = true;
    if (m_busy) {
        // A suspended coroutine handler can never be resumed on its context either.
        deref();
        return;
    }
    runTurn();
}

bool ActorCore::lingerForMore(std::uint64_t finished, bool afterCast) noexcept
{
    if (m_linger.count() <= 0 || m_contextLost || isDeliveringAtAppExit())
        return false;
    // Every look at m_state pulls the senders' cache line away from them. After a call, look
    // often: its caller is about to send the next one and waits for the answer. After a cast,
    // look every 10 µs, so that a stream of casts piles up in its sender's cache and is then
    // handled as one batch, instead of costing a cache-line round trip per message.
    using Clock = std::chrono::steady_clock;
    const auto interval = afterCast ? std::chrono::microseconds(10) : std::chrono::microseconds(0);
    auto now = Clock::now();
    const auto deadline = now + m_linger;
    auto nextLook = now;
    for (;;) {
        if (now >= nextLook) {
            const std::uint64_t state = m_state.load(std::memory_order_acquire);
            if ((state >> 1) > finished)
                return true; // more arrived while this turn holds the token: no wake-up needed
            if (state & Closed)
                return false;
            nextLook = now + interval;
        }
        if (now > deadline || m_scheduler->othersWaiting())
            return false;
        for (int k = 0; k < 16; ++k) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        now = Clock::now();
    }
}

void ActorCore::wake(std::coroutine_handle<> h) noexcept
{
    m_wakeHandle = h;
    if (m_park.exchange(Woken, std::memory_order_acq_rel) == Parked)
        scheduleTurn();
}

void ActorCore::handlerFinished() noexcept
{
    if (t_current == this)
        m_busy = false;
    else
        wake({});
}

void ActorCore::finalize() noexcept
{
    if (m_stateAddress)
        destroyState();
    completeStopWaiters();
    m_scheduler->detach();
}

void ActorCore::completeStopWaiters() noexcept
{
    std::unique_ptr<std::vector<Ref<CallState<void>>>> waiters;
    {
        QMutexLocker lock(&m_stopMutex);
        m_finalized = true;
        waiters = std::move(m_stopWaiters);
    }
    if (waiters)
        for (auto &waiter : *waiters)
            waiter->complete();
}

void ActorCore::constructionFailed(std::exception_ptr error) noexcept
{
    qCWarning(lcQtActors, "QtActors: actor '%s': constructing State threw (%s); the actor is stopped",
              qUtf8Printable(displayName()), qUtf8Printable(describe(error)));
    requestStop();
}

void ActorCore::logCastError(std::exception_ptr error) const noexcept
{
    qCWarning(lcQtActors, "QtActors: actor '%s': a cast handler threw: %s",
              qUtf8Printable(displayName()), qUtf8Printable(describe(error)));
}

QString ActorCore::displayName() const
{
    return CallStateBase::Owner{this, nullptr, m_name}.displayName();
}

CallStateBase::Owner ActorCore::owner() const
{
    return {this, m_scheduler->thread(), m_name};
}

} // namespace QtActors::detail
