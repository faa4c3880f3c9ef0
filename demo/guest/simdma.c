// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * simdma: a guest driver for the iommufd-sim DMA test device.
 *
 * Drives the device through the DMA API the way a real driver does: every
 * transfer maps its buffers with dma_map_single(), rings the doorbell,
 * sleeps until the completion MSI and unmaps.  With iommu.strict=1 each
 * unmap makes the guest's IOMMU driver invalidate its IOTLB, so when the
 * buffers' IOVAs are reused, a stale translation anywhere between guest and
 * host shows up as wrong data.  Results go to the kernel log, one line
 * starting with "simdma: result".
 *
 * Register layout: sim/include/iommufd-sim-regs.h in the project.
 */
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>

#define SIMDEV_VENDOR		0x1b36
#define SIMDEV_DEVICE		0x11f0

#define REG_ID			0x000
#define REG_CTRL		0x008
#define REG_STATUS		0x00c
#define REG_SRC			0x010
#define REG_DST			0x018
#define REG_LEN			0x020
#define REG_OP			0x028
#define REG_PATTERN		0x02c
#define REG_DOORBELL		0x030
#define REG_FAULT_CODE		0x034
#define REG_FAULT_ADDR		0x040
#define REG_IOTLB_HITS		0x050
#define REG_IOTLB_MISSES	0x054
#define REG_INV_SEEN		0x058
#define REG_STALE_HITS		0x05c
#define REG_DOMAIN_KIND		0x064

#define ID_VALUE		0x53494d44
#define CTRL_MSI		(1u << 1)
#define STATUS_DONE		(1u << 1)
#define STATUS_ERROR		(1u << 2)
#define OP_COPY			1
#define OP_FILL			2

static unsigned int iterations = 10000;
module_param(iterations, uint, 0444);
MODULE_PARM_DESC(iterations, "map/DMA/unmap cycles to run");

static unsigned int size = 4096;
module_param(size, uint, 0444);
MODULE_PARM_DESC(size, "bytes per transfer");

static bool stray;
module_param(stray, bool, 0444);
MODULE_PARM_DESC(stray, "after the cycles, DMA once from an unmapped IOVA");

/*
 * Cycles rotate through several buffers, so that the IOVAs the DMA API
 * hands out again and again point at different pages over time: a stale
 * IOTLB entry then sends the data to the wrong page, which the check sees.
 */
#define NBUF 8

struct simdma {
	struct pci_dev *pdev;
	void __iomem *bar;
	struct completion done;
	u32 status;
};

static irqreturn_t simdma_irq(int irq, void *opaque)
{
	struct simdma *s = opaque;

	s->status = readl(s->bar + REG_STATUS);
	writel(s->status, s->bar + REG_STATUS);		/* W1C */
	complete(&s->done);
	return IRQ_HANDLED;
}

/* One transfer; returns the device status, or 0 on timeout. */
static u32 simdma_run(struct simdma *s, u32 op, dma_addr_t src,
		      dma_addr_t dst, u32 len, u32 pattern)
{
	reinit_completion(&s->done);
	s->status = 0;
	writel(pattern, s->bar + REG_PATTERN);
	writeq(src, s->bar + REG_SRC);
	writeq(dst, s->bar + REG_DST);
	writel(len, s->bar + REG_LEN);
	writel(op, s->bar + REG_OP);
	writel(1, s->bar + REG_DOORBELL);
	if (!wait_for_completion_timeout(&s->done, msecs_to_jiffies(5000)))
		return 0;
	return s->status;
}

/*
 * A read from an IOVA that was just unmapped: the IOMMU must fault it and,
 * with an SMMUv3, record F_TRANSLATION, which the guest's arm-smmu-v3
 * driver logs ("event 0x10 received").
 */
static void simdma_stray(struct simdma *s, u8 *src, u8 *dst)
{
	struct device *dev = &s->pdev->dev;
	dma_addr_t dsrc, ddst;
	u32 st;

	dsrc = dma_map_single(dev, src, size, DMA_TO_DEVICE);
	ddst = dma_map_single(dev, dst, size, DMA_FROM_DEVICE);
	if (dma_mapping_error(dev, dsrc) || dma_mapping_error(dev, ddst)) {
		pr_info("simdma: stray map_error\n");
		return;
	}
	dma_unmap_single(dev, dsrc, size, DMA_TO_DEVICE);
	st = simdma_run(s, OP_COPY, dsrc, ddst, 64, 0);
	dma_unmap_single(dev, ddst, size, DMA_FROM_DEVICE);
	pr_info("simdma: stray iova=0x%llx status=0x%x fault_code=%u\n",
		(u64)dsrc, st, readl(s->bar + REG_FAULT_CODE));
	/* let the IOMMU driver's event thread log the record */
	msleep(500);
}

