/* SPDX-License-Identifier: MIT */
/*
 * broker.c - pvnet-broker: untrusted applications get their own VI.
 *
 * Theory of operation
 * ===================
 *
 * Why a daemon of its own.  nic.sock gives whoever holds it the power to
 * map any memory into any VI's buffer table and to steer any flow: it is
 * for trusted software only (mode 0600).  Applications are untrusted, so
 * something trusted must stand between them and nic.sock, decide by a
 * policy, and do the programming itself.  That could live in pvnet-nicd
 * (the NIC model would then know about uids and ports, which a real NIC
 * does not: on the SFC4000 this is the driver's job) or in pvnetd (which
 * exists for guests; a host with applications and no guests would need
 * it anyway).  A small pvnet-broker beside pvnet-nicd keeps the NIC a
 * device model and the policy code small enough to read in one sitting;
 * it is one more process, started after pvnet-nicd, on the same host.
 *
 * One application connection = one VI = one connection of ours to
 * nic.sock.  The NIC frees what a control connection owned when it
 * closes, so a VI can never outlive its application: the application
 * exits or is SIGKILLed -> its broker.sock connection closes -> we
 * VI_FREE and close its nic.sock connection; and if the broker itself
 * dies, the NIC frees all its VIs the same way.
 *
 * What the broker checks, so that an application touches only its own:
 *  - the caller's uid (SO_PEERCRED, taken by the kernel at connect) names
 *    a policy rule; its VIs open at once are within the rule's count;
 *  - the VI's TX source check is the port's MAC and one local IPv4 of the
 *    rule, which must be an address of this host (bind() says so);
 *  - the memory it maps is a memfd (seals work on it) sealed against
 *    shrinking, a whole number of pages, within the rule's buffers and
 *    not the VI's own ring memory;
 *  - a filter is only for (proto, the VI's IP, a port of the rule), and
 *    only once the kernel has given us that port: we bind a kernel socket
 *    of that protocol there ourselves, without SO_REUSEADDR/REUSEPORT (so
 *    the bind fails if any socket holds the port, whatever options that
 *    one set, and none can join it later), and hold it as long as the
 *    filter.  That socket is the flow's "OS socket" (Onload's term): no
 *    other program can bind the port, and the kernel's copy of the flow's
 *    frames (pvnet-nicd's AF_PACKET port does not take them away from the
 *    kernel) lands on a socket and draws no ICMP port unreachable; a
 *    one-instruction socket filter drops that copy before it is queued
 *    (the kernel counts it in Udp InErrors).  We bind it, not the
 *    application: a socket it bound itself could share the port with a
 *    kernel program through SO_REUSEADDR and steal that program's flow.
 *  - the VI's TX source check covers ports too (PV_NIC_MAC_F_PORTS): it
 *    sends only TCP/UDP from a (protocol, address, port) of its own
 *    filters, never ARP or ICMP (the kernel keeps those for the address).
 *
 * The broker serves everyone on one thread; its calls to pvnet-nicd are
 * synchronous (nic_client, 5 s at most each): a local NIC answers at once,
 * and a hung one stalls VI set-up, never traffic (the data path does not
 * pass here).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "pvnet/broker.h"
#include "broker/broker.h"
#include "nic/nic_client.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/unix.h"

#define BRK_MAX_ERRORS	16	/* malformed requests before we hang up */
#define BRK_MEM_MAX	((size_t)BRK_MAX_BUFS * PV_NIC_BUF_SIZE)
#define BRK_PORT_TRIES	256	/* binds one FILTER of port 0 may try */
#define BRK_CONNS_PER_UID 64	/* connections a uid may hold open, VI or not */


struct brk_conn {
	struct broker *b;
	struct brk_conn *next, *prev;
	struct pv_watch *w;
	int fd;
	uid_t uid;
	pid_t pid;
	unsigned int errors;
	/* after OPEN: */
	int nic_fd;
	uint32_t vi_id;
	uint32_t local_ip;
	dev_t vi_dev;
	ino_t vi_ino;
	uint32_t nbufs;
	struct {
		uint32_t id;
		int os_fd;	/* the kernel socket holding the port */
	} filter[PV_BRK_FILTERS_MAX];
	unsigned int nfilters;
};

