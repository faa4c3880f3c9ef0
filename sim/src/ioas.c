/*
 * iommufd-sim: IO address spaces (stage 2 as seen by userspace).
 *
 * Areas are kept in a sorted array.  The simulator uses a fixed IOVA
 * alignment of 4 KiB (what any domain on x86/arm64 hosts reports).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define ALIGN_MASK (SIM_PAGE_SIZE - 1)

static bool ranges_overlap(uint64_t s1, uint64_t l1, uint64_t s2, uint64_t l2)
{
    return s1 <= l2 && s2 <= l1;
}

const SimArea *sim_ioas_find(const SimIoas *ioas, uint64_t iova)
{
    size_t lo = 0, hi = ioas->nareas;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const SimArea *a = &ioas->areas[mid];

        if (iova < a->iova) {
            hi = mid;
        } else if (iova > a->last) {
            lo = mid + 1;
        } else {
            return a;
        }
    }
    return NULL;
}

bool sim_ioas_overlaps(const SimIoas *ioas, uint64_t start, uint64_t last)
{
    for (size_t i = 0; i < ioas->nareas; i++) {
        if (ranges_overlap(start, last, ioas->areas[i].iova,
                           ioas->areas[i].last)) {
            return true;
        }
    }
    return false;
}

/* drivers/iommu/iommufd/io_pagetable.c:iopt_reserve_iova */
int sim_ioas_can_reserve(const SimIoas *ioas, uint64_t start, uint64_t last)
{
    if (sim_ioas_overlaps(ioas, start, last)) {
        return -EADDRINUSE;
    }
    for (size_t i = 0; i < ioas->nallowed; i++) {
        if (ranges_overlap(start, last, ioas->allowed[i].start,
                           ioas->allowed[i].last)) {
            return -EADDRINUSE;
        }
    }
    return 0;
}

bool sim_ioas_has_readonly(const SimIoas *ioas)
{
    for (size_t i = 0; i < ioas->nareas; i++) {
        if (!ioas->areas[i].write) {
            return true;
        }
    }
    return false;
}

static int area_insert(SimIoas *ioas, const SimArea *a)
{
    size_t pos = 0;

    if (ioas->nareas == ioas->cap) {
        size_t n = ioas->cap ? ioas->cap * 2 : 16;
        SimArea *na = realloc(ioas->areas, n * sizeof(*na));

        if (!na) {
            return -ENOMEM;
        }
        ioas->areas = na;
        ioas->cap = n;
    }
    while (pos < ioas->nareas && ioas->areas[pos].iova < a->iova) {
        pos++;
    }
    memmove(&ioas->areas[pos + 1], &ioas->areas[pos],
            (ioas->nareas - pos) * sizeof(*a));
    ioas->areas[pos] = *a;
    ioas->nareas++;
    return 0;
}

static void area_remove(SimIoas *ioas, size_t idx)
{
    memmove(&ioas->areas[idx], &ioas->areas[idx + 1],
            (ioas->nareas - idx - 1) * sizeof(SimArea));
    ioas->nareas--;
}

void sim_ioas_destroy(SimIoas *ioas)
{
    free(ioas->areas);
    free(ioas->allowed);
    memset(ioas, 0, sizeof(*ioas));
}

/* Collect the reserved ranges: domain apertures and device regions. */
size_t sim_ioas_reserved(SimCtx *ctx, uint32_t ioas_id, SimRange *out,
                         size_t max)
{
    size_t n = 0;

    for (uint32_t i = 1; i < ctx->nobjs; i++) {
        SimObj *o = ctx->objs[i];

        if (!o) {
            continue;
        }
        if (o->kind == OBJ_HWPT_PAGING && o->hwpt.ioas_id == ioas_id &&
            o->hwpt.aperture_last != UINT64_MAX && n < max) {
            out[n++] = (SimRange){ o->hwpt.aperture_last + 1, UINT64_MAX };
        }
        if (o->kind == OBJ_DEVICE && o->dev->attached &&
            !o->dev->resv_dropped) {
            SimObj *p = sim_hwpt_paging_of(ctx,
                                           sim_obj_get(ctx, o->dev->attached,
                                                       0));

            if (p && p->hwpt.ioas_id == ioas_id) {
                for (unsigned r = 0; r < o->dev->cfg.nresv && n < max; r++) {
                    out[n++] = o->dev->cfg.resv[r];
                }
            }
        }
    }
    return n;
}

