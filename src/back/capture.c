/* SPDX-License-Identifier: MIT */
/*
 * capture.c - a switch port's frames mirrored to `pvnetctl capture`
 * (capture.h; the stream's format is pvnet/ctl.h's).
 *
 * Theory of operation.  The data path and the reader are decoupled by one
 * bounded byte buffer per session (PV_CAPTURE_BUF_MAX):
 *
 *   switch ── pv_capture_frame() ──> [ hdr | frame | hdr | frame ... ] ──send()──> pvnetctl
 *             copy, or drops++          start            end               on the loop
 *
 * pv_capture_frame() appends a record if it fits and otherwise counts a
 * drop: no system call, no allocation, no waiting.  The first record of a
 * burst asks the loop for a "soon" callback, which sends what the socket
 * takes (non-blocking) and, if something is left, watches for EPOLLOUT
 * until the buffer is empty again.  A reader that stops reading costs a
 * full buffer and drops, counted and reported in the stream, never the
 * data path's time.  The session ends when the reader closes (EPOLLIN
 * with EOF) or the port leaves the switch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "port.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "pvnet/ctl.h"

struct pv_capture {
	struct pv_loop *loop;
	struct pv_port *port;
	int fd;
	struct pv_watch *w;
	uint32_t events;		/* what @w watches now */
	struct pv_watch *soon;		/* a send is scheduled */
	char *buf;
	size_t start, end;		/* bytes [start, end) wait to be sent */
	uint64_t frames;
	uint32_t drops, drops_sent;	/* drops so far; the last count the stream carried */
};

static void cap_end(struct pv_capture *c, const char *why)
{
	pv_info("capture of %s ended (%s): %llu frames, %u dropped", c->port->name, why,
		(unsigned long long)c->frames, c->drops);
	c->port->capture = NULL;
	if (c->soon)
		pv_loop_timer_del(c->loop, c->soon);
	pv_loop_del(c->loop, c->w);
	close(c->fd);
	free(c->buf);
	free(c);
}

/* Room for @n more bytes, compacting if that makes it; 0 or -1. */
static int cap_room(struct pv_capture *c, size_t n)
{
	if (PV_CAPTURE_BUF_MAX - c->end >= n)
		return 0;
	if (PV_CAPTURE_BUF_MAX - (c->end - c->start) < n)
		return -1;
	memmove(c->buf, c->buf + c->start, c->end - c->start);
	c->end -= c->start;
	c->start = 0;
	return 0;
}

static void cap_watch(struct pv_capture *c, uint32_t events)
{
	if (c->events != events && pv_loop_mod(c->loop, c->w, events) == 0)
		c->events = events;
}

/* Send what the socket takes; then watch EPOLLOUT only if bytes are left. 0, or -1: ended. */
static int cap_send(struct pv_capture *c)
{
	struct pv_ctl_cap_rec r = { .type = PV_CTL_CAP_DROPS };
	ssize_t n;

	if (c->drops != c->drops_sent && cap_room(c, sizeof(r)) == 0) {
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
			cap_end(c, "reader gone");
			return -1;
		}
		c->start += (size_t)n;
	}
	if (c->start == c->end)
		c->start = c->end = 0;
	cap_watch(c, c->start < c->end ? EPOLLIN | EPOLLOUT : EPOLLIN);
	return 0;
}

static void cap_soon_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_capture *c = arg;

	pv_loop_timer_del(loop, c->soon);
	c->soon = NULL;
	cap_send(c);
}

static void cap_fd_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_capture *c = arg;
	char junk[256];
	ssize_t n;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		/* The reader says nothing: anything it sends is ignored, EOF ends. */
		n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			cap_end(c, "reader closed");
			return;
		}
	}
	if (events & EPOLLOUT)
		cap_send(c);
}

void pv_capture_frame(struct pv_capture *c, const struct pv_frame *f, unsigned int dir)
{
	uint32_t caplen = f->len < PV_CTL_CAP_SNAPLEN ? f->len : PV_CTL_CAP_SNAPLEN;
	struct pv_ctl_cap_rec r = { .type = PV_CTL_CAP_FRAME, .dir = (uint8_t)dir,
				    .caplen = caplen, .len = f->len };
	struct timespec ts;

	if (cap_room(c, sizeof(r) + caplen) < 0) {
		c->drops++;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);	/* vDSO: no system call */
	r.ts_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	r.drops = c->drops_sent = c->drops;
	memcpy(c->buf + c->end, &r, sizeof(r));
	r.caplen = pv_frame_copy(f, 0, c->buf + c->end + sizeof(r), caplen);
	memcpy(c->buf + c->end + offsetof(struct pv_ctl_cap_rec, caplen), &r.caplen, sizeof(r.caplen));
	c->end += sizeof(r) + r.caplen;
	c->frames++;
	if (!c->soon && c->events == EPOLLIN)
		c->soon = pv_loop_timer(c->loop, 0, 0, cap_soon_cb, c);
}

int pv_capture_start(struct pv_loop *loop, struct pv_port *port, int fd)
{
	struct pv_capture *c;

	if (port->capture) {
		close(fd);
		return -EBUSY;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->buf = malloc(PV_CAPTURE_BUF_MAX))) {
		free(c);
		close(fd);
		return -ENOMEM;
	}
	c->loop = loop;
	c->port = port;
	c->fd = fd;
	memcpy(c->buf, "ok\n", 3);
	c->end = 3;
	c->events = EPOLLIN | EPOLLOUT;
	c->w = pv_loop_add(loop, fd, c->events, cap_fd_cb, c);
	if (!c->w) {
		close(fd);
		free(c->buf);
		free(c);
		return -ENOMEM;
	}
	port->capture = c;
	pv_info("capture of %s started", port->name);
	return 0;
}

void pv_capture_port_gone(struct pv_port *port)
{
	if (port->capture)
		cap_end(port->capture, "port gone");
}
