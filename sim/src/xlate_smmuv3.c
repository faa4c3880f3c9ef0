/*
 * iommufd-sim: ARM SMMUv3 stage 1 for a nested HWPT on a vIOMMU.
 *
 * The guest STE (two words, as passed to HWPT_ALLOC) selects abort, bypass
 * or stage-1 translation through a guest Context Descriptor table.  CDs
 * and stage-1 tables live in guest memory (IPA) and are read through the
 * live stage 2 (SimS2).  Per vIOMMU the sim keeps a TLB tagged by ASID and
 * a CD cache keyed by (vSID, CD index); both are dropped only by the guest
 * commands forwarded through IOMMU_HWPT_INVALIDATE (or by forget_sid).
 *
 * Field positions (64-bit little-endian words):
 *   STE w0: V 0, Config 3:1, S1Fmt 5:4, S1ContextPtr 51:6, S1CDMax 63:59
 *   STE w1: S1DSS 1:0
 *   L1CD  : V 0, L2Ptr 51:12            (CD L1 descriptors have no span)
 *   CD w0 : T0SZ 5:0, TG0 7:6, EPD0 14, ENDI 15, V 31, IPS 34:32, AFFD 35,
 *           TBI 39:38, AA64 41, HD 42, HA 43, S 44, R 45, A 46, ASID 63:48
 *   CD w1 : HAD0 1, TTB0 51:4
 *   Descriptor: valid 0, table/page 1, AP[2:1] 7:6, AF 10, nG 11,
 *           OA 47:granule (64K granule with 52-bit OA: OA[51:48] in 15:12),
 *           APTable 62:61 (table descriptors)
 *   Commands: opcode w0 7:0; NUM w0 16:12; SCALE w0 24:20; ASID w0 63:48;
 *           SSID w0 31:12; SID w0 63:32; Leaf w1 0; TTL w1 9:8; TG w1 11:10;
 *           Address w1 63:12
 *   IDR0: TTF 3:2, ASID16 12, CD2L 19, STALL_MODEL 25:24, TERM_MODEL 26
 *   IDR1: SSIDSIZE 10:6      IDR3: STT 9, RIL 10
 *   IDR5: OAS 2:0, GRAN4K 4, GRAN16K 5, GRAN64K 6, VAX 11:10
 *
 * Rules and documented simplifications:
 *
 * - STE: V == 0 or Config 0b000 -> SIM_FAULT_ABORT; 0b100 bypass (ipa =
 *   iova, reported as a 4K page); 0b101 stage 1; any other Config ->
 *   SIM_FAULT_BAD_STE.  With S1CDMax != 0: S1Fmt 0b11, S1CDMax above
 *   IDR1.SSIDSIZE, a two-level format without IDR0.CD2L, or S1DSS 0b11 ->
 *   SIM_FAULT_BAD_STE.  S1CDMax == 0 means one CD and no substreams.
 * - Substreams: a transaction with an SSID when S1CDMax == 0, an SSID >=
 *   2^S1CDMax, an invalid L1CD, or SSID 0 while S1DSS is "substream 0" ->
 *   SIM_FAULT_BAD_CD (C_BAD_SUBSTREAMID in the spec).  A transaction without
 *   SSID with S1CDMax != 0 follows S1DSS: terminate -> SIM_FAULT_ABORT,
 *   bypass, or use CD 0.
 * - CD: V == 0, AA64 == 0, ENDI == 1 (big-endian tables), TG0 reserved or
 *   granule not in IDR5, T0SZ outside [16 (12 with IDR5.VAX and 64K), 39
 *   (48, 47 for 64K, with IDR3.STT)], TTB0 beyond the effective output size,
 *   CD.S with IDR0.STALL_MODEL == 0b01, or CD.A == 0 with IDR0.TERM_MODEL
 *   -> SIM_FAULT_BAD_CD.  Those checks are skipped for TTB0 fields when
 *   EPD0 is set.  HA/HD, MAIR, R, S (otherwise), shareability and
 *   cacheability are ignored: faulting transactions are always terminated.
 *   Invalid CDs are not cached.  Only the final CD is cached: L1CD
 *   descriptors are re-read on every CD cache miss.
 * - Effective output size: min(IPS, IDR5.OAS), and at most 48 bits unless
 *   the 64K granule is used.  ASID is 8 bits unless IDR0.ASID16.
 * - Only TTB0 is used: EPD1 is treated as set, so an input address outside
 *   the TTB0 range (2^(64-T0SZ)) is a translation fault (SIM_FAULT_S1_
 *   NOT_PRESENT, level 0), as is any address when EPD0 is set.  TBI0 is
 *   honoured (top byte ignored).
 * - Walk: levels 0..3 as in VMSAv8-64, start level from T0SZ and the
 *   granule.  Invalid descriptor -> S1_NOT_PRESENT; a block descriptor at a
 *   level where blocks are not allowed (4K: levels 1-2; 16K: 2; 64K: 2, and
 *   1 with a 52-bit output) or 0b01 at level 3 -> SIM_FAULT_S1_RESERVED
 *   (the SMMU would report F_TRANSLATION; the sim keeps them apart).
 *   Table or output address beyond the output size -> S1_ADDR_SIZE; AF == 0
 *   -> S1_ACCESS_FLAG unless CD.AFFD; then permissions.  A stage-2 fault
 *   while reading a CD, L1CD or table is reported with stage 2 and the IPA
 *   read.  The walk never writes (no HTTU).
 * - Permissions: PCIe DMA without a PASID privilege bit is an unprivileged
 *   access, so AP[1] (bit 6, "EL0 access") must be set and APTable[0] must
 *   be clear, else S1_PERM for reads and writes; AP[2] (bit 7) or
 *   APTable[1] makes the page read-only -> write gives S1_PERM.  APTable is
 *   ignored when CD.HAD0 is set.  Linux sets AP[1] for every DMA mapping.
 * - TLB: leaf entries tagged with the ASID, or global (nG == 0) matching
 *   any ASID; each also records the vSID that filled it (forget_sid).
 *   TLBI_NH_ASID leaves global entries alone; TLBI_NH_VA matches the ASID
 *   or global entries; TLBI_NH_VAA matches all.  Range fields (TG != 0)
 *   are honoured only when IDR3.RIL is set (they are RES0 otherwise).
 * - Walk cache: the table descriptors a walk reads (levels 0-2), tagged
 *   with the ASID (table descriptors have no nG) and keyed by the input
 *   range each one translates, with the next table's address and the
 *   APTable bits accumulated down to it.  A TLB miss starts the walk at
 *   the deepest cached descriptor for the address.  TLBI_NH_VA/VAA with
 *   Leaf = 1 only have to invalidate the last level, so they keep the walk
 *   cache; with Leaf = 0 they drop the walk entries overlapping the
 *   address or range too.  TLBI_NH_ASID (that ASID), TLBI_NH_ALL and
 *   TLBI_NSNH_ALL drop the walk cache as well; CFGI_CD* and ATC_INV do
 *   not touch it.  TTL (the level hint) is not modelled: a TLBI drops the
 *   matching leaf entries of every level.
 * - CD cache: keyed by (vSID, CD index) plus the STE's S1ContextPtr, S1Fmt
 *   and S1CDMax, so a CD fetched under a different STE is never reused
 *   (installing a new STE implies CFGI_STE in the host kernel).
 * - Shadow check: whenever the TLB, the walk cache or the CD cache served
 *   a translation,
 *   a fresh uncached resolution (CD from memory, full walk) is made; if it
 *   differs, stale_hits is counted and out->stale set.
 * - Stats: hits/misses count TLB lookups; inv_entries counts accepted
 *   commands; flushed counts TLB and CD cache entries dropped.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iotlb.h"
#include "xlate.h"

/* STE */
#define STE0_V              (1ULL << 0)
#define STE_CFG_ABORT       0x0
#define STE_CFG_BYPASS      0x4
#define STE_CFG_S1          0x5
#define STE_S1FMT_LINEAR    0x0
#define STE_S1FMT_64K_L2    0x2
#define STE_S1FMT_4K_L2     0x1
#define STE_S1DSS_TERMINATE 0x0
#define STE_S1DSS_BYPASS    0x1
#define STE_S1DSS_SSID0     0x2