static int cmp_range(const void *a, const void *b)
{
    const SimRange *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

#define MAX_BLOCKED 256

/* Sorted, merged list of reserved ranges of an IOAS. */
static size_t reserved_sorted(SimCtx *ctx, uint32_t ioas_id, SimRange *r)
{
    size_t n = sim_ioas_reserved(ctx, ioas_id, r, MAX_BLOCKED), m = 0;

    qsort(r, n, sizeof(*r), cmp_range);
    for (size_t i = 0; i < n; i++) {
        SimRange *prev = m ? &r[m - 1] : NULL;

        if (prev && (prev->last == UINT64_MAX ||
                     r[i].start <= prev->last + 1)) {
            if (r[i].last > prev->last) {
                prev->last = r[i].last;
            }
            continue;
        }
        r[m++] = r[i];
    }
    return m;
}

static bool is_reserved(SimCtx *ctx, uint32_t ioas_id, uint64_t s, uint64_t l)
{
    SimRange r[MAX_BLOCKED];
    size_t n = sim_ioas_reserved(ctx, ioas_id, r, MAX_BLOCKED);

    for (size_t i = 0; i < n; i++) {
        if (ranges_overlap(s, l, r[i].start, r[i].last)) {
            return true;
        }
    }
    return false;
}

static bool align_up(uint64_t v, uint64_t align, uint64_t *out)
{
    uint64_t r = (v + align - 1) & ~(align - 1);

    *out = r;
    return r >= v;
}

/*
 * Lowest @align-aligned hole of @len bytes inside [lo, hi] that avoids the
 * ranges @b (sorted by start, possibly overlapping).
 */
static bool find_hole(const SimRange *b, size_t nb, uint64_t lo, uint64_t hi,
                      uint64_t len, uint64_t align, uint64_t *out)
{
    uint64_t cand;

    if (!align_up(lo, align, &cand)) {
        return false;
    }
    for (size_t i = 0; i < nb; i++) {
        if (b[i].last < cand) {
            continue;
        }
        if (UINT64_MAX - cand >= len - 1 && cand + len - 1 < b[i].start) {
            break;              /* later ranges start even higher */
        }
        if (b[i].last == UINT64_MAX || !align_up(b[i].last + 1, align, &cand)) {
            return false;
        }
    }
    if (cand > hi || hi - cand < len - 1) {
        return false;
    }
    *out = cand;
    return true;
}

/*
 * HPAGE_SIZE of an x86-64 or 4K-page arm64 host with transparent huge
 * pages: the largest alignment iopt_alloc_iova gives an IOVA.
 */
#define SIM_HPAGE_SIZE (2ull << 20)

/*
 * drivers/iommu/iommufd/io_pagetable.c:iopt_alloc_iova (IOPT_ALLOC_IOVA):
 * the lowest free IOVA inside the IOAS_ALLOW_IOVAS ranges if set, aligned
 * to the size, limited by the user VA's alignment and HPAGE_SIZE.
 */
static int alloc_iova(SimCtx *ctx, uint32_t ioas_id, SimIoas *ioas,
                      uint64_t len, uint64_t uptr, uint64_t *iova)
{
    SimRange b[MAX_BLOCKED + 64];
    size_t nb = reserved_sorted(ctx, ioas_id, b);
    uint64_t align = SIM_PAGE_SIZE;

    if (len >= UINT64_MAX / 2) {
        return -EOVERFLOW;      /* protects roundup_pow_of_two() */
    }
    while (align < len && align < SIM_HPAGE_SIZE && !(uptr & align)) {
        align <<= 1;
    }
    for (size_t i = 0; i < ioas->nareas && nb < MAX_BLOCKED + 64; i++) {
        b[nb++] = (SimRange){ ioas->areas[i].iova, ioas->areas[i].last };
    }
    qsort(b, nb, sizeof(*b), cmp_range);
    if (!ioas->nallowed) {
        /* like iopt_alloc_iova(): never page 0 nor the last page */
        return find_hole(b, nb, SIM_PAGE_SIZE, UINT64_MAX - SIM_PAGE_SIZE,
                         len, align, iova) ?
               0 : -ENOSPC;
    }
    for (size_t i = 0; i < ioas->nallowed; i++) {
        if (find_hole(b, nb, ioas->allowed[i].start, ioas->allowed[i].last,
                      len, align, iova)) {
            return 0;
        }
    }
    return -ENOSPC;
}

/*
 * Does the VT-d errata forbid read-only maps in this IOAS?  Any domain of
 * the IOAS refusing the map fails it (iommufd/pages.c:iopt_area_fill_domains).
 */
static bool ioas_forbids_ro(SimCtx *ctx, uint32_t ioas_id)
{
    for (uint32_t i = 1; i < ctx->nobjs; i++) {
        SimObj *o = ctx->objs[i];

        if (o && o->kind == OBJ_HWPT_PAGING && o->hwpt.ioas_id == ioas_id &&
            o->hwpt.ro_forbidden) {
            return true;
        }
    }
    return false;
}

/*
 * Common tail of MAP and COPY: place [*iova, +len) in the IOAS, as
 * drivers/iommu/iommufd/io_pagetable.c:iopt_alloc_area_pages (length),
 * then iopt_alloc_iova or iopt_check_iova (FIXED_IOVA).
 */
static int place_iova(SimCtx *ctx, uint32_t ioas_id, SimIoas *ioas,
                      bool fixed, uint64_t len, uint64_t uptr, uint64_t *iova)
{
    uint64_t last;

    if (!len || (len & ALIGN_MASK)) {
        return -EINVAL;
    }
    if (!fixed) {
        return alloc_iova(ctx, ioas_id, ioas, len, uptr, iova);
    }
    if (*iova & ALIGN_MASK) {
        return -EINVAL;
    }
    if (__builtin_add_overflow(*iova, len - 1, &last)) {
        return -EOVERFLOW;
    }
    if (is_reserved(ctx, ioas_id, *iova, last)) {
        return -EINVAL;
    }
    if (sim_ioas_overlaps(ioas, *iova, last)) {
        return -EEXIST;
    }
    return 0;
}

/* drivers/iommu/iommufd/ioas.c:iommufd_ioas_alloc_ioctl */
long sim_ioas_alloc(SimCtx *ctx, void *arg)
{
    struct iommu_ioas_alloc *cmd = arg;
    SimObj *obj;

    if (cmd->flags) {
        return -EOPNOTSUPP;
    }
    obj = sim_obj_alloc(ctx, OBJ_IOAS);
    if (!obj) {
        return -ENOMEM;
    }
    cmd->out_ioas_id = obj->id;
    return 0;
}

#define MAP_FLAGS (IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | \
                   IOMMU_IOAS_MAP_READABLE)

