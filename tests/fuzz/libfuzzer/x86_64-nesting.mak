# Devices of the libFuzzer build's qemu-fuzz-x86_64 (configs/devices/
# x86_64-softmmu/nesting.mak in its tree): only what the VT-d target's
# machine uses, so the clang build compiles a fraction of QEMU.
CONFIG_Q35=y
CONFIG_VTD=y
CONFIG_VTD_ACCEL=y
CONFIG_IOMMUFD=y
CONFIG_VFIO_PCI=y
CONFIG_PCIE_PORT=y
