/* SPDX-License-Identifier: MIT */
/*
 * pvnet_udp_echo.c - libpvnet's test program (tests/integration/libpvnet.sh).
 * The first word says which side; BROKER is pvnet-broker's socket.
 *
 *   server BROKER PORT COUNT        libpvnet UDP echo server on PORT: echo COUNT
 *                                   datagrams (0: until killed), then exit
 *   client BROKER PORT IP:PORT N SIZE
 *                                   libpvnet client from PORT: N datagrams of SIZE
 *                                   bytes, each echo checked; "ok N/N"
 *   recv BROKER PORT N MS           print the first N datagrams' payloads, one a
 *                                   line; give up after MS ms without one
 *   bind BROKER PORT                bind PORT; "bind: ok PORT" (the port bound:
 *                                   PORT 0 asks for one) or "bind: <error>"
 *   hold BROKER PORT                bind PORT, say "ready", sleep (to be killed)
 *   spoof BROKER IP:PORT            layer 1: with a filter on UDP port 5050, send
 *                                   one frame from another source IPv4, one from
 *                                   ours but port 5051 (no filter of ours), one
 *                                   from another source MAC, one from ours and
 *                                   5050; print the events and the NIC's
 *                                   tx_spoofed and tx_frames
 *   dbflood BROKER MS               a hostile app: open a VI and, for MS ms, write
 *                                   every eventfd of the process (the VI's
 *                                   doorbell among them) as fast as it can, with
 *                                   nothing posted; "written=W doorbells=D
 *                                   tx_frames=T" (D: what the NIC counted)
 *   l1echo BROKER PORT COUNT        layer 1 only (the VI API, no UDP layer): a
 *                                   filter on PORT, RX buffers posted, wait, and
 *                                   each frame sent back from the buffer it came
 *                                   in, addresses swapped; COUNT frames, then
 *                                   "l1 rx=R tx_done=T"
 *   sendexit BROKER PORT IP:PORT N  N times: open a stack, send one datagram,
 *                                   close at once; "sent N/N" (close must not
 *                                   drop what was sent)
 *   kcount PORT MS                  a kernel receiver: count datagrams until MS
 *                                   ms pass without one; "ready", then "got N"
 *   nonblock BROKER PORT            receive with nothing there: non-blocking,
 *                                   MSG_DONTWAIT, and a 300 ms timeout;
 *                                   "nonblock: E in Tms" etc. (E: the error)
 *   cycle BROKER PORT N             N times: open a stack, bind PORT, close it;
 *                                   "cycles N/N"
 *   steal BROKER N                  layer 1: post a TX descriptor for each buffer
 *                                   id 0 .. N-1 that is not its own (another
 *                                   app's, or none); count the events:
 *                                   "refused=R of=P sent=S"
 *   badreq BROKER                   a raw broker client (no libpvnet) asking what
 *                                   it must not get: memory that is not a sealed
 *                                   memfd of whole pages, the VI's own rings,
 *                                   chunks past the end, buffers past the policy,
 *                                   malformed requests; one "case: result" a line
 *   pingpong BROKER PORT IP:PORT N SIZE
 *                                   libpvnet: N round trips of SIZE bytes to an
 *                                   echo server (after 100 to warm up); prints
 *                                   "rtt_us n=N p50=.. p99=.. p999=.. lost=.."
 *                                   and the process's CPU seconds ($PVNET_SPIN_US:
 *                                   spin mode)
 *   kpingpong IP:PORT N SIZE        the same over a kernel UDP socket
 *   kecho PORT COUNT [reuse]        a kernel UDP echo server (the external host;
 *                                   reuse: with SO_REUSEADDR, which would let a
 *                                   second socket bind its port)
 *   kclient IP:PORT N SIZE [SRCPORT] a kernel UDP client: "ok N/N"
 *
 * Every libpvnet mode prints its stack's counters on stderr at the end.
 * Exit status: 0 done, 1 failure (said why), 2 usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pvnet/broker.h"
#include "pvnet/libpvnet.h"
#include "lib/seqpacket_call.h"
#include "lib/unix.h"

static double pp_now_us(void);

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	*a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static void print_stats(struct pvnet_stack *st)
{
	struct pvnet_stack_stats s;

	pvnet_stack_stats(st, &s);
	fprintf(stderr, "stack: rx_delivered=%" PRIu64 " rx_no_socket=%" PRIu64
		" rx_not_peer=%" PRIu64 " rx_queue_full=%" PRIu64 " rx_bad=%" PRIu64
		" rx_errors=%" PRIu64 " tx_sent=%" PRIu64 " tx_done=%" PRIu64
		" tx_errors=%" PRIu64 " neigh_lookups=%" PRIu64 " neigh_triggers=%" PRIu64 "\n",
		s.rx_delivered, s.rx_no_socket, s.rx_not_peer, s.rx_queue_full, s.rx_bad,
		s.rx_errors, s.tx_sent, s.tx_done, s.tx_errors, s.neigh_lookups, s.neigh_triggers);
}

/* A stack and one socket bound to @port; exits on failure. */
static struct pvnet_udp *open_bound(const char *broker, int port, struct pvnet_stack **st)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct pvnet_udp *s;
	int rc = pvnet_stack_open(st, broker, 0);

	if (rc) {
		fprintf(stderr, "pvnet_stack_open: %s\n", strerror(-rc));
		exit(1);
	}
	if ((rc = pvnet_udp_open(*st, &s)) || (rc = pvnet_udp_bind(s, &a))) {
		fprintf(stderr, "bind %d: %s\n", port, strerror(-rc));
		pvnet_stack_close(*st);
		exit(1);
	}
	return s;
}

