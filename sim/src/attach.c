/*
 * iommufd-sim: attaching a bound device to an IOAS (auto domain) or a HWPT,
 * replacement, and detach.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>

#include "sim.h"

/* VT-d CAP/ECAP bits a nested stage-1 configuration depends on. */
#define VTD_CAP_FS5LP   (1ull << 60)
#define VTD_ECAP_SRS    (1ull << 31)
#define VTD_ECAP_EAFS   (1ull << 34)

/*
 * Destroy an auto domain once its last device has left it
 * (drivers/iommu/iommufd/device.c:iommufd_hw_pagetable_put).
 */
static void auto_domain_put(SimCtx *ctx, uint32_t id)
{
    SimObj *h = sim_obj_get(ctx, id, OBJ_HWPT_PAGING);

    if (!h || !h->hwpt.auto_domain) {
        return;
    }
    for (uint32_t i = 1; i < ctx->nobjs; i++) {
        SimObj *o = ctx->objs[i];

        if (o && o->kind == OBJ_DEVICE && o->dev->attached == id) {
            return;
        }
    }
    sim_obj_free(ctx, h);
}

/*
 * Is @hwpt a domain of the device's physical IOMMU?  EINVAL if not, as
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c:arm_smmu_attach_dev
 * (smmu_domain->smmu != smmu) and
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-iommufd.c:arm_smmu_attach_dev_nested;
 * VT-d domains are tied to their instance too (a deliberate difference,
 * README).  A dirty-tracking domain needs a device with dirty tracking:
 * drivers/iommu/intel/iommu.c:paging_domain_compatible_second_stage.
 */
static int check_compat(SimCtx *ctx, SimDevice *dev, SimObj *hwpt)
{
    const SimHwpt *h = &hwpt->hwpt;

    if (h->iommu != dev->cfg.iommu || h->instance != dev->cfg.instance) {
        return -EINVAL;
    }
    if (hwpt->kind == OBJ_HWPT_PAGING && h->dirty_cap && !dev->cfg.dirty) {
        return -EINVAL;
    }
    /*
     * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-iommufd.c:arm_smmu_attach_prepare_vmaster:
     * only a translating vSTE (V=1, Config S1) needs a vSID for the
     * device on that vIOMMU; abort, bypass and invalid (abort) vSTEs
     * attach without a vDEVICE.
     */
    if (hwpt->kind == OBJ_HWPT_NESTED && h->viommu_id &&
        (le64toh(h->ste[0]) & 0xf) == (1 | (5 << 1)) &&
        !sim_vdevice_of(ctx, h->viommu_id, dev->devid)) {
        return -ENOENT;         /* no vSID for the device on that vIOMMU */
    }
    return 0;
}

/*
 * The device's reserved regions become reserved in the (parent's) IOAS:
 * drivers/iommu/iommufd/io_pagetable.c:iopt_table_enforce_dev_resv_regions
 * (iopt_reserve_iova: EADDRINUSE over an area or an allowed range).
 */
static int check_resv(SimCtx *ctx, SimDevice *dev, SimObj *hwpt)
{
    SimObj *paging = sim_hwpt_paging_of(ctx, hwpt);
    SimObj *ioas = paging ? sim_obj_get(ctx, paging->hwpt.ioas_id, OBJ_IOAS)
                          : NULL;

    if (!ioas) {
        return -EINVAL;
    }
    for (unsigned i = 0; i < dev->cfg.nresv; i++) {
        int ret = sim_ioas_can_reserve(&ioas->ioas, dev->cfg.resv[i].start,
                                       dev->cfg.resv[i].last);

        if (ret) {
            return ret;
        }
    }
    return 0;
}

/*
 * The stage-1 configuration of a VT-d nested HWPT, against the IOMMU of
 * the device being attached (HWPT_ALLOC took it as it was):
 * drivers/iommu/intel/pasid.c:intel_pasid_setup_nested, called by
 * intel_nested_attach_dev once the parent is found compatible.  EINVAL
 * for an addr_width other than 48 or 57, 57 without CAP.FS5LP, SRE
 * without ECAP.SRS, EAFE without ECAP.EAFS.  Unknown flags bits and
 * __reserved are not looked at.
 */
static int vtd_setup_nested(const SimDevice *dev, const SimHwpt *h)
{
    const struct iommu_hwpt_vtd_s1 *s1 = &h->vtd_s1;

    switch (s1->addr_width) {
    case 48:
        break;
    case 57:
        if (!(dev->cfg.vtd_cap & VTD_CAP_FS5LP)) {
            return -EINVAL;
        }
        break;
    default:
        return -EINVAL;
    }
    if ((s1->flags & IOMMU_VTD_S1_SRE) && !(dev->cfg.vtd_ecap & VTD_ECAP_SRS)) {
        return -EINVAL;
    }
    if ((s1->flags & IOMMU_VTD_S1_EAFE) &&
        !(dev->cfg.vtd_ecap & VTD_ECAP_EAFS)) {
        return -EINVAL;
    }
    return 0;
}

/*
 * The VT-d driver's attach_dev, drivers/iommu/intel/iommu.c:intel_iommu_attach_device
 * and drivers/iommu/intel/nested.c:intel_nested_attach_dev: both start
 * with device_block_translation, which tears the device's RID_PASID
 * entry down, and only then check the domain (paging_domain_compatible,
 * for a nested one on its parent, then intel_pasid_setup_nested).  A
 * failure returns with the device blocked, and
 * drivers/iommu/iommu.c:__iommu_group_set_domain_internal does not
 * re-attach the device that failed, so its DMA stays blocked while
 * iommufd still has it on the old HWPT (dma_blocked).
 */
