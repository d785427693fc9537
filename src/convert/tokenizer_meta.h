// Hugging Face tokenizer files -> llama.cpp's tokenizer.ggml.* GGUF keys.
//
// The keys and values are the ones convert_hf_to_gguf.py writes: its
// SentencePiece path (tokenizer.model), its Llama-HF path (a Llama-style
// tokenizer.json with byte fallback), its GPT-2 path (byte-level BPE from
// tokenizer.json or vocab.json + merges.txt) and gguf-py's SpecialVocab
// (special token ids, add_bos/add_eos, merges, chat template). Python runs
// transformers and sentencepiece for this; we read the files themselves.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "qkv/gguf.h"
#include "qkv/tokenizer.h"

namespace qkv::convert {

// Reads the tokenizer of a Hugging Face model folder and adds llama.cpp's
// tokenizer.ggml.* keys (and tokenizer.chat_template) to md.
// n_vocab: config.json's vocab_size; the token list is padded to it with
// [PAD{i}] tokens, as llama.cpp pads it. 0 means "the tokenizer's own size"
// (for tokenizer-only folders). Throws qkv::Error: Unsupported when the folder
// holds no tokenizer we read (naming the files looked for) or one we cannot
// name a llama.cpp pre-tokenizer for, Format for malformed files (naming them).
void add_tokenizer_metadata(const std::filesystem::path& hf_dir, uint32_t n_vocab, gguf::Metadata& md);

// ---------------------------------------------------------------------------
// Internals shared by the tokenizer_meta*.cpp files, one job each: the entry
// point and small helpers (tokenizer_meta.cpp), added and special tokens as
// transformers sees them (_added), the SentencePiece reader (_spm), the
// tokenizer.json reader (_json), the vocab.json + merges.txt reader (_slow),
// SpecialVocab (_special) and pre-tokenizer naming (_pre). Not part of the
// converter's interface.
namespace tokmeta {

// The JSON files of a model folder that take part; a missing file is null.
struct Folder {
  std::filesystem::path dir;
  nlohmann::json tokenizer_json;      // tokenizer.json (fast tokenizer)
  nlohmann::json tokenizer_config;    // tokenizer_config.json
  nlohmann::json special_tokens_map;  // special_tokens_map.json
  nlohmann::json config;              // config.json
  nlohmann::json added_tokens;        // added_tokens.json (legacy {text: id})

