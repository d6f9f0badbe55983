#!/usr/bin/env bash
# Raw wire-protocol tests (Engine.IO v4 / Socket.IO v5) against a running server.
#
#   tests/protocol/run.sh http://127.0.0.1:3000 [extra pytest args...]
#
# The server must run the conformance app with PROFILE=suite timings
# (pingInterval 300, pingTimeout 200, connectTimeout 1000), e.g. the Node reference:
#   (cd loadtest/peers/node && npm ci && PORT=3000 PROFILE=suite node server.js)
# Uses (and creates if missing) the virtualenv shared by the python tests: tests/.venv
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tests_dir="$(dirname "$here")"
venv="$tests_dir/.venv"

url="${1:-${RINGCAST_URL:-}}"
if [ -z "$url" ]; then
  echo "usage: $0 URL [pytest args...]   (e.g. $0 http://127.0.0.1:3000)" >&2
  exit 2
fi
[ $# -gt 0 ] && shift

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# quiet and idempotent; only touches the network when a pinned package is missing
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$here/requirements.txt"

export RINGCAST_URL="$url"
cd "$here"
exec "$venv/bin/python" -m pytest "$here" "$@"
