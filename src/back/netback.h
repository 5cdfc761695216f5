/* SPDX-License-Identifier: MIT */
/*
 * netback.h - Xen's netback in pvnetd: one vif per (guest, devid), each a
 * port of pvnetd's switch, serving a netfront over netif rings.
 *
 *    toolstack: /local/domain/0/backend/vif/D/N ──watch──> pv_netback
 *                                                           │ vif "vifD.N"
 *    guest D netfront ══ tx ring ══> nb_tx ──pv_switch_input──> switch
 *                     <══ rx ring ══ nb_rx <──port.xmit/flush──┘
 *
 * One struct pv_netback serves every vif of a pvnetd, from pvnetd's single
 * thread and loop.  The xenbus contract is docs/xenbus.md; the data path
 * rules are netif.h's, enforced as described in netback_tx.c/netback_rx.c.
 *
 * Naming: "tx" is always the guest's transmit direction (guest -> switch,
 * the netif TX ring), "rx" the guest's receive direction (switch -> guest,
 * the netif RX ring), as in netif.h.  (The switch's pv_port_stats count
 * the other way round: a guest's tx is the port's rx.)
 *
 * Failure kinds (DESIGN.md "Isolation and trust"):
 *  - malformed but possible: the frame is dropped, error responses are
 *    written, a per-reason drop counter below is bumped, and a
 *    rate-limited warning is logged;
 *  - impossible (the frontend lies about the protocol itself): the vif is
 *    disabled: its rings are no longer touched, unmapped, its channel
 *    closed, its backend state set to Closing and "disabled-reason"
 *    written in its backend directory; logged once.  The frontend may
 *    start over through Closed and Initialising, with new rings.
 */
#ifndef PVNET_NETBACK_H
#define PVNET_NETBACK_H

#include <stddef.h>
#include <stdint.h>

#include "lib/srcguard.h"

struct pv_hv;
struct xs_server;
struct pv_switch;
struct pv_loop;
struct pv_netback;

#define PV_NETBACK_BASE "/local/domain/0/backend/vif"

/**
 * struct pv_netback_config - tunables; zero means the default
 * @tx_budget:		frames taken from one vif's TX ring per pass before
 *			the other vifs get their turn (default 64)
 * @rxq_max_frames:	frames held per vif while its guest has not posted
 *			enough RX buffers (default 256)
 * @rxq_max_bytes:	bytes held per vif in that queue (default 4 MiB: 64
 *			GSO frames; a dropped 64 KiB frame costs TCP 45 segments)
 */
struct pv_netback_config {
	unsigned int tx_budget;
	unsigned int rxq_max_frames;
	size_t rxq_max_bytes;
};

/**
 * struct pv_vif_stats - one vif's counters (guest's point of view)
 *
 * Drops on TX (from the guest), each frame counted once, under the first
 * reason that applied:
 * @tx_runt:		shorter than an Ethernet header
 * @tx_too_long:	longer than MTU + Ethernet header (+ VLAN) without GSO
 * @tx_frag_overrun:	a slot larger than what remains of the declared size
 * @tx_bad_grant:	a slot's grant could not be mapped (not granted, other
 *			domain, revoked, busy)
 * @tx_csum:		NETTXF_csum_blank on a frame that is not TCP/UDP
 * @tx_gso_bad:		GSO size below 64 (0 too), unknown GSO type, GSO on non-TCP, or GSO
 *			without csum_blank
 * @tx_spoofed:		source MAC other than the vif's own
 * Source addresses (srcguard.h; the rule is src/lib/srcguard.h's):
 * @tx_spoof_ipv4:	IPv4 source not the vif's (or malformed IPv4)
 * @tx_spoof_arp:	ARP sender MAC or IP not the vif's (or not Ethernet/IPv4 ARP)
 * @tx_spoof_ipv6:	IPv6 source not the vif's (nor its EUI-64 link-local, nor :: for DAD)
 * @tx_spoof_nd:	NDP: NA target not the vif's, link-layer option not its MAC,
 *			fragmented
 * @tx_spoof_vlan:	more 802.1Q/802.1ad tags than are looked through (2)
 * @tx_ip_conflict:	learned mode: the address is another vif's (first come, first served)
 * @tx_ip_full:		learned mode: the vif owns PV_SG_ADDRS_MAX addresses already
 * @tx_too_many_slots:	19 or 20 data slots (Linux: dropped; more: fatal)
 * @tx_storm_bcast, @tx_storm_mcast, @tx_storm_unknown: floods over the
 *			vif's storm limits (the switch's counts, port.h)
 * Drops on RX (to the guest):
 * @rx_not_connected:	the vif was not connected
 * @rx_too_big:		bigger than the guest can take (no GSO/SG, > MTU)
 * @rx_queue_full:	the guest posted no buffers and the queue was full
 * @rx_bad_grant:	a posted buffer's grant could not be mapped writable
 *			(the slot got NETIF_RSP_ERROR)
 * @rx_queued:		frames waiting in the queue now
 * @rx_queued_max:	high-water mark of @rx_queued
 * @tx_rate_limited:	times TX stopped for lack of credit (the "rate" key)
 * @tx_storm_paused:	times TX was held after a storm-control drop, until
 *			the vif's bucket had a token again
 * @fatal:		times the vif was disabled
 * @evt_in, @evt_out:	notifications received / sent
 */
