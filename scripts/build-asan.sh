#!/usr/bin/env bash
# Configure (once) and build a second QEMU from the same work tree with
# AddressSanitizer and UndefinedBehaviorSanitizer into build/obj-asan
# (QEMU_OBJ_ASAN overrides): the binaries `make check` runs the series'
# qtests and tests/qemu with.  ASAN_GCOV=1 adds gcov, for `make fuzz`
# (build/obj-fuzz: the fuzzer's line coverage of the accel files); not for
# make check, because ccache cannot share --coverage objects between
# checkouts in different directories (they name their .gcda paths), so a
# fresh clone would compile all of it cold.  Same targets and firmware
# setup as build.sh; the series' qtest binaries are built too.  Extra
# ninja targets may be given as arguments.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_base

OBJ=${QEMU_OBJ_ASAN:-$BUILD/obj-asan}
FIRMWARE=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu

# --enable-asan/--enable-ubsan add -fsanitize=address/undefined to every
# compile and link (meson.build); --enable-gcov is meson's b_coverage
# (--coverage: .gcno next to the objects, .gcda written at each exit).
# -O2 -g as the normal build (QEMU's default), so the sanitizers see the
# code that ships; the stack traces keep their line numbers from -g.
# --disable-werror: with -fsanitize=address gcc 12 warns
# -Wmaybe-uninitialized where the normal build does not (io/net-listener.c),
# and the normal build (build.sh) is the one that keeps QEMU's -Werror.
# -static-libasan: ASan's runtime linked into the executable, so it comes
# first whatever LD_PRELOAD holds (the simulator, which tests preload into
# QEMU, also with an environment of their own that has no ASAN_OPTIONS,
# e.g. arm-smmuv3-accel-test's order-vfio); ASan's interceptors in the
# executable then call on into the simulator's, which call libc.
CONFIGURE_ARGS=(
    --target-list=x86_64-softmmu,aarch64-softmmu
    --disable-docs --disable-install-blobs --disable-download
    --disable-tools --disable-guest-agent
    --enable-asan --enable-ubsan --disable-werror
    --extra-ldflags=-static-libasan
    --cc="ccache ${CC:-cc}" --host-cc="ccache ${CC:-cc}"
    --python="$PYTHON"
    --firmwarepath="$FIRMWARE"
)

[ "${ASAN_GCOV:-0}" = 1 ] && CONFIGURE_ARGS+=(--enable-gcov)

qemu_configure "$OBJ" "$BUILD/configure-$(basename "$OBJ").log" \
    "${CONFIGURE_ARGS[@]}"
# configure writes "werror = true" (QEMU's default in a git tree) into the
# meson machine file config-meson.cross; --disable-werror overrides it on
# the command line, but meson's regeneration after a change of the work
# tree's meson.build (a rebase) took the machine file's value again.
# Drop it from the file and keep the option off.
sed -i '/^werror = true$/d' "$OBJ/config-meson.cross"
if "$PYTHON" -c 'import json, sys
o = json.load(open(sys.argv[1]))
sys.exit(0 if [x["value"] for x in o if x["name"] == "werror"] == [True] else 1)' \
        "$OBJ/meson-info/intro-buildoptions.json" 2>/dev/null ||
   grep -q -- ' -Werror ' "$OBJ/build.ninja"; then
    info "werror was on in $OBJ: meson configure -Dwerror=false"
    "$OBJ/pyvenv/bin/meson" configure "$OBJ" -Dwerror=false >/dev/null
fi

# The series' qtests (tests/series-qtests.txt: "qtest-ARCH/NAME").
qtests=$(sed -e 's/#.*//' "$TOP/tests/series-qtests.txt" |
         awk 'NF && split($1, a, "/") == 2 { print "tests/qtest/" a[2] }' | sort -u)

info "building ASan/UBSan QEMU (ninja -C $OBJ)"
# shellcheck disable=SC2086
ninja -C "$OBJ" qemu-system-x86_64 qemu-system-aarch64 $qtests "$@"

IFS=: read -r -a fwdirs <<< "$FIRMWARE"
for d in "${fwdirs[@]}"; do
    mkdir -p "$OBJ/qemu-bundle$(dirname "$d")"
    ln -sfn "$d" "$OBJ/qemu-bundle$d"
done
