/* SPDX-License-Identifier: MIT */
/*
 * udp.c - libpvnet layer 2: UDP sockets over one VI (libpvnet.h).
 *
 * How this works
 * ==============
 *
 * A stack is a VI, one memreg of buffers split in two fixed halves
 * (RX: all posted to the NIC at open; TX: a free list), a small cache of
 * next-hop MACs and the UDP sockets.  Everything happens in the caller's
 * thread, inside the calls: pvnet_stack_poll() reads the VI's events;
 *  - RX: the frame is parsed (Ethernet, IPv4 without options beyond its
 *    IHL, not a fragment, UDP, checksums) and its buffer queued on the
 *    socket bound to its port, or reposted at once and counted
 *    (rx_no_socket, rx_not_peer, rx_queue_full, rx_bad);
 *    recvfrom() copies the payload out and reposts the buffer;
 *  - TX_DONE / TX ERROR: the buffer goes back on the free list (an error,
 *    e.g. TX_SPOOF, is counted: tx_errors here, the reason in the NIC's).
 * sendto() builds Ethernet + IPv4 + UDP in a free TX buffer (checksums in
 * software; payload up to MTU - 28 and one buffer) and posts it.  A call
 * that would block sleeps on the VI's wake-up (prime, re-check, poll);
 * in spin mode it first busy-polls the event queue for the spin time
 * (PVNET_SPIN_US microseconds, bounded), as Onload's EF_POLL_USEC.
 *
 * Next hops: the cache keeps an entry PVNET_NEIGH_TTL_MS, then asks the
 * kernel again (neigh.c): our traffic does not refresh the kernel's
 * entry, so it is the kernel's view, re-read, that we follow.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pvnet/libpvnet.h"
#include "libpvnet/internal.h"

#define UDP_RXQ			64	/* datagrams queued per socket */
#define STACK_BUFS		512	/* at most, if the policy gives that many */
#define NEIGH_SLOTS		16
#define PVNET_NEIGH_TTL_MS	10000
#define NEIGH_WAIT_MS		1000
#define HDRS			(14 + 20 + 8)
#define STACK_LINGER_MS		200	/* close: how long sent datagrams may take to leave */

struct udp_rx {
	uint16_t idx;		/* buffer index in the memreg */
	uint16_t off, len;	/* the payload in it */
	uint16_t src_port;	/* network order */
	uint32_t src_ip;
};

struct pvnet_udp {
	struct pvnet_stack *st;
	struct pvnet_udp *next;
	struct pvnet_filter *filter;	/* set once bound */
	uint16_t port;			/* host order */
	bool connected, nonblock;
	int timeout_ms;
	uint32_t peer_ip;
	uint16_t peer_port;		/* network order */
	uint32_t qhead, qtail;
	struct udp_rx q[UDP_RXQ];
};

struct neigh_entry {
	uint32_t ip;
	uint8_t mac[6];
	long expires_ms;
};

