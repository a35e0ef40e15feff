// Reply<R>: answers a call later (S13). A handler of the form `void(State &, Reply<R>)` receives
// it and may keep it in State, move it to another thread or actor, and answer whenever it likes;
// the actor handles other messages meanwhile. Like QPromise, a Reply destroyed without answering
// finishes its call: the caller gets BrokenReply.
// Thread contract: move-only; answer from any thread, once. A second answer is ignored and logged.
#pragma once

#include <QtActors/detail/callstate.h>

#include <exception>
#include <utility>

namespace QtActors {

template <typename R>
class Reply
{
public:
    //! \internal
    explicit Reply(detail::Ref<detail::CallState<R>> state) noexcept : m_state(std::move(state))
    {
        m_state->addHolder();
    }
    Reply(Reply &&other) noexcept : m_state(std::exchange(other.m_state, {})) { }
    Reply &operator=(Reply &&other) noexcept
    {
        Reply(std::move(other)).swap(*this);
        return *this;
    }
    Reply(const Reply &) = delete;
    Reply &operator=(const Reply &) = delete;
    ~Reply()
    {
        if (m_state)
            m_state->releaseHolder();
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
    bool isPending() const noexcept { return bool(m_state); }

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

    detail::Ref<detail::CallState<R>> take() const
    {
        detail::Ref<detail::CallState<R>> state = std::exchange(m_state, {});
        if (!state) {
            qCWarning(lcQtActors, "Reply answered twice (or after being moved from); answer ignored");
            return {};
        }
        return state;
    }
    void swap(Reply &o) noexcept { std::swap(m_state, o.m_state); }

    mutable detail::Ref<detail::CallState<R>> m_state;
};

} // namespace QtActors
