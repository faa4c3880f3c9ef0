#!/usr/bin/env bash
# The demo's stock Linux guest (Debian's amd64 kernel and build/guest's
# initramfs, scripts/guest-build.sh) booted as the L2 guest of the Intel
# chain; tests/e2e/test-real-kernel-intel-guest.py runs it in make check
# (about 80 s on 2 cores, under the 5 minutes issue 15 allows).
#
# L0 is the patched qemu-system-x86_64 under TCG with the nesting
# intel-iommu and edu (as e2e/run-l1.sh L1_ARCH=x86_64); L1 is the cached
# x86_64 Linux 7.2; inside it the same patched QEMU runs under TCG (not
# qtest) with intel-iommu x-scalable-mode=on,x-flts=on,caching-mode=on
# and edu passed through with vfio-pci over iommufd, booting the Debian
# kernel with intel_iommu=on,sm_on.  The DMA domain Linux's intel-iommu
# gives edu at probe is what QEMU binds nested on L1's iommufd; then
# e2e/l2-edudma.c (Debian has no edu driver; built here against the demo
# guest's headers) copies pages through it with the DMA API, every unmap
# an IOTLB invalidation (iommu.strict=1).  L2_APPEND=l2.nodma leaves it
# out.  Prints L1's and L2's boot times and L2 QEMU's
# iommufd/vtd_accel trace.
#
# Reuses what make e2e-intel and guest-build.sh built (read only):
#   SRC (default build/ of this tree): e2e/bzImage, e2e/initramfs-x86_64/,
#   guest/vmlinuz, guest/initrd/; QEMU (default $SRC/obj/qemu-system-x86_64)
#   for L0 and L2.  Output in OUT (default build/l2guest of this tree, so
#   that SRC can be another tree's read-only build); TIMEOUT seconds
#   (default 1200).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
SRC=${SRC:-$TOP/build}
OUT=${OUT:-$TOP/build/l2guest}
QEMU=${QEMU:-$SRC/obj/qemu-system-x86_64}
TIMEOUT=${TIMEOUT:-1200}
L2_APPEND=${L2_APPEND:-}

for f in "$SRC/e2e/bzImage" "$SRC/e2e/initramfs-x86_64/bin/qemu-system-x86_64" \
         "$SRC/guest/vmlinuz" "$SRC/guest/initrd/bin/busybox" "$QEMU"; do
    [ -e "$f" ] || { echo "run-l2-guest: missing $f (make e2e-intel, scripts/guest-build.sh)" >&2; exit 1; }
done
bundle=$(dirname "$QEMU")/qemu-bundle/usr/share/qemu
mkdir -p "$OUT"

# --- L2's edu driver: e2e/l2-edudma.c against the demo guest's headers ---
hdrs=
for d in "$SRC"/guest/root/usr/src/linux-headers-*-amd64; do hdrs=$d; done
[ -d "$hdrs" ] || { echo "run-l2-guest: no amd64 headers in $SRC/guest/root (scripts/guest-build.sh)" >&2; exit 1; }
rm -rf "$OUT/mod"
mkdir -p "$OUT/mod"
cp "$TOP/e2e/l2-edudma.c" "$OUT/mod/edudma.c"
echo 'obj-m += edudma.o' > "$OUT/mod/Kbuild"
make -s -C "$hdrs" M="$OUT/mod" modules CONFIG_DEBUG_INFO_BTF_MODULES= >/dev/null

