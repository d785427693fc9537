// Loading a tokenizer from GGUF metadata (tokenizer.ggml.*), with llama.cpp's
// defaults for keys a file leaves out and its load-time fix-ups of token types.
#include <algorithm>
#include <bit>
#include <cctype>

#include "model/tokenizer_impl.h"
#include "qkv/error.h"

namespace qkv {

namespace {

using gguf::ValueType;

[[noreturn]] void format_error(const std::string& msg) { throw Error(ErrorKind::Format, msg); }

// An array-valued key, or nullptr when absent; `accepts` checks the element type.
const gguf::Value* array_key(const gguf::Metadata& md, std::string_view key, bool (*accepts)(ValueType),
                             const char* want) {
  const gguf::Value* v = md.find(key);
  if (v && (v->type != ValueType::ARRAY || !accepts(v->elem_type)))
    format_error(std::string(key) + " must be an array of " + want + ", not " + v->to_string(0));
  return v;
}
bool is_string(ValueType t) { return t == ValueType::STRING; }
bool is_number(ValueType t) { return t != ValueType::STRING && t != ValueType::ARRAY && t != ValueType::BOOL; }

uint32_t attr_of(int64_t type) {
  switch (static_cast<TokenType>(type)) {
    case TokenType::Normal:
      return tok::kNormal;
    case TokenType::Unknown:
      return tok::kUnknown;
    case TokenType::Control:
      return tok::kControl;
    case TokenType::UserDefined:
      return tok::kUserDefined;
    case TokenType::Unused:
      return tok::kUnused;
    case TokenType::Byte:
      return tok::kByte;
    default:
      return 0;  // undefined: never produced by the tokenizer, decodes to nothing
  }
}

void load_tokens(const gguf::Metadata& md, Tokenizer::Impl& v) {
  const gguf::Value* tokens = array_key(md, "tokenizer.ggml.tokens", is_string, "strings");
  if (!tokens || tokens->items.empty()) format_error("this GGUF has no vocabulary (tokenizer.ggml.tokens)");
  const size_t n = tokens->items.size();
  if (n > static_cast<size_t>(INT32_MAX)) format_error("tokenizer.ggml.tokens has more tokens than int32 ids can name");
  const gguf::Value* scores = array_key(md, "tokenizer.ggml.scores", is_number, "numbers");
  const gguf::Value* types = array_key(md, "tokenizer.ggml.token_type", is_number, "integers");
  for (const auto& [arr, key] : {std::pair{scores, "scores"}, std::pair{types, "token_type"}})
    if (arr && arr->items.size() < n)
      format_error("tokenizer.ggml." + std::string(key) + " has " + std::to_string(arr->items.size()) +
                   " entries for " + std::to_string(n) + " tokens");

  v.text.resize(n);
  v.score.assign(n, 0.0f);
  v.type.assign(n, TokenType::Normal);
  v.attr.assign(n, tok::kNormal);
  v.slots.assign(std::bit_ceil(2 * n), {});
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<int32_t>(i);
    std::string text = tokens->items[i].str;
    if (text.empty()) text = "[EMPTY_" + std::to_string(i) + "]";  // llama.cpp's name, so lookups stay unique
    v.text[i] = std::move(text);
    if (const int32_t first = v.index(id); first != kNoToken)
      format_error("duplicate token in tokenizer.ggml.tokens: '" + v.text[i] + "' has ids " + std::to_string(first) +
                   " and " + std::to_string(i));
    if (scores) v.score[i] = static_cast<float>(scores->items[i].as_f64());
    if (types) {
      const int64_t t = types->items[i].as_i64();
      v.type[i] = static_cast<TokenType>(t >= 0 && t <= 6 ? t : 0);
      v.attr[i] = attr_of(t);
    }
  }
}

// A token id key, when present and naming a token (llama.cpp ignores one out of range).
void read_id(const gguf::Metadata& md, std::string_view key, const Tokenizer::Impl& v, int32_t& id) {
  const gguf::Value* value = md.find(key);
  if (!value) return;
  const int64_t x = value->as_i64();
  if (x >= 0 && x < v.n_vocab()) id = static_cast<int32_t>(x);
}

void read_flag(const gguf::Metadata& md, std::string_view key, bool& flag) {
  if (const gguf::Value* value = md.find(key)) flag = value->as_bool();
}

// End-of-turn texts, most specific first (llama.cpp matches these when the file names no EOT).
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "<end_of_utterance>",
};
// Texts of tokens that end generation (llama.cpp's list, as far as the model families we read go).
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
};

