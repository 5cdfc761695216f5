/* SPDX-License-Identifier: MIT */
/*
 * pvnet-nicd.c - the virtualization-aware NIC as a process: a device
 * model with many VIs (src/nic/vi.c) whose physical port is a host
 * interface (src/nic/port.c), programmed over DIR/nic.sock (src/nic/ctl.c).
 *
 * The main loop sleeps in epoll while nothing is pending; while VIs still
 * have TX work after their budget (nic_service() says so) it polls without
 * sleeping, one round-robin round per loop pass.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nic/nic.h"
#include "lib/log.h"
#include "lib/pidfile.h"
#include "lib/loop.h"

struct nicd {
	const char *run_dir;
	const char *port_name;
	char pid_path[4096];
	char sock_path[4096];
	int pid_fd, sig_fd;
	struct pv_watch *sig_watch;
	volatile int stop;
	struct pv_loop *loop;
	struct nic *nic;
	struct nic_port *port;
	struct nic_ctl *ctl;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvnet-nicd --run-dir DIR --port IFNAME [options]\n"
		"\n"
		"pvnet's virtualization-aware NIC: virtual interfaces in shared memory,\n"
		"a buffer table, RX filters and TX source enforcement, on a host\n"
		"interface as its physical port.\n"
		"\n"
		"  -r, --run-dir DIR      control socket DIR/nic.sock and pid file\n"
		"  -p, --port IFNAME      the physical port (made promiscuous)\n"
		"  -v, --max-vis N        virtual interfaces (default 64)\n"
		"  -b, --buffers N        buffer table entries, 2 KiB each (default 16384)\n"
		"  -f, --filters N        RX filters in all (default 1024)\n"
		"  -q, --vi-filters N     RX filters per VI (default 8)\n"
		"  -l, --log-level LEVEL  err, warn, info (default) or debug\n"
		"  -s, --syslog           log to syslog instead of stderr\n"
		"  -h, --help             this text\n");
}

/* The pid file doubles as a lock: one pvnet-nicd per run directory. */
static int pidfile_take(struct nicd *d)
{
	d->pid_fd = pv_pidfile_take(d->pid_path, "pvnet-nicd", d->run_dir);
	return d->pid_fd < 0 ? -1 : 0;
}

static void signal_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct nicd *d = arg;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	pv_info("signal %u: stopping", si.ssi_signo);
	d->stop = 1;
}

static int signals_setup(struct nicd *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	d->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sig_fd < 0)
		return -1;
	d->sig_watch = pv_loop_add(d->loop, d->sig_fd, EPOLLIN, signal_cb, d);
	return d->sig_watch ? 0 : -1;
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int setup(struct nicd *d, const struct nic_config *cfg)
{
	int err = 0;

	if (mkdir(d->run_dir, 0755) < 0 && errno != EEXIST) {
		pv_err("%s: %s", d->run_dir, strerror(errno));
		return -1;
	}
	if (snprintf(d->pid_path, sizeof(d->pid_path), "%s/pvnet-nicd.pid", d->run_dir) >=
	    (int)sizeof(d->pid_path) ||
	    snprintf(d->sock_path, sizeof(d->sock_path), "%s/%s", d->run_dir, PV_NIC_SOCK_NAME) >=
	    (int)sizeof(d->sock_path)) {
		pv_err("run directory path too long");
		return -1;
	}
	if (pidfile_take(d) < 0)
		return -1;
	d->loop = pv_loop_new();
	d->nic = d->loop ? nic_new(d->loop, cfg) : NULL;
	if (!d->nic || signals_setup(d) < 0) {
		pv_err("out of memory or descriptors");
		return -1;
	}
	d->port = nic_port_open(d->loop, d->nic, d->port_name, &err);
	if (!d->port) {
		pv_err("port %s: %s", d->port_name, strerror(-err));
		return -1;
	}
	d->ctl = nic_ctl_listen(d->loop, d->nic, d->sock_path, &err);
	if (!d->ctl) {
		pv_err("%s: %s", d->sock_path, strerror(-err));
		return -1;
	}
	pv_info("port %s, mtu %u, %u VIs, %u buffers; control on %s", d->port_name,
		d->nic->mtu, cfg->max_vis, cfg->nr_bufs, d->sock_path);
	return 0;
}

static void teardown(struct nicd *d)
{
	nic_ctl_close(d->ctl);
	nic_port_close(d->port);
	nic_free(d->nic);
	if (d->sig_watch)
		pv_loop_del(d->loop, d->sig_watch);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	if (d->loop)
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
		{ "port", required_argument, NULL, 'p' },
		{ "max-vis", required_argument, NULL, 'v' },
		{ "buffers", required_argument, NULL, 'b' },
		{ "filters", required_argument, NULL, 'f' },
		{ "vi-filters", required_argument, NULL, 'q' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "syslog", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct nic_config cfg = { .max_vis = 64, .nr_bufs = 16384, .max_filters = 1024,
				  .vi_filters = 8 };
	struct nicd d = { .pid_fd = -1, .sig_fd = -1 };
	int level = PV_LOG_INFO, use_syslog = 0, c, rc = 0;

	while ((c = getopt_long(argc, argv, "r:p:v:b:f:q:l:sh", opts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case 'r': d.run_dir = optarg; break;
		case 'p': d.port_name = optarg; break;
		case 'v': bad = parse_u32(optarg, 1, 4096, &cfg.max_vis); break;
		case 'b': bad = parse_u32(optarg, 1, 1u << 22, &cfg.nr_bufs); break;
		case 'f': bad = parse_u32(optarg, 1, 1u << 16, &cfg.max_filters); break;
		case 'q': bad = parse_u32(optarg, 1, 1u << 16, &cfg.vi_filters); break;
		case 's': use_syslog = 1; break;
		case 'l':
			level = pv_log_level_parse(optarg);
			bad = level < 0;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "pvnet-nicd: bad value '%s' for -%c\n", optarg, c);
			return 2;
		}
	}
	if (!d.run_dir || !d.port_name || optind != argc) {
		usage(stderr);
		return 2;
	}
	pv_log_init("pvnet-nicd", level, use_syslog);
	if (setup(&d, &cfg) < 0) {
		teardown(&d);
		return 1;
	}
	while (!d.stop) {
		bool more = nic_service(d.nic);

		rc = pv_loop_once(d.loop, more ? 0 : -1);
		if (rc < 0) {
			pv_err("epoll: %s", strerror(-rc));
			break;
		}
	}
	teardown(&d);
	return rc < 0 ? 1 : 0;
}
