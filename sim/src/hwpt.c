/*
 * iommufd-sim: HW page tables (paging and nested), vIOMMU, vDEVICE,
 * GET_HW_INFO, cache invalidation and dirty tracking.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define VTD_CAP_FS5LP   (1ull << 60)
#define VTD_ECAP_SMTS   (1ull << 43)
#define VTD_ECAP_FSTS   (1ull << 47)

/* SMMUv3 IDR0.S1P: the driver's ARM_SMMU_FEAT_TRANS_S1. */
#define SMMU_IDR0_S1P   (1u << 1)

/* SMMUv3 STE fields a nested vSTE may carry (the uAPI kernel-doc list). */
#define STE0_V          1ull
#define STE0_CFG(w)     (((w) >> 1) & 7)
#define STE0_ALLOWED    (0x3full | (((1ull << 46) - 1) << 6) | (0x1full << 59))
#define STE1_EATS(w)    (((w) >> 28) & 3)
#define STE1_EATS_MASK  (3ull << 28)
#define STE1_ALLOWED    (0xffull | (1ull << 27) | STE1_EATS_MASK)
#define STE_CFG_ABORT   0
#define STE_CFG_BYPASS  4
#define STE_CFG_S1      5


static SimDevice *get_dev(SimCtx *ctx, uint32_t id)
{
    SimObj *o = sim_obj_get(ctx, id, OBJ_DEVICE);

    return o ? o->dev : NULL;
}

SimObj *sim_hwpt_paging_of(SimCtx *ctx, SimObj *hwpt)
{
    if (!hwpt) {
        return NULL;
    }
    if (hwpt->kind == OBJ_HWPT_PAGING) {
        return hwpt;
    }
    if (hwpt->kind != OBJ_HWPT_NESTED) {
        return NULL;
    }
    if (hwpt->hwpt.viommu_id) {
        SimObj *v = sim_obj_get(ctx, hwpt->hwpt.viommu_id, OBJ_VIOMMU);

        return v ? sim_obj_get(ctx, v->viommu.hwpt_id, OBJ_HWPT_PAGING) : NULL;
    }
    return sim_obj_get(ctx, hwpt->hwpt.parent_id, OBJ_HWPT_PAGING);
}

SimObj *sim_vdevice_of(SimCtx *ctx, uint32_t viommu_id, uint32_t dev_id)
{
    for (uint32_t i = 1; i < ctx->nobjs; i++) {
        SimObj *o = ctx->objs[i];

        if (o && o->kind == OBJ_VDEVICE && o->vdev.dev_id == dev_id &&
            (!viommu_id || o->vdev.viommu_id == viommu_id)) {
            return o;
        }
    }
    return NULL;
}

void sim_obj_teardown(SimCtx *ctx, SimObj *obj)
{
    switch (obj->kind) {
    case OBJ_IOAS:
        sim_ioas_destroy(&obj->ioas);
        break;
    case OBJ_HWPT_PAGING:
        free(obj->hwpt.dirty);
        break;
    case OBJ_HWPT_NESTED:
        if (obj->hwpt.vtd) {
            sim_vtd_s1_free(obj->hwpt.vtd);
        }
        break;
    case OBJ_VIOMMU:
        sim_smmu_cache_free(obj->viommu.cache);
        break;
    case OBJ_VEVENTQ:
        sim_veventq_teardown(ctx, obj);
        break;
    case OBJ_VDEVICE: {
        SimObj *v = sim_obj_get(ctx, obj->vdev.viommu_id, OBJ_VIOMMU);

        if (v) {
            sim_smmu_forget_sid(v->viommu.cache, (uint32_t)obj->vdev.virt_id);
        }
        break;
    }
    default:
        break;
    }
}

/* ---- stage 2 ---- */
enum sim_fault_code sim_s2_lookup(SimCtx *ctx, SimObj *paging, uint64_t ipa,
                                  bool write, uint64_t *hva, uint64_t *contig)
{
    SimObj *ioas = sim_obj_get(ctx, paging->hwpt.ioas_id, OBJ_IOAS);
    const SimArea *a = ioas ? sim_ioas_find(&ioas->ioas, ipa) : NULL;

    if (!a) {
        return SIM_FAULT_S2_UNMAPPED;
    }
    if (write ? !a->write : !a->read) {
        return SIM_FAULT_S2_PERM;
    }
    *hva = a->va + (ipa - a->iova);
    *contig = a->last - ipa + 1;
    return SIM_FAULT_NONE;
}

