#!/usr/bin/env bash
# Runs one libFuzzer target (docs/reliability.md, "Fuzzing").
#
#   fuzz/run.sh TARGET [SECONDS | --runs N]     # default: 60 seconds
#   fuzz/run.sh --list                          # the targets
#
# Builds build-fuzz/ with clang-14 if needed (Debian: apt-get install clang-14 libclang-rt-14-dev
# libfuzzer-14-dev), fuzzes under nice with the project's limits (inputs up to 64 KiB, any single
# allocation over 64 MiB is a finding, 2 GiB RSS, 10 s per input), then merges inputs that add coverage
# into fuzz/corpus/TARGET. Findings are written to fuzz/crashes/TARGET/ (crash-*, leak-*, oom-*,
# timeout-*); fix the bug and keep the file: the default ctest run replays it.
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (build jobs, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=$(sed -n 's/^set(LABELREP_FUZZ_TARGETS \(.*\))$/\1/p' fuzz/CMakeLists.txt)
if [ "${1:-}" = --list ]; then echo "$targets"; exit 0; fi
if [ $# -lt 1 ] || ! grep -qw -- "$1" <<<"$targets"; then
  echo "usage: $0 TARGET [SECONDS|--runs N]   (targets: $targets)" >&2
  exit 2
fi
target=$1
shift
limit=(-max_total_time=60)
if [ "${1:-}" = --runs ]; then
  limit=(-runs="${2:?--runs needs a count}")
elif [ -n "${1:-}" ]; then
  limit=(-max_total_time="$1")
fi

build=${FUZZ_BUILD_DIR:-build-fuzz}
if [ ! -f "$build/build.ninja" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLABELREP_FUZZ=ON \
    -DLABELREP_BUILD_TESTS=OFF -DLABELREP_BUILD_EXAMPLES=OFF -DLABELREP_BUILD_TOOLS=OFF -DLABELREP_BUILD_BENCHMARKS=OFF \
    -DLABELREP_INSTALL=OFF "${launcher[@]}" >/dev/null
fi
nice -n 10 ninja -C "$build" -j "${FUZZ_JOBS:-2}" "fuzz_$target" >/dev/null

corpus=fuzz/corpus/$target
crashes=fuzz/crashes/$target
mkdir -p "$corpus" "$crashes"
new=$(mktemp -d)
trap 'rm -rf "$new"' EXIT
# libtorch is not instrumented: its containers would give false container-overflow reports.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_container_overflow=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
flags=(-max_len=65536 -malloc_limit_mb=64 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
       -artifact_prefix="$crashes/")
# New inputs go to a scratch directory first; only those that add coverage are merged into the corpus.
nice -n 10 "$build/fuzz/fuzz_$target" "${flags[@]}" "${limit[@]}" "$new" "$corpus"
if [ -n "$(ls -A "$new")" ]; then
  nice -n 10 "$build/fuzz/fuzz_$target" "${flags[@]}" -merge=1 "$corpus" "$new" 2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files" || true
fi
echo "corpus $corpus: $(ls "$corpus" | wc -l) files, $(cat "$corpus"/* | wc -c) bytes"
