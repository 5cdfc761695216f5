/* SPDX-License-Identifier: MIT */
/*
 * preload.c - libpvnet-preload.so: unmodified programs on the fast path
 * (issue #11 layer 4; libpvnet-preload(7)).
 *
 *   LD_PRELOAD=libpvnet-preload.so PVNET_BROKER=/run/pvnet/broker.sock prog ...
 *
 * How this works
 * ==============
 *
 * The library defines the socket calls (socket, bind, connect, send*,
 * recv*, read, write, poll, select, epoll_*, fcntl, ioctl, setsockopt,
 * getsockopt, getsockname, getpeername, listen, accept, shutdown, close);
 * each finds the kernel's own with dlsym(RTLD_NEXT) and hands it every
 * call that is not about an accelerated socket, untouched.
 *
 * An AF_INET datagram (UDP) or stream (TCP) socket is a kernel socket
 * first: its fd is the one the program holds for good, so the fd table
 * stays the kernel's (no fd is invented, dup and fstat see a socket).  It
 * becomes accelerated when it gets an address: an explicit bind() to the
 * stack's address or INADDR_ANY that the broker's policy allows, or the
 * implicit bind of a connect() or first sendto() towards anything but
 * this host.  From then on its traffic goes through libpvnet (one stack
 * per process, opened at the first such socket: one VI); the kernel
 * socket stays unbound, a placeholder.  When the policy refuses (EACCES),
 * there is no broker, or the address is loopback or another of the
 * host's, the socket stays the kernel's, as if we were not there.
 *
 * Blocking is ours: libpvnet's sockets are all non-blocking here, and a
 * call that must wait sleeps on the VI's wake-up descriptor (spin mode
 * first, $PVNET_SPIN_US as libpvnet's), without our lock, so that other
 * threads go on.  poll/select/epoll with accelerated fds: their
 * readiness is libpvnet's; when none is ready, the VI's wake-up
 * descriptor takes their place in the kernel's wait beside the other
 * fds, and readiness is looked at again after it.  epoll: each epoll set
 * with accelerated fds holds the wake-up descriptor (tagged) and we keep
 * the accelerated fds' (events, data) beside it.
 *
 * Calls libpvnet itself makes (netlink, the neighbour trigger, poll of
 * its wake-up) come back through these symbols: a thread-local flag
 * passes them straight to the kernel.
 *
 * Not done: fork() (the child would share the VI: its accelerated
 * sockets are the parent's), dup() of an accelerated fd (the copy is the
 * placeholder kernel socket), IPv6, multicast, MSG_PEEK, SO_REUSEPORT
 * groups, epoll edge-triggered mode on accelerated fds (level only).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <netinet/tcp.h>

#include "pvnet/libpvnet.h"

#define PL_MAX_FD	65536
#define PL_MAX_DGRAM	65536
#define PL_TCP_TICK_MS	100	/* with TCP sockets, a sleep wakes for lwIP's timers */
#define PL_EP_TAG	0x7076657770616b65ull	/* "pvnewake": our wake-up fd in an epoll set */
#define PL_EP_MAX	1024	/* accelerated fds in one epoll set */

enum pl_kind { PL_UDP = 1, PL_TCP };

struct psock {
	enum pl_kind kind;
	bool accel;		/* libpvnet's from now on */
	bool nonblock;
	bool kernel_bound;	/* the kernel socket got an address: stays the kernel's */
	int rcv_timeout_ms, snd_timeout_ms;	/* SO_RCVTIMEO, SO_SNDTIMEO; -1 none */
	bool nodelay;
	union {
		struct pvnet_udp *u;
		struct pvnet_tcp *t;
	};
};

struct pl_epitem {
	int fd;
	uint32_t events;
	epoll_data_t data;
};

struct pl_epoll {
	bool wake_added;
	unsigned int n;
	struct pl_epitem it[PL_EP_MAX];
};

static struct {
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
	int (*fcntl)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*shutdown)(int, int);
	int (*close)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
} real;

static pthread_once_t pl_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t pl_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static __thread int pl_inside;	/* in libpvnet: its own calls go to the kernel */
static struct psock *pl_socks[PL_MAX_FD];
static struct pl_epoll *pl_eps[PL_MAX_FD];
static struct pvnet_stack *pl_stack;
static int pl_stack_err;	/* the stack's open failed: -errno, never retried */
static unsigned int pl_spin_us, pl_ntcp;
static uint32_t pl_local_ip;
static struct {
	unsigned long udp, tcp, refused;
} pl_count;

#define RESOLVE(name) (real.name = (__typeof__(real.name))dlsym(RTLD_NEXT, #name))

static void pl_report(void)
{
	struct pvnet_stack_stats s;

	if (!getenv("PVNET_PRELOAD_STATS"))
		return;
	if (!pl_stack) {
		fprintf(stderr, "pvnet-preload: no stack (%s)\n",
			pl_stack_err ? strerror(-pl_stack_err) : "no socket to accelerate");
		return;
	}
	pvnet_stack_stats(pl_stack, &s);
	fprintf(stderr, "pvnet-preload: accelerated udp=%lu tcp=%lu kernel=%lu rx_delivered=%llu "
		"tx_sent=%llu rx_tcp=%llu tx_tcp=%llu rx_bad=%llu tx_errors=%llu\n",
		pl_count.udp, pl_count.tcp, pl_count.refused, (unsigned long long)s.rx_delivered,
		(unsigned long long)s.tx_sent, (unsigned long long)s.rx_tcp,
		(unsigned long long)s.tx_tcp, (unsigned long long)s.rx_bad,
		(unsigned long long)s.tx_errors);
}

