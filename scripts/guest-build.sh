#!/usr/bin/env bash
# Build the demo guest: Debian's bookworm-backports kernel (extracted, not
# installed), the simdma module built against Debian's matching headers,
# and an initramfs with busybox-static.
#   guest-build.sh [amd64|arm64]     (default amd64; output build/guest or
#                                     build/guest-arm64)
# arm64 is cross-built: arm64 kernel, headers and busybox from the arm64
# archive (dpkg multiarch), the kbuild host tools for amd64, and Debian's
# aarch64-linux-gnu cross compiler.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ARCH=${1:-amd64}
KREL=${GUEST_KREL:-6.12.95+deb12}
case $ARCH in
    amd64) G=$BUILD/guest; A= ;;
    arm64) G=$BUILD/guest-arm64; A=:arm64 ;;
    *) die "guest-build.sh: unknown architecture $ARCH" ;;
esac
KVER=$KREL-$ARCH
PKGS=(linux-image-$KVER$A linux-headers-$KVER$A linux-headers-$KREL-common
      linux-kbuild-$KREL busybox-static$A)
ROOT=$G/root
HDRS=$ROOT/usr/src/linux-headers-$KVER

if [ "$ARCH" = arm64 ]; then
    need=()
    dpkg --print-foreign-architectures | grep -qx arm64 || need+=(multiarch)
    command -v aarch64-linux-gnu-gcc-12 >/dev/null || need+=(gcc)
    if [ ${#need[@]} -ne 0 ]; then
        [ "$(id -u)" = 0 ] || die "the arm64 guest needs, as root:
  dpkg --add-architecture arm64 && apt-get update &&
  apt-get install --no-install-recommends gcc-aarch64-linux-gnu"
        info "setting up arm64 cross-building (${need[*]})"
        dpkg --add-architecture arm64
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends gcc-aarch64-linux-gnu >/dev/null
    fi
fi

mkdir -p "$G/debs"
if [ ! -f "$ROOT/boot/vmlinuz-$KVER" ] || [ ! -d "$HDRS" ]; then
    ensure_backports
    info "fetching the $ARCH guest kernel $KVER, its headers and busybox-static"
    (cd "$G/debs" && apt-get download -q "${PKGS[@]}" >/dev/null 2>&1) ||
        die "cannot download ${PKGS[*]} (bookworm-backports must be in the apt sources; run make deps)"
    rm -rf "$ROOT"
    for d in "$G"/debs/*.deb; do dpkg-deb -x "$d" "$ROOT"; done
    # Debian's header package includes its common part by absolute path.
    sed -i "s|^include /usr/src/|include $ROOT/usr/src/|" "$HDRS/Makefile"
fi

info "building the simdma guest module ($ARCH)"
mkdir -p "$G/mod"
cp "$TOP/demo/guest/simdma.c" "$TOP/demo/guest/Kbuild" "$G/mod/"
make -s -C "$HDRS" M="$G/mod" modules CONFIG_DEBUG_INFO_BTF_MODULES= >/dev/null

info "building the initramfs ($ARCH)"
rm -rf "$G/initrd"
mkdir -p "$G/initrd/bin" "$G/initrd/proc" "$G/initrd/sys" "$G/initrd/dev"
cp "$ROOT/bin/busybox" "$G/initrd/bin/busybox"
cp "$TOP/demo/guest/init" "$G/initrd/init"
chmod +x "$G/initrd/init"
cp "$G/mod/simdma.ko" "$G/initrd/"
(cd "$G/initrd" && find . | cpio -o -H newc --quiet | gzip -1 > "$G/initrd.gz")
ln -sf "root/boot/vmlinuz-$KVER" "$G/vmlinuz"
