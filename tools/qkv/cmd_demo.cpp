// qkv demo: the whole toolkit on a model it trains itself, in a few minutes on
// a laptop CPU: train a small llama from text, export it to GGUF, quantize it
// (F16, Q8_0, Q4_K_M), compress it losslessly (.qkv), measure perplexity on
// held-out text for every form, stream a sample, and print a table.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "cmd_demo_steps.h"
#include "qkv/parallel.h"

namespace qkv::cli {
namespace {

namespace fs = std::filesystem;

// Text every Debian machine has, for when no corpus is given: the licence
// texts of /usr/share/common-licenses (about 250 KB of English).
constexpr const char* kFallbackText = "/usr/share/common-licenses";

int run(const DemoOptions& given) {
  DemoOptions o = given;
  if (o.data.empty()) {
    std::fprintf(stderr, "demo: no --data given; training on %s (any Debian machine has it)\n", kFallbackText);
    o.data = {kFallbackText};
  }
  if (o.threads <= 0) o.threads = hardware_threads();
  fs::create_directories(o.out);
  const auto start = std::chrono::steady_clock::now();

  const DemoText text = split_text(o);
  const std::string vocab = train_demo_tokenizer(o, text);
  const std::string f32 = train_demo_model(o, text, vocab);
  std::vector<DemoRow> rows = make_forms(o, f32);
  measure_forms(o, text, rows);
  stream_sample(o, text, rows);
  print_table(rows, o, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}

}  // namespace

Runner add_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Train a small model, then convert, quantize, compress, measure and run it");
  cmd->footer(
      "Everything QKV Core does, end to end: about 5 minutes on 2 cores with the default --minutes:\n"
      "  1. hold out the last 5% of the text for evaluation; train a 1024-token byte-level BPE tokenizer on the rest;\n"
      "  2. train a llama-shaped model of about 3.5M parameters for --minutes;\n"
      "  3. export it to GGUF (F32) and quantize it to F16, Q8_0 and Q4_K_M; compress F16 losslessly to .qkv;\n"
      "  4. measure the held-out perplexity of every form (and its KL divergence from F32), and its speed;\n"
      "  5. stream a sample from Q4_K_M and print a table of size, bits per weight, perplexity and tokens/s.\n"
      "Without --data it trains on /usr/share/common-licenses, which every Debian machine has;\n"
      "`make demo` passes ../shared/corpus/tinyshakespeare.txt when it is there.\n\n"
      "Example:\n  qkv demo --data tinyshakespeare.txt --out demo --minutes 4");
  auto o = std::make_shared<DemoOptions>();
  cmd->add_option("--data", o->data, "Text files or folders to train on (default: /usr/share/common-licenses)");
  cmd->add_option("--out", o->out, "Folder for the tokenizer, the run, the models and the table")->capture_default_str();
  cmd->add_option("--minutes", o->minutes, "Training time")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "Threads (default: all cores)");
  cmd->add_option("--seed", o->seed, "Seed of the model, the data order and the sample")->capture_default_str();
  return [o] { return run(*o); };
}

}  // namespace qkv::cli
