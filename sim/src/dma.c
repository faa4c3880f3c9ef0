/*
 * iommufd-sim: the DMA test engine behind BAR0 (see iommufd-sim-regs.h).
 *
 * DMA path: bus master enable -> attached domain -> stage 1 (nested, via
 * xlate.h) -> stage 2 (live IOAS lookup) -> host memory, copied with
 * process_vm_readv so a stale user_va is an error, not a crash.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "sim.h"

#define STE0_CFG(w) ((le64toh(w) >> 1) & 7)

void sim_dma_reset(SimDevice *dev)
{
    memset(&dev->regs, 0, sizeof(dev->regs));
}

/* ---- translation ---- */
typedef struct S2Cookie { SimCtx *ctx; SimObj *paging; } S2Cookie;

static enum sim_fault_code s2_cb(void *opaque, uint64_t ipa, bool write,
                                 void **hva, uint64_t *contig)
{
    S2Cookie *c = opaque;
    uint64_t h;
    enum sim_fault_code f = sim_s2_lookup(c->ctx, c->paging, ipa, write, &h,
                                          contig);

    if (f == SIM_FAULT_NONE) {
        *hva = (void *)(uintptr_t)h;
    }
    return f;
}

static void count_xlate(SimDevice *dev, const SimXlate *xl)
{
    if (xl->hit) {
        dev->regs.hits++;
        sim_count("iotlb.hits", 1);
    } else {
        dev->regs.misses++;
        sim_count("iotlb.misses", 1);
    }
    if (xl->stale) {
        dev->regs.stale++;
        sim_count("iotlb.stale_hits", 1);
    }
}

static bool set_fault(SimFault *f, enum sim_fault_code code, int stage,
                      uint64_t addr, bool write)
{
    *f = (SimFault){ .code = code, .stage = stage, .addr = addr,
                     .write = write };
    return false;
}

/*
 * Hardware: the physical SMMU writes an event record for a faulting
 * transaction of the device's StreamID (sim_smmu_event_record), which
 * the driver then handles (eventq.c: forwarded to the vIOMMU's vEVENTQ
 * or not).  Only for nested SMMUv3 domains; STE aborts record nothing.
 */
static void smmu_fault_event(SimDevice *dev, const SimFault *f, uint64_t iova)
{
    bool ssv = dev->regs.ctrl & SIMDEV_CTRL_USE_PASID;
    uint64_t evt[4];

    if (sim_smmu_event_record(f, dev->cfg.sid, ssv, dev->regs.pasid, iova,
                              evt)) {
        sim_smmu_handle_event(dev, evt);
    }
}

int sim_dma_inject_event(SimDevice *dev, const uint64_t evt[4])
{
    uint64_t e[4] = { evt[0], evt[1], evt[2], evt[3] };

    if (dev->cfg.iommu != SIM_IOMMU_SMMUV3) {
        return -EINVAL;
    }
    e[0] = (e[0] & 0xffffffffULL) | ((uint64_t)dev->cfg.sid << 32);
    sim_count("smmu.events_injected", 1);
    return sim_smmu_handle_event(dev, e);
}

/* Stage 1 of a nested domain: IOVA -> IPA, and bytes left in the leaf. */
static bool stage1(SimDevice *dev, SimObj *h, const SimS2 *s2, uint64_t iova,
                   bool write, uint64_t *ipa, uint64_t *left, SimFault *f)
{
    bool tagged = dev->regs.ctrl & SIMDEV_CTRL_USE_PASID;
    SimXlate xl = { 0 };
    bool ok;

    if (h->hwpt.vtd) {
        ok = sim_vtd_s1_translate(h->hwpt.vtd, s2,
                                  tagged ? dev->regs.pasid : 0, iova, write,
                                  &xl, f);
    } else {
        SimCtx *ctx = dev->ctx;
        SimObj *v = sim_obj_get(ctx, h->hwpt.viommu_id, OBJ_VIOMMU);
        SimObj *vd = v ? sim_vdevice_of(ctx, v->id, dev->devid) : NULL;

        if (!vd) {
            return set_fault(f, SIM_FAULT_BAD_STE, 0, iova, write);
        }
        ok = sim_smmu_translate(v->viommu.cache, h->hwpt.ste,
                                (uint32_t)vd->vdev.virt_id, s2, tagged,
                                dev->regs.pasid, iova, write, &xl, f);
        if (!ok) {
            smmu_fault_event(dev, f, iova);
        }
    }
    if (!ok) {
        return false;
    }
    count_xlate(dev, &xl);
    *ipa = xl.ipa;
    *left = xl.page_size ? xl.page_size - (iova & (xl.page_size - 1))
                         : UINT64_MAX;
    return true;
}

