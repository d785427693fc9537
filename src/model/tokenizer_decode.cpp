// Token ids back to bytes (llama.cpp's token_to_piece and detokenize).
#include "model/tokenizer_impl.h"

namespace qkv {

namespace {

void append_spm_text(std::string_view text, std::string& out) {
  for (size_t at = 0;;) {
    const size_t mark = text.find(tok::kSpaceMark, at);
    out.append(text.substr(at, mark - at));
    if (mark == std::string_view::npos) return;
    out += ' ';
    at = mark + tok::kSpaceMark.size();
  }
}

// Byte-level BPE text: each character stands for one byte. A character
// outside GPT-2's table (a hand-added token) passes through as UTF-8.
void append_byte_level_text(std::string_view text, std::string& out) {
  for (size_t i = 0; i < text.size();) {
    const size_t start = i;
    const int32_t cp = tok::utf8_next(text, i);
    const int byte = cp < 0 ? -1 : tok::unicode_to_byte(static_cast<uint32_t>(cp));
    if (byte >= 0)
      out += static_cast<char>(byte);
    else
      out.append(text.substr(start, i - start));
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void append_piece(const Tokenizer::Impl& v, int32_t id, bool render_special, std::string& out) {
  v.check(id);
  const std::string& text = v.text[id];
  const uint32_t attr = v.attr[id];
  if (attr & (tok::kUnknown | tok::kControl)) {
    if (render_special) out += text;
  } else if (attr & tok::kUserDefined) {
    out += text;
  } else if (attr & tok::kNormal) {
    if (v.kind == VocabKind::SentencePiece)
      append_spm_text(text, out);
    else
      append_byte_level_text(text, out);
  } else if (attr & tok::kByte) {  // "<0xAB>"
    const int hi = text.size() == 6 ? hex_digit(text[3]) : -1, lo = text.size() == 6 ? hex_digit(text[4]) : -1;
    if (hi >= 0 && lo >= 0)
      out += static_cast<char>(hi << 4 | lo);
    else
      out += text;
  }
  // Unused and undefined tokens decode to nothing, as in llama.cpp.
}

// Hugging Face's clean_up_tokenization_spaces, in llama.cpp's three passes:
// " ?", " !", " .", " ," lose the space; a lone apostrophe between spaces
// loses both; " 's", " 'm", " 're", " 've" lose the space.
void clean_up_spaces(std::string& s) {
  if (s.empty()) return;
  std::string t;
  t.reserve(s.size());
  auto restart = [&] { t.assign(1, s[0]); };
  restart();
  for (size_t i = 1; i < s.size(); ++i) {
    const char x = s[i];
    if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) t.pop_back();
    t += x;
  }
  s.swap(t);
  restart();
  for (size_t i = 1; i < s.size(); ++i) {
    const char x = s[i];
    if (x == '\'' && i + 1 < s.size() && s[i - 1] == ' ' && s[i + 1] == ' ') {
      t.pop_back();
      s[++i] = '\0';  // the space after is skipped, and the next step sees no space before it
    }
    t += x;
  }
  s.swap(t);
  restart();
  for (size_t i = 1; i < s.size(); ++i) {
    const char x = s[i];
    if (s[i - 1] == ' ' && x == '\'' && i + 1 < s.size()) {
      const char x1 = s[i + 1], x2 = i + 2 < s.size() ? s[i + 2] : '\0';
      if (x1 == 's' || x1 == 'm' || (x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) t.pop_back();
    }
    t += x;
  }
  s.swap(t);
}

}  // namespace

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  std::string piece;
  append_piece(*impl_, id, render_special, piece);
  return piece;
}

std::string Tokenizer::decode(std::span<const int32_t> tokens, bool render_special) const {
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    append_piece(*impl_, tokens[i], render_special, out);
    // The SPM encoder put a space before the text; the first piece gives it back.
    if (i == 0 && impl_->add_space_prefix && !out.empty() && out[0] == ' ') out.erase(0, 1);
  }
  if (impl_->clean_spaces) clean_up_spaces(out);
  return out;
}

}  // namespace qkv
