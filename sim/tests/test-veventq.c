/*
 * iommufd-sim: vEVENTQ (IOMMU_VEVENTQ_ALLOC) as Linux 7.2: allocation
 * rules, object lifetimes, the fd (poll, read, readv, the rest refused),
 * the deliver list (sequence numbers, depth, the lost-events header) and
 * the SMMUv3 event records a nested stage-1 fault forwards.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <endian.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "testlib.h"

#define RAM_SIZE (2u << 20)
#define RAM_IPA 0x40000000ull
#define VSID 0x20
#define HDR 8
#define REC 40                  /* header + struct iommu_vevent_arm_smmuv3 */

/* Guest RAM: a host buffer seen by the device at IPA RAM_IPA. */
static uint8_t *ram;

#define D_AP2   (1ull << 7)

/* A bound SMMUv3 device, nested on a vIOMMU with a vDEVICE (vSID 0x20). */
typedef struct Env {
    int fd, dev;
    uint32_t id, ioas, parent, viommu, vdev, nested;
    uint64_t cd, ttb, page;
} Env;

static const uint64_t VA_RW = 0x20345000, VA_RO = 0x20346000,
                      VA_NOAF = 0x20347000, VA_S2 = 0x20348000,
                      VA_NONE = 0x5000000;

static uint32_t nested_hwpt(Env *e, uint64_t ste0)
{
    uint64_t ste[2] = { ste0, 0 };
    uint32_t h = 0;

    t_hwpt(e->fd, e->id, e->viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, ste,
           sizeof(ste), &h);
    return h;
}

static void env_up(Env *e, const char *cfg)
{
    memset(e, 0, sizeof(*e));
    e->fd = t_iommufd();
    e->dev = t_devfd(cfg);
    e->id = t_bind(e->dev, e->fd);
    e->ioas = t_ioas(e->fd);
    if (!ram) {
        ram = t_alloc(RAM_SIZE);
    }
    memset(ram, 0, RAM_SIZE);
    t_gram_set(ram, RAM_IPA);
    t_hwpt(e->fd, e->id, e->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
           &e->parent);
    t_map_fixed(e->fd, e->ioas, ram, RAM_SIZE, RAM_IPA);
    t_enable(e->dev);
    t_viommu(e->fd, e->id, e->parent, &e->viommu);
    t_vdevice(e->fd, e->viommu, e->id, VSID, &e->vdev);
    e->cd = galloc(4096);
    e->ttb = galloc(4096);
    e->page = galloc(4096);
    gw64(e->cd, 16 | CD_V | CD_IPS(4) | CD_AA64 | CD_R | CD_A |
         (uint64_t)7 << 48);
    gw64(e->cd + 8, e->ttb);
    gw64(arm_entry(e->ttb, VA_RW), e->page | D_AF | D_AP1 | D_NG | 3);
    gw64(arm_entry(e->ttb, VA_RO), e->page | D_AF | D_AP1 | D_AP2 | D_NG | 3);
    gw64(arm_entry(e->ttb, VA_NOAF), e->page | D_AP1 | D_NG | 3);
    /* an IPA outside the IOAS: a stage-2 fault on the output */
    gw64(arm_entry(e->ttb, VA_S2), 0x7000000000ull | D_AF | D_AP1 | D_NG | 3);
    e->nested = nested_hwpt(e, 1 | (5ull << 1) | e->cd);
    ok(e->nested && !t_attach(e->dev, &e->nested),
       "setup: device nested on vIOMMU %u with vSID 0x%x", e->viommu, VSID);
}

static void env_down(Env *e)
{
    t_attach(e->dev, &e->parent);
    t_destroy(e->fd, e->nested);
    t_destroy(e->fd, e->vdev);
    t_destroy(e->fd, e->viommu);
    close(e->dev);
    close(e->fd);
}

