#!/usr/bin/env bash
# Make the work tree build/qemu hold 'base' plus patches/ (git am), unless it
# already does.  Refuses to throw away work that was not exported: commit in
# the work tree and 'make export', or pass FORCE=1 (the old HEAD is kept on a
# branch named saved/<date>).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_base

ph=$(patches_hash)
head=$(wt_git rev-parse HEAD)
base=$(wt_git rev-parse base)
s_head='' s_ph=''
[ -f "$STAMP" ] && read -r s_head s_ph < "$STAMP"
dirty=$(wt_git status --porcelain --untracked-files=no)

if [ -z "$dirty" ] && [ "$head" = "$s_head" ] && [ "$ph" = "$s_ph" ]; then
    exit 0                                  # in sync
fi

# Was the work tree changed since the last apply/export?
edited=no
if [ -n "$dirty" ]; then
    edited=yes
elif [ -n "$s_head" ] && [ "$head" != "$s_head" ]; then
    edited=yes
elif [ -z "$s_head" ] && [ "$head" != "$base" ]; then
    edited=yes
fi

if [ $edited = yes ] && [ -z "$dirty" ]; then
    # Maybe the commits are exactly what patches/ says (e.g. re-applied by
    # hand): then there is nothing to do.
    tmp=$(mktemp -d)
    "$TOP/scripts/export.sh" --to "$tmp" >/dev/null
    if diff -r -q "$tmp" "$PATCHES" >/dev/null 2>&1 ||
       { [ -z "$(ls "$tmp")" ] && [ -z "$(ls "$PATCHES"/*.patch 2>/dev/null)" ]; }; then
        rm -rf "$tmp"
        echo "$head $ph" > "$STAMP"
        exit 0
    fi
    rm -rf "$tmp"
fi

if [ $edited = yes ] && [ "${FORCE:-0}" != 1 ]; then
    die "the work tree $WT has changes that are not in patches/
(uncommitted changes, or commits not exported).  Either
  - commit them in $WT and run 'make export', then commit patches/, or
  - run 'make apply FORCE=1' to reset it to base + patches/ (HEAD is saved
    on a branch saved/<date> first)."
fi

if [ $edited = yes ]; then
    saved=saved/$(date +%Y%m%d-%H%M%S)
    wt_git branch -f "$saved" HEAD
    info "previous work tree HEAD saved as branch $saved"
    wt_git reset -q --hard HEAD
fi

# Apply in a scratch worktree so that the real one only sees the files that
# actually differ (keeps ninja's rebuild small).  Fixed dates make the
# resulting commits identical for identical patches.
scratch=$BUILD/am
wt_git worktree remove --force "$scratch" >/dev/null 2>&1 || rm -rf "$scratch"
wt_git worktree prune
wt_git worktree add -q --detach "$scratch" base
n=0
for p in "$PATCHES"/*.patch; do
    [ -e "$p" ] || continue
    if ! git -C "$scratch" am -q --committer-date-is-author-date "$p"; then
        git -C "$scratch" am --abort >/dev/null 2>&1 || true
        wt_git worktree remove --force "$scratch"
        die "patch does not apply: ${p#"$TOP"/}"
    fi
    n=$((n + 1))
done
new=$(git -C "$scratch" rev-parse HEAD)
wt_git worktree remove --force "$scratch"
wt_git checkout -q -B series "$new"
echo "$new $ph" > "$STAMP"
info "work tree at base + $n patch(es)"
