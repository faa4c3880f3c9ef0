#!/usr/bin/env bash
# Export the work tree's commits (headers..HEAD: not 'base' nor the generated
# headers commit on it, see series_start in lib.sh) to patches/ with git
# format-patch.  The output depends only on the commits: no numbering in the
# subject, no version signature, zero commit ids, fixed hash width; so
# exporting an unchanged series leaves patches/ byte-identical.
#   export.sh [--to DIR]   (default: patches/)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_base

dest=$PATCHES
[ "${1:-}" = --to ] && dest=$2

dirty=$(wt_git status --porcelain --untracked-files=no)
[ -z "$dirty" ] || die "the work tree $WT has uncommitted changes: commit them first"

start=$(series_start)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
wt_git -c format.signature= -c format.numbered=false -c format.coverLetter=false \
    -c format.thread=false \
    -c diff.noprefix=false -c diff.mnemonicPrefix=false -c diff.renames=true \
    -c core.abbrev=12 \
    format-patch -q --no-to --no-cc --no-signature --zero-commit --no-numbered --abbrev=12 \
    --no-binary --stat=72 -o "$tmp" "$start..HEAD"

mkdir -p "$dest"
rm -f "$dest"/*.patch
for f in "$tmp"/*.patch; do
    [ -e "$f" ] || continue
    mv "$f" "$dest/"
done
if [ "$dest" = "$PATCHES" ]; then
    echo "$(wt_git rev-parse HEAD) $(patches_hash)" > "$STAMP"
    info "exported $(ls "$dest" | grep -c '\.patch$' || true) patch(es) to patches/"
fi
