/* SPDX-License-Identifier: MIT */
/*
 * spoof_send.c - what a guest's root sends to take another guest's
 * address: well-formed frames (checksums right: a receiver would take
 * them) out of one interface through AF_PACKET.
 *
 *   spoof_send [-n COUNT] [-i MS] IFNAME KIND SMAC DMAC ARGS...
 *
 *   arp-reply SMAC DMAC SIP DIP   ARP reply "SIP is at SMAC" to DIP
 *   arp-grat  SMAC DMAC IP        gratuitous ARP request "IP is at SMAC"
 *   ipv4      SMAC DMAC SIP DIP   UDP 9999 -> 9 from SIP
 *   ipv6      SMAC DMAC SIP DIP   UDP 9999 -> 9 from SIP (IPv6)
 *   na        SMAC DMAC SIP DIP TARGET
 *                                 unsolicited Neighbour Advertisement
 *                                 (override) "TARGET is at SMAC" (TLLA SMAC)
 *
 * COUNT frames (default 20), -i MS apart (default 10).  Exits 0 when all
 * went out (sent is not delivered: the host decides that), 1 otherwise,
 * 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/pkt.h"

static int parse_mac(const char *s, uint8_t m[6])
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)b[i];
	return 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t mk_arp(uint8_t *f, uint16_t op, const uint8_t *smac, const char *sip,
		     const uint8_t *tmac, const char *tip)
{
	uint8_t *a = f + 14;

	put16(f + 12, ETH_P_ARP);
	put16(a, 1);
	put16(a + 2, ETH_P_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, smac, 6);
	if (inet_pton(AF_INET, sip, a + 14) != 1 || inet_pton(AF_INET, tip, a + 24) != 1)
		return 0;
	memcpy(a + 18, tmac, 6);
	return 60;
}

static size_t mk_ipv4(uint8_t *f, const char *sip, const char *dip)
{
	uint8_t *ip = f + 14, *u = ip + 20;

	put16(f + 12, ETH_P_IP);
	ip[0] = 0x45;
	put16(ip + 2, 20 + 8 + 18);
	ip[8] = 64;
	ip[9] = 17;
	if (inet_pton(AF_INET, sip, ip + 12) != 1 || inet_pton(AF_INET, dip, ip + 16) != 1)
		return 0;
	put16(ip + 10, pv_pkt_csum_fold(pv_pkt_csum_add(0, ip, 20)));
	put16(u, 9999);
	put16(u + 2, 9);
	put16(u + 4, 8 + 18);
	memcpy(u + 8, "pvnet spoof test!", 18);	/* UDP checksum 0: none (IPv4) */
	return 14 + 20 + 8 + 18;
}

/* IPv6 header and an upper-layer payload of @pl bytes with its checksum at @csum_off. */
static size_t mk_ipv6(uint8_t *f, const char *sip, const char *dip, uint8_t nh, uint16_t pl,
		      uint16_t csum_off)
{
	uint8_t *ip = f + 14, *l4 = ip + 40, ph[8] = { 0 };
	uint32_t s;

	put16(f + 12, ETH_P_IPV6);
	ip[0] = 0x60;
	put16(ip + 4, pl);
	ip[6] = nh;
	ip[7] = 255;
	if (inet_pton(AF_INET6, sip, ip + 8) != 1 || inet_pton(AF_INET6, dip, ip + 24) != 1)
		return 0;
	put16(ph + 2, pl);
	ph[7] = nh;
	s = pv_pkt_csum_add(0, ip + 8, 32);
	s = pv_pkt_csum_add(s, ph, 8);
	s = pv_pkt_csum_add(s, l4, pl);
	put16(l4 + csum_off, pv_pkt_csum_fold(s));
	return 14 + 40 + pl;
}

static size_t mk_frame(uint8_t *f, int argc, char **argv, const uint8_t *smac, const uint8_t *dmac)
{
	const char *k = argv[0];
	uint8_t *l4 = f + 14 + 40;

	if (!strcmp(k, "arp-reply") && argc == 5)
		return mk_arp(f, 2, smac, argv[3], dmac, argv[4]);
	if (!strcmp(k, "arp-grat") && argc == 4)
		return mk_arp(f, 1, smac, argv[3], (const uint8_t[6]){ 0 }, argv[3]);
	if (!strcmp(k, "ipv4") && argc == 5)
		return mk_ipv4(f, argv[3], argv[4]);
	if (!strcmp(k, "ipv6") && argc == 5) {
		put16(l4, 9999);
		put16(l4 + 2, 9);
		put16(l4 + 4, 8 + 18);
		memcpy(l4 + 8, "pvnet spoof test!", 18);
		return mk_ipv6(f, argv[3], argv[4], 17, 8 + 18, 6);
	}
	if (!strcmp(k, "na") && argc == 6) {
		l4[0] = 136;
		l4[4] = 0x20;	/* override */
		if (inet_pton(AF_INET6, argv[5], l4 + 8) != 1)
			return 0;
		l4[24] = 2;	/* target link-layer address */
		l4[25] = 1;
		memcpy(l4 + 26, smac, 6);
		return mk_ipv6(f, argv[3], argv[4], 58, 32, 2);
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int count = 20, ms = 10;
	uint8_t frame[128] = { 0 }, smac[6], dmac[6];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	size_t len;
	int opt, fd;

	while ((opt = getopt(argc, argv, "n:i:")) != -1) {
		if (opt == 'n')
			count = (unsigned int)strtoul(optarg, NULL, 10);
		else if (opt == 'i')
			ms = (unsigned int)strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (argc - optind < 4 || parse_mac(argv[optind + 2], smac) < 0 ||
	    parse_mac(argv[optind + 3], dmac) < 0) {
		fprintf(stderr, "usage: spoof_send [-n COUNT] [-i MS] IFNAME KIND SMAC DMAC ARGS...\n");
		return 2;
	}
	memcpy(frame, dmac, 6);
	memcpy(frame + 6, smac, 6);
	/* argv from KIND: KIND SMAC DMAC ARGS...; ARGS at 3.. */
	len = mk_frame(frame, argc - optind - 1, argv + optind + 1, smac, dmac);
	if (!len) {
		fprintf(stderr, "spoof_send: bad KIND or arguments\n");
		return 2;
	}
	if (len < 60)
		len = 60;
	sll.sll_ifindex = (int)if_nametoindex(argv[optind]);
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, dmac, 6);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (!sll.sll_ifindex || fd < 0) {
		perror("spoof_send: socket/interface");
		return 1;
	}
	for (unsigned int i = 0; i < count; i++) {
		struct timespec ts = { 0, (long)ms * 1000000L };

		if (sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) != (ssize_t)len) {
			perror("spoof_send: sendto");
			return 1;
		}
		nanosleep(&ts, NULL);
	}
	close(fd);
	return 0;
}
