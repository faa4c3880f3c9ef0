/*
 * iommufd-sim: per-device configuration, parsed from the device memfd.
 *
 * One "key=value" per line; '#' starts a comment.  Unknown keys are an
 * error so that a typo in a test does not silently test something else.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* VT-d capability / extended capability bits (VT-d spec 11.4.2, 11.4.3). */
#define VTD_CAP_ND_64K      (6ull << 0)
#define VTD_CAP_SAGAW_4L    (1ull << 10)
#define VTD_CAP_MGAW(w)     ((uint64_t)((w) - 1) << 16)
#define VTD_CAP_FRO         (0x22ull << 24)
#define VTD_CAP_SLLPS       (3ull << 34)
#define VTD_CAP_PSI         (1ull << 39)
#define VTD_CAP_NFR         (7ull << 40)
#define VTD_CAP_MAMV        (9ull << 48)
#define VTD_CAP_DWD_DRD     (3ull << 54)
#define VTD_CAP_FS1GP       (1ull << 56)
#define VTD_CAP_FS5LP       (1ull << 60)

#define VTD_ECAP_BASE       0x1full         /* C, QI, DT, IR, EIM */
#define VTD_ECAP_PT         (1ull << 6)
#define VTD_ECAP_SC         (1ull << 7)
#define VTD_ECAP_IRO        (0x50ull << 8)
#define VTD_ECAP_MHMV       (0xfull << 20)
#define VTD_ECAP_NEST       (1ull << 26)
#define VTD_ECAP_PSS(n)     ((uint64_t)((n) - 1) << 35)
#define VTD_ECAP_PASID      (1ull << 40)
#define VTD_ECAP_DIT        (1ull << 41)
#define VTD_ECAP_PDS        (1ull << 42)
#define VTD_ECAP_SMTS       (1ull << 43)
#define VTD_ECAP_SSADS      (1ull << 45)
#define VTD_ECAP_SSTS       (1ull << 46)
#define VTD_ECAP_FSTS       (1ull << 47)
#define VTD_ECAP_SMPWCS     (1ull << 48)

/* SMMUv3 ID registers (SMMUv3 spec 6.3). */
#define SMMU_IDR0_S2P       (1u << 0)
#define SMMU_IDR0_S1P       (1u << 1)
#define SMMU_IDR0_HTTU_HD   (2u << 6)
#define SMMU_IDR0_HTTU_MASK (3u << 6)
#define SMMU_IDR0_DEFAULT   0x090c301bu /* S1P S2P TTF64 COHACC ASID16 MSI
                                          VMID16 CD2L STALL_MODEL=1 2-level */
#define SMMU_IDR1_DEFAULT   0x02730510u /* SID 16, SSID 20, EVTQ/CMDQ 2^19 */
#define SMMU_IDR1_SSIDSIZE(v) (((v) >> 6) & 0x1f)
#define SMMU_IDR3_RIL       (1u << 10)
#define SMMU_IDR5_DEFAULT   0x74u       /* OAS 44, 4K 16K 64K granules */

static void cfg_defaults(SimDevCfg *c)
{
    memset(c, 0, sizeof(*c));
    c->iommu = SIM_IOMMU_VTD;
    c->vendor = 0x1b36;         /* QEMU's vendor id, "red hat" */
    c->device = 0x11f0;
    c->bar0_size = 4096;
    c->msi = true;
    c->errata_772415 = true;    /* Linux reports it on every VT-d */
    c->vtd_cap = VTD_CAP_ND_64K | VTD_CAP_SAGAW_4L | VTD_CAP_MGAW(48) |
                 VTD_CAP_FRO | VTD_CAP_SLLPS | VTD_CAP_PSI | VTD_CAP_NFR |
                 VTD_CAP_MAMV | VTD_CAP_DWD_DRD | VTD_CAP_FS1GP;
    c->vtd_ecap = VTD_ECAP_BASE | VTD_ECAP_PT | VTD_ECAP_SC | VTD_ECAP_IRO |
                  VTD_ECAP_MHMV | VTD_ECAP_NEST | VTD_ECAP_PSS(20) |
                  VTD_ECAP_PASID | VTD_ECAP_DIT | VTD_ECAP_PDS |
                  VTD_ECAP_SMTS | VTD_ECAP_SSTS | VTD_ECAP_FSTS |
                  VTD_ECAP_SMPWCS;
    c->idr[0] = SMMU_IDR0_DEFAULT;
    c->idr[1] = SMMU_IDR1_DEFAULT;
    c->idr[3] = SMMU_IDR3_RIL;
    c->idr[5] = SMMU_IDR5_DEFAULT;
    c->iidr = 0x43b;            /* Arm implementer code */
    c->aidr = 0x2;              /* SMMUv3.2 */
    snprintf(c->name, sizeof(c->name), "sim-dev");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;

    errno = 0;
    *out = strtoull(s, &end, 0);
    return (!*s || *end || errno) ? -1 : 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "on") || !strcmp(s, "1") || !strcmp(s, "yes")) {
        *out = true;
    } else if (!strcmp(s, "off") || !strcmp(s, "0") || !strcmp(s, "no")) {
        *out = false;
    } else {
        return -1;
    }
    return 0;
}

