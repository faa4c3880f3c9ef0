// SPDX-License-Identifier: GPL-2.0
/*
 * L2 guest module for e2e/run-l2-guest.sh (measurement only): edu DMA
 * through the DMA API.  Copies a page RAM -> edu -> RAM a few times,
 * mapping and unmapping both pages each round (with iommu.strict=1 every
 * unmap is an IOTLB invalidation), and compares.  The IOVA allocator
 * hands the two IOVAs out swapped in alternate rounds, so a translation
 * left stale in the IOTLB of L0's VT-d sends the copy to the other page.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/dma-mapping.h>
#include <linux/delay.h>
#include <linux/slab.h>

static int rounds = 4;
module_param(rounds, int, 0444);

#define EDU_BUF 0x40000

static int edu_dma(void __iomem *bar, u64 src, u64 dst, u32 dir)
{
	int i;

	writeq(src, bar + 0x80);
	writeq(dst, bar + 0x88);
	writeq(PAGE_SIZE, bar + 0x90);
	writeq(1 | dir, bar + 0x98);
	for (i = 0; i < 5000; i++) {
		if (!(readq(bar + 0x98) & 1))
			return 0;
		msleep(2);
	}
	return -ETIMEDOUT;
}

static int edudma_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	void __iomem *bar;
	u8 *a, *b;
	dma_addr_t da, db;
	int r, i, bad = 0, err;

	err = pcim_enable_device(pdev);
	if (err)
		return err;
	bar = pcim_iomap(pdev, 0, 0);
	if (!bar)
		return -ENOMEM;
	pci_set_master(pdev);
	err = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(28));
	if (err)
		return err;
	a = kmalloc(PAGE_SIZE, GFP_KERNEL);
	b = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!a || !b)
		return -ENOMEM;
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < PAGE_SIZE; i++) {
			a[i] = (u8)(i * 7 + r * 31 + 1);
			b[i] = 0;
		}
		da = dma_map_single(&pdev->dev, a, PAGE_SIZE, DMA_TO_DEVICE);
		db = dma_map_single(&pdev->dev, b, PAGE_SIZE, DMA_FROM_DEVICE);
		if (dma_mapping_error(&pdev->dev, da) ||
		    dma_mapping_error(&pdev->dev, db)) {
			pr_info("edudma: round %d: mapping failed\n", r);
			return -EIO;
		}
		err = edu_dma(bar, da, EDU_BUF, 0) ?:
		      edu_dma(bar, EDU_BUF, db, 2);
		dma_unmap_single(&pdev->dev, da, PAGE_SIZE, DMA_TO_DEVICE);
		dma_unmap_single(&pdev->dev, db, PAGE_SIZE, DMA_FROM_DEVICE);
		i = memcmp(a, b, PAGE_SIZE) ? 1 : 0;
		bad += i || err;
		pr_info("edudma: round %d: iova %pad -> edu -> iova %pad: %s\n",
			r, &da, &db, err ? "timeout" : i ? "MISMATCH" : "ok");
	}
	kfree(a);
	kfree(b);
	pr_info("edudma: %d rounds, %d bad\n", rounds, bad);
	return 0;
}

static const struct pci_device_id edudma_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, edudma_ids);

static struct pci_driver edudma_driver = {
	.name = "edudma",
	.id_table = edudma_ids,
	.probe = edudma_probe,
};
module_pci_driver(edudma_driver);
MODULE_LICENSE("GPL");
