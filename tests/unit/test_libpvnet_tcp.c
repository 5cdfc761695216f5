/* SPDX-License-Identifier: MIT */
/*
 * test_libpvnet_tcp.c - libpvnet's TCP layer (src/libpvnet/tcp.c, over
 * Debian's lwIP) without a NIC: two fake stacks in one process whose
 * frames go to each other through a queue, delivered inside their polls.
 * The fakes stand for udp.c and vi.c (the stack, the broker's filters);
 * a frame is checked as the NIC would (source MAC, address, and a TCP
 * source port of one of the sender's live filters: what the port check
 * PV_NIC_MAC_F_PORTS lets out) and can be dropped to make lwIP
 * retransmit.  Checks: connect/accept, 1 MiB each way byte for byte with
 * non-blocking calls, readiness, the FIN (recv 0), a connect nobody
 * answers, a close with unread data (RST, ECONNRESET), a transfer with
 * lost frames,
 * and every filter given back at the end.  tcp.c is included (its
 * functions are static).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <time.h>

#include "../../src/libpvnet/tcp.c"
#include "../lib/test.h"

#define A_IP	0xc6120001u	/* 198.18.0.1 */
#define B_IP	0xc6120064u	/* 198.18.0.100 */
#define NBUF	64
#define QMAX	4096

struct pvnet_filter {
	struct pvnet_stack *st;
	uint16_t port;
	bool live;
};

struct pvnet_stack {
	struct pvnet_vi_attr attr;
	const struct lp_tcp_ops *ops;
	void *ctx;
	struct pvnet_stack_stats stats;
	uint8_t buf[NBUF][PVNET_BUF_SIZE];
	uint32_t free[NBUF];
	unsigned int nfree;
	struct pvnet_filter *filters[32];
	unsigned int nfilters;
	uint16_t next_port;
	unsigned long bad_src;		/* frames the NIC would refuse */
};

struct frame {
	struct pvnet_stack *to;
	uint16_t len;
	uint8_t b[PVNET_BUF_SIZE];
};

static struct pvnet_stack sa, sb;
static struct frame q[QMAX];
static unsigned int qh, qt, drop_every, drop_left, frames;

/* ---- the fakes of udp.c and vi.c ---- */

void lp_stack_set_tcp(struct pvnet_stack *st, const struct lp_tcp_ops *ops, void *ctx)
{
	st->ops = ops;
	st->ctx = ctx;
}

void *lp_stack_tcp_ctx(const struct pvnet_stack *st)
{
	return st->ctx;
}

const struct pvnet_vi_attr *lp_stack_attr(const struct pvnet_stack *st)
{
	return &st->attr;
}

int lp_stack_nexthop(struct pvnet_stack *st, uint32_t dst, uint8_t mac[6])
{
	memcpy(mac, st == &sa ? sb.attr.mac : sa.attr.mac, 6);
	return 0;
}

uint8_t *lp_stack_tx_get(struct pvnet_stack *st, uint32_t *idx)
{
	if (!st->nfree)
		return NULL;
	*idx = st->free[--st->nfree];
	return st->buf[*idx];
}

static bool port_live(const struct pvnet_stack *st, uint16_t port)
{
	for (unsigned int i = 0; i < st->nfilters; i++)
		if (st->filters[i]->live && st->filters[i]->port == port)
			return true;
	return false;
}

int lp_stack_tx_post(struct pvnet_stack *st, uint32_t idx, uint16_t len)
{
	const uint8_t *f = st->buf[idx], *ip = f + 14;
	uint32_t src;
	uint16_t sport;

	st->free[st->nfree++] = idx;	/* the NIC copied it: TX_DONE at once */
	if (qt - qh == QMAX)
		return -ENOSPC;
	memcpy(&src, ip + 12, 4);
	sport = (uint16_t)(ip[20 + 0] << 8 | ip[20 + 1]);
	if (memcmp(f + 6, st->attr.mac, 6) || src != st->attr.local_ip || ip[9] != IPPROTO_TCP ||
	    !port_live(st, sport)) {
		st->bad_src++;		/* PV_NIC_ERR_TX_SPOOF: not sent */
		return 0;
	}
	frames++;
	if (drop_left && frames % drop_every == 0) {
		drop_left--;
		return 0;		/* lost on the wire */
	}
	q[qt % QMAX].to = st == &sa ? &sb : &sa;
	q[qt % QMAX].len = len;
	memcpy(q[qt % QMAX].b, f, len);
	qt++;
	return 0;
}

