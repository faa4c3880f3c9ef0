/*
 * iommufd-sim: iommufd context, object ids, ioctl dispatch and the generic
 * size/flags rules.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

bool sim_force_respond;

static const char *const kind_names[OBJ_KIND_MAX] = {
    [OBJ_IOAS] = "ioas", [OBJ_DEVICE] = "device",
    [OBJ_HWPT_PAGING] = "hwpt_paging", [OBJ_HWPT_NESTED] = "hwpt_nested",
    [OBJ_VIOMMU] = "viommu", [OBJ_VDEVICE] = "vdevice",
    [OBJ_VEVENTQ] = "veventq",
};

const char *sim_obj_kind_name(enum sim_obj_kind kind)
{
    return kind > 0 && kind < OBJ_KIND_MAX ? kind_names[kind] : "?";
}

SimCtx *sim_ctx_new(dev_t d, ino_t i)
{
    SimCtx *ctx = calloc(1, sizeof(*ctx));

    if (!ctx) {
        return NULL;
    }
    ctx->st_dev = d;
    ctx->st_ino = i;
    sim_ctx_register(ctx);
    return ctx;
}

/*
 * drivers/iommu/iommufd/main.c:_iommufd_object_alloc takes the id from an
 * allocating xarray (xa_alloc, starting at 1): lowest free.  A tombstone
 * (XA_ZERO_ENTRY left by iommufd_object_tombstone_user) is not free.
 */
SimObj *sim_obj_alloc(SimCtx *ctx, enum sim_obj_kind kind)
{
    SimObj *obj = calloc(1, sizeof(*obj));
    uint32_t id;

    if (!obj) {
        return NULL;
    }
    for (id = 1; id < ctx->nobjs && (ctx->objs[id] || ctx->tomb[id]); id++) {
    }
    if (id >= ctx->nobjs) {
        uint32_t n = ctx->nobjs ? ctx->nobjs * 2 : 16;
        SimObj **o = realloc(ctx->objs, n * sizeof(*o));
        bool *t;

        if (!o) {
            free(obj);
            return NULL;
        }
        ctx->objs = o;
        t = realloc(ctx->tomb, n * sizeof(*t));
        if (!t) {
            free(obj);
            return NULL;
        }
        ctx->tomb = t;
        memset(o + ctx->nobjs, 0, (n - ctx->nobjs) * sizeof(*o));
        memset(t + ctx->nobjs, 0, (n - ctx->nobjs) * sizeof(*t));
        if (!ctx->nobjs) {
            id = 1;
        }
        ctx->nobjs = n;
    }
    obj->id = id;
    obj->kind = kind;
    ctx->objs[id] = obj;
    return obj;
}

void sim_obj_free(SimCtx *ctx, SimObj *obj)
{
    sim_obj_teardown(ctx, obj);
    ctx->objs[obj->id] = NULL;
    free(obj);
}

/*
 * drivers/iommu/iommufd/iommufd_private.h:iommufd_object_tombstone_user:
 * the object is destroyed and its slot holds XA_ZERO_ENTRY, which lookups
 * (and DESTROY) see as a missing id and xa_alloc does not reuse, until
 * iommufd_fops_release's xa_destroy.
 */
void sim_obj_tombstone(SimCtx *ctx, SimObj *obj)
{
    uint32_t id = obj->id;

    sim_obj_free(ctx, obj);
    ctx->tomb[id] = true;
}

/*
 * drivers/iommu/iommufd/main.c:iommufd_get_object: a wrong type looks
 * exactly like a missing id (ENOENT).
 */
SimObj *sim_obj_get(SimCtx *ctx, uint32_t id, enum sim_obj_kind kind)
{
    SimObj *obj = id && id < ctx->nobjs ? ctx->objs[id] : NULL;

    if (obj && kind && obj->kind != kind) {
        return NULL;
    }
    return obj;
}