/*
 * Translate one access.  On success *hva is valid for *contig bytes and
 * *paging is the stage-2 HWPT (for dirty tracking at *ipa).
 */
static bool dma_xlate(SimDevice *dev, uint64_t iova, bool write,
                      uint64_t *hva, uint64_t *contig, uint64_t *ipa,
                      SimObj **paging, SimFault *f)
{
    SimCtx *ctx = dev->ctx;
    SimObj *h = ctx && !dev->dma_blocked ? sim_obj_get(ctx, dev->attached, 0)
                                         : NULL;
    uint64_t left = UINT64_MAX;
    enum sim_fault_code code;

    if (!sim_dev_bus_master(dev) || !h) {
        return set_fault(f, SIM_FAULT_BLOCKED, 0, iova, write);
    }
    *paging = sim_hwpt_paging_of(ctx, h);
    if (!*paging) {
        return set_fault(f, SIM_FAULT_BLOCKED, 0, iova, write);
    }
    *ipa = iova;
    if (h->kind == OBJ_HWPT_NESTED) {
        S2Cookie cookie = { ctx, *paging };
        SimS2 s2 = { .opaque = &cookie, .lookup = s2_cb };

        if (!stage1(dev, h, &s2, iova, write, ipa, &left, f)) {
            return false;
        }
    }
    code = sim_s2_lookup(ctx, *paging, *ipa, write, hva, contig);
    if (code != SIM_FAULT_NONE) {
        set_fault(f, code, 2, *ipa, write);
        if (h->kind == OBJ_HWPT_NESTED && !h->hwpt.vtd) {
            f->smmu_class = SMMU_CLASS_IN;
            smmu_fault_event(dev, f, iova);
        }
        return false;
    }
    if (*contig > left) {
        *contig = left;
    }
    return true;
}

/* ---- transfers ---- */
static void record_fault(SimDevice *dev, const SimFault *f)
{
    SimDmaRegs *r = &dev->regs;

    r->status |= SIMDEV_STATUS_ERROR;
    r->fault_code = f->code;
    r->fault_info = ((uint32_t)f->stage & SIMDEV_FINFO_STAGE_MASK) |
                    (((uint32_t)f->level << SIMDEV_FINFO_LEVEL_SHIFT) &
                     SIMDEV_FINFO_LEVEL_MASK) |
                    (f->write ? SIMDEV_FINFO_WRITE : 0);
    r->fault_addr = f->addr;
    sim_count("dma.faults", 1);
    sim_log("dma fault code %d stage %d level %d %s addr 0x%llx",
            f->code, f->stage, f->level, f->write ? "write" : "read",
            (unsigned long long)f->addr);
}

/* Where the bytes come from: an IOVA, the pattern, or the data window. */
enum src_kind { SRC_IOVA, SRC_PATTERN, SRC_DATA };

static int fill_pattern(SimDevice *dev, uint64_t dst_hva, uint64_t n,
                        uint64_t phase)
{
    uint8_t buf[256];

    while (n) {
        uint64_t k = n < sizeof(buf) ? n : sizeof(buf);

        for (uint64_t i = 0; i < k; i++) {
            buf[i] = (uint8_t)(dev->regs.pattern >> (8 * ((phase + i) % 4)));
        }
        if (sim_host_copy(dst_hva, (uint64_t)(uintptr_t)buf, k)) {
            return -EFAULT;
        }
        dst_hva += k;
        phase += k;
        n -= k;
    }
    return 0;
}

