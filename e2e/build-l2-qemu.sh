#!/usr/bin/env bash
# Stage the patched QEMU that runs as L2 inside the L1 guest of the
# real-kernel end-to-end tests, with its test driver and the shared
# libraries it needs, in the layout they get in L1's initramfs.
#
# L1_ARCH=arm64 (default): cross-build aarch64-softmmu for an arm64 host
# against Debian's arm64 multiarch -dev packages (build/obj-l2).  L2 only
# ever runs under the qtest accelerator (no vCPU executes), so TCG and
# every optional feature are left out: the binary stays small enough for
# an initramfs and the build takes a few minutes.  (KVM stays enabled:
# QEMU needs at least one accelerator besides qtest to configure.)
# Output build/e2e/l2/ (qemu-system-aarch64, e2e-driver from driver.c).
# Needs root the first time (multiarch packages).
#
# L1_ARCH=x86_64 (the Intel chain): L1 runs natively built programs, so
# L2 is the patched qemu-system-x86_64 in build/obj as it is, with the
# firmware q35 loads.  Output build/e2e/l2-x86_64/ (qemu-system-x86_64,
# e2e-driver-vtd from driver-vtd.c).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

E2E=$TOP/e2e
OUT=$BUILD/e2e
L1_ARCH=${L1_ARCH:-arm64}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$OUT"

# Copy the dynamically linked program $1, stripped, to $STAGE/bin, the
# shared libraries it needs (recursively) to $STAGE/lib/$TRIPLET and the
# dynamic loader to the path the program names: laid out as on Debian, so
# that L1 needs no ld.so.conf.  $CROSS is the binutils prefix.
stage_program() {
    local prog=$1 interp f so path
    local -A seen=()
    local queue=("$prog")

    mkdir -p "$STAGE/bin" "$STAGE/lib/$TRIPLET"
    "${CROSS}strip" -o "$STAGE/bin/$(basename "$prog")" "$prog"
    interp=$("${CROSS}readelf" -l "$prog" |
        sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
    [ -n "$interp" ] || die "no program interpreter in $prog"
    while [ ${#queue[@]} -gt 0 ]; do
        f=${queue[0]}
        queue=("${queue[@]:1}")
        for so in $("${CROSS}readelf" -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            [ -n "${seen[$so]:-}" ] && continue
            seen[$so]=1
            # libc names the loader too; it goes to its own path below
            [ "$so" = "$(basename "$interp")" ] && continue
            path=
            for d in /lib/$TRIPLET /usr/lib/$TRIPLET; do
                [ -e "$d/$so" ] && { path=$(readlink -f "$d/$so"); break; }
            done
            [ -n "$path" ] || die "library $so (needed by $(basename "$f")) not found"
            "${CROSS}strip" --strip-unneeded -o "$STAGE/lib/$TRIPLET/$so" "$path"
            queue+=("$path")
        done
    done
    mkdir -p "$STAGE$(dirname "$interp")"
    cp "$(readlink -f "$interp")" "$STAGE$interp"
    info "L2: $(du -sh "$STAGE" | cut -f1) in $STAGE ($(ls "$STAGE/lib/$TRIPLET" | wc -l) libraries, loader $interp)"
}

if [ "$L1_ARCH" = x86_64 ]; then
    STAGE=$OUT/l2-x86_64
    CROSS=
    TRIPLET=x86_64-linux-gnu
    qemu=$OBJ/qemu-system-x86_64
    [ -x "$qemu" ] || die "no $qemu: run 'make' first"
    rm -rf "$STAGE"
    mkdir -p "$STAGE/bin"
    info "compiling the Intel test driver (static)"
    ccache gcc -static -O2 -Wall -Wextra -Werror \
        -o "$STAGE/bin/e2e-driver-vtd" "$E2E/driver-vtd.c" "$E2E/driver-lib.c"
    stage_program "$qemu"
    # What q35 loads under qtest, where the build's firmware path finds it
    for fw in seabios/bios-256k.bin qemu/kvmvapic.bin; do
        src=$OBJ/qemu-bundle/usr/share/$fw
        [ -e "$src" ] || src=/usr/share/$fw
        [ -e "$src" ] || die "no $fw (Debian's seabios and qemu-system-data)"
        mkdir -p "$STAGE/usr/share/$(dirname "$fw")"
        cp "$(readlink -f "$src")" "$STAGE/usr/share/$fw"
    done
    exit 0
fi
[ "$L1_ARCH" = arm64 ] || die "L1_ARCH must be arm64 or x86_64, not $L1_ARCH"

need_base
L2OBJ=$BUILD/obj-l2
STAGE=$OUT/l2
CROSS=aarch64-linux-gnu-
TRIPLET=aarch64-linux-gnu

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
mkdir -p "$STAGE/bin"
ccache "${CROSS}gcc" -static -O2 -Wall -Wextra -Werror -o "$STAGE/bin/e2e-driver" \
    "$E2E/driver.c" "$E2E/driver-lib.c"

# --- the binary, its libraries and the dynamic loader ----------------------
stage_program "$L2OBJ/qemu-system-aarch64"
