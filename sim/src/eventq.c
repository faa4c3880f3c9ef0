/*
 * iommufd-sim: vEVENTQ objects (IOMMU_VEVENTQ_ALLOC), their deliver list
 * and read(), and the SMMUv3 driver's forwarding of event records of a
 * nested master to its vIOMMU.
 *
 * The fd is a pipe made by the shim (sim_shim_veventq_open): its read end
 * is what the caller gets, and it holds exactly one byte while the
 * deliver list is non-empty, so poll/epoll/g_source see POLLIN exactly
 * when the kernel's iommufd_eventq_fops_poll reports EPOLLIN.  read(),
 * readv() and the other file operations are answered by the shim and
 * sim_veventq_read() below; the byte is never read by the caller.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sim.h"

/* drivers/iommu/iommufd/eventq.c:VEVENTQ_MAX_DEPTH */
#define VEVENTQ_MAX_DEPTH (1u << 19)

#define HDR_SIZE sizeof(struct iommufd_vevent_header)

_Static_assert(sizeof(struct iommufd_vevent_header) == 8, "uAPI header");
_Static_assert(sizeof(struct iommu_vevent_arm_smmuv3) == 32, "uAPI record");
_Static_assert(sizeof(((SimVevent *)0)->data) >=
               sizeof(struct iommu_vevent_arm_smmuv3), "record fits");

static bool is_lost(const SimVeventq *q, const SimVevent *ev)
{
    return ev == &q->lost;
}

/* Keep the pipe's byte in step with "deliver list non-empty". */
static void evq_sync(SimVeventq *q)
{
    bool want = q->head != NULL;
    char b = 1;

    if (q->wfd < 0 || want == q->signalled) {
        return;
    }
    if (want) {
        if (syscall(SYS_write, q->wfd, &b, 1) == 1) {
            q->signalled = true;
        }
    } else if (syscall(SYS_read, q->prfd, &b, 1) == 1) {
        q->signalled = false;
    }
}

static void list_append(SimVeventq *q, SimVevent *ev)
{
    ev->next = NULL;
    ev->prev = q->tail;
    if (q->tail) {
        q->tail->next = ev;
    } else {
        q->head = ev;
    }
    q->tail = ev;
}

static void list_del(SimVeventq *q, SimVevent *ev)
{
    if (ev->prev) {
        ev->prev->next = ev->next;
    } else {
        q->head = ev->next;
    }
    if (ev->next) {
        ev->next->prev = ev->prev;
    } else {
        q->tail = ev->prev;
    }
    ev->next = ev->prev = NULL;
}

static SimObj *find_veventq(SimCtx *ctx, uint32_t viommu_id, uint32_t type)
{
    for (uint32_t i = 1; i < ctx->nobjs; i++) {
        SimObj *o = ctx->objs[i];

        if (o && o->kind == OBJ_VEVENTQ && o->evq.viommu_id == viommu_id &&
            o->evq.type == type) {
            return o;
        }
    }
    return NULL;
}

/*
 * drivers/iommu/iommufd/eventq.c:iommufd_veventq_alloc: flags, __reserved
 * and type DEFAULT are EOPNOTSUPP; a depth of 0 or above 1 << 19 EINVAL;
 * then the vIOMMU (ENOENT) and one vEVENTQ per type per vIOMMU (EEXIST).
 * Any other type is accepted whatever the vIOMMU's type is: the core does
 * not ask the driver (an SMMUv3 vIOMMU only ever reports ARM_SMMUV3
 * events).  The fd is O_CLOEXEC (iommufd_eventq_init).
 */
long sim_veventq_alloc(SimCtx *ctx, void *arg)
{
    struct iommu_veventq_alloc *cmd = arg;
    SimObj *v, *obj;
    int fd;

    if (cmd->flags || cmd->__reserved ||
        cmd->type == IOMMU_VEVENTQ_TYPE_DEFAULT) {
        return -EOPNOTSUPP;
    }
    if (!cmd->veventq_depth || cmd->veventq_depth > VEVENTQ_MAX_DEPTH) {
        return -EINVAL;
    }
    v = sim_obj_get(ctx, cmd->viommu_id, OBJ_VIOMMU);
    if (!v) {
        return -ENOENT;
    }
    if (find_veventq(ctx, v->id, cmd->type)) {
        return -EEXIST;
    }
    obj = sim_obj_alloc(ctx, OBJ_VEVENTQ);
    if (!obj) {
        return -ENOMEM;
    }
    obj->evq.viommu_id = v->id;
    obj->evq.type = cmd->type;
    obj->evq.depth = cmd->veventq_depth;
    obj->evq.lost.hdr.flags = IOMMU_VEVENTQ_FLAG_LOST_EVENTS;
    obj->evq.rfd = obj->evq.prfd = obj->evq.wfd = -1;
    fd = sim_shim_veventq_open(ctx, obj);
    if (fd < 0) {
        sim_obj_free(ctx, obj);
        return fd;
    }
    cmd->out_veventq_id = obj->id;
    cmd->out_veventq_fd = (uint32_t)fd;
    sim_log("veventq %u on viommu %u type %u depth %u fd %d", obj->id, v->id,
            cmd->type, cmd->veventq_depth, fd);
    return 0;
}

