#include "pipeline.h"

#include <QPointer>
#include <QThread>

#include <algorithm>

using namespace Qt::StringLiterals;

PipelineFacade::PipelineFacade(QObject *parent)
    : QObject(parent),
      m_writer(QtActors::Actor<RecordWriter>::emplace(QtActors::Options{
              .name = u"record-writer"_s,
              .executor = QtActors::Executor::dedicatedThread(),
              .mailboxCapacity = mailboxCapacity,
              .overflow = QtActors::Overflow::Reject }))
{
    m_sampler.setInterval(250);
    connect(&m_sampler, &QTimer::timeout, this, &PipelineFacade::sample);
    m_sampler.start();
    m_sampleClock.start();
}

PipelineFacade::~PipelineFacade()
{
    m_running = false;
}

void PipelineFacade::setDelayMs(int ms)
{
    ms = std::clamp(ms, 1, 100);
    if (m_delayMs->exchange(ms, std::memory_order_relaxed) != ms)
        Q_EMIT delayMsChanged();
}

int PipelineFacade::waiting() const
{
    // Accepted and not written, less the one being written.
    return int(std::clamp<qint64>(m_produced - written() - 1, 0, mailboxCapacity));
}

void PipelineFacade::start()
{
    if (m_running)
        return;
    m_running = true;
    Q_EMIT runningChanged();
    produce(++m_run);
}

void PipelineFacade::stop()
{
    if (!m_running)
        return;
    m_running = false;
    Q_EMIT runningChanged();
}

QCoro::Task<> PipelineFacade::produce(int run)
{
    QPointer<PipelineFacade> self(this);
    const QtActors::Actor<RecordWriter> writer = m_writer;
    const auto written = m_written;
    const auto delayMs = m_delayMs;
    while (self && m_running && m_run == run) {
        auto admitted = writer.castWhenRoom([written, delayMs](RecordWriter &state) {
            // Writing a record takes a while and needs no CPU, like a slow disk.
            QThread::msleep(ulong(delayMs->load(std::memory_order_relaxed)));
            ++state.written;
            written->fetch_add(1, std::memory_order_release);
        });
        if (!admitted.isFinished()) { // full: wait for room, at the writer's pace
            ++m_roomWaits;
            m_producerWaiting = true;
        }
        try {
            co_await std::move(admitted);
        } catch (const std::exception &error) {
            qWarning("pipeline: the writer refused a record: %s", error.what());
            if (self)
                self->stop();
            co_return;
        }
        if (!self)
            co_return;
        m_producerWaiting = false;
        ++m_produced;
        m_maxOutstanding = std::max(m_maxOutstanding, m_produced - self->written());
    }
}

void PipelineFacade::sample()
{
    const double seconds = double(m_sampleClock.restart()) / 1000;
    const qint64 nowWritten = written();
    if (seconds > 0) {
        m_producedRate = double(m_produced - m_sampledProduced) / seconds;
        m_writtenRate = double(nowWritten - m_sampledWritten) / seconds;
    }
    m_sampledProduced = m_produced;
    m_sampledWritten = nowWritten;
    Q_EMIT statsChanged();
}