struct broker {
	struct pv_loop *loop;
	const struct brk_policy *pol;
	struct pv_watch *w;
	int fd;
	struct brk_conn *conns;
	char nic_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

struct brk_msg {
	struct pv_brk_hdr h;
	uint8_t body[PV_BRK_MSG_MAX];
	uint32_t blen;
	int fds[3];		/* requests: at most BRK_RECV_FDS; the OPEN reply: 3 */
	unsigned int nfds;
};

#define BRK_RECV_FDS	1

static struct pv_ratelimit brk_rl = PV_RATELIMIT_INIT;

static void brk_close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* One datagram, its descriptors; 1, 0 (none), -EPIPE, -EBADMSG (descriptors closed). */
static int brk_recv(int fd, struct brk_msg *m)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * PV_SCM_MAX_FDS)];
	} cm;
	struct iovec iov[2] = { { &m->h, sizeof(m->h) }, { m->body, sizeof(m->body) } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2,
			     .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	bool bad = false;

	m->nfds = 0;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
	if (n == 0)
		return -EPIPE;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = true;
			continue;
		}
		for (size_t i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (m->nfds < BRK_RECV_FDS)
				m->fds[m->nfds++] = f;
			else {
				close(f);
				bad = true;
			}
		}
	}
	if (bad || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(m->h)) {
		brk_close_fds(m->fds, m->nfds);
		m->nfds = 0;
		return -EBADMSG;
	}
	m->blen = (uint32_t)((size_t)n - sizeof(m->h));
	return 1;
}

/* Body length and descriptors each request takes. */
static const struct {
	uint32_t len;
	uint8_t nfds;
} brk_types[PV_BRK_TYPE_MAX] = {
	[PV_BRK_OPEN] = { sizeof(struct pv_brk_open), 0 },
	[PV_BRK_MEMREG] = { sizeof(struct pv_brk_memreg), 1 },
	[PV_BRK_FILTER] = { sizeof(struct pv_brk_filter), 0 },
	[PV_BRK_FILTER_DEL] = { sizeof(struct pv_brk_filter_del), 0 },
	[PV_BRK_STATS] = { 0, 0 },
};

static const char *brk_check(const struct brk_msg *m)
{
	if (m->h.type == 0 || m->h.type >= PV_BRK_TYPE_MAX)
		return "unknown type";
	if (m->h.flags || m->h.err || m->h.len != m->blen)
		return "bad header";
	if (m->blen != brk_types[m->h.type].len)
		return "wrong body length";
	if (m->nfds != brk_types[m->h.type].nfds)
		return "unexpected descriptors";
	return NULL;
}

static int brk_uid_vis(const struct broker *b, uid_t uid)
{
	int n = 0;

	for (const struct brk_conn *c = b->conns; c; c = c->next)
		n += c->uid == uid && c->nic_fd >= 0;
	return n;
}

static int brk_uid_conns(const struct broker *b, uid_t uid)
{
	int n = 0;

	for (const struct brk_conn *c = b->conns; c; c = c->next)
		n += c->uid == uid;
	return n;
}

/* Is @ip an address of this host (in our namespace)? */
static int brk_addr_local(uint32_t ip)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = ip };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		rc = -errno;
	close(s);
	return rc;
}

/* ---- requests ---- */

static int brk_vi_setup(struct brk_conn *c, struct pv_brk_open_reply *or, int *fds)
{
	struct pv_nic_info_reply info;
	struct nic_client_vi vi;
	struct stat st;
	int rc;

	memset(&info, 0, sizeof(info));
	rc = nic_client_info(c->nic_fd, &info);
	if (rc)
		return rc;
	rc = nic_client_vi_alloc(c->nic_fd, &vi);
	if (rc)
		return rc;
	fds[0] = vi.mem_fd;
	fds[1] = vi.doorbell_fd;
	fds[2] = vi.wake_fd;
	if (fstat(vi.mem_fd, &st) < 0)
		return -errno;
	c->vi_id = vi.vi_id;
	c->vi_dev = st.st_dev;
	c->vi_ino = st.st_ino;
	/* MAC, address and source ports: the VI sends only from flows it owns */
	if (!(info.features & PV_NIC_FEAT_TX_PORTS))
		return -EOPNOTSUPP;
	rc = nic_client_set_mac_flags(c->nic_fd, vi.vi_id, info.mac, c->local_ip,
				      PV_NIC_MAC_F_PORTS);
	if (rc)
		return rc;
	*or = (struct pv_brk_open_reply){ .vi_id = vi.vi_id, .local_ip = c->local_ip,
					  .mtu = info.mtu };
	memcpy(or->mac, info.mac, 6);
	return 0;
}

