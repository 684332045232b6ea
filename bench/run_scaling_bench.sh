#!/usr/bin/env bash
# Data-parallel scaling on one machine: `labelrep train` as 1 process (1 and 2 threads) and as 2
# processes of 1 thread each (Gloo on loopback, global batch 128), the same run otherwise. Reports the
# training throughput of the epoch (timings.csv: images/s, without validation) and the wall time of the
# whole command (data loading, validation and test included), medians over rounds that alternate the
# configurations so that load changes hit all of them. Usage:
#   bench/run_scaling_bench.sh [build dir] [encoder] [level %] [rounds]
set -euo pipefail
build=${1:-build}
encoder=${2:-small-cnn}
level=${3:-20}
rounds=${4:-3}
labelrep="$build/bin/labelrep"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(train --encoder "$encoder" --epochs 1 --level "$level" --validation 300 --out)
throughput() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "images_per_second") c = i } NR == 2 { print $c }' "$1/timings.csv"; }
declare -A speed wall
for round in $(seq "$rounds"); do
  for config in 1x1 1x2 2x1; do
    out="$work/$config-$round"
    start=$(date +%s.%N)
    case $config in
      1x1) "$labelrep" "${common[@]}" "$out" --threads 1 > /dev/null ;;
      1x2) "$labelrep" "${common[@]}" "$out" --threads 2 > /dev/null ;;
      2x1)
        port=$((29500 + RANDOM % 1000))
        for rank in 0 1; do
          RANK=$rank WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$labelrep" "${common[@]}" "$out" --threads 1 > /dev/null &
        done
        wait ;;
    esac
    end=$(date +%s.%N)
    speed[$config]+="$(throughput "$out") "
    wall[$config]+="$(echo "$end - $start" | bc) "
  done
done
for config in 1x1 1x2 2x1; do
  python3 - "$config" "${speed[$config]}" "${wall[$config]}" <<'PY'
import statistics, sys
config, speeds, walls = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
names = {"1x1": "1 process, 1 thread  ", "1x2": "1 process, 2 threads ", "2x1": "2 processes, 1 thread"}
print(f"{names[config]}  train {statistics.median(speeds):7.1f} img/s  wall {statistics.median(walls):6.1f} s  (rounds: {speeds} img/s, {[round(w, 1) for w in walls]} s)")
PY
done
