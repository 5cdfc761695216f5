/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - pvnetd's Prometheus endpoint (metrics.h).
 *
 * How it runs.  libmicrohttpd in its external-polling mode with epoll
 * (MHD_USE_EPOLL, no thread of its own): MHD's epoll descriptor is one
 * watch on pvnetd's loop, and MHD_run() is called when it is readable or
 * when the timeout MHD asks for (MHD_get_timeout) expires, on a one-shot
 * loop timer.  MHD_run() never blocks: it does what the sockets allow and
 * returns.  So a scrape is served by pvnetd's one thread between two
 * rounds of the loop and reads the live counters directly: nothing is
 * shared with another thread, there is no snapshot to keep and no lock on
 * the data path.  (The alternative, an MHD thread reading a snapshot the
 * loop publishes, would cost a copy of every counter on a timer, scraped
 * or not, and give values as old as that timer.)  A page is rendered in
 * one go (a walk over the vifs and the switch's ports, some kilobytes of
 * text per vif) and written by MHD as the client reads it; a slow or
 * stuck client costs a buffer and a connection
 * slot (at most METRICS_MAX_CONNS, each timed out after
 * METRICS_TIMEOUT_S), never the loop's time.
 *
 * What it reads is cheap by construction: in-memory counters only.  The
 * NIC's own per-VI counters (`pvnetctl accel D N show`) take a blocking
 * control round trip to pvnet-nicd each, so they are not here; the host
 * VI's counters as pvnetd's NIC port keeps them, and the pvnic backend's
 * per-vif filter counters, are.
 *
 * The page: GET or HEAD /metrics; other paths 404, other methods 405.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "metrics.h"
#include "accel_back.h"
#include "bridge.h"
#include "netback.h"
#include "nicport.h"
#include "port.h"
#include "vif_counters.h"
#include "accel/pvnic_back.h"
#include "hv/hv.h"
#include "hv/xs.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/out.h"
#include "pvnet/accel.h"

#define METRICS_MAX_CONNS	16
#define METRICS_TIMEOUT_S	10
#define METRICS_MAX_WAIT_MS	1000	/* MHD_run at least this often while it has connections */
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

struct pv_metrics {
	struct pv_metrics_ctx ctx;
	struct MHD_Daemon *mhd;
	struct pv_watch *w;		/* MHD's epoll fd */
	struct pv_watch *timer;		/* MHD's timeout, one-shot */
};

/* ---------------------------------------------------------------------- */
/* The exposition format.                                                 */

/* A family's HELP and TYPE lines ("pvnet_" @name). */
static void m_family(struct pv_buf *b, const char *name, int gauge, const char *help)
{
	pv_buf_printf(b, "# HELP pvnet_%s %s\n# TYPE pvnet_%s %s\n", name, help, name,
		      gauge ? "gauge" : "counter");
}

/* One sample: "pvnet_@name{@labels} @v" (@labels may be ""). */
static void m_sample(struct pv_buf *b, const char *name, const char *labels, uint64_t v)
{
	pv_buf_printf(b, "pvnet_%s%s%s%s %llu\n", name, *labels ? "{" : "", labels,
		      *labels ? "}" : "", (unsigned long long)v);
}

/* A family of one unlabelled sample. */
static void m_one(struct pv_buf *b, const char *name, int gauge, const char *help, uint64_t v)
{
	m_family(b, name, gauge, help);
	m_sample(b, name, "", v);
}

/* ',' then @key="@val" with the format's escapes (\\, \", \n) into @lb. */
static void m_label(struct pv_buf *lb, const char *key, const char *val)
{
	pv_buf_printf(lb, "%s%s=\"", lb->len ? "," : "", key);
	for (const char *s = val; *s; s++) {
		if (*s == '\\' || *s == '"')
			pv_buf_printf(lb, "\\%c", *s);
		else if (*s == '\n')
			pv_buf_put(lb, "\\n", 2);
		else
			pv_buf_put(lb, s, 1);
	}
	pv_buf_put(lb, "\"", 1);
}

/* A struct's field and how to show it: a table per struct, below. */
struct m_field {
	const char *name;
	size_t off;
	int u32;		/* uint32_t (else uint64_t) */
	int gauge;
	const char *help;
};

