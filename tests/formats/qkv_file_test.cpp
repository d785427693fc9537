// .qkv round trips: every input kind comes back byte for byte -- GGUFs
// (quantized included), safetensors in F32 / BF16 / F16, a whole Hugging Face
// folder, empty tensors, tensors over many chunks and odd padding bytes.
#include <gtest/gtest.h>

#include <cstring>

#include "qkv/detect.h"
#include "qkv/error.h"
#include "qkv/gguf.h"
#include "qkv_test_util.h"

namespace qkv {
namespace {

namespace fs = std::filesystem;

void expect_same_file(const fs::path& a, const fs::path& b) {
  const auto x = test::read_bytes(a), y = test::read_bytes(b);
  ASSERT_EQ(x.size(), y.size()) << a << " vs " << b;
  const auto m = std::mismatch(x.begin(), x.end(), y.begin());
  EXPECT_TRUE(m.first == x.end()) << a << ": first differing byte at " << (m.first - x.begin());
}

size_t max_chunks(const fs::path& qkv) {
  size_t n = 0;
  const auto r = qkvfile::Reader::open(qkv.string());
  for (const auto& e : r.entries())
    for (const auto& s : e.streams) n = std::max(n, s.chunks.size());
  return n;
}

TEST(QkvFile, GgufRoundTripsForPlainAndQuantizedTypes) {
  QKV_REQUIRE_SHARED("models/gguf-llamacpp-quantized");
  test::TempDir tmp;
  const auto dir = test::shared_dir() / "models";
  for (const char* f : {"gguf-stories260K/stories260K.gguf", "gguf-llamacpp-quantized/tiny-llama-Q4_K_M.gguf",
                        "gguf-llamacpp-quantized/tiny-llama-BF16.gguf"}) {
    SCOPED_TRACE(f);
    expect_same_file(dir / f, test::round_trip(dir / f, tmp, "m", test::small_chunks(64 << 10)));
    EXPECT_GT(max_chunks(tmp / "m.qkv"), 1u) << "the test wants tensors over several chunks";
    EXPECT_LT(fs::file_size(tmp / "m.qkv"), fs::file_size(dir / f));
  }
}

TEST(QkvFile, SafetensorsRoundTripsInF32Bf16AndF16) {
  QKV_REQUIRE_SHARED("models/hf-llama-tinystories-656k");
  test::TempDir tmp;
  const auto f32 = test::shared_dir() / "models/hf-llama-tinystories-656k/model.safetensors";
  expect_same_file(f32, test::round_trip(f32, tmp, "f32"));
  for (DType d : {DType::BF16, DType::F16}) {
    const auto in = tmp / (std::string(dtype_name(d)) + ".safetensors");
    test::resave_as(f32, d, in);
    expect_same_file(in, test::round_trip(in, tmp, std::string(dtype_name(d))));
    // Tensor streams carry the dtype, so the 16-bit codecs were eligible.
    const auto r = qkvfile::Reader::open((tmp / (std::string(dtype_name(d)) + ".qkv")).string());
    EXPECT_EQ(r.source(), qkvfile::SourceKind::Safetensors);
    EXPECT_TRUE(r.entries()[0].streams.back().type == (d == DType::BF16 ? TensorType::BF16 : TensorType::F16));
  }
}

TEST(QkvFile, HuggingFaceFolderComesBackFileByFile) {
  QKV_REQUIRE_SHARED("models/hf-llama-tinystories-656k");
  test::TempDir tmp;
  const auto src = test::shared_dir() / "models/hf-llama-tinystories-656k";
  const auto out = test::round_trip(src, tmp, "hf");
  size_t n = 0;
  for (const auto& de : fs::recursive_directory_iterator(src)) {
    if (!de.is_regular_file()) continue;
    ++n;
    expect_same_file(de.path(), out / fs::relative(de.path(), src));
  }
  size_t m = 0;
  for (const auto& de : fs::recursive_directory_iterator(out)) m += de.is_regular_file();
  EXPECT_EQ(m, n);
  EXPECT_GE(n, 5u);  // config, tokenizer files and the weights
  EXPECT_EQ(detect_format((tmp / "hf.qkv").string()), FileFormat::Qkv);
}

// A safetensors file with an empty tensor and a 16-bit tensor of an odd
// number of bytes per chunk, and a GGUF whose padding holds non-zero bytes.
TEST(QkvFile, EmptyTensorsOddChunksAndPaddingBytes) {
  test::TempDir tmp;
  {
    safetensors::Writer w((tmp / "e.safetensors").string(),
                          {{"empty", DType::F32, {0, 4}}, {"w", DType::BF16, {1001}}, {"b", DType::U8, {3}}},
                          {{"format", "pt"}});
    w.write_tensor({});
    std::vector<uint8_t> bf(2002);
    for (size_t i = 0; i < bf.size(); ++i) bf[i] = static_cast<uint8_t>(i * 7 % 13);
    w.write_tensor(bf);
    w.write_tensor(std::vector<uint8_t>{1, 2, 3});
    w.finish();
  }
  expect_same_file(tmp / "e.safetensors", test::round_trip(tmp / "e.safetensors", tmp, "e", test::small_chunks(333)));

  gguf::Metadata md;
  md.set("general.architecture", gguf::Value::string("llama"));
  std::vector<gguf::TensorInfo> ts = {
      {"a", {5}, TensorType::F32, 0}, {"none", {0}, TensorType::F32, 0}, {"q", {256, 3}, TensorType::Q4_K, 0}};
  {
    gguf::Writer w((tmp / "p.gguf").string(), md, ts);
    for (size_t i = 0; i < ts.size(); ++i) {
      std::vector<uint8_t> d(ts[i].nbytes());
      for (size_t k = 0; k < d.size(); ++k) d[k] = static_cast<uint8_t>(k * 31 + i);
      w.write_tensor(d);
    }
    w.finish();
  }
  auto bytes = test::read_bytes(tmp / "p.gguf");
  const auto f = gguf::File::open((tmp / "p.gguf").string());
  // Scribble over the padding after the header and after tensor "a" (20 bytes, padded to 32).
  for (uint64_t i = f.header_end(); i < f.data_offset(); ++i) bytes[i] = 0xAB;
  for (uint64_t i = 20; i < 32; ++i) bytes[f.data_offset() + i] = 0xCD;
  test::write_bytes(tmp / "p2.gguf", bytes);
  expect_same_file(tmp / "p2.gguf", test::round_trip(tmp / "p2.gguf", tmp, "p", test::small_chunks(100)));
  const auto r = qkvfile::Reader::open((tmp / "p.qkv").string());
  std::vector<std::string> names;
  for (const auto& s : r.entries()[0].streams) names.push_back(s.name);
  // q's 432 bytes are padded to 448 at the end of the file.
  EXPECT_EQ(names, (std::vector<std::string>{"[header]", "a", "[bytes after a]", "none", "q", "[bytes after q]"}));
  EXPECT_EQ(r.entries()[0].streams[4].chunk_size, 144u) << "Q4_K chunks hold whole 144-byte blocks";
}

TEST(QkvFile, RefusesOtherInputs) {
  test::TempDir tmp;
  test::write_bytes(tmp / "x.bin", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  try {
    qkvfile::compress((tmp / "x.bin").string(), (tmp / "x.qkv").string(), test::small_chunks());
    FAIL() << "compressed an unknown format";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Format);
  }
  EXPECT_FALSE(fs::exists(tmp / "x.qkv"));
}

}  // namespace
}  // namespace qkv
