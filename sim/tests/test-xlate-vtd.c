/*
 * iommufd-sim: unit tests for the VT-d first-stage walker and its IOTLB.
 * No iommufd involved: a fake stage 2 over a test buffer, tables built
 * here.  TAP output.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "xlate.h"
#include "fake-s2.h"

#define PTE_P   (1ULL << 0)
#define PTE_RW  (1ULL << 1)
#define PTE_US  (1ULL << 2)
#define PTE_PS  (1ULL << 7)
#define PTE_URW (PTE_P | PTE_RW | PTE_US)

#define SRE (1ULL << 0)
#define WPE (1ULL << 2)

#define CAP_FS1GP (1ULL << 56)
#define CAP_MGAW48 (47ULL << 16)        /* MGAW field: width - 1 */

#define KB 1024ULL
#define MB (1024 * KB)
#define GB (1024 * MB)

#define IPA_BASE 0x80000000ULL          /* guest RAM base (offset mapping) */

static FakeS2 fs;

static unsigned lvl_shift(int level)
{
    return 12 + 9 * (level - 1);
}

/* IPA of the entry for @iova at @level, creating missing tables above. */
static uint64_t vtd_entry(uint64_t root, int levels, uint64_t iova, int level,
                          bool create)
{
    uint64_t table = root;

    for (int l = levels; l > level; l--) {
        uint64_t e = table + ((iova >> lvl_shift(l)) & 511) * 8;
        uint64_t v = fs2_r64(&fs, e);

        if (!(v & PTE_P)) {
            if (!create) {
                abort();
            }
            v = fs2_alloc(&fs, 4096, 4096) | PTE_URW;
            fs2_w64(&fs, e, v);
        }
        table = v & 0x000ffffffffff000ULL;
    }
    return table + ((iova >> lvl_shift(level)) & 511) * 8;
}

/* Map @iova -> @ipa with a leaf at @level (1: 4K, 2: 2M, 3: 1G). */
static uint64_t vtd_map(uint64_t root, int levels, uint64_t iova, uint64_t ipa,
                        int level, uint64_t flags)
{
    uint64_t e = vtd_entry(root, levels, iova, level, true);

    fs2_w64(&fs, e, ipa | flags | (level > 1 ? PTE_PS : 0));
    return e;
}

static uint64_t new_root(void)
{
    return fs2_alloc(&fs, 4096, 4096);
}

static bool xl(SimVtdS1 *s, uint32_t pasid, uint64_t iova, bool write,
               SimXlate *o, SimFault *f)
{
    return sim_vtd_s1_translate(s, &fs.s2, pasid, iova, write, o, f);
}

static bool is_fault(bool res, const SimFault *f, enum sim_fault_code code,
                     int stage, int level)
{
    if (res || f->code != code || f->stage != stage || f->level != level) {
        diag("got ok=%d code=%d stage=%d level=%d addr=0x%llx", res,
                 f->code, f->stage, f->level, (unsigned long long)f->addr);
        return false;
    }
    return true;
}

static void test_basic_4level(void)
{
    uint64_t root = new_root();
    SimVtdS1 *s = sim_vtd_s1_new(0, root, 48, CAP_MGAW48, 0);
    SimXlate o;
    SimFault f;
    bool res;

    vtd_map(root, 4, 0x12345000, 0x7654000, 1, PTE_URW);
    res = xl(s, 0, 0x12345abc, false, &o, &f);
    ok(res && o.ipa == 0x7654abc && o.page_size == 4 * KB && o.writable &&
           !o.hit && !o.stale, "vtd 4-level 4K read translates");
    res = xl(s, 0, 0x12345010, true, &o, &f);
    ok(res && o.ipa == 0x7654010 && o.hit && !o.stale,
           "vtd second access is an IOTLB hit");
    ok(sim_vtd_s1_stats(s)->hits == 1 && sim_vtd_s1_stats(s)->misses == 1,
           "vtd stats count one hit and one miss");

    /* Upper-half canonical address is a valid input for 48 bits. */
    vtd_map(root, 4, 0xffff800000001000ULL, 0x5000, 1, PTE_URW);
    res = xl(s, 0, 0xffff800000001008ULL, false, &o, &f);
    ok(res && o.ipa == 0x5008, "vtd upper-half canonical IOVA translates");

    res = xl(s, 0, 0x0000800000001000ULL, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_ADDR_SIZE, 1, 4) &&
           f.addr == 0x0000800000001000ULL,
           "vtd non-canonical IOVA (bit 47 set, 63:48 clear) -> ADDR_SIZE");
    res = xl(s, 0, 0x0001000000001000ULL, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_ADDR_SIZE, 1, 4),
           "vtd IOVA beyond 48 bits -> ADDR_SIZE on a 4-level table");
    sim_vtd_s1_free(s);
}

