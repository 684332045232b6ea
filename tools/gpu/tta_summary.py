#!/usr/bin/env python3
"""Time to accuracy, labelrep against the best-practice PyTorch eager baseline, from one GPU run.

  tta_summary.py tta.jsonl tta-reference.json [--target 0.93]

tta.jsonl: one line per `labelrep train` run (build-and-bench.sh's tta stage): label, variant, epochs,
train_seconds (the Trainer's clock: data and model on the device, to the end of the test evaluation),
wall_seconds (the whole command), test_accuracy. tta-reference.json: time_to_accuracy.py's line, for each
label and epoch budget [epoch, seconds since its start, test accuracy] after every epoch.

The baseline's time to the target is the first epoch, over all its budgets, whose test accuracy reaches
it. labelrep's is the shortest run, over its budgets, whose final test accuracy reaches it (it tests once,
at the end: a run that gets there earlier inside its schedule is not credited). Prints one line per label
and one JSON line; the goal is a ratio of at most 1/3.
"""
import argparse
import json
import math


def baseline_time(reference, label, target):
    best = None
    for key, history in reference.items():
        if not key.startswith(label + "_") or not key.endswith("ep") or not isinstance(history, list):
            continue
        for epoch, seconds, accuracy in history:
            if accuracy >= target:
                if best is None or seconds < best["seconds"]:
                    best = {"seconds": seconds, "epoch": epoch, "budget": int(key[len(label) + 1:-2]), "accuracy": accuracy}
                break
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs")
    ap.add_argument("reference")
    ap.add_argument("--target", type=float, default=0.93)
    a = ap.parse_args()
    runs = [json.loads(line) for line in open(a.runs) if line.strip()]
    reference = json.loads(open(a.reference).read().strip().splitlines()[-1])
    summary = {"target": a.target, "device": reference.get("device"), "labels": {}}
    for label in dict.fromkeys(r["label"] for r in runs):
        base = baseline_time(reference, "speech" if label.startswith("speech") else label, a.target)
        reached = [r for r in runs if r["label"] == label and r.get("train_seconds") is not None
                   and not math.isnan(r["test_accuracy"]) and r["test_accuracy"] >= a.target]
        ours = min(reached, key=lambda r: r["train_seconds"]) if reached else None
        entry = {"baseline": base, "labelrep": ours, "runs": [r for r in runs if r["label"] == label]}
        if base and ours:
            entry["ratio"] = ours["train_seconds"] / base["seconds"]
            entry["ratio_wall"] = ours["wall_seconds"] / base["seconds"]
            entry["goal_met"] = entry["ratio"] <= 1 / 3
        summary["labels"][label] = entry
        tried = ", ".join(f"{r['variant']} {r['epochs']} ep: {100 * r['test_accuracy']:.2f}% in {r['train_seconds']} s"
                          for r in entry["runs"])
        if not base:
            print(f"tta {label}: the baseline never reached {100 * a.target:.0f}%; labelrep runs: {tried}")
        elif not ours:
            print(f"tta {label}: baseline {base['seconds']:.1f} s (epoch {base['epoch']} of {base['budget']}); "
                  f"no labelrep run reached {100 * a.target:.0f}% ({tried})")
        else:
            print(f"tta {label}: labelrep {ours['train_seconds']:.1f} s ({ours['variant']}, {ours['epochs']} epochs, "
                  f"{100 * ours['test_accuracy']:.2f}%; {ours['wall_seconds']:.1f} s with start-up) vs baseline "
                  f"{base['seconds']:.1f} s (epoch {base['epoch']} of {base['budget']}, {100 * base['accuracy']:.2f}%): "
                  f"{entry['ratio']:.2f}x the time, goal <= 0.33: {'met' if entry['goal_met'] else 'not met'}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
