/*
 * iommufd-sim: the VFIO cdev device (vfio-pci surface): bind/attach, info
 * ioctls, interrupts, config space and region read/write.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sim.h"

#define PCI_COMMAND_IO      0x1
#define PCI_COMMAND_MEMORY  0x2
#define PCI_COMMAND_MASTER  0x4
#define PCI_COMMAND_WMASK   0x0547  /* IO MEM BM PERR SERR INTx-disable */
#define MSI_CAP             0x40
#define MSI_CAP_SIZE        14      /* 64-bit address, no masking */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* A type-0 header, BAR0 32-bit memory, an MSI capability, INTA#. */
static void config_init(SimDevice *dev)
{
    uint8_t *c = dev->config;

    memset(c, 0, sizeof(dev->config));
    put16(c + 0x00, dev->cfg.vendor);
    put16(c + 0x02, dev->cfg.device);
    put16(c + 0x06, dev->cfg.msi ? 0x0010 : 0);     /* capability list */
    c[0x08] = 0x01;                                 /* revision */
    c[0x0a] = 0x80;                                 /* other system */
    c[0x0b] = 0x08;                                 /*   peripheral */
    put16(c + 0x2c, dev->cfg.vendor);               /* subsystem */
    put16(c + 0x2e, dev->cfg.device);
    c[0x3d] = 0x01;                                 /* INTA# */
    if (dev->cfg.msi) {
        c[0x34] = MSI_CAP;
        c[MSI_CAP] = 0x05;                          /* MSI */
        c[MSI_CAP + 1] = 0x00;                      /* last capability */
        put16(c + MSI_CAP + 2, 0x0080);             /* 64-bit, 1 vector */
    }
    dev->bar0_raw = 0;
}

/* Write mask of a config byte (what a guest may change). */
static uint8_t config_wmask(const SimDevice *dev, unsigned off)
{
    if (off == 0x04) {
        return PCI_COMMAND_WMASK & 0xff;
    }
    if (off == 0x05) {
        return PCI_COMMAND_WMASK >> 8;
    }
    if (off == 0x0c || off == 0x0d || off == 0x3c) {
        return 0xff;            /* cache line, latency, interrupt line */
    }
    if (dev->cfg.msi && off >= MSI_CAP + 2 && off < MSI_CAP + MSI_CAP_SIZE) {
        if (off == MSI_CAP + 2) {
            return 0x71;        /* enable, multiple message enable */
        }
        return off == MSI_CAP + 3 ? 0 : 0xff;
    }
    return 0;
}

static uint8_t config_read8(const SimDevice *dev, unsigned off)
{
    if (off >= 0x10 && off < 0x14) {
        uint32_t v = dev->bar0_raw & ~(dev->cfg.bar0_size - 1) & ~0xfu;

        return (uint8_t)(v >> ((off - 0x10) * 8));
    }
    return dev->config[off];
}

static void config_write8(SimDevice *dev, unsigned off, uint8_t val)
{
    if (off >= 0x10 && off < 0x14) {
        unsigned shift = (off - 0x10) * 8;

        dev->bar0_raw &= ~(0xffu << shift);
        dev->bar0_raw |= (uint32_t)val << shift;
        return;
    }
    {
        uint8_t m = config_wmask(dev, off);

        dev->config[off] = (uint8_t)((dev->config[off] & ~m) | (val & m));
    }
}

bool sim_dev_bus_master(const SimDevice *dev)
{
    return dev->config[0x04] & PCI_COMMAND_MASTER;
}

