#!/usr/bin/env bash
# Soak (issue 5, item 6): churn + echo + fan-out at the same time against one ringcast server for
# SECONDS (default 600), sampling the server's RSS, CPU, open fds, threads and established TCP
# connections every SAMPLE_S seconds into a CSV, then checking that the server is still alive,
# that fresh clients (WebSocket and polling) still get an echo ack, and that its RSS came back
# within a bound of where it started. Finally plots the samples (loadtest/soak_plot.py, SVG).
#
#   loadtest/soak.sh [SECONDS]
#
# Server: target/release/examples/conformance --port P (default shards), started fresh on a free
# port. Load: target/release/ringcast-load, three loops running side by side until the deadline:
#   churn   connect --concurrency 20 --churn-seconds min(30, left) --polling-fraction 0.2
#           (20 loops of connect -> CONNECT ack -> disconnect, runs of up to 30 s)
#   echo    echo --clients 20 --requests 500 --payload 64 --polling-fraction 0.2
#           (connect 20 clients, 500 sequential echo acks each, disconnect; again)
#   fanout  fanout --subscribers 1000 --rooms 10 --messages 20000 --payload 64 --rate 2000
#           --polling-fraction 0.2   (join, 2,000,000 deliveries in ~10 s, disconnect; again)
# Every run's --json line, tagged with its loop, iteration and start/end time, goes to the
# runs file; a run that does not end with end_reason "complete" and 0 lost / duplicated /
# out of order / misrouted / corrupt / connect failures / drops / errors counts as an error.
#
# After the deadline the loops finish their current run, the server idles SETTLE_S seconds
# (ringcast returns freed heap to the OS every 10 s), then the checks run:
#   alive     the server process still exists
#   echo_ws   ringcast-load echo --clients 1 --requests 1 (WebSocket) acked within 2 s
#   echo_poll the same over HTTP long-polling
#   rss       RSS at the end < RSS_FACTOR x RSS at the start + RSS_SLACK_MIB MiB
#             (start: fresh server, before any client; end: after the settle time)
#
# Output (STAMP = UTC start time):
#   loadtest/results/soak-STAMP.csv           samples: t_s,utc,phase,rss_kb,cpu_s,cpu_pct,fds,threads,tcp_estab,load1
#   loadtest/results/soak-STAMP-runs.jsonl    one line per load run
#   loadtest/results/soak-STAMP-summary.json  meta, totals per loop, RSS start/peak/end, checks
#   docs/img/soak-rss.svg                     RSS / CPU / fds over time (PLOT=path to change, PLOT= to skip)
# Exit status 0 only if every check passed and no run had an error.
#
# env: NO_BUILD=1 (use the binaries already built), SAMPLE_S=5, SETTLE_S=20, RSS_FACTOR=2,
#      RSS_SLACK_MIB=50, OUT_DIR=loadtest/results, PORT (default: a free one), PLOT
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

