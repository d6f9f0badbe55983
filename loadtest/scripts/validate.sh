#!/usr/bin/env bash
# Runs the validation matrix of loadtest/README.md against one server.
#   loadtest/scripts/validate.sh URL SERVER_PID [OUT.jsonl]
# e.g. loadtest/scripts/validate.sh ws://127.0.0.1:3700 PID   (a port outside ip_local_port_range)
# Start the server fresh before (RSS per connection compares against its RSS
# before the first run). Needs target/release/ringcast-load
# (cargo build --release -p ringcast-load).
set -euo pipefail
url=${1:?URL}
pid=${2:?server pid}
out=${3:-/dev/stdout}
bin=$(dirname "$0")/../../target/release/ringcast-load
run() {
  echo "+ ringcast-load $*" >&2
  "$bin" "$@" --url "$url" --server-pid "$pid" --json >>"$out"
}
run idle --connections 2000 --hold-seconds 30
run fanout --subscribers 1000 --rooms 1 --messages 2000 --payload 64
run fanout --subscribers 1000 --rooms 1 --messages 2000 --payload 64 --polling-fraction 0.2
run fanout --subscribers 1000 --rooms 10 --messages 20000 --payload 64 --rate 2000
run echo --clients 100 --requests 1000
run echo --clients 100 --requests 200 --polling-fraction 1
run connect --connections 2000 --concurrency 100
run connect --concurrency 50 --churn-seconds 5