/* ---- dirty pages: a sorted set of 4K page numbers per paging HWPT ---- */
static size_t dirty_pos(const SimHwpt *h, uint64_t pfn)
{
    size_t lo = 0, hi = h->ndirty;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (h->dirty[mid] < pfn) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

void sim_hwpt_mark_dirty(SimHwpt *h, uint64_t iova, uint64_t len)
{
    if (!h->dirty_on || !len) {
        return;
    }
    for (uint64_t pfn = iova / SIM_PAGE_SIZE;
         pfn <= (iova + len - 1) / SIM_PAGE_SIZE; pfn++) {
        size_t pos = dirty_pos(h, pfn);

        if (pos < h->ndirty && h->dirty[pos] == pfn) {
            continue;
        }
        if (h->ndirty == h->dirty_cap_n) {
            size_t n = h->dirty_cap_n ? h->dirty_cap_n * 2 : 64;
            uint64_t *d = realloc(h->dirty, n * sizeof(*d));

            if (!d) {
                sim_log("warning: dirty bitmap allocation failed");
                return;
            }
            h->dirty = d;
            h->dirty_cap_n = n;
        }
        memmove(&h->dirty[pos + 1], &h->dirty[pos],
                (h->ndirty - pos) * sizeof(uint64_t));
        h->dirty[pos] = pfn;
        h->ndirty++;
    }
}

static void dirty_clear(SimHwpt *h, uint64_t first_pfn, uint64_t last_pfn)
{
    size_t a = dirty_pos(h, first_pfn), b = a;

    while (b < h->ndirty && h->dirty[b] <= last_pfn) {
        b++;
    }
    memmove(&h->dirty[a], &h->dirty[b], (h->ndirty - b) * sizeof(uint64_t));
    h->ndirty -= b - a;
}

void sim_ioas_forget_dirty(SimCtx *ctx, uint32_t ioas_id, uint64_t iova,
                           uint64_t last)
{
    for (uint32_t i = 1; i < ctx->nobjs; i++) {
        SimObj *o = ctx->objs[i];

        if (o && o->kind == OBJ_HWPT_PAGING && o->hwpt.ioas_id == ioas_id) {
            dirty_clear(&o->hwpt, iova / SIM_PAGE_SIZE, last / SIM_PAGE_SIZE);
        }
    }
}

/*
 * drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_set_dirty_tracking
 * checks the flags only (__reserved is not looked at), then
 * io_pagetable.c:iopt_set_dirty_tracking: no dirty ops is EOPNOTSUPP,
 * enabling clears the dirty bits first.
 */
long sim_hwpt_set_dirty(SimCtx *ctx, void *arg)
{
    struct iommu_hwpt_set_dirty_tracking *cmd = arg;
    SimObj *h;

    if (cmd->flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE) {
        return -EOPNOTSUPP;
    }
    h = sim_obj_get(ctx, cmd->hwpt_id, OBJ_HWPT_PAGING);
    if (!h) {
        return -ENOENT;
    }
    if (!h->hwpt.dirty_cap) {
        return -EOPNOTSUPP;     /* domain has no dirty ops */
    }
    if (cmd->flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE) {
        h->hwpt.ndirty = 0;     /* enabling starts from a clean state */
    }
    h->hwpt.dirty_on = cmd->flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
    return 0;
}

/* Set bit @bit in the user bitmap at @data (read-modify-write). */
static int set_user_bit(uint64_t data, uint64_t bit)
{
    uint64_t addr = data + (bit / 64) * 8, word;
    int ret = sim_copy_from_user(&word, addr, sizeof(word));

    if (ret) {
        return ret;
    }
    word |= 1ull << (bit % 64);
    return sim_copy_to_user(addr, &word, sizeof(word));
}

/*
 * drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_get_dirty_bitmap, then
 * io_pagetable.c:iommufd_check_iova_range (EOVERFLOW, EINVAL) before
 * iommu_read_and_clear_dirty looks for dirty ops (EOPNOTSUPP).  Zero
 * length and a page_size that is not a power of two are refused (a
 * deliberate difference, README).
 */
long sim_hwpt_get_dirty(SimCtx *ctx, void *arg)
{
    struct iommu_hwpt_get_dirty_bitmap *cmd = arg;
    SimObj *h, *ioas;
    uint64_t last;
    int ret;

    if ((cmd->flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) ||
        cmd->__reserved) {
        return -EOPNOTSUPP;
    }
    h = sim_obj_get(ctx, cmd->hwpt_id, OBJ_HWPT_PAGING);
    if (!h) {
        return -ENOENT;
    }
    if (!cmd->length ||
        __builtin_add_overflow(cmd->iova, cmd->length - 1, &last)) {
        return -EOVERFLOW;
    }
    if ((cmd->iova & (SIM_PAGE_SIZE - 1)) || ((last + 1) & (SIM_PAGE_SIZE - 1)) ||
        !cmd->page_size || (cmd->page_size & (cmd->page_size - 1)) ||
        (cmd->iova & (cmd->page_size - 1)) ||
        ((last + 1) & (cmd->page_size - 1))) {
        return -EINVAL;
    }
    if (!h->hwpt.dirty_cap) {
        return -EOPNOTSUPP;
    }
    ioas = sim_obj_get(ctx, h->hwpt.ioas_id, OBJ_IOAS);
    for (size_t i = dirty_pos(&h->hwpt, cmd->iova / SIM_PAGE_SIZE);
         i < h->hwpt.ndirty; i++) {
        uint64_t iova = h->hwpt.dirty[i] * SIM_PAGE_SIZE;

        if (iova > last) {
            break;
        }
        if (!ioas || !sim_ioas_find(&ioas->ioas, iova)) {
            continue;           /* only mapped IOVA can be dirty */
        }
        ret = set_user_bit(cmd->data, (iova - cmd->iova) / cmd->page_size);
        if (ret) {
            return ret;
        }
    }
    if (!(cmd->flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR)) {
        dirty_clear(&h->hwpt, cmd->iova / SIM_PAGE_SIZE, last / SIM_PAGE_SIZE);
    }
    return 0;
}

/* ---- HWPT_ALLOC ---- */

/*
 * include/linux/uaccess.h:copy_struct_from_user: a shorter user struct is
 * zero-extended, a longer one must have a zero tail (else E2BIG).
 */
static int copy_struct_user(void *dst, size_t ksize, uint64_t src,
                            size_t usize)
{
    uint8_t b;

    if (usize < ksize) {
        memset((uint8_t *)dst + usize, 0, ksize - usize);
    }
    for (size_t off = ksize; off < usize; off++) {
        int ret = sim_copy_from_user(&b, src + off, 1);

        if (ret) {
            return ret;
        }
        if (b) {
            return -E2BIG;
        }
    }
    return sim_copy_from_user(dst, src, usize < ksize ? usize : ksize);
}

/*
 * include/linux/iommu.h:__iommu_copy_struct_from_user: the user length
 * must lie in [min, size]; above the struct is EINVAL whatever the tail.
 */
static int copy_struct_bounded(void *dst, size_t size, size_t min,
                               uint64_t src, size_t len)
{
    if (len < min || len > size) {
        return -EINVAL;
    }
    return copy_struct_user(dst, size, src, len);
}

/*
 * include/linux/iommu.h:iommu_copy_struct_from_user (HWPT_ALLOC data):
 * __iommu_copy_struct_from_user refuses another data type (EINVAL).
 */
static int copy_user_data(const struct iommu_hwpt_alloc *cmd, uint32_t type,
                          void *dst, size_t size, size_t min)
{
    if (cmd->data_type != type) {
        return -EINVAL;
    }
    return copy_struct_bounded(dst, size, min, cmd->data_uptr, cmd->data_len);
}

static SimObj *new_hwpt(SimCtx *ctx, enum sim_obj_kind kind, SimDevice *dev)
{
    SimObj *h = sim_obj_alloc(ctx, kind);

    if (h) {
        h->hwpt.iommu = dev->cfg.iommu;
        h->hwpt.instance = dev->cfg.instance;
        h->hwpt.aperture_last = sim_cfg_aperture_last(&dev->cfg);
    }
    return h;
}

/*
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c:arm_smmu_domain_alloc_paging_flags
 * switches on the exact flag set: a stage-2 nest parent takes neither
 * dirty tracking nor PASID; DIRTY_TRACKING and PASID make a stage-1
 * domain, which needs ARM_SMMU_FEAT_TRANS_S1.
 */
static bool smmu_paging_flags_ok(const SimDevCfg *c, uint32_t flags)
{
    const uint32_t dt = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
        pa = IOMMU_HWPT_ALLOC_PASID;

    flags &= ~IOMMU_HWPT_FAULT_ID_VALID;
    if (flags == dt || flags == (dt | pa) || flags == pa) {
        return c->idr[0] & SMMU_IDR0_S1P;
    }
    return flags == 0 || flags == IOMMU_HWPT_ALLOC_NEST_PARENT;
}

/*
 * The last IOVA of a paging domain.  drivers/iommu/intel/iommu.c:
 * intel_iommu_domain_alloc_paging_flags prefers a first-stage domain
 * (intel_iommu_domain_alloc_first_stage: flags at most PASID, scalable
 * mode and ECAP.FLTS), whose table is sign-extended: the aperture is its
 * lower half, 47 bits, or 56 with CAP.FS5LP and MGAW above 48
 * (compute_vasz_lg2_fs; generic_pt/iommu_pt.h pt_top_range).  Anything
 * else is a second-stage (or SMMU) domain with the unit's full width.
 */
static uint64_t paging_aperture_last(const SimDevCfg *c, uint32_t flags)
{
    unsigned mgaw = (unsigned)((c->vtd_cap >> 16) & 0x3f) + 1, vasz;

    if (c->iommu != SIM_IOMMU_VTD || (flags & ~IOMMU_HWPT_ALLOC_PASID) ||
        !(c->vtd_ecap & VTD_ECAP_SMTS) || !(c->vtd_ecap & VTD_ECAP_FSTS)) {
        return sim_cfg_aperture_last(c);
    }
    if (mgaw > 48 && (c->vtd_cap & VTD_CAP_FS5LP)) {
        vasz = mgaw < 57 ? mgaw : 57;
    } else {
        vasz = mgaw < 48 ? mgaw : 48;
    }
    return (1ull << (vasz - 1)) - 1;
}

/* A paging domain on an IOAS; also used for the auto domain of attach. */
int sim_hwpt_paging_new(SimCtx *ctx, SimDevice *dev, SimObj *ioas,
                        uint32_t flags, SimObj **out)
{
    const uint32_t valid = IOMMU_HWPT_ALLOC_NEST_PARENT |
        IOMMU_HWPT_ALLOC_DIRTY_TRACKING | IOMMU_HWPT_FAULT_ID_VALID |
        IOMMU_HWPT_ALLOC_PASID;
    bool ro_forbidden;
    uint64_t ap;
    SimObj *h;
    int ret;

    /* drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_paging_alloc */
    if (flags & ~valid) {
        return -EOPNOTSUPP;
    }
    if ((flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) && !dev->cfg.dirty) {
        return -EOPNOTSUPP;
    }
    if ((flags & IOMMU_HWPT_FAULT_ID_VALID) &&
        (flags & IOMMU_HWPT_ALLOC_NEST_PARENT)) {
        return -EOPNOTSUPP;
    }
    if (dev->cfg.iommu == SIM_IOMMU_SMMUV3 &&
        !smmu_paging_flags_ok(&dev->cfg, flags)) {
        return -EOPNOTSUPP;
    }
    /*
     * drivers/iommu/intel/iommu.c:intel_iommu_domain_alloc_second_stage
     * needs NEST for a nest parent (SSADS for dirty tracking, above).
     * Neither it, intel_iommu_domain_alloc_first_stage nor
     * arm_smmu_domain_alloc_paging_flags looks at the device's PASID
     * support for IOMMU_HWPT_ALLOC_PASID.
     */
    if ((flags & IOMMU_HWPT_ALLOC_NEST_PARENT) && !dev->cfg.nesting) {
        return -EOPNOTSUPP;
    }
    /*
     * drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_alloc looks the
     * fault_id up once the domain exists: no FAULT objects in the sim.
     */
    if (flags & IOMMU_HWPT_FAULT_ID_VALID) {
        return -ENOENT;
    }
    /*
     * Adding the domain reserves everything beyond its aperture:
     * drivers/iommu/iommufd/io_pagetable.c:iopt_table_add_domain.
     */
    ap = paging_aperture_last(&dev->cfg, flags);
    if (ap != UINT64_MAX &&
        (ret = sim_ioas_can_reserve(&ioas->ioas, ap + 1, UINT64_MAX))) {
        return ret;
    }
    /*
     * drivers/iommu/intel/iommu.c:intel_iommu_domain_alloc_second_stage
     * gives every nest parent PT_FEAT_VTDSS_FORCE_WRITEABLE (7.2 does not
     * look at the CPU model); filling it with an existing read-only area
     * fails in vtdss_pt_iommu_set_prot.
     */
    ro_forbidden = (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) &&
                   dev->cfg.iommu == SIM_IOMMU_VTD && dev->cfg.errata_772415;
    if (ro_forbidden && sim_ioas_has_readonly(&ioas->ioas)) {
        return -EINVAL;         /* filling the domain fails on an RO area */
    }
    h = new_hwpt(ctx, OBJ_HWPT_PAGING, dev);
    if (!h) {
        return -ENOMEM;
    }
    h->hwpt.ioas_id = ioas->id;
    h->hwpt.aperture_last = ap;
    h->hwpt.nest_parent = flags & IOMMU_HWPT_ALLOC_NEST_PARENT;
    h->hwpt.dirty_cap = flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
    h->hwpt.ro_forbidden = ro_forbidden;
    *out = h;
    return 0;
}

static int vtd_nested_alloc(SimCtx *ctx, SimDevice *dev, SimObj *parent,
                            const struct iommu_hwpt_alloc *cmd, SimObj **out)
{
    struct iommu_hwpt_vtd_s1 s1;
    const SimDevCfg *c = &dev->cfg;
    SimObj *h;
    int ret;

    /*
     * drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_nested_alloc
     * refuses a driver without domain_alloc_nested (arm-smmu-v3 nests
     * through a vIOMMU only) before it looks at the parent.
     */
    if ((cmd->flags & ~(IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID)) ||
        !cmd->data_len || c->iommu != SIM_IOMMU_VTD) {
        return -EOPNOTSUPP;
    }
    /* ... and a parent of another driver (domain->owner != ops) */
    if (parent->hwpt.auto_domain || !parent->hwpt.nest_parent ||
        parent->hwpt.iommu != c->iommu) {
        return -EINVAL;
    }
    /*
     * drivers/iommu/intel/nested.c:intel_iommu_domain_alloc_nested gets
     * the flags without FAULT_ID_VALID: NEST and VTD_S1 data are needed
     * (EOPNOTSUPP), PASID is fine whatever the device.
     */
    if (!c->nesting || cmd->data_type != IOMMU_HWPT_DATA_VTD_S1) {
        return -EOPNOTSUPP;
    }
    ret = copy_user_data(cmd, IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1),
                         sizeof(s1));
    if (ret) {
        return ret;
    }
    /*
     * intel_iommu_domain_alloc_nested keeps s1 as it is: addr_width, SRE
     * and EAFE are checked when the HWPT is attached (attach.c,
     * intel_pasid_setup_nested); unknown s1.flags bits and s1.__reserved
     * are never looked at.
     */
    /* iommufd_hwpt_alloc's fault_id lookup: no FAULT objects in the sim */
    if (cmd->flags & IOMMU_HWPT_FAULT_ID_VALID) {
        return -ENOENT;
    }
    h = new_hwpt(ctx, OBJ_HWPT_NESTED, dev);
    if (!h) {
        return -ENOMEM;
    }
    /*
     * There is no walker for another addr_width: such a HWPT has none and
     * can never be attached (the attach refuses it before any DMA).
     */
    if (s1.addr_width == 48 || s1.addr_width == 57) {
        h->hwpt.vtd = sim_vtd_s1_new(s1.flags, s1.pgtbl_addr, s1.addr_width,
                                     c->vtd_cap, c->vtd_ecap);
        if (!h->hwpt.vtd) {
            sim_obj_free(ctx, h);
            return -ENOMEM;
        }
    }
    h->hwpt.vtd_s1 = s1;
    h->hwpt.parent_id = parent->id;
    *out = h;
    return 0;
}