static int do_server(const char *broker, int port, long count)
{
	struct pvnet_stack *st;
	struct pvnet_udp *s = open_bound(broker, port, &st);
	char buf[2048];

	printf("ready\n");
	fflush(stdout);
	for (long i = 0; count == 0 || i < count; i++) {
		struct sockaddr_in from;
		ssize_t n = pvnet_udp_recvfrom(s, buf, sizeof(buf), 0, &from);

		if (n < 0) {
			fprintf(stderr, "recvfrom: %s\n", strerror((int)-n));
			break;
		}
		n = pvnet_udp_sendto(s, buf, (size_t)n, 0, &from);
		if (n < 0)
			fprintf(stderr, "sendto: %s\n", strerror((int)-n));
	}
	print_stats(st);
	pvnet_stack_close(st);
	return 0;
}

static void fill(char *buf, size_t size, long i)
{
	for (size_t k = 0; k < size; k++)
		buf[k] = (char)('a' + (i + (long)k) % 26);
}

static int do_client(const char *broker, int port, const char *peer, long n, size_t size)
{
	struct pvnet_stack *st;
	struct pvnet_udp *s = open_bound(broker, port, &st);
	struct sockaddr_in to;
	char out[2048], in[2048];
	long ok = 0;

	if (parse_addr(peer, &to) || size > sizeof(out) || pvnet_udp_connect(s, &to))
		return 2;
	pvnet_udp_set_timeout(s, 2000);
	for (long i = 0; i < n; i++) {
		ssize_t r;

		fill(out, size, i);
		r = pvnet_udp_send(s, out, size, 0);
		if (r < 0) {
			fprintf(stderr, "send: %s\n", strerror((int)-r));
			continue;
		}
		r = pvnet_udp_recv(s, in, sizeof(in), 0);
		if (r < 0)
			fprintf(stderr, "recv %ld: %s\n", i, strerror((int)-r));
		else if ((size_t)r == size && !memcmp(in, out, size))
			ok++;
	}
	printf("ok %ld/%ld\n", ok, n);
	print_stats(st);
	pvnet_stack_close(st);
	return ok == n ? 0 : 1;
}

static int do_recv(const char *broker, int port, long n, int ms)
{
	struct pvnet_stack *st;
	struct pvnet_udp *s = open_bound(broker, port, &st);
	char buf[2048];

	printf("ready\n");
	fflush(stdout);
	pvnet_udp_set_timeout(s, ms);
	for (long i = 0; i < n; i++) {
		ssize_t r = pvnet_udp_recv(s, buf, sizeof(buf) - 1, 0);

		if (r < 0)
			break;
		buf[r] = 0;
		printf("%s\n", buf);
		fflush(stdout);
	}
	print_stats(st);
	pvnet_stack_close(st);
	return 0;
}

