// Mailbox (MailboxHead + MailboxTail): an actor's queue of messages, an intrusive multi-producer single-consumer list
// (D. Vyukov's algorithm). push() is wait-free and takes no lock; the message node is the
// message's own allocation, so a send allocates exactly once (the closure).
// Thread contract: push() from any thread; pop() only from the actor's current turn.
#pragma once

#include <QtActors/detail/common.h>

#include <atomic>
#include <cstddef>
#include <exception>
#include <new>

namespace QtActors::detail {

class ActorCore;
class LatestMessageBase;

//! Memory for messages, recycled between the threads that send and handle them (see
//! src/messagememory.cpp). Any thread.
QTACTORS_EXPORT void *allocateMessage(std::size_t size);
QTACTORS_EXPORT void freeMessage(void *block) noexcept;

//! One queued closure. run() or drop() is called once, on the actor's turn (run) or on whichever
//! thread refuses or discards the message (drop); dispose() follows.
class MessageBase
{
public:
    virtual ~MessageBase() = default;
    //! Handles the message with the actor's State.
    virtual void run(ActorCore &core, void *state) = 0;
    //! The message will never run (the actor is stopped; `core` is null for a null handle):
    //! calls fail with ActorStopped.
    virtual void drop(const ActorCore *core) noexcept = 0;
    //! False for the messages that run before State exists or after it is gone.
    virtual bool needsState() const noexcept { return true; }
    //! Called once after run() or drop(): frees the message (or what of it nobody else shares).
    virtual void dispose() noexcept { delete this; }
    //! True for cast messages: a dropped cast is logged as a warning.
    virtual bool isCast() const noexcept { return false; }
    //! False for messages whose refusal is expected and says nothing (a timer's tick to an actor
    //! that has ended: the timer ends with it).
    virtual bool logsRefusal() const noexcept { return true; }
    //! False for the library's own messages, which a bounded mailbox never counts nor refuses
    //! (stop, emplace's construction, timer ticks).
    virtual bool isBounded() const noexcept { return true; }
    //! Refused for another reason than a stopped actor (a full mailbox): a call fails with
    //! `error`; a cast has nobody to tell (the refusal is logged). dispose() follows.
    virtual void refuseWith(std::exception_ptr error) noexcept { static_cast<void>(error); }
    //! The castLatest() message this is, or nullptr.
    virtual LatestMessageBase *asLatest() noexcept { return nullptr; }

    // Every message (and a call's answer, which shares its block) lives in recycled memory.
    static void *operator new(std::size_t size) { return allocateMessage(size); }
    static void operator delete(void *block) noexcept { freeMessage(block); }
    static void *operator new(std::size_t size, std::align_val_t align)
    {
        return ::operator new(size, align);
    }
    static void operator delete(void *block, std::align_val_t align) noexcept
    {
        ::operator delete(block, align);
    }

private:
    friend class MailboxHead;
    friend class MailboxTail;
    std::atomic<MessageBase *> m_next{nullptr};
};

class MailboxTail;

//! The producers' end of a mailbox. The two ends are separate objects so that their owner can put
//! other fields between them: each end then has cache lines of its own, and a consumer working
//! through a batch does not write into the line that every send updates.
class MailboxHead
{
public:
    MailboxHead() noexcept = default;
    MailboxHead(const MailboxHead &) = delete;
    MailboxHead &operator=(const MailboxHead &) = delete;

    //! Joins the two ends; once, before the first push().
    inline void attach(MailboxTail &tail) noexcept;

    //! Appends a message. Thread-safe, lock-free.
    void push(MessageBase *message) noexcept
    {
        message->m_next.store(nullptr, std::memory_order_relaxed);
        MessageBase *prev = m_head.exchange(message, std::memory_order_acq_rel);
        prev->m_next.store(message, std::memory_order_release);
    }

private:
    friend class MailboxTail;
    std::atomic<MessageBase *> m_head{nullptr};
};

//! The consumer's end of a mailbox.
class MailboxTail
{
public:
    MailboxTail() noexcept : m_tail(&m_stub) { }
    MailboxTail(const MailboxTail &) = delete;
    MailboxTail &operator=(const MailboxTail &) = delete;

    //! The oldest message, or nullptr when the queue is empty or a producer is between the two
    //! steps of push(). Consumer only.
    MessageBase *pop(MailboxHead &head) noexcept
    {
        MessageBase *tail = m_tail;
        MessageBase *next = tail->m_next.load(std::memory_order_acquire);
        if (tail == &m_stub) {
            if (!next)
                return nullptr;
            m_tail = next;
            tail = next;
            next = next->m_next.load(std::memory_order_acquire);
        }
        if (next) {
            m_tail = next;
            return tail;
        }
        if (tail != head.m_head.load(std::memory_order_acquire))
            return nullptr;
        head.push(&m_stub);
        next = tail->m_next.load(std::memory_order_acquire);
        if (next) {
            m_tail = next;
            return tail;
        }
        return nullptr;
    }

private:
    friend class MailboxHead;
    class Stub final : public MessageBase
    {
        void run(ActorCore &, void *) override { }
        void drop(const ActorCore *) noexcept override { }
        bool isBounded() const noexcept override { return false; }
    };

    MessageBase *m_tail;
    Stub m_stub;
};

void MailboxHead::attach(MailboxTail &tail) noexcept
{
    m_head.store(&tail.m_stub, std::memory_order_relaxed);
}

} // namespace QtActors::detail