/* Move LEN bytes to DST (IOVA) or, with @to_data, into the data window. */
static void run_transfer(SimDevice *dev, enum src_kind src, bool to_data)
{
    SimDmaRegs *r = &dev->regs;
    uint64_t done = 0;
    SimFault f;

    while (done < r->len) {
        uint64_t shva = 0, sc = UINT64_MAX, dhva, dc = UINT64_MAX, ipa, n;
        SimObj *sp, *dp = NULL;
        int ret = 0;

        if (src == SRC_IOVA &&
            !dma_xlate(dev, r->src + done, false, &shva, &sc, &ipa, &sp, &f)) {
            break;
        }
        if (src == SRC_DATA) {
            shva = (uint64_t)(uintptr_t)r->data + done;
        }
        if (to_data) {
            dhva = (uint64_t)(uintptr_t)r->data + done;
        } else if (!dma_xlate(dev, r->dst + done, true, &dhva, &dc, &ipa,
                              &dp, &f)) {
            break;
        }
        n = r->len - done;
        n = n < sc ? n : sc;
        n = n < dc ? n : dc;
        ret = src == SRC_PATTERN ? fill_pattern(dev, dhva, n, done)
                                 : sim_host_copy(dhva, shva, n);
        if (ret) {
            f = (SimFault){ .code = SIMDEV_ERR_HOST, .addr = r->dst + done };
            break;
        }
        if (dp) {
            sim_hwpt_mark_dirty(&dp->hwpt, ipa, n);
        }
        done += n;
    }
    r->bytes_done = (uint32_t)done;
    sim_count("dma.bytes", done);
    if (done < r->len) {
        record_fault(dev, &f);
    }
}

static void run_probe(SimDevice *dev, bool write)
{
    uint64_t hva, contig, ipa;
    SimObj *p;
    SimFault f;

    if (dma_xlate(dev, dev->regs.src, write, &hva, &contig, &ipa, &p, &f)) {
        dev->regs.last_xlate = ipa;
    } else {
        record_fault(dev, &f);
    }
}

static void complete(SimDevice *dev)
{
    dev->regs.status |= SIMDEV_STATUS_DONE;
    if (!(dev->regs.ctrl & SIMDEV_CTRL_MSI)) {
        return;
    }
    if (dev->irq_type == VFIO_PCI_MSI_IRQ_INDEX) {
        sim_signal_eventfd(dev->msi_fd);
    } else if (dev->irq_type == VFIO_PCI_INTX_IRQ_INDEX && !dev->intx_masked) {
        dev->intx_masked = true;        /* INTx is automasked */
        sim_signal_eventfd(dev->intx_fd);
    }
}

