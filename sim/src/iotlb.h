/*
 * iommufd-sim: internal helpers shared by the stage-1 walkers.
 *
 * - SimIotlb: a translation cache (hash table) used both as the VT-d
 *   first-stage IOTLB (tag = PASID) and as the SMMUv3 TLB (tag = ASID,
 *   optional "global" entries that match any tag), and, with one entry per
 *   table descriptor, as the walkers' walk caches (VT-d paging-structure
 *   caches, SMMUv3 intermediate walk entries).
 * - sim_s2_read(): read guest memory (by IPA) through the live stage 2.
 * - sim_le64(): little-endian table words to host order.
 *
 * Not part of the public simulator interface (that is xlate.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SIM_IOTLB_H
#define SIM_IOTLB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xlate.h"

/* Guest tables, STEs and commands are little-endian. */
static inline uint64_t sim_le64(uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(v);
#else
    return v;
#endif
}

/* Bits hi..lo (inclusive) of @v, shifted down. */
static inline uint64_t sim_bits(uint64_t v, unsigned hi, unsigned lo)
{
    unsigned n = hi - lo + 1;

    return (v >> lo) & (n >= 64 ? ~0ULL : ((1ULL << n) - 1));
}

/* Mask with bits hi..lo (inclusive) set. */
static inline uint64_t sim_mask(unsigned hi, unsigned lo)
{
    return (hi >= 63 ? ~0ULL : ((1ULL << (hi + 1)) - 1)) & ~((1ULL << lo) - 1);
}

/*
 * Copy @len bytes of guest memory at @ipa into @buf via @s2 (read access).
 * Handles lookups that return less than @len contiguous bytes.  On a stage-2
 * fault returns the fault code and stores the IPA that failed in *@fault_ipa.
 */
enum sim_fault_code sim_s2_read(const SimS2 *s2, uint64_t ipa, void *buf,
                                size_t len, uint64_t *fault_ipa);

/*
 * One cached leaf translation, or (in a walk cache) one table entry: then
 * @va/@shift is the input range the entry maps, @pa the IPA of the next
 * table, @level the level of the entry itself, and @writable / @attrs the
 * permissions accumulated from the top down to and including this entry.
 */
typedef struct SimIotlbEntry {
    uint64_t va;            /* input base, aligned to 1 << shift */
    uint64_t pa;            /* output (IPA) base; walk cache: next table */
    uint32_t tag;           /* VT-d: PASID; SMMUv3: ASID */
    uint32_t sid;           /* SMMUv3: vSID whose walk filled it (else 0) */
    uint8_t shift;          /* log2 of the leaf size */
    uint8_t level;          /* table level of the leaf (for fault reports) */
    bool writable;          /* effective write permission */
    bool global;            /* SMMUv3 nG == 0: matches any tag */
    uint8_t attrs;          /* walk cache: walker-defined accumulated bits */
    struct SimIotlbEntry *next;     /* hash chain (private) */
} SimIotlbEntry;

typedef struct SimIotlb {
    SimIotlbEntry **buckets;
    size_t nbuckets;        /* power of two */
    size_t count;
    uint64_t shifts;        /* bit n set: some entry has shift n */
} SimIotlb;

void sim_iotlb_init(SimIotlb *t);
void sim_iotlb_destroy(SimIotlb *t);

/*
 * Find an entry covering @va whose tag is @tag, or a global entry.  When
 * several match (only possible after the guest broke its own
 * invalidation rules) the smallest page wins.
 */
const SimIotlbEntry *sim_iotlb_lookup(const SimIotlb *t, uint32_t tag,
                                      uint64_t va);

/* Same, but only entries of exactly 1 << @shift bytes. */
const SimIotlbEntry *sim_iotlb_lookup_shift(const SimIotlb *t, uint32_t tag,
                                            uint64_t va, unsigned shift);

/* Insert a copy of @e (va is aligned down); replaces an identical key. */
void sim_iotlb_insert(SimIotlb *t, const SimIotlbEntry *e);

/* Drop every entry for which @match returns true; returns the count. */
typedef bool (*SimIotlbMatch)(const SimIotlbEntry *e, void *opaque);
uint64_t sim_iotlb_drop(SimIotlb *t, SimIotlbMatch match, void *opaque);

/* Inclusive-range overlap test between entry @e and [first, last]. */
static inline bool sim_iotlb_overlaps(const SimIotlbEntry *e, uint64_t first,
                                      uint64_t last)
{
    uint64_t e_last = e->va + ((1ULL << e->shift) - 1);

    return e->va <= last && first <= e_last;
}

/* Outcome of one stage-1 walk (or of an IOTLB hit), shared by walkers. */
typedef struct SimWalk {
    bool ok;
    enum sim_fault_code code;   /* when !ok */
    int stage;
    int level;
    uint64_t fault_addr;
    uint64_t pa;                /* leaf output base */
    unsigned shift;             /* leaf size */
    bool writable;
    bool global;                /* SMMUv3: nG == 0 */
    unsigned level_ok;          /* SMMUv3: leaf level on success */
    bool wc_hit;                /* the walk started from a walk-cache entry */
    uint8_t smmu_evt;           /* SimFault.smmu_evt */
    uint8_t smmu_class;         /* SimFault.smmu_class */
} SimWalk;

void sim_walk_fail(SimWalk *r, enum sim_fault_code code, int stage,
                   int level, uint64_t addr);
/* Do two walks agree (the shadow check of an IOTLB hit)? */
bool sim_walk_same(const SimWalk *a, const SimWalk *b);
/* Turn a walk into the caller's result or fault; returns r->ok. */
bool sim_walk_finish(const SimWalk *r, uint64_t iova, bool write,
                     SimXlate *out, SimFault *fault);

#endif
