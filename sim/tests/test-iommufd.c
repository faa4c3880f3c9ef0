/*
 * iommufd-sim: iommufd object and ioctl rules (ids, size rules, IOAS,
 * HW info, HWPT allocation, vIOMMU/vDEVICE, invalidation, DESTROY order).
 * Each check fails if the corresponding kernel rule were broken.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testlib.h"

#define VTD_CFG "iommu=vtd\ninstance=0\nreserved=0x100000-0x1fffff\n"
#define SMMU_CFG "iommu=smmuv3\ninstance=0\n"
#define MB (1ull << 20)

static const uint32_t MAP_RW = IOMMU_IOAS_MAP_READABLE |
                               IOMMU_IOAS_MAP_WRITEABLE;

static void test_ids_and_sizes(void)
{
    int fd = t_iommufd();
    uint32_t a = t_ioas(fd), b = t_ioas(fd), c = t_ioas(fd);
    struct { struct iommu_ioas_alloc a; uint32_t tail[3]; } big;
    struct iommu_destroy d = { .size = 4, .id = a };

    ok(a == 1 && b == 2 && c == 3, "ids start at 1 and increase (%u %u %u)",
       a, b, c);
    OK_0(t_destroy(fd, b), "destroy the middle IOAS");
    ok(t_ioas(fd) == b, "the lowest free id is reused");
    OK_ERR(ioctl(fd, IOMMU_DESTROY, &d), EINVAL, "size below minimum");
    memset(&big, 0, sizeof(big));
    big.a.size = sizeof(big);
    OK_0(ioctl(fd, IOMMU_IOAS_ALLOC, &big), "larger size, zero tail");
    ok(big.a.out_ioas_id == 4, "larger struct written back (id %u)",
       big.a.out_ioas_id);
    big.tail[1] = 1;
    OK_ERR(ioctl(fd, IOMMU_IOAS_ALLOC, &big), E2BIG, "non-zero tail");
    big.tail[1] = 0;
    big.a.flags = 1;
    OK_ERR(ioctl(fd, IOMMU_IOAS_ALLOC, &big), EOPNOTSUPP, "IOAS_ALLOC flags");
    OK_ERR(ioctl(fd, _IO(IOMMUFD_TYPE, 0xa0), &big), ENOTTY,
           "unknown iommufd ioctl");
    OK_ERR(ioctl(fd, IOMMU_IOAS_ALLOC, (void *)8), EFAULT, "bad pointer");
    OK_ERR(t_destroy(fd, 99), ENOENT, "destroy missing id");
    close(fd);
    ok(iommufd_sim_contexts() == 0, "closing the fd releases the context");
}

static void test_map_unmap(void)
{
    int fd = t_iommufd(), dev = t_devfd(VTD_CFG);
    uint32_t devid = t_bind(dev, fd), ioas = t_ioas(fd), pt = ioas;
    uint8_t *buf = t_alloc(4 * MB), *ro;
    uint64_t iova = 0, n;
    struct iommu_ioas_map m = { .size = sizeof(m), .ioas_id = ioas,
                                .flags = MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA,
                                .user_va = (uintptr_t)buf, .length = 4096,
                                .iova = 0x10000, .__reserved = 1 };

    (void)devid;
    OK_0(t_attach(dev, &pt), "attach the device to the IOAS");
    OK_ERR(ioctl(fd, IOMMU_IOAS_MAP, &m), EOPNOTSUPP, "MAP __reserved");
    m.__reserved = 0;
    m.flags |= 1u << 5;
    OK_ERR(ioctl(fd, IOMMU_IOAS_MAP, &m), EOPNOTSUPP, "MAP unknown flag");
    OK_ERR(t_map(fd, ioas, buf, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA),
           EINVAL, "MAP without R/W");
    OK_ERR(t_map_fixed(fd, ioas, buf, 0, 0x10000), EINVAL, "MAP length 0");
    OK_ERR(t_map_fixed(fd, ioas, buf, 4096, 0x10010), EINVAL,
           "MAP misaligned iova");
    OK_ERR(t_map_fixed(fd, ioas, buf + 16, 4096, 0x10000), EINVAL,
           "MAP misaligned user_va");
    OK_ERR(t_map_fixed(fd, 99, buf, 4096, 0x10000), ENOENT, "MAP no IOAS");
    OK_ERR(t_map_fixed(fd, ioas, buf, 4096, 0x180000), EINVAL,
           "MAP into a reserved range");
    OK_ERR(t_map_fixed(fd, ioas, buf, 4096, 0xfee00000), EINVAL,
           "MAP into the MSI window");
    OK_0(t_map_fixed(fd, ioas, buf, 2 * MB, 0x200000), "MAP 2M fixed");
    OK_ERR(t_map_fixed(fd, ioas, buf, 4096, 0x3ff000), EEXIST,
           "MAP overlapping an area");
    ro = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    OK_ERR(t_map_fixed(fd, ioas, ro, 8192, 0x800000), EFAULT,
           "MAP writeable over a read-only VMA");
    iova = 0x800000;
    OK_0(t_map(fd, ioas, ro, 8192, &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
               IOMMU_IOAS_MAP_READABLE), "MAP read-only over it");
    munmap(ro + 4096, 4096);
    OK_ERR(t_map_fixed(fd, ioas, buf + 4 * MB, 4096, 0x900000), EFAULT,
           "MAP unmapped user_va");
    iova = 0;
    OK_0(t_map(fd, ioas, buf, 64 * 1024, &iova, MAP_RW), "MAP non-fixed");
    ok(iova && !(iova & 0xfff) && (iova < 0x100000 || iova > 0x1fffff) &&
       (iova + 0x10000 <= 0x200000 || iova >= 0x400000),
       "allocated iova 0x%llx is aligned and free", (unsigned long long)iova);
    OK_ERR(t_unmap(fd, ioas, 0x10000000, 4096, NULL), ENOENT,
           "UNMAP nothing");
    OK_ERR(t_unmap(fd, ioas, 0x200000, MB, NULL), ENOENT,
           "UNMAP cutting an area");
    OK_ERR(t_unmap(fd, ioas, 0x200000, 0, NULL), EINVAL, "UNMAP length 0");
    OK_0(t_unmap(fd, ioas, 0x100000, 4 * MB, &n), "UNMAP a superset");
    ok(n == 2 * MB, "UNMAP writes back the length (0x%llx)",
       (unsigned long long)n);
    OK_0(t_unmap(fd, ioas, 0, UINT64_MAX, &n), "UNMAP all");
    ok(n == 64 * 1024 + 8192, "UNMAP all length (0x%llx)",
       (unsigned long long)n);
    OK_0(t_unmap(fd, ioas, 0, UINT64_MAX, &n), "UNMAP all on an empty IOAS");
    close(dev);
    close(fd);
    munmap(buf, 4 * MB);
    munmap(ro, 4096);
}

static void test_copy_ranges(void)
{
    int fd = t_iommufd(), dev = t_devfd(VTD_CFG);
    uint32_t a = t_ioas(fd), b = t_ioas(fd), pt = a;
    uint8_t *buf = t_alloc(MB);
    struct iommu_iova_range r[8];
    struct iommu_ioas_iova_ranges q = { .size = sizeof(q), .ioas_id = a };
    struct iommu_ioas_copy c = { .size = sizeof(c), .dst_ioas_id = b,
                                 .src_ioas_id = a, .length = 8192,
                                 .dst_iova = 0x40000000,
                                 .src_iova = 0x20000000,
                                 .flags = IOMMU_IOAS_MAP_FIXED_IOVA |
                                          IOMMU_IOAS_MAP_READABLE };
    struct iommu_ioas_allow_iovas al = { .size = sizeof(al), .ioas_id = b,
                                         .num_iovas = 1,
                                         .allowed_iovas = (uintptr_t)r };
    uint64_t iova = 0, n;

    t_bind(dev, fd);
    OK_ERR(ioctl(fd, IOMMU_IOAS_COPY, &c), ENOENT, "COPY from unmapped");
    OK_0(t_map_fixed(fd, a, buf, 4096, 0x20000000), "map part 1");
    OK_0(t_map_fixed(fd, a, buf + 4096, 4096, 0x20001000), "map part 2");
    OK_0(ioctl(fd, IOMMU_IOAS_COPY, &c), "COPY across two areas");
    OK_0(t_unmap(fd, b, 0x40000000, 8192, &n), "copied range is mapped");
    c.flags |= IOMMU_IOAS_MAP_WRITEABLE;
    c.src_iova = 0x20001000;
    c.length = 8192;
    OK_ERR(ioctl(fd, IOMMU_IOAS_COPY, &c), ENOENT, "COPY past the areas");

    OK_ERR(ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &q), EMSGSIZE,
           "IOVA_RANGES with no room");
    ok(q.num_iovas == 1, "EMSGSIZE writes back the count (%u)", q.num_iovas);
    OK_0(t_attach(dev, &pt), "attach narrows the IOAS");
    q.num_iovas = 0;
    OK_ERR(ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &q), EMSGSIZE, "again, 0 slots");
    ok(q.num_iovas == 3, "three holes after attach (%u)", q.num_iovas);
    q.allowed_iovas = (uintptr_t)r;
    q.num_iovas = 8;
    OK_0(ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &q), "IOVA_RANGES with room");
    ok(q.num_iovas == 3 && r[0].start == 0 && r[0].last == 0xfffff &&
       r[1].start == 0x200000 && r[1].last == 0xfedfffff &&
       r[2].start == 0xfef00000 && r[2].last == (1ull << 47) - 1 &&
       q.out_iova_alignment == 4096,
       "ranges skip reserved, MSI window and beyond the first-stage "
       "auto domain's 47-bit aperture");
    q.__reserved = 1;
    OK_ERR(ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &q), EOPNOTSUPP,
           "IOVA_RANGES __reserved");

    r[0] = (struct iommu_iova_range){ 0x70000000, 0x7fffffff };
    OK_0(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &al), "ALLOW_IOVAS");
    OK_0(t_map(fd, b, buf, 4096, &iova, MAP_RW), "non-fixed map");
    ok(iova >= 0x70000000 && iova <= 0x7ffff000,
       "allocation stays inside the allowed range (0x%llx)",
       (unsigned long long)iova);
    al.ioas_id = a;
    r[0] = (struct iommu_iova_range){ 0x100000, 0x1fffff };
    OK_ERR(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &al), EADDRINUSE,
           "ALLOW_IOVAS over a reserved range");
    close(dev);
    close(fd);
    munmap(buf, MB);
}

static void test_hw_info(void)
{
    int fd = t_iommufd(), vtd = t_devfd("iommu=vtd\ndirty=on\n"),
        smmu = t_devfd(SMMU_CFG);
    uint32_t dv = t_bind(vtd, fd), ds = t_bind(smmu, fd);
    struct iommu_hw_info_vtd v;
    struct iommu_hw_info_arm_smmuv3 s;
    uint8_t big[64];
    struct iommu_hw_info h = { .size = sizeof(h), .dev_id = dv,
                               .data_len = 8, .data_uptr = (uintptr_t)&v };

    memset(&v, 0xaa, sizeof(v));
    OK_0(ioctl(fd, IOMMU_GET_HW_INFO, &h), "GET_HW_INFO short buffer");
    ok(h.data_len == sizeof(v) && h.out_data_type ==
       IOMMU_HW_INFO_TYPE_INTEL_VTD && v.flags ==
       IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 && v.cap_reg == 0xaaaaaaaaaaaaaaaaull,
       "copies only data_len bytes, reports the real length and type");
    ok(h.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING,
       "dirty tracking capability reported");
    memset(big, 0xaa, sizeof(big));
    h.data_len = sizeof(big);
    h.data_uptr = (uintptr_t)big;
    OK_0(ioctl(fd, IOMMU_GET_HW_INFO, &h), "GET_HW_INFO large buffer");
    memcpy(&v, big, sizeof(v));
    ok(big[sizeof(v)] == 0 && big[63] == 0 && (v.ecap_reg & (1ull << 26)) &&
       ((v.cap_reg >> 16) & 0x3f) == 47, "tail zeroed, NEST and 48-bit");
    h.dev_id = ds;
    h.data_len = sizeof(s);
    h.data_uptr = (uintptr_t)&s;
    OK_0(ioctl(fd, IOMMU_GET_HW_INFO, &h), "GET_HW_INFO SMMUv3");
    ok(h.out_data_type == IOMMU_HW_INFO_TYPE_ARM_SMMUV3 &&
       (s.idr[0] & 3) == 3 && (s.idr[1] & 0x3f) == 16 &&
       ((s.idr[1] >> 6) & 0x1f) == 20 && (s.idr[5] & 7) == 4 &&
       (s.idr[5] & 0x70) == 0x70 && (s.idr[3] & (1u << 10)) &&
       h.out_capabilities == IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED,
       "SMMUv3 IDRs: S1P S2P, SID16, SSID20, OAS44, RIL; no ATS");
    h.flags = 2;
    OK_ERR(ioctl(fd, IOMMU_GET_HW_INFO, &h), EOPNOTSUPP, "HW_INFO flags 2");
    /* iommufd_get_hw_info: INPUT_TYPE asks the driver for one type */
    h.flags = IOMMU_HW_INFO_FLAG_INPUT_TYPE;
    h.in_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
    OK_ERR(ioctl(fd, IOMMU_GET_HW_INFO, &h), EOPNOTSUPP,
           "HW_INFO INPUT_TYPE VT-d on an SMMUv3");
    h.in_data_type = IOMMU_HW_INFO_TYPE_ARM_SMMUV3;
    h.out_max_pasid_log2 = 0x7;     /* an output: overwritten */
    OK_0(ioctl(fd, IOMMU_GET_HW_INFO, &h), "HW_INFO INPUT_TYPE SMMUv3");
    ok(h.out_max_pasid_log2 == 0, "out_max_pasid_log2 0 (no PASID capability)");
    h.flags = 0;
    h.__reserved[0] = 1;
    OK_ERR(ioctl(fd, IOMMU_GET_HW_INFO, &h), EOPNOTSUPP,
           "HW_INFO __reserved[0]");
    h.__reserved[0] = 0;
    h.flags = 0;
    h.dev_id = 99;
    OK_ERR(ioctl(fd, IOMMU_GET_HW_INFO, &h), ENOENT, "HW_INFO no device");
    close(vtd);
    close(smmu);
    close(fd);
}

