// The safetensors reader against real Hugging Face files (values checked
// against sums and leading values computed independently with Python's json
// and struct modules), the writer by round trip, fp8 and the other dtypes by
// exhaustive or spot checks, and hostile headers, each refused with a
// specific error.
#include "qkv/safetensors.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <random>

#include "qkv/error.h"
#include "test_support.h"

namespace qkv {
namespace {

using test::TempDir;

// The length, the header and data_bytes zero bytes of data.
std::vector<uint8_t> make_file(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> b(8 + header.size() + data_bytes, 0);
  const uint64_t n = header.size();
  std::memcpy(b.data(), &n, 8);
  std::memcpy(b.data() + 8, header.data(), header.size());
  return b;
}

// Parses a crafted file and returns the error it must raise.
Error parse_error(const std::vector<uint8_t>& bytes) {
  try {
    safetensors::File::parse(bytes, "crafted.safetensors");
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "the crafted file was accepted";
  return Error(ErrorKind::Usage, "accepted");
}

std::vector<uint64_t> shape_of(const safetensors::File& f, const std::string& name) {
  const CheckpointTensor* t = f.find(name);
  return t ? t->shape : std::vector<uint64_t>{};
}

double sum(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s;
}

TEST(Safetensors, ReadsTinyStoriesLlama) {
  QKV_REQUIRE_SHARED("models/hf-llama-tinystories-656k/model.safetensors");
  const auto f = safetensors::File::open(
      (test::shared_dir() / "models/hf-llama-tinystories-656k/model.safetensors").string());
  EXPECT_EQ(f.data_offset(), 8u + 2160u);
  ASSERT_EQ(f.tensors().size(), 20u);
  // The tied embedding is stored once; the metadata says so.
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("model.embed_tokens.weight"), "lm_head.weight");
  EXPECT_EQ(f.find("model.embed_tokens.weight"), nullptr);

  uint64_t params = 0;
  const uint8_t* expected_start = f.bytes().data() + f.data_offset();
  for (const auto& t : f.tensors()) {
    EXPECT_EQ(t.dtype, DType::F32) << t.name;
    EXPECT_EQ(t.data.data(), expected_start) << t.name << ": tensors come in file order, back to back";
    expected_start += t.data.size();
    params += t.n_elements();
  }
  EXPECT_EQ(params, 656000u);
  EXPECT_EQ(f.tensors().front().name, "lm_head.weight");
  EXPECT_EQ(f.tensors().back().name, "model.norm.weight");
  EXPECT_EQ(shape_of(f, "lm_head.weight"), (std::vector<uint64_t>{2048, 128}));
  EXPECT_EQ(shape_of(f, "model.layers.0.self_attn.k_proj.weight"), (std::vector<uint64_t>{64, 128}));
  EXPECT_EQ(shape_of(f, "model.layers.1.mlp.down_proj.weight"), (std::vector<uint64_t>{128, 384}));

  const auto lm = to_f32(*f.find("lm_head.weight"));
  EXPECT_EQ(lm[0], -0.68359375f);
  EXPECT_EQ(lm[1], -0.02587890625f);
  EXPECT_EQ(lm[2], 0.58984375f);
  EXPECT_NEAR(sum(lm), 2512.834466814995, 1e-6);
  EXPECT_NEAR(sum(to_f32(*f.find("model.layers.0.mlp.gate_proj.weight"))), -252.14297902584076, 1e-9);
  EXPECT_NEAR(sum(to_f32(*f.find("model.norm.weight"))), 83.99560546875, 1e-12);
}

TEST(Safetensors, ReadsTinyGpt2) {
  QKV_REQUIRE_SHARED("models/hf-gpt2-tiny-random/model.safetensors");
  const auto f = safetensors::File::open((test::shared_dir() / "models/hf-gpt2-tiny-random/model.safetensors").string());
  ASSERT_EQ(f.tensors().size(), 28u);
  uint64_t params = 0;
  for (const auto& t : f.tensors()) params += t.n_elements();
  EXPECT_EQ(params, 102714u);
  EXPECT_EQ(f.find("lm_head.weight"), nullptr);
  // Conv1D keeps [in, out]: the reader reports the shape exactly as stored.
  EXPECT_EQ(shape_of(f, "transformer.h.0.attn.c_attn.weight"), (std::vector<uint64_t>{2, 6}));
  EXPECT_EQ(shape_of(f, "transformer.wte.weight"), (std::vector<uint64_t>{50257, 2}));
  const auto wte = to_f32(*f.find("transformer.wte.weight"));
  EXPECT_EQ(wte[0], 0.003458114806562662f);
  EXPECT_NEAR(sum(wte), -14.920951809514008, 1e-9);
  EXPECT_EQ(to_f32(*f.find("transformer.h.1.ln_2.weight")), (std::vector<float>{1.0f, 1.0f}));
}

TEST(Safetensors, WriterRoundTripsEveryDtype) {
  TempDir dir;
  const std::string path = (dir / "all.safetensors").string();
  std::vector<safetensors::TensorSpec> specs;
  std::vector<std::vector<uint8_t>> data;
  std::mt19937 rng(7);
  for (const auto& d : all_dtypes()) {
    // Odd shapes put later tensors at offsets that are not multiples of 8.
    specs.push_back({"t." + std::string(d.name), d.dtype, {3, 1}});
    std::vector<uint8_t> bytes(3 * d.size);
    for (auto& b : bytes) b = static_cast<uint8_t>(d.dtype == DType::BOOL ? rng() & 1 : rng());
    data.push_back(bytes);
  }
  specs.push_back({"scalar", DType::F32, {}});
  data.push_back({0, 0, 0x80, 0x3f});
  specs.push_back({"empty", DType::F16, {0, 5}});
  data.push_back({});
  {
    safetensors::Writer w(path, specs, {{"format", "pt"}, {"note", "ünïcode"}});
    for (const auto& d : data) w.write_tensor(d);
    w.finish();
  }
  const auto f = safetensors::File::open(path);
  EXPECT_EQ(f.data_offset() % 8, 0u) << "the header is padded to 8 bytes";
  EXPECT_EQ(f.metadata().at("note"), "ünïcode");
  ASSERT_EQ(f.tensors().size(), specs.size());
  // The empty tensor sorts before the scalar (same offset, zero size).
  for (size_t i = 0; i < specs.size(); ++i) {
    const CheckpointTensor* t = f.find(specs[i].name);
    ASSERT_NE(t, nullptr) << specs[i].name;
    EXPECT_EQ(t->dtype, specs[i].dtype);
    EXPECT_EQ(t->shape, specs[i].shape);
    EXPECT_TRUE(std::equal(t->data.begin(), t->data.end(), data[i].begin(), data[i].end())) << specs[i].name;
  }
  EXPECT_EQ(to_f32(*f.find("scalar")), std::vector<float>{1.0f});
  EXPECT_TRUE(to_f32(*f.find("empty")).empty());
}

TEST(Safetensors, WriterRefusesMisuseAndLeavesNoFile) {
  TempDir dir;
  const std::string path = (dir / "x.safetensors").string();
  EXPECT_THROW(safetensors::Writer(path, {{"a", DType::F32, {1}}, {"a", DType::F32, {1}}}), Error);
  EXPECT_THROW(safetensors::Writer(path, {{"__metadata__", DType::F32, {1}}}), Error);
  {
    safetensors::Writer w(path, {{"a", DType::F32, {2}}, {"b", DType::I8, {1}}});
    const std::vector<uint8_t> three(3);
    EXPECT_THROW(w.write_tensor(three), Error);  // a needs 8 bytes
    w.write_tensor(std::vector<uint8_t>(8));
    EXPECT_THROW(w.finish(), Error);             // b was never written
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "no temporary file is left behind";
}

TEST(Safetensors, ConvertsEveryDtypeToF32) {
  auto convert = [](DType d, std::vector<uint8_t> bytes) {
    const uint64_t n = bytes.size() / dtype_size(d);
    CheckpointTensor t{"t", d, {n}, bytes};
    return to_f32(t);
  };
  auto le = [](auto... v) {
    std::vector<uint8_t> b;
    (([&] {
       uint8_t tmp[sizeof(v)];
       std::memcpy(tmp, &v, sizeof(v));
       b.insert(b.end(), tmp, tmp + sizeof(v));
     }()),
     ...);
    return b;
  };
  EXPECT_EQ(convert(DType::F64, le(1.5, -1e300, 0.1)), (std::vector<float>{1.5f, -INFINITY, 0.1f}));
  EXPECT_EQ(convert(DType::F16, le(uint16_t{0x3C00}, uint16_t{0xC000}, uint16_t{0x0001}, uint16_t{0x7C00})),
            (std::vector<float>{1.0f, -2.0f, 0x1p-24f, INFINITY}));
  EXPECT_EQ(convert(DType::BF16, le(uint16_t{0x3F80}, uint16_t{0xC0A0})), (std::vector<float>{1.0f, -5.0f}));
  EXPECT_EQ(convert(DType::I64, le(int64_t{-3}, int64_t{1} << 40)), (std::vector<float>{-3.0f, 0x1p40f}));
  EXPECT_EQ(convert(DType::I32, le(int32_t{-7})), std::vector<float>{-7.0f});
  EXPECT_EQ(convert(DType::I16, le(int16_t{-300})), std::vector<float>{-300.0f});
  EXPECT_EQ(convert(DType::I8, le(int8_t{-128}, int8_t{127})), (std::vector<float>{-128.0f, 127.0f}));
  EXPECT_EQ(convert(DType::U64, le(~uint64_t{0})), std::vector<float>{0x1p64f});
  EXPECT_EQ(convert(DType::U32, le(uint32_t{4000000000u})), std::vector<float>{4e9f});
  EXPECT_EQ(convert(DType::U16, le(uint16_t{65535})), std::vector<float>{65535.0f});
  EXPECT_EQ(convert(DType::U8, {0, 255}), (std::vector<float>{0.0f, 255.0f}));
  EXPECT_EQ(convert(DType::BOOL, {0, 1, 2}), (std::vector<float>{0.0f, 1.0f, 1.0f}));

  // A span at an odd address: the reader never promises alignment.
  std::vector<uint8_t> odd(1 + 4 * 3);
  const float vals[3] = {1.25f, -2.5f, 3.0f};
  std::memcpy(odd.data() + 1, vals, sizeof(vals));
  CheckpointTensor t{"odd", DType::F32, {3}, std::span<const uint8_t>(odd).subspan(1)};
  EXPECT_EQ(to_f32(t), (std::vector<float>{1.25f, -2.5f, 3.0f}));

  CheckpointTensor wrong{"wrong", DType::F32, {4}, std::span<const uint8_t>(odd).subspan(1)};
  EXPECT_THROW(to_f32(wrong), Error);
}

// float8 by definition: sign, exponent (bias 7 or 15), mantissa (3 or 2
// bits), subnormals below the smallest exponent.
float f8_by_definition(uint8_t b, int exp_bits, int man_bits) {
  const int bias = (1 << (exp_bits - 1)) - 1;
  const int e = (b >> man_bits) & ((1 << exp_bits) - 1);
  const int m = b & ((1 << man_bits) - 1);
  const double sign = (b & 0x80) ? -1.0 : 1.0;
  if (e == 0) return static_cast<float>(sign * std::ldexp(m, 1 - bias - man_bits));
  return static_cast<float>(sign * std::ldexp(1.0 + std::ldexp(m, -man_bits), e - bias));
}

TEST(Safetensors, Float8ConversionsAreExact) {
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  const auto e4m3 = to_f32(CheckpointTensor{"e4m3", DType::F8_E4M3, {256}, all});
  const auto e5m2 = to_f32(CheckpointTensor{"e5m2", DType::F8_E5M2, {256}, all});
  for (int i = 0; i < 256; ++i) {
    const bool e4m3_nan = (i & 0x7F) == 0x7F;  // E4M3 (fn): no infinities, S.1111.111 is NaN
    if (e4m3_nan)
      EXPECT_TRUE(std::isnan(e4m3[i])) << i;
    else
      EXPECT_EQ(std::bit_cast<uint32_t>(e4m3[i]), std::bit_cast<uint32_t>(f8_by_definition(i, 4, 3))) << i;
    const int e5 = (i >> 2) & 0x1F, m5 = i & 3;
    if (e5 == 0x1F && m5 != 0)
      EXPECT_TRUE(std::isnan(e5m2[i])) << i;
    else if (e5 == 0x1F)
      EXPECT_EQ(e5m2[i], (i & 0x80) ? -INFINITY : INFINITY) << i;
    else
      EXPECT_EQ(std::bit_cast<uint32_t>(e5m2[i]), std::bit_cast<uint32_t>(f8_by_definition(i, 5, 2))) << i;
  }
  EXPECT_EQ(e4m3[0x7E], 448.0f);
  EXPECT_EQ(e4m3[0x38], 1.0f);
  EXPECT_EQ(e4m3[0x01], 0x1p-9f);
  EXPECT_EQ(e5m2[0x7B], 57344.0f);
  EXPECT_EQ(e5m2[0x01], 0x1p-16f);
  EXPECT_TRUE(std::signbit(e4m3[0x80]) && e4m3[0x80] == 0.0f);
}

// ---- hostile and malformed files ----

TEST(SafetensorsMalformed, HeaderClaiming100GB) {
  auto b = make_file("{}", 0);
  const uint64_t huge = 100ull << 30;
  std::memcpy(b.data(), &huge, 8);
  const Error e = parse_error(b);
  EXPECT_EQ(e.kind(), ErrorKind::Format);
  EXPECT_NE(e.message().find("exceeds the 100000000-byte limit"), std::string::npos) << e.what();
}

TEST(SafetensorsMalformed, HeaderLongerThanTheFile) {
  auto b = make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4);
  b.resize(20);
  const Error e = parse_error(b);
  EXPECT_NE(e.message().find("truncated"), std::string::npos) << e.what();
}

TEST(SafetensorsMalformed, TooShortForALength) {
  EXPECT_NE(parse_error({1, 2, 3}).message().find("8-byte header length"), std::string::npos);
}

TEST(SafetensorsMalformed, NotJson) {
  const Error e = parse_error(make_file("{\"a\": [1, 2", 0));
  EXPECT_EQ(e.kind(), ErrorKind::Format);
  EXPECT_NE(e.message().find("not valid JSON"), std::string::npos) << e.what();
  EXPECT_NE(parse_error(make_file("[1]", 0)).message().find("starting with '{'"), std::string::npos);
}

TEST(SafetensorsMalformed, OverlappingRanges) {
  const Error e = parse_error(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                                            "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                        12));
  EXPECT_EQ(e.kind(), ErrorKind::Integrity);
  EXPECT_EQ(e.tensor(), "b");
  EXPECT_NE(e.message().find("overlaps tensor 'a'"), std::string::npos) << e.what();
}

TEST(SafetensorsMalformed, HolesAndTrailingBytesAreErrors) {
  const Error hole = parse_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
                                               "b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                           12));
  EXPECT_EQ(hole.tensor(), "b");
  EXPECT_NE(hole.message().find("4 bytes before it belong to no tensor"), std::string::npos) << hole.what();
  const Error tail = parse_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 6));
  EXPECT_NE(tail.message().find("2 bytes after the last tensor"), std::string::npos) << tail.what();
}

TEST(SafetensorsMalformed, UnknownDtype) {
  const Error e = parse_error(make_file(R"({"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})", 1));
  EXPECT_EQ(e.kind(), ErrorKind::Unsupported);
  EXPECT_EQ(e.tensor(), "w");
  EXPECT_NE(e.message().find("unknown dtype \"F4\""), std::string::npos) << e.what();
  EXPECT_NE(e.message().find("BF16"), std::string::npos) << "the message lists the known dtypes";
}

TEST(SafetensorsMalformed, ShapeDisagreesWithOffsets) {
  const Error e = parse_error(make_file(R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,10]}})", 10));
  EXPECT_EQ(e.kind(), ErrorKind::Integrity);
  EXPECT_EQ(e.tensor(), "w");
  EXPECT_NE(e.message().find("hold 10 bytes but shape [2, 3] of BF16 needs 12"), std::string::npos) << e.what();
}

