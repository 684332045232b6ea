#!/usr/bin/env bash
# Attack benchmark: labelrep's batched attacks (bench/attack_bench) vs `pytorch_reference.py attack`
# (one image at a time, as the authors' code), ResNet-32 (or the model given) with speech-shaped 64×64
# labels, untargeted FGSM and the 5-step iterative method at ε = 0.1, same machine, same run, the two
# programs alternating so that load changes hit both. Reports images/s and the ratio (medians). Usage:
#   bench/run_attack_bench.sh [build dir] [cpu|cuda] [model] [rounds]
# Environment: IMAGES (labelrep, default 512), REF_IMAGES (reference, default 100), BATCH (256),
# THREADS (intra-op threads for both, default: all cores), PYTHON (default /usr/bin/python3, which needs
# Debian's python3-torch), REFERENCE (path to pytorch_reference.py if not ../../shared/reference/).
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
ours=(); theirs=()
for round in $(seq "$rounds"); do
  ours+=("$("$build/bench/attack_bench" --model "$model" --device "$device" --images "$images" --batch "$batch" --threads "$threads")")
  theirs+=("$("$python" "$reference" attack --model "$model" --device "$device" --images "$ref_images" --threads "$threads")")
done
"$python" - "${#ours[@]}" "${ours[@]}" "${theirs[@]}" <<'PY'
import json, statistics, sys
n = int(sys.argv[1])
ours = [json.loads(s) for s in sys.argv[2:2 + n]]
theirs = [json.loads(s) for s in sys.argv[2 + n:]]
print(f"device {ours[0]['device']}, {ours[0]['threads']} threads, labelrep {ours[0]['images']} images in batches of {ours[0]['batch']}, "
      f"reference {theirs[0].get('device')} one image at a time")
for attack in ("fgsm", "iterative"):
    o = [r[attack + "_images_per_s"] for r in ours]
    t = [r[attack + "_images_per_s"] for r in theirs]
    mo, mt = statistics.median(o), statistics.median(t)
    print(f"{attack:9s} labelrep {mo:8.1f} img/s  pytorch {mt:8.1f} img/s  ratio {mo / mt:.1f}x  "
          f"(medians of {n}; labelrep {[round(v, 1) for v in o]}, pytorch {[round(v, 1) for v in t]})")
PY
