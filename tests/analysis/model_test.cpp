// analyze_model on the tiny llama that llama.cpp itself quantized: our recipes
// give its files' types and sizes, and our predicted errors equal the errors
// of llama.cpp's own files, dequantized by the scalar references.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "qkv/analysis.h"
#include "qkv/error.h"
#include "qkv/gguf.h"
#include "qkv/qkv_file.h"
#include "qkv/quant.h"
#include "test_support.h"

namespace qkv::analysis {
namespace {

const std::string kDir = "models/gguf-llamacpp-quantized";

std::string model_path(const std::string& ftype) {
  return (test::shared_dir() / kDir / ("tiny-llama-" + ftype + ".gguf")).string();
}

std::vector<float> floats_of(const gguf::File& f, size_t i) {
  const auto& t = f.tensors()[i];
  const auto bytes = f.tensor_data(i);
  std::vector<float> w(t.n_elements());
  const int64_t n = static_cast<int64_t>(t.shape[0]);
  quant::dequantize_reference(t.type, bytes.data(), w.data(), static_cast<int64_t>(w.size()) / n, n);
  return w;
}

class AnalysisModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (test::shared_dir().empty() || !std::filesystem::exists(test::shared_dir() / kDir)) return;
    AnalyzeOptions o;
    o.sample = 0;  // every row: the errors must be the whole files' errors
    o.threads = 2;
    o.progress = false;
    full_ = new ModelAnalysis(analyze_model(model_path("F32"), o));
  }
  static void TearDownTestSuite() {
    delete full_;
    full_ = nullptr;
  }
  void SetUp() override { QKV_REQUIRE_SHARED(kDir); }
  static ModelAnalysis* full_;
};
ModelAnalysis* AnalysisModel::full_ = nullptr;

TEST_F(AnalysisModel, RecipesAreLlamaCppsFilesAndTheirErrors) {
  const auto src = gguf::File::open(model_path("F32"));
  size_t checked = 0;
  for (const auto& r : full_->recipes) {
    SCOPED_TRACE(r.name);
    const auto theirs = gguf::File::open(model_path(r.name));
    uint64_t bytes = 0;
    double error = 0;
    for (size_t i = 0; i < src.tensors().size(); ++i) {
      const auto& t = src.tensors()[i];
      const auto* q = theirs.find_tensor(t.name);
      ASSERT_NE(q, nullptr) << t.name;
      EXPECT_EQ(r.types[i], q->type) << t.name;
      bytes += q->nbytes();
      if (q->type == TensorType::F32) continue;
      // The error of llama.cpp's bytes, computed here in the plainest way.
      const auto w = floats_of(src, i);
      const auto back = floats_of(theirs, static_cast<size_t>(q - theirs.tensors().data()));
      double se = 0, sn = 0;
      for (size_t j = 0; j < w.size(); ++j) se += double(w[j] - back[j]) * double(w[j] - back[j]), sn += double(w[j]) * w[j];
      error += double(t.n_elements()) * se / sn;
    }
    error /= double(full_->params);
    EXPECT_EQ(r.bytes, bytes);
    EXPECT_NEAR(r.error, error, 1e-9 * error);
    ASSERT_TRUE(r.frontier_point.has_value());
    EXPECT_LE(full_->frontier.points[*r.frontier_point].error, r.error * (1 + 1e-12))
        << "the frontier is never worse than a recipe of the same size here";
    ++checked;
  }
  EXPECT_EQ(checked, 16u);
}

