/*
 * e2e-driver-vtd: the L2 side of the Intel real-kernel end-to-end test
 *
 * Runs inside L1 (x86_64 Linux with iommufd on L0's emulated nesting
 * VT-d, the edu device of L0 bound to vfio-pci).  Starts the patched QEMU
 * (L2) with the qtest accelerator, -device intel-iommu,x-flts=on and the
 * edu device through vfio-pci, and plays the L2 guest over the qtest
 * protocol: it writes root, context, PASID directory and PASID table
 * entries and first-stage page tables into L2 guest memory, enables
 * translation and queued invalidation, and programs edu's DMA engine
 * through the VFIO BAR.  The DMA is performed by L0's edu and translated
 * by L0's VT-d, so the data only arrives where the test expects it if the
 * L1 kernel nested the guest's first-stage table on QEMU's stage 2 and
 * passed the guest's invalidations on to L0.
 *
 * Usage: e2e-driver-vtd [--emulated] QEMU [QEMU-ARGS...], as e2e-driver
 * (driver.c): --emulated is a dry run against an emulated edu behind
 * QEMU's own first-stage translation, without the checks of what the L1
 * kernel created.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "driver-lib.h"

/* L2 machine: q35 */
#define VTD_BASE        0xfed90000ULL
#define PCI_MMIO        0xc0000000ULL   /* edu's BAR, behind the root port */

/*
 * L2 guest memory (256 MiB from 0): the VT-d structures, two sets of
 * first-stage tables and the data pages
 */
#define ROOT_TABLE      0x2000000ULL
#define CTX_TABLE       0x2001000ULL
#define PASID_DIR       0x2002000ULL
#define PASID_TABLE     0x2003000ULL
#define INV_QUEUE       0x2004000ULL
#define WAIT_STATUS     0x2005000ULL
#define FS_TABLES       0x2100000ULL    /* set n at + n * 0x10000 */
#define PAGE_A          0x3000000ULL
#define PAGE_B          0x3001000ULL
#define PAGE_DST        0x3002000ULL
#define PAGE_ID         0x3003000ULL
#define PAGE_C          0x3004000ULL
#define PAGE_DST2       0x3005000ULL

/* guest IOVAs: below edu's 28-bit default DMA mask */
#define IOVA_SRC        0x1000000ULL
#define IOVA_DST        0x1001000ULL
/*
 * Identity-mapped: valid both through the first-stage table and for
 * stage 2 alone, so that the not-present check cannot pass by accident
 * if such an entry left the device on either.
 */
#define IOVA_ID         PAGE_ID

/* edu (vfio-pci, id edu0) behind a PCIe root port at 00:04.0, bus 1 */
#define RP_DEVFN        (4 << 3)
#define DEV_BUS         1
#define DEV_DEVFN       0
#define DEV_ID          "edu0"
#define DID             1
#define DID2            2
#define IQ_ENTRIES      128     /* 4 KiB of 256-bit descriptors */

/* VT-d registers and bits */
#define VTD_VER         0x00
#define VTD_CAP         0x08
#define VTD_ECAP        0x10
#define VTD_GCMD        0x18
#define VTD_GSTS        0x1c
#define VTD_RTADDR      0x20
#define VTD_FSTS        0x34
#define VTD_IQT         0x88
#define VTD_IQA         0x90

#define CAP_CM          (1ULL << 7)
#define ECAP_QI         (1ULL << 1)
#define ECAP_SMTS       (1ULL << 43)
#define ECAP_FLTS       (1ULL << 47)
#define GCMD_TE         (1u << 31)
#define GCMD_SRTP       (1u << 30)
#define GCMD_QIE        (1u << 26)
#define RTADDR_SMT      (1ULL << 10)
#define IQA_DW          (1ULL << 11)
#define FSTS_IQE        (1u << 4)

/* PASID entry: PGTT (bits 8:6), AW (bits 4:2) */
#define PE_P            1ULL
#define PE_AW_48        (2ULL << 2)
#define PE_FIRST_STAGE  (1ULL << 6)
#define PE_PASSTHROUGH  (4ULL << 6)

