#!/usr/bin/env bash
# Broker benchmarks (issue 11): connects per second with token verification
# (HS256, RS256) vs the open broker, and HTTP-API publishes per second into a
# room of 1,000 subscribers vs the same fan-out driven by a socket's
# `broadcast` event. The broker binary (target/release/ringcast) is started
# fresh for every run, pinned like compare.sh's one-core mode: the broker on
# CPU 0 with --shards 1, ringcast-load on CPU 1.
#
#   loadtest/broker_bench.sh [-r REPS] [--no-build] [--quick] [--out FILE.jsonl]
#
# Every run's JSON line (tagged with the case, repetition and /proc/loadavg
# before the run) goes to loadtest/results/broker-<UTC date>.jsonl; at the end
# a markdown table of medians (min-max) is printed for docs/benchmarks.md.
# Tokens are minted here: HS256 with python's hmac, RS256 with openssl.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=loadtest/lib.sh
. loadtest/lib.sh

REPS=3
BUILD=1
QUICK=0
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    -r) REPS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --quick) QUICK=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "usage: $0 [-r REPS] [--no-build] [--quick] [--out FILE]" >&2; exit 2 ;;
  esac
done

CONNS=2000; SUBS=1000; MSGS=2000
if [ "$QUICK" = 1 ]; then CONNS=200; SUBS=100; MSGS=200; fi

if [ "$BUILD" = 1 ]; then
  cargo build --release -p ringcast --bin ringcast >&2
  cargo build --release -p ringcast-load >&2
fi
RC=target/release/ringcast
LOAD=target/release/ringcast-load

