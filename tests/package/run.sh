#!/usr/bin/env bash
# The Debian package test (issue 6): build, install, use, upgrade, remove and
# purge the packages, the way an admin would, without touching this machine.
#
#   tests/package/run.sh        (as root; tests/run-all.sh runs it as a phase)
#
# 1. On the host: packaging/build-deb.sh builds revision R (changelog) and
#    R+1 (the same source, for the upgrade) into build-deb/ (or
#    $TMUXGUARD_PKG_OUT), reusing the last build; lintian must report no
#    error and no warning that packaging/debian/README.lintian does not
#    explain.
# 2. Everything else runs in a private mount and pid namespace
#    (unshare --mount --pid --fork --propagation private), chrooted into an
#    overlayfs whose lower layer is the machine's / and whose upper and work
#    layers are on a tmpfs of the namespace, with a fresh /proc, /dev/pts,
#    /dev/shm, /run and /tmp: accounts, /etc/pam.d, the dpkg database and
#    every file the packages write live in the overlay only, and all of it,
#    every process included, vanishes when the namespace's first process
#    ends, even after a crash. Only the results file (in the scratch
#    directory, removed at the end) crosses back.
#
# One line per check (PASS NAME / FAIL NAME: why), then exactly
# `package: N passed, M failed`; exit 1 on any failure. A check that cannot
# run is a failure, never a skip.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/scripts/lib.sh"
SELF="$ROOT/tests/package/run.sh"
OUT=${TMUXGUARD_PKG_OUT:-$ROOT/build-deb}
# What the host needs: the build (Build-Depends, dpkg-dev, lintian) and the
# packages' own dependencies, so that apt-get in the chroot never downloads.
DEPS=(debhelper dpkg-dev lintian cmake libacl1-dev libpam0g-dev libseccomp-dev nettle-dev
      adduser tmux libpam-runtime pamtester acl systemd man-db util-linux passwd)
# Test accounts exist in the overlay only; their uids in a range of their own.
OWNER=tgpkg-owner
VIEWER=tgpkg-viewer
OTHER=tgpkg-other
SHARE=tgpkg
MARKER="# tmuxguard grant: written by 'tmuxguard grant', removed by 'tmuxguard revoke'; do not edit"

# ------------------------------------------------------------------ reporting

RESULTS=

# Records and prints one check: check_report NAME OK|FAIL [WHY].
check_report() {
    local name=$1 verdict=$2 why=${3:-}
    if [[ $verdict == OK ]]; then
        echo "PASS $name"
        echo P >>"$RESULTS"
    else
        echo "FAIL $name: ${why//$'\n'/ | }"
        echo F >>"$RESULTS"
    fi
}

# Runs the check function `fn` (named NAME): it prints why on failure.
check() {
    local name=$1 fn=$2 why status=0
    why=$("$fn" 2>&1) || status=$?
    if ((status == 0)); then
        check_report "$name" OK
    else
        check_report "$name" FAIL "${why:-status $status}"
    fi
}

# Prints the count line and exits.
finish() {
    local passed failed
    passed=$(grep -c '^P$' "$RESULTS" || true)
    failed=$(grep -c '^F$' "$RESULTS" || true)
    echo "package: $passed passed, $failed failed"
    ((failed == 0 && passed > 0)) || exit 1
    exit 0
}

# ------------------------------------------------------------------ host side

# The Debian revision of the first changelog entry.
base_revision() {
    sed -nE '1s/^tmuxguard \([^)]*-([0-9]+)\) .*/\1/p' "$ROOT/packaging/debian/changelog"
}

# Builds revision $1 into OUT; the build's output is in SCRATCH/build-$1.log.
deb_build() {
    local rev=$1 started=$SECONDS
    if bash "$ROOT/packaging/build-deb.sh" --revision "$rev" "$OUT" >"$SCRATCH/build-$rev.log" 2>&1; then
        echo "package: built revision $rev in $((SECONDS - started))s"
        return 0
    fi
    tail -n 40 "$SCRATCH/build-$rev.log"
    return 1
}

# Every lintian W: tag of the builds is explained in README.lintian.
lintian_known() {
    local known tag bad=0
    known=$(sed -nE 's/^W: ([a-z0-9-]+).*/\1/p' "$ROOT/packaging/debian/README.lintian")
    for tag in $(sed -nE 's/^W: [a-z0-9-]+( [a-z]+)?: ([a-z0-9-]+).*/\2/p' "$SCRATCH"/build-*.log | sort -u); do
        if ! grep -qx "$tag" <<<"$known"; then
            echo "lintian warning $tag is not explained in packaging/debian/README.lintian"
            bad=1
        fi
    done
    return "$bad"
}

