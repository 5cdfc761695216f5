/* SPDX-License-Identifier: MIT */
/*
 * gro.h - receive coalescing in the NIC model: the in-order TCP segments
 * of one flow in one port batch become one large frame with GSO metadata
 * (gro.c says how and why here).  Pure: no I/O, no allocation, no state
 * between batches but the counters.
 *
 * The caller hands a batch as an array of struct nic_gro_pkt, in arrival
 * order, each a frame in a buffer the engine may grow (cap); the engine
 * marks each one:
 *
 *   NIC_GRO_PASS      deliver as it came (untouched);
 *   NIC_GRO_HEAD      a merged frame: @len grew, its headers rewritten,
 *                     deliver it with @m and @rx_flags (CSUM_PARTIAL);
 *   NIC_GRO_ABSORBED  its payload went into an earlier HEAD: deliver
 *                     nothing.
 *
 * and the caller delivers the PASS and HEAD frames in array order: each
 * flow's bytes stay in order (a HEAD sits where its first segment came).
 */
#ifndef PVNET_NIC_GRO_H
#define PVNET_NIC_GRO_H

#include <stdbool.h>
#include <stdint.h>

#define NIC_GRO_BATCH_MAX	64u	/* frames in one nic_gro_batch() */
#define NIC_GRO_IP_MAX		65535u	/* a merged IP datagram, bytes */

enum nic_gro_verdict {
	NIC_GRO_PASS = 0,
	NIC_GRO_HEAD,
	NIC_GRO_ABSORBED,
};

/* Why a merge (a head segment and those it took, maybe none) ended: each ends once. */
enum nic_gro_close {
	NIC_GRO_CLOSE_BATCH = 0,	/* the batch ended */
	NIC_GRO_CLOSE_PUSH,		/* PSH, or a segment shorter than the MSS: taken, last */
	NIC_GRO_CLOSE_SIZE,		/* the next segment would pass 64 KiB (or the buffer) */
	NIC_GRO_CLOSE_MISMATCH,		/* a segment of the flow that cannot follow: sequence gap
					 * or overlap, other ack or window, options, IP fields,
					 * flags, ID */
	NIC_GRO_CLOSE_OTHER,		/* a frame of the flow never merged: SYN/FIN/RST/URG, no
					 * payload, checksum not known good, GSO, IP options... */
	NIC_GRO_CLOSE_MAX,
};

struct nic_gro_stats {
	uint64_t frames;		/* merged frames produced (2 segments or more) */
	uint64_t segs;			/* segments that went into them */
	uint64_t not_wanted;		/* candidates left alone: the caller's want() said no */
	uint64_t close[NIC_GRO_CLOSE_MAX];
};

/*
 * struct nic_gro_pkt - one frame of a batch
 * @frame:	in: the frame (Ethernet header first); a HEAD's grows in place
 * @len:	in: its length; out (HEAD): the merged frame's
 * @cap:	bytes writable at @frame (>= @len): how far a HEAD may grow
 * @rx_flags:	in: PV_NIC_RX_F_CSUM_OK (the kernel validated the checksum)
 *		or PV_NIC_RX_F_CSUM_PARTIAL (with @csum_start/@csum_offset:
 *		a local sender's frame) or 0 (unknown: never merged);
 *		out (HEAD): PV_NIC_RX_F_CSUM_PARTIAL
 * @gso:	in: a GSO frame already: never merged
 * @csum_start:	in, with CSUM_PARTIAL: where the sum starts
 * @csum_offset: in, with CSUM_PARTIAL: the field's place from there
 * @verdict:	out: enum nic_gro_verdict
 * @segs:	out (HEAD): segments in it
 * @gso_type:	out (HEAD): PV_NIC_GSO_TCPV4 or _TCPV6 (| PV_NIC_GSO_ECN)
 * @gso_size:	out (HEAD): the MSS, payload bytes of every segment but the last
 * @out_csum_start, @out_csum_offset: out (HEAD): the TCP header, 16
 */
struct nic_gro_pkt {
	uint8_t *frame;
	uint32_t len;
	uint32_t cap;
	uint16_t rx_flags;
	bool gso;
	uint16_t csum_start, csum_offset;
	uint8_t verdict;
	uint16_t segs;
	uint8_t gso_type;
	uint16_t gso_size;
	uint16_t out_csum_start, out_csum_offset;
};

/*
 * Asked once per flow and batch, before its first segment becomes a head:
 * may this flow's frames be merged (pvnet-nicd: does the VI they go to
 * take RX chains)?  NULL: always.
 */
typedef bool (*nic_gro_want_fn)(void *arg, const uint8_t *frame, uint32_t len);

void nic_gro_batch(struct nic_gro_pkt *pk, unsigned int n, nic_gro_want_fn want, void *arg,
		   struct nic_gro_stats *st);

#endif
