/* SPDX-License-Identifier: MIT */
/*
 * netfront_priv.h - what netfront.c (the data path) and netfront_xenbus.c
 * (registration, xenbus state machine, reconnection) share.  Not a contract.
 */
#ifndef PVNET_NETFRONT_PRIV_H
#define PVNET_NETFRONT_PRIV_H

#include <limits.h>

#include "front/netfront.h"
#include "front/accel_front.h"
#include "guest/guest.h"
#include "guest/xsc.h"
#include "lib/log.h"
#include "lib/loop.h"

/* The domain's frames: two ring pages, then the TX pages, then the RX pages. */
#define NF_TX_RING_FRAME 0u
#define NF_RX_RING_FRAME 1u
#define NF_TX_FRAME(i)   (2u + (uint32_t)(i))
#define NF_RX_FRAME(i)   (2u + PV_NF_NR_TX + (uint32_t)(i))

#define NF_PATH_MAX 128

/* A migration in progress (netfront_migrate.c). */
enum nf_mig_phase {
	NF_MIG_NONE,
	NF_MIG_QUIESCE,		/* acknowledged: TX stopped, collecting responses */
	NF_MIG_CLOSING,		/* vif Closing -> Closed on the source */
	NF_MIG_MOVING,		/* registering and connecting on the destination */
};

struct nf_mig {
	enum nf_mig_phase phase;
	char src[PATH_MAX], dst[PATH_MAX];	/* hv.sock paths */
	uint64_t t_req, deadline;		/* CLOCK_MONOTONIC ms */
	struct pv_watch *timer;
};

struct pv_netfront {
	/* What the caller gave us. */
	struct pv_loop *loop;
	struct pv_netfront_upper_ops ops;
	void *arg;
	char hv_path[PATH_MAX];
	char name[32];
	unsigned int devid;
	uint8_t want_mac[6];		/* requested; after the first vif, its MAC */
	unsigned int want_mtu;

	/* The domain: NULL while pvnetd is away. */
	struct pv_guest *g;
	struct xsc *xs;
	struct pv_watch *hv_w, *xs_w, *ev_w, *retry_w, *fail_w;
	unsigned int retry_ms;
	int ever_registered;

	/* xenbus */
	char fe_path[NF_PATH_MAX];
	char be_path[NF_PATH_MAX];
	int be_watched;
	int fe_state, be_state;		/* XenbusState* as last written / read */
	int shutting_down, closed;
	uint8_t mac[6];
	unsigned int mtu;
	unsigned int features;		/* PV_NF_BE_* */

	/* The data path: valid while rings_up. */
	int rings_up;
	int carrier;
	netif_tx_front_ring_t tx;
	netif_rx_front_ring_t rx;
	int tx_ring_ref, rx_ring_ref;
	uint32_t port;
	int buffers_granted;
	grant_ref_t tx_gref[PV_NF_NR_TX];
	grant_ref_t rx_gref[PV_NF_NR_RX];
	uint16_t tx_free[PV_NF_NR_TX];	/* stack of free TX page ids */
	unsigned int tx_nfree;
	uint16_t tx_lent[PV_NF_MAX_TX_SLOTS + 1];	/* pages lent out by pv_netfront_tx_borrow */
	unsigned int tx_nlent;
	uint8_t tx_busy[PV_NF_NR_TX];	/* id is on the ring, awaiting its response */
	int tx_blocked;			/* told the upper edge -EBUSY; owe it tx_ready */
	int tx_unpushed, rx_unpushed;
	uint8_t *rx_lin;		/* private linear copy, for locating L4 headers */
	struct pv_watch *kick_w;	/* re-poll after an exhausted RX budget */
	struct pv_watch *xs_soon_w;	/* watch events queued by a request: run xenbus */
	/*
	 * Called at the end of every nf_kick(); set by netfront_xenbus.c, so
	 * the data path needs nothing of xenbus.  An accelerator polled or
	 * resumed in the kick may have made a store request that read watch
	 * events off the socket and queued them (commit 74ff127): the hook
	 * (nf_xs_check) runs xenbus soon for them.  NULL: nothing to do.
	 */
	void (*after_kick)(struct pv_netfront *nf);

	struct pv_netfront_stats st;
	struct pv_ratelimit rl;

	struct nf_accel *accel;		/* the accelerator host (accel_front.c) */
	int accel_event;		/* an "accel" watch event since the last nf_accel_sync */
	uint64_t accel_seen;		/* "accel" events numbered below: seen by the attach's read */
	struct nf_mig mig;
};

/* netfront.c */
int nf_buffers_grant(struct pv_netfront *nf);
int nf_rings_setup(struct pv_netfront *nf);
void nf_rings_stop(struct pv_netfront *nf);
int nf_rings_release(struct pv_netfront *nf);
void nf_rings_forget(struct pv_netfront *nf);
int nf_kick(struct pv_netfront *nf);
/* For accel_front.c: the slow path alone; poll from the loop soon. */
int nf_xmit(struct pv_netfront *nf, const struct virtio_net_hdr *vh, const void *frame, uint32_t len);
int nf_tx_room_slow(struct pv_netfront *nf, uint32_t len);
void nf_kick_soon(struct pv_netfront *nf);

/* netfront_xenbus.c */
/* Run xenbus soon if a request queued watch events (also nf->after_kick). */
void nf_xs_check(struct pv_netfront *nf);
/* Drop the connection to pvnetd now (from loop callbacks only) ... */
void nf_lose(struct pv_netfront *nf, const char *why);
/* ... or soon: safe anywhere, the data path stops at once. */
void nf_fail(struct pv_netfront *nf, const char *why);
void nf_set_carrier(struct pv_netfront *nf, int up);
/* For netfront_migrate.c. */
int nf_write_state(struct pv_netfront *nf, int state);
void nf_disconnect(struct pv_netfront *nf);
void nf_schedule_retry(struct pv_netfront *nf, unsigned int ms);
void nf_run(struct pv_netfront *nf);

/* netfront_migrate.c: Xen's suspend request, and the move to another host */
int nf_mig_watch(struct pv_netfront *nf);		/* control/shutdown */
int nf_mig_check(struct pv_netfront *nf);		/* act on control/shutdown */
int nf_mig_busy(const struct pv_netfront *nf);		/* suspending: do not reconnect here */
void nf_mig_backend_closed(struct pv_netfront *nf);	/* the source's vif is Closed */
void nf_mig_lost(struct pv_netfront *nf);		/* pvnetd lost: on with the move? */
void nf_mig_connected(struct pv_netfront *nf);		/* carrier up */
void nf_mig_free(struct pv_netfront *nf);

#endif
