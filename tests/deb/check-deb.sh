#!/usr/bin/env bash
# Test of 'make deb' (not part of make check; make deb runs it after the
# build, and it runs alone): installs the built .debs with apt in a clean
# Debian 13 chroot and starts the installed QEMU on the iommufd simulator
#   /usr/bin/qemu-system-x86_64 -M q35 -device intel-iommu,x-scalable-mode=on,fsts=on,caching-mode=on
#       ... -device vfio-pci,...   (a simulated VT-d device)
#   /usr/bin/qemu-system-aarch64 -M virt -device arm-smmuv3,primary-bus=pcie.0,accel=on
#       ... -device vfio-pci,...   (a simulated SMMUv3 device)
# Each QEMU starts stopped (-S); HMP 'info qtree' must show the vfio-pci
# device realized, and the simulator's report a nesting-parent HWPT
# (Intel: ioctl.HWPT_ALLOC >= 1) or a host vIOMMU (ARM: ioctl.VIOMMU_ALLOC
# 1).  Prints PASS or FAIL per check and exits non-zero on any failure.
#
# The clean chroot is a fresh copy of a debootstrap --variant=minbase
# trixie (made once, kept as build/deb/test-base.tar) in build/deb/test.
# The device memfds are made with perl (perl-base is in minbase): no
# packages other than the .debs and their dependencies are installed.
#   DEB_OUT=DIR           build/deb (the .debs are in DIR/out)
#   IOMMUFD_SIM_LIB=PATH  the simulator (default build/sim/libiommufd-sim.so)
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

DEB=${DEB_OUT:-$BUILD/deb}
OUT=$DEB/out
SIM=${IOMMUFD_SIM_LIB:-$BUILD/sim/libiommufd-sim.so}
BASE=$DEB/test-base.tar
ROOT=$DEB/test
LOG=$DEB/check-deb.log

[ "$(id -u)" = 0 ] || die "check-deb.sh needs root (debootstrap, chroot)"
ls "$OUT"/qemu-system-x86_*.deb "$OUT"/qemu-system-arm_*.deb "$OUT"/qemu-system-common_*.deb \
    > /dev/null 2>&1 || die "no packages in $OUT: run 'make deb' first"
[ -f "$SIM" ] || die "no simulator at $SIM: run 'make sim' first"

