#!/usr/bin/env bash
# Distributed sweep benchmark: wall time and throughput (tasks per second) of one sweep run
# locally and on 1, 2 and 4 `doppel worker` processes over NATS JetStream, and the per-task
# overhead of the queue measured with near-empty tasks. Also the cost of one task for twins
# of different sizes (docs/DEPLOY.md quotes the numbers).
#
#   cargo build --release -p doppel-cli
#   bash bench/sweep.sh                      # NATS=nats://127.0.0.1:4222 DOPPEL=target/release/doppel
#
# Needs a NATS server with JetStream (`nats-server -js`). Each worker runs one task at a time
# (--jobs 1), so on a machine with C cores more than C workers only share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${DOPPEL:-${CARGO_TARGET_DIR:-target}/release/doppel}
BIN=$(realpath "$BIN")
NATS=${NATS:-nats://127.0.0.1:4222}
TASK_DURATION=${TASK_DURATION:-120s}
REPS=${REPS:-4}
EMPTY_TASKS=${EMPTY_TASKS:-200}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
secs() { calc "$2 - $1"; }

cp examples/shop.yaml examples/shop-network.yaml examples/minimal.yaml "$work/"
mkdir -p "$work/scenarios" "$work/empty"
for f in 1.2 1.5 2.0; do
  cat > "$work/scenarios/load-x$f.yaml" <<YAML
scenario: 1
name: load-x$f
duration: $TASK_DURATION
warmup: 10s
load:
  - {step: {at: 20s, factor: $f}}
YAML
done
cat > "$work/empty/tiny.yaml" <<YAML
scenario: 1
name: tiny
duration: 1s
warmup: 0s
load:
  - {step: {at: 0s, rate: 1/s}}
YAML
cd "$work"
tasks=$((3 * 2 * REPS))
echo "machine: $(nproc) cores; sweep: 3 scenarios x 2 values x $REPS replications = $tasks tasks of $TASK_DURATION simulated on the shop twin"
sweep() { "$BIN" sweep shop.yaml --scenarios scenarios --param services.catalog.replicas=3,4 --replications "$REPS" "$@"; }

t0=$(now); sweep --threads 1 --out local1.json 2>/dev/null; t1=$(now)
l1=$(secs "$t0" "$t1"); echo "local, 1 thread:      ${l1} s  ($(calc "$tasks / $l1") tasks/s)"
t0=$(now); sweep --out local.json 2>/dev/null; t1=$(now)
l=$(secs "$t0" "$t1"); echo "local, all cores:     ${l} s  ($(calc "$tasks / $l") tasks/s)"

for n in 1 2 4; do
  pids=()
  for _ in $(seq "$n"); do "$BIN" worker --cluster "$NATS" --jobs 1 --poll 100ms 2>/dev/null & pids+=($!); done
  sleep 0.5
  t0=$(now); sweep --cluster "$NATS" --out "cluster$n.json" 2>/dev/null; t1=$(now)
  for p in "${pids[@]}"; do kill "$p"; done; wait 2>/dev/null || true
  c=$(secs "$t0" "$t1")
  same=$(cmp -s local.json "cluster$n.json" && echo "same bytes as local" || echo "DIFFERENT from local")
  echo "cluster, $n worker(s):  ${c} s  ($(calc "$tasks / $c") tasks/s, $same)"
done

# Queue overhead: near-empty tasks (1 simulated second at 1 request/s on the minimal twin).
t0=$(now); "$BIN" sweep minimal.yaml --scenarios empty --replications "$EMPTY_TASKS" --threads 1 --out e-local.json 2>/dev/null; t1=$(now)
el=$(secs "$t0" "$t1")
pids=()
"$BIN" worker --cluster "$NATS" --jobs 1 --poll 100ms 2>/dev/null & pids+=($!)
sleep 0.5
t0=$(now); "$BIN" sweep minimal.yaml --scenarios empty --replications "$EMPTY_TASKS" --cluster "$NATS" --out e-cluster.json 2>/dev/null; t1=$(now)
for p in "${pids[@]}"; do kill "$p"; done; wait 2>/dev/null || true
ec=$(secs "$t0" "$t1")
echo "empty tasks ($EMPTY_TASKS): local ${el} s, 1 worker ${ec} s: queue overhead $(calc "($ec - $el) * 1000 / $EMPTY_TASKS") ms per task"

# Cost of one task by twin size (one replication of 60 simulated seconds, one thread).
cat > "$work/one.yaml" <<YAML
scenario: 1
name: one
duration: 60s
warmup: 5s
YAML
for twin in minimal.yaml shop.yaml; do
  t0=$(now); "$BIN" sweep "$twin" --scenarios one.yaml --replications 4 --threads 1 --out /dev/null 2>/dev/null; t1=$(now)
  echo "task cost, $twin: $(calc "($t1 - $t0) / 4" 3) s per 60 simulated s"
done
