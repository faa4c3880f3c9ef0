/*
 * e2e-driver: the L2 side of the real-kernel end-to-end test
 *
 * Runs inside L1 (Linux with iommufd, the edu device of L0 bound to
 * vfio-pci).  Starts the patched QEMU (L2) with the qtest accelerator,
 * -device arm-smmuv3,accel=on and the edu device through vfio-pci, and
 * plays the L2 guest over the qtest protocol: it writes the stream table,
 * the context descriptor and the stage-1 page tables into L2 guest memory,
 * enables the vSMMU through its command queue, and programs edu's DMA
 * engine through the VFIO BAR.  The DMA is performed by L0's edu, so the
 * data only arrives where the test expects it if the L1 kernel installed
 * the guest's stage 1 (nested HWPT) over QEMU's stage 2 and forwarded the
 * guest's invalidations.
 *
 * Usage: e2e-driver [--emulated] QEMU [QEMU-ARGS...]
 * --emulated: a dry run of the guest side with an emulated edu and SMMU
 * in QEMU itself (no L1 kernel, no iommufd); the checks of what the L1
 * kernel created are left out.
 * QEMU's trace goes to $E2E_TRACE_LOG (/tmp/e2e-l2-trace.log), its stderr
 * next to it (.stderr).
 * The driver adds -accel qtest, -qtest and the trace options.  It prints
 * one "e2e-driver: ok|FAIL ..." line per check and "e2e-driver: PASS" or
 * "e2e-driver: FAIL" at the end; the exit status is 0 only on PASS.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver-lib.h"

/* L2 machine: virt, highmem=off */
#define ECAM_BASE       0x3f000000ULL
#define PCIE_MMIO       0x10000000ULL
#define SMMU_BASE       0x0c000000ULL   /* first platform bus device */

/* L2 guest memory (RAM starts at 0x40000000) */
#define STRTAB          0x40100000ULL
#define CMDQ            0x40200000ULL
#define EVTQ            0x40210000ULL
#define CD_ADDR         0x40300000ULL
#define PT_TABLES       0x40400000ULL   /* two sets of 5 pages */
#define PAGE_A          0x40500000ULL
#define PAGE_B          0x40501000ULL
#define PAGE_DST        0x40502000ULL
#define PAGE_ID         0x40503000ULL
#define PAGE_C          0x40504000ULL
#define PAGE_DST2       0x40505000ULL

/* guest IOVAs: below edu's 28-bit default DMA mask */
#define IOVA_SRC        0x1000000ULL
#define IOVA_DST        0x1001000ULL
/*
 * Identity-mapped: the same address is valid with the stage-1 STE and with
 * a bypass STE, so the abort check cannot pass by accident if an abort STE
 * were installed as either.
 */
#define IOVA_ID         PAGE_ID
#define IOVA_HOLE       0x1003000ULL    /* no stage-1 PTE */

#define STRTAB_LOG2     9
#define CMDQ_LOG2       8
/*
 * edu (through vfio-pci, id edu0) sits behind a PCIe root port at 00:02.0,
 * for native hot-unplug; the guest numbers the bus behind it 1.
 */
#define RP_DEVFN        (2 << 3)
#define DEV_SID         0x100           /* bus 1, devfn 0 */
#define DEV_ID          "edu0"
#define ASID            1
#define ASID2           2

/* SMMUv3 registers */
#define SMMU_IDR0       0x0
#define SMMU_CR0        0x20
#define SMMU_CR0ACK     0x24
#define SMMU_GERROR     0x60
#define SMMU_STRTAB_BASE 0x80
#define SMMU_STRTAB_CFG 0x88
#define SMMU_CMDQ_BASE  0x90
#define SMMU_CMDQ_PROD  0x98
#define SMMU_CMDQ_CONS  0x9c
#define SMMU_EVTQ_BASE  0xa0
#define SMMU_EVTQ_PROD  0xa8
#define EVT_F_TRANSLATION 0x10

#define CMD_CFGI_STE    0x03
#define CMD_CFGI_CD     0x05
#define CMD_TLBI_NH_ASID 0x11
#define CMD_TLBI_NH_VA  0x12
#define CMD_SYNC        0x46

#define STE_ABORT       0
#define STE_BYPASS      4
#define STE_S1          5


static uint32_t cmdq_prod;