SimDevice *sim_device_new(dev_t d, ino_t i, const char *cfgtext, int *err)
{
    SimDevice *dev = calloc(1, sizeof(*dev));
    char msg[128];

    if (!dev) {
        *err = -ENOMEM;
        return NULL;
    }
    *err = sim_cfg_parse(&dev->cfg, cfgtext, msg, sizeof(msg));
    if (*err) {
        sim_log("device config error: %s", msg);
        fprintf(stderr, "iommufd-sim: device config error: %s\n", msg);
        free(dev);
        return NULL;
    }
    /*
     * The physical StreamID (firmware's, IORT on a real host): by default
     * 0x100 for the first device the process opens, then 0x101, ...
     */
    if (!dev->cfg.sid_set) {
        static uint32_t next_sid = 0x100;

        dev->cfg.sid = next_sid++;
    }
    if (dev->cfg.iommu == SIM_IOMMU_SMMUV3) {
        sim_log("device %s: SMMUv3 instance %u StreamID 0x%x", dev->cfg.name,
                dev->cfg.instance, dev->cfg.sid);
    }
    dev->st_dev = d;
    dev->st_ino = i;
    dev->irq_type = IRQ_NONE;
    dev->intx_fd = dev->msi_fd = dev->err_fd = dev->req_fd = -1;
    config_init(dev);
    sim_dma_reset(dev);
    return dev;
}

/* ---- interrupts ---- */
static void put_efd(int *fd)
{
    if (*fd >= 0) {
        syscall(SYS_close, *fd);
        *fd = -1;
    }
}

/*
 * eventfd_ctx_fdget() as
 * drivers/vfio/pci/vfio_pci_intrs.c:vfio_pci_set_ctx_trigger_single and
 * the INTx/MSI triggers call it: EBADF for a closed fd, EINVAL if not an
 * eventfd.  We keep our own duplicate,
 * as the kernel keeps a reference.
 */
static int get_efd(int32_t fd, int *out)
{
    char path[64], link[64];
    ssize_t n;
    long dup;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    n = readlink(path, link, sizeof(link) - 1);
    if (n < 0) {
        return -EBADF;
    }
    link[n] = 0;
    if (strcmp(link, "anon_inode:[eventfd]")) {
        return -EINVAL;
    }
    dup = syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
        return -errno;
    }
    *out = (int)dup;
    return 0;
}

void sim_signal_eventfd(int fd)
{
    uint64_t one = 1;

    if (fd >= 0 && syscall(SYS_write, fd, &one, sizeof(one)) != sizeof(one)) {
        sim_log("warning: eventfd %d signal failed", fd);
    }
}

static void irqs_off(SimDevice *dev)
{
    put_efd(&dev->intx_fd);
    put_efd(&dev->msi_fd);
    dev->irq_type = IRQ_NONE;
    dev->intx_masked = false;
}

/*
 * ERR and REQ: a single trigger eventfd,
 * drivers/vfio/pci/vfio_pci_intrs.c:vfio_pci_set_err_trigger /
 * vfio_pci_set_req_trigger and vfio_pci_set_ctx_trigger_single (DATA_NONE
 * needs an eventfd; DATA_NONE and DATA_BOOL with count 1 are loopback
 * triggers).  @fds holds the eventfd or the bool.
 */
static int set_single(int *slot, uint32_t flags, uint32_t start,
                      uint32_t count, const int32_t *fds)
{
    if (start != 0 || count > 1) {
        return -EINVAL;
    }
    if (flags & VFIO_IRQ_SET_DATA_NONE) {
        if (*slot < 0) {
            return -EINVAL;
        }
        if (count) {
            sim_signal_eventfd(*slot);
        } else {
            put_efd(slot);
        }
        return 0;
    }
    if (flags & VFIO_IRQ_SET_DATA_BOOL) {
        if (!count) {
            return -EINVAL;
        }
        if (fds[0] && *slot >= 0) {
            sim_signal_eventfd(*slot);
        }
        return 0;
    }
    if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
        int nfd, ret;

        if (!count) {
            return -EINVAL;
        }
        if (fds[0] == -1) {
            put_efd(slot);
            return 0;
        }
        if (fds[0] < 0) {
            return -EINVAL;
        }
        ret = get_efd(fds[0], &nfd);
        if (ret) {
            return ret;
        }
        put_efd(slot);
        *slot = nfd;
        return 0;
    }
    return -EINVAL;
}