static int do_bind(const char *broker, int port, int hold)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct pvnet_stack *st;
	struct pvnet_udp *s;
	int rc = pvnet_stack_open(&st, broker, 0);

	if (rc) {
		printf("open: %s\n", strerror(-rc));
		return 1;
	}
	if (!(rc = pvnet_udp_open(st, &s)))
		rc = pvnet_udp_bind(s, &a);
	if (rc) {
		printf("bind: %s\n", strerror(-rc));
	} else {
		pvnet_udp_name(s, &a);
		printf("bind: ok %u\n", ntohs(a.sin_port));
	}
	fflush(stdout);
	if (!rc && hold) {
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	pvnet_stack_close(st);
	return rc ? 1 : 0;
}

/* Ethernet + IPv4 + UDP from @src to @to, 4 payload bytes; the frame's length. */
static uint16_t spoof_frame(uint8_t *f, const uint8_t smac[6], const uint8_t dmac[6],
			    uint32_t src, uint16_t sport, const struct sockaddr_in *to)
{
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint32_t sum = 0;

	memset(f, 0, 46);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = 32;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &to->sin_addr, 4);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	memcpy(udp + 2, &to->sin_port, 2);
	udp[5] = 12;	/* checksum 0: none */
	memcpy(udp + 8, "spof", 4);
	return 46;
}

static int do_spoof(const char *broker, const char *peer)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct pvnet_vi *vi;
	struct pvnet_memreg *mr;
	struct pvnet_vi_attr at;
	struct sockaddr_in to;
	struct pv_nic_vi_stats ns;
	int rc;

	if (parse_addr(peer, &to))
		return 2;
	if ((rc = pvnet_vi_open(&vi, broker, 0)) || (rc = pvnet_memreg_alloc(&mr, vi, 4))) {
		fprintf(stderr, "open: %s\n", strerror(-rc));
		return 1;
	}
	pvnet_vi_attr(vi, &at);
	{
		const struct pvnet_filter_spec spec = { .proto = IPPROTO_UDP, .local_port = 5050 };
		struct pvnet_filter *f;

		if ((rc = pvnet_vi_filter_add(vi, &spec, &f))) {
			fprintf(stderr, "filter 5050: %s\n", strerror(-rc));
			return 1;
		}
	}
	for (int k = 0; k < 4; k++) {
		static const char *const what[] = { "spoofed source", "unbound port", "spoofed MAC",
						    "own source" };
		/* k 0: the next address up, not ours; 1: ours, a port not ours; 2: ours
		 * from a MAC not ours (its last bit flipped); 3: ours (sent) */
		uint32_t src = k ? at.local_ip : htonl(ntohl(at.local_ip) + 1);
		uint8_t smac[6];
		uint16_t len;

		memcpy(smac, at.mac, 6);
		if (k == 2)
			smac[5] ^= 1;
		len = spoof_frame(pvnet_memreg_buf(mr, (unsigned int)k), smac, bcast, src,
				  k == 1 ? 5051 : 5050, &to);
		struct pvnet_event ev;
		int n = 0;

		rc = pvnet_vi_transmit(vi, pvnet_memreg_buf_id(mr, (unsigned int)k), 0, len);
		for (int t = 0; !rc && n == 0 && t < 100; t++)
			if ((n = pvnet_vi_poll(vi, &ev, 1)) == 0)
				pvnet_vi_wait(vi, 20);
		if (n == 1 && ev.type == PVNET_EV_ERROR)
			printf("%s: error %s\n", what[k],
			       ev.error == PV_NIC_ERR_TX_SPOOF ? "TX_SPOOF" : "other");
		else if (n == 1)
			printf("%s: %s\n", what[k],
			       ev.type == PVNET_EV_TX_DONE ? "tx_done" : "other event");
		else
			printf("%s: no event (%s)\n", what[k],
			       strerror(rc ? -rc : ETIMEDOUT));
	}
	if ((rc = pvnet_vi_stats(vi, &ns)) == 0)
		printf("tx_spoofed=%" PRIu64 " tx_frames=%" PRIu64 "\n", ns.tx_spoofed, ns.tx_frames);
	else
		printf("stats: %s\n", strerror(-rc));
	pvnet_vi_close(vi);
	pvnet_memreg_free(mr);
	return 0;
}

/* Every eventfd this process holds: the VI's doorbell is one (libpvnet
 * keeps it to itself; a hostile program finds it in /proc/self/fd). */
static int eventfds(int *fds, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char path[300], link[64];
		ssize_t l;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		l = readlink(path, link, sizeof(link) - 1);
		if (l > 0 && (link[l] = 0, !strcmp(link, "anon_inode:[eventfd]")))
			fds[n++] = atoi(e->d_name);
	}
	closedir(d);
	return n;
}

