// The turn loop and the close/finalize protocol described at the top of actorcore.h.

#include <QtActors/detail/actorcore.h>
#include <QtActors/detail/handler.h>

#include "registry_p.h"
#include "tuning_p.h"


#include <QtCore/QStringList>
#include <QtCore/QThread>

#include <atomic>
#include <mutex>
#include <thread>

namespace QtActors {
Q_LOGGING_CATEGORY(lcQtActors, "qtactors")
}

namespace QtActors::detail {

namespace {

thread_local ActorCore *t_current = nullptr;           // the actor whose turn runs here
thread_local ActorCore *t_coroutineHandler = nullptr; // the actor whose coroutine handler runs here
thread_local std::uint64_t t_coroutineHandlerId = 0;   // ... and which of its handlers
// Resumptions for this thread that wait until its outermost turn has ended (resumeOutsideTurns).
thread_local ResumeNode *t_deferredHead = nullptr;
thread_local ResumeNode *t_deferredTail = nullptr;

void runDeferredResumptions() noexcept
{
    while (ResumeNode *node = t_deferredHead) {
        t_deferredHead = node->next;
        if (!t_deferredHead)
            t_deferredTail = nullptr;
        node->handle.resume(); // may queue more
    }
}

//! Marks the thread as running `core`'s turn; when the outermost turn ends, runs the
//! resumptions that waited for it.
class TurnScope
{
public:
    explicit TurnScope(ActorCore *core) noexcept
        : m_previous(std::exchange(t_current, core)),
          m_previousHandler(std::exchange(t_coroutineHandler, nullptr)),
          m_previousHandlerId(std::exchange(t_coroutineHandlerId, 0))
    {
    }
    ~TurnScope()
    {
        t_current = m_previous;
        t_coroutineHandler = m_previousHandler;
        t_coroutineHandlerId = m_previousHandlerId;
        if (!m_previous)
            runDeferredResumptions();
    }
    TurnScope(const TurnScope &) = delete;
    TurnScope &operator=(const TurnScope &) = delete;

private:
    ActorCore *m_previous;
    ActorCore *m_previousHandler;
    std::uint64_t m_previousHandlerId;
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

ActorCore *ActorCore::currentCoroutineHandler() noexcept
{
    return t_coroutineHandler;
}

std::uint64_t ActorCore::currentCoroutineHandlerId() noexcept
{
    return t_coroutineHandlerId;
}

bool ActorCore::isHeldByCurrentHandler() const noexcept
{
    return m_busy && t_coroutineHandler == this && t_coroutineHandlerId == m_exclusiveId;
}

ActorCore::CoroutineHandlerScope::CoroutineHandlerScope(ActorCore *core, std::uint64_t id) noexcept
    : m_previous(std::exchange(t_coroutineHandler, core)),
      m_previousId(std::exchange(t_coroutineHandlerId, id))
{
}

ActorCore::CoroutineHandlerScope::~CoroutineHandlerScope()
{
    t_coroutineHandler = m_previous;
    t_coroutineHandlerId = m_previousId;
}

void resumeOutsideTurns(ResumeNode &node) noexcept
{
    if (!t_current) {
        node.handle.resume();
        return;
    }
    node.next = nullptr;
    if (t_deferredTail)
        t_deferredTail->next = &node;
    else
        t_deferredHead = &node;
    t_deferredTail = &node;
}

ActorCore::ActorCore(const Options &options)
    : m_scheduler(options.executor.bind(options.name)), m_clock(&m_scheduler->clock()),
      m_name(options.name)
{
    m_throughput = options.throughput > 0 ? options.throughput : m_scheduler->defaultThroughput();
    m_linger = m_scheduler->linger();
    if (options.mailboxCapacity > 0) {
        if (options.mailboxCapacity > FlowControl::MaxCapacity)
            qCWarning(lcQtActors, "QtActors: actor '%s': mailboxCapacity %lld is taken as %lld",
                      qUtf8Printable(displayName()),
                      static_cast<long long>(options.mailboxCapacity),
                      static_cast<long long>(FlowControl::MaxCapacity));
        m_extras.store(new Extras(options.mailboxCapacity, options.overflow),
                       std::memory_order_relaxed);
    }
    m_scheduler->attach(this);
    Registry::instance().add(this);
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
    if (!m_detached) {
        Registry::instance().remove(this);
        m_scheduler->detach(this);
    }
    delete m_extras.load(std::memory_order_relaxed);
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
    // Unbounded actors (no extras, or a capacity of 0) pay this one load and nothing else.
    if (Extras *x = m_extras.load(std::memory_order_acquire);
        x && x->flow.capacity() > 0 && message->isBounded()) {
        sendBounded(x, message);
        return;
    }
    sendCounted(message);
}

ActorCore::Pushed ActorCore::pushCounted(MessageBase *message) noexcept
{
    std::uint64_t old = m_state.load(std::memory_order_relaxed);
    do {
        if (old & Closed)
            return Pushed::Refused;
    } while (!m_state.compare_exchange_weak(old, old + One, std::memory_order_acq_rel,
                                            std::memory_order_relaxed));
    m_inbox.push(message);
    return countOf(old) == 0 ? Pushed::First : Pushed::Queued;
}

void ActorCore::takeTurnToken() noexcept
{
    ref(); // the turn token
    scheduleTurn();
}

bool ActorCore::sendCounted(MessageBase *message) noexcept
{
    switch (pushCounted(message)) {
    case Pushed::Refused:
        refuse(message);
        return false;
    case Pushed::First:
        takeTurnToken();
        break;
    case Pushed::Queued:
        break;
    }
    return true;
}

void ActorCore::sendBounded(Extras *x, MessageBase *message) noexcept
{
    if (isClosed()) {
        refuse(message); // stopped comes first: ActorStopped, not MailboxFull
        return;
    }
    const bool cast = message->isCast();
    if (x->flow.admit(cast) == FlowControl::Admission::Refused) {
        refuseFull(x, message);
        return;
    }
    if (!sendCounted(message))
        x->flow.cancel(cast);
}

void ActorCore::refuseFull(Extras *x, MessageBase *message) noexcept
{
    x->flow.countDropped();
    if (message->isCast()) {
        qCWarning(lcQtActors, "QtActors: actor '%s': the mailbox is full (%lld waiting); a cast "
                  "was dropped", qUtf8Printable(displayName()),
                  static_cast<long long>(x->flow.capacity()));
    } else {
        try {
            message->refuseWith(std::make_exception_ptr(MailboxFull(
                    QStringLiteral("QtActors: actor '%1': the mailbox is full (%2 waiting); the "
                                   "call was refused")
                            .arg(displayName())
                            .arg(x->flow.capacity()))));
        } catch (...) {
            message->refuseWith(std::current_exception());
        }
    }
    message->dispose();
}

Extras *ActorCore::ensureExtras() noexcept
{
    if (Extras *x = m_extras.load(std::memory_order_acquire))
        return x;
    auto *made = new (std::nothrow) Extras(0, Overflow::Reject);
    if (!made)
        return nullptr;
    Extras *expected = nullptr;
    if (m_extras.compare_exchange_strong(expected, made, std::memory_order_acq_rel))
        return made;
    delete made; // another sender made them first
    return expected;
}

void ActorCore::sendLatest(LatestMessageBase *message) noexcept
{
    Extras *x = ensureExtras();
    if (!x) { // no memory for the table: a plain cast then
        send(message);
        return;
    }
    const bool bounded = x->flow.capacity() > 0;
    if (isClosed()) {
        refuse(message);
        return;
    }
    Pushed pushed = Pushed::Refused;
    const LatestTable::Offer offer = x->latest.offer(message, bounded ? &x->flow : nullptr,
                                                     [this, &pushed](MessageBase *m) noexcept {
                                                         pushed = pushCounted(m);
                                                         return pushed != Pushed::Refused;
                                                     });
    if (offer == LatestTable::Offer::Refused)
        refuseFull(x, message); // full, and no update of its key waits to be replaced
    else if (offer == LatestTable::Offer::Closed)
        refuse(message); // stopped meanwhile: the one it would have replaced stays queued
    else if (pushed == Pushed::First)
        takeTurnToken();
}

void ActorCore::sendWhenRoom(MessageBase *message, Ref<CallState<void>> accepted) noexcept
{
    Extras *x = extras();
    if (!x || x->flow.capacity() == 0) { // unbounded: there is always room
        if (sendCounted(message))
            accepted->complete();
        else
            accepted->fail(stoppedError(this));
        return;
    }
    if (isClosed()) {
        refuse(message);
        accepted->fail(stoppedError(this));
        return;
    }
    auto *waiter = new (std::nothrow) FlowControl::Waiter{message, accepted};
    if (!waiter) {
        refuseFull(x, message);
        accepted->fail(std::make_exception_ptr(std::bad_alloc()));
        return;
    }
    bool closed = false;
    if (x->flow.enqueueUnlessRoom(waiter, &closed)) {
        if (closed) {
            delete waiter;
            refuse(message);
            accepted->fail(stoppedError(this));
        }
        return; // it waits: the turn that frees room admits it
    }
    delete waiter; // admitted at once
    if (sendCounted(message)) {
        accepted->complete();
    } else {
        x->flow.cancel(true);
        accepted->fail(stoppedError(this));
    }
}

qsizetype ActorCore::boundedWaiting() const noexcept
{
    const Extras *x = extras();
    return x && x->flow.capacity() > 0 ? x->flow.waiting() : -1;
}

quint64 ActorCore::droppedByBound() const noexcept
{
    const Extras *x = extras();
    return x ? x->flow.dropped() : 0;
}

bool ActorCore::startBounded(Extras *x, MessageBase *message) noexcept
{
    if (LatestMessageBase *latest = message->asLatest(); latest && !x->latest.start(latest))
        return false; // superseded by a newer one with an equal key: dropped unrun (S25)
    if (x->flow.capacity() == 0)
        return true;
    if (x->flow.start(message->isCast())) {
        // DropOldest made room with this one, the oldest waiting cast (S23).
        x->flow.countDropped();
        qCWarning(lcQtActors, "QtActors: actor '%s': the mailbox was full (%lld waiting); the "
                  "oldest waiting cast was dropped", qUtf8Printable(displayName()),
                  static_cast<long long>(x->flow.capacity()));
        return false;
    }
    if (x->flow.hasWaiters()) {
        // Room was freed: senders waiting for it come in, in order (S24).
        FlowControl::Waiter *abandoned = nullptr;
        for (FlowControl::Waiter *w = x->flow.admitWaiters(&abandoned); w;) {
            FlowControl::Waiter *next = w->next;
            if (sendCounted(w->message)) {
                w->accepted->publish();
            } else {
                x->flow.cancel(true);
                w->accepted->failClaimed(stoppedError(this));
            }
            delete w;
            w = next;
        }
        for (FlowControl::Waiter *w = abandoned; w;) { // timed out before room came: never run
            FlowControl::Waiter *next = w->next;
            w->message->drop(this);
            w->message->dispose();
            delete w;
            w = next;
        }
    }
    return true;
}

void ActorCore::refuse(MessageBase *message) noexcept
{
    if (!message->logsRefusal())
        ; // expected, and said elsewhere
    else if (message->isCast())
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
    if (Extras *x = extras()) { // senders waiting for room: the actor stopped first (S24)
        for (FlowControl::Waiter *w = x->flow.closeWaiters(); w;) {
            FlowControl::Waiter *next = w->next;
            w->message->drop(this);
            w->message->dispose();
            w->accepted->fail(stoppedError(this));
            delete w;
            w = next;
        }
    }
    m_inbox.push(&m_stopNode);
    if (countOf(old) == 0) {
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
    // The count says a message or a resumption exists; its sender may still be between the CAS
    // and the push. Resumptions go first: nullptr tells the turn to run them.
    for (int spins = 0;; ++spins) {
        if (MessageBase *message = m_outbox.pop(m_inbox))
            return message;
        if (m_resumes.load(std::memory_order_acquire))
            return nullptr;
        if (spins > tuning::PopSpinsBeforeYield)
            std::this_thread::yield();
    }
}

std::uint64_t ActorCore::runResumptions(int &budget) noexcept
{
    // The stack holds the newest first: run them in the order they were woken.
    ResumeNode *fifo = nullptr;
    for (ResumeNode *node = m_resumes.exchange(nullptr, std::memory_order_acquire); node;) {
        ResumeNode *next = node->next;
        node->next = fifo;
        fifo = node;
        node = next;
    }
    return runResumptionList(fifo, budget);
}

std::uint64_t ActorCore::runResumptionList(ResumeNode *fifo, int &budget) noexcept
{
    std::uint64_t finished = 0;
    while (ResumeNode *node = fifo) {
        fifo = node->next; // before running it: the node lives in the frame it resumes
        if (m_busy && node->handler != m_exclusiveId) {
            // An exclusive handler holds the actor (S2): other handlers wait until it ends.
            node->next = nullptr;
            if (m_heldTail)
                m_heldTail->next = node;
            else
                m_heldHead = node;
            m_heldTail = node;
            continue;
        }
        --budget;
        finished += node->counted ? 1 : 0; // the resumption itself, if wake() counted it
        switch (node->kind) {
        case ResumeNode::HandlerEnd:
            node->handle.destroy(); // the driver, and with it the handler and its captures
            m_busy = false;
            ++finished; // the exclusive handler's message
            break;
        case ResumeNode::InterleavedEnd:
            node->handle.destroy();
            --m_liveInterleaved; // (its message counted as finished when it first suspended)
            break;
        case ResumeNode::Resume: {
            const bool wasBusy = m_busy;
            const CoroutineHandlerScope scope(this, node->handler);
            const CallStateBase::CurrentScope call(node->call);
            node->handle.resume();
            if (wasBusy && !m_busy)
                ++finished; // the exclusive handler ended: its message
            break;
        }
        }
    }
    return finished;
}

void ActorCore::runTurn(const CallStateBase *waiter) noexcept
{
    const TurnScope scope(this);
    const bool lost = m_contextLost.load(std::memory_order_relaxed);
    std::uint64_t finished = 0; // handled this turn, not yet subtracted from m_state
    int budget = m_throughput;
    bool lastWasCast = false;

    for (;;) {
        if (m_resumes.load(std::memory_order_relaxed))
            finished += runResumptions(budget);
        if (!m_busy && m_heldHead) { // the exclusive handler has ended: the others go on
            ResumeNode *held = std::exchange(m_heldHead, nullptr);
            m_heldTail = nullptr;
            finished += runResumptionList(held, budget);
        }

        if (m_busy) {
            // A coroutine handler holds the actor (S2) and waits: park the token for wake().
            if (finished || m_liveInterleaved != m_livePublished) {
                publishWork(finished);
                finished = 0;
            }
            ResumeNode *expected = nullptr;
            if (m_resumes.compare_exchange_strong(expected, parkedMark(), std::memory_order_acq_rel,
                                                  std::memory_order_acquire))
                return; // the next wake() schedules the turn that continues
            continue;   // woken meanwhile
        }

        std::uint64_t available = countOf(m_state.load(std::memory_order_acquire)) - finished;
        // Once per batch, not per message: the pointer shares the senders' cache line, and a
        // read per message would take it from them every time. Bounded actors have their extras
        // from the start; the on-demand ones come before the first castLatest() message, which
        // was pushed after its sender made them, so popping it makes them visible here.
        Extras *x = available > 0 ? m_extras.load(std::memory_order_acquire) : nullptr;
        while (available > 0 && budget > 0) {
            MessageBase *message = popCounted();
            if (!message)
                break; // resumptions first
            --available;
            --budget;
            if (!x && message->asLatest())
                x = m_extras.load(std::memory_order_acquire);
            if (x && message->isBounded() && !startBounded(x, message)) {
                message->dispose(); // superseded, or dropped to make room (logged)
                ++finished;
                continue;
            }
            if ((!m_stateAddress || lost) && message->needsState()) {
                refuse(message); // State failed to build, or no context to run on
                ++finished;
                continue;
            }
            try {
                message->run(*this, m_stateAddress);
            } catch (...) {
                // Messages catch their handlers' exceptions themselves; this is a failure of the
                // message machinery.
                qCWarning(lcQtActors, "QtActors: actor '%s': a message failed: %s",
                          qUtf8Printable(displayName()),
                          qUtf8Printable(describe(std::current_exception())));
            }
            lastWasCast = message->isCast();
            if (message != &m_stopNode)
                message->dispose();
            if (m_busy)
                break; // an exclusive coroutine handler suspended: its message stays counted
            ++finished; // (an interleaved one that suspended is finished as a message)
            if (waiter && waiter->isReady())
                budget = 0; // the waiting thread has its answer: the pool takes the rest
        }
        if (m_busy || m_heldHead || m_resumes.load(std::memory_order_relaxed))
            continue;
        if (finished > 0 && budget > 0 && !lost && !waiter && lingerForMore(finished, lastWasCast))
            continue;

        const std::uint64_t previous = publishWork(finished);
        const std::uint64_t remaining = countOf(previous) - finished;
        finished = 0;
        if (remaining == 0) {
            // Interleaved handlers still suspended hold State: the turn that ends the last of
            // them (their resumptions are counted work) finalizes.
            if ((previous & Closed) && m_liveInterleaved == 0)
                finalize();
            deref(); // the turn token; may delete this
            return;
        }
        if (budget <= 0) {
            if (!lost && m_scheduler->yieldsTurns()) {
                scheduleTurn(); // yield the thread to others sharing it (S5); the token moves on
                return;
            }
            budget = m_throughput; // nobody to yield to: go on
        }
    }
}

std::uint64_t ActorCore::publishWork(std::uint64_t finished) noexcept
{
    // One atomic add: the finished work goes (the count never goes below it), the live
    // interleaved handlers are set to what the turn knows (wrapping arithmetic, no borrow).
    const std::int64_t liveDelta = m_liveInterleaved - m_livePublished;
    m_livePublished = m_liveInterleaved;
    const std::uint64_t change = std::uint64_t(liveDelta) * Live - finished * One;
    return m_state.fetch_add(change, std::memory_order_acq_rel);
}

void ActorCore::runWithoutContext() noexcept
{
    qCWarning(lcQtActors, "QtActors: actor '%s': its thread's event loop is gone; messages still "
              "queued are dropped and State is destroyed off its thread",
              qUtf8Printable(displayName()));
    contextEnded();
    runTurn();
}

void ActorCore::contextEnded() noexcept
{
    loseContext();
    requestStop();
}

bool ActorCore::lingerForMore(std::uint64_t finished, bool afterCast) noexcept
{
    if (m_linger.count() <= 0)
        return false;
    // Every look at m_state pulls the senders' cache line away from them. After a call, look
    // often: its caller is about to send the next one and waits for the answer. After a cast,
    // look every 10 µs, so that a stream of casts piles up in its sender's cache and is then
    // handled as one batch, instead of costing a cache-line round trip per message.
    using Clock = std::chrono::steady_clock;
    const auto interval = afterCast ? std::chrono::nanoseconds(tuning::LingerLookAfterCast)
                                    : std::chrono::nanoseconds(0);
    auto now = Clock::now();
    const auto deadline = now + m_linger;
    auto nextLook = now;
    for (;;) {
        if (now >= nextLook) {
            const std::uint64_t state = m_state.load(std::memory_order_acquire);
            if (countOf(state) > finished)
                return true; // more arrived while this turn holds the token: no wake-up needed
            if (state & Closed)
                return false;
            nextLook = now + interval;
        }
        if (now > deadline || m_scheduler->othersWaiting())
            return false;
        for (int k = 0; k < 16; ++k)
            cpuRelax();
        now = Clock::now();
    }
}

void ActorCore::wake(ResumeNode *node) noexcept
{
    // The common case: the turn is parked for this handler. The parked token passes on, and the
    // count needs no update (the handler's message keeps it above zero).
    ResumeNode *head = m_resumes.load(std::memory_order_acquire);
    if (head == parkedMark()) {
        node->next = nullptr;
        node->counted = false;
        if (m_resumes.compare_exchange_strong(head, node, std::memory_order_acq_rel,
                                              std::memory_order_relaxed)) {
            scheduleTurn();
            return;
        }
    }
    // Otherwise counted like a message, so that an actor without a turn gets one.
    node->counted = true;
    std::uint64_t old = m_state.load(std::memory_order_relaxed);
    do {
        if (hasEnded(old)) {
            // The actor has ended (a coroutine it started outlived it): there is no turn to run on.
            qCWarning(lcQtActors, "QtActors: actor '%s' has ended; a coroutine that awaited inside "
                      "one of its handlers continues on the thread that answered",
                      qUtf8Printable(displayName()));
            resumeOutsideTurns(*node);
            return;
        }
    } while (!m_state.compare_exchange_weak(old, old + One, std::memory_order_acq_rel,
                                            std::memory_order_relaxed));
    head = m_resumes.load(std::memory_order_relaxed);
    do {
        node->next = head == parkedMark() ? nullptr : head;
    } while (!m_resumes.compare_exchange_weak(head, node, std::memory_order_acq_rel,
                                              std::memory_order_relaxed));
    // From here on a running turn may run the node: touch neither it nor this unless this call
    // owns the token. It does when the actor had no work (a new token) or the turn was parked
    // (the parked token passes on); never both, as a parked turn's handler is counted work.
    if (countOf(old) == 0) {
        ref(); // the turn token
        scheduleTurn();
    } else if (head == parkedMark()) {
        scheduleTurn();
    }
}

void ActorCore::coroutineHandlerEnded(ResumeNode &node, HandlerMode mode) noexcept
{
    if (t_current == this) {
        node.handle.destroy();
        if (mode == HandlerMode::Exclusive)
            m_busy = false;
        else
            --m_liveInterleaved;
    } else {
        node.kind = mode == HandlerMode::Exclusive ? ResumeNode::HandlerEnd
                                                   : ResumeNode::InterleavedEnd;
        wake(&node);
    }
}

void ActorCore::lockWaits() const noexcept
{
    while (m_waitsLocked.exchange(true, std::memory_order_acquire))
        cpuRelax();
}

bool ActorCore::beginWait(WaitEdge &edge, ActorCore *target, QString *cycle) noexcept
{
    // Link the edge first, then look: of two actors closing a cycle at the same moment, at least
    // one sees the other's edge (both publish, then read, in sequentially consistent order).
    edge.from = this;
    edge.target = target;
    edge.prev = nullptr;
    lockWaits();
    edge.next = m_waits.load(std::memory_order_relaxed);
    if (edge.next)
        edge.next->prev = &edge;
    m_waits.store(&edge, std::memory_order_relaxed);
    // Unlocking with a full barrier orders the link before the look at `target` below.
    m_waitsLocked.exchange(false, std::memory_order_seq_cst);

    // Follow what `target` waits for, breadth first. Most of the time it waits for nothing: one
    // load. The cores are held by references taken under each actor's lock (an edge's target is
    // alive while the edge is linked: its waiter holds the call, the call holds the core).
    if (target != this && !target->m_waits.load(std::memory_order_seq_cst))
        return true;
    std::vector<Ref<ActorCore>> seen;
    std::vector<int> parent;
    seen.push_back(Ref<ActorCore>::share(target));
    parent.push_back(-1);
    int found = -1;
    for (std::size_t i = 0; i < seen.size() && found < 0; ++i) {
        ActorCore *x = seen[i].get();
        if (x == this) {
            found = int(i);
            break;
        }
        x->lockWaits();
        for (WaitEdge *e = x->m_waits.load(std::memory_order_relaxed); e; e = e->next) {
            bool known = false;
            for (const Ref<ActorCore> &r : seen)
                known = known || r.get() == e->target;
            if (!known && e->target->tryRef()) {
                seen.push_back(Ref<ActorCore>::adopt(e->target));
                parent.push_back(int(i));
            }
        }
        x->unlockWaits();
    }
    if (found < 0)
        return true;
    endWait(edge);
    if (cycle) {
        QStringList names{displayName()};
        QStringList path;
        for (int i = found; i >= 0; i = parent[std::size_t(i)])
            path.prepend(seen[std::size_t(i)]->displayName());
        *cycle = (names + path).join(QStringLiteral(" → "));
    }
    return false;
}

void ActorCore::endWait(WaitEdge &edge) noexcept
{
    lockWaits();
    if (edge.prev)
        edge.prev->next = edge.next;
    else
        m_waits.store(edge.next, std::memory_order_relaxed);
    if (edge.next)
        edge.next->prev = edge.prev;
    edge.next = edge.prev = nullptr;
    unlockWaits();
}

namespace {
//! The threads blocked in beginThreadWait(): few, and rarely any (immortal, see runtime_p.h).
struct ThreadWaits
{
    std::mutex mutex;
    ThreadWait *head = nullptr;
    std::atomic<int> count{0};
};
ThreadWaits &threadWaits()
{
    static auto *waits = new ThreadWaits;
    return *waits;
}
} // namespace

bool ActorCore::beginThreadWait(ThreadWait &wait, ActorCore *target) noexcept
{
    ThreadWaits &all = threadWaits();
    wait.thread = QThread::currentThread();
    wait.target = target;
    {
        const std::lock_guard lock(all.mutex);
        wait.prev = nullptr;
        wait.next = all.head;
        if (all.head)
            all.head->prev = &wait;
        all.head = &wait;
        all.count.fetch_add(1, std::memory_order_seq_cst);
    }
    // Link first, then look (as beginWait()): of this thread and a handler of `target` about to
    // block for an actor on it, at least one sees the other.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    bool waitsHere = false;
    target->lockWaits();
    for (WaitEdge *e = target->m_waits.load(std::memory_order_relaxed); e && !waitsHere; e = e->next)
        waitsHere = e->target->scheduler()->thread() == wait.thread;
    target->unlockWaits();
    if (waitsHere) {
        endThreadWait(wait);
        return false;
    }
    return true;
}

void ActorCore::endThreadWait(ThreadWait &wait) noexcept
{
    ThreadWaits &all = threadWaits();
    const std::lock_guard lock(all.mutex);
    if (wait.prev)
        wait.prev->next = wait.next;
    else
        all.head = wait.next;
    if (wait.next)
        wait.next->prev = wait.prev;
    wait.next = wait.prev = nullptr;
    all.count.fetch_sub(1, std::memory_order_relaxed);
}

bool ActorCore::threadWaitsForMe(const ActorCore *target) const noexcept
{
    ThreadWaits &all = threadWaits();
    if (all.count.load(std::memory_order_seq_cst) == 0)
        return false;
    QThread *const thread = target->scheduler()->thread();
    if (!thread)
        return false; // a pool: no thread of its own to be blocked
    const std::lock_guard lock(all.mutex);
    for (const ThreadWait *w = all.head; w; w = w->next) {
        if (w->target == this && w->thread == thread)
            return true;
    }
    return false;
}

void ActorCore::finalize() noexcept
{
    if (m_stateAddress)
        destroyState();
    // Finished: no longer live, and no longer the scheduler's, before anyone hears of it.
    m_detached = true;
    Registry::instance().remove(this);
    m_scheduler->detach(this);
    completeStopWaiters();
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

void ActorCore::logErrorAfterAnswer(std::exception_ptr error) const noexcept
{
    qCWarning(lcQtActors, "QtActors: actor '%s': a handler threw after it had answered its call: %s",
              qUtf8Printable(displayName()), qUtf8Printable(describe(error)));
}

void ActorCore::logCastError(std::exception_ptr error) const noexcept
{
    qCWarning(lcQtActors, "QtActors: actor '%s': a cast handler threw: %s",
              qUtf8Printable(displayName()), qUtf8Printable(describe(error)));
}

QString ActorCore::displayName() const
{
    if (!m_name.isEmpty())
        return m_name;
    return QStringLiteral("actor 0x%1").arg(quintptr(this), 0, 16);
}

CallStateBase::Owner ActorCore::owner() const
{
    return {const_cast<ActorCore *>(this), this};
}

} // namespace QtActors::detail
