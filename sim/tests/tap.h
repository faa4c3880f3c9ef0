/*
 * iommufd-sim: TAP output for the unit tests (the simulator's and the
 * walkers' own, which do not link the simulator).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TAP_H
#define TAP_H

#include <stdbool.h>

bool ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int tap_done(void);                     /* prints the plan; exit status */

#endif
