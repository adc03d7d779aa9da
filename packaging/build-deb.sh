#!/usr/bin/env bash
# Build the Debian package of Weir: packaging/out/weir_VERSION_ARCH.deb.
#
#   packaging/build-deb.sh [--install-deps] [--no-lintian]
#
# Run it from any directory, on Debian 12, in a checkout of the repository.
# It copies the tree as it is on disk (without .git, .build* and
# packaging/out) to a temporary directory, puts packaging/debian at ./debian
# there, runs "dpkg-buildpackage -us -uc -b", moves the packages into
# packaging/out/ and runs lintian on them when lintian is installed (a
# lintian error fails the build). The last line printed is the path of the
# .deb.
#
#   --install-deps  install the build dependencies with apt-get first (as
#                   root): debhelper, dpkg-dev, fakeroot, build-essential,
#                   lintian and the package's Build-Depends.
#   --no-lintian    do not run lintian.
#
# The Swift toolchain is not a Debian package: swift is taken from PATH, or
# from /opt/swift/usr/bin. Set SWIFT=/path/to/swift to choose another one.
set -euo pipefail

install_deps=0
run_lintian=1
for arg in "$@"; do
    case "$arg" in
        --install-deps) install_deps=1 ;;
        --no-lintian) run_lintian=0 ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-deb.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    esac
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out="$here/out"

if [ "$install_deps" = 1 ]; then
    sudo=$(command -v sudo || true)
    [ "$(id -u)" = 0 ] && sudo=
    export DEBIAN_FRONTEND=noninteractive
    echo "== apt: installing the build dependencies"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends \
        build-essential debhelper dpkg-dev fakeroot lintian \
        libssl-dev libsystemd-dev pkg-config >/dev/null
fi

if [ -z "${SWIFT:-}" ]; then
    if command -v swift >/dev/null 2>&1; then
        SWIFT=$(command -v swift)
    elif [ -x /opt/swift/usr/bin/swift ]; then
        SWIFT=/opt/swift/usr/bin/swift
    else
        echo "build-deb.sh: swift not found on PATH nor at /opt/swift/usr/bin/swift; set SWIFT=" >&2
        exit 1
    fi
fi
export SWIFT

for tool in dpkg-buildpackage dh fakeroot; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "build-deb.sh: $tool is missing; run with --install-deps" >&2; exit 1; }
done

# The package's version is the program's: debian/changelog must agree with
# WEIR_VERSION in Sources/WeirConfig/Parser.swift (what weir -v prints).
version=$(dpkg-parsechangelog -l "$here/debian/changelog" -S Version)
program_version=$(sed -n 's/.*"WEIR_VERSION=\([^"]*\)".*/\1/p' "$root/Sources/WeirConfig/Parser.swift" | head -n 1)
upstream_version=${version%-*}
if [ "$upstream_version" != "$program_version" ]; then
    echo "build-deb.sh: debian/changelog says $version, weir -v says $program_version" >&2
    exit 1
fi
arch=$(dpkg --print-architecture)

work=$(mktemp -d "${TMPDIR:-/tmp}/weir-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/weir-$upstream_version"
mkdir -p "$src"

echo "== copying the tree to $src"
tar -C "$root" \
    --exclude=./.git --exclude='./.build' --exclude='./.build-*' --exclude='./.build_*' \
    --exclude=./.swiftpm --exclude=./packaging/out \
    -cf - . | tar -C "$src" -xf -
rm -rf "$src/debian"
cp -a "$here/debian" "$src/debian"

echo "== dpkg-buildpackage -us -uc -b (weir $version, $arch, $SWIFT)"
jobs=$(nproc 2>/dev/null || echo 1)
(
    cd "$src"
    DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$jobs}" dpkg-buildpackage -us -uc -b
)

mkdir -p "$out"
deb="$out/weir_${version}_${arch}.deb"
for f in "$work"/*.deb "$work"/*.ddeb "$work"/*.changes "$work"/*.buildinfo; do
    [ -e "$f" ] && mv -f "$f" "$out/"
done
[ -f "$deb" ] || { echo "build-deb.sh: $deb was not built" >&2; exit 1; }

if [ "$run_lintian" = 1 ]; then
    if command -v lintian >/dev/null 2>&1; then
        echo "== lintian"
        lintian --fail-on error --info --display-info --pedantic \
            "$out/weir_${version}_${arch}.changes"
    else
        echo "== lintian is not installed: skipped (--install-deps installs it)"
    fi
fi

echo "== built"
echo "$deb"
