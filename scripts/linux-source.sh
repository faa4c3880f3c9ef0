#!/usr/bin/env bash
# Make sure Debian's linux-source-$KVER (default 7.2) is unpacked into
# build/e2e/linux-source-$KVER and print that directory.  One tree serves
# both users: the uAPI headers the work tree is built against
# (scripts/linux-headers.sh) and the L1 kernel of the real-kernel test
# (e2e/build-l1-kernel.sh).
#
# The .deb is kept in E2E_CACHE (default ~/.cache/qemu-nested-viommu/e2e),
# so a fresh clone on the same machine does not download it again.  Only
# the kernel tarball is taken out of the package (streamed, not written
# out), then unpacked whole: about 10 s.  Needs root for apt the first
# time (adds a trixie-backports source when the package is not otherwise
# available).  Messages go to stderr; stdout is only the directory.
#   linux-source.sh --deb   only make sure the .deb is there; print its path
set -euo pipefail
. "$(dirname "$0")/lib.sh"
info() { printf '==> %s\n' "$*" >&2; }

KVER=${KVER:-7.2}
OUT=$BUILD/e2e
SRC=$OUT/linux-source-$KVER
CACHE=${E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qemu-nested-viommu/e2e}

command -v xz >/dev/null || die "xz not found: run 'make deps'"
mkdir -p "$OUT" "$CACHE"
deb=$(ls "$CACHE"/linux-source-"$KVER"_*.deb 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$deb" ]; then
    if ! apt-cache show "linux-source-$KVER" >/dev/null 2>&1; then
        # Debian ships newer kernels for the stable release in
        # <next>-backports; use the same archive as the machine itself.
        list=/etc/apt/sources.list.d/e2e-trixie-backports.sources
        if [ ! -f "$list" ]; then
            [ "$(id -u)" = 0 ] || die "need root to add $list"
            uri=$(archive_uri | head -n1)
            [ -n "$uri" ] || die "cannot find this machine's Debian archive in /etc/apt"
            info "adding apt source trixie-backports ($list)"
            printf '%s\n' 'Types: deb' "URIs: $uri" 'Suites: trixie-backports' \
                'Components: main' \
                'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' > "$list"
        fi
        [ "$(id -u)" = 0 ] || die "need root for apt-get update"
        info "apt-get update"
        apt-get update -qq >&2
        apt-cache show "linux-source-$KVER" >/dev/null 2>&1 ||
            die "linux-source-$KVER is not available from apt"
    fi
    info "downloading linux-source-$KVER into $CACHE"
    (cd "$CACHE" && apt-get download -qq "linux-source-$KVER") >&2
    deb=$(ls "$CACHE"/linux-source-"$KVER"_*.deb | sort -V | tail -n1)
fi
if [ "${1:-}" = --deb ]; then
    echo "$deb"
    exit 0
fi

# The package the tree came from is noted next to it; a tree unpacked
# before that note existed is taken as it is.
from=$OUT/linux-source-$KVER.from
if [ -f "$SRC/Makefile" ] &&
   { [ ! -f "$from" ] || [ "$(cat "$from")" = "$(basename "$deb")" ]; }; then
    echo "$SRC"
    exit 0
fi

info "unpacking $(basename "$deb") into $SRC"
rm -rf "$SRC.tmp" "$SRC"
mkdir -p "$SRC.tmp"
dpkg-deb --fsys-tarfile "$deb" |
    tar -xO "./usr/src/linux-source-$KVER.tar.xz" | xz -dc |
    tar -x -C "$SRC.tmp" --strip-components=1
[ -f "$SRC.tmp/Makefile" ] || die "no kernel tree in $(basename "$deb")"
mv "$SRC.tmp" "$SRC"
basename "$deb" > "$from"
echo "$SRC"
