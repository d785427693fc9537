// Vocabularies, corpus reading, token shards and batching.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "qkv/error.h"
#include "qkv/train_data.h"
#include "test_support.h"
#include "train/fixtures.h"

namespace qkv::train {
namespace {

std::string all_bytes() {
  std::string s;
  for (int b = 0; b < 256; ++b) s += static_cast<char>(b);
  return s;
}

TEST(TrainVocab, ByteVocabularyIsWhatQkvTokenizerReadsFromItsGgufBlock) {
  // The tokenizer runtime (llama.cpp's SPM algorithm) is the oracle: from the
  // metadata the export writes, it must produce the trainer's ids and give
  // the text back.
  const Vocab v = Vocab::bytes();
  const Tokenizer tok = Tokenizer::from_gguf(v.metadata());
  EXPECT_EQ(tok.kind(), VocabKind::SentencePiece);
  EXPECT_EQ(tok.n_vocab(), 259);
  EXPECT_EQ(tok.bos(), 1);
  EXPECT_EQ(tok.eos(), 2);
  for (const std::string& text : {std::string("Hello, world!\n  two spaces, a\ttab "), std::string(" leading space"),
                                 std::string("h\xC3\xA9llo \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x99\x82"),
                                 std::string("<s> and </s> and <unk> are text here"), all_bytes()}) {
    std::vector<int32_t> ids = v.encode_document(text);
    ASSERT_EQ(ids.size(), text.size() + 2);
    EXPECT_EQ(ids.front(), 1);
    EXPECT_EQ(ids.back(), 2);
    for (size_t i = 0; i < text.size(); ++i) EXPECT_EQ(ids[i + 1], 3 + static_cast<uint8_t>(text[i]));
    ids.pop_back();  // the runtime adds BOS, not EOS
    EXPECT_EQ(tok.encode(text, true), ids) << "text: " << text;
    EXPECT_EQ(tok.decode(std::span(ids).subspan(1)), text);
  }
}

TEST(TrainVocab, FromMetadataRecognisesTheByteVocabulary) {
  const Vocab v = Vocab::from_metadata(Vocab::bytes().metadata());
  EXPECT_EQ(v.fingerprint(), Vocab::bytes().fingerprint());
  EXPECT_EQ(v.encode_document("a b"), (std::vector<int32_t>{1, 3 + 'a', 3 + ' ', 3 + 'b', 2}));
}

TEST(TrainData, ListsFolderFilesSortedAndReadsJsonl) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "corpus/sub");
  std::ofstream(dir / "corpus/b.txt") << "bee";
  std::ofstream(dir / "corpus/sub/a.md") << "ay";
  std::ofstream(dir / "corpus/skip.bin") << "not a corpus file";
  std::ofstream(dir / "corpus/c.jsonl") << "{\"text\": \"one\"}\n\n{\"text\": \"two\\nlines\", \"id\": 3}\n";
  const auto files = list_sources({(dir / "corpus").string()});
  ASSERT_EQ(files.size(), 3u);
  EXPECT_TRUE(files[0].ends_with("b.txt"));
  EXPECT_TRUE(files[1].ends_with("c.jsonl"));
  EXPECT_TRUE(files[2].ends_with("sub/a.md"));

  const Vocab v = Vocab::bytes();
  const auto shards = TokenShards::prepare({(dir / "corpus").string()}, v, (dir / "data").string(), 2);
  std::vector<int32_t> want;
  for (const char* doc : {"bee", "one", "two\nlines", "ay"}) {
    const auto ids = v.encode_document(doc);
    want.insert(want.end(), ids.begin(), ids.end());
  }
  ASSERT_EQ(shards.n_tokens(), want.size());
  std::vector<int32_t> got(want.size());
  shards.read(0, 0, got.size(), got.data());
  EXPECT_EQ(got, want);
}

