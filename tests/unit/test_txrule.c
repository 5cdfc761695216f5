/* SPDX-License-Identifier: MIT */
/*
 * test_txrule.c - the NIC's TX acceptance rule (src/nic/txrule.c) and its
 * three users deciding alike: one table of frames, each given to
 *
 *   the rule      nic_txrule_offload(), with the offload the frame asks for;
 *   the NIC       nic_tx_offload() (txcheck.c), what pvnet-nicd enforces;
 *   the host VI   pvnetd's nicport (np_xmit's choice, via a test hook);
 *   the plugin    the pvnic frontend's planner (via a test hook);
 *
 * each answering with the flags of the frame as it goes to the NIC (0,
 * CSUM, TSO) or -1 (refused: the checksum or the segments made in
 * software, or not sent).  All four must give the row's answer; whatever a
 * user posts, the NIC must take (with the user's mss); with no NIC
 * features the users post no offloads at all.
 *
 * The one place the users differ by design is the mss: the plugin clamps a
 * gso_size past the MTU to what the rule takes, the host VI segments such
 * a frame in software (want_plugin).
 */
#include <stdint.h>
#include <string.h>

#include "../lib/test.h"
#include "accel/pvnic_front.h"
#include "back/port.h"
#include "lib/pkt.h"
#include "nic/nic.h"
#include "nic/txrule.h"
#include "pvnet/nic.h"

int pv_nicport_test_tx_decide(uint32_t mtu, uint32_t features, const struct pv_frame *f,
			      uint16_t *mss);

#define MTU	1500
#define ALL	(PV_NIC_FEAT_TX_CHAIN | PV_NIC_FEAT_TX_CSUM | PV_NIC_FEAT_TSO)
#define CSUM	((int)PV_NIC_TX_F_CSUM)
#define TSO	((int)PV_NIC_TX_F_TSO)
#define SAME	(-2)

enum { UNTAGGED, DOT1Q, DOT1AD };

struct row {
	const char *name;
	int l2;			/* UNTAGGED, DOT1Q, DOT1AD */
	int ipv;		/* 4 or 6 */
	int proto;		/* IPPROTO_TCP, _UDP, _ICMP */
	int ext;		/* IPv6: a hop-by-hop header first */
	int frag;		/* IPv4: a later fragment */
	uint32_t len;		/* the whole frame */
	uint32_t trailer;	/* bytes after the IP datagram */
	int csum;		/* a partial checksum */
	uint16_t gso;		/* TCP GSO at this gso_size; 0: none */
	int want;		/* -1, 0, CSUM, TSO */
	int want_plugin;	/* SAME, or the plugin's own */
};

static const struct row rows[] = {
	{ "v4 tcp 1514", UNTAGGED, 4, IPPROTO_TCP, 0, 0, 1514, 0, 0, 0, 0, SAME },
	{ "v4 tcp 1515: past the MTU", UNTAGGED, 4, IPPROTO_TCP, 0, 0, 1515, 0, 0, 0, -1, SAME },
	{ "802.1Q v4 tcp 1518", DOT1Q, 4, IPPROTO_TCP, 0, 0, 1518, 0, 0, 0, 0, SAME },
	{ "802.1Q v4 tcp 1519", DOT1Q, 4, IPPROTO_TCP, 0, 0, 1519, 0, 0, 0, -1, SAME },
	{ "802.1ad 1518: a tag too", DOT1AD, 4, IPPROTO_TCP, 0, 0, 1518, 0, 0, 0, 0, SAME },
	{ "802.1ad 1519", DOT1AD, 4, IPPROTO_TCP, 0, 0, 1519, 0, 0, 0, -1, SAME },
	{ "v4 tcp 3000, no GSO", UNTAGGED, 4, IPPROTO_TCP, 0, 0, 3000, 0, 0, 0, -1, SAME },
	{ "v4 tcp csum", UNTAGGED, 4, IPPROTO_TCP, 0, 0, 1000, 0, 1, 0, CSUM, SAME },
	{ "v4 tcp csum 1514", UNTAGGED, 4, IPPROTO_TCP, 0, 0, 1514, 0, 1, 0, CSUM, SAME },
	{ "v4 udp csum", UNTAGGED, 4, IPPROTO_UDP, 0, 0, 600, 0, 1, 0, CSUM, SAME },
	{ "v6 tcp csum", UNTAGGED, 6, IPPROTO_TCP, 0, 0, 1000, 0, 1, 0, CSUM, SAME },
	{ "v6 udp csum", UNTAGGED, 6, IPPROTO_UDP, 0, 0, 1000, 0, 1, 0, CSUM, SAME },
	{ "v6 hop-by-hop tcp csum", UNTAGGED, 6, IPPROTO_TCP, 1, 0, 1000, 0, 1, 0, CSUM, SAME },
	{ "802.1Q v4 tcp csum", DOT1Q, 4, IPPROTO_TCP, 0, 0, 1000, 0, 1, 0, CSUM, SAME },
	{ "802.1ad v4 tcp csum", DOT1AD, 4, IPPROTO_TCP, 0, 0, 1000, 0, 1, 0, -1, SAME },
	{ "v4 tcp csum, trailer", UNTAGGED, 4, IPPROTO_TCP, 0, 0, 1000, 6, 1, 0, -1, SAME },
	{ "v4 udp fragment csum", UNTAGGED, 4, IPPROTO_UDP, 0, 1, 600, 0, 1, 0, -1, SAME },
	{ "v4 icmp csum", UNTAGGED, 4, IPPROTO_ICMP, 0, 0, 600, 0, 1, 0, -1, SAME },
	{ "v4 tso 9000/1448", UNTAGGED, 4, IPPROTO_TCP, 0, 0, 9000, 0, 1, 1448, TSO, SAME },
	{ "v4 tso 1460: mss = MTU - 40", UNTAGGED, 4, IPPROTO_TCP, 0, 0, 9000, 0, 1, 1460, TSO, SAME },
	{ "v4 tso 60000/1448", UNTAGGED, 4, IPPROTO_TCP, 0, 0, 60000, 0, 1, 1448, TSO, SAME },
	{ "v6 tso 9000/1440", UNTAGGED, 6, IPPROTO_TCP, 0, 0, 9000, 0, 1, 1440, TSO, SAME },
	{ "802.1Q v4 tso", DOT1Q, 4, IPPROTO_TCP, 0, 0, 9000, 0, 1, 1448, TSO, SAME },
	{ "v6 hop-by-hop tso", UNTAGGED, 6, IPPROTO_TCP, 1, 0, 9000, 0, 1, 1440, -1, SAME },
	{ "v4 tso mss 32", UNTAGGED, 4, IPPROTO_TCP, 0, 0, 9000, 0, 1, 32, -1, SAME },
	{ "v4 tso, trailer", UNTAGGED, 4, IPPROTO_TCP, 0, 0, 9000, 6, 1, 1448, -1, SAME },
	{ "v4 tso mss 4000: past the MTU", UNTAGGED, 4, IPPROTO_TCP, 0, 0, 9000, 0, 1, 4000, -1,
	  TSO },
};

