#include "convert/source.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "qkv/detect.h"
#include "qkv/error.h"

namespace qkv::convert {
namespace {

namespace fs = std::filesystem;

// Shard file names from a *.index.json weight map, in first-seen order.
std::vector<fs::path> shards_from_index(const fs::path& index) {
  std::ifstream f(index);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::Format, std::string("invalid JSON: ") + e.what(), index.string());
  }
  if (!j.contains("weight_map") || !j["weight_map"].is_object())
    throw Error(ErrorKind::Format, "has no weight_map", index.string());
  std::vector<fs::path> out;
  std::set<std::string> seen;
  for (const auto& [name, file] : j["weight_map"].items()) {
    const std::string f = file.get<std::string>();
    if (f.find('/') != std::string::npos || f.find("..") != std::string::npos)
      throw Error(ErrorKind::Format, "weight_map names a file outside the folder: " + f, index.string());
    if (seen.insert(f).second) out.push_back(index.parent_path() / f);
  }
  return out;
}

std::vector<fs::path> weight_files(const fs::path& dir) {
  for (const char* idx : {"model.safetensors.index.json", "pytorch_model.bin.index.json"})
    if (fs::exists(dir / idx)) return shards_from_index(dir / idx);
  for (const char* single : {"model.safetensors", "pytorch_model.bin", "consolidated.safetensors"})
    if (fs::exists(dir / single)) return {dir / single};
  std::vector<fs::path> any;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") any.push_back(e.path());
  std::sort(any.begin(), any.end());
  if (any.empty())
    throw Error(ErrorKind::Format,
                "no weights found: expected model.safetensors, sharded *.safetensors with an index, or pytorch_model.bin",
                dir.string());
  return any;
}

}  // namespace

WeightSource WeightSource::open(const fs::path& path) {
  WeightSource s;
  std::vector<fs::path> files;
  if (fs::is_directory(path)) {
    s.folder_ = path;
    files = weight_files(path);
  } else {
    s.folder_ = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    files = {path};
  }
  for (const auto& f : files) {
    switch (detect_format(f.string())) {
      case FileFormat::Safetensors: {
        auto st = std::make_shared<safetensors::File>(safetensors::File::open(f.string()));
        for (const auto& t : st->tensors()) s.tensors_.push_back(&t);
        s.st_.push_back(std::move(st));
        break;
      }
      case FileFormat::TorchZip:
      case FileFormat::TorchLegacy: {
        auto pt = std::make_shared<torch::Checkpoint>(torch::Checkpoint::open(f.string()));
        for (const auto& t : pt->tensors()) s.tensors_.push_back(&t);
        s.pt_.push_back(std::move(pt));
        break;
      }
      default:
        throw Error(ErrorKind::Unsupported, "is not a safetensors or PyTorch checkpoint", f.string());
    }
  }
  std::set<std::string> names;
  for (const auto* t : s.tensors_)
    if (!names.insert(t->name).second)
      throw Error(ErrorKind::Format, "tensor '" + t->name + "' appears in more than one weight file", path.string());
  return s;
}

const CheckpointTensor* WeightSource::find(const std::string& name) const {
  for (const auto* t : tensors_)
    if (t->name == name) return t;
  return nullptr;
}

}  // namespace qkv::convert
