// The codebooks of the IQ1/IQ2/IQ3 formats: each index in a block selects a
// vector of 8 (or 4) small integers from one of these tables. They are data
// of the file format; src/quant/iq_grids.cpp is generated from ggml's golden
// outputs by scripts/extract-iq-grids.py (it does not copy ggml's source).
#pragma once

#include <cstdint>

namespace qkv::quant {

extern const uint8_t iq2xxs_grid[256][8];   // values 8, 25, 43
extern const uint8_t iq2xs_grid[512][8];
extern const uint8_t iq2s_grid[1024][8];
extern const uint8_t iq3xxs_grid[256][4];
extern const uint8_t iq3s_grid[512][4];
extern const int8_t iq1s_grid[2048][8];     // values -1, 0, 1

}  // namespace qkv::quant
