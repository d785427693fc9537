// Splitting work over threads. Work is cut into contiguous ranges, one per
// thread, so results never depend on the thread count.
#pragma once

#include <cstdint>
#include <functional>

namespace qkv {

// Number of hardware threads (at least 1).
int hardware_threads();
// threads <= 0 means all hardware threads.
int resolve_threads(int threads);

// Calls fn(begin, end) over [0, n) split into at most `threads` ranges, each
// a multiple of `grain` except the last; the calling thread does one range.
// An exception in any range is rethrown here after all ranges finish.
void parallel_for(int64_t n, int threads, const std::function<void(int64_t begin, int64_t end)>& fn,
                  int64_t grain = 1);

}  // namespace qkv