/* CD word 0 */
#define CD0_EPD0            (1ULL << 14)
#define CD0_ENDI            (1ULL << 15)
#define CD0_V               (1ULL << 31)
#define CD0_AFFD            (1ULL << 35)
#define CD0_AA64            (1ULL << 41)
#define CD0_S               (1ULL << 44)
#define CD0_A               (1ULL << 46)
/* CD word 1 */
#define CD1_HAD0            (1ULL << 1)

/* Translation table descriptors */
#define DESC_VALID          (1ULL << 0)
#define DESC_TABLE          (1ULL << 1)
#define DESC_AP1            (1ULL << 6)     /* EL0 (unprivileged) access */
#define DESC_AP2            (1ULL << 7)     /* read-only */
#define DESC_AF             (1ULL << 10)
#define DESC_NG             (1ULL << 11)
#define DESC_APTABLE0       (1ULL << 61)    /* no EL0 access below */
#define DESC_APTABLE1       (1ULL << 62)    /* read-only below */


/* ID registers */
#define IDR0_ASID16         (1u << 12)
#define IDR0_CD2L           (1u << 19)
#define IDR0_TERM_MODEL     (1u << 26)
#define IDR3_STT            (1u << 9)
#define IDR3_RIL            (1u << 10)
#define IDR5_GRAN4K         (1u << 4)
#define IDR5_GRAN16K        (1u << 5)
#define IDR5_GRAN64K        (1u << 6)