/*
 * INTx and MSI triggers, with the irq_type exclusivity of vfio-pci:
 * drivers/vfio/pci/vfio_pci_intrs.c:vfio_pci_set_intx_trigger and
 * vfio_pci_set_msi_trigger (a subset: README).
 */
static int set_trigger(SimDevice *dev, int index, uint32_t flags,
                       uint32_t start, uint32_t count, const int32_t *fds)
{
    int *slot = index == VFIO_PCI_INTX_IRQ_INDEX ? &dev->intx_fd : &dev->msi_fd;
    int nfd, ret;

    if (dev->irq_type == index && !count && (flags & VFIO_IRQ_SET_DATA_NONE)) {
        irqs_off(dev);
        return 0;
    }
    if ((dev->irq_type != index && dev->irq_type != IRQ_NONE) ||
        start != 0 || count != 1) {
        return -EINVAL;
    }
    if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
        if (fds[0] == -1 && dev->irq_type == index) {
            put_efd(slot);
            return 0;
        }
        if (fds[0] < 0) {
            return -EINVAL;
        }
        ret = get_efd(fds[0], &nfd);
        if (ret) {
            return ret;
        }
        put_efd(slot);
        *slot = nfd;
        dev->irq_type = index;
        return 0;
    }
    if (dev->irq_type != index) {
        return -EINVAL;
    }
    if (flags & VFIO_IRQ_SET_DATA_NONE) {
        sim_signal_eventfd(*slot);      /* loopback trigger */
        return 0;
    }
    return -EINVAL;
}

static int irq_count(const SimDevice *dev, unsigned index)
{
    switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
        return 1;
    case VFIO_PCI_MSI_IRQ_INDEX:
        return dev->cfg.msi ? 1 : 0;
    case VFIO_PCI_ERR_IRQ_INDEX:
    case VFIO_PCI_REQ_IRQ_INDEX:
        return 1;
    default:
        return 0;               /* no MSI-X capability */
    }
}

/*
 * drivers/vfio/pci/vfio_pci_core.c:vfio_pci_ioctl_set_irqs: the header
 * rules of drivers/vfio/vfio_main.c:vfio_set_irqs_validate_and_prepare,
 * then the per-index handlers of vfio_pci_intrs.c:vfio_pci_set_irqs_ioctl
 * (no handler is ENOTTY).
 */
static long set_irqs(SimDevice *dev, uint64_t arg)
{
    const size_t minsz = offsetof(struct vfio_irq_set, count) + 4;
    struct vfio_irq_set hdr;
    int32_t fds[1] = { -1 };
    uint32_t action, dtype;
    int max, ret;

    if ((ret = sim_copy_from_user(&hdr, arg, minsz))) {
        return ret;
    }
    if (hdr.argsz < minsz || hdr.index >= SIM_NUM_IRQS ||
        hdr.count >= UINT32_MAX - hdr.start ||
        (hdr.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK |
                       VFIO_IRQ_SET_ACTION_TYPE_MASK))) {
        return -EINVAL;
    }
    dtype = hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    action = hdr.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    if (dtype != VFIO_IRQ_SET_DATA_NONE && dtype != VFIO_IRQ_SET_DATA_BOOL &&
        dtype != VFIO_IRQ_SET_DATA_EVENTFD) {
        return -EINVAL;
    }
    max = irq_count(dev, hdr.index);
    if (hdr.start >= (uint32_t)max || hdr.start + hdr.count > (uint32_t)max) {
        return -EINVAL;
    }
    if (dtype != VFIO_IRQ_SET_DATA_NONE) {
        size_t sz = dtype == VFIO_IRQ_SET_DATA_BOOL ? 1 : 4;

        if (hdr.argsz - minsz < hdr.count * sz) {
            return -EINVAL;
        }
        if (dtype == VFIO_IRQ_SET_DATA_EVENTFD && hdr.count &&
            (ret = sim_copy_from_user(fds, arg + minsz, sizeof(fds[0])))) {
            return ret;
        }
        if (dtype == VFIO_IRQ_SET_DATA_BOOL && hdr.count) {
            uint8_t b;

            if ((ret = sim_copy_from_user(&b, arg + minsz, 1))) {
                return ret;
            }
            fds[0] = b;
        }
    }
    switch (hdr.index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
        if (action == VFIO_IRQ_SET_ACTION_TRIGGER) {
            return set_trigger(dev, hdr.index, hdr.flags, hdr.start,
                               hdr.count, fds);
        }
        if (action == VFIO_IRQ_SET_ACTION_MASK ||
            action == VFIO_IRQ_SET_ACTION_UNMASK) {
            if (dev->irq_type != VFIO_PCI_INTX_IRQ_INDEX ||
                hdr.start != 0 || hdr.count != 1) {
                return -EINVAL;
            }
            dev->intx_masked = action == VFIO_IRQ_SET_ACTION_MASK;
            return 0;
        }
        return -ENOTTY;
    case VFIO_PCI_MSI_IRQ_INDEX:
        if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
            return -ENOTTY;
        }
        return set_trigger(dev, hdr.index, hdr.flags, hdr.start, hdr.count,
                           fds);
    case VFIO_PCI_ERR_IRQ_INDEX:
    case VFIO_PCI_REQ_IRQ_INDEX:
        if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
            return -ENOTTY;
        }
        return set_single(hdr.index == VFIO_PCI_ERR_IRQ_INDEX ?
                          &dev->err_fd : &dev->req_fd,
                          hdr.flags, hdr.start, hdr.count, fds);
    default:
        return -ENOTTY;         /* MSI-X: no vectors, refused above */
    }
}