/* --- the L2 guest: PCI, SMMUv3, edu -------------------------------------- */

static uint64_t ecam(int bus, int devfn, int reg)
{
    return ECAM_BASE + ((uint64_t)(bus << 8 | devfn) << 12) + reg;
}

uint32_t cfg_read(int bus, int devfn, int reg, int bits)
{
    return rd(bits, ecam(bus, devfn, reg));
}

void cfg_write(int bus, int devfn, int reg, int bits, uint32_t val)
{
    wr(bits, ecam(bus, devfn, reg), val);
}

static void cmd_push(uint64_t w0, uint64_t w1)
{
    uint32_t idx = cmdq_prod & ((1 << CMDQ_LOG2) - 1);

    writeq(CMDQ + idx * 16, w0);
    writeq(CMDQ + idx * 16 + 8, w1);
    cmdq_prod = (cmdq_prod + 1) & ((2 << CMDQ_LOG2) - 1);
}

/* Push CMD_SYNC, let the vSMMU run the queue; true if all was consumed */
static bool cmd_sync_run(void)
{
    uint32_t cons;

    cmd_push(CMD_SYNC, 0);
    writel(SMMU_BASE + SMMU_CMDQ_PROD, cmdq_prod);
    cons = readl(SMMU_BASE + SMMU_CMDQ_CONS);
    if (cons != cmdq_prod) {
        printf("e2e-driver: CMDQ_CONS 0x%x (error %u), PROD 0x%x, "
               "GERROR 0x%x\n", cons, (cons >> 24) & 0x7f, cmdq_prod,
               readl(SMMU_BASE + SMMU_GERROR));
    }
    return cons == cmdq_prod;
}

static bool install_ste(uint32_t config)
{
    uint64_t ste0 = 1 | (config << 1);

    if (config == STE_S1) {
        ste0 |= CD_ADDR & 0x000fffffffffffc0ULL;    /* S1ContextPtr */
    }
    writeq(STRTAB + DEV_SID * 64 + 8, 0);
    writeq(STRTAB + DEV_SID * 64, ste0);
    cmd_push(CMD_CFGI_STE | (uint64_t)DEV_SID << 32, 1 /* leaf */);
    return cmd_sync_run();
}

static uint64_t pte_page(uint64_t pa)
{
    /* page, AF, AP[1] (EL0 RW), inner shareable, attr index 0 */
    return pa | 3 | (1 << 6) | (3 << 8) | (1 << 10);
}

/*
 * A stage-1 table set (4K granule, levels 1-3): one level-3 table for the
 * IOVAs at 16 MiB, one for the identity-mapped page above 1 GiB.
 */
static uint64_t pt_l1(int set)
{
    return PT_TABLES + set * 0x5000;
}

static void map_iova(int set, uint64_t iova, uint64_t pa)
{
    uint64_t l3 = pt_l1(set) + (iova == IOVA_ID ? 0x4000 : 0x2000);

    writeq(l3 + ((iova >> 12) & 0x1ff) * 8, pte_page(pa));
}

static void build_tables(int set)
{
    uint64_t l1 = pt_l1(set);

    writeq(l1 + ((IOVA_SRC >> 30) & 0x1ff) * 8, (l1 + 0x1000) | 3);
    writeq(l1 + 0x1000 + ((IOVA_SRC >> 21) & 0x1ff) * 8, (l1 + 0x2000) | 3);
    writeq(l1 + ((IOVA_ID >> 30) & 0x1ff) * 8, (l1 + 0x3000) | 3);
    writeq(l1 + 0x3000 + ((IOVA_ID >> 21) & 0x1ff) * 8, (l1 + 0x4000) | 3);
}

/* The CD: a 39-bit stage 1 on table set @set, tagged @asid */
static void write_cd(int set, uint16_t asid)
{
    uint32_t cd[16] = { 0 };
    int i;

    cd[0] = 25 | (1u << 30) | (1u << 31);           /* T0SZ, EPD1, V */
    /* IPS 40 bits, AA64, R, A, ASID */
    cd[1] = 2 | (1u << 9) | (1u << 13) | (1u << 14) | ((uint32_t)asid << 16);
    cd[2] = pt_l1(set);                             /* TTB0 */
    cd[3] = pt_l1(set) >> 32;
    cd[6] = 0xff;                                   /* MAIR0: attr 0 WB */
    for (i = 0; i < 16; i++) {
        writel(CD_ADDR + i * 4, cd[i]);
    }
}

