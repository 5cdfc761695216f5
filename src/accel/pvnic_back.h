/* SPDX-License-Identifier: MIT */
/*
 * pvnic_back.h - the backend half of the "pvnic" accelerator pair, in
 * pvnetd (docs/accel-pvnic.md).  Control work only: VIs, filters and buffer
 * table entries on pvnet-nicd's control socket, the guest's grants kept
 * mapped while the NIC uses its pages, the xenstore handshake, and the
 * VI's descriptors for the frontend (get_fds, PV_HV_ACCEL_FDS).
 *
 * One control connection per instance, kept open (a VI belongs to the
 * connection that allocated it).  If pvnet-nicd goes away every vif's fast
 * path goes down (accel-frontend removed so netfront detaches, grants
 * unmapped, accelstate Closed) and a 1 s timer reconnects; then each vif
 * gets a new VI and accel-frontend again.  The slow path is never touched.
 *
 * Control requests are blocking (nic_client.c, 5 s timeout each) on
 * pvnetd's loop thread, as the original's netback did its control work
 * synchronously; a request that times out counts as the NIC gone.
 *
 * RX filters are learned from the guest's flows (the original's policy):
 * a TCP or UDP flow from the wire to the guest gets a filter (protocol,
 * destination IPv4 and port) when netback sees it arrive on the slow
 * path, at most limits/max-filters per vif, the oldest evicted when full.
 * accel-filter = "mac" steers all of the vif's unicast by its MAC instead.
 * accel-local-macs lists the host's other vifs, whose traffic the
 * frontend keeps on the slow path.
 */
#ifndef PVNET_ACCEL_PVNIC_BACK_H
#define PVNET_ACCEL_PVNIC_BACK_H

#include <stdint.h>

#include "accel/pvnic.h"

struct pv_loop;
struct pv_hv;
struct xs_server;
struct pvnic_back;

#define PVNIC_BACK_RETRY_MS	1000

/*
 * Backend directory keys only this half reads (docs/accel-pvnic.md); the
 * ones both halves use are in accel/pvnic.h.
 */
#define PVNIC_KEY_FILTER	"accel-filter"		/* toolstack: "flow" (default) or "mac" */
#define PVNIC_KEY_MAX_FILTERS	"limits/max-filters"	/* toolstack: flow filters per vif */

#define PVNIC_LOCAL_MACS_MAX	128	/* MACs in accel-local-macs */
#define PVNIC_FILTERS_DEFAULT	8	/* limits/max-filters absent, as the original */
#define PVNIC_FILTERS_MAX	32	/* whatever limits/max-filters says (and the NIC's quota) */
/* netback's: the addresses the vif owns (`ip`, or learned), src/back/srcguard.h */
#define PVNIC_KEY_IP_OWNED	"ip-owned"
/* Flow filter installs (blocking control round trips): token buckets. */
#define PVNIC_RATE_VIF_BURST	8
#define PVNIC_RATE_VIF_PER_S	16
#define PVNIC_RATE_ALL_BURST	32
#define PVNIC_RATE_ALL_PER_S	64

/* Filter counters of one vif (pvnetctl accel D N show). */
struct pvnic_vif_stats {
	uint64_t filter_installs;	/* MAC or flow filters installed */
	uint64_t filter_evictions;	/* flow filters removed to make room */
	uint64_t filter_rate_limited;	/* new flows not installed: too many too fast */
	uint64_t filter_failures;	/* FILTER_ADD refused (the flow another VI's, table full) */
	uint64_t filter_not_own_ip;	/* new flows to an address the guest never used */
	uint64_t filter_ip_conflicts;	/* new flows to an address another served guest used too */
};

struct pvnic_back_stats {
	uint64_t connects, disconnects;
	uint64_t vi_allocs, vi_frees;
	uint64_t connected_vifs;	/* handshakes completed */
	uint64_t bad_refs;		/* accel-buf-refs refused */
	uint64_t failures;		/* other setup failures */
	uint64_t fds_given;
	int nic_up;
	unsigned int live_vifs;
};

/*
 * pvnic_back_new() - register the backend plugin for NIC "pvnic", reaching
 * pvnet-nicd through @nic_dir/nic.sock (now, or later by retrying).
 * Return: the instance, or NULL with *err.
 */
struct pvnic_back *pvnic_back_new(struct pv_loop *loop, struct pv_hv *hv,
				  struct xs_server *xs, const char *nic_dir, int *err);
/* Unregister (every served vif removed) and free.  NULL is fine. */
void pvnic_back_free(struct pvnic_back *pb);
void pvnic_back_stats(const struct pvnic_back *pb, struct pvnic_back_stats *st);

/* One served vif, as pvnetctl and the tests see it. */
struct pvnic_vif_info {
	int vi_ok, ready, fe_connected, mode_mac;
	uint32_t vi_id;
	unsigned int flows;		/* flow filters installed now */
	unsigned int quota;		/* at most */
	int mac_filter;			/* the MAC filter is installed */
	unsigned int nips;		/* the guest's own addresses (netback's ip-owned) */
	struct pvnic_vif_stats st;
};
/* Return: 0, or -ENOENT if vif @domid.@devid is not served. */
int pvnic_back_vif_info(const struct pvnic_back *pb, unsigned int domid, unsigned int devid,
			struct pvnic_vif_info *out);

/*
 * The parsers of what the frontend writes (exposed for tests/fuzz/fuzz_pvnic_back.c).
 * pvnic_back_parse_refs() - accel-buf-refs "R1 R2 ... RK": 1..PVNIC_MAX_PAGES
 * decimals, one space between, each in PV_GNT_RESERVED..@nr_grants - 1, no
 * repeats, into @refs[PVNIC_MAX_PAGES].  Return: K, or -EINVAL, -ERANGE, -E2BIG.
 * pvnic_back_parse_state() - an accelstate value: 0..99, or -1 if malformed.
 */
int pvnic_back_parse_refs(const char *s, uint32_t nr_grants, uint32_t *refs);
int pvnic_back_parse_state(const char *val);

#endif
