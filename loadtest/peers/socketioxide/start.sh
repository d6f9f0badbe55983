#!/usr/bin/env bash
# Build (release) and start the socketioxide peer of the conformance app.
#   ./start.sh [--port PORT] [--profile bench|suite] [--max-buffer-size N]
#   (or PORT=... PROFILE=... MAX_BUFFER_SIZE=... ./start.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# its own target dir (this project is not part of ringcast's workspace)
export CARGO_TARGET_DIR="$PWD/target"
cargo build --release --locked --quiet >&2
exec ./target/release/socketioxide-peer "$@"
