// `qkv quantize` must reproduce what llama-quantize wrote, byte for byte:
// ../shared/models/gguf-llamacpp-quantized holds tiny-llama-F32.gguf and
// llama-quantize's output for twenty file types.
#include <gtest/gtest.h>

#include "qkv/error.h"
#include "qkv/gguf.h"
#include "qkv/gguf_check.h"
#include "qkv/quantize_model.h"
#include "test_support.h"

namespace qkv::quant {
namespace {

const char* kDir = "models/gguf-llamacpp-quantized";

class LlamaQuantizeFiles : public ::testing::TestWithParam<const char*> {};

TEST_P(LlamaQuantizeFiles, ByteIdentical) {
  QKV_REQUIRE_SHARED(kDir);
  const auto dir = test::shared_dir() / kDir;
  test::TempDir tmp;
  const std::string ftype = GetParam();
  const auto out = tmp / ("out-" + ftype + ".gguf");
  QuantizeOptions o;
  o.type = ftype;
  o.threads = 2;
  o.progress = false;
  quantize_model((dir / "tiny-llama-F32.gguf").string(), out.string(), o);

  const auto want = test::read_bytes(dir / ("tiny-llama-" + ftype + ".gguf"));
  const auto got = test::read_bytes(out);
  if (want == got) return;
  // Say where it differs: metadata, a tensor's type, or a tensor's bytes.
  const auto a = gguf::File::open((dir / ("tiny-llama-" + ftype + ".gguf")).string());
  const auto b = gguf::File::open(out.string());
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (size_t i = 0; i < a.tensors().size(); ++i) {
    const auto &ta = a.tensors()[i], &tb = b.tensors()[i];
    ASSERT_EQ(ta.name, tb.name) << "tensor order differs at " << i;
    ASSERT_EQ(type_name(ta.type), type_name(tb.type)) << ta.name;
    const auto da = a.tensor_data(i), db = b.tensor_data(i);
    const auto m = std::mismatch(da.begin(), da.end(), db.begin());
    EXPECT_TRUE(m.first == da.end()) << ta.name << " (" << type_name(ta.type) << "): first differing byte "
                                     << (m.first - da.begin()) << " of " << da.size();
  }
  ASSERT_EQ(want.size(), got.size());
  const auto m = std::mismatch(want.begin(), want.end(), got.begin());
  FAIL() << "files differ first at byte " << (m.first - want.begin()) << " (header ends at " << a.data_offset() << ")";
}

INSTANTIATE_TEST_SUITE_P(AllTwenty, LlamaQuantizeFiles,
                         ::testing::Values("Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M",
                                           "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL",
                                           "IQ4_XS", "TQ1_0", "TQ2_0", "BF16", "F16"),
                         [](const auto& info) { return std::string(info.param); });

// Every tensor type we can write gives a file that passes the layout audit.
TEST(QuantizeModel, EveryTensorTypePassesCheck) {
  QKV_REQUIRE_SHARED(kDir);
  const auto in = (test::shared_dir() / kDir / "tiny-llama-F32.gguf").string();
  test::TempDir tmp;
  for (const char* type : {"F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
                           "Q6_K", "IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4"}) {
    QuantizeOptions o;
    o.type = type;
    o.plan.pure = true;  // "Q2_K" also names a file type; --pure gives every tensor the type itself
    o.progress = false;
    const auto out = (tmp / (std::string(type) + ".gguf")).string();
    quantize_model(in, out, o);
    const auto f = gguf::File::open(out);
    EXPECT_TRUE(gguf::audit_layout(f).ok()) << type;
    size_t typed = 0;
    for (const auto& t : f.tensors()) typed += type_name(t.type) == type;
    EXPECT_EQ(typed, 30u) << type << ": every 2-D tensor of the 4-layer model (7 per layer, embeddings, output)";
  }
}

TEST(QuantizeModel, RefusesRequantizeWithoutFlagAndDryRunWritesNothing) {
  QKV_REQUIRE_SHARED(kDir);
  const auto dir = test::shared_dir() / kDir;
  test::TempDir tmp;
  QuantizeOptions o;
  o.type = "Q4_0";
  o.progress = false;
  const auto out = (tmp / "x.gguf").string();
  try {
    quantize_model((dir / "tiny-llama-Q8_0.gguf").string(), out, o);
    FAIL() << "requantizing must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--allow-requantize"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(out));
  o.allow_requantize = true;
  quantize_model((dir / "tiny-llama-Q8_0.gguf").string(), out, o);
  EXPECT_TRUE(gguf::audit_layout(gguf::File::open(out)).ok());

  o.dry_run = true;
  const auto dry = (tmp / "dry.gguf").string();
  const auto r = quantize_model((dir / "tiny-llama-F32.gguf").string(), dry, o);
  EXPECT_FALSE(std::filesystem::exists(dry));
  // The predicted file size equals llama-quantize's actual Q4_0 file.
  EXPECT_EQ(r.file_bytes, std::filesystem::file_size(dir / "tiny-llama-Q4_0.gguf"));
}

}  // namespace
}  // namespace qkv::quant
