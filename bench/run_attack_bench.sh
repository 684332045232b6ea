#!/usr/bin/env bash
# Attack benchmark: labelrep's batched attacks (bench/attack_bench) vs `pytorch_reference.py attack`
# (one image at a time, as the authors' code), ResNet-32 (or the model given) with speech-shaped 64×64
# labels, untargeted FGSM and the 5-step iterative method at ε = 0.1, same machine, same run, the two
# programs alternating (bench/side_by_side.py). Usage:
#   bench/run_attack_bench.sh [build dir] [cpu|cuda] [model] [rounds]
# Environment: IMAGES (labelrep, default 512), REF_IMAGES (reference, default 100), BATCH (256),
# THREADS (intra-op threads for both, default: all cores), PYTHON (default /usr/bin/python3, which needs
# Debian's python3-torch), REFERENCE (path to pytorch_reference.py if not ../../shared/reference/),
# JSONL (append the results there too).
set -euo pipefail
build=${1:-build}
device=${2:-cpu}
model=${3:-resnet32}
rounds=${4:-3}
python=${PYTHON:-/usr/bin/python3}
images=${IMAGES:-512}
ref_images=${REF_IMAGES:-100}
batch=${BATCH:-256}
threads=${THREADS:-$(nproc)}
here=$(cd "$(dirname "$0")" && pwd)
reference="$here/../../shared/reference/pytorch_reference.py"
[ -f "$reference" ] || reference="${REFERENCE:?set REFERENCE to pytorch_reference.py}"
cmake --build "$build" --target attack_bench >/dev/null
"$python" "$here/side_by_side.py" --name "attack-$model" --rounds "$rounds" \
  --metric fgsm_images_per_s --metric iterative_images_per_s ${JSONL:+--jsonl "$JSONL"} \
  --ours "$build/bench/attack_bench --model $model --device $device --images $images --batch $batch --threads $threads" \
  --theirs "$python $reference attack --model $model --device $device --images $ref_images --threads $threads"
