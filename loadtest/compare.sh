#!/usr/bin/env bash
# Side-by-side benchmarks (issue 3): ringcast vs Node socket.io 4.8 vs socketioxide,
# same load generator (ringcast-load), same window, same machine, one run.
#
#   loadtest/compare.sh [-r REPS] [-s CASE[,CASE...]] [--servers ringcast,node,socketioxide]
#                       [--out FILE.jsonl] [--no-build] [--no-docs] [--quick]
#   loadtest/compare.sh --report FILE.jsonl     # only rewrite docs/benchmarks.md + docs/img/ from results
#
# For every case (scenario) it runs the servers in turn, interleaved (A B C, B C A, ...), REPS
# times (default 3; the report shows medians and min-max). Each run starts the server fresh on
# a free port, runs ringcast-load with --server-pid (server CPU and RSS from /proc) and --json,
# and stops the server.
#
# Modes (--mode):
#   one-core (default)  each server confined to CPU 0 with one worker (ringcast --shards 1,
#                       socketioxide's tokio runtime with TOKIO_WORKER_THREADS=1, Node as it is,
#                       the floor is single-threaded anyway), the generator confined to CPU 1
#                       (`taskset`): neither competes with the other for a core.
#   shared              every process on every core, each server with its default shards /
#                       threads (one per core): what a 2-vCPU box serving real clients sees. Every JSON line, tagged with the
# server, case, repetition and the load average before the run, goes to
# loadtest/results/<date>.jsonl (first line: {"meta": ...}: machine, commit, commands).
# Then loadtest/report.py writes its section of docs/benchmarks.md (between the
# "compare.sh" markers; the rest of the file is left alone) and the SVG plots in docs/img/.
#
# Before each case it waits (at most WAIT_LOAD_S=60 s) for the 1-minute load average to drop
# below MAX_LOAD=1.0, or for less than QUIET_CORES=0.25 cores busy over 5 s (the load average
# still carries our own previous runs): other work on this 2-core machine disturbs the timings.
# Each run also records the CPU that other processes used meanwhile (bench.cpu.others_cores:
# /proc/stat minus this script's children) and the load generator's own CPU.
#
#   -r REPS            repetitions per case (default 3)
#   -s CASES           only these cases (ids below), comma-separated
#   --servers LIST     only these servers (default ringcast,node,socketioxide,floor)
#   --mode MODE        one-core (default) or shared (see above)
#   --out FILE         results file (default loadtest/results/<UTC date>.jsonl, -2, -3 ... if taken)
#   --no-build         use the binaries already built
#   --no-docs          do not touch docs/
#   --quick            tiny message counts / connection counts (checks the script, not the servers)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

REPS=3
ONLY=""
SERVERS="ringcast,node,socketioxide,floor"
MODE=one-core
OUT=""
BUILD=1
DOCS=1
QUICK=0
REPORT_ONLY=""
MAX_LOAD=${MAX_LOAD:-1.0}
WAIT_LOAD_S=${WAIT_LOAD_S:-60}
RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-240}

while [ $# -gt 0 ]; do
  case "$1" in
    -r) REPS=$2; shift 2 ;;
    -s) ONLY=$2; shift 2 ;;
    --servers) SERVERS=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-docs) DOCS=0; shift ;;
    --quick) QUICK=1; shift ;;
    --report) REPORT_ONLY=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

report() {
  python3 "$ROOT/loadtest/report.py" "$1" --doc "$ROOT/docs/benchmarks.md" --img "$ROOT/docs/img"
}

case "$MODE" in
  one-core)
    [ "$(nproc)" -ge 2 ] || { echo "compare.sh: --mode one-core needs 2 CPUs" >&2; exit 2; }
    SERVER_CPUS=0; GEN_CPUS=1 ;;
  shared) SERVER_CPUS=""; GEN_CPUS="" ;;
  *) echo "compare.sh: unknown mode $MODE (one-core, shared)" >&2; exit 2 ;;
esac

