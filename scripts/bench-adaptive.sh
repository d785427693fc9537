#!/usr/bin/env bash
# Quality of the adaptive planner against llama.cpp's recipes at equal size:
# for each recipe, the recipe's file and `qkv quantize --target-size` of the
# recipe's file size, with and without an importance matrix, each scored by
# its KL divergence from the float model on held-out text. The planner is
# calibrated on the training text (--calibrate), never on the held-out one.
#
#   scripts/bench-adaptive.sh [CACHE_DIR]
#
# The model is the one `qkv demo` trains (256 / 768, every row a multiple of
# 256) on ../shared/corpus/tinyshakespeare.txt; it is cached in CACHE_DIR
# (default build/adaptive-cache) with its imatrix, so a rerun only quantizes
# and measures. MINUTES (default 4) sets the training time.
set -euo pipefail
cd "$(dirname "$0")/.."
QKV=${QKV:-build/qkv}
CACHE=${1:-build/adaptive-cache}
SHARED=${QKV_SHARED:-../shared}
mkdir -p "$CACHE"
if [ ! -f "$CACHE/demo/model-F32.gguf" ]; then
  "$QKV" demo --data "$SHARED/corpus/tinyshakespeare.txt" --out "$CACHE/demo" --minutes "${MINUTES:-4}" >&2
fi
F32=$CACHE/demo/model-F32.gguf EVAL=$CACHE/demo/eval.txt
[ -f "$CACHE/imatrix.gguf" ] ||
  "$QKV" imatrix "$F32" -f "$CACHE/demo/train.txt" -o "$CACHE/imatrix.gguf" -c 128 --chunks 200 >&2
kld() {  # mean KL divergence of $1 from the F32 model on the held-out text
  "$QKV" perplexity "$1" -f "$EVAL" -c 128 --kl-divergence "$F32" 2>/dev/null |
    sed -n 's/.*mean KLD = \([0-9.e+-]*\).*/\1/p'
}
echo "| recipe | imatrix | recipe size | recipe KLD | adaptive size | adaptive KLD | ratio | predicted KLD |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for r in Q2_K Q3_K_M Q4_K_M Q5_K_M; do
  for im in no yes; do
    flags=()
    [ "$im" = yes ] && flags=(--imatrix "$CACHE/imatrix.gguf")
    rec=$CACHE/$r-$im.gguf ada=$CACHE/$r-$im-adaptive.gguf
    "$QKV" quantize "$F32" "$rec" "$r" "${flags[@]}" >/dev/null
    size=$(stat -c %s "$rec")
    predicted=$("$QKV" quantize "$F32" "$ada" --target-size "$size" "${flags[@]}" \
      --calibrate "$CACHE/demo/train.txt" --calibrate-ctx 128 --calibrate-chunks 16 |
      sed -n 's/.*predicted error \([0-9.e+-]*\).*/\1/p')
    a=$(kld "$rec") b=$(kld "$ada")
    printf "| %s | %s | %d | %.5f | %d | %.5f | %.2fx | %.5f |\n" "$r" "$im" "$size" "$a" "$(stat -c %s "$ada")" "$b" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')" "$predicted"
  done
done
