# Common settings for the scripts in this directory.  Sourced, not run.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$TOP/build
WT=${QEMU_WT:-$BUILD/qemu}             # QEMU git work tree: 'base', 'headers', the series
OBJ=${QEMU_OBJ:-$BUILD/obj}             # QEMU build directory
PATCHES=${SERIES_PATCHES:-$TOP/patches}
STAMP=$WT/.git/series.stamp  # "<work tree HEAD> <hash of patches/>" at last sync

# The Python that QEMU's configure must use (Debian's, not a pyenv shim).
PYTHON=${PYTHON:-/usr/bin/python3}

# Identity of the commits we create, so that exports are byte-stable.
export GIT_COMMITTER_NAME=${GIT_COMMITTER_NAME:-nested-viommu}
export GIT_COMMITTER_EMAIL=${GIT_COMMITTER_EMAIL:-nested-viommu@localhost}

say()  { printf '%s\n' "$*"; }
info() { printf '==> %s\n' "$*"; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# pin KEY: value of "KEY=value" in base.pin
pin() { sed -n "s/^$1=//p" "$TOP/base.pin"; }

# Hash of the series as stored in patches/ (names and contents).
patches_hash() {
    (cd "$PATCHES" && for f in *.patch; do
        [ -e "$f" ] || continue
        printf '%s\n' "$f"; cat "$f"
    done) | sha256sum | cut -d' ' -f1
}

wt_git() { git -C "$WT" "$@"; }

have_base() { [ -e "$WT/.git" ] && wt_git rev-parse -q --verify refs/tags/base >/dev/null; }

need_base() {
    have_base || die "no QEMU work tree at $WT; run 'make base' (or 'make') first"
}

# The commit the series in the work tree's HEAD sits on: the generated
# uAPI headers commit (scripts/linux-headers.sh, tagged 'headers') when the
# first commit after 'base' is one, else 'base' itself (a work tree applied
# before the headers commit existed).  Found from HEAD, not from the tag, so
# that a series made on an older headers commit still exports right.
series_start() {
    local first
    first=$(wt_git rev-list --reverse --first-parent base..HEAD | sed -n 1p)
    if [ -n "$first" ]; then
        case $(wt_git log -1 --format=%B "$first") in
            *"Generated-by: scripts/linux-headers.sh"*) echo "$first"; return ;;
        esac
    fi
    wt_git rev-parse base
}

# Print the URI of this machine's Debian archive, read from /etc/apt (both
# the deb822 .sources and the one-line .list formats).  Only entries for the
# machine's own release are considered, so security/backports mirrors are
# not picked by accident.
archive_uri() {
    local codename f
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [ -n "$codename" ] || return 1
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v c="$codename" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " c " "))
                    { split(uris, u, " "); print u[1]; found = 1; exit }
                types = suites = uris = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^Types:/  { sub(/^Types:[ \t]*/, ""); types = $0 }
            /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
            /^URIs:/   { sub(/^URIs:[ \t]*/, ""); uris = $0 }
            END { if (!found) flush() }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -e 's/\[[^]]*\]//' "$f" |
            awk -v c="$codename" '$1 == "deb" && $3 == c { print $2 }'
    done
}

# Make apt see the machine's own release's backports (bookworm-backports
# has meson >= 1.5, pycotap and the demo guest's kernel).  As root the entry
# is added, derived from the machine's Debian URI; otherwise says how.
ensure_backports() {
    local codename uri list=/etc/apt/sources.list.d/qemu-nested-viommu-backports.sources
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    apt-cache policy 2>/dev/null | grep -q " ${codename}-backports/" && return 0
    if [ "$(id -u)" != 0 ]; then
        die "apt has no ${codename}-backports entry: add one to /etc/apt (as root), then apt-get update"
    fi
    uri=$(archive_uri | head -n 1)
    [ -n "$uri" ] || die "cannot derive a ${codename}-backports entry from /etc/apt"
    info "adding ${codename}-backports ($list)"
    printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uri" "$codename" > "$list"
    apt-get update -qq
}

# Configure QEMU from the work tree into directory $1 with the arguments
# after $2, logging to $2, unless $1 was configured with exactly these.
# Compiles go through ccache; paths below the checkout are hashed relative
# to it, so that a fresh clone elsewhere (CI) hits the cache a previous
# build filled.
qemu_configure() {
    local obj=$1 log=$2 sig
    shift 2
    export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
    export CCACHE_BASEDIR=$TOP CCACHE_NOHASHDIR=true
    command -v ccache >/dev/null || die "ccache not found: run 'make deps'"
    sig=$(printf '%s\n' "$@")
    if [ -f "$obj/build.ninja" ] && [ "$(cat "$obj/.configure-args" 2>/dev/null)" = "$sig" ]; then
        return 0
    fi
    info "configuring QEMU in $obj (log: $log)"
    rm -rf "$obj"
    mkdir -p "$obj"
    if ! (cd "$obj" && "$WT/configure" "$@") > "$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "configure failed (full log: $log)"
    fi
    printf '%s\n' "$sig" > "$obj/.configure-args"
}

# Unmount everything mounted at or below directory $1 (deepest first), so
# that a chroot left mounted by an interrupted run can be removed safely.
umount_under() {
    local d m
    d=$(realpath -m "$1")
    awk '{ print $2 }' /proc/self/mounts | while read -r m; do
        m=$(printf '%b' "$m")           # \040 etc. in mount points
        case $m in "$d"|"$d"/*) echo "$m" ;; esac
    done | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
}