void find_end_tokens(Tokenizer::Impl& v) {
  if (v.eot == kNoToken)
    for (std::string_view t : kEotTexts)
      if ((v.eot = v.find(t)) != kNoToken) break;
  if (v.eom == kNoToken) v.eom = v.find("<|eom_id|>");
  for (std::string_view t : kEogTexts) {
    const int32_t id = v.find(t);
    if (id == kNoToken) continue;
    v.eog.push_back(id);
    // Files sometimes type these Normal; llama.cpp makes them control tokens
    // (hidden when decoding without specials, matched only with parse_special).
    v.attr[id] |= tok::kControl;
  }
  for (int32_t id : {v.eos, v.eot, v.eom})
    if (id != kNoToken) v.eog.push_back(id);
  std::sort(v.eog.begin(), v.eog.end());
  v.eog.erase(std::unique(v.eog.begin(), v.eog.end()), v.eog.end());
}

void collect_specials(const gguf::Metadata& md, Tokenizer::Impl& v) {
  for (int32_t id = 0; id < v.n_vocab(); ++id)
    if (v.attr[id] & (tok::kControl | tok::kUserDefined | tok::kUnknown)) v.specials.push_back(id);
  // Longest first, so that a token containing another is matched whole.
  std::stable_sort(v.specials.begin(), v.specials.end(),
                   [&](int32_t a, int32_t b) { return v.text[a].size() > v.text[b].size(); });

  // Phi-3's chat tokens swallow the whitespace after them (its tokenizer.json
  // says rstrip); GGUF has no field for it, so llama.cpp goes by the model name.
  std::string name = md.get_string("general.name");
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (int32_t id : v.specials) v.attr[id] |= tok::kRStrip;
    if (const int32_t id = v.find("</s>"); id != kNoToken) v.attr[id] |= tok::kRStrip;
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"})
      if (const int32_t id = v.find(t); id != kNoToken) v.attr[id] &= ~tok::kRStrip;
  }
}

bool space_mark_after_character(const std::string& token) {
  for (size_t at = token.find(tok::kSpaceMark, 1); at != std::string::npos; at = token.find(tok::kSpaceMark, at + 1))
    if (at < tok::kSpaceMark.size() ||
        token.compare(at - tok::kSpaceMark.size(), tok::kSpaceMark.size(), tok::kSpaceMark) != 0)
      return true;
  return false;
}

}  // namespace

