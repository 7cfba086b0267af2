#!/usr/bin/env python3
"""Crash safety of `qklab train`: kill it at random instants, resume, and compare with a run
that never stopped.

    python3 scripts/crash_test.py [--qklab PATH] [--kills N] [--seed S] [--steps N] [--set KEY=VALUE ...]

`--set` (repeatable) changes the smoke config for every start, e.g. Muon's state:

    python3 scripts/crash_test.py --set optim.name=muon --set optim.lr=0.02 --set optim.adamw_lr=3e-3

1. Trains the smoke config straight through (checkpoints every 2 steps, a metrics line every
   step): the reference.
2. Trains it again, killing the process with SIGKILL at random instants (N times, so some kills
   land inside checkpoint writes), resuming each time from the last complete checkpoint on a
   random thread count (1, 2 or 3: threads decide only where the run's batch shards run). After
   every kill it checks that each `checkpoints/step-*` folder is complete (all three files, a
   state.json that parses); a temporary folder of an interrupted write may be left behind.
3. Stops a run with SIGTERM and with SIGINT: each must finish its step, save a checkpoint, say
   where, and exit 143 / 130.
4. Checks that every step's loss, the final weights and the final optimizer state (moments,
   momentum buffers) equal the reference's, bit for bit.

Prints "N passed, M failed" and exits non-zero on any failure. The default (20 kills) takes
well under a minute with a release build; `--kills 200` is a soak.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def smoke_args(steps, settings=()):
    return [s for setting in settings for s in ("--set", setting)] + ["--config", os.path.join(ROOT, "configs/smoke.toml"),
            "--set", f"data.path={os.path.join(ROOT, 'data/smoke.txt')}",
            "--set", f"train.max_steps={steps}", "--set", f"optim.decay_steps={steps}",
            "--set", "train.checkpoint_interval=2", "--set", "train.keep_checkpoints=3",
            "--set", "train.log_interval=1", "--set", "train.eval_interval=10"]


def losses(run):
    result = {}
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            if "loss" in record:
                if record["step"] in result:
                    raise AssertionError(f"step {record['step']} logged twice in {run}")
                result[record["step"]] = record["loss"]
    return result


def final_file(run, name):
    latest = os.path.join(run, "checkpoints", "latest")
    with open(os.path.join(latest, name), "rb") as f:
        return f.read()


def complete_checkpoints(run):
    """Names of step-* folders; raises if one is partial. A folder that a live run prunes while it
    is being looked at (renamed away at once, then deleted) is left out, not taken for partial."""
    folder = os.path.join(run, "checkpoints")
    if not os.path.isdir(folder):
        return []
    names = []
    for name in sorted(n for n in os.listdir(folder) if n.startswith("step-")):
        checkpoint = os.path.join(folder, name)
        try:
            for file in ("model.safetensors", "optimizer.safetensors", "state.json"):
                if not os.path.isfile(os.path.join(checkpoint, file)):
                    raise FileNotFoundError(file)
            with open(os.path.join(checkpoint, "state.json")) as f:
                json.load(f)
        except FileNotFoundError as missing:
            if os.path.isdir(checkpoint):   # still there under its name: written without the file
                raise AssertionError(f"partial checkpoint {name}: no {os.path.basename(missing.filename or str(missing))}")
            continue
        names.append(name)
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--qklab", default=os.path.join(ROOT, ".build/debug/qklab"))
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for every start (repeatable)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    scratch = tempfile.mkdtemp(prefix="qklab-crash-")
    passed, failed = 0, 0

    def check(name, condition, detail=""):
        nonlocal passed, failed
        if condition:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {name} {detail}")

    def train(run, extra, **kw):
        return subprocess.Popen([args.qklab, "train"] + extra, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, **kw)

    reference = os.path.join(scratch, "reference")
    started = time.time()
    code = train(reference, smoke_args(args.steps, args.set) + ["--run-dir", reference]).wait()
    duration = time.time() - started
    check("reference run", code == 0)
    expected = losses(reference)

    run = os.path.join(scratch, "killed")
    kills, resumes, fresh_starts = 0, 0, 0

    def continue_run(**kw):
        """Resumes `run`, or, killed before its first checkpoint, has the harness start it over."""
        nonlocal resumes, fresh_starts
        if complete_checkpoints(run):
            resumes += 1
            threads = rng.choice([1, 2, 3])
            return train(run, ["--resume", run, "--set", f"train.threads={threads}"], **kw)
        fresh_starts += 1
        shutil.rmtree(run, ignore_errors=True)
        return train(run, smoke_args(args.steps, args.set) + ["--run-dir", run], **kw)

    while kills < args.kills:
        process = continue_run()
        time.sleep(rng.uniform(0.0, min(duration, 0.4)))
        if process.poll() is not None:  # finished before the kill: nothing left to interrupt
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        try:
            complete_checkpoints(run)
            check("no partial checkpoint", True)
        except AssertionError as error:
            check("no partial checkpoint", False, str(error))

    for signal_number, exit_code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        process = continue_run()
        time.sleep(min(0.5, duration / 3))
        if process.poll() is None:
            process.send_signal(signal_number)
            _, stderr = process.communicate()
            check(f"exit code after {signal_number.name}", process.returncode == exit_code, f"got {process.returncode}")
            check(f"{signal_number.name} message names the checkpoint", "checkpoint saved at" in stderr, stderr.strip())
        else:
            process.communicate()

    code = continue_run().wait() if losses_incomplete(run, args.steps) else 0
    check("final resume", code == 0)
    got = losses(run)
    check("every step logged once", sorted(got) == list(range(1, args.steps + 1)), f"{len(got)} steps")
    mismatches = [s for s in expected if got.get(s) != expected[s]]
    check("per-step losses bit-identical", not mismatches, f"first differing step {mismatches[:1]}")
    for name in ("model.safetensors", "optimizer.safetensors"):
        check(f"final {name} bit-identical", final_file(run, name) == final_file(reference, name))
    print(f"{kills} kills ({resumes} resumes, {fresh_starts} fresh starts before a first checkpoint), "
          f"run of {duration:.2f}s, scratch {scratch}")
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def losses_incomplete(run, steps):
    try:
        return max(losses(run)) < steps or not os.path.isdir(os.path.join(run, "checkpoints", "latest"))
    except (FileNotFoundError, ValueError):
        return True


if __name__ == "__main__":
    main()