TEST_F(AnalysisModel, EveryTensorMeasured) {
  const auto& a = *full_;
  EXPECT_EQ(a.arch, "llama");
  ASSERT_EQ(a.tensors.size(), 39u);
  size_t quantizable = 0;
  for (const auto& t : a.tensors) {
    SCOPED_TRACE(t.name);
    EXPECT_TRUE(t.readable);
    EXPECT_EQ(t.stats.count, t.params);
    EXPECT_EQ(t.histogram.total(), t.params);
    ASSERT_TRUE(t.lossless.has_value());
    EXPECT_TRUE(t.lossless->converted);  // F32 measured as F16
    EXPECT_GT(t.lossless->codec_bits, 0);
    if (!t.quantizable) {
      EXPECT_TRUE(t.errors.empty());
      continue;
    }
    ++quantizable;
    EXPECT_EQ(t.sampled_rows, t.rows);
    EXPECT_EQ(t.sensitivity_type, TensorType::Q3_K);
    // Every default type fits a 256 or 768 row; more bits, less error, within a family.
    EXPECT_EQ(t.errors.size(), a.types.size());
    EXPECT_LT(t.error_for(TensorType::Q8_0)->rel_error, t.error_for(TensorType::Q6_K)->rel_error);
    EXPECT_LT(t.error_for(TensorType::Q6_K)->rel_error, t.error_for(TensorType::Q4_K)->rel_error);
    EXPECT_LT(t.error_for(TensorType::Q4_K)->rel_error, t.error_for(TensorType::Q2_K)->rel_error);
    // Weights N(0, 0.02^2): the moments say so.
    EXPECT_NEAR(t.stats.stddev, 0.02, 0.001);
    EXPECT_NEAR(t.stats.kurtosis, 3.0, 0.2);
  }
  EXPECT_EQ(quantizable, 30u);
  EXPECT_EQ(a.families.size(), 12u);  // token_embd, 9 per-layer families, output_norm, output
}

TEST_F(AnalysisModel, JsonHasEveryTensorAndTheFrontier) {
  const auto j = nlohmann::json::parse(report_json(*full_));
  const auto src = gguf::File::open(model_path("F32"));
  ASSERT_EQ(j["tensors"].size(), src.tensors().size());
  for (size_t i = 0; i < src.tensors().size(); ++i) {
    const auto& t = j["tensors"][i];
    EXPECT_EQ(t["name"], src.tensors()[i].name);
    EXPECT_EQ(t["params"].get<uint64_t>(), src.tensors()[i].n_elements());
    EXPECT_TRUE(t["stats"].is_object());
    EXPECT_EQ(t["errors"].size(), full_->tensors[i].errors.size());
  }
  ASSERT_EQ(j["recipes"].size(), 16u);
  EXPECT_EQ(j["layers"].size(), 4u);
  EXPECT_EQ(j["layers"][0]["tensors"].size(), 7u);
  const auto& fr = j["frontier"];
  ASSERT_GT(fr.size(), 10u);
  for (size_t k = 1; k < fr.size(); ++k) {
    EXPECT_GT(fr[k]["bytes"].get<uint64_t>(), fr[k - 1]["bytes"].get<uint64_t>());
    EXPECT_LT(fr[k]["error"].get<double>(), fr[k - 1]["error"].get<double>());
  }
  uint64_t hist = 0;
  for (const auto& f : j["families"]) {
    const auto& h = f["histogram_of_standardized_values"];
    for (auto c : h["bins"]) hist += c.get<uint64_t>();
    hist += h["below"].get<uint64_t>() + h["above"].get<uint64_t>();
  }
  EXPECT_EQ(hist, full_->params);
}

TEST_F(AnalysisModel, ThreadsSampleAndQkvInputChangeNothingButWhatTheyShould) {
  test::TempDir tmp;
  const auto packed = (tmp / "m.qkv").string();
  qkvfile::CompressOptions co;
  co.progress = false;
  qkvfile::compress(model_path("F32"), packed, co);
  AnalyzeOptions o;
  o.sample = 0;
  o.threads = 1;
  o.progress = false;
  o.types = {TensorType::Q4_K, TensorType::Q8_0};
  const auto a = analyze_model(packed, o);
  ASSERT_EQ(a.tensors.size(), full_->tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& x = a.tensors[i];
    const auto& y = full_->tensors[i];
    EXPECT_EQ(x.stats.mean, y.stats.mean);
    EXPECT_EQ(x.stats.kurtosis, y.stats.kurtosis);
    EXPECT_EQ(x.lossless->entropy16, y.lossless->entropy16);
    for (const auto& e : x.errors) EXPECT_EQ(e.rel_error, y.error_for(e.type)->rel_error) << x.name;
  }
  // 1024 weights per tensor: 4 rows of 256 (1 of 768); every tensor still measured, errors alike.
  o.sample = 4 * 256;
  const auto s = analyze_model(model_path("F32"), o);
  for (size_t i = 0; i < s.tensors.size(); ++i) {
    const auto& t = s.tensors[i];
    if (t.errors.empty()) continue;
    EXPECT_EQ(t.sampled_rows, t.shape[0] == 256 ? 4u : 1u) << t.name;
    const double full = full_->tensors[i].error_for(TensorType::Q4_K)->rel_error;
    EXPECT_NEAR(t.error_for(TensorType::Q4_K)->rel_error, full, 0.25 * full) << t.name;
  }
}

