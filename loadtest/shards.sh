#!/usr/bin/env bash
# The default shard count on a 2-vCPU machine (issue 15 item 3): --shards 1 against --shards 2
# (the default, one per core), with nothing else pinned, in four measurements:
#
#   idle    the server alone for IDLE_S seconds (default 30) with no client, then with 100 idle
#           WebSocket clients (connected first; the default ping interval, 25 s): CPU time (ns, /proc/PID/task/*/schedstat) and context switches
#           of the server, per shard thread. An idle shard that spins or wakes up on a timer
#           shows here.
#   light   a lightly loaded server: fanout to 100 subscribers at 50 messages/s for LIGHT_S
#           seconds (5,000 deliveries/s): server CPU per delivery.
#   pinned  generator confined to CPU 1 (taskset), the server free on both CPUs (shards pinned
#           by ringcast as usual: shard i on CPU i): the closest this machine comes to a server
#           that has both vCPUs while its clients are elsewhere.
#   shared  nothing confined: generator and server compete for both CPUs.
#
# In pinned and shared: fan-out 1 room x 1,000 subscribers x 64 B and echo 100 clients, REPS
# repetitions interleaved (shards 1, shards 2, shards 1, ...). Each JSON line goes to OUT (default
# /tmp/ringcast-shards-<time>.jsonl) with the load average before the run; a summary table
# (medians) is printed at the end.
#
#   loadtest/shards.sh [REPS]        # default 3; env IDLE_S=30 LIGHT_S=20 OUT=FILE
#                                    # ONLY=idle,light,throughput,perf (default: all)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=loadtest/lib.sh
. "$ROOT/loadtest/lib.sh"

REPS=${1:-3}
ONLY=${ONLY:-idle,light,throughput,perf}
want() { [[ ",$ONLY," == *",$1,"* ]]; }
IDLE_S=${IDLE_S:-30}
LIGHT_S=${LIGHT_S:-20}
OUT=${OUT:-/tmp/ringcast-shards-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
SRV=$ROOT/target/release/examples/conformance
LOAD=$ROOT/target/release/ringcast-load
[ -x "$SRV" ] || cargo build --release --example conformance -p ringcast
[ -x "$LOAD" ] || cargo build --release -p ringcast-load
: >"$OUT"
echo "results -> $OUT (commit $(git rev-parse --short HEAD), $(nproc) CPUs)" >&2

PID=""
cleanup() { if [ -n "$PID" ]; then kill -KILL "$PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

start() { # shards -> PID, PORT
  PORT=$(free_port)
  "$SRV" --port "$PORT" --shards "$1" >/dev/null 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return; sleep 0.1; done
  echo "server not listening" >&2; exit 1
}
stop() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; }

# JSON object: thread name -> {cpu_ns, ctx (voluntary + involuntary switches)}, all threads.
threads() {
  local t name ns vol inv first=1
  printf '{'
  for t in /proc/"$PID"/task/*; do
    name=$(tr -d '\n' <"$t/comm" 2>/dev/null) || continue
    ns=$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null) || continue
    vol=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status" 2>/dev/null)
    inv=$(awk '/^nonvoluntary_ctxt_switches/ { print $2 }' "$t/status" 2>/dev/null)
    [ "$first" = 1 ] || printf ','
    first=0
    printf '"%s/%s":{"cpu_ns":%s,"ctx":%s}' "$name" "${t##*/}" "$ns" "$((vol + inv))"
  done
  printf '}'
}

