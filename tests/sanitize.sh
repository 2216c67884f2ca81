#!/usr/bin/env bash
# The sanitizer phases of CI (issue 7); tests/run-all.sh runs them after the
# normal run, as root.
#
#   TMUXGUARD_TEST_PREFIX=/opt/tmuxguard-test[-NAME] tests/sanitize.sh [asan|valgrind|all]
#
# asan      An ASan+UBSan build of the whole project (g++, every finding
#           fatal) in build-test[-NAME]-asan with its own install prefix,
#           /opt/tmuxguard-test-asan (/opt/tmuxguard-test-NAMEasan beside a
#           NAME prefix), then:
#           - the probe: a memory error and an integer overflow in a setgid
#             process with the wrapper's own state and confinement, run as
#             another user, must still be reported (tg_sanitize_probe);
#           - every unit test (ctest), then the whole e2e suite, which
#             installs the sanitized build into its prefix and runs the
#             sanitized setgid wrapper, CLI and PAM module;
#           - every report the sanitized programs wrote to the report
#             directory (ASan's log_path, baked into the build) is a failure,
#             so a finding in a program whose stderr a test ignores is seen.
#           The e2e tests that cannot hold for a sanitized build are listed
#           in E2E_NOT_UNDER_ASAN below, each with its reason; they run in
#           the normal run, and the count of excluded tests is printed.
# valgrind  memcheck over every unit test binary of the normal build
#           (build-test[-NAME]/tests/tg_test_*): --error-exitcode, full leak
#           check with definite leaks as errors, forked children included
#           (a child with an error exits 99, which its test sees). Tests
#           that cannot run under valgrind are listed in
#           UNIT_NOT_UNDER_VALGRIND with their reasons (the ASan phase runs
#           them); the count is printed. tests/fuzz/valgrind.supp lists the
#           two places where valgrind does not model the kernel.
#
# Prints one line per phase and "sanitize: N passed, M failed" (GoogleTest
# cases, plus one per probe check); a skipped test counts as failed. Exits 1
# on any failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib.sh"
PREFIX=${TMUXGUARD_TEST_PREFIX:-/opt/tmuxguard-test}
[[ $PREFIX =~ ^/opt/tmuxguard-test(-([a-z0-9]+))?$ ]] ||
    { echo "sanitize: TMUXGUARD_TEST_PREFIX must be /opt/tmuxguard-test[-NAME]" >&2; exit 1; }
