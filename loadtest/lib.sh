# shellcheck shell=bash
# Shell helpers shared by the loadtest scripts (sourced, not run).

# A free TCP port below the ephemeral range (32768-60999), so no client
# socket of a run can hold it.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    if ! ss -Htan "( sport = :$p )" | grep -q .; then echo "$p"; return; fi
  done
}
