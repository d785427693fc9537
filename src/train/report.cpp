#include "train/report.h"

#include <cerrno>
#include <cmath>

#include "qkv/error.h"
#include "qkv/progress.h"

namespace qkv::train {
namespace {

std::string duration(double s) {
  char buf[32];
  const long t = std::lround(s);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

}  // namespace

Report::Report(const std::string& log_path, int64_t first_step, int64_t last_step)
    : log_path_(log_path), first_(first_step), last_(last_step), tty_(Progress::enabled()) {
  if (!log_path.empty()) {
    // Appended to: a resumed run continues the same log.
    log_ = std::fopen(log_path.c_str(), "a");
    if (!log_) throw_io("cannot open the log for appending", log_path, errno);
  }
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Report::~Report() {
  clear_line();
  if (log_) std::fclose(log_);
}

double Report::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Report::log(const nlohmann::json& record) {
  if (!log_) return;
  const std::string line = record.dump() + "\n";
  // Flushed per record: a killed run's log holds every step it finished.
  if (std::fwrite(line.data(), 1, line.size(), log_) != line.size() || std::fflush(log_) != 0)
    throw_io("cannot write the log", log_path_, errno);
}

void Report::clear_line() {
  if (!line_drawn_) return;
  std::fputs("\r\033[K", stderr);
  line_drawn_ = false;
}

void Report::note(const std::string& line) {
  clear_line();
  std::fprintf(stderr, "%s\n", line.c_str());
}

void Report::start(const nlohmann::json& info, const std::string& summary) {
  nlohmann::json r = info;
  r["type"] = "start";
  log(r);
  note(summary);
}

void Report::step(int64_t step, const StepStats& s, int64_t tokens, double seconds) {
  tokens_ += tokens;
  train_seconds_ += seconds;
  log({{"type", "step"}, {"step", step}, {"loss", s.loss}, {"lr", s.lr}, {"grad_norm", s.grad_norm},
       {"tokens", tokens}, {"tokens_per_s", tokens / seconds}, {"elapsed_s", elapsed()}});

  const double eta = train_seconds_ / double(step - first_) * double(last_ - step);
  char line[192];
  std::snprintf(line, sizeof line, "step %lld/%lld | loss %.4f | lr %.2e | grad norm %.3f | %.0f tok/s | ETA %s",
                static_cast<long long>(step), static_cast<long long>(last_), s.loss, s.lr, s.grad_norm,
                tokens_per_s(), duration(eta).c_str());
  if (tty_) {
    const auto now = std::chrono::steady_clock::now();
    if (step != last_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    std::fprintf(stderr, "\r\033[K%s", line);
    std::fflush(stderr);
    line_drawn_ = true;
  } else if (const int64_t every = std::max<int64_t>(1, (last_ - first_) / 20);
             (step - first_) % every == 0 || step == last_) {
    std::fprintf(stderr, "%s\n", line);
  }
}

void Report::eval(int64_t step, float loss, int64_t tokens) {
  log({{"type", "eval"}, {"step", step}, {"eval_loss", loss}, {"eval_tokens", tokens}, {"elapsed_s", elapsed()}});
  char line[96];
  std::snprintf(line, sizeof line, "step %lld: eval loss %.4f (%lld tokens)", static_cast<long long>(step), loss,
                static_cast<long long>(tokens));
  note(line);
}

}  // namespace qkv::train
