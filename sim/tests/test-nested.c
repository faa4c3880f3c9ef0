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
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define RAM_SIZE (2u << 20)

/* Guest RAM: a host buffer seen by the device at IPA ram_ipa. */
static uint8_t *ram;
static uint64_t ram_ipa;

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
    t_gram_set(ram, ipa);
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

/*
 * ---- Invalidation hints through HWPT_INVALIDATE ----
 * The guest points a table entry (VT-d PDE, SMMUv3 level-2 descriptor) at
 * a new last-level table.  An invalidation that says "leaf only"
 * (IOMMU_VTD_INV_FLAGS_LEAF, TLBI_NH_VA Leaf=1) leaves the walk cache in
 * place, so the device keeps reading through the old table (a stale hit);
 * the same invalidation without the hint shows the new one.
 */
static void test_leaf_hints(void)
{
    int fd, dev;
    uint32_t parent, nested, viommu, vdev, id, n, stale;
    uint64_t root, cd, ttb, p1, p2, t2, e, va = 0x20345000;
    struct iommu_hwpt_vtd_s1 s1 = { .addr_width = 48 };
    struct iommu_hwpt_vtd_s1_invalidate inv = {
        .addr = va, .npages = 1, .flags = IOMMU_VTD_INV_FLAGS_LEAF };
    uint64_t ste[2];
    const uint16_t asid = 9;

    diag("invalidation hints: VT-d LEAF");
    id = setup(&fd, &dev, "iommu=vtd\n", 0x80000000ull, &parent);
    root = galloc(4096);
    p1 = galloc(4096);
    p2 = galloc(4096);
    t2 = galloc(4096);
    gput(p1 + 0x10, "AAAA");
    gput(p2 + 0x10, "BBBB");
    gw64(vtd_entry(root, va, 1), p1 | VTD_PTE);
    gw64(t2 + ((va >> 12) & 511) * 8, p2 | VTD_PTE);
    s1.pgtbl_addr = root;
    OK_0(t_hwpt(fd, id, parent, 0, IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1),
                &nested), "nested HWPT");
    OK_0(t_attach(dev, &nested), "attach it");
    ok(dma_word(dev, va + 0x10) == word("AAAA"), "DMA through the old PT");
    e = vtd_entry(root, va, 2);
    gw64(e, t2 | VTD_PTE);
    stale = t_reg(dev, SIMDEV_REG_STALE_HITS);
    n = 1;
    OK_0(t_invalidate(fd, nested, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, &inv,
                      sizeof(inv), &n), "PDE changed, LEAF invalidation");
    ok(dma_word(dev, va + 0x10) == word("AAAA") &&
       t_reg(dev, SIMDEV_REG_STALE_HITS) > stale,
       "a wrong LEAF hint leaves the old page table in use (stale hit)");
    inv.flags = 0;
    n = 1;
    OK_0(t_invalidate(fd, nested, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, &inv,
                      sizeof(inv), &n), "the same without LEAF");
    ok(dma_word(dev, va + 0x10) == word("BBBB"),
       "without LEAF the new page table is used");
    OK_0(t_attach(dev, &parent), "back to stage 2");
    OK_0(t_destroy(fd, nested), "destroy nested");
    close(dev);
    close(fd);
    munmap(ram, RAM_SIZE);

    diag("invalidation hints: SMMUv3 TLBI_NH_VA Leaf");
    id = setup(&fd, &dev, "iommu=smmuv3\n", 0x40000000ull, &parent);
    OK_0(t_viommu(fd, id, parent, &viommu), "vIOMMU");
    OK_0(t_vdevice(fd, viommu, id, 0x20, &vdev), "vDEVICE");
    cd = galloc(4096);
    ttb = galloc(4096);
    p1 = galloc(4096);
    p2 = galloc(4096);
    t2 = galloc(4096);
    gput(p1 + 0x10, "AAAA");
    gput(p2 + 0x10, "BBBB");
    gw64(cd, 16 | CD_V | CD_IPS(4) | CD_AA64 | CD_R | CD_A |
         (uint64_t)asid << 48);
    gw64(cd + 8, ttb);
    gw64(arm_entry(ttb, va), p1 | D_AF | D_AP1 | D_NG | 3);
    gw64(t2 + ((va >> 12) & 511) * 8, p2 | D_AF | D_AP1 | D_NG | 3);
    ste[0] = 1 | (5ull << 1) | cd;
    ste[1] = 0;
    OK_0(t_hwpt(fd, id, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste,
                sizeof(ste), &nested), "nested HWPT with an S1 vSTE");
    OK_0(t_attach(dev, &nested), "attach it");
    ok(dma_word(dev, va + 0x10) == word("AAAA"), "DMA through the old table");
    /* The level-2 descriptor: the level-3 table holding the page's PTE. */
    e = ttb;
    for (int l = 0; l < 2; l++) {
        e = gr64(e + ((va >> (39 - 9 * l)) & 511) * 8) & 0x0000fffffffff000ull;
    }
    e += ((va >> 21) & 511) * 8;
    gw64(e, t2 | 3);
    stale = t_reg(dev, SIMDEV_REG_STALE_HITS);
    OK_0(smmu_cmd(fd, viommu, 0x12 | (uint64_t)asid << 48, va | 1),
         "descriptor changed, TLBI_NH_VA Leaf=1");
    ok(dma_word(dev, va + 0x10) == word("AAAA") &&
       t_reg(dev, SIMDEV_REG_STALE_HITS) > stale,
       "a wrong Leaf hint leaves the old table in use (stale hit)");
    OK_0(smmu_cmd(fd, viommu, 0x12 | (uint64_t)asid << 48, va),
         "TLBI_NH_VA Leaf=0");
    ok(dma_word(dev, va + 0x10) == word("BBBB"),
       "with Leaf=0 the new table is used");
    OK_0(t_attach(dev, &parent), "back to the parent");
    OK_0(t_destroy(fd, nested) || t_destroy(fd, vdev) ||
         t_destroy(fd, viommu), "destroy nested, vDEVICE, vIOMMU");
    close(dev);
    close(fd);
    munmap(ram, RAM_SIZE);
    ok(iommufd_sim_live("all") == 0, "hints: nothing left");
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

