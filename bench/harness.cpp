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

std::vector<std::int64_t> primeFactors(std::int64_t n)
{
    std::vector<std::int64_t> factors;
    for (; n % 2 == 0; n /= 2)
        factors.push_back(2);
    for (std::int64_t d = 3; d <= n / d; d += 2) {
        for (; n % d == 0; n /= d)
            factors.push_back(d);
    }
    if (n > 1)
        factors.push_back(n);
    return factors;
}

void expectMixedCounts(const MixedSpec &spec, long factorizations, long wrong, long hops, const char *what)
{
    const long repetitions = long(spec.rings) * spec.repetitions;
    expectCount(wrong, 0, (std::string(what) + ": wrong factorizations").c_str());
    expectCount(factorizations, repetitions, (std::string(what) + ": factorizations checked").c_str());
    expectCount(hops, repetitions * spec.laps * spec.ringSize, (std::string(what) + ": token hops").c_str());
}

void setPerActor(SpawnResult &result, const Footprint &before, const Footprint &idle, long count)
{
    result.rssBytesPerActor = double(idle.rss - before.rss) / double(count);
    result.heapBytesPerActor = double(idle.heap - before.heap) / double(count);
}

} // namespace bench
