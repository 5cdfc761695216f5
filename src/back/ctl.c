/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - pvnetd's control socket: the operator's and the toolstack's
 * window into the daemon (protocol in include/pvnet/ctl.h).
 *
 * The commands are pvnet/ctl.h's table; here, a handler for each the
 * daemon serves (PV_CTL_REMOTE).  Each handler
 * renders into a pv_buf, as text or JSON; the connection writes it out
 * without blocking the loop, then closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "accel_back.h"
#include "bridge.h"
#include "capture.h"
#include "migrate.h"
#include "netback.h"
#include "nicport.h"
#include "port.h"
#include "toolstack.h"
#include "vif_counters.h"
#include "hv/hv.h"
#include "hv/xs.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/out.h"
#include "lib/storm.h"
#include "lib/srcguard.h"
#include "pvnet/accel.h"

#define CTL_MAX_CONNS 16
#define CTL_MAX_SUBS 8			/* monitor streams at once */
#define CTL_SUB_QUEUE (32 * 1024)	/* a subscriber's event lines not yet sent */
#define CTL_EV_LINE 1024		/* one event line, at most */

/* A `monitor` subscriber: its stream socket and its bounded queue of lines. */
struct ctl_sub {
	struct pv_ctl *ctl;
	struct ctl_sub *next;
	int fd, json;
	struct pv_watch *w;
	uint64_t lost;			/* events not queued since the last "lost" line */
	size_t off, len;		/* q[off, off + len): not yet sent */
	char q[CTL_SUB_QUEUE];
};

struct pv_ctl {
	struct pv_ctl_ctx ctx;
	int fd;
	struct pv_watch *w;
	char *path;
	unsigned int nconns;
	/* monitor */
	struct ctl_sub *subs;
	unsigned int nsubs;
	uint64_t events, events_lost, subs_refused;
	uint8_t dom_known[PV_MAX_DOMAINS];	/* "domain-arrived" said */
	int intro_watched, hooked;
	void (*on_event)(const char *event, void *arg);
	void *on_event_arg;
};

/* The pv_ctl whose subscribers pv_ctl_event() feeds (pvnetd has one). */
static struct pv_ctl *ctl_events;

struct ctl_conn {
	struct pv_ctl *ctl;
	int fd;
	int taken;		/* the socket went to a stream (capture): no answer here */
	struct pv_watch *w;
	char line[PV_CTL_LINE_MAX];
	size_t have;
	struct pv_buf out;
	size_t sent;
};

struct ctl_req {
	struct pv_ctl *ctl;
	int json;
	int argc;
	char *argv[PV_CTL_MAX_ARGS];
	struct pv_buf *out;
	struct ctl_conn *conn;
};

/* Return 0 or -errno; on error, out holds the message. */
typedef int (*ctl_fn)(struct ctl_req *r);

/* "key=value" argument lookup. */
static const char *ctl_opt(const struct ctl_req *r, const char *key)
{
	size_t kl = strlen(key);

	for (int i = 1; i < r->argc; i++)
		if (!strncmp(r->argv[i], key, kl) && r->argv[i][kl] == '=')
			return r->argv[i] + kl + 1;
	return NULL;
}

static int ctl_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno || *end || *v > max ? -EINVAL : 0;
}

static int ctl_fail(struct ctl_req *r, int err, const char *msg)
{
	pv_buf_printf(r->out, "%s", msg);
	return err;
}