/* ---- info ioctls ---- */
/*
 * drivers/vfio/pci/vfio_pci_core.c:vfio_pci_ioctl_get_info writes back
 * min(argsz, sizeof(info)) bytes (cap_offset 0: no capabilities).
 */
static long get_info(SimDevice *dev, uint64_t arg)
{
    struct vfio_device_info info;
    const size_t minsz = offsetof(struct vfio_device_info, num_irqs) + 4;
    int ret = sim_copy_from_user(&info, arg, minsz);

    (void)dev;
    if (ret) {
        return ret;
    }
    if (info.argsz < minsz) {
        return -EINVAL;
    }
    info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
    info.num_regions = SIM_NUM_REGIONS;
    info.num_irqs = SIM_NUM_IRQS;
    info.cap_offset = 0;
    info.pad = 0;
    return sim_copy_to_user(arg, &info, info.argsz < sizeof(info) ?
                            info.argsz : sizeof(info));
}

/*
 * drivers/vfio/vfio_main.c:vfio_get_region_info (minsz, argsz) and
 * drivers/vfio/pci/vfio_pci_core.c:vfio_pci_ioctl_get_region_info (index
 * beyond the regions EINVAL, empty BARs size 0 flags 0, the VGA index
 * EINVAL unless has_vga, which vfio_pci_core_enable sets only for a
 * PCI_CLASS_DISPLAY_VGA device: the sim's is class 0x08).
 */
static long get_region_info(SimDevice *dev, uint64_t arg)
{
    struct vfio_region_info info;
    const size_t minsz = offsetof(struct vfio_region_info, offset) + 8;
    int ret = sim_copy_from_user(&info, arg, minsz);

    if (ret) {
        return ret;
    }
    if (info.argsz < minsz || info.index >= SIM_NUM_REGIONS ||
        info.index == VFIO_PCI_VGA_REGION_INDEX) {
        return -EINVAL;
    }
    info.offset = (uint64_t)info.index << SIM_REGION_SHIFT;
    info.cap_offset = 0;
    info.size = 0;
    info.flags = 0;
    if (info.index == VFIO_PCI_CONFIG_REGION_INDEX) {
        info.size = SIM_CFG_SIZE;
        info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    } else if (info.index == VFIO_PCI_BAR0_REGION_INDEX) {
        /* no MMAP flag: every access must reach the simulator */
        info.size = dev->cfg.bar0_size;
        info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
    }
    return sim_copy_to_user(arg, &info, minsz);
}

