#include "swarm.h"

#include <QElapsedTimer>
#include <QLocale>

#include <algorithm>
#include <utility>

using namespace Qt::StringLiterals;

namespace swarm {

std::shared_ptr<const Directory> Bank::directory() const
{
    std::lock_guard lock(m_mutex);
    return m_directory;
}

void Bank::publish(std::shared_ptr<const Directory> directory)
{
    {
        std::lock_guard lock(m_mutex);
        m_directory = std::move(directory);
    }
    version.fetch_add(1, std::memory_order_release);
}

void Account::receive(qint64 amount)
{
    balance += amount;
    bank->handled.fetch_add(1, std::memory_order_relaxed);
    if (bank->running.load(std::memory_order_acquire))
        sendSome();
    // After sendSome() counted its own transfer: inFlight reaches 0 only when all traffic ended.
    bank->inFlight.fetch_sub(1, std::memory_order_release);
}

void Account::sendSome()
{
    const int current = bank->version.load(std::memory_order_acquire);
    if (current != directoryVersion) {
        directory = bank->directory();
        directoryVersion = current;
    }
    if (!directory || directory->accounts.empty())
        return;
    const auto &to = directory->accounts[next() % directory->accounts.size()];
    const qint64 amount = balance > 0 ? qint64(next() % quint64(balance / 2 + 1)) : 0;
    balance -= amount;
    bank->inFlight.fetch_add(1, std::memory_order_relaxed);
    to.cast([amount](Account &account) { account.receive(amount); });
}

quint64 Account::next()
{
    random ^= random << 13;
    random ^= random >> 7;
    random ^= random << 17;
    return random;
}

} // namespace swarm

namespace {

using AccountActor = QtActors::Actor<swarm::Account>;

QString number(qint64 n)
{
    return QLocale(QLocale::English).toString(n);
}

// What askAll() sends to each account.
QtActors::Call<void> flushAccount(const AccountActor &account)
{
    return account.flush();
}

QtActors::Call<qint64> readBalance(const AccountActor &account)
{
    return account.call([](swarm::Account &a) { return a.balance; });
}

QtActors::Call<qint64> closeAccount(const AccountActor &account)
{
    auto withdrawal = account.call([](swarm::Account &a) { return std::exchange(a.balance, 0); });
    (void)account.stop(); // after the withdrawal, which is already queued
    return withdrawal;
}

} // namespace

SwarmFacade::SwarmFacade(int accounts, QObject *parent)
    : QObject(parent), m_bank(std::make_shared<swarm::Bank>())
{
    enqueue([this, accounts]() { return doAdd(accounts); });
    m_rateClock.start();
    m_rateTimer.setInterval(250);
    connect(&m_rateTimer, &QTimer::timeout, this, &SwarmFacade::sampleRate);
    m_rateTimer.start();
    m_autoAudit.setInterval(3000);
    connect(&m_autoAudit, &QTimer::timeout, this, [this] {
        if (m_wantRunning && !m_busy)
            audit();
    });
    m_autoAudit.start();
}

SwarmFacade::~SwarmFacade()
{
    *m_alive = false;
    m_bank->running.store(false);
    m_bank->publish(nullptr);
    // Stopping destroys each State, which breaks the cycle account → directory → account.
    for (const auto &account : m_accounts)
        (void)account.stop();
}

qint64 SwarmFacade::messagesHandled() const
{
    return m_bank->handled.load(std::memory_order_relaxed);
}

qint64 SwarmFacade::inFlight() const
{
    return m_bank->inFlight.load(std::memory_order_relaxed);
}

void SwarmFacade::start()
{
    if (m_wantRunning)
        return;
    m_wantRunning = true;
    if (!m_busy)
        resumeTraffic();
    setEvent(u"traffic started"_s);
    Q_EMIT runningChanged();
}