static uint8_t F[65536];

/* Build @r into F; returns the L4 header's offset. */
static uint32_t build(const struct row *r)
{
	static const uint8_t dst[6] = { 2, 0, 0, 0, 0, 2 }, src[6] = { 2, 0, 0, 0, 0, 1 };
	uint32_t l3 = 14, l4, iplen;
	uint8_t *ip;

	memset(F, 0, r->len);
	memcpy(F, dst, 6);
	memcpy(F + 6, src, 6);
	if (r->l2 != UNTAGGED) {
		F[12] = r->l2 == DOT1Q ? 0x81 : 0x88;
		F[13] = r->l2 == DOT1Q ? 0x00 : 0xa8;
		F[15] = 5;	/* VID 5 */
		l3 += 4;
	}
	F[l3 - 2] = r->ipv == 4 ? 0x08 : 0x86;
	F[l3 - 1] = r->ipv == 4 ? 0x00 : 0xdd;
	ip = F + l3;
	iplen = r->len - l3 - r->trailer;
	if (r->ipv == 4) {
		uint16_t sum;

		ip[0] = 0x45;
		ip[2] = (uint8_t)(iplen >> 8);
		ip[3] = (uint8_t)iplen;
		if (r->frag)
			ip[7] = 0xb9;	/* offset 185 * 8 */
		ip[8] = 64;
		ip[9] = (uint8_t)r->proto;
		memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		sum = (uint16_t)~pv_pkt_csum_fold(pv_pkt_csum_add(0, ip, 20));
		ip[10] = (uint8_t)(sum >> 8);
		ip[11] = (uint8_t)sum;
		l4 = l3 + 20;
	} else {
		uint32_t pl = iplen - 40;

		ip[0] = 0x60;
		ip[4] = (uint8_t)(pl >> 8);
		ip[5] = (uint8_t)pl;
		ip[6] = r->ext ? 0 : (uint8_t)r->proto;
		ip[7] = 64;
		ip[8] = 0xfd;
		ip[23] = 1;
		ip[24] = 0xfd;
		ip[39] = 2;
		l4 = l3 + 40;
		if (r->ext) {
			F[l4] = (uint8_t)r->proto;	/* hop-by-hop: 8 bytes, PadN */
			F[l4 + 2] = 1;
			F[l4 + 3] = 4;
			l4 += 8;
		}
	}
	F[l4] = 0x30;
	F[l4 + 1] = 0x39;
	F[l4 + 3] = 80;
	if (r->proto == IPPROTO_TCP) {
		F[l4 + 12] = 0x50;
		F[l4 + 13] = 0x10;	/* ACK */
		F[l4 + 15] = 0xff;
	} else if (r->proto == IPPROTO_UDP) {
		uint32_t ul = r->len - r->trailer - l4;

		F[l4 + 4] = (uint8_t)(ul >> 8);
		F[l4 + 5] = (uint8_t)ul;
	} else {
		F[l4] = 8;	/* ICMP echo */
		F[l4 + 1] = 0;
		F[l4 + 3] = 0;
	}
	return l4;
}

