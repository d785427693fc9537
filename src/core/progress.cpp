#include "qkv/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace qkv {

bool Progress::enabled() {
  static const bool on = ::isatty(STDERR_FILENO) && std::getenv("QKV_NO_PROGRESS") == nullptr;
  return on;
}

Progress::Progress(std::string label, uint64_t total, bool unit_is_bytes)
    : label_(std::move(label)), total_(total), bytes_(unit_is_bytes), enabled_(enabled()) {
  start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { finish(); }

void Progress::add(uint64_t done) {
  if (!enabled_) return;
  std::lock_guard lock(mu_);
  done_ += done;
  draw(false);
}

void Progress::set_note(const std::string& note) {
  if (!enabled_) return;
  std::lock_guard lock(mu_);
  note_ = note;
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  std::lock_guard lock(mu_);
  finished_ = true;
  if (drawn_) {
    draw(true);
    std::fputc('\n', stderr);
  }
}

void Progress::draw(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  drawn_ = true;
  const double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const int width = 30, filled = static_cast<int>(frac * width);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(width, '.');
  const double secs = std::chrono::duration<double>(now - start_).count();
  char amount[96];
  if (bytes_) {
    const double mb = static_cast<double>(done_) / 1e6;
    std::snprintf(amount, sizeof amount, "%.1f/%.1f MB, %.1f MB/s", mb, static_cast<double>(total_) / 1e6,
                  secs > 0 ? mb / secs : 0.0);
  } else {
    std::snprintf(amount, sizeof amount, "%llu/%llu", static_cast<unsigned long long>(done_),
                  static_cast<unsigned long long>(total_));
  }
  std::string note = note_.size() > 40 ? note_.substr(0, 37) + "..." : note_;
  std::fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %s %s", label_.c_str(), bar.c_str(), frac * 100, amount,
               note.c_str());
  std::fflush(stderr);
}

}  // namespace qkv
