// What a model file is, decided by its bytes, never by its name: a .bin may
// be a PyTorch ZIP, a legacy pickle stream or something else entirely.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace qkv {

enum class FileFormat {
  GGUF,         // "GGUF" magic
  Safetensors,  // 8-byte little-endian header length, then '{'
  TorchZip,     // ZIP ("PK\3\4") holding <name>/data.pkl: torch.save since torch 1.6
  TorchLegacy,  // pickle protocol 2+ whose first value is torch.save's magic number
  HFDirectory,  // a folder with config.json (a Hugging Face model)
  Qkv,          // a .qkv container ("\x89QKV\r\n\x1a\n" magic, docs/qkv-format.md)
};

std::string_view format_name(FileFormat f);

// Throws qkv::Error (Format) naming what was expected when the path is none
// of these, and (IO) when it cannot be read.
FileFormat detect_format(const std::string& path);
// The same for a file's contents; `name` is used in error messages.
FileFormat detect_format(std::span<const uint8_t> bytes, const std::string& name);

}  // namespace qkv
