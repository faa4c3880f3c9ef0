#!/usr/bin/env bash
# Build the iommufd simulator (sim/, its own meson project) into build/sim.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ ! -f "$BUILD/sim/build.ninja" ]; then
    meson setup "$BUILD/sim" "$TOP/sim" > "$BUILD/sim-setup.log" 2>&1 ||
        { cat "$BUILD/sim-setup.log" >&2; exit 1; }
fi
ninja -C "$BUILD/sim" > "$BUILD/sim-build.log" 2>&1 ||
    { tail -n 30 "$BUILD/sim-build.log" >&2; exit 1; }
