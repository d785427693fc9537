// Surgical alignment: audit_layout names what is wrong with a GGUF's tensor
// layout, repair() fixes what can be fixed without losing a byte of tensor
// data and refuses the rest, and the qkv CLI wraps both.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "qkv/error.h"
#include "qkv/gguf.h"
#include "qkv/gguf_check.h"
#include "test_support.h"

namespace qkv {
namespace {

using Kind = gguf::Problem::Kind;

std::vector<uint8_t> pattern(uint64_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (uint64_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * 131 + seed) % 255 + 1);  // never 0
  return v;
}

// Three tensors led by the design's example: a Q3_K tensor of 1382 blocks
// (110 bytes each, 152020 bytes), then an F32 norm and a small Q8_0 tensor.
struct Model {
  gguf::Metadata md;
  std::vector<gguf::TensorInfo> infos{{"blk.0.ffn_down.weight", {512, 691}, TensorType::Q3_K, 0},
                                      {"blk.0.ffn_norm.weight", {64}, TensorType::F32, 0},
                                      {"blk.0.attn_q.weight", {32, 2}, TensorType::Q8_0, 0}};
  std::vector<std::vector<uint8_t>> data;

  Model() {
    md.set("general.architecture", gguf::Value::string("llama"));
    for (size_t i = 0; i < infos.size(); ++i) data.push_back(pattern(infos[i].nbytes(), static_cast<uint8_t>(i)));
  }

  // The canonical file, as gguf::Writer lays it out.
  std::vector<uint8_t> write(const std::filesystem::path& p) const {
    gguf::Writer w(p.string(), md, infos);
    for (const auto& d : data) w.write_tensor(d);
    w.finish();
    return test::read_bytes(p);
  }

