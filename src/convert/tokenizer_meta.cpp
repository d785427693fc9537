// The entry point: which of llama.cpp's vocabulary paths a folder takes, the
// keys that path writes, and helpers the readers share.
#include "convert/tokenizer_meta.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "qkv/error.h"

namespace qkv::convert {

namespace fs = std::filesystem;
using gguf::Value;
using gguf::ValueType;
using nlohmann::json;

namespace tokmeta {

json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::IO, "cannot open the file", path.string());
  try {
    return json::parse(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const json::parse_error& e) {
    throw Error(ErrorKind::Format, std::string("not valid JSON: ") + e.what(), path.string(), {}, e.byte);
  } catch (const json::exception& e) {  // e.g. a number too large for any JSON number type
    throw Error(ErrorKind::Format, std::string("not valid JSON: ") + e.what(), path.string());
  }
}

Folder read_folder(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw Error(ErrorKind::IO, "not a folder", dir.string());
  Folder f;
  f.dir = dir;
  const std::pair<const char*, json*> files[] = {
      {"tokenizer.json", &f.tokenizer_json},
      {"tokenizer_config.json", &f.tokenizer_config},
      {"special_tokens_map.json", &f.special_tokens_map},
      {"config.json", &f.config},
      {"added_tokens.json", &f.added_tokens},
  };
  for (const auto& [name, slot] : files) {
    if (!f.has(name)) continue;
    *slot = read_json(dir / name);
    if (!slot->is_object()) throw Error(ErrorKind::Format, "expected a JSON object", f.path(name));
  }
  return f;
}

bool truthy(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return false;
    case json::value_t::boolean:
      return v.get<bool>();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return v.get<double>() != 0;
    case json::value_t::string:
      return !v.get_ref<const std::string&>().empty();
    default:
      return !v.empty();  // arrays, objects
  }
}

std::string token_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}

bool looks_special(std::string_view t) {
  static constexpr std::string_view kNamed[] = {"<pad>", "<mask>", "<2mass>", "[@BOS@]"};
  if (std::find(std::begin(kNamed), std::end(kNamed), t) != std::end(kNamed)) return true;
  const auto wrapped = [&](std::string_view open, std::string_view close) {
    return t.starts_with(open) && t.ends_with(close);
  };
  return wrapped("<|", "|>") || wrapped("<\xEF\xBD\x9C", "\xEF\xBD\x9C>") /* fullwidth ｜, DeepSeek */ ||
         wrapped("<unused", ">");
}

std::string spm_marks_to_spaces(std::string token) {
  static constexpr std::string_view kMark = "\xE2\x96\x81";
  for (size_t at = token.find(kMark); at != std::string::npos; at = token.find(kMark, at + 1))
    token.replace(at, kMark.size(), " ");
  return token;
}

}  // namespace tokmeta

namespace {

using namespace tokmeta;

void add_vocab_keys(const Vocab& v, gguf::Metadata& md) {
  md.set("tokenizer.ggml.model", Value::string(v.model));
  md.set("tokenizer.ggml.pre", Value::string(v.pre));
  md.set("tokenizer.ggml.tokens", Value::string_array(v.tokens));
  if (!v.scores.empty()) {
    std::vector<Value> scores;
    scores.reserve(v.scores.size());
    for (float s : v.scores) scores.push_back(Value::f32(s));
    md.set("tokenizer.ggml.scores", Value::array(ValueType::F32, std::move(scores)));
  }
  std::vector<Value> types;
  types.reserve(v.types.size());
  for (TokenType t : v.types) types.push_back(Value::i32(static_cast<int32_t>(t)));
  md.set("tokenizer.ggml.token_type", Value::array(ValueType::I32, std::move(types)));
}

// SpecialVocab(load_merges=True): tokenizer.json's merges, else merges.txt.
std::vector<std::string> bpe_merges(const Folder& f) {
  std::vector<std::string> merges = json_merges(f);
  if (merges.empty()) merges = txt_merges(f);
  if (merges.empty())
    throw Error(ErrorKind::Format,
                "byte-level BPE tokenizer without merges (neither tokenizer.json nor merges.txt has any)",
                f.dir.string());
  return merges;
}

}  // namespace

void add_tokenizer_metadata(const fs::path& hf_dir, uint32_t n_vocab, gguf::Metadata& md) {
  if (n_vocab > kMaxVocab)
    throw Error(ErrorKind::Unsupported,
                "vocab_size " + std::to_string(n_vocab) + " is larger than the " + std::to_string(kMaxVocab) +
                    " tokens QKV Core pads a vocabulary to",
                (hf_dir / "config.json").string());
  const Folder f = read_folder(hf_dir);
  Vocab vocab;
  std::vector<std::string> merges;
  uint32_t id_limit = 0;  // SpecialVocab's n_vocab: given on the SentencePiece-style paths only
  // llama.cpp's order for Llama-family models: tokenizer.model, then a
  // Llama-style tokenizer.json, then byte-level BPE.
  if (f.has("tokenizer.model") && is_sentencepiece_model(hf_dir / "tokenizer.model")) {
    vocab = sentencepiece_vocab(f, n_vocab);
    id_limit = static_cast<uint32_t>(vocab.tokens.size());
  } else if (!f.tokenizer_json.is_null()) {
    if (is_llama_hf(f.tokenizer_json)) {
      vocab = llama_hf_vocab(f, n_vocab);
      id_limit = static_cast<uint32_t>(vocab.tokens.size());
    } else {
      vocab = bpe_vocab_from_json(f, n_vocab);
      merges = bpe_merges(f);
    }
  } else if (f.has("vocab.json")) {
    vocab = bpe_vocab_from_files(f, n_vocab);
    merges = bpe_merges(f);
  } else if (f.has("tokenizer.model")) {
    throw Error(ErrorKind::Unsupported,
                "tokenizer.model is not a SentencePiece model (Llama 3 ships tiktoken BPE ranks under this name) and "
                "there is no tokenizer.json beside it",
                f.path("tokenizer.model"));
  } else {
    throw Error(ErrorKind::Unsupported,
                "no tokenizer found: looked for tokenizer.model (SentencePiece), tokenizer.json, and vocab.json with "
                "merges.txt",
                hf_dir.string());
  }

  add_vocab_keys(vocab, md);
  add_special_vocab(f, merges, id_limit, md);
  // LlamaModel.set_vocab passes tokenizer_config's add_prefix_space on. We
  // write it for SentencePiece-style vocabularies only: byte-level BPE ignores it.
  if (vocab.model == "llama" && f.tokenizer_config.is_object() && f.tokenizer_config.contains("add_prefix_space"))
    md.set("tokenizer.ggml.add_space_prefix", Value::boolean(truthy(f.tokenizer_config["add_prefix_space"])));
}

}  // namespace qkv::convert
