// parallel_for over a persistent pool of worker threads: starting threads per
// call costs tens of microseconds, which dominated small matrix products.
#include "qkv/parallel.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace qkv {
namespace {

thread_local bool t_in_pool_task = false;  // nested parallel_for runs inline

class Pool {
 public:
  static Pool& instance() {
    static Pool p;
    return p;
  }

  // Runs task(i) for i in [0, n): i = 0 on the caller, the rest on workers.
  void run(int n, const std::function<void(int)>& task) {
    std::unique_lock call_lock(call_mu_);  // one parallel region at a time
    grow(n - 1);
    {
      std::lock_guard lock(mu_);
      task_ = &task;
      next_ = 1;
      end_ = n;
      pending_ = n - 1;
      ++generation_;
    }
    cv_work_.notify_all();
    run_one(task, 0);
    std::unique_lock lock(mu_);
    cv_done_.wait(lock, [&] { return pending_ == 0; });
    task_ = nullptr;
  }

  ~Pool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_work_.notify_all();
    for (auto& t : workers_) t.join();
  }

 private:
  static void run_one(const std::function<void(int)>& task, int i) {
    t_in_pool_task = true;
    task(i);
    t_in_pool_task = false;
  }

  void grow(int n) {
    while (static_cast<int>(workers_.size()) < n) workers_.emplace_back([this] { loop(); });
  }

  void loop() {
    uint64_t seen = 0;
    for (;;) {
      std::unique_lock lock(mu_);
      cv_work_.wait(lock, [&] { return stop_ || (generation_ != seen && next_ < end_); });
      if (stop_) return;
      const int i = next_++;
      if (next_ >= end_) seen = generation_;
      const auto* task = task_;
      lock.unlock();
      run_one(*task, i);
      lock.lock();
      if (--pending_ == 0) cv_done_.notify_one();
    }
  }

  std::mutex call_mu_, mu_;
  std::condition_variable cv_work_, cv_done_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* task_ = nullptr;
  int next_ = 0, end_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
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
