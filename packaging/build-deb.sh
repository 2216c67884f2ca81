#!/usr/bin/env bash
# Builds the Debian packages (tmuxguard, libpam-tmuxguard) from this tree and
# checks them with lintian.
#
#   packaging/build-deb.sh [--revision N] [OUTDIR]
#
# dpkg-buildpackage wants debian/ at the top of the source, so the files git
# knows (tracked, with their uncommitted changes, and new files not ignored:
# `git ls-files --cached --others --exclude-standard`; a fresh clone has only
# tracked ones) are copied to OUTDIR/work/tmuxguard-VERSION/ with
# packaging/debian/ as debian/, and built there with
# `dpkg-buildpackage -b -us -uc -nc`. The .deb, .changes and .buildinfo files
# are copied to OUTDIR (default build-deb/), then lintian checks the .changes:
# any E: fails the build, W: lines are printed (packaging/debian/README.lintian
# says why each one is kept).
#
# The copy is kept between runs and only files whose content changed are
# copied again, so CMake's build directory (obj-*) is reused: a second run,
# or --revision N (the same source as Debian revision N, for the upgrade
# test), rebuilds only what changed. TMUXGUARD_DEB_REVISION=N does the same
# as --revision N. Run as root, it installs the build's missing packages
# (Build-Depends, lintian) with apt-get.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REVISION=${TMUXGUARD_DEB_REVISION:-}
OUTDIR=

die() {
    echo "build-deb: $*" >&2
    exit 1
}

usage() {
    echo "usage: packaging/build-deb.sh [--revision N] [OUTDIR]" >&2
    exit 2
}

args_parse() {
    while (($# > 0)); do
        case $1 in
        --revision)
            (($# >= 2)) || usage
            REVISION=$2
            shift 2
            ;;
        -h | --help) usage ;;
        -*) usage ;;
        *)
            [[ -z $OUTDIR ]] || usage
            OUTDIR=$1
            shift
            ;;
        esac
    done
    [[ -z $REVISION || $REVISION =~ ^[1-9][0-9]{0,3}$ ]] ||
        die "--revision must be a number from 1 to 9999, not '$REVISION'"
    OUTDIR=${OUTDIR:-$ROOT/build-deb}
    mkdir -p "$OUTDIR"
    OUTDIR=$(cd "$OUTDIR" && pwd)
}

# The project version of CMakeLists.txt: project(tmuxguard VERSION X.Y.Z ...).
cmake_version() {
    sed -nE 's/^project\(tmuxguard VERSION ([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' "$ROOT/CMakeLists.txt"
}

# The version of the first entry of packaging/debian/changelog.
changelog_version() {
    sed -nE '1s/^tmuxguard \(([^)]+)\) .*/\1/p' "$ROOT/packaging/debian/changelog"
}

# Copies $1 to $2 only when the content differs (a new mtime then makes the
# build see the change; an unchanged file keeps its mtime and its objects).
file_sync() {
    if ! cmp -s "$1" "$2" 2>/dev/null; then
        mkdir -p "$(dirname "$2")"
        rm -f "$2"
        cp --preserve=mode "$1" "$2"
    fi
}

