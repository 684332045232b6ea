#!/usr/bin/env bash
# Data pipeline benchmark: labelrep's batches vs the torchvision pipeline of pytorch_reference.py epoch,
# same machine, same run. Usage: bench/run_data_bench.sh [build dir] [cpu|cuda]
# Needs Debian's python3-torch and python3-torchvision (apt-get install python3-torch python3-torchvision).
set -euo pipefail
build=${1:-build}
device=${2:-cpu}
python=${PYTHON:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
cmake --build "$build" --target data_pipeline_bench >/dev/null
ours=$("$build/bench/data_pipeline_bench" "$device" 3)
theirs=$("$python" "$here/torchvision_pipeline.py" --device "$device" --epochs 1)
echo "labelrep:    $ours"
echo "torchvision: $theirs"
"$python" - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"ratio (labelrep / torchvision DataLoader): {ours['images_per_s'] / theirs['images_per_s']:.1f}x")
PY
