/*
 * iommufd-sim: VFIO cdev device surface (bind, attach/detach, info,
 * interrupts, config space, regions, fd lifetime).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testlib.h"

static void test_bind(void)
{
    int fd = t_iommufd(), dev = t_devfd("iommu=vtd\n"), p[2];
    struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = fd,
                                          .flags = 1 };
    struct vfio_device_info info = { .argsz = sizeof(info) };
    uint8_t byte;

    OK_ERR(ioctl(dev, VFIO_DEVICE_GET_INFO, &info), EINVAL,
           "GET_INFO before BIND");
    OK_ERR(pread(dev, &byte, 1, 7ll << 40), EINVAL, "pread before BIND");
    /*
     * drivers/vfio/device_cdev.c:vfio_df_check_token: flag 1 is
     * VFIO_DEVICE_BIND_FLAG_TOKEN, the UUID is read first (token_uuid_ptr
     * 0: EFAULT), then refused for a device
     * that is neither a PF nor a VF (EINVAL); the sim said EINVAL at once.
     */
    OK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), EFAULT,
           "BIND FLAG_TOKEN without a token");
    {
        uint8_t uuid[16] = { 1 };
        struct vfio_device_bind_iommufd bt = b;

        bt.argsz = sizeof(bt);
        bt.token_uuid_ptr = (uintptr_t)uuid;
        OK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bt), EINVAL,
               "BIND FLAG_TOKEN for a device that is not a PF/VF");
    }
    b.flags = 2;
    OK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), EINVAL,
           "BIND unknown flag");
    b.flags = 0;
    b.argsz = 8;
    OK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), EINVAL, "BIND argsz");
    b.argsz = sizeof(b);
    b.iommufd = -1;
    OK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), EINVAL, "BIND fd -1");
    if (pipe(p)) {
        return;
    }
    b.iommufd = p[0];
    OK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), EBADFD,
           "BIND to a non-iommufd fd");
    b.iommufd = 999;
    OK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), EBADF,
           "BIND to a closed fd");
    b.iommufd = fd;
    OK_0(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), "BIND");
    ok(b.out_devid == 1, "out_devid is the first id (%u)", b.out_devid);
    OK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), EINVAL, "BIND twice");
    close(p[0]);
    close(p[1]);
    close(dev);
    ok(iommufd_sim_live("device") == 0, "closing the device unbinds it");
    close(fd);
}

