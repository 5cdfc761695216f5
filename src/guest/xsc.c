/* SPDX-License-Identifier: MIT */
/*
 * xsc.c - synchronous xenstore client.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pvnet/xen.h"
#include "xsc.h"
#include "lib/unix.h"

#define XSC_MAX_EVENTS 256

struct xsc_event {
	uint32_t len;
	char data[XENSTORE_PAYLOAD_MAX];
};

struct xsc {
	int fd;
	uint32_t req_id;
	struct xsc_event *events;	/* ring of queued watch events */
	unsigned int ev_head, ev_count;
	uint64_t ev_dropped;
	uint64_t ev_arrived;		/* events received, queued or dropped */
};

unsigned int xsc_pending(const struct xsc *x)
{
	return x ? x->ev_count : 0;
}

uint64_t xsc_watch_next(const struct xsc *x)
{
	return x->ev_arrived - x->ev_count;
}

uint64_t xsc_watch_arrived(const struct xsc *x)
{
	return x->ev_arrived;
}

struct xsc *xsc_open_fd(int fd)
{
	struct xsc *x = calloc(1, sizeof(*x));

	if (!x || !(x->events = calloc(XSC_MAX_EVENTS, sizeof(*x->events)))) {
		free(x);
		close(fd);
		return NULL;
	}
	x->fd = fd;
	return x;
}

struct xsc *xsc_open_path(const char *sock_path)
{
	int fd = pv_unix_connect(sock_path, SOCK_STREAM);

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	return xsc_open_fd(fd);
}

void xsc_close(struct xsc *x)
{
	if (!x)
		return;
	close(x->fd);
	free(x->events);
	free(x);
}

int xsc_fd(const struct xsc *x)
{
	return x->fd;
}

static int xsc_full(int fd, void *buf, size_t len, int wr)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = wr ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -EPIPE : -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int xsc_errno(const char *s, size_t len)
{
	if (len && !strncmp(s, "EQUOTA", len))
		return EDQUOT;
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (!strncmp(s, xsd_errors[i].errstring, len) && strlen(xsd_errors[i].errstring) + 1 >= len)
			return xsd_errors[i].errnum;
	return EINVAL;
}

/* Read one message; queue it if it is a watch event.  Returns 1 for an event. */
static int xsc_recv(struct xsc *x, struct xsd_sockmsg *h, char *buf)
{
	int e = xsc_full(x->fd, h, sizeof(*h), 0);

	if (e)
		return e;
	if (h->len > XENSTORE_PAYLOAD_MAX)
		return -EPROTO;
	e = xsc_full(x->fd, buf, h->len, 0);
	if (e)
		return e;
	if (h->type != XS_WATCH_EVENT)
		return 0;
	if (x->ev_count == XSC_MAX_EVENTS) {
		x->ev_head = (x->ev_head + 1) % XSC_MAX_EVENTS;
		x->ev_count--;
		x->ev_dropped++;
	}
	struct xsc_event *ev = &x->events[(x->ev_head + x->ev_count) % XSC_MAX_EVENTS];

	ev->len = h->len;
	memcpy(ev->data, buf, h->len);
	x->ev_count++;
	x->ev_arrived++;
	return 1;
}

