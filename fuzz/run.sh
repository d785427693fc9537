#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/fuzz for SECONDS each.
#
#   fuzz/run.sh BUILD_DIR SECONDS [extra libFuzzer flags, e.g. -jobs=1 -workers=1]
#
# Each target fuzz_<name> starts from a copy of its committed seeds,
# fuzz/corpus/<name>/, in fuzz/corpus-work/<name>/ (git-ignored), so a run
# never touches the committed corpus. Inputs are capped at 64 KiB: that reaches
# every check in the readers while keeping runs fast, and it lets a tight
# -malloc_limit_mb catch a reader that allocates a size it read from the file.
# Exits non-zero on any finding; the reproducer is in fuzz/corpus-work/artifacts/
# and replays with `BUILD_DIR/fuzz/fuzz_<name> FILE`.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
BUILD=$1
DURATION=$2
shift 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/fuzz/corpus-work

targets=()
for t in "$BUILD"/fuzz/fuzz_*; do
  [ -f "$t" ] && [ -x "$t" ] && targets+=("$t")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz/run.sh: no fuzz targets in $BUILD/fuzz (configure with CC=clang CXX=clang++ -DQKV_FUZZ=ON)" >&2
  exit 2
fi

failed=()
for target in "${targets[@]}"; do
  name=$(basename "$target")
  corpus=${name#fuzz_}
  work=$WORK/$corpus
  artifacts=$WORK/artifacts/$name
  log=$WORK/$name.log
  rm -rf "$work" "$artifacts"
  mkdir -p "$work" "$artifacts"
  if [ -d "$ROOT/fuzz/corpus/$corpus" ]; then
    cp -R "$ROOT/fuzz/corpus/$corpus"/. "$work"/
  fi
  echo "== $name: ${DURATION}s from $(find "$work" -type f | wc -l) seeds (log: $log)"
  status=0
  "$target" "$work" -max_total_time="$DURATION" -max_len=65536 -rss_limit_mb=2048 -malloc_limit_mb=256 \
    -timeout=30 -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" >"$log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|stat::new_units_added)' "$log" || true
  findings=$(find "$artifacts" -type f | wc -l)
  if [ "$status" -ne 0 ] || [ "$findings" -ne 0 ]; then
    echo "!! $name: exit status $status, $findings reproducer(s) in $artifacts; the end of its log:" >&2
    tail -n 40 "$log" >&2
    failed+=("$name")
  else
    echo "== $name: no findings"
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz/run.sh: findings in ${failed[*]}" >&2
  exit 1
fi