static void doorbell(SimDevice *dev)
{
    SimDmaRegs *r = &dev->regs;
    bool small = r->len <= SIMDEV_DATA_SIZE;
    bool bad = r->len > SIMDEV_MAX_LEN;

    r->status &= ~(SIMDEV_STATUS_DONE | SIMDEV_STATUS_ERROR);
    r->fault_code = r->fault_info = 0;
    r->fault_addr = 0;
    r->bytes_done = 0;
    sim_count("dma.ops", 1);
    switch (r->op) {
    case SIMDEV_OP_NOP:
        break;
    case SIMDEV_OP_COPY:
    case SIMDEV_OP_FILL:
        if (!bad) {
            run_transfer(dev, r->op == SIMDEV_OP_COPY ? SRC_IOVA : SRC_PATTERN,
                         false);
        }
        break;
    case SIMDEV_OP_READ:
    case SIMDEV_OP_WRITE:
        bad = !small;
        if (!bad) {
            run_transfer(dev, r->op == SIMDEV_OP_READ ? SRC_IOVA : SRC_DATA,
                         r->op == SIMDEV_OP_READ);
        }
        break;
    case SIMDEV_OP_PROBE:
    case SIMDEV_OP_PROBE_WRITE:
        run_probe(dev, r->op == SIMDEV_OP_PROBE_WRITE);
        break;
    case SIMDEV_OP_INJECT_EVENT: {
        uint64_t evt[4];
        int ret;

        bad = false;            /* LEN is not used */
        for (int i = 0; i < 4; i++) {
            memcpy(&evt[i], &r->data[8 * i], 8);
            evt[i] = le64toh(evt[i]);
        }
        ret = sim_dma_inject_event(dev, evt);
        if (ret == -EINVAL) {
            bad = true;
        } else if (ret) {
            r->status |= SIMDEV_STATUS_ERROR;
            r->fault_code = SIMDEV_ERR_NOT_FORWARDED;
        }
        break;
    }
    default:
        bad = true;
    }
    if (bad) {
        r->status |= SIMDEV_STATUS_ERROR;
        r->fault_code = SIMDEV_ERR_BAD_OP;
    }
    complete(dev);
    sim_log("dma op %u src 0x%llx dst 0x%llx len %u -> status 0x%x fault %u",
            r->op, (unsigned long long)r->src, (unsigned long long)r->dst,
            r->len, r->status, r->fault_code);
}

/* ---- registers ---- */
static uint32_t domain_kind(SimDevice *dev, uint32_t *inv_seen)
{
    SimObj *h = dev->ctx && !dev->dma_blocked
                ? sim_obj_get(dev->ctx, dev->attached, 0) : NULL;
    SimObj *v;

    *inv_seen = 0;
    if (!h) {
        return SIMDEV_DOMAIN_BLOCKED;
    }
    if (h->kind == OBJ_HWPT_PAGING) {
        return SIMDEV_DOMAIN_S2;
    }
    if (h->hwpt.vtd) {
        *inv_seen = (uint32_t)h->hwpt.inv_entries;
        return SIMDEV_DOMAIN_VTD_NESTED;
    }
    v = sim_obj_get(dev->ctx, h->hwpt.viommu_id, OBJ_VIOMMU);
    *inv_seen = v ? (uint32_t)v->viommu.inv_entries : 0;
    switch (STE0_CFG(h->hwpt.ste[0])) {
    case 4:
        return SIMDEV_DOMAIN_SMMU_BYPASS;
    case 5:
        return SIMDEV_DOMAIN_SMMU_S1;
    default:
        return SIMDEV_DOMAIN_SMMU_ABORT;
    }
}

static uint32_t reg_read32(SimDevice *dev, uint64_t off)
{
    SimDmaRegs *r = &dev->regs;
    uint32_t inv;

    switch (off) {
    case SIMDEV_REG_ID:          return SIMDEV_ID_VALUE;
    case SIMDEV_REG_VERSION:     return SIMDEV_VERSION_VALUE;
    case SIMDEV_REG_CTRL:        return r->ctrl;
    case SIMDEV_REG_STATUS:      return r->status;
    case SIMDEV_REG_SRC:         return (uint32_t)r->src;
    case SIMDEV_REG_SRC + 4:     return (uint32_t)(r->src >> 32);
    case SIMDEV_REG_DST:         return (uint32_t)r->dst;
    case SIMDEV_REG_DST + 4:     return (uint32_t)(r->dst >> 32);
    case SIMDEV_REG_LEN:         return r->len;
    case SIMDEV_REG_PASID:       return r->pasid;
    case SIMDEV_REG_OP:          return r->op;
    case SIMDEV_REG_PATTERN:     return r->pattern;
    case SIMDEV_REG_FAULT_CODE:  return r->fault_code;
    case SIMDEV_REG_FAULT_INFO:  return r->fault_info;
    case SIMDEV_REG_FAULT_ADDR:  return (uint32_t)r->fault_addr;
    case SIMDEV_REG_FAULT_ADDR + 4: return (uint32_t)(r->fault_addr >> 32);
    case SIMDEV_REG_LAST_XLATE:  return (uint32_t)r->last_xlate;
    case SIMDEV_REG_LAST_XLATE + 4: return (uint32_t)(r->last_xlate >> 32);
    case SIMDEV_REG_IOTLB_HITS:  return r->hits;
    case SIMDEV_REG_IOTLB_MISSES: return r->misses;
    case SIMDEV_REG_STALE_HITS:  return r->stale;
    case SIMDEV_REG_ATTACHED_PT: return dev->attached;
    case SIMDEV_REG_BYTES_DONE:  return r->bytes_done;
    case SIMDEV_REG_INV_SEEN:
        domain_kind(dev, &inv);
        return inv;
    case SIMDEV_REG_DOMAIN_KIND:
        return domain_kind(dev, &inv);
    default:
        return 0;
    }
}

