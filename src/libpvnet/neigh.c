/* SPDX-License-Identifier: MIT */
/*
 * neigh.c - next-hop MACs from the kernel's tables, as Onload does: the
 * route to a destination (RTM_GETROUTE: gateway or on-link, and the
 * interface), then the neighbour entry of that next hop (RTM_GETNEIGH).
 * The application shares the host's address, so the kernel's ARP is ours
 * too.  When the kernel has no entry, nothing unprivileged can add one:
 * a kernel UDP datagram to the destination's discard port (9) makes the
 * kernel resolve the next hop, and we ask again.  (That datagram reaches
 * the destination, which drops it or answers ICMP port unreachable to
 * the kernel.)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "libpvnet/internal.h"

#define NL_BUF	16384

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

/* Receive one datagram of replies (1 s at most); bytes or -errno. */
static ssize_t nl_recv(int fd, void *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 1000) <= 0)
		return -ETIMEDOUT;
	n = recv(fd, buf, len, 0);
	return n < 0 ? -errno : n;
}

/* The route to @dst: *nexthop (the gateway, or @dst on-link) and *oif. */
static int nl_route(int fd, uint32_t dst, uint32_t *nexthop, int *oif)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		struct rtattr ra;
		uint32_t dst;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETROUTE,
			.nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
		.rt = { .rtm_family = AF_INET, .rtm_dst_len = 32 },
		.ra = { .rta_len = RTA_LENGTH(4), .rta_type = RTA_DST },
		.dst = dst,
	};
	static __thread char buf[NL_BUF];	/* per thread: no state shared by handles */
	ssize_t n;

	if (send(fd, &req, sizeof(req), 0) < 0)
		return -errno;
	n = nl_recv(fd, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	*nexthop = dst;
	*oif = 0;
	for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		struct rtmsg *rt = NLMSG_DATA(h);
		int alen;

		if (h->nlmsg_type == NLMSG_ERROR)
			return -EHOSTUNREACH;
		if (h->nlmsg_type != RTM_NEWROUTE)
			continue;
		alen = (int)RTM_PAYLOAD(h);
		for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
			if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == 4)
				memcpy(nexthop, RTA_DATA(a), 4);
			else if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4)
				memcpy(oif, RTA_DATA(a), 4);
		}
		return *oif ? 0 : -EHOSTUNREACH;
	}
	return -EHOSTUNREACH;
}

/*
 * Scan one datagram of an RTM_GETNEIGH dump for a usable entry of @ip on
 * @oif (the first one found wins: *found).  Return: true at the dump's end.
 */
static bool nl_neigh_scan(struct nlmsghdr *h, ssize_t n, uint32_t ip, int oif, uint8_t mac[6],
			  bool *found)
{
	const uint16_t ok = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;

	for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		struct ndmsg *nd = NLMSG_DATA(h);
		const uint8_t *ll = NULL;
		int alen;
		bool hit = false;

		if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
			return true;
		if (*found || h->nlmsg_type != RTM_NEWNEIGH || nd->ndm_family != AF_INET ||
		    nd->ndm_ifindex != oif || !(nd->ndm_state & ok))
			continue;
		alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*nd)));
		for (struct rtattr *a = (struct rtattr *)(nd + 1); RTA_OK(a, alen);
		     a = RTA_NEXT(a, alen)) {
			if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == 4 &&
			    !memcmp(RTA_DATA(a), &ip, 4))
				hit = true;
			else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6)
				ll = RTA_DATA(a);
		}
		if (hit && ll) {
			memcpy(mac, ll, 6);
			*found = true;
		}
	}
	return false;
}

/* The kernel's neighbour entry for @ip on @oif: 0, -ENOENT, -errno. */
static int nl_neigh(int fd, uint32_t ip, int oif, uint8_t mac[6])
{
	struct {
		struct nlmsghdr nh;
		struct ndmsg nd;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETNEIGH,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 2 },
		.nd = { .ndm_family = AF_INET },
	};
	static __thread char buf[NL_BUF];
	bool found = false, done = false;

	if (send(fd, &req, sizeof(req), 0) < 0)
		return -errno;
	/* Read the whole dump (to NLMSG_DONE): the socket must be empty for the next request. */
	while (!done) {
		ssize_t n = nl_recv(fd, buf, sizeof(buf));

		if (n < 0)
			return (int)n;
		done = nl_neigh_scan((struct nlmsghdr *)buf, n, ip, oif, mac, &found);
	}
	return found ? 0 : -ENOENT;
}

/* Make the kernel resolve the next hop towards @dst: one datagram to its port 9. */
static void neigh_trigger(uint32_t dst, uint32_t src)
{
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr.s_addr = src };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = dst,
				  .sin_port = htons(9) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return;
	if (bind(fd, (struct sockaddr *)&from, sizeof(from)) == 0 &&
	    sendto(fd, "", 0, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		/* nothing to do: we ask the table again either way */
	}
	close(fd);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int lp_neigh_resolve(uint32_t dst, uint32_t src, uint8_t mac[6], int timeout_ms,
		     struct lp_neigh_counters *cnt)
{
	long end = now_ms() + timeout_ms, next_trigger = 0;
	uint32_t nh = dst;
	int oif = 0, rc, fd = nl_open();

	if (fd < 0)
		return fd;
	rc = nl_route(fd, dst, &nh, &oif);
	while (!rc) {
		cnt->lookups++;
		rc = nl_neigh(fd, nh, oif, mac);
		if (rc != -ENOENT)
			break;
		if (now_ms() >= end) {
			rc = -EHOSTUNREACH;
			break;
		}
		if (now_ms() >= next_trigger) {
			cnt->triggers++;
			neigh_trigger(dst, src);
			next_trigger = now_ms() + 200;
		}
		usleep(5000);
		rc = 0;
	}
	close(fd);
	return rc;
}
