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

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Paths below the checkout are hashed relative to it, so that a fresh clone
# elsewhere (CI) hits the cache a previous build filled.
export CCACHE_BASEDIR=$TOP CCACHE_NOHASHDIR=true
command -v ccache >/dev/null || die "ccache not found: run 'make deps'"

sig=$(printf '%s\n' "${CONFIGURE_ARGS[@]}")
if [ ! -f "$OBJ/build.ninja" ] || [ "$(cat "$OBJ/.configure-args" 2>/dev/null)" != "$sig" ]; then
    info "configuring QEMU in $OBJ (log: $BUILD/configure.log)"
    rm -rf "$OBJ"
    mkdir -p "$OBJ"
    if ! (cd "$OBJ" && "$WT/configure" "${CONFIGURE_ARGS[@]}") > "$BUILD/configure.log" 2>&1; then
        tail -n 30 "$BUILD/configure.log" >&2
        die "configure failed (full log: $BUILD/configure.log)"
    fi
    printf '%s\n' "$sig" > "$OBJ/.configure-args"
fi

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
