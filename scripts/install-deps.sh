#!/usr/bin/env bash
# Installs the Debian 12 packages that QKV Core's build, tests, fuzzers and
# benchmarks need. Idempotent: packages already present are left alone, and
# nothing is downloaded from anywhere but Debian's repositories.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  clang libclang-rt-14-dev            # libFuzzer + sanitizers for fuzz/
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libzstd-dev libxxhash-dev libopenblas-dev libpcre2-dev
  python3 python3-numpy python3-torch # test oracles (real torch.save, autograd)
  time                                # /usr/bin/time -v for peak-RSS measurements
  chromium                            # headless: renders `qkv analyze --html` in tests/analysis
  openmpi-bin libopenmpi-dev          # QKV_MPI: mpirun -np N qkv train (data parallel)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