static void test_hwpt_alloc(void)
{
    int fd = t_iommufd(), plain = t_devfd("iommu=vtd\nnesting=off\n"),
        vtd = t_devfd("iommu=vtd\n"),
        fl5 = t_devfd("iommu=vtd\ninstance=1\nvtd_cap=0x11c9078c222f0406\n"
                      "vtd_ecap=0x1cf9c84f050df\n");
    uint32_t dp = t_bind(plain, fd), dv = t_bind(vtd, fd), d5 = t_bind(fl5, fd);
    uint32_t ioas = t_ioas(fd), paging, parent, parent5, nested, ro;
    struct iommu_hwpt_vtd_s1 s1 = { .pgtbl_addr = 0x1000, .addr_width = 48 };
    struct { struct iommu_hwpt_vtd_s1 s; uint64_t tail; } s1big = { 0 };
    struct iommu_hwpt_alloc a = { .size = sizeof(a), .dev_id = dv,
                                  .pt_id = ioas, .__reserved = 1 };
    uint8_t *buf = t_alloc(8192);
    uint64_t iova = 0x1000;

    (void)dp;
    OK_ERR(ioctl(fd, IOMMU_HWPT_ALLOC, &a), EOPNOTSUPP, "__reserved");
    OK_ERR(t_hwpt(fd, dp, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
                  NULL), EOPNOTSUPP, "NEST_PARENT without nesting");
    OK_ERR(t_hwpt(fd, dv, ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, 0, NULL, 0,
                  NULL), EOPNOTSUPP, "DIRTY_TRACKING without support");
    OK_ERR(t_hwpt(fd, dv, ioas, 1u << 7, 0, NULL, 0, NULL), EOPNOTSUPP,
           "unknown flag");
    OK_ERR(t_hwpt(fd, dv, ioas, 0, 0, &s1, 8, NULL), EINVAL,
           "DATA_NONE with a length");
    OK_ERR(t_hwpt(fd, dv, ioas, 0, IOMMU_HWPT_DATA_VTD_S1, &s1, 0, NULL),
           EINVAL, "a data type without a length");
    OK_ERR(t_hwpt(fd, dv, dv, 0, 0, NULL, 0, NULL), EINVAL, "pt_id is a device");
    /* iommufd_hwpt_alloc: a failing iommufd_get_object is EINVAL */
    OK_ERR(t_hwpt(fd, dv, 99, 0, 0, NULL, 0, NULL), EINVAL, "pt_id missing");
    OK_ERR(t_hwpt(fd, ioas, ioas, 0, 0, NULL, 0, NULL), ENOENT,
           "dev_id is not a device");
    OK_0(t_hwpt(fd, dv, ioas, 0, 0, NULL, 0, &paging), "paging HWPT");
    OK_0(t_hwpt(fd, dv, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
                &parent), "nesting parent HWPT");

    OK_ERR(t_hwpt(fd, dv, paging, 0, IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1),
                  NULL), EINVAL, "nested on a non-parent");
    OK_ERR(t_hwpt(fd, dv, parent, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, &s1, 16,
                  NULL), EOPNOTSUPP, "wrong data type for VT-d");
    OK_ERR(t_hwpt(fd, dv, parent, 0, IOMMU_HWPT_DATA_VTD_S1, &s1, 16, NULL),
           EINVAL, "data_len below the struct");
    s1big.s = s1;
    OK_ERR(t_hwpt(fd, dv, parent, 0, IOMMU_HWPT_DATA_VTD_S1, &s1big,
                  sizeof(s1big), NULL), EINVAL,
           "data_len above the struct, zero tail");
    s1big.tail = 1;
    OK_ERR(t_hwpt(fd, dv, parent, 0, IOMMU_HWPT_DATA_VTD_S1, &s1big,
                  sizeof(s1big), NULL), EINVAL,
           "data_len above the struct, non-zero tail");
    /* addr_width, SRE and EAFE are checked at attach: test_vtd_s1_attach */
    /*
     * drivers/iommu/intel/nested.c:intel_iommu_domain_alloc_nested and
     * intel_pasid_setup_nested look at neither s1.__reserved nor unknown
     * s1.flags bits (the sim refused them with EINVAL).
     */
    s1.flags = 1ull << 40;
    s1.__reserved = 1;
    OK_0(t_hwpt(fd, dv, parent, 0, IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1),
                &nested), "S1 __reserved and unknown flags are accepted");
    OK_0(t_destroy(fd, nested), "destroy it");
    s1.flags = 0;
    s1.__reserved = 0;
    OK_0(t_hwpt(fd, dv, parent, 0, IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1),
                &nested), "nested VT-d HWPT");
    OK_ERR(t_hwpt(fd, dv, nested, 0, IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1),
                  NULL), EINVAL, "nested on a nested HWPT");

    OK_0(t_hwpt(fd, d5, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
                &parent5), "parent on the FL5LP+SRS+EAFS instance");
    s1.addr_width = 57;
    s1.flags = IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_EAFE;
    OK_0(t_hwpt(fd, d5, parent5, 0, IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1),
                NULL), "57-bit, SRE, EAFE accepted when supported");

    OK_ERR(t_map(fd, ioas, buf, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
                 IOMMU_IOAS_MAP_READABLE), EINVAL,
           "read-only map under a VT-d nest parent (ERRATA_772415)");
    iova = 0x1000;
    OK_0(t_map(fd, ioas, buf, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
               IOMMU_IOAS_MAP_WRITEABLE), "a write-only map is fine there");
    ro = t_ioas(fd);
    iova = 0x1000;
    OK_0(t_map(fd, ro, buf, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
               IOMMU_IOAS_MAP_READABLE), "read-only map, no domain yet");
    OK_ERR(t_hwpt(fd, dv, ro, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
                  NULL), EINVAL, "VT-d nest parent over a read-only area");
    OK_0(t_hwpt(fd, dv, ro, 0, 0, NULL, 0, NULL),
         "a plain VT-d domain over it is fine");
    close(plain);
    close(vtd);
    close(fl5);
    close(fd);
    munmap(buf, 8192);
}