/*
 * drivers/iommu/iommufd/eventq.c:iommufd_veventq_abort (and _destroy):
 * the queued vEVENTs are freed.  The vIOMMU reference goes with the
 * object (obj_busy).  An object destroyed while its file is still open
 * only happens when the reply could not be written (the fd was never
 * installed): the shim forgets and closes it.
 */
void sim_veventq_teardown(SimCtx *ctx, SimObj *obj)
{
    SimVeventq *q = &obj->evq;

    (void)ctx;
    while (q->head) {
        SimVevent *ev = q->head;

        list_del(q, ev);
        if (!is_lost(q, ev)) {
            free(ev);
        }
    }
    q->num_events = 0;
    if (q->nfds > 0 || q->wfd >= 0) {
        sim_shim_veventq_abort(obj);
    }
}

/*
 * drivers/iommu/iommufd/eventq.c:iommufd_eventq_init takes a users
 * reference for the file, dropped by iommufd_eventq_fops_release: DESTROY
 * of the vEVENTQ is EBUSY while any fd of it is open.
 */
bool sim_veventq_busy(const SimObj *obj)
{
    return obj->evq.nfds > 0;
}

/*
 * drivers/iommu/iommufd/driver.c:iommufd_viommu_report_event: no vEVENTQ
 * of @type is EOPNOTSUPP; a full queue (num_events == depth), or a failed
 * allocation (ENOMEM), queues the lost-events header instead; the header
 * is then taken off the tail and put back there with the new sequence
 * (drivers/iommu/iommufd/iommufd_private.h:iommufd_vevent_handler), so
 * it is always last, and a later normal vEVENT replaces it: the gap in
 * the sequence numbers tells how many were lost.  Sequences wrap from
 * INT_MAX to 0.
 */
int sim_viommu_report_event(SimCtx *ctx, uint32_t viommu_id, uint32_t type,
                            const void *data, uint32_t len)
{
    SimObj *obj = find_veventq(ctx, viommu_id, type);
    SimVeventq *q;
    SimVevent *ev;
    int rc = 0;

    if (!obj) {
        return -EOPNOTSUPP;
    }
    q = &obj->evq;
    ev = len <= sizeof(ev->data) ? calloc(1, sizeof(*ev)) : NULL;
    if (!ev) {
        ev = &q->lost;
        rc = -ENOMEM;
    } else if (q->num_events == q->depth) {
        free(ev);
        ev = &q->lost;
    } else {
        ev->data_len = len;
        memcpy(ev->data, data, len);
        q->num_events++;
    }
    if (q->lost_queued) {
        list_del(q, &q->lost);
        q->lost_queued = false;
    }
    list_append(q, ev);
    if (is_lost(q, ev)) {
        q->lost_queued = true;
    }
    ev->hdr.sequence = q->sequence;
    q->sequence = (q->sequence + 1) & INT_MAX;
    if (is_lost(q, ev)) {
        sim_count("veventq.lost", 1);
        sim_log("veventq %u full (%u): event lost, lost-events header "
                "sequence %u", obj->id, q->depth, ev->hdr.sequence);
    } else {
        sim_count("veventq.events", 1);
        sim_log("veventq %u event sequence %u queued (%u of %u)", obj->id,
                ev->hdr.sequence, q->num_events, q->depth);
    }
    evq_sync(q);
    return rc;
}

/*
 * drivers/iommu/iommufd/eventq.c:iommufd_veventq_fops_read: a count below
 * the 8-byte header is EINVAL; whole vEVENTs (header and data) are copied
 * from the head while they fit, the lost-events header alone needs 8
 * bytes; a first vEVENT that does not fit is EINVAL and stays queued.  An
 * empty queue reads 0 at once (the read never blocks).  A copy failure
 * keeps the vEVENT queued and returns what was copied before it, or
 * EFAULT.  (The *ppos check, ESPIPE, is the shim's: pread.)
 */
