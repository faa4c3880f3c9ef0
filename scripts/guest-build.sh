#!/usr/bin/env bash
# Build the demo guest in build/guest: Debian's bookworm-backports kernel
# (extracted, not installed), the simdma module built against Debian's
# matching headers, and an initramfs with busybox-static.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

G=$BUILD/guest
KVER=${GUEST_KVER:-6.12.95+deb12-amd64}
KVER_COMMON=${KVER%-amd64}
PKGS=(linux-image-$KVER linux-headers-$KVER linux-headers-$KVER_COMMON-common
      linux-kbuild-$KVER_COMMON busybox-static)
ROOT=$G/root
HDRS=$ROOT/usr/src/linux-headers-$KVER

mkdir -p "$G/debs"
if [ ! -f "$ROOT/boot/vmlinuz-$KVER" ] || [ ! -d "$HDRS" ]; then
    info "fetching the guest kernel $KVER, its headers and busybox-static"
    (cd "$G/debs" && apt-get download -q "${PKGS[@]}" >/dev/null 2>&1) ||
        die "cannot download ${PKGS[*]} (bookworm-backports must be in the apt sources; run make deps)"
    rm -rf "$ROOT"
    for d in "$G"/debs/*.deb; do dpkg-deb -x "$d" "$ROOT"; done
    # Debian's header package includes its common part by absolute path.
    sed -i "s|^include /usr/src/|include $ROOT/usr/src/|" "$HDRS/Makefile"
fi

info "building the simdma guest module"
mkdir -p "$G/mod"
cp "$TOP/demo/guest/simdma.c" "$TOP/demo/guest/Kbuild" "$G/mod/"
make -s -C "$HDRS" M="$G/mod" modules CONFIG_DEBUG_INFO_BTF_MODULES= >/dev/null

info "building the initramfs"
rm -rf "$G/initrd"
mkdir -p "$G/initrd/bin" "$G/initrd/proc" "$G/initrd/sys" "$G/initrd/dev"
cp "$ROOT/bin/busybox" "$G/initrd/bin/busybox"
cp "$TOP/demo/guest/init" "$G/initrd/init"
chmod +x "$G/initrd/init"
cp "$G/mod/simdma.ko" "$G/initrd/"
(cd "$G/initrd" && find . | cpio -o -H newc --quiet | gzip -1 > "$G/initrd.gz")
ln -sf "root/boot/vmlinuz-$KVER" "$G/vmlinuz"