/*
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-iommufd.c:arm_smmu_validate_vste:
 * EIO for anything a guest may not set.  The words stay little-endian, as
 * the walkers expect them.
 */
static int smmu_validate_vste(uint64_t ste_le[2])
{
    uint64_t ste[2] = { le64toh(ste_le[0]), le64toh(ste_le[1]) };
    unsigned cfg;

    if (!(ste[0] & STE0_V)) {
        ste_le[0] = ste_le[1] = 0;      /* invalid STE == abort */
        return 0;
    }
    if ((ste[0] & ~STE0_ALLOWED) || (ste[1] & ~STE1_ALLOWED)) {
        return -EIO;
    }
    cfg = STE0_CFG(ste[0]);
    if (cfg != STE_CFG_ABORT && cfg != STE_CFG_BYPASS && cfg != STE_CFG_S1) {
        return -EIO;
    }
    if (STE1_EATS(ste[1]) > 1) {
        return -EIO;            /* only "abort" or "full ATS" */
    }
    ste_le[1] = htole64(ste[1] & ~STE1_EATS_MASK);
    return 0;
}

static int smmu_nested_alloc(SimCtx *ctx, SimDevice *dev, SimObj *viommu,
                             const struct iommu_hwpt_alloc *cmd, SimObj **out)
{
    struct iommu_hwpt_arm_smmuv3 data;
    SimObj *h;
    int ret;

    /*
     * drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_alloc: the vIOMMU
     * must belong to the device's SMMU (viommu->iommu_dev, EINVAL).
     */
    if (dev->cfg.iommu != SIM_IOMMU_SMMUV3 ||
        dev->cfg.instance != viommu->viommu.instance) {
        return -EINVAL;
    }
    /*
     * drivers/iommu/iommufd/hw_pagetable.c:iommufd_viommu_alloc_hwpt_nested
     * takes FAULT_ID_VALID and PASID and needs data;
     * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-iommufd.c:arm_vsmmu_alloc_domain_nested
     * gets the flags without FAULT_ID_VALID and refuses any (PASID).
     */
    if ((cmd->flags & ~(IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID)) ||
        !cmd->data_len || (cmd->flags & ~IOMMU_HWPT_FAULT_ID_VALID)) {
        return -EOPNOTSUPP;
    }
    ret = copy_user_data(cmd, IOMMU_HWPT_DATA_ARM_SMMUV3, &data, sizeof(data),
                         sizeof(data));
    if (ret) {
        return ret;
    }
    ret = smmu_validate_vste((uint64_t *)data.ste);
    if (ret) {
        return ret;
    }
    /*
     * drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_alloc looks the
     * fault_id up once the domain exists: there are no FAULT objects in
     * the simulator, so that is always ENOENT.
     */
    if (cmd->flags & IOMMU_HWPT_FAULT_ID_VALID) {
        return -ENOENT;
    }
    h = new_hwpt(ctx, OBJ_HWPT_NESTED, dev);
    if (!h) {
        return -ENOMEM;
    }
    h->hwpt.viommu_id = viommu->id;
    memcpy(h->hwpt.ste, (const void *)data.ste, sizeof(h->hwpt.ste));
    *out = h;
    return 0;
}

/* drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_alloc */
long sim_hwpt_alloc(SimCtx *ctx, void *arg)
{
    struct iommu_hwpt_alloc *cmd = arg;
    SimDevice *dev;
    SimObj *pt, *h = NULL;
    int ret;

    if (cmd->__reserved) {
        return -EOPNOTSUPP;
    }
    if ((cmd->data_type == IOMMU_HWPT_DATA_NONE && cmd->data_len) ||
        (cmd->data_type != IOMMU_HWPT_DATA_NONE && !cmd->data_len)) {
        return -EINVAL;
    }
    dev = get_dev(ctx, cmd->dev_id);
    if (!dev) {
        return -ENOENT;
    }
    /*
     * drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_alloc: a pt_id
     * that names nothing is EINVAL (iommufd_get_object fails), like one
     * of a wrong type.
     */
    pt = sim_obj_get(ctx, cmd->pt_id, 0);
    if (!pt) {
        return -EINVAL;
    }
    switch (pt->kind) {
    case OBJ_IOAS:
        /*
         * drivers take no user data for a paging domain:
         * drivers/iommu/intel/iommu.c:intel_iommu_domain_alloc_paging_flags,
         * arm-smmu-v3.c:arm_smmu_domain_alloc_paging_flags (EOPNOTSUPP)
         */
        ret = cmd->data_len ? -EOPNOTSUPP :
              sim_hwpt_paging_new(ctx, dev, pt, cmd->flags, &h);
        break;
    case OBJ_HWPT_PAGING:
        ret = vtd_nested_alloc(ctx, dev, pt, cmd, &h);
        break;
    case OBJ_VIOMMU:
        ret = smmu_nested_alloc(ctx, dev, pt, cmd, &h);
        break;
    default:
        ret = -EINVAL;
    }
    if (ret) {
        return ret;
    }
    cmd->out_hwpt_id = h->id;
    return 0;
}

