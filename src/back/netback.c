/* SPDX-License-Identifier: MIT */
/*
 * netback.c - netback: the instance, its public API, the domain hook, the
 * event plumbing (channels, scheduling) and the vif's own life cycle
 * (lookup, disconnect, disable on a protocol violation, removal).  The
 * control plane is in netback_xenbus.c, the data path in netback_tx.c and
 * netback_rx.c; the data path calls down into this file, never up into the
 * control plane
 * (Linux keeps xenvif_fatal_tx_err in netback.c for the same reason).
 *
 * Theory of Operation
 * ===================
 *
 * Discovery.  One in-process watch on PV_NETBACK_BASE.  Every event names
 * a path ".../vif/<D>/<N>[/key]"; nb_reconcile(D, N) then compares the
 * store with our list: a directory complete enough (frontend, frontend-id,
 * mac, state = Initialising; the toolstack writes state last) without a
 * vif gets one; a vif whose directory is gone is freed.  Watch events are
 * delivered by the store from the loop, never from inside our own writes.
 *
 * A vif is a switch port from creation to removal; xmit() drops (counted)
 * while it is not connected.
 *
 * Backend state machine (docs/xenbus.md), driven by the frontend's state
 * (a per-vif watch on <frontend>/state, a key the guest owns: parsed
 * strictly, anything unexpected ignored):
 *
 *   probe: features, InitWait ──fe Initialised/Connected──> connect ──> Connected
 *   fe Closing ──> disconnect, Closing        fe Closed/gone ──> disconnect, Closed
 *   fe Initialising while we are Closing/Closed ──> InitWait (a new start)
 *   protocol violation ──> nb_vif_fatal(): disconnect, Closing, disabled-reason
 *
 * Connect reads and checks the frontend's keys, maps both ring pages
 * writable (pinned: the guest cannot revoke them while mapped), binds the
 * event channel(s) and watches their eventfds in the loop.  Disconnect
 * undoes all of it and discards queued RX frames; it is idempotent.
 *
 * Work and fairness.  An event runs one pass for the vif: TX up to
 * cfg.tx_budget frames, then the RX queue.  A vif with work left is put on
 * the pending list and the kick eventfd is written: the loop comes back to
 * it only after every other ready descriptor had its turn.
 *
 * Domain death.  A destroy hook disconnects (unmapping before hv reclaims
 * the grants) and frees the domain's vifs, then removes its backend
 * directories.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "netback_priv.h"
#include "ctl.h"
#include "toolstack.h"
#include "hv/xs.h"

static struct pv_ratelimit nb_rl = PV_RATELIMIT_INIT;

/* ---- events, scheduling ---- */

/**
 * nb_notify() - raise the guest's event channel, counting it
 */
void nb_notify(struct nb_vif *vif, uint32_t port)
{
	if (pv_evtchn_notify(vif->nb->hv, 0, port) == 0)
		vif->st.evt_out++;
}

/**
 * nb_vif_schedule() - come back to @vif after the loop served everyone else
 */
void nb_vif_schedule(struct nb_vif *vif)
{
	struct pv_netback *nb = vif->nb;
	uint64_t one = 1;

	if (vif->pending)
		return;
	vif->pending = 1;
	vif->pend_next = nb->pend_head;
	nb->pend_head = vif;
	if (write(nb->kick_fd, &one, sizeof(one)) != sizeof(one))
		pv_log_rl(&nb_rl, PV_LOG_ERR, "netback: kick: %s", strerror(errno));
}

void nb_unschedule(struct nb_vif *vif)
{
	struct nb_vif **pp;

	if (!vif->pending)
		return;
	for (pp = &vif->nb->pend_head; *pp; pp = &(*pp)->pend_next)
		if (*pp == vif) {
			*pp = vif->pend_next;
			break;
		}
	vif->pending = 0;
}

/* One pass of work for a vif: TX within the budget, then the RX queue. */
void nb_vif_service(struct nb_vif *vif, int do_tx, int do_rx)
{
	int more = 0;

	if (do_tx && vif->connected)
		more |= nb_tx_poll(vif, vif->nb->cfg.tx_budget);
	if (do_rx && vif->connected)
		more |= nb_rx_drain(vif, vif->nb->cfg.tx_budget);
	if (vif->connected)
		nb_rx_push(vif);
	if (more && vif->connected)
		nb_vif_schedule(vif);
}

static void nb_kick_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_netback *nb = arg;
	struct nb_vif *list = nb->pend_head;
	uint64_t v;

	(void)loop;
	(void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pv_log_rl(&nb_rl, PV_LOG_ERR, "netback: kick read: %s", strerror(errno));
	/* Take the whole list: vifs rescheduled now wait for the next round. */
	nb->pend_head = NULL;
	for (struct nb_vif *vif = list; vif; vif = vif->pend_next)
		vif->pending = 0;
	while (list) {
		struct nb_vif *vif = list;

		list = vif->pend_next;
		nb_vif_service(vif, 1, 1);
	}
}

