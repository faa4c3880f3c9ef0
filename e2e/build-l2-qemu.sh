#!/usr/bin/env bash
# Cross-build the patched QEMU that runs as L2 inside the L1 guest of the
# real-kernel end-to-end test: aarch64-softmmu only, for an arm64 host,
# against Debian's arm64 multiarch -dev packages, plus the test driver.
#
# L2 only ever runs under the qtest accelerator (no vCPU executes), so TCG
# and every optional feature are left out: the binary stays small enough
# for an initramfs and the build takes a few minutes.  (KVM stays enabled:
# QEMU needs at least one accelerator besides qtest to configure.)
#
# Output: build/e2e/l2/ (qemu-system-aarch64, e2e-driver and the shared
# libraries QEMU needs, in the layout they get in L1's initramfs).
# Needs root the first time (multiarch packages).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
need_base

E2E=$TOP/e2e
OUT=$BUILD/e2e
L2OBJ=$BUILD/obj-l2
STAGE=$OUT/l2
CROSS=aarch64-linux-gnu-
JOBS=${JOBS:-$(nproc)}
mkdir -p "$OUT"

# --- packages -------------------------------------------------------------
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    [ "$(id -u)" = 0 ] || die "need root for 'dpkg --add-architecture arm64'"
    info "dpkg --add-architecture arm64"
    dpkg --add-architecture arm64
    apt-get update -qq
fi
need_pkgs=()
for p in gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross \
         libglib2.0-dev:arm64 zlib1g-dev:arm64 libfdt1:arm64 pkgconf:arm64; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
        need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "need root to install: ${need_pkgs[*]}"
    apt-cache show libglib2.0-dev:arm64 >/dev/null 2>&1 || apt-get update -qq
    info "installing ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${need_pkgs[@]}" > "$OUT/apt-l2.log" 2>&1 ||
        { tail -n 20 "$OUT/apt-l2.log" >&2; die "apt-get install failed"; }
fi

# libfdt-dev is not co-installable for two architectures (installing the
# arm64 one removes the amd64 one that the native build needs): unpack it
# into a private directory instead.
FDT=$OUT/libfdt-arm64
if [ ! -f "$FDT/usr/include/libfdt.h" ]; then
    info "unpacking libfdt-dev:arm64 into $FDT"
    rm -rf "$FDT" "$OUT/dl-fdt"
    mkdir -p "$OUT/dl-fdt"
    (cd "$OUT/dl-fdt" && apt-get download -qq libfdt-dev:arm64 libfdt1:arm64)
    for deb in "$OUT"/dl-fdt/*.deb; do
        dpkg-deb -x "$deb" "$FDT"
    done
    rm -rf "$OUT/dl-fdt"
fi

# --- QEMU -------------------------------------------------------------------
CONFIGURE_ARGS=(
    --cross-prefix="$CROSS"
    --cc="ccache ${CROSS}gcc" --host-cc="ccache cc"
    --target-list=aarch64-softmmu
    --without-default-features --enable-kvm --disable-tcg --disable-plugins
    --disable-docs --disable-install-blobs --disable-download
    --disable-tools --disable-guest-agent
    --python="$PYTHON"
    --extra-cflags="-I$FDT/usr/include"
    --extra-ldflags="-L$FDT/usr/lib/aarch64-linux-gnu"
)
qemu_configure "$L2OBJ" "$OUT/l2-configure.log" "${CONFIGURE_ARGS[@]}"
info "building qemu-system-aarch64 for arm64 (log: $OUT/l2-build.log)"
ninja -C "$L2OBJ" -j"$JOBS" qemu-system-aarch64 > "$OUT/l2-build.log" 2>&1 ||
    { tail -n 40 "$OUT/l2-build.log" >&2; die "L2 QEMU build failed"; }

# --- driver -----------------------------------------------------------------
info "cross-compiling the test driver (static)"
rm -rf "$STAGE"
mkdir -p "$STAGE/bin" "$STAGE/lib/aarch64-linux-gnu"
ccache "${CROSS}gcc" -static -O2 -Wall -Wextra -Werror -o "$STAGE/bin/e2e-driver" \
    "$E2E/driver.c" "$E2E/driver-lib.c"

# --- stage the binary, its libraries and the dynamic loader -----------------
# Laid out as on Debian (libraries in /lib/aarch64-linux-gnu, the loader at
# the path the binary names), so that L1 needs no ld.so.conf.
"${CROSS}strip" -o "$STAGE/bin/qemu-system-aarch64" "$L2OBJ/qemu-system-aarch64"
interp=$("${CROSS}readelf" -l "$L2OBJ/qemu-system-aarch64" |
    sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[ -n "$interp" ] || die "no program interpreter in the L2 binary"
libdirs=(/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu)
find_lib() {
    local d
    for d in "${libdirs[@]}"; do
        [ -e "$d/$1" ] && { readlink -f "$d/$1"; return 0; }
    done
    return 1
}
declare -A seen=()
queue=("$L2OBJ/qemu-system-aarch64")
while [ ${#queue[@]} -gt 0 ]; do
    f=${queue[0]}
    queue=("${queue[@]:1}")
    for so in $("${CROSS}readelf" -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -n "${seen[$so]:-}" ] && continue
        seen[$so]=1
        # libc names the loader too; it goes to its own path below
        [ "$so" = "$(basename "$interp")" ] && continue
        path=$(find_lib "$so") || die "library $so (needed by $(basename "$f")) not found"
        "${CROSS}strip" --strip-unneeded -o "$STAGE/lib/aarch64-linux-gnu/$so" "$path"
        queue+=("$path")
    done
done
mkdir -p "$STAGE$(dirname "$interp")"
cp "$(readlink -f "$interp")" "$STAGE$interp"
info "L2: $(du -sh "$STAGE" | cut -f1) in $STAGE ($(ls "$STAGE/lib/aarch64-linux-gnu" | wc -l) libraries, loader $interp)"
