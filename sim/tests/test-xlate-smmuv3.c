/*
 * iommufd-sim: unit tests for the SMMUv3 stage-1 model (STE, CD fetch,
 * VMSAv8-64 walks, ASID-tagged TLB, CD cache, commands).  No iommufd
 * involved: a fake stage 2 over a test buffer, tables built here.  TAP.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>

#include "xlate.h"
#include "fake-s2.h"

#define KB 1024ULL
#define MB (1024 * KB)
#define GB (1024 * MB)

#define IPA_BASE 0x40000000ULL

/* ID registers: AArch64 tables, ASID16, CD2L, no stall, terminate model. */
#define IDR0_VAL ((2u << 2) | (1u << 12) | (1u << 19) | (1u << 24) | (1u << 26))
#define IDR1_VAL (20u << 6)                 /* SSIDSIZE 20 */
#define IDR3_RIL (1u << 10)
#define IDR5_VAL (5u | (1u << 4) | (1u << 5) | (1u << 6))   /* OAS 48 */

/* STE */
#define CFG_ABORT  0
#define CFG_BYPASS 4
#define CFG_S1     5
#define FMT_LINEAR 0
#define FMT_L2_4K  1
#define FMT_L2_64K 2
#define DSS_TERM   0
#define DSS_BYPASS 1
#define DSS_SSID0  2

/* CD word 0 */
#define CD_EPD0 (1ULL << 14)
#define CD_ENDI (1ULL << 15)
#define CD_V    (1ULL << 31)
#define CD_AFFD (1ULL << 35)
#define CD_AA64 (1ULL << 41)
#define CD_R    (1ULL << 45)
#define CD_A    (1ULL << 46)
#define CD_IPS(x) ((uint64_t)(x) << 32)
/* CD word 1 */
#define CD_HAD0 (1ULL << 1)

#define TG_4K  0
#define TG_64K 1
#define TG_16K 2

/* Descriptors */
#define D_AP1 (1ULL << 6)
#define D_AP2 (1ULL << 7)
#define D_AF  (1ULL << 10)
#define D_NG  (1ULL << 11)
#define D_APTABLE1 (1ULL << 62)
#define D_DEF (D_AF | D_AP1 | D_NG)

static FakeS2 fs;
static const uint32_t idr_std[6] = { IDR0_VAL, IDR1_VAL, 0, IDR3_RIL, 0,
                                     IDR5_VAL };

/* ---- builders ---- */

static void ste_make(uint64_t ste[2], unsigned cfg, uint64_t ctxptr,
                     unsigned fmt, unsigned cdmax, unsigned s1dss)
{
    ste[0] = to_le64(1 | (uint64_t)cfg << 1 | (uint64_t)fmt << 4 |
                     (ctxptr & 0x000fffffffffffc0ULL) |
                     (uint64_t)cdmax << 59);
    ste[1] = to_le64(s1dss);
}

static uint64_t cd_w0(unsigned tg, unsigned t0sz, uint16_t asid)
{
    return t0sz | (uint64_t)tg << 6 | CD_V | CD_IPS(5) | CD_AA64 | CD_R |
           CD_A | (uint64_t)asid << 48;
}

static void cd_write(uint64_t ipa, uint64_t w0, uint64_t w1)
{
    fs2_w64(&fs, ipa, w0);
    fs2_w64(&fs, ipa + 8, w1);
}

/* A VMSAv8-64 TTB0 table tree. */
typedef struct ArmTT {
    uint64_t ttb;
    unsigned g, t0sz;
    int start;
} ArmTT;

static unsigned tt_stride(const ArmTT *t)
{
    return t->g - 3;
}

static unsigned tt_lshift(const ArmTT *t, int level)
{
    return t->g + (unsigned)(3 - level) * tt_stride(t);
}

static ArmTT tt_new(unsigned g, unsigned t0sz, int start)
{
    ArmTT t = { .g = g, .t0sz = t0sz, .start = start };

    t.ttb = fs2_alloc(&fs, 1ULL << g, 1ULL << g);
    return t;
}

static uint64_t tt_index(const ArmTT *t, uint64_t va, int level)
{
    unsigned bits = level == t->start ?
                    (64 - t->t0sz) - tt_lshift(t, level) : tt_stride(t);

    return (va >> tt_lshift(t, level)) & ((1ULL << bits) - 1);
}

/* IPA of the descriptor for @va at @level (creating tables above it). */
static uint64_t tt_entry(const ArmTT *t, uint64_t va, int level)
{
    uint64_t table = t->ttb;

    for (int l = t->start; l < level; l++) {
        uint64_t e = table + tt_index(t, va, l) * 8;
        uint64_t d = fs2_r64(&fs, e);

        if (!(d & 1)) {
            d = fs2_alloc(&fs, 1ULL << t->g, 1ULL << t->g) | 3;
            fs2_w64(&fs, e, d);
        }
        table = d & 0x0000fffffffff000ULL & ~((1ULL << t->g) - 1);
    }
    return table + tt_index(t, va, level) * 8;
}

static uint64_t tt_map(const ArmTT *t, uint64_t va, uint64_t pa, int level,
                       uint64_t attrs)
{
    uint64_t e = tt_entry(t, va, level);

    fs2_w64(&fs, e, pa | attrs | (level == 3 ? 3 : 1));
    return e;
}

/* ---- helpers ---- */

static bool tr(SimSmmuCache *c, const uint64_t ste[2], uint32_t sid,
               bool ssv, uint32_t ssid, uint64_t iova, bool write,
               SimXlate *o, SimFault *f)
{
    return sim_smmu_translate(c, ste, sid, &fs.s2, ssv, ssid, iova, write,
                              o, f);
}

static bool is_fault(bool res, const SimFault *f, enum sim_fault_code code,
                     int stage, int level)
{
    if (res || f->code != code || f->stage != stage ||
        (level >= 0 && f->level != level)) {
        diag("got ok=%d code=%d stage=%d level=%d addr=0x%llx", res,
                 f->code, f->stage, f->level, (unsigned long long)f->addr);
        return false;
    }
    return true;
}

static int cmd(SimSmmuCache *c, uint64_t w0, uint64_t w1)
{
    uint64_t words[2] = { to_le64(w0), to_le64(w1) };

    return sim_smmu_invalidate(c, words);
}

static int tlbi_asid(SimSmmuCache *c, uint16_t asid)
{
    return cmd(c, 0x11 | (uint64_t)asid << 48, 0);
}

static int tlbi_va(SimSmmuCache *c, uint16_t asid, uint64_t va)
{
    return cmd(c, 0x12 | (uint64_t)asid << 48, (va & ~0xfffULL) | 1);
}

static int tlbi_va_range(SimSmmuCache *c, uint16_t asid, uint64_t va,
                         unsigned tg, unsigned num, unsigned scale)
{
    return cmd(c, 0x12 | (uint64_t)num << 12 | (uint64_t)scale << 20 |
                  (uint64_t)asid << 48,
               (va & ~0xfffULL) | (uint64_t)tg << 10 | 1);
}