unsigned sim_ctx_live(const SimCtx *ctx, enum sim_obj_kind kind)
{
    unsigned n = 0;

    for (uint32_t i = 1; i < ctx->nobjs; i++) {
        n += ctx->objs[i] && ctx->objs[i]->kind == kind;
    }
    return n;
}

/*
 * Tear down in dependency order, as
 * drivers/iommu/iommufd/main.c:iommufd_fops_release does (it destroys
 * whatever has no users left, over and over).
 */
void sim_ctx_release(SimCtx *ctx)
{
    static const enum sim_obj_kind order[] = {
        OBJ_VEVENTQ, OBJ_VDEVICE, OBJ_HWPT_NESTED, OBJ_VIOMMU, OBJ_HWPT_PAGING, OBJ_IOAS,
        OBJ_DEVICE,
    };

    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        for (uint32_t i = 1; i < ctx->nobjs; i++) {
            if (ctx->objs[i] && ctx->objs[i]->kind == order[k]) {
                sim_obj_free(ctx, ctx->objs[i]);
            }
        }
    }
    sim_ctx_unregister(ctx);
    free(ctx->objs);
    free(ctx->tomb);
    free(ctx);
}

/*
 * Is @obj still referenced by another object or an attachment?  The users
 * counts taken by
 * drivers/iommu/iommufd/hw_pagetable.c:iommufd_hwpt_paging_alloc (IOAS),
 * iommufd_hwpt_nested_alloc (parent),
 * drivers/iommu/iommufd/viommu.c:iommufd_viommu_alloc_ioctl (HWPT),
 * iommufd_vdevice_alloc_ioctl (vIOMMU),
 * drivers/iommu/iommufd/eventq.c:iommufd_veventq_alloc (vIOMMU) and
 * iommufd_eventq_init (the vEVENTQ, while its file is open) and attach
 * (the HWPT).  A device object belongs to VFIO until unbind
 * (iommufd_device_bind).
 */
static bool obj_busy(SimCtx *ctx, SimObj *obj)
{
    if (obj->kind == OBJ_DEVICE) {
        return true;            /* owned by the VFIO device until unbind */
    }
    if (obj->kind == OBJ_VEVENTQ) {
        return sim_veventq_busy(obj);
    }
    for (uint32_t i = 1; i < ctx->nobjs; i++) {
        SimObj *o = ctx->objs[i];

        if (!o || o == obj) {
            continue;
        }
        switch (obj->kind) {
        case OBJ_IOAS:
            if (o->kind == OBJ_HWPT_PAGING && o->hwpt.ioas_id == obj->id) {
                return true;
            }
            break;
        case OBJ_HWPT_PAGING:
            if ((o->kind == OBJ_HWPT_NESTED && o->hwpt.parent_id == obj->id) ||
                (o->kind == OBJ_VIOMMU && o->viommu.hwpt_id == obj->id)) {
                return true;
            }
            /* fallthrough */
        case OBJ_HWPT_NESTED:
            if (o->kind == OBJ_DEVICE && o->dev->attached == obj->id) {
                return true;
            }
            break;
        case OBJ_VIOMMU:
            if ((o->kind == OBJ_VDEVICE && o->vdev.viommu_id == obj->id) ||
                (o->kind == OBJ_HWPT_NESTED && o->hwpt.viommu_id == obj->id) ||
                (o->kind == OBJ_VEVENTQ && o->evq.viommu_id == obj->id)) {
                return true;
            }
            break;
        default:
            break;
        }
    }
    return false;
}

static long do_destroy(SimCtx *ctx, void *arg)
{
    struct iommu_destroy *cmd = arg;
    SimObj *obj = sim_obj_get(ctx, cmd->id, 0);

    /* drivers/iommu/iommufd/main.c:iommufd_object_remove */
    if (!obj) {
        return -ENOENT;
    }
    if (obj_busy(ctx, obj)) {
        return -EBUSY;          /* refcount_dec_if_one(&obj->users) fails */
    }
    sim_obj_free(ctx, obj);
    return 0;
}