static int veventq(int fd, uint32_t viommu, uint32_t type, uint32_t depth,
                   uint32_t *id, int *qfd)
{
    struct iommu_veventq_alloc a = { .size = sizeof(a), .viommu_id = viommu,
                                     .type = type, .veventq_depth = depth };
    int ret = ioctl(fd, IOMMU_VEVENTQ_ALLOC, &a);

    if (id) {
        *id = a.out_veventq_id;
    }
    if (qfd) {
        *qfd = ret ? -1 : (int)a.out_veventq_fd;
    }
    return ret;
}

static bool readable(int qfd)
{
    struct pollfd p = { .fd = qfd, .events = POLLIN | POLLOUT };

    return poll(&p, 1, 0) == 1 && p.revents == POLLIN;
}

static bool quiet(int qfd)
{
    struct pollfd p = { .fd = qfd, .events = POLLIN | POLLOUT };

    return poll(&p, 1, 0) == 0;
}

/* DMA read (or write) of 4 bytes at @iova; true if it faulted. */
static bool dma_fault(Env *e, uint64_t iova, bool write)
{
    uint32_t st = write ? t_dma(e->dev, SIMDEV_OP_WRITE, 0, iova, 4)
                        : t_dma(e->dev, SIMDEV_OP_READ, iova, 0, 4);

    return st & SIMDEV_STATUS_ERROR;
}

typedef struct Rec {
    uint32_t flags, seq;
    uint64_t evt[4];
} Rec;

static Rec rec_at(const uint8_t *buf)
{
    Rec r;

    memcpy(&r.flags, buf, 4);
    memcpy(&r.seq, buf + 4, 4);
    memcpy(r.evt, buf + 8, 32);
    for (int i = 0; i < 4; i++) {
        r.evt[i] = le64toh(r.evt[i]);
    }
    return r;
}

#define EVT_ID(r)   ((unsigned)((r).evt[0] & 0xff))
#define EVT_SID(r)  ((uint32_t)((r).evt[0] >> 32))
#define EVT_RNW(r)  (((r).evt[1] >> 35) & 1)
#define EVT_S2(r)   (((r).evt[1] >> 39) & 1)
#define EVT_CLASS(r) ((unsigned)(((r).evt[1] >> 40) & 3))

