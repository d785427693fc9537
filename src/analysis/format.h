// Helpers the three reports share: number formatting and the layer x family
// grid of the sensitivity heat map.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qkv/analysis.h"

namespace qkv::analysis {

std::string strf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string shape_string(const std::vector<uint64_t>& shape);  // "256x768"
std::string megabytes(uint64_t bytes);                         // "12.34 MB"
std::string sci(double x);                                     // "1.23e-03", "-" when not finite
// 10 log10(1 / error), +inf for 0.
double sqnr_db(double error);
std::string db(double sqnr);                                   // "23.4", "inf"

// Quantizable tensors whose errors were not measured (NaN or infinite values,
// or a type QKV Core cannot read): the frontier and the recipes count them as 0.
std::vector<std::string> unmeasured(const ModelAnalysis& a);

// Recipe indices ordered by size.
std::vector<size_t> recipes_by_size(const ModelAnalysis& a);

// The heat map: rows are layers, columns the families measured in them (in
// order of first appearance); cells index a.tensors, or -1.
struct LayerGrid {
  std::vector<int> layers;
  std::vector<std::string> families;
  std::vector<std::vector<long>> cell;  // [row][column]
  std::vector<size_t> outside;          // measured tensors outside the layers
};
LayerGrid layer_grid(const ModelAnalysis& a);

// The error of tensor i at its heat-map type, or null.
const QuantError* sensitivity_error(const ModelAnalysis& a, size_t i);

// How many tensors take each type at frontier point k ("Q4_K x 20, Q6_K x 4").
std::vector<std::pair<TensorType, size_t>> frontier_type_counts(const ModelAnalysis& a, size_t k);

}  // namespace qkv::analysis