/*
 * drivers/iommu/iommufd/ioas.c:iommufd_option_rlimit_mode: per context,
 * only without an object id, SET needs CAP_SYS_RESOURCE (the sim: root)
 * and an empty context.
 */
static long option_rlimit_mode(SimCtx *ctx, struct iommu_option *cmd)
{
    if (cmd->object_id) {
        return -EOPNOTSUPP;
    }
    if (cmd->op == IOMMU_OPTION_OP_GET) {
        cmd->val64 = ctx->account_mm;
        return 0;
    }
    if (cmd->op != IOMMU_OPTION_OP_SET) {
        return -EOPNOTSUPP;
    }
    if (geteuid() != 0) {
        return -EPERM;
    }
    for (uint32_t i = 1; i < ctx->nobjs; i++) {
        if (ctx->objs[i] || ctx->tomb[i]) {
            return -EBUSY;      /* xa_empty(&ictx->objects): tombstones too */
        }
    }
    if (cmd->val64 > 1) {
        return -EINVAL;
    }
    ctx->account_mm = cmd->val64;
    return 0;
}

/*
 * drivers/iommu/iommufd/ioas.c:iommufd_ioas_option looks the IOAS up
 * first, then iommufd_ioas_option_huge_pages; disabling refuses an IOAS
 * that has both a domain and an area
 * (drivers/iommu/iommufd/io_pagetable.c:iopt_disable_large_pages).  The
 * sim maps in 4 KiB pages anyway.
 */
static long option_huge_pages(SimCtx *ctx, struct iommu_option *cmd)
{
    SimObj *ioas = sim_obj_get(ctx, cmd->object_id, OBJ_IOAS);

    if (!ioas) {
        return -ENOENT;
    }
    if (cmd->op == IOMMU_OPTION_OP_GET) {
        cmd->val64 = !ioas->ioas.no_large_pages;
        return 0;
    }
    if (cmd->op != IOMMU_OPTION_OP_SET) {
        return -EOPNOTSUPP;
    }
    if (cmd->val64 == 1) {
        ioas->ioas.no_large_pages = false;
        return 0;
    }
    if (cmd->val64) {
        return -EINVAL;
    }
    if (!ioas->ioas.no_large_pages && ioas->ioas.nareas) {
        for (uint32_t i = 1; i < ctx->nobjs; i++) {
            SimObj *o = ctx->objs[i];

            if (o && o->kind == OBJ_HWPT_PAGING &&
                o->hwpt.ioas_id == ioas->id) {
                return -EINVAL;
            }
        }
    }
    ioas->ioas.no_large_pages = true;
    return 0;
}

/* drivers/iommu/iommufd/main.c:iommufd_option */
static long do_option(SimCtx *ctx, void *arg)
{
    struct iommu_option *cmd = arg;

    if (cmd->__reserved) {
        return -EOPNOTSUPP;
    }
    switch (cmd->option_id) {
    case IOMMU_OPTION_RLIMIT_MODE:
        return option_rlimit_mode(ctx, cmd);
    case IOMMU_OPTION_HUGE_PAGES:
        return option_huge_pages(ctx, cmd);
    default:
        return -EOPNOTSUPP;
    }
}

/* Deliberate difference (README): VFIO_IOAS, FAULT_QUEUE_ALLOC, ... */
static long not_simulated(SimCtx *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    return -EOPNOTSUPP;
}

typedef struct IoctlOp {
    unsigned nr;
    const char *name;
    size_t size, min_size;
    long (*fn)(SimCtx *ctx, void *cmd);
    bool allocates;            /* creates an object the reply names */
} IoctlOp;

#define OP(nr, name, type, last, fn) \
    { nr, name, sizeof(struct type), \
      offsetof(struct type, last) + sizeof(((struct type *)0)->last), fn, \
      nr == IOMMUFD_CMD_IOAS_ALLOC || nr == IOMMUFD_CMD_HWPT_ALLOC || \
      nr == IOMMUFD_CMD_VIOMMU_ALLOC || nr == IOMMUFD_CMD_VDEVICE_ALLOC || \
      nr == IOMMUFD_CMD_VEVENTQ_ALLOC }

