#!/usr/bin/env bash
# Runs the whole test suite, unit and end-to-end, the way CI does.
#
# Needs root: the end-to-end tests create (and remove) real accounts and a
# gate group, install the setgid wrapper into /opt/tmuxguard-test and start
# real tmux servers. Installs missing build/test packages with apt, configures
# build-test/ with that prefix and -Werror, builds, runs ctest, and fails if
# any test failed or was skipped.
#
# Then the assurance phases of issue 7, each after the other and each timed:
#   fuzz      tests/fuzz/run.sh in build-test[-NAME]-libfuzzer: replay every
#             seed corpus and saved regression, then fuzz each target for
#             TMUXGUARD_FUZZ_SECONDS (default 45) seconds;
#   sanitize  tests/sanitize.sh: the whole unit and e2e suite under an
#             ASan+UBSan build (build-test[-NAME]-asan, its own prefix), and
#             the unit suite under valgrind;
#   bench     bench/run.sh --short: every benchmark once with tiny counts, to
#             prove the harnesses work (it asserts nothing about speed).
#   package   tests/package/run.sh: build the .debs (two revisions), lintian,
#             then install, use, upgrade, remove and purge them in a throwaway
#             overlay of this machine's root (its own mount and pid namespace)
#   rpm       packaging/rpm/build-rpm.sh --build: rpmspec -P and rpmbuild -bb
#             of packaging/rpm/tmuxguard.spec, and the built packages' modes
# The last line is "N passed, M failed" over everything: GoogleTest cases of
# the normal run, plus those of the sanitize phases, plus one per corpus
# replay and fuzz run, plus one each for the bench and rpm phases, plus the
# package test's checks. A skipped test is a failed one in every phase.
#
# TMUXGUARD_TEST_PREFIX=/opt/tmuxguard-test-NAME (build dir build-test-NAME)
# lets a second developer tree on the same machine run beside the first.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib.sh"
PREFIX=${TMUXGUARD_TEST_PREFIX:-/opt/tmuxguard-test}
[[ $PREFIX =~ ^/opt/tmuxguard-test(-[a-z0-9]+)?$ ]] ||
    { echo "run-all: TMUXGUARD_TEST_PREFIX must be /opt/tmuxguard-test[-NAME]" >&2; exit 1; }
BUILD="$ROOT/build-test${PREFIX#/opt/tmuxguard-test}"
XML_DIR="$BUILD/gtest-xml"
CTEST_LOG="$BUILD/ctest.log"
DEPS=(cmake ninja-build g++ libacl1-dev libseccomp-dev libpam0g-dev nettle-dev libgtest-dev googletest
      pamtester libpam-wrapper tmux acl strace binutils passwd procps util-linux
      libclang-rt-14-dev valgrind groff-base man-db zsh logrotate systemd rpm)

die() {
    echo "run-all: $*" >&2
    exit 1
}

# Prints the final count line and exits with `status`.
finish() {
    local status=$1 passed=$2 failed=$3
    echo "$passed passed, $failed failed"
    exit "$status"
}


# GNUInstallDirs puts etc/ and var/ of an /opt prefix under /etc/opt and
# /var/opt; the tests need every baked-in path inside the prefix.
configure() {
    cmake -S "$ROOT" -B "$BUILD" -G Ninja \
        -DCMAKE_INSTALL_PREFIX="$PREFIX" \
        -DCMAKE_INSTALL_SYSCONFDIR="$PREFIX/etc" \
        -DCMAKE_INSTALL_LOCALSTATEDIR="$PREFIX/var" \
        -DTMUXGUARD_WERROR=ON
}

# True when every path baked into the build lies under $PREFIX.
paths_ok() {
    local hdr="$BUILD/lib/include/tmuxguard/paths.hpp"
    [[ -f $hdr ]] || return 1
    ! grep -E '(policy_file|policy_dir|compiled_policy|default_log|attach_path) =' "$hdr" |
        grep -vq "\"$PREFIX/"
}

# Unit tests are one ctest test per GoogleTest case; prints "passed failed skipped".
count_unit() {
    awk '/^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: / {
            if ($4 == "e2e") next
            if ($0 ~ /\*\*\*Skipped/ || $0 ~ / Skipped /) s++
            else if ($0 ~ / Passed +[0-9.]+ sec/) p++
            else f++
         }
         END { printf "%d %d %d\n", p, f, s }' "$CTEST_LOG"
}

# The e2e binary is one ctest test; its GoogleTest XML has the cases.
# Prints "passed failed skipped" of the e2e run.
count_e2e() {
    local xml="$XML_DIR/tg_e2e_tests.xml"
    if [[ ! -f $xml ]]; then
        echo "0 0 0"
        return
    fi
    gtest_xml_count "$xml"
}

[[ $(id -u) -eq 0 ]] || die "must run as root: the end-to-end tests create accounts and a gate group, install a setgid wrapper into $PREFIX and start tmux servers as other users. Run: sudo tests/run-all.sh"

