/*
 * iommufd-sim: Intel VT-d first-stage translation (IOMMU_HWPT_DATA_VTD_S1).
 *
 * First-stage tables use the IA-32e paging format: 4 levels for a 48-bit
 * input (addr_width 48) or 5 levels for 57 bits.  Levels are numbered as
 * in the VT-d spec: 5 = PML5, 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT; fault
 * reports use these numbers.
 *
 * Modelled rules:
 *
 * - Input: the IOVA must be canonical for addr_width (bits 63..aw-1 all
 *   equal), else SIM_FAULT_S1_ADDR_SIZE reported at the top level (4 or
 *   5).  Upper-half canonical addresses are translated like any other.
 * - pgtbl_addr bits 11:0 are ignored; a root pointer beyond OAW gives
 *   S1_RESERVED at the top level.
 * - Every table read goes through stage 2 (SimS2); a stage-2 fault while
 *   reading a table is reported as such: stage 2, the stage-2 code, the
 *   IPA of the entry read and the stage-1 level being read.
 * - Entry checks, in walk order: P == 0 -> S1_NOT_PRESENT at that level;
 *   reserved bits -> S1_RESERVED at that level.  Reserved bits are:
 *   address bits 51..OAW (OAW = output width, see below), PS in PML5E and
 *   PML4E, PS in a PDPTE unless CAP.FS1GP (bit 56) is set, and the
 *   low address bits of a large page (20:13 for 2M, 29:13 for 1G; bit 12
 *   is PAT).  Bits 62:52 and XD (63) are ignored [no NXE / PKE model].
 * - OAW, the widest output (IPA) address allowed in an entry: CAP.MGAW + 1
 *   (CAP bits 21:16) capped at 52; 52 when the MGAW field is 0.
 * - Privilege: DMA carries no privilege bit in the sim, so every request
 *   is a user request unless the HWPT has SRE, in which case every request
 *   is a supervisor request.  User: U/S must be 1 at every level (else
 *   S1_PERM even for reads), and a write needs R/W = 1 at every level.
 *   Supervisor: U/S is ignored; writes need R/W = 1 at every level only
 *   when WPE is set (otherwise supervisor writes to read-only pages are
 *   allowed).  Permission faults are reported at the leaf level.
 * - A/D and extended-accessed (EAFE) bits are never written: the walk has
 *   no side effects, which the IOTLB shadow check relies on.  EAFE is
 *   accepted and otherwise ignored.
 * - CAP.FS5LP is not checked here (the core validates addr_width).
 *
 * IOTLB: one per HWPT, keyed by (PASID, page), for leaf translations.
 * Paging-structure caches: one more cache per HWPT holding the non-leaf
 * entries (PML5E, PML4E, PDPTE, PDE) as the walk reads them, keyed by
 * (PASID, level, the input bits that entry translates), each with the
 * next table's address and the R/W and U/S bits ANDed from the top down
 * to it (what the VT-d spec lets a first-stage paging-structure cache
 * entry hold).  An entry is cached once it passed its own checks, whether
 * or not the rest of the walk succeeds; not-present entries never are.
 * An IOTLB miss starts the walk at the deepest cached entry covering the
 * address, so a table entry changed without an invalidation that drops
 * the paging-structure caches (IH = 0, i.e. no IOMMU_VTD_INV_FLAGS_LEAF)
 * keeps the old table in use.  Stage 2 is never cached.
 * Whenever the IOTLB or a paging-structure entry served a translation, the
 * tables are re-walked without caching (shadow check); if the fresh result
 * differs the hit is counted in stale_hits and out->stale is set.  The
 * cached result is what the device uses.  A cached entry that denies a
 * write gives S1_PERM without a walk (the shadow check still runs).
 * out->hit (IOTLB hits only) and out->stale are filled on failure too.
 *
 * sim_vtd_s1_new() returns NULL for an addr_width other than 48 or 57.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "iotlb.h"
#include "xlate.h"

#define VTD_S1_SRE  (1ULL << 0)
#define VTD_S1_EAFE (1ULL << 1)
#define VTD_S1_WPE  (1ULL << 2)

#define VTD_CAP_FS1GP (1ULL << 56)

/* First-stage entry bits. */
#define VTD_PTE_P   (1ULL << 0)
#define VTD_PTE_RW  (1ULL << 1)
#define VTD_PTE_US  (1ULL << 2)
#define VTD_PTE_PS  (1ULL << 7)

