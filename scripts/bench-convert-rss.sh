#!/usr/bin/env bash
# Peak memory of `qkv convert` against the size of the model it reads: a
# synthetic Llama of about 1.2 GB of F16 safetensors (scripts/make-synthetic-hf.py)
# converted straight to Q4_K_M, measured with /usr/bin/time -v. The baseline
# in the same run is the model's own size; the streaming converter should
# stay far below it (the issue's bar: under 25%).
#   scripts/bench-convert-rss.sh [BUILD] [TYPE]
set -euo pipefail
BUILD=${1:-build}
TYPE=${2:-Q4_K_M}
PY=${QKV_PYTHON:-/usr/bin/python3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$PY" "$(dirname "$0")/make-synthetic-hf.py" "$TMP/model"
sync
QKV_NO_PROGRESS=1 /usr/bin/time -v "$BUILD/qkv" convert "$TMP/model" -o "$TMP/out.gguf" --type "$TYPE" 2> "$TMP/time"
model=$(stat -c %s "$TMP/model/model.safetensors")
out=$(stat -c %s "$TMP/out.gguf")
rss_kb=$(awk -F: '/Maximum resident/ { print $2 }' "$TMP/time")
wall=$(awk '/Elapsed \(wall clock\)/ { print $NF }' "$TMP/time")
awk -v m="$model" -v o="$out" -v r="$rss_kb" -v w="$wall" -v t="$TYPE" 'BEGIN {
  printf "%-22s %12s %12s %12s %10s %10s\n", "convert to " t, "model MB", "output MB", "peak RSS MB", "RSS/model", "wall"
  printf "%-22s %12.1f %12.1f %12.1f %9.1f%% %10s\n", "synthetic llama F16", m / 1e6, o / 1e6, r * 1024 / 1e6, 100 * r * 1024 / m, w
}'