/*
 * drivers/vfio/pci/vfio_pci_core.c:vfio_pci_ioctl_get_irq_info (the ERR
 * index answers as for a PCIe device: README).
 */
static long get_irq_info(SimDevice *dev, uint64_t arg)
{
    struct vfio_irq_info info;
    const size_t minsz = offsetof(struct vfio_irq_info, count) + 4;
    int ret = sim_copy_from_user(&info, arg, minsz);

    if (ret) {
        return ret;
    }
    if (info.argsz < minsz || info.index >= SIM_NUM_IRQS) {
        return -EINVAL;
    }
    info.flags = VFIO_IRQ_INFO_EVENTFD;
    if (info.index == VFIO_PCI_INTX_IRQ_INDEX) {
        info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    } else {
        info.flags |= VFIO_IRQ_INFO_NORESIZE;
    }
    info.count = (uint32_t)irq_count(dev, info.index);
    return sim_copy_to_user(arg, &info, minsz);
}

/*
 * drivers/vfio/vfio_main.c:vfio_ioctl_device_feature: header rules, then
 * ENOTTY for every feature (no migration or DMA logging ops, and
 * vfio_pci_core.c:vfio_pci_core_ioctl_feature knows no other one the sim
 * offers).
 */
static long device_feature(uint64_t arg)
{
    struct vfio_device_feature f;
    const size_t minsz = offsetof(struct vfio_device_feature, flags) + 4;
    int ret = sim_copy_from_user(&f, arg, minsz);

    if (ret) {
        return ret;
    }
    if (f.argsz < minsz ||
        (f.flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET |
                     VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE))) {
        return -EINVAL;
    }
    if (!(f.flags & VFIO_DEVICE_FEATURE_PROBE) &&
        (f.flags & VFIO_DEVICE_FEATURE_SET) &&
        (f.flags & VFIO_DEVICE_FEATURE_GET)) {
        return -EINVAL;
    }
    return -ENOTTY;             /* no migration, no dirty logging, ... */
}

/* ---- bind / attach ---- */
/* Linux 7.2's struct (24 bytes since 6.17 added token_uuid_ptr) */
#define BIND_KERNEL_SIZE ((uint32_t)sizeof(struct vfio_device_bind_iommufd))
/* VFIO_DEVICE_BIND_FLAG_TOKEN (Linux 6.17), token_uuid_ptr at offset 16 */
#define SIM_BIND_FLAG_TOKEN (1u << 0)

static long bind_iommufd(SimDevice *dev, uint64_t arg)
{
    struct vfio_device_bind_iommufd bind;
    const size_t minsz = offsetof(struct vfio_device_bind_iommufd, out_devid)
                         + 4;
    SimCtx *ctx;
    SimObj *obj;
    int ret = sim_copy_from_user(&bind, arg, minsz);

    if (ret) {
        return ret;
    }
    if (bind.argsz < minsz) {
        return -EINVAL;
    }
    /*
     * drivers/vfio/device_cdev.c:vfio_df_ioctl_bind_iommufd reads argsz
     * bytes with copy_struct_from_user into its struct, which Linux 6.17
     * grew by token_uuid_ptr (24 bytes): a longer argsz needs a zero tail.
     */
    for (uint32_t off = BIND_KERNEL_SIZE; off < bind.argsz; off++) {
        uint8_t b;

        ret = sim_copy_from_user(&b, arg + off, 1);
        if (ret) {
            return ret;
        }
        if (b) {
            return -E2BIG;
        }
    }
    if ((bind.flags & ~SIM_BIND_FLAG_TOKEN) || bind.iommufd < 0 || dev->ctx) {
        return -EINVAL;
    }
    /*
     * drivers/vfio/device_cdev.c:vfio_df_check_token reads the VF token
     * (EFAULT) and
     * drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_match_token_uuid
     * refuses one for a device that is neither a PF nor a VF (EINVAL).
     */
    if (bind.flags & SIM_BIND_FLAG_TOKEN) {
        uint64_t uuid_ptr = 0;
        uint8_t uuid[16];

        if (bind.argsz >= BIND_KERNEL_SIZE &&
            (ret = sim_copy_from_user(&uuid_ptr, arg + 16, 8))) {
            return ret;
        }
        ret = sim_copy_from_user(uuid, uuid_ptr, sizeof(uuid));
        return ret ? ret : -EINVAL;
    }
    ctx = sim_shim_ctx_of_fd(bind.iommufd, &ret);
    if (!ctx) {
        return ret;
    }
    obj = sim_obj_alloc(ctx, OBJ_DEVICE);
    if (!obj) {
        return -ENOMEM;
    }
    obj->dev = dev;
    dev->ctx = ctx;
    dev->devid = obj->id;
    ctx->nbound++;
    bind.out_devid = obj->id;
    ret = sim_copy_to_user(arg + offsetof(struct vfio_device_bind_iommufd,
                                          out_devid), &bind.out_devid, 4);
    if (ret) {
        sim_device_unbind(dev);
    }
    return ret;
}

