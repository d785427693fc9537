// Tokenizer: llama.cpp's tokenizer test files (strings and the ids Hugging
// Face gives them) against our ids, round trips through decode, and small
// hand-built vocabularies that pin down the merge rules themselves.
#include "qkv/tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/gguf.h"
#include "test_support.h"

namespace qkv {
namespace {

namespace fs = std::filesystem;
using gguf::Value;

fs::path vocab_dir() { return test::shared_dir() / "models/gguf-vocab"; }

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// test-tokenizer-0's format: the .inp strings are separated by
// "\n__ggml_vocab_test__\n" (so a string's last newline before the separator
// is not part of it); the .out has one line of space-separated ids per string.
std::vector<Case> read_cases(const fs::path& base) {
  const std::string inp = read_file(base.string() + ".inp"), sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t next = inp.find(sep, pos);
    cases.push_back({inp.substr(pos, next - pos), {}});
    if (next == std::string::npos) break;
    pos = next + sep.size();
  }
  std::ifstream out(base.string() + ".out");
  size_t i = 0;
  for (std::string line; std::getline(out, line); ++i) {
    if (i >= cases.size()) break;
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) cases[i].ids.push_back(id);
  }
  EXPECT_EQ(i, cases.size()) << base << ": .inp and .out hold different numbers of tests";
  return cases;
}

std::string show(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20)
      out += "\\x" + std::to_string(c);
    else
      out += static_cast<char>(c);
  }
  return out;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) out += std::to_string(id) + " ";
  return out;
}

Tokenizer load_vocab(const std::string& name) {
  return Tokenizer::from_gguf(gguf::File::open((vocab_dir() / (name + ".gguf")).string()).metadata());
}

// Every string of a test file tokenizes to the expected ids (without BOS/EOS
// and without special-token parsing, as test-tokenizer-0 runs), and the ids
// keep every byte: their pieces join to the string (after the space SPM puts
// in front). decode gives the string back too, except where the vocabulary
// asks for clean_up_tokenization_spaces (`cleans_spaces`: " ," -> ",").
void check_cases(const Tokenizer& t, const std::vector<Case>& cases, const std::string& name, bool cleans_spaces) {
  size_t pass = 0, round_trips = 0;
  const std::string prefix = t.kind() == VocabKind::SentencePiece ? " " : "";
  for (const Case& c : cases) {
    const std::vector<int32_t> got = t.encode(c.text, false, false);
    if (got == c.ids)
      ++pass;
    else
      ADD_FAILURE() << name << ": '" << show(c.text) << "'\n  expected " << show(c.ids) << "\n  got      " << show(got);
    std::string pieces;
    for (int32_t id : got) pieces += t.token_to_piece(id);
    EXPECT_EQ(show(pieces), show((c.text.empty() ? "" : prefix) + c.text)) << name;
    const std::string back = t.decode(got);
    if (back == c.text)
      ++round_trips;
    else if (!cleans_spaces)
      ADD_FAILURE() << name << ": '" << show(c.text) << "' decodes to '" << show(back) << "'";
  }
  std::cout << "[  vocab   ] " << name << ": " << pass << "/" << cases.size() << " strings as llama.cpp, "
            << round_trips << "/" << cases.size() << " decode to themselves\n";
  EXPECT_EQ(pass, cases.size()) << name;
}

struct VocabFile {
  const char* name;
  bool cleans_spaces;  // llama.cpp's clean_spaces: decode is not an exact inverse
};

void PrintTo(const VocabFile& v, std::ostream* os) { *os << v.name; }

class TokenizerVocabFile : public testing::TestWithParam<VocabFile> {};

TEST_P(TokenizerVocabFile, MatchesLlamaCpp) {
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  const std::string name = std::string("ggml-vocab-") + GetParam().name;
  if (!fs::exists(vocab_dir() / (name + ".gguf"))) GTEST_SKIP() << name << ".gguf is not in the shared data";
  check_cases(load_vocab(name), read_cases(vocab_dir() / (name + ".gguf")), name, GetParam().cleans_spaces);
}