/* Invalidation descriptors (the first 64 bits) */
#define INV_CC_GLOBAL   (0x1 | 1 << 4)
#define INV_IOTLB_GLOBAL (0x2 | 1 << 4)
#define INV_WAIT_SW     (0x5 | 1 << 5)
#define INV_PIOTLB_PASID (0x6 | 2 << 4)  /* all of a PASID in a domain */
#define INV_PIOTLB_PSI  (0x6 | 3 << 4)   /* pages of a PASID in a domain */
#define INV_PC_PASID    (0x7 | 1 << 4)   /* a PASID of a domain */

/* First-stage (IA-32e) entries: present, writable, user, accessed, dirty */
#define FS_TABLE_BITS   0x27ULL
#define FS_PAGE_BITS    0x67ULL

static uint32_t gcmd;
static unsigned iq_tail;
static uint32_t wait_seq;

/* q35's configuration mechanism #1 */
static void cfg_select(int bus, int devfn, int reg)
{
    pio_wr(32, 0xcf8, 1u << 31 | bus << 16 | devfn << 8 | (reg & 0xfc));
}

uint32_t cfg_read(int bus, int devfn, int reg, int bits)
{
    cfg_select(bus, devfn, reg);
    return pio_rd(bits, 0xcfc + (reg & (bits == 32 ? 0 : bits == 16 ? 2 : 3)));
}

void cfg_write(int bus, int devfn, int reg, int bits, uint32_t val)
{
    cfg_select(bus, devfn, reg);
    pio_wr(bits, 0xcfc + (reg & (bits == 32 ? 0 : bits == 16 ? 2 : 3)), val);
}

/* --- VT-d -------------------------------------------------------------------- */

static void vtd_gcmd(uint32_t set, uint32_t oneshot)
{
    gcmd |= set;
    writel(VTD_BASE + VTD_GCMD, gcmd | oneshot);
}

static void iq_put(uint64_t lo, uint64_t hi)
{
    uint64_t d = INV_QUEUE + iq_tail * 32;

    writeq(d, lo);
    writeq(d + 8, hi);
    writeq(d + 16, 0);
    writeq(d + 24, 0);
    iq_tail = (iq_tail + 1) % IQ_ENTRIES;
}

/*
 * End the batch with a wait descriptor and move the tail; QEMU runs the
 * queue at once.  True if the wait descriptor wrote its status and the
 * queue raised no error.
 */
static bool iq_submit(void)
{
    uint32_t seq = ++wait_seq;

    writel(WAIT_STATUS, 0);
    iq_put(INV_WAIT_SW | (uint64_t)seq << 32, WAIT_STATUS);
    writeq(VTD_BASE + VTD_IQT, (uint64_t)iq_tail << 5);
    if (readl(VTD_BASE + VTD_FSTS) & FSTS_IQE) {
        printf("e2e-driver: invalidation queue error, FSTS 0x%x\n",
               readl(VTD_BASE + VTD_FSTS));
        return false;
    }
    return readl(WAIT_STATUS) == seq;
}

static void pc_inv(uint16_t did)
{
    iq_put(INV_PC_PASID | (uint64_t)did << 16, 0);      /* PASID 0 */
}

static void piotlb_psi(uint16_t did, uint64_t addr, unsigned am)
{
    iq_put(INV_PIOTLB_PSI | (uint64_t)did << 16, addr | am);
}

/* RID_PASID's entry (PASID 0) in the PASID table */
static void write_pasid_entry(uint64_t qw0, uint16_t did, uint64_t fsptptr)
{
    writeq(PASID_TABLE + 16, fsptptr);                  /* FSPM 0: 4 levels */
    writeq(PASID_TABLE + 8, did);
    writeq(PASID_TABLE, qw0);
}

/* --- first-stage tables --------------------------------------------------- */

/* Set @set: PML4, PDPT, PD, and the page tables for IOVA_SRC and IOVA_ID */
static uint64_t fs_pml4(int set)
{
    return FS_TABLES + set * 0x10000;
}

static void map_iova(int set, uint64_t iova, uint64_t pa)
{
    uint64_t pt = fs_pml4(set) + (iova == IOVA_ID ? 0x4000 : 0x3000);

    writeq(pt + ((iova >> 12) & 0x1ff) * 8, pa | FS_PAGE_BITS);
}

