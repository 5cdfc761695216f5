/* SPDX-License-Identifier: MIT */
/*
 * srcguard.c - the source-address rule of a guest's frames (srcguard.h),
 * pure functions over a private copy of the frame.
 *
 * Every read goes through sg_need(): a field past the frame's end makes
 * the frame malformed (dropped under the protocol's reason: a receiver
 * could not trust it either, and a short lie must not slip through as
 * "not IP"); a field past the bytes given but inside the frame asks the
 * caller for more (PV_SG_NEED_MORE).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/srcguard.h"

#define SG_ETH_P_IPV4	0x0800
#define SG_ETH_P_ARP	0x0806
#define SG_ETH_P_IPV6	0x86dd
#define SG_ETH_P_8021Q	0x8100
#define SG_ETH_P_8021AD	0x88a8
#define SG_IPPROTO_UDP	17
#define SG_IPPROTO_ICMPV6 58
#define SG_IPV6_EXT_MAX	8

/* ICMPv6 types */
#define SG_MLD_REPORT	131
#define SG_ND_RS	133
#define SG_ND_RA	134
#define SG_ND_NS	135
#define SG_ND_NA	136
#define SG_ND_REDIRECT	137
#define SG_MLD2_REPORT	143

static const uint8_t sg_v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* The bytes being parsed and the reason a malformed frame is dropped under. */
struct sg_buf {
	const uint8_t *f;
	uint32_t avail, len;
};

/*
 * sg_need() - may [@off, @off + @size) be read?
 * Return: PV_SG_PASS, @bad (past the frame's end) or PV_SG_NEED_MORE.
 */
static enum pv_sg_verdict sg_need(const struct sg_buf *b, uint64_t off, uint64_t size,
				  enum pv_sg_verdict bad)
{
	if (off + size > b->len)
		return bad;
	if (off + size > b->avail)
		return PV_SG_NEED_MORE;
	return PV_SG_PASS;
}

static uint16_t sg_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void pv_sg_addr_v4(struct pv_sg_addr *a, const uint8_t ip[4])
{
	memcpy(a->a, sg_v4_prefix, 12);
	memcpy(a->a + 12, ip, 4);
}

bool pv_sg_addr_is_v4(const struct pv_sg_addr *a)
{
	return !memcmp(a->a, sg_v4_prefix, 12);
}

bool pv_sg_addr_unicast(const struct pv_sg_addr *a)
{
	static const uint8_t zero[16], loop6[16] = { [15] = 1 };
	const uint8_t *v4 = a->a + 12;

	if (pv_sg_addr_is_v4(a))
		/* not 0/8, 127/8, 224/4 (multicast), 240/4 (reserved, broadcast) */
		return v4[0] != 0 && v4[0] != 127 && v4[0] < 224;
	return memcmp(a->a, zero, 16) && memcmp(a->a, loop6, 16) && a->a[0] != 0xff;
}

void pv_sg_link_local(const uint8_t mac[6], struct pv_sg_addr *a)
{
	memset(a->a, 0, 16);
	a->a[0] = 0xfe;
	a->a[1] = 0x80;
	a->a[8] = mac[0] ^ 0x02;	/* the universal/local bit inverted */
	a->a[9] = mac[1];
	a->a[10] = mac[2];
	a->a[11] = 0xff;
	a->a[12] = 0xfe;
	a->a[13] = mac[3];
	a->a[14] = mac[4];
	a->a[15] = mac[5];
}

bool pv_sg_has(const struct pv_sg_addrs *set, const struct pv_sg_addr *a)
{
	for (unsigned int i = 0; set && i < set->n; i++)
		if (!memcmp(set->a[i].a, a->a, 16))
			return true;
	return false;
}

int pv_sg_add(struct pv_sg_addrs *set, const struct pv_sg_addr *a)
{
	if (pv_sg_has(set, a))
		return 0;
	if (set->n >= PV_SG_ADDRS_MAX)
		return -ENOSPC;
	set->a[set->n++] = *a;
	return 0;
}

bool pv_sg_equal(const struct pv_sg_addrs *x, const struct pv_sg_addrs *y)
{
	if (x->n != y->n)
		return false;
	for (unsigned int i = 0; i < x->n; i++)
		if (!pv_sg_has(y, &x->a[i]))
			return false;
	return true;
}

/* Record a claim: only a unicast address can be anyone's. */
static enum pv_sg_verdict sg_claim(struct pv_sg_frame *out, const struct pv_sg_addr *a,
				   enum pv_sg_verdict reason)
{
	if (!pv_sg_addr_unicast(a) || out->nclaims >= PV_SG_CLAIMS_MAX)
		return reason;
	out->claim[out->nclaims].addr = *a;
	out->claim[out->nclaims].reason = reason;
	out->nclaims++;
	return PV_SG_PASS;
}

