// qkv: one binary from checkpoint to deployment. Subcommands are thin layers
// over the library; every library error becomes one line on stderr and a
// non-zero exit status (2 for usage, 1 for everything else).
#include <cstdio>
#include <map>

#include "commands.h"
#include "qkv/error.h"

int main(int argc, char** argv) {
  using namespace qkv::cli;
  CLI::App app{"QKV Core: convert, quantize, compress, check and run LLMs, in one native binary.\n"
               "Run 'qkv <command> --help' for the options and an example of each command."};
  app.set_version_flag("--version", std::string("qkv ") + QKV_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);

  const Command commands[] = {
      {"inspect", add_inspect},
      {"check", add_check},
      {"repair", add_repair},
      {"convert", add_convert},
      {"quantize", add_quantize},
      {"analyze", add_analyze},
      {"prune", add_prune},
      {"run", add_run},
      {"chat", add_chat},
      {"perplexity", add_perplexity},
      {"imatrix", add_imatrix},
      {"bench", add_bench},
      {"train", add_train},
      {"tokenizer", add_tokenizer},
      {"compress", add_compress},
      {"decompress", add_decompress},
      {"dpo", add_dpo},
      {"demo", add_demo},
  };
  std::map<CLI::App*, Runner> runners;
  for (const auto& c : commands) {
    Runner r = c.add(app);
    runners[app.get_subcommands([&](CLI::App* s) { return s->get_name() == c.name; }).at(0)] = std::move(r);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints help, the version, or the mistake; every mistake exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    for (auto* sub : app.get_subcommands())
      if (auto it = runners.find(sub); it != runners.end()) return it->second();
    return 2;
  } catch (const qkv::Error& e) {
    std::fprintf(stderr, "qkv: %s\n", e.what());
    return e.kind() == qkv::ErrorKind::Usage ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qkv: internal error: %s\n", e.what());
    return 1;
  }
}
