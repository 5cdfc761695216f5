/* SPDX-License-Identifier: MIT */
/*
 * pvnet_tcp_xfer.c - libpvnet's TCP test program (tests/integration/libpvnet_tcp.sh,
 * bench/libpvnet.sh).  BROKER is pvnet-broker's socket.
 *
 *   send BROKER IP:PORT FILE     libpvnet: connect, send FILE, close; "sent N"
 *   recv BROKER PORT FILE        libpvnet: listen on PORT, "ready", accept one
 *                                connection, write what it brings to FILE until
 *                                the peer's FIN, close; "got N from IP:PORT"
 *   ksend IP:PORT FILE           the same two over kernel sockets
 *   krecv PORT FILE
 *   refused BROKER IP:PORT       libpvnet: connect where nobody listens:
 *                                "connect: <error>"
 *   bind BROKER PORT             "bind: ok PORT" or "bind: <error>"
 *   nonblock BROKER IP:PORT      libpvnet, non-blocking: connect (EINPROGRESS),
 *                                wait for POLLOUT by pvnet_tcp_events, recv
 *                                with nothing there (EAGAIN), accept on a
 *                                socket not listening (EINVAL); one line each
 *
 * The libpvnet modes print the stack's counters on stderr at the end;
 * with "-t" before the mode, the transfer's Mbit/s too.
 * Exit status: 0 done, 1 failure (said why), 2 usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pvnet/libpvnet.h"

#define CHUNK 65536

static int timed;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

static void print_stats(struct pvnet_stack *st)
{
	struct pvnet_stack_stats s;

	pvnet_stack_stats(st, &s);
	fprintf(stderr, "stack: rx_tcp=%llu tx_tcp=%llu tx_tcp_no_buf=%llu rx_bad=%llu tx_errors=%llu\n",
		(unsigned long long)s.rx_tcp, (unsigned long long)s.tx_tcp,
		(unsigned long long)s.tx_tcp_no_buf, (unsigned long long)s.rx_bad,
		(unsigned long long)s.tx_errors);
}

static void rate(size_t bytes, double t0)
{
	if (timed)
		printf("mbit_s=%.1f\n", (double)bytes * 8 / (now_s() - t0) / 1e6);
}

static int open_stack(const char *broker, struct pvnet_stack **st, struct pvnet_tcp **s)
{
	int rc = pvnet_stack_open(st, broker, 0);

	if (rc) {
		fprintf(stderr, "stack open: %s\n", strerror(-rc));
		return -1;
	}
	rc = pvnet_tcp_open(*st, s);
	if (rc) {
		fprintf(stderr, "tcp open: %s\n", strerror(-rc));
		pvnet_stack_close(*st);
		return -1;
	}
	return 0;
}

static int do_send(const char *broker, const char *to, const char *file)
{
	struct sockaddr_in a;
	struct pvnet_stack *st;
	struct pvnet_tcp *s;
	static char buf[CHUNK];
	size_t total = 0;
	double t0;
	ssize_t n;
	int fd, rc;

	if (parse_addr(to, &a) || (fd = open(file, O_RDONLY)) < 0)
		return 2;
	if (open_stack(broker, &st, &s))
		return 1;
	rc = pvnet_tcp_connect(s, &a);
	if (rc) {
		printf("connect: %s\n", strerror(-rc));
		pvnet_stack_close(st);
		return 1;
	}
	t0 = now_s();
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		ssize_t w = pvnet_tcp_send(s, buf, (size_t)n, 0);

		if (w != n) {
			printf("send: %s after %zu\n", w < 0 ? strerror((int)-w) : "short", total);
			pvnet_stack_close(st);
			return 1;
		}
		total += (size_t)n;
	}
	close(fd);
	pvnet_tcp_close(s);
	rate(total, t0);
	print_stats(st);
	pvnet_stack_close(st);
	printf("sent %zu\n", total);
	return 0;
}

static int do_recv(const char *broker, int port, const char *file)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) }, from;
	struct pvnet_stack *st;
	struct pvnet_tcp *l, *c;
	static char buf[CHUNK];
	size_t total = 0;
	double t0;
	ssize_t n;
	int fd, rc;

	if ((fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		return 2;
	if (open_stack(broker, &st, &l))
		return 1;
	if ((rc = pvnet_tcp_bind(l, &a)) || (rc = pvnet_tcp_listen(l, 4))) {
		printf("listen: %s\n", strerror(-rc));
		pvnet_stack_close(st);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	rc = pvnet_tcp_accept(l, &c, &from);
	if (rc) {
		printf("accept: %s\n", strerror(-rc));
		pvnet_stack_close(st);
		return 1;
	}
	t0 = now_s();
	while ((n = pvnet_tcp_recv(c, buf, sizeof(buf), 0)) > 0) {
		if (write(fd, buf, (size_t)n) != n)
			return 1;
		total += (size_t)n;
	}
	close(fd);
	if (n < 0)
		printf("recv: %s after %zu\n", strerror((int)-n), total);
	pvnet_tcp_close(c);
	pvnet_tcp_close(l);
	rate(total, t0);
	print_stats(st);
	pvnet_stack_close(st);
	printf("got %zu from %s:%u\n", total, inet_ntoa(from.sin_addr), ntohs(from.sin_port));
	return n < 0;
}

static int do_ksend(const char *to, const char *file)
{
	struct sockaddr_in a;
	static char buf[CHUNK];
	size_t total = 0;
	double t0;
	ssize_t n;
	int fd, s;

	if (parse_addr(to, &a) || (fd = open(file, O_RDONLY)) < 0)
		return 2;
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		printf("connect: %s\n", strerror(errno));
		return 1;
	}
	t0 = now_s();
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (send(s, buf, (size_t)n, MSG_NOSIGNAL) != n) {
			printf("send: %s\n", strerror(errno));
			return 1;
		}
		total += (size_t)n;
	}
	shutdown(s, SHUT_WR);
	while (recv(s, buf, sizeof(buf), 0) > 0)
		;	/* the peer's FIN: it has everything */
	close(s);
	rate(total, t0);
	printf("sent %zu\n", total);
	return 0;
}

