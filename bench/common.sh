# Sourced by the whole-process benchmarks (bench/run.sh, bench/audit.sh):
# installing what is missing with apt, building this tree for a throwaway
# prefix, the machine and load lines every result carries, and summing up
# Google Benchmark output. The caller sets `top`, `build` and `prefix`
# before calling bench_build.

# deps_install (scripts/lib.sh) installs what a benchmark needs.
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

# The value of a CMake cache entry of $build.
bench_cache() { sed -n "s|^$1:[A-Z]*=||p" "$build/CMakeCache.txt"; }

# RelWithDebInfo: -O2 as Debian builds the package (and symbols for perf).
bench_configure() {
    cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTMUXGUARD_TESTS=OFF \
        -DTMUXGUARD_BENCH=ON -DTMUXGUARD_WERROR=ON -DCMAKE_INSTALL_PREFIX="$prefix" \
        -DCMAKE_INSTALL_SYSCONFDIR="$prefix/etc" -DCMAKE_INSTALL_LOCALSTATEDIR="$prefix/var" >/dev/null
}

# Configures (afresh when the cached baked-in paths name another prefix)
# and builds $build for $prefix.
bench_build() {
    bench_configure
    if [[ $(bench_cache TMUXGUARD_ATTACH_PATH) != "$prefix"/* ||
          $(bench_cache TMUXGUARD_COMPILED_POLICY) != "$prefix"/* ]]; then
        rm -f "$build/CMakeCache.txt"
        bench_configure
    fi
    ninja -C "$build" >/dev/null
}

# A tag for throwaway names (accounts, groups, files): PREFIX-xxxxx.
bench_tag() { echo "$1-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-5)"; }

# The machine, once per run: CPU model, cores, kernel.
bench_machine() {
    local cpu
    cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
    echo "machine: cpu=\"$cpu\" cores=$(nproc) kernel=$(uname -r)"
}

# The load, with every measurement: `uptime` as it prints it.
bench_load() { echo "load: $(uptime)"; }

# bench_gbench_summary JSON A:B...: the median real time of every case in
# a Google Benchmark JSON file (aggregates of repetitions, or the one run),
# then the ratio of the medians for each pair A:B of case names (without
# the /manual_time or /real_time suffix).
bench_gbench_summary() {
    python3 - "$@" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
med, unit = {}, {}
for r in runs:
    if r.get("error_occurred"):
        sys.exit(f"{r['run_name']}: {r.get('error_message')}")
    if r.get("aggregate_name") == "median" or r["run_type"] == "iteration":
        name = r["run_name"].removesuffix("/manual_time").removesuffix("/real_time")
        med.setdefault(name, r["real_time"])
        unit[name] = r["time_unit"]
for name, t in sorted(med.items()):
    print(f"{name} median_{unit[name]}={t:.3f}")
for pair in sys.argv[2:]:
    a, b = pair.split(":")
    print(f"{a} / {b} median_ratio={med[a] / med[b]:.2f}")
PY
}