/*
 * drivers/iommu/iommufd/ioas.c:iommufd_ioas_map, then
 * drivers/iommu/iommufd/io_pagetable.c:iopt_map_user_pages:
 * drivers/iommu/iommufd/pages.c:iopt_alloc_user_pages (user_va + length
 * overflow, zero length), iopt_alloc_area_pages (length, IOVA),
 * iopt_insert_area (user_va alignment), then filling the domains.
 */
long sim_ioas_map(SimCtx *ctx, void *arg)
{
    struct iommu_ioas_map *cmd = arg;
    bool w = cmd->flags & IOMMU_IOAS_MAP_WRITEABLE;
    SimObj *obj;
    SimArea a;
    uint64_t iova = cmd->iova;
    int ret;

    if ((cmd->flags & ~MAP_FLAGS) || cmd->__reserved) {
        return -EOPNOTSUPP;
    }
    if (cmd->iova >= UINT64_MAX || cmd->length >= UINT64_MAX) {
        return -EOVERFLOW;
    }
    if (!(cmd->flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE))) {
        return -EINVAL;
    }
    obj = sim_obj_get(ctx, cmd->ioas_id, OBJ_IOAS);
    if (!obj) {
        return -ENOENT;
    }
    if (cmd->user_va + cmd->length < cmd->user_va) {
        return -EOVERFLOW;
    }
    if (!cmd->length) {
        return -EINVAL;
    }
    ret = place_iova(ctx, obj->id, &obj->ioas,
                     cmd->flags & IOMMU_IOAS_MAP_FIXED_IOVA, cmd->length,
                     cmd->user_va, &iova);
    if (ret) {
        return ret;
    }
    if (cmd->user_va & ALIGN_MASK) {
        return -EINVAL;         /* area->page_offset vs iova_alignment */
    }
    /*
     * drivers/iommu/generic_pt/fmt/vtdss.h:vtdss_pt_iommu_set_prot refuses
     * a map without IOMMU_WRITE in a PT_FEAT_VTDSS_FORCE_WRITEABLE domain.
     */
    if (!w && ioas_forbids_ro(ctx, obj->id)) {
        return -EINVAL;
    }
    ret = sim_check_user_range(cmd->user_va, cmd->length, w);
    if (ret) {
        return ret;
    }
    a = (SimArea){ .iova = iova, .last = iova + cmd->length - 1,
                   .va = cmd->user_va, .write = w, .pages_writable = w,
                   .read = cmd->flags & IOMMU_IOAS_MAP_READABLE };
    ret = area_insert(&obj->ioas, &a);
    if (ret) {
        return ret;
    }
    cmd->iova = iova;
    return 0;
}

