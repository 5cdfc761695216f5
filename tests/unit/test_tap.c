/* SPDX-License-Identifier: MIT */
/*
 * test_tap.c - pvnet-front's upper edge: the virtio-net header <-> netif
 * mapping, the TX slot layout, and a real TAP device in a fresh network
 * namespace (vnet header, offloads, MTU, MAC, carrier, and frames both
 * ways, including a partial checksum and a TSO frame from the kernel).
 *
 *   netns (unshare) +--------------------------------------------+
 *                   |  kernel stack 10.9.8.1 -- pvtap0 <-> fd ---- this test plays
 *                   |                                            |  10.9.8.2 (02:..:02)
 *                   +--------------------------------------------+
 *
 * The TAP part needs root and /dev/net/tun; without them it says SKIP.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/test.h"
#include "front/netfront.h"
#include "lib/tap.h"
#include "lib/pkt.h"

/* ---- frames ---- */

static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

/* Ethernet + IPv4 (20) + TCP (20) or UDP (8), @payload bytes; returns the length. */
static uint32_t mk_ipv4(uint8_t *f, int proto, uint32_t payload)
{
	uint32_t l4 = proto == 6 ? 20 : 8, tot = 20 + l4 + payload;

	memset(f, 0, 14 + tot);
	memset(f, 0xaa, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, 0x0800);
	f[14] = 0x45;
	put16(f + 16, (uint16_t)tot);
	f[22] = 64;
	f[23] = (uint8_t)proto;
	put32(f + 26, 0x0a090802);
	put32(f + 30, 0x0a090801);
	if (proto == 6)
		f[34 + 12] = 5 << 4;
	return 14 + tot;
}

static uint32_t mk_ipv6_udp(uint8_t *f, uint32_t payload)
{
	memset(f, 0, 14 + 40 + 8 + payload);
	put16(f + 12, 0x86dd);
	f[14] = 0x60;
	put16(f + 18, (uint16_t)(8 + payload));
	f[20] = 17;
	f[21] = 64;
	return 14 + 40 + 8 + payload;
}

/* ---- pure functions ---- */

static void test_vh_to_tx(void)
{
	struct virtio_net_hdr vh = { 0 };
	struct netif_extra_info gso;
	uint16_t fl = 0xffff;

	T_EQ(pv_netfront_vh_to_tx(NULL, &fl, &gso), 0, "vh_to_tx: no header, no extra");
	T_EQ(fl, 0, "vh_to_tx: no header, no flags");
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	T_EQ(pv_netfront_vh_to_tx(&vh, &fl, &gso), 0, "vh_to_tx: NEEDS_CSUM, no extra");
	T_EQ(fl, NETTXF_csum_blank | NETTXF_data_validated, "vh_to_tx: NEEDS_CSUM -> csum_blank|data_validated");
	vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	pv_netfront_vh_to_tx(&vh, &fl, &gso);
	T_EQ(fl, NETTXF_data_validated, "vh_to_tx: DATA_VALID -> data_validated");

	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = 1448;
	T_EQ(pv_netfront_vh_to_tx(&vh, &fl, &gso), 1, "vh_to_tx: GSO TCPv4 needs an extra slot");
	T_CHECK(gso.type == XEN_NETIF_EXTRA_TYPE_GSO && gso.u.gso.size == 1448 &&
		gso.u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4 && gso.flags == 0 && gso.u.gso.features == 0,
		"vh_to_tx: GSO TCPv4 extra: type, size 1448, gso type", "type %u size %u gso %u",
		gso.type, gso.u.gso.size, gso.u.gso.type);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	pv_netfront_vh_to_tx(&vh, &fl, &gso);
	T_EQ(gso.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV6, "vh_to_tx: GSO TCPv6 extra");
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	T_EQ(pv_netfront_vh_to_tx(&vh, &fl, &gso), -EOPNOTSUPP, "vh_to_tx: GSO UDP refused");
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	T_EQ(pv_netfront_vh_to_tx(&vh, &fl, &gso), -EOPNOTSUPP, "vh_to_tx: GSO with ECN refused");
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = 0;
	T_EQ(pv_netfront_vh_to_tx(&vh, &fl, &gso), -EINVAL, "vh_to_tx: GSO without MSS refused");
	vh.gso_size = 1448;
	vh.flags = 0;
	T_EQ(pv_netfront_vh_to_tx(&vh, &fl, &gso), -EINVAL, "vh_to_tx: GSO without partial csum refused");
}

