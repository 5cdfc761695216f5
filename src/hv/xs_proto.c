/* SPDX-License-Identifier: MIT */
/*
 * xs_proto.c - the xenstore wire protocol: one handler per message type.
 *
 * xs.c hands over each complete request, already copied out of the socket
 * into private memory with its header checked (len <= XENSTORE_PAYLOAD_MAX)
 * and the payload NUL-padded.  Handlers validate the payload as Xen does
 * (strings NUL-terminated, the right count of them), canonicalize paths,
 * run the operation in xs_store.c and queue the reply.  A handler returns
 * 0 when it replied, or an error which becomes an XS_ERROR reply carrying
 * the errno's name ("EINVAL\0"), as Xen sends it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/xs_priv.h"

struct xs_req {
	struct xsd_sockmsg h;
	const char *data;
	size_t len;
	struct xs_op op;
};

typedef int (*xs_handler_fn)(struct xs_conn *c, struct xs_req *r);

/**
 * xs_reply() - queue the reply to @r with @len bytes at @data
 */
static void xs_reply(struct xs_conn *c, const struct xs_req *r, const void *data, size_t len)
{
	xs_conn_queue(c, r->h.type, r->h.req_id, r->h.tx_id, data, len);
}

/**
 * xs_reply_ok() - the "OK\0" reply of modifying requests
 */
static void xs_reply_ok(struct xs_conn *c, const struct xs_req *r)
{
	xs_reply(c, r, "OK", 3);
}

/**
 * xs_errname() - the name Xen sends for an error
 */
static const char *xs_errname(int err)
{
	if (err == XS_EQUOTA)
		return "ENOSPC";
	if (err == XS_EQUOTA_WATCH)
		return "E2BIG";
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == -err)
			return xsd_errors[i].errstring;
	return "EIO";
}

/**
 * xs_args() - split a payload of NUL-terminated strings
 * @r:		request
 * @v:		receives up to @max string pointers
 * @max:	how many the request may have
 *
 * Return: the count, or -EINVAL if the payload is empty, does not end with
 * a NUL, or has more than @max strings.
 */
static int xs_args(const struct xs_req *r, const char **v, int max)
{
	int n = 0;

	if (!r->len || r->data[r->len - 1])
		return -EINVAL;
	for (size_t off = 0; off < r->len; off += strlen(r->data + off) + 1) {
		if (n == max)
			return -EINVAL;
		v[n++] = r->data + off;
	}
	return n;
}

/**
 * xs_onearg() - the single string of a one-argument request (Xen's onearg)
 */
static int xs_onearg(const struct xs_req *r, const char **v)
{
	return xs_args(r, v, 1) == 1 ? 0 : -EINVAL;
}

/**
 * xs_parse_uint() - strict decimal (no sign, no junk) up to @max
 */
static int xs_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return *end || errno || *out > max ? -EINVAL : 0;
}

/**
 * xs_onepath() - the canonical path of a one-path request
 */
static int xs_onepath(struct xs_conn *c, const struct xs_req *r, char **path)
{
	const char *v[1];
	int err = xs_onearg(r, v);

	return err ? err : xs_path_canon(c->domid, v[0], 0, path);
}

/**
 * xs_h_read() - XS_READ: "path\0" -> the value, unterminated
 */
static int xs_h_read(struct xs_conn *c, struct xs_req *r)
{
	struct xs_node *n;
	char *path;
	int err;

	if ((err = xs_onepath(c, r, &path)))
		return err;
	if (!(err = xs_op_get(&r->op, path, XS_PERM_READ, &n)))
		xs_reply(c, r, n->val, n->len);
	free(path);
	return err;
}

/**
 * xs_h_write() - XS_WRITE: "path\0value" (the value runs to the end)
 */
static int xs_h_write(struct xs_conn *c, struct xs_req *r)
{
	const char *nul = memchr(r->data, 0, r->len);
	size_t off;
	char *path;
	int err;

	if (!nul)
		return -EINVAL;
	off = (size_t)(nul - r->data) + 1;
	if ((err = xs_path_canon(c->domid, r->data, 0, &path)))
		return err;
	if (!(err = xs_op_write(&r->op, path, r->data + off, r->len - off)))
		xs_reply_ok(c, r);
	free(path);
	return err;
}

