#!/usr/bin/env bash
# The benchmarks of docs/benchmarks.md, one entry point. Every comparison is
# measured side by side in one run, the variants interleaved, and printed as
# medians and their ratio, each section with the load (`uptime`) it ran
# under, after one line naming the machine. Never a timed test: nothing
# here asserts anything about speed. It does exit non-zero when a harness
# is broken (a refused attach, a sudo that asks, a lost record, a screen or
# an echo that never comes), so `--short` proves the harnesses work.
#
# usage: sudo bench/run.sh [--short] [SECTION...]
#   sections (default: all; always run in this order):
#   audit   `tmuxguard audit` over 10, 100 and 1,000 sockets: bench/audit.sh
#           with this build's CLI, run before anything is installed (no
#           compiled policy, no share: plain servers, as it intends)
#   decide  decision latency in the library, 10 / 1,000 / 100,000 rules
#   exec    whole processes: the floor (an empty static-pie program, also
#           installed setgid), `tmuxguard-attach -n` with a 10,000-rule
#           policy, and `sudo -n -u OWNER true` with the equivalent
#           sudoers rule
#   tty     first screen through the wrapper against a plain `tmux attach`
#           on the same server, and the keystroke round trip through the
#           wrapper's pty relay against the plain attach
#   log     decision records per second, 1 and 64 concurrent writers
#   pam     pam_sm_open_session per call against pam_permit.so
#   --short: every section once with tiny counts (CI: proves it works).
#
# Needs root: it installs missing packages with apt (sudo among them),
# builds build-bench/ for the throwaway prefix /opt/tmuxguard-test-bench
# (paths are baked in at configure time), installs the wrapper setgid to a
# throwaway gate group, creates throwaway accounts (tgb-xxxxx-*), a share
# served by one of them, and a sudoers rule in /etc/sudoers.d (checked with
# visudo -cf first). A trap removes all of it on exit, also on failure.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-bench
prefix=/opt/tmuxguard-test-bench
all_sections=(audit decide exec tty log pam)
deps=(cmake ninja-build g++ libbenchmark-dev libpam0g-dev libacl1-dev libseccomp-dev nettle-dev
      tmux acl sudo python3 passwd util-linux)

usage() {
    echo "usage: bench/run.sh [--short] [${all_sections[*]}]..." >&2
    exit 2
}

short=0 sections=()
for arg in "$@"; do
    case $arg in
    --short) short=1 ;;
    decide | exec | tty | log | pam | audit) sections+=("$arg") ;;
    *) usage ;;
    esac