ssize_t sim_veventq_read(SimObj *obj, uint64_t buf, size_t count)
{
    SimVeventq *q = &obj->evq;
    size_t done = 0;
    ssize_t rc = 0;

    if (count < HDR_SIZE) {
        rc = -EINVAL;
        goto out;
    }
    while (q->head) {
        SimVevent *cur = q->head;

        if (done >= count || HDR_SIZE > count - done) {
            break;
        }
        if (!is_lost(q, cur) && HDR_SIZE + cur->data_len > count - done) {
            if (!done) {
                rc = -EINVAL;
            }
            break;
        }
        if (sim_copy_to_user(buf + done, &cur->hdr, HDR_SIZE)) {
            rc = -EFAULT;
            break;
        }
        if (cur->data_len &&
            sim_copy_to_user(buf + done + HDR_SIZE, cur->data,
                             cur->data_len)) {
            rc = -EFAULT;
            break;
        }
        done += HDR_SIZE + cur->data_len;
        list_del(q, cur);
        if (is_lost(q, cur)) {
            q->lost_queued = false;
        } else {
            q->num_events--;
            free(cur);
        }
    }
    evq_sync(q);
out:
    sim_count("veventq.reads", 1);
    sim_count("veventq.read_bytes", done);
    if (done) {
        sim_log("veventq %u read %zu of %zu bytes (%u left)", obj->id, done,
                count, q->num_events);
        return (ssize_t)done;
    }
    sim_log("veventq %u read %zu bytes -> %s%s", obj->id, count,
            rc ? "-" : "0", rc ? sim_errname((int)-rc) : "");
    return rc;
}

/* EVTQ_0_ID, EVTQ_1_STALL, EVTQ_1_S2 of arm-smmu-v3.h */
#define EVT0_ID(w)     ((unsigned)((w) & 0xff))
#define EVT0_SID_MASK  0xffffffff00000000ULL

/*
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c:arm_smmu_handle_event, for
 * a record of @dev's StreamID (host order): only C_BAD_STE,
 * F_STREAM_DISABLED, C_BAD_SUBSTREAMID, C_BAD_CD and the four
 * translation faults are handled (else EOPNOTSUPP); a stall record goes
 * to the IOPF path (none here: not forwarded); a master with a vmaster
 * (attached to a nested domain with a vSID) forwards the record unless
 * it is a stage-2 fault (S2 = 1), anything else is EOPNOTSUPP (the
 * driver dumps it to the kernel log).  Forwarding is
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-iommufd.c:arm_vmaster_report_event:
 * the StreamID field becomes the vSID (its low 32 bits), every other bit
 * is kept, little-endian, and the vIOMMU reports it on its ARM_SMMUV3
 * vEVENTQ (EOPNOTSUPP without one).
 */
int sim_smmu_handle_event(SimDevice *dev, const uint64_t evt[4])
{
    unsigned id = EVT0_ID(evt[0]);
    struct iommu_vevent_arm_smmuv3 vevt;
    const char *why = NULL;
    int ret;

    sim_count("smmu.events", 1);
    sim_log("smmu event 0x%02x sid 0x%x: %016llx %016llx %016llx %016llx",
            id, (unsigned)(evt[0] >> 32), (unsigned long long)evt[0],
            (unsigned long long)evt[1], (unsigned long long)evt[2],
            (unsigned long long)evt[3]);
    switch (id) {
    case SMMU_EVT_C_BAD_STE:
    case SMMU_EVT_F_STREAM_DISABLED:
    case SMMU_EVT_C_BAD_SUBSTREAMID:
    case SMMU_EVT_C_BAD_CD:
    case SMMU_EVT_F_TRANSLATION:
    case SMMU_EVT_F_ADDR_SIZE:
    case SMMU_EVT_F_ACCESS:
    case SMMU_EVT_F_PERMISSION:
        break;
    default:
        why = "event type not handled";
        ret = -EOPNOTSUPP;
        goto out;
    }
    if (evt[1] & SMMU_EVT1_STALL) {
        why = "stall (no IOPF handler)";
    } else if (!dev->vmaster || !dev->ctx) {
        why = "no vmaster";
    } else if (evt[1] & SMMU_EVT1_S2) {
        why = "stage-2 fault";
    }
    if (why) {
        ret = -EOPNOTSUPP;
        goto out;
    }
    vevt.evt[0] = htole64((evt[0] & ~EVT0_SID_MASK) |
                          ((dev->vmaster_vsid & 0xffffffffULL) << 32));
    for (int i = 1; i < 4; i++) {
        vevt.evt[i] = htole64(evt[i]);
    }
    sim_log("smmu event 0x%02x to viommu %u as vsid 0x%llx", id,
            dev->vmaster_viommu, (unsigned long long)dev->vmaster_vsid);
    ret = sim_viommu_report_event(dev->ctx, dev->vmaster_viommu,
                                  IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, &vevt,
                                  sizeof(vevt));
    if (ret == -EOPNOTSUPP) {
        why = "no ARM_SMMUV3 vEVENTQ on the vIOMMU";
    }
out:
    if (why) {
        sim_count("smmu.events_unforwarded", 1);
        sim_log("smmu event 0x%02x not forwarded: %s", id, why);
    } else {
        sim_count("smmu.events_forwarded", 1);
    }
    return ret;
}
