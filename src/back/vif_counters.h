/* SPDX-License-Identifier: MIT */
/*
 * vif_counters.h - the one list of a vif's counters (struct pv_vif_stats,
 * netback.h), for everything that shows them: `pvnetctl vif-stats` (its
 * keys, in this order), the "drops" column of `pvnetctl vif-list` (the
 * sum of the PV_VIF_CTR_DROP ones) and pvnetd's Prometheus metrics
 * (pvnet_vif_<name>_total for counters, pvnet_vif_<name> for gauges).
 *
 * A counter added to struct pv_vif_stats is added here once, and every
 * view has it.
 */
#ifndef PVNET_VIF_COUNTERS_H
#define PVNET_VIF_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "netback.h"

#define PV_VIF_CTR_GAUGE	0x1	/* a level, not a count of events */
#define PV_VIF_CTR_DROP		0x2	/* a frame dropped: part of vif-list's "drops" */

/**
 * struct pv_vif_counter - one field of struct pv_vif_stats
 * @name:	vif-stats' key ([a-z0-9_], also the metric's stem)
 * @off:	offsetof(struct pv_vif_stats, field), a uint64_t
 * @flags:	PV_VIF_CTR_*
 * @help:	one line for the metric's HELP
 */
struct pv_vif_counter {
	const char *name;
	size_t off;
	unsigned int flags;
	const char *help;
};

extern const struct pv_vif_counter pv_vif_counters[];
extern const unsigned int pv_vif_nr_counters;

static inline uint64_t pv_vif_counter_get(const struct pv_vif_stats *st,
					  const struct pv_vif_counter *c)
{
	return *(const uint64_t *)(const void *)((const char *)st + c->off);
}

/* The sum of the PV_VIF_CTR_DROP counters of @st. */
uint64_t pv_vif_counters_drops(const struct pv_vif_stats *st);

#endif
