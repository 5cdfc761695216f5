/* SPDX-License-Identifier: MIT */
/*
 * netfront.h - pvnet's netfront: the guest half of Xen's split network
 * driver, as a library with a pluggable upper edge.
 *
 *   upper edge (TAP device, or a program)      pv_netfront                pvnetd
 *     pv_netfront_xmit(vh, frame) ------> copy into granted TX pages --> TX ring --> netback
 *     ops->deliver(vh, iov) <------------ posted RX pages (no copy)  <-- RX ring <-- netback
 *     ops->tx_ready() <------------------ TX room again after -EBUSY
 *     ops->config(mac, mtu), ops->carrier(up) <-- xenbus state machine (xenstore)
 *
 * A struct pv_netfront is one vif of one domain.  It registers the domain
 * with pvnetd over <run-dir>/hv.sock, asks the toolstack for the vif
 * (PV_HV_VIF_REQUEST), runs the xenbus handshake (docs/xenbus.md) and then
 * moves frames.  When pvnetd goes away it tears everything down, tells the
 * upper edge the carrier is gone and keeps retrying (200 ms, backing off
 * to 1 s): a new domain, the same MAC, new rings and grants.  The upper
 * edge (the TAP device) is never touched by that: the guest's stack keeps
 * its addresses and its TCP connections.
 *
 * Offload metadata is the virtio-net header's (what TAP speaks); the
 * mapping to and from netif's flags and GSO extra-info slots is done by the
 * pure functions at the end of this header, which the unit tests check.
 *
 * Everything runs on the caller's struct pv_loop, one thread; callbacks
 * are called from within pv_netfront functions and from loop dispatch.
 */
#ifndef PVNET_NETFRONT_H
#define PVNET_NETFRONT_H

#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>

#include "pvnet/xen.h"

struct pv_loop;
struct pv_netfront;

/* Shared memory of the domain: 2 ring pages, TX buffer pages, RX buffer pages. */
#define PV_NF_NR_TX        256	/* TX buffer pages == TX ring slots */
#define PV_NF_NR_RX        256	/* RX buffer pages == RX ring slots, all posted */
#define PV_NF_NR_PAGES     (2 + PV_NF_NR_TX + PV_NF_NR_RX)
/*
 * Accelerator reserve: frames after netfront's own, registered with the
 * domain but never used by netfront; a frontend accelerator plugin (pvnic)
 * grants its fast-path buffer pages from here (at most PVNIC_MAX_PAGES).
 */
#define PV_NF_NR_ACCEL     256
#define PV_NF_ACCEL_FRAME(i) ((uint32_t)PV_NF_NR_PAGES + (uint32_t)(i))
#define PV_NF_NR_DOM_PAGES (PV_NF_NR_PAGES + PV_NF_NR_ACCEL)	/* what is registered */
#define PV_NF_NR_GRANTS    2048	/* rings, 512 buffers, 256 pvnic pages, and a lingering old set */
#define PV_NF_MAX_FRAME    XEN_NETIF_MAX_TX_SIZE	/* 65535: the first slot's size is 16 bits */
/* Slots of one frame copied to pages from offset 0: ceil(65535 / 4096) = 16. */
#define PV_NF_MAX_TX_SLOTS ((PV_NF_MAX_FRAME + PV_PAGE_SIZE - 1) / PV_PAGE_SIZE)
/* What netback may chain on RX: XEN_NETIF_NR_SLOTS_MIN data slots. */
#define PV_NF_MAX_RX_SLOTS XEN_NETIF_NR_SLOTS_MIN
#define PV_NF_MAX_EXTRAS   4	/* extra-info slots chained with XEN_NETIF_EXTRA_FLAG_MORE */

struct pv_netfront_upper_ops {
	/*
	 * A received frame: @iov points into the RX pages, valid only during
	 * the call.  Return 0, or -errno if the frame was dropped (counted).
	 */
	int (*deliver)(void *arg, const struct virtio_net_hdr *vh, const struct iovec *iov,
		       int iovcnt, uint32_t len);
	/* The link: up when the backend is Connected, down when it goes away. */
	void (*carrier)(void *arg, int up);
	/* TX room again after pv_netfront_xmit() returned -EBUSY (may be NULL). */
	void (*tx_ready)(void *arg);
	/*
	 * The vif's MAC and MTU as xenstore says, before the rings connect;
	 * again after each reconnect (may be NULL).
	 */
	void (*config)(void *arg, const uint8_t mac[6], unsigned int mtu);
};