static int vtd_attach_dev(SimCtx *ctx, SimDevice *dev, SimObj *hwpt)
{
    int ret;

    dev->dma_blocked = true;    /* device_block_translation */
    ret = check_compat(ctx, dev, hwpt);
    if (!ret && hwpt->kind == OBJ_HWPT_NESTED) {
        ret = vtd_setup_nested(dev, &hwpt->hwpt);
    }
    return ret;
}

/* The IOAS of a HWPT (a nested one's parent's), 0 if none. */
static uint32_t ioas_of(SimCtx *ctx, uint32_t hwpt_id)
{
    SimObj *p = sim_hwpt_paging_of(ctx, sim_obj_get(ctx, hwpt_id, 0));

    return p ? p->hwpt.ioas_id : 0;
}

/*
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-iommufd.c:arm_smmu_attach_prepare_vmaster
 * and arm_smmu_attach_commit_vmaster: a nested domain attached while the
 * device has a vDEVICE on its vIOMMU gets a vmaster holding that vSID,
 * which event forwarding uses (eventq.c); it stays as it was until the
 * next attach, even if the vDEVICE goes; any other attach (or
 * arm_smmu_master_clear_vmaster on detach/blocking) clears it.
 */
static void set_vmaster(SimDevice *dev, SimObj *hwpt)
{
    SimObj *vd = NULL;

    if (hwpt && hwpt->kind == OBJ_HWPT_NESTED && hwpt->hwpt.viommu_id) {
        vd = sim_vdevice_of(dev->ctx, hwpt->hwpt.viommu_id, dev->devid);
    }
    dev->vmaster = vd != NULL;
    dev->vmaster_viommu = vd ? vd->vdev.viommu_id : 0;
    dev->vmaster_vsid = vd ? vd->vdev.virt_id : 0;
}

/*
 * drivers/iommu/iommufd/device.c:iommufd_device_do_replace (and
 * iommufd_hw_pagetable_attach): the same HWPT again is a no-op, even for
 * a device a failed VT-d attach left blocked; the reserved regions are
 * checked before the driver is called, but a replacement within the same
 * IOAS does not check them again (iommufd_group_do_replace_reserved_iova);
 * a failed replacement keeps the old HWPT as the device's attachment and,
 * within the same IOAS, drops the device's reserved regions from it
 * (err_unresv: iommufd_group_remove_reserved_iova), until the device is
 * attached to another IOAS or detached and attached again.
 */
static int attach_hwpt(SimDevice *dev, SimObj *hwpt)
{
    SimCtx *ctx = dev->ctx;
    uint32_t old = dev->attached;
    bool same_ioas = old && ioas_of(ctx, old) == ioas_of(ctx, hwpt->id);
    int ret;

    if (old == hwpt->id) {
        return 0;
    }
    if (!same_ioas) {
        ret = check_resv(ctx, dev, hwpt);
        if (ret) {
            return ret;
        }
    }
    if (dev->cfg.iommu == SIM_IOMMU_VTD && hwpt->hwpt.iommu == SIM_IOMMU_VTD) {
        ret = vtd_attach_dev(ctx, dev, hwpt);
    } else {
        ret = check_compat(ctx, dev, hwpt);
    }
    if (ret) {
        if (same_ioas) {
            dev->resv_dropped = true;
        }
        return ret;
    }
    if (!same_ioas) {
        dev->resv_dropped = false;
    }
    dev->dma_blocked = false;
    dev->attached = hwpt->id;   /* replacement is atomic for the device */
    set_vmaster(dev, hwpt);
    if (old) {
        auto_domain_put(ctx, old);
    }
    return 0;
}

/*
 * Attach to an IOAS: reuse a compatible auto domain (EINVAL means "try the
 * next one"), else make one, as
 * drivers/iommu/iommufd/device.c:iommufd_device_auto_get_domain.
 */
static int attach_ioas(SimDevice *dev, SimObj *ioas, uint32_t *pt_id)
{
    SimCtx *ctx = dev->ctx;
    SimObj *h;
    int ret;

    for (uint32_t i = 1; i < ctx->nobjs; i++) {
        h = ctx->objs[i];
        if (!h || h->kind != OBJ_HWPT_PAGING || !h->hwpt.auto_domain ||
            h->hwpt.ioas_id != ioas->id) {
            continue;
        }
        ret = attach_hwpt(dev, h);
        if (ret == -EINVAL) {
            continue;
        }
        if (!ret) {
            *pt_id = h->id;
        }
        return ret;
    }
    ret = sim_hwpt_paging_new(ctx, dev, ioas, 0, &h);
    if (ret) {
        return ret;
    }
    h->hwpt.auto_domain = true;
    ret = attach_hwpt(dev, h);
    if (ret) {
        sim_obj_free(ctx, h);
        return ret;
    }
    *pt_id = h->id;
    return 0;
}

/*
 * drivers/iommu/iommufd/device.c:iommufd_device_change_pt: a missing id is
 * ENOENT, an object that is neither a HWPT nor an IOAS EINVAL.
 */
int sim_dev_attach(SimDevice *dev, uint32_t *pt_id)
{
    SimObj *obj = sim_obj_get(dev->ctx, *pt_id, 0);

    if (!obj) {
        return -ENOENT;
    }
    switch (obj->kind) {
    case OBJ_IOAS:
        return attach_ioas(dev, obj, pt_id);
    case OBJ_HWPT_PAGING:
    case OBJ_HWPT_NESTED:
        return attach_hwpt(dev, obj);
    default:
        return -EINVAL;
    }
}

void sim_dev_detach(SimDevice *dev)
{
    uint32_t old = dev->attached;

    dev->attached = 0;
    dev->dma_blocked = false;
    dev->resv_dropped = false;
    set_vmaster(dev, NULL);
    if (old) {
        auto_domain_put(dev->ctx, old);
    }
}
