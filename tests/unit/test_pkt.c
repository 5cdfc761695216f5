/* SPDX-License-Identifier: MIT */
/*
 * test_pkt.c - frame parsing, checksum offload helpers and software GSO
 * (src/lib/pkt.c) on hand-built frames.  Checksums are verified with this
 * file's own reference code, not pkt.c's.  Run under ASan (make asan-build)
 * the truncation loops prove that no prefix of a frame is read past its end:
 * each prefix is copied into a buffer of exactly that size.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pkt.h"
#include "../lib/test.h"

#define P_TCP 6
#define P_UDP 17
#define P_ICMP 1

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 0x0b };
static const uint8_t ip4_a[4] = { 10, 0, 0, 1 }, ip4_b[4] = { 10, 0, 0, 2 };
static const uint8_t ip6_a[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t ip6_b[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

/* ---- reference checksum (RFC 1071), independent of pkt.c ---- */

static uint16_t ref_csum(const uint8_t *const *parts, const size_t *lens, int n)
{
	uint64_t sum = 0;
	int odd = 0;

	/* Bytes are summed as one stream, so a part may end on an odd byte. */
	for (int k = 0; k < n; k++)
		for (size_t i = 0; i < lens[k]; i++, odd ^= 1)
			sum += odd ? parts[k][i] : (uint64_t)parts[k][i] << 8;
	while (sum > 0xffff)
		sum = (sum >> 16) + (sum & 0xffff);
	return (uint16_t)~sum;
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, (uint16_t)v); }

/* Pseudo-header bytes for an L4 segment of @l4len bytes. */
static size_t ref_pseudo(uint8_t *ph, int v6, const uint8_t *src, const uint8_t *dst,
			 uint8_t proto, uint32_t l4len)
{
	if (!v6) {
		memcpy(ph, src, 4); memcpy(ph + 4, dst, 4);
		ph[8] = 0; ph[9] = proto; put16(ph + 10, (uint16_t)l4len);
		return 12;
	}
	memcpy(ph, src, 16); memcpy(ph + 16, dst, 16);
	put32(ph + 32, l4len); ph[36] = ph[37] = ph[38] = 0; ph[39] = proto;
	return 40;
}

/* Is the L4 checksum of the segment at @l4 (@l4len bytes) valid? */
static int l4_csum_ok(int v6, const uint8_t *src, const uint8_t *dst, uint8_t proto,
		      const uint8_t *l4, uint32_t l4len)
{
	uint8_t ph[40];
	const uint8_t *parts[2] = { ph, l4 };
	size_t lens[2] = { ref_pseudo(ph, v6, src, dst, proto, l4len), l4len };

	return ref_csum(parts, lens, 2) == 0;	/* sum incl. the field folds to ~0 */
}

static int ip4_hdr_ok(const uint8_t *ip)
{
	const uint8_t *parts[1] = { ip };
	size_t lens[1] = { (size_t)(ip[0] & 0xf) * 4 };

	return ref_csum(parts, lens, 1) == 0;
}

/* ---- frame builders ---- */

struct fspec {
	int v6, vlan;
	uint8_t proto;
	int ip_optlen;		/* IPv4 options bytes (multiple of 4) */
	uint16_t frag;		/* IPv4 flags+offset field */
	const uint8_t *ext;	/* IPv6 extension header types */
	int next_ext;
	uint32_t ext_len8;	/* each ext header's length in 8-byte units, minus 1 */
	uint32_t payload;	/* L4 payload bytes */
	uint8_t tcp_flags;
	int tcp_optlen;
};

