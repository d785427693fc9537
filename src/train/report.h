// What a training run tells: a status line on the terminal (redrawn when
// stderr is a terminal, a plain line every few steps when it is not) and a
// JSONL record of every step and evaluation.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "qkv/train.h"

namespace qkv::train {

class Report {
 public:
  // Steps first_step + 1 ... last_step are to come; log_path "" keeps no log.
  Report(const std::string& log_path, int64_t first_step, int64_t last_step);
  ~Report();
  Report(const Report&) = delete;
  Report& operator=(const Report&) = delete;

  void start(const nlohmann::json& info, const std::string& summary);
  void step(int64_t step, const StepStats& s, int64_t tokens, double seconds);
  void eval(int64_t step, float loss, int64_t tokens);
  void note(const std::string& line);  // a line of its own on the terminal
  double tokens_per_s() const { return train_seconds_ > 0 ? double(tokens_) / train_seconds_ : 0.0; }

 private:
  void log(const nlohmann::json& record);
  void clear_line();
  double elapsed() const;

  std::FILE* log_ = nullptr;
  std::string log_path_;
  int64_t first_, last_, tokens_ = 0;
  double train_seconds_ = 0;  // in steps, not evaluations or checkpoints
  bool tty_, line_drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace qkv::train
