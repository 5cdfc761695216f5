/* SPDX-License-Identifier: MIT */
/*
 * accel_back.c - netback's accelerator host: the backend plugin registry
 * and probe/remove per vif, driven by the backend directory's "accel" key.
 *
 * Theory of Operation
 * ===================
 *
 * Registry.  Backend plugins register with the name of the NIC they
 * serve (as the original's netback_accel_hooks did with the physical
 * interface's name); one plugin per NIC name.
 *
 * Per vif (pv_accel_back_vif_new, called by netback when it makes a vif),
 * an in-process watch on <backend>/accel.  Every event, and every
 * registration, runs ab_sync(), level-triggered:
 *
 *   wanted = the registered plugin whose NIC is the value of "accel"
 *   attached != wanted          -> remove(), "accel-frontend" deleted,
 *                                  accelstate Closed
 *   nothing attached, wanted    -> accelstate Initialising, probe();
 *                                  0: attached, accelstate Connected (unless
 *                                  the plugin set one itself); the plugin
 *                                  publishes "accel-frontend"
 *                                  else: accelstate Closed, not retried
 *                                  until the key changes or a plugin
 *                                  registers for that NIC again
 *
 * Optional ops (accel.h 1.1) are looked up through ab_op(), which takes an
 * op beyond the table's @size as absent.  frame(): netback tests
 * *cfg.frames_on (kept by ab_attach/ab_detach) and calls
 * pv_accel_back_frame(); one load per frame when no plugin wants frames.
 * vifs_changed(): every vif coming or going calls it for the other
 * served vifs (the set of local MACs changed).
 *
 * netfront sees "accel-frontend" come and go and attaches or detaches its
 * half.  Nothing is written into a backend directory that is being
 * removed (a write would re-create it): ab_alive() checks the toolstack's
 * "frontend" key before each write.
 *
 * Everything runs on pvnetd's loop thread; the registry and the list of
 * vifs are process-wide (a plugin registering late must find the vifs of
 * every netback in the process).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel_back.h"
#include "ctl.h"
#include "hv/hv.h"
#include "hv/xs.h"
#include "lib/log.h"
#include "lib/out.h"
#include "pvnet/accel.h"
#include "pvnet/xen.h"

#define AB_MAX_PLUGINS 16
#define AB_PATH_MAX    192

struct ab_plugin {
	char nic[PV_ACCEL_NAME_MAX];
	const struct pv_accel_back_ops *ops;
	void *arg;
};

struct pv_accel_back_vif {
	struct pv_accel_back_vif *next;
	struct pv_accel_back_vif_config cfg;
	char be_path[AB_PATH_MAX];
	char fe_path[AB_PATH_MAX];
	char token[48];
	int watched;
	struct ab_plugin *pl;		/* attached plugin, or NULL */
	char failed[PV_ACCEL_NAME_MAX];	/* NIC whose probe failed: not retried as is */
	void *priv;
	int state_set;			/* the plugin published its own accelstate */
	int in_hook;
	int dying;			/* the vif is going: no writes */
	char fe_name[PV_ACCEL_NAME_MAX];	/* the accel-frontend the plugin published */
};

_Static_assert(PV_ACCEL_NAME_MAX == PV_HV_ACCEL_NAME_MAX, "hv.sock carries accelerator names");
_Static_assert(sizeof(struct pv_gnt_map) <= sizeof(((struct pv_accel_gnt *)0)->host),
	       "a grant mapping fits accel.h's struct pv_accel_gnt");

static struct ab_plugin ab_plugins[AB_MAX_PLUGINS];
static struct pv_accel_back_vif *ab_vifs;

/* An optional op of @ops, or NULL when the table is too short to have it. */
#define ab_op(ops, op)	PV_ACCEL_OP(ops, struct pv_accel_back_ops, op)

struct pv_accel_kv {
	struct pv_kv *kv;
};

/* ---- store helpers ---- */