/* Build a frame to @spec into @b; returns its length.  Payload is a pattern. */
static uint32_t build(uint8_t *b, const struct fspec *s)
{
	uint32_t off = 14, l3, l4, l4hl, len;

	memcpy(b, mac_b, 6); memcpy(b + 6, mac_a, 6);
	if (s->vlan) {
		put16(b + 12, 0x8100); put16(b + 14, 0x2005);	/* prio 1, vid 5 */
		off = 18;
	}
	put16(b + off - 2, s->v6 ? 0x86dd : 0x0800);
	l3 = off;
	l4hl = s->proto == P_TCP ? 20u + s->tcp_optlen : 8u;
	if (!s->v6) {
		uint32_t ihl = 20 + s->ip_optlen;

		l4 = l3 + ihl;
		len = l4 + l4hl + s->payload;
		memset(b + l3, 0, ihl);
		b[l3] = 0x40 | (ihl / 4);
		put16(b + l3 + 2, (uint16_t)(len - l3));
		put16(b + l3 + 4, 0x1234);
		put16(b + l3 + 6, s->frag);
		b[l3 + 8] = 64; b[l3 + 9] = s->proto;
		memcpy(b + l3 + 12, ip4_a, 4); memcpy(b + l3 + 16, ip4_b, 4);
		for (int i = 20; i < (int)ihl; i++)
			b[l3 + i] = 1;	/* NOP options */
	} else {
		uint32_t e = l3 + 40;

		memset(b + l3, 0, 40);
		b[l3] = 0x60;
		memcpy(b + l3 + 8, ip6_a, 16); memcpy(b + l3 + 24, ip6_b, 16);
		b[l3 + 7] = 64;
		b[l3 + 6] = s->next_ext ? s->ext[0] : s->proto;
		for (int i = 0; i < s->next_ext; i++) {
			uint32_t el = (s->ext_len8 + 1) * 8;

			memset(b + e, 0, el);
			b[e] = i + 1 < s->next_ext ? s->ext[i + 1] : s->proto;
			b[e + 1] = (uint8_t)s->ext_len8;
			e += el;
		}
		l4 = e;
		len = l4 + l4hl + s->payload;
		put16(b + l3 + 4, (uint16_t)(len - l3 - 40));
	}
	memset(b + l4, 0, l4hl);
	put16(b + l4, 40000); put16(b + l4 + 2, 80);
	if (s->proto == P_TCP) {
		put32(b + l4 + 4, 0xfffff000u);	/* the sequence wraps during GSO */
		put32(b + l4 + 8, 77);
		b[l4 + 12] = (uint8_t)((l4hl / 4) << 4);
		b[l4 + 13] = s->tcp_flags ? s->tcp_flags : PV_TCP_ACK;
		put16(b + l4 + 14, 65535);
		for (int i = 20; i < (int)l4hl; i++)
			b[l4 + i] = 1;
	} else {
		put16(b + l4 + 4, (uint16_t)(l4hl + s->payload));
	}
	for (uint32_t i = 0; i < s->payload; i++)
		b[l4 + l4hl + i] = (uint8_t)(i * 7 + (i >> 8));
	return len;
}

static uint8_t fbuf[70000];

/* ---- parsing ---- */

