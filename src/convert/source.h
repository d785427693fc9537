// The weights of a Hugging Face model, from whatever files hold them.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "qkv/safetensors.h"
#include "qkv/torch_checkpoint.h"

namespace qkv::convert {

// Opens every weight file of a model (one or sharded; safetensors or torch)
// and lists their tensors. The readers stay open (mmap'd) as long as this lives.
class WeightSource {
 public:
  // path: a folder or a single checkpoint file.
  static WeightSource open(const std::filesystem::path& path);
  const std::vector<const CheckpointTensor*>& tensors() const { return tensors_; }
  const CheckpointTensor* find(const std::string& name) const;
  const std::filesystem::path& folder() const { return folder_; }

 private:
  std::filesystem::path folder_;
  std::vector<std::shared_ptr<safetensors::File>> st_;
  std::vector<std::shared_ptr<torch::Checkpoint>> pt_;
  std::vector<const CheckpointTensor*> tensors_;
};

}  // namespace qkv::convert
