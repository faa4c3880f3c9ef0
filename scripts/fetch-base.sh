#!/usr/bin/env bash
# Create the QEMU work tree build/qemu: a git repository whose first commit,
# tagged 'base', is the pinned Debian 13 QEMU source (debian/patches
# applied), or the tree named by QEMU_SRC.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if have_base; then
    exit 0
fi

PKG=$(pin package)
VER=$(pin version)
SUITE=$(pin suite)
DL=$BUILD/dl

# Make sure apt can see the source package version we pin.
ensure_src_entry() {
    if apt-cache showsrc "$PKG" 2>/dev/null | grep -qx "Version: $VER"; then
        return 0
    fi
    local uri list=/etc/apt/sources.list.d/qemu-nested-viommu-src.sources
    uri=$(archive_uri | head -n 1)
    [ -n "$uri" ] || die "cannot find a Debian archive URI in /etc/apt to derive a deb-src entry for $SUITE from"
    local entry="Types: deb-src
URIs: $uri
Suites: $SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    if [ "$(id -u)" != 0 ]; then
        say "apt has no source entry for $SUITE. As root, run:"
        say "  cat > $list <<'END'"
        say "$entry"
        say "END"
        say "  apt-get update"
        die "then run this again (or set QEMU_SRC=/path/to/qemu-10.0.x)"
    fi
    info "adding deb-src for $SUITE ($list)"
    printf '%s\n' "$entry" > "$list"
    apt-get update -qq
}

verify() {
    local name sum
    while read -r _ name sum; do
        [ -f "$DL/$name" ] || die "missing $DL/$name"
        echo "$sum  $DL/$name" | sha256sum -c --quiet - ||
            die "checksum mismatch for $name: not the pinned base"
    done < <(grep '^sha256 ' "$TOP/base.pin")
}

import_tree() { # dir description
    local src=$1 desc=$2
    info "importing $desc into $WT"
    rm -rf "$WT"
    mkdir -p "$WT"
    tar -C "$src" --exclude=./.git --exclude=./build --exclude=./debian \
        --exclude=./.pc -cf - . | tar -C "$WT" -xf -
    wt_git init -q
    wt_git config user.name "$GIT_COMMITTER_NAME"
    wt_git config user.email "$GIT_COMMITTER_EMAIL"
    wt_git config core.autocrlf false
    wt_git config gc.auto 0
    wt_git add -A -f .
    GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
        wt_git commit -q --no-verify -m "base: $desc"
    wt_git tag base
    rm -f "$STAMP"
}

mkdir -p "$BUILD"

if [ -n "${QEMU_SRC:-}" ]; then
    [ -f "$QEMU_SRC/VERSION" ] || die "QEMU_SRC=$QEMU_SRC is not a QEMU source tree"
    case $(cat "$QEMU_SRC/VERSION") in
        10.0.*) ;;
        *) die "QEMU_SRC=$QEMU_SRC is QEMU $(cat "$QEMU_SRC/VERSION"); the series is for 10.0.x" ;;
    esac
    import_tree "$QEMU_SRC" "QEMU $(cat "$QEMU_SRC/VERSION") from $QEMU_SRC"
    exit 0
fi

command -v dpkg-source >/dev/null || die "dpkg-source not found: run 'make deps' first"
mkdir -p "$DL"
if ! (grep '^sha256 ' "$TOP/base.pin" | while read -r _ n _; do [ -f "$DL/$n" ]; done); then
    ensure_src_entry
    info "fetching $PKG $VER with apt"
    if ! (cd "$DL" && apt-get source --download-only -qq "$PKG=$VER" >/dev/null 2>&1); then
        die "the pinned base $PKG $VER cannot be fetched from the Debian archive
(gone or not reachable).  The series is not moved to another version
silently: point QEMU_SRC at a QEMU 10.0.x source tree of your own, e.g.
  make QEMU_SRC=\$HOME/src/qemu-10.0.13"
    fi
fi
verify
info "unpacking with dpkg-source (Debian's patches applied)"
rm -rf "$DL/src"
(cd "$DL" && dpkg-source --no-check -x "$(grep -o "^sha256 [^ ]*\.dsc" "$TOP/base.pin" | cut -d' ' -f2)" src >/dev/null)
import_tree "$DL/src" "Debian source package $PKG $VER (debian/patches applied)"
rm -rf "$DL/src"
