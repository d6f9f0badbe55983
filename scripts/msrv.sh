#!/usr/bin/env bash
# MSRV check: is `rust-version` (workspace Cargo.toml) really the oldest toolchain that builds the
# workspace? Needs only the current toolchain (cargo, clippy, python3); run by .ci/run.
#
#   ./scripts/msrv.sh
#
# 1. Dependencies: the highest `rust-version` declared by any package of the lockfile's resolve
#    for this platform (normal, build and dev dependencies: the tests and benchmarks are built
#    too) must not exceed ours; otherwise a build with our declared toolchain fails in them.
# 2. Our code: clippy's `incompatible_msrv` lint over every workspace target, which flags a call
#    to a standard-library item stabilized after our `rust-version` (every workspace package
#    inherits it, so clippy knows it).
#
# Limits (docs/decisions.md, "MSRV"): a dependency that declares no rust-version is not checked,
# and neither are language features (syntax) or compiler behaviour newer than ours; only a build
# with that toolchain proves those. The fuzz crate (not a workspace member, nightly) is out.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ours="$(sed -n '/^\[workspace.package\]/,/^\[/s/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml)"
if [ -z "$ours" ]; then
  echo "msrv: no rust-version in [workspace.package] of Cargo.toml" >&2
  exit 1
fi

# Every workspace package must inherit it (clippy reads each package's own rust-version).
cargo metadata --format-version 1 --no-deps --locked | python3 -c '
import json, sys, tomllib
missing = []
for p in json.load(sys.stdin)["packages"]:
    with open(p["manifest_path"], "rb") as f:
        if "rust-version" not in tomllib.load(f).get("package", {}):
            missing.append(p["manifest_path"])
if missing:
    sys.exit("msrv: these packages do not set rust-version (add rust-version.workspace = true):\n  "
             + "\n  ".join(missing))
'

host="$(rustc -vV | sed -n 's/^host: //p')"
cargo metadata --format-version 1 --locked --filter-platform "$host" | python3 -c '
import json, sys

ours = sys.argv[1]
def key(v):
    return tuple(int(x) for x in (v.split(".") + ["0", "0"])[:3])

m = json.load(sys.stdin)
ws = set(m["workspace_members"])
resolved = {n["id"] for n in m["resolve"]["nodes"]}
deps = [p for p in m["packages"] if p["id"] in resolved and p["id"] not in ws]
declared = sorted((key(p["rust_version"]), p["name"], p["version"], p["rust_version"])
                  for p in deps if p.get("rust_version"))
undeclared = sorted(p["name"] for p in deps if not p.get("rust_version"))
if not declared:
    sys.exit("msrv: no dependency declares a rust-version (cargo metadata changed?)")
top = declared[-1][0]
need = [d for d in declared if d[0] == top]
names = ", ".join("%s %s" % (n, v) for _, n, v, _ in need[:6]) + (", ..." if len(need) > 6 else "")
print("msrv: ours %s; highest of %d dependencies: %s (%s); %d declare none"
      % (ours, len(declared), need[0][3], names, len(undeclared)))
if key(ours) < top:
    sys.exit("msrv: rust-version %s is older than %s, which %s %s requires: raise rust-version "
             "in Cargo.toml" % (ours, need[0][3], need[0][1], need[0][2]))
' "$ours"

cargo clippy --workspace --all-targets --locked -- -D clippy::incompatible_msrv
echo "msrv: rust-version $ours holds (dependencies and std APIs)"
