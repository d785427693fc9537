// A one-line progress bar on stderr, drawn only when stderr is a terminal
// (logs and CI stay clean) and at most ten times a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace qkv {

class Progress {
 public:
  // total: units of work (bytes, tensors ...); unit_is_bytes prints MB.
  Progress(std::string label, uint64_t total, bool unit_is_bytes = true);
  ~Progress();  // finishes the line if it was drawn

  void add(uint64_t done);  // thread-safe
  void set_note(const std::string& note);  // e.g. the current tensor's name
  void finish();
  static bool enabled();  // stderr is a terminal and QKV_NO_PROGRESS is unset

 private:
  void draw(bool force);
  std::string label_, note_;
  uint64_t total_, done_ = 0;
  bool bytes_, drawn_ = false, finished_ = false, enabled_;
  std::chrono::steady_clock::time_point start_, last_;
  std::mutex mu_;
};

}  // namespace qkv
