/* SPDX-License-Identifier: MIT */
/*
 * srcguard.h - netback's half of "a guest sends only as itself": which
 * addresses a vif owns, and the decision on each frame it sends.
 *
 * The rule on a frame is src/lib/srcguard.h's (the NIC enforces the same
 * one on the fast path).  The address set it is checked against:
 *
 *  - the `ip` key of the vif's backend directory (Xen's, as xl writes
 *    it), when present: fixed; a frame claiming anything else is dropped;
 *  - otherwise learned: an address a frame claims that no vif of this
 *    pvnetd owns becomes this vif's (first come, first served, at most
 *    PV_SG_ADDRS_MAX); one that another vif owns (learned or by `ip`) is
 *    refused to the later claimant (PV_SG_CONFLICT), never taken from the
 *    first.  A vif's learned addresses are forgotten when it goes.
 *
 * A frame's claims are taken all or none: a frame is learned from only if
 * every claim it makes is accepted.
 */
#ifndef PVNET_BACK_SRCGUARD_H
#define PVNET_BACK_SRCGUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/srcguard.h"

struct pv_srcguard {
	uint8_t mac[6];
	bool fixed;			/* the set is the `ip` key's */
	struct pv_sg_addrs set;		/* owned: `ip`, or learned */
};

/* Does a vif other than @self own @a?  (The caller's table of vifs.) */
typedef bool (*pv_srcguard_other_fn)(const struct pv_srcguard *self, const struct pv_sg_addr *a,
				     void *arg);

/**
 * pv_srcguard_tx() - may the vif of @g send this frame?  Learns in learned mode.
 * @g:		the vif's guard
 * @f, @avail, @len: the frame's first @avail bytes (private), its length
 * @other:	who else owns an address (learned mode)
 * @learned:	out: true if @g->set grew
 *
 * Return: PV_SG_PASS, a drop reason, or PV_SG_NEED_MORE (give the whole frame).
 */
enum pv_sg_verdict pv_srcguard_tx(struct pv_srcguard *g, const uint8_t *f, uint32_t avail,
				  uint32_t len, pv_srcguard_other_fn other, void *arg,
				  bool *learned);

#endif
