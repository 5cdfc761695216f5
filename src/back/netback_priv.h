/* SPDX-License-Identifier: MIT */
/*
 * netback_priv.h - netback's internals, shared by netback.c (the vif:
 * events, disconnect, disable, removal), netback_xenbus.c (the control
 * plane), netback_tx.c (guest -> switch) and netback_rx.c
 * (switch -> guest).  Not a contract: nothing outside these files uses it.
 */
#ifndef PVNET_NETBACK_PRIV_H
#define PVNET_NETBACK_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "pvnet/xen.h"
#include "hv/hv.h"
#include "lib/log.h"
#include "accel_back.h"
#include "netback.h"
#include "port.h"
#include "frameq.h"
#include "srcguard.h"

#define NB_ETH_HLEN		14
#define NB_VLAN_HLEN		4
#define NB_TX_RING_SIZE		__CONST_RING_SIZE(netif_tx, PV_PAGE_SIZE)
#define NB_RX_RING_SIZE		__CONST_RING_SIZE(netif_rx, PV_PAGE_SIZE)
#define NB_MAX_EXTRAS		(XEN_NETIF_EXTRA_TYPE_MAX - 1)
/*
 * Data slots of one TX frame, as Linux netback: up to XEN_NETIF_NR_SLOTS_MIN
 * (18) taken; more, up to NB_FATAL_SLOTS (Linux's fatal_skb_slots default,
 * 20), dropped with error responses (tx_too_many_slots); more than that is
 * a frontend that cannot be honest: the vif is disabled.
 */
#define NB_FATAL_SLOTS		20
/*
 * The smallest GSO size netback takes from a guest: a 64 KiB frame cut at
 * 64 is 1,024 segments already (the NIC's PV_NIC_TSO_MSS_MIN, for the same
 * reason); below, tx_gso_bad.
 */
#define NB_GSO_SIZE_MIN		64

_Static_assert(sizeof(netif_extra_info_t) <= sizeof(netif_tx_request_t),
	       "an extra-info slot fits a TX request slot");
_Static_assert(sizeof(netif_extra_info_t) <= sizeof(netif_rx_response_t),
	       "an extra-info slot fits an RX response slot");
_Static_assert(XEN_NETIF_NR_SLOTS_MIN + 1 <= PV_FRAME_MAX_SEGS,
	       "a frame's slots fit pv_frame's segments");

struct nb_vif {
	struct nb_vif *next;
	struct pv_netback *nb;
	struct pv_port port;
	unsigned int domid, devid;
	char be_path[64];
	char fe_path[128];
	char fe_token[48];
	int fe_watched;
	uint8_t mac[6];
	unsigned int mtu;
	int be_state, fe_state;
	unsigned int features;		/* PV_VIF_F_* */
	int connected;
	int disabled;
	char reason[128];

	/* Connection: both ring pages mapped writable for its whole life. */
	struct pv_gnt_map tx_map, rx_map;
	netif_tx_back_ring_t tx;
	netif_rx_back_ring_t rx;
	uint32_t evtchn_tx, evtchn_rx;	/* dom0's ports; equal unless split */
	struct pv_watch *w_tx, *w_rx;
	int rx_dirty;			/* RX responses written, not yet pushed */

	/* On the netback's list of vifs with work left over. */
	int pending;
	/* TX rate limit, Xen's "rate" key: credit_bytes per credit_usec (0: none). */
	uint64_t credit_bytes, credit_usec, remaining_credit, credit_window_start;
	struct pv_watch *credit_timer;
	/* Storm pause: the switch dropped a flood over its bucket; TX waits for a token. */
	struct pv_watch *storm_timer;
	struct nb_vif *pend_next;

