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
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "back/ctl.h"
#include "back/netback.h"
#include "back/nicport.h"
#include "accel/pvnic_back.h"
#include "back/port.h"
#include "back/toolstack.h"
#include "back/uplink.h"
#include "hv/hv.h"
#include "hv/xs.h"
#include "lib/log.h"
#include "lib/pidfile.h"
#include "lib/loop.h"

struct pvnetd {
	const char *run_dir;
	char hv_path[PATH_MAX];
	char xs_path[PATH_MAX];
	char pid_path[PATH_MAX];
	char ctl_path[PATH_MAX];
	int pid_fd;
	struct pv_loop *loop;
	struct xs_server *xs;
	struct pv_hv *hv;
	struct pv_switch *sw;
	struct pv_netback *nb;
	struct pv_ctl *ctl;
	struct pv_watch *age_timer;
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
	int sig_fd;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvnetd --run-dir DIR [options]\n"
		"\n"
		"pvnet's host daemon: hypervisor services, xenstore, netback and bridge.\n"
		"\n"
		"  -r, --run-dir DIR      sockets and pid file go here (created if missing)\n"
		"  -d, --daemon           detach and run in the background\n"
		"  -l, --log-level LEVEL  err, warn, info (default) or debug\n"
		"  -s, --syslog           log to syslog instead of stderr\n"
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
		"  -h, --help             this text\n"
		"\n"
		"Sockets: DIR/hv.sock (guests register here), DIR/xenstored.sock\n"
		"(xenstore, for dom0 tools: XENSTORED_PATH=DIR/xenstored.sock xenstore-ls),\n"
		"DIR/ctl.sock (pvnetctl).\n");
}

/* The pid file doubles as a lock: one pvnetd per run directory. */
static int pidfile_take(struct pvnetd *d)
{
	d->pid_fd = pv_pidfile_take(d->pid_path, "pvnetd", d->run_dir);
	return d->pid_fd < 0 ? -1 : 0;
}

static void signal_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	pv_info("signal %u: stopping", si.ssi_signo);
	pv_loop_stop(loop);
}

static int signals_setup(struct pvnetd *d)
{
	d->sig_fd = pv_loop_signalfd(1);
	if (d->sig_fd < 0 || !pv_loop_add(d->loop, d->sig_fd, EPOLLIN, signal_cb, d))
		return -1;
	return 0;
}

static int paths_setup(struct pvnetd *d)
{
	if (mkdir(d->run_dir, 0755) < 0 && errno != EEXIST) {
		pv_err("%s: %s", d->run_dir, strerror(errno));
		return -1;
	}
	if (snprintf(d->hv_path, sizeof(d->hv_path), "%s/%s", d->run_dir, PV_HV_SOCK_NAME) >= (int)sizeof(d->hv_path) ||
	    snprintf(d->xs_path, sizeof(d->xs_path), "%s/%s", d->run_dir, PV_XS_SOCK_NAME) >= (int)sizeof(d->xs_path) ||
	    snprintf(d->pid_path, sizeof(d->pid_path), "%s/pvnetd.pid", d->run_dir) >= (int)sizeof(d->pid_path) ||
	    snprintf(d->ctl_path, sizeof(d->ctl_path), "%s/%s", d->run_dir, PV_CTL_SOCK_NAME) >= (int)sizeof(d->ctl_path)) {
		pv_err("run directory path too long");
		return -1;
	}
	return 0;
}

/* A guest asked for its vif (PV_HV_VIF_REQUEST): the toolstack's job. */
static int vif_request(struct pv_hv *hv, struct pv_domain *dom,
		       const struct pv_hv_vif_request *req, struct pv_hv_vif_reply *rep, void *arg)
{
	struct pvnetd *d = arg;
	struct pv_vif_params p;
	int err;

	if (d->no_guest_vifs)
		return -EPERM;
	memset(&p, 0, sizeof(p));
	p.domid = dom->domid;
	p.devid = req->devid;
	memcpy(p.mac, req->mac, 6);
	p.mtu = req->mtu;
	err = pv_ts_vif_create(d->xs, &p);
	if (!err)
		memcpy(rep->mac, p.mac, 6);
	return err;
}

static void age_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pvnetd *d = arg;

	pv_switch_age(d->sw);
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
		d->pnb = pvnic_back_new(d->loop, d->hv, d->xs, d->nic_dir, &err);
		if (!d->pnb) {
			pv_err("pvnic accelerator on %s: %s", d->nic_dir, strerror(-err));
			return -1;
		}
		d->hv->accel_fds = pvnic_back_accel_fds;
		d->hv->accel_fds_arg = d->pnb;
	}
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

