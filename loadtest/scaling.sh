#!/usr/bin/env bash
# Scaling across cores: ringcast's fan-out and echo with 1, 2, 4, 8 and 14 shards, the server on
# CPUs 0..N-1 and the load generator (one process per remaining CPU) on CPUs N.., so they never
# share a core. Configurations that do not leave at least one CPU to the generator are skipped
# (and listed as such). Needs a machine with more cores than this project's 2-vCPU dev box:
# run it whenever one is available, and commit the results.
#
#   loadtest/scaling.sh [--shards "1 2 4 8 14"] [-r REPS] [--no-build] [--out FILE.jsonl]
#
# Writes one JSON line per run to loadtest/results/scaling-<date>.jsonl (first line: meta) and
# rewrites the "scaling.sh" section of docs/benchmarks.md (table + docs/img/scaling.svg) through
# loadtest/scaling_report.py.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SHARDS="1 2 4 8 14"
REPS=1
BUILD=1
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --shards) SHARDS=$2; shift 2 ;;
    -r) REPS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "scaling.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

log() { printf '[scaling %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
NPROC=$(nproc)
if [ "$BUILD" = 1 ]; then
  cargo build --release --example conformance -p ringcast
  cargo build --release -p ringcast-load
fi
WORK=$(mktemp -d /tmp/ringcast-scaling.XXXXXX)
SPID=""
cleanup() {
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then kill -KILL "$SPID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cp target/release/examples/conformance "$WORK/conformance"
cp target/release/ringcast-load "$WORK/ringcast-load"
mkdir -p loadtest/results
[ -n "$OUT" ] || OUT="loadtest/results/scaling-$(date -u +%Y-%m-%d-%H%M).jsonl"

jq -n -c --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg nproc "$NPROC" \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --arg kernel "$(uname -sr)" \
  --arg commit "$(git rev-parse --short HEAD)" --arg shards "$SHARDS" --arg reps "$REPS" \
  '{meta: {date: $date, nproc: ($nproc|tonumber), cpu: $cpu, kernel: $kernel, commit: $commit,
           shards: ($shards | split(" ") | map(tonumber)), reps: ($reps|tonumber)}}' >"$OUT"
log "results -> $OUT"

# shellcheck source=loadtest/lib.sh
. "$ROOT/loadtest/lib.sh"

# case id | generator arguments; subscriber / client counts grow with the shards so every shard
# has work (--processes: one generator event loop per generator CPU).
case_args() { # id shards gen_cpus
  case "$1" in
    fanout) echo "fanout --subscribers $((10000 * $2 < 18000 * $3 ? 10000 * $2 : 18000 * $3)) --rooms 1 --messages 150 --payload 64 --processes $3" ;;
    echo) echo "echo --clients $((100 * $2)) --requests 2000 --payload 64 --processes $3" ;;
  esac
}

for n in $SHARDS; do
  gen=$((NPROC - n))
  for id in fanout echo; do
    if [ "$gen" -lt 1 ]; then
      log "$id shards=$n: skipped (needs $((n + 1)) CPUs, this machine has $NPROC)"
      jq -n -c --arg id "$id" --arg n "$n" --arg nproc "$NPROC" \
        '{bench: {case: $id, shards: ($n|tonumber), skipped: "needs \(($n|tonumber) + 1) CPUs, machine has \($nproc)"}}' >>"$OUT"
      continue
    fi
    args=$(case_args "$id" "$n" "$gen")
    for rep in $(seq 1 "$REPS"); do
      port=$(free_port)
      taskset -c "0-$((n - 1))" "$WORK/conformance" --port "$port" --shards "$n" >"$WORK/server.log" 2>&1 &
      SPID=$!
      for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
      done
      log "$id shards=$n rep $rep: $args (generator on CPUs $n-$((NPROC - 1)))"
      rc=0
      # shellcheck disable=SC2086
      taskset -c "$n-$((NPROC - 1))" "$WORK/ringcast-load" $args --url "ws://127.0.0.1:$port" \
        --server-pid "$SPID" --json >"$WORK/out.json" 2>"$WORK/err.txt" || rc=$?
      kill -TERM "$SPID" 2>/dev/null || true
      wait "$SPID" 2>/dev/null || true
      SPID=""
      line=$(tail -n 1 "$WORK/out.json")
      printf '%s' "$line" | jq -e 'type == "object"' >/dev/null 2>&1 || line='{}'
      printf '%s' "$line" | jq -c --arg id "$id" --arg n "$n" --arg rep "$rep" --arg args "$args" --arg rc "$rc" \
        '. + {bench: {case: $id, shards: ($n|tonumber), rep: ($rep|tonumber), args: $args, rc: ($rc|tonumber)}}' >>"$OUT"
      sleep 2
    done
  done
done
python3 "$ROOT/loadtest/scaling_report.py" "$OUT" --doc "$ROOT/docs/benchmarks.md" --img "$ROOT/docs/img"