INSTANTIATE_TEST_SUITE_P(, TokenizerVocabFile,
                         testing::Values(VocabFile{"llama-spm", false}, VocabFile{"phi-3", false},
                                         VocabFile{"gpt-2", true}, VocabFile{"falcon", true}, VocabFile{"mpt", true},
                                         VocabFile{"starcoder", true}, VocabFile{"refact", true},
                                         VocabFile{"deepseek-llm", false}, VocabFile{"deepseek-coder", false}),
                         [](const testing::TestParamInfo<VocabFile>& info) {
                           std::string n = info.param.name;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(Tokenizer, BertWordPieceIsRefusedByName) {
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  try {
    load_vocab("ggml-vocab-bert-bge");
    FAIL() << "a WordPiece vocabulary loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
    EXPECT_NE(std::string(e.what()).find("'bert'"), std::string::npos) << e.what();
  }
  GTEST_SKIP() << "ggml-vocab-bert-bge: WordPiece (tokenizer model 'bert') is not implemented, so its "
                  ".inp/.out are not run; from_gguf refuses it with Unsupported";
}

// Vocabularies the shared data has without test files: the llama-spm test
// strings must keep every byte through encode and token_to_piece (and through
// decode, for SPM, which does not clean up spaces).
TEST(Tokenizer, BaichuanAndGptNeoxKeepEveryByte) {
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  const auto cases = read_cases(vocab_dir() / "ggml-vocab-llama-spm.gguf");
  for (const char* name : {"ggml-vocab-baichuan", "ggml-vocab-gpt-neox"}) {
    if (!fs::exists(vocab_dir() / (std::string(name) + ".gguf"))) continue;
    const Tokenizer t = load_vocab(name);
    const std::string prefix = t.kind() == VocabKind::SentencePiece ? " " : "";
    size_t round_trips = 0;
    for (const Case& c : cases) {
      const std::vector<int32_t> ids = t.encode(c.text, false);
      std::string pieces;
      for (int32_t id : ids) pieces += t.token_to_piece(id);
      EXPECT_EQ(show(pieces), show((c.text.empty() ? "" : prefix) + c.text)) << name;
      round_trips += t.decode(ids) == c.text;
    }
    std::cout << "[  vocab   ] " << name << ": " << round_trips << "/" << cases.size() << " decode to themselves\n";
    if (t.kind() == VocabKind::SentencePiece) {
      EXPECT_EQ(round_trips, cases.size()) << name;
    }
  }
}

// --- Hugging Face tokenizers without a GGUF here: build the vocabulary in memory.

gguf::Metadata bpe_metadata(const std::string& pre, const std::vector<std::string>& tokens,
                            const std::vector<int32_t>& types, const std::vector<std::string>& merges) {
  gguf::Metadata md;
  md.set("tokenizer.ggml.model", Value::string("gpt2"));
  md.set("tokenizer.ggml.pre", Value::string(pre));
  md.set("tokenizer.ggml.tokens", Value::string_array(tokens));
  std::vector<Value> type_values;
  for (int32_t t : types) type_values.push_back(Value::i32(t));
  md.set("tokenizer.ggml.token_type", Value::array(gguf::ValueType::I32, std::move(type_values)));
  md.set("tokenizer.ggml.merges", Value::string_array(merges));
  return md;
}

// Adds a Hugging Face added token (special -> control, else user-defined, as convert_hf_to_gguf.py types them).
void add_token(std::vector<std::string>& tokens, std::vector<int32_t>& types, size_t id, std::string text,
               bool special) {
  if (tokens.size() <= id) {
    tokens.resize(id + 1);
    types.resize(id + 1, 1);
  }
  tokens[id] = std::move(text);
  types[id] = special ? 3 : 4;
}

TEST(Tokenizer, Llama3FromTokenizerJson) {
  QKV_REQUIRE_SHARED("models/tokenizers/llama3");
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  std::ifstream f(test::shared_dir() / "models/tokenizers/llama3/tokenizer.json");
  const auto j = nlohmann::json::parse(f);
  std::vector<std::string> tokens(j["model"]["vocab"].size());
  std::vector<int32_t> types(tokens.size(), 1);
  for (const auto& [text, id] : j["model"]["vocab"].items()) tokens.at(id.get<size_t>()) = text;
  for (const auto& t : j["added_tokens"]) add_token(tokens, types, t["id"], t["content"], t["special"]);
  const Tokenizer t = Tokenizer::from_gguf(bpe_metadata("llama-bpe", tokens, types, j["model"]["merges"]));
  check_cases(t, read_cases(vocab_dir() / "ggml-vocab-llama-bpe.gguf"), "llama-bpe (tokenizer.json)", true);

  EXPECT_TRUE(t.add_bos());  // llama.cpp's default for llama-bpe
  EXPECT_EQ(t.encode("<|start_header_id|>user", false, true), (std::vector<int32_t>{128006, 882}));
  EXPECT_EQ(t.eot(), 128009);
  EXPECT_TRUE(t.is_eog(128009));
}

TEST(Tokenizer, Qwen2FromVocabAndMerges) {
  QKV_REQUIRE_SHARED("models/tokenizers/qwen2");
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  const fs::path dir = test::shared_dir() / "models/tokenizers/qwen2";
  std::ifstream vf(dir / "vocab.json"), cf(dir / "tokenizer_config.json");
  const auto vocab = nlohmann::json::parse(vf), config = nlohmann::json::parse(cf);
  std::vector<std::string> tokens(vocab.size());
  std::vector<int32_t> types(tokens.size(), 1);
  for (const auto& [text, id] : vocab.items()) tokens.at(id.get<size_t>()) = text;
  for (const auto& [id, t] : config["added_tokens_decoder"].items())
    add_token(tokens, types, std::stoul(id), t["content"], t["special"]);
  std::vector<std::string> merges;
  std::ifstream mf(dir / "merges.txt");
  for (std::string line; std::getline(mf, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // the file has CRLF line ends
    if (!line.empty() && line.rfind("#version", 0) != 0) merges.push_back(line);
  }
  const Tokenizer t = Tokenizer::from_gguf(bpe_metadata("qwen2", tokens, types, merges));
  check_cases(t, read_cases(vocab_dir() / "ggml-vocab-qwen2.gguf"), "qwen2 (vocab.json + merges.txt)", false);

  EXPECT_EQ(t.encode("<|im_start|>user\nHi<|im_end|>", false, true),
            (std::vector<int32_t>{151644, 872, 198, 13048, 151645}));
  EXPECT_EQ(t.eot(), t.find("<|im_end|>"));
}

// --- Behaviour on the shared vocabularies.

TEST(Tokenizer, SpecialTokensAndBos) {
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  const Tokenizer spm = load_vocab("ggml-vocab-llama-spm");
  EXPECT_EQ(spm.kind(), VocabKind::SentencePiece);
  EXPECT_EQ(spm.bos(), 1);
  EXPECT_EQ(spm.eos(), 2);
  EXPECT_EQ(spm.encode("Hello world"), (std::vector<int32_t>{1, 15043, 3186}));
  EXPECT_EQ(spm.encode("Hello world", false), (std::vector<int32_t>{15043, 3186}));
  // Control texts are plain text unless parse_special; a special token is followed by a fresh space prefix.
  EXPECT_EQ(spm.encode("</s>Hi", false, true), (std::vector<int32_t>{2, 6324}));
  EXPECT_NE(spm.encode("</s>Hi", false, false).front(), 2);
  EXPECT_TRUE(spm.is_eog(2));
  EXPECT_FALSE(spm.is_eog(1));

  const Tokenizer gpt2 = load_vocab("ggml-vocab-gpt-2");
  EXPECT_EQ(gpt2.kind(), VocabKind::ByteLevelBpe);
  EXPECT_EQ(gpt2.pre(), "gpt-2");
  EXPECT_FALSE(gpt2.add_bos());
  EXPECT_EQ(gpt2.encode("a<|endoftext|>b", true, true), (std::vector<int32_t>{64, 50256, 65}));
  EXPECT_GT(gpt2.encode("<|endoftext|>", true, false).size(), 1u);  // plain text: "<", "|", "end", ...
  EXPECT_EQ(gpt2.decode(std::vector<int32_t>{64, 50256, 65}), "a<|endoftext|>b");
  EXPECT_EQ(gpt2.decode(std::vector<int32_t>{64, 50256, 65}, false), "ab");

  const Tokenizer coder = load_vocab("ggml-vocab-deepseek-coder");
  EXPECT_TRUE(coder.add_bos());  // tokenizer.ggml.add_bos_token
  EXPECT_EQ(coder.encode("x").front(), 32013);
}

TEST(Tokenizer, Phi3ChatTokensSwallowTheNewlineAfterThem) {
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  const Tokenizer t = load_vocab("ggml-vocab-phi-3");
  const int32_t user = t.find("<|user|>"), end = t.find("<|end|>");
  ASSERT_NE(user, kNoToken);
  const std::vector<int32_t> ids = t.encode("<|user|>\nHi<|end|>\n", true, true);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, user, 6324, end}));  // llama.cpp: rstrip for Phi-3's specials
}