/* A usage error (pvnet/ctl.h: the message starts "usage:"; pvnetctl exits 2). */
static int ctl_usage(struct ctl_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ctl_usage(struct ctl_req *r, const char *fmt, ...)
{
	const struct pv_ctl_cmd *cmd = pv_ctl_cmd_find(r->argv[0]);
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pv_buf_printf(r->out, "usage: %s %s%s%s", r->argv[0], cmd ? cmd->args : "",
		      why[0] ? ": " : "", why);
	return -EINVAL;
}

/* DOMID and DEVID arguments at @i and @i + 1, or a usage error. */
static int ctl_ids(struct ctl_req *r, int i, unsigned long *dom, unsigned long *dev)
{
	if (ctl_uint(r->argv[i], PV_MAX_DOMAINS - 1, dom) < 0)
		return ctl_usage(r, "bad DOMID '%s' (want 0..%d)", r->argv[i], PV_MAX_DOMAINS - 1);
	if (ctl_uint(r->argv[i + 1], PV_TS_MAX_DEVID, dev) < 0)
		return ctl_usage(r, "bad DEVID '%s' (want 0..%d)", r->argv[i + 1], PV_TS_MAX_DEVID);
	return 0;
}

/* Is an accelerator plugin registered for @nic?  Else the refusal. */
static int ctl_nic_known(struct ctl_req *r, const char *nic)
{
	struct pv_buf scratch = { 0 };
	struct pv_kv kv;
	int e;

	if (!pv_accel_name_ok(nic))
		return ctl_usage(r, "bad NIC name '%s' (want [a-z0-9_.-]{1,31})", nic);
	pv_kv_begin(&kv, &scratch, 0);
	e = pv_accel_back_show_nic(nic, &kv);
	pv_kv_end(&kv);
	pv_buf_free(&scratch);
	if (e == -ENOENT) {
		pv_buf_printf(r->out, "no such accelerator plugin: no plugin serves NIC '%s'", nic);
		return -ENOENT;
	}
	return 0;
}

/*
 * --nic: the host VI's port as pvnetd sees it (what it sent and dropped
 * on the way to the NIC, the backlog) and as the NIC counts it (what the
 * NIC could not deliver to it: rx_no_desc and the rest): every frame
 * between the bridge and the wire accounted for.
 */
static void ctl_status_nicport(struct pv_nicport *np, struct pv_kv *kv)
{
	struct pv_nicport_stats ns;
	struct pv_nic_vi_stats vs;

	pv_nicport_stats(np, &ns);
	pv_kv_u64(kv, "nic_port_connected", (uint64_t)ns.connected);
	pv_kv_u64(kv, "nic_port_tx_packets", ns.port.tx_packets);
	pv_kv_u64(kv, "nic_port_tx_dropped", ns.port.tx_dropped);
	pv_kv_u64(kv, "nic_port_tx_no_room", ns.tx_no_room);
	pv_kv_u64(kv, "nic_port_tx_too_big", ns.tx_too_big);
	pv_kv_u64(kv, "nic_port_tx_bad_frame", ns.tx_bad_frame);
	pv_kv_u64(kv, "nic_port_tx_down", ns.tx_down);
	pv_kv_u64(kv, "nic_port_tx_backlog", ns.tx_backlog);
	pv_kv_u64(kv, "nic_port_tx_backlog_max", ns.tx_backlog_max);
	pv_kv_u64(kv, "nic_port_rx_packets", ns.port.rx_packets);
	pv_kv_u64(kv, "nic_port_rx_dropped", ns.port.rx_dropped);
	pv_kv_u64(kv, "nic_port_nic_errors", ns.nic_errors);
	pv_kv_u64(kv, "nic_port_bad_events", ns.bad_events);
	if (pv_nicport_vi_stats(np, &vs) == 0) {
		pv_kv_u64(kv, "nic_host_vi_rx_frames", vs.rx_frames);
		pv_kv_u64(kv, "nic_host_vi_rx_no_desc", vs.rx_no_desc);
		pv_kv_u64(kv, "nic_host_vi_rx_held", vs.rx_held);
		pv_kv_u64(kv, "nic_host_vi_rx_held_bytes_max", vs.rx_held_bytes_max);
		pv_kv_u64(kv, "nic_host_vi_rx_no_evq", vs.rx_no_evq);
		pv_kv_u64(kv, "nic_host_vi_rx_too_big", vs.rx_too_big);
		pv_kv_u64(kv, "nic_host_vi_rx_bad_desc", vs.rx_bad_desc);
		pv_kv_u64(kv, "nic_host_vi_tx_frames", vs.tx_frames);
		pv_kv_u64(kv, "nic_host_vi_tx_port_errors", vs.tx_port_errors);
	}
}

static int cmd_status(struct ctl_req *r)
{
	struct pv_hv *hv = r->ctl->ctx.hv;
	struct pv_bridge_stats bs;
	struct xs_stats xs;
	struct pv_kv kv;

	struct pv_bridge *br = pv_switch_bridge(r->ctl->ctx.sw);
	uint64_t cap_drops = 0, move_denied = 0;

	pv_bridge_stats(br, &bs);
	for (int p = 0; p < PV_BRIDGE_MAX_PORTS; p++) {
		struct pv_bridge_port_stats ps;

		if (pv_bridge_port_stats(br, p, &ps) == 0) {
			cap_drops += ps.cap_drops;
			move_denied += ps.move_denied;
		}
	}
	xs_server_stats(r->ctl->ctx.xs, &xs);
	pv_kv_begin(&kv, r->out, r->json);
	pv_kv_u64(&kv, "pid", (uint64_t)getpid());
	pv_kv_u64(&kv, "uptime_s", (uint64_t)(time(NULL) - r->ctl->ctx.started));
	pv_kv_u64(&kv, "domains", pv_domain_count(hv));
	pv_kv_u64(&kv, "domains_registered", hv->st.registered);
	pv_kv_u64(&kv, "domains_destroyed", hv->st.destroyed);
	pv_kv_u64(&kv, "hv_bad_requests", hv->st.bad_msgs);
	pv_kv_u64(&kv, "hv_rejected_peers", hv->st.rejected_peers);
	pv_kv_u64(&kv, "grant_maps", hv->st.gnt.maps);
	pv_kv_u64(&kv, "grant_copies", hv->st.gnt.copies);
	pv_kv_u64(&kv, "grant_refusals", hv->st.gnt.bad_ref + hv->st.gnt.not_granted +
		  hv->st.gnt.wrong_domid + hv->st.gnt.readonly_write + hv->st.gnt.bad_frame +
		  hv->st.gnt.bad_range + hv->st.gnt.busy);
	pv_kv_u64(&kv, "xs_requests", xs.requests);
	pv_kv_u64(&kv, "xs_errors", xs.errors);
	pv_kv_u64(&kv, "xs_bad_messages", xs.bad_msgs);
	pv_kv_u64(&kv, "xs_quota_hits", xs.quota_hits);
	pv_kv_u64(&kv, "xs_nodes", xs.nodes);
	pv_kv_u64(&kv, "bridge_entries", bs.entries);
	pv_kv_u64(&kv, "bridge_ports", bs.ports);
	pv_kv_u64(&kv, "bridge_floods", bs.floods);
	pv_kv_u64(&kv, "bridge_forwards", bs.forwards);
	pv_kv_u64(&kv, "bridge_table_full", bs.table_full);
	pv_kv_u64(&kv, "bridge_cap_drops", cap_drops);
	pv_kv_u64(&kv, "bridge_move_denied", move_denied);
	pv_kv_u64(&kv, "bridge_aged", bs.aged);
	pv_kv_u64(&kv, "monitor_subscribers", r->ctl->nsubs);
	pv_kv_u64(&kv, "monitor_events", r->ctl->events);
	pv_kv_u64(&kv, "monitor_events_lost", r->ctl->events_lost);
	pv_kv_u64(&kv, "monitor_refused", r->ctl->subs_refused);
	if (r->ctl->ctx.np)
		ctl_status_nicport(r->ctl->ctx.np, &kv);
	if (r->ctl->ctx.mig) {
		struct pv_mig_stats ms;

		pv_mig_stats(r->ctl->ctx.mig, &ms);
		pv_kv_u64(&kv, "mig_exported", ms.exported);
		pv_kv_u64(&kv, "mig_offers_taken", ms.offers_taken);
		pv_kv_u64(&kv, "mig_offers_refused", ms.offers_refused);
		pv_kv_u64(&kv, "mig_begun", ms.begun);
		pv_kv_u64(&kv, "mig_suspends", ms.suspends);
		pv_kv_u64(&kv, "mig_aborted", ms.aborted);
		pv_kv_u64(&kv, "mig_cancelled", ms.cancelled);
		pv_kv_u64(&kv, "mig_arrived", ms.arrived);
		pv_kv_u64(&kv, "mig_returned", ms.returned);
		pv_kv_u64(&kv, "mig_expired", ms.expired);
	}
	pv_kv_end(&kv);
	return 0;
}

static int cmd_domain_list(struct ctl_req *r)
{
	static const struct pv_col cols[] = {
		{ "domid", 1 }, { "name", 0 }, { "pid", 1 }, { "pages", 1 },
		{ "grants", 1 }, { "maps", 1 }, { "evtchns", 1 },
	};
	struct pv_hv *hv = r->ctl->ctx.hv;
	struct pv_table t;

	pv_table_init(&t, cols, 7);
	for (unsigned int i = 0; i < PV_MAX_DOMAINS; i++) {
		struct pv_domain *d = pv_domain_get(hv, i);
		char c[7][40];
		const char *cells[7];

		if (!d)
			continue;
		snprintf(c[0], 40, "%u", d->domid);
		snprintf(c[1], 40, "%s", d->name);
		snprintf(c[2], 40, "%d", (int)d->pid);
		snprintf(c[3], 40, "%u", d->nr_pages);
		snprintf(c[4], 40, "%u", d->nr_grants);
		snprintf(c[5], 40, "%u", d->live_maps);
		snprintf(c[6], 40, "%u", d->nr_bound);
		for (int k = 0; k < 7; k++)
			cells[k] = c[k];
		pv_table_row(&t, cells);
	}
	pv_table_render(&t, r->json, r->out);
	pv_table_free(&t);
	return 0;
}

/* Write (@nic) or remove (NULL) the backend's "accel" key of vif @dom.@dev. */
static int ctl_accel_key(struct ctl_req *r, unsigned int dom, unsigned int dev, const char *nic)
{
	char path[128];
	int err;

	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/%u/" PV_ACCEL_KEY_NIC, dom, dev);
	if (!nic)
		return (err = xs_server_rm(r->ctl->ctx.xs, path)) == -ENOENT ? 0 : err;
	return xs_server_write(r->ctl->ctx.xs, path, nic, strlen(nic));
}

/*
 * accel DOMID DEVID on [NIC] | off | show: switch a vif's acceleration at
 * run time.  netback probes or removes the plugin as the key changes.
 */
static int cmd_accel(struct ctl_req *r)
{
	char path[128], key[32] = "", fe[32] = "", state[8] = "", plugin[32], nic[32];
	unsigned long dom, dev;
	struct pv_vif_info vi;
	const char *name;
	struct pv_kv kv;
	int e;

	if ((e = ctl_ids(r, 1, &dom, &dev)) < 0)
		return e;
	if (strcmp(r->argv[3], "on") && strcmp(r->argv[3], "off") && strcmp(r->argv[3], "show"))
		return ctl_usage(r, "want on, off or show, not '%s'", r->argv[3]);
	if (r->argc > 4 && strcmp(r->argv[3], "on"))
		return ctl_usage(r, "only 'on' takes a NIC");
	if (pv_netback_vif_info(r->ctl->ctx.nb, (unsigned int)dom, (unsigned int)dev, &vi) < 0)
		return ctl_fail(r, -ENOENT, "no such vif");
	if (!strcmp(r->argv[3], "on")) {
		name = r->argc > 4 ? r->argv[4] : pv_accel_back_default_nic();
		if (!name)
			return ctl_fail(r, -EINVAL, "name the NIC (no single accelerator registered)");
		if ((e = ctl_nic_known(r, name)) < 0)
			return e;
		if (!(e = ctl_accel_key(r, (unsigned int)dom, (unsigned int)dev, name)))
			pv_ctl_event("accel-on", (int)dom, (int)dev, "nic", name, PV_EV_END);
		return e;
	}
	if (!strcmp(r->argv[3], "off")) {
		if (!(e = ctl_accel_key(r, (unsigned int)dom, (unsigned int)dev, NULL)))
			pv_ctl_event("accel-off", (int)dom, (int)dev, PV_EV_END);
		return e;
	}
	if (pv_accel_back_status(r->ctl->ctx.xs, (unsigned int)dom, (unsigned int)dev, plugin, nic))
		plugin[0] = nic[0] = '\0';
#define AKEY(k, buf) (snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%lu/%lu/%s", \
			       dom, dev, k), xs_server_read(r->ctl->ctx.xs, path, buf, sizeof(buf)))
	AKEY(PV_ACCEL_KEY_NIC, key);
	AKEY(PV_ACCEL_KEY_FRONTEND, fe);
	AKEY(PV_ACCEL_KEY_STATE, state);
