// PyTorch as an oracle: finding a python3 that can import torch, and running
// tests/train/torch_llama.py. Tests that need it skip, saying why, without it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "qkv/train_model.h"

namespace qkv::test {

// $QKV_PYTHON, else the first of python3, /usr/bin/python3 that imports
// torch and numpy; empty when none does.
const std::string& torch_python();

#define QKV_REQUIRE_TORCH()                                                                      \
  do {                                                                                           \
    if (::qkv::test::torch_python().empty())                                                     \
      GTEST_SKIP() << "PyTorch not found: no python3 here imports torch and numpy "              \
                      "(install python3-torch, or point QKV_PYTHON at a python that has it)";    \
  } while (0)

// Runs `python torch_llama.py <args>`; returns the exit status, the output in *output.
int run_torch_llama(const std::string& args, std::string* output);
// The same for another script in tests/train (e.g. torch_dpo.py).
int run_torch_script(const std::string& script, const std::string& args, std::string* output);

// Per tensor: max |ours - theirs| and max |theirs|, over the flat layout.
struct TensorDiff {
  std::string name;
  double max_diff = 0, max_ref = 0;
  double relative() const { return max_ref > 0 ? max_diff / max_ref : max_diff; }
};
std::vector<TensorDiff> compare_tensors(const std::vector<train::ParamInfo>& tensors, std::span<const float> ours,
                                        const std::vector<double>& theirs);

std::vector<double> read_doubles(const std::filesystem::path& p);

}  // namespace qkv::test