# Records the server's threads over S seconds while the command in "$@" (may be empty) runs.
window() { # label shards seconds [command...]
  local label=$1 shards=$2 secs=$3 a b gen=""
  shift 3
  # clients first (connected within 3 s), so the window sees them idle, not connecting
  if [ $# -gt 0 ]; then "$@" >/dev/null 2>&1 & gen=$!; sleep 3; fi
  a=$(threads)
  sleep "$secs"
  b=$(threads)
  if [ -n "$gen" ]; then kill "$gen" 2>/dev/null || true; wait "$gen" 2>/dev/null || true; fi
  jq -n -c --arg what "$label" --argjson shards "$shards" --argjson secs "$secs" \
    --argjson a "$a" --argjson b "$b" --arg load "$(cut -d' ' -f1 /proc/loadavg)" \
    '{what: $what, shards: $shards, seconds: $secs, load1: ($load | tonumber),
      threads: [$b | to_entries[] | {name: .key, cpu_ms: ((.value.cpu_ns - ($a[.key].cpu_ns // 0)) / 1e6 | . * 100 | round / 100),
                                     ctx: (.value.ctx - ($a[.key].ctx // 0))}]}
     | .cpu_ms = ([.threads[].cpu_ms] | add) | .ctx = ([.threads[].ctx] | add)' | tee -a "$OUT" |
    jq -r '"\(.what) shards \(.shards): \(.cpu_ms) ms CPU, \(.ctx) context switches in \(.seconds) s (load \(.load1)); " +
           ([.threads[] | select(.cpu_ms > 0 or .ctx > 0) | "\(.name) \(.cpu_ms) ms/\(.ctx)"] | join(", "))' >&2
}

# 1. idle, then 100 idle clients (one pass: no load, little noise)
want idle && for n in 1 2; do
  start "$n"; sleep 1
  window idle "$n" "$IDLE_S"
  window idle-100-clients "$n" "$IDLE_S" "$LOAD" idle --connections 100 --hold-seconds $((IDLE_S + 30)) \
    --url "ws://127.0.0.1:$PORT"
  stop
done

run_gen() { # mode shards case args...
  local mode=$1 shards=$2 id=$3 line l1
  shift 3
  start "$shards"; sleep 0.5
  l1=$(cut -d' ' -f1 /proc/loadavg)
  local pre=()
  [ "$mode" = pinned ] && pre=(taskset -c 1)
  line=$("${pre[@]}" timeout 300 "$LOAD" "$@" --url "ws://127.0.0.1:$PORT" --server-pid "$PID" --json 2>/dev/null |
    tail -n 1) || true
  stop
  [ -n "$line" ] || line='{}'
  jq -c --arg mode "$mode" --argjson shards "$shards" --arg id "$id" --arg load "$l1" \
    '{what: ($mode + " " + $id), mode: $mode, case: $id, shards: $shards, load1: ($load | tonumber),
      rate: (.delivered_per_s // .requests_per_s), cpu_us: .server_cpu_us_per_delivered_msg,
      cores: .server_cpu_cores, p99_us: .latency_us.p99, lost: .lost, out_of_order: .out_of_order,
      end: .end_reason}' <<<"$line" | tee -a "$OUT" |
    jq -r '"\(.what) shards \(.shards): \(.rate)/s, \(.cpu_us) us CPU each, p99 \(.p99_us) us, lost \(.lost), ooo \(.out_of_order), \(.end) (load \(.load1))"' >&2
  sleep 1
}

# 2. lightly loaded
want light && for _ in $(seq 1 "$REPS"); do
  for n in 1 2; do
    run_gen shared "$n" light fanout --subscribers 100 --rooms 1 --messages $((LIGHT_S * 50)) --payload 64 --rate 50
  done
done

# 3. and 4. throughput, generator pinned to CPU 1 / nothing pinned
want throughput && for _ in $(seq 1 "$REPS"); do
  for mode in pinned shared; do
    for n in 1 2; do
      run_gen "$mode" "$n" fanout-1k-64 fanout --subscribers 1000 --rooms 1 --messages 2000 --payload 64
      run_gen "$mode" "$n" echo-100 echo --clients 100 --requests 2000 --payload 64
    done
  done
done

# 5. what a park costs the other shard: glommio issues membarrier(PRIVATE_EXPEDITED) before
# every park (an IPI to each other CPU running a thread of the process). Counted with perf over
# one echo-100 and one light run per shard count (tracepoints; needs perf_event_paranoid <= 1 or
# root), printed per request / delivery.
if want perf && command -v perf >/dev/null && perf stat -e syscalls:sys_enter_membarrier true >/dev/null 2>&1; then
  for what in echo light; do
    for n in 1 2; do
      start "$n"; sleep 0.5
      perf stat -x, -o "$OUT.perf" -e task-clock,context-switches,syscalls:sys_enter_membarrier,syscalls:sys_enter_io_uring_enter,ipi:ipi_send_cpu,ipi:ipi_send_cpumask -p "$PID" &
      pp=$!
      if [ "$what" = echo ]; then
        line=$("$LOAD" echo --clients 100 --requests 2000 --payload 64 --url "ws://127.0.0.1:$PORT" --json 2>/dev/null | tail -n 1)
      else
        line=$("$LOAD" fanout --subscribers 100 --rooms 1 --messages $((LIGHT_S * 50)) --payload 64 --rate 50 \
          --url "ws://127.0.0.1:$PORT" --json 2>/dev/null | tail -n 1)
      fi
      kill -INT "$pp"; wait "$pp" 2>/dev/null || true
      stop
      msgs=$(jq -r '.delivered // 0' <<<"$line")
      jq -n -c --arg what "perf $what" --argjson shards "$n" --argjson msgs "$msgs" \
        --arg load "$(cut -d' ' -f1 /proc/loadavg)" --rawfile perf "$OUT.perf" \
        '{what: $what, shards: $shards, messages: $msgs, load1: ($load | tonumber),
          per_message: ($perf | split("\n") | map(split(",")) | map(select(length > 3 and (.[0] | test("^[0-9.]+$"))))
                        | map({key: .[2], value: ((.[0] | tonumber) / ([$msgs, 1] | max) * 1000 | round / 1000)}) | from_entries)}' |
        tee -a "$OUT" | jq -r '"\(.what) shards \(.shards): per message \(.per_message) (load \(.load1))"' >&2
    done
  done
  rm -f "$OUT.perf"
fi

echo >&2
echo "medians over $REPS repetitions (idle: one pass) -- $OUT" >&2
jq -s -r 'def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  group_by(.what + " " + (.shards | tostring))[]
  | {what: .[0].what, shards: .[0].shards, n: length,
     rate: ([.[].rate | select(. != null)] | med), cpu_us: ([.[].cpu_us | select(. != null)] | med),
     cpu_ms: ([.[].cpu_ms | select(. != null)] | med | if . == null then . else . * 100 | round / 100 end), ctx: ([.[].ctx | select(. != null)] | med),
     per_message: .[0].per_message, loads: ([.[].load1] | "\(min)-\(max)")}
  | "\(.what)\tshards \(.shards)\tn=\(.n)\t" +
    (if .per_message != null then "\(.per_message)" elif .cpu_ms != null then "\(.cpu_ms) ms CPU, \(.ctx) switches" else "\(.rate)/s, \(.cpu_us) us/msg" end) +
    "\tload \(.loads)"' "$OUT"