/* Check a layout: sizes, offsets, flags; returns 1 if it is right. */
static int layout_ok(const netif_tx_request_t *r, int n, uint32_t len, uint16_t f0)
{
	uint32_t sum = 0;

	for (int i = 0; i < n; i++) {
		uint32_t chunk = i == 0 ? (len < PV_PAGE_SIZE ? len : PV_PAGE_SIZE) : r[i].size;
		uint16_t want = (uint16_t)((i + 1 < n ? NETTXF_more_data : 0) | (i == 0 ? f0 : 0));

		if (r[i].offset != 0 || r[i].flags != want || chunk == 0 || chunk > PV_PAGE_SIZE)
			return 0;
		if (i > 0 && i + 1 < n && r[i].size != PV_PAGE_SIZE)
			return 0;
		sum += chunk;
	}
	return r[0].size == (len > 0xffff ? 0 : len) && sum == len;
}

static void test_tx_layout(void)
{
	netif_tx_request_t r[PV_NF_MAX_TX_SLOTS + 2];
	uint16_t gso_f0 = NETTXF_csum_blank | NETTXF_data_validated | NETTXF_extra_info;
	int n;

	n = pv_netfront_tx_layout(1, 0, 0, r, PV_NF_MAX_TX_SLOTS);
	T_CHECK(n == 1 && layout_ok(r, n, 1, 0), "layout: 1 byte -> 1 slot of 1", "n %d size %u", n, r[0].size);
	n = pv_netfront_tx_layout(4096, NETTXF_data_validated, 0, r, PV_NF_MAX_TX_SLOTS);
	T_CHECK(n == 1 && layout_ok(r, n, 4096, NETTXF_data_validated),
		"layout: 4096 bytes -> 1 full page", "n %d size %u flags %#x", n, r[0].size, r[0].flags);
	n = pv_netfront_tx_layout(4097, 0, 0, r, PV_NF_MAX_TX_SLOTS);
	T_CHECK(n == 2 && layout_ok(r, n, 4097, 0) && r[0].size == 4097 && r[1].size == 1 &&
		(r[0].flags & NETTXF_more_data) && !(r[1].flags & NETTXF_more_data),
		"layout: 4097 bytes -> 2 slots (first size 4097 + more_data, then 1)",
		"n %d sizes %u %u", n, r[0].size, r[1].size);
	n = pv_netfront_tx_layout(65535, NETTXF_csum_blank | NETTXF_data_validated, 1, r, PV_NF_MAX_TX_SLOTS);
	T_CHECK(n == 16 && layout_ok(r, n, 65535, gso_f0) && r[15].size == 4095,
		"layout: 65535-byte GSO frame -> 16 page slots + 1 extra, first size 65535, last 4095",
		"n %d first %u last %u flags %#x", n, r[0].size, n > 0 ? r[n - 1].size : 0, r[0].flags);
	n = pv_netfront_tx_layout(1514, 0, 0, r, PV_NF_MAX_TX_SLOTS);
	T_CHECK(n == 1 && layout_ok(r, n, 1514, 0), "layout: 1514 bytes -> 1 slot", "n %d", n);
	T_EQ(pv_netfront_tx_layout(0, 0, 0, r, PV_NF_MAX_TX_SLOTS), -EMSGSIZE, "layout: empty frame refused");
	T_EQ(pv_netfront_tx_layout(65536, 0, 0, r, PV_NF_MAX_TX_SLOTS), -EMSGSIZE,
	     "layout: 65536 bytes refused (netif's 16-bit size)");
	T_EQ(pv_netfront_tx_layout(8193, 0, 0, r, 2), -ENOSPC, "layout: too few request slots refused");
	T_EQ(PV_NF_MAX_TX_SLOTS + 1 <= XEN_NETIF_NR_SLOTS_MIN, 1,
	     "layout: the largest frame plus its extra fits netback's slot limit");
}

