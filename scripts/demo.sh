#!/usr/bin/env bash
# The main job, end to end, on small real models from ../shared:
#   1. convert a Hugging Face model (safetensors) to GGUF, no Python;
#   2. inspect and audit it;
#   3. quantize it the way llama-quantize does (Q8_0, Q4_K_M);
#   4. measure perplexity of each form (and KL divergence from F32);
#   5. stream a generated sample;
#   6. print a table: size, bits per weight, perplexity, tokens/s.
set -euo pipefail
BUILD=${1:-build}
QKV="$BUILD/qkv"
SHARED=${QKV_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
HF="$SHARED/models/hf-llama-tinystories-656k"
TEXT="$SHARED/corpus/war-and-peace.txt"
for f in "$HF/config.json" "$TEXT"; do
  [ -e "$f" ] || { echo "demo: $f not found (set QKV_SHARED to the shared folder)" >&2; exit 1; }
done
OUT=${QKV_DEMO_DIR:-$BUILD/demo}
mkdir -p "$OUT"
export QKV_NO_PROGRESS=${QKV_NO_PROGRESS:-}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "convert $HF -> F32 GGUF"
"$QKV" convert "$HF" -o "$OUT/tinystories-F32.gguf" --type F32

step "inspect"
"$QKV" inspect "$OUT/tinystories-F32.gguf" | grep -v '^  tokenizer.ggml' | head -40

step "check (surgical alignment audit)"
"$QKV" check "$OUT/tinystories-F32.gguf"

for t in Q8_0 Q4_K_M; do
  step "quantize -> $t"
  "$QKV" quantize "$OUT/tinystories-F32.gguf" "$OUT/tinystories-$t.gguf" "$t"
  "$QKV" check "$OUT/tinystories-$t.gguf" > /dev/null
done

head -c 40000 "$TEXT" > "$OUT/eval.txt"
printf '%-8s %10s %8s %10s %10s %12s %10s\n' form "size MB" bpw PPL "KLD" "top-1 agree" "gen t/s" > "$OUT/table.txt"
for t in F32 Q8_0 Q4_K_M; do
  f="$OUT/tinystories-$t.gguf"
  step "perplexity $t"
  ppl=$("$QKV" perplexity "$f" -f "$OUT/eval.txt" -c 256 --kl-divergence "$OUT/tinystories-F32.gguf" | tee /dev/stderr)
  sample=$("$QKV" run "$f" -p "Once upon a time" -n 64 --temp 0 2>&1 >/dev/null | grep -o 'generation: [0-9]* tokens in [0-9.]* s ([0-9.]* tokens/s)' || true)
  size=$(stat -c %s "$f")
  bpw=$("$QKV" inspect "$f" | awk '/bits per weight/ {print $(NF-3)}')
  p=$(echo "$ppl" | awk '/Final estimate/ {print $5}')
  kld=$(echo "$ppl" | awk -F'mean KLD = ' '/mean KLD/ {split($2, a, " "); print a[1]}')
  agree=$(echo "$ppl" | awk -F'agreement = ' '/agreement/ {print $2}')
  tps=$(echo "$sample" | sed -E 's/.*\(([0-9.]+) tokens\/s\).*/\1/')
  printf '%-8s %10.2f %8s %10s %10s %12s %10s\n' "$t" "$(awk -v s="$size" 'BEGIN { print s / 1e6 }')" "$bpw" "$p" "$kld" "$agree" "$tps" >> "$OUT/table.txt"
done

step "a streamed sample (Q4_K_M, seed 42)"
"$QKV" run "$OUT/tinystories-Q4_K_M.gguf" -p "Once upon a time" -n 80 --seed 42

step "summary ($OUT)"
cat "$OUT/table.txt"
