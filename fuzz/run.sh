#!/usr/bin/env bash
# Runs every cargo-fuzz target of ringcast for SECONDS each (default 60).
#
#   ./fuzz/run.sh [SECONDS]
#
# Installs cargo-fuzz when missing (`cargo install cargo-fuzz --locked`).
# Works on the stable toolchain: cargo-fuzz needs nightly-only flags
# (-Zsanitizer=address, sanitizer coverage), which RUSTC_BOOTSTRAP=1
# unlocks. Each target starts from its committed seed corpus
# (fuzz/corpus/<target>/, read only) plus a scratch corpus in
# fuzz/work/<target>/ (git-ignored, kept between local runs), where new
# inputs go. A crash, panic, leak or timeout leaves its input in
# fuzz/artifacts/<target>/; the script then exits non-zero after running
# the remaining targets. Reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
# (run from fuzz/), minimize it with `cargo fuzz tmin <target> <file>`.
set -euo pipefail

secs="${1:-60}"
case "$secs" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
cd "$(dirname "${BASH_SOURCE[0]}")"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "=== cargo install cargo-fuzz --locked"
  cargo install cargo-fuzz --locked
fi

start=$SECONDS
echo "=== cargo fuzz build (all targets)"
cargo fuzz build
echo "=== built in $((SECONDS - start))s"

failed=()
for target in $(cargo fuzz list); do
  mkdir -p "work/$target"
  if [ ! -d "corpus/$target" ]; then
    echo "=== $target: FAILED, no seed corpus in fuzz/corpus/$target/ (commit a few valid inputs)" >&2
    failed+=("$target")
    continue
  fi
  echo "=== fuzz $target for ${secs}s"
  t0=$SECONDS
  # The first corpus directory receives new inputs, so the committed seeds
  # stay untouched. -timeout: one input taking over 10 s is a finding.
  # The log drops libFuzzer's per-input progress and dictionary lines.
  if cargo fuzz run "$target" "work/$target" "corpus/$target" -- \
    -max_total_time="$secs" -timeout=10 -print_final_stats=1 2>&1 |
    { grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)|# Uses: [0-9]+$|[Rr]ecommended dictionary' || true; }; then
    echo "=== $target: ok ($((SECONDS - t0))s)"
  else
    echo "=== $target: FAILED, input in fuzz/artifacts/$target/" >&2
    failed+=("$target")
  fi
done

echo "=== fuzzing took $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "=== failed targets: ${failed[*]}" >&2
  exit 1
fi