/* The objects before a call, to find the ones it made. */
static SimObj **snapshot(SimCtx *ctx, uint32_t *n)
{
    SimObj **s = calloc(ctx->nobjs ? ctx->nobjs : 1, sizeof(*s));

    if (s && ctx->nobjs) {
        memcpy(s, ctx->objs, ctx->nobjs * sizeof(*s));
    }
    *n = s ? ctx->nobjs : 0;
    return s;
}

static void drop_new_objects(SimCtx *ctx, SimObj **snap, uint32_t nsnap)
{
    for (uint32_t i = ctx->nobjs; i-- > 1;) {
        SimObj *o = ctx->objs[i];

        if (o && (!snap || i >= nsnap || snap[i] != o)) {
            sim_log("iommufd object %u dropped: reply not written", i);
            sim_obj_free(ctx, o);
        }
    }
}

static const IoctlOp ops[] = {
    OP(IOMMUFD_CMD_DESTROY, "DESTROY", iommu_destroy, id, do_destroy),
    OP(IOMMUFD_CMD_IOAS_ALLOC, "IOAS_ALLOC", iommu_ioas_alloc, out_ioas_id,
       sim_ioas_alloc),
    OP(IOMMUFD_CMD_IOAS_ALLOW_IOVAS, "IOAS_ALLOW_IOVAS",
       iommu_ioas_allow_iovas, allowed_iovas, sim_ioas_allow_iovas),
    OP(IOMMUFD_CMD_IOAS_COPY, "IOAS_COPY", iommu_ioas_copy, src_iova,
       sim_ioas_copy),
    OP(IOMMUFD_CMD_IOAS_IOVA_RANGES, "IOAS_IOVA_RANGES",
       iommu_ioas_iova_ranges, out_iova_alignment, sim_ioas_iova_ranges),
    OP(IOMMUFD_CMD_IOAS_MAP, "IOAS_MAP", iommu_ioas_map, iova, sim_ioas_map),
    OP(IOMMUFD_CMD_IOAS_UNMAP, "IOAS_UNMAP", iommu_ioas_unmap, length,
       sim_ioas_unmap),
    OP(IOMMUFD_CMD_OPTION, "OPTION", iommu_option, val64, do_option),
    OP(IOMMUFD_CMD_VFIO_IOAS, "VFIO_IOAS", iommu_vfio_ioas, __reserved,
       not_simulated),
    OP(IOMMUFD_CMD_HWPT_ALLOC, "HWPT_ALLOC", iommu_hwpt_alloc, __reserved,
       sim_hwpt_alloc),
    OP(IOMMUFD_CMD_GET_HW_INFO, "GET_HW_INFO", iommu_hw_info, __reserved,
       sim_get_hw_info),
    OP(IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING, "HWPT_SET_DIRTY_TRACKING",
       iommu_hwpt_set_dirty_tracking, __reserved, sim_hwpt_set_dirty),
    OP(IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP, "HWPT_GET_DIRTY_BITMAP",
       iommu_hwpt_get_dirty_bitmap, data, sim_hwpt_get_dirty),
    OP(IOMMUFD_CMD_HWPT_INVALIDATE, "HWPT_INVALIDATE", iommu_hwpt_invalidate,
       __reserved, sim_hwpt_invalidate),
    OP(IOMMUFD_CMD_FAULT_QUEUE_ALLOC, "FAULT_QUEUE_ALLOC", iommu_fault_alloc,
       out_fault_fd, not_simulated),
    OP(IOMMUFD_CMD_IOAS_MAP_FILE, "IOAS_MAP_FILE", iommu_ioas_map_file, iova,
       not_simulated),
    OP(IOMMUFD_CMD_VIOMMU_ALLOC, "VIOMMU_ALLOC", iommu_viommu_alloc,
       out_viommu_id, sim_viommu_alloc),
    OP(IOMMUFD_CMD_VDEVICE_ALLOC, "VDEVICE_ALLOC", iommu_vdevice_alloc,
       virt_id, sim_vdevice_alloc),
    OP(IOMMUFD_CMD_IOAS_CHANGE_PROCESS, "IOAS_CHANGE_PROCESS",
       iommu_ioas_change_process, __reserved, not_simulated),
    OP(IOMMUFD_CMD_VEVENTQ_ALLOC, "VEVENTQ_ALLOC", iommu_veventq_alloc,
       out_veventq_fd, sim_veventq_alloc),
};

