/* SPDX-License-Identifier: MIT */
/*
 * hvsock.c - the hypervisor socket: registration and event channel
 * operations for guest domains (protocol: <pvnet/hv_proto.h>).
 *
 * Every request is received whole into a private buffer (SOCK_SEQPACKET
 * keeps message boundaries), validated (size, type, body length, the
 * number of descriptors it may carry), and only then acted on.  Any
 * descriptor a request carries that the request does not consume is
 * closed before the reply.  A malformed request gets an error reply; a
 * peer that sends PV_HV_MAX_ERRORS of them, or one that cannot be replied
 * to, is disconnected, which destroys its domain.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hv.h"
#include "xs.h"
#include "lib/log.h"
#include "lib/unix.h"
#include "pvnet/accel.h"

/* Requests served per wake-up, so that one flooding peer cannot starve others. */
#define HVSOCK_BATCH 32

static struct pv_ratelimit hvsock_rl = PV_RATELIMIT_INIT;

/* A connection before it registers has no domain yet. */
struct hvsock_conn {
	struct pv_hv *hv;
	int fd;
	struct pv_watch *w;
	pid_t pid;
	uid_t uid;
	unsigned int bad_msgs;
	int in_cb;		/* freed by the callback, not under it */
	int broken;		/* a reply could not be sent */
	struct pv_domain *dom;	/* NULL until REGISTER succeeds */
	struct hvsock_conn *prev, *next;
};

struct hvsock_req {
	struct pv_hv_hdr hdr;
	uint8_t body[PV_HV_MSG_MAX - sizeof(struct pv_hv_hdr)];
	int fds[PV_HV_MAX_FDS];
	unsigned int nfds;
};

static void hvsock_conn_close(struct hvsock_conn *c, const char *why);

static void close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]), fds[i] = -1;
}

static int hvsock_send(int fd, const struct pv_hv_hdr *req, int err,
		       const void *body, uint32_t len, const int *fds, unsigned int nfds)
{
	struct pv_hv_hdr h = { .type = req->type, .seq = req->seq, .len = len, .err = err };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)body, len } };

	/* Non-blocking: a peer that does not read its replies loses its connection. */
	return pv_unix_send_fds(fd, iov, len ? 2 : 1, fds, nfds, MSG_DONTWAIT);
}

/* Reply on @c; a peer whose socket is full is not reading: mark it broken. */
static void hvsock_reply(struct hvsock_conn *c, const struct pv_hv_hdr *req, int err,
			 const void *body, uint32_t len, const int *fds, unsigned int nfds)
{
	if (hvsock_send(c->fd, req, err, body, len, fds, nfds) < 0)
		c->broken = 1;
}

/*
 * Receive one datagram.  Return 1 with @r filled, 0 if nothing is pending,
 * -EPIPE on end of connection, or -EBADMSG for a malformed datagram (its
 * descriptors already closed, r->hdr holding what could be read).
 */
static int hvsock_recv(int fd, struct hvsock_req *r)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} u;
	struct iovec iov[2] = { { &r->hdr, sizeof(r->hdr) }, { r->body, sizeof(r->body) } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2,
			      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t n;
	int bad = 0;

	memset(&r->hdr, 0, sizeof(r->hdr));
	r->nfds = 0;
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		unsigned int k;
		int *in;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		in = (int *)(void *)CMSG_DATA(cm);
		for (unsigned int i = 0; i < k; i++) {
			if (r->nfds < PV_HV_MAX_FDS)
				r->fds[r->nfds++] = in[i];
			else
				close(in[i]), bad = 1;
		}
	}
	/*
	 * 0 is the end of the connection, or an empty datagram, which may still
	 * carry descriptors: they are installed in our table all the same.
	 */
	if (n == 0) {
		close_fds(r->fds, r->nfds);
		r->nfds = 0;
		return -EPIPE;
	}
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || bad ||
	    (size_t)n < sizeof(r->hdr) || r->hdr.len != (size_t)n - sizeof(r->hdr)) {
		close_fds(r->fds, r->nfds);
		r->nfds = 0;
		return -EBADMSG;
	}
	return 1;
}

