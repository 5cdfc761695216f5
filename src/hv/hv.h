/* SPDX-License-Identifier: MIT */
/*
 * hv.h - pvnetd's hypervisor services: domains, their memory, grant tables
 * and event channels.
 *
 * Domain 0 is pvnetd itself.  Guests register over the hypervisor socket
 * (hvsock.c, protocol in <pvnet/hv_proto.h>).  Everything a guest hands us
 * lives in memory the guest can still write at any time, so every use of a
 * grant goes through pv_gnt_map()/pv_gnt_copy_*(), the one checked path.
 */
#ifndef PVNET_HV_H
#define PVNET_HV_H

#include <stdint.h>
#include <sys/types.h>

#include "pvnet/xen.h"
#include "pvnet/hv_proto.h"
#include "lib/loop.h"

#define PV_MAX_DOMAINS     1024	/* domids 0 .. PV_MAX_DOMAINS-1 */
#define PV_GNT_RESERVED    8	/* refs 0..7 reserved, as GNTTAB_NR_RESERVED_ENTRIES */

struct pv_hv;
struct pv_domain;
struct xs_server;
struct hvsock_conn;

enum pv_evtchn_state { PV_EVTCHN_FREE = 0, PV_EVTCHN_UNBOUND, PV_EVTCHN_INTERDOMAIN };

struct pv_evtchn {
	enum pv_evtchn_state state;
	pv_domid_t remote_dom;
	uint32_t remote_port;	/* valid when INTERDOMAIN */
	int in_fd;		/* readable when the remote notifies us */
	int out_fd;		/* write to notify the remote */
};

/* Private per-grant bookkeeping: how many maps of it are live. */
struct pv_gnt_pin {
	uint16_t readers;
	uint16_t writers;
};

struct pv_gnt_stats {
	uint64_t maps, unmaps, copies;
	uint64_t bad_ref, not_granted, wrong_domid, readonly_write,
		 bad_frame, bad_range, busy;
};

struct pv_domain {
	pv_domid_t domid;
	char name[PV_HV_NAME_LEN];
	pid_t pid;
	uid_t uid;
	int dying;

	/* The registration connection (NULL for dom0). */
	struct hvsock_conn *conn;

	/* Shareable memory: nr_pages frames, mapped shared. */
	int mem_fd;
	uint8_t *mem;
	uint32_t nr_pages;

	/* Grant table, written by the guest. */
	int gnt_fd;
	grant_entry_v1_t *gnt;
	uint32_t nr_grants;
	struct pv_gnt_pin *pins;	/* nr_grants, private */
	unsigned int live_maps;

	struct pv_evtchn ports[PV_HV_MAX_PORTS];
	unsigned int nr_bound;
};

/* Called before a domain is destroyed, so users unmap and close first. */
typedef void (*pv_domain_cb)(struct pv_hv *hv, struct pv_domain *d, void *arg);

/*
 * The hypervisor's own destroy hooks: what evtchn.c, grant.c and hvsock.c
 * take back from a dying domain.  Each part fills its slot when it is
 * first used (an empty slot: nothing to take back), so domain.c calls them
 * without naming them.  pv_domain_destroy() runs them after the users'
 * hooks, in slot order (the store's release between GNT and CONN);
 * pv_hv_free() runs @close first and domain[PV_HV_EVTCHN] on dom0 last.
 */
typedef void (*pv_reclaim_cb)(struct pv_hv *hv, struct pv_domain *d);
enum { PV_HV_EVTCHN, PV_HV_GNT, PV_HV_CONN, PV_HV_NR_PARTS };
struct pv_hv_reclaim {
	pv_reclaim_cb domain[PV_HV_NR_PARTS];
	void (*close)(struct pv_hv *hv);	/* hvsock: the socket, every connection */
};

struct pv_hv_stats {
	uint64_t registered, destroyed;
	uint64_t bad_msgs, rejected_peers;
	struct pv_gnt_stats gnt;
	uint64_t evtchn_alloc, evtchn_bind, evtchn_close;
};

