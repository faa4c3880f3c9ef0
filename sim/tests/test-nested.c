/*
 * iommufd-sim: DMA through nested translation.  The test plays the guest:
 * it builds VT-d first-stage tables, or an SMMUv3 CD and VMSAv8-64 tables,
 * in its own "guest RAM" mapped into the nesting parent's IOAS, and shows
 * that the device keeps using a stale mapping until HWPT_INVALIDATE.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testlib.h"

#define RAM_SIZE (2u << 20)

/* Guest RAM: a host buffer seen by the device at IPA ram_ipa. */
static uint8_t *ram;
static uint64_t ram_ipa, ram_next;

static uint64_t galloc(uint64_t size)
{
    uint64_t ipa = ram_ipa + ram_next;

    ram_next += size;
    return ipa;
}

static void gw64(uint64_t ipa, uint64_t v)
{
    memcpy(ram + (ipa - ram_ipa), &v, 8);
}

static uint64_t gr64(uint64_t ipa)
{
    uint64_t v;

    memcpy(&v, ram + (ipa - ram_ipa), 8);
    return v;
}

static void gput(uint64_t ipa, const char *s)
{
    memcpy(ram + (ipa - ram_ipa), s, strlen(s) + 1);
}

/* READ 4 bytes at @iova into the data window; the word, or 0 on error. */
static uint32_t dma_word(int dev, uint64_t iova)
{
    uint32_t st = t_dma(dev, SIMDEV_OP_READ, iova, 0, 4);

    return st == SIMDEV_STATUS_DONE ? t_reg(dev, SIMDEV_REG_DATA) : 0;
}

static uint32_t word(const char *s)
{
    uint32_t w;

    memcpy(&w, s, 4);
    return w;
}

/* Common: iommufd, device, IOAS with guest RAM, nesting parent. */
static uint32_t setup(int *fd, int *dev, const char *cfg, uint64_t ipa,
                      uint32_t *parent)
{
    uint32_t id, ioas, pt;

    *fd = t_iommufd();
    *dev = t_devfd(cfg);
    id = t_bind(*dev, *fd);
    ioas = t_ioas(*fd);
    ram = t_alloc(RAM_SIZE);
    ram_ipa = ipa;
    ram_next = 0;
    ok(!t_hwpt(*fd, id, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
               parent), "nesting parent");
    pt = *parent;
    ok(!t_attach(*dev, &pt), "device on the parent (stage 2 only)");
    ok(!t_map_fixed(*fd, ioas, ram, RAM_SIZE, ipa), "guest RAM at IPA 0x%llx",
       (unsigned long long)ipa);
    t_enable(*dev);
    return id;
}

/* ---- VT-d first stage ---- */
#define VTD_P   1ull
#define VTD_RW  2ull
#define VTD_US  4ull
#define VTD_A   (1ull << 5)
#define VTD_D   (1ull << 6)
#define VTD_PTE (VTD_P | VTD_RW | VTD_US | VTD_A | VTD_D)

/* Entry for @iova at @level (1 = 4K leaf), creating tables above it. */
static uint64_t vtd_entry(uint64_t root, uint64_t iova, int level)
{
    uint64_t table = root;

    for (int l = 4; l > level; l--) {
        uint64_t e = table + ((iova >> (12 + 9 * (l - 1))) & 511) * 8;

        if (!(gr64(e) & VTD_P)) {
            gw64(e, galloc(4096) | VTD_PTE);
        }
        table = gr64(e) & 0x000ffffffffff000ull;
    }
    return table + ((iova >> (12 + 9 * (level - 1))) & 511) * 8;
}

