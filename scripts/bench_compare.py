#!/usr/bin/env python3
"""QKLab against PyTorch on the benchmark models, side by side in one run (optional).

Runs, one after the other on the same machine: `qklab-bench --skip-ops` (release build), then
`scripts/bench_torch.py` eager and with `torch.compile`, for each size, and prints one table of
median tokens/s with QKLab's speed-up over each. Alternating the programs size by size keeps the
comparison fair on a machine whose speed drifts. A second table gives QKLab's generation speed
from the same qklab-bench runs (qk_norm head, 1,000 characters): characters/s with the key/value
cache and recomputing the whole context for every character, and their ratio.

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
GENERATION = re.compile(r"^\s*([SM]) cached\s+([\d.]+) chars/s.*recomputed\s+([\d.]+) chars/s")


def run(command):
    """Runs `command`, echoing its output, and returns its lines."""
    print("$ " + " ".join(command), flush=True)
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    sys.stdout.write(output.stdout)
    if output.returncode != 0:
        sys.exit(f"{command[0]} failed (exit {output.returncode}): {output.stderr.strip()[-500:]}")
    return output.stdout.splitlines()


def training_speeds(lines):
    """{(size, qk_norm): tokens/s} from qklab-bench's or bench_torch.py's training lines."""
    return {(m[1], m[2]): int(m[3]) for m in map(LINE.match, lines) if m}


def generation_speeds(lines):
    """{size: (cached, recomputed) characters/s} from qklab-bench's generation lines."""
    return {m[1]: (float(m[2]), float(m[3])) for m in map(GENERATION.match, lines) if m}


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
    rows, generation_rows = [], []
    for size in [args.only] if args.only else ["S", "M"]:
        steps = str(args.steps or (30 if size == "S" else 5))
        for round_number in range(1, args.rounds + 1):
            qklab_lines = run([".build/release/qklab-bench", "--skip-ops", "--only", size, "--steps", steps])
            qklab = training_speeds(qklab_lines)
            generation_rows += [(size, round_number, *speeds) for speeds in generation_speeds(qklab_lines).values()]
            torch_script = [args.python, "scripts/bench_torch.py", "--only", size, "--steps", steps]
            eager = training_speeds(run(torch_script))
            compiled = {}
            if not args.no_compile and (size == "S" or args.compile_m):
                compiled = training_speeds(run(torch_script + ["--compile", "--warmup", "5"]))
            for key in sorted(qklab, key=lambda k: k[1] != "head"):
                rows.append((key, round_number, qklab[key], eager.get(key), compiled.get(key)))

    print("\n| model | qk_norm | round | QKLab tok/s | PyTorch eager | ratio | torch.compile | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for (size, qk_norm), round_number, ours, eager, compiled in rows:
        def cell(theirs):
            return ("—", "—") if theirs is None else (f"{theirs:,}", f"{ours / theirs:.2f}×")
        print(f"| {size} | {qk_norm} | {round_number} | {ours:,} | {' | '.join(cell(eager))} | {' | '.join(cell(compiled))} |")
    print("\n| model | round | generation, cached (chars/s) | recomputed (chars/s) | ratio |")
    print("|---|---|---|---|---|")
    for size, round_number, cached, recomputed in generation_rows:
        print(f"| {size} | {round_number} | {cached:,.1f} | {recomputed:,.1f} | {cached / recomputed:.1f}× |")
    if args.rounds > 1:
        print("\nMedian ratio over the rounds:")
        for key in dict.fromkeys(row[0] for row in rows):
            mine = [row for row in rows if row[0] == key]
            for name, column in (("eager", 3), ("torch.compile", 4)):
                ratios = [row[2] / row[column] for row in mine if row[column]]
                if ratios:
                    print(f"  {key[0]} qk_norm={key[1]}: {statistics.median(ratios):.2f}× {name} "
                          f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
        for size in dict.fromkeys(row[0] for row in generation_rows):
            ratios = [cached / recomputed for row_size, _, cached, recomputed in generation_rows if row_size == size]
            print(f"  {size} generation: {statistics.median(ratios):.1f}× cached over recomputed "
                  f"(rounds: {', '.join(f'{r:.1f}' for r in ratios)})")


if __name__ == "__main__":
    main()