static void test_info(void)
{
    int fd = t_iommufd(), dev = t_devfd("iommu=vtd\nvendor=0x8086\n"
                                        "device=0x1234\nbar0_size=0x4000\n");
    struct vfio_device_info info = { .argsz = sizeof(info) };
    struct vfio_region_info r = { .argsz = sizeof(r) };
    struct vfio_irq_info irq = { .argsz = sizeof(irq) };
    struct vfio_device_feature f = { .argsz = sizeof(f),
                                     .flags = VFIO_DEVICE_FEATURE_PROBE |
                                              VFIO_DEVICE_FEATURE_GET |
                                              VFIO_DEVICE_FEATURE_MIGRATION };
    uint32_t cnt[5];
    void *m;

    t_bind(dev, fd);
    OK_0(ioctl(dev, VFIO_DEVICE_GET_INFO, &info), "GET_INFO");
    ok((info.flags & VFIO_DEVICE_FLAGS_PCI) &&
       (info.flags & VFIO_DEVICE_FLAGS_RESET) && info.num_regions >= 9 &&
       info.num_irqs >= 5, "PCI|RESET, 9 regions, 5 irqs");
    info.argsz = 8;
    OK_ERR(ioctl(dev, VFIO_DEVICE_GET_INFO, &info), EINVAL, "GET_INFO argsz");
    r.index = VFIO_PCI_CONFIG_REGION_INDEX;
    OK_0(ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &r), "config region");
    ok(r.size == 256 && r.offset == 7ull << 40 &&
       (r.flags & VFIO_REGION_INFO_FLAG_READ), "config: 256 bytes at 7<<40");
    r.index = VFIO_PCI_BAR0_REGION_INDEX;
    OK_0(ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &r), "BAR0 region");
    ok(r.size == 0x4000 && r.offset == 0 &&
       r.flags == (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE),
       "BAR0: sized from config, RW, no MMAP");
    r.index = 2;
    OK_0(ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &r), "BAR2 region");
    ok(r.size == 0 && r.offset == 2ull << 40, "BAR2 is empty");
    /* vfio_pci_ioctl_get_region_info: no VGA region without has_vga */
    r.index = VFIO_PCI_VGA_REGION_INDEX;
    r.size = 0x1234;
    OK_ERR(ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &r), EINVAL,
           "VGA region of a non-VGA device (class 0x08)");
    ok(r.size == 0x1234, "  nothing written back");
    {
        uint8_t b;

        OK_ERR(pread(dev, &b, 1, (uint64_t)VFIO_PCI_VGA_REGION_INDEX << 40 |
                     0xa0000), EINVAL, "VGA region read (vfio_pci_vga_rw)");
    }
    r.index = 9;
    OK_ERR(ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &r), EINVAL,
           "region index 9");
    for (unsigned i = 0; i < 5; i++) {
        irq.index = i;
        cnt[i] = ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &irq) ? 99 : irq.count;
    }
    ok(cnt[0] == 1 && cnt[1] == 1 && cnt[2] == 0 && cnt[3] == 1 &&
       cnt[4] == 1, "IRQs: INTx 1, MSI 1, MSI-X 0, ERR 1, REQ 1");
    irq.index = 5;
    OK_ERR(ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &irq), EINVAL, "irq index 5");
    OK_ERR(ioctl(dev, VFIO_DEVICE_FEATURE, &f), ENOTTY, "migration feature");
    f.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET;
    OK_ERR(ioctl(dev, VFIO_DEVICE_FEATURE, &f), EINVAL, "GET|SET feature");
    OK_ERR(ioctl(dev, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &f), ENOTTY,
           "other ioctls");
    OK_0(ioctl(dev, VFIO_DEVICE_RESET), "RESET");

    ok(t_cfg_read16(dev, 0) == 0x8086 && t_cfg_read16(dev, 2) == 0x1234,
       "vendor/device from the config");
    ok((t_cfg_read16(dev, 6) & 0x10) && t_cfg_read16(dev, 0x34) == 0x40 &&
       (t_cfg_read16(dev, 0x40) & 0xff) == 0x05 &&
       (t_cfg_read16(dev, 0x3c) >> 8) == 1, "MSI capability, INTA#");
    t_cfg_write16(dev, 0x10, 0xffff);
    t_cfg_write16(dev, 0x12, 0xffff);
    ok(t_cfg_read16(dev, 0x10) == 0xc000 && t_cfg_read16(dev, 0x12) == 0xffff,
       "BAR0 sizing reads back the 16K mask");
    t_cfg_write16(dev, 0x00, 0x1111);
    ok(t_cfg_read16(dev, 0) == 0x8086, "vendor id is read-only");
    OK_ERR(pread(dev, cnt, 4, 0), EIO, "BAR0 read with memory disabled");
    t_enable(dev);
    ok(t_reg(dev, SIMDEV_REG_ID) == SIMDEV_ID_VALUE &&
       t_reg(dev, SIMDEV_REG_VERSION) == SIMDEV_VERSION_VALUE, "BAR0 ID");
    OK_ERR(pread(dev, cnt, 4, 0x4000), EINVAL, "read past BAR0");
    OK_ERR(pread(dev, cnt, 4, 3ll << 40), EINVAL, "read of an empty BAR");
    m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, dev, 0);
    ok(m == MAP_FAILED && errno == EINVAL, "mmap of BAR0 refused (EINVAL)");
    m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    ok(m == MAP_FAILED && errno == ENODEV, "mmap of iommufd refused (ENODEV)");
    close(dev);
    close(fd);
}

static int set_irq(int dev, unsigned index, uint32_t flags, uint32_t count,
                   int32_t efd)
{
    struct { struct vfio_irq_set s; int32_t fd; } a = {
        .s = { .argsz = sizeof(a), .flags = flags, .index = index,
               .start = 0, .count = count }, .fd = efd };

    return ioctl(dev, VFIO_DEVICE_SET_IRQS, &a);
}