struct pv_vif_stats {
	uint64_t tx_packets, tx_bytes;
	uint64_t rx_packets, rx_bytes;
	uint64_t tx_runt, tx_too_long, tx_frag_overrun, tx_bad_grant,
		 tx_csum, tx_gso_bad, tx_spoofed, tx_too_many_slots;
	uint64_t tx_spoof_ipv4, tx_spoof_arp, tx_spoof_ipv6, tx_spoof_nd, tx_spoof_vlan,
		 tx_ip_conflict, tx_ip_full;
	uint64_t tx_storm_bcast, tx_storm_mcast, tx_storm_unknown;
	uint64_t rx_not_connected, rx_too_big, rx_queue_full, rx_bad_grant;
	uint64_t rx_queued, rx_queued_max;
	uint64_t tx_rate_limited;
	uint64_t tx_storm_paused;
	uint64_t fatal;
	uint64_t evt_in, evt_out;
};

/**
 * struct pv_vif_info - what pvnetctl shows of one vif
 * @name:		"vif<domid>.<devid>", the switch port name
 * @be_state, @fe_state: XenbusState* of backend and frontend
 * @connected:		rings mapped and served
 * @disabled:		stopped for a protocol violation; @reason says which
 * @features:		PV_VIF_F_* negotiated with the frontend
 * @addrs:		the addresses the vif owns (srcguard.h)
 * @addrs_fixed:	1: they are the `ip` key's; 0: learned
 */
struct pv_vif_info {
	unsigned int domid, devid;
	char name[32];
	uint8_t mac[6];
	unsigned int mtu;
	uint64_t rate_bytes, rate_usec;	/* TX limit, 0: none */
	int be_state, fe_state;
	int connected;
	int disabled;
	char reason[128];
	unsigned int features;
	struct pv_sg_addrs addrs;
	int addrs_fixed;
	struct pv_vif_stats st;
};

#define PV_VIF_F_SG		0x01
#define PV_VIF_F_GSO_TCPV4	0x02
#define PV_VIF_F_GSO_TCPV6	0x04
#define PV_VIF_F_CSUM		0x08	/* frontend takes csum_blank on RX */
#define PV_VIF_F_IPV6_CSUM	0x10
#define PV_VIF_F_SPLIT_EVTCHN	0x20

/**
 * pv_netback_new() - start netback: watch PV_NETBACK_BASE for vifs
 * @cfg: NULL for the defaults
 *
 * Registers a domain destroy hook with @hv (so a dying guest's vifs are
 * unmapped and removed before its grants are reclaimed).  Vif directories
 * that already exist when this is called are not discovered (the store
 * has no in-process directory listing yet): create netback before guests.
 *
 * Return: the instance, or NULL (errno-style failure logged).
 */
struct pv_netback *pv_netback_new(struct pv_hv *hv, struct xs_server *xs,
				  struct pv_switch *sw, struct pv_loop *loop,
				  const struct pv_netback_config *cfg);

/**
 * pv_netback_free() - disconnect and remove every vif, stop watching
 *
 * Backend directories are left in the store (the toolstack owns them).
 * The destroy hook is taken out of @hv's table again.  Call it before
 * freeing @hv, @xs, @sw and @loop.
 */
void pv_netback_free(struct pv_netback *nb);

typedef int (*pv_netback_vif_cb)(const struct pv_vif_info *vi, void *arg);

/**
 * pv_netback_foreach_vif() - call @cb for each vif; stop when it returns non-zero
 * Return: the callback's non-zero value, or 0.
 */
int pv_netback_foreach_vif(struct pv_netback *nb, pv_netback_vif_cb cb, void *arg);

/**
 * pv_netback_vif_info() - one vif's info
 * Return: 0, or -ENOENT if there is no such vif.
 */
int pv_netback_vif_info(struct pv_netback *nb, unsigned int domid, unsigned int devid,
			struct pv_vif_info *out);

/** pv_netback_nr_vifs() - how many vifs exist (connected or not) */
unsigned int pv_netback_nr_vifs(struct pv_netback *nb);

#endif
