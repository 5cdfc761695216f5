/* SPDX-License-Identifier: MIT */
/*
 * xs.c - pvnetd's xenstore server: sockets, connections, the in-process API.
 *
 * Theory of operation
 *
 * One thread, one pv_loop.  Every client is a non-blocking stream socket:
 * accepted on the listening socket (domain 0) or handed over by pvnetd
 * with the guest's domid (xs_server_add_conn).
 *
 * Input: each connection has a private buffer of two maximum messages.  A
 * read (recvmsg, so that descriptors a client attaches can be closed at
 * once rather than leaked) appends to it; every complete message is then
 * handled in turn by xs_proto.c from a private, NUL-padded copy.  A header
 * claiming more than XENSTORE_PAYLOAD_MAX bytes is a protocol violation:
 * the connection is closed, as Xen does.  A half message just waits in its
 * buffer, costing nobody else anything, and is dropped with its connection
 * after tune.partial_ms (5 s by default).
 *
 * Output: replies and watch events are queued per connection and written
 * when the socket takes them (EPOLLOUT), so a slow client never blocks the
 * daemon.  With q.max_requests messages unread, the server stops reading
 * from that client (backpressure: it can flood only its own socket); once
 * the queue shrinks to half, reading resumes.  A queue over tune.outq_max
 * bytes (watch events pile up even when we stop reading) or one that does
 * not move for tune.stall_ms closes the connection.  Memory per client is
 * thus bounded.
 *
 * Closing is deferred: anything may "doom" a connection (even while
 * another connection's request fires watches into it), and xs_reap frees
 * doomed ones once the current loop callback or API call is done.  Every
 * close is counted and logged, rate-limited.
 *
 * In-process watches (pvnetd's own) are queued and run from an eventfd
 * callback of the loop: never from inside the operation that fired them,
 * so callbacks may use the store freely.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hv/xs_priv.h"

/* The ordinary end of a client: logged at debug level only. */
static const char xs_why_eof[] = "closed by peer";

/**
 * xs_now_ms() - monotonic milliseconds
 */
static uint64_t xs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/**
 * xs_quota_default() - Xen xenstored's default quotas
 */
void xs_quota_default(struct xs_quota *q)
{
	*q = (struct xs_quota){
		.max_nodes = 1000, .max_node_size = 2048, .max_watches = 128,
		.max_transactions = 10, .max_requests = 32, .max_conns = 8,
	};
}

/**
 * xs_conn_arm() - watch @c's socket for what it needs now
 */
static void xs_conn_arm(struct xs_conn *c)
{
	uint32_t ev = (c->throttled ? 0 : EPOLLIN) | (c->out_head ? EPOLLOUT : 0);

	if (c->doomed || ev == c->events)
		return;
	if (pv_loop_mod(c->xs->loop, c->pw, ev))
		xs_conn_doom(c, "epoll_ctl failed", 0);
	else
		c->events = ev;
}

/**
 * xs_conn_doom() - mark @c to be closed when the current work is done
 * @c:		connection
 * @why:	reason, for the log
 * @bad:	the client broke the protocol: count it in bad_msgs
 */
void xs_conn_doom(struct xs_conn *c, const char *why, int bad)
{
	if (c->doomed)
		return;
	c->doomed = why;
	c->xs->ndoomed++;
	if (bad)
		c->xs->st.bad_msgs++;
}

/**
 * xs_conn_queue() - queue one message to @c
 * @c:		connection
 * @type:	XS_* type
 * @req_id:	echoed request id (0 for watch events)
 * @tx_id:	echoed transaction id
 * @data:	payload
 * @len:	its bytes, at most XENSTORE_PAYLOAD_MAX
 */
