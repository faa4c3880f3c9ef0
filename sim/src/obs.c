/*
 * iommufd-sim: observability.  Log (IOMMUFD_SIM_LOG), fault injection
 * (IOMMUFD_SIM_FAIL), counters, and the exit report (IOMMUFD_SIM_REPORT).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "iommufd-sim.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void sim_lock(void)
{
    pthread_mutex_lock(&lock);
}

void sim_unlock(void)
{
    pthread_mutex_unlock(&lock);
}

/* ---- counters: a small name -> value table ---- */
#define MAX_COUNTERS 128
static struct { char name[40]; uint64_t val; } counters[MAX_COUNTERS];
static unsigned ncounters;

static uint64_t *counter_slot(const char *name, bool create)
{
    for (unsigned i = 0; i < ncounters; i++) {
        if (!strcmp(counters[i].name, name)) {
            return &counters[i].val;
        }
    }
    if (!create || ncounters == MAX_COUNTERS) {
        return NULL;
    }
    snprintf(counters[ncounters].name, sizeof(counters[0].name), "%s", name);
    return &counters[ncounters++].val;
}

void sim_count(const char *name, uint64_t n)
{
    uint64_t *slot = counter_slot(name, true);

    if (slot) {
        *slot += n;
    }
}

/* ---- errno names for the log and the fail spec ---- */
static const struct { int err; const char *name; } errnames[] = {
    { EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EIO, "EIO" },
    { E2BIG, "E2BIG" }, { EBADF, "EBADF" }, { ENOMEM, "ENOMEM" },
    { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" }, { EEXIST, "EEXIST" },
    { ENODEV, "ENODEV" }, { EINVAL, "EINVAL" }, { ENOSPC, "ENOSPC" },
    { ENOTTY, "ENOTTY" }, { EOVERFLOW, "EOVERFLOW" }, { EBADFD, "EBADFD" },
    { EMSGSIZE, "EMSGSIZE" }, { EOPNOTSUPP, "EOPNOTSUPP" },
    { EADDRINUSE, "EADDRINUSE" }, { EAGAIN, "EAGAIN" }, { ENXIO, "ENXIO" },
};

const char *sim_errname(int err)
{
    for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++) {
        if (errnames[i].err == err) {
            return errnames[i].name;
        }
    }
    return "E?";
}

static int parse_errno(const char *s)
{
    char *end;
    long v;

    for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++) {
        if (!strcmp(errnames[i].name, s)) {
            return errnames[i].err;
        }
    }
    v = strtol(s, &end, 0);
    return (*s && !*end && v > 0 && v < 4096) ? (int)v : -1;
}

/* ---- log ---- */
static FILE *logf_;

void sim_log(const char *fmt, ...)
{
    va_list ap;

    if (!logf_) {
        return;
    }
    va_start(ap, fmt);
    vfprintf(logf_, fmt, ap);
    va_end(ap);
    fputc('\n', logf_);
    fflush(logf_);
}

/* ---- fault injection ---- */
#define MAX_FAILS 16
/* @at: -1, or the entry an "OP:N:EIO@K" spec refuses (the call runs) */
static struct {
    char op[32];
    unsigned long nth;
    int err;
    long at;
} fails[MAX_FAILS];
static unsigned nfails;
#define MAX_OPS 64
static struct { char op[32]; unsigned long calls; } opcalls[MAX_OPS];
static unsigned nopcalls;

