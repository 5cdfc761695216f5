/* SPDX-License-Identifier: MIT */
/*
 * macflood.c - send COUNT Ethernet frames, each with a different random
 * unicast source MAC, out of one interface through AF_PACKET (BADINPUTS
 * class 20: random source MACs filling a bridge's MAC table).
 *
 *   macflood [-d DSTMAC] [-S SRCMAC] [-r PPS] [-s SEED] IFNAME COUNT
 *
 * Frames are 60 bytes, EtherType 0x88b5 (IEEE local experimental), sent to
 * DSTMAC (default ff:ff:ff:ff:ff:ff).  Source MACs are locally administered
 * unicast (02:..), never repeated within one run; -S fixes one instead
 * (then it is just a frame generator, e.g. to reach one MAC).  -r paces the sending
 * (frames per second, default 20000; 0: as fast as the socket takes them).
 * Prints "sent N" and exits 0 when all COUNT frames went out.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -1;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: macflood [-d DSTMAC] [-S SRCMAC] [-r PPS] [-s SEED] IFNAME COUNT\n");
	exit(2);
}

static void sleep_ns(long ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	uint8_t dst[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, src[6], frame[60];
	int fixed_src = 0;
	unsigned long count, pps = 20000, sent = 0;
	struct sockaddr_ll sll;
	unsigned int ifindex;
	int opt, fd;
	char *end;

	rng_state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
	while ((opt = getopt(argc, argv, "d:S:r:s:")) != -1) {
		switch (opt) {
		case 'd':
			if (parse_mac(optarg, dst) < 0)
				usage();
			break;
		case 'S':
			if (parse_mac(optarg, src) < 0)
				usage();
			fixed_src = 1;
			break;
		case 'r':
			pps = strtoul(optarg, &end, 10);
			if (*end)
				usage();
			break;
		case 's':
			rng_state = strtoull(optarg, &end, 0) | 1;
			if (*end)
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	ifindex = if_nametoindex(argv[optind]);
	count = strtoul(argv[optind + 1], &end, 10);
	if (!ifindex || *end) {
		fprintf(stderr, "macflood: no interface %s, or bad count\n", argv[optind]);
		return 2;
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0) {
		perror("macflood: socket(AF_PACKET)");
		return 1;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)ifindex;
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, dst, 6);

	memset(frame, 0, sizeof(frame));
	memcpy(frame, dst, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	while (sent < count) {
		uint64_t r = rng();

		/* Locally administered unicast, and the index in the low bytes: all distinct. */
		frame[6] = (uint8_t)(((r >> 8) & 0xfc) | 0x02);
		frame[7] = (uint8_t)(r >> 16);
		frame[8] = (uint8_t)(sent >> 24);
		frame[9] = (uint8_t)(sent >> 16);
		frame[10] = (uint8_t)(sent >> 8);
		frame[11] = (uint8_t)sent;
		if (fixed_src)
			memcpy(frame + 6, src, 6);
		memcpy(frame + 14, &sent, sizeof(sent));
		if (sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
				sleep_ns(200000);
				continue;
			}
			perror("macflood: sendto");
			break;
		}
		sent++;
		if (pps && sent % 10 == 0)
			sleep_ns((long)(10 * 1000000000ull / pps));
	}
	close(fd);
	printf("sent %lu\n", sent);
	return sent == count ? 0 : 1;
}