static int do_dbflood(const char *broker, long ms)
{
	struct pvnet_vi *vi;
	struct pv_nic_vi_stats ns;
	uint64_t written = 0, one = 1;
	double end;
	int fds[16], n, rc;

	if ((rc = pvnet_vi_open(&vi, broker, 0))) {
		fprintf(stderr, "open: %s\n", strerror(-rc));
		return 1;
	}
	n = eventfds(fds, 16);
	if (n == 0) {
		fprintf(stderr, "dbflood: no eventfd found\n");
		return 1;
	}
	printf("ready\n");
	end = pp_now_us() + ms * 1000.0;
	do {
		for (int k = 0; k < 256; k++)
			for (int i = 0; i < n; i++)
				if (write(fds[i], &one, sizeof(one)) == sizeof(one))
					written++;
	} while (pp_now_us() < end);
	usleep(100 * 1000);	/* what the NIC has still to read */
	if ((rc = pvnet_vi_stats(vi, &ns))) {
		printf("stats: %s\n", strerror(-rc));
		return 1;
	}
	printf("written=%" PRIu64 " doorbells=%" PRIu64 " tx_frames=%" PRIu64 "\n", written,
	       ns.doorbells, ns.tx_frames);
	pvnet_vi_close(vi);
	return 0;
}

static int do_kecho(int port, long count, int reuse)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	char buf[2048];

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse)) < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("kecho bind");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (long i = 0; count == 0 || i < count; i++) {
		struct sockaddr_in from;
		socklen_t l = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &l);

		if (n < 0)
			break;
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, l);
	}
	close(fd);
	return 0;
}

