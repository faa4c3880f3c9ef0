/*
 * conformance: a fixed list of iommufd and VFIO cdev sequences on one
 * VFIO device behind an SMMUv3 or, with the steps named vtd.*, behind an
 * Intel VT-d (chosen by what GET_HW_INFO reports after the common VFIO
 * and size steps), printing one canonical line per step, so
 * that a run on the real kernel (inside L1) and a run on the simulator
 * (natively, LD_PRELOAD) can be compared line by line.
 *
 * Usage: conformance /dev/vfio/devices/vfioN
 *        conformance sim:CONFIG    (the simulator: the device is a memfd
 *                                   "iommufd-sim-vfio-conf" holding CONFIG)
 *
 * Line format:  conf: NNN <step>: <errno name or 0>[ key=value ...]
 * Object ids are renamed after the step that created them (o<step>), so
 * the two runs compare even if raw ids differ and one object more or less
 * on one side does not renumber the rest.  Every step prints exactly one
 * line whatever the results; "END <n>" ends a complete run.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

/* SMMUv3 command opcodes (byte 0 of the first command word). */
enum {
    OP_PREFETCH_CFG = 0x01, OP_CFGI_STE = 0x03, OP_CFGI_ALL = 0x04,
    OP_CFGI_CD = 0x05, OP_CFGI_CD_ALL = 0x06, OP_TLBI_NH_ALL = 0x10,
    OP_TLBI_NH_ASID = 0x11, OP_TLBI_NH_VA = 0x12, OP_TLBI_NH_VAA = 0x13,
    OP_TLBI_EL2_ALL = 0x20, OP_TLBI_S12_VMALL = 0x28, OP_TLBI_S2_IPA = 0x2a,
    OP_TLBI_NSNH_ALL = 0x30, OP_ATC_INV = 0x40, OP_PRI_RESP = 0x41,
    OP_RESUME = 0x44, OP_SYNC = 0x46,
};

#define VSID 8u
#define BADID 0xdeadu

static const char *devarg;
static int ifd = -1, dfd = -1;
static unsigned nstep;
static long pagesz;

