/* SPDX-License-Identifier: MIT */
/*
 * txcheck.c - the checks of a TX frame: a VI sends only as itself
 * (nic_tx_check), frames the port takes, offloads the frame can have
 * (nic_tx_offload).
 *
 * The SFC4000 had a register for source enforcement and its driver never
 * set it; pvnet enforces it on every frame.  What is checked is the NIC's
 * private copy of the frame's first bytes (the header copy, at most
 * NIC_TX_HDR_MAX, all of a shorter frame), the same bytes that go out: the
 * guest cannot change them between the check and the send.  These
 * functions get only that copy, its length and the whole frame's length;
 * the payload after it (sent from the guest's buffers) is never theirs to
 * read.  Headers that do not fit the copy parse as truncated.
 *
 * Offloads become the virtio-net header the port sends the frame with
 * (AF_PACKET, PACKET_VNET_HDR): the kernel completes the checksum
 * (VIRTIO_NET_HDR_F_NEEDS_CSUM) and cuts TSO frames into segments (GSO
 * TCPV4/TCPV6), in software or in the device.  What the kernel would
 * refuse or misread is refused: the rule (only unfragmented TCP/UDP over
 * IPv4 or IPv6 after at most one tag, the frame ending with the IP
 * datagram; TSO only for TCP without IPv6 extension headers, with a sane
 * MSS) is txrule.c's, the one the VI users ask before they post.  The
 * checksum field gets the pseudo-header sum (as Linux's stack leaves it
 * for CHECKSUM_PARTIAL), so whatever the guest left there does not matter.
 */
#include <endian.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <string.h>

#include "nic.h"
#include "nic/txrule.h"
#include "lib/pkt.h"

/* The sender IPv4 address of an Ethernet/IPv4 ARP packet at @l3, or 0. */
static int arp_sender_ok(const uint8_t *hdr, uint32_t hlen, uint32_t l3, uint32_t ip)
{
	/* htype 1, ptype 0x0800, hlen 6, plen 4; sender IP at 14 of the ARP body */
	const uint8_t *arp = pv_pkt_get(hdr, hlen, l3, 28);

	if (!arp || arp[4] != 6 || arp[5] != 4)
		return 0;
	return !memcmp(arp + 14, &ip, 4) && !memcmp(arp + 8, hdr + 6, 6);
}

/*
 * With source ports enforced (a VI that owns flows, not an address): TCP
 * or UDP from one of its filters' ports.  A fragment hides its ports (all
 * but the first carry none), ICMP and the rest have none: refused.
 */
static enum pv_nic_err tx_check_port(const struct nic_txpolicy *p, const struct pv_pkt_info *pi)
{
	if (!(pi->flags & PV_PKT_F_PORTS) || (pi->flags & PV_PKT_F_FRAG) ||
	    (pi->l4_proto != IPPROTO_TCP && pi->l4_proto != IPPROTO_UDP))
		return PV_NIC_ERR_TX_SPOOF;
	return nic_filter_owns(p->fl, p->vi, pi->l4_proto, p->ip, pi->src_port) ?
	       PV_NIC_ERR_NONE : PV_NIC_ERR_TX_SPOOF;
}

/* With a source IPv4 assigned: only IPv4 from it and ARP as it pass (no ARP with ports). */
static enum pv_nic_err tx_check_ip(const struct nic_txpolicy *p, const uint8_t *hdr,
				   uint32_t hlen, uint32_t len)
{
	uint32_t l3 = PV_PKT_ETH_HLEN;
	uint16_t type = (uint16_t)(hdr[12] << 8 | hdr[13]);
	const uint8_t *tag;
	struct pv_pkt_info pi;

	if (type == PV_PKT_ETH_P_8021Q) {
		tag = pv_pkt_get(hdr, hlen, l3, PV_PKT_VLAN_HLEN);
		if (!tag)
			return PV_NIC_ERR_TX_RUNT;
		type = (uint16_t)(tag[2] << 8 | tag[3]);
		l3 += PV_PKT_VLAN_HLEN;
	}
	if (type == ETH_P_ARP && !p->ports_set)
		return arp_sender_ok(hdr, hlen, l3, p->ip) ? PV_NIC_ERR_NONE :
		       PV_NIC_ERR_TX_SPOOF;
	if (type != PV_PKT_ETH_P_IPV4)	/* also a second tag: what is inside is hidden */
		return PV_NIC_ERR_TX_SPOOF;
	if (pv_pkt_parse_hdr(hdr, hlen, len, &pi) < 0 || pi.ip_version != 4)
		return PV_NIC_ERR_TX_SPOOF;	/* an IPv4 header that does not parse */
	if (memcmp(pi.src_ip, &p->ip, 4))
		return PV_NIC_ERR_TX_SPOOF;
	return p->ports_set ? tx_check_port(p, &pi) : PV_NIC_ERR_NONE;
}

/**
 * nic_tx_check() - may a VI with policy @p send this frame?
 *
 * Source MAC always (but the host VI); then, with SET_ADDRS, the source
 * addresses by the rule netback applies (lib/srcguard.h); else, with
 * SET_MAC's PV_NIC_MAC_F_IP (the older ABI), one IPv4 source, and with
 * PV_NIC_MAC_F_PORTS its filters' source ports (tx_check_port).
 * @p:		the VI's policy
 * @hdr:	private copy of the frame's first @hlen bytes
 * @hlen:	min(@len, NIC_TX_HDR_MAX): all that is read
 * @len:	the whole frame's length
 *
 * Return: PV_NIC_ERR_NONE, or why not (RUNT, SPOOF).
 */