static void test_vtd(void)
{
    int fd, dev;
    uint32_t parent, nested, id, n, hits;
    uint64_t root, p1, p2, pte, iova = 0x12345000;
    struct iommu_hwpt_vtd_s1 s1 = { .addr_width = 48 };
    struct iommu_hwpt_vtd_s1_invalidate inv = {
        .addr = iova, .npages = 1, .flags = IOMMU_VTD_INV_FLAGS_LEAF };

    diag("VT-d nested");
    id = setup(&fd, &dev, "iommu=vtd\n", 0x80000000ull, &parent);
    root = galloc(4096);
    p1 = galloc(4096);
    p2 = galloc(4096);
    gput(p1 + 0x10, "AAAA");
    gput(p2 + 0x10, "BBBB");
    pte = vtd_entry(root, iova, 1);
    gw64(pte, p1 | VTD_PTE);
    s1.pgtbl_addr = root;
    OK_0(t_hwpt(fd, id, parent, 0, IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1),
                &nested), "nested HWPT over the guest tables");
    OK_0(t_attach(dev, &nested), "attach the nested HWPT");
    ok(t_reg(dev, SIMDEV_REG_DOMAIN_KIND) == SIMDEV_DOMAIN_VTD_NESTED &&
       t_reg(dev, SIMDEV_REG_ATTACHED_PT) == nested, "DOMAIN_KIND VT-d nested");
    ok(dma_word(dev, iova + 0x10) == word("AAAA"), "DMA reads page 1");
    hits = t_reg(dev, SIMDEV_REG_IOTLB_HITS);
    ok(dma_word(dev, iova + 0x10) == word("AAAA") &&
       t_reg(dev, SIMDEV_REG_IOTLB_HITS) == hits + 1, "second read hits");
    gw64(pte, p2 | VTD_PTE);
    ok(dma_word(dev, iova + 0x10) == word("AAAA"),
       "PTE changed, no invalidation: the stale mapping is used");
    ok(t_reg(dev, SIMDEV_REG_STALE_HITS) >= 1, "the stale hit is counted");
    n = 1;
    OK_0(t_invalidate(fd, nested, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, &inv,
                      sizeof(inv), &n), "HWPT_INVALIDATE for the page");
    ok(t_reg(dev, SIMDEV_REG_INV_SEEN) == 1, "INV_SEEN counts it");
    ok(dma_word(dev, iova + 0x10) == word("BBBB"),
       "after invalidation the new mapping is used");
    t_dma(dev, SIMDEV_OP_PROBE, iova + 0x24, 0, 0);
    ok(t_reg64(dev, SIMDEV_REG_LAST_XLATE) == p2 + 0x24,
       "probe returns the IPA");
    t_dma(dev, SIMDEV_OP_READ, 0x7000000, 0, 4);
    ok(t_reg(dev, SIMDEV_REG_FAULT_CODE) == SIM_FAULT_S1_NOT_PRESENT &&
       (t_reg(dev, SIMDEV_REG_FAULT_INFO) & 3) == 1,
       "unmapped IOVA: stage-1 not-present fault");
    t_wreg(dev, SIMDEV_REG_DATA, word("CCCC"));
    ok(t_dma(dev, SIMDEV_OP_WRITE, 0, iova + 0x40, 4) == SIMDEV_STATUS_DONE &&
       !memcmp(ram + (p2 - ram_ipa) + 0x40, "CCCC", 4),
       "DMA write lands in guest RAM through both stages");
    OK_ERR(t_destroy(fd, nested), EBUSY, "nested HWPT in use");
    OK_ERR(t_destroy(fd, parent), EBUSY, "parent under a nested HWPT");
    OK_0(t_attach(dev, &parent), "back to stage 2 only");
    OK_0(t_destroy(fd, nested), "destroy nested");
    close(dev);
    close(fd);
    munmap(ram, RAM_SIZE);
    ok(iommufd_sim_live("all") == 0, "VT-d: nothing left");
}

/* ---- SMMUv3 ---- */
#define D_AF    (1ull << 10)
#define D_AP1   (1ull << 6)
#define D_NG    (1ull << 11)
#define CD_V    (1ull << 31)
#define CD_AA64 (1ull << 41)
#define CD_R    (1ull << 45)
#define CD_A    (1ull << 46)
#define CD_IPS(x) ((uint64_t)(x) << 32)

/* 4K granule, T0SZ 16: levels 0..3, 9 bits each. */
static uint64_t arm_entry(uint64_t ttb, uint64_t va)
{
    uint64_t table = ttb;

    for (int l = 0; l < 3; l++) {
        uint64_t e = table + ((va >> (39 - 9 * l)) & 511) * 8;

        if (!(gr64(e) & 1)) {
            gw64(e, galloc(4096) | 3);
        }
        table = gr64(e) & 0x0000fffffffff000ull;
    }
    return table + ((va >> 12) & 511) * 8;
}

static int smmu_cmd(int fd, uint32_t viommu, uint64_t w0, uint64_t w1)
{
    uint64_t c[2] = { w0, w1 };
    uint32_t n = 1;

    return t_invalidate(fd, viommu, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
                        c, sizeof(c), &n);
}

