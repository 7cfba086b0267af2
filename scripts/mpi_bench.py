#!/usr/bin/env python3
"""Throughput of `qklab train` under mpirun against one process (issue 18): a benchmark, not a
test. Needs the release build with the trait MPI:

    swift build -c release --traits MPI --product qklab --scratch-path .build-mpi
    swift build -c release --traits MPI --product qklab-mpi-check --scratch-path .build-mpi
    python3 scripts/mpi_bench.py [--rounds 5] [--s-steps 30] [--m-steps 6] [--yield-when-idle] [--only S|M]

For qklab-bench's models S (d 128, 4 layers, 4 heads, block 64, batch 12) and M (d 384, 6 layers,
6 heads, block 256, batch 16), both with train.shards = 2 on data/smoke.txt:

    one process, train.threads = 2   against   mpirun -np 2 --bind-to none, train.threads = 1 each

alternated `--rounds` times (the machine may be shared: alternating spreads other load over
both). Seconds per step come from metrics.jsonl: (elapsed_s at the last step − at step 1) /
(steps − 1), so start-up, the first step and the final checkpoint are left out. Then the
gradient exchange alone (`qklab-mpi-check --time-exchange P` for each model's P parameters,
-np 2, shared memory and TCP) and the trainer's own exchange line. Prints medians with min–max.

`--yield-when-idle` adds `--mca mpi_yield_when_idle 1`: a process waiting in the exchange yields
its core instead of spinning, which matters when the machine has fewer free cores than busy
threads (a shared machine, or --oversubscribe). The exchange alone is always timed without it
(yielding adds scheduling delays to a transfer that otherwise takes about a millisecond).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPIRUN = ["mpirun", "--bind-to", "none", "--mca", "btl_vader_single_copy_mechanism", "none"]
SIZES = {
    "S": {"model.d_model": 128, "model.n_layer": 4, "model.n_head": 4, "model.block_size": 64, "train.batch_size": 12},
    "M": {"model.d_model": 384, "model.n_layer": 6, "model.n_head": 6, "model.block_size": 256, "train.batch_size": 16},
}


def train(qklab, run, size, steps, processes, mpirun):
    settings = dict(SIZES[size], **{"train.max_steps": steps, "optim.decay_steps": steps + 1, "optim.warmup_steps": 1,
                                    "train.shards": 2, "train.threads": 2 if processes == 1 else 1,
                                    "train.log_interval": steps, "train.eval_interval": 0,
                                    "train.checkpoint_interval": 0, "data.path": os.path.join(ROOT, "data/smoke.txt")})
    command = ([] if processes == 1 else mpirun + ["-np", str(processes)]) + [
        qklab, "train", "--config", os.path.join(ROOT, "configs/smoke.toml"), "--run-dir", run]
    for key, value in settings.items():
        command += ["--set", f"{key}={value}"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    elapsed = {}
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            if "elapsed_s" in record:
                elapsed[record["step"]] = record["elapsed_s"]
    header = open(os.path.join(run, "run.txt")).readline()
    parameters = int(re.search(r"(\d+) parameters", header).group(1))
    exchange = re.search(r"gradient exchange ([\d.]+) ms/step", done.stdout)
    return (elapsed[steps] - elapsed[1]) / (steps - 1), parameters, exchange and float(exchange.group(1))


def spread(values):
    return f"median {statistics.median(values):.4f} (min {min(values):.4f}, max {max(values):.4f}, n {len(values)})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--qklab", default=os.path.join(ROOT, ".build-mpi/release/qklab"))
    parser.add_argument("--check", default=os.path.join(ROOT, ".build-mpi/release/qklab-mpi-check"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--s-steps", type=int, default=30)
    parser.add_argument("--m-steps", type=int, default=6)
    parser.add_argument("--yield-when-idle", action="store_true")
    parser.add_argument("--only", choices=sorted(SIZES), help="one model only")
    args = parser.parse_args()
    mpirun = MPIRUN + (["--mca", "mpi_yield_when_idle", "1"] if args.yield_when_idle else [])
    work = tempfile.mkdtemp(prefix="qklab-mpi-bench-")
    steps = {"S": args.s_steps, "M": args.m_steps}
    for size in [args.only] if args.only else ["S", "M"]:
        times = {1: [], 2: []}
        trainer_exchange = []
        parameters = 0
        for round_ in range(args.rounds):
            for processes in ((1, 2) if round_ % 2 == 0 else (2, 1)):
                run = os.path.join(work, f"{size}-{round_}-np{processes}")
                seconds, parameters, exchange = train(args.qklab, run, size, steps[size], processes, mpirun)
                times[processes].append(seconds)
                if exchange is not None:
                    trainer_exchange.append(exchange)
                print(f"{size} round {round_ + 1}: {'one process, 2 threads' if processes == 1 else 'mpirun -np 2, 1 thread each'}"
                      f": {seconds:.4f} s/step", flush=True)
        ratios = [one / two for one, two in zip(times[1], times[2])]
        print(f"{size} ({parameters} parameters, {steps[size]} steps): one process {spread(times[1])} s/step; "
              f"-np 2 {spread(times[2])} s/step")
        print(f"{size} throughput ratio (-np 2 / one process, per round): {spread(ratios)}; "
              f"ratio of medians {statistics.median(times[1]) / statistics.median(times[2]):.3f}")
        print(f"{size} trainer's exchange (incl. waits for the slower process): {spread(trainer_exchange)} ms/step")
        for transport, extra in (("shared memory", []), ("TCP", ["--mca", "btl", "tcp,self"])):
            out = subprocess.run(MPIRUN + extra + ["-np", "2", args.check, "--time-exchange", str(parameters)],
                                 capture_output=True, text=True, check=True).stdout.strip()
            print(f"{size} exchange alone over {transport}: {out}", flush=True)
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
