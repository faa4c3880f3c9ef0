#!/usr/bin/env bash
# Build the arm64 Linux kernel that runs as L1 in the real-kernel end-to-end
# test: Debian's linux-source package, allnoconfig plus e2e/kernel.config,
# cross-compiled with Debian's aarch64-linux-gnu toolchain.
#
# Output: build/e2e/Image (and build/e2e/Image.hash, the hash of the inputs).
# Built kernels are kept in E2E_CACHE (default ~/.cache/qemu-nested-viommu/e2e)
# by the hash of their inputs, so a fresh clone on the same machine does not
# rebuild; scripts/linux-source.sh keeps the linux-source package there as
# well and unpacks it into build/e2e/linux-source-$KVER.
# Needs root for apt.
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

# The source tree (shared with scripts/linux-headers.sh, which generates
# the uAPI headers the work tree is built against from it).
KVER=$KVER "$TOP/scripts/linux-source.sh" > /dev/null

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
