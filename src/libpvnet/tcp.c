/* SPDX-License-Identifier: MIT */
/*
 * tcp.c - libpvnet layer 3: TCP sockets over a stack, through lwIP
 * (libpvnet.h).
 *
 * How this works
 * ==============
 *
 * Debian's liblwip (linked, not copied) is built for the Hurd's socket
 * server: NO_SYS 0, sockets, a tcpip thread.  We use none of that, only
 * its raw (callback) API, as NO_SYS code would: lwip_init() once, no
 * tcpip_init() (so no thread, and its core-locking check, which looks
 * only once a tcpip thread exists, never fires), and every lwIP call
 * under one recursive lock of ours (lwIP is one stack per process; the
 * lock is what lets two pvnet stacks live in two threads).  The
 * structures of its headers are built from the lwipopts.h it ships,
 * which is what the library was compiled with.
 *
 * A stack's TCP layer (struct lp_tcp) is an lwIP netif:
 *  - in: udp.c hands us each IPv4 TCP frame to our address (our filters'
 *    ports); we copy the IP packet into a pbuf and give it to ip4_input();
 *    the RX buffer is reposted at once;
 *  - out: netif->output gets IP packets; the next hop's MAC comes from the
 *    stack's cache (the kernel's neighbour table: lwIP's ARP is not used,
 *    the NIC would refuse ARP from the VI anyway), Ethernet in front, one
 *    TX buffer each.  No TX buffer free: ERR_MEM, counted; lwIP sends the
 *    segment again later (its unsent queue, or a retransmission);
 *  - every pcb is bound to the netif (tcp_bind_netif): two stacks on one
 *    address never see each other's segments;
 *  - lwIP's timers run after each poll of the stack (sys_check_timeouts)
 *    and bound how long a wait sleeps.
 * Sockets hold what lwIP's callbacks give: received pbufs (acknowledged
 * to lwIP with tcp_recved() as the caller reads them, so the window is
 * what the caller has not read), the FIN, the error that freed the pcb,
 * the connections a listener accepted.
 *
 * Ports: each socket's local port is a filter of the VI (the broker's),
 * shared by reference between a listener and the connections it
 * accepted; the filter goes when the last of them is closed.  Close
 * lingers until lwIP is done with the connection (or 1 s): the port must
 * stay ours while our FIN is in flight, else its ACK would reach the
 * kernel instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <lwip/init.h>
#include <lwip/ip4.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/tcp.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/timeouts.h>

#include "pvnet/libpvnet.h"
#include "libpvnet/internal.h"

#define TCP_BACKLOG_MAX		64
#define TCP_LINGER_MS		1000
#define HDR_ETH			14

struct tcp_port {
	struct pvnet_filter *filter;
	uint16_t port;		/* host order */
	unsigned int refs;
};

enum lp_tcp_state {
	TS_NEW,			/* open, maybe bound */
	TS_LISTEN,
	TS_CONNECTING,
	TS_CONNECTED,		/* established (or closing with data still readable) */
	TS_DEAD,		/* the pcb is gone: err says why */
};

struct lp_tcp;

struct pvnet_tcp {
	struct lp_tcp *t;
	struct pvnet_tcp *next;		/* the layer's sockets (not those waiting in a backlog) */
	struct tcp_pcb *pcb;
	struct tcp_port *port;
	enum lp_tcp_state state;
	int err;			/* pending error (-errno), for SO_ERROR and the next call */
	bool nonblock, eof, shut_wr, reset;
	int timeout_ms;
	struct pbuf *rxq;		/* received, not yet read */
	/* a listener: connections established, not yet accepted */
	struct pvnet_tcp *acq[TCP_BACKLOG_MAX];
	unsigned int acq_n, backlog;
};

struct lp_tcp {
	struct pvnet_stack *st;
	struct netif netif;
	struct pvnet_tcp *socks;
};

static pthread_mutex_t lwip_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_once_t lwip_once = PTHREAD_ONCE_INIT;

static void lwip_init_once(void)
{
	lwip_init();
}

static void lock(void)
{
	pthread_mutex_lock(&lwip_lock);
}

static void unlock(void)
{
	pthread_mutex_unlock(&lwip_lock);
}