static void smmu_enable(void)
{
    writeq(SMMU_BASE + SMMU_STRTAB_BASE, STRTAB);
    writel(SMMU_BASE + SMMU_STRTAB_CFG, STRTAB_LOG2);
    writeq(SMMU_BASE + SMMU_CMDQ_BASE, CMDQ | CMDQ_LOG2);
    writeq(SMMU_BASE + SMMU_EVTQ_BASE, EVTQ | 5);
    writel(SMMU_BASE + SMMU_CMDQ_PROD, 0);
    writel(SMMU_BASE + SMMU_CMDQ_CONS, 0);
    cmdq_prod = 0;
    writel(SMMU_BASE + SMMU_CR0, 1 | 4 | 8);       /* SMMUEN EVTQEN CMDQEN */
}

/* Wait up to 10 s for the vSMMU to write an event record */
static bool evtq_wait(void)
{
    int i;

    for (i = 0; i < 1000; i++) {
        if (readl(SMMU_BASE + SMMU_EVTQ_PROD)) {
            return true;
        }
        qcmd("clock_step 10000000");
        usleep(10000);
    }
    return false;
}

/* --- what the L1 kernel created, from QEMU's trace ------------------------ */

/* What the report shows */
static const char *const report_events[] = {
    "iommufd_backend_alloc_hwpt ", "smmuv3_accel_alloc_viommu ",
    "smmuv3_accel_alloc_vdev ", "smmuv3_accel_alloc_nested ",
    "smmuv3_accel_attach ", "smmuv3_accel_flush_cmds ",
    "smmuv3_accel_free_vdev ", "smmuv3_accel_free_viommu ",
    "iommufd_backend_alloc_veventq ", "iommufd_backend_free_id ", NULL
};

/* -trace patterns for L2 QEMU */
static const char *const trace_events[] = {
    "iommufd_backend_alloc_*", "iommufd_backend_invalidate_cache",
    "smmuv3_accel_*", "iommufd_backend_free_id", NULL
};

