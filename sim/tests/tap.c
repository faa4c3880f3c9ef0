/*
 * iommufd-sim: TAP output for the unit tests.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdarg.h>
#include <stdio.h>

#include "tap.h"

static int ntests, nfailed;

bool ok(bool cond, const char *fmt, ...)
{
    va_list ap;

    ntests++;
    if (!cond) {
        nfailed++;
    }
    printf("%sok %d - ", cond ? "" : "not ", ntests);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return cond;
}

void diag(const char *fmt, ...)
{
    va_list ap;

    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

int tap_done(void)
{
    printf("1..%d\n", ntests);
    if (nfailed) {
        diag("%d of %d failed", nfailed, ntests);
    }
    return nfailed ? 1 : 0;
}