/* ---- allocation rules and lifetimes ---- */
static void test_alloc(void)
{
    struct iommu_veventq_alloc a;
    uint32_t id, id2;
    int qfd, qfd2;
    Env e;

    diag("VEVENTQ_ALLOC rules");
    env_up(&e, "iommu=smmuv3\n");
    memset(&a, 0, sizeof(a));
    a.size = offsetof(struct iommu_veventq_alloc, out_veventq_fd);
    a.viommu_id = e.viommu;
    a.type = IOMMU_VEVENTQ_TYPE_ARM_SMMUV3;
    a.veventq_depth = 4;
    OK_ERR(ioctl(e.fd, IOMMU_VEVENTQ_ALLOC, &a), EINVAL,
           "size short of out_veventq_fd");
    a.size = offsetof(struct iommu_veventq_alloc, __reserved);
    OK_0(ioctl(e.fd, IOMMU_VEVENTQ_ALLOC, &a) || a.out_veventq_fd < 3,
         "size without __reserved is enough");
    close((int)a.out_veventq_fd);
    OK_0(t_destroy(e.fd, a.out_veventq_id), "and it can be destroyed");

    a.size = sizeof(a);
    a.flags = 1;
    a.veventq_depth = 0;
    OK_ERR(ioctl(e.fd, IOMMU_VEVENTQ_ALLOC, &a), EOPNOTSUPP,
           "flags (checked before the depth)");
    a.flags = 0;
    a.__reserved = 1;
    a.veventq_depth = 4;
    OK_ERR(ioctl(e.fd, IOMMU_VEVENTQ_ALLOC, &a), EOPNOTSUPP, "__reserved");
    a.__reserved = 0;
    OK_ERR(veventq(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_DEFAULT, 4, NULL, NULL),
           EOPNOTSUPP, "type DEFAULT");
    OK_ERR(veventq(e.fd, 999, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 0, NULL, NULL),
           EINVAL, "depth 0 (checked before the vIOMMU)");
    OK_ERR(veventq(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3,
                   (1u << 19) + 1, NULL, NULL), EINVAL, "depth above 1 << 19");
    OK_ERR(veventq(e.fd, 999, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 4, NULL, NULL),
           ENOENT, "missing vIOMMU");
    OK_ERR(veventq(e.fd, e.ioas, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 4, NULL, NULL),
           ENOENT, "an IOAS is not a vIOMMU");

    ok(iommufd_sim_set_fail("VEVENTQ_ALLOC:1:EOPNOTSUPP") == 0,
       "inject EOPNOTSUPP into the next VEVENTQ_ALLOC");
    OK_ERR(veventq(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 4, NULL,
                   NULL), EOPNOTSUPP, "... as a pre-6.15 kernel answers");
    iommufd_sim_set_fail("");
    ok(iommufd_sim_live("veventq") == 0, "no object made");
    OK_0(veventq(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 1u << 19, &id,
                 &qfd), "depth 1 << 19");
    ok(qfd > 2 && (fcntl(qfd, F_GETFD) & FD_CLOEXEC) &&
       (fcntl(qfd, F_GETFL) & O_ACCMODE) == O_RDWR,
       "out_veventq_fd is an O_RDWR fd with FD_CLOEXEC");
    ok(iommufd_sim_live("veventq") == 1, "live.veventq 1");
    {
        char *txt = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&txt, &len);
        unsigned all = iommufd_sim_live("all");

        iommufd_sim_report(f);
        fclose(f);
        ok(strstr(txt, "\nlive.veventq 1\n") && strstr(txt, ".live.veventq 1\n"),
           "the report has live.veventq 1 (and per context)");
        ok(all == iommufd_sim_live("ioas") + iommufd_sim_live("device") +
           iommufd_sim_live("hwpt_paging") + iommufd_sim_live("hwpt_nested") +
           iommufd_sim_live("viommu") + iommufd_sim_live("vdevice") + 1,
           "live.all counts it");
        free(txt);
    }
    OK_ERR(veventq(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 4, NULL,
                   NULL), EEXIST, "a second ARM_SMMUV3 vEVENTQ");
    OK_0(veventq(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV, 4, &id2,
                 &qfd2), "another type on an SMMUv3 vIOMMU (not checked)");
    ok(iommufd_sim_live("veventq") == 2 && quiet(qfd) && quiet(qfd2),
       "two vEVENTQs, neither readable");
    OK_ERR(t_destroy(e.fd, e.viommu), EBUSY, "vIOMMU DESTROY with vEVENTQs");
    OK_ERR(t_destroy(e.fd, id), EBUSY, "vEVENTQ DESTROY while its fd is open");
    {
        int d = dup(qfd);

        close(qfd);
        OK_ERR(t_destroy(e.fd, id), EBUSY, "... or a dup of it");
        close(d);
    }
    ok(iommufd_sim_live("veventq") == 2, "closing the fd keeps the object");
    OK_0(t_destroy(e.fd, id), "vEVENTQ DESTROY once closed");
    OK_ERR(t_destroy(e.fd, id), ENOENT, "its id is gone");
    OK_ERR(t_destroy(e.fd, e.viommu), EBUSY, "the other still holds the vIOMMU");
    close(qfd2);
    OK_0(t_destroy(e.fd, id2), "destroy the other");
    OK_0(veventq(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 4, &id, &qfd),
         "allocate again after DESTROY");
    close(qfd);

    /* a reply that cannot be written: object and fd are dropped */
    {
        struct iommu_veventq_alloc *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        int probe;

        *ro = (struct iommu_veventq_alloc){ .size = sizeof(*ro),
            .viommu_id = e.viommu, .type = IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV,
            .veventq_depth = 4 };
        mprotect(ro, 4096, PROT_READ);
        OK_ERR(ioctl(e.fd, IOMMU_VEVENTQ_ALLOC, ro), EFAULT,
               "read-only reply -> EFAULT");
        probe = open("/dev/null", O_RDONLY);
        ok(iommufd_sim_live("veventq") == 1 && probe == qfd,
           "no object made, no fd left behind");
        close(probe);
        munmap(ro, 4096);
    }
    OK_0(t_destroy(e.fd, id), "destroy");
    env_down(&e);
    ok(iommufd_sim_live("all") == 0, "nothing left");
}

