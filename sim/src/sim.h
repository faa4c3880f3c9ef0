/*
 * iommufd-sim: internal definitions shared by the core files.
 *
 * Locking: one global mutex (sim_lock) protects everything below; every
 * entry point from the shim takes it, and nothing here calls back into an
 * interposed libc function.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "xlate.h"
#include "iommufd-sim-regs.h"

#define SIM_PAGE_SIZE 4096ull
#define SIM_MAX_RESV 16
#define SIM_CFG_SIZE 256           /* conventional PCI config space */
#define SIM_NUM_REGIONS 9          /* VFIO_PCI_NUM_REGIONS */
#define SIM_NUM_IRQS 5             /* VFIO_PCI_NUM_IRQS */
#define SIM_REGION_SHIFT 40

enum sim_iommu { SIM_IOMMU_VTD = 1, SIM_IOMMU_SMMUV3 = 2 };

/* ---- per-device configuration (memfd text) ---- */
typedef struct SimRange { uint64_t start, last; } SimRange;

typedef struct SimDevCfg {
    enum sim_iommu iommu;
    uint32_t instance;
    uint16_t vendor, device;
    uint32_t bar0_size;
    bool msi, nesting, dirty, errata_772415, pasid;
    uint64_t vtd_cap, vtd_ecap;
    uint32_t idr[6], iidr, aidr;
    SimRange resv[SIM_MAX_RESV];
    unsigned nresv;
    uint32_t sid;              /* SMMUv3 physical StreamID */
    bool sid_set;              /* else the next free one (vfio.c) */
    char name[64];
} SimDevCfg;

int sim_cfg_parse(SimDevCfg *cfg, const char *text, char *err, size_t errlen);
/* Highest usable IOVA of a domain for this device (aperture end). */
uint64_t sim_cfg_aperture_last(const SimDevCfg *cfg);

/* ---- iommufd objects ---- */
enum sim_obj_kind {
    OBJ_IOAS = 1, OBJ_DEVICE, OBJ_HWPT_PAGING, OBJ_HWPT_NESTED,
    OBJ_VIOMMU, OBJ_VDEVICE, OBJ_VEVENTQ, OBJ_KIND_MAX
};

typedef struct SimArea {
    uint64_t iova, last;       /* inclusive range */
    uint64_t va;               /* host virtual address of iova */
    bool read, write;          /* IOMMU permissions */
    bool pages_writable;       /* "pinned" writable (for IOAS_COPY) */
} SimArea;

typedef struct SimIoas {
    SimArea *areas;            /* sorted by iova, non-overlapping */
    size_t nareas, cap;
    SimRange *allowed;         /* IOAS_ALLOW_IOVAS list, may be empty */
    size_t nallowed;
    bool no_large_pages;       /* IOMMU_OPTION_HUGE_PAGES set to 0 */
} SimIoas;

typedef struct SimDevice SimDevice;

typedef struct SimHwpt {
    /* paging */
    uint32_t ioas_id;
    bool nest_parent, dirty_cap, dirty_on, auto_domain;
    uint64_t *dirty;           /* sorted dirty 4K page numbers (IOVA) */
    size_t ndirty, dirty_cap_n;
    /* nested */
    uint32_t parent_id;        /* paging HWPT (VT-d) */
    uint32_t viommu_id;        /* vIOMMU (SMMUv3), 0 for VT-d */
    SimVtdS1 *vtd;             /* NULL if addr_width is not 48 or 57 */
    struct iommu_hwpt_vtd_s1 vtd_s1;   /* as HWPT_ALLOC got it */
    uint64_t ste[2];
    uint64_t inv_entries;
    /* the physical IOMMU the domain was allocated for */
    enum sim_iommu iommu;
    uint32_t instance;
    uint64_t aperture_last;
    bool ro_forbidden;         /* VT-d nest parent: ERRATA_772415_SPR17 */
} SimHwpt;

typedef struct SimViommu {
    uint32_t hwpt_id;
    SimSmmuCache *cache;
    uint32_t instance;
    uint64_t inv_entries;
} SimViommu;