if [ -n "$REPORT_ONLY" ]; then
  report "$REPORT_ONLY"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Cases: id | generator arguments (--url, --server-pid and --json are added) [| what the servers
# run with]. Message counts keep one run at <= ~30 s on Node (the slowest peer): see
# docs/benchmarks.md. The third field:
#   deflate  permessage-deflate on (ringcast --per-message-deflate, Node perMessageDeflate with
#            threshold 1024); ringcast and Node only: socketioxide 0.18 (tungstenite 0.30) has no
#            permessage-deflate, the floor writes uncompressed frames.
#   cluster  two nodes of the server joined through one redis-server (a fresh one per run on a
#            free port): ringcast's conformance example with --redis-url, Node's
#            tests/cluster/node-peer.js (@socket.io/redis-adapter); ringcast and Node only. The
#            generator gets both URLs: the publisher and every other subscriber on node a, the
#            rest on node b, so half of the deliveries cross Redis. Server CPU = both nodes +
#            Redis. In one-core mode all three run on the server CPU (a 2-vCPU machine cannot
#            give each node a core and the generator one).
CASES=(
  "fanout-1k-64|fanout --subscribers 1000 --rooms 1 --messages 2000 --payload 64"
  "fanout-1k-64-w1024|fanout --subscribers 1000 --rooms 1 --messages 2000 --payload 64 --window 1024"
  "fanout-1k-1k|fanout --subscribers 1000 --rooms 1 --messages 1000 --payload 1024"
  "fanout-10k-64|fanout --subscribers 10000 --rooms 1 --messages 150 --payload 64"
  "fanout-100x100|fanout --subscribers 10000 --rooms 100 --messages 6000 --payload 64"
  "fanout-1k-64-polling|fanout --subscribers 1000 --rooms 1 --messages 500 --payload 64 --polling-fraction 1"
  "latency-1k-1000|fanout --subscribers 1000 --rooms 1 --messages 2000 --payload 64 --rate 1000"
  "echo-100|echo --clients 100 --requests 2000 --payload 64"
  "echo-100-2k|echo --clients 100 --requests 2000 --payload 2048"
  "connect-10k|connect --connections 10000 --concurrency 100"
  "idle-10k|idle --connections 10000 --hold-seconds 30"
  "fanout-1k-2k-text|fanout --subscribers 1000 --rooms 1 --messages 200 --payload 2048 --pad text"
  "fanout-1k-2k-deflate|fanout --subscribers 1000 --rooms 1 --messages 200 --payload 2048 --pad text --deflate|deflate"
  "cluster-fanout-1k-64|fanout --subscribers 1000 --rooms 1 --messages 1000 --payload 64|cluster"
)
if [ "$QUICK" = 1 ]; then
  CASES=(
    "fanout-1k-64|fanout --subscribers 100 --rooms 1 --messages 50 --payload 64"
    "fanout-1k-64-w1024|fanout --subscribers 100 --rooms 1 --messages 50 --payload 64 --window 1024"
    "fanout-1k-1k|fanout --subscribers 100 --rooms 1 --messages 50 --payload 1024"
    "fanout-10k-64|fanout --subscribers 300 --rooms 1 --messages 20 --payload 64"
    "fanout-100x100|fanout --subscribers 100 --rooms 10 --messages 100 --payload 64"
    "fanout-1k-64-polling|fanout --subscribers 50 --rooms 1 --messages 20 --payload 64 --polling-fraction 1"
    "latency-1k-1000|fanout --subscribers 100 --rooms 1 --messages 100 --payload 64 --rate 1000"
    "echo-100|echo --clients 10 --requests 50 --payload 64"
    "echo-100-2k|echo --clients 10 --requests 50 --payload 2048"
    "connect-10k|connect --connections 200 --concurrency 50"
    "idle-10k|idle --connections 200 --hold-seconds 2"
    "fanout-1k-2k-text|fanout --subscribers 100 --rooms 1 --messages 20 --payload 2048 --pad text"
    "fanout-1k-2k-deflate|fanout --subscribers 100 --rooms 1 --messages 20 --payload 2048 --pad text --deflate|deflate"
    "cluster-fanout-1k-64|fanout --subscribers 100 --rooms 1 --messages 50 --payload 64|cluster"
  )
fi

# ---------------------------------------------------------------------------------------------
log() { printf '[compare %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
load1() { cut -d' ' -f1 /proc/loadavg; }

NODE_DIR="$ROOT/loadtest/peers/node"
CLUSTER_DIR="$ROOT/tests/cluster"
SXD_DIR="$ROOT/loadtest/peers/socketioxide"
WORK=$(mktemp -d /tmp/ringcast-compare.XXXXXX)
BIN="$WORK/bin"
mkdir -p "$BIN"
SPID=""    # the server (a cluster: node a)
SPIDS=()   # every process of the server side (a cluster: node a, node b, redis-server)
SNAMES=()  # their names in the results
URL=""
cleanup() {
  local p
  for p in "${SPIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$BUILD" = 1 ]; then
  log "building ringcast (conformance example) and ringcast-load"
  cargo build --release --example conformance -p ringcast
  cargo build --release -p ringcast-load
  log "Node peer: npm ci"
  if ! (cd "$NODE_DIR" && npm ci --no-audit --no-fund); then
    [ -d "$NODE_DIR/node_modules" ] || { echo "npm ci failed" >&2; exit 1; }
    log "npm ci failed; using the node_modules already installed"
  fi
  if [[ "${CASES[*]}" == *"|cluster"* ]]; then
    log "Node cluster peer (tests/cluster): npm ci"
    if ! (cd "$CLUSTER_DIR" && npm ci --no-audit --no-fund); then
      [ -d "$CLUSTER_DIR/node_modules" ] || { echo "npm ci in tests/cluster failed" >&2; exit 1; }
      log "npm ci failed; using the node_modules already installed"
    fi
  fi
  log "socketioxide peer: cargo build --release"
  (cd "$SXD_DIR" && CARGO_TARGET_DIR="$SXD_DIR/target" cargo build --release --locked)
fi
# Private copies: other work in the shared tree may rebuild target/ while this runs.
cp "$ROOT/target/release/examples/conformance" "$BIN/conformance"
cp "$ROOT/target/release/ringcast-load" "$BIN/ringcast-load"
cp "$ROOT/target/release/ringcast-floor" "$BIN/ringcast-floor"
if [[ ",$SERVERS," == *",socketioxide,"* ]]; then
  cp "$SXD_DIR/target/release/socketioxide-peer" "$BIN/socketioxide-peer"
fi

mkdir -p "$ROOT/loadtest/results"
if [ -z "$OUT" ]; then
  d=$(date -u +%Y-%m-%d)
  OUT="$ROOT/loadtest/results/$d.jsonl"
  n=2
  while [ -e "$OUT" ]; do OUT="$ROOT/loadtest/results/$d-$n.jsonl"; n=$((n + 1)); done
fi
[ "$QUICK" = 1 ] && case "$OUT" in */loadtest/results/*) OUT="$WORK/quick.jsonl" ;; esac

# ---------------------------------------------------------------------------------------------
# Meta line: machine, versions, commit, commands.
json_cases=$(for c in "${CASES[@]}"; do printf '%s\n' "$c"; done |
  jq -R -c 'split("|") | {id: .[0], args: .[1], flags: (.[2] // "")}' | jq -s -c .)
dirty=$(git status --porcelain --untracked-files=no -- src crates examples Cargo.toml Cargo.lock | wc -l)
jq -n -c \
  --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg nproc "$(nproc)" \
  --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
  --arg kernel "$(uname -sr)" \
  --arg free "$(free -g)" \
  --arg commit "$(git rev-parse --short HEAD)" \
  --arg dirty "$dirty" \
  --arg rustc "$(rustc --version)" \
  --arg node "$(node --version)" \
  --arg socketio "$(jq -r '.packages["node_modules/socket.io"].version' "$NODE_DIR/package-lock.json")" \
  --arg socketioxide "$(grep -A1 '^name = "socketioxide"$' "$SXD_DIR/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')" \
  --arg reps "$REPS" --arg servers "$SERVERS" --arg quick "$QUICK" \
  --arg mode "$MODE" --arg server_cpus "$SERVER_CPUS" --arg gen_cpus "$GEN_CPUS" \
  --arg ulimit "$(ulimit -n)" \
  --arg redis "$(redis-server --version 2>/dev/null | sed -n 's/.* v=\([^ ]*\).*/\1/p')" \
  --arg redis_adapter "$(jq -r '.packages["node_modules/@socket.io/redis-adapter"].version // empty' "$CLUSTER_DIR/package-lock.json" 2>/dev/null)" \
  --argjson cases "$json_cases" \
  '{meta: {date: $date, nproc: ($nproc|tonumber), cpu: $cpu, kernel: $kernel, free_g: $free,
           commit: $commit, dirty_files: ($dirty|tonumber), rustc: $rustc, node: $node,
           socketio: $socketio, socketioxide: $socketioxide, reps: ($reps|tonumber),
           servers: ($servers|split(",")), quick: ($quick == "1"), open_files: $ulimit,
           mode: $mode, server_cpus: $server_cpus, generator_cpus: $gen_cpus,
           redis: $redis, redis_adapter: $redis_adapter, order: "rotating",
           cases: $cases}}' >"$OUT"