/* At exit: the counters, then the stack closes (TCP connections still open send their FIN). */
static void pl_exit(void)
{
	pl_report();
	pthread_mutex_lock(&pl_mu);
	pl_inside++;
	if (pl_stack)
		pvnet_stack_close(pl_stack);
	pl_stack = NULL;
	pl_stack_err = -ESHUTDOWN;	/* nothing is accelerated after this */
	pl_inside--;
	pthread_mutex_unlock(&pl_mu);
}

static void pl_init(void)
{
	RESOLVE(socket); RESOLVE(bind); RESOLVE(connect); RESOLVE(listen); RESOLVE(accept);
	RESOLVE(accept4); RESOLVE(sendto); RESOLVE(recvfrom); RESOLVE(sendmsg); RESOLVE(recvmsg);
	RESOLVE(send); RESOLVE(recv); RESOLVE(read); RESOLVE(write); RESOLVE(poll); RESOLVE(ppoll);
	RESOLVE(select); RESOLVE(epoll_ctl); RESOLVE(epoll_wait); RESOLVE(epoll_pwait);
	RESOLVE(fcntl); RESOLVE(ioctl); RESOLVE(setsockopt); RESOLVE(getsockopt);
	RESOLVE(getsockname); RESOLVE(getpeername); RESOLVE(shutdown); RESOLVE(close);
	RESOLVE(dup2); RESOLVE(dup3);
	atexit(pl_exit);
}

static inline void pl_setup(void)
{
	pthread_once(&pl_once, pl_init);
}

static void lock(void)
{
	pthread_mutex_lock(&pl_mu);
	pl_inside++;
}

static void unlock(void)
{
	pl_inside--;
	pthread_mutex_unlock(&pl_mu);
}

static int set_errno(long rc)
{
	if (rc < 0) {
		errno = (int)-rc;
		return -1;
	}
	return (int)rc;
}

/* The accelerated socket of @fd, or NULL (not ours, or libpvnet calling). */
static struct psock *pl_get(int fd)
{
	if (pl_inside || fd < 0 || fd >= PL_MAX_FD)
		return NULL;
	return pl_socks[fd];
}

static struct psock *pl_accel(int fd)
{
	struct psock *ps = pl_get(fd);

	return ps && ps->accel ? ps : NULL;
}

/* The same under our lock (where pl_inside is set). */
static struct psock *pl_raw(int fd)
{
	struct psock *ps = fd >= 0 && fd < PL_MAX_FD ? pl_socks[fd] : NULL;

	return ps && ps->accel ? ps : NULL;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The process's stack (under the lock): opened once; NULL when it cannot be. */
static struct pvnet_stack *pl_get_stack(void)
{
	struct pvnet_vi_attr a;
	const char *s;