/*
 * include/linux/uaccess.h:copy_struct_from_user: a larger user struct must
 * have a zero tail (E2BIG).
 */
static int check_zero_tail(uint64_t uptr, size_t from, size_t to)
{
    uint8_t buf[256];

    while (from < to) {
        size_t n = to - from < sizeof(buf) ? to - from : sizeof(buf);
        int ret = sim_copy_from_user(buf, uptr + from, n);

        if (ret) {
            return ret;
        }
        for (size_t i = 0; i < n; i++) {
            if (buf[i]) {
                return -E2BIG;
            }
        }
        from += n;
    }
    return 0;
}

/*
 * Field names for the log, one word per 32-bit word after @size: "name"
 * (u32), "name:64" (u64, two words), "-" / "-:64" skipped (reserved fields
 * and user pointers).  Tests and the demo read these lines, so ops they
 * look at are spelled out; the rest are logged as raw hex words.
 */
static const struct {
    const char *name, *fields;
} log_fields[] = {
    { "DESTROY", "id" },
    { "IOAS_ALLOC", "flags out_ioas_id" },
    { "IOAS_MAP", "flags ioas_id - -:64 length:64 iova:64" },
    { "IOAS_UNMAP", "ioas_id iova:64 length:64" },
    { "GET_HW_INFO", "flags dev_id data_len -:64 out_data_type - "
                     "out_capabilities:64" },
    { "HWPT_ALLOC", "flags dev_id pt_id out_hwpt_id - data_type data_len "
                    "-:64 fault_id -" },
    { "HWPT_INVALIDATE", "hwpt_id -:64 data_type entry_len entry_num -" },
    { "VIOMMU_ALLOC", "flags type dev_id hwpt_id out_viommu_id" },
    { "VDEVICE_ALLOC", "viommu_id dev_id out_vdevice_id virt_id:64" },
    { "VEVENTQ_ALLOC", "flags viommu_id type veventq_depth out_veventq_id "
                       "out_veventq_fd -" },
};

static size_t format_fields(char *buf, size_t bufsz, const char *fields,
                            const uint32_t *w, size_t nwords)
{
    char spec[128];
    char *save = NULL, *tok;
    size_t len = 0, i = 1;

    snprintf(spec, sizeof(spec), "%s", fields);
    for (tok = strtok_r(spec, " ", &save); tok && i < nwords;
         tok = strtok_r(NULL, " ", &save)) {
        char *wide = strstr(tok, ":64");
        uint64_t v = w[i];

        if (wide) {
            *wide = 0;
            v |= i + 1 < nwords ? (uint64_t)w[i + 1] << 32 : 0;
            i++;
        }
        i++;
        if (strcmp(tok, "-") && len < bufsz) {
            len += (size_t)snprintf(buf + len, bufsz - len, " %s=0x%llx",
                                    tok, (unsigned long long)v);
        }
    }
    return len;
}

static void log_cmd(const IoctlOp *op, const void *cmd, long ret)
{
    const uint32_t *w = cmd;
    char args[256] = "";
    size_t len = 0;
    bool named = false;
    size_t i;

    for (i = 0; i < sizeof(log_fields) / sizeof(log_fields[0]); i++) {
        if (!strcmp(log_fields[i].name, op->name)) {
            format_fields(args, sizeof(args), log_fields[i].fields, w,
                          op->size / 4);
            named = true;
            break;
        }
    }
    for (i = 1; !named && i < op->size / 4 && len < sizeof(args) - 12; i++) {
        len += (size_t)snprintf(args + len, sizeof(args) - len, " %x", w[i]);
    }
    if (ret) {
        sim_log("iommufd %s%s -> -%s", op->name, args, sim_errname((int)-ret));
    } else {
        sim_log("iommufd %s%s -> 0", op->name, args);
    }
}

