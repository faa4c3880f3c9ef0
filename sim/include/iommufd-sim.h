/*
 * iommufd-sim: in-process API for unit tests linked against the library.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef IOMMUFD_SIM_H
#define IOMMUFD_SIM_H

#include <stdint.h>
#include <stdio.h>

/*
 * Counter by name, as in the report: "ioctl.IOAS_MAP", "ioctl.total",
 * "iotlb.hits", "iotlb.misses", "iotlb.stale_hits", "inv.calls",
 * "inv.entries", "dma.ops", "dma.faults", "fail.injected", ...
 * Unknown names read as 0.
 */
uint64_t iommufd_sim_counter(const char *name);

/*
 * Live objects of @kind ("ioas", "device", "hwpt_paging", "hwpt_nested",
 * "viommu", "vdevice", or "all") summed over every open context.
 */
unsigned iommufd_sim_live(const char *kind);

/* Number of iommufd contexts currently open. */
unsigned iommufd_sim_contexts(void);

/* Write the report ("key value" lines) to @f. */
void iommufd_sim_report(FILE *f);

/*
 * Replace the fault-injection spec (same syntax as IOMMUFD_SIM_FAIL:
 * "OP:N:ERRNO[,...]"); call counts restart.  Returns 0 or -EINVAL.
 */
int iommufd_sim_set_fail(const char *spec);

/*
 * Have the SMMUv3 of the device behind @devfd (a VFIO device fd the
 * simulator has seen, e.g. bound) write the raw event record @evt (four
 * 64-bit words in host order, layout as in the SMMUv3 spec's "Event
 * records"; the StreamID field, bits 63:32 of word 0, is replaced by the
 * device's physical StreamID) and run it through the host driver's event
 * handling as Linux 7.2 does: forwarded, with the StreamID replaced by
 * the vSID, to the ARM_SMMUV3 vEVENTQ of the vIOMMU the device's nested
 * HWPT was attached on.  Returns 0 when queued (or counted as lost),
 * -EOPNOTSUPP when the driver does not forward it (type not among the
 * eight Linux forwards, Stall set, S2 set, no vmaster, no vEVENTQ),
 * -EINVAL for a VT-d device, -EBADF for an unknown fd.  The same is
 * reachable from a guest or qtest through BAR0 (SIMDEV_OP_INJECT_EVENT).
 */
int iommufd_sim_inject_event(int devfd, const uint64_t evt[4]);

#endif