static int do_krecv(int port, const char *file)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static char buf[CHUNK];
	size_t total = 0;
	double t0;
	ssize_t n;
	int fd, l, c, one = 1;

	if ((fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		return 2;
	l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0) {
		printf("listen: %s\n", strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	c = accept(l, NULL, NULL);
	if (c < 0)
		return 1;
	t0 = now_s();
	while ((n = recv(c, buf, sizeof(buf), 0)) > 0) {
		if (write(fd, buf, (size_t)n) != n)
			return 1;
		total += (size_t)n;
	}
	close(fd);
	close(c);
	close(l);
	rate(total, t0);
	printf("got %zu\n", total);
	return n < 0;
}

static int do_refused(const char *broker, const char *to)
{
	struct sockaddr_in a;
	struct pvnet_stack *st;
	struct pvnet_tcp *s;
	int rc;

	if (parse_addr(to, &a))
		return 2;
	if (open_stack(broker, &st, &s))
		return 1;
	pvnet_tcp_set_timeout(s, 5000);
	rc = pvnet_tcp_connect(s, &a);
	printf("connect: %s\n", rc ? strerror(-rc) : "ok");
	pvnet_stack_close(st);
	return 0;
}

static int do_bind(const char *broker, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) }, b;
	struct pvnet_stack *st;
	struct pvnet_tcp *s;
	int rc;

	if (open_stack(broker, &st, &s))
		return 1;
	rc = pvnet_tcp_bind(s, &a);
	pvnet_tcp_name(s, &b, NULL);
	if (rc)
		printf("bind: %s\n", strerror(-rc));
	else
		printf("bind: ok %u\n", ntohs(b.sin_port));
	pvnet_stack_close(st);
	return 0;
}

static int do_nonblock(const char *broker, const char *to)
{
	struct sockaddr_in a;
	struct pvnet_stack *st;
	struct pvnet_tcp *s, *c;
	char b[16];
	int rc, ev = 0;

	if (parse_addr(to, &a))
		return 2;
	if (open_stack(broker, &st, &s))
		return 1;
	pvnet_tcp_set_nonblock(s, true);
	rc = pvnet_tcp_connect(s, &a);
	printf("connect: %s\n", rc ? strerror(-rc) : "ok");
	for (int i = 0; i < 5000 && !(ev & (POLLOUT | POLLERR)); i++) {
		ev = pvnet_tcp_events(s);
		if (!(ev & (POLLOUT | POLLERR)))
			pvnet_vi_wait(pvnet_stack_vi(st), 1);
	}
	printf("events: %s%s\n", ev & POLLOUT ? "POLLOUT" : "", ev & POLLERR ? "POLLERR" : "");
	rc = pvnet_tcp_connect(s, &a);
	printf("connect again: %s\n", rc ? strerror(-rc) : "ok");
	rc = (int)pvnet_tcp_recv(s, b, sizeof(b), 0);
	printf("recv: %s\n", rc < 0 ? strerror(-rc) : "data");
	rc = pvnet_tcp_accept(s, &c, NULL);
	printf("accept: %s\n", rc < 0 ? strerror(-rc) : "ok");
	pvnet_stack_close(st);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "-t")) {
		timed = 1;
		argv++;
		argc--;
	}
	if (argc == 5 && !strcmp(argv[1], "send"))
		return do_send(argv[2], argv[3], argv[4]);
	if (argc == 5 && !strcmp(argv[1], "recv"))
		return do_recv(argv[2], atoi(argv[3]), argv[4]);
	if (argc == 4 && !strcmp(argv[1], "ksend"))
		return do_ksend(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "krecv"))
		return do_krecv(atoi(argv[2]), argv[3]);
	if (argc == 4 && !strcmp(argv[1], "refused"))
		return do_refused(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "bind"))
		return do_bind(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "nonblock"))
		return do_nonblock(argv[2], argv[3]);
	fprintf(stderr, "usage: see the top of tests/helpers/pvnet_tcp_xfer.c\n");
	return 2;
}