struct pvnet_stack_stats *lp_stack_counters(struct pvnet_stack *st)
{
	return &st->stats;
}

struct pvnet_vi *pvnet_stack_vi(struct pvnet_stack *st)
{
	return (struct pvnet_vi *)st;
}

/* Deliver what is queued (to either stack), then the timers. */
int pvnet_stack_poll(struct pvnet_stack *st)
{
	int n = 0;

	while (qh != qt) {
		struct frame *f = &q[qh++ % QMAX];

		if (f->to->ops)
			f->to->ops->input(f->to->ctx, f->b + 14, f->len - 14u);
		n++;
	}
	if (st->ops)
		st->ops->poll(st->ctx);
	return n;
}

/* What was handed to the fake NIC is queued already: delivering it is the drain. */
void lp_stack_tx_drain(struct pvnet_stack *st)
{
	pvnet_stack_poll(st);
}

int lp_stack_wait(struct pvnet_stack *st, bool (*ready)(const void *), const void *arg,
		  bool nonblock, int timeout_ms)
{
	struct timespec ts0, ts;

	clock_gettime(CLOCK_MONOTONIC, &ts0);
	for (;;) {
		long ms;

		pvnet_stack_poll(st);
		if (ready(arg))
			return 0;
		if (nonblock)
			return -EAGAIN;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ms = (ts.tv_sec - ts0.tv_sec) * 1000 + (ts.tv_nsec - ts0.tv_nsec) / 1000000;
		if (timeout_ms >= 0 && ms >= timeout_ms)
			return -EAGAIN;
		if (qh == qt)
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);	/* lwIP's timers are real time */
	}
}

int pvnet_vi_filter_add(struct pvnet_vi *vi, const struct pvnet_filter_spec *spec,
			struct pvnet_filter **out)
{
	struct pvnet_stack *st = (struct pvnet_stack *)vi;
	struct pvnet_filter *f;
	uint16_t port = spec->local_port ? spec->local_port : st->next_port++;

	if (spec->proto != IPPROTO_TCP || spec->local_ip != st->attr.local_ip)
		return -EINVAL;
	if (port_live(st, port))
		return -EADDRINUSE;
	if (st->nfilters == 32 || !(f = calloc(1, sizeof(*f))))
		return -ENOSPC;
	*f = (struct pvnet_filter){ .st = st, .port = port, .live = true };
	st->filters[st->nfilters++] = f;
	*out = f;
	return 0;
}

uint16_t pvnet_filter_port(const struct pvnet_filter *f)
{
	return f->port;
}