TEST_F(AnalysisModel, ImportanceMatrixWeightsTheErrors) {
  test::TempDir tmp;
  const std::string name = "blk.0.ffn_up.weight";
  std::vector<float> sums(256), counts = {2.0f};
  for (int i = 0; i < 256; ++i) sums[size_t(i)] = float(1 + (i * 7) % 50);
  const auto imat = (tmp / "imatrix.gguf").string();
  {
    gguf::Writer w(imat, {}, {{name + ".in_sum2", {256, 1}, TensorType::F32, 0}, {name + ".counts", {1, 1}, TensorType::F32, 0}});
    w.write_tensor({reinterpret_cast<const uint8_t*>(sums.data()), sums.size() * 4});
    w.write_tensor({reinterpret_cast<const uint8_t*>(counts.data()), 4});
    w.finish();
  }
  AnalyzeOptions o;
  o.sample = 0;
  o.progress = false;
  o.imatrix_path = imat;
  o.types = {TensorType::Q4_K, TensorType::Q8_0};
  const auto a = analyze_model(model_path("F32"), o);
  EXPECT_EQ(a.imatrix_matched, 1u);
  const auto src = gguf::File::open(model_path("F32"));
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& t = a.tensors[i];
    if (t.errors.empty()) continue;
    EXPECT_EQ(t.imatrix, t.name == name);
    if (t.name != name) {
      EXPECT_EQ(t.error_for(TensorType::Q4_K)->rel_error, full_->tensors[i].error_for(TensorType::Q4_K)->rel_error);
      continue;
    }
    // Quantized with the weights, and the error weighted by them.
    const auto w = floats_of(src, i);
    std::vector<float> imp(256);
    for (size_t k = 0; k < 256; ++k) imp[k] = sums[k] / 2;
    const int64_t rows = int64_t(w.size() / 256);
    std::vector<uint8_t> q(row_bytes(TensorType::Q4_K, 256) * uint64_t(rows));
    std::vector<float> back(w.size());
    quant::quantize_reference(TensorType::Q4_K, w.data(), q.data(), rows, 256, imp.data());
    quant::dequantize_reference(TensorType::Q4_K, q.data(), back.data(), rows, 256);
    double se = 0, sn = 0;
    for (size_t j = 0; j < w.size(); ++j) {
      const double d = double(w[j]) - back[j];
      se += imp[j % 256] * d * d;
      sn += imp[j % 256] * double(w[j]) * w[j];
    }
    EXPECT_NEAR(t.error_for(TensorType::Q4_K)->rel_error, se / sn, 1e-9 * se / sn);
    EXPECT_TRUE(t.error_for(TensorType::Q4_K)->imatrix_used);
    EXPECT_FALSE(t.error_for(TensorType::Q8_0)->imatrix_used);  // ggml's Q8_0 ignores importance
  }
}

TEST(AnalysisModelNames, TensorFamilies) {
  int layer = 0;
  EXPECT_EQ(tensor_family("blk.12.attn_q.weight", &layer), "attn_q");
  EXPECT_EQ(layer, 12);
  EXPECT_EQ(tensor_family("token_embd.weight", &layer), "token_embd");
  EXPECT_EQ(layer, -1);
  EXPECT_EQ(tensor_family("blk.3.ffn_down_exps.weight", &layer), "ffn_down_exps");
  EXPECT_EQ(tensor_family("blk.0.attn_q.bias", &layer), "attn_q.bias");
  EXPECT_EQ(tensor_family("blk.x.attn_q.weight", &layer), "blk.x.attn_q");
  EXPECT_EQ(layer, -1);
}