/* ---- IPv4 and ARP ---- */

/* 0.0.0.0 is a DHCP client's source before it has an address: UDP 68 -> 67 only. */
static enum pv_sg_verdict sg_ipv4_dhcp(const struct sg_buf *b, uint32_t l3, uint32_t ihl)
{
	const uint8_t *ip = b->f + l3;
	enum pv_sg_verdict v;

	if (ip[9] != SG_IPPROTO_UDP || (sg_be16(ip + 6) & 0x3fff))	/* UDP, not a fragment */
		return PV_SG_IPV4;
	v = sg_need(b, l3 + ihl, 4, PV_SG_IPV4);
	if (v != PV_SG_PASS)
		return v;
	return sg_be16(ip + ihl) == 68 && sg_be16(ip + ihl + 2) == 67 ? PV_SG_PASS : PV_SG_IPV4;
}

static enum pv_sg_verdict sg_ipv4(const struct sg_buf *b, uint32_t l3, struct pv_sg_frame *out)
{
	enum pv_sg_verdict v = sg_need(b, l3, 20, PV_SG_IPV4);
	const uint8_t *ip;
	struct pv_sg_addr a;
	uint32_t ihl;

	if (v != PV_SG_PASS)
		return v;
	ip = b->f + l3;
	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || ihl < 20)
		return PV_SG_IPV4;
	if (!ip[12] && !ip[13] && !ip[14] && !ip[15])
		return sg_ipv4_dhcp(b, l3, ihl);
	pv_sg_addr_v4(&a, ip + 12);
	return sg_claim(out, &a, PV_SG_IPV4);
}

static enum pv_sg_verdict sg_arp(const struct sg_buf *b, uint32_t l3, const uint8_t mac[6],
				 struct pv_sg_frame *out)
{
	enum pv_sg_verdict v = sg_need(b, l3, 28, PV_SG_ARP);
	const uint8_t *arp;
	struct pv_sg_addr a;
	uint16_t op;

	if (v != PV_SG_PASS)
		return v;
	arp = b->f + l3;
	op = sg_be16(arp + 6);
	/* Ethernet (1) or IEEE 802 (6) hardware, as Linux takes; IPv4; request or reply. */
	if ((sg_be16(arp) != 1 && sg_be16(arp) != 6) || sg_be16(arp + 2) != SG_ETH_P_IPV4 ||
	    arp[4] != 6 || arp[5] != 4 || (op != 1 && op != 2))
		return PV_SG_ARP;
	if (memcmp(arp + 8, mac, 6))
		return PV_SG_ARP;	/* another's MAC as the sender: a cache poisoned */
	if (!arp[14] && !arp[15] && !arp[16] && !arp[17])
		return op == 1 ? PV_SG_PASS : PV_SG_ARP;	/* a probe asks, never answers */
	pv_sg_addr_v4(&a, arp + 14);
	return sg_claim(out, &a, PV_SG_ARP);
}

/* ---- IPv6 and NDP ---- */

/* Where the upper-layer header is, after the extension headers. */
struct sg_l4 {
	uint8_t proto;
	uint32_t off;		/* 0: none (a later fragment, or no next header) */
	bool frag;		/* a fragment header was seen */
};

static enum pv_sg_verdict sg_ipv6_walk(const struct sg_buf *b, uint32_t l3, uint32_t end,
				       struct sg_l4 *l4)
{
	uint8_t nh = b->f[l3 + 6];
	uint32_t off = l3 + 40;
	enum pv_sg_verdict v;

	memset(l4, 0, sizeof(*l4));
	for (int i = 0; i <= SG_IPV6_EXT_MAX; i++) {
		uint32_t hl;

		if (nh != 0 && nh != 43 && nh != 44 && nh != 51 && nh != 60) {
			l4->proto = nh;
			l4->off = nh == 59 ? 0 : off;	/* 59: no next header */
			return PV_SG_PASS;
		}
		v = sg_need(b, off, 8, PV_SG_IPV6);
		if (v != PV_SG_PASS || off + 8 > end)
			return v != PV_SG_PASS ? v : PV_SG_IPV6;
		if (nh == 44) {
			l4->frag = true;
			if (sg_be16(b->f + off + 2) & 0xfff8)
				return PV_SG_PASS;	/* a later fragment: no upper layer here */
			hl = 8;
		} else {
			hl = nh == 51 ? ((uint32_t)b->f[off + 1] + 2) * 4 : ((uint32_t)b->f[off + 1] + 1) * 8;
		}
		nh = b->f[off];
		off += hl;
	}
	return PV_SG_IPV6;	/* more extension headers than anyone needs: hiding something */
}

