/* SPDX-License-Identifier: MIT */
/*
 * test_srcguard.c - "a guest sends only as itself": the rule of
 * src/lib/srcguard.c on a table of frames (IPv4, ARP, IPv6, NS, NA, DAD,
 * probes, link-local, tags, malformed), the same table through the NIC's
 * TX check (src/nic/txcheck.c, a VI with those addresses programmed) with
 * the same decisions, and netback's learned mode (src/back/srcguard.c):
 * first come first served between vifs, all-or-none learning, the limit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "back/srcguard.h"
#include "lib/srcguard.h"
#include "nic/nic.h"
#include "../lib/test.h"

static const uint8_t MAC[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0x02 };
static const uint8_t OTHER_MAC[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0x03 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t EXT[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

/* A frame under construction. */
struct fb {
	uint8_t b[512];
	uint32_t len;
};

static void put(struct fb *f, const void *p, uint32_t n)
{
	memcpy(f->b + f->len, p, n);
	f->len += n;
}

static void put16(struct fb *f, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(f, b, 2);
}

static void eth(struct fb *f, const uint8_t *dst, uint16_t type)
{
	f->len = 0;
	put(f, dst, 6);
	put(f, MAC, 6);
	put16(f, type);
}

static void ip4(const char *s, uint8_t out[4])
{
	inet_pton(AF_INET, s, out);
}

static void ip6(const char *s, uint8_t out[16])
{
	inet_pton(AF_INET6, s, out);
}

/* IPv4 + UDP sport -> dport (8 bytes of UDP, no payload). */
static void f_ipv4(struct fb *f, const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	uint8_t h[20] = { 0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17 };

	eth(f, EXT, 0x0800);
	ip4(src, h + 12);
	ip4(dst, h + 16);
	put(f, h, 20);
	put16(f, sport);
	put16(f, dport);
	put16(f, 8);
	put16(f, 0);
}

static void f_arp(struct fb *f, uint16_t op, const uint8_t *sha, const char *spa, const char *tpa)
{
	uint8_t a[28] = { 0, 1, 0x08, 0, 6, 4, 0, (uint8_t)op };

	eth(f, op == 1 ? BCAST : EXT, 0x0806);
	memcpy(a + 8, sha, 6);
	ip4(spa, a + 14);
	ip4(tpa, a + 24);
	put(f, a, 28);
}

/* IPv6 header; payload follows (its length patched by fix6). */
static void f_ip6hdr(struct fb *f, const char *src, const char *dst, uint8_t nh)
{
	uint8_t h[40] = { 0x60, 0, 0, 0, 0, 0, nh, 255 };

	eth(f, EXT, 0x86dd);
	ip6(src, h + 8);
	ip6(dst, h + 24);
	put(f, h, 40);
}

static void fix6(struct fb *f, uint32_t l3)
{
	uint32_t pl = f->len - l3 - 40;

	f->b[l3 + 4] = (uint8_t)(pl >> 8);
	f->b[l3 + 5] = (uint8_t)pl;
}

static void f_udp6(struct fb *f, const char *src)
{
	f_ip6hdr(f, src, "2001:db8::1", 17);
	put16(f, 1000);
	put16(f, 2000);
	put16(f, 8);
	put16(f, 0);
	fix6(f, 14);
}

/* NS (135) or NA (136) with target @tgt and an option of @opt type (0: none) carrying @ll. */
static void f_nd(struct fb *f, const char *src, uint8_t type, const char *tgt, uint8_t opt,
		 const uint8_t *ll)
{
	uint8_t icmp[24] = { type };
	uint8_t o[8] = { opt, 1 };

	f_ip6hdr(f, src, type == 135 ? "ff02::1:ff00:2" : "2001:db8::1", 58);
	ip6(tgt, icmp + 8);
	put(f, icmp, 24);
	if (opt) {
		memcpy(o + 2, ll, 6);
		put(f, o, 8);
	}
	fix6(f, 14);
}

/* The fixed set of the table: 10.0.0.2 and 2001:db8::2. */
static struct pv_sg_addrs SET;

struct row {
	const char *name;
	void (*build)(struct fb *f);
	enum pv_sg_verdict want;
};

/* Insert @n 802.1Q tags after the MACs. */
static void tag(struct fb *f, int n)
{
	for (int i = 0; i < n; i++) {
		memmove(f->b + 16, f->b + 12, f->len - 12);
		f->b[12] = 0x81;
		f->b[13] = 0x00;
		f->b[14] = 0x00;
		f->b[15] = 0x05;
		f->len += 4;
	}
}