static void set64(uint64_t *reg, uint64_t off, uint32_t val)
{
    if (off & 4) {
        *reg = (*reg & 0xffffffffull) | ((uint64_t)val << 32);
    } else {
        *reg = (*reg & ~0xffffffffull) | val;
    }
}

/* @mask selects the bytes the access actually wrote. */
static void reg_write32(SimDevice *dev, uint64_t off, uint32_t val,
                        uint32_t mask)
{
    SimDmaRegs *r = &dev->regs;
    uint32_t merged = (reg_read32(dev, off) & ~mask) | (val & mask);

    switch (off) {
    case SIMDEV_REG_CTRL:
        if (merged & SIMDEV_CTRL_RESET) {
            sim_dma_reset(dev);
            return;
        }
        r->ctrl = merged & (SIMDEV_CTRL_MSI | SIMDEV_CTRL_USE_PASID);
        break;
    case SIMDEV_REG_STATUS:     /* write 1 to clear */
        r->status &= ~(val & mask & (SIMDEV_STATUS_DONE | SIMDEV_STATUS_ERROR));
        break;
    case SIMDEV_REG_SRC: case SIMDEV_REG_SRC + 4:
        set64(&r->src, off, merged);
        break;
    case SIMDEV_REG_DST: case SIMDEV_REG_DST + 4:
        set64(&r->dst, off, merged);
        break;
    case SIMDEV_REG_LEN:         r->len = merged; break;
    case SIMDEV_REG_PASID:       r->pasid = merged; break;
    case SIMDEV_REG_OP:          r->op = merged; break;
    case SIMDEV_REG_PATTERN:     r->pattern = merged; break;
    case SIMDEV_REG_DOORBELL:    doorbell(dev); break;
    default:
        break;                  /* read-only or unused */
    }
}

uint64_t sim_dma_read(SimDevice *dev, uint64_t off, unsigned size)
{
    uint64_t v = 0;

    if (off >= SIMDEV_REG_DATA && off + size <= SIMDEV_REG_DATA +
        SIMDEV_DATA_SIZE) {
        memcpy(&v, &dev->regs.data[off - SIMDEV_REG_DATA], size);
        return v;
    }
    if (size == 8) {
        return reg_read32(dev, off) | ((uint64_t)reg_read32(dev, off + 4) << 32);
    }
    v = reg_read32(dev, off & ~3ull) >> (8 * (off & 3));
    return size == 4 ? v : v & ((1ull << (8 * size)) - 1);
}

void sim_dma_write(SimDevice *dev, uint64_t off, unsigned size, uint64_t val)
{
    if (off >= SIMDEV_REG_DATA && off + size <= SIMDEV_REG_DATA +
        SIMDEV_DATA_SIZE) {
        memcpy(&dev->regs.data[off - SIMDEV_REG_DATA], &val, size);
        return;
    }
    if (size == 8) {
        reg_write32(dev, off, (uint32_t)val, ~0u);
        reg_write32(dev, off + 4, (uint32_t)(val >> 32), ~0u);
        return;
    }
    {
        unsigned shift = 8 * (off & 3);
        uint32_t mask = size == 4 ? ~0u : ((1u << (8 * size)) - 1) << shift;

        reg_write32(dev, off & ~3ull, (uint32_t)(val << shift), mask);
    }
}