typedef struct SimVdevice {
    uint32_t viommu_id, dev_id;
    uint64_t virt_id;
} SimVdevice;

/* One vEVENT on a vEVENTQ's deliver list (eventq.c). */
typedef struct SimVevent {
    struct iommufd_vevent_header hdr;
    uint32_t data_len;
    uint8_t data[32];           /* struct iommu_vevent_arm_smmuv3 */
    struct SimVevent *next, *prev;
} SimVevent;

typedef struct SimCtx SimCtx;

typedef struct SimVeventq {
    uint32_t viommu_id;
    uint32_t type, depth;
    uint32_t num_events;       /* normal vEVENTs on the list */
    uint32_t sequence;         /* next sequence index, 0..INT_MAX */
    SimVevent *head, *tail;    /* deliver list; may end with &lost */
    SimVevent lost;            /* the lost-events header */
    bool lost_queued;          /* &lost is on the list (always its tail) */
    /* the fd (shim.c): a pipe whose read end holds one byte iff the
     * deliver list is non-empty */
    SimCtx *ctx;
    int rfd;                   /* the fd VEVENTQ_ALLOC returned */
    int prfd, wfd;             /* private read and write ends (-1: closed) */
    dev_t st_dev;
    ino_t st_ino;
    int nfds;                  /* open fds of the file */
    bool signalled;            /* the byte is in the pipe */
} SimVeventq;

typedef struct SimObj {
    uint32_t id;
    enum sim_obj_kind kind;
    union {
        SimIoas ioas;
        SimHwpt hwpt;
        SimViommu viommu;
        SimVdevice vdev;
        SimVeventq evq;
        SimDevice *dev;        /* OBJ_DEVICE */
    };
} SimObj;

struct SimCtx {
    dev_t st_dev;
    ino_t st_ino;
    int nfds;                  /* open fds known to the shim */
    int nbound;                /* devices bound (they hold the file too) */
    unsigned serial;           /* for the report */
    SimObj **objs;             /* index = id; [0] unused */
    bool *tomb;                /* [id]: tombstone, id never handed out again */
    uint32_t nobjs;
    bool account_mm;           /* IOMMU_OPTION_RLIMIT_MODE */
    int nevqfiles;             /* open vEVENTQ files (each holds the ctx) */
};

/* ---- VFIO device ---- */
typedef struct SimDmaRegs {
    uint32_t ctrl, status, len, pasid, op, pattern;
    uint64_t src, dst;
    uint32_t fault_code, fault_info;
    uint64_t fault_addr, last_xlate;
    uint32_t hits, misses, stale, bytes_done;
    uint8_t data[SIMDEV_DATA_SIZE];
} SimDmaRegs;

enum sim_irq_type { IRQ_NONE = -1 };

struct SimDevice {
    dev_t st_dev;
    ino_t st_ino;
    int nfds;
    SimDevCfg cfg;
    SimCtx *ctx;               /* bound iommufd, NULL before BIND */
    uint32_t devid;
    uint32_t attached;         /* HWPT id, 0 = blocked */
    bool dma_blocked;          /* a failed VT-d attach blocked it (attach.c) */
    bool resv_dropped;         /* a refused replace in the same IOAS dropped
                                  its reserved regions there (attach.c) */
    /*
     * arm_smmu_master::vmaster: set when a nested HWPT is attached while
     * the device has a vDEVICE on its vIOMMU (attach.c), NULL otherwise.
     */
    bool vmaster;
    uint32_t vmaster_viommu;
    uint64_t vmaster_vsid;
    uint8_t config[SIM_CFG_SIZE];
    uint32_t bar0_raw;         /* BAR0 register as written */
    int irq_type;              /* VFIO_PCI_*_IRQ_INDEX or IRQ_NONE */
    int intx_fd, msi_fd, err_fd, req_fd;   /* -1 = unset */
    bool intx_masked;
    SimDmaRegs regs;
};

/* ---- globals (sim_lock held) ---- */
void sim_lock(void);
void sim_unlock(void);