static void test_smmu(void)
{
    int fd, dev;
    uint32_t parent, viommu, vdev, nested, bypass, id, hits;
    uint64_t cd, ttb, p1, p2, pte, va = 0x20345000, ste[2];
    const uint16_t asid = 7;

    diag("SMMUv3 nested");
    id = setup(&fd, &dev, "iommu=smmuv3\n", 0x40000000ull, &parent);
    OK_0(t_viommu(fd, id, parent, &viommu), "vIOMMU");
    OK_0(t_vdevice(fd, viommu, id, 0x20, &vdev), "vDEVICE vSID 0x20");
    cd = galloc(4096);
    ttb = galloc(4096);
    p1 = galloc(4096);
    p2 = galloc(4096);
    gput(p1 + 0x10, "AAAA");
    gput(p2 + 0x10, "BBBB");
    gw64(cd, 16 | CD_V | CD_IPS(4) | CD_AA64 | CD_R | CD_A |
         (uint64_t)asid << 48);
    gw64(cd + 8, ttb);
    pte = arm_entry(ttb, va);
    gw64(pte, p1 | D_AF | D_AP1 | D_NG | 3);
    ste[0] = 1 | (5ull << 1) | cd;
    ste[1] = 0;
    OK_0(t_hwpt(fd, id, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste,
                sizeof(ste), &nested), "nested HWPT with an S1 vSTE");
    OK_0(t_attach(dev, &nested), "attach it");
    ok(t_reg(dev, SIMDEV_REG_DOMAIN_KIND) == SIMDEV_DOMAIN_SMMU_S1,
       "DOMAIN_KIND SMMU S1");
    ok(dma_word(dev, va + 0x10) == word("AAAA"), "DMA reads page 1");
    hits = t_reg(dev, SIMDEV_REG_IOTLB_HITS);
    ok(dma_word(dev, va + 0x10) == word("AAAA") &&
       t_reg(dev, SIMDEV_REG_IOTLB_HITS) == hits + 1, "second read hits");
    gw64(pte, p2 | D_AF | D_AP1 | D_NG | 3);
    ok(dma_word(dev, va + 0x10) == word("AAAA"),
       "descriptor changed, no TLBI: the stale mapping is used");
    OK_ERR(smmu_cmd(fd, viommu, 0x46, 0), EIO, "CMD_SYNC refused");
    OK_ERR(smmu_cmd(fd, viommu, 0x03 | (0x20ull << 32), 0), EIO,
           "CFGI_STE refused");
    OK_0(smmu_cmd(fd, viommu, 0x12 | (uint64_t)asid << 48, va | 1),
         "TLBI_NH_VA for the page");
    ok(t_reg(dev, SIMDEV_REG_INV_SEEN) == 1, "INV_SEEN counts it");
    ok(dma_word(dev, va + 0x10) == word("BBBB"),
       "after TLBI the new mapping is used");
    t_dma(dev, SIMDEV_OP_READ, 0x5000000, 0, 4);
    ok(t_reg(dev, SIMDEV_REG_FAULT_CODE) == SIM_FAULT_S1_NOT_PRESENT,
       "unmapped VA: stage-1 fault");

    ste[0] = 1 | (4ull << 1);
    OK_0(t_hwpt(fd, id, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste,
                sizeof(ste), &bypass), "bypass vSTE");
    OK_0(t_attach(dev, &bypass), "replace with bypass");
    ok(t_reg(dev, SIMDEV_REG_DOMAIN_KIND) == SIMDEV_DOMAIN_SMMU_BYPASS &&
       dma_word(dev, p1 + 0x10) == word("AAAA"), "bypass: IOVA = IPA");
    ste[0] = 0;
    OK_0(t_destroy(fd, nested), "destroy the S1 HWPT");
    OK_0(t_hwpt(fd, id, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste,
                sizeof(ste), &nested), "V=0 vSTE");
    OK_0(t_attach(dev, &nested), "attach it");
    t_dma(dev, SIMDEV_OP_READ, p1, 0, 4);
    ok(t_reg(dev, SIMDEV_REG_DOMAIN_KIND) == SIMDEV_DOMAIN_SMMU_ABORT &&
       (t_reg(dev, SIMDEV_REG_STATUS) & SIMDEV_STATUS_ERROR) &&
       t_reg(dev, SIMDEV_REG_FAULT_CODE) == SIM_FAULT_ABORT,
       "V=0 aborts DMA");
    OK_0(t_attach(dev, &parent), "back to the parent");
    OK_0(t_destroy(fd, nested) || t_destroy(fd, bypass), "destroy nested");
    OK_0(t_destroy(fd, vdev) || t_destroy(fd, viommu), "vDEVICE, vIOMMU");
    close(dev);
    close(fd);
    munmap(ram, RAM_SIZE);
    ok(iommufd_sim_live("all") == 0, "SMMUv3: nothing left");
}

/* ---- SMMUv3 invalidation in blocks (arm_vsmmu_cache_invalidate) ---- */
#define NVA 4

static uint64_t bva(int i)
{
    return 0x30000000ull + (uint64_t)i * 0x1000;
}

static uint64_t tlbi_va(uint16_t asid, uint64_t va, uint64_t c[2])
{
    c[0] = 0x12 | (uint64_t)asid << 48;
    c[1] = va | 1;
    return c[0];
}

