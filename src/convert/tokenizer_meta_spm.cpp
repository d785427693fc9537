// tokenizer.model: SentencePiece's ModelProto, read with a small protobuf
// wire-format reader (no libprotobuf), then typed and overridden as
// convert_hf_to_gguf.py's _create_vocab_sentencepiece does.
//
// The message, as far as we need it (sentencepiece_model.proto):
//   ModelProto     { repeated SentencePiece pieces = 1; ... (trainer, normalizer specs: skipped) }
//   SentencePiece  { string piece = 1; float score = 2; Type type = 3 [default = NORMAL]; }
//   Type           { NORMAL = 1; UNKNOWN = 2; CONTROL = 3; USER_DEFINED = 4; UNUSED = 5; BYTE = 6; }
#include <algorithm>
#include <bit>
#include <fstream>
#include <span>
#include <unordered_set>

#include "convert/tokenizer_meta.h"
#include "qkv/error.h"
#include "qkv/file.h"

namespace qkv::convert::tokmeta {

namespace {

enum Wire : uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5 };

// Protobuf fields over a byte range, every length checked against what is left.
class WireReader {
 public:
  WireReader(std::span<const uint8_t> bytes, uint64_t base, const std::string& file)
      : bytes_(bytes), base_(base), file_(file) {}

  bool done() const { return pos_ >= bytes_.size(); }
  uint64_t offset() const { return base_ + pos_; }  // in the file, for error messages

  // The next field's number and wire type.
  std::pair<uint64_t, uint32_t> field() {
    const uint64_t key = varint();
    return {key >> 3, static_cast<uint32_t>(key & 7)};
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const uint8_t b = byte();
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("a varint longer than 10 bytes");
  }
  uint32_t fixed32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(byte()) << (8 * i);
    return v;
  }
  // A length-delimited field's bytes; `at` receives their offset in the file.
  std::span<const uint8_t> length_delimited(uint64_t* at = nullptr) {
    const uint64_t n = varint();
    if (n > bytes_.size() - pos_)
      fail("a field of " + std::to_string(n) + " bytes runs past the end of its message (" +
           std::to_string(bytes_.size() - pos_) + " bytes left)");
    if (at) *at = offset();
    const auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  void skip(uint32_t wire) {
    switch (wire) {
      case kVarint:
        varint();
        return;
      case kFixed64:
        advance(8);
        return;
      case kLength:
        length_delimited();
        return;
      case kFixed32:
        advance(4);
        return;
      default:
        fail("wire type " + std::to_string(wire) + " (protobuf groups are not used by SentencePiece)");
    }
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorKind::Format, "not a valid SentencePiece model: " + what, file_, {}, offset());
  }

 private:
  uint8_t byte() {
    if (done()) fail("the data ends inside a field");
    return bytes_[pos_++];
  }
  void advance(size_t n) {
    if (n > bytes_.size() - pos_) fail("the data ends inside a field");
    pos_ += n;
  }

  std::span<const uint8_t> bytes_;
  uint64_t base_;
  const std::string& file_;
  size_t pos_ = 0;
};

bool valid_utf8(std::span<const uint8_t> s) {
  for (size_t i = 0; i < s.size();) {
    const uint8_t b = s[i];
    const size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? b : b & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;  // overlong, range, surrogate
    i += n;
  }
  return true;
}

struct Piece {
  std::string text;
  float score = 0.0f;
  uint64_t type = 1;  // NORMAL, the proto default
};