/* ---- output ---- */
static const char *ename(int e)
{
    static char buf[16];
    static const struct { int e; const char *n; } t[] = {
        { 0, "0" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EIO, "EIO" },
        { ENXIO, "ENXIO" }, { E2BIG, "E2BIG" }, { EBADF, "EBADF" },
        { ENOMEM, "ENOMEM" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" },
        { EEXIST, "EEXIST" }, { ENODEV, "ENODEV" }, { EINVAL, "EINVAL" },
        { ENOSPC, "ENOSPC" }, { ERANGE, "ERANGE" }, { ENOTTY, "ENOTTY" },
        { ENOSYS, "ENOSYS" }, { EOPNOTSUPP, "EOPNOTSUPP" },
        { EOVERFLOW, "EOVERFLOW" }, { EMSGSIZE, "EMSGSIZE" },
        { EBADFD, "EBADFD" }, { EADDRINUSE, "EADDRINUSE" },
        { ETIMEDOUT, "ETIMEDOUT" },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (t[i].e == e) {
            return t[i].n;
        }
    }
    snprintf(buf, sizeof(buf), "E%d", e);
    return buf;
}

static void out(const char *name, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void out(const char *name, int err, const char *fmt, ...)
{
    char extra[256] = "";

    if (fmt && *fmt) {
        va_list ap;

        va_start(ap, fmt);
        extra[0] = ' ';
        vsnprintf(extra + 1, sizeof(extra) - 1, fmt, ap);
        va_end(ap);
    }
    printf("conf: %03u %s: %s%s\n", ++nstep, name, ename(err), extra);
}

/* ---- canonical ids: raw id -> order of creation ---- */
#define MAXRAW 4096
static unsigned canon[MAXRAW];

static const char *cid(uint32_t raw)
{
    static char bufs[8][16];
    static unsigned k;
    char *b = bufs[k++ % 8];

    if (!raw) {
        return "0";
    }
    if (raw >= MAXRAW) {
        snprintf(b, 16, "raw%u", raw);
        return b;
    }
    if (!canon[raw]) {
        canon[raw] = nstep + 1; /* first seen: made by the step printing */
    }
    snprintf(b, 16, "o%u", canon[raw]);
    return b;
}

static void forget(uint32_t raw)
{
    if (raw && raw < MAXRAW) {
        canon[raw] = 0;
    }
}

static void forget_all(void)
{
    memset(canon, 0, sizeof(canon));
}

/* The id the kernel hands out next: lowest free from 1 (live = known). */
static uint32_t lowest_free(void)
{
    uint32_t i;

    for (i = 1; i < MAXRAW && canon[i]; i++) {
    }
    return i;
}

static int io(int fd, unsigned long req, void *arg)
{
    return ioctl(fd, req, arg) ? errno : 0;
}

static void die(const char *what)
{
    printf("conf: FATAL %s: %s\n", what, strerror(errno));
    exit(2);
}

/* ---- fds ---- */
static int open_iommufd(void)
{
    int fd = open("/dev/iommu", O_RDWR);

    if (fd < 0) {
        die("open /dev/iommu");
    }
    return fd;
}

static int open_dev(void)
{
    int fd;

    if (!strncmp(devarg, "sim:", 4)) {
        char buf[4096];
        ssize_t n;
        int cfg = open(devarg + 4, O_RDONLY);

        if (cfg < 0) {
            die(devarg + 4);
        }
        n = read(cfg, buf, sizeof(buf));
        close(cfg);
        fd = memfd_create("iommufd-sim-vfio-conf", 0);
        if (n < 0 || fd < 0 || write(fd, buf, n) != n) {
            die("memfd");
        }
        return fd;
    }
    fd = open(devarg, O_RDWR);
    if (fd < 0) {
        die(devarg);
    }
    return fd;
}

/* ---- wrappers (return the errno, 0 on success) ---- */
static int bind_dev(int iommufd, uint32_t *devid)
{
    struct vfio_device_bind_iommufd b = {
        .argsz = sizeof(b), .iommufd = iommufd,
    };
    int e = io(dfd, VFIO_DEVICE_BIND_IOMMUFD, &b);

    *devid = e ? 0 : b.out_devid;
    return e;
}

static int ioas_alloc(uint32_t *id)
{
    struct iommu_ioas_alloc a = { .size = sizeof(a) };
    int e = io(ifd, IOMMU_IOAS_ALLOC, &a);

    *id = e ? 0 : a.out_ioas_id;
    return e;
}

static int destroy(uint32_t id)
{
    struct iommu_destroy d = { .size = sizeof(d), .id = id };
    int e = io(ifd, IOMMU_DESTROY, &d);

    if (!e) {
        forget(id);
    }
    return e;
}

static int hwpt_alloc(uint32_t flags, uint32_t dev, uint32_t pt,
                      uint32_t type, const void *data, uint32_t len,
                      uint32_t *id)
{
    struct iommu_hwpt_alloc a = {
        .size = sizeof(a), .flags = flags, .dev_id = dev, .pt_id = pt,
        .data_type = type, .data_len = len, .data_uptr = (uintptr_t)data,
    };
    int e = io(ifd, IOMMU_HWPT_ALLOC, &a);

    *id = e ? 0 : a.out_hwpt_id;
    return e;
}

static int attach(uint32_t *pt)
{
    struct vfio_device_attach_iommufd_pt a = {
        .argsz = sizeof(a), .pt_id = *pt,
    };
    int e = io(dfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);

    *pt = e ? 0 : a.pt_id;
    return e;
}

static int detach(void)
{
    struct vfio_device_detach_iommufd_pt d = { .argsz = sizeof(d) };

    return io(dfd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);
}

static int viommu_alloc(uint32_t flags, uint32_t type, uint32_t dev,
                        uint32_t hwpt, uint32_t *id)
{
    struct iommu_viommu_alloc a = {
        .size = sizeof(a), .flags = flags, .type = type, .dev_id = dev,
        .hwpt_id = hwpt,
    };
    int e = io(ifd, IOMMU_VIOMMU_ALLOC, &a);

    *id = e ? 0 : a.out_viommu_id;
    return e;
}

static int vdev_alloc(uint32_t viommu, uint32_t dev, uint64_t vsid,
                      uint32_t *id)
{
    struct iommu_vdevice_alloc a = {
        .size = sizeof(a), .viommu_id = viommu, .dev_id = dev,
        .virt_id = vsid,
    };
    int e = io(ifd, IOMMU_VDEVICE_ALLOC, &a);

    *id = e ? 0 : a.out_vdevice_id;
    return e;
}

typedef struct { uint64_t w[2]; } Cmd;

static Cmd mk(uint8_t op, uint32_t sid)
{
    Cmd c = { { op | ((uint64_t)sid << 32), 0 } };

    return c;
}

/* HWPT_INVALIDATE; *num is entry_num in and out. */
static int inv(uint32_t id, uint32_t type, uint32_t elen, uint32_t *num,
               const void *data)
{
    struct iommu_hwpt_invalidate c = {
        .size = sizeof(c), .hwpt_id = id, .data_uptr = (uintptr_t)data,
        .data_type = type, .entry_len = elen, .entry_num = *num,
    };
    int e = io(ifd, IOMMU_HWPT_INVALIDATE, &c);

    *num = c.entry_num;
    return e;
}

/* ---- step helpers ---- */
static uint32_t s_hwpt(const char *name, uint32_t flags, uint32_t dev,
                       uint32_t pt, uint32_t type, const void *data,
                       uint32_t len)
{
    uint32_t id;
    int e = hwpt_alloc(flags, dev, pt, type, data, len, &id);

    out(name, e, e ? "" : "id=%s", cid(id));
    return id;
}

static void s_destroy(const char *name, uint32_t id)
{
    out(name, destroy(id), NULL);
}

static void s_attach(const char *name, uint32_t pt)
{
    int e = attach(&pt);

    out(name, e, e ? "" : "pt=%s", cid(pt));
}

/* A vSTE nested HWPT on @viommu; destroyed at once unless @keep. */
static uint32_t s_vste(const char *name, uint32_t dev, uint32_t viommu,
                       uint64_t w0, uint64_t w1, bool keep)
{
    struct iommu_hwpt_arm_smmuv3 d = { .ste = { htole64(w0), htole64(w1) } };
    uint32_t id = s_hwpt(name, 0, dev, viommu, IOMMU_HWPT_DATA_ARM_SMMUV3,
                         &d, sizeof(d));

    if (id && !keep) {
        destroy(id);
    }
    return keep ? id : 0;
}

static void s_inv(const char *name, uint32_t id, uint32_t type, uint32_t elen,
                  uint32_t num, const void *data)
{
    int e = inv(id, type, elen, &num, data);

    out(name, e, "entry_num=%u", num);
}

/* An array of @n good TLBI commands with @bad at index @at (or none). */
static void s_batch(const char *name, uint32_t viommu, uint32_t n,
                    long at, Cmd bad)
{
    static const uint8_t good[] = {
        OP_TLBI_NH_VA, OP_TLBI_NH_ASID, OP_TLBI_NH_ALL, OP_TLBI_NH_VAA,
        OP_CFGI_CD, OP_TLBI_NSNH_ALL, OP_CFGI_CD_ALL,
    };
    Cmd *c = calloc(n, sizeof(*c));

    for (uint32_t i = 0; i < n; i++) {
        c[i] = mk(good[i % sizeof(good)], VSID);
        if (c[i].w[0] == OP_TLBI_NH_VA || (c[i].w[0] & 0xff) == OP_TLBI_NH_VA) {
            c[i].w[1] = 0x1000000 + (uint64_t)i * 0x1000;
        }
    }
    if (at >= 0) {
        c[at] = bad;
    }
    s_inv(name, viommu, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, sizeof(Cmd),
          n, c);
    free(c);
}

/* A page of @prot, to test user copies that fail. */
static void *page(void)
{
    void *p = mmap(NULL, pagesz, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        die("mmap");
    }
    memset(p, 0, pagesz);
    return p;
}

/* ==== the sequences ==== */

static void vfio_before_bind(void)
{
    struct vfio_device_info info = { .argsz = sizeof(info) };
    struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = ifd };
    uint8_t big[32] = { 0 };
    uint32_t pt = 1, id;

    out("vfio.get_info_before_bind", io(dfd, VFIO_DEVICE_GET_INFO, &info),
        NULL);
    out("vfio.attach_before_bind", attach(&pt), NULL);
    b.argsz = 8;
    out("vfio.bind_argsz_8", io(dfd, VFIO_DEVICE_BIND_IOMMUFD, &b), NULL);
    b.argsz = sizeof(b);
    b.flags = 2;
    out("vfio.bind_flags_2", io(dfd, VFIO_DEVICE_BIND_IOMMUFD, &b), NULL);
    b.flags = 0;
    b.iommufd = -1;
    out("vfio.bind_iommufd_-1", io(dfd, VFIO_DEVICE_BIND_IOMMUFD, &b), NULL);
    b.iommufd = 1000;
    out("vfio.bind_iommufd_closed_fd", io(dfd, VFIO_DEVICE_BIND_IOMMUFD, &b),
        NULL);
    b.iommufd = dfd;
    out("vfio.bind_iommufd_is_device_fd",
        io(dfd, VFIO_DEVICE_BIND_IOMMUFD, &b), NULL);
    b.iommufd = ifd;
    memcpy(big, &b, sizeof(b));
    ((struct vfio_device_bind_iommufd *)big)->argsz = sizeof(big);
    big[sizeof(big) - 1] = 1;
    out("vfio.bind_argsz_32_nonzero_tail",
        io(dfd, VFIO_DEVICE_BIND_IOMMUFD, big), NULL);
    id = 0;
    {
        int e = bind_dev(ifd, &id);

        out("vfio.bind", e, e ? "" : "dev=%s", cid(id));
    }
    out("vfio.bind_again", bind_dev(ifd, &pt), NULL);
    out("vfio.detach_unattached", detach(), NULL);
    {
        /* edu is not a VGA device: no VGA region (has_vga) */
        struct vfio_region_info r = {
            .argsz = sizeof(r), .index = VFIO_PCI_VGA_REGION_INDEX,
            .size = 0x1234,
        };
        uint8_t byte;
        int e = io(dfd, VFIO_DEVICE_GET_REGION_INFO, &r);

        out("vfio.region_info_vga", e, "size=0x%llx flags=0x%x",
            (unsigned long long)r.size, r.flags);
        r.index = VFIO_PCI_NUM_REGIONS;
        e = io(dfd, VFIO_DEVICE_GET_REGION_INFO, &r);
        out("vfio.region_info_past_end", e, NULL);
        e = pread(dfd, &byte, 1, (off_t)VFIO_PCI_VGA_REGION_INDEX << 40 |
                  0xa0000) < 0 ? errno : 0;
        out("vfio.read_vga_region", e, NULL);
    }
}

static void generic_size_rules(uint32_t dev)
{
    uint8_t buf[64];
    struct iommu_ioas_alloc *a = (void *)buf;
    struct iommu_destroy d = { .size = 4, .id = BADID };
    uint32_t id, ids[4] = { 0 };
    int e;

    static const uint32_t sizes[] = { 0, 8, 12, 16 };
    for (int i = 0; i < 4; i++) {
        char name[48];

        memset(buf, 0, sizeof(buf));
        a->size = sizes[i];
        e = io(ifd, IOMMU_IOAS_ALLOC, a);
        snprintf(name, sizeof(name), "ioas_alloc.size_%u", sizes[i]);
        out(name, e, e ? "" : "id=%s", cid(a->out_ioas_id));
        ids[i] = e ? 0 : a->out_ioas_id;
    }
    memset(buf, 0, sizeof(buf));
    a->size = 32;
    buf[31] = 1;
    out("ioas_alloc.size_32_nonzero_tail", io(ifd, IOMMU_IOAS_ALLOC, a), NULL);
    memset(buf, 0, sizeof(buf));
    a->size = sizeof(*a);
    a->flags = 1;
    out("ioas_alloc.flags_1", io(ifd, IOMMU_IOAS_ALLOC, a), NULL);
    out("ioas_alloc.bad_pointer",
        io(ifd, IOMMU_IOAS_ALLOC, (void *)(uintptr_t)0x10), NULL);
    out("iommufd.unknown_ioctl_0x7f", io(ifd, _IO(IOMMUFD_TYPE, 0x7f), buf),
        NULL);
    out("iommufd.vfio_ioctl_on_iommufd",
        io(ifd, VFIO_DEVICE_GET_INFO, buf), NULL);
    out("destroy.size_4", io(ifd, IOMMU_DESTROY, &d), NULL);
    d.size = sizeof(d);
    d.id = 0;
    out("destroy.id_0", io(ifd, IOMMU_DESTROY, &d), NULL);
    s_destroy("destroy.bad_id", BADID);
    s_destroy("destroy.device", dev);
    for (int i = 0; i < 4; i++) {
        s_destroy("destroy.ioas", ids[i]);
    }
    s_destroy("destroy.ioas_again", ids[3] ? ids[3] : BADID);

    /* The result cannot be written back: the object must not survive. */
    {
        struct iommu_ioas_alloc *ro = page();
        uint32_t next = lowest_free();

        ro->size = sizeof(*ro);
        mprotect(ro, pagesz, PROT_READ);
        out("ioas_alloc.readonly_struct", io(ifd, IOMMU_IOAS_ALLOC, ro), NULL);
        s_destroy("destroy.id_of_unreported_ioas", next);
        munmap(ro, pagesz);
    }
    e = ioas_alloc(&id);
    out("ioas_alloc.after_readonly", e, e ? "" : "id=%s", cid(id));
    s_destroy("destroy.ioas", id);
}

static void hw_info(uint32_t dev, uint32_t ioas)
{
    struct iommu_hw_info_arm_smmuv3 s;
    struct iommu_hw_info h;
    uint32_t big[16];
    int e;

#define HWI(f, d, len, p) \
    (h = (struct iommu_hw_info){ .size = sizeof(h), .flags = (f), \
                                 .dev_id = (d), .data_len = (len), \
                                 .data_uptr = (uintptr_t)(p) })
    memset(&s, 0, sizeof(s));
    HWI(0, dev, sizeof(s), &s);
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("hw_info", e, "type=%u len=%u caps=0x%llx pasid_log2=%u "
        "rsv=%02x%02x%02x idr=%08x,%08x,%08x,%08x,%08x,%08x iidr=%08x "
        "aidr=%08x", h.out_data_type, h.data_len,
        (unsigned long long)h.out_capabilities, h.out_max_pasid_log2,
        h.__reserved[0], h.__reserved[1], h.__reserved[2], s.idr[0], s.idr[1], s.idr[2], s.idr[3], s.idr[4], s.idr[5], s.iidr,
        s.aidr);
    HWI(0, dev, 0, NULL);
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("hw_info.data_len_0", e, "type=%u len=%u", h.out_data_type,
        h.data_len);
    memset(big, 0xff, sizeof(big));
    HWI(0, dev, 8, big);
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("hw_info.data_len_8", e, "len=%u w0=%08x w2=%08x", h.data_len,
        big[0], big[2]);
    memset(big, 0xff, sizeof(big));
    HWI(0, dev, sizeof(big), big);
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("hw_info.data_len_64", e, "len=%u w8=%08x w15=%08x", h.data_len,
        big[8], big[15]);
    HWI(2, dev, sizeof(s), &s);
    out("hw_info.flags_2", io(ifd, IOMMU_GET_HW_INFO, &h), NULL);
    HWI(0, dev, sizeof(s), &s);
    /* the byte after out_max_pasid_log2 (the old __u32 __reserved's byte 1) */
    h.__reserved[0] = 1;
    out("hw_info.reserved_byte1", io(ifd, IOMMU_GET_HW_INFO, &h), NULL);
    HWI(0, dev, sizeof(s), &s);
    h.out_max_pasid_log2 = 0x5;     /* an output: overwritten */
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("hw_info.reserved_byte0", e, "pasid_log2=%u", h.out_max_pasid_log2);
    HWI(IOMMU_HW_INFO_FLAG_INPUT_TYPE, dev, sizeof(s), &s);
    h.in_data_type = IOMMU_HW_INFO_TYPE_NONE;
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("hw_info.input_type_default", e, "type=%u", h.out_data_type);
    HWI(IOMMU_HW_INFO_FLAG_INPUT_TYPE, dev, sizeof(s), &s);
    h.in_data_type = IOMMU_HW_INFO_TYPE_ARM_SMMUV3;
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("hw_info.input_type_smmuv3", e, "type=%u", h.out_data_type);
    HWI(IOMMU_HW_INFO_FLAG_INPUT_TYPE, dev, sizeof(s), &s);
    h.in_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
    out("hw_info.input_type_vtd", io(ifd, IOMMU_GET_HW_INFO, &h), NULL);
    HWI(0, dev, sizeof(s), &s);
    h.in_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;  /* no flag: ignored */
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("hw_info.type_ignored_without_flag", e, "type=%u", h.out_data_type);
    HWI(0, BADID, sizeof(s), &s);
    out("hw_info.bad_dev", io(ifd, IOMMU_GET_HW_INFO, &h), NULL);
    HWI(0, ioas, sizeof(s), &s);
    out("hw_info.dev_is_ioas", io(ifd, IOMMU_GET_HW_INFO, &h), NULL);
    HWI(0, dev, sizeof(s), (uintptr_t)0x10);
    out("hw_info.bad_data_pointer", io(ifd, IOMMU_GET_HW_INFO, &h), NULL);
    HWI(0, dev, sizeof(s), &s);
    h.size = 16;
    out("hw_info.size_16", io(ifd, IOMMU_GET_HW_INFO, &h), NULL);
#undef HWI
}

static void paging_flags(uint32_t dev, uint32_t ioas)
{
    static const struct { uint32_t f; const char *n; } combos[] = {
        { 0, "0" },
        { IOMMU_HWPT_ALLOC_NEST_PARENT, "NEST_PARENT" },
        { IOMMU_HWPT_ALLOC_DIRTY_TRACKING, "DIRTY_TRACKING" },
        { IOMMU_HWPT_ALLOC_PASID, "PASID" },
        { IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
          "NEST_PARENT|DIRTY_TRACKING" },
        { IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID,
          "NEST_PARENT|PASID" },
        { IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_ALLOC_PASID,
          "DIRTY_TRACKING|PASID" },
        { IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
          IOMMU_HWPT_ALLOC_PASID, "NEST_PARENT|DIRTY_TRACKING|PASID" },
        { IOMMU_HWPT_FAULT_ID_VALID, "FAULT_ID_VALID" },
        { IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_NEST_PARENT,
          "FAULT_ID_VALID|NEST_PARENT" },
        { IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
          "FAULT_ID_VALID|DIRTY_TRACKING" },
        { IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID,
          "FAULT_ID_VALID|PASID" },
        { 1u << 4, "bit4" },
        { 1u << 31, "bit31" },
    };
    struct iommu_hwpt_arm_smmuv3 ste = { .ste = { 0, 0 } };
    uint8_t vtd[32] = { 0 };
    uint8_t buf[96];
    struct iommu_hwpt_alloc *a = (void *)buf;
    char name[80];
    uint32_t id;
    int e;

    for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
        snprintf(name, sizeof(name), "hwpt_alloc.paging.flags_%s",
                 combos[i].n);
        id = s_hwpt(name, combos[i].f, dev, ioas, 0, NULL, 0);
        s_destroy("destroy.hwpt_paging", id);
    }
    s_hwpt("hwpt_alloc.paging.type_none_len_16", 0, dev, ioas,
           IOMMU_HWPT_DATA_NONE, &ste, sizeof(ste));
    s_hwpt("hwpt_alloc.paging.type_smmuv3_len_0", 0, dev, ioas,
           IOMMU_HWPT_DATA_ARM_SMMUV3, &ste, 0);
    s_hwpt("hwpt_alloc.paging.type_smmuv3_on_ioas", 0, dev, ioas,
           IOMMU_HWPT_DATA_ARM_SMMUV3, &ste, sizeof(ste));
    s_hwpt("hwpt_alloc.paging.type_vtd_on_ioas", 0, dev, ioas,
           IOMMU_HWPT_DATA_VTD_S1, vtd, sizeof(vtd));
    s_hwpt("hwpt_alloc.bad_dev", 0, BADID, ioas, 0, NULL, 0);
    s_hwpt("hwpt_alloc.dev_is_ioas", 0, ioas, ioas, 0, NULL, 0);
    s_hwpt("hwpt_alloc.dev_0", 0, 0, ioas, 0, NULL, 0);
    s_hwpt("hwpt_alloc.missing_pt", 0, dev, BADID, 0, NULL, 0);
    s_hwpt("hwpt_alloc.pt_0", 0, dev, 0, 0, NULL, 0);
    s_hwpt("hwpt_alloc.pt_is_device", 0, dev, dev, 0, NULL, 0);

    memset(buf, 0, sizeof(buf));
    *a = (struct iommu_hwpt_alloc){ .size = sizeof(*a), .dev_id = dev,
                                    .pt_id = ioas, .__reserved = 1 };
    out("hwpt_alloc.reserved_1", io(ifd, IOMMU_HWPT_ALLOC, a), NULL);
    a->__reserved = 0;
    a->size = 20;
    out("hwpt_alloc.size_20", io(ifd, IOMMU_HWPT_ALLOC, a), NULL);
    a->size = 24;
    e = io(ifd, IOMMU_HWPT_ALLOC, a);
    out("hwpt_alloc.size_24", e, e ? "" : "id=%s", cid(a->out_hwpt_id));
    s_destroy("destroy.hwpt_paging", e ? 0 : a->out_hwpt_id);
    a->size = sizeof(buf);
    buf[sizeof(buf) - 1] = 1;
    out("hwpt_alloc.size_96_nonzero_tail", io(ifd, IOMMU_HWPT_ALLOC, a), NULL);
    buf[sizeof(buf) - 1] = 0;
    e = io(ifd, IOMMU_HWPT_ALLOC, a);
    out("hwpt_alloc.size_96_zero_tail", e, e ? "" : "id=%s",
        cid(a->out_hwpt_id));
    s_destroy("destroy.hwpt_paging", e ? 0 : a->out_hwpt_id);
    /* a paging HWPT the caller never learns about must not survive */
    {
        struct iommu_hwpt_alloc *ro = page();
        uint32_t next = lowest_free();

        *ro = (struct iommu_hwpt_alloc){ .size = sizeof(*ro), .dev_id = dev,
                                         .pt_id = ioas };
        mprotect(ro, pagesz, PROT_READ);
        out("hwpt_alloc.readonly_struct", io(ifd, IOMMU_HWPT_ALLOC, ro), NULL);
        s_destroy("destroy.id_of_unreported_hwpt", next);
        munmap(ro, pagesz);
    }
}