log "results -> $OUT"

# ---------------------------------------------------------------------------------------------
# shellcheck source=loadtest/lib.sh
. "$ROOT/loadtest/lib.sh"

# Command prefixes: `taskset -c CPUS cmd` execs cmd, so $! stays the server's own pid (a shell
# function in the background would add a subshell in between).
SRV_PRE=(); GEN_PRE=(); RC_ARGS=(); SXD_ENV=()
if [ -n "$SERVER_CPUS" ]; then SRV_PRE=(taskset -c "$SERVER_CPUS"); fi
if [ -n "$GEN_CPUS" ]; then GEN_PRE=(taskset -c "$GEN_CPUS"); fi
if [ "$MODE" = one-core ]; then RC_ARGS=(--shards 1); SXD_ENV=(TOKIO_WORKER_THREADS=1); fi

wait_listening() { # pid port log name
  local i
  for i in $(seq 1 100); do
    if ! kill -0 "$1" 2>/dev/null; then
      echo "server $4 exited on start:" >&2; cat "$3" >&2; return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server $4 not listening on $2 after 10 s" >&2
  return 1
}

start_server() { # name port log flags
  # started directly (no wrapper process), so $! is the server's own pid for /proc
  local flags=${4:-}
  local deflate=()
  if [ "$flags" = cluster ]; then start_cluster "$@"; return; fi
  case "$1" in
    ringcast) if [ "$flags" = deflate ]; then deflate=(--per-message-deflate); fi
      "${SRV_PRE[@]}" "$BIN/conformance" --port "$2" "${RC_ARGS[@]}" "${deflate[@]}" >"$3" 2>&1 & ;;
    node) if [ "$flags" = deflate ]; then deflate=(--per-message-deflate 1); fi
      "${SRV_PRE[@]}" node "$NODE_DIR/server.js" --port "$2" "${deflate[@]}" >"$3" 2>&1 & ;;
    socketioxide) env "${SXD_ENV[@]}" "${SRV_PRE[@]}" "$BIN/socketioxide-peer" --port "$2" >"$3" 2>&1 & ;;
    floor) "${SRV_PRE[@]}" "$BIN/ringcast-floor" --port "$2" >"$3" 2>&1 & ;;
    *) echo "unknown server $1" >&2; return 1 ;;
  esac
  SPID=$!; SPIDS=("$SPID"); SNAMES=(server); URL="ws://127.0.0.1:$2"
  wait_listening "$SPID" "$2" "$3" "$1" || return 1
  sleep 0.5
}

