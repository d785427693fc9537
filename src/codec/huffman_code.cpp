// Code lengths and canonical codes, shared by the Huffman encoder and decoder.
#include <algorithm>
#include <string>

#include "codec/huffman.h"
#include "qkv/error.h"

namespace qkv::codec {

// Package-merge (Larmore & Hirschberg): think of each symbol as a coin of
// face 2^-d for every depth d = 1..max_bits, worth its count. Level 0 lists
// the deepest coins (the leaves, ascending); each next level merges the
// leaves with the pairs ("packages") of the level below. The cheapest 2n-2
// items of the top level form an optimal length-limited code, a symbol's
// length being the number of its coins they contain. Because every list is
// sorted and built by merging, the chosen items of each level are a prefix
// and the leaves in a prefix are the k lightest symbols: walking the levels
// down only needs to count leaves in prefixes.
std::array<uint8_t, 256> huffman_code_lengths(const std::array<uint64_t, 256>& counts, int max_bits) {
  std::vector<uint16_t> syms;
  for (uint16_t s = 0; s < 256; ++s)
    if (counts[s] != 0) syms.push_back(s);
  for (uint16_t s = 0; syms.size() < 2; ++s)
    if (counts[s] == 0) syms.push_back(s);
  std::sort(syms.begin(), syms.end(),
            [&](uint16_t a, uint16_t b) { return counts[a] != counts[b] ? counts[a] < counts[b] : a < b; });
  const size_t n = syms.size();
  if (max_bits < 1 || (max_bits < 64 && (uint64_t{1} << max_bits) < n))
    throw Error(ErrorKind::Usage,
                std::to_string(n) + " symbols cannot be coded in at most " + std::to_string(max_bits) + " bits");

  std::vector<uint64_t> leaves(n);
  for (size_t i = 0; i < n; ++i) leaves[i] = counts[syms[i]];
  std::vector<std::vector<bool>> is_leaf(static_cast<size_t>(max_bits));
  is_leaf[0].assign(n, true);
  std::vector<uint64_t> level = leaves;
  for (size_t d = 1; d < is_leaf.size(); ++d) {
    std::vector<uint64_t> merged;
    merged.reserve(n + level.size() / 2);
    size_t li = 0, pi = 0;
    const size_t packages = level.size() / 2;
    while (li < n || pi < packages) {
      const bool take_leaf = pi == packages || (li < n && leaves[li] <= level[2 * pi] + level[2 * pi + 1]);
      merged.push_back(take_leaf ? leaves[li++] : level[2 * pi] + level[2 * pi + 1]);
      if (!take_leaf) ++pi;
      is_leaf[d].push_back(take_leaf);
    }
    level = std::move(merged);
  }

  std::array<uint8_t, 256> lengths{};
  size_t take = 2 * n - 2;
  for (size_t d = is_leaf.size(); d-- > 0;) {
    const size_t k = static_cast<size_t>(
        std::count(is_leaf[d].begin(), is_leaf[d].begin() + static_cast<std::ptrdiff_t>(take), true));
    for (size_t i = 0; i < k; ++i) ++lengths[syms[i]];
    take = 2 * (take - k);
  }
  return lengths;
}

std::array<uint16_t, 256> huffman_reversed_codes(const std::array<uint8_t, 256>& lengths) {
  // DEFLATE's canonical assignment: codes of each length are consecutive,
  // in symbol order, following on from the shorter lengths.
  uint32_t per_length[kHuffmanMaxBits + 1] = {};
  for (uint8_t l : lengths) ++per_length[l];
  per_length[0] = 0;
  uint32_t next[kHuffmanMaxBits + 1] = {};
  for (int l = 1, code = 0; l <= kHuffmanMaxBits; ++l) {
    code = (code + static_cast<int>(per_length[l - 1])) << 1;
    next[l] = static_cast<uint32_t>(code);
  }
  std::array<uint16_t, 256> reversed{};
  for (size_t s = 0; s < 256; ++s) {
    const int l = lengths[s];
    if (l == 0) continue;
    const uint32_t code = next[l]++;
    uint32_t r = 0;
    for (int b = 0; b < l; ++b) r |= (code >> b & 1u) << (l - 1 - b);
    reversed[s] = static_cast<uint16_t>(r);
  }
  return reversed;
}

}  // namespace qkv::codec