static uint64_t ste0(unsigned cfg)
{
    return 1 | ((uint64_t)cfg << 1);
}

#define S1_CTXPTR 0x40000000ull      /* S1ContextPtr, 64-byte aligned */

static void vste_rules(uint32_t dev, uint32_t v)
{
    struct iommu_hwpt_arm_smmuv3 d = { .ste = { htole64(ste0(4)), 0 } };
    uint8_t big[24] = { 0 };
    char name[64];
    uint32_t id;

    s_vste("vste.abort", dev, v, ste0(0), 0, false);
    s_vste("vste.bypass", dev, v, ste0(4), 0, false);
    s_vste("vste.s1", dev, v, ste0(5) | S1_CTXPTR, 0, false);
    s_vste("vste.invalid_zero", dev, v, 0, 0, false);
    s_vste("vste.invalid_with_garbage", dev, v, ~1ull, ~0ull, false);
    for (unsigned cfg = 1; cfg < 8; cfg++) {
        if (cfg == 4 || cfg == 5) {
            continue;
        }
        snprintf(name, sizeof(name), "vste.config_%u", cfg);
        s_vste(name, dev, v, ste0(cfg), 0, false);
    }
    s_vste("vste.s1fmt_3", dev, v, ste0(5) | (3ull << 4) | S1_CTXPTR, 0,
           false);
    s_vste("vste.s1cdmax_31", dev, v, ste0(5) | (31ull << 59) | S1_CTXPTR, 0,
           false);
    s_vste("vste.s1contextptr_max", dev, v, ste0(5) | 0x000fffffffffffc0ull,
           0, false);
    s_vste("vste.s1contextptr_bit52", dev, v, ste0(5) | (1ull << 52), 0,
           false);
    s_vste("vste.word0_bit55", dev, v, ste0(5) | (1ull << 55) | S1_CTXPTR,
           0, false);
    s_vste("vste.word0_bit58", dev, v, ste0(4) | (1ull << 58), 0, false);
    s_vste("vste.word1_s1dss_cir_cor_csh", dev, v, ste0(5) | S1_CTXPTR, 0xff,
           false);
    s_vste("vste.word1_s1stalld", dev, v, ste0(5) | S1_CTXPTR, 1ull << 27,
           false);
    s_vste("vste.word1_bit8", dev, v, ste0(5) | S1_CTXPTR, 1ull << 8, false);
    s_vste("vste.word1_bit26", dev, v, ste0(5) | S1_CTXPTR, 1ull << 26, false);
    s_vste("vste.word1_bit30", dev, v, ste0(5) | S1_CTXPTR, 1ull << 30, false);
    s_vste("vste.word1_bit63", dev, v, ste0(4), 1ull << 63, false);
    s_vste("vste.eats_1", dev, v, ste0(5) | S1_CTXPTR, 1ull << 28, false);
    s_vste("vste.eats_2", dev, v, ste0(5) | S1_CTXPTR, 2ull << 28, false);
    s_vste("vste.eats_3", dev, v, ste0(5) | S1_CTXPTR, 3ull << 28, false);
    s_vste("vste.bypass_eats_2", dev, v, ste0(4), 2ull << 28, false);
    s_vste("vste.abort_bad_word1", dev, v, ste0(0), 1ull << 40, false);
    s_vste("vste.invalid_eats_3", dev, v, 0, 3ull << 28, false);

    /* the data around the vSTE */
    s_hwpt("nested.data_len_8", 0, dev, v, IOMMU_HWPT_DATA_ARM_SMMUV3, &d, 8);
    memcpy(big, &d, sizeof(d));
    s_hwpt("nested.data_len_24_zero_tail", 0, dev, v,
           IOMMU_HWPT_DATA_ARM_SMMUV3, big, sizeof(big));
    big[23] = 1;
    s_hwpt("nested.data_len_24_nonzero_tail", 0, dev, v,
           IOMMU_HWPT_DATA_ARM_SMMUV3, big, sizeof(big));
    s_hwpt("nested.type_vtd_s1", 0, dev, v, IOMMU_HWPT_DATA_VTD_S1, &d,
           sizeof(d));
    s_hwpt("nested.type_none", 0, dev, v, IOMMU_HWPT_DATA_NONE, NULL, 0);
    s_hwpt("nested.bad_data_pointer", 0, dev, v, IOMMU_HWPT_DATA_ARM_SMMUV3,
           (void *)(uintptr_t)0x10, sizeof(d));
    s_hwpt("nested.flags_PASID", IOMMU_HWPT_ALLOC_PASID, dev, v,
           IOMMU_HWPT_DATA_ARM_SMMUV3, &d, sizeof(d));
    s_hwpt("nested.flags_FAULT_ID_VALID", IOMMU_HWPT_FAULT_ID_VALID, dev, v,
           IOMMU_HWPT_DATA_ARM_SMMUV3, &d, sizeof(d));
    s_hwpt("nested.flags_NEST_PARENT", IOMMU_HWPT_ALLOC_NEST_PARENT, dev, v,
           IOMMU_HWPT_DATA_ARM_SMMUV3, &d, sizeof(d));
    s_hwpt("nested.flags_DIRTY_TRACKING", IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
           dev, v, IOMMU_HWPT_DATA_ARM_SMMUV3, &d, sizeof(d));
    s_hwpt("nested.flags_bit4", 1u << 4, dev, v, IOMMU_HWPT_DATA_ARM_SMMUV3,
           &d, sizeof(d));
    s_hwpt("nested.bad_dev", 0, BADID, v, IOMMU_HWPT_DATA_ARM_SMMUV3, &d,
           sizeof(d));
    id = s_hwpt("nested.ok_for_destroy", 0, dev, v,
                IOMMU_HWPT_DATA_ARM_SMMUV3, &d, sizeof(d));
    s_destroy("destroy.nested", id);
    s_destroy("destroy.nested_again", id);
}

