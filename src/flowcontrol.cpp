// Flow control: the bound's counting word, the senders waiting for room, the castLatest table
// (see detail/flowcontrol.h).

#include <QtActors/detail/flowcontrol.h>

#include <QtCore/QLoggingCategory>

#include <algorithm>
#include <exception>

namespace QtActors::detail {

FlowControl::FlowControl(qsizetype capacity, Overflow overflow) noexcept
    : m_capacity(std::clamp<qsizetype>(capacity, 0, MaxCapacity)),
      m_overflow(overflow),
      m_roomUntil(std::uint64_t(m_capacity))
{
}

FlowControl::Admission FlowControl::admit(bool isCast, bool strict) noexcept
{
    if (m_overflow == Overflow::DropOldest)
        return admitByWord(isCast, strict);
    // Room below roomUntil for sure (see the top of flowcontrol.h): one fetch_add and no look at
    // the turn's line.
    const std::uint64_t before = m_admitted.fetch_add(1, std::memory_order_seq_cst);
    if (before < m_roomUntil.load(std::memory_order_relaxed))
        return Admission::Admitted;
    // Look at what the turn has started by now. `started` only grows, so any bound computed
    // from it stays safe for whoever reads it later.
    const std::uint64_t until = m_started.load(std::memory_order_seq_cst) + std::uint64_t(m_capacity);
    m_roomUntil.store(until, std::memory_order_relaxed);
    if (before < until)
        return Admission::Admitted;
    m_admitted.fetch_sub(1, std::memory_order_seq_cst); // full
    return Admission::Refused;
}

void FlowControl::cancel(bool isCast) noexcept
{
    if (m_overflow == Overflow::DropOldest)
        cancelByWord(isCast);
    else
        m_admitted.fetch_sub(1, std::memory_order_seq_cst);
}

bool FlowControl::start(bool isCast) noexcept
{
    if (m_overflow == Overflow::DropOldest)
        return startByWord(isCast);
    // The turn is the only writer. seq_cst: a sender that queues itself as a waiter and then
    // looks at `started` (enqueueUnlessRoom), and this turn that then looks for waiters
    // (hasWaiters), cannot both miss each other.
    m_started.store(m_started.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
    return false;
}

qsizetype FlowControl::waiting() const noexcept
{
    if (m_overflow == Overflow::DropOldest) {
        const std::uint64_t w = m_word.load(std::memory_order_relaxed);
        return qsizetype(waitingOf(w) - doomedOf(w));
    }
    const std::uint64_t started = m_started.load(std::memory_order_acquire);
    const std::uint64_t admitted = m_admitted.load(std::memory_order_acquire);
    return admitted > started ? qsizetype(admitted - started) : 0;
}

FlowControl::Admission FlowControl::admitByWord(bool isCast, bool strict) noexcept
{
    const std::uint64_t one = OneWaiting + (isCast ? OneCast : 0);
    // The common case, room to spare: one fetch_add, no CAS loop to fight the turn over.
    const std::uint64_t before = m_word.fetch_add(one, std::memory_order_seq_cst);
    if (qsizetype(waitingOf(before) - doomedOf(before)) < m_capacity)
        return Admission::Admitted;
    m_word.fetch_sub(one, std::memory_order_seq_cst); // full (at that instant): look closer
    std::uint64_t w = m_word.load(std::memory_order_relaxed);
    for (;;) {
        const std::uint64_t live = waitingOf(w) - doomedOf(w);
        std::uint64_t next;
        Admission result;
        if (qsizetype(live) < m_capacity) {
            next = w + one;
            result = Admission::Admitted;
        } else if (!strict && castsOf(w) > doomedOf(w) && waitingOf(w) < Field
                   && doomedOf(w) < Field) {
            next = w + one + OneDoomed; // the oldest waiting cast makes room
            result = Admission::DroppingOldest;
        } else {
            return Admission::Refused;
        }
        if (m_word.compare_exchange_weak(w, next, std::memory_order_seq_cst,
                                         std::memory_order_relaxed))
            return result;
    }
}

void FlowControl::cancelByWord(bool isCast) noexcept
{
    std::uint64_t w = m_word.load(std::memory_order_relaxed);
    for (;;) {
        std::uint64_t next = w - OneWaiting - (isCast ? OneCast : 0);
        if (doomedOf(next) > castsOf(next)) // (the doomed are casts: never more than there are)
            next -= OneDoomed;
        if (m_word.compare_exchange_weak(w, next, std::memory_order_seq_cst,
                                         std::memory_order_relaxed))
            return;
    }
}

bool FlowControl::startByWord(bool isCast) noexcept
{
    const std::uint64_t one = OneWaiting + (isCast ? OneCast : 0);
    std::uint64_t w = m_word.load(std::memory_order_relaxed);
    if (!isCast || doomedOf(w) == 0) {
        // Nothing doomed (or not a cast): one fetch_sub. A cast doomed meanwhile is the next one.
        m_word.fetch_sub(one, std::memory_order_seq_cst);
        return false;
    }
    for (;;) {
        const bool doomed = doomedOf(w) > 0;
        const std::uint64_t next = w - one - (doomed ? OneDoomed : 0);
        if (m_word.compare_exchange_weak(w, next, std::memory_order_seq_cst,
                                         std::memory_order_relaxed))
            return doomed;
    }
}

bool FlowControl::enqueueUnlessRoom(Waiter *waiter, bool *closed) noexcept
{
    const std::lock_guard lock(m_mutex);
    if (m_closed) {
        *closed = true;
        return true;
    }
    // The flag goes up before the look at the room: a turn freeing room either sees the flag
    // (and admits the waiters) or freed it before this look (and this sender takes it).
    m_hasWaiters.store(true, std::memory_order_seq_cst);
    if (!m_head && admit(true, true) == Admission::Admitted) {
        m_hasWaiters.store(false, std::memory_order_relaxed);
        return false;
    }
    if (m_tail)
        m_tail->next = waiter;
    else
        m_head = waiter;
    m_tail = waiter;
    return true;
}

FlowControl::Waiter *FlowControl::admitWaiters(Waiter **abandoned) noexcept
{
    const std::lock_guard lock(m_mutex);
    Waiter *admittedHead = nullptr, *admittedTail = nullptr;
    *abandoned = nullptr;
    while (m_head && admit(true, true) == Admission::Admitted) {
        Waiter *w = m_head;
        m_head = w->next;
        if (!m_head)
            m_tail = nullptr;
        w->next = nullptr;
        if (!w->accepted->tryClaimAnswer()) {
            // Its Call has finished (Timeout): the room goes to the next one in line.
            cancel(true);
            w->next = std::exchange(*abandoned, w);
            continue;
        }
        if (admittedTail)
            admittedTail->next = w;
        else
            admittedHead = w;
        admittedTail = w;
    }
    if (!m_head)
        m_hasWaiters.store(false, std::memory_order_relaxed);
    return admittedHead;
}

FlowControl::Waiter *FlowControl::closeWaiters() noexcept
{
    const std::lock_guard lock(m_mutex);
    m_closed = true;
    Waiter *all = std::exchange(m_head, nullptr);
    m_tail = nullptr;
    m_hasWaiters.store(false, std::memory_order_relaxed);
    return all;
}

LatestMessageBase **LatestTable::findEqual(const LatestMessageBase &message) noexcept
{
    auto [begin, end] = m_waiting.equal_range(message.keyHash());
    for (auto it = begin; it != end; ++it) {
        if (it->second->sameKey(message))
            return &it->second;
    }
    return nullptr;
}

LatestTable::Waiting::iterator LatestTable::tryRegister(LatestMessageBase *message) noexcept
{
    try {
        return m_waiting.emplace(message->keyHash(), message);
    } catch (...) {
        return m_waiting.end();
    }
}

bool LatestTable::start(LatestMessageBase *message) noexcept
{
    const std::lock_guard lock(m_mutex);
    if (message->m_superseded)
        return false;
    auto [begin, end] = m_waiting.equal_range(message->keyHash());
    for (auto it = begin; it != end; ++it) {
        if (it->second == message) {
            m_waiting.erase(it);
            break;
        }
    }
    return true;
}

void LatestMessageBase::logThrowingKeyComparison() noexcept
{
    try {
        throw;
    } catch (const std::exception &e) {
        qCWarning(lcQtActors, "QtActors: castLatest: a key's == threw (%s); the two keys were "
                  "taken as different", e.what());
    } catch (...) {
        qCWarning(lcQtActors, "QtActors: castLatest: a key's == threw; the two keys were taken "
                  "as different");
    }
}

} // namespace QtActors::detail