/*
 * VT-d stage-1 configurations the IOMMU cannot use are refused when the
 * nested HWPT is attached, not when it is allocated:
 * drivers/iommu/intel/nested.c:intel_iommu_domain_alloc_nested keeps
 * them and drivers/iommu/intel/pasid.c:intel_pasid_setup_nested fails
 * the attach with EINVAL (the sim refused them at HWPT_ALLOC).  As any
 * failed VT-d attach, it leaves iommufd's attachment as it was but the
 * device's DMA blocked: intel_nested_attach_dev and
 * intel_iommu_attach_device call device_block_translation first.
 */
static void test_vtd_s1_attach(void)
{
    static const struct {
        uint32_t addr_width;
        uint64_t flags;
        const char *what;
    } bad[] = {
        { 39, 0, "addr_width 39" },
        { 0, 0, "addr_width 0" },
        { 57, 0, "addr_width 57 without CAP.FS5LP" },
        { 48, IOMMU_VTD_S1_SRE, "SRE without ECAP.SRS" },
        { 48, IOMMU_VTD_S1_EAFE, "EAFE without ECAP.EAFS" },
    };
    int fd = t_iommufd(), vtd = t_devfd("iommu=vtd\n"),
        fl5 = t_devfd("iommu=vtd\ninstance=1\nvtd_cap=0x11c9078c222f0406\n"
                      "vtd_ecap=0x1cf9c84f050df\n");
    uint32_t dv = t_bind(vtd, fd), d5 = t_bind(fl5, fd), ioas = t_ioas(fd);
    uint32_t parent, parent5, nested, pt, num;
    struct iommu_hwpt_vtd_s1 s1 = { .pgtbl_addr = 0x1000 };
    struct iommu_hwpt_vtd_s1_invalidate inv = { .npages = UINT64_MAX };

    t_enable(vtd);
    t_enable(fl5);
    OK_0(t_hwpt(fd, dv, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
                &parent), "nest parent");
    OK_0(t_hwpt(fd, d5, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
                &parent5), "nest parent on the FS5LP+SRS+EAFS instance");
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s1.addr_width = bad[i].addr_width;
        s1.flags = bad[i].flags;
        nested = 0;
        ok(!t_hwpt(fd, dv, parent, 0, IOMMU_HWPT_DATA_VTD_S1, &s1,
                   sizeof(s1), &nested) && nested,
           "%s: HWPT_ALLOC accepts it", bad[i].what);
        pt = nested;
        OK_ERR(t_attach(vtd, &pt), EINVAL,
               "its attach to a blocked device");
        ok(t_reg(vtd, SIMDEV_REG_ATTACHED_PT) == 0, "the device stays blocked");
        pt = parent;
        OK_0(t_attach(vtd, &pt), "attach to the nest parent");
        pt = nested;
        OK_ERR(t_attach(vtd, &pt), EINVAL, "its replacing stage 2");
        ok(t_reg(vtd, SIMDEV_REG_ATTACHED_PT) == parent,
           "iommufd keeps the device on the parent");
        ok(t_reg(vtd, SIMDEV_REG_DOMAIN_KIND) == SIMDEV_DOMAIN_BLOCKED,
           "but the failed attach blocked its DMA");
        pt = parent;
        OK_0(t_attach(vtd, &pt), "attaching the parent again is a no-op");
        ok(t_reg(vtd, SIMDEV_REG_DOMAIN_KIND) == SIMDEV_DOMAIN_BLOCKED,
           "that leaves it blocked");
        num = 1;
        ok(!t_invalidate(fd, nested, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, &inv,
                         sizeof(inv), &num) && num == 1,
           "invalidating the never-attached HWPT handles the entry");
        OK_0(t_destroy(fd, nested), "destroy it (not in use)");
        OK_0(t_detach(vtd), "detach");
    }
    pt = parent;
    OK_0(t_attach(vtd, &pt), "attach to the parent after the detach");
    ok(t_reg(vtd, SIMDEV_REG_DOMAIN_KIND) == SIMDEV_DOMAIN_S2,
       "translates through stage 2 again");
    pt = parent5;
    OK_ERR(t_attach(vtd, &pt), EINVAL,
           "a paging HWPT of another VT-d unit replacing it");
    ok(t_reg(vtd, SIMDEV_REG_ATTACHED_PT) == parent &&
       t_reg(vtd, SIMDEV_REG_DOMAIN_KIND) == SIMDEV_DOMAIN_BLOCKED,
       "leaves it on the parent for iommufd, DMA blocked");
    ok(t_dma(vtd, SIMDEV_OP_PROBE, 0x1000, 0, 0) & SIMDEV_STATUS_ERROR &&
       t_reg(vtd, SIMDEV_REG_FAULT_CODE) == SIM_FAULT_BLOCKED,
       "a DMA faults as blocked");
    OK_0(t_detach(vtd), "detach");
    s1.addr_width = 57;
    s1.flags = IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_EAFE;
    OK_0(t_hwpt(fd, d5, parent5, 0, IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1),
                &nested), "57-bit, SRE, EAFE on the instance with them");
    pt = nested;
    OK_0(t_attach(fl5, &pt), "attaches there");
    ok(t_reg(fl5, SIMDEV_REG_DOMAIN_KIND) == SIMDEV_DOMAIN_VTD_NESTED,
       "and translates nested");
    OK_0(t_detach(fl5), "detach");
    OK_0(t_destroy(fd, nested), "destroy it");
    close(vtd);
    close(fl5);
    close(fd);

    /*
     * drivers/iommu/iommufd/device.c:iommufd_hw_pagetable_attach enforces
     * the device's reserved regions before the driver sees the domain: a
     * HWPT of another unit over an area in such a region is EADDRINUSE,
     * not the driver's EINVAL, and does not block the device.
     */
    {
        int fd2 = t_iommufd(), a = t_devfd("iommu=vtd\n"),
            r = t_devfd("iommu=vtd\ninstance=1\nreserved=0x100000-0x1fffff\n");
        uint32_t da = t_bind(a, fd2), dr = t_bind(r, fd2), io = t_ioas(fd2);
        uint32_t pa, own;
        uint8_t *buf = t_alloc(4096);

        t_enable(r);
        OK_0(t_map_fixed(fd2, io, buf, 4096, 0x100000),
             "map inside the other device's reserved region");
        OK_0(t_hwpt(fd2, da, io, 0, 0, NULL, 0, &pa), "paging HWPT of unit 0");
        own = t_ioas(fd2);
        OK_0(t_hwpt(fd2, dr, own, 0, 0, NULL, 0, &own), "its HWPT elsewhere");
        pt = own;
        OK_0(t_attach(r, &pt), "attached to it");
        pt = pa;
        OK_ERR(t_attach(r, &pt), EADDRINUSE,
               "unit 0's HWPT over its reserved region");
        ok(t_reg(r, SIMDEV_REG_DOMAIN_KIND) == SIMDEV_DOMAIN_S2,
           "the device keeps translating (the driver never ran)");
        close(a);
        close(r);
        close(fd2);
        munmap(buf, 4096);
    }
}

