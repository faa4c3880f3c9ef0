#!/usr/bin/env bash
# tests/libvirt/test-libvirt.py against Debian 13's libvirt 12.9
# (trixie-backports) in a chroot: libvirt's own <iommu model='smmuv3'> XML,
# two SMMUs, no overrides (run-in-trixie.sh; the chroot is made once,
# about 2.5 minutes, then about 1 minute a run).  TAP on stdout.
exec "$(dirname "$0")/run-in-trixie.sh"