struct pvnet_stack {
	struct pvnet_vi *vi;
	struct pvnet_memreg *mr;
	struct pvnet_vi_attr attr;
	unsigned int nrx;		/* buffers [0, nrx) are RX, the rest TX */
	uint32_t *tx_free;		/* indices */
	unsigned int ntx_free;
	struct pvnet_udp *socks;
	struct neigh_entry nc[NEIGH_SLOTS];
	unsigned int nc_next;
	uint16_t ip_id;
	unsigned int spin_us;		/* busy polling before sleeping (PVNET_SPIN_US) */
	struct pvnet_stack_stats stats;
	struct lp_neigh_counters ncnt;
	const struct lp_tcp_ops *tcp;	/* layer 3's hooks (tcp.c), NULL: no TCP socket yet */
	void *tcp_ctx;
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* PVNET_SPIN_US: microseconds, 0 .. PVNET_SPIN_MAX_US; anything else: 0. */
static unsigned int stack_spin_env(void)
{
	const char *s = getenv("PVNET_SPIN_US");
	char *end;
	unsigned long v;

	if (!s || !*s)
		return 0;
	v = strtoul(s, &end, 10);
	return *end || v > PVNET_SPIN_MAX_US ? 0 : (unsigned int)v;
}

static uint32_t csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The UDP checksum's sum over the pseudo-header and the datagram (0xffff: good). */
static uint16_t udp_sum(uint32_t src, uint32_t dst, const uint8_t *udp, uint16_t ulen)
{
	uint8_t ph[12];

	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = IPPROTO_UDP;
	ph[10] = (uint8_t)(ulen >> 8);
	ph[11] = (uint8_t)ulen;
	return csum_fold(csum_add(csum_add(0, ph, 12), udp, ulen));
}

/* ---- the stack ---- */

int pvnet_stack_open(struct pvnet_stack **out, const char *broker, uint32_t local_ip)
{
	struct pvnet_stack *st = calloc(1, sizeof(*st));
	unsigned int n;
	int rc;

	*out = NULL;
	if (!st)
		return -ENOMEM;
	rc = pvnet_vi_open(&st->vi, broker, local_ip);
	if (rc) {
		free(st);
		return rc;
	}
	pvnet_vi_attr(st->vi, &st->attr);
	n = st->attr.max_bufs < STACK_BUFS ? st->attr.max_bufs : STACK_BUFS;
	rc = n < 2 ? -EDQUOT : pvnet_memreg_alloc(&st->mr, st->vi, n);
	if (!rc && !(st->tx_free = calloc(n, sizeof(*st->tx_free))))
		rc = -ENOMEM;
	if (rc) {
		pvnet_stack_close(st);
		return rc;
	}
	st->nrx = n / 2;
	for (unsigned int i = 0; i < st->nrx; i++)
		pvnet_vi_rx_post(st->vi, pvnet_memreg_buf_id(st->mr, i), PVNET_BUF_SIZE);
	for (unsigned int i = st->nrx; i < n; i++)
		st->tx_free[st->ntx_free++] = i;
	st->ip_id = (uint16_t)(now_ms() ^ (long)getpid());
	st->spin_us = stack_spin_env();
	*out = st;
	return 0;
}

/*
 * Datagrams already handed to the NIC still go out: wait (at most
 * STACK_LINGER_MS) for their TX_DONE before the VI, and with it what is
 * still in its TX ring, is freed.
 */
void lp_stack_tx_drain(struct pvnet_stack *st)
{
	long end = now_ms() + STACK_LINGER_MS;
	unsigned int ntx = pvnet_memreg_count(st->mr) - st->nrx;

	while (st->ntx_free < ntx && now_ms() < end) {
		if (pvnet_stack_poll(st) < 0)
			return;
		if (st->ntx_free < ntx)
			pvnet_vi_wait(st->vi, 10);
	}
}

void pvnet_stack_close(struct pvnet_stack *st)
{
	if (!st)
		return;
	if (st->tcp)
		st->tcp->close(st->tcp_ctx);	/* its sockets close (and linger) first */
	if (st->mr && st->tx_free)
		lp_stack_tx_drain(st);
	while (st->socks)
		pvnet_udp_close(st->socks);
	pvnet_vi_close(st->vi);		/* first: the NIC lets go of the buffers */
	pvnet_memreg_free(st->mr);
	free(st->tx_free);
	free(st);
}

struct pvnet_vi *pvnet_stack_vi(struct pvnet_stack *st)
{
	return st->vi;
}

int pvnet_stack_set_spin(struct pvnet_stack *st, unsigned int us)
{
	if (us > PVNET_SPIN_MAX_US)
		return -EINVAL;
	st->spin_us = us;
	return 0;
}

void pvnet_stack_stats(const struct pvnet_stack *st, struct pvnet_stack_stats *s)
{
	*s = st->stats;
	s->neigh_lookups = st->ncnt.lookups;
	s->neigh_triggers = st->ncnt.triggers;
}

static void stack_rx_repost(struct pvnet_stack *st, unsigned int idx)
{
	pvnet_vi_rx_post(st->vi, pvnet_memreg_buf_id(st->mr, idx), PVNET_BUF_SIZE);
}

static struct pvnet_udp *stack_sock(struct pvnet_stack *st, uint16_t port)
{
	for (struct pvnet_udp *s = st->socks; s; s = s->next)
		if (s->filter && s->port == port)
			return s;
	return NULL;
}

/* Parse a received frame; the socket it is for and its datagram in *rx, or NULL (counted). */
static struct pvnet_udp *stack_rx_parse(struct pvnet_stack *st, const uint8_t *f, uint32_t len,
					uint32_t flags, struct udp_rx *rx)
{
	uint32_t ihl, tot, src, dst;
	uint16_t ulen, dport;
	const uint8_t *ip = f + 14, *udp;
	struct pvnet_udp *s;

	if (len < HDRS || f[12] != 0x08 || f[13] != 0x00 || (ip[0] >> 4) != 4)
		goto bad;
	ihl = (ip[0] & 15u) * 4;
	tot = (uint32_t)ip[2] << 8 | ip[3];
	if (ihl < 20 || tot < ihl + 8 || 14 + tot > len || ip[9] != IPPROTO_UDP ||
	    ((ip[6] & 0x3f) | ip[7]) || csum_fold(csum_add(0, ip, ihl)) != 0xffff)
		goto bad;	/* short, not UDP, a fragment (MF or an offset), bad header sum */
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	udp = ip + ihl;
	ulen = (uint16_t)(udp[4] << 8 | udp[5]);
	if (dst != st->attr.local_ip || ulen < 8 || ulen > tot - ihl)
		goto bad;
	if ((udp[6] | udp[7]) && !(flags & PV_NIC_RX_F_CSUM_OK) &&
	    udp_sum(src, dst, udp, ulen) != 0xffff)
		goto bad;
	dport = (uint16_t)(udp[2] << 8 | udp[3]);
	s = stack_sock(st, dport);
	if (!s) {
		st->stats.rx_no_socket++;
		return NULL;
	}
	memcpy(&rx->src_port, udp, 2);
	rx->src_ip = src;
	if (s->connected && (src != s->peer_ip || rx->src_port != s->peer_port)) {
		st->stats.rx_not_peer++;
		return NULL;
	}
	rx->off = (uint16_t)(udp + 8 - f);
	rx->len = (uint16_t)(ulen - 8);
	return s;
bad:
	st->stats.rx_bad++;
	return NULL;
}

/*
 * An IPv4 TCP frame to our address goes to the TCP layer (lwIP checks the
 * rest: its checksums, lengths, options, and counts what it drops): true.
 * Anything else: false, for the UDP parser.
 */
static bool stack_rx_tcp(struct pvnet_stack *st, const uint8_t *f, uint32_t len)
{
	const uint8_t *ip = f + 14;
	uint32_t tot, dst;

	if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00 || (ip[0] >> 4) != 4 ||
	    ip[9] != IPPROTO_TCP)
		return false;
	tot = (uint32_t)ip[2] << 8 | ip[3];
	memcpy(&dst, ip + 16, 4);
	if (tot < 20 || 14 + tot > len || dst != st->attr.local_ip) {
		st->stats.rx_bad++;
		return true;
	}
	st->stats.rx_tcp++;
	st->tcp->input(st->tcp_ctx, ip, tot);
	return true;
}