/* The vEVENTQ file holds the iommufd: the context outlives its fd. */
static void test_ctx_ref(void)
{
    uint32_t id;
    int qfd;
    Env e;

    diag("vEVENTQ fd keeps the iommufd alive");
    env_up(&e, "iommu=smmuv3\n");
    OK_0(veventq(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 8, &id, &qfd),
         "vEVENTQ");
    close(e.dev);
    close(e.fd);
    ok(iommufd_sim_contexts() == 1 && iommufd_sim_live("veventq") == 1,
       "iommufd and device closed: the context lives on");
    ok(read(qfd, (char[64]){ 0 }, 64) == 0, "the fd still reads (empty)");
    close(qfd);
    ok(iommufd_sim_contexts() == 0 && iommufd_sim_live("all") == 0,
       "closing the vEVENTQ fd releases it all");
}

/* ---- records of nested faults ---- */
static void test_events(void)
{
    uint8_t buf[256];
    uint64_t unfwd;
    uint32_t id, seq;
    int qfd;
    Rec r;
    Env e;

    diag("nested stage-1 faults as vEVENTs");
    env_up(&e, "iommu=smmuv3\nsid=0x1234\n");
    ok(dma_fault(&e, VA_NONE, false), "a fault before the vEVENTQ exists");
    OK_0(veventq(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 8, &id, &qfd),
         "vEVENTQ depth 8");
    ok(quiet(qfd) && read(qfd, buf, sizeof(buf)) == 0,
       "a fault before the vEVENTQ is not queued later; empty read is 0");
    ok(!dma_fault(&e, VA_RW, false), "a good DMA makes no event");
    ok(quiet(qfd), "... not readable");

    ok(dma_fault(&e, VA_NONE + 0x10, false) &&
       t_reg(e.dev, SIMDEV_REG_FAULT_CODE) == SIM_FAULT_S1_NOT_PRESENT,
       "DMA read of an unmapped IOVA faults");
    ok(readable(qfd), "the fd polls POLLIN (only)");
    ok(read(qfd, buf, sizeof(buf)) == REC, "read: one 40-byte vEVENT");
    r = rec_at(buf);
    seq = r.seq;
    ok(r.flags == 0 && seq == 0, "header: flags 0, sequence 0");
    ok(EVT_ID(r) == 0x10 && EVT_SID(r) == VSID,
       "F_TRANSLATION, StreamID = vSID 0x%x (not the physical 0x1234): %016llx",
       VSID, (unsigned long long)r.evt[0]);
    ok(r.evt[2] == VA_NONE + 0x10 && EVT_RNW(r) && !EVT_S2(r) &&
       EVT_CLASS(r) == 2 && r.evt[3] == 0,
       "InputAddr = IOVA, RnW, stage 1, CLASS IN: %016llx %016llx %016llx",
       (unsigned long long)r.evt[1], (unsigned long long)r.evt[2],
       (unsigned long long)r.evt[3]);
    ok(!(r.evt[0] & (1ull << 11)), "no SSV");
    ok(quiet(qfd) && read(qfd, buf, sizeof(buf)) == 0, "drained");

    ok(dma_fault(&e, VA_RO, true), "DMA write to a read-only page faults");
    ok(read(qfd, buf, sizeof(buf)) == REC, "one vEVENT");
    r = rec_at(buf);
    ok(r.seq == seq + 1 && EVT_ID(r) == 0x13 && !EVT_RNW(r) &&
       r.evt[2] == VA_RO, "F_PERMISSION, write, sequence 1");
    ok(dma_fault(&e, VA_NOAF, false), "AF = 0 faults");
    ok(read(qfd, buf, sizeof(buf)) == REC, "one vEVENT");
    r = rec_at(buf);
    ok(r.seq == seq + 2 && EVT_ID(r) == 0x12, "F_ACCESS, sequence 2");

    unfwd = iommufd_sim_counter("smmu.events_unforwarded");
    ok(dma_fault(&e, VA_S2, false) &&
       t_reg(e.dev, SIMDEV_REG_FAULT_CODE) == SIM_FAULT_S2_UNMAPPED,
       "a stage-2 fault on the output IPA");
    ok(quiet(qfd) && iommufd_sim_counter("smmu.events_unforwarded") ==
       unfwd + 1, "stage-2 faults are not forwarded (S2 = 1)");

    /* SSID on a CD table without substreams: C_BAD_SUBSTREAMID */
    t_wreg(e.dev, SIMDEV_REG_CTRL, SIMDEV_CTRL_USE_PASID);
    t_wreg(e.dev, SIMDEV_REG_PASID, 5);
    ok(dma_fault(&e, VA_RW, false), "DMA with SSID 5, S1CDMax 0");
    ok(read(qfd, buf, sizeof(buf)) == REC, "one vEVENT");
    r = rec_at(buf);
    ok(r.seq == seq + 3 && EVT_ID(r) == 0x08 && EVT_SID(r) == VSID &&
       (r.evt[0] & (1ull << 11)) && ((r.evt[0] >> 12) & 0xfffff) == 5 &&
       !r.evt[1] && !r.evt[2],
       "C_BAD_SUBSTREAMID with SSV and SSID 5, sequence 3 (the stage-2 "
       "fault took none): %016llx", (unsigned long long)r.evt[0]);
    t_wreg(e.dev, SIMDEV_REG_CTRL, 0);

    /* an invalid CD: C_BAD_CD */
    gw64(e.cd, 0);
    {
        uint64_t c[2] = { 0x06 | ((uint64_t)VSID << 32), 0 };
        uint32_t n = 1;

        OK_0(t_invalidate(e.fd, e.viommu,
                          IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3, c,
                          sizeof(c), &n), "CD zeroed, CFGI_CD_ALL");
    }
    ok(dma_fault(&e, VA_RW, false), "DMA faults");
    ok(read(qfd, buf, sizeof(buf)) == REC, "one vEVENT");
    r = rec_at(buf);
    ok(EVT_ID(r) == 0x0a && EVT_SID(r) == VSID && !r.evt[2], "C_BAD_CD");
    t_attach(e.dev, &e.parent);
    ok(dma_fault(&e, VA_RW, false) && quiet(qfd),
       "a stage-2 fault of the parent (no vmaster): nothing forwarded");
    close(qfd);
    OK_0(t_destroy(e.fd, id), "destroy the vEVENTQ");
    env_down(&e);
}

