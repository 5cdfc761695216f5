/* SPDX-License-Identifier: MIT */
/*
 * pvnetd - pvnet's host daemon: domain 0.
 *
 * It provides the hypervisor services (domains, memory, grant tables, event
 * channels) on <run-dir>/hv.sock and a xenstore server on
 * <run-dir>/xenstored.sock.  One run directory is one host: several pvnetd
 * can run side by side with different run directories.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "back/ctl.h"
#include "back/keep.h"
#include "back/metrics.h"
#include "back/migrate.h"
#include "back/netback.h"
#include "back/nicport.h"
#include "accel/plugins.h"
#include "accel/pvnic.h"
#include "accel/pvnic_back.h"
#include "back/port.h"
#include "back/toolstack.h"
#include "back/uplink.h"
#include "hv/hv.h"
#include "hv/xs.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/loop.h"

struct pvnetd {
	struct pv_daemon dd;	/* run directory, pid file, signals, the loop */
	char hv_path[PATH_MAX];
	char xs_path[PATH_MAX];
	char ctl_path[PATH_MAX];
	char keep_path[PATH_MAX];	/* vifs.kept: vif settings across a restart (keep.c) */
	int keep_dirty;			/* a vif changed: vifs.kept rewritten at the next tick */
	struct pv_loop *loop;
	struct xs_server *xs;
	struct pv_hv *hv;
	struct pv_switch *sw;
	struct pv_netback *nb;
	struct pv_ctl *ctl;
	struct pv_watch *age_timer;
	struct pv_mig *mig;		/* migration records (back/migrate.c) */
	const char *uplinks[8];
	unsigned int nr_uplinks;
	struct pv_uplink *up[8];
	const char *host_port;
	struct pv_hostport *hp;
	const char *nic_dir;
	struct pv_nicport *np;
	struct pvnic_back *pnb;		/* the pvnic accelerator's backend half */
	int no_guest_vifs;
	struct pv_switch_config swcfg;
	long allow_uid;
	int metrics_on;			/* --metrics given */
	unsigned int poll_us;		/* --poll-us / PVNET_POLL_US: bounded polling (loop.h) */
	struct pv_metrics_addr metrics_addr;
	struct pv_metrics *metrics;
};

#define PVNETD_POLL_MAX_US	1000000u

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvnetd --run-dir DIR [options]\n"
		"\n"
		"pvnet's host daemon: hypervisor services, xenstore, netback and bridge.\n"
		"\n"
		"  -r, --run-dir DIR      sockets and pid file go here (created if missing)\n"
		PV_DAEMON_USAGE_DETACH
		PV_DAEMON_USAGE_LOG
		"  -u, --allow-uid UID    also accept guests running as UID (root and our\n"
		"                         own user always are)\n"
		"  -U, --uplink IFNAME    join the bridge to this host interface (AF_PACKET);\n"
		"                         may be given up to 8 times\n"
		"  -N, --nic DIR          reach the wire through pvnet-nicd (run directory DIR):\n"
		"                         its host VI becomes a bridge port; reconnects if\n"
		"                         pvnet-nicd restarts\n"
		"  -H, --host-port NAME   a TAP device in pvnetd's namespace on the bridge, so\n"
		"                         the host's own stack can join\n"
		"  -n, --no-guest-vifs    refuse guests' own vif requests (pvnetctl only)\n"
		"  -A, --mac-aging SEC    forget learned MACs idle this long (default 300)\n"
		"  -C, --mac-cap N        learned MACs per bridge port (default 64)\n"
		"  -p, --poll-us N        after each event, poll for N microseconds instead of\n"
		"                         sleeping (0-1000000; default 0: off; also\n"
		"                         PVNET_POLL_US): fewer wake-ups, lower latency; an\n"
		"                         idle pvnetd still sleeps\n"
		"  -P, --accel-plugin PATH  load an accelerator plugin's shared object (its\n"
		"                         backend half; replaces the built-in one of its name);\n"
		"                         may be given up to 8 times\n"
		"  -M, --metrics ADDR:PORT  serve Prometheus metrics on http://ADDR:PORT/metrics\n"
		"                         (ADDR numeric IPv4 or [IPv6]; PORT alone: 127.0.0.1;\n"
		"                         off by default)\n"
		"  -h, --help             this text\n"
		"\n"
		"Sockets: DIR/hv.sock (guests register here), DIR/xenstored.sock\n"
		"(xenstore, for dom0 tools: XENSTORED_PATH=DIR/xenstored.sock xenstore-ls),\n"
		"DIR/ctl.sock (pvnetctl).\n");
}