static void stack_rx(struct pvnet_stack *st, const struct pvnet_event *ev)
{
	int idx = pvnet_memreg_index(st->mr, ev->buf_id);
	struct udp_rx rx;
	struct pvnet_udp *s;

	if (idx < 0 || (unsigned int)idx >= st->nrx)
		return;		/* not an RX buffer of ours: the NIC never says so */
	if (st->tcp && stack_rx_tcp(st, pvnet_memreg_buf(st->mr, (unsigned int)idx),
				    ev->len < PVNET_BUF_SIZE ? ev->len : PVNET_BUF_SIZE)) {
		stack_rx_repost(st, (unsigned int)idx);	/* TCP copied it out */
		return;
	}
	s = stack_rx_parse(st, pvnet_memreg_buf(st->mr, (unsigned int)idx),
			   ev->len < PVNET_BUF_SIZE ? ev->len : PVNET_BUF_SIZE, ev->flags, &rx);
	if (s && s->qtail - s->qhead == UDP_RXQ) {
		st->stats.rx_queue_full++;
		s = NULL;
	}
	if (!s) {
		stack_rx_repost(st, (unsigned int)idx);
		return;
	}
	rx.idx = (uint16_t)idx;
	s->q[s->qtail++ % UDP_RXQ] = rx;
	st->stats.rx_delivered++;
}

static void stack_tx_back(struct pvnet_stack *st, uint32_t buf_id)
{
	int idx = pvnet_memreg_index(st->mr, buf_id);

	if (idx >= (int)st->nrx && st->ntx_free < pvnet_memreg_count(st->mr) - st->nrx)
		st->tx_free[st->ntx_free++] = (uint32_t)idx;
}

