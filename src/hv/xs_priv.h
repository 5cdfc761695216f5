/* SPDX-License-Identifier: MIT */
/*
 * xs_priv.h - internals shared by the xenstore server's two halves:
 * xs_store.c (the tree, permissions, transactions, watches) and xs.c
 * (sockets, connections, the wire protocol, the in-process API).
 * Nothing here is a contract outside src/hv/xs*.c.
 */
#ifndef PVNET_XS_PRIV_H
#define PVNET_XS_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "pvnet/xen.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "hv/xs.h"

/*
 * Quota hits, sent with the errno Xen's C xenstored uses (docs/xenbus.md):
 * ENOSPC for nodes, node size, transactions and a transaction's accesses;
 * E2BIG for watches.  In-process callers (always dom0, exempt) would see
 * -EDQUOT.
 */
#define XS_EQUOTA	0x10000		/* "ENOSPC" */
#define XS_EQUOTA_WATCH	0x10001		/* "E2BIG" */

/* Input buffer: room for two whole messages, so one read can complete one. */
#define XS_MSG_MAX	(sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX)
#define XS_IN_CAP	(2 * XS_MSG_MAX)

/* Transaction access records a guest may accumulate (dom0 is exempt). */
#define XS_TXN_MAX_RECS	1024
/* Connections in all, whatever their domain: memory stays bounded. */
#define XS_MAX_CONNS	1024

enum { XS_PERM_NONE = 0, XS_PERM_READ = 1, XS_PERM_WRITE = 2, XS_PERM_OWNER = 4 };

/* One entry of a node's access list; entry 0 names the owner and the default. */
struct xs_perm {
	unsigned int id;
	unsigned int perm;	/* XS_PERM_READ | XS_PERM_WRITE */
};

struct xs_node {
	char *name;			/* last component; "" for the root */
	struct xs_node *parent;
	struct xs_node **kids;		/* in creation order, as Xen lists them */
	unsigned int nkids, capkids;
	char *val;
	size_t len;
	struct xs_perm *perms;
	unsigned int nperms;
	uint64_t gen;			/* bumped on any change to value, perms or child list */
	uint64_t tgen;			/* transaction copy: main tree's gen when copied, 0 = new */
};

/* A node a transaction looked at, with the main tree's gen (0 = absent) then. */
struct xs_rec {
	char *path;
	uint64_t gen;
};

/* A modification a transaction made, replayed on the main tree at commit. */
struct xs_logop {
	uint32_t type;			/* XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS */
	char *path;
	char *data;
	size_t len;
};

struct xs_txn {
	struct xs_txn *next;
	uint32_t id;
	struct xs_node *root;		/* private copy of the whole tree */
	struct xs_rec *recs;
	unsigned int nrecs, caprecs;
	struct xs_logop *ops;
	unsigned int nops, capops;
	unsigned int created;		/* nodes created, charged to the node quota */
};

struct xs_watch {
	struct xs_watch *next;
	struct xs_conn *conn;		/* NULL: in-process, calls @cb */
	char *path;			/* absolute, or "@introduceDomain"/"@releaseDomain" */
	char *token;
	size_t strip;			/* prefix cut from event paths of a relative watch */
	xs_watch_cb cb;
	void *arg;
};

/* An in-process watch event waiting for the loop. */
struct xs_pending {
	struct xs_pending *next;
	struct xs_watch *w;
	char path[];
};

/*
 * Where the store sends what happens to watches, set by xs.c: an event
 * (@path already stripped for a relative watch) goes to the watch's
 * connection or, in-process, to the loop's queue; a watch going away has
 * its queued events forgotten.  So xs_store.c calls no connection code.
 */
struct xs_watch_sink {
	void (*event)(struct xs_server *xs, struct xs_watch *w, const char *path);
	void (*gone)(struct xs_server *xs, struct xs_watch *w);
};

/* Per-domain accounting. */
struct xs_dom {
	struct xs_dom *next;
	unsigned int domid;
	unsigned int nodes;		/* nodes it owns in the main tree */
	unsigned int conns;
	unsigned int watches;		/* of all its connections (Xen: per domain) */
	int introduced;
};

struct xs_out {
	struct xs_out *next;
	size_t len, off;
	char buf[];
};

