// The byte-level BPE trainer: merges worked out by hand, round trips through
// the runtime tokenizer, the runtime's ids against a plain reference encoder
// that applies the learned merges by rank, and training a model on the result.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>

#include "model/tokenizer_impl.h"
#include "qkv/bpe_trainer.h"
#include "qkv/tokenizer.h"
#include "test_support.h"
#include "train/fixtures.h"

namespace qkv::bpe {
namespace {

std::vector<std::string> merge_texts(const Vocabulary& v) {
  std::vector<std::string> out;
  for (const Merge& m : v.merges) out.push_back(v.tokens[size_t(m.left)] + " " + v.tokens[size_t(m.right)]);
  return out;
}

// The bytes the tokens stand for, joined. (decode() also applies GPT-2's
// clean_up_tokenization_spaces, " ," -> ",", as llama.cpp does for "gpt-2".)
std::string pieces(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += tok.token_to_piece(id);
  return s;
}

Tokenizer load(const Vocabulary& v, const test::TempDir& dir) {
  const std::string path = (dir / "tok.gguf").string();
  write_gguf(path, v);
  return Tokenizer::from_gguf(gguf::File::open(path).metadata());
}

// Words "ab" x1, " ab" x2, " abc" x2, " bcd" x1 (the GPT-2 regex keeps a
// leading space). Counts: a+b 5 -> " "+ab 4 -> " ab"+c 2; then all pairs seen
// once: " "+b < b+c < c+d by bytes, so " "+b, then " b"+c, then " bc"+d.
TEST(BpeTrainer, MergesAreTheHandComputedOnes) {
  Trainer t;
  t.add_text("ab ab ab abc abc bcd");
  Options o;
  o.vocab_size = 256 + 6 + 1;
  o.min_frequency = 1;
  const Vocabulary v = t.train(o);
  EXPECT_EQ(merge_texts(v), (std::vector<std::string>{"a b", "Ġ ab", "Ġab c", "Ġ b", "Ġb c", "Ġbc d"}));
  ASSERT_EQ(v.tokens.size(), 263u);
  EXPECT_EQ(v.tokens[256], "ab");
  EXPECT_EQ(v.tokens[261], "Ġbcd");
  EXPECT_EQ(v.tokens[262], "<|endoftext|>");

  o.min_frequency = 2;  // the pairs seen once are left alone
  EXPECT_EQ(merge_texts(t.train(o)), (std::vector<std::string>{"a b", "Ġ ab", "Ġab c"}));
  o.vocab_size = 256 + 1 + 1;  // stops at the size asked
  EXPECT_EQ(merge_texts(t.train(o)), (std::vector<std::string>{"a b"}));
}

std::string random_utf8(std::mt19937& rng, size_t chars) {
  std::string s;
  std::uniform_int_distribution<int> kind(0, 9);
  for (size_t i = 0; i < chars; ++i) {
    uint32_t cp;
    switch (kind(rng)) {
      case 0: cp = std::uniform_int_distribution<uint32_t>(0x80, 0x7FF)(rng); break;
      case 1: cp = std::uniform_int_distribution<uint32_t>(0x800, 0xD7FF)(rng); break;
      case 2: cp = std::uniform_int_distribution<uint32_t>(0x10000, 0x10FFFF)(rng); break;
      case 3: cp = " \n\t'"[rng() % 4]; break;
      default: cp = std::uniform_int_distribution<uint32_t>(0x20, 0x7E)(rng);
    }
    if (cp < 0x80) {
      s += char(cp);
    } else if (cp < 0x800) {
      s += char(0xC0 | cp >> 6);
      s += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += char(0xE0 | cp >> 12);
      s += char(0x80 | (cp >> 6 & 0x3F));
      s += char(0x80 | (cp & 0x3F));
    } else {
      s += char(0xF0 | cp >> 18);
      s += char(0x80 | (cp >> 12 & 0x3F));
      s += char(0x80 | (cp >> 6 & 0x3F));
      s += char(0x80 | (cp & 0x3F));
    }
  }
  return s;
}

Vocabulary english_vocab(int size) {
  test::TempDir dir;
  test::write_corpus(dir / "c.txt", 60000);
  std::ifstream in(dir / "c.txt");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Trainer t;
  t.add_text(text);
  // The corpus has few distinct words: random text (every script, and pairs
  // seen once merged too) lets the merges reach any size asked.
  std::mt19937 rng(3);
  t.add_text(random_utf8(rng, 20000));
  Options o;
  o.vocab_size = size;
  o.min_frequency = 1;
  return t.train(o);
}

TEST(BpeTrainer, RuntimeTokenizerRoundTripsAnyText) {
  const Vocabulary v = english_vocab(600);
  test::TempDir dir;
  const Tokenizer tok = load(v, dir);
  EXPECT_EQ(tok.n_vocab(), 600);
  EXPECT_EQ(tok.type(599), TokenType::Control);
  EXPECT_EQ(tok.bos(), 599);
  EXPECT_EQ(tok.eos(), 599);
  std::mt19937 rng(5);
  for (int i = 0; i < 200; ++i) {
    const std::string s = random_utf8(rng, 1 + rng() % 60);
    EXPECT_EQ(pieces(tok, tok.encode(s, false)), s);
  }
  // Invalid UTF-8 becomes U+FFFD before tokenizing (as llama.cpp does), in
  // training too: every byte is still representable.
  const std::string bad = std::string("ok \xFF\xC3 then") + '\x80';
  EXPECT_EQ(pieces(tok, tok.encode(bad, false)), tok::utf8_sanitize(bad));
  EXPECT_EQ(tok.decode(tok.encode("the story", false)), "the story");
}

// Applies merges the textbook way, with no heap and no linked list: in each
// word, find the adjacent pair of lowest rank and merge all its occurrences.
std::vector<int32_t> reference_encode(const Vocabulary& v, std::string_view text) {
  std::map<std::pair<int32_t, int32_t>, size_t> rank;
  for (size_t r = 0; r < v.merges.size(); ++r) rank.emplace(std::pair{v.merges[r].left, v.merges[r].right}, r);
  std::vector<tok::Span> words;
  tok::regex_split(text, tok::pre_tokenizer("gpt-2").regexes, words);
  std::vector<int32_t> out;
  for (const tok::Span w : words) {
    std::vector<int32_t> ids;
    for (char c : text.substr(w.begin, w.size)) ids.push_back(static_cast<uint8_t>(c));
    for (;;) {
      size_t best = SIZE_MAX;
      for (size_t i = 0; i + 1 < ids.size(); ++i)
        if (auto it = rank.find({ids[i], ids[i + 1]}); it != rank.end()) best = std::min(best, it->second);
      if (best == SIZE_MAX) break;
      const Merge& m = v.merges[best];
      std::vector<int32_t> next;
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i + 1 < ids.size() && ids[i] == m.left && ids[i + 1] == m.right) {
          next.push_back(m.result);
          ++i;
        } else {
          next.push_back(ids[i]);
        }
      }
      ids = std::move(next);
    }
    out.insert(out.end(), ids.begin(), ids.end());
  }
  return out;
}