int pvnet_stack_poll(struct pvnet_stack *st)
{
	struct pvnet_event ev[64];
	int n, total = 0;

	do {
		n = pvnet_vi_poll(st->vi, ev, 64);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			switch (ev[i].type) {
			case PVNET_EV_RX:
				stack_rx(st, &ev[i]);
				break;
			case PVNET_EV_TX_DONE:
				st->stats.tx_done++;
				stack_tx_back(st, ev[i].buf_id);
				break;
			case PVNET_EV_ERROR:
				if (ev[i].rx) {
					int idx = pvnet_memreg_index(st->mr, ev[i].buf_id);

					st->stats.rx_errors++;
					if (idx >= 0 && (unsigned int)idx < st->nrx)
						stack_rx_repost(st, (unsigned int)idx);
				} else {
					st->stats.tx_errors++;
					stack_tx_back(st, ev[i].buf_id);
				}
				break;
			default:
				break;
			}
		}
		total += n;
	} while (n == 64);
	if (st->tcp)
		st->tcp->poll(st->tcp_ctx);
	return total;
}

/* Spin mode: poll for @ready until the spin time (or @end_ms) is over; 1 ready, 0 not, -EIO. */
static int stack_spin(struct pvnet_stack *st, bool (*ready)(const void *), const void *arg,
		      long end_ms)
{
	int64_t end = now_us() + st->spin_us;

	do {
		int rc = pvnet_stack_poll(st);

		if (rc < 0)
			return rc;
		if (ready(arg))
			return 1;
		pvnet_vi_spin_pause(st->vi);
	} while (now_us() < end && (!end_ms || now_ms() < end_ms));
	return 0;
}

/*
 * Wait for @ready (a condition on the stack) by polling, spinning (spin
 * mode) and sleeping on the wake-up: 0 when it holds, -EAGAIN when
 * @nonblock or the timeout ends first, -EIO.
 */
static int stack_wait(struct pvnet_stack *st, bool (*ready)(const void *), const void *arg,
		      bool nonblock, int timeout_ms)
{
	long end = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;

	for (;;) {
		int rc = pvnet_stack_poll(st), left = -1;

		if (rc < 0)
			return rc;
		if (ready(arg))
			return 0;
		if (nonblock)
			return -EAGAIN;
		if (st->spin_us && (rc = stack_spin(st, ready, arg, end)) != 0)
			return rc < 0 ? rc : 0;
		if (timeout_ms >= 0 && (left = (int)(end - now_ms())) <= 0)
			return -EAGAIN;
		if (st->tcp) {	/* wake for the TCP layer's next timer */
			int t = st->tcp->sleep_ms(st->tcp_ctx);

			if (t >= 0 && (left < 0 || t < left))
				left = t;
		}
		rc = pvnet_vi_wait(st->vi, left);
		if (rc < 0 && rc != -ETIMEDOUT)
			return rc;
	}
}

/* ---- for the TCP layer (internal.h) ---- */

void lp_stack_set_tcp(struct pvnet_stack *st, const struct lp_tcp_ops *ops, void *ctx)
{
	st->tcp = ops;
	st->tcp_ctx = ctx;
}

void *lp_stack_tcp_ctx(const struct pvnet_stack *st)
{
	return st->tcp_ctx;
}

const struct pvnet_vi_attr *lp_stack_attr(const struct pvnet_stack *st)
{
	return &st->attr;
}

int lp_stack_wait(struct pvnet_stack *st, bool (*ready)(const void *), const void *arg,
		  bool nonblock, int timeout_ms)
{
	return stack_wait(st, ready, arg, nonblock, timeout_ms);
}

struct pvnet_stack_stats *lp_stack_counters(struct pvnet_stack *st)
{
	return &st->stats;
}

uint8_t *lp_stack_tx_get(struct pvnet_stack *st, uint32_t *idx)
{
	if (!st->ntx_free)
		return NULL;
	*idx = st->tx_free[--st->ntx_free];
	return pvnet_memreg_buf(st->mr, *idx);
}

int lp_stack_tx_post(struct pvnet_stack *st, uint32_t idx, uint16_t len)
{
	int rc = pvnet_vi_transmit(st->vi, pvnet_memreg_buf_id(st->mr, idx), 0, len);

	if (rc < 0)
		st->tx_free[st->ntx_free++] = idx;
	return rc;
}

