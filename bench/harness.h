// Small helpers shared by every side of the benchmark: a stopwatch, the process's RSS, a start
// gate for producer threads and a bounded wait for asynchronous tear-down.
#pragma once

#include "workloads.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

//! Resident set size of this process in bytes (/proc/self/statm).
std::int64_t residentBytes();

//! Returns freed heap memory to the system (malloc_trim), so an RSS baseline is not flattered by
//! memory a previous workload left in the allocator.
void trimHeap();

//! Producer threads spin on this until the measuring thread opens it.
class StartGate
{
public:
    void open() { m_open.store(true, std::memory_order_release); }
    void pass() const
    {
        while (!m_open.load(std::memory_order_acquire))
            std::this_thread::yield();
    }

private:
    std::atomic<bool> m_open{false};
};

//! One CPU-bound thread for as long as it lives: what a user's machine runs beside the
//! application (a compiler, a browser tab). Rows measured "beside a busy thread" hold one.
class BusyThread
{
public:
    BusyThread()
        : m_thread([this] {
              std::uint64_t x = 1;
              while (!m_stop.load(std::memory_order_relaxed))
                  x = x * 6364136223846793005ULL + 1442695040888963407ULL; // never idle
              m_sink.store(x, std::memory_order_relaxed);
          })
    {
    }
    ~BusyThread()
    {
        m_stop.store(true, std::memory_order_relaxed);
        m_thread.join();
    }
    BusyThread(const BusyThread &) = delete;
    BusyThread &operator=(const BusyThread &) = delete;

private:
    std::atomic<bool> m_stop{false};
    std::atomic<std::uint64_t> m_sink{0};
    std::thread m_thread;
};

//! Waits until pred() holds; throws after `timeout` (tear-down that never finishes is a bug to
//! report, not to hang on).
template <typename Pred>
void waitUntil(Pred pred, const char *what, std::chrono::seconds timeout = std::chrono::seconds(60))
{
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
        if (Clock::now() > deadline)
            throw std::runtime_error(std::string("timed out waiting for ") + what);
        std::this_thread::yield();
    }
}

//! Throws when a workload's final count is wrong: a number measured on lost messages is no number.
//! The median and 99th percentile of timer lateness samples (ms).
inline Lateness latenessOf(std::vector<double> samples)
{
    if (samples.empty())
        throw std::runtime_error("no timer fired");
    std::sort(samples.begin(), samples.end());
    auto at = [&](double q) {
        return samples[std::min(samples.size() - 1, std::size_t(q * double(samples.size())))];
    };
    return {std::max(0.0, at(0.5)), std::max(0.0, at(0.99))};
}

inline void expectCount(long long actual, long long expected, const char *what)
{
    if (actual != expected)
        throw std::runtime_error(std::string(what) + ": counted " + std::to_string(actual)
                                 + ", expected " + std::to_string(expected));
}

//! Cast throughput from one plain thread: send() `casts` times, then read() confirms the count.
template <typename Send, typename Read>
double timeCastsFromOneThread(long casts, Send send, Read read, const char *what);

//! The fan-in workload, the same for every side: `producers` plain threads released together each
//! call send() casts/producers times; read() then confirms the count (part of the timed span).
template <typename Send, typename Read>
double timeFanIn(int producers, long casts, Send send, Read read, const char *what)
{
    const long perProducer = casts / producers;
    StartGate gate;
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&] {
            gate.pass();
            for (long i = 0; i < perProducer; ++i)
                send();
        });
    }
    const auto start = Clock::now();
    gate.open();
    for (auto &t : threads)
        t.join();
    const long seen = read();
    const double seconds = secondsSince(start);
    expectCount(seen, perProducer * producers, what);
    return seconds;
}

//! Runs fn on a new plain thread (no Qt event loop) and waits for it; rethrows what it threw.
template <typename Fn>
void runInThread(Fn &&fn)
{
    std::exception_ptr error;
    std::thread thread([&] {
        try {
            fn();
        } catch (...) {
            error = std::current_exception();
        }
    });
    thread.join();
    if (error)
        std::rethrow_exception(error);
}

template <typename Send, typename Read>
double timeCastsFromOneThread(long casts, Send send, Read read, const char *what)
{
    double seconds = 0;
    long seen = 0;
    runInThread([&] {
        const auto start = Clock::now();
        for (long i = 0; i < casts; ++i)
            send();
        seen = read();
        seconds = secondsSince(start);
    });
    expectCount(seen, casts, what);
    return seconds;
}

} // namespace bench