static void test_rx_to_vh(void)
{
	static uint8_t f[70000];
	struct netif_extra_info gso = { .type = XEN_NETIF_EXTRA_TYPE_GSO };
	struct virtio_net_hdr vh;
	uint32_t len;

	len = mk_ipv4(f, 6, 100);
	T_EQ(pv_netfront_rx_to_vh(0, NULL, f, len, &vh), 0, "rx_to_vh: no flags");
	T_CHECK(vh.flags == 0 && vh.gso_type == 0, "rx_to_vh: no flags -> empty header", "flags %u", vh.flags);
	pv_netfront_rx_to_vh(NETRXF_data_validated, NULL, f, len, &vh);
	T_EQ(vh.flags, VIRTIO_NET_HDR_F_DATA_VALID, "rx_to_vh: data_validated -> DATA_VALID");
	T_EQ(pv_netfront_rx_to_vh(NETRXF_csum_blank | NETRXF_data_validated, NULL, f, len, &vh), 0,
	     "rx_to_vh: csum_blank TCPv4 accepted");
	T_CHECK(vh.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && vh.csum_start == 34 && vh.csum_offset == 16 &&
		vh.hdr_len == 54, "rx_to_vh: csum_blank TCPv4 -> NEEDS_CSUM 34/16, hdr_len 54",
		"flags %u start %u off %u hdr %u", vh.flags, vh.csum_start, vh.csum_offset, vh.hdr_len);
	len = mk_ipv6_udp(f, 50);
	pv_netfront_rx_to_vh(NETRXF_csum_blank, NULL, f, len, &vh);
	T_CHECK(vh.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && vh.csum_start == 54 && vh.csum_offset == 6,
		"rx_to_vh: csum_blank UDPv6 -> NEEDS_CSUM 54/6", "start %u off %u", vh.csum_start, vh.csum_offset);

	len = mk_ipv4(f, 6, 65535 - 54);
	gso.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
	gso.u.gso.size = 1448;
	T_EQ(pv_netfront_rx_to_vh(NETRXF_csum_blank | NETRXF_data_validated, &gso, f, len, &vh), 0,
	     "rx_to_vh: 64 KiB GSO TCPv4 accepted");
	T_CHECK(vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && vh.gso_size == 1448 &&
		vh.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && vh.csum_start == 34,
		"rx_to_vh: GSO extra -> gso_type TCPV4, gso_size 1448, NEEDS_CSUM",
		"gso %u size %u flags %u", vh.gso_type, vh.gso_size, vh.flags);
	T_EQ(pv_netfront_rx_to_vh(0, &gso, f, len, &vh), 0, "rx_to_vh: GSO without csum_blank still gets NEEDS_CSUM");
	T_EQ(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM, "rx_to_vh: GSO implies a partial checksum");
	len = mk_ipv4(f, 17, 3000);
	T_EQ(pv_netfront_rx_to_vh(NETRXF_csum_blank, &gso, f, len, &vh), -EINVAL, "rx_to_vh: TCP GSO on UDP refused");
	gso.u.gso.type = 7;
	len = mk_ipv4(f, 6, 3000);
	T_EQ(pv_netfront_rx_to_vh(NETRXF_csum_blank, &gso, f, len, &vh), -EINVAL, "rx_to_vh: unknown GSO type refused");
	gso.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
	gso.u.gso.size = 0;
	T_EQ(pv_netfront_rx_to_vh(NETRXF_csum_blank, &gso, f, len, &vh), -EINVAL, "rx_to_vh: GSO size 0 refused");
	memset(f, 0, 60);
	put16(f + 12, 0x0806);
	T_EQ(pv_netfront_rx_to_vh(NETRXF_csum_blank, NULL, f, 60, &vh), -EINVAL, "rx_to_vh: csum_blank on ARP refused");
	len = mk_ipv4(f, 6, 100);
	T_EQ(pv_netfront_rx_to_vh(NETRXF_csum_blank, NULL, f, 40, &vh), -EINVAL,
	     "rx_to_vh: csum_blank on a truncated frame refused");
}

static void test_roundtrip(void)
{
	static uint8_t f[2000];
	struct virtio_net_hdr in = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				     .csum_offset = 16 }, out;
	struct netif_extra_info gso;
	uint16_t txf;
	uint32_t len = mk_ipv4(f, 6, 1000);

	pv_netfront_vh_to_tx(&in, &txf, &gso);
	/* netback answers a csum_blank TX frame with the same flags on RX */
	pv_netfront_rx_to_vh(txf, NULL, f, len, &out);
	T_CHECK(out.flags == in.flags && out.csum_start == in.csum_start && out.csum_offset == in.csum_offset,
		"roundtrip: NEEDS_CSUM survives TX flags -> RX flags", "flags %u start %u", out.flags, out.csum_start);
}

