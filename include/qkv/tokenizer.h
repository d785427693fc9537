// Text <-> token ids from a GGUF vocabulary, as llama.cpp tokenizes: the
// SentencePiece-style tokenizer ("llama": score-ordered bigram merges with
// byte fallback) and byte-level BPE ("gpt2": a pre-tokenizer regex per model
// family, GPT-2's byte-to-unicode mapping, merges by rank). The ids equal
// llama.cpp's (and so Hugging Face's) for the same vocabulary and text.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qkv/gguf.h"

namespace qkv {

inline constexpr int32_t kNoToken = -1;

// tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

enum class VocabKind {
  SentencePiece,  // tokenizer.ggml.model "llama"
  ByteLevelBpe,   // tokenizer.ggml.model "gpt2"
};

// Immutable once built; copies share the vocabulary, and every method may be
// called from several threads at once.
class Tokenizer {
 public:
  // Reads the tokenizer.ggml.* keys. Throws qkv::Error: Unsupported for a
  // tokenizer model or pre-tokenizer it does not implement (naming it),
  // Format for missing or inconsistent vocabulary arrays.
  static Tokenizer from_gguf(const gguf::Metadata& md);

  // add_special: BOS/EOS as the vocabulary asks (tokenizer.ggml.add_bos_token,
  // add_eos_token, else llama.cpp's default for the model type).
  // parse_special: control-token texts such as <|im_start|> in `text` become
  // their ids; without it they are tokenized as plain text. User-defined tokens
  // are always matched whole, as Hugging Face and llama.cpp do.
  std::vector<int32_t> encode(std::string_view text, bool add_special = true, bool parse_special = false) const;

  // The bytes one token stands for: byte tokens <0xAB> give that byte, SPM's
  // U+2581 becomes a space, byte-level BPE text maps back to raw bytes. A piece
  // may end inside a UTF-8 character (streaming output must buffer).
  // render_special: control/unknown tokens give their text, else nothing.
  std::string token_to_piece(int32_t id, bool render_special = true) const;
  // The pieces joined, as llama.cpp's detokenizer: SPM drops the space its
  // encoder put in front of the text; BPE vocabularies that ask for it get
  // clean_up_tokenization_spaces (" ," -> ","). Throws (Usage) on an id out of range.
  std::string decode(std::span<const int32_t> tokens, bool render_special = true) const;

  VocabKind kind() const;
  const std::string& pre() const;  // the pre-tokenizer name in use ("default" when absent)
  int32_t n_vocab() const;
  const std::string& text(int32_t id) const;  // as stored in the vocabulary
  float score(int32_t id) const;
  TokenType type(int32_t id) const;
  int32_t find(std::string_view token_text) const;  // kNoToken when absent

  // Special ids, kNoToken when the vocabulary has none.
  int32_t bos() const;
  int32_t eos() const;
  int32_t eot() const;  // end of turn: tokenizer.ggml.eot_token_id, or found by text (<|im_end|>, <|eot_id|>, ...)
  int32_t unk() const;
  int32_t pad() const;
  int32_t sep() const;
  bool add_bos() const;
  bool add_eos() const;
  // Whether generation should stop at this token: EOS, EOT, EOM and the
  // end-of-text tokens llama.cpp recognises by their text.
  bool is_eog(int32_t id) const;

  struct Impl;  // opaque: the vocabulary, merge table and compiled pre-tokenizer

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace qkv