TEST(BpeTrainer, RuntimeSplitsTextAsTheMergesSay) {
  const Vocabulary v = english_vocab(1000);
  std::map<std::string, int> seen;  // a token's text names it: no two alike
  for (const std::string& t : v.tokens) EXPECT_EQ(++seen[t], 1) << t;
  test::TempDir dir;
  const Tokenizer tok = load(v, dir);
  test::write_corpus(dir / "other.txt", 4000, 9);  // text the merges were not learned on
  std::ifstream in(dir / "other.txt");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<int32_t> ids = tok.encode(text, false);
  EXPECT_EQ(ids, reference_encode(v, text));
  EXPECT_LT(ids.size() * 2, text.size());  // the merges compress English at least 2x
  std::mt19937 rng(11);
  for (int i = 0; i < 50; ++i) {
    const std::string s = random_utf8(rng, 40);
    EXPECT_EQ(tok.encode(s, false), reference_encode(v, s));
  }
}

TEST(BpeTrainer, CliTrainsAVocabularyThatTrainAccepts) {
  test::TempDir dir;
  test::write_corpus(dir / "c.txt", 20000);
  const std::string tok = (dir / "tok.gguf").string();
  std::string out;
  ASSERT_EQ(test::run_qkv("tokenizer train --data " + (dir / "c.txt").string() + " --vocab-size 300 -o " + tok, &out),
            0) << out;
  EXPECT_EQ(Tokenizer::from_gguf(gguf::File::open(tok).metadata()).n_vocab(), 300) << out;
  ASSERT_EQ(test::run_qkv("train --data " + (dir / "c.txt").string() + " --vocab " + tok + " --out " +
                              (dir / "run").string() +
                              " --dim 32 --layers 1 --heads 2 --ctx 16 --steps 2 --batch 2 --eval-every 0 -t 1",
                          &out),
            0) << out;
  EXPECT_NE(out.find("vocab 300"), std::string::npos) << out;
}

}  // namespace
}  // namespace qkv::bpe