/* @n commands: harmless TLBIs, the VAs at @at[], CFGI_CD bad vSID at @bad */
static int batch(int fd, uint32_t viommu, uint32_t n, const int at[NVA],
                 uint32_t bad, uint32_t *done)
{
    static uint64_t c[128][2];

    for (uint32_t i = 0; i < n; i++) {
        tlbi_va(7, 0x7f000000ull + i * 0x1000ull, c[i]);
    }
    for (int v = 0; v < NVA; v++) {
        if (at[v] >= 0) {
            tlbi_va(7, bva(v), c[at[v]]);
        }
    }
    if (bad < n) {
        c[bad][0] = 0x05 | (0x99ull << 32);
        c[bad][1] = 0;
    }
    *done = n;
    return t_invalidate(fd, viommu, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
                        c, 16, done);
}

/* Cache every VA on p1, then point them all at p2 (stale until a TLBI). */
static void warm(int dev, const uint64_t pte[NVA], uint64_t p1, uint64_t p2)
{
    for (int v = 0; v < NVA; v++) {
        gw64(pte[v], p1 | D_AF | D_AP1 | D_NG | 3);
        dma_word(dev, bva(v) + 0x10);
        gw64(pte[v], p2 | D_AF | D_AP1 | D_NG | 3);
    }
}

static bool stale(int dev, int v)
{
    return dma_word(dev, bva(v) + 0x10) == word("AAAA");
}

static void test_smmu_blocks(void)
{
    int fd, dev;
    uint32_t parent, viommu, vdev, nested, id, n;
    uint64_t cd, ttb, p1, p2, pte[NVA], ste[2];
    int at[NVA] = { 0, 1, -1, -1 };

    diag("SMMUv3 invalidation blocks");
    id = setup(&fd, &dev, "iommu=smmuv3\n", 0x40000000ull, &parent);
    OK_0(t_viommu(fd, id, parent, &viommu) ||
         t_vdevice(fd, viommu, id, 0x20, &vdev), "vIOMMU, vDEVICE 0x20");
    cd = galloc(4096);
    ttb = galloc(4096);
    p1 = galloc(4096);
    p2 = galloc(4096);
    gput(p1 + 0x10, "AAAA");
    gput(p2 + 0x10, "BBBB");
    gw64(cd, 16 | CD_V | CD_IPS(4) | CD_AA64 | CD_R | CD_A | 7ull << 48);
    gw64(cd + 8, ttb);
    for (int v = 0; v < NVA; v++) {
        pte[v] = arm_entry(ttb, bva(v));
    }
    ste[0] = 1 | (5ull << 1) | cd;
    ste[1] = 0;
    OK_0(t_hwpt(fd, id, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste,
                sizeof(ste), &nested) || t_attach(dev, &nested),
         "S1 nested HWPT attached");

    warm(dev, pte, p1, p2);
    OK_ERR(batch(fd, viommu, 3, at, 2, &n), EIO,
           "[TLBI_NH_VA, TLBI_NH_VA, CFGI_CD unknown vSID]");
    ok(n == 2, "entry_num 2 (%u)", n);
    ok(stale(dev, 0) && stale(dev, 1),
       "the unissued block before the bad command was dropped: both stale");
    ok(t_reg(dev, SIMDEV_REG_INV_SEEN) == 0, "INV_SEEN counts none");

    /* 70 commands, 66 bad: 0..62 issued as a block, 63..65 dropped */
    at[0] = 0;
    at[1] = 62;
    at[2] = 63;
    at[3] = 65;
    warm(dev, pte, p1, p2);
    OK_ERR(batch(fd, viommu, 70, at, 66, &n), EIO, "70 commands, 66 bad");
    ok(n == 66, "entry_num 66 (%u)", n);
    ok(!stale(dev, 0) && !stale(dev, 1), "commands 0 and 62 were applied");
    ok(stale(dev, 2) && stale(dev, 3), "commands 63 and 65 were not");
    ok(t_reg(dev, SIMDEV_REG_INV_SEEN) == 63, "INV_SEEN 63 (%u)",
       t_reg(dev, SIMDEV_REG_INV_SEEN));

    warm(dev, pte, p1, p2);
    at[0] = 5;
    at[1] = 63;
    at[2] = 126;
    at[3] = 127;
    OK_0(batch(fd, viommu, 128, at, 128, &n), "128 good commands");
    ok(n == 128 && !stale(dev, 0) && !stale(dev, 1) && !stale(dev, 2) &&
       !stale(dev, 3), "all applied, entry_num 128 (%u)", n);

    OK_0(t_attach(dev, &parent), "back to the parent");
    OK_0(t_destroy(fd, nested) || t_destroy(fd, vdev) ||
         t_destroy(fd, viommu), "nested, vDEVICE, vIOMMU");
    close(dev);
    close(fd);
    munmap(ram, RAM_SIZE);
    ok(iommufd_sim_live("all") == 0, "blocks: nothing left");
}

int main(void)
{
    test_vtd();
    test_smmu();
    test_smmu_blocks();
    return tap_done();
}
