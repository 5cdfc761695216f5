/* SPDX-License-Identifier: MIT */
/*
 * domain.c - domains and their shareable memory.
 *
 * A guest domain exists from a successful PV_HV_REGISTER until its
 * connection closes.  Its memory and grant table are memfds that pvnetd
 * seals against shrinking before mapping them shared, so a guest cannot
 * make the daemon fault by truncating them (BADINPUTS 10).  Destroying a
 * domain runs the destroy hooks first (netback unmaps its grants and closes
 * its ports), then reclaims whatever is still held: event channels, grant
 * pins, xenstore connections and nodes, the registration connection, the
 * mappings.  Event channels, grants and the hypervisor socket are taken
 * back through their own hooks (hv.h: struct pv_hv_reclaim), so this file
 * calls none of them by name: they call down into it, not the reverse.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv.h"
#include "xs.h"
#include "lib/log.h"

/* Run one of the hypervisor's own destroy hooks, if that part was used. */
static void domain_reclaim(struct pv_hv *hv, struct pv_domain *d, unsigned int part)
{
	if (hv->reclaim.domain[part])
		hv->reclaim.domain[part](hv, d);
}

struct pv_hv *pv_hv_new(struct pv_loop *loop, struct xs_server *xs)
{
	struct pv_hv *hv = calloc(1, sizeof(*hv));
	struct pv_domain *d0;

	if (!hv)
		return NULL;
	hv->loop = loop;
	hv->xs = xs;
	hv->listen_fd = -1;
	hv->allow_uid = (uid_t)-1;
	hv->next_domid = 1;
	d0 = calloc(1, sizeof(*d0));
	if (!d0) {
		free(hv);
		return NULL;
	}
	d0->domid = 0;
	strcpy(d0->name, "Domain-0");
	d0->pid = getpid();
	d0->mem_fd = d0->gnt_fd = -1;
	hv->doms[0] = d0;
	return hv;
}

void pv_hv_free(struct pv_hv *hv)
{
	if (!hv)
		return;
	if (hv->reclaim.close)
		hv->reclaim.close(hv);
	for (unsigned int i = 1; i < PV_MAX_DOMAINS; i++)
		if (hv->doms[i])
			pv_domain_destroy(hv, hv->doms[i]);
	domain_reclaim(hv, hv->doms[0], PV_HV_EVTCHN);
	free(hv->doms[0]);
	free(hv);
}

/**
 * pv_domain_get() - look up a live domain
 * @domid: any value a peer supplied; out-of-range ids are simply not found
 */
struct pv_domain *pv_domain_get(struct pv_hv *hv, unsigned int domid)
{
	struct pv_domain *d;

	if (domid >= PV_MAX_DOMAINS)
		return NULL;
	d = hv->doms[domid];
	return d && !d->dying ? d : NULL;
}

int pv_domain_hook(struct pv_hv *hv, pv_domain_cb cb, void *arg)
{
	if (hv->nr_hooks >= sizeof(hv->hooks) / sizeof(hv->hooks[0]))
		return -ENOSPC;
	hv->hooks[hv->nr_hooks].cb = cb;
	hv->hooks[hv->nr_hooks].arg = arg;
	hv->nr_hooks++;
	return 0;
}

void pv_domain_unhook(struct pv_hv *hv, pv_domain_cb cb, void *arg)
{
	for (unsigned int i = 0; i < hv->nr_hooks; i++) {
		if (hv->hooks[i].cb != cb || hv->hooks[i].arg != arg)
			continue;
		memmove(&hv->hooks[i], &hv->hooks[i + 1],
			(hv->nr_hooks - i - 1) * sizeof(hv->hooks[0]));
		hv->nr_hooks--;
		return;
	}
}

unsigned int pv_domain_count(struct pv_hv *hv)
{
	unsigned int n = 0;

	for (unsigned int i = 1; i < PV_MAX_DOMAINS; i++)
		n += hv->doms[i] != NULL;
	return n;
}

/*
 * Seal @fd against shrinking and map @size bytes of it shared.  The seal is
 * what makes the mapping safe: without it the guest could ftruncate() the
 * memfd and turn our next access into SIGBUS.
 */
static void *domain_map_memfd(int fd, size_t size, int *err)
{
	struct stat stb;
	int seals;
	void *p;

	if (fstat(fd, &stb) < 0 || !S_ISREG(stb.st_mode)) {
		*err = -EBADF;
		return NULL;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		/* Already sealed with F_SEAL_SEAL: acceptable only if it cannot shrink. */
		seals = fcntl(fd, F_GET_SEALS);
		if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
			*err = -EPERM;
			return NULL;
		}
	}
	/* Size checked only after sealing, so it cannot change under us. */
	if (fstat(fd, &stb) < 0 || (uint64_t)stb.st_size < size) {
		*err = -EINVAL;
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	return p;
}

static int domain_alloc_id(struct pv_hv *hv)
{
	for (unsigned int i = 0; i < PV_MAX_DOMAINS - 1; i++) {
		unsigned int id = hv->next_domid;

		hv->next_domid = id + 1 >= PV_MAX_DOMAINS ? 1 : id + 1;
		if (!hv->doms[id])
			return (int)id;
	}
	return -ENOSPC;
}