static void test_irqs(void)
{
    int fd = t_iommufd(), dev = t_devfd("iommu=vtd\n"), e = eventfd(0, 0);
    const uint32_t EFD = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
    const uint32_t OFF = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;

    t_bind(dev, fd);
    OK_0(set_irq(dev, VFIO_PCI_REQ_IRQ_INDEX, EFD, 1, e), "REQ eventfd");
    OK_ERR(set_irq(dev, VFIO_PCI_REQ_IRQ_INDEX, EFD, 1, fd), EINVAL,
           "REQ with a non-eventfd");
    OK_ERR(set_irq(dev, VFIO_PCI_REQ_IRQ_INDEX, EFD, 1, 999), EBADF,
           "REQ with a closed fd");
    OK_0(set_irq(dev, VFIO_PCI_INTX_IRQ_INDEX, EFD, 1, e), "INTx eventfd");
    OK_0(set_irq(dev, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
                 VFIO_IRQ_SET_ACTION_UNMASK, 1, -1), "INTx unmask");
    OK_ERR(set_irq(dev, VFIO_PCI_MSI_IRQ_INDEX, EFD, 1, e), EINVAL,
           "MSI while INTx is enabled");
    OK_0(set_irq(dev, VFIO_PCI_INTX_IRQ_INDEX, OFF, 0, -1), "INTx off");
    OK_0(set_irq(dev, VFIO_PCI_MSI_IRQ_INDEX, EFD, 1, e), "MSI eventfd");
    OK_ERR(set_irq(dev, VFIO_PCI_MSI_IRQ_INDEX, EFD, 2, e), EINVAL,
           "MSI count beyond the vectors");
    OK_ERR(set_irq(dev, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
                   VFIO_IRQ_SET_ACTION_MASK, 1, -1), ENOTTY, "MSI mask");
    OK_ERR(set_irq(dev, VFIO_PCI_MSI_IRQ_INDEX, EFD | (1u << 6), 1, e),
           EINVAL, "unknown SET_IRQS flag");
    OK_ERR(set_irq(dev, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
                   VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, 1,
                   -1), EINVAL, "two data types");
    OK_0(set_irq(dev, VFIO_PCI_MSI_IRQ_INDEX, OFF, 0, -1), "MSI off");
    OK_ERR(set_irq(dev, VFIO_PCI_MSIX_IRQ_INDEX, EFD, 1, e), EINVAL,
           "MSI-X has no vectors");
    close(dev);
    close(fd);
    close(e);
}

static void test_attach(void)
{
    int fd = t_iommufd(), d0 = t_devfd("iommu=vtd\n"),
        d1 = t_devfd("iommu=vtd\ninstance=1\n"), d0b;
    uint32_t id0 = t_bind(d0, fd), id1 = t_bind(d1, fd), ioas = t_ioas(fd);
    uint32_t pt, auto0, auto1, hw0;
    struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a), .flags = 1,
                                               .pt_id = ioas };
    struct vfio_device_detach_iommufd_pt dt = { .argsz = sizeof(dt),
                                                .flags = 1 };

    OK_0(t_detach(d0), "DETACH when not attached");
    OK_ERR(ioctl(d0, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), EINVAL,
           "ATTACH flags");
    OK_ERR(ioctl(d0, VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt), EINVAL,
           "DETACH flags");
    pt = 99;
    OK_ERR(t_attach(d0, &pt), ENOENT, "ATTACH to a missing id");
    pt = id1;
    OK_ERR(t_attach(d0, &pt), EINVAL, "ATTACH to a device id");
    auto0 = ioas;
    OK_0(t_attach(d0, &auto0), "ATTACH to the IOAS");
    ok(auto0 != ioas && auto0 > id1, "an auto domain id is returned (%u)",
       auto0);
    OK_ERR(t_destroy(fd, auto0), EBUSY, "auto domain in use");
    auto1 = ioas;
    OK_0(t_attach(d1, &auto1), "second instance attaches to the IOAS");
    ok(auto1 != auto0, "it gets its own auto domain (%u)", auto1);
    pt = auto0;
    OK_ERR(t_attach(d1, &pt), EINVAL, "a HWPT of another instance");
    t_hwpt(fd, id0, ioas, 0, 0, NULL, 0, &hw0);
    OK_0(t_attach(d0, &hw0), "replace the auto domain by a HWPT");
    ok(iommufd_sim_live("hwpt_paging") == 2, "the unused auto domain is gone");
    d0b = dup(d0);
    close(d0);
    OK_0(t_detach(d0b), "dup'd fd shares the bound device");
    pt = ioas;
    OK_0(t_attach(d0b, &pt), "and can attach");
    ok(pt == auto1 + 1 || pt == auto0, "auto domain id reused (%u)", pt);
    close(d0b);
    ok(iommufd_sim_live("device") == 1, "last close of the dup unbinds");
    close(d1);
    ok(iommufd_sim_live("hwpt_paging") == 1, "only the explicit HWPT is left");
    OK_0(t_destroy(fd, hw0), "destroy it");
    OK_0(t_destroy(fd, ioas), "and the IOAS");
    close(fd);
    ok(iommufd_sim_live("all") == 0, "nothing left");
}