/* lwIP's error as -errno (lwIP's own table, err_to_errno()). */
static int lwerr(err_t e)
{
	return -err_to_errno(e);
}

/* ---- the netif ---- */

static err_t netif_out(struct netif *nif, struct pbuf *p, const ip4_addr_t *dst)
{
	struct lp_tcp *t = nif->state;
	const struct pvnet_vi_attr *a = lp_stack_attr(t->st);
	uint8_t mac[6], *f;
	uint32_t idx;

	if ((unsigned int)p->tot_len + HDR_ETH > PVNET_BUF_SIZE)
		return ERR_BUF;		/* never: the netif's MTU keeps segments smaller */
	if (lp_stack_nexthop(t->st, ip4_addr_get_u32(dst), mac) < 0)
		return ERR_RTE;
	f = lp_stack_tx_get(t->st, &idx);
	if (!f) {
		lp_stack_counters(t->st)->tx_tcp_no_buf++;
		return ERR_MEM;
	}
	memcpy(f, mac, 6);
	memcpy(f + 6, a->mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	pbuf_copy_partial(p, f + HDR_ETH, p->tot_len, 0);
	if (lp_stack_tx_post(t->st, idx, (uint16_t)(HDR_ETH + p->tot_len)) < 0) {
		lp_stack_counters(t->st)->tx_tcp_no_buf++;
		return ERR_MEM;
	}
	lp_stack_counters(t->st)->tx_tcp++;
	return ERR_OK;
}

/* Whole Ethernet frames (lwIP sends none itself: no ARP on this netif). */
static err_t netif_linkout(struct netif *nif, struct pbuf *p)
{
	struct lp_tcp *t = nif->state;
	uint8_t *f;
	uint32_t idx;

	if (p->tot_len > PVNET_BUF_SIZE)
		return ERR_BUF;
	f = lp_stack_tx_get(t->st, &idx);
	if (!f)
		return ERR_MEM;
	pbuf_copy_partial(p, f, p->tot_len, 0);
	return lp_stack_tx_post(t->st, idx, p->tot_len) < 0 ? ERR_MEM : ERR_OK;
}

static err_t netif_setup(struct netif *nif)
{
	struct lp_tcp *t = nif->state;
	const struct pvnet_vi_attr *a = lp_stack_attr(t->st);

	nif->name[0] = 'p';
	nif->name[1] = 'v';
	nif->mtu = (u16_t)(a->mtu < PVNET_BUF_SIZE - HDR_ETH ? a->mtu : PVNET_BUF_SIZE - HDR_ETH);
	nif->hwaddr_len = 6;
	memcpy(nif->hwaddr, a->mac, 6);
	nif->flags = NETIF_FLAG_LINK_UP;
	nif->output = netif_out;
	nif->linkoutput = netif_linkout;
	return ERR_OK;
}

/* ---- the stack's hooks (udp.c calls them) ---- */

/*
 * A source lwIP must never answer: one of its own netifs' addresses (its
 * reply would be lwIP's loopback, which needs the tcpip thread we do not
 * run: lwIP would abort the process), 0, loopback, multicast, broadcast.
 * Such a packet is spoofed (the wire never carries it to us honestly).
 */
static bool src_other_netifs = true;	/* the unit test's two stacks talk to each other */

static bool src_refused(const struct netif *in, const uint8_t *ip)
{
	uint32_t src;
	struct netif *n;

	memcpy(&src, ip + 12, 4);
	if (!src || (ntohl(src) >> 24) == 127 || (ntohl(src) >> 28) >= 14 ||
	    ip4_addr_get_u32(netif_ip4_addr(in)) == src)
		return true;
	if (src_other_netifs)
		NETIF_FOREACH(n)
			if (ip4_addr_get_u32(netif_ip4_addr(n)) == src)
				return true;
	return false;
}

static void hook_input(void *ctx, const uint8_t *ip, uint32_t len)
{
	struct lp_tcp *t = ctx;
	struct pbuf *p;

	lock();
	if (src_refused(&t->netif, ip)) {
		lp_stack_counters(t->st)->rx_bad++;
		unlock();
		return;
	}
	p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
	if (p) {
		pbuf_take(p, ip, (u16_t)len);
		if (t->netif.input(p, &t->netif) != ERR_OK)
			pbuf_free(p);
	}
	unlock();
}

static void hook_poll(void *ctx)
{
	lock();
	sys_check_timeouts();
	unlock();
}

static int hook_sleep_ms(void *ctx)
{
	u32_t ms;

	lock();
	ms = sys_timeouts_sleeptime();
	unlock();
	return ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE ? -1 : (int)(ms > 1000 ? 1000 : ms);
}

static void tcp_free_sock(struct pvnet_tcp *s);

static void hook_close(void *ctx)
{
	struct lp_tcp *t = ctx;

	while (t->socks)
		pvnet_tcp_close(t->socks);
	lock();
	netif_remove(&t->netif);
	unlock();
	lp_stack_set_tcp(t->st, NULL, NULL);
	free(t);
}

static const struct lp_tcp_ops tcp_ops = {
	.input = hook_input,
	.poll = hook_poll,
	.sleep_ms = hook_sleep_ms,
	.close = hook_close,
};

/* The stack's TCP layer, made by its first TCP socket. */
static int tcp_layer(struct pvnet_stack *st, struct lp_tcp **out)
{
	struct lp_tcp *t = lp_stack_tcp_ctx(st);
	const struct pvnet_vi_attr *a = lp_stack_attr(st);
	ip4_addr_t ip, mask, gw;

	if (t) {
		*out = t;
		return 0;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->st = st;
	pthread_once(&lwip_once, lwip_init_once);
	ip4_addr_set_u32(&ip, a->local_ip);
	ip4_addr_set_u32(&mask, 0xffffffffu);
	ip4_addr_set_zero(&gw);
	lock();
	if (!netif_add(&t->netif, &ip, &mask, &gw, t, netif_setup, ip4_input)) {
		unlock();
		free(t);
		return -ENOMEM;		/* lwIP's netif numbers are used up */
	}
	netif_set_up(&t->netif);
	unlock();
	lp_stack_set_tcp(st, &tcp_ops, t);
	*out = t;
	return 0;
}

/* ---- lwIP's callbacks (under the lock: lwIP calls them from our calls into it) ---- */

static err_t cb_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct pvnet_tcp *s = arg;

	if (!s) {		/* closed by us: lwIP's tcp_recv_null would do the same */
		if (p) {
			tcp_recved(pcb, p->tot_len);
			pbuf_free(p);
		}
		return ERR_OK;
	}
	if (!p) {
		s->eof = true;
		return ERR_OK;
	}
	if (s->rxq)
		pbuf_cat(s->rxq, p);
	else
		s->rxq = p;
	return ERR_OK;
}

static void cb_err(void *arg, err_t err)
{
	struct pvnet_tcp *s = arg;

	if (!s)
		return;
	s->pcb = NULL;		/* lwIP freed it */
	if (s->state == TS_CONNECTING && err == ERR_RST)
		s->err = -ECONNREFUSED;
	else if (s->state == TS_CONNECTING && err == ERR_ABRT)
		s->err = -ETIMEDOUT;	/* lwIP gave up its SYN retries */
	else
		s->err = lwerr(err);
	s->reset = true;
	s->state = TS_DEAD;
}

static err_t cb_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct pvnet_tcp *s = arg;

	if (s)
		s->state = TS_CONNECTED;
	return ERR_OK;
}

