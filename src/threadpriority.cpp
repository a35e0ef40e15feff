// Thread priorities of the library's own threads. On Linux, QThread's priorities do nothing for
// normal (SCHED_OTHER) threads and a new thread inherits the nice value of the thread that
// created it, so both functions set the nice value relative to the process's main thread
// (getpriority(PRIO_PROCESS, pid) reads the main thread's).

#include "runtime_p.h"
#include "tuning_p.h"

#include <QtCore/QThread>

#include <algorithm>
#include <cerrno>
#if defined(Q_OS_LINUX)
#include <sys/resource.h>
#include <unistd.h>
#endif

namespace QtActors::detail {

namespace {

#if defined(Q_OS_LINUX)
void setNiceRelativeToMainThread(int offset) noexcept
{
    errno = 0;
    const int base = getpriority(PRIO_PROCESS, static_cast<id_t>(getpid()));
    if (errno == 0)
        setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), std::clamp(base + offset, -20, 19));
}
#endif

} // namespace

void lowerThisThreadsPriority() noexcept
{
    static thread_local bool lowered = false;
    if (lowered)
        return;
    lowered = true;
#if defined(Q_OS_LINUX)
    setNiceRelativeToMainThread(tuning::LibraryPoolNiceOffset);
#else
    QThread::currentThread()->setPriority(QThread::LowPriority);
#endif
}

void setNormalPriority() noexcept
{
#if defined(Q_OS_LINUX)
    // Raising the priority back needs no privilege as long as it stays at or below the main
    // thread's level... unless RLIMIT_NICE forbids it: then the thread keeps what it inherited.
    setNiceRelativeToMainThread(0);
#endif
}

} // namespace QtActors::detail
