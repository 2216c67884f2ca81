#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz, replays every seed corpus and
# saved regression, and fuzzes each target for a bounded time.
#
#   tests/fuzz/run.sh [-b BUILD_DIR] [-s SECONDS] [-t "TARGET ..."] [COMMAND]
#
# COMMAND is one of
#   all       build, replay, fuzz (the default; what CI runs)
#   build     configure BUILD_DIR with -DTMUXGUARD_FUZZ=ON and build `fuzz`
#   replay    run every input of corpus/TARGET and regressions/TARGET once
#   fuzz      fuzz each target for SECONDS (default 60, or
#             $TMUXGUARD_FUZZ_SECONDS) from a copy of its corpus
#   merge     add the inputs the last `fuzz` found that cover something new
#             to corpus/TARGET (for developers; CI never writes the tree)
#   seed-compiled  refresh corpus/compiled from the policy corpus, through
#             the real compiler (fuzz_policy with TG_FUZZ_COMPILED_OUT)
#
# BUILD_DIR defaults to build-fuzz/ in the tree. Crashes are saved as
# BUILD_DIR/artifacts/TARGET-crash-*; to keep one as a regression test, copy
# it to tests/fuzz/regressions/TARGET/ (replayed on every run).
# fuzz_acl_eval asks the kernel as other users, so it needs root.
#
# Prints one line per replay and per fuzz run, then "fuzz: N passed, M
# failed"; exits 1 if anything failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD="$ROOT/build-fuzz"
SECONDS_EACH=${TMUXGUARD_FUZZ_SECONDS:-60}
TARGETS=""
COMMAND=all

while getopts "b:s:t:" opt; do
    case $opt in
    b) BUILD=$OPTARG ;;
    s) SECONDS_EACH=$OPTARG ;;
    t) TARGETS=$OPTARG ;;
    *) echo "usage: $0 [-b BUILD_DIR] [-s SECONDS] [-t TARGETS] [all|build|replay|fuzz|merge|seed-compiled]" >&2
       exit 2 ;;
    esac