static void test_large_pages(void)
{
    uint64_t root = new_root();
    SimVtdS1 *s = sim_vtd_s1_new(0, root, 48, CAP_MGAW48, 0);
    SimVtdS1 *g = sim_vtd_s1_new(0, root, 48, CAP_MGAW48 | CAP_FS1GP, 0);
    uint64_t e;
    SimXlate o;
    SimFault f;
    bool res;

    vtd_map(root, 4, 0x40000000, 0x200000, 2, PTE_URW);
    res = xl(s, 0, 0x40123456, false, &o, &f);
    ok(res && o.ipa == 0x323456 && o.page_size == 2 * MB,
           "vtd 2M page (PS at level 2)");

    vtd_map(root, 4, 0x80000000ULL, 0x40000000ULL, 3, PTE_URW);
    res = xl(g, 0, 0x80000000ULL + 0x12345678, false, &o, &f);
    ok(res && o.ipa == 0x40000000ULL + 0x12345678 && o.page_size == GB,
           "vtd 1G page with CAP.FS1GP");
    res = xl(s, 0, 0x80000000ULL + 0x12345678, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_RESERVED, 1, 3),
           "vtd 1G page without CAP.FS1GP -> reserved fault at level 3");

    /* Low address bits of a 2M page are reserved (20:13). */
    e = vtd_map(root, 4, 0xc0000000ULL, 0x400000, 2, PTE_URW);
    fs2_w64(&fs, e, fs2_r64(&fs, e) | (1ULL << 13));
    res = xl(s, 0, 0xc0000000ULL, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_RESERVED, 1, 2),
           "vtd 2M page with bit 13 set -> reserved fault");
    /* PS in a PML4E is reserved. */
    e = vtd_entry(root, 4, 0x8000000000ULL, 4, true);
    fs2_w64(&fs, e, 0x1000 | PTE_URW | PTE_PS);
    res = xl(g, 0, 0x8000000000ULL, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_RESERVED, 1, 4),
           "vtd PS in PML4E -> reserved fault at level 4");
    /* Address bit above MGAW (48 bits) -> reserved. */
    vtd_map(root, 4, 0x10000000000ULL, 1ULL << 48, 1, PTE_URW);
    res = xl(s, 0, 0x10000000000ULL, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_RESERVED, 1, 1),
           "vtd leaf address bit 48 with MGAW 48 -> reserved fault");
    sim_vtd_s1_free(s);
    sim_vtd_s1_free(g);
}

static void test_5level(void)
{
    uint64_t root = new_root();
    SimVtdS1 *s = sim_vtd_s1_new(0, root, 57, 0, 0);
    SimXlate o;
    SimFault f;
    uint64_t iova = 0x00f2345678abc000ULL;   /* needs bits 55:48 */
    bool res;

    vtd_map(root, 5, iova, 0x9000, 1, PTE_URW);
    res = xl(s, 0, iova | 0x10, false, &o, &f);
    ok(res && o.ipa == 0x9010 && o.page_size == 4 * KB,
           "vtd 5-level walk translates a 56-bit IOVA");
    res = xl(s, 0, 0x0100000000000000ULL, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_ADDR_SIZE, 1, 5),
           "vtd IOVA beyond 57 bits -> ADDR_SIZE");
    res = xl(s, 0, 0x00f2800000000000ULL, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_NOT_PRESENT, 1, 4),
           "vtd 5-level: missing PML4 table entry faults at level 4");
    sim_vtd_s1_free(s);
}

