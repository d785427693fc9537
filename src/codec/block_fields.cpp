#include "codec/block_fields.h"

#include <cstring>

#include "codec/stream.h"

namespace qkv::codec {
namespace {

// Byte `plane` of every element of field f, block by block, to or from a
// stream; single-byte fields are copied a block's run at a time.
void gather(const uint8_t* blocks, size_t n_blocks, size_t block_bytes, const BlockField& f, size_t plane,
            uint8_t* stream) {
  const size_t per_block = f.size / f.elem_bytes;
  for (size_t k = 0; k < n_blocks; ++k) {
    const uint8_t* src = blocks + k * block_bytes + f.offset + plane;
    if (f.elem_bytes == 1) {
      std::memcpy(stream + k * per_block, src, per_block);
      continue;
    }
    for (size_t j = 0; j < per_block; ++j) stream[k * per_block + j] = src[j * f.elem_bytes];
  }
}

void scatter(const uint8_t* stream, size_t n_blocks, size_t block_bytes, const BlockField& f, size_t plane,
             uint8_t* blocks) {
  const size_t per_block = f.size / f.elem_bytes;
  for (size_t k = 0; k < n_blocks; ++k) {
    uint8_t* dst = blocks + k * block_bytes + f.offset + plane;
    if (f.elem_bytes == 1) {
      std::memcpy(dst, stream + k * per_block, per_block);
      continue;
    }
    for (size_t j = 0; j < per_block; ++j) dst[j * f.elem_bytes] = stream[k * per_block + j];
  }
}

}  // namespace

std::optional<std::vector<uint8_t>> block_fields_encode(std::span<const uint8_t> chunk, TensorType type,
                                                        const EncodeOptions& opts) {
  const auto fields = block_fields(type);
  if (fields.empty()) return std::nullopt;
  const size_t bb = type_info(type).block_bytes, n_blocks = chunk.size() / bb;
  std::vector<uint8_t> out;
  put_u32(out, static_cast<uint32_t>(type));
  std::vector<uint8_t> stream;
  for (const BlockField& f : fields)
    for (size_t plane = 0; plane < f.elem_bytes; ++plane) {
      stream.resize(n_blocks * (f.size / f.elem_bytes));
      gather(chunk.data(), n_blocks, bb, f, plane, stream.data());
      put_stream(out, stream, opts);
    }
  put_bytes(out, chunk.subspan(n_blocks * bb));
  return out;
}

void block_fields_decode(std::span<const uint8_t> payload, std::span<uint8_t> out) {
  PayloadReader r(payload);
  const uint32_t type = r.u32("tensor type");
  const auto fields = block_fields(static_cast<TensorType>(type));
  if (fields.empty())
    corrupt("block fields payload names type " + std::to_string(type) + ", which has no field layout", 0);
  const size_t bb = type_info(static_cast<TensorType>(type)).block_bytes, n_blocks = out.size() / bb;
  std::vector<uint8_t> scratch;
  for (const BlockField& f : fields)
    for (size_t plane = 0; plane < f.elem_bytes; ++plane) {
      const auto stream = get_stream(r, n_blocks * (f.size / f.elem_bytes), scratch);
      scatter(stream.data(), n_blocks, bb, f, plane, out.data());
    }
  const auto tail = r.bytes(out.size() - n_blocks * bb, "tail bytes");
  r.expect_end();
  copy_bytes(out.data() + n_blocks * bb, tail.data(), tail.size());
}

}  // namespace qkv::codec
