/* SPDX-License-Identifier: MIT */
/*
 * fuzz_hvsock.c - libFuzzer harness for the hypervisor socket: request
 * reception, checking and dispatch (src/hv/hvsock.c: hvsock_recv,
 * hvsock_check, hvsock_dispatch) with the domains, grant tables, event
 * channels and xenstore connections they create behind them.
 *
 * Build and run (see tests/fuzz/README):
 *   make fuzz
 *   build-fuzz/fuzz_hvsock -max_total_time=120 -rss_limit_mb=4096 tests/fuzz/corpus/fuzz_hvsock
 *
 * Each input gets a fresh loop, xenstore server and hv, and two guest
 * connections (A and B) over SOCK_SEQPACKET socketpairs, set up as
 * hvsock_accept_cb would.  The input is a list of datagrams, each
 * [flags:1][len:2][bytes] (len bytes, header included):
 *   flags & 7     descriptors to attach (0-7; more than PV_HV_MAX_FDS is
 *                 hostile too)
 *   flags & 8     they are memfds (else eventfds)
 *   flags & 16    the memfds are 1 MiB (else 4 KiB)
 *   flags & 32    the memfds are sealed with F_SEAL_SEAL but not against
 *                 shrinking
 *   flags & 64    fix the header up: len = body bytes, flags = err = 0
 *                 (helps the fuzzer reach dispatch)
 *   flags & 128   send on B (else A)
 * Replies are drained after every datagram and their descriptors closed.
 * Checked: memory safety, no leaks, and the same number of descriptors
 * open after the input as before it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pvnet/hv_proto.h"
#include "../../src/hv/hvsock.c"

#define NCLI	2

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Serve @fd as a freshly accepted peer (what hvsock_accept_cb does). */
static void conn_add(struct pv_hv *hv, int fd)
{
	struct hvsock_conn *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	c->hv = hv;
	c->fd = fd;
	c->pid = getpid();
	c->uid = geteuid();
	c->w = pv_loop_add(hv->loop, fd, EPOLLIN, hvsock_conn_cb, c);
	if (!c->w)
		abort();
	c->next = hv->conns;
	if (c->next)
		c->next->prev = c;
	hv->conns = c;
}

/* Read and drop every reply waiting on @fd, closing the descriptors they carry. */
static void drain(int fd)
{
	union { char b[CMSG_SPACE(sizeof(int) * 16)]; struct cmsghdr a; } u;
	char buf[PV_HV_MSG_MAX];

	if (fd < 0)
		return;
	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = u.b, .msg_controllen = sizeof(u.b) };

		if (recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
			return;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
			size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < n; i++) {
				int x;

				memcpy(&x, CMSG_DATA(cm) + i * sizeof(int), sizeof(x));
				close(x);
			}
		}
	}
}

static void pump(struct pv_loop *loop, const int *cli)
{
	for (int i = 0; i < 3; i++) {
		pv_loop_once(loop, 0);
		for (int k = 0; k < NCLI; k++)
			drain(cli[k]);
	}
}

static int make_fd(uint8_t flags)
{
	int fd;

	if (!(flags & 8))
		return eventfd(0, EFD_CLOEXEC);
	fd = memfd_create("fz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, flags & 16 ? 1 << 20 : 4096) < 0)
		abort();
	if ((flags & 32) && fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) < 0)
		abort();
	return fd;
}

/* Send one datagram with @nfds fresh descriptors; ours are closed after. */
static void send_dgram(struct pv_loop *loop, int *cli, int k, const void *buf, size_t len,
		       uint8_t flags)
{
	union { char b[CMSG_SPACE(sizeof(int) * 8)]; struct cmsghdr a; } u;
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	unsigned int nfds = flags & 7;
	int fds[8];

	if (nfds) {
		struct cmsghdr *cm;

		for (unsigned int i = 0; i < nfds; i++)
			fds[i] = make_fd(flags);
		memset(&u, 0, sizeof(u));
		m.msg_control = u.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	for (int tries = 0; tries < 16; tries++) {
		ssize_t n = sendmsg(cli[k], &m, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n >= 0)
			break;
		if (errno != EAGAIN) {
			close(cli[k]);	/* disconnected by the server */
			cli[k] = -1;
			break;
		}
		pump(loop, cli);
	}
	for (unsigned int i = 0; i < nfds; i++)
		close(fds[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pv_log_init("fuzz_hvsock", getenv("PVNET_FUZZ_DEBUG") ? PV_LOG_DEBUG : PV_LOG_ERR, 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds_before = open_fds();	/* per input: libFuzzer opens files between inputs */
	struct pv_loop *loop = pv_loop_new();
	struct xs_server *xs = loop ? xs_server_new(loop, NULL, NULL) : NULL;
	struct pv_hv *hv = xs ? pv_hv_new(loop, xs) : NULL;
	int cli[NCLI];
	size_t i = 0;

	if (!hv)
		abort();
	for (int k = 0; k < NCLI; k++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
			abort();
		conn_add(hv, sv[0]);
		cli[k] = sv[1];
	}
	while (size - i >= 3) {
		uint8_t flags = data[i], buf[PV_HV_MSG_MAX + 64];
		size_t len = data[i + 1] | (size_t)data[i + 2] << 8;
		int k = flags >> 7;

		i += 3;
		if (len > size - i)
			len = size - i;
		if (len > sizeof(buf))
			len = sizeof(buf);
		memcpy(buf, data + i, len);
		i += len;
		if ((flags & 64) && len >= sizeof(struct pv_hv_hdr)) {
			struct pv_hv_hdr h;

			memcpy(&h, buf, sizeof(h));
			h.flags = 0;
			h.err = 0;
			h.len = (uint32_t)(len - sizeof(h));
			memcpy(buf, &h, sizeof(h));
		}
		if (cli[k] >= 0)
			send_dgram(loop, cli, k, buf, len, flags);
		pump(loop, cli);
	}
	for (int k = 0; k < NCLI; k++)
		if (cli[k] >= 0)
			close(cli[k]);
	pv_loop_once(loop, 0);	/* the server sees the hang-ups */
	pv_hv_free(hv);
	xs_server_free(xs);
	pv_loop_free(loop);
	if (open_fds() != fds_before) {
		fprintf(stderr, "descriptor leak: %d open before, %d after\n", fds_before, open_fds());
		abort();
	}
	return 0;
}
