#include "worker.h"

#include "threadlabel.h"

#include <algorithm>

using namespace Qt::StringLiterals;

namespace {

bool isPrime(qint64 n)
{
    if (n < 2)
        return false;
    if (n % 2 == 0)
        return n == 2;
    for (qint64 d = 3; d * d <= n; d += 2) {
        if (n % d == 0)
            return false;
    }
    return true;
}

} // namespace

WorkerFacade::WorkerFacade(QObject *parent)
    : QObject(parent),
      m_worker(QtActors::Actor<PrimeCounter>::emplace(QtActors::Options{
              .name = u"prime-worker"_s, .executor = QtActors::Executor::dedicatedThread() })),
      m_status(u"idle"_s)
{ }

WorkerFacade::~WorkerFacade()
{
    *m_alive = false;
    if (m_cancel)
        m_cancel->store(true);
}

void WorkerFacade::start(qint64 limit)
{
    cancel();
    m_cancel = std::make_shared<std::atomic<bool>>(false);
    m_limit = std::max<qint64>(limit, 1);
    m_done = m_primes = 0;
    m_chunks = 0;
    m_elapsedMs = 0;
    m_clock.start();
    m_status.clear(); // "running" again: tell QML, which also reads limit and chunkCount
    setStatus(u"running"_s);
    Q_EMIT progressChanged();
    run(++m_job, m_limit, m_cancel);
}

void WorkerFacade::cancel()
{
    if (!m_cancel || !isRunning())
        return;
    m_cancel->store(true, std::memory_order_relaxed);
    setStatus(u"canceling"_s);
}

QFuture<void> WorkerFacade::flush() const
{
    return m_worker.flush().future();
}

QCoro::Task<> WorkerFacade::run(int job, qint64 limit, std::shared_ptr<std::atomic<bool>> cancel)
{
    const auto alive = m_alive;
    for (qint64 from = 0; from < limit; from += chunkSize) {
        const qint64 to = std::min(limit, from + chunkSize);
        auto call = m_worker.call([from, to, cancel](PrimeCounter &counter) {
            Chunk chunk;
            chunk.thread = currentThreadLabel();
            for (qint64 n = from; n < to; ++n) {
                if (n % 1024 == 0 && cancel->load(std::memory_order_relaxed)) {
                    chunk.canceled = true;
                    return chunk;
                }
                chunk.primes += isPrime(n) ? 1 : 0;
            }
            ++counter.chunksHandled;
            return chunk;
        });
        Chunk chunk;
        try {
            chunk = co_await std::move(call);
        } catch (const std::exception &error) {
            if (*alive && job == m_job)
                setStatus(u"failed: %1"_s.arg(QString::fromUtf8(error.what())));
            co_return;
        }
        if (!*alive || job != m_job)
            co_return;
        m_threadName = chunk.thread;
        m_elapsedMs = double(m_clock.nsecsElapsed()) / 1e6;
        if (chunk.canceled || cancel->load(std::memory_order_relaxed)) {
            setStatus(u"canceled"_s);
            Q_EMIT progressChanged();
            co_return;
        }
        m_done = to;
        m_primes += chunk.primes;
        ++m_chunks;
        Q_EMIT progressChanged();
    }
    setStatus(u"finished"_s);
}

void WorkerFacade::setStatus(const QString &status)
{
    if (m_status == status)
        return;
    m_status = status;
    Q_EMIT statusChanged();
    if (status != u"running"_s && status != u"canceling"_s)
        Q_EMIT ended();
}