#undef AKEY
	pv_kv_begin(&kv, r->out, r->json);
	pv_kv_str(&kv, "vif", vi.name);
	pv_kv_str(&kv, "accel", key);
	pv_kv_str(&kv, "plugin", plugin);
	pv_kv_str(&kv, "accel_frontend", fe);
	pv_kv_str(&kv, "accelstate", state);
	pv_accel_back_show(r->ctl->ctx.xs, (unsigned int)dom, (unsigned int)dev, &kv);
	pv_kv_end(&kv);
	return 0;
}

/* nic [NIC]: the NIC behind a backend accelerator, as its plugin sees it. */
static int cmd_nic(struct ctl_req *r)
{
	const char *nic = r->argc > 1 ? r->argv[1] : pv_accel_back_default_nic();
	struct pv_buf body = { 0 };
	struct pv_kv kv;
	int e;

	if (!nic)
		return ctl_fail(r, -ENOENT, "name the NIC (no single accelerator registered)");
	if (!pv_accel_name_ok(nic))
		return ctl_usage(r, "bad NIC name '%s' (want [a-z0-9_.-]{1,31})", nic);
	pv_kv_begin(&kv, &body, r->json);
	pv_kv_str(&kv, "nic", nic);
	e = pv_accel_back_show_nic(nic, &kv);
	pv_kv_end(&kv);
	if (!e)
		pv_buf_put(r->out, body.p, body.len);
	pv_buf_free(&body);
	if (e == -ENOENT)
		return ctl_fail(r, e, "no such accelerator plugin: none serves that NIC");
	if (e)
		return ctl_fail(r, e, "the accelerator shows nothing of its NIC");
	return 0;
}

/*
 * ctl_ip() - an ip= value, "ADDR[,ADDR...]" (IPv4 and IPv6 literals,
 * unicast, at most PV_SG_ADDRS_MAX), into @out as xl writes the `ip` key
 * (space separated).  Empty is allowed only if @empty_ok.
 * Return: 0, or the usage error (already written).
 */
static int ctl_ip(struct ctl_req *r, const char *s, int empty_ok, char *out, size_t size)
{
	struct pv_sg_addrs set;
	int e;

	if (!*s && empty_ok) {
		*out = 0;
		return 0;
	}
	e = *s && !strchr(s, ' ') ? pv_sg_addrs_parse(s, &set) : -EINVAL;
	if (e == -E2BIG)
		return ctl_usage(r, "bad ip '%.64s' (at most %d addresses)", s, PV_SG_ADDRS_MAX);
	if (e < 0 || !set.n)
		return ctl_usage(r, "bad ip '%.64s' (want ADDR[,ADDR...]: unicast IPv4 or IPv6 literals)", s);
	return pv_sg_addrs_format(&set, out, (unsigned int)size) < 0 ? -ENOSPC : 0;
}

/* vif-create's keys, as in pv_ctl_cmds' usage. */
static const char *const vif_keys[] = { "devid", "mac", "mtu", "bridge", "rate", "accel", "ip" };

static int cmd_vif_create(struct ctl_req *r)
{
	struct pv_vif_params p;
	unsigned long v;
	const char *s;
	char mac[18];
	int err;

	memset(&p, 0, sizeof(p));
	if (ctl_uint(r->argv[1], PV_MAX_DOMAINS - 1, &v) < 0 || v == 0)
		return ctl_usage(r, "bad DOMID '%s' (want 1..%d)", r->argv[1], PV_MAX_DOMAINS - 1);
	p.domid = (unsigned int)v;
	for (int i = 2; i < r->argc; i++) {
		const char *eq = strchr(r->argv[i], '=');
		size_t k = 0, n = sizeof(vif_keys) / sizeof(vif_keys[0]);

		while (eq && k < n && (strlen(vif_keys[k]) != (size_t)(eq - r->argv[i]) ||
				       strncmp(vif_keys[k], r->argv[i], (size_t)(eq - r->argv[i]))))
			k++;
		if (!eq || k == n) {
			pv_buf_printf(r->out, "unknown key '%.*s' (want devid, mac, mtu, bridge, rate, accel, ip)",
				      eq ? (int)(eq - r->argv[i]) : (int)strlen(r->argv[i]), r->argv[i]);
			return -EINVAL;
		}
		for (int j = 2; j < i; j++)
			if (!strncmp(r->argv[j], r->argv[i], (size_t)(eq - r->argv[i]) + 1)) {
				pv_buf_printf(r->out, "key '%s' given twice", vif_keys[k]);
				return -EINVAL;
			}
	}
	if ((s = ctl_opt(r, "devid"))) {
		if (ctl_uint(s, PV_TS_MAX_DEVID, &v) < 0)
			return ctl_usage(r, "bad devid '%s' (want 0..%d)", s, PV_TS_MAX_DEVID);
		p.devid = (unsigned int)v;
	}
	if ((s = ctl_opt(r, "mac"))) {
		if (pv_mac_parse(s, p.mac) < 0)
			return ctl_usage(r, "bad mac '%s' (want xx:xx:xx:xx:xx:xx)", s);
		if (p.mac[0] & 1)
			return ctl_fail(r, -EADDRNOTAVAIL, "mac is multicast or broadcast: a vif needs a unicast MAC");
		if (!(p.mac[0] | p.mac[1] | p.mac[2] | p.mac[3] | p.mac[4] | p.mac[5]))
			return ctl_fail(r, -EADDRNOTAVAIL, "mac 00:00:00:00:00:00 is no station address (leave mac= out for a random one)");
	}
	if ((s = ctl_opt(r, "mtu"))) {
		if (ctl_uint(s, PV_TS_MAX_MTU, &v) < 0 || v < 68)
			return ctl_usage(r, "bad mtu '%s' (want 68..%d)", s, PV_TS_MAX_MTU);
		p.mtu = (unsigned int)v;
	}
	if ((s = ctl_opt(r, "bridge"))) {
		if (!*s || strlen(s) >= sizeof(p.bridge))
			return ctl_usage(r, "bad bridge '%s' (want 1..%zu characters)", s, sizeof(p.bridge) - 1);
		snprintf(p.bridge, sizeof(p.bridge), "%s", s);
	}
	if ((s = ctl_opt(r, "rate"))) {
		if (ctl_uint(s, ~0ul, &v) < 0)
			return ctl_usage(r, "bad rate '%s' (bits per second)", s);
		p.rate_bps = v;
	}
	if ((s = ctl_opt(r, "ip")) && (err = ctl_ip(r, s, 0, p.ip, sizeof(p.ip))) < 0)
		return err;
	if (!pv_domain_get(r->ctl->ctx.hv, p.domid))
		return ctl_fail(r, -ESRCH, "no such domain");
	if ((s = ctl_opt(r, "accel")) && (err = ctl_nic_known(r, s)) < 0)
		return err;
	err = pv_ts_vif_create(r->ctl->ctx.xs, &p);
	if (err == -EEXIST)
		return ctl_fail(r, err, "vif exists");
	if (err == -EADDRINUSE)
		return ctl_fail(r, err, "mac in use: another vif has it");
	if (err == -EADDRNOTAVAIL)
		return ctl_fail(r, err, "mac is multicast or broadcast: a vif needs a unicast MAC");
	if (err)
		return ctl_fail(r, err, "cannot create vif (store write failed)");
	/* Accelerator: the backend's "accel" names the NIC (netback probes its plugin). */
	if (s && (err = ctl_accel_key(r, p.domid, p.devid, s)) < 0)
		return ctl_fail(r, err, "vif created, but cannot write its accel key");
	pv_mac_format(p.mac, mac);
	pv_ctl_event("vif-created", (int)p.domid, (int)p.devid, "mac", mac, PV_EV_END);
	if (r->json)
		pv_buf_printf(r->out, "{\"domid\": %u, \"devid\": %u, \"mac\": \"%s\", \"mtu\": %u}\n",
			      p.domid, p.devid, mac, p.mtu);
	else
		pv_buf_printf(r->out, "vif%u.%u mac %s mtu %u\n", p.domid, p.devid, mac, p.mtu);
	return 0;
}

