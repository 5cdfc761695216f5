/* SPDX-License-Identifier: MIT */
/*
 * xs_store.c - the xenstore tree: paths, nodes, permissions, quotas,
 * transactions and watches.  No sockets here: xs.c feeds it requests
 * and takes the watch events back through xs->sink.
 *
 * Theory of operation
 *
 * The store is a tree of struct xs_node, children kept in creation order
 * as Xen lists them.  Every node carries a generation number taken from
 * one server-wide counter whenever its value, its permissions or its list
 * of children change; generations never repeat, so "same generation" means
 * "untouched".
 *
 * An operation (struct xs_op) names the acting domain and the tree it
 * works on: the main tree, or a transaction's private copy.  Permission
 * checks follow Xen's perm_for_conn(): dom0 and a node's owner may do
 * anything; anyone else gets the access-list entry naming its domid, or
 * else the owner entry's default.  A node that does not exist reads as
 * EACCES rather than ENOENT when its closest existing ancestor is not
 * readable, so guests cannot probe other domains' trees.
 *
 * A transaction copies the whole tree when it starts (simple and obviously
 * isolated; the store is small).  Each node the transaction touches is
 * recorded, once, with the main tree's generation at copy time (0 if it
 * did not exist).  Each modification is logged.  Commit compares every
 * record with the main tree: any difference is a conflict and the client
 * gets EAGAIN, as from Xen; otherwise the log is replayed on the main tree,
 * which fires the watches.  Since nothing the transaction looked at has
 * changed, the replay meets the same permissions and the same nodes.
 *
 * Watches fire for the changed path to every watch on it or on one of its
 * ancestors; removing a node also fires watches set on its descendants,
 * with the watch's own path (Xen's fire_watches with recurse).  Guests get
 * only events for nodes they may read.  Socket watchers get a WATCH_EVENT
 * queued at once; in-process watchers are queued and called from the loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/xs_priv.h"

/* Xen's is_valid_nodename(): [A-Za-z0-9-/_@] only (docs/misc/xenstore.txt). */
static const char xs_valid_chars[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_@";

/**
 * xs_path_canon() - make an absolute, validated path from a client's path
 * @domid:	the client's domain; relative paths are under its home
 * @in:		NUL-terminated path as sent
 * @allow_special: accept "@introduceDomain" and "@releaseDomain" (watches)
 * @out:	on success, a malloc'ed absolute path
 *
 * Return: 0, -EINVAL for a path Xen would refuse, -ENOMEM.
 */
int xs_path_canon(unsigned int domid, const char *in, int allow_special, char **out)
{
	size_t len = strlen(in);
	char *p;

	*out = NULL;
	if (in[0] == '@') {
		if (!allow_special || (strcmp(in, "@introduceDomain") &&
				       strcmp(in, "@releaseDomain")))
			return -EINVAL;
		p = strdup(in);
		goto done;
	}
	if (in[0] == '/') {
		if (len > XENSTORE_ABS_PATH_MAX)
			return -EINVAL;
		p = strdup(in);
	} else {
		if (!len || len > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		if (asprintf(&p, "/local/domain/%u/%s", domid, in) < 0)
			p = NULL;
	}
	if (p && strcmp(p, "/") &&
	    (p[strlen(p) - 1] == '/' || strstr(p, "//") ||
	     strspn(p, xs_valid_chars) != strlen(p))) {
		free(p);
		return -EINVAL;
	}
done:
	if (!p)
		return -ENOMEM;
	*out = p;
	return 0;
}

/**
 * xs_path_is_child() - is @child @parent itself or below it?
 * @child:	absolute path
 * @parent:	absolute path; "/" is everyone's parent
 */
int xs_path_is_child(const char *child, const char *parent)
{
	size_t len = strlen(parent);

	if (!strcmp(parent, "/"))
		return child[0] == '/';
	return !strncmp(child, parent, len) && (child[len] == '/' || !child[len]);
}

/**
 * xs_node_kid() - the child of @n named by the @len bytes at @name
 */
static struct xs_node *xs_node_kid(const struct xs_node *n, const char *name, size_t len)
{
	for (unsigned int i = 0; i < n->nkids; i++)
		if (!strncmp(n->kids[i]->name, name, len) && !n->kids[i]->name[len])
			return n->kids[i];
	return NULL;
}

/**
 * xs_node_walk() - follow @path from @root as far as nodes exist
 * @root:	tree to walk
 * @path:	absolute, canonical path
 * @rest:	set to the part of @path not found ("" if all was found)
 *
 * Return: the deepest existing node on @path.
 */
static struct xs_node *xs_node_walk(struct xs_node *root, const char *path, const char **rest)
{
	const char *p = path + 1;
	struct xs_node *n = root;

	while (*p) {
		size_t l = strcspn(p, "/");
		struct xs_node *k = xs_node_kid(n, p, l);

		if (!k)
			break;
		n = k;
		p += l;
		if (*p == '/')
			p++;
	}
	*rest = p;
	return n;
}

/**
 * xs_node_find() - the node at @path in the tree @root, or NULL
 */
struct xs_node *xs_node_find(struct xs_node *root, const char *path)
{
	const char *rest;
	struct xs_node *n;

	if (path[0] != '/')
		return NULL;
	n = xs_node_walk(root, path, &rest);
	return *rest ? NULL : n;
}

/**
 * xs_node_link() - append @n to @parent's children
 */
static int xs_node_link(struct xs_node *parent, struct xs_node *n)
{
	if (parent->nkids == parent->capkids) {
		unsigned int cap = parent->capkids ? 2 * parent->capkids : 4;
		struct xs_node **k = realloc(parent->kids, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		parent->kids = k;
		parent->capkids = cap;
	}
	parent->kids[parent->nkids++] = n;
	n->parent = parent;
	return 0;
}

/**
 * xs_node_unlink() - take @n out of its parent's children, keeping their order
 */
static void xs_node_unlink(struct xs_node *n)
{
	struct xs_node *p = n->parent;

	for (unsigned int i = 0; p && i < p->nkids; i++) {
		if (p->kids[i] != n)
			continue;
		memmove(&p->kids[i], &p->kids[i + 1], (p->nkids - i - 1) * sizeof(*p->kids));
		p->nkids--;
		break;
	}
	n->parent = NULL;
}

/**
 * xs_node_new() - a node with no value, linked under @parent if not NULL
 * @name:	last path component
 * @parent:	parent node, or NULL for a root
 * @perms:	access list to copy (@nperms >= 1)
 * @nperms:	entries in @perms
 */
struct xs_node *xs_node_new(const char *name, struct xs_node *parent,
			    const struct xs_perm *perms, unsigned int nperms)
{
	struct xs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strdup(name);
	n->perms = malloc(nperms * sizeof(*perms));
	if (!n->name || !n->perms || (parent && xs_node_link(parent, n))) {
		free(n->name);
		free(n->perms);
		free(n);
		return NULL;
	}
	memcpy(n->perms, perms, nperms * sizeof(*perms));
	n->nperms = nperms;
	return n;
}

/**
 * xs_dom_get() - accounting record of @domid, created on demand if @create
 */
struct xs_dom *xs_dom_get(struct xs_server *xs, unsigned int domid, int create)
{
	struct xs_dom *d;

	for (d = xs->doms; d; d = d->next)
		if (d->domid == domid)
			return d;
	if (!create || !(d = calloc(1, sizeof(*d))))
		return NULL;
	d->domid = domid;
	d->next = xs->doms;
	xs->doms = d;
	return d;
}

/**
 * xs_dom_forget() - drop @domid's accounting record (its domain is gone)
 */
void xs_dom_forget(struct xs_server *xs, unsigned int domid)
{
	for (struct xs_dom **pp = &xs->doms; *pp; pp = &(*pp)->next) {
		struct xs_dom *d = *pp;

		if (d->domid != domid)
			continue;
		*pp = d->next;
		free(d);
		return;
	}
}

/**
 * xs_account() - count @delta main-tree nodes owned by @owner
 */
static void xs_account(struct xs_server *xs, unsigned int owner, int delta)
{
	struct xs_dom *d = xs_dom_get(xs, owner, delta > 0);

	xs->st.nodes += delta;
	if (!d)
		return;
	if (delta < 0 && d->nodes < (unsigned int)-delta)
		d->nodes = 0;	/* owner's record was reset by a release */
	else
		d->nodes += delta;
}

/**
 * xs_node_free() - free @n and everything below it
 * @xs:		server, for node accounting
 * @n:		subtree, already unlinked (or a whole tree)
 * @account:	it was part of the main tree: uncount its nodes
 */
void xs_node_free(struct xs_server *xs, struct xs_node *n, int account)
{
	if (!n)
		return;
	for (unsigned int i = 0; i < n->nkids; i++)
		xs_node_free(xs, n->kids[i], account);
	if (account)
		xs_account(xs, n->perms[0].id, -1);
	free(n->kids);
	free(n->name);
	free(n->val);
	free(n->perms);
	free(n);
}

/**
 * xs_perm_for() - what @domid may do to @n (XS_PERM_*), Xen's perm_for_conn()
 */
unsigned int xs_perm_for(const struct xs_node *n, unsigned int domid)
{
	if (domid == 0 || n->perms[0].id == domid)
		return XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;
	for (unsigned int i = 1; i < n->nperms; i++)
		if (n->perms[i].id == domid)
			return n->perms[i].perm;
	return n->perms[0].perm;
}

/**
 * xs_perms_parse() - parse the wire form "r5\0n0\0..." of an access list
 * @data:	strings, each a letter of "nrwb" and a decimal domid
 * @len:	bytes at @data; the last must be NUL
 * @out:	malloc'ed array on success
 * @n:		its entries (at least one)
 *
 * Return: 0, -EINVAL for anything malformed, -ENOMEM.
 */
int xs_perms_parse(const char *data, size_t len, struct xs_perm **out, unsigned int *n)
{
	static const char letters[] = "nrwb";	/* index = XS_PERM_* bits */
	unsigned int cnt = 0, i = 0;
	struct xs_perm *p;

	if (!len || data[len - 1])
		return -EINVAL;
	for (size_t k = 0; k < len; k++)
		cnt += !data[k];
	if (!(p = calloc(cnt, sizeof(*p))))
		return -ENOMEM;
	for (const char *s = data; s < data + len; s += strlen(s) + 1, i++) {
		const char *l = *s ? strchr(letters, *s) : NULL;
		char *end;
		unsigned long id;

		if (!l || s[1] < '0' || s[1] > '9')
			goto bad;
		id = strtoul(s + 1, &end, 10);
		if (*end || id > 0xffff)
			goto bad;
		p[i].perm = (unsigned int)(l - letters);
		p[i].id = (unsigned int)id;
	}
	*out = p;
	*n = cnt;
	return 0;
bad:
	free(p);
	return -EINVAL;
}

/**
 * xs_perms_format() - write an access list in wire form into @buf
 *
 * Return: bytes needed (output truncated if more than @size).
 */
size_t xs_perms_format(const struct xs_perm *p, unsigned int n, char *buf, size_t size)
{
	size_t off = 0;

	for (unsigned int i = 0; i < n; i++) {
		char e[16];
		int l = snprintf(e, sizeof(e), "%c%u", "nrwb"[p[i].perm & 3], p[i].id);

		if (off + l + 1 <= size)
			memcpy(buf + off, e, l + 1);
		off += l + 1;
	}
	return off;
}

/**
 * xs_perms_size() - bytes of the wire form of an access list
 */
size_t xs_perms_size(const struct xs_perm *p, unsigned int n)
{
	return xs_perms_format(p, n, NULL, 0);
}

/**
 * xs_txn_record() - note that the transaction looked at @path
 * @op:		operation in a transaction
 * @path:	absolute path
 * @gen:	the main tree's generation of it at copy time (0: absent)
 *
 * Only the first look counts: later ones may see the transaction's own
 * changes.  Return: 0, -ENOMEM, XS_EQUOTA when a guest looks at too much.
 */
static int xs_txn_record(struct xs_op *op, const char *path, uint64_t gen)
{
	struct xs_txn *t = op->txn;

	for (unsigned int i = 0; i < t->nrecs; i++)
		if (!strcmp(t->recs[i].path, path))
			return 0;
	if (op->domid && t->nrecs >= XS_TXN_MAX_RECS)
		return XS_EQUOTA;
	if (t->nrecs == t->caprecs) {
		unsigned int cap = t->caprecs ? 2 * t->caprecs : 16;
		struct xs_rec *r = realloc(t->recs, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		t->recs = r;
		t->caprecs = cap;
	}
	if (!(t->recs[t->nrecs].path = strdup(path)))
		return -ENOMEM;
	t->recs[t->nrecs++].gen = gen;
	return 0;
}

/**
 * xs_txn_record_tree() - record @n at @path and everything below it
 */
static int xs_txn_record_tree(struct xs_op *op, const char *path, const struct xs_node *n)
{
	int err = xs_txn_record(op, path, n->tgen);

	for (unsigned int i = 0; !err && i < n->nkids; i++) {
		char *sub;

		if (asprintf(&sub, "%s/%s", path, n->kids[i]->name) < 0)
			return -ENOMEM;
		err = xs_txn_record_tree(op, sub, n->kids[i]);
		free(sub);
	}
	return err;
}

/**
 * xs_op_root() - the tree @op works on
 */
static struct xs_node *xs_op_root(const struct xs_op *op)
{
	return op->txn ? op->txn->root : op->xs->root;
}

/**
 * xs_op_find() - look up @path in @op's tree, recording it in a transaction
 */
static int xs_op_find(struct xs_op *op, const char *path, struct xs_node **out)
{
	struct xs_node *n = xs_node_find(xs_op_root(op), path);

	*out = n;
	return op->txn ? xs_txn_record(op, path, n ? n->tgen : 0) : 0;
}

/**
 * xs_op_missing() - the error for a missing @path: ENOENT, or EACCES if the
 * closest existing ancestor does not grant @perm (Xen's errno_from_parents)
 */
static int xs_op_missing(struct xs_op *op, const char *path, unsigned int perm)
{
	const char *rest;
	struct xs_node *anc = xs_node_walk(xs_op_root(op), path, &rest);

	return xs_perm_for(anc, op->domid) & perm ? -ENOENT : -EACCES;
}

/**
 * xs_op_get() - the node at @path if @op's domain has @perm on it
 *
 * Return: 0, -ENOENT, -EACCES, -ENOMEM, XS_EQUOTA.
 */
int xs_op_get(struct xs_op *op, const char *path, unsigned int perm, struct xs_node **out)
{
	int err = xs_op_find(op, path, out);

	if (err)
		return err;
	if (!*out)
		return xs_op_missing(op, path, perm);
	return xs_perm_for(*out, op->domid) & perm ? 0 : -EACCES;
}

/**
 * xs_op_log() - remember a transaction's modification for the commit
 */
static int xs_op_log(struct xs_op *op, uint32_t type, const char *path,
		     const void *data, size_t len)
{
	struct xs_txn *t = op->txn;
	struct xs_logop *o;

	if (t->nops == t->capops) {
		unsigned int cap = t->capops ? 2 * t->capops : 16;

		if (!(o = realloc(t->ops, cap * sizeof(*o))))
			return -ENOMEM;
		t->ops = o;
		t->capops = cap;
	}
	o = &t->ops[t->nops];
	o->type = type;
	o->len = len;
	o->path = strdup(path);
	o->data = malloc(len + 1);
	if (!o->path || !o->data) {
		free(o->path);
		free(o->data);
		return -ENOMEM;
	}
	if (len)
		memcpy(o->data, data, len);
	t->nops++;
	return 0;
}

/**
 * xs_op_done() - after a modification: log it (transaction) or fire watches
 */
static int xs_op_done(struct xs_op *op, uint32_t type, const char *path,
		      const void *data, size_t len, const struct xs_node *n)
{
	if (op->txn)
		return xs_op_log(op, type, path, data, len);
	xs_watch_fire(op->xs, path, n, 0);
	return 0;
}

/**
 * xs_size_ok() - does a node of @len value bytes and these perms fit the quota?
 */
static int xs_size_ok(const struct xs_op *op, size_t len, const struct xs_perm *p, unsigned int n)
{
	return !op->domid || op->replay ||
	       len + xs_perms_size(p, n) <= op->xs->q.max_node_size;
}

/**
 * xs_set_value() - replace an existing node's value
 */
static int xs_set_value(struct xs_op *op, struct xs_node *n, const char *path,
			const void *val, size_t len)
{
	char *v;

	if (!(xs_perm_for(n, op->domid) & XS_PERM_WRITE))
		return -EACCES;
	if (!xs_size_ok(op, len, n->perms, n->nperms))
		return XS_EQUOTA;
	if (!(v = malloc(len + 1)))
		return -ENOMEM;
	if (len)
		memcpy(v, val, len);
	free(n->val);
	n->val = v;
	n->len = len;
	n->gen = ++op->xs->gen;
	return xs_op_done(op, XS_WRITE, path, val, len, n);
}

/**
 * xs_nodes_quota_ok() - may @op's domain own @more nodes?
 */
static int xs_nodes_quota_ok(const struct xs_op *op, unsigned int more)
{
	struct xs_dom *d;
	unsigned long have;

	if (!op->domid || op->replay)
		return 1;
	d = xs_dom_get(op->xs, op->domid, 0);
	have = (d ? d->nodes : 0) + (op->txn ? op->txn->created : 0);
	return have + more <= op->xs->q.max_nodes;
}

/**
 * xs_create_chain() - create the missing nodes @rest below @anc
 *
 * Each new node inherits its parent's access list; an unprivileged creator
 * becomes the owner, as in Xen.  Return: the leaf, or NULL (nothing made).
 */
static struct xs_node *xs_create_chain(struct xs_op *op, struct xs_node *anc, const char *rest)
{
	struct xs_node *parent = anc, *first = NULL;
	char name[XENSTORE_ABS_PATH_MAX + 1];

	while (*rest) {
		size_t l = strcspn(rest, "/");
		struct xs_node *n;

		memcpy(name, rest, l);
		name[l] = '\0';
		n = xs_node_new(name, parent, parent->perms, parent->nperms);
		if (!n) {
			if (first)
				xs_node_unlink(first);
			xs_node_free(op->xs, first, !op->txn);
			return NULL;
		}
		if (op->domid)
			n->perms[0].id = op->domid;
		n->gen = ++op->xs->gen;
		if (op->txn)
			op->txn->created++;
		else
			xs_account(op->xs, n->perms[0].id, 1);
		first = first ? first : n;
		parent = n;
		rest += l + (rest[l] == '/');
	}
	anc->gen = ++op->xs->gen;
	return parent;
}

/**
 * xs_path_depth() - components in a relative rest of a path
 */
static unsigned int xs_path_depth(const char *rest)
{
	unsigned int d = *rest ? 1 : 0;

	for (; *rest; rest++)
		d += *rest == '/';
	return d;
}

/**
 * xs_create() - create @path (and missing parents) with a value
 * @mkdir:	for XS_MKDIR: an empty value, logged as mkdir
 */
static int xs_create(struct xs_op *op, const char *path, const void *val, size_t len, int mkdir)
{
	const char *rest;
	struct xs_node *anc = xs_node_walk(xs_op_root(op), path, &rest), *n;
	int err = 0;

	if (op->txn) {
		char *ap = strndup(path, rest - path > 1 ? (size_t)(rest - path - 1) : 1);

		err = ap ? xs_txn_record(op, ap, anc->tgen) : -ENOMEM;
		free(ap);
	}
	if (err)
		return err;
	if (!(xs_perm_for(anc, op->domid) & XS_PERM_WRITE))
		return -EACCES;
	if (!xs_nodes_quota_ok(op, xs_path_depth(rest)) ||
	    !xs_size_ok(op, len, anc->perms, anc->nperms))
		return XS_EQUOTA;
	if (!(n = xs_create_chain(op, anc, rest)))
		return -ENOMEM;
	if (len) {
		/* On failure the node stays, empty; the client hears ENOMEM. */
		if (!(n->val = malloc(len)))
			return -ENOMEM;
		memcpy(n->val, val, len);
		n->len = len;
	}
	return xs_op_done(op, mkdir ? XS_MKDIR : XS_WRITE, path, val, len, n);
}

/**
 * xs_op_write() - XS_WRITE: set @path to @len bytes at @val, creating it
 */
int xs_op_write(struct xs_op *op, const char *path, const void *val, size_t len)
{
	struct xs_node *n;
	int err;

	if (path[0] != '/')
		return -EINVAL;
	if ((err = xs_op_find(op, path, &n)))
		return err;
	return n ? xs_set_value(op, n, path, val, len) : xs_create(op, path, val, len, 0);
}

/**
 * xs_op_mkdir() - XS_MKDIR: create @path empty; fine if it exists and is writable
 */
int xs_op_mkdir(struct xs_op *op, const char *path)
{
	struct xs_node *n;
	int err;

	if (path[0] != '/')
		return -EINVAL;
	if ((err = xs_op_find(op, path, &n)))
		return err;
	if (n)
		return xs_perm_for(n, op->domid) & XS_PERM_WRITE ? 0 : -EACCES;
	return xs_create(op, path, NULL, 0, 1);
}

/**
 * xs_op_rm_missing() - XS_RM of a node that does not exist: fine if its
 * parent does (Xen), ENOENT or EACCES otherwise
 */
static int xs_op_rm_missing(struct xs_op *op, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *pp = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	struct xs_node *p;
	int err;

	if (!pp)
		return -ENOMEM;
	err = xs_op_get(op, pp, XS_PERM_READ, &p);
	free(pp);
	return err;
}

/**
 * xs_op_rm() - XS_RM: remove @path and everything below it
 */
int xs_op_rm(struct xs_op *op, const char *path)
{
	struct xs_node *n, *parent;
	int err;

	if (path[0] != '/' || !strcmp(path, "/"))
		return -EINVAL;
	if ((err = xs_op_find(op, path, &n)))
		return err;
	if (!n)
		return xs_op_rm_missing(op, path);
	if (!(xs_perm_for(n, op->domid) & XS_PERM_WRITE))
		return -EACCES;
	parent = n->parent;
	if (op->txn) {
		if ((err = xs_txn_record_tree(op, path, n)) ||
		    (err = xs_op_log(op, XS_RM, path, NULL, 0)))
			return err;
	} else {
		xs_watch_fire(op->xs, path, n, 1);
	}
	xs_node_unlink(n);
	parent->gen = ++op->xs->gen;
	xs_node_free(op->xs, n, !op->txn);
	return 0;
}

/**
 * xs_op_set_perms() - XS_SET_PERMS: replace the access list of @path
 * @data:	wire-form access list ("n1\0r2\0")
 * @len:	its bytes
 *
 * Only dom0 and the owner may; only dom0 may give a node away (Xen).
 */
int xs_op_set_perms(struct xs_op *op, const char *path, const char *data, size_t len)
{
	struct xs_perm *p;
	struct xs_node *n;
	unsigned int np;
	int err;

	if (path[0] != '/')
		return -EINVAL;
	if ((err = xs_perms_parse(data, len, &p, &np)))
		return err;
	if ((err = xs_op_get(op, path, XS_PERM_WRITE, &n)) ||
	    (err = !(xs_perm_for(n, op->domid) & XS_PERM_OWNER) ? -EACCES : 0) ||
	    (err = op->domid && p[0].id != n->perms[0].id ? -EPERM : 0) ||
	    (err = !xs_size_ok(op, n->len, p, np) ? XS_EQUOTA : 0) ||
	    (err = op->txn ? xs_op_log(op, XS_SET_PERMS, path, data, len) : 0)) {
		free(p);
		return err;
	}
	if (!op->txn && p[0].id != n->perms[0].id) {
		xs_account(op->xs, n->perms[0].id, -1);
		xs_account(op->xs, p[0].id, 1);
	}
	free(n->perms);
	n->perms = p;
	n->nperms = np;
	n->gen = ++op->xs->gen;
	if (!op->txn)
		xs_watch_fire(op->xs, path, n, 0);
	return 0;
}

/**
 * xs_node_clone() - deep copy of @src under @parent, for a transaction
 */
static struct xs_node *xs_node_clone(const struct xs_node *src, struct xs_node *parent)
{
	struct xs_node *n = xs_node_new(src->name, parent, src->perms, src->nperms);

	if (!n)
		return NULL;
	n->gen = n->tgen = src->gen;
	if (src->len && !(n->val = malloc(src->len)))
		goto fail;
	if (src->len)
		memcpy(n->val, src->val, src->len);
	n->len = src->len;
	for (unsigned int i = 0; i < src->nkids; i++)
		if (!xs_node_clone(src->kids[i], n))
			goto fail;
	return n;
fail:
	xs_node_unlink(n);
	xs_node_free(NULL, n, 0);
	return NULL;
}

/**
 * xs_txn_new() - start a transaction: a private copy of the main tree
 */
struct xs_txn *xs_txn_new(struct xs_server *xs, uint32_t id)
{
	struct xs_txn *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->id = id;
	if (!(t->root = xs_node_clone(xs->root, NULL))) {
		free(t);
		return NULL;
	}
	return t;
}

/**
 * xs_txn_free() - discard a transaction (abort, or after commit)
 */
void xs_txn_free(struct xs_txn *t)
{
	if (!t)
		return;
	xs_node_free(NULL, t->root, 0);
	for (unsigned int i = 0; i < t->nrecs; i++)
		free(t->recs[i].path);
	for (unsigned int i = 0; i < t->nops; i++) {
		free(t->ops[i].path);
		free(t->ops[i].data);
	}
	free(t->recs);
	free(t->ops);
	free(t);
}

/**
 * xs_txn_replay() - apply one logged modification to the main tree
 */
static int xs_txn_replay(struct xs_op *op, const struct xs_logop *o)
{
	switch (o->type) {
	case XS_WRITE:
		return xs_op_write(op, o->path, o->data, o->len);
	case XS_MKDIR:
		return xs_op_mkdir(op, o->path);
	case XS_RM:
		return xs_op_rm(op, o->path);
	case XS_SET_PERMS:
		return xs_op_set_perms(op, o->path, o->data, o->len);
	}
	return -EINVAL;
}

/**
 * xs_txn_commit() - commit @t for @domid unless anything it saw has changed
 *
 * Return: 0, or -EAGAIN on a conflict (nothing applied).  @t is not freed.
 */
int xs_txn_commit(struct xs_server *xs, struct xs_txn *t, unsigned int domid)
{
	struct xs_op op = { .xs = xs, .domid = domid, .replay = 1 };

	for (unsigned int i = 0; i < t->nrecs; i++) {
		const struct xs_node *m = xs_node_find(xs->root, t->recs[i].path);

		if ((m ? m->gen : 0) != t->recs[i].gen)
			return -EAGAIN;
	}
	for (unsigned int i = 0; i < t->nops; i++) {
		int err = xs_txn_replay(&op, &t->ops[i]);

		/* Cannot happen for unchanged nodes, short of memory. */
		if (err)
			pv_log_rl(&xs->rl, PV_LOG_WARN,
				  "xs: dom%u transaction %u: replay of %s failed (%d)",
				  domid, t->id, t->ops[i].path, err);
	}
	return 0;
}

/**
 * xs_watch_add() - register a watch
 * @xs:		server
 * @c:		socket client, or NULL for an in-process watch
 * @path:	canonical absolute path or special name
 * @token:	client's token
 * @strip:	bytes cut from event paths (relative watches)
 * @cb:		in-process callback
 * @arg:	its argument
 *
 * A guest's watches count against its domain, whatever connection set
 * them, as in Xen.  Return: 0, -EEXIST (same path and token), -ENOMEM,
 * XS_EQUOTA_WATCH.
 */
int xs_watch_add(struct xs_server *xs, struct xs_conn *c, const char *path,
		 const char *token, size_t strip, xs_watch_cb cb, void *arg)
{
	struct xs_dom *d = c ? xs_dom_get(xs, c->domid, 1) : NULL;
	struct xs_watch *w;

	for (w = xs->watches; w; w = w->next)
		if (w->conn == c && !strcmp(w->path, path) && !strcmp(w->token, token))
			return -EEXIST;
	if (c && !d)
		return -ENOMEM;
	if (c && c->domid && d->watches >= xs->q.max_watches)
		return XS_EQUOTA_WATCH;
	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	w->path = strdup(path);
	w->token = strdup(token);
	if (!w->path || !w->token) {
		free(w->path);
		free(w->token);
		free(w);
		return -ENOMEM;
	}
	w->conn = c;
	w->strip = strip;
	w->cb = cb;
	w->arg = arg;
	w->next = xs->watches;
	xs->watches = w;
	if (c) {
		c->nwatches++;
		d->watches++;
	}
	return 0;
}

/**
 * xs_watch_unlink() - remove and free the watch at *@pp
 */
static void xs_watch_unlink(struct xs_server *xs, struct xs_watch **pp)
{
	struct xs_watch *w = *pp;

	*pp = w->next;
	if (w->conn) {
		struct xs_dom *d = xs_dom_get(xs, w->conn->domid, 0);

		w->conn->nwatches--;
		if (d && d->watches)
			d->watches--;
	}
	xs->sink.gone(xs, w);
	free(w->path);
	free(w->token);
	free(w);
}

/**
 * xs_watch_del() - XS_UNWATCH: remove @c's watch of @path with @token
 */
int xs_watch_del(struct xs_server *xs, struct xs_conn *c, const char *path, const char *token)
{
	for (struct xs_watch **pp = &xs->watches; *pp; pp = &(*pp)->next) {
		struct xs_watch *w = *pp;

		if (w->conn == c && !strcmp(w->path, path) && !strcmp(w->token, token)) {
			xs_watch_unlink(xs, pp);
			return 0;
		}
	}
	return -ENOENT;
}

/**
 * xs_watch_del_conn() - remove every watch of @c (XS_RESET_WATCHES, close)
 */
void xs_watch_del_conn(struct xs_server *xs, struct xs_conn *c)
{
	struct xs_watch **pp = &xs->watches;

	while (*pp) {
		if ((*pp)->conn == c)
			xs_watch_unlink(xs, pp);
		else
			pp = &(*pp)->next;
	}
}

/**
 * xs_watch_event() - deliver one event for @path to the watch @w
 */
void xs_watch_event(struct xs_server *xs, struct xs_watch *w, const char *path)
{
	const char *p = strlen(path) > w->strip ? path + w->strip : path;

	xs->st.watch_events++;
	xs->sink.event(xs, w, p);
}

/**
 * xs_watch_fire() - fire the watches concerned by a change of @path
 * @xs:		server
 * @path:	absolute path changed
 * @n:		the node (for a removal: before it goes), whose perms decide
 *		which guests may see the event
 * @recurse:	removal: watches below @path fire too, with their own path
 */
void xs_watch_fire(struct xs_server *xs, const char *path, const struct xs_node *n, int recurse)
{
	for (struct xs_watch *w = xs->watches; w; w = w->next) {
		const char *ev;

		if (w->path[0] == '@' || (w->conn && w->conn->doomed))
			continue;
		if (xs_path_is_child(path, w->path))
			ev = path;
		else if (recurse && xs_path_is_child(w->path, path))
			ev = w->path;
		else
			continue;
		if (w->conn && !(xs_perm_for(n, w->conn->domid) & XS_PERM_READ))
			continue;
		xs_watch_event(xs, w, ev);
	}
}

/**
 * xs_watch_fire_special() - fire "@introduceDomain" or "@releaseDomain"
 *
 * Only privileged watchers see them: the special nodes belong to dom0
 * with no access for others, as in Xen 4.17 by default.
 */
void xs_watch_fire_special(struct xs_server *xs, const char *name)
{
	for (struct xs_watch *w = xs->watches; w; w = w->next) {
		if (strcmp(w->path, name) || (w->conn && (w->conn->domid || w->conn->doomed)))
			continue;
		xs_watch_event(xs, w, name);
	}
}
