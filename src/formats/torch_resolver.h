// The allow-list that turns a torch.save pickle into storages and tensors.
// Only these globals are understood, as data:
//   collections.OrderedDict          -> an empty dict (items follow as SETITEMS)
//   torch.Size                       -> its tuple
//   torch._utils._rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3,
//     _rebuild_parameter, _rebuild_parameter_with_state -> a tensor record
//   torch.<Type>Storage, torch.UntypedStorage -> a storage type (only as a
//     persistent id field)
//   torch.<dtype> (torch.float32, ...) -> a dtype (an argument of v3)
// Any other global is refused by name; nothing is ever called.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "formats/pickle.h"
#include "qkv/safetensors.h"

namespace qkv::torch {

struct Storage {
  std::string key;                 // names its bytes: <archive>/data/<key>, or a legacy stream key
  std::string type;                // "torch.FloatStorage", ...
  std::optional<DType> dtype;      // nullopt for types QKV Core does not read (complex, quantized)
  uint32_t element_size = 1;
  uint64_t numel = 0;              // in elements of the storage type
  uint64_t nbytes = 0;             // numel * element_size
  std::span<const uint8_t> bytes;  // nbytes, once the container has located them
  bool located = false;
};

struct TensorRecord {
  size_t storage = 0;
  std::optional<DType> dtype;  // the storage's, or v3's explicit dtype
  uint64_t offset = 0;         // in elements of dtype
  std::vector<uint64_t> size;  // PyTorch order
  std::vector<uint64_t> stride;
};

class TorchResolver : public pickle::Resolver {
 public:
  pickle::Ref find_class(pickle::Graph& g, const std::string& module, const std::string& name) override;
  pickle::Ref call(pickle::Graph& g, pickle::Ref callable, pickle::Ref args) override;
  pickle::Ref persistent_load(pickle::Graph& g, pickle::Ref pid) override;

  // The tensor a node stands for; nullptr when it is anything else.
  const TensorRecord* tensor(const pickle::Graph& g, pickle::Ref r) const;
  std::vector<Storage>& storages() { return storages_; }
  // The storage with this key, or nullptr.
  Storage* find_storage(const std::string& key);

 private:
  pickle::Ref rebuild_tensor(pickle::Graph& g, const std::string& fn, const std::vector<pickle::Ref>& args);

  std::vector<Storage> storages_;
  std::vector<pickle::Ref> storage_nodes_;  // the node standing for each storage
  std::unordered_map<std::string, size_t> by_key_;
  std::vector<TensorRecord> tensors_;
};

}  // namespace qkv::torch