NAME=${BASH_REMATCH[2]}
SUFFIX=${PREFIX#/opt/tmuxguard-test}
BUILD="$ROOT/build-test$SUFFIX"
ABUILD="$BUILD-asan"
# The e2e suite installs only into /opt/tmuxguard-test[-NAME] (one level).
APREFIX=/opt/tmuxguard-test-${NAME}asan
REPORTS=/var/tmp/tmuxguard-sanitize$SUFFIX
PHASE=${1:-all}

# E2E tests that cannot hold for the sanitized build, with the reason; each
# runs in the normal build's run.
E2E_NOT_UNDER_ASAN=(
    # ASan has no static runtime: the sanitized wrapper is a dynamic PIE.
    "E2E.WrapperIsStaticAndNeverLoadsNss"
    # The sanitized build has no FORTIFY (it hides accesses from ASan) and
    # a dynamic wrapper; the hardening flags are the release build's.
    "E2E.InstalledProgramsAreHardened"
)
# Unit tests that cannot run under valgrind 3.19 (Debian 12), as
# "BINARY:TEST", with the reason; each runs in the normal run and under ASan.
UNIT_NOT_UNDER_VALGRIND=(
    # run_as makes its child with clone3(CLONE_PIDFD) and exit_signal 0, with
    # no fallback by design; valgrind answers clone3 with ENOSYS.
    "tg_test_run_as:RunAs.*"
    # The confinement itself: valgrind does not know the seccomp(2) and
    # landlock_* system calls, nor openat2, fchmodat2 and setxattrat (it
    # answers ENOSYS where the filter answers EPERM), performs exec itself,
    # and cannot run a foreign-ABI (i386, x32) system call.
    "tg_test_confine:Confine.Clause2a_ExecveFailsWithEperm"
    "tg_test_confine:Confine.Clause2a_ExecveatOfAnotherDescriptorOrFlagsFails"
    "tg_test_confine:Confine.Clause3_FilesOutsideTheSystemTreesCannotBeRead"
    "tg_test_confine:Confine.Clause3_OpenByHandleForWritingIsDeniedByLandlock"
    "tg_test_confine:Confine/ConfineFileOp.Clause2d_FailsWithEpermAndChangesNothing/fchmodat2"
    "tg_test_confine:Confine/ConfineFileOp.Clause2d_FailsWithEpermAndChangesNothing/openat2_even_read_only"
    "tg_test_confine:Confine/ConfineFileOp.Clause2d_FailsWithEpermAndChangesNothing/setxattrat_posix_acl"
    "tg_test_confine:ConfineArch.*"
    "tg_test_confine:ConfineLandlock.*"
    "tg_test_confine:ConfineStatus.Clause1_AnUnprivilegedCallerIsConfined"
    # The relay stopping itself for job control (SIGTSTP/SIGSTOP to the
    # process valgrind runs), and a client exec'd through a descriptor under
    # the filter from a setgid-like process: valgrind delivers signals and
    # performs exec itself.
    "tg_test_relay:RelayRun.Clause3_StoppedClientStopsTheRelayWithTheTerminalRestored"
    "tg_test_relay:RelayRun.Clause3_ClientSuspendingItselfWithSigtstpStopsTheRelay"
    "tg_test_relay:RelayRun.Clause3_SigtstpToTheRelayRestoresTheTerminalAndStops"
    "tg_test_relay:RelayRun.Clause3_RelayWorksConfined"
    "tg_test_relay:RelayRun.Monitor_GivesUpTheGateAndTheClientKeepsIt"
    # A signal to the relay must hang up the client within the test's
    # bounded wait (2 s); valgrind's slowdown on a busy machine exceeds it
    # (seen in CI-like runs: the client was SIGKILLed by the test, 137).
    "tg_test_relay:Relay/RelaySignal.Clause3_TerminalRestoredAndClientHungUp/*"
    "tg_test_relay:RelayRun.Clause3_GuestTerminalGoneHangsUpTheClient"
)

passed=0
failed=0

die() {
    echo "sanitize: $*" >&2
    exit 1
}

count() {  # ok|fail [N]
    local n=${2:-1}
    if [[ $1 == ok ]]; then passed=$((passed + n)); else failed=$((failed + n)); fi
}

# "passed failed skipped" of a ctest log, one ctest test per GoogleTest case.
ctest_count() {  # LOG
    awk '/^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: / {
            if ($0 ~ /\*\*\*Skipped/ || $0 ~ / Skipped /) s++
            else if ($0 ~ / Passed +[0-9.]+ sec/) p++
            else f++
         }
         END { printf "%d %d %d\n", p, f, s }' "$1"
}

# ---------------------------------------------------------------- asan

asan_configure_build() {
    cmake -S "$ROOT" -B "$ABUILD" -G Ninja \
        -DCMAKE_INSTALL_PREFIX="$APREFIX" \
        -DCMAKE_INSTALL_SYSCONFDIR="$APREFIX/etc" \
        -DCMAKE_INSTALL_LOCALSTATEDIR="$APREFIX/var" \
        -DTMUXGUARD_WERROR=ON \
        -DTMUXGUARD_SANITIZE=address,undefined \
        -DTMUXGUARD_SANITIZE_LOG_DIR="$REPORTS" >/dev/null &&
        cmake --build "$ABUILD"
}

# A fresh report directory: any user may create a report in it (the e2e
# tests run programs as their own accounts), nobody but root may list it.
reports_reset() {
    rm -rf -- "$REPORTS"
    mkdir -m 1733 "$REPORTS"
}

# Every report a sanitized program wrote is a failure, shown here.
reports_check() {  # PHASE_NAME
    local f n=0
    for f in "$REPORTS"/report*; do
        [[ -f $f ]] || continue
        n=$((n + 1))
        echo "sanitize: $1: report $f:" >&2
        head -60 "$f" | sed 's/^/    /' >&2
    done
    if ((n > 0)); then
        echo "asan: $1: $n sanitizer report(s) written" >&2
        count fail "$n"
    fi
}

# One probe run: the user `daemon` runs the probe, installed setgid nogroup
# in a directory only root and daemon can enter. Checks the first line, the
# report and the status. PROBE_ENV adds environment variables.
probe_run() {  # NAME MODE CONFINE WANT_REGEX WANT_STATUS
    local name=$1 mode=$2 confine=$3 want=$4 want_status=$5 out status
    set +e
    out=$(env -i PATH=/usr/bin:/bin ${PROBE_ENV:-} setpriv --reuid=daemon --regid=daemon --init-groups \
        -- "$PROBE_DIR/probe" "$mode" $confine 2>&1)
    status=$?
    set -e
    local secure_ok=1
    [[ $out == *"probe: at_secure=1 egid=$(getent group nogroup | cut -d: -f3) rgid=$(id -g daemon)"* ]] ||
        secure_ok=0
    if ((secure_ok)) && [[ $out =~ $want ]] && ((status == want_status)); then
        echo "asan-probe: $name: ok (status $status)"
        count ok
    else
        echo "asan-probe: $name: FAILED (status $status, wanted $want_status and /$want/ from a setgid run):" >&2
        echo "$out" | head -30 | sed 's/^/    /' >&2 || true
        count fail
    fi
}