/* Body and descriptor count each request type must have. */
static const struct { uint32_t len; unsigned int nfds; } hvsock_shape[PV_HV_TYPE_MAX] = {
	[PV_HV_REGISTER]              = { sizeof(struct pv_hv_register), 2 },
	[PV_HV_EVTCHN_ALLOC_UNBOUND]  = { sizeof(struct pv_hv_evtchn_alloc), 0 },
	[PV_HV_EVTCHN_BIND_INTERDOMAIN] = { sizeof(struct pv_hv_evtchn_bind), 0 },
	[PV_HV_EVTCHN_CLOSE]          = { sizeof(struct pv_hv_evtchn_close), 0 },
	[PV_HV_XS_CONNECT]            = { 0, 0 },
	[PV_HV_VIF_REQUEST]           = { sizeof(struct pv_hv_vif_request), 0 },
	[PV_HV_ACCEL_FDS]             = { sizeof(struct pv_hv_accel_fds), 0 },
};

/* A fresh xenstore connection for @domid: one end served, the other returned. */
static int hvsock_xs_conn(struct pv_hv *hv, unsigned int domid)
{
	int sv[2];

	if (!hv->xs)
		return -ENOTSUP;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (xs_server_add_conn(hv->xs, sv[0], domid) < 0) {
		close(sv[1]);
		return -EMFILE;
	}
	return sv[1];
}

static void hvsock_do_register(struct hvsock_conn *c, struct hvsock_req *r)
{
	struct pv_hv_register reg;
	struct pv_hv_register_reply rep = { .max_ports = PV_HV_MAX_PORTS };
	struct pv_domain *d;
	int err, xfd;

	memcpy(&reg, r->body, sizeof(reg));
	if (c->dom) {
		err = -EALREADY;
	} else if (reg.version != PV_HV_VERSION || reg.reserved || !pv_hv_name_ok(reg.name)) {
		err = -EINVAL;
	} else {
		d = pv_domain_create(c->hv, reg.name, r->fds[0], reg.nr_pages,
				     r->fds[1], reg.nr_grants, &err);
		r->nfds = 0;	/* taken, also on failure */
		if (d) {
			xfd = hvsock_xs_conn(c->hv, d->domid);
			if (xfd < 0) {
				pv_domain_destroy(c->hv, d);
				err = xfd;
			} else {
				d->pid = c->pid;
				d->uid = c->uid;
				d->conn = c;
				c->dom = d;
				rep.domid = d->domid;
				pv_info("domain %u (%s) registered: pid %d, %u pages, %u grants",
					d->domid, d->name, (int)c->pid, d->nr_pages, d->nr_grants);
				hvsock_reply(c, &r->hdr, 0, &rep, sizeof(rep), &xfd, 1);
				close(xfd);
				return;
			}
		}
	}
	pv_log_rl(&hvsock_rl, PV_LOG_WARN, "pid %d: registration refused: %s",
		  (int)c->pid, strerror(-err));
	hvsock_reply(c, &r->hdr, err, NULL, 0, NULL, 0);
}

static void hvsock_reply_port(struct hvsock_conn *c, struct hvsock_req *r, int port)
{
	struct pv_hv_evtchn_reply rep;
	struct pv_evtchn *e;
	int fds[2];

	if (port < 0) {
		hvsock_reply(c, &r->hdr, port, NULL, 0, NULL, 0);
		return;
	}
	e = pv_evtchn_get(c->hv, c->dom->domid, (uint32_t)port);
	rep.port = (uint32_t)port;
	fds[0] = e->in_fd;
	fds[1] = e->out_fd;
	hvsock_reply(c, &r->hdr, 0, &rep, sizeof(rep), fds, 2);
}