static int tlbi_vaa(SimSmmuCache *c, uint64_t va)
{
    return cmd(c, 0x13, (va & ~0xfffULL) | 1);
}

static int cfgi_cd(SimSmmuCache *c, uint32_t sid, uint32_t ssid)
{
    return cmd(c, 0x05 | (uint64_t)sid << 32 | (uint64_t)ssid << 12, 1);
}

static int cfgi_cd_all(SimSmmuCache *c, uint32_t sid)
{
    return cmd(c, 0x06 | (uint64_t)sid << 32, 0);
}

/* A stage-1 device: one linear single-CD table with a 4K tree. */
typedef struct Dev {
    uint64_t ste[2];
    uint64_t cd;
    ArmTT tt;
} Dev;

static Dev dev_4k(uint16_t asid)
{
    Dev d;

    d.tt = tt_new(12, 16, 0);
    d.cd = fs2_alloc(&fs, 64, 64);
    cd_write(d.cd, cd_w0(TG_4K, 16, asid), d.tt.ttb);
    ste_make(d.ste, CFG_S1, d.cd, FMT_LINEAR, 0, 0);
    return d;
}

/* ---- tests ---- */

static void test_ste(void)
{
    SimSmmuCache *c = sim_smmu_cache_new(idr_std);
    Dev d = dev_4k(1);
    uint64_t ste[2];
    SimXlate o;
    SimFault f;
    bool res;

    tt_map(&d.tt, 0x1000, 0x5000, 3, D_DEF);

    ste[0] = d.ste[0] & ~to_le64(1);
    ste[1] = d.ste[1];
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_ABORT, 0, 0), "smmu STE V=0 -> abort");
    ste_make(ste, CFG_ABORT, d.cd, 0, 0, 0);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_ABORT, 0, 0),
           "smmu STE Config abort -> abort");
    ste_make(ste, CFG_BYPASS, d.cd, 0, 0, 0);
    res = tr(c, ste, 1, false, 0, 0x123456789abcULL, true, &o, &f);
    ok(res && o.ipa == 0x123456789abcULL && o.writable,
           "smmu STE Config bypass -> ipa = iova");
    ste_make(ste, 6, d.cd, 0, 0, 0);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_STE, 0, 0),
           "smmu STE Config 0b110 (stage 2) -> bad STE");
    ste_make(ste, 1, d.cd, 0, 0, 0);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_STE, 0, 0),
           "smmu STE Config 0b001 -> bad STE");
    ste_make(ste, CFG_S1, d.cd, 3, 2, 0);
    res = tr(c, ste, 1, true, 1, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_STE, 0, 0),
           "smmu STE S1Fmt 0b11 -> bad STE");

    res = tr(c, d.ste, 1, false, 0, 0x1234, false, &o, &f);
    ok(res && o.ipa == 0x5234 && o.page_size == 4 * KB && o.writable &&
           !o.hit, "smmu S1 linear single CD, 4K walk from level 0");
    res = tr(c, d.ste, 1, true, 0, 0x1234, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu SSID with S1CDMax 0 -> bad CD (bad substream)");
    sim_smmu_cache_free(c);
}

