/* SPDX-License-Identifier: MIT */
/*
 * nic.h - pvnet-nicd's device model, inside the daemon: the buffer table
 * (bufta.c), RX filters (filter.c), the TX source check (txcheck.c), the
 * VIs with their rings, event queues and doorbells (vi.c), the physical
 * port (port.c) with its receive coalescing (gro.c, gro.h) and the
 * control socket (ctl.c).  The ABI the VI's user and
 * the trusted caller see is include/pvnet/nic.h.
 *
 * Everything runs on one thread around one pv_loop.  The model takes frames
 * from anywhere (nic_rx_frame: the port, or a test) and sends through one
 * hook (nic_set_xmit: the port, or a test), so the whole data path can be
 * driven in-process without a network.
 */
#ifndef PVNET_NIC_NIC_H
#define PVNET_NIC_NIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>

#include "pvnet/nic.h"
#include "lib/log.h"
#include "nic/gro.h"
#include "lib/srcguard.h"
#include "lib/storm.h"

struct pv_loop;
struct pv_watch;

/* ---- buffer table (bufta.c) ---- */

/* A domain's memory memfd, mapped once, shared by the entries that use it. */
struct nic_region {
	struct nic_region *next;
	uint8_t *base;
	size_t size;
	dev_t dev;
	ino_t ino;
	uint32_t refs;		/* buffer table entries pointing here */
};

struct nic_buf {
	struct nic_region *reg;	/* NULL: free */
	size_t off;		/* of the 2 KiB buffer in the region */
	uint32_t owner;		/* VI id */
};

struct nic_bufta {
	uint32_t size;
	uint32_t nfree;
	struct nic_buf *e;
	uint32_t *free;		/* stack of free ids */
	uint32_t *owned;	/* entries per VI, max_vis of them */
	uint32_t max_vis;
	struct nic_region *regions;
};

int nic_bufta_init(struct nic_bufta *bt, uint32_t size, uint32_t max_vis);
void nic_bufta_fini(struct nic_bufta *bt);
struct nic_region *nic_region_get(struct nic_bufta *bt, int memfd, int *err);
void nic_region_put(struct nic_bufta *bt, struct nic_region *reg);
int nic_bufta_map(struct nic_bufta *bt, uint32_t owner, struct nic_region *reg,
		  const uint32_t *chunk, uint32_t n, uint32_t *ids);
int nic_bufta_unmap(struct nic_bufta *bt, uint32_t owner, const uint32_t *ids, uint32_t n);
void nic_bufta_unmap_owner(struct nic_bufta *bt, uint32_t owner);
/* The flags a descriptor may carry, by ring and place in its frame. */
#define NIC_DESC_RX		0u
#define NIC_DESC_TX_FIRST	PV_NIC_TX_F_ALL
#define NIC_DESC_TX_NEXT	PV_NIC_TX_F_MORE
uint8_t *nic_bufta_get(const struct nic_bufta *bt, uint32_t owner,
		       const struct pv_nic_desc *d, uint32_t flags_ok, enum pv_nic_err *err);

/* ---- filters (filter.c) ---- */

#define NIC_FLT_BUCKETS	256

struct nic_filter {
	uint8_t type;		/* 0: free slot */
	uint8_t proto;
	uint16_t dst_port;
	uint32_t dst_ip;
	uint8_t mac[6];
	uint32_t vi;
	uint32_t next;		/* hash chain, PV_NIC_VI_NONE ends it */
};

struct nic_filters {
	uint32_t max;
	uint32_t used;
	uint32_t quota;		/* per VI */
	uint32_t max_vis;
	struct nic_filter *f;
	uint32_t *per_vi;
	uint32_t bucket[NIC_FLT_BUCKETS];
};

int nic_filters_init(struct nic_filters *fl, uint32_t max, uint32_t quota, uint32_t max_vis);
void nic_filters_fini(struct nic_filters *fl);
int nic_filter_add(struct nic_filters *fl, const struct pv_nic_filter *req, uint32_t *id);
int nic_filter_del(struct nic_filters *fl, uint32_t vi, uint32_t id);
void nic_filter_del_vi(struct nic_filters *fl, uint32_t vi);
uint32_t nic_filter_match(const struct nic_filters *fl, const uint8_t *frame, uint32_t len);
/* Has VI @vi the IPV4 filter (@proto, @ip, @port)?  (TX source ports, txcheck.c) */
bool nic_filter_owns(const struct nic_filters *fl, uint32_t vi, uint8_t proto, uint32_t ip,
		     uint16_t port);

/* ---- TX source check (txcheck.c) ---- */

