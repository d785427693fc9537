#include "train/torch_oracle.h"

#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "test_support.h"

namespace qkv::test {
namespace {

int run(const std::string& cmd, std::string* output) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  std::string out;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

const std::string& torch_python() {
  static const std::string found = [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("QKV_PYTHON"); env && *env) candidates.push_back(env);
    candidates.insert(candidates.end(), {"python3", "/usr/bin/python3"});
    for (const auto& py : candidates)
      if (run(py + " -c 'import torch, numpy'", nullptr) == 0) return py;
    return std::string();
  }();
  return found;
}

int run_torch_script(const std::string& script, const std::string& args, std::string* output) {
  const auto path = std::filesystem::path(QKV_SOURCE_DIR) / "tests/train" / script;
  return run(torch_python() + " '" + path.string() + "' " + args, output);
}

int run_torch_llama(const std::string& args, std::string* output) {
  return run_torch_script("torch_llama.py", args, output);
}

std::vector<TensorDiff> compare_tensors(const std::vector<train::ParamInfo>& tensors, std::span<const float> ours,
                                        const std::vector<double>& theirs) {
  std::vector<TensorDiff> out;
  for (const auto& t : tensors) {
    TensorDiff d{t.name};
    for (int64_t i = t.offset; i < t.offset + t.size(); ++i) {
      d.max_ref = std::max(d.max_ref, std::abs(theirs[i]));
      d.max_diff = std::max(d.max_diff, std::abs(double(ours[i]) - theirs[i]));
    }
    out.push_back(d);
  }
  return out;
}

std::vector<double> read_doubles(const std::filesystem::path& p) {
  const auto b = read_bytes(p);
  std::vector<double> v(b.size() / sizeof(double));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(double));
  return v;
}

}  // namespace qkv::test
