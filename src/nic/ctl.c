/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - pvnet-nicd's control socket: trusted software programs the NIC.
 *
 * How this works
 * ==============
 *
 * DIR/nic.sock, SOCK_SEQPACKET, mode 0600; a peer must be root or our own
 * user (SO_PEERCRED), since whoever holds this socket decides which memory
 * a VI may touch.  One datagram = one request (include/pvnet/nic.h); each
 * is received whole with its descriptors (MSG_CMSG_CLOEXEC), checked
 * against the request table (body length, descriptor count), dispatched,
 * and answered with exactly one reply.  Descriptors a request does not
 * keep are closed before the next one is read.
 *
 * Severity: a malformed request gets -EINVAL and counts toward
 * PV_NIC_MAX_ERRORS, after which the connection is closed; a request the
 * NIC refuses for what it asks (no such VI, quota, table full) gets its
 * errno and counts nothing.  A connection that goes away takes its VIs
 * with it: buffer table entries, filters and all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nic.h"
#include "lib/loop.h"
#include "lib/unix.h"

#define CTL_MAX_FDS	4
#define CTL_BATCH	32		/* requests per readable callback */

struct ctl_conn {
	struct nic_ctl *ctl;
	struct ctl_conn *next, *prev;
	struct pv_watch *w;
	int fd;
	pid_t pid;
	unsigned int errors;
};

struct nic_ctl {
	struct pv_loop *loop;
	struct nic *nic;
	struct pv_watch *w;
	int fd;
	struct ctl_conn *conns;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

struct ctl_req {
	struct pv_nic_hdr h;
	uint8_t body[PV_NIC_MSG_MAX];
	uint32_t blen;
	int fds[CTL_MAX_FDS];
	unsigned int nfds;
};

struct ctl_reply {
	struct pv_nic_hdr h;
	uint8_t body[PV_NIC_MSG_MAX];
	int fds[3];
	unsigned int nfds;
};

static struct pv_ratelimit ctl_rl = PV_RATELIMIT_INIT;

/* Request table: fixed body length (or header + 4 bytes per entry), descriptors. */
static const struct {
	uint32_t len;
	uint8_t per_entry;	/* body = len + 4 * count, count at offset 4 */
	uint8_t nfds;
} ctl_types[PV_NIC_TYPE_MAX] = {
	[PV_NIC_INFO] = { 0, 0, 0 },
	[PV_NIC_VI_ALLOC] = { sizeof(struct pv_nic_vi_alloc), 0, 0 },
	[PV_NIC_VI_FREE] = { sizeof(struct pv_nic_vi_req), 0, 0 },
	[PV_NIC_VI_RESET] = { sizeof(struct pv_nic_vi_req), 0, 0 },
	[PV_NIC_BUF_MAP] = { sizeof(struct pv_nic_buf_map), 1, 1 },
	[PV_NIC_BUF_UNMAP] = { sizeof(struct pv_nic_buf_ids), 1, 0 },
	[PV_NIC_FILTER_ADD] = { sizeof(struct pv_nic_filter), 0, 0 },
	[PV_NIC_FILTER_DEL] = { sizeof(struct pv_nic_filter_del), 0, 0 },
	[PV_NIC_SET_MAC] = { sizeof(struct pv_nic_set_mac), 0, 0 },
	[PV_NIC_SET_HOST] = { sizeof(struct pv_nic_vi_req), 0, 0 },
	[PV_NIC_STATS] = { sizeof(struct pv_nic_vi_req), 0, 0 },
	[PV_NIC_SET_ADDRS] = { sizeof(struct pv_nic_set_addrs), 0, 0 },
	[PV_NIC_SET_STORM] = { sizeof(struct pv_nic_set_storm), 0, 0 },
};

_Static_assert(PV_NIC_ADDRS_MAX == PV_SG_ADDRS_MAX, "the NIC holds what netback may own");

static void close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/**
 * ctl_recv() - one datagram with its descriptors
 *
 * Return: 1 got one, 0 nothing (EAGAIN), -EPIPE peer gone, -EBADMSG
 * truncated or bad ancillary data (descriptors closed).
 */
static int ctl_recv(int fd, struct ctl_req *r)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * PV_SCM_MAX_FDS)];
	} cm;
	struct iovec iov[2] = { { &r->h, sizeof(r->h) }, { r->body, sizeof(r->body) } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2,
			     .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int bad = 0;

	r->nfds = 0;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
	if (n == 0)
		return -EPIPE;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (r->nfds < CTL_MAX_FDS)
				r->fds[r->nfds++] = f;
			else {
				close(f);
				bad = 1;
			}
		}
	}
	if (bad || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(r->h)) {
		close_fds(r->fds, r->nfds);
		r->nfds = 0;
		return -EBADMSG;
	}
	r->blen = (uint32_t)((size_t)n - sizeof(r->h));
	return 1;
}

