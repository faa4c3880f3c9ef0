#!/usr/bin/env bash
# Build the initramfs of the L1 guest of the real-kernel end-to-end tests:
# Debian's static busybox, an /init that binds the edu device to vfio-pci
# and runs the test, and L2: the patched QEMU and the test driver from
# e2e/build-l2-qemu.sh.
#   L1_ARCH=arm64 (default): also the iommufd probe and the conformance
#     program (cross-built, static); output build/e2e/initramfs.cpio.gz.
#     Needs root the first time (adds the arm64 architecture to dpkg and
#     installs the cross compiler).
#   L1_ARCH=x86_64 (the Intel chain): also the conformance program
#     (native, static); output build/e2e/initramfs-x86_64.cpio.gz.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

E2E=$TOP/e2e
OUT=$BUILD/e2e
L1_ARCH=${L1_ARCH:-arm64}
case $L1_ARCH in
    arm64)  DEBARCH=arm64 ROOT=$OUT/initramfs L2=$OUT/l2
            IMG=$OUT/initramfs.cpio.gz ;;
    x86_64) DEBARCH=amd64 ROOT=$OUT/initramfs-x86_64 L2=$OUT/l2-x86_64
            IMG=$OUT/initramfs-x86_64.cpio.gz ;;
    *) die "L1_ARCH must be arm64 or x86_64, not $L1_ARCH" ;;
esac
mkdir -p "$OUT/dl"

# --- busybox ---------------------------------------------------------------
bb=$OUT/busybox-$DEBARCH
if [ ! -x "$bb" ]; then
    if [ "$DEBARCH" != "$(dpkg --print-architecture)" ] &&
       ! dpkg --print-foreign-architectures | grep -qx "$DEBARCH"; then
        [ "$(id -u)" = 0 ] || die "need root for 'dpkg --add-architecture arm64'"
        info "dpkg --add-architecture arm64"
        dpkg --add-architecture arm64
    fi
    if ! apt-cache show "busybox-static:$DEBARCH" >/dev/null 2>&1; then
        info "apt-get update ($DEBARCH package lists)"
        apt-get update -qq
    fi
    deb=$(ls "$OUT"/dl/busybox-static_*_"$DEBARCH".deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
        info "downloading busybox-static:$DEBARCH"
        (cd "$OUT/dl" && apt-get download -qq "busybox-static:$DEBARCH")
        deb=$(ls "$OUT"/dl/busybox-static_*_"$DEBARCH".deb | head -n1)
    fi
    info "extracting busybox from $(basename "$deb")"
    rm -rf "$OUT/bb-pkg"
    dpkg-deb -x "$deb" "$OUT/bb-pkg"
    cp "$OUT/bb-pkg/bin/busybox" "$bb.tmp"
    mv "$bb.tmp" "$bb"
    rm -rf "$OUT/bb-pkg"
fi

# Compile the static program $1 for L1 into $2 when it or the uAPI
# headers it is built against (the work tree's linux-headers, generated
# from Linux 7.2 by scripts/linux-headers.sh) are newer: cross-compiled
# for arm64, with the host's cc for x86_64.
cross_static() {
    local cc=cc
    [ "$L1_ARCH" = x86_64 ] || cc=aarch64-linux-gnu-gcc
    if [ ! -x "$2" ] || [ "$1" -nt "$2" ] ||
       [ "$WT/linux-headers/linux/iommufd.h" -nt "$2" ] ||
       [ "$WT/linux-headers/linux/vfio.h" -nt "$2" ]; then
        info "compiling $(basename "$1") for $L1_ARCH (static)"
        "$cc" -static -O2 -Wall -Werror \
            -I"$WT/linux-headers" -o "$2.tmp" "$1"
        mv "$2.tmp" "$2"
    fi
}

# --- probe (optional; the SMMUv3 objects) -----------------------------------
probe=
if [ "$L1_ARCH" = arm64 ] && [ -f "$E2E/probe.c" ]; then
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
# tree's linux-headers).  The same program for both chains: behind the
# x86_64 L1's VT-d it runs its vtd.* steps
# (tests/e2e/test-conformance-vtd.py).
conf=
if [ -f "$E2E/conformance.c" ]; then
    need_base
    case $L1_ARCH in
        arm64)  conf=$OUT/conformance ;;
        x86_64) conf=$OUT/conformance-x86_64 ;;
    esac
    cross_static "$E2E/conformance.c" "$conf"
fi

# --- tree and archive ------------------------------------------------------
{ [ -x "$L2/bin/qemu-system-aarch64" ] && [ -x "$L2/bin/e2e-driver" ]; } ||
    { [ -x "$L2/bin/qemu-system-x86_64" ] && [ -x "$L2/bin/e2e-driver-vtd" ]; } ||
    die "no L2 in $L2: run L1_ARCH=$L1_ARCH e2e/build-l2-qemu.sh first"
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

# L2: the patched QEMU with the vIOMMU in front of edu, driven over qtest.
if [ -n "$edu" ] && [ -e /dev/vfio/devices/vfio0 ] &&
        ! grep -qw e2e.nol2 /proc/cmdline; then
    echo "e2e: running L2"
    if [ -x /bin/qemu-system-aarch64 ]; then
        /bin/e2e-driver /bin/qemu-system-aarch64 \
            -M virt,highmem=off -m 256M -nodefaults -display none \
            -object iommufd,id=ifd0 \
            -device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on \
            -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2 \
            -device vfio-pci,id=edu0,iommufd=ifd0,host=$edu,bus=rp0
    else
        # native PCIe hot-unplug (not ACPI's) behind the root port
        /bin/e2e-driver-vtd /bin/qemu-system-x86_64 \
            -M q35 -m 256M -nodefaults -display none \
            -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off \
            -object iommufd,id=ifd0 \
            -device intel-iommu,x-scalable-mode=on,x-flts=on,caching-mode=on \
            -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x4 \
            -device vfio-pci,id=edu0,iommufd=ifd0,host=$edu,bus=rp0
    fi
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
