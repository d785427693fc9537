// qkv run: generate text from a prompt, streaming tokens as they come.
#include <cstdio>
#include <fstream>

#include "commands.h"
#include "qkv/error.h"
#include "qkv/generate.h"
#include "qkv/parallel.h"

namespace qkv::cli {
namespace {

struct Args {
  std::string model, prompt, batch_file;
  int n_predict = 128, n_ctx = 0, threads = 0;
  SamplerParams sampling;
  std::vector<std::string> stop;
  bool ignore_eos = false, no_bos = false;
  bool no_repack = false;
};

void print_stats(const GenerateStats& st) {
  std::fprintf(stderr, "\nprompt: %d tokens in %.2f s (%.1f tokens/s) | generation: %d tokens in %.2f s (%.1f tokens/s) | stop: %s\n",
               st.prompt_tokens, st.prompt_seconds, st.prompt_tps(), st.generated_tokens, st.generate_seconds,
               st.generate_tps(), st.stop_reason.c_str());
}

int run(const Args& a) {
  auto model = Model::load(a.model, {.repack = !a.no_repack});
  const Tokenizer tok = Tokenizer::from_gguf(model->file().metadata());
  GenerateOptions o;
  o.n_predict = a.n_predict;
  o.sampling = a.sampling;
  o.stop = a.stop;
  o.ignore_eos = a.ignore_eos;

  if (!a.batch_file.empty()) {
    std::ifstream f(a.batch_file);
    if (!f) throw Error(ErrorKind::IO, "cannot read the batch file", a.batch_file);
    std::vector<std::string> lines;
    std::vector<std::vector<int32_t>> prompts;
    for (std::string line; std::getline(f, line);)
      if (!line.empty()) {
        lines.push_back(line);
        prompts.push_back(tok.encode(line, !a.no_bos));
      }
    if (prompts.empty()) throw Error(ErrorKind::Usage, "the batch file holds no prompts (one per line)", a.batch_file);
    GenerateStats st;
    const auto outs = generate_batch(model, tok, prompts, o, a.n_ctx, a.threads, &st);
    for (size_t i = 0; i < outs.size(); ++i) std::printf("=== %zu: %s%s\n", i + 1, lines[i].c_str(), outs[i].c_str());
    std::fprintf(stderr, "\n%zu prompts: %d prompt tokens in %.2f s (%.1f tokens/s) | %d generated in %.2f s (%.1f tokens/s total)\n",
                 prompts.size(), st.prompt_tokens, st.prompt_seconds, st.prompt_tps(), st.generated_tokens,
                 st.generate_seconds, st.generate_tps());
    return 0;
  }

  const auto prompt = tok.encode(a.prompt, !a.no_bos);
  Session session(model, a.n_ctx, a.threads);
  std::fputs(a.prompt.c_str(), stdout);
  std::fflush(stdout);
  const auto st = generate(session, tok, prompt, o, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputc('\n', stdout);
  print_stats(st);
  return 0;
}

}  // namespace

// Sampling and context flags shared by run and chat, named as llama-cli names them.
void add_sampling_flags(CLI::App* cmd, SamplerParams& s, int& n_ctx, int& threads, int& n_predict) {
  cmd->add_option("-n,--n-predict", n_predict, "Tokens to generate (-1: until the context is full)")->capture_default_str();
  cmd->add_option("-c,--ctx-size", n_ctx, "Context size in tokens (default: the model's, at most 4096)");
  cmd->add_option("-t,--threads", threads, "Threads (default: all cores)");
  cmd->add_option("--temp", s.temperature, "Temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "Keep the k most likely tokens (0 = off)")->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "Nucleus sampling mass (1 = off)")->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "Drop tokens below min-p x the best (0 = off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", s.repeat_penalty, "Penalise recent tokens (1 = off)")->capture_default_str();
  cmd->add_option("--repeat-last-n", s.repeat_last_n, "How many recent tokens are penalised")->capture_default_str();
  cmd->add_option("--presence-penalty", s.presence_penalty, "Subtract once per recent token")->capture_default_str();
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "Subtract per occurrence")->capture_default_str();
  cmd->add_option("-s,--seed", s.seed, "Random seed (same seed, same output)");
}

Runner add_run(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Generate text from a prompt (streams tokens as they are produced)");
  cmd->footer("Examples:\n  qkv run model.gguf -p \"Once upon a time\" -n 64\n"
              "  qkv run model.gguf -p \"Once upon a time\" --temp 0          (greedy)\n"
              "  qkv run model.gguf --batch-file prompts.txt -n 32          (one prompt per line, batched)");
  auto a = std::make_shared<Args>();
  cmd->add_option("MODEL", a->model, "GGUF model")->required()->check(CLI::ExistingFile);
  cmd->add_option("-p,--prompt", a->prompt, "Prompt text");
  cmd->add_option("--batch-file", a->batch_file, "File with one prompt per line, generated together")->check(CLI::ExistingFile);
  cmd->add_option("--stop", a->stop, "Stop when this text appears (repeatable)");
  cmd->add_flag("--ignore-eos", a->ignore_eos, "Keep generating past end-of-sequence tokens");
  cmd->add_flag("--no-bos", a->no_bos, "Do not add the BOS token to the prompt");
  cmd->add_flag("--no-repack", a->no_repack, "Read the weights in place (no row interleaving at load; less speed)");
  add_sampling_flags(cmd, a->sampling, a->n_ctx, a->threads, a->n_predict);
  return [a] {
    if (a->prompt.empty() && a->batch_file.empty()) throw Error(ErrorKind::Usage, "give a prompt with -p or --batch-file");
    return run(*a);
  };
}

}  // namespace qkv::cli
