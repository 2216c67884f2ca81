#!/usr/bin/env bash
# Quick start, step 1 of 2 (README): installs the missing build dependencies
# with apt, then builds tmuxguard and runs the demonstration (scripts/demo.sh)
# on the shipped default policy. Step 2 is `sudo tests/run-all.sh`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS=(cmake ninja-build g++ libacl1-dev libseccomp-dev libpam0g-dev tmux acl passwd
      util-linux procps)

if [[ $(id -u) -ne 0 ]]; then
    cat >&2 <<'EOF2'
quickstart: needs root, to
  - install missing build dependencies with apt-get,
  - run the demonstration, which creates throwaway accounts and a gate group,
    installs a setgid wrapper into /opt/tmuxguard-demo, and removes them all
    at the end.
Run: sudo scripts/quickstart.sh
EOF2
    exit 1
fi

command -v dpkg-query >/dev/null || { echo "quickstart: expects Debian 12 (dpkg/apt)" >&2; exit 1; }
missing=()
for p in "${DEPS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
    echo "quickstart: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q </dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

exec "$ROOT/scripts/demo.sh"
