/* SPDX-License-Identifier: MIT */
/*
 * xsc.h - a small synchronous xenstore client (the xs_wire.h protocol),
 * for guests (over the connection pvnetd hands them) and dom0 tools (over
 * <run-dir>/xenstored.sock).  Watch events that arrive while waiting for
 * a reply are queued and read with xsc_read_watch().
 *
 * All calls return 0 (or a count) on success and a negative errno on
 * failure; the store's error strings map to errno values ("EQUOTA" to
 * -EDQUOT).  @tx is a transaction id, 0 for none.
 */
#ifndef PVNET_XSC_H
#define PVNET_XSC_H

#include <stddef.h>
#include <stdint.h>

struct xsc;

struct xsc *xsc_open_fd(int fd);			/* takes @fd */
struct xsc *xsc_open_path(const char *sock_path);
void xsc_close(struct xsc *x);
int xsc_fd(const struct xsc *x);			/* poll it for watch events */
/*
 * Watch events already read off the socket (by a request that met them on
 * the way to its reply) and queued: polling xsc_fd() does not see these.
 */
unsigned int xsc_pending(const struct xsc *x);

/* One request; the reply payload goes to @reply (up to @size), its length returned. */
int xsc_request(struct xsc *x, uint32_t type, uint32_t tx, const void *payload, size_t len,
		void *reply, size_t size);

int xsc_read(struct xsc *x, uint32_t tx, const char *path, char *buf, size_t size);
int xsc_write(struct xsc *x, uint32_t tx, const char *path, const void *val, size_t len);
int xsc_printf(struct xsc *x, uint32_t tx, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int xsc_mkdir(struct xsc *x, uint32_t tx, const char *path);
int xsc_rm(struct xsc *x, uint32_t tx, const char *path);
/* Children as NUL-separated names in @buf; returns how many. */
int xsc_directory(struct xsc *x, uint32_t tx, const char *path, char *buf, size_t size);
int xsc_set_perms(struct xsc *x, uint32_t tx, const char *path, const char *perms, size_t len);
int xsc_get_domain_path(struct xsc *x, unsigned int domid, char *buf, size_t size);
int xsc_transaction_start(struct xsc *x, uint32_t *tx);
int xsc_transaction_end(struct xsc *x, uint32_t tx, int commit);	/* -EAGAIN: retry */
int xsc_watch(struct xsc *x, const char *path, const char *token);
int xsc_unwatch(struct xsc *x, const char *path, const char *token);
/*
 * Next watch event: 1 and @path/@token filled, or 0 if none is queued and
 * none arrives within @timeout_ms (-1 waits).
 */
int xsc_read_watch(struct xsc *x, char *path, size_t psize, char *token, size_t tsize,
		   int timeout_ms);
/*
 * Watch events are numbered from 0 as they arrive.  xsc_watch_next() is
 * the number of the event the next xsc_read_watch() returns (if one is
 * queued, or the first to arrive); xsc_watch_arrived() is how many have
 * arrived.  xenstored sends a connection its events and replies in order,
 * so an event numbered below xsc_watch_arrived() taken after a read is
 * for a write that read already saw.
 */
uint64_t xsc_watch_next(const struct xsc *x);
uint64_t xsc_watch_arrived(const struct xsc *x);

#endif