host_main() {
    local started=$SECONDS rev1 rev2 status=0 arch
    [[ $(id -u) -eq 0 ]] || { echo "package: must run as root (dpkg-buildpackage, unshare, chroot)" >&2; exit 1; }
    SCRATCH=$(mktemp -d /var/lib/tmuxguard-pkg-test.XXXXXX)
    trap 'rm -rf "$SCRATCH"' EXIT
    RESULTS=$SCRATCH/results
    : >"$RESULTS"
    deps_install package "${DEPS[@]}" || { check_report deps FAIL "apt-get install of ${DEPS[*]} failed"; finish; }
    rev1=$(base_revision)
    rev2=$((rev1 + 1))
    arch=$(dpkg --print-architecture)
    if deb_build "$rev1"; then check_report build-revision-$rev1 OK; else check_report build-revision-$rev1 FAIL "see above"; finish; fi
    if deb_build "$rev2"; then check_report build-revision-$rev2 OK; else check_report build-revision-$rev2 FAIL "see above"; finish; fi
    grep -hE '^[EW]: ' "$SCRATCH"/build-*.log | sort -u | sed 's/^/package: lintian: /' || true
    check lintian-warnings-explained lintian_known
    echo "package: builds took $((SECONDS - started))s"
    unshare --mount --pid --fork --propagation private -- \
        bash "$SELF" --inside "$OUT" "$SCRATCH" "$rev1" "$rev2" "$arch" </dev/null || status=$?
    if [[ ! -f $SCRATCH/inside-done ]]; then
        check_report namespace FAIL "the namespace part ended early (status $status)"
    fi
    echo "package: everything took $((SECONDS - started))s"
    finish
}

# ------------------------------------------------------------ namespace side

R=          # the chroot (overlay merged dir)
UP=         # the overlay's upper dir
SNAP=       # snapshot files (on the namespace's tmpfs, outside the chroot)
V1=''       # the two package versions
V2=''
DEBS=/tmp/debs   # in the chroot

# Runs a command in the chroot with a clean environment, bounded in time.
in_root() {
    timeout 300 chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        LANG=C.UTF-8 TERM=xterm DEBIAN_FRONTEND=noninteractive "$@"
}

# Runs a command in the chroot as user $1.
as_user() {
    local user=$1
    shift
    in_root runuser -u "$user" -- "$@"
}

# Sets up the overlay root and its fresh mounts (see the header).
sandbox_make() {
    local ns=$SCRATCH/ns
    mkdir -p "$ns"
    mount -t tmpfs -o mode=0700,size=4g tgpkg "$ns"
    mkdir -p "$ns/up" "$ns/work" "$ns/root" "$ns/snap"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$ns/up,workdir=$ns/work" "$ns/root"
    R=$ns/root
    UP=$ns/up
    SNAP=$ns/snap
    mount -t proc proc "$R/proc"
    mount --bind /dev "$R/dev"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
    mount --bind "$R/dev/pts/ptmx" "$R/dev/ptmx"
    mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
    mount -t tmpfs -o mode=0755 tmpfs "$R/run"
    mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
    mkdir -p "$R/run/lock" "$R$DEBS"
    chmod 1777 "$R/run/lock"
}

# Copies the two revisions' .debs into the chroot's /tmp.
debs_copy() {
    local out=$1 arch=$2 v
    for v in "$V1" "$V2"; do
        cp "$out/tmuxguard_${v}_$arch.deb" "$out/libpam-tmuxguard_${v}_$arch.deb" "$R$DEBS/"
    done
}

# The overlay starts as the machine: tmuxguard is not installed there.
sandbox_clean() {
    ! in_root dpkg-query -W -f='${Status}' tmuxguard 2>/dev/null | grep -q installed ||
        { echo "tmuxguard is installed on this machine: the test would start from it"; return 1; }
    ! in_root getent group tmuxguard >/dev/null ||
        { echo "the group tmuxguard exists on this machine"; return 1; }
    [[ -d $R/etc && -x $R/usr/bin/dpkg && -c $R/dev/null ]]
}