TEST(Tokenizer, PiecesAreRawBytesForStreaming) {
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  const std::string llama = "\xF0\x9F\xA6\x99";  // U+1F999, not a token: four byte tokens
  for (const char* name : {"ggml-vocab-llama-spm", "ggml-vocab-gpt-2"}) {
    const Tokenizer t = load_vocab(name);
    const std::vector<int32_t> ids = t.encode(llama, false);
    std::string joined;
    for (int32_t id : ids) {
      const std::string piece = t.token_to_piece(id);
      EXPECT_LT(piece.size(), 4u) << name << ": expected partial UTF-8 pieces";
      joined += piece;
    }
    EXPECT_EQ(joined, (t.kind() == VocabKind::SentencePiece ? " " : "") + llama) << name;
    EXPECT_EQ(t.decode(ids), llama) << name;
  }
  const Tokenizer spm = load_vocab("ggml-vocab-llama-spm");
  EXPECT_EQ(spm.token_to_piece(spm.find("<0x0A>")), "\n");
  EXPECT_EQ(spm.token_to_piece(spm.find("\xE2\x96\x81world")), " world");
  EXPECT_EQ(spm.type(spm.find("<0x0A>")), TokenType::Byte);
}

TEST(Tokenizer, InvalidUtf8BecomesReplacementCharacter) {
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  const Tokenizer t = load_vocab("ggml-vocab-gpt-2");
  EXPECT_EQ(t.decode(t.encode("a\xFF"
                              "b",
                              false)),
            "a\xEF\xBF\xBD"
            "b");  // as llama.cpp
}