static uint64_t m_field_get(const void *st, const struct m_field *f)
{
	const char *p = (const char *)st + f->off;

	return f->u32 ? *(const uint32_t *)(const void *)p : *(const uint64_t *)(const void *)p;
}

/* Name: "<prefix>_<field>" and "_total" for counters. */
static void m_field_name(char *buf, size_t size, const char *prefix, const struct m_field *f)
{
	snprintf(buf, size, "%s_%s%s", prefix, f->name, f->gauge ? "" : "_total");
}

/* Every field of @fields for @n objects (@objs[i] with labels @labels[i]). */
static void m_fields(struct pv_buf *b, const char *prefix, const struct m_field *fields,
		     unsigned int nf, const void *const *objs, char *const *labels, unsigned int n)
{
	char name[96];

	for (unsigned int k = 0; k < nf; k++) {
		m_field_name(name, sizeof(name), prefix, &fields[k]);
		m_family(b, name, fields[k].gauge, fields[k].help);
		for (unsigned int i = 0; i < n; i++)
			m_sample(b, name, labels[i], m_field_get(objs[i], &fields[k]));
	}
}

#define F64(s, f, g, h) { #f, offsetof(struct s, f), 0, g, h }
#define F32(s, f, g, h) { #f, offsetof(struct s, f), 1, g, h }

/* ---------------------------------------------------------------------- */
/* The daemon.                                                            */

static void m_daemon(const struct pv_metrics_ctx *c, struct pv_buf *b)
{
	const struct pv_hv_stats *hs = &c->hv->st;
	const struct pv_gnt_stats *g = &hs->gnt;
	static const char *const refusals[] = { "bad_ref", "not_granted", "wrong_domid",
						"readonly_write", "bad_frame", "bad_range", "busy" };
	const uint64_t refused[] = { g->bad_ref, g->not_granted, g->wrong_domid,
				     g->readonly_write, g->bad_frame, g->bad_range, g->busy };
	struct xs_stats xs;
	char lb[48];

	m_one(b, "start_time_seconds", 1, "When pvnetd started, seconds since the epoch.",
	      (uint64_t)c->started);
	m_one(b, "uptime_seconds", 1, "Seconds since pvnetd started.",
	      (uint64_t)(time(NULL) - c->started));
	m_one(b, "domains", 1, "Registered domains now (guests).", pv_domain_count(c->hv));
	m_one(b, "vifs", 1, "Vifs now, connected or not.", pv_netback_nr_vifs(c->nb));
	m_one(b, "domains_registered_total", 0, "Domains registered.", hs->registered);
	m_one(b, "domains_destroyed_total", 0, "Domains destroyed.", hs->destroyed);
	m_one(b, "hv_bad_requests_total", 0, "Malformed hypervisor socket requests.", hs->bad_msgs);
	m_one(b, "hv_rejected_peers_total", 0, "Hypervisor socket peers refused (credentials).",
	      hs->rejected_peers);
	m_one(b, "grant_maps_total", 0, "Grant mappings made.", g->maps);
	m_one(b, "grant_unmaps_total", 0, "Grant mappings undone.", g->unmaps);
	m_one(b, "grant_copies_total", 0, "Grant copies made.", g->copies);
	m_family(b, "grant_refusals_total", 0, "Grant uses refused, by reason.");
	for (unsigned int i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		snprintf(lb, sizeof(lb), "reason=\"%s\"", refusals[i]);
		m_sample(b, "grant_refusals_total", lb, refused[i]);
	}
	m_one(b, "evtchn_allocs_total", 0, "Event channels allocated.", hs->evtchn_alloc);
	m_one(b, "evtchn_binds_total", 0, "Event channels bound.", hs->evtchn_bind);
	m_one(b, "evtchn_closes_total", 0, "Event channels closed.", hs->evtchn_close);
	xs_server_stats(c->xs, &xs);
	m_one(b, "xs_requests_total", 0, "xenstore requests.", xs.requests);
	m_one(b, "xs_errors_total", 0, "xenstore error replies.", xs.errors);
	m_one(b, "xs_bad_messages_total", 0, "Malformed xenstore messages (connection closed).",
	      xs.bad_msgs);
	m_one(b, "xs_quota_hits_total", 0, "xenstore requests refused by a quota.", xs.quota_hits);
	m_one(b, "xs_watch_events_total", 0, "xenstore watch events sent.", xs.watch_events);
	m_one(b, "xs_connections_accepted_total", 0, "xenstore connections accepted.",
	      xs.conns_accepted);
	m_one(b, "xs_connections_closed_total", 0, "xenstore connections closed.", xs.conns_closed);
	m_one(b, "xs_nodes", 1, "Nodes in the xenstore tree now.", xs.nodes);
}

