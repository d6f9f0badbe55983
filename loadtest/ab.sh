#!/usr/bin/env bash
# A/B regression check: two builds of the conformance server, same scenarios, interleaved
# (each round starts with another build: A B, B A, ...), one core each (server on CPU 0 with
# --shards 1, generator on CPU 1), medians.
# The check to run the day a change lands ("did this slow the hot path?"); loadtest/compare.sh
# is the side-by-side against other servers.
#
#   loadtest/ab.sh BASE_BINARY NEW_BINARY [REPS]      # default REPS 3
#
# BASE_BINARY / NEW_BINARY: `target/release/examples/conformance` of each commit (build the
# base in a worktree: `git worktree add /tmp/base <commit> && (cd /tmp/base && cargo build
# --release --example conformance)`). The generator is this tree's `target/release/ringcast-load`.
# Prints one line per (case, build): median deliveries or requests per second (min-max), the
# server's CPU per delivered message, and its core's busy time per message (interrupt-level work
# for its sockets included, wherever the kernel ran it: see loadtest/src/procstat.rs), then the
# new/base ratios.
#
# AB_CASES="connect-10k echo-100" picks cases by id (default: the two fan-outs and echo;
# also connect-10k, echo-100-2k (2 KiB requests) and fanout-1k-64-polling (long-polling
# subscribers; the floor does not run it));
# AB_FLOOR=1 adds the kernel floor (target/release/ringcast-floor) to each round (base, new,
# floor) and prints each build's CPU per message over the floor's: the ratio of the medians, and
# the median of the ratios within each round (the runs of one repetition, seconds apart).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=loadtest/lib.sh
. "$ROOT/loadtest/lib.sh"

BASE=${1:?usage: $0 BASE_BINARY NEW_BINARY [REPS]}
NEW=${2:?usage: $0 BASE_BINARY NEW_BINARY [REPS]}
REPS=${3:-3}
LOAD=$ROOT/target/release/ringcast-load
[ -x "$LOAD" ] || cargo build --release -p ringcast-load
ALL_CASES=(
  "fanout-1k-64|fanout --subscribers 1000 --rooms 1 --messages 2000 --payload 64"
  "fanout-10k-64|fanout --subscribers 10000 --rooms 1 --messages 150 --payload 64"
  "echo-100|echo --clients 100 --requests 2000 --payload 64"
  "echo-100-2k|echo --clients 100 --requests 2000 --payload 2048"
  "connect-10k|connect --connections 10000 --concurrency 100"
  "fanout-1k-64-polling|fanout --subscribers 1000 --rooms 1 --messages 500 --payload 64 --polling-fraction 1"
)
CASES=()
for c in "${ALL_CASES[@]}"; do
  if [ -z "${AB_CASES:-}" ]; then case "${c%%|*}" in connect-10k | echo-100-2k | fanout-1k-64-polling) ;; *) CASES+=("$c") ;; esac
  elif [[ " $AB_CASES " == *" ${c%%|*} "* ]]; then CASES+=("$c"); fi
done
FLOOR=$ROOT/target/release/ringcast-floor
if [ -n "${AB_FLOOR:-}" ] && [ ! -x "$FLOOR" ]; then cargo build --release -p ringcast-load; fi
OUT=$(mktemp /tmp/ringcast-ab.XXXXXX.jsonl)

run() { # label binary case-id args
  local port pid line
  port=$(free_port)
  if [ "$1" = floor ]; then
    taskset -c 0 "$2" --port "$port" >/dev/null 2>&1 &
  else
    taskset -c 0 "$2" --port "$port" --shards 1 >/dev/null 2>&1 &
  fi
  pid=$!
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  # shellcheck disable=SC2086
  line=$(taskset -c 1 timeout 300 "$LOAD" $4 --url "ws://127.0.0.1:$port" --server-pid "$pid" --json |
    tail -n 1) || true
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  jq -c --arg build "$1" --arg case "$3" --arg load "$(cut -d' ' -f1 /proc/loadavg)" --argjson rep "$REP" \
    '. + {build: $build, case: $case, rep: $rep, load1: ($load|tonumber)}' <<<"$line" >>"$OUT" ||
    echo "{\"build\":\"$1\",\"case\":\"$3\",\"rep\":$REP,\"failed\":true}" >>"$OUT"
}