static void hvsock_dispatch(struct hvsock_conn *c, struct hvsock_req *r)
{
	struct pv_hv *hv = c->hv;
	int ret;

	if (r->hdr.type != PV_HV_REGISTER && !c->dom) {
		hvsock_reply(c, &r->hdr, -ENOTCONN, NULL, 0, NULL, 0);
		return;
	}
	switch (r->hdr.type) {
	case PV_HV_REGISTER:
		hvsock_do_register(c, r);
		return;
	case PV_HV_EVTCHN_ALLOC_UNBOUND: {
		struct pv_hv_evtchn_alloc a;

		memcpy(&a, r->body, sizeof(a));
		hvsock_reply_port(c, r, pv_evtchn_alloc_unbound(hv, c->dom->domid, a.remote_dom));
		return;
	}
	case PV_HV_EVTCHN_BIND_INTERDOMAIN: {
		struct pv_hv_evtchn_bind b;

		memcpy(&b, r->body, sizeof(b));
		hvsock_reply_port(c, r, pv_evtchn_bind_interdomain(hv, c->dom->domid,
								   b.remote_dom, b.remote_port));
		return;
	}
	case PV_HV_EVTCHN_CLOSE: {
		struct pv_hv_evtchn_close cl;

		memcpy(&cl, r->body, sizeof(cl));
		ret = pv_evtchn_close(hv, c->dom->domid, cl.port);
		hvsock_reply(c, &r->hdr, ret, NULL, 0, NULL, 0);
		return;
	}
	case PV_HV_VIF_REQUEST: {
		struct pv_hv_vif_request vr;
		struct pv_hv_vif_reply rep;

		memset(&rep, 0, sizeof(rep));

		memcpy(&vr, r->body, sizeof(vr));
		ret = -EPERM;
		if (vr.reserved)
			ret = -EINVAL;
		else if (hv->vif_request)
			ret = hv->vif_request(hv, c->dom, &vr, &rep, hv->vif_request_arg);
		hvsock_reply(c, &r->hdr, ret, ret ? NULL : &rep, ret ? 0 : sizeof(rep), NULL, 0);
		return;
	}
	case PV_HV_ACCEL_FDS: {
		struct pv_hv_accel_fds af;
		int fds[PV_HV_MAX_FDS];
		int n = -ENOENT;

		memcpy(&af, r->body, sizeof(af));	/* name checked by hvsock_check */
		for (unsigned int i = 0; i < PV_HV_MAX_FDS; i++)
			fds[i] = -1;
		if (hv->accel_fds)
			n = hv->accel_fds(hv, c->dom->domid, af.name, af.devid, fds, PV_HV_MAX_FDS,
					  hv->accel_fds_arg);
		if (n == 0 || n > PV_HV_MAX_FDS) {	/* a plugin's bug: said as -EIO */
			if (n > 0)
				close_fds(fds, PV_HV_MAX_FDS);
			n = -EIO;
		}
		if (n < 0) {
			hvsock_reply(c, &r->hdr, n, NULL, 0, NULL, 0);
		} else {
			hvsock_reply(c, &r->hdr, 0, NULL, 0, fds, (unsigned int)n);
			close_fds(fds, (unsigned int)n);	/* ours: sent copies */
		}
		return;
	}
	case PV_HV_XS_CONNECT:
		ret = hvsock_xs_conn(hv, c->dom->domid);
		if (ret < 0) {
			hvsock_reply(c, &r->hdr, ret, NULL, 0, NULL, 0);
		} else {
			hvsock_reply(c, &r->hdr, 0, NULL, 0, &ret, 1);
			close(ret);
		}
		return;
	}
}

/* Returns 0 if the request is well formed, else the reason. */
static const char *hvsock_check(const struct hvsock_req *r)
{
	uint16_t t = r->hdr.type;

	if (t == 0 || t >= PV_HV_TYPE_MAX)
		return "unknown request type";
	if (r->hdr.flags || r->hdr.err)
		return "reserved header fields set";
	if (r->hdr.len != hvsock_shape[t].len)
		return "wrong body length for its type";
	if (r->nfds != hvsock_shape[t].nfds)
		return "wrong number of attached descriptors";
	if (t == PV_HV_ACCEL_FDS) {
		struct pv_hv_accel_fds af;

		memcpy(&af, r->body, sizeof(af));
		if (!memchr(af.name, 0, sizeof(af.name)) || !pv_accel_name_ok(af.name))
			return "accelerator name not [a-z0-9_.-]{1,31}";
	}
	return NULL;
}

static void hvsock_bad(struct hvsock_conn *c, struct hvsock_req *r, const char *why)
{
	c->hv->st.bad_msgs++;
	c->bad_msgs++;
	pv_log_rl(&hvsock_rl, PV_LOG_WARN, "hv.sock pid %d dom%d: bad request (type %u): %s",
		  (int)c->pid, c->dom ? c->dom->domid : -1, r->hdr.type, why);
	close_fds(r->fds, r->nfds);
	r->nfds = 0;
	if (c->bad_msgs >= PV_HV_MAX_ERRORS) {
		hvsock_conn_close(c, "too many bad requests");
		return;
	}
	hvsock_reply(c, &r->hdr, -EINVAL, NULL, 0, NULL, 0);
}

