// qkv bench: what llama-bench is to llama.cpp users. For each model and
// thread count: prompt processing (pp: one decode of -p tokens from an empty
// cache) and generation (tg: -n decodes of one token each, from an empty
// cache), as tokens/s, mean and standard deviation over -r runs after one
// warm-up run that is not counted. Markdown, JSON or CSV.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <sstream>

#include "commands.h"
#include "qkv/cpu.h"
#include "qkv/error.h"
#include "qkv/parallel.h"
#include "qkv/recipe.h"
#include "qkv/session.h"

namespace qkv::cli {
namespace {

struct Args {
  std::vector<std::string> models;
  std::vector<int> prompt = {128}, gen = {64}, threads;
  int reps = 5;
  std::string output = "md";
  bool no_repack = false;
};

struct Result {
  std::string model, type, test;
  double size_mib = 0, params = 0;
  int threads = 0, tokens = 0;
  double mean = 0, stdev = 0;
  std::vector<double> samples;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Token ids spread over the vocabulary (speed does not depend on them).
std::vector<int32_t> some_tokens(const Model& m, int n) {
  const int vocab = static_cast<int>(m.config().n_vocab);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ids[i] = 1 + static_cast<int32_t>((int64_t(i) * 7919 + 13) % std::max(1, vocab - 1));
  return ids;
}

// Seconds for one pp (prompt > 0) or tg (gen > 0) test.
double run_once(const std::shared_ptr<const Model>& model, int prompt, int gen, int threads) {
  Session s(model, std::max(prompt, gen) + 1, threads);
  const auto ids = some_tokens(*model, std::max(prompt, gen));
  const auto t0 = std::chrono::steady_clock::now();
  if (prompt > 0) {
    s.decode(ids);
  } else {
    for (int i = 0; i < gen; ++i) s.decode(std::span<const int32_t>(&ids[i], 1));
  }
  return seconds_since(t0);
}

// llama-bench's description of a file type ("Q4_K - Medium"), from general.file_type.
std::string type_label(const Model& m) {
  const uint64_t ft = m.file().metadata().get_u64("general.file_type", UINT64_MAX);
  for (const auto& f : quant::file_types())
    if (f.ftype == ft) return std::string(f.name);
  return std::string(type_name(m.token_embd.type));
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

void print_markdown(const std::vector<Result>& rs) {
  std::printf("| model | size | params | type | threads | test | t/s |\n");
  std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
  for (const auto& r : rs)
    std::printf("| %s | %.2f MiB | %.2f M | %s | %d | %s | %.2f ± %.2f |\n", r.model.c_str(), r.size_mib,
                r.params / 1e6, r.type.c_str(), r.threads, r.test.c_str(), r.mean, r.stdev);
}

void print_csv(const std::vector<Result>& rs) {
  std::printf("model,size_bytes,params,type,threads,test,n_tokens,avg_ts,stddev_ts\n");
  for (const auto& r : rs)
    std::printf("%s,%.0f,%.0f,%s,%d,%s,%d,%.4f,%.4f\n", r.model.c_str(), r.size_mib * 1048576.0, r.params,
                r.type.c_str(), r.threads, r.test.c_str(), r.tokens, r.mean, r.stdev);
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += char(c);
    else if (c < 0x20) out += fmt("\\u%04x", c);
    else out += char(c);
  }
  return out + "\"";
}

void print_json(const std::vector<Result>& rs) {
  std::printf("[\n");
  for (size_t i = 0; i < rs.size(); ++i) {
    const auto& r = rs[i];
    std::ostringstream samples;
    for (size_t k = 0; k < r.samples.size(); ++k) samples << (k ? ", " : "") << fmt("%.4f", r.samples[k]);
    std::printf("  {\"model\": %s, \"size_bytes\": %.0f, \"params\": %.0f, \"type\": %s, \"cpu\": %s, "
                "\"threads\": %d, \"test\": %s, \"n_tokens\": %d, \"avg_ts\": %.4f, \"stddev_ts\": %.4f, "
                "\"samples_ts\": [%s]}%s\n",
                json_string(r.model).c_str(), r.size_mib * 1048576.0, r.params, json_string(r.type).c_str(),
                json_string(cpu_summary()).c_str(), r.threads, json_string(r.test).c_str(), r.tokens, r.mean, r.stdev,
                samples.str().c_str(), i + 1 < rs.size() ? "," : "");
  }
  std::printf("]\n");
}

int run(const Args& a) {
  if (a.output != "md" && a.output != "json" && a.output != "csv")
    throw Error(ErrorKind::Usage, "-o must be md, json or csv, not '" + a.output + "'");
  if (a.reps < 1) throw Error(ErrorKind::Usage, "-r must be at least 1");
  std::vector<int> threads = a.threads.empty() ? std::vector<int>{hardware_threads()} : a.threads;
  for (int t : threads)
    if (t < 1) throw Error(ErrorKind::Usage, "-t takes thread counts of at least 1");
  std::vector<Result> results;
  for (const auto& path : a.models) {
    auto model = Model::load(path, {.repack = !a.no_repack});
    double params = 0, bytes = 0;  // as llama-bench counts them: the tensors alone
    for (const auto& t : model->file().tensors()) params += double(t.n_elements()), bytes += double(t.nbytes());
    std::vector<std::pair<int, int>> tests;  // (prompt, gen)
    for (int p : a.prompt)
      if (p > 0) tests.emplace_back(p, 0);
    for (int g : a.gen)
      if (g > 0) tests.emplace_back(0, g);
    for (int th : threads)
      for (auto [p, g] : tests) {
        Result r;
        r.model = std::filesystem::path(path).filename().string();
        r.type = type_label(*model);
        r.size_mib = bytes / 1048576.0;
        r.params = params;
        r.threads = th;
        r.tokens = p > 0 ? p : g;
        r.test = (p > 0 ? "pp" : "tg") + std::to_string(r.tokens);
        run_once(model, p, g, th);  // warm-up: page faults, thread start, caches
        for (int i = 0; i < a.reps; ++i) r.samples.push_back(r.tokens / run_once(model, p, g, th));
        r.mean = std::accumulate(r.samples.begin(), r.samples.end(), 0.0) / r.samples.size();
        double var = 0;
        for (double v : r.samples) var += (v - r.mean) * (v - r.mean);
        r.stdev = r.samples.size() > 1 ? std::sqrt(var / (r.samples.size() - 1)) : 0.0;
        std::fprintf(stderr, "%s t=%d %s: %.2f t/s\n", r.model.c_str(), th, r.test.c_str(), r.mean);
        results.push_back(std::move(r));
      }
  }
  if (a.output == "md") print_markdown(results);
  if (a.output == "csv") print_csv(results);
  if (a.output == "json") print_json(results);
  return 0;
}

}  // namespace

Runner add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure prompt processing and generation speed (as llama-bench)");
  cmd->footer("Each test starts from an empty cache: pp N decodes an N-token prompt at once, tg N generates\n"
              "N tokens one at a time. One warm-up run per test is not counted; t/s is the mean and\n"
              "standard deviation over -r runs. Lists take commas, as llama-bench's do.\n\n"
              "Examples:\n  qkv bench -m model-q4km.gguf\n"
              "  qkv bench -m a.gguf -m b.gguf -p 128,512 -n 64 -t 1,2 -r 3 -o json");
  auto a = std::make_shared<Args>();
  cmd->add_option("-m,--model", a->models, "GGUF or .qkv model (repeat for several)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-p,--n-prompt", a->prompt, "Prompt lengths to test (0: none)")->delimiter(',')->capture_default_str();
  cmd->add_option("-n,--n-gen", a->gen, "Generation lengths to test (0: none)")->delimiter(',')->capture_default_str();
  cmd->add_option("-t,--threads", a->threads, "Thread counts to test (default: all hardware threads)")
      ->delimiter(',');
  cmd->add_option("-r,--repetitions", a->reps, "Runs per test")->capture_default_str();
  cmd->add_option("-o,--output", a->output, "md, json or csv")->capture_default_str();
  cmd->add_flag("--no-repack", a->no_repack, "Read the weights in place (no row interleaving at load)");
  return [a] { return run(*a); };
}

}  // namespace qkv::cli