struct xs_conn {
	struct xs_conn *next;
	struct xs_server *xs;
	int fd;
	unsigned int domid;
	struct pv_watch *pw;
	uint32_t events;		/* what pw is armed for */
	char in[XS_IN_CAP];
	size_t in_len;
	uint64_t in_since;		/* ms: when the buffered partial message began */
	struct xs_out *out_head, *out_tail;
	size_t out_bytes;
	unsigned int out_count;
	uint64_t out_since;		/* ms: last time output made progress */
	int throttled;			/* not reading: too many replies unread */
	const char *doomed;		/* why it is to be closed, or NULL */
	struct xs_txn *txns;
	unsigned int ntxns;
	uint32_t next_txid;
	unsigned int nwatches;
};

struct xs_server {
	struct pv_loop *loop;
	struct xs_quota q;
	struct xs_tuning tune;
	char *sockpath;
	int lfd;
	struct pv_watch *lw;
	int efd;			/* eventfd: in-process watch events pending */
	struct pv_watch *ew;
	struct pv_watch *timer;
	struct xs_node *root;
	uint64_t gen;
	struct xs_conn *conns;
	unsigned int nconns, ndoomed;
	struct xs_watch *watches;
	struct xs_watch_sink sink;
	struct xs_pending *pend_head, *pend_tail;
	struct xs_dom *doms;
	struct xs_stats st;
	struct pv_ratelimit rl;
	int draining;
};

/* Who does an operation, and on which tree. */
struct xs_op {
	struct xs_server *xs;
	unsigned int domid;
	struct xs_txn *txn;		/* NULL: the main tree */
	int replay;			/* commit of a transaction: quotas already charged */
};

/* xs_store.c: paths and nodes */
int xs_path_canon(unsigned int domid, const char *in, int allow_special, char **out);
int xs_path_is_child(const char *child, const char *parent);
struct xs_node *xs_node_find(struct xs_node *root, const char *path);
struct xs_node *xs_node_new(const char *name, struct xs_node *parent,
			    const struct xs_perm *perms, unsigned int nperms);
void xs_node_free(struct xs_server *xs, struct xs_node *n, int account);
unsigned int xs_perm_for(const struct xs_node *n, unsigned int domid);
int xs_perms_parse(const char *data, size_t len, struct xs_perm **out, unsigned int *n);
size_t xs_perms_format(const struct xs_perm *p, unsigned int n, char *buf, size_t size);
size_t xs_perms_size(const struct xs_perm *p, unsigned int n);
struct xs_dom *xs_dom_get(struct xs_server *xs, unsigned int domid, int create);
void xs_dom_forget(struct xs_server *xs, unsigned int domid);

/* xs_store.c: operations, each checking permissions and quotas */
int xs_op_get(struct xs_op *op, const char *path, unsigned int perm, struct xs_node **out);
int xs_op_write(struct xs_op *op, const char *path, const void *val, size_t len);
int xs_op_mkdir(struct xs_op *op, const char *path);
int xs_op_rm(struct xs_op *op, const char *path);
int xs_op_set_perms(struct xs_op *op, const char *path, const char *data, size_t len);

/* xs_store.c: transactions */
struct xs_txn *xs_txn_new(struct xs_server *xs, uint32_t id);
void xs_txn_free(struct xs_txn *t);
int xs_txn_commit(struct xs_server *xs, struct xs_txn *t, unsigned int domid);

/* xs_store.c: watches */
int xs_watch_add(struct xs_server *xs, struct xs_conn *c, const char *path,
		 const char *token, size_t strip, xs_watch_cb cb, void *arg);
int xs_watch_del(struct xs_server *xs, struct xs_conn *c, const char *path, const char *token);
void xs_watch_del_conn(struct xs_server *xs, struct xs_conn *c);
void xs_watch_fire(struct xs_server *xs, const char *path, const struct xs_node *n, int recurse);
void xs_watch_fire_special(struct xs_server *xs, const char *name);
void xs_watch_event(struct xs_server *xs, struct xs_watch *w, const char *path);

/* xs_proto.c: one complete request from a socket client */
void xs_proto_handle(struct xs_conn *c, const struct xsd_sockmsg *h, const char *data);

/* xs.c: replies, delivery of one event to a socket client (in-process ones: xs->sink) */
void xs_conn_queue(struct xs_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
		   const void *data, size_t len);
void xs_conn_doom(struct xs_conn *c, const char *why, int bad);
void xs_conn_event(struct xs_conn *c, const char *path, const char *token);

#endif