/**
 * xs_h_mkdir() - XS_MKDIR: "path\0"
 */
static int xs_h_mkdir(struct xs_conn *c, struct xs_req *r)
{
	char *path;
	int err;

	if ((err = xs_onepath(c, r, &path)))
		return err;
	if (!(err = xs_op_mkdir(&r->op, path)))
		xs_reply_ok(c, r);
	free(path);
	return err;
}

/**
 * xs_h_rm() - XS_RM: "path\0"
 */
static int xs_h_rm(struct xs_conn *c, struct xs_req *r)
{
	char *path;
	int err;

	if ((err = xs_onepath(c, r, &path)))
		return err;
	if (!(err = xs_op_rm(&r->op, path)))
		xs_reply_ok(c, r);
	free(path);
	return err;
}

/**
 * xs_children() - the children of @n as "a\0b\0", into @buf if it fits
 *
 * Return: bytes needed.
 */
static size_t xs_children(const struct xs_node *n, char *buf, size_t size)
{
	size_t off = 0;

	for (unsigned int i = 0; i < n->nkids; i++) {
		size_t l = strlen(n->kids[i]->name) + 1;

		if (off + l <= size)
			memcpy(buf + off, n->kids[i]->name, l);
		off += l;
	}
	return off;
}

/**
 * xs_h_directory() - XS_DIRECTORY: "path\0" -> "child\0child\0..."
 *
 * E2BIG when the list does not fit one message: libxenstore then falls
 * back to XS_DIRECTORY_PART.
 */
static int xs_h_directory(struct xs_conn *c, struct xs_req *r)
{
	char out[XENSTORE_PAYLOAD_MAX];
	struct xs_node *n;
	char *path;
	size_t len;
	int err;

	if ((err = xs_onepath(c, r, &path)))
		return err;
	if (!(err = xs_op_get(&r->op, path, XS_PERM_READ, &n))) {
		len = xs_children(n, out, sizeof(out));
		if (len > sizeof(out))
			err = -E2BIG;
		else
			xs_reply(c, r, out, len);
	}
	free(path);
	return err;
}

/**
 * xs_dir_chunk() - build a DIRECTORY_PART reply from the list @kids
 * @out:	reply buffer of XENSTORE_PAYLOAD_MAX bytes
 * @gen:	generation string, NUL included
 * @kids:	all children, "a\0b\0", @klen bytes
 * @off:	byte offset into @kids the client asks from
 *
 * Whole names only; an extra NUL marks the last chunk, as in Xen.
 */
static size_t xs_dir_chunk(char *out, const char *gen, const char *kids, size_t klen, size_t off)
{
	size_t len = strlen(gen) + 1;

	memcpy(out, gen, len);
	while (off < klen) {
		size_t l = strlen(kids + off) + 1;

		if (len + l + 1 > XENSTORE_PAYLOAD_MAX)
			return len;
		memcpy(out + len, kids + off, l);
		len += l;
		off += l;
	}
	out[len++] = '\0';
	return len;
}

/**
 * xs_h_directory_part() - XS_DIRECTORY_PART: "path\0offset\0" ->
 * "generation\0child\0...\0", chunked to fit
 */
static int xs_h_directory_part(struct xs_conn *c, struct xs_req *r)
{
	char out[XENSTORE_PAYLOAD_MAX], gen[24], *path, *kids;
	const char *v[2];
	unsigned long off;
	struct xs_node *n;
	size_t klen;
	int err;

	if (xs_args(r, v, 2) != 2 || xs_parse_uint(v[1], UINT32_MAX, &off))
		return -EINVAL;
	if ((err = xs_path_canon(c->domid, v[0], 0, &path)))
		return err;
	if ((err = xs_op_get(&r->op, path, XS_PERM_READ, &n)))
		goto out;
	klen = xs_children(n, NULL, 0);
	if (!(kids = malloc(klen + 1))) {
		err = -ENOMEM;
		goto out;
	}
	xs_children(n, kids, klen);
	snprintf(gen, sizeof(gen), "%" PRIu64, n->gen);
	xs_reply(c, r, out, xs_dir_chunk(out, gen, kids, klen, off));
	free(kids);
out:
	free(path);
	return err;
}