# Test accounts (overlay only) and a PAM service that includes common-session.
accounts_make() {
    local u
    for u in "$OWNER" "$VIEWER" "$OTHER"; do
        in_root useradd -m -s /bin/sh -K UID_MIN=62000 -K UID_MAX=62999 \
            -K GID_MIN=62000 -K GID_MAX=62999 "$u"
    done
    printf '%s\n' 'auth required pam_permit.so' 'account required pam_permit.so' \
        '@include common-session' >"$R/etc/pam.d/tgpkg-login"
    printf '%s\n' 'set -g status off' 'set -g remain-on-exit on' >"$R/tmp/outer.conf"
    chmod 0644 "$R/tmp/outer.conf"
}

# "TYPE MODE UID GID [SHA256 | -> TARGET | MAJ:MIN] [ACL]" of path $1 (the
# ACL only when it has more than the mode's entries), or "absent".
path_state() {
    local p=$1 s
    if [[ ! -e $p && ! -L $p ]]; then
        echo absent
        return
    fi
    s=$(stat -c '%F %a %u %g' -- "$p")
    if [[ -L $p ]]; then
        s+=" -> $(readlink -- "$p")"
        echo "$s"
        return
    elif [[ -f $p ]]; then
        s+=" $(sha256sum <"$p" | cut -c1-64)"
    elif [[ -c $p || -b $p ]]; then
        s+=" $(stat -c '%t:%T' -- "$p")"
    fi
    s+=" $(getfacl -cpsn --absolute-names -- "$p" 2>/dev/null | grep . | tr '\n' ',')"
    echo "$s"
}

# Paths the comparison ignores: bookkeeping of the package tools, each with
# the reason it changes although nothing of tmuxguard is left.
IGNORED=(
    /var/lib/dpkg        # dpkg's database: status, info/, triggers, available (the statoverride file is compared on its own)
    /var/log/dpkg.log    # dpkg's log of what it did
    /var/log/apt         # apt's history and terminal logs
    /var/cache/apt       # apt's package caches, rebuilt for the local .debs
    /var/cache/debconf/config.dat-old   # debconf's backup of its database, rewritten when pam-auth-update reads it
    /var/cache/man       # man-db's index (its trigger) and formatted-page cache (written by `man` in the man-pages check)
    /etc/passwd-         # shadow's backup copies, rewritten by useradd, addgroup and delgroup;
    /etc/group-          #   the real files are compared byte for byte (accounts-unchanged)
    /etc/shadow-
    /etc/gshadow-
)