void SwarmFacade::stop()
{
    if (!m_wantRunning)
        return;
    m_wantRunning = false;
    m_bank->running.store(false, std::memory_order_release);
    Q_EMIT runningChanged();
    audit();
}

void SwarmFacade::addAccounts(int count)
{
    enqueue([this, count]() { return doAdd(count); });
}

void SwarmFacade::removeAccounts(int count)
{
    enqueue([this, count]() { return doRemove(count); });
}

void SwarmFacade::audit()
{
    enqueue([this]() { return doAudit(); });
}

void SwarmFacade::forgeMoney(qint64 amount)
{
    if (m_accounts.empty())
        return;
    m_bank->inFlight.fetch_add(1, std::memory_order_relaxed);
    m_accounts.front().cast([amount](swarm::Account &a) { a.receive(amount); });
}

void SwarmFacade::enqueue(Operation operation)
{
    m_operations.push(std::move(operation));
    if (m_busy)
        return;
    m_busy = true;
    Q_EMIT busyChanged();
    runOperations();
}

QCoro::Task<> SwarmFacade::runOperations()
{
    const auto alive = m_alive;
    while (!m_operations.empty()) {
        const Operation operation = std::move(m_operations.front());
        m_operations.pop();
        co_await operation();
        if (!*alive)
            co_return;
    }
    m_busy = false;
    Q_EMIT busyChanged();
    Q_EMIT idle();
}

void SwarmFacade::resumeTraffic()
{
    if (m_accounts.empty())
        return;
    m_bank->running.store(true, std::memory_order_release);
    const std::size_t transfers = std::min<std::size_t>(m_accounts.size() / 4 + 1, 4000);
    for (std::size_t i = 0; i < transfers; ++i) {
        m_bank->inFlight.fetch_add(1, std::memory_order_relaxed);
        m_accounts[(i * 7919) % m_accounts.size()].cast(
                [](swarm::Account &account) { account.receive(0); });
    }
}

template <typename Send>
QCoro::Task<SwarmFacade::Sum> SwarmFacade::askAll(const std::vector<AccountActor> &accounts,
                                                  Send send)
{
    // A batch at a time: between batches the GUI thread gets its event loop back.
    constexpr std::size_t batchSize = 1000;
    const auto alive = m_alive;
    Sum sum;
    for (std::size_t first = 0; first < accounts.size(); first += batchSize) {
        using Answer = decltype(send(accounts[first]));
        std::vector<Answer> batch;
        batch.reserve(batchSize);
        for (std::size_t i = first; i < std::min(accounts.size(), first + batchSize); ++i)
            batch.push_back(send(accounts[i]));
        for (auto &call : batch) {
            try {
                if constexpr (std::is_same_v<Answer, QtActors::Call<void>>)
                    co_await std::move(call);
                else
                    sum.total += co_await std::move(call);
            } catch (const std::exception &error) {
                qWarning("swarm: a call to an account failed: %s", error.what());
                sum.ok = false;
            }
        }
        if (!*alive) { // accounts may be gone with this facade
            sum.ok = false;
            co_return sum;
        }
    }
    co_return sum;
}

QCoro::Task<bool> SwarmFacade::settle()
{
    const auto alive = m_alive;
    m_bank->running.store(false, std::memory_order_release);
    // Each round lets every message sent before it land; transfers stop spawning new ones.
    for (int round = 0; round < 100; ++round) {
        if (m_bank->inFlight.load(std::memory_order_acquire) == 0)
            co_return true;
        co_await askAll(m_accounts, &flushAccount);
        if (!*alive)
            co_return false;
    }
    co_return m_bank->inFlight.load(std::memory_order_acquire) == 0;
}