/* ---------------------------------------------------------------------- */
/* Vifs.                                                                  */

/* One vif as the page shows it: netback's info and its accelerator's. */
struct m_vif {
	struct pv_vif_info vi;
	struct pv_buf labels;
	char plugin[32], nic[32];
	int accel_state;		/* the backend's accelstate, 0 if none */
	int pvnic;			/* served by the pvnic backend: @pv valid */
	struct pvnic_vif_info pv;
};

struct m_vifs {
	const struct pv_metrics_ctx *c;
	struct m_vif *v;
	unsigned int n, max;
};

static int m_vif_read_accel(const struct pv_metrics_ctx *c, struct m_vif *v)
{
	char path[128], state[8] = "";

	if (pv_accel_back_status(c->xs, v->vi.domid, v->vi.devid, v->plugin, v->nic))
		v->plugin[0] = v->nic[0] = '\0';
	snprintf(path, sizeof(path), PV_NETBACK_BASE "/%u/%u/" PV_ACCEL_KEY_STATE, v->vi.domid,
		 v->vi.devid);
	if (xs_server_read(c->xs, path, state, sizeof(state)) > 0)
		v->accel_state = atoi(state);
	v->pvnic = c->pnb && !pvnic_back_vif_info(c->pnb, v->vi.domid, v->vi.devid, &v->pv);
	return 0;
}

static int m_vif_collect(const struct pv_vif_info *vi, void *arg)
{
	struct m_vifs *vs = arg;
	struct pv_domain *d;
	struct m_vif *v;
	char num[16];

	if (vs->n == vs->max)
		return 1;	/* more vifs than counted a moment ago: not possible, one thread */
	v = &vs->v[vs->n++];
	v->vi = *vi;
	d = pv_domain_get(vs->c->hv, vi->domid);
	snprintf(num, sizeof(num), "%u", vi->domid);
	m_label(&v->labels, "domid", num);
	snprintf(num, sizeof(num), "%u", vi->devid);
	m_label(&v->labels, "devid", num);
	m_label(&v->labels, "vif", vi->name);
	m_label(&v->labels, "domain", d ? d->name : "");
	return m_vif_read_accel(vs->c, v);
}

/* A per-vif family of @get(v) for every vif. */
static void m_vif_family(struct pv_buf *b, const struct m_vifs *vs, const char *name, int gauge,
			 const char *help, uint64_t (*get)(const struct m_vif *v), int pvnic_only)
{
	m_family(b, name, gauge, help);
	for (unsigned int i = 0; i < vs->n; i++)
		if (!pvnic_only || vs->v[i].pvnic)
			m_sample(b, name, vs->v[i].labels.p, get(&vs->v[i]));
}

static uint64_t v_mtu(const struct m_vif *v) { return v->vi.mtu; }
static uint64_t v_connected(const struct m_vif *v) { return (uint64_t)v->vi.connected; }
static uint64_t v_disabled(const struct m_vif *v) { return (uint64_t)v->vi.disabled; }
static uint64_t v_be_state(const struct m_vif *v) { return (uint64_t)v->vi.be_state; }
static uint64_t v_fe_state(const struct m_vif *v) { return (uint64_t)v->vi.fe_state; }
static uint64_t v_features(const struct m_vif *v) { return v->vi.features; }
static uint64_t v_rate(const struct m_vif *v)
{
	return v->vi.rate_usec ? v->vi.rate_bytes * 8 * 1000000 / v->vi.rate_usec : 0;
}
static uint64_t v_accel_state(const struct m_vif *v) { return (uint64_t)v->accel_state; }
static uint64_t v_accel_on(const struct m_vif *v) { return v->plugin[0] != '\0'; }
static uint64_t v_fp_ready(const struct m_vif *v) { return (uint64_t)v->pv.ready; }
static uint64_t v_fp_fe(const struct m_vif *v) { return (uint64_t)v->pv.fe_connected; }
static uint64_t v_filters(const struct m_vif *v)
{
	return v->pv.flows + (v->pv.mac_filter ? 1u : 0u);
}

