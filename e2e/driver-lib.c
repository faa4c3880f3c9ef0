/*
 * The L2 drivers' shared part (see driver-lib.h): runs inside L1 (or on
 * this machine for a dry run) and plays the L2 guest over the qtest
 * protocol.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "driver-lib.h"

const char *trace_log;
int failures;

static pid_t qemu_pid;
static FILE *qtest;
static FILE *qmp;
static char *qmp_path;
static char *stderr_log;
static char *sock_path;
static uint64_t edu_bar;

static void stop_qemu(int sig)
{
    if (qemu_pid > 0) {
        kill(qemu_pid, sig);
    }
}

static void dump_file(const char *path, const char *what)
{
    char line[512];
    FILE *f = path ? fopen(path, "r") : NULL;

    if (!f) {
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        printf("e2e-driver: L2 %s: %s", what, line);
    }
    fclose(f);
}

/* QEMU's messages and trace, for the console when something went wrong */
static void dump_log(void)
{
    dump_file(stderr_log, "stderr");
    dump_file(trace_log, "trace");
}

void die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "e2e-driver: FAIL: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    stop_qemu(SIGKILL);
    if (sock_path) {
        unlink(sock_path);
    }
    fflush(stderr);
    dump_log();
    printf("e2e-driver: FAIL\n");
    exit(1);
}

static void on_alarm(int sig)
{
    (void)sig;
    die("timeout");
}

void check(bool ok, const char *fmt, ...)
{
    va_list ap;

    printf("e2e-driver: %s: ", ok ? "ok" : "FAIL");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (!ok) {
        failures++;
    }
}

/* --- qtest protocol ------------------------------------------------------ */

static char reply[2 * XFER + 64];

/* Send one command and return the "OK ..." reply (without "OK") */
const char *qcmd(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(qtest, fmt, ap);
    va_end(ap);
    fputc('\n', qtest);
    fflush(qtest);
    for (;;) {
        size_t n;

        if (!fgets(reply, sizeof(reply), qtest)) {
            die("qtest connection closed (did QEMU exit?)");
        }
        n = strlen(reply);
        if (n && reply[n - 1] == '\n') {
            reply[n - 1] = 0;
        }
        if (!strncmp(reply, "IRQ", 3)) {
            continue;       /* asynchronous, not a reply */
        }
        if (strncmp(reply, "OK", 2)) {
            die("qtest: '%s'", reply);
        }
        return reply[2] ? reply + 3 : reply + 2;
    }
}

static char size_char(int bits)
{
    return bits == 8 ? 'b' : bits == 16 ? 'w' : bits == 32 ? 'l' : 'q';
}

uint64_t rd(int bits, uint64_t addr)
{
    return strtoull(qcmd("read%c 0x%" PRIx64, size_char(bits), addr),
                    NULL, 0);
}

void wr(int bits, uint64_t addr, uint64_t val)
{
    qcmd("write%c 0x%" PRIx64 " 0x%" PRIx64, size_char(bits), addr, val);
}

/* I/O ports: inb/inw/inl, outb/outw/outl */
uint32_t pio_rd(int bits, uint16_t port)
{
    return strtoul(qcmd("in%c 0x%x", size_char(bits), port), NULL, 0);
}

void pio_wr(int bits, uint16_t port, uint32_t val)
{
    qcmd("out%c 0x%x 0x%x", size_char(bits), port, val);
}

void memwrite(uint64_t addr, const uint8_t *buf, size_t len)
{
    static char hex[2 * XFER + 1];
    size_t i;

    for (i = 0; i < len; i++) {
        sprintf(hex + 2 * i, "%02x", buf[i]);
    }
    qcmd("write 0x%" PRIx64 " 0x%zx 0x%s", addr, len, hex);
}

void memread(uint64_t addr, uint8_t *buf, size_t len)
{
    const char *p = qcmd("read 0x%" PRIx64 " 0x%zx", addr, len);
    size_t i;

    if (strncmp(p, "0x", 2) || strlen(p + 2) < 2 * len) {
        die("qtest read: '%s'", p);
    }
    for (i = 0; i < len; i++) {
        unsigned v;

        sscanf(p + 2 + 2 * i, "%2x", &v);
        buf[i] = v;
    }
}

