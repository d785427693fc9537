#!/usr/bin/env bash
# The main job, as far as it exists today: inspect and audit a real model.
set -euo pipefail
BUILD=${1:-build}
QKV="$BUILD/qkv"
SHARED=${QKV_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
MODEL="$SHARED/models/gguf-stories260K/stories260K.gguf"
if [ ! -f "$MODEL" ]; then
  echo "demo: $MODEL not found (set QKV_SHARED to the shared folder)" >&2
  exit 1
fi
echo "== qkv inspect $MODEL"
"$QKV" inspect "$MODEL"
echo
echo "== qkv check $MODEL"
"$QKV" check "$MODEL"
