// WorkerFacade: one actor on its own QThread (Executor::dedicatedThread()) counting primes by trial
// division, a deliberately long CPU job. Each chunk is one call; the facade sends the next chunk
// when the previous answers, so progress arrives on the GUI thread as the answers come in. Cancel
// sets a flag that the running chunk polls, and no further chunk is sent. GUI thread only.
#pragma once

#include <QtActors/QtActors>

#include <QElapsedTimer>
#include <QObject>
#include <QtQml/qqmlregistration.h>

#include <QCoroTask>

#include <atomic>
#include <memory>

//! The worker actor's State.
struct PrimeCounter
{
    qint64 chunksHandled = 0;
};

class WorkerFacade : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("Created by the demo in C++")
    Q_PROPERTY(QString status READ status NOTIFY statusChanged)
    Q_PROPERTY(bool running READ isRunning NOTIFY statusChanged)
    Q_PROPERTY(double progress READ progress NOTIFY progressChanged)
    Q_PROPERTY(qint64 limit READ limit NOTIFY statusChanged)
    Q_PROPERTY(qint64 primesFound READ primesFound NOTIFY progressChanged)
    Q_PROPERTY(int chunksDone READ chunksDone NOTIFY progressChanged)
    Q_PROPERTY(int chunkCount READ chunkCount NOTIFY statusChanged)
    Q_PROPERTY(double elapsedMs READ elapsedMs NOTIFY progressChanged)
    Q_PROPERTY(QString threadName READ threadName NOTIFY progressChanged)

public:
    static constexpr qint64 defaultLimit = 20'000'000;
    static constexpr qint64 chunkSize = 100'000;

    explicit WorkerFacade(QObject *parent = nullptr);
    ~WorkerFacade() override;

    //! "idle", "running", "canceling", "finished", "canceled" or "failed: …".
    QString status() const { return m_status; }
    bool isRunning() const { return m_status == QLatin1String("running"); }
    double progress() const { return m_limit > 0 ? double(m_done) / double(m_limit) : 0; }
    qint64 limit() const { return m_limit; }
    qint64 primesFound() const { return m_primes; }
    int chunksDone() const { return m_chunks; }
    int chunkCount() const { return chunkCountFor(m_limit); }
    static constexpr int chunkCountFor(qint64 limit) { return int((limit + chunkSize - 1) / chunkSize); }
    double elapsedMs() const { return m_elapsedMs; }
    QString threadName() const { return m_threadName; }

    //! Counts the primes below limit; a job already running is canceled first.
    Q_INVOKABLE void start(qint64 limit = defaultLimit);
    //! Asks the running job to stop; status becomes "canceled" when the worker has let go.
    Q_INVOKABLE void cancel();
    //! Done when every chunk sent so far has been handled (for tests).
    QFuture<void> flush() const;

Q_SIGNALS:
    void statusChanged();
    void progressChanged();
    //! The job ended: finished, canceled or failed.
    void ended();

private:
    // PrimeCounter (the actor's State) is at namespace scope: Clang cannot use the default member
    // initializers of a nested class before the enclosing class is complete, so
    // std::is_constructible (checked by Actor::emplace) would be false.
    struct Chunk
    {
        qint64 primes = 0;
        bool canceled = false;
        QString thread;
    };
    QCoro::Task<> run(int job, qint64 limit, std::shared_ptr<std::atomic<bool>> cancel);
    void setStatus(const QString &status);

    QtActors::Actor<PrimeCounter> m_worker;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    std::shared_ptr<bool> m_alive = std::make_shared<bool>(true);
    QElapsedTimer m_clock;
    QString m_status;
    QString m_threadName;
    qint64 m_limit = 0;
    qint64 m_done = 0;
    qint64 m_primes = 0;
    double m_elapsedMs = 0;
    int m_chunks = 0;
    int m_job = 0;
};