Tokenizer Tokenizer::from_gguf(const gguf::Metadata& md) {
  auto v = std::make_shared<Impl>();
  const std::string model = md.get_string("tokenizer.ggml.model");
  if (model == "llama") {
    v->kind = VocabKind::SentencePiece;
  } else if (model == "gpt2") {
    v->kind = VocabKind::ByteLevelBpe;
  } else if (model.empty()) {
    format_error("this GGUF has no tokenizer (tokenizer.ggml.model is missing)");
  } else {
    throw Error(ErrorKind::Unsupported, "tokenizer model '" + model +
                                            "' is not supported; QKV Core tokenizes 'llama' (SentencePiece) and "
                                            "'gpt2' (byte-level BPE) vocabularies");
  }
  v->pre = md.get_string("tokenizer.ggml.pre", "default");
  if (v->pre.empty()) v->pre = "default";
  load_tokens(md, *v);

  // llama.cpp's defaults per model type, before the file's own keys.
  if (v->kind == VocabKind::SentencePiece) {
    v->bos = 1;
    v->eos = 2;
    v->unk = 0;
    v->add_bos = true;
    v->add_space_prefix = true;
    v->spm_words_apart = std::none_of(v->text.begin(), v->text.end(), space_mark_after_character);
  } else {
    v->bos = v->eos = 11;  // llama.cpp's guess for GPT-2-style files without ids (Falcon's <|endoftext|>)
    v->pretok = tok::pre_tokenizer(v->pre);
    v->add_bos = v->pretok.add_bos;
    v->clean_spaces = v->pretok.clean_spaces;
    const gguf::Value* merges = array_key(md, "tokenizer.ggml.merges", is_string, "strings");
    if (!merges) format_error("byte-level BPE vocabulary without tokenizer.ggml.merges");
    tok::build_merges(*v, merges->items);
  }
  for (int32_t* id : {&v->bos, &v->eos, &v->unk})
    if (*id >= v->n_vocab()) *id = kNoToken;
  read_id(md, "tokenizer.ggml.bos_token_id", *v, v->bos);
  read_id(md, "tokenizer.ggml.eos_token_id", *v, v->eos);
  read_id(md, "tokenizer.ggml.eot_token_id", *v, v->eot);
  read_id(md, "tokenizer.ggml.eom_token_id", *v, v->eom);
  read_id(md, "tokenizer.ggml.unknown_token_id", *v, v->unk);
  read_id(md, "tokenizer.ggml.seperator_token_id", *v, v->sep);  // sic: the GGUF key is misspelt
  read_id(md, "tokenizer.ggml.padding_token_id", *v, v->pad);
  read_flag(md, "tokenizer.ggml.add_bos_token", v->add_bos);
  read_flag(md, "tokenizer.ggml.add_eos_token", v->add_eos);
  read_flag(md, "tokenizer.ggml.add_space_prefix", v->add_space_prefix);
  if (v->add_bos && v->bos == kNoToken)
    format_error(
        "tokenizer.ggml.add_bos_token is true but the vocabulary has no BOS token (tokenizer.ggml.bos_token_id)");
  if (v->add_eos && v->eos == kNoToken)
    format_error(
        "tokenizer.ggml.add_eos_token is true but the vocabulary has no EOS token (tokenizer.ggml.eos_token_id)");

  find_end_tokens(*v);
  collect_specials(md, *v);
  return Tokenizer(std::move(v));
}

int32_t Tokenizer::Impl::index(int32_t id) {
  const uint64_t h = tok::text_hash(text[id]);
  const size_t mask = slots.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    Slot& slot = slots[i];
    if (slot.id == kNoToken) {
      slot = {static_cast<uint32_t>(h), id};
      return kNoToken;
    }
    if (slot.tag == static_cast<uint32_t>(h) && text[slot.id] == text[id]) return slot.id;
  }
}

int32_t Tokenizer::Impl::byte_token(uint8_t byte) const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const char name[6] = {'<', '0', 'x', kHex[byte >> 4], kHex[byte & 15], '>'};
  if (const int32_t id = find({name, 6}); id != kNoToken) return id;
  if (const int32_t id = find({reinterpret_cast<const char*>(&byte), 1}); id != kNoToken) return id;
  return unk;
}

void Tokenizer::Impl::check(int32_t id) const {
  if (id < 0 || id >= n_vocab())
    throw Error(ErrorKind::Usage, "token id " + std::to_string(id) + " is out of range (the vocabulary has " +
                                      std::to_string(n_vocab()) + ")");
}

VocabKind Tokenizer::kind() const { return impl_->kind; }
const std::string& Tokenizer::pre() const { return impl_->pre; }
int32_t Tokenizer::n_vocab() const { return impl_->n_vocab(); }
const std::string& Tokenizer::text(int32_t id) const {
  impl_->check(id);
  return impl_->text[id];
}
float Tokenizer::score(int32_t id) const {
  impl_->check(id);
  return impl_->score[id];
}
TokenType Tokenizer::type(int32_t id) const {
  impl_->check(id);
  return impl_->type[id];
}
int32_t Tokenizer::find(std::string_view token_text) const { return impl_->find(token_text); }
int32_t Tokenizer::bos() const { return impl_->bos; }
int32_t Tokenizer::eos() const { return impl_->eos; }
int32_t Tokenizer::eot() const { return impl_->eot; }
int32_t Tokenizer::unk() const { return impl_->unk; }
int32_t Tokenizer::pad() const { return impl_->pad; }
int32_t Tokenizer::sep() const { return impl_->sep; }
bool Tokenizer::add_bos() const { return impl_->add_bos; }
bool Tokenizer::add_eos() const { return impl_->add_eos; }
bool Tokenizer::is_eog(int32_t id) const { return std::binary_search(impl_->eog.begin(), impl_->eog.end(), id); }

}  // namespace qkv
