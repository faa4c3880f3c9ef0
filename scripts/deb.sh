#!/usr/bin/env bash
# make deb: Debian 13 packages of QEMU with the series.
#
# Builds qemu-system-x86, qemu-system-arm (and what they are built with:
# qemu-system-common, qemu-system-gui, qemu-system-modules-*, qemu-utils,
# qemu-block-extra) from Debian's own source package (base.pin) with
# patches/ added to debian/patches, in a Debian 13 chroot made with
# debootstrap from this machine's Debian archive.  Then runs
# tests/deb/check-deb.sh, which installs the .debs in a clean chroot.
#
# Steps (each skipped when its output is there; timings in
# build/deb/times.log):
#   1. build/deb/chroot: debootstrap --variant=buildd trixie, ccache
#   2. build/deb/src/qemu-<version>: dpkg-source -x of the pinned .dsc,
#      the generated uAPI header update (the work tree's 'headers' commit)
#      and patches/ as quilt patches debian/patches/nested-viommu/*,
#      appended to debian/patches/series; a changelog entry
#      <version>+nestedviommu1; the local packaging change below
#   3. apt-get build-dep (arch-only) in the chroot with the build profiles,
#      then dpkg-buildpackage -B, niced, with ccache
#   4. tests/deb/check-deb.sh
#
# The local packaging change (debian/, applied by this script, not a quilt
# patch): a build profile pkg.qemu.nested-viommu, used together with
# Debian's own nocheck, pkg.qemu.omit-user, pkg.qemu.omit-system-xen and
# pkg.qemu.use-upstream-vdso.  With it
#   - debian/control.mk builds only the x86 and arm system packages, with
#     the targets x86_64 and aarch64 (no i386, no 32-bit arm: half the
#     compile time);
#   - debian/control-in drops the binary packages whose targets are not
#     built (qemu-system, -mips, -ppc, -riscv, -s390x, -sparc, -misc) and
#     qemu-guest-agent (needs the HTML docs);
#   - debian/rules enables the system build when qemu-system-common is
#     built (Debian keys it on the metapackage), passes --target-list, skips the microvm build and the
#     HTML manual (only man pages are built), and qemu-utils.install no
#     longer lists the HTML pages of the tools (their man pages stay).
# qemu-system-data (arch: all) is not built: Debian's own package from the
# archive satisfies qemu-system-x86's "qemu-system-data (>> 10.0.13+ds~)".
#
#   DEB_SUFFIX=+nestedviommu1  local version suffix
#   DEB_JOBS=N                 parallel jobs (default: nproc)
#   DEB_SKIP_TEST=1            do not run tests/deb/check-deb.sh
#   DEB_OUT=DIR, DEB_DL=DIR    instead of build/deb and build/dl (and
#                              QEMU_WT for the work tree, as everywhere)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEB=${DEB_OUT:-$BUILD/deb}
CHROOT=$DEB/chroot
SUFFIX=${DEB_SUFFIX:-+nestedviommu1}
JOBS=${DEB_JOBS:-$(nproc)}
PKG=$(pin package)
VER=$(pin version)
UVER=${VER#*:}                    # 10.0.13+ds-0+deb13u1
UPVER=${UVER%-*}                  # 10.0.13+ds
NEWVER=$VER$SUFFIX
DSC=${DEB_DL:-$BUILD/dl}/${PKG}_${UVER}.dsc
PROFILES=nocheck,pkg.qemu.omit-user,pkg.qemu.omit-system-xen,pkg.qemu.use-upstream-vdso,pkg.qemu.nested-viommu
TIMES=$DEB/times.log

[ "$(id -u)" = 0 ] || die "make deb needs root (debootstrap, chroot)"
[ -f "$DSC" ] || die "no $DSC: run 'make base' first"
mkdir -p "$DEB"

timed() { # label command...
    local label=$1 s rc=0
    shift
    s=$(date +%s)
    "$@" || rc=$?
    printf '%s %s %ds rc=%d\n' "$(date -u +%FT%TZ)" "$label" $(( $(date +%s) - s )) $rc | tee -a "$TIMES"
    return $rc
}

# --- 1. the build chroot --------------------------------------------------------
mounted=()
cleanup() {
    local m i
    for (( i=${#mounted[@]}-1; i>=0; i-- )); do
        m=${mounted[$i]}
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
}
trap cleanup EXIT
mount_chroot() { # root
    local r=$1
    mountpoint -q "$r/proc" || { mount -t proc proc "$r/proc"; mounted+=("$r/proc"); }
    mountpoint -q "$r/dev/pts" || { mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"; mounted+=("$r/dev/pts"); }
}
in_chroot() { chroot "$CHROOT" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }

uri=$(archive_uri | head -n 1)
[ -n "$uri" ] || die "cannot find this machine's Debian archive URI in /etc/apt"
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
[ -e /usr/share/debootstrap/scripts/trixie ] || die "this debootstrap does not know trixie"

if [ ! -f "$CHROOT/.ready" ]; then
    umount_under "$CHROOT"
    rm -rf "$CHROOT"
    info "debootstrap trixie into ${CHROOT#"$TOP"/} from $uri (log: build/deb/debootstrap.log)"
    timed debootstrap debootstrap --variant=buildd --include=ccache,ca-certificates \
        trixie "$CHROOT" "$uri" > "$DEB/debootstrap.log" 2>&1 ||
        { tail -n 20 "$DEB/debootstrap.log" >&2; die "debootstrap failed"; }
    printf 'deb %s trixie main\ndeb-src %s trixie main\n' "$uri" "$uri" > "$CHROOT/etc/apt/sources.list"
    touch "$CHROOT/.ready"
fi
mount_chroot "$CHROOT"

# --- 2. the source package ------------------------------------------------------------
SRC=$DEB/src
TREE=$SRC/${PKG}-${UPVER}
need_base
wt_git rev-parse -q --verify refs/tags/headers > /dev/null ||
    die "the work tree has no 'headers' commit: run 'make apply'"
key=$( { cat "$0"; patches_hash; wt_git rev-parse headers; echo "$NEWVER"; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$SRC/.key" 2>/dev/null)" != "$key" ]; then
    [ "$(wt_git rev-parse headers^)" = "$(wt_git rev-parse base)" ] ||
        die "the work tree's 'headers' commit is not on 'base': run 'make apply'"
    info "unpacking $PKG $VER into ${SRC#"$TOP"/}"
    umount_under "$CHROOT/build"
    rm -rf "$SRC"
    mkdir -p "$SRC"
    # fetch-base.sh verified the files against base.pin's sha256.
    (cd "$SRC" && dpkg-source --no-check -x "$DSC" "$(basename "$TREE")" > /dev/null)
    d=$TREE/debian/patches/nested-viommu
    mkdir -p "$d"
    # The uAPI header update the series needs (generated, not in patches/).
    wt_git format-patch -q --stdout -1 headers > "$d/0000-linux-headers-iommufd-vfio-uapi.patch"
    cp "$PATCHES"/*.patch "$d/"
    { echo "# nested vIOMMU series (qemu-nested-viommu), applied after Debian's patches"
      (cd "$d" && ls -1 ./*.patch | sed 's|^\./|nested-viommu/|'); } >> "$TREE/debian/patches/series"
    n=$(ls "$PATCHES"/*.patch | wc -l)

    # The local packaging change (see the top of this file).
    cat >> "$TREE/debian/control.mk" <<'EOF'

# qemu-nested-viommu: with the build profile pkg.qemu.nested-viommu only
# the x86 and arm system packages, for x86_64 and aarch64.
ifneq (,$(filter pkg.qemu.nested-viommu,${DEB_BUILD_PROFILES}))
system-packages := arm x86
system-archlist-arm := aarch64
system-archlist-x86 := x86_64
endif
EOF
    for p in qemu-system qemu-system-mips qemu-system-ppc qemu-system-riscv \
             qemu-system-s390x qemu-system-sparc qemu-system-misc; do
        sed -i "/^Package: $p\$/,/^Build-Profiles:/ s/^Build-Profiles: <!pkg.qemu.omit-system>/Build-Profiles: <!pkg.qemu.omit-system !pkg.qemu.nested-viommu>/" \
            "$TREE/debian/control-in"
    done
    sed -i '/^Package: qemu-guest-agent$/a Build-Profiles: <!pkg.qemu.nested-viommu>' "$TREE/debian/control-in"
    grep -c 'pkg.qemu.nested-viommu' "$TREE/debian/control-in" | grep -qx 8 ||
        die "debian/control-in changed: the pkg.qemu.nested-viommu profile was not added to 8 packages"
    # debian/control is generated from control-in by the clean target; do it now.
    (cd "$TREE" && make -f debian/control.mk debian/control > /dev/null)
    sed -i '/^b\/docs\/.*\.html /d' "$TREE/debian/qemu-utils.install"
    python3 - "$TREE/debian/rules" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
def sub(old, new):
    global s
    assert s.count(old) == 1, old
    s = s.replace(old, new)
# the system build is keyed on the qemu-system metapackage, which the
# profile drops (it depends on every qemu-system-*)
sub("enable-system = $(if $(filter qemu-system,${BUILD_PACKAGES}),y)",
    "enable-system = $(if $(filter qemu-system qemu-system-common,${BUILD_PACKAGES}),y)")
# the target list
sub("\t\t${QEMU_CONFIGURE_OPTIONS} || \\\n",
    "\t\t$(if $(filter pkg.qemu.nested-viommu,${DEB_BUILD_PROFILES}),--target-list=$(subst $(empty) $(empty),$(comma),$(foreach p,${system-packages},$(addsuffix -softmmu,${system-archlist-$p})))) \\\n"
    "\t\t${QEMU_CONFIGURE_OPTIONS} || \\\n")
# no microvm
sub("qemu-builds += $(if $(filter ${DEB_HOST_ARCH}-${enable-system},amd64-y),microvm)",
    "qemu-builds += $(if $(filter pkg.qemu.nested-viommu,${DEB_BUILD_PROFILES}),,$(if $(filter ${DEB_HOST_ARCH}-${enable-system},amd64-y),microvm))")
# man pages only
sub("qemu-builds += man html\n",
    "qemu-builds += man $(if $(filter pkg.qemu.nested-viommu,${DEB_BUILD_PROFILES}),,html)\n")
open(p, "w").write(s)
EOF

    # The version: Debian's plus a local suffix.
    {
        echo "$PKG ($NEWVER) trixie; urgency=medium"
        echo
        echo "  * Local build (qemu-nested-viommu, make deb): nested vIOMMU translation"
        echo "    for passthrough devices (intel-iommu fsts=on, arm-smmuv3 accel=on),"
        echo "    $n patches in debian/patches/nested-viommu/ after the Linux uAPI"
        echo "    header update (iommufd.h, vfio.h) they need."
        echo "  * Build profile pkg.qemu.nested-viommu: only qemu-system-x86 (x86_64)"
        echo "    and qemu-system-arm (aarch64) of the system emulators."
        echo
        echo " -- $GIT_COMMITTER_NAME <$GIT_COMMITTER_EMAIL>  $(date -R -u -d @"$(cd "$TREE" && dpkg-parsechangelog -S Timestamp)")"
        echo
        cat "$TREE/debian/changelog"
    } > "$TREE/debian/changelog.new"
    mv "$TREE/debian/changelog.new" "$TREE/debian/changelog"
    # The patches must apply (dpkg-buildpackage would stop later otherwise).
    (cd "$SRC" && dpkg-source --before-build "$(basename "$TREE")" > "$DEB/patch.log" 2>&1) ||
        { tail -n 20 "$DEB/patch.log" >&2; die "the series does not apply as quilt patches (log: build/deb/patch.log)"; }
    echo "$key" > "$SRC/.key"
fi

# --- 3. build -----------------------------------------------------------------------------
# The chroot sees the source at /build (bind mount).
mkdir -p "$CHROOT/build"
mountpoint -q "$CHROOT/build" || { mount --bind "$SRC" "$CHROOT/build"; mounted+=("$CHROOT/build"); }
ctree=/build/$(basename "$TREE")

if [ "$(cat "$CHROOT/.build-deps" 2>/dev/null)" != "$PROFILES" ]; then
    info "apt-get build-dep in the chroot (profiles $PROFILES; log: build/deb/build-deps.log)"
    timed build-deps in_chroot sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get build-dep -y -q --no-install-recommends --arch-only -P '$PROFILES' '$ctree'" \
        > "$DEB/build-deps.log" 2>&1 ||
        { tail -n 20 "$DEB/build-deps.log" >&2; die "build-dep failed"; }
    echo "$PROFILES" > "$CHROOT/.build-deps"
fi

# ccache: Debian's ccache has no 'cc' link in /usr/lib/ccache and QEMU's
# configure calls 'cc' unless CC is set.
info "dpkg-buildpackage -B in the chroot ($JOBS jobs, niced; log: build/deb/build.log)"
rm -f "$SRC"/*.deb "$SRC"/*.changes "$SRC"/*.buildinfo
timed build in_chroot sh -c "cd '$ctree' && \
    PATH=/usr/lib/ccache:\$PATH CC=gcc CXX=g++ CCACHE_DIR=/var/cache/ccache CCACHE_BASEDIR=/build \
    DEB_BUILD_OPTIONS='nocheck parallel=$JOBS terse' DEB_BUILD_PROFILES='${PROFILES//,/ }' \
    nice -n 10 dpkg-buildpackage -B -uc -us -P'$PROFILES'" > "$DEB/build.log" 2>&1 ||
    { tail -n 30 "$DEB/build.log" >&2; die "dpkg-buildpackage failed (log: build/deb/build.log)"; }
in_chroot sh -c 'CCACHE_DIR=/var/cache/ccache ccache -s' 2>/dev/null | sed -n '1,6p' || true

rm -rf "$DEB/out"
mkdir -p "$DEB/out"
cp "$SRC"/*.deb "$SRC"/*.changes "$SRC"/*.buildinfo "$DEB/out/"
info "packages in ${DEB#"$TOP"/}/out:"
(cd "$DEB/out" && ls -1 ./*.deb | sed 's|^\./|    |')
cleanup
mounted=()

# --- 4. test --------------------------------------------------------------------------------
if [ "${DEB_SKIP_TEST:-0}" != 1 ]; then
    timed check-deb "$TOP/tests/deb/check-deb.sh"
fi