#define VTD_PAGE_SHIFT 12

struct SimVtdS1 {
    uint64_t flags;
    uint64_t pgtbl;         /* root table IPA */
    uint64_t cap, ecap;
    unsigned aw;            /* input width: 48 or 57 */
    unsigned levels;        /* 4 or 5 */
    unsigned oaw;           /* output (IPA) width allowed in entries */
    bool fs1gp;
    SimIotlb tlb;           /* leaf translations */
    SimIotlb psc;           /* paging-structure caches (table entries) */
    SimIotlbStats stats;
};


SimVtdS1 *sim_vtd_s1_new(uint64_t flags, uint64_t pgtbl_addr,
                         uint32_t addr_width, uint64_t cap, uint64_t ecap)
{
    SimVtdS1 *s1;
    unsigned mgaw;

    if (addr_width != 48 && addr_width != 57) {
        return NULL;
    }
    s1 = calloc(1, sizeof(*s1));
    if (!s1) {
        return NULL;
    }
    s1->flags = flags;
    s1->pgtbl = pgtbl_addr & ~((1ULL << VTD_PAGE_SHIFT) - 1);
    s1->cap = cap;
    s1->ecap = ecap;
    s1->aw = addr_width;
    s1->levels = addr_width == 57 ? 5 : 4;
    mgaw = (unsigned)sim_bits(cap, 21, 16);
    s1->oaw = mgaw ? mgaw + 1 : 52;
    if (s1->oaw > 52) {
        s1->oaw = 52;
    }
    s1->fs1gp = !!(cap & VTD_CAP_FS1GP);
    sim_iotlb_init(&s1->tlb);
    sim_iotlb_init(&s1->psc);
    return s1;
}

void sim_vtd_s1_free(SimVtdS1 *s1)
{
    if (!s1) {
        return;
    }
    sim_iotlb_destroy(&s1->tlb);
    sim_iotlb_destroy(&s1->psc);
    free(s1);
}

const SimIotlbStats *sim_vtd_s1_stats(const SimVtdS1 *s1)
{
    return &s1->stats;
}

static bool vtd_canonical(const SimVtdS1 *s1, uint64_t iova)
{
    uint64_t top = iova >> (s1->aw - 1);   /* bits 63..aw-1 */

    return top == 0 || top == (~0ULL >> (s1->aw - 1));
}

/* Apply the privilege rules to accumulated R/W and U/S bits. */
static bool vtd_check_perm(const SimVtdS1 *s1, bool rw_all, bool us_all,
                           bool write, bool *writable)
{
    bool user = !(s1->flags & VTD_S1_SRE);

    if (user) {
        if (!us_all) {
            return false;
        }
        *writable = rw_all;
    } else {
        *writable = (s1->flags & VTD_S1_WPE) ? rw_all : true;
    }
    return !write || *writable;
}

/*
 * Walk the first-stage tables for @iova.  The input address is assumed
 * canonical.  With @psc NULL it is a pure function of guest memory (the
 * shadow check).  With @psc, the walk starts at the deepest cached table
 * entry for (@pasid, @iova) and caches every table entry it reads.
 */
