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

/*
 * The event stream of `pvnetctl monitor` (pvnet/ctl.h): one call at each
 * place that changes a state, sent to every subscriber of the listening
 * pv_ctl (none: a no-op).  @domid, @devid: the domain and vif it is about
 * (-1: none); then "key", "value" string pairs, NULL-terminated.  Never
 * blocks: a subscriber whose queue is full loses the event (counted).
 * End the pairs with PV_EV_END (a typed NULL).
 */
#define PV_EV_END ((const char *)NULL)
void pv_ctl_event(const char *event, int domid, int devid, ...) __attribute__((sentinel));
/* A vif's xenbus states changed (either end): the "vif-state" event. */
void pv_ctl_event_vif_state(unsigned int domid, unsigned int devid, int be_state, int fe_state);
/* A XenbusState's name ("Connected"; "?" if none). */
const char *pv_ctl_xb_state(int state);
/* Called after each event (pvnetd: the kept settings are rewritten, keep.c). */
void pv_ctl_on_event(struct pv_ctl *ctl, void (*cb)(const char *event, void *arg), void *arg);

#endif