case "${1:-}" in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
DURATION=${1:-600}
[[ "$DURATION" =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 10 ] || { echo "soak.sh: SECONDS must be an integer >= 10" >&2; exit 2; }
SAMPLE_S=${SAMPLE_S:-5}
SETTLE_S=${SETTLE_S:-20}
RSS_FACTOR=${RSS_FACTOR:-2}
RSS_SLACK_MIB=${RSS_SLACK_MIB:-50}
OUT_DIR=${OUT_DIR:-$ROOT/loadtest/results}
PLOT=${PLOT-$ROOT/docs/img/soak-rss.svg}
BIN=$ROOT/target/release
LOAD=$BIN/ringcast-load

CHURN_ARGS=(connect --concurrency 20 --polling-fraction 0.2)
ECHO_ARGS=(echo --clients 20 --requests 500 --payload 64 --polling-fraction 0.2)
FANOUT_ARGS=(fanout --subscribers 1000 --rooms 10 --messages 20000 --payload 64 --rate 2000 --polling-fraction 0.2)

log() { printf '%s soak: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if [ -z "${NO_BUILD:-}" ]; then
  log "building"
  cargo build --release --example conformance -p ringcast
  cargo build --release -p ringcast-load
fi
for b in "$BIN/examples/conformance" "$LOAD"; do [ -x "$b" ] || { echo "soak.sh: $b missing (build first)" >&2; exit 2; }; done

mkdir -p "$OUT_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
CSV=$OUT_DIR/soak-$STAMP.csv
RUNS=$OUT_DIR/soak-$STAMP-runs.jsonl
SUMMARY=$OUT_DIR/soak-$STAMP-summary.json
WORK=$(mktemp -d /tmp/soak.XXXXXX)
SLOG=$WORK/server.log

# shellcheck source=loadtest/lib.sh
. "$ROOT/loadtest/lib.sh"
PORT=${PORT:-$(free_port)}
# what the binaries were built from, as far as the tree tells at the start of the run
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo true || echo false)
BIN_MTIME=$(date -u -r "$BIN/examples/conformance" +%Y-%m-%dT%H:%M:%SZ)
URL=ws://127.0.0.1:$PORT

SPID=""; SAMPLER=""; LOOPS=()
cleanup() {
  local p
  for p in "${LOOPS[@]}" $SAMPLER; do kill "$p" 2>/dev/null || true; done
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then kill -KILL "$SPID" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# server
"$BIN/examples/conformance" --port "$PORT" >"$SLOG" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do
  kill -0 "$SPID" 2>/dev/null || { cat "$SLOG" >&2; echo "soak.sh: server exited" >&2; exit 1; }
  ss -Htln "( sport = :$PORT )" | grep -q . && break
  sleep 0.1
done
sleep 2 # let it settle before the baseline sample
log "server pid $SPID on port $PORT; $DURATION s of load, samples every $SAMPLE_S s -> $CSV"

CLK_TCK=$(getconf CLK_TCK)
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SPID/status" 2>/dev/null || true; }
cpu_ticks() { # utime + stime of all threads; the fields after the ")" of comm
  local s; s=$(cat "/proc/$SPID/stat" 2>/dev/null) || { echo ""; return; }
  s=${s##*) }; set -- $s; echo $(( ${12} + ${13} ))
}

PHASE_FILE=$WORK/phase
echo load >"$PHASE_FILE"
T0=$EPOCHREALTIME
DEADLINE=$(( ${T0%.*} + DURATION ))
echo "t_s,utc,phase,rss_kb,cpu_s,cpu_pct,fds,threads,tcp_estab,load1" >"$CSV"

sample() { # prev_ticks prev_time -> prints the line, sets LAST_TICKS / LAST_T
  local now ticks rss fds thr est l1 pct
  now=$EPOCHREALTIME
  ticks=$(cpu_ticks); rss=$(rss_kb)
  fds=$( (ls "/proc/$SPID/fd" 2>/dev/null || true) | wc -l)
  thr=$(awk '/^Threads:/ {print $2}' "/proc/$SPID/status" 2>/dev/null || true)
  est=$( (ss -Htn state established "( sport = :$PORT )" 2>/dev/null || true) | wc -l)
  read -r l1 _ </proc/loadavg
  if [ -n "$ticks" ] && [ -n "${1:-}" ]; then
    pct=$(awk -v a="$1" -v b="$ticks" -v t0="$2" -v t1="$now" -v hz="$CLK_TCK" 'BEGIN{printf "%.1f", (b-a)/hz/(t1-t0)*100}')
  else pct=""; fi
  printf '%.1f,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' \
    "$(awk -v a="$T0" -v b="$now" 'BEGIN{print b-a}')" "$(date -u +%H:%M:%S)" "$(cat "$PHASE_FILE")" \
    "$rss" "$( [ -n "$ticks" ] && awk -v t="$ticks" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f", t/hz}')" "$pct" \
    "$fds" "$thr" "$est" "$l1" >>"$CSV"
  LAST_TICKS=$ticks; LAST_T=$now
}

sampler() {
  local k=0 next
  LAST_TICKS=""; LAST_T=""
  while :; do
    sample "$LAST_TICKS" "$LAST_T"
    k=$((k + 1))
    # sleep until T0 + k * SAMPLE_S (no drift)
    next=$(awk -v t0="$T0" -v k="$k" -v s="$SAMPLE_S" -v now="$EPOCHREALTIME" 'BEGIN{d=t0+k*s-now; if (d<0) d=0; printf "%.3f", d}')
    sleep "$next"
  done
}
START_RSS_KB=$(rss_kb)
sampler &
SAMPLER=$!

# ---------------------------------------------------------------------------------------------
# load loops
left() { echo $(( DEADLINE - ${EPOCHREALTIME%.*} )); }

run_loop() { # name min_left_s args... ; "@LEFT30" in args -> min(30, seconds left)
  local name=$1 min=$2; shift 2
  local i=0 l t_start t_end rc line args a
  local out=$WORK/runs-$name.jsonl
  : >"$out"
  while :; do
    l=$(left)
    [ "$l" -ge "$min" ] || break
    i=$((i + 1))
    args=()
    for a in "$@"; do
      if [ "$a" = "@LEFT30" ]; then args+=("$(( l < 30 ? l : 30 ))"); else args+=("$a"); fi
    done
    t_start=$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
    rc=0
    line=$(timeout 300 "$LOAD" "${args[@]}" --url "$URL" --json 2>>"$WORK/$name.stderr") || rc=$?
    t_end=$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
    line=$(printf '%s\n' "$line" | grep '^{' | tail -n 1 || true)
    if [ -n "$line" ] && printf '%s' "$line" | jq -e . >/dev/null 2>&1; then
      printf '%s' "$line" | jq -c --arg loop "$name" --argjson iter "$i" --argjson t0 "$t_start" \
        --argjson t1 "$t_end" --argjson rc "$rc" \
        '{loop: $loop, iter: $iter, t_start_s: $t0, t_end_s: $t1, rc: $rc} + .' >>"$out"
    else
      jq -cn --arg loop "$name" --argjson iter "$i" --argjson t0 "$t_start" --argjson t1 "$t_end" \
        --argjson rc "$rc" '{loop: $loop, iter: $iter, t_start_s: $t0, t_end_s: $t1, rc: $rc, no_result: true}' >>"$out"
      log "$name run $i: no JSON result (rc $rc)"
    fi
  done
}

run_loop churn 2 "${CHURN_ARGS[@]}" --churn-seconds @LEFT30 &
LOOPS+=($!)
run_loop echo 3 "${ECHO_ARGS[@]}" &
LOOPS+=($!)
run_loop fanout 15 "${FANOUT_ARGS[@]}" &
LOOPS+=($!)

while [ "$(left)" -gt 0 ]; do
  l=$(left); sleep $(( l < 30 ? l : 30 ))
  [ "$(left)" -gt 0 ] || break
  kill -0 "$SPID" 2>/dev/null || { log "server died"; break; }
  log "$(left) s left; $(tail -n 1 "$CSV" | awk -F, '{printf "RSS %.1f MiB, CPU %s %%, fds %s, tcp %s", $4/1024, $6, $7, $9}')"
done
for p in "${LOOPS[@]}"; do wait "$p" || true; done
LOOPS=()
T_LOAD_END=$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
LOAD_END_RSS_KB=$(rss_kb)
log "load done at t=$T_LOAD_END s (RSS $(( ${LOAD_END_RSS_KB:-0} / 1024 )) MiB); settling $SETTLE_S s"
echo settle >"$PHASE_FILE"
sleep "$SETTLE_S"

# ---------------------------------------------------------------------------------------------
# checks
echo check >"$PHASE_FILE"
ALIVE=false; kill -0 "$SPID" 2>/dev/null && ALIVE=true
fresh_echo() { # polling_fraction -> JSON {ok, ms, result}
  local t_a t_b line ok
  t_a=$EPOCHREALTIME
  line=$(timeout 5 "$LOAD" echo --clients 1 --requests 1 --polling-fraction "$1" --url "$URL" --json 2>/dev/null | grep '^{' | tail -n 1) || true
  t_b=$EPOCHREALTIME
  [ -n "$line" ] || line=null
  ok=$(printf '%s' "$line" | jq 'if . == null then false else (.delivered == 1 and .corrupt == 0 and .connect_failed == 0
        and .end_reason == "complete" and (.errors | length) == 0
        and (.connect_us.max + .latency_us.max) < 2000000) end' 2>/dev/null || echo false)
  jq -cn --argjson ok "$ok" --argjson r "$line" --arg ms "$(awk -v a="$t_a" -v b="$t_b" 'BEGIN{printf "%.1f", (b-a)*1000}')" \
    '{ok: $ok, process_ms: ($ms|tonumber),
      connect_ms: (if $r then $r.connect_us.max/1000 else null end),
      ack_ms: (if $r then $r.latency_us.max/1000 else null end)}'
}
ECHO_WS=$(fresh_echo 0)
ECHO_POLL=$(fresh_echo 1)
sleep 1
END_RSS_KB=$(rss_kb)
kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=""
# one last sample, after the checks
LAST_TICKS=""; LAST_T=""; sample "" ""
T_END=$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')

kill -TERM "$SPID" 2>/dev/null || true
for _ in $(seq 1 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$SPID" 2>/dev/null || true
wait "$SPID" 2>/dev/null || true
SPID=""

cat "$WORK"/runs-churn.jsonl "$WORK"/runs-echo.jsonl "$WORK"/runs-fanout.jsonl >"$RUNS"

# ---------------------------------------------------------------------------------------------
# summary
jq -s --slurpfile csv <(awk -F, 'NR > 1 {printf "{\"t\":%s,\"phase\":\"%s\",\"rss_kb\":%s}\n", $1, $3, ($4 == "" ? "null" : $4)}' "$CSV") \
  --arg cmd "loadtest/soak.sh $DURATION" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg stamp "$STAMP" \
  --arg commit "$COMMIT" --argjson dirty "$DIRTY" --arg bin_mtime "$BIN_MTIME" --arg kernel "$(uname -r)" \
  --arg cpu "$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)" --arg nproc "$(nproc)" \
  --arg mem "$(free -g | awk '/^Mem:/ {print $2 " GiB"}')" \
  --arg server "target/release/examples/conformance --port $PORT" \
  --arg churn "${CHURN_ARGS[*]} --churn-seconds min(30, left)" --arg echo "${ECHO_ARGS[*]}" --arg fanout "${FANOUT_ARGS[*]}" \
  --argjson duration "$DURATION" --argjson sample_s "$SAMPLE_S" --argjson settle_s "$SETTLE_S" \
  --argjson t_load_end "$T_LOAD_END" --argjson t_end "$T_END" \
  --argjson start "${START_RSS_KB:-null}" --argjson load_end "${LOAD_END_RSS_KB:-null}" --argjson end_kb "${END_RSS_KB:-null}" \
  --argjson factor "$RSS_FACTOR" --argjson slack "$RSS_SLACK_MIB" \
  --argjson alive "$ALIVE" --argjson echo_ws "$ECHO_WS" --argjson echo_poll "$ECHO_POLL" '
  def clean: (.end_reason == "complete") and (.rc == 0) and ((.no_result // false) | not)
             and ([.lost, .duplicated, .out_of_order, .misrouted, .corrupt, .connect_failed, .dropped]
                  | map(. // 0) | add) == 0 and ((.errors // {}) | length) == 0;
  def total(f): map(f // 0) | add // 0;
  def loop(name): [.[] | select(.loop == name)] as $r | {
      runs: ($r | length), runs_with_errors: ($r | map(select(clean | not)) | length),
      delivered: ($r | total(.delivered)), expected: ($r | total(.expected)),
      connections: ($r | total(.connected)), published: ($r | total(.published)),
      lost: ($r | total(.lost)), duplicated: ($r | total(.duplicated)), out_of_order: ($r | total(.out_of_order)),
      misrouted: ($r | total(.misrouted)), corrupt: ($r | total(.corrupt)),
      connect_failed: ($r | total(.connect_failed)), dropped: ($r | total(.dropped)),
      errors: ($r | map(.errors // {} | to_entries[]) | group_by(.key) | map({key: .[0].key, value: (map(.value) | add)}) | from_entries),
      run_s: ($r | total(.run_s)),
      latency_p99_us_max: ($r | map(.latency_us.p99 // 0) | max) };
  ($csv | map(.rss_kb) | map(select(. != null)) | max) as $peak
  | ($csv | map(select(.rss_kb == $peak)) | .[0].t) as $peak_t
  | (($start // 0) * $factor + $slack * 1024) as $bound
  | {meta: {date: $date, stamp: $stamp, command: $cmd, commit: $commit, dirty_tree: $dirty, server_built: $bin_mtime, kernel: $kernel,
            cpu: $cpu, nproc: ($nproc | tonumber), memory: $mem, server: $server,
            load: {churn: $churn, echo: $echo, fanout: $fanout},
            duration_s: $duration, sample_s: $sample_s, settle_s: $settle_s, load_end_s: $t_load_end, end_s: $t_end},
     rss_kb: {start: $start, peak: $peak, peak_t_s: $peak_t, load_end: $load_end, end: $end_kb, bound: $bound},
     churn: (loop("churn") + {cycles: loop("churn").delivered}),
     echo: (loop("echo") + {acks: loop("echo").delivered}),
     fanout: (loop("fanout") + {deliveries: loop("fanout").delivered}),
     checks: {alive: $alive, echo_ws: $echo_ws, echo_polling: $echo_poll,
              rss_within_bound: ($end_kb != null and $start != null and $end_kb < $bound),
              runs_clean: ([.[] | select(clean | not)] | length == 0)}}
  | .checks.all_ok = (.checks.alive and .checks.echo_ws.ok and .checks.echo_polling.ok
                      and .checks.rss_within_bound and .checks.runs_clean)
  ' "$RUNS" >"$SUMMARY"

if [ -n "$PLOT" ]; then
  mkdir -p "$(dirname "$PLOT")"
  python3 "$ROOT/loadtest/soak_plot.py" "$CSV" --summary "$SUMMARY" --svg "$PLOT"
fi

jq -r '
  "soak \(.meta.duration_s) s, commit \(.meta.commit)\(if .meta.dirty_tree then "+dirty" else "" end), \(.meta.nproc) x \(.meta.cpu)",
  "  RSS start \(.rss_kb.start/1024*10|round/10) MiB, peak \(.rss_kb.peak/1024*10|round/10) MiB (t=\(.rss_kb.peak_t_s) s), end of load \(.rss_kb.load_end/1024*10|round/10) MiB, end \(.rss_kb.end/1024*10|round/10) MiB (bound \(.rss_kb.bound/1024*10|round/10) MiB)",
  "  churn : \(.churn.runs) runs, \(.churn.cycles) cycles, \(.churn.runs_with_errors) runs with errors",
  "  echo  : \(.echo.runs) runs, \(.echo.acks) acks over \(.echo.connections) connections, \(.echo.runs_with_errors) runs with errors",
  "  fanout: \(.fanout.runs) runs, \(.fanout.deliveries) of \(.fanout.expected) deliveries (\(.fanout.published) published), \(.fanout.runs_with_errors) runs with errors",
  "  lost \([.churn, .echo, .fanout] | map(.lost) | add), dup \([.churn, .echo, .fanout] | map(.duplicated) | add), ooo \([.churn, .echo, .fanout] | map(.out_of_order) | add), corrupt \([.churn, .echo, .fanout] | map(.corrupt) | add), connect_failed \([.churn, .echo, .fanout] | map(.connect_failed) | add), dropped \([.churn, .echo, .fanout] | map(.dropped) | add), errors \([.churn, .echo, .fanout] | map(.errors) | add)",
  "  checks: alive \(.checks.alive), echo ws \(.checks.echo_ws.ok) (\(.checks.echo_ws.process_ms) ms), echo polling \(.checks.echo_polling.ok) (\(.checks.echo_polling.process_ms) ms), rss within bound \(.checks.rss_within_bound), runs clean \(.checks.runs_clean) -> \(if .checks.all_ok then "PASS" else "FAIL" end)"
' "$SUMMARY" >&2
log "csv $CSV; runs $RUNS; summary $SUMMARY${PLOT:+; plot $PLOT}"
if [ -s "$SLOG" ]; then log "server log (last lines):"; tail -n 20 "$SLOG" >&2; fi
rm -rf "$WORK"
jq -e '.checks.all_ok' "$SUMMARY" >/dev/null