static void invalidation(uint32_t v, uint32_t nested, uint32_t s2,
                         uint32_t ioas, uint32_t dev)
{
    const uint32_t T = IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3;
    static const struct { uint8_t op; uint32_t sid; const char *n; } one[] = {
        { OP_TLBI_NH_ALL, 0, "TLBI_NH_ALL" },
        { OP_TLBI_NH_ASID, 0, "TLBI_NH_ASID" },
        { OP_TLBI_NH_VA, 0, "TLBI_NH_VA" },
        { OP_TLBI_NH_VAA, 0, "TLBI_NH_VAA" },
        { OP_TLBI_NSNH_ALL, 0, "TLBI_NSNH_ALL" },
        { OP_CFGI_CD, VSID, "CFGI_CD_known_vsid" },
        { OP_CFGI_CD_ALL, VSID, "CFGI_CD_ALL_known_vsid" },
        { OP_CFGI_CD, VSID + 1, "CFGI_CD_unknown_vsid" },
        { OP_CFGI_CD_ALL, 0x10000, "CFGI_CD_ALL_unknown_vsid" },
        { OP_ATC_INV, VSID + 1, "ATC_INV_unknown_vsid" },
        { OP_SYNC, 0, "CMD_SYNC" },
        { OP_CFGI_STE, VSID, "CFGI_STE" },
        { OP_CFGI_ALL, 0, "CFGI_ALL" },
        { OP_PREFETCH_CFG, VSID, "PREFETCH_CONFIG" },
        { OP_TLBI_EL2_ALL, 0, "TLBI_EL2_ALL" },
        { OP_TLBI_S12_VMALL, 0, "TLBI_S12_VMALL" },
        { OP_TLBI_S2_IPA, 0, "TLBI_S2_IPA" },
        { OP_PRI_RESP, VSID, "PRI_RESP" },
        { OP_RESUME, VSID, "RESUME" },
        { 0x00, 0, "opcode_0x00" },
        { 0x7f, 0, "opcode_0x7f" },
        { 0xff, 0, "opcode_0xff" },
    };
    char name[80];
    Cmd c[4], ok = mk(OP_TLBI_NH_ALL, 0);
    uint8_t wide[4096 * 2];
    uint32_t n;
    int e;

    for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
        c[0] = mk(one[i].op, one[i].sid);
        snprintf(name, sizeof(name), "inv.one.%s", one[i].n);
        s_inv(name, v, T, sizeof(Cmd), 1, c);
    }
    /* the array itself */
    c[0] = ok;
    s_inv("inv.entry_num_0", v, T, sizeof(Cmd), 0, c);
    s_inv("inv.entry_num_0_null", v, T, sizeof(Cmd), 0, NULL);
    s_inv("inv.entry_num_0_vtd_type", v, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
          sizeof(Cmd), 0, c);
    s_inv("inv.wrong_type", v, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, sizeof(Cmd),
          1, c);
    s_inv("inv.type_7", v, 7, sizeof(Cmd), 1, c);
    s_inv("inv.entry_len_0", v, T, 0, 1, c);
    s_inv("inv.null_array", v, T, sizeof(Cmd), 1, NULL);
    s_inv("inv.entry_num_max_plus_1", v, T, sizeof(Cmd), (1u << 19) + 1, c);
    s_inv("inv.bad_pointer", v, T, sizeof(Cmd), 1, (void *)(uintptr_t)0x10);
    s_inv("inv.entry_len_1", v, T, 1, 1, c);
    s_inv("inv.entry_len_8", v, T, 8, 1, c);
    memset(wide, 0, sizeof(wide));
    memcpy(wide, &ok, sizeof(ok));
    memcpy(wide + 24, &ok, sizeof(ok));
    s_inv("inv.entry_len_24_zero_tail", v, T, 24, 2, wide);
    wide[24 + 20] = 1;
    s_inv("inv.entry_len_24_nonzero_tail_2nd", v, T, 24, 2, wide);
    memset(wide, 0, sizeof(wide));
    memcpy(wide, &ok, sizeof(ok));
    s_inv("inv.entry_len_4096", v, T, 4096, 1, wide);
    s_inv("inv.entry_len_4097", v, T, 4097, 1, wide);
    memset(wide, 0, sizeof(wide));
    memcpy(wide, &ok, sizeof(ok));
    wide[16] = 1;
    s_inv("inv.entry_len_17_nonzero", v, T, 17, 1, wide);
    {
        /* the second entry is unreadable: nothing is handled */
        uint8_t *p = mmap(NULL, 2 * pagesz, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        Cmd *pc = (Cmd *)(p + pagesz) - 1;

        mprotect(p + pagesz, pagesz, PROT_NONE);
        *pc = ok;
        s_inv("inv.second_entry_unreadable", v, T, sizeof(Cmd), 2, pc);
        munmap(p, 2 * pagesz);
    }
    c[0] = mk(OP_TLBI_NH_ALL, 0);
    c[1] = mk(OP_TLBI_NH_ASID, 0);
    c[2] = mk(OP_SYNC, 0);
    c[3] = mk(OP_TLBI_NH_VA, 0);
    s_inv("inv.sync_third_of_4", v, T, sizeof(Cmd), 4, c);
    c[2] = mk(OP_CFGI_CD, VSID);
    c[3] = mk(OP_CFGI_CD, VSID + 1);
    s_inv("inv.unknown_vsid_last_of_4", v, T, sizeof(Cmd), 4, c);
    c[3] = mk(OP_CFGI_CD_ALL, VSID);
    s_inv("inv.four_good", v, T, sizeof(Cmd), 4, c);

    /* batches around CMDQ_BATCH_ENTRIES - 1 = 63 */
    static const uint32_t sizes[] = { 62, 63, 64, 65, 126, 127, 128, 200 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        snprintf(name, sizeof(name), "inv.batch_%u_good", sizes[i]);
        s_batch(name, v, sizes[i], -1, ok);
    }
    static const struct { uint32_t n, at; } bads[] = {
        { 100, 0 }, { 100, 1 }, { 100, 61 }, { 100, 62 }, { 100, 63 },
        { 100, 64 }, { 70, 66 }, { 128, 125 }, { 128, 126 }, { 128, 127 },
        { 200, 150 }, { 200, 199 },
    };
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        snprintf(name, sizeof(name), "inv.batch_%u_sync_at_%u", bads[i].n,
                 bads[i].at);
        s_batch(name, v, bads[i].n, bads[i].at, mk(OP_SYNC, 0));
    }
    s_batch("inv.batch_100_cfgi_cd_unknown_vsid_at_70", v, 100, 70,
            mk(OP_CFGI_CD, VSID + 1));
    s_batch("inv.batch_100_cfgi_ste_at_63", v, 100, 63,
            mk(OP_CFGI_STE, VSID));
    s_batch("inv.batch_100_opcode_0xff_at_99", v, 100, 99, mk(0xff, 0));

    /* which object */
    c[0] = ok;
    s_inv("inv.on_nested_hwpt", nested, T, sizeof(Cmd), 1, c);
    s_inv("inv.on_nested_hwpt_vtd_type", nested,
          IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, sizeof(Cmd), 1, c);
    s_inv("inv.on_nest_parent", s2, T, sizeof(Cmd), 1, c);
    s_inv("inv.on_ioas", ioas, T, sizeof(Cmd), 1, c);
    s_inv("inv.on_device", dev, T, sizeof(Cmd), 1, c);
    s_inv("inv.bad_id", BADID, T, sizeof(Cmd), 1, c);
    s_inv("inv.id_0", 0, T, sizeof(Cmd), 1, c);
    {
        struct iommu_hwpt_invalidate x = {
            .size = sizeof(x), .hwpt_id = v, .data_uptr = (uintptr_t)c,
            .data_type = T, .entry_len = sizeof(Cmd), .entry_num = 1,
            .__reserved = 1,
        };

        e = io(ifd, IOMMU_HWPT_INVALIDATE, &x);
        out("inv.reserved_1", e, "entry_num=%u", x.entry_num);
        x.__reserved = 0;
        x.size = 24;
        x.entry_num = 1;
        e = io(ifd, IOMMU_HWPT_INVALIDATE, &x);
        out("inv.size_24", e, "entry_num=%u", x.entry_num);
    }
    /* entry_num cannot be written back */
    {
        struct iommu_hwpt_invalidate *ro = page();

        *ro = (struct iommu_hwpt_invalidate){
            .size = sizeof(*ro), .hwpt_id = v, .data_uptr = (uintptr_t)c,
            .data_type = T, .entry_len = sizeof(Cmd), .entry_num = 1,
        };
        c[0] = ok;
        mprotect(ro, pagesz, PROT_READ);
        out("inv.readonly_struct_good", io(ifd, IOMMU_HWPT_INVALIDATE, ro),
            NULL);
        c[0] = mk(OP_SYNC, 0);
        out("inv.readonly_struct_bad_cmd",
            io(ifd, IOMMU_HWPT_INVALIDATE, ro), NULL);
        munmap(ro, pagesz);
    }
    n = 1;
    c[0] = ok;
    e = inv(v, T, sizeof(Cmd), &n, c);
    out("inv.still_works", e, "entry_num=%u", n);
}