static int paths_setup(struct pvnetd *d)
{
	return pv_daemon_path(&d->dd, d->hv_path, sizeof(d->hv_path), PV_HV_SOCK_NAME) < 0 ||
	       pv_daemon_path(&d->dd, d->xs_path, sizeof(d->xs_path), PV_XS_SOCK_NAME) < 0 ||
	       pv_daemon_path(&d->dd, d->ctl_path, sizeof(d->ctl_path), PV_CTL_SOCK_NAME) < 0 ||
	       pv_daemon_path(&d->dd, d->keep_path, sizeof(d->keep_path), PV_KEEP_FILE) < 0 ? -1 : 0;
}

/* A guest asked for its vif (PV_HV_VIF_REQUEST): the toolstack's job. */
static int vif_request(struct pv_hv *hv, struct pv_domain *dom,
		       const struct pv_hv_vif_request *req, struct pv_hv_vif_reply *rep, void *arg)
{
	struct pvnetd *d = arg;
	struct pv_vif_params p;
	char carried[256];
	int err, claimed;

	if (d->no_guest_vifs)
		return -EPERM;
	memset(&p, 0, sizeof(p));
	p.domid = dom->domid;
	p.devid = req->devid;
	memcpy(p.mac, req->mac, 6);
	p.mtu = req->mtu;
	/* A migration record for this MAC and this domain's name: its configuration. */
	claimed = d->mig && pv_mig_claim(d->mig, dom->name, req->mac, &p, carried, sizeof(carried));
	err = pv_ts_vif_create(d->xs, &p);
	if (claimed)
		pv_mig_claimed(d->mig, req->mac, dom->domid, !err);
	if (!err)
		memcpy(rep->mac, p.mac, 6);
	return err;
}

static void keep_save(struct pvnetd *d, int final);

static void age_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pvnetd *d = arg;

	pv_switch_age(d->sw);
	pv_hv_trim(d->hv);	/* guests' pages out of our RSS (domain.c) */
	if (d->mig)
		pv_mig_sweep(d->mig);
	if (d->keep_dirty) {
		d->keep_dirty = 0;
		keep_save(d, 0);
	}
}

/* Each monitor event but the stream's own may change what vifs.kept holds (keep.c). */
static void keep_on_event(const char *event, void *arg)
{
	struct pvnetd *d = arg;

	if (strcmp(event, "subscribed") && strcmp(event, "lost") && strcmp(event, "pvnetd-stop"))
		d->keep_dirty = 1;
}

/* The accelerator plugins' backend halves (built in, --accel-plugin), before any guest. */
static int accel_start(struct pvnetd *d)
{
	const struct pv_accel_env env = { .loop = d->loop, .xs = d->xs, .hv = d->hv,
					  .nic_dir = d->nic_dir, .log_ident = d->dd.name,
					  .log_level = d->dd.log_level,
					  .log_syslog = d->dd.use_syslog };

	if (pv_accel_plugins_start_back(&env) < 0)
		return -1;
	/* The built-in pvnic's counters for the metrics (a loaded one shows its own). */
	d->pnb = pv_accel_plugins_state(&pvnic_accel_plugin, 1);
	return 0;
}

static int ports_start(struct pvnetd *d)
{
	int err;

	for (unsigned int i = 0; i < d->nr_uplinks; i++) {
		d->up[i] = pv_uplink_open(d->loop, d->sw, d->uplinks[i], &err);
		if (!d->up[i]) {
			pv_err("uplink %s: %s", d->uplinks[i], strerror(-err));
			return -1;
		}
		pv_info("uplink on %s", d->uplinks[i]);
	}
	if (d->nic_dir) {
		d->np = pv_nicport_open(d->loop, d->sw, d->nic_dir, &err);
		if (!d->np) {
			pv_err("nic %s: %s", d->nic_dir, strerror(-err));
			return -1;
		}
	}
	if (accel_start(d) < 0)
		return -1;
	if (d->host_port) {
		d->hp = pv_hostport_open(d->loop, d->sw, d->host_port, NULL, 0, &err);
		if (!d->hp) {
			pv_err("host port %s: %s", d->host_port, strerror(-err));
			return -1;
		}
		pv_info("host port %s", d->host_port);
	}
	return 0;
}

