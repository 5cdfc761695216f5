/* SPDX-License-Identifier: MIT */
/*
 * test_libpvnet_udp.c - libpvnet's UDP framing without a NIC: what
 * udp_build() writes is checked by pvnet's own packet parser (src/lib/pkt.c,
 * an independent implementation: headers, lengths, both checksums), and
 * stack_rx_parse() takes it back, refusing and counting what it must not
 * deliver.  The file under test is included (its functions are static).
 */
#include <errno.h>

#include "../../src/libpvnet/udp.c"
#include "../lib/test.h"
#include "lib/pkt.h"

#define A_IP	0xc6120001u	/* 198.18.0.1 */
#define B_IP	0xc6120064u	/* 198.18.0.100 */

static struct pvnet_stack sa, sb;
static struct pvnet_udp ua, ub;

static void setup(void)
{
	memset(&sa, 0, sizeof(sa));
	memset(&sb, 0, sizeof(sb));
	sa.attr.local_ip = htonl(A_IP);
	memcpy(sa.attr.mac, "\x02\x00\x00\x00\x00\xaa", 6);
	sb.attr.local_ip = htonl(B_IP);
	ua = (struct pvnet_udp){ .st = &sa, .port = 5000, .filter = (void *)&ua };
	ub = (struct pvnet_udp){ .st = &sb, .port = 7000, .filter = (void *)&ub };
	sa.socks = &ua;
	sb.socks = &ub;
}

/* A datagram of @len bytes from A:5000 to B:7000. */
static uint32_t build(uint8_t *f, uint16_t len)
{
	char payload[1500];

	for (int i = 0; i < len; i++)
		payload[i] = (char)(i * 7);
	udp_build(&sa, f, (const uint8_t *)"\x02\x00\x00\x00\x00\xbb", &ua, htonl(B_IP),
		  htons(7000), payload, len);
	return HDRS + len;
}

/* pkt.c's checksum of @n bytes at @p (its fold complements): 0 over a region whose sum is right. */
static uint16_t pkt_sum(const uint8_t *p, size_t n)
{
	return pv_pkt_csum_fold(pv_pkt_csum_add(0, p, n));
}

static void test_build(void)
{
	uint8_t f[2048], ph[12];
	uint32_t len = build(f, 1472);
	struct pv_pkt_info pi;
	uint32_t src = htonl(A_IP), dst = htonl(B_IP);

	T_CHECK(pv_pkt_parse(f, len, &pi) == 0 && pi.ip_version == 4 && pi.l4_proto == IPPROTO_UDP &&
		pi.src_port == 5000 && pi.dst_port == 7000 && pi.l3_end == len &&
		!memcmp(pi.src_ip, &src, 4) && !memcmp(pi.dst_ip, &dst, 4) &&
		!(pi.flags & PV_PKT_F_FRAG),
		"build: pkt.c parses it: IPv4 UDP A:5000 -> B:7000, lengths to the end", "-");
	T_CHECK(!memcmp(f + 6, sa.attr.mac, 6) && !memcmp(f, "\x02\x00\x00\x00\x00\xbb", 6),
		"build: source MAC ours, destination the next hop's", "-");
	T_EQ(pkt_sum(f + 14, 20), 0, "build: IPv4 header checksum right");
	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = IPPROTO_UDP;
	ph[10] = (uint8_t)((len - 34) >> 8);
	ph[11] = (uint8_t)(len - 34);
	T_EQ(pv_pkt_csum_fold(pv_pkt_csum_add(pv_pkt_csum_add(0, ph, 12), f + 34, len - 34)), 0,
	     "build: UDP checksum right (pseudo-header, header, payload)");
	T_CHECK(f[20] == 0x40 && f[21] == 0, "build: DF set, not a fragment", "%02x %02x", f[20], f[21]);
}