static void hvsock_conn_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct hvsock_conn *c = arg;
	struct hvsock_req *r = malloc(sizeof(*r));
	const char *why;

	if (!r)
		return;
	c->in_cb = 1;
	for (int i = 0; i < HVSOCK_BATCH && c->fd >= 0; i++) {
		int n = hvsock_recv(c->fd, r);

		if (n == 0)
			break;
		if (n == -EPIPE) {
			hvsock_conn_close(c, NULL);
			break;
		}
		if (n == -EBADMSG)
			why = "truncated, oversized or bad ancillary data";
		else
			why = hvsock_check(r);
		if (why) {
			hvsock_bad(c, r, why);
			if (c->fd < 0)
				break;
			continue;
		}
		hvsock_dispatch(c, r);
		close_fds(r->fds, r->nfds);
	}
	if (c->broken && c->fd >= 0)
		hvsock_conn_close(c, "peer does not read its replies");
	(void)fd;
	free(r);
	c->in_cb = 0;
	if (c->fd < 0)
		free(c);
}

/* Unlink and close; the memory goes now, or when the running callback returns. */
static void hvsock_conn_release(struct hvsock_conn *c)
{
	struct pv_hv *hv = c->hv;

	if (c->prev)
		c->prev->next = c->next;
	else
		hv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pv_loop_del(hv->loop, c->w);
	close(c->fd);
	c->fd = -1;
	if (!c->in_cb)
		free(c);
}

/* Tear down a connection; its domain, if any, dies with it. */
static void hvsock_conn_close(struct hvsock_conn *c, const char *why)
{
	struct pv_domain *d = c->dom;

	if (why)
		pv_log_rl(&hvsock_rl, PV_LOG_WARN, "hv.sock pid %d: disconnected: %s",
			  (int)c->pid, why);
	c->in_cb++;	/* keep c alive through the destroy below */
	if (d) {
		d->conn = NULL;
		c->dom = NULL;
		pv_domain_destroy(c->hv, d);
	}
	c->in_cb--;
	hvsock_conn_release(c);
}

/**
 * pv_hvsock_detach() - the domain is being destroyed from elsewhere
 * (pvnetctl, shutdown): drop its connection without destroying it again.
 */
void pv_hvsock_detach(struct pv_hv *hv, struct pv_domain *d)
{
	struct hvsock_conn *c = d->conn;

	(void)hv;
	if (!c)
		return;
	c->dom = NULL;
	hvsock_conn_release(c);
}

static int hvsock_peer_ok(struct pv_hv *hv, const struct ucred *cr)
{
	return cr->uid == 0 || cr->uid == geteuid() || cr->uid == hv->allow_uid;
}

static void hvsock_accept_cb(struct pv_loop *loop, int lfd, uint32_t events, void *arg)
{
	struct pv_hv *hv = arg;
	struct hvsock_conn *c;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 || !hvsock_peer_ok(hv, &cr)) {
		hv->st.rejected_peers++;
		pv_log_rl(&hvsock_rl, PV_LOG_WARN, "hv.sock: peer uid %d pid %d refused",
			  (int)cr.uid, (int)cr.pid);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->hv = hv;
	c->fd = fd;
	c->pid = cr.pid;
	c->uid = cr.uid;
	c->w = pv_loop_add(hv->loop, fd, EPOLLIN, hvsock_conn_cb, c);
	if (!c->w) {
		close(fd);
		free(c);
		return;
	}
	c->next = hv->conns;
	if (c->next)
		c->next->prev = c;
	hv->conns = c;
}

/**
 * pv_hvsock_listen() - listen on @path (mode 0660) for guest domains
 */
int pv_hvsock_listen(struct pv_hv *hv, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 64) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	hv->listen_fd = fd;
	hv->sock_path = strdup(path);
	hv->reclaim.domain[PV_HV_CONN] = pv_hvsock_detach;
	hv->reclaim.close = pv_hvsock_close;
	hv->listen_w = pv_loop_add(hv->loop, fd, EPOLLIN, hvsock_accept_cb, hv);
	return hv->listen_w ? 0 : -ENOMEM;
}

void pv_hvsock_close(struct pv_hv *hv)
{
	while (hv->conns)
		hvsock_conn_close(hv->conns, NULL);
	if (hv->listen_fd < 0)
		return;
	pv_loop_del(hv->loop, hv->listen_w);
	close(hv->listen_fd);
	hv->listen_fd = -1;
	if (hv->sock_path)
		unlink(hv->sock_path);
	free(hv->sock_path);
	hv->sock_path = NULL;
}
