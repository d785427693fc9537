// CPU feature detection, once per process. clang 14's __builtin_cpu_supports
// does not know every feature used here (f16c), so CPUID is read directly,
// and XGETBV says whether the OS saves the AVX and AVX-512 registers.
#include "qkv/cpu.h"

#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace qkv {
namespace {

#if defined(__x86_64__)
bool bit(unsigned reg, int n) { return (reg >> n) & 1u; }

unsigned long long xgetbv0() {
  unsigned eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool fma = bit(c, 12), osxsave = bit(c, 27), avx = bit(c, 28), f16c = bit(c, 29);
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = xgetbv0();
  const bool os_avx = (xcr0 & 0x6) == 0x6, os_avx512 = (xcr0 & 0xE6) == 0xE6;  // XMM|YMM, + opmask|ZMM
  if (!os_avx || __get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = bit(b, 5) && fma && f16c;
  const bool avx512f = bit(b, 16), avx512dq = bit(b, 17), avx512bw = bit(b, 30), avx512vl = bit(b, 31);
  f.avx512 = f.avx2 && os_avx512 && avx512f && avx512dq && avx512bw && avx512vl;
  f.avx512_vnni = f.avx512 && bit(c, 11);
  __cpuid_count(7, 1, a, b, c, d);
  f.avx512_bf16 = f.avx512 && bit(a, 5);
  return f;
}
#else
CpuFeatures detect() { return {}; }
#endif

CpuFeatures capped() {
  CpuFeatures f = detect();
  const char* cap = std::getenv("QKV_CPU");
  if (!cap || !*cap) return f;
  if (std::strcmp(cap, "scalar") == 0) return {};
  if (std::strcmp(cap, "avx2") == 0) f.avx512 = f.avx512_vnni = f.avx512_bf16 = false;
  return f;
}

}  // namespace

const CpuFeatures& cpu() {
  static const CpuFeatures f = capped();
  return f;
}

Isa best_isa() { return cpu().avx512 ? Isa::Avx512 : cpu().avx2 ? Isa::Avx2 : Isa::Scalar; }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Scalar: break;
  }
  return "scalar";
}

const char* cpu_summary() {
  static const std::string s = [] {
    const CpuFeatures& f = cpu();
    std::string out;
    for (auto [on, name] : {std::pair{f.avx2, "avx2"}, {f.avx512, "avx512"}, {f.avx512_vnni, "avx512_vnni"},
                            {f.avx512_bf16, "avx512_bf16"}})
      if (on) out += out.empty() ? name : std::string(" ") + name;
    return out.empty() ? std::string("scalar") : out;
  }();
  return s.c_str();
}

}  // namespace qkv