#define CD_SIZE             64

/* A decoded, validated context descriptor (TTB0 half only). */
typedef struct SmmuCd {
    bool epd0;
    bool affd;
    bool had0;
    bool tbi0;
    unsigned t0sz;
    unsigned gshift;        /* 12, 14 or 16 */
    unsigned oas;           /* effective output size in bits */
    uint32_t asid;
    uint64_t ttb0;
} SmmuCd;

typedef struct SmmuCdEntry {
    uint32_t vsid;
    uint32_t idx;           /* CD index (SSID, or 0 without substreams) */
    uint64_t ctxptr;        /* STE config the CD was fetched under */
    unsigned fmt, cdmax;
    SmmuCd cd;
    struct SmmuCdEntry *next;
} SmmuCdEntry;

struct SimSmmuCache {
    uint32_t idr[6];
    SimIotlb tlb;           /* leaf translations */
    SimIotlb walk;          /* table descriptors (walk cache) */
    SmmuCdEntry *cds;
    SimIotlbStats stats;
};


static unsigned oas_bits(unsigned field)
{
    static const unsigned bits[8] = { 32, 36, 40, 42, 44, 48, 52, 52 };

    return bits[field & 7];
}

SimSmmuCache *sim_smmu_cache_new(const uint32_t idr[6])
{
    SimSmmuCache *c = calloc(1, sizeof(*c));

    if (!c) {
        return NULL;
    }
    memcpy(c->idr, idr, sizeof(c->idr));
    sim_iotlb_init(&c->tlb);
    sim_iotlb_init(&c->walk);
    return c;
}

void sim_smmu_cache_free(SimSmmuCache *c)
{
    if (!c) {
        return;
    }
    while (c->cds) {
        SmmuCdEntry *next = c->cds->next;

        free(c->cds);
        c->cds = next;
    }
    sim_iotlb_destroy(&c->tlb);
    sim_iotlb_destroy(&c->walk);
    free(c);
}

const SimIotlbStats *sim_smmu_stats(const SimSmmuCache *c)
{
    return &c->stats;
}

/* ---- Context descriptors ---- */

/* Decode and validate CD words 0/1 (host order).  False: C_BAD_CD. */
static bool cd_decode(const SimSmmuCache *c, uint64_t w0, uint64_t w1,
                      SmmuCd *cd)
{
    uint32_t idr0 = c->idr[0], idr3 = c->idr[3], idr5 = c->idr[5];
    unsigned tg0, min_tsz, max_tsz, oas;

    memset(cd, 0, sizeof(*cd));
    if (!(w0 & CD0_V) || !(w0 & CD0_AA64) || (w0 & CD0_ENDI)) {
        return false;
    }
    if (sim_bits(idr0, 3, 2) == 0x1) {
        return false;       /* TTF: AArch32 tables only */
    }
    if ((w0 & CD0_S) && sim_bits(idr0, 25, 24) == 0x1) {
        return false;       /* stall requested, stalls not supported */
    }
    if (!(w0 & CD0_A) && (idr0 & IDR0_TERM_MODEL)) {
        return false;       /* must terminate with abort */
    }

    cd->epd0 = !!(w0 & CD0_EPD0);
    cd->affd = !!(w0 & CD0_AFFD);
    cd->had0 = !!(w1 & CD1_HAD0);
    cd->tbi0 = !!(sim_bits(w0, 39, 38) & 1);
    cd->asid = (uint32_t)sim_bits(w0, 63, 48);
    if (!(idr0 & IDR0_ASID16)) {
        cd->asid &= 0xff;
    }
    if (cd->epd0) {
        return true;        /* TTB0 fields unused */
    }

    tg0 = (unsigned)sim_bits(w0, 7, 6);
    switch (tg0) {
    case 0:
        cd->gshift = 12;
        if (!(idr5 & IDR5_GRAN4K)) {
            return false;
        }
        break;
    case 1:
        cd->gshift = 16;
        if (!(idr5 & IDR5_GRAN64K)) {
            return false;
        }
        break;
    case 2:
        cd->gshift = 14;
        if (!(idr5 & IDR5_GRAN16K)) {
            return false;
        }
        break;
    default:
        return false;
    }

    cd->t0sz = (unsigned)sim_bits(w0, 5, 0);
    min_tsz = (cd->gshift == 16 && sim_bits(idr5, 11, 10) == 1) ? 12 : 16;
    max_tsz = 39;
    if (idr3 & IDR3_STT) {
        max_tsz = cd->gshift == 16 ? 47 : 48;
    }
    if (cd->t0sz < min_tsz || cd->t0sz > max_tsz) {
        return false;
    }

    oas = oas_bits((unsigned)sim_bits(w0, 34, 32));
    if (oas > oas_bits(idr5 & 7)) {
        oas = oas_bits(idr5 & 7);       /* IPS above IDR5.OAS acts as OAS */
    }
    if (cd->gshift != 16 && oas > 48) {
        oas = 48;
    }
    cd->oas = oas;

    cd->ttb0 = w1 & sim_mask(51, 4);
    if (cd->ttb0 >> oas) {
        return false;
    }
    return true;
}