/* The main SMMUv3 object graph: IOAS, nest parent, vIOMMU, vDEVICE. */
static void lifetimes(uint32_t dev)
{
    uint32_t ioas, ioas2, s2, s1p, v, v2, vd, ab, by, s1, s1b, inval, pt, id;
    int e;

    e = ioas_alloc(&ioas);
    out("ioas_alloc", e, "id=%s", cid(ioas));
    hw_info(dev, ioas);
    paging_flags(dev, ioas);

    s2 = s_hwpt("hwpt_alloc.nest_parent", IOMMU_HWPT_ALLOC_NEST_PARENT, dev,
                ioas, 0, NULL, 0);
    s1p = s_hwpt("hwpt_alloc.paging_s1", 0, dev, ioas, 0, NULL, 0);
    s_destroy("destroy.ioas_with_hwpt", ioas);

    /* a vIOMMU does not need the device attached */
    e = viommu_alloc(0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, dev, s2, &id);
    out("viommu_alloc.device_not_attached", e, e ? "" : "id=%s", cid(id));
    s_destroy("destroy.viommu", e ? 0 : id);
    s_attach("attach.nest_parent", s2);
    s_attach("attach.nest_parent_again", s2);

    out("viommu_alloc.flags_1",
        viommu_alloc(1, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, dev, s2, &id), NULL);
    out("viommu_alloc.type_default",
        viommu_alloc(0, IOMMU_VIOMMU_TYPE_DEFAULT, dev, s2, &id), NULL);
    out("viommu_alloc.type_0xff", viommu_alloc(0, 0xff, dev, s2, &id), NULL);
    out("viommu_alloc.type_0xff_bad_hwpt",
        viommu_alloc(0, 0xff, dev, BADID, &id), NULL);
    out("viommu_alloc.bad_hwpt",
        viommu_alloc(0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, dev, BADID, &id), NULL);
    out("viommu_alloc.hwpt_is_ioas",
        viommu_alloc(0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, dev, ioas, &id), NULL);
    out("viommu_alloc.hwpt_not_nest_parent",
        viommu_alloc(0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, dev, s1p, &id), NULL);
    out("viommu_alloc.bad_dev",
        viommu_alloc(0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, BADID, s2, &id), NULL);
    {
        struct iommu_viommu_alloc a = {
            .size = 16, .type = IOMMU_VIOMMU_TYPE_ARM_SMMUV3, .dev_id = dev,
            .hwpt_id = s2,
        };

        out("viommu_alloc.size_16", io(ifd, IOMMU_VIOMMU_ALLOC, &a), NULL);
    }
    e = viommu_alloc(0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, dev, s2, &v);
    out("viommu_alloc", e, e ? "" : "id=%s", cid(v));
    e = viommu_alloc(0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, dev, s2, &v2);
    out("viommu_alloc.second_on_same_parent", e, e ? "" : "id=%s", cid(v2));
    s_destroy("destroy.nest_parent_with_viommu", s2);

    /* vDEVICE */
    out("vdevice_alloc.bad_viommu", vdev_alloc(BADID, dev, VSID, &id), NULL);
    out("vdevice_alloc.viommu_is_hwpt", vdev_alloc(s2, dev, VSID, &id), NULL);
    out("vdevice_alloc.bad_dev", vdev_alloc(v, BADID, VSID, &id), NULL);
    out("vdevice_alloc.dev_is_ioas", vdev_alloc(v, ioas, VSID, &id), NULL);
    {
        struct iommu_vdevice_alloc a = {
            .size = 16, .viommu_id = v, .dev_id = dev, .virt_id = VSID,
        };

        out("vdevice_alloc.size_16", io(ifd, IOMMU_VDEVICE_ALLOC, &a), NULL);
    }
    e = vdev_alloc(v, dev, VSID, &vd);
    out("vdevice_alloc", e, e ? "" : "id=%s", cid(vd));
    out("vdevice_alloc.same_dev_other_vsid",
        vdev_alloc(v, dev, VSID + 1, &id), NULL);
    out("vdevice_alloc.same_dev_same_vsid", vdev_alloc(v, dev, VSID, &id),
        NULL);
    out("vdevice_alloc.same_dev_second_viommu",
        vdev_alloc(v2, dev, VSID, &id), NULL);
    s_destroy("destroy.second_viommu", v2);
    s_destroy("destroy.viommu_with_vdevice", v);

    vste_rules(dev, v);

    /* nested HWPTs to attach */
    ab = s_vste("nested.abort", dev, v, ste0(0), 0, true);
    by = s_vste("nested.bypass", dev, v, ste0(4), 0, true);
    s1 = s_vste("nested.s1", dev, v, ste0(5) | S1_CTXPTR, 0, true);
    s_hwpt("nested.on_nest_parent_hwpt", 0, dev, s2,
           IOMMU_HWPT_DATA_ARM_SMMUV3,
           &(struct iommu_hwpt_arm_smmuv3){ .ste = { htole64(ste0(4)), 0 } },
           16);
    s_hwpt("nested.on_plain_paging_hwpt", 0, dev, s1p,
           IOMMU_HWPT_DATA_ARM_SMMUV3,
           &(struct iommu_hwpt_arm_smmuv3){ .ste = { htole64(ste0(4)), 0 } },
           16);
    s_hwpt("nested.on_ioas_with_data", 0, dev, ioas,
           IOMMU_HWPT_DATA_ARM_SMMUV3,
           &(struct iommu_hwpt_arm_smmuv3){ .ste = { htole64(ste0(4)), 0 } },
           16);
    s_destroy("destroy.viommu_with_nested", v);

    s_attach("attach.nested_s1", s1);
    s_destroy("destroy.attached_nested", s1);
    s_attach("attach.nested_abort", ab);
    s_attach("attach.nested_bypass", by);
    s_attach("attach.nested_s1_again", s1);
    s_attach("attach.viommu_id", v);
    s_attach("attach.vdevice_id", vd);
    s_attach("attach.bad_id", BADID);
    s_attach("attach.device_id", dev);
    s_attach("attach.plain_paging", s1p);
    s_destroy("destroy.attached_paging", s1p);

    invalidation(v, s1, s2, ioas, dev);

    /* attach to the IOAS: an automatic domain */
    pt = ioas;
    e = attach(&pt);
    out("attach.ioas", e, e ? "" : "pt=%s", cid(pt));
    s_destroy("destroy.ioas_attached", ioas);
    s_destroy("destroy.auto_domain_attached", pt);
    s_attach("attach.ioas_again", ioas);
    s_attach("attach.nested_s1_from_ioas", s1);
    /* the automatic domain went with its last device */
    s_destroy("destroy.auto_domain_after_leaving", pt);
    forget(pt);

    /* the vDEVICE can go while its device uses a translating vSTE */
    s_destroy("destroy.vdevice_while_attached_s1", vd);
    {
        uint32_t n = 1;
        Cmd cd = mk(OP_CFGI_CD, VSID);

        e = inv(v, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, sizeof(Cmd), &n,
                &cd);
        out("inv.cfgi_cd_after_vdevice_gone", e, "entry_num=%u", n);
    }
    s_attach("attach.s2_after_vdevice_gone", s2);
    s_attach("attach.nested_s1_without_vdevice", s1);
    s_attach("attach.nested_abort_without_vdevice", ab);
    s_attach("attach.nested_bypass_without_vdevice", by);
    s1b = s_vste("nested.s1_without_vdevice", dev, v, ste0(5) | S1_CTXPTR,
                 0, true);
    s_attach("attach.new_nested_s1_without_vdevice", s1b);
    inval = s_vste("nested.invalid", dev, v, 0, 0, true);
    s_attach("attach.invalid_vste_without_vdevice", inval);
    e = vdev_alloc(v, dev, VSID + 1, &vd);
    out("vdevice_alloc.new_vsid", e, e ? "" : "id=%s", cid(vd));
    s_attach("attach.nested_s1_with_new_vdevice", s1b);

    /* teardown order */
    s_destroy("destroy.viommu_busy", v);
    s_destroy("destroy.nest_parent_busy", s2);
    s_destroy("destroy.ioas_busy", ioas);
    s_attach("attach.nest_parent_for_teardown", s2);
    s_destroy("destroy.nested_s1", s1);
    s_destroy("destroy.nested_s1b", s1b);
    s_destroy("destroy.nested_abort", ab);
    s_destroy("destroy.nested_bypass", by);
    s_destroy("destroy.nested_invalid", inval);
    s_destroy("destroy.viommu_with_vdevice_only", v);
    s_destroy("destroy.vdevice", vd);
    s_destroy("destroy.vdevice_again", vd);
    s_destroy("destroy.viommu", v);
    s_destroy("destroy.nest_parent_attached", s2);
    out("detach", detach(), NULL);
    out("detach_again", detach(), NULL);
    s_destroy("destroy.nest_parent", s2);
    s_destroy("destroy.ioas", ioas);
    e = ioas_alloc(&ioas2);
    out("ioas_alloc.after_teardown", e, "id=%s", cid(ioas2));
    s_destroy("destroy.ioas", ioas2);
    (void)s1p;
}