struct nic_txpolicy {
	bool any_source;	/* the host VI */
	bool mac_set;
	bool ip_set;
	bool addrs_set;		/* SET_ADDRS: the source-address rule (lib/srcguard.h) with @addrs */
	bool ports_set;		/* PV_NIC_MAC_F_PORTS: source ports of @vi's filters in @fl only */
	uint8_t mac[6];
	uint32_t ip;		/* network order */
	struct pv_sg_addrs addrs;
	const struct nic_filters *fl;
	uint32_t vi;
	uint32_t max_len;	/* port MTU + 14 (a tagged frame: 4 more) */
};

/*
 * The private header copy of a TX frame: its first min(length,
 * NIC_TX_HDR_MAX) bytes.  Everything the NIC decides on lies there: the
 * largest headers the checks and offloads read are Ethernet (14) + one
 * 802.1Q tag (4) + IPv4 with options (60) + TCP with options (60) = 138
 * bytes; IPv6 (40) + TCP leaves 138 bytes for IPv6 extension headers
 * (a CSUM frame whose TCP/UDP header ends past the copy is refused
 * OFFLOAD, as truncated); ARP reads 28 bytes after the tag.  The rest of
 * the frame, payload only, goes to the port straight from the guest's
 * buffers.  The same bound as a GSO frame's headers (PV_PKT_GSO_HDR_MAX).
 */
#define NIC_TX_HDR_MAX	PV_NIC_TX_HDR_MAX
_Static_assert(NIC_TX_HDR_MAX >= 14 + 4 + 60 + 60, "IPv4 + options, TCP + options, a tag");
_Static_assert(NIC_TX_HDR_MAX >= 14 + 4 + 40 + 60, "IPv6, TCP + options, a tag");
_Static_assert(NIC_TX_HDR_MAX >= 14 + 4 + 28, "ARP after a tag");

/*
 * Source check: RUNT, SPOOF.  @hdr: the private header copy, @hlen bytes
 * (min(@len, NIC_TX_HDR_MAX)); @len: the whole frame's length.  Nothing
 * past @hlen is read.
 */
enum pv_nic_err nic_tx_check(const struct nic_txpolicy *p, const uint8_t *hdr, uint32_t hlen,
			     uint32_t len);
/* Length and offloads (writes the checksum field in @hdr, fills @vh): TOO_BIG, OFFLOAD. */
enum pv_nic_err nic_tx_offload(const struct nic_txpolicy *p, uint8_t *hdr, uint32_t hlen,
			       uint32_t len, uint32_t flags, uint16_t mss,
			       struct virtio_net_hdr *vh);

/* ---- VIs and the device (vi.c) ---- */

/* What INFO reports: TX chains and both offloads, on any port. */
#define NIC_FEATURES	(PV_NIC_FEAT_TX_CHAIN | PV_NIC_FEAT_TX_CSUM | PV_NIC_FEAT_TSO | \
			 PV_NIC_FEAT_RX_CHAIN | PV_NIC_FEAT_SRC_ADDRS | PV_NIC_FEAT_TX_PORTS | \
			 PV_NIC_FEAT_TX_STORM | PV_NIC_FEAT_CAPTURE)

enum nic_vi_state { NIC_VI_FREE = 0, NIC_VI_ACTIVE, NIC_VI_FAULT };

/* What the port knows of a received frame beyond its bytes (nic_rx_frame_meta). */
struct nic_rxmeta {
	uint8_t gso_type;	/* PV_NIC_GSO_* */
	uint16_t gso_size;
	uint16_t csum_start, csum_offset;
};

/* ---- a VI's receive buffer memory (rxhold.c; vi.c "RX hold") ---- */

#define NIC_RX_HOLD_BYTES	(2u << 20)	/* per VI: pvnet-nicd's nic_config.rx_hold_bytes */
#define NIC_RX_HOLD_TICK_MS	1		/* a held frame waits at most this for a retry */
#define NIC_RX_HOLD_MAX_MS	100		/* no progress this long: what is held is dropped */

struct nic_rxhold_rec {
	uint32_t len;
	uint16_t flags;			/* PV_NIC_RX_F_* */
	uint8_t has_meta;
	uint8_t pad;
	struct nic_rxmeta m;
};

struct nic_rxhold {
	uint8_t *buf;
	uint32_t cap, rd, wr, end;	/* data: [rd, wr), or [rd, end) then [0, wr) */
	bool wrapped;
	uint32_t count;
	uint64_t bytes, bytes_max;
};

int nic_rxhold_init(struct nic_rxhold *h, uint32_t cap);
void nic_rxhold_fini(struct nic_rxhold *h);
/* Append a copy: 0, or -ENOBUFS (full: the caller counts the drop). */
int nic_rxhold_put(struct nic_rxhold *h, const uint8_t *frame, uint32_t len, uint16_t flags,
		   const struct nic_rxmeta *m);
