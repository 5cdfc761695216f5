/* SPDX-License-Identifier: MIT */
/*
 * accel_front.c - netfront's accelerator host: the frontend plugin
 * registry, attaching and detaching a plugin as the backend's
 * "accel-frontend" says, and the hooks on netfront's data path.
 *
 * Theory of Operation
 * ===================
 *
 * Registry.  A small table of (name, ops, arg), filled by
 * pv_accel_front_register() (built-in plugins and shared objects alike).
 * An entry in use by a netfront cannot be unregistered.
 *
 * Attach / detach (nf_accel_sync), level-triggered like the rest of
 * netfront's xenbus code: after every xenstore event it computes what
 * should be attached and makes it so:
 *
 *   wanted = the value of <backend>/accel-frontend, if the vif is
 *            connected (carrier up) and not shutting down; else nothing
 *   attached != wanted        -> final get_stats, remove(), accelstate Closed
 *   nothing attached, wanted  -> accelstate Initialising, new_device();
 *                                0: hooks installed, accelstate Connected
 *                                (unless the plugin set one itself);
 *                                else accelstate Closed and that name is
 *                                not tried again until the key changes
 *
 * Sync runs from netfront's xenstore callback, so hooks change only
 * between transmit and poll calls, never in the middle of one (the loop is
 * single-threaded; a hook that somehow triggered a detach is caught by
 * @in_hook and the detach deferred to the next kick).
 *
 * TX.  netfront offers each frame first (nf_accel_xmit): SENT is done;
 * NOT_SENT goes to the slow path; BUSY means the plugin copied and holds
 * the frame, and TX stops (@stopped): netfront refuses further frames with
 * -EBUSY (nothing taken, the upper edge is owed tx_ready) until poll finds
 * check_ready() true and the slow path has room.
 *
 * A held frame handed back (pv_accel_front_return, typically from
 * remove()) goes on the slow path at once; if the rings have no room or
 * are down, it waits in a private one-frame buffer and TX stays stopped,
 * so it still goes out before any later frame.  A second frame returned
 * while one waits, or one left when netfront is freed, is counted in
 * tx_dropped and accel_tx_return_dropped: never lost silently, never sent
 * twice.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front/netfront_priv.h"
#include "front/accel_front.h"
#include "pvnet/accel.h"

#define NFA_MAX_PLUGINS 16
#define NFA_KEY_MAX     256

struct nfa_plugin {
	char name[PV_ACCEL_NAME_MAX];
	const struct pv_accel_front_ops *ops;
	void *arg;
	unsigned int users;
};

/* The frontend registry: the netfronts' loop thread only (accel.h). */
static struct nfa_plugin nfa_plugins[NFA_MAX_PLUGINS];

struct pv_accel_front_dev {
	struct pv_netfront *nf;
	struct nfa_plugin *pl;		/* NULL: nothing attached */
	void *priv;
	int state_set;			/* the plugin published an accelstate itself */
};

struct nf_accel {
	struct pv_accel_front_dev dev;
	int watched;
	int in_hook;			/* a hook is running: no detach now */
	int detach_deferred;
	char failed[PV_ACCEL_NAME_MAX];	/* refused or unknown: not retried until the key changes */
	int stopped;			/* BUSY: TX waits for check_ready */
	/* A held frame handed back, waiting for the slow path. */
	uint8_t *ret_buf;
	uint32_t ret_len;
	struct virtio_net_hdr ret_vh;
	int ret_has_vh, ret_pending;
	int dying;			/* netfront going away: returns are dropped */
	/* A loan of the plugin's TX buffers (1.3 tx_lend), within one upper-edge read. */
	int lent;			/* iovecs lent; 0: no loan out */
	struct iovec lent_iov[PV_ACCEL_LEND_IOV];
};

static void nfa_unlend(struct nf_accel *a);

/* ---- registry ---- */

static struct nfa_plugin *nfa_find(const char *name)
{
	for (int i = 0; i < NFA_MAX_PLUGINS; i++)
		if (nfa_plugins[i].ops && !strcmp(nfa_plugins[i].name, name))
			return &nfa_plugins[i];
	return NULL;
}

/**
 * pv_accel_front_register() - see accel.h
 */
