// PyTorch checkpoints (torch.save of a state dict), read without Python and
// without running anything the file says.
//
// Two containers: the ZIP archive torch >= 1.6 writes (<name>/data.pkl plus
// one stored entry per storage, <name>/data/<key>) and the legacy stream
// (_use_new_zipfile_serialization=False: magic number, protocol and system
// pickles, the object pickle, the storage key list, then the raw storages).
// The object pickle is read by a restricted unpickler that knows only an
// allow-list of globals -- collections.OrderedDict, torch.Size, torch's
// tensor rebuild functions, storage types and dtypes -- and refuses any other
// by name ("unsafe pickle: refuses global 'os.system'").
//
// The result is the state dict's tensors as CheckpointTensor views into the
// file's memory map, like safetensors::File's. A state dict nested under
// "model", "state_dict", "module" or "model_state_dict" (training
// checkpoints) is unwrapped; torch.compile's "_orig_mod." name prefix is
// removed; entries that are not tensors (optimizer state, step counters) are
// skipped and listed.
//
// Tensors must be contiguous: a view with other strides cannot be a span of
// the file, and is refused with a message saying how to re-save it. A tensor
// may be a contiguous slice of a larger storage, and several tensors may
// share one storage (tied weights); their spans then overlap.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qkv/file.h"
#include "qkv/safetensors.h"

namespace qkv::torch {

enum class Container { Zip, Legacy };

class Checkpoint {
 public:
  static Checkpoint open(const std::string& path);
  // Parses bytes owned by the caller (they must outlive the Checkpoint);
  // `name` is used in error messages. Used by the fuzzer and by tests.
  static Checkpoint parse(std::span<const uint8_t> bytes, const std::string& name);

  const std::string& path() const { return name_; }
  Container container() const { return container_; }
  // In the state dict's order (the order the model registered them).
  const std::vector<CheckpointTensor>& tensors() const { return tensors_; }
  const CheckpointTensor* find(std::string_view name) const;
  // The key the state dict sat under ("model", "state_dict", ...); empty
  // when the checkpoint is the state dict itself.
  const std::string& unwrapped_from() const { return unwrapped_from_; }
  // Names of the entries that were not tensors and were skipped.
  const std::vector<std::string>& skipped() const { return skipped_; }
  // Whether torch.compile's "_orig_mod." prefix was removed from names.
  bool stripped_compile_prefix() const { return stripped_prefix_; }

 private:
  Checkpoint() = default;
  std::shared_ptr<MappedFile> map_;
  std::string name_;
  Container container_ = Container::Zip;
  std::vector<CheckpointTensor> tensors_;
  std::string unwrapped_from_;
  std::vector<std::string> skipped_;
  bool stripped_prefix_ = false;
};

}  // namespace qkv::torch
