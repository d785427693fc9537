#!/usr/bin/env bash
# Runs the benchmarks that need no arguments and prints their tables.
#   quantize / dequantize throughput per type (ratios vs the scalar reference)
#   inference speed at F16, Q8_0, Q4_0 and Q4_K_M (ratios vs F16)
#   peak memory of converting a 1.2 GB model to Q4_K_M (vs the model size)
set -euo pipefail
BUILD=${1:-build}
SHARED=${QKV_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "== quantization kernels"
"$BUILD/bench/bench_quant"

SRC=${QKV_BENCH_MODEL:-$SHARED/models/gguf-llamacpp-quantized/tiny-llama-F32.gguf}
echo
echo "== inference on $(basename "$SRC") (set QKV_BENCH_MODEL to use another F32/F16 GGUF)"
for t in F16 Q8_0 Q4_0 Q4_K_M; do
  QKV_NO_PROGRESS=1 "$BUILD/qkv" quantize "$SRC" "$TMP/$t.gguf" "$t" > /dev/null
  "$BUILD/bench/bench_run" "$TMP/$t.gguf" >> "$TMP/rows"
done
awk '
  NR == 1 { f16pp1 = $2; f16tg1 = $3; f16ppn = $4; f16tgn = $5 }
  { rows[NR] = $0; pp1[NR] = $2; tg1[NR] = $3; ppn[NR] = $4; tgn[NR] = $5; th = $6; rss[NR] = $7; file[NR] = $8; name[NR] = $1 }
  END {
    printf "%-26s %10s %10s %10s %10s %8s %8s %9s %9s\n", "model", "pp t/s x1", "tg t/s x1", "pp t/s x" th, "tg t/s x" th, "pp/F16", "tg/F16", "RSS MB", "file MB"
    for (i = 1; i <= NR; i++)
      printf "%-26s %10.1f %10.1f %10.1f %10.1f %7.2fx %7.2fx %9.1f %9.1f\n", name[i], pp1[i], tg1[i], ppn[i], tgn[i], ppn[i] / f16ppn, tgn[i] / f16tgn, rss[i], file[i]
  }' "$TMP/rows"

echo
echo "== convert memory (scripts/bench-convert-rss.sh)"
"$(dirname "$0")/bench-convert-rss.sh" "$BUILD"