/* Is the header and shape of the request right?  NULL if so. */
static const char *ctl_check(const struct ctl_req *r)
{
	uint32_t want;

	if (r->h.type == 0 || r->h.type >= PV_NIC_TYPE_MAX)
		return "unknown type";
	if (r->h.flags || r->h.err || r->h.len != r->blen)
		return "bad header";
	want = ctl_types[r->h.type].len;
	if (ctl_types[r->h.type].per_entry) {
		uint32_t count;

		if (r->blen < want)
			return "short body";
		memcpy(&count, r->body + 4, sizeof(count));
		if (count == 0 || count > PV_NIC_MAP_MAX)
			return "bad count";
		want += 4 * count;
	}
	if (r->blen != want)
		return "wrong body length";
	if (r->nfds != ctl_types[r->h.type].nfds)
		return "unexpected descriptors";
	return NULL;
}

static void ctl_send(struct ctl_conn *c, const struct ctl_reply *rep)
{
	struct iovec iov[2] = { { (void *)&rep->h, sizeof(rep->h) },
				{ (void *)rep->body, rep->h.len } };

	if (pv_unix_send_fds(c->fd, iov, 2, rep->fds, rep->nfds, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		pv_log_rl(&ctl_rl, PV_LOG_WARN, "nic.sock pid %d: reply lost", (int)c->pid);
}

/* ---- requests ---- */

static int ctl_info(struct ctl_conn *c, struct ctl_reply *rep)
{
	struct nic *nic = c->ctl->nic;
	struct pv_nic_info_reply *ir = (void *)rep->body;

	*ir = (struct pv_nic_info_reply){
		.version = PV_NIC_VERSION, .max_vis = nic->cfg.max_vis,
		.nr_bufs = nic->cfg.nr_bufs, .mtu = nic->mtu,
		.max_filters = nic->cfg.max_filters, .vi_filters = nic->cfg.vi_filters,
		.port_rx = nic->port_rx, .port_tx = nic->port_tx,
		.rx_unmatched_dropped = nic->rx_unmatched_dropped, .ctl_errors = nic->ctl_errors,
		.features = NIC_FEATURES | (nic->cfg.gro ? PV_NIC_FEAT_RX_GRO : 0),
		.vis_active = nic->nr_active,
		.bufs_used = nic->bt.size - nic->bt.nfree, .filters_used = nic->fl.used,
		.gro_frames = nic->gro_st.frames, .gro_segs = nic->gro_st.segs,
		.gro_not_wanted = nic->gro_st.not_wanted,
		.gro_close_batch = nic->gro_st.close[NIC_GRO_CLOSE_BATCH],
		.gro_close_push = nic->gro_st.close[NIC_GRO_CLOSE_PUSH],
		.gro_close_size = nic->gro_st.close[NIC_GRO_CLOSE_SIZE],
		.gro_close_mismatch = nic->gro_st.close[NIC_GRO_CLOSE_MISMATCH],
		.gro_close_other = nic->gro_st.close[NIC_GRO_CLOSE_OTHER],
		.port_rx_kernel_drops = nic->port_rx_kernel_drops,
	};
	memcpy(ir->mac, nic->port_mac, 6);
	rep->h.len = sizeof(*ir);
	return 0;
}

static int ctl_vi_alloc(struct ctl_conn *c, const struct ctl_req *r, struct ctl_reply *rep)
{
	struct pv_nic_vi_alloc a;
	struct pv_nic_vi_alloc_reply *ar = (void *)rep->body;
	struct nic_vi *vi;
	uint32_t id;
	int rc;

	memcpy(&a, r->body, sizeof(a));
	if (a.version != PV_NIC_VERSION)
		return -EPROTONOSUPPORT;
	if (a.flags & ~PV_NIC_VI_F_RX_CHAIN)
		return -EINVAL;
	rc = nic_vi_alloc(c->ctl->nic, c, &id);
	if (rc)
		return rc;
	vi = &c->ctl->nic->vis[id];
	vi->rx_chain = a.flags & PV_NIC_VI_F_RX_CHAIN;
	*ar = (struct pv_nic_vi_alloc_reply){ .vi_id = id, .mem_size = PV_NIC_VI_MEM_SIZE };
	rep->h.len = sizeof(*ar);
	rep->fds[0] = vi->mem_fd;
	rep->fds[1] = vi->db_fd;
	rep->fds[2] = vi->wake_fd;
	rep->nfds = 3;
	pv_info("vi %u allocated (pid %d)", id, (int)c->pid);
	return 0;
}

static int ctl_vi_req(struct ctl_conn *c, const struct ctl_req *r, struct ctl_reply *rep)
{
	struct nic *nic = c->ctl->nic;
	struct pv_nic_vi_req q;
	struct nic_vi *vi;
	int rc;

	memcpy(&q, r->body, sizeof(q));
	if (q.reserved)
		return -EINVAL;
	if (r->h.type == PV_NIC_SET_HOST && q.vi_id == PV_NIC_VI_NONE)
		return nic_set_host(nic, PV_NIC_VI_NONE);
	vi = nic_vi_lookup(nic, q.vi_id, c, &rc);
	if (!vi)
		return rc;
	switch (r->h.type) {
	case PV_NIC_VI_FREE:
		nic_vi_free(nic, vi);
		pv_info("vi %u freed", q.vi_id);
		return 0;
	case PV_NIC_VI_RESET:
		nic_vi_reset(nic, vi);
		return 0;
	case PV_NIC_SET_HOST:
		return nic_set_host(nic, q.vi_id);
	default:	/* PV_NIC_STATS */
		nic_vi_stats(nic, vi, (struct pv_nic_vi_stats *)(void *)rep->body);
		rep->h.len = sizeof(struct pv_nic_vi_stats);
		return 0;
	}
}

static int ctl_buf_map(struct ctl_conn *c, const struct ctl_req *r, struct ctl_reply *rep)
{
	struct nic *nic = c->ctl->nic;
	struct pv_nic_buf_ids *ids = (void *)rep->body;
	uint32_t hdr[2], chunk[PV_NIC_MAP_MAX];
	struct nic_region *reg;
	int rc;

	memcpy(hdr, r->body, sizeof(hdr));
	memcpy(chunk, r->body + sizeof(hdr), 4 * (size_t)hdr[1]);
	if (!nic_vi_lookup(nic, hdr[0], c, &rc))
		return rc;
	reg = nic_region_get(&nic->bt, r->fds[0], &rc);
	if (!reg)
		return rc;
	rc = nic_bufta_map(&nic->bt, hdr[0], reg, chunk, hdr[1], ids->buf_id);
	nic_region_put(&nic->bt, reg);	/* the entries hold their own references */
	if (rc)
		return rc;
	ids->vi_id = hdr[0];
	ids->count = hdr[1];
	rep->h.len = (uint32_t)(sizeof(*ids) + 4 * (size_t)hdr[1]);
	return 0;
}

static int ctl_buf_unmap(struct ctl_conn *c, const struct ctl_req *r)
{
	struct nic *nic = c->ctl->nic;
	uint32_t hdr[2], ids[PV_NIC_MAP_MAX];
	int rc;

	memcpy(hdr, r->body, sizeof(hdr));
	memcpy(ids, r->body + sizeof(hdr), 4 * (size_t)hdr[1]);
	if (!nic_vi_lookup(nic, hdr[0], c, &rc))
		return rc;
	return nic_bufta_unmap(&nic->bt, hdr[0], ids, hdr[1]);
}

static int ctl_filter(struct ctl_conn *c, const struct ctl_req *r, struct ctl_reply *rep)
{
	struct nic *nic = c->ctl->nic;
	struct pv_nic_filter f;
	struct pv_nic_filter_del fd;
	struct pv_nic_filter_reply *fr = (void *)rep->body;
	int rc;

	if (r->h.type == PV_NIC_FILTER_DEL) {
		memcpy(&fd, r->body, sizeof(fd));
		if (!nic_vi_lookup(nic, fd.vi_id, c, &rc))
			return rc;
		return nic_filter_del(&nic->fl, fd.vi_id, fd.filter_id);
	}
	memcpy(&f, r->body, sizeof(f));
	if (!nic_vi_lookup(nic, f.vi_id, c, &rc))
		return rc;
	*fr = (struct pv_nic_filter_reply){ 0 };
	rc = nic_filter_add(&nic->fl, &f, &fr->filter_id);
	if (!rc)
		rep->h.len = sizeof(*fr);
	return rc;
}

static int ctl_set_mac(struct ctl_conn *c, const struct ctl_req *r)
{
	struct nic *nic = c->ctl->nic;
	struct pv_nic_set_mac m;
	struct nic_vi *vi;
	int rc;

	memcpy(&m, r->body, sizeof(m));
	vi = nic_vi_lookup(nic, m.vi_id, c, &rc);
	return vi ? nic_vi_set_mac(nic, vi, &m) : rc;
}

/*
 * SET_ADDRS: the VI's source addresses.  Return: 0, -EINVAL (unknown
 * flags, reserved bits, count past the maximum or without ENFORCE, an
 * address that is not unicast), or the look-up's error.
 */
static int ctl_set_addrs(struct ctl_conn *c, const struct ctl_req *r)
{
	struct pv_nic_set_addrs m;
	struct pv_sg_addrs set = { 0 };
	struct nic_vi *vi;
	int rc;

	memcpy(&m, r->body, sizeof(m));
	if ((m.flags & ~PV_NIC_ADDRS_F_ENFORCE) || m.reserved || m.count > PV_NIC_ADDRS_MAX ||
	    (!(m.flags & PV_NIC_ADDRS_F_ENFORCE) && m.count))
		return -EINVAL;
	for (uint32_t i = 0; i < m.count; i++) {
		memcpy(set.a[i].a, m.addr[i], 16);
		if (!pv_sg_addr_unicast(&set.a[i]))
			return -EINVAL;
	}
	set.n = m.count;
	vi = nic_vi_lookup(c->ctl->nic, m.vi_id, c, &rc);
	if (!vi)
		return rc;
	vi->pol.addrs = set;
	vi->pol.addrs_set = m.flags & PV_NIC_ADDRS_F_ENFORCE;
	return 0;
}

/* SET_STORM: the VI's broadcast and multicast limits (nic_vi_set_storm). */
static int ctl_set_storm(struct ctl_conn *c, const struct ctl_req *r)
{
	struct pv_nic_set_storm m;
	struct nic_vi *vi;
	int rc;

	memcpy(&m, r->body, sizeof(m));
	vi = nic_vi_lookup(c->ctl->nic, m.vi_id, c, &rc);
	return vi ? nic_vi_set_storm(vi, &m) : rc;
}

static int ctl_dispatch(struct ctl_conn *c, const struct ctl_req *r, struct ctl_reply *rep)
{
	switch (r->h.type) {
	case PV_NIC_INFO: return ctl_info(c, rep);
	case PV_NIC_VI_ALLOC: return ctl_vi_alloc(c, r, rep);
	case PV_NIC_BUF_MAP: return ctl_buf_map(c, r, rep);
	case PV_NIC_BUF_UNMAP: return ctl_buf_unmap(c, r);
	case PV_NIC_FILTER_ADD:
	case PV_NIC_FILTER_DEL: return ctl_filter(c, r, rep);
	case PV_NIC_SET_MAC: return ctl_set_mac(c, r);
	case PV_NIC_SET_ADDRS: return ctl_set_addrs(c, r);
	case PV_NIC_SET_STORM: return ctl_set_storm(c, r);
	default: return ctl_vi_req(c, r, rep);
	}
}

/* ---- connections ---- */

static void ctl_conn_close(struct ctl_conn *c, const char *why)
{
	struct nic_ctl *ctl = c->ctl;

	if (why)
		pv_log_rl(&ctl_rl, PV_LOG_WARN, "nic.sock pid %d: closed: %s", (int)c->pid, why);
	nic_vi_free_owner(ctl->nic, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pv_loop_del(ctl->loop, c->w);
	close(c->fd);
	free(c);
}

/* Return: false if the connection was closed. */
static bool ctl_one(struct ctl_conn *c, struct ctl_req *r, struct ctl_reply *rep, int n)
{
	const char *why = n == -EBADMSG ? "truncated or bad ancillary data" : ctl_check(r);

	memset(&rep->h, 0, sizeof(rep->h));
	rep->h.type = r->h.type;
	rep->h.seq = r->h.seq;
	rep->nfds = 0;
	if (why) {
		close_fds(r->fds, r->nfds);
		c->ctl->nic->ctl_errors++;
		pv_log_rl(&ctl_rl, PV_LOG_WARN, "nic.sock pid %d: bad request (type %u): %s",
			  (int)c->pid, r->h.type, why);
		rep->h.err = -EINVAL;
		ctl_send(c, rep);
		if (++c->errors >= PV_NIC_MAX_ERRORS) {
			ctl_conn_close(c, "too many bad requests");
			return false;
		}
		return true;
	}
	rep->h.err = ctl_dispatch(c, r, rep);
	if (rep->h.err) {
		rep->h.len = 0;
		rep->nfds = 0;
	}
	close_fds(r->fds, r->nfds);
	ctl_send(c, rep);
	return true;
}

static void ctl_conn_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ctl_conn *c = arg;
	struct ctl_req *r = malloc(sizeof(*r));
	struct ctl_reply *rep = malloc(sizeof(*rep));

	for (int i = 0; r && rep && i < CTL_BATCH; i++) {
		int n;

		memset(&r->h, 0, sizeof(r->h));
		n = ctl_recv(fd, r);
		if (n == 0)
			break;
		if (n == -EPIPE) {
			ctl_conn_close(c, NULL);
			break;
		}
		if (!ctl_one(c, r, rep, n))
			break;
	}
	free(r);
	free(rep);
}

static void ctl_accept_cb(struct pv_loop *loop, int lfd, uint32_t events, void *arg)
{
	struct nic_ctl *ctl = arg;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	struct ctl_conn *c;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 ||
	    (cr.uid != 0 && cr.uid != geteuid())) {
		pv_log_rl(&ctl_rl, PV_LOG_WARN, "nic.sock: refused a peer (uid %d)", (int)cr.uid);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->w = pv_loop_add(loop, fd, EPOLLIN, ctl_conn_cb, c))) {
		free(c);
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
	c->pid = cr.pid;
	c->next = ctl->conns;
	if (c->next)
		c->next->prev = c;
	ctl->conns = c;
}

/**
 * nic_ctl_listen() - serve the control protocol on @path (mode 0600)
 *
 * A stale socket at @path is replaced (the pid file lock says no other
 * pvnet-nicd owns this run directory).
 *
 * Return: the control socket, or NULL with *err.
 */
struct nic_ctl *nic_ctl_listen(struct pv_loop *loop, struct nic *nic, const char *path, int *err)
{
	struct nic_ctl *ctl = calloc(1, sizeof(*ctl));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!ctl || strlen(path) >= sizeof(sa.sun_path)) {
		free(ctl);
		*err = ctl ? -ENAMETOOLONG : -ENOMEM;
		return NULL;
	}
	ctl->loop = loop;
	ctl->nic = nic;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path));
	unlink(path);
	ctl->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0 || bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(ctl->fd, 16) < 0 ||
	    !(ctl->w = pv_loop_add(loop, ctl->fd, EPOLLIN, ctl_accept_cb, ctl))) {
		*err = -errno;
		if (ctl->fd >= 0)
			close(ctl->fd);
		free(ctl);
		return NULL;
	}
	return ctl;
}

void nic_ctl_close(struct nic_ctl *ctl)
{
	if (!ctl)
		return;
	while (ctl->conns)
		ctl_conn_close(ctl->conns, NULL);
	pv_loop_del(ctl->loop, ctl->w);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl);
}
