#!/usr/bin/env bash
# Compiles every labelrep source (library, tools, tests, examples, benchmarks) against the headers of
# libtorch 2.x, without a GPU and without linking: Debian 12 has libtorch 1.13, the GPU machines
# PyTorch 2.x, and an API that differs should show up here, not in the minutes a GPU is lent.
# It takes Debian trixie's libtorch-dev (2.6) headers and the compile commands of an existing Ninja
# build of labelrep, swaps the libtorch include directory and runs each command with -fsyntax-only.
# With CUDA_HEADERS=<dir holding cuda_runtime_api.h> it also compiles the CUDA graph code
# (src/train/graphed_step.cpp with LABELREP_HAS_CUDA_GRAPHS, cmake/check_cuda_graphs.cpp); Debian's
# non-free nvidia-cuda-dev package has those headers (`dpkg -x` it; see docs/gpu.md).
#
#   tools/gpu/check-torch2-api.sh [build-dir]        # default: build
#
# Environment: WORK (scratch directory, default /tmp/labelrep-torch2), JOBS (default: nproc),
# CUDA_HEADERS, ONLY (a regular expression: only the sources whose path matches it), DEB_URL (another
# libtorch-dev .deb, e.g. sid's 2.14), CXX_STD (the language standard to compile with, e.g. c++20, which
# libtorch 2.14 and later require; default: the build's own). Exit status 1 if any file fails; the compiler's errors are printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=$(cd "${1:-build}" && pwd)
work=${WORK:-/tmp/labelrep-torch2}
jobs=${JOBS:-$(nproc)}
deb_url=${DEB_URL:-http://deb.debian.org/debian/pool/main/p/pytorch/libtorch-dev_2.6.0+dfsg-7_amd64.deb}
mkdir -p "$work"
if [ ! -f "$work/prefix/usr/include/torch/csrc/api/include/torch/version.h" ]; then
  echo "fetching $deb_url"
  curl -fsS -m 600 -o "$work/libtorch-dev.deb" "$deb_url"
  rm -rf "$work/prefix" && dpkg -x "$work/libtorch-dev.deb" "$work/prefix"
fi
torch_include=$work/prefix/usr/include
grep -hE "define TORCH_VERSION_(MAJOR|MINOR) " "$torch_include/torch/csrc/api/include/torch/version.h" || true

[ -f "$build/build.ninja" ] || { echo "$build is not a Ninja build of labelrep" >&2; exit 2; }
commands=$work/commands
rm -rf "$commands" && mkdir -p "$commands"
# Each compile command of a labelrep source, without ccache, precompiled header, dependency file and
# object file, with libtorch's include directories pointing at the 2.x headers.
i=0
while IFS= read -r line; do
  i=$((i + 1))
  cmd=${line#ccache }
  cmd=$(sed -E "s/ -include [^ ]*cmake_pch.hxx//; s/ -Winvalid-pch//; s/ -MD -MT [^ ]* -MF [^ ]*//; s/ -o [^ ]*\.o / /;
                s# -isystem /usr/include/torch/csrc/api/include# -isystem $torch_include/torch/csrc/api/include -isystem $torch_include#" <<<"$cmd")
  [ -n "${CXX_STD:-}" ] && cmd=$(sed -E "s/ -std=[a-z+0-9]+/ -std=$CXX_STD/" <<<"$cmd")
  echo "$cmd -fsyntax-only" >"$commands/$i.sh"
done < <(ninja -C "$build" -t commands | grep -E "(c\+\+|g\+\+) .* -c $root/" | grep -E -- "-c [^ ]*(${ONLY:-})")
if [ -n "${CUDA_HEADERS:-}" ]; then
  # c10's CUDA headers include a file CMake generates in a CUDA build of PyTorch; an empty one serves.
  mkdir -p "$work/stub/c10/cuda/impl" && echo '#pragma once' >"$work/stub/c10/cuda/impl/cuda_cmake_macros.h"
  graphs=$(grep -l "src/train/graphed_step.cpp" "$commands"/*.sh | head -1)
  [ -n "$graphs" ] && echo "$(cat "$graphs") -DLABELREP_HAS_CUDA_GRAPHS=1 -isystem $CUDA_HEADERS -isystem $work/stub" >"$commands/cuda-graphs.sh"
  echo "g++ -std=${CXX_STD:-c++17} -fsyntax-only -isystem $torch_include/torch/csrc/api/include -isystem $torch_include -isystem $work/stub -isystem $CUDA_HEADERS $root/cmake/check_cuda_graphs.cpp" >"$commands/cuda-graphs-check.sh"
fi
total=$(ls "$commands" | wc -l)
echo "compiling $total files against libtorch 2.x headers, $jobs at a time"
failed=$(ls "$commands"/*.sh | xargs -P "$jobs" -I{} sh -c 'cd "$0" && sh {} >{}.log 2>&1 || echo {}' "$build" | wc -l)
for log in "$commands"/*.sh.log; do
  if grep -q "error" "$log"; then echo "== ${log%.log}: $(grep -o ' -c [^ ]*' "${log%.log}" || true)"; grep -m 5 "error" "$log"; fi
done
echo "$((total - failed)) of $total files compile against libtorch 2.x; $failed fail"
[ "$failed" = 0 ]
