/* SPDX-License-Identifier: MIT */
/*
 * uplink.h - switch ports on host Linux interfaces: the uplink (an
 * AF_PACKET socket on a physical NIC or a veth end, reaching the outside
 * network) and the host port (a TAP device through which the host's own
 * stack joins the bridge).
 *
 *   outside network                     host stack
 *        |                                  |
 *   eth0 / veth (promiscuous)          TAP "pvhost0" (csum, TSO4, TSO6)
 *        | AF_PACKET, PACKET_VNET_HDR       | /dev/net/tun, IFF_VNET_HDR
 *   pv_uplink  "uplink:eth0"           pv_hostport  "host"
 *        \________ pv_switch _______________/
 *                     |
 *                 vifs (netback)
 *
 * Both speak the virtio-net header to the kernel, so 64 KiB GSO frames and
 * frames with a partial checksum pass whole in both directions: the kernel
 * segments and checksums on the way out when the device cannot.
 *
 * Both are driven by pvnetd's loop: readable -> up to a budget of frames
 * read (recvmmsg in batches for the uplink) -> pv_switch_input() each ->
 * pv_switch_flush() once.  xmit() sends at once with MSG_DONTWAIT / a
 * non-blocking write and never blocks: a full socket or TAP queue drops
 * the frame and counts it.
 */
#ifndef PVNET_UPLINK_H
#define PVNET_UPLINK_H

#include <stdint.h>

#include "port.h"

struct pv_loop;
struct pv_switch;
struct pv_uplink;
struct pv_hostport;

/**
 * struct pv_uplink_stats - counters of an uplink or host port
 * @port:	the switch port's counters (rx_* into the switch, tx_* out of it);
 *		port.tx_dropped counts every frame dropped on xmit, for
 *		whichever of the reasons below; port.rx_dropped every frame
 *		read but not given to the switch
 * @rx_truncated: longer than the receive buffer (PV_FRAME_MAX_LEN)
 * @rx_bad_vnet: a virtio-net header the kernel should never give
 *		(unknown flags or GSO type, checksum field outside the frame,
 *		GSO size 0) or a runt
 * @rx_errors:	read errors other than "nothing more to read"
 * @tx_too_big:	longer than MTU + Ethernet header (+ VLAN tag) without GSO,
 *		or refused by the kernel as too long
 * @tx_down:	the interface was down
 * @tx_busy:	socket or TAP queue full (EAGAIN, ENOBUFS)
 * @tx_bad_frame: a frame the port cannot express (unknown GSO type, GSO
 *		size 0, inconsistent lengths) or the kernel refused (EINVAL)
 * @tx_errors:	other send errors
 * @wakeups:	read passes
 * @budget_hits: passes that stopped at the budget with more maybe pending
 * @mtu:	the interface MTU in use for the size check
 */
struct pv_uplink_stats {
	struct pv_port_stats port;
	uint64_t rx_truncated;
	uint64_t rx_bad_vnet;
	uint64_t rx_errors;
	uint64_t tx_too_big;
	uint64_t tx_down;
	uint64_t tx_busy;
	uint64_t tx_bad_frame;
	uint64_t tx_errors;
	uint64_t wakeups;
	uint64_t budget_hits;
	uint32_t mtu;
};

#define PV_UPLINK_BATCH		32	/* frames per recvmmsg */
#define PV_UPLINK_BUDGET	256	/* frames per wake-up, then others' turn */

struct pv_uplink *pv_uplink_open(struct pv_loop *loop, struct pv_switch *sw,
				 const char *ifname, int *err);
void pv_uplink_close(struct pv_uplink *up);
struct pv_port *pv_uplink_port(struct pv_uplink *up);
void pv_uplink_stats(const struct pv_uplink *up, struct pv_uplink_stats *out);
int pv_uplink_refresh_mtu(struct pv_uplink *up);

struct pv_hostport *pv_hostport_open(struct pv_loop *loop, struct pv_switch *sw,
				     const char *ifname, const uint8_t *mac,
				     unsigned int mtu, int *err);
void pv_hostport_close(struct pv_hostport *hp);
struct pv_port *pv_hostport_port(struct pv_hostport *hp);
void pv_hostport_stats(const struct pv_hostport *hp, struct pv_uplink_stats *out);
int pv_hostport_ifindex(const struct pv_hostport *hp);

#endif