static void test_parse_basic(void)
{
	struct fspec s = { .proto = P_TCP, .payload = 100, .tcp_flags = PV_TCP_SYN | PV_TCP_ACK };
	struct pv_pkt_info pi;
	uint16_t cs = 0, co = 0;
	uint32_t n = build(fbuf, &s);

	T_EQ(pv_pkt_parse(fbuf, n, &pi), 0, "ipv4 tcp: parses");
	T_EQ(pi.ethertype, 0x0800, "ipv4 tcp: ethertype");
	T_EQ(pi.ip_version, 4, "ipv4 tcp: version");
	T_EQ(pi.l3_off, 14, "ipv4 tcp: l3_off");
	T_EQ(pi.l4_off, 34, "ipv4 tcp: l4_off");
	T_EQ(pi.l4_proto, P_TCP, "ipv4 tcp: proto");
	T_EQ(pi.l4_hdr_len, 20, "ipv4 tcp: header length");
	T_EQ(pi.l3_end, n, "ipv4 tcp: l3_end");
	T_EQ(pi.src_port, 40000, "ipv4 tcp: src port");
	T_EQ(pi.dst_port, 80, "ipv4 tcp: dst port");
	T_EQ(pi.tcp_flags, PV_TCP_SYN | PV_TCP_ACK, "ipv4 tcp: flags");
	T_CHECK(!memcmp(pi.src_ip, ip4_a, 4) && !memcmp(pi.dst_ip, ip4_b, 4),
		"ipv4 tcp: addresses", "src/dst differ");
	T_EQ(pi.flags, PV_PKT_F_PORTS, "ipv4 tcp: flags = ports only");
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), 0, "ipv4 tcp: csum_setup ok");
	T_CHECK(cs == 34 && co == 16, "ipv4 tcp: csum 34/16", "got %u/%u", cs, co);

	s.proto = P_UDP;
	n = build(fbuf, &s);
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), 0, "ipv4 udp: csum_setup ok");
	T_CHECK(cs == 34 && co == 6, "ipv4 udp: csum 34/6", "got %u/%u", cs, co);
	pv_pkt_parse(fbuf, n, &pi);
	T_CHECK(pi.l4_proto == P_UDP && pi.dst_port == 80 && pi.l4_hdr_len == 8,
		"ipv4 udp: parse", "proto %u port %u", pi.l4_proto, pi.dst_port);

	/* Ethernet padding after the datagram is not part of it. */
	n = build(fbuf, &s);
	memset(fbuf + n, 0xee, 20);
	T_EQ(pv_pkt_parse(fbuf, n + 20, &pi), 0, "padded frame parses");
	T_EQ(pi.l3_end, n, "padded frame: l3_end at the datagram's end");

	s = (struct fspec){ .proto = P_TCP, .ip_optlen = 12, .payload = 10, .tcp_optlen = 12 };
	n = build(fbuf, &s);
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), 0, "ipv4 options: csum_setup ok");
	T_EQ(cs, 46, "ipv4 options: csum_start after 32-byte header");
	pv_pkt_parse(fbuf, n, &pi);
	T_EQ(pi.l4_hdr_len, 32, "tcp options: header length 32");

	s = (struct fspec){ .vlan = 1, .proto = P_TCP, .payload = 10 };
	n = build(fbuf, &s);
	T_EQ(pv_pkt_parse(fbuf, n, &pi), 0, "vlan: parses");
	T_CHECK((pi.flags & PV_PKT_F_VLAN) && pi.vlan_tci == 0x2005 && pi.l3_off == 18 &&
		pi.l4_off == 38 && pi.ethertype == 0x0800, "vlan: tag, offsets",
		"flags %x tci %x l3 %u l4 %u", pi.flags, pi.vlan_tci, pi.l3_off, pi.l4_off);
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), 0, "vlan: csum_setup ok");
	T_EQ(cs, 38, "vlan: csum_start 38");
}

static void test_parse_ipv6(void)
{
	static const uint8_t ext3[3] = { 0, 60, 43 };	/* hop-by-hop, dst opts, routing */
	static const uint8_t ext9[9] = { 0, 60, 60, 60, 60, 60, 60, 60, 60 };
	static const uint8_t extf[1] = { 44 };
	struct fspec s = { .v6 = 1, .proto = P_TCP, .payload = 50 };
	struct pv_pkt_info pi;
	uint16_t cs = 0, co = 0;
	uint32_t n = build(fbuf, &s);

	T_EQ(pv_pkt_parse(fbuf, n, &pi), 0, "ipv6 tcp: parses");
	T_CHECK(pi.ip_version == 6 && pi.l4_off == 54 && pi.l4_proto == P_TCP &&
		pi.dst_port == 80 && !memcmp(pi.dst_ip, ip6_b, 16) &&
		!memcmp(pi.src_ip, ip6_a, 16) && pi.l3_end == n,
		"ipv6 tcp: fields", "v%u l4 %u proto %u", pi.ip_version, pi.l4_off, pi.l4_proto);
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), 0, "ipv6 tcp: csum_setup ok");
	T_CHECK(cs == 54 && co == 16, "ipv6 tcp: 54/16", "got %u/%u", cs, co);

	s.proto = P_UDP;
	n = build(fbuf, &s);
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), 0, "ipv6 udp: csum_setup ok");
	T_CHECK(cs == 54 && co == 6, "ipv6 udp: 54/6", "got %u/%u", cs, co);

	s = (struct fspec){ .v6 = 1, .proto = P_TCP, .ext = ext3, .next_ext = 3,
			    .ext_len8 = 1, .payload = 20 };
	n = build(fbuf, &s);
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), 0, "ipv6 ext headers: csum_setup ok");
	T_EQ(cs, 54 + 3 * 16, "ipv6 ext headers: csum_start after 3 x 16 bytes");

	s.ext = ext9; s.next_ext = 9; s.ext_len8 = 0;
	n = build(fbuf, &s);
	T_EQ(pv_pkt_parse(fbuf, n, &pi), -EINVAL, "ipv6: 9 extension headers refused");
	s.next_ext = 8;
	n = build(fbuf, &s);
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), 0, "ipv6: 8 extension headers accepted");

	s.ext = extf; s.next_ext = 1;
	n = build(fbuf, &s);
	T_EQ(pv_pkt_parse(fbuf, n, &pi), 0, "ipv6 fragment: parses");
	T_CHECK((pi.flags & PV_PKT_F_FRAG) && !(pi.flags & PV_PKT_F_PORTS) && pi.l4_proto == P_TCP,
		"ipv6 fragment: FRAG, no ports", "flags %x", pi.flags);
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), -EINVAL, "ipv6 fragment: csum_setup -EINVAL");
	T_CHECK(!pv_pkt_is_tcp_gso_ok(fbuf, n, PV_PKT_GSO_TCPV6), "ipv6 fragment: no GSO", "accepted");
}