static void test_cd_tables(void)
{
    SimSmmuCache *c = sim_smmu_cache_new(idr_std);
    ArmTT t[4];
    uint64_t lin, l1, l2a, l2b, ste[2];
    SimXlate o;
    SimFault f;
    bool res;

    for (int i = 0; i < 4; i++) {
        t[i] = tt_new(12, 16, 0);
        tt_map(&t[i], 0x8000, 0x100000 * (i + 1), 3, D_DEF);
    }

    /*
     * Linear table of 4 CDs (S1CDMax 2), followed by valid-looking CDs
     * 4..7 that only the SSID range check keeps out.
     */
    lin = fs2_alloc(&fs, 8 * 64, 512);
    for (int i = 0; i < 8; i++) {
        cd_write(lin + 64 * i, cd_w0(TG_4K, 16, (uint16_t)(10 + i)), t[i & 3].ttb);
    }
    ste_make(ste, CFG_S1, lin, FMT_LINEAR, 2, DSS_SSID0);
    res = tr(c, ste, 2, true, 1, 0x8010, false, &o, &f);
    ok(res && o.ipa == 0x200010, "smmu linear CD table: SSID 1 -> CD 1");
    res = tr(c, ste, 2, true, 3, 0x8010, false, &o, &f);
    ok(res && o.ipa == 0x400010, "smmu linear CD table: SSID 3 -> CD 3");
    res = tr(c, ste, 2, true, 4, 0x8010, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu SSID 4 with S1CDMax 2 -> bad CD");
    res = tr(c, ste, 2, false, 0, 0x8010, false, &o, &f);
    ok(res && o.ipa == 0x100010,
           "smmu S1DSS substream0: no SSID uses CD 0");
    res = tr(c, ste, 2, true, 0, 0x8010, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu S1DSS substream0: SSID 0 -> bad CD");
    ste_make(ste, CFG_S1, lin, FMT_LINEAR, 2, DSS_BYPASS);
    res = tr(c, ste, 2, false, 0, 0x8010, false, &o, &f);
    ok(res && o.ipa == 0x8010, "smmu S1DSS bypass: no SSID bypasses");
    ste_make(ste, CFG_S1, lin, FMT_LINEAR, 2, DSS_TERM);
    res = tr(c, ste, 2, false, 0, 0x8010, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_ABORT, 0, 0),
           "smmu S1DSS terminate: no SSID aborts");
    ste_make(ste, CFG_S1, lin, FMT_LINEAR, 21, DSS_SSID0);
    res = tr(c, ste, 2, true, 1, 0x8010, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_STE, 0, 0),
           "smmu S1CDMax above IDR1.SSIDSIZE -> bad STE");

    /* Two-level, 4K leaf tables (64 CDs each), S1CDMax 8. */
    l1 = fs2_alloc(&fs, 8 * 8, 64);
    l2a = fs2_alloc(&fs, 4096, 4096);
    fs2_w64(&fs, l1 + 8, l2a | 1);                  /* SSIDs 64..127 */
    fs2_w64(&fs, l1 + 4 * 8, l2a | 1);              /* beyond S1CDMax */
    cd_write(l2a + 6 * 64, cd_w0(TG_4K, 16, 20), t[2].ttb);
    cd_write(l2a, cd_w0(TG_4K, 16, 20), t[2].ttb);
    ste_make(ste, CFG_S1, l1, FMT_L2_4K, 8, DSS_SSID0);
    res = tr(c, ste, 3, true, 70, 0x8000, false, &o, &f);
    ok(res && o.ipa == 0x300000, "smmu 2-level CD (4K split): SSID 70");
    res = tr(c, ste, 3, true, 200, 0x8000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu 2-level CD: invalid L1 descriptor -> bad CD");
    res = tr(c, ste, 3, true, 256, 0x8000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu 2-level CD: SSID 256 with S1CDMax 8 -> bad CD");

    /* Two-level, 64K leaf tables (1024 CDs each). */
    l1 = fs2_alloc(&fs, 4 * 8, 64);
    l2b = fs2_alloc(&fs, 64 * KB, 64 * KB);
    fs2_w64(&fs, l1 + 8, l2b | 1);                  /* SSIDs 1024..2047 */
    cd_write(l2b + 6 * 64, cd_w0(TG_4K, 16, 21), t[3].ttb);
    ste_make(ste, CFG_S1, l1, FMT_L2_64K, 12, DSS_SSID0);
    res = tr(c, ste, 4, true, 1030, 0x8000, false, &o, &f);
    ok(res && o.ipa == 0x400000, "smmu 2-level CD (64K split): SSID 1030");

    /* CD2L not implemented -> two-level formats are illegal. */
    {
        uint32_t idr[6];
        SimSmmuCache *c2;

        memcpy(idr, idr_std, sizeof(idr));
        idr[0] &= ~(1u << 19);
        c2 = sim_smmu_cache_new(idr);
        res = tr(c2, ste, 4, true, 1030, 0x8000, false, &o, &f);
        ok(is_fault(res, &f, SIM_FAULT_BAD_STE, 0, 0),
               "smmu 2-level CD format without IDR0.CD2L -> bad STE");
        sim_smmu_cache_free(c2);
    }

    /* Stage-2 fault while fetching a CD. */
    fs2_set_flags(&fs, l2b, 4096, FS2_UNMAPPED);
    res = tr(c, ste, 5, true, 1030, 0x8000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S2_UNMAPPED, 2, -1) &&
           f.addr == l2b + 6 * 64, "smmu stage-2 fault on CD fetch -> stage 2");
    fs2_set_flags(&fs, l2b, 4096, 0);
    sim_smmu_cache_free(c);
}

static void test_bad_cd(void)
{
    uint32_t idr[6];
    SimSmmuCache *c = sim_smmu_cache_new(idr_std), *c16;
    ArmTT t = tt_new(12, 16, 0);
    uint64_t cd = fs2_alloc(&fs, 64, 64), ste[2];
    SimXlate o;
    SimFault f;
    bool res;

    tt_map(&t, 0x1000, 0x2000, 3, D_DEF);
    ste_make(ste, CFG_S1, cd, FMT_LINEAR, 0, 0);

    cd_write(cd, cd_w0(TG_4K, 16, 1) & ~CD_V, t.ttb);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0), "smmu CD V=0 -> bad CD");
    cd_write(cd, cd_w0(TG_4K, 16, 1) | CD_ENDI, t.ttb);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu CD ENDI (big-endian tables) -> bad CD");
    cd_write(cd, cd_w0(TG_4K, 16, 1) & ~CD_AA64, t.ttb);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu CD AA64=0 -> bad CD");
    cd_write(cd, cd_w0(3, 16, 1), t.ttb);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu CD TG0 reserved -> bad CD");
    cd_write(cd, cd_w0(TG_4K, 15, 1), t.ttb);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu CD T0SZ 15 -> bad CD");
    cd_write(cd, cd_w0(TG_4K, 40, 1), t.ttb);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu CD T0SZ 40 without IDR3.STT -> bad CD");
    cd_write(cd, (cd_w0(TG_4K, 16, 1) & ~CD_IPS(7)) | CD_IPS(0),
             t.ttb | (1ULL << 32));
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu CD TTB0 beyond IPS (32 bits) -> bad CD");

    cd_write(cd, cd_w0(TG_4K, 16, 1) | (1ULL << 44), t.ttb);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu CD.S=1 with IDR0.STALL_MODEL=0b01 -> bad CD");
    cd_write(cd, cd_w0(TG_4K, 16, 1) & ~CD_A, t.ttb);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu CD.A=0 with IDR0.TERM_MODEL -> bad CD");

    /* Granule missing from IDR5. */
    memcpy(idr, idr_std, sizeof(idr));
    idr[5] &= ~(1u << 5);
    c16 = sim_smmu_cache_new(idr);
    cd_write(cd, cd_w0(TG_16K, 16, 1), t.ttb);
    res = tr(c16, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_BAD_CD, 0, 0),
           "smmu CD 16K granule without IDR5.GRAN16K -> bad CD");
    sim_smmu_cache_free(c16);

    /* Invalid CDs are not cached: fixing it needs no CFGI_CD. */
    cd_write(cd, cd_w0(TG_4K, 16, 1), t.ttb);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(res && o.ipa == 0x2000, "smmu fixed CD is fetched again");

    /* EPD0: TTB0 walks disabled -> translation fault. */
    cd_write(cd, cd_w0(TG_4K, 16, 1) | CD_EPD0, t.ttb);
    cfgi_cd(c, 1, 0);
    cmd(c, 0x10, 0);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_NOT_PRESENT, 1, 0),
           "smmu CD EPD0 -> translation fault");
    sim_smmu_cache_free(c);
}

