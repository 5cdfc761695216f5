/* SPDX-License-Identifier: MIT */
/*
 * test_hvsock.c - hostile and broken input on the hypervisor socket.
 * Each gets an error reply or a closed connection; pvnetd keeps serving
 * a well-behaved guest; no descriptor leaks.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/test.h"
#include "../lib/host.h"
#include "guest/guest.h"
#include "pvnet/hv_proto.h"
#include "lib/unix.h"

static int hv_connect(struct test_host *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, h->hv_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	return fd;
}

/* Send raw bytes (+ fds); return the reply's err, or 1 if the connection closed. */
static int raw(int fd, const void *buf, size_t len, const int *fds, int nfds)
{
	union { char b[CMSG_SPACE(sizeof(int) * 8)]; struct cmsghdr a; } u;
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct pv_hv_hdr rh;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (nfds) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		m.msg_control = u.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	if (sendmsg(fd, &m, MSG_NOSIGNAL) < 0)
		return 1;
	if (poll(&p, 1, 2000) != 1)
		return 2;
	n = recv(fd, &rh, sizeof(rh), 0);
	if (n <= 0)
		return 1;
	return n == sizeof(rh) ? rh.err : 3;
}

static int hdr_msg(int fd, uint16_t type, uint32_t len_field, const void *body, uint32_t blen,
		   const int *fds, int nfds)
{
	uint8_t buf[PV_HV_MSG_MAX + 64];
	struct pv_hv_hdr h = { .type = type, .seq = 7, .len = len_field };

	memcpy(buf, &h, sizeof(h));
	if (blen)
		memcpy(buf + sizeof(h), body, blen);
	return raw(fd, buf, sizeof(h) + blen, fds, nfds);
}

/* A well-behaved guest must keep working throughout. */
static int good_guest_works(struct test_host *h, struct pv_guest *g)
{
	int port = pv_guest_evtchn_alloc_unbound(g, 0);

	if (port <= 0)
		return 0;
	return pv_guest_evtchn_close(g, (uint32_t)port) == 0;
}

