// libFuzzer target for the .qkv reader: whatever the bytes, opening and
// decoding either succeed or throw qkv::Error -- never a crash, a read outside
// the input, undefined behaviour, or an allocation of a size read from the
// file before it was checked.
//
// Oracles beyond "no crash": an index that parses tiles every file exactly
// with its streams, and every chunk decodes to exactly its raw size.
//
// Checksums stop almost every mutation at the header, so each input is also
// run with the header, trailer and index checksums recomputed: that lets the
// fuzzer reach the index parser's counts, paths and bounds.
#include <xxhash.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "qkv/error.h"
#include "qkv/qkv_file.h"

namespace {

void check_tiling(const qkv::qkvfile::Entry& e) {
  uint64_t pos = 0;
  for (const auto& s : e.streams) {
    if (s.source_offset != pos) abort();
    uint64_t sum = 0;
    for (const auto& c : s.chunks) sum += c.raw_size;
    if (sum != s.size) abort();
    pos += s.size;
  }
  if (pos != e.size) abort();
}

void seal(uint8_t* record) {  // a 64-byte record's checksum of its first 56 bytes
  const uint64_t h = XXH3_64bits(record, 56);
  std::memcpy(record + 56, &h, 8);
}

std::vector<uint8_t> with_checksums_fixed(std::span<const uint8_t> in) {
  std::vector<uint8_t> b(in.begin(), in.end());
  if (b.size() < 128) return b;
  seal(b.data());
  uint8_t* t = b.data() + b.size() - 64;
  uint64_t at, n;
  std::memcpy(&at, t + 8, 8);
  std::memcpy(&n, t + 16, 8);
  if (at <= b.size() - 64 && n <= b.size() - 64 - at) {
    const uint64_t h = XXH3_64bits(b.data() + at, n);
    std::memcpy(t + 24, &h, 8);
  }
  seal(t);
  return b;
}

void run(std::span<const uint8_t> bytes) {
  try {
    const auto r = qkv::qkvfile::Reader::parse(bytes, "fuzz.qkv");
    std::vector<uint8_t> out;
    for (const auto& e : r.entries()) {
      check_tiling(e);
      for (const auto& s : e.streams)
        for (size_t i = 0; i < s.chunks.size(); ++i) {
          // A chunk may legitimately claim more than the input holds (zeros
          // compress well); decode only what a small input can be expected to hold.
          if (s.chunks[i].raw_size > (1u << 20)) continue;
          out.assign(s.chunks[i].raw_size, 0);
          try {
            r.decode(s, i, out);
          } catch (const qkv::Error&) {
          }
        }
    }
  } catch (const qkv::Error&) {
    // A typed error is the right answer to a malformed file.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  run(bytes);
  const auto fixed = with_checksums_fixed(bytes);
  run(fixed);
  return 0;
}
