#!/usr/bin/env bash
# Build the in-process libFuzzer engine of `make fuzz`: qemu-fuzz-x86_64 and
# qemu-fuzz-aarch64 with clang (--enable-fuzzing, ASan, UBSan, source-based
# coverage) and the "viommu-prog" target of tests/fuzz/libfuzzer.
#
# The target is a tool, not part of the series, so it is compiled in a
# scratch checkout of the work tree's HEAD (build/qemu-libfuzzer, a git
# worktree reset to that commit on every run), never in build/qemu.  Only
# the devices the two fuzzed machines use are built
# (tests/fuzz/libfuzzer/*-nesting.mak), which keeps the cold clang build
# to a fraction of a full one.  Output: build/obj-libfuzzer (QEMU_OBJ_LF).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_base

LFWT=$BUILD/qemu-libfuzzer
OBJ=${QEMU_OBJ_LF:-$BUILD/obj-libfuzzer}
SRC=$TOP/tests/fuzz/libfuzzer

command -v clang >/dev/null || die "clang not found: run 'make deps'"

rev=$(wt_git rev-parse HEAD)
if [ ! -e "$LFWT/.git" ]; then
    wt_git worktree prune
    wt_git worktree add -q --detach "$LFWT" "$rev"
fi
# Reset only when the series moved, and copy only what changed: meson
# regenerates (and ninja rebuilds) after any change of its inputs.
[ "$(git -C "$LFWT" rev-parse HEAD)" = "$rev" ] ||
    git -C "$LFWT" reset -q --hard "$rev"
put() { cmp -s "$1" "$2" || cp "$1" "$2"; }
put "$SRC/viommu_prog_fuzz.c" "$LFWT/tests/qtest/fuzz/viommu_prog_fuzz.c"
put "$SRC/x86_64-nesting.mak" "$LFWT/configs/devices/x86_64-softmmu/nesting.mak"
put "$SRC/aarch64-nesting.mak" "$LFWT/configs/devices/aarch64-softmmu/nesting.mak"
grep -q viommu_prog_fuzz "$LFWT/tests/qtest/fuzz/meson.build" ||
    printf "\nspecific_fuzz_ss.add(files('viommu_prog_fuzz.c'))\n" \
        >> "$LFWT/tests/qtest/fuzz/meson.build"

# -fprofile-instr-generate -fcoverage-mapping: the line coverage of the
# accel files that make fuzz prints (llvm-cov), from the same binaries.
COV="-fprofile-instr-generate -fcoverage-mapping"
CONFIGURE_ARGS=(
    --target-list=x86_64-softmmu,aarch64-softmmu
    --without-default-devices
    --with-devices-x86_64=nesting --with-devices-aarch64=nesting
    --without-default-features
    --disable-docs --disable-install-blobs --disable-download
    --disable-tools --disable-guest-agent
    --enable-fuzzing --enable-asan --enable-ubsan --disable-werror
    --extra-cflags="$COV" --extra-ldflags="$COV"
    --cc="ccache clang" --cxx="ccache clang++" --host-cc="ccache clang"
    --python="$PYTHON"
)
WT=$LFWT qemu_configure "$OBJ" "$BUILD/configure-obj-libfuzzer.log" \
    "${CONFIGURE_ARGS[@]}"

info "building libFuzzer QEMU (ninja -C $OBJ)"
ninja -C "$OBJ" qemu-fuzz-x86_64 qemu-fuzz-aarch64 "$@"