for c in "${CASES[@]}"; do
  id=${c%%|*}; args=${c#*|}
  for r in $(seq 1 "$REPS"); do
    REP=$r
    echo "[ab] $id rep $r" >&2
    # Each round starts with another build (base new floor, new floor base, ...): a run
    # may slow the next (the previous server's teardown), and a fixed order would bias one build.
    order=(base new)
    # The floor speaks websocket only.
    if [ -n "${AB_FLOOR:-}" ] && [[ "$args" != *--polling-fraction* ]]; then order+=(floor); fi
    for i in "${!order[@]}"; do
      b=${order[$(((i + r - 1) % ${#order[@]}))]}
      case $b in base) bin=$BASE ;; new) bin=$NEW ;; floor) bin=$FLOOR ;; esac
      run "$b" "$bin" "$id" "$args"
    done
  done
done

python3 - "$OUT" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"results: {sys.argv[1]}")
print(f"{'case':16} {'build':5} {'rate (median, min-max)':>32} {'cpu us/msg':>11} {'core us/msg':>12} {'load1':>6}")
med = {}
for case in dict.fromkeys(r["case"] for r in rows):
    for build in ("base", "new", "floor"):
        if not any(r["build"] == build for r in rows):
            continue
        rs = [r for r in rows if r["case"] == case and r["build"] == build and not r.get("failed")]
        key = "requests_per_s" if case.startswith("echo") else "delivered_per_s"
        rate = [r[key] for r in rs if r.get(key)]
        cpu = [r["server_cpu_us_per_delivered_msg"] for r in rs if r.get("server_cpu_us_per_delivered_msg")]
        core = [r["server_core_cpu_us_per_delivered_msg"] for r in rs if r.get("server_core_cpu_us_per_delivered_msg")]
        load = [r["load1"] for r in rs]
        if not rate:
            print(f"{case:16} {build:5} {'no complete run':>32}")
            continue
        m = statistics.median(rate)
        c = statistics.median(cpu) if cpu else float("nan")
        k = statistics.median(core) if core else float("nan")
        med[(case, build)] = (m, c, k)
        print(f"{case:16} {build:5} {m:>14,.0f} ({min(rate):,.0f}-{max(rate):,.0f}) {c:>11.3f} {k:>12.3f} {max(load):>6.2f}")
for case in dict.fromkeys(r["case"] for r in rows):
    if (case, "base") in med and (case, "new") in med:
        (rb, cb, kb), (rn, cn, kn) = med[(case, "base")], med[(case, "new")]
        print(f"{case:16} new/base: rate x{rn / rb:.3f}, cpu per msg x{cn / cb:.3f}, core per msg x{kn / kb:.3f}")
    if (case, "floor") in med:
        for build in ("base", "new"):
            if (case, build) not in med:
                continue
            # The process's CPU, then its core's busy time (interrupt-level
            # work for its sockets included, wherever it ran).
            for label, field, i in (
                ("cpu", "server_cpu_us_per_delivered_msg", 1),
                ("core", "server_core_cpu_us_per_delivered_msg", 2),
            ):
                # Also per round (the runs of one repetition, seconds apart):
                # the machine's speed drifts between rounds.
                cpu = {
                    (r["build"], r.get("rep")): r.get(field)
                    for r in rows
                    if r["case"] == case and not r.get("failed")
                }
                paired = [
                    cpu[(build, k)] / cpu[("floor", k)]
                    for (b, k) in cpu
                    if b == build and cpu[(b, k)] and cpu.get(("floor", k))
                ]
                per_round = (
                    f"; per round median x{statistics.median(paired):.3f} ({min(paired):.2f}-{max(paired):.2f})"
                    if paired
                    else ""
                )
                ratio = med[(case, build)][i] / med[(case, "floor")][i]
                print(f"{case:16} {build}/floor: {label} per msg x{ratio:.3f}{per_round}")
EOF
