/*
 * libFuzzer target "viommu-prog": runs guest programs against a nested
 * vIOMMU with simulated VFIO devices, in process.
 *
 * Not part of the series: scripts/build-libfuzzer.sh copies this file into
 * the tests/qtest/fuzz directory of a scratch checkout of the series and
 * builds qemu-fuzz-x86_64 / qemu-fuzz-aarch64 with clang.  The machine,
 * the firmware program and the seed inputs come from
 * tests/fuzz/viommu_fuzz.py (scripts/fuzz.py --engine libfuzzer), which
 * knows the vIOMMU structures; this file only executes programs.
 *
 * An input is a program: a sequence of 18-byte operations
 *   byte 0      kind (modulo 8): write, read, out, in, plug, unplug,
 *               ack (SMMUv3 GERROR), iqfix (VT-d invalidation queue error)
 *   byte 1      access size, 1 << (byte & 3) (out/in: at most 4)
 *   bytes 2-9   address, little endian
 *   bytes 10-17 value, little endian (plug/unplug: the slot, 0 or 1)
 * A trailing partial operation is ignored, so every byte string is a
 * program.
 *
 * Environment (set by scripts/fuzz.py):
 *   VIOMMU_FUZZ_ARGS      QEMU's command line after the binary name
 *   VIOMMU_FUZZ_FIRMWARE  a program run after start and after each reset
 *   VIOMMU_FUZZ_DEVCFG    the simulated device's configuration (hot-plug)
 *   VIOMMU_FUZZ_RESET     system reset every N inputs (default 8)
 *   VIOMMU_FUZZ_BASE      the vIOMMU's register frame (ack, iqfix)
 *   VIOMMU_FUZZ_MMIO      "base:length,..." the memory a program may access
 *   VIOMMU_FUZZ_PIO       "base:length,..." the I/O ports, likewise
 * An address outside those ranges (libFuzzer mutates address bytes too) is
 * folded into one of them, as generic-fuzz does with its regions: else
 * most mutated writes would land in unrelated devices (a write to virt's
 * flash rebuilds every flat view).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qemu/rcu.h"
#include "qobject/qdict.h"
#include "qapi/qapi-commands-qdev.h"
#include "monitor/qdev.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/pci_host.h"
#include "hw/qdev-core.h"
#include "qom/object.h"
#include "tests/qtest/libqtest.h"
#include "fuzz.h"

#define OP_LEN 18

enum { K_W, K_R, K_OUT, K_IN, K_PLUG, K_UNPLUG, K_ACK, K_IQFIX };

/* register offsets; the frame's address is VIOMMU_FUZZ_BASE */
#define VTD_FSTS        0x34
#define VTD_IQH         0x80
#define VTD_IQT         0x88
#define VTD_FSTS_IQE    0x10
#define SMMU_GERROR     0x60
#define SMMU_GERRORN    0x64

/*
 * Root port rp<slot> takes hot-plugged devices with iommufd x or y
 * (absolute paths: a partial one searches the whole QOM tree)
 */
static const char *const slot_iommufd[2] = { "/objects/x", "/objects/y" };

typedef struct AddrRange {
    uint64_t base, len;
} AddrRange;

static GArray *mmio_ranges, *pio_ranges;
static uint8_t *firmware;
static size_t firmware_len;
static const char *devcfg;
static unsigned reset_every = 8;
static uint64_t base;
static unsigned long inputs;
static unsigned plug_count;
static char *plugged[2];
static bool unplugged;

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static GArray *parse_ranges(const char *env)
{
    GArray *a = g_array_new(false, false, sizeof(AddrRange));
    g_auto(GStrv) parts = g_strsplit(getenv(env) ?: "", ",", -1);

    for (int i = 0; parts[i]; i++) {
        char *end;
        AddrRange r = { g_ascii_strtoull(parts[i], &end, 0), 0 };

        if (*end == ':') {
            r.len = g_ascii_strtoull(end + 1, NULL, 0);
        }
        if (r.len) {
            g_array_append_val(a, r);
        }
    }
    return a;
}

static uint64_t fold(GArray *ranges, uint64_t addr)
{
    const AddrRange *r;

    for (unsigned i = 0; i < ranges->len; i++) {
        r = &g_array_index(ranges, AddrRange, i);
        if (addr - r->base < r->len) {
            return addr;
        }
    }
    if (!ranges->len) {
        return addr;
    }
    r = &g_array_index(ranges, AddrRange, addr % ranges->len);
    return r->base + (addr / ranges->len) % r->len;
}

