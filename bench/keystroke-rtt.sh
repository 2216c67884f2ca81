#!/usr/bin/env bash
# Keystroke round trip through tmuxguard-attach (the tmux client behind the
# relay, on its own pty) beside a direct `tmux attach` by the share's owner,
# side by side in one run, on the same server and the same pane
# (bench/keystroke_rtt.cpp says what is timed). Prints the machine, the
# median and p90 of each mode, and wrapper/direct as a ratio and as a
# difference. Needs root (throwaway accounts, a gate group and a share).
# Installs what it needs with apt if missing. It builds its own tree,
# build-bench-rtt/, with the throwaway prefix /opt/tmuxguard-bench-rtt
# (etc/, var/ and the runtime dir inside it; paths are baked in at configure
# time), so it never collides with the test prefix, and removes the server,
# the accounts, the group and the prefix on exit, also on failure. Never a
# timed test: it asserts nothing about speed.
#
# usage: sudo bench/keystroke-rtt.sh [SAMPLES]   (per mode, default 300)
set -euo pipefail
samples=${1:-300}
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-bench-rtt
prefix=/opt/tmuxguard-bench-rtt
deps=(cmake ninja-build g++ libpam0g-dev libacl1-dev libseccomp-dev libbenchmark-dev tmux acl)
[[ $samples =~ ^[1-9][0-9]*$ ]] || { echo "usage: bench/keystroke-rtt.sh [SAMPLES]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench/keystroke-rtt.sh: needs root (creates accounts)" >&2; exit 1; }

# shellcheck source=bench/common.sh
. "$top/bench/common.sh"
bench_deps_install bench/keystroke-rtt.sh "${deps[@]}"
bench_build
attach=$(bench_cache TMUXGUARD_ATTACH_PATH)
policy=$(bench_cache TMUXGUARD_POLICY_FILE)
tmux=$(command -v tmux)

tag=tgbr-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-5)
gate=$tag-gate owner=$tag-owner guest=$tag-guest
share=rtt session=rtt
runtime=$prefix/run
socket='' server_pid=''
owner_tmux() { runuser -u "$owner" -- env -u TMUX "$tmux" -S "$socket" "$@"; }
cleanup() {
    if [[ -n $socket ]]; then
        owner_tmux kill-server 2>/dev/null || true
    fi
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
    fi
    userdel "$guest" 2>/dev/null || true
    userdel -r "$owner" 2>/dev/null || true
    groupdel "$gate" 2>/dev/null || true
    rm -rf "$prefix"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

groupadd "$gate"
# The owner's shell must run: tmux ends a server whose only pane ended.
useradd -m -N -s /bin/sh "$owner"
useradd -M -N -s /usr/sbin/nologin "$guest"
cmake --install "$build" >/dev/null
chmod 0755 "$prefix"
chgrp "$gate" "$attach"
chmod 2755 "$attach"

{
    echo "set runtime-dir $runtime"
    echo "set syslog off"
    echo "set log $prefix/var/log/tmuxguard/decisions.log"
    echo "share $share owner $owner"
    echo "permit interact $guest on $share"
} >"$policy"
"$prefix/sbin/tmuxguard" reload >/dev/null
socket=$runtime/$(id -u "$owner")/$share
served=$(runuser -u "$owner" -- "$prefix/sbin/tmuxguard" serve "$share")
server_pid=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' <<<"$served")
[[ -n $server_pid ]] || { echo "bench/keystroke-rtt.sh: serve said: $served" >&2; exit 1; }

# The pane echoes each byte as it arrives; no status line (its clock would
# be drawn among the echoes).
owner_tmux set -g status off
owner_tmux respawn-pane -k -t "=$session:" 'stty raw -echo; exec cat'
for _ in $(seq 100); do
    [[ $(owner_tmux display-message -p -t "=$session:" '#{pane_current_command}') == cat ]] && break
    sleep 0.05
done
[[ $(owner_tmux display-message -p -t "=$session:" '#{pane_current_command}') == cat ]] ||
    { echo "bench/keystroke-rtt.sh: the pane never ran cat" >&2; exit 1; }

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "machine: nproc=$(nproc) cpu=\"$cpu\" kernel=$(uname -r) tmux=\"$("$tmux" -V)\" load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
echo "keystroke round trip, $samples samples per mode, interleaved; microseconds"
"$build/bench/tg_bench_keystroke_rtt" --wrapper="$attach" --share="$share" --guest="$guest" \
    --owner="$owner" --tmux="$tmux" --socket="$socket" --session="$session" --samples="$samples"