/* Hot-plug style: the iommufd is closed before the device. */
static void test_lifetime(void)
{
    int fd = t_iommufd(), dev = t_devfd("iommu=vtd\n");
    uint32_t ioas = t_ioas(fd), pt = ioas;

    t_bind(dev, fd);
    t_attach(dev, &pt);
    close(fd);
    ok(iommufd_sim_contexts() == 1, "a bound device keeps the context");
    close(dev);
    ok(iommufd_sim_contexts() == 0, "released with the device");
}

/*
 * VFIO rules the sim had wrong against Linux 7.2, found while citing the
 * kernel functions (each case failed before the fix).
 */
static void test_citation_fixes(void)
{
    int fd = t_iommufd(), dev = t_devfd("iommu=vtd\n"),
        e = eventfd(0, EFD_NONBLOCK);
    const uint32_t NONE = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
    struct { struct vfio_irq_set s; uint8_t b; } bl = {
        .s = { .argsz = sizeof(bl), .index = VFIO_PCI_REQ_IRQ_INDEX,
               .flags = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
               .count = 1 }, .b = 1 };
    struct vfio_irq_set st = { .argsz = sizeof(st), .flags = NONE,
                               .index = VFIO_PCI_INTX_IRQ_INDEX, .start = 1 };
    struct vfio_device_info info = { .argsz = sizeof(info), .cap_offset = 7 };
    uint8_t cfg[4];
    uint64_t cnt = 0;

    t_bind(dev, fd);
    /* vfio_set_irqs_validate_and_prepare: start >= the vector count */
    OK_ERR(set_irq(dev, VFIO_PCI_MSIX_IRQ_INDEX, NONE, 0, -1), EINVAL,
           "MSI-X DATA_NONE count 0 (no vectors)");
    OK_ERR(ioctl(dev, VFIO_DEVICE_SET_IRQS, &st), EINVAL,
           "INTx start 1 count 0");
    /* vfio_pci_set_ctx_trigger_single */
    OK_ERR(set_irq(dev, VFIO_PCI_ERR_IRQ_INDEX, NONE, 1, -1), EINVAL,
           "ERR loopback trigger without an eventfd");
    OK_ERR(set_irq(dev, VFIO_PCI_REQ_IRQ_INDEX, NONE, 0, -1), EINVAL,
           "REQ release without an eventfd");
    OK_0(set_irq(dev, VFIO_PCI_REQ_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD |
                 VFIO_IRQ_SET_ACTION_TRIGGER, 1, e), "REQ eventfd");
    OK_0(ioctl(dev, VFIO_DEVICE_SET_IRQS, &bl), "REQ DATA_BOOL loopback");
    ok(read(e, &cnt, sizeof(cnt)) == sizeof(cnt) && cnt == 1,
       "the bool trigger signals the eventfd (%llu)",
       (unsigned long long)cnt);
    /* vfio_pci_config_rw_single: no truncation at the end */
    OK_ERR(pread(dev, cfg, 4, (7ll << 40) + 254), EFAULT,
           "config read across the end");
    OK_ERR(pread(dev, cfg, 1, (7ll << 40) + 256), EFAULT,
           "config read beyond the end");
    /* vfio_pci_ioctl_get_info writes min(argsz, sizeof(info)) */
    OK_0(ioctl(dev, VFIO_DEVICE_GET_INFO, &info), "GET_INFO, full struct");
    ok(info.cap_offset == 0, "cap_offset written back 0 (%u)",
       info.cap_offset);
    close(dev);
    close(fd);
    close(e);
}

int main(void)
{
    test_bind();
    test_info();
    test_irqs();
    test_attach();
    test_lifetime();
    test_citation_fixes();
    return tap_done();
}