static void test_malformed(struct test_host *h, struct pv_guest *good)
{
	int fd = hv_connect(h);
	uint8_t junk[64];
	struct pv_hv_evtchn_alloc a = { .remote_dom = 0 };
	int e;

	memset(junk, 0xa5, sizeof(junk));
	T_EQ(raw(fd, junk, 5, NULL, 0), -EINVAL, "truncated header: error reply");
	T_EQ(hdr_msg(fd, PV_HV_EVTCHN_ALLOC_UNBOUND, 4, &a, sizeof(a), NULL, 0), -ENOTCONN,
	     "request before registering: ENOTCONN");
	T_EQ(hdr_msg(fd, 99, 0, NULL, 0, NULL, 0), -EINVAL, "unknown request type: error reply");
	T_EQ(hdr_msg(fd, 0, 0, NULL, 0, NULL, 0), -EINVAL, "type 0: error reply");
	T_EQ(hdr_msg(fd, PV_HV_EVTCHN_CLOSE, 1000, junk, 4, NULL, 0), -EINVAL,
	     "length field beyond the datagram: error reply");
	T_EQ(hdr_msg(fd, PV_HV_EVTCHN_CLOSE, 2, junk, 2, NULL, 0), -EINVAL,
	     "body shorter than its type needs: error reply");
	{
		static uint8_t big[PV_HV_MSG_MAX * 2];

		memset(big, 0x5a, sizeof(big));
		T_EQ(raw(fd, big, sizeof(big), NULL, 0), -EINVAL, "datagram beyond the maximum: error reply");
	}
	T_EQ(raw(fd, junk, sizeof(junk), NULL, 0), -EINVAL, "garbage bytes: error reply");
	/* Extra descriptors: refused and closed, never kept. */
	{
		int before = count_fds(), fds[6];

		for (int i = 0; i < 6; i++)
			fds[i] = eventfd(0, EFD_CLOEXEC);
		e = hdr_msg(fd, PV_HV_XS_CONNECT, 0, NULL, 0, fds, 6);
		T_CHECK(e == -EINVAL || e == -ENOTCONN, "request with six descriptors attached: error reply", "err %d", e);
		for (int i = 0; i < 6; i++)
			close(fds[i]);
		usleep(20000);
		T_EQ(count_fds(), before, "attached descriptors closed by pvnetd (no leak)");
	}
	T_CHECK(good_guest_works(h, good), "well-behaved guest still served", "failed");
	/* Registration with bad parameters. */
	{
		struct pv_hv_register reg = { .version = PV_HV_VERSION, .nr_pages = 4, .nr_grants = 16 };
		int fds[2], p[2];

		strcpy(reg.name, "bad name!");
		fds[0] = memfd_create("m", MFD_ALLOW_SEALING);
		fds[1] = memfd_create("g", MFD_ALLOW_SEALING);
		if (ftruncate(fds[0], 4 * 4096) < 0 || ftruncate(fds[1], 4096) < 0)
			abort();
		T_EQ(hdr_msg(fd, PV_HV_REGISTER, sizeof(reg), &reg, sizeof(reg), fds, 2), -EINVAL,
		     "register with an invalid name refused");
		strcpy(reg.name, "ok");
		reg.nr_pages = 8;	/* memfd holds 4 */
		T_EQ(hdr_msg(fd, PV_HV_REGISTER, sizeof(reg), &reg, sizeof(reg), fds, 2), -EINVAL,
		     "register with memory smaller than declared refused");
		reg.nr_pages = 4;
		reg.version = 77;
		T_EQ(hdr_msg(fd, PV_HV_REGISTER, sizeof(reg), &reg, sizeof(reg), fds, 2), -EINVAL,
		     "register with an unknown version refused");
		reg.version = PV_HV_VERSION;
		reg.nr_pages = 0xffffffffu;
		T_EQ(hdr_msg(fd, PV_HV_REGISTER, sizeof(reg), &reg, sizeof(reg), fds, 2), -EINVAL,
		     "register with a huge page count refused");
		reg.nr_pages = 4;
		if (pipe(p) < 0)
			abort();
		int pfds[2] = { p[0], fds[1] };

		e = hdr_msg(fd, PV_HV_REGISTER, sizeof(reg), &reg, sizeof(reg), pfds, 2);
		T_CHECK(e < 0 && e != 1, "register with a pipe as memory refused", "err %d", e);
		{
			int sealed = memfd_create("s", 0);	/* no sealing allowed */

			if (ftruncate(sealed, 4 * 4096) < 0)
				abort();
			int sfds[2] = { sealed, fds[1] };

			e = hdr_msg(fd, PV_HV_REGISTER, sizeof(reg), &reg, sizeof(reg), sfds, 2);
			T_EQ(e, -EPERM, "register with memory that cannot be sealed refused");
			close(sealed);
		}
		T_EQ(hdr_msg(fd, PV_HV_REGISTER, sizeof(reg), &reg, sizeof(reg), fds, 1), -EINVAL,
		     "register with one descriptor instead of two refused");
		T_EQ(hdr_msg(fd, PV_HV_REGISTER, sizeof(reg), &reg, sizeof(reg), fds, 2), 0,
		     "then a correct registration on the same connection succeeds");
		T_EQ(hdr_msg(fd, PV_HV_REGISTER, sizeof(reg), &reg, sizeof(reg), fds, 2), -EALREADY,
		     "registering twice refused");
		T_CHECK(ftruncate(fds[0], 0) < 0, "the registered memory can no longer shrink", "ftruncate succeeded");
		close(p[0]);
		close(p[1]);
		close(fds[0]);
		close(fds[1]);
	}
	close(fd);
}

static void test_error_flood(struct test_host *h, struct pv_guest *good)
{
	int fd = hv_connect(h), r = 0, closed = 0;
	uint8_t junk[8] = { 0 };

	for (int i = 0; i < PV_HV_MAX_ERRORS + 5 && !closed; i++) {
		r = raw(fd, junk, sizeof(junk), NULL, 0);
		closed = r == 1;
	}
	T_CHECK(closed, "a peer sending only bad requests is disconnected", "last %d", r);
	T_CHECK(good_guest_works(h, good), "well-behaved guest still served after the bad peer", "failed");
	close(fd);
}

/*
 * An empty datagram reads as end of connection, but it can carry
 * descriptors, and they land in pvnetd's table all the same (found by
 * tests/fuzz/fuzz_hvsock.c: they were never closed).
 */
static void test_empty_with_fds(struct test_host *h, struct pv_guest *good)
{
	int before, fd, fds[2];
	uint8_t none = 0;

	usleep(50000);	/* the connections of earlier cases are gone by now */
	before = count_fds();
	fd = hv_connect(h);
	fds[0] = eventfd(0, EFD_CLOEXEC);
	fds[1] = eventfd(0, EFD_CLOEXEC);
	T_EQ(raw(fd, &none, 0, fds, 2), 1, "empty datagram with descriptors: disconnected");
	close(fds[0]);
	close(fds[1]);
	close(fd);
	usleep(20000);
	T_EQ(count_fds(), before, "descriptors of an empty datagram closed by pvnetd (no leak)");
	T_CHECK(good_guest_works(h, good), "well-behaved guest still served", "failed");
}