	if (pl_stack || pl_stack_err)
		return pl_stack;
	pl_stack_err = pvnet_stack_open(&pl_stack, NULL, 0);
	if (pl_stack_err) {
		pl_stack = NULL;
		if (getenv("PVNET_PRELOAD_STATS"))
			fprintf(stderr, "pvnet-preload: no stack: %s; sockets stay the kernel's\n",
				strerror(-pl_stack_err));
		return NULL;
	}
	pvnet_vi_attr(pvnet_stack_vi(pl_stack), &a);
	pl_local_ip = a.local_ip;
	s = getenv("PVNET_SPIN_US");
	pl_spin_us = s && *s ? (unsigned int)strtoul(s, NULL, 10) : 0;
	if (pl_spin_us > PVNET_SPIN_MAX_US)
		pl_spin_us = 0;
	return pl_stack;
}

/* Addresses that stay the kernel's: loopback, and this host's but the stack's. */
static bool pl_dst_ok(const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_in *a = (const void *)sa;

	if (!sa || len < sizeof(*a) || a->sin_family != AF_INET)
		return false;
	return (ntohl(a->sin_addr.s_addr) >> 24) != 127 && a->sin_addr.s_addr != pl_local_ip &&
	       a->sin_addr.s_addr != INADDR_ANY && a->sin_addr.s_addr != INADDR_BROADCAST;
}

/*
 * Make @ps accelerated, bound to @a (port 0: the policy's choice); under
 * the lock.  0 done; 1 it stays the kernel's (no stack, the policy says
 * no); -errno a real error for the caller (EADDRINUSE...).
 */
static int pl_make_accel(struct psock *ps, const struct sockaddr_in *a)
{
	struct pvnet_stack *st = pl_get_stack();
	int rc;

	if (!st)
		return 1;
	if (a->sin_addr.s_addr != INADDR_ANY && a->sin_addr.s_addr != pl_local_ip)
		return 1;
	if (ps->kind == PL_UDP) {
		rc = pvnet_udp_open(st, &ps->u);
		if (!rc && (rc = pvnet_udp_bind(ps->u, a)) < 0) {
			pvnet_udp_close(ps->u);
			ps->u = NULL;
		}
		if (!rc)
			pvnet_udp_set_nonblock(ps->u, true);
	} else {
		rc = pvnet_tcp_open(st, &ps->t);
		if (!rc && (rc = pvnet_tcp_bind(ps->t, a)) < 0) {
			pvnet_tcp_close(ps->t);
			ps->t = NULL;
		}
		if (!rc) {
			pvnet_tcp_set_nonblock(ps->t, true);
			pvnet_tcp_set_nodelay(ps->t, ps->nodelay);
		}
	}
	if (rc == -EACCES || rc == -EUSERS || rc == -ENOSPC || rc == -EDQUOT || rc == -ENOMEM) {
		pl_count.refused++;
		return 1;	/* the policy (or our quota) says no: the kernel's */
	}
	if (rc)
		return rc;
	ps->accel = true;
	if (ps->kind == PL_UDP)
		pl_count.udp++;
	else
		pl_count.tcp++, pl_ntcp++;
	return 0;
}

/* ---- waiting ---- */

/*
 * Sleep until the VI has events or @ms (< 0: none; bounded for lwIP's
 * timers with TCP sockets) pass, without our lock.
 */
static int pl_sleep(int ms)
{
	struct pollfd p = { .events = POLLIN };
	uint64_t v;
	int armed, rc = 0;

	lock();
	armed = pvnet_vi_prime(pvnet_stack_vi(pl_stack)) == 0;
	p.fd = pvnet_vi_wake_fd(pvnet_stack_vi(pl_stack));
	unlock();
	if (pl_ntcp && (ms < 0 || ms > PL_TCP_TICK_MS))
		ms = PL_TCP_TICK_MS;
	if (armed && (rc = real.poll(&p, 1, ms)) > 0)
		(void)!real.read(p.fd, &v, sizeof(v));
	return rc < 0 && errno == EINTR ? -EINTR : 0;	/* a signal ends a blocking call */
}

typedef long (*pl_op_fn)(struct psock *ps, void *arg);

/*
 * Run @op (one non-blocking try, under the lock) until it does not say
 * -EAGAIN, as a blocking call: spin first (spin mode), then sleep.
 * @timeout_ms < 0: none.  Returns @op's result (-EAGAIN at the timeout).
 */
static long pl_run(struct psock *ps, pl_op_fn op, void *arg, bool nonblock, int timeout_ms)
{
	int64_t start = now_us(), end = timeout_ms >= 0 ? start + (int64_t)timeout_ms * 1000 : 0;
	long rc;

	for (;;) {
		lock();
		rc = op(ps, arg);
		if (rc == -EAGAIN && !nonblock && pl_spin_us) {
			int64_t spin_end = now_us() + pl_spin_us;

			while (rc == -EAGAIN && now_us() < spin_end && (!end || now_us() < end)) {
				pvnet_stack_poll(pl_stack);
				rc = op(ps, arg);
				if (rc == -EAGAIN)
					pvnet_vi_spin_pause(pvnet_stack_vi(pl_stack));
			}
		}
		unlock();
		if (rc != -EAGAIN || nonblock)
			return rc;
		if (end) {
			int64_t left = end - now_us();

			if (left <= 0)
				return -EAGAIN;
			if (pl_sleep((int)((left + 999) / 1000)) < 0)
				return -EINTR;
		} else if (pl_sleep(-1) < 0) {
			return -EINTR;
		}
	}
}

/* ---- socket, bind, connect, listen, accept ---- */

static struct psock *pl_new(int fd, enum pl_kind kind, bool nonblock)
{
	struct psock *ps;

	if (fd < 0 || fd >= PL_MAX_FD || !(ps = calloc(1, sizeof(*ps))))
		return NULL;
	ps->kind = kind;
	ps->nonblock = nonblock;
	ps->rcv_timeout_ms = ps->snd_timeout_ms = -1;
	free(pl_socks[fd]);
	pl_socks[fd] = ps;
	return ps;
}

int socket(int domain, int type, int protocol)
{
	int fd, base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);

	pl_setup();
	fd = real.socket(domain, type, protocol);
	if (fd < 0 || pl_inside || domain != AF_INET)
		return fd;
	if (base == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP))
		pl_new(fd, PL_UDP, type & SOCK_NONBLOCK);
	else if (base == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP))
		pl_new(fd, PL_TCP, type & SOCK_NONBLOCK);
	return fd;
}

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct psock *ps;
	int rc;

	pl_setup();
	ps = pl_get(fd);
	if (!ps || ps->accel || ps->kernel_bound || !sa || len < sizeof(struct sockaddr_in) ||
	    sa->sa_family != AF_INET)
		goto kernel;
	lock();
	rc = pl_make_accel(ps, (const struct sockaddr_in *)sa);
	unlock();
	if (rc <= 0)
		return set_errno(rc);
kernel:
	rc = real.bind(fd, sa, len);
	if (!rc && ps)
		ps->kernel_bound = true;
	return rc;
}

/* An unbound socket about to talk to @sa: accelerated if it may be. */
static void pl_implicit(struct psock *ps, const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_in any = { .sin_family = AF_INET };

	if (ps->accel || ps->kernel_bound)
		return;
	lock();
	if (pl_get_stack() && pl_dst_ok(sa, len) && pl_make_accel(ps, &any) != 0)
		ps->kernel_bound = true;
	else if (!ps->accel)
		ps->kernel_bound = true;	/* the kernel binds it now: it stays the kernel's */
	unlock();
}

static long op_connect(struct psock *ps, void *arg)
{
	long rc = pvnet_tcp_connect(ps->t, arg);

	return rc == -EALREADY || rc == -EINPROGRESS ? -EAGAIN : rc == -EISCONN ? 0 : rc;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct psock *ps;
	long rc;

	pl_setup();
	ps = pl_get(fd);
	if (!ps)
		return real.connect(fd, sa, len);
	pl_implicit(ps, sa, len);
	if (!ps->accel)
		return real.connect(fd, sa, len);
	if (!sa || len < sizeof(struct sockaddr_in) || sa->sa_family != AF_INET)
		return set_errno(-EAFNOSUPPORT);
	if (ps->kind == PL_UDP) {
		lock();
		rc = pvnet_udp_connect(ps->u, (const struct sockaddr_in *)sa);
		unlock();
		return set_errno(rc);
	}
	lock();
	rc = pvnet_tcp_connect(ps->t, (const struct sockaddr_in *)sa);
	unlock();
	if (rc != -EINPROGRESS || ps->nonblock)
		return set_errno(rc);
	return set_errno(pl_run(ps, op_connect, (void *)sa, false, ps->snd_timeout_ms));
}

