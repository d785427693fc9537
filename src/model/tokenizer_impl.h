// Internals shared by the tokenizer's source files: the loaded vocabulary and
// the entry points of each stage (special-token split, SPM, pre-tokenizer, BPE).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qkv/tokenizer.h"

namespace qkv {
namespace tok {

// Token attributes as a bit set, as llama.cpp keeps them: its load-time
// fix-ups add bits to the stored type (an end-of-text token that is not typed
// Control gains Control; Phi-3's special tokens gain RStrip).
enum Attr : uint32_t {
  kUnknown = 1u << 0,
  kUnused = 1u << 1,
  kNormal = 1u << 2,
  kControl = 1u << 3,
  kUserDefined = 1u << 4,
  kByte = 1u << 5,
  kLStrip = 1u << 6,  // swallow whitespace before the token when splitting specials
  kRStrip = 1u << 7,  // ... and after it
};

// FNV-1a: short token texts hash in a few cycles.
inline uint64_t text_hash(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h ^ h >> 32;
}

inline constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SPM's visible space

class Regex;  // a compiled PCRE2 pattern (tokenizer_pretok.cpp)

// What a tokenizer.ggml.pre value means (llama.cpp's table).
struct PreTokenizer {
  std::vector<const Regex*> regexes;  // applied in turn, each splitting the pieces of the last
  bool ignore_merges = false;         // a pre-tokenized word that is itself a token is taken whole (Llama 3)
  bool add_bos = false;               // default of tokenizer.ggml.add_bos_token
  bool clean_spaces = true;           // decode applies clean_up_tokenization_spaces
};
// Throws Unsupported for a name llama.cpp's table (as far as we carry it) lacks.
PreTokenizer pre_tokenizer(const std::string& name);

// A byte range of the text being tokenized.
struct Span {
  size_t begin, size;
};
// Splits valid UTF-8 text with each regex in turn: within every current piece,
// the matches and the stretches between them become the new pieces.
void regex_split(std::string_view text, const std::vector<const Regex*>& regexes, std::vector<Span>& pieces);

// GPT-2's bytes_to_unicode: every byte as a printable character (UTF-8).
const std::array<std::string, 256>& byte_to_unicode();
// The byte a character of byte-level BPE text stands for; -1 if none.
int unicode_to_byte(uint32_t codepoint);
// Length of the UTF-8 sequence a lead byte starts (1 for a stray continuation byte), as llama.cpp counts.
size_t utf8_len(uint8_t lead);
// Decodes one strict UTF-8 character at s[i], advancing i; -1 (advancing one byte) when invalid.
int32_t utf8_next(std::string_view s, size_t& i);
bool utf8_valid(std::string_view text);
// `text` with every byte that does not start a valid UTF-8 character replaced
// by U+FFFD, as llama.cpp's decoder does before pre-tokenizing.
std::string utf8_sanitize(std::string_view text);

// One BPE merge: the pair's rank (lower merges first) and the symbol it makes.
struct Merge {
  int32_t rank, result;
};

// (left symbol, right symbol) -> merge, by open addressing: BPE looks up a
// pair for every candidate merge, far too often for a node-based map.
class MergeTable {
 public:
  static uint64_t key(int32_t left, int32_t right) {
    return static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32 | static_cast<uint32_t>(right);
  }
  void reserve(size_t n);
  // Keeps the first merge of a pair listed twice (its lowest rank), as llama.cpp does.
  void insert(uint64_t key, Merge merge);
  const Merge* find(uint64_t key) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = home(key);; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i].key == key) return &slots_[i].merge;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~0ull;  // no pair of non-negative ids has this key
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge{};
  };
  size_t home(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }  // Fibonacci hashing
  std::vector<Slot> slots_;
  int shift_ = 64;
};

}  // namespace tok

struct Tokenizer::Impl {
  VocabKind kind = VocabKind::SentencePiece;
  std::string pre;
  std::vector<std::string> text;
  std::vector<float> score;
  std::vector<TokenType> type;
  std::vector<uint32_t> attr;  // tok::Attr bits

  int32_t bos = kNoToken, eos = kNoToken, eot = kNoToken, eom = kNoToken;
  int32_t unk = kNoToken, pad = kNoToken, sep = kNoToken;
  bool add_bos = false, add_eos = false;
  bool add_space_prefix = false;  // SPM: a space before the text (and after each special token)
  bool spm_words_apart = false;   // SPM: no token has U+2581 after another character
  bool clean_spaces = false;
  std::vector<int32_t> eog;       // sorted
  std::vector<int32_t> specials;  // control, user-defined and unknown tokens, longest text first

  // Byte-level BPE. Symbols are token ids, plus ids from n_vocab up for the
  // strings merges name that are not tokens, so a merge is a lookup of a pair
  // of integers.
  tok::PreTokenizer pretok;
  tok::MergeTable merges;
  std::array<int32_t, 256> byte_symbol{};  // symbol of each byte's character; -1 if none

  // Text -> id, by open addressing over (hash tag, id) slots: the tokenizers
  // look up millions of text slices, and a node-based map spends most of its
  // time chasing pointers.
  struct Slot {
    uint32_t tag;
    int32_t id = kNoToken;
  };
  std::vector<Slot> slots;  // a power of two, at least twice the vocabulary

  int32_t n_vocab() const { return static_cast<int32_t>(text.size()); }
  int32_t find(std::string_view s) const {
    const uint64_t h = tok::text_hash(s);
    const size_t mask = slots.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots[i];
      if (slot.id == kNoToken) return kNoToken;
      if (slot.tag == static_cast<uint32_t>(h) && text[slot.id] == s) return slot.id;
    }
  }
  // Indexes text[id]; returns the id already holding that text, or kNoToken.
  int32_t index(int32_t id);
  void check(int32_t id) const;  // throws (Usage) for an id outside the vocabulary
  // The token of one raw byte: <0xAB> (SPM byte fallback) or, failing that, the byte as text.
  int32_t byte_token(uint8_t byte) const;
};

namespace tok {
// SPM on one fragment whose spaces are already U+2581.
void spm_tokenize(const Tokenizer::Impl& v, std::string_view text, std::vector<int32_t>& out);
// Byte-level BPE on one fragment: pre-tokenize, then merge each word.
void bpe_tokenize(const Tokenizer::Impl& v, std::string_view text, std::vector<int32_t>& out);
// Fills v.merges and v.byte_symbol from tokenizer.ggml.merges ("left right" strings, by rank).
void build_merges(Tokenizer::Impl& v, const std::vector<gguf::Value>& merges);
}  // namespace tok

}  // namespace qkv