  std::string path(std::string_view name) const { return (dir / name).string(); }
  bool has(std::string_view name) const { return std::filesystem::is_regular_file(dir / name); }
};

// What tokenizer.ggml.model / pre / tokens / scores / token_type will hold.
struct Vocab {
  std::string model;  // "llama" (SentencePiece-style) or "gpt2" (byte-level BPE)
  std::string pre;
  std::vector<std::string> tokens;
  std::vector<float> scores;  // "llama" only
  std::vector<TokenType> types;
};

// One added token as transformers keeps it.
struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool special = false;
};

// --- entry point helpers (tokenizer_meta.cpp)

// The folder's JSON files (each must be an object); Format errors name the file.
Folder read_folder(const std::filesystem::path& dir);
nlohmann::json read_json(const std::filesystem::path& path);
// Python's truth value of a JSON value (null, false, 0, "", [] and {} are false).
bool truthy(const nlohmann::json& v);
// The text of a token entry of tokenizer_config.json: a string, or an
// AddedToken object's "content"; empty when neither.
std::string token_text(const nlohmann::json& v);
// convert_hf_to_gguf.py's does_token_look_special: added tokens some models
// forget to mark special (<|...|>, <pad>, <unusedN> ...).
bool looks_special(std::string_view token);
// llama.cpp expects user-defined tokens pre-normalized: SentencePiece's U+2581 becomes a space.
std::string spm_marks_to_spaces(std::string token);
// The largest vocabulary we pad to; a config.json claiming more is refused
// rather than allocated.
inline constexpr uint32_t kMaxVocab = 1u << 24;

// --- added and special tokens, the byte-level token list (tokenizer_meta_added.cpp)

// A token id from a JSON file: an integer from 0 to INT32_MAX, or such a
// decimal string (added_tokens_decoder's keys); Format error naming `file` otherwise.
int64_t parse_token_id(const nlohmann::json& v, const std::string& file);
// tokenizer_config.json's added_tokens_decoder ({"id": {content, special ...}}), by id.
std::vector<AddedToken> decoder_added_tokens(const Folder& f);
// added_tokens.json ({text: id}; transformers' legacy file, tokens not special).
std::vector<AddedToken> legacy_added_tokens(const Folder& f);
// Which tokenizer class's default special tokens apply when tokenizer_config
// names none (transformers' class constructors).
enum class TokenizerClass { None, Llama, Gpt2, Qwen2 };
TokenizerClass tokenizer_class(const Folder& f, TokenizerClass fallback);
// transformers' all_special_tokens: the texts of bos/eos/unk/sep/pad/cls/mask
// and additional_special_tokens, from tokenizer_config.json (or
// special_tokens_map.json for tokenizers saved before added_tokens_decoder),
// else the class defaults.
std::vector<std::string> special_token_texts(const Folder& f, TokenizerClass cls);
// Adds the special tokens that are not added tokens yet, as transformers does
// when it loads a tokenizer: at their vocabulary id, or after the last id.
void place_added_tokens(std::vector<AddedToken>& added, const std::vector<std::string>& specials,
                        const std::vector<std::pair<std::string, int64_t>>& vocab);
// get_vocab_base(): the byte-level BPE token list in id order, padded to
// n_vocab with [PAD{i}], typed NORMAL / CONTROL / USER_DEFINED / UNUSED.
Vocab byte_level_vocab(const std::vector<std::pair<std::string, int64_t>>& vocab, const std::vector<AddedToken>& added,
                       uint32_t n_vocab, const std::string& file);

// --- SentencePiece (tokenizer_meta_spm.cpp)

// Whether tokenizer.model is a SentencePiece ModelProto (Llama 3 repos ship
// tiktoken's text rank file under the same name).
bool is_sentencepiece_model(const std::filesystem::path& path);
// _create_vocab_sentencepiece(): tokenizer.model, added_tokens.json and
// tokenizer_config.json's added_tokens_decoder.
Vocab sentencepiece_vocab(const Folder& f, uint32_t n_vocab);

// --- tokenizer.json (tokenizer_meta_json.cpp)

// LlamaHfVocab's test: BPE with byte fallback and a Sequence decoder (a
// SentencePiece model exported by transformers).
bool is_llama_hf(const nlohmann::json& tokenizer_json);
Vocab llama_hf_vocab(const Folder& f, uint32_t n_vocab);
// Byte-level BPE (GPT-2, Llama 3, Qwen2 ...) from tokenizer.json.
Vocab bpe_vocab_from_json(const Folder& f, uint32_t n_vocab);
// model.merges as "a b" strings (empty when absent); [a, b] pairs have their
// spaces written as U+0120, as SpecialVocab does.
std::vector<std::string> json_merges(const Folder& f);

// --- vocab.json + merges.txt (tokenizer_meta_slow.cpp)

Vocab bpe_vocab_from_files(const Folder& f, uint32_t n_vocab);
// merges.txt as "a b" strings (SpecialVocab._try_load_merges_txt); empty when absent.
std::vector<std::string> txt_merges(const Folder& f);

// --- SpecialVocab (tokenizer_meta_special.cpp)

// SpecialVocab.add_to_gguf: merges, special token ids, add_*_token flags and
// the chat template. n_vocab: ids at or above it are skipped (0: no limit).
void add_special_vocab(const Folder& f, const std::vector<std::string>& merges, uint32_t n_vocab, gguf::Metadata& md);

// --- pre-tokenizer naming (tokenizer_meta_pre.cpp)

// tokenizer.ggml.pre for a byte-level BPE tokenizer.json, from its
// pre_tokenizer description; Unsupported when it is none we can name.
std::string pre_from_tokenizer_json(const Folder& f);
// tokenizer.ggml.pre for vocab.json + merges.txt, from tokenizer_config.json's tokenizer_class.
std::string pre_from_tokenizer_class(const Folder& f);
// The way back: tokenizer.json's pre_tokenizer for a llama.cpp pre name
// (gpt-2, llama-bpe, smaug-bpe, qwen2, bloom), null for one we cannot
// describe; *ignore_merges is set as that tokenizer.json's model asks.
nlohmann::json pre_tokenizer_json(std::string_view pre, bool* ignore_merges);

}  // namespace tokmeta
}  // namespace qkv::convert