static int ab_path(const struct pv_accel_back_vif *v, const char *key, char *out)
{
	return (size_t)snprintf(out, AB_PATH_MAX, "%s/%s", v->be_path, key) >= AB_PATH_MAX ?
	       -ENAMETOOLONG : 0;
}

/* The backend directory still exists (the toolstack's "frontend" key is there). */
static int ab_alive(const struct pv_accel_back_vif *v)
{
	char path[AB_PATH_MAX], buf[8];

	return !v->dying && !ab_path(v, "frontend", path) &&
	       xs_server_read(v->cfg.xs, path, buf, sizeof(buf)) >= 0;
}

static int ab_write(struct pv_accel_back_vif *v, const char *key, const char *val)
{
	char path[AB_PATH_MAX];
	int e = ab_path(v, key, path);

	if (e)
		return e;
	if (!ab_alive(v))
		return -ENOENT;
	return xs_server_write(v->cfg.xs, path, val, strlen(val));
}

static void ab_rm(struct pv_accel_back_vif *v, const char *key)
{
	char path[AB_PATH_MAX];

	if (!ab_path(v, key, path) && ab_alive(v))
		xs_server_rm(v->cfg.xs, path);
}

static void ab_state(struct pv_accel_back_vif *v, int state)
{
	char val[4];

	snprintf(val, sizeof(val), "%d", state);
	ab_write(v, PV_ACCEL_KEY_STATE, val);
	pv_ctl_event("accel-state", (int)v->cfg.domid, (int)v->cfg.devid, "state",
		     pv_ctl_xb_state(state), PV_EV_END);
}

/* ---- attach / detach ---- */

static struct ab_plugin *ab_find(const char *nic)
{
	for (int i = 0; i < AB_MAX_PLUGINS; i++)
		if (ab_plugins[i].ops && !strcmp(ab_plugins[i].nic, nic))
			return &ab_plugins[i];
	return NULL;
}

static void ab_detach(struct pv_accel_back_vif *v, const char *why)
{
	struct ab_plugin *pl = v->pl;

	if (!pl)
		return;
	if (v->cfg.frames_on)
		*v->cfg.frames_on = 0;
	v->in_hook = 1;
	pl->ops->remove(v);
	v->in_hook = 0;
	v->pl = NULL;
	v->priv = NULL;
	v->fe_name[0] = '\0';
	ab_rm(v, PV_ACCEL_KEY_FRONTEND);	/* netfront detaches its half */
	ab_state(v, XenbusStateClosed);
	pv_info("vif%u.%u: backend accelerator '%s' (NIC %s) removed: %s", v->cfg.domid,
		v->cfg.devid, pl->ops->name, pl->nic, why);
	pv_ctl_event("accel-detached", (int)v->cfg.domid, (int)v->cfg.devid, "nic", pl->nic,
		     "why", why, PV_EV_END);
}

static void ab_attach(struct pv_accel_back_vif *v, struct ab_plugin *pl)
{
	int e;

	ab_state(v, XenbusStateInitialising);
	v->state_set = 0;
	v->priv = NULL;
	v->pl = pl;			/* host calls from probe see their plugin */
	v->in_hook = 1;
	e = pl->ops->probe(v, pl->arg);
	v->in_hook = 0;
	if (e) {
		v->pl = NULL;
		v->fe_name[0] = '\0';
		snprintf(v->failed, sizeof(v->failed), "%s", pl->nic);
		ab_rm(v, PV_ACCEL_KEY_FRONTEND);
		ab_state(v, XenbusStateClosed);
		pv_warn("vif%u.%u: backend accelerator '%s' (NIC %s) refused the vif: %s",
			v->cfg.domid, v->cfg.devid, pl->ops->name, pl->nic,
			strerror(e < 0 ? -e : e));
		pv_ctl_event("accel-refused", (int)v->cfg.domid, (int)v->cfg.devid, "nic", pl->nic,
			     "error", strerror(e < 0 ? -e : e), PV_EV_END);
		return;
	}
	if (!v->state_set)
		ab_state(v, XenbusStateConnected);
	if (v->cfg.frames_on)
		*v->cfg.frames_on = ab_op(pl->ops, frame) != NULL;
	pv_info("vif%u.%u: backend accelerator '%s' (NIC %s) attached", v->cfg.domid,
		v->cfg.devid, pl->ops->name, pl->nic);
	pv_ctl_event("accel-attached", (int)v->cfg.domid, (int)v->cfg.devid, "nic", pl->nic,
		     "plugin", pl->ops->name, PV_EV_END);
}