/* C_BAD_SUBSTREAMID: reported as BAD_CD, recorded as its own event. */
static void bad_substream(SimWalk *r, uint64_t iova)
{
    sim_walk_fail(r, SIM_FAULT_BAD_CD, 0, 0, iova);
    r->smmu_evt = SMMU_EVT_C_BAD_SUBSTREAMID;
}

/*
 * Fetch CD @idx from memory (no caching).  @ctxptr/@fmt/@cdmax come from
 * the STE.  On failure fills @r.
 */
static bool cd_fetch(const SimSmmuCache *c, const SimS2 *s2, uint64_t ctxptr,
                     unsigned fmt, unsigned cdmax, uint32_t idx, SmmuCd *cd,
                     SimWalk *r, uint64_t iova)
{
    uint64_t cd_addr, raw[CD_SIZE / 8], fipa;
    enum sim_fault_code f;

    if (cdmax == 0 || fmt == STE_S1FMT_LINEAR) {
        cd_addr = ctxptr + (uint64_t)idx * CD_SIZE;
    } else {
        unsigned split = fmt == STE_S1FMT_4K_L2 ? 6 : 10;
        uint64_t l1addr = ctxptr + (uint64_t)(idx >> split) * 8;
        uint64_t l1;

        f = sim_s2_read(s2, l1addr, &l1, sizeof(l1), &fipa);
        if (f != SIM_FAULT_NONE) {
            sim_walk_fail(r, f, 2, 0, fipa);
            return false;
        }
        l1 = sim_le64(l1);
        if (!(l1 & 1)) {
            bad_substream(r, iova);
            return false;
        }
        cd_addr = (l1 & sim_mask(51, 12)) +
                  (uint64_t)(idx & ((1u << split) - 1)) * CD_SIZE;
    }

    f = sim_s2_read(s2, cd_addr, raw, sizeof(raw), &fipa);
    if (f != SIM_FAULT_NONE) {
        sim_walk_fail(r, f, 2, 0, fipa);
        return false;
    }
    if (!cd_decode(c, sim_le64(raw[0]), sim_le64(raw[1]), cd)) {
        sim_walk_fail(r, SIM_FAULT_BAD_CD, 0, 0, iova);
        return false;
    }
    return true;
}

static SmmuCdEntry **cd_cache_find(SimSmmuCache *c, uint32_t vsid,
                                   uint32_t idx)
{
    SmmuCdEntry **pp;

    for (pp = &c->cds; *pp; pp = &(*pp)->next) {
        if ((*pp)->vsid == vsid && (*pp)->idx == idx) {
            break;
        }
    }
    return pp;
}

/* ---- Stage-1 walk ---- */

/* Output address held in a table/page/block descriptor. */
static uint64_t desc_oa(uint64_t desc, unsigned gshift, unsigned oas)
{
    uint64_t oa = desc & sim_mask(47, gshift);

    if (gshift == 16 && oas == 52) {
        oa |= sim_bits(desc, 15, 12) << 48;
    } else {
        /* Bits 51:48 set can only mean an address beyond 48 bits. */
        oa |= desc & sim_mask(51, 48);
    }
    return oa;
}

static bool block_allowed(unsigned gshift, int level, unsigned oas)
{
    switch (gshift) {
    case 12:
        return level == 1 || level == 2;
    case 14:
        return level == 2;
    default:
        return level == 2 || (level == 1 && oas == 52);
    }
}

/*
 * VMSAv8-64 stage-1 walk of TTB0; @va already TBI-stripped.  With @wc
 * NULL it reads only (the shadow check); with @wc it starts at the deepest
 * cached table descriptor for (ASID, @va) and caches every table
 * descriptor it reads, recording @vsid.
 */
