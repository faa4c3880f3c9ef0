/*
 * iommufd-sim: stage-1 translation and IOTLB interface.
 *
 * The core (iommufd objects, VFIO device, DMA engine) owns stage 2 (the
 * IOAS) and calls into the walkers below for stage 1.  The walkers never
 * touch host memory directly: every stage-1 table read goes through the
 * SimS2 callback, so stage 2 is always live and never cached.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SIM_XLATE_H
#define SIM_XLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fault codes (reported in the DMA device's FAULT_CODE register). */
enum sim_fault_code {
    SIM_FAULT_NONE = 0,
    SIM_FAULT_S2_UNMAPPED,      /* IPA not mapped in the IOAS */
    SIM_FAULT_S2_PERM,          /* IOAS area lacks the needed permission */
    SIM_FAULT_S1_NOT_PRESENT,   /* stage-1 entry not present / invalid */
    SIM_FAULT_S1_PERM,          /* stage-1 write/privilege violation */
    SIM_FAULT_S1_RESERVED,      /* reserved bits set / bad entry format */
    SIM_FAULT_S1_ADDR_SIZE,     /* input or output address out of range */
    SIM_FAULT_S1_ACCESS_FLAG,   /* SMMUv3: AF == 0 */
    SIM_FAULT_BAD_STE,          /* SMMUv3: STE invalid or unsupported */
    SIM_FAULT_BAD_CD,           /* SMMUv3: CD invalid / SSID out of range */
    SIM_FAULT_ABORT,            /* SMMUv3 abort STE, or blocked domain */
    SIM_FAULT_BLOCKED,          /* no domain attached / bus master off */
};

typedef struct SimFault {
    enum sim_fault_code code;
    int stage;                  /* 1 or 2 (0 when not a walk fault) */
    int level;                  /* table level of the faulting entry */
    bool write;
    uint64_t addr;              /* faulting IOVA (stage 1) or IPA (stage 2) */
    /*
     * SMMUv3 only: the event type the SMMU records when the code alone
     * does not say it (SMMU_EVT_*: C_BAD_SUBSTREAMID for BAD_CD,
     * F_STREAM_DISABLED for ABORT), else 0.
     */
    uint8_t smmu_evt;
    /* SMMUv3 stage-2 faults: what was being fetched (SMMU_CLASS_*). */
    uint8_t smmu_class;
} SimFault;

#define SMMU_CLASS_CD 0     /* a CD or L1CD fetch */
#define SMMU_CLASS_TT 1     /* a stage-1 table walk */
#define SMMU_CLASS_IN 2     /* the input address (the transaction) */

/*
 * Stage 2 as seen by the walkers: the core resolves an IPA through the
 * nesting-parent HWPT's IOAS.  On success *hva points at host memory valid
 * for *contig bytes (>= 1) from @ipa.  Returns SIM_FAULT_NONE or
 * SIM_FAULT_S2_UNMAPPED / SIM_FAULT_S2_PERM.
 */
typedef struct SimS2 {
    void *opaque;
    enum sim_fault_code (*lookup)(void *opaque, uint64_t ipa, bool write,
                                  void **hva, uint64_t *contig);
} SimS2;

/* Result of a stage-1 translation: IPA of @iova and the page it lies in. */
typedef struct SimXlate {
    uint64_t ipa;               /* output address for @iova (not page base) */
    uint64_t page_size;         /* size of the leaf mapping */
    bool writable;              /* stage-1 permission */
    bool hit;                   /* served from the IOTLB */
    bool stale;                 /* hit, but a re-walk disagrees (shadow check) */
} SimXlate;

/* Counters shared by both IOTLB flavours. */
/*
 * hits/misses: leaf (IOTLB/TLB) lookups; walk_hits: walks that started
 * from a cached table entry; flushed: leaf (and SMMUv3 CD) entries
 * dropped; walk_flushed: walk-cache entries dropped.
 */
typedef struct SimIotlbStats {
    uint64_t hits, misses, stale_hits, inv_entries, flushed;
    uint64_t walk_hits, walk_flushed;
} SimIotlbStats;

/* ---- Intel VT-d first stage (IOMMU_HWPT_DATA_VTD_S1) ---- */

typedef struct SimVtdS1 SimVtdS1;   /* one per nested HWPT: config + IOTLB */

/*
 * @flags, @pgtbl_addr, @addr_width as in struct iommu_hwpt_vtd_s1 (already
 * validated by the core).  @cap/@ecap are the physical IOMMU's registers;
 * the walker honours FS1GP (1G pages) from @cap.
 */
SimVtdS1 *sim_vtd_s1_new(uint64_t flags, uint64_t pgtbl_addr,
                         uint32_t addr_width, uint64_t cap, uint64_t ecap);
void sim_vtd_s1_free(SimVtdS1 *s1);
/* Translate; returns true on success, else fills @fault. */
bool sim_vtd_s1_translate(SimVtdS1 *s1, const SimS2 *s2, uint32_t pasid,
                          uint64_t iova, bool write, SimXlate *out,
                          SimFault *fault);