/*
 * Closing the device unbinds it and takes its vDEVICE along, leaving a
 * tombstone (iommufd_device_remove_vdev): the vDEVICE's id is not handed
 * out again while the iommufd is open, its vSID and its hold on the
 * vIOMMU are released.
 */
static void unbind_with_objects(void)
{
    uint32_t dev, ioas, s2, v, vd, n, by, a, b, dev2, vd2;
    int e;

    forget_all();
    ifd = open_iommufd();
    dfd = open_dev();
    e = bind_dev(ifd, &dev);
    out("ctx2.bind", e, "dev=%s", cid(dev));
    ioas_alloc(&ioas);
    out("ctx2.ioas", 0, "id=%s", cid(ioas));
    s2 = s_hwpt("ctx2.nest_parent", IOMMU_HWPT_ALLOC_NEST_PARENT, dev, ioas,
                0, NULL, 0);
    s_attach("ctx2.attach", s2);
    e = viommu_alloc(0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, dev, s2, &v);
    out("ctx2.viommu", e, "id=%s", cid(v));
    e = vdev_alloc(v, dev, VSID, &vd);
    out("ctx2.vdevice", e, "id=%s", cid(vd));
    by = s_vste("ctx2.nested_bypass", dev, v, ste0(4), 0, true);
    s_attach("ctx2.attach_nested_bypass", by);
    out("ctx2.close_device", close(dfd) ? errno : 0, NULL);
    dfd = -1;
    s_destroy("ctx2.destroy_vdevice_after_close", vd);
    {
        Cmd cd = mk(OP_CFGI_CD, VSID);

        n = 1;
        e = inv(v, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, sizeof(Cmd), &n,
                &cd);
        out("ctx2.cfgi_cd_after_close", e, "entry_num=%u", n);
    }
    s_destroy("ctx2.destroy_viommu_with_nested", v);
    s_destroy("ctx2.destroy_device_id_after_close", dev);
    /* The device's id is free again, the vDEVICE's is not. */
    e = ioas_alloc(&a);
    out("ctx2.ioas_after_close", e, "id=%s", cid(a));
    e = ioas_alloc(&b);
    out("ctx2.ioas2_after_close", e, "id=%s", cid(b));
    /* The same device bound again: a new id, the vSID is free. */
    dfd = open_dev();
    e = bind_dev(ifd, &dev2);
    out("ctx2.rebind_after_close", e, "dev=%s", cid(dev2));
    e = vdev_alloc(v, dev2, VSID, &vd2);
    out("ctx2.vdevice_same_vsid_after_rebind", e, "id=%s", cid(vd2));
    {
        Cmd cd = mk(OP_CFGI_CD, VSID);

        n = 1;
        e = inv(v, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, sizeof(Cmd), &n,
                &cd);
        out("ctx2.cfgi_cd_after_rebind", e, "entry_num=%u", n);
    }
    s_destroy("ctx2.destroy_vdevice_after_rebind", vd2);
    s_destroy("ctx2.destroy_nested_bypass_after_close", by);
    s_destroy("ctx2.destroy_viommu_after_vdevices", v);
    s_destroy("ctx2.destroy_closed_vdevice_again", vd);
    out("ctx2.close_device_again", close(dfd) ? errno : 0, NULL);
    dfd = -1;
    s_destroy("ctx2.destroy_ioas_after_close", a);
    s_destroy("ctx2.destroy_ioas2_after_close", b);
    s_destroy("ctx2.destroy_nest_parent", s2);
    s_destroy("ctx2.destroy_ioas", ioas);
    {
        /* Only the tombstone is left: five new ids step over it. */
        uint32_t ids[5];

        e = 0;
        for (int i = 0; i < 5; i++) {
            e = e ? e : ioas_alloc(&ids[i]);
        }
        out("ctx2.five_ioas_after_teardown", e, "ids=%s,%s,%s,%s,%s",
            e ? "-" : cid(ids[0]), e ? "-" : cid(ids[1]),
            e ? "-" : cid(ids[2]), e ? "-" : cid(ids[3]),
            e ? "-" : cid(ids[4]));
        for (int i = 0; i < 5 && !e; i++) {
            destroy(ids[i]);
        }
    }
    {
        /*
         * RLIMIT_MODE can only be set on a context without objects
         * (xa_empty), and a tombstone is not nothing.  Needs root
         * (CAP_SYS_RESOURCE; the simulator checks euid 0), as both runs
         * have: a fresh context takes it.
         */
        struct iommu_option o = {
            .size = sizeof(o), .option_id = IOMMU_OPTION_RLIMIT_MODE,
            .op = IOMMU_OPTION_OP_SET, .val64 = 1,
        };

        out("ctx2.rlimit_mode_only_tombstone_left",
            io(ifd, IOMMU_OPTION, &o), NULL);
        close(ifd);
        ifd = open_iommufd();
        out("ctx2.rlimit_mode_new_context", io(ifd, IOMMU_OPTION, &o), NULL);
    }
    close(ifd);
}

/* ==== the VT-d half: a device behind an Intel IOMMU ==== */

/* The IOMMU behind the device: IOMMU_HW_INFO_TYPE_*, 0 on error. */
static uint32_t hw_info_type(uint32_t dev)
{
    struct iommu_hw_info h = { .size = sizeof(h), .dev_id = dev };

    return io(ifd, IOMMU_GET_HW_INFO, &h) ? 0 : h.out_data_type;
}

static uint32_t s_vtd(const char *name, uint32_t dev, uint32_t pt,
                      uint64_t flags, uint32_t aw, uint32_t rsv, bool keep)
{
    struct iommu_hwpt_vtd_s1 d = {
        .flags = flags, .pgtbl_addr = 0x10000, .addr_width = aw,
        .__reserved = rsv,
    };
    uint32_t id = s_hwpt(name, 0, dev, pt, IOMMU_HWPT_DATA_VTD_S1, &d,
                         sizeof(d));

    if (id && !keep) {
        destroy(id);
    }
    return keep ? id : 0;
}

static void vtd_hw_info(uint32_t dev)
{
    struct iommu_hw_info_vtd v;
    struct iommu_hw_info h;
    uint32_t big[16];
    int e;

#define HWI(f, len, p) \
    (h = (struct iommu_hw_info){ .size = sizeof(h), .flags = (f), \
                                 .dev_id = dev, .data_len = (len), \
                                 .data_uptr = (uintptr_t)(p) })
    memset(&v, 0xff, sizeof(v));
    HWI(0, sizeof(v), &v);
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("vtd.hw_info", e, "type=%u len=%u caps=0x%llx pasid_log2=%u "
        "flags=0x%x rsv=0x%x cap=0x%016llx ecap=0x%016llx",
        h.out_data_type, h.data_len, (unsigned long long)h.out_capabilities,
        h.out_max_pasid_log2, v.flags, v.__reserved,
        (unsigned long long)v.cap_reg, (unsigned long long)v.ecap_reg);
    HWI(0, 0, NULL);
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("vtd.hw_info.data_len_0", e, "type=%u len=%u", h.out_data_type,
        h.data_len);
    memset(big, 0xee, sizeof(big));
    HWI(0, 8, big);
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("vtd.hw_info.data_len_8", e, "len=%u w1=%08x w2=%08x", h.data_len,
        big[1], big[2]);
    memset(big, 0xee, sizeof(big));
    HWI(0, sizeof(big), big);
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("vtd.hw_info.data_len_64", e, "len=%u w6=%08x w15=%08x", h.data_len,
        big[6], big[15]);
    HWI(IOMMU_HW_INFO_FLAG_INPUT_TYPE, sizeof(v), &v);
    h.in_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("vtd.hw_info.input_type_vtd", e, "type=%u", h.out_data_type);
    HWI(IOMMU_HW_INFO_FLAG_INPUT_TYPE, sizeof(v), &v);
    h.in_data_type = IOMMU_HW_INFO_TYPE_ARM_SMMUV3;
    out("vtd.hw_info.input_type_smmuv3", io(ifd, IOMMU_GET_HW_INFO, &h),
        NULL);
    HWI(IOMMU_HW_INFO_FLAG_INPUT_TYPE, sizeof(v), &v);
    h.in_data_type = IOMMU_HW_INFO_TYPE_NONE;
    e = io(ifd, IOMMU_GET_HW_INFO, &h);
    out("vtd.hw_info.input_type_default", e, "type=%u", h.out_data_type);
#undef HWI
}

static void vtd_paging_flags(uint32_t dev, uint32_t ioas)
{
    static const struct { uint32_t f; const char *n; } combos[] = {
        { 0, "0" },
        { IOMMU_HWPT_ALLOC_NEST_PARENT, "NEST_PARENT" },
        { IOMMU_HWPT_ALLOC_DIRTY_TRACKING, "DIRTY_TRACKING" },
        { IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
          "NEST_PARENT|DIRTY_TRACKING" },
        { IOMMU_HWPT_ALLOC_PASID, "PASID" },
        { IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID,
          "NEST_PARENT|PASID" },
    };
    char name[80];

    for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
        snprintf(name, sizeof(name), "vtd.hwpt_alloc.paging.flags_%s",
                 combos[i].n);
        s_destroy("vtd.destroy.hwpt_paging",
                  s_hwpt(name, combos[i].f, dev, ioas, 0, NULL, 0));
    }
}