static int do_kclient(const char *peer, long n, size_t size, int sport)
{
	struct sockaddr_in to, me = { .sin_family = AF_INET, .sin_port = htons((uint16_t)sport) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	char out[2048], in[2048];
	long ok = 0;

	if (parse_addr(peer, &to) || size > sizeof(out) || fd < 0 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		perror("kclient");
		return 2;
	}
	for (long i = 0; i < n; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		fill(out, size, i);
		if (send(fd, out, size, 0) < 0) {
			perror("send");
			continue;
		}
		if (poll(&p, 1, 2000) != 1)
			continue;
		r = recv(fd, in, sizeof(in), 0);
		if (r == (ssize_t)size && !memcmp(in, out, size))
			ok++;
	}
	printf("ok %ld/%ld\n", ok, n);
	close(fd);
	return ok == n ? 0 : 1;
}

static int do_cycle(const char *broker, int port, long n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	long ok = 0;

	for (long i = 0; i < n; i++) {
		struct pvnet_stack *st;
		struct pvnet_udp *s;
		int rc = pvnet_stack_open(&st, broker, 0);

		if (rc) {
			fprintf(stderr, "cycle %ld: open: %s\n", i, strerror(-rc));
			continue;
		}
		if (!(rc = pvnet_udp_open(st, &s)) && !(rc = pvnet_udp_bind(s, &a)))
			ok++;
		else
			fprintf(stderr, "cycle %ld: bind: %s\n", i, strerror(-rc));
		pvnet_stack_close(st);
	}
	printf("cycles %ld/%ld\n", ok, n);
	return ok == n ? 0 : 1;
}

/* Swap the Ethernet, IPv4 and UDP addresses of a frame in place: its reply (sums unchanged). */
static bool l1_swap(uint8_t *f, uint32_t len)
{
	uint8_t t[6];
	uint32_t ihl;

	if (len < 42 || f[12] != 0x08 || f[13] != 0 || (f[14] >> 4) != 4 || f[23] != IPPROTO_UDP)
		return false;
	ihl = (f[14] & 15u) * 4;
	if (len < 14 + ihl + 8)
		return false;
	memcpy(t, f, 6), memcpy(f, f + 6, 6), memcpy(f + 6, t, 6);
	memcpy(t, f + 26, 4), memcpy(f + 26, f + 30, 4), memcpy(f + 30, t, 4);
	memcpy(t, f + 14 + ihl, 2), memcpy(f + 14 + ihl, f + 16 + ihl, 2), memcpy(f + 16 + ihl, t, 2);
	return true;
}

static int do_l1echo(const char *broker, int port, long count)
{
	const struct pvnet_filter_spec spec = { .proto = IPPROTO_UDP, .local_port = (uint16_t)port };
	struct pvnet_vi *vi;
	struct pvnet_memreg *mr;
	struct pvnet_filter *flt;
	long rx = 0, done = 0;
	int rc;

	if ((rc = pvnet_vi_open(&vi, broker, 0)) || (rc = pvnet_memreg_alloc(&mr, vi, 8)) ||
	    (rc = pvnet_vi_filter_add(vi, &spec, &flt))) {
		fprintf(stderr, "l1: %s\n", strerror(-rc));
		return 1;
	}
	for (unsigned int i = 0; i < 8; i++)
		pvnet_vi_rx_post(vi, pvnet_memreg_buf_id(mr, i), PVNET_BUF_SIZE);
	printf("ready\n");
	while (done < count) {
		struct pvnet_event ev[16];
		int n = pvnet_vi_poll(vi, ev, 16);

		if (n < 0)
			break;
		if (n == 0 && pvnet_vi_wait(vi, 10000) == -ETIMEDOUT)
			break;
		for (int j = 0; j < n; j++) {
			int idx = pvnet_memreg_index(mr, ev[j].buf_id);

			if (idx < 0)
				continue;
			if (ev[j].type == PVNET_EV_RX && !ev[j].error) {
				rx++;
				if (l1_swap(pvnet_memreg_buf(mr, (unsigned int)idx), ev[j].len) &&
				    pvnet_vi_transmit(vi, ev[j].buf_id, 0, (uint16_t)ev[j].len) == 0)
					continue;	/* re-posted for RX at its TX_DONE */
			} else if (ev[j].type == PVNET_EV_TX_DONE) {
				done++;
			}
			pvnet_vi_rx_post(vi, ev[j].buf_id, PVNET_BUF_SIZE);
		}
	}
	printf("l1 rx=%ld tx_done=%ld\n", rx, done);
	pvnet_vi_close(vi);
	pvnet_memreg_free(mr);
	return done == count ? 0 : 1;
}

static int do_nonblock(const char *broker, int port)
{
	struct pvnet_stack *st;
	struct pvnet_udp *s = open_bound(broker, port, &st);
	char buf[64];
	double t0;
	ssize_t r;

	pvnet_udp_set_nonblock(s, true);
	t0 = pp_now_us();
	r = pvnet_udp_recv(s, buf, sizeof(buf), 0);
	printf("nonblock: %s in %.0fms\n", r == -EAGAIN ? "EAGAIN" : "other", (pp_now_us() - t0) / 1e3);
	pvnet_udp_set_nonblock(s, false);
	t0 = pp_now_us();
	r = pvnet_udp_recv(s, buf, sizeof(buf), PVNET_MSG_DONTWAIT);
	printf("dontwait: %s in %.0fms\n", r == -EAGAIN ? "EAGAIN" : "other", (pp_now_us() - t0) / 1e3);
	pvnet_udp_set_timeout(s, 300);
	t0 = pp_now_us();
	r = pvnet_udp_recv(s, buf, sizeof(buf), 0);
	printf("timeout: %s in %.0fms\n", r == -EAGAIN ? "EAGAIN" : "other", (pp_now_us() - t0) / 1e3);
	pvnet_stack_close(st);
	return 0;
}

static int do_sendexit(const char *broker, int port, const char *peer, long n)
{
	struct sockaddr_in to;
	long ok = 0;

	if (parse_addr(peer, &to))
		return 2;
	for (long i = 0; i < n; i++) {
		struct pvnet_stack *st;
		struct pvnet_udp *s = open_bound(broker, port, &st);

		ok += pvnet_udp_sendto(s, "bye", 3, 0, &to) == 3;
		pvnet_stack_close(st);
	}
	printf("sent %ld/%ld\n", ok, n);
	return ok == n ? 0 : 1;
}

static int do_kcount(int port, int ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	long got = 0;
	char buf[2048];

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return 1;
	printf("ready\n");
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, ms) != 1)
			break;
		got += recv(fd, buf, sizeof(buf), 0) >= 0;
	}
	printf("got %ld\n", got);
	close(fd);
	return 0;
}

