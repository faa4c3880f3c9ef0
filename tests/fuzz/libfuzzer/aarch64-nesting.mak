# Devices of the libFuzzer build's qemu-fuzz-aarch64 (configs/devices/
# aarch64-softmmu/nesting.mak in its tree): the SMMUv3 target's machine.
CONFIG_ARM_VIRT=y
CONFIG_ARM_SMMUV3_ACCEL=y
CONFIG_IOMMUFD=y
CONFIG_VFIO_PCI=y
CONFIG_PCIE_PORT=y
