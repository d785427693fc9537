// The codebook search tables of iq_search.h, built from iq_grids.h.
#include "quant/iq_search.h"

#include <algorithm>
#include <cassert>
#include <cstddef>

#include "quant/iq_grids.h"

namespace qkv::quant {
namespace {

// Whether every coordinate of `key` is a level below `levels`.
bool key_in_range(uint32_t key, int dims, int bits, int levels) {
  for (int k = 0; k < dims; ++k)
    if (int((key >> (bits * k)) & ((1u << bits) - 1)) >= levels) return false;
  return true;
}

// Appends the neighbour list of `key` (iq_search.h) to s.lists. Distances
// are small integers, so a histogram finds the nwant smallest distinct ones,
// and scanning the codebook once per distance keeps equal distances in index
// order: the (distance, index) order of ggml's qsort.
void add_neighbours(IqSearch& s, uint32_t key, std::vector<int>& dist, std::vector<int>& count) {
  std::fill(count.begin(), count.end(), 0);
  for (int g = 0; g < s.size; ++g) {
    const uint8_t* e = s.entry(g);
    int d2 = 0;
    for (int k = 0; k < s.dims; ++k) {
      const int diff = int((key >> (s.bits * k)) & ((1u << s.bits) - 1)) - e[k];
      d2 += diff * diff;
    }
    dist[g] = d2;
    ++count[d2];
  }
  const size_t count_at = s.lists.size();
  s.lists.push_back(0);
  int taken = 0;
  for (int d2 = 0; d2 < int(count.size()) && taken < s.nwant; ++d2) {
    if (!count[d2]) continue;
    ++taken;
    for (int g = 0; g < s.size; ++g)
      if (dist[g] == d2) s.lists.push_back(static_cast<uint16_t>(g));
  }
  s.lists[count_at] = static_cast<uint16_t>(s.lists.size() - count_at - 1);
}

template <class T, size_t N, size_t D>
IqSearch build(const T (&grid)[N][D], int bits, int nwant) {
  IqSearch s;
  s.dims = int(D);
  s.bits = bits;
  s.nwant = nwant;
  s.size = int(N);
  // The grid's distinct values, ascending: a value's rank is its level.
  std::vector<int> values;
  for (const auto& e : grid) values.insert(values.end(), e, e + D);
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  s.levels = int(values.size());
  assert(s.levels <= (1 << bits));
  s.entry_levels.resize(N * D);
  for (size_t g = 0; g < N; ++g)
    for (size_t k = 0; k < D; ++k)
      s.entry_levels[g * D + k] =
          static_cast<uint8_t>(std::lower_bound(values.begin(), values.end(), int(grid[g][k])) - values.begin());

  s.map.assign(size_t(1) << (bits * D), IqSearch::kNoKey);
  for (int g = 0; g < s.size; ++g) {
    uint32_t key = 0;
    for (int k = 0; k < s.dims; ++k) key |= uint32_t(s.entry(g)[k]) << (bits * k);
    s.map[key] = g;
  }
  std::vector<int> dist(N), count(size_t(s.dims * (s.levels - 1) * (s.levels - 1) + 1));
  for (uint32_t key = 0; key < s.map.size(); ++key) {
    if (s.map[key] != IqSearch::kNoKey || !key_in_range(key, s.dims, bits, s.levels)) continue;
    s.map[key] = -1 - int32_t(s.lists.size());
    add_neighbours(s, key, dist, count);
  }
  return s;
}

}  // namespace

// ggml's nwant: 2 for IQ2_XXS, IQ2_XS and IQ3_XXS, 1 for IQ2_S, 3 for IQ1 and IQ3_S.
const IqSearch& iq_search(IqGrid grid) {
  switch (grid) {
    case IqGrid::Iq2xxs: {
      static const IqSearch s = build(iq2xxs_grid, 2, 2);
      return s;
    }
    case IqGrid::Iq2xs: {
      static const IqSearch s = build(iq2xs_grid, 2, 2);
      return s;
    }
    case IqGrid::Iq2s: {
      static const IqSearch s = build(iq2s_grid, 2, 1);
      return s;
    }
    case IqGrid::Iq1s: {
      static const IqSearch s = build(iq1s_grid, 2, 3);
      return s;
    }
    case IqGrid::Iq3xxs: {
      static const IqSearch s = build(iq3xxs_grid, 3, 2);
      return s;
    }
    case IqGrid::Iq3s:
      break;
  }
  static const IqSearch s = build(iq3s_grid, 3, 3);
  return s;
}

}  // namespace qkv::quant
