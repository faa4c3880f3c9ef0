#!/usr/bin/env bash
# Give the work tree its 'headers' commit: on top of 'base', the Linux uAPI
# headers that QEMU, the simulator and the e2e programs compile against,
# generated from Debian's linux-source package named in base.pin
# (linux_source=), never copied.  The series sits on this commit; 'make
# export' starts after it, so it never ends up in patches/.
#
# Generated the way the base's own scripts/update-linux-headers.sh does it
# (the kernel's 'make headers_install' into a scratch directory, then the
# files copied into linux-headers/), but only for the iommufd and VFIO
# uAPI: linux/iommufd.h, linux/vfio.h and linux/stddef.h, which vfio.h
# includes (linux/types.h and linux/ioctl.h come from the system, as for
# every header in linux-headers/).  The full update cannot be used: the
# base's script stops on Linux 7.2 (riscv and s390 no longer install
# asm/unistd_32.h, x86's bootparam.h is guarded by __ASSEMBLER__ now), and
# with those worked around QEMU 10.0.13 does not build against the rest
# (ethtool.h needs typelimits.h, which the script does not copy;
# virtio-net.c uses virtio_net_hdr_v1_hash.hash_value, now split in two).
#
# The commit is made without touching the work tree's files (private
# index), with fixed dates, so the same inputs give the same commit id.  Its
# message records a hash of the inputs (base, this script, the .deb); the
# commit is only made again when that changes.  Output goes to
# build/linux-headers.log.
#   LINUX_HEADERS_GEN=CMD  run "CMD DIR" instead, which must write the files
#                          into DIR/linux-headers/ (the workflow test's stand-in)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_base

HEADERS=(linux/iommufd.h linux/vfio.h linux/stddef.h)
KVER=$(pin linux_source)
[ -n "$KVER" ] || die "base.pin names no linux_source"
LOG=$BUILD/linux-headers.log

# --- inputs ---------------------------------------------------------------
if [ -n "${LINUX_HEADERS_GEN:-}" ]; then
    from="$LINUX_HEADERS_GEN"
    inputs=$(cat "$LINUX_HEADERS_GEN")
else
    deb=$(KVER=$KVER "$TOP/scripts/linux-source.sh" --deb)
    from=$(basename "$deb")
    inputs=$from
fi
key=$( { wt_git rev-parse base; cat "$0"; printf '%s\n' "$inputs"; } |
       sha256sum | cut -d' ' -f1)

cur=$(wt_git rev-parse -q --verify refs/tags/headers 2>/dev/null || true)
if [ -n "$cur" ] && [ "$(wt_git rev-parse "$cur^" 2>/dev/null)" = "$(wt_git rev-parse base)" ]; then
    case $(wt_git log -1 --format=%B "$cur") in
        *"Inputs: $key"*) exit 0 ;;
    esac
fi

# --- generate ---------------------------------------------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
mkdir -p "$out/linux-headers/linux"
if [ -n "${LINUX_HEADERS_GEN:-}" ]; then
    "$LINUX_HEADERS_GEN" "$out" > "$tmp/log" 2>&1 ||
        { cat "$tmp/log" >&2; die "$LINUX_HEADERS_GEN failed"; }
    version="the test's generator"
    files=$(cd "$out" && find linux-headers -type f | LC_ALL=C sort)
else
    src=$(KVER=$KVER "$TOP/scripts/linux-source.sh")
    mkdir -p "$BUILD"
    info "generating ${HEADERS[*]} from $from (log: ${LOG#"$TOP"/})"
    # As scripts/update-linux-headers.sh (x86 is as good as any
    # architecture for headers outside asm/).
    make -C "$src" O="$tmp/build" INSTALL_HDR_PATH="$tmp/hdr" SRCARCH=x86 \
        headers_install > "$LOG" 2>&1 ||
        { tail -n 20 "$LOG" >&2; die "headers_install failed (log: $LOG)"; }
    for h in "${HEADERS[@]}"; do
        cp "$tmp/hdr/include/$h" "$out/linux-headers/$h"
    done
    version="Linux $(make -s -C "$src" kernelversion)"
    files=$(printf 'linux-headers/%s\n' "${HEADERS[@]}")
fi

# --- commit -------------------------------------------------------------------
export GIT_INDEX_FILE=$tmp/index
wt_git read-tree base
for f in $files; do
    blob=$(wt_git hash-object -w "$out/$f")
    wt_git update-index --add --cacheinfo "100644,$blob,$f"
done
{
    echo "linux-headers: iommufd and VFIO uAPI of $version"
    echo
    echo "Generated, not part of the series ('make export' starts after this" \
         "commit): $(echo "$files" | sed 's|^linux-headers/||' | paste -sd' ')" \
         "from $from, installed with the kernel's 'make headers_install' as" \
         "scripts/update-linux-headers.sh does." | fmt -w 72
    echo
    echo "Generated-by: scripts/linux-headers.sh"
    echo "Inputs: $key"
} > "$tmp/msg"
new=$(GIT_AUTHOR_NAME=$GIT_COMMITTER_NAME GIT_AUTHOR_EMAIL=$GIT_COMMITTER_EMAIL \
      GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
      wt_git commit-tree "$(wt_git write-tree)" -p base -F "$tmp/msg")
unset GIT_INDEX_FILE
wt_git tag -f headers "$new" > /dev/null
info "headers commit $(wt_git rev-parse --short headers): $(wt_git diff --stat base headers | tail -n1)"
