// Encoding: the text is first cut at the texts of special tokens (llama.cpp's
// tokenizer_st_partition), then each stretch of plain text goes to SPM or BPE.
#include <bitset>

#include "model/tokenizer_impl.h"

namespace qkv {

namespace {

// A special token (token >= 0) or a stretch [begin, begin + size) of plain text.
struct Fragment {
  int32_t token;
  size_t begin, size;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// Cuts every plain fragment at each occurrence of one special token's text.
void cut_at(const Tokenizer::Impl& v, int32_t special, std::string_view text, const std::vector<Fragment>& in,
            std::vector<Fragment>& out) {
  const std::string& needle = v.text[special];
  const uint32_t attr = v.attr[special];
  out.clear();
  for (const Fragment& f : in) {
    if (f.token != kNoToken) {
      out.push_back(f);
      continue;
    }
    const size_t end = f.begin + f.size;
    const std::string_view region = text.substr(0, end);
    size_t at = f.begin;
    for (size_t hit; at < end && (hit = region.find(needle, at)) != std::string_view::npos;) {
      size_t left_end = hit;
      if (attr & tok::kLStrip)
        while (left_end > at && is_space(text[left_end - 1])) --left_end;
      if (left_end > at) out.push_back({kNoToken, at, left_end - at});
      out.push_back({special, 0, 0});
      at = hit + needle.size();
      if (attr & tok::kRStrip)
        while (at < end && is_space(text[at])) ++at;
    }
    if (at < end) out.push_back({kNoToken, at, end - at});
  }
}

// One special token after another, longest first, as llama.cpp does: a text
// is taken by the longest special token that occurs in it anywhere, before
// shorter ones are looked for in what is left.
std::vector<Fragment> partition(const Tokenizer::Impl& v, std::string_view text, bool parse_special) {
  std::vector<Fragment> fragments, next;
  if (text.empty()) return fragments;
  fragments.push_back({kNoToken, 0, text.size()});
  // The bytes and byte pairs the text holds: a special token that starts with
  // one it lacks cannot occur, and is skipped without a scan of the text
  // (vocabularies with thousands of added tokens would otherwise rescan it thousands of times).
  std::bitset<256> bytes;
  std::bitset<65536> pairs;
  for (size_t i = 0; i < text.size(); ++i) {
    bytes.set(static_cast<uint8_t>(text[i]));
    if (i + 1 < text.size()) pairs.set(static_cast<uint8_t>(text[i]) << 8 | static_cast<uint8_t>(text[i + 1]));
  }
  for (int32_t special : v.specials) {
    // Without parse_special only user-defined tokens are matched (Hugging
    // Face's added tokens that are not "special", e.g. MPT's runs of spaces).
    if (!parse_special && (v.attr[special] & (tok::kControl | tok::kUnknown))) continue;
    const std::string& t = v.text[special];
    if (!bytes[static_cast<uint8_t>(t[0])]) continue;
    if (t.size() > 1 && !pairs[static_cast<uint8_t>(t[0]) << 8 | static_cast<uint8_t>(t[1])]) continue;
    cut_at(v, special, text, fragments, next);
    fragments.swap(next);
  }
  return fragments;
}

}  // namespace

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const Impl& v = *impl_;
  std::vector<int32_t> out;
  if (add_special && v.add_bos) out.push_back(v.bos);
  const std::vector<Fragment> fragments = partition(v, text, parse_special);
  if (v.kind == VocabKind::SentencePiece) {
    // SPM sees spaces as U+2581, with one more in front of the text and after
    // every special token (llama.cpp's add_space_prefix).
    std::string escaped;
    bool after_special = true;
    for (const Fragment& f : fragments) {
      if (f.token != kNoToken) {
        out.push_back(f.token);
        after_special = true;
        continue;
      }
      escaped.clear();
      if (v.add_space_prefix && after_special) escaped += tok::kSpaceMark;
      for (char c : text.substr(f.begin, f.size)) {
        if (c == ' ')
          escaped += tok::kSpaceMark;
        else
          escaped += c;
      }
      tok::spm_tokenize(v, escaped, out);
      after_special = false;
    }
  } else {
    for (const Fragment& f : fragments) {
      if (f.token != kNoToken)
        out.push_back(f.token);
      else
        tok::bpe_tokenize(v, text.substr(f.begin, f.size), out);
    }
  }
  if (add_special && v.add_eos) out.push_back(v.eos);
  return out;
}

}  // namespace qkv