static void sock_callbacks(struct pvnet_tcp *s, struct tcp_pcb *pcb)
{
	tcp_arg(pcb, s);
	tcp_recv(pcb, cb_recv);
	tcp_err(pcb, cb_err);
}

static err_t cb_accept(void *arg, struct tcp_pcb *npcb, err_t err)
{
	struct pvnet_tcp *l = arg, *s;

	if (err != ERR_OK || !npcb || !l || l->acq_n >= l->backlog)
		return ERR_MEM;		/* lwIP aborts it */
	s = calloc(1, sizeof(*s));
	if (!s)
		return ERR_MEM;
	s->t = l->t;
	s->pcb = npcb;
	s->port = l->port;
	s->port->refs++;
	s->state = TS_CONNECTED;
	s->timeout_ms = -1;
	tcp_bind_netif(npcb, &l->t->netif);
	sock_callbacks(s, npcb);
	l->acq[l->acq_n++] = s;
	return ERR_OK;
}

/* ---- sockets ---- */

int pvnet_tcp_open(struct pvnet_stack *st, struct pvnet_tcp **out)
{
	struct pvnet_tcp *s;
	struct lp_tcp *t;
	int rc = tcp_layer(st, &t);

	*out = NULL;
	if (rc)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	lock();
	s->pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
	if (!s->pcb) {
		unlock();
		free(s);
		return -ENOMEM;
	}
	tcp_bind_netif(s->pcb, &t->netif);
	sock_callbacks(s, s->pcb);
	unlock();
	s->t = t;
	s->timeout_ms = -1;
	s->next = t->socks;
	t->socks = s;
	*out = s;
	return 0;
}