QCoro::Task<> SwarmFacade::doAdd(int count)
{
    m_accounts.reserve(m_accounts.size() + std::size_t(std::max(count, 0)));
    for (int i = 0; i < count; ++i) {
        swarm::Account account;
        account.bank = m_bank;
        account.balance = initialBalance;
        account.random = quint64(m_nextSeed++) * 2654435761u;
        m_accounts.emplace_back(std::move(account), QtActors::Options{ .name = u"account"_s });
    }
    m_expectedTotal += qint64(std::max(count, 0)) * initialBalance;
    publishDirectory();
    setEvent(u"opened %1 accounts"_s.arg(number(count)));
    Q_EMIT accountsChanged();
    co_return;
}

QCoro::Task<> SwarmFacade::doRemove(int count)
{
    const auto alive = m_alive;
    count = std::min(count, accountCount() - minimumAccounts);
    if (count <= 0) {
        setEvent(u"kept the last %1 accounts"_s.arg(number(minimumAccounts)));
        co_return;
    }
    bool failed = !co_await settle();
    if (!*alive)
        co_return;
    const auto firstClosing = m_accounts.end() - count;
    std::vector<QtActors::Actor<swarm::Account>> closing(std::make_move_iterator(firstClosing),
                                                         std::make_move_iterator(m_accounts.end()));
    m_accounts.erase(firstClosing, m_accounts.end());
    publishDirectory();
    Q_EMIT accountsChanged();

    const Sum withdrawn = co_await askAll(closing, &closeAccount);
    if (!*alive)
        co_return;
    failed = failed || !withdrawn.ok;
    const qint64 moved = withdrawn.total;
    // The closed accounts' money goes to the first hundred survivors.
    const qint64 heirs = std::min<qint64>(100, qint64(m_accounts.size()));
    for (qint64 i = 0; i < heirs; ++i) {
        const qint64 share = moved / heirs + (i == 0 ? moved % heirs : 0);
        m_bank->inFlight.fetch_add(1, std::memory_order_relaxed);
        m_accounts[std::size_t(i)].cast([share](swarm::Account &a) { a.receive(share); });
    }
    if (failed) {
        m_invariantHeld = false;
        Q_EMIT auditFinished(false, m_lastAuditTotal);
    }
    setEvent(u"closed %1 accounts, moved %2 to others"_s.arg(number(count), number(moved)));
    if (m_wantRunning)
        resumeTraffic();
}

QCoro::Task<> SwarmFacade::doAudit()
{
    const auto alive = m_alive;
    QElapsedTimer clock;
    clock.start();
    bool failed = !co_await settle();
    if (!*alive)
        co_return;
    const Sum balances = co_await askAll(m_accounts, &readBalance);
    if (!*alive)
        co_return;
    const qint64 total = balances.total;
    failed = failed || !balances.ok;
    const bool held = !failed && total == m_expectedTotal;
    ++m_audits;
    m_lastAuditTotal = total;
    m_lastAuditMs = double(clock.nsecsElapsed()) / 1e6;
    if (!held)
        m_invariantHeld = false;
    setEvent(
            held ? u"audit: %1 accounts hold %2 — conserved"_s.arg(number(accountCount()),
                                                                   number(total))
                 : u"audit FAILED: %1 instead of %2"_s.arg(number(total), number(m_expectedTotal)));
    Q_EMIT auditFinished(held, total);
    if (m_wantRunning)
        resumeTraffic();
}

void SwarmFacade::publishDirectory()
{
    auto directory = std::make_shared<swarm::Directory>();
    directory->accounts = m_accounts;
    m_bank->publish(std::move(directory));
}

void SwarmFacade::setEvent(const QString &text)
{
    m_lastEvent = text;
    Q_EMIT lastEventChanged();
}

void SwarmFacade::sampleRate()
{
    const qint64 now = m_rateClock.nsecsElapsed();
    const qint64 handled = messagesHandled();
    if (m_lastSampleNs > 0 && now > m_lastSampleNs)
        m_rate = double(handled - m_lastHandled) * 1e9 / double(now - m_lastSampleNs);
    m_lastHandled = handled;
    m_lastSampleNs = now;
    Q_EMIT statsChanged();
}