static int metrics_start(struct pvnetd *d, time_t started)
{
	struct pv_metrics_ctx mc = { .loop = d->loop, .hv = d->hv, .xs = d->xs, .sw = d->sw,
				     .nb = d->nb, .np = d->np, .pnb = d->pnb, .started = started };
	int err;

	d->metrics = pv_metrics_start(&mc, &d->metrics_addr, &err);
	if (!d->metrics) {
		pv_err("metrics on %s: %s", d->metrics_addr.text, strerror(-err));
		return -1;
	}
	pv_info("metrics on http://%s/metrics", d->metrics_addr.text);
	return 0;
}

static int services_start(struct pvnetd *d)
{
	struct pv_ctl_ctx cctx;
	struct xs_quota q;
	int err;

	d->loop = d->dd.loop;
	xs_quota_default(&q);
	d->xs = xs_server_new(d->loop, d->xs_path, &q);
	if (!d->xs) {
		pv_err("xenstore on %s: %s", d->xs_path, strerror(errno));
		return -1;
	}
	d->hv = pv_hv_new(d->loop, d->xs);
	d->sw = pv_switch_new(&d->swcfg);
	if (!d->hv || !d->sw)
		return -1;
	d->hv->vif_request = vif_request;
	d->hv->vif_request_arg = d;
	d->nb = pv_netback_new(d->hv, d->xs, d->sw, d->loop, NULL);
	d->mig = pv_mig_new(d->xs);
	if (!d->nb || !d->mig || ports_start(d) < 0)
		return -1;
	d->age_timer = pv_loop_timer(d->loop, 1000, 1000, age_cb, d);
	cctx = (struct pv_ctl_ctx){ .loop = d->loop, .hv = d->hv, .xs = d->xs, .sw = d->sw,
				    .nb = d->nb, .np = d->np, .mig = d->mig, .started = time(NULL) };
	d->ctl = pv_ctl_listen(&cctx, d->ctl_path, &err);
	if (!d->ctl) {
		pv_err("%s: %s", d->ctl_path, strerror(-err));
		return -1;
	}
	pv_ctl_on_event(d->ctl, keep_on_event, d);
	if (d->metrics_on && metrics_start(d, cctx.started) < 0)
		return -1;
	/* The last pvnetd's vif settings, before any guest can ask for its vif. */
	err = pv_keep_load(d->xs, d->mig, d->keep_path);
	if (err < 0)
		pv_warn("%s: %s: vif settings of the last pvnetd not restored", d->keep_path,
			strerror(-err));
	err = pv_hvsock_listen(d->hv, d->hv_path);
	if (err) {
		pv_err("%s: %s", d->hv_path, strerror(-err));
		return -1;
	}
	return 0;
}

/* Every vif's settings to vifs.kept, for the next pvnetd (keep.c); @final: at the stop. */
static void keep_save(struct pvnetd *d, int final)
{
	struct pv_keep_vif *v = calloc(PV_KEEP_MAX, sizeof(*v));
	unsigned int n = 0;
	char dir[64], kids[4096];
	int e;

	if (!v || !d->hv || !d->mig) {
		free(v);
		return;
	}
	for (unsigned int i = 0; i < PV_MAX_DOMAINS && n < PV_KEEP_MAX; i++) {
		struct pv_domain *dom = pv_domain_get(d->hv, i);
		int k;

		if (!dom)
			continue;
		snprintf(dir, sizeof(dir), "/local/domain/0/backend/vif/%u", dom->domid);
		k = xs_server_directory(d->xs, dir, kids, sizeof(kids));
		for (int j = 0, off = 0; j < k && n < PV_KEEP_MAX;
		     j++, off += (int)strlen(kids + off) + 1) {
			char *end;
			unsigned long devid = strtoul(kids + off, &end, 10);

			if (end != kids + off && !*end)
				v[n++] = (struct pv_keep_vif){ dom->domid, (unsigned int)devid, dom->name };
		}
	}
	e = pv_keep_save(d->xs, d->mig, v, n, d->keep_path, final);
	if (e < 0)
		pv_warn("%s: %s: vif settings not kept", d->keep_path, strerror(-e));
	free(v);
}

static void services_stop(struct pvnetd *d)
{
	if (d->ctl)
		pv_ctl_on_event(d->ctl, NULL, NULL);
	keep_save(d, 1);	/* while the vifs are there */
	/* Guests first (their vifs go through netback's hook), then the rest. */
	if (d->hv)
		pv_hvsock_close(d->hv);
	pv_metrics_stop(d->metrics);
	pv_ctl_close(d->ctl);
	pv_netback_free(d->nb);
	pv_accel_plugins_stop_back();
	d->pnb = NULL;
	for (unsigned int i = 0; i < d->nr_uplinks; i++)
		if (d->up[i])
			pv_uplink_close(d->up[i]);
	if (d->hp)
		pv_hostport_close(d->hp);
	pv_nicport_close(d->np);
	if (d->age_timer)
		pv_loop_timer_del(d->loop, d->age_timer);
	pv_hv_free(d->hv);
	pv_mig_free(d->mig);
	pv_switch_free(d->sw);
	xs_server_free(d->xs);
	pv_daemon_teardown(&d->dd);
}