static void port_put(struct lp_tcp *t, struct tcp_port *p)
{
	if (p && --p->refs == 0) {
		pvnet_vi_filter_del(pvnet_stack_vi(t->st), p->filter);
		free(p);
	}
}

/* The pcb's list while lwIP has it: its state, or CLOSED when lwIP freed it or it is in TIME_WAIT. */
static enum tcp_state pcb_state(const struct tcp_pcb *pcb)
{
	for (const struct tcp_pcb *q = tcp_active_pcbs; q; q = q->next)
		if (q == pcb)
			return q->state;
	return CLOSED;
}

static bool pcb_gone(const void *arg)
{
	bool gone;

	lock();
	gone = pcb_state(arg) == CLOSED;
	unlock();
	return gone;
}

/* Drop what lwIP still has in TIME_WAIT of @pcb (no segment sent): its port is going. */
static void pcb_forget_tw(struct tcp_pcb *pcb)
{
	for (struct tcp_pcb *q = tcp_tw_pcbs; q; q = q->next) {
		if (q == pcb) {
			tcp_abort(q);
			return;
		}
	}
}

/* A socket lwIP no longer calls back about: free it and what it holds. */
static void tcp_free_sock(struct pvnet_tcp *s)
{
	if (s->rxq)
		pbuf_free(s->rxq);
	port_put(s->t, s->port);
	free(s);
}

/* Close a connection's pcb (under the lock); linger for lwIP to be done with it. */
static void tcp_close_conn(struct pvnet_tcp *s)
{
	struct tcp_pcb *pcb = s->pcb;
	bool listening = s->state == TS_LISTEN;

	if (!pcb)
		return;
	tcp_arg(pcb, NULL);	/* from now on lwIP's callbacks see no socket */
	if (!listening)
		tcp_err(pcb, NULL);	/* (lwIP refuses it on a listener, which has none) */
	s->pcb = NULL;
	if (listening || pcb->state == CLOSED) {
		tcp_close(pcb);	/* a listener or a fresh pcb: freed at once */
		return;
	}
	if (s->rxq || tcp_close(pcb) != ERR_OK) {
		tcp_abort(pcb);	/* unread data (as the kernel: RST), or lwIP out of memory */
		return;
	}
	unlock();
	lp_stack_wait(s->t->st, pcb_gone, pcb, false, TCP_LINGER_MS);
	lock();
	if (pcb_state(pcb) != CLOSED)
		tcp_abort(pcb);	/* the peer is not done after TCP_LINGER_MS */
	else
		pcb_forget_tw(pcb);
	/*
	 * The last segments (the ACK of the peer's FIN, or the RST) are in the
	 * VI's TX ring: they must leave before the port's filter goes (the
	 * caller's port_put), or the NIC refuses them as not ours, the peer
	 * sends its FIN again, and the host's kernel, now the port's owner,
	 * answers RST.
	 */
	unlock();
	lp_stack_tx_drain(s->t->st);
	lock();
}