int listen(int fd, int backlog)
{
	struct psock *ps;
	int rc;

	pl_setup();
	ps = pl_get(fd);
	if (ps && ps->kind == PL_TCP && !ps->accel && !ps->kernel_bound) {
		const struct sockaddr_in any = { .sin_family = AF_INET };

		lock();	/* listen() on an unbound socket: a port of the policy's */
		rc = pl_make_accel(ps, &any);
		unlock();
		if (rc < 0)
			return set_errno(rc);
	}
	ps = pl_accel(fd);
	if (!ps || ps->kind != PL_TCP)
		return real.listen(fd, backlog);
	lock();
	rc = pvnet_tcp_listen(ps->t, backlog > 64 ? 64 : backlog);
	unlock();
	return set_errno(rc);
}

struct accept_arg {
	struct pvnet_tcp *c;
	struct sockaddr_in from;
};

static long op_accept(struct psock *ps, void *arg)
{
	struct accept_arg *a = arg;

	return pvnet_tcp_accept(ps->t, &a->c, &a->from);
}

static void pl_put_addr(const struct sockaddr_in *a, struct sockaddr *sa, socklen_t *len)
{
	if (sa && len) {
		memcpy(sa, a, *len < sizeof(*a) ? *len : sizeof(*a));
		*len = sizeof(*a);
	}
}

int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	struct psock *ps, *ns;
	struct accept_arg a = { 0 };
	long rc;
	int nfd;

	pl_setup();
	ps = pl_accel(fd);
	if (!ps || ps->kind != PL_TCP)
		return real.accept4(fd, sa, len, flags);
	rc = pl_run(ps, op_accept, &a, ps->nonblock, ps->rcv_timeout_ms);
	if (rc < 0)
		return set_errno(rc);
	nfd = real.socket(AF_INET, SOCK_STREAM | (flags & (SOCK_NONBLOCK | SOCK_CLOEXEC)), 0);
	if (nfd < 0 || !(ns = pl_new(nfd, PL_TCP, flags & SOCK_NONBLOCK))) {
		int e = nfd < 0 ? errno : ENOMEM;

		lock();
		pvnet_tcp_close(a.c);
		unlock();
		if (nfd >= 0)
			real.close(nfd);
		return set_errno(-e);
	}
	ns->accel = true;
	ns->t = a.c;
	ns->nodelay = ps->nodelay;
	lock();
	pvnet_tcp_set_nonblock(a.c, true);
	pvnet_tcp_set_nodelay(a.c, ns->nodelay);
	pl_count.tcp++;
	pl_ntcp++;
	unlock();
	pl_put_addr(&a.from, sa, len);
	return nfd;
}

int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	pl_setup();
	if (!pl_accel(fd))
		return real.accept(fd, sa, len);
	return accept4(fd, sa, len, 0);
}

/* ---- data ---- */

struct io_arg {
	void *buf;
	size_t len;
	int flags;
	struct sockaddr_in *addr;	/* send: the destination (NULL connected); recv: the source */
};

static long op_send(struct psock *ps, void *arg)
{
	struct io_arg *a = arg;

	if (ps->kind == PL_UDP)
		return pvnet_udp_sendto(ps->u, a->buf, a->len, a->flags, a->addr);
	return pvnet_tcp_send(ps->t, a->buf, a->len, a->flags);
}

static long op_recv(struct psock *ps, void *arg)
{
	struct io_arg *a = arg;

	if (ps->kind == PL_UDP)
		return pvnet_udp_recvfrom(ps->u, a->buf, a->len, a->flags, a->addr);
	return pvnet_tcp_recv(ps->t, a->buf, a->len, a->flags);
}

static ssize_t pl_send(struct psock *ps, const void *buf, size_t len, int flags,
		       const struct sockaddr *to, socklen_t tolen)
{
	struct sockaddr_in dst;
	struct io_arg a = { (void *)buf, len, flags & MSG_DONTWAIT, NULL };
	bool nb = ps->nonblock || (flags & MSG_DONTWAIT);
	long rc;

	if (ps->kind == PL_UDP && to) {
		if (tolen < sizeof(dst) || to->sa_family != AF_INET)
			return set_errno(-EAFNOSUPPORT);
		memcpy(&dst, to, sizeof(dst));
		a.addr = &dst;
	}
	if (ps->kind == PL_TCP) {	/* a blocking TCP send: all of it, as the kernel's */
		size_t done = 0;

		while (done < len) {
			a.buf = (uint8_t *)buf + done;
			a.len = len - done;
			rc = pl_run(ps, op_send, &a, nb, ps->snd_timeout_ms);
			if (rc < 0) {
				if (done)
					break;
				if (rc == -EPIPE && !(flags & MSG_NOSIGNAL))
					raise(SIGPIPE);
				return set_errno(rc);
			}
			done += (size_t)rc;
			if (nb)
				break;
		}
		return (ssize_t)done;
	}
	rc = pl_run(ps, op_send, &a, nb, ps->snd_timeout_ms);
	return rc < 0 ? set_errno(rc) : (ssize_t)rc;
}

