// Byte-level BPE training. Pair counts are kept up to date incrementally: a
// merge touches only the words that hold its pair (an index pair -> words),
// and a max-heap of (count, pair) entries, checked against the live count
// when popped, finds the next pair without recounting the corpus.
#include "qkv/bpe_trainer.h"

#include <algorithm>
#include <queue>

#include "model/tokenizer_impl.h"
#include "qkv/error.h"
#include "qkv/tokenizer.h"

namespace qkv::bpe {
namespace {

uint64_t key(int32_t a, int32_t b) { return uint64_t(uint32_t(a)) << 32 | uint32_t(b); }
int32_t left_of(uint64_t k) { return int32_t(k >> 32); }
int32_t right_of(uint64_t k) { return int32_t(uint32_t(k)); }

struct Entry {
  int64_t count;
  uint64_t pair;
};

// The merge loop's state: every distinct word as a sequence of token ids.
class Merger {
 public:
  Merger(const std::unordered_map<std::string, int64_t>& counts, std::vector<std::string>& bytes)
      : heap_(Order{&bytes}) {
    words_.reserve(counts.size());
    // Sorted so that the word order (and so every result) is independent of the hash map's.
    std::vector<std::pair<std::string_view, int64_t>> sorted(counts.begin(), counts.end());
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [w, n] : sorted) {
      Word word{{}, n};
      for (char c : w) word.ids.push_back(static_cast<uint8_t>(c));
      words_.push_back(std::move(word));
      add_pairs(uint32_t(words_.size() - 1), +1);
    }
    for (const auto& [k, n] : count_) heap_.push({n, k});
  }

  // The most frequent pair (ties: smallest bytes), or false when none occurs min_count times.
  bool best(int64_t min_count, uint64_t& pair) {
    while (!heap_.empty()) {
      const Entry e = heap_.top();
      heap_.pop();
      const auto it = count_.find(e.pair);
      if (it == count_.end() || it->second != e.count) continue;  // stale
      if (e.count < min_count) return false;
      pair = e.pair;
      return true;
    }
    return false;
  }

  // Replaces every occurrence of pair (left to right) with `result`.
  void merge(uint64_t pair, int32_t result) {
    const int32_t a = left_of(pair), b = right_of(pair);
    std::vector<uint32_t> where = std::move(where_[pair]);
    where_.erase(pair);
    std::sort(where.begin(), where.end());
    where.erase(std::unique(where.begin(), where.end()), where.end());
    delta_.clear();
    for (uint32_t w : where) {
      std::vector<int32_t>& ids = words_[w].ids;
      add_pairs(w, -1);
      size_t out = 0;
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i + 1 < ids.size() && ids[i] == a && ids[i + 1] == b) {
          ids[out++] = result;
          ++i;
        } else {
          ids[out++] = ids[i];
        }
      }
      ids.resize(out);
      add_pairs(w, +1);
    }
    for (const auto& [k, d] : delta_) {
      if (d == 0) continue;
      const auto it = count_.find(k);
      if (it == count_.end()) continue;
      if (it->second == 0) {
        count_.erase(it);
      } else {
        heap_.push({it->second, k});
      }
    }
  }

 private:
  struct Word {
    std::vector<int32_t> ids;
    int64_t count;
  };
  // Higher count first; among equal counts the smallest (left bytes, right bytes).
  struct Order {
    const std::vector<std::string>* bytes;
    bool operator()(const Entry& x, const Entry& y) const {
      if (x.count != y.count) return x.count < y.count;
      const std::string &xl = (*bytes)[size_t(left_of(x.pair))], &yl = (*bytes)[size_t(left_of(y.pair))];
      if (xl != yl) return xl > yl;
      return (*bytes)[size_t(right_of(x.pair))] > (*bytes)[size_t(right_of(y.pair))];
    }
  };

  // Adds (sign +1) or removes (-1) word w's adjacent pairs from the counts.
  void add_pairs(uint32_t w, int sign) {
    const Word& word = words_[w];
    for (size_t i = 0; i + 1 < word.ids.size(); ++i) {
      const uint64_t k = key(word.ids[i], word.ids[i + 1]);
      count_[k] += sign * word.count;
      delta_[k] += sign * word.count;
      if (sign > 0) where_[k].push_back(w);  // duplicates are removed when merged
    }
  }

  std::vector<Word> words_;
  std::unordered_map<uint64_t, int64_t> count_, delta_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> where_;
  std::priority_queue<Entry, std::vector<Entry>, Order> heap_;
};

}  // namespace