/*
 * Paging HWPT flag combinations: SMMUv3 takes 0, NEST_PARENT, DIRTY,
 * DIRTY|PASID and PASID only; VT-d's second stage takes any mix.
 */
static void test_paging_flags(void)
{
    const uint32_t np = IOMMU_HWPT_ALLOC_NEST_PARENT,
        dt = IOMMU_HWPT_ALLOC_DIRTY_TRACKING, pa = IOMMU_HWPT_ALLOC_PASID;
    int fd = t_iommufd(), sm = t_devfd("iommu=smmuv3\ndirty=1\n"),
        vt = t_devfd("iommu=vtd\ndirty=1\n"),
        s2 = t_devfd("iommu=smmuv3\nsmmu_idr0=0x090c3019\n");  /* no S1P */
    uint32_t ds = t_bind(sm, fd), dv = t_bind(vt, fd), d2 = t_bind(s2, fd),
        ioas = t_ioas(fd);
    const uint32_t good[] = { 0, np, dt, dt | pa, pa };
    const uint32_t bad[] = { np | dt, np | pa, np | dt | pa };

    for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ok(!t_hwpt(fd, ds, ioas, good[i], 0, NULL, 0, NULL),
           "SMMUv3 paging flags 0x%x", good[i]);
    }
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(is_err(t_hwpt(fd, ds, ioas, bad[i], 0, NULL, 0, NULL), EOPNOTSUPP),
           "SMMUv3 paging flags 0x%x -> EOPNOTSUPP", bad[i]);
    }
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(!t_hwpt(fd, dv, ioas, bad[i], 0, NULL, 0, NULL),
           "VT-d (SSADS) paging flags 0x%x", bad[i]);
    }
    OK_0(t_hwpt(fd, d2, ioas, 0, 0, NULL, 0, NULL),
         "SMMUv3 without S1P: flags 0 (a stage-2 domain)");
    OK_ERR(t_hwpt(fd, d2, ioas, pa, 0, NULL, 0, NULL), EOPNOTSUPP,
           "SMMUv3 without S1P: PASID needs a stage-1 domain");
    close(sm);
    close(vt);
    close(s2);
    close(fd);
}

/*
 * SMMUv3 entry_len: any length up to PAGE_SIZE; a shorter entry is
 * zero-extended, a longer one needs a zero tail (copy_struct_from_user).
 */
static void smmu_entry_len(int fd, uint32_t viommu)
{
    const uint32_t t = IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3;
    uint64_t *buf = t_alloc(8192), w[2] = { 0x10, 0x11 | 5ull << 48 };
    uint64_t seen = iommufd_sim_counter("inv.entries");
    uint32_t n = 2;

    memcpy(buf, w, sizeof(w));  /* two 8-byte entries: NH_ALL, NH_ASID */
    OK_0(t_invalidate(fd, viommu, t, buf, 8, &n), "entry_len 8");
    ok(n == 2 && iommufd_sim_counter("inv.entries") == seen + 2,
       "both 8-byte commands applied (%u)", n);
    memset(buf, 0, 8192);
    buf[0] = 0x10;
    buf[3] = 0x11;              /* entries of 24 bytes: zero tails */
    n = 2;
    OK_0(t_invalidate(fd, viommu, t, buf, 24, &n), "entry_len 24, zero tail");
    ok(n == 2, "entry_num 2 (%u)", n);
    buf[5] = 1;
    n = 2;
    OK_ERR(t_invalidate(fd, viommu, t, buf, 24, &n), E2BIG,
           "entry_len 24, non-zero tail in entry 1");
    ok(n == 0, "a copy failure handles nothing (%u)", n);
    memset(buf, 0, 8192);
    buf[0] = 0x10;
    n = 1;
    OK_ERR(t_invalidate(fd, viommu, t, buf, 4097, &n), EINVAL,
           "entry_len above PAGE_SIZE");
    ok(n == 0, "entry_num 0 (%u)", n);
    n = (1u << 19) + 1;
    OK_ERR(t_invalidate(fd, viommu, t, buf, 16, &n), EINVAL,
           "entry_num above 1 << 19");
    ok(n == 0, "entry_num 0 (%u)", n);
    munmap(buf, 8192);
}

