#!/usr/bin/env bash
# Cross-node fan-out through Redis: 2 ringcast nodes vs 2 Node socket.io nodes (classic
# @socket.io/redis-adapter), driven by the same ringcast-load run.
#
#   [REDIS_SHARDED=1] tests/cluster/bench-fanout.sh [ringcast|node|both] [-- ringcast-load fanout args]
#
# Both nodes of a pair listen on ONE port, so one ringcast-load process (one --url) spreads its
# subscribers over the two nodes:
# - ringcast: two conformance processes (--shards 1 each; REDIS_SHARDED=1 in the environment selects
#   sharded mode) bind the port with SO_REUSEPORT; the kernel splits connections by 4-tuple hash;
# - Node: node-cluster.js, a node:cluster primary with 2 node-peer.js workers (round-robin).
# The publisher is on whichever node its connection lands on; about half of the subscribers are on
# the other node, so about half of all deliveries cross Redis. The split and the CPU time of every
# process (and of ringcast's bridge threads) are printed after each run.
#
# Needs: cargo build --release --example conformance -p ringcast && cargo build --release -p ringcast-load,
# redis-server, `npm ci` in tests/cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
which="${1:-both}"; shift || true
[ "${1:-}" = "--" ] && shift
ARGS=("$@")
[ ${#ARGS[@]} -eq 0 ] && ARGS=(--subscribers 1000 --rooms 1 --messages 2000 --payload 64)
LOAD=target/release/ringcast-load
RC=target/release/examples/conformance
RPORT=${RPORT:-46390}
PORT=${PORT:-46301}
OUT=${OUT:-target/bench-fanout}
mkdir -p "$OUT"
# REDIS_SHARDED=1: sharded pub/sub on both sides (ringcast reads REDIS_SHARDED, node-peer.js SHARDED)
[ "${REDIS_SHARDED:-}" = 1 ] && export SHARDED=1

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

cpu() { # utime+stime in seconds of pid $1 (all threads)
  awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat" 2>/dev/null || echo 0
}
threads() { # per-thread CPU of pid $1: name=seconds
  for t in /proc/"$1"/task/*; do
    awk -v hz="$(getconf CLK_TCK)" '{n=$2; gsub(/[()]/,"",n); printf "%s=%.2f ", n, ($14+$15)/hz}' "$t/stat" 2>/dev/null
  done
  echo
}
split() { # established connections to $PORT per server pid
  for p in "$@"; do
    printf "pid %s: %s conns  " "$p" "$(ss -Htnp state established "( sport = :$PORT )" 2>/dev/null | grep -c "pid=$p,")"
  done
  echo
}

start_redis() {
  redis-server --port "$RPORT" --save "" --appendonly no --bind 127.0.0.1 >"$OUT/redis.log" 2>&1 &
  REDIS_PID=$!; pids+=("$REDIS_PID")
  for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
}

wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return; sleep 0.05; done; echo "port $PORT not up"; exit 1; }

run_one() { # $1 = label; servers in $SERVERS (pids)
  local label=$1; shift
  local before=() p
  for p in $SERVERS $REDIS_PID; do before+=("$(cpu "$p")"); done
  rm -f "$OUT/$label.split"
  ( while sleep 0.2; do
      s=$(split $SERVERS); n=$(echo "$s" | grep -o '[0-9]* conns' | awk '{t+=$1} END {print t+0}')
      [ "$n" -gt "${best:-0}" ] && { best=$n; echo "$s" > "$OUT/$label.split"; }
    done ) &
  local sampler=$!
  "$LOAD" fanout --url "ws://127.0.0.1:$PORT" "${ARGS[@]}" --json > "$OUT/$label.json" 2> "$OUT/$label.txt" || true
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  echo "== $label: ${ARGS[*]}"
  cat "$OUT/$label.txt" | grep -v '^$' | tail -25
  echo "split (most connections seen): $(cat "$OUT/$label.split" 2>/dev/null)"
  local i=0
  for p in $SERVERS $REDIS_PID; do
    echo "cpu pid $p: $(awk -v a="$(cpu "$p")" -v b="${before[$i]}" 'BEGIN{printf "%.2f s", a-b}')"
    i=$((i+1))
  done
}

if [ "$which" = ringcast ] || [ "$which" = both ]; then
  start_redis
  RUST_LOG=warn "$RC" --port "$PORT" --shards 1 --redis-url "redis://127.0.0.1:$RPORT" --name a >"$OUT/rc-a.log" 2>&1 &
  A=$!; pids+=("$A")
  RUST_LOG=warn "$RC" --port "$PORT" --shards 1 --redis-url "redis://127.0.0.1:$RPORT" --name b >"$OUT/rc-b.log" 2>&1 &
  B=$!; pids+=("$B")
  wait_port; sleep 0.5
  SERVERS="$A $B"
  run_one ringcast
  echo "threads a: $(threads "$A")"
  echo "threads b: $(threads "$B")"
  redis-cli -p "$RPORT" info stats | grep -E "total_commands_processed|instantaneous_ops" || true
  kill "$A" "$B" "$REDIS_PID"; wait "$A" "$B" "$REDIS_PID" 2>/dev/null || true
  pids=()
fi

if [ "$which" = node ] || [ "$which" = both ]; then
  start_redis
  PORT=$PORT REDIS_URL="redis://127.0.0.1:$RPORT" WORKERS=2 node tests/cluster/node-cluster.js >"$OUT/node.log" 2>&1 &
  P=$!; pids+=("$P")
  wait_port; sleep 1
  W=$(pgrep -P "$P" | tr '\n' ' ')
  SERVERS="$W"
  run_one node
  kill "$P" "$REDIS_PID"; wait "$P" "$REDIS_PID" 2>/dev/null || true
  pids=()
fi