static void test_parse_bad(void)
{
	struct fspec s = { .proto = P_TCP, .payload = 10 };
	struct pv_pkt_info pi;
	uint16_t cs, co;
	uint32_t n;

	s.proto = P_ICMP;
	n = build(fbuf, &s);
	T_EQ(pv_pkt_parse(fbuf, n, &pi), 0, "icmp: parses");
	T_CHECK(!(pi.flags & PV_PKT_F_PORTS) && pi.l4_proto == P_ICMP, "icmp: no ports", "flags %x", pi.flags);
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), -EINVAL, "icmp: csum_setup -EINVAL");

	s.proto = P_TCP;
	s.frag = 0x2000;	/* MF */
	n = build(fbuf, &s);
	T_EQ(pv_pkt_parse(fbuf, n, &pi), 0, "ipv4 first fragment: parses");
	T_CHECK((pi.flags & PV_PKT_F_FRAG) && pi.l4_off == 0, "ipv4 fragment: FRAG, no L4", "flags %x", pi.flags);
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), -EINVAL, "ipv4 first fragment: -EINVAL");
	s.frag = 0x0010;	/* offset 128, last */
	n = build(fbuf, &s);
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), -EINVAL, "ipv4 later fragment: -EINVAL");
	s.frag = 0x4000;	/* DF only: not a fragment */
	n = build(fbuf, &s);
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), 0, "ipv4 DF: not a fragment");

	s.frag = 0;
	n = build(fbuf, &s);
	put16(fbuf + 12, 0x0806);
	T_EQ(pv_pkt_parse(fbuf, n, &pi), 0, "arp: parses");
	T_EQ(pi.ip_version, 0, "arp: not IP");
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), -EINVAL, "arp: csum_setup -EINVAL");

	n = build(fbuf, &s);
	fbuf[14] = 0x44;	/* IHL 4 */
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), -EINVAL, "ipv4 ihl 4: -EINVAL");
	n = build(fbuf, &s);
	fbuf[14] = 0x55;	/* version 5 */
	T_EQ(pv_pkt_parse(fbuf, n, &pi), -EINVAL, "ip version 5 under 0x0800: -EINVAL");
	n = build(fbuf, &s);
	put16(fbuf + 16, 19);	/* total length < header */
	T_EQ(pv_pkt_parse(fbuf, n, &pi), -EINVAL, "ipv4 tot_len < ihl: -EINVAL");
	n = build(fbuf, &s);
	put16(fbuf + 16, (uint16_t)(n - 14 + 1));	/* claims one byte more */
	T_EQ(pv_pkt_parse(fbuf, n, &pi), -EMSGSIZE, "ipv4 tot_len beyond frame: -EMSGSIZE");
	n = build(fbuf, &s);
	fbuf[34 + 12] = 0x40;	/* TCP doff 4 */
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), -EINVAL, "tcp doff 4: -EINVAL");
	n = build(fbuf, &s);
	fbuf[34 + 12] = 0xf0;	/* doff 15: 60 bytes, datagram has 30 after IP */
	T_EQ(pv_pkt_csum_setup(fbuf, n, &cs, &co), -EMSGSIZE, "tcp doff past datagram: -EMSGSIZE");
	T_EQ(pv_pkt_parse(fbuf, 0, &pi), -EMSGSIZE, "empty frame: -EMSGSIZE");
}