  // Byte surgery: the same header with the tensors moved to `offsets` inside
  // a data section of `data_size` bytes; every byte not holding tensor data
  // (padding, surplus) is `fill`.
  std::vector<uint8_t> relayout(const std::vector<uint64_t>& offsets, uint64_t data_size, uint8_t fill) const {
    auto moved = infos;
    for (size_t i = 0; i < moved.size(); ++i) moved[i].offset = offsets[i];
    std::vector<uint8_t> out = gguf::serialize_header(md, moved);
    out.resize(gguf::align_up(out.size(), gguf::kDefaultAlignment), 0);
    const size_t data_start = out.size();
    out.resize(data_start + data_size, fill);
    for (size_t i = 0; i < moved.size(); ++i) {
      EXPECT_LE(offsets[i] + data[i].size(), data_size);
      std::copy(data[i].begin(), data[i].end(), out.begin() + static_cast<ptrdiff_t>(data_start + offsets[i]));
    }
    return out;
  }
};

constexpr uint64_t kQ3Bytes = 1382 * 110;  // 152020
// The canonical offsets: each tensor starts at the aligned end of the one before.
constexpr uint64_t kNormAt = 152032, kAttnAt = kNormAt + 256;
// The broken layout: the Q3_K region holds 152064 bytes (44 past its last block,
// 32 of them beyond the alignment padding), the norm's 264 (8 surplus), and
// attn_q starts 8 bytes off the alignment.
constexpr uint64_t kBrokenNormAt = 152064, kBrokenAttnAt = kBrokenNormAt + 264;

std::vector<std::pair<Kind, std::string>> kinds(const gguf::AuditReport& r) {
  std::vector<std::pair<Kind, std::string>> out;
  for (const auto& p : r.problems) out.emplace_back(p.kind, p.tensor);
  return out;
}

std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

void expect_tensors_equal(const gguf::File& a, const gguf::File& b) {
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (size_t i = 0; i < a.tensors().size(); ++i) {
    SCOPED_TRACE(a.tensors()[i].name);
    const auto x = a.tensor_data(i), y = b.tensor_data(i);
    EXPECT_TRUE(std::equal(x.begin(), x.end(), y.begin(), y.end()));
  }
}

TEST(GgufAudit, CanonicalFilePasses) {
  test::TempDir tmp;
  const Model m;
  const auto bytes = m.write(tmp / "canonical.gguf");
  const auto f = gguf::File::parse(bytes, "canonical.gguf");
  EXPECT_EQ(f.tensors()[1].offset, kNormAt);
  EXPECT_EQ(f.tensors()[2].offset, kAttnAt);
  const auto r = gguf::audit_layout(f);
  EXPECT_TRUE(r.ok()) << r.problems.at(0).message;
  EXPECT_EQ(r.tensors, 3u);
  EXPECT_EQ(r.tensor_bytes, kQ3Bytes + 256 + 68);
  // The byte surgery itself reproduces the writer's layout exactly.
  EXPECT_EQ(m.relayout({0, kNormAt, kAttnAt}, bytes.size() - f.data_offset(), 0), bytes);
}

TEST(GgufAudit, SurplusAndMisalignmentAreRepairable) {
  const Model m;
  const auto bytes = m.relayout({0, kBrokenNormAt, kBrokenAttnAt}, kBrokenAttnAt + 68, 0);
  const auto f = gguf::File::parse(bytes, "broken.gguf", {.strict_layout = false});
  const auto r = gguf::audit_layout(f);
  const std::vector<std::pair<Kind, std::string>> want{{Kind::Surplus, "blk.0.ffn_down.weight"},
                                                       {Kind::Surplus, "blk.0.ffn_norm.weight"},
                                                       {Kind::Misaligned, "blk.0.attn_q.weight"}};
  EXPECT_EQ(kinds(r), want);
  EXPECT_TRUE(r.repairable());
  ASSERT_FALSE(r.problems.empty());
  EXPECT_EQ(r.problems[0].message,
            "its region holds 152064 bytes where its 1382 Q3_K blocks (110 bytes each) need 152020 bytes: "
            "44 bytes past the last block (32 beyond the alignment padding)");
  EXPECT_EQ(r.problems[0].offset, f.data_offset());
  // The strict reader refuses the misaligned tensor and says how to fix it.
  try {
    gguf::File::parse(bytes, "broken.gguf");
    ADD_FAILURE() << "the strict reader accepted a misaligned tensor";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Integrity);
    EXPECT_EQ(e.tensor(), "blk.0.attn_q.weight");
    EXPECT_NE(e.message().find("qkv repair"), std::string::npos) << e.what();
  }
}

TEST(GgufRepair, RestoresTheCanonicalLayoutKeepingEveryTensorByte) {
  test::TempDir tmp;
  const Model m;
  const auto canonical = m.write(tmp / "canonical.gguf");
  const auto broken = m.relayout({0, kBrokenNormAt, kBrokenAttnAt}, kBrokenAttnAt + 68, 0);
  const auto in = gguf::File::parse(broken, "broken.gguf", {.strict_layout = false});

  const auto res = gguf::repair(in, (tmp / "fixed.gguf").string());
  EXPECT_EQ(res.before.problems.size(), 3u);
  EXPECT_EQ(res.tensors_moved, 2u);
  EXPECT_EQ(res.old_size, broken.size());
  EXPECT_EQ(res.new_size, canonical.size());
  EXPECT_EQ(res.bytes_trimmed, broken.size() - canonical.size());

  const auto out = gguf::File::open((tmp / "fixed.gguf").string());  // strict
  EXPECT_TRUE(gguf::audit_layout(out).ok());
  expect_tensors_equal(in, out);
  EXPECT_EQ(test::read_bytes(tmp / "fixed.gguf"), canonical) << "repair must give the writer's canonical layout";
  EXPECT_EQ(files_in(tmp.path()), (std::vector<std::string>{"canonical.gguf", "fixed.gguf"})) << "temp file left";
}

