# Nested vIOMMU for passthrough devices: a QEMU 10.0 patch series.
# See README.md.  Everything generated goes to build/.

SHELL := /bin/bash
export QEMU_SRC FORCE FROM

.PHONY: all build deps base apply export check check-series sim demo demo-arm64 demo-quick guest guest-arm64 bench sweep soak check-libvirt e2e e2e-intel fuzz build-asan deb check-deb clean distclean help

all: build

help:
	@echo "make            fetch the base, apply patches/, build QEMU (build/obj)"
	@echo "make demo       a Linux guest doing DMA through nested translation"
	@echo "make demo-arm64 the same on arm64 behind arm-smmuv3 accel=on"
	@echo "make demo-quick QEMU with a simulated passthrough device, no guest"
	@echo "make check      apply, build, checkpatch, all tests (what CI runs)"
	@echo "make export     write the work tree's commits back to patches/"
	@echo "make apply      re-apply patches/ on base (FORCE=1 discards local work)"
	@echo "make check-series  build and checkpatch after every patch"
	@echo "make sim        build the iommufd simulator (build/sim)"
	@echo "make bench      shadow vs nested with a real Linux guest (docs/bench.md)"
	@echo "make sweep      fail every host call once, per vIOMMU (docs/reliability.md)"
	@echo "make soak       200 hot-plug cycles per vIOMMU, leaks and RSS (docs/reliability.md)"
	@echo "make check-libvirt  the libvirt test with Debian 13's libvirt 12.9 (chroot)"
	@echo "make e2e        arm-smmuv3 accel=on against a real Linux iommufd (e2e/)"
	@echo "make e2e-intel  intel-iommu x-flts=on against a real Linux iommufd (e2e/)"
	@echo "make build-asan QEMU with ASan/UBSan (build/obj-asan)"
	@echo "make fuzz       fuzz both vIOMMUs with simulated devices (docs/fuzz.md):"
	@echo "                libFuzzer, FUZZ_INPUTS=N per vIOMMU (default 1000000),"
	@echo "                then the qtest driver, FUZZ_QTEST_INPUTS=N (default 10000)"
	@echo "make deb        Debian 13 packages qemu-system-x86/-arm with the series (build/deb/out)"
	@echo "make check-deb  install the .debs in a clean trixie chroot and run them on the simulator"

deps:
	@scripts/deps.sh

base: deps
	@scripts/fetch-base.sh

apply: base
	@scripts/apply.sh

build: apply
	@scripts/build.sh

export:
	@scripts/export.sh

check:
	@scripts/check.sh

check-series: deps
	@scripts/check-series.sh

sim:
	@scripts/build-sim.sh

# A stock Linux guest doing DMA through nested translation (issue 8).
demo: build sim guest
	@/usr/bin/python3 scripts/demo-guest.py

# The same with Debian's arm64 kernel behind arm-smmuv3 accel=on.
demo-arm64: build sim guest-arm64
	@/usr/bin/python3 scripts/demo-guest.py --arch arm64

# Seconds, no guest: qtest plays firmware and driver.
demo-quick: build sim
	@/usr/bin/python3 scripts/demo-quick.py

# The demo guest: Debian's kernel, the simdma module, an initramfs.
guest: deps
	@scripts/guest-build.sh amd64

guest-arm64: deps
	@scripts/guest-build.sh arm64

# Shadow vs nested with a real guest; writes docs/bench.md.
bench: build sim guest
	@/usr/bin/python3 scripts/bench.py

# Every host call of a device's life failed once (IOMMUFD_SIM_FAIL), for
# intel-iommu x-flts=on and arm-smmuv3 accel=on; writes docs/reliability.md.
sweep: build sim
	@/usr/bin/python3 scripts/sweep.py

# 200 hot-plug/unplug cycles per vIOMMU: host objects, RSS; writes
# docs/reliability.md.
soak: build sim
	@/usr/bin/python3 scripts/soak.py

# tests/libvirt against libvirt 12.9 (trixie-backports) in a Debian 13
# chroot (build/chroot-trixie): its native <iommu model='smmuv3'> XML.
check-libvirt: build sim guest guest-arm64
	@tests/libvirt/run-in-trixie.sh

# L0 (our QEMU, TCG, nesting SMMUv3 + edu) -> L1 (Linux 7.2, iommufd) ->
# L2 (our QEMU for arm64, vSMMU accel=on, edu through vfio-pci).
e2e: build
	@e2e/run.sh

# The same for Intel: L0 emulates a nesting VT-d (x-nested=on), L1 is x86_64
# Linux 7.2, L2 is build/obj's qemu-system-x86_64 with intel-iommu x-flts=on.
e2e-intel: build
	@L1_ARCH=x86_64 e2e/run.sh

build-asan: apply
	@scripts/build-asan.sh

# Guest-input fuzzing (issue 16), both engines; each writes its section of
# docs/fuzz.md.  First in process with libFuzzer (clang build,
# build/obj-libfuzzer), FUZZ_INPUTS per vIOMMU; then the qtest driver on
# an ASan QEMU with gcov (build/obj-fuzz), FUZZ_QTEST_INPUTS per vIOMMU.
FUZZ_QTEST_INPUTS ?= 10000
fuzz: apply sim
	@scripts/build-libfuzzer.sh
	@nice -n 10 /usr/bin/python3 scripts/fuzz.py --engine libfuzzer
	@QEMU_OBJ_ASAN=$(CURDIR)/build/obj-fuzz ASAN_GCOV=1 scripts/build-asan.sh
	@QEMU_OBJ_ASAN=$(CURDIR)/build/obj-fuzz nice -n 10 /usr/bin/python3 scripts/fuzz.py --parallel --inputs $(FUZZ_QTEST_INPUTS)

# Debian 13 packages with the series, built in a trixie chroot (as root;
# not in CI: see README.md "Debian 13 packages"), then tests/deb/check-deb.sh.
deb: apply sim
	@scripts/deb.sh

check-deb:
	@tests/deb/check-deb.sh

clean:
	rm -rf build/obj build/obj-asan build/obj-fuzz build/obj-libfuzzer build/sim build/series build/test-logs build/fuzz

# Also removes the work tree: export your commits first.
distclean:
	rm -rf build
