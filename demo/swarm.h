// SwarmFacade: thousands of pool actors, each a bank account, passing money around. Every
// transfer is a cast to a random account, which adds the amount and sends a part of its own
// balance on; so a fixed number of transfers is always in flight and no money is created or lost.
// An audit stops the traffic, waits until nothing is in flight (flushing every account) and sums
// all balances with calls: the total must equal the money ever put in.
// Public methods: GUI thread only. Operations that change the set of accounts or audit it run one
// after another, in the order they were asked for.
#pragma once

#include <QtActors/QtActors>

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

#include <QCoroTask>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <vector>

namespace swarm {

struct Account;

//! The accounts that transfers may go to: an immutable snapshot, replaced when accounts come
//! and go.
struct Directory
{
    std::vector<QtActors::Actor<Account>> accounts;
};

//! What every account shares. Thread-safe.
struct Bank
{
    std::atomic<bool> running{ false };
    std::atomic<qint64> inFlight{ 0 }; // transfers sent and not yet handled
    std::atomic<qint64> handled{ 0 };
    std::atomic<int> version{ 0 };

    std::shared_ptr<const Directory> directory() const;
    void publish(std::shared_ptr<const Directory> directory);

private:
    mutable std::mutex m_mutex;
    std::shared_ptr<const Directory> m_directory;
};

//! One account: the State of one actor.
struct Account
{
    std::shared_ptr<Bank> bank;
    qint64 balance = 0;
    quint64 random = 1;
    std::shared_ptr<const Directory> directory; // this account's cached copy of bank->directory()
    int directoryVersion = -1;

    //! Adds amount; while the bank runs, sends part of the balance to a random account.
    void receive(qint64 amount);

private:
    void sendSome();
    quint64 next();
};

} // namespace swarm

class SwarmFacade : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("Created by the demo in C++")
    Q_PROPERTY(int accountCount READ accountCount NOTIFY accountsChanged)
    Q_PROPERTY(bool running READ isRunning NOTIFY runningChanged)
    Q_PROPERTY(bool busy READ isBusy NOTIFY busyChanged)
    Q_PROPERTY(qint64 messagesHandled READ messagesHandled NOTIFY statsChanged)
    Q_PROPERTY(double messagesPerSecond READ messagesPerSecond NOTIFY statsChanged)
    Q_PROPERTY(qint64 inFlight READ inFlight NOTIFY statsChanged)
    Q_PROPERTY(qint64 expectedTotal READ expectedTotal NOTIFY accountsChanged)
    Q_PROPERTY(qint64 lastAuditTotal READ lastAuditTotal NOTIFY auditFinished)
    Q_PROPERTY(int audits READ audits NOTIFY auditFinished)
    Q_PROPERTY(bool invariantHeld READ invariantHeld NOTIFY auditFinished)
    Q_PROPERTY(double lastAuditMs READ lastAuditMs NOTIFY auditFinished)
    Q_PROPERTY(QString lastEvent READ lastEvent NOTIFY lastEventChanged)

public:
    static constexpr qint64 initialBalance = 1000;
    static constexpr int minimumAccounts = 1000;

    explicit SwarmFacade(int accounts = 5000, QObject *parent = nullptr);
    ~SwarmFacade() override;

    int accountCount() const { return int(m_accounts.size()); }
    bool isRunning() const { return m_wantRunning; }
    bool isBusy() const { return m_busy; }
    qint64 messagesHandled() const;
    double messagesPerSecond() const { return m_rate; }
    qint64 inFlight() const;
    qint64 expectedTotal() const { return m_expectedTotal; }
    qint64 lastAuditTotal() const { return m_lastAuditTotal; }
    int audits() const { return m_audits; }
    //! False as soon as one audit found a wrong total.
    bool invariantHeld() const { return m_invariantHeld; }
    double lastAuditMs() const { return m_lastAuditMs; }
    QString lastEvent() const { return m_lastEvent; }

    //! Starts the traffic: one transfer in flight per four accounts (at most 4000).
    Q_INVOKABLE void start();
    //! Stops the traffic; the money in flight lands, then an audit runs.
    Q_INVOKABLE void stop();
    //! Opens count accounts of initialBalance each (new money: the expected total grows).
    Q_INVOKABLE void addAccounts(int count = 10000);
    //! Closes up to count accounts (keeping minimumAccounts); their money goes to the others.
    Q_INVOKABLE void removeAccounts(int count = 10000);
    //! Sums every balance while the traffic is paused; emits auditFinished.
    Q_INVOKABLE void audit();
    //! Puts amount into the first account behind the books' back, so that the next audit fails
    //! (for the tests: an audit that cannot fail proves nothing).
    void forgeMoney(qint64 amount);

Q_SIGNALS:
    void accountsChanged();
    void runningChanged();
    void busyChanged();
    void statsChanged();
    void auditFinished(bool held, qint64 total);
    void lastEventChanged();
    //! Every operation asked for so far has run.
    void idle();

private:
    using Operation = std::function<QCoro::Task<>()>;
    struct Sum
    {
        qint64 total = 0;
        bool ok = true;
    };
    template <typename Send>
    QCoro::Task<Sum> askAll(const std::vector<QtActors::Actor<swarm::Account>> &accounts,
                            Send send);
    void enqueue(Operation operation);
    QCoro::Task<> runOperations();
    QCoro::Task<bool> settle();
    void resumeTraffic();
    QCoro::Task<> doAdd(int count);
    QCoro::Task<> doRemove(int count);
    QCoro::Task<> doAudit();
    void publishDirectory();
    void setEvent(const QString &text);
    void sampleRate();

    std::shared_ptr<swarm::Bank> m_bank;
    std::vector<QtActors::Actor<swarm::Account>> m_accounts;
    std::queue<Operation> m_operations;
    std::shared_ptr<bool> m_alive = std::make_shared<bool>(true);
    QTimer m_rateTimer;
    QTimer m_autoAudit;
    QElapsedTimer m_rateClock;
    qint64 m_lastHandled = 0;
    qint64 m_lastSampleNs = 0;
    double m_rate = 0;
    qint64 m_expectedTotal = 0;
    qint64 m_lastAuditTotal = 0;
    double m_lastAuditMs = 0;
    int m_audits = 0;
    bool m_invariantHeld = true;
    bool m_wantRunning = false;
    bool m_busy = false;
    quint32 m_nextSeed = 1;
    QString m_lastEvent;
};