/* Insert an 8-byte extension header (@type: 0 hop-by-hop, 44 fragment) after the IPv6 header. */
static void ext6(struct fb *f, uint8_t type)
{
	uint8_t *ip = f->b + 14;
	uint8_t e[8] = { ip[6], 0 };

	if (type == 0) {	/* hop-by-hop: router alert, padded */
		e[2] = 5; e[3] = 2; e[6] = 1; e[7] = 0;
	}
	memmove(f->b + 54 + 8, f->b + 54, f->len - 54);
	memcpy(f->b + 54, e, 8);
	f->len += 8;
	ip[6] = type;
	fix6(f, 14);
}

#define LL "fe80::216:3eff:fe00:2"
#define ROWS(X) \
	X(ipv4_own, PV_SG_PASS, f_ipv4(f, "10.0.0.2", "10.0.0.1", 1, 2)) \
	X(ipv4_foreign_source, PV_SG_IPV4, f_ipv4(f, "10.0.0.3", "10.0.0.1", 1, 2)) \
	X(ipv4_dhcp_discover, PV_SG_PASS, f_ipv4(f, "0.0.0.0", "255.255.255.255", 68, 67)) \
	X(ipv4_zero_not_dhcp, PV_SG_IPV4, f_ipv4(f, "0.0.0.0", "10.0.0.1", 1, 2)) \
	X(ipv4_broadcast_source, PV_SG_IPV4, f_ipv4(f, "255.255.255.255", "10.0.0.1", 1, 2)) \
	X(ipv4_bad_version, PV_SG_IPV4, f_ipv4(f, "10.0.0.2", "10.0.0.1", 1, 2); f->b[14] = 0x65) \
	X(arp_request_own, PV_SG_PASS, f_arp(f, 1, MAC, "10.0.0.2", "10.0.0.1")) \
	X(arp_reply_own, PV_SG_PASS, f_arp(f, 2, MAC, "10.0.0.2", "10.0.0.1")) \
	X(arp_reply_foreign_ip, PV_SG_ARP, f_arp(f, 2, MAC, "10.0.0.3", "10.0.0.1")) \
	X(arp_gratuitous_foreign_ip, PV_SG_ARP, f_arp(f, 1, MAC, "10.0.0.3", "10.0.0.3")) \
	X(arp_probe, PV_SG_PASS, f_arp(f, 1, MAC, "0.0.0.0", "10.0.0.3")) \
	X(arp_reply_from_zero, PV_SG_ARP, f_arp(f, 2, MAC, "0.0.0.0", "10.0.0.1")) \
	X(arp_other_sender_mac, PV_SG_ARP, f_arp(f, 2, OTHER_MAC, "10.0.0.2", "10.0.0.1")) \
	X(arp_not_ipv4, PV_SG_ARP, f_arp(f, 2, MAC, "10.0.0.2", "10.0.0.1"); f->b[19] = 16) \
	X(arp_truncated, PV_SG_ARP, f_arp(f, 2, MAC, "10.0.0.2", "10.0.0.1"); f->len = 34) \
	X(ipv6_own, PV_SG_PASS, f_udp6(f, "2001:db8::2")) \
	X(ipv6_foreign_source, PV_SG_IPV6, f_udp6(f, "2001:db8::3")) \
	X(ipv6_link_local_eui64, PV_SG_PASS, f_udp6(f, LL)) \
	X(ipv6_link_local_other, PV_SG_IPV6, f_udp6(f, "fe80::1")) \
	X(ipv6_unspecified_udp, PV_SG_IPV6, f_udp6(f, "::")) \
	X(ipv6_v4_mapped_source, PV_SG_IPV6, f_udp6(f, "::ffff:10.0.0.2")) \
	X(ipv6_multicast_source, PV_SG_IPV6, f_udp6(f, "ff02::1")) \
	X(ns_dad, PV_SG_PASS, f_nd(f, "::", 135, "2001:db8::3", 0, NULL)) \
	X(ns_own_sll, PV_SG_PASS, f_nd(f, "2001:db8::2", 135, "2001:db8::1", 1, MAC)) \
	X(ns_sll_other_mac, PV_SG_ND, f_nd(f, "2001:db8::2", 135, "2001:db8::1", 1, OTHER_MAC)) \
	X(ns_foreign_source, PV_SG_IPV6, f_nd(f, "2001:db8::3", 135, "2001:db8::1", 1, MAC)) \
	X(na_own_target, PV_SG_PASS, f_nd(f, LL, 136, "2001:db8::2", 2, MAC)) \
	X(na_link_local_target, PV_SG_PASS, f_nd(f, LL, 136, LL, 2, MAC)) \
	X(na_foreign_target, PV_SG_ND, f_nd(f, LL, 136, "2001:db8::3", 2, MAC)) \
	X(na_foreign_target_own_source, PV_SG_ND, f_nd(f, "2001:db8::2", 136, "2001:db8::3", 2, MAC)) \
	X(na_tll_other_mac, PV_SG_ND, f_nd(f, LL, 136, "2001:db8::2", 2, OTHER_MAC)) \
	X(na_zero_length_option, PV_SG_ND, f_nd(f, LL, 136, "2001:db8::2", 2, MAC); f->b[f->len - 7] = 0) \
	X(na_fragmented, PV_SG_ND, f_nd(f, LL, 136, "2001:db8::2", 2, MAC); ext6(f, 44)) \
	X(na_behind_hop_by_hop, PV_SG_ND, f_nd(f, LL, 136, "2001:db8::3", 2, MAC); ext6(f, 0)) \
	X(mld_report_unspecified, PV_SG_PASS, f_nd(f, "::", 143, "ff02::1:ff00:2", 0, NULL); ext6(f, 0)) \
	X(vlan_ipv4_foreign, PV_SG_IPV4, f_ipv4(f, "10.0.0.3", "10.0.0.1", 1, 2); tag(f, 1)) \
	X(vlan_ipv4_own, PV_SG_PASS, f_ipv4(f, "10.0.0.2", "10.0.0.1", 1, 2); tag(f, 1)) \
	X(qinq_arp_foreign, PV_SG_ARP, f_arp(f, 2, MAC, "10.0.0.3", "10.0.0.1"); tag(f, 2)) \
	X(three_tags, PV_SG_VLAN, f_ipv4(f, "10.0.0.2", "10.0.0.1", 1, 2); tag(f, 3)) \
	X(lldp_not_ip, PV_SG_PASS, eth(f, EXT, 0x88cc); put(f, MAC, 6))