static void test_parse(void)
{
	uint8_t f[2048];
	uint32_t len = build(f, 100);
	struct udp_rx rx;
	const struct pvnet_udp *s = stack_rx_parse(&sb, f, len, 0, &rx);

	T_CHECK(s == &ub && rx.off == HDRS && rx.len == 100 && rx.src_ip == htonl(A_IP) &&
		rx.src_port == htons(5000) && f[rx.off + 99] == (uint8_t)(99 * 7),
		"parse: B takes A's datagram: payload at 42, 100 bytes, from A:5000", "off %u len %u",
		rx.off, rx.len);
	T_CHECK(!stack_rx_parse(&sa, f, len, 0, &rx) && sa.stats.rx_bad == 1,
		"parse: not to our address -> rx_bad", "bad %llu", (unsigned long long)sa.stats.rx_bad);
	ub.port = 7001;
	T_CHECK(!stack_rx_parse(&sb, f, len, 0, &rx) && sb.stats.rx_no_socket == 1,
		"parse: no socket on the port -> rx_no_socket", "-");
	ub.port = 7000;
	ub.connected = true;
	ub.peer_ip = htonl(A_IP);
	ub.peer_port = htons(5001);
	T_CHECK(!stack_rx_parse(&sb, f, len, 0, &rx) && sb.stats.rx_not_peer == 1,
		"parse: a connected socket, another source port -> rx_not_peer", "-");
	ub.peer_port = htons(5000);
	T_CHECK(stack_rx_parse(&sb, f, len, 0, &rx) == &ub, "parse: from its peer -> delivered", "-");
	ub.connected = false;
	f[HDRS + 5] ^= 1;
	T_CHECK(!stack_rx_parse(&sb, f, len, 0, &rx) && sb.stats.rx_bad == 1,
		"parse: a payload byte changed -> UDP checksum wrong -> rx_bad", "-");
	T_CHECK(stack_rx_parse(&sb, f, len, PV_NIC_RX_F_CSUM_OK, &rx) == &ub,
		"parse: ... unless the NIC checked the checksum (CSUM_OK)", "-");
	f[40] = f[41] = 0;
	T_CHECK(stack_rx_parse(&sb, f, len, 0, &rx) == &ub, "parse: UDP checksum 0 (none) taken", "-");
}

static void test_parse_lies(void)
{
	static const struct {
		uint32_t at;
		uint8_t val;
		const char *name;
	} lie[] = {
		{ 16, 0x05, "parse: IPv4 total length past the frame -> rx_bad" },
		{ 38, 0x05, "parse: UDP length past the IP payload -> rx_bad" },
		{ 39, 0x07, "parse: UDP length below its header -> rx_bad" },
		{ 20, 0x20, "parse: more fragments -> rx_bad" },
		{ 21, 0x01, "parse: a fragment offset -> rx_bad" },
		{ 14, 0x44, "parse: IHL 4 -> rx_bad" },
		{ 14, 0x65, "parse: IPv6 version nibble -> rx_bad" },
		{ 23, IPPROTO_TCP, "parse: TCP -> rx_bad" },
		{ 24, 0x00, "parse: IPv4 header checksum wrong -> rx_bad" },
		{ 12, 0x86, "parse: not IPv4 EtherType -> rx_bad" },
	};

	{
		/* the frame every lie starts from is taken as it is */
		uint8_t f[2048];
		struct udp_rx rx;
		uint32_t len;

		setup();
		len = build(f, 100);
		f[40] = f[41] = 0;
		T_CHECK(stack_rx_parse(&sb, f, len, 0, &rx) == &ub, "parse: the frame before the lies is taken", "-");
	}
	for (size_t i = 0; i < sizeof(lie) / sizeof(lie[0]); i++) {
		uint8_t f[2048];
		uint32_t len;
		struct udp_rx rx;
		uint64_t bad;

		setup();
		len = build(f, 100);
		f[40] = f[41] = 0;	/* no UDP checksum: only the lie can refuse it */
		if (lie[i].at == 24)
			f[24] ^= 0xff;
		else
			f[lie[i].at] = lie[i].val;
		if (lie[i].at != 24 && lie[i].at >= 14 && lie[i].at < 34) {
			/* keep the IPv4 header sum right: only the field lies */
			uint16_t sum;

			f[24] = f[25] = 0;
			sum = pkt_sum(f + 14, 20);
			f[24] = (uint8_t)(sum >> 8);
			f[25] = (uint8_t)sum;
		}
		bad = sb.stats.rx_bad;
		T_CHECK(!stack_rx_parse(&sb, f, len, PV_NIC_RX_F_CSUM_OK, &rx) &&
			sb.stats.rx_bad == bad + 1, lie[i].name, "bad %llu", (unsigned long long)sb.stats.rx_bad);
	}
	{
		uint8_t f[2048];
		struct udp_rx rx;
		uint32_t len;

		setup();
		len = build(f, 100);
		T_CHECK(!stack_rx_parse(&sb, f, HDRS - 1, 0, &rx) && !stack_rx_parse(&sb, f, len - 1, 0, &rx),
			"parse: a frame cut short (below the headers, or its datagram) -> rx_bad", "-");
	}
}

int main(void)
{
	setup();
	test_build();
	setup();
	test_parse();
	test_parse_lies();
	return t_done();
}