/* ---- HWPT_INVALIDATE ---- */

/* IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX of iommufd/hw_pagetable.c */
#define SIM_INVALIDATE_ENTRY_NUM_MAX (1u << 19)

/* Address of entry @i of the user array. */
static uint64_t entry_uptr(const struct iommu_hwpt_invalidate *cmd, uint32_t i)
{
    return cmd->data_uptr + (uint64_t)i * cmd->entry_len;
}

/* drivers/iommu/intel/nested.c:intel_nested_cache_invalidate_user */
static int vtd_invalidate(SimObj *h, struct iommu_hwpt_invalidate *cmd,
                          uint32_t *done)
{
    if (cmd->data_type != IOMMU_HWPT_INVALIDATE_DATA_VTD_S1) {
        return -EINVAL;
    }
    for (*done = 0; *done < cmd->entry_num; (*done)++) {
        struct iommu_hwpt_vtd_s1_invalidate e;
        /*
         * include/linux/iommu.h:iommu_copy_struct_from_user_array, with
         * min_last __reserved: entry_len must be exactly sizeof(e).
         */
        int ret = copy_struct_bounded(&e, sizeof(e), sizeof(e),
                                      entry_uptr(cmd, *done), cmd->entry_len);

        if (ret) {
            return ret;
        }
        if ((e.flags & ~IOMMU_VTD_INV_FLAGS_LEAF) || e.__reserved) {
            return -EOPNOTSUPP;
        }
        if ((e.addr & (SIM_PAGE_SIZE - 1)) ||
            (e.npages == UINT64_MAX && e.addr)) {
            return -EINVAL;
        }
        if (h->hwpt.vtd) {      /* none: never attached, nothing cached */
            sim_vtd_s1_invalidate(h->hwpt.vtd, e.addr, e.npages,
                                  e.flags & IOMMU_VTD_INV_FLAGS_LEAF);
        }
        h->hwpt.inv_entries++;
        sim_count("inv.entries", 1);
    }
    return 0;
}