/**
 * xs_h_get_perms() - XS_GET_PERMS: "path\0" -> "n0\0r1\0..."
 */
static int xs_h_get_perms(struct xs_conn *c, struct xs_req *r)
{
	char out[XENSTORE_PAYLOAD_MAX];
	struct xs_node *n;
	char *path;
	size_t len;
	int err;

	if ((err = xs_onepath(c, r, &path)))
		return err;
	if (!(err = xs_op_get(&r->op, path, XS_PERM_READ, &n))) {
		len = xs_perms_format(n->perms, n->nperms, out, sizeof(out));
		if (len > sizeof(out))
			err = -E2BIG;
		else
			xs_reply(c, r, out, len);
	}
	free(path);
	return err;
}

/**
 * xs_h_set_perms() - XS_SET_PERMS: "path\0perm\0perm\0..."
 */
static int xs_h_set_perms(struct xs_conn *c, struct xs_req *r)
{
	const char *nul = memchr(r->data, 0, r->len);
	size_t off;
	char *path;
	int err;

	if (!nul || r->data[r->len - 1])
		return -EINVAL;
	off = (size_t)(nul - r->data) + 1;
	if ((err = xs_path_canon(c->domid, r->data, 0, &path)))
		return err;
	if (!(err = xs_op_set_perms(&r->op, path, r->data + off, r->len - off)))
		xs_reply_ok(c, r);
	free(path);
	return err;
}

/**
 * xs_strip_for() - how much of an event path to cut for a watch given as @given
 */
static size_t xs_strip_for(const struct xs_conn *c, const char *given)
{
	char home[32];

	if (given[0] == '/' || given[0] == '@')
		return 0;
	return (size_t)snprintf(home, sizeof(home), "/local/domain/%u/", c->domid);
}

/**
 * xs_h_watch() - XS_WATCH: "path\0token\0"; fires once at once, as Xen does
 */
static int xs_h_watch(struct xs_conn *c, struct xs_req *r)
{
	const char *v[2];
	char *path;
	int err;

	if (xs_args(r, v, 2) != 2)
		return -EINVAL;
	if ((err = xs_path_canon(c->domid, v[0], 1, &path)))
		return err;
	err = xs_watch_add(c->xs, c, path, v[1], xs_strip_for(c, v[0]), NULL, NULL);
	free(path);
	if (err)
		return err;
	xs_reply_ok(c, r);
	c->xs->st.watch_events++;
	xs_conn_event(c, v[0], v[1]);
	return 0;
}

/**
 * xs_h_unwatch() - XS_UNWATCH: "path\0token\0"
 */
static int xs_h_unwatch(struct xs_conn *c, struct xs_req *r)
{
	const char *v[2];
	char *path;
	int err;

	if (xs_args(r, v, 2) != 2)
		return -EINVAL;
	if ((err = xs_path_canon(c->domid, v[0], 1, &path)))
		return err;
	if (!(err = xs_watch_del(c->xs, c, path, v[1])))
		xs_reply_ok(c, r);
	free(path);
	return err;
}

/**
 * xs_txn_find() - @c's open transaction @id, or NULL
 */