/*
 * drivers/iommu/iommufd/io_pagetable.c:iopt_unmap_iova_range: remove the
 * whole areas inside [start, last]; cutting one is ENOENT (the areas
 * before it stay unmapped).
 */
static int unmap_range(SimCtx *ctx, SimObj *obj, uint64_t start,
                       uint64_t last, uint64_t *unmapped)
{
    SimIoas *ioas = &obj->ioas;
    int ret = -ENOENT;
    size_t i = 0;

    *unmapped = 0;
    while (i < ioas->nareas) {
        SimArea *a = &ioas->areas[i];

        if (!ranges_overlap(a->iova, a->last, start, last)) {
            i++;
            continue;
        }
        if (a->iova < start || a->last > last) {
            return -ENOENT;
        }
        *unmapped += a->last - a->iova + 1;
        sim_ioas_forget_dirty(ctx, obj->id, a->iova, a->last);
        area_remove(ioas, i);
        ret = 0;
    }
    return ret;
}

/*
 * drivers/iommu/iommufd/ioas.c:iommufd_ioas_unmap (nothing unmapped is
 * ENOENT, except for unmap-all), io_pagetable.c:iopt_unmap_iova.
 */
long sim_ioas_unmap(SimCtx *ctx, void *arg)
{
    struct iommu_ioas_unmap *cmd = arg;
    SimObj *obj = sim_obj_get(ctx, cmd->ioas_id, OBJ_IOAS);
    uint64_t unmapped = 0, last;
    int ret;

    if (!obj) {
        return -ENOENT;
    }
    if (cmd->iova == 0 && cmd->length == UINT64_MAX) {
        ret = unmap_range(ctx, obj, 0, UINT64_MAX, &unmapped);
        if (ret == -ENOENT) {
            ret = 0;            /* unmapping everything of nothing is fine */
        }
    } else {
        if (cmd->iova >= UINT64_MAX || cmd->length >= UINT64_MAX) {
            return -EOVERFLOW;
        }
        if (!cmd->length) {
            return -EINVAL;
        }
        if (__builtin_add_overflow(cmd->iova, cmd->length - 1, &last)) {
            return -EOVERFLOW;
        }
        ret = unmap_range(ctx, obj, cmd->iova, last, &unmapped);
    }
    if (ret) {
        return ret;
    }
    cmd->length = unmapped;
    return 0;
}