static int brk_open(struct brk_conn *c, const struct brk_msg *m, struct brk_msg *rep)
{
	const struct brk_rule *r = brk_policy_find(c->b->pol, c->uid);
	struct pv_brk_open o;
	struct pv_brk_open_reply *or = (void *)rep->body;
	int rc;

	memcpy(&o, m->body, sizeof(o));
	if (o.version != PV_BRK_VERSION)
		return -EPROTONOSUPPORT;
	if (c->nic_fd >= 0)
		return -EALREADY;
	if (!r)
		return -EACCES;
	if (brk_uid_vis(c->b, c->uid) >= (int)r->max_vis)
		return -EUSERS;
	c->local_ip = o.local_ip ? o.local_ip : r->addr[0];
	if (!brk_rule_addr_ok(r, c->local_ip))
		return -EACCES;
	if ((rc = brk_addr_local(c->local_ip)) < 0)
		return rc;
	c->nic_fd = nic_client_connect(c->b->nic_path);
	if (c->nic_fd < 0) {
		rc = c->nic_fd;
		pv_log_rl(&brk_rl, PV_LOG_WARN, "%s: %s", c->b->nic_path, strerror(-rc));
		return rc == -ENOENT || rc == -ECONNREFUSED ? -ENETDOWN : rc;
	}
	rep->fds[0] = rep->fds[1] = rep->fds[2] = -1;
	rc = brk_vi_setup(c, or, rep->fds);
	if (rc) {
		brk_close_fds(rep->fds, 3);
		close(c->nic_fd);	/* the NIC frees a VI half set up */
		c->nic_fd = -1;
		return rc;
	}
	or->max_bufs = r->max_bufs;
	rep->nfds = 3;
	rep->h.len = sizeof(*or);
	pv_info("uid %d pid %d: vi %u, source %s", (int)c->uid, (int)c->pid, c->vi_id,
		inet_ntoa((struct in_addr){ c->local_ip }));
	return 0;
}

/* Is @fd memory an application may lend the NIC?  Its size in *size. */
static int brk_mem_ok(const struct brk_conn *c, int fd, size_t *size)
{
	struct stat st;
	int seals;

	/*
	 * A memfd: F_GET_SEALS works on nothing else (EINVAL on files, pipes,
	 * sockets), and asked first, before fstat() could reach a file system
	 * the application serves (FUSE) and block us.
	 */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	/* Sealed against shrinking: the NIC's mapping can never lose its pages. */
	if (!(seals & F_SEAL_SHRINK))
		return -EINVAL;
	if (st.st_size <= 0 || st.st_size % PV_NIC_PAGE_SIZE || (size_t)st.st_size > BRK_MEM_MAX)
		return -EINVAL;
	/* Its own VI's rings as buffers: the NIC would write frames over them. */
	if (st.st_dev == c->vi_dev && st.st_ino == c->vi_ino)
		return -EINVAL;
	*size = (size_t)st.st_size;
	return 0;
}

