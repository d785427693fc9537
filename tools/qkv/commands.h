// Each subcommand lives in its own cmd_<name>.cpp and registers itself here.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace qkv::cli {

// Adds the subcommand to `app`; the returned callback runs it and gives the exit status.
using Runner = std::function<int()>;
struct Command {
  const char* name;
  Runner (*add)(CLI::App& app);
};

Runner add_inspect(CLI::App& app);
Runner add_check(CLI::App& app);
Runner add_repair(CLI::App& app);
Runner add_quantize(CLI::App& app);
Runner add_convert(CLI::App& app);
Runner add_run(CLI::App& app);
Runner add_chat(CLI::App& app);
Runner add_perplexity(CLI::App& app);
Runner add_imatrix(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_train(CLI::App& app);
Runner add_tokenizer(CLI::App& app);
Runner add_compress(CLI::App& app);
Runner add_decompress(CLI::App& app);
Runner add_dpo(CLI::App& app);
Runner add_demo(CLI::App& app);
Runner add_analyze(CLI::App& app);
Runner add_prune(CLI::App& app);

}  // namespace qkv::cli