static void test_misc(void)
{
	uint8_t m[6];

	T_CHECK(pv_netfront_mac_parse("00:16:3e:12:ab:CD", m) == 0 && m[0] == 0 && m[2] == 0x3e && m[5] == 0xcd,
		"mac_parse: good MAC", "%02x", m[5]);
	T_CHECK(pv_netfront_mac_parse("00:16:3e:12:ab", m) < 0 && pv_netfront_mac_parse("00:16:3e:12:ab:cd:ef", m) < 0 &&
		pv_netfront_mac_parse("0:16:3e:12:ab:cd", m) < 0, "mac_parse: bad MACs refused", "accepted");
	T_EQ(pv_netfront_tun_offload(PV_NF_BE_SG | PV_NF_BE_GSO_TCPV4 | PV_NF_BE_GSO_TCPV6),
	     TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, "offload: full backend -> CSUM|TSO4|TSO6");
	T_EQ(pv_netfront_tun_offload(PV_NF_BE_GSO_TCPV4 | PV_NF_BE_GSO_TCPV6), TUN_F_CSUM,
	     "offload: no feature-sg -> no TSO");
}

/* ---- the TAP device, in a namespace of its own ---- */

static int sioc(unsigned long req, struct ifreq *ifr, const char *name)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0), r;

	snprintf(ifr->ifr_name, IFNAMSIZ, "%s", name);
	r = ioctl(s, req, ifr);
	close(s);
	return r;
}

static int ethtool_get(const char *name, uint32_t cmd)
{
	struct ethtool_value ev = { .cmd = cmd };
	struct ifreq ifr = { .ifr_data = (void *)&ev };

	return sioc(SIOCETHTOOL, &ifr, name) < 0 ? -1 : (int)ev.data;
}

static int set_addr(const char *name, const char *ip)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
	if (sioc(SIOCSIFADDR, &ifr, name) < 0)
		return -1;
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	return sioc(SIOCSIFNETMASK, &ifr, name);
}

/* Read frames for up to @ms until @match says yes; returns the length or -1. */
static ssize_t read_until(struct pv_tap *t, struct virtio_net_hdr *vh, uint8_t *buf, size_t size,
			  int (*match)(const uint8_t *, ssize_t), int ms)
{
	for (int waited = 0; waited < ms; waited += 10) {
		struct pollfd p = { .fd = t->fd, .events = POLLIN };
		ssize_t n;

		poll(&p, 1, 10);
		while ((n = tap_read(t, vh, buf, size)) >= 0)
			if (match(buf, n))
				return n;
	}
	return -1;
}

static int is_arp_reply(const uint8_t *f, ssize_t n) { return n >= 42 && get16(f + 12) == 0x0806 && get16(f + 20) == 2; }
static int is_udp4(const uint8_t *f, ssize_t n) { return n >= 42 && get16(f + 12) == 0x0800 && f[23] == 17; }
static int is_syn(const uint8_t *f, ssize_t n) { return n >= 54 && get16(f + 12) == 0x0800 && f[23] == 6 && (f[47] & PV_TCP_SYN); }
static int is_tcp_data(const uint8_t *f, ssize_t n) { return n > 54 + 12 + 100 && get16(f + 12) == 0x0800 && f[23] == 6; }

static void tap_arp(struct pv_tap *t, uint8_t *buf)
{
	uint8_t f[42] = { 0 };
	struct virtio_net_hdr vh = { 0 };
	struct iovec iov = { f, sizeof(f) };
	ssize_t n;

	memset(f, 0xff, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 1);
	memcpy(f + 22, peer_mac, 6);
	put32(f + 28, 0x0a090802);
	put32(f + 38, 0x0a090801);
	T_EQ(tap_write(t, &vh, &iov, 1), 0, "tap: write an ARP request with a vnet header");
	n = read_until(t, &vh, buf, 70000, is_arp_reply, 2000);
	T_CHECK(n >= 42 && !memcmp(buf, peer_mac, 6) && get32(buf + 28) == 0x0a090801,
		"tap: the kernel's ARP reply is read back", "n %zd", n);
}

static void tap_udp_csum(struct pv_tap *t, uint8_t *buf)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct virtio_net_hdr vh;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t n;

	inet_pton(AF_INET, "10.9.8.2", &to.sin_addr);
	sendto(s, "hello, netfront", 15, 0, (struct sockaddr *)&to, sizeof(to));
	close(s);
	n = read_until(t, &vh, buf, 70000, is_udp4, 2000);
	T_CHECK(n > 0 && (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && vh.csum_start == 34 && vh.csum_offset == 6,
		"tap: a UDP datagram comes with a partial checksum (TUN_F_CSUM in effect)",
		"n %zd flags %u start %u off %u", n, vh.flags, vh.csum_start, vh.csum_offset);
}

