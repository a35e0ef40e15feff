// PipelineFacade: backpressure through a bounded mailbox (S23, S24). A writer actor on its own
// thread takes `delayMs` per record, like a slow disk; its mailbox holds at most `capacity`
// records. A producer coroutine on the GUI thread sends records as fast as it can with
// co_await castWhenRoom(): when the mailbox is full it is suspended (no thread, no busy loop) and
// resumed when the writer frees room, so it runs at the writer's pace and memory stays bounded.
// GUI thread only.
#pragma once

#include <QtActors/QtActors>

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <QtQml/qqmlregistration.h>

#include <QCoroTask>

#include <atomic>
#include <memory>

//! The writer actor's State.
struct RecordWriter
{
    qint64 written = 0;
};

class PipelineFacade : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("Created by the demo in C++")
    Q_PROPERTY(bool running READ isRunning NOTIFY runningChanged)
    Q_PROPERTY(int capacity READ capacity CONSTANT)
    Q_PROPERTY(int delayMs READ delayMs WRITE setDelayMs NOTIFY delayMsChanged)
    Q_PROPERTY(qint64 produced READ produced NOTIFY statsChanged)
    Q_PROPERTY(qint64 written READ written NOTIFY statsChanged)
    Q_PROPERTY(int waiting READ waiting NOTIFY statsChanged)
    Q_PROPERTY(bool producerWaiting READ isProducerWaiting NOTIFY statsChanged)
    Q_PROPERTY(qint64 roomWaits READ roomWaits NOTIFY statsChanged)
    Q_PROPERTY(double producedPerSecond READ producedPerSecond NOTIFY statsChanged)
    Q_PROPERTY(double writtenPerSecond READ writtenPerSecond NOTIFY statsChanged)

public:
    static constexpr int mailboxCapacity = 16;

    explicit PipelineFacade(QObject *parent = nullptr);
    ~PipelineFacade() override;

    bool isRunning() const { return m_running; }
    int capacity() const { return mailboxCapacity; }
    int delayMs() const { return m_delayMs->load(std::memory_order_relaxed); }
    void setDelayMs(int ms);
    //! Records the writer accepted into its mailbox, and those it has written.
    qint64 produced() const { return m_produced; }
    qint64 written() const { return m_written->load(std::memory_order_acquire); }
    //! Records in the writer's mailbox, not yet started (as the producer sees it).
    int waiting() const;
    //! The most records accepted and not yet written, seen each time the producer went on:
    //! never above capacity + 1 (the one being written).
    qint64 maxOutstanding() const { return m_maxOutstanding; }
    //! The producer is suspended in castWhenRoom, waiting for room.
    bool isProducerWaiting() const { return m_producerWaiting; }
    //! How many times the producer had to wait for room.
    qint64 roomWaits() const { return m_roomWaits; }
    double producedPerSecond() const { return m_producedRate; }
    double writtenPerSecond() const { return m_writtenRate; }

    Q_INVOKABLE void start();
    //! The producer stops after the record it waits for; the writer finishes what it holds.
    Q_INVOKABLE void stop();

Q_SIGNALS:
    void runningChanged();
    void delayMsChanged();
    void statsChanged();

private:
    QCoro::Task<> produce(int run);
    void sample();

    QtActors::Actor<RecordWriter> m_writer;
    std::shared_ptr<std::atomic<qint64>> m_written = std::make_shared<std::atomic<qint64>>(0);
    std::shared_ptr<std::atomic<int>> m_delayMs = std::make_shared<std::atomic<int>>(8);
    QTimer m_sampler;
    QElapsedTimer m_sampleClock;
    qint64 m_produced = 0;
    qint64 m_sampledProduced = 0;
    qint64 m_sampledWritten = 0;
    qint64 m_maxOutstanding = 0;
    qint64 m_roomWaits = 0;
    double m_producedRate = 0;
    double m_writtenRate = 0;
    int m_run = 0;
    bool m_running = false;
    bool m_producerWaiting = false;
};