static int parse_fail_spec(const char *spec)
{
    char *copy = strdup(spec), *save = NULL, *tok;
    unsigned n = 0;
    int ret = 0;

    if (!copy) {
        return -ENOMEM;
    }
    for (tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *c1 = strchr(tok, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        char *at = c2 ? strchr(c2 + 1, '@') : NULL;
        char *end, *aend = NULL;
        int err;
        unsigned long nth, k = 0;

        if (!c1 || !c2 || n == MAX_FAILS || c1 - tok >= 32 || c1 == tok) {
            ret = -EINVAL;
            break;
        }
        *c1 = *c2 = 0;
        if (at) {
            *at = 0;
            k = strtoul(at + 1, &aend, 10);
        }
        nth = strtoul(c1 + 1, &end, 0);
        err = parse_errno(c2 + 1);
        if (*end || !nth || err < 0) {
            ret = -EINVAL;
            break;
        }
        /* "@K": only a refused SMMUv3 command, which the kernel makes EIO */
        if (at && (!isdigit((unsigned char)at[1]) || *aend ||
                   k > UINT32_MAX || err != EIO ||
                   strcmp(tok, "HWPT_INVALIDATE"))) {
            ret = -EINVAL;
            break;
        }
        snprintf(fails[n].op, sizeof(fails[n].op), "%s", tok);
        fails[n].nth = nth;
        fails[n].err = err;
        fails[n].at = at ? (long)k : -1;
        n++;
    }
    free(copy);
    nfails = ret ? 0 : n;
    nopcalls = 0;
    return ret;
}

/* How many calls of @op sim_fail_check has counted (0 if none). */
static unsigned long op_calls(const char *op)
{
    for (unsigned i = 0; i < nopcalls; i++) {
        if (!strcmp(opcalls[i].op, op)) {
            return opcalls[i].calls;
        }
    }
    return 0;
}

int sim_fail_check(const char *op)
{
    unsigned long calls = 0;
    unsigned i;

    for (i = 0; i < nopcalls; i++) {
        if (!strcmp(opcalls[i].op, op)) {
            break;
        }
    }
    if (i == nopcalls && nopcalls < MAX_OPS) {
        snprintf(opcalls[i].op, sizeof(opcalls[i].op), "%s", op);
        opcalls[i].calls = 0;
        nopcalls++;
    }
    if (i < nopcalls) {
        calls = ++opcalls[i].calls;
    }
    for (unsigned f = 0; f < nfails; f++) {
        if (!strcmp(fails[f].op, op) && fails[f].nth == calls &&
            fails[f].at < 0) {
            sim_count("fail.injected", 1);
            sim_log("%s inject -%s (call %lu)", op, sim_errname(fails[f].err),
                    calls);
            return -fails[f].err;
        }
    }
    return 0;
}

long sim_fail_refuse_at(const char *op)
{
    unsigned long calls = op_calls(op);
    long k = -1;

    for (unsigned f = 0; f < nfails; f++) {
        if (fails[f].at >= 0 && fails[f].nth == calls &&
            !strcmp(fails[f].op, op) && (k < 0 || fails[f].at < k)) {
            k = fails[f].at;
        }
    }
    return k;
}

int sim_fail_refuse(const char *op, uint32_t entry)
{
    sim_count("fail.injected", 1);
    /*
     * No errno here: the call's own log line says "-> -EIO", so one line
     * per call matches the op and "-EIO", as with "OP:N:EIO".
     */
    sim_log("%s inject refusal of entry %u (call %lu)", op, entry,
            op_calls(op));
    return -EIO;
}

/* ---- context registry (for the report) ---- */
#define MAX_CTX 64
static SimCtx *ctxs[MAX_CTX];
static unsigned ctx_serial;

void sim_ctx_register(SimCtx *ctx)
{
    ctx->serial = ctx_serial++;
    for (unsigned i = 0; i < MAX_CTX; i++) {
        if (!ctxs[i]) {
            ctxs[i] = ctx;
            return;
        }
    }
    sim_log("warning: too many iommufd contexts for the report");
}

void sim_ctx_unregister(SimCtx *ctx)
{
    for (unsigned i = 0; i < MAX_CTX; i++) {
        if (ctxs[i] == ctx) {
            ctxs[i] = NULL;
        }
    }
}

static unsigned live_all(enum sim_obj_kind kind)
{
    unsigned n = 0;

    for (unsigned i = 0; i < MAX_CTX; i++) {
        if (ctxs[i]) {
            n += sim_ctx_live(ctxs[i], kind);
        }
    }
    return n;
}

static void report_locked(FILE *f)
{
    unsigned nctx = 0, total = 0;

    for (unsigned i = 0; i < MAX_CTX; i++) {
        if (!ctxs[i]) {
            continue;
        }
        nctx++;
        for (int k = OBJ_IOAS; k < OBJ_KIND_MAX; k++) {
            fprintf(f, "ctx%u.live.%s %u\n", ctxs[i]->serial,
                    sim_obj_kind_name(k), sim_ctx_live(ctxs[i], k));
        }
    }
    fprintf(f, "contexts %u\n", nctx);
    for (int k = OBJ_IOAS; k < OBJ_KIND_MAX; k++) {
        unsigned n = live_all(k);

        fprintf(f, "live.%s %u\n", sim_obj_kind_name(k), n);
        total += n;
    }
    fprintf(f, "live.all %u\n", total);
    for (unsigned i = 0; i < ncounters; i++) {
        fprintf(f, "%s %llu\n", counters[i].name,
                (unsigned long long)counters[i].val);
    }
}

/* ---- public in-process API ---- */
__attribute__((visibility("default")))
uint64_t iommufd_sim_counter(const char *name)
{
    uint64_t v;

    sim_lock();
    {
        uint64_t *slot = counter_slot(name, false);

        v = slot ? *slot : 0;
    }
    sim_unlock();
    return v;
}

__attribute__((visibility("default")))
unsigned iommufd_sim_live(const char *kind)
{
    unsigned n = 0;

    sim_lock();
    for (int k = OBJ_IOAS; k < OBJ_KIND_MAX; k++) {
        if (!strcmp(kind, "all") || !strcmp(kind, sim_obj_kind_name(k))) {
            n += live_all(k);
        }
    }
    sim_unlock();
    return n;
}

__attribute__((visibility("default")))
unsigned iommufd_sim_contexts(void)
{
    unsigned n = 0;

    sim_lock();
    for (unsigned i = 0; i < MAX_CTX; i++) {
        n += ctxs[i] != NULL;
    }
    sim_unlock();
    return n;
}

__attribute__((visibility("default")))
void iommufd_sim_report(FILE *f)
{
    sim_lock();
    report_locked(f);
    sim_unlock();
}

__attribute__((visibility("default")))
int iommufd_sim_set_fail(const char *spec)
{
    int ret;

    sim_lock();
    ret = parse_fail_spec(spec ? spec : "");
    sim_unlock();
    return ret;
}

/* ---- init / exit ---- */
void sim_obs_init(void)
{
    const char *path = getenv("IOMMUFD_SIM_LOG");
    const char *spec = getenv("IOMMUFD_SIM_FAIL");

    if (path && *path) {
        logf_ = fopen(path, "ae");
    }
    if (spec && *spec && parse_fail_spec(spec)) {
        sim_log("warning: bad IOMMUFD_SIM_FAIL '%s' ignored", spec);
    }
}

__attribute__((destructor))
static void sim_obs_exit(void)
{
    const char *path = getenv("IOMMUFD_SIM_REPORT");

    if (path && *path) {
        FILE *f = fopen(path, "we");

        if (f) {
            /* never hang the exit path on a lock a dying thread holds */
            bool locked = pthread_mutex_trylock(&lock) == 0;

            report_locked(f);
            if (locked) {
                sim_unlock();
            }
            fclose(f);
        }
    }
    if (logf_) {
        fclose(logf_);
        logf_ = NULL;
    }
}
