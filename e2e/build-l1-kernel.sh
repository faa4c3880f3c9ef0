#!/usr/bin/env bash
# Build the Linux kernel that runs as L1 in the real-kernel end-to-end
# tests: Debian's linux-source package, allnoconfig plus a fragment.
#   L1_ARCH=arm64 (default): e2e/kernel.config, cross-compiled with Debian's
#     aarch64-linux-gnu toolchain; output build/e2e/Image.
#   L1_ARCH=x86_64: e2e/kernel-x86_64.config, built natively (the Intel
#     chain, e2e/README.md); output build/e2e/bzImage.
#
# Next to the image, <image>.hash is the hash of the inputs.  Built kernels
# are kept in E2E_CACHE (default ~/.cache/qemu-nested-viommu/e2e) by the
# hash of their inputs, so a fresh clone on the same machine does not
# rebuild; scripts/linux-source.sh keeps the linux-source package there as
# well and unpacks it into build/e2e/linux-source-$KVER (one tree for both
# architectures: each builds out of tree).
# Needs root for apt.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

KVER=${KVER:-7.2}
E2E=$TOP/e2e
OUT=$BUILD/e2e
SRC=$OUT/linux-source-$KVER
CACHE=${E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qemu-nested-viommu/e2e}
JOBS=${JOBS:-$(nproc)}
L1_ARCH=${L1_ARCH:-arm64}
case $L1_ARCH in
    arm64)
        KOBJ=$OUT/kobj-$KVER
        FRAG=$E2E/kernel.config
        IMAGE=Image
        export ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
        tools=(gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu) ;;
    x86_64)
        KOBJ=$OUT/kobj-x86_64-$KVER
        FRAG=$E2E/kernel-x86_64.config
        IMAGE=bzImage
        export ARCH=x86_64
        unset CROSS_COMPILE
        # objtool needs libelf
        tools=(gcc binutils libelf-dev) ;;
    *) die "L1_ARCH must be arm64 or x86_64, not $L1_ARCH" ;;
esac
IMG=$OUT/$IMAGE
# logs: kconfig.log and kbuild.log for arm64 (as before), -x86_64.log else
sfx=
[ "$L1_ARCH" = arm64 ] || sfx=-$L1_ARCH

mkdir -p "$OUT"
hash=$( { echo "linux-$KVER"; cat "$FRAG"; } | sha256sum | cut -d' ' -f1)
if [ -f "$IMG" ] && [ "$(cat "$IMG.hash" 2>/dev/null)" = "$hash" ]; then
    info "kernel up to date: $IMG (inputs $hash)"
    exit 0
fi
if [ -f "$CACHE/$IMAGE-$hash" ]; then
    cp "$CACHE/$IMAGE-$hash" "$IMG.tmp"
    mv "$IMG.tmp" "$IMG"
    echo "$hash" > "$IMG.hash"
    info "kernel from the cache: $CACHE/$IMAGE-$hash"
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
for p in "${tools[@]}" make bc flex bison xz-utils; do
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
    > "$OUT/kconfig$sfx.log" 2>&1 || { tail -n 30 "$OUT/kconfig$sfx.log" >&2; die "kconfig failed"; }
# merge_config.sh reports options that did not survive; make that fatal.
missing=$(sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=\(.*\)/\1=\2/p' "$FRAG" |
    while IFS= read -r line; do
        grep -qxF "$line" "$KOBJ/.config" || printf '  %s\n' "$line"
    done)
[ -z "$missing" ] || die "options not set in $KOBJ/.config:
$missing"

log=$OUT/kbuild$sfx.log
info "building $IMAGE for $L1_ARCH with $JOBS jobs (log: $log)"
start=$(date +%s)
make -C "$SRC" O="$KOBJ" -j"$JOBS" "$IMAGE" > "$log" 2>&1 ||
    { tail -n 40 "$log" >&2; die "kernel build failed"; }
info "built in $(( $(date +%s) - start )) s"
cp "$KOBJ/arch/$ARCH/boot/$IMAGE" "$IMG.tmp"
mv "$IMG.tmp" "$IMG"
echo "$hash" > "$IMG.hash"
mkdir -p "$CACHE"
cp "$IMG" "$CACHE/$IMAGE-$hash.tmp"
mv "$CACHE/$IMAGE-$hash.tmp" "$CACHE/$IMAGE-$hash"
info "kernel: $IMG ($(du -h "$IMG" | cut -f1))"