static void start_qemu(int argc, char **argv, const char *const *events)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    char **args;
    char *qtest_arg, *qmp_arg;
    int lfd, fd, i, n = 0, logfd, n_events = 0;

    while (events[n_events]) {
        n_events++;
    }
    args = calloc(argc + 2 * n_events + 16, sizeof(char *));
    if (asprintf(&sock_path, "/tmp/e2e-qtest-%d.sock", getpid()) < 0 ||
        asprintf(&qtest_arg, "unix:%s", sock_path) < 0 ||
        asprintf(&qmp_path, "/tmp/e2e-qmp-%d.sock", getpid()) < 0 ||
        asprintf(&qmp_arg, "unix:%s,server=on,wait=off", qmp_path) < 0 ||
        !args) {
        die("out of memory");
    }
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(sock_path);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) ||
        listen(lfd, 1)) {
        die("qtest socket %s: %s", sock_path, strerror(errno));
    }

    for (i = 0; i < argc; i++) {
        args[n++] = argv[i];
    }
    args[n++] = "-accel";
    args[n++] = "qtest";
    args[n++] = "-qtest";
    args[n++] = qtest_arg;
    args[n++] = "-qtest-log";
    args[n++] = "/dev/null";
    args[n++] = "-qmp";
    args[n++] = qmp_arg;
    /* what QEMU asks of the L1 kernel, with the ids the kernel returns */
    for (i = 0; i < n_events; i++) {
        args[n++] = "-trace";
        args[n++] = (char *)events[i];
    }
    args[n++] = "-D";
    args[n++] = (char *)trace_log;
    args[n] = NULL;

    printf("e2e-driver: L2:");
    for (i = 0; i < n; i++) {
        printf(" %s", args[i]);
    }
    printf("\n");
    fflush(stdout);

    if (asprintf(&stderr_log, "%s.stderr", trace_log) < 0) {
        die("out of memory");
    }
    unlink(trace_log);
    logfd = open(stderr_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    qemu_pid = fork();
    if (qemu_pid < 0) {
        die("fork: %s", strerror(errno));
    }
    if (!qemu_pid) {
        /* QEMU's own messages (errors, warnings) */
        if (logfd >= 0) {
            dup2(logfd, 2);
        }
        close(lfd);
        execv(args[0], args);
        fprintf(stderr, "exec %s: %s\n", args[0], strerror(errno));
        _exit(127);
    }
    if (logfd >= 0) {
        close(logfd);
    }

    /* QEMU connects while it parses its options; it may also just exit */
    for (;;) {
        struct pollfd pfd = { .fd = lfd, .events = POLLIN };
        int status;

        if (poll(&pfd, 1, 100) > 0) {
            break;
        }
        if (waitpid(qemu_pid, &status, WNOHANG) == qemu_pid) {
            qemu_pid = 0;
            die("QEMU exited (status 0x%x) before it connected", status);
        }
    }
    fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
        die("QEMU did not connect to %s: %s", sock_path, strerror(errno));
    }
    close(lfd);
    unlink(sock_path);
    qtest = fdopen(fd, "r+");
    if (!qtest) {
        die("fdopen: %s", strerror(errno));
    }
}

bool driver_start(int argc, char **argv, const char *const *trace_events)
{
    bool emulated = false;

    setvbuf(stdout, NULL, _IOLBF, 0);
    trace_log = getenv("E2E_TRACE_LOG") ?: "/tmp/e2e-l2-trace.log";
    if (argc > 1 && !strcmp(argv[1], "--emulated")) {
        emulated = true;
        argc--;
        argv++;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: %s [--emulated] QEMU [QEMU-ARGS...]\n",
                argv[0]);
        exit(2);
    }
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    alarm(600);

    start_qemu(argc - 1, argv + 1, trace_events);
    printf("e2e-driver: L2 QEMU is up (pid %d)\n", qemu_pid);
    return emulated;
}

int driver_finish(void)
{
    if (failures) {
        dump_log();
    }
    printf("e2e-driver: %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}

int stop_qemu_wait(void)
{
    int status = 0;

    fclose(qtest);
    qtest = NULL;
    kill(qemu_pid, SIGTERM);
    if (waitpid(qemu_pid, &status, 0) < 0) {
        return -1;
    }
    qemu_pid = 0;
    return status;
}

/* --- QMP: just enough for device_del ------------------------------------ */

void qmp_connect(void)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", qmp_path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
        die("QMP socket %s: %s", qmp_path, strerror(errno));
    }
    qmp = fdopen(fd, "r+");
    if (!qmp) {
        die("fdopen: %s", strerror(errno));
    }
}

/*
 * Send @cmd (or nothing) and read lines until one contains @want; events
 * on the way are skipped.  False if QMP reports an error first.
 */
bool qmp_wait(const char *cmd, const char *want)
{
    static char line[4096];

    if (cmd) {
        fprintf(qmp, "%s\n", cmd);
        fflush(qmp);
    }
    while (fgets(line, sizeof(line), qmp)) {
        if (strstr(line, want)) {
            return true;
        }
        if (strstr(line, "\"error\"")) {
            printf("e2e-driver: QMP: %s", line);
            return false;
        }
    }
    die("QMP connection closed");
}

/* --- edu behind a PCIe root port ------------------------------------------ */