# Two nodes (a on PORT, b on a second free port) and the redis-server they share, all on the
# server CPU in one-core mode. ringcast: --shards 1 per node in one-core mode, the default shards
# in shared mode.
start_cluster() { # name port log
  local rport bport
  rport=$(free_port); bport=$(free_port)
  while [ "$bport" = "$2" ] || [ "$bport" = "$rport" ]; do bport=$(free_port); done
  SPIDS=(); SNAMES=()
  "${SRV_PRE[@]}" redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
    >"$3.redis" 2>&1 &
  local rpid=$!
  SPIDS+=("$rpid"); SNAMES+=(redis)
  wait_listening "$rpid" "$rport" "$3.redis" redis-server || return 1
  local node port pid
  for node in a b; do
    port=$2; [ "$node" = b ] && port=$bport
    case "$1" in
      ringcast) "${SRV_PRE[@]}" "$BIN/conformance" --port "$port" "${RC_ARGS[@]}" \
          --redis-url "redis://127.0.0.1:$rport" --name "$node" >"$3.$node" 2>&1 & ;;
      node) env PORT="$port" REDIS_URL="redis://127.0.0.1:$rport" NODE_NAME="$node" \
          "${SRV_PRE[@]}" node "$CLUSTER_DIR/node-peer.js" >"$3.$node" 2>&1 & ;;
      *) echo "no cluster mode for server $1" >&2; return 1 ;;
    esac
    pid=$!
    SPIDS=("$pid" "${SPIDS[@]}"); SNAMES=("node_$node" "${SNAMES[@]}")
    wait_listening "$pid" "$port" "$3.$node" "$1 node $node" || return 1
  done
  # node a first (the publisher's), then b, then redis
  SPIDS=("${SPIDS[1]}" "${SPIDS[0]}" "${SPIDS[2]}"); SNAMES=(node_a node_b redis)
  SPID=${SPIDS[0]}
  URL="ws://127.0.0.1:$2,ws://127.0.0.1:$bport"
  cat "$3.a" "$3.b" >"$3" 2>/dev/null || true
  sleep 1 # both nodes subscribed to Redis before the clients join
}

