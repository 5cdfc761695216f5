/* SPDX-License-Identifier: MIT */
/*
 * pvnet-nicd.c - the virtualization-aware NIC as a process: a device
 * model with many VIs (src/nic/vi.c) whose physical port is a host
 * interface (src/nic/port.c), programmed over DIR/nic.sock (src/nic/ctl.c).
 *
 * The main loop sleeps in epoll while nothing is pending; while VIs still
 * have TX work after their budget (nic_service() says so) it polls without
 * sleeping, one round-robin round per loop pass.
 *
 * Polling (--poll-us N, or PVNET_NIC_POLL_US): after the last frame it
 * moved (a VI's TX, or a port frame delivered to a VI) the loop keeps
 * polling for N microseconds instead of sleeping: epoll without a
 * timeout (the port, doorbells, control) and every VI's tx_prod
 * (nic_poll_vis), with tx_cons.armed set in the VIs so that their users
 * skip the doorbell (include/pvnet/nic.h, "NIC polling").  N us without
 * a frame: the flag is cleared, tx_prod read once more, and the loop
 * sleeps again.  Bounded by activity, never unbounded: an idle NIC
 * sleeps (its 1 s port-drops timer aside).  0 (the default): no polling.
 *
 * Receive coalescing (src/nic/gro.c) is on unless --no-gro; what it merged
 * is in INFO's gro_* counters and in the last log line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nic/nic.h"
#include "lib/daemon.h"
#include "lib/log.h"
#include "lib/loop.h"

struct nicd {
	struct pv_daemon dd;	/* run directory, pid file, signals, the loop */
	const char *port_name;
	char sock_path[4096];
	struct nic *nic;
	struct nic_port *port;
	struct nic_ctl *ctl;
	uint32_t poll_us;	/* --poll-us: polling after the last frame, 0: none */
};

#define NICD_POLL_MAX_US	1000000u

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
		"  -p, --port IFNAME      the physical port (made promiscuous, brought up)\n"
		"  -v, --max-vis N        virtual interfaces (default 64)\n"
		"  -b, --buffers N        buffer table entries, 2 KiB each (default 16384)\n"
		"  -f, --filters N        RX filters in all (default 1024)\n"
		"  -q, --vi-filters N     RX filters per VI (default 8)\n"
		"      --no-gro           do not coalesce received TCP segments (gro.c)\n"
		"      --poll-us N        busy-poll VIs and port for N us after the last frame\n"
		"                         (0 .. 1000000, default 0 or PVNET_NIC_POLL_US)\n"
		PV_DAEMON_USAGE_DETACH
		PV_DAEMON_USAGE_LOG
		"  -h, --help             this text\n");
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

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Frames the NIC moved for its VIs: TX, and port frames a VI took. */
static uint64_t nicd_frames(const struct nic *nic)
{
	return nic->port_tx + nic->port_rx - nic->rx_unmatched_dropped;
}

/*
 * The main loop: sleep in epoll while nothing is pending; poll while VIs
 * have TX work left (nic_service) or, with --poll-us, until poll_us
 * after the last frame moved.
 */
