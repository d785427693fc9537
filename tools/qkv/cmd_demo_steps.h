// The steps of `qkv demo`, one function each (cmd_demo_steps.cpp), so that
// cmd_demo.cpp reads as the list of what the demo does.
#pragma once

#include <string>
#include <vector>

namespace qkv::cli {

struct DemoOptions {
  std::vector<std::string> data;
  std::string out = "demo";
  double minutes = 3.0;
  int threads = 0;
  uint64_t seed = 42;
};

// The text, cut into what the model trains on and what it is measured on.
struct DemoText {
  std::string train_path, eval_path;
  std::string eval;  // the held-out text itself
  size_t train_bytes = 0;
};

// One form of the trained model and what was measured on it.
struct DemoRow {
  std::string form, path;
  uint64_t bytes = 0;
  double bpw = 0;
  double ppl = 0, ppl_err = 0, kld = 0, top1 = 0;
  double pp_tps = 0, tg_tps = 0;
};

// Reads --data (files, or every regular file of a folder), writes
// OUT/train.txt (the first 95%) and OUT/eval.txt (the last 5%).
DemoText split_text(const DemoOptions& o);
// Trains a byte-level BPE tokenizer on the training text; returns its GGUF.
std::string train_demo_tokenizer(const DemoOptions& o, const DemoText& text);
// Trains the model for about o.minutes; returns the exported F32 GGUF.
std::string train_demo_model(const DemoOptions& o, const DemoText& text, const std::string& vocab);
// F32, F16, Q8_0 and Q4_K_M GGUFs, and the F16 one compressed to .qkv.
std::vector<DemoRow> make_forms(const DemoOptions& o, const std::string& f32);
// Held-out perplexity, KL divergence from F32, prompt and generation speed of each form.
void measure_forms(const DemoOptions& o, const DemoText& text, std::vector<DemoRow>& rows);
// Streams a sampled continuation of the held-out text's first line from Q4_K_M.
void stream_sample(const DemoOptions& o, const DemoText& text, const std::vector<DemoRow>& rows);
// The table, on stdout and in OUT/table.txt.
void print_table(const std::vector<DemoRow>& rows, const DemoOptions& o, double seconds);

}  // namespace qkv::cli