/* A master without a vmaster forwards nothing. */
static void test_no_vdevice(void)
{
    uint8_t buf[64];
    uint32_t id, byp;
    int qfd;
    Env e;

    diag("no vDEVICE, no vEVENT");
    env_up(&e, "iommu=smmuv3\n");
    OK_0(veventq(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 8, &id, &qfd),
         "vEVENTQ");
    t_attach(e.dev, &e.parent);
    t_destroy(e.fd, e.vdev);
    byp = nested_hwpt(&e, 1 | (4ull << 1));
    ok(byp && !t_attach(e.dev, &byp), "bypass vSTE attached without vDEVICE");
    ok(dma_fault(&e, 0x7000000000ull, false), "a stage-2 fault");
    ok(quiet(qfd) && read(qfd, buf, sizeof(buf)) == 0, "nothing queued");
    {
        uint64_t evt[4] = { 0x10, 0, 0x1000, 0 };

        ok(iommufd_sim_inject_event(e.dev, evt) == -EOPNOTSUPP && quiet(qfd),
           "an injected F_TRANSLATION is not forwarded either (no vmaster)");
    }
    t_attach(e.dev, &e.parent);
    t_destroy(e.fd, byp);
    close(qfd);
    t_destroy(e.fd, id);
    e.vdev = 0;
    env_down(&e);
}