/* Every prefix of every frame: -EMSGSIZE, never a read past the prefix (ASan). */
static void test_truncation(void)
{
	static const uint8_t ext3[3] = { 0, 60, 43 };
	const struct fspec specs[] = {
		{ .proto = P_TCP, .payload = 5 },
		{ .proto = P_UDP, .payload = 3 },
		{ .proto = P_TCP, .ip_optlen = 8, .tcp_optlen = 8, .payload = 2 },
		{ .vlan = 1, .proto = P_UDP, .payload = 1 },
		{ .v6 = 1, .proto = P_TCP, .payload = 4 },
		{ .v6 = 1, .vlan = 1, .proto = P_UDP, .payload = 0 },
		{ .v6 = 1, .proto = P_TCP, .ext = ext3, .next_ext = 3, .ext_len8 = 2, .payload = 1 },
	};

	for (size_t k = 0; k < sizeof(specs) / sizeof(specs[0]); k++) {
		uint32_t n = build(fbuf, &specs[k]), bad = 0;
		uint16_t cs, co;
		struct pv_pkt_info pi;

		T_ASSERT(pv_pkt_csum_setup(fbuf, n, &cs, &co) == 0, "spec %zu whole", k);
		for (uint32_t len = 0; len < n; len++) {
			uint8_t *cut = malloc(len ? len : 1);
			int r1, r2;
			bool g;

			memcpy(cut, fbuf, len);
			r1 = pv_pkt_parse(cut, len, &pi);
			r2 = pv_pkt_csum_setup(cut, len, &cs, &co);
			g = pv_pkt_is_tcp_gso_ok(cut, len, PV_PKT_GSO_TCPV4) ||
			    pv_pkt_is_tcp_gso_ok(cut, len, PV_PKT_GSO_TCPV6);
			if (r1 != -EMSGSIZE || r2 != -EMSGSIZE || g) {
				if (!bad)
					printf("  spec %zu len %u/%u: parse %d csum %d gso %d\n",
					       k, len, n, r1, r2, g);
				bad++;
			}
			free(cut);
		}
		printf("  spec %zu: %u prefixes\n", k, n);
		T_CHECK(bad == 0, "truncation: every prefix -EMSGSIZE", "spec %zu: %u bad", k, bad);
	}
}

static void test_gso_ok(void)
{
	struct fspec s = { .proto = P_TCP, .payload = 10 };
	uint32_t n = build(fbuf, &s);

	T_CHECK(pv_pkt_is_tcp_gso_ok(fbuf, n, PV_PKT_GSO_TCPV4), "gso: tcpv4 on ipv4 tcp ok", "refused");
	T_CHECK(!pv_pkt_is_tcp_gso_ok(fbuf, n, PV_PKT_GSO_TCPV6), "gso: tcpv6 on ipv4 refused", "accepted");
	T_CHECK(!pv_pkt_is_tcp_gso_ok(fbuf, n, PV_PKT_GSO_NONE), "gso: none refused", "accepted");
	T_CHECK(!pv_pkt_is_tcp_gso_ok(fbuf, n, 77), "gso: unknown type refused", "accepted");
	s.v6 = 1;
	n = build(fbuf, &s);
	T_CHECK(pv_pkt_is_tcp_gso_ok(fbuf, n, PV_PKT_GSO_TCPV6), "gso: tcpv6 on ipv6 tcp ok", "refused");
	T_CHECK(!pv_pkt_is_tcp_gso_ok(fbuf, n, PV_PKT_GSO_TCPV4), "gso: tcpv4 on ipv6 refused", "accepted");
	s.proto = P_UDP;
	n = build(fbuf, &s);
	T_CHECK(!pv_pkt_is_tcp_gso_ok(fbuf, n, PV_PKT_GSO_TCPV6), "gso: on udp refused", "accepted");
}

/* Put the folded, non-inverted pseudo-header sum in the field, as CHECKSUM_PARTIAL does. */
static void seed_partial(uint8_t *f, int v6, uint32_t l3, uint32_t l4, uint32_t l4len,
			 uint8_t proto, uint16_t co)
{
	uint8_t ph[40];
	const uint8_t *parts[1] = { ph };
	size_t lens[1];

	lens[0] = ref_pseudo(ph, v6, f + l3 + (v6 ? 8 : 12), f + l3 + (v6 ? 24 : 16), proto, l4len);
	put16(f + l4 + co, (uint16_t)~ref_csum(parts, lens, 1));
}

