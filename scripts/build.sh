#!/usr/bin/env bash
# Configure (once) and build QEMU from the work tree into build/obj.
# Extra ninja targets (e.g. qtest binaries) may be given as arguments.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_base

# Debian's firmware packages: seabios, qemu-system-data, ipxe-qemu.  With
# these on the search path the binaries run from build/obj without -L.
FIRMWARE=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu

CONFIGURE_ARGS=(
    --target-list=x86_64-softmmu,aarch64-softmmu
    --disable-docs --disable-install-blobs --disable-download
    --disable-tools --disable-guest-agent
    --cc="ccache ${CC:-cc}" --host-cc="ccache ${CC:-cc}"
    --python="$PYTHON"
    --firmwarepath="$FIRMWARE"
)

qemu_configure "$OBJ" "$BUILD/configure.log" "${CONFIGURE_ARGS[@]}"

info "building QEMU (ninja -C $OBJ)"
ninja -C "$OBJ" qemu-system-x86_64 qemu-system-aarch64 "$@"

# Run from the build tree, QEMU looks for every configured directory below
# $OBJ/qemu-bundle (its staging install); point those at Debian's firmware
# so that the binaries in $OBJ need no -L.  Installed binaries use the real
# paths directly.
IFS=: read -r -a fwdirs <<< "$FIRMWARE"
for d in "${fwdirs[@]}"; do
    mkdir -p "$OBJ/qemu-bundle$(dirname "$d")"
    ln -sfn "$d" "$OBJ/qemu-bundle$d"
done
