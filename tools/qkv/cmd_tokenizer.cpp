// qkv tokenizer train: learn a byte-level BPE vocabulary (GPT-2 style) from text, as a vocab-only GGUF.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "commands.h"
#include "qkv/bpe_trainer.h"
#include "qkv/error.h"
#include "qkv/progress.h"

namespace qkv::cli {
namespace {
namespace fs = std::filesystem;

struct TrainArgs {
  std::vector<std::string> data;
  std::string out;
  bpe::Options options;
};

// The files of the inputs: a folder gives its regular files, sorted so that runs repeat.
std::vector<fs::path> input_files(const std::vector<std::string>& inputs) {
  std::vector<fs::path> files;
  for (const std::string& in : inputs) {
    if (!fs::is_directory(in)) {
      files.emplace_back(in);
      continue;
    }
    std::vector<fs::path> found;
    for (const auto& e : fs::recursive_directory_iterator(in))
      if (e.is_regular_file()) found.push_back(e.path());
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

int train(const TrainArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<fs::path> files = input_files(a.data);
  uint64_t total = 0;
  for (const fs::path& f : files) total += fs::file_size(f);
  bpe::Trainer trainer;
  {
    Progress read("counting words", total);
    for (const fs::path& f : files) {
      std::ifstream in(f, std::ios::binary);
      if (!in) throw Error(ErrorKind::IO, "cannot open " + f.string() + " for reading (check the --data path)");
      // A file is read in pieces that end at a newline, so that no word is cut.
      std::string piece, line;
      while (std::getline(in, line)) {
        piece += line;
        if (!in.eof()) piece += '\n';
        if (piece.size() >= (size_t(1) << 20)) {
          trainer.add_text(piece);
          read.add(piece.size());
          piece.clear();
        }
      }
      if (in.bad()) throw Error(ErrorKind::IO, "reading " + f.string() + " failed");
      trainer.add_text(piece);
      read.add(piece.size());
    }
  }
  const int64_t wanted = a.options.vocab_size - 256 - int64_t(a.options.specials.size());
  bpe::Vocabulary v;
  {
    Progress merging("merging", uint64_t(std::max<int64_t>(wanted, 0)), false);
    int64_t shown = 0;
    v = trainer.train(a.options, [&](int64_t done, int64_t) {
      merging.add(uint64_t(done - shown));
      shown = done;
    });
  }
  bpe::write_gguf(a.out, v);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%zu tokens (%zu merges) from %.1f MB of text, %zu distinct words, in %.1f s\n", v.tokens.size(),
              v.merges.size(), double(total) / 1e6, trainer.n_words(), s);
  if (int64_t(v.tokens.size()) < a.options.vocab_size)
    std::printf("no pair occurs --min-frequency %lld times any more: the vocabulary is smaller than asked\n",
                static_cast<long long>(a.options.min_frequency));
  std::printf("vocabulary: %s\n", a.out.c_str());
  return 0;
}

}  // namespace

Runner add_tokenizer(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenizer", "Train a byte-level BPE tokenizer (GPT-2 style) on text");
  cmd->require_subcommand(1);
  auto* tr = cmd->add_subcommand("train", "Learn byte-level BPE merges from text; writes a vocab-only GGUF");
  tr->footer(
      "Pre-tokenizes with the GPT-2 regex (invalid UTF-8 becomes U+FFFD, as the tokenizer does), counts the\n"
      "words, then merges the most frequent adjacent pair until --vocab-size tokens (256 bytes + merges +\n"
      "<|endoftext|>). Of equally frequent pairs the one with the lexicographically smallest (left, right)\n"
      "bytes is merged first, so a run repeats exactly. The GGUF (tokenizer.ggml.model gpt2, pre gpt-2,\n"
      "<|endoftext|> as BOS/EOS control token) is read by 'qkv train --vocab' and qkv's tokenizer.\n\n"
      "Examples:\n"
      "  qkv tokenizer train --data corpus/ --vocab-size 8192 -o tok.gguf\n"
      "  qkv train --data corpus/ --vocab tok.gguf --out run1");
  auto a = std::make_shared<TrainArgs>();
  tr->add_option("--data", a->data, "Text files or folders (repeatable)")->required()->check(CLI::ExistingPath)
      ->type_name("PATH");
  tr->add_option("-o,--output", a->out, "The vocab-only GGUF to write")->required()->type_name("OUT.gguf");
  tr->add_option("--vocab-size", a->options.vocab_size, "Tokens in all: 256 bytes, the merges, <|endoftext|>")
      ->check(CLI::Range(257, 1 << 24))->capture_default_str();
  tr->add_option("--min-frequency", a->options.min_frequency, "Never merge a pair seen fewer times")
      ->check(CLI::PositiveNumber)->capture_default_str();
  return [a] { return train(*a); };
}

}  // namespace qkv::cli