int pvnet_vi_filter_del(struct pvnet_vi *vi, struct pvnet_filter *f)
{
	struct pvnet_stack *st = (struct pvnet_stack *)vi;

	for (unsigned int i = 0; i < st->nfilters; i++) {
		if (st->filters[i] == f) {
			st->filters[i] = st->filters[--st->nfilters];
			free(f);
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- the checks ---- */

static void stack_init(struct pvnet_stack *st, uint32_t ip, uint8_t last, uint16_t port0)
{
	memset(st, 0, sizeof(*st));
	st->attr.local_ip = htonl(ip);
	memcpy(st->attr.mac, "\x02\x00\x00\x00\x00", 5);
	st->attr.mac[5] = last;
	st->attr.mtu = 1500;
	for (unsigned int i = 0; i < NBUF; i++)
		st->free[st->nfree++] = i;
	st->next_port = port0;
}

static struct sockaddr_in sin_of(uint32_t ip, uint16_t port)
{
	return (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(ip),
				     .sin_port = htons(port) };
}

static uint8_t *pattern(size_t n, unsigned int seed)
{
	uint8_t *p = malloc(n);

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
	return p;
}

/* Move @n bytes from @tx to @rx with non-blocking calls on both; bytes received. */
static size_t pump(struct pvnet_tcp *tx, struct pvnet_tcp *rx, const uint8_t *data, uint8_t *out,
		   size_t n, int limit_ms)
{
	size_t sent = 0, got = 0;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < n) {
		ssize_t k;

		if (sent < n) {
			k = pvnet_tcp_send(tx, data + sent, n - sent, PVNET_MSG_DONTWAIT);
			if (k > 0)
				sent += (size_t)k;
			else if (k != -EAGAIN)
				break;
		}
		k = pvnet_tcp_recv(rx, out + got, n - got, PVNET_MSG_DONTWAIT);
		if (k > 0)
			got += (size_t)k;
		else if (k != -EAGAIN)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > limit_ms)
			break;
		if (qh == qt)
			nanosleep(&(struct timespec){ 0, 200000 }, NULL);
	}
	return got;
}

int main(void)
{
	const size_t n = 1 << 20;
	struct sockaddr_in a = sin_of(A_IP, 6001), la, pa, from;
	struct pvnet_tcp *l, *c, *s, *x;
	uint8_t *data = pattern(n, 7), *out = calloc(1, n), b[16];
	int rc, ev;
	ssize_t k;

	/*
	 * Both stacks are one lwIP: let each take segments from the other's
	 * address (in a process, two stacks never hear each other: a VI's TX
	 * goes out of the port).
	 */
	src_other_netifs = false;
	stack_init(&sa, A_IP, 0xaa, 6000);
	stack_init(&sb, B_IP, 0xbb, 6100);

	/* listen on A, connect from B (port 0: the broker's choice), accept */
	T_EQ(pvnet_tcp_open(&sa, &l), 0, "open a socket on stack A (its TCP layer: an lwIP netif)");
	T_EQ(pvnet_tcp_listen(l, 4), -EINVAL, "listen before bind: EINVAL");
	T_EQ(pvnet_tcp_bind(l, &a), 0, "bind A:6001");
	T_EQ(pvnet_tcp_bind(l, &a), -EINVAL, "bind twice: EINVAL");
	T_EQ(pvnet_tcp_listen(l, 4), 0, "listen");
	pvnet_tcp_set_nonblock(l, true);
	T_EQ(pvnet_tcp_accept(l, &x, NULL), -EAGAIN, "non-blocking accept with nobody: EAGAIN");
	T_EQ(pvnet_tcp_open(&sb, &c), 0, "open a socket on stack B");
	T_EQ(pvnet_tcp_connect(c, &a), 0, "blocking connect B -> A:6001 (the handshake through both stacks)");
	pvnet_tcp_name(c, &la, &pa);
	T_CHECK(ntohs(la.sin_port) == 6100 && pa.sin_addr.s_addr == a.sin_addr.s_addr &&
		pa.sin_port == a.sin_port, "the connected socket's names: its filter's port, the peer",
		"local %u peer %x:%u", ntohs(la.sin_port), ntohl(pa.sin_addr.s_addr), ntohs(pa.sin_port));
	T_EQ(pvnet_tcp_connect(c, &a), -EISCONN, "connect again: EISCONN");
	ev = pvnet_tcp_events(l);
	T_CHECK(ev & POLLIN, "the listener is readable: a connection to accept", "events %#x", ev);
	T_EQ(pvnet_tcp_accept(l, &s, &from), 0, "accept");
	T_CHECK(from.sin_addr.s_addr == htonl(B_IP) && ntohs(from.sin_port) == 6100,
		"accept gives the peer's address", "%x:%u", ntohl(from.sin_addr.s_addr), ntohs(from.sin_port));
	T_CHECK(sa.nfilters == 1 && sb.nfilters == 1, "one filter each: the accepted connection shares the listener's",
		"A %u B %u", sa.nfilters, sb.nfilters);
	pvnet_tcp_set_nonblock(s, true);
	T_EQ(pvnet_tcp_recv(s, b, sizeof(b), 0), -EAGAIN, "non-blocking recv with nothing: EAGAIN");
	ev = pvnet_tcp_events(c);
	T_CHECK((ev & POLLOUT) && !(ev & POLLIN), "a fresh connection: POLLOUT, no POLLIN", "events %#x", ev);

	/* 1 MiB each way */
	T_EQ(pump(c, s, data, out, n, 30000), n, "B -> A: 1 MiB arrives");
	T_CHECK(!memcmp(data, out, n), "B -> A: byte for byte", "differs");
	memset(out, 0, n);
	T_EQ(pump(s, c, data, out, n, 30000), n, "A -> B: 1 MiB arrives");
	T_CHECK(!memcmp(data, out, n), "A -> B: byte for byte", "differs");
	T_CHECK(sa.stats.tx_tcp > 700 && sb.stats.tx_tcp > 700, "segments went out as frames of both netifs",
		"A %llu B %llu", (unsigned long long)sa.stats.tx_tcp, (unsigned long long)sb.stats.tx_tcp);

	/* the FIN: shutdown on B, A reads what was sent and then 0 */
	T_EQ(pvnet_tcp_send(c, "tail", 4, 0), 4, "a last blocking send");
	T_EQ(pvnet_tcp_shutdown(c, SHUT_WR), 0, "shutdown(SHUT_WR)");
	T_EQ(pvnet_tcp_send(c, "x", 1, 0), -EPIPE, "send after shutdown: EPIPE");
	pvnet_tcp_set_nonblock(s, false);
	pvnet_tcp_set_timeout(s, 5000);
	k = pvnet_tcp_recv(s, b, sizeof(b), 0);
	T_CHECK(k == 4 && !memcmp(b, "tail", 4), "the bytes before the FIN", "got %zd", k);
	T_EQ(pvnet_tcp_recv(s, b, sizeof(b), 0), 0, "then the FIN: recv 0");
	ev = pvnet_tcp_events(s);
	T_CHECK(ev & POLLIN, "at the FIN the socket is readable (0 to read)", "events %#x", ev);
	pvnet_tcp_close(s);
	pvnet_tcp_close(c);
	T_EQ(sb.nfilters, 0, "B's filter is given back once its connection is closed");
	T_EQ(sa.nfilters, 1, "A keeps its port while the listener lives");

	/*
	 * Nobody answers (no stack has that address): the socket's timeout,
	 * then a close of a socket in SYN_SENT.  (A refused connect is the
	 * integration test's: here both stacks are one lwIP, which would route
	 * its RST to the other netif's own address, lwIP's loopback.)
	 */
	T_EQ(pvnet_tcp_open(&sb, &c), 0, "open");
	pvnet_tcp_set_timeout(c, 300);
	{
		struct sockaddr_in nobody = sin_of(0xc6120063u, 6002), self = sin_of(B_IP, 6001);

		T_EQ(pvnet_tcp_connect(c, &self), -ENETUNREACH, "connect to the stack's own address: ENETUNREACH");
		T_EQ(pvnet_tcp_connect(c, &nobody), -EAGAIN, "connect where nobody answers: the timeout, EAGAIN");
	}
	pvnet_tcp_close(c);
	T_EQ(sb.nfilters, 0, "closing a socket in SYN_SENT gives its port back");

	/* close with unread data: the peer sees a reset */
	T_EQ(pvnet_tcp_open(&sb, &c), 0, "open");
	pvnet_tcp_set_nonblock(c, true);
	T_EQ(pvnet_tcp_connect(c, &a), -EINPROGRESS, "non-blocking connect: EINPROGRESS");
	for (int i = 0; i < 2000 && !(pvnet_tcp_events(c) & POLLOUT); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	T_CHECK(pvnet_tcp_events(c) & POLLOUT, "POLLOUT once established", "not");
	pvnet_tcp_set_nonblock(l, false);
	pvnet_tcp_set_timeout(l, 5000);
	T_EQ(pvnet_tcp_accept(l, &s, NULL), 0, "accept");
	T_EQ(pvnet_tcp_send(c, "unread", 6, 0), 6, "B sends what A will not read");
	for (int i = 0; i < 100 && !(pvnet_tcp_events(s) & POLLIN); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	pvnet_tcp_close(s);	/* unread data: RST */
	pvnet_tcp_set_nonblock(c, false);
	pvnet_tcp_set_timeout(c, 5000);
	k = pvnet_tcp_recv(c, b, sizeof(b), 0);
	T_EQ(k, -ECONNRESET, "a close with unread data resets the peer: ECONNRESET");
	T_EQ(pvnet_tcp_send(c, "x", 1, 0), -EPIPE, "then send: EPIPE");
	pvnet_tcp_close(c);

	/* lost frames: 4 of them, 37 frames apart; lwIP retransmits */
	T_EQ(pvnet_tcp_open(&sb, &c), 0, "open");
	T_EQ(pvnet_tcp_connect(c, &a), 0, "connect");
	T_EQ(pvnet_tcp_accept(l, &s, NULL), 0, "accept");
	drop_every = 37;
	drop_left = 4;
	memset(out, 0, n);
	rc = (int)pump(c, s, data, out, 256 << 10, 60000);
	T_CHECK(rc == 256 << 10 && !drop_left, "256 KiB arrive though 4 frames were lost (retransmissions)",
		"got %d, %u losses left", rc, drop_left);
	T_CHECK(!memcmp(data, out, 256 << 10), "byte for byte", "differs");
	/* the side that got the FIN closes first, so that no segment reaches a pcb already gone */
	pvnet_tcp_shutdown(c, SHUT_WR);
	pvnet_tcp_set_nonblock(s, false);
	pvnet_tcp_set_timeout(s, 5000);
	T_EQ(pvnet_tcp_recv(s, b, sizeof(b), 0), 0, "the FIN after the lossy transfer");
	pvnet_tcp_close(s);
	pvnet_tcp_close(c);
	pvnet_tcp_close(l);

	/* a segment from our own address (spoofed): dropped and counted, never answered */
	{
		uint8_t seg[40] = { 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, IPPROTO_TCP };
		unsigned long long bad = sa.stats.rx_bad;
		unsigned int sent = frames;
		uint32_t ip = htonl(A_IP);

		memcpy(seg + 12, &ip, 4);
		memcpy(seg + 16, &ip, 4);
		seg[20] = 0x30, seg[21] = 0x39, seg[22] = 0x17, seg[23] = 0x71;	/* 12345 -> 6001 */
		seg[32] = 0x50, seg[33] = 0x02;	/* SYN */
		sa.ops->input(sa.ctx, seg, sizeof(seg));
		pvnet_stack_poll(&sa);
		T_CHECK(sa.stats.rx_bad == bad + 1 && frames == sent,
			"a TCP segment from the stack's own address: dropped (rx_bad), nothing sent back",
			"rx_bad %llu -> %llu, frames %u -> %u", bad, (unsigned long long)sa.stats.rx_bad,
			sent, frames);
	}
	T_CHECK(sa.nfilters == 0 && sb.nfilters == 0, "every filter given back after the closes",
		"A %u B %u", sa.nfilters, sb.nfilters);
	T_CHECK(sa.bad_src == 0 && sb.bad_src == 0,
		"no frame the NIC's source check would refuse (each from a port with a live filter)",
		"A %lu B %lu", sa.bad_src, sb.bad_src);
	T_EQ(sa.stats.tx_tcp_no_buf + sb.stats.tx_tcp_no_buf, 0, "never out of TX buffers here");
	sa.ops->close(sa.ctx);
	sb.ops->close(sb.ctx);
	T_CHECK(!sa.ops && !sb.ops, "closing the stacks removes their TCP layers", "still there");
	free(data);
	free(out);
	return t_done();
}