static ssize_t pl_recv(struct psock *ps, void *buf, size_t len, int flags, struct sockaddr *from,
		       socklen_t *fromlen)
{
	struct sockaddr_in src = { 0 };
	struct io_arg a = { buf, len, flags & MSG_DONTWAIT, &src };
	long rc = pl_run(ps, op_recv, &a, ps->nonblock || (flags & MSG_DONTWAIT),
			 ps->rcv_timeout_ms);

	if (rc < 0)
		return set_errno(rc);
	if (from && fromlen) {
		if (ps->kind == PL_TCP)
			pvnet_tcp_name(ps->t, NULL, &src);
		pl_put_addr(&src, from, fromlen);
	}
	return (ssize_t)rc;
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
	       socklen_t tolen)
{
	struct psock *ps;

	pl_setup();
	ps = pl_get(fd);
	if (ps && ps->kind == PL_UDP && to)
		pl_implicit(ps, to, tolen);
	if (!ps || !ps->accel)
		return real.sendto(fd, buf, len, flags, to, tolen);
	return pl_send(ps, buf, len, flags, ps->kind == PL_UDP ? to : NULL, tolen);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct psock *ps;

	pl_setup();
	ps = pl_accel(fd);
	return ps ? pl_send(ps, buf, len, flags, NULL, 0) : real.send(fd, buf, len, flags);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	struct psock *ps;

	pl_setup();
	ps = pl_accel(fd);
	return ps ? pl_send(ps, buf, len, 0, NULL, 0) : real.write(fd, buf, len);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
		 socklen_t *fromlen)
{
	struct psock *ps;

	pl_setup();
	ps = pl_accel(fd);
	return ps ? pl_recv(ps, buf, len, flags, from, fromlen) :
		    real.recvfrom(fd, buf, len, flags, from, fromlen);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	struct psock *ps;

	pl_setup();
	ps = pl_accel(fd);
	return ps ? pl_recv(ps, buf, len, flags, NULL, NULL) : real.recv(fd, buf, len, flags);
}

ssize_t read(int fd, void *buf, size_t len)
{
	struct psock *ps;

	pl_setup();
	ps = pl_accel(fd);
	return ps ? pl_recv(ps, buf, len, 0, NULL, NULL) : real.read(fd, buf, len);
}

/* sendmsg/recvmsg: the iovecs gathered into one datagram (or stream piece); no control data. */
ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	static __thread uint8_t *buf;
	struct psock *ps;
	size_t len = 0;

	pl_setup();
	ps = pl_get(fd);
	if (ps && ps->kind == PL_UDP && m->msg_name)
		pl_implicit(ps, m->msg_name, m->msg_namelen);
	if (!ps || !ps->accel)
		return real.sendmsg(fd, m, flags);
	if (!buf && !(buf = malloc(PL_MAX_DGRAM)))
		return set_errno(-ENOMEM);
	for (size_t i = 0; i < m->msg_iovlen; i++) {
		if (m->msg_iov[i].iov_len > PL_MAX_DGRAM - len)
			return set_errno(-EMSGSIZE);
		memcpy(buf + len, m->msg_iov[i].iov_base, m->msg_iov[i].iov_len);
		len += m->msg_iov[i].iov_len;
	}
	return pl_send(ps, buf, len, flags, ps->kind == PL_UDP ? m->msg_name : NULL,
		       m->msg_namelen);
}

ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	static __thread uint8_t *buf;
	struct psock *ps;
	size_t cap = 0, off = 0;
	ssize_t n;

	pl_setup();
	ps = pl_accel(fd);
	if (!ps)
		return real.recvmsg(fd, m, flags);
	if (!buf && !(buf = malloc(PL_MAX_DGRAM)))
		return set_errno(-ENOMEM);
	for (size_t i = 0; i < m->msg_iovlen; i++)
		cap += m->msg_iov[i].iov_len;
	n = pl_recv(ps, buf, cap < PL_MAX_DGRAM ? cap : PL_MAX_DGRAM, flags, m->msg_name,
		    m->msg_name ? &m->msg_namelen : NULL);
	if (n < 0)
		return n;
	for (size_t i = 0; i < m->msg_iovlen && off < (size_t)n; i++) {
		size_t k = m->msg_iov[i].iov_len < (size_t)n - off ? m->msg_iov[i].iov_len :
								       (size_t)n - off;

		memcpy(m->msg_iov[i].iov_base, buf + off, k);
		off += k;
	}
	m->msg_controllen = 0;
	m->msg_flags = 0;
	return n;
}

/* ---- readiness: poll, select, epoll ---- */

/* @ps's poll(2) revents for @events (under the lock). */
static short pl_revents(struct psock *ps, short events)
{
	int ev;

	if (ps->kind == PL_TCP) {
		ev = pvnet_tcp_events(ps->t);
	} else {
		pvnet_stack_poll(pl_stack);
		ev = POLLOUT | (pvnet_udp_pending(ps->u) ? POLLIN : 0);
	}
	return (short)(ev & (events | POLLERR | POLLHUP));
}

