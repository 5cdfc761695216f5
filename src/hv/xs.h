/* SPDX-License-Identifier: MIT */
/*
 * xs.h - pvnetd's xenstore server.
 *
 * Speaks the wire protocol of <xen/io/xs_wire.h> on stream sockets.  A
 * connection accepted on the listening Unix socket (mode 0600, in the run
 * directory) is domain 0, privileged, as a tool in Xen's dom0 is.  A guest's
 * connection is a socket pvnetd hands it at registration
 * (xs_server_add_conn), bound to the guest's domid for its whole life.
 *
 * pvnetd itself (the toolstack and netback) uses the store in-process
 * through the xs_server_* calls below, as domain 0, with watches that call
 * back instead of sending WATCH_EVENT messages.
 */
#ifndef PVNET_XS_H
#define PVNET_XS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/loop.h"

struct xs_server;

/* Limits per domain, after Xen's xenstored quotas (domain 0 is exempt). */
struct xs_quota {
	unsigned int max_nodes;		/* nodes owned by one domain (default 1000) */
	unsigned int max_node_size;	/* value + perms bytes of one node (2048) */
	unsigned int max_watches;	/* watches per connection (128) */
	unsigned int max_transactions;	/* open transactions per connection (10) */
	unsigned int max_requests;	/* requests queued per connection (32) */
	unsigned int max_conns;		/* connections per domain (8) */
};
void xs_quota_default(struct xs_quota *q);

/* Counters, for pvnetctl and tests. */
struct xs_stats {
	uint64_t requests;
	uint64_t errors;		/* error replies sent */
	uint64_t bad_msgs;		/* malformed messages (connection closed) */
	uint64_t quota_hits;
	uint64_t watch_events;
	uint64_t conns_accepted;
	uint64_t conns_closed;
	uint64_t nodes;
};

/*
 * Create the server: the tree holds "/", "/local", "/local/domain" and
 * "/local/domain/0".  Listens on @sockpath unless it is NULL.
 */
struct xs_server *xs_server_new(struct pv_loop *loop, const char *sockpath,
				const struct xs_quota *q);
void xs_server_free(struct xs_server *xs);	/* closes all, unlinks the socket */

/* Serve @fd (a connected stream socket) as domain @domid.  Takes @fd. */
int xs_server_add_conn(struct xs_server *xs, int fd, unsigned int domid);

/* Introduce a domain: create /local/domain/<domid> owned by it, fire @introduceDomain. */
int xs_server_domain_intro(struct xs_server *xs, unsigned int domid);
/*
 * Release a domain: close its connections (with their watches and
 * transactions), remove /local/domain/<domid>, fire @releaseDomain.
 */
void xs_server_domain_release(struct xs_server *xs, unsigned int domid);

/* In-process access as domain 0.  Return 0 or -errno. */
int xs_server_write(struct xs_server *xs, const char *path, const void *val, size_t len);
int xs_server_printf(struct xs_server *xs, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Reads into @buf (NUL-terminated, truncated to @size - 1); returns the length. */
int xs_server_read(struct xs_server *xs, const char *path, char *buf, size_t size);
int xs_server_mkdir(struct xs_server *xs, const char *path);
/* Children of @path as NUL-separated names in @buf; returns how many (-E2BIG if they do not fit). */
int xs_server_directory(struct xs_server *xs, const char *path, char *buf, size_t size);
int xs_server_rm(struct xs_server *xs, const char *path);
/* @perms in the wire form, e.g. "n0\0r5\0" with @len bytes. */
int xs_server_set_perms(struct xs_server *xs, const char *path, const char *perms, size_t len);

/* In-process watch: @cb(path, token) runs from the loop, as Xen would send WATCH_EVENT. */
typedef void (*xs_watch_cb)(struct xs_server *xs, const char *path, const char *token, void *arg);
int xs_server_watch(struct xs_server *xs, const char *path, const char *token,
		    xs_watch_cb cb, void *arg);
int xs_server_unwatch(struct xs_server *xs, const char *path, const char *token);

void xs_server_stats(struct xs_server *xs, struct xs_stats *st);

/*
 * Timeouts and output bounds for socket clients; xs_server_new sets the
 * defaults (partial message 5 s, stalled output 30 s, output queue
 * 1 MiB).  A client with max_requests replies unread is no longer read
 * from (backpressure); one whose queue passes @outq_max, or whose queue
 * does not move for @stall_ms, or whose half-sent message does not
 * complete within @partial_ms, is disconnected.
 */
struct xs_tuning {
	unsigned int partial_ms;
	unsigned int stall_ms;
	size_t outq_max;
};
void xs_server_tune(struct xs_server *xs, const struct xs_tuning *t);

#endif
