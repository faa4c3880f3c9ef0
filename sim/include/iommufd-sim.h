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

#endif