static void nb_drain_fd(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

/* An event on a vif's (only, or TX) channel. */
void nb_evtchn_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct nb_vif *vif = arg;

	(void)loop;
	(void)events;
	nb_drain_fd(fd);
	vif->st.evt_in++;
	nb_vif_service(vif, 1, vif->evtchn_tx == vif->evtchn_rx);
}

/* An event on a vif's RX channel (split channels): buffers were posted. */
void nb_evtchn_rx_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct nb_vif *vif = arg;

	(void)loop;
	(void)events;
	nb_drain_fd(fd);
	vif->st.evt_in++;
	nb_vif_service(vif, 0, 1);
}

/* ---- the vif: store writes, lookup, disconnect, disable, removal ---- */

void nb_write(struct pv_netback *nb, const char *dir, const char *key, const char *val)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if (xs_server_write(nb->xs, path, val, strlen(val)) < 0)
		pv_log_rl(&nb_rl, PV_LOG_ERR, "netback: cannot write %s", path);
}

void nb_set_state(struct nb_vif *vif, int state)
{
	char v[4];

	if (vif->be_state == state)
		return;
	vif->be_state = state;
	snprintf(v, sizeof(v), "%d", state);
	nb_write(vif->nb, vif->be_path, "state", v);
	pv_ctl_event_vif_state(vif->domid, vif->devid, vif->be_state, vif->fe_state);
	pv_debug("%s: backend state %d", vif->port.name, state);
}

/**
 * nb_vif_disconnect() - stop serving: unmap, unbind, drop queued frames
 *
 * Idempotent; safe on a half-connected vif.  The caller holds no slot maps.
 */
void nb_vif_disconnect(struct nb_vif *vif)
{
	struct pv_netback *nb = vif->nb;

	vif->connected = 0;
	nb_unschedule(vif);
	nb_credit_stop(vif);
	if (vif->w_tx)
		pv_loop_del(nb->loop, vif->w_tx);
	if (vif->w_rx)
		pv_loop_del(nb->loop, vif->w_rx);
	if (vif->evtchn_tx)
		pv_evtchn_close(nb->hv, 0, vif->evtchn_tx);
	if (vif->evtchn_rx && vif->evtchn_rx != vif->evtchn_tx)
		pv_evtchn_close(nb->hv, 0, vif->evtchn_rx);
	vif->w_tx = vif->w_rx = NULL;
	vif->evtchn_tx = vif->evtchn_rx = 0;
	pv_gnt_unmap(nb->hv, &vif->tx_map);
	pv_gnt_unmap(nb->hv, &vif->rx_map);
	memset(&vif->tx, 0, sizeof(vif->tx));
	memset(&vif->rx, 0, sizeof(vif->rx));
	vif->rx_dirty = 0;
	vif->st.rx_queued = 0;
	nb_rxq_free(vif);
}

/**
 * nb_vif_fatal() - the frontend broke the protocol: disable this vif only
 *
 * Stops touching its rings (the caller must return without using them),
 * unmaps and unbinds, state Closing, "disabled-reason" in the backend
 * directory, one log line.  The frontend may start over via Closed.
 */
void nb_vif_fatal(struct nb_vif *vif, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vif->reason, sizeof(vif->reason), fmt, ap);
	va_end(ap);
	nb_vif_disconnect(vif);
	if (vif->disabled)
		return;
	vif->disabled = 1;
	vif->st.fatal++;
	pv_warn("%s: disabled: %s", vif->port.name, vif->reason);
	pv_ctl_event("vif-disabled", (int)vif->domid, (int)vif->devid, "reason", vif->reason, PV_EV_END);
	nb_write(vif->nb, vif->be_path, "disabled-reason", vif->reason);
	nb_set_state(vif, XenbusStateClosing);
}

struct nb_vif *nb_vif_find(struct pv_netback *nb, unsigned int domid, unsigned int devid)
{
	for (struct nb_vif *v = nb->vifs; v; v = v->next)
		if (v->domid == domid && v->devid == devid)
			return v;
	return NULL;
}

void nb_vif_free(struct nb_vif *vif)
{
	struct pv_netback *nb = vif->nb;
	char path[192];

	pv_ctl_event("vif-removed", (int)vif->domid, (int)vif->devid, PV_EV_END);
	pv_accel_back_vif_free(vif->accel);	/* the plugin's remove(), first */
	vif->accel = NULL;
	nb_vif_disconnect(vif);
	if (vif->fe_watched) {
		snprintf(path, sizeof(path), "%s/state", vif->fe_path);
		xs_server_unwatch(nb->xs, path, vif->fe_token);
	}
	if (vif->ip_watched) {
		snprintf(path, sizeof(path), "%s/ip", vif->be_path);
		xs_server_unwatch(nb->xs, path, vif->ip_token);
	}
	for (int k = 0; vif->storm_watched && k < PV_STORM_KINDS; k++) {
		snprintf(path, sizeof(path), "%s/%s", vif->be_path, nb_storm_keys[k]);
		xs_server_unwatch(nb->xs, path, vif->storm_token);
	}
	/* Its learned addresses go with it: another vif may claim them now. */
	if (vif->port.br_port >= 0)
		pv_switch_port_del(nb->sw, &vif->port);
	for (struct nb_vif **pp = &nb->vifs; *pp; pp = &(*pp)->next)
		if (*pp == vif) {
			*pp = vif->next;
			break;
		}
	nb->nr_vifs--;
	pv_info("%s: removed", vif->port.name);
	free(vif);
}