/*
 * drivers/iommu/iommufd/ioas.c:iommufd_ioas_copy: the source range must be
 * covered by contiguous areas (io_pagetable.c:iopt_get_pages), then
 * iopt_map_pages into the destination.
 */
long sim_ioas_copy(SimCtx *ctx, void *arg)
{
    struct iommu_ioas_copy *cmd = arg;
    SimObj *src, *dst;
    SimArea parts[64];
    size_t nparts = 0;
    uint64_t cur, last, iova = cmd->dst_iova;
    bool w = cmd->flags & IOMMU_IOAS_MAP_WRITEABLE;
    int ret;

    if (cmd->flags & ~MAP_FLAGS) {
        return -EOPNOTSUPP;
    }
    if (cmd->length >= UINT64_MAX || cmd->src_iova >= UINT64_MAX ||
        cmd->dst_iova >= UINT64_MAX) {
        return -EOVERFLOW;
    }
    if (!(cmd->flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE))) {
        return -EINVAL;
    }
    src = sim_obj_get(ctx, cmd->src_ioas_id, OBJ_IOAS);
    if (!src) {
        return -ENOENT;
    }
    if (!cmd->length) {
        return -EINVAL;
    }
    if (__builtin_add_overflow(cmd->src_iova, cmd->length - 1, &last)) {
        return -EOVERFLOW;
    }
    /* the source range must be covered by contiguous areas */
    for (cur = cmd->src_iova; ; ) {
        const SimArea *a = sim_ioas_find(&src->ioas, cur);

        if (!a || nparts == 64) {
            return -ENOENT;
        }
        parts[nparts] = *a;
        parts[nparts].va = a->va + (cur - a->iova);
        parts[nparts].iova = cur;
        parts[nparts].last = a->last < last ? a->last : last;
        nparts++;
        if (a->last >= last) {
            break;
        }
        cur = a->last + 1;
    }
    dst = sim_obj_get(ctx, cmd->dst_ioas_id, OBJ_IOAS);
    if (!dst) {
        return -ENOENT;
    }
    ret = place_iova(ctx, dst->id, &dst->ioas,
                     cmd->flags & IOMMU_IOAS_MAP_FIXED_IOVA, cmd->length,
                     parts[0].va, &iova);
    if (ret) {
        return ret;
    }
    for (size_t i = 0; i < nparts; i++) {
        if (w && !parts[i].pages_writable) {
            return -EPERM;      /* iopt_insert_area: !pages->writable */
        }
    }
    if (!w && ioas_forbids_ro(ctx, dst->id)) {
        return -EINVAL;         /* vtdss_pt_iommu_set_prot, as for MAP */
    }
    for (size_t i = 0; i < nparts; i++) {
        SimArea a = parts[i];
        uint64_t off = a.iova - cmd->src_iova;

        a.last = iova + off + (a.last - a.iova);
        a.iova = iova + off;
        a.read = cmd->flags & IOMMU_IOAS_MAP_READABLE;
        a.write = w;
        ret = area_insert(&dst->ioas, &a);
        if (ret) {
            return ret;
        }
    }
    cmd->dst_iova = iova;
    return 0;
}

/*
 * One range of drivers/iommu/iommufd/ioas.c:iommufd_ioas_iova_ranges: a
 * failed copy_to_user is EFAULT.
 */
static int emit_range(const struct iommu_ioas_iova_ranges *cmd,
                      uint32_t max, uint32_t *count, uint64_t start,
                      uint64_t last)
{
    struct iommu_iova_range elm = { .start = start, .last = last };

    if (*count < max &&
        sim_copy_to_user(cmd->allowed_iovas + *count * sizeof(elm), &elm,
                         sizeof(elm))) {
        return -EFAULT;
    }
    (*count)++;
    return 0;
}

