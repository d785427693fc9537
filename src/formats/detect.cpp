// Format detection by magic bytes. Each test is the cheapest one that tells
// the formats apart; the readers then check everything else.
#include "qkv/detect.h"

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "formats/zip_reader.h"
#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/qkv_file.h"
#include "qkv/safetensors.h"

namespace qkv {
namespace {

// PROTO n, then LONG1 of 10 bytes: torch.save's magic number 0x1950a86a20f9469cfc6c.
constexpr std::array<uint8_t, 12> kLegacyMagic = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                                  0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

bool is_torch_legacy(std::span<const uint8_t> b) {
  return b.size() >= 2 + kLegacyMagic.size() && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5 &&
         std::memcmp(b.data() + 2, kLegacyMagic.data(), kLegacyMagic.size()) == 0;
}

// A length within the reader's cap, then '{'. Whether the file is long
// enough is left to the reader, which explains a truncated file far better
// than "unknown format" would.
bool is_safetensors(std::span<const uint8_t> b) {
  if (b.size() < 9 || b[8] != '{') return false;
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  return n >= 2 && n <= safetensors::kMaxHeaderSize;
}

std::string first_bytes(std::span<const uint8_t> b) {
  if (b.empty()) return "the file is empty";
  std::string s = "first bytes:";
  for (size_t i = 0; i < b.size() && i < 16; ++i) {
    char hex[4];
    std::snprintf(hex, sizeof(hex), " %02x", b[i]);
    s += hex;
  }
  return s;
}

}  // namespace

std::string_view format_name(FileFormat f) {
  switch (f) {
    case FileFormat::GGUF: return "GGUF";
    case FileFormat::Safetensors: return "safetensors";
    case FileFormat::TorchZip: return "PyTorch checkpoint (ZIP)";
    case FileFormat::TorchLegacy: return "PyTorch checkpoint (legacy)";
    case FileFormat::HFDirectory: return "Hugging Face model folder";
    case FileFormat::Qkv: return ".qkv container";
  }
  return "unknown";
}

FileFormat detect_format(std::span<const uint8_t> b, const std::string& name) {
  if (b.size() >= 4 && std::memcmp(b.data(), "GGUF", 4) == 0) return FileFormat::GGUF;
  if (qkvfile::is_qkv(b)) return FileFormat::Qkv;
  if (zip::looks_like_zip(b)) {
    const auto archive = zip::Archive::parse(b, name);
    if (!archive.find_in_folders("data.pkl").empty()) return FileFormat::TorchZip;
    throw Error(ErrorKind::Format, "a ZIP archive, but not a PyTorch checkpoint (it has no <name>/data.pkl entry)",
                name);
  }
  if (is_torch_legacy(b)) return FileFormat::TorchLegacy;
  if (is_safetensors(b)) return FileFormat::Safetensors;
  throw Error(ErrorKind::Format,
              "unrecognised file format (" + first_bytes(b) +
                  "); expected GGUF (magic 'GGUF'), safetensors (an 8-byte header length, then '{'), a PyTorch "
                  "checkpoint (a ZIP with <name>/data.pkl, or a pickle starting with torch.save's magic number) or "
                  "a Hugging Face model folder (with config.json)",
              name);
}

FileFormat detect_format(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    if (std::filesystem::is_regular_file(std::filesystem::path(path) / "config.json", ec))
      return FileFormat::HFDirectory;
    throw Error(ErrorKind::Format,
                "a folder without config.json; expected a Hugging Face model folder (config.json beside "
                "*.safetensors or pytorch_model.bin) or a model file",
                path);
  }
  const MappedFile map(path);
  return detect_format(map.bytes(), path);
}

}  // namespace qkv