static void test_csum_complete(void)
{
	const struct { int v6; uint8_t proto; uint32_t payload; const char *name; } cases[] = {
		{ 0, P_TCP, 1000, "csum complete: ipv4 tcp" },
		{ 0, P_UDP, 333, "csum complete: ipv4 udp, odd length" },
		{ 1, P_TCP, 1, "csum complete: ipv6 tcp, 1 byte" },
		{ 1, P_UDP, 1400, "csum complete: ipv6 udp" },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct fspec s = { .v6 = cases[k].v6, .proto = cases[k].proto,
				   .payload = cases[k].payload };
		uint32_t n = build(fbuf, &s), l4 = cases[k].v6 ? 54 : 34;
		uint16_t co = cases[k].proto == P_TCP ? 16 : 6, ref, got;
		uint8_t ph[40];
		const uint8_t *parts[2] = { ph, fbuf + l4 };
		size_t lens[2];

		/* Reference: field zeroed, standard checksum. */
		put16(fbuf + l4 + co, 0);
		lens[0] = ref_pseudo(ph, s.v6, fbuf + 14 + (s.v6 ? 8 : 12),
				     fbuf + 14 + (s.v6 ? 24 : 16), s.proto, n - l4);
		lens[1] = n - l4;
		ref = ref_csum(parts, lens, 2);
		seed_partial(fbuf, s.v6, 14, l4, n - l4, s.proto, co);
		T_ASSERT(pv_pkt_csum_complete(fbuf, n, (uint16_t)l4, co) == 0, "%s", cases[k].name);
		got = be16(fbuf + l4 + co);
		T_CHECK(got == ref || (ref == 0 && got == 0xffff), cases[k].name,
			"got %04x, reference %04x", got, ref);
		T_CHECK(l4_csum_ok(s.v6, fbuf + 14 + (s.v6 ? 8 : 12), fbuf + 14 + (s.v6 ? 24 : 16),
				   s.proto, fbuf + l4, n - l4), cases[k].name, "does not verify");
	}
	T_EQ(pv_pkt_csum_complete(fbuf, 40, 30, 9), -EMSGSIZE, "csum complete: field past end refused");
	T_EQ(pv_pkt_csum_complete(fbuf, 40, 38, 0), 0, "csum complete: field at the last 2 bytes ok");
}

/* ---- GSO segmentation ---- */

struct gso_check {
	const uint8_t *frame;
	int v6;
	uint32_t l3, l4, hlen, plen, mss;
	unsigned int n;		/* segments seen */
	uint32_t paid;		/* payload bytes verified */
	unsigned int bad;	/* segments with any error */
	int stop_at;
};

static int gso_cb(const struct pv_pkt_seg *seg, void *arg)
{
	struct gso_check *c = arg;
	static uint8_t wire[70000];
	const uint8_t *ip, *th, *in_th = c->frame + c->l4;
	uint32_t total = seg->hdr_len + seg->payload_len, seq_want;
	unsigned int last = (c->plen + c->mss - 1) / c->mss - 1;
	uint8_t want_flags = in_th[13];
	int ok = 1;

	if ((int)seg->index == c->stop_at)
		return 4242;
	memcpy(wire, seg->hdr, seg->hdr_len);
	memcpy(wire + seg->hdr_len, seg->payload, seg->payload_len);
	ip = wire + c->l3;
	th = wire + c->l4;
	ok &= seg->index == c->n && seg->hdr_len == c->hlen;
	ok &= seg->payload_len == (seg->index == last ? c->plen - last * c->mss : c->mss);
	ok &= !memcmp(seg->payload, c->frame + c->hlen + seg->index * c->mss, seg->payload_len);
	if (!c->v6) {
		ok &= be16(ip + 2) == total - c->l3;
		ok &= be16(ip + 4) == (uint16_t)(0x1234 + seg->index);
		ok &= ip4_hdr_ok(ip);
	} else {
		ok &= be16(ip + 4) == total - c->l3 - 40;
	}
	seq_want = be32(in_th + 4) + seg->index * c->mss;
	ok &= be32(th + 4) == seq_want;
	if (seg->index)
		want_flags &= ~PV_TCP_CWR;
	if (seg->index != last)
		want_flags &= ~(PV_TCP_FIN | PV_TCP_PSH);
	ok &= th[13] == want_flags;
	ok &= l4_csum_ok(c->v6, ip + (c->v6 ? 8 : 12), ip + (c->v6 ? 24 : 16), P_TCP,
			 th, total - c->l4);
	ok &= !memcmp(wire, c->frame, 12);	/* MACs unchanged */
	if (!ok && !c->bad)
		printf("  segment %u bad: len %u seq %08x flags %02x\n",
		       seg->index, total, be32(th + 4), th[13]);
	c->bad += !ok;
	c->paid += seg->payload_len;
	c->n++;
	return 0;
}

