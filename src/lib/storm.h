/* SPDX-License-Identifier: MIT */
/*
 * storm.h - storm control's one rule, for both paths: the token bucket
 * that limits what a port (pvnetd's switch, src/back/port.h) or a VI
 * (pvnet-nicd, src/nic/vi.c) may send of each flood kind, and the
 * defaults a guest gets.
 *
 * A bucket holds up to @burst frames and refills at @pps frames per
 * second; a frame of its kind takes one token or is dropped.  pps 0: no
 * limit.  The defaults are a guest's on either path: the vif's backend
 * keys storm-broadcast, storm-multicast and storm-unknown-unicast ("PPS"
 * or "PPS,BURST") change them (netback for the switch, the pvnic backend
 * for the vif's VI).
 */
#ifndef PVNET_LIB_STORM_H
#define PVNET_LIB_STORM_H

#include <stdint.h>

enum pv_storm_kind { PV_STORM_BCAST, PV_STORM_MCAST, PV_STORM_UNKNOWN, PV_STORM_KINDS };

#define PV_STORM_DEFAULT_BCAST_PPS	1000
#define PV_STORM_DEFAULT_MCAST_PPS	2000
#define PV_STORM_DEFAULT_UNKNOWN_PPS	5000
#define PV_STORM_BURST_FACTOR		2	/* default burst: this many seconds' worth */
#define PV_STORM_PPS_MAX		10000000u	/* largest settable rate */
#define PV_STORM_BURST_MAX		100000000u	/* largest settable burst */

struct pv_storm_bucket {
	uint32_t pps;			/* 0: no limit */
	uint32_t burst;			/* frames */
	uint64_t tokens_m;		/* thousandths of a frame */
	uint64_t last_ms;
};

/* The default pps of @kind for a guest (PV_STORM_DEFAULT_*). */
uint32_t pv_storm_default_pps(enum pv_storm_kind kind);
/* Set a bucket (full); pps 0 turns it off; burst 0: PV_STORM_BURST_FACTOR x pps. */
void pv_storm_set(struct pv_storm_bucket *b, uint32_t pps, uint32_t burst);
/* Take one frame's token at @now_ms: 1 if it may go. */
int pv_storm_take(struct pv_storm_bucket *b, uint64_t now_ms);
/*
 * Parse a storm key's value, "PPS" or "PPS,BURST" (decimal, PPS at most
 * PV_STORM_PPS_MAX, BURST at most PV_STORM_BURST_MAX; BURST absent: 0,
 * the default factor).  Return: 0, or -EINVAL (nothing stored).
 */
int pv_storm_parse(const char *s, uint32_t *pps, uint32_t *burst);

#endif