/* ---- depth, lost events, partial reads ---- */
static void test_depth(void)
{
    uint8_t buf[512];
    uint32_t id;
    int qfd;
    Rec r;
    Env e;

    diag("depth 2: overflow and the lost-events header");
    env_up(&e, "iommu=smmuv3\n");
    OK_0(veventq(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 2, &id, &qfd),
         "vEVENTQ depth 2");
    for (int i = 0; i < 4; i++) {
        dma_fault(&e, VA_NONE + 0x1000 * i, false);
    }
    ok(iommufd_sim_counter("veventq.lost") >= 2, "veventq.lost counted");
    OK_ERR(read(qfd, buf, 7), EINVAL, "read of 7 bytes");
    OK_ERR(read(qfd, buf, REC - 1), EINVAL, "read of 39: the vEVENT does not fit");
    ok(readable(qfd), "... and stays queued");
    ok(read(qfd, buf, REC + 20) == REC, "read of 60 gives one vEVENT");
    r = rec_at(buf);
    ok(r.seq == 0 && r.evt[2] == VA_NONE, "sequence 0");
    ok(read(qfd, buf, sizeof(buf)) == REC + HDR, "then 40 + 8 bytes");
    r = rec_at(buf);
    ok(r.flags == 0 && r.seq == 1 && r.evt[2] == VA_NONE + 0x1000,
       "sequence 1");
    {
        uint32_t fl, sq;

        memcpy(&fl, buf + REC, 4);
        memcpy(&sq, buf + REC + 4, 4);
        ok(fl == IOMMU_VEVENTQ_FLAG_LOST_EVENTS && sq == 3,
           "lost-events header, sequence 3 (the last one lost)");
    }
    ok(quiet(qfd), "empty");
    dma_fault(&e, VA_NONE + 0x5000, false);
    ok(read(qfd, buf, sizeof(buf)) == REC && rec_at(buf).seq == 4 &&
       rec_at(buf).flags == 0, "the next vEVENT has sequence 4");

    /* overflow again, read one, then a new vEVENT replaces the header */
    for (int i = 0; i < 3; i++) {
        dma_fault(&e, VA_NONE + 0x10000 * (i + 1), false);
    }
    ok(read(qfd, buf, HDR) == -1 && errno == EINVAL,
       "read of 8 with a vEVENT at the head: EINVAL");
    ok(read(qfd, buf, REC) == REC && rec_at(buf).seq == 5, "sequence 5");
    dma_fault(&e, VA_NONE + 0x40000, false);
    ok(read(qfd, buf, sizeof(buf)) == 2 * REC, "two vEVENTs, no header");
    ok(rec_at(buf).seq == 6 && rec_at(buf + REC).seq == 8 &&
       rec_at(buf + REC).evt[2] == VA_NONE + 0x40000,
       "sequences 6 and 8: the gap says one was lost");
    /* header alone: 8 bytes are enough */
    for (int i = 0; i < 3; i++) {
        dma_fault(&e, VA_NONE, false);
    }
    ok(read(qfd, buf, 2 * REC) == 2 * REC, "two vEVENTs");
    ok(read(qfd, buf, HDR) == HDR && rec_at(buf).flags == 1 &&
       rec_at(buf).seq == 11, "then the 8-byte header, sequence 11");
    ok(quiet(qfd), "empty");

    /* readv, pread, write, ioctl */
    dma_fault(&e, VA_NONE, false);
    dma_fault(&e, VA_NONE + 0x1000, false);
    {
        uint8_t b1[REC], b2[REC + 8];
        struct iovec v[3] = { { b1, REC }, { NULL, 0 }, { b2, sizeof(b2) } };
        struct iovec z[2] = { { NULL, 0 }, { b1, REC } };

        OK_ERR(readv(qfd, z, 2), EINVAL, "readv with an empty first segment");
        OK_ERR(pread(qfd, buf, sizeof(buf), 0), ESPIPE, "pread");
        OK_ERR(write(qfd, buf, 8), EINVAL, "write");
        OK_ERR(ioctl(qfd, IOMMU_DESTROY, buf), ENOTTY, "ioctl");
        ok(readv(qfd, v, 3) == 2 * REC && rec_at(b1).seq == 12 &&
           rec_at(b2).seq == 13, "readv: one vEVENT per segment");
    }
    ok(quiet(qfd), "empty");
    close(qfd);
    t_destroy(e.fd, id);
    env_down(&e);
}