struct pv_netfront_config {
	const char *run_dir;		/* pvnetd's run directory (hv.sock) */
	const char *name;		/* domain name, [A-Za-z0-9._-]{1,31} */
	unsigned int devid;		/* vif N */
	uint8_t mac[6];			/* all zero: let the toolstack choose */
	unsigned int mtu;		/* 0: the toolstack's default */
};

/* Backend features, as read from its xenstore directory. */
#define PV_NF_BE_SG        0x01
#define PV_NF_BE_GSO_TCPV4 0x02
#define PV_NF_BE_GSO_TCPV6 0x04
#define PV_NF_BE_IPV6_CSUM 0x08
#define PV_NF_BE_RX_NOTIFY 0x10

struct pv_netfront_stats {
	uint64_t tx_packets, tx_bytes;
	uint64_t tx_dropped;		/* refused: malformed, oversized, not connected */
	uint64_t tx_busy;		/* -EBUSY returns (backpressure, not loss) */
	uint64_t tx_errors;		/* backend answered NETIF_RSP_ERROR/DROPPED */
	uint64_t rx_packets, rx_bytes;
	uint64_t rx_dropped;		/* upper edge refused, or checksum setup failed */
	uint64_t rx_errors;		/* backend wrote something impossible or an error */
	uint64_t notifies;		/* event channel notifications sent */
	uint64_t events;		/* event channel wake-ups */
	uint64_t connects;		/* times the rings were connected */
	uint64_t reconnects;		/* times pvnetd was lost and found again */
	/*
	 * Accelerator (accel_front.c).  tx_/rx_ counters above include the
	 * fast path's, added as the plugin's get_stats deltas.
	 */
	uint64_t accel_tx_sent;		/* frames the plugin answered SENT */
	uint64_t accel_tx_busy;		/* frames the plugin held (BUSY) */
	uint64_t accel_tx_returned;	/* held frames handed back, sent on the slow path */
	uint64_t accel_tx_return_dropped; /* handed back with no way to send them (also tx_dropped) */
	uint64_t accel_tx_lends;	/* frames read into the plugin's lent TX buffers */
	uint64_t accel_tx_lend_refused;	/* loans given back unused: smaller than a maximum frame */
	uint64_t accel_tx_lend_dropped;	/* lent frames NOT_SENT, no memory to keep them (also tx_dropped) */
	uint64_t accel_tx_lend_waits;	/* lent frames NOT_SENT that waited for slow-path room */
	uint64_t accel_fast_tx_packets, accel_fast_rx_packets;	/* get_stats deltas summed */
	uint64_t accel_attaches, accel_detaches;
	/* Migration (netfront_migrate.c). */
	uint64_t mig_suspends;		/* control/shutdown = "suspend" acknowledged */
	uint64_t migrations;		/* connected on the destination */
	uint64_t mig_returns;		/* gave up on the destination, back on the source */
	uint64_t mig_tx_abandoned;	/* TX requests unanswered when the source vif closed */
};

/*
 * pv_netfront_new() - create a netfront; it connects in the background
 * @loop: the event loop it runs on
 * @cfg: copied
 * @ops, @arg: the upper edge
 * @err: negative errno on failure
 *
 * The first connection attempt is made at once; if pvnetd is not there,
 * it is retried from @loop.  Return: the netfront, or NULL.
 */
struct pv_netfront *pv_netfront_new(struct pv_loop *loop, const struct pv_netfront_config *cfg,
				    const struct pv_netfront_upper_ops *ops, void *arg, int *err);
/* Tear down at once (no xenbus handshake): the domain is destroyed. */
void pv_netfront_free(struct pv_netfront *nf);

/*
 * pv_netfront_xmit() - queue one frame for transmission
 * @vh: offloads (NEEDS_CSUM, DATA_VALID, GSO TCPv4/v6), or NULL for none
 *
 * Return: 0 queued (pushed at the next pv_netfront_flush()), -EBUSY no
 * room (ops->tx_ready is called when there is; nothing was taken),
 * -ENOTCONN not connected, -EINVAL/-EMSGSIZE/-EOPNOTSUPP dropped (counted).
 */
/* Zero-copy TX: borrow pages, read the frame into them, send it (see netfront.c). */
struct iovec;
int pv_netfront_tx_borrow(struct pv_netfront *nf, struct iovec *iov, unsigned int max);
int pv_netfront_xmit_lent(struct pv_netfront *nf, const struct virtio_net_hdr *vh, uint32_t len);
void pv_netfront_tx_unborrow(struct pv_netfront *nf);
int pv_netfront_xmit(struct pv_netfront *nf, const struct virtio_net_hdr *vh,
		     const void *frame, uint32_t len);