/* SMMUv3 vIOMMU, vDEVICE, vSTE validation and command invalidation. */
static void test_smmu(void)
{
    int fd = t_iommufd(), d1 = t_devfd(SMMU_CFG), d2 = t_devfd(SMMU_CFG),
        vt = t_devfd("iommu=vtd\n");
    uint32_t id1 = t_bind(d1, fd), id2 = t_bind(d2, fd), idv = t_bind(vt, fd);
    uint32_t ioas = t_ioas(fd), plain, parent, viommu, vdev, nested, n, pt;
    uint64_t ste[2] = { 1 | (5ull << 1) | 0x10000, 0 };
    uint64_t ste3[3] = { 1 | (4ull << 1), 0, 0 };
    uint64_t cmds[3][2] = { { 0x11, 0 }, { 0x12, 0x1001 }, { 0x46, 0 } };
    struct iommu_viommu_alloc va = { .size = sizeof(va), .dev_id = id1 };

    OK_0(t_hwpt(fd, id1, ioas, 0, 0, NULL, 0, &plain), "plain SMMU HWPT");
    OK_0(t_hwpt(fd, id1, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
                &parent), "SMMU nesting parent");
    va.hwpt_id = parent;
    OK_ERR(ioctl(fd, IOMMU_VIOMMU_ALLOC, &va), EOPNOTSUPP,
           "VIOMMU type DEFAULT");
    OK_ERR(t_viommu(fd, idv, parent, NULL), EOPNOTSUPP, "vIOMMU for VT-d");
    OK_ERR(t_viommu(fd, id1, plain, NULL), EINVAL, "vIOMMU on a non-parent");
    /* iommufd_viommu_alloc_ioctl, arm_vsmmu_init: no attachment needed */
    OK_0(t_viommu(fd, id1, parent, &viommu),
         "vIOMMU before the device is attached to the parent");
    OK_0(t_destroy(fd, viommu), "that vIOMMU destroyed");
    pt = parent;
    OK_0(t_attach(d1, &pt), "attach device 1 to the parent");
    pt = parent;
    OK_0(t_attach(d2, &pt), "attach device 2 to the parent");
    OK_0(t_viommu(fd, id1, parent, &viommu), "vIOMMU");
    OK_0(t_hwpt(fd, id1, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste,
                sizeof(ste), &nested), "S1 nested HWPT on the vIOMMU");
    OK_ERR(t_attach(d1, &nested), ENOENT,
           "attaching it without a vDEVICE");
    OK_0(t_destroy(fd, nested), "destroy it");
    OK_0(t_vdevice(fd, viommu, id1, 0x10, &vdev), "vDEVICE 0x10");
    OK_ERR(t_vdevice(fd, viommu, id1, 0x11, NULL), EEXIST,
           "second vDEVICE for the device");
    OK_ERR(t_vdevice(fd, viommu, id2, 0x10, NULL), EEXIST, "virt_id in use");
    OK_ERR(t_vdevice(fd, viommu, idv, 0x12, NULL), EINVAL,
           "vDEVICE of another IOMMU");
    OK_ERR(t_hwpt(fd, id1, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste3,
                  sizeof(ste3), NULL), EINVAL, "vSTE data_len 24, zero tail");
    OK_ERR(t_hwpt(fd, id1, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste,
                  8, NULL), EINVAL, "vSTE data_len 8");
    ste[1] = 1ull << 40;
    OK_ERR(t_hwpt(fd, id1, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste,
                  sizeof(ste), NULL), EIO, "vSTE with a disallowed field");
    ste[1] = 2ull << 28;
    OK_ERR(t_hwpt(fd, id1, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste,
                  sizeof(ste), NULL), EIO, "vSTE EATS=S1CHK");
    ste[1] = 0;
    ste[0] = 1 | (6ull << 1);
    OK_ERR(t_hwpt(fd, id1, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste,
                  sizeof(ste), NULL), EIO, "vSTE Config S2");
    ste[0] = 6ull << 1;
    OK_0(t_hwpt(fd, id1, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste,
                sizeof(ste), &nested), "V=0 is accepted as abort");
    OK_0(t_attach(d1, &nested), "attach the abort vSTE");
    OK_ERR(t_hwpt(fd, id1, viommu, 0, IOMMU_HWPT_DATA_VTD_S1, ste,
                  sizeof(ste), NULL), EINVAL, "wrong data type on a vIOMMU");
    OK_ERR(t_hwpt(fd, id1, viommu, IOMMU_HWPT_ALLOC_NEST_PARENT,
                  IOMMU_HWPT_DATA_ARM_SMMUV3, ste, sizeof(ste), NULL),
           EOPNOTSUPP, "flags on a vIOMMU nested HWPT");

    n = 3;
    OK_ERR(t_invalidate(fd, viommu, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
                        cmds, 16, &n), EIO, "CMD_SYNC is refused");
    ok(n == 2, "entry_num counts the handled commands (%u)", n);
    cmds[0][0] = 0x05 | (0x99ull << 32);
    n = 1;
    OK_ERR(t_invalidate(fd, viommu, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
                        cmds, 16, &n), EIO, "CFGI_CD for an unknown vSID");
    cmds[0][0] = 0x05 | (0x10ull << 32);
    n = 1;
    OK_0(t_invalidate(fd, viommu, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
                      cmds, 16, &n), "CFGI_CD for the vDEVICE's vSID");
    n = 0;
    OK_ERR(t_invalidate(fd, viommu, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
                        NULL, 0, &n), EINVAL, "SMMUv3 with entry_num 0");
    ok(n == 0, "entry_num stays 0 (%u)", n);
    n = 0;
    OK_ERR(t_invalidate(fd, viommu, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
                        cmds, 16, &n), EINVAL,
           "SMMUv3 with entry_num 0 and an array");
    smmu_entry_len(fd, viommu);
    n = 1;
    OK_ERR(t_invalidate(fd, viommu, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, cmds,
                        16, &n), EINVAL, "wrong invalidation data type");
    ok(n == 0, "entry_num 0 when nothing was handled");
    n = 1;
    OK_ERR(t_invalidate(fd, nested, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
                        cmds, 16, &n), EOPNOTSUPP,
           "SMMUv3 nested HWPT is not an invalidation target");

    /* DESTROY order */
    OK_ERR(t_destroy(fd, id1), EBUSY, "a device cannot be destroyed");
    OK_ERR(t_destroy(fd, viommu), EBUSY, "vIOMMU with a vDEVICE/nested");
    OK_ERR(t_destroy(fd, nested), EBUSY, "nested HWPT with a device");
    OK_ERR(t_destroy(fd, parent), EBUSY, "parent under a vIOMMU");
    OK_ERR(t_destroy(fd, ioas), EBUSY, "IOAS under HWPTs");
    pt = parent;
    OK_0(t_attach(d1, &pt), "re-attach device 1 to the parent");
    OK_0(t_destroy(fd, nested), "nested HWPT once detached");
    OK_0(t_destroy(fd, vdev), "vDEVICE");
    OK_0(t_destroy(fd, viommu), "vIOMMU");
    OK_ERR(t_destroy(fd, parent), EBUSY, "parent with attached devices");
    OK_0(t_detach(d1) || t_detach(d2), "detach both");
    OK_0(t_destroy(fd, parent), "parent");
    OK_0(t_destroy(fd, plain), "plain HWPT");
    OK_0(t_destroy(fd, ioas), "IOAS last");
    ok(iommufd_sim_live("all") == 3, "only the 3 devices remain");
    close(d1);
    close(d2);
    close(vt);
    close(fd);
    ok(iommufd_sim_live("all") == 0 && iommufd_sim_contexts() == 0,
       "everything released");
}

static void test_vtd_invalidate(void)
{
    int fd = t_iommufd(), dev = t_devfd("iommu=vtd\n");
    uint32_t id = t_bind(dev, fd), ioas = t_ioas(fd), parent, nested, n;
    struct iommu_hwpt_vtd_s1 s1 = { .pgtbl_addr = 0x1000, .addr_width = 48 };
    struct iommu_hwpt_vtd_s1_invalidate e[3] = {
        { .addr = 0x1000, .npages = 1, .flags = IOMMU_VTD_INV_FLAGS_LEAF },
        { .addr = 0x2010, .npages = 1 },
        { .addr = 0, .npages = UINT64_MAX },
    };
    struct iommu_hwpt_invalidate c = { .size = sizeof(c), .entry_num = 2,
                                       .data_type = 0, .entry_len = 24 };
    uint8_t big[32];

    t_hwpt(fd, id, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0, &parent);
    OK_0(t_hwpt(fd, id, parent, 0, IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1),
                &nested), "nested VT-d HWPT");
    c.hwpt_id = nested;
    OK_ERR(ioctl(fd, IOMMU_HWPT_INVALIDATE, &c), EINVAL,
           "entry_num without data_uptr");
    ok(c.entry_num == 0, "entry_num written back as 0");
    n = 3;
    OK_ERR(t_invalidate(fd, nested, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, e,
                        sizeof(e[0]), &n), EINVAL, "unaligned addr");
    ok(n == 1, "stops at the bad entry (%u)", n);
    e[1].addr = 0x2000;
    e[1].flags = 2;
    n = 3;
    OK_ERR(t_invalidate(fd, nested, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, e,
                        sizeof(e[0]), &n), EOPNOTSUPP, "unknown entry flag");
    e[1].flags = 0;
    e[1].__reserved = 1;
    n = 3;
    OK_ERR(t_invalidate(fd, nested, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, e,
                        sizeof(e[0]), &n), EOPNOTSUPP, "entry __reserved");
    e[1].__reserved = 0;
    e[2].addr = 0x1000;
    n = 3;
    OK_ERR(t_invalidate(fd, nested, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, e,
                        sizeof(e[0]), &n), EINVAL, "npages U64_MAX, addr != 0");
    ok(n == 2, "two handled (%u)", n);
    e[2].addr = 0;
    n = 3;
    OK_0(t_invalidate(fd, nested, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, e,
                      sizeof(e[0]), &n), "three valid entries");
    ok(n == 3, "all handled");
    n = 1;
    OK_ERR(t_invalidate(fd, nested, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, e, 16,
                        &n), EINVAL, "entry_len below the struct");
    memset(big, 0, sizeof(big));
    memcpy(big, &e[0], sizeof(e[0]));
    n = 1;
    OK_ERR(t_invalidate(fd, nested, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, big,
                        32, &n), EINVAL, "entry_len above the struct");
    ok(n == 0, "entry_num 0 (%u)", n);
    n = 0;
    OK_0(t_invalidate(fd, nested, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, NULL, 0,
                      &n), "empty array probes the data type");
    n = 1;
    OK_ERR(t_invalidate(fd, parent, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, e,
                        sizeof(e[0]), &n), EINVAL, "paging HWPT");
    n = 1;
    OK_ERR(t_invalidate(fd, 99, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, e,
                        sizeof(e[0]), &n), ENOENT, "missing id");
    close(dev);
    close(fd);
}