TEST(GgufRepair, ZeroesNonZeroPadding) {
  test::TempDir tmp;
  const Model m;
  const auto canonical = m.write(tmp / "canonical.gguf");
  const auto c = gguf::File::parse(canonical, "canonical.gguf");
  // The canonical layout, but every padding byte is 0xAA.
  const auto dirty = m.relayout({0, kNormAt, kAttnAt}, canonical.size() - c.data_offset(), 0xAA);
  const auto in = gguf::File::parse(dirty, "dirty.gguf");  // padding is no concern of the strict reader
  const std::vector<std::pair<Kind, std::string>> want{{Kind::NonZeroPadding, "blk.0.ffn_down.weight"},
                                                       {Kind::NonZeroPadding, "blk.0.attn_q.weight"}};
  EXPECT_EQ(kinds(gguf::audit_layout(in)), want);

  const auto res = gguf::repair(in, (tmp / "fixed.gguf").string());
  EXPECT_EQ(res.tensors_moved, 0u);
  EXPECT_EQ(test::read_bytes(tmp / "fixed.gguf"), canonical);
}

// A tensor whose region is smaller than its exact size has lost data: repair
// must refuse it, create no output and leave no temp file behind.
void expect_refused(const std::vector<uint8_t>& bytes, Kind kind, const std::string& tensor) {
  test::TempDir tmp;
  test::write_bytes(tmp / "damaged.gguf", bytes);
  const auto f = gguf::File::open((tmp / "damaged.gguf").string(), {.strict_layout = false});
  const auto r = gguf::audit_layout(f);
  ASSERT_FALSE(r.problems.empty());
  EXPECT_EQ(r.problems[0].kind, kind);
  EXPECT_EQ(r.problems[0].tensor, tensor);
  EXPECT_FALSE(r.problems[0].repairable());
  EXPECT_FALSE(r.repairable());
  try {
    gguf::repair(f, (tmp / "out.gguf").string());
    ADD_FAILURE() << "repair accepted a damaged file";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Integrity);
    EXPECT_EQ(e.tensor(), tensor);
    EXPECT_NE(e.message().find("refusing to repair, no output written"), std::string::npos) << e.what();
  }
  EXPECT_EQ(files_in(tmp.path()), std::vector<std::string>{"damaged.gguf"}) << "repair left a file behind";
}

TEST(GgufRepair, RefusesAShortTensor) {
  const Model m;
  // The norm starts (aligned) 20 bytes before the Q3_K tensor's last block ends.
  expect_refused(m.relayout({0, kQ3Bytes - 20, kAttnAt}, kAttnAt + 68, 0), Kind::Short,
                 "blk.0.ffn_down.weight");
}

TEST(GgufRepair, RefusesATruncatedFile) {
  test::TempDir tmp;
  auto bytes = Model().write(tmp / "canonical.gguf");
  bytes.erase(bytes.end() - 50, bytes.end());  // ends 18 bytes into attn_q's 68
  expect_refused(bytes, Kind::OutOfFile, "blk.0.attn_q.weight");
}

// --- the CLI --------------------------------------------------------------

std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

TEST(QkvCli, CheckPassesEverySharedModel) {
  QKV_REQUIRE_SHARED("models");
  size_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(test::shared_dir() / "models")) {
    if (!e.is_regular_file() || e.path().extension() != ".gguf") continue;
    SCOPED_TRACE(e.path().string());
    std::string out;
    EXPECT_EQ(test::run_qkv("check " + q(e.path()), &out), 0) << out;
    EXPECT_EQ(out.rfind("PASS ", 0), 0u) << out;
    ++n;
  }
  EXPECT_GE(n, 20u) << "expected the llama.cpp GGUFs under ../shared/models";
}