static void test_granules(void)
{
    SimSmmuCache *c = sim_smmu_cache_new(idr_std);
    uint64_t cd = fs2_alloc(&fs, 64, 64), ste[2], va, e;
    ArmTT t16, t64, t4;
    SimXlate o;
    SimFault f;
    bool res;

    ste_make(ste, CFG_S1, cd, FMT_LINEAR, 0, 0);

    /* 16K, 48-bit VA: 4 levels, level 0 has 2 entries (VA bit 47). */
    t16 = tt_new(14, 16, 0);
    va = 0x800012344000ULL;
    tt_map(&t16, va, 0x1234c000, 3, D_DEF);
    cd_write(cd, cd_w0(TG_16K, 16, 1), t16.ttb);
    res = tr(c, ste, 1, false, 0, va + 0x123, false, &o, &f);
    ok(res && o.ipa == 0x1234c123 && o.page_size == 16 * KB,
           "smmu 16K granule walk (48-bit VA, level-0 index from bit 47)");
    tt_map(&t16, 0x2000000, 0x6000000, 2, D_DEF);   /* 32M block */
    res = tr(c, ste, 1, false, 0, 0x2345678, false, &o, &f);
    ok(res && o.ipa == 0x6345678 && o.page_size == 32 * MB,
           "smmu 16K granule 32M block at level 2");
    e = tt_entry(&t16, 0x1000000000ULL, 1);
    fs2_w64(&fs, e, 0x1000000000ULL | D_DEF | 1);    /* 64G block: illegal */
    res = tr(c, ste, 1, false, 0, 0x1000000000ULL, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_RESERVED, 1, 1),
           "smmu 16K granule block at level 1 -> bad descriptor");

    /* 64K, 48-bit VA: 3 levels starting at level 1. */
    t64 = tt_new(16, 16, 1);
    va = 0x7fff12340000ULL;
    tt_map(&t64, va, 0x3450000, 3, D_DEF);
    cd_write(cd, cd_w0(TG_64K, 16, 1), t64.ttb);
    cfgi_cd(c, 1, 0);
    res = tr(c, ste, 1, false, 0, va + 0xfedc, false, &o, &f);
    ok(res && o.ipa == 0x345fedc && o.page_size == 64 * KB,
           "smmu 64K granule walk (3 levels from level 1)");
    tt_map(&t64, 0x40000000ULL, 0x20000000ULL, 2, D_DEF);   /* 512M */
    res = tr(c, ste, 1, false, 0, 0x4abcdef0ULL, false, &o, &f);
    ok(res && o.ipa == 0x2abcdef0ULL && o.page_size == 512 * MB,
           "smmu 64K granule 512M block at level 2");

    /* 4K with T0SZ 25 (39-bit VA): 3 levels from level 1; 1G and 2M. */
    t4 = tt_new(12, 25, 1);
    tt_map(&t4, 0x40000000ULL, 0x80000000ULL, 1, D_DEF);    /* 1G */
    tt_map(&t4, 0x200000, 0xa00000, 2, D_DEF);               /* 2M */
    tt_map(&t4, 0x3000, 0xb000, 3, D_DEF);
    cd_write(cd, cd_w0(TG_4K, 25, 1), t4.ttb);
    cfgi_cd(c, 1, 0);
    res = tr(c, ste, 1, false, 0, 0x7fffffffULL, false, &o, &f);
    ok(res && o.ipa == 0xbfffffffULL && o.page_size == GB,
           "smmu 4K granule 1G block at level 1");
    res = tr(c, ste, 1, false, 0, 0x3fffff, false, &o, &f);
    ok(res && o.ipa == 0xbfffff && o.page_size == 2 * MB,
           "smmu 4K granule 2M block at level 2");
    res = tr(c, ste, 1, false, 0, 0x3008, false, &o, &f);
    ok(res && o.ipa == 0xb008, "smmu 4K granule page via 3-level walk");
    res = tr(c, ste, 1, false, 0, 1ULL << 39, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_NOT_PRESENT, 1, 0),
           "smmu VA beyond 2^(64-T0SZ) -> translation fault level 0");
    e = tt_entry(&t4, 0x5000, 3);
    fs2_w64(&fs, e, 0xc000 | D_DEF | 1);        /* 0b01 at level 3 */
    res = tr(c, ste, 1, false, 0, 0x5000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_RESERVED, 1, 3),
           "smmu descriptor 0b01 at level 3 -> bad descriptor");
    res = tr(c, ste, 1, false, 0, 0x6000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_NOT_PRESENT, 1, 3) &&
           f.addr == 0x6000, "smmu invalid page descriptor -> level 3 fault");
    res = tr(c, ste, 1, false, 0, 0x80000000ULL, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_NOT_PRESENT, 1, 1),
           "smmu invalid level-1 descriptor -> level 1 fault");

    /* T0SZ 37 (27-bit VA): level-2 start table of 64 entries, 512 bytes. */
    {
        uint64_t page = fs2_alloc(&fs, 4096, 4096);
        ArmTT ts = { .ttb = page + 0x200, .g = 12, .t0sz = 37, .start = 2 };

        tt_map(&ts, 0x7e00000, 0xd000, 3, D_DEF);
        fs2_w64(&fs, page + 63 * 8, 0x1);   /* decoy if TTB0 lost 11:4 */
        cd_write(cd, cd_w0(TG_4K, 37, 1), ts.ttb);
        cfgi_cd(c, 1, 0);
        res = tr(c, ste, 1, false, 0, 0x7e00010, false, &o, &f);
        ok(res && o.ipa == 0xd010,
               "smmu TTB0 bits 11:4 used for a 512-byte start table");
    }

    /* 64K granule, 52-bit IPS and OAS: OA[51:48] in descriptor 15:12. */
    {
        uint32_t idr[6];
        SimSmmuCache *c52;

        memcpy(idr, idr_std, sizeof(idr));
        idr[5] = (idr[5] & ~7u) | 6;
        c52 = sim_smmu_cache_new(idr);
        t64 = tt_new(16, 16, 1);
        tt_map(&t64, 0x10000, 0x120000 | (0x3ULL << 12), 3, D_DEF);
        cd_write(cd, (cd_w0(TG_64K, 16, 1) & ~CD_IPS(7)) | CD_IPS(6),
                 t64.ttb);
        res = tr(c52, ste, 1, false, 0, 0x10008, false, &o, &f);
        ok(res && o.ipa == (0x3ULL << 48 | 0x120008),
               "smmu 64K granule 52-bit output: OA[51:48] from bits 15:12");
        cfgi_cd(c, 1, 0);
        tlbi_asid(c, 1);    /* new tables under ASID 1: drop its walks */
        res = tr(c, ste, 1, false, 0, 0x10008, false, &o, &f);
        ok(res && o.ipa == 0x120008,
               "smmu 64K granule 48-bit OAS: descriptor bits 15:12 ignored");
        /* Without the 64K granule the output stays within 48 bits. */
        t4 = tt_new(12, 16, 0);
        tt_map(&t4, 0x10000, 1ULL << 48, 3, D_DEF);
        cd_write(cd, (cd_w0(TG_4K, 16, 2) & ~CD_IPS(7)) | CD_IPS(6), t4.ttb);
        res = tr(c52, ste, 2, false, 0, 0x10000, false, &o, &f);
        ok(is_fault(res, &f, SIM_FAULT_S1_ADDR_SIZE, 1, 3),
               "smmu 4K granule with 52-bit IPS/OAS: output capped at 48 bits");
        sim_smmu_cache_free(c52);
    }

    /* 4K, 48-bit: a block at level 0 is illegal. */
    t4 = tt_new(12, 16, 0);
    e = tt_entry(&t4, 0, 0);
    fs2_w64(&fs, e, D_DEF | 1);
    cd_write(cd, cd_w0(TG_4K, 16, 1), t4.ttb);
    cfgi_cd(c, 1, 0);
    tlbi_asid(c, 1);
    res = tr(c, ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_RESERVED, 1, 0),
           "smmu 4K granule block at level 0 -> bad descriptor");

    /* Stage-2 fault while reading a level-2 table. */
    tt_map(&t4, 0x8000000000ULL, 0x1000, 3, D_DEF);
    e = fs2_r64(&fs, tt_entry(&t4, 0x8000000000ULL, 1)) & 0xfffffffff000ULL;
    fs2_set_flags(&fs, e, 4096, FS2_UNMAPPED);
    res = tr(c, ste, 1, false, 0, 0x8000000000ULL, true, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S2_UNMAPPED, 2, 2) && f.addr == e &&
           f.write, "smmu stage-2 fault in table walk -> stage 2, level 2");
    fs2_set_flags(&fs, e, 4096, 0);
    sim_smmu_cache_free(c);
}