/* The pvnic backend's per-vif counters (struct pvnic_vif_stats). */
static const struct m_field pvnic_vif_fields[] = {
	F64(pvnic_vif_stats, filter_installs, 0, "RX filters installed for the vif's VI."),
	F64(pvnic_vif_stats, filter_evictions, 0, "Flow filters removed to make room."),
	F64(pvnic_vif_stats, filter_rate_limited, 0, "New flows not given a filter: too many too fast."),
	F64(pvnic_vif_stats, filter_failures, 0, "Filter installs the NIC refused."),
	F64(pvnic_vif_stats, filter_not_own_ip, 0, "New flows to an address the guest never used."),
	F64(pvnic_vif_stats, filter_ip_conflicts, 0, "New flows to an address another guest used too."),
};

/* The vif_counters.h table: every counter `pvnetctl vif-stats` shows. */
static void m_vif_counters(struct pv_buf *b, const struct m_vifs *vs)
{
	char name[96];

	for (unsigned int k = 0; k < pv_vif_nr_counters; k++) {
		const struct pv_vif_counter *ct = &pv_vif_counters[k];
		int gauge = !!(ct->flags & PV_VIF_CTR_GAUGE);

		snprintf(name, sizeof(name), "vif_%s%s", ct->name, gauge ? "" : "_total");
		m_family(b, name, gauge, ct->help);
		for (unsigned int i = 0; i < vs->n; i++)
			m_sample(b, name, vs->v[i].labels.p, pv_vif_counter_get(&vs->v[i].vi.st, ct));
	}
}

static void m_vif_accel(struct pv_buf *b, const struct m_vifs *vs)
{
	struct pv_buf lb = { 0 };
	unsigned int npv = 0;

	m_family(b, "vif_accel_info", 1, "The accelerator plugin attached to the vif (value 1).");
	for (unsigned int i = 0; i < vs->n; i++) {
		if (!vs->v[i].plugin[0])
			continue;
		lb.len = 0;
		pv_buf_printf(&lb, "%s", vs->v[i].labels.p);
		m_label(&lb, "plugin", vs->v[i].plugin);
		m_label(&lb, "nic", vs->v[i].nic);
		if (!lb.oom)
			m_sample(b, "vif_accel_info", lb.p, 1);
	}
	pv_buf_free(&lb);
	m_vif_family(b, vs, "vif_accel_attached", 1, "1 if an accelerator plugin serves the vif.",
		     v_accel_on, 0);
	m_vif_family(b, vs, "vif_accel_state", 1,
		     "The backend's accelstate (XenbusState number; 0: none).", v_accel_state, 0);
	for (unsigned int i = 0; i < vs->n; i++)
		npv += vs->v[i].pvnic ? 1u : 0u;
	if (!npv)
		return;
	m_vif_family(b, vs, "vif_fastpath_ready", 1, "1 if the vif's fast path (VI) is ready.",
		     v_fp_ready, 1);
	m_vif_family(b, vs, "vif_fastpath_frontend_connected", 1,
		     "1 if the frontend plugin completed the handshake.", v_fp_fe, 1);
	m_vif_family(b, vs, "vif_accel_filters", 1, "RX filters installed for the vif now.",
		     v_filters, 1);
	for (unsigned int k = 0; k < sizeof(pvnic_vif_fields) / sizeof(pvnic_vif_fields[0]); k++) {
		char name[96];

		m_field_name(name, sizeof(name), "vif_accel", &pvnic_vif_fields[k]);
		m_family(b, name, 0, pvnic_vif_fields[k].help);
		for (unsigned int i = 0; i < vs->n; i++)
			if (vs->v[i].pvnic)
				m_sample(b, name, vs->v[i].labels.p,
					 m_field_get(&vs->v[i].pv.st, &pvnic_vif_fields[k]));
	}
}