void sim_device_unbind(SimDevice *dev)
{
    SimCtx *ctx = dev->ctx;
    SimObj *vd;

    if (!ctx) {
        return;
    }
    /*
     * drivers/iommu/iommufd/device.c:iommufd_device_remove_vdev (the
     * device's pre_destroy at unbind) destroys a live vDEVICE and leaves a
     * tombstone: its object id stays taken (DESTROY says ENOENT) until the
     * iommufd is closed, while its virt_id and its vIOMMU users count are
     * released (viommu.c:iommufd_vdevice_abort).
     */
    while ((vd = sim_vdevice_of(ctx, 0, dev->devid))) {
        sim_log("warning: device %u unbound with live vDEVICE %u "
                "(destroyed, id %u stays a tombstone)", dev->devid, vd->id,
                vd->id);
        sim_count("warn.unbind_with_vdevice", 1);
        sim_obj_tombstone(ctx, vd);
    }
    sim_dev_detach(dev);
    {
        SimObj *o = sim_obj_get(ctx, dev->devid, OBJ_DEVICE);

        if (o) {
            sim_obj_free(ctx, o);
        }
    }
    dev->ctx = NULL;
    dev->devid = 0;
    ctx->nbound--;
    sim_ctx_maybe_release(ctx);
}

void sim_device_release(SimDevice *dev)
{
    sim_device_unbind(dev);
    irqs_off(dev);
    put_efd(&dev->err_fd);
    put_efd(&dev->req_fd);
    free(dev);
}

/*
 * drivers/vfio/device_cdev.c:vfio_df_ioctl_attach_pt (any flag, including
 * VFIO_DEVICE_ATTACH_PASID, is EINVAL here: README), then
 * drivers/iommu/iommufd/device.c:iommufd_device_attach/_replace.
 */
static long attach_pt(SimDevice *dev, uint64_t arg)
{
    struct vfio_device_attach_iommufd_pt at;
    const size_t minsz = offsetof(struct vfio_device_attach_iommufd_pt, pt_id)
                         + 4;
    int ret = sim_copy_from_user(&at, arg, minsz);

    if (ret) {
        return ret;
    }
    if (at.argsz < minsz || at.flags) {
        return -EINVAL;
    }
    sim_log("vfio ATTACH(%s) pt_id=0x%x (was 0x%x)", dev->cfg.name, at.pt_id,
            dev->attached);
    ret = sim_dev_attach(dev, &at.pt_id);
    if (ret) {
        return ret;
    }
    return sim_copy_to_user(arg + offsetof(struct vfio_device_attach_iommufd_pt,
                                           pt_id), &at.pt_id, 4);
}

/*
 * drivers/vfio/device_cdev.c:vfio_df_ioctl_detach_pt: detaching a device
 * that is not attached is fine.
 */
