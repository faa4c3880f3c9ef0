#!/usr/bin/env bash
# Tests of the series workflow scripts (apply.sh, export.sh, the headers
# commit of linux-headers.sh) on a small scratch repository standing in for
# the QEMU work tree.  TAP output.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

export QEMU_WT=$tmp/wt SERIES_PATCHES=$tmp/patches
# Stands in for headers_install: writes one generated header.
export LINUX_HEADERS_GEN=$tmp/gen
printf '#!/bin/sh\nmkdir -p "$1/linux-headers/linux"\necho "#define GEN 1" > "$1/linux-headers/linux/gen.h"\n' > "$LINUX_HEADERS_GEN"
chmod +x "$LINUX_HEADERS_GEN"
export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=tester@example.org
export GIT_AUTHOR_DATE="2026-01-02T03:04:05Z"
n=0 fails=0
check() { # description, command...
    local d=$1; shift
    n=$((n + 1))
    if "$@" >"$tmp/out" 2>&1; then
        echo "ok $n - $d"
    else
        echo "not ok $n - $d"; sed 's/^/# /' "$tmp/out"; fails=$((fails + 1))
    fi
}
fails_with() { # expected text, command...: the command must fail and say it
    local want=$1; shift
    ! "$@" >"$tmp/err" 2>&1 && grep -q -- "$want" "$tmp/err"
}
apply() { "$TOP/scripts/apply.sh"; }
export_() { "$TOP/scripts/export.sh"; }
wt() { git -C "$QEMU_WT" "$@"; }

echo "1..13"

# A base with one file, and a series of two patches made from it.
mkdir -p "$QEMU_WT" "$SERIES_PATCHES"
wt init -q
wt config user.name Tester; wt config user.email tester@example.org
printf 'one\ntwo\nthree\n' > "$QEMU_WT/file.c"
wt add file.c; wt commit -q -m base; wt tag base
echo four >> "$QEMU_WT/file.c"; wt commit -q -a -s -m "file: add four" -m "Because."
echo five >> "$QEMU_WT/file.c"; wt commit -q -a -s -m "file: add five" -m "Because too."
check "export writes one file per commit" \
    bash -c "\"$TOP/scripts/export.sh\" && [ \$(ls \"$SERIES_PATCHES\" | wc -l) = 2 ]"
cp -r "$SERIES_PATCHES" "$tmp/first"
wt reset -q --hard base
rm -f "$QEMU_WT/.git/series.stamp"

check "apply recreates the series on the generated headers commit" \
    bash -c "\"$TOP/scripts/apply.sh\" && [ \$(git -C \"$QEMU_WT\" rev-list --count headers..HEAD) = 2 ] && [ \$(git -C \"$QEMU_WT\" rev-parse headers^) = \$(git -C \"$QEMU_WT\" rev-parse base) ] && grep -qx five \"$QEMU_WT/file.c\" && grep -q GEN \"$QEMU_WT/linux-headers/linux/gen.h\""
check "the headers commit is not exported" \
    bash -c "\"$TOP/scripts/export.sh\" && [ \$(ls \"$SERIES_PATCHES\" | wc -l) = 2 ] && ! grep -l gen.h \"$SERIES_PATCHES\"/*"
check "re-export of an unchanged series is byte-identical" \
    bash -c "\"$TOP/scripts/export.sh\" && diff -r \"$tmp/first\" \"$SERIES_PATCHES\""
head1=$(wt rev-parse HEAD)
check "re-apply of unchanged patches is a no-op" \
    bash -c "\"$TOP/scripts/apply.sh\" && [ \$(git -C \"$QEMU_WT\" rev-parse HEAD) = $head1 ]"

# Edit a patch file: apply must pick it up.
sed -i 's/^+five$/+FIVE/' "$SERIES_PATCHES"/0002-*.patch
check "apply follows an edited patches/" \
    bash -c "\"$TOP/scripts/apply.sh\" && grep -qx FIVE \"$QEMU_WT/file.c\""

# Unexported work in the work tree must not be thrown away.
echo six >> "$QEMU_WT/file.c"; wt commit -q -a -s -m "file: add six"
sed -i 's/^+FIVE$/+five/' "$SERIES_PATCHES"/0002-*.patch
check "apply refuses to drop unexported commits" \
    fails_with "not in patches/" "$TOP/scripts/apply.sh"
check "FORCE=1 apply saves the old HEAD on a branch" \
    bash -c "FORCE=1 \"$TOP/scripts/apply.sh\" && git -C \"$QEMU_WT\" branch --list 'saved/*' | grep -q saved && ! grep -qx six \"$QEMU_WT/file.c\""

echo junk >> "$QEMU_WT/file.c"
check "export refuses uncommitted changes" \
    fails_with "uncommitted" "$TOP/scripts/export.sh"
wt checkout -q file.c

printf 'garbage\n' > "$SERIES_PATCHES/0003-broken.patch"
check "a patch that does not apply is named" \
    fails_with "0003-broken.patch" "$TOP/scripts/apply.sh"

wt checkout -q series
rm -f "$SERIES_PATCHES/0003-broken.patch"
check "apply after the broken patch is gone" "$TOP/scripts/apply.sh"

# A series applied before the headers commit existed (directly on base)
# moves onto it without FORCE: nothing is lost.
wt checkout -q -B series base
for p in "$SERIES_PATCHES"/*.patch; do wt am -q "$p"; done
rm -f "$QEMU_WT/.git/series.stamp"
nsaved=$(wt branch --list 'saved/*' | wc -l)
check "a series on base moves onto the headers commit without FORCE" \
    bash -c "\"$TOP/scripts/apply.sh\" && [ \$(git -C \"$QEMU_WT\" rev-list --count headers..HEAD) = 2 ] && [ \$(git -C \"$QEMU_WT\" branch --list 'saved/*' | wc -l) = $nsaved ]"

# New generator output (another linux-source): new headers commit, the
# series re-applied on it.
old=$(wt rev-parse headers)
sed -i 's/GEN 1/GEN 2/' "$LINUX_HEADERS_GEN"
check "changed inputs make a new headers commit under the series" \
    bash -c "\"$TOP/scripts/apply.sh\" && [ \$(git -C \"$QEMU_WT\" rev-parse headers) != $old ] && [ \$(git -C \"$QEMU_WT\" rev-list --count headers..HEAD) = 2 ] && grep -q 'GEN 2' \"$QEMU_WT/linux-headers/linux/gen.h\""

[ $fails -eq 0 ]