static void m_vifs(const struct pv_metrics_ctx *c, struct pv_buf *b)
{
	struct m_vifs vs = { .c = c };

	vs.max = pv_netback_nr_vifs(c->nb);
	if (vs.max && !(vs.v = calloc(vs.max, sizeof(*vs.v)))) {
		b->oom = 1;
		return;
	}
	pv_netback_foreach_vif(c->nb, m_vif_collect, &vs);
	for (unsigned int i = 0; i < vs.n; i++) {
		if (vs.v[i].labels.oom || !vs.v[i].labels.p)
			b->oom = 1;
	}
	if (!b->oom) {
		m_vif_family(b, &vs, "vif_mtu", 1, "The vif's MTU.", v_mtu, 0);
		m_vif_family(b, &vs, "vif_connected", 1, "1 if the vif's rings are mapped and served.",
			     v_connected, 0);
		m_vif_family(b, &vs, "vif_disabled", 1, "1 if the vif was stopped for a protocol violation.",
			     v_disabled, 0);
		m_vif_family(b, &vs, "vif_backend_state", 1, "The backend's XenbusState number.",
			     v_be_state, 0);
		m_vif_family(b, &vs, "vif_frontend_state", 1, "The frontend's XenbusState number.",
			     v_fe_state, 0);
		m_vif_family(b, &vs, "vif_features", 1, "Features negotiated (PV_VIF_F_* bits).",
			     v_features, 0);
		m_vif_family(b, &vs, "vif_rate_limit_bps", 1, "The vif's TX rate limit (0: none).",
			     v_rate, 0);
		m_vif_counters(b, &vs);
		m_vif_accel(b, &vs);
	}
	for (unsigned int i = 0; i < vs.n; i++)
		pv_buf_free(&vs.v[i].labels);
	free(vs.v);
}

/* ---------------------------------------------------------------------- */
/* The switch: the bridge's table and every port.                         */

static const struct m_field bridge_fields[] = {
	F32(pv_bridge_stats, entries, 1, "MAC table entries now, learned and static."),
	F32(pv_bridge_stats, capacity, 1, "MAC table entries at most."),
	F32(pv_bridge_stats, ports, 1, "Bridge ports in use now."),
	F64(pv_bridge_stats, table_full, 0, "New source MACs not learned: the table was full."),
	F64(pv_bridge_stats, reclaimed, 0, "Expired entries reused while the table was full."),
	F64(pv_bridge_stats, aged, 0, "Expired entries freed by aging."),
	F64(pv_bridge_stats, moves, 0, "Stations that moved between ports."),
	F64(pv_bridge_stats, bad_src, 0, "Multicast, broadcast or zero source MACs ignored."),
	F64(pv_bridge_stats, lookup_hit, 0, "Unicast destinations found in the table."),
	F64(pv_bridge_stats, lookup_miss, 0, "Unicast destinations unknown or expired."),
	F64(pv_bridge_stats, forwards, 0, "Frames forwarded to one port."),
	F64(pv_bridge_stats, floods, 0, "Frames flooded (broadcast, multicast, unknown unicast)."),
	F64(pv_bridge_stats, hairpin_drops, 0, "Frames dropped: destination behind the ingress port."),
	F64(pv_bridge_stats, bad_port_drops, 0, "Frames dropped: ingress port not in use."),
};

static const struct m_field port_fields[] = {
	F64(pv_port_stats, rx_packets, 0, "Frames into the switch from the port."),
	F64(pv_port_stats, rx_bytes, 0, "Bytes into the switch from the port."),
	F64(pv_port_stats, tx_packets, 0, "Frames out of the switch to the port."),
	F64(pv_port_stats, tx_bytes, 0, "Bytes out of the switch to the port."),
	F64(pv_port_stats, tx_dropped, 0, "Frames the port could not take (no room, queue full)."),
	F64(pv_port_stats, rx_dropped, 0, "Frames refused on input from the port."),
	F64(pv_port_stats, errors, 0, "Errors on the port."),
};

