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
# The same work tree with ASan/UBSan (and gcov, for make fuzz): the series'
# qtests and tests/qemu run on it instead of build/obj (scripts/asan-run.sh).
"$TOP/scripts/build-asan.sh"

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
# The series' qtests on the ASan QEMU, under their own names.
while read -r key filters; do
    # shellcheck disable=SC2086
    args+=(--exe "$key" bash "$TOP/scripts/asan-run.sh" qtest "$key" $filters)
done < <(sed -e 's/#.*//' "$TOP/tests/series-qtests.txt" | awk 'NF')
# The project's own tests: tests/<group>/test-*.{sh,py}, TAP on stdout.
for t in "$TOP"/tests/*/test-*.sh "$TOP"/tests/*/test-*.py; do
    [ -e "$t" ] || continue
    name=$(basename "$(dirname "$t")")/$(basename "${t%.*}")
    case $t in
        */tests/qemu/*.py)
            args+=(--exe "$name" bash "$TOP/scripts/asan-run.sh" exe "$PYTHON" "$t") ;;
        *.sh) args+=(--exe "$name" bash "$t") ;;
        *.py) args+=(--exe "$name" "$PYTHON" "$t") ;;
    esac
done
exec "$PYTHON" "$TOP/scripts/run-tests.py" "${args[@]}"
