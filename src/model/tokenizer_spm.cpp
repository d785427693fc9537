// SentencePiece-style tokenization (llama.cpp's llm_tokenizer_spm): start from
// UTF-8 characters and repeatedly merge the adjacent pair whose concatenation
// is the vocabulary token of highest score (leftmost on ties); characters no
// token covers fall back to byte tokens <0xXX>.
#include <algorithm>

#include "model/tokenizer_impl.h"

namespace qkv::tok {

namespace {

struct Symbol {
  uint32_t begin, size;  // bytes of the text; size 0 once merged into its left neighbour
  int32_t prev, next;
};

struct Candidate {
  float score;
  int32_t left, right;
  uint32_t size;  // bytes of the merged pair; a mismatch later means one side has changed
};
// Heap order: the top is the highest score, then the leftmost pair.
constexpr auto after = [](const Candidate& a, const Candidate& b) {
  return a.score < b.score || (a.score == b.score && a.left > b.left);
};

// Merges one stretch of text; the buffers are reused from stretch to stretch.
struct Merger {
  const Tokenizer::Impl& v;
  std::string_view text;
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;

  void push(int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    // Adjacent symbols are adjacent in the text, so the pair is a slice of it.
    const uint32_t size = symbols[left].size + symbols[right].size;
    const int32_t id = v.find(text.substr(symbols[left].begin, size));
    if (id == kNoToken) return;
    heap.push_back({v.score[id], left, right, size});
    std::push_heap(heap.begin(), heap.end(), after);
  }

  void merge() {
    for (size_t at = 0; at < text.size();) {
      const auto size = static_cast<uint32_t>(std::min(utf8_len(static_cast<uint8_t>(text[at])), text.size() - at));
      const auto i = static_cast<int32_t>(symbols.size());
      symbols.push_back({static_cast<uint32_t>(at), size, i - 1, at + size < text.size() ? i + 1 : -1});
      at += size;
    }
    for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) push(i - 1, i);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), after);
      const Candidate c = heap.back();
      heap.pop_back();
      Symbol& left = symbols[c.left];
      Symbol& right = symbols[c.right];
      if (left.size == 0 || right.size == 0 || left.size + right.size != c.size) continue;
      left.size += right.size;
      right.size = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = c.left;
      push(left.prev, c.left);
      push(c.left, left.next);
    }
  }

  void tokenize(std::string_view stretch, std::vector<int32_t>& out) {
    if (stretch.empty()) return;
    text = stretch;
    symbols.clear();
    heap.clear();
    merge();
    for (int32_t i = 0; i != -1; i = symbols[i].next) {
      const std::string_view piece = text.substr(symbols[i].begin, symbols[i].size);
      // Merges only ever form vocabulary tokens, so a symbol that is not a
      // token is a single character: byte fallback.
      if (const int32_t id = v.find(piece); id != kNoToken) {
        out.push_back(id);
        continue;
      }
      for (char c : piece)
        if (const int32_t id = v.byte_token(static_cast<uint8_t>(c)); id != kNoToken) out.push_back(id);
    }
  }
};

}  // namespace

void spm_tokenize(const Tokenizer::Impl& v, std::string_view text, std::vector<int32_t>& out) {
  Merger m{v, {}, {}, {}};
  if (!v.spm_words_apart) {
    m.tokenize(text, out);
    return;
  }
  // No token has a space mark after another character, so no merge can join
  // a word to the space that starts the next: each word merges on its own,
  // with the same result and a small heap instead of one over the whole text.
  // Characters are stepped as merge() steps them, so invalid UTF-8 splits alike.
  size_t begin = 0;
  bool after_mark = false;
  for (size_t at = 0; at < text.size();) {
    const size_t size = std::min(utf8_len(static_cast<uint8_t>(text[at])), text.size() - at);
    const bool mark = text.substr(at, size) == kSpaceMark;
    if (mark && !after_mark && at > 0) {
      m.tokenize(text.substr(begin, at - begin), out);
      begin = at;
    }
    after_mark = mark;
    at += size;
  }
  m.tokenize(text.substr(begin), out);
}

}  // namespace qkv::tok
