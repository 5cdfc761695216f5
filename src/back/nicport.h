/* SPDX-License-Identifier: MIT */
/*
 * nicport.h - a switch port on pvnet-nicd's host VI: when the
 * virtualization-aware NIC owns the physical interface, pvnetd's bridge
 * reaches the wire through the NIC's host VI (the default receiver of
 * everything no guest filter claims).
 *
 *   pv_switch --xmit--> nicport: copy into a 2 KiB TX buffer (GSO frames
 *                       segmented, partial checksums completed in software)
 *                       --flush--> doorbell once
 *   pvnet-nicd --RX event / wake-up--> nicport -> pv_switch_input, RX buffer reposted
 *
 * If pvnet-nicd goes away (control socket EOF, VI fault) the port leaves the
 * switch and a 1 s timer tries to connect again; the port comes back when
 * the NIC does.  pvnetd and the guests carry on meanwhile.
 */
#ifndef PVNET_NICPORT_H
#define PVNET_NICPORT_H

#include <stdint.h>

#include "port.h"
#include "pvnet/nic.h"

struct pv_loop;
struct pv_switch;
struct pv_nicport;

#define PV_NICPORT_RX_BUFS	512	/* RX buffers posted to the host VI */
#define PV_NICPORT_TX_BUFS	256	/* TX buffers */
#define PV_NICPORT_BUDGET	256	/* events per wake-up, then others' turn */
#define PV_NICPORT_RETRY_MS	1000	/* reconnect interval */
#define PV_NICPORT_BACKLOG	1024	/* frames waiting for TX room, at most */
#define PV_NICPORT_BACKLOG_BYTES (4u << 20)	/* ... and their bytes */

/**
 * struct pv_nicport_stats - counters of the NIC port
 * @port:	the switch port's counters; port.tx_dropped counts every
 *		frame (or GSO segment) dropped on xmit
 * @tx_no_room:	no free TX buffer or ring slot, and the backlog full
 * @tx_backlog:	frames that waited in the backlog for TX room (sent later)
 * @tx_backlog_max: the most frames the backlog held at once
 * @tx_too_big:	longer than a buffer or MTU + 14 (+ 4 tagged), without GSO
 * @tx_bad_frame: GSO or checksum metadata that does not fit the frame
 * @tx_down:	frames offered while the NIC is away
 * @tx_segments: segments made from GSO frames
 * @nic_errors:	ERROR events from the NIC
 * @bad_events:	events naming a descriptor we did not post, or an RX chain
 *		that does not hold together
 * @rx_chains:	frames received whole in several buffers or as GSO frames
 * @connects:	successful (re)connections
 * @disconnects: losses of the NIC
 * @wakeups:	wake-up passes
 * @connected:	1 while attached to pvnet-nicd
 * @mtu:	the NIC port's MTU
 */
struct pv_nicport_stats {
	struct pv_port_stats port;
	uint64_t tx_no_room, tx_too_big, tx_bad_frame, tx_down, tx_segments;
	uint64_t tx_backlog, tx_backlog_max;
	uint64_t nic_errors, bad_events, rx_chains;
	uint64_t connects, disconnects, wakeups;
	int connected;
	uint32_t mtu;
};

/*
 * Open the port for pvnet-nicd's run directory @run_dir (DIR/nic.sock).
 * If the NIC is not there yet, the port waits and retries every second.
 * Return: the port, or NULL with *err (-EINVAL bad path, -ENOMEM, ...).
 */
struct pv_nicport *pv_nicport_open(struct pv_loop *loop, struct pv_switch *sw,
				   const char *run_dir, int *err);
void pv_nicport_close(struct pv_nicport *np);
struct pv_port *pv_nicport_port(struct pv_nicport *np);
int pv_nicport_connected(const struct pv_nicport *np);
void pv_nicport_stats(const struct pv_nicport *np, struct pv_nicport_stats *out);
/*
 * The NIC's own counters for the host VI (a STATS round trip on the
 * control socket: for operators' requests, not the data path).
 * Return: 0, -ENOTCONN while the NIC is away, or the NIC's -errno.
 */
int pv_nicport_vi_stats(struct pv_nicport *np, struct pv_nic_vi_stats *out);

#endif