static void test_perms(void)
{
    SimSmmuCache *c = sim_smmu_cache_new(idr_std);
    Dev d = dev_4k(1);
    uint64_t e, w0 = cd_w0(TG_4K, 16, 1);
    SimXlate o;
    SimFault f;
    bool res;

    tt_map(&d.tt, 0x1000, 0x11000, 3, D_DEF & ~D_AF);
    res = tr(c, d.ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_ACCESS_FLAG, 1, 3),
           "smmu AF=0 -> access flag fault");
    cd_write(d.cd, w0 | CD_AFFD, d.tt.ttb);
    cfgi_cd(c, 1, 0);
    res = tr(c, d.ste, 1, false, 0, 0x1000, false, &o, &f);
    ok(res && o.ipa == 0x11000, "smmu AF=0 with CD.AFFD -> no fault");
    cd_write(d.cd, w0, d.tt.ttb);
    cfgi_cd(c, 1, 0);

    tt_map(&d.tt, 0x2000, 0x12000, 3, D_DEF | D_AP2);
    res = tr(c, d.ste, 1, false, 0, 0x2000, false, &o, &f);
    ok(res && !o.writable, "smmu AP[2]=1 page: read ok, not writable");
    res = tr(c, d.ste, 1, false, 0, 0x2000, true, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_PERM, 1, 3) && f.write,
           "smmu AP[2]=1 (read-only) write -> permission fault");

    tt_map(&d.tt, 0x3000, 0x13000, 3, D_DEF & ~D_AP1);
    res = tr(c, d.ste, 1, false, 0, 0x3000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_PERM, 1, 3),
           "smmu AP[1]=0 (no unprivileged access) read -> permission fault");

    /* APTable[1] in the level-2 table descriptor -> read-only below. */
    tt_map(&d.tt, 0x40000000ULL, 0x14000, 3, D_DEF);
    e = tt_entry(&d.tt, 0x40000000ULL, 2);
    fs2_w64(&fs, e, fs2_r64(&fs, e) | D_APTABLE1);
    res = tr(c, d.ste, 1, false, 0, 0x40000000ULL, true, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_PERM, 1, 3),
           "smmu APTable[1] makes the leaf read-only");
    cd_write(d.cd, w0, d.tt.ttb | CD_HAD0);
    cfgi_cd(c, 1, 0);
    tlbi_asid(c, 1);    /* the walk cache holds APTable as read with HAD0 0 */
    res = tr(c, d.ste, 1, false, 0, 0x40000000ULL, true, &o, &f);
    ok(res && o.writable, "smmu CD.HAD0 disables APTable");
    cd_write(d.cd, w0, d.tt.ttb);
    cfgi_cd(c, 1, 0);

    /* Output beyond the 48-bit OAS, and beyond a 32-bit IPS. */
    tt_map(&d.tt, 0x5000, 1ULL << 48, 3, D_DEF);
    res = tr(c, d.ste, 1, false, 0, 0x5000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_ADDR_SIZE, 1, 3),
           "smmu output address beyond OAS -> address size fault");
    tt_map(&d.tt, 0x6000, 1ULL << 32, 3, D_DEF);
    res = tr(c, d.ste, 1, false, 0, 0x6000, false, &o, &f);
    ok(res && o.ipa == 1ULL << 32, "smmu 33-bit output with IPS 48 ok");
    cd_write(d.cd, (w0 & ~CD_IPS(7)) | CD_IPS(0), d.tt.ttb);
    cfgi_cd(c, 1, 0);
    cmd(c, 0x10, 0);
    res = tr(c, d.ste, 1, false, 0, 0x6000, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_ADDR_SIZE, 1, 3),
           "smmu output beyond CD.IPS (32 bits) -> address size fault");
    sim_smmu_cache_free(c);
}

