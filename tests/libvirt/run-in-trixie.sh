#!/usr/bin/env bash
# Run tests/libvirt/test-libvirt.py against Debian 13's libvirt 12.9
# (trixie-backports) in a chroot, as root, on a Debian 12 or 13 host:
#
#   tests/libvirt/run-in-trixie.sh            # TAP on stdout
#   LIBVIRT_SUITE=trixie tests/libvirt/run-in-trixie.sh    # libvirt 11.3
#
# The chroot is build/chroot-trixie (debootstrap --variant=minbase, about
# 45 s and 210 MB, then libvirt 12.9 and QEMU's runtime libraries, about
# 1 minute; both once).  The repository's top directory is bind-mounted
# at the same path inside, and so is what build/ links to, so the test
# finds the QEMU, simulator and guests of this checkout.  The chroot
# root is a bind mount of itself: libvirt's per-domain mount namespace
# needs / to be a mount point.  Everything mounted here is unmounted at
# the end; nothing in the chroot starts at install (policy-rc.d), the
# test starts and stops libvirtd and virtlogd itself.  Packages are only
# installed while the host's /dev is not mounted in the chroot: Debian
# 13's systemd-tmpfiles would otherwise give the host's /dev/kvm to the
# chroot's kvm group (mode 0660).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
C=${TRIXIE_CHROOT:-$TOP/build/chroot-trixie}
# this machine's Debian archive (scripts/lib.sh), the only network here
MIRROR=${MIRROR:-$(. "$TOP/scripts/lib.sh" && archive_uri)}
SUITE=${LIBVIRT_SUITE:-trixie-backports}   # 12.9; trixie: 11.3
PKGS=(libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu)
# QEMU's shared libraries (ldd build/obj/qemu-system-*), the firmware it
# loads, python3 for the test and its wrapper
LIBS=(python3 util-linux libglib2.0-0t64 libpixman-1-0 libfdt1
      libgnutls30t64 libpng16-16t64 libjpeg62-turbo libncursesw6
      libbz2-1.0 seabios qemu-system-data ipxe-qemu)

[ "$(id -u)" = 0 ] || { echo "run-in-trixie.sh: needs root" >&2; exit 1; }

if [ ! -x "$C/usr/bin/virsh" ]; then
    command -v debootstrap >/dev/null ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends debootstrap >/dev/null
    [ -e "$C/etc/os-release" ] ||
        debootstrap --variant=minbase trixie "$C" "$MIRROR" >&2
    printf '#!/bin/sh\nexit 101\n' > "$C/usr/sbin/policy-rc.d"
    chmod +x "$C/usr/sbin/policy-rc.d"
    cat > "$C/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: trixie trixie-updates trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    cp /etc/resolv.conf "$C/etc/resolv.conf" 2>/dev/null || true
    chroot "$C" apt-get update -qq >&2
    chroot "$C" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends -t "$SUITE" "${PKGS[@]}" "${LIBS[@]}" >&2
fi
mountpoint -q "$C/dev" && { echo "run-in-trixie.sh: $C/dev is mounted" >&2; exit 1; }
# every libvirt package from $SUITE (up- or downgrading), a no-op if so
mapfile -t lv < <(chroot "$C" dpkg-query -W -f='${Package}\n' | grep '^libvirt')
chroot "$C" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends --allow-downgrades "${lv[@]/%//$SUITE}" >&2

mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[i]}" || umount -l "${mounted[i]}"
    done
}
trap cleanup EXIT
bind() {                                # bind SRC DST [extra mount options]
    mkdir -p "$2"
    mount "${@:3}" --bind "$1" "$2"
    mounted+=("$2")
}
mountpoint -q "$C" || { bind "$C" "$C"; mount --make-private "$C"; }
mount -t proc proc "$C/proc"; mounted+=("$C/proc")
bind /sys "$C/sys"
bind /dev "$C/dev"
bind /dev/pts "$C/dev/pts"
bind "$TOP" "$C$TOP"
# build itself may be a link out of the checkout (a git worktree's build/
# linked to the main checkout's), and build/obj, build/sim, build/guest*
t=$(readlink -f "$TOP/build")
case $t in "$TOP"/*) ;; *) bind "$t" "$C$t" ;; esac
for l in "$TOP"/build/*; do
    [ -L "$l" ] || continue
    t=$(readlink -f "$l")
    case $t in "$TOP"/*) continue ;; esac
    bind "$t" "$C$t"
done
chroot "$C" /usr/bin/python3 "$TOP/tests/libvirt/test-libvirt.py"
