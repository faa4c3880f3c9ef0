/*
 * iommufd-sim xlate tests: a fake stage 2 and a tiny TAP harness.
 *
 * FakeS2 backs the IPA range [base, base + size) with a host buffer (an
 * offset mapping: IPA base != 0).  Each 4K page can be made unmapped or
 * read-only.  Lookups return at most the rest of the current page, so the
 * walkers' multi-lookup reads are exercised too.  A bump allocator hands
 * out zeroed, aligned guest pages for tables and CDs.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef XLATE_FAKE_S2_H
#define XLATE_FAKE_S2_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlate.h"
#include "tap.h"

#define FS2_UNMAPPED 1u
#define FS2_RO       2u

typedef struct FakeS2 {
    uint8_t *mem;
    uint8_t *pflags;        /* one byte per 4K page */
    uint64_t base, size;
    uint64_t next;          /* bump allocator, IPA */
    uint64_t lookups;
    SimS2 s2;
} FakeS2;

static enum sim_fault_code fs2_lookup(void *opaque, uint64_t ipa, bool write,
                                      void **hva, uint64_t *contig)
{
    FakeS2 *f = opaque;
    uint64_t off, pg;

    f->lookups++;
    if (ipa < f->base || ipa - f->base >= f->size) {
        return SIM_FAULT_S2_UNMAPPED;
    }
    off = ipa - f->base;
    pg = off >> 12;
    if (f->pflags[pg] & FS2_UNMAPPED) {
        return SIM_FAULT_S2_UNMAPPED;
    }
    if (write && (f->pflags[pg] & FS2_RO)) {
        return SIM_FAULT_S2_PERM;
    }
    *hva = f->mem + off;
    *contig = 4096 - (off & 4095);
    return SIM_FAULT_NONE;
}

static inline void fs2_init(FakeS2 *f, uint64_t base, uint64_t size)
{
    memset(f, 0, sizeof(*f));
    f->base = base;
    f->size = size;
    f->mem = calloc(1, size);
    f->pflags = calloc(1, size >> 12);
    if (!f->mem || !f->pflags) {
        abort();
    }
    f->next = base;
    f->s2.opaque = f;
    f->s2.lookup = fs2_lookup;
}

static inline void fs2_destroy(FakeS2 *f)
{
    free(f->mem);
    free(f->pflags);
    memset(f, 0, sizeof(*f));
}

/* Allocate @size zeroed bytes of guest memory aligned to @align. */
static inline uint64_t fs2_alloc(FakeS2 *f, uint64_t size, uint64_t align)
{
    uint64_t ipa = (f->next + align - 1) & ~(align - 1);

    if (ipa + size > f->base + f->size) {
        fprintf(stderr, "fake s2: out of memory\n");
        abort();
    }
    f->next = ipa + size;
    memset(f->mem + (ipa - f->base), 0, size);
    return ipa;
}

static inline uint8_t *fs2_ptr(FakeS2 *f, uint64_t ipa)
{
    if (ipa < f->base || ipa - f->base >= f->size) {
        abort();
    }
    return f->mem + (ipa - f->base);
}

/* Little-endian 64-bit guest memory accessors. */
static inline void fs2_w64(FakeS2 *f, uint64_t ipa, uint64_t v)
{
    uint8_t *p = fs2_ptr(f, ipa);

    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline uint64_t fs2_r64(FakeS2 *f, uint64_t ipa)
{
    uint8_t *p = fs2_ptr(f, ipa);
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static inline void fs2_set_flags(FakeS2 *f, uint64_t ipa, uint64_t len,
                                 unsigned flags)
{
    for (uint64_t a = ipa & ~4095ULL; a < ipa + len; a += 4096) {
        f->pflags[(a - f->base) >> 12] = (uint8_t)flags;
    }
}

/* Host-order value to the little-endian representation used in memory. */
static inline uint64_t to_le64(uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(v);
#else
    return v;
#endif
}

#endif
