/* SPDX-License-Identifier: MIT */
/*
 * guest.c - guest-side hypervisor calls over pvnetd's hypervisor socket.
 *
 * Memory and the grant table are memfds created here, mapped shared and
 * handed to pvnetd at registration (which seals them).  Granting and
 * ending access follow Linux's gnttab code for grant table v1: fill
 * frame and domid, then publish flags after a write barrier; end access
 * with a compare-and-swap that refuses while pvnetd has the grant mapped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "guest.h"
#include "pvnet/hv_proto.h"
#include "lib/unix.h"
#include "lib/seqpacket_call.h"

_Static_assert(sizeof(struct pv_hv_hdr) == sizeof(struct pv_sp_hdr) &&
	       offsetof(struct pv_hv_hdr, seq) == offsetof(struct pv_sp_hdr, seq) &&
	       offsetof(struct pv_hv_hdr, err) == offsetof(struct pv_sp_hdr, err),
	       "pv_hv_hdr is the seqpacket call header");

struct guest_port {
	int in_fd;
	int out_fd;
	int masked;
};

struct pv_guest {
	int hv_fd;
	int xs_fd;
	unsigned int domid;
	uint32_t seq;
	int mem_fd;
	uint8_t *mem;
	uint32_t nr_pages;
	int gnt_fd;
	grant_entry_v1_t *gnt;
	uint32_t nr_grants;
	uint32_t *free_refs;	/* stack of free grant refs */
	uint32_t nr_free;
	struct guest_port ports[PV_HV_MAX_PORTS];
};

static void *guest_memfd(const char *name, size_t size, int *fd)
{
	void *p;

	*fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*fd < 0)
		return NULL;
	if (ftruncate(*fd, (off_t)size) < 0)
		goto fail;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	return p;
fail:
	close(*fd);
	*fd = -1;
	return NULL;
}

static size_t gnttab_bytes(uint32_t n)
{
	return ((size_t)n * sizeof(grant_entry_v1_t) + PV_PAGE_SIZE - 1) & ~((size_t)PV_PAGE_SIZE - 1);
}

/**
 * pv_guest_hv_call() - one request/reply on the hypervisor socket
 * @rfds: room for PV_HV_MAX_FDS descriptors, or NULL (received ones closed)
 *
 * A stale reply (another seq) is skipped, one of another type or length
 * is -EPROTO (see pv_seqpacket_call()).
 *
 * A pvnetd that accepted the connection but does not answer (stopped,
 * wedged) costs at most PV_GUEST_HV_TIMEOUT_MS: -ETIMEDOUT, and the caller
 * drops the connection (a migrating netfront then goes back to its source).
 *
 * Return: the reply's err field (0 or -errno), or -errno of the transport.
 */
int pv_guest_hv_call(int hv_fd, uint16_t type, const void *body, uint32_t len,
		     const int *fds, unsigned int nfds,
		     void *reply, uint32_t reply_len, int *rfds, unsigned int *nrfds)
{
	static uint32_t last_seq;
	const struct pv_sp_reply r = {
		.body = reply, .body_max = reply_len, .recv_max = PV_HV_MSG_MAX,
		.rfds = rfds, .rfds_max = PV_HV_MAX_FDS, .nrfds = nrfds, .body_if_ok = 1,
	};

	return pv_seqpacket_call(hv_fd, type, ++last_seq, body, len, fds, nfds, &r,
				 PV_GUEST_HV_TIMEOUT_MS);
}

/**
 * pv_guest_accel_fds() - PV_HV_ACCEL_FDS: the fast-path descriptors the
 * backend half of accelerator @plugin hands the frontend half for vif
 * @devid, in the plugin's order, owned by the caller.
 * Return: how many (1..@max), -EAGAIN (not ready), -ENOENT, -EPROTO (more
 * than @max or none), -EINVAL (bad name), another -errno.
 */