static long detach_pt(SimDevice *dev, uint64_t arg)
{
    struct vfio_device_detach_iommufd_pt dt;
    const size_t minsz = sizeof(dt);
    int ret = sim_copy_from_user(&dt, arg, minsz);

    if (ret) {
        return ret;
    }
    if (dt.argsz < minsz || dt.flags) {
        return -EINVAL;
    }
    sim_dev_detach(dev);
    return 0;
}

static const struct { unsigned long req; const char *name; } vfio_names[] = {
    { VFIO_DEVICE_BIND_IOMMUFD, "BIND" },
    { VFIO_DEVICE_ATTACH_IOMMUFD_PT, "ATTACH" },
    { VFIO_DEVICE_DETACH_IOMMUFD_PT, "DETACH" },
    { VFIO_DEVICE_GET_INFO, "GET_INFO" },
    { VFIO_DEVICE_GET_REGION_INFO, "GET_REGION_INFO" },
    { VFIO_DEVICE_GET_IRQ_INFO, "GET_IRQ_INFO" },
    { VFIO_DEVICE_SET_IRQS, "SET_IRQS" },
    { VFIO_DEVICE_RESET, "RESET" },
    { VFIO_DEVICE_FEATURE, "FEATURE" },
};

static long vfio_dispatch(SimDevice *dev, unsigned long req, uint64_t arg)
{
    /*
     * drivers/vfio/vfio_main.c:vfio_device_fops_unl_ioctl: nothing but
     * BIND before access is granted (EINVAL); unknown ioctls end in
     * drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_ioctl (ENOTTY).
     */
    if (req == VFIO_DEVICE_BIND_IOMMUFD) {
        return bind_iommufd(dev, arg);
    }
    if (!dev->ctx) {
        return -EINVAL;
    }
    switch (req) {
    case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
        return attach_pt(dev, arg);
    case VFIO_DEVICE_DETACH_IOMMUFD_PT:
        return detach_pt(dev, arg);
    case VFIO_DEVICE_GET_INFO:
        return get_info(dev, arg);
    case VFIO_DEVICE_GET_REGION_INFO:
        return get_region_info(dev, arg);
    case VFIO_DEVICE_GET_IRQ_INFO:
        return get_irq_info(dev, arg);
    case VFIO_DEVICE_SET_IRQS:
        return set_irqs(dev, arg);
    case VFIO_DEVICE_RESET:
        /*
         * like an FLR: command register and the engine go back to reset
         * (hardware, not the reset method choice of
         * drivers/vfio/pci/vfio_pci_core.c:vfio_pci_ioctl_reset: README)
         */
        dev->config[0x04] &= ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
                               PCI_COMMAND_MASTER);
        sim_dma_reset(dev);
        return 0;
    case VFIO_DEVICE_FEATURE:
        return device_feature(arg);
    default:
        return -ENOTTY;
    }
}

long sim_vfio_ioctl(SimDevice *dev, unsigned long req, uint64_t arg)
{
    const char *name = NULL;
    char cname[48];
    long ret;

    for (size_t i = 0; i < sizeof(vfio_names) / sizeof(vfio_names[0]); i++) {
        if (vfio_names[i].req == req) {
            name = vfio_names[i].name;
        }
    }
    snprintf(cname, sizeof(cname), "ioctl.%s", name ? name : "vfio_unknown");
    sim_count(cname, 1);
    sim_count("ioctl.total", 1);
    if (name && (ret = sim_fail_check(name))) {
        return ret;
    }
    ret = vfio_dispatch(dev, req, arg);
    if (ret) {
        sim_log("vfio %s(%s) 0x%lx -> -%s", name ? name : "?", dev->cfg.name,
                req, sim_errname((int)-ret));
    } else {
        sim_log("vfio %s(%s) -> 0", name ? name : "?", dev->cfg.name);
    }
    return ret;
}

/* ---- region access ---- */
/*
 * drivers/vfio/pci/vfio_pci_config.c:vfio_pci_config_rw_single: an access
 * that does not fit in the config space is EFAULT (not truncated).
 */