static const struct m_field bport_fields[] = {
	F32(pv_bridge_port_stats, learned, 1, "Learned MAC entries on the port now."),
	F32(pv_bridge_port_stats, statics, 1, "Static MAC entries on the port now."),
	F64(pv_bridge_port_stats, cap_drops, 0, "New source MACs not learned: the port at its cap."),
	F64(pv_bridge_port_stats, full_drops, 0, "New source MACs not learned: the table full."),
	F64(pv_bridge_port_stats, moves, 0, "Stations that moved to the port."),
	F64(pv_bridge_port_stats, move_denied, 0, "Sources refused: static on another port."),
};

#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

struct m_ports {
	unsigned int n;
	struct pv_port *port[PV_BRIDGE_MAX_PORTS];
	struct pv_bridge_port_stats bst[PV_BRIDGE_MAX_PORTS];
	const void *pobj[PV_BRIDGE_MAX_PORTS], *bobj[PV_BRIDGE_MAX_PORTS];
	char *labels[PV_BRIDGE_MAX_PORTS];
};

static void m_storm(struct pv_buf *b, const struct m_ports *ps)
{
	static const char *const kinds[PV_STORM_KINDS] = { "broadcast", "multicast", "unknown" };
	struct pv_buf lb = { 0 };

	m_family(b, "port_storm_drops_total", 0, "Floods from the port dropped over its storm limit.");
	for (unsigned int i = 0; i < ps->n; i++)
		for (int k = 0; k < PV_STORM_KINDS; k++) {
			lb.len = 0;
			pv_buf_printf(&lb, "%s", ps->labels[i]);
			m_label(&lb, "flood", kinds[k]);
			if (!lb.oom)
				m_sample(b, "port_storm_drops_total", lb.p, ps->port[i]->st.storm_drops[k]);
		}
	pv_buf_free(&lb);
}

static void m_switch(const struct pv_metrics_ctx *c, struct pv_buf *b)
{
	struct pv_bridge *br = pv_switch_bridge(c->sw);
	struct pv_bridge_stats bs;
	const void *bsp = &bs;
	char *none = "";
	struct m_ports *ps = calloc(1, sizeof(*ps));

	pv_bridge_stats(br, &bs);
	m_fields(b, "bridge", bridge_fields, ARRAY_N(bridge_fields), &bsp, &none, 1);
	if (!ps) {
		b->oom = 1;
		return;
	}
	for (int i = 0; i < PV_BRIDGE_MAX_PORTS; i++) {
		struct pv_port *p = pv_switch_port(c->sw, i);
		struct pv_buf lb = { 0 };

		if (!p || pv_bridge_port_stats(br, i, &ps->bst[ps->n]) < 0)
			continue;
		m_label(&lb, "port", p->name);
		m_label(&lb, "kind", p->ops && p->ops->kind ? p->ops->kind : "");
		if (lb.oom) {
			pv_buf_free(&lb);
			b->oom = 1;
			break;
		}
		ps->port[ps->n] = p;
		ps->pobj[ps->n] = &p->st;
		ps->bobj[ps->n] = &ps->bst[ps->n];
		ps->labels[ps->n++] = lb.p;
	}
	m_fields(b, "port", port_fields, ARRAY_N(port_fields), ps->pobj, ps->labels, ps->n);
	m_storm(b, ps);
	m_fields(b, "port_bridge", bport_fields, ARRAY_N(bport_fields), ps->bobj, ps->labels, ps->n);
	for (unsigned int i = 0; i < ps->n; i++)
		free(ps->labels[i]);
	free(ps);
}

/* ---------------------------------------------------------------------- */
/* The NIC: pvnetd's host VI port and the pvnic backend.                  */