static void test_option_dirty(void)
{
    int fd = t_iommufd(), dev = t_devfd("iommu=vtd\n");
    uint32_t id = t_bind(dev, fd), ioas = t_ioas(fd), hwpt;
    struct iommu_option o = { .size = sizeof(o),
                              .option_id = IOMMU_OPTION_HUGE_PAGES,
                              .op = IOMMU_OPTION_OP_GET, .object_id = ioas };
    struct iommu_hwpt_set_dirty_tracking sd = { .size = sizeof(sd),
                                                .flags = 1 };

    OK_0(ioctl(fd, IOMMU_OPTION, &o), "OPTION HUGE_PAGES get");
    ok(o.val64 == 1, "huge pages default on");
    o.option_id = 7;
    OK_ERR(ioctl(fd, IOMMU_OPTION, &o), EOPNOTSUPP, "unknown option");
    t_hwpt(fd, id, ioas, 0, 0, NULL, 0, &hwpt);
    sd.hwpt_id = hwpt;
    OK_ERR(ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd), EOPNOTSUPP,
           "dirty tracking on a HWPT without it");
    sd.flags = 2;
    OK_ERR(ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd), EOPNOTSUPP,
           "unknown dirty flag");
    close(dev);
    close(fd);
}

/*
 * Rules the differential conformance test (tests/e2e/test-conformance.py)
 * found the sim getting wrong against Linux 7.2, one case each.
 */
static void test_conformance_fixes(void)
{
    const uint32_t T = IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3;
    int fd = t_iommufd(), d = t_devfd(SMMU_CFG "smmu_idr1=0x10\n");
    uint32_t id = t_bind(d, fd), ioas = t_ioas(fd), s2, plain, v, vd, h, n, pt;
    uint64_t bypass[2] = { 1 | (4ull << 1), 0 }, abort_[2] = { 1, 0 },
        s1[2] = { 1 | (5ull << 1) | 0x10000, 0 }, cmd[2] = { 0x10, 0 };
    uint8_t *ro = t_alloc(4096), bind[32] = { 0 };
    struct vfio_device_bind_iommufd *b = (void *)bind;
    struct iommu_viommu_alloc va = { .size = sizeof(va), .type = 0xff,
                                     .dev_id = id, .hwpt_id = 999 };
    struct iommu_hwpt_invalidate inv = {
        .size = sizeof(inv), .data_uptr = (uintptr_t)cmd, .data_type = T,
        .entry_len = 16, .entry_num = 1, .__reserved = 1,
    };
    int d2 = t_devfd(SMMU_CFG);

    /* vfio_df_ioctl_bind_iommufd: copy_struct_from_user into 24 bytes */
    b->argsz = sizeof(bind);
    b->iommufd = fd;
    bind[31] = 1;
    OK_ERR(ioctl(d2, VFIO_DEVICE_BIND_IOMMUFD, b), E2BIG,
           "BIND argsz 32 with a non-zero tail");
    /* arm_smmu_domain_alloc_paging_flags: no device PASID check */
    OK_0(t_hwpt(fd, id, ioas, IOMMU_HWPT_ALLOC_PASID, 0, NULL, 0, &h),
         "SMMUv3 PASID paging HWPT, SMMU without SSIDs");
    t_destroy(fd, h);
    /* iommufd_viommu_alloc_ioctl: get_viommu_size before the HWPT */
    OK_ERR(ioctl(fd, IOMMU_VIOMMU_ALLOC, &va), EOPNOTSUPP,
           "vIOMMU type 0xff with a missing HWPT");
    t_hwpt(fd, id, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0, &s2);
    t_hwpt(fd, id, ioas, 0, 0, NULL, 0, &plain);
    t_viommu(fd, id, s2, &v);
    /* iommufd_hwpt_nested_alloc: arm-smmu-v3 has no domain_alloc_nested */
    OK_ERR(t_hwpt(fd, id, plain, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, bypass, 16,
                  NULL), EOPNOTSUPP, "nested on a plain SMMUv3 paging HWPT");
    /* iommufd_hwpt_alloc: FAULT_ID_VALID looks up fault_id (none) */
    OK_ERR(t_hwpt(fd, id, v, IOMMU_HWPT_FAULT_ID_VALID,
                  IOMMU_HWPT_DATA_ARM_SMMUV3, bypass, 16, NULL), ENOENT,
           "nested FAULT_ID_VALID without a FAULT object");
    /* arm_smmu_attach_prepare_vmaster: abort/bypass need no vDEVICE */
    t_hwpt(fd, id, v, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, bypass, 16, &h);
    pt = h;
    OK_0(t_attach(d, &pt), "bypass vSTE attached without a vDEVICE");
    t_hwpt(fd, id, v, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, abort_, 16, &h);
    pt = h;
    OK_0(t_attach(d, &pt), "abort vSTE attached without a vDEVICE");
    t_hwpt(fd, id, v, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, s1, 16, &h);
    pt = h;
    OK_ERR(t_attach(d, &pt), ENOENT, "S1 vSTE without a vDEVICE");
    t_vdevice(fd, v, id, 8, &vd);
    /* iommufd_hwpt_invalidate: __reserved still reports entry_num 0 */
    inv.hwpt_id = v;
    OK_ERR(ioctl(fd, IOMMU_HWPT_INVALIDATE, &inv), EOPNOTSUPP,
           "HWPT_INVALIDATE __reserved");
    ok(inv.entry_num == 0, "  entry_num written back as 0");
    /* iommufd_ucmd_respond: EFAULT over the handler's own errno */
    inv.__reserved = 0;
    cmd[0] = 0x46;
    memcpy(ro, &inv, sizeof(inv));
    mprotect(ro, 4096, PROT_READ);
    OK_ERR(ioctl(fd, IOMMU_HWPT_INVALIDATE, ro), EFAULT,
           "HWPT_INVALIDATE (CMD_SYNC: EIO) reply not writable");
    /* ... and the object a reply cannot name is aborted */
    mprotect(ro, 4096, PROT_READ | PROT_WRITE);
    memset(ro, 0, 4096);
    ((struct iommu_ioas_alloc *)ro)->size = sizeof(struct iommu_ioas_alloc);
    mprotect(ro, 4096, PROT_READ);
    n = iommufd_sim_live("ioas");
    OK_ERR(ioctl(fd, IOMMU_IOAS_ALLOC, ro), EFAULT,
           "IOAS_ALLOC reply not writable");
    ok(iommufd_sim_live("ioas") == n, "  no IOAS left behind");
    close(d2);
    close(d);
    close(fd);
}

/*
 * drivers/iommu/iommufd/device.c:iommufd_device_remove_vdev: unbinding a
 * device destroys its vDEVICE and leaves a tombstone (its object id is
 * taken until the iommufd is closed); the virt_id and the vIOMMU's users
 * count are released (viommu.c:iommufd_vdevice_abort).
 */
static void test_vdevice_unbind(void)
{
    int fd = t_iommufd(), d = t_devfd(SMMU_CFG), d2;
    uint32_t id = t_bind(d, fd), ioas = t_ioas(fd), s2, v, vd, vd2, a, b, id2;
    struct iommu_option o = { .size = sizeof(o),
                              .option_id = IOMMU_OPTION_RLIMIT_MODE,
                              .op = IOMMU_OPTION_OP_SET, .val64 = 1 };

    t_hwpt(fd, id, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0, &s2);
    OK_0(t_viommu(fd, id, s2, &v), "vIOMMU");
    OK_0(t_vdevice(fd, v, id, 0x20, &vd), "vDEVICE virt_id 0x20");
    OK_ERR(t_destroy(fd, v), EBUSY, "vIOMMU busy while the vDEVICE lives");
    close(d);
    ok(iommufd_sim_live("vdevice") == 0, "closing the device destroys it");
    OK_ERR(t_destroy(fd, vd), ENOENT, "its id is gone for DESTROY");
    a = t_ioas(fd);
    b = t_ioas(fd);
    ok(a == id && b == vd + 1,
       "the device's id is reused, the vDEVICE's is a tombstone (%u %u)",
       a, b);
    d2 = t_devfd(SMMU_CFG);
    id2 = t_bind(d2, fd);
    OK_0(t_vdevice(fd, v, id2, 0x20, &vd2),
         "virt_id 0x20 is free again on the vIOMMU");
    ok(vd2 != vd, "the new vDEVICE gets a new id (%u)", vd2);
    OK_0(t_destroy(fd, vd2), "destroy the new vDEVICE");
    OK_0(t_destroy(fd, v), "the vIOMMU is free once its vDEVICEs are gone");
    close(d2);
    OK_0(t_destroy(fd, a) || t_destroy(fd, b) || t_destroy(fd, s2) ||
         t_destroy(fd, ioas), "destroy every object");
    ok(iommufd_sim_live("all") == 0, "no live object, one tombstone");
    if (geteuid() == 0) {
        /* iommufd_option_rlimit_mode: xa_empty() sees the tombstone */
        OK_ERR(ioctl(fd, IOMMU_OPTION, &o), EBUSY,
               "RLIMIT_MODE set with only a tombstone left");
    }
    close(fd);
    ok(iommufd_sim_contexts() == 0, "closing the iommufd drops the context");
}