# --- L2's initramfs: the demo initrd with an /init that reports and stops --
rm -rf "$OUT/l2-initrd"
cp -a "$SRC/guest/initrd" "$OUT/l2-initrd"
cp "$OUT/mod/edudma.ko" "$OUT/l2-initrd/"
cat > "$OUT/l2-initrd/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "l2: userspace at $(cut -d' ' -f1 /proc/uptime) s (L2 uptime), Linux $(uname -r)"
echo "l2: cmdline: $(cat /proc/cmdline)"
dmesg | grep -iE 'DMAR|iommu' | sed 's/^/l2:   /' | head -40
for d in /sys/bus/pci/devices/*; do
    if [ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ]; then
        g=$(readlink "$d/iommu_group" 2>/dev/null)
        echo "l2: edu at ${d##*/}, iommu group ${g##*/}," \
             "domain type $(cat "$d/iommu_group/type" 2>/dev/null)," \
             "driver $(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)"
    fi
done
if ! grep -qw l2.nodma /proc/cmdline; then
    echo "l2: insmod edudma at $(cut -d' ' -f1 /proc/uptime) s"
    insmod /edudma.ko
    dmesg | grep 'edudma' | sed 's/^/l2:   /'
fi
echo "l2: done at $(cut -d' ' -f1 /proc/uptime) s, powering off"
poweroff -f
INIT
chmod 755 "$OUT/l2-initrd/init"
(cd "$OUT/l2-initrd" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
    gzip -1n > "$OUT/l2-initrd.gz"

# --- L1's initramfs: the Intel chain's tree, plus the L2 guest ------------
rm -rf "$OUT/l1-root"
cp -a "$SRC/e2e/initramfs-x86_64" "$OUT/l1-root"
mkdir -p "$OUT/l1-root/l2"
cp "$(readlink -f "$SRC/guest/vmlinuz")" "$OUT/l1-root/l2/vmlinuz"
cp "$OUT/l2-initrd.gz" "$OUT/l1-root/l2/initrd.gz"
# -kernel on q35 needs the fw_cfg DMA option ROM
cp "$bundle/linuxboot_dma.bin" "$OUT/l1-root/usr/share/qemu/"
cat > "$OUT/l1-root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
echo "l1: userspace at \$(cut -d' ' -f1 /proc/uptime) s (L1 uptime), Linux \$(uname -r)"
edu=
for d in /sys/bus/pci/devices/*; do
    if [ "\$(cat "\$d/vendor")" = 0x1234 ] && [ "\$(cat "\$d/device")" = 0x11e8 ]; then
        edu=\${d##*/}
    fi
done
echo vfio-pci > "/sys/bus/pci/devices/\$edu/driver_override"
echo "\$edu" > /sys/bus/pci/drivers_probe
echo "l1: edu \$edu driver: \$(basename "\$(readlink "/sys/bus/pci/devices/\$edu/driver")")"
t0=\$(cut -d' ' -f1 /proc/uptime)
echo "l1: starting L2 QEMU (TCG) at \$t0 s"
/bin/qemu-system-x86_64 -M q35,kernel-irqchip=split -accel tcg -m 512M \\
    -nodefaults -display none -monitor none -serial stdio -no-reboot \\
    -device intel-iommu,intremap=on,x-scalable-mode=on,x-flts=on,caching-mode=on \\
    -object iommufd,id=ifd0 \\
    -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x4 \\
    -device vfio-pci,id=edu0,iommufd=ifd0,host=\$edu,bus=rp0 \\
    -kernel /l2/vmlinuz -initrd /l2/initrd.gz \\
    -append "console=ttyS0 intel_iommu=on,sm_on iommu.strict=1 panic=-1 quiet $L2_APPEND" \\
    -trace 'iommufd_backend_*' -trace 'vtd_accel_*' -D /tmp/l2-trace.log
echo "l1: L2 QEMU exit status \$? after \$(echo "\$(cut -d' ' -f1 /proc/uptime) \$t0" | awk '{print \$1 - \$2}') s"
echo "l1: L2 QEMU trace:"
sed 's/^/l1:   /' /tmp/l2-trace.log
echo "l1: L2 QEMU trace summary: \$(grep -c 'hwpt_type=1 .*(0)' /tmp/l2-trace.log) nested HWPT(s), \$(grep -c 'invalidate_cache .*(0)' /tmp/l2-trace.log) invalidation(s) accepted, \$(grep -c 'alloc_.*(-\\|invalidate_cache .*(-' /tmp/l2-trace.log) refused"
echo "l1: done"
poweroff -f
INIT
chmod 755 "$OUT/l1-root/init"
(cd "$OUT/l1-root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
    gzip -1n > "$OUT/l1-initramfs.cpio.gz"
echo "run-l2-guest: L1 initramfs $(du -h "$OUT/l1-initramfs.cpio.gz" | cut -f1)"

# --- L0 ---------------------------------------------------------------------
LOG=$OUT/console.log
start=$(date +%s.%N)
rc=0
# shellcheck disable=SC2054 # the commas are in -device values
timeout "$TIMEOUT" "$QEMU" -M q35 -accel tcg -cpu max -nodefaults \
    -device intel-iommu,intremap=on,x-scalable-mode=on,x-flts=on,x-nested=on,caching-mode=on \
    -device edu -smp 2 -m 2G -nic none \
    -display none -monitor none -serial stdio -no-reboot \
    -kernel "$SRC/e2e/bzImage" -initrd "$OUT/l1-initramfs.cpio.gz" \
    -append "console=ttyS0 intel_iommu=on panic=-1 loglevel=4" \
    2> "$LOG.l0-stderr" |
    while IFS= read -r line; do
        printf '[%6.1f] %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$line"
    done | tee "$LOG" || rc=$?
echo "run-l2-guest: L0 exited with status $rc after $(printf '%.1f' \
    "$(echo "$(date +%s.%N) - $start" | bc)") s; console $LOG"
# The verdict: L2 reached userspace, QEMU bound edu nested, and (unless
# l2.nodma) the copies through the nested domain all matched.
if [ "$rc" = 0 ]; then
    if ! grep -q 'l2: userspace at' "$LOG"; then
        echo "run-l2-guest: FAIL: L2 did not reach userspace"; rc=1
    elif ! grep -q 'vtd_accel_attach .*attach nested hwpt' "$LOG"; then
        echo "run-l2-guest: FAIL: edu was not bound nested"; rc=1
    elif ! grep -qw l2.nodma <<< "$L2_APPEND" &&
            ! grep -q 'edudma: [0-9]* rounds, 0 bad' "$LOG"; then
        echo "run-l2-guest: FAIL: edu DMA through the nested domain"; rc=1
    else
        echo "run-l2-guest: PASS"
    fi
fi
exit "$rc"