/* vif-set DOMID DEVID ip=ADDR[,ADDR...]: the `ip` key at run time ("ip=": removed, learned). */
/*
 * vif-set DOMID DEVID SETTING=VALUE...: Xen-style backend keys written at
 * run time, each watched by the backends (netback, the accelerator):
 * ip (the vif's source addresses; "ip=": learned) and the storm keys
 * (storm-broadcast, storm-multicast, storm-unknown-unicast: "PPS" or
 * "PPS,BURST", "0": no limit, "": the defaults).  All are checked before
 * any is written.
 */
static int cmd_vif_set(struct ctl_req *r)
{
	static const char *const storm[] = { "storm-broadcast", "storm-multicast",
					     "storm-unknown-unicast" };
	char vals[PV_CTL_MAX_ARGS][PV_TS_IP_MAX];
	const char *keys[PV_CTL_MAX_ARGS];
	unsigned long dom, dev;
	int e, n = 0;

	if ((e = ctl_ids(r, 1, &dom, &dev)) < 0)
		return e;
	for (int i = 3; i < r->argc && n < PV_CTL_MAX_ARGS; i++, n++) {
		const char *a = r->argv[i], *eq = strchr(a, '=');
		size_t kl = eq ? (size_t)(eq - a) : 0;
		uint32_t pps, burst;

		keys[n] = NULL;
		if (eq && kl == 2 && !strncmp(a, "ip", 2)) {
			keys[n] = "ip";
			if ((e = ctl_ip(r, eq + 1, 1, vals[n], sizeof(vals[n]))) < 0)
				return e;
			continue;
		}
		for (size_t k = 0; eq && k < sizeof(storm) / sizeof(storm[0]); k++)
			if (kl == strlen(storm[k]) && !strncmp(a, storm[k], kl))
				keys[n] = storm[k];
		if (!keys[n])
			return ctl_usage(r, "unknown setting '%.32s' (want ip=, storm-broadcast=, "
					 "storm-multicast= or storm-unknown-unicast=)", a);
		if (eq[1] && pv_storm_parse(eq + 1, &pps, &burst) < 0)
			return ctl_usage(r, "bad %s '%.32s' (want PPS or PPS,BURST: at most %u and %u, "
					 "or empty for the default)", keys[n], eq + 1, PV_STORM_PPS_MAX,
					 PV_STORM_BURST_MAX);
		snprintf(vals[n], sizeof(vals[n]), "%s", eq + 1);
	}
	for (int i = 0; i < n; i++) {
		e = pv_ts_vif_set_key(r->ctl->ctx.xs, (unsigned int)dom, (unsigned int)dev, keys[i],
				      vals[i]);
		if (e == -ENOENT)
			return ctl_fail(r, e, "no such vif");
		if (e < 0)
			return ctl_fail(r, e, "cannot write the key");
		pv_ctl_event("vif-set", (int)dom, (int)dev, keys[i],
			     *vals[i] ? vals[i] : strcmp(keys[i], "ip") ? "(default)" : "(learned)",
			     PV_EV_END);
	}
	if (r->json)
		pv_buf_printf(r->out, "{\"vif\": \"vif%lu.%lu\"", dom, dev);
	for (int i = 0; i < n; i++) {
		const char *shown = *vals[i] ? vals[i] : strcmp(keys[i], "ip") ? "(default)" : "(learned)";

		if (r->json)
			pv_buf_printf(r->out, ", \"%s\": \"%s\"", keys[i], vals[i]);
		else
			pv_buf_printf(r->out, "vif%lu.%lu %s %s\n", dom, dev, keys[i], shown);
	}
	if (r->json)
		pv_buf_printf(r->out, "}\n");
	return 0;
}

static int cmd_vif_destroy(struct ctl_req *r)
{
	unsigned long dom, dev;
	int e;

	if ((e = ctl_ids(r, 1, &dom, &dev)) < 0)
		return e;
	if (pv_ts_vif_destroy(r->ctl->ctx.xs, (unsigned int)dom, (unsigned int)dev) < 0)
		return ctl_fail(r, -ENOENT, "no such vif");
	pv_ctl_event("vif-destroyed", (int)dom, (int)dev, PV_EV_END);
	return 0;
}

struct mac_dump {
	struct pv_table *t;
	struct pv_switch *sw;
};

static int mac_row(const struct pv_bridge_entry_info *e, void *arg)
{
	struct mac_dump *d = arg;
	struct pv_port *p = pv_switch_port(d->sw, e->port);
	char mac[18], age[24];
	const char *cells[4];

	pv_mac_format(e->mac, mac);
	snprintf(age, sizeof(age), "%llu", (unsigned long long)e->age_ms);
	cells[0] = mac;
	cells[1] = p ? p->name : "?";
	cells[2] = e->is_static ? "static" : "learned";
	cells[3] = age;
	pv_table_row(d->t, cells);
	return 0;
}