static void nb_domain_hook(struct pv_hv *hv, struct pv_domain *d, void *arg)
{
	struct pv_netback *nb = arg;
	struct nb_vif *vif = nb->vifs, *next;
	char path[64];

	(void)hv;
	for (; vif; vif = next) {
		next = vif->next;
		if (vif->domid == d->domid)
			nb_vif_free(vif);
	}
	snprintf(path, sizeof(path), PV_NETBACK_BASE "/%u", d->domid);
	xs_server_rm(nb->xs, path);
}

/* ---- public API ---- */

struct pv_netback *pv_netback_new(struct pv_hv *hv, struct xs_server *xs,
				  struct pv_switch *sw, struct pv_loop *loop,
				  const struct pv_netback_config *cfg)
{
	struct pv_netback *nb = calloc(1, sizeof(*nb));

	if (!nb)
		return NULL;
	nb->hv = hv;
	nb->xs = xs;
	nb->sw = sw;
	nb->loop = loop;
	if (cfg)
		nb->cfg = *cfg;
	if (!nb->cfg.tx_budget)
		nb->cfg.tx_budget = 64;
	if (!nb->cfg.rxq_max_frames)
		nb->cfg.rxq_max_frames = 256;
	if (!nb->cfg.rxq_max_bytes)
		nb->cfg.rxq_max_bytes = 4u << 20;
	if (nb->cfg.rxq_max_bytes < PV_FRAME_MAX_LEN)
		nb->cfg.rxq_max_bytes = PV_FRAME_MAX_LEN;
	nb->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (nb->kick_fd < 0)
		goto fail;
	nb->kick_w = pv_loop_add(loop, nb->kick_fd, EPOLLIN, nb_kick_cb, nb);
	if (!nb->kick_w || pv_domain_hook(hv, nb_domain_hook, nb) < 0)
		goto fail;
	xs_server_mkdir(xs, PV_NETBACK_BASE);
	if (xs_server_watch(xs, PV_NETBACK_BASE, "netback", nb_base_watch_cb, nb) < 0)
		goto fail;
	nb->watching = 1;
	return nb;
fail:
	pv_err("netback: cannot start");
	pv_netback_free(nb);
	return NULL;
}

void pv_netback_free(struct pv_netback *nb)
{
	if (!nb)
		return;
	if (nb->watching)
		xs_server_unwatch(nb->xs, PV_NETBACK_BASE, "netback");
	while (nb->vifs)
		nb_vif_free(nb->vifs);
	pv_domain_unhook(nb->hv, nb_domain_hook, nb);
	if (nb->kick_w)
		pv_loop_del(nb->loop, nb->kick_w);
	if (nb->kick_fd >= 0)
		close(nb->kick_fd);
	free(nb);
}

static void nb_vif_fill_info(const struct nb_vif *vif, struct pv_vif_info *vi)
{
	memset(vi, 0, sizeof(*vi));
	vi->domid = vif->domid;
	vi->devid = vif->devid;
	snprintf(vi->name, sizeof(vi->name), "%s", vif->port.name);
	memcpy(vi->mac, vif->mac, 6);
	vi->mtu = vif->mtu;
	vi->rate_bytes = vif->credit_bytes;
	vi->rate_usec = vif->credit_usec;
	vi->be_state = vif->be_state;
	vi->fe_state = vif->fe_state < 0 ? 0 : vif->fe_state;
	vi->connected = vif->connected;
	vi->disabled = vif->disabled;
	snprintf(vi->reason, sizeof(vi->reason), "%s", vif->disabled ? vif->reason : "");
	vi->features = vif->features;
	vi->addrs = vif->sg.set;
	vi->addrs_fixed = vif->sg.fixed;
	vi->st = vif->st;
	vi->st.tx_storm_bcast = vif->port.st.storm_drops[PV_STORM_BCAST];
	vi->st.tx_storm_mcast = vif->port.st.storm_drops[PV_STORM_MCAST];
	vi->st.tx_storm_unknown = vif->port.st.storm_drops[PV_STORM_UNKNOWN];
}

int pv_netback_foreach_vif(struct pv_netback *nb, pv_netback_vif_cb cb, void *arg)
{
	struct pv_vif_info vi;

	for (struct nb_vif *vif = nb->vifs; vif; vif = vif->next) {
		int r;

		nb_vif_fill_info(vif, &vi);
		if ((r = cb(&vi, arg)))
			return r;
	}
	return 0;
}

int pv_netback_vif_info(struct pv_netback *nb, unsigned int domid, unsigned int devid,
			struct pv_vif_info *out)
{
	struct nb_vif *vif = nb_vif_find(nb, domid, devid);

	if (!vif)
		return -ENOENT;
	nb_vif_fill_info(vif, out);
	return 0;
}

unsigned int pv_netback_nr_vifs(struct pv_netback *nb)
{
	return nb->nr_vifs;
}