TEST(Tokenizer, ConcurrentEncodesAgree) {
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  const Tokenizer t = load_vocab("ggml-vocab-starcoder");
  const auto cases = read_cases(vocab_dir() / "ggml-vocab-starcoder.gguf");
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (int rep = 0; rep < 20; ++rep)
        for (const Case& c : cases) failures[k] += t.encode(c.text, false) != c.ids;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

TEST(Tokenizer, OutOfRangeIdIsAUsageError) {
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  const Tokenizer t = load_vocab("ggml-vocab-gpt-2");
  try {
    t.decode(std::vector<int32_t>{50257});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
  }
  EXPECT_THROW(t.token_to_piece(-1), Error);
}

// --- Hand-built vocabularies: the rules, independent of any model file.

gguf::Metadata spm_metadata(const std::vector<std::pair<std::string, float>>& pieces) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<Value> scores(3, Value::f32(0)), types = {Value::i32(2), Value::i32(3), Value::i32(3)};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    tokens.push_back(name);
    scores.push_back(Value::f32(0));
    types.push_back(Value::i32(6));
  }
  for (const auto& [text, score] : pieces) {
    tokens.push_back(text);
    scores.push_back(Value::f32(score));
    types.push_back(Value::i32(1));
  }
  gguf::Metadata md;
  md.set("tokenizer.ggml.model", Value::string("llama"));
  md.set("tokenizer.ggml.tokens", Value::string_array(tokens));
  md.set("tokenizer.ggml.scores", Value::array(gguf::ValueType::F32, std::move(scores)));
  md.set("tokenizer.ggml.token_type", Value::array(gguf::ValueType::I32, std::move(types)));
  return md;
}