mkdir -p loadtest/results
[ -n "$OUT" ] || OUT=loadtest/results/broker-$(date -u +%F).jsonl
WORK=$(mktemp -d)
SERVER=""
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- keys, configs, tokens -------------------------------------------------
SECRET=bench-secret-0123456789abcdef0123456789abcdef
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/rs256.key" 2>/dev/null
openssl pkey -in "$WORK/rs256.key" -pubout -out "$WORK/rs256.pub"
cat > "$WORK/hs256.toml" <<EOF
[auth]
jwt_hs256_secret = "$SECRET"
EOF
cat > "$WORK/rs256.toml" <<EOF
[auth]
jwt_rs256_public_key_file = "rs256.pub"
EOF

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
EXP=$(( $(date +%s) + 86400 ))
CLAIMS=$(printf '{"sub":"bench","exp":%d}' "$EXP" | b64url)
HS_HEAD=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
RS_HEAD=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
HS_SIG=$(SECRET=$SECRET INPUT="$HS_HEAD.$CLAIMS" python3 -c '
import base64, hashlib, hmac, os
mac = hmac.new(os.environ["SECRET"].encode(), os.environ["INPUT"].encode(), hashlib.sha256).digest()
print(base64.urlsafe_b64encode(mac).rstrip(b"=").decode())')
RS_SIG=$(printf '%s' "$RS_HEAD.$CLAIMS" | openssl dgst -sha256 -sign "$WORK/rs256.key" -binary | b64url)
HS_TOKEN="$HS_HEAD.$CLAIMS.$HS_SIG"
RS_TOKEN="$RS_HEAD.$CLAIMS.$RS_SIG"
API_KEY=bench-api-key

# --- one run -----------------------------------------------------------------
# run CASE REP SERVER_ARGS -- LOAD_ARGS   (SERVER_ARGS may use @API_PORT@)
run() {
  local case=$1 rep=$2; shift 2
  local sargs=() largs=() seen=0 a
  for a in "$@"; do
    if [ "$a" = -- ]; then seen=1; continue; fi
    if [ $seen = 0 ]; then sargs+=("$a"); else largs+=("$a"); fi
  done
  local port api_port
  port=$(free_port); api_port=$(free_port)
  sargs=("${sargs[@]//@API_PORT@/$api_port}")
  largs=("${largs[@]//@API_PORT@/$api_port}")
  # The quotas are for clients; the generator's publisher sends 2000
  # broadcasts as fast as its window allows.
  RUST_LOG=warn taskset -c 0 "$RC" --host 127.0.0.1 --port "$port" --shards 1 \
    --client-events-per-second 0 "${sargs[@]}" >"$WORK/server.log" 2>&1 &
  SERVER=$!
  local i
  for i in $(seq 200); do
    ss -Htln "( sport = :$port )" | grep -q . \
      && { [[ "${sargs[*]}" != *api-listen* ]] || ss -Htln "( sport = :$api_port )" | grep -q .; } && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.05
  done
  local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
  local line
  line=$(taskset -c 1 "$LOAD" "${largs[@]}" --url "ws://127.0.0.1:$port" --server-pid "$SERVER" --json 2>/dev/null) || true
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
  [ -n "$line" ] || line='{"error":"no result"}'
  printf '%s\n' "$line" | CASE=$case REP=$rep LOAD="$load" SARGS="${sargs[*]}" LARGS="${largs[*]}" python3 -c '
import json, os, sys
d = json.loads(sys.stdin.read())
d["bench"] = {"case": os.environ["CASE"], "rep": int(os.environ["REP"]), "loadavg": os.environ["LOAD"],
              "server_args": os.environ["SARGS"], "load_args": os.environ["LARGS"]}
print(json.dumps(d))' >> "$OUT"
  echo "$case #$rep done (load $load)" >&2
}

CONNECT=(connect --connections "$CONNS" --concurrency 100)
FANOUT=(fanout --subscribers "$SUBS" --rooms 1 --messages "$MSGS" --payload 64)

{
  printf '{"meta":{"date":"%s","commit":"%s","host":"%s","cpus":%s,"reps":%s}}\n' \
    "$(date -u +%FT%TZ)" "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src crates loadtest || echo +wip)" \
    "$(uname -srm)" "$(nproc)" "$REPS"
} >> "$OUT"

for rep in $(seq "$REPS"); do
  run connect-open "$rep" -- "${CONNECT[@]}"
  run connect-hs256 "$rep" --config "$WORK/hs256.toml" -- "${CONNECT[@]}" --auth "{\"token\":\"$HS_TOKEN\"}"
  run connect-rs256 "$rep" --config "$WORK/rs256.toml" -- "${CONNECT[@]}" --auth "{\"token\":\"$RS_TOKEN\"}"
  run fanout-socket "$rep" -- "${FANOUT[@]}"
  run fanout-api "$rep" --api-listen "127.0.0.1:@API_PORT@" --api-key "$API_KEY" -- \
    "${FANOUT[@]}" --api "http://127.0.0.1:@API_PORT@" --api-key "$API_KEY" --api-inflight 4
  run fanout-api-64 "$rep" --api-listen "127.0.0.1:@API_PORT@" --api-key "$API_KEY" -- \
    "${FANOUT[@]}" --api "http://127.0.0.1:@API_PORT@" --api-key "$API_KEY" --api-inflight 64
done

python3 - "$OUT" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
meta = [r["meta"] for r in rows if "meta" in r][-1]
runs = [r for r in rows if "bench" in r and r["bench"]["rep"] <= meta["reps"]]
runs = runs[-6 * meta["reps"]:]
def cell(case, f, nd=0):
    v = [f(r) for r in runs if r["bench"]["case"] == case]
    v = [x for x in v if x is not None]
    if not v:
        return "–"
    m = statistics.median(v)
    return f"{m:,.{nd}f} ({min(v):,.{nd}f}–{max(v):,.{nd}f})" if len(v) > 1 else f"{m:,.{nd}f}"
ms = lambda k, p: (lambda r: r[k][p] / 1000 if r.get(k) else None)
print(f"commit {meta['commit']}, {meta['date']}, {meta['host']}, {meta['cpus']} CPUs, {meta['reps']} reps")
print()
print("| case | connections/s | connect p50 ms | connect p99 ms | server CPU µs / connection | failed |")
print("| --- | --- | --- | --- | --- | --- |")
for c in ["connect-open", "connect-hs256", "connect-rs256"]:
    print(f"| {c} | {cell(c, lambda r: r.get('connections_per_s'))} | {cell(c, ms('connect_us','p50'), 1)} | "
          f"{cell(c, ms('connect_us','p99'), 1)} | {cell(c, lambda r: r.get('server_cpu_us_per_delivered_msg'))} | "
          f"{cell(c, lambda r: r.get('connect_failed'))} |")
print()
print("| case | publishes/s | deliveries/s | latency p50 ms | p99 ms | server CPU ns / delivery | lost | out of order | api failed | api request p50 / p99 ms |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for c in ["fanout-socket", "fanout-api", "fanout-api-64"]:
    pub = (lambda r: r.get("api_accepted_per_s")) if c.startswith("fanout-api") else (lambda r: r.get("publish_rate_per_s"))
    print(f"| {c} | {cell(c, pub)} | {cell(c, lambda r: r.get('delivered_per_s'))} | "
          f"{cell(c, ms('latency_us','p50'), 1)} | {cell(c, ms('latency_us','p99'), 1)} | "
          f"{cell(c, lambda r: r['server_cpu_us_per_delivered_msg'] * 1000 if r.get('server_cpu_us_per_delivered_msg') else None)} | "
          f"{cell(c, lambda r: r.get('lost'))} | {cell(c, lambda r: r.get('out_of_order'))} | {cell(c, lambda r: r.get('api_failed'))} | "
          f"{cell(c, ms('api_request_us','p50'), 2)} / {cell(c, ms('api_request_us','p99'), 2)} |")
print()
print("load average (1/5/15 min) before each run:")
for r in runs:
    print(f"  {r['bench']['case']} #{r['bench']['rep']}: {r['bench']['loadavg']}")
EOF
echo "results: $OUT" >&2
