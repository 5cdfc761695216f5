/* SPDX-License-Identifier: MIT */
/*
 * capstream.c - a capture stream to a reader (capstream.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capstream.h"
#include "log.h"
#include "loop.h"

struct pv_capstream {
	struct pv_loop *loop;
	int fd;
	struct pv_watch *w;
	uint32_t events;		/* what @w watches now */
	struct pv_watch *soon;		/* a send is scheduled */
	char *buf;
	size_t start, end;		/* bytes [start, end) wait to be sent */
	uint64_t frames;
	uint32_t drops, drops_sent;	/* drops so far; the last count the stream carried */
	pv_capstream_gone_fn gone;
	void *arg;
	char name[48];
};

void pv_capstream_end(struct pv_capstream *c, const char *why)
{
	pv_info("capture of %s ended (%s): %llu frames, %u dropped", c->name, why,
		(unsigned long long)c->frames, c->drops);
	if (c->soon)
		pv_loop_timer_del(c->loop, c->soon);
	pv_loop_del(c->loop, c->w);
	close(c->fd);
	free(c->buf);
	free(c);
}

/* The reader went: tell the owner, then end. */
static void cs_gone(struct pv_capstream *c, const char *why)
{
	if (c->gone)
		c->gone(c->arg);
	pv_capstream_end(c, why);
}

/* Room for @n more bytes, compacting if that makes it; 0 or -1. */
static int cs_room(struct pv_capstream *c, size_t n)
{
	if (PV_CAPSTREAM_BUF_MAX - c->end >= n)
		return 0;
	if (PV_CAPSTREAM_BUF_MAX - (c->end - c->start) < n)
		return -1;
	memmove(c->buf, c->buf + c->start, c->end - c->start);
	c->end -= c->start;
	c->start = 0;
	return 0;
}

static void cs_watch(struct pv_capstream *c, uint32_t events)
{
	if (c->events != events && pv_loop_mod(c->loop, c->w, events) == 0)
		c->events = events;
}

/* Send what the socket takes; then watch EPOLLOUT only if bytes are left. 0, or -1: ended. */
static int cs_send(struct pv_capstream *c)
{
	struct pv_ctl_cap_rec r = { .type = PV_CTL_CAP_DROPS };
	ssize_t n;

	if (c->drops != c->drops_sent && cs_room(c, sizeof(r)) == 0) {
		r.drops = c->drops_sent = c->drops;
		memcpy(c->buf + c->end, &r, sizeof(r));
		c->end += sizeof(r);
	}
	while (c->start < c->end) {
		n = send(c->fd, c->buf + c->start, c->end - c->start, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			cs_gone(c, "reader gone");
			return -1;
		}
		c->start += (size_t)n;
	}
	if (c->start == c->end)
		c->start = c->end = 0;
	cs_watch(c, c->start < c->end ? EPOLLIN | EPOLLOUT : EPOLLIN);
	return 0;
}

static void cs_soon_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_capstream *c = arg;

	pv_loop_timer_del(loop, c->soon);
	c->soon = NULL;
	cs_send(c);
}

static void cs_fd_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_capstream *c = arg;
	char junk[256];
	ssize_t n;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		/* The reader says nothing: anything it sends is ignored, EOF ends. */
		n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			cs_gone(c, "reader closed");
			return;
		}
	}
	if (events & EPOLLOUT)
		cs_send(c);
}

void pv_capstream_add(struct pv_capstream *c, unsigned int dir, uint32_t len,
		      const struct iovec *iov, unsigned int iovcnt)
{
	uint32_t caplen = len < PV_CTL_CAP_SNAPLEN ? len : PV_CTL_CAP_SNAPLEN, got = 0;
	struct pv_ctl_cap_rec r = { .type = PV_CTL_CAP_FRAME, .dir = (uint8_t)dir, .len = len };
	struct timespec ts;
	char *p;

	if (cs_room(c, sizeof(r) + caplen) < 0) {
		c->drops++;
		return;
	}
	p = c->buf + c->end + sizeof(r);
	for (unsigned int i = 0; i < iovcnt && got < caplen; i++) {
		size_t n = iov[i].iov_len < caplen - got ? iov[i].iov_len : caplen - got;

		memcpy(p + got, iov[i].iov_base, n);
		got += (uint32_t)n;
	}
	clock_gettime(CLOCK_REALTIME, &ts);	/* vDSO: no system call */
	r.ts_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	r.drops = c->drops_sent = c->drops;
	r.caplen = got;
	memcpy(c->buf + c->end, &r, sizeof(r));
	c->end += sizeof(r) + got;
	c->frames++;
	if (!c->soon && c->events == EPOLLIN)
		c->soon = pv_loop_timer(c->loop, 0, 0, cs_soon_cb, c);
}

struct pv_capstream *pv_capstream_start(struct pv_loop *loop, int fd, const char *name,
					const char *greeting, pv_capstream_gone_fn gone,
					void *arg, int *err)
{
	size_t g = greeting ? strlen(greeting) : 0;
	struct pv_capstream *c = calloc(1, sizeof(*c));

	if (!c || !(c->buf = malloc(PV_CAPSTREAM_BUF_MAX)) || g > PV_CAPSTREAM_BUF_MAX)
		goto fail;
	c->loop = loop;
	c->fd = fd;
	c->gone = gone;
	c->arg = arg;
	snprintf(c->name, sizeof(c->name), "%s", name);
	memcpy(c->buf, greeting ? greeting : "", g);
	c->end = g;
	c->events = g ? EPOLLIN | EPOLLOUT : EPOLLIN;
	c->w = pv_loop_add(loop, fd, c->events, cs_fd_cb, c);
	if (!c->w)
		goto fail;
	pv_info("capture of %s started", c->name);
	return c;
fail:
	if (err)
		*err = -ENOMEM;
	close(fd);
	if (c)
		free(c->buf);
	free(c);
	return NULL;
}
