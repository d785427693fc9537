// Byte-level BPE (llama.cpp's llm_tokenizer_bpe): pre-tokenize, map each byte
// of a word to its GPT-2 character, then repeatedly merge the adjacent pair of
// lowest rank (leftmost on ties) until no pair of the merge table is left.
#include <algorithm>
#include <bit>
#include <unordered_map>

#include "model/tokenizer_impl.h"
#include "qkv/error.h"

namespace qkv::tok {

namespace {

// One symbol of the word being merged: a byte range of the word, in a linked
// list so that merging is O(1); a merged-away symbol has size 0.
struct Symbol {
  int32_t id;  // token id, a merge-only symbol id (>= n_vocab), or -1 for a byte no merge names
  uint32_t begin, size;
  int32_t prev, next;
};

// A candidate merge of symbols[left] and symbols[right], valid while both still
// hold the ids they had when it was queued.
struct Candidate {
  int32_t rank, left, right, left_id, right_id, result;
};
// Heap order: the top is the lowest rank, then the leftmost pair.
constexpr auto after = [](const Candidate& a, const Candidate& b) {
  return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
};

// Buffers reused for every word of one encode call, so that merging allocates nothing.
struct Scratch {
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
  std::string mapped;
  std::vector<Span> words;
};

void push_candidate(const Tokenizer::Impl& v, Scratch& s, int32_t left, int32_t right) {
  if (left < 0 || right < 0) return;
  const int32_t a = s.symbols[left].id, b = s.symbols[right].id;
  if (a < 0 || b < 0) return;
  const Merge* m = v.merges.find(MergeTable::key(a, b));
  if (!m) return;
  s.heap.push_back({m->rank, left, right, a, b, m->result});
  std::push_heap(s.heap.begin(), s.heap.end(), after);
}

// A finished symbol: its token, or, when the merges built a string the
// vocabulary lacks, the tokens of its bytes (llama.cpp would drop such bytes).
void emit(const Tokenizer::Impl& v, std::string_view word, const Symbol& sym, std::vector<int32_t>& out) {
  if (sym.id >= 0 && sym.id < v.n_vocab()) {
    out.push_back(sym.id);
    return;
  }
  for (uint32_t i = sym.begin; i < sym.begin + sym.size; ++i) {
    const int32_t id = v.byte_symbol[static_cast<uint8_t>(word[i])];
    if (id >= 0 && id < v.n_vocab()) out.push_back(id);
  }
}

void merge_word(const Tokenizer::Impl& v, std::string_view word, Scratch& s, std::vector<int32_t>& out) {
  if (v.pretok.ignore_merges) {  // Llama 3: a word that is a token is never split
    s.mapped.clear();
    for (char c : word) s.mapped += byte_to_unicode()[static_cast<uint8_t>(c)];
    if (const int32_t id = v.find(s.mapped); id != kNoToken) {
      out.push_back(id);
      return;
    }
  }
  const auto n = static_cast<int32_t>(word.size());
  s.symbols.clear();
  s.heap.clear();
  for (int32_t i = 0; i < n; ++i)
    s.symbols.push_back(
        {v.byte_symbol[static_cast<uint8_t>(word[i])], static_cast<uint32_t>(i), 1, i - 1, i + 1 < n ? i + 1 : -1});
  for (int32_t i = 1; i < n; ++i) push_candidate(v, s, i - 1, i);

  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), after);
    const Candidate c = s.heap.back();
    s.heap.pop_back();
    Symbol& left = s.symbols[c.left];
    Symbol& right = s.symbols[c.right];
    // Stale: one side was merged away or has grown since this pair was queued.
    if (left.size == 0 || right.size == 0 || left.id != c.left_id || right.id != c.right_id) continue;
    left.id = c.result;
    left.size += right.size;
    right.size = 0;
    left.next = right.next;
    if (right.next >= 0) s.symbols[right.next].prev = c.left;
    push_candidate(v, s, left.prev, c.left);
    push_candidate(v, s, c.left, left.next);
  }
  for (int32_t i = 0; i != -1; i = s.symbols[i].next) emit(v, word, s.symbols[i], out);
}

}  // namespace

void MergeTable::reserve(size_t n) {
  const size_t size = std::bit_ceil(std::max<size_t>(2 * n, 2));
  shift_ = 64 - std::countr_zero(size);
  slots_.assign(size, {});
}

void MergeTable::insert(uint64_t key, Merge merge) {
  for (size_t i = home(key);; i = (i + 1) & (slots_.size() - 1)) {
    if (slots_[i].key == key) return;
    if (slots_[i].key == kEmpty) {
      slots_[i] = {key, merge};
      return;
    }
  }
}

void build_merges(Tokenizer::Impl& v, const std::vector<gguf::Value>& merges) {
  // Strings a merge names that are not tokens (rare) get ids from n_vocab up,
  // so that every symbol, token or not, is one integer.
  std::unordered_map<std::string, int32_t> extra;
  auto symbol = [&](std::string_view s) {
    if (const int32_t id = v.find(s); id != kNoToken) return id;
    return extra.emplace(s, v.n_vocab() + static_cast<int32_t>(extra.size())).first->second;
  };
  v.merges.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& m = merges[rank].as_string();
    const size_t space = m.find(' ', 1);  // from 1: a pair's left side may itself be a space
    if (space == std::string::npos)
      throw Error(ErrorKind::Format,
                  "tokenizer.ggml.merges[" + std::to_string(rank) + "] '" + m + "' is not a pair 'left right'");
    const std::string_view left(m.data(), space), right = std::string_view(m).substr(space + 1);
    joined.assign(left).append(right);
    const int32_t l = symbol(left), r = symbol(right);
    v.merges.insert(MergeTable::key(l, r), Merge{static_cast<int32_t>(rank), symbol(joined)});
  }
  for (int b = 0; b < 256; ++b) {
    const std::string& c = byte_to_unicode()[b];
    int32_t id = v.find(c);
    if (const auto it = extra.find(c); id == kNoToken && it != extra.end()) id = it->second;
    v.byte_symbol[b] = id;
  }
}

void bpe_tokenize(const Tokenizer::Impl& v, std::string_view text, std::vector<int32_t>& out) {
  // Invalid UTF-8 becomes U+FFFD first, as in llama.cpp (and PCRE2 needs valid input).
  std::string repaired;
  if (!utf8_valid(text)) text = repaired = utf8_sanitize(text);
  Scratch s;
  regex_split(text, v.pretok.regexes, s.words);
  for (const Span w : s.words) merge_word(v, text.substr(w.begin, w.size), s, out);
}

}  // namespace qkv::tok