/* Every source/target link-layer address option from @off to @end is @mac. */
static enum pv_sg_verdict sg_nd_opts(const struct sg_buf *b, uint32_t off, uint32_t end,
				     const uint8_t mac[6])
{
	enum pv_sg_verdict v = sg_need(b, off, end - off, PV_SG_ND);

	if (v != PV_SG_PASS)
		return v;
	while (off < end) {
		uint32_t olen;

		if (end - off < 2 || !b->f[off + 1])
			return PV_SG_ND;	/* a zero-length option: RFC 4861 says discard */
		olen = (uint32_t)b->f[off + 1] * 8;
		if (olen > end - off)
			return PV_SG_ND;
		if ((b->f[off] == 1 || b->f[off] == 2) && (olen != 8 || memcmp(b->f + off + 2, mac, 6)))
			return PV_SG_ND;
		off += olen;
	}
	return PV_SG_PASS;
}

/*
 * sg_icmpv6() - NDP's link-layer options and an NA's target; whether the
 * unspecified source is allowed (*dad_ok).
 */
static enum pv_sg_verdict sg_icmpv6(const struct sg_buf *b, const struct sg_l4 *l4, uint32_t end,
				    const uint8_t mac[6], struct pv_sg_frame *out, bool *dad_ok)
{
	static const uint32_t opts_at[] = { [SG_ND_RS - SG_ND_RS] = 8, [SG_ND_RA - SG_ND_RS] = 16,
		[SG_ND_NS - SG_ND_RS] = 24, [SG_ND_NA - SG_ND_RS] = 24, [SG_ND_REDIRECT - SG_ND_RS] = 40 };
	enum pv_sg_verdict v = sg_need(b, l4->off, 1, PV_SG_IPV6);
	struct pv_sg_addr a, ll;
	uint8_t type;

	if (v != PV_SG_PASS)
		return v;
	type = b->f[l4->off];
	*dad_ok = type == SG_ND_NS || type == SG_MLD_REPORT || type == SG_MLD2_REPORT;
	if (type < SG_ND_RS || type > SG_ND_REDIRECT)
		return PV_SG_PASS;
	if (l4->frag || l4->off + opts_at[type - SG_ND_RS] > end)
		return PV_SG_ND;	/* fragmented NDP (RFC 6980), or shorter than its type */
	v = sg_nd_opts(b, l4->off + opts_at[type - SG_ND_RS], end, mac);
	if (v != PV_SG_PASS || type != SG_ND_NA)
		return v;
	memcpy(a.a, b->f + l4->off + 8, 16);
	pv_sg_link_local(mac, &ll);
	if (!memcmp(a.a, ll.a, 16))
		return PV_SG_PASS;
	if (pv_sg_addr_is_v4(&a))
		return PV_SG_ND;
	return sg_claim(out, &a, PV_SG_ND);
}

static enum pv_sg_verdict sg_ipv6(const struct sg_buf *b, uint32_t l3, const uint8_t mac[6],
				  struct pv_sg_frame *out)
{
	static const uint8_t zero[16];
	enum pv_sg_verdict v = sg_need(b, l3, 40, PV_SG_IPV6);
	struct pv_sg_addr src, ll;
	struct sg_l4 l4;
	bool dad_ok = false;
	uint32_t end;

	if (v != PV_SG_PASS)
		return v;
	if ((b->f[l3] >> 4) != 6)
		return PV_SG_IPV6;
	end = l3 + 40 + sg_be16(b->f + l3 + 4);
	if (end > b->len)
		return PV_SG_IPV6;	/* payload length past the frame (jumbograms: not from a vif) */
	v = sg_ipv6_walk(b, l3, end, &l4);
	if (v != PV_SG_PASS)
		return v;
	if (l4.off && l4.proto == SG_IPPROTO_ICMPV6) {
		v = sg_icmpv6(b, &l4, end, mac, out, &dad_ok);
		if (v != PV_SG_PASS)
			return v;
	}
	memcpy(src.a, b->f + l3 + 8, 16);
	if (!memcmp(src.a, zero, 16))
		return dad_ok ? PV_SG_PASS : PV_SG_IPV6;
	pv_sg_link_local(mac, &ll);
	if (!memcmp(src.a, ll.a, 16))
		return PV_SG_PASS;
	if (pv_sg_addr_is_v4(&src))
		return PV_SG_IPV6;	/* a v4-mapped source is nobody's on the wire */
	return sg_claim(out, &src, PV_SG_IPV6);
}

