// Search tables over the IQ1/IQ2/IQ3 codebooks (iq_grids.h), which the
// quantizers use to snap a vector of small levels onto the codebook. ggml
// builds the same tables at ggml_quantize_init (iq2xs_init_impl,
// iq3xs_init_impl); ours are built from our recovered grids on first use.
//
// A codebook entry is a vector of `dims` levels l in [0, levels); the value it
// stands for along each coordinate is 2l + 1 (a rank of the grid's distinct
// values: 8, 25, 43 are levels 0, 1, 2 of IQ2; -1, 0, 1 those of IQ1; IQ3's
// eight values are levels 0..7). A vector of levels has the key
// sum l_k << (bits * k). For each key that is not a codebook entry the table
// keeps its neighbours: every entry whose squared level distance is among the
// `nwant` smallest distinct distances from it, ordered by (distance, index).
// ggml's tables also cover keys with a level above levels - 1; no quantizer
// looks those up, so ours leave them out.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace qkv::quant {

enum class IqGrid { Iq2xxs, Iq2xs, Iq2s, Iq1s, Iq3xxs, Iq3s };

struct IqSearch {
  int dims = 0;    // coordinates per entry: 8, or 4 for IQ3
  int bits = 0;    // bits per coordinate in a key: 2, or 3 for IQ3
  int levels = 0;  // levels per coordinate: 3, or 8 for IQ3
  int nwant = 0;   // distinct distances whose entries count as neighbours
  int size = 0;    // codebook entries
  std::vector<uint8_t> entry_levels;  // size * dims
  // By key: the codebook index (>= 0), -1 - the offset of the key's neighbour
  // list in `lists`, or kNoKey for a key with a level out of range.
  std::vector<int32_t> map;
  std::vector<uint16_t> lists;  // at each offset: a count, then that many codebook indices
  static constexpr int32_t kNoKey = INT32_MIN;

  const uint8_t* entry(int index) const { return entry_levels.data() + size_t(index) * size_t(dims); }
  // The codebook index of a key, or -1 when the key is not an entry.
  int index_of(uint32_t key) const { return map[key] >= 0 ? map[key] : -1; }
  // The neighbours of a key that is not an entry.
  std::span<const uint16_t> neighbours(uint32_t key) const {
    const size_t offset = size_t(-1 - map[key]);
    return {lists.data() + offset + 1, lists[offset]};
  }
  // The key of `dims` levels.
  uint32_t key_of(const int8_t* l) const {
    uint32_t key = 0;
    for (int k = 0; k < dims; ++k) key |= uint32_t(l[k]) << (bits * k);
    return key;
  }
};

// The table of one codebook, built once (thread-safe) on first use.
const IqSearch& iq_search(IqGrid grid);

}  // namespace qkv::quant
