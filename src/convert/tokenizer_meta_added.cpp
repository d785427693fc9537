// The vocabulary as transformers presents it to convert_hf_to_gguf.py:
// added tokens (tokenizer.json, tokenizer_config.json, added_tokens.json),
// the special tokens a tokenizer class and its config name, and the typed,
// padded token list of get_vocab_base().
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "convert/tokenizer_meta.h"
#include "qkv/error.h"

namespace qkv::convert::tokmeta {

using nlohmann::json;

int64_t parse_token_id(const json& v, const std::string& file) {
  int64_t id = -1;
  if (v.is_number_integer()) {
    id = v.get<int64_t>();
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (!s.empty() && s.size() <= 10 && s.find_first_not_of("0123456789") == std::string::npos) id = std::stoll(s);
  }
  // llama.cpp's token ids are int32.
  if (id < 0 || id > INT32_MAX)
    throw Error(ErrorKind::Format, "token id " + v.dump() + " is not an integer from 0 to 2^31-1", file);
  return id;
}

std::vector<AddedToken> decoder_added_tokens(const Folder& f) {
  std::vector<AddedToken> out;
  if (!f.tokenizer_config.contains("added_tokens_decoder")) return out;
  const json& decoder = f.tokenizer_config["added_tokens_decoder"];
  const std::string file = f.path("tokenizer_config.json");
  if (!decoder.is_object()) throw Error(ErrorKind::Format, "added_tokens_decoder is not an object", file);
  for (const auto& [key, entry] : decoder.items()) {
    if (!entry.is_object() || !entry.contains("content") || !entry["content"].is_string())
      throw Error(ErrorKind::Format, "added_tokens_decoder entry " + key + " has no \"content\" text", file);
    out.push_back({entry["content"].get<std::string>(), parse_token_id(key, file),
                   entry.contains("special") && truthy(entry["special"])});
  }
  std::sort(out.begin(), out.end(), [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
  return out;
}

std::vector<AddedToken> legacy_added_tokens(const Folder& f) {
  std::vector<AddedToken> out;
  for (const auto& [text, id] : f.added_tokens.items())
    out.push_back({text, parse_token_id(id, f.path("added_tokens.json")), false});
  return out;
}

TokenizerClass tokenizer_class(const Folder& f, TokenizerClass fallback) {
  if (!f.tokenizer_config.contains("tokenizer_class") || !f.tokenizer_config["tokenizer_class"].is_string())
    return fallback;
  std::string name = f.tokenizer_config["tokenizer_class"].get<std::string>();
  if (name.ends_with("Fast")) name.resize(name.size() - 4);
  if (name == "LlamaTokenizer" || name == "CodeLlamaTokenizer") return TokenizerClass::Llama;
  if (name == "GPT2Tokenizer") return TokenizerClass::Gpt2;
  if (name == "Qwen2Tokenizer") return TokenizerClass::Qwen2;
  return TokenizerClass::None;
}

namespace {

constexpr const char* kSpecialAttrs[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                         "pad_token", "cls_token", "mask_token"};

// The special tokens a tokenizer class's constructor defaults to.
std::string class_default(TokenizerClass cls, std::string_view attr) {
  switch (cls) {
    case TokenizerClass::Llama:
      return attr == "bos_token" ? "<s>" : attr == "eos_token" ? "</s>" : attr == "unk_token" ? "<unk>" : "";
    case TokenizerClass::Gpt2:
      return attr == "bos_token" || attr == "eos_token" || attr == "unk_token" ? "<|endoftext|>" : "";
    case TokenizerClass::Qwen2:
      return attr == "eos_token" || attr == "unk_token" || attr == "pad_token" ? "<|endoftext|>" : "";
    case TokenizerClass::None:
      break;
  }
  return {};
}

}  // namespace

std::vector<std::string> special_token_texts(const Folder& f, TokenizerClass cls) {
  json config = f.tokenizer_config.is_object() ? f.tokenizer_config : json::object();
  // transformers reads special_tokens_map.json only for tokenizers saved
  // before added_tokens_decoder existed, and then it overrides tokenizer_config.
  if (!config.contains("added_tokens_decoder") && f.special_tokens_map.is_object())
    for (const auto& [key, value] : f.special_tokens_map.items()) config[key] = value;

  std::vector<std::string> texts;
  const auto add = [&](const std::string& t) {
    if (!t.empty() && std::find(texts.begin(), texts.end(), t) == texts.end()) texts.push_back(t);
  };
  for (const char* attr : kSpecialAttrs)
    add(config.contains(attr) ? token_text(config[attr]) : class_default(cls, attr));
  if (config.contains("additional_special_tokens") && config["additional_special_tokens"].is_array())
    for (const json& t : config["additional_special_tokens"]) add(token_text(t));
  return texts;
}

void place_added_tokens(std::vector<AddedToken>& added, const std::vector<std::string>& specials,
                        const std::vector<std::pair<std::string, int64_t>>& vocab) {
  std::unordered_map<std::string_view, int64_t> ids;
  int64_t next = 0;
  for (const auto& [text, id] : vocab) {
    ids.emplace(text, id);
    next = std::max(next, id + 1);
  }
  std::unordered_set<std::string> placed;
  for (const AddedToken& t : added) {
    placed.insert(t.content);
    next = std::max(next, t.id + 1);
  }
  for (const std::string& s : specials) {
    if (!placed.insert(s).second) continue;
    const auto it = ids.find(s);
    added.push_back({s, it != ids.end() ? it->second : next++, true});
  }
}

Vocab byte_level_vocab(const std::vector<std::pair<std::string, int64_t>>& vocab, const std::vector<AddedToken>& added,
                       uint32_t n_vocab, const std::string& file) {
  // transformers' get_vocab(): text -> id, the added tokens on top.
  std::unordered_map<std::string_view, const AddedToken*> added_by_text;
  for (const AddedToken& t : added) added_by_text[t.content] = &t;
  std::unordered_set<std::string_view> texts;
  for (const auto& entry : vocab) texts.insert(entry.first);
  for (const AddedToken& t : added) texts.insert(t.content);
  const size_t size = n_vocab ? n_vocab : texts.size();  // llama.cpp: config vocab_size, else len(get_vocab())

  std::vector<const std::string*> by_id(size, nullptr);
  const auto place = [&](const std::string& text, int64_t id) {
    if (id < 0 || static_cast<uint64_t>(id) >= size)
      throw Error(ErrorKind::Format,
                  "token '" + text + "' has id " + std::to_string(id) + ", outside the vocabulary of " +
                      std::to_string(size) + (n_vocab ? " (config.json vocab_size)" : " tokens"),
                  file);
    by_id[id] = &text;
  };
  for (const auto& [text, id] : vocab) place(text, id);
  // Where an added token shares an id with a vocabulary entry, the added text wins.
  for (const AddedToken& t : added) place(t.content, t.id);

  Vocab v;
  v.model = "gpt2";
  v.tokens.reserve(size);
  v.types.reserve(size);
  for (size_t i = 0; i < size; ++i) {
    if (!by_id[i]) {
      v.tokens.push_back("[PAD" + std::to_string(i) + "]");
      v.types.push_back(TokenType::Unused);
      continue;
    }
    const std::string& text = *by_id[i];
    const auto it = added_by_text.find(text);
    if (it == added_by_text.end()) {
      v.tokens.push_back(text);
      v.types.push_back(TokenType::Normal);
    } else if (it->second->special || looks_special(text)) {
      v.tokens.push_back(text);
      v.types.push_back(TokenType::Control);
    } else {
      // transformers also re-encodes non-normalized added tokens and decodes
      // them back; for an added token that round trip gives its own text.
      v.tokens.push_back(spm_marks_to_spaces(text));
      v.types.push_back(TokenType::UserDefined);
    }
  }
  return v;
}

}  // namespace qkv::convert::tokmeta