/* A device on an S1 nested HWPT of a vIOMMU with vDEVICE vSID 0x20. */
typedef struct {
    int fd, dev;
    uint32_t parent, viommu, vdev, nested;
    uint64_t pte[NVA], p1, p2;
} Blocks;

static void blocks_up(Blocks *b)
{
    uint64_t cd, ttb, ste[2];
    uint32_t id;

    id = setup(&b->fd, &b->dev, "iommu=smmuv3\n", 0x40000000ull, &b->parent);
    OK_0(t_viommu(b->fd, id, b->parent, &b->viommu) ||
         t_vdevice(b->fd, b->viommu, id, 0x20, &b->vdev),
         "vIOMMU, vDEVICE 0x20");
    cd = galloc(4096);
    ttb = galloc(4096);
    b->p1 = galloc(4096);
    b->p2 = galloc(4096);
    gput(b->p1 + 0x10, "AAAA");
    gput(b->p2 + 0x10, "BBBB");
    gw64(cd, 16 | CD_V | CD_IPS(4) | CD_AA64 | CD_R | CD_A | 7ull << 48);
    gw64(cd + 8, ttb);
    for (int v = 0; v < NVA; v++) {
        b->pte[v] = arm_entry(ttb, bva(v));
    }
    ste[0] = 1 | (5ull << 1) | cd;
    ste[1] = 0;
    OK_0(t_hwpt(b->fd, id, b->viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste,
                sizeof(ste), &b->nested) || t_attach(b->dev, &b->nested),
         "S1 nested HWPT attached");
}

static void blocks_down(Blocks *b, const char *what)
{
    OK_0(t_attach(b->dev, &b->parent), "back to the parent");
    OK_0(t_destroy(b->fd, b->nested) || t_destroy(b->fd, b->vdev) ||
         t_destroy(b->fd, b->viommu), "nested, vDEVICE, vIOMMU");
    close(b->dev);
    close(b->fd);
    munmap(ram, RAM_SIZE);
    ok(iommufd_sim_live("all") == 0, "%s: nothing left", what);
}

static void test_smmu_blocks(void)
{
    Blocks b;
    uint32_t n;
    int at[NVA] = { 0, 1, -1, -1 };

    diag("SMMUv3 invalidation blocks");
    blocks_up(&b);

    warm(b.dev, b.pte, b.p1, b.p2);
    OK_ERR(batch(b.fd, b.viommu, 3, at, 2, &n), EIO,
           "[TLBI_NH_VA, TLBI_NH_VA, CFGI_CD unknown vSID]");
    ok(n == 2, "entry_num 2 (%u)", n);
    ok(stale(b.dev, 0) && stale(b.dev, 1),
       "the unissued block before the bad command was dropped: both stale");
    ok(t_reg(b.dev, SIMDEV_REG_INV_SEEN) == 0, "INV_SEEN counts none");

    /* 70 commands, 66 bad: 0..62 issued as a block, 63..65 dropped */
    at[0] = 0;
    at[1] = 62;
    at[2] = 63;
    at[3] = 65;
    warm(b.dev, b.pte, b.p1, b.p2);
    OK_ERR(batch(b.fd, b.viommu, 70, at, 66, &n), EIO, "70 commands, 66 bad");
    ok(n == 66, "entry_num 66 (%u)", n);
    ok(!stale(b.dev, 0) && !stale(b.dev, 1), "commands 0 and 62 were applied");
    ok(stale(b.dev, 2) && stale(b.dev, 3), "commands 63 and 65 were not");
    ok(t_reg(b.dev, SIMDEV_REG_INV_SEEN) == 63, "INV_SEEN 63 (%u)",
       t_reg(b.dev, SIMDEV_REG_INV_SEEN));

    warm(b.dev, b.pte, b.p1, b.p2);
    at[0] = 5;
    at[1] = 63;
    at[2] = 126;
    at[3] = 127;
    OK_0(batch(b.fd, b.viommu, 128, at, 128, &n), "128 good commands");
    ok(n == 128 && !stale(b.dev, 0) && !stale(b.dev, 1) &&
       !stale(b.dev, 2) && !stale(b.dev, 3),
       "all applied, entry_num 128 (%u)", n);

    blocks_down(&b, "blocks");
}

