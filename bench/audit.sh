#!/usr/bin/env bash
# Whole-process benchmark of `tmuxguard audit --json` (the whole machine, no
# PATH) with 10, 100 and 1,000 real tmux servers of one throwaway account,
# each with its socket in /tmp/tmux-UID/ (found by /proc/net/unix and by the
# directory scan, asked as its owner). Prints, per N, the median wall time
# of several runs and the load it ran under. Never a timed test: it asserts
# nothing about speed, but it exits non-zero when audit did not see and ask
# every server (a broken harness).
#
# usage: sudo bench/audit.sh [--short] [--cli PATH] [--runs R] [N...]
#   --short   N=10, one run (CI: proves the harness works)
#   --cli     the tmuxguard binary to time (default: build-bench-audit/,
#             built here for a prefix that is never installed, so there is
#             no compiled policy and no share: every server is a plain one)
#   --runs    runs per N (default 5); N defaults to 10 100 1000
#
# Needs root: it creates the account tgba-xxxxx and removes it, its servers
# (by pid) and /tmp/tmux-UID on exit, also on failure.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# Read by bench_build (common.sh).
build=$top/build-bench-audit
# shellcheck disable=SC2034
prefix=/opt/tmuxguard-test-bench-audit

short=0 cli='' runs=5 counts=()
while (($#)); do
    case $1 in
    --short) short=1 ;;
    --cli) cli=$2; shift ;;
    --runs) runs=$2; shift ;;
    [0-9]*) counts+=("$1") ;;
    *) echo "usage: bench/audit.sh [--short] [--cli PATH] [--runs R] [N...]" >&2; exit 2 ;;
    esac
    shift
done
((short)) && counts=(10) runs=1
((${#counts[@]} > 0)) || counts=(10 100 1000)
[ "$(id -u)" = 0 ] || { echo "bench/audit.sh: needs root (an account, servers as it)" >&2; exit 1; }

# shellcheck source=bench/common.sh
. "$top/bench/common.sh"
deps_install bench/audit.sh cmake ninja-build g++ libbenchmark-dev libpam0g-dev libacl1-dev \
    libseccomp-dev nettle-dev tmux python3 passwd procps
if [[ -z $cli ]]; then
    bench_build
    cli=$build/cli/tmuxguard
fi
tmux=$(command -v tmux)

acct=$(bench_tag tgba) uid='' work=''
# The pids of the throwaway account's processes (its servers and nothing
# else: the account exists only for this run).
account_pids() { ps -o pid= -u "$uid" | tr -d ' ' || true; }
# Stops them by pid: SIGTERM, up to 5 s, then SIGKILL.
servers_stop() {
    [[ -n $uid ]] || return 0
    local pids
    mapfile -t pids < <(account_pids)
    ((${#pids[@]} == 0)) || kill "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
        mapfile -t pids < <(account_pids)
        ((${#pids[@]} == 0)) && return 0
        sleep 0.1
    done
    kill -9 "${pids[@]}" 2>/dev/null || true
}
cleanup() {
    servers_stop
    [[ -z $uid ]] || rm -rf "/tmp/tmux-$uid"
    userdel -r "$acct" 2>/dev/null || true
    [[ -z $work ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

work=$(mktemp -d /var/lib/tgba.XXXXXX)
chmod 0755 "$work"
useradd -m -N -s /bin/sh "$acct"
uid=$(id -u "$acct")
# A server with no session stays up (exit-empty off): no pane process and
# no pty per server; audit's work does not depend on sessions.
echo 'set -s exit-empty off' >"$work/tmux.conf"
chmod 0644 "$work/tmux.conf"

# Starts servers FROM..TO as the account, sockets /tmp/tmux-UID/bI (the
# loop runs in the account's sh; its variables are its own).
servers_start() {
    # shellcheck disable=SC2016
    runuser -u "$acct" -- env -u TMUX -u TMUX_TMPDIR sh -c '
        i=$1; while [ "$i" -le "$2" ]; do "$3" -f "$4" -L "b$i" start-server || exit 1; i=$((i + 1)); done
    ' sh "$1" "$2" "$tmux" "$work/tmux.conf"
}

# Times one `tmuxguard audit --json` run; prints milliseconds. Exit 0 or 1
# (a high finding elsewhere on the machine) both count; the JSON must show
# all N servers of the account asked and answered.
audit_time_ms() {
    local n=$1 t0 t1 rc=0
    t0=$(date +%s%N)
    "$cli" audit --json >"$work/out.json" 2>"$work/err" || rc=$?
    t1=$(date +%s%N)
    if ((rc > 1)); then
        echo "bench/audit.sh: audit exited $rc: $(cat "$work/err")" >&2
        exit 1
    fi
    python3 - "$work/out.json" "$acct" "$n" <<'PY' || exit 1
import json, sys
doc = json.load(open(sys.argv[1]))
mine = [s for s in doc["sockets"] if s["owner"] == sys.argv[2]]
asked = [s for s in mine if s["query"] == "answered" and s["state"] == "live"]
if len(asked) != int(sys.argv[3]):
    sys.exit(f"bench/audit.sh: audit saw {len(mine)} and asked {len(asked)} of {sys.argv[3]} servers")
PY
    echo $(((t1 - t0) / 1000000))
}

# The median of numbers, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bench_machine
echo "tmux: $("$tmux" -V); cli: $cli; runs per N: $runs"
started=0
for n in "${counts[@]}"; do
    if ((n > started)); then
        servers_start $((started + 1)) "$n"
        started=$n
    fi
    echo
    echo "== audit, $n servers of $acct (plus the machine's own sockets)"
    bench_load
    echo "command: $cli audit --json"
    times=()
    for _ in $(seq "$runs"); do
        times+=("$(audit_time_ms "$n")")
    done
    total=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["sockets"]))' "$work/out.json")
    echo "runs_ms: ${times[*]}"
    echo "audit servers=$n sockets_seen=$total median_ms=$(printf '%s\n' "${times[@]}" | median)"
done