/* ---- user memory access (never dereference caller pointers) ---- */
int sim_copy_from_user(void *dst, uint64_t uptr, size_t len);
int sim_copy_to_user(uint64_t uptr, const void *src, size_t len);
int sim_clear_user(uint64_t uptr, size_t len);
/* Copy within this process between host addresses; -EFAULT on failure. */
int sim_host_copy(uint64_t dst, uint64_t src, size_t len);
/* 0 if [va, va+len) is mapped readable (and writable if @write). */
int sim_check_user_range(uint64_t va, uint64_t len, bool write);

/* ---- observability ---- */
void sim_obs_init(void);
void sim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Count a call of @op; returns an injected -errno or 0. */
int sim_fail_check(const char *op);
/*
 * "OP:N:EIO@K" (only HWPT_INVALIDATE): for the call of @op being handled,
 * the entry index K the spec refuses, or -1.  The handler calls
 * sim_fail_refuse() instead of converting entry K: it counts and logs the
 * injection and returns -EIO.
 */
long sim_fail_refuse_at(const char *op);
int sim_fail_refuse(const char *op, uint32_t entry);
void sim_count(const char *name, uint64_t n);
void sim_ctx_register(SimCtx *ctx);
void sim_ctx_unregister(SimCtx *ctx);
const char *sim_errname(int err);

/* ---- iommufd core ---- */
SimCtx *sim_ctx_new(dev_t d, ino_t i);
void sim_ctx_release(SimCtx *ctx);        /* destroy every object */
long sim_iommufd_ioctl(SimCtx *ctx, unsigned long req, uint64_t arg);
SimObj *sim_obj_get(SimCtx *ctx, uint32_t id, enum sim_obj_kind kind);
SimObj *sim_obj_alloc(SimCtx *ctx, enum sim_obj_kind kind);
void sim_obj_free(SimCtx *ctx, SimObj *obj);
/* Destroy @obj but keep its id reserved until the context is released. */
void sim_obj_tombstone(SimCtx *ctx, SimObj *obj);
unsigned sim_ctx_live(const SimCtx *ctx, enum sim_obj_kind kind);
const char *sim_obj_kind_name(enum sim_obj_kind kind);

/* Handlers set this to copy the command back even when failing. */
extern bool sim_force_respond;

/* IOAS (ioas.c) */
long sim_ioas_alloc(SimCtx *ctx, void *cmd);
long sim_ioas_map(SimCtx *ctx, void *cmd);
long sim_ioas_unmap(SimCtx *ctx, void *cmd);
long sim_ioas_copy(SimCtx *ctx, void *cmd);
long sim_ioas_iova_ranges(SimCtx *ctx, void *cmd);
long sim_ioas_allow_iovas(SimCtx *ctx, void *cmd);
void sim_ioas_destroy(SimIoas *ioas);
const SimArea *sim_ioas_find(const SimIoas *ioas, uint64_t iova);
/* Reserved ranges an IOAS currently has (apertures + device regions). */
size_t sim_ioas_reserved(SimCtx *ctx, uint32_t ioas_id, SimRange *out,
                         size_t max);
bool sim_ioas_overlaps(const SimIoas *ioas, uint64_t start, uint64_t last);
/* Can [start, last] become reserved?  0, or -EADDRINUSE (area / allowed). */
int sim_ioas_can_reserve(const SimIoas *ioas, uint64_t start, uint64_t last);
bool sim_ioas_has_readonly(const SimIoas *ioas);
/* Drop dirty bits of [iova, last] in every paging HWPT on @ioas_id. */
void sim_ioas_forget_dirty(SimCtx *ctx, uint32_t ioas_id, uint64_t iova,
                           uint64_t last);
void sim_ctx_maybe_release(SimCtx *ctx);

/* HWPT, vIOMMU, vDEVICE (hwpt.c) */
long sim_hwpt_alloc(SimCtx *ctx, void *cmd);
int sim_hwpt_paging_new(SimCtx *ctx, SimDevice *dev, SimObj *ioas,
                        uint32_t flags, SimObj **out);