/*
 * drivers/iommu/iommufd/ioas.c:iommufd_ioas_iova_ranges: the holes of the
 * reserved tree; more than num_iovas is EMSGSIZE with the count written.
 */
long sim_ioas_iova_ranges(SimCtx *ctx, void *arg)
{
    struct iommu_ioas_iova_ranges *cmd = arg;
    SimRange r[MAX_BLOCKED];
    SimObj *obj;
    uint32_t max = cmd->num_iovas, count = 0;
    uint64_t next = 0;
    bool tail = true;
    size_t n;

    if (cmd->__reserved) {
        return -EOPNOTSUPP;
    }
    obj = sim_obj_get(ctx, cmd->ioas_id, OBJ_IOAS);
    if (!obj) {
        return -ENOENT;
    }
    /* the allowed IOVAs are the holes between the reserved ranges */
    n = reserved_sorted(ctx, obj->id, r);
    for (size_t i = 0; i < n; i++) {
        if (r[i].start > next &&
            emit_range(cmd, max, &count, next, r[i].start - 1)) {
            return -EFAULT;
        }
        if (r[i].last == UINT64_MAX) {
            tail = false;
            break;
        }
        next = r[i].last + 1;
    }
    if (tail && emit_range(cmd, max, &count, next, UINT64_MAX)) {
        return -EFAULT;
    }
    cmd->num_iovas = count;
    cmd->out_iova_alignment = SIM_PAGE_SIZE;
    if (count > max) {
        sim_force_respond = true;   /* the caller needs the count */
        return -EMSGSIZE;
    }
    return 0;
}

/*
 * drivers/iommu/iommufd/ioas.c:iommufd_ioas_allow_iovas: every range is
 * loaded first (iommufd_ioas_load_iovas: EFAULT, start >= last or an
 * overlap EINVAL; no alignment rule), then the new list replaces the old
 * one unless a reserved range intersects it (EADDRINUSE,
 * drivers/iommu/iommufd/io_pagetable.c:iopt_set_allow_iova).
 */
long sim_ioas_allow_iovas(SimCtx *ctx, void *arg)
{
    struct iommu_ioas_allow_iovas *cmd = arg;
    SimRange res[MAX_BLOCKED], *list = NULL;
    SimObj *obj;
    size_t nres, cap = 0;
    int ret = 0;

    if (cmd->__reserved) {
        return -EOPNOTSUPP;
    }
    obj = sim_obj_get(ctx, cmd->ioas_id, OBJ_IOAS);
    if (!obj) {
        return -ENOENT;
    }
    for (uint32_t i = 0; !ret && i < cmd->num_iovas; i++) {
        struct iommu_iova_range elm;

        ret = sim_copy_from_user(&elm, cmd->allowed_iovas + i * sizeof(elm),
                                 sizeof(elm));
        if (!ret && elm.start >= elm.last) {
            ret = -EINVAL;
        }
        for (uint32_t j = 0; !ret && j < i; j++) {
            if (ranges_overlap(elm.start, elm.last, list[j].start,
                               list[j].last)) {
                ret = -EINVAL;
            }
        }
        if (!ret && i == cap) {
            SimRange *n = realloc(list, (cap ? cap * 2 : 16) * sizeof(*n));

            if (!n) {
                ret = -ENOMEM;
                break;
            }
            list = n;
            cap = cap ? cap * 2 : 16;
        }
        if (!ret) {
            list[i] = (SimRange){ elm.start, elm.last };
        }
    }
    nres = sim_ioas_reserved(ctx, obj->id, res, MAX_BLOCKED);
    for (uint32_t i = 0; !ret && i < cmd->num_iovas; i++) {
        for (size_t j = 0; !ret && j < nres; j++) {
            if (ranges_overlap(list[i].start, list[i].last, res[j].start,
                               res[j].last)) {
                ret = -EADDRINUSE;
            }
        }
    }
    if (ret) {
        free(list);
        return ret;
    }
    free(obj->ioas.allowed);
    obj->ioas.allowed = list;
    obj->ioas.nallowed = cmd->num_iovas;
    return 0;
}