/* ---- IOMMUFD_SIM_FAIL "HWPT_INVALIDATE:N:EIO@K" ---- */

/*
 * warm() after a TLBI_NH_ALL, so that no VA is cached on p2 already;
 * before iommufd_sim_set_fail(), which restarts the call count.
 */
static void rewarm(Blocks *b)
{
    if (smmu_cmd(b->fd, b->viommu, CMD_TLBI_NH_ALL, 0)) {
        ok(false, "TLBI_NH_ALL");
    }
    warm(b->dev, b->pte, b->p1, b->p2);
}

static void test_smmu_refuse(void)
{
    static const char *const bad[] = {
        "HWPT_INVALIDATE:1:ENOMEM@2", "HWPT_INVALIDATE:1:22@2",
        "IOAS_MAP:1:EIO@2", "HWPT_INVALIDATE:1:EIO@", "HWPT_INVALIDATE:1:EIO@x",
        "HWPT_INVALIDATE:1:EIO@-1", "HWPT_INVALIDATE:1:EIO@2x",
        "HWPT_INVALIDATE:1:EIO@4294967296", "HWPT_INVALIDATE:0:EIO@2",
    };
    int at[NVA] = { 0, 1, -1, -1 };
    const int none[NVA] = { -1, -1, -1, -1 };
    uint32_t n, seen;
    uint64_t inj;
    Blocks b;

    diag("SMMUv3 invalidation: injected refusal of one command");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(iommufd_sim_set_fail(bad[i]) == -EINVAL, "'%s' is rejected",
           bad[i]);
    }
    blocks_up(&b);

    /* [TLBI_NH_VA 0, TLBI_NH_VA 1, TLBI_NH_VA], command 2 refused */
    rewarm(&b);
    seen = t_reg(b.dev, SIMDEV_REG_INV_SEEN);
    inj = iommufd_sim_counter("fail.injected");
    OK_0(iommufd_sim_set_fail("HWPT_INVALIDATE:1:EIO@2"), "EIO@2 on call 1");
    OK_ERR(batch(b.fd, b.viommu, 3, at, 3, &n), EIO,
           "3 good TLBI_NH_VA, the kernel refuses command 2");
    ok(n == 2, "entry_num 2 (%u)", n);
    ok(stale(b.dev, 0) && stale(b.dev, 1),
       "commands 0 and 1 (same block as 2) were not applied: both stale");
    ok(t_reg(b.dev, SIMDEV_REG_INV_SEEN) == seen, "INV_SEEN counts none");
    ok(iommufd_sim_counter("fail.injected") == inj + 1, "one injection");
    OK_0(batch(b.fd, b.viommu, 3, at, 3, &n), "call 2 runs normally");
    ok(n == 3 && !stale(b.dev, 0) && !stale(b.dev, 1),
       "it applies them, entry_num 3 (%u)", n);
    ok(t_reg(b.dev, SIMDEV_REG_INV_SEEN) == seen + 3, "INV_SEEN +3");

    /* 70 good commands, 65 refused: 0..62 issued, 63 and 64 dropped */
    at[0] = 0;
    at[1] = 62;
    at[2] = 63;
    at[3] = 64;
    rewarm(&b);
    seen = t_reg(b.dev, SIMDEV_REG_INV_SEEN);
    OK_0(iommufd_sim_set_fail("HWPT_INVALIDATE:2:EIO@65"), "EIO@65 on call 2");
    OK_0(batch(b.fd, b.viommu, 1, none, 1, &n) || n != 1,
         "call 1 (one other TLBI) runs normally");
    OK_ERR(batch(b.fd, b.viommu, 70, at, 70, &n), EIO,
           "call 2: 70 good commands, 65 refused");
    ok(n == 65, "entry_num 65 (%u)", n);
    ok(!stale(b.dev, 0) && !stale(b.dev, 1),
       "commands 0 and 62 (first block) were applied");
    ok(stale(b.dev, 2) && stale(b.dev, 3), "commands 63 and 64 were not");
    ok(t_reg(b.dev, SIMDEV_REG_INV_SEEN) == seen + 1 + 63, "INV_SEEN +64");

    /* K >= entry_num: never reached, the call runs normally */
    at[1] = 1;
    at[2] = -1;
    at[3] = -1;
    rewarm(&b);
    inj = iommufd_sim_counter("fail.injected");
    OK_0(iommufd_sim_set_fail("HWPT_INVALIDATE:1:EIO@3"), "EIO@3 on call 1");
    OK_0(batch(b.fd, b.viommu, 3, at, 3, &n), "3 commands: runs normally");
    ok(n == 3 && !stale(b.dev, 0) && !stale(b.dev, 1) &&
       iommufd_sim_counter("fail.injected") == inj,
       "all applied, entry_num 3 (%u), no injection", n);

    /* a real refusal before K comes first */
    rewarm(&b);
    OK_0(iommufd_sim_set_fail("HWPT_INVALIDATE:1:EIO@3"), "EIO@3 on call 1");
    OK_ERR(batch(b.fd, b.viommu, 5, at, 2, &n), EIO,
           "5 commands, 2 has an unknown vSID");
    ok(n == 2 && stale(b.dev, 0) && stale(b.dev, 1) &&
       iommufd_sim_counter("fail.injected") == inj,
       "entry_num 2 (%u), nothing applied, no injection", n);

    /* the plain form is unchanged: fails before running, entry_num 0 */
    rewarm(&b);
    OK_0(iommufd_sim_set_fail("HWPT_INVALIDATE:1:EIO"), "EIO on call 1");
    OK_ERR(batch(b.fd, b.viommu, 3, at, 3, &n), EIO, "plain EIO");
    ok(n == 0 && stale(b.dev, 0) && stale(b.dev, 1), "entry_num 0 (%u)", n);
    iommufd_sim_set_fail("");
    OK_0(batch(b.fd, b.viommu, 3, at, 3, &n), "then a normal call");
    ok(n == 3 && !stale(b.dev, 0) && !stale(b.dev, 1), "applies them");

    blocks_down(&b, "refusal");
}

