#!/usr/bin/env bash
# Runs the benchmarks that need no arguments and prints their tables.
#   quantize / dequantize throughput per type (ratios vs the scalar reference)
#   inference speed at F16, Q8_0, Q4_0 and Q4_K_M (ratios vs F16)
#   peak memory of converting a 1.2 GB model to Q4_K_M (vs the model size)
set -euo pipefail
BUILD=${1:-build}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "== quantization kernels"
"$BUILD/bench/bench_quant"

# The model: $QKV_BENCH_MODEL (an F32/F16 GGUF), else a synthetic llama of
# ~110M parameters (random weights: speed does not depend on their values).
if [ -n "${QKV_BENCH_MODEL:-}" ]; then
  SRC=$QKV_BENCH_MODEL
else
  "${QKV_PYTHON:-/usr/bin/python3}" "$(dirname "$0")/make-synthetic-hf.py" "$TMP/llama-110m" --layers 4 --dim 1024 \
    --ffn 2816 --heads 16 --kv-heads 4 > /dev/null
  QKV_NO_PROGRESS=1 "$BUILD/qkv" convert "$TMP/llama-110m" -o "$TMP/llama-110m.gguf" --type F32 > /dev/null
  SRC=$TMP/llama-110m.gguf
fi
echo
echo "== inference on $(basename "$SRC") (set QKV_BENCH_MODEL to use another F32/F16 GGUF)"
for t in F16 Q8_0 Q4_0 Q4_K_M; do
  QKV_NO_PROGRESS=1 "$BUILD/qkv" quantize "$SRC" "$TMP/$t.gguf" "$t" > /dev/null
  "$BUILD/bench/bench_run" "$TMP/$t.gguf" "${QKV_BENCH_PP:-128}" "${QKV_BENCH_TG:-32}" >> "$TMP/rows"
done
awk '
  NR == 1 { f16pp1 = $2; f16tg1 = $3; f16ppn = $4; f16tgn = $5 }
  { rows[NR] = $0; pp1[NR] = $2; tg1[NR] = $3; ppn[NR] = $4; tgn[NR] = $5; th = $6; rss[NR] = $7; file[NR] = $8; name[NR] = $1; seq[NR] = $9; bat[NR] = $10 }
  END {
    printf "%-22s %9s %9s %9s %9s %7s %7s %8s %8s %9s %6s\n", "model", "pp x1", "tg x1", "pp x" th, "tg x" th, "pp/F16", "tg/F16", "RSS MB", "file MB", "tg 4-batch", "gain"
    for (i = 1; i <= NR; i++)
      printf "%-22s %9.1f %9.1f %9.1f %9.1f %6.2fx %6.2fx %8.1f %8.1f %9.1f %5.2fx\n", name[i], pp1[i], tg1[i], ppn[i], tgn[i], ppn[i] / f16ppn, tgn[i] / f16tgn, rss[i], file[i], bat[i], bat[i] / seq[i]
    print "(tokens/s; tg 4-batch: total tokens/s of 4 sequences generated together, gain: vs the same 4 one after another)"
  }' "$TMP/rows"

echo
echo "== convert memory (scripts/bench-convert-rss.sh)"
"$(dirname "$0")/bench-convert-rss.sh" "$BUILD"
