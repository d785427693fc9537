#include "train/documents.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "qkv/error.h"
#include "qkv/file.h"
#include "qkv/train_data.h"

namespace qkv::train {
namespace fs = std::filesystem;

namespace {

bool is_corpus_file(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".txt" || ext == ".md" || ext == ".jsonl";
}

}  // namespace

std::vector<std::string> list_sources(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    std::error_code ec;
    const auto st = fs::status(in, ec);
    if (fs::is_regular_file(st)) {
      files.push_back(in);
    } else if (fs::is_directory(st)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(in, fs::directory_options::follow_directory_symlink))
        if (e.is_regular_file() && is_corpus_file(e.path())) found.push_back(e.path().string());
      if (found.empty()) throw Error(ErrorKind::IO, "the folder holds no .txt, .md or .jsonl file", in);
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      throw Error(ErrorKind::IO, "no such file or folder (--data)", in);
    }
  }
  return files;
}

void for_each_document(const std::string& path, const std::function<void(std::string_view)>& fn) {
  const MappedFile file(path);
  const std::string_view all(reinterpret_cast<const char*>(file.data()), file.size());
  if (fs::path(path).extension() != ".jsonl") {
    fn(all);
    return;
  }
  size_t line_no = 0;
  for (size_t at = 0; at < all.size();) {
    const size_t end = std::min(all.find('\n', at), all.size());
    const std::string_view line = all.substr(at, end - at);
    at = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const auto where = "line " + std::to_string(line_no) + ": ";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(ErrorKind::Format, where + "not JSON (" + e.what() + ")", path);
    }
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
      throw Error(ErrorKind::Format, where + "a JSONL corpus needs an object with a string \"text\" on every line",
                  path);
    fn(j["text"].get_ref<const std::string&>());
  }
}

}  // namespace qkv::train
