/* SPDX-License-Identifier: MIT */
/*
 * txcheck.c - TX source enforcement: a VI sends only as itself.
 *
 * The SFC4000 had a register for this and its driver never set it; pvnet
 * enforces it on every frame.  The frame checked is the NIC's private
 * copy, the same bytes that go out: the guest cannot change them between
 * the check and the send.
 */
#include <string.h>

#include "nic.h"
#include "lib/pkt.h"

#define ETH_P_ARP	0x0806
#define ETH_P_8021AD	0x88a8

/* The sender IPv4 address of an Ethernet/IPv4 ARP packet at @l3, or 0. */
static int arp_sender_ok(const uint8_t *frame, uint32_t len, uint32_t l3, uint32_t ip)
{
	/* htype 1, ptype 0x0800, hlen 6, plen 4; sender IP at 14 of the ARP body */
	if ((uint64_t)l3 + 28 > len || frame[l3 + 4] != 6 || frame[l3 + 5] != 4)
		return 0;
	return !memcmp(frame + l3 + 14, &ip, 4) && !memcmp(frame + l3 + 8, frame + 6, 6);
}

/* With a source IPv4 assigned: only IPv4 from it and ARP as it pass. */
static enum pv_nic_err tx_check_ip(const struct nic_txpolicy *p, const uint8_t *frame,
				   uint32_t len)
{
	uint32_t l3 = PV_PKT_ETH_HLEN;
	uint16_t type = (uint16_t)(frame[12] << 8 | frame[13]);
	struct pv_pkt_info pi;

	if (type == PV_PKT_ETH_P_8021Q) {
		if (len < l3 + PV_PKT_VLAN_HLEN)
			return PV_NIC_ERR_TX_RUNT;
		type = (uint16_t)(frame[16] << 8 | frame[17]);
		l3 += PV_PKT_VLAN_HLEN;
	}
	if (type == ETH_P_ARP)
		return arp_sender_ok(frame, len, l3, p->ip) ? PV_NIC_ERR_NONE :
		       PV_NIC_ERR_TX_SPOOF;
	if (type != PV_PKT_ETH_P_IPV4)	/* also a second tag: what is inside is hidden */
		return PV_NIC_ERR_TX_SPOOF;
	if (pv_pkt_parse(frame, len, &pi) < 0 || pi.ip_version != 4)
		return PV_NIC_ERR_TX_SPOOF;	/* an IPv4 header that does not parse */
	return memcmp(pi.src_ip, &p->ip, 4) ? PV_NIC_ERR_TX_SPOOF : PV_NIC_ERR_NONE;
}

/**
 * nic_tx_check() - may a VI with policy @p send this frame?
 * @p:		the VI's policy
 * @frame:	private copy of the frame
 * @len:	its length
 *
 * Return: PV_NIC_ERR_NONE, or why not (RUNT, SPOOF, TOO_BIG).
 */
enum pv_nic_err nic_tx_check(const struct nic_txpolicy *p, const uint8_t *frame, uint32_t len)
{
	uint32_t max = p->max_len;
	uint16_t type;

	if (len < PV_PKT_ETH_HLEN)
		return PV_NIC_ERR_TX_RUNT;
	type = (uint16_t)(frame[12] << 8 | frame[13]);
	if (type == PV_PKT_ETH_P_8021Q || type == ETH_P_8021AD)
		max += PV_PKT_VLAN_HLEN;
	if (len > max || len > PV_NIC_BUF_SIZE)
		return PV_NIC_ERR_TX_TOO_BIG;
	if (p->any_source)
		return PV_NIC_ERR_NONE;
	/* An 802.1Q frame carries its one source MAC before the tag: same place. */
	if (!p->mac_set || memcmp(frame + 6, p->mac, 6))
		return PV_NIC_ERR_TX_SPOOF;
	return p->ip_set ? tx_check_ip(p, frame, len) : PV_NIC_ERR_NONE;
}