TEST(AnalysisModelInput, NonFiniteTensorsAreCountedNotMeasured) {
  test::TempDir tmp;
  const auto path = (tmp / "nan.gguf").string();
  std::vector<float> a(256 * 4, 0.01f), b(256 * 4), norm(256, 1.0f);
  for (size_t i = 0; i < b.size(); ++i) b[i] = 0.02f * std::sin(float(i));
  a[5] = NAN;
  a[9] = INFINITY;
  gguf::Metadata md;
  md.set("general.architecture", gguf::Value::string("llama"));
  md.set("llama.block_count", gguf::Value::u32(1));
  {
    gguf::Writer w(path, md, {{"blk.0.attn_norm.weight", {256}, TensorType::F32, 0},
                              {"blk.0.attn_q.weight", {256, 4}, TensorType::F32, 0},
                              {"blk.0.ffn_up.weight", {256, 4}, TensorType::F32, 0}});
    for (const auto* v : {&norm, &a, &b}) w.write_tensor({reinterpret_cast<const uint8_t*>(v->data()), v->size() * 4});
    w.finish();
  }
  AnalyzeOptions o;
  o.progress = false;
  const auto r = analyze_model(path, o);
  ASSERT_EQ(r.tensors.size(), 3u);
  EXPECT_EQ(r.tensors[1].stats.nonfinite, 2u);
  EXPECT_EQ(r.tensors[1].stats.count, 256u * 4 - 2);
  EXPECT_TRUE(r.tensors[1].errors.empty());
  EXPECT_FALSE(r.tensors[2].errors.empty());
  const auto j = nlohmann::json::parse(report_json(r));
  EXPECT_EQ(j["unmeasured_tensors"], nlohmann::json::array({"blk.0.attn_q.weight"}));
  EXPECT_NE(report_text(r).find("not measured"), std::string::npos);
  EXPECT_NE(report_html(r).find("not measured"), std::string::npos);
}

TEST(AnalysisModelInput, BadFilesGiveTypedErrorsNamingThem) {
  test::TempDir tmp;
  auto expect_error = [](const std::function<void()>& fn, ErrorKind kind, const std::string& file) {
    try {
      fn();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), kind) << e.what();
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    }
  };
  AnalyzeOptions o;
  o.progress = false;
  const auto missing = (tmp / "missing.gguf").string();
  expect_error([&] { analyze_model(missing, o); }, ErrorKind::IO, missing);
  const auto junk = (tmp / "junk.gguf").string();
  test::write_bytes(junk, std::vector<uint8_t>(100, 0x47));
  expect_error([&] { analyze_model(junk, o); }, ErrorKind::Format, junk);
  // A GGUF cut short: its tensor data lies past the end.
  QKV_REQUIRE_SHARED(kDir);
  auto bytes = test::read_bytes(model_path("F32"));
  bytes.resize(bytes.size() / 2);
  const auto cut = (tmp / "cut.gguf").string();
  test::write_bytes(cut, bytes);
  EXPECT_THROW(analyze_model(cut, o), Error);
  try {
    analyze_model(cut, o);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(cut), std::string::npos) << e.what();
  }
  o.imatrix_path = (tmp / "no-imatrix.gguf").string();
  expect_error([&] { analyze_model(model_path("F32"), o); }, ErrorKind::IO, o.imatrix_path);
  o.imatrix_path = junk;
  expect_error([&] { analyze_model(model_path("F32"), o); }, ErrorKind::Format, junk);
  // An imatrix whose vector does not fit the tensor.
  const auto wrong = (tmp / "wrong.gguf").string();
  {
    std::vector<float> sums(128, 1.0f), counts = {1.0f};
    gguf::Writer w(wrong, {}, {{"blk.0.ffn_up.weight.in_sum2", {128, 1}, TensorType::F32, 0},
                               {"blk.0.ffn_up.weight.counts", {1, 1}, TensorType::F32, 0}});
    w.write_tensor({reinterpret_cast<const uint8_t*>(sums.data()), 512});
    w.write_tensor({reinterpret_cast<const uint8_t*>(counts.data()), 4});
    w.finish();
  }
  o.imatrix_path = wrong;
  expect_error([&] { analyze_model(model_path("F32"), o); }, ErrorKind::Usage, wrong);
  o.imatrix_path.clear();
  o.sensitivity_type = TensorType::F16;
  expect_error([&] { analyze_model(model_path("F32"), o); }, ErrorKind::Usage, "F16");
}

}  // namespace
}  // namespace qkv::analysis