static void s1_walk(const SmmuCd *cd, const SimS2 *s2, SimIotlb *wc,
                    uint32_t vsid, uint64_t va, bool write, SimWalk *r)
{
    unsigned g = cd->gshift, stride, va_bits, nlevels, top_bits;
    uint64_t table, align;
    bool ap_ro = false, ap_no_el0 = false;
    int start, first;

    if (cd->epd0) {
        sim_walk_fail(r, SIM_FAULT_S1_NOT_PRESENT, 1, 0, va);
        return;
    }
    stride = g - 3;
    va_bits = 64 - cd->t0sz;
    if (va >> va_bits) {
        sim_walk_fail(r, SIM_FAULT_S1_NOT_PRESENT, 1, 0, va);
        return;
    }
    nlevels = (va_bits - g + stride - 1) / stride;
    start = 4 - (int)nlevels;
    top_bits = va_bits - g - (nlevels - 1) * stride;
    align = 8ULL << top_bits;
    if (align < 64) {
        align = 64;
    }
    table = cd->ttb0 & ~(align - 1);
    first = start;

    /* Deepest cached table descriptor first (level 2, then 1, 0). */
    for (int level = 2; wc && level >= start; level--) {
        unsigned lshift = g + (unsigned)(3 - level) * stride;
        const SimIotlbEntry *e = sim_iotlb_lookup_shift(wc, cd->asid, va,
                                                        lshift);

        if (e && e->level == level) {
            table = e->pa;
            ap_ro = !e->writable;
            ap_no_el0 = e->attrs;
            first = level + 1;
            r->wc_hit = true;
            break;
        }
    }

    for (int level = first; level <= 3; level++) {
        unsigned lshift = g + (unsigned)(3 - level) * stride;
        unsigned nbits = level == start ? top_bits : stride;
        uint64_t idx = (va >> lshift) & ((1ULL << nbits) - 1);
        uint64_t eaddr = table + idx * 8;
        uint64_t desc, fipa, oa;
        enum sim_fault_code f;

        f = sim_s2_read(s2, eaddr, &desc, sizeof(desc), &fipa);
        if (f != SIM_FAULT_NONE) {
            sim_walk_fail(r, f, 2, level, fipa);
            r->smmu_class = SMMU_CLASS_TT;
            return;
        }
        desc = sim_le64(desc);

        if (!(desc & DESC_VALID)) {
            sim_walk_fail(r, SIM_FAULT_S1_NOT_PRESENT, 1, level, va);
            return;
        }
        if (level < 3 && (desc & DESC_TABLE)) {
            oa = desc_oa(desc, g, cd->oas);
            if (oa >> cd->oas) {
                sim_walk_fail(r, SIM_FAULT_S1_ADDR_SIZE, 1, level, va);
                return;
            }
            if (!cd->had0) {
                ap_no_el0 |= !!(desc & DESC_APTABLE0);
                ap_ro |= !!(desc & DESC_APTABLE1);
            }
            table = oa;
            if (wc) {
                SimIotlbEntry ne = {
                    .va = va,
                    .pa = table,
                    .tag = cd->asid,
                    .sid = vsid,
                    .shift = (uint8_t)lshift,
                    .level = (uint8_t)level,
                    .writable = !ap_ro,
                    .attrs = ap_no_el0,
                };
                sim_iotlb_insert(wc, &ne);
            }
            continue;
        }
        /* Leaf: page (level 3, 0b11) or block (0b01). */
        if ((level == 3 && !(desc & DESC_TABLE)) ||
            (level < 3 && !block_allowed(g, level, cd->oas))) {
            sim_walk_fail(r, SIM_FAULT_S1_RESERVED, 1, level, va);
            return;
        }
        oa = desc_oa(desc, g, cd->oas) & ~((1ULL << lshift) - 1);
        if (oa >> cd->oas) {
            sim_walk_fail(r, SIM_FAULT_S1_ADDR_SIZE, 1, level, va);
            return;
        }
        if (!(desc & DESC_AF) && !cd->affd) {
            sim_walk_fail(r, SIM_FAULT_S1_ACCESS_FLAG, 1, level, va);
            return;
        }
        ap_no_el0 |= !(desc & DESC_AP1);
        ap_ro |= !!(desc & DESC_AP2);
        if (ap_no_el0 || (write && ap_ro)) {
            sim_walk_fail(r, SIM_FAULT_S1_PERM, 1, level, va);
            return;
        }
        r->ok = true;
        r->pa = oa;
        r->shift = lshift;
        r->writable = !ap_ro;
        r->global = !(desc & DESC_NG);
        r->level_ok = (unsigned)level;
        return;
    }
    /* Not reached: level 3 always ends the walk. */
    sim_walk_fail(r, SIM_FAULT_S1_RESERVED, 1, 3, va);
}

/* ---- Full resolution ---- */

/*
 * Resolve one transaction.  With @cached, the CD cache and TLB are used,
 * filled and counted; without, nothing but guest memory is looked at.
 * *@tlb_hit / *@cd_hit report which caches served the result.
 */