void xs_conn_queue(struct xs_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
		   const void *data, size_t len)
{
	struct xsd_sockmsg h = { type, req_id, tx_id, (uint32_t)len };
	struct xs_server *xs = c->xs;
	struct xs_out *o;

	if (c->doomed)
		return;
	if (!(o = malloc(sizeof(*o) + sizeof(h) + len))) {
		xs_conn_doom(c, "out of memory for a reply", 0);
		return;
	}
	memcpy(o->buf, &h, sizeof(h));
	if (len)
		memcpy(o->buf + sizeof(h), data, len);
	o->len = sizeof(h) + len;
	o->off = 0;
	o->next = NULL;
	if (!c->out_head)
		c->out_since = xs_now_ms();
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	c->out_bytes += o->len;
	c->out_count++;
	if (c->out_bytes > xs->tune.outq_max)
		xs_conn_doom(c, "output queue over its bound (client not reading)", 0);
	else if (c->out_count >= xs->q.max_requests)
		c->throttled = 1;
	xs_conn_arm(c);
}

/**
 * xs_conn_event() - queue a WATCH_EVENT "path\0token\0" to @c
 */
void xs_conn_event(struct xs_conn *c, const char *path, const char *token)
{
	size_t pl = strlen(path) + 1, tl = strlen(token) + 1;
	char buf[XENSTORE_PAYLOAD_MAX];

	if (pl + tl > sizeof(buf)) {
		pv_log_rl(&c->xs->rl, PV_LOG_WARN,
			  "xs: dom%u: watch event for %.64s... too long, dropped", c->domid, path);
		return;
	}
	memcpy(buf, path, pl);
	memcpy(buf + pl, token, tl);
	xs_conn_queue(c, XS_WATCH_EVENT, 0, 0, buf, pl + tl);
}

/**
 * xs_conn_flush() - write what the socket takes of @c's output queue
 */
static void xs_conn_flush(struct xs_conn *c)
{
	while (c->out_head && !c->doomed) {
		struct xs_out *o = c->out_head;
		ssize_t n = send(c->fd, o->buf + o->off, o->len - o->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				xs_conn_doom(c, "write error", 0);
			break;
		}
		c->out_since = xs_now_ms();
		o->off += (size_t)n;
		if (o->off < o->len)
			continue;
		c->out_head = o->next;
		if (!c->out_head)
			c->out_tail = NULL;
		c->out_bytes -= o->len;
		c->out_count--;
		free(o);
	}
	if (c->throttled && c->out_count <= c->xs->q.max_requests / 2)
		c->throttled = 0;
	xs_conn_arm(c);
}

/**
 * xs_conn_has_msg() - is a whole message waiting in @c's input buffer?
 */
static int xs_conn_has_msg(const struct xs_conn *c)
{
	struct xsd_sockmsg h;

	if (c->in_len < sizeof(h))
		return 0;
	memcpy(&h, c->in, sizeof(h));
	return h.len > XENSTORE_PAYLOAD_MAX || c->in_len >= sizeof(h) + h.len;
}

/**
 * xs_conn_process() - handle the complete messages buffered for @c
 */
static void xs_conn_process(struct xs_conn *c)
{
	char data[XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg h;

	while (!c->doomed && !c->throttled && xs_conn_has_msg(c)) {
		size_t total;

		memcpy(&h, c->in, sizeof(h));
		/* Xen: "Violating this is very bad": drop the client. */
		if (h.len > XENSTORE_PAYLOAD_MAX) {
			pv_log_rl(&c->xs->rl, PV_LOG_WARN,
				  "xs: dom%u: message of %u bytes (max %u), type %u",
				  c->domid, h.len, XENSTORE_PAYLOAD_MAX, h.type);
			xs_conn_doom(c, "oversized message", 1);
			return;
		}
		total = sizeof(h) + h.len;
		memcpy(data, c->in + sizeof(h), h.len);
		data[h.len] = '\0';
		memmove(c->in, c->in + total, c->in_len - total);
		c->in_len -= total;
		c->in_since = xs_now_ms();
		xs_proto_handle(c, &h, data);
	}
}

/**
 * xs_conn_drop_fds() - close descriptors a client attached; they are
 * never used, and must not pile up in the daemon's table
 */
static void xs_conn_drop_fds(struct xs_conn *c, struct msghdr *mh)
{
	int dropped = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			close(fd);
			dropped++;
		}
	}
	if (dropped || (mh->msg_flags & MSG_CTRUNC))
		pv_log_rl(&c->xs->rl, PV_LOG_WARN,
			  "xs: dom%u: closed %d descriptor(s) sent with a message%s",
			  c->domid, dropped, mh->msg_flags & MSG_CTRUNC ? " (more truncated)" : "");
}