# Lists, NUL-separated, the source files to package (paths relative to ROOT).
source_files_list() {
    git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
            [[ -f $ROOT/$f && ! -L $ROOT/$f && $f != packaging/debian/* ]] && printf '%s\0' "$f"
        done
}

# The changelog for revision $REVISION: the shipped one, with an entry on
# top when the revision differs from the shipped one's.
changelog_write() {
    local out=$1 base version=$2
    base=$(changelog_version)
    if [[ -z $REVISION || $version-$REVISION == "$base" ]]; then
        cp "$ROOT/packaging/debian/changelog" "$out.new"
    else
        {
            echo "tmuxguard ($version-$REVISION) bookworm; urgency=medium"
            echo
            echo "  * Rebuild of the same source as revision $REVISION (built by"
            echo "    packaging/build-deb.sh --revision $REVISION)."
            echo
            echo " -- $(sed -nE 's/^ -- (.*>)  .*/\1/p' "$ROOT/packaging/debian/changelog" | head -n 1)  $(date -R)"
            echo
            cat "$ROOT/packaging/debian/changelog"
        } >"$out.new"
    fi
    # Keep the old file (and its mtime) when nothing changed.
    if cmp -s "$out.new" "$out"; then rm -f "$out.new"; else mv "$out.new" "$out"; fi
}

# Makes SRC the source tree: synced files, a debian/ with nothing but the
# shipped files (every stamp, log and staging directory of the last build
# removed, which is what `debian/rules clean` would do but for obj-*).
tree_sync() {
    local src=$1 version=$2 f
    declare -A want=()
    mkdir -p "$src"
    while IFS= read -r -d '' f; do
        file_sync "$ROOT/$f" "$src/$f"
        want[$f]=1
    done < <(source_files_list)
    while IFS= read -r -d '' f; do
        f=${f#packaging/debian/}
        [[ $f == changelog ]] && continue
        file_sync "$ROOT/packaging/debian/$f" "$src/debian/$f"
        want[debian/$f]=1
    done < <(git -C "$ROOT" ls-files -z --cached --others --exclude-standard packaging/debian)
    changelog_write "$src/debian/changelog" "$version"
    want[debian/changelog]=1
    # Anything else (a file deleted from the tree, a build's leftovers) goes.
    while IFS= read -r -d '' f; do
        f=${f#"$src"/}
        [[ -n ${want[$f]:-} ]] || rm -f "$src/$f"
    done < <(find "$src" -path "$src/obj-*" -prune -o \( -type f -o -type l \) -print0)
    find "$src" -mindepth 1 -type d -empty ! -path "$src/obj-*" -delete
}

# The build's tools: dpkg-dev, the Build-Depends of debian/control and
# lintian. Missing ones are installed with apt-get when run as root, else
# named with the command that installs them.
build_deps_ensure() {
    local src=$1 list=
    local -a pkgs
    if ! command -v dpkg-checkbuilddeps >/dev/null; then
        list="dpkg-dev debhelper cmake libacl1-dev libpam0g-dev libseccomp-dev nettle-dev"
    else
        list=$(cd "$src" && dpkg-checkbuilddeps 2>&1 | sed -nE 's/.*Unmet build dependencies: //p' |
            sed -E 's/\([^)]*\)//g; s/debhelper-compat/debhelper/g')
    fi
    command -v lintian >/dev/null || list+=" lintian"
    read -r -a pkgs <<<"$list"
    ((${#pkgs[@]} > 0)) || return 0
    [[ $(id -u) -eq 0 ]] ||
        die "missing build packages; install them with: sudo apt-get install ${pkgs[*]}"
    echo "build-deb: installing the build's packages: ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${pkgs[@]}" </dev/null >/dev/null ||
        { apt-get update -q </dev/null >/dev/null &&
          apt-get install -y -q --no-install-recommends "${pkgs[@]}" </dev/null >/dev/null; } ||
        die "apt-get install ${pkgs[*]} failed"
}

# Runs lintian on the .changes: prints every tag, fails on an error.
lintian_check() {
    local changes=$1 log status=0
    log=$(lintian --info --display-level '>=pedantic' --tag-display-limit 0 "$changes" 2>&1) ||
        status=$?
    printf '%s\n' "$log" | grep -E '^[EWIP]: ' || true
    if printf '%s\n' "$log" | grep -q '^E: '; then
        die "lintian found errors in $changes"
    fi
    ((status == 0)) || die "lintian failed (status $status): $log"
}

main() {
    args_parse "$@"
    local version base started=$SECONDS work src deb_version changes f
    version=$(cmake_version)
    base=$(changelog_version)
    [[ -n $version ]] || die "no project(tmuxguard VERSION X.Y.Z) in CMakeLists.txt"
    [[ $base == "$version"-* ]] ||
        die "packaging/debian/changelog is at $base, CMakeLists.txt at $version: add a changelog entry"
    REVISION=${REVISION:-${base##*-}}
    deb_version=$version-$REVISION
    work=$OUTDIR/work
    src=$work/tmuxguard-$version
    tree_sync "$src" "$version"
    build_deps_ensure "$src"
    rm -f "$work"/*.deb "$work"/*.ddeb "$work"/*.changes "$work"/*.buildinfo
    echo "build-deb: building $deb_version in $src"
    (cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
        dpkg-buildpackage -b -us -uc -nc) >"$work/build.log" 2>&1 ||
        { tail -n 60 "$work/build.log" >&2; die "dpkg-buildpackage failed; log: $work/build.log"; }
    changes=$work/tmuxguard_${deb_version}_$(dpkg-architecture -qDEB_HOST_ARCH).changes
    [[ -f $changes ]] || die "no $changes after the build"
    rm -f "$OUTDIR"/*_"$deb_version"_*.deb "$OUTDIR"/*_"$deb_version"_*.changes \
        "$OUTDIR"/*_"$deb_version"_*.buildinfo
    cp "$changes" "$OUTDIR/"
    for f in $(sed -nE '/^Files:/,/^[^ ]/s/^ [0-9a-f]{32} [0-9]+ \S+ \S+ (\S+)$/\1/p' "$changes"); do
        cp "$work/$f" "$OUTDIR/"
    done
    lintian_check "$OUTDIR/$(basename "$changes")"
    echo "build-deb: $deb_version built in $((SECONDS - started))s:"
    sed -nE '/^Files:/,/^[^ ]/s/^ [0-9a-f]{32} [0-9]+ \S+ \S+ (\S+)$/\1/p' "$changes" |
        sed "s|^|  $OUTDIR/|"
}

main "$@"