static int parse_range(const char *s, SimRange *r)
{
    char buf[64], *dash;

    snprintf(buf, sizeof(buf), "%s", s);
    dash = strchr(buf, '-');
    if (!dash) {
        return -1;
    }
    *dash = 0;
    if (parse_u64(buf, &r->start) || parse_u64(dash + 1, &r->last) ||
        r->last < r->start) {
        return -1;
    }
    return 0;
}

/* Tri-state overrides applied after all keys are read. */
typedef struct CfgOverrides { int nesting, dirty; } CfgOverrides;

static int cfg_key(SimDevCfg *c, CfgOverrides *o, const char *k,
                   const char *v)
{
    uint64_t n;
    bool b;

    if (!strcmp(k, "iommu")) {
        if (!strcmp(v, "vtd")) {
            c->iommu = SIM_IOMMU_VTD;
        } else if (!strcmp(v, "smmuv3")) {
            c->iommu = SIM_IOMMU_SMMUV3;
        } else {
            return -1;
        }
        return 0;
    }
    if (!strcmp(k, "name")) {
        snprintf(c->name, sizeof(c->name), "%s", v);
        return 0;
    }
    if (!strcmp(k, "reserved")) {
        if (c->nresv == SIM_MAX_RESV || parse_range(v, &c->resv[c->nresv])) {
            return -1;
        }
        c->nresv++;
        return 0;
    }
    if (!strcmp(k, "msi") || !strcmp(k, "nesting") || !strcmp(k, "dirty") ||
        !strcmp(k, "errata_772415")) {
        if (parse_bool(v, &b)) {
            return -1;
        }
        if (k[0] == 'm') {
            c->msi = b;
        } else if (k[0] == 'n') {
            o->nesting = b;
        } else if (k[0] == 'd') {
            o->dirty = b;
        } else {
            c->errata_772415 = b;
        }
        return 0;
    }
    if (parse_u64(v, &n)) {
        return -1;
    }
    if (!strcmp(k, "instance") && n <= UINT32_MAX) {
        c->instance = (uint32_t)n;
    } else if (!strcmp(k, "vendor") && n < 0xffff) {
        c->vendor = (uint16_t)n;
    } else if (!strcmp(k, "device") && n <= 0xffff) {
        c->device = (uint16_t)n;
    } else if (!strcmp(k, "bar0_size")) {
        /* a memory BAR: power of two, at least the register file */
        if (n < 4096 || n > (1ull << 30) || (n & (n - 1))) {
            return -1;
        }
        c->bar0_size = (uint32_t)n;
    } else if (!strcmp(k, "vtd_cap")) {
        c->vtd_cap = n;
    } else if (!strcmp(k, "vtd_ecap")) {
        c->vtd_ecap = n;
    } else if (!strncmp(k, "smmu_idr", 8) && k[8] >= '0' && k[8] <= '5' &&
               !k[9] && n <= UINT32_MAX) {
        c->idr[k[8] - '0'] = (uint32_t)n;
    } else if (!strcmp(k, "smmu_iidr") && n <= UINT32_MAX) {
        c->iidr = (uint32_t)n;
    } else if (!strcmp(k, "smmu_aidr") && n <= UINT32_MAX) {
        c->aidr = (uint32_t)n;
    } else if (!strcmp(k, "sid") && n <= UINT32_MAX) {
        c->sid = (uint32_t)n;
        c->sid_set = true;
    } else {
        return -1;
    }
    return 0;
}

