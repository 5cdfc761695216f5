/* SPDX-License-Identifier: MIT */
/*
 * srcguard.c - netback's source-address decision (srcguard.h): the
 * frame's claims (src/lib/srcguard.c) against the vif's fixed or learned
 * set, first come first served among the vifs of a pvnetd.
 */
#include <string.h>

#include "srcguard.h"

enum pv_sg_verdict pv_srcguard_tx(struct pv_srcguard *g, const uint8_t *f, uint32_t avail,
				  uint32_t len, pv_srcguard_other_fn other, void *arg,
				  bool *learned)
{
	struct pv_sg_frame fr;
	enum pv_sg_verdict v = pv_sg_parse(f, avail, len, g->mac, &fr);
	unsigned int fresh = 0;

	*learned = false;
	if (v != PV_SG_PASS)
		return v;
	for (unsigned int i = 0; i < fr.nclaims; i++) {
		const struct pv_sg_addr *a = &fr.claim[i].addr;

		if (pv_sg_has(&g->set, a))
			continue;
		if (g->fixed)
			return fr.claim[i].reason;
		/* Learned mode: someone else's first, or a new one of ours. */
		if (other && other(g, a, arg))
			return PV_SG_CONFLICT;
		if (i == 1 && fresh && !memcmp(a, &fr.claim[0].addr, sizeof(*a)))
			continue;
		fresh++;
	}
	if (g->set.n + fresh > PV_SG_ADDRS_MAX)
		return PV_SG_FULL;
	for (unsigned int i = 0; i < fr.nclaims; i++)
		if (!pv_sg_has(&g->set, &fr.claim[i].addr)) {
			pv_sg_add(&g->set, &fr.claim[i].addr);
			*learned = true;
		}
	return PV_SG_PASS;
}
