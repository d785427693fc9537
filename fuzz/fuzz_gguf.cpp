// libFuzzer target for the GGUF reader and the layout audit: whatever the
// bytes, parsing either succeeds or throws qkv::Error -- never a crash, a read
// outside the input, undefined behaviour, or an allocation of a claimed size.
//
// Oracles beyond "no crash": a header that parses re-serializes to exactly the
// bytes it was read from, every tensor's size is its block count times the
// block size (no wrapped multiplication), and every tensor the strict reader
// accepts has its data inside the input.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "qkv/error.h"
#include "qkv/gguf.h"
#include "qkv/gguf_check.h"

namespace {

void check_round_trip(const qkv::gguf::File& f) {
  const auto header = qkv::gguf::serialize_header(f.metadata(), f.tensors(), f.version());
  if (header.size() != f.header_end() || std::memcmp(header.data(), f.bytes().data(), header.size()) != 0) abort();
}

void check_sizes(const qkv::gguf::File& f) {
  for (const auto& t : f.tensors()) {
    const qkv::TypeInfo& ti = qkv::type_info(t.type);
    const uint64_t blocks = t.n_elements() / ti.block_elems;
    if (blocks > UINT64_MAX / ti.block_bytes || blocks * ti.block_bytes != t.nbytes()) abort();
  }
}

// Reads every byte the reader hands out, so ASan sees any span that points
// outside the input.
uint64_t touch(std::span<const uint8_t> data) {
  uint64_t sum = 0;
  for (uint8_t b : data) sum += b;
  return sum;
}

void run(std::span<const uint8_t> bytes, bool strict) {
  try {
    const auto f = qkv::gguf::File::parse(bytes, "fuzz.gguf", {.strict_layout = strict});
    check_round_trip(f);
    check_sizes(f);
    for (const auto& [key, value] : f.metadata().entries()) (void)value.to_string();
    const auto report = qkv::gguf::audit_layout(f);
    volatile uint64_t sink = report.tensor_bytes;
    for (size_t i = 0; i < f.tensors().size(); ++i) {
      try {
        sink = sink + touch(f.tensor_data(i));
      } catch (const qkv::Error&) {
        if (strict) abort();  // the strict reader promised every tensor lies inside the file
      }
    }
  } catch (const qkv::Error&) {
    // A typed error is the right answer to a malformed file.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  run(bytes, true);
  run(bytes, false);
  return 0;
}