static int nicd_run(struct nicd *d)
{
	struct nic *nic = d->nic;
	uint64_t frames = nicd_frames(nic), until = 0;
	int rc = 0;

	while (!d->dd.stop) {
		bool more = nic_service(nic), poll = false;

		if (d->poll_us) {
			uint64_t f = nicd_frames(nic), now = now_us();

			if (f != frames || more) {
				frames = f;
				until = now + d->poll_us;
			}
			poll = now < until;
			/* stopping reads every tx_prod once more: work found, go on */
			if (nic_set_polling(nic, poll))
				more = true;
			if (poll && nic_poll_vis(nic))
				more = true;
			if (poll)
				nic_rx_flush(nic);
			/*
			 * A pass that found nothing gives the CPU to whoever
			 * waits for it (the application, the other end): on
			 * a machine with fewer CPUs than spinners the poller
			 * must not hold the one the frame it waits for needs.
			 */
			if (poll && !more)
				sched_yield();
		}
		rc = pv_loop_once(d->dd.loop, more || poll ? 0 : -1);
		if (rc < 0) {
			pv_err("epoll: %s", strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int setup(struct nicd *d, const struct nic_config *cfg)
{
	int err = 0;

	if (pv_daemon_start(&d->dd) < 0 ||
	    pv_daemon_path(&d->dd, d->sock_path, sizeof(d->sock_path), PV_NIC_SOCK_NAME) < 0)
		return -1;
	d->nic = nic_new(d->dd.loop, cfg);
	if (!d->nic) {
		pv_err("out of memory or descriptors");
		return -1;
	}
	d->port = nic_port_open(d->dd.loop, d->nic, d->port_name, &err);
	if (!d->port) {
		pv_err("port %s: %s", d->port_name, strerror(-err));
		return -1;
	}
	d->ctl = nic_ctl_listen(d->dd.loop, d->nic, d->sock_path, &err);
	if (!d->ctl) {
		pv_err("%s: %s", d->sock_path, strerror(-err));
		return -1;
	}
	pv_info("port %s, mtu %u, %u VIs, %u buffers, receive coalescing %s, polling %u us; "
		"control on %s", d->port_name, d->nic->mtu, cfg->max_vis, cfg->nr_bufs,
		cfg->gro ? "on" : "off", d->poll_us, d->sock_path);
	return 0;
}

static void teardown(struct nicd *d)
{
	if (d->nic && d->nic->cfg.gro) {
		const struct nic_gro_stats *g = &d->nic->gro_st;

		pv_info("receive coalescing: %llu segments into %llu frames",
			(unsigned long long)g->segs, (unsigned long long)g->frames);
	}
	if (d->nic && d->poll_us)
		pv_info("polling: %llu VI turns found without a doorbell",
			(unsigned long long)d->nic->poll_kicks);
	nic_ctl_close(d->ctl);
	nic_port_close(d->port);
	nic_free(d->nic);
	pv_daemon_teardown(&d->dd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		PV_DAEMON_LONGOPTS,
		{ "port", required_argument, NULL, 'p' },
		{ "max-vis", required_argument, NULL, 'v' },
		{ "buffers", required_argument, NULL, 'b' },
		{ "filters", required_argument, NULL, 'f' },
		{ "vi-filters", required_argument, NULL, 'q' },
		{ "no-gro", no_argument, NULL, 'G' },
		{ "poll-us", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct nic_config cfg = { .max_vis = 64, .nr_bufs = 16384, .max_filters = 1024,
				  .vi_filters = 8, .gro = true, .rx_hold_bytes = NIC_RX_HOLD_BYTES };
	struct nicd d = { .port_name = NULL };
	const char *env = getenv("PVNET_NIC_POLL_US");
	int c, rc = 0;

	pv_daemon_init(&d.dd, "pvnet-nicd");
	if (env && *env && parse_u32(env, 0, NICD_POLL_MAX_US, &d.poll_us) < 0) {
		fprintf(stderr, "pvnet-nicd: bad PVNET_NIC_POLL_US '%s'\n", env);
		return 2;
	}
	while ((c = getopt_long(argc, argv, PV_DAEMON_SHORTOPTS "p:v:b:f:q:", opts, NULL)) != -1) {
		int bad = 0;

		if ((rc = pv_daemon_opt(&d.dd, c, optarg)) < 0)
			return 2;
		if (rc > 0)
			continue;
		switch (c) {
		case 'p': d.port_name = optarg; break;
		case 'v': bad = parse_u32(optarg, 1, 4096, &cfg.max_vis); break;
		case 'b': bad = parse_u32(optarg, 1, 1u << 22, &cfg.nr_bufs); break;
		case 'f': bad = parse_u32(optarg, 1, 1u << 16, &cfg.max_filters); break;
		case 'q': bad = parse_u32(optarg, 1, 1u << 16, &cfg.vi_filters); break;
		case 'G': cfg.gro = false; break;
		case 'P': bad = parse_u32(optarg, 0, NICD_POLL_MAX_US, &d.poll_us); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "pvnet-nicd: bad value '%s' for -%c\n", optarg, c);
			return 2;
		}
	}
	if (!d.dd.run_dir || !d.port_name || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (setup(&d, &cfg) < 0) {
		teardown(&d);
		return 1;
	}
	pv_daemon_ready(&d.dd);
	rc = nicd_run(&d);
	teardown(&d);
	return rc < 0 ? 1 : 0;
}
