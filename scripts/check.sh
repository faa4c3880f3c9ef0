#!/usr/bin/env bash
# `make check`: apply patches/ (never exports), build, checkpatch every patch,
# run the base qtests in tests/base-qtests.txt, the simulator's tests and
# the project's QEMU tests.  Ends with "N passed, N failed[, N skipped]".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$TOP/scripts/deps.sh"
"$TOP/scripts/fetch-base.sh"
"$TOP/scripts/apply.sh"

qtests=$(sed -e 's/#.*//' "$TOP/tests/base-qtests.txt" "$TOP/tests/series-qtests.txt" |
         awk 'NF { if (split($1, a, "/") == 2) print "tests/qtest/" a[2];
                   else print "tests/unit/" $1 }' | sort -u)
# shellcheck disable=SC2086
"$TOP/scripts/build.sh" $qtests

"$TOP/scripts/guest-build.sh" amd64
"$TOP/scripts/guest-build.sh" arm64
# The real-kernel tests (tests/e2e): L1 kernel, L2, initramfs, for the ARM
# chain and the Intel one.
"$TOP/e2e/build.sh"
L1_ARCH=x86_64 "$TOP/e2e/build.sh"

args=()
if [ -f "$TOP/sim/meson.build" ]; then
    "$TOP/scripts/build-sim.sh"
    args+=(--meson-tests "$BUILD/sim")
fi
for p in "$PATCHES"/*.patch; do
    [ -e "$p" ] || continue
    args+=(--exe "checkpatch/$(basename "$p")" "$TOP/scripts/checkpatch.sh" "$p")
done
args+=(--base-qtests "$TOP/tests/base-qtests.txt")
args+=(--series-qtests "$TOP/tests/series-qtests.txt")
# The project's own tests: tests/<group>/test-*.{sh,py}, TAP on stdout.
for t in "$TOP"/tests/*/test-*.sh "$TOP"/tests/*/test-*.py; do
    [ -e "$t" ] || continue
    name=$(basename "$(dirname "$t")")/$(basename "${t%.*}")
    case $t in
        *.sh) args+=(--exe "$name" bash "$t") ;;
        *.py) args+=(--exe "$name" "$PYTHON" "$t") ;;
    esac
done
exec "$PYTHON" "$TOP/scripts/run-tests.py" "${args[@]}"