struct pv_hv {
	struct pv_loop *loop;
	struct xs_server *xs;
	struct pv_domain *doms[PV_MAX_DOMAINS];
	pv_domid_t next_domid;
	struct pv_hv_stats st;
	/* hvsock */
	int listen_fd;
	struct pv_watch *listen_w;
	char *sock_path;
	struct hvsock_conn *conns;	/* every open connection, registered or not */
	uid_t allow_uid;	/* besides root and our own euid; (uid_t)-1 = none */
	/* PV_HV_VIF_REQUEST goes to the toolstack; NULL refuses with -EPERM. */
	int (*vif_request)(struct pv_hv *hv, struct pv_domain *d,
			   const struct pv_hv_vif_request *req,
			   struct pv_hv_vif_reply *rep, void *arg);
	void *vif_request_arg;
	/*
	 * PV_HV_ACCEL_FDS goes to the accelerator host (accel_back.c's
	 * pv_accel_back_hv_fds, set by its first vif); NULL refuses with -ENOENT.  Returns how many
	 * descriptors (1..@max) it put in @fds, which hvsock sends and then
	 * closes, or -errno.
	 */
	int (*accel_fds)(struct pv_hv *hv, unsigned int domid, const char *plugin,
			 unsigned int devid, int *fds, unsigned int max, void *arg);
	void *accel_fds_arg;
	/* destroy hooks */
	struct { pv_domain_cb cb; void *arg; } hooks[8];
	unsigned int nr_hooks;
	struct pv_hv_reclaim reclaim;
};

/* domain.c */
struct pv_hv *pv_hv_new(struct pv_loop *loop, struct xs_server *xs);
void pv_hv_free(struct pv_hv *hv);
struct pv_domain *pv_domain_get(struct pv_hv *hv, unsigned int domid);
int pv_domain_hook(struct pv_hv *hv, pv_domain_cb cb, void *arg);
void pv_domain_unhook(struct pv_hv *hv, pv_domain_cb cb, void *arg);
/* Create a guest domain from its memory and grant table memfds (takes the fds). */
struct pv_domain *pv_domain_create(struct pv_hv *hv, const char *name,
				   int mem_fd, uint32_t nr_pages,
				   int gnt_fd, uint32_t nr_grants, int *err);
void pv_domain_destroy(struct pv_hv *hv, struct pv_domain *d);
unsigned int pv_domain_count(struct pv_hv *hv);
/*
 * Let go of the page table entries of every guest's memory that we touched
 * (MADV_DONTNEED on our shared mappings: the pages and their contents stay
 * the guest's, the next access maps them again).
 */
void pv_hv_trim(struct pv_hv *hv);

/* grant.c: the one checked path to a guest's granted pages. */
struct pv_gnt_map {
	struct pv_domain *dom;	/* granter */
	grant_ref_t ref;
	int readonly;
	void *page;		/* PV_PAGE_SIZE bytes */
};
int pv_gnt_map(struct pv_hv *hv, unsigned int granter, grant_ref_t ref,
	       unsigned int mapper, int readonly, struct pv_gnt_map *m);
void pv_gnt_unmap(struct pv_hv *hv, struct pv_gnt_map *m);
int pv_gnt_copy_from(struct pv_hv *hv, unsigned int granter, grant_ref_t ref,
		     unsigned int mapper, uint32_t offset, uint32_t len, void *dst);
int pv_gnt_copy_to(struct pv_hv *hv, unsigned int granter, grant_ref_t ref,
		   unsigned int mapper, uint32_t offset, const void *src, uint32_t len);
/* Drop every pin a domain's grants hold (domain teardown). */
void pv_gnt_release_all(struct pv_hv *hv, struct pv_domain *d);

/* evtchn.c: ports are small integers per domain; each end is two eventfds. */
int pv_evtchn_alloc_unbound(struct pv_hv *hv, unsigned int dom, unsigned int remote_dom);
int pv_evtchn_bind_interdomain(struct pv_hv *hv, unsigned int dom,
			       unsigned int remote_dom, uint32_t remote_port);
int pv_evtchn_close(struct pv_hv *hv, unsigned int dom, uint32_t port);
struct pv_evtchn *pv_evtchn_get(struct pv_hv *hv, unsigned int dom, uint32_t port);
/* dom0 helpers: notify the remote end; consume pending events (returns count). */
int pv_evtchn_notify(struct pv_hv *hv, unsigned int dom, uint32_t port);
void pv_evtchn_close_all(struct pv_hv *hv, struct pv_domain *d);

/* hvsock.c: the hypervisor socket. */
int pv_hvsock_listen(struct pv_hv *hv, const char *path);
void pv_hvsock_close(struct pv_hv *hv);
/* Close a domain's connection because the domain is being destroyed. */
void pv_hvsock_detach(struct pv_hv *hv, struct pv_domain *d);

#endif