/* Descriptors naming buffers that are not ours: the NIC must refuse every one. */
static int do_steal(const char *broker, long n)
{
	struct pvnet_vi *vi;
	struct pvnet_memreg *mr;
	long posted = 0, refused = 0, sent = 0, idle = 0;
	int rc;

	if ((rc = pvnet_vi_open(&vi, broker, 0)) || (rc = pvnet_memreg_alloc(&mr, vi, 2))) {
		fprintf(stderr, "open: %s\n", strerror(-rc));
		return 1;
	}
	for (uint32_t id = 0; id < (uint32_t)n; id++) {
		if (pvnet_memreg_index(mr, id) >= 0)
			continue;	/* our own */
		while (pvnet_vi_tx_space(vi) < 1) {
			struct pvnet_event ev[64];
			int k = pvnet_vi_poll(vi, ev, 64);

			for (int j = 0; j < k; j++) {
				refused += ev[j].type == PVNET_EV_ERROR && !ev[j].rx;
				sent += ev[j].type == PVNET_EV_TX_DONE;
			}
			if (k <= 0)
				pvnet_vi_wait(vi, 10);
		}
		if (pvnet_vi_transmit(vi, id, 0, 60) == 0)
			posted++;
	}
	while (refused + sent < posted && idle < 100) {
		struct pvnet_event ev[64];
		int k = pvnet_vi_poll(vi, ev, 64);

		for (int j = 0; j < k; j++) {
			refused += ev[j].type == PVNET_EV_ERROR && !ev[j].rx;
			sent += ev[j].type == PVNET_EV_TX_DONE;
		}
		if (k <= 0 && pvnet_vi_wait(vi, 10) == -ETIMEDOUT)
			idle++;
	}
	printf("refused=%ld of=%ld sent=%ld\n", refused, posted, sent);
	pvnet_vi_close(vi);
	pvnet_memreg_free(mr);
	return 0;
}

/* ---- a hostile broker client ---- */

static int br_call(int fd, uint16_t type, const void *body, uint32_t len, int sfd, int *rfds)
{
	static uint32_t seq;
	uint8_t out[PV_BRK_MSG_MAX];
	const struct pv_sp_reply r = { .body = out, .body_max = sizeof(out),
				       .recv_max = sizeof(out), .rfds = rfds,
				       .rfds_max = rfds ? 3 : 0 };

	return pv_seqpacket_call(fd, type, ++seq, body, len, sfd >= 0 ? &sfd : NULL,
				 sfd >= 0 ? 1 : 0, &r, 5000);
}

/* A memfd of @size bytes with @seals (MFD_ALLOW_SEALING). */
static int br_memfd(off_t size, int seals)
{
	int fd = memfd_create("badreq", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, size) < 0 || (seals && fcntl(fd, F_ADD_SEALS, seals) < 0))
		exit(1);
	return fd;
}

static const char *br_err(int rc)
{
	switch (rc) {
	case 0: return "ok";
	case -EINVAL: return "EINVAL";
	case -EDQUOT: return "EDQUOT";
	case -EALREADY: return "EALREADY";
	case -EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case -EACCES: return "EACCES";
	default: return strerror(-rc);
	}
}

