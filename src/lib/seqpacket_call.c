/* SPDX-License-Identifier: MIT */
/*
 * seqpacket_call.c - one request/reply on a seqpacket control socket
 * (see seqpacket_call.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "seqpacket_call.h"
#include "unix.h"

/* Take a reply's descriptors: up to @max into @rfds, the rest closed. */
static unsigned int sp_take_fds(struct msghdr *mh, int *rfds, unsigned int max)
{
	unsigned int k = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (rfds && k < max)
				rfds[k++] = f;
			else
				close(f);
		}
	}
	return k;
}

/* poll() for @ms in all: a signal is not the peer's answer, the wait goes on. */
static int sp_poll(struct pollfd *pfd, int ms)
{
	struct timespec t0, t;
	int rc, left = ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		rc = poll(pfd, 1, left);
		if (rc >= 0 || errno != EINTR)
			return rc;
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms - (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return 0;
	}
}

int pv_seqpacket_call(int fd, uint16_t type, uint32_t seq, const void *body, uint32_t len,
		      const int *fds, unsigned int nfds, const struct pv_sp_reply *r,
		      int timeout_ms)
{
	struct pv_sp_hdr h = { .type = type, .seq = seq, .len = len };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)body, len } };
	uint8_t buf[sizeof(h) + PV_SP_BODY_MAX];
	size_t rmax = sizeof(h) + (r->recv_max < PV_SP_BODY_MAX ? r->recv_max : PV_SP_BODY_MAX);
	int rc;

	if (r->nrfds)
		*r->nrfds = 0;
	rc = pv_unix_send_fds(fd, iov, len ? 2 : 1, fds, nfds, MSG_NOSIGNAL);
	if (rc < 0)
		return rc;
	for (;;) {
		union { struct cmsghdr a; char b[CMSG_SPACE(PV_SCM_MAX_FDS * sizeof(int))]; } cm;
		struct iovec riov = { buf, rmax };
		struct msghdr mh = { .msg_iov = &riov, .msg_iovlen = 1, .msg_control = cm.b,
				     .msg_controllen = sizeof(cm.b) };
		struct pv_sp_hdr rh;
		unsigned int got;
		ssize_t n;

		if (timeout_ms >= 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			rc = sp_poll(&pfd, timeout_ms);
			if (rc == 0)
				return -ETIMEDOUT;
			if (rc < 0)
				return -errno;
		}
		do
			n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		if ((size_t)n < sizeof(rh)) {
			sp_take_fds(&mh, NULL, 0);
			return -EPROTO;
		}
		/* cppcheck-suppress legacyUninitvar ; recvmsg() filled it through riov */
		memcpy(&rh, buf, sizeof(rh));
		if (rh.seq != seq) {		/* a late reply to an abandoned call */
			sp_take_fds(&mh, NULL, 0);
			continue;
		}
		if (rh.type != type || rh.len != (size_t)n - sizeof(rh)) {
			sp_take_fds(&mh, NULL, 0);
			return -EPROTO;
		}
		got = sp_take_fds(&mh, r->rfds, r->rfds_max);
		if (r->nrfds)
			*r->nrfds = got;
		if (r->body && (rh.err == 0 || !r->body_if_ok))
			memcpy(r->body, buf + sizeof(rh), rh.len < r->body_max ? rh.len : r->body_max);
		return rh.err;
	}
}