/* The hook and the BAR op: arbitrary records through the driver's rules. */
static void test_inject(void)
{
    uint8_t buf[128];
    uint32_t id;
    int qfd;
    Rec r;
    Env e;

    diag("injected host event records");
    env_up(&e, "iommu=smmuv3\n");
    OK_0(veventq(e.fd, e.viommu, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 8, &id, &qfd),
         "vEVENTQ");
    {
        uint64_t odd[4] = { 0x13 | (1ull << 11) | (0x77ull << 12) |
                            (0xdeadull << 32), 0x0000001234560000ull | 0xabcd,
                            0xfedcba9876543210ull, 0x000abcdef0123ff8ull };
        uint64_t stall[4] = { 0x10, 1ull << 31, 0, 0 };
        uint64_t s2[4] = { 0x10, 1ull << 39, 0, 0 };
        uint64_t other[4] = { 0x03, 0, 0, 0 };

        ok(iommufd_sim_inject_event(e.dev, odd) == 0, "F_PERMISSION injected");
        ok(read(qfd, buf, sizeof(buf)) == REC, "one vEVENT");
        r = rec_at(buf);
        ok(r.evt[0] == ((odd[0] & 0xffffffffull) | ((uint64_t)VSID << 32)) &&
           r.evt[1] == odd[1] && r.evt[2] == odd[2] && r.evt[3] == odd[3],
           "every bit kept but the StreamID (the vSID)");
        ok(iommufd_sim_inject_event(e.dev, stall) == -EOPNOTSUPP &&
           iommufd_sim_inject_event(e.dev, s2) == -EOPNOTSUPP &&
           iommufd_sim_inject_event(e.dev, other) == -EOPNOTSUPP,
           "Stall, S2, F_STE_FETCH are not forwarded");
        ok(quiet(qfd), "nothing queued");
        for (int i = 0; i < 4; i++) {
            uint64_t w = htole64(odd[i]);

            memcpy(buf + 8 * i, &w, 8);
        }
        for (int i = 0; i < 32; i += 4) {
            uint32_t w;

            memcpy(&w, buf + i, 4);
            t_wreg(e.dev, SIMDEV_REG_DATA + i, w);
        }
        ok(t_dma(e.dev, SIMDEV_OP_INJECT_EVENT, 0, 0, 0) ==
           SIMDEV_STATUS_DONE, "SIMDEV_OP_INJECT_EVENT through BAR0");
        ok(read(qfd, buf, sizeof(buf)) == REC && rec_at(buf).evt[2] == odd[2],
           "the same vEVENT");
        t_wreg(e.dev, SIMDEV_REG_DATA + 4, 0);
        t_wreg(e.dev, SIMDEV_REG_DATA, 0x20);      /* not handled */
        ok(t_dma(e.dev, SIMDEV_OP_INJECT_EVENT, 0, 0, 0) ==
           (SIMDEV_STATUS_DONE | SIMDEV_STATUS_ERROR) &&
           t_reg(e.dev, SIMDEV_REG_FAULT_CODE) == SIMDEV_ERR_NOT_FORWARDED,
           "a type Linux does not forward: ERROR, NOT_FORWARDED");
    }
    close(qfd);
    t_destroy(e.fd, id);
    env_down(&e);
}

int main(void)
{
    test_alloc();
    test_ctx_ref();
    test_events();
    test_no_vdevice();
    test_depth();
    test_inject();
    ok(iommufd_sim_live("all") == 0 && iommufd_sim_contexts() == 0,
       "nothing left at the end");
    return tap_done();
}