static int do_badreq(const char *broker)
{
	const struct pv_brk_open o = { .version = PV_BRK_VERSION };
	struct pv_brk_open_reply orep;
	struct pv_brk_memreg q = { .chunk = 0, .count = 2 };
	struct pv_brk_filter f = { .proto = IPPROTO_UDP, .local_port = 5090 };
	int fd = pv_unix_connect(broker, SOCK_SEQPACKET), vifd[3], pfd[2], rc;
	uint8_t junk[64] = { 0 };
	const struct pv_sp_reply r = { .body = &orep, .body_max = sizeof(orep),
				       .recv_max = PV_BRK_MSG_MAX, .rfds = vifd, .rfds_max = 3 };

	if (fd < 0 || pv_seqpacket_call(fd, PV_BRK_OPEN, 1, &o, sizeof(o), NULL, 0, &r, 5000) < 0 ||
	    pipe(pfd) < 0)
		return 1;
	printf("unsealed memfd: %s\n", br_err(br_call(fd, PV_BRK_MEMREG, &q, sizeof(q), br_memfd(8192, 0), NULL)));
	printf("sealed against growing only: %s\n",
	       br_err(br_call(fd, PV_BRK_MEMREG, &q, sizeof(q), br_memfd(8192, F_SEAL_GROW), NULL)));
	printf("not whole pages: %s\n",
	       br_err(br_call(fd, PV_BRK_MEMREG, &q, sizeof(q), br_memfd(6000, F_SEAL_SHRINK), NULL)));
	printf("a pipe: %s\n", br_err(br_call(fd, PV_BRK_MEMREG, &q, sizeof(q), pfd[0], NULL)));
	printf("the VI's own rings: %s\n", br_err(br_call(fd, PV_BRK_MEMREG, &q, sizeof(q), vifd[0], NULL)));
	q.chunk = 3;
	printf("chunks past the end: %s\n",
	       br_err(br_call(fd, PV_BRK_MEMREG, &q, sizeof(q), br_memfd(8192, F_SEAL_SHRINK), NULL)));
	q = (struct pv_brk_memreg){ .chunk = 0, .count = 256 };
	rc = br_call(fd, PV_BRK_MEMREG, &q, sizeof(q), br_memfd(128 * 4096, F_SEAL_SHRINK), NULL);
	if (!rc)
		rc = br_call(fd, PV_BRK_MEMREG, &q, sizeof(q), br_memfd(128 * 4096, F_SEAL_SHRINK), NULL);
	printf("a sealed memfd, 512 buffers: %s\n", br_err(rc));
	q.count = 1;
	printf("one buffer past the policy: %s\n",
	       br_err(br_call(fd, PV_BRK_MEMREG, &q, sizeof(q), br_memfd(4096, F_SEAL_SHRINK), NULL)));
	printf("OPEN again: %s\n", br_err(br_call(fd, PV_BRK_OPEN, &o, sizeof(o), -1, NULL)));
	printf("wrong body length: %s\n", br_err(br_call(fd, PV_BRK_FILTER, junk, 7, -1, NULL)));
	printf("unknown type: %s\n", br_err(br_call(fd, 99, NULL, 0, -1, NULL)));
	printf("a descriptor where none is taken: %s\n",
	       br_err(br_call(fd, PV_BRK_STATS, NULL, 0, pfd[1], NULL)));
	f.local_ip = htonl(ntohl(orep.local_ip) + 1);
	printf("filter on another address: %s\n", br_err(br_call(fd, PV_BRK_FILTER, &f, sizeof(f), -1, NULL)));
	f.local_ip = orep.local_ip;
	f.reserved = 1;
	printf("filter with reserved bits: %s\n", br_err(br_call(fd, PV_BRK_FILTER, &f, sizeof(f), -1, NULL)));
	f.reserved = 0;
	f.proto = IPPROTO_ICMP;
	printf("filter for ICMP: %s\n", br_err(br_call(fd, PV_BRK_FILTER, &f, sizeof(f), -1, NULL)));
	f.proto = IPPROTO_UDP;
	printf("the connection still serves: %s\n", br_err(br_call(fd, PV_BRK_FILTER, &f, sizeof(f), -1, NULL)));
	close(fd);
	return 0;
}

/* ---- ping-pong: round trip times ---- */

static double pp_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int pp_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void pp_report(double *rtt, long n, long lost)
{
	struct rusage ru;
	double cpu;

	qsort(rtt, (size_t)n, sizeof(*rtt), pp_cmp);
	getrusage(RUSAGE_SELF, &ru);
	cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	      ru.ru_stime.tv_usec / 1e6;
	if (n == 0) {
		printf("rtt_us n=0 lost=%ld\n", lost);
		return;
	}
	printf("rtt_us n=%ld p50=%.1f p99=%.1f p999=%.1f lost=%ld cpu_s=%.2f\n", n,
	       rtt[n / 2], rtt[n * 99 / 100], rtt[n * 999 / 1000], lost, cpu);
}

/* One round trip through @xfer (send then receive, 1 s limit); its time, or < 0 lost. */
typedef int (*pp_xfer)(void *ctx, char *out, char *in, size_t size);

static int pp_run(pp_xfer x, void *ctx, long n, size_t size)
{
	double *rtt = calloc((size_t)n + 1, sizeof(*rtt));
	char out[2048], in[2048];
	long got = 0, lost = 0;

	if (!rtt || size > sizeof(out))
		return 2;
	for (long i = -100; i < n; i++) {
		double t0;

		fill(out, size, i);
		t0 = pp_now_us();
		if (x(ctx, out, in, size) < 0) {
			lost += i >= 0;
			continue;
		}
		if (i >= 0)
			rtt[got++] = pp_now_us() - t0;
	}
	pp_report(rtt, got, lost);
	free(rtt);
	return 0;
}

