/* SPDX-License-Identifier: MIT */
/*
 * guest.h - the guest side of pvnet's hypervisor services: what a Xen guest
 * kernel does with hypercalls, done over pvnetd's hypervisor socket.
 *
 * A struct pv_guest is one domain: its shareable memory (frames 0 ..
 * nr_pages-1), its grant table, its event channels and its xenstore
 * connection.  Closing it destroys the domain.  Not thread-safe: one
 * pv_guest is used by one thread at a time.
 */
#ifndef PVNET_GUEST_H
#define PVNET_GUEST_H

#include <stdint.h>

#include "pvnet/xen.h"

struct pv_guest;

/* Bound on one hypervisor call's reply (pv_guest_hv_call). */
#define PV_GUEST_HV_TIMEOUT_MS 5000

/*
 * pv_guest_register() - create a domain and register it with pvnetd
 * @hv_path: pvnetd's hypervisor socket (<run-dir>/hv.sock)
 * @name: [A-Za-z0-9._-]{1,31}
 * @nr_pages: shareable memory, in 4 KiB frames
 * @nr_grants: grant table entries (refs 0..7 are reserved)
 * @err: a negative errno on failure
 */
struct pv_guest *pv_guest_register(const char *hv_path, const char *name,
				   uint32_t nr_pages, uint32_t nr_grants, int *err);
void pv_guest_close(struct pv_guest *g);

unsigned int pv_guest_domid(const struct pv_guest *g);
uint32_t pv_guest_nr_pages(const struct pv_guest *g);
void *pv_guest_frame(struct pv_guest *g, uint32_t frame);	/* NULL if out of range */
int pv_guest_hv_fd(const struct pv_guest *g);	/* the hypervisor socket */
int pv_guest_xs_fd(const struct pv_guest *g);	/* the xenstore connection */
/* Another xenstore connection for this domain (the caller owns it). */
int pv_guest_xs_connect(struct pv_guest *g);

/* Grants: as gnttab_grant_foreign_access / gnttab_end_foreign_access_ref. */
int pv_guest_grant(struct pv_guest *g, unsigned int domid, uint32_t frame, int readonly);
int pv_guest_end_grant(struct pv_guest *g, grant_ref_t ref);	/* -EBUSY while mapped */
grant_entry_v1_t *pv_guest_gnttab(struct pv_guest *g);	/* raw table, for tests */
/* The same two operations on a raw entry. */
void pv_gnttab_grant_access(grant_entry_v1_t *e, unsigned int domid, uint32_t frame, int readonly);
int pv_gnttab_end_access(grant_entry_v1_t *e);	/* 0, or -EBUSY while in use */
uint32_t pv_guest_nr_grants(const struct pv_guest *g);

/* Event channels. */
int pv_guest_evtchn_alloc_unbound(struct pv_guest *g, unsigned int remote_dom);
int pv_guest_evtchn_bind(struct pv_guest *g, unsigned int remote_dom, uint32_t remote_port);
int pv_guest_evtchn_close(struct pv_guest *g, uint32_t port);
int pv_guest_evtchn_notify(struct pv_guest *g, uint32_t port);
int pv_guest_evtchn_fd(struct pv_guest *g, uint32_t port);	/* poll for POLLIN */
void pv_guest_evtchn_mask(struct pv_guest *g, uint32_t port);
/* Unmask; returns 1 if events arrived while masked (they are consumed). */
int pv_guest_evtchn_unmask(struct pv_guest *g, uint32_t port);
/* Consume pending events of an unmasked port: 1 if there were any, else 0. */
int pv_guest_evtchn_consume(struct pv_guest *g, uint32_t port);

/*
 * PV_HV_ACCEL_FDS: the descriptors accelerator @plugin's backend half hands
 * its frontend half for vif @devid (the caller owns them).
 * Return: how many (1..@max), or -errno (-EAGAIN: not ready yet).
 */
int pv_guest_accel_fds(struct pv_guest *g, const char *plugin, unsigned int devid, int *fds,
		       unsigned int max);

/* A raw request on the hypervisor socket (tests of bad input use it). */
int pv_guest_hv_call(int hv_fd, uint16_t type, const void *body, uint32_t len,
		     const int *fds, unsigned int nfds,
		     void *reply, uint32_t reply_len, int *rfds, unsigned int *nrfds);

#endif