int xsc_request(struct xsc *x, uint32_t type, uint32_t tx, const void *payload, size_t len,
		void *reply, size_t size)
{
	struct xsd_sockmsg h = { .type = type, .req_id = ++x->req_id, .tx_id = tx,
				 .len = (uint32_t)len };
	char buf[XENSTORE_PAYLOAD_MAX + 1];
	int e;

	if (len > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	e = xsc_full(x->fd, &h, sizeof(h), 1);
	if (!e && len)
		e = xsc_full(x->fd, (void *)payload, len, 1);
	if (e)
		return e;
	for (;;) {
		e = xsc_recv(x, &h, buf);
		if (e < 0)
			return e;
		if (e == 0)
			break;
	}
	if (h.type == XS_ERROR)
		return -xsc_errno(buf, h.len);
	if (reply) {
		size_t n = h.len < size ? h.len : size;

		memcpy(reply, buf, n);
	}
	return (int)h.len;
}

/* Build "a\0b\0..." payloads from strings. */
static size_t xsc_join(char *out, size_t size, const char *a, const void *b, size_t blen)
{
	size_t la = strlen(a) + 1;

	if (la + blen > size)
		return 0;
	memcpy(out, a, la);
	if (blen)
		memcpy(out + la, b, blen);
	return la + blen;
}

static int xsc_path_op(struct xsc *x, uint32_t type, uint32_t tx, const char *path,
		       void *reply, size_t size)
{
	return xsc_request(x, type, tx, path, strlen(path) + 1, reply, size);
}

int xsc_read(struct xsc *x, uint32_t tx, const char *path, char *buf, size_t size)
{
	int n;

	if (!size)
		return -EINVAL;
	n = xsc_path_op(x, XS_READ, tx, path, buf, size - 1);
	if (n >= 0)
		buf[(size_t)n < size - 1 ? (size_t)n : size - 1] = '\0';
	return n;
}

int xsc_write(struct xsc *x, uint32_t tx, const char *path, const void *val, size_t len)
{
	char p[XENSTORE_PAYLOAD_MAX];
	size_t n = xsc_join(p, sizeof(p), path, val, len);

	if (!n)
		return -E2BIG;
	n = (size_t)xsc_request(x, XS_WRITE, tx, p, n, NULL, 0);
	return (int)n < 0 ? (int)n : 0;
}

int xsc_printf(struct xsc *x, uint32_t tx, const char *path, const char *fmt, ...)
{
	char val[XENSTORE_PAYLOAD_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(val))
		return -E2BIG;
	return xsc_write(x, tx, path, val, (size_t)n);
}

int xsc_mkdir(struct xsc *x, uint32_t tx, const char *path)
{
	int n = xsc_path_op(x, XS_MKDIR, tx, path, NULL, 0);

	return n < 0 ? n : 0;
}

int xsc_rm(struct xsc *x, uint32_t tx, const char *path)
{
	int n = xsc_path_op(x, XS_RM, tx, path, NULL, 0);

	return n < 0 ? n : 0;
}

int xsc_directory(struct xsc *x, uint32_t tx, const char *path, char *buf, size_t size)
{
	int n = xsc_path_op(x, XS_DIRECTORY, tx, path, buf, size), count = 0;

	if (n < 0)
		return n;
	if ((size_t)n > size)
		return -E2BIG;
	for (int i = 0; i < n; i++)
		count += buf[i] == '\0';
	return count;
}

int xsc_set_perms(struct xsc *x, uint32_t tx, const char *path, const char *perms, size_t len)
{
	char p[XENSTORE_PAYLOAD_MAX];
	size_t n = xsc_join(p, sizeof(p), path, perms, len);
	int r;

	if (!n)
		return -E2BIG;
	r = xsc_request(x, XS_SET_PERMS, tx, p, n, NULL, 0);
	return r < 0 ? r : 0;
}

int xsc_get_domain_path(struct xsc *x, unsigned int domid, char *buf, size_t size)
{
	char id[16];
	int n;

	snprintf(id, sizeof(id), "%u", domid);
	n = xsc_path_op(x, XS_GET_DOMAIN_PATH, 0, id, buf, size - 1);
	if (n >= 0)
		buf[(size_t)n < size - 1 ? (size_t)n : size - 1] = '\0';
	return n;
}

int xsc_transaction_start(struct xsc *x, uint32_t *tx)
{
	char buf[32];
	int n = xsc_request(x, XS_TRANSACTION_START, 0, "", 1, buf, sizeof(buf) - 1);

	if (n < 0)
		return n;
	buf[n] = '\0';
	*tx = (uint32_t)strtoul(buf, NULL, 10);
	return 0;
}

int xsc_transaction_end(struct xsc *x, uint32_t tx, int commit)
{
	int n = xsc_request(x, XS_TRANSACTION_END, tx, commit ? "T" : "F", 2, NULL, 0);

	return n < 0 ? n : 0;
}

static int xsc_watch_op(struct xsc *x, uint32_t type, const char *path, const char *token)
{
	char p[XENSTORE_PAYLOAD_MAX];
	size_t n = xsc_join(p, sizeof(p), path, token, strlen(token) + 1);
	int r;

	if (!n)
		return -E2BIG;
	r = xsc_request(x, type, 0, p, n, NULL, 0);
	return r < 0 ? r : 0;
}

int xsc_watch(struct xsc *x, const char *path, const char *token)
{
	return xsc_watch_op(x, XS_WATCH, path, token);
}

int xsc_unwatch(struct xsc *x, const char *path, const char *token)
{
	return xsc_watch_op(x, XS_UNWATCH, path, token);
}

int xsc_read_watch(struct xsc *x, char *path, size_t psize, char *token, size_t tsize,
		   int timeout_ms)
{
	while (!x->ev_count) {
		struct pollfd p = { .fd = x->fd, .events = POLLIN };
		struct xsd_sockmsg h;
		char buf[XENSTORE_PAYLOAD_MAX + 1];
		int e;

		e = poll(&p, 1, timeout_ms);
		if (e < 0 && errno != EINTR)
			return -errno;
		if (e <= 0)
			return 0;
		e = xsc_recv(x, &h, buf);
		if (e < 0)
			return e;
		if (e == 0)
			return -EPROTO;	/* a reply nobody asked for */
	}
	struct xsc_event *ev = &x->events[x->ev_head];
	size_t plen = strnlen(ev->data, ev->len);
	const char *tok = plen < ev->len ? ev->data + plen + 1 : "";
	size_t tlen = plen < ev->len ? strnlen(tok, ev->len - plen - 1) : 0;

	snprintf(path, psize, "%.*s", (int)plen, ev->data);
	snprintf(token, tsize, "%.*s", (int)tlen, tok);
	x->ev_head = (x->ev_head + 1) % XSC_MAX_EVENTS;
	x->ev_count--;
	return 1;
}