asan_probe() {
    PROBE_DIR=$(mktemp -d /var/lib/tg-sanitize-probe.XXXXXX)
    trap 'rm -rf -- "$PROBE_DIR"' EXIT
    chmod 0700 "$PROBE_DIR"
    setfacl -m u:daemon:x "$PROBE_DIR"
    install -o root -g nogroup -m 2755 "$ABUILD/tg_sanitize_probe" "$PROBE_DIR/probe"
    probe_run "heap overflow, setgid" heap "" "ERROR: AddressSanitizer: heap-buffer-overflow" 86
    probe_run "heap overflow, setgid and confined like the wrapper" heap confine \
        "confined=1 .*ERROR: AddressSanitizer: heap-buffer-overflow" 86
    probe_run "integer overflow, setgid and confined" ubsan confine \
        "confined=1 .*runtime error: signed integer overflow" 86
    # Whether the environment still reaches ASan in a setgid process (the
    # loader ignores LD_* there, ASan reads ASAN_OPTIONS itself): a fact for
    # the report, not a test.
    local out status=0 how="ASan ignores it"
    env -i PATH=/usr/bin:/bin ASAN_OPTIONS=exitcode=77 setpriv --reuid=daemon --regid=daemon \
        --init-groups -- "$PROBE_DIR/probe" heap >/dev/null 2>&1 || status=$?
    ((status == 77)) && how="ASan reads it despite AT_SECURE: never install a sanitized setgid program outside a test prefix"
    echo "asan-probe: note: with ASAN_OPTIONS=exitcode=77 the setgid probe exits $status ($how)"
    # A leak in an ordinary (not setgid) process: the other programs keep
    # LeakSanitizer on.
    status=0
    out=$("$ABUILD/tg_sanitize_probe" leak 2>&1) || status=$?
    if [[ $out == *"ERROR: LeakSanitizer: detected memory leaks"* ]] && ((status == 86)); then
        echo "asan-probe: leak, plain process: ok (status 86)"
        count ok
    else
        echo "asan-probe: leak, plain process: FAILED (status $status):" >&2
        echo "$out" | head -20 | sed 's/^/    /' >&2 || true
        count fail
    fi
    rm -rf -- "$PROBE_DIR"
}

asan_units() {
    local log="$ABUILD/ctest-unit.log" p f s
    set +e
    ctest --test-dir "$ABUILD" -E '^e2e$' --output-on-failure >"$log" 2>&1
    local status=$?
    set -e
    read -r p f s < <(ctest_count "$log")
    if ((p + f + s == 0)); then
        echo "asan: unit: no test ran [log: $log]" >&2
        f=1
    fi
    ((status == 0 || f > 0)) || f=1
    echo "asan: unit: $p passed, $f failed, $s skipped [log: $log]"
    grep -E '^ *[0-9]+/[0-9]+ +Test +#[0-9]+: ' "$log" | grep -v ' Passed ' | sed 's/^/    /' >&2 || true
    count ok "$p"
    count fail $((f + s))
}