/* The oldest frame (its bytes follow the record), or NULL. */
const struct nic_rxhold_rec *nic_rxhold_peek(const struct nic_rxhold *h);
void nic_rxhold_pop(struct nic_rxhold *h);

struct pv_capstream;

struct nic_vi {
	struct nic *nic;
	uint32_t id;
	enum nic_vi_state state;
	void *owner;			/* the control connection */
	struct pv_nic_vi_shared *sh;
	struct pv_nic_desc *txq, *rxq;
	struct pv_nic_event *evq;
	int mem_fd, db_fd, wake_fd;
	struct pv_watch *db_watch;
	struct pv_watch *db_mute_w;	/* doorbell muted: the timer that unmutes it */
	uint32_t db_idle;		/* doorbells in a row that found no TX work */
	uint32_t db_backoff_ms;		/* next mute's length (doubles, 0: none yet) */
	uint64_t db_mutes;
	uint32_t tx_cons, rx_cons, evq_prod;	/* private, trusted */
	struct nic_txpolicy pol;
	bool queued;
	bool rx_chain;			/* PV_NIC_VI_F_RX_CHAIN: frames whole, in chains */
	struct nic_vi *run_next;
	int64_t deficit;		/* wire bytes it may still send (DRR, vi.c) */
	uint64_t wait_mark;		/* nic->tx_wire_total when it was queued */
	struct pv_storm_bucket storm[PV_STORM_MCAST + 1];	/* SET_STORM: by kind (vi.c) */
	struct pv_nic_vi_stats st;
	struct pv_capstream *cap;	/* CAPTURE running on it, or NULL */
	struct nic_rxhold hold;		/* frames waiting for RX descriptors (vi.c "RX hold") */
	uint64_t hold_progress_ms;	/* when its hold last delivered (or began) */
};

/*
 * One frame for the wire, with the virtio-net header the port sends it
 * with (offloads: checksum, TSO; little-endian fields, as PACKET_VNET_HDR
 * takes them; all zero for a complete frame).  The frame is the
 * concatenation of @iov[0 .. @niov): iov[0] is the private header copy
 * @hdr (@hdr_len bytes, all of a frame of at most NIC_TX_HDR_MAX), the
 * rest point into the guest's buffers (payload only, which the guest may
 * change until the hook returns).  The hook sets @rc (0 sent, or -errno:
 * dropped).
 */
#define NIC_TX_IOV_MAX	(PV_NIC_TX_MAX_FRAGS + 1u)

struct nic_txframe {
	uint32_t len;			/* the whole frame */
	uint32_t hdr_len;
	unsigned int niov;
	struct virtio_net_hdr vnet;
	int rc;
	struct iovec iov[NIC_TX_IOV_MAX];
	uint8_t hdr[NIC_TX_HDR_MAX];
};

/* Send @n frames (a batch from one VI, in order). */
typedef void (*nic_xmit_fn)(void *arg, struct nic_txframe *f, unsigned int n);

/*
 * The TX scheduler (vi.c, "Sharing the port"): deficit round robin by the
 * bytes a frame puts on the wire, each segment at least NIC_WIRE_MIN
 * bytes plus NIC_WIRE_OVERHEAD (preamble 8, inter-frame gap 12, FCS 4);
 * NIC_TX_QUANTUM wire bytes a turn.  NIC_TX_COST_MAX: the dearest frame,
 * a TSO frame of PV_NIC_TSO_MAX bytes cut at PV_NIC_TSO_MSS_MIN.
 */
#define NIC_WIRE_MIN		60u
#define NIC_WIRE_OVERHEAD	24u
#define NIC_TX_QUANTUM		65536
#define NIC_TX_COST_MAX		(PV_NIC_TSO_MAX + \
				 (PV_NIC_TSO_MAX / PV_NIC_TSO_MSS_MIN + 1) * \
				 (NIC_TX_HDR_MAX + NIC_WIRE_OVERHEAD))

/* Doorbells that find no work: after this many in a row, the doorbell is muted. */
#define NIC_DB_IDLE_MAX		32u
#define NIC_DB_MUTE_MIN_MS	1u
#define NIC_DB_MUTE_MAX_MS	64u

struct nic_config {
	uint32_t max_vis;
	uint32_t nr_bufs;
	uint32_t max_filters;
	uint32_t vi_filters;
	bool gro;		/* coalesce in-order TCP segments at the port (port.c, gro.c) */
	uint32_t rx_hold_bytes;	/* each VI's RX hold (vi.c "RX hold"); 0: none, drop at once */
};