int pv_guest_accel_fds(struct pv_guest *g, const char *plugin, unsigned int devid, int *fds,
		       unsigned int max)
{
	struct pv_hv_accel_fds req = { .devid = devid };
	int rfds[PV_HV_MAX_FDS];
	unsigned int nr = 0;
	int e;

	if (!plugin || strlen(plugin) >= sizeof(req.name))
		return -EINVAL;
	memcpy(req.name, plugin, strlen(plugin));
	e = pv_guest_hv_call(g->hv_fd, PV_HV_ACCEL_FDS, &req, sizeof(req), NULL, 0, NULL, 0,
			     rfds, &nr);
	if (e == 0 && (nr == 0 || nr > max))
		e = -EPROTO;
	if (e) {
		for (unsigned int i = 0; i < nr; i++)
			close(rfds[i]);
		return e;
	}
	for (unsigned int i = 0; i < nr; i++)
		fds[i] = rfds[i];
	return (int)nr;
}

static int guest_setup_memory(struct pv_guest *g, uint32_t nr_pages, uint32_t nr_grants)
{
	g->nr_pages = nr_pages;
	g->nr_grants = nr_grants;
	g->mem = guest_memfd("pvnet-mem", (size_t)nr_pages * PV_PAGE_SIZE, &g->mem_fd);
	if (!g->mem)
		return -errno;
	g->gnt = guest_memfd("pvnet-gnttab", gnttab_bytes(nr_grants), &g->gnt_fd);
	if (!g->gnt)
		return -errno;
	g->free_refs = malloc(sizeof(uint32_t) * nr_grants);
	if (!g->free_refs)
		return -ENOMEM;
	for (uint32_t r = nr_grants; r-- > PV_GNT_RESERVED;)
		g->free_refs[g->nr_free++] = r;
	return 0;
}

struct pv_guest *pv_guest_register(const char *hv_path, const char *name,
				   uint32_t nr_pages, uint32_t nr_grants, int *err)
{
	struct pv_hv_register reg = { .version = PV_HV_VERSION, .nr_pages = nr_pages,
				      .nr_grants = nr_grants };
	struct pv_hv_register_reply rep;
	struct pv_guest *g = calloc(1, sizeof(*g));
	int fds[2], rfds[PV_HV_MAX_FDS];
	unsigned int nr = 0;
	int e;

	if (!g) {
		*err = -ENOMEM;
		return NULL;
	}
	g->hv_fd = g->xs_fd = g->mem_fd = g->gnt_fd = -1;
	for (unsigned int p = 0; p < PV_HV_MAX_PORTS; p++)
		g->ports[p].in_fd = g->ports[p].out_fd = -1;
	if (nr_grants < PV_GNT_RESERVED + 1 || !nr_pages) {
		e = -EINVAL;
		goto fail;
	}
	e = guest_setup_memory(g, nr_pages, nr_grants);
	if (e)
		goto fail;
	snprintf(reg.name, sizeof(reg.name), "%s", name);
	g->hv_fd = pv_unix_connect(hv_path, SOCK_SEQPACKET);
	if (g->hv_fd < 0) {
		e = g->hv_fd;
		goto fail;
	}
	fds[0] = g->mem_fd;
	fds[1] = g->gnt_fd;
	e = pv_guest_hv_call(g->hv_fd, PV_HV_REGISTER, &reg, sizeof(reg), fds, 2,
			     &rep, sizeof(rep), rfds, &nr);
	if (e == 0 && nr != 1)
		e = -EPROTO;
	if (e) {
		for (unsigned int i = 0; i < nr; i++)
			close(rfds[i]);
		goto fail;
	}
	g->xs_fd = rfds[0];
	g->domid = rep.domid;
	*err = 0;
	return g;
fail:
	pv_guest_close(g);
	*err = e;
	return NULL;
}

