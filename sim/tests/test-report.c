/*
 * iommufd-sim: observability.  Fault injection (in-process and through
 * IOMMUFD_SIM_FAIL), the operation log, and the exit report / leak check,
 * using child processes that run this binary with a mode argument.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

/* Child: create objects; with @clean destroy them all before exit. */
static int child_objects(bool clean)
{
    int fd = t_iommufd(), dev = t_devfd("iommu=vtd\n");
    uint32_t id = t_bind(dev, fd), ioas = t_ioas(fd), parent, nested;
    struct iommu_hwpt_vtd_s1 s1 = { .pgtbl_addr = 0x1000, .addr_width = 48 };
    uint32_t pt = ioas;

    if (t_attach(dev, &pt) ||
        t_hwpt(fd, id, ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, 0, NULL, 0,
               &parent) ||
        t_hwpt(fd, id, parent, 0, IOMMU_HWPT_DATA_VTD_S1, &s1, sizeof(s1),
               &nested)) {
        return 3;
    }
    if (clean) {
        if (t_destroy(fd, nested) || t_destroy(fd, parent) || t_detach(dev)) {
            return 4;
        }
        close(dev);
        if (t_destroy(fd, ioas)) {
            return 5;
        }
    }
    return 0;                   /* exit with everything still open */
}

/* Child: the env asks for IOAS_ALLOC #2 to fail with ENOMEM. */
static int child_fail(void)
{
    int fd = t_iommufd();
    struct iommu_ioas_alloc a = { .size = sizeof(a) };

    if (ioctl(fd, IOMMU_IOAS_ALLOC, &a)) {
        return 3;
    }
    if (!ioctl(fd, IOMMU_IOAS_ALLOC, &a) || errno != ENOMEM) {
        return 4;
    }
    if (ioctl(fd, IOMMU_IOAS_ALLOC, &a)) {
        return 5;
    }
    return 0;
}

static const char *self;        /* argv[0]: /proc/self/exe is valgrind's */

static int run_child(const char *mode, const char *report, const char *fail,
                     const char *log)
{
    pid_t pid = fork();
    int st;

    if (pid == 0) {
        setenv("IOMMUFD_SIM_REPORT", report, 1);
        if (fail) {
            setenv("IOMMUFD_SIM_FAIL", fail, 1);
        }
        if (log) {
            setenv("IOMMUFD_SIM_LOG", log, 1);
        }
        execl(self, self, mode, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) != pid) {
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Value of "key value" in the report, or -1. */
static long report_get(const char *path, const char *key)
{
    char line[256], k[128];
    long v, ret = -1;
    FILE *f = fopen(path, "r");

    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%127s %ld", k, &v) == 2 && !strcmp(k, key)) {
            ret = v;
        }
    }
    fclose(f);
    return ret;
}

static bool file_has(const char *path, const char *needle)
{
    char line[512];
    bool found = false;
    FILE *f = fopen(path, "r");

    while (f && fgets(line, sizeof(line), f)) {
        found |= strstr(line, needle) != NULL;
    }
    if (f) {
        fclose(f);
    }
    return found;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/iommufd-sim-test-XXXXXX", rep[128], log[128];
    int fd;
    struct iommu_ioas_alloc a = { .size = sizeof(a) };

    self = argv[0];
    if (argc > 1) {
        return !strcmp(argv[1], "fail") ? child_fail() :
               child_objects(!strcmp(argv[1], "clean"));
    }
    if (!mkdtemp(dir)) {
        return 2;
    }
    snprintf(rep, sizeof(rep), "%s/report", dir);
    snprintf(log, sizeof(log), "%s/log", dir);

    /* in-process fault injection */
    fd = t_iommufd();
    OK_0(iommufd_sim_set_fail("IOAS_ALLOC:2:EBUSY,BIND:1:ENODEV"),
         "set a fail spec");
    ok(iommufd_sim_set_fail("IOAS_ALLOC:x:EBUSY") == -EINVAL,
       "a bad fail spec is rejected");
    OK_0(iommufd_sim_set_fail("IOAS_ALLOC:2:EBUSY"), "set it again");
    OK_0(ioctl(fd, IOMMU_IOAS_ALLOC, &a), "call 1 passes");
    OK_ERR(ioctl(fd, IOMMU_IOAS_ALLOC, &a), EBUSY, "call 2 gets the errno");
    OK_0(ioctl(fd, IOMMU_IOAS_ALLOC, &a), "call 3 passes");
    ok(iommufd_sim_counter("fail.injected") == 1 &&
       iommufd_sim_counter("ioctl.IOAS_ALLOC") == 3,
       "counters: one injection, three IOAS_ALLOC calls");
    iommufd_sim_set_fail("");
    close(fd);

    /* through the environment, in a child */
    ok(run_child("fail", rep, "IOAS_ALLOC:2:ENOMEM", log) == 0,
       "IOMMUFD_SIM_FAIL injects ENOMEM into the 2nd IOAS_ALLOC");
    ok(file_has(log, "IOAS_ALLOC inject -ENOMEM") &&
       file_has(log, "iommufd IOAS_ALLOC"), "the log records it");

    /* leak report */
    ok(run_child("leak", rep, NULL, NULL) == 0, "child exits holding objects");
    ok(report_get(rep, "live.ioas") == 1 && report_get(rep, "live.device") == 1 &&
       report_get(rep, "live.hwpt_paging") == 2 &&
       report_get(rep, "live.hwpt_nested") == 1 &&
       report_get(rep, "live.all") == 5 && report_get(rep, "contexts") == 1 &&
       report_get(rep, "ctx0.live.hwpt_nested") == 1,
       "report lists the live objects by kind and context");
    ok(report_get(rep, "ioctl.HWPT_ALLOC") == 2 &&
       report_get(rep, "ioctl.ATTACH") == 1, "report counts ioctls by kind");
    ok(run_child("clean", rep, NULL, NULL) == 0, "child destroys everything");
    ok(report_get(rep, "live.all") == 0 && report_get(rep, "contexts") == 1 &&
       report_get(rep, "live.hwpt_nested") == 0,
       "report shows zero live objects");
    unlink(rep);
    unlink(log);
    rmdir(dir);
    return tap_done();
}