int main(int argc, char **argv)
{
    int status, n_nested, n_nested_after, n_flush, n_flush_after, n_free;
    uint64_t e0, e1, e2;
    bool emulated, ok;
    uint32_t v, v_idr0;

    emulated = driver_start(argc, argv, trace_events);
    edu_setup(RP_DEVFN, PCIE_MMIO);

    v = v_idr0 = readl(SMMU_BASE + SMMU_IDR0);
    check(v & 2, "vSMMU IDR0 0x%08x has stage 1", v);

    /* the guest's stage 1: IOVA_SRC -> PAGE_A, IOVA_DST -> PAGE_DST */
    build_tables(0);
    write_cd(0, ASID);
    map_iova(0, IOVA_SRC, PAGE_A);
    map_iova(0, IOVA_DST, PAGE_DST);
    map_iova(0, IOVA_ID, PAGE_ID);
    fill(PAGE_A, 0x11);
    fill(PAGE_B, 0x22);
    fill(PAGE_DST, 0x00);

    n_nested = trace_count("smmuv3_accel_alloc_nested ", NULL, NULL);
    smmu_enable();
    check(install_ste(STE_S1), "stage-1 STE for SID 0x%x: CFGI_STE + "
          "CMD_SYNC consumed", DEV_SID);
    n_nested_after = trace_count("smmuv3_accel_alloc_nested ", NULL, NULL);
    check(copy_through_edu(IOVA_SRC, IOVA_DST), "edu DMA 0x%llx -> edu -> "
          "0x%llx finished", IOVA_SRC, IOVA_DST);
    check(holds(PAGE_DST, 0x11), "nested S1+S2: the data of page A "
          "(IOVA 0x%llx) arrived in the page IOVA 0x%llx maps",
          IOVA_SRC, IOVA_DST);
    fill(PAGE_ID, 0x00);
    check(edu_dma(EDU_BUF, IOVA_ID, true) && holds(PAGE_ID, 0x11),
          "DMA to the identity-mapped IOVA 0x%llx arrived", IOVA_ID);

    /*
     * A read of an IOVA the guest's stage 1 does not map: L0's SMMU records
     * F_TRANSLATION in the L1 kernel's event queue, which forwards it
     * through the vEVENTQ with the vSID in place of the physical StreamID,
     * and L2 QEMU writes it to the guest's event queue.  An SMMU records a
     * fault per transaction: edu's DMA may make several.
     */
    edu_dma(IOVA_HOLE, EDU_BUF, false);
    ok = evtq_wait();
    e0 = readq(EVTQ);
    e1 = readq(EVTQ + 8);
    e2 = readq(EVTQ + 16);
    check(ok && (e0 & 0xff) == EVT_F_TRANSLATION && e0 >> 32 == DEV_SID &&
          e2 == IOVA_HOLE && !(e1 & (1ULL << 39)) && (e1 & (1ULL << 35)),
          "a read of unmapped IOVA 0x%llx: an F_TRANSLATION record for "
          "vSID 0x%x in the guest's event queue (PROD 0x%x, record 0x%"
          PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 ")", IOVA_HOLE, DEV_SID,
          readl(SMMU_BASE + SMMU_EVTQ_PROD), e0, e1, e2);

    /* remap: without the invalidation, L0's SMMU would keep page A */
    map_iova(0, IOVA_SRC, PAGE_B);
    n_flush = trace_count("smmuv3_accel_flush_cmds ", NULL, NULL);
    cmd_push(CMD_TLBI_NH_VA | (uint64_t)ASID << 48,
             (IOVA_SRC & ~0xfffULL) | 1 /* leaf */);
    check(cmd_sync_run(), "TLBI_NH_VA(0x%llx) + CMD_SYNC consumed",
          IOVA_SRC);
    n_flush_after = trace_count("smmuv3_accel_flush_cmds ", NULL, NULL);
    fill(PAGE_DST, 0x00);
    check(copy_through_edu(IOVA_SRC, IOVA_DST), "edu DMA after the remap "
          "finished");
    check(holds(PAGE_DST, 0x22), "after TLBI: the data came from page B, "
          "the new mapping (page A would mean a stale IOTLB entry)");

    /*
     * New tables and ASID in the CD: L0's SMMU caches the CD, so only the
     * forwarded CFGI_CD (for the guest StreamID, which the L1 kernel turns
     * into the physical one through the vDEVICE) makes it use them.
     */
    fill(PAGE_C, 0x44);
    build_tables(1);
    map_iova(1, IOVA_SRC, PAGE_C);
    map_iova(1, IOVA_DST, PAGE_DST);
    map_iova(1, IOVA_ID, PAGE_ID);
    write_cd(1, ASID2);
    cmd_push(CMD_CFGI_CD | (uint64_t)DEV_SID << 32, 1 /* leaf */);
    check(cmd_sync_run(), "CFGI_CD + CMD_SYNC consumed");
    fill(PAGE_DST, 0x00);
    check(copy_through_edu(IOVA_SRC, IOVA_DST) && holds(PAGE_DST, 0x44),
          "after CFGI_CD: the new CD (ASID %d, other tables) is used", ASID2);

    /* one range TLBI (RIL: 2 pages of 4K from IOVA_SRC) for two remaps */
    map_iova(1, IOVA_SRC, PAGE_A);
    map_iova(1, IOVA_DST, PAGE_DST2);
    cmd_push(CMD_TLBI_NH_VA | (uint64_t)ASID2 << 48 | 1 << 12 /* NUM */,
             IOVA_SRC | 1 << 10 /* TG 4K */ | 1 /* leaf */);
    check(cmd_sync_run(), "range TLBI_NH_VA + CMD_SYNC consumed");
    fill(PAGE_DST, 0x00);
    fill(PAGE_DST2, 0x00);
    check(copy_through_edu(IOVA_SRC, IOVA_DST) && holds(PAGE_DST2, 0x11) &&
          holds(PAGE_DST, 0x00), "after the range TLBI: both pages of the "
          "range use their new mappings");

    /* TLBI_NH_ASID */
    map_iova(1, IOVA_SRC, PAGE_B);
    cmd_push(CMD_TLBI_NH_ASID | (uint64_t)ASID2 << 48, 0);
    check(cmd_sync_run(), "TLBI_NH_ASID + CMD_SYNC consumed");
    check(copy_through_edu(IOVA_SRC, IOVA_DST) && holds(PAGE_DST2, 0x22),
          "after TLBI_NH_ASID: the new mapping is used");

    /* abort STE: DMA must not reach guest memory */
    check(install_ste(STE_ABORT), "abort STE: CFGI_STE + CMD_SYNC consumed");
    fill(PAGE_DST, 0x33);
    fill(PAGE_ID, 0x33);
    edu_dma(EDU_BUF, IOVA_DST, true);
    edu_dma(EDU_BUF, IOVA_ID, true);
    check(holds(PAGE_DST, 0x33) && holds(PAGE_ID, 0x33), "abort STE: the "
          "DMA writes to IOVA 0x%llx and 0x%llx were blocked", IOVA_DST,
          IOVA_ID);

    /* bypass STE: DMA to L2 guest physical addresses (stage 2 only) */
    check(install_ste(STE_BYPASS), "bypass STE: CFGI_STE + CMD_SYNC "
          "consumed");
    fill(PAGE_DST, 0x00);
    check(copy_through_edu(PAGE_A, PAGE_DST), "edu DMA to guest physical "
          "addresses finished");
    check(holds(PAGE_DST, 0x11), "bypass STE: page A copied to 0x%llx by "
          "guest physical address", PAGE_DST);

    /*
     * Native PCIe hot-unplug, as a guest does it: device_del, then power
     * the slot off.  The vSMMU frees the vDEVICE, the nested HWPTs and,
     * for its last device, the vIOMMU: the L1 kernel refuses to destroy
     * an object another one still uses.
     */
    n_free = trace_count("iommufd_backend_free_id ", "(0)", NULL);
    unplug(RP_DEVFN, DEV_ID);
    check(readl(SMMU_BASE + SMMU_IDR0) == v_idr0, "L2 QEMU runs on after "
          "the unplug");

    status = stop_qemu_wait();
    check(WIFEXITED(status) || (WIFSIGNALED(status) &&
          WTERMSIG(status) == SIGTERM),
          "L2 QEMU stopped on SIGTERM (status 0x%x)", status);

    if (emulated) {
        goto out;
    }
    trace_print(report_events);
    check(trace_count("iommufd_backend_alloc_hwpt ", "flags=0x1 ", "(0)") == 1,
          "the L1 kernel allocated one nesting-parent HWPT");
    check(trace_count("iommufd_backend_alloc_viommu ", "(0)", NULL) == 1,
          "the L1 kernel allocated one vIOMMU");
    check(trace_count("iommufd_backend_alloc_vdev ", "virt_id=0x100 ", "(0)")
          == 1, "the L1 kernel allocated a vDEVICE for vSID 0x%x", DEV_SID);
    check(n_nested_after > n_nested,
          "a nested HWPT was allocated for the guest's stage-1 STE");
    check(trace_count("iommufd_backend_alloc_hwpt ", "hwpt_type=2 ", "(0)")
          >= 3 && trace_count("iommufd_backend_alloc_", "(-", NULL) == 0,
          "every allocation succeeded in the L1 kernel (nested HWPTs: "
          "abort, bypass and the stage 1)");
    check(trace_count("smmuv3_accel_free_vdev ", NULL, NULL) == 1 &&
          trace_count("smmuv3_accel_free_viommu ", NULL, NULL) == 1 &&
          trace_count("iommufd_backend_free_id ", "(0)", NULL) >= n_free + 5 &&
          trace_count("iommufd_backend_free_id ", "(-", NULL) == 0,
          "at unplug the L1 kernel destroyed the vDEVICE, the nested HWPTs "
          "and the vIOMMU (%d objects), refusing none",
          trace_count("iommufd_backend_free_id ", "(0)", NULL) - n_free);
    check(trace_count("iommufd_backend_alloc_veventq ", "(0)", NULL) == 1 &&
          trace_count("smmuv3_accel_event ", "vSID 0x100 ", NULL) >= 1,
          "the L1 kernel gave a vEVENTQ and reported events for vSID 0x%x "
          "through it", DEV_SID);
    check(n_flush_after > n_flush &&
          trace_count("iommufd_backend_invalidate_cache ", "(0)", NULL) > 0 &&
          trace_count("iommufd_backend_invalidate_cache ", "(-", NULL) == 0,
          "the TLBI was forwarded to the L1 kernel and accepted");

out:
    return driver_finish();
}