void pv_guest_close(struct pv_guest *g)
{
	if (!g)
		return;
	for (unsigned int p = 0; p < PV_HV_MAX_PORTS; p++) {
		if (g->ports[p].in_fd >= 0)
			close(g->ports[p].in_fd);
		if (g->ports[p].out_fd >= 0)
			close(g->ports[p].out_fd);
	}
	if (g->hv_fd >= 0)
		close(g->hv_fd);
	if (g->xs_fd >= 0)
		close(g->xs_fd);
	if (g->mem)
		munmap(g->mem, (size_t)g->nr_pages * PV_PAGE_SIZE);
	if (g->gnt)
		munmap(g->gnt, gnttab_bytes(g->nr_grants));
	if (g->mem_fd >= 0)
		close(g->mem_fd);
	if (g->gnt_fd >= 0)
		close(g->gnt_fd);
	free(g->free_refs);
	free(g);
}

unsigned int pv_guest_domid(const struct pv_guest *g) { return g->domid; }
uint32_t pv_guest_nr_pages(const struct pv_guest *g) { return g->nr_pages; }
uint32_t pv_guest_nr_grants(const struct pv_guest *g) { return g->nr_grants; }
int pv_guest_hv_fd(const struct pv_guest *g) { return g->hv_fd; }
int pv_guest_xs_fd(const struct pv_guest *g) { return g->xs_fd; }
grant_entry_v1_t *pv_guest_gnttab(struct pv_guest *g) { return g->gnt; }

void *pv_guest_frame(struct pv_guest *g, uint32_t frame)
{
	return frame < g->nr_pages ? g->mem + (size_t)frame * PV_PAGE_SIZE : NULL;
}

int pv_guest_xs_connect(struct pv_guest *g)
{
	int fd = -1;
	unsigned int nr = 0;
	int e = pv_guest_hv_call(g->hv_fd, PV_HV_XS_CONNECT, NULL, 0, NULL, 0, NULL, 0, &fd, &nr);

	if (e)
		return e;
	return nr == 1 ? fd : -EPROTO;
}

/**
 * pv_gnttab_grant_access() - fill an entry, publishing flags last
 */
void pv_gnttab_grant_access(grant_entry_v1_t *e, unsigned int domid, uint32_t frame, int readonly)
{
	e->frame = frame;
	e->domid = (domid_t)domid;
	__atomic_store_n(&e->flags, (uint16_t)(GTF_permit_access | (readonly ? GTF_readonly : 0)),
			 __ATOMIC_RELEASE);
}

/**
 * pv_gnttab_end_access() - revoke an entry unless the grantee has it in use
 * Return: 0 (revoked), -EBUSY (GTF_reading or GTF_writing set).
 */