static int brk_memreg(struct brk_conn *c, const struct brk_msg *m, struct brk_msg *rep)
{
	const struct brk_rule *r = brk_policy_find(c->b->pol, c->uid);
	struct pv_brk_memreg q;
	struct pv_brk_memreg_reply *mr = (void *)rep->body;
	uint32_t chunk[PV_NIC_MAP_MAX];
	size_t size = 0;
	int rc;

	memcpy(&q, m->body, sizeof(q));
	if (c->nic_fd < 0 || !r)
		return -ENOTCONN;
	if (q.count == 0 || q.count > PV_BRK_MEMREG_MAX)
		return -EINVAL;
	if ((rc = brk_mem_ok(c, m->fds[0], &size)) < 0)
		return rc;
	if ((uint64_t)q.chunk + q.count > size / PV_NIC_BUF_SIZE)
		return -EINVAL;
	if (c->nbufs + q.count > r->max_bufs)
		return -EDQUOT;
	for (uint32_t done = 0; done < q.count;) {
		uint32_t n = q.count - done < PV_NIC_MAP_MAX ? q.count - done : PV_NIC_MAP_MAX;

		for (uint32_t i = 0; i < n; i++)
			chunk[i] = q.chunk + done + i;
		rc = nic_client_buf_map(c->nic_fd, c->vi_id, m->fds[0], chunk, n, mr->buf_id + done);
		if (rc) {
			/* all or nothing: give back the batches already mapped */
			for (uint32_t u = 0; u < done; u += PV_NIC_MAP_MAX)
				nic_client_buf_unmap(c->nic_fd, c->vi_id, mr->buf_id + u,
						     done - u < PV_NIC_MAP_MAX ? done - u : PV_NIC_MAP_MAX);
			return rc;
		}
		done += n;
	}
	c->nbufs += q.count;
	mr->count = q.count;
	rep->h.len = (uint32_t)(4 + 4 * (size_t)q.count);
	return 0;
}

/*
 * The OS socket of (@proto, @ip, @port): bound by us, so the kernel says
 * the port is free and keeps it ours; its filter drops every datagram
 * the kernel would queue on it.  fd or -errno (-EADDRINUSE: taken).
 */