static const struct m_field nicport_fields[] = {
	F64(pv_nicport_stats, tx_no_room, 0, "Frames to the NIC dropped: no free TX buffer or slot."),
	F64(pv_nicport_stats, tx_too_big, 0, "Frames to the NIC dropped: too long, without GSO."),
	F64(pv_nicport_stats, tx_bad_frame, 0, "Frames to the NIC dropped: bad GSO or checksum metadata."),
	F64(pv_nicport_stats, tx_down, 0, "Frames to the NIC dropped: the NIC was away."),
	F64(pv_nicport_stats, tx_segments, 0, "Segments made from GSO frames for the NIC."),
	F64(pv_nicport_stats, tx_backlog, 0, "Frames to the NIC that waited in the backlog for TX room."),
	F64(pv_nicport_stats, tx_backlog_max, 1, "The most frames the NIC port's backlog held at once."),
	F64(pv_nicport_stats, nic_errors, 0, "ERROR events from the NIC."),
	F64(pv_nicport_stats, bad_events, 0, "NIC events naming a descriptor not posted."),
	F64(pv_nicport_stats, rx_chains, 0, "Frames received in several buffers or as GSO frames."),
	F64(pv_nicport_stats, connects, 0, "Connections to pvnet-nicd made."),
	F64(pv_nicport_stats, disconnects, 0, "Losses of pvnet-nicd."),
	F64(pv_nicport_stats, wakeups, 0, "Wake-up passes of the NIC port."),
	F32(pv_nicport_stats, mtu, 1, "The NIC port's MTU."),
};

static const struct m_field pvnic_fields[] = {
	F64(pvnic_back_stats, connects, 0, "Control connections to pvnet-nicd made."),
	F64(pvnic_back_stats, disconnects, 0, "Control connections to pvnet-nicd lost."),
	F64(pvnic_back_stats, vi_allocs, 0, "VIs allocated for guests."),
	F64(pvnic_back_stats, vi_frees, 0, "VIs of guests freed."),
	F64(pvnic_back_stats, connected_vifs, 0, "Fast-path handshakes completed."),
	F64(pvnic_back_stats, bad_refs, 0, "accel-buf-refs refused."),
	F64(pvnic_back_stats, failures, 0, "Other fast-path setup failures."),
	F64(pvnic_back_stats, fds_given, 0, "VI descriptors handed to guests."),
};

static void m_nic(const struct pv_metrics_ctx *c, struct pv_buf *b)
{
	char *none = "";

	if (c->np) {
		struct pv_nicport_stats ns;
		const void *o = &ns;

		pv_nicport_stats(c->np, &ns);
		m_one(b, "nicport_connected", 1, "1 while the NIC port is attached to pvnet-nicd.",
		      (uint64_t)ns.connected);
		m_fields(b, "nicport", nicport_fields, ARRAY_N(nicport_fields), &o, &none, 1);
	}
	if (c->pnb) {
		struct pvnic_back_stats st;
		const void *o = &st;

		pvnic_back_stats(c->pnb, &st);
		m_one(b, "pvnic_nic_up", 1, "1 while the pvnic backend is connected to pvnet-nicd.",
		      (uint64_t)st.nic_up);
		m_one(b, "pvnic_live_vifs", 1, "Vifs the pvnic backend serves now.", st.live_vifs);
		m_fields(b, "pvnic", pvnic_fields, ARRAY_N(pvnic_fields), &o, &none, 1);
	}
}

void pv_metrics_render(const struct pv_metrics_ctx *ctx, struct pv_buf *out)
{
	m_daemon(ctx, out);
	m_vifs(ctx, out);
	m_switch(ctx, out);
	m_nic(ctx, out);
}

/* ---------------------------------------------------------------------- */
/* HTTP, on pvnetd's loop.                                                */