static void vtd_walk(const SimVtdS1 *s1, const SimS2 *s2, SimIotlb *psc,
                     uint32_t pasid, uint64_t iova, bool write, SimWalk *r)
{
    uint64_t table = s1->pgtbl;
    bool rw_all = true, us_all = true;
    uint64_t addr_rsvd = sim_mask(51, s1->oaw);
    int top = s1->levels;

    memset(r, 0, sizeof(*r));
    if (s1->oaw < 52 && (table & addr_rsvd)) {
        /* Root pointer beyond the output width: treat like a bad entry. */
        sim_walk_fail(r, SIM_FAULT_S1_RESERVED, 1, s1->levels, iova);
        return;
    }

    /* Deepest cached table entry first: a PDE, then PDPTE, ... */
    for (int level = 2; psc && level <= (int)s1->levels; level++) {
        const SimIotlbEntry *e =
            sim_iotlb_lookup_shift(psc, pasid, iova,
                                   VTD_PAGE_SHIFT + 9 * (level - 1));

        if (e) {
            table = e->pa;
            rw_all = e->writable;
            us_all = e->attrs;
            top = level - 1;
            r->wc_hit = true;
            break;
        }
    }

    for (int level = top; level >= 1; level--) {
        unsigned shift = VTD_PAGE_SHIFT + 9 * (level - 1);
        uint64_t idx = (iova >> shift) & 0x1ff;
        uint64_t eaddr = table + idx * 8;
        uint64_t raw, pte, fipa;
        enum sim_fault_code f;
        bool leaf;

        f = sim_s2_read(s2, eaddr, &raw, sizeof(raw), &fipa);
        if (f != SIM_FAULT_NONE) {
            sim_walk_fail(r, f, 2, level, fipa);
            return;
        }
        pte = sim_le64(raw);

        if (!(pte & VTD_PTE_P)) {
            sim_walk_fail(r, SIM_FAULT_S1_NOT_PRESENT, 1, level, iova);
            return;
        }
        if (s1->oaw < 52 && (pte & addr_rsvd)) {
            sim_walk_fail(r, SIM_FAULT_S1_RESERVED, 1, level, iova);
            return;
        }

        leaf = level == 1;
        if (pte & VTD_PTE_PS) {
            if (level >= 4 || (level == 3 && !s1->fs1gp)) {
                sim_walk_fail(r, SIM_FAULT_S1_RESERVED, 1, level, iova);
                return;
            }
            if (level == 3 || level == 2) {
                /* Large page: address bits shift-1..13 are reserved. */
                if (pte & sim_mask(shift - 1, 13)) {
                    sim_walk_fail(r, SIM_FAULT_S1_RESERVED, 1, level, iova);
                    return;
                }
                leaf = true;
            }
            /* level 1: bit 7 is PAT, not PS. */
        }

        rw_all = rw_all && (pte & VTD_PTE_RW);
        us_all = us_all && (pte & VTD_PTE_US);

        if (leaf) {
            bool writable = false;

            if (!vtd_check_perm(s1, rw_all, us_all, write, &writable)) {
                sim_walk_fail(r, SIM_FAULT_S1_PERM, 1, level, iova);
                return;
            }
            r->ok = true;
            r->pa = pte & sim_mask(51, shift);
            r->shift = shift;
            r->level = level;
            r->writable = writable;
            return;
        }
        table = pte & sim_mask(51, VTD_PAGE_SHIFT);
        if (psc) {
            SimIotlbEntry ne = {
                .va = iova,
                .pa = table,
                .tag = pasid,
                .shift = (uint8_t)shift,
                .level = (uint8_t)level,
                .writable = rw_all,
                .attrs = us_all,
            };
            sim_iotlb_insert(psc, &ne);
        }
    }
    /* Not reached: level 1 is always a leaf. */
    sim_walk_fail(r, SIM_FAULT_S1_RESERVED, 1, 1, iova);
}

