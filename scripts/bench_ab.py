#!/usr/bin/env python3
"""Two builds of qklab-bench against each other, alternated in one run (a before/after figure).

On a machine whose speed drifts (a shared virtual machine: QKLab's own speed moved by 1.7× between
rounds of one run), a change is measured by running the binary before it and the one after it in
turn, several times, and comparing what each step reached against the sgemm probe run right after
it (`qklab-bench`'s "MFU against the … probe" median): the drift mostly drops out of that ratio.

    scripts/bench_ab.py BEFORE AFTER [--only S|M] [--steps N] [--rounds N]

BEFORE and AFTER are qklab-bench executables (for an older commit: `git worktree add /tmp/old
<commit>` and `swift build -c release --product qklab-bench` there). Each round runs BEFORE, then
AFTER, with `--skip-ops --skip-generation`; the order swaps every round. Printed: every run's
median MFU against the probe and tokens/s per model and qk_norm, then each binary's median over
the rounds and AFTER's over BEFORE's.
"""
import argparse
import re
import statistics
from pathlib import Path

from bench_compare import LINE, run, training_speeds

PROBED = re.compile(r"^\s*MFU against the sgemm \d+² probe after each step: median ([\d.]+)%")


def probed_mfus(lines):
    """{(size, qk_norm): median MFU against the probe, in %}, each probe line read with the
    training line above it."""
    mfus, key = {}, None
    for line in lines:
        if training := LINE.match(line):
            key = (training[1], training[2])
        elif (probed := PROBED.match(line)) and key:
            mfus[key] = float(probed[1])
    return mfus


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", help="qklab-bench before the change")
    parser.add_argument("after", help="qklab-bench after the change")
    parser.add_argument("--only", choices=["S", "M"], default="S")
    parser.add_argument("--steps", type=int, help="timed steps per run (default: 60 for S, 8 for M)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each binary")
    args = parser.parse_args()

    binaries = {}
    for name in ["before", "after"]:
        path = Path(getattr(args, name)).resolve()
        if not path.is_file():
            raise SystemExit(f"bench_ab.py: {name}: {getattr(args, name)}: no such file")
        binaries[name] = str(path)
    steps = str(args.steps or (60 if args.only == "S" else 8))
    results = {"before": [], "after": []}       # per binary: one {key: (mfu, tokens/s)} per round
    for round_number in range(args.rounds):
        order = ["before", "after"] if round_number % 2 == 0 else ["after", "before"]
        for name in order:
            lines = run([binaries[name], "--skip-ops", "--skip-generation", "--only", args.only, "--steps", steps])
            mfus, speeds = probed_mfus(lines), training_speeds(lines)
            if not mfus:
                raise SystemExit(f"{name}: no 'MFU against the … probe' line (was it run with --no-probe?)")
            results[name].append({key: (mfus[key], speeds[key]) for key in mfus})

    keys = sorted(results["before"][0], key=lambda key: key[1] != "head")
    print("\n| model | qk_norm | binary | MFU against the probe, per round | median | tokens/s, median |")
    print("|---|---|---|---|---|---|")
    medians = {}
    for key in keys:
        for name in ["before", "after"]:
            mfus = [run_result[key][0] for run_result in results[name]]
            speeds = [run_result[key][1] for run_result in results[name]]
            medians[key, name] = statistics.median(mfus)
            print(f"| {key[0]} | {key[1]} | {name} | {', '.join(f'{m:.1f}%' for m in mfus)} "
                  f"| {medians[key, name]:.1f}% | {statistics.median(speeds):,.0f} |")
    print()
    for key in keys:
        print(f"{key[0]} qk_norm={key[1]}: after / before = {medians[key, 'after'] / medians[key, 'before']:.3f} "
              f"(medians of the MFU against the probe)")


if __name__ == "__main__":
    main()
