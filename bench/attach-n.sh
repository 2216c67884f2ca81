#!/usr/bin/env bash
# Whole-process cost of `tmuxguard-attach -n` with a 10,000-rule policy,
# measured side by side with the floor: an empty static-pie program, exec'd
# the same way by hyperfine in the same run. Prints both medians and the
# ratio. Needs root (throwaway accounts and a share) and hyperfine
# (apt-get install hyperfine). It builds its own tree, build-bench/, with the
# throwaway prefix /opt/tmuxguard-bench (paths are baked in at configure
# time), so it never collides with the test prefix. Never a timed test: it
# asserts nothing about speed.
#
# usage: sudo bench/attach-n.sh [RULES] [RUNS]
set -euo pipefail
rules=${1:-10000}
runs=${2:-300}
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build-bench
prefix=/opt/tmuxguard-bench
[ "$(id -u)" = 0 ] || { echo "bench/attach-n.sh: needs root (creates accounts)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench/attach-n.sh: needs hyperfine" >&2; exit 1; }
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTMUXGUARD_TESTS=OFF \
    -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
ninja -C "$build" >/dev/null
cache() { sed -n "s|^$1:[A-Z]*=||p" "$build/CMakeCache.txt"; }
policy=$(cache TMUXGUARD_POLICY_FILE)       # /etc/opt/... : GNUInstallDirs' /opt rule
compiled=$(cache TMUXGUARD_COMPILED_POLICY)

tag=tgb$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-5)
gate=$tag-gate owner=$tag-owner viewer=$tag-viewer
work=$(mktemp -d /var/tmp/tg-bench.XXXXXX)
cleanup() {
    pkill -U "$owner" 2>/dev/null || true
    userdel -r "$viewer" 2>/dev/null || true
    userdel -r "$owner" 2>/dev/null || true
    groupdel "$gate" 2>/dev/null || true
    rm -rf "$prefix" "$work" /etc/opt/tmuxguard-bench /var/opt/tmuxguard-bench
}
trap cleanup EXIT INT TERM

groupadd "$gate"
useradd -m -N -s /bin/sh "$owner"
useradd -m -N -s /bin/sh "$viewer"
cmake --install "$build" >/dev/null
chmod 0755 "$prefix"
chgrp "$gate" "$prefix/bin/tmuxguard-attach"
chmod 2755 "$prefix/bin/tmuxguard-attach"

{
    echo "set runtime-dir $prefix/run"
    echo "share bench owner $owner"
    echo "permit view $viewer on bench"
    for ((i = 1; i < rules; i++)); do
        echo "share s$i owner $owner"
        echo "permit view $viewer on s$i"
    done
} >"$policy"
"$prefix/sbin/tmuxguard" reload >/dev/null
runuser -u "$owner" -- "$prefix/sbin/tmuxguard" serve bench >/dev/null

printf 'int main(void) { return 0; }\n' >"$work/empty.c"
cc -O2 -static-pie -o "$work/empty" "$work/empty.c"
chmod 0755 "$work" "$work/empty"
install -d -o "$viewer" "$work/out"

runuser -u "$viewer" -- hyperfine -N --warmup 20 --runs "$runs" \
    --export-json "$work/out/result.json" \
    "$work/empty" "$prefix/bin/tmuxguard-attach -n bench" >&2
python3 - "$work/out/result.json" "$rules" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
floor, attach = r[0]["median"], r[1]["median"]
print(f"rules={sys.argv[2]} floor_median_ms={floor*1e3:.3f} attach_n_median_ms={attach*1e3:.3f} ratio={attach/floor:.2f}")
PY