static ssize_t config_rw(SimDevice *dev, uint64_t buf, size_t n, uint64_t pos,
                         bool write)
{
    uint8_t tmp[SIM_CFG_SIZE];
    int ret;

    if (pos >= SIM_CFG_SIZE || n > SIM_CFG_SIZE - pos) {
        return -EFAULT;
    }
    if (write) {
        if ((ret = sim_copy_from_user(tmp, buf, n))) {
            return ret;
        }
        for (size_t i = 0; i < n; i++) {
            config_write8(dev, (unsigned)(pos + i), tmp[i]);
        }
        return (ssize_t)n;
    }
    for (size_t i = 0; i < n; i++) {
        tmp[i] = config_read8(dev, (unsigned)(pos + i));
    }
    ret = sim_copy_to_user(buf, tmp, n);
    return ret ? ret : (ssize_t)n;
}

/*
 * BAR0: drivers/vfio/pci/vfio_pci_rdwr.c:vfio_pci_bar_rw (beyond the BAR
 * EINVAL, truncated to its end), split like vfio_pci_core_do_io_rw into
 * naturally aligned chunks; memory decode off is EIO there too.
 */
static ssize_t bar_rw(SimDevice *dev, uint64_t buf, size_t n, uint64_t pos,
                      bool write)
{
    size_t done = 0;

    if (pos >= dev->cfg.bar0_size) {
        return -EINVAL;
    }
    if (!(dev->config[0x04] & PCI_COMMAND_MEMORY)) {
        return -EIO;            /* memory decode disabled */
    }
    if (n > dev->cfg.bar0_size - pos) {
        n = dev->cfg.bar0_size - pos;
    }
    while (done < n) {
        uint64_t off = pos + done, val = 0;
        unsigned sz = (n - done >= 8 && !(off % 8)) ? 8 :
                      (n - done >= 4 && !(off % 4)) ? 4 :
                      (n - done >= 2 && !(off % 2)) ? 2 : 1;
        int ret;

        if (write) {
            if ((ret = sim_copy_from_user(&val, buf + done, sz))) {
                return done ? (ssize_t)done : ret;
            }
            sim_dma_write(dev, off, sz, val);
        } else {
            val = sim_dma_read(dev, off, sz);
            if ((ret = sim_copy_to_user(buf + done, &val, sz))) {
                return done ? (ssize_t)done : ret;
            }
        }
        done += sz;
    }
    return (ssize_t)n;
}

/*
 * drivers/vfio/vfio_main.c:vfio_device_fops_read/write (EINVAL before
 * BIND), drivers/vfio/pci/vfio_pci_core.c:vfio_pci_rw (index); an empty
 * BAR is EINVAL in vfio_pci_bar_rw, the VGA region without has_vga in
 * drivers/vfio/pci/vfio_pci_rdwr.c:vfio_pci_vga_rw.
 */
static ssize_t region_rw(SimDevice *dev, uint64_t buf, size_t n, off_t off,
                         bool write)
{
    uint64_t index = (uint64_t)off >> SIM_REGION_SHIFT;
    uint64_t pos = (uint64_t)off & ((1ull << SIM_REGION_SHIFT) - 1);

    if (!dev->ctx) {
        return -EINVAL;         /* access is granted by BIND */
    }
    if (off < 0 || index >= SIM_NUM_REGIONS) {
        return -EINVAL;
    }
    sim_count(write ? "region.writes" : "region.reads", 1);
    if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
        return config_rw(dev, buf, n, pos, write);
    }
    if (index == VFIO_PCI_BAR0_REGION_INDEX) {
        return bar_rw(dev, buf, n, pos, write);
    }
    return -EINVAL;             /* empty region */
}

ssize_t sim_vfio_pread(SimDevice *dev, uint64_t buf, size_t n, off_t off)
{
    return region_rw(dev, buf, n, off, false);
}

ssize_t sim_vfio_pwrite(SimDevice *dev, uint64_t buf, size_t n, off_t off)
{
    return region_rw(dev, buf, n, off, true);
}