stop_server() {
  [ ${#SPIDS[@]} -gt 0 ] || return 0
  local p i
  for p in "${SPIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${SPIDS[@]}"; do
    for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  SPID=""; SPIDS=(); SNAMES=()
}

busy_cores_5s() { # CPU in use on the whole machine over 5 s (nothing of ours runs meanwhile)
  local a b
  a=$(machine_busy_s); sleep 5; b=$(machine_busy_s)
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f\n", (b - a) / 5 }'
}

# Quiet: the 1-minute load average below MAX_LOAD, or (as that average still carries our own
# previous runs for a minute or two) under QUIET_CORES cores busy over the last 5 s.
wait_for_quiet() {
  local t=0 busy
  while awk -v l="$(load1)" -v m="$MAX_LOAD" 'BEGIN { exit !(l >= m) }'; do
    busy=$(busy_cores_5s); t=$((t + 5))
    if awk -v b="$busy" -v q="${QUIET_CORES:-0.25}" 'BEGIN { exit !(b < q) }'; then
      log "load $(load1), but only $busy cores busy over 5 s"
      return
    fi
    if [ "$t" -ge "$WAIT_LOAD_S" ]; then
      log "load $(load1) still >= $MAX_LOAD after ${WAIT_LOAD_S}s ($busy cores busy); going on (noted in the results)"
      return
    fi
  done
  log "load $(load1)"
}

# CPU seconds: the whole machine busy (/proc/stat), this shell's reaped children (bash `times`:
# the server and the generator of a run), one process (/proc/PID/stat).
machine_busy_s() { awk '/^cpu / { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8 + $9) / 100 }' /proc/stat; }
children_cpu_s() { # -> CHILD_CPU; not in $(...): a subshell would report its own children
  times >"$WORK/times"
  CHILD_CPU=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
                 printf "%.2f\n", t }' "$WORK/times")
}
proc_cpu_s() { awk '{ printf "%.2f\n", ($14 + $15) / 100 }' "/proc/$1/stat" 2>/dev/null || echo null; }

run_one() { # case-id args server rep flags
  local id=$1 args=$2 server=$3 rep=$4 flags=${5:-} port slog out err rc l1 t0
  port=$(free_port)
  slog="$WORK/server.log"; out="$WORK/out.json"; err="$WORK/err.txt"
  : >"$out"
  local busy0 ours0 w0 busy1 ours1 w1 srv_cpu
  busy0=$(machine_busy_s); children_cpu_s; ours0=$CHILD_CPU; w0=$(date +%s.%N)
  start_server "$server" "$port" "$slog" "$flags" || { stop_server; return 1; }
  l1=$(load1)
  t0=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  log "$id  $server  rep $rep  port $port  pid $SPID  load $l1"
  rc=0
  # shellcheck disable=SC2086
  "${GEN_PRE[@]}" timeout "$RUN_TIMEOUT_S" "$BIN/ringcast-load" $args --url "$URL" \
    --server-pid "$(IFS=,; echo "${SPIDS[*]}")" --json >"$out" 2>"$err" || rc=$?
  local alive=true p procs="{}" c i=0
  srv_cpu=0
  for p in "${SPIDS[@]}"; do
    kill -0 "$p" 2>/dev/null || alive=false
    c=$(proc_cpu_s "$p")
    procs=$(jq -c --arg n "${SNAMES[$i]}" --argjson c "$c" '. + {($n): $c}' <<<"$procs")
    if [ "$c" = null ] || [ "$srv_cpu" = null ]; then srv_cpu=null
    else srv_cpu=$(awk -v a="$srv_cpu" -v b="$c" 'BEGIN { printf "%.2f\n", a + b }'); fi
    i=$((i + 1))
  done
  stop_server
  busy1=$(machine_busy_s); children_cpu_s; ours1=$CHILD_CPU; w1=$(date +%s.%N)
  local line
  line=$(tail -n 1 "$out")
  if ! printf '%s' "$line" | jq -e 'type == "object"' >/dev/null 2>&1; then line='{}'; fi
  printf '%s' "$line" | jq -c \
    --arg server "$server" --arg case "$id" --arg args "$args" --arg rep "$rep" \
    --arg load1 "$l1" --arg started "$t0" --arg rc "$rc" --arg alive "$alive" \
    --argjson cpu "$(jq -n -c --argjson b0 "$busy0" --argjson b1 "$busy1" --argjson o0 "$ours0" \
        --argjson o1 "$ours1" --argjson w0 "$w0" --argjson w1 "$w1" --argjson srv "$srv_cpu" --argjson procs "$procs" \
        '{wall_s: (($w1 - $w0) * 100 | round / 100), machine_busy_s: (($b1 - $b0) * 100 | round / 100),
          ours_s: (($o1 - $o0) * 100 | round / 100), server_total_s: $srv,
          generator_s: (if $srv == null then null else (($o1 - $o0 - $srv) * 100 | round / 100) end),
          server_procs_s: $procs,
          others_s: (($b1 - $b0 - ($o1 - $o0)) * 100 | round / 100),
          others_cores: ((($b1 - $b0 - ($o1 - $o0)) / ($w1 - $w0)) * 100 | round / 100)}')" \
    --arg slog "$(tail -n 5 "$slog" | cut -c1-300)" --arg gerr "$(grep -v '^  ' "$err" | tail -n 5 | cut -c1-300)" \
    --arg flags "$flags" \
    '. + {bench: {server: $server, case: $case, args: $args, flags: $flags, rep: ($rep|tonumber),
                  load1_before: ($load1|tonumber), started: $started, cpu: $cpu, rc: ($rc|tonumber),
                  server_alive_at_end: ($alive == "true"), server_log_tail: $slog,
                  generator_stderr_tail: $gerr}}' >>"$OUT"
  if [ "$rc" != 0 ]; then log "  generator exit status $rc: $(tail -n 2 "$err" | tr '\n' ' ')"; fi
  jq -r 'select(.bench) | "  -> others \(.bench.cpu.others_cores) cores, generator \(.bench.cpu.generator_s) s; \(.delivered // "-") delivered, \(.delivered_per_s // "-")/s, lost \(.lost // "-"), ooo \(.out_of_order // "-"), p99 \(.latency_us.p99 // .connect_us.p99 // "-") us, cpu/msg \(.server_cpu_us_per_delivered_msg // "-") us, rss/conn \(.server_rss_bytes_per_connection // "-") B, \(.end_reason // "no result")"' \
    < <(tail -n 1 "$OUT") >&2
  sleep 2 # let the closed sockets go
}

