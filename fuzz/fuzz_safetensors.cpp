// libFuzzer target for the safetensors reader: whatever the bytes, parsing
// either succeeds or throws qkv::Error -- never a crash, a read outside the
// input, undefined behaviour, or an allocation of a claimed size.
//
// Oracles beyond "no crash": every accepted tensor's bytes lie inside the
// input, hold exactly elements x dtype size, and the tensors, in the order
// given, tile the data section from its start to the end of the input.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "qkv/error.h"
#include "qkv/safetensors.h"

namespace {

void check(const qkv::safetensors::File& f, std::span<const uint8_t> input) {
  const uint8_t* next = input.data() + f.data_offset();
  for (const auto& t : f.tensors()) {
    if (t.data.size() != t.n_elements() * qkv::dtype_size(t.dtype)) abort();
    if (t.data.data() != next) abort();
    next += t.data.size();
    // Converting reads every byte, so ASan sees any span outside the input.
    volatile float sink = 0;
    for (float v : qkv::to_f32(t)) sink = sink + v;
  }
  if (next != input.data() + input.size()) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  try {
    check(qkv::safetensors::File::parse(bytes, "fuzz.safetensors"), bytes);
  } catch (const qkv::Error&) {
    // A typed error is the right answer to a malformed file.
  }
  return 0;
}
