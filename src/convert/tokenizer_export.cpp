// A GGUF vocabulary -> the tokenizer files transformers loads: the inverse of
// tokenizer_meta*.cpp. SentencePiece-style vocabularies ("llama") become a
// tokenizer.model written field by field (protobuf needs no library for
// this), byte-level BPE ("gpt2") a tokenizer.json.
#include <fstream>

#include "convert/hf_export.h"
#include "convert/tokenizer_meta.h"
#include "qkv/error.h"
#include "qkv/file.h"

namespace qkv::convert {

using nlohmann::json;

namespace {

// --- protobuf wire format (the subset a ModelProto needs)

void varint(std::vector<uint8_t>& out, uint64_t v) {
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<uint8_t>(v | 0x80));
  out.push_back(static_cast<uint8_t>(v));
}
void key(std::vector<uint8_t>& out, uint32_t field, uint32_t wire) { varint(out, field << 3 | wire); }
void int_field(std::vector<uint8_t>& out, uint32_t field, int64_t v) {
  key(out, field, 0);
  varint(out, static_cast<uint64_t>(v));  // negative int32s take ten bytes, as protobuf writes them
}
void bytes_field(std::vector<uint8_t>& out, uint32_t field, std::string_view b) {
  key(out, field, 2);
  varint(out, b.size());
  out.insert(out.end(), b.begin(), b.end());
}
void float_field(std::vector<uint8_t>& out, uint32_t field, float f) {
  key(out, field, 5);
  const auto bits = std::bit_cast<uint32_t>(f);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
}
std::string_view as_view(const std::vector<uint8_t>& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// --- reading the GGUF vocabulary

struct GgufVocab {
  std::string model, pre;
  std::vector<std::string> tokens, merges;
  std::vector<float> scores;
  std::vector<int32_t> types;
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;
};

int32_t id_of(const gguf::Metadata& md, const char* key) {
  const uint64_t id = md.get_u64(key, UINT32_MAX);
  return id < UINT32_MAX ? static_cast<int32_t>(id) : -1;
}

GgufVocab read_vocab(const gguf::Metadata& md) {
  GgufVocab v;
  v.model = md.get_string("tokenizer.ggml.model");
  v.pre = md.get_string("tokenizer.ggml.pre", "default");
  if (const auto* t = md.find("tokenizer.ggml.tokens"))
    for (const auto& x : t->items) v.tokens.push_back(x.as_string());
  if (const auto* t = md.find("tokenizer.ggml.merges"))
    for (const auto& x : t->items) v.merges.push_back(x.as_string());
  if (const auto* t = md.find("tokenizer.ggml.scores"))
    for (const auto& x : t->items) v.scores.push_back(static_cast<float>(x.as_f64()));
  if (const auto* t = md.find("tokenizer.ggml.token_type"))
    for (const auto& x : t->items) v.types.push_back(static_cast<int32_t>(x.as_i64()));
  v.scores.resize(v.tokens.size(), 0.0f);
  v.types.resize(v.tokens.size(), 1);
  v.bos = id_of(md, "tokenizer.ggml.bos_token_id");
  v.eos = id_of(md, "tokenizer.ggml.eos_token_id");
  v.unk = id_of(md, "tokenizer.ggml.unknown_token_id");
  v.pad = id_of(md, "tokenizer.ggml.padding_token_id");
  return v;
}

std::string token(const GgufVocab& v, int32_t id) {
  return id >= 0 && static_cast<size_t>(id) < v.tokens.size() ? v.tokens[id] : std::string();
}

// tokenizer_config.json and special_tokens_map.json, shared by both kinds.
void write_configs(const gguf::Metadata& md, const GgufVocab& v, const std::filesystem::path& dir,
                   const char* tokenizer_class) {
  json specials;
  for (const auto& [name, id] : {std::pair{"bos_token", v.bos}, {"eos_token", v.eos}, {"unk_token", v.unk},
                                 {"pad_token", v.pad}})
    if (!token(v, id).empty()) specials[name] = token(v, id);
  json config = specials;
  config["tokenizer_class"] = tokenizer_class;
  config["clean_up_tokenization_spaces"] = false;
  for (const char* flag : {"add_bos_token", "add_eos_token"})
    if (const auto* x = md.find(std::string("tokenizer.ggml.") + flag)) config[flag] = x->as_bool();
  if (const auto* t = md.find("tokenizer.chat_template")) config["chat_template"] = t->as_string();
  write_file((dir / "tokenizer_config.json").string(), config.dump(2) + "\n");
  write_file((dir / "special_tokens_map.json").string(), specials.dump(2) + "\n");
}

json bpe_tokenizer_json(const GgufVocab& v, const json& pre, bool ignore_merges) {
  json added = json::array(), vocab = json::object();
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    vocab[v.tokens[i]] = i;
    const bool control = v.types[i] == static_cast<int32_t>(TokenType::Control);
    if (control || v.types[i] == static_cast<int32_t>(TokenType::UserDefined))
      added.push_back({{"id", i}, {"content", v.tokens[i]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", !control}, {"special", control}});
  }
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                           {"use_regex", true}};
  json model = {{"type", "BPE"},          {"dropout", nullptr},        {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", false},
                {"byte_fallback", false}, {"ignore_merges", ignore_merges}, {"vocab", vocab},
                {"merges", v.merges}};
  return {{"version", "1.0"},       {"truncation", nullptr}, {"padding", nullptr},    {"added_tokens", added},
          {"normalizer", nullptr},  {"pre_tokenizer", pre},  {"post_processor", byte_level},
          {"decoder", byte_level},  {"model", model}};
}

}  // namespace

std::vector<uint8_t> sentencepiece_model_bytes(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                                               const std::vector<int32_t>& types, int32_t unk, int32_t bos, int32_t eos,
                                               int32_t pad, bool add_dummy_prefix) {
  std::vector<uint8_t> out, msg;
  bool byte_fallback = false;
  for (size_t i = 0; i < pieces.size(); ++i) {  // ModelProto.pieces = 1: {piece = 1, score = 2, type = 3}
    msg.clear();
    bytes_field(msg, 1, pieces[i]);
    float_field(msg, 2, scores[i]);
    int_field(msg, 3, types[i]);
    bytes_field(out, 1, as_view(msg));
    byte_fallback |= types[i] == static_cast<int32_t>(TokenType::Byte);
  }
  msg.clear();  // TrainerSpec = 2: model_type = 3 (BPE = 2), vocab_size = 4, byte_fallback = 35, ids 40..43
  int_field(msg, 3, 2);
  int_field(msg, 4, static_cast<int64_t>(pieces.size()));
  int_field(msg, 35, byte_fallback);
  int_field(msg, 40, unk);
  int_field(msg, 41, bos);
  int_field(msg, 42, eos);
  int_field(msg, 43, pad);
  bytes_field(out, 2, as_view(msg));
  msg.clear();  // NormalizerSpec = 3: name = 1, add_dummy_prefix = 3, remove_extra_whitespaces = 4, escape_whitespaces = 5
  bytes_field(msg, 1, "identity");
  int_field(msg, 3, add_dummy_prefix);
  int_field(msg, 4, 0);
  int_field(msg, 5, 1);
  bytes_field(out, 3, as_view(msg));
  return out;
}

std::vector<std::string> write_hf_tokenizer(const gguf::Metadata& md, const std::filesystem::path& dir,
                                            std::string* why) {
  const GgufVocab v = read_vocab(md);
  if (v.tokens.empty()) {
    *why = "the GGUF has no tokenizer.ggml.tokens";
    return {};
  }
  if (v.model == "llama") {
    const bool prefix = md.find("tokenizer.ggml.add_space_prefix")
                            ? md.find("tokenizer.ggml.add_space_prefix")->as_bool()
                            : true;
    const auto bytes = sentencepiece_model_bytes(v.tokens, v.scores, v.types, v.unk, v.bos, v.eos, v.pad, prefix);
    write_file((dir / "tokenizer.model").string(), {reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    write_configs(md, v, dir, "LlamaTokenizer");
    return {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"};
  }
  if (v.model == "gpt2") {
    bool ignore_merges = false;
    const json pre = tokmeta::pre_tokenizer_json(v.pre, &ignore_merges);
    if (pre.is_null()) {
      *why = "no tokenizer.json pre-tokenizer is known for llama.cpp's '" + v.pre + "'";
      return {};
    }
    write_file((dir / "tokenizer.json").string(), bpe_tokenizer_json(v, pre, ignore_merges).dump(2) + "\n");
    write_configs(md, v, dir, "PreTrainedTokenizerFast");
    return {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};
  }
  *why = "tokenizer.ggml.model '" + v.model + "' has no Hugging Face counterpart here";
  return {};
}

}  // namespace qkv::convert