deps_install run-all "${DEPS[@]}" || die "cannot install the packages it needs"
configure || finish 1 0 0
if ! paths_ok; then
    echo "run-all: $BUILD has paths from an older configuration; configuring afresh"
    rm -f "$BUILD/CMakeCache.txt"
    configure || finish 1 0 0
    paths_ok || die "the build still bakes in paths outside $PREFIX; see $BUILD/lib/include/tmuxguard/paths.hpp"
fi
if ! cmake --build "$BUILD"; then
    echo "run-all: build failed" >&2
    finish 1 0 0
fi

rm -rf "$XML_DIR"
mkdir -p "$XML_DIR"
set +e
GTEST_OUTPUT="xml:$XML_DIR/" ctest --test-dir "$BUILD" --output-on-failure 2>&1 | tee "$CTEST_LOG"
ctest_status=${PIPESTATUS[0]}
set -e

read -r unit_p unit_f unit_s < <(count_unit)
read -r e2e_p e2e_f e2e_s < <(count_e2e)
status=0
if ! grep -Eq '^ *[0-9]+/[0-9]+ +Test +#[0-9]+: e2e ' "$CTEST_LOG"; then
    echo "run-all: the e2e test did not run" >&2
    e2e_f=$((e2e_f + 1))
elif ! grep -Eq '^ *[0-9]+/[0-9]+ +Test +#[0-9]+: e2e .* Passed' "$CTEST_LOG" && ((e2e_f == 0)); then
    echo "run-all: e2e failed outside any test case (set-up, tear-down or a crash)" >&2
    e2e_f=1
fi
skipped=$((unit_s + e2e_s))
if grep -Eq '\[  SKIPPED \]|\*\*\*Skipped|\(Skipped\)|(^|[^0-9])[1-9][0-9]* skipped' "$CTEST_LOG"; then
    ((skipped > 0)) || skipped=1
fi
if ((skipped > 0)); then
    echo "run-all: $skipped test(s) skipped; skipping is a failure here" >&2
    status=1
fi
passed=$((unit_p + e2e_p))
failed=$((unit_f + e2e_f))
((ctest_status == 0 && failed == 0)) || status=1
echo "unit: $unit_p passed, $unit_f failed, $unit_s skipped; e2e: $e2e_p passed, $e2e_f failed, $e2e_s skipped"
echo "run-all: normal run took ${SECONDS}s"

# Runs one assurance phase (its output also in BUILD/phase-NAME.log) and adds the
# counts of its own closing "WORD: N passed, M failed" line; a phase that
# ends without that line counts as one failure.
phase_run() {  # NAME COMMAND...
    local name=$1 log="$BUILD/phase-$1.log" started=$SECONDS phase_status p f
    shift
    set +e
    "$@" 2>&1 | tee "$log"
    phase_status=${PIPESTATUS[0]}
    set -e
    read -r p f < <(sed -nE 's/^[a-z]+: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$log" | tail -1) || true
    if [[ -z ${p:-} ]]; then
        echo "run-all: the $name phase ended without its count line (status $phase_status)" >&2
        p=0
        f=1
    fi
    ((phase_status == 0 && f == 0)) || status=1
    passed=$((passed + p))
    failed=$((failed + f))
    echo "run-all: $name phase: $p passed, $f failed, took $((SECONDS - started))s"
}

# A phase that is one check: passed when COMMAND exits 0. Its output is in
# BUILD/NAME.log, and its tail is shown when it fails.
check_run() {  # NAME WHAT COMMAND...
    local name=$1 what=$2 log="$BUILD/$1.log" started=$SECONDS
    shift 2
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "run-all: $what: 1 passed, 0 failed, took $((SECONDS - started))s"
    else
        failed=$((failed + 1))
        status=1
        tail -n 30 "$log"
        echo "run-all: $what: 0 passed, 1 failed, took $((SECONDS - started))s [log: $log]"
    fi
}

phase_run fuzz bash "$ROOT/tests/fuzz/run.sh" -b "$BUILD-libfuzzer" -s "${TMUXGUARD_FUZZ_SECONDS:-45}" all
phase_run sanitize env TMUXGUARD_TEST_PREFIX="$PREFIX" bash "$ROOT/tests/sanitize.sh" all
# The benchmarks once with tiny counts: it proves the harnesses work and
# asserts nothing about speed.
check_run bench-short "bench phase (--short)" bash "$ROOT/bench/run.sh" --short
phase_run package env TMUXGUARD_PKG_OUT="$BUILD-deb" bash "$ROOT/tests/package/run.sh"
check_run rpm "rpm phase (rpmspec -P, rpmbuild -bb)" bash "$ROOT/packaging/rpm/build-rpm.sh" --build "$BUILD-rpm"
echo "run-all: everything took ${SECONDS}s"
finish "$status" "$passed" "$failed"