static enum MHD_Result m_reply(struct MHD_Connection *conn, unsigned int status,
			       const char *body, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result m_access(void *cls, struct MHD_Connection *conn, const char *url,
				const char *method, const char *version, const char *upload_data,
				size_t *upload_data_size, void **req_cls)
{
	struct pv_metrics *m = cls;
	struct pv_buf page = { 0 };
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (strcmp(url, "/metrics"))
		return m_reply(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return m_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or HEAD only\n", "GET, HEAD");
	pv_metrics_render(&m->ctx, &page);
	if (page.oom || !page.p) {
		pv_buf_free(&page);
		return m_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	}
	r = MHD_create_response_from_buffer(page.len, page.p, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		pv_buf_free(&page);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static void m_run_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg);

/* Run MHD, then arm the timer for when it wants to run next (if ever). */
static void m_run(struct pv_metrics *m)
{
	MHD_UNSIGNED_LONG_LONG t;

	MHD_run(m->mhd);
	if (m->timer) {
		pv_loop_timer_del(m->ctx.loop, m->timer);
		m->timer = NULL;
	}
	if (MHD_get_timeout(m->mhd, &t) == MHD_YES)
		m->timer = pv_loop_timer(m->ctx.loop, t < METRICS_MAX_WAIT_MS ? (unsigned int)t :
					 METRICS_MAX_WAIT_MS, 0, m_run_cb, m);
}

static void m_run_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	m_run(arg);
}

static void m_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void m_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	pv_warn("metrics: %s", msg);
}

int pv_metrics_addr_parse(const char *arg, struct pv_metrics_addr *a, const char **why)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
	const char *colon = strrchr(arg, ':'), *host = "127.0.0.1", *port = arg;
	int bracketed = 0;
	char hbuf[64];
	unsigned long v;
	char *end;

	memset(a, 0, sizeof(*a));
	*why = "want ADDR:PORT (ADDR a numeric IPv4 address or [IPv6]) or PORT";
	if (strlen(arg) >= sizeof(a->text))
		return -EINVAL;
	if (colon) {
		const char *h = arg;
		size_t hl = (size_t)(colon - arg);

		if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
			h++;
			hl -= 2;
			bracketed = 1;
		}
		if (hl == 0 || hl >= sizeof(hbuf))
			return -EINVAL;
		memcpy(hbuf, h, hl);
		hbuf[hl] = '\0';
		host = hbuf;
		port = colon + 1;
	}
	errno = 0;
	v = strtoul(port, &end, 10);
	if (*port < '0' || *port > '9' || *end || errno || v == 0 || v > 65535) {
		if (colon)
			*why = "bad port: want 1..65535";
		return -EINVAL;
	}
	if (!bracketed && inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)v);
		a->len = sizeof(*in);
	} else if (bracketed && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)v);
		a->len = sizeof(*in6);
	} else {
		*why = "bad address: want a numeric IPv4 address or an IPv6 one in brackets";
		return -EINVAL;
	}
	if (colon)
		snprintf(a->text, sizeof(a->text), "%s", arg);
	else
		snprintf(a->text, sizeof(a->text), "127.0.0.1:%s", arg);
	*why = NULL;
	return 0;
}

/* Our own listening socket, so that a bind failure has its errno. */
static int m_listen(const struct pv_metrics_addr *a)
{
	int one = 1, e;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, 16) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

struct pv_metrics *pv_metrics_start(const struct pv_metrics_ctx *ctx,
				    const struct pv_metrics_addr *a, int *err)
{
	const union MHD_DaemonInfo *info;
	struct pv_metrics *m = calloc(1, sizeof(*m));
	int fd;

	if (!m) {
		*err = -ENOMEM;
		return NULL;
	}
	m->ctx = *ctx;
	if ((fd = m_listen(a)) < 0) {
		*err = fd;
		free(m);
		return NULL;
	}
	m->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
				  (a->ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				  0, NULL, NULL, m_access, m,
				  MHD_OPTION_EXTERNAL_LOGGER, m_log, NULL,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_MAX_CONNS,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!m->mhd) {
		*err = -EIO;
		close(fd);
		free(m);
		return NULL;
	}
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || !(m->w = pv_loop_add(ctx->loop, info->epoll_fd, EPOLLIN, m_run_cb, m))) {
		*err = -EIO;
		MHD_stop_daemon(m->mhd);	/* closes fd */
		free(m);
		return NULL;
	}
	*err = 0;
	return m;
}

void pv_metrics_stop(struct pv_metrics *m)
{
	if (!m)
		return;
	pv_loop_del(m->ctx.loop, m->w);
	if (m->timer)
		pv_loop_timer_del(m->ctx.loop, m->timer);
	MHD_stop_daemon(m->mhd);	/* closes the listening socket too */
	free(m);
}