Piece read_piece(std::span<const uint8_t> bytes, uint64_t base, const std::string& file) {
  WireReader r(bytes, base, file);
  Piece p;
  while (!r.done()) {
    const auto [number, wire] = r.field();
    const uint32_t want = number == 1 ? kLength : number == 2 ? kFixed32 : number == 3 ? kVarint : wire;
    if (wire != want)
      r.fail("SentencePiece field " + std::to_string(number) + " has wire type " + std::to_string(wire));
    if (number == 1) {
      uint64_t at = 0;
      const auto text = r.length_delimited(&at);
      if (!valid_utf8(text)) throw Error(ErrorKind::Format, "a piece is not valid UTF-8", file, {}, at);
      p.text.assign(reinterpret_cast<const char*>(text.data()), text.size());
    } else if (number == 2) {
      p.score = std::bit_cast<float>(r.fixed32());
    } else if (number == 3) {
      p.type = r.varint();
      if (p.type < 1 || p.type > 6)
        r.fail("piece type " + std::to_string(p.type) + " is not one SentencePiece defines");
    } else {
      r.skip(wire);
    }
  }
  return p;
}

std::vector<Piece> read_model(const std::string& path) {
  const MappedFile file(path);
  WireReader r(file.bytes(), 0, path);
  std::vector<Piece> pieces;
  std::unordered_set<std::string> seen;
  while (!r.done()) {
    const auto [number, wire] = r.field();
    if (number != 1 || wire != kLength) {
      r.skip(wire);
      continue;
    }
    uint64_t at = 0;
    const auto bytes = r.length_delimited(&at);
    pieces.push_back(read_piece(bytes, at, path));
    if (!seen.insert(pieces.back().text).second)  // SentencePiece refuses such a model too
      throw Error(ErrorKind::Format, "piece '" + pieces.back().text + "' is defined twice", path, {}, at);
  }
  if (pieces.empty()) throw Error(ErrorKind::Format, "not a valid SentencePiece model: it has no pieces", path);
  return pieces;
}

// llama.cpp's reading of SentencePiece's types: user-defined pieces stay NORMAL.
TokenType token_type(uint64_t spm_type) {
  switch (spm_type) {
    case 2:
      return TokenType::Unknown;
    case 3:
      return TokenType::Control;
    case 5:
      return TokenType::Unused;
    case 6:
      return TokenType::Byte;
    default:
      return TokenType::Normal;
  }
}

}  // namespace

bool is_sentencepiece_model(const std::filesystem::path& path) {
  // A ModelProto starts with its first piece: field 1, length-delimited (0x0A).
  // tiktoken's rank file starts with base64 text.
  std::ifstream in(path, std::ios::binary);
  return in.get() == 0x0A;
}

Vocab sentencepiece_vocab(const Folder& f, uint32_t n_vocab) {
  const std::vector<Piece> pieces = read_model(f.path("tokenizer.model"));
  const size_t size = n_vocab ? n_vocab : pieces.size();

  // Ids the model does not fill (config vocab_size beyond its pieces) stay placeholders.
  Vocab v;
  v.model = "llama";
  v.pre = "default";
  for (size_t i = 0; i < size; ++i) v.tokens.push_back("[PAD" + std::to_string(i) + "]");
  v.scores.assign(size, -10000.0f);
  v.types.assign(size, TokenType::Unused);
  // Pieces past vocab_size have no embedding row; llama.cpp drops them too.
  for (size_t i = 0; i < std::min(size, pieces.size()); ++i) {
    v.tokens[i] = pieces[i].text;
    v.scores[i] = pieces[i].score;
    v.types[i] = token_type(pieces[i].type);
  }

  // Added tokens override their ids (those past vocab_size are dropped, as llama.cpp does).
  for (const AddedToken& t : legacy_added_tokens(f)) {
    if (static_cast<uint64_t>(t.id) >= size) continue;
    v.tokens[t.id] = t.content;
    v.scores[t.id] = -1000.0f;
    v.types[t.id] = TokenType::UserDefined;
  }
  for (const AddedToken& t : decoder_added_tokens(f)) {
    if (static_cast<uint64_t>(t.id) >= size) continue;
    const bool control = t.special || looks_special(t.content);
    v.tokens[t.id] = control ? t.content : spm_marks_to_spaces(t.content);
    v.scores[t.id] = -1000.0f;
    v.types[t.id] = control ? TokenType::Control : TokenType::UserDefined;
  }
  return v;
}

}  // namespace qkv::convert::tokmeta