void pvnet_tcp_close(struct pvnet_tcp *s)
{
	struct lp_tcp *t;

	if (!s)
		return;
	t = s->t;
	for (struct pvnet_tcp **p = &t->socks; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	lock();
	tcp_close_conn(s);
	for (unsigned int i = 0; i < s->acq_n; i++) {	/* connections never accepted */
		struct pvnet_tcp *c = s->acq[i];

		if (c->pcb) {
			tcp_arg(c->pcb, NULL);
			tcp_err(c->pcb, NULL);
			tcp_abort(c->pcb);
		}
		tcp_free_sock(c);
	}
	tcp_free_sock(s);
	unlock();
}

int pvnet_tcp_bind(struct pvnet_tcp *s, const struct sockaddr_in *a)
{
	const struct pvnet_vi_attr *at = lp_stack_attr(s->t->st);
	struct pvnet_filter_spec spec = { .proto = IPPROTO_TCP, .local_ip = at->local_ip,
					  .local_port = ntohs(a->sin_port) };
	struct tcp_port *p;
	ip_addr_t ip;
	err_t e;
	int rc;

	if (s->port || s->state != TS_NEW)
		return -EINVAL;
	if (a->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	if (a->sin_addr.s_addr != INADDR_ANY && a->sin_addr.s_addr != at->local_ip)
		return -EADDRNOTAVAIL;
	if (!s->pcb)
		return s->err ? s->err : -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	rc = pvnet_vi_filter_add(pvnet_stack_vi(s->t->st), &spec, &p->filter);
	if (rc) {
		free(p);
		return rc;
	}
	p->port = pvnet_filter_port(p->filter);
	p->refs = 1;
	ip = (ip_addr_t)IPADDR4_INIT(at->local_ip);
	lock();
	e = tcp_bind(s->pcb, &ip, p->port);
	unlock();
	if (e != ERR_OK) {	/* lwIP still has the port (a TIME_WAIT of ours it did not let go) */
		pvnet_vi_filter_del(pvnet_stack_vi(s->t->st), p->filter);
		free(p);
		return lwerr(e);
	}
	s->port = p;
	return 0;
}

int pvnet_tcp_listen(struct pvnet_tcp *s, int backlog)
{
	struct tcp_pcb *l;
	err_t e = ERR_OK;

	if (s->state == TS_LISTEN)
		return 0;
	if (!s->port || s->state != TS_NEW || !s->pcb)
		return -EINVAL;
	if (backlog < 1)
		backlog = 1;
	if (backlog > TCP_BACKLOG_MAX)
		backlog = TCP_BACKLOG_MAX;
	lock();
	l = tcp_listen_with_backlog_and_err(s->pcb, (u8_t)backlog, &e);
	if (l) {		/* the listening pcb replaces the one bound (freed by lwIP) */
		s->pcb = l;
		tcp_arg(l, s);
		tcp_accept(l, cb_accept);
		s->state = TS_LISTEN;
		s->backlog = (unsigned int)backlog;
	}
	unlock();
	return l ? 0 : lwerr(e);
}

struct wait_arg {
	const struct pvnet_tcp *s;
	size_t want;
};

static bool acceptable(const void *arg)
{
	const struct pvnet_tcp *s = arg;

	return s->acq_n > 0 || !s->pcb;
}

int pvnet_tcp_accept(struct pvnet_tcp *s, struct pvnet_tcp **out, struct sockaddr_in *from)
{
	struct pvnet_tcp *c;
	int rc;

	*out = NULL;
	if (s->state != TS_LISTEN)
		return -EINVAL;
	rc = lp_stack_wait(s->t->st, acceptable, s, s->nonblock, s->timeout_ms);
	if (rc < 0)
		return rc;
	lock();
	if (!s->acq_n) {
		unlock();
		return -EIO;
	}
	c = s->acq[0];
	memmove(s->acq, s->acq + 1, --s->acq_n * sizeof(s->acq[0]));
	if (c->pcb) {
		tcp_backlog_accepted(c->pcb);
	}
	unlock();
	c->next = s->t->socks;
	s->t->socks = c;
	if (from)
		pvnet_tcp_name(c, NULL, from);
	*out = c;
	return 0;
}

static bool connect_done(const void *arg)
{
	const struct pvnet_tcp *s = arg;

	return s->state != TS_CONNECTING;
}

int pvnet_tcp_connect(struct pvnet_tcp *s, const struct sockaddr_in *a)
{
	ip_addr_t ip;
	err_t e;
	int rc;

	if (s->state == TS_CONNECTED)
		return -EISCONN;
	if (s->state == TS_CONNECTING) {
		rc = lp_stack_wait(s->t->st, connect_done, s, true, -1);	/* poll once */
		if (rc < 0 && rc != -EAGAIN)
			return rc;
		if (s->state == TS_CONNECTED)
			return 0;
		if (s->state != TS_CONNECTING)
			return pvnet_tcp_error(s);
		if (s->nonblock)
			return -EALREADY;
	} else {
		if (s->state != TS_NEW || !s->pcb)
			return s->err ? pvnet_tcp_error(s) : -EINVAL;
		if (a->sin_family != AF_INET)
			return -EAFNOSUPPORT;
		if (!a->sin_addr.s_addr || !a->sin_port)
			return -EINVAL;
		if (a->sin_addr.s_addr == lp_stack_attr(s->t->st)->local_ip)
			return -ENETUNREACH;	/* ourselves: lwIP's loopback needs its thread */
		if (!s->port) {
			const struct sockaddr_in any = { .sin_family = AF_INET };

			if ((rc = pvnet_tcp_bind(s, &any)) < 0)
				return rc;
		}
		ip = (ip_addr_t)IPADDR4_INIT(a->sin_addr.s_addr);
		lock();
		s->state = TS_CONNECTING;
		e = tcp_connect(s->pcb, &ip, ntohs(a->sin_port), cb_connected);
		if (e != ERR_OK)
			s->state = TS_NEW;
		unlock();
		if (e != ERR_OK)
			return lwerr(e);
		if (s->nonblock)
			return -EINPROGRESS;
	}
	rc = lp_stack_wait(s->t->st, connect_done, s, false, s->timeout_ms);
	if (rc < 0)
		return rc;
	return s->state == TS_CONNECTED ? 0 : pvnet_tcp_error(s);
}

/* Room for at least @want bytes (or an MSS), or the connection is over. */
static bool writable(const void *arg)
{
	const struct wait_arg *w = arg;
	const struct pvnet_tcp *s = w->s;
	bool ok;

	lock();
	ok = !s->pcb || s->state != TS_CONNECTED ||
	     (tcp_sndbuf(s->pcb) >= w->want && tcp_sndqueuelen(s->pcb) + 4 < TCP_SND_QUEUELEN);
	unlock();
	return ok;
}

ssize_t pvnet_tcp_send(struct pvnet_tcp *s, const void *buf, size_t len, int flags)
{
	const uint8_t *p = buf;
	size_t done = 0;
	bool nb = s->nonblock || (flags & PVNET_MSG_DONTWAIT);

	if (s->state == TS_CONNECTING || s->state == TS_NEW || s->state == TS_LISTEN)
		return -ENOTCONN;
	while (done < len) {
		struct wait_arg w = { s, len - done < TCP_MSS ? len - done : TCP_MSS };
		size_t n;
		err_t e = ERR_MEM;
		int rc;

		if (s->shut_wr || !s->pcb) {
			rc = s->err ? pvnet_tcp_error(s) : -EPIPE;
			return done ? (ssize_t)done : rc;
		}
		lock();
		n = tcp_sndbuf(s->pcb);
		if (n > len - done)
			n = len - done;
		while (n && tcp_sndqueuelen(s->pcb) + 4 < TCP_SND_QUEUELEN &&
		       (e = tcp_write(s->pcb, p + done, (u16_t)n, TCP_WRITE_FLAG_COPY)) == ERR_MEM)
			n = n > TCP_MSS ? n / 2 : 0;	/* the segment queue: try less */
		if (e == ERR_OK)
			done += n;
		else if (e != ERR_MEM) {
			unlock();
			return done ? (ssize_t)done : lwerr(e);
		}
		tcp_output(s->pcb);
		unlock();
		if (done == len)
			break;
		rc = lp_stack_wait(s->t->st, writable, &w, nb, s->timeout_ms);
		if (rc < 0)
			return done ? (ssize_t)done : rc;
	}
	return (ssize_t)done;
}

static bool readable(const void *arg)
{
	const struct pvnet_tcp *s = arg;

	return s->rxq || s->eof || !s->pcb;
}

ssize_t pvnet_tcp_recv(struct pvnet_tcp *s, void *buf, size_t len, int flags)
{
	size_t n;
	int rc;

	if (s->state == TS_NEW || s->state == TS_LISTEN || s->state == TS_CONNECTING)
		return -ENOTCONN;
	rc = lp_stack_wait(s->t->st, readable, s, s->nonblock || (flags & PVNET_MSG_DONTWAIT),
			   s->timeout_ms);
	if (rc < 0)
		return rc;
	lock();
	if (!s->rxq) {
		unlock();
		if (s->eof)
			return 0;
		return s->err ? pvnet_tcp_error(s) : 0;
	}
	n = s->rxq->tot_len < len ? s->rxq->tot_len : len;
	pbuf_copy_partial(s->rxq, buf, (u16_t)n, 0);
	s->rxq = n == s->rxq->tot_len ? (pbuf_free(s->rxq), NULL) : pbuf_free_header(s->rxq, (u16_t)n);
	if (s->pcb)
		tcp_recved(s->pcb, (u16_t)n);	/* the window opens again by what was read */
	unlock();
	return (ssize_t)n;
}

int pvnet_tcp_shutdown(struct pvnet_tcp *s, int how)
{
	err_t e = ERR_OK;

	if (s->state != TS_CONNECTED && s->state != TS_DEAD)
		return -ENOTCONN;
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	lock();
	if (s->pcb && (how == SHUT_WR || how == SHUT_RDWR) && !s->shut_wr)
		e = tcp_shutdown(s->pcb, 0, 1);
	if (how != SHUT_RD)
		s->shut_wr = true;
	unlock();
	return lwerr(e);
}

int pvnet_tcp_set_nonblock(struct pvnet_tcp *s, bool on)
{
	s->nonblock = on;
	return 0;
}

void pvnet_tcp_set_timeout(struct pvnet_tcp *s, int ms)
{
	s->timeout_ms = ms;
}

int pvnet_tcp_set_nodelay(struct pvnet_tcp *s, bool on)
{
	lock();
	if (s->pcb && s->state != TS_LISTEN) {
		if (on)
			tcp_nagle_disable(s->pcb);
		else
			tcp_nagle_enable(s->pcb);
	}
	unlock();
	return 0;
}

void pvnet_tcp_name(const struct pvnet_tcp *s, struct sockaddr_in *local, struct sockaddr_in *peer)
{
	lock();
	if (local)
		*local = (struct sockaddr_in){ .sin_family = AF_INET,
			.sin_addr.s_addr = lp_stack_attr(s->t->st)->local_ip,
			.sin_port = htons(s->port ? s->port->port : 0) };
	if (peer) {
		*peer = (struct sockaddr_in){ .sin_family = AF_INET };
		if (s->pcb && s->state != TS_LISTEN && s->state != TS_NEW) {
			peer->sin_addr.s_addr = ip4_addr_get_u32(ip_2_ip4(&s->pcb->remote_ip));
			peer->sin_port = htons(s->pcb->remote_port);
		}
	}
	unlock();
}

int pvnet_tcp_events(struct pvnet_tcp *s)
{
	int ev = 0;

	if (pvnet_stack_poll(s->t->st) < 0)
		return POLLERR;
	lock();
	if (s->err)
		ev |= POLLERR;
	switch (s->state) {
	case TS_LISTEN:
		if (s->acq_n)
			ev |= POLLIN;
		break;
	case TS_CONNECTED:
		if (s->rxq || s->eof)
			ev |= POLLIN;
		if (s->pcb && !s->shut_wr && tcp_sndbuf(s->pcb) >= TCP_MSS &&
		    tcp_sndqueuelen(s->pcb) + 4 < TCP_SND_QUEUELEN)
			ev |= POLLOUT;
		if (s->eof && s->shut_wr)
			ev |= POLLHUP;
		break;
	case TS_DEAD:
		ev |= POLLIN | POLLHUP | (s->rxq ? 0 : POLLOUT);
		break;
	default:
		break;
	}
	unlock();
	return ev;
}

int pvnet_tcp_error(struct pvnet_tcp *s)
{
	int e = s->err;

	s->err = 0;
	return e;
}
