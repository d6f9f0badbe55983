#!/usr/bin/env bash
# Runs the end-to-end client suites against an already-running conformance server.
#
#   tests/run-clients.sh http://127.0.0.1:3000
#
# Suites (all by default; pick some with RINGCAST_SUITES="js-websocket js-polling js-default python browser"):
#   js-websocket, js-polling, js-default  node --test tests/js/test/*.test.js with RINGCAST_TRANSPORTS=<mode>
#   python                                pytest tests/python (websocket and polling)
#   browser                               tests/browser/run.js (headless Chromium, polling-only and websocket-only)
# Installs what is missing first: tests/js/node_modules (npm ci), tests/.venv (pip install -r),
# /usr/bin/chromium (apt-get install chromium). RINGCAST_MANY sets the size of the many-clients test.
# Exit code: non-zero if any suite failed.
set -uo pipefail

URL="${1:-${RINGCAST_URL:-}}"
if [ -z "$URL" ]; then
  echo "usage: $0 URL   (e.g. http://127.0.0.1:3000)" >&2
  exit 2
fi
URL="${URL%/}"
export RINGCAST_URL="$URL"

TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SUITES="${RINGCAST_SUITES:-js-websocket js-polling js-default python browser}"

want() { case " $SUITES " in *" $1 "*) return 0 ;; esac; return 1; }
log() { printf '\n=== %s\n' "$*"; }

# --- wait for the server ---------------------------------------------------------------------
ready=""
for _ in $(seq 1 50); do
  if curl -fsS -o /dev/null --max-time 2 "$URL/socket.io/?EIO=4&transport=polling"; then
    ready=1
    break
  fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "server not reachable: GET $URL/socket.io/?EIO=4&transport=polling failed for 10 s" >&2
  exit 2
fi

# --- install what is missing -----------------------------------------------------------------
if want js-websocket || want js-polling || want js-default || want browser; then
  if [ ! -d "$TESTS_DIR/js/node_modules" ]; then
    log "npm ci (tests/js)"
    (cd "$TESTS_DIR/js" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund) || exit 2
  fi
fi

if want python; then
  VENV="$TESTS_DIR/.venv"
  REQ="$TESTS_DIR/python/requirements.txt"
  stamp="$VENV/.requirements.sha256"
  want_sha="$(sha256sum "$REQ" | cut -d' ' -f1)"
  if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want_sha" ]; then
    log "python venv (tests/.venv)"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || python3 -m venv --clear "$VENV" || exit 2
    "$VENV/bin/python" -m pip --version > /dev/null 2>&1 || "$VENV/bin/python" -m ensurepip --upgrade || exit 2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" || exit 2
    echo "$want_sha" > "$stamp"
  fi
fi

if want browser; then
  CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
  export CHROMIUM
  if [ ! -x "$CHROMIUM" ]; then
    log "apt-get install chromium"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium || exit 2
  fi
fi

# --- run -------------------------------------------------------------------------------------
declare -a RESULTS=()
failed=0

run_suite() {
  local name="$1"
  shift
  log "$name  ($URL)"
  local start=$SECONDS
  "$@"
  local rc=$?
  local dur=$((SECONDS - start))
  if [ $rc -eq 0 ]; then
    RESULTS+=("PASS  $name (${dur}s)")
  else
    RESULTS+=("FAIL  $name (${dur}s, exit $rc)")
    failed=1
  fi
}

run_js() {
  (cd "$TESTS_DIR/js" && RINGCAST_TRANSPORTS="$1" node --test --test-concurrency=1 --test-timeout=60000 test/*.test.js)
}

for mode in websocket polling default; do
  if want "js-$mode"; then
    run_suite "js-$mode" run_js "$mode"
  fi
done

if want python; then
  run_suite python "$TESTS_DIR/.venv/bin/python" -m pytest -q -p no:cacheprovider "$TESTS_DIR/python"
fi

if want browser; then
  run_suite browser node "$TESTS_DIR/browser/run.js"
fi

log "summary ($URL)"
for r in "${RESULTS[@]}"; do echo "$r"; done
exit $failed
