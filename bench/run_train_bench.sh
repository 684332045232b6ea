#!/usr/bin/env bash
# Training benchmark: labelrep's train_step vs `pytorch_reference.py train`, ResNet-32 (or the model
# given), speech-shaped 64×64 labels and categorical labels, batch 128, same machine, same run, the two
# programs alternating (bench/side_by_side.py). Usage:
#   bench/run_train_bench.sh [build dir] [cpu|cuda] [model] [rounds]
# Environment: STEPS (default 20), PYTHON (default /usr/bin/python3, which needs Debian's
# python3-torch), REFERENCE (path to pytorch_reference.py if not ../../shared/reference/), JSONL (append
# the results there too).
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
  "$python" "$here/side_by_side.py" --name "train-$model-$label" --rounds "$rounds" --metric images_per_s ${JSONL:+--jsonl "$JSONL"} \
    --ours "$build/bench/train_step_bench --model $model --label $label --device $device --steps $steps" \
    --theirs "$python $reference train --model $model --label $label --device $device --steps $steps"
done
