/* SPDX-License-Identifier: MIT */
/*
 * port.h - frames and ports of pvnetd's switch: the contract between the
 * bridge glue (switch.c), netback (a port per vif) and uplinks (AF_PACKET
 * on a host interface, the host TAP port).
 *
 *   vif1 (netback) --input--> pv_switch --xmit--> vif2 (netback): copy into RX pages
 *                                       \--xmit--> uplink: writev to AF_PACKET
 *   ...then pv_switch_flush(): each port touched pushes responses / notifies once.
 *
 * A struct pv_frame describes one frame without owning its bytes: the
 * first hdr_len bytes are a private copy (what the switch decided on and
 * what every destination delivers), the rest are segments that may point
 * into a guest's granted TX pages, mapped read-only by netback for the
 * duration of pv_switch_input().  A destination copies the frame once,
 * straight into its own buffers, with pv_frame_copy().  Nothing may keep
 * a pointer into a frame after its xmit() returns.
 *
 * Offload metadata uses the virtio-net header's vocabulary (what TAP and
 * AF_PACKET's PACKET_VNET_HDR speak); netback translates netif's
 * NETTXF_csum_blank / NETRXF_* and GSO extra-info to and from it.
 */
#ifndef PVNET_PORT_H
#define PVNET_PORT_H

#include <stdint.h>

#include "lib/storm.h"

#define PV_FRAME_HDR_MAX   128	/* private header copy: Ethernet + IP + TCP */
#define PV_FRAME_MAX_SEGS  44	/* XEN_NETIF_NR_SLOTS_MIN slots + header; an RX chain of the NIC */
#define PV_FRAME_MAX_LEN   65535	/* XEN_NETIF_MAX_TX_SIZE; also a GSO frame's limit */

/* pv_frame.flags */
#define PV_FRAME_CSUM_PARTIAL 0x1	/* L4 checksum to be completed (csum_start/offset) */
#define PV_FRAME_CSUM_VALID   0x2	/* checksum known good (data validated) */

/* pv_frame.gso_type */
#define PV_GSO_NONE  0
#define PV_GSO_TCPV4 1
#define PV_GSO_TCPV6 2

struct pv_seg {
	const uint8_t *p;
	uint32_t len;
};

struct pv_frame {
	uint32_t len;			/* whole frame, bytes */
	uint32_t hdr_len;		/* bytes in hdr[]: min(len, PV_FRAME_HDR_MAX) or less */
	uint8_t hdr[PV_FRAME_HDR_MAX];	/* private copy of the frame's first bytes */
	unsigned int nseg;		/* the remaining len - hdr_len bytes */
	struct pv_seg seg[PV_FRAME_MAX_SEGS];
	uint16_t flags;			/* PV_FRAME_CSUM_* */
	uint16_t csum_start;		/* with CSUM_PARTIAL: from the frame's start */
	uint16_t csum_offset;		/* with CSUM_PARTIAL: from csum_start */
	uint8_t gso_type;		/* PV_GSO_* */
	uint16_t gso_size;		/* MSS, with gso_type */
};

/* Copy @len bytes from @off of @f to @dst; returns bytes copied (short at the end). */
uint32_t pv_frame_copy(const struct pv_frame *f, uint32_t off, void *dst, uint32_t len);
/*
 * pv_frame_linear() - @f describes the @len bytes at @buf: its header copy
 * taken, the rest one segment pointing into @buf.  Only the bytes: flags,
 * checksum and GSO fields are the caller's.
 */
void pv_frame_linear(struct pv_frame *f, const uint8_t *buf, uint32_t len);

struct pv_port;
struct pv_switch;
struct pv_capstream;

/*
 * Storm control: what a port may flood.  The switch floods broadcast,
 * multicast and unknown-unicast frames to every other port; each kind has
 * a token bucket per ingress port (frames per second, a burst), so one
 * port's flood costs the others a bounded rate.  pps 0: no limit.  Frames
 * over the limit are dropped at the switch, counted on the ingress port
 * (storm_drops[kind]) and logged, rate-limited.  Defaults for vifs:
 * PV_STORM_DEFAULT_* (docs/xenbus.md: the backend keys that change them).
 * The bucket, its kinds and defaults are src/lib/storm.h's: pvnet-nicd
 * limits a guest's VI with the same (src/nic/vi.c, "Storm control").
 */

/* Per-port counters, as pvnetctl shows them. */
struct pv_port_stats {
	uint64_t rx_packets, rx_bytes;	/* into the switch from this port */
	uint64_t tx_packets, tx_bytes;	/* out of the switch to this port */
	uint64_t tx_dropped;		/* could not deliver (no room, queue full) */
	uint64_t rx_dropped;		/* refused on input (malformed, spoofed, ...) */
	uint64_t errors;
	uint64_t storm_drops[PV_STORM_KINDS];	/* floods over the port's storm limits */
};

struct pv_port_ops {
	const char *kind;		/* "vif", "uplink", "host" */
	/*
	 * Deliver @f to this port.  Return 0 if taken, -ENOBUFS if dropped for
	 * lack of room (counted by the port), another -errno on error.
	 */
	int (*xmit)(struct pv_port *port, const struct pv_frame *f);
	/* End of a burst: publish what xmit queued (push responses, notify once). */
	void (*flush)(struct pv_port *port);
};

struct pv_port {
	const struct pv_port_ops *ops;
	void *priv;
	char name[32];			/* "vif3.0", "uplink:eth0", "host" */
	uint8_t mac[6];			/* vifs: the MAC from xenstore (static bridge entry) */
	int has_mac;
	int br_port;			/* the bridge's port id; set by pv_switch_port_add */
	int flush_pending;		/* set by the switch; cleared by pv_switch_flush */
	struct pv_port *flush_next;
	struct pv_port_stats st;
	struct pv_storm_bucket storm[PV_STORM_KINDS];	/* zero: no limits */
	struct pv_capstream *capture;	/* pvnetctl capture on this port (capture.h), or NULL */
};

struct pv_switch_config {
	unsigned int mac_aging_ms;	/* 0: 300 s */
	unsigned int mac_cap;		/* learned MACs per port; 0: 64 */
	unsigned int max_macs;		/* whole table; 0: 4096 */
};
struct pv_switch *pv_switch_new(const struct pv_switch_config *cfg);	/* cfg may be NULL */
void pv_switch_free(struct pv_switch *sw);
int pv_switch_port_add(struct pv_switch *sw, struct pv_port *port);
void pv_switch_port_del(struct pv_switch *sw, struct pv_port *port);
/*
 * A frame arrived on @in: learn, decide, deliver (xmit) to one port or flood.
 * Return: 0, or -EAGAIN when @in's storm control dropped the frame (an
 * ingress that can hold its sender back, netback, does so for a while).
 */
int pv_switch_input(struct pv_switch *sw, struct pv_port *in, const struct pv_frame *f);
/* After a burst of input: flush every port that was given frames. */
void pv_switch_flush(struct pv_switch *sw);
/* Periodic: age the MAC table. */
void pv_switch_age(struct pv_switch *sw);
struct pv_bridge *pv_switch_bridge(struct pv_switch *sw);
struct pv_port *pv_switch_port(struct pv_switch *sw, int br_port);

#endif
