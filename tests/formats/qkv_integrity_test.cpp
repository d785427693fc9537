// .qkv integrity: a flipped byte anywhere (header, index, a chunk table, a
// payload) and a truncation at any offset are reported as qkv::Error
// (Integrity/Format); chunk-level damage names the tensor and the chunk.
#include <gtest/gtest.h>

#include <cstring>

#include "qkv/error.h"
#include "qkv_test_util.h"

namespace qkv {
namespace {

class QkvIntegrity : public ::testing::Test {
 protected:
  void SetUp() override {
    QKV_REQUIRE_SHARED("models/gguf-stories260K");
    packed_ = tmp_ / "m.qkv";
    qkvfile::compress((test::shared_dir() / "models/gguf-stories260K/stories260K.gguf").string(), packed_.string(),
                      test::small_chunks(64 << 10));
    bytes_ = test::read_bytes(packed_);
  }

  // The first tensor stream with several chunks.
  const qkvfile::Stream& big_tensor(const qkvfile::Reader& r) {
    for (const auto& s : r.entries()[0].streams)
      if (s.is_tensor() && s.chunks.size() > 1) return s;
    throw std::runtime_error("no multi-chunk tensor");
  }

  // Opening and restoring the flipped bytes must throw; returns the error.
  Error damaged(std::vector<uint8_t> b) {
    try {
      const auto r = qkvfile::Reader::parse(b, "m.qkv");
      const auto& e = r.entries()[0];
      std::vector<uint8_t> out(e.size);
      r.restore(e, out, 2);
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "damage went unnoticed";
    return Error(ErrorKind::Usage, "none");
  }

  test::TempDir tmp_;
  std::filesystem::path packed_;
  std::vector<uint8_t> bytes_;
};

std::vector<uint8_t> flip(std::vector<uint8_t> b, uint64_t at) {
  b.at(at) ^= 0x10;
  return b;
}

TEST_F(QkvIntegrity, UndamagedFileRestoresTheOriginal) {
  const auto r = qkvfile::Reader::parse(bytes_, "m.qkv");
  std::vector<uint8_t> out(r.entries()[0].size);
  r.restore(r.entries()[0], out, 2);
  EXPECT_EQ(out, test::read_bytes(test::shared_dir() / "models/gguf-stories260K/stories260K.gguf"));
}

TEST_F(QkvIntegrity, FlippedHeaderByte) {
  for (uint64_t at : {0, 9, 13, 20, 40, 60}) {
    const Error e = damaged(flip(bytes_, at));
    EXPECT_TRUE(e.kind() == ErrorKind::Integrity || e.kind() == ErrorKind::Format) << at << ": " << e.what();
  }
}

TEST_F(QkvIntegrity, FlippedIndexOrTrailerByte) {
  uint64_t index_offset;
  std::memcpy(&index_offset, bytes_.data() + bytes_.size() - 56, 8);
  for (uint64_t at = index_offset; at < bytes_.size(); at += 37) {
    const Error e = damaged(flip(bytes_, at));
    EXPECT_EQ(e.kind(), ErrorKind::Integrity) << at << ": " << e.what();
    EXPECT_TRUE(std::string(e.what()).find("index") != std::string::npos ||
                std::string(e.what()).find("trailer") != std::string::npos)
        << e.what();
  }
}

TEST_F(QkvIntegrity, FlippedChunkTableByteNamesTheTensor) {
  const auto r = qkvfile::Reader::parse(bytes_, "m.qkv");
  const auto& s = big_tensor(r);
  // The writer puts each stream's table right after its last payload.
  const uint64_t table = s.chunks.back().offset + s.chunks.back().payload_size;
  for (uint64_t k : {0, 9, 40}) {
    const Error e = damaged(flip(bytes_, table + k));
    EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
    EXPECT_EQ(e.tensor(), s.name) << e.what();
    EXPECT_NE(std::string(e.what()).find("chunk table"), std::string::npos) << e.what();
  }
}

TEST_F(QkvIntegrity, FlippedPayloadByteNamesTensorAndChunk) {
  const auto r = qkvfile::Reader::parse(bytes_, "m.qkv");
  const auto& s = big_tensor(r);
  for (size_t c : {size_t{0}, s.chunks.size() - 1}) {
    const auto& ch = s.chunks[c];
    const Error e = damaged(flip(bytes_, ch.offset + ch.payload_size / 2));
    EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
    EXPECT_EQ(e.tensor(), s.name) << e.what();
    EXPECT_NE(std::string(e.what()).find("chunk " + std::to_string(c) + " of"), std::string::npos) << e.what();
    EXPECT_EQ(e.offset(), ch.offset);
  }
}

TEST_F(QkvIntegrity, FlippedPaddingByteBetweenPayloads) {
  const auto r = qkvfile::Reader::parse(bytes_, "m.qkv");
  const auto& s = big_tensor(r);
  const auto& prev = s.chunks[0];
  const uint64_t gap = prev.offset + prev.payload_size;  // padding up to the next 64-byte boundary
  ASSERT_LT(gap, s.chunks[1].offset) << "the test wants a payload whose size is not a multiple of 64";
  const Error e = damaged(flip(bytes_, gap));
  EXPECT_EQ(e.kind(), ErrorKind::Integrity) << e.what();
  EXPECT_EQ(e.offset(), gap) << e.what();
}

TEST_F(QkvIntegrity, TruncationAtAnyOffset) {
  for (uint64_t n = 0; n < bytes_.size(); n += 1 + n / 7) {
    try {
      (void)qkvfile::Reader::parse(std::span(bytes_).first(n), "m.qkv");
      ADD_FAILURE() << "truncated at " << n << " went unnoticed";
    } catch (const Error& e) {
      EXPECT_TRUE(e.kind() == ErrorKind::Integrity || e.kind() == ErrorKind::Format) << n << ": " << e.what();
    }
  }
}

TEST_F(QkvIntegrity, DecompressLeavesNoFileBehind) {
  const auto r = qkvfile::Reader::parse(bytes_, "m.qkv");
  const auto& ch = big_tensor(r).chunks[0];
  test::write_bytes(tmp_ / "bad.qkv", flip(bytes_, ch.offset));
  EXPECT_THROW(qkvfile::decompress((tmp_ / "bad.qkv").string(), (tmp_ / "out.gguf").string(), {.threads = 2}), Error);
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "out.gguf"));
}

}  // namespace
}  // namespace qkv