/* Play the TCP peer at 10.9.8.2:5001 far enough to make the kernel send TSO frames. */
static void tap_tso(struct pv_tap *t, uint8_t *buf)
{
	static uint8_t data[256 * 1024];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(5001) };
	struct virtio_net_hdr vh = { 0 };
	uint8_t f[14 + 20 + 24];
	struct iovec iov = { f, sizeof(f) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	uint32_t seq, len;
	ssize_t n;

	inet_pton(AF_INET, "10.9.8.2", &to.sin_addr);
	connect(s, (struct sockaddr *)&to, sizeof(to));
	n = read_until(t, &vh, buf, 70000, is_syn, 2000);
	if (n < 0) {
		T_CHECK(0, "tap: TCP SYN from the kernel", "none seen");
		close(s);
		return;
	}
	seq = get32(buf + 38);
	/* SYN-ACK from 10.9.8.2:5001: MSS 1460, window scale 7, window 65535 */
	mk_ipv4(f, 6, 4);		/* 20 + 20 + 4 option bytes, rewritten below */
	memcpy(f, buf + 6, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 16, 44);		/* IP total length: 20 + TCP 24 */
	put16(f + 34, 5001);
	put16(f + 36, get16(buf + 34));
	put32(f + 38, 1000);
	put32(f + 42, seq + 1);
	f[46] = 6 << 4;			/* data offset: 24 bytes */
	f[47] = PV_TCP_SYN | PV_TCP_ACK;
	put16(f + 48, 65535);
	f[54] = 2;			/* MSS 1460 */
	f[55] = 4;
	put16(f + 56, 1460);
	len = 14 + 44;
	{	/* IP header checksum; TCP checksum over the pseudo-header (no window scale: keep it short) */
		uint8_t ph[12];
		uint32_t sum;
		uint16_t c;

		c = pv_pkt_csum_fold(pv_pkt_csum_add(0, f + 14, 20));
		put16(f + 24, c);
		memcpy(ph, f + 26, 8);
		ph[8] = 0;
		ph[9] = 6;
		put16(ph + 10, 24);
		sum = pv_pkt_csum_add(0, ph, 12);
		sum = pv_pkt_csum_add(sum, f + 34, 24);
		c = pv_pkt_csum_fold(sum);
		put16(f + 50, c);
	}
	iov.iov_len = len;
	T_EQ(tap_write(t, &vh, &iov, 1), 0, "tap: write a SYN-ACK");
	usleep(100000);
	{
		int big = 1 << 20;

		setsockopt(s, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		n = send(s, data, sizeof(data), 0);
	}
	n = read_until(t, &vh, buf, 70000, is_tcp_data, 2000);
	T_CHECK(n > 1514 && vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && vh.gso_size > 0 &&
		(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && n <= PV_NF_MAX_FRAME,
		"tap: the kernel hands a TSO frame (GSO TCPv4, > 1 MTU, <= 65535) with a partial checksum",
		"n %zd gso_type %u gso_size %u flags %u", n, vh.gso_type, vh.gso_size, vh.flags);
	close(s);
}

static int wait_running(const char *name, int want)
{
	for (int i = 0; i < 200; i++) {
		struct ifreq ifr = { 0 };

		if (sioc(SIOCGIFFLAGS, &ifr, name) == 0 && !!(ifr.ifr_flags & IFF_RUNNING) == want)
			return 1;
		usleep(10000);
	}
	return 0;
}

static int tap_child(void)
{
	static uint8_t buf[70000];
	const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x01, 0x02, 0x03 };
	struct pv_tap t;
	struct ifreq ifr = { 0 };
	unsigned int mtu = 0;
	uint8_t got[6] = { 0 };
	int hdr = 0;

	T_EQ(tap_open(&t, "pvtap0"), 0, "tap: open pvtap0 in a fresh namespace");
	if (t.fd < 0)
		return t_done();
	T_CHECK(ioctl(t.fd, TUNGETVNETHDRSZ, &hdr) == 0 && hdr == (int)sizeof(struct virtio_net_hdr) && hdr == 10,
		"tap: vnet header size negotiated (10)", "hdr %d", hdr);
	T_CHECK(ioctl(t.fd, TUNGETIFF, &ifr) == 0 &&
		(ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)) == (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR),
		"tap: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR", "flags %#x", ifr.ifr_flags);
	T_CHECK((fcntl(t.fd, F_GETFL) & O_NONBLOCK) != 0, "tap: descriptor is non-blocking", "blocking");
	memset(&ifr, 0, sizeof(ifr));
	T_CHECK(sioc(SIOCGIFTXQLEN, &ifr, "pvtap0") == 0 && ifr.ifr_qlen == TAP_TXQLEN,
		"tap: txqueuelen TAP_TXQLEN (4096), not the tun default", "qlen %d", ifr.ifr_qlen);
	T_EQ(tap_set_offload(&t, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6), 0, "tap: TUNSETOFFLOAD CSUM|TSO4|TSO6");
	T_CHECK(ethtool_get("pvtap0", ETHTOOL_GTXCSUM) == 1 && ethtool_get("pvtap0", ETHTOOL_GTSO) == 1,
		"tap: the device shows TX checksum and TSO on", "txcsum %d tso %d",
		ethtool_get("pvtap0", ETHTOOL_GTXCSUM), ethtool_get("pvtap0", ETHTOOL_GTSO));
	T_CHECK(tap_set_mtu(&t, 9000) == 0 && tap_get_mtu(&t, &mtu) == 0 && mtu == 9000,
		"tap: MTU 9000 set", "mtu %u", mtu);
	T_CHECK(tap_set_mtu(&t, 1500) == 0, "tap: MTU back to 1500", "failed");
	T_CHECK(tap_set_mac(&t, mac) == 0 && tap_get_mac(&t, got) == 0 && !memcmp(got, mac, 6),
		"tap: MAC 00:16:3e:01:02:03 set", "%02x:%02x", got[4], got[5]);
	T_EQ(tap_set_up(&t, 1), 0, "tap: brought up");
	T_CHECK(set_addr("pvtap0", "10.9.8.1") == 0, "tap: address 10.9.8.1/24", "%s", strerror(errno));
	T_CHECK(wait_running("pvtap0", 1), "tap: running with carrier", "not running");
	T_EQ(tap_set_carrier(&t, 0), 0, "tap: TUNSETCARRIER off");
	T_CHECK(wait_running("pvtap0", 0), "tap: carrier off seen by the stack", "still running");
	tap_set_carrier(&t, 1);
	T_CHECK(wait_running("pvtap0", 1), "tap: carrier back on", "not running");
	tap_arp(&t, buf);
	tap_udp_csum(&t, buf);
	tap_tso(&t, buf);
	/* pvtap0 still exists: a second device of that name is refused */
	{
		struct pv_tap t2;

		T_EQ(tap_open_nocarrier(&t2, "pvtap0"), -EEXIST, "tap: nocarrier: an existing name: -EEXIST");
		T_EQ(tap_open_nocarrier(&t2, "pvx%d"), -EINVAL, "tap: nocarrier: a '%d' pattern: -EINVAL");
		T_EQ(tap_open_nocarrier(&t2, "pvquiet0"), 0, "tap: nocarrier: created as pvquiet0");
		T_CHECK(!strcmp(t2.ifname, "pvquiet0") && if_nametoindex("pvquiet0") && !if_nametoindex("pvtmp0"),
			"tap: nocarrier: renamed, no temporary name left", "ifname %s", t2.ifname);
		T_EQ(tap_set_up(&t2, 1), 0, "tap: nocarrier: brought up");
		usleep(50000);
		T_CHECK(wait_running("pvquiet0", 0), "tap: nocarrier: up but no carrier (not running) from birth",
			"running");
		tap_set_carrier(&t2, 1);
		T_CHECK(wait_running("pvquiet0", 1), "tap: nocarrier: running once its owner says so", "not running");
		tap_close(&t2);
	}
	tap_close(&t);
	return t_done();
}

static void test_tap_device(void)
{
	int status = 0;
	pid_t pid;

	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		T_SKIP("tap device tests", "need root and /dev/net/tun");
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0) {
			T_SKIP("tap device tests", "unshare(CLONE_NEWNET) failed");
			_exit(0);
		}
		_exit(tap_child());
	}
	waitpid(pid, &status, 0);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "tap: namespace child passed", "status %#x", status);
}

int main(void)
{
	test_vh_to_tx();
	test_tx_layout();
	test_rx_to_vh();
	test_roundtrip();
	test_misc();
	test_tap_device();
	return t_done();
}