#define X_BUILD(nm, want, body) static void b_##nm(struct fb *f) { body; }
ROWS(X_BUILD)
#define X_ROW(nm, want, body) { #nm, b_##nm, want },
static const struct row rows[] = { ROWS(X_ROW) };

/* The NIC's verdict as the slow path's: SPOOF for any drop, NONE for a pass. */
static enum pv_nic_err nic_want(enum pv_sg_verdict v)
{
	return v == PV_SG_PASS ? PV_NIC_ERR_NONE : PV_NIC_ERR_TX_SPOOF;
}

static void test_table(void)
{
	struct nic_txpolicy pol = { .mac_set = true, .addrs_set = true };

	memcpy(pol.mac, MAC, 6);
	pol.addrs = SET;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fb f = { .len = 0 };
		enum pv_sg_verdict v;
		char name[96];

		rows[i].build(&f);
		v = pv_sg_check(f.b, f.len, f.len, MAC, &SET);
		snprintf(name, sizeof(name), "slow path: %s", rows[i].name);
		T_CHECK(v == rows[i].want, name, "verdict %s, want %s", pv_sg_verdict_name(v),
			pv_sg_verdict_name(rows[i].want));
		snprintf(name, sizeof(name), "NIC: %s", rows[i].name);
		T_EQ(nic_tx_check(&pol, f.b, f.len, f.len), nic_want(rows[i].want), name);
	}
}

/* Headers past the bytes given: NEED_MORE; the NIC (a fixed copy) refuses what it cannot see. */
static void test_need_more(void)
{
	struct fb f = { .len = 0 };

	f_nd(&f, "2001:db8::2", 136, "2001:db8::2", 2, MAC);
	T_EQ(pv_sg_check(f.b, 60, f.len, MAC, &SET), PV_SG_NEED_MORE, "NA cut at 60 bytes: need more");
	T_EQ(pv_sg_check(f.b, f.len, f.len, MAC, &SET), PV_SG_PASS, "the whole NA: pass");
	T_EQ(pv_sg_check(f.b, 60, 60, MAC, &SET), PV_SG_IPV6, "NA truncated at 60: malformed IPv6");
}

static struct pv_srcguard *all[3];

static bool other_owns(const struct pv_srcguard *self, const struct pv_sg_addr *a, void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++)
		if (all[i] && all[i] != self && pv_sg_has(&all[i]->set, a))
			return true;
	return false;
}