long sim_iommufd_ioctl(SimCtx *ctx, unsigned long req, uint64_t arg)
{
    const IoctlOp *op = NULL;
    uint8_t cmd[128];
    SimObj **snap = NULL;
    uint32_t usize, nsnap = 0;
    char cname[48];
    long ret;

    /*
     * drivers/iommu/iommufd/main.c:iommufd_fops_ioctl: unknown ioctls are
     * ENOTTY (ENOIOCTLCMD), a size below offsetofend(last) EINVAL, then
     * copy_struct_from_user (E2BIG for a non-zero tail).
     */
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (req == _IO(IOMMUFD_TYPE, ops[i].nr)) {
            op = &ops[i];
        }
    }
    if (!op) {
        sim_count("ioctl.unknown", 1);
        sim_log("iommufd ioctl 0x%lx -> -ENOTTY", req);
        return -ENOTTY;
    }
    snprintf(cname, sizeof(cname), "ioctl.%s", op->name);
    sim_count(cname, 1);
    sim_count("ioctl.total", 1);
    ret = sim_copy_from_user(&usize, arg, sizeof(usize));
    if (ret) {
        goto out_nolog;
    }
    if (usize < op->min_size) {
        ret = -EINVAL;
        goto out_nolog;
    }
    if (usize > op->size && (ret = check_zero_tail(arg, op->size, usize))) {
        goto out_nolog;
    }
    memset(cmd, 0, sizeof(cmd));
    ret = sim_copy_from_user(cmd, arg, usize < op->size ? usize : op->size);
    if (ret) {
        goto out_nolog;
    }
    ret = sim_fail_check(op->name);
    if (ret) {
        /* The kernel always reports how many entries it handled: none */
        if (op->nr == IOMMUFD_CMD_HWPT_INVALIDATE) {
            ((struct iommu_hwpt_invalidate *)cmd)->entry_num = 0;
            sim_copy_to_user(arg, cmd, usize < op->size ? usize : op->size);
        }
        return ret;
    }
    sim_force_respond = false;
    snap = op->allocates ? snapshot(ctx, &nsnap) : NULL;
    ret = op->fn(ctx, cmd);
    if (!ret || sim_force_respond) {
        int wret = sim_copy_to_user(arg, cmd,
                                    usize < op->size ? usize : op->size);

        /*
         * drivers/iommu/iommufd/iommufd_private.h:iommufd_ucmd_respond
         * fails with EFAULT, whatever the handler returned
         * (iommufd_hwpt_invalidate returns it over its own error), and an
         * object the call made is aborted
         * (drivers/iommu/iommufd/main.c:iommufd_object_abort_and_destroy):
         * userspace never learnt its id.
         */
        if (wret) {
            ret = -EFAULT;
            if (op->allocates) {
                drop_new_objects(ctx, snap, nsnap);
            }
        }
    }
    free(snap);
    log_cmd(op, cmd, ret);
    return ret;

out_nolog:
    sim_log("iommufd %s size check -> -%s", op->name,
            sim_errname((int)-ret));
    return ret;
}

/*
 * The file is gone once no fd, no bound device and no open vEVENTQ file
 * reference it (drivers/iommu/iommufd/eventq.c:iommufd_eventq_init takes
 * a reference on the iommufd file: iommufd_ctx_get).
 */
void sim_ctx_maybe_release(SimCtx *ctx)
{
    if (ctx && ctx->nfds <= 0 && ctx->nbound <= 0 && ctx->nevqfiles <= 0) {
        sim_log("iommufd context %u released", ctx->serial);
        sim_ctx_release(ctx);
    }
}
