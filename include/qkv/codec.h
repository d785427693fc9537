// Lossless chunk codecs of the .qkv format. A tensor's bytes are cut into
// chunks (up to a few MiB); each chunk is coded by the codec that makes it
// smallest, and the container records the codec id beside the payload.
// Every codec restores the exact original bytes, works for any chunk size
// (0 included), keeps no global state and is safe to call from many threads.
// Byte layouts of every payload: docs/qkv-codecs.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "qkv/types.h"

namespace qkv::codec {

// Written to .qkv files as-is: never renumber.
enum class CodecId : uint8_t {
  Raw = 0,          // the bytes themselves
  Dict256 = 1,      // 16-bit values: the 256 most frequent as 1-byte indices, bitmap-flagged groups of 8
  BytePlanes = 2,   // byte i of every element together, each plane entropy-coded, zstd'd or raw
  BlockFields = 3,  // quantized blocks split into one stream per field (all d's, all scales, all qs)
};
inline constexpr CodecId kAllCodecs[] = {CodecId::Raw, CodecId::Dict256, CodecId::BytePlanes, CodecId::BlockFields};

std::string_view codec_name(CodecId c);  // "raw", "dict256", "byte-planes", "block-fields"
// nullopt for a byte that names no codec (a newer file, or a corrupt one).
std::optional<CodecId> codec_from_byte(uint8_t b);

struct EncodeOptions {
  bool huffman = true;  // let streams be Huffman-coded
  int zstd_level = 3;   // let streams be zstd-compressed at this level; 0 = never
};

struct Encoded {
  CodecId codec = CodecId::Raw;
  std::vector<uint8_t> payload;
};

// `type` is the tensor type of the chunk's elements when known; it decides
// which codecs are eligible (block fields need it; byte planes use it to pick
// the element width). For block types a chunk should hold whole blocks: the
// bytes past the last whole block are kept raw.

// Tries every eligible codec and keeps the smallest payload; Raw when none is
// smaller than the chunk itself. Ties go to the lower codec id.
Encoded encode_chunk(std::span<const uint8_t> chunk, std::optional<TensorType> type, const EncodeOptions& opts = {});

// One codec's payload, whatever its size; nullopt when the codec is not
// eligible for this chunk (dict256: odd length; block fields: no field layout for `type`).
std::optional<std::vector<uint8_t>> encode_with(CodecId codec, std::span<const uint8_t> chunk,
                                                std::optional<TensorType> type, const EncodeOptions& opts = {});

// What each codec would have given (for `qkv inspect`): one entry per codec
// in id order; size is nullopt where the codec is not eligible.
struct CodecTrial {
  CodecId codec;
  std::optional<size_t> size;
};
std::vector<CodecTrial> trial_sizes(std::span<const uint8_t> chunk, std::optional<TensorType> type,
                                    const EncodeOptions& opts = {});

// Decodes a payload into `out`, whose size is the chunk's original size.
// A payload that disagrees with itself or with out.size() throws
// qkv::Error (Integrity) naming the payload offset; decoding never reads
// outside `payload` nor writes outside `out`. Some corruptions (a flipped
// bit inside entropy-coded data) cannot be told from valid data here: the
// container's checksum catches those.
void decode_chunk(CodecId codec, std::span<const uint8_t> payload, std::span<uint8_t> out);

}  // namespace qkv::codec