/*
 * One struct iommu_hwpt_vtd_s1_invalidate entry: @addr 4K aligned, @npages
 * pages; addr 0 with npages U64_MAX drops everything.  @leaf
 * (IOMMU_VTD_INV_FLAGS_LEAF, the descriptor's IH): only leaf entries
 * changed, so the paging-structure (walk) cache is kept, unless the
 * kernel turns the range into a flush of everything.  All PASIDs cached
 * under this HWPT are affected.
 */
void sim_vtd_s1_invalidate(SimVtdS1 *s1, uint64_t addr, uint64_t npages,
                           bool leaf);
const SimIotlbStats *sim_vtd_s1_stats(const SimVtdS1 *s1);

/* ---- ARM SMMUv3 (vSTE in a nested HWPT on a vIOMMU) ---- */

typedef struct SimSmmuCache SimSmmuCache; /* one per vIOMMU: TLB + CD cache */

/* @idr: the physical SMMU's IDR0..5 (granules, OAS, SSID size, ...). */
SimSmmuCache *sim_smmu_cache_new(const uint32_t idr[6]);
void sim_smmu_cache_free(SimSmmuCache *c);

/*
 * Translate @iova for the device whose vDEVICE virt_id is @vsid, with the
 * guest STE words @ste (little-endian as passed to HWPT_ALLOC, already
 * masked/validated by the core).  @ssv/@ssid select a substream.
 * Config abort -> SIM_FAULT_ABORT; bypass -> ipa = iova.
 */
bool sim_smmu_translate(SimSmmuCache *c, const uint64_t ste[2], uint32_t vsid,
                        const SimS2 *s2, bool ssv, uint32_t ssid,
                        uint64_t iova, bool write, SimXlate *out,
                        SimFault *fault);
/*
 * Apply one guest command (two little-endian 64-bit words, as in struct
 * iommu_viommu_arm_smmuv3_invalidate).  Returns 0 when the command is one
 * a vIOMMU accepts (TLBI_NH_VA/VAA/ASID/ALL, TLBI_NSNH_ALL, CFGI_CD,
 * CFGI_CD_ALL, ATC_INV) and applies it; -EIO for anything else.
 * CFGI_CD and ATC_INV carry a vSID; the core checks it names a vDEVICE
 * before calling this.
 */
int sim_smmu_invalidate(SimSmmuCache *c, const uint64_t cmd[2]);

/* SMMUv3 command opcodes (word0 bits 7:0) a vIOMMU accepts. */
#define CMD_CFGI_CD         0x05
#define CMD_CFGI_CD_ALL     0x06
#define CMD_TLBI_NH_ALL     0x10
#define CMD_TLBI_NH_ASID    0x11
#define CMD_TLBI_NH_VA      0x12
#define CMD_TLBI_NH_VAA     0x13
#define CMD_TLBI_NSNH_ALL   0x30
#define CMD_ATC_INV         0x40
const SimIotlbStats *sim_smmu_stats(const SimSmmuCache *c);

/* Drop every cached entry that was filled for @vsid (vDEVICE destroyed). */
void sim_smmu_forget_sid(SimSmmuCache *c, uint32_t vsid);

/* SMMUv3 event record types (word 0 bits 7:0, "7.3 Event records"). */
#define SMMU_EVT_C_BAD_STE          0x04
#define SMMU_EVT_F_STREAM_DISABLED  0x06
#define SMMU_EVT_C_BAD_SUBSTREAMID  0x08
#define SMMU_EVT_C_BAD_CD           0x0a
#define SMMU_EVT_F_TRANSLATION      0x10
#define SMMU_EVT_F_ADDR_SIZE        0x11
#define SMMU_EVT_F_ACCESS           0x12
#define SMMU_EVT_F_PERMISSION       0x13

/* Event record fields (64-bit words, host order). */
#define SMMU_EVT0_SSV       (1ULL << 11)
#define SMMU_EVT0_SSID_SHIFT 12         /* 31:12 */
#define SMMU_EVT0_SID_SHIFT 32          /* 63:32 */
#define SMMU_EVT1_STALL     (1ULL << 31)
#define SMMU_EVT1_PNU       (1ULL << 33)
#define SMMU_EVT1_IND       (1ULL << 34)
#define SMMU_EVT1_RNW       (1ULL << 35)
#define SMMU_EVT1_S2        (1ULL << 39)
#define SMMU_EVT1_CLASS_SHIFT 40        /* 41:40: CD 0, TT 1, IN 2 */
#define SMMU_EVT1_TTRNW     (1ULL << 44)
#define SMMU_EVT3_IPA_MASK  0x000ffffffffff000ULL   /* 51:12 */

/*
 * The event record (4 words, host order) an SMMUv3 writes for a faulting
 * transaction of StreamID @sid: @f as the walker (or the final stage-2
 * lookup) reported it, @iova the transaction's input address.  Returns
 * false for faults that record no event (STE abort, V == 0).
 */
bool sim_smmu_event_record(const SimFault *f, uint32_t sid, bool ssv,
                           uint32_t ssid, uint64_t iova, uint64_t evt[4]);

#endif