static void test_tlb(void)
{
    SimSmmuCache *c = sim_smmu_cache_new(idr_std);
    const SimIotlbStats *st = sim_smmu_stats(c);
    Dev a = dev_4k(1), b = dev_4k(2), g = dev_4k(3);
    uint64_t ea, eb, eg, ep[6], before;
    SimXlate o;
    SimFault f;
    bool res;

    ea = tt_map(&a.tt, 0x10000, 0x100000, 3, D_DEF);
    eb = tt_map(&b.tt, 0x10000, 0x200000, 3, D_DEF);
    res = tr(c, a.ste, 1, false, 0, 0x10000, false, &o, &f) && !o.hit;
    res = res && tr(c, a.ste, 1, false, 0, 0x10008, false, &o, &f) && o.hit &&
         o.ipa == 0x100008 && !o.stale;
    ok(res && st->hits == 1 && st->misses == 1,
           "smmu second access is a TLB hit");
    res = tr(c, b.ste, 2, false, 0, 0x10000, false, &o, &f);
    ok(res && !o.hit && o.ipa == 0x200000,
           "smmu TLB is ASID-tagged: same VA, other ASID misses");

    fs2_w64(&fs, ea, 0x110000 | D_DEF | 3);
    fs2_w64(&fs, eb, 0x210000 | D_DEF | 3);
    res = tr(c, a.ste, 1, false, 0, 0x10000, false, &o, &f);
    ok(res && o.hit && o.stale && o.ipa == 0x100000 && st->stale_hits == 1,
           "smmu changed PTE without TLBI: old IPA used, stale flagged");
    ok(tlbi_asid(c, 1) == 0, "smmu TLBI_NH_ASID accepted");
    res = tr(c, a.ste, 1, false, 0, 0x10000, false, &o, &f) && !o.hit &&
         o.ipa == 0x110000;
    res = res && tr(c, b.ste, 2, false, 0, 0x10000, false, &o, &f) && o.hit &&
         o.ipa == 0x200000 && o.stale;
    ok(res, "smmu TLBI_NH_ASID 1 drops ASID 1 only");

    /* Global (nG = 0) entries match every ASID; NH_ASID leaves them. */
    eg = tt_map(&g.tt, 0x30000, 0x300000, 3, D_DEF & ~D_NG);
    tt_map(&a.tt, 0x30000, 0x400000, 3, D_DEF);
    res = tr(c, g.ste, 3, false, 0, 0x30000, false, &o, &f) && !o.hit;
    res = res && tr(c, a.ste, 1, false, 0, 0x30000, false, &o, &f) && o.hit &&
         o.ipa == 0x300000 && o.stale;
    ok(res, "smmu global entry (nG=0) hits for another ASID");
    tlbi_asid(c, 3);
    tlbi_asid(c, 1);
    res = tr(c, a.ste, 1, false, 0, 0x30000, false, &o, &f) && o.hit &&
         o.ipa == 0x300000;
    ok(res, "smmu TLBI_NH_ASID does not drop global entries");
    tlbi_va(c, 7, 0x30000);
    res = tr(c, a.ste, 1, false, 0, 0x30000, false, &o, &f) && !o.hit &&
         o.ipa == 0x400000;
    ok(res, "smmu TLBI_NH_VA (any ASID) drops the global entry at VA");
    (void)eg;

    /* TLBI_NH_VA without range: one page only, right ASID only. */
    for (int i = 0; i < 6; i++) {
        ep[i] = tt_map(&a.tt, 0x100000 + i * 0x1000, 0x500000 + i * 0x1000, 3,
                       D_DEF);
        tr(c, a.ste, 1, false, 0, 0x100000 + i * 0x1000, false, &o, &f);
        fs2_w64(&fs, ep[i], (0x600000 + i * 0x1000) | D_DEF | 3);
    }
    tlbi_va(c, 2, 0x100000);
    res = tr(c, a.ste, 1, false, 0, 0x100000, false, &o, &f) && o.hit;
    ok(res, "smmu TLBI_NH_VA for another ASID keeps the entry");
    tlbi_va(c, 1, 0x100000);
    res = tr(c, a.ste, 1, false, 0, 0x100000, false, &o, &f) && !o.hit &&
         o.ipa == 0x600000;
    res = res && tr(c, a.ste, 1, false, 0, 0x101000, false, &o, &f) && o.hit &&
         o.ipa == 0x501000;
    ok(res, "smmu TLBI_NH_VA drops exactly the addressed page");

    /* Range: TG 4K, NUM 1, SCALE 1 -> (1+1) << 1 = 4 pages from 0x101000. */
    before = st->flushed;
    ok(tlbi_va_range(c, 1, 0x101000, 1, 1, 1) == 0,
           "smmu TLBI_NH_VA range accepted");
    res = true;
    for (int i = 1; i <= 4; i++) {
        res = res && tr(c, a.ste, 1, false, 0, 0x100000 + i * 0x1000, false,
                      &o, &f) && !o.hit && o.ipa == 0x600000 + (uint64_t)i * 0x1000;
    }
    res = res && tr(c, a.ste, 1, false, 0, 0x105000, false, &o, &f) && o.hit &&
         o.ipa == 0x505000;
    ok(res && st->flushed - before == 4,
           "smmu TLBI_NH_VA range drops (NUM+1)<<SCALE pages, not the next");

    /*
     * Range with TG 64K: NUM 0, SCALE 0 -> one 64K granule; the address
     * bits below the granule are ignored.
     */
    for (int i = 0; i < 6; i++) {
        fs2_w64(&fs, ep[i], (0x700000 + i * 0x1000) | D_DEF | 3);
    }
    tlbi_va_range(c, 1, 0x101000, 3, 0, 0);
    res = tr(c, a.ste, 1, false, 0, 0x105000, false, &o, &f) && !o.hit &&
         o.ipa == 0x705000;
    res = res && tr(c, a.ste, 1, false, 0, 0x100000, false, &o, &f) &&
         !o.hit && o.ipa == 0x700000;
    ok(res, "smmu TLBI_NH_VA range with TG=64K covers the 64K granule");

    /* Without IDR3.RIL the range fields are ignored (RES0). */
    {
        uint32_t idr[6];
        SimSmmuCache *c2;

        memcpy(idr, idr_std, sizeof(idr));
        idr[3] = 0;
        c2 = sim_smmu_cache_new(idr);
        tr(c2, a.ste, 1, false, 0, 0x100000, false, &o, &f);
        tr(c2, a.ste, 1, false, 0, 0x101000, false, &o, &f);
        tlbi_va_range(c2, 1, 0x100000, 1, 1, 0);
        res = tr(c2, a.ste, 1, false, 0, 0x101000, false, &o, &f) && o.hit;
        res = res && tr(c2, a.ste, 1, false, 0, 0x100000, false, &o, &f) &&
             !o.hit;
        ok(res, "smmu range fields ignored without IDR3.RIL");
        sim_smmu_cache_free(c2);
    }

    /* TLBI_NH_VAA drops the VA for every ASID. */
    tt_map(&b.tt, 0x100000, 0x800000, 3, D_DEF);
    tr(c, a.ste, 1, false, 0, 0x100000, false, &o, &f);
    tr(c, b.ste, 2, false, 0, 0x100000, false, &o, &f);
    fs2_w64(&fs, ep[0], 0x900000 | D_DEF | 3);
    tt_map(&b.tt, 0x100000, 0xa00000, 3, D_DEF);
    tlbi_vaa(c, 0x100000);
    res = tr(c, a.ste, 1, false, 0, 0x100000, false, &o, &f) && !o.hit &&
         o.ipa == 0x900000;
    res = res && tr(c, b.ste, 2, false, 0, 0x100000, false, &o, &f) &&
         !o.hit && o.ipa == 0xa00000;
    ok(res, "smmu TLBI_NH_VAA drops the VA for all ASIDs");

    /* A 4K TLBI inside a block drops the block entry. */
    tt_map(&a.tt, 0x40000000ULL, 0x40000000ULL, 2, D_DEF);
    tr(c, a.ste, 1, false, 0, 0x40000000ULL, false, &o, &f);
    tlbi_va(c, 1, 0x401ff000ULL);
    res = tr(c, a.ste, 1, false, 0, 0x40000000ULL, false, &o, &f) && !o.hit;
    ok(res, "smmu TLBI_NH_VA inside a 2M block drops the block");

    /* NH_ALL and NSNH_ALL drop everything. */
    tr(c, a.ste, 1, false, 0, 0x100000, false, &o, &f);
    tr(c, b.ste, 2, false, 0, 0x100000, false, &o, &f);
    ok(cmd(c, 0x10, 0) == 0, "smmu TLBI_NH_ALL accepted");
    res = tr(c, a.ste, 1, false, 0, 0x100000, false, &o, &f) && !o.hit;
    res = res && tr(c, b.ste, 2, false, 0, 0x100000, false, &o, &f) && !o.hit;
    ok(res, "smmu TLBI_NH_ALL drops all ASIDs");
    ok(cmd(c, 0x30, 0) == 0, "smmu TLBI_NSNH_ALL accepted");
    res = tr(c, a.ste, 1, false, 0, 0x100000, false, &o, &f) && !o.hit;
    ok(res, "smmu TLBI_NSNH_ALL drops entries");

    /* Permission from a cached read-only entry. */
    tt_map(&a.tt, 0x200000, 0xb00000, 3, D_DEF | D_AP2);
    tr(c, a.ste, 1, false, 0, 0x200000, false, &o, &f);
    res = tr(c, a.ste, 1, false, 0, 0x200000, true, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_PERM, 1, 3) && o.hit,
           "smmu write to a cached read-only entry -> permission fault");
    sim_smmu_cache_free(c);
}