static uint16_t csum_offset(int proto)
{
	return proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2;
}

/* pvnet-nicd's decision for @flags / @mss: @flags, or -1 if refused. */
static int nic_decide(const struct row *r, int flags, uint16_t mss)
{
	struct nic_txpolicy pol = { .any_source = true, .max_len = MTU + PV_PKT_ETH_HLEN };
	uint32_t hlen = r->len < NIC_TX_HDR_MAX ? r->len : NIC_TX_HDR_MAX;
	uint8_t hdr[NIC_TX_HDR_MAX];
	struct virtio_net_hdr vh;

	memcpy(hdr, F, hlen);
	if (nic_tx_check(&pol, hdr, hlen, r->len) != PV_NIC_ERR_NONE)
		return -1;
	return nic_tx_offload(&pol, hdr, hlen, r->len, (uint32_t)flags, mss, &vh) ==
		       PV_NIC_ERR_NONE ? flags : -1;
}

static int rule_decide(const struct row *r, int flags, uint16_t mss)
{
	struct pv_pkt_info pi;

	return nic_txrule_offload(F, r->len, r->len, MTU, (uint32_t)flags, mss, &pi) ==
		       PV_NIC_ERR_NONE ? flags : -1;
}

static int host_decide(const struct row *r, uint32_t l4, uint32_t features, uint16_t *mss)
{
	static struct pv_frame f;

	memset(&f, 0, sizeof(f));
	f.len = r->len;
	f.hdr_len = r->len < PV_FRAME_HDR_MAX ? r->len : PV_FRAME_HDR_MAX;
	memcpy(f.hdr, F, f.hdr_len);
	if (r->len > f.hdr_len) {
		f.seg[0].p = F + f.hdr_len;
		f.seg[0].len = r->len - f.hdr_len;
		f.nseg = 1;
	}
	if (r->csum) {
		f.flags = PV_FRAME_CSUM_PARTIAL;
		f.csum_start = (uint16_t)l4;
		f.csum_offset = csum_offset(r->proto);
	}
	if (r->gso) {
		f.gso_type = r->ipv == 4 ? PV_GSO_TCPV4 : PV_GSO_TCPV6;
		f.gso_size = r->gso;
	}
	return pv_nicport_test_tx_decide(MTU, features, &f, mss);
}

static int plugin_decide(const struct row *r, uint32_t l4, uint32_t features, uint16_t *mss)
{
	struct virtio_net_hdr vh = { 0 };

	if (r->csum) {
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.csum_start = (uint16_t)l4;
		vh.csum_offset = csum_offset(r->proto);
	}
	if (r->gso) {
		vh.gso_type = r->ipv == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
		vh.gso_size = r->gso;
		vh.hdr_len = (uint16_t)(l4 + 20);
	}
	return pvnic_front_test_tx_decide(MTU, features, r->csum || r->gso ? &vh : NULL, F, r->len,
					  mss);
}

static void check_row(const struct row *r)
{
	uint32_t l4 = build(r);
	int ask = r->gso ? TSO : r->csum ? CSUM : 0;
	int want_p = r->want_plugin == SAME ? r->want : r->want_plugin;
	uint16_t hmss, pmss;
	int nic = nic_decide(r, ask, r->gso), rule = rule_decide(r, ask, r->gso);
	int host = host_decide(r, l4, ALL, &hmss), plug = plugin_decide(r, l4, ALL, &pmss);
	char name[128];

	snprintf(name, sizeof(name), "%s: NIC %d rule %d host %d plugin %d", r->name, nic, rule,
		 host, plug);
	T_CHECK(nic == r->want && rule == r->want && host == r->want && plug == want_p, name,
		"want %d (plugin %d)", r->want, want_p);
	/* Whatever a user posts, the NIC takes, with that user's mss. */
	if (host >= 0)
		T_ASSERT(nic_decide(r, host, hmss) == host, "%s: host posts what the NIC refuses",
			 r->name);
	if (plug >= 0)
		T_ASSERT(nic_decide(r, plug, pmss) == plug, "%s: plugin posts what the NIC refuses",
			 r->name);
	if (host == TSO)
		T_ASSERT(hmss == r->gso, "%s: host mss %u", r->name, hmss);
	if (plug == TSO) {
		struct pv_pkt_info pi;
		uint32_t max;

		T_ASSERT(pv_pkt_parse_hdr(F, r->len < 256 ? r->len : 256, r->len, &pi) == 0,
			 "%s: parses", r->name);
		max = nic_txrule_tso_mss_max(&pi, MTU, F, r->len);
		T_ASSERT(pmss == (r->gso < max ? r->gso : max), "%s: plugin mss %u, max %u",
			 r->name, pmss, max);
	}
	/* No NIC offloads: nothing posted with one. */
	host = host_decide(r, l4, 0, &hmss);
	plug = plugin_decide(r, l4, 0, &pmss);
	T_ASSERT(host == (r->want == 0 ? 0 : -1) && plug == (want_p == 0 ? 0 : -1),
		 "%s: without features host %d plugin %d", r->name, host, plug);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_row(&rows[i]);
	return t_done();
}
