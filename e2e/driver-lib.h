/*
 * What the L2 drivers of the real-kernel tests share (driver-lib.c): the
 * qtest and QMP protocols, starting and stopping L2 QEMU, the edu device
 * behind a PCIe root port, the check lines, and reading QEMU's trace.
 * driver.c drives an arm-smmuv3 (ARM chain), driver-vtd.c an intel-iommu
 * (Intel chain).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef E2E_DRIVER_LIB_H
#define E2E_DRIVER_LIB_H

#include <stdbool.h>
#include <stdint.h>

/* edu (hw/misc/edu.c) */
#define EDU_ID          0x11e81234
#define EDU_IDENT       0x00
#define EDU_LIVENESS    0x04
#define EDU_DMA_SRC     0x80
#define EDU_DMA_DST     0x88
#define EDU_DMA_CNT     0x90
#define EDU_DMA_CMD     0x98
#define EDU_BUF         0x40000
#define EDU_CMD_RUN     1
#define EDU_CMD_TO_RAM  2

/* bytes per edu DMA, and per page the checks fill */
#define XFER            4096

/* E2E_TRACE_LOG, QEMU's trace (-D); its stderr goes to <trace_log>.stderr */
extern const char *trace_log;
/* checks that failed so far */
extern int failures;

/*
 * Parse "[--emulated] QEMU [QEMU-ARGS...]", set up the timeout and start
 * QEMU with -accel qtest, the qtest and QMP sockets and -trace for each
 * of @trace_events (a NULL-terminated list of patterns).  Returns whether
 * --emulated was given.
 */
bool driver_start(int argc, char **argv, const char *const *trace_events);
/* Print PASS or FAIL (with L2's logs on failure); the exit status */
int driver_finish(void);

void die(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
/* One "e2e-driver: ok|FAIL: ..." line */
void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* qtest: one command, its reply after "OK" */
const char *qcmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t rd(int bits, uint64_t addr);
void wr(int bits, uint64_t addr, uint64_t val);
uint32_t pio_rd(int bits, uint16_t port);
void pio_wr(int bits, uint16_t port, uint32_t val);
void memwrite(uint64_t addr, const uint8_t *buf, size_t len);
void memread(uint64_t addr, uint8_t *buf, size_t len);

#define readl(a)        ((uint32_t)rd(32, a))
#define readq(a)        rd(64, a)
#define writew(a, v)    wr(16, a, v)
#define writel(a, v)    wr(32, a, v)
#define writeq(a, v)    wr(64, a, v)

/* SIGTERM, as a user would; the exit status */
int stop_qemu_wait(void);

/* QMP: just enough for device_del */
void qmp_connect(void);
bool qmp_wait(const char *cmd, const char *want);

/*
 * PCI configuration space of L2's machine: provided by each driver (ECAM
 * on virt, the 0xcf8/0xcfc ports on q35).  @bits is 8, 16 or 32.
 */
uint32_t cfg_read(int bus, int devfn, int reg, int bits);
void cfg_write(int bus, int devfn, int reg, int bits, uint32_t val);

/*
 * What firmware would do for edu behind the root port at 00:@rp_devfn
 * (bus 1 behind it, its BAR0 at @mmio), then check that it is edu and
 * answers through its BAR.
 */
void edu_setup(int rp_devfn, uint64_t mmio);
/* One edu DMA of XFER bytes; false if the engine did not finish */
bool edu_dma(uint64_t src, uint64_t dst, bool to_ram);
/* RAM -> edu -> RAM: the device copies a page */
bool copy_through_edu(uint64_t src, uint64_t dst);
/* Fill the page at @gpa from @seed; does it hold what fill() wrote? */
void fill(uint64_t gpa, uint8_t seed);
bool holds(uint64_t gpa, uint8_t seed);

/*
 * Native PCIe hot-unplug of @id behind the root port at 00:@rp_devfn, as
 * a guest does it: device_del, then power the slot off; checks that QEMU
 * accepted it and sent DEVICE_DELETED.
 */
void unplug(int rp_devfn, const char *id);

/* Lines of the trace log with @event and the optional @a and @b */
int trace_count(const char *event, const char *a, const char *b);
/* The trace lines of @events (NULL-terminated), under a heading */
void trace_print(const char *const *events);

#endif