static int cmd_mac_table(struct ctl_req *r)
{
	static const struct pv_col cols[] = {
		{ "mac", 0 }, { "port", 0 }, { "type", 0 }, { "age_ms", 1 },
	};
	struct pv_table t;
	struct mac_dump d = { &t, r->ctl->ctx.sw };
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	pv_table_init(&t, cols, 4);
	pv_bridge_foreach_entry(pv_switch_bridge(r->ctl->ctx.sw),
				(uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, mac_row, &d);
	pv_table_render(&t, r->json, r->out);
	pv_table_free(&t);
	return 0;
}

const char *pv_ctl_xb_state(int s)
{
	static const char *names[] = { "Unknown", "Initialising", "InitWait", "Initialised",
				       "Connected", "Closing", "Closed", "Reconfiguring",
				       "Reconfigured" };

	return s >= 0 && s < (int)(sizeof(names) / sizeof(names[0])) ? names[s] : "?";
}

static int vif_row(const struct pv_vif_info *vi, void *arg)
{
	struct pv_table *t = arg;
	char c[10][32];
	const char *cells[11];

	snprintf(c[0], 32, "%s", vi->name);
	pv_mac_format(vi->mac, c[1]);
	snprintf(c[2], 32, "%u", vi->mtu);
	snprintf(c[3], 32, "%s", pv_ctl_xb_state(vi->be_state));
	snprintf(c[4], 32, "%s", pv_ctl_xb_state(vi->fe_state));
	snprintf(c[5], 32, "%llu", (unsigned long long)vi->st.tx_packets);
	snprintf(c[6], 32, "%llu", (unsigned long long)vi->st.rx_packets);
	snprintf(c[7], 32, "%llu", (unsigned long long)vi->st.tx_bytes);
	snprintf(c[8], 32, "%llu", (unsigned long long)vi->st.rx_bytes);
	snprintf(c[9], 32, "%llu", (unsigned long long)pv_vif_counters_drops(&vi->st));
	for (int i = 0; i < 10; i++)
		cells[i] = c[i];
	cells[10] = vi->disabled ? vi->reason : "";
	pv_table_row(t, cells);
	return 0;
}

static int cmd_vif_list(struct ctl_req *r)
{
	static const struct pv_col cols[] = {
		{ "vif", 0 }, { "mac", 0 }, { "mtu", 1 }, { "backend", 0 }, { "frontend", 0 },
		{ "tx_pkts", 1 }, { "rx_pkts", 1 }, { "tx_bytes", 1 }, { "rx_bytes", 1 },
		{ "drops", 1 }, { "disabled", 0 },
	};
	struct pv_table t;

	pv_table_init(&t, cols, 11);
	pv_netback_foreach_vif(r->ctl->ctx.nb, vif_row, &t);
	pv_table_render(&t, r->json, r->out);
	pv_table_free(&t);
	return 0;
}

static int cmd_vif_stats(struct ctl_req *r)
{
	struct pv_vif_info vi;
	unsigned long dom, dev;
	struct pv_kv kv;
	char mac[18], addrs[PV_SG_ADDRS_MAX * PV_SG_ADDR_STR + 1];
	int e;

	if ((e = ctl_ids(r, 1, &dom, &dev)) < 0)
		return e;
	if (pv_netback_vif_info(r->ctl->ctx.nb, (unsigned int)dom, (unsigned int)dev, &vi) < 0)
		return ctl_fail(r, -ENOENT, "no such vif");
	pv_mac_format(vi.mac, mac);
	pv_kv_begin(&kv, r->out, r->json);
	pv_kv_str(&kv, "vif", vi.name);
	pv_kv_str(&kv, "mac", mac);
	pv_kv_u64(&kv, "mtu", vi.mtu);
	pv_kv_str(&kv, "backend_state", pv_ctl_xb_state(vi.be_state));
	pv_kv_str(&kv, "frontend_state", pv_ctl_xb_state(vi.fe_state));
	pv_kv_u64(&kv, "connected", (uint64_t)vi.connected);
	pv_kv_str(&kv, "disabled_reason", vi.disabled ? vi.reason : "");
	pv_kv_u64(&kv, "features", vi.features);
	pv_kv_u64(&kv, "rate_limit_bps", vi.rate_usec ? vi.rate_bytes * 8 * 1000000 / vi.rate_usec : 0);
	pv_sg_addrs_format(&vi.addrs, addrs, sizeof(addrs));
	pv_kv_str(&kv, "ip_mode", vi.addrs_fixed ? "ip" : "learned");
	pv_kv_str(&kv, "ip", addrs);
	for (unsigned int i = 0; i < pv_vif_nr_counters; i++)
		pv_kv_u64(&kv, pv_vif_counters[i].name, pv_vif_counter_get(&vi.st, &pv_vif_counters[i]));
	pv_kv_end(&kv);
	return 0;
}

/* port-list: every port on the switch, by its name (what capture PORT takes). */
static int cmd_port_list(struct ctl_req *r)
{
	static const struct pv_col cols[] = {
		{ "port", 0 }, { "kind", 0 }, { "rx_packets", 1 }, { "rx_bytes", 1 },
		{ "tx_packets", 1 }, { "tx_bytes", 1 }, { "rx_dropped", 1 }, { "tx_dropped", 1 },
		{ "storm_drops", 1 }, { "capture", 0 },
	};
	enum { NCOLS = sizeof(cols) / sizeof(cols[0]) };
	struct pv_table t;

	pv_table_init(&t, cols, NCOLS);
	for (int i = 0; i < PV_BRIDGE_MAX_PORTS; i++) {
		struct pv_port *p = pv_switch_port(r->ctl->ctx.sw, i);
		char num[7][24];
		const char *cells[NCOLS];
		uint64_t storm = 0;

		if (!p)
			continue;
		for (int k = 0; k < PV_STORM_KINDS; k++)
			storm += p->st.storm_drops[k];
		snprintf(num[0], sizeof(num[0]), "%llu", (unsigned long long)p->st.rx_packets);
		snprintf(num[1], sizeof(num[1]), "%llu", (unsigned long long)p->st.rx_bytes);
		snprintf(num[2], sizeof(num[2]), "%llu", (unsigned long long)p->st.tx_packets);
		snprintf(num[3], sizeof(num[3]), "%llu", (unsigned long long)p->st.tx_bytes);
		snprintf(num[4], sizeof(num[4]), "%llu", (unsigned long long)p->st.rx_dropped);
		snprintf(num[5], sizeof(num[5]), "%llu", (unsigned long long)p->st.tx_dropped);
		snprintf(num[6], sizeof(num[6]), "%llu", (unsigned long long)storm);
		cells[0] = p->name;
		cells[1] = p->ops && p->ops->kind ? p->ops->kind : "?";
		for (int k = 0; k < 7; k++)
			cells[2 + k] = num[k];
		cells[9] = p->capture ? "on" : "-";
		pv_table_row(&t, cells);
	}
	pv_table_render(&t, r->json, r->out);
	pv_table_free(&t);
	return 0;
}

/*
 * capture vi:N: pvnet-nicd streams VI N's frames itself, straight into
 * this connection (PV_NIC_CAPTURE through the host VI's connection: the
 * NIC, not pvnetd, sees the fast path).
 */
static int ctl_capture_vi(struct ctl_req *r, const char *id)
{
	char *end, msg[96];
	unsigned long vi;
	int e, fd;

	errno = 0;
	vi = strtoul(id, &end, 10);
	if (errno || !*id || *end || *id == '-' || vi >= UINT32_MAX)
		return ctl_usage(r, "bad VI '%s' (want vi:N, N as pvnetctl nic or accel show names it)", id);
	if (!r->ctl->ctx.np)
		return ctl_fail(r, -ENODEV, "pvnetd has no NIC (--nic): no VIs to capture");
	if ((fd = fcntl(r->conn->fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return ctl_fail(r, -errno, "cannot start the capture");
	e = pv_nicport_capture_vi(r->ctl->ctx.np, (uint32_t)vi, fd);
	if (e) {
		snprintf(msg, sizeof(msg), "%s", e == -ENOENT ? "no such VI on the NIC" :
			 e == -EBUSY ? "a capture runs on that VI already" :
			 e == -EOPNOTSUPP ? "this pvnet-nicd cannot capture (no PV_NIC_FEAT_CAPTURE)" :
			 e == -ENOTCONN ? "pvnet-nicd is not connected now" : "the NIC refused the capture");
		return ctl_fail(r, e, msg);
	}
	r->conn->taken = 1;	/* the NIC writes the stream, "ok" first */
	return 0;
}

/*
 * capture DOMID DEVID | capture PORT: the connection becomes the capture
 * stream (capture.h) of a vif, or of any switch port by its name (vifD.N,
 * uplink:IF, host:TAP, nic:RUNDIR: as mac-table shows them).
 */
static int cmd_capture(struct ctl_req *r)
{
	char name[sizeof(((struct pv_port *)0)->name)];
	unsigned long dom, dev;
	struct pv_port *p = NULL;
	int e, fd;

	if (r->argc != 2 && r->argc != 3)
		return ctl_usage(r, "pvnetd takes DOMID DEVID or PORT only (the options are pvnetctl's)");
	if (r->argc == 2 && !strncmp(r->argv[1], "vi:", 3))
		return ctl_capture_vi(r, r->argv[1] + 3);
	if (r->argc == 3) {
		if ((e = ctl_ids(r, 1, &dom, &dev)) < 0)
			return e;
		snprintf(name, sizeof(name), "vif%lu.%lu", dom, dev);
	} else if (snprintf(name, sizeof(name), "%s", r->argv[1]) >= (int)sizeof(name)) {
		return ctl_usage(r, "bad PORT '%s' (too long for a port name)", r->argv[1]);
	}
	for (int i = 0; i < PV_BRIDGE_MAX_PORTS && !p; i++)
		if ((p = pv_switch_port(r->ctl->ctx.sw, i)) && strcmp(p->name, name))
			p = NULL;
	if (!p && r->argc == 3)
		return ctl_fail(r, -ENOENT, "no such vif (or not on the switch: not connected)");
	if (!p) {
		char msg[128];

		snprintf(msg, sizeof(msg), "no such port '%s' on the switch (pvnetctl port-list lists them)", name);
		return ctl_fail(r, -ENOENT, msg);
	}
	if (p->capture)
		return ctl_fail(r, -EBUSY, "a capture runs on that vif or port already");
	if ((fd = dup(r->conn->fd)) < 0)
		return ctl_fail(r, -errno, "cannot start the capture");
	e = pv_capture_start(r->ctl->ctx.loop, p, fd);
	if (e)
		return ctl_fail(r, e, "cannot start the capture");
	r->conn->taken = 1;
	return 0;
}

/*
 * mig STEP ...: one step of a live migration (migrate.c's Theory of
 * Operation); pvnetctl's "migrate" runs them on both hosts in order.
 */
static int cmd_mig(struct ctl_req *r)
{
	/* nargs: words with "mig" and the step */
	static const struct { const char *step; int ids, nargs; } steps[] = {
		{ "export", 1, 4 }, { "prepare", 0, 3 }, { "begin", 1, 5 },
		{ "suspend", 1, 4 }, { "abort", 1, 4 }, { "cancel", 0, 3 },
	};
	struct pv_mig *m = r->ctl->ctx.mig;
	char msg[256] = "", hex[13];
	unsigned long dom = 0, dev = 0;
	const char *st = r->argv[1];
	size_t k = 0;
	int e;

	while (k < sizeof(steps) / sizeof(steps[0]) && strcmp(steps[k].step, st))
		k++;
	if (k == sizeof(steps) / sizeof(steps[0]))
		return ctl_usage(r, "unknown step '%s'", st);
	if (r->argc != steps[k].nargs)
		return ctl_usage(r, "wrong number of arguments for '%s'", st);
	if (!m)
		return ctl_fail(r, -ENOSYS, "this pvnetd has no migration support");
	if (steps[k].ids && (e = ctl_ids(r, 2, &dom, &dev)) < 0)
		return e;
	if (!strcmp(st, "export")) {
		struct pv_domain *d = pv_domain_get(r->ctl->ctx.hv, (unsigned int)dom);

		if (!d)
			return ctl_fail(r, -ESRCH, "no such domain");
		e = pv_mig_export(m, (unsigned int)dom, (unsigned int)dev, d->name, hex, msg, sizeof(msg));
		if (!e)
			pv_buf_printf(r->out, "%s %s\n", hex, msg);
	} else if (!strcmp(st, "prepare")) {
		e = pv_mig_prepare(m, r->argv[2], msg, sizeof(msg));
		if (!e)
			pv_buf_printf(r->out, "%s\n", msg);
	} else if (!strcmp(st, "begin")) {
		e = pv_mig_begin(m, (unsigned int)dom, (unsigned int)dev, r->argv[4], msg, sizeof(msg));
		if (!e)
			pv_buf_printf(r->out, "%s\n", msg);
	} else if (!strcmp(st, "suspend")) {
		e = pv_mig_suspend(m, (unsigned int)dom, (unsigned int)dev, msg, sizeof(msg));
	} else if (!strcmp(st, "abort")) {
		e = pv_mig_abort(m, (unsigned int)dom, (unsigned int)dev, msg, sizeof(msg));
	} else {
		e = pv_mig_cancel(m, r->argv[2]);
		if (e == -EINVAL)
			return ctl_usage(r, "bad MACHEX '%s' (want 12 hex digits)", r->argv[2]);
		snprintf(msg, sizeof(msg), "no migration record of %s", r->argv[2]);
	}
	if (e && !strncmp(msg, "usage:", 6))
		return ctl_usage(r, "%s", msg + 7);
	if (!e)
		pv_ctl_event("migration", steps[k].ids ? (int)dom : -1, steps[k].ids ? (int)dev : -1,
			     "step", st, steps[k].ids ? NULL : "machex", r->argv[2], PV_EV_END);
	return e ? ctl_fail(r, e, msg) : 0;
}

/* ---- monitor: the event stream (pvnet/ctl.h) ---- */

static void ctl_sub_free(struct ctl_sub *s)
{
	struct pv_ctl *ctl = s->ctl;

	for (struct ctl_sub **pp = &ctl->subs; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	pv_loop_del(ctl->ctx.loop, s->w);
	close(s->fd);
	ctl->nsubs--;
	free(s);
}

/* Send what the queue holds, without waiting.  Return: 0, or -1 if @s is gone. */
static int ctl_sub_flush(struct ctl_sub *s)
{
	while (s->len) {
		ssize_t n = send(s->fd, s->q + s->off, s->len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			ctl_sub_free(s);	/* the reader went away */
			return -1;
		}
		s->off += (size_t)n;
		s->len -= (size_t)n;
	}
	if (!s->len)
		s->off = 0;
	pv_loop_mod(s->ctl->ctx.loop, s->w, s->len ? EPOLLIN | EPOLLOUT : EPOLLIN);
	return 0;
}

/* Queue @n bytes of @line, whole or not at all. */
static int ctl_sub_put(struct ctl_sub *s, const char *line, size_t n)
{
	if (s->len + n > sizeof(s->q))
		return -ENOSPC;
	if (s->off + s->len + n > sizeof(s->q)) {
		memmove(s->q, s->q + s->off, s->len);
		s->off = 0;
	}
	memcpy(s->q + s->off + s->len, line, n);
	s->len += n;
	return 0;
}

/* "2026-12-02T06:30:00.123Z": CLOCK_REALTIME, UTC, milliseconds. */
static void ctl_ev_time(char out[32])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/*
 * One event as a line, text or JSON (pvnet/ctl.h).  Text: TIME EVENT
 * [vifD.N | domD] key=value..., a value with white space, '"' or nothing
 * in double quotes (its '"' as '\'').  @kv: NULL-terminated pairs.
 */
static void ctl_ev_render(struct pv_buf *b, int json, const char *tm, const char *event, int domid,
			  int devid, const char *const *kv)
{
	if (json) {
		pv_buf_printf(b, "{\"time\": \"%s\", \"event\": ", tm);
		pv_json_str(b, event);
		if (domid >= 0)
			pv_buf_printf(b, ", \"domid\": %d", domid);
		if (devid >= 0)
			pv_buf_printf(b, ", \"devid\": %d, \"vif\": \"vif%d.%d\"", devid, domid, devid);
		for (int i = 0; kv[i] && kv[i + 1]; i += 2) {
			pv_buf_printf(b, ", ");
			pv_json_str(b, kv[i]);
			pv_buf_printf(b, ": ");
			pv_json_str(b, kv[i + 1]);
		}
		pv_buf_printf(b, "}\n");
		return;
	}
	pv_buf_printf(b, "%s %s", tm, event);
	if (devid >= 0)
		pv_buf_printf(b, " vif%d.%d", domid, devid);
	else if (domid >= 0)
		pv_buf_printf(b, " dom%d", domid);
	for (int i = 0; kv[i] && kv[i + 1]; i += 2) {
		const char *v = kv[i + 1];
		int quote = !*v || strpbrk(v, " \t\n\"") != NULL;

		pv_buf_printf(b, " %s=%s", kv[i], quote ? "\"" : "");
		for (; *v; v++)
			pv_buf_printf(b, "%c", *v == '"' ? '\'' : (unsigned char)*v < ' ' ? ' ' : *v);
		if (quote)
			pv_buf_printf(b, "\"");
	}
	pv_buf_printf(b, "\n");
}

/* Queue one rendered event on @s; first the "lost" line if events were lost and there is room. */
static void ctl_sub_event(struct ctl_sub *s, const char *tm, const char *line, size_t n)
{
	if (s->lost) {
		struct pv_buf b = { 0 };
		char cnt[24];
		const char *kv[] = { "count", cnt, NULL };

		snprintf(cnt, sizeof(cnt), "%llu", (unsigned long long)s->lost);
		ctl_ev_render(&b, s->json, tm, "lost", -1, -1, kv);
		if (b.oom || s->len + b.len + n > sizeof(s->q)) {
			pv_buf_free(&b);
			s->lost++;
			s->ctl->events_lost++;
			return;
		}
		ctl_sub_put(s, b.p, b.len);
		pv_buf_free(&b);
		s->lost = 0;
	}
	if (ctl_sub_put(s, line, n) < 0) {
		s->lost++;
		s->ctl->events_lost++;
	}
}

static void ctl_ev_send(struct pv_ctl *ctl, const char *event, int domid, int devid,
			const char *const *kv)
{
	struct pv_buf line[2] = { { 0 }, { 0 } };
	struct ctl_sub *s, *next;
	char tm[32];

	ctl->events++;
	if (ctl->subs) {
		ctl_ev_time(tm);
		for (int j = 0; j < 2; j++)
			ctl_ev_render(&line[j], j, tm, event, domid, devid, kv);
		for (s = ctl->subs; s; s = next) {
			const struct pv_buf *l = &line[s->json];

			next = s->next;
			if (l->oom || l->len > CTL_EV_LINE) {
				s->lost++;
				ctl->events_lost++;
				continue;
			}
			ctl_sub_event(s, tm, l->p, l->len);
			ctl_sub_flush(s);
		}
		pv_buf_free(&line[0]);
		pv_buf_free(&line[1]);
	}
	if (ctl->on_event)
		ctl->on_event(event, ctl->on_event_arg);
}

#define CTL_EV_MAX_KV 16

void pv_ctl_event(const char *event, int domid, int devid, ...)
{
	const char *kv[CTL_EV_MAX_KV + 1];
	va_list ap;
	int n = 0;

	if (!ctl_events)
		return;
	va_start(ap, devid);
	while (n < CTL_EV_MAX_KV && (kv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	kv[n & ~1] = NULL;
	ctl_ev_send(ctl_events, event, domid, devid, kv);
}

void pv_ctl_event_vif_state(unsigned int domid, unsigned int devid, int be_state, int fe_state)
{
	pv_ctl_event("vif-state", (int)domid, (int)devid, "backend", pv_ctl_xb_state(be_state),
		     "frontend", pv_ctl_xb_state(fe_state), PV_EV_END);
}

void pv_ctl_on_event(struct pv_ctl *ctl, void (*cb)(const char *event, void *arg), void *arg)
{
	ctl->on_event = cb;
	ctl->on_event_arg = arg;
}

/* @introduceDomain: the domains not yet said are new. */
static void ctl_intro_cb(struct xs_server *xs, const char *path, const char *token, void *arg)
{
	struct pv_ctl *ctl = arg;

	(void)xs;
	(void)path;
	(void)token;
	for (unsigned int i = 1; i < PV_MAX_DOMAINS; i++) {
		struct pv_domain *d = pv_domain_get(ctl->ctx.hv, i);

		if (d && !d->dying && !ctl->dom_known[i]) {
			ctl->dom_known[i] = 1;
			pv_ctl_event("domain-arrived", (int)i, -1, "name", d->name, PV_EV_END);
		}
	}
}

/* A domain about to be destroyed (hv's hook). */
static void ctl_dom_gone(struct pv_hv *hv, struct pv_domain *d, void *arg)
{
	struct pv_ctl *ctl = arg;

	(void)hv;
	if (d->domid >= PV_MAX_DOMAINS)
		return;
	ctl->dom_known[d->domid] = 0;
	pv_ctl_event("domain-departed", (int)d->domid, -1, "name", d->name, PV_EV_END);
}

static void ctl_sub_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ctl_sub *s = arg;
	char junk[256];
	ssize_t n;

	(void)loop;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);	/* the reader says nothing */
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			ctl_sub_free(s);
			return;
		}
	}
	if (events & EPOLLOUT)
		ctl_sub_flush(s);
}

/* monitor: the connection becomes an event stream ("ok", "subscribed", the events). */
static int cmd_monitor(struct ctl_req *r)
{
	struct pv_ctl *ctl = r->ctl;
	struct ctl_sub *s;
	char pid[16], subs[16];
	int fd;

	if (r->argc != 1)
		return ctl_usage(r, "pvnetd takes no arguments (--json is pvnetctl's)");
	if (ctl->nsubs >= CTL_MAX_SUBS) {
		ctl->subs_refused++;
		pv_buf_printf(r->out, "too many monitors (at most %d)", CTL_MAX_SUBS);
		return -EBUSY;
	}
	if (!(s = calloc(1, sizeof(*s))))
		return ctl_fail(r, -ENOMEM, "out of memory");
	if ((fd = dup(r->conn->fd)) < 0) {
		free(s);
		return ctl_fail(r, -errno, "cannot start the monitor");
	}
	/* A small send buffer: what waits for a slow reader is bounded by CTL_SUB_QUEUE and this. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ CTL_SUB_QUEUE / 2 }, sizeof(int));
	s->ctl = ctl;
	s->fd = fd;
	s->json = r->json;
	s->w = pv_loop_add(ctl->ctx.loop, fd, EPOLLIN, ctl_sub_cb, s);
	if (!s->w) {
		close(fd);
		free(s);
		return ctl_fail(r, -ENOMEM, "cannot start the monitor");
	}
	s->next = ctl->subs;
	ctl->subs = s;
	ctl->nsubs++;
	ctl_sub_put(s, "ok\n", 3);
	r->conn->taken = 1;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(subs, sizeof(subs), "%u", ctl->nsubs);
	/* To this subscriber alone: the others did not ask. */
	{
		struct pv_buf b = { 0 };
		const char *kv[] = { "pid", pid, "monitors", subs, NULL };
		char tm[32];

		ctl_ev_time(tm);
		ctl_ev_render(&b, s->json, tm, "subscribed", -1, -1, kv);
		if (!b.oom)
			ctl_sub_put(s, b.p, b.len);
		pv_buf_free(&b);
	}
	ctl_sub_flush(s);
	return 0;
}

/* The handlers of pv_ctl_cmds' PV_CTL_REMOTE (and _STREAM) commands. */
static const ctl_fn ctl_fns[PV_CTL_NR_CMDS] = {
	[PV_CTL_STATUS] = cmd_status,
	[PV_CTL_DOMAIN_LIST] = cmd_domain_list,
	[PV_CTL_VIF_LIST] = cmd_vif_list,
	[PV_CTL_VIF_STATS] = cmd_vif_stats,
	[PV_CTL_VIF_CREATE] = cmd_vif_create,
	[PV_CTL_ACCEL] = cmd_accel,
	[PV_CTL_NIC] = cmd_nic,
	[PV_CTL_VIF_DESTROY] = cmd_vif_destroy,
	[PV_CTL_VIF_SET] = cmd_vif_set,
	[PV_CTL_MAC_TABLE] = cmd_mac_table,
	[PV_CTL_PORT_LIST] = cmd_port_list,
	[PV_CTL_CAPTURE] = cmd_capture,
	[PV_CTL_MIG] = cmd_mig,
	[PV_CTL_MONITOR] = cmd_monitor,
};

static void ctl_execute(struct ctl_conn *c)
{
	struct pv_buf body = { 0 };
	struct ctl_req r = { .ctl = c->ctl, .out = &body, .conn = c };
	const struct pv_ctl_cmd *cmd;
	char *save = NULL, *tok;
	int err = -ENOSYS;

	tok = strtok_r(c->line, " \t\r\n", &save);
	r.json = tok && !strcmp(tok, "J");
	while ((tok = strtok_r(NULL, " \t\r\n", &save)) && r.argc < PV_CTL_MAX_ARGS)
		r.argv[r.argc++] = tok;
	if (!r.argc) {
		err = -EINVAL;
		pv_buf_printf(&body, "empty request");
	} else if (!(cmd = pv_ctl_cmd_find(r.argv[0])) || cmd->where == PV_CTL_LOCAL ||
		   !ctl_fns[cmd - pv_ctl_cmds]) {
		pv_buf_printf(&body, "unknown command '%s'", r.argv[0]);
	} else if (r.argc - 1 < cmd->min_args || r.argc - 1 > cmd->max_args) {
		err = -EINVAL;
		pv_buf_printf(&body, "usage: %s %s", cmd->name, cmd->args);
	} else {
		err = ctl_fns[cmd - pv_ctl_cmds](&r);
	}
	if (c->taken)
		;	/* the stream answers "ok" itself */
	else if (err)
		pv_buf_printf(&c->out, "error %d %s\n", -err, body.p ? body.p : "");
	else
		pv_buf_printf(&c->out, "ok\n%s", body.p ? body.p : "");
	pv_buf_free(&body);
}

static void ctl_conn_free(struct ctl_conn *c)
{
	pv_loop_del(c->ctl->ctx.loop, c->w);
	close(c->fd);
	pv_buf_free(&c->out);
	c->ctl->nconns--;
	free(c);
}

static void ctl_conn_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ctl_conn *c = arg;
	ssize_t n;

	if (c->out.len || c->out.oom) {
		if (c->out.oom) {
			ctl_conn_free(c);
			return;
		}
		n = send(fd, c->out.p + c->sent, c->out.len - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			c->sent += (size_t)n;
		if ((n < 0 && errno != EAGAIN) || c->sent == c->out.len)
			ctl_conn_free(c);
		return;
	}
	n = recv(fd, c->line + c->have, sizeof(c->line) - 1 - c->have, MSG_DONTWAIT);
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			ctl_conn_free(c);
		return;
	}
	c->have += (size_t)n;
	c->line[c->have] = '\0';
	if (!memchr(c->line, '\n', c->have)) {
		if (c->have == sizeof(c->line) - 1)
			ctl_conn_free(c);	/* no newline in a whole line's worth */
		return;
	}
	ctl_execute(c);
	if (c->taken) {
		ctl_conn_free(c);	/* the stream holds its own descriptor */
		return;
	}
	pv_loop_mod(loop, c->w, EPOLLOUT);
}

static void ctl_accept_cb(struct pv_loop *loop, int lfd, uint32_t events, void *arg)
{
	struct pv_ctl *ctl = arg;
	struct ctl_conn *c;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (ctl->nconns >= CTL_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
	c->w = pv_loop_add(loop, fd, EPOLLIN, ctl_conn_cb, c);
	if (!c->w) {
		close(fd);
		free(c);
		return;
	}
	ctl->nconns++;
}

struct pv_ctl *pv_ctl_listen(const struct pv_ctl_ctx *ctx, const char *path, int *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pv_ctl *ctl;

	*err = -ENAMETOOLONG;
	if (strlen(path) >= sizeof(sa.sun_path))
		return NULL;
	strcpy(sa.sun_path, path);
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		*err = -ENOMEM;
		return NULL;
	}
	ctl->ctx = *ctx;
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unlink(path);
	if (ctl->fd < 0 || bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(ctl->fd, 16) < 0 ||
	    !(ctl->w = pv_loop_add(ctx->loop, ctl->fd, EPOLLIN, ctl_accept_cb, ctl))) {
		*err = -errno;
		if (ctl->fd >= 0)
			close(ctl->fd);
		free(ctl);
		return NULL;
	}
	ctl->path = strdup(path);
	/* monitor's sources besides the emit calls: domains coming and going */
	ctl->intro_watched = xs_server_watch(ctx->xs, "@introduceDomain", "ctl-monitor",
					     ctl_intro_cb, ctl) == 0;
	ctl->hooked = pv_domain_hook(ctx->hv, ctl_dom_gone, ctl) == 0;
	if (!ctl->intro_watched || !ctl->hooked)
		pv_warn("ctl: monitor will not see domains %s", ctl->hooked ? "arrive" : "come and go");
	ctl_events = ctl;
	*err = 0;
	return ctl;
}

void pv_ctl_close(struct pv_ctl *ctl)
{
	if (!ctl)
		return;
	pv_ctl_event("pvnetd-stop", -1, -1, PV_EV_END);	/* the subscribers' last line */
	while (ctl->subs)
		ctl_sub_free(ctl->subs);
	if (ctl_events == ctl)
		ctl_events = NULL;
	if (ctl->intro_watched)
		xs_server_unwatch(ctl->ctx.xs, "@introduceDomain", "ctl-monitor");
	if (ctl->hooked)
		pv_domain_unhook(ctl->ctx.hv, ctl_dom_gone, ctl);
	pv_loop_del(ctl->ctx.loop, ctl->w);
	close(ctl->fd);
	if (ctl->path)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}
