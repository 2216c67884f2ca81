#!/usr/bin/env bash
# Per-call cost of pam_tmuxguard.so's session entry points through the real
# libpam (pam_start_confdir), measured side by side with pam_permit.so timed
# the same way in the same run (bench/pam_open_session.cpp says what each
# case times). Prints the median of each case and the module/baseline
# ratios. Needs root (a throwaway account and gate group; the module chowns
# and sets ACLs). Installs what it needs with apt if missing. It builds its
# own tree, build-bench-pam/, with the throwaway prefix
# /opt/tmuxguard-bench-pam (etc/ and var/ inside it; paths are baked in at
# configure time), so it never collides with the test prefix, and removes
# the account, group, prefix and temp dir on exit, also on failure. Never a
# timed test: it asserts nothing about speed.
#
# usage: sudo bench/pam-open-session.sh [REPS]
set -euo pipefail
reps=${1:-10}
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-bench-pam
prefix=/opt/tmuxguard-bench-pam
deps=(cmake ninja-build g++ libbenchmark-dev libpam0g-dev libacl1-dev libseccomp-dev tmux)
[[ $reps =~ ^[1-9][0-9]*$ ]] || { echo "usage: bench/pam-open-session.sh [REPS]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench/pam-open-session.sh: needs root (creates an account)" >&2; exit 1; }

# shellcheck source=bench/common.sh
. "$top/bench/common.sh"
bench_deps_install bench/pam-open-session.sh "${deps[@]}" python3
bench_build
attach=$(bench_cache TMUXGUARD_ATTACH_PATH)
module=$(bench_cache TMUXGUARD_PAM_MODULE_DIR)/pam_tmuxguard.so
policy=$(bench_cache TMUXGUARD_POLICY_FILE)

tag=tgbp-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-5)
gate=$tag-gate user=$tag-user
work=$(mktemp -d /var/lib/tgbp.XXXXXX)
cleanup() {
    userdel "$user" 2>/dev/null || true
    groupdel "$gate" 2>/dev/null || true
    rm -rf "$prefix" "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

groupadd "$gate"
useradd -M -N -s /usr/sbin/nologin "$user"
cmake --install "$build" >/dev/null
chmod 0755 "$prefix"
# The module takes the gate group from the installed wrapper.
chgrp "$gate" "$attach"
chmod 2755 "$attach"

# A compiled policy with no shares, as after `tmuxguard reload`, so the
# reaping case reads one as it would on a real machine.
runtime=$work/run
{
    echo "set runtime-dir $runtime"
    echo "set syslog off"
    echo "set log $prefix/var/log/tmuxguard/decisions.log"
} >"$policy"
"$prefix/sbin/tmuxguard" reload >/dev/null

mkdir "$work/pam.d" "$work/out"
echo "session required $module runtime_dir=$runtime" >"$work/pam.d/tmuxguard-bench"
echo "session required $module runtime_dir=$runtime reap_on_logout" >"$work/pam.d/tmuxguard-bench-reap"
echo "session required pam_permit.so" >"$work/pam.d/tmuxguard-bench-permit"

# RUNTIME is a tmpfs, as /run is on a real machine, mounted in a private
# mount namespace (gone with the process). On ext4 the session count's
# truncate-and-write waits for the disk (ext4 flushes a file truncated to
# zero when it is closed), which measures the disk, not the module.
install -d -m 0755 "$runtime"
unshare --mount --propagation private -- sh -c \
    'mount -t tmpfs -o mode=0755,size=16m tgbp-run "$1" && shift && exec "$@"' sh "$runtime" \
    "$build/bench/tg_bench_pam_open_session" --confdir="$work/pam.d" --user="$user" \
    --runtime-dir="$runtime" \
    --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
    --benchmark_enable_random_interleaving=true \
    --benchmark_out="$work/out/result.json" --benchmark_out_format=json >&2
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "machine: nproc=$(nproc) cpu=\"$cpu\" kernel=$(uname -r) load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
python3 - "$work/out/result.json" "$reps" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
# One repetition has no aggregates: its one run is the median.
med = {r["run_name"].split("/")[0]: r["real_time"] for r in runs
       if r["time_unit"] == "us" and (r.get("aggregate_name") == "median" or r["run_type"] == "iteration")}
pairs = (("BM_OpenSession_Baseline", ("BM_OpenSession_Existing", "BM_OpenSession_Create")),
         ("BM_OpenClose_Baseline", ("BM_OpenClose_Existing", "BM_OpenClose_Reap")),
         ("BM_Transaction_Baseline", ("BM_Transaction_Existing",)))
print(f"repetitions={sys.argv[2]}, median of each, microseconds")
for base, cases in pairs:
    print(f"{base} median_us={med[base]:.2f}")
    for c in cases:
        print(f"{c} median_us={med[c]:.2f} module_minus_baseline_us={med[c] - med[base]:.2f}"
              f" ratio={med[c] / med[base]:.2f}")
PY