TEST(TrainData, JsonlLineWithoutTextIsAnErrorNamingTheLine) {
  test::TempDir dir;
  std::ofstream(dir / "bad.jsonl") << "{\"text\": \"ok\"}\n{\"content\": \"no\"}\n";
  try {
    TokenShards::prepare({(dir / "bad.jsonl").string()}, Vocab::bytes(), (dir / "data").string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Format);
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(list_sources({(dir / "missing").string()}), Error);
}

TEST(TrainData, ShardsSplitAtTheLimitAndAreReusedUntilTheSourceChanges) {
  test::TempDir dir;
  test::write_corpus(dir / "a.txt", 1000);
  const std::string data = (dir / "data").string();
  const Vocab v = Vocab::bytes();
  const auto s1 = TokenShards::prepare({(dir / "a.txt").string()}, v, data, 2, 300);
  EXPECT_EQ(s1.n_shards(), 4u);  // 1002 ids in shards of 300
  EXPECT_EQ(s1.n_tokens(), 1002u);
  EXPECT_EQ(std::filesystem::file_size(dir / "data/shard-00000.tok"), 32u + 300 * 2);  // uint16 ids

  const auto written = std::filesystem::last_write_time(dir / "data/shard-00000.tok");
  const auto s2 = TokenShards::prepare({(dir / "a.txt").string()}, v, data, 2, 300);
  EXPECT_EQ(s2.fingerprint(), s1.fingerprint());
  EXPECT_EQ(std::filesystem::last_write_time(dir / "data/shard-00000.tok"), written) << "tokenized again";

  test::write_corpus(dir / "a.txt", 500, 2);  // a different, shorter corpus
  const auto s3 = TokenShards::prepare({(dir / "a.txt").string()}, v, data, 2, 300);
  EXPECT_NE(s3.fingerprint(), s1.fingerprint());
  EXPECT_EQ(s3.n_shards(), 2u);
  EXPECT_FALSE(std::filesystem::exists(dir / "data/shard-00002.tok")) << "stale shard left behind";
}

TEST(TrainData, DamagedShardsAreRejected) {
  test::TempDir dir;
  test::write_corpus(dir / "a.txt", 200);
  const std::string data = (dir / "data").string();
  TokenShards::prepare({(dir / "a.txt").string()}, Vocab::bytes(), data);
  const auto shard = dir / "data/shard-00000.tok";
  auto bytes = test::read_bytes(shard);

  auto corrupt = bytes;
  corrupt[32 + 10] = 0xFF, corrupt[32 + 11] = 0xFF;  // id 65535 in a 259-token vocabulary
  test::write_bytes(shard, corrupt);
  EXPECT_THROW(TokenShards::open(data), Error);
  corrupt = bytes;
  corrupt.pop_back();  // truncated
  test::write_bytes(shard, corrupt);
  EXPECT_THROW(TokenShards::open(data), Error);
  test::write_bytes(shard, bytes);
  EXPECT_NO_THROW(TokenShards::open(data));
}

TEST(TrainBatcher, WindowsSplitIntoTrainAndHeldOutAndEachEpochVisitsEveryTrainWindowOnce) {
  test::TempDir dir;
  test::write_corpus(dir / "a.txt", 4000);
  const auto shards = TokenShards::prepare({(dir / "a.txt").string()}, Vocab::bytes(), (dir / "data").string(), 1, 1500);
  const int T = 16;
  uint64_t windows = 0;
  for (size_t s = 0; s < shards.n_shards(); ++s) windows += (shards.shard_tokens(s) - 1) / T;
  Batcher b(shards, T, 42, 10);
  EXPECT_EQ(uint64_t(b.train_windows() + b.val_windows()), windows);
  EXPECT_EQ(b.val_windows(), int64_t(windows / 10));

  std::vector<int32_t> all(shards.n_tokens());  // shards back to back
  for (size_t s = 0, at = 0; s < shards.n_shards(); at += shards.shard_tokens(s), ++s)
    shards.read(s, 0, shards.shard_tokens(s), all.data() + at);
  auto key = [](const Batch& batch, int row) {
    return std::vector<int32_t>(batch.tokens.begin() + row * batch.T, batch.tokens.begin() + (row + 1) * batch.T);
  };
  std::multiset<std::vector<int32_t>> seen;
  for (int64_t i = 0; i < b.train_windows(); ++i) {
    const Batch one = b.next(1);
    for (int t = 0; t + 1 < T; ++t) EXPECT_EQ(one.targets[t], one.tokens[t + 1]);
    seen.insert(key(one, 0));
  }
  EXPECT_EQ(b.position().epoch, 0u);
  EXPECT_EQ(b.position().cursor, uint64_t(b.train_windows()));
  for (int64_t i = 0; i < b.val_windows(); ++i) {
    const auto v = key(b.validation(i, 1), 0);
    EXPECT_EQ(seen.count(v), 0u) << "a held-out window was trained on";
  }
  b.next(1);
  EXPECT_EQ(b.position().epoch, 1u);
}

TEST(TrainBatcher, OrderIsAFunctionOfSeedAndPositionAlone) {
  test::TempDir dir;
  test::write_corpus(dir / "a.txt", 3000);
  const auto shards = TokenShards::prepare({(dir / "a.txt").string()}, Vocab::bytes(), (dir / "data").string());
  Batcher a(shards, 8, 7), same(shards, 8, 7), other(shards, 8, 8);
  const Batch first = a.next(5);
  EXPECT_EQ(first.tokens, same.next(5).tokens);
  EXPECT_NE(first.tokens, other.next(5).tokens);
  // Across an epoch boundary, a fresh batcher seeked to a saved position goes on identically.
  for (int i = 0; i < 130; ++i) a.next(3);
  const Batcher::Position p = a.position();
  ASSERT_EQ(p.epoch, 1u) << "the test means to cross an epoch boundary";
  Batcher resumed(shards, 8, 7);
  resumed.seek(p);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(a.next(4).tokens, resumed.next(4).tokens) << "batch " << i;
}

}  // namespace
}  // namespace qkv::train