done
# Always in the order of all_sections, whatever the order asked.
if ((${#sections[@]} > 0)); then
    asked=" ${sections[*]} " sections=()
    for s in "${all_sections[@]}"; do
        [[ $asked == *" $s "* ]] && sections+=("$s")
    done
else
    sections=("${all_sections[@]}")
fi
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: needs root (accounts, setgid install, sudoers)" >&2; exit 1; }

# Counts: the full measurement, or --short's one tiny pass.
if ((short)); then
    rules=100 decide_args=(--benchmark_min_time=0.001) exec_runs=3 exec_warmup=1
    screens=2 keys=5 log_records=128 log_rounds=1 pam_args=(--benchmark_min_time=0.001)
else
    rules=10000 decide_args=(--benchmark_repetitions=10) exec_runs=300 exec_warmup=20
    screens=100 keys=300 log_records=6400 log_rounds=10 pam_args=(--benchmark_repetitions=10)
fi

# shellcheck source=bench/common.sh
. "$top/bench/common.sh"
deps_install bench/run.sh "${deps[@]}"
bench_build
attach=$(bench_cache TMUXGUARD_ATTACH_PATH)
policy=$(bench_cache TMUXGUARD_POLICY_FILE)
module=$(bench_cache TMUXGUARD_PAM_MODULE_DIR)/pam_tmuxguard.so
tmux=$(command -v tmux)

tag=$(bench_tag tgb)
gate=$tag-gate owner=$tag-owner guest=$tag-guest other1=$tag-x1 other2=$tag-x2
share=bench marker=tgbench-pane-up
runtime=$prefix/run
sudoers=/etc/sudoers.d/tmuxguard-bench-$tag
work='' socket='' server_pid=''
owner_tmux() { runuser -u "$owner" -- env -u TMUX "$tmux" -S "$socket" "$@"; }
cleanup() {
    if [[ -n $socket ]]; then
        owner_tmux kill-server 2>/dev/null || true
    fi
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
    fi
    rm -f "$sudoers"
    local u
    for u in "$guest" "$other1" "$other2"; do
        userdel "$u" 2>/dev/null || true
    done
    userdel -r "$owner" 2>/dev/null || true
    groupdel "$gate" 2>/dev/null || true
    rm -rf "$prefix"
    [[ -z $work ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The policy: the guest's permit on the share, then one share and one
# permit each for RULES-1 others (owned by and granted to other accounts).
policy_write() {
    {
        echo "set runtime-dir $runtime"
        echo "share $share owner $owner"
        echo "permit interact $guest on $share"
        awk -v n="$rules" -v a="$other1" -v b="$other2" 'BEGIN {
            for (i = 1; i < n; i++) {
                printf "share s%d owner %s\n", i, (i % 2 ? a : b)
                printf "permit view %s on s%d\n", (i % 2 ? b : a), i
            }
        }'
    } >"$policy"
}

# The pane shows the marker on a line of its own, then echoes every byte
# (raw, no status line: see bench/tty.cpp).
pane_prepare() {
    owner_tmux set -g status off
    owner_tmux respawn-pane -k -t "=$share:" "stty raw -echo; printf '%s\\r\\n' $marker; exec cat"
    local _
    for _ in $(seq 100); do
        [[ $(owner_tmux display-message -p -t "=$share:" '#{pane_current_command}') == cat ]] && return
        sleep 0.05
    done
    echo "bench/run.sh: the pane never ran cat" >&2
    exit 1
}

# The guest may run `true` as the owner without a password: the sudo
# equivalent of the guest's permit.
sudoers_install() {
    local draft=$work/sudoers
    echo "$guest ALL=($owner) NOPASSWD: /usr/bin/true" >"$draft"
    visudo -cqf "$draft" || { echo "bench/run.sh: visudo rejects $draft" >&2; exit 1; }
    install -m 0440 "$draft" "$sudoers"
}

# The accounts, the setgid install, the policy, the served share, the
# sudoers rule: once, before the first section that needs them.
setup_done=0
setup() {
    ((setup_done)) && return
    setup_done=1
    groupadd "$gate"
    # The owner's shell must run: tmux ends a server whose only pane ended.
    useradd -m -N -s /bin/sh "$owner"
    local u
    for u in "$guest" "$other1" "$other2"; do
        useradd -M -N -s /usr/sbin/nologin "$u"
    done
    cmake --install "$build" >/dev/null
    chmod 0755 "$prefix"
    chgrp "$gate" "$attach"
    chmod 2755 "$attach"
    policy_write
    "$prefix/sbin/tmuxguard" reload >/dev/null
    socket=$runtime/$(id -u "$owner")/$share
    local served
    served=$(runuser -u "$owner" -- "$prefix/sbin/tmuxguard" serve "$share")
    server_pid=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' <<<"$served")
    [[ -n $server_pid ]] || { echo "bench/run.sh: serve said: $served" >&2; exit 1; }
    pane_prepare
    sudoers_install
    install -m 0755 "$build/bench/tg_bench_exec" "$build/bench/tg_bench_floor" "$work/"
    # The floor again, setgid like the wrapper: what a secure exec adds.
    install -m 2755 -g "$gate" "$build/bench/tg_bench_floor" "$work/tg_bench_floor_sgid"
}

# Prints the section's title, the load, and runs the command after
# printing it.
section() {
    echo
    echo "== $1"
    bench_load
}
run() {
    echo "command: $*"
    "$@"
}
# The same, the command's own stdout discarded (a JSON file holds its results).
run_quiet() {
    echo "command: $*"
    "$@" >/dev/null
}

section_decide() {
    section "decide: compiled_parse(text, share, uid) + decide, 10 / 1,000 / 100,000 rules"
    run_quiet "$build/bench/tg_bench_decide" "${decide_args[@]}" --benchmark_enable_random_interleaving=true \
        --benchmark_report_aggregates_only=true --benchmark_out="$work/decide.json" \
        --benchmark_out_format=json
    bench_gbench_summary "$work/decide.json" BM_Decide/1000:BM_Decide/10 BM_Decide/100000:BM_Decide/10 \
        BM_DecideUnfiltered/100000:BM_DecideUnfiltered/10
}

section_exec() {
    setup
    section "exec: whole processes as the guest, $rules-rule policy, interleaved"
    run runuser -u "$guest" -- "$work/tg_bench_exec" --runs="$exec_runs" --warmup="$exec_warmup" \
        "floor=$work/tg_bench_floor" "floor-sgid=$work/tg_bench_floor_sgid" \
        "attach-n=$attach -n $share" "sudo=/usr/bin/sudo -n -u $owner true"
}

section_tty() {
    setup
    local common=(--wrapper="$attach" --share="$share" --guest="$guest" --owner="$owner"
                  --tmux="$tmux" --socket="$socket" --session="$share" --marker="$marker")
    section "tty first-screen: fork until the pane's marker is on the guest's terminal (chain: the floor exec'ing tmux attach)"
    run "$build/bench/tg_bench_tty" first-screen "${common[@]}" --samples="$screens" \
        --chain="$work/tg_bench_floor"
    section "tty rtt: keystroke round trip, through the relay and direct"
    run "$build/bench/tg_bench_tty" rtt "${common[@]}" --samples="$keys"
}

section_log() {
    install -d -m 0700 "$work/log"
    install -m 0640 /dev/null "$work/log/decisions.log"
    install -m 0640 /dev/null "$work/log/decisions.log.head"  # written by the benchmark
    section "log: decision records per second, 1 and 64 writer processes (log_append, hash chain)"
    run "$build/bench/tg_bench_log_writers" --log="$work/log/decisions.log" --writers=1,64 \
        --records="$log_records" --rounds="$log_rounds"
}

# RUNTIME is a tmpfs, as /run is on a real machine, mounted in a private
# mount namespace (gone with the process). On ext4 the session count's
# truncate-and-write waits for the disk (ext4 flushes a file truncated to
# zero when it is closed), which measures the disk, not the module.
section_pam() {
    setup
    mkdir "$work/pam.d"
    echo "session required $module runtime_dir=$runtime" >"$work/pam.d/tmuxguard-bench"
    echo "session required $module runtime_dir=$runtime reap_on_logout" >"$work/pam.d/tmuxguard-bench-reap"
    echo "session required pam_permit.so" >"$work/pam.d/tmuxguard-bench-permit"
    section "pam: pam_open_session per call, pam_tmuxguard.so against pam_permit.so"
    run_quiet unshare --mount --propagation private -- sh -c \
        'mount -t tmpfs -o mode=0755,size=16m tgb-run "$1" && shift && exec "$@"' sh "$runtime" \
        "$build/bench/tg_bench_pam_open_session" --confdir="$work/pam.d" --user="$guest" \
        --runtime-dir="$runtime" "${pam_args[@]}" --benchmark_report_aggregates_only=true \
        --benchmark_enable_random_interleaving=true \
        --benchmark_out="$work/pam.json" --benchmark_out_format=json
    bench_gbench_summary "$work/pam.json" BM_OpenSession_Existing:BM_OpenSession_Baseline \
        BM_OpenSession_Create:BM_OpenSession_Baseline BM_OpenClose_Existing:BM_OpenClose_Baseline \
        BM_OpenClose_Reap:BM_OpenClose_Baseline BM_Transaction_Existing:BM_Transaction_Baseline
}

# Runs first, before setup: nothing of this run is installed yet.
section_audit() {
    section "audit: tmuxguard audit over 10, 100 and 1,000 sockets (bench/audit.sh)"
    local args=(--cli "$build/cli/tmuxguard")
    ((short)) && args+=(--short)
    run bash "$top/bench/audit.sh" "${args[@]}"
}

bench_machine
echo "tmux: $("$tmux" -V); sudo: $(sudo -V | head -1); rules: $rules; short: $short"
work=$(mktemp -d /var/lib/tgb.XXXXXX)
chmod 0755 "$work"
for s in "${sections[@]}"; do
    "section_$s"
    echo "after: $(uptime)"
done
