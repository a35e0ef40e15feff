// Timer: the handle of a timer started by Actor::castAfter() or Actor::castEvery() (S18).
// Move-only; like QTimer, it cancels when destroyed, unless it was detached.
// Thread contract: a Timer belongs to one thread at a time and may be moved to another;
// cancel() and isActive() may be called from any thread while the handle exists.
#pragma once

#include <QtActors/detail/common.h>

namespace QtActors {

namespace detail {
class ActorTimer;
}

class QTACTORS_EXPORT Timer
{
public:
    //! An empty timer: inactive; cancel() does nothing.
    Timer() noexcept;
    Timer(Timer &&other) noexcept;
    //! Cancels the timer this one held, then takes over `other`'s.
    Timer &operator=(Timer &&other) noexcept;
    Timer(const Timer &) = delete;
    Timer &operator=(const Timer &) = delete;
    //! Cancels (see cancel()).
    ~Timer();

    //! Stops the timer. Idempotent. Once it has returned nothing more is delivered, not even a
    //! tick already queued; a tick running on another thread right now is waited for (a tick
    //! that cancels its own timer returns at once). Never throws.
    void cancel() noexcept;
    //! True until the timer is cancelled, has delivered (castAfter), or its actor has ended.
    bool isActive() const noexcept;
    //! Lets the timer run on without a handle: it ends when it has delivered (castAfter) or
    //! when its actor ends. Leaves this handle empty.
    void detach() && noexcept;

    //! \internal
    explicit Timer(detail::Ref<detail::ActorTimer> timer) noexcept;

private:
    detail::Ref<detail::ActorTimer> d;
};

} // namespace QtActors
