// ActorTimer: one timer's state machine (see detail/actortimer.h), and the Timer handle.

#include <QtActors/detail/actortimer.h>
#include <QtActors/timer.h>

#include "runtime_p.h"

#include <QtCore/QLoggingCategory>

namespace QtActors::detail {

ActorTimer::ActorTimer(ActorCore *core, Clock::Duration period)
    : m_core(Ref<ActorCore>::share(core)), m_clock(core->scheduler()->clock()), m_period(period)
{
}

ActorTimer::~ActorTimer() = default;

void ActorTimer::start(Clock::Duration delay)
{
    m_due = m_clock.now() + delay;
    m_clock.arm(this, m_due);
}

void ActorTimer::releaseHandlerIfDone() noexcept
{
    unsigned flags = m_flags.load(std::memory_order_acquire);
    while ((flags & (Cancelled | Finished)) && !(flags & (Running | Released))) {
        if (m_flags.compare_exchange_weak(flags, flags | Released, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
            releaseHandler();
            return;
        }
    }
}

void ActorTimer::cancel() noexcept
{
    const unsigned before = m_flags.fetch_or(Cancelled, std::memory_order_acq_rel);
    m_clock.disarm(this);
    releaseHandlerIfDone(); // unless a tick runs it: then the tick's end does
    if (!(before & Delivering) || m_deliveringThread.load() == std::this_thread::get_id())
        return; // nothing runs, or cancel() is called by the running tick itself
    // A tick started before the flag was set: wait until its handler has returned. Meanwhile
    // this thread, and the actor whose handler calls cancel(), wait for the timer's actor (S21):
    // if its tick then blocks waiting for one of them it gets Deadlock, and if it already does,
    // cancel() returns without waiting (no new tick starts either way).
    ActorCore *const self = ActorCore::current();
    WaitEdge edge;
    QString cycle;
    if (self && !self->beginWait(edge, m_core.get(), &cycle)) {
        qCWarning(lcQtActors, "QtActors: Timer::cancel() in a handler of actor '%s' did not wait "
                  "for the running tick of actor '%s': waiting would close the cycle %s",
                  qUtf8Printable(self->displayName()), qUtf8Printable(m_core->displayName()),
                  qUtf8Printable(cycle));
        return;
    }
    ThreadWait threadWait;
    const bool threadWaits = ActorCore::beginThreadWait(threadWait, m_core.get());
    if (!threadWaits) {
        qCWarning(lcQtActors, "QtActors: Timer::cancel() did not wait for the running tick of "
                  "actor '%s': the tick waits for an actor whose handlers run on this thread",
                  qUtf8Printable(m_core->displayName()));
    } else {
        if (self)
            shareReadiedActorBeforeWaiting(); // (as Call::wait(): it may be what the tick needs)
        const BlockingWait blocking;
        for (unsigned flags = m_flags.load(std::memory_order_acquire); flags & Delivering;
             flags = m_flags.load(std::memory_order_acquire))
            m_flags.wait(flags, std::memory_order_acquire);
        ActorCore::endThreadWait(threadWait);
    }
    if (edge.from)
        self->endWait(edge);
}

bool ActorTimer::isActive() const noexcept
{
    return !(m_flags.load(std::memory_order_acquire) & (Cancelled | Finished))
            && !m_core->isClosed();
}

void ActorTimer::fire() noexcept
{
    unsigned flags = m_flags.load(std::memory_order_acquire);
    if (flags & (Cancelled | Finished))
        return;
    if (m_core->isClosed()) { // the actor has ended, and its timers with it
        m_flags.fetch_or(Finished, std::memory_order_acq_rel);
        releaseHandlerIfDone();
        return;
    }
    if (m_period.count() > 0) {
        // The next tick, on the period's grid; ticks missed meanwhile are not made up.
        const Clock::Duration now = m_clock.now();
        m_due += m_period;
        if (m_due <= now)
            m_due = now + m_period - (now - m_due) % m_period;
        m_clock.arm(this, m_due);
        // A cancel() that ran between the check above and the arm found nothing to disarm.
        if (m_flags.load(std::memory_order_acquire) & Cancelled) {
            m_clock.disarm(this);
            return;
        }
        if (flags & (Queued | Running))
            return; // the last tick is still queued or running: skip this one (S18)
    }
    flags = m_flags.fetch_or(Queued, std::memory_order_acq_rel);
    if (flags & Queued)
        return; // (cannot happen: the clock fires one entry once at a time)
    ref(); // the tick's, given back by tickDisposed()
    m_core->send(&m_tick);
}

void ActorTimer::runTick(ActorCore &core, void *state)
{
    unsigned flags = m_flags.load(std::memory_order_relaxed);
    do {
        if (flags & (Cancelled | Released))
            return; // cancelled (or ended with its actor) after it was queued: never delivered
    } while (!m_flags.compare_exchange_weak(
            flags, flags | Running | Delivering | (m_period.count() > 0 ? 0u : unsigned(Finished)),
            std::memory_order_acq_rel, std::memory_order_relaxed));
    m_deliveringThread.store(std::this_thread::get_id());
    deliver(core, state);
}

void ActorTimer::endDelivery() noexcept
{
    m_deliveringThread.store(std::thread::id());
    m_flags.fetch_and(~unsigned(Delivering), std::memory_order_acq_rel);
    m_flags.notify_all();
}

void ActorTimer::endHandler() noexcept
{
    m_flags.fetch_and(~unsigned(Running), std::memory_order_acq_rel);
    releaseHandlerIfDone(); // a one-shot timer has delivered, or a cancel() came meanwhile
}

void ActorTimer::tickRefused() noexcept
{
    m_flags.fetch_or(Finished, std::memory_order_acq_rel);
    releaseHandlerIfDone();
}

void ActorTimer::tickDisposed() noexcept
{
    m_flags.fetch_and(~unsigned(Queued), std::memory_order_acq_rel);
    deref(); // may delete this
}

} // namespace QtActors::detail

namespace QtActors {

Timer::Timer() noexcept = default;
Timer::Timer(detail::Ref<detail::ActorTimer> timer) noexcept : d(std::move(timer)) { }
Timer::Timer(Timer &&other) noexcept = default;

Timer &Timer::operator=(Timer &&other) noexcept
{
    if (this != &other) {
        cancel();
        d = std::move(other.d);
    }
    return *this;
}

Timer::~Timer()
{
    cancel();
}

void Timer::cancel() noexcept
{
    if (d)
        d->cancel();
}

bool Timer::isActive() const noexcept
{
    return d && d->isActive();
}

void Timer::detach() && noexcept
{
    d = {};
}

} // namespace QtActors
