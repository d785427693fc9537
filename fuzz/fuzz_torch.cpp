// libFuzzer target for PyTorch checkpoints: the ZIP reader, the restricted
// unpickler and the legacy stream, and format detection on the same bytes.
// Whatever the bytes, reading either succeeds or throws qkv::Error -- never a
// crash, a read outside the input, undefined behaviour, or an allocation of
// a claimed size. The unpickler must never call anything: it has nothing it
// could call.
//
// Oracles beyond "no crash": every accepted tensor's bytes lie inside the
// input and hold exactly elements x dtype size.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "qkv/detect.h"
#include "qkv/error.h"
#include "qkv/torch_checkpoint.h"

namespace {

void check(const qkv::torch::Checkpoint& c, std::span<const uint8_t> input) {
  for (const auto& t : c.tensors()) {
    if (t.data.size() != t.n_elements() * qkv::dtype_size(t.dtype)) abort();
    if (!t.data.empty() &&
        (t.data.data() < input.data() || t.data.data() + t.data.size() > input.data() + input.size()))
      abort();
    volatile float sink = 0;
    for (float v : qkv::to_f32(t)) sink = sink + v;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  try {
    (void)qkv::detect_format(bytes, "fuzz.pt");
  } catch (const qkv::Error&) {
  }
  try {
    check(qkv::torch::Checkpoint::parse(bytes, "fuzz.pt"), bytes);
  } catch (const qkv::Error&) {
    // A typed error is the right answer to a malformed file.
  }
  return 0;
}