/* Derive nesting/dirty/pasid from the registers, or force the registers. */
static void cfg_finish(SimDevCfg *c, const CfgOverrides *o)
{
    if (c->iommu == SIM_IOMMU_VTD) {
        if (o->nesting >= 0) {
            c->vtd_ecap = o->nesting ? c->vtd_ecap | VTD_ECAP_NEST
                                     : c->vtd_ecap & ~VTD_ECAP_NEST;
        }
        if (o->dirty >= 0) {
            c->vtd_ecap = o->dirty ? c->vtd_ecap | VTD_ECAP_SSADS
                                   : c->vtd_ecap & ~VTD_ECAP_SSADS;
        }
        c->nesting = c->vtd_ecap & VTD_ECAP_NEST;
        c->dirty = c->vtd_ecap & VTD_ECAP_SSADS;
        c->pasid = c->vtd_ecap & VTD_ECAP_PASID;
    } else {
        const uint32_t both = SMMU_IDR0_S1P | SMMU_IDR0_S2P;

        if (o->nesting >= 0) {
            c->idr[0] = o->nesting ? c->idr[0] | both : c->idr[0] & ~both;
        }
        if (o->dirty >= 0) {
            c->idr[0] &= ~SMMU_IDR0_HTTU_MASK;
            c->idr[0] |= o->dirty ? SMMU_IDR0_HTTU_HD : 0;
        }
        c->nesting = (c->idr[0] & both) == both;
        c->dirty = (c->idr[0] & SMMU_IDR0_HTTU_MASK) == SMMU_IDR0_HTTU_HD;
        c->pasid = SMMU_IDR1_SSIDSIZE(c->idr[1]) != 0;
    }
    /*
     * The MSI window every device reports as a reserved region: the x86
     * interrupt range for VT-d, the software MSI window for SMMUv3.
     */
    if (c->nresv < SIM_MAX_RESV) {
        SimRange msi = c->iommu == SIM_IOMMU_VTD ?
            (SimRange){ 0xfee00000ull, 0xfeefffffull } :
            (SimRange){ 0x08000000ull, 0x080fffffull };

        c->resv[c->nresv++] = msi;
    }
}

int sim_cfg_parse(SimDevCfg *c, const char *text, char *err, size_t errlen)
{
    CfgOverrides o = { -1, -1 };
    const char *p = text;
    unsigned lineno = 0;

    cfg_defaults(c);
    while (*p) {
        char line[256], *k, *v, *eq, *e;
        size_t len = strcspn(p, "\n");

        lineno++;
        snprintf(line, sizeof(line), "%.*s", (int)(len < 255 ? len : 255), p);
        p += len + (p[len] == '\n');
        if ((e = strchr(line, '#'))) {
            *e = 0;
        }
        for (k = line; isspace((unsigned char)*k); k++) {
        }
        for (e = k + strlen(k); e > k && isspace((unsigned char)e[-1]); e--) {
        }
        *e = 0;
        if (!*k) {
            continue;
        }
        eq = strchr(k, '=');
        if (!eq) {
            snprintf(err, errlen, "line %u: expected key=value", lineno);
            return -EINVAL;
        }
        *eq = 0;
        v = eq + 1;
        if (cfg_key(c, &o, k, v)) {
            snprintf(err, errlen, "line %u: bad key or value '%s=%s'",
                     lineno, k, v);
            return -EINVAL;
        }
    }
    cfg_finish(c, &o);
    return 0;
}

uint64_t sim_cfg_aperture_last(const SimDevCfg *c)
{
    static const unsigned oas_bits[] = { 32, 36, 40, 42, 44, 48, 52, 52 };
    unsigned bits;

    if (c->iommu == SIM_IOMMU_VTD) {
        bits = (unsigned)((c->vtd_cap >> 16) & 0x3f) + 1;
    } else {
        bits = oas_bits[c->idr[5] & 7];
    }
    return bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
}
