# Sourced by the whole-process benchmarks (bench/*.sh): installing what is
# missing with apt, and building this tree for a throwaway prefix.
# The caller sets `top`, `build` and `prefix` before calling.

# bench_deps_install NAME PACKAGE...: apt-get installs the packages that
# are not installed yet (nothing runs when all are).
bench_deps_install() {
    local name=$1 missing=() p
    shift
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    echo "$name: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q </dev/null >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >&2
}

# The value of a CMake cache entry of $build.
bench_cache() { sed -n "s|^$1:[A-Z]*=||p" "$build/CMakeCache.txt"; }

bench_configure() {
    cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTMUXGUARD_TESTS=OFF \
        -DTMUXGUARD_BENCH=ON -DCMAKE_INSTALL_PREFIX="$prefix" \
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