void edu_setup(int rp_devfn, uint64_t mmio)
{
    uint32_t v;

    /*
     * Number the bus behind the root port, open its memory window over
     * the BAR (and close the prefetchable one, which resets to 0-1 MiB),
     * enable it
     */
    cfg_write(0, rp_devfn, 0x18, 32, 0x00010100);   /* buses 0, 1, 1 */
    cfg_write(0, rp_devfn, 0x20, 32, (mmio >> 16) | (mmio & ~0xfffffULL));
    cfg_write(0, rp_devfn, 0x24, 32, 0x0000fff0);
    cfg_write(0, rp_devfn, 0x04, 16, 0x6);          /* MEM, bus master */
    v = cfg_read(1, 0, 0, 32);
    check(v == EDU_ID, "vendor/device of the VFIO device is 0x%08x "
          "(edu 0x%08x)", v, EDU_ID);
    if (v != EDU_ID) {
        die("the VFIO device is not edu");
    }
    cfg_write(1, 0, 0x10, 32, mmio);                /* BAR0 */
    cfg_write(1, 0, 0x04, 16, 0x6);                 /* MEM, bus master */
    edu_bar = mmio;
    v = readl(edu_bar + EDU_IDENT);
    check((v & 0xff) == 0xed, "edu ident through the VFIO BAR: 0x%08x", v);
    writel(edu_bar + EDU_LIVENESS, 0x12345678);
    v = readl(edu_bar + EDU_LIVENESS);
    check(v == ~0x12345678u, "edu liveness register inverts (0x%08x)", v);
}

bool edu_dma(uint64_t src, uint64_t dst, bool to_ram)
{
    struct timespec t0, t;

    writeq(edu_bar + EDU_DMA_SRC, src);
    writeq(edu_bar + EDU_DMA_DST, dst);
    writeq(edu_bar + EDU_DMA_CNT, XFER);
    writel(edu_bar + EDU_DMA_CMD,
           EDU_CMD_RUN | (to_ram ? EDU_CMD_TO_RAM : 0));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        if (!(readl(edu_bar + EDU_DMA_CMD) & EDU_CMD_RUN)) {
            return true;
        }
        /*
         * With vfio-pci, L0's edu runs the DMA on its own clock; the
         * clock_step only matters for an emulated edu in L2 (a dry run
         * of the driver without the L1 kernel).
         */
        qcmd("clock_step 10000000");
        usleep(10000);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec < 20);
    return false;
}

bool copy_through_edu(uint64_t src, uint64_t dst)
{
    return edu_dma(src, EDU_BUF, false) && edu_dma(EDU_BUF, dst, true);
}

void fill(uint64_t gpa, uint8_t seed)
{
    uint8_t buf[XFER];
    size_t i;

    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = seed + i * 7 + (i >> 8);
    }
    memwrite(gpa, buf, sizeof(buf));
}

bool holds(uint64_t gpa, uint8_t seed)
{
    uint8_t buf[XFER];
    size_t i;

    memread(gpa, buf, sizeof(buf));
    for (i = 0; i < sizeof(buf); i++) {
        if (buf[i] != (uint8_t)(seed + i * 7 + (i >> 8))) {
            return false;
        }
    }
    return true;
}

/* The guest's answer to the attention button: slot power off */
static void slot_power_off(int rp_devfn)
{
    uint8_t cap;
    uint16_t ctl;

    for (cap = cfg_read(0, rp_devfn, 0x34, 8); cap;
         cap = cfg_read(0, rp_devfn, cap + 1, 8)) {
        if (cfg_read(0, rp_devfn, cap, 8) == 0x10) {    /* PCI Express */
            break;
        }
    }
    if (!cap) {
        die("no PCI Express capability on the root port");
    }
    /* Slot Control: indicators off, power controller off */
    ctl = cfg_read(0, rp_devfn, cap + 0x18, 16) & ~0x0700;
    cfg_write(0, rp_devfn, cap + 0x18, 16, ctl | 0x0700);
}

void unplug(int rp_devfn, const char *id)
{
    char *cmd;

    if (asprintf(&cmd, "{\"execute\":\"device_del\",\"arguments\":"
                 "{\"id\":\"%s\"}}", id) < 0) {
        die("out of memory");
    }
    qmp_connect();
    check(qmp_wait(NULL, "\"QMP\"") &&
          qmp_wait("{\"execute\":\"qmp_capabilities\"}", "\"return\"") &&
          qmp_wait(cmd, "\"return\""), "device_del %s accepted", id);
    free(cmd);
    slot_power_off(rp_devfn);
    check(qmp_wait(NULL, "DEVICE_DELETED"), "DEVICE_DELETED after the guest "
          "powered the slot off");
}

/* --- what the L1 kernel created, from QEMU's trace ------------------------ */

int trace_count(const char *event, const char *a, const char *b)
{
    char line[512];
    FILE *f = fopen(trace_log, "r");
    int n = 0;

    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, event) && (!a || strstr(line, a)) &&
            (!b || strstr(line, b))) {
            n++;
        }
    }
    fclose(f);
    return n;
}

void trace_print(const char *const *events)
{
    char line[512];
    FILE *f = fopen(trace_log, "r");
    size_t i;

    printf("e2e-driver: what L2 QEMU asked of the L1 kernel (%s):\n",
           trace_log);
    if (!f) {
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        for (i = 0; events[i]; i++) {
            char *p = strstr(line, events[i]);

            if (p) {
                printf("  %s", p);
                break;
            }
        }
    }
    fclose(f);
}