int pv_accel_front_register(const struct pv_accel_front_ops *ops, void *arg)
{
	struct nfa_plugin *free_slot = NULL;

	/* A table from another major version would be called with the wrong layout. */
	if (!ops || !ops->name || !pv_accel_name_ok(ops->name) ||
	    PV_ACCEL_VERSION_MAJOR(ops->version) != PV_ACCEL_VERSION_MAJOR(PV_ACCEL_FRONT_VERSION) ||
	    ops->size < PV_ACCEL_FRONT_OPS_SIZE_1_0 || !ops->new_device || !ops->remove ||
	    !ops->start_xmit)
		return -EINVAL;
	/* 1.3's loan: all three ops or none. */
	if (!PV_ACCEL_OP(ops, struct pv_accel_front_ops, tx_lend) !=
	    !PV_ACCEL_OP(ops, struct pv_accel_front_ops, tx_lent) ||
	    !PV_ACCEL_OP(ops, struct pv_accel_front_ops, tx_lend) !=
	    !PV_ACCEL_OP(ops, struct pv_accel_front_ops, tx_unlend))
		return -EINVAL;
	if (nfa_find(ops->name))
		return -EEXIST;
	for (int i = 0; i < NFA_MAX_PLUGINS && !free_slot; i++)
		if (!nfa_plugins[i].ops)
			free_slot = &nfa_plugins[i];
	if (!free_slot)
		return -ENOSPC;
	snprintf(free_slot->name, sizeof(free_slot->name), "%s", ops->name);
	free_slot->ops = ops;
	free_slot->arg = arg;
	free_slot->users = 0;
	pv_info("accel: frontend plugin '%s' registered", ops->name);
	return 0;
}

int pv_accel_front_unregister(const char *name)
{
	struct nfa_plugin *p = nfa_find(name);

	if (!p)
		return -ENOENT;
	if (p->users)
		return -EBUSY;
	memset(p, 0, sizeof(*p));
	return 0;
}

/**
 * pv_accel_load() - dlopen "<dir>/pvnet-accel-<name>.so"; its constructor registers
 *
 * The object resolves pv_accel_*_register() against the program, which
 * must export its symbols (link with -rdynamic).
 */
