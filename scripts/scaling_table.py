#!/usr/bin/env python3
"""The README's tables of a scaling sweep, from its summary.txt (written by `qklab sweep`).

    scripts/scaling_table.py runs/sweep-scaling/summary.txt

Prints, as Markdown, for every size (rows) and learning rate (columns):
  1. the final validation loss averaged over seeds, QK-Norm off / head, with "k/n failed" where
     k of the n seeds failed or diverged;
  2. the largest attention logit over seeds, off / head;
and the attention-logit level of failure: the smallest largest-logit of a run that failed and the
largest of a run that learned. Reads only the summary's point lines
(`name  status  final-loss  outcome  max-attn-logit`); needs no third-party package.
"""
import re
import sys
from collections import defaultdict

POINT = re.compile(r"^(lr=\S+)\s+(\S+)\s+(\S+)\s+(learned|failed|diverged|-)\s+(\S+)\s*$")


def read_points(path):
    """One dict per finished point: lr, variant, size, loss, outcome, logit."""
    points = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            match = POINT.match(line.rstrip("\n"))
            if not match or match.group(2) != "finished":
                continue
            keys = dict(part.split("=", 1) for part in match.group(1).split(","))
            missing = [key for key in ("lr", "qk_norm", "size") if key not in keys]
            if missing:
                raise ValueError(f"point {match.group(1)} has no {', '.join(missing)} "
                                 "(a sweep over optim.lr, model.qk_norm and size?)")
            points.append({
                "lr": float(keys["lr"]), "variant": keys["qk_norm"], "size": keys["size"],
                "loss": float(match.group(3)), "outcome": match.group(4),
                "logit": float(match.group(5)),
            })
    return points


def size_order(size):
    """d32l1 < d64l2 < …: by width."""
    return int(re.match(r"d(\d+)", size).group(1))


def cell(runs, value):
    """'value (k/n failed)' for a group of runs, or '–' when the group is empty."""
    if not runs:
        return "–"
    failed = sum(run["outcome"] in ("failed", "diverged") for run in runs)
    return value(runs) + (f" ({failed}/{len(runs)} failed)" if failed else "")


def table(points, title, value):
    sizes = sorted({p["size"] for p in points}, key=size_order)
    lrs = sorted({p["lr"] for p in points})
    groups = defaultdict(list)
    for p in points:
        groups[(p["size"], p["lr"], p["variant"])].append(p)
    print(f"{title}, QK-Norm off / head\n")
    print("| size | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " |")
    print("|---" * (len(lrs) + 1) + "|")
    for size in sizes:
        cells = [cell(groups[(size, lr, "off")], value) + " / " + cell(groups[(size, lr, "head")], value)
                 for lr in lrs]
        print(f"| {size} | " + " | ".join(cells) + " |")
    print()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: scaling_table.py SUMMARY.txt")
    try:
        points = read_points(sys.argv[1])
    except OSError as error:
        sys.exit(f"scaling_table.py: {sys.argv[1]}: {error.strerror}")
    except ValueError as error:
        sys.exit(f"scaling_table.py: {sys.argv[1]}: {error}")
    if not points:
        sys.exit(f"scaling_table.py: {sys.argv[1]}: no finished points (is it a sweep's summary.txt?)")
    table(points, "Mean final validation loss",
          lambda runs: f"{sum(r['loss'] for r in runs) / len(runs):.3f}")
    table(points, "Largest attention logit (over seeds)",
          lambda runs: f"{max(r['logit'] for r in runs):,.0f}")
    for variant in ("off", "head"):
        runs = [p for p in points if p["variant"] == variant]
        failed = [p["logit"] for p in runs if p["outcome"] in ("failed", "diverged")]
        learned = [p["logit"] for p in runs if p["outcome"] == "learned"]
        line = f"qk_norm={variant}: {len(failed)}/{len(runs)} runs failed or diverged"
        if failed:
            line += f"; smallest largest-logit of a failed run {min(failed):,.0f}"
        if learned:
            line += f"; largest of a learned run {max(learned):,.0f}"
        print(line)


if __name__ == "__main__":
    main()