/* CMDQ_BATCH_ENTRIES (BITS_PER_LONG on arm64) of the SMMUv3 driver. */
#define SMMU_CMDQ_BATCH_ENTRIES 64

typedef struct iommu_viommu_arm_smmuv3_invalidate SmmuCmd;

static bool vsid_known(SimCtx *ctx, SimObj *v, uint64_t vsid)
{
    for (uint32_t i = 1; i < ctx->nobjs; i++) {
        SimObj *o = ctx->objs[i];

        if (o && o->kind == OBJ_VDEVICE && o->vdev.viommu_id == v->id &&
            o->vdev.virt_id == vsid) {
            return true;
        }
    }
    return false;
}

/*
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-iommufd.c:arm_vsmmu_convert_user_cmd
 * EIO for an opcode the host does not forward, and for CFGI_CD/CFGI_CD_ALL/
 * ATC_INV whose vSID has no vDEVICE on this vIOMMU.
 */
static int smmu_convert_cmd(SimCtx *ctx, SimObj *v, const SmmuCmd *c)
{
    uint64_t w0 = le64toh(c->cmd[0]);

    switch (w0 & 0xff) {
    case CMD_TLBI_NH_ALL: case CMD_TLBI_NH_ASID: case CMD_TLBI_NH_VA:
    case CMD_TLBI_NH_VAA: case CMD_TLBI_NSNH_ALL:
        return 0;
    case CMD_CFGI_CD: case CMD_CFGI_CD_ALL: case CMD_ATC_INV:
        return vsid_known(ctx, v, w0 >> 32) ? 0 : -EIO;
    default:
        return -EIO;
    }
}

/*
 * Issuing a block of commands to the command queue: apply them
 * (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c:arm_smmu_cmdq_issue_cmdlist;
 * the commands were converted already, so this does not fail).
 */
static int smmu_issue(SimObj *v, const SmmuCmd *cmds, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        int ret = sim_smmu_invalidate(v->viommu.cache,
                                      (const uint64_t *)cmds[i].cmd);

        if (ret) {
            return ret;
        }
        v->viommu.inv_entries++;
        sim_count("inv.entries", 1);
    }
    return 0;
}

static int smmu_copy_cmds(const struct iommu_hwpt_invalidate *cmd,
                          SmmuCmd *cmds)
{
    /*
     * include/linux/iommu.h:iommu_copy_struct_from_full_user_array: no
     * minimum entry_len, each entry goes through copy_struct_from_user.
     */
    if (!cmd->entry_num) {
        return -EINVAL;         /* an empty array is not a probe here */
    }
    for (uint32_t i = 0; i < cmd->entry_num; i++) {
        int ret = copy_struct_user(&cmds[i], sizeof(cmds[i]),
                                   entry_uptr(cmd, i), cmd->entry_len);

        if (ret) {
            return ret;
        }
    }
    return 0;
}

