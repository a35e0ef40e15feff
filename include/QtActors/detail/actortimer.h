// ActorTimer: the state behind one Timer (S18): a TimerEntry on the actor's clock that, when due,
// sends one tick to the actor. The tick is a message embedded in the timer, so a tick allocates
// nothing; at most one is queued or running at a time, so periodic ticks never pile up.
//
// Delivery and cancel. m_flags orders them: a tick runs its handler only if it sets Delivering
// before cancel() sets Cancelled, and cancel() waits for a Delivering tick to return (unless it is
// called from inside that tick, on its thread). So nothing starts after cancel() has returned.
//
// The timer holds the actor's core (its memory), not a handle: it never keeps the actor alive.
// Once the actor has closed, a due timer finishes without sending.
//
// The handler (and its captures) is destroyed as soon as the timer can never run it again:
// cancelled or finished, and no tick running. So a handler that holds its own Timer (to cancel
// itself) makes no cycle that outlives the timer.
//
// Thread contract: start() once, by the creator; cancel() and isActive() from any thread; fire()
// on the clock's thread; the tick's functions on the actor's turn.
#pragma once

#include <QtActors/detail/actorcore.h>
#include <QtActors/detail/clock.h>
#include <QtActors/detail/handler.h>

#include <atomic>
#include <optional>
#include <thread>

namespace QtActors::detail {

class QTACTORS_EXPORT ActorTimer : public TimerEntry
{
public:
    //! A zero period: once (castAfter); else every period (castEvery).
    ActorTimer(ActorCore *core, Clock::Duration period);
    //! Arms the first tick `delay` from now.
    void start(Clock::Duration delay);
    //! Idempotent; nothing is delivered once it has returned (see the top of this file).
    void cancel() noexcept;
    bool isActive() const noexcept;

    void fire() noexcept override;

    // Timers are made and dropped as often as messages: they live in the same recycled blocks.
    static void *operator new(std::size_t size) { return allocateMessage(size); }
    static void operator delete(void *block) noexcept { freeMessage(block); }

    // The tick, on the actor's turn:
    //! The handler has returned (a coroutine handler: it has suspended or ended).
    void endDelivery() noexcept;
    //! The handler has ended (a coroutine handler: its task). A periodic timer may tick again.
    void endHandler() noexcept;

protected:
    ~ActorTimer() override;
    //! Runs the handler with State; calls endDelivery() and, when the handler has ended,
    //! endHandler().
    virtual void deliver(ActorCore &core, void *state) = 0;
    //! Destroys the handler: it will never run again (see the top of this file). Once.
    virtual void releaseHandler() noexcept = 0;

private:
    enum Flag : unsigned {
        Cancelled = 1,  // cancel() was called
        Finished = 2,   // a one-shot timer has delivered, or the actor has ended
        Queued = 4,     // the tick message is in the mailbox or being handled
        Running = 8,    // the handler runs (a coroutine handler: until its task ends)
        Delivering = 16, // the handler's synchronous part runs; cancel() waits for it
        Released = 32    // the handler was destroyed
    };
    void releaseHandlerIfDone() noexcept;
    class Tick final : public MessageBase
    {
    public:
        explicit Tick(ActorTimer *owner) noexcept : m_owner(owner) { }
        void run(ActorCore &core, void *state) override { m_owner->runTick(core, state); }
        void drop(const ActorCore *) noexcept override { m_owner->tickRefused(); }
        void dispose() noexcept override { m_owner->tickDisposed(); }
        bool isCast() const noexcept override { return true; }
        bool logsRefusal() const noexcept override { return false; } // the timer ended with its actor
        bool isBounded() const noexcept override { return false; }

    private:
        ActorTimer *m_owner;
    };

    void runTick(ActorCore &core, void *state);
    void tickRefused() noexcept;
    void tickDisposed() noexcept;

    Tick m_tick{this};
    Ref<ActorCore> m_core;
    Clock &m_clock;
    const Clock::Duration m_period;
    Clock::Duration m_due{0}; // start(), then the clock's thread only
    std::atomic<unsigned> m_flags{0};
    std::atomic<std::thread::id> m_deliveringThread{};
};

//! Where a coroutine tick handler's end goes.
struct TimerSink
{
    Ref<ActorTimer> timer;
    void done() { timer->endHandler(); }
    void failed(ActorCore &core, std::exception_ptr e)
    {
        core.logCastError(std::move(e));
        timer->endHandler();
    }
};

template <typename State, typename F>
class TypedActorTimer final : public ActorTimer
{
public:
    template <typename G>
    TypedActorTimer(ActorCore *core, Clock::Duration period, G &&f)
        : ActorTimer(core, period), m_f(std::in_place, std::forward<G>(f))
    {
    }

private:
    void releaseHandler() noexcept override { m_f.reset(); }
    void deliver(ActorCore &core, void *state) override
    {
        State &s = *static_cast<State *>(state);
        if constexpr (CastHandler<State, F>::coroutine) {
            try {
                const std::uint64_t id = core.newHandlerId();
                const ActorCore::CoroutineHandlerScope scope(&core, id);
                // The frame holds the timer, and so the handler and its captures, until the task
                // ends (S2); the handler runs again at the next tick.
                auto self = Ref<TypedActorTimer>::share(this);
                auto handler = [self](State &st) { return std::invoke(*self->m_f, st); };
                drive<void>(core, ActorCore::HandlerMode::Exclusive, id, std::move(handler), s,
                            TimerSink{Ref<ActorTimer>::share(this)});
            } catch (...) {
                core.logCastError(std::current_exception()); // no frame: nothing else will
                endHandler();
            }
            endDelivery();
        } else {
            try {
                std::invoke(*m_f, s);
            } catch (...) {
                core.logCastError(std::current_exception());
            }
            endDelivery();
            endHandler();
        }
    }

    std::optional<F> m_f; // empty once released
};

} // namespace QtActors::detail
