// Counting allocator: this executable replaces the global operator new/delete with versions that
// count allocations and live bytes per thread (one cache-line slot per thread, summed on read), so
// the benchmark can report allocations per cast and per call, and heap bytes per idle actor.
// Only operator new is counted: memory taken with malloc() directly (Qt's QArrayData) is not.
// Thread contract: snapshot() may be called from any thread; it sees every allocation that
// happened-before the call.
#pragma once

#include <cstdint>

namespace bench::alloc {

struct Snapshot
{
    std::uint64_t allocations = 0; // operator new calls
    std::int64_t liveBytes = 0;    // usable bytes allocated minus freed
};

Snapshot snapshot();

} // namespace bench::alloc
