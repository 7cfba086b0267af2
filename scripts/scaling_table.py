#!/usr/bin/env python3
"""The tables of a scaling sweep, from its summary.txt (written by `qklab sweep`).

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

STATUSES = ("finished", "diverged")   # the statuses of a point that ran to its end or to a non-finite step


def number(text):
    """A summary's number, or None for '—' (not recorded) and 'non-finite'."""
    try:
        return float(text)
    except ValueError:
        return None


def read_points(path):
    """One dict per point that ran to its end or diverged: lr, variant, size, loss (None when not
    finite), outcome, logit (None when not recorded). A point line is `name status final-loss
    [kind] outcome max-attn-logit`."""
    points = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 5 or not fields[0].startswith("lr=") or fields[1] not in STATUSES:
                continue
            keys = dict(part.split("=", 1) for part in fields[0].split(","))
            missing = [key for key in ("lr", "qk_norm", "size") if key not in keys]
            if missing:
                raise ValueError(f"point {fields[0]} has no {', '.join(missing)} "
                                 "(a sweep over optim.lr, model.qk_norm and size?)")
            points.append({
                "lr": float(keys["lr"]), "variant": keys["qk_norm"], "size": keys["size"],
                "loss": number(fields[2]), "outcome": fields[-2], "logit": number(fields[-1]),
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


def mean_loss(runs):
    losses = [run["loss"] for run in runs if run["loss"] is not None]
    return f"{sum(losses) / len(losses):.3f}" if losses else "non-finite"


def largest_logit(runs):
    logits = [run["logit"] for run in runs if run["logit"] is not None]
    return f"{max(logits):,.0f}" if logits else "—"


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
    table(points, "Mean final validation loss (of the runs that ended finite)", lambda runs: mean_loss(runs))
    table(points, "Largest attention logit (over seeds)", lambda runs: largest_logit(runs))
    for variant in ("off", "head"):
        runs = [p for p in points if p["variant"] == variant]
        failed = [p["logit"] for p in runs if p["outcome"] in ("failed", "diverged") and p["logit"] is not None]
        learned = [p["logit"] for p in runs if p["outcome"] == "learned" and p["logit"] is not None]
        bad = sum(p["outcome"] in ("failed", "diverged") for p in runs)
        line = f"qk_norm={variant}: {bad}/{len(runs)} runs failed or diverged"
        if failed:
            line += f"; smallest largest-logit of a failed run {min(failed):,.0f}"
        if learned:
            line += f"; largest of a learned run {max(learned):,.0f}"
        print(line)


if __name__ == "__main__":
    main()