static struct xs_txn *xs_txn_find(struct xs_conn *c, uint32_t id)
{
	for (struct xs_txn *t = c->txns; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

/**
 * xs_h_txn_start() - XS_TRANSACTION_START -> "id\0"
 */
static int xs_h_txn_start(struct xs_conn *c, struct xs_req *r)
{
	char out[16];
	struct xs_txn *t;
	uint32_t id;

	if (r->h.tx_id)
		return -EBUSY;		/* no nesting, as in Xen */
	if (c->domid && c->ntxns >= c->xs->q.max_transactions)
		return XS_EQUOTA;
	do {
		id = ++c->next_txid;
	} while (!id || xs_txn_find(c, id));
	if (!(t = xs_txn_new(c->xs, id)))
		return -ENOMEM;
	t->next = c->txns;
	c->txns = t;
	c->ntxns++;
	xs_reply(c, r, out, (size_t)snprintf(out, sizeof(out), "%u", id) + 1);
	return 0;
}

/**
 * xs_h_txn_end() - XS_TRANSACTION_END: "T\0" commits, "F\0" aborts;
 * a conflicting commit gets EAGAIN and the transaction is gone
 */
static int xs_h_txn_end(struct xs_conn *c, struct xs_req *r)
{
	const char *v[1];
	struct xs_txn **pp, *t;
	int err = 0;

	if (xs_onearg(r, v) || (strcmp(v[0], "T") && strcmp(v[0], "F")))
		return -EINVAL;
	for (pp = &c->txns; *pp && (*pp)->id != r->h.tx_id; pp = &(*pp)->next)
		;
	if (!r->h.tx_id || !(t = *pp))
		return -ENOENT;
	*pp = t->next;
	c->ntxns--;
	if (!strcmp(v[0], "T"))
		err = xs_txn_commit(c->xs, t, c->domid);
	xs_txn_free(t);
	if (!err)
		xs_reply_ok(c, r);
	return err;
}

/**
 * xs_h_domain_path() - XS_GET_DOMAIN_PATH: "domid\0" -> "/local/domain/<domid>\0"
 */
static int xs_h_domain_path(struct xs_conn *c, struct xs_req *r)
{
	const char *v[1];
	unsigned long domid;
	char out[32];

	if (xs_onearg(r, v) || xs_parse_uint(v[0], 0xffff, &domid))
		return -EINVAL;
	xs_reply(c, r, out, (size_t)snprintf(out, sizeof(out), "/local/domain/%lu", domid) + 1);
	return 0;
}

/**
 * xs_h_introduced() - XS_IS_DOMAIN_INTRODUCED: "domid\0" -> "T\0" or "F\0"
 */
static int xs_h_introduced(struct xs_conn *c, struct xs_req *r)
{
	const char *v[1];
	unsigned long domid;
	struct xs_dom *d;

	if (xs_onearg(r, v) || xs_parse_uint(v[0], 0xffff, &domid))
		return -EINVAL;
	d = xs_dom_get(c->xs, (unsigned int)domid, 0);
	xs_reply(c, r, !domid || (d && d->introduced) ? "T" : "F", 2);
	return 0;
}

/**
 * xs_h_reset_watches() - XS_RESET_WATCHES: drop all watches and transactions
 */
static int xs_h_reset_watches(struct xs_conn *c, struct xs_req *r)
{
	xs_watch_del_conn(c->xs, c);
	while (c->txns) {
		struct xs_txn *t = c->txns;

		c->txns = t->next;
		xs_txn_free(t);
	}
	c->ntxns = 0;
	xs_reply_ok(c, r);
	return 0;
}

/**
 * xs_h_control() - XS_CONTROL (dom0): "print\0text\0" logs, "log\0..." is
 * accepted and ignored; nothing else is supported
 */
static int xs_h_control(struct xs_conn *c, struct xs_req *r)
{
	const char *v[8];
	int n;

	if (c->domid)
		return -EACCES;
	if ((n = xs_args(r, v, 8)) < 1)
		return -EINVAL;
	if (!strcmp(v[0], "print") && n == 2)
		pv_info("xs: control print: %s", v[1]);
	else if (strcmp(v[0], "log"))
		return -ENOSYS;
	xs_reply_ok(c, r);
	return 0;
}

/**
 * xs_h_unsupported() - introduce, release, resume, set_target: Xen's ring
 * management, which the toolstack does in-process here
 */
static int xs_h_unsupported(struct xs_conn *c, struct xs_req *r)
{
	return c->domid ? -EACCES : -ENOSYS;
}

static const struct xs_handler {
	xs_handler_fn fn;
	const char *name;
	int in_txn;			/* honours tx_id */
} xs_handlers[XS_TYPE_COUNT] = {
	[XS_CONTROL]		= { xs_h_control, "CONTROL", 0 },
	[XS_DIRECTORY]		= { xs_h_directory, "DIRECTORY", 1 },
	[XS_READ]		= { xs_h_read, "READ", 1 },
	[XS_GET_PERMS]		= { xs_h_get_perms, "GET_PERMS", 1 },
	[XS_WATCH]		= { xs_h_watch, "WATCH", 0 },
	[XS_UNWATCH]		= { xs_h_unwatch, "UNWATCH", 0 },
	[XS_TRANSACTION_START]	= { xs_h_txn_start, "TRANSACTION_START", 0 },
	[XS_TRANSACTION_END]	= { xs_h_txn_end, "TRANSACTION_END", 0 },
	[XS_INTRODUCE]		= { xs_h_unsupported, "INTRODUCE", 0 },
	[XS_RELEASE]		= { xs_h_unsupported, "RELEASE", 0 },
	[XS_GET_DOMAIN_PATH]	= { xs_h_domain_path, "GET_DOMAIN_PATH", 0 },
	[XS_WRITE]		= { xs_h_write, "WRITE", 1 },
	[XS_MKDIR]		= { xs_h_mkdir, "MKDIR", 1 },
	[XS_RM]			= { xs_h_rm, "RM", 1 },
	[XS_SET_PERMS]		= { xs_h_set_perms, "SET_PERMS", 1 },
	[XS_IS_DOMAIN_INTRODUCED] = { xs_h_introduced, "IS_DOMAIN_INTRODUCED", 0 },
	[XS_RESUME]		= { xs_h_unsupported, "RESUME", 0 },
	[XS_SET_TARGET]		= { xs_h_unsupported, "SET_TARGET", 0 },
	[XS_RESET_WATCHES]	= { xs_h_reset_watches, "RESET_WATCHES", 0 },
	[XS_DIRECTORY_PART]	= { xs_h_directory_part, "DIRECTORY_PART", 1 },
};

/**
 * xs_reply_error() - send XS_ERROR "<ENAME>\0" for @err, count and log it
 */
static void xs_reply_error(struct xs_conn *c, const struct xs_req *r, int err)
{
	struct xs_server *xs = c->xs;
	const char *name = xs_errname(err);
	const char *type = r->h.type < XS_TYPE_COUNT && xs_handlers[r->h.type].name ?
			   xs_handlers[r->h.type].name : "unknown";

	int quota = err == XS_EQUOTA || err == XS_EQUOTA_WATCH;

	xs->st.errors++;
	if (quota)
		xs->st.quota_hits++;
	if (quota || err == -EINVAL)
		pv_log_rl(&xs->rl, PV_LOG_WARN, "xs: dom%u %s (type %u): %s",
			  c->domid, type, r->h.type, name);
	else
		pv_debug("xs: dom%u %s: %s", c->domid, type, name);
	xs_conn_queue(c, XS_ERROR, r->h.req_id, r->h.tx_id, name, strlen(name) + 1);
}

/**
 * xs_proto_handle() - serve one request of @c
 * @c:		client connection
 * @h:		header, copied and checked (len <= XENSTORE_PAYLOAD_MAX)
 * @data:	private copy of the h->len payload bytes, followed by a NUL
 */
void xs_proto_handle(struct xs_conn *c, const struct xsd_sockmsg *h, const char *data)
{
	struct xs_req r = {
		.h = *h, .data = data, .len = h->len,
		.op = { .xs = c->xs, .domid = c->domid },
	};
	const struct xs_handler *hd = h->type < XS_TYPE_COUNT ? &xs_handlers[h->type] : NULL;
	int err;

	c->xs->st.requests++;
	if (!hd || !hd->fn) {
		err = -ENOSYS;		/* unknown type, or one only the server sends (Xen) */
	} else if (hd->in_txn && h->tx_id && !(r.op.txn = xs_txn_find(c, h->tx_id))) {
		err = -ENOENT;
	} else {
		err = hd->fn(c, &r);
	}
	if (err)
		xs_reply_error(c, &r, err);
}