static int pl_poll(struct pollfd *fds, nfds_t n, int timeout_ms, const sigset_t *mask,
		   bool use_mask)
{
	int64_t end = timeout_ms >= 0 ? now_us() + (int64_t)timeout_ms * 1000 : 0;
	struct pollfd *k = NULL;
	int accel = 0;

	for (nfds_t i = 0; i < n; i++)
		if (pl_accel(fds[i].fd))
			accel++;
	if (!accel) {
		if (use_mask) {
			struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000 };

			return real.ppoll(fds, n, timeout_ms >= 0 ? &ts : NULL, mask);
		}
		return real.poll(fds, n, timeout_ms);
	}
	if (!(k = malloc((n + 1) * sizeof(*k))))
		return set_errno(-ENOMEM);
	for (;;) {
		int ready = 0, wait_ms = 0, armed, rc;
		int64_t spin_end = now_us() + pl_spin_us;

		do {	/* accelerated fds first; spin mode: poll them a while */
			ready = 0;
			lock();
			for (nfds_t i = 0; i < n; i++) {
				struct psock *ps = pl_raw(fds[i].fd);

				fds[i].revents = 0;
				if (ps && (fds[i].revents = pl_revents(ps, fds[i].events)))
					ready++;
			}
			unlock();
			if (!ready && pl_spin_us && pl_stack)
				pvnet_vi_spin_pause(pvnet_stack_vi(pl_stack));
		} while (!ready && pl_spin_us && now_us() < spin_end && (!end || now_us() < end));
		/* the kernel's fds, and the VI's wake-up in place of ours */
		for (nfds_t i = 0; i < n; i++) {
			k[i] = fds[i];
			if (pl_accel(fds[i].fd))
				k[i].fd = -1;
		}
		lock();
		armed = pvnet_vi_prime(pvnet_stack_vi(pl_stack)) == 0;
		k[n] = (struct pollfd){ .fd = pvnet_vi_wake_fd(pvnet_stack_vi(pl_stack)),
					.events = POLLIN };
		unlock();
		if (!ready && armed) {
			wait_ms = end ? (int)((end - now_us() + 999) / 1000) : -1;
			if (wait_ms < -1)
				wait_ms = 0;
			if (pl_ntcp && (wait_ms < 0 || wait_ms > PL_TCP_TICK_MS))
				wait_ms = PL_TCP_TICK_MS;
		}
		rc = real.poll(k, armed ? n + 1 : n, wait_ms);
		if (rc < 0) {
			free(k);
			return -1;
		}
		if (armed && k[n].revents) {
			uint64_t v;

			(void)!real.read(k[n].fd, &v, sizeof(v));
		}
		for (nfds_t i = 0; i < n; i++) {
			if (pl_accel(fds[i].fd))
				continue;
			fds[i].revents = k[i].revents;
			if (k[i].revents)
				ready++;
		}
		if (ready || (end && now_us() >= end) || timeout_ms == 0) {
			if (!ready && armed && k[n].revents) {
				/* the VI woke us at the deadline: look once more */
				lock();
				for (nfds_t i = 0; i < n; i++) {
					struct psock *ps = pl_raw(fds[i].fd);

					if (ps && (fds[i].revents = pl_revents(ps, fds[i].events)))
						ready++;
				}
				unlock();
			}
			free(k);
			return ready;
		}
	}
}

