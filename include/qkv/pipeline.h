// The one driver under `qkv convert`, `qkv quantize`, `qkv prune` and
// `qkv train --init`:
//
//   source  (GGUF, .qkv, HF folder / safetensors / torch checkpoint; sniffed once)
//   -> plan (llama.cpp's recipe, the adaptive budget planner, fixed overrides)
//   -> transforms on float rows (prune)
//   -> quantize
//   -> validation (the surgical-alignment audit of the written file, before
//      it is renamed into place)
//   -> sink (the GGUF writer).
//
// Tensors stream: each is read in slabs of whole rows, transformed, quantized
// and written before the next is touched, so memory stays at a few slabs.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qkv/gguf.h"
#include "qkv/prune.h"
#include "qkv/quantize_model.h"

namespace qkv::pipeline {

// A model's tensors under their GGUF names, shapes (ne[0] = row length) and
// metadata, whatever file they come from.
class Source {
 public:
  virtual ~Source() = default;
  // path: a GGUF, a .qkv holding one, a Hugging Face folder, or a checkpoint
  // file with config.json beside it; the format is decided from the bytes.
  // name: general.name for a Hugging Face source (default: the folder's name).
  static std::unique_ptr<Source> open(const std::string& path, const std::string& name = {}, int threads = 0);
  // An open GGUF as a source.
  static std::unique_ptr<Source> of(gguf::File f);

  const std::string& path() const { return path_; }
  virtual std::string_view kind() const = 0;  // "gguf", "qkv" or "hf"
  virtual const gguf::Metadata& metadata() const = 0;
  // Each tensor's stored type; a Hugging Face source's tensors read as F32.
  virtual const std::vector<gguf::TensorInfo>& tensors() const = 0;
  // Tensor i's bytes in its GGUF type, or empty when the source stores something else.
  virtual std::span<const uint8_t> bytes(size_t i) const = 0;
  // Whether tensor i can only be read whole (a row permutation or transpose on the way).
  virtual bool reads_whole(size_t) const { return false; }
  // Rows [row, row + n) of tensor i as float32: n * shape[0] values.
  virtual void read_rows(size_t i, uint64_t row, uint64_t n, float* out, int threads) const = 0;
  // Done with tensor i: its mapped pages may be dropped.
  virtual void release(size_t i) const = 0;
  // Checkpoint tensors that are not weights (rotary buffers) and were left out.
  virtual size_t skipped() const { return 0; }

  void read_all(size_t i, std::vector<float>& out, int threads) const;
  // The index of the tensor called `name`, or -1.
  ptrdiff_t find(std::string_view name) const;

 protected:
  std::string path_;
};

// A GGUF, or the GGUF a .qkv holds (decompressed into memory); *mapped (when
// given) says which. Throws (Format) naming the file and what to do for anything else.
gguf::File open_gguf(const std::string& path, int threads = 0, bool* mapped = nullptr);

struct Job {
  quant::QuantizeOptions quantize;  // the output type or budget, imatrix, overrides
  std::optional<PruneOptions> prune;
  std::string verb = "quantize";    // the progress bar's label
};

// Runs `job` over `in` and writes `out` atomically (nothing when
// job.quantize.dry_run), after auditing its layout.
quant::QuantizeReport run(const Source& in, const std::string& out, const Job& job);

}  // namespace qkv::pipeline