static int brk_os_socket(uint8_t proto, uint32_t ip, uint16_t port)
{
	static const struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
	const struct sock_fprog prog = { .len = 1, .filter = (struct sock_filter *)&drop };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = ip,
				  .sin_port = htons(port) };
	int fd = socket(AF_INET, (proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
			proto);

	if (fd < 0)
		return -errno;
	/*
	 * TCP: listening, so that the kernel's copy of each segment of the
	 * flow finds this socket (its filter drops it, before any reply)
	 * instead of none, which the kernel would answer with RST.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (proto == IPPROTO_TCP && listen(fd, 1) < 0)) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

/* Port 0: the first port of the rule's ranges the kernel gives us, from a rotating start. */
static int brk_os_socket_any(const struct brk_rule *r, uint8_t proto, uint32_t ip,
			     uint16_t *port)
{
	static uint32_t turn;
	const struct brk_range *rg = proto == IPPROTO_UDP ? r->udp : r->tcp;
	unsigned int n = proto == IPPROTO_UDP ? r->nudp : r->ntcp, tries = 0;

	for (unsigned int i = 0; i < n; i++) {
		uint32_t span = (uint32_t)rg[i].hi - rg[i].lo + 1, start = turn++ % span;

		for (uint32_t k = 0; k < span && tries < BRK_PORT_TRIES; k++, tries++) {
			uint16_t p = (uint16_t)(rg[i].lo + (start + k) % span);
			int fd = brk_os_socket(proto, ip, p);

			if (fd >= 0) {
				*port = p;
				return fd;
			}
			if (fd != -EADDRINUSE)
				return fd;
		}
	}
	return n ? -EADDRINUSE : -EACCES;
}

static int brk_filter(struct brk_conn *c, const struct brk_msg *m, struct brk_msg *rep)
{
	const struct brk_rule *r = brk_policy_find(c->b->pol, c->uid);
	struct pv_brk_filter f;
	struct pv_brk_filter_reply *fr = (void *)rep->body;
	uint32_t id;
	int rc, os_fd;

	memcpy(&f, m->body, sizeof(f));
	if (c->nic_fd < 0 || !r)
		return -ENOTCONN;
	if (f.reserved || (f.proto != IPPROTO_UDP && f.proto != IPPROTO_TCP))
		return -EINVAL;
	if (f.local_ip != c->local_ip)
		return -EADDRNOTAVAIL;	/* a VI sends from one address: its filters are for it */
	if (f.local_port && !brk_rule_port_ok(r, f.proto, f.local_port)) {
		pv_log_rl(&brk_rl, PV_LOG_WARN, "uid %d pid %d: %s port %u refused by policy",
			  (int)c->uid, (int)c->pid, f.proto == IPPROTO_UDP ? "udp" : "tcp",
			  f.local_port);
		return -EACCES;
	}
	if (c->nfilters == PV_BRK_FILTERS_MAX)
		return -ENOSPC;
	os_fd = f.local_port ? brk_os_socket(f.proto, f.local_ip, f.local_port) :
			       brk_os_socket_any(r, f.proto, f.local_ip, &f.local_port);
	if (os_fd < 0)
		return os_fd;
	rc = nic_client_filter_ipv4(c->nic_fd, c->vi_id, f.proto, f.local_ip, f.local_port, &id);
	if (rc) {
		close(os_fd);
		return rc;
	}
	c->filter[c->nfilters].id = id;
	c->filter[c->nfilters++].os_fd = os_fd;
	*fr = (struct pv_brk_filter_reply){ .filter_id = id, .local_port = f.local_port };
	rep->h.len = sizeof(*fr);
	return 0;
}

static int brk_filter_del(struct brk_conn *c, const struct brk_msg *m)
{
	struct pv_brk_filter_del d;

	memcpy(&d, m->body, sizeof(d));
	if (c->nic_fd < 0)
		return -ENOTCONN;
	for (unsigned int i = 0; i < c->nfilters; i++) {
		if (c->filter[i].id != d.filter_id)
			continue;
		int rc = nic_client_filter_del(c->nic_fd, c->vi_id, d.filter_id);

		/* after the filter: the kernel never sees the flow without its socket */
		close(c->filter[i].os_fd);
		c->filter[i] = c->filter[--c->nfilters];
		return rc;
	}
	return -ENOENT;
}

static int brk_stats(struct brk_conn *c, struct brk_msg *rep)
{
	struct pv_nic_vi_stats *st = (void *)rep->body;
	int rc;

	if (c->nic_fd < 0)
		return -ENOTCONN;
	memset(st, 0, sizeof(*st));
	rc = nic_client_stats(c->nic_fd, c->vi_id, st);
	if (!rc)
		rep->h.len = sizeof(*st);
	return rc;
}

static int brk_dispatch(struct brk_conn *c, const struct brk_msg *m, struct brk_msg *rep)
{
	switch (m->h.type) {
	case PV_BRK_OPEN: return brk_open(c, m, rep);
	case PV_BRK_MEMREG: return brk_memreg(c, m, rep);
	case PV_BRK_FILTER: return brk_filter(c, m, rep);
	case PV_BRK_FILTER_DEL: return brk_filter_del(c, m);
	default: return brk_stats(c, rep);
	}
}

/* ---- connections ---- */

static void brk_conn_close(struct brk_conn *c)
{
	struct broker *b = c->b;

	if (c->nic_fd >= 0) {
		int rc = nic_client_vi_free(c->nic_fd, c->vi_id);

		pv_info("uid %d pid %d: vi %u freed%s", (int)c->uid, (int)c->pid, c->vi_id,
			rc ? " (by closing its control connection)" : "");
		close(c->nic_fd);	/* and if VI_FREE failed, this frees it */
	}
	for (unsigned int i = 0; i < c->nfilters; i++)
		close(c->filter[i].os_fd);	/* the ports go back to the kernel last */
	if (c->prev)
		c->prev->next = c->next;
	else
		b->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pv_loop_del(b->loop, c->w);
	close(c->fd);
	free(c);
}

static void brk_send(struct brk_conn *c, const struct brk_msg *rep)
{
	struct iovec iov[2] = { { (void *)&rep->h, sizeof(rep->h) },
				{ (void *)rep->body, rep->h.len } };

	if (pv_unix_send_fds(c->fd, iov, 2, rep->fds, rep->nfds, MSG_DONTWAIT) < 0)
		pv_log_rl(&brk_rl, PV_LOG_WARN, "pid %d: reply lost", (int)c->pid);
}

/* One request and its reply; false if the connection was closed. */
static bool brk_one(struct brk_conn *c, struct brk_msg *m, struct brk_msg *rep, int n)
{
	const char *why = n == -EBADMSG ? "truncated or bad ancillary data" : brk_check(m);

	memset(&rep->h, 0, sizeof(rep->h));
	rep->h.type = m->h.type;
	rep->h.seq = m->h.seq;
	rep->nfds = 0;
	if (why) {
		brk_close_fds(m->fds, m->nfds);
		pv_log_rl(&brk_rl, PV_LOG_WARN, "uid %d pid %d: bad request (type %u): %s",
			  (int)c->uid, (int)c->pid, m->h.type, why);
		rep->h.err = -EINVAL;
		brk_send(c, rep);
		if (++c->errors >= BRK_MAX_ERRORS) {
			brk_conn_close(c);
			return false;
		}
		return true;
	}
	rep->h.err = brk_dispatch(c, m, rep);
	if (rep->h.err)
		rep->h.len = 0;
	brk_close_fds(m->fds, m->nfds);
	brk_send(c, rep);
	brk_close_fds(rep->fds, rep->nfds);	/* the application has its copies now */
	return true;
}

static void brk_conn_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct brk_conn *c = arg;
	struct brk_msg *m = malloc(sizeof(*m)), *rep = malloc(sizeof(*rep));

	for (int i = 0; m && rep && i < 16; i++) {
		int n;

		memset(&m->h, 0, sizeof(m->h));
		n = brk_recv(fd, m);
		if (n == 0)
			break;
		if (n == -EPIPE) {
			brk_conn_close(c);
			break;
		}
		if (!brk_one(c, m, rep, n))
			break;
	}
	free(m);
	free(rep);
}