/**
 * xs_conn_read() - one read from @c's socket into its input buffer
 */
static void xs_conn_read(struct xs_conn *c)
{
	union {
		char buf[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { c->in + c->in_len, sizeof(c->in) - c->in_len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n;

	if (!iov.iov_len)
		return;		/* full of whole requests: they go first */
	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n >= 0)
		xs_conn_drop_fds(c, &mh);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			xs_conn_doom(c, "read error", 0);
		return;
	}
	if (n == 0) {
		xs_conn_doom(c, c->in_len ? "closed in the middle of a message" : xs_why_eof,
			     c->in_len != 0);
		return;
	}
	if (!c->in_len)
		c->in_since = xs_now_ms();
	c->in_len += (size_t)n;
}

/**
 * xs_conn_free() - close and free @c with its watches and transactions
 */
static void xs_conn_free(struct xs_conn *c)
{
	struct xs_server *xs = c->xs;
	struct xs_dom *d = xs_dom_get(xs, c->domid, 0);

	for (struct xs_conn **pp = &xs->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	xs_watch_del_conn(xs, c);
	while (c->txns) {
		struct xs_txn *t = c->txns;

		c->txns = t->next;
		xs_txn_free(t);
	}
	while (c->out_head) {
		struct xs_out *o = c->out_head;

		c->out_head = o->next;
		free(o);
	}
	pv_loop_del(xs->loop, c->pw);
	close(c->fd);
	if (d && d->conns)
		d->conns--;
	xs->nconns--;
	xs->st.conns_closed++;
	free(c);
	if (!xs->nconns && xs->timer) {
		pv_loop_timer_del(xs->loop, xs->timer);
		xs->timer = NULL;
	}
}

/**
 * xs_reap() - free the connections doomed during the work just done
 */
static void xs_reap(struct xs_server *xs)
{
	struct xs_conn *c, *next;

	if (!xs->ndoomed)
		return;
	for (c = xs->conns; c; c = next) {
		next = c->next;
		if (!c->doomed)
			continue;
		if (c->doomed == xs_why_eof)
			pv_debug("xs: dom%u connection (fd %d) %s", c->domid, c->fd, c->doomed);
		else
			pv_log_rl(&xs->rl, PV_LOG_INFO, "xs: closing dom%u connection (fd %d): %s",
				  c->domid, c->fd, c->doomed);
		xs_conn_free(c);
	}
	xs->ndoomed = 0;
}

/**
 * xs_conn_serve() - handle buffered requests and send replies, alternately,
 * until @c has no whole request left or is throttled
 */
static void xs_conn_serve(struct xs_conn *c)
{
	/* Each round handles at least one buffered message, so this ends. */
	while (!c->doomed && !c->throttled && xs_conn_has_msg(c)) {
		xs_conn_process(c);
		xs_conn_flush(c);
	}
	if (!c->doomed)
		xs_conn_flush(c);
}

/**
 * xs_conn_cb() - loop callback of a client socket
 */
static void xs_conn_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct xs_conn *c = arg;
	struct xs_server *xs = c->xs;

	if (events & EPOLLOUT)
		xs_conn_flush(c);
	/* Messages buffered while throttled go first: they make room to read. */
	xs_conn_serve(c);
	if (!c->doomed && (events & EPOLLIN) && !c->throttled)
		xs_conn_read(c);
	else if (!c->doomed && (events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN))
		xs_conn_doom(c, "hung up", 0);
	xs_conn_serve(c);
	xs_reap(xs);
}

/**
 * xs_timer_cb() - time out half-sent messages and stalled output
 */
static void xs_timer_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct xs_server *xs = arg;
	uint64_t now = xs_now_ms();

	for (struct xs_conn *c = xs->conns; c; c = c->next) {
		if (c->doomed)
			continue;
		if (c->in_len && !c->throttled && !xs_conn_has_msg(c) &&
		    now - c->in_since > xs->tune.partial_ms) {
			pv_log_rl(&xs->rl, PV_LOG_WARN, "xs: dom%u: %zu bytes of a message, then silence",
				  c->domid, c->in_len);
			xs_conn_doom(c, "partial message timed out", 1);
		} else if (c->out_head && now - c->out_since > xs->tune.stall_ms) {
			xs_conn_doom(c, "output stalled (client not reading)", 0);
		}
	}
	xs_reap(xs);
}

