#!/usr/bin/env bash
# Build the iommufd simulator (sim/, its own meson project) into build/sim.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ ! -f "$BUILD/sim/build.ninja" ]; then
    meson setup -q "$BUILD/sim" "$TOP/sim" >/dev/null
fi
ninja -C "$BUILD/sim" >/dev/null