IFS=, read -r -a servers <<<"$SERVERS"
start_all=$(date +%s)
for c in "${CASES[@]}"; do
  IFS='|' read -r id args flags <<<"$c"
  if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$id,"* ]]; then continue; fi
  wait_for_quiet
  for rep in $(seq 1 "$REPS"); do
    # each repetition starts with the next server (A B C, B C A, ...): a fixed order would
    # always hand the same server whatever the previous run leaves behind
    for i in "${!servers[@]}"; do
      s=${servers[$(((i + rep - 1) % ${#servers[@]}))]}
      # the floor speaks WebSocket only
      if [ "$s" = floor ] && [[ "$args" == *--polling-fraction* ]]; then continue; fi
      # deflate and cluster cases: ringcast and Node only (see the case list)
      if [ -n "$flags" ] && [ "$s" != ringcast ] && [ "$s" != node ]; then continue; fi
      run_one "$id" "$args" "$s" "$rep" "$flags" || log "  $id $s rep $rep: server failed to start"
    done
  done
done
log "all runs done in $(( $(date +%s) - start_all )) s -> $OUT"

if [ "$DOCS" = 1 ] && [ "$QUICK" = 0 ]; then
  report "$OUT"
elif [ "$QUICK" = 1 ]; then
  python3 "$ROOT/loadtest/report.py" "$OUT" --doc "$WORK/benchmarks.md" --img "$WORK/img" && cat "$WORK/benchmarks.md"
fi
