/*
 * iommufd-sim: register layout of the DMA test device behind BAR0.
 *
 * All registers are little-endian.  32-bit registers unless marked (64),
 * 64-bit registers may be accessed as one 8-byte access or as two 4-byte
 * halves (low half first is not required).  Accesses of other sizes are
 * handled as read-modify-write of the containing 32-bit word.
 *
 * A transfer is programmed with SRC/DST/LEN/OP (and PASID, CTRL) and runs
 * synchronously when DOORBELL is written: when the write returns, STATUS
 * holds DONE or ERROR.  Every DMA access goes: bus-master enable in the
 * PCI command register -> attached domain -> stage 1 (nested) -> stage 2
 * (the IOAS) -> host memory.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef IOMMUFD_SIM_REGS_H
#define IOMMUFD_SIM_REGS_H

#define SIMDEV_REG_ID           0x000   /* RO: SIMDEV_ID_VALUE */
#define SIMDEV_REG_VERSION      0x004   /* RO: SIMDEV_VERSION_VALUE */
#define SIMDEV_REG_CTRL         0x008   /* RW: SIMDEV_CTRL_* */
#define SIMDEV_REG_STATUS       0x00c   /* RO/W1C: SIMDEV_STATUS_* */
#define SIMDEV_REG_SRC          0x010   /* RW (64): source IOVA */
#define SIMDEV_REG_DST          0x018   /* RW (64): destination IOVA */
#define SIMDEV_REG_LEN          0x020   /* RW: length in bytes */
#define SIMDEV_REG_PASID        0x024   /* RW: PASID (VT-d) / SSID (SMMUv3) */
#define SIMDEV_REG_OP           0x028   /* RW: SIMDEV_OP_* */
#define SIMDEV_REG_PATTERN      0x02c   /* RW: fill pattern (LE byte order) */
#define SIMDEV_REG_DOORBELL     0x030   /* WO: any write runs OP */
#define SIMDEV_REG_FAULT_CODE   0x034   /* RO: enum sim_fault_code or SIMDEV_ERR_* */
#define SIMDEV_REG_FAULT_INFO   0x038   /* RO: SIMDEV_FINFO_* */
#define SIMDEV_REG_FAULT_ADDR   0x040   /* RO (64): faulting IOVA or IPA */
#define SIMDEV_REG_LAST_XLATE   0x048   /* RO (64): IPA of the last probe */
#define SIMDEV_REG_IOTLB_HITS   0x050   /* RO: stage-1 IOTLB hits */
#define SIMDEV_REG_IOTLB_MISSES 0x054   /* RO: stage-1 IOTLB misses (walks) */
#define SIMDEV_REG_INV_SEEN     0x058   /* RO: invalidation entries applied to
                                           the attached nested HWPT/vIOMMU */
#define SIMDEV_REG_STALE_HITS   0x05c   /* RO: hits a re-walk disagrees with */
#define SIMDEV_REG_ATTACHED_PT  0x060   /* RO: iommufd's HWPT id, 0 = none */
#define SIMDEV_REG_DOMAIN_KIND  0x064   /* RO: SIMDEV_DOMAIN_* */
#define SIMDEV_REG_BYTES_DONE   0x068   /* RO: bytes moved by the last OP */
#define SIMDEV_REG_DATA         0x800   /* RW: 2 KiB data window */
#define SIMDEV_DATA_SIZE        0x800

#define SIMDEV_ID_VALUE         0x53494d44u     /* "DMIS" */
#define SIMDEV_VERSION_VALUE    0x00010000u

#define SIMDEV_CTRL_RESET       (1u << 0)       /* self-clearing */
#define SIMDEV_CTRL_MSI         (1u << 1)       /* MSI vector 0 on completion */
#define SIMDEV_CTRL_USE_PASID   (1u << 2)       /* tag DMA with PASID/SSID */

#define SIMDEV_STATUS_BUSY      (1u << 0)       /* never visible: DMA is sync */
#define SIMDEV_STATUS_DONE      (1u << 1)
#define SIMDEV_STATUS_ERROR     (1u << 2)

#define SIMDEV_OP_NOP           0
#define SIMDEV_OP_COPY          1       /* SRC -> DST, LEN bytes */
#define SIMDEV_OP_FILL          2       /* PATTERN -> DST, LEN bytes */
#define SIMDEV_OP_READ          3       /* SRC -> DATA window, LEN <= 2 KiB */
#define SIMDEV_OP_WRITE         4       /* DATA window -> DST, LEN <= 2 KiB */
#define SIMDEV_OP_PROBE         5       /* translate SRC for read -> LAST_XLATE */
#define SIMDEV_OP_PROBE_WRITE   6       /* translate SRC for write */
/*
 * SMMUv3 only (sim-only, no hardware does this): the 32 bytes at the
 * start of the DATA window are a raw event record (four little-endian
 * 64-bit words) the device's SMMU writes as if for this device (its
 * StreamID field is replaced by the device's); the host driver handles it
 * as any record (forwarded to the vIOMMU's vEVENTQ or not).  Not
 * forwarded: STATUS.ERROR with FAULT_CODE SIMDEV_ERR_NOT_FORWARDED.
 */
#define SIMDEV_OP_INJECT_EVENT  7

#define SIMDEV_MAX_LEN          (16u << 20)

/* FAULT_CODE values beyond enum sim_fault_code (xlate.h). */
#define SIMDEV_ERR_BAD_OP       0x100   /* unknown OP or bad LEN */
#define SIMDEV_ERR_HOST         0x101   /* host memory copy failed */
#define SIMDEV_ERR_NOT_FORWARDED 0x102  /* INJECT_EVENT: record not forwarded */

#define SIMDEV_FINFO_STAGE_MASK  0x3u   /* 1 or 2, 0 = not a walk fault */
#define SIMDEV_FINFO_LEVEL_SHIFT 4
#define SIMDEV_FINFO_LEVEL_MASK  0xf0u
#define SIMDEV_FINFO_WRITE       (1u << 8)

#define SIMDEV_DOMAIN_BLOCKED     0
#define SIMDEV_DOMAIN_S2          1     /* paging HWPT: stage 2 only */
#define SIMDEV_DOMAIN_VTD_NESTED  2
#define SIMDEV_DOMAIN_SMMU_ABORT  3
#define SIMDEV_DOMAIN_SMMU_BYPASS 4
#define SIMDEV_DOMAIN_SMMU_S1     5

#endif