/**
 * xs_timer_start() - run the timeout timer while there are connections
 */
static void xs_timer_start(struct xs_server *xs)
{
	unsigned int tick = xs->tune.partial_ms < xs->tune.stall_ms ?
			    xs->tune.partial_ms : xs->tune.stall_ms;

	tick = tick / 2 < 20 ? 20 : tick / 2 > 1000 ? 1000 : tick / 2;
	if (!xs->timer)
		xs->timer = pv_loop_timer(xs->loop, tick, tick, xs_timer_cb, xs);
	if (!xs->timer)
		pv_log_rl(&xs->rl, PV_LOG_WARN, "xs: no timer: client timeouts disabled");
}

/**
 * xs_server_add_conn() - serve @fd as domain @domid
 *
 * Takes @fd (closed on failure).  Return: 0, -EDQUOT (too many connections
 * for the domain, or in all), -ENOMEM, -errno.
 */
int xs_server_add_conn(struct xs_server *xs, int fd, unsigned int domid)
{
	struct xs_dom *d = xs_dom_get(xs, domid, 1);
	struct xs_conn *c = NULL;
	int err = -EDQUOT;

	if (!d) {
		err = -ENOMEM;
		goto fail;
	}
	if (xs->nconns >= XS_MAX_CONNS || (domid && d->conns >= xs->q.max_conns)) {
		xs->st.quota_hits++;
		pv_log_rl(&xs->rl, PV_LOG_WARN, "xs: dom%u: connection refused: too many", domid);
		goto fail;
	}
	err = -ENOMEM;
	if (!(c = calloc(1, sizeof(*c))))
		goto fail;
	c->xs = xs;
	c->fd = fd;
	c->domid = domid;
	c->events = EPOLLIN;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    !(c->pw = pv_loop_add(xs->loop, fd, EPOLLIN, xs_conn_cb, c))) {
		err = -errno;
		goto fail;
	}
	c->next = xs->conns;
	xs->conns = c;
	xs->nconns++;
	d->conns++;
	xs->st.conns_accepted++;
	xs_timer_start(xs);
	return 0;
fail:
	free(c);
	close(fd);
	return err;
}

/**
 * xs_accept_cb() - new dom0 clients on the listening socket
 */
static void xs_accept_cb(struct pv_loop *loop, int lfd, uint32_t events, void *arg)
{
	struct xs_server *xs = arg;

	for (int i = 0; i < 16; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				pv_log_rl(&xs->rl, PV_LOG_WARN, "xs: accept: %s", strerror(errno));
			return;
		}
		xs_server_add_conn(xs, fd, 0);
	}
}

/**
 * xs_pending_add() - queue an in-process watch event for the loop
 */
static void xs_pending_add(struct xs_server *xs, struct xs_watch *w, const char *path)
{
	size_t l = strlen(path) + 1;
	struct xs_pending *p = malloc(sizeof(*p) + l);
	uint64_t one = 1;

	if (!p) {
		pv_log_rl(&xs->rl, PV_LOG_ERR, "xs: out of memory: watch event %s lost", path);
		return;
	}
	p->w = w;
	p->next = NULL;
	memcpy(p->path, path, l);
	if (xs->pend_tail)
		xs->pend_tail->next = p;
	else
		xs->pend_head = p;
	xs->pend_tail = p;
	if (write(xs->efd, &one, sizeof(one)) != sizeof(one))
		pv_log_rl(&xs->rl, PV_LOG_ERR, "xs: eventfd write: %s", strerror(errno));
}