static void test_faults(void)
{
    uint64_t root = new_root();
    SimVtdS1 *s = sim_vtd_s1_new(0, root, 48, CAP_MGAW48, 0);
    uint64_t e, pd;
    SimXlate o;
    SimFault f;
    bool res;

    vtd_map(root, 4, 0x200000, 0x1000, 1, PTE_URW);
    res = xl(s, 0, 0x201000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_NOT_PRESENT, 1, 1) &&
           f.addr == 0x201000 && !f.write,
           "vtd not-present PTE -> fault at level 1 with IOVA");
    res = xl(s, 0, 0x40000000, true, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_NOT_PRESENT, 1, 3) && f.write,
           "vtd not-present PDPTE -> fault at level 3");

    /* Read-only leaf. */
    vtd_map(root, 4, 0x300000, 0x2000, 1, PTE_P | PTE_US);
    res = xl(s, 0, 0x300000, false, &o, &f);
    ok(res && !o.writable, "vtd read of read-only page succeeds");
    res = xl(s, 0, 0x300000, true, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_PERM, 1, 1) && f.write,
           "vtd write to read-only page -> S1_PERM (from IOTLB entry)");
    sim_vtd_s1_invalidate(s, 0, UINT64_MAX, false);
    res = xl(s, 0, 0x300000, true, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_PERM, 1, 1) && !o.hit,
           "vtd write to read-only page -> S1_PERM (walk)");

    /* R/W clear in a non-leaf entry makes the whole range read-only. */
    vtd_map(root, 4, 0x80000000ULL, 0x3000, 1, PTE_URW);
    e = vtd_entry(root, 4, 0x80000000ULL, 2, false);
    fs2_w64(&fs, e, fs2_r64(&fs, e) & ~PTE_RW);
    res = xl(s, 0, 0x80000000ULL, true, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_PERM, 1, 1),
           "vtd R/W=0 in PDE -> write to RW leaf faults");

    /* U/S clear: user request (no SRE) cannot even read. */
    vtd_map(root, 4, 0x400000, 0x4000, 1, PTE_P | PTE_RW);
    res = xl(s, 0, 0x400000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_PERM, 1, 1),
           "vtd U/S=0 page, user request -> S1_PERM on read");

    /* Stage-2 fault while reading the page directory. */
    vtd_map(root, 4, 0xc0000000ULL, 0x5000, 1, PTE_URW);
    pd = fs2_r64(&fs, vtd_entry(root, 4, 0xc0000000ULL, 3, false)) &
         0x000ffffffffff000ULL;
    fs2_set_flags(&fs, pd, 4096, FS2_UNMAPPED);
    res = xl(s, 0, 0xc0000000ULL, true, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S2_UNMAPPED, 2, 2) &&
           f.addr == pd + ((0xc0000000ULL >> 21) & 511) * 8,
           "vtd stage-2 fault reading the PD reports stage 2, level 2, IPA");
    /* A read-only stage 2 is fine for table reads. */
    fs2_set_flags(&fs, pd, 4096, FS2_RO);
    res = xl(s, 0, 0xc0000000ULL, true, &o, &f);
    ok(res && o.ipa == 0x5000, "vtd tables in read-only stage 2 are readable");
    fs2_set_flags(&fs, pd, 4096, 0);
    sim_vtd_s1_free(s);
}

static void test_privilege(void)
{
    uint64_t root = new_root();
    SimVtdS1 *sre = sim_vtd_s1_new(SRE, root, 48, CAP_MGAW48, 0);
    SimVtdS1 *wpe = sim_vtd_s1_new(SRE | WPE, root, 48, CAP_MGAW48, 0);
    SimXlate o;
    SimFault f;
    bool res;

    vtd_map(root, 4, 0x1000, 0xa000, 1, PTE_P);     /* supervisor, RO */
    res = xl(sre, 0, 0x1000, false, &o, &f);
    ok(res && o.ipa == 0xa000, "vtd SRE: supervisor request reads U/S=0");
    res = xl(sre, 0, 0x1000, true, &o, &f);
    ok(res && o.writable, "vtd SRE without WPE: supervisor write to RO ok");
    res = xl(wpe, 0, 0x1000, true, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_PERM, 1, 1),
           "vtd SRE with WPE: supervisor write to RO -> S1_PERM");
    sim_vtd_s1_free(sre);
    sim_vtd_s1_free(wpe);
}