# Whether path $1 is ignored.
path_ignored() {
    local i
    for i in "${IGNORED[@]}"; do
        [[ $1 == "$i" || $1 == "$i"/* ]] && return 0
    done
    return 1
}

# Every path in the upper layer, but the ignored ones.
upper_paths() {
    local p
    (cd "$UP" && find . -mindepth 1 -printf '/%P\n') | sort | while IFS= read -r p; do
        path_ignored "$p" || echo "$p"
    done
}

# The snapshot before install: each upper path's state in the merged view,
# the account files, the PAM stacks and the statoverride list.
snapshot_take() {
    local p f
    upper_paths | while IFS= read -r p; do
        printf '%s\t%s\n' "$p" "$(path_state "$R$p")"
    done >"$SNAP/state"
    for f in passwd group shadow gshadow pam.d/common-session pam.d/common-session-noninteractive; do
        cp -p "$R/etc/$f" "$SNAP/${f//\//_}"
    done
    in_root dpkg-statoverride --list >"$SNAP/statoverride"
}

# Changes since the snapshot, outside the ignored paths: a path the upper
# layer holds now or held then whose state differs; a path new in the upper
# layer is compared with the machine's own file (the lower layer).
changes_since_snapshot() {
    local p before after n=0
    declare -A was=()
    while IFS=$'\t' read -r p before; do was[$p]=$before; done <"$SNAP/state"
    while IFS= read -r p; do
        before=${was[$p]:-$(path_state "$p")}
        after=$(path_state "$R$p")
        if [[ $before != "$after" ]]; then
            echo "$p: was '$before', now '$after'"
            n=$((n + 1))
        fi
    done < <( (cut -f1 "$SNAP/state"; upper_paths) | sort -u)
    return $((n > 0))
}

# The record of the log with all of the given substrings.
log_has() {
    local log=$R/var/log/tmuxguard/decisions.log
    awk -v n=$# 'BEGIN { for (i = 1; i <= n; i++) want[i] = ARGV[i + 1]; ARGC = 1 }
                 { ok = 1; for (i = 1; i <= n; i++) if (index($0, want[i]) == 0) ok = 0
                   if (ok) { found = 1 } }
                 END { exit !found }' "$@" <"$log"
}

uid_of() { in_root id -u "$1"; }

# Waits (10 s at most) until command "$@" succeeds.
wait_for() {
    local i
    for ((i = 0; i < 100; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# ------------------------------------------------------------------ checks

# apt-get install of both packages: no download, no word from our scripts.
c_install() {
    local out
    out=$(in_root apt-get install -y --no-install-recommends \
        "$DEBS/tmuxguard_${V1}_$ARCH.deb" "$DEBS/libpam-tmuxguard_${V1}_$ARCH.deb" 2>&1) ||
        { echo "$out" | tail -n 20; return 1; }
    ! grep -E '^Get:' <<<"$out" | grep -v " $DEBS/" || { echo "apt-get downloaded something"; return 1; }
    ! grep -E '^(tmuxguard|libpam-tmuxguard): ' <<<"$out" || return 1
    [[ $(in_root dpkg-query -W -f='${Version} ${Status}' tmuxguard) == "$V1 install ok installed" ]]
}

# The wrapper is root:tmuxguard 2755, through dpkg-statoverride.
c_wrapper() {
    local st over
    st=$(in_root stat -c '%U:%G %a' /usr/bin/tmuxguard-attach)
    [[ $st == "root:tmuxguard 2755" ]] || { echo "wrapper is $st"; return 1; }
    over=$(in_root dpkg-statoverride --list /usr/bin/tmuxguard-attach)
    [[ $over == "root tmuxguard 2755 /usr/bin/tmuxguard-attach" ]] || { echo "statoverride: '$over'"; return 1; }
}

# The gate group exists and is a system group (gid below GID_MIN, 1000).
c_group() {
    local gid
    gid=$(in_root getent group tmuxguard | cut -d: -f3)
    [[ -n $gid ]] || { echo "no group tmuxguard"; return 1; }
    ((gid > 0 && gid < 1000)) || { echo "gid $gid is not a system gid"; return 1; }
}

# postinst made the state: compiled policy (valid), the log root:gate 0660
# with its head, and logged its reload.
c_state() {
    local st
    st=$(in_root stat -c '%U:%G %a' /var/lib/tmuxguard)
    [[ $st == "root:root 755" ]] || { echo "/var/lib/tmuxguard: $st"; return 1; }
    grep -q '^tmuxguard-compiled ' "$R/var/lib/tmuxguard/policy.compiled" || { echo "no compiled policy"; return 1; }
    ! grep -q '^invalid ' "$R/var/lib/tmuxguard/policy.compiled" || { echo "compiled policy is invalid"; return 1; }
    for f in decisions.log decisions.log.head; do
        st=$(in_root stat -c '%U:%G %a' "/var/log/tmuxguard/$f") || return 1
        [[ $st == "root:tmuxguard 660" ]] || { echo "$f is $st"; return 1; }
    done
    log_has '"event":"reload"' '"decision":"allow"' || { echo "no reload record"; return 1; }
}

# postinst configure again (as dpkg would after a failed run): exit 0, no
# output, nothing changed.
c_postinst_again() {
    local out before after
    before=$(in_root sh -c 'getent group tmuxguard; dpkg-statoverride --list; sha256sum /var/lib/tmuxguard/policy.compiled')
    # The environment dpkg gives a maintainer script (deb-systemd-helper checks it).
    out=$(in_root env DPKG_MAINTSCRIPT_PACKAGE=tmuxguard DPKG_MAINTSCRIPT_NAME=postinst \
        DPKG_MAINTSCRIPT_ARCH="$ARCH" DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT=1 \
        sh /var/lib/dpkg/info/tmuxguard.postinst configure "$V1" 2>&1) || { echo "$out"; return 1; }
    [[ -z $out ]] || { echo "postinst printed: $out"; return 1; }
    after=$(in_root sh -c 'getent group tmuxguard; dpkg-statoverride --list; sha256sum /var/lib/tmuxguard/policy.compiled')
    [[ $before == "$after" ]] || { echo "changed: $before -> $after"; return 1; }
}

# pam-auth-update put the module in the interactive session stack only.
c_pam_profile() {
    grep -qP '^session\toptional\tpam_tmuxguard\.so\s*$' "$R/etc/pam.d/common-session" ||
        { echo "no pam_tmuxguard line in common-session"; return 1; }
    ! grep -q pam_tmuxguard "$R/etc/pam.d/common-session-noninteractive" ||
        { echo "pam_tmuxguard in common-session-noninteractive"; return 1; }
}

# A login through pamtester makes RUNTIME/UID: the user's, 0700, gate --x.
c_pam_login() {
    local uid dir out acl st
    uid=$(uid_of "$VIEWER")
    dir=$R/run/tmuxguard/$uid
    [[ ! -e $dir ]] || { echo "$dir exists before the login"; return 1; }
    out=$(in_root pamtester tgpkg-login "$VIEWER" open_session close_session 2>&1) || { echo "$out"; return 1; }
    # 0710: with an ACL the group bits show its mask (--x).
    st=$(in_root stat -c '%U:%G %a' "/run/tmuxguard/$uid")
    [[ $st == "$VIEWER:$VIEWER 710" ]] || { echo "/run/tmuxguard/$uid: $st"; return 1; }
    acl=$(in_root getfacl -cp "/run/tmuxguard/$uid" | grep . | tr '\n' ' ')
    [[ $acl == "user::rwx group::--- group:tmuxguard:--x mask::--x other::--- " ]] || { echo "ACL: $acl"; return 1; }
}

# The admin adds a share and a viewer; the owner serves it.
c_serve() {
    local out acl
    printf '%s\n' "share $SHARE owner $OWNER" "permit view $VIEWER on $SHARE" >>"$R/etc/tmuxguard/policy.conf"
    out=$(in_root tmuxguard reload 2>&1) || { echo "reload: $out"; return 1; }
    out=$(as_user "$OWNER" tmuxguard serve "$SHARE" 2>&1) || { echo "serve: $out"; return 1; }
    wait_for as_user "$OWNER" tmux -S "$SOCK" display-message -p -t "=$SHARE:" ok || { echo "no server at $SOCK"; return 1; }
    acl=$(in_root getfacl -cp "$SOCK" | grep '^group:tmuxguard:')
    [[ $acl == "group:tmuxguard:rw-" ]] || { echo "socket ACL: $acl"; return 1; }
    as_user "$OWNER" tmux -S "$SOCK" send-keys -t "=$SHARE:" -l "printf 'TGPKG-%s\\n' MARK$$" &&
        as_user "$OWNER" tmux -S "$SOCK" send-keys -t "=$SHARE:" Enter
}

# What the viewer's outer tmux shows.
outer_capture() {
    as_user "$VIEWER" tmux -L tgpkg capture-pane -p -t "=outer:"
}

# A permitted viewer attaches read-only through the wrapper inside his own
# tmux and sees the owner's marker; the attach is logged as allowed.
c_view_attach() {
    local out
    out=$(as_user "$VIEWER" tmux -L tgpkg -f /tmp/outer.conf new-session -d -s outer -x 120 -y 30 \
        "/usr/bin/tmuxguard-attach -r $SHARE" 2>&1) || { echo "outer tmux: $out"; return 1; }
    wait_for eval 'outer_capture | grep -q "^TGPKG-MARK$$"' ||
        { echo "marker not seen; the viewer's pane shows: $(outer_capture | grep . | tail -n 5)"; return 1; }
    log_has '"event":"attach"' '"decision":"allow"' "\"uid\":$(uid_of "$VIEWER")," "\"share\":\"$SHARE\"" ||
        { echo "no allow record"; return 1; }
}

# A user without a rule is denied with the documented line, and logged.
c_deny() {
    local out status=0
    out=$(as_user "$OTHER" /usr/bin/tmuxguard-attach -r "$SHARE" 2>&1) || status=$?
    ((status == 1)) || { echo "status $status: $out"; return 1; }
    [[ $out == "tmuxguard: denied: no-rule" ]] || { echo "output: $out"; return 1; }
    log_has '"event":"attach"' '"decision":"deny"' '"reason":"no-rule"' \
        "\"uid\":$(uid_of "$OTHER")," "\"share\":\"$SHARE\"" || { echo "no deny record"; return 1; }
}

# systemd-analyze verify passes on every unit the package installs (the
# template through an instance name).
c_units_verify() {
    local u out bad=0 units
    units=$(in_root dpkg -L tmuxguard | grep '^/lib/systemd/system/.' | sort)
    [[ $(wc -l <<<"$units") -eq 8 ]] || { echo "expected 8 units, got: $units"; bad=1; }
    mkdir -p "$R/tmp/units"
    for u in $units; do
        if [[ $u == *@.service ]]; then
            ln -sf "$u" "$R/tmp/units/$(basename "${u/@./@$SHARE.}")"
            u=/tmp/units/$(basename "${u/@./@$SHARE.}")
        fi
        out=$(in_root systemd-analyze verify "$u" 2>&1) || { echo "$u: $out"; bad=1; continue; }
        if [[ -n $out ]]; then
            echo "$u: $out"
            bad=1
        fi
    done
    return "$bad"
}

# Enabled: reload.path, sync.timer, reload.service (boot), the tmpfs mount;
# not enabled: reap.timer (it ends sessions), the serve@ template.
c_units_enabled() {
    local w=$R/etc/systemd/system bad=0 l
    for l in paths.target.wants/tmuxguard-reload.path timers.target.wants/tmuxguard-sync.timer \
        multi-user.target.wants/tmuxguard-reload.service local-fs.target.wants/run-tmuxguard.mount; do
        [[ -L $w/$l ]] || { echo "not enabled: $l"; bad=1; }
    done
    for l in timers.target.wants/tmuxguard-reap.timer multi-user.target.wants/tmuxguard-serve@.service; do
        [[ ! -e $w/$l && ! -L $w/$l ]] || { echo "enabled: $l"; bad=1; }
    done
    return "$bad"
}

# The four man pages are found by man and render without a warning.
c_man() {
    local page out path bad=0
    for page in "8 tmuxguard" "1 tmuxguard-attach" "5 tmuxguard.conf" "8 pam_tmuxguard"; do
        # shellcheck disable=SC2086
        path=$(in_root man -w $page 2>&1) || { echo "man -w $page: $path"; bad=1; continue; }
        [[ $path == /usr/share/man/* ]] || { echo "man -w $page: $path"; bad=1; continue; }
        # shellcheck disable=SC2086
        out=$(in_root env MANWIDTH=80 man --warnings $page 2>&1 >/dev/null) || { echo "man $page: $out"; bad=1; continue; }
        [[ -z $out ]] || { echo "man $page warns: $out"; bad=1; }
    done
    return "$bad"
}

# Upgrade to the rebuilt revision with stdin closed: a conffile prompt would
# fail it. The admin's policy, the override and the compiled policy stay.
c_upgrade() {
    local out before_policy
    before_policy=$(sha256sum <"$R/etc/tmuxguard/policy.conf")
    out=$(in_root apt-get install -y --no-install-recommends \
        "$DEBS/tmuxguard_${V2}_$ARCH.deb" "$DEBS/libpam-tmuxguard_${V2}_$ARCH.deb" 2>&1 </dev/null) ||
        { echo "$out" | tail -n 20; return 1; }
    [[ $(in_root dpkg-query -W -f='${Version}' tmuxguard libpam-tmuxguard | tr '\n' ' ') == "$V2$V2" ]] ||
        { echo "versions: $(in_root dpkg-query -W tmuxguard libpam-tmuxguard | tr '\n' ' ')"; return 1; }
    ! grep -Eq "Configuration file|conffile|^tmuxguard" <<<"$out" || { echo "$out" | grep -E "Configuration file|conffile|^tmuxguard"; return 1; }
    [[ $(sha256sum <"$R/etc/tmuxguard/policy.conf") == "$before_policy" ]] || { echo "policy.conf changed"; return 1; }
    c_wrapper || return 1
    grep -q "^share $SHARE " "$R/var/lib/tmuxguard/policy.compiled" || { echo "share not in the compiled policy"; return 1; }
    out=$(as_user "$VIEWER" /usr/bin/tmuxguard-attach -n "$SHARE" 2>&1) || { echo "viewer after upgrade: $out"; return 1; }
}

# An upgrade (here: a reinstall) with an invalid admin policy goes through,
# says so, and keeps the compiled policy in force.
c_upgrade_invalid_policy() {
    local out before
    before=$(sha256sum <"$R/var/lib/tmuxguard/policy.compiled")
    echo "permit sometimes $VIEWER on $SHARE" >>"$R/etc/tmuxguard/policy.conf"
    out=$(in_root dpkg -i "$DEBS/tmuxguard_${V2}_$ARCH.deb" 2>&1 </dev/null) || { echo "dpkg -i failed: $out"; return 1; }
    grep -q 'tmuxguard: postinst: warning: the policy has errors' <<<"$out" || { echo "no warning: $out"; return 1; }
    grep -q 'policy.conf:[0-9]*: ' <<<"$out" || { echo "no FILE:LINE: $out"; return 1; }
    [[ $(sha256sum <"$R/var/lib/tmuxguard/policy.compiled") == "$before" ]] || { echo "compiled policy replaced"; return 1; }
    sed -i '$d' "$R/etc/tmuxguard/policy.conf"
    out=$(in_root tmuxguard reload 2>&1) || { echo "reload after the fix: $out"; return 1; }
}

# A grant (grant's own drop-in) and two drop-ins of the admin's: one of them
# named like a grant but without the marker.
drop_ins_make() {
    local out
    out=$(in_root tmuxguard grant "$OTHER" view "$SHARE" --for 1h 2>&1) || { echo "grant: $out"; return 1; }
    [[ $(head -n 1 "$R/etc/tmuxguard/policy.d/grant-$SHARE+$OTHER.conf") == "$MARKER" ]] || { echo "no grant file"; return 1; }
    echo "# the admin's own drop-in" >"$R/etc/tmuxguard/policy.d/local.conf"
    printf '%s\n' "# written by the admin" "permit view $VIEWER on $SHARE" \
        >"$R/etc/tmuxguard/policy.d/grant-$SHARE+$VIEWER.conf"
    out=$(in_root tmuxguard reload 2>&1) || { echo "reload: $out"; return 1; }
}

# Ends every tmux server of the test and waits for the share's socket to go.
servers_end() {
    as_user "$VIEWER" tmux -L tgpkg kill-server >/dev/null 2>&1 || true
    as_user "$OWNER" tmux -S "$SOCK" kill-server >/dev/null 2>&1 || true
    wait_for test ! -e "$R$SOCK"
}

# Remove: programs gone, conffiles kept, PAM stack as before install.
c_remove() {
    local out f
    drop_ins_make || return 1
    EDITED=$(sha256sum <"$R/etc/tmuxguard/policy.conf")
    out=$(in_root apt-get remove -y tmuxguard libpam-tmuxguard 2>&1 </dev/null) || { echo "$out" | tail -n 20; return 1; }
    for f in /usr/bin/tmuxguard-attach /usr/sbin/tmuxguard \
        "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/security/pam_tmuxguard.so" \
        /usr/share/pam-configs/tmuxguard /lib/systemd/system/tmuxguard-reload.path; do
        [[ ! -e $R$f ]] || { echo "$f still there"; return 1; }
    done
    [[ $(sha256sum <"$R/etc/tmuxguard/policy.conf") == "$EDITED" && -f $R/etc/logrotate.d/tmuxguard ]] ||
        { echo "conffiles not kept"; return 1; }
    [[ $(in_root dpkg-query -W -f='${Status}' tmuxguard) == "deinstall ok config-files" ]] || { echo "status: $(in_root dpkg-query -W -f='${Status}' tmuxguard)"; return 1; }
    ! grep -q pam_tmuxguard "$R/etc/pam.d/common-session" || { echo "pam line still there"; return 1; }
    cmp "$SNAP/pam.d_common-session" "$R/etc/pam.d/common-session" &&
        cmp "$SNAP/pam.d_common-session-noninteractive" "$R/etc/pam.d/common-session-noninteractive"
}

# Purge: group, override, state, log, runtime dir, grant's drop-in gone;
# the admin's drop-ins stay, and nothing else of the package in /etc.
c_purge() {
    local out left
    out=$(in_root apt-get purge -y tmuxguard libpam-tmuxguard 2>&1 </dev/null) || { echo "$out" | tail -n 20; return 1; }
    [[ ! -e $R/run/tmuxguard ]] || { echo "left in /run/tmuxguard: $(cd "$R/run/tmuxguard" && find . -printf '%p(%u %m) ' )"; return 1; }
    ! grep -q '^tmuxguard: ' <<<"$out" || { echo "$out" | grep '^tmuxguard: '; return 1; }
    ! in_root getent group tmuxguard >/dev/null || { echo "group tmuxguard still there"; return 1; }
    in_root dpkg-statoverride --list | cmp - "$SNAP/statoverride" || { echo "statoverride list differs"; return 1; }
    for f in /var/lib/tmuxguard /var/log/tmuxguard /etc/logrotate.d/tmuxguard \
        /etc/tmuxguard/policy.conf "/etc/tmuxguard/policy.d/grant-$SHARE+$OTHER.conf"; do
        [[ ! -e $R$f ]] || { echo "$f still there"; return 1; }
    done
    left=$(cd "$R/etc/tmuxguard" && find . -mindepth 1 | sort | tr '\n' ' ')
    [[ $left == "./policy.d ./policy.d/grant-$SHARE+$VIEWER.conf ./policy.d/local.conf " ]] ||
        { echo "left in /etc/tmuxguard: $left"; return 1; }
    [[ $(in_root dpkg-query -W -f='${Status}' tmuxguard 2>&1) != *config-files* ]] || { echo "not purged"; return 1; }
    # The admin removes his own files; everything else must already be as before.
    rm -rf "$R/etc/tmuxguard"
}

# Purge while a user's own tmux server runs in its runtime directory: the
# socket and the group stay, and a note says so. (A second install.)
c_purge_live_socket() {
    local uid out dir
    out=$(in_root apt-get install -y --no-install-recommends \
        "$DEBS/tmuxguard_${V2}_$ARCH.deb" "$DEBS/libpam-tmuxguard_${V2}_$ARCH.deb" 2>&1) || { echo "$out" | tail -n 20; return 1; }
    uid=$(uid_of "$VIEWER")
    dir=/run/tmuxguard/$uid
    in_root pamtester tgpkg-login "$VIEWER" open_session >/dev/null 2>&1 || { echo "pamtester"; return 1; }
    as_user "$VIEWER" env TMUX_TMPDIR="$dir" tmux new-session -d -s own || { echo "viewer's tmux"; return 1; }
    out=$(in_root apt-get purge -y tmuxguard libpam-tmuxguard 2>&1 </dev/null) || { echo "$out" | tail -n 20; return 1; }
    [[ -S $R$dir/tmux-$uid/default ]] || { echo "the live socket was removed"; return 1; }
    in_root getent group tmuxguard >/dev/null || { echo "group removed under a live socket"; return 1; }
    grep -q "tmuxguard: postrm: kept the group tmuxguard: /run/tmuxguard" <<<"$out" || { echo "no note: $out"; return 1; }
    as_user "$VIEWER" env TMUX_TMPDIR="$dir" tmux kill-server || true
    wait_for test ! -e "$R$dir/tmux-$uid/default"
    # What the note tells the admin to do, once the server is gone.
    in_root delgroup --quiet --system tmuxguard >/dev/null
    rm -rf "$R/run/tmuxguard"
}

# The account files are byte for byte as before install.
c_accounts() {
    local f
    for f in passwd group shadow gshadow; do
        cmp "$SNAP/$f" "$R/etc/$f" || return 1
    done
}

# Nothing outside the ignored bookkeeping differs from the snapshot.
c_nothing_else() {
    changes_since_snapshot
}

inside_main() {
    local out=$1 started=$SECONDS
    SCRATCH=$2
    V1=$(sed -nE 's/^project\(tmuxguard VERSION ([0-9.]+).*/\1/p' "$ROOT/CMakeLists.txt")-$3
    V2=${V1%-*}-$4
    ARCH=$5
    RESULTS=$SCRATCH/results
    SOCK=
    if ! sandbox_make >"$SCRATCH/sandbox.log" 2>&1; then
        check_report sandbox FAIL "$(cat "$SCRATCH/sandbox.log")"
        touch "$SCRATCH/inside-done"
        return 1
    fi
    debs_copy "$out" "$ARCH"
    check sandbox sandbox_clean
    accounts_make
    SOCK=/run/tmuxguard/$(uid_of "$OWNER")/$SHARE
    snapshot_take
    check install c_install
    check wrapper-root-tmuxguard-2755 c_wrapper
    check gate-group-is-system c_group
    check state-and-log-created c_state
    check postinst-again-silent-and-idempotent c_postinst_again
    check pam-profile-active c_pam_profile
    check pam-login-makes-runtime-dir c_pam_login
    check serve-by-owner c_serve
    check view-attach-sees-owner c_view_attach
    check unpermitted-user-denied-no-rule c_deny
    check units-verify c_units_verify
    check units-enabled-as-designed c_units_enabled
    check man-pages c_man
    check upgrade-keeps-policy-override c_upgrade
    check upgrade-with-invalid-policy c_upgrade_invalid_policy
    servers_end || true
    check remove-keeps-conffiles-restores-pam c_remove
    check purge-removes-what-install-made c_purge
    check purge-keeps-live-socket-and-group c_purge_live_socket
    check accounts-unchanged c_accounts
    check nothing-else-touched c_nothing_else
    echo "package: install to purge took $((SECONDS - started))s"
    touch "$SCRATCH/inside-done"
}

if [[ ${1:-} == --inside ]]; then
    shift
    inside_main "$@"
else
    host_main "$@"
fi
