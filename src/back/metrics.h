/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - pvnetd's Prometheus endpoint (pvnetd --metrics ADDR:PORT):
 * GET /metrics in the text exposition format (version 0.0.4), served with
 * libmicrohttpd from pvnetd's own loop (metrics.c says how).
 *
 * What it shows, all read when the scrape arrives:
 *   pvnet_*            the daemon: uptime, domains, vifs, hypervisor,
 *                      grant, event channel and xenstore counters
 *   pvnet_vif_*        per vif (labels domid, devid, vif, domain): every
 *                      counter of `pvnetctl vif-stats` (vif_counters.h),
 *                      its state, and its accelerator's state
 *   pvnet_bridge_*     the switch's table; pvnet_port_* per switch port
 *                      (labels port, kind)
 *   pvnet_nicport_*    the NIC's host VI as pvnetd's --nic port counts it
 *   pvnet_pvnic_*      the pvnic accelerator's backend (with --nic)
 */
#ifndef PVNET_METRICS_H
#define PVNET_METRICS_H

#include <sys/socket.h>
#include <time.h>

struct pv_loop;
struct pv_hv;
struct xs_server;
struct pv_switch;
struct pv_netback;
struct pv_nicport;
struct pvnic_back;
struct pv_buf;
struct pv_metrics;

/* What the metrics read; @np and @pnb may be NULL (no --nic). */
struct pv_metrics_ctx {
	struct pv_loop *loop;
	struct pv_hv *hv;
	struct xs_server *xs;
	struct pv_switch *sw;
	struct pv_netback *nb;
	struct pv_nicport *np;
	struct pvnic_back *pnb;
	time_t started;
};

/* A parsed --metrics argument. */
struct pv_metrics_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];		/* as given, for messages */
};

/*
 * pv_metrics_addr_parse() - "ADDR:PORT" (ADDR a numeric IPv4 address or
 * an IPv6 one in brackets) or a bare "PORT" (127.0.0.1); port 1..65535.
 * Return: 0, or -EINVAL with @why (a static string) set.
 */
int pv_metrics_addr_parse(const char *s, struct pv_metrics_addr *a, const char **why);

/*
 * pv_metrics_start() - listen on @a and serve from @ctx->loop.
 * Return: the server, or NULL with *err (-EADDRINUSE, -EACCES, ...).
 */
struct pv_metrics *pv_metrics_start(const struct pv_metrics_ctx *ctx,
				    const struct pv_metrics_addr *a, int *err);
/* Close the listening socket and every connection.  NULL is fine. */
void pv_metrics_stop(struct pv_metrics *m);

/* The page a scrape gets, appended to @out. */
void pv_metrics_render(const struct pv_metrics_ctx *ctx, struct pv_buf *out);

#endif