static void brk_accept_cb(struct pv_loop *loop, int lfd, uint32_t events, void *arg)
{
	struct broker *b = arg;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	struct brk_conn *c;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 ||
	    brk_uid_conns(b, cr.uid) >= BRK_CONNS_PER_UID) {
		pv_log_rl(&brk_rl, PV_LOG_WARN, "refused a connection (uid %d): too many", (int)cr.uid);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->w = pv_loop_add(loop, fd, EPOLLIN, brk_conn_cb, c))) {
		free(c);
		close(fd);
		return;
	}
	*c = (struct brk_conn){ .b = b, .w = c->w, .fd = fd, .uid = cr.uid, .pid = cr.pid,
				.nic_fd = -1, .next = b->conns };
	if (c->next)
		c->next->prev = c;
	b->conns = c;
}

struct broker *broker_listen(struct pv_loop *loop, const struct brk_policy *policy,
			     const char *nic_path, const char *sock_path, int *err)
{
	struct broker *b = calloc(1, sizeof(*b));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!b || strlen(sock_path) >= sizeof(sa.sun_path) || strlen(nic_path) >= sizeof(b->nic_path)) {
		*err = b ? -ENAMETOOLONG : -ENOMEM;
		free(b);
		return NULL;
	}
	b->loop = loop;
	b->pol = policy;
	snprintf(b->path, sizeof(b->path), "%s", sock_path);
	snprintf(b->nic_path, sizeof(b->nic_path), "%s", nic_path);
	memcpy(sa.sun_path, sock_path, strlen(sock_path));
	unlink(sock_path);
	b->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* Everyone may connect: the policy, by SO_PEERCRED, decides what they get. */
	if (b->fd < 0 || bind(b->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sock_path, 0666) < 0 || listen(b->fd, 64) < 0 ||
	    !(b->w = pv_loop_add(loop, b->fd, EPOLLIN, brk_accept_cb, b))) {
		*err = -errno;
		if (b->fd >= 0)
			close(b->fd);
		free(b);
		return NULL;
	}
	return b;
}

void broker_close(struct broker *b)
{
	if (!b)
		return;
	while (b->conns)
		brk_conn_close(b->conns);
	pv_loop_del(b->loop, b->w);
	close(b->fd);
	unlink(b->path);
	free(b);
}
