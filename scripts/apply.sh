#!/usr/bin/env bash
# Make the work tree build/qemu hold 'base', the generated uAPI headers
# commit 'headers' on it (scripts/linux-headers.sh) and patches/ on top (git
# am), unless it already does.  Refuses to throw away work that was not
# exported: commit in the work tree and 'make export', or pass FORCE=1 (the
# old HEAD is kept on a branch named saved/<date>).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_base
"$TOP/scripts/linux-headers.sh"

ph=$(patches_hash)
head=$(wt_git rev-parse HEAD)
headers=$(wt_git rev-parse headers)
start=$(series_start)           # what HEAD's series sits on
s_head='' s_ph=''
[ -f "$STAMP" ] && read -r s_head s_ph < "$STAMP"
dirty=$(wt_git status --porcelain --untracked-files=no)

if [ -z "$dirty" ] && [ "$head" = "$s_head" ] && [ "$ph" = "$s_ph" ] &&
   [ "$start" = "$headers" ]; then
    exit 0                                  # in sync
fi

# Was the work tree changed since the last apply/export?
edited=no
if [ -n "$dirty" ]; then
    edited=yes
elif [ -n "$s_head" ] && [ "$head" != "$s_head" ]; then
    edited=yes
elif [ -z "$s_head" ] && [ "$head" != "$start" ]; then
    edited=yes
fi

if [ $edited = yes ] && [ -z "$dirty" ]; then
    # Maybe the commits are exactly what patches/ says (e.g. re-applied by
    # hand): then there is nothing to do, or nothing to lose if they sit
    # on another headers commit (or directly on base) and move.
    tmp=$(mktemp -d)
    "$TOP/scripts/export.sh" --to "$tmp" >/dev/null
    if diff -r -q "$tmp" "$PATCHES" >/dev/null 2>&1 ||
       { [ -z "$(ls "$tmp")" ] && [ -z "$(ls "$PATCHES"/*.patch 2>/dev/null)" ]; }; then
        rm -rf "$tmp"
        if [ "$start" = "$headers" ]; then
            echo "$head $ph" > "$STAMP"
            exit 0
        fi
        edited=no
    else
        rm -rf "$tmp"
    fi
fi

if [ $edited = yes ] && [ "${FORCE:-0}" != 1 ]; then
    die "the work tree $WT has changes that are not in patches/
(uncommitted changes, or commits not exported).  Either
  - commit them in $WT and run 'make export', then commit patches/, or
  - run 'make apply FORCE=1' to reset it to headers + patches/ (HEAD is saved
    on a branch saved/<date> first)."
fi

if [ $edited = yes ]; then
    saved=saved/$(date +%Y%m%d-%H%M%S)
    wt_git branch -f "$saved" HEAD
    info "previous work tree HEAD saved as branch $saved"
    wt_git reset -q --hard HEAD
fi

# Build the commits with plumbing, in a private index, without touching any
# file: the work tree then only sees the files that actually differ (keeps
# ninja's rebuild small).  This is what 'git am' does; fixed committer dates
# make the commits identical for identical patches.
new=$headers
n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GIT_INDEX_FILE=$tmp/index
wt_git read-tree headers
for p in "$PATCHES"/*.patch; do
    [ -e "$p" ] || continue
    wt_git mailinfo "$tmp/msg" "$tmp/diff" < "$p" > "$tmp/info"
    if ! wt_git apply --cached --whitespace=nowarn "$tmp/diff"; then
        die "patch does not apply: ${p#"$TOP"/}"
    fi
    field() { sed -n "s/^$1: //p" "$tmp/info"; }
    { field Subject; if [ -s "$tmp/msg" ]; then echo; cat "$tmp/msg"; fi; } > "$tmp/log"
    new=$(GIT_AUTHOR_NAME=$(field Author) GIT_AUTHOR_EMAIL=$(field Email) \
          GIT_AUTHOR_DATE=$(field Date) GIT_COMMITTER_DATE=$(field Date) \
          wt_git commit-tree "$(wt_git write-tree)" -p "$new" -F "$tmp/log")
    n=$((n + 1))
done
unset GIT_INDEX_FILE
wt_git checkout -q -B series "$new"
echo "$new $ph" > "$STAMP"
info "work tree at base + headers + $n patch(es)"
