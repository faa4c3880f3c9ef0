#!/usr/bin/env bash
# Build the iommufd simulator (sim/, its own meson project) into build/sim,
# against the uAPI headers of the QEMU work tree (its generated 'headers'
# commit, see scripts/linux-headers.sh): the simulator and QEMU always see
# the same linux/iommufd.h and linux/vfio.h.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_base
[ "$(series_start)" != "$(wt_git rev-parse base)" ] ||
    die "the work tree $WT has no generated headers commit: run 'make' (or 'make apply') first"
hdrs=$WT/linux-headers
# (Re)configure when the headers' directory changed (or the build directory
# predates the option): the simulator is small, a fresh setup takes seconds.
if [ "$(cat "$BUILD/sim/.linux-headers" 2>/dev/null)" != "$hdrs" ]; then
    rm -rf "$BUILD/sim"
fi
if [ ! -f "$BUILD/sim/build.ninja" ]; then
    meson setup "$BUILD/sim" "$TOP/sim" -Dlinux_headers="$hdrs" \
        > "$BUILD/sim-setup.log" 2>&1 ||
        { cat "$BUILD/sim-setup.log" >&2; exit 1; }
    echo "$hdrs" > "$BUILD/sim/.linux-headers"
fi
ninja -C "$BUILD/sim" > "$BUILD/sim-build.log" 2>&1 ||
    { tail -n 30 "$BUILD/sim-build.log" >&2; exit 1; }
