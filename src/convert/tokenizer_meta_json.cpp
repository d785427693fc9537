// tokenizer.json (a Hugging Face "fast" tokenizer): the BPE vocabulary, its
// added tokens and merges, read the way convert_hf_to_gguf.py's Llama-HF
// path (LlamaHfVocab) and GPT-2 path (get_vocab_base) see them through
// transformers.
#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "convert/tokenizer_meta.h"
#include "qkv/error.h"

namespace qkv::convert::tokmeta {

using nlohmann::json;

namespace {

const json& model_of(const Folder& f) {
  const json& tj = f.tokenizer_json;
  if (!tj.contains("model") || !tj["model"].is_object())
    throw Error(ErrorKind::Format, "no \"model\" object", f.path("tokenizer.json"));
  return tj["model"];
}

// model.vocab as (text, id) pairs.
std::vector<std::pair<std::string, int64_t>> model_vocab(const Folder& f) {
  const json& model = model_of(f);
  const std::string file = f.path("tokenizer.json");
  if (!model.contains("vocab") || !model["vocab"].is_object())
    throw Error(ErrorKind::Format, "model.vocab is not an object of token: id", file);
  std::vector<std::pair<std::string, int64_t>> vocab;
  vocab.reserve(model["vocab"].size());
  for (const auto& [text, id] : model["vocab"].items()) vocab.emplace_back(text, parse_token_id(id, file));
  return vocab;
}

// tokenizer.json's added_tokens, then those only tokenizer_config.json lists
// (transformers adds both when it loads the tokenizer).
std::vector<AddedToken> json_added_tokens(const Folder& f) {
  std::vector<AddedToken> added;
  const std::string file = f.path("tokenizer.json");
  if (f.tokenizer_json.contains("added_tokens")) {
    const json& list = f.tokenizer_json["added_tokens"];
    if (!list.is_array()) throw Error(ErrorKind::Format, "added_tokens is not a list", file);
    for (const json& t : list) {
      if (!t.is_object() || !t.contains("content") || !t["content"].is_string() || !t.contains("id"))
        throw Error(ErrorKind::Format, "an added token without \"id\" and \"content\": " + t.dump(), file);
      added.push_back({t["content"].get<std::string>(), parse_token_id(t["id"], file),
                       t.contains("special") && truthy(t["special"])});
    }
  }
  for (AddedToken& t : decoder_added_tokens(f))
    if (std::none_of(added.begin(), added.end(), [&](const AddedToken& a) { return a.id == t.id; }))
      added.push_back(std::move(t));
  return added;
}

bool is_byte_token(std::string_view t) {  // <0xAB>, either case
  return t.size() == 6 && t.starts_with("<0x") && t.ends_with(">") && std::isxdigit(static_cast<unsigned char>(t[3])) &&
         std::isxdigit(static_cast<unsigned char>(t[4]));
}

}  // namespace

bool is_llama_hf(const json& tj) {
  if (!tj.contains("model") || !tj["model"].is_object() || !tj.contains("decoder") || !tj["decoder"].is_object())
    return false;
  const json& model = tj["model"];
  return model.value("type", json()) == "BPE" && truthy(model.value("byte_fallback", json())) &&
         tj["decoder"].value("type", json()) == "Sequence";
}

// LlamaHfVocab: the model's tokens in id order, then the added tokens past
// them. Byte tokens are BYTE, the tokenizer's special tokens CONTROL. Every
// score is -1000, as llama.cpp writes it: it takes no scores from the merges,
// so its SentencePiece tokenizer merges equal-scored pairs left to right and
// can split words differently from Hugging Face (Llama 2's tokenizer.json
// alone gives 30 of the 46 llama-spm test strings; scores from merge ranks
// would give all 46, but would no longer be llama.cpp's file).
Vocab llama_hf_vocab(const Folder& f, uint32_t n_vocab) {
  const std::string file = f.path("tokenizer.json");
  const auto vocab = model_vocab(f);
  const size_t base = vocab.size();  // transformers' vocab_size: without added tokens
  std::vector<AddedToken> added = json_added_tokens(f);
  const std::vector<std::string> specials = special_token_texts(f, tokenizer_class(f, TokenizerClass::Llama));
  place_added_tokens(added, specials, vocab);

  // get_vocab(): text -> id, added tokens on top; and its inverse below `base`.
  std::unordered_map<std::string_view, int64_t> id_of;
  std::vector<const std::string*> by_id(base, nullptr);
  const auto index = [&](const std::string& text, int64_t id) {
    id_of[text] = id;
    if (static_cast<uint64_t>(id) < base) by_id[id] = &text;
  };
  for (const auto& [text, id] : vocab) index(text, id);
  for (const AddedToken& t : added) index(t.content, t.id);
  std::vector<bool> special_id(base, false);
  for (const std::string& s : specials)
    if (const int64_t id = id_of.at(s); static_cast<uint64_t>(id) < base) special_id[id] = true;

  Vocab v;
  v.model = "llama";
  v.pre = "default";
  for (size_t id = 0; id < base; ++id) {
    if (!by_id[id]) throw Error(ErrorKind::Format, "no token has id " + std::to_string(id), file);
    v.tokens.push_back(*by_id[id]);
    v.types.push_back(is_byte_token(*by_id[id]) ? TokenType::Byte
                      : special_id[id]          ? TokenType::Control
                                                : TokenType::Normal);
  }
  std::sort(added.begin(), added.end(), [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
  for (const AddedToken& t : added) {
    if (static_cast<uint64_t>(t.id) < base) continue;
    if (static_cast<uint64_t>(t.id) != v.tokens.size())  // llama.cpp would number the rest wrongly
      throw Error(ErrorKind::Format,
                  "added token '" + t.content + "' has id " + std::to_string(t.id) + "; expected " +
                      std::to_string(v.tokens.size()) + " (added tokens must follow the vocabulary without gaps)",
                  file);
    v.tokens.push_back(t.content);
    const bool special = std::find(specials.begin(), specials.end(), t.content) != specials.end();
    v.types.push_back(special ? TokenType::Control : TokenType::UserDefined);
  }
  v.scores.assign(v.tokens.size(), -1000.0f);

  // llama.cpp stops here; a model whose config.json counts more rows than the
  // tokenizer has tokens would then not load. We pad as its SentencePiece path does.
  if (n_vocab && n_vocab < v.tokens.size())
    throw Error(ErrorKind::Format,
                "has " + std::to_string(v.tokens.size()) + " tokens, more than config.json's vocab_size " +
                    std::to_string(n_vocab),
                file);
  for (size_t id = v.tokens.size(); id < n_vocab; ++id) {
    v.tokens.push_back("[PAD" + std::to_string(id) + "]");
    v.scores.push_back(-10000.0f);
    v.types.push_back(TokenType::Unused);
  }
  return v;
}

Vocab bpe_vocab_from_json(const Folder& f, uint32_t n_vocab) {
  const json& model = model_of(f);
  const json type = model.value("type", json());
  if (type != "BPE")
    throw Error(ErrorKind::Unsupported,
                "tokenizer model " + type.dump() +
                    " is not supported; QKV Core converts BPE tokenizers (byte-level, "
                    "or SentencePiece-style with byte fallback) and SentencePiece tokenizer.model files",
                f.path("tokenizer.json"));
  if (truthy(model.value("byte_fallback", json())))
    throw Error(ErrorKind::Unsupported,
                "a BPE tokenizer with byte fallback but without the Llama-style decoder (a \"Sequence\") and "
                "without tokenizer.model: llama.cpp has no vocabulary type for it",
                f.path("tokenizer.json"));
  const std::string pre = pre_from_tokenizer_json(f);
  const auto vocab = model_vocab(f);
  std::vector<AddedToken> added = json_added_tokens(f);
  place_added_tokens(added, special_token_texts(f, tokenizer_class(f, TokenizerClass::None)), vocab);
  Vocab v = byte_level_vocab(vocab, added, n_vocab, f.path("tokenizer.json"));
  v.pre = pre;
  return v;
}

std::vector<std::string> json_merges(const Folder& f) {
  std::vector<std::string> out;
  if (f.tokenizer_json.is_null()) return out;
  const json& model = model_of(f);
  if (!model.contains("merges") || !model["merges"].is_array() || model["merges"].empty()) return out;
  const json& merges = model["merges"];
  const std::string file = f.path("tokenizer.json");
  out.reserve(merges.size());
  if (merges[0].is_string()) {
    for (const json& m : merges) {
      if (!m.is_string()) throw Error(ErrorKind::Format, "model.merges mixes strings with " + m.dump(), file);
      out.push_back(m.get<std::string>());
    }
    return out;
  }
  // Since transformers 4.45 a merge may be a pair, so that its parts can hold
  // spaces; the "a b" form llama.cpp reads writes those spaces as U+0120.
  const auto part = [&](const json& p) {
    if (!p.is_string()) throw Error(ErrorKind::Format, "a merge part is not a string: " + p.dump(), file);
    std::string s;
    for (char c : p.get_ref<const std::string&>()) s += c == ' ' ? std::string("\xC4\xA0") : std::string(1, c);
    return s;
  };
  for (const json& m : merges) {
    if (!m.is_array() || m.size() != 2)
      throw Error(ErrorKind::Format, "model.merges holds " + m.dump() + ", neither \"a b\" nor [a, b]", file);
    out.push_back(part(m[0]) + " " + part(m[1]));
  }
  return out;
}

}  // namespace qkv::convert::tokmeta
