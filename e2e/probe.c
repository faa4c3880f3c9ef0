/*
 * probe: check, from inside the L1 guest, that the real Linux kernel lets
 * userspace build the iommufd objects a nested vSMMUv3 needs for the given
 * VFIO device cdev: bind, IOAS, hardware info, nesting parent HWPT, vIOMMU,
 * vDEVICE and a nested (bypass) HWPT, attaching the device as QEMU would.
 *
 * Usage: probe /dev/vfio/devices/vfioN [virtual-SID]
 * Prints one "probe: <step>: ..." line per step; exits non-zero at the
 * first failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

static int failed(const char *step)
{
    printf("probe: %s: FAILED: errno %d (%s)\n", step, errno, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    const char *cdev = argc > 1 ? argv[1] : "/dev/vfio/devices/vfio0";
    uint64_t vsid = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x8;
    struct iommu_hw_info_arm_smmuv3 smmu;
    int iommufd, devfd, i;
    uint32_t dev_id, ioas_id, s2_id, viommu_id, vdev_id, s1_id;

    iommufd = open("/dev/iommu", O_RDWR);
    if (iommufd < 0) {
        return failed("open /dev/iommu");
    }
    devfd = open(cdev, O_RDWR);
    if (devfd < 0) {
        return failed(cdev);
    }

    struct vfio_device_bind_iommufd bind = {
        .argsz = sizeof(bind), .iommufd = iommufd,
    };
    if (ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
        return failed("VFIO_DEVICE_BIND_IOMMUFD");
    }
    dev_id = bind.out_devid;
    printf("probe: bind: dev_id %u\n", dev_id);

    struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
    if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas)) {
        return failed("IOMMU_IOAS_ALLOC");
    }
    ioas_id = ioas.out_ioas_id;
    printf("probe: ioas: id %u\n", ioas_id);

    memset(&smmu, 0, sizeof(smmu));
    struct iommu_hw_info info = {
        .size = sizeof(info), .dev_id = dev_id,
        .data_len = sizeof(smmu), .data_uptr = (uintptr_t)&smmu,
    };
    if (ioctl(iommufd, IOMMU_GET_HW_INFO, &info)) {
        return failed("IOMMU_GET_HW_INFO");
    }
    printf("probe: hw_info: type %u (ARM_SMMUV3 is %u)",
           info.out_data_type, IOMMU_HW_INFO_TYPE_ARM_SMMUV3);
    for (i = 0; i < 6; i++) {
        printf(" idr%d 0x%08x", i, smmu.idr[i]);
    }
    /* IDR3.FWB is bit 8 */
    printf(" iidr 0x%08x aidr 0x%08x fwb %u\n", smmu.iidr, smmu.aidr,
           (smmu.idr[3] >> 8) & 1);

    struct iommu_hwpt_alloc s2 = {
        .size = sizeof(s2), .flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
        .dev_id = dev_id, .pt_id = ioas_id,
    };
    if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &s2)) {
        return failed("IOMMU_HWPT_ALLOC(NEST_PARENT)");
    }
    s2_id = s2.out_hwpt_id;
    printf("probe: nest parent hwpt: id %u\n", s2_id);

    struct vfio_device_attach_iommufd_pt at = {
        .argsz = sizeof(at), .pt_id = s2_id,
    };
    if (ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at)) {
        return failed("VFIO_DEVICE_ATTACH_IOMMUFD_PT(nest parent)");
    }
    printf("probe: attached to nest parent %u\n", s2_id);

    struct iommu_viommu_alloc va = {
        .size = sizeof(va), .type = IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
        .dev_id = dev_id, .hwpt_id = s2_id,
    };
    if (ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &va)) {
        return failed("IOMMU_VIOMMU_ALLOC(ARM_SMMUV3)");
    }
    viommu_id = va.out_viommu_id;
    printf("probe: viommu: id %u\n", viommu_id);

    struct iommu_vdevice_alloc vd = {
        .size = sizeof(vd), .viommu_id = viommu_id, .dev_id = dev_id,
        .virt_id = vsid,
    };
    if (ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &vd)) {
        return failed("IOMMU_VDEVICE_ALLOC");
    }
    vdev_id = vd.out_vdevice_id;
    printf("probe: vdevice: id %u virt_id 0x%llx\n", vdev_id,
           (unsigned long long)vsid);

    /* A guest STE with V=1 and Config=0b100 (stage 1 bypass). */
    struct iommu_hwpt_arm_smmuv3 ste = { .ste = { 1 | (4 << 1), 0 } };
    struct iommu_hwpt_alloc s1 = {
        .size = sizeof(s1), .dev_id = dev_id, .pt_id = viommu_id,
        .data_type = IOMMU_HWPT_DATA_ARM_SMMUV3,
        .data_len = sizeof(ste), .data_uptr = (uintptr_t)&ste,
    };
    if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &s1)) {
        return failed("IOMMU_HWPT_ALLOC(nested, bypass STE)");
    }
    s1_id = s1.out_hwpt_id;
    printf("probe: nested hwpt: id %u\n", s1_id);

    at.pt_id = s1_id;
    if (ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at)) {
        return failed("VFIO_DEVICE_ATTACH_IOMMUFD_PT(nested)");
    }
    printf("probe: attached to nested hwpt %u\n", s1_id);
    printf("probe: PASS\n");
    return 0;
}