static void smmu_resolve(SimSmmuCache *c, const uint64_t ste[2],
                         uint32_t vsid, const SimS2 *s2, bool ssv,
                         uint32_t ssid, uint64_t iova, bool write,
                         bool cached, SimWalk *r, bool *tlb_hit,
                         bool *cd_hit)
{
    uint64_t w0 = sim_le64(ste[0]), w1 = sim_le64(ste[1]);
    unsigned cfg, fmt, cdmax, s1dss;
    uint64_t ctxptr, va;
    uint32_t idx;
    SmmuCd cd;
    SmmuCdEntry **pp = NULL;
    const SimIotlbEntry *e = NULL;

    memset(r, 0, sizeof(*r));
    *tlb_hit = false;
    *cd_hit = false;

    if (!(w0 & STE0_V)) {
        sim_walk_fail(r, SIM_FAULT_ABORT, 0, 0, iova);
        return;
    }
    cfg = (unsigned)sim_bits(w0, 3, 1);
    switch (cfg) {
    case STE_CFG_ABORT:
        sim_walk_fail(r, SIM_FAULT_ABORT, 0, 0, iova);
        return;
    case STE_CFG_BYPASS:
        goto bypass;
    case STE_CFG_S1:
        break;
    default:
        sim_walk_fail(r, SIM_FAULT_BAD_STE, 0, 0, iova);
        return;
    }

    fmt = (unsigned)sim_bits(w0, 5, 4);
    ctxptr = w0 & sim_mask(51, 6);
    cdmax = (unsigned)sim_bits(w0, 63, 59);
    s1dss = (unsigned)sim_bits(w1, 1, 0);

    if (cdmax == 0) {
        if (ssv) {
            bad_substream(r, iova);
            return;
        }
        idx = 0;
    } else {
        if (fmt == 0x3 || cdmax > sim_bits(c->idr[1], 10, 6) ||
            (fmt != STE_S1FMT_LINEAR && !(c->idr[0] & IDR0_CD2L)) ||
            s1dss == 0x3) {
            sim_walk_fail(r, SIM_FAULT_BAD_STE, 0, 0, iova);
            return;
        }
        if (ssv) {
            if (ssid >> cdmax ||
                (ssid == 0 && s1dss == STE_S1DSS_SSID0)) {
                bad_substream(r, iova);
                return;
            }
            idx = ssid;
        } else if (s1dss == STE_S1DSS_TERMINATE) {
            sim_walk_fail(r, SIM_FAULT_ABORT, 0, 0, iova);
            r->smmu_evt = SMMU_EVT_F_STREAM_DISABLED;
            return;
        } else if (s1dss == STE_S1DSS_BYPASS) {
            goto bypass;
        } else {
            idx = 0;
        }
    }

    /* Context descriptor: cached copy or fresh fetch. */
    if (cached) {
        pp = cd_cache_find(c, vsid, idx);
        if (*pp && (*pp)->ctxptr == ctxptr && (*pp)->fmt == fmt &&
            (*pp)->cdmax == cdmax) {
            cd = (*pp)->cd;
            *cd_hit = true;
        }
    }
    if (!*cd_hit) {
        if (!cd_fetch(c, s2, ctxptr, fmt, cdmax, idx, &cd, r, iova)) {
            return;
        }
        if (cached) {
            SmmuCdEntry *ce = *pp;

            if (!ce) {
                ce = calloc(1, sizeof(*ce));
                if (!ce) {
                    abort();
                }
                *pp = ce;
            }
            ce->vsid = vsid;
            ce->idx = idx;
            ce->ctxptr = ctxptr;
            ce->fmt = fmt;
            ce->cdmax = cdmax;
            ce->cd = cd;
        }
    }

    va = cd.tbi0 ? iova & sim_mask(55, 0) : iova;

    if (cached) {
        e = sim_iotlb_lookup(&c->tlb, cd.asid, va);
    }
    if (e) {
        c->stats.hits++;
        *tlb_hit = true;
        if (write && !e->writable) {
            sim_walk_fail(r, SIM_FAULT_S1_PERM, 1, e->level, va);
            return;
        }
        r->ok = true;
        r->pa = e->pa;
        r->shift = e->shift;
        r->writable = e->writable;
        r->global = e->global;
        r->level_ok = e->level;
        return;
    }
    if (cached) {
        c->stats.misses++;
    }
    s1_walk(&cd, s2, cached ? &c->walk : NULL, vsid, va, write, r);
    if (r->wc_hit) {
        c->stats.walk_hits++;
    }
    if (r->ok && cached) {
        SimIotlbEntry ne = {
            .va = va,
            .pa = r->pa,
            .tag = cd.asid,
            .sid = vsid,
            .shift = (uint8_t)r->shift,
            .level = (uint8_t)r->level_ok,
            .writable = r->writable,
            .global = r->global,
        };
        sim_iotlb_insert(&c->tlb, &ne);
    }
    return;

bypass:
    r->ok = true;
    r->pa = iova & ~0xfffULL;
    r->shift = 12;
    r->writable = true;
}

