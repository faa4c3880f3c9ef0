/*
 * iommufd-sim: TAP output and small helpers shared by the unit tests.
 * The tests link libiommufd-sim.so, so open()/ioctl()/pread()/pwrite()
 * below go through the simulator exactly as QEMU's calls do.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "iommufd-sim.h"
#include "iommufd-sim-regs.h"
#include "xlate.h"              /* enum sim_fault_code (FAULT_CODE) */
#include "tap.h"


/* ioctl() returned -1 with @err. */
bool is_err(int ret, int err);
#define OK_ERR(call, err, desc) \
    ok(is_err((call), (err)), "%s -> %s", (desc), #err)
#define OK_0(call, desc) ok((call) == 0, "%s", (desc))

/* ---- fds ---- */
int t_iommufd(void);
int t_devfd(const char *cfg);           /* "iommufd-sim-vfio" memfd */
uint32_t t_bind(int devfd, int iommufd);
int t_attach(int devfd, uint32_t *pt_id);
int t_detach(int devfd);

/* ---- iommufd ---- */
uint32_t t_ioas(int fd);
int t_map(int fd, uint32_t ioas, void *va, uint64_t len, uint64_t *iova,
          uint32_t flags);
int t_map_fixed(int fd, uint32_t ioas, void *va, uint64_t len, uint64_t iova);
int t_unmap(int fd, uint32_t ioas, uint64_t iova, uint64_t len,
            uint64_t *unmapped);
int t_hwpt(int fd, uint32_t dev, uint32_t pt, uint32_t flags, uint32_t type,
           const void *data, uint32_t len, uint32_t *out);
int t_destroy(int fd, uint32_t id);
int t_viommu(int fd, uint32_t dev, uint32_t hwpt, uint32_t *out);
int t_vdevice(int fd, uint32_t viommu, uint32_t dev, uint64_t virt,
              uint32_t *out);
int t_invalidate(int fd, uint32_t id, uint32_t type, const void *data,
                 uint32_t entry_len, uint32_t *num);

/* ---- device ---- */
void *t_alloc(size_t len);              /* page-aligned, zeroed, RW */
uint16_t t_cfg_read16(int devfd, unsigned off);
void t_cfg_write16(int devfd, unsigned off, uint16_t val);
void t_enable(int devfd);               /* memory + bus master */
uint32_t t_reg(int devfd, unsigned off);
uint64_t t_reg64(int devfd, unsigned off);
void t_wreg(int devfd, unsigned off, uint32_t val);
void t_wreg64(int devfd, unsigned off, uint64_t val);
/* Program and run one operation; returns STATUS. */
uint32_t t_dma(int devfd, uint32_t op, uint64_t src, uint64_t dst,
               uint32_t len);

#define BAR0_OFF 0ull
#define CFG_OFF (7ull << 40)

/* A test's guest RAM: host buffer @buf, which the device sees at @ipa */
void t_gram_set(uint8_t *buf, uint64_t ipa);
uint64_t galloc(uint64_t size);         /* next @size bytes of it, an IPA */
void gw64(uint64_t ipa, uint64_t v);
uint64_t gr64(uint64_t ipa);

/* SMMUv3 stage-1 descriptor and CD bits the tests use */
#define D_AF    (1ull << 10)
#define D_AP1   (1ull << 6)
#define D_NG    (1ull << 11)
#define CD_V    (1ull << 31)
#define CD_AA64 (1ull << 41)
#define CD_R    (1ull << 45)
#define CD_A    (1ull << 46)
#define CD_IPS(x) ((uint64_t)(x) << 32)

/*
 * The level-3 entry of @va in the 4K, T0SZ 16 (levels 0..3) table at
 * @ttb in guest RAM; missing tables are allocated on the way.
 */
uint64_t arm_entry(uint64_t ttb, uint64_t va);

#endif