enum pv_nic_err nic_tx_check(const struct nic_txpolicy *p, const uint8_t *hdr, uint32_t hlen,
			     uint32_t len)
{
	if (hlen > len)
		hlen = len;
	if (hlen < PV_PKT_ETH_HLEN)
		return PV_NIC_ERR_TX_RUNT;
	if (p->any_source)
		return PV_NIC_ERR_NONE;
	/* An 802.1Q frame carries its one source MAC before the tag: same place. */
	if (!p->mac_set || memcmp(hdr + 6, p->mac, 6))
		return PV_NIC_ERR_TX_SPOOF;
	/*
	 * The addresses (SET_ADDRS): the slow path's rule, lib/srcguard.c, on
	 * the header copy.  Headers going on past the copy cannot be checked:
	 * refused (NEED_MORE is a spoof here).
	 */
	if (p->addrs_set)
		return pv_sg_check(hdr, hlen, len, p->mac, &p->addrs) == PV_SG_PASS ?
		       PV_NIC_ERR_NONE : PV_NIC_ERR_TX_SPOOF;
	return p->ip_set ? tx_check_ip(p, hdr, hlen, len) : PV_NIC_ERR_NONE;
}

/* The folded pseudo-header sum of an @l4_len-byte TCP/UDP packet: what CHECKSUM_PARTIAL carries. */
static uint16_t tx_pseudo_sum(const struct pv_pkt_info *pi, uint32_t l4_len)
{
	uint8_t ph[40] = { 0 };
	uint32_t n = 12;

	if (pi->ip_version == 4) {
		memcpy(ph, pi->src_ip, 4);
		memcpy(ph + 4, pi->dst_ip, 4);
		ph[9] = pi->l4_proto;
		ph[10] = (uint8_t)(l4_len >> 8);
		ph[11] = (uint8_t)l4_len;
	} else {
		memcpy(ph, pi->src_ip, 16);
		memcpy(ph + 16, pi->dst_ip, 16);
		ph[34] = (uint8_t)(l4_len >> 8);
		ph[35] = (uint8_t)l4_len;
		ph[39] = pi->l4_proto;
		n = 40;
	}
	return (uint16_t)~pv_pkt_csum_fold(pv_pkt_csum_add(0, ph, n));
}

/**
 * nic_tx_offload() - does the port take this frame, with its offloads?
 * @p:		the VI's policy (max_len: the port's MTU + 14)
 * @hdr:	private copy of the frame's first @hlen bytes (written: the L4
 *		checksum field, with CSUM or TSO; it lies inside the copy)
 * @hlen:	min(@len, NIC_TX_HDR_MAX), at least an Ethernet header: all
 *		that is read; offload headers past it are refused OFFLOAD
 * @len:	the whole frame's length
 * @flags:	the frame's PV_NIC_TX_F_CSUM / PV_NIC_TX_F_TSO
 * @mss:	with TSO: segment payload bytes
 * @vh:		out: the virtio-net header to send it with (all zero without
 *		offloads)
 *
 * Return: PV_NIC_ERR_NONE, or why not (TOO_BIG, OFFLOAD).
 */
enum pv_nic_err nic_tx_offload(const struct nic_txpolicy *p, uint8_t *hdr, uint32_t hlen,
			       uint32_t len, uint32_t flags, uint16_t mss,
			       struct virtio_net_hdr *vh)
{
	struct pv_pkt_info pi;
	enum pv_nic_err err;
	uint32_t field;
	uint16_t sum;

	memset(vh, 0, sizeof(*vh));
	/* The rule, as the VI users ask it (txrule.c); then what the port sends it with. */
	err = nic_txrule_offload(hdr, hlen, len, p->max_len - PV_PKT_ETH_HLEN, flags, mss, &pi);
	if (err != PV_NIC_ERR_NONE || !(flags & (PV_NIC_TX_F_CSUM | PV_NIC_TX_F_TSO)))
		return err;
	if (flags & PV_NIC_TX_F_TSO) {
		vh->gso_type = pi.ip_version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 :
						    VIRTIO_NET_HDR_GSO_TCPV6;
		/* CWR set: the first segment only keeps it (and a device must know). */
		if (pi.tcp_flags & PV_TCP_CWR)
			vh->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
		vh->gso_size = htole16(mss);
	}
	field = pi.l4_off + (pi.l4_proto == IPPROTO_TCP ? PV_PKT_TCP_CSUM_OFF :
							      PV_PKT_UDP_CSUM_OFF);
	sum = tx_pseudo_sum(&pi, len - pi.l4_off);
	/* field + 2 <= l4_off + l4_hdr_len <= hlen: pv_pkt_parse_hdr() read the L4 header there */
	hdr[field] = (uint8_t)(sum >> 8);
	hdr[field + 1] = (uint8_t)sum;
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->csum_start = htole16((uint16_t)pi.l4_off);
	vh->csum_offset = htole16((uint16_t)(field - pi.l4_off));
	vh->hdr_len = htole16((uint16_t)(pi.l4_off + pi.l4_hdr_len));
	return PV_NIC_ERR_NONE;
}
