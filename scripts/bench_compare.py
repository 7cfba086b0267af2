#!/usr/bin/env python3
"""QKLab against PyTorch on the benchmark models, side by side in one run (optional).

Runs, one after the other on the same machine: `qklab-bench --skip-ops` (release build), then
`scripts/bench_torch.py` eager and with `torch.compile`, for each size, and prints one table of
median tokens/s with QKLab's speed-up over each. Alternating the programs size by size keeps the
comparison fair on a machine whose speed drifts.

    scripts/bench_compare.py --python /path/to/venv/bin/python [--only S|M] [--steps N] [--rounds N] [--no-compile]

With `--rounds N` the three programs alternate N times per size; every round's ratios are
printed, then their medians (a slow spell of the machine then spoils one round, not the result).

`--python` is an interpreter with torch installed (see bench_torch.py's docstring); M with
torch.compile is skipped unless `--compile-m` is given (its compilation takes minutes).
"""
import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^\s*([SM]) qk_norm=(\w+)\s+(\d+) tok/s")


def run(command):
    """Runs `command`, echoing its output, and returns {(size, qk_norm): tokens/s}."""
    print("$ " + " ".join(command), flush=True)
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    sys.stdout.write(output.stdout)
    if output.returncode != 0:
        sys.exit(f"{command[0]} failed (exit {output.returncode}): {output.stderr.strip()[-500:]}")
    return {(m[1], m[2]): int(m[3]) for m in map(LINE.match, output.stdout.splitlines()) if m}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", required=True, help="a Python with torch installed")
    parser.add_argument("--only", choices=["S", "M"])
    parser.add_argument("--steps", type=int, help="timed steps (default: 30 for S, 5 for M)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--compile-m", action="store_true", help="also torch.compile M")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the programs this many times")
    args = parser.parse_args()

    subprocess.run(["swift", "build", "-c", "release", "--product", "qklab-bench"], cwd=ROOT, check=True)
    rows = []
    for size in [args.only] if args.only else ["S", "M"]:
        steps = str(args.steps or (30 if size == "S" else 5))
        for round_number in range(1, args.rounds + 1):
            qklab = run([".build/release/qklab-bench", "--skip-ops", "--only", size, "--steps", steps])
            torch_script = [args.python, "scripts/bench_torch.py", "--only", size, "--steps", steps]
            eager = run(torch_script)
            compiled = {}
            if not args.no_compile and (size == "S" or args.compile_m):
                compiled = run(torch_script + ["--compile", "--warmup", "5"])
            for key in sorted(qklab, key=lambda k: k[1] != "head"):
                rows.append((key, round_number, qklab[key], eager.get(key), compiled.get(key)))

    print("\n| model | qk_norm | round | QKLab tok/s | PyTorch eager | ratio | torch.compile | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for (size, qk_norm), round_number, ours, eager, compiled in rows:
        def cell(theirs):
            return ("—", "—") if theirs is None else (f"{theirs:,}", f"{ours / theirs:.2f}×")
        print(f"| {size} | {qk_norm} | {round_number} | {ours:,} | {' | '.join(cell(eager))} | {' | '.join(cell(compiled))} |")
    if args.rounds > 1:
        print("\nMedian ratio over the rounds:")
        for key in dict.fromkeys(row[0] for row in rows):
            mine = [row for row in rows if row[0] == key]
            for name, column in (("eager", 3), ("torch.compile", 4)):
                ratios = [row[2] / row[column] for row in mine if row[column]]
                if ratios:
                    print(f"  {key[0]} qk_norm={key[1]}: {statistics.median(ratios):.2f}× {name} "
                          f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