/* pvnetd's own options; -1 if bad (said why). */
static int option(struct pvnetd *d, int c, const char *arg)
{
	char *end;
	unsigned long v;

	switch (c) {
	case 'u':
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || v >= (uid_t)-1) {
			fprintf(stderr, "pvnetd: bad --allow-uid '%s': want a numeric user id\n", arg);
			return -1;
		}
		d->allow_uid = (long)v;
		return 0;
	case 'U':
		if (d->nr_uplinks == 8) {
			fprintf(stderr, "pvnetd: at most 8 uplinks\n");
			return -1;
		}
		d->uplinks[d->nr_uplinks++] = arg;
		return 0;
	case 'H': d->host_port = arg; return 0;
	case 'N': d->nic_dir = arg; return 0;
	case 'n': d->no_guest_vifs = 1; return 0;
	case 'P':	/* refused plugins: said why (plugins.c), and pvnetd does not start */
		return pv_accel_plugins_load(arg) < 0 ? -1 : 0;
	case 'M': {
		const char *why;

		if (pv_metrics_addr_parse(arg, &d->metrics_addr, &why) < 0) {
			fprintf(stderr, "pvnetd: bad --metrics '%s': %s\n", arg, why);
			return -1;
		}
		d->metrics_on = 1;
		return 0;
	}
	case 'p':
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || v > PVNETD_POLL_MAX_US) {
			fprintf(stderr, "pvnetd: bad --poll-us '%s': want 0 to %u microseconds\n", arg,
				PVNETD_POLL_MAX_US);
			return -1;
		}
		d->poll_us = (unsigned int)v;
		return 0;
	case 'A':
	case 'C':
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || !v || v > 1000000) {
			fprintf(stderr, "pvnetd: bad value '%s' for -%c\n", arg, c);
			return -1;
		}
		if (c == 'A')
			d->swcfg.mac_aging_ms = (unsigned int)v * 1000;
		else
			d->swcfg.mac_cap = (unsigned int)v;
		return 0;
	default:
		return -1;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		PV_DAEMON_LONGOPTS,
		{ "allow-uid", required_argument, NULL, 'u' },
		{ "uplink", required_argument, NULL, 'U' },
		{ "host-port", required_argument, NULL, 'H' },
		{ "nic", required_argument, NULL, 'N' },
		{ "no-guest-vifs", no_argument, NULL, 'n' },
		{ "mac-aging", required_argument, NULL, 'A' },
		{ "mac-cap", required_argument, NULL, 'C' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "accel-plugin", required_argument, NULL, 'P' },
		{ "poll-us", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct pvnetd d = { .allow_uid = -1 };
	int c, rc;

	pv_daemon_init(&d.dd, "pvnetd");
	if (getenv("PVNET_POLL_US") && *getenv("PVNET_POLL_US") &&
	    option(&d, 'p', getenv("PVNET_POLL_US")) < 0)
		return 2;
	while ((c = getopt_long(argc, argv, PV_DAEMON_SHORTOPTS "u:U:H:N:nA:C:M:P:p:", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if ((rc = pv_daemon_opt(&d.dd, c, optarg)) < 0)
			return 2;
		if (rc == 0 && option(&d, c, optarg) < 0) {
			if (c == '?')
				usage(stderr);
			return 2;
		}
	}
	if (!d.dd.run_dir || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (pv_daemon_start(&d.dd) < 0 || paths_setup(&d) < 0) {
		pv_daemon_teardown(&d.dd);
		return 1;
	}
	rc = services_start(&d);
	if (rc == 0) {
		if (d.allow_uid >= 0)
			d.hv->allow_uid = (uid_t)d.allow_uid;
		pv_info("serving in %s (hv.sock, xenstored.sock, ctl.sock)", d.dd.run_dir);
		pv_daemon_ready(&d.dd);
		rc = pv_loop_run_poll(d.loop, d.poll_us);
		if (rc < 0)
			pv_err("event loop: %s", strerror(-rc));
	}
	services_stop(&d);
	pv_info("stopped");
	return rc ? 1 : 0;
}