/* Nested HWPT_ALLOC: Linux checks the data here, the host's caps later. */
static void vtd_nested_alloc(uint32_t dev, uint32_t ioas, uint32_t s2,
                             uint32_t paging)
{
    struct iommu_hwpt_vtd_s1 d = { .pgtbl_addr = 0x10000, .addr_width = 48 };
    uint8_t big[32] = { 0 };

    s_vtd("vtd.nested.good", dev, s2, 0, 48, 0, false);
    s_vtd("vtd.nested.addr_width_39", dev, s2, 0, 39, 0, false);
    s_vtd("vtd.nested.addr_width_57", dev, s2, 0, 57, 0, false);
    s_vtd("vtd.nested.addr_width_0", dev, s2, 0, 0, 0, false);
    s_vtd("vtd.nested.addr_width_64", dev, s2, 0, 64, 0, false);
    s_vtd("vtd.nested.flags_SRE", dev, s2, IOMMU_VTD_S1_SRE, 48, 0, false);
    s_vtd("vtd.nested.flags_EAFE", dev, s2, IOMMU_VTD_S1_EAFE, 48, 0, false);
    s_vtd("vtd.nested.flags_WPE", dev, s2, IOMMU_VTD_S1_WPE, 48, 0, false);
    s_vtd("vtd.nested.flags_bit3", dev, s2, 1u << 3, 48, 0, false);
    s_vtd("vtd.nested.flags_bit63", dev, s2, 1ull << 63, 48, 0, false);
    s_vtd("vtd.nested.reserved_1", dev, s2, 0, 48, 1, false);
    s_vtd("vtd.nested.on_ioas", dev, ioas, 0, 48, 0, false);
    s_vtd("vtd.nested.on_paging_not_parent", dev, paging, 0, 48, 0, false);
    s_vtd("vtd.nested.bad_pt", dev, BADID, 0, 48, 0, false);
    s_vtd("vtd.nested.bad_dev", BADID, s2, 0, 48, 0, false);
    s_hwpt("vtd.nested.len_0", 0, dev, s2, IOMMU_HWPT_DATA_VTD_S1, &d, 0);
    s_hwpt("vtd.nested.len_16", 0, dev, s2, IOMMU_HWPT_DATA_VTD_S1, &d, 16);
    memcpy(big, &d, sizeof(d));
    s_hwpt("vtd.nested.len_32_zero_tail", 0, dev, s2,
           IOMMU_HWPT_DATA_VTD_S1, big, sizeof(big));
    big[sizeof(big) - 1] = 1;
    s_hwpt("vtd.nested.len_32_nonzero_tail", 0, dev, s2,
           IOMMU_HWPT_DATA_VTD_S1, big, sizeof(big));
    s_hwpt("vtd.nested.bad_data_pointer", 0, dev, s2,
           IOMMU_HWPT_DATA_VTD_S1, (void *)(uintptr_t)0x10, sizeof(d));
    s_hwpt("vtd.nested.type_smmuv3", 0, dev, s2, IOMMU_HWPT_DATA_ARM_SMMUV3,
           &d, sizeof(d));
    s_hwpt("vtd.nested.flags_NEST_PARENT", IOMMU_HWPT_ALLOC_NEST_PARENT, dev,
           s2, IOMMU_HWPT_DATA_VTD_S1, &d, sizeof(d));
    s_hwpt("vtd.nested.flags_DIRTY_TRACKING", IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
           dev, s2, IOMMU_HWPT_DATA_VTD_S1, &d, sizeof(d));
    s_hwpt("vtd.nested.type_vtd_on_ioas_len_0", 0, dev, ioas,
           IOMMU_HWPT_DATA_VTD_S1, &d, 0);
}

static void s_vinv(const char *name, uint32_t id, uint32_t elen,
                   uint32_t num, uint64_t addr, uint64_t npages,
                   uint32_t flags, uint32_t rsv)
{
    struct iommu_hwpt_vtd_s1_invalidate c[4];
    uint8_t buf[4 * 32] = { 0 };

    for (int i = 0; i < 4; i++) {
        c[i] = (struct iommu_hwpt_vtd_s1_invalidate){
            .addr = addr, .npages = npages, .flags = flags,
            .__reserved = rsv,
        };
        memcpy(buf + i * elen, &c[i],
               elen < sizeof(c[i]) ? elen : sizeof(c[i]));
    }
    s_inv(name, id, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, elen, num, buf);
}

static void vtd_invalidation(uint32_t nested, uint32_t s2, uint32_t ioas)
{
    const uint32_t el = sizeof(struct iommu_hwpt_vtd_s1_invalidate);
    struct iommu_hwpt_vtd_s1_invalidate c[3] = {
        { .addr = 0, .npages = UINT64_MAX },
        { .addr = 0x1000, .npages = 0 },
        { .addr = 0, .npages = UINT64_MAX },
    };
    uint8_t tail[24] = { 0 };

    s_vinv("vtd.inv.all", nested, el, 1, 0, UINT64_MAX, 0, 0);
    s_vinv("vtd.inv.all_x4", nested, el, 4, 0, UINT64_MAX, 0, 0);
    s_vinv("vtd.inv.one_page", nested, el, 1, 0x200000, 1, 0, 0);
    s_vinv("vtd.inv.leaf", nested, el, 1, 0x200000, 16,
           IOMMU_VTD_INV_FLAGS_LEAF, 0);
    s_vinv("vtd.inv.entry_num_0", nested, el, 0, 0, UINT64_MAX, 0, 0);
    s_vinv("vtd.inv.entry_num_0_entry_len_0", nested, 0, 0, 0, 0, 0, 0);
    s_vinv("vtd.inv.entry_len_0", nested, 0, 1, 0, UINT64_MAX, 0, 0);
    s_vinv("vtd.inv.entry_len_8", nested, 8, 1, 0, UINT64_MAX, 0, 0);
    s_vinv("vtd.inv.entry_len_24", nested, 24, 1, 0, UINT64_MAX, 0, 0);
    s_vinv("vtd.inv.entry_len_32_x2", nested, 32, 2, 0, UINT64_MAX, 0, 0);
    memcpy(tail, &c[0], el);
    tail[23] = 1;
    s_inv("vtd.inv.entry_len_24_nonzero_tail", nested,
          IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, 24, 1, tail);
    s_vinv("vtd.inv.flags_bit1", nested, el, 1, 0, UINT64_MAX, 2, 0);
    s_vinv("vtd.inv.flags_bit31", nested, el, 1, 0, UINT64_MAX, 1u << 31, 0);
    s_vinv("vtd.inv.reserved_1", nested, el, 1, 0, UINT64_MAX, 0, 1);
    s_vinv("vtd.inv.npages_0", nested, el, 1, 0x200000, 0, 0, 0);
    s_vinv("vtd.inv.addr_unaligned", nested, el, 1, 0x200800, 1, 0, 0);
    s_vinv("vtd.inv.addr_top_page", nested, el, 1, ~0xfffull, 1, 0, 0);
    s_vinv("vtd.inv.huge_range", nested, el, 1, 0x200000, 1ull << 40, 0, 0);
    s_inv("vtd.inv.bad_second_of_3", nested,
          IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, el, 3, c);
    c[1].npages = 1;
    c[2].flags = 4;
    s_inv("vtd.inv.bad_third_of_3", nested,
          IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, el, 3, c);
    s_inv("vtd.inv.bad_pointer", nested, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
          el, 1, (void *)(uintptr_t)0x10);
    s_inv("vtd.inv.type_smmuv3", nested,
          IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, el, 1, c);
    s_inv("vtd.inv.type_7", nested, 7, el, 1, c);
    s_inv("vtd.inv.on_nest_parent", s2, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
          el, 1, c);
    s_inv("vtd.inv.on_ioas", ioas, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, el, 1,
          c);
    s_inv("vtd.inv.bad_id", BADID, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, el, 1,
          c);
}

static int map(uint32_t ioas, uint32_t flags, void *p, uint64_t len,
               uint64_t *iova)
{
    struct iommu_ioas_map m = {
        .size = sizeof(m), .flags = flags, .ioas_id = ioas,
        .user_va = (uintptr_t)p, .length = len, .iova = *iova,
    };
    int e = io(ifd, IOMMU_IOAS_MAP, &m);

    *iova = m.iova;
    return e;
}

static int unmap(uint32_t ioas, uint64_t iova, uint64_t *len)
{
    struct iommu_ioas_unmap u = {
        .size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = *len,
    };
    int e = io(ifd, IOMMU_IOAS_UNMAP, &u);

    *len = u.length;
    return e;
}

/* IOAS_IOVA_RANGES: the device's reserved regions (VT-d: the MSI window). */
static void s_ranges(const char *name, uint32_t ioas)
{
    uint8_t buf[sizeof(struct iommu_ioas_iova_ranges) +
                8 * sizeof(struct iommu_iova_range)];
    struct iommu_ioas_iova_ranges *r = (void *)buf;
    struct iommu_iova_range *rr = (void *)(r + 1);
    int e;

    memset(buf, 0, sizeof(buf));
    r->size = sizeof(*r);
    r->ioas_id = ioas;
    r->num_iovas = 8;
    r->allowed_iovas = (uintptr_t)rr;
    e = io(ifd, IOMMU_IOAS_IOVA_RANGES, r);
    out(name, e, "n=%u r0=%llx-%llx r1=%llx-%llx align=0x%llx", r->num_iovas,
        (unsigned long long)rr[0].start, (unsigned long long)rr[0].last,
        (unsigned long long)rr[1].start, (unsigned long long)rr[1].last,
        (unsigned long long)r->out_iova_alignment);
}

