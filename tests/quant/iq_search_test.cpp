// The codebook search tables (quant/iq_search.h): their shape, their
// neighbour lists recomputed here by brute force from the construction
// rule, and fingerprints of ggml's own tables (taken from iq2xs_init_impl and
// iq3xs_init_impl at the golden commit, over the keys our tables keep).
#include "quant/iq_search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace qkv::quant {
namespace {

struct Expected {
  const char* name;
  IqGrid grid;
  int size, dims, levels, nwant;
  int off_grid_keys;    // keys with levels in range that are not entries
  long neighbours;      // their list lengths, summed
  uint64_t fingerprint;  // FNV-1a over (key, count, indices...) as 32-bit words, keys ascending
};

const Expected kTables[] = {
    {"IQ2_XXS", IqGrid::Iq2xxs, 256, 8, 3, 2, 6305, 113157, 0xfa1ccf80bd7f8be8ull},
    {"IQ2_XS", IqGrid::Iq2xs, 512, 8, 3, 2, 6049, 181721, 0xf76de7b44f40a2a9ull},
    {"IQ2_S", IqGrid::Iq2s, 1024, 8, 3, 1, 5537, 44716, 0xb9a4a5e4a395f7f9ull},
    {"IQ1_S", IqGrid::Iq1s, 2048, 8, 3, 3, 4513, 327721, 0x18faf1b8d10bdab0ull},
    {"IQ3_XXS", IqGrid::Iq3xxs, 256, 4, 8, 2, 3840, 18985, 0x075b86a6cae0db3dull},
    {"IQ3_S", IqGrid::Iq3s, 512, 4, 8, 3, 3584, 24733, 0xbc744d15350d3397ull},
};

void mix(uint64_t& h, uint32_t v) {
  for (int b = 0; b < 4; ++b) {
    h ^= (v >> (8 * b)) & 255;
    h *= 1099511628211ull;
  }
}

std::vector<int> levels_of(const IqSearch& s, uint32_t key) {
  std::vector<int> l(size_t(s.dims));
  for (int k = 0; k < s.dims; ++k) l[size_t(k)] = int(key >> (s.bits * k)) & ((1 << s.bits) - 1);
  return l;
}

// The rule as ggml states it: coordinates 2l + 1, all entries sorted by
// (squared distance, index), kept while at most nwant distinct distances are seen.
std::vector<uint16_t> brute_force_neighbours(const IqSearch& s, uint32_t key) {
  const auto l = levels_of(s, key);
  std::vector<std::pair<int, int>> d;
  for (int g = 0; g < s.size; ++g) {
    int d2 = 0;
    for (int k = 0; k < s.dims; ++k) {
      const int diff = (2 * s.entry(g)[k] + 1) - (2 * l[size_t(k)] + 1);
      d2 += diff * diff;
    }
    d.emplace_back(d2, g);
  }
  std::sort(d.begin(), d.end());
  std::vector<uint16_t> out;
  int distinct = 0, last = -1;
  for (const auto& [d2, g] : d) {
    if (d2 != last && ++distinct > s.nwant) break;
    last = d2;
    out.push_back(static_cast<uint16_t>(g));
  }
  return out;
}

class IqSearchTable : public testing::TestWithParam<Expected> {};

TEST_P(IqSearchTable, HasTheCodebooksShape) {
  const Expected& e = GetParam();
  const IqSearch& s = iq_search(e.grid);
  EXPECT_EQ(s.size, e.size);
  EXPECT_EQ(s.dims, e.dims);
  EXPECT_EQ(s.levels, e.levels);
  EXPECT_EQ(s.nwant, e.nwant);
  // Every entry is found under its own key.
  for (int g = 0; g < s.size; ++g) {
    int8_t l[8];
    for (int k = 0; k < s.dims; ++k) l[k] = static_cast<int8_t>(s.entry(g)[k]);
    ASSERT_EQ(s.index_of(s.key_of(l)), g) << e.name;
  }
  int off_grid = 0;
  for (uint32_t key = 0; key < s.map.size(); ++key) off_grid += s.map[key] < 0 && s.map[key] != IqSearch::kNoKey;
  EXPECT_EQ(off_grid, e.off_grid_keys);
}

TEST_P(IqSearchTable, EqualsGgmlsTables) {
  const Expected& e = GetParam();
  const IqSearch& s = iq_search(e.grid);
  uint64_t h = 1469598103934665603ull;
  long total = 0;
  for (uint32_t key = 0; key < s.map.size(); ++key) {
    if (s.map[key] >= 0 || s.map[key] == IqSearch::kNoKey) continue;
    const auto n = s.neighbours(key);
    total += long(n.size());
    mix(h, key);
    mix(h, uint32_t(n.size()));
    for (uint16_t g : n) mix(h, g);
  }
  EXPECT_EQ(total, e.neighbours) << e.name;
  EXPECT_EQ(h, e.fingerprint) << e.name;
}

TEST_P(IqSearchTable, NeighboursFollowTheRule) {
  const Expected& e = GetParam();
  const IqSearch& s = iq_search(e.grid);
  for (uint32_t key = 0; key < s.map.size(); ++key) {
    if (s.map[key] >= 0 || s.map[key] == IqSearch::kNoKey) continue;
    const auto got = s.neighbours(key);
    ASSERT_EQ(std::vector<uint16_t>(got.begin(), got.end()), brute_force_neighbours(s, key))
        << e.name << " key " << key;
  }
}

INSTANTIATE_TEST_SUITE_P(AllGrids, IqSearchTable, testing::ValuesIn(kTables),
                         [](const testing::TestParamInfo<Expected>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace qkv::quant