/*
 * iommufd rules the sim had wrong against Linux 7.2, found while citing the
 * kernel functions (each case failed before the fix).
 */
static void test_citation_fixes(void)
{
    int fd = t_iommufd(), fd2 = t_iommufd(), dv = t_devfd("iommu=vtd\n"),
        ds = t_devfd(SMMU_CFG "instance=5\n");
    uint32_t idv = t_bind(dv, fd), ids = t_bind(ds, fd), ioas = t_ioas(fd),
        ioas2 = t_ioas(fd), h, sparent, vparent;
    uint8_t *buf = t_alloc(8 * MB), *b4 =
        (uint8_t *)(((uintptr_t)buf + 4 * MB - 1) & ~(4 * MB - 1));
    uint64_t iova = 0;
    struct iommu_option o = { .size = sizeof(o),
                              .option_id = IOMMU_OPTION_HUGE_PAGES,
                              .op = 7, .object_id = 999 };
    struct iommu_iova_range r[2] = { { 0x10000, 0x10000 } };
    struct iommu_ioas_allow_iovas al = {
        .size = sizeof(al), .ioas_id = ioas2, .num_iovas = 1,
        .allowed_iovas = (uintptr_t)r };
    struct iommu_ioas_copy cp = { .size = sizeof(cp), .dst_ioas_id = ioas2,
                                  .src_ioas_id = ioas, .length = 4096,
                                  .flags = IOMMU_IOAS_MAP_FIXED_IOVA };
    struct iommu_ioas_map m = { .size = sizeof(m), .ioas_id = ioas,
                                .flags = MAP_RW, .length = 8192,
                                .user_va = UINT64_MAX & ~4095ull };
    struct iommu_hwpt_set_dirty_tracking sd = { .size = sizeof(sd),
                                                .__reserved = 1 };
    struct iommu_hwpt_get_dirty_bitmap gd = { .size = sizeof(gd),
                                              .iova = 0x1000, .length = 1,
                                              .page_size = 4096 };
    struct iommu_hwpt_vtd_s1 s1 = { .addr_width = 48, .pgtbl_addr = 0x1000 };

    /* iommufd_ioas_option: the IOAS lookup comes before the op */
    OK_ERR(ioctl(fd, IOMMU_OPTION, &o), ENOENT,
           "HUGE_PAGES bad op on a missing IOAS");
    o.object_id = ioas;
    o.op = IOMMU_OPTION_OP_SET;
    o.val64 = 0;
    OK_0(ioctl(fd, IOMMU_OPTION, &o), "HUGE_PAGES set 0 on an empty IOAS");
    o.op = IOMMU_OPTION_OP_GET;
    OK_0(ioctl(fd, IOMMU_OPTION, &o), "HUGE_PAGES get");
    ok(o.val64 == 0, "HUGE_PAGES reads back 0 (%llu)",
       (unsigned long long)o.val64);
    o.op = IOMMU_OPTION_OP_SET;
    o.val64 = 1;
    OK_0(ioctl(fd, IOMMU_OPTION, &o), "HUGE_PAGES set 1");
    /* iopt_disable_large_pages: not with a domain and an area */
    OK_0(t_map_fixed(fd, ioas, buf, 4096, 0x1000), "an area");
    OK_0(t_hwpt(fd, idv, ioas, 0, 0, NULL, 0, &h), "and a domain");
    o.val64 = 0;
    OK_ERR(ioctl(fd, IOMMU_OPTION, &o), EINVAL,
           "HUGE_PAGES set 0 with a domain and an area");
    /* iommufd_option_rlimit_mode: per context, EBUSY with objects */
    o.option_id = IOMMU_OPTION_RLIMIT_MODE;
    o.object_id = 0;
    o.val64 = 1;
    if (geteuid() == 0) {
        OK_ERR(ioctl(fd, IOMMU_OPTION, &o), EBUSY,
               "RLIMIT_MODE set on a context with objects");
        OK_0(ioctl(fd2, IOMMU_OPTION, &o), "RLIMIT_MODE set, empty context");
        o.op = IOMMU_OPTION_OP_GET;
        OK_0(ioctl(fd, IOMMU_OPTION, &o), "RLIMIT_MODE get");
        ok(o.val64 == 0, "the other context is not changed (%llu)",
           (unsigned long long)o.val64);
    } else {
        OK_ERR(ioctl(fd, IOMMU_OPTION, &o), EPERM,
               "RLIMIT_MODE set without CAP_SYS_RESOURCE");
        OK_ERR(ioctl(fd2, IOMMU_OPTION, &o), EPERM,
               "RLIMIT_MODE set without CAP_SYS_RESOURCE (2)");
        o.op = IOMMU_OPTION_OP_GET;
        OK_0(ioctl(fd, IOMMU_OPTION, &o), "RLIMIT_MODE get");
        ok(o.val64 == 0, "RLIMIT_MODE reads 0");
    }

    /* iommufd_ioas_load_iovas: start >= last, no alignment rule */
    OK_ERR(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &al), EINVAL,
           "ALLOW_IOVAS start == last");
    r[0].last = 0x10fff + 0x123;
    OK_0(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &al), "an unaligned range");
    /* iopt_set_allow_iova checks the reserved ranges after loading */
    {
        uint32_t pt = ioas2;

        OK_0(t_attach(dv, &pt), "attach, reserving the MSI window");
    }
    r[0] = (struct iommu_iova_range){ 0xfee00000, 0xfee0ffff };
    r[1] = (struct iommu_iova_range){ 0x3000, 0x3000 };
    al.num_iovas = 2;
    OK_ERR(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &al), EINVAL,
           "a reserved range, then a bad one");
    al.num_iovas = 0;
    OK_0(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &al), "allow everything again");
    OK_0(t_detach(dv), "detach");

    /* iommufd_ioas_copy: no READABLE/WRITEABLE is EINVAL */
    cp.src_iova = 0x1000;
    cp.dst_iova = 0x1000;
    OK_ERR(ioctl(fd, IOMMU_IOAS_COPY, &cp), EINVAL,
           "IOAS_COPY without R/W");
    /* iopt_alloc_user_pages: user_va + length overflows */
    OK_ERR(ioctl(fd, IOMMU_IOAS_MAP, &m), EOVERFLOW,
           "MAP user_va + length overflows");
    /* iopt_alloc_iova: alignment capped at HPAGE_SIZE (2 MiB) */
    OK_0(t_map(fd, ioas2, b4, 4 * MB, &iova, MAP_RW), "MAP 4 MiB, any IOVA");
    ok(iova == 2 * MB, "lowest 2 MiB-aligned IOVA (0x%llx)",
       (unsigned long long)iova);

    /* iommufd_hwpt_set_dirty_tracking does not look at __reserved */
    {
        int dd = t_devfd("iommu=vtd\ninstance=2\ndirty=on\n");
        uint32_t idd = t_bind(dd, fd), hd;

        OK_0(t_hwpt(fd, idd, ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, 0, NULL,
                    0, &hd), "dirty-tracking HWPT");
        sd.hwpt_id = hd;
        sd.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
        OK_0(ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd),
             "SET_DIRTY_TRACKING with __reserved set");
        OK_0(t_destroy(fd, hd), "destroy it");
        close(dd);
    }
    /* iommufd_check_iova_range before the dirty ops */
    gd.hwpt_id = h;
    OK_ERR(ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd), EINVAL,
           "GET_DIRTY_BITMAP bad range on a HWPT without dirty ops");

    /* intel_iommu_domain_alloc_*: IOMMU_HWPT_ALLOC_PASID, any device */
    {
        struct iommu_hw_info_vtd vi = { 0 };
        struct iommu_hw_info hi = { .size = sizeof(hi), .dev_id = idv,
                                    .data_len = sizeof(vi),
                                    .data_uptr = (uintptr_t)&vi };
        char cfg[96];
        int dp;
        uint32_t idp, pp;

        OK_0(ioctl(fd, IOMMU_GET_HW_INFO, &hi), "VT-d hw info");
        snprintf(cfg, sizeof(cfg), "iommu=vtd\nvtd_ecap=0x%llx\n",
                 (unsigned long long)(vi.ecap_reg & ~(1ull << 40)));
        dp = t_devfd(cfg);
        idp = t_bind(dp, fd);
        OK_0(t_hwpt(fd, idp, ioas, IOMMU_HWPT_ALLOC_PASID, 0, NULL, 0, &h),
             "VT-d PASID paging HWPT, IOMMU without ecap.PASID");
        OK_0(t_destroy(fd, h), "destroy it");
        OK_0(t_hwpt(fd, idp, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
                    &pp), "VT-d nest parent there");
        OK_0(t_hwpt(fd, idp, pp, IOMMU_HWPT_ALLOC_PASID,
                    IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1), &h),
             "VT-d PASID nested HWPT, IOMMU without ecap.PASID");
        OK_0(t_destroy(fd, h), "destroy it");
        OK_0(t_destroy(fd, pp), "and the parent");
        close(dp);
    }
    OK_0(t_hwpt(fd, idv, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
                &vparent), "VT-d nest parent");
    /* iommufd_hwpt_alloc: FAULT_ID_VALID fails in the fault_id lookup */
    OK_ERR(t_hwpt(fd, idv, vparent, IOMMU_HWPT_FAULT_ID_VALID,
                  IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1), NULL), ENOENT,
           "VT-d nested FAULT_ID_VALID without a FAULT object");
    /* iommufd_hwpt_nested_alloc: parent->common.domain->owner != ops */
    OK_0(t_hwpt(fd, ids, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
                &sparent), "SMMUv3 nest parent");
    OK_ERR(t_hwpt(fd, idv, sparent, 0, IOMMU_HWPT_DATA_VTD_S1, &s1,
                  sizeof(s1), NULL), EINVAL,
           "VT-d nested HWPT on an SMMUv3 parent");
    close(dv);
    close(ds);
    close(fd);
    close(fd2);
}