static void test_tbi_asid8(void)
{
    uint32_t idr[6];
    SimSmmuCache *c;
    Dev d = dev_4k(0x101);
    SimXlate o;
    SimFault f;
    bool res;

    memcpy(idr, idr_std, sizeof(idr));
    idr[0] &= ~(1u << 12);                      /* 8-bit ASIDs */
    c = sim_smmu_cache_new(idr);
    tt_map(&d.tt, 0x7000, 0x17000, 3, D_DEF);

    res = tr(c, d.ste, 1, false, 0, 0x5a00000000007000ULL, false, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_NOT_PRESENT, 1, 0),
           "smmu top byte set without TBI0 -> translation fault");
    cd_write(d.cd, cd_w0(TG_4K, 16, 0x101) | (1ULL << 38), d.tt.ttb);
    cfgi_cd(c, 1, 0);
    res = tr(c, d.ste, 1, false, 0, 0x5a00000000007010ULL, false, &o, &f);
    ok(res && o.ipa == 0x17010, "smmu CD.TBI0: top byte ignored");

    res = tr(c, d.ste, 1, false, 0, 0x7000, false, &o, &f) && o.hit;
    tlbi_asid(c, 0x201);
    res = res && tr(c, d.ste, 1, false, 0, 0x7000, false, &o, &f) && !o.hit;
    ok(res, "smmu without IDR0.ASID16 ASIDs compare on 8 bits");
    sim_smmu_cache_free(c);
}

static void test_cd_cache(void)
{
    SimSmmuCache *c = sim_smmu_cache_new(idr_std);
    const SimIotlbStats *st = sim_smmu_stats(c);
    ArmTT t1 = tt_new(12, 16, 0), t2 = tt_new(12, 16, 0);
    uint64_t lin = fs2_alloc(&fs, 4 * 64, 256), ste[2], inv;
    SimXlate o;
    SimFault f;
    bool res;

    tt_map(&t1, 0x1000, 0x10000, 3, D_DEF);
    tt_map(&t2, 0x1000, 0x20000, 3, D_DEF);
    for (int i = 0; i < 4; i++) {
        cd_write(lin + 64 * i, cd_w0(TG_4K, 16, (uint16_t)(40 + i)), t1.ttb);
    }
    ste_make(ste, CFG_S1, lin, FMT_LINEAR, 2, DSS_SSID0);
    tr(c, ste, 9, true, 1, 0x1000, false, &o, &f);
    tr(c, ste, 9, true, 2, 0x1000, false, &o, &f);

    /* Point CD 1 and CD 2 at t2; flush the TLB so only the CD cache acts. */
    cd_write(lin + 64, cd_w0(TG_4K, 16, 41), t2.ttb);
    cd_write(lin + 128, cd_w0(TG_4K, 16, 42), t2.ttb);
    cmd(c, 0x10, 0);
    res = tr(c, ste, 9, true, 1, 0x1000, false, &o, &f);
    ok(res && !o.hit && o.stale && o.ipa == 0x10000,
           "smmu changed CD TTB0 without CFGI_CD: cached CD still used");
    cfgi_cd(c, 9, 2);
    cfgi_cd(c, 8, 1);
    cmd(c, 0x10, 0);
    res = tr(c, ste, 9, true, 1, 0x1000, false, &o, &f) && o.ipa == 0x10000;
    ok(res, "smmu CFGI_CD for another SSID or SID keeps the CD");
    inv = st->inv_entries;
    ok(cfgi_cd(c, 9, 1) == 0 && st->inv_entries == inv + 1,
           "smmu CFGI_CD accepted and counted");
    cmd(c, 0x10, 0);
    res = tr(c, ste, 9, true, 1, 0x1000, false, &o, &f);
    ok(res && o.ipa == 0x20000 && !o.stale,
           "smmu CFGI_CD (SID, SSID) makes the new CD visible");
    res = tr(c, ste, 9, true, 2, 0x1000, false, &o, &f) && o.ipa == 0x20000;
    ok(res, "smmu CFGI_CD for SSID 2 (earlier) dropped CD 2");

    /* CFGI_CD_ALL drops every CD of the SID. */
    cd_write(lin + 64 * 3, cd_w0(TG_4K, 16, 43), t1.ttb);
    tr(c, ste, 9, true, 3, 0x1000, false, &o, &f);
    tr(c, ste, 9, true, 1, 0x1000, false, &o, &f);
    cd_write(lin + 64 * 3, cd_w0(TG_4K, 16, 43), t2.ttb);
    cd_write(lin + 64, cd_w0(TG_4K, 16, 41), t1.ttb);
    ok(cfgi_cd_all(c, 9) == 0, "smmu CFGI_CD_ALL accepted");
    cmd(c, 0x10, 0);
    res = tr(c, ste, 9, true, 3, 0x1000, false, &o, &f) && o.ipa == 0x20000;
    res = res && tr(c, ste, 9, true, 1, 0x1000, false, &o, &f) &&
         o.ipa == 0x10000;
    ok(res, "smmu CFGI_CD_ALL drops all CDs of the SID");

    /* A different STE (context pointer) never reuses a cached CD. */
    {
        uint64_t lin2 = fs2_alloc(&fs, 4 * 64, 256), ste2[2];

        cd_write(lin2 + 64, cd_w0(TG_4K, 16, 41), t2.ttb);
        ste_make(ste2, CFG_S1, lin2, FMT_LINEAR, 2, DSS_SSID0);
        cmd(c, 0x10, 0);
        res = tr(c, ste2, 9, true, 1, 0x1000, false, &o, &f) &&
             o.ipa == 0x20000;
        ok(res, "smmu new STE context pointer fetches a fresh CD");
    }

    /* forget_sid drops the SID's CDs and TLB entries. */
    tr(c, ste, 9, true, 1, 0x1000, false, &o, &f);
    cd_write(lin + 64, cd_w0(TG_4K, 16, 41), t2.ttb);
    sim_smmu_forget_sid(c, 9);
    res = tr(c, ste, 9, true, 1, 0x1000, false, &o, &f) && !o.hit &&
         o.ipa == 0x20000;
    ok(res, "smmu forget_sid drops CD cache and TLB entries of the SID");
    sim_smmu_cache_free(c);
}

static void test_commands(void)
{
    SimSmmuCache *c = sim_smmu_cache_new(idr_std);
    const SimIotlbStats *st = sim_smmu_stats(c);
    static const uint8_t bad[] = { 0x46, 0x03, 0x04, 0x07, 0x01, 0x28, 0x2a,
                                   0x20, 0x41, 0x00, 0xff };
    uint64_t inv;
    bool res = true;

    inv = st->inv_entries;
    for (size_t i = 0; i < sizeof(bad); i++) {
        if (cmd(c, bad[i], 0) != -EIO) {
            diag("opcode 0x%x not rejected", bad[i]);
            res = false;
        }
    }
    ok(res && st->inv_entries == inv,
           "smmu CMD_SYNC, CFGI_STE and other opcodes -> -EIO, not counted");
    ok(cmd(c, 0x40, 0) == 0 && st->inv_entries == inv + 1,
           "smmu ATC_INV accepted and counted");
    sim_smmu_cache_free(c);
}

