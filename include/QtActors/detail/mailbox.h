// Mailbox (MailboxHead + MailboxTail): an actor's queue of messages, intrusive, multi-producer and
// single-consumer. Senders push onto a lock-free stack (one compare-and-swap on the head); the
// consumer takes the whole stack in one exchange and reverses it, so messages come out in the
// order they were pushed. A sender thus writes only the head's line and its own message, never
// the message another sender has just pushed (as a linked FIFO would), which matters when several
// cores send to one actor at once. The message node is the message's own allocation, so a send
// allocates exactly once (the closure).
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

//! The producers' end of a mailbox. The two ends are separate objects so that their owner can put
//! other fields between them: each end then has cache lines of its own, and a consumer working
//! through a batch does not write into the line that every send updates.
class MailboxHead
{
public:
    MailboxHead() noexcept = default;
    MailboxHead(const MailboxHead &) = delete;
    MailboxHead &operator=(const MailboxHead &) = delete;

    //! Adds a message. Thread-safe, lock-free. It writes only this end's line and the message:
    //! never the message a sender on another core has just added.
    void push(MessageBase *message) noexcept
    {
        MessageBase *newest = m_newest.load(std::memory_order_relaxed);
        do {
            message->m_next.store(newest, std::memory_order_relaxed);
        } while (!m_newest.compare_exchange_weak(newest, message, std::memory_order_release,
                                                 std::memory_order_relaxed));
    }

private:
    friend class MailboxTail;
    std::atomic<MessageBase *> m_newest{nullptr}; // the messages not yet taken, newest first
};

//! The consumer's end of a mailbox.
class MailboxTail
{
public:
    MailboxTail() noexcept = default;
    MailboxTail(const MailboxTail &) = delete;
    MailboxTail &operator=(const MailboxTail &) = delete;

    //! The oldest message, or nullptr when the queue is empty (or its sender is still pushing
    //! it). Consumer only. When the messages taken before are done, takes all that were added
    //! since, in one exchange, and puts them in order.
    MessageBase *pop(MailboxHead &head) noexcept
    {
        if (!m_oldest) {
            if (!head.m_newest.load(std::memory_order_relaxed))
                return nullptr; // nothing: no write to the senders' line
            MessageBase *newest = head.m_newest.exchange(nullptr, std::memory_order_acquire);
            MessageBase *oldest = nullptr;
            while (newest) {
                MessageBase *next = newest->m_next.load(std::memory_order_relaxed);
                newest->m_next.store(oldest, std::memory_order_relaxed);
                oldest = newest;
                newest = next;
            }
            if (!oldest)
                return nullptr; // (the load saw one; only this consumer takes them)
            m_oldest = oldest;
        }
        MessageBase *message = m_oldest;
        m_oldest = message->m_next.load(std::memory_order_relaxed);
        return message;
    }

private:
    MessageBase *m_oldest = nullptr; // taken, in order, not yet popped
};

} // namespace QtActors::detail
