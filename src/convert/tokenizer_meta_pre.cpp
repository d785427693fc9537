// Naming the pre-tokenizer (tokenizer.ggml.pre) of a byte-level BPE tokenizer.
//
// llama.cpp names it by running Hugging Face's tokenizer on a fixed text and
// looking the hash of the ids up in a table (get_vocab_base_pre). We cannot
// run Hugging Face, so we read what tokenizer.json says the pre-tokenizer is
// (the split regex and the byte-level step) and name the llama.cpp
// pre-tokenizer that splits text the same way. Where several llama.cpp names
// share a regex, they differ by other options (ignore_merges, clean-up of
// spaces) that we choose by; a description we do not recognise is refused
// rather than guessed, since a wrong name silently changes the token ids.
#include <string_view>

#include "convert/tokenizer_meta.h"
#include "qkv/error.h"

namespace qkv::convert::tokmeta {

using nlohmann::json;

namespace {

// Split regexes exactly as Hugging Face's tokenizer.json files store them.
// Llama 3 (tiktoken's cl100k pattern): digits in groups of up to three.
constexpr std::string_view kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2 (and Qwen2.5, Qwen3): the same with every digit on its own.
constexpr std::string_view kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// BLOOM: runs up to whitespace or sentence punctuation (Latin, CJK, Devanagari, Arabic).
constexpr std::string_view kBloom =
    " ?[^(\\s|[.,!?\xE2\x80\xA6\xE3\x80\x82\xEF\xBC\x8C\xE3\x80\x81\xE0\xA5\xA4\xDB\x94\xD8\x8C])]+";

bool is_type(const json& node, std::string_view type) {
  return node.is_object() && node.contains("type") && node["type"] == type;
}
bool flag(const json& node, const char* key, bool def) {
  return node.contains(key) && node[key].is_boolean() ? node[key].get<bool>() : def;
}

// GPT-2's own step: ByteLevel splitting with its built-in regex, no space added in front.
bool is_gpt2_byte_level(const json& p) {
  return is_type(p, "ByteLevel") && flag(p, "use_regex", true) && !flag(p, "add_prefix_space", true);
}

// [Split(regex, Isolated), ByteLevel without its own regex]: the regex, or empty.
std::string split_then_byte_level(const json& p) {
  if (!is_type(p, "Sequence") || !p.contains("pretokenizers") || !p["pretokenizers"].is_array() ||
      p["pretokenizers"].size() != 2)
    return {};
  const json& split = p["pretokenizers"][0];
  const json& bytes = p["pretokenizers"][1];
  if (!is_type(split, "Split") || split.value("behavior", json()) != "Isolated" || flag(split, "invert", false) ||
      !is_type(bytes, "ByteLevel") || flag(bytes, "use_regex", true) || flag(bytes, "add_prefix_space", true))
    return {};
  const json pattern = split.value("pattern", json());
  return pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()
             ? pattern["Regex"].get<std::string>()
             : std::string();
}

}  // namespace

std::string pre_from_tokenizer_json(const Folder& f) {
  static const json kNone;
  const json& tj = f.tokenizer_json;
  const json& p = tj.contains("pre_tokenizer") ? tj["pre_tokenizer"] : kNone;
  if (is_gpt2_byte_level(p)) return "gpt-2";
  const std::string regex = split_then_byte_level(p);
  if (regex == kLlama3) {
    // llama-bpe takes a pre-tokenized word that is itself a token whole
    // (ignore_merges, as Llama 3's tokenizer.json asks); smaug-bpe is the same
    // regex with the merges always applied.
    const bool ignore_merges = tj.contains("model") && flag(tj["model"], "ignore_merges", false);
    return ignore_merges ? "llama-bpe" : "smaug-bpe";
  }
  if (regex == kQwen2) return "qwen2";
  if (regex == kBloom) return "bloom";
  const std::string seen = tj.contains("pre_tokenizer") ? tj["pre_tokenizer"].dump() : "none";
  throw Error(ErrorKind::Unsupported,
              "cannot name this pre-tokenizer for llama.cpp (" + seen.substr(0, 300) +
                  (seen.size() > 300 ? "...)" : ")") +
                  "; QKV Core knows GPT-2's ByteLevel and the Split regexes of Llama 3, Qwen2 and BLOOM",
              f.path("tokenizer.json"));
}

std::string pre_from_tokenizer_class(const Folder& f) {
  // A slow tokenizer's regex is fixed by its class (tokenization_gpt2.py, tokenization_qwen2.py).
  switch (tokenizer_class(f, TokenizerClass::Gpt2)) {
    case TokenizerClass::Gpt2:
      return "gpt-2";
    case TokenizerClass::Qwen2:
      return "qwen2";
    default:
      break;
  }
  throw Error(ErrorKind::Unsupported,
              "vocab.json + merges.txt of tokenizer_class " + f.tokenizer_config["tokenizer_class"].dump() +
                  ": QKV Core names the pre-tokenizer of GPT2Tokenizer and Qwen2Tokenizer only",
              f.path("tokenizer_config.json"));
}

json pre_tokenizer_json(std::string_view pre, bool* ignore_merges) {
  *ignore_merges = pre == "llama-bpe";
  if (pre == "gpt-2")
    return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  const std::string_view regex = pre == "llama-bpe" || pre == "smaug-bpe" ? kLlama3
                                 : pre == "qwen2"                         ? kQwen2
                                 : pre == "bloom"                         ? kBloom
                                                                          : std::string_view();
  if (regex.empty()) return nullptr;
  const json split = {{"type", "Split"},
                      {"pattern", {{"Regex", std::string(regex)}}},
                      {"behavior", "Isolated"},
                      {"invert", false}};
  const json bytes = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}};
  return {{"type", "Sequence"}, {"pretokenizers", json::array({split, bytes})}};
}

}  // namespace qkv::convert::tokmeta