static void test_iotlb(void)
{
    uint64_t root = new_root();
    SimVtdS1 *s = sim_vtd_s1_new(0, root, 48, CAP_MGAW48, 0);
    const SimIotlbStats *st = sim_vtd_s1_stats(s);
    uint64_t e1, e2, e3, big, before;
    SimXlate o;
    SimFault f;
    bool res;

    e1 = vtd_map(root, 4, 0x10000, 0x100000, 1, PTE_URW);
    e2 = vtd_map(root, 4, 0x11000, 0x101000, 1, PTE_URW);
    e3 = vtd_map(root, 4, 0x12000, 0x102000, 1, PTE_URW);
    xl(s, 1, 0x10000, false, &o, &f);
    xl(s, 1, 0x11000, false, &o, &f);
    xl(s, 1, 0x12000, false, &o, &f);

    before = fs2_r64(&fs, e1);
    xl(s, 1, 0x10000, true, &o, &f);
    ok(fs2_r64(&fs, e1) == before, "vtd walk/hit leaves PTEs untouched");

    /* STALE: change PTE without invalidation. */
    fs2_w64(&fs, e1, 0x200000 | PTE_URW);
    res = xl(s, 1, 0x10004, false, &o, &f);
    ok(res && o.hit && o.ipa == 0x100004 && o.stale &&
           st->stale_hits == 1,
           "vtd changed PTE without invalidation: old IPA used, stale flagged");
    res = xl(s, 2, 0x10004, false, &o, &f);
    ok(res && !o.hit && o.ipa == 0x200004,
           "vtd IOTLB is tagged by PASID (other PASID misses, walks new PTE)");
    sim_vtd_s1_invalidate(s, 0x10000, 1, true);
    res = xl(s, 1, 0x10004, false, &o, &f);
    ok(res && !o.hit && !o.stale && o.ipa == 0x200004,
           "vtd invalidating the page makes the new PTE visible");

    /* Range not covering, then covering. */
    fs2_w64(&fs, e2, 0x201000 | PTE_URW);
    fs2_w64(&fs, e3, 0x202000 | PTE_URW);
    sim_vtd_s1_invalidate(s, 0x13000, 16, true);
    sim_vtd_s1_invalidate(s, 0x0, 0x11, true);   /* ends at 0x10fff */
    res = xl(s, 1, 0x11000, false, &o, &f);
    ok(res && o.hit && o.stale && o.ipa == 0x101000,
           "vtd invalidation ranges not covering the page keep it");
    before = st->flushed;
    sim_vtd_s1_invalidate(s, 0x11000, 2, true);
    res = xl(s, 1, 0x11000, false, &o, &f);
    ok(res && !o.hit && o.ipa == 0x201000, "vtd covering range drops page 1");
    res = xl(s, 1, 0x12000, false, &o, &f);
    ok(res && !o.hit && o.ipa == 0x202000 && st->flushed - before == 2,
           "vtd covering range drops page 2 (flushed counts 2)");

    /* A 4K invalidation inside a 2M page drops the 2M entry. */
    big = vtd_map(root, 4, 0x400000, 0x600000, 2, PTE_URW);
    xl(s, 1, 0x400000, false, &o, &f);
    fs2_w64(&fs, big, 0x800000 | PTE_URW | PTE_PS);
    res = xl(s, 1, 0x5ff000, false, &o, &f);
    ok(res && o.hit && o.stale && o.ipa == 0x7ff000,
           "vtd 2M entry cached and stale");
    sim_vtd_s1_invalidate(s, 0x4ff000, 1, true);
    res = xl(s, 1, 0x5ff000, false, &o, &f);
    ok(res && !o.hit && o.ipa == 0x9ff000,
           "vtd 4K invalidation overlapping a 2M page drops it");

    /* Invalidate-all hits every PASID. */
    xl(s, 1, 0x10000, false, &o, &f);
    xl(s, 2, 0x10000, false, &o, &f);
    xl(s, 3, 0x11000, false, &o, &f);
    fs2_w64(&fs, e1, 0x300000 | PTE_URW);
    fs2_w64(&fs, e2, 0x301000 | PTE_URW);
    sim_vtd_s1_invalidate(s, 0, UINT64_MAX, false);
    res = xl(s, 1, 0x10000, false, &o, &f) && !o.hit && o.ipa == 0x300000;
    res = res && xl(s, 2, 0x10000, false, &o, &f) && !o.hit;
    res = res && xl(s, 3, 0x11000, false, &o, &f) && !o.hit &&
         o.ipa == 0x301000;
    ok(res, "vtd invalidate-all (0, U64_MAX) drops every PASID's entries");
    /* Huge npages from a non-zero address saturates instead of wrapping. */
    sim_vtd_s1_invalidate(s, 0x11000, UINT64_MAX, true);
    res = xl(s, 1, 0x10000, false, &o, &f) && o.hit;
    res = res && xl(s, 3, 0x11000, false, &o, &f) && !o.hit;
    ok(res, "vtd (addr, U64_MAX) drops from addr upwards only");
    ok(st->inv_entries == 7, "vtd inv_entries counts invalidate calls");

    /* Shadow check also sees a page removed behind the IOTLB's back. */
    fs2_w64(&fs, e1, 0);
    res = xl(s, 1, 0x10000, false, &o, &f);
    ok(res && o.hit && o.stale && o.ipa == 0x300000,
           "vtd cleared PTE without invalidation: still served, stale");
    sim_vtd_s1_invalidate(s, 0x10000, 1, true);
    res = xl(s, 1, 0x10000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_NOT_PRESENT, 1, 1),
           "vtd cleared PTE after invalidation -> not present");
    sim_vtd_s1_free(s);
}

