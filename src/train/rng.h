// The trainer's random numbers: splitmix64, whose whole state is one integer
// (easy to checkpoint) and whose output is the same on every platform,
// unlike std::shuffle and std::normal_distribution, whose algorithms the
// standard leaves to each library.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace qkv::train {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  // A generator for one purpose ("stream") of one seed, independent of the others.
  static Rng stream(uint64_t seed, uint64_t stream) { return Rng(Rng(seed ^ (stream * 0xD1B54A32D192ED03ull)).next()); }

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n), without modulo bias (rejection of the short last range).
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;)
      if (const uint64_t x = next(); x < limit) return x % n;
  }
  // Standard normal (Box-Muller).
  double normal() {
    const double u1 = 1.0 - uniform(), u2 = uniform();  // u1 in (0, 1]: log(u1) is finite
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  uint64_t state_;
};

}  // namespace qkv::train