done
shift $((OPTIND - 1))
(($# <= 1)) || { echo "run.sh: one command at most" >&2; exit 2; }
COMMAND=${1:-all}
[[ $SECONDS_EACH =~ ^[0-9]+$ ]] || { echo "run.sh: -s takes whole seconds" >&2; exit 2; }
if [[ -z $TARGETS ]]; then
    TARGETS=$(cd "$HERE" && ls fuzz_*.cpp | sed 's/^fuzz_//; s/\.cpp$//' | tr '\n' ' ')
fi
OUT="$BUILD/tests/fuzz"
WORK="$BUILD/fuzz-work"
ARTIFACTS="$BUILD/artifacts"
RESULTS="$BUILD/fuzz-results.txt"
passed=0
failed=0

result() {  # result ok|fail LINE
    if [[ $1 == ok ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    echo "$2" | tee -a "$RESULTS"
}

fuzz_build() {
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DTMUXGUARD_FUZZ=ON -DTMUXGUARD_TESTS=OFF \
        -DTMUXGUARD_WERROR=ON >/dev/null
    cmake --build "$BUILD" --target fuzz
}

# Options every run shares: a bounded input, a per-input time limit, and a
# memory limit, so a slow or greedy input is a finding, not a hang.
common_flags() {  # TARGET
    local flags=(-timeout=10 -rss_limit_mb=2048)
    [[ -f $HERE/dict/$1.dict ]] && flags+=("-dict=$HERE/dict/$1.dict")
    echo "${flags[@]}"
}

# fuzz_acl_eval makes /var/lib/tg-fuzz-acl.PID.*; remove what a run that
# ended by a crash left behind.
acl_leftovers_remove() {  # PID
    local d
    for d in /var/lib/tg-fuzz-acl."$1".*; do
        [[ -d $d ]] && rm -rf -- "$d"
    done
    return 0
}

replay_one() {  # TARGET
    local t=$1 dirs=("$HERE/corpus/$t") log="$WORK/$t.replay.log" n status
    [[ -d $HERE/regressions/$t ]] && dirs+=("$HERE/regressions/$t")
    n=$(find "${dirs[@]}" -type f | wc -l)
    set +e
    # shellcheck disable=SC2046
    mkdir -p "$ARTIFACTS"
    "$OUT/fuzz_$t" $(common_flags "$t") -runs=0 -artifact_prefix="$ARTIFACTS/replay-$t-" "${dirs[@]}" \
        >"$log" 2>&1 &
    local pid=$!
    wait $pid
    status=$?
    set -e
    [[ $t == acl_eval ]] && acl_leftovers_remove $pid
    if ((status == 0)) && grep -q "DONE\|Done" "$log"; then
        result ok "fuzz-replay: $t: ok ($n inputs)"
    else
        result fail "fuzz-replay: $t: FAILED (status $status, $n inputs): $(grep -m1 -E 'PROPERTY FAILED|ERROR:|runtime error' "$log" || true) [log: $log]"
    fi
}

# One bounded run from a fresh copy of the corpus; the repository's corpus
# is never written.
fuzz_one() {  # TARGET
    local t=$1 corpus="$WORK/$t" log="$WORK/$t.fuzz.log" status
    rm -rf "$corpus"
    mkdir -p "$corpus" "$ARTIFACTS"
    cp "$HERE/corpus/$t"/* "$corpus"/ 2>/dev/null || true
    local started=$SECONDS
    set +e
    # shellcheck disable=SC2046
    "$OUT/fuzz_$t" $(common_flags "$t") -max_total_time="$SECONDS_EACH" -max_len=8192 -print_final_stats=1 \
        -artifact_prefix="$ARTIFACTS/$t-" "$corpus" >"$log" 2>&1 &
    local pid=$!
    wait $pid
    status=$?
    set -e
    [[ $t == acl_eval ]] && acl_leftovers_remove $pid
    local took=$((SECONDS - started))
    local execs rate cov ft new
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    new=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
    local line="fuzz: $t: ${execs:-?} executions in ${took}s (${rate:-?}/s), ${cov:-no coverage line}, ${new:-?} new inputs"
    if ((status == 0)) && [[ -n $execs ]]; then
        result ok "$line"
    else
        local art
        art=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //' || true)
        result fail "$line; FAILED (status $status): $(grep -m1 -E 'PROPERTY FAILED|ERROR:|runtime error' "$log" || true) artifact: ${art:-none} [log: $log]"
    fi
}

merge_one() {  # TARGET
    local t=$1
    [[ -d $WORK/$t ]] || { echo "fuzz-merge: $t: nothing to merge (run fuzz first)"; return; }
    "$OUT/fuzz_$t" -merge=1 "$HERE/corpus/$t" "$WORK/$t" >"$WORK/$t.merge.log" 2>&1
    echo "fuzz-merge: $t: $(grep -oE 'MERGE-OUTER: [0-9]+ new files' "$WORK/$t.merge.log" | tail -1)"
}

targets_check() {
    local t
    for t in $TARGETS; do
        [[ -x $OUT/fuzz_$t ]] || { echo "run.sh: $OUT/fuzz_$t is not built (run.sh build)" >&2; exit 1; }
    done
}

mkdir -p "$WORK"
case $COMMAND in
build)
    fuzz_build
    exit 0 ;;
all)
    fuzz_build || { echo "fuzz: 0 passed, 1 failed"; exit 1; } ;;
replay | fuzz | merge | seed-compiled) ;;
*)
    echo "run.sh: unknown command $COMMAND" >&2
    exit 2 ;;
esac
targets_check
: >"$RESULTS"
case $COMMAND in
merge)
    for t in $TARGETS; do merge_one "$t"; done
    exit 0 ;;
seed-compiled)
    TG_FUZZ_COMPILED_OUT="$HERE/corpus/compiled" "$OUT/fuzz_policy" -runs=0 "$HERE/corpus/policy" \
        >"$WORK/seed-compiled.log" 2>&1
    echo "fuzz: corpus/compiled now has $(find "$HERE/corpus/compiled" -type f | wc -l) inputs"
    exit 0 ;;
esac
if [[ $COMMAND == all || $COMMAND == replay ]]; then
    for t in $TARGETS; do replay_one "$t"; done
fi
if [[ $COMMAND == all || $COMMAND == fuzz ]]; then
    for t in $TARGETS; do fuzz_one "$t"; done
fi
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