/**
 * xs_pending_drop() - forget queued events of a watch that goes away
 */
static void xs_pending_drop(struct xs_server *xs, struct xs_watch *w)
{
	struct xs_pending **pp = &xs->pend_head, *last = NULL;

	while (*pp) {
		struct xs_pending *p = *pp;

		if (p->w == w) {
			*pp = p->next;
			free(p);
		} else {
			last = p;
			pp = &p->next;
		}
	}
	xs->pend_tail = last;
}

/* xs->sink.event: one event, to the watch's connection or the loop's queue. */
static void xs_sink_event(struct xs_server *xs, struct xs_watch *w, const char *path)
{
	if (w->conn)
		xs_conn_event(w->conn, path, w->token);
	else
		xs_pending_add(xs, w, path);
}

/* xs->sink.gone: a watch is being freed. */
static void xs_sink_gone(struct xs_server *xs, struct xs_watch *w)
{
	if (!w->conn)
		xs_pending_drop(xs, w);
}

/**
 * xs_pending_cb() - run queued in-process watch callbacks
 *
 * A callback may write (queueing more events, run in this same pass),
 * unwatch (dropping its queued events) or watch.
 */
static void xs_pending_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct xs_server *xs = arg;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pv_log_rl(&xs->rl, PV_LOG_ERR, "xs: eventfd read: %s", strerror(errno));
	if (xs->draining)
		return;
	xs->draining = 1;
	while (xs->pend_head) {
		struct xs_pending *p = xs->pend_head;
		struct xs_watch *w = p->w;

		xs->pend_head = p->next;
		if (!xs->pend_head)
			xs->pend_tail = NULL;
		w->cb(xs, p->path, w->token, w->arg);
		free(p);
	}
	xs->draining = 0;
	xs_reap(xs);
}

/**
 * xs_listen() - listen on the Unix socket @path (mode 0600)
 */
static int xs_listen(struct xs_server *xs, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	if (!(xs->sockpath = strdup(path)))
		return -ENOMEM;
	xs->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (xs->lfd < 0)
		return -errno;
	if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);		/* a stale socket of an earlier run */
	if (bind(xs->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(xs->lfd, 64) < 0)
		return -errno;
	if (!(xs->lw = pv_loop_add(xs->loop, xs->lfd, EPOLLIN, xs_accept_cb, xs)))
		return -ENOMEM;
	return 0;
}

/**
 * xs_tree_init() - "/", "/local", "/local/domain", "/local/domain/0", owned by dom0
 */
static int xs_tree_init(struct xs_server *xs)
{
	static const struct xs_perm p0 = { 0, XS_PERM_NONE };
	struct xs_op op = { .xs = xs };

	if (!(xs->root = xs_node_new("", NULL, &p0, 1)) || !xs_dom_get(xs, 0, 1))
		return -ENOMEM;
	xs->root->gen = ++xs->gen;
	xs->st.nodes = 1;
	xs_dom_get(xs, 0, 0)->nodes = 1;
	return xs_op_mkdir(&op, "/local/domain/0");
}

/**
 * xs_server_new() - create the store and listen on @sockpath (if not NULL)
 * @loop:	the daemon's loop
 * @sockpath:	dom0 socket path, or NULL
 * @q:		quotas, or NULL for xs_quota_default()
 */
