/* SPDX-License-Identifier: MIT */
/*
 * fuzz_nic_ctl.c - libFuzzer harness for pvnet-nicd's control protocol:
 * request checking and dispatch (src/nic/ctl.c) over the device model.
 *
 * Build and run (see tests/fuzz/README):
 *   make fuzz
 *   build-fuzz/fuzz_nic_ctl -max_total_time=60 build-fuzz/corpus_nic_ctl
 *
 * The input is a list of requests, each [len:2][flags:1][pv_nic_hdr + body]
 * (len bytes); flags bit 0 attaches a memfd (what BUF_MAP takes), bit 1 a
 * second descriptor.  Replies go to the other end of a socketpair and are
 * drained.  Checked: memory safety, no descriptor leaked (the count of
 * open descriptors is the same after every input), and the connection's
 * VIs all freed when it closes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/nic/bufta.c"
#include "../../src/nic/filter.c"
#include "../../src/nic/txcheck.c"
#include "../../src/nic/vi.c"
#include "../../src/nic/ctl.c"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nic_config cfg = { .max_vis = 4, .nr_bufs = 32, .max_filters = 8, .vi_filters = 2 };
	int fds_before = open_fds();	/* per input: libFuzzer opens files between inputs */
	struct pv_loop *loop = pv_loop_new();
	struct nic *nic = nic_new(loop, &cfg);
	struct nic_ctl ctl = { .loop = loop, .nic = nic, .fd = -1 };
	struct ctl_conn *c = calloc(1, sizeof(*c));
	struct ctl_req *r = malloc(sizeof(*r));
	struct ctl_reply *rep = malloc(sizeof(*rep));
	int sv[2], memfd = memfd_create("fz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t i = 0;
	bool open_conn = true;

	if (!loop || !nic || !c || !r || !rep || memfd < 0 || ftruncate(memfd, 8 * 4096) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	c->ctl = &ctl;
	c->fd = sv[0];
	c->w = pv_loop_add(loop, sv[0], EPOLLIN, ctl_conn_cb, c);
	ctl.conns = c;
	while (open_conn && size - i >= 3) {
		uint32_t len = data[i] | (uint32_t)data[i + 1] << 8;
		uint8_t flags = data[i + 2];
		char sink[2048];

		i += 3;
		if (len > size - i)
			len = (uint32_t)(size - i);
		memset(&r->h, 0, sizeof(r->h));
		memcpy(&r->h, data + i, len < sizeof(r->h) ? len : sizeof(r->h));
		r->blen = len > sizeof(r->h) ? len - (uint32_t)sizeof(r->h) : 0;
		if (r->blen > sizeof(r->body))
			r->blen = sizeof(r->body);
		memcpy(r->body, data + i + (len > sizeof(r->h) ? sizeof(r->h) : len), r->blen);
		i += len;
		r->nfds = 0;
		if (flags & 1)
			r->fds[r->nfds++] = dup(memfd);
		if (flags & 2)
			r->fds[r->nfds++] = dup(memfd);
		open_conn = ctl_one(c, r, rep, len < sizeof(r->h) ? -EBADMSG : 1);
		while (recv(sv[1], sink, sizeof(sink), MSG_DONTWAIT) > 0) {
			/* replies may carry VI descriptors: SCM_RIGHTS without cmsg buffer are dropped */
		}
	}
	if (open_conn)
		ctl_conn_close(c, NULL);
	for (uint32_t v = 0; v < cfg.max_vis; v++)
		if (nic->vis[v].state != NIC_VI_FREE)
			abort();	/* a VI outlived its connection */
	if (nic->bt.nfree != cfg.nr_bufs || nic->fl.used)
		abort();	/* buffer entries or filters outlived their VI */
	nic_free(nic);
	pv_loop_free(loop);
	close(sv[1]);
	close(memfd);
	free(r);
	free(rep);
	if (open_fds() != fds_before)
		abort();	/* a descriptor leaked */
	return 0;
}