/* The nest parent's IOAS: mappings go through its second stage. */
static void vtd_ioas(uint32_t ioas, uint32_t ioas2)
{
    const uint32_t rw = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
    void *p = page();
    uint64_t iova, len;
    int e;

    s_ranges("vtd.ioas.iova_ranges", ioas);
    iova = 0x100000;
    e = map(ioas, IOMMU_IOAS_MAP_FIXED_IOVA | rw, p, pagesz, &iova);
    out("vtd.ioas.map_fixed", e, "iova=0x%llx", (unsigned long long)iova);
    iova = 0x100000;
    e = map(ioas, IOMMU_IOAS_MAP_FIXED_IOVA | rw, p, pagesz, &iova);
    out("vtd.ioas.map_fixed_again", e, NULL);
    iova = 0x200000;
    e = map(ioas, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE, p,
            pagesz, &iova);
    out("vtd.ioas.map_read_only", e, NULL);
    iova = 0x300000;
    e = map(ioas, IOMMU_IOAS_MAP_FIXED_IOVA | rw, p, 0x800, &iova);
    out("vtd.ioas.map_half_page", e, NULL);
    iova = 0xfee00000;
    e = map(ioas, IOMMU_IOAS_MAP_FIXED_IOVA | rw, p, pagesz, &iova);
    out("vtd.ioas.map_msi_window", e, NULL);
    iova = 1ull << 48;
    e = map(ioas, IOMMU_IOAS_MAP_FIXED_IOVA | rw, p, pagesz, &iova);
    out("vtd.ioas.map_above_48_bits", e, NULL);
    {
        struct iommu_ioas_copy c = {
            .size = sizeof(c), .flags = IOMMU_IOAS_MAP_FIXED_IOVA | rw,
            .dst_ioas_id = ioas2, .src_ioas_id = ioas, .length = pagesz,
            .dst_iova = 0x400000, .src_iova = 0x100000,
        };

        out("vtd.ioas.copy_to_other", io(ifd, IOMMU_IOAS_COPY, &c), NULL);
        c.dst_ioas_id = ioas;
        c.src_ioas_id = ioas2;
        c.src_iova = 0x400000;
        c.dst_iova = 0x500000;
        out("vtd.ioas.copy_back", io(ifd, IOMMU_IOAS_COPY, &c), NULL);
    }
    len = pagesz;
    e = unmap(ioas, 0x500000, &len);
    out("vtd.ioas.unmap_copy", e, "len=0x%llx", (unsigned long long)len);
    len = pagesz / 2;
    e = unmap(ioas, 0x100000, &len);
    out("vtd.ioas.unmap_half", e, NULL);
    len = 0;
    e = unmap(ioas, 0, &len);
    out("vtd.ioas.unmap_length_0", e, NULL);
    len = UINT64_MAX;
    e = unmap(ioas, 0, &len);
    out("vtd.ioas.unmap_all", e, "len=0x%llx", (unsigned long long)len);
    len = UINT64_MAX;
    e = unmap(ioas2, 0, &len);
    out("vtd.ioas.unmap_all_other", e, "len=0x%llx", (unsigned long long)len);
    munmap(p, pagesz);
}

static void vtd_dirty(uint32_t s2)
{
    struct iommu_hwpt_set_dirty_tracking t = {
        .size = sizeof(t), .flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
        .hwpt_id = s2,
    };
    uint64_t bitmap = 0;
    struct iommu_hwpt_get_dirty_bitmap b = {
        .size = sizeof(b), .hwpt_id = s2, .iova = 0, .length = 0x10000,
        .page_size = 0x1000, .data = (uintptr_t)&bitmap,
    };

    out("vtd.dirty.set_tracking_on_parent",
        io(ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &t), NULL);
    out("vtd.dirty.get_bitmap_on_parent",
        io(ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &b), NULL);
}

static void vtd_section(uint32_t dev)
{
    uint32_t ioas, ioas2, s2, paging, n1, n2, sre, eafe, wpe, aw57, bit3, rsv;
    uint32_t id;
    int e;

    e = ioas_alloc(&ioas);
    out("vtd.ioas_alloc", e, "id=%s", cid(ioas));
    e = ioas_alloc(&ioas2);
    out("vtd.ioas_alloc_second", e, "id=%s", cid(ioas2));
    vtd_hw_info(dev);
    vtd_paging_flags(dev, ioas);

    s2 = s_hwpt("vtd.hwpt_alloc.nest_parent", IOMMU_HWPT_ALLOC_NEST_PARENT,
                dev, ioas, 0, NULL, 0);
    paging = s_hwpt("vtd.hwpt_alloc.paging", 0, dev, ioas, 0, NULL, 0);
    vtd_nested_alloc(dev, ioas, s2, paging);
    vtd_dirty(s2);

    /* VIOMMU_ALLOC on VT-d */
    e = viommu_alloc(0, IOMMU_VIOMMU_TYPE_DEFAULT, dev, s2, &id);
    out("vtd.viommu_alloc.type_default", e, e ? "" : "id=%s", cid(id));
    if (!e) {
        destroy(id);
    }
    out("vtd.viommu_alloc.type_smmuv3",
        viommu_alloc(0, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, dev, s2, &id), NULL);

    /* attach, replace, and the attach-time checks */
    n1 = s_vtd("vtd.nested.keep_1", dev, s2, 0, 48, 0, true);
    n2 = s_vtd("vtd.nested.keep_2", dev, s2, IOMMU_VTD_S1_WPE, 39, 0, true);
    sre = s_vtd("vtd.nested.keep_SRE", dev, s2, IOMMU_VTD_S1_SRE, 48, 0,
                true);
    eafe = s_vtd("vtd.nested.keep_EAFE", dev, s2, IOMMU_VTD_S1_EAFE, 48, 0,
                 true);
    wpe = s_vtd("vtd.nested.keep_WPE", dev, s2, IOMMU_VTD_S1_WPE, 48, 0,
                true);
    aw57 = s_vtd("vtd.nested.keep_addr_width_57", dev, s2, 0, 57, 0, true);
    bit3 = s_vtd("vtd.nested.keep_flags_bit3", dev, s2, 1u << 3, 48, 0, true);
    rsv = s_vtd("vtd.nested.keep_reserved_1", dev, s2, 0, 48, 1, true);
    s_attach("vtd.attach.nested_before_parent", n1);
    out("vtd.detach.after_nested", detach(), NULL);
    s_ranges("vtd.iova_ranges.detached", ioas);
    s_attach("vtd.attach.ioas", ioas);
    s_ranges("vtd.iova_ranges.attached_ioas", ioas);
    s_attach("vtd.attach.replace_nest_parent", s2);
    s_attach("vtd.attach.replace_nested", n1);
    s_ranges("vtd.iova_ranges.attached_nested", ioas);
    /*
     * A replace the driver refuses drops the device's reserved regions
     * from the IOAS although the old HWPT, in the same IOAS, stays.
     */
    s_attach("vtd.attach.replace_nested_2", n2);
    s_ranges("vtd.iova_ranges.after_refused_replace", ioas);
    s_attach("vtd.attach.nested_SRE", sre);
    s_attach("vtd.attach.nested_EAFE", eafe);
    s_attach("vtd.attach.nested_addr_width_57", aw57);
    s_attach("vtd.attach.nested_WPE", wpe);
    s_attach("vtd.attach.nested_flags_bit3", bit3);
    s_attach("vtd.attach.nested_reserved_1", rsv);
    s_attach("vtd.attach.paging", paging);
    s_attach("vtd.attach.bad_id", BADID);
    s_attach("vtd.attach.nested_1_again", n1);
    s_attach("vtd.attach.same_again", n1);

    vtd_invalidation(n1, s2, ioas);
    vtd_ioas(ioas, ioas2);

    /* destroy ordering */
    s_destroy("vtd.destroy.ioas_with_parent", ioas);
    out("vtd.detach.before_teardown", detach(), NULL);
    s_ranges("vtd.iova_ranges.after_detach", ioas);
    s_attach("vtd.attach.nested_after_detach", n1);
    s_ranges("vtd.iova_ranges.attached_nested_fresh", ioas);
    s_destroy("vtd.destroy.parent_with_nested", s2);
    s_destroy("vtd.destroy.nested_attached", n1);
    s_destroy("vtd.destroy.nested_2_unattached", n2);
    s_destroy("vtd.destroy.nested_SRE", sre);
    s_destroy("vtd.destroy.nested_EAFE", eafe);
    s_destroy("vtd.destroy.nested_WPE", wpe);
    s_destroy("vtd.destroy.nested_addr_width_57", aw57);
    s_destroy("vtd.destroy.nested_flags_bit3", bit3);
    s_destroy("vtd.destroy.nested_reserved_1", rsv);
    s_destroy("vtd.destroy.parent_only_nested_attached", s2);
    out("vtd.detach", detach(), NULL);
    out("vtd.detach_again", detach(), NULL);
    s_destroy("vtd.destroy.nested_detached", n1);
    s_destroy("vtd.destroy.parent", s2);
    s_destroy("vtd.destroy.paging", paging);
    s_destroy("vtd.destroy.ioas", ioas);
    s_destroy("vtd.destroy.ioas2", ioas2);
    e = ioas_alloc(&id);
    out("vtd.ioas_alloc_after_teardown", e, "id=%s", cid(id));
    s_destroy("vtd.destroy.ioas_last", id);
}

int main(int argc, char **argv)
{
    uint32_t dev;

    setvbuf(stdout, NULL, _IOLBF, 0);
    pagesz = sysconf(_SC_PAGESIZE);
    devarg = argc > 1 ? argv[1] : "/dev/vfio/devices/vfio0";
    printf("conf: BEGIN\n");
    ifd = open_iommufd();
    dfd = open_dev();
    vfio_before_bind();
    dev = 0;
    for (uint32_t i = 1; i < MAXRAW; i++) {
        if (canon[i]) {
            dev = i;            /* the only object so far */
        }
    }
    if (!dev) {
        printf("conf: FATAL bind failed\n");
        return 2;
    }
    generic_size_rules(dev);
    if (hw_info_type(dev) == IOMMU_HW_INFO_TYPE_INTEL_VTD) {
        vtd_section(dev);
        close(dfd);
        close(ifd);
    } else {
        lifetimes(dev);
        close(dfd);
        close(ifd);
        unbind_with_objects();
    }
    printf("conf: END %u\n", nstep);
    return 0;
}
