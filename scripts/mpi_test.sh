#!/usr/bin/env bash
# The multi-process tests (issue 18), run by .ci/run after `scripts/install-deps.sh --mpi`:
# builds with the trait MPI, then under mpirun with 1, 2 and 4 processes, over shared memory
# (vader) and TCP:
#   - qklab-mpi-check: every shim symbol, shard-order sums bit-identical to one process's,
#     allgather, broadcast, hosts, barrier;
#   - an error on one process only ends the whole job with its one line, within 10 s;
#   - a sweep spread over 2 processes writes the same summary as one process;
#   - qklab train under mpirun (scripts/mpi_train_test.py): bit-identical to one process with the
#     same train.shards over both transports with 2 and 4 processes, and with Muon and with
#     QK-Clip; resume with another process count, SIGKILL of one process then resume, an error on
#     one process only.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # CI runs as root
# Into .build-mpi, so that the default build in .build (without Open MPI) stays as it was.
swift build --traits MPI --product qklab-mpi-check --scratch-path .build-mpi
swift build --traits MPI --product qklab --scratch-path .build-mpi
check=.build-mpi/debug/qklab-mpi-check
qklab=.build-mpi/debug/qklab
# No binding (a process's threads need all cores); no CMA single-copy (needs ptrace rights).
mpirun=(mpirun --bind-to none --mca btl_vader_single_copy_mechanism none)
tcp=(--mca btl tcp,self)

for transport in vader tcp; do
    extra=(); [ "$transport" = tcp ] && extra=("${tcp[@]}")
    echo "== $transport"
    "${mpirun[@]}" "${extra[@]}" -np 1 "$check"
    "${mpirun[@]}" "${extra[@]}" -np 2 "$check"
    "${mpirun[@]}" "${extra[@]}" -np 4 --oversubscribe "$check"
done

echo "== an error on process 2 of 4 ends the job"
start=$(date +%s%N)
set +e
timeout 10 "${mpirun[@]}" -np 4 --oversubscribe "$check" --fail-on-rank 2 2> /tmp/qklab-mpi-fail.$$
status=$?
set -e
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$status" -eq 0 ] && { echo "FAIL: the job with a failing process exited 0"; exit 1; }
[ "$status" -eq 124 ] && { echo "FAIL: the job hung (killed after 10 s)"; exit 1; }
grep -q '^qklab: process 2 of 4 (.*): cannot read corpus' /tmp/qklab-mpi-fail.$$ \
    || { echo "FAIL: no one-line error from process 2:"; cat /tmp/qklab-mpi-fail.$$; exit 1; }
echo "ended with status $status after ${elapsed_ms} ms: $(grep '^qklab: ' /tmp/qklab-mpi-fail.$$)"
rm -f /tmp/qklab-mpi-fail.$$

echo "== a sweep over 2 processes summarises like one process"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for name in one two; do
    cat > "$work/$name.toml" <<TOML
base = "$PWD/configs/smoke.toml"
out = "$work/$name"
[set]
"train.max_steps" = 10
"train.eval_interval" = 10
"train.checkpoint_interval" = 10
[grid]
"optim.lr" = [1e-3, 1e-2]
"train.seed" = [0, 1]
TOML
done
"$qklab" sweep "$work/one.toml" > "$work/one.log"
"${mpirun[@]}" -np 2 "$qklab" sweep "$work/two.toml" > "$work/two.log"
diff "$work/one/summary.txt" "$work/two/summary.txt"

echo "== qklab train under mpirun: bit-identity, resume, SIGKILL, an error on one process"
timeout 900 python3 scripts/mpi_train_test.py --qklab "$qklab"
echo "mpi tests: ok"
