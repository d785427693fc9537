// The adaptive layer: which codecs are eligible for a chunk, the smallest
// payload among them, and dispatch to each codec's decoder. Raw, the codec
// every chunk can fall back to, lives here.
#include "qkv/codec.h"

#include <limits>

#include "codec/block_fields.h"
#include "codec/byte_planes.h"
#include "codec/bytes.h"
#include "codec/dict256.h"

namespace qkv::codec {
namespace {

// Payload lengths inside the codecs are u32: a chunk is at most 4 GiB - 1.
void check_chunk_size(size_t n) {
  if (n > std::numeric_limits<uint32_t>::max())
    throw Error(ErrorKind::Usage, "a chunk of " + std::to_string(n) +
                                      " bytes is too large for the codecs (the limit "
                                      "is 4 GiB - 1; chunks are meant to be a few MiB)");
}

std::vector<uint8_t> smallest_byte_planes(std::span<const uint8_t> chunk, std::optional<TensorType> type,
                                          const EncodeOptions& opts) {
  std::vector<uint8_t> best;
  for (const PlaneLayout& layout : plane_layouts(type)) {
    auto p = byte_planes_encode(chunk, layout, opts);
    if (best.empty() || p.size() < best.size()) best = std::move(p);
  }
  return best;
}

}  // namespace

std::string_view codec_name(CodecId c) {
  switch (c) {
    case CodecId::Raw:
      return "raw";
    case CodecId::Dict256:
      return "dict256";
    case CodecId::BytePlanes:
      return "byte-planes";
    case CodecId::BlockFields:
      return "block-fields";
  }
  return "unknown";
}

std::optional<CodecId> codec_from_byte(uint8_t b) {
  for (CodecId c : kAllCodecs)
    if (static_cast<uint8_t>(c) == b) return c;
  return std::nullopt;
}

std::optional<std::vector<uint8_t>> encode_with(CodecId codec, std::span<const uint8_t> chunk,
                                                std::optional<TensorType> type, const EncodeOptions& opts) {
  check_chunk_size(chunk.size());
  switch (codec) {
    case CodecId::Raw:
      return std::vector<uint8_t>(chunk.begin(), chunk.end());
    case CodecId::Dict256:
      return dict256_encode(chunk);
    case CodecId::BytePlanes:
      return smallest_byte_planes(chunk, type, opts);
    case CodecId::BlockFields:
      if (!type) return std::nullopt;
      return block_fields_encode(chunk, *type, opts);
  }
  throw Error(ErrorKind::Usage, "unknown codec id " + std::to_string(static_cast<int>(codec)));
}

std::vector<CodecTrial> trial_sizes(std::span<const uint8_t> chunk, std::optional<TensorType> type,
                                    const EncodeOptions& opts) {
  std::vector<CodecTrial> trials;
  for (CodecId c : kAllCodecs) {
    const auto p = encode_with(c, chunk, type, opts);
    trials.push_back({c, p ? std::optional<size_t>(p->size()) : std::nullopt});
  }
  return trials;
}

Encoded encode_chunk(std::span<const uint8_t> chunk, std::optional<TensorType> type, const EncodeOptions& opts) {
  Encoded best{CodecId::Raw, *encode_with(CodecId::Raw, chunk, type, opts)};
  for (CodecId c : kAllCodecs) {
    if (c == CodecId::Raw) continue;
    auto p = encode_with(c, chunk, type, opts);
    if (p && p->size() < best.payload.size()) best = {c, std::move(*p)};
  }
  return best;
}

void decode_chunk(CodecId codec, std::span<const uint8_t> payload, std::span<uint8_t> out) {
  switch (codec) {
    case CodecId::Raw:
      if (payload.size() != out.size())
        corrupt("raw payload holds " + std::to_string(payload.size()) + " bytes where the chunk has " +
                    std::to_string(out.size()),
                0);
      copy_bytes(out.data(), payload.data(), out.size());
      return;
    case CodecId::Dict256:
      return dict256_decode(payload, out);
    case CodecId::BytePlanes:
      return byte_planes_decode(payload, out);
    case CodecId::BlockFields:
      return block_fields_decode(payload, out);
  }
  throw Error(ErrorKind::Unsupported,
              "unknown codec id " + std::to_string(static_cast<int>(codec)) + " (written by a newer QKV Core?)");
}

}  // namespace qkv::codec
