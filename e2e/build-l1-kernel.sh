#!/usr/bin/env bash
# Build the arm64 Linux kernel that runs as L1 in the real-kernel end-to-end
# test: Debian's linux-source package, allnoconfig plus e2e/kernel.config,
# cross-compiled with Debian's aarch64-linux-gnu toolchain.
#
# Output: build/e2e/Image (and build/e2e/Image.hash, the hash of the inputs).
# Built kernels are kept in E2E_CACHE (default ~/.cache/qemu-nested-viommu/e2e)
# by the hash of their inputs, so a fresh clone on the same machine does not
# rebuild; the linux-source package is kept there as well.
# Needs root for apt (adds a trixie-backports source when the kernel
# source package is not otherwise available).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

KVER=${KVER:-7.2}
E2E=$TOP/e2e
OUT=$BUILD/e2e
SRC=$OUT/linux-source-$KVER
KOBJ=$OUT/kobj-$KVER
FRAG=$E2E/kernel.config
CACHE=${E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qemu-nested-viommu/e2e}
JOBS=${JOBS:-$(nproc)}
export ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-

mkdir -p "$OUT"
hash=$( { echo "linux-$KVER"; cat "$FRAG"; } | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/Image" ] && [ "$(cat "$OUT/Image.hash" 2>/dev/null)" = "$hash" ]; then
    info "kernel up to date: $OUT/Image (inputs $hash)"
    exit 0
fi
if [ -f "$CACHE/Image-$hash" ]; then
    cp "$CACHE/Image-$hash" "$OUT/Image.tmp"
    mv "$OUT/Image.tmp" "$OUT/Image"
    echo "$hash" > "$OUT/Image.hash"
    info "kernel from the cache: $CACHE/Image-$hash"
    exit 0
fi

# --- packages -------------------------------------------------------------
apt_updated=
apt_update() {
    [ -n "$apt_updated" ] && return 0
    info "apt-get update"
    apt-get update -qq
    apt_updated=1
}

need_pkgs=()
for p in gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu make bc flex bison \
         xz-utils; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
        need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "need root to install: ${need_pkgs[*]}"
    apt_update
    info "installing ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${need_pkgs[@]}" > /dev/null
fi

if [ ! -d "$SRC" ]; then
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
        apt_updated=
        apt_update
        apt-cache show "linux-source-$KVER" >/dev/null 2>&1 ||
            die "linux-source-$KVER is not available from apt"
    fi
    mkdir -p "$CACHE"
    deb=$(ls "$CACHE"/linux-source-"$KVER"_*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
        info "downloading linux-source-$KVER into $CACHE"
        (cd "$CACHE" && apt-get download -qq "linux-source-$KVER")
        deb=$(ls "$CACHE"/linux-source-"$KVER"_*.deb | head -n1)
    fi
    info "unpacking $(basename "$deb") into $SRC"
    rm -rf "$OUT/pkg" "$SRC.tmp"
    dpkg-deb -x "$deb" "$OUT/pkg"
    mkdir -p "$SRC.tmp"
    tar -xf "$OUT/pkg/usr/src/linux-source-$KVER.tar.xz" -C "$SRC.tmp" \
        --strip-components=1
    rm -rf "$OUT/pkg"
    mv "$SRC.tmp" "$SRC"
fi

# --- configure and build --------------------------------------------------
info "configuring: allnoconfig + $(basename "$FRAG") (in $KOBJ)"
mkdir -p "$KOBJ"
(cd "$SRC" && scripts/kconfig/merge_config.sh -n -O "$KOBJ" "$FRAG") \
    > "$OUT/kconfig.log" 2>&1 || { tail -n 30 "$OUT/kconfig.log" >&2; die "kconfig failed"; }
# merge_config.sh reports options that did not survive; make that fatal.
missing=$(sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=\(.*\)/\1=\2/p' "$FRAG" |
    while IFS= read -r line; do
        grep -qxF "$line" "$KOBJ/.config" || printf '  %s\n' "$line"
    done)
[ -z "$missing" ] || die "options not set in $KOBJ/.config:
$missing"

info "building Image with $JOBS jobs (log: $OUT/kbuild.log)"
start=$(date +%s)
make -C "$SRC" O="$KOBJ" -j"$JOBS" Image > "$OUT/kbuild.log" 2>&1 ||
    { tail -n 40 "$OUT/kbuild.log" >&2; die "kernel build failed"; }
info "built in $(( $(date +%s) - start )) s"
cp "$KOBJ/arch/arm64/boot/Image" "$OUT/Image.tmp"
mv "$OUT/Image.tmp" "$OUT/Image"
echo "$hash" > "$OUT/Image.hash"
mkdir -p "$CACHE"
cp "$OUT/Image" "$CACHE/Image-$hash.tmp"
mv "$CACHE/Image-$hash.tmp" "$CACHE/Image-$hash"
info "kernel: $OUT/Image ($(du -h "$OUT/Image" | cut -f1))"
