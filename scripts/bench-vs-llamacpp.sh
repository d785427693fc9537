#!/usr/bin/env bash
# Side-by-side speed of qkv and llama.cpp on the same GGUF files, in the same
# run: for each file, llama-bench then `qkv bench` (same -p, -n, -t, -r), and
# one markdown table with the ratio qkv / llama.cpp per test.
#
#   LLAMA_BENCH=/path/to/llama-bench scripts/bench-vs-llamacpp.sh [-t 1,2] [-r 3] MODEL.gguf...
#
# llama-bench is not part of this project: build llama.cpp yourself and point
# LLAMA_BENCH at its binary.
set -euo pipefail
QKV=${QKV:-$(dirname "$0")/../build/qkv}
: "${LLAMA_BENCH:?set LLAMA_BENCH to a llama-bench binary}"
THREADS=1,2 REPS=3 PP=128 TG=64
while getopts "t:r:p:n:" o; do
  case $o in t) THREADS=$OPTARG ;; r) REPS=$OPTARG ;; p) PP=$OPTARG ;; n) TG=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for m in "$@"; do
  "$LLAMA_BENCH" -m "$m" -p "$PP" -n "$TG" -t "$THREADS" -r "$REPS" -o json 2>/dev/null > "$TMP/llama.json"
  "$QKV" bench -m "$m" -p "$PP" -n "$TG" -t "$THREADS" -r "$REPS" -o json 2>/dev/null > "$TMP/qkv.json"
  /usr/bin/python3 - "$m" "$TMP/llama.json" "$TMP/qkv.json" >> "$TMP/rows" <<'PY'
import json, os, sys
name, llama, qkv = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
ref = {}
for r in llama:
    test = "pp%d" % r["n_prompt"] if r["n_prompt"] else "tg%d" % r["n_gen"]
    ref[(r["n_threads"], test)] = r["avg_ts"]
for r in qkv:
    l = ref.get((r["threads"], r["test"]))
    if l:
        print("| %s | %s | %d | %s | %.1f | %.1f | %.2fx |" % (os.path.basename(name), r["type"], r["threads"], r["test"], l, r["avg_ts"], r["avg_ts"] / l))
PY
done
echo "| model | type | threads | test | llama.cpp t/s | qkv t/s | qkv / llama.cpp |"
echo "| --- | --- | ---: | --- | ---: | ---: | ---: |"
cat "$TMP/rows"