static Object *peripheral(const char *id)
{
    g_autofree char *path = g_strdup_printf("/machine/peripheral/%s", id);

    return object_resolve_path(path, NULL);
}

/* The guest's side of hot-plug: power the root port's slot on or off. */
static void slot_power(int slot, bool on)
{
    g_autofree char *id = g_strdup_printf("rp%d", slot);
    PCIDevice *rp = PCI_DEVICE(peripheral(id));
    uint32_t ctl = rp->exp.exp_cap + PCI_EXP_SLTCTL;

    /* power indicator and power controller, as a driver writes them */
    pci_host_config_write_common(rp, ctl, pci_config_size(rp),
                                 on ? 0x01c0 : 0x07c0, 2);
}

static int device_memfd(void)
{
    int fd = memfd_create("iommufd-sim-vfio", 0);

    if (fd >= 0 && write(fd, devcfg, strlen(devcfg)) != strlen(devcfg)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void plug(QTestState *s, int slot)
{
    QDict *opts;
    DeviceState *dev;
    Error *err = NULL;
    g_autofree char *fd = NULL;
    int memfd;

    if (plugged[slot] || !devcfg) {
        return;
    }
    memfd = device_memfd();
    if (memfd < 0) {
        return;
    }
    fd = g_strdup_printf("%d", memfd);
    plugged[slot] = g_strdup_printf("hp%u", ++plug_count);
    opts = qdict_new();
    qdict_put_str(opts, "driver", "vfio-pci");
    qdict_put_str(opts, "id", plugged[slot]);
    qdict_put_str(opts, "bus", slot ? "rp1" : "rp0");
    qdict_put_str(opts, "iommufd", slot_iommufd[slot]);
    qdict_put_str(opts, "fd", fd);
    /*
     * Not qmp_device_add(): after a refusal it waits for the RCU thread
     * (up to 50 ms), so that a user can retry with the same id; ours are
     * unique.
     */
    dev = qdev_device_add_from_qdict(opts, false, &err);
    qobject_unref(opts);
    if (!dev) {
        /*
         * Refused (e.g. by the vIOMMU).  The fd stays QEMU's: vfio-pci
         * took it with the property, and the device's finalization
         * detaches and closes it.
         */
        error_free(err);
        g_clear_pointer(&plugged[slot], g_free);
        return;
    }
    object_unref(OBJECT(dev));
    slot_power(slot, true);
    flush_events(s);
}

static void unplug(QTestState *s, int slot)
{
    Error *err = NULL;

    if (!plugged[slot]) {
        return;
    }
    qmp_device_del(plugged[slot], &err);
    if (err) {
        error_free(err);
        return;
    }
    slot_power(slot, false);
    flush_events(s);
    if (!peripheral(plugged[slot])) {
        g_clear_pointer(&plugged[slot], g_free);
        unplugged = true;
    }
}

/* What a driver's error handler does after FSTS.IQE: tail = head. */
static void vtd_iqfix(QTestState *s)
{
    if (qtest_readl(s, base + VTD_FSTS) & VTD_FSTS_IQE) {
        qtest_writeq(s, base + VTD_IQT,
                     qtest_readq(s, base + VTD_IQH));
        qtest_writel(s, base + VTD_FSTS, VTD_FSTS_IQE);
    }
}

/* Acknowledge the SMMUv3's global errors (GERRORN = GERROR). */
static void smmu_ack(QTestState *s)
{
    qtest_writel(s, base + SMMU_GERRORN,
                 qtest_readl(s, base + SMMU_GERROR));
}

static void write_op(QTestState *s, unsigned size, uint64_t addr,
                     uint64_t val)
{
    switch (size) {
    case 1:
        qtest_writeb(s, addr, val);
        break;
    case 2:
        qtest_writew(s, addr, val);
        break;
    case 4:
        qtest_writel(s, addr, val);
        break;
    default:
        qtest_writeq(s, addr, val);
    }
}

static void read_op(QTestState *s, unsigned size, uint64_t addr)
{
    switch (size) {
    case 1:
        qtest_readb(s, addr);
        break;
    case 2:
        qtest_readw(s, addr);
        break;
    case 4:
        qtest_readl(s, addr);
        break;
    default:
        qtest_readq(s, addr);
    }
}

static void port_op(QTestState *s, bool out, unsigned size, uint16_t port,
                    uint32_t val)
{
    if (size == 1) {
        out ? qtest_outb(s, port, val) : (void)qtest_inb(s, port);
    } else if (size == 2) {
        out ? qtest_outw(s, port, val) : (void)qtest_inw(s, port);
    } else {
        out ? qtest_outl(s, port, val) : (void)qtest_inl(s, port);
    }
}

static void run_op(QTestState *s, const uint8_t *op)
{
    unsigned size = 1u << (op[1] & 3);
    uint64_t addr = le64(op + 2), val = le64(op + 10);

    switch (op[0] % 8) {
    case K_W:
        write_op(s, size, fold(mmio_ranges, addr), val);
        break;
    case K_R:
        read_op(s, size, fold(mmio_ranges, addr));
        break;
    case K_OUT:
    case K_IN:
        port_op(s, op[0] % 8 == K_OUT, MIN(size, 4), fold(pio_ranges, addr),
                val);
        break;
    case K_PLUG:
        plug(s, val & 1);
        break;
    case K_UNPLUG:
        unplug(s, val & 1);
        break;
    case K_ACK:
        smmu_ack(s);
        break;
    default:
        vtd_iqfix(s);
    }
}

static void run_program(QTestState *s, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i + OP_LEN <= len; i += OP_LEN) {
        run_op(s, data + i);
    }
    flush_events(s);
}

static void viommu_fuzz(QTestState *s, const unsigned char *data,
                        size_t size)
{
    run_program(s, data, size);
    /*
     * Reset after the input, not before the next one: a crash in the reset
     * is then reported with the input that led to it (replay it alone
     * with VIOMMU_FUZZ_RESET=1).
     */
    if (++inputs % reset_every == 0) {
        /*
         * An unplugged vfio-pci is finalized later by the RCU thread, and
         * its last iommufd detach unregisters VFIO's reset handler.  Seen
         * here: that ran while qemu_system_reset() walked the reset
         * container, which asserts on the changed list (tests/fuzz/
         * README.md, Findings).  Let the finalization finish first, as
         * the RCU thread's grace period does for a VM that keeps running.
         */
        if (unplugged) {
            drain_call_rcu();
            unplugged = false;
        }
        fuzz_reset(s);
        run_program(s, firmware, firmware_len);
    }
}

static void viommu_pre_fuzz(QTestState *s)
{
    const char *path = getenv("VIOMMU_FUZZ_FIRMWARE");
    const char *every = getenv("VIOMMU_FUZZ_RESET");
    g_autoptr(GError) err = NULL;

    if (path && !g_file_get_contents(path, (char **)&firmware, &firmware_len,
                                     &err)) {
        fprintf(stderr, "viommu-prog: %s\n", err->message);
        exit(1);
    }
    if (every && atoi(every) > 0) {
        reset_every = atoi(every);
    }
    devcfg = getenv("VIOMMU_FUZZ_DEVCFG");
    /* viommu_fuzz.py's machines cold-plug "dev0" into rp0 */
    plugged[0] = g_strdup("dev0");
    mmio_ranges = parse_ranges("VIOMMU_FUZZ_MMIO");
    pio_ranges = parse_ranges("VIOMMU_FUZZ_PIO");
    base = g_ascii_strtoull(getenv("VIOMMU_FUZZ_BASE") ?: "0", NULL, 0);
    run_program(s, firmware, firmware_len);
}

static GString *viommu_get_cmdline(FuzzTarget *t)
{
    const char *args = getenv("VIOMMU_FUZZ_ARGS");
    GString *cmd;

    if (!args) {
        fprintf(stderr, "viommu-prog: set VIOMMU_FUZZ_ARGS "
                "(scripts/fuzz.py --engine libfuzzer does)\n");
        exit(1);
    }
    cmd = g_string_new(TARGET_NAME " -display none -nodefaults "
                       "-machine accel=qtest ");
    g_string_append(cmd, args);
    return cmd;
}

static void register_viommu_fuzz_target(void)
{
    fuzz_add_target(&(FuzzTarget){
        .name = "viommu-prog",
        .description = "Guest programs for a nested vIOMMU with simulated "
                       "VFIO devices (tests/fuzz/libfuzzer)",
        .get_init_cmdline = viommu_get_cmdline,
        .pre_fuzz = viommu_pre_fuzz,
        .fuzz = viommu_fuzz,
    });
}

fuzz_target_init(register_viommu_fuzz_target);
