/*
 * iommufd-sim: leaf-translation cache and stage-2 read helper shared by
 * the VT-d and SMMUv3 stage-1 walkers.
 *
 * The cache is a chained hash table keyed by (page base, page size).  The
 * tag (PASID / ASID) is compared in the chain, so a global SMMUv3 entry
 * and tagged ones for the same page land in the same bucket.  Lookups try
 * every page size currently present (a handful at most).
 *
 * The table grows without bound apart from a safety limit: when it holds
 * SIM_IOTLB_MAX entries it is emptied before the next insert (a cache may
 * always forget; it must never remember what was invalidated).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "iotlb.h"

#define SIM_IOTLB_INIT_BUCKETS 256
#define SIM_IOTLB_MAX (1u << 20)

enum sim_fault_code sim_s2_read(const SimS2 *s2, uint64_t ipa, void *buf,
                                size_t len, uint64_t *fault_ipa)
{
    uint8_t *dst = buf;

    while (len) {
        void *hva = NULL;
        uint64_t contig = 0;
        enum sim_fault_code f;
        size_t n;

        f = s2->lookup(s2->opaque, ipa, false, &hva, &contig);
        if (f == SIM_FAULT_NONE && (!hva || contig == 0)) {
            f = SIM_FAULT_S2_UNMAPPED;  /* defensive: broken callback */
        }
        if (f != SIM_FAULT_NONE) {
            *fault_ipa = ipa;
            return f;
        }
        n = contig < len ? (size_t)contig : len;
        memcpy(dst, hva, n);
        dst += n;
        ipa += n;
        len -= n;
    }
    return SIM_FAULT_NONE;
}

static size_t sim_iotlb_hash(const SimIotlb *t, uint64_t base, unsigned shift)
{
    uint64_t h = (base >> shift) * 0x9e3779b97f4a7c15ULL;

    h ^= (uint64_t)shift * 0xc2b2ae3d27d4eb4fULL;
    h ^= h >> 29;
    return (size_t)h & (t->nbuckets - 1);
}

void sim_iotlb_init(SimIotlb *t)
{
    memset(t, 0, sizeof(*t));
    t->nbuckets = SIM_IOTLB_INIT_BUCKETS;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    if (!t->buckets) {
        abort();
    }
}

static void sim_iotlb_clear(SimIotlb *t)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        SimIotlbEntry *e = t->buckets[i];

        while (e) {
            SimIotlbEntry *next = e->next;

            free(e);
            e = next;
        }
        t->buckets[i] = NULL;
    }
    t->count = 0;
    t->shifts = 0;
}

void sim_iotlb_destroy(SimIotlb *t)
{
    if (!t->buckets) {
        return;
    }
    sim_iotlb_clear(t);
    free(t->buckets);
    t->buckets = NULL;
    t->nbuckets = 0;
}

const SimIotlbEntry *sim_iotlb_lookup_shift(const SimIotlb *t, uint32_t tag,
                                            uint64_t va, unsigned shift)
{
    uint64_t base;

    if (shift >= 64 || !(t->shifts & (1ULL << shift))) {
        return NULL;
    }
    base = va & ~((1ULL << shift) - 1);
    for (const SimIotlbEntry *e = t->buckets[sim_iotlb_hash(t, base, shift)];
         e; e = e->next) {
        if (e->shift == shift && e->va == base &&
            (e->global || e->tag == tag)) {
            return e;
        }
    }
    return NULL;
}

const SimIotlbEntry *sim_iotlb_lookup(const SimIotlb *t, uint32_t tag,
                                      uint64_t va)
{
    for (unsigned shift = 0; shift < 64; shift++) {
        const SimIotlbEntry *e = sim_iotlb_lookup_shift(t, tag, va, shift);

        if (e) {
            return e;
        }
    }
    return NULL;
}

static void sim_iotlb_grow(SimIotlb *t)
{
    SimIotlb n = *t;

    n.nbuckets = t->nbuckets * 2;
    n.buckets = calloc(n.nbuckets, sizeof(*n.buckets));
    if (!n.buckets) {
        abort();
    }
    for (size_t i = 0; i < t->nbuckets; i++) {
        SimIotlbEntry *e = t->buckets[i];

        while (e) {
            SimIotlbEntry *next = e->next;
            size_t h = sim_iotlb_hash(&n, e->va, e->shift);

            e->next = n.buckets[h];
            n.buckets[h] = e;
            e = next;
        }
    }
    free(t->buckets);
    *t = n;
}

void sim_iotlb_insert(SimIotlb *t, const SimIotlbEntry *src)
{
    uint64_t base = src->va & ~((1ULL << src->shift) - 1);
    SimIotlbEntry *e;
    size_t h;

    /* Replace an entry with the same key (same page, same tag class). */
    h = sim_iotlb_hash(t, base, src->shift);
    for (e = t->buckets[h]; e; e = e->next) {
        if (e->shift == src->shift && e->va == base &&
            e->global == src->global && (e->global || e->tag == src->tag)) {
            SimIotlbEntry *next = e->next;

            *e = *src;
            e->va = base;
            e->next = next;
            return;
        }
    }

    if (t->count >= SIM_IOTLB_MAX) {
        sim_iotlb_clear(t);
    }
    if (t->count >= t->nbuckets) {
        sim_iotlb_grow(t);
    }
    e = malloc(sizeof(*e));
    if (!e) {
        abort();
    }
    *e = *src;
    e->va = base;
    h = sim_iotlb_hash(t, base, e->shift);
    e->next = t->buckets[h];
    t->buckets[h] = e;
    t->count++;
    t->shifts |= 1ULL << e->shift;
}

uint64_t sim_iotlb_drop(SimIotlb *t, SimIotlbMatch match, void *opaque)
{
    uint64_t dropped = 0;
    uint64_t shifts = 0;

    for (size_t i = 0; i < t->nbuckets; i++) {
        SimIotlbEntry **pp = &t->buckets[i];

        while (*pp) {
            SimIotlbEntry *e = *pp;

            if (match(e, opaque)) {
                *pp = e->next;
                free(e);
                dropped++;
            } else {
                shifts |= 1ULL << e->shift;
                pp = &e->next;
            }
        }
    }
    t->count -= dropped;
    t->shifts = shifts;
    return dropped;
}

void sim_walk_fail(SimWalk *r, enum sim_fault_code code, int stage,
                   int level, uint64_t addr)
{
    r->ok = false;
    r->code = code;
    r->stage = stage;
    r->level = level;
    r->fault_addr = addr;
    r->smmu_evt = 0;
    r->smmu_class = 0;
}

bool sim_walk_finish(const SimWalk *r, uint64_t iova, bool write,
                     SimXlate *out, SimFault *fault)
{
    if (!r->ok) {
        if (fault) {
            fault->code = r->code;
            fault->stage = r->stage;
            fault->level = r->level;
            fault->write = write;
            fault->addr = r->fault_addr;
            fault->smmu_evt = r->smmu_evt;
            fault->smmu_class = r->smmu_class;
        }
        return false;
    }
    out->page_size = 1ULL << r->shift;
    out->ipa = r->pa | (iova & (out->page_size - 1));
    out->writable = r->writable;
    return true;
}

bool sim_walk_same(const SimWalk *a, const SimWalk *b)
{
    if (a->ok != b->ok) {
        return false;
    }
    if (!a->ok) {
        return a->code == b->code && a->stage == b->stage &&
               a->level == b->level;
    }
    return a->pa == b->pa && a->shift == b->shift &&
           a->writable == b->writable;
}