static size_t gnt_table_bytes(uint32_t nr_grants)
{
	size_t b = (size_t)nr_grants * sizeof(grant_entry_v1_t);

	return (b + PV_PAGE_SIZE - 1) & ~((size_t)PV_PAGE_SIZE - 1);
}

/**
 * pv_domain_create() - make a guest domain from its memfds
 * @mem_fd, @gnt_fd: taken in all cases (closed on failure)
 * @err: set to a negative errno on failure
 *
 * Return: the new domain, introduced to the store, or NULL.
 */
struct pv_domain *pv_domain_create(struct pv_hv *hv, const char *name,
				   int mem_fd, uint32_t nr_pages,
				   int gnt_fd, uint32_t nr_grants, int *err)
{
	struct pv_domain *d = NULL;
	int id;

	*err = -EINVAL;
	if (!nr_pages || nr_pages > PV_HV_MAX_PAGES ||
	    nr_grants < PV_GNT_RESERVED || nr_grants > PV_HV_MAX_GRANTS)
		goto fail;
	id = domain_alloc_id(hv);
	if (id < 0) {
		*err = id;
		goto fail;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		*err = -ENOMEM;
		goto fail;
	}
	d->domid = (pv_domid_t)id;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->mem_fd = mem_fd;
	d->gnt_fd = gnt_fd;
	d->nr_pages = nr_pages;
	d->nr_grants = nr_grants;
	d->mem = domain_map_memfd(mem_fd, (size_t)nr_pages * PV_PAGE_SIZE, err);
	if (!d->mem)
		goto fail;
	d->gnt = domain_map_memfd(gnt_fd, gnt_table_bytes(nr_grants), err);
	if (!d->gnt)
		goto fail;
	d->pins = calloc(nr_grants, sizeof(*d->pins));
	if (!d->pins) {
		*err = -ENOMEM;
		goto fail;
	}
	hv->doms[d->domid] = d;
	if (hv->xs)
		xs_server_domain_intro(hv->xs, d->domid);
	hv->st.registered++;
	*err = 0;
	return d;
fail:
	if (d) {
		if (d->gnt)
			munmap(d->gnt, gnt_table_bytes(nr_grants));
		if (d->mem)
			munmap(d->mem, (size_t)nr_pages * PV_PAGE_SIZE);
		free(d->pins);
		free(d);
	}
	close(mem_fd);
	close(gnt_fd);
	return NULL;
}

/**
 * pv_domain_destroy() - reclaim everything a domain held
 *
 * Hooks first, so their owners release grants and ports cleanly; then
 * whatever they left is reclaimed by force.
 */
void pv_domain_destroy(struct pv_hv *hv, struct pv_domain *d)
{
	if (d->domid == 0 || d->dying)
		return;
	d->dying = 1;
	for (unsigned int i = 0; i < hv->nr_hooks; i++)
		hv->hooks[i].cb(hv, d, hv->hooks[i].arg);
	domain_reclaim(hv, d, PV_HV_EVTCHN);
	domain_reclaim(hv, d, PV_HV_GNT);
	if (hv->xs)
		xs_server_domain_release(hv->xs, d->domid);
	if (d->conn)
		domain_reclaim(hv, d, PV_HV_CONN);
	munmap(d->gnt, gnt_table_bytes(d->nr_grants));
	munmap(d->mem, (size_t)d->nr_pages * PV_PAGE_SIZE);
	close(d->gnt_fd);
	close(d->mem_fd);
	free(d->pins);
	hv->doms[d->domid] = NULL;
	hv->st.destroyed++;
	pv_info("domain %u (%s) destroyed", d->domid, d->name);
	free(d);
	/*
	 * A domain's blocks (its struct, grant pins, store nodes, its vif's)
	 * are freed in the middle of the heap, below blocks that live on:
	 * glibc keeps those pages unless asked.  Give them back, so that
	 * pvnetd's RSS returns near its start once guests go (tests/integration/scale.sh).
	 */
	malloc_trim(0);
}

/*
 * A grant copy in Xen leaves nothing mapped in dom0; our copies go through
 * a mapping of the guest's whole memfd, and every page netback has copied
 * into or out of (the guest's RX and TX buffers, 1.1 MiB of a guest with
 * 256 RX buffers) then stays in pvnetd's page tables, so ps counts it in
 * pvnetd's RSS although it is the guest's memory, charged to its memfd.
 * pvnetd calls this once a second: those entries go, a busy guest's buffers
 * fault back in on their next copy (a minor fault per page, ~256 a second
 * for a guest receiving at line rate), an idle guest costs pvnetd only
 * its own memory.
 */
void pv_hv_trim(struct pv_hv *hv)
{
	for (unsigned int i = 1; i < PV_MAX_DOMAINS; i++) {
		struct pv_domain *d = hv->doms[i];

		if (d && d->mem && madvise(d->mem, (size_t)d->nr_pages * PV_PAGE_SIZE, MADV_DONTNEED) < 0)
			pv_debug("domain %u: madvise: %s", d->domid, strerror(errno));
	}
}