enum pv_sg_verdict pv_sg_parse(const uint8_t *f, uint32_t avail, uint32_t len,
			       const uint8_t mac[6], struct pv_sg_frame *out)
{
	struct sg_buf b = { f, avail < len ? avail : len, len };
	uint32_t l3 = 12;
	uint16_t type;

	out->nclaims = 0;
	for (int tags = 0;; tags++) {
		enum pv_sg_verdict v = sg_need(&b, l3, 2, PV_SG_PASS);

		if (v != PV_SG_PASS || l3 + 2 > b.len)
			return v;	/* shorter than a header: not this rule's (netback counts runts) */
		type = sg_be16(f + l3);
		l3 += 2;
		if (type != SG_ETH_P_8021Q && type != SG_ETH_P_8021AD)
			break;
		if (tags == PV_SG_VLAN_MAX)
			return PV_SG_VLAN;
		l3 += 2;	/* the TCI */
	}
	switch (type) {
	case SG_ETH_P_IPV4: return sg_ipv4(&b, l3, out);
	case SG_ETH_P_ARP: return sg_arp(&b, l3, mac, out);
	case SG_ETH_P_IPV6: return sg_ipv6(&b, l3, mac, out);
	default: return PV_SG_PASS;
	}
}

enum pv_sg_verdict pv_sg_check(const uint8_t *f, uint32_t avail, uint32_t len,
			       const uint8_t mac[6], const struct pv_sg_addrs *set)
{
	struct pv_sg_frame fr;
	enum pv_sg_verdict v = pv_sg_parse(f, avail, len, mac, &fr);

	if (v != PV_SG_PASS)
		return v;
	for (unsigned int i = 0; i < fr.nclaims; i++)
		if (!pv_sg_has(set, &fr.claim[i].addr))
			return fr.claim[i].reason;
	return PV_SG_PASS;
}

/* ---- text ---- */

int pv_sg_addr_parse(const char *s, struct pv_sg_addr *a)
{
	uint8_t v4[4];

	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, a->a) != 1 || pv_sg_addr_is_v4(a))
			return -EINVAL;
	} else {
		if (inet_pton(AF_INET, s, v4) != 1)
			return -EINVAL;
		pv_sg_addr_v4(a, v4);
	}
	return pv_sg_addr_unicast(a) ? 0 : -EINVAL;
}

int pv_sg_addrs_parse(const char *s, struct pv_sg_addrs *set)
{
	char word[64];

	set->n = 0;
	while (*s) {
		size_t n = strcspn(s, " ,");
		struct pv_sg_addr a;

		if (!n) {
			s++;
			continue;
		}
		if (n >= sizeof(word))
			return -EINVAL;
		memcpy(word, s, n);
		word[n] = 0;
		if (pv_sg_addr_parse(word, &a) < 0)
			return -EINVAL;
		if (pv_sg_add(set, &a) < 0)
			return -E2BIG;
		s += n;
	}
	return 0;
}

void pv_sg_addr_format(const struct pv_sg_addr *a, char out[PV_SG_ADDR_STR])
{
	if (pv_sg_addr_is_v4(a))
		inet_ntop(AF_INET, a->a + 12, out, PV_SG_ADDR_STR);
	else
		inet_ntop(AF_INET6, a->a, out, PV_SG_ADDR_STR);
}

int pv_sg_addrs_format(const struct pv_sg_addrs *set, char *out, unsigned int size)
{
	unsigned int at = 0;

	if (!size)
		return -ENOSPC;
	out[0] = 0;
	for (unsigned int i = 0; i < set->n; i++) {
		char s[PV_SG_ADDR_STR];
		int n;

		pv_sg_addr_format(&set->a[i], s);
		n = snprintf(out + at, size - at, "%s%s", i ? " " : "", s);
		if (n < 0 || (unsigned int)n >= size - at)
			return -ENOSPC;
		at += (unsigned int)n;
	}
	return (int)at;
}

const char *pv_sg_verdict_name(enum pv_sg_verdict v)
{
	static const char *const names[PV_SG_NR_VERDICTS] = {
		[PV_SG_PASS] = "pass", [PV_SG_IPV4] = "ipv4", [PV_SG_ARP] = "arp",
		[PV_SG_IPV6] = "ipv6", [PV_SG_ND] = "nd", [PV_SG_VLAN] = "vlan",
		[PV_SG_CONFLICT] = "ip_conflict", [PV_SG_FULL] = "ip_full",
		[PV_SG_NEED_MORE] = "need_more",
	};

	return (unsigned int)v < PV_SG_NR_VERDICTS ? names[v] : "?";
}