static void test_gso_one(int v6, int vlan, const char *name)
{
	static uint8_t big[65536];
	struct fspec s = { .v6 = v6, .vlan = vlan, .proto = P_TCP,
			   .tcp_flags = PV_TCP_ACK | PV_TCP_PSH | PV_TCP_FIN | PV_TCP_CWR };
	uint32_t hlen = (vlan ? 18 : 14) + (v6 ? 40 : 20) + 20, n;
	struct gso_check c = { .frame = big, .v6 = v6, .l3 = vlan ? 18 : 14,
			       .hlen = hlen, .mss = 1448, .stop_at = -1 };
	char nm[128];
	int r;

	s.payload = 64000 - hlen;
	n = build(big, &s);
	c.l4 = c.l3 + (v6 ? 40 : 20);
	c.plen = n - hlen;
	put16(big + c.l4 + 16, 0xdead);	/* input checksum state must not matter */
	r = pv_pkt_gso_segment(big, n, 1448, v6 ? PV_PKT_GSO_TCPV6 : PV_PKT_GSO_TCPV4, gso_cb, &c);
	snprintf(nm, sizeof(nm), "%s: 64000-byte frame -> 45 segments", name);
	T_CHECK(r == 45 && c.n == 45, nm, "returned %d, %u callbacks", r, c.n);
	snprintf(nm, sizeof(nm), "%s: lengths, ids, seq, flags, checksums", name);
	T_CHECK(c.bad == 0, nm, "%u bad segments", c.bad);
	snprintf(nm, sizeof(nm), "%s: all payload carried once", name);
	T_EQ(c.paid, c.plen, nm);
}

static void test_gso(void)
{
	struct fspec s = { .proto = P_TCP, .payload = 100 };
	struct gso_check c = { .frame = fbuf, .l3 = 14, .l4 = 34, .hlen = 54, .mss = 1448,
			       .stop_at = -1 };
	uint32_t n;
	int r;

	test_gso_one(0, 0, "gso tcpv4");
	test_gso_one(1, 0, "gso tcpv6");
	test_gso_one(0, 1, "gso tcpv4 vlan");

	n = build(fbuf, &s);
	c.plen = 100;
	r = pv_pkt_gso_segment(fbuf, n, 1448, PV_PKT_GSO_TCPV4, gso_cb, &c);
	T_CHECK(r == 1 && c.bad == 0, "gso: small frame -> one good segment", "r %d bad %u", r, c.bad);
	T_EQ(pv_pkt_gso_segment(fbuf, n, 0, PV_PKT_GSO_TCPV4, gso_cb, &c), -EINVAL, "gso: mss 0 refused");
	T_EQ(pv_pkt_gso_segment(fbuf, n, 10, PV_PKT_GSO_TCPV6, gso_cb, &c), -EINVAL, "gso: tcpv6 on ipv4 refused");
	c = (struct gso_check){ .frame = fbuf, .l3 = 14, .l4 = 34, .hlen = 54, .mss = 10,
				.plen = 100, .stop_at = 3 };
	T_EQ(pv_pkt_gso_segment(fbuf, n, 10, PV_PKT_GSO_TCPV4, gso_cb, &c), 4242,
	     "gso: callback's non-zero return stops and is returned");
	T_EQ(c.n, 3, "gso: stopped after 3 segments");
	s.proto = P_UDP;
	n = build(fbuf, &s);
	T_EQ(pv_pkt_gso_segment(fbuf, n, 10, PV_PKT_GSO_TCPV4, gso_cb, &c), -EINVAL, "gso: udp refused");
}

