/* SPDX-License-Identifier: MIT */
/*
 * txrule.c - the NIC's TX acceptance rule, once (see txrule.h): the length
 * a frame may have, and the CSUM and TSO offloads it may ask for.
 *
 * How this works
 * ==============
 *
 * Pure predicates on a frame's first bytes, its length, the port's MTU and
 * the offload asked for; nothing is written but the parse result.  Three
 * callers decide with them: pvnet-nicd itself (txcheck.c, nic_tx_offload:
 * the decision that is enforced, then the virtio-net header it sends the
 * frame with), pvnetd's host VI (nicport.c: a chain with offloads, or the
 * software path) and the frontend plugin (pvnic_front.c: TSO, CSUM, or
 * software segmentation and checksums).  A VI user that posts only what
 * the rule takes never sees an OFFLOAD or TOO_BIG error.
 *
 * The rule (nic.h, "TX"):
 *   length  14 .. MTU + 14 without TSO, 4 more after one tag (802.1Q or
 *           802.1ad: the port's kernel counts either as a VLAN header);
 *           with TSO up to PV_NIC_TSO_MAX;
 *   CSUM    TCP or UDP over IPv4 or IPv6 after at most one 802.1Q tag
 *           (pv_pkt_parse_hdr), not a fragment, headers read from the
 *           bytes given (truncated: refused), the frame ending with the IP
 *           datagram (no trailer the checksum would not cover);
 *   TSO     CSUM's conditions, TCP, no IPv6 extension header (the kernel's
 *           GSO would take them, a device might not), mss at least
 *           PV_NIC_TSO_MSS_MIN and headers + mss no longer than the port
 *           takes (every segment a frame the port takes: else TOO_BIG).
 * The checks run in that order, so the error is the NIC's: TOO_BIG for the
 * length first, then OFFLOAD, then TOO_BIG for the mss.
 *
 * The fallback, for a TCP GSO frame the rule refuses as TSO (or a NIC
 * without TSO): nic_txrule_swgso() segments it in software, each segment a
 * frame the rule takes without offloads, in a buffer of its own, staged on
 * the VI's ring; the caller publishes the lot (vi_user_tx_publish) or
 * forgets it, so a GSO frame goes whole or not at all.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "nic/txrule.h"

static bool txrule_tagged(const uint8_t *hdr, uint32_t hlen)
{
	uint16_t type;

	if (hlen < PV_PKT_ETH_HLEN)
		return false;
	type = (uint16_t)(hdr[12] << 8 | hdr[13]);
	return type == PV_PKT_ETH_P_8021Q || type == 0x88a8 /* ETH_P_8021AD */;
}

uint32_t nic_txrule_max_len(uint32_t mtu, const uint8_t *hdr, uint32_t hlen)
{
	return mtu + PV_PKT_ETH_HLEN + (txrule_tagged(hdr, hlen) ? PV_PKT_VLAN_HLEN : 0);
}

uint32_t nic_txrule_tso_mss_max(const struct pv_pkt_info *pi, uint32_t mtu, const uint8_t *hdr,
				uint32_t hlen)
{
	uint32_t max = nic_txrule_max_len(mtu, hdr, hlen), h = pi->l4_off + pi->l4_hdr_len;

	return max > h ? max - h : 0;
}

enum pv_nic_err nic_txrule_offload(const uint8_t *hdr, uint32_t hlen, uint32_t len,
				   uint32_t mtu, uint32_t flags, uint16_t mss,
				   struct pv_pkt_info *pi)
{
	uint32_t max;

	if (hlen > len)
		hlen = len;
	if (hlen > PV_NIC_TX_HDR_MAX)
		hlen = PV_NIC_TX_HDR_MAX;	/* all the NIC reads */
	if (hlen < PV_PKT_ETH_HLEN)
		return PV_NIC_ERR_TX_RUNT;
	max = nic_txrule_max_len(mtu, hdr, hlen);
	if (len > ((flags & PV_NIC_TX_F_TSO) ? PV_NIC_TSO_MAX : max))
		return PV_NIC_ERR_TX_TOO_BIG;
	if (!(flags & (PV_NIC_TX_F_CSUM | PV_NIC_TX_F_TSO)))
		return PV_NIC_ERR_NONE;
	if (pv_pkt_parse_hdr(hdr, hlen, len, pi) < 0 || !pi->ip_version ||
	    (pi->flags & PV_PKT_F_FRAG) || !(pi->flags & PV_PKT_F_PORTS) || pi->l3_end != len)
		return PV_NIC_ERR_TX_OFFLOAD;
	if (!(flags & PV_NIC_TX_F_TSO))
		return PV_NIC_ERR_NONE;
	if (pi->l4_proto != IPPROTO_TCP || mss < PV_NIC_TSO_MSS_MIN ||
	    (pi->ip_version == 6 && pi->l4_off != pi->l3_off + 40))
		return PV_NIC_ERR_TX_OFFLOAD;
	if (pi->l4_off + pi->l4_hdr_len + mss > max)
		return PV_NIC_ERR_TX_TOO_BIG;	/* segments the port would not take */
	return PV_NIC_ERR_NONE;
}

struct txrule_swgso {
	struct vi_user *u;
	uint32_t *staged;
	uint32_t mtu;
	nic_txrule_take_fn take;
	void *arg;
};

static int txrule_swgso_seg(const struct pv_pkt_seg *seg, void *arg)
{
	struct txrule_swgso *g = arg;
	uint32_t len = seg->hdr_len + seg->payload_len;
	struct nic_tx_frag frag = { .len = (uint16_t)len };
	uint8_t *buf;
	int rc;

	if (len > PV_NIC_BUF_SIZE || len > nic_txrule_max_len(g->mtu, seg->hdr, seg->hdr_len))
		return -E2BIG;
	rc = g->take(g->arg, g->u->tx_prod + *g->staged, &buf, &frag.buf_id);
	if (rc)
		return rc;
	memcpy(buf, seg->hdr, seg->hdr_len);
	memcpy(buf + seg->hdr_len, seg->payload, seg->payload_len);
	return vi_user_tx_stage_frame(g->u, g->staged, &frag, 1, 0, 0);
}

int nic_txrule_swgso(struct vi_user *u, uint32_t *staged, const uint8_t *frame, uint32_t len,
		     uint16_t mss, int gso_type, uint32_t mtu, nic_txrule_take_fn take, void *arg)
{
	struct txrule_swgso g = { .u = u, .staged = staged, .mtu = mtu, .take = take, .arg = arg };

	return pv_pkt_gso_segment(frame, len, mss, gso_type, txrule_swgso_seg, &g);
}