struct xs_server *xs_server_new(struct pv_loop *loop, const char *sockpath,
				const struct xs_quota *q)
{
	struct xs_server *xs = calloc(1, sizeof(*xs));
	int err;

	if (!xs)
		return NULL;
	xs->loop = loop;
	xs->lfd = -1;
	xs->rl = (struct pv_ratelimit)PV_RATELIMIT_INIT;
	xs->sink = (struct xs_watch_sink){ .event = xs_sink_event, .gone = xs_sink_gone };
	if (q)
		xs->q = *q;
	else
		xs_quota_default(&xs->q);
	if (!xs->q.max_requests)
		xs->q.max_requests = 1;	/* 0 would never read anything */
	xs->tune = (struct xs_tuning){ .partial_ms = 5000, .stall_ms = 30000,
				       .outq_max = 1 << 20 };
	xs->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (xs->efd < 0 || !(xs->ew = pv_loop_add(loop, xs->efd, EPOLLIN, xs_pending_cb, xs))) {
		err = -errno;
		goto fail;
	}
	if ((err = xs_tree_init(xs)) || (sockpath && (err = xs_listen(xs, sockpath))))
		goto fail;
	return xs;
fail:
	pv_err("xs: cannot start the xenstore server%s%s: %s", sockpath ? " on " : "",
	       sockpath ? sockpath : "", strerror(err < 0 ? -err : ENOMEM));
	xs_server_free(xs);
	return NULL;
}

/**
 * xs_server_free() - close every connection, free the store, unlink the socket
 */
void xs_server_free(struct xs_server *xs)
{
	if (!xs)
		return;
	while (xs->conns)
		xs_conn_free(xs->conns);
	while (xs->watches)
		xs_watch_del(xs, xs->watches->conn, xs->watches->path, xs->watches->token);
	while (xs->doms) {
		struct xs_dom *d = xs->doms;

		xs->doms = d->next;
		free(d);
	}
	xs_node_free(NULL, xs->root, 0);
	if (xs->lw)
		pv_loop_del(xs->loop, xs->lw);
	if (xs->lfd >= 0)
		close(xs->lfd);
	if (xs->sockpath)
		unlink(xs->sockpath);
	if (xs->ew)
		pv_loop_del(xs->loop, xs->ew);
	if (xs->efd >= 0)
		close(xs->efd);
	if (xs->timer)
		pv_loop_timer_del(xs->loop, xs->timer);
	free(xs->sockpath);
	free(xs);
}

/**
 * xs_server_tune() - set client timeouts and the output bound
 */
void xs_server_tune(struct xs_server *xs, const struct xs_tuning *t)
{
	xs->tune = *t;
	if (xs->timer) {
		pv_loop_timer_del(xs->loop, xs->timer);
		xs->timer = NULL;
		xs_timer_start(xs);
	}
}

/**
 * xs_server_stats() - copy the counters
 */
void xs_server_stats(struct xs_server *xs, struct xs_stats *st)
{
	*st = xs->st;
}

/**
 * xs_api_end() - finish an in-process call: reap, map the error for C callers
 */
static int xs_api_end(struct xs_server *xs, int err)
{
	xs_reap(xs);
	return err == XS_EQUOTA || err == XS_EQUOTA_WATCH ? -EDQUOT : err;
}

/**
 * xs_server_write() - write @len bytes at @val to @path, as dom0
 */