TEST(QkvCli, RepairThenCheck) {
  test::TempDir tmp;
  const Model m;
  const auto canonical = m.write(tmp / "canonical.gguf");
  test::write_bytes(tmp / "broken.gguf", m.relayout({0, kBrokenNormAt, kBrokenAttnAt}, kBrokenAttnAt + 68, 0));
  std::string out;

  EXPECT_EQ(test::run_qkv("check " + q(tmp / "broken.gguf"), &out), 1) << out;
  EXPECT_NE(out.find("repairable: tensor 'blk.0.attn_q.weight'"), std::string::npos) << out;
  EXPECT_NE(out.find("3 problem(s) in 3 tensors; all repairable with 'qkv repair'"), std::string::npos) << out;

  EXPECT_EQ(test::run_qkv("repair " + q(tmp / "broken.gguf") + " -o " + q(tmp / "fixed.gguf"), &out), 0) << out;
  EXPECT_NE(out.find("3 problem(s) fixed, 2 tensors moved"), std::string::npos) << out;
  EXPECT_EQ(test::read_bytes(tmp / "fixed.gguf"), canonical);

  EXPECT_EQ(test::run_qkv("check " + q(tmp / "fixed.gguf"), &out), 0) << out;
  EXPECT_NE(out.find("PASS"), std::string::npos) << out;
}

TEST(QkvCli, RepairRefusesADamagedFileAndWritesNothing) {
  test::TempDir tmp;
  const Model m;
  test::write_bytes(tmp / "short.gguf", m.relayout({0, kQ3Bytes - 20, kAttnAt}, kAttnAt + 68, 0));
  std::string out;
  EXPECT_EQ(test::run_qkv("repair " + q(tmp / "short.gguf") + " -o " + q(tmp / "out.gguf"), &out), 1) << out;
  EXPECT_NE(out.find("integrity error"), std::string::npos) << out;
  EXPECT_NE(out.find("refusing to repair"), std::string::npos) << out;
  EXPECT_EQ(files_in(tmp.path()), std::vector<std::string>{"short.gguf"});
}

TEST(QkvCli, InspectJsonListsTheTensors) {
  test::TempDir tmp;
  const Model m;
  m.write(tmp / "model.gguf");
  std::string out;
  ASSERT_EQ(test::run_qkv("inspect --json " + q(tmp / "model.gguf"), &out), 0) << out;
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(out)) << out;
  EXPECT_EQ(j["format"], "gguf");
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["metadata"]["general.architecture"]["value"], "llama");
  ASSERT_EQ(j["tensors"].size(), m.infos.size());
  for (size_t i = 0; i < m.infos.size(); ++i) {
    EXPECT_EQ(j["tensors"][i]["name"], m.infos[i].name);
    EXPECT_EQ(j["tensors"][i]["type"], std::string(type_name(m.infos[i].type)));
    EXPECT_EQ(j["tensors"][i]["bytes"], m.infos[i].nbytes());
  }
}

TEST(QkvCli, HelpListsTheSubcommands) {
  std::string out;
  EXPECT_EQ(test::run_qkv("--help", &out), 0) << out;
  for (const char* cmd : {"inspect", "check", "repair"})
    EXPECT_NE(out.find(std::string("\n  ") + cmd + " "), std::string::npos) << cmd << " missing from:\n" << out;
}

TEST(QkvCli, VersionPrintsTheVersion) {
  std::string out;
  EXPECT_EQ(test::run_qkv("--version", &out), 0) << out;
  EXPECT_EQ(out, std::string("qkv ") + QKV_VERSION + "\n");
}

// A usage mistake is a short message and exit status 2 (main.cpp's contract):
// no stack dump, no abort.
void expect_usage_error(const std::string& args, std::string* out) {
  SCOPED_TRACE(args);
  EXPECT_EQ(test::run_qkv(args, out), 2) << *out;
  EXPECT_LE(std::count(out->begin(), out->end(), '\n'), 3) << *out;
  for (const char* crash : {"terminate called", "Aborted", "Segmentation", "#0 ", "internal error"})
    EXPECT_EQ(out->find(crash), std::string::npos) << *out;
}

TEST(QkvCli, UnknownFlagExits2WithAShortMessage) {
  test::TempDir tmp;
  Model().write(tmp / "model.gguf");
  std::string out;
  expect_usage_error("check --no-such-flag " + q(tmp / "model.gguf"), &out);
  EXPECT_NE(out.find("--no-such-flag"), std::string::npos) << "the message must name the flag:\n" << out;
  expect_usage_error("--no-such-flag", &out);
}

}  // namespace
}  // namespace qkv