TEST(Tokenizer, SpmMergesHighestScoreFirstLeftmostOnTies) {
  const std::string s = "\xE2\x96\x81";  // U+2581
  const Tokenizer t = Tokenizer::from_gguf(spm_metadata(
      {{s, -10}, {"a", -10}, {"b", -10}, {"c", -10}, {"ab", -1}, {"bc", -0.5f}, {s + "a", -2}, {"aa", -1}}));
  const auto id = [&](const std::string& text) { return t.find(text); };
  // "▁abc": "bc" (-0.5) beats "ab" (-1); then "▁a" (-2); "abc" is no token.
  EXPECT_EQ(t.encode("abc", false), (std::vector<int32_t>{id(s + "a"), id("bc")}));
  // "▁aaa": the two "aa" pairs tie; the leftmost merges, leaving ▁, aa, a.
  EXPECT_EQ(t.encode("aaa", false), (std::vector<int32_t>{id(s), id("aa"), id("a")}));
  // "é" has no token: its two UTF-8 bytes fall back to byte tokens.
  EXPECT_EQ(t.encode("\xC3\xA9", false), (std::vector<int32_t>{id(s), id("<0xC3>"), id("<0xA9>")}));
  EXPECT_EQ(t.decode(t.encode("ab c\xC3\xA9", false)), "ab c\xC3\xA9");
  EXPECT_TRUE(t.add_bos());  // llama.cpp's default for SPM
  EXPECT_EQ(t.encode("a").front(), 1);

  // A token with a space mark inside joins words: "a▁" (-1) beats "▁a" (-2), then "a▁b" forms.
  const Tokenizer joined = Tokenizer::from_gguf(
      spm_metadata({{s, -10}, {"a", -10}, {"b", -10}, {s + "a", -2}, {"a" + s, -1}, {"a" + s + "b", 0}}));
  EXPECT_EQ(joined.encode("a b", false), (std::vector<int32_t>{joined.find(s), joined.find("a" + s + "b")}));
}

TEST(Tokenizer, BpeMergesLowestRankFirst) {
  // Byte-level text: "Ġ" is the space byte.
  const Tokenizer t =
      Tokenizer::from_gguf(bpe_metadata("gpt-2",
                                        {"a", "b", "c", "\xC4\xA0", "ab", "bc",
                                         "\xC4\xA0"
                                         "a",
                                         "abc"},
                                        std::vector<int32_t>(8, 1), {"b c", "a b", "\xC4\xA0 a", "a bc"}));
  // " abc" -> Ġ a b c: "b c" (rank 0) first, then "Ġ a" (2) before "a bc" (3) could apply.
  EXPECT_EQ(t.encode(" abc", false), (std::vector<int32_t>{6, 5}));
  EXPECT_EQ(t.encode("abc", false), (std::vector<int32_t>{7}));
  EXPECT_EQ(t.decode(t.encode(" abc", false)), " abc");
}

TEST(Tokenizer, RefusesWhatItCannotTokenize) {
  auto kind_of = [](const gguf::Metadata& md) {
    try {
      Tokenizer::from_gguf(md);
    } catch (const Error& e) {
      return std::make_pair(e.kind(), std::string(e.what()));
    }
    return std::make_pair(ErrorKind::IO, std::string("no error"));
  };
  gguf::Metadata md = bpe_metadata("gpt-2", {"a"}, {1}, {});
  md.set("tokenizer.ggml.model", Value::string("t5"));
  auto [kind, what] = kind_of(md);
  EXPECT_EQ(kind, ErrorKind::Unsupported);
  EXPECT_NE(what.find("'t5'"), std::string::npos) << what;

  std::tie(kind, what) = kind_of(bpe_metadata("made-up-pre", {"a"}, {1}, {}));
  EXPECT_EQ(kind, ErrorKind::Unsupported);
  EXPECT_NE(what.find("'made-up-pre'"), std::string::npos) << what;

  md = bpe_metadata("gpt-2", {"a", "a"}, {1, 1}, {});
  EXPECT_EQ(kind_of(md).first, ErrorKind::Format);  // duplicate token
  md.erase("tokenizer.ggml.tokens");
  EXPECT_EQ(kind_of(md).first, ErrorKind::Format);  // no vocabulary
  md = bpe_metadata("gpt-2", {"a", "b"}, {1}, {});
  EXPECT_EQ(kind_of(md).first, ErrorKind::Format);  // token_type shorter than tokens
}

}  // namespace
}  // namespace qkv