/* Parsing from a 128-byte header copy must agree with parsing the whole frame. */
static void test_parse_hdr(void)
{
	static const uint8_t exts[2] = { 0, 60 };	/* hop-by-hop, destination options */
	static const struct fspec specs[] = {
		{ .proto = P_TCP, .payload = 60000 },
		{ .v6 = 1, .proto = P_TCP, .payload = 60000 },
		{ .vlan = 1, .proto = P_UDP, .payload = 3000 },
		{ .proto = P_TCP, .ip_optlen = 40, .tcp_optlen = 40, .payload = 9000 },
		{ .v6 = 1, .proto = P_TCP, .ext = exts, .next_ext = 2, .ext_len8 = 3, .payload = 5000 },
	};
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		uint32_t len = build(fbuf, &specs[i]);
		uint16_t s1 = 0, o1 = 0, s2 = 0, o2 = 0;
		int r1 = pv_pkt_csum_setup(fbuf, len, &s1, &o1);
		int r2 = pv_pkt_csum_setup_hdr(fbuf, 128, len, &s2, &o2);
		char name[96];

		snprintf(name, sizeof(name), "header-copy parse agrees with the full frame (case %zu)", i);
		if (r1 == 0 && r2 == -EMSGSIZE)
			T_CHECK(s1 + (specs[i].proto == P_TCP ? 20u + specs[i].tcp_optlen : 8u) > 128, name,
				"headers fit in 128 bytes but the copy parse said EMSGSIZE");
		else
			T_CHECK(r1 == r2 && s1 == s2 && o1 == o2, name, "full %d %u/%u, hdr %d %u/%u",
				r1, s1, o1, r2, s2, o2);
		T_EQ(pv_pkt_csum_setup_hdr(fbuf, 128, len - 1, &s2, &o2), -EMSGSIZE,
		     "a frame shorter than its IP length is refused from the header copy too");
		T_EQ(pv_pkt_csum_setup_hdr(fbuf, 20, len, &s2, &o2), -EMSGSIZE,
		     "headers beyond the copy are not read (EMSGSIZE)");
	}
	T_CHECK(pv_pkt_is_tcp_gso_ok_hdr(fbuf, 128, build(fbuf, &specs[0]), PV_PKT_GSO_TCPV4),
		"GSO check from the header copy", "refused");
}

/* The exported checked accessor: in range, past the end, an off + size that would wrap. */
static void test_get(void)
{
	uint8_t b[64] = { 0 };

	T_CHECK(pv_pkt_get(b, sizeof(b), 0, sizeof(b)) == b, "get: all of it", "NULL");
	T_CHECK(pv_pkt_get(b, sizeof(b), 12, 2) == b + 12, "get: in range", "wrong pointer");
	T_CHECK(pv_pkt_get(b, sizeof(b), sizeof(b), 0) == b + sizeof(b), "get: 0 bytes at the end",
		"NULL");
	T_CHECK(pv_pkt_getw(b, sizeof(b), 62, 2) == b + 62, "getw: the last 2 bytes", "wrong pointer");
	T_CHECK(!pv_pkt_get(b, sizeof(b), 63, 2), "get: one byte past the end", "not NULL");
	T_CHECK(!pv_pkt_get(b, sizeof(b), sizeof(b) + 1, 0), "get: offset past the end", "not NULL");
	T_CHECK(!pv_pkt_get(b, sizeof(b), 0, sizeof(b) + 1), "get: size past the end", "not NULL");
	T_CHECK(!pv_pkt_get(b, sizeof(b), UINT64_MAX, 2), "get: off + size wraps", "not NULL");
	T_CHECK(!pv_pkt_get(b, sizeof(b), 2, UINT64_MAX), "get: size + off wraps", "not NULL");
	T_CHECK(!pv_pkt_getw(b, sizeof(b), UINT64_MAX - 1, 4), "getw: off + size wraps", "not NULL");
	T_CHECK(!pv_pkt_get(b, 0, 0, 1), "get: empty buffer", "not NULL");
}

int main(void)
{
	test_get();
	test_parse_hdr();
	test_parse_basic();
	test_parse_ipv6();
	test_parse_bad();
	test_truncation();
	test_gso_ok();
	test_csum_complete();
	test_gso();
	return t_done();
}
