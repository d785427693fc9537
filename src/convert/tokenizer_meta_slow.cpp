// vocab.json + merges.txt (a Hugging Face "slow" byte-level BPE tokenizer,
// as GPT-2 and Qwen2 ship it), with added tokens from tokenizer_config.json
// and added_tokens.json.
#include <algorithm>
#include <fstream>

#include "convert/tokenizer_meta.h"
#include "qkv/error.h"

namespace qkv::convert::tokmeta {

Vocab bpe_vocab_from_files(const Folder& f, uint32_t n_vocab) {
  const std::string pre = pre_from_tokenizer_class(f);
  const std::string file = f.path("vocab.json");
  const nlohmann::json vocab_json = read_json(f.dir / "vocab.json");
  if (!vocab_json.is_object()) throw Error(ErrorKind::Format, "expected an object of token: id", file);
  std::vector<std::pair<std::string, int64_t>> vocab;
  vocab.reserve(vocab_json.size());
  for (const auto& [text, id] : vocab_json.items()) vocab.emplace_back(text, parse_token_id(id, file));

  std::vector<AddedToken> added = decoder_added_tokens(f);
  for (AddedToken& t : legacy_added_tokens(f))
    if (std::none_of(added.begin(), added.end(), [&](const AddedToken& a) { return a.id == t.id; }))
      added.push_back(std::move(t));
  // A slow tokenizer without tokenizer_class in its config is GPT-2's.
  place_added_tokens(added, special_token_texts(f, tokenizer_class(f, TokenizerClass::Gpt2)), vocab);
  Vocab v = byte_level_vocab(vocab, added, n_vocab, file);
  v.pre = pre;
  return v;
}

std::vector<std::string> txt_merges(const Folder& f) {
  std::vector<std::string> merges;
  if (!f.has("merges.txt")) return merges;
  std::ifstream in(f.dir / "merges.txt", std::ios::binary);
  if (!in) throw Error(ErrorKind::IO, "cannot open the file", f.path("merges.txt"));
  // As SpecialVocab reads it: a first line starting with '#' is a version
  // header; every other non-blank line must be exactly two words (others are
  // skipped). Splitting on ASCII whitespace is enough: byte-level BPE text
  // holds no other whitespace characters. Windows line ends are stripped too.
  static constexpr const char* kSpace = " \t\r\n\v\f";
  bool first = true;
  for (std::string line; std::getline(in, line); first = false) {
    const size_t begin = line.find_first_not_of(kSpace);
    if (begin == std::string::npos) continue;
    if (first && line[begin] == '#') continue;
    const size_t a_end = line.find_first_of(kSpace, begin);
    const size_t b_begin = line.find_first_not_of(kSpace, a_end);
    if (a_end == std::string::npos || b_begin == std::string::npos) continue;
    const size_t b_end = line.find_first_of(kSpace, b_begin);
    if (b_end != std::string::npos && line.find_first_not_of(kSpace, b_end) != std::string::npos) continue;
    merges.push_back(line.substr(begin, a_end - begin) + " " + line.substr(b_begin, b_end - b_begin));
  }
  return merges;
}

}  // namespace qkv::convert::tokmeta