struct nic {
	struct pv_loop *loop;		/* NULL: no doorbell watches (tests) */
	struct nic_config cfg;
	struct nic_vi *vis;
	uint32_t nr_active;
	struct nic_bufta bt;
	struct nic_filters fl;
	uint32_t host_vi;
	nic_xmit_fn xmit;
	void *xmit_arg;
	uint32_t mtu;
	uint8_t port_mac[6];
	struct nic_vi *run_head, *run_tail;
	uint64_t tx_wire_total;		/* wire bytes sent, all VIs (the scheduler's clock) */
	uint64_t port_rx, port_tx, rx_unmatched_dropped, ctl_errors;
	uint64_t port_rx_kernel_drops;	/* the port's kernel dropped them: read too late */
	struct nic_gro_stats gro_st;	/* the port's receive coalescing (INFO's gro_*) */
	struct pv_ratelimit rl;
	bool polling;			/* tx_cons.armed set in the VIs (nic_set_polling) */
	uint64_t poll_kicks;		/* VIs queued by nic_poll_vis(), no doorbell */
	uint32_t nr_holding;		/* VIs whose RX hold is not empty */
	struct pv_watch *hold_w;	/* their retry timer, while nr_holding */
	/* a GSO frame's segment, for a VI without RX chains */
	uint8_t segbuf[PV_NIC_RX_FRAME_MAX];
	/* a round's good frames: at most one per descriptor, each with its
	 * private header copy */
	struct nic_txframe txf[PV_NIC_TX_BUDGET];
};

struct nic *nic_new(struct pv_loop *loop, const struct nic_config *cfg);
void nic_free(struct nic *nic);
void nic_set_xmit(struct nic *nic, nic_xmit_fn fn, void *arg, uint32_t mtu);

int nic_vi_alloc(struct nic *nic, void *owner, uint32_t *id);
struct nic_vi *nic_vi_lookup(struct nic *nic, uint32_t id, void *owner, int *err);
void nic_vi_free(struct nic *nic, struct nic_vi *vi);
void nic_vi_reset(struct nic *nic, struct nic_vi *vi);
void nic_vi_free_owner(struct nic *nic, void *owner);
int nic_vi_set_mac(struct nic *nic, struct nic_vi *vi, const struct pv_nic_set_mac *m);
int nic_set_host(struct nic *nic, uint32_t vi_id);
int nic_vi_set_storm(struct nic_vi *vi, const struct pv_nic_set_storm *m);
/*
 * Storm control of one TX frame (vi.c, "Storm control"): its destination
 * @dst; @now_ms a monotonic clock.  Return: PV_NIC_ERR_NONE, or
 * PV_NIC_ERR_TX_STORM (counted in the VI's tx_storm_*).
 */
enum pv_nic_err nic_vi_storm_check(struct nic_vi *vi, const uint8_t dst[6], uint64_t now_ms);
void nic_vi_stats(struct nic *nic, struct nic_vi *vi, struct pv_nic_vi_stats *st);
/* CAPTURE: mirror @vi's frames to stream socket @fd (owned from now on): 0, -EBUSY, -ENOMEM. */
int nic_vi_capture(struct nic *nic, struct nic_vi *vi, int fd);
/* A VI by id whoever owns it (the trusted caller's admin view): NULL, *err -ENOENT. */
struct nic_vi *nic_vi_any(struct nic *nic, uint32_t id, int *err);
void nic_vi_kick(struct nic *nic, struct nic_vi *vi);

/*
 * What the port knows of a frame beyond its bytes: a GSO frame (virtio-net
 * gso_type and gso_size) comes whole, its TCP checksum partial (the
 * pseudo-header sum at csum_start + csum_offset).
 */
void nic_rx_frame(struct nic *nic, const uint8_t *frame, uint32_t len, uint16_t rx_flags);
void nic_rx_frame_meta(struct nic *nic, const uint8_t *frame, uint32_t len, uint16_t rx_flags,
		       const struct nic_rxmeta *m);
bool nic_service(struct nic *nic);
/* Deliver what the VIs' RX holds can now (end of a port batch, polling, timer). */
void nic_rx_flush(struct nic *nic);
/* The 1 ms timer's work at @now_ms: nic_rx_flush, then drop holds stalled NIC_RX_HOLD_MAX_MS. */
void nic_rx_hold_tick(struct nic *nic, uint64_t now_ms);
/* Polling (vi.c; nic.h "NIC polling"): queue VIs whose tx_prod moved; say so to users. */
unsigned int nic_poll_vis(struct nic *nic);
unsigned int nic_set_polling(struct nic *nic, bool on);

/* ---- the physical port (port.c) ---- */

struct nic_port;
struct nic_port *nic_port_open(struct pv_loop *loop, struct nic *nic, const char *ifname, int *err);
void nic_port_close(struct nic_port *p);

/* ---- the control socket (ctl.c) ---- */

struct nic_ctl;
struct nic_ctl *nic_ctl_listen(struct pv_loop *loop, struct nic *nic, const char *path, int *err);
void nic_ctl_close(struct nic_ctl *ctl);

#endif