/**
 * ab_sync() - make the attached plugin what "accel" and the registry say
 */
static void ab_sync(struct pv_accel_back_vif *v)
{
	char path[AB_PATH_MAX], nic[PV_ACCEL_NAME_MAX] = "";
	struct ab_plugin *want = NULL;

	if (v->in_hook || v->dying)
		return;
	if (ab_alive(v) && !ab_path(v, PV_ACCEL_KEY_NIC, path) &&
	    xs_server_read(v->cfg.xs, path, nic, sizeof(nic)) >= 0 && !pv_accel_name_ok(nic)) {
		pv_warn("vif%u.%u: ignoring malformed accel key", v->cfg.domid, v->cfg.devid);
		nic[0] = '\0';
	}
	if (!ab_alive(v))
		nic[0] = '\0';
	if (strcmp(v->failed, nic))
		v->failed[0] = '\0';	/* the key changed: a new chance */
	if (nic[0])
		want = ab_find(nic);
	if (v->pl && v->pl != want)
		ab_detach(v, nic[0] ? "accel changed" : "accel off");
	if (!v->pl && want && strcmp(v->failed, nic))
		ab_attach(v, want);
}

static void ab_watch_cb(struct xs_server *xs, const char *path, const char *token, void *arg)
{
	(void)xs;
	(void)path;
	(void)token;
	ab_sync(arg);
}

/* A vif came or went: tell the plugins of the other vifs of that store. */
static void ab_vifs_changed(const struct pv_accel_back_vif *which)
{
	for (struct pv_accel_back_vif *v = ab_vifs; v; v = v->next) {
		void (*fn)(struct pv_accel_back_vif *);

		if (v == which || v->cfg.xs != which->cfg.xs || !v->pl || v->in_hook || v->dying)
			continue;
		fn = ab_op(v->pl->ops, vifs_changed);
		if (!fn)
			continue;
		v->in_hook = 1;
		fn(v);
		v->in_hook = 0;
	}
}

/* ---- netback's side ---- */

struct pv_accel_back_vif *pv_accel_back_vif_new(const struct pv_accel_back_vif_config *cfg)
{
	struct pv_accel_back_vif *v = calloc(1, sizeof(*v));
	char path[AB_PATH_MAX];

	if (!v)
		return NULL;
	v->cfg = *cfg;
	/* This host answers its guests' PV_HV_ACCEL_FDS (pv_accel_back_hv_fds). */
	if (cfg->hv && !cfg->hv->accel_fds)
		cfg->hv->accel_fds = pv_accel_back_hv_fds;
	snprintf(v->be_path, sizeof(v->be_path), "%s", cfg->be_path);
	snprintf(v->fe_path, sizeof(v->fe_path), "%s", cfg->fe_path);
	v->cfg.be_path = v->be_path;
	v->cfg.fe_path = v->fe_path;
	snprintf(v->token, sizeof(v->token), "accel-%u-%u", cfg->domid, cfg->devid);
	if (!ab_path(v, PV_ACCEL_KEY_NIC, path))
		v->watched = xs_server_watch(cfg->xs, path, v->token, ab_watch_cb, v) == 0;
	v->next = ab_vifs;
	ab_vifs = v;
	if (v->cfg.frames_on)
		*v->cfg.frames_on = 0;
	ab_sync(v);
	ab_vifs_changed(v);
	return v;
}

