/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - pvnetd's control socket, for pvnetctl (trusted: mode 0600).
 * The protocol and its command table are in include/pvnet/ctl.h.
 */
#ifndef PVNET_CTL_H
#define PVNET_CTL_H

#include <time.h>

#include "pvnet/ctl.h"

struct pv_loop;
struct pv_hv;
struct xs_server;
struct pv_switch;
struct pv_netback;
struct pv_ctl;
struct pv_mig;

struct pv_nicport;

struct pv_ctl_ctx {
	struct pv_loop *loop;
	struct pv_hv *hv;
	struct xs_server *xs;
	struct pv_switch *sw;
	struct pv_netback *nb;
	struct pv_nicport *np;		/* --nic: the NIC's host VI port, or NULL */
	struct pv_mig *mig;		/* migrate.c: the migration records */
	time_t started;
};

struct pv_ctl *pv_ctl_listen(const struct pv_ctl_ctx *ctx, const char *path, int *err);
void pv_ctl_close(struct pv_ctl *ctl);

#endif