static void build_tables(int set)
{
    uint64_t pml4 = fs_pml4(set);
    uint8_t zero[XFER] = { 0 };
    int i;

    for (i = 0; i < 5; i++) {
        memwrite(pml4 + i * 0x1000, zero, sizeof(zero));
    }
    /* IOVA_SRC and IOVA_ID share PML4 entry 0, PDPT entry 0 and the PD */
    writeq(pml4, (pml4 + 0x1000) | FS_TABLE_BITS);
    writeq(pml4 + 0x1000, (pml4 + 0x2000) | FS_TABLE_BITS);
    writeq(pml4 + 0x2000 + ((IOVA_SRC >> 21) & 0x1ff) * 8,
           (pml4 + 0x3000) | FS_TABLE_BITS);
    writeq(pml4 + 0x2000 + ((IOVA_ID >> 21) & 0x1ff) * 8,
           (pml4 + 0x4000) | FS_TABLE_BITS);
}

/* Root table, queued invalidation, translation: as a driver enables them */
static void vtd_enable(void)
{
    uint8_t zero[XFER] = { 0 };

    memwrite(ROOT_TABLE, zero, sizeof(zero));
    memwrite(CTX_TABLE, zero, sizeof(zero));
    memwrite(PASID_DIR, zero, sizeof(zero));
    memwrite(PASID_TABLE, zero, sizeof(zero));
    /* bus 1 -> context table (devfn 0-127), devfn 0 -> PASID directory */
    writeq(ROOT_TABLE + DEV_BUS * 16, CTX_TABLE | 1);
    writeq(CTX_TABLE + DEV_DEVFN * 32 + 8, 0);           /* RID_PASID 0 */
    writeq(CTX_TABLE + DEV_DEVFN * 32, PASID_DIR | 1);   /* PDTS 0 */
    writeq(PASID_DIR, PASID_TABLE | 1);

    writeq(VTD_BASE + VTD_RTADDR, ROOT_TABLE | RTADDR_SMT);
    vtd_gcmd(0, GCMD_SRTP);
    writeq(VTD_BASE + VTD_IQA, INV_QUEUE | IQA_DW);     /* QS 0: 4 KiB */
    writeq(VTD_BASE + VTD_IQT, 0);
    iq_tail = 0;
    vtd_gcmd(GCMD_QIE, 0);
    vtd_gcmd(GCMD_TE, 0);
}

/* --- what the L1 kernel created, from QEMU's trace ------------------------ */

static const char *const report_events[] = {
    "iommufd_backend_alloc_ioas ", "iommufd_backend_alloc_hwpt ",
    "vtd_accel_hiod_add ", "vtd_accel_alloc_s1 ", "vtd_accel_attach ",
    "vtd_accel_inv_queue ", "vtd_accel_guest_blocked ",
    "vtd_accel_inv_recover ", "iommufd_backend_invalidate_cache ",
    "iommufd_backend_free_id ", NULL
};

static const char *const trace_events[] = {
    "iommufd_backend_alloc_*", "iommufd_backend_invalidate_cache",
    "iommufd_backend_free_id", "vtd_accel_*", NULL
};

/*
 * Objects the L1 kernel created for L2 QEMU (IOAS and HWPT ids, from the
 * trace) that it was not asked to destroy, or refused to: -1 on a refusal
 */
static int objects_left(void)
{
    static unsigned ids[256];
    char line[512];
    FILE *f = fopen(trace_log, "r");
    int n = 0, i, left = 0;

    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        const char *p;
        unsigned id;
        int err;

        if ((p = strstr(line, "iommufd_backend_alloc_ioas ")) &&
            sscanf(strstr(p, "ioas=") ?: "", "ioas=%u", &id) == 1) {
            if (n < 256) {
                ids[n++] = id;
            }
        } else if ((p = strstr(line, "iommufd_backend_alloc_hwpt ")) &&
                   sscanf(strstr(p, "out_hwpt=") ?: "", "out_hwpt=%u (%d)",
                          &id, &err) == 2 && !err) {
            if (n < 256) {
                ids[n++] = id;
            }
        } else if ((p = strstr(line, "iommufd_backend_free_id ")) &&
                   sscanf(strstr(p, "id=") ?: "", "id=%u (%d)", &id,
                          &err) == 2) {
            if (err) {
                printf("e2e-driver: the L1 kernel refused to destroy "
                       "object %u (%d)\n", id, err);
                fclose(f);
                return -1;
            }
            for (i = 0; i < n; i++) {
                if (ids[i] == id) {
                    ids[i] = 0;
                }
            }
        }
    }
    fclose(f);
    for (i = 0; i < n; i++) {
        if (ids[i]) {
            printf("e2e-driver: object %u was not destroyed\n", ids[i]);
            left++;
        }
    }
    return left;
}