static enum pv_sg_verdict tx(struct pv_srcguard *g, struct fb *f, bool *learned)
{
	return pv_srcguard_tx(g, f->b, f->len, f->len, other_owns, NULL, learned);
}

/* Learned mode: first come first served, never taken from the first, forgotten when it goes. */
static void test_learned(void)
{
	struct pv_srcguard v = { .fixed = false }, a = { .fixed = false };
	struct pv_sg_addr x;
	struct fb f = { .len = 0 };
	bool learned;

	memcpy(v.mac, MAC, 6);
	memcpy(a.mac, MAC, 6);	/* the attacker's frames are built with MAC too: only IPs differ */
	all[0] = &v;
	all[1] = &a;

	f_arp(&f, 1, MAC, "10.0.0.2", "10.0.0.1");
	T_EQ(tx(&v, &f, &learned), PV_SG_PASS, "learned: victim's ARP request passes");
	T_CHECK(learned && v.set.n == 1, "learned: victim owns 10.0.0.2", "n %u", v.set.n);
	T_EQ(tx(&v, &f, &learned), PV_SG_PASS, "learned: again, nothing new");
	T_CHECK(!learned, "learned: nothing learned twice", "learned");

	f_arp(&f, 2, MAC, "10.0.0.2", "10.0.0.1");
	T_EQ(tx(&a, &f, &learned), PV_SG_CONFLICT, "learned: attacker's ARP reply for it: conflict");
	f_arp(&f, 1, MAC, "10.0.0.2", "10.0.0.2");
	T_EQ(tx(&a, &f, &learned), PV_SG_CONFLICT, "learned: attacker's gratuitous ARP: conflict");
	f_ipv4(&f, "10.0.0.2", "10.0.0.1", 1, 2);
	T_EQ(tx(&a, &f, &learned), PV_SG_CONFLICT, "learned: attacker's IPv4 from it: conflict");
	T_EQ(tx(&v, &f, &learned), PV_SG_PASS, "learned: the victim keeps it");
	T_EQ(a.set.n, 0, "learned: the attacker learned nothing");

	f_udp6(&f, "2001:db8::2");
	T_EQ(tx(&v, &f, &learned), PV_SG_PASS, "learned: victim's IPv6 source learned");
	f_nd(&f, "fe80::216:3eff:fe00:2", 136, "2001:db8::2", 2, MAC);
	T_EQ(tx(&a, &f, &learned), PV_SG_CONFLICT, "learned: attacker's NA for the victim's IPv6");
	f_nd(&f, "2001:db8::9", 136, "2001:db8::2", 2, MAC);
	T_EQ(tx(&a, &f, &learned), PV_SG_CONFLICT, "learned: NA from a new source for a taken target");
	T_EQ(a.set.n, 0, "learned: all or none: the new source was not learned either");

	f_ipv4(&f, "10.0.0.3", "10.0.0.1", 1, 2);
	T_EQ(tx(&a, &f, &learned), PV_SG_PASS, "learned: attacker's own address passes");
	f_arp(&f, 2, OTHER_MAC, "10.0.0.3", "10.0.0.1");
	T_EQ(tx(&a, &f, &learned), PV_SG_ARP, "learned: ARP with another sender MAC: spoof");
	f_ipv4(&f, "224.0.0.1", "10.0.0.1", 1, 2);
	T_EQ(tx(&a, &f, &learned), PV_SG_IPV4, "learned: multicast source is nobody's");

	for (int i = 4; i < 4 + PV_SG_ADDRS_MAX - 1; i++) {
		char s[32];

		snprintf(s, sizeof(s), "10.0.1.%d", i);
		f_ipv4(&f, s, "10.0.0.1", 1, 2);
		tx(&a, &f, &learned);
	}
	T_EQ(a.set.n, PV_SG_ADDRS_MAX, "learned: the attacker owns its limit");
	f_ipv4(&f, "10.0.2.1", "10.0.0.1", 1, 2);
	T_EQ(tx(&a, &f, &learned), PV_SG_FULL, "learned: one more: full");

	/* The victim goes: its addresses are free for the next claimant. */
	all[0] = NULL;
	f_ipv4(&f, "10.0.0.2", "10.0.0.1", 1, 2);
	pv_sg_addr_parse("10.0.0.2", &x);
	a.set.n = 0;
	T_EQ(tx(&a, &f, &learned), PV_SG_PASS, "learned: the victim gone, its address is free");
	T_CHECK(pv_sg_has(&a.set, &x), "learned: taken by the next claimant", "not owned");

	/* Fixed (`ip`) mode never learns. */
	v.fixed = true;
	v.set = SET;
	all[0] = &v;
	f_ipv4(&f, "10.0.0.9", "10.0.0.1", 1, 2);
	T_EQ(tx(&v, &f, &learned), PV_SG_IPV4, "fixed: an address outside ip: dropped");
	T_CHECK(!learned && v.set.n == SET.n, "fixed: nothing learned", "n %u", v.set.n);
	all[0] = all[1] = NULL;
}

