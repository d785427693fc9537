// The HTML report's plots, each one self-contained <svg> element with a
// <title> on every mark. Class names (frontier, recipe, cell, bar ...) are
// what tests/analysis/html_test.cpp looks for in the rendered page.
#pragma once

#include <string>

#include "qkv/analysis.h"

namespace qkv::analysis {

// Bits per weight against the predicted error (log scale), the frontier as a
// staircase and llama.cpp's recipes as labelled markers.
std::string pareto_svg(const ModelAnalysis& a);
// Layers x tensor families, each cell coloured by its SQNR at the heat map's type.
std::string heatmap_svg(const ModelAnalysis& a);
// A family's standardised values, counts on a log scale, beside a Gaussian's.
std::string histogram_svg(const FamilyHistogram& f);

}  // namespace qkv::analysis