/* ---- sockets ---- */

int pvnet_udp_open(struct pvnet_stack *st, struct pvnet_udp **out)
{
	struct pvnet_udp *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->st = st;
	s->timeout_ms = -1;
	s->next = st->socks;
	st->socks = s;
	*out = s;
	return 0;
}

void pvnet_udp_close(struct pvnet_udp *s)
{
	struct pvnet_stack *st;

	if (!s)
		return;
	st = s->st;
	for (; s->qhead != s->qtail; s->qhead++)
		stack_rx_repost(st, s->q[s->qhead % UDP_RXQ].idx);
	if (s->filter)
		pvnet_vi_filter_del(st->vi, s->filter);
	for (struct pvnet_udp **p = &st->socks; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	free(s);
}

int pvnet_udp_bind(struct pvnet_udp *s, const struct sockaddr_in *a)
{
	struct pvnet_filter_spec spec = { .proto = IPPROTO_UDP, .local_port = ntohs(a->sin_port) };
	int rc;

	if (s->filter)
		return -EINVAL;
	if (a->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	if (a->sin_addr.s_addr != INADDR_ANY && a->sin_addr.s_addr != s->st->attr.local_ip)
		return -EADDRNOTAVAIL;
	spec.local_ip = s->st->attr.local_ip;
	rc = pvnet_vi_filter_add(s->st->vi, &spec, &s->filter);
	if (rc)
		return rc;
	s->port = pvnet_filter_port(s->filter);
	return 0;
}

int pvnet_udp_connect(struct pvnet_udp *s, const struct sockaddr_in *a)
{
	if (a->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	if (!a->sin_addr.s_addr || !a->sin_port)
		return -EINVAL;
	s->peer_ip = a->sin_addr.s_addr;
	s->peer_port = a->sin_port;
	s->connected = true;
	return 0;
}

void pvnet_udp_name(const struct pvnet_udp *s, struct sockaddr_in *a)
{
	*a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = s->st->attr.local_ip,
				   .sin_port = htons(s->port) };
}

void pvnet_udp_peer(const struct pvnet_udp *s, struct sockaddr_in *a)
{
	*a = (struct sockaddr_in){ .sin_family = AF_INET };
	if (s->connected) {
		a->sin_addr.s_addr = s->peer_ip;
		a->sin_port = s->peer_port;
	}
}

unsigned int pvnet_udp_pending(const struct pvnet_udp *s)
{
	return s->qtail - s->qhead;
}

int pvnet_udp_set_nonblock(struct pvnet_udp *s, bool on)
{
	s->nonblock = on;
	return 0;
}

void pvnet_udp_set_timeout(struct pvnet_udp *s, int ms)
{
	s->timeout_ms = ms;
}

/* The next hop's MAC for @dst, from the cache or the kernel. */
static int stack_nexthop(struct pvnet_stack *st, uint32_t dst, uint8_t mac[6])
{
	long now = now_ms();
	struct neigh_entry *e;
	int rc;

	for (unsigned int i = 0; i < NEIGH_SLOTS; i++) {
		if (st->nc[i].ip == dst && st->nc[i].expires_ms > now) {
			memcpy(mac, st->nc[i].mac, 6);
			return 0;
		}
	}
	rc = lp_neigh_resolve(dst, st->attr.local_ip, mac, NEIGH_WAIT_MS, &st->ncnt);
	if (rc)
		return rc;
	e = &st->nc[st->nc_next++ % NEIGH_SLOTS];
	*e = (struct neigh_entry){ .ip = dst, .expires_ms = now_ms() + PVNET_NEIGH_TTL_MS };
	memcpy(e->mac, mac, 6);
	return 0;
}

int lp_stack_nexthop(struct pvnet_stack *st, uint32_t dst, uint8_t mac[6])
{
	return stack_nexthop(st, dst, mac);
}

static void udp_build(struct pvnet_stack *st, uint8_t *f, const uint8_t dmac[6],
		      const struct pvnet_udp *s, uint32_t dst, uint16_t dport,
		      const void *buf, uint16_t len)
{
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint16_t tot = (uint16_t)(20 + 8 + len), ulen = (uint16_t)(8 + len), sum;
	uint16_t id = st->ip_id++;

	memcpy(f, dmac, 6);
	memcpy(f + 6, st->attr.mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	ip[0] = 0x45;
	ip[1] = 0;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[4] = (uint8_t)(id >> 8);
	ip[5] = (uint8_t)id;
	ip[6] = 0x40;	/* DF: we never fragment */
	ip[7] = 0;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	ip[10] = ip[11] = 0;
	memcpy(ip + 12, &st->attr.local_ip, 4);
	memcpy(ip + 16, &dst, 4);
	sum = (uint16_t)~csum_fold(csum_add(0, ip, 20));
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
	udp[0] = (uint8_t)(s->port >> 8);
	udp[1] = (uint8_t)s->port;
	memcpy(udp + 2, &dport, 2);
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	udp[6] = udp[7] = 0;
	memcpy(udp + 8, buf, len);
	sum = (uint16_t)~udp_sum(st->attr.local_ip, dst, udp, ulen);
	if (!sum)
		sum = 0xffff;	/* 0 means "no checksum" in UDP */
	udp[6] = (uint8_t)(sum >> 8);
	udp[7] = (uint8_t)sum;
}

static bool stack_has_tx_buf(const void *arg)
{
	return ((const struct pvnet_stack *)arg)->ntx_free > 0;
}

ssize_t pvnet_udp_sendto(struct pvnet_udp *s, const void *buf, size_t len, int flags,
			 const struct sockaddr_in *to)
{
	struct pvnet_stack *st = s->st;
	uint32_t dst = to ? to->sin_addr.s_addr : s->peer_ip;
	uint16_t dport = to ? to->sin_port : s->peer_port;
	size_t max = st->attr.mtu - 28 < PVNET_BUF_SIZE - HDRS ? st->attr.mtu - 28 :
								 PVNET_BUF_SIZE - HDRS;
	uint8_t mac[6];
	uint32_t idx;
	int rc;

	if (to && to->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	if ((!to && !s->connected) || !dst || !dport)
		return -EDESTADDRREQ;
	if (len > max)
		return -EMSGSIZE;
	if (!s->filter) {
		const struct sockaddr_in any = { .sin_family = AF_INET };

		if ((rc = pvnet_udp_bind(s, &any)) < 0)
			return rc;
	}
	if ((rc = stack_nexthop(st, dst, mac)) < 0)
		return rc;
	rc = stack_wait(st, stack_has_tx_buf, st, s->nonblock || (flags & PVNET_MSG_DONTWAIT),
			s->timeout_ms);
	if (rc < 0)
		return rc;
	idx = st->tx_free[--st->ntx_free];
	udp_build(st, pvnet_memreg_buf(st->mr, idx), mac, s, dst, dport, buf, (uint16_t)len);
	rc = pvnet_vi_transmit(st->vi, pvnet_memreg_buf_id(st->mr, idx), 0, (uint16_t)(HDRS + len));
	if (rc < 0) {
		st->tx_free[st->ntx_free++] = idx;
		return rc == -ENOSPC ? -EAGAIN : rc;
	}
	st->stats.tx_sent++;
	return (ssize_t)len;
}

ssize_t pvnet_udp_send(struct pvnet_udp *s, const void *buf, size_t len, int flags)
{
	return pvnet_udp_sendto(s, buf, len, flags, NULL);
}

static bool udp_has_rx(const void *arg)
{
	const struct pvnet_udp *s = arg;

	return s->qhead != s->qtail;
}

ssize_t pvnet_udp_recvfrom(struct pvnet_udp *s, void *buf, size_t len, int flags,
			   struct sockaddr_in *from)
{
	struct pvnet_stack *st = s->st;
	struct udp_rx rx;
	int rc = stack_wait(st, udp_has_rx, s, s->nonblock || (flags & PVNET_MSG_DONTWAIT),
			    s->timeout_ms);

	if (rc < 0)
		return rc;
	rx = s->q[s->qhead++ % UDP_RXQ];
	if (len > rx.len)
		len = rx.len;
	memcpy(buf, (uint8_t *)pvnet_memreg_buf(st->mr, rx.idx) + rx.off, len);
	if (from)
		*from = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = rx.src_port,
					      .sin_addr.s_addr = rx.src_ip };
	stack_rx_repost(st, rx.idx);
	return (ssize_t)len;
}

ssize_t pvnet_udp_recv(struct pvnet_udp *s, void *buf, size_t len, int flags)
{
	return pvnet_udp_recvfrom(s, buf, len, flags, NULL);
}