int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	pl_setup();
	if (pl_inside)
		return real.poll(fds, n, timeout_ms);
	return pl_poll(fds, n, timeout_ms, NULL, false);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	pl_setup();
	if (pl_inside)
		return real.ppoll(fds, n, ts, mask);
	return pl_poll(fds, n, ts ? (int)(ts->tv_sec * 1000 + ts->tv_nsec / 1000000) : -1, mask,
		       true);
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	struct pollfd *p;
	int n = 0, rc, accel = 0;

	pl_setup();
	for (int fd = 0; fd < nfds && !pl_inside; fd++)
		if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w))) && pl_accel(fd))
			accel++;
	if (!accel)
		return real.select(nfds, r, w, e, tv);
	if (!(p = calloc((size_t)nfds, sizeof(*p))))
		return set_errno(-ENOMEM);
	for (int fd = 0; fd < nfds; fd++) {
		short ev = (short)((r && FD_ISSET(fd, r) ? POLLIN : 0) |
				   (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
				   (e && FD_ISSET(fd, e) ? POLLPRI : 0));

		if (ev)
			p[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	rc = pl_poll(p, (nfds_t)n, tv ? (int)(tv->tv_sec * 1000 + tv->tv_usec / 1000) : -1, NULL,
		     false);
	if (rc < 0) {
		free(p);
		return -1;
	}
	if (r)
		FD_ZERO(r);
	if (w)
		FD_ZERO(w);
	if (e)
		FD_ZERO(e);
	rc = 0;
	for (int i = 0; i < n; i++) {
		if (r && (p[i].revents & (POLLIN | POLLHUP | POLLERR)) && (p[i].events & POLLIN))
			FD_SET(p[i].fd, r), rc++;
		if (w && (p[i].revents & (POLLOUT | POLLERR)) && (p[i].events & POLLOUT))
			FD_SET(p[i].fd, w), rc++;
		if (e && (p[i].revents & POLLPRI))
			FD_SET(p[i].fd, e), rc++;
	}
	free(p);
	return rc;
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct pl_epoll *ep;
	int rc = 0;

	pl_setup();
	if (!pl_accel(fd) || epfd < 0 || epfd >= PL_MAX_FD) {
		rc = real.epoll_ctl(epfd, op, fd, ev);
		/* a fd that became the kernel's again after accelerated: nothing of ours */
		return rc;
	}
	lock();
	ep = pl_eps[epfd];
	if (!ep && op == EPOLL_CTL_ADD && !(ep = pl_eps[epfd] = calloc(1, sizeof(*ep))))
		rc = -ENOMEM;
	if (!rc && !ep->wake_added) {
		struct epoll_event we = { .events = EPOLLIN, .data.u64 = PL_EP_TAG };

		if (real.epoll_ctl(epfd, EPOLL_CTL_ADD, pvnet_vi_wake_fd(pvnet_stack_vi(pl_stack)),
				   &we) < 0 && errno != EEXIST)
			rc = -errno;
		else
			ep->wake_added = true;
	}
	if (!rc) {
		unsigned int i;

		for (i = 0; i < ep->n && ep->it[i].fd != fd; i++)
			;
		if (op == EPOLL_CTL_ADD) {
			if (i < ep->n)
				rc = -EEXIST;
			else if (ep->n == PL_EP_MAX)
				rc = -ENOSPC;
			else
				ep->it[ep->n++] = (struct pl_epitem){ fd, ev->events, ev->data };
		} else if (i == ep->n) {
			rc = -ENOENT;
		} else if (op == EPOLL_CTL_MOD) {
			ep->it[i].events = ev->events;
			ep->it[i].data = ev->data;
		} else if (op == EPOLL_CTL_DEL) {
			ep->it[i] = ep->it[--ep->n];
		} else {
			rc = -EINVAL;
		}
	}
	unlock();
	return set_errno(rc);
}

/* Ready accelerated fds of @ep into @out (up to @max), under the lock. */
static int pl_ep_ready(struct pl_epoll *ep, struct epoll_event *out, int max)
{
	int n = 0;

	for (unsigned int i = 0; i < ep->n && n < max; i++) {
		struct psock *ps = pl_raw(ep->it[i].fd);
		short want = (short)((ep->it[i].events & EPOLLIN ? POLLIN : 0) |
				     (ep->it[i].events & EPOLLOUT ? POLLOUT : 0));
		short r = ps ? pl_revents(ps, want) : 0;

		if (r) {
			out[n].events = (r & POLLIN ? EPOLLIN : 0) | (r & POLLOUT ? EPOLLOUT : 0) |
					(r & POLLERR ? EPOLLERR : 0) | (r & POLLHUP ? EPOLLHUP : 0);
			out[n++].data = ep->it[i].data;
		}
	}
	return n;
}

static int pl_epoll_wait(int epfd, struct epoll_event *out, int max, int timeout_ms,
			 const sigset_t *mask)
{
	struct pl_epoll *ep = epfd >= 0 && epfd < PL_MAX_FD && !pl_inside ? pl_eps[epfd] : NULL;
	int64_t end = timeout_ms >= 0 ? now_us() + (int64_t)timeout_ms * 1000 : 0;

	if (!ep || !ep->n)
		return mask ? real.epoll_pwait(epfd, out, max, timeout_ms, mask) :
			      real.epoll_wait(epfd, out, max, timeout_ms);
	for (;;) {
		int n, k, wait_ms = 0, armed;
		int64_t spin_end = now_us() + pl_spin_us;

		do {
			lock();
			n = pl_ep_ready(ep, out, max);
			unlock();
			if (!n && pl_spin_us && pl_stack)
				pvnet_vi_spin_pause(pvnet_stack_vi(pl_stack));
		} while (!n && pl_spin_us && now_us() < spin_end && (!end || now_us() < end));
		lock();
		armed = pvnet_vi_prime(pvnet_stack_vi(pl_stack)) == 0;
		unlock();
		if (!n && armed) {
			wait_ms = end ? (int)((end - now_us() + 999) / 1000) : -1;
			if (wait_ms < -1)
				wait_ms = 0;
			if (pl_ntcp && (wait_ms < 0 || wait_ms > PL_TCP_TICK_MS))
				wait_ms = PL_TCP_TICK_MS;
		}
		k = mask ? real.epoll_pwait(epfd, out + n, max - n, wait_ms, mask) :
			   real.epoll_wait(epfd, out + n, max - n, wait_ms);
		if (k < 0)
			return n ? n : -1;
		for (int i = n; i < n + k; i++) {	/* our wake-up: not the program's */
			if (out[i].data.u64 == PL_EP_TAG) {
				uint64_t v;

				(void)!real.read(pvnet_vi_wake_fd(pvnet_stack_vi(pl_stack)), &v,
						 sizeof(v));
				out[i--] = out[--k + n];
			}
		}
		n += k;
		if (n || (end && now_us() >= end) || timeout_ms == 0) {
			if (!n && max) {
				lock();
				n = pl_ep_ready(ep, out, max);
				unlock();
			}
			return n;
		}
	}
}

int epoll_wait(int epfd, struct epoll_event *out, int max, int timeout_ms)
{
	pl_setup();
	return pl_epoll_wait(epfd, out, max, timeout_ms, NULL);
}

int epoll_pwait(int epfd, struct epoll_event *out, int max, int timeout_ms, const sigset_t *mask)
{
	pl_setup();
	return pl_epoll_wait(epfd, out, max, timeout_ms, mask);
}

/* ---- options, names, flags, close ---- */

static void pl_set_nonblock(struct psock *ps, bool on)
{
	ps->nonblock = on;	/* libpvnet's socket stays non-blocking: blocking is ours */
}

int fcntl64(int fd, int cmd, ...);
static int (*real_fcntl64)(int, int, ...);

static int pl_fcntl(int (*fn)(int, int, ...), int fd, int cmd, long arg)
{
	int rc = fn(fd, cmd, arg);
	struct psock *ps = pl_get(fd);

	if (rc >= 0 && ps && cmd == F_SETFL)
		pl_set_nonblock(ps, arg & O_NONBLOCK);
	return rc;
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	pl_setup();
	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	if (!real_fcntl64)
		real_fcntl64 = (__typeof__(real_fcntl64))dlsym(RTLD_NEXT, "fcntl64");
	return pl_fcntl(real_fcntl64 ? real_fcntl64 : real.fcntl, fd, cmd, arg);
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	pl_setup();
	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return pl_fcntl(real.fcntl, fd, cmd, arg);
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	int rc;
	struct psock *ps;

	pl_setup();
	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	ps = pl_accel(fd);
	if (ps && req == FIONREAD && ps->kind == PL_UDP) {
		lock();
		pvnet_stack_poll(pl_stack);
		*(int *)arg = (int)pvnet_udp_pending(ps->u);
		unlock();
		return 0;
	}
	rc = real.ioctl(fd, req, arg);
	ps = pl_get(fd);
	if (rc >= 0 && ps && req == FIONBIO)
		pl_set_nonblock(ps, *(int *)arg != 0);
	return rc;
}

static int tv_ms(const void *v, socklen_t len)
{
	const struct timeval *tv = v;

	if (len < sizeof(*tv))
		return -1;
	return tv->tv_sec || tv->tv_usec ? (int)(tv->tv_sec * 1000 + tv->tv_usec / 1000) : -1;
}

int setsockopt(int fd, int level, int name, const void *v, socklen_t len)
{
	struct psock *ps;
	int rc;

	pl_setup();
	rc = real.setsockopt(fd, level, name, v, len);	/* the placeholder takes them all */
	ps = pl_get(fd);
	if (rc < 0 || !ps)
		return rc;
	if (level == SOL_SOCKET && name == SO_RCVTIMEO)
		ps->rcv_timeout_ms = tv_ms(v, len);
	else if (level == SOL_SOCKET && name == SO_SNDTIMEO)
		ps->snd_timeout_ms = tv_ms(v, len);
	else if (level == IPPROTO_TCP && name == TCP_NODELAY && len >= sizeof(int)) {
		ps->nodelay = *(const int *)v != 0;
		if (ps->accel && ps->kind == PL_TCP) {
			lock();
			pvnet_tcp_set_nodelay(ps->t, ps->nodelay);
			unlock();
		}
	}
	return rc;
}

int getsockopt(int fd, int level, int name, void *v, socklen_t *len)
{
	struct psock *ps;

	pl_setup();
	ps = pl_accel(fd);
	if (ps && ps->kind == PL_TCP && level == SOL_SOCKET && name == SO_ERROR && v && len &&
	    *len >= sizeof(int)) {
		lock();
		*(int *)v = -pvnet_tcp_error(ps->t);
		unlock();
		*len = sizeof(int);
		return 0;
	}
	return real.getsockopt(fd, level, name, v, len);
}

static int pl_name(int fd, struct sockaddr *sa, socklen_t *len, bool peer)
{
	struct psock *ps = pl_accel(fd);
	struct sockaddr_in l, p;

	if (!ps)
		return peer ? real.getpeername(fd, sa, len) : real.getsockname(fd, sa, len);
	lock();
	if (ps->kind == PL_UDP) {
		pvnet_udp_name(ps->u, &l);
		p = (struct sockaddr_in){ .sin_family = AF_INET };
		pvnet_udp_peer(ps->u, &p);
	} else {
		pvnet_tcp_name(ps->t, &l, &p);
	}
	unlock();
	if (peer && !p.sin_port)
		return set_errno(-ENOTCONN);
	pl_put_addr(peer ? &p : &l, sa, len);
	return 0;
}

int getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	pl_setup();
	return pl_name(fd, sa, len, false);
}

int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	pl_setup();
	return pl_name(fd, sa, len, true);
}

