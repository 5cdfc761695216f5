/* SPDX-License-Identifier: MIT */
/*
 * host_inline.h - for a binary whose host runs inline (host.h's
 * host_inline): the caller's blocking poll(), recv() and recvmsg() run the
 * loop's rounds until they can go on.  The guest library's xenstore and hv
 * calls block in these for a reply that only the loop can make, and with
 * no host thread nobody else would make it.  The loop's own calls (inside
 * a round) go straight through.
 *
 * Include it in one file of a binary linked with
 *   -Wl,--wrap=poll,--wrap=recv,--wrap=recvmsg
 * (the Makefile's FUZZ_LDFLAGS_<harness>).
 */
#ifndef PVNET_TEST_HOST_INLINE_H
#define PVNET_TEST_HOST_INLINE_H

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include "host.h"

int __real_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms);
ssize_t __real_recv(int fd, void *buf, size_t len, int flags);
ssize_t __real_recvmsg(int fd, struct msghdr *mh, int flags);
int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags);
ssize_t __wrap_recvmsg(int fd, struct msghdr *mh, int flags);

static int64_t host_inline_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int __wrap_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
	struct test_host *h = host_inline_h;
	int64_t t0;

	if (!h || host_in_loop)
		return __real_poll(fds, nfds, timeout_ms);
	t0 = host_inline_ms();
	for (int told = 0;;) {
		int r = __real_poll(fds, nfds, 0), left = -1;

		if (r != 0)
			return r;
		/* A wait that only the loop's timers end: say what waits (a slow unit's why). */
		if (!told && (timeout_ms < 0 || timeout_ms > 2000) && host_inline_ms() - t0 > 2000) {
			char link[32], what[128] = "?";
			ssize_t l;

			snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[0].fd);
			l = readlink(link, what, sizeof(what) - 1);
			what[l > 0 ? l : 1] = 0;
			fprintf(stderr, "host_inline: waiting > 2 s for fd %d (%s), events 0x%x, timeout %d ms\n",
				fds[0].fd, what, (unsigned int)fds[0].events, timeout_ms);
			told = 1;
		}
		if (timeout_ms >= 0) {
			int64_t gone = host_inline_ms() - t0;

			if (gone >= timeout_ms)
				return 0;
			left = timeout_ms - (int)gone;
		}
		r = host_round(h, left);
		if (r < 0) {
			errno = -r;
			return -1;
		}
	}
}

/* Before a blocking receive on @fd: rounds until it is readable. */
static void host_inline_wait(int fd, int flags)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int fl;

	if (!host_inline_h || host_in_loop || (flags & MSG_DONTWAIT))
		return;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		return;
	__wrap_poll(&p, 1, -1);
}

ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags)
{
	host_inline_wait(fd, flags);
	return __real_recv(fd, buf, len, flags);
}

ssize_t __wrap_recvmsg(int fd, struct msghdr *mh, int flags)
{
	host_inline_wait(fd, flags);
	return __real_recvmsg(fd, mh, flags);
}

#endif
