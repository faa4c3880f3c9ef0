#!/usr/bin/env bash
# Install what building and testing the series needs, with apt.  As root the
# packages are installed; otherwise the exact apt command is printed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKGS=(
    build-essential pkg-config ccache git ninja-build flex bison
    python3 python3-venv dpkg-dev xz-utils cpio
    # the kernel's headers_install (scripts/linux-headers.sh)
    rsync
    libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev
    # firmware the built QEMU loads from Debian's packages
    seabios qemu-system-data ipxe-qemu
    # tests/libvirt: the distribution's libvirt runs the patched QEMU
    # (docs/libvirt.md); on a systemd machine the install enables its
    # sockets
    libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu
    # make fuzz's libFuzzer engine (scripts/build-libfuzzer.sh): clang,
    # its libFuzzer runtime, llvm-profdata and llvm-cov
    clang llvm
)
# the compiler-rt of the distribution's default clang (libFuzzer, ASan)
clang_major=$(apt-cache show clang 2>/dev/null |
              sed -n 's/^Version: \([0-9]*:\)\{0,1\}\([0-9]*\).*/\2/p' | head -n 1)
[ -n "$clang_major" ] && PKGS+=("libclang-rt-$clang_major-dev")
# meson >= 1.5 and pycotap: from backports on Debian 12
BPO_PKGS=(meson python3-pycotap)

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
root=no
[ "$(id -u)" = 0 ] && root=yes

meson_ok() {
    local v
    v=$(meson --version 2>/dev/null) || return 1
    [ "$(printf '%s\n1.5.0\n' "$v" | sort -V | head -n 1)" = 1.5.0 ]
}

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$p")
done

bpo=()
if ! meson_ok || ! dpkg-query -W -f='${Status}' python3-pycotap 2>/dev/null |
        grep -q 'install ok installed'; then
    # Debian 13's own meson is new enough; Debian 12 needs backports.
    if [ "$codename" = bookworm ]; then
        bpo=("${BPO_PKGS[@]/%//${codename}-backports}")
    else
        missing+=("${BPO_PKGS[@]}")
    fi
fi

[ ${#missing[@]} -eq 0 ] && [ ${#bpo[@]} -eq 0 ] && exit 0

if [ $root = no ]; then
    say "Missing build dependencies. As root, run:"
    [ ${#bpo[@]} -ne 0 ] &&
        say "  (with a deb entry for ${codename}-backports in /etc/apt, then apt-get update)"
    say "  apt-get install --no-install-recommends ${missing[*]} ${bpo[*]}"
    exit 1
fi

[ ${#bpo[@]} -eq 0 ] || ensure_backports
info "installing: ${missing[*]} ${bpo[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" "${bpo[@]}" >/dev/null
meson_ok || die "meson >= 1.5 is still missing after the install"