	/* TX scratch, preallocated: private slot copies, their maps, the frame. */
	netif_tx_request_t txs[NB_FATAL_SLOTS];
	struct pv_gnt_map txm[XEN_NETIF_NR_SLOTS_MIN];
	netif_extra_info_t extras[NB_MAX_EXTRAS];	/* by type - 1 */
	unsigned int extra_mask;			/* 1 << (type - 1) seen */
	uint32_t first_len;		/* data in the first slot: size - the others */
	struct pv_frame frame;
	struct pv_frame rx_frame;	/* the queue's head frame, as a pv_frame */
	struct pv_frame rx_csum_frame;	/* a frame whose checksum we completed */
	/*
	 * Private linear copies (PV_FRAME_MAX_LEN bytes each, allocated at
	 * connect): a TX frame whose offloads need its headers parsed, an RX
	 * frame whose checksum we complete for the guest.
	 */
	uint8_t *tx_lin, *rx_lin;
	RING_IDX rx_seen_prod;		/* the RX req_prod of the last delivery attempt */

	struct pv_frameq rxq;		/* frames waiting for the guest's RX requests */
	/* Source addresses (srcguard.h): the `ip` key's, or learned; its watch. */
	struct pv_srcguard sg;
	char ip_token[48];
	int ip_watched;
	char storm_token[48];
	int storm_watched;		/* how many of the storm keys' watches are set */
	struct pv_vif_stats st;
	struct pv_ratelimit rl;

	/* The accelerator host's handle for this vif (accel_back.c); may be NULL. */
	struct pv_accel_back_vif *accel;
	/* Set by accel_back while the attached plugin wants frames (frame()). */
	unsigned int accel_frames;
};

struct pv_netback {
	struct pv_hv *hv;
	struct xs_server *xs;
	struct pv_switch *sw;
	struct pv_loop *loop;
	struct pv_netback_config cfg;
	struct nb_vif *vifs;
	unsigned int nr_vifs;
	int kick_fd;			/* eventfd: come back for pending vifs */
	struct pv_watch *kick_w;
	struct nb_vif *pend_head;
	int watching;
	/* The vif whose TX frame is in pv_switch_input() now (else NULL). */
	struct nb_vif *tx_from;
};

/* netback.c: events and scheduling */
void nb_vif_schedule(struct nb_vif *vif);
void nb_unschedule(struct nb_vif *vif);
void nb_vif_service(struct nb_vif *vif, int do_tx, int do_rx);
void nb_credit_stop(struct nb_vif *vif);	/* also ends a storm pause */
void nb_notify(struct nb_vif *vif, uint32_t port);
void nb_evtchn_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg);
void nb_evtchn_rx_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg);

/* netback.c: the vif itself; tx/rx report violations here, not to xenbus */
void nb_write(struct pv_netback *nb, const char *dir, const char *key, const char *val);
void nb_set_state(struct nb_vif *vif, int state);
struct nb_vif *nb_vif_find(struct pv_netback *nb, unsigned int domid, unsigned int devid);
void nb_vif_free(struct nb_vif *vif);
void nb_vif_disconnect(struct nb_vif *vif);
void nb_vif_fatal(struct nb_vif *vif, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* netback_xenbus.c: vifs in the store, the state machine */
struct xs_server;
void nb_base_watch_cb(struct xs_server *xs, const char *path, const char *token, void *arg);

/* netback_xenbus.c: the vif's owned addresses to "ip-owned" (pvnic_back reads them) */
void nb_vif_publish_addrs(struct nb_vif *vif);
bool nb_addr_owned_by_other(const struct pv_srcguard *self, const struct pv_sg_addr *a, void *arg);

/* netback_tx.c: returns 1 if requests remain after @budget frames. */
int nb_tx_poll(struct nb_vif *vif, unsigned int budget);

/* netback_rx.c */
extern const struct pv_port_ops nb_port_ops;
/* The storm keys, by pv_storm_kind (netback_xenbus.c). */
extern const char *const nb_storm_keys[PV_STORM_KINDS];
int nb_rxq_alloc(struct nb_vif *vif);
void nb_rxq_free(struct nb_vif *vif);
/* Deliver queued frames while the guest has buffers; 1 if budget ran out. */
int nb_rx_drain(struct nb_vif *vif, unsigned int budget);
void nb_rx_push(struct nb_vif *vif);

#endif