TEST(SafetensorsMalformed, DataPastTheEnd) {
  const Error e = parse_error(make_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
  EXPECT_EQ(e.kind(), ErrorKind::Integrity);
  EXPECT_NE(e.message().find("extends past"), std::string::npos) << e.what();
}

TEST(SafetensorsMalformed, ShapeOverflow) {
  const Error e = parse_error(make_file(
      R"({"w":{"dtype":"F64","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}})", 0));
  EXPECT_NE(e.message().find("overflows"), std::string::npos) << e.what();
  const Error bytes = parse_error(make_file(
      R"({"w":{"dtype":"F64","shape":[4294967296,1073741824],"data_offsets":[0,0]}})", 0));
  EXPECT_NE(bytes.message().find("byte size overflows"), std::string::npos) << bytes.what();
}

TEST(SafetensorsMalformed, BadFieldsAreNamed) {
  struct Case {
    const char* header;
    const char* expect;
  };
  const Case cases[] = {
      {R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", "non-negative integer"},
      {R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}})", "non-negative integer"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}})", "[begin, end]"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", "before begin"},
      {R"({"w":{"dtype":"F32","shape":[1]}})", "missing 'data_offsets'"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}})", "unexpected key 'extra'"},
      {R"({"w":[1,2]})", "must be an object"},
      {R"({"__metadata__":{"a":1}})", "must be a string"},
      {R"({"__metadata__":[]})", "__metadata__ must be an object"},
      {R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})",
       "repeats the key 'w'"},
      {R"({"w":{"dtype":"F32","shape":[[[1]]],"data_offsets":[0,0]}})", "nests deeper"},
      // nlohmann reports a number beyond a double's range as out_of_range, not parse_error (found by the fuzzer).
      {R"({"w":{"dtype":"F32","shape":5555555555555555555.5E5555555,"data_offsets":[0,0]}})", "not valid JSON"},
  };
  for (const auto& c : cases) {
    const Error e = parse_error(make_file(c.header, 0));
    EXPECT_NE(e.message().find(c.expect), std::string::npos) << c.header << "\n -> " << e.what();
    EXPECT_EQ(e.file(), "crafted.safetensors");
  }
}

TEST(SafetensorsMalformed, RandomCorruptionNeverCrashes) {
  TempDir dir;
  const std::string path = (dir / "seed.safetensors").string();
  {
    safetensors::Writer w(path, {{"a", DType::F16, {2, 3}}, {"b", DType::I64, {2}}, {"c", DType::F8_E4M3, {5}}},
                          {{"format", "pt"}});
    w.write_tensor(std::vector<uint8_t>(12, 0x3c));
    w.write_tensor(std::vector<uint8_t>(16, 1));
    w.write_tensor(std::vector<uint8_t>(5, 0x7f));
    w.finish();
  }
  const auto seed = test::read_bytes(path);
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    auto b = seed;
    for (int k = 0, n = 1 + static_cast<int>(rng() % 4); k < n; ++k) b[rng() % b.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    if (rng() % 8 == 0) b.resize(rng() % b.size());
    try {
      const auto f = safetensors::File::parse(b, "mutant");
      for (const auto& t : f.tensors()) (void)to_f32(t);
      ++accepted;
    } catch (const Error&) {
    }
  }
  EXPECT_GT(accepted, 0) << "some mutations only touch tensor data and must still parse";
}

}  // namespace
}  // namespace qkv
