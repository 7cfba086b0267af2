#!/usr/bin/env python3
"""`qklab train` under mpirun (issue 18), run by scripts/mpi_test.sh with a qklab built with the
trait MPI:

    python3 scripts/mpi_train_test.py --qklab .build-mpi/debug/qklab

1. Bit-identity: `mpirun -np 2` with train.shards = 2, over shared memory (vader) and over TCP,
   and `-np 4 --oversubscribe` with train.shards = 4, against one process with the same shards:
   every metrics line (loss, gradient norms, telemetry; not the timings), the final weights and
   the optimizer moments equal bit for bit. Control: 2 and 4 shards differ (the comparison can
   see a change). The same under -np 2 with Muon and with QK-Clip (which clips heads here), and
   their runs stopped under -np 2 and resumed by one process.
2. Resume across process counts: a run stopped at step 20 of 40 under `-np 2` resumed by one
   process, one process's resumed by `-np 2`, and `-np 4`'s (4 shards) resumed by `-np 2`: each
   ends bit-identical to the uninterrupted run.
3. SIGKILL of process 1 mid-run: mpirun ends the job within seconds, no process is left, every
   checkpoint folder is complete, and `--resume` by one process and by `-np 2` both reach the
   uninterrupted run's final weights.
4. An error on one process only (its corpus path does not exist there; its corpus differs): the
   job ends with one `qklab:` line from that process, within the timeout; an error on every
   process (a missing config) ends it with one line too.

Prints each check and "N passed, M failed"; exits non-zero on any failure.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crash_test import complete_checkpoints  # noqa: E402  (the same definition of a complete checkpoint)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# No binding (a process's threads need all cores); no CMA single-copy (needs ptrace rights).
MPIRUN = ["mpirun", "--bind-to", "none", "--mca", "btl_vader_single_copy_mechanism", "none"]
TCP = ["--mca", "btl", "tcp,self"]
TIMING = ("tokens_per_s", "elapsed_s")


def run_args(steps, shards, corpus=None):
    """The smoke config for `steps` steps of a schedule fixed at 40 (or `steps`, if longer)."""
    return ["--set", f"data.path={corpus or os.path.join(ROOT, 'data/smoke.txt')}",
            "--set", f"train.max_steps={steps}", "--set", f"optim.decay_steps={max(steps, 40)}",
            "--set", f"train.shards={shards}", "--set", "train.threads=1", "--set", "train.log_interval=1",
            "--set", "train.eval_interval=10", "--set", "train.checkpoint_interval=10"]


def launcher(processes, transport="vader"):
    if processes is None:
        return []
    extra = TCP if transport == "tcp" else []
    return MPIRUN + extra + ["-np", str(processes)] + (["--oversubscribe"] if processes > 2 else [])


def state(run):
    """(metrics lines without timings, final weights, optimizer state) of a finished run."""
    with open(os.path.join(run, "metrics.jsonl")) as f:
        lines = [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in f]
    latest = os.path.join(run, "checkpoints", "latest")
    files = [open(os.path.join(latest, name), "rb").read() for name in ("model.safetensors", "optimizer.safetensors")]
    return lines, files[0], files[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--qklab", default=os.path.join(ROOT, ".build-mpi/debug/qklab"))
    parser.add_argument("--kill-steps", type=int, default=400, help="length of the run killed in check 3")
    args = parser.parse_args()
    qklab = os.path.abspath(args.qklab)
    work = tempfile.mkdtemp(prefix="qklab-mpi-train-")
    results = {"passed": 0, "failed": 0}

    def check(name, condition, detail=""):
        results["passed" if condition else "failed"] += 1
        print(f"{'ok  ' if condition else 'FAIL'} {name}" + (f": {detail}" if detail and not condition else ""), flush=True)

    def train(run, steps, shards, processes=None, transport="vader", resume=False, timeout=300, extra=()):
        command = launcher(processes, transport) + [qklab, "train"]
        command += (["--resume", run] if resume else ["--config", os.path.join(ROOT, "configs/smoke.toml"), "--run-dir", run])
        command += (["--set", f"train.max_steps={steps}"] if resume else run_args(steps, shards)) + list(extra)
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()}")
        return done

    def path(name):
        return os.path.join(work, name)

    # 1. Bit-identity with one process.
    train(path("one-2"), 40, 2)
    train(path("one-4"), 40, 4)
    reference = {2: state(path("one-2")), 4: state(path("one-4"))}
    check("control: 2 and 4 shards give different weights", reference[2][1] != reference[4][1])
    for processes, shards, transport in [(2, 2, "vader"), (2, 2, "tcp"), (4, 4, "vader"), (4, 4, "tcp")]:
        name = f"np{processes}-{transport}"
        out = train(path(name), 40, shards, processes, transport)
        check(f"-np {processes} over {transport}, {shards} shards: metrics, weights, moments = one process",
              state(path(name)) == reference[shards])
        if processes == 2 and transport == "vader":
            header = open(os.path.join(path(name), "run.txt")).readline()
            check("run.txt names the processes and hosts", f"{shards} batch shards, 2 processes (" in header, header)
            check("only process 0 prints", out.stdout.count("qklab 0.") == 1, out.stdout[:300])

    # 1b. The other optimizer and QK-Clip (issue 34): Muon's momentum and QK-Clip's per-head maximum
    # of the whole batch (reduced over the processes) give the same numbers under -np 2.
    variants = {"muon": ["--set", "optim.name=muon", "--set", "optim.lr=0.02", "--set", "optim.adamw_lr=3e-3"],
                "qk-clip": ["--set", "model.qk_norm=off", "--set", "optim.qk_clip_tau=0.2"]}
    for variant, extra in variants.items():
        train(path(f"one-{variant}"), 40, 2, extra=extra)
        train(path(f"np2-{variant}"), 40, 2, 2, extra=extra)
        check(f"{variant}: -np 2 = one process (metrics, weights, optimizer state)",
              state(path(f"np2-{variant}")) == state(path(f"one-{variant}")))
        train(path(f"resume-{variant}"), 20, 2, 2, extra=extra)
        train(path(f"resume-{variant}"), 40, 2, None, resume=True)
        check(f"{variant}: stopped at 20 under -np 2, resumed by one process: = uninterrupted",
              state(path(f"resume-{variant}")) == state(path(f"one-{variant}")))
    clipped = [line.get("qk_clip_heads") for line in state(path("one-qk-clip"))[0] if "qk_clip_heads" in line]
    check("qk-clip: the check clips heads (tau 0.2 on the smoke model)",
          any(sum(heads) > 0 for heads in clipped), str(clipped[:3]))

    # 2. Resume with another process count.
    for first, then, shards in [(2, None, 2), (None, 2, 2), (4, 2, 4)]:
        name = f"resume-{first or 1}-then-{then or 1}"
        train(path(name), 20, shards, first)
        train(path(name), 40, shards, then, resume=True)
        check(f"stopped at 20 under {first or 1} process(es), resumed by {then or 1}: = uninterrupted",
              state(path(name)) == reference[shards])

    # 3. SIGKILL of one process mid-run.
    steps = args.kill_steps
    train(path("straight"), steps, 2)
    killed = path("killed")
    command = launcher(2) + [qklab, "train", "--config", os.path.join(ROOT, "configs/smoke.toml"), "--run-dir", killed]
    job = subprocess.Popen(command + run_args(steps, 2), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    def reached(step):   # a complete checkpoint at or after `step`: the kill lands mid-run
        return any(int(name[len("step-"):]) >= step for name in complete_checkpoints(killed))
    while not reached(steps // 4) and job.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    victim = rank_pid(job.pid, 1)
    if victim is None or job.poll() is not None:
        check(f"SIGKILL: the job was still running at step {steps // 4}", False, "it ended before the kill")
    else:
        os.kill(victim, signal.SIGKILL)
        start = time.time()
        try:
            job.wait(timeout=30)
            ended = time.time() - start
            check(f"SIGKILL of process 1: mpirun ended the job in {ended:.2f} s (limit 10)", ended < 10)
        except subprocess.TimeoutExpired:
            job.kill()
            check("SIGKILL of process 1: mpirun ended the job", False, "still running after 30 s")
        check("no process of the job is left", rank_pid(job.pid, 0) is None and rank_pid(job.pid, 1) is None)
        try:
            names = complete_checkpoints(killed)
            check(f"no partial checkpoint (complete: {', '.join(names)})", True)
        except AssertionError as error:
            check("no partial checkpoint", False, str(error))
        shutil.copytree(killed, killed + "-np2", symlinks=True)
        train(killed, steps, 2, resume=True)
        train(killed + "-np2", steps, 2, 2, resume=True)
        check("the killed run resumed by one process = uninterrupted", state(killed) == state(path("straight")))
        check("the killed run resumed by -np 2 = uninterrupted", state(killed + "-np2") == state(path("straight")))

    # 4. An error on one process only.
    changed = path("changed.txt")
    with open(os.path.join(ROOT, "data/smoke.txt")) as f:
        text = f.read()
    with open(changed, "w") as f:
        f.write(text.replace("light", "night", 1))
    # Each ends the job with process 1's one line, and takes process 0's new run folder back (a
    # retry must not find a half-made run there).
    for name, extra, expected in [("a missing corpus", run_args(40, 2, path("no-such-corpus.txt")), "no-such-corpus.txt"),
                                  ("a different corpus", run_args(40, 2, changed), "every process must read the same"),
                                  ("another optim.lr", run_args(40, 2) + ["--set", "optim.lr=0.01"],
                                   "process 1 has optim.lr = 0.01 where process 0 has optim.lr = 0.003"),
                                  ("another train.shards", run_args(40, 4), "process 1 has train.shards = 4 where process 0 has train.shards = 2")]:
        run = path(f"error-{name.replace(' ', '-')}")
        base = [qklab, "train", "--config", os.path.join(ROOT, "configs/smoke.toml"), "--run-dir", run]
        command = MPIRUN + ["-np", "1"] + base + run_args(40, 2) + [":", "-np", "1"] + base + extra
        start = time.time()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            check(f"{name} on process 1 ends the job", False, "hung (killed after 30 s)")
            continue
        ended = time.time() - start
        lines = [line for line in done.stderr.splitlines() if line.startswith("qklab")]
        check(f"{name} on process 1 only: exit {done.returncode} in {ended:.2f} s, one line: {lines[:1]}",
              done.returncode != 0 and len(lines) == 1 and lines[0].startswith("qklab: process 1 of 2 (")
              and expected in lines[0], done.stderr[-600:])
        check(f"{name} on process 1: no run folder left", not os.path.exists(run),
              ", ".join(os.listdir(run)) if os.path.isdir(run) else "")

    # A resume refused the same way leaves the run folder as it was (no resume line written, no
    # metrics cut, no lock left).
    resumed = path("error-resume")
    train(resumed, 20, 2)
    def snapshot():
        return {name: open(os.path.join(resumed, name), "rb").read() for name in sorted(os.listdir(resumed))
                if os.path.isfile(os.path.join(resumed, name))}
    before = snapshot()
    base = [qklab, "train", "--resume", resumed, "--set", "train.max_steps=40"]
    done = subprocess.run(MPIRUN + ["-np", "1"] + base + [":", "-np", "1"] + base + ["--set", "optim.lr=0.01"],
                          capture_output=True, text=True, timeout=30)
    lines = [line for line in done.stderr.splitlines() if line.startswith("qklab")]
    check(f"another optim.lr on process 1 of a resume: exit {done.returncode}, one line, the run folder as it was",
          done.returncode != 0 and len(lines) == 1 and "process 1 has optim.lr = 0.01" in lines[0] and snapshot() == before,
          f"{lines}; files now {sorted(snapshot())}, before {sorted(before)}")

    # The same error on every process: still one line (process 0's), not one per process.
    start = time.time()
    done = subprocess.run(MPIRUN + ["-np", "2", qklab, "train", "--config", path("no-such-config.toml")],
                          capture_output=True, text=True, timeout=30)
    lines = [line for line in done.stderr.splitlines() if line.startswith("qklab")]
    check(f"a config missing on every process: exit {done.returncode} in {time.time() - start:.2f} s, one line: {lines[:1]}",
          done.returncode != 0 and len(lines) == 1 and lines[0].startswith("qklab: process 0 of 2 (")
          and "no-such-config.toml" in lines[0], done.stderr[-600:])

    shutil.rmtree(work)
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


def rank_pid(launcher_pid, rank):
    """The pid of the job's process `rank` (a descendant of mpirun with OMPI_COMM_WORLD_RANK)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environment = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in environment and parent == launcher_pid:
            return int(pid)
    return None


if __name__ == "__main__":
    main()