int shutdown(int fd, int how)
{
	struct psock *ps;
	int rc;

	pl_setup();
	ps = pl_accel(fd);
	if (!ps || ps->kind != PL_TCP)
		return real.shutdown(fd, how);
	lock();
	rc = pvnet_tcp_shutdown(ps->t, how);
	unlock();
	return set_errno(rc);
}

/* What we hold for @fd goes (under the lock): it is closed, or another fd is put in its place. */
static void pl_forget(int fd)
{
	struct psock *ps = pl_socks[fd];

	pl_socks[fd] = NULL;
	if (ps && ps->accel) {
		if (ps->kind == PL_UDP) {
			pvnet_udp_close(ps->u);
		} else {
			pvnet_tcp_close(ps->t);
			pl_ntcp--;
		}
	}
	free(pl_eps[fd]);
	pl_eps[fd] = NULL;
	free(ps);
}

/* dup2/dup3 onto an fd of ours: that socket is closed first, as the kernel does. */
int dup2(int old, int new)
{
	pl_setup();
	if (!pl_inside && new >= 0 && new < PL_MAX_FD && old != new && (pl_socks[new] || pl_eps[new])) {
		lock();
		pl_forget(new);
		unlock();
	}
	return real.dup2(old, new);
}

int dup3(int old, int new, int flags)
{
	pl_setup();
	if (!pl_inside && new >= 0 && new < PL_MAX_FD && old != new && (pl_socks[new] || pl_eps[new])) {
		lock();
		pl_forget(new);
		unlock();
	}
	return real.dup3(old, new, flags);
}

int close(int fd)
{
	pl_setup();
	if (pl_inside || fd < 0 || fd >= PL_MAX_FD)
		return real.close(fd);
	lock();
	pl_forget(fd);
	unlock();
	return real.close(fd);
}

/* _FORTIFY_SOURCE's entry points (Debian builds programs with it): the same calls. */
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *from, socklen_t *fromlen);
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms, size_t fdslen);

ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (len > buflen)
		abort();
	return recv(fd, buf, len, flags);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *from, socklen_t *fromlen)
{
	if (len > buflen)
		abort();
	return recvfrom(fd, buf, len, flags, from, fromlen);
}

ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		abort();
	return read(fd, buf, len);
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		abort();
	return poll(fds, n, timeout_ms);
}
