// Tokenizer metadata from Hugging Face files: key by key against the vocab
// GGUFs llama.cpp's convert_hf_to_gguf.py made from the same tokenizers, and
// through our tokenizer runtime against llama.cpp's tokenizer test vectors
// (the ids Hugging Face gives each test string).
//
// Differences from llama.cpp's files that remain, and why:
//  * llama-spm: we write tokenizer.ggml.add_sep_token = false. Today's
//    gguf-py SpecialVocab reads it from tokenizer.json's pair template
//    ("<s> A <s> B"); the reference file (2024-04) was made before it did.
//  * gpt-2: tokenizers/gpt2 has no config.json, where llama.cpp found the
//    BOS/EOS ids (50256); hf-gpt2-tiny-random has it and matches them. That
//    folder's tokenizer_config.json (saved by transformers 4.52) adds
//    add_bos_token = false and unk_token, which llama.cpp writes too.
//  * phi-3: the reference was made from Phi-3's tokenizer.model, which the
//    shared folder lacks; from tokenizer.json llama.cpp's Llama-HF path gives
//    every token the score -1000 and types tokens by transformers' special
//    tokens, not by added_tokens_decoder. The shared tokenizer_config.json is
//    also a later revision (add_bos_token false, another chat template), and
//    the reference predates llama.cpp typing padding tokens UNUSED. The token
//    texts and special ids agree.
//  * Deliberate: the Llama-HF path pads to config.json's vocab_size as the
//    SentencePiece path does (llama.cpp does not, and its file would then not
//    load); tokenizer.ggml.pre of byte-level BPE is named from tokenizer.json's
//    pre-tokenizer description, not from a hash of Hugging Face's output.
#include "convert/tokenizer_meta.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/gguf.h"
#include "qkv/tokenizer.h"
#include "test_support.h"

