#!/usr/bin/env bash
# Polling echo over 2 ringcast nodes (one redis-server) through a round-robin TCP proxy (no
# affinity) vs the same proxy with affinity (issue 14, item 5). See tests/cluster/bench-nosticky.js.
#
#   [KIND=fanout] tests/cluster/bench-nosticky.sh [CLIENTS] [ECHOES|MESSAGES] [REPEAT]
#
# Needs: cargo build --release --example conformance -p ringcast, redis-server, `npm ci` in
# tests/cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLIENTS=${1:-50}; ECHOES=${2:-200}; REPEAT=${3:-2}
RC=target/release/examples/conformance
OUT=${OUT:-target/bench-nosticky}
mkdir -p "$OUT"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(free_port); PA=$(free_port); PB=$(free_port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
redis-server --port "$RPORT" --save "" --appendonly no --bind 127.0.0.1 >"$OUT/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
nodes=()
for p in "$PA" "$PB"; do
  "$RC" --port "$p" --shards 1 --no-pin --redis-url "redis://127.0.0.1:$RPORT" \
    --cluster-advertise "127.0.0.1:$p" --name "n$p" >"$OUT/node-$p.log" 2>&1 &
  pids+=($!); nodes+=($!)
done
cpu() { # utime+stime (s) of both nodes, all threads
  local t=0; for n in "${nodes[@]}"; do
    t=$(awk -v hz="$(getconf CLK_TCK)" -v t="$t" '{print t + ($14+$15)/hz}' "/proc/$n/stat"); done; echo "$t"
}
for p in "$PA" "$PB"; do
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.05; done
done
for r in $(seq "$REPEAT"); do
  for mode in affinity rr; do
    before=$(cpu)
    NODES="http://127.0.0.1:$PA,http://127.0.0.1:$PB" MODE=$mode CLIENTS=$CLIENTS ECHOES=$ECHOES \
      node tests/cluster/bench-nosticky.js
    echo "  ringcast CPU (both nodes): $(awk -v a="$before" -v b="$(cpu)" 'BEGIN{printf "%.2f", b-a}') s"
  done
done
