// Reply<R>: answers a call later (S13). A handler of the form `void(State &, Reply<R>)` receives
// it and may keep it in State, move it to another thread or actor, and answer whenever it likes;
// the actor handles other messages meanwhile. Like QPromise, a Reply destroyed without answering
// finishes its call: the caller gets BrokenReply.
// Thread contract: move-only; answer from any thread, once. A second answer is ignored and logged,
// also when two threads answer through the same Reply object at the same time.
#pragma once

#include <QtActors/detail/callstate.h>

#include <atomic>
#include <exception>
#include <utility>

namespace QtActors {

template <typename R>
class Reply
{
public:
    //! An empty Reply, answering nothing (isPending() is false): a member to move one into.
    Reply() noexcept : m_state(nullptr) { }
    //! \internal
    explicit Reply(detail::Ref<detail::CallState<R>> state) noexcept : m_state(state.release())
    {
        m_state.load(std::memory_order_relaxed)->addHolder();
    }
    Reply(Reply &&other) noexcept
        : m_state(other.m_state.exchange(nullptr, std::memory_order_acq_rel))
    {
    }
    Reply &operator=(Reply &&other) noexcept
    {
        Reply(std::move(other)).swap(*this);
        return *this;
    }
    Reply(const Reply &) = delete;
    Reply &operator=(const Reply &) = delete;
    ~Reply()
    {
        if (detail::Ref<detail::CallState<R>> state = adopt())
            state->releaseHolder();
    }

    //! Answers the call with `value`.
    template <typename V = R>
        requires(!std::is_void_v<R> && std::is_convertible_v<V &&, R>)
    void operator()(V &&value) const
    {
        if (Answering a{take()})
            a.state->complete(R(std::forward<V>(value)));
    }
    //! Answers a Call<void>.
    void operator()() const
        requires std::is_void_v<R>
    {
        if (Answering a{take()})
            a.state->complete();
    }
    //! Answers the call with an error, rethrown to the caller.
    void fail(std::exception_ptr error) const
    {
        if (Answering a{take()})
            a.state->fail(std::move(error));
    }
    //! True until answered (or moved from).
    bool isPending() const noexcept { return m_state.load(std::memory_order_acquire) != nullptr; }

private:
    // Lets go of this Reply's hold only after answering, so that BrokenReply cannot win.
    struct Answering
    {
        detail::Ref<detail::CallState<R>> state;
        ~Answering()
        {
            if (state)
                state->releaseHolder();
        }
        explicit operator bool() const noexcept { return bool(state); }
    };

    detail::Ref<detail::CallState<R>> adopt() const noexcept
    {
        return detail::Ref<detail::CallState<R>>::adopt(
                m_state.exchange(nullptr, std::memory_order_acq_rel));
    }
    detail::Ref<detail::CallState<R>> take() const
    {
        detail::Ref<detail::CallState<R>> state = adopt();
        if (!state) {
            qCWarning(lcQtActors, "Reply answered twice (or after being moved from); answer ignored");
            return {};
        }
        return state;
    }
    void swap(Reply &o) noexcept
    {
        detail::CallState<R> *mine = m_state.exchange(nullptr, std::memory_order_acq_rel);
        m_state.store(o.m_state.exchange(mine, std::memory_order_acq_rel), std::memory_order_release);
    }

    // Owns one reference; an atomic exchange takes it, so that one answer wins.
    mutable std::atomic<detail::CallState<R> *> m_state;
};

} // namespace QtActors