void Trainer::add_text(std::string_view text) {
  std::string repaired;
  if (!tok::utf8_valid(text)) text = repaired = tok::utf8_sanitize(text);
  static const tok::PreTokenizer gpt2 = tok::pre_tokenizer("gpt-2");
  std::vector<tok::Span> words;
  tok::regex_split(text, gpt2.regexes, words);
  for (const tok::Span w : words) ++counts_[std::string(text.substr(w.begin, w.size))];
}

Vocabulary Trainer::train(const Options& o, const std::function<void(int64_t, int64_t)>& progress) const {
  const int64_t n_specials = int64_t(o.specials.size());
  if (o.vocab_size < 256 + n_specials)
    throw Error(ErrorKind::Usage, "--vocab-size " + std::to_string(o.vocab_size) + " is too small: the 256 bytes and " +
                                      std::to_string(n_specials) + " special tokens need " +
                                      std::to_string(256 + n_specials));
  std::vector<std::string> bytes;  // raw bytes of each token
  std::unordered_map<std::string, int32_t> id_of;
  for (int b = 0; b < 256; ++b) {
    bytes.emplace_back(1, static_cast<char>(b));
    id_of.emplace(bytes.back(), b);
  }
  Vocabulary v;
  const int64_t wanted = o.vocab_size - 256 - n_specials;  // tokens the merges are to add
  Merger merger(counts_, bytes);
  uint64_t pair;
  while (int64_t(bytes.size()) - 256 < wanted && merger.best(std::max<int64_t>(o.min_frequency, 1), pair)) {
    std::string joined = bytes[size_t(left_of(pair))] + bytes[size_t(right_of(pair))];
    auto [it, added] = id_of.emplace(joined, int32_t(bytes.size()));
    if (added) bytes.push_back(std::move(joined));
    v.merges.push_back({left_of(pair), right_of(pair), it->second});
    merger.merge(pair, it->second);
    if (progress) progress(int64_t(bytes.size()) - 256, wanted);
  }
  const auto& unicode = tok::byte_to_unicode();
  for (const std::string& b : bytes) {
    std::string text;
    for (char c : b) text += unicode[static_cast<uint8_t>(c)];
    v.tokens.push_back(std::move(text));
  }
  for (const std::string& s : o.specials) v.tokens.push_back(s);
  v.n_specials = int32_t(n_specials);
  return v;
}

gguf::Metadata metadata(const Vocabulary& v) {
  using gguf::Value;
  gguf::Metadata md;
  md.set("general.architecture", Value::string("llama"));
  md.set("general.name", Value::string("qkv-bpe"));
  md.set("tokenizer.ggml.model", Value::string("gpt2"));
  md.set("tokenizer.ggml.pre", Value::string("gpt-2"));
  std::vector<Value> types;
  const size_t first_special = v.tokens.size() - size_t(v.n_specials);
  for (size_t i = 0; i < v.tokens.size(); ++i)
    types.push_back(Value::i32(int32_t(i < first_special ? TokenType::Normal : TokenType::Control)));
  md.set("tokenizer.ggml.tokens", Value::string_array(v.tokens));
  md.set("tokenizer.ggml.token_type", Value::array(gguf::ValueType::I32, std::move(types)));
  std::vector<std::string> merges;
  for (const Merge& m : v.merges) merges.push_back(v.tokens[size_t(m.left)] + " " + v.tokens[size_t(m.right)]);
  md.set("tokenizer.ggml.merges", Value::string_array(merges));
  if (v.n_specials > 0) {
    md.set("tokenizer.ggml.bos_token_id", Value::u32(uint32_t(first_special)));
    md.set("tokenizer.ggml.eos_token_id", Value::u32(uint32_t(first_special)));
  }
  md.set("tokenizer.ggml.add_bos_token", Value::boolean(false));
  return md;
}

void write_gguf(const std::string& path, const Vocabulary& v) {
  gguf::Writer w(path, metadata(v), {});
  w.finish();
}

}  // namespace qkv::bpe
