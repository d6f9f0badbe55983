#!/usr/bin/env bash
# Start the Node reference conformance server.
#   ./start.sh [--port PORT] [--profile suite|bench]     (or PORT=... PROFILE=... ./start.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund >&2
fi
exec node server.js "$@"
