#!/usr/bin/env python3
"""Runs a labelrep benchmark program and its PyTorch counterpart alternately, in the same run on the
same machine, and reports the medians and their ratio — the one way labelrep quotes a speed-up.

Each command prints one JSON line; `--metric` names the fields compared (higher is better).

  bench/side_by_side.py --name train-speech --rounds 3 --metric images_per_s \
      --ours "build/bench/train_step_bench --label speech" \
      --theirs "python3 ../shared/reference/pytorch_reference.py train --label speech" [--jsonl results.jsonl]

Prints one line per metric; with --jsonl also appends one JSON record per metric to that file.
With --cache FILE, a command's results of earlier rows of the same run are reused instead of measured
again (round i of a command is measured once): when several rows share a command, as the GPU script's
rows do, each configuration still runs `--rounds` times, in the same run, and device time is saved.
Exits non-zero (with the command's stderr) when a command fails or prints no JSON line.
"""
import argparse, json, os, shlex, statistics, subprocess, sys


def run(command):
    done = subprocess.run(shlex.split(command), capture_output=True, text=True)
    lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stderr)
        sys.exit(f"side_by_side: '{command}' failed (exit {done.returncode})")
    return json.loads(lines[-1])


def cached_runner(path):
    """run(), memoised per (command, round) in a JSON file shared by the rows of one benchmark run."""
    def load():
        try:
            with open(path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def run_round(command, round_index):
        cache = load()
        earlier = cache.get(command, [])
        if round_index < len(earlier):
            return earlier[round_index]
        result = run(command)
        cache.setdefault(command, []).append(result)
        with open(path + ".tmp", "w") as f:
            json.dump(cache, f)
        os.replace(path + ".tmp", path)
        return result
    return run_round


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--ours", required=True)
    p.add_argument("--theirs", required=True)
    p.add_argument("--metric", action="append", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--jsonl")
    p.add_argument("--cache", help="JSON file of results to reuse across the rows of one run")
    a = p.parse_args()
    run_round = cached_runner(a.cache) if a.cache else (lambda command, _: run(command))
    ours, theirs = [], []
    for i in range(a.rounds):
        ours.append(run_round(a.ours, i))
        theirs.append(run_round(a.theirs, i))
    for metric in a.metric:
        o = [r[metric] for r in ours]
        t = [r[metric] for r in theirs]
        mo, mt = statistics.median(o), statistics.median(t)
        ratio = mo / mt if mt > 0 else float("inf")
        print(f"{a.name:24s} {metric:24s} labelrep {mo:10.1f}  pytorch {mt:10.1f}  ratio {ratio:6.2f}x  "
              f"(medians of {a.rounds}; labelrep {[round(v, 1) for v in o]}, pytorch {[round(v, 1) for v in t]})", flush=True)
        if a.jsonl:
            with open(a.jsonl, "a") as f:
                f.write(json.dumps({"name": a.name, "metric": metric, "labelrep": mo, "pytorch": mt, "ratio": ratio,
                                    "labelrep_runs": o, "pytorch_runs": t, "labelrep_info": ours[0], "pytorch_info": theirs[0],
                                    "ours_command": a.ours, "theirs_command": a.theirs}) + "\n")


if __name__ == "__main__":
    main()
