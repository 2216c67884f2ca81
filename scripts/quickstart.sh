#!/usr/bin/env bash
# Quick start, step 1 of 2 (README): installs the missing build dependencies
# with apt, then builds tmuxguard and runs the demonstration (scripts/demo.sh)
# on the shipped default policy. Step 2 is `sudo tests/run-all.sh`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS=(cmake ninja-build g++ libacl1-dev libseccomp-dev libpam0g-dev nettle-dev tmux acl passwd
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

. "$ROOT/scripts/lib.sh"
deps_install quickstart "${DEPS[@]}"

exec "$ROOT/scripts/demo.sh"
