# Shell helpers shared by the repository's scripts (quickstart, tests,
# benchmarks, the package test). Source it; it defines functions only.

# deps_install NAME PACKAGE...: apt-get installs the Debian packages that are
# not installed yet (nothing runs when all are), saying which on stderr as
# "NAME: installing ...". Fails when apt-get fails.
deps_install() {
    local name=$1 missing=() p
    shift
    command -v dpkg-query >/dev/null || { echo "$name: expects Debian 12 (dpkg/apt)" >&2; return 1; }
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    echo "$name: installing missing packages: ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" </dev/null >&2
}

# gtest_xml_count FILE...: "passed failed skipped" over GoogleTest XML
# reports; a test that was skipped, not run or suppressed counts as skipped.
gtest_xml_count() {
    awk '/<testcase / {
            skip = ($0 ~ /result="skipped"/ || $0 ~ /status="notrun"/ || $0 ~ /result="suppressed"/)
            if ($0 ~ /\/>[[:space:]]*$/) { if (skip) s++; else p++; next }
            open = 1; failed = 0; next
         }
         open && /<failure/ { failed = 1 }
         open && /<skipped/ { skip = 1 }
         open && /<\/testcase>/ { if (failed) f++; else if (skip) s++; else p++; open = 0 }
         END { printf "%d %d %d\n", p, f, s }' "$@" /dev/null
}