int pv_accel_load(const char *dir, const char *name)
{
	char path[512];

	if (!pv_accel_name_ok(name))
		return -EINVAL;
	if (!dir)
		dir = getenv(PV_ACCEL_DIR_ENV);
	if (!dir)
		dir = PV_ACCEL_DIR_DEFAULT;
	if ((size_t)snprintf(path, sizeof(path), "%s/pvnet-accel-%s.so", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	if (!dlopen(path, RTLD_NOW | RTLD_LOCAL)) {
		pv_warn("accel: cannot load %s: %s", path, dlerror());
		return -ENOENT;
	}
	pv_info("accel: loaded %s", path);
	return 0;
}

/* ---- the plugin's view of its device ---- */

void *pv_accel_front_priv(const struct pv_accel_front_dev *dev) { return dev->priv; }
void pv_accel_front_set_priv(struct pv_accel_front_dev *dev, void *priv) { dev->priv = priv; }
struct pv_loop *pv_accel_front_loop(const struct pv_accel_front_dev *dev) { return dev->nf->loop; }
struct pv_guest *pv_accel_front_guest(const struct pv_accel_front_dev *dev) { return dev->nf->g; }
struct xsc *pv_accel_front_xs(const struct pv_accel_front_dev *dev) { return dev->nf->xs; }
const char *pv_accel_front_path(const struct pv_accel_front_dev *dev) { return dev->nf->fe_path; }
const char *pv_accel_front_backend(const struct pv_accel_front_dev *dev) { return dev->nf->be_path; }
const uint8_t *pv_accel_front_mac(const struct pv_accel_front_dev *dev) { return dev->nf->mac; }
unsigned int pv_accel_front_mtu(const struct pv_accel_front_dev *dev) { return dev->nf->mtu; }
unsigned int pv_accel_front_domid(const struct pv_accel_front_dev *dev)
{
	return pv_netfront_domid(dev->nf);
}
unsigned int pv_accel_front_devid(const struct pv_accel_front_dev *dev) { return dev->nf->devid; }

_Static_assert(PV_NF_NR_ACCEL == PV_ACCEL_FRONT_RESERVE && PV_NF_NR_GRANTS <= PV_ACCEL_FRONT_GRANT_MAX &&
	       PV_PAGE_SIZE == PV_ACCEL_PAGE_SIZE, "accel.h's frame reserve is netfront's");

/* ---- the frame reserve (accel.h 1.2) ---- */

void *pv_accel_front_page(const struct pv_accel_front_dev *dev, unsigned int i)
{
	struct pv_guest *g = dev->nf->g;

	if (!g || i >= PV_ACCEL_FRONT_RESERVE || pv_guest_nr_pages(g) < PV_NF_NR_DOM_PAGES)
		return NULL;
	return pv_guest_frame(g, PV_NF_ACCEL_FRAME(i));
}

int pv_accel_front_grant(struct pv_accel_front_dev *dev, unsigned int i, unsigned int domid,
			 int readonly)
{
	if (!pv_accel_front_page(dev, i))
		return -EINVAL;
	return pv_guest_grant(dev->nf->g, domid, PV_NF_ACCEL_FRAME(i), readonly);
}

int pv_accel_front_end_grant(struct pv_accel_front_dev *dev, uint32_t ref)
{
	struct pv_guest *g = dev->nf->g;
	const grant_entry_v1_t *e;

	/* Only a grant of the reserve: never one of netfront's own. */
	if (!g || ref >= pv_guest_nr_grants(g))
		return -EINVAL;
	e = pv_guest_gnttab(g) + ref;
	if (e->frame < PV_NF_ACCEL_FRAME(0) || e->frame >= PV_NF_ACCEL_FRAME(PV_NF_NR_ACCEL))
		return -EINVAL;
	return pv_guest_end_grant(g, (grant_ref_t)ref);
}

int pv_accel_front_xs_connect(struct pv_accel_front_dev *dev)
{
	return dev->nf->g ? pv_guest_xs_connect(dev->nf->g) : -ENOTCONN;
}

int pv_accel_front_get_fds(struct pv_accel_front_dev *dev, int *fds, unsigned int max)
{
	if (!dev->pl || !dev->nf->g)
		return -ENOTCONN;
	return pv_guest_accel_fds(dev->nf->g, dev->pl->name, dev->nf->devid, fds, max);
}

int pv_accel_front_deliver(struct pv_accel_front_dev *dev, const struct virtio_net_hdr *vh,
			   const struct iovec *iov, int iovcnt, uint32_t len)
{
	struct pv_netfront *nf = dev->nf;

	if (!dev->pl || !nf->carrier)
		return -ENOTCONN;
	if (iovcnt < 1 || iovcnt > PV_ACCEL_DELIVER_IOV)
		return -EINVAL;
	return nf->ops.deliver(nf->arg, vh, iov, iovcnt, len);
}

void pv_accel_front_kick(struct pv_accel_front_dev *dev)
{
	nf_kick_soon(dev->nf);
}

int pv_accel_front_slow_room(struct pv_accel_front_dev *dev, uint32_t len)
{
	struct pv_netfront *nf = dev->nf;
	int blocked = nf->tx_blocked, room;

	/* A question, not a refusal: do not leave the upper edge owed a tx_ready. */
	if (!nf->rings_up || nf->accel->ret_pending)
		return 0;
	room = nf_tx_room_slow(nf, len);
	nf->tx_blocked = blocked;
	return room;
}

static int nfa_write_state(struct pv_netfront *nf, int state)
{
	char path[NFA_KEY_MAX];
	int e;

	if (!nf->xs || !nf->fe_path[0])
		return -ENOTCONN;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", nf->fe_path, PV_ACCEL_KEY_STATE) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	e = xsc_printf(nf->xs, 0, path, "%d", state);
	nf_xs_check(nf);	/* events met on the way to the reply */
	return e;
}

int pv_accel_front_set_state(struct pv_accel_front_dev *dev, int state)
{
	dev->state_set = 1;
	return nfa_write_state(dev->nf, state);
}

/**
 * pv_accel_front_return() - a held frame comes back: slow path now, or soon
 */
int pv_accel_front_return(struct pv_accel_front_dev *dev, const struct virtio_net_hdr *vh,
			  const void *frame, uint32_t len)
{
	struct pv_netfront *nf = dev->nf;
	struct nf_accel *a = nf->accel;
	int r;

	if (a->ret_pending || a->dying || len > PV_NF_MAX_FRAME ||
	    (!a->ret_buf && !(a->ret_buf = malloc(PV_NF_MAX_FRAME)))) {
		nf->st.tx_dropped++;
		nf->st.accel_tx_return_dropped++;
		return -ENOBUFS;
	}
	if (nf->rings_up && nf->carrier) {
		r = nf_xmit(nf, vh, frame, len);
		if (r != -EBUSY) {
			if (r == 0)
				nf->st.accel_tx_returned++;
			return r;	/* sent, or refused as malformed (counted by nf_xmit) */
		}
	}
	memcpy(a->ret_buf, frame, len);
	a->ret_len = len;
	a->ret_has_vh = vh != NULL;
	if (vh)
		a->ret_vh = *vh;
	a->ret_pending = 1;
	nf->tx_blocked = 1;	/* the upper edge waits for it */
	return 0;
}

/* ---- attach / detach ---- */

int nf_accel_new(struct pv_netfront *nf)
{
	nf->accel = calloc(1, sizeof(*nf->accel));
	if (!nf->accel)
		return -ENOMEM;
	nf->accel->dev.nf = nf;
	return 0;
}

void nf_accel_free(struct pv_netfront *nf)
{
	struct nf_accel *a = nf->accel;

	if (!a)
		return;
	a->dying = 1;
	nf_accel_detach(nf, "netfront freed");
	if (a->ret_pending) {
		nf->st.tx_dropped++;
		nf->st.accel_tx_return_dropped++;
	}
	free(a->ret_buf);
	free(a);
	nf->accel = NULL;
}

static int nfa_key(struct pv_netfront *nf, char *path)
{
	size_t n = (size_t)snprintf(path, NFA_KEY_MAX, "%s/%s", nf->be_path, PV_ACCEL_KEY_FRONTEND);

	return n >= NFA_KEY_MAX ? -ENAMETOOLONG : 0;
}

int nf_accel_watch(struct pv_netfront *nf, int on)
{
	char path[NFA_KEY_MAX];
	int e;

	if (!nf->accel || nf->accel->watched == on)
		return 0;
	if (!nf->xs || !nf->be_path[0]) {
		nf->accel->watched = 0;
		return on ? -ENOTCONN : 0;
	}
	e = nfa_key(nf, path);
	if (!e)
		e = on ? xsc_watch(nf->xs, path, "accel") : xsc_unwatch(nf->xs, path, "accel");
	nf->accel->watched = on && !e;
	return on ? e : 0;
}

void nf_accel_stats(struct pv_netfront *nf)
{
	struct pv_accel_front_dev *dev = nf->accel ? &nf->accel->dev : NULL;
	struct pv_accel_stats d;

	if (!dev || !dev->pl || !dev->pl->ops->get_stats)
		return;
	memset(&d, 0, sizeof(d));
	dev->pl->ops->get_stats(dev, &d);
	nf->st.tx_packets += d.tx_packets;
	nf->st.tx_bytes += d.tx_bytes;
	nf->st.tx_dropped += d.tx_dropped;
	nf->st.tx_errors += d.tx_errors;
	nf->st.rx_packets += d.rx_packets;
	nf->st.rx_bytes += d.rx_bytes;
	nf->st.rx_dropped += d.rx_dropped;
	nf->st.rx_errors += d.rx_errors;
	nf->st.accel_fast_tx_packets += d.tx_packets;
	nf->st.accel_fast_rx_packets += d.rx_packets;
}

/**
 * nf_accel_detach() - final stats, remove(), accelstate Closed
 *
 * A frame the plugin still held comes back through pv_accel_front_return()
 * during remove(); TX then resumes from netfront's next poll.
 */
void nf_accel_detach(struct pv_netfront *nf, const char *why)
{
	struct nf_accel *a = nf->accel;
	struct pv_accel_front_dev *dev;
	struct nfa_plugin *pl;

	if (!a || !a->dev.pl)
		return;
	if (a->in_hook) {		/* never in the middle of a hook */
		a->detach_deferred = 1;
		nf_kick_soon(nf);
		return;
	}
	dev = &a->dev;
	pl = dev->pl;
	nf_accel_stats(nf);		/* the last deltas, before removal */
	if (a->lent)			/* never: a loan lasts one upper-edge read */
		nfa_unlend(a);
	a->in_hook = 1;
	pl->ops->remove(dev);
	a->in_hook = 0;
	dev->pl = NULL;
	dev->priv = NULL;
	pl->users--;
	a->stopped = 0;
	a->detach_deferred = 0;
	nf->st.accel_detaches++;
	if (!a->dying)
		nfa_write_state(nf, XenbusStateClosed);
	pv_info("vif%u.%u: accelerator '%s' detached (%s)", pv_netfront_domid(nf), nf->devid,
		pl->name, why);
	nf_kick_soon(nf);		/* a returned frame, a stopped queue: see to them */
}

static void nfa_attach(struct pv_netfront *nf, const char *name)
{
	struct nf_accel *a = nf->accel;
	struct nfa_plugin *pl = nfa_find(name);
	int e;

	if (!pl && getenv(PV_ACCEL_DIR_ENV) && pv_accel_load(NULL, name) == 0)
		pl = nfa_find(name);
	if (!pl) {
		pv_warn("vif%u.%u: backend offers accelerator '%s': no such frontend plugin; "
			"staying on the slow path", pv_netfront_domid(nf), nf->devid, name);
		snprintf(a->failed, sizeof(a->failed), "%s", name);
		nfa_write_state(nf, XenbusStateClosed);
		return;
	}
	nfa_write_state(nf, XenbusStateInitialising);
	a->dev.state_set = 0;
	a->dev.priv = NULL;
	a->dev.pl = pl;		/* host calls from new_device see their device */
	a->in_hook = 1;
	e = pl->ops->new_device(&a->dev, pl->arg);
	a->in_hook = 0;
	if (e) {
		a->dev.pl = NULL;
		pv_warn("vif%u.%u: accelerator '%s' refused the vif: %s", pv_netfront_domid(nf),
			nf->devid, name, strerror(e < 0 ? -e : e));
		snprintf(a->failed, sizeof(a->failed), "%s", name);
		nfa_write_state(nf, XenbusStateClosed);
		return;
	}
	pl->users++;
	a->stopped = 0;
	nf->st.accel_attaches++;
	if (!a->dev.state_set)
		nfa_write_state(nf, XenbusStateConnected);
	pv_info("vif%u.%u: accelerator '%s' attached", pv_netfront_domid(nf), nf->devid, name);
}

/**
 * nf_accel_sync() - make the attached plugin what the store says
 */
void nf_accel_sync(struct pv_netfront *nf)
{
	struct nf_accel *a = nf->accel;
	char path[NFA_KEY_MAX], want[PV_ACCEL_NAME_MAX] = "";
	int e, renewed = nf->accel_event;
	uint64_t seen = 0;

	nf->accel_event = 0;
	if (!a || !nf->xs)
		return;
	if (nf->be_path[0] && nf->carrier && !nf->shutting_down && !nfa_key(nf, path)) {
		e = xsc_read(nf->xs, 0, path, want, sizeof(want));
		seen = xsc_watch_arrived(nf->xs);	/* events before: writes this read saw */
		if (e < 0)
			want[0] = '\0';
		else if (!pv_accel_name_ok(want)) {
			pv_warn("vif%u.%u: ignoring malformed accel-frontend", pv_netfront_domid(nf),
				nf->devid);
			want[0] = '\0';
		}
	}
	if (strcmp(a->failed, want))
		a->failed[0] = '\0';	/* the key changed: a new chance */
	/*
	 * The key was written again with the same name: a new backend
	 * half (its old one went and came back while we did not look, as
	 * when a migration is aborted under a stopped guest); the attached
	 * half talks to the old one.  Attach afresh, as netfront's watch does.
	 * Only an event for a write after the read the attach was made on
	 * counts (nf_xs_drain, accel_seen): the event of the very write that
	 * attach saw often arrives during that read or just before it.
	 */
	renewed = renewed && a->dev.pl && want[0] && !strcmp(a->dev.pl->name, want);
	if (a->dev.pl && (strcmp(a->dev.pl->name, want) || renewed))
		nf_accel_detach(nf, renewed ? "accel-frontend written again" :
			       want[0] ? "accel-frontend changed" : "accel-frontend gone");
	if (!a->dev.pl && want[0] && strcmp(a->failed, want)) {
		nf->accel_seen = seen;
		nfa_attach(nf, want);
	}
}

/* ---- the data path ---- */

int nf_accel_tx_stopped(const struct pv_netfront *nf)
{
	return nf->accel && (nf->accel->stopped || nf->accel->ret_pending);
}

int nf_accel_xmit(struct pv_netfront *nf, const struct virtio_net_hdr *vh,
		  const struct iovec *iov, int iovcnt, uint32_t len, int may_refuse)
{
	struct nf_accel *a = nf->accel;
	enum pv_accel_xmit r;

	if (!a)
		return 0;
	if (nf_accel_tx_stopped(nf)) {
		/* The held or returned frame goes first; keep this one in the upper edge. */
		if (!may_refuse)
			return 0;	/* cannot give it back: slow path (borrow refuses first) */
		nf->tx_blocked = 1;
		nf->st.tx_busy++;
		return -EBUSY;
	}
	if (!a->dev.pl || !nf->rings_up || !nf->carrier)
		return 0;
	a->in_hook = 1;
	r = a->dev.pl->ops->start_xmit(&a->dev, vh, iov, iovcnt, len);
	a->in_hook = 0;
	switch (r) {
	case PV_ACCEL_SENT:
		nf->st.accel_tx_sent++;
		return 1;
	case PV_ACCEL_BUSY:
		nf->st.accel_tx_busy++;
		a->stopped = 1;
		nf->tx_blocked = 1;
		return 1;
	default:
		return 0;
	}
}

/* ---- the plugin's TX buffers lent for one upper-edge read (accel.h 1.3) ---- */

static void nfa_unlend(struct nf_accel *a)
{
	a->in_hook = 1;
	a->dev.pl->ops->tx_unlend(&a->dev);
	a->in_hook = 0;
	a->lent = 0;
}

/**
 * nf_accel_tx_lend() - borrow the plugin's TX buffers for the next frame
 * Return: iovecs filled (0: no loan; netfront lends its own pages).  A loan
 * smaller than a maximum frame is given back at once: readv would cut a
 * frame short.
 */
int nf_accel_tx_lend(struct pv_netfront *nf, struct iovec *iov, int max)
{
	struct nf_accel *a = nf->accel;
	int (*lend)(struct pv_accel_front_dev *, struct iovec *, int);
	size_t total = 0;
	int k;

	if (!a || !a->dev.pl || a->lent || !nf->rings_up || !nf->carrier ||
	    nf_accel_tx_stopped(nf) || nf_mig_busy(nf))
		return 0;
	lend = PV_ACCEL_OP(a->dev.pl->ops, struct pv_accel_front_ops, tx_lend);
	if (!lend)
		return 0;
	if (max > PV_ACCEL_LEND_IOV)
		max = PV_ACCEL_LEND_IOV;
	a->in_hook = 1;
	k = lend(&a->dev, iov, max);
	a->in_hook = 0;
	if (k <= 0)
		return 0;
	a->lent = k > max ? max : k;
	for (int i = 0; i < a->lent; i++)
		total += iov[i].iov_len;
	if (k > max || total < PV_NF_MAX_FRAME) {
		nf->st.accel_tx_lend_refused++;
		nfa_unlend(a);
		return 0;
	}
	memcpy(a->lent_iov, iov, (size_t)k * sizeof(*iov));
	nf->st.accel_tx_lends++;
	return k;
}

int nf_accel_tx_lending(const struct pv_netfront *nf)
{
	return nf->accel && nf->accel->lent;
}

void nf_accel_tx_unlend(struct pv_netfront *nf)
{
	if (nf_accel_tx_lending(nf))
		nfa_unlend(nf->accel);
}

/**
 * nf_accel_xmit_lent() - the frame read into the plugin's buffers: to it
 *
 * SENT or BUSY: the plugin has it.  NOT_SENT: copied out, the loan ends,
 * and the copy goes onto the slow path, or waits for room there as a
 * returned frame does (accel_tx_lend_waits); only a failed allocation of
 * that buffer drops it (tx_dropped and accel_tx_lend_dropped).
 * Return: as pv_netfront_xmit().
 */
int nf_accel_xmit_lent(struct pv_netfront *nf, const struct virtio_net_hdr *vh, uint32_t len)
{
	struct nf_accel *a = nf->accel;
	enum pv_accel_xmit x;
	uint32_t off = 0;
	int r;

	if (len > PV_NF_MAX_FRAME) {
		nfa_unlend(a);
		nf->st.tx_dropped++;
		return -EMSGSIZE;
	}
	a->in_hook = 1;
	x = a->dev.pl->ops->tx_lent(&a->dev, vh, len);
	a->in_hook = 0;
	if (x == PV_ACCEL_SENT || x == PV_ACCEL_BUSY) {
		a->lent = 0;
		if (x == PV_ACCEL_SENT) {
			nf->st.accel_tx_sent++;
		} else {
			nf->st.accel_tx_busy++;
			a->stopped = 1;
			nf->tx_blocked = 1;
		}
		return 0;
	}
	/*
	 * Not for the fast path: gathered into the returned-frame buffer (free:
	 * a loan is made only while no returned frame is pending), the loan
	 * given back, then onto the slow path; no room there -> kept as a
	 * returned frame is, the upper edge stopped until it went: the frame
	 * was read from the upper edge already and is never lost.
	 */
	if (!a->ret_buf && !(a->ret_buf = malloc(PV_NF_MAX_FRAME))) {
		nfa_unlend(a);
		nf->st.tx_dropped++;
		nf->st.accel_tx_lend_dropped++;
		return -ENOMEM;
	}
	for (int i = 0; i < a->lent && off < len; i++) {
		size_t c = a->lent_iov[i].iov_len < len - off ? a->lent_iov[i].iov_len : len - off;

		memcpy(a->ret_buf + off, a->lent_iov[i].iov_base, c);
		off += (uint32_t)c;
	}
	nfa_unlend(a);
	r = nf_xmit(nf, vh, a->ret_buf, off);
	if (r != -EBUSY)
		return r;	/* sent, or refused as malformed (counted by nf_xmit) */
	a->ret_len = off;
	a->ret_has_vh = vh != NULL;
	if (vh)
		a->ret_vh = *vh;
	a->ret_pending = 1;
	nf->st.accel_tx_lend_waits++;
	nf->tx_blocked = 1;	/* the upper edge waits for it */
	return 0;
}

void nf_accel_tx_resume(struct pv_netfront *nf)
{
	struct nf_accel *a = nf->accel;
	int r;

	if (!a)
		return;
	if (a->detach_deferred && !a->in_hook)
		nf_accel_detach(nf, "deferred");
	if (a->ret_pending && nf->rings_up && nf->carrier) {
		r = nf_xmit(nf, a->ret_has_vh ? &a->ret_vh : NULL, a->ret_buf, a->ret_len);
		if (r != -EBUSY) {
			a->ret_pending = 0;
			if (r == 0)
				nf->st.accel_tx_returned++;
		}
	}
	if (a->stopped && a->dev.pl && a->dev.pl->ops->check_ready) {
		a->in_hook = 1;
		if (a->dev.pl->ops->check_ready(&a->dev))
			a->stopped = 0;
		a->in_hook = 0;
	} else if (a->stopped && !a->dev.pl) {
		a->stopped = 0;
	}
}

int nf_accel_irq(struct pv_netfront *nf, int on)
{
	struct nf_accel *a = nf->accel;
	const struct pv_accel_front_ops *ops;
	int pending = 0;

	if (!a || !a->dev.pl)
		return 0;
	ops = a->dev.pl->ops;
	a->in_hook = 1;
	if (on && ops->start_irq)
		pending = ops->start_irq(&a->dev);
	else if (!on && ops->stop_irq)
		ops->stop_irq(&a->dev);
	a->in_hook = 0;
	return pending != 0;
}

/* The upper edge's batch ended: the plugin posts what it staged (accel.h 1.1 flush). */
void nf_accel_flush(struct pv_netfront *nf)
{
	struct nf_accel *a = nf->accel;
	void (*fn)(struct pv_accel_front_dev *dev);

	if (!a || !a->dev.pl || a->in_hook ||
	    !(fn = PV_ACCEL_OP(a->dev.pl->ops, struct pv_accel_front_ops, flush)))
		return;
	a->in_hook = 1;
	fn(&a->dev);
	a->in_hook = 0;
}

int nf_accel_poll(struct pv_netfront *nf, int budget)
{
	struct nf_accel *a = nf->accel;
	int n;

	if (!a || !a->dev.pl || !a->dev.pl->ops->poll || budget <= 0)
		return budget <= 0 && a && a->dev.pl;
	a->in_hook = 1;
	n = a->dev.pl->ops->poll(&a->dev, budget);
	a->in_hook = 0;
	return n >= budget;
}