int pv_gnttab_end_access(grant_entry_v1_t *e)
{
	uint16_t flags, nflags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);

	do {
		flags = nflags;
		if (flags & (GTF_reading | GTF_writing))
			return -EBUSY;
	} while (!__atomic_compare_exchange_n(&e->flags, &nflags, 0, 0,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return 0;
}

/**
 * pv_guest_grant() - gnttab_grant_foreign_access
 * Return: the grant ref, or -ENOSPC, -EINVAL (frame out of range).
 */
int pv_guest_grant(struct pv_guest *g, unsigned int domid, uint32_t frame, int readonly)
{
	uint32_t ref;

	if (frame >= g->nr_pages)
		return -EINVAL;
	if (!g->nr_free)
		return -ENOSPC;
	ref = g->free_refs[--g->nr_free];
	pv_gnttab_grant_access(&g->gnt[ref], domid, frame, readonly);
	return (int)ref;
}

/**
 * pv_guest_end_grant() - gnttab_end_foreign_access_ref: revoke, unless in use
 * Return: 0, -EBUSY while the grantee has it mapped, -EINVAL for a bad ref.
 */
int pv_guest_end_grant(struct pv_guest *g, grant_ref_t ref)
{
	int was_granted, e;

	if (ref < PV_GNT_RESERVED || ref >= g->nr_grants)
		return -EINVAL;
	was_granted = __atomic_load_n(&g->gnt[ref].flags, __ATOMIC_ACQUIRE) & GTF_permit_access;
	e = pv_gnttab_end_access(&g->gnt[ref]);
	if (e == 0 && was_granted)
		g->free_refs[g->nr_free++] = ref;
	return e;
}

static int guest_port_reply(struct pv_guest *g, int e, uint32_t port, const int *rfds,
			    unsigned int nr)
{
	if (e == 0 && (nr != 2 || port == 0 || port >= PV_HV_MAX_PORTS))
		e = -EPROTO;
	if (e) {
		for (unsigned int i = 0; i < nr; i++)
			close(rfds[i]);
		return e;
	}
	g->ports[port].in_fd = rfds[0];
	g->ports[port].out_fd = rfds[1];
	g->ports[port].masked = 0;
	return (int)port;
}

int pv_guest_evtchn_alloc_unbound(struct pv_guest *g, unsigned int remote_dom)
{
	struct pv_hv_evtchn_alloc a = { .remote_dom = (uint16_t)remote_dom };
	struct pv_hv_evtchn_reply rep = { 0 };
	int rfds[PV_HV_MAX_FDS];
	unsigned int nr = 0;
	int e = pv_guest_hv_call(g->hv_fd, PV_HV_EVTCHN_ALLOC_UNBOUND, &a, sizeof(a), NULL, 0,
				 &rep, sizeof(rep), rfds, &nr);

	return guest_port_reply(g, e, rep.port, rfds, nr);
}

int pv_guest_evtchn_bind(struct pv_guest *g, unsigned int remote_dom, uint32_t remote_port)
{
	struct pv_hv_evtchn_bind b = { .remote_dom = (uint16_t)remote_dom,
				       .remote_port = remote_port };
	struct pv_hv_evtchn_reply rep = { 0 };
	int rfds[PV_HV_MAX_FDS];
	unsigned int nr = 0;
	int e = pv_guest_hv_call(g->hv_fd, PV_HV_EVTCHN_BIND_INTERDOMAIN, &b, sizeof(b), NULL, 0,
				 &rep, sizeof(rep), rfds, &nr);

	return guest_port_reply(g, e, rep.port, rfds, nr);
}

static struct guest_port *guest_port(struct pv_guest *g, uint32_t port)
{
	if (port == 0 || port >= PV_HV_MAX_PORTS || g->ports[port].in_fd < 0)
		return NULL;
	return &g->ports[port];
}

int pv_guest_evtchn_close(struct pv_guest *g, uint32_t port)
{
	struct pv_hv_evtchn_close c = { .port = port };
	struct guest_port *p = guest_port(g, port);
	int e;

	if (!p)
		return -EINVAL;
	e = pv_guest_hv_call(g->hv_fd, PV_HV_EVTCHN_CLOSE, &c, sizeof(c), NULL, 0,
			     NULL, 0, NULL, NULL);
	close(p->in_fd);
	close(p->out_fd);
	p->in_fd = p->out_fd = -1;
	return e;
}

int pv_guest_evtchn_notify(struct pv_guest *g, uint32_t port)
{
	struct guest_port *p = guest_port(g, port);
	uint64_t one = 1;

	if (!p)
		return -EINVAL;
	if (write(p->out_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int pv_guest_evtchn_fd(struct pv_guest *g, uint32_t port)
{
	struct guest_port *p = guest_port(g, port);

	return p ? p->in_fd : -EINVAL;
}

void pv_guest_evtchn_mask(struct pv_guest *g, uint32_t port)
{
	struct guest_port *p = guest_port(g, port);

	if (p)
		p->masked = 1;
}

static int guest_port_drain(struct guest_port *p)
{
	uint64_t v;

	return read(p->in_fd, &v, sizeof(v)) == sizeof(v) && v > 0;
}

int pv_guest_evtchn_unmask(struct pv_guest *g, uint32_t port)
{
	struct guest_port *p = guest_port(g, port);

	if (!p)
		return -EINVAL;
	p->masked = 0;
	return guest_port_drain(p);
}

int pv_guest_evtchn_consume(struct pv_guest *g, uint32_t port)
{
	struct guest_port *p = guest_port(g, port);

	if (!p)
		return -EINVAL;
	if (p->masked)
		return 0;
	return guest_port_drain(p);
}
