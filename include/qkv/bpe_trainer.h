// Learning a byte-level BPE vocabulary from text, as GPT-2's was learned:
// pre-tokenize with the GPT-2 regex, count the words, then repeatedly merge
// the most frequent adjacent pair of symbols. The result is a vocab-only GGUF
// (tokenizer.ggml.model "gpt2", pre "gpt-2") that qkv::Tokenizer, `qkv train
// --vocab` and llama.cpp's tokenizer load.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "qkv/gguf.h"

namespace qkv::bpe {

struct Options {
  int32_t vocab_size = 8192;   // 256 bytes + merges + special tokens
  int64_t min_frequency = 2;   // a pair seen fewer times is never merged (the vocabulary may end smaller)
  std::vector<std::string> specials = {"<|endoftext|>"};  // control tokens, last; the first is BOS and EOS
};

struct Merge {
  int32_t left, right, result;
};
// A learned vocabulary. Token texts are in GPT-2's byte-to-unicode alphabet,
// as GGUF stores them: ids 0..255 are the bytes 0..255, then the tokens the
// merges made, in merge order, then the special tokens. Two merges that make
// the same bytes ("ab"+"c", "a"+"bc") make the same token.
struct Vocabulary {
  std::vector<std::string> tokens;
  std::vector<Merge> merges;  // in rank order
  int32_t n_specials = 0;
};

// Counts the words of text fed to it, then learns the merges.
class Trainer {
 public:
  // Pre-tokenizes and counts; invalid UTF-8 becomes U+FFFD first, as the
  // runtime tokenizer does. May be called many times.
  void add_text(std::string_view text);
  size_t n_words() const { return counts_.size(); }  // distinct
  // Merges until vocab_size or until no pair occurs min_frequency times.
  // Of pairs equally frequent, the one whose (left, right) token bytes are
  // lexicographically smallest is merged first: results never depend on
  // hashing or input order. progress(merges done, merges wanted).
  Vocabulary train(const Options& options,
                   const std::function<void(int64_t, int64_t)>& progress = {}) const;

 private:
  std::unordered_map<std::string, int64_t> counts_;  // raw bytes of a pre-tokenized word -> occurrences
};

// The tokenizer.* keys (and general.architecture) of a vocab-only GGUF.
gguf::Metadata metadata(const Vocabulary& v);
// Writes the vocab-only GGUF atomically.
void write_gguf(const std::string& path, const Vocabulary& v);

}  // namespace qkv::bpe
