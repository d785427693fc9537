// What this CPU can run: the one place that asks (CPUID and the OS's saved
// register state). Kernels are compiled for several instruction sets through
// function attributes and picked at run time from these facts.
//
// QKV_CPU=scalar|avx2|avx512 in the environment caps what is used (to compare
// variants, or to work around a faulty one); it never enables what the CPU lacks.
#pragma once

namespace qkv {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

struct CpuFeatures {
  bool avx2 = false;         // AVX2 with FMA and F16C (every AVX2 CPU has both)
  bool avx512 = false;       // AVX-512 F, BW, VL and DQ
  bool avx512_vnni = false;  // AVX-512 VNNI: vpdpbusd, 8-bit dot products into int32
  bool avx512_bf16 = false;  // AVX-512 BF16: vdpbf16ps
};

// The hardware's features, capped by QKV_CPU (read once).
const CpuFeatures& cpu();
// The widest instruction set cpu() allows.
Isa best_isa();
const char* isa_name(Isa isa);
// "avx2 avx512 avx512_vnni ..." for --version and qkv bench.
const char* cpu_summary();

}  // namespace qkv