static void test_parse_text(void)
{
	struct pv_sg_addrs s;
	char out[256];

	T_EQ(pv_sg_addrs_parse("10.0.0.2 2001:db8::2", &s), 0, "ip: two literals, space");
	T_EQ(s.n, 2, "ip: two addresses");
	T_EQ(pv_sg_addrs_parse("10.0.0.2,10.0.0.3", &s), 0, "ip: commas");
	T_EQ(pv_sg_addrs_parse("10.0.0.256", &s), -EINVAL, "ip: bad IPv4 refused");
	T_EQ(pv_sg_addrs_parse("10.0.0.2 bogus", &s), -EINVAL, "ip: garbage refused");
	T_EQ(pv_sg_addrs_parse("224.0.0.1", &s), -EINVAL, "ip: multicast refused");
	T_EQ(pv_sg_addrs_parse("::", &s), -EINVAL, "ip: :: refused");
	T_EQ(pv_sg_addrs_parse("::ffff:10.0.0.2", &s), -EINVAL, "ip: v4-mapped refused");
	T_EQ(pv_sg_addrs_parse("1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 1.1.1.9",
			       &s), -E2BIG, "ip: more than 8 refused");
	pv_sg_addrs_parse(" 10.0.0.2  2001:db8::2 ", &s);
	pv_sg_addrs_format(&s, out, sizeof(out));
	T_CHECK(!strcmp(out, "10.0.0.2 2001:db8::2"), "ip: formatted as xl writes it", "'%s'", out);
}

/*
 * Mutated frames (each row's, bytes flipped, cut short): the parse reads
 * only what it is given (the copy is exactly that long: ASan sees any
 * overread), never asks for more when it has the whole frame, with part
 * of it says the same or asks for more, and the NIC decides as the slow
 * path on every one.
 */
static void test_mutated(void)
{
	struct nic_txpolicy pol = { .mac_set = true, .addrs_set = true };
	unsigned int bad_more = 0, bad_prefix = 0, bad_nic = 0, n = 0;
	uint64_t r = 0x9e3779b97f4a7c15ull;

	memcpy(pol.mac, MAC, 6);
	pol.addrs = SET;
	for (int round = 0; round < 3000; round++) {
		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			struct fb f = { .len = 0 };
			enum pv_sg_verdict full, part;
			uint8_t *copy;
			uint32_t avail;

			rows[i].build(&f);
			for (int k = 0; k < 3; k++) {
				r ^= r << 13; r ^= r >> 7; r ^= r << 17;
				f.b[14 + r % (f.len - 14)] ^= (uint8_t)(r >> 24);
			}
			r ^= r << 13; r ^= r >> 7; r ^= r << 17;
			if (r & 1)
				f.len = 14 + (uint32_t)(r >> 8) % (f.len - 13);
			copy = malloc(f.len);
			memcpy(copy, f.b, f.len);
			full = pv_sg_check(copy, f.len, f.len, MAC, &SET);
			avail = (uint32_t)(r >> 32) % (f.len + 1);
			free(copy);
			copy = malloc(avail ? avail : 1);
			memcpy(copy, f.b, avail);
			part = pv_sg_check(copy, avail, f.len, MAC, &SET);
			free(copy);
			bad_more += full == PV_SG_NEED_MORE;
			bad_prefix += part != full && part != PV_SG_NEED_MORE;
			bad_nic += nic_tx_check(&pol, f.b, f.len, f.len) != nic_want(full);
			n++;
		}
	}
	T_CHECK(!bad_more, "mutated: the whole frame never needs more", "%u of %u", bad_more, n);
	T_CHECK(!bad_prefix, "mutated: a prefix says the same or asks for more", "%u of %u",
		bad_prefix, n);
	T_CHECK(!bad_nic, "mutated: the NIC decides as the slow path", "%u of %u", bad_nic, n);
}

int main(void)
{
	pv_sg_addrs_parse("10.0.0.2 2001:db8::2", &SET);
	test_table();
	test_need_more();
	test_mutated();
	test_learned();
	test_parse_text();
	return t_done();
}
