#!/usr/bin/env bash
# Checks, and on request builds, the RPM of packaging/rpm/tmuxguard.spec.
#
# usage: packaging/rpm/build-rpm.sh [--build] [OUTDIR]
#   default  `rpmspec -P` on the spec (it must parse, with every macro the
#            build uses defined) and the parsed spec in OUTDIR
#   --build  also `rpmbuild -bb` from a source tarball of the tracked tree,
#            then checks the binary packages: the wrapper is
#            -rwxr-sr-x root tmuxguard, the policy is %config(noreplace),
#            and every file `cmake --install` put in the buildroot is in
#            exactly one package (rpmbuild fails on an unpackaged file)
# OUTDIR defaults to build-rpm/ in the tree. Needs `rpm` (apt-get install
# rpm on Debian).
#
# On Debian the systemd scriptlet macros of systemd-rpm-macros do not exist,
# and the build dependencies have Fedora's names: the check defines the
# macros as no-ops and builds with --nodeps. The scriptlets themselves are
# checked by installing on an RPM distribution (packaging/README.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=0
out=$top/build-rpm
for arg in "$@"; do
    case $arg in
    --build) build=1 ;;
    -*) echo "usage: $0 [--build] [OUTDIR]" >&2; exit 2 ;;
    *) out=$arg ;;
    esac
done
command -v rpmspec >/dev/null || { echo "build-rpm: rpmspec missing (apt-get install rpm)" >&2; exit 1; }

spec=$top/packaging/rpm/tmuxguard.spec
version=$(sed -n 's/^Version: *//p' "$spec")
cmake_version=$(sed -n 's/^project(tmuxguard VERSION \([0-9.]*\).*/\1/p' "$top/CMakeLists.txt")
[[ $version == "$cmake_version" ]] ||
    { echo "build-rpm: spec Version $version is not the CMake project version $cmake_version" >&2; exit 1; }

work=$(mktemp -d /var/tmp/tmuxguard-rpm.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work"/{BUILD,RPMS,SOURCES,SPECS,SRPMS,BUILDROOT}
macros=(--define "_topdir $work"
        --define 'systemd_post() : systemd_post %*'
        --define 'systemd_preun() : systemd_preun %*'
        --define 'systemd_postun() : systemd_postun %*'
        --define 'tmpfiles_create() : tmpfiles_create %*'
        --define 'systemd_requires %{nil}')

rpmspec -P "${macros[@]}" "$spec" >"$out/tmuxguard.spec.parsed"
echo "build-rpm: rpmspec -P: ok ($out/tmuxguard.spec.parsed)"
((build)) || exit 0

# The tracked files as they are in the tree (uncommitted edits included).
(cd "$top" && git ls-files -z | tar --null -T - --transform "s,^,tmuxguard-$version/," -czf \
    "$work/SOURCES/tmuxguard-$version.tar.gz")
rpmbuild -bb --nodeps "${macros[@]}" "$spec" >"$out/rpmbuild.log" 2>&1 ||
    { tail -n 40 "$out/rpmbuild.log"; echo "build-rpm: rpmbuild failed ($out/rpmbuild.log)" >&2; exit 1; }
find "$work/RPMS" -name '*.rpm' -exec cp {} "$out/" \;

main=$(ls "$out"/tmuxguard-"$version"-*.rpm)
pam=$(ls "$out"/pam_tmuxguard-"$version"-*.rpm)
rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]' "$main" |
    grep -qx -- '-rwxr-sr-x root tmuxguard /usr/bin/tmuxguard-attach' ||
    { echo "build-rpm: tmuxguard-attach is not -rwxr-sr-x root tmuxguard" >&2; exit 1; }
rpm -qcp "$main" | grep -qx /etc/tmuxguard/policy.conf ||
    { echo "build-rpm: policy.conf is not a config file" >&2; exit 1; }
rpm -qlp "$pam" | grep -q '/security/pam_tmuxguard.so$' ||
    { echo "build-rpm: the PAM package has no pam_tmuxguard.so" >&2; exit 1; }
echo "build-rpm: rpmbuild -bb: ok ($(basename "$main"), $(basename "$pam"))"
