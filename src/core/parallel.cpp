// parallel_for over a persistent pool of worker threads: starting threads per
// call costs tens of microseconds, which dominated small matrix products.
#include "qkv/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace qkv {
namespace {

thread_local bool t_in_pool_task = false;  // nested parallel_for runs inline

void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

// Waits until done() by spinning, then by yielding the core: with more
// threads than cores, a spinner must not hold the core a worker needs.
template <class Done>
void spin_until(const Done& done) {
  for (int i = 0; !done(); ++i) {
    if (i < 4096)
      cpu_relax();
    else
      std::this_thread::yield();
  }
}

// Workers that have just finished a task spin on the generation counter for
// a while before they sleep: a forward pass runs hundreds of small parallel
// regions per token, and a condition-variable wake-up per region (tens of
// microseconds) cost more than the work. Idle for longer than kSpin, they
// sleep and cost nothing.
class Pool {
 public:
  static Pool& instance() {
    static Pool p;
    return p;
  }

  // Runs task(i) for i in [0, n): the caller and the workers take indices
  // until none is left; returns when all have finished and no worker still
  // holds the run (it lives on this stack frame).
  void run(int n, const std::function<void(int)>& task) {
    std::unique_lock call_lock(call_mu_);  // one parallel region at a time
    grow(n - 1);
    Run r{&task, n, {0}, {n}};
    current_.store(&r);
    generation_.fetch_add(1);
    if (sleepers_.load() > 0) {
      std::lock_guard lock(mu_);  // a worker between its check and its wait sees the new generation
      cv_work_.notify_all();
    }
    work(r);
    spin_until([&] { return r.pending.load(std::memory_order_acquire) == 0; });
    current_.store(nullptr);
    spin_until([&] { return inside_.load() == 0; });  // a worker that looked at r is done with it
  }

  ~Pool() {
    stop_.store(true);
    generation_.fetch_add(1);
    {
      std::lock_guard lock(mu_);
      cv_work_.notify_all();
    }
    for (auto& t : workers_) t.join();
  }

 private:
  static constexpr auto kSpin = std::chrono::microseconds(300);

  struct Run {
    const std::function<void(int)>* task;
    int end;
    std::atomic<int> next, pending;
  };

  static void work(Run& r) {
    for (int i; (i = r.next.fetch_add(1)) < r.end;) {
      t_in_pool_task = true;
      (*r.task)(i);
      t_in_pool_task = false;
      r.pending.fetch_sub(1, std::memory_order_release);
    }
  }

  void grow(int n) {
    while (static_cast<int>(workers_.size()) < n) workers_.emplace_back([this] { loop(); });
  }

  // Waits for a generation other than `seen`: spinning first, then asleep.
  uint64_t wait_for_work(uint64_t seen) {
    const auto spin_until = std::chrono::steady_clock::now() + kSpin;
    for (int i = 0;; ++i) {
      const uint64_t g = generation_.load(std::memory_order_acquire);
      if (g != seen) return g;
      cpu_relax();
      if (i % 256 == 255 && std::chrono::steady_clock::now() > spin_until) break;
    }
    std::unique_lock lock(mu_);
    sleepers_.fetch_add(1);
    cv_work_.wait(lock, [&] { return generation_.load() != seen; });
    sleepers_.fetch_sub(1);
    return generation_.load(std::memory_order_acquire);
  }

  void loop() {
    uint64_t seen = 0;
    for (;;) {
      seen = wait_for_work(seen);
      if (stop_.load()) return;
      // Announce before looking, so that run() cannot retire a Run we are about to use.
      inside_.fetch_add(1);
      if (Run* r = current_.load()) work(*r);
      inside_.fetch_sub(1);
    }
  }

  std::mutex call_mu_, mu_;
  std::condition_variable cv_work_;
  std::vector<std::thread> workers_;
  std::atomic<Run*> current_{nullptr};
  std::atomic<int> inside_{0}, sleepers_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace

int hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

int resolve_threads(int threads) { return threads <= 0 ? hardware_threads() : threads; }

void parallel_for(int64_t n, int threads, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  const int64_t t = t_in_pool_task ? 1 : std::min<int64_t>(resolve_threads(threads), units);
  if (t <= 1) {
    fn(0, n);
    return;
  }
  const int64_t per = (units + t - 1) / t * grain;
  const int ranges = static_cast<int>((n + per - 1) / per);
  std::exception_ptr error;
  std::mutex mu;
  Pool::instance().run(ranges, [&](int i) {
    try {
      fn(i * per, std::min(n, (i + 1) * per));
    } catch (...) {
      std::lock_guard lock(mu);
      if (!error) error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);
}

}  // namespace qkv
