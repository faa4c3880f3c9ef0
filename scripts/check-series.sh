#!/usr/bin/env bash
# `make check-series`: bisectability.  Applies patches/ one at a time on
# 'headers' (base plus the generated uAPI headers) in a scratch worktree (build/series/qemu, built in build/series/obj:
# the same relative layout as build/qemu and build/obj, so ccache hits)
# and, after each patch, runs checkpatch and builds both targets.  Slow (one
# incremental build per patch; ccache helps), so CI does not run it.
#   FROM=N  start at patch N (earlier ones are applied without building)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
"$TOP/scripts/fetch-base.sh"
"$TOP/scripts/linux-headers.sh"

scratch=$BUILD/series/qemu
mkdir -p "$BUILD/series"
wt_git worktree remove --force "$scratch" >/dev/null 2>&1 || rm -rf "$scratch"
wt_git worktree prune
wt_git worktree add -q --detach "$scratch" headers

from=${FROM:-1}
i=0 passed=0 failed=0 skipped=0
echo "1..$(ls "$PATCHES"/*.patch 2>/dev/null | wc -l)"
for p in "$PATCHES"/*.patch; do
    [ -e "$p" ] || continue
    i=$((i + 1))
    name=$(basename "$p")
    if ! git -C "$scratch" am -q --committer-date-is-author-date "$p"; then
        git -C "$scratch" am --abort >/dev/null 2>&1 || true
        echo "not ok $i - $name: does not apply"
        failed=$((failed + 1))
        break
    fi
    if [ $i -lt "$from" ]; then
        echo "ok $i - $name # SKIP applied, not built (FROM=$from)"
        skipped=$((skipped + 1))
        continue
    fi
    log=$BUILD/series/patch-$i.log
    ok=yes
    "$TOP/scripts/checkpatch.sh" "$p" > "$log" 2>&1 || true
    grep -q '^ok 1' "$log" || ok="checkpatch errors"
    if [ "$ok" = yes ] &&
       ! QEMU_WT=$scratch QEMU_OBJ=$BUILD/series/obj "$TOP/scripts/build.sh" >> "$log" 2>&1; then
        ok="build failed"
    fi
    if [ "$ok" = yes ]; then
        echo "ok $i - $name"
        passed=$((passed + 1))
    else
        echo "not ok $i - $name: $ok (log: ${log#"$TOP"/})"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
