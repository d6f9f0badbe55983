#!/usr/bin/env bash
# The one test command of ringcast:
#
#   ./scripts/test.sh [extra cargo test args...]
#
# 1. installs what is missing (on a Debian machine with Rust, Node 20 and Python 3 only):
#    curl, chromium, redis-server, prometheus, nginx-light and haproxy (apt-get), npm ci in tests/js, tests/cluster and loadtest/peers/node,
#    the python virtualenv tests/.venv (tests/python and tests/protocol requirements);
# 2. runs `cargo test --workspace --all-targets`: unit, property and integration tests,
#    plus tests/e2e.rs, which starts the conformance example (--shards 1 and 2) and runs
#    tests/run-clients.sh (node, python, browser clients) and tests/protocol/run.sh against it.
#
# RINGCAST_E2E=0 skips the end-to-end suites (quick run). Exit status non-zero on any failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf '\n=== %s\n' "$*"; }
start=$SECONDS

# --- system packages (apt) ---------------------------------------------------------------------
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  fi
fi
apt_updated=""
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing $*, and no apt-get to install it with; install it by hand" >&2
    exit 2
  fi
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    $SUDO apt-get -o DPkg::Lock::Timeout=300 update -q
    apt_updated=1
  fi
  log "apt-get install $*"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q "$@"
}

apt_wanted=()
command -v curl >/dev/null 2>&1 || apt_wanted+=(curl ca-certificates)
[ -x /usr/bin/chromium ] || apt_wanted+=(chromium)
command -v redis-server >/dev/null 2>&1 || apt_wanted+=(redis-server)
# promtool and prometheus for tests/broker_api.rs (metrics format, a real scrape).
command -v promtool >/dev/null 2>&1 || apt_wanted+=(prometheus)
# nginx and haproxy for tests/cluster/balancers.rs (the README's round-robin configs, run).
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || apt_wanted+=(nginx-light)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || apt_wanted+=(haproxy)
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1 && [ ! -x tests/.venv/bin/python ]; then
  apt_wanted+=(python3-venv)
fi
if [ ${#apt_wanted[@]} -gt 0 ]; then
  apt_install "${apt_wanted[@]}"
fi

# --- node modules -------------------------------------------------------------------------------
# npm ci only when node_modules is missing or older than package-lock.json (npm ci wipes and
# reinstalls node_modules; npm writes node_modules/.package-lock.json on every install).
npm_ci() {
  local dir="$1"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
    [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "npm ci ($dir)"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}
npm_ci tests/js
npm_ci tests/cluster
npm_ci loadtest/peers/node

# --- python virtualenv (tests/.venv, shared by tests/python and tests/protocol) ------------------
venv=tests/.venv
py_req=tests/python/requirements.txt
proto_req=tests/protocol/requirements.txt
want="$(cat "$py_req" "$proto_req" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements-all.sha256" 2>/dev/null)" != "$want" ]; then
  log "python venv ($venv)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # Two installs, in this order: the two files may pin different versions of a shared package
  # (pytest), and tests/protocol/run.sh re-applies its own pins before every run anyway.
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$py_req"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$proto_req"
  # The stamp tests/run-clients.sh checks before reinstalling tests/python's requirements.
  sha256sum "$py_req" | cut -d' ' -f1 >"$venv/.requirements.sha256"
  echo "$want" >"$venv/.requirements-all.sha256"
fi

# --- cargo test ---------------------------------------------------------------------------------
: "${RINGCAST_E2E:=1}"
export RINGCAST_E2E
log "cargo test --workspace --all-targets $*  (RINGCAST_E2E=$RINGCAST_E2E)"
# The end-to-end tests serialize themselves (tests/e2e.rs); test binaries run one after another.
cargo test --workspace --all-targets "$@"

log "all tests passed ($((SECONDS - start))s)"
