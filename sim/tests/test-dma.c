/*
 * iommufd-sim: the DMA engine through stage 2 only: copy/fill/read/write,
 * faults, bus-master gating, dirty tracking and MSI on completion.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testlib.h"

#define IOVA 0x100000ull
#define LEN (64 * 1024)

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != v) {
            return false;
        }
    }
    return true;
}

static void test_s2(void)
{
    int fd = t_iommufd(), dev = t_devfd("iommu=vtd\n");
    uint32_t ioas = t_ioas(fd), pt = ioas, st;
    uint8_t *buf = t_alloc(LEN), *ro = t_alloc(4096);
    uint64_t iova = IOVA + LEN;

    t_bind(dev, fd);
    t_enable(dev);
    ok(t_dma(dev, SIMDEV_OP_FILL, 0, IOVA, 16) & SIMDEV_STATUS_ERROR &&
       t_reg(dev, SIMDEV_REG_FAULT_CODE) == SIM_FAULT_BLOCKED &&
       t_reg(dev, SIMDEV_REG_DOMAIN_KIND) == SIMDEV_DOMAIN_BLOCKED,
       "no domain: DMA is blocked");
    OK_0(t_attach(dev, &pt), "attach to the IOAS");
    ok(t_reg(dev, SIMDEV_REG_ATTACHED_PT) == pt &&
       t_reg(dev, SIMDEV_REG_DOMAIN_KIND) == SIMDEV_DOMAIN_S2,
       "ATTACHED_PT and DOMAIN_KIND report the auto domain");
    OK_0(t_map_fixed(fd, ioas, buf, LEN, IOVA), "map the buffer");
    OK_0(t_map(fd, ioas, ro, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
               IOMMU_IOAS_MAP_READABLE), "map a read-only page");
    t_wreg(dev, SIMDEV_REG_PATTERN, 0xa5a5a5a5);
    st = t_dma(dev, SIMDEV_OP_FILL, 0, IOVA + 100, 8000);
    ok(st == SIMDEV_STATUS_DONE && all_bytes(buf + 100, 8000, 0xa5) &&
       buf[99] == 0 && buf[8100] == 0, "fill through stage 2 (status %x)", st);
    t_wreg(dev, SIMDEV_REG_PATTERN, 0x04030201);
    t_dma(dev, SIMDEV_OP_FILL, 0, IOVA, 8);
    ok(buf[0] == 1 && buf[1] == 2 && buf[3] == 4 && buf[4] == 1,
       "pattern is little-endian");
    st = t_dma(dev, SIMDEV_OP_COPY, IOVA + 100, IOVA + 0x8000, 8000);
    ok(st == SIMDEV_STATUS_DONE && all_bytes(buf + 0x8000, 8000, 0xa5),
       "copy through stage 2");
    memcpy(buf + 0x3000, "hello, dma", 10);
    st = t_dma(dev, SIMDEV_OP_READ, IOVA + 0x3000, 0, 10);
    ok(st == SIMDEV_STATUS_DONE && t_reg(dev, SIMDEV_REG_DATA) ==
       *(uint32_t *)"hell", "read into the data window");
    t_wreg(dev, SIMDEV_REG_DATA, 0xdeadbeef);
    st = t_dma(dev, SIMDEV_OP_WRITE, 0, IOVA + 0x5000, 4);
    ok(st == SIMDEV_STATUS_DONE && *(uint32_t *)(buf + 0x5000) == 0xdeadbeef,
       "write from the data window");
    st = t_dma(dev, SIMDEV_OP_FILL, 0, IOVA + LEN - 8, 4096);
    ok((st & SIMDEV_STATUS_ERROR) &&
       t_reg(dev, SIMDEV_REG_FAULT_CODE) == SIM_FAULT_S2_PERM &&
       t_reg64(dev, SIMDEV_REG_FAULT_ADDR) == IOVA + LEN &&
       (t_reg(dev, SIMDEV_REG_FAULT_INFO) & 3) == 2 &&
       (t_reg(dev, SIMDEV_REG_FAULT_INFO) & SIMDEV_FINFO_WRITE) &&
       t_reg(dev, SIMDEV_REG_BYTES_DONE) == 8,
       "write into a read-only area faults at stage 2 after 8 bytes");
    t_wreg(dev, SIMDEV_REG_STATUS, SIMDEV_STATUS_ERROR | SIMDEV_STATUS_DONE);
    ok(t_reg(dev, SIMDEV_REG_STATUS) == 0, "STATUS is write-1-to-clear");
    st = t_dma(dev, SIMDEV_OP_COPY, 0x40000000, IOVA, 4);
    ok((st & SIMDEV_STATUS_ERROR) &&
       t_reg(dev, SIMDEV_REG_FAULT_CODE) == SIM_FAULT_S2_UNMAPPED &&
       t_reg64(dev, SIMDEV_REG_FAULT_ADDR) == 0x40000000,
       "unmapped source faults");
    st = t_dma(dev, SIMDEV_OP_PROBE, IOVA + 0x1234, 0, 0);
    ok(st == SIMDEV_STATUS_DONE &&
       t_reg64(dev, SIMDEV_REG_LAST_XLATE) == IOVA + 0x1234,
       "probe: LAST_XLATE is the IPA (= IOVA without stage 1)");
    st = t_dma(dev, 77, 0, 0, 0);
    ok((st & SIMDEV_STATUS_ERROR) &&
       t_reg(dev, SIMDEV_REG_FAULT_CODE) == SIMDEV_ERR_BAD_OP, "bad op");
    st = t_dma(dev, SIMDEV_OP_READ, IOVA, 0, 4096);
    ok(st & SIMDEV_STATUS_ERROR, "READ longer than the data window");
    t_cfg_write16(dev, 4, 0x2);
    st = t_dma(dev, SIMDEV_OP_FILL, 0, IOVA, 4);
    ok((st & SIMDEV_STATUS_ERROR) &&
       t_reg(dev, SIMDEV_REG_FAULT_CODE) == SIM_FAULT_BLOCKED,
       "bus master off blocks DMA");
    t_enable(dev);
    OK_0(t_unmap(fd, ioas, IOVA, LEN, NULL), "unmap");
    st = t_dma(dev, SIMDEV_OP_FILL, 0, IOVA, 4);
    ok(t_reg(dev, SIMDEV_REG_FAULT_CODE) == SIM_FAULT_S2_UNMAPPED,
       "stage 2 is never cached: DMA after UNMAP faults");
    t_wreg(dev, SIMDEV_REG_CTRL, SIMDEV_CTRL_RESET);
    ok(t_reg(dev, SIMDEV_REG_STATUS) == 0 &&
       t_reg(dev, SIMDEV_REG_FAULT_CODE) == 0, "CTRL.RESET clears the engine");
    close(dev);
    close(fd);
    munmap(buf, LEN);
    munmap(ro, 4096);
}

static void test_dirty_msi(void)
{
    int fd = t_iommufd(), dev = t_devfd("iommu=vtd\ndirty=on\n");
    int e = eventfd(0, EFD_NONBLOCK);
    uint32_t id = t_bind(dev, fd), ioas = t_ioas(fd), hwpt;
    uint8_t *buf = t_alloc(LEN);
    uint64_t bitmap[2] = { 0 }, cnt = 0;
    struct iommu_hwpt_set_dirty_tracking sd = { .size = sizeof(sd),
                                                .flags = 1 };
    struct iommu_hwpt_get_dirty_bitmap gd = { .size = sizeof(gd),
                                              .iova = IOVA, .length = LEN,
                                              .page_size = 4096,
                                              .data = (uintptr_t)bitmap };
    struct { struct vfio_irq_set s; int32_t fd; } irq = {
        .s = { .argsz = sizeof(irq), .index = VFIO_PCI_MSI_IRQ_INDEX,
               .flags = VFIO_IRQ_SET_DATA_EVENTFD |
                        VFIO_IRQ_SET_ACTION_TRIGGER, .count = 1 }, .fd = e };

    OK_0(t_hwpt(fd, id, ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, 0, NULL, 0,
                &hwpt), "dirty-tracking HWPT");
    OK_0(t_attach(dev, &hwpt), "attach");
    t_map_fixed(fd, ioas, buf, LEN, IOVA);
    t_enable(dev);
    sd.hwpt_id = gd.hwpt_id = hwpt;
    t_dma(dev, SIMDEV_OP_FILL, 0, IOVA, 16);
    OK_0(ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd), "bitmap, tracking off");
    ok(bitmap[0] == 0, "nothing dirty while tracking is off");
    OK_0(ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd), "tracking on");
    t_dma(dev, SIMDEV_OP_FILL, 0, IOVA + 0x1ff0, 0x20);
    t_dma(dev, SIMDEV_OP_COPY, IOVA, IOVA + 0x9000, 16);
    gd.flags = IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR;
    OK_0(ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd), "bitmap, no clear");
    ok(bitmap[0] == ((1ull << 1) | (1ull << 2) | (1ull << 9)),
       "DMA writes are dirty, reads are not (0x%llx)",
       (unsigned long long)bitmap[0]);
    bitmap[0] = 0;
    gd.flags = 0;
    gd.page_size = 8192;
    OK_0(ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd), "bitmap, 8K pages");
    ok(bitmap[0] == ((1ull << 0) | (1ull << 1) | (1ull << 4)),
       "8K granularity (0x%llx)", (unsigned long long)bitmap[0]);
    bitmap[0] = 0;
    gd.page_size = 4096;
    OK_0(ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd), "bitmap after clear");
    ok(bitmap[0] == 0, "reading cleared the dirty bits");
    gd.iova = IOVA + 100;
    OK_ERR(ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd), EINVAL,
           "unaligned bitmap iova");
    gd.iova = IOVA;
    gd.page_size = 0;
    OK_ERR(ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd), EINVAL, "page_size 0");

    OK_0(ioctl(dev, VFIO_DEVICE_SET_IRQS, &irq), "MSI eventfd");
    t_wreg(dev, SIMDEV_REG_CTRL, SIMDEV_CTRL_MSI);
    t_dma(dev, SIMDEV_OP_FILL, 0, IOVA, 16);
    ok(read(e, &cnt, 8) == 8 && cnt == 1, "MSI signalled on completion");
    t_wreg(dev, SIMDEV_REG_CTRL, 0);
    t_dma(dev, SIMDEV_OP_FILL, 0, IOVA, 16);
    ok(read(e, &cnt, 8) == -1 && errno == EAGAIN, "no MSI without CTRL.MSI");
    close(dev);
    OK_0(t_destroy(fd, hwpt), "destroy the HWPT after the device closed");
    close(fd);
    close(e);
    munmap(buf, LEN);
}

int main(void)
{
    test_s2();
    test_dirty_msi();
    return tap_done();
}
