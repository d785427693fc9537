// Training vocabularies: the built-in byte-level one (and the SentencePiece
// GGUF block that makes qkv::Tokenizer and llama.cpp reproduce it), or the
// tokenizer of an existing GGUF file.
#include <cstdio>

#include "qkv/error.h"
#include "qkv/train_data.h"
#include "train/hash.h"

namespace qkv::train {
namespace {

constexpr int32_t kUnk = 0, kBos = 1, kEos = 2, kFirstByte = 3;

gguf::Metadata byte_vocab_metadata() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<gguf::Value> types = {gguf::Value::i32(int32_t(TokenType::Unknown)),
                                    gguf::Value::i32(int32_t(TokenType::Control)),
                                    gguf::Value::i32(int32_t(TokenType::Control))};
  for (int b = 0; b < 256; ++b) {
    if (b == ' ') {
      // SentencePiece turns every space into U+2581 before it looks tokens up,
      // so the space's id must be the token "▁", not a byte fallback.
      tokens.emplace_back("\xE2\x96\x81");
      types.push_back(gguf::Value::i32(int32_t(TokenType::Normal)));
      continue;
    }
    char name[7];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    tokens.emplace_back(name);
    types.push_back(gguf::Value::i32(int32_t(TokenType::Byte)));
  }
  gguf::Metadata md;
  md.set("tokenizer.ggml.model", gguf::Value::string("llama"));
  md.set("tokenizer.ggml.tokens", gguf::Value::string_array(tokens));
  md.set("tokenizer.ggml.scores",
         gguf::Value::array(gguf::ValueType::F32, std::vector<gguf::Value>(tokens.size(), gguf::Value::f32(0.0f))));
  md.set("tokenizer.ggml.token_type", gguf::Value::array(gguf::ValueType::I32, std::move(types)));
  md.set("tokenizer.ggml.bos_token_id", gguf::Value::u32(kBos));
  md.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(kEos));
  md.set("tokenizer.ggml.unknown_token_id", gguf::Value::u32(kUnk));
  md.set("tokenizer.ggml.add_bos_token", gguf::Value::boolean(true));
  md.set("tokenizer.ggml.add_eos_token", gguf::Value::boolean(false));
  // The text is not prefixed with a space: the ids are the text's own bytes.
  md.set("tokenizer.ggml.add_space_prefix", gguf::Value::boolean(false));
  return md;
}

gguf::Metadata tokenizer_keys(const gguf::Metadata& md) {
  gguf::Metadata out;
  for (const auto& [key, value] : md.entries())
    if (key.starts_with("tokenizer.")) out.append(key, value);
  return out;
}

uint64_t fingerprint_of(const Tokenizer& t) {
  Fnv64 h;
  for (int32_t id = 0; id < t.n_vocab(); ++id) h.str(t.text(id)).u64(uint64_t(t.type(id)));
  for (int32_t id : {t.bos(), t.eos(), t.unk()}) h.u64(uint64_t(int64_t(id)));
  return h.u64(t.add_bos()).u64(t.add_eos()).value();
}

}  // namespace

Vocab::Vocab(gguf::Metadata md, bool bytes)
    : metadata_(std::move(md)), tokenizer_(Tokenizer::from_gguf(metadata_)), bytes_(bytes),
      fingerprint_(fingerprint_of(tokenizer_)) {}

Vocab Vocab::bytes() { return Vocab(byte_vocab_metadata(), true); }

Vocab Vocab::from_gguf(const std::string& path) {
  try {
    return from_metadata(gguf::File::open(path).metadata());
  } catch (const Error& e) {
    throw e.with_file(path);
  }
}

Vocab Vocab::from_metadata(const gguf::Metadata& md) {
  Vocab v(tokenizer_keys(md), false);
  // A checkpoint of a byte-vocabulary run gets the byte fast path back.
  static const uint64_t bytes_fingerprint = Vocab::bytes().fingerprint();
  v.bytes_ = v.fingerprint_ == bytes_fingerprint;
  return v;
}

std::vector<int32_t> Vocab::encode_document(std::string_view text) const {
  std::vector<int32_t> ids;
  if (bytes_) {
    ids.reserve(text.size() + 2);
    ids.push_back(kBos);
    for (char c : text) ids.push_back(kFirstByte + static_cast<uint8_t>(c));
    ids.push_back(kEos);
    return ids;
  }
  ids = tokenizer_.encode(text, true, false);
  if (!tokenizer_.add_eos() && tokenizer_.eos() != kNoToken) ids.push_back(tokenizer_.eos());
  return ids;
}

}  // namespace qkv::train
