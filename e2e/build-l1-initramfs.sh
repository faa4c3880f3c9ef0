#!/usr/bin/env bash
# Build the initramfs of the L1 guest of the real-kernel end-to-end test:
# Debian's static arm64 busybox, an /init that binds the edu device to
# vfio-pci and runs the test, the iommufd probe (cross-built, static) and
# L2: the patched QEMU and the test driver from e2e/build-l2-qemu.sh.
#
# Output: build/e2e/initramfs.cpio.gz.  Needs root the first time (adds the
# arm64 architecture to dpkg and installs the cross compiler).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

E2E=$TOP/e2e
OUT=$BUILD/e2e
ROOT=$OUT/initramfs
IMG=$OUT/initramfs.cpio.gz
mkdir -p "$OUT/dl"

# --- busybox ---------------------------------------------------------------
bb=$OUT/busybox-arm64
if [ ! -x "$bb" ]; then
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        [ "$(id -u)" = 0 ] || die "need root for 'dpkg --add-architecture arm64'"
        info "dpkg --add-architecture arm64"
        dpkg --add-architecture arm64
    fi
    if ! apt-cache show busybox-static:arm64 >/dev/null 2>&1; then
        info "apt-get update (arm64 package lists)"
        apt-get update -qq
    fi
    deb=$(ls "$OUT"/dl/busybox-static_*_arm64.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
        info "downloading busybox-static:arm64"
        (cd "$OUT/dl" && apt-get download -qq busybox-static:arm64)
        deb=$(ls "$OUT"/dl/busybox-static_*_arm64.deb | head -n1)
    fi
    info "extracting busybox from $(basename "$deb")"
    rm -rf "$OUT/bb-pkg"
    dpkg-deb -x "$deb" "$OUT/bb-pkg"
    cp "$OUT/bb-pkg/bin/busybox" "$bb.tmp"
    mv "$bb.tmp" "$bb"
    rm -rf "$OUT/bb-pkg"
fi

# Cross-compile the static arm64 program $1 into $2 when it or the uAPI
# headers it is built against (the work tree's linux-headers, generated
# from Linux 7.2 by scripts/linux-headers.sh) are newer.
cross_static() {
    if [ ! -x "$2" ] || [ "$1" -nt "$2" ] ||
       [ "$WT/linux-headers/linux/iommufd.h" -nt "$2" ] ||
       [ "$WT/linux-headers/linux/vfio.h" -nt "$2" ]; then
        info "cross-compiling $(basename "$1") (static)"
        aarch64-linux-gnu-gcc -static -O2 -Wall -Werror \
            -I"$WT/linux-headers" -o "$2" "$1"
    fi
}

# --- probe (optional) --------------------------------------------------------
probe=
if [ -f "$E2E/probe.c" ]; then
    command -v aarch64-linux-gnu-gcc >/dev/null ||
        die "aarch64-linux-gnu-gcc not found: run e2e/build-l2-qemu.sh first"
    if ! dpkg-query -W -f='${Status}' libc6-dev-arm64-cross 2>/dev/null |
            grep -q 'ok installed'; then
        [ "$(id -u)" = 0 ] || die "need root to install libc6-dev-arm64-cross"
        info "installing libc6-dev-arm64-cross (for the static probe)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends libc6-dev-arm64-cross > /dev/null
    fi
    need_base
    probe=$OUT/probe
    cross_static "$E2E/probe.c" "$probe"
fi

# --- conformance (optional): the iommufd differential test's probe ---------
# tests/e2e/test-conformance.py runs it here and on the simulator and
# diffs the outputs; /init runs it when the kernel command line has
# e2e.conformance.  Same uAPI headers as the simulator and QEMU (the work
# tree's linux-headers).
conf=
if [ -f "$E2E/conformance.c" ]; then
    need_base
    conf=$OUT/conformance
    cross_static "$E2E/conformance.c" "$conf"
fi

# --- tree and archive ------------------------------------------------------
L2=$OUT/l2
[ -x "$L2/bin/qemu-system-aarch64" ] && [ -x "$L2/bin/e2e-driver" ] ||
    die "no L2 in $L2: run e2e/build-l2-qemu.sh first"
info "assembling $ROOT"
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,dev,proc,sys,tmp}
cp -a "$L2"/. "$ROOT"/
cp "$bb" "$ROOT/bin/busybox"
[ -z "$probe" ] || cp "$probe" "$ROOT/bin/probe"
[ -z "$conf" ] || cp "$conf" "$ROOT/bin/conformance"
if [ "$(id -u)" = 0 ]; then
    mknod -m 600 "$ROOT/dev/console" c 5 1
fi

cat > "$ROOT/init" <<'INIT'
#!/bin/busybox sh
# L1 init for the real-kernel end-to-end test.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

echo "e2e: L1 init, kernel $(uname -r)"
echo "e2e: iommu groups:"
for g in /sys/kernel/iommu_groups/*; do
    [ -d "$g" ] && echo "  group ${g##*/}: $(ls "$g/devices" | tr '\n' ' ')"
done

edu=
for d in /sys/bus/pci/devices/*; do
    if [ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ]; then
        edu=${d##*/}
    fi
done
if [ -z "$edu" ]; then
    echo "e2e: FAIL: no edu device (1234:11e8)"
else
    echo "e2e: edu device at $edu, binding to vfio-pci"
    echo vfio-pci > "/sys/bus/pci/devices/$edu/driver_override"
    if [ -e "/sys/bus/pci/devices/$edu/driver" ]; then
        echo "$edu" > "/sys/bus/pci/devices/$edu/driver/unbind"
    fi
    echo "$edu" > /sys/bus/pci/drivers_probe
    echo "e2e: $edu driver: $(basename "$(readlink "/sys/bus/pci/devices/$edu/driver")")"
fi
echo "e2e: device nodes:"
ls -l /dev/iommu /dev/vfio /dev/vfio/devices 2>&1 | sed 's/^/  /'

# The differential conformance test (tests/e2e/test-conformance.py):
# every output line starts with "conf: ".
if [ -x /bin/conformance ] && [ -e /dev/vfio/devices/vfio0 ] &&
        grep -qw e2e.conformance /proc/cmdline; then
    echo "e2e: running conformance"
    /bin/conformance /dev/vfio/devices/vfio0
    echo "e2e: conformance exit status $?"
fi

if [ -x /bin/probe ] && [ -e /dev/vfio/devices/vfio0 ]; then
    echo "e2e: running probe"
    /bin/probe /dev/vfio/devices/vfio0
    echo "e2e: probe exit status $?"
fi

# L2: the patched QEMU with the vSMMU in front of edu, driven over qtest.
if [ -n "$edu" ] && [ -e /dev/vfio/devices/vfio0 ] &&
        ! grep -qw e2e.nol2 /proc/cmdline; then
    echo "e2e: running L2"
    /bin/e2e-driver /bin/qemu-system-aarch64 \
        -M virt,highmem=off -m 256M -nodefaults -display none \
        -object iommufd,id=ifd0 \
        -device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on \
        -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2 \
        -device vfio-pci,id=edu0,iommufd=ifd0,host=$edu,bus=rp0
    echo "e2e: driver exit status $?"
fi

if grep -qw e2e.shell /proc/cmdline; then
    echo "e2e: dropping to a shell (exit to power off)"
    setsid cttyhack sh
fi
echo "e2e: done, powering off"
poweroff -f
INIT
chmod 755 "$ROOT/init"

info "packing $IMG"
(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
    gzip -1n > "$IMG.tmp"
mv "$IMG.tmp" "$IMG"
info "initramfs: $IMG ($(du -h "$IMG" | cut -f1))"