/* Push queued requests and notify the backend, at most once. */
void pv_netfront_flush(struct pv_netfront *nf);
/* Whether a frame of @len bytes would be taken now. */
int pv_netfront_tx_room(struct pv_netfront *nf, uint32_t len);

/*
 * pv_netfront_shutdown() - start a clean close: frontend Closing, then
 * Closed once the backend is Closed.  Poll pv_netfront_closed() while the
 * loop runs; give up after a bound of your choice and free.
 */
void pv_netfront_shutdown(struct pv_netfront *nf);
int pv_netfront_closed(const struct pv_netfront *nf);

int pv_netfront_connected(const struct pv_netfront *nf);	/* backend Connected, rings up */
unsigned int pv_netfront_domid(const struct pv_netfront *nf);	/* 0 when not registered */
unsigned int pv_netfront_features(const struct pv_netfront *nf);	/* PV_NF_BE_* */
/* The TUN_F_* offloads a TAP upper edge asks for, given PV_NF_BE_* backend features. */
unsigned int pv_netfront_tun_offload(unsigned int be_features);
/* Suspended for a migration, or on the way to the destination. */
int pv_netfront_migrating(const struct pv_netfront *nf);
/* Counters; an attached accelerator's deltas are collected first (hence not const). */
void pv_netfront_get_stats(struct pv_netfront *nf, struct pv_netfront_stats *st);

/* ---- pure helpers: the virtio-net header <-> netif mapping (unit-tested) ---- */

/*
 * pv_netfront_vh_to_tx() - netif TX flags and GSO extra for a virtio-net header
 * @vh: may be NULL (no offloads)
 * @flags: NETTXF_csum_blank / NETTXF_data_validated for the first slot
 * @gso: filled (type XEN_NETIF_EXTRA_TYPE_GSO) when the frame is GSO
 *
 * Return: 1 if a GSO extra slot is needed, 0 if not, -EOPNOTSUPP for GSO
 * types netif cannot carry (UDP, ECN), -EINVAL for a GSO frame without a
 * segment size or without a partial checksum.
 */
int pv_netfront_vh_to_tx(const struct virtio_net_hdr *vh, uint16_t *flags,
			 struct netif_extra_info *gso);

/*
 * pv_netfront_tx_layout() - split a frame into netif TX requests
 * @len: frame length, 1 .. PV_NF_MAX_FRAME
 * @flags: the first slot's checksum flags (from pv_netfront_vh_to_tx)
 * @has_extra: the first slot announces an extra-info slot
 * @req: up to @max requests; offset and size and flags filled, id and gref 0
 *
 * The frame is laid out from offset 0 of consecutive pages: slot i covers
 * bytes [4096 i, min(len, 4096 (i + 1))).  The first slot's size is the
 * whole length (netif.h), the others' their own; all but the last carry
 * NETTXF_more_data.  Return: the number of requests (not counting the
 * extra slot), -EMSGSIZE if @len is 0 or too long, -ENOSPC if @max is
 * too small.
 */
int pv_netfront_tx_layout(uint32_t len, uint16_t flags, int has_extra,
			  netif_tx_request_t *req, unsigned int max);

/*
 * pv_netfront_rx_to_vh() - the virtio-net header for a received frame
 * @flags: the first response's NETRXF_* flags
 * @gso: the GSO extra-info, or NULL
 * @frame, @len: the frame, contiguous (only its headers are read)
 *
 * NETRXF_csum_blank (and any GSO frame) becomes VIRTIO_NET_HDR_F_NEEDS_CSUM
 * with csum_start/csum_offset from pv_pkt_csum_setup() and hdr_len the end
 * of the L4 header; NETRXF_data_validated alone becomes
 * VIRTIO_NET_HDR_F_DATA_VALID.  Return: 0, or -EINVAL when a partial
 * checksum cannot be located or the GSO extra is unusable (the frame must
 * be dropped: the guest's stack could not finish it).
 */
int pv_netfront_rx_to_vh(uint16_t flags, const struct netif_extra_info *gso,
			 const uint8_t *frame, uint32_t len, struct virtio_net_hdr *vh);

/* "00:16:3e:12:34:56" -> bytes: 0, or -EINVAL. */
int pv_netfront_mac_parse(const char *s, uint8_t mac[6]);

#endif
