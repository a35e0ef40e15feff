// Flow control (S23–S25): what an actor keeps only when it is bounded or coalesces. An unbounded
// actor that never calls castLatest() has none of it (ActorCore::m_extras stays null), so its
// sends pay one load of a read-mostly pointer and no atomic operation.
//
//   FlowControl — the bound (S23) and the senders waiting for room (S24). Two ways of counting:
//                 - Reject: the senders add to `admitted` and the turn adds to `started`, each on
//                   a cache line of its own; waiting = admitted - started. A sender also keeps
//                   `roomUntil`, a value of `admitted` below which there is surely room (some
//                   earlier `started` + capacity), so it reads the turn's line only when it gets
//                   there. A bounded send costs one fetch_add; the turn's store stays in its own
//                   cache instead of pulling the senders' line over for every message.
//                 - DropOldest: one 64-bit word counts the messages waiting, the casts among them
//                   and the casts doomed (dropped when the turn reaches them, oldest first), so
//                   that a sender can doom the oldest cast in the same CAS that admits it; the turn
//                   takes one more RMW on the word when it starts a message.
//   LatestTable — the castLatest() messages still waiting, by key (S25).
//
// Thread contract: admit(), cancel(), the waiters and the table are thread-safe; start() and
// admitWaiters() run on the actor's turn.
#pragma once

#include <QtActors/detail/callstate.h>
#include <QtActors/detail/mailbox.h>
#include <QtActors/options.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace QtActors::detail {

class QTACTORS_EXPORT FlowControl
{
public:
    //! The largest capacity the counting word can hold.
    static constexpr qsizetype MaxCapacity = (qsizetype(1) << 21) - 1;

    FlowControl(qsizetype capacity, Overflow overflow) noexcept;
    qsizetype capacity() const noexcept { return m_capacity; }

    enum class Admission { Admitted, DroppingOldest, Refused };
    //! A sender's message asks for room. DroppingOldest: admitted, and the oldest waiting cast
    //! is doomed (the turn drops it). `strict`: only with room to spare (castWhenRoom never makes
    //! DropOldest drop). Any thread; one CAS.
    Admission admit(bool isCast, bool strict = false) noexcept;
    //! An admitted message that will not run after all (the actor was closed meanwhile, or a
    //! newer castLatest superseded it). Any thread.
    void cancel(bool isCast) noexcept;
    //! The turn starts a message that was admitted: true when it is a cast doomed by DropOldest
    //! (the turn drops it instead). Turn only.
    bool start(bool isCast) noexcept;
    //! Messages waiting that will run. Any thread (a snapshot).
    qsizetype waiting() const noexcept;

    // --- castWhenRoom (S24) ---
    struct Waiter
    {
        MessageBase *message;
        Ref<CallState<void>> accepted;
        Waiter *next = nullptr;
    };
    //! Queues `waiter` unless there is room and nobody waits before it: then admits it and
    //! returns false (the caller sends it). Refuses (returns true, waiter untouched, *closed
    //! set) once the actor has closed. Any thread.
    bool enqueueUnlessRoom(Waiter *waiter, bool *closed) noexcept;
    //! The waiters that fit now, in order, admitted, each with its acceptance claimed (the turn
    //! sends them, then publishes it). A waiter whose Call has finished meanwhile (its deadline
    //! passed, S17) takes no room: it goes to `*abandoned`, for the turn to drop unrun. Turn only.
    Waiter *admitWaiters(Waiter **abandoned) noexcept;
    bool hasWaiters() const noexcept { return m_hasWaiters.load(std::memory_order_seq_cst); }
    //! The actor has closed: every waiter, for the caller to fail; later ones are refused.
    Waiter *closeWaiters() noexcept;

    // --- Counting (S28 will show it) ---
    void countDropped() noexcept { m_dropped.fetch_add(1, std::memory_order_relaxed); }
    quint64 dropped() const noexcept { return m_dropped.load(std::memory_order_relaxed); }

private:
    Admission admitByWord(bool isCast, bool strict) noexcept;
    void cancelByWord(bool isCast) noexcept;
    bool startByWord(bool isCast) noexcept;

    // The packed word of DropOldest.
    static constexpr int Bits = 21;
    static constexpr std::uint64_t Field = (std::uint64_t(1) << Bits) - 1;
    static std::uint64_t waitingOf(std::uint64_t w) noexcept { return w & Field; }
    static std::uint64_t castsOf(std::uint64_t w) noexcept { return (w >> Bits) & Field; }
    static std::uint64_t doomedOf(std::uint64_t w) noexcept { return (w >> (2 * Bits)) & Field; }
    static constexpr std::uint64_t OneWaiting = 1;
    static constexpr std::uint64_t OneCast = std::uint64_t(1) << Bits;
    static constexpr std::uint64_t OneDoomed = std::uint64_t(1) << (2 * Bits);