mounted=()
cleanup() {
    local i
    for (( i=${#mounted[@]}-1; i>=0; i-- )); do
        umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
    done
    mounted=()
}
trap cleanup EXIT
in_root() { chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }

fails=0
pass() { say "PASS: $*"; }
fail() { say "FAIL: $*"; fails=$((fails + 1)); }

: > "$LOG"
if [ ! -f "$BASE" ]; then
    uri=$(archive_uri | head -n 1)
    [ -n "$uri" ] || die "cannot find this machine's Debian archive URI in /etc/apt"
    info "debootstrap --variant=minbase trixie (pristine test base, once)"
    rm -rf "$DEB/test-base"
    debootstrap --variant=minbase trixie "$DEB/test-base" "$uri" >> "$LOG" 2>&1 ||
        { tail -n 20 "$LOG" >&2; die "debootstrap failed (log: $LOG)"; }
    tar -C "$DEB/test-base" -cf "$BASE.tmp" .
    mv "$BASE.tmp" "$BASE"
    rm -rf "$DEB/test-base"
fi

info "a clean trixie chroot in $ROOT"
umount_under "$ROOT"
rm -rf "$ROOT"
mkdir -p "$ROOT"
tar -C "$ROOT" -xf "$BASE"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mount -t proc proc "$ROOT/proc"; mounted+=("$ROOT/proc")
mkdir -p "$ROOT/debs" "$ROOT/opt/sim"
cp "$OUT"/qemu-system-x86_*.deb "$OUT"/qemu-system-arm_*.deb "$OUT"/qemu-system-common_*.deb "$ROOT/debs/"
cp "$SIM" "$ROOT/opt/sim/libiommufd-sim.so"

info "apt install of the .debs (log: $LOG)"
if in_root sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends /debs/*.deb' >> "$LOG" 2>&1; then
    pass "apt installs $(cd "$ROOT/debs" && ls | paste -sd' ') in a clean trixie chroot"
else
    tail -n 20 "$LOG"
    fail "apt install of the .debs"
    exit 1
fi
in_root dpkg-query -W -f '${Package} ${Version}\n' qemu-system-x86 qemu-system-arm qemu-system-common qemu-system-data | tee -a "$LOG"
ver=$(in_root /usr/bin/qemu-system-x86_64 --version | head -n 1)
case $ver in
    *"$(pin version)"+*) pass "qemu-system-x86_64 --version: $ver" ;;
    *) fail "qemu-system-x86_64 --version is not the local build: $ver" ;;
esac

# run NAME CONFIG QEMU ARGS...: starts QEMU in the chroot with a simulated
# device memfd holding CONFIG as fd @FD@ (in ARGS), HMP on stdin; writes
# the HMP output to $ROOT/tmp/NAME.out and the report to NAME.report.
run() {
    local name=$1 cfg=$2
    shift 2
    cat > "$ROOT/tmp/$name.sh" <<'EOF'
#!/bin/sh
# $1 name, $2 config, then the QEMU command line with @FD@
exec perl -e '
    my ($name, $cfg, @cmd) = @ARGV;
    my $fd = syscall(319, "iommufd-sim-vfio-$name", 0);   # memfd_create, no CLOEXEC
    die "memfd_create: $!\n" if $fd < 0;
    syscall(1, $fd, $cfg, length $cfg) == length $cfg or die "write: $!\n";
    s/\@FD\@/$fd/g for @cmd;
    $ENV{LD_PRELOAD} = $ENV{SIM_PRELOAD};   # QEMU only, not timeout(1)
    exec @cmd or die "exec: $!\n";' "$@"
EOF
    chmod +x "$ROOT/tmp/$name.sh"
    printf 'info qtree\ninfo pci\nquit\n' |
        in_root env SIM_PRELOAD=/opt/sim/libiommufd-sim.so \
            IOMMUFD_SIM_REPORT="/tmp/$name.report" IOMMUFD_SIM_LOG="/tmp/$name.log" \
            timeout 120 /tmp/"$name".sh "$name" "$cfg" "$@" \
            -nodefaults -display none -S -monitor stdio > "$ROOT/tmp/$name.out" 2>&1 || true
    { echo "== $name: $*"; cat "$ROOT/tmp/$name.out"; echo "== report"; cat "$ROOT/tmp/$name.report" 2>/dev/null
      echo "== simulator log"; cat "$ROOT/tmp/$name.log" 2>/dev/null; } >> "$LOG"
}
report() { sed -n "s/^$2 //p" "$ROOT/tmp/$1.report" 2>/dev/null; }
# IOMMU_HWPT_ALLOC_NEST_PARENT is flag bit 0.
nest_parent() { grep -Eq '^iommufd HWPT_ALLOC flags=0x[0-9a-f]*[13579bdf] .*-> 0$' "$ROOT/tmp/$1.log"; }
realized() { grep -q 'dev: vfio-pci, id "pt0"' "$ROOT/tmp/$1.out"; }

info "Intel: qemu-system-x86_64 -device intel-iommu,x-scalable-mode=on,fsts=on + vfio-pci"
run intel $'iommu=vtd\nname=deb-intel\n' /usr/bin/qemu-system-x86_64 -M q35 -accel tcg \
    -device intel-iommu,x-scalable-mode=on,fsts=on,caching-mode=on \
    -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1 \
    -object iommufd,id=iommufd0 \
    -device vfio-pci,id=pt0,bus=rp0,iommufd=iommufd0,fd=@FD@
if realized intel; then pass "x86_64: vfio-pci realized behind intel-iommu fsts=on (info qtree)"
else tail -n 5 "$ROOT/tmp/intel.out"; fail "x86_64: vfio-pci not realized"; fi
n=$(report intel ioctl.HWPT_ALLOC)
if [ "${n:-0}" -ge 1 ] && nest_parent intel; then
    pass "x86_64: nesting-parent HWPT allocated on the host (ioctl.HWPT_ALLOC $n, flags NEST_PARENT)"
else fail "x86_64: no nesting-parent HWPT_ALLOC on the simulator (ioctl.HWPT_ALLOC ${n:-missing})"; fi

info "ARM: qemu-system-aarch64 -device arm-smmuv3,primary-bus=pcie.0,accel=on + vfio-pci"
run arm $'iommu=smmuv3\nname=deb-arm\n' /usr/bin/qemu-system-aarch64 -M virt -accel tcg \
    -object iommufd,id=iommufd0 \
    -device arm-smmuv3,primary-bus=pcie.0,id=smmu0,accel=on \
    -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1 \
    -device vfio-pci,id=pt0,bus=rp0,iommufd=iommufd0,fd=@FD@
if realized arm; then pass "aarch64: vfio-pci realized behind arm-smmuv3 accel=on (info qtree)"
else tail -n 5 "$ROOT/tmp/arm.out"; fail "aarch64: vfio-pci not realized"; fi
n=$(report arm ioctl.VIOMMU_ALLOC)
if [ "${n:-0}" = 1 ]; then pass "aarch64: host vIOMMU allocated (ioctl.VIOMMU_ALLOC $n)"
else fail "aarch64: ioctl.VIOMMU_ALLOC is ${n:-missing}, not 1"; fi

cleanup
if [ $fails = 0 ]; then say "check-deb: PASS (log: $LOG)"; else say "check-deb: FAIL, $fails failed (log: $LOG)"; exit 1; fi