void pv_accel_back_vif_free(struct pv_accel_back_vif *v)
{
	char path[AB_PATH_MAX];

	if (!v)
		return;
	if (v->watched && !ab_path(v, PV_ACCEL_KEY_NIC, path))
		xs_server_unwatch(v->cfg.xs, path, v->token);
	ab_detach(v, "vif removed");
	for (struct pv_accel_back_vif **pp = &ab_vifs; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	ab_vifs_changed(v);	/* @v is off the list: only its store is read */
	free(v);
}

/**
 * pv_accel_back_hv_fds() - struct pv_hv's accel_fds: PV_HV_ACCEL_FDS from
 * domain @domid for its vif @devid, to the get_fds() of the plugin serving
 * that vif, if it published @plugin as its accel-frontend.
 */
int pv_accel_back_hv_fds(struct pv_hv *hv, unsigned int domid, const char *plugin,
			 unsigned int devid, int *fds, unsigned int max, void *arg)
{
	(void)arg;
	for (struct pv_accel_back_vif *v = ab_vifs; v; v = v->next) {
		int (*fn)(struct pv_accel_back_vif *, int *, unsigned int);
		int n;

		if (v->cfg.hv != hv || v->cfg.domid != domid || v->cfg.devid != devid)
			continue;
		if (!v->pl || v->dying || strcmp(v->fe_name, plugin) ||
		    !(fn = ab_op(v->pl->ops, get_fds)))
			return -ENOENT;
		if (v->in_hook)
			return -EAGAIN;
		v->in_hook = 1;
		n = fn(v, fds, max);
		v->in_hook = 0;
		return n;
	}
	return -ENOENT;
}

void pv_accel_back_frame(struct pv_accel_back_vif *v, enum pv_accel_frame_how how,
			 const uint8_t *hdr, uint32_t hdr_len, uint32_t len)
{
	void (*fn)(struct pv_accel_back_vif *, enum pv_accel_frame_how, const uint8_t *,
		   uint32_t, uint32_t);

	if (!v || !v->pl || v->in_hook || !(fn = ab_op(v->pl->ops, frame)))
		return;
	fn(v, how, hdr, hdr_len, len);
}

static struct pv_accel_back_vif *ab_vif_find(struct xs_server *xs, unsigned int domid,
					     unsigned int devid)
{
	for (struct pv_accel_back_vif *v = ab_vifs; v; v = v->next)
		if (v->cfg.xs == xs && v->cfg.domid == domid && v->cfg.devid == devid)
			return v;
	return NULL;
}

int pv_accel_back_show(struct xs_server *xs, unsigned int domid, unsigned int devid,
		       struct pv_kv *kv)
{
	struct pv_accel_back_vif *v = ab_vif_find(xs, domid, devid);
	struct pv_accel_kv akv = { .kv = kv };
	void (*fn)(struct pv_accel_back_vif *, struct pv_accel_kv *);

	if (!v)
		return -ENOENT;
	if (v->pl && !v->in_hook && (fn = ab_op(v->pl->ops, show))) {
		v->in_hook = 1;
		fn(v, &akv);
		v->in_hook = 0;
	}
	return 0;
}

int pv_accel_back_show_nic(const char *nic, struct pv_kv *kv)
{
	struct ab_plugin *pl;
	struct pv_accel_kv akv = { .kv = kv };
	void (*fn)(void *, struct pv_accel_kv *);

	if (!nic)
		nic = pv_accel_back_default_nic();
	if (!nic || !(pl = ab_find(nic)))
		return -ENOENT;
	fn = ab_op(pl->ops, show_nic);
	if (!fn)
		return -EOPNOTSUPP;
	fn(pl->arg, &akv);
	return 0;
}

int pv_accel_back_status(struct xs_server *xs, unsigned int domid, unsigned int devid,
			 char plugin[32], char nic[32])
{
	struct pv_accel_back_vif *v = ab_vif_find(xs, domid, devid);

	if (!v)
		return -ENOENT;
	snprintf(plugin, 32, "%s", v->pl ? v->pl->ops->name : "");
	snprintf(nic, 32, "%s", v->pl ? v->pl->nic : "");
	return 0;
}

const char *pv_accel_back_default_nic(void)
{
	const char *nic = NULL;

	for (int i = 0; i < AB_MAX_PLUGINS; i++) {
		if (!ab_plugins[i].ops)
			continue;
		if (nic)
			return NULL;
		nic = ab_plugins[i].nic;
	}
	return nic;
}

/* ---- the registry ---- */

int pv_accel_back_register(const char *nic, const struct pv_accel_back_ops *ops, void *arg)
{
	struct ab_plugin *slot = NULL;

	/* A table from another major version would be called with the wrong layout. */
	if (!nic || !pv_accel_name_ok(nic) || !ops || !ops->name || !ops->probe || !ops->remove ||
	    PV_ACCEL_VERSION_MAJOR(ops->version) != PV_ACCEL_VERSION_MAJOR(PV_ACCEL_BACK_VERSION) ||
	    ops->size < PV_ACCEL_BACK_OPS_SIZE_1_0)
		return -EINVAL;
	if (ab_find(nic))
		return -EEXIST;
	for (int i = 0; i < AB_MAX_PLUGINS && !slot; i++)
		if (!ab_plugins[i].ops)
			slot = &ab_plugins[i];
	if (!slot)
		return -ENOSPC;
	snprintf(slot->nic, sizeof(slot->nic), "%s", nic);
	slot->ops = ops;
	slot->arg = arg;
	pv_info("accel: backend plugin '%s' serves NIC %s", ops->name, nic);
	/* Vifs that named this NIC before the plugin came: probe them now. */
	for (struct pv_accel_back_vif *v = ab_vifs; v; v = v->next) {
		if (!strcmp(v->failed, nic))
			v->failed[0] = '\0';
		ab_sync(v);
	}
	return 0;
}

int pv_accel_back_unregister(const char *nic)
{
	struct ab_plugin *pl = ab_find(nic);

	if (!pl)
		return -ENOENT;
	for (struct pv_accel_back_vif *v = ab_vifs; v; v = v->next)
		if (v->pl == pl)
			ab_detach(v, "plugin unregistered");
	memset(pl, 0, sizeof(*pl));
	return 0;
}

/* ---- the plugin's view of its vif ---- */

void *pv_accel_back_priv(const struct pv_accel_back_vif *vif) { return vif->priv; }
void pv_accel_back_set_priv(struct pv_accel_back_vif *vif, void *priv) { vif->priv = priv; }
unsigned int pv_accel_back_domid(const struct pv_accel_back_vif *vif) { return vif->cfg.domid; }
unsigned int pv_accel_back_devid(const struct pv_accel_back_vif *vif) { return vif->cfg.devid; }
const uint8_t *pv_accel_back_mac(const struct pv_accel_back_vif *vif) { return vif->cfg.mac; }
const char *pv_accel_back_path(const struct pv_accel_back_vif *vif) { return vif->be_path; }
const char *pv_accel_back_frontend(const struct pv_accel_back_vif *vif) { return vif->fe_path; }
struct xs_server *pv_accel_back_xs(const struct pv_accel_back_vif *vif) { return vif->cfg.xs; }
struct pv_hv *pv_accel_back_hv(const struct pv_accel_back_vif *vif) { return vif->cfg.hv; }
struct pv_loop *pv_accel_back_loop(const struct pv_accel_back_vif *vif) { return vif->cfg.loop; }

unsigned int pv_accel_back_local_macs(const struct pv_accel_back_vif *vif, uint8_t (*macs)[6],
				      unsigned int max)
{
	unsigned int n = 0;

	for (const struct pv_accel_back_vif *v = ab_vifs; v; v = v->next) {
		if (v == vif || v->cfg.xs != vif->cfg.xs || v->dying)
			continue;
		if (n < max)
			memcpy(macs[n], v->cfg.mac, 6);
		n++;
	}
	return n;
}

int pv_accel_back_write(struct pv_accel_back_vif *vif, const char *key, const char *val)
{
	return ab_write(vif, key, val);
}

int pv_accel_back_rm(struct pv_accel_back_vif *vif, const char *key)
{
	char path[AB_PATH_MAX];
	int e = ab_path(vif, key, path);

	if (e)
		return e;
	if (!ab_alive(vif))
		return -ENOENT;
	return xs_server_rm(vif->cfg.xs, path);
}

void pv_accel_kv_u64(struct pv_accel_kv *kv, const char *key, uint64_t v)
{
	pv_kv_u64(kv->kv, key, v);
}

void pv_accel_kv_str(struct pv_accel_kv *kv, const char *key, const char *v)
{
	pv_kv_str(kv->kv, key, v);
}

int pv_accel_back_publish_frontend(struct pv_accel_back_vif *vif, const char *name)
{
	int e;

	if (!name || !pv_accel_name_ok(name))
		return -EINVAL;
	e = ab_write(vif, PV_ACCEL_KEY_FRONTEND, name);
	if (!e)
		snprintf(vif->fe_name, sizeof(vif->fe_name), "%s", name);
	return e;
}

int pv_accel_back_set_state(struct pv_accel_back_vif *vif, int state)
{
	char val[4];

	if (state < XenbusStateUnknown || state > XenbusStateReconfigured)
		return -EINVAL;
	vif->state_set = 1;
	snprintf(val, sizeof(val), "%d", state);
	pv_ctl_event("accel-state", (int)vif->cfg.domid, (int)vif->cfg.devid, "state",
		     pv_ctl_xb_state(state), PV_EV_END);
	return ab_write(vif, PV_ACCEL_KEY_STATE, val);
}

/* ---- the host's store and grants (accel.h 1.2) ---- */

int pv_accel_xs_read(struct xs_server *xs, const char *path, char *buf, size_t size)
{
	return xs_server_read(xs, path, buf, size);
}

int pv_accel_xs_write(struct xs_server *xs, const char *path, const char *val)
{
	return xs_server_write(xs, path, val, strlen(val));
}

int pv_accel_xs_rm(struct xs_server *xs, const char *path)
{
	return xs_server_rm(xs, path);
}

int pv_accel_xs_watch(struct xs_server *xs, const char *path, const char *token,
		      pv_accel_xs_watch_cb cb, void *arg)
{
	return xs_server_watch(xs, path, token, cb, arg);
}

int pv_accel_xs_unwatch(struct xs_server *xs, const char *path, const char *token)
{
	return xs_server_unwatch(xs, path, token);
}

int pv_accel_gnt_map(struct pv_hv *hv, unsigned int granter, uint32_t ref, int readonly,
		     struct pv_accel_gnt *m)
{
	struct pv_domain *d;
	struct pv_gnt_map gm;
	int e;

	memset(m, 0, sizeof(*m));
	e = pv_gnt_map(hv, granter, ref, 0, readonly, &gm);
	if (e)
		return e;
	d = gm.dom;
	memcpy(m->host, &gm, sizeof(gm));
	m->page = gm.page;
	m->ref = ref;
	m->frame = (uint32_t)(((uint8_t *)gm.page - d->mem) / PV_PAGE_SIZE);
	return 0;
}

void pv_accel_gnt_unmap(struct pv_hv *hv, struct pv_accel_gnt *m)
{
	struct pv_gnt_map gm;

	if (!m->page)
		return;
	memcpy(&gm, m->host, sizeof(gm));
	pv_gnt_unmap(hv, &gm);
	memset(m, 0, sizeof(*m));
}

int pv_accel_domain_info(struct pv_hv *hv, unsigned int domid, struct pv_accel_domain *out)
{
	struct pv_domain *d = pv_domain_get(hv, domid);

	if (!d)
		return -ENOENT;
	*out = (struct pv_accel_domain){ .nr_grants = d->nr_grants, .nr_pages = d->nr_pages,
					 .mem_fd = d->mem_fd };
	return 0;
}