/*
 * Paging-structure caches and the invalidation hint: a PDE pointed at a
 * new page table is only seen after an invalidation without LEAF (IH 0)
 * or a flush of everything; a LEAF one keeps the cached PDE in use.
 */
static void test_psc(void)
{
    uint64_t root = new_root();
    SimVtdS1 *s = sim_vtd_s1_new(0, root, 48, CAP_MGAW48, 0);
    const SimIotlbStats *st = sim_vtd_s1_stats(s);
    uint64_t pde, pt1, pt2, wh;
    SimXlate o;
    SimFault f;
    bool res;

    vtd_map(root, 4, 0x10000, 0x100000, 1, PTE_URW);
    pde = vtd_entry(root, 4, 0x10000, 2, false);
    pt1 = fs2_r64(&fs, pde);
    pt2 = fs2_alloc(&fs, 4096, 4096);
    fs2_w64(&fs, pt2 + ((0x10000 >> 12) & 511) * 8, 0x200000 | PTE_URW);
    res = xl(s, 1, 0x10000, false, &o, &f);
    ok(res && o.ipa == 0x100000 && !o.stale, "vtd psc: first walk");

    fs2_w64(&fs, pde, (pt2 & ~0xfffULL) | PTE_URW);
    sim_vtd_s1_invalidate(s, 0x10000, 1, true);
    wh = st->walk_hits;
    res = xl(s, 1, 0x10000, false, &o, &f);
    ok(res && !o.hit && o.ipa == 0x100000 && o.stale &&
           st->walk_hits == wh + 1,
           "vtd PDE changed, LEAF invalidation: the cached PDE's old table "
           "is used, stale flagged");
    res = xl(s, 2, 0x10000, false, &o, &f);
    ok(res && o.ipa == 0x200000 && !o.stale,
           "vtd paging-structure cache is tagged by PASID");

    sim_vtd_s1_invalidate(s, 0x200000, 512, false);   /* next 2M only */
    sim_vtd_s1_invalidate(s, 0x10000, 1, true);
    res = xl(s, 1, 0x10000, false, &o, &f);
    ok(res && o.ipa == 0x100000 && o.stale,
           "vtd non-leaf invalidation of another PDE's range keeps this one");

    sim_vtd_s1_invalidate(s, 0x10000, 1, false);
    res = xl(s, 1, 0x10000, false, &o, &f);
    ok(res && !o.hit && o.ipa == 0x200000 && !o.stale,
           "vtd non-leaf invalidation of the page drops the cached PDE");

    /* (0, U64_MAX) is piotlb_all in the kernel: no IH, so LEAF is moot. */
    fs2_w64(&fs, pde, pt1);
    sim_vtd_s1_invalidate(s, 0, UINT64_MAX, true);
    res = xl(s, 1, 0x10000, false, &o, &f);
    ok(res && !o.hit && o.ipa == 0x100000 && !o.stale,
           "vtd invalidate-all with LEAF drops the paging-structure caches");

    /* A cached PDE keeps the R/W it was read with (ANDed from the top). */
    vtd_map(root, 4, 0x40000000ULL, 0x300000, 1, PTE_URW);
    vtd_map(root, 4, 0x40001000ULL, 0x301000, 1, PTE_URW);
    pde = vtd_entry(root, 4, 0x40000000ULL, 2, false);
    fs2_w64(&fs, pde, fs2_r64(&fs, pde) & ~PTE_RW);
    res = xl(s, 1, 0x40000000ULL, false, &o, &f);
    ok(res && !o.writable, "vtd read through a read-only PDE");
    wh = st->walk_hits;
    res = xl(s, 1, 0x40001000ULL, true, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_PERM, 1, 1) && !o.stale &&
           st->walk_hits == wh + 1,
           "vtd walk from the cached PDE keeps its R/W=0 (write faults)");
    sim_vtd_s1_free(s);
}

int main(void)
{
    fs2_init(&fs, IPA_BASE, 16 * MB);
    test_basic_4level();
    test_large_pages();
    test_5level();
    test_faults();
    test_privilege();
    test_iotlb();
    test_psc();
    fs2_destroy(&fs);
    return tap_done();
}