/* Child (argv[1] "refuse"): the environment's fail spec, one batch. */
static int child_refuse(void)
{
    int at[NVA] = { 0, 1, -1, -1 };
    uint32_t n;
    Blocks b;
    int ret;

    if (!freopen("/dev/null", "w", stdout)) {
        return 2;
    }
    blocks_up(&b);
    ret = batch(b.fd, b.viommu, 3, at, 3, &n);
    if (ret != -1 || errno != EIO || n != 1) {
        return 3;
    }
    blocks_down(&b, "child");
    return tap_done();
}

/* Lines of @path containing @a and, if not NULL, @b. */
static int log_count(const char *path, const char *a, const char *b)
{
    char line[512];
    int n = 0;
    FILE *f = fopen(path, "r");

    while (f && fgets(line, sizeof(line), f)) {
        n += strstr(line, a) && (!b || strstr(line, b));
    }
    if (f) {
        fclose(f);
    }
    return n;
}

static void test_refuse_log(const char *self)
{
    char dir[] = "/tmp/iommufd-sim-test-XXXXXX", log[128];
    pid_t pid;
    int st = -1;

    diag("EIO@K through IOMMUFD_SIM_FAIL: the log");
    if (!mkdtemp(dir)) {
        ok(false, "mkdtemp");
        return;
    }
    snprintf(log, sizeof(log), "%s/log", dir);
    pid = fork();
    if (pid == 0) {
        setenv("IOMMUFD_SIM_FAIL", "HWPT_INVALIDATE:1:EIO@1", 1);
        setenv("IOMMUFD_SIM_LOG", log, 1);
        execl(self, self, "refuse", (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid) {
        st = -1;
    }
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "child: EIO, entry_num 1 (wait status 0x%x)", st);
    ok(log_count(log, "HWPT_INVALIDATE inject refusal of entry 1 (call 1)",
                 NULL) == 1, "the injection is logged");
    ok(log_count(log, "iommufd HWPT_INVALIDATE", "entry_num=0x1 -> -EIO") == 1,
       "the call is logged with entry_num 1 and -EIO");
    ok(log_count(log, "HWPT_INVALIDATE", "-EIO") == 1,
       "one line has HWPT_INVALIDATE and -EIO");
    unlink(log);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        return !strcmp(argv[1], "refuse") ? child_refuse() : 2;
    }
    test_vtd();
    test_smmu();
    test_leaf_hints();
    test_smmu_blocks();
    test_smmu_refuse();
    test_refuse_log(argv[0]);
    return tap_done();
}