/* A peer that sends requests and never reads replies. */
static void test_request_flood(struct test_host *h, struct pv_guest *good)
{
	int fd = hv_connect(h), sent = 0, gone = 0, served = 1;
	struct pv_hv_hdr req = { .type = PV_HV_EVTCHN_CLOSE, .len = 4 };
	uint8_t buf[20];

	memcpy(buf, &req, sizeof(req));
	memset(buf + 16, 0, 4);
	for (int i = 0; i < 200000 && !gone; i++) {
		if (send(fd, buf, sizeof(buf), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			if (errno != EAGAIN) {
				gone = 1;
				break;
			}
			served &= good_guest_works(h, good);
			usleep(200);
			continue;
		}
		sent++;
	}
	T_CHECK(gone, "a peer flooding requests without reading replies is disconnected",
		"sent %d, still connected", sent);
	T_CHECK(served, "well-behaved guest served during the flood", "failed");
	close(fd);
}

static void test_peer_uid(struct test_host *h)
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0) {
		struct pv_guest *g;
		int err;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		g = pv_guest_register(h->hv_path, "nobody", 1, 16, &err);
		_exit(g ? 1 : 0);
	}
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
		T_SKIP("peer uid check", "cannot drop privileges here");
		return;
	}
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		"a guest of another uid is refused (SO_PEERCRED)", "status %#x", status);
}

/* The guest library's side: a stale reply is skipped, a wrong one is -EPROTO. */
static void peer_reply(int fd, int how)
{
	struct pv_hv_hdr q, r;
	uint32_t body = 42;
	struct iovec iov[2] = { { &r, sizeof(r) }, { &body, sizeof(body) } };
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (recv(fd, &q, sizeof(q), 0) < (ssize_t)sizeof(q))
		_exit(1);
	r = (struct pv_hv_hdr){ .type = q.type, .seq = q.seq - 1, .len = sizeof(body) };
	pv_unix_send_fds(fd, iov, 2, &devnull, 1, 0);		/* stale, with an fd */
	r.seq = q.seq;
	if (how == 1)
		r.type++;
	else if (how == 2)
		r.len++;
	pv_unix_send_fds(fd, iov, 2, NULL, 0, 0);
	_exit(0);
}

static int call_peer(int how, uint32_t *out)
{
	int sv[2], st, e;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		peer_reply(sv[1], how);
	}
	close(sv[1]);
	e = pv_guest_hv_call(sv[0], PV_HV_XS_CONNECT, NULL, 0, NULL, 0, out, sizeof(*out), NULL, NULL);
	close(sv[0]);
	waitpid(pid, &st, 0);
	return e;
}

static void test_client_checks(void)
{
	int before = count_fds();
	uint32_t out = 0;

	T_EQ(call_peer(0, &out), 0, "hv call skips a stale reply, takes the right one");
	T_EQ(out, 42u, "hv call: body of the right reply");
	T_EQ(call_peer(1, &out), -EPROTO, "hv call: reply of another type is -EPROTO");
	T_EQ(call_peer(2, &out), -EPROTO, "hv call: reply with a wrong len is -EPROTO");
	T_EQ(count_fds(), before, "hv call: descriptors of skipped replies closed");
}

int main(void)
{
	struct test_host *h = host_start();
	struct pv_guest *good;
	int err, before;

	chmod(h->dir, 0777);	/* let the uid test reach the socket */
	chmod(h->hv_path, 0777);
	before = count_fds();
	good = pv_guest_register(h->hv_path, "good", 2, 16, &err);
	T_CHECK(good != NULL, "well-behaved guest registers", "err %d", err);
	if (!good)
		return t_done();
	test_malformed(h, good);
	test_empty_with_fds(h, good);
	test_error_flood(h, good);
	test_request_flood(h, good);
	test_peer_uid(h);
	test_client_checks();
	T_CHECK(good_guest_works(h, good), "well-behaved guest served at the end", "failed");
	pv_guest_close(good);
	usleep(100000);
	T_EQ(count_fds(), before, "no descriptor leaked by pvnetd or the guest library");
	host_stop(h);
	return t_done();
}
