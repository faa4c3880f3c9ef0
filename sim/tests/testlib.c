/*
 * iommufd-sim: helpers for the unit tests.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testlib.h"

bool is_err(int ret, int err)
{
    if (ret == -1 && errno == err) {
        return true;
    }
    diag("expected errno %d (%s), got ret %d errno %d (%s)", err,
         strerror(err), ret, errno, strerror(errno));
    return false;
}

static void die(const char *what)
{
    printf("Bail out! %s: %s\n", what, strerror(errno));
    exit(2);
}

int t_iommufd(void)
{
    int fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        die("open /dev/iommu");
    }
    return fd;
}

int t_devfd(const char *cfg)
{
    static int n;
    char name[64];
    int fd;

    snprintf(name, sizeof(name), "iommufd-sim-vfio-%d", n++);
    fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0 || write(fd, cfg, strlen(cfg)) != (ssize_t)strlen(cfg)) {
        die("device memfd");
    }
    return fd;
}

uint32_t t_bind(int devfd, int iommufd)
{
    struct vfio_device_bind_iommufd b = { .argsz = sizeof(b),
                                          .iommufd = iommufd };

    if (ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &b)) {
        die("bind");
    }
    return b.out_devid;
}

int t_attach(int devfd, uint32_t *pt_id)
{
    struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a),
                                               .pt_id = *pt_id };
    int ret = ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);

    *pt_id = a.pt_id;
    return ret;
}

int t_detach(int devfd)
{
    struct vfio_device_detach_iommufd_pt d = { .argsz = sizeof(d) };

    return ioctl(devfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);
}

uint32_t t_ioas(int fd)
{
    struct iommu_ioas_alloc a = { .size = sizeof(a) };

    if (ioctl(fd, IOMMU_IOAS_ALLOC, &a)) {
        die("IOAS_ALLOC");
    }
    return a.out_ioas_id;
}

int t_map(int fd, uint32_t ioas, void *va, uint64_t len, uint64_t *iova,
          uint32_t flags)
{
    struct iommu_ioas_map m = { .size = sizeof(m), .flags = flags,
                                .ioas_id = ioas,
                                .user_va = (uintptr_t)va, .length = len,
                                .iova = iova ? *iova : 0 };
    int ret = ioctl(fd, IOMMU_IOAS_MAP, &m);

    if (iova) {
        *iova = m.iova;
    }
    return ret;
}

int t_map_fixed(int fd, uint32_t ioas, void *va, uint64_t len, uint64_t iova)
{
    return t_map(fd, ioas, va, len, &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
                 IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE);
}

int t_unmap(int fd, uint32_t ioas, uint64_t iova, uint64_t len,
            uint64_t *unmapped)
{
    struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas,
                                  .iova = iova, .length = len };
    int ret = ioctl(fd, IOMMU_IOAS_UNMAP, &u);

    if (unmapped) {
        *unmapped = u.length;
    }
    return ret;
}

int t_hwpt(int fd, uint32_t dev, uint32_t pt, uint32_t flags, uint32_t type,
           const void *data, uint32_t len, uint32_t *out)
{
    struct iommu_hwpt_alloc a = { .size = sizeof(a), .flags = flags,
                                  .dev_id = dev, .pt_id = pt,
                                  .data_type = type, .data_len = len,
                                  .data_uptr = (uintptr_t)data };
    int ret = ioctl(fd, IOMMU_HWPT_ALLOC, &a);

    if (out) {
        *out = a.out_hwpt_id;
    }
    return ret;
}

int t_destroy(int fd, uint32_t id)
{
    struct iommu_destroy d = { .size = sizeof(d), .id = id };

    return ioctl(fd, IOMMU_DESTROY, &d);
}

int t_viommu(int fd, uint32_t dev, uint32_t hwpt, uint32_t *out)
{
    struct iommu_viommu_alloc a = { .size = sizeof(a),
                                    .type = IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
                                    .dev_id = dev, .hwpt_id = hwpt };
    int ret = ioctl(fd, IOMMU_VIOMMU_ALLOC, &a);

    if (out) {
        *out = a.out_viommu_id;
    }
    return ret;
}

int t_vdevice(int fd, uint32_t viommu, uint32_t dev, uint64_t virt,
              uint32_t *out)
{
    struct iommu_vdevice_alloc a = { .size = sizeof(a), .viommu_id = viommu,
                                     .dev_id = dev, .virt_id = virt };
    int ret = ioctl(fd, IOMMU_VDEVICE_ALLOC, &a);

    if (out) {
        *out = a.out_vdevice_id;
    }
    return ret;
}

int t_invalidate(int fd, uint32_t id, uint32_t type, const void *data,
                 uint32_t entry_len, uint32_t *num)
{
    struct iommu_hwpt_invalidate c = { .size = sizeof(c), .hwpt_id = id,
                                       .data_uptr = (uintptr_t)data,
                                       .data_type = type,
                                       .entry_len = entry_len,
                                       .entry_num = *num };
    int ret = ioctl(fd, IOMMU_HWPT_INVALIDATE, &c);

    *num = c.entry_num;
    return ret;
}

void *t_alloc(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        die("mmap");
    }
    return p;
}

uint16_t t_cfg_read16(int devfd, unsigned off)
{
    uint16_t v = 0;

    if (pread(devfd, &v, 2, (off_t)(CFG_OFF + off)) != 2) {
        die("config read");
    }
    return v;
}

void t_cfg_write16(int devfd, unsigned off, uint16_t val)
{
    if (pwrite(devfd, &val, 2, (off_t)(CFG_OFF + off)) != 2) {
        die("config write");
    }
}

void t_enable(int devfd)
{
    t_cfg_write16(devfd, 0x04, t_cfg_read16(devfd, 0x04) | 0x6);
}

uint32_t t_reg(int devfd, unsigned off)
{
    uint32_t v = 0;

    if (pread(devfd, &v, 4, (off_t)(BAR0_OFF + off)) != 4) {
        die("BAR0 read");
    }
    return v;
}

uint64_t t_reg64(int devfd, unsigned off)
{
    uint64_t v = 0;

    if (pread(devfd, &v, 8, (off_t)(BAR0_OFF + off)) != 8) {
        die("BAR0 read");
    }
    return v;
}

void t_wreg(int devfd, unsigned off, uint32_t val)
{
    if (pwrite(devfd, &val, 4, (off_t)(BAR0_OFF + off)) != 4) {
        die("BAR0 write");
    }
}

void t_wreg64(int devfd, unsigned off, uint64_t val)
{
    if (pwrite(devfd, &val, 8, (off_t)(BAR0_OFF + off)) != 8) {
        die("BAR0 write");
    }
}

uint32_t t_dma(int devfd, uint32_t op, uint64_t src, uint64_t dst,
               uint32_t len)
{
    t_wreg64(devfd, SIMDEV_REG_SRC, src);
    t_wreg64(devfd, SIMDEV_REG_DST, dst);
    t_wreg(devfd, SIMDEV_REG_LEN, len);
    t_wreg(devfd, SIMDEV_REG_OP, op);
    t_wreg(devfd, SIMDEV_REG_DOORBELL, 1);
    return t_reg(devfd, SIMDEV_REG_STATUS);
}

static uint8_t *gram;
static uint64_t gram_ipa, gram_next;

void t_gram_set(uint8_t *buf, uint64_t ipa)
{
    gram = buf;
    gram_ipa = ipa;
    gram_next = 0;
}

uint64_t galloc(uint64_t size)
{
    uint64_t ipa = gram_ipa + gram_next;

    gram_next += size;
    return ipa;
}

void gw64(uint64_t ipa, uint64_t v)
{
    memcpy(gram + (ipa - gram_ipa), &v, 8);
}

uint64_t gr64(uint64_t ipa)
{
    uint64_t v;

    memcpy(&v, gram + (ipa - gram_ipa), 8);
    return v;
}

uint64_t arm_entry(uint64_t ttb, uint64_t va)
{
    uint64_t table = ttb;

    for (int l = 0; l < 3; l++) {
        uint64_t e = table + ((va >> (39 - 9 * l)) & 511) * 8;

        if (!(gr64(e) & 1)) {
            gw64(e, galloc(4096) | 3);
        }
        table = gr64(e) & 0x0000fffffffff000ull;
    }
    return table + ((va >> 12) & 511) * 8;
}
