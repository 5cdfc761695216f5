/* SPDX-License-Identifier: MIT */
/*
 * preload_mix.c - a plain kernel-API program for tests/integration/preload.sh,
 * run under libpvnet-preload.so: an AF_INET UDP socket (accelerated) and a
 * Unix socketpair (the kernel's) waited for in one call.
 *
 *   poll|select|epoll IP:PORT  send "hello" to an echo server at IP:PORT, put
 *                              a byte in the socketpair, wait for both with
 *                              that call; one line "unix: ok; udp: ok; both
 *                              ready: ok" (or what failed)
 *   bind7000 IP:PORT           bind UDP port 7000 (outside the test's policy:
 *                              the kernel's), echo once; "udp: ok"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *c = strrchr(s, ':');

	if (!c || (size_t)(c - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(c - s));
	host[c - s] = 0;
	*a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(c + 1)) };
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

/* Wait once with @how: bit 0 @u readable, bit 1 @x readable; -1 error. */
static int wait_once(const char *how, int u, int x, int ep)
{
	int r = 0;

	if (!strcmp(how, "poll")) {
		struct pollfd p[2] = { { .fd = u, .events = POLLIN }, { .fd = x, .events = POLLIN } };

		if (poll(p, 2, 500) < 0)
			return -1;
		r = (p[0].revents & POLLIN ? 1 : 0) | (p[1].revents & POLLIN ? 2 : 0);
	} else if (!strcmp(how, "select")) {
		fd_set rs;
		struct timeval tv = { 0, 500000 };

		FD_ZERO(&rs);
		FD_SET(u, &rs);
		FD_SET(x, &rs);
		if (select((u > x ? u : x) + 1, &rs, NULL, NULL, &tv) < 0)
			return -1;
		r = (FD_ISSET(u, &rs) ? 1 : 0) | (FD_ISSET(x, &rs) ? 2 : 0);
	} else {
		struct epoll_event ev[4];
		int n = epoll_wait(ep, ev, 4, 500);

		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++)
			r |= ev[i].data.fd == u ? 1 : ev[i].data.fd == x ? 2 : 0;
	}
	return r;
}

int main(int argc, char **argv)
{
	struct sockaddr_in to, from;
	socklen_t fl = sizeof(from);
	char buf[64];
	int u, sv[2], seen = 0, ep = -1;
	time_t end = time(NULL) + 5;
	ssize_t n;

	if (argc != 3 || parse_addr(argv[2], &to))
		return 2;
	u = socket(AF_INET, SOCK_DGRAM, 0);
	if (u < 0)
		return 1;
	if (!strcmp(argv[1], "bind7000")) {
		struct sockaddr_in b = { .sin_family = AF_INET, .sin_port = htons(7000) };
		struct timeval tv = { 3, 0 };

		if (bind(u, (struct sockaddr *)&b, sizeof(b)) < 0) {
			perror("bind");
			return 1;
		}
		setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		sendto(u, "hello", 5, 0, (struct sockaddr *)&to, sizeof(to));
		n = recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		printf("udp: %s\n", n == 5 && !memcmp(buf, "hello", 5) ? "ok" : "no echo");
		return n != 5;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 1;
	if (sendto(u, "hello", 5, 0, (struct sockaddr *)&to, sizeof(to)) != 5) {
		perror("sendto");
		return 1;
	}
	if (write(sv[1], "x", 1) != 1)
		return 1;
	if (!strcmp(argv[1], "epoll")) {
		struct epoll_event e1 = { .events = EPOLLIN, .data.fd = u };
		struct epoll_event e2 = { .events = EPOLLIN, .data.fd = sv[0] };

		ep = epoll_create1(0);
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, u, &e1) < 0 ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &e2) < 0) {
			perror("epoll");
			return 1;
		}
	}
	while (seen != 3 && time(NULL) < end) {
		int r = wait_once(argv[1], u, sv[0], ep);

		if (r < 0) {
			perror(argv[1]);
			return 1;
		}
		seen |= r;
	}
	n = read(sv[0], buf, 1);
	printf("unix: %s; ", n == 1 && buf[0] == 'x' ? "ok" : "bad");
	n = (seen & 1) ? recvfrom(u, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl) : -1;
	printf("udp: %s; ", n == 5 && !memcmp(buf, "hello", 5) ? "ok" : "no echo");
	printf("both ready: %s\n", seen == 3 ? "ok" : seen == 1 ? "udp only" : seen == 2 ? "unix only" : "none");
	close(u);
	close(sv[0]);
	close(sv[1]);
	if (ep >= 0)
		close(ep);
	return seen != 3;
}
