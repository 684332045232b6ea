#!/usr/bin/env bash
# Training benchmark: labelrep's train_step vs `pytorch_reference.py train`, ResNet-32 (or --model),
# speech-shaped 64×64 labels and categorical labels, batch 128, same machine, same run, alternating
# the two programs so that load changes hit both. Usage:
#   bench/run_train_bench.sh [build dir] [cpu|cuda] [model] [rounds]
# Needs Debian's python3-torch (apt-get install python3-torch).
set -euo pipefail
build=${1:-build}
device=${2:-cpu}
model=${3:-resnet32}
rounds=${4:-3}
python=${PYTHON:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
reference="$here/../../shared/reference/pytorch_reference.py"
[ -f "$reference" ] || reference="${REFERENCE:?set REFERENCE to pytorch_reference.py}"
cmake --build "$build" --target train_step_bench >/dev/null
steps=${STEPS:-20}
for label in speech category; do
  ours=(); theirs=()
  for round in $(seq "$rounds"); do
    ours+=("$("$build/bench/train_step_bench" --model "$model" --label "$label" --device "$device" --steps "$steps")")
    theirs+=("$("$python" "$reference" train --model "$model" --label "$label" --device "$device" --steps "$steps")")
  done
  "$python" - "$label" "${#ours[@]}" "${ours[@]}" "${theirs[@]}" <<'PY'
import json, statistics, sys
label, n = sys.argv[1], int(sys.argv[2])
ours = [json.loads(s)["images_per_s"] for s in sys.argv[3:3 + n]]
theirs = [json.loads(s)["images_per_s"] for s in sys.argv[3 + n:]]
o, t = statistics.median(ours), statistics.median(theirs)
print(f"{label:9s} labelrep {o:8.1f} img/s  pytorch {t:8.1f} img/s  ratio {o / t:.2f}x  (medians of {n}; labelrep {ours}, pytorch {theirs})")
PY
done
