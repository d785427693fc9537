#include "qkv/parallel.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace qkv {

int hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

int resolve_threads(int threads) { return threads <= 0 ? hardware_threads() : threads; }

void parallel_for(int64_t n, int threads, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  const int64_t t = std::min<int64_t>(resolve_threads(threads), units);
  if (t <= 1) {
    fn(0, n);
    return;
  }
  const int64_t per = (units + t - 1) / t * grain;
  std::exception_ptr error;
  std::mutex mu;
  auto run = [&](int64_t begin, int64_t end) {
    try {
      fn(begin, end);
    } catch (...) {
      std::lock_guard lock(mu);
      if (!error) error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int64_t begin = per; begin < n; begin += per) pool.emplace_back(run, begin, std::min(n, begin + per));
  run(0, std::min(n, per));
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace qkv