asan_e2e() {
    local log="$ABUILD/ctest-e2e.log" xml_dir="$ABUILD/gtest-xml" p f s filter
    rm -rf "$xml_dir"
    mkdir -p "$xml_dir"
    filter="-$(IFS=:; echo "${E2E_NOT_UNDER_ASAN[*]}")"
    set +e
    GTEST_FILTER="$filter" GTEST_OUTPUT="xml:$xml_dir/" \
        ctest --test-dir "$ABUILD" -R '^e2e$' --output-on-failure >"$log" 2>&1
    local status=$?
    set -e
    read -r p f s < <(gtest_xml_count "$xml_dir"/*.xml)
    if ((p + f + s == 0)); then
        echo "asan: e2e: no test ran [log: $log]" >&2
        f=1
    elif ((status != 0 && f == 0)); then
        echo "asan: e2e: failed outside any test case (set-up, tear-down or a crash) [log: $log]" >&2
        f=1
    fi
    echo "asan: e2e: $p passed, $f failed, $s skipped; not run under ASan: ${#E2E_NOT_UNDER_ASAN[@]} (${E2E_NOT_UNDER_ASAN[*]}) [log: $log]"
    count ok "$p"
    count fail $((f + s))
}

phase_asan() {
    local started=$SECONDS
    if ! asan_configure_build; then
        echo "asan: build failed" >&2
        count fail
        return
    fi
    echo "asan: built in $((SECONDS - started))s"
    reports_reset
    local t=$SECONDS
    asan_probe
    asan_units
    reports_check unit
    echo "asan: unit phase took $((SECONDS - t))s"
    reports_reset
    t=$SECONDS
    asan_e2e
    reports_check e2e
    echo "asan: e2e phase took $((SECONDS - t))s"
    rm -rf -- "$REPORTS"
    echo "asan: phase took $((SECONDS - started))s"
}

# ---------------------------------------------------------------- valgrind

# The negative --gtest_filter for one binary under valgrind.
valgrind_filter_of() {  # BINARY_NAME
    local entry out=""
    for entry in "${UNIT_NOT_UNDER_VALGRIND[@]}"; do
        [[ ${entry%%:*} == "$1" ]] && out+="${out:+:}${entry#*:}"
    done
    echo "$out"
}

phase_valgrind() {
    local started=$SECONDS bin name filter vdir="$BUILD/valgrind" p f s total_excluded=0
    [[ -d $BUILD/tests ]] || die "$BUILD/tests does not exist: run tests/run-all.sh (the normal run) first"
    rm -rf "$vdir"
    mkdir -p "$vdir"
    local any=0
    for bin in "$BUILD"/tests/tg_test_*; do
        [[ -x $bin ]] || continue
        any=1
        name=$(basename "$bin")
        filter=$(valgrind_filter_of "$name")
        local args=("--gtest_output=xml:$vdir/$name.xml")
        [[ -n $filter ]] && args+=("--gtest_filter=-$filter")
        local t=$SECONDS status=0
        set +e
        valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
            --show-leak-kinds=definite --errors-for-leak-kinds=definite \
            --suppressions="$ROOT/tests/fuzz/valgrind.supp" \
            --trace-children=no --log-file="$vdir/$name.%p.valgrind" \
            "$bin" "${args[@]}" >"$vdir/$name.out" 2>&1
        status=$?
        set -e
        read -r p f s < <(gtest_xml_count "$vdir/$name.xml")
        local errors
        errors=$(grep -h "ERROR SUMMARY: [1-9]" "$vdir/$name".*.valgrind | wc -l || true)
        local excluded=0
        [[ -n $filter ]] && excluded=$("$bin" --gtest_list_tests --gtest_filter="$filter" | grep -c '^  ' || true)
        total_excluded=$((total_excluded + excluded))
        if ((p + f + s == 0 && excluded == 0)); then
            f=1  # nothing ran and nothing was meant not to
        elif ((status != 0 && f == 0)); then
            f=1  # valgrind's error exit, or a crash outside any test case
        fi
        echo "valgrind: $name: $p passed, $f failed, $s skipped, $excluded not under valgrind;" \
             "status $status, $errors process(es) with errors, $((SECONDS - t))s"
        if ((status != 0)); then
            { grep -l "ERROR SUMMARY: [1-9]" "$vdir/$name".*.valgrind 2>/dev/null || true; } | head -3 |
                while read -r v; do
                    echo "    $v:" >&2
                    { grep -E "^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|[0-9,]+ bytes in|   at|   by)" "$v" || true; } |
                        head -20 | sed 's/^/    /' >&2
                done
            { grep -E "^\[  FAILED  \]" "$vdir/$name.out" || true; } | head -10 | sed 's/^/    /' >&2
        fi
        count ok "$p"
        count fail $((f + s))
    done
    ((any)) || { echo "valgrind: no unit test binary in $BUILD/tests" >&2; count fail; }
    echo "valgrind: $total_excluded test(s) not run under valgrind (UNIT_NOT_UNDER_VALGRIND in $0 says why; the normal and ASan runs run them)"
    echo "valgrind: phase took $((SECONDS - started))s"
}

[[ $(id -u) -eq 0 ]] || die "must run as root (the e2e tests and the probe create accounts and setgid files)"
case $PHASE in
asan) phase_asan ;;
valgrind) phase_valgrind ;;
all) phase_asan; phase_valgrind ;;
*) die "unknown phase $PHASE (asan, valgrind or all)" ;;
esac
echo "sanitize: $passed passed, $failed failed"
((failed == 0))