namespace qkv {
namespace {

namespace fs = std::filesystem;
using gguf::Value;
using gguf::ValueType;

fs::path models() { return test::shared_dir() / "models"; }

gguf::Metadata convert_dir(const fs::path& dir, uint32_t n_vocab) {
  gguf::Metadata md;
  convert::add_tokenizer_metadata(dir, n_vocab, md);
  return md;
}

gguf::Metadata reference(const std::string& vocab) {
  return gguf::File::open((models() / "gguf-vocab" / ("ggml-vocab-" + vocab + ".gguf")).string()).metadata();
}

// Where two values differ (type, element type, length, first differing
// element), or empty when they are equal.
std::string difference(const Value& ours, const Value& theirs) {
  const auto type = [](const Value& v) {
    std::string s(gguf::value_type_name(v.type));
    if (v.type == ValueType::ARRAY) s += " of " + std::string(gguf::value_type_name(v.elem_type));
    return s;
  };
  if (ours.type != theirs.type || (ours.type == ValueType::ARRAY && ours.elem_type != theirs.elem_type))
    return "type " + type(ours) + " vs " + type(theirs);
  if (ours.type == ValueType::ARRAY) {
    if (ours.items.size() != theirs.items.size())
      return std::to_string(ours.items.size()) + " items vs " + std::to_string(theirs.items.size());
    for (size_t i = 0; i < ours.items.size(); ++i)
      if (std::string d = difference(ours.items[i], theirs.items[i]); !d.empty())
        return "item " + std::to_string(i) + ": " + d;
    return {};
  }
  const bool same = ours.type == ValueType::STRING ? ours.str == theirs.str : ours.bits == theirs.bits;
  return same ? std::string() : ours.to_string() + " vs " + theirs.to_string();
}

std::vector<std::string> tokenizer_keys(const gguf::Metadata& a, const gguf::Metadata& b) {
  std::vector<std::string> keys;
  for (const auto* md : {&a, &b})
    for (const auto& [k, v] : md->entries())
      if (k.starts_with("tokenizer.") && std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  return keys;
}

// Every tokenizer.* key is in both and equal, except those in `known`
// (key -> why llama.cpp's file differs), which must differ.
void expect_same_tokenizer(const gguf::Metadata& ours, const gguf::Metadata& theirs,
                           const std::map<std::string, std::string>& known, const std::string& name) {
  size_t equal = 0;
  for (const std::string& key : tokenizer_keys(ours, theirs)) {
    const Value* a = ours.find(key);
    const Value* b = theirs.find(key);
    const std::string diff = !a ? "we do not write it" : !b ? "llama.cpp's file lacks it" : difference(*a, *b);
    if (const auto it = known.find(key); it != known.end()) {
      EXPECT_FALSE(diff.empty()) << name << ": " << key << " is listed as differing but is equal";
      std::cout << "[  known   ] " << name << ": " << key << " (" << diff << "): " << it->second << "\n";
    } else if (diff.empty()) {
      ++equal;
    } else {
      ADD_FAILURE() << name << ": " << key << ": " << diff;
    }
  }
  std::cout << "[  keys    ] " << name << ": " << equal << " tokenizer keys equal to llama.cpp's\n";
}

TEST(TokenizerMeta, Llama2SentencePieceEqualsLlamaCpp) {
  QKV_REQUIRE_SHARED("models/tokenizers/llama2");
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  expect_same_tokenizer(convert_dir(models() / "tokenizers/llama2", 32000), reference("llama-spm"),
                        {{"tokenizer.ggml.add_sep_token",
                          "gguf-py now reads it from tokenizer.json's pair template; the reference predates that"}},
                        "llama-spm");
}

TEST(TokenizerMeta, Gpt2VocabAndMergesEqualsLlamaCpp) {
  QKV_REQUIRE_SHARED("models/tokenizers/gpt2");
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  const std::string no_config = "tokenizers/gpt2 has no config.json, where llama.cpp read this id";
  expect_same_tokenizer(convert_dir(models() / "tokenizers/gpt2", 50257), reference("gpt-2"),
                        {{"tokenizer.ggml.bos_token_id", no_config}, {"tokenizer.ggml.eos_token_id", no_config}},
                        "gpt-2 (vocab.json + merges.txt)");
}

TEST(TokenizerMeta, Gpt2TokenizerJsonEqualsLlamaCpp) {
  QKV_REQUIRE_SHARED("models/hf-gpt2-tiny-random");
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  const std::string newer = "this folder's tokenizer_config.json (transformers 4.52) names it; GPT-2's own did not";
  expect_same_tokenizer(convert_dir(models() / "hf-gpt2-tiny-random", 50257), reference("gpt-2"),
                        {{"tokenizer.ggml.add_bos_token", newer}, {"tokenizer.ggml.unknown_token_id", newer}},
                        "gpt-2 (tokenizer.json, merges as pairs)");
}

// Phi-3's tokenizer.json alone takes llama.cpp's Llama-HF path (its Phi-3
// converter itself insists on tokenizer.model). The texts and special ids
// agree with the reference, made from tokenizer.model; scores and some types cannot.
TEST(TokenizerMeta, Phi3TokenizerJsonAgreesWhereItCan) {
  QKV_REQUIRE_SHARED("models/tokenizers/phi3");
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  const gguf::Metadata ours = convert_dir(models() / "tokenizers/phi3", 32064), theirs = reference("phi-3");
  const std::string llama_hf = "from tokenizer.json, llama.cpp's Llama-HF path";
  expect_same_tokenizer(ours, theirs,
                        {{"tokenizer.ggml.scores", llama_hf + " scores every token -1000"},
                         {"tokenizer.ggml.token_type", llama_hf + " types by special tokens; see below"},
                         {"tokenizer.ggml.add_bos_token", "the shared tokenizer_config.json is a later revision"},
                         {"tokenizer.chat_template", "the shared tokenizer_config.json is a later revision"}},
                        "phi-3 (tokenizer.json)");

  // The types that differ, and only those: </s> (not a special token of this
  // tokenizer: NORMAL, where added_tokens_decoder made it USER_DEFINED), the
  // chat tokens other than <|endoftext|> (added, not in the special-token
  // map: USER_DEFINED, not CONTROL), and the padding (UNUSED where the
  // reference's older llama.cpp wrote UNKNOWN).
  const auto& a = ours.find("tokenizer.ggml.token_type")->items;
  const auto& b = theirs.find("tokenizer.ggml.token_type")->items;
  ASSERT_EQ(a.size(), b.size());
  const auto expect_types = [&](size_t id, TokenType mine, TokenType llama_cpp) {
    EXPECT_EQ(a[id].as_i64(), static_cast<int64_t>(mine)) << "id " << id;
    EXPECT_EQ(b[id].as_i64(), static_cast<int64_t>(llama_cpp)) << "id " << id;
  };
  for (size_t id = 0; id < a.size(); ++id) {
    if (id == 2)
      expect_types(id, TokenType::Normal, TokenType::UserDefined);
    else if (id >= 32001 && id <= 32010)
      expect_types(id, TokenType::UserDefined, TokenType::Control);
    else if (id >= 32011)
      expect_types(id, TokenType::Unused, TokenType::Unknown);
    else
      EXPECT_EQ(a[id].as_i64(), b[id].as_i64()) << "id " << id;
  }
}

// --- Round trips: our metadata, loaded by the runtime, against llama.cpp's test vectors.

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// test-tokenizer-0's files: .inp strings separated by "\n__ggml_vocab_test__\n",
// .out one line of ids per string.
std::vector<Case> read_cases(const std::string& vocab) {
  const fs::path base = models() / "gguf-vocab" / ("ggml-vocab-" + vocab + ".gguf");
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
  for (std::string line; i < cases.size() && std::getline(out, line); ++i) {
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) cases[i].ids.push_back(id);
  }
  EXPECT_EQ(i, cases.size()) << vocab << ": .inp and .out hold different numbers of tests";
  return cases;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += std::to_string(id) + " ";
  return s;
}

// Tokenizes every test string (no BOS/EOS, no special-token parsing, as test-tokenizer-0 does).
void expect_vectors(const Tokenizer& t, const std::string& vocab, const std::string& name) {
  size_t pass = 0;
  const std::vector<Case> cases = read_cases(vocab);
  for (const Case& c : cases) {
    const std::vector<int32_t> got = t.encode(c.text, false, false);
    if (got == c.ids)
      ++pass;
    else
      ADD_FAILURE() << name << ": '" << c.text << "'\n  expected " << show(c.ids) << "\n  got      " << show(got);
  }
  std::cout << "[  vectors ] " << name << ": " << pass << "/" << cases.size() << " strings as llama.cpp\n";
}

struct RoundTrip {
  const char* dir;    // under models/tokenizers
  uint32_t n_vocab;   // the model's config.json vocab_size
  const char* vocab;  // the test vectors' name
  const char* pre;    // the pre-tokenizer we must name
};

void PrintTo(const RoundTrip& r, std::ostream* os) { *os << r.dir; }

class TokenizerMetaRoundTrip : public testing::TestWithParam<RoundTrip> {};

TEST_P(TokenizerMetaRoundTrip, RuntimeMatchesLlamaCppVectors) {
  const RoundTrip& r = GetParam();
  QKV_REQUIRE_SHARED(std::string("models/tokenizers/") + r.dir);
  QKV_REQUIRE_SHARED("models/gguf-vocab");
  const gguf::Metadata md = convert_dir(models() / "tokenizers" / r.dir, r.n_vocab);
  EXPECT_EQ(md.get_string("tokenizer.ggml.pre"), r.pre);
  const Tokenizer t = Tokenizer::from_gguf(md);
  EXPECT_EQ(t.n_vocab(), static_cast<int32_t>(r.n_vocab));
  expect_vectors(t, r.vocab, r.dir);
}

INSTANTIATE_TEST_SUITE_P(
    , TokenizerMetaRoundTrip,
    testing::Values(
        // tokenizer.json; this folder's tokenizer.model is tiktoken's rank file, which must be passed over.
        RoundTrip{"llama3", 128256, "llama-bpe", "llama-bpe"},
        // vocab.json + merges.txt (CRLF line ends), pre-tokenizer from tokenizer_class.
        RoundTrip{"qwen2", 151936, "qwen2", "qwen2"},
        // Qwen3's tokenizer.json (merges as pairs) has Qwen2's BPE, so Qwen2's vectors apply.
        RoundTrip{"qwen3", 151936, "qwen2", "qwen2"}, RoundTrip{"llama2", 32000, "llama-spm", "default"}),
    [](const testing::TestParamInfo<RoundTrip>& info) { return std::string(info.param.dir); });

// --- Model folders: the metadata loads, and tokenizes as Hugging Face does.

struct ModelFolder {
  const char* dir;                        // under models/
  std::vector<int32_t> once_upon_a_time;  // with BOS where the vocabulary adds one; empty: not checked
};

void PrintTo(const ModelFolder& f, std::ostream* os) { *os << f.dir; }

class TokenizerMetaFolder : public testing::TestWithParam<ModelFolder> {};

TEST_P(TokenizerMetaFolder, LoadsAndTokenizes) {
  const ModelFolder& f = GetParam();
  QKV_REQUIRE_SHARED(std::string("models/") + f.dir);
  const auto config = convert::tokmeta::read_json(models() / f.dir / "config.json");
  const Tokenizer t = Tokenizer::from_gguf(convert_dir(models() / f.dir, config["vocab_size"].get<uint32_t>()));
  EXPECT_EQ(t.n_vocab(), config["vocab_size"].get<int32_t>());
  const std::string text = "Once upon a time, there was a little girl named Lily.";
  EXPECT_EQ(t.decode(t.encode(text, false)), text);
  if (!f.once_upon_a_time.empty()) {
    EXPECT_EQ(show(t.encode("Once upon a time")), show(f.once_upon_a_time));
  }
}

INSTANTIATE_TEST_SUITE_P(, TokenizerMetaFolder,
                         testing::Values(
                             // Llama-HF path. TinyStories-656K's BPE has multi-word tokens: "▁" "On" "ce▁"
                             // "upon▁a▁tim" "e", which is also what Hugging Face's BPE gives (merges by rank).
                             ModelFolder{"hf-llama-tinystories-656k", {1, 80, 147, 201, 282, 57}},
                             // SentencePiece path (Llama 2's tokenizer.model).
                             ModelFolder{"hf-llama-tiny-random-4h", {1, 9038, 2501, 263, 931}},
                             // Byte-level BPE from tokenizer.json; GPT-2 adds no BOS.
                             ModelFolder{"hf-gpt2-tiny-random", {7454, 2402, 257, 640}},
                             // Byte-level BPE with BLOOM's split regex.
                             ModelFolder{"hf-bloom-tiny-random", {}}),
                         [](const testing::TestParamInfo<ModelFolder>& info) {
                           std::string n = info.param.dir;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(TokenizerMeta, TinyStoriesSpecialTokens) {
  QKV_REQUIRE_SHARED("models/hf-llama-tinystories-656k");
  const gguf::Metadata md = convert_dir(models() / "hf-llama-tinystories-656k", 2048);
  EXPECT_EQ(md.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(md.get_u64("tokenizer.ggml.bos_token_id", 99), 1u);  // <|start_story|>
  EXPECT_EQ(md.get_u64("tokenizer.ggml.eos_token_id", 99), 2u);  // <|end_story|>
  EXPECT_EQ(md.get_u64("tokenizer.ggml.unknown_token_id", 99), 0u);
  EXPECT_EQ(md.get_u64("tokenizer.ggml.padding_token_id", 99), 0u);
  EXPECT_TRUE(md.find("tokenizer.ggml.add_bos_token")->as_bool());
  EXPECT_FALSE(md.find("tokenizer.ggml.add_eos_token")->as_bool());
  // Its special tokens are CONTROL (<unk> too: the Llama-HF path types by
  // transformers' special tokens); it has no <0xAB> byte tokens.
  const auto& types = md.find("tokenizer.ggml.token_type")->items;
  for (int id : {0, 1, 2}) EXPECT_EQ(types[id].as_i64(), static_cast<int64_t>(TokenType::Control)) << id;
  EXPECT_EQ(types[4].as_i64(), static_cast<int64_t>(TokenType::Normal));  // "!"
}

// --- Hand-made folders: SpecialVocab's rules, padding, merges as pairs, errors.

void write_json(const fs::path& p, const nlohmann::json& j) { std::ofstream(p) << j.dump(); }

// A template ending in another token than the configured EOS makes that token
// EOS and keeps the configured one as EOT; a list of chat templates gives the
// "default" one and named ones; pair merges keep their spaces as U+0120.
TEST(TokenizerMeta, SpecialVocabRules) {
  test::TempDir dir;
  using nlohmann::json;
  const json special = {{"special", true}};
  write_json(dir / "tokenizer.json",
             {{"model",
               {{"type", "BPE"},
                {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}, {"<s>", 3}, {"</s>", 4}}},
                {"merges", json::array({json::array({"a", "b"}), json::array({"x y", "z"})})}}},
              {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
              {"added_tokens", json::array({{{"id", 3}, {"content", "<s>"}, {"special", true}},
                                            {{"id", 4}, {"content", "</s>"}, {"special", true}},
                                            {{"id", 5}, {"content", "<|eot|>"}, {"special", true}}})},
              {"post_processor",
               {{"type", "TemplateProcessing"},
                {"single", json::array({{{"SpecialToken", {{"id", "<s>"}}}},
                                        {{"Sequence", {{"id", "A"}}}},
                                        {{"SpecialToken", {{"id", "</s>"}}}}})}}}});
  write_json(dir / "tokenizer_config.json",
             {{"bos_token", "<s>"},
              {"eos_token", "<|eot|>"},
              {"chat_template",
               json::array({{{"name", "default"}, {"template", "D"}}, {{"name", "tool use"}, {"template", "T"}}})}});
  write_json(dir / "config.json", {{"pad_token_id", 0}});
  const gguf::Metadata md = convert_dir(dir.path(), 8);

  const auto& tokens = md.find("tokenizer.ggml.tokens")->items;
  ASSERT_EQ(tokens.size(), 8u);
  EXPECT_EQ(tokens[5].str, "<|eot|>");
  EXPECT_EQ(tokens[7].str, "[PAD7]");
  EXPECT_EQ(md.find("tokenizer.ggml.token_type")->items[7].as_i64(), static_cast<int64_t>(TokenType::Unused));
  EXPECT_EQ(md.find("tokenizer.ggml.merges")->items[1].str, "x\xC4\xA0y z");
  EXPECT_EQ(md.get_u64("tokenizer.ggml.bos_token_id", 99), 3u);
  EXPECT_EQ(md.get_u64("tokenizer.ggml.eos_token_id", 99), 4u);
  EXPECT_EQ(md.get_u64("tokenizer.ggml.eot_token_id", 99), 5u);
  EXPECT_EQ(md.get_u64("tokenizer.ggml.padding_token_id", 99), 0u);  // from config.json
  EXPECT_TRUE(md.find("tokenizer.ggml.add_bos_token")->as_bool());
  EXPECT_TRUE(md.find("tokenizer.ggml.add_eos_token")->as_bool());
  EXPECT_EQ(md.get_string("tokenizer.chat_template"), "D");
  EXPECT_EQ(md.get_string("tokenizer.chat_template.tool_use"), "T");
  EXPECT_EQ(md.find("tokenizer.chat_templates")->items.at(0).str, "tool_use");
}

TEST(TokenizerMeta, FolderWithoutTokenizerIsUnsupported) {
  test::TempDir dir;
  try {
    convert_dir(dir.path(), 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
    for (const char* name : {"tokenizer.model", "tokenizer.json", "vocab.json", "merges.txt"})
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
}

TEST(TokenizerMeta, TiktokenModelAloneIsUnsupported) {
  test::TempDir dir;
  test::write_bytes(dir / "tokenizer.model", {'I', 'Q', '=', '=', ' ', '0', '\n'});
  try {
    convert_dir(dir.path(), 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported) << e.what();
    EXPECT_NE(e.file().find("tokenizer.model"), std::string::npos) << e.what();
  }
}

// Damaged SentencePiece models: each gives a Format error naming the file.
TEST(TokenizerMeta, MalformedSentencePieceIsAFormatError) {
  const std::vector<std::vector<uint8_t>> damaged = {
      {0x0A, 0x05, 0x0A, 0x01, 'a'},                                                   // a piece longer than the file
      {0x0A, 0x03, 0x0A, 0x05, 'a'},                                                   // a string longer than its piece
      {0x0A, 0x02, 0x15, 0x00},                                                        // a score cut short
      {0x0A, 0x03, 0x0A, 0x01, 0xFF},                                                  // a piece that is not UTF-8
      {0x0A, 0x02, 0x18, 0x09},                                                        // an undefined piece type
      {0x0A, 0x0B, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},  // a varint past 10 bytes
      {0x0A, 0x03, 0x0A, 0x01, 'a', 0x0A, 0x03, 0x0A, 0x01, 'a'},                      // a piece defined twice
      {0x0A, 0x00, 0x13},                                                              // a protobuf group
      {0x0A, 0x00},  // an empty piece, then nothing: valid
  };
  for (size_t i = 0; i < damaged.size(); ++i) {
    test::TempDir dir;
    test::write_bytes(dir / "tokenizer.model", damaged[i]);
    try {
      const gguf::Metadata md = convert_dir(dir.path(), 0);
      EXPECT_EQ(i, damaged.size() - 1) << "case " << i << " was accepted";
      EXPECT_EQ(md.find("tokenizer.ggml.tokens")->items.size(), 1u);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Format) << "case " << i << ": " << e.what();
      EXPECT_NE(e.file().find("tokenizer.model"), std::string::npos) << "case " << i << ": " << e.what();
    }
  }
}

TEST(TokenizerMeta, TokenIdsOutsideVocabSizeAreAFormatError) {
  test::TempDir dir;
  write_json(dir / "vocab.json", {{"a", 0}, {"<|endoftext|>", 1}, {"b", 5}});
  std::ofstream(dir / "merges.txt") << "#version: 0.2\na b\n";
  EXPECT_THROW(convert_dir(dir.path(), 4), Error);
  EXPECT_EQ(convert_dir(dir.path(), 6).find("tokenizer.ggml.tokens")->items.size(), 6u);
}

}  // namespace
}  // namespace qkv