    static constexpr std::size_t CacheLine = 64;

    const qsizetype m_capacity;
    const Overflow m_overflow;
    std::atomic<quint64> m_dropped{0};

    // The senders' line.
    alignas(CacheLine) std::atomic<std::uint64_t> m_admitted{0}; // Reject
    std::atomic<std::uint64_t> m_roomUntil;                      // Reject: admitted below it fit
    std::atomic<std::uint64_t> m_word{0};                        // DropOldest
    // The turn's line (Reject): written by the turn only, read by a sender that finds no room.
    alignas(CacheLine) std::atomic<std::uint64_t> m_started{0};
    // Read by the turn at every message; written when a sender starts or stops waiting.
    alignas(CacheLine) std::atomic<bool> m_hasWaiters{false};
    std::mutex m_mutex; // the waiters
    Waiter *m_head = nullptr;
    Waiter *m_tail = nullptr;
    bool m_closed = false;
};

//! A castLatest() message: a cast with a key. (Its typed subclass lives in handler.h.)
class QTACTORS_EXPORT LatestMessageBase : public MessageBase
{
public:
    //! `keyHash`: the key's qHash, computed once by the sender (it may throw: then castLatest()
    //! throws, before anything is sent).
    explicit LatestMessageBase(std::size_t keyHash) noexcept : m_keyHash(keyHash) { }
    LatestMessageBase *asLatest() noexcept override { return this; }
    bool isCast() const noexcept override { return true; }
    std::size_t keyHash() const noexcept { return m_keyHash; }
    //! True when `other` has the same key type and an equal key. A key's == that throws is
    //! logged and taken as "not equal" (both messages run).
    virtual bool sameKey(const LatestMessageBase &other) const noexcept = 0;
    //! Logs the exception a key's == threw: called in sameKey()'s catch block.
    static void logThrowingKeyComparison() noexcept;

private:
    friend class LatestTable;
    const std::size_t m_keyHash;
    bool m_superseded = false; // guarded by the table's mutex
};

//! The castLatest() messages waiting, by key: a newer one with an equal key supersedes the one
//! waiting. Thread-safe.
class QTACTORS_EXPORT LatestTable
{
public:
    enum class Offer { Superseding, Admitted, Refused, Closed };
    //! Registers `message` (not yet queued) and queues it: `queue(message)` pushes it into the
    //! mailbox, or returns false when the actor has closed. Both happen under the table's lock, so
    //! that the turn starting a waiting message, a newer one superseding it and the actor closing
    //! agree on who holds the room and what runs.
    //! - Superseding: it takes the place of a waiting one with an equal key, which the turn will
    //!   drop unrun, and of its room in `bound`, so it needs none (S25).
    //! - Admitted: no equal key waits; it took room in `bound` (if there is a bound).
    //! - Refused: `bound` has no room. Nothing was registered or queued.
    //! - Closed: `queue` refused it. Nothing was registered or superseded, no room is kept.
    template <typename Queue>
    Offer offer(LatestMessageBase *message, FlowControl *bound, Queue &&queue) noexcept
    {
        const std::lock_guard lock(m_mutex);
        if (LatestMessageBase **waiting = findEqual(*message)) {
            if (!queue(message))
                return Offer::Closed;
            std::exchange(*waiting, message)->m_superseded = true;
            return Offer::Superseding;
        }
        if (bound && bound->admit(true) == FlowControl::Admission::Refused)
            return Offer::Refused;
        const auto registered = tryRegister(message); // (without memory: a plain cast, unregistered)
        if (!queue(message)) {
            if (registered != m_waiting.end())
                m_waiting.erase(registered);
            if (bound)
                bound->cancel(true);
            return Offer::Closed;
        }
        return Offer::Admitted;
    }
    //! The turn reaches `message`: false when it was superseded (drop it, unrun). Turn only.
    bool start(LatestMessageBase *message) noexcept;

private:
    using Waiting = std::unordered_multimap<std::size_t, LatestMessageBase *>;
    LatestMessageBase **findEqual(const LatestMessageBase &message) noexcept;
    Waiting::iterator tryRegister(LatestMessageBase *message) noexcept;

    std::mutex m_mutex;
    Waiting m_waiting;
};

//! What an actor keeps for flow control (see the top of this file).
struct Extras
{
    explicit Extras(qsizetype capacity, Overflow overflow) noexcept : flow(capacity, overflow) { }
    FlowControl flow; // capacity 0: unbounded (only the table is used)
    LatestTable latest;
};

} // namespace QtActors::detail