static int services_start(struct pvnetd *d)
{
	struct pv_ctl_ctx cctx;
	struct xs_quota q;
	int err;

	d->loop = pv_loop_new();
	if (!d->loop || signals_setup(d) < 0) {
		pv_err("event loop: %s", strerror(errno));
		return -1;
	}
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
	if (!d->nb || ports_start(d) < 0)
		return -1;
	d->age_timer = pv_loop_timer(d->loop, 1000, 1000, age_cb, d);
	cctx = (struct pv_ctl_ctx){ .loop = d->loop, .hv = d->hv, .xs = d->xs, .sw = d->sw,
				    .nb = d->nb, .started = time(NULL) };
	d->ctl = pv_ctl_listen(&cctx, d->ctl_path, &err);
	if (!d->ctl) {
		pv_err("%s: %s", d->ctl_path, strerror(-err));
		return -1;
	}
	err = pv_hvsock_listen(d->hv, d->hv_path);
	if (err) {
		pv_err("%s: %s", d->hv_path, strerror(-err));
		return -1;
	}
	return 0;
}

static void services_stop(struct pvnetd *d)
{
	/* Guests first (their vifs go through netback's hook), then the rest. */
	if (d->hv)
		pv_hvsock_close(d->hv);
	pv_ctl_close(d->ctl);
	pv_netback_free(d->nb);
	if (d->hv) {
		d->hv->accel_fds = NULL;
		d->hv->accel_fds_arg = NULL;
	}
	pvnic_back_free(d->pnb);
	for (unsigned int i = 0; i < d->nr_uplinks; i++)
		if (d->up[i])
			pv_uplink_close(d->up[i]);
	if (d->hp)
		pv_hostport_close(d->hp);
	pv_nicport_close(d->np);
	if (d->age_timer)
		pv_loop_timer_del(d->loop, d->age_timer);
	pv_hv_free(d->hv);
	pv_switch_free(d->sw);
	xs_server_free(d->xs);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	pv_loop_free(d->loop);
	if (d->pid_fd >= 0) {
		unlink(d->pid_path);
		close(d->pid_fd);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "syslog", no_argument, NULL, 's' },
		{ "allow-uid", required_argument, NULL, 'u' },
		{ "uplink", required_argument, NULL, 'U' },
		{ "host-port", required_argument, NULL, 'H' },
		{ "nic", required_argument, NULL, 'N' },
		{ "no-guest-vifs", no_argument, NULL, 'n' },
		{ "mac-aging", required_argument, NULL, 'A' },
		{ "mac-cap", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pvnetd d = { .pid_fd = -1, .sig_fd = -1 };
	int level = PV_LOG_INFO, use_syslog = 0, daemonize = 0, c, rc;
	long allow_uid = -1;

	while ((c = getopt_long(argc, argv, "r:dl:su:U:H:N:nA:C:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': d.run_dir = optarg; break;
		case 'd': daemonize = 1; break;
		case 's': use_syslog = 1; break;
		case 'l':
			level = pv_log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "pvnetd: bad log level '%s'\n", optarg);
				return 2;
			}
			break;
		case 'u': allow_uid = strtol(optarg, NULL, 10); break;
		case 'U':
			if (d.nr_uplinks == 8) {
				fprintf(stderr, "pvnetd: at most 8 uplinks\n");
				return 2;
			}
			d.uplinks[d.nr_uplinks++] = optarg;
			break;
		case 'H': d.host_port = optarg; break;
		case 'N': d.nic_dir = optarg; break;
		case 'n': d.no_guest_vifs = 1; break;
		case 'A':
		case 'C': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || !v || v > 1000000) {
				fprintf(stderr, "pvnetd: bad value '%s' for -%c\n", optarg, c);
				return 2;
			}
			if (c == 'A')
				d.swcfg.mac_aging_ms = (unsigned int)v * 1000;
			else
				d.swcfg.mac_cap = (unsigned int)v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!d.run_dir || optind != argc) {
		usage(stderr);
		return 2;
	}
	pv_log_init("pvnetd", level, use_syslog);
	if (paths_setup(&d) < 0)
		return 1;
	if (daemonize && daemon(1, use_syslog ? 0 : 1) < 0) {
		pv_err("daemon: %s", strerror(errno));
		return 1;
	}
	if (pidfile_take(&d) < 0)
		return 1;
	rc = services_start(&d);
	if (rc == 0) {
		if (allow_uid >= 0)
			d.hv->allow_uid = (uid_t)allow_uid;
		pv_info("serving in %s (hv.sock, xenstored.sock, ctl.sock)", d.run_dir);
		rc = pv_loop_run(d.loop);
		if (rc < 0)
			pv_err("event loop: %s", strerror(-rc));
	}
	services_stop(&d);
	pv_info("stopped");
	return rc ? 1 : 0;
}
