#!/usr/bin/env bash
# Pruning: perplexity against sparsity for each method, and the extra
# lossless gain of .qkv the zeros give.
#
#   scripts/bench-prune.sh [CACHE_DIR]
#
# Models: stories260K (GGUF) and tinystories-656k (HF folder, converted to
# F32), both trained on TinyStories, from ../shared/models; plus the model
# `qkv demo` trains, when scripts/bench-adaptive.sh has cached it in
# build/adaptive-cache. The imatrix (wanda's activation norms) comes from
# ../shared/corpus/tinyshakespeare.txt; perplexity is measured on the first
# 40 windows of 128 tokens of war-and-peace.txt, never seen by the imatrix.
# The .qkv columns compress the F16 files of the unpruned and the pruned model.
set -euo pipefail
cd "$(dirname "$0")/.."
QKV=${QKV:-build/qkv}
CACHE=${1:-build/prune-cache}
SHARED=${QKV_SHARED:-../shared}
mkdir -p "$CACHE"
CAL=$SHARED/corpus/tinyshakespeare.txt EVAL=$SHARED/corpus/war-and-peace.txt
[ -f "$CACHE/stories260K.gguf" ] || cp "$SHARED/models/gguf-stories260K/stories260K.gguf" "$CACHE/stories260K.gguf"
[ -f "$CACHE/tinystories-656k.gguf" ] ||
  "$QKV" convert "$SHARED/models/hf-llama-tinystories-656k" -o "$CACHE/tinystories-656k.gguf" --type F32 >/dev/null
models=(stories260K tinystories-656k)
if [ -f build/adaptive-cache/demo/model-F32.gguf ]; then
  cp build/adaptive-cache/demo/model-F32.gguf "$CACHE/demo.gguf"
  models+=(demo)
fi
ppl() { "$QKV" perplexity "$1" -f "$EVAL" -c 128 --chunks 40 2>/dev/null | sed -n 's/.*PPL = \([0-9.]*\).*/\1/p'; }
packed() {  # .qkv size of $1 converted to F16, in bytes
  "$QKV" quantize "$1" "$CACHE/f16.gguf" F16 >/dev/null
  "$QKV" compress "$CACHE/f16.gguf" -o "$CACHE/f16.qkv" >/dev/null
  stat -c %s "$CACHE/f16.qkv"
}
echo "| model | method | sparsity | PPL | PPL / dense | F16 .qkv MB | .qkv vs dense |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
for m in "${models[@]}"; do
  in=$CACHE/$m.gguf
  [ -f "$CACHE/$m-imatrix.gguf" ] || "$QKV" imatrix "$in" -f "$CAL" -o "$CACHE/$m-imatrix.gguf" -c 128 --chunks 100 >/dev/null 2>&1
  base=$(ppl "$in") base_qkv=$(packed "$in")
  printf "| %s | dense | 0 | %.3f | 1.000 | %.3f | 1.000 |\n" "$m" "$base" "$(echo "$base_qkv / 1000000" | bc -l)"
  for method in magnitude wanda 2:4; do
    list="0.1 0.2 0.3 0.4 0.5 0.6"
    [ "$method" = 2:4 ] && list=0.5
    for s in $list; do
      flags=(--method "$method" --imatrix "$CACHE/$m-imatrix.gguf")
      [ "$method" != 2:4 ] && flags+=(--sparsity "$s")
      "$QKV" prune "$in" "$CACHE/pruned.gguf" "${flags[@]}" >/dev/null
      p=$(ppl "$CACHE/pruned.gguf") q=$(packed "$CACHE/pruned.gguf")
      printf "| %s | %s | %s | %.3f | %.3f | %.3f | %.3f |\n" "$m" "$method" "$s" "$p" "$(echo "$p / $base" | bc -l)" \
        "$(echo "$q / 1000000" | bc -l)" "$(echo "$q / $base_qkv" | bc -l)"
    done
  done
done
