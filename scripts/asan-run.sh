#!/usr/bin/env bash
# Run one test against the ASan/UBSan QEMU of build/obj-asan
# (scripts/build-asan.sh; QEMU_OBJ_ASAN overrides), for make check:
#
#   asan-run.sh qtest qtest-ARCH/NAME [ARGS]   the series' qtest, built in
#                                              obj-asan, QTEST_QEMU_BINARY
#                                              the ASan QEMU
#   asan-run.sh exe CMD [ARGS]                 a tests/qemu test, with
#                                              QEMU_SYSTEM_X86_64 the ASan
#                                              QEMU (the aarch64 one is
#                                              found next to it)
#
# Any sanitizer report fails the test: ASan and UBSan stop at the first
# error (halt_on_error=1) and write it to log_path, which is checked after
# the test; a report there is printed as TAP diagnostics and the test ends
# with "Bail out!".  LeakSanitizer is on, with suppressions for leaks of
# QEMU's base code only (tests/fuzz/lsan.supp, a reason for each), which
# needs whole allocation stacks: fast_unwind_on_malloc=0 (GLib has no
# frame pointers; this halves QEMU's speed under ASan).  The
# simulator is LD_PRELOADed before libasan, hence
# verify_asan_link_order=0 (see docs/fuzz.md).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

OBJ_ASAN=${QEMU_OBJ_ASAN:-$BUILD/obj-asan}
mode=${1:?usage: asan-run.sh qtest|exe ...}
shift

reports=$(mktemp -d "${TMPDIR:-/tmp}/asan-run-XXXXXX")
trap 'rm -rf "$reports"' EXIT
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:exitcode=66:detect_leaks=1:verify_asan_link_order=0:handle_abort=1:fast_unwind_on_malloc=0:log_path=$reports/san"
export LSAN_OPTIONS="suppressions=$TOP/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=66:log_path=$reports/san"
export IOMMUFD_SIM_LIB=${IOMMUFD_SIM_LIB:-$BUILD/sim/libiommufd-sim.so}
export QEMU_SYSTEM_X86_64=$OBJ_ASAN/qemu-system-x86_64

case $mode in
qtest)
    key=${1:?qtest-ARCH/NAME}
    shift
    arch=${key%%/*}; arch=${arch#qtest-}
    export QTEST_QEMU_BINARY=$OBJ_ASAN/qemu-system-$arch
    cmd=("$OBJ_ASAN/tests/qtest/${key#*/}" --tap -k "$@")
    need=("${cmd[0]}" "$QTEST_QEMU_BINARY")
    ;;
exe)
    cmd=("$@")
    need=("$QEMU_SYSTEM_X86_64" "$OBJ_ASAN/qemu-system-aarch64")
    ;;
*)
    die "asan-run.sh: unknown mode $mode"
    ;;
esac

for f in "${need[@]}"; do
    [ -x "$f" ] || { echo "Bail out! $f not built (scripts/build-asan.sh)"; exit 1; }
done

"${cmd[@]}"
rc=$?
# A report has an ERROR or SUMMARY line, or UBSan's "runtime error"; the
# files may also hold warnings only (ASan's about swapcontext, which
# QEMU's coroutines use with the fiber annotations).
if compgen -G "$reports/san.*" >/dev/null &&
   grep -lqE 'ERROR: |SUMMARY: |runtime error:' "$reports"/san.*; then
    for f in $(grep -lE 'ERROR: |SUMMARY: |runtime error:' "$reports"/san.*); do
        echo "# sanitizer report ($(basename "$f")):"
        sed 's/^/# /' "$f"
    done
    echo "Bail out! sanitizer report (ASan/UBSan/LSan) from $(basename "${cmd[0]}")"
    exit 1
fi
exit $rc