static int pp_pvnet(void *ctx, char *out, char *in, size_t size)
{
	struct pvnet_udp *s = ctx;

	if (pvnet_udp_send(s, out, size, 0) < 0)
		return -1;
	return pvnet_udp_recv(s, in, size, 0) == (ssize_t)size && !memcmp(in, out, size) ? 0 : -1;
}

static int pp_kernel(void *ctx, char *out, char *in, size_t size)
{
	int fd = *(int *)ctx;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (send(fd, out, size, 0) < 0 || poll(&p, 1, 1000) != 1)
		return -1;
	return recv(fd, in, size, 0) == (ssize_t)size && !memcmp(in, out, size) ? 0 : -1;
}

static int do_pingpong(const char *broker, int port, const char *peer, long n, size_t size)
{
	struct pvnet_stack *st;
	struct pvnet_udp *s = open_bound(broker, port, &st);
	struct sockaddr_in to;
	int rc;

	if (parse_addr(peer, &to) || pvnet_udp_connect(s, &to))
		return 2;
	pvnet_udp_set_timeout(s, 1000);
	rc = pp_run(pp_pvnet, s, n, size);
	print_stats(st);
	pvnet_stack_close(st);
	return rc;
}

static int do_kpingpong(const char *peer, long n, size_t size)
{
	struct sockaddr_in to;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

	if (parse_addr(peer, &to) || fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0)
		return 2;
	rc = pp_run(pp_kernel, &fd, n, size);
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(m, "server") && argc == 5)
		return do_server(argv[2], atoi(argv[3]), atol(argv[4]));
	if (!strcmp(m, "client") && argc == 7)
		return do_client(argv[2], atoi(argv[3]), argv[4], atol(argv[5]),
				 (size_t)atol(argv[6]));
	if (!strcmp(m, "recv") && argc == 6)
		return do_recv(argv[2], atoi(argv[3]), atol(argv[4]), atoi(argv[5]));
	if (!strcmp(m, "bind") && argc == 4)
		return do_bind(argv[2], atoi(argv[3]), 0);
	if (!strcmp(m, "hold") && argc == 4)
		return do_bind(argv[2], atoi(argv[3]), 1);
	if (!strcmp(m, "nonblock") && argc == 4)
		return do_nonblock(argv[2], atoi(argv[3]));
	if (!strcmp(m, "sendexit") && argc == 6)
		return do_sendexit(argv[2], atoi(argv[3]), argv[4], atol(argv[5]));
	if (!strcmp(m, "kcount") && argc == 4)
		return do_kcount(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(m, "l1echo") && argc == 5)
		return do_l1echo(argv[2], atoi(argv[3]), atol(argv[4]));
	if (!strcmp(m, "badreq") && argc == 3)
		return do_badreq(argv[2]);
	if (!strcmp(m, "cycle") && argc == 5)
		return do_cycle(argv[2], atoi(argv[3]), atol(argv[4]));
	if (!strcmp(m, "steal") && argc == 4)
		return do_steal(argv[2], atol(argv[3]));
	if (!strcmp(m, "pingpong") && argc == 7)
		return do_pingpong(argv[2], atoi(argv[3]), argv[4], atol(argv[5]),
				   (size_t)atol(argv[6]));
	if (!strcmp(m, "kpingpong") && argc == 5)
		return do_kpingpong(argv[2], atol(argv[3]), (size_t)atol(argv[4]));
	if (!strcmp(m, "spoof") && argc == 4)
		return do_spoof(argv[2], argv[3]);
	if (!strcmp(m, "dbflood") && argc == 4)
		return do_dbflood(argv[2], atol(argv[3]));
	if (!strcmp(m, "kecho") && (argc == 4 || (argc == 5 && !strcmp(argv[4], "reuse"))))
		return do_kecho(atoi(argv[2]), atol(argv[3]), argc == 5);
	if (!strcmp(m, "kclient") && (argc == 5 || argc == 6))
		return do_kclient(argv[2], atol(argv[3]), (size_t)atol(argv[4]),
				  argc == 6 ? atoi(argv[5]) : 0);
	fprintf(stderr, "usage: see the top of tests/helpers/pvnet_udp_echo.c\n");
	return 2;
}
