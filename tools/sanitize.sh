#!/usr/bin/env bash
# Builds the library, the CLI and the tests with AddressSanitizer + UndefinedBehaviorSanitizer (g++) in
# a separate build directory and runs the default test suite there (docs/reliability.md, "Sanitizers").
#
#   tools/sanitize.sh [ctest options]          # e.g. tools/sanitize.sh -R npy
#
# Environment: SANITIZE_BUILD_DIR (default build-asan), JOBS (default 2). A full build takes about 30
# minutes on 2 cores (3x the normal build), the default suite about 13 minutes (3x). The package tests
# are excluded (they build a consumer project without the sanitizer runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SANITIZE_BUILD_DIR:-build-asan}
jobs=${JOBS:-2}
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g1"
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$PWD"
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DLABELREP_BUILD_EXAMPLES=OFF -DLABELREP_BUILD_BENCHMARKS=OFF >/dev/null
nice -n 10 cmake --build "$build" -j "$jobs"

# libtorch and libgomp are not instrumented: their leaks and reports are theirs (see the file).
supp="$PWD/tools/sanitizer-suppressions"
export ASAN_OPTIONS="detect_leaks=1:detect_container_overflow=0:abort_on_error=0:halt_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="suppressions=$supp/ubsan.supp:print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
exec nice -n 10 ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 3000 -E '^package' "$@"