/*
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-iommufd.c:arm_vsmmu_cache_invalidate
 * The whole array is copied first (a failure handles nothing).  Commands
 * are then converted in order and issued in blocks of
 * CMDQ_BATCH_ENTRIES - 1, or at the end of the array.  When converting
 * command k fails, the unissued block before it is dropped, yet
 * entry_num is k; when issuing a block fails, entry_num is its end - 1.
 * IOMMUFD_SIM_FAIL "HWPT_INVALIDATE:N:EIO@K" makes converting command K
 * of the N-th call fail that way, if the loop gets there (K < entry_num,
 * nothing failed before it).
 */
static int smmu_invalidate(SimCtx *ctx, SimObj *v,
                           struct iommu_hwpt_invalidate *cmd, uint32_t *done)
{
    uint32_t n = cmd->entry_num, cur = 0, last = 0;
    long refuse = sim_fail_refuse_at("HWPT_INVALIDATE");
    SmmuCmd *cmds;
    int ret;

    *done = 0;
    if (cmd->data_type != IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3) {
        return -EINVAL;
    }
    cmds = calloc(n ? n : 1, sizeof(*cmds));
    if (!cmds) {
        *done = n;              /* returns before entry_num is updated */
        return -ENOMEM;
    }
    ret = smmu_copy_cmds(cmd, cmds);
    while (!ret && cur != n) {
        ret = (long)cur == refuse ? sim_fail_refuse("HWPT_INVALIDATE", cur)
                                  : smmu_convert_cmd(ctx, v, &cmds[cur]);
        if (ret) {
            break;
        }
        cur++;
        if (cur != n && cur - last != SMMU_CMDQ_BATCH_ENTRIES - 1) {
            continue;
        }
        ret = smmu_issue(v, &cmds[last], cur - last);
        if (ret) {
            cur--;
            break;
        }
        last = cur;
    }
    *done = cur;
    free(cmds);
    return ret;
}

long sim_hwpt_invalidate(SimCtx *ctx, void *arg)
{
    struct iommu_hwpt_invalidate *cmd = arg;
    uint32_t done = 0;
    SimObj *o;
    int ret;

    sim_force_respond = true;   /* entry_num is written back in any case */
    /* iommufd_hwpt_invalidate: even this failure reports entry_num 0 */
    if (cmd->__reserved) {
        cmd->entry_num = 0;
        return -EOPNOTSUPP;
    }
    sim_count("inv.calls", 1);
    /* drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_invalidate */
    if (cmd->entry_num &&
        (!cmd->data_uptr || !cmd->entry_len ||
         cmd->entry_len > SIM_PAGE_SIZE ||
         cmd->entry_num > SIM_INVALIDATE_ENTRY_NUM_MAX)) {
        ret = -EINVAL;
        goto out;
    }
    o = sim_obj_get(ctx, cmd->hwpt_id, 0);
    if (!o) {
        ret = -ENOENT;
    } else if (o->kind == OBJ_HWPT_NESTED && !o->hwpt.viommu_id) {
        ret = vtd_invalidate(o, cmd, &done);
    } else if (o->kind == OBJ_HWPT_NESTED) {
        ret = -EOPNOTSUPP;      /* SMMUv3 invalidates through the vIOMMU */
    } else if (o->kind == OBJ_VIOMMU) {
        ret = smmu_invalidate(ctx, o, cmd, &done);
    } else {
        ret = -EINVAL;
    }
out:
    cmd->entry_num = done;
    return ret;
}

/* ---- vIOMMU and vDEVICE ---- */
long sim_viommu_alloc(SimCtx *ctx, void *arg)
{
    struct iommu_viommu_alloc *cmd = arg;
    SimDevice *dev;
    SimObj *h, *v;

    if (cmd->flags || cmd->type == IOMMU_VIOMMU_TYPE_DEFAULT) {
        return -EOPNOTSUPP;
    }
    dev = get_dev(ctx, cmd->dev_id);
    if (!dev) {
        return -ENOENT;
    }
    /*
     * drivers/iommu/iommufd/viommu.c:iommufd_viommu_alloc_ioctl asks the
     * driver for the type's size (arm_smmu_get_viommu_size: 0 without
     * nesting or for another type -> EOPNOTSUPP) before it looks at the
     * HWPT.  Neither it nor arm_vsmmu_init needs the device attached: only
     * the nest parent's SMMU must be the device's (EINVAL).
     */
    if (dev->cfg.iommu != SIM_IOMMU_SMMUV3 ||
        cmd->type != IOMMU_VIOMMU_TYPE_ARM_SMMUV3 || !dev->cfg.nesting) {
        return -EOPNOTSUPP;
    }
    h = sim_obj_get(ctx, cmd->hwpt_id, OBJ_HWPT_PAGING);
    if (!h) {
        return -ENOENT;
    }
    if (!h->hwpt.nest_parent) {
        return -EINVAL;
    }
    if (h->hwpt.iommu != SIM_IOMMU_SMMUV3 ||
        h->hwpt.instance != dev->cfg.instance) {
        return -EINVAL;
    }
    v = sim_obj_alloc(ctx, OBJ_VIOMMU);
    if (!v) {
        return -ENOMEM;
    }
    v->viommu.cache = sim_smmu_cache_new(dev->cfg.idr);
    if (!v->viommu.cache) {
        sim_obj_free(ctx, v);
        return -ENOMEM;
    }
    v->viommu.hwpt_id = h->id;
    v->viommu.instance = dev->cfg.instance;
    cmd->out_viommu_id = v->id;
    return 0;
}