/*
 * tests/check-citations.py: every errno rule of sim/src names the Linux
 * 7.2 function it models (or is allow-listed).  Found from this source's
 * path, relative to the build directory the test binary lives in.
 */
static void test_citations(void)
{
    char exe[4096], cmd[8192 + 64], line[512];
    const char *src = __FILE__, *slash = strrchr(src, '/');
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    int dirlen = slash ? (int)(slash - src) : 1, status;
    FILE *p;

    if (n <= 0) {
        ok(false, "readlink /proc/self/exe");
        return;
    }
    exe[n] = 0;
    *strrchr(exe, '/') = 0;
    if (src[0] == '/') {
        snprintf(cmd, sizeof(cmd), "python3 '%.*s/check-citations.py' 2>&1",
                 dirlen, slash ? src : ".");
    } else {
        snprintf(cmd, sizeof(cmd), "python3 '%s/%.*s/check-citations.py' 2>&1",
                 exe, dirlen, slash ? src : ".");
    }
    p = popen(cmd, "r");
    if (!p) {
        ok(false, "run %s", cmd);
        return;
    }
    while (fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = 0;
        diag("check-citations: %s", line);
    }
    status = pclose(p);
    ok(status == 0, "every errno rule in sim/src cites Linux 7.2");
}

/* IOVA_RANGES of @ioas into @r (8 slots); the number of ranges. */
static unsigned ranges(int fd, uint32_t ioas, struct iommu_iova_range *r)
{
    struct iommu_ioas_iova_ranges q = {
        .size = sizeof(q), .ioas_id = ioas, .num_iovas = 8,
        .allowed_iovas = (uintptr_t)r,
    };

    return ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &q) ? 0 : q.num_iovas;
}

/*
 * Found by the VT-d half of the conformance test (e2e/conformance.c,
 * vtd.* steps, on the Intel chain's L1): a VT-d paging domain without
 * NEST_PARENT or DIRTY_TRACKING is a first-stage one on a scalable-mode
 * unit with FLTS (drivers/iommu/intel/iommu.c:
 * intel_iommu_domain_alloc_paging_flags prefers
 * intel_iommu_domain_alloc_first_stage), whose sign-extended table gives
 * the IOAS only the lower half: 47 bits on a 48-bit unit
 * (drivers/iommu/generic_pt/iommu_pt.h pt_top_range).
 */
static void test_vtd_fs_aperture(void)
{
    int fd = t_iommufd(), dev = t_devfd("iommu=vtd\n");
    uint32_t d = t_bind(dev, fd), ioas = t_ioas(fd), fs, parent;
    struct iommu_iova_range r[8];

    OK_0(t_hwpt(fd, d, ioas, 0, 0, NULL, 0, &fs), "first-stage paging HWPT");
    ok(ranges(fd, ioas, r) == 1 && r[0].last == (1ull << 47) - 1,
       "its IOAS ends at 47 bits");
    OK_0(t_destroy(fd, fs), "destroy it");
    OK_0(t_hwpt(fd, d, ioas, IOMMU_HWPT_ALLOC_PASID, 0, NULL, 0, &fs),
         "PASID paging HWPT, first stage as well");
    ok(ranges(fd, ioas, r) == 1 && r[0].last == (1ull << 47) - 1,
       "its IOAS ends at 47 bits");
    OK_0(t_destroy(fd, fs), "destroy it");
    OK_0(t_hwpt(fd, d, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
                &parent), "nest parent (second stage)");
    ok(ranges(fd, ioas, r) == 1 && r[0].last == (1ull << 48) - 1,
       "its IOAS ends at 48 bits");
    OK_0(t_destroy(fd, parent), "destroy the parent");
    OK_0(t_destroy(fd, ioas), "destroy the IOAS");
    close(dev);
    close(fd);
}

/*
 * Found by the VT-d half of the conformance test as well: a replacement
 * the driver refuses, within the same IOAS, drops the device's reserved
 * regions from it (drivers/iommu/iommufd/device.c:iommufd_device_do_replace,
 * err_unresv: iommufd_group_remove_reserved_iova), and later replacements
 * in that IOAS do not put them back (iommufd_group_do_replace_reserved_iova
 * only enforces them for another IOAS); a fresh attach does.
 */
static void test_refused_replace_resv(void)
{
    int fd = t_iommufd(), dev = t_devfd("iommu=vtd\n");
    uint32_t d = t_bind(dev, fd), ioas = t_ioas(fd), parent, bad, pt;
    struct iommu_hwpt_vtd_s1 s1 = { .pgtbl_addr = 0x10000, .addr_width = 39 };
    struct iommu_iova_range r[8];
    uint8_t *buf = t_alloc(4096);
    uint64_t n;

    OK_0(t_hwpt(fd, d, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
                &parent), "nest parent");
    OK_0(t_hwpt(fd, d, parent, 0, IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1),
                &bad), "nested HWPT with addr_width 39");
    pt = parent;
    OK_0(t_attach(dev, &pt), "attach the parent");
    ok(ranges(fd, ioas, r) == 2 && r[0].last == 0xfedfffff,
       "the MSI window is reserved");
    pt = bad;
    OK_ERR(t_attach(dev, &pt), EINVAL, "the driver refuses the replacement");
    ok(ranges(fd, ioas, r) == 1, "which dropped the MSI window");
    OK_0(t_map_fixed(fd, ioas, buf, 4096, 0xfee00000),
         "a map into the window succeeds");
    pt = parent;
    OK_0(t_attach(dev, &pt), "attaching the parent again is a no-op");
    ok(ranges(fd, ioas, r) == 1, "and does not reserve it again");
    OK_0(t_detach(dev), "detach");
    pt = parent;
    OK_ERR(t_attach(dev, &pt), EADDRINUSE,
           "a fresh attach enforces the window, over the map");
    OK_0(t_unmap(fd, ioas, 0xfee00000, 4096, &n), "unmap");
    pt = parent;
    OK_0(t_attach(dev, &pt), "then attaches");
    ok(ranges(fd, ioas, r) == 2 && r[1].start == 0xfef00000,
       "with the window reserved");
    OK_0(t_detach(dev), "detach");
    OK_0(t_destroy(fd, bad), "destroy the nested HWPT");
    OK_0(t_destroy(fd, parent), "destroy the parent");
    OK_0(t_destroy(fd, ioas), "destroy the IOAS");
    close(dev);
    close(fd);
}

int main(void)
{
    test_ids_and_sizes();
    test_map_unmap();
    test_copy_ranges();
    test_hw_info();
    test_hwpt_alloc();
    test_vtd_s1_attach();
    test_paging_flags();
    test_smmu();
    test_vtd_invalidate();
    test_option_dirty();
    test_conformance_fixes();
    test_vdevice_unbind();
    test_citation_fixes();
    test_vtd_fs_aperture();
    test_refused_replace_resv();
    test_citations();
    ok(iommufd_sim_live("all") == 0, "no objects leaked by the tests");
    return tap_done();
}