static void simdma_workload(struct simdma *s)
{
	struct device *dev = &s->pdev->dev;
	unsigned long mismatches = 0, faults = 0, timeouts = 0, maperr = 0;
	u8 *bufs[2 * NBUF] = { };
	u8 *src, *dst;
	ktime_t start;
	u64 ns;
	unsigned int i;

	for (i = 0; i < 2 * NBUF; i++) {
		bufs[i] = kmalloc(size, GFP_KERNEL);
		if (!bufs[i]) {
			dev_err(dev, "out of memory\n");
			goto out;
		}
	}

	start = ktime_get();
	for (i = 0; i < iterations; i++) {
		dma_addr_t dsrc, ddst;
		u32 st;
		u8 seed = (u8)(i * 7 + 1);
		unsigned int j;

		src = bufs[2 * (i % NBUF)];
		dst = bufs[2 * (i % NBUF) + 1];
		for (j = 0; j < size; j++)
			src[j] = seed + j;
		memset(dst, 0, size);

		dsrc = dma_map_single(dev, src, size, DMA_TO_DEVICE);
		ddst = dma_map_single(dev, dst, size, DMA_FROM_DEVICE);
		if (dma_mapping_error(dev, dsrc) || dma_mapping_error(dev, ddst)) {
			maperr++;
			if (!dma_mapping_error(dev, dsrc))
				dma_unmap_single(dev, dsrc, size, DMA_TO_DEVICE);
			if (!dma_mapping_error(dev, ddst))
				dma_unmap_single(dev, ddst, size,
						 DMA_FROM_DEVICE);
			continue;
		}
		/* every 8th cycle a fill, else a copy */
		if (i % 8 == 7)
			st = simdma_run(s, OP_FILL, 0, ddst, size,
					0x01010101u * seed);
		else
			st = simdma_run(s, OP_COPY, dsrc, ddst, size, 0);
		dma_unmap_single(dev, dsrc, size, DMA_TO_DEVICE);
		dma_unmap_single(dev, ddst, size, DMA_FROM_DEVICE);

		if (!st) {
			timeouts++;
			continue;
		}
		if (st & STATUS_ERROR) {
			if (faults++ < 5)
				dev_warn(dev, "cycle %u: DMA fault code %u at 0x%llx\n",
					 i, readl(s->bar + REG_FAULT_CODE),
					 readq(s->bar + REG_FAULT_ADDR));
			continue;
		}
		if (i % 8 == 7) {
			for (j = 0; j < size && dst[j] == seed; j++)
				;
		} else {
			for (j = 0; j < size && dst[j] == (u8)(seed + j); j++)
				;
		}
		if (j != size && mismatches++ < 5)
			dev_warn(dev, "cycle %u: data mismatch at byte %u\n",
				 i, j);
	}
	ns = ktime_to_ns(ktime_sub(ktime_get(), start));

	pr_info("simdma: result cycles=%u bytes=%u mismatches=%lu faults=%lu timeouts=%lu map_errors=%lu ms=%llu ops_per_s=%llu\n",
		iterations, size, mismatches, faults, timeouts, maperr,
		ns / 1000000, ns ? (u64)iterations * 1000000000ull / ns : 0);
	pr_info("simdma: device iotlb_hits=%u iotlb_misses=%u inv_seen=%u stale_hits=%u domain=%u\n",
		readl(s->bar + REG_IOTLB_HITS), readl(s->bar + REG_IOTLB_MISSES),
		readl(s->bar + REG_INV_SEEN), readl(s->bar + REG_STALE_HITS),
		readl(s->bar + REG_DOMAIN_KIND));
	if (stray)
		simdma_stray(s, bufs[0], bufs[1]);
out:
	for (i = 0; i < 2 * NBUF; i++)
		kfree(bufs[i]);
}

static int simdma_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct simdma *s;
	int ret;

	s = devm_kzalloc(&pdev->dev, sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->pdev = pdev;
	init_completion(&s->done);

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(0), "simdma");
	if (ret)
		return ret;
	s->bar = pcim_iomap_table(pdev)[0];
	if (readl(s->bar + REG_ID) != ID_VALUE) {
		dev_err(&pdev->dev, "not an iommufd-sim DMA device\n");
		return -ENODEV;
	}
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	pci_set_master(pdev);

	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);
	if (ret < 0)
		return ret;
	ret = request_irq(pci_irq_vector(pdev, 0), simdma_irq, 0, "simdma", s);
	if (ret) {
		pci_free_irq_vectors(pdev);
		return ret;
	}
	writel(CTRL_MSI, s->bar + REG_CTRL);

	dev_info(&pdev->dev, "simdma: %u cycles of %u bytes, domain kind %u\n",
		 iterations, size, readl(s->bar + REG_DOMAIN_KIND));
	simdma_workload(s);

	writel(0, s->bar + REG_CTRL);
	free_irq(pci_irq_vector(pdev, 0), s);
	pci_free_irq_vectors(pdev);
	return 0;
}

static const struct pci_device_id simdma_ids[] = {
	{ PCI_DEVICE(SIMDEV_VENDOR, SIMDEV_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, simdma_ids);

static struct pci_driver simdma_driver = {
	.name = "simdma",
	.id_table = simdma_ids,
	.probe = simdma_probe,
};
module_pci_driver(simdma_driver);

MODULE_DESCRIPTION("DMA API workload for the iommufd-sim test device");
MODULE_LICENSE("GPL");