int xs_server_write(struct xs_server *xs, const char *path, const void *val, size_t len)
{
	struct xs_op op = { .xs = xs };
	char *p;
	int err;

	if (len > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	if ((err = xs_path_canon(0, path, 0, &p)))
		return err;
	err = xs_op_write(&op, p, val, len);
	free(p);
	return xs_api_end(xs, err);
}

/**
 * xs_server_printf() - write a formatted string to @path, as dom0
 */
int xs_server_printf(struct xs_server *xs, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n, err;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	err = xs_server_write(xs, path, s, (size_t)n);
	free(s);
	return err;
}

/**
 * xs_server_read() - read @path into @buf, NUL-terminated, truncated to fit
 *
 * Return: bytes stored in @buf (not counting the NUL), or -errno.
 */
int xs_server_read(struct xs_server *xs, const char *path, char *buf, size_t size)
{
	struct xs_op op = { .xs = xs };
	struct xs_node *n;
	size_t l;
	char *p;
	int err;

	if (!size)
		return -EINVAL;
	if ((err = xs_path_canon(0, path, 0, &p)))
		return err;
	err = xs_op_get(&op, p, XS_PERM_READ, &n);
	free(p);
	if (err)
		return xs_api_end(xs, err);
	l = n->len < size - 1 ? n->len : size - 1;
	if (l)
		memcpy(buf, n->val, l);
	buf[l] = '\0';
	return (int)l;
}

/**
 * xs_server_directory() - list @path's children, as dom0
 */
int xs_server_directory(struct xs_server *xs, const char *path, char *buf, size_t size)
{
	struct xs_op op = { .xs = xs };
	struct xs_node *n;
	size_t off = 0;
	char *p;
	int err;

	if ((err = xs_path_canon(0, path, 0, &p)))
		return err;
	err = xs_op_get(&op, p, XS_PERM_READ, &n);
	free(p);
	if (err)
		return xs_api_end(xs, err);
	for (unsigned int i = 0; i < n->nkids; i++) {
		size_t l = strlen(n->kids[i]->name) + 1;

		if (off + l > size)
			return xs_api_end(xs, -E2BIG);
		memcpy(buf + off, n->kids[i]->name, l);
		off += l;
	}
	xs_api_end(xs, 0);
	return (int)n->nkids;
}

/**
 * xs_server_mkdir() - create @path (and parents) empty, as dom0
 */
int xs_server_mkdir(struct xs_server *xs, const char *path)
{
	struct xs_op op = { .xs = xs };
	char *p;
	int err;

	if ((err = xs_path_canon(0, path, 0, &p)))
		return err;
	err = xs_op_mkdir(&op, p);
	free(p);
	return xs_api_end(xs, err);
}

/**
 * xs_server_rm() - remove @path and its subtree, as dom0
 */
int xs_server_rm(struct xs_server *xs, const char *path)
{
	struct xs_op op = { .xs = xs };
	char *p;
	int err;

	if ((err = xs_path_canon(0, path, 0, &p)))
		return err;
	err = xs_op_rm(&op, p);
	free(p);
	return xs_api_end(xs, err);
}

/**
 * xs_server_set_perms() - set @path's access list (wire form), as dom0
 */
int xs_server_set_perms(struct xs_server *xs, const char *path, const char *perms, size_t len)
{
	struct xs_op op = { .xs = xs };
	char *p;
	int err;

	if ((err = xs_path_canon(0, path, 0, &p)))
		return err;
	err = xs_op_set_perms(&op, p, perms, len);
	free(p);
	return xs_api_end(xs, err);
}

/**
 * xs_server_watch() - watch @path (or a special "@..." name) in-process
 *
 * @cb runs from the loop, first once for the watch itself (as Xen fires a
 * new watch), then for each change at or below @path.
 */
int xs_server_watch(struct xs_server *xs, const char *path, const char *token,
		    xs_watch_cb cb, void *arg)
{
	char *p;
	int err;

	if (!cb || !token)
		return -EINVAL;
	if ((err = xs_path_canon(0, path, 1, &p)))
		return err;
	err = xs_watch_add(xs, NULL, p, token, 0, cb, arg);
	if (!err)
		xs_watch_event(xs, xs->watches, p);
	free(p);
	return xs_api_end(xs, err);
}

/**
 * xs_server_unwatch() - remove an in-process watch; its queued events go too
 */
int xs_server_unwatch(struct xs_server *xs, const char *path, const char *token)
{
	char *p;
	int err;

	if ((err = xs_path_canon(0, path, 1, &p)))
		return err;
	err = xs_watch_del(xs, NULL, p, token);
	free(p);
	return xs_api_end(xs, err);
}

/*
 * The home libxl (libxl__domain_make) gives a domain: the directory and
 * the ones the toolstack fills are dom0's, read-only to the guest
 * ("n0" "rD"); these are the guest's own ("nD"), charged to its node quota
 * as Xen charges nodes to their owner.
 */
static const char *const xs_home_rw[] = {
	"data", "attr", "feature", "drivers", "error", "control/shutdown",
};
static const char *const xs_home_ro[] = { "device", "control" };

/**
 * xs_home_dir() - mkdir /local/domain/<domid>[/@sub] with the access list @perm
 */
static int xs_home_dir(struct xs_op *op, unsigned int domid, const char *sub,
		       const char *perm, size_t plen)
{
	char path[64];
	int err;

	snprintf(path, sizeof(path), "/local/domain/%u%s%s", domid, sub ? "/" : "",
		 sub ? sub : "");
	err = xs_op_mkdir(op, path);
	return err ? err : xs_op_set_perms(op, path, perm, plen);
}

/**
 * xs_server_domain_intro() - create /local/domain/<domid> as libxl does
 * (dom0's, the guest may read; the guest's own data, attr, feature,
 * drivers, error and control/shutdown) and fire @introduceDomain
 */
int xs_server_domain_intro(struct xs_server *xs, unsigned int domid)
{
	struct xs_op op = { .xs = xs };
	char ro[24], rw[16];
	struct xs_dom *d;
	size_t rol, rwl;
	int err;

	if (!domid || domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (!(d = xs_dom_get(xs, domid, 1)))
		return -ENOMEM;
	rol = (size_t)snprintf(ro, sizeof(ro), "n0%cr%u", 0, domid) + 1;
	rwl = (size_t)snprintf(rw, sizeof(rw), "n%u", domid) + 1;
	if ((err = xs_home_dir(&op, domid, NULL, ro, rol)))
		return xs_api_end(xs, err);
	for (size_t i = 0; i < sizeof(xs_home_ro) / sizeof(xs_home_ro[0]); i++)
		if ((err = xs_home_dir(&op, domid, xs_home_ro[i], ro, rol)))
			return xs_api_end(xs, err);
	for (size_t i = 0; i < sizeof(xs_home_rw) / sizeof(xs_home_rw[0]); i++)
		if ((err = xs_home_dir(&op, domid, xs_home_rw[i], rw, rwl)))
			return xs_api_end(xs, err);
	d->introduced = 1;
	xs_watch_fire_special(xs, "@introduceDomain");
	return xs_api_end(xs, 0);
}

/**
 * xs_disown() - after a release: nodes @domid still owns elsewhere pass to
 * dom0, and entries naming it go, so that a later domain with the same id
 * inherits nothing
 */
static void xs_disown(struct xs_server *xs, struct xs_node *n, unsigned int domid)
{
	unsigned int j = 1;

	if (n->perms[0].id == domid)
		n->perms[0].id = 0;	/* dom0's accounting is not enforced */
	for (unsigned int i = 1; i < n->nperms; i++)
		if (n->perms[i].id != domid)
			n->perms[j++] = n->perms[i];
	n->nperms = j;
	for (unsigned int i = 0; i < n->nkids; i++)
		xs_disown(xs, n->kids[i], domid);
}

/**
 * xs_server_domain_release() - close @domid's connections (their watches
 * and transactions go with them), remove /local/domain/<domid>, release
 * its accounting and fire @releaseDomain
 */
void xs_server_domain_release(struct xs_server *xs, unsigned int domid)
{
	struct xs_op op = { .xs = xs };
	char path[32];
	struct xs_dom *d;

	if (!domid)
		return;
	for (struct xs_conn *c = xs->conns; c; c = c->next)
		if (c->domid == domid)
			xs_conn_doom(c, "domain released", 0);
	xs_reap(xs);
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	if (xs_node_find(xs->root, path))
		xs_op_rm(&op, path);
	if ((d = xs_dom_get(xs, domid, 0)) && d->nodes) {
		struct xs_dom *d0 = xs_dom_get(xs, 0, 0);

		if (d0)
			d0->nodes += d->nodes;
	}
	xs_disown(xs, xs->root, domid);
	xs_dom_forget(xs, domid);
	xs_watch_fire_special(xs, "@releaseDomain");
	xs_reap(xs);
}
