// Format detection looks at bytes only: real files from ../shared, files
// built here under misleading names, and files that are none of the formats.
#include "qkv/detect.h"

#include <cstring>

#include "qkv/error.h"
#include "qkv/safetensors.h"
#include "test_support.h"

namespace qkv {
namespace {

using test::TempDir;
using Bytes = std::vector<uint8_t>;

// torch.save's legacy stream begins with PROTO 2 and its magic number as a LONG1.
const Bytes kLegacyStart = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'};

// A ZIP with one empty stored entry.
Bytes zip_with(const std::string& name) {
  Bytes b;
  auto put = [&](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  put(0x04034b50, 4), put(20, 2), put(0, 2), put(0, 2), put(0, 4), put(0, 4), put(0, 4), put(0, 4);
  put(name.size(), 2), put(0, 2);
  b.insert(b.end(), name.begin(), name.end());
  const uint64_t cd = b.size();
  put(0x02014b50, 4), put(20, 2), put(20, 2), put(0, 2), put(0, 2), put(0, 4), put(0, 4), put(0, 4), put(0, 4);
  put(name.size(), 2), put(0, 2), put(0, 2), put(0, 2), put(0, 2), put(0, 4), put(0, 4);
  b.insert(b.end(), name.begin(), name.end());
  const uint64_t cd_size = b.size() - cd;
  put(0x06054b50, 4), put(0, 2), put(0, 2), put(1, 2), put(1, 2), put(cd_size, 4), put(cd, 4), put(0, 2);
  return b;
}

FileFormat detect_file(const TempDir& dir, const std::string& name, const Bytes& bytes) {
  test::write_bytes(dir / name, bytes);
  return detect_format((dir / name).string());
}

Error detect_error(const TempDir& dir, const std::string& name, const Bytes& bytes) {
  try {
    detect_file(dir, name, bytes);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << name << " was recognised";
  return Error(ErrorKind::Usage, "recognised");
}

TEST(Detect, SharedModels) {
  QKV_REQUIRE_SHARED("models");
  const auto m = test::shared_dir() / "models";
  EXPECT_EQ(detect_format((m / "gguf-stories260K/stories260K.gguf").string()), FileFormat::GGUF);
  EXPECT_EQ(detect_format((m / "hf-llama-tinystories-656k/model.safetensors").string()), FileFormat::Safetensors);
  EXPECT_EQ(detect_format((m / "hf-llama-tiny-random-4h/pytorch_model.bin").string()), FileFormat::TorchZip);
  EXPECT_EQ(detect_format((m / "hf-bloom-tiny-random/pytorch_model.bin").string()), FileFormat::TorchZip);
  EXPECT_EQ(detect_format((m / "hf-gpt2-tiny-random").string()), FileFormat::HFDirectory);
  // llama2.c's raw checkpoint is none of the formats.
  const Error e = [&] {
    try {
      detect_format((m / "llama2c-stories260K/stories260K.bin").string());
    } catch (const Error& err) {
      return err;
    }
    return Error(ErrorKind::Usage, "recognised");
  }();
  EXPECT_EQ(e.kind(), ErrorKind::Format);
  EXPECT_NE(e.message().find("unrecognised file format"), std::string::npos) << e.what();
}

TEST(Detect, ByBytesNeverByName) {
  TempDir dir;
  Bytes st = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
  EXPECT_EQ(detect_file(dir, "model.gguf", st), FileFormat::Safetensors);
  EXPECT_EQ(detect_file(dir, "model.safetensors", {'G', 'G', 'U', 'F', 3, 0, 0, 0}), FileFormat::GGUF);
  EXPECT_EQ(detect_file(dir, "weights.safetensors", zip_with("weights/data.pkl")), FileFormat::TorchZip);
  EXPECT_EQ(detect_file(dir, "model.zip", kLegacyStart), FileFormat::TorchLegacy);
  EXPECT_EQ(detect_file(dir, "noext", kLegacyStart), FileFormat::TorchLegacy);
}

TEST(Detect, WrittenSafetensorsIsDetected) {
  TempDir dir;
  const std::string path = (dir / "x.bin").string();
  safetensors::Writer w(path, {{"a", DType::F32, {1}}});
  w.write_tensor(std::vector<uint8_t>(4));
  w.finish();
  EXPECT_EQ(detect_format(path), FileFormat::Safetensors);
}

TEST(Detect, TorchLegacyFromTheBytesAlone) {
  // Another protocol number still carries the magic number.
  Bytes p4 = kLegacyStart;
  p4[1] = 4;
  EXPECT_EQ(detect_format(p4, "p4"), FileFormat::TorchLegacy);
  // A pickle that is not torch's.
  Bytes other = kLegacyStart;
  other[5] ^= 1;
  EXPECT_THROW(detect_format(other, "other"), Error);
}

TEST(Detect, ZipThatIsNotACheckpoint) {
  TempDir dir;
  const Error e = detect_error(dir, "archive.pt", zip_with("readme.txt"));
  EXPECT_NE(e.message().find("not a PyTorch checkpoint"), std::string::npos) << e.what();
  // data.pkl must sit in a top-level folder, as torch.save writes it.
  EXPECT_THROW(detect_file(dir, "flat.pt", zip_with("data.pkl")), Error);
  EXPECT_THROW(detect_file(dir, "deep.pt", zip_with("a/b/data.pkl")), Error);
  // A truncated ZIP is reported as such, not as an unknown format.
  const Bytes whole = zip_with("w/data.pkl");
  const Bytes cut(whole.begin(), whole.end() - 5);
  EXPECT_NE(detect_error(dir, "cut.pt", cut).message().find("end-of-central-directory"), std::string::npos);
}

TEST(Detect, UnknownListsWhatWasExpected) {
  TempDir dir;
  const Error e = detect_error(dir, "model.gguf", {0x7f, 'E', 'L', 'F', 2, 1, 1});
  EXPECT_EQ(e.kind(), ErrorKind::Format);
  EXPECT_EQ(e.file(), (dir / "model.gguf").string());
  for (const char* expected : {"7f 45 4c 46", "GGUF", "safetensors", "PyTorch", "config.json"})
    EXPECT_NE(e.message().find(expected), std::string::npos) << expected << " in: " << e.what();
  EXPECT_NE(detect_error(dir, "empty.safetensors", {}).message().find("the file is empty"), std::string::npos);
}

TEST(Detect, Directories) {
  TempDir dir;
  const Error e = [&] {
    try {
      detect_format(dir.path().string());
    } catch (const Error& err) {
      return err;
    }
    return Error(ErrorKind::Usage, "recognised");
  }();
  EXPECT_NE(e.message().find("without config.json"), std::string::npos) << e.what();
  test::write_bytes(dir / "config.json", {'{', '}'});
  EXPECT_EQ(detect_format(dir.path().string()), FileFormat::HFDirectory);
  EXPECT_THROW(detect_format((dir / "missing.bin").string()), Error);
}

}  // namespace
}  // namespace qkv
