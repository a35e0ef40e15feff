#include "harness.h"
#include "alloccounter.h"
#include "workloads.h"

#include <cstdio>
#include <malloc.h>
#include <unistd.h>

namespace bench {

std::int64_t residentBytes()
{
    std::FILE *f = std::fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    long long size = 0, resident = 0;
    const int n = std::fscanf(f, "%lld %lld", &size, &resident);
    std::fclose(f);
    if (n != 2)
        return -1;
    return resident * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
}

void trimHeap()
{
    malloc_trim(0);
}

} // namespace bench

namespace bench {

Footprint footprint()
{
    trimHeap();
    return {residentBytes(), alloc::snapshot().liveBytes};
}

void setPerActor(SpawnResult &result, const Footprint &before, const Footprint &idle, long count)
{
    result.rssBytesPerActor = double(idle.rss - before.rss) / double(count);
    result.heapBytesPerActor = double(idle.heap - before.heap) / double(count);
}

} // namespace bench