int main(int argc, char **argv)
{
    int status, n_s1, n_s1_bound, n_s1_rebound, n_inv, n_inv_after;
    int n_blocked, n_blocked_after, left;
    bool emulated;
    uint64_t cap, ecap;
    uint32_t ver;

    emulated = driver_start(argc, argv, trace_events);
    edu_setup(RP_DEVFN, PCI_MMIO);

    ver = readl(VTD_BASE + VTD_VER);
    cap = readq(VTD_BASE + VTD_CAP);
    ecap = readq(VTD_BASE + VTD_ECAP);
    check((cap & CAP_CM) && (ecap & ECAP_QI) && (ecap & ECAP_SMTS) &&
          (ecap & ECAP_FLTS), "vIOMMU CAP 0x%" PRIx64 " ECAP 0x%" PRIx64
          ": caching mode, queued invalidation, scalable mode, first stage",
          cap, ecap);

    /* the guest's first stage: IOVA_SRC -> PAGE_A, IOVA_DST -> PAGE_DST */
    build_tables(0);
    map_iova(0, IOVA_SRC, PAGE_A);
    map_iova(0, IOVA_DST, PAGE_DST);
    map_iova(0, IOVA_ID, PAGE_ID);
    fill(PAGE_A, 0x11);
    fill(PAGE_B, 0x22);
    fill(PAGE_DST, 0x00);

    n_s1 = trace_count("vtd_accel_alloc_s1 ", NULL, NULL);
    vtd_enable();
    check((readl(VTD_BASE + VTD_GSTS) & (GCMD_TE | GCMD_SRTP | GCMD_QIE)) ==
          (GCMD_TE | GCMD_SRTP | GCMD_QIE), "root table (scalable mode), "
          "queued invalidation and translation enabled (GSTS 0x%x)",
          readl(VTD_BASE + VTD_GSTS));
    write_pasid_entry(PE_P | PE_AW_48 | PE_FIRST_STAGE, DID, fs_pml4(0));
    iq_put(INV_CC_GLOBAL, 0);
    pc_inv(DID);
    iq_put(INV_IOTLB_GLOBAL, 0);
    check(iq_submit(), "first-stage PASID entry (domain %d): context, "
          "PASID-cache and IOTLB invalidation + wait completed", DID);
    n_s1_bound = trace_count("vtd_accel_alloc_s1 ", NULL, NULL);
    check(copy_through_edu(IOVA_SRC, IOVA_DST), "edu DMA 0x%llx -> edu -> "
          "0x%llx finished", IOVA_SRC, IOVA_DST);
    check(holds(PAGE_DST, 0x11), "nested first stage + stage 2: the data of "
          "page A (IOVA 0x%llx) arrived in the page IOVA 0x%llx maps",
          IOVA_SRC, IOVA_DST);
    fill(PAGE_ID, 0x00);
    check(edu_dma(EDU_BUF, IOVA_ID, true) && holds(PAGE_ID, 0x11),
          "DMA to the identity-mapped IOVA 0x%llx arrived", IOVA_ID);

    /* remap: without the invalidation, L0's VT-d would keep page A */
    map_iova(0, IOVA_SRC, PAGE_B);
    n_inv = trace_count("iommufd_backend_invalidate_cache ", NULL, NULL);
    piotlb_psi(DID, IOVA_SRC, 0);
    check(iq_submit(), "PASID-based IOTLB invalidation (0x%llx, 1 page) + "
          "wait completed", IOVA_SRC);
    n_inv_after = trace_count("iommufd_backend_invalidate_cache ", NULL, NULL);
    fill(PAGE_DST, 0x00);
    check(copy_through_edu(IOVA_SRC, IOVA_DST), "edu DMA after the remap "
          "finished");
    check(holds(PAGE_DST, 0x22), "after the PASID-based IOTLB invalidation: "
          "the data came from page B, the new mapping (page A would mean a "
          "stale IOTLB entry)");

    /* one invalidation of two pages (AM 1) for two remaps */
    map_iova(0, IOVA_SRC, PAGE_A);
    map_iova(0, IOVA_DST, PAGE_DST2);
    piotlb_psi(DID, IOVA_SRC, 1);
    check(iq_submit(), "PASID-based IOTLB invalidation (0x%llx, 2 pages) + "
          "wait completed", IOVA_SRC);
    fill(PAGE_DST, 0x00);
    fill(PAGE_DST2, 0x00);
    check(copy_through_edu(IOVA_SRC, IOVA_DST) && holds(PAGE_DST2, 0x11) &&
          holds(PAGE_DST, 0x00), "after the 2-page invalidation: both pages "
          "use their new mappings");

    /* all of the PASID */
    map_iova(0, IOVA_SRC, PAGE_B);
    iq_put(INV_PIOTLB_PASID | (uint64_t)DID << 16, 0);
    check(iq_submit(), "PASID-based IOTLB invalidation (all of PASID 0) + "
          "wait completed");
    check(copy_through_edu(IOVA_SRC, IOVA_DST) && holds(PAGE_DST2, 0x22),
          "after invalidating all of the PASID: the new mapping is used");

    /*
     * Other tables and domain in the PASID entry: the old domain's
     * PASID-cache invalidation makes QEMU bind them in a new nested HWPT
     * (the IOTLB invalidation of the old domain after it reaches no host
     * device any more).  L0 caches the translations of the old one, so
     * only the L1 kernel's replacement of the nested domain makes the new
     * tables count.
     */
    fill(PAGE_C, 0x44);
    build_tables(1);
    map_iova(1, IOVA_SRC, PAGE_C);
    map_iova(1, IOVA_DST, PAGE_DST);
    map_iova(1, IOVA_ID, PAGE_ID);
    write_pasid_entry(PE_P | PE_AW_48 | PE_FIRST_STAGE, DID2, fs_pml4(1));
    pc_inv(DID);
    /* what the old domain cached, as the spec asks (and Linux does) */
    iq_put(INV_PIOTLB_PASID | (uint64_t)DID << 16, 0);
    check(iq_submit(), "new PASID entry (domain %d, other tables): "
          "PASID-cache and old domain's IOTLB invalidation + wait completed",
          DID2);
    n_s1_rebound = trace_count("vtd_accel_alloc_s1 ", NULL, NULL);
    fill(PAGE_DST, 0x00);
    check(copy_through_edu(IOVA_SRC, IOVA_DST) && holds(PAGE_DST, 0x44),
          "after the PASID-cache invalidation: the new tables are used");
    /* the new domain's invalidations reach the new nested HWPT */
    map_iova(1, IOVA_SRC, PAGE_A);
    piotlb_psi(DID2, IOVA_SRC, 0);
    check(iq_submit(), "PASID-based IOTLB invalidation in domain %d + wait "
          "completed", DID2);
    fill(PAGE_DST, 0x00);
    check(copy_through_edu(IOVA_SRC, IOVA_DST) && holds(PAGE_DST, 0x11),
          "after it: the new mapping in the new tables is used");

    /* not present: DMA must not reach guest memory */
    n_blocked = trace_count("vtd_accel_attach ", "attach blocked", NULL);
    write_pasid_entry(0, DID2, fs_pml4(1));
    pc_inv(DID2);
    iq_put(INV_PIOTLB_PASID | (uint64_t)DID2 << 16, 0);
    check(iq_submit(), "not-present PASID entry: PASID-cache and IOTLB "
          "invalidation + wait completed");
    n_blocked_after = trace_count("vtd_accel_attach ", "attach blocked",
                                  NULL);
    fill(PAGE_DST, 0x33);
    fill(PAGE_ID, 0x33);
    edu_dma(EDU_BUF, IOVA_DST, true);
    edu_dma(EDU_BUF, IOVA_ID, true);
    check(holds(PAGE_DST, 0x33) && holds(PAGE_ID, 0x33), "not-present PASID "
          "entry: the DMA writes to IOVA 0x%llx and 0x%llx were blocked",
          IOVA_DST, IOVA_ID);

    /* pass-through: DMA to L2 guest physical addresses (stage 2 only) */
    write_pasid_entry(PE_P | PE_AW_48 | PE_PASSTHROUGH, DID2, 0);
    pc_inv(DID2);
    check(iq_submit(), "pass-through PASID entry: PASID-cache "
          "invalidation + wait completed");
    fill(PAGE_DST, 0x00);
    check(copy_through_edu(PAGE_A, PAGE_DST), "edu DMA to guest physical "
          "addresses finished");
    check(holds(PAGE_DST, 0x11), "pass-through: page A copied to 0x%llx by "
          "guest physical address", PAGE_DST);

    /* first stage again, so that the unplug finds the device nested */
    write_pasid_entry(PE_P | PE_AW_48 | PE_FIRST_STAGE, DID2, fs_pml4(1));
    pc_inv(DID2);
    iq_put(INV_PIOTLB_PASID | (uint64_t)DID2 << 16, 0);
    if (emulated) {
        /*
         * QEMU takes an emulated device out of pass-through only on a
         * context-cache invalidation (vtd_switch_address_space()); Linux
         * sends none for a PASID entry change, a host device needs none.
         */
        iq_put(INV_CC_GLOBAL, 0);
    }
    check(iq_submit(), "first-stage PASID entry again: PASID-cache and "
          "IOTLB invalidation + wait completed");
    fill(PAGE_DST, 0x00);
    check(copy_through_edu(IOVA_SRC, IOVA_DST) && holds(PAGE_DST, 0x11),
          "nested again after pass-through: the first-stage table is used");

    /*
     * Native PCIe hot-unplug: intel-iommu gives the device back to VFIO's
     * nesting parent and frees its nested HWPT, VFIO frees the parent and
     * the IOAS; the L1 kernel refuses to destroy an object still in use.
     */
    unplug(RP_DEVFN, DEV_ID);
    check(readl(VTD_BASE + VTD_VER) == ver, "L2 QEMU runs on after the "
          "unplug");
    left = emulated ? 0 : objects_left();
    status = stop_qemu_wait();
    check(WIFEXITED(status) || (WIFSIGNALED(status) &&
          WTERMSIG(status) == SIGTERM),
          "L2 QEMU stopped on SIGTERM (status 0x%x)", status);
    if (emulated) {
        return driver_finish();
    }

    trace_print(report_events);
    check(trace_count("iommufd_backend_alloc_hwpt ", "flags=0x1 ", "(0)") == 1,
          "the L1 kernel allocated one nesting-parent HWPT");
    check(n_s1_bound > n_s1 && n_s1_rebound > n_s1_bound,
          "a nested HWPT was allocated for the first-stage PASID entry, "
          "another for the changed one (and one after pass-through)");
    check(trace_count("iommufd_backend_alloc_hwpt ", "hwpt_type=1 ", "(0)")
          >= 3 && trace_count("iommufd_backend_alloc_", "(-", NULL) == 0,
          "every allocation succeeded in the L1 kernel (%d nested HWPTs of "
          "type IOMMU_HWPT_DATA_VTD_S1)",
          trace_count("iommufd_backend_alloc_hwpt ", "hwpt_type=1 ", "(0)"));
    check(n_inv_after > n_inv &&
          trace_count("iommufd_backend_invalidate_cache ", "(0)", NULL) >= 4 &&
          trace_count("iommufd_backend_invalidate_cache ", "(-", NULL) == 0,
          "the PASID-based IOTLB invalidations were forwarded to the L1 "
          "kernel and accepted (%d calls)",
          trace_count("iommufd_backend_invalidate_cache ", "(0)", NULL));
    check(n_blocked_after > n_blocked, "the not-present PASID entry "
          "detached the device in the L1 kernel (DMA blocked)");
    check(left == 0, "at unplug the L1 kernel destroyed every IOAS and HWPT "
          "L2 QEMU had it create (%d objects), refusing none",
          trace_count("iommufd_backend_free_id ", "(0)", NULL));
    return driver_finish();
}