/* TLBI_NH_VA/VAA with an explicit Leaf bit (the helpers above set it). */
static int tlbi_va_leaf(SimSmmuCache *c, unsigned op, uint16_t asid,
                        uint64_t va, bool leaf)
{
    return cmd(c, op | (uint64_t)asid << 48, (va & ~0xfffULL) | leaf);
}

/*
 * Walk cache and the Leaf hint: a level-2 table descriptor pointed at a
 * new level-3 table is only seen after an invalidation that may drop walk
 * entries (Leaf = 0, NH_ASID, NH_ALL), not after Leaf = 1 or CFGI_CD.
 */
static void test_walk_cache(void)
{
    SimSmmuCache *c = sim_smmu_cache_new(idr_std);
    const SimIotlbStats *st = sim_smmu_stats(c);
    Dev a = dev_4k(5);
    uint64_t l2, t3a, t3b, wh;
    SimXlate o;
    SimFault f;
    bool res;

    tt_map(&a.tt, 0x10000, 0x100000, 3, D_DEF);
    l2 = tt_entry(&a.tt, 0x10000, 2);
    t3a = fs2_r64(&fs, l2);
    t3b = fs2_alloc(&fs, 4096, 4096);
    fs2_w64(&fs, t3b + ((0x10000 >> 12) & 511) * 8, 0x200000 | D_DEF | 3);
    res = tr(c, a.ste, 1, false, 0, 0x10000, false, &o, &f);
    ok(res && o.ipa == 0x100000 && !o.stale, "smmu walk cache: first walk");

    fs2_w64(&fs, l2, t3b | 3);
    tlbi_va_leaf(c, 0x12, 5, 0x10000, true);
    wh = st->walk_hits;
    res = tr(c, a.ste, 1, false, 0, 0x10000, false, &o, &f);
    ok(res && !o.hit && o.ipa == 0x100000 && o.stale &&
           st->walk_hits == wh + 1,
           "smmu table descriptor changed, TLBI_NH_VA Leaf=1: the cached "
           "descriptor's old table is used, stale flagged");
    tlbi_va_leaf(c, 0x12, 6, 0x10000, false);
    tlbi_va_leaf(c, 0x13, 0, 0x10000, true);
    res = tr(c, a.ste, 1, false, 0, 0x10000, false, &o, &f);
    ok(res && !o.hit && o.ipa == 0x100000 && o.stale,
           "smmu Leaf=0 for another ASID and TLBI_NH_VAA Leaf=1 keep it");
    tlbi_va_leaf(c, 0x12, 5, 0x10000, false);
    res = tr(c, a.ste, 1, false, 0, 0x10000, false, &o, &f);
    ok(res && !o.hit && o.ipa == 0x200000 && !o.stale,
           "smmu TLBI_NH_VA Leaf=0 drops the walk entries for the VA");

    fs2_w64(&fs, l2, t3a);
    tlbi_va_leaf(c, 0x13, 0, 0x10000, false);
    res = tr(c, a.ste, 1, false, 0, 0x10000, false, &o, &f);
    ok(res && o.ipa == 0x100000 && !o.stale,
           "smmu TLBI_NH_VAA Leaf=0 drops them for every ASID");

    fs2_w64(&fs, l2, t3b | 3);
    cfgi_cd(c, 1, 0);
    tlbi_va_leaf(c, 0x12, 5, 0x10000, true);
    res = tr(c, a.ste, 1, false, 0, 0x10000, false, &o, &f);
    ok(res && o.ipa == 0x100000 && o.stale,
           "smmu CFGI_CD does not touch the walk cache");
    /* Range, Leaf=0: 4 pages from 0x400000 miss the level-2 entry's 2M. */
    cmd(c, 0x12 | 1ULL << 12 | 1ULL << 20 | 5ULL << 48,
        0x400000 | 1ULL << 10);
    tlbi_va_leaf(c, 0x12, 5, 0x10000, true);
    res = tr(c, a.ste, 1, false, 0, 0x10000, false, &o, &f);
    ok(res && o.ipa == 0x100000 && o.stale,
           "smmu range TLBI Leaf=0 outside the walk entry's range keeps it");
    cmd(c, 0x12 | 1ULL << 12 | 1ULL << 20 | 5ULL << 48,
        0x1f0000 | 1ULL << 10);
    tlbi_va_leaf(c, 0x12, 5, 0x10000, true);
    res = tr(c, a.ste, 1, false, 0, 0x10000, false, &o, &f);
    ok(res && o.ipa == 0x200000 && !o.stale,
           "smmu range TLBI Leaf=0 overlapping the walk entry drops it");

    fs2_w64(&fs, l2, t3a);
    tlbi_asid(c, 5);
    res = tr(c, a.ste, 1, false, 0, 0x10000, false, &o, &f);
    ok(res && o.ipa == 0x100000 && !o.stale,
           "smmu TLBI_NH_ASID drops the ASID's walk entries");
    fs2_w64(&fs, l2, t3b | 3);
    cmd(c, 0x10, 0);
    res = tr(c, a.ste, 1, false, 0, 0x10000, false, &o, &f);
    ok(res && o.ipa == 0x200000 && !o.stale,
           "smmu TLBI_NH_ALL drops the walk cache");

    /* APTable accumulated in a cached descriptor still applies. */
    tt_map(&a.tt, 0x40000000ULL, 0x300000, 3, D_DEF);
    tt_map(&a.tt, 0x40001000ULL, 0x301000, 3, D_DEF);
    l2 = tt_entry(&a.tt, 0x40000000ULL, 2);
    fs2_w64(&fs, l2, fs2_r64(&fs, l2) | D_APTABLE1);
    res = tr(c, a.ste, 1, false, 0, 0x40000000ULL, false, &o, &f);
    ok(res && !o.writable, "smmu read below APTable[1]");
    wh = st->walk_hits;
    res = tr(c, a.ste, 1, false, 0, 0x40001000ULL, true, &o, &f);
    ok(is_fault(res, &f, SIM_FAULT_S1_PERM, 1, 3) && !o.stale &&
           st->walk_hits == wh + 1,
           "smmu walk from a cached descriptor keeps APTable[1]");
    sim_smmu_cache_free(c);
}

int main(void)
{
    fs2_init(&fs, IPA_BASE, 32 * MB);
    test_ste();
    test_cd_tables();
    test_bad_cd();
    test_granules();
    test_perms();
    test_tlb();
    test_tbi_asid8();
    test_cd_cache();
    test_commands();
    test_walk_cache();
    fs2_destroy(&fs);
    return tap_done();
}
