// The malformed-GGUF corpus (tests/data/gguf-malformed, written by
// scripts/make-gguf-malformed-corpus.py): for every file, the strict reader
// throws the expected kind of error with the expected message (or reads it),
// the lenient reader plus the audit never crash, and `qkv check` exits with
// the expected status and says what is wrong.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "qkv/error.h"
#include "qkv/gguf.h"
#include "qkv/gguf_check.h"
#include "test_support.h"

namespace qkv {
namespace {

const std::filesystem::path kCorpus = std::filesystem::path(QKV_SOURCE_DIR) / "tests" / "data" / "gguf-malformed";

struct Expected {
  std::string file;
  std::string strict;          // "ok" or an error_kind_name()
  std::string strict_message;  // substring of what(); "-" when ok
  int check_exit = 0;
  std::string check_output;    // substring of `qkv check` output
  std::string what;
};

std::vector<Expected> load_expected() {
  std::ifstream in(kCorpus / "expected.tsv");
  if (!in) throw std::runtime_error("cannot open " + (kCorpus / "expected.tsv").string());
  std::vector<Expected> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string field; std::getline(ss, field, '\t');) f.push_back(field);
    if (f.size() != 6) throw std::runtime_error("expected.tsv: not 6 fields: " + line);
    rows.push_back({f[0], f[1], f[2], std::stoi(f[3]), f[4], f[5]});
  }
  return rows;
}

std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

TEST(GgufMalformed, ExpectedListsEveryFileOnce) {
  std::set<std::string> listed, on_disk;
  for (const auto& e : load_expected()) EXPECT_TRUE(listed.insert(e.file).second) << "listed twice: " << e.file;
  for (const auto& d : std::filesystem::directory_iterator(kCorpus))
    if (d.path().extension() == ".gguf") on_disk.insert(d.path().filename().string());
  EXPECT_EQ(listed, on_disk) << "rerun scripts/make-gguf-malformed-corpus.py";
  EXPECT_GE(listed.size(), 50u);
}

TEST(GgufMalformed, StrictReaderThrowsTheExpectedError) {
  for (const auto& e : load_expected()) {
    SCOPED_TRACE(e.file + " (" + e.what + ")");
    const auto path = (kCorpus / e.file).string();
    if (e.strict == "ok") {
      EXPECT_NO_THROW(gguf::File::open(path));
      continue;
    }
    try {
      gguf::File::open(path);
      ADD_FAILURE() << "read without an error; expected a " << e.strict << " error";
    } catch (const Error& err) {
      EXPECT_EQ(error_kind_name(err.kind()), e.strict) << err.what();
      EXPECT_NE(std::string(err.what()).find(e.strict_message), std::string::npos)
          << "message: " << err.what() << "\nexpected to contain: " << e.strict_message;
      EXPECT_EQ(err.file(), path) << "the error must name the file";
    }
  }
}

// What `qkv check` and `qkv inspect` do in-process: the lenient reader, the
// audit, and every tensor's bytes. Only qkv::Error may come out; ASan and
// UBSan (CI runs this suite under both) catch any read outside the file.
TEST(GgufMalformed, LenientReaderAndAuditNeverMisbehave) {
  for (const auto& e : load_expected()) {
    SCOPED_TRACE(e.file);
    const auto bytes = test::read_bytes(kCorpus / e.file);
    try {
      const auto f = gguf::File::parse(bytes, e.file, {.strict_layout = false});
      const auto report = gguf::audit_layout(f);
      EXPECT_EQ(report.ok(), e.check_exit == 0);
      for (size_t i = 0; i < f.tensors().size(); ++i) {
        try {
          const auto data = f.tensor_data(i);
          EXPECT_LE(data.data() + data.size(), bytes.data() + bytes.size());
        } catch (const Error& err) {
          EXPECT_EQ(err.kind(), ErrorKind::Integrity) << err.what();
        }
      }
    } catch (const Error& err) {
      EXPECT_EQ(e.check_exit, 1) << "lenient reader refused a file that should pass: " << err.what();
      EXPECT_NE(err.kind(), ErrorKind::Integrity) << "layout problems are the audit's to report: " << err.what();
    }
  }
}

TEST(GgufMalformed, QkvCheckExitsAndExplains) {
  for (const auto& e : load_expected()) {
    SCOPED_TRACE(e.file + " (" + e.what + ")");
    std::string out;
    const int rc = test::run_qkv("check " + quoted(kCorpus / e.file), &out);
    ASSERT_LT(rc, 128) << "qkv check crashed:\n" << out;
    EXPECT_EQ(rc, e.check_exit) << out;
    EXPECT_NE(out.find(e.check_output), std::string::npos) << "output:\n" << out << "expected to contain: " << e.check_output;
    EXPECT_EQ(out.find("internal error"), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace qkv