long sim_hwpt_invalidate(SimCtx *ctx, void *cmd);
long sim_hwpt_set_dirty(SimCtx *ctx, void *cmd);
long sim_hwpt_get_dirty(SimCtx *ctx, void *cmd);
long sim_viommu_alloc(SimCtx *ctx, void *cmd);
long sim_vdevice_alloc(SimCtx *ctx, void *cmd);
long sim_get_hw_info(SimCtx *ctx, void *cmd);
void sim_obj_teardown(SimCtx *ctx, SimObj *obj);   /* free kind data */
/* Resolve an IPA through a paging HWPT's IOAS (stage 2). */
enum sim_fault_code sim_s2_lookup(SimCtx *ctx, SimObj *paging, uint64_t ipa,
                                  bool write, uint64_t *hva, uint64_t *contig);
void sim_hwpt_mark_dirty(SimHwpt *h, uint64_t iova, uint64_t len);
/* Paging HWPT backing @hwpt (itself, or the nested HWPT's parent). */
SimObj *sim_hwpt_paging_of(SimCtx *ctx, SimObj *hwpt);
SimObj *sim_vdevice_of(SimCtx *ctx, uint32_t viommu_id, uint32_t dev_id);

/* device attachment (attach.c) */
int sim_dev_attach(SimDevice *dev, uint32_t *pt_id);
void sim_dev_detach(SimDevice *dev);

/* ---- VFIO device (vfio.c) ---- */
SimDevice *sim_device_new(dev_t d, ino_t i, const char *cfgtext, int *err);
void sim_device_release(SimDevice *dev);
long sim_vfio_ioctl(SimDevice *dev, unsigned long req, uint64_t arg);
ssize_t sim_vfio_pread(SimDevice *dev, uint64_t buf, size_t n, off_t off);
ssize_t sim_vfio_pwrite(SimDevice *dev, uint64_t buf, size_t n, off_t off);
void sim_device_unbind(SimDevice *dev);
void sim_signal_eventfd(int fd);
bool sim_dev_bus_master(const SimDevice *dev);

/* vEVENTQ (eventq.c) */
long sim_veventq_alloc(SimCtx *ctx, void *cmd);
/*
 * Report one vEVENT of @type on vIOMMU @viommu_id: 0, or -EOPNOTSUPP when
 * the vIOMMU has no vEVENTQ of that type.
 */
int sim_viommu_report_event(SimCtx *ctx, uint32_t viommu_id, uint32_t type,
                            const void *data, uint32_t len);
/* The SMMU's event handling for a record of the device's StreamID. */
int sim_smmu_handle_event(SimDevice *dev, const uint64_t evt[4]);
ssize_t sim_veventq_read(SimObj *obj, uint64_t buf, size_t n);
void sim_veventq_teardown(SimCtx *ctx, SimObj *obj);
/* Is the vEVENTQ file still open (it holds a users reference)? */
bool sim_veventq_busy(const SimObj *obj);

/* ---- shim (shim.c) ---- */
/* Give @obj (a vEVENTQ) its fd; returns the fd or -errno. */
int sim_shim_veventq_open(SimCtx *ctx, SimObj *obj);
/* Forget the fds of @obj without releasing anything (abort). */
void sim_shim_veventq_abort(SimObj *obj);
/* The iommufd context behind fd @fd: EBADF if closed, EBADFD if not one. */
SimCtx *sim_shim_ctx_of_fd(int fd, int *err);

/* ---- DMA engine (dma.c) ---- */
void sim_dma_reset(SimDevice *dev);
uint64_t sim_dma_read(SimDevice *dev, uint64_t off, unsigned size);
void sim_dma_write(SimDevice *dev, uint64_t off, unsigned size, uint64_t val);
/*
 * A raw SMMUv3 event record (host order) as the device's SMMU would write
 * it: the StreamID field is set to the device's, then the driver handles
 * it.  0 if forwarded to a vEVENTQ, -EINVAL for a VT-d device, else the
 * driver's -errno.
 */
int sim_dma_inject_event(SimDevice *dev, const uint64_t evt[4]);

#endif
