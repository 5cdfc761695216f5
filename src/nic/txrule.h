/* SPDX-License-Identifier: MIT */
/*
 * txrule.h - the NIC's TX acceptance rule, as pure predicates (txrule.c):
 * how long a frame may be, and whether it may have the CSUM or TSO offload
 * it asks for (include/pvnet/nic.h, "TX").
 *
 * pvnet-nicd enforces it (txcheck.c); the two VI users, pvnetd's host VI
 * (src/back/nicport.c) and the frontend plugin (src/accel/pvnic_front.c),
 * ask it before they post, so that the NIC does not refuse what they send.
 * Needs only the public ABI (pvnet/nic.h) and lib/pkt.h, never the NIC's
 * internals.
 *
 * Beside the rule, its fallback (nic_txrule_swgso): a TCP GSO frame the
 * rule does not take as TSO, segmented by the VI user into frames it does.
 */
#ifndef PVNET_NIC_TXRULE_H
#define PVNET_NIC_TXRULE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/pkt.h"
#include "nic/nic_client.h"
#include "pvnet/nic.h"

/*
 * nic_txrule_max_len() - the largest frame without TSO a port of @mtu takes
 * from a VI: @mtu + 14, 4 more when the frame starts with a tag (802.1Q or
 * 802.1ad; read from the first @hlen bytes at @hdr).
 */
uint32_t nic_txrule_max_len(uint32_t mtu, const uint8_t *hdr, uint32_t hlen);

/*
 * nic_txrule_offload() - does a port of @mtu take this frame, with @flags?
 * @hdr:	the frame's first @hlen bytes (the NIC reads at most
 *		PV_NIC_TX_HDR_MAX; offload headers past @hlen: OFFLOAD)
 * @len:	the whole frame's length
 * @flags:	0, PV_NIC_TX_F_CSUM, PV_NIC_TX_F_TSO (other bits ignored)
 * @mss:	with TSO, the mss on the first descriptor
 * @pi:		out, with CSUM or TSO and PV_NIC_ERR_NONE: the parsed headers
 *
 * Nothing is written but @pi.
 * Return: PV_NIC_ERR_NONE, or why the NIC refuses it (RUNT, TOO_BIG, OFFLOAD).
 */
enum pv_nic_err nic_txrule_offload(const uint8_t *hdr, uint32_t hlen, uint32_t len,
				   uint32_t mtu, uint32_t flags, uint16_t mss,
				   struct pv_pkt_info *pi);

/*
 * nic_txrule_tso_mss_max() - the largest mss TSO takes for the parsed frame
 * @pi on a port of @mtu (0: none): its segments must be frames the port takes.
 */
uint32_t nic_txrule_tso_mss_max(const struct pv_pkt_info *pi, uint32_t mtu, const uint8_t *hdr,
				uint32_t hlen);

/*
 * nic_txrule_csum_at() - the partial checksum asked for at @csum_start /
 * @csum_offset is the one the NIC fills in for the parsed frame @pi (the
 * TCP or UDP checksum field).
 */
static inline bool nic_txrule_csum_at(const struct pv_pkt_info *pi, uint32_t csum_start,
				      uint32_t csum_offset)
{
	return csum_start == pi->l4_off &&
	       csum_offset == (pi->l4_proto == IPPROTO_TCP ? PV_PKT_TCP_CSUM_OFF : PV_PKT_UDP_CSUM_OFF);
}

/*
 * A free TX buffer (PV_NIC_BUF_SIZE bytes at *@buf, the NIC's *@buf_id)
 * for the descriptor at ring index @at; 0 or -errno.  The caller of
 * nic_txrule_swgso() takes the buffers back if it fails.
 */
typedef int (*nic_txrule_take_fn)(void *arg, uint32_t at, uint8_t **buf, uint32_t *buf_id);

/*
 * nic_txrule_swgso() - software GSO onto a VI: cut the linear TCP GSO
 * frame @frame (@len bytes, @gso_type PV_PKT_GSO_TCPV4/V6) at @mss
 * (pv_pkt_gso_segment: final checksums), each segment copied into a
 * buffer from @take and staged as one NIC frame without offloads
 * (vi_user_tx_stage_frame, @*staged counting), never published.  Every
 * segment must be a frame the rule takes on a port of @mtu and fit one
 * buffer, else -E2BIG.
 *
 * Return: the number of segments, or -errno (of pv_pkt_gso_segment,
 * @take or the ring): then forget @*staged and the buffers taken.
 */
int nic_txrule_swgso(struct vi_user *u, uint32_t *staged, const uint8_t *frame, uint32_t len,
		     uint16_t mss, int gso_type, uint32_t mtu, nic_txrule_take_fn take, void *arg);

#endif