bool sim_smmu_translate(SimSmmuCache *c, const uint64_t ste[2], uint32_t vsid,
                        const SimS2 *s2, bool ssv, uint32_t ssid,
                        uint64_t iova, bool write, SimXlate *out,
                        SimFault *fault)
{
    SimWalk res;
    bool tlb_hit, cd_hit;
    SimXlate dummy;

    if (!out) {
        out = &dummy;
    }
    memset(out, 0, sizeof(*out));
    if (fault) {
        memset(fault, 0, sizeof(*fault));
    }

    smmu_resolve(c, ste, vsid, s2, ssv, ssid, iova, write, true, &res,
                 &tlb_hit, &cd_hit);
    out->hit = tlb_hit;
    if (tlb_hit || cd_hit || res.wc_hit) {
        SimWalk shadow;
        bool h, ch;

        smmu_resolve(c, ste, vsid, s2, ssv, ssid, iova, write, false,
                     &shadow, &h, &ch);
        if (!sim_walk_same(&res, &shadow)) {
            c->stats.stale_hits++;
            out->stale = true;
        }
    }

    return sim_walk_finish(&res, iova, write, out, fault);
}

/* ---- Invalidation ---- */

typedef struct TlbiMatch {
    bool any_tag;           /* match every ASID */
    bool keep_global;       /* TLBI_NH_ASID: global entries survive */
    uint32_t asid;
    bool by_va;
    uint64_t first, last;
    bool by_sid;
    uint32_t sid;
} TlbiMatch;

static bool tlbi_match(const SimIotlbEntry *e, void *opaque)
{
    const TlbiMatch *m = opaque;

    if (m->by_sid) {
        return e->sid == m->sid;
    }
    if (!m->any_tag) {
        if (e->global ? m->keep_global : e->tag != m->asid) {
            return false;
        }
    }
    if (m->by_va && !sim_iotlb_overlaps(e, m->first, m->last)) {
        return false;
    }
    return true;
}

static uint64_t cd_cache_drop(SimSmmuCache *c, uint32_t vsid, bool all_idx,
                              uint32_t idx)
{
    uint64_t n = 0;
    SmmuCdEntry **pp = &c->cds;

    while (*pp) {
        SmmuCdEntry *ce = *pp;

        if (ce->vsid == vsid && (all_idx || ce->idx == idx)) {
            *pp = ce->next;
            free(ce);
            n++;
        } else {
            pp = &ce->next;
        }
    }
    return n;
}

int sim_smmu_invalidate(SimSmmuCache *c, const uint64_t cmd[2])
{
    uint64_t w0 = sim_le64(cmd[0]), w1 = sim_le64(cmd[1]);
    unsigned op = (unsigned)(w0 & 0xff);
    uint32_t asid = (uint32_t)sim_bits(w0, 63, 48);
    TlbiMatch m = { 0 };
    bool leaf = false;      /* Leaf = 1: the walk cache may be kept */

    if (!(c->idr[0] & IDR0_ASID16)) {
        asid &= 0xff;
    }

    switch (op) {
    case CMD_TLBI_NH_ALL:
    case CMD_TLBI_NSNH_ALL:
        m.any_tag = true;
        break;
    case CMD_TLBI_NH_ASID:
        m.asid = asid;
        m.keep_global = true;
        break;
    case CMD_TLBI_NH_VA:
    case CMD_TLBI_NH_VAA: {
        uint64_t addr = w1 & sim_mask(63, 12);
        unsigned tg = (unsigned)sim_bits(w1, 11, 10);

        m.any_tag = op == CMD_TLBI_NH_VAA;
        m.asid = asid;
        m.by_va = true;
        leaf = w1 & 1;
        if (tg && (c->idr[3] & IDR3_RIL)) {
            /* Range: (NUM + 1) << SCALE granules of size TG from addr. */
            static const unsigned tg_shift[4] = { 0, 12, 14, 16 };
            unsigned num = (unsigned)sim_bits(w0, 16, 12);
            unsigned scale = (unsigned)sim_bits(w0, 24, 20);
            unsigned gs = tg_shift[tg];
            uint64_t len = (uint64_t)(num + 1) << (scale + gs);

            m.first = addr & ~((1ULL << gs) - 1);
            m.last = m.first + len - 1;
            if (m.last < m.first) {
                m.last = UINT64_MAX;
            }
        } else {
            m.first = m.last = addr;
        }
        break;
    }
    case CMD_CFGI_CD:
        c->stats.inv_entries++;
        c->stats.flushed += cd_cache_drop(c, (uint32_t)(w0 >> 32), false,
                                          (uint32_t)sim_bits(w0, 31, 12));
        return 0;
    case CMD_CFGI_CD_ALL:
        c->stats.inv_entries++;
        c->stats.flushed += cd_cache_drop(c, (uint32_t)(w0 >> 32), true, 0);
        return 0;
    case CMD_ATC_INV:
        c->stats.inv_entries++;     /* no ATC is modelled */
        return 0;
    default:
        return -EIO;
    }

    c->stats.inv_entries++;
    c->stats.flushed += sim_iotlb_drop(&c->tlb, tlbi_match, &m);
    if (!leaf) {
        c->stats.walk_flushed += sim_iotlb_drop(&c->walk, tlbi_match, &m);
    }
    return 0;
}