/*
 * drivers/iommu/iommufd/viommu.c:iommufd_vdevice_alloc_ioctl: vIOMMU and
 * device (ENOENT), the device behind the vIOMMU's SMMU (EINVAL), one
 * vDEVICE per device and one per virt_id on a vIOMMU (EEXIST).
 */
long sim_vdevice_alloc(SimCtx *ctx, void *arg)
{
    struct iommu_vdevice_alloc *cmd = arg;
    SimObj *v, *vd;
    SimDevice *dev;

    v = sim_obj_get(ctx, cmd->viommu_id, OBJ_VIOMMU);
    if (!v) {
        return -ENOENT;
    }
    dev = get_dev(ctx, cmd->dev_id);
    if (!dev) {
        return -ENOENT;
    }
    if (dev->cfg.iommu != SIM_IOMMU_SMMUV3 ||
        dev->cfg.instance != v->viommu.instance) {
        return -EINVAL;
    }
    if (sim_vdevice_of(ctx, 0, dev->devid)) {
        return -EEXIST;
    }
    for (uint32_t i = 1; i < ctx->nobjs; i++) {
        SimObj *o = ctx->objs[i];

        if (o && o->kind == OBJ_VDEVICE && o->vdev.viommu_id == v->id &&
            o->vdev.virt_id == cmd->virt_id) {
            return -EEXIST;
        }
    }
    vd = sim_obj_alloc(ctx, OBJ_VDEVICE);
    if (!vd) {
        return -ENOMEM;
    }
    vd->vdev.viommu_id = v->id;
    vd->vdev.dev_id = dev->devid;
    vd->vdev.virt_id = cmd->virt_id;
    cmd->out_vdevice_id = vd->id;
    return 0;
}

/* ---- GET_HW_INFO ---- */
long sim_get_hw_info(SimCtx *ctx, void *arg)
{
    struct iommu_hw_info *cmd = arg;
    struct iommu_hw_info_vtd vtd = { 0 };
    struct iommu_hw_info_arm_smmuv3 smmu = { 0 };
    const void *data;
    uint32_t len, copy, in_type;
    SimDevice *dev;
    int ret;

    /*
     * drivers/iommu/iommufd/device.c:iommufd_get_hw_info (Linux 6.17+):
     * flags may hold IOMMU_HW_INFO_FLAG_INPUT_TYPE (the type to report is
     * then read from in_data_type); out_max_pasid_log2 is an output, the
     * three __reserved bytes after it must be zero.
     */
    if ((cmd->flags & ~IOMMU_HW_INFO_FLAG_INPUT_TYPE) ||
        cmd->__reserved[0] || cmd->__reserved[1] || cmd->__reserved[2]) {
        return -EOPNOTSUPP;
    }
    in_type = (cmd->flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE) ?
              cmd->in_data_type : 0;
    dev = get_dev(ctx, cmd->dev_id);
    if (!dev) {
        return -ENOENT;
    }
    /*
     * DEFAULT or the driver's own type, else EOPNOTSUPP:
     * drivers/iommu/intel/iommu.c:intel_iommu_hw_info,
     * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-iommufd.c:arm_smmu_hw_info
     */
    if (in_type && in_type != (dev->cfg.iommu == SIM_IOMMU_VTD ?
                               IOMMU_HW_INFO_TYPE_INTEL_VTD :
                               IOMMU_HW_INFO_TYPE_ARM_SMMUV3)) {
        return -EOPNOTSUPP;
    }
    if (dev->cfg.iommu == SIM_IOMMU_VTD) {
        vtd.flags = dev->cfg.errata_772415 ?
                    IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 : 0;
        vtd.cap_reg = dev->cfg.vtd_cap;
        vtd.ecap_reg = dev->cfg.vtd_ecap;
        data = &vtd;
        len = sizeof(vtd);
        cmd->out_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
    } else {
        memcpy(smmu.idr, dev->cfg.idr, sizeof(smmu.idr));
        smmu.iidr = dev->cfg.iidr;
        smmu.aidr = dev->cfg.aidr;
        data = &smmu;
        len = sizeof(smmu);
        cmd->out_data_type = IOMMU_HW_INFO_TYPE_ARM_SMMUV3;
    }
    copy = cmd->data_len < len ? cmd->data_len : len;
    ret = sim_copy_to_user(cmd->data_uptr, data, copy);
    if (!ret && copy < cmd->data_len) {
        ret = sim_clear_user(cmd->data_uptr + copy, cmd->data_len - copy);
    }
    if (ret) {
        return ret;
    }
    cmd->data_len = len;
    cmd->out_capabilities = dev->cfg.dirty ? IOMMU_HW_CAP_DIRTY_TRACKING : 0;
    /*
     * iommufd_get_hw_info (Linux 6.18+) reports when ATS cannot be used:
     * the simulated device has no ATS capability.  No PASID capability
     * either, so out_max_pasid_log2 is 0.
     */
    cmd->out_capabilities |= IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED;
    cmd->out_max_pasid_log2 = 0;
    return 0;
}