bool sim_vtd_s1_translate(SimVtdS1 *s1, const SimS2 *s2, uint32_t pasid,
                          uint64_t iova, bool write, SimXlate *out,
                          SimFault *fault)
{
    const SimIotlbEntry *e;
    SimWalk res;
    SimXlate dummy;

    if (!out) {
        out = &dummy;
    }
    memset(out, 0, sizeof(*out));
    if (fault) {
        memset(fault, 0, sizeof(*fault));
    }

    if (!vtd_canonical(s1, iova)) {
        sim_walk_fail(&res, SIM_FAULT_S1_ADDR_SIZE, 1, s1->levels, iova);
        goto done;
    }

    e = sim_iotlb_lookup(&s1->tlb, pasid, iova);
    if (e) {
        SimWalk shadow;

        s1->stats.hits++;
        out->hit = true;
        memset(&res, 0, sizeof(res));
        if (write && !e->writable) {
            sim_walk_fail(&res, SIM_FAULT_S1_PERM, 1, e->level, iova);
        } else {
            res.ok = true;
            res.pa = e->pa;
            res.shift = e->shift;
            res.level = e->level;
            res.writable = e->writable;
        }
        /* Shadow check: would a fresh walk give the same answer? */
        vtd_walk(s1, s2, NULL, pasid, iova, write, &shadow);
        if (!sim_walk_same(&res, &shadow)) {
            s1->stats.stale_hits++;
            out->stale = true;
        }
    } else {
        s1->stats.misses++;
        vtd_walk(s1, s2, &s1->psc, pasid, iova, write, &res);
        if (res.wc_hit) {
            SimWalk shadow;

            s1->stats.walk_hits++;
            vtd_walk(s1, s2, NULL, pasid, iova, write, &shadow);
            if (!sim_walk_same(&res, &shadow)) {
                s1->stats.stale_hits++;
                out->stale = true;
            }
        }
        if (res.ok) {
            SimIotlbEntry ne = {
                .va = iova,
                .pa = res.pa,
                .tag = pasid,
                .shift = (uint8_t)res.shift,
                .level = (uint8_t)res.level,
                .writable = res.writable,
            };
            sim_iotlb_insert(&s1->tlb, &ne);
        }
    }

done:
    return sim_walk_finish(&res, iova, write, out, fault);
}

typedef struct VtdInvRange {
    uint64_t first, last;
} VtdInvRange;

static bool vtd_inv_match(const SimIotlbEntry *e, void *opaque)
{
    const VtdInvRange *r = opaque;

    return sim_iotlb_overlaps(e, r->first, r->last);
}

/*
 * The paging-structure caches follow the invalidation hint: with @leaf
 * (IH = 1) they are kept, else the entries overlapping the range go too.
 * drivers/iommu/intel/cache.c:calculate_psi_aligned_address turns a range
 * whose first and last byte differ in bit 63 (addr 0 with npages U64_MAX,
 * computed with the kernel's wrapping arithmetic) into a PASID-selective
 * flush of everything (cache_tag_flush_iotlb's qi_desc_piotlb_all), which
 * has no IH field: then the walk cache is dropped whatever @leaf says.
 * Otherwise the kernel widens the range to an aligned power-of-two block;
 * the sim drops exactly the range asked (README, deliberate differences).
 */
void sim_vtd_s1_invalidate(SimVtdS1 *s1, uint64_t addr, uint64_t npages,
                           bool leaf)
{
    VtdInvRange r;
    uint64_t room, klast;

    s1->stats.inv_entries++;
    if (npages == 0) {
        return;
    }
    r.first = addr & ~((1ULL << VTD_PAGE_SHIFT) - 1);
    /* Pages from r.first to the top of the address space. */
    room = ((UINT64_MAX - r.first) >> VTD_PAGE_SHIFT) + 1;
    if (npages >= room) {
        r.last = UINT64_MAX;
    } else {
        r.last = r.first + (npages << VTD_PAGE_SHIFT) - 1;
    }
    klast = r.first + (npages << VTD_PAGE_SHIFT) - 1;   /* wraps as in C */
    if ((r.first ^ klast) >> 63) {
        leaf = false;
    }
    s1->stats.flushed += sim_iotlb_drop(&s1->tlb, vtd_inv_match, &r);
    if (!leaf) {
        s1->stats.walk_flushed += sim_iotlb_drop(&s1->psc, vtd_inv_match, &r);
    }
}
