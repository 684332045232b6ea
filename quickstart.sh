#!/usr/bin/env bash
# labelrep quick start on Debian 12: installs what is missing, builds, then runs the demo or the tests.
#
#   ./quickstart.sh demo [labelrep demo options]   # the demo experiment on Fashion-MNIST
#   ./quickstart.sh test [ctest options]           # the test suite (what CI runs)
#
# Environment: BUILD_DIR (default: build), JOBS (default: nproc), LABELREP_SKIP_APT=1 to skip apt-get.
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-}
case "$mode" in
  demo|test) shift ;;
  *) echo "usage: $0 demo|test [options]" >&2; exit 2 ;;
esac

build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}

# Debian packages labelrep builds and tests with (see docs/getting-started.md for what each is for).
packages=(build-essential cmake ninja-build pkg-config ccache
          libtorch-dev libfftw3-dev libsndfile1-dev libespeak-ng-dev
          libfmt-dev catch2 zlib1g-dev libpng-dev nlohmann-json3-dev libcli11-dev libgloo-dev
          dataset-fashion-mnist python3-numpy)

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "quickstart: installing ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

[ "${LABELREP_SKIP_APT:-0}" = 1 ] || install_missing

launcher=()
if command -v ccache >/dev/null; then
  # Relative paths in the cache key, so another checkout of the same sources reuses compiled objects.
  export CCACHE_BASEDIR="$PWD"
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}"
cmake --build "$build_dir" -j "$jobs"

if [ "$mode" = demo ]; then
  exec "$build_dir/bin/labelrep" demo "$@"
else
  exec ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" "$@"
fi
