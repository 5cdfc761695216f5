/* SPDX-License-Identifier: MIT */
/*
 * storm.c - storm control's token bucket (storm.h), shared by pvnetd's
 * switch and pvnet-nicd's VIs.
 */
#include <errno.h>
#include <stdlib.h>

#include "storm.h"

uint32_t pv_storm_default_pps(enum pv_storm_kind kind)
{
	static const uint32_t dflt[PV_STORM_KINDS] = {
		PV_STORM_DEFAULT_BCAST_PPS, PV_STORM_DEFAULT_MCAST_PPS, PV_STORM_DEFAULT_UNKNOWN_PPS,
	};

	return (unsigned int)kind < PV_STORM_KINDS ? dflt[kind] : 0;
}

void pv_storm_set(struct pv_storm_bucket *b, uint32_t pps, uint32_t burst)
{
	b->pps = pps;
	b->burst = pps ? (burst ? burst : pps * PV_STORM_BURST_FACTOR) : 0;
	b->tokens_m = (uint64_t)b->burst * 1000;
	b->last_ms = 0;
}

int pv_storm_take(struct pv_storm_bucket *b, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)b->burst * 1000;

	if (!b->pps)
		return 1;
	if (b->last_ms && now_ms > b->last_ms) {
		/* pps frames a second: pps thousandths of a frame a millisecond */
		uint64_t add = (now_ms - b->last_ms) * b->pps;

		b->tokens_m = b->tokens_m + add > cap ? cap : b->tokens_m + add;
	}
	b->last_ms = now_ms;
	if (b->tokens_m < 1000)
		return 0;
	b->tokens_m -= 1000;
	return 1;
}

int pv_storm_parse(const char *s, uint32_t *pps, uint32_t *burst)
{
	unsigned long p, bu = 0;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	p = strtoul(s, &end, 10);
	if (*end == ',') {
		if (end[1] < '0' || end[1] > '9')
			return -EINVAL;
		bu = strtoul(end + 1, &end, 10);
	}
	if (errno || *end || p > PV_STORM_PPS_MAX || bu > PV_STORM_BURST_MAX)
		return -EINVAL;
	*pps = (uint32_t)p;
	*burst = (uint32_t)bu;
	return 0;
}
