// Running a model straight from a .qkv: Model::load decompresses it, and the
// logits (and `qkv run`'s greedy text) are exactly those of the GGUF; `qkv
// compress / decompress / inspect` work end to end.
#include <gtest/gtest.h>

#include "qkv/error.h"
#include "qkv/model.h"
#include "qkv/session.h"
#include "qkv_test_util.h"

namespace qkv {
namespace {

std::vector<float> logits_of(const std::string& path) {
  Session s(Model::load(path), 64, 2);
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378};
  return s.decode(prompt);
}

TEST(QkvModel, LogitsEqualTheGgufs) {
  QKV_REQUIRE_SHARED("models/gguf-llamacpp-quantized");
  test::TempDir tmp;
  for (const char* f : {"gguf-stories260K/stories260K.gguf", "gguf-llamacpp-quantized/tiny-llama-Q4_K_M.gguf"}) {
    SCOPED_TRACE(f);
    const auto gguf = test::shared_dir() / "models" / f;
    qkvfile::compress(gguf.string(), (tmp / "m.qkv").string(), test::small_chunks(64 << 10));
    const auto want = logits_of(gguf.string());
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(logits_of((tmp / "m.qkv").string()), want);
  }
}

TEST(QkvModel, OnlyGgufSourcesLoad) {
  QKV_REQUIRE_SHARED("models/hf-llama-tinystories-656k");
  test::TempDir tmp;
  qkvfile::compress((test::shared_dir() / "models/hf-llama-tinystories-656k/model.safetensors").string(),
                    (tmp / "st.qkv").string(), test::small_chunks());
  try {
    (void)Model::load((tmp / "st.qkv").string());
    FAIL() << "loaded a safetensors .qkv as a GGUF";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported) << e.what();
  }
}

TEST(QkvModel, CliCompressRunDecompressInspect) {
  QKV_REQUIRE_SHARED("models/gguf-stories260K");
  test::TempDir tmp;
  const auto gguf = test::shared_dir() / "models/gguf-stories260K/stories260K.gguf";
  const auto packed = tmp / "m.qkv", restored = tmp / "back.gguf";
  std::string out;
  ASSERT_EQ(test::run_qkv("compress '" + gguf.string() + "' -o '" + packed.string() + "' --chunk-kib 64", &out), 0)
      << out;
  const std::string run = " -p 'Once upon a time' -n 8 --temp 0 -t 2";
  std::string want, got;
  ASSERT_EQ(test::run_qkv("run '" + gguf.string() + "'" + run, &want), 0) << want;
  ASSERT_EQ(test::run_qkv("run '" + packed.string() + "'" + run, &got), 0) << got;
  // The generated text (the timing line after it differs run to run).
  const auto text = [](const std::string& o) { return o.substr(0, o.find("\nprompt:")); };
  EXPECT_EQ(text(got), text(want));
  EXPECT_NE(text(want).find("Once upon a time,"), std::string::npos) << want;
  ASSERT_EQ(test::run_qkv("decompress '" + packed.string() + "' -o '" + restored.string() + "'", &out), 0) << out;
  EXPECT_EQ(test::read_bytes(restored), test::read_bytes(gguf));
  ASSERT_EQ(test::run_qkv("inspect '" + packed.string() + "'", &out), 0) << out;
  EXPECT_NE(out.find("token_embd.weight"), std::string::npos) << out;
  EXPECT_NE(out.find("[header]"), std::string::npos) << out;
}

}  // namespace
}  // namespace qkv