void sim_smmu_forget_sid(SimSmmuCache *c, uint32_t vsid)
{
    TlbiMatch m = { .by_sid = true, .sid = vsid };

    c->stats.flushed += sim_iotlb_drop(&c->tlb, tlbi_match, &m);
    c->stats.walk_flushed += sim_iotlb_drop(&c->walk, tlbi_match, &m);
    c->stats.flushed += cd_cache_drop(c, vsid, true, 0);
}

/* ---- Event records ---- */

/*
 * The record the SMMU writes to its event queue ("7.3 Event records"):
 * word 0 type, SSV, SubstreamID, StreamID; for the four translation
 * faults word 1 RnW (DMA reads are RnW = 1), PnU = InD = 0 (an
 * unprivileged data access: PCIe without a PASID prefix), Stall 0 (the
 * faulting transaction is terminated), S2 and CLASS (CD, TT or IN; stage
 * 1 faults are about the input address), TTRnW = 1 for a table fetch
 * (walks only read), word 2 the input address, word 3 the IPA of a stage
 * 2 fault (stage 1: 0).  C_BAD_STE, F_STREAM_DISABLED, C_BAD_SUBSTREAMID
 * and C_BAD_CD carry only word 0.
 */
bool sim_smmu_event_record(const SimFault *f, uint32_t sid, bool ssv,
                           uint32_t ssid, uint64_t iova, uint64_t evt[4])
{
    unsigned type = f->smmu_evt;
    bool addr = false;

    memset(evt, 0, 4 * sizeof(evt[0]));
    if (!type) {
        switch (f->code) {
        case SIM_FAULT_S1_NOT_PRESENT:
        case SIM_FAULT_S1_RESERVED:     /* a bad descriptor: F_TRANSLATION */
        case SIM_FAULT_S2_UNMAPPED:
            type = SMMU_EVT_F_TRANSLATION;
            break;
        case SIM_FAULT_S1_ADDR_SIZE:
            type = SMMU_EVT_F_ADDR_SIZE;
            break;
        case SIM_FAULT_S1_ACCESS_FLAG:
            type = SMMU_EVT_F_ACCESS;
            break;
        case SIM_FAULT_S1_PERM:
        case SIM_FAULT_S2_PERM:
            type = SMMU_EVT_F_PERMISSION;
            break;
        case SIM_FAULT_BAD_STE:
            type = SMMU_EVT_C_BAD_STE;
            break;
        case SIM_FAULT_BAD_CD:
            type = SMMU_EVT_C_BAD_CD;
            break;
        default:
            return false;       /* abort STE, blocked: no record */
        }
    }
    addr = type >= SMMU_EVT_F_TRANSLATION && type <= SMMU_EVT_F_PERMISSION;
    evt[0] = type | ((uint64_t)sid << SMMU_EVT0_SID_SHIFT);
    if (ssv && type != SMMU_EVT_F_STREAM_DISABLED) {
        evt[0] |= SMMU_EVT0_SSV |
                  ((uint64_t)(ssid & 0xfffff) << SMMU_EVT0_SSID_SHIFT);
    }
    if (!addr) {
        return true;
    }
    if (!f->write) {
        evt[1] |= SMMU_EVT1_RNW;
    }
    if (f->stage == 2) {
        evt[1] |= SMMU_EVT1_S2 |
                  ((uint64_t)f->smmu_class << SMMU_EVT1_CLASS_SHIFT);
        if (f->smmu_class == SMMU_CLASS_TT) {
            evt[1] |= SMMU_EVT1_TTRNW;
        }
        evt[3] = f->addr & SMMU_EVT3_IPA_MASK;
    } else {
        evt[1] |= (uint64_t)SMMU_CLASS_IN << SMMU_EVT1_CLASS_SHIFT;
    }
    evt[2] = iova;
    return true;
}
