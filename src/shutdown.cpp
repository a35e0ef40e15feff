// The shutdown sequence: what the library does when a QCoreApplication is destroyed.
//   1. Post routines run first in ~QCoreApplication, on the main thread, before Qt discards the
//      events still queued: the main thread's actors get their queued wake-ups delivered there, so
//      they run their queues and destroy State on the main thread (S3, S15).
//   2. Actors on other threads are untouched: their threads go on (or end, see LoopScheduler).
// A post routine runs once; the flag below re-arms it for the next application, whatever its
// address. (S29's drain at aboutToQuit will be step 0 of this sequence.)

#include "runtime_p.h"

#include <QtCore/QCoreApplication>

#include <atomic>

namespace QtActors::detail {

namespace {

std::atomic<bool> g_armed{false};
std::atomic<void (*)()> g_mainThreadDrain{nullptr};

void atApplicationExit()
{
    g_armed.store(false, std::memory_order_release); // the next application arms it again
    if (void (*drain)() = g_mainThreadDrain.load(std::memory_order_acquire))
        drain();
}

} // namespace

void drainMainThreadAtApplicationExit(void (*drain)()) noexcept
{
    g_mainThreadDrain.store(drain, std::memory_order_release);
    if (g_armed.load(std::memory_order_acquire) || g_armed.exchange(true, std::memory_order_acq_rel))
        return;
    qAddPostRoutine(atApplicationExit);
}

} // namespace QtActors::detail
