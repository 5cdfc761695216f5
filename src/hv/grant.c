/* SPDX-License-Identifier: MIT */
/*
 * grant.c - grant tables, version 1, and the one checked path to a
 * guest's granted pages.
 *
 * Theory of operation
 *
 * The guest fills grant_entry_v1_t entries {flags, domid, frame} in a table
 * it shares with pvnetd, exactly as a Xen guest does.  The guest may rewrite
 * an entry at any moment, so pv_gnt_acquire() reads the entry once, checks
 * the copy, and then claims it with one compare-and-swap of the 32-bit
 * {flags, domid} word that sets GTF_reading (and GTF_writing for a
 * writable use).  If the guest changed the word in between, the CAS fails
 * and we start again from a fresh read (a bounded number of times).  Once
 * the bit is set, the guest's end-of-access (a CAS of flags to 0 that
 * refuses while GTF_reading/GTF_writing is set, as in Linux's
 * gnttab_end_foreign_access_ref) fails: the page cannot be revoked under
 * the backend.  The frame used is the one from our single read, checked
 * against the domain's memory size.
 *
 * Pins are counted in private memory per ref; the shared bits are cleared
 * when the last reader or writer goes.
 *
 * Every refusal is one of the failure kinds of DESIGN.md: the caller (netback)
 * decides whether it is fatal for the vif; this file only says which rule
 * failed (distinct errno per rule, counted in hv->st.gnt).
 */
#include <errno.h>
#include <string.h>

#include "hv.h"
#include "lib/log.h"

#define GNT_CAS_TRIES 16

static struct pv_ratelimit gnt_rl = PV_RATELIMIT_INIT;

/* The {flags, domid} half of an entry, as one 32-bit word for the CAS. */
static uint32_t *gnt_word(grant_entry_v1_t *e)
{
	return (uint32_t *)(void *)e;
}

static uint32_t gnt_pack(uint16_t flags, uint16_t domid)
{
	return (uint32_t)flags | ((uint32_t)domid << 16);
}

/*
 * Validate a copied entry for a use by @mapper.  Return 0 or the errno of
 * the rule it breaks.
 */
static int gnt_check(struct pv_hv *hv, const struct pv_domain *d,
		     grant_entry_v1_t e, unsigned int mapper, int readonly)
{
	struct pv_gnt_stats *st = &hv->st.gnt;

	if ((e.flags & GTF_type_mask) != GTF_permit_access) {
		st->not_granted++;
		return ENOENT;
	}
	if (e.domid != mapper) {
		st->wrong_domid++;
		return EACCES;
	}
	if (!readonly && (e.flags & GTF_readonly)) {
		st->readonly_write++;
		return EROFS;
	}
	if (e.frame >= d->nr_pages) {
		st->bad_frame++;
		return EFAULT;
	}
	return 0;
}

/*
 * Claim the grant: check it and set GTF_reading|GTF_writing atomically.
 * On success *frame is the (checked) frame to use.
 */
static int gnt_acquire(struct pv_hv *hv, struct pv_domain *d, grant_ref_t ref,
		       unsigned int mapper, int readonly, uint32_t *frame)
{
	uint16_t busy = readonly ? GTF_reading : (GTF_reading | GTF_writing);
	grant_entry_v1_t *shared, e;
	uint64_t raw;
	int err;

	if (ref >= d->nr_grants) {
		hv->st.gnt.bad_ref++;
		return -ERANGE;
	}
	shared = &d->gnt[ref];
	for (int tries = 0; tries < GNT_CAS_TRIES; tries++) {
		/* One read of the whole entry; everything below uses the copy. */
		raw = __atomic_load_n((uint64_t *)(void *)shared, __ATOMIC_ACQUIRE);
		memcpy(&e, &raw, sizeof(e));
		err = gnt_check(hv, d, e, mapper, readonly);
		if (err)
			return -err;
		uint32_t old = gnt_pack(e.flags, e.domid);
		uint32_t new = gnt_pack(e.flags | busy, e.domid);

		if (__atomic_compare_exchange_n(gnt_word(shared), &old, new, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			*frame = e.frame;
			if (readonly)
				d->pins[ref].readers++;
			else
				d->pins[ref].writers++, d->pins[ref].readers++;
			return 0;
		}
	}
	/* The guest keeps rewriting the entry under us. */
	hv->st.gnt.busy++;
	return -EBUSY;
}

/* Drop one pin; clear the shared bits when nothing holds them any more. */
static void gnt_release(struct pv_domain *d, grant_ref_t ref, int readonly)
{
	struct pv_gnt_pin *pin = &d->pins[ref];
	uint16_t clear = 0;

	if (!readonly && pin->writers && --pin->writers == 0)
		clear |= GTF_writing;
	if (pin->readers && --pin->readers == 0)
		clear |= GTF_reading;
	if (clear)
		__atomic_fetch_and(&d->gnt[ref].flags, (uint16_t)~clear, __ATOMIC_RELEASE);
}

static struct pv_domain *gnt_domain(struct pv_hv *hv, unsigned int granter)
{
	struct pv_domain *d = pv_domain_get(hv, granter);

	/* Domain 0 has no grant table in pvnetd. */
	return d && d->gnt ? d : NULL;
}

/**
 * pv_gnt_map() - map a granted page for @mapper
 * @m: filled on success; pass to pv_gnt_unmap() exactly once
 *
 * Return: 0, or -ESRCH (no such granter), -ERANGE (ref out of range),
 * -ENOENT (not granted), -EACCES (granted to another domain), -EROFS
 * (read-only granted, writable asked), -EFAULT (frame beyond the
 * granter's memory), -EBUSY (entry kept changing).
 */
int pv_gnt_map(struct pv_hv *hv, unsigned int granter, grant_ref_t ref,
	       unsigned int mapper, int readonly, struct pv_gnt_map *m)
{
	struct pv_domain *d = gnt_domain(hv, granter);
	uint32_t frame;
	int err;

	if (!d)
		return -ESRCH;
	err = gnt_acquire(hv, d, ref, mapper, readonly, &frame);
	if (err) {
		pv_log_rl(&gnt_rl, PV_LOG_WARN, "dom%u: map of gref %u by dom%u refused: %s",
			  granter, ref, mapper, strerror(-err));
		return err;
	}
	hv->reclaim.domain[PV_HV_GNT] = pv_gnt_release_all;	/* a pin may outlive us */
	m->dom = d;
	m->ref = ref;
	m->readonly = readonly;
	m->page = d->mem + (size_t)frame * PV_PAGE_SIZE;
	d->live_maps++;
	hv->st.gnt.maps++;
	return 0;
}

void pv_gnt_unmap(struct pv_hv *hv, struct pv_gnt_map *m)
{
	if (!m->dom)
		return;
	gnt_release(m->dom, m->ref, m->readonly);
	m->dom->live_maps--;
	m->dom = NULL;
	m->page = NULL;
	hv->st.gnt.unmaps++;
}

/* offset+len inside one page, computed without overflow. */
static int gnt_range_ok(struct pv_hv *hv, uint32_t offset, uint32_t len)
{
	if ((uint64_t)offset + len > PV_PAGE_SIZE) {
		hv->st.gnt.bad_range++;
		return 0;
	}
	return 1;
}

static int gnt_copy(struct pv_hv *hv, unsigned int granter, grant_ref_t ref,
		    unsigned int mapper, uint32_t offset, uint32_t len,
		    void *buf, int to_guest)
{
	struct pv_gnt_map m;
	int err;

	if (!gnt_range_ok(hv, offset, len)) {
		pv_log_rl(&gnt_rl, PV_LOG_WARN, "dom%u: copy gref %u offset %u len %u crosses the page",
			  granter, ref, offset, len);
		return -EINVAL;
	}
	err = pv_gnt_map(hv, granter, ref, mapper, !to_guest, &m);
	if (err)
		return err;
	if (to_guest)
		memcpy((uint8_t *)m.page + offset, buf, len);
	else
		memcpy(buf, (uint8_t *)m.page + offset, len);
	pv_gnt_unmap(hv, &m);
	hv->st.gnt.copies++;
	return 0;
}

/**
 * pv_gnt_copy_from() - GNTTABOP_copy from a guest's granted page
 *
 * Return: 0, -EINVAL if @offset+@len crosses the page, or pv_gnt_map()'s errors.
 */
int pv_gnt_copy_from(struct pv_hv *hv, unsigned int granter, grant_ref_t ref,
		     unsigned int mapper, uint32_t offset, uint32_t len, void *dst)
{
	return gnt_copy(hv, granter, ref, mapper, offset, len, dst, 0);
}

/**
 * pv_gnt_copy_to() - GNTTABOP_copy into a guest's granted page (needs write access)
 */
int pv_gnt_copy_to(struct pv_hv *hv, unsigned int granter, grant_ref_t ref,
		   unsigned int mapper, uint32_t offset, const void *src, uint32_t len)
{
	return gnt_copy(hv, granter, ref, mapper, offset, len, (void *)src, 1);
}

/* Domain teardown: clear every pin still held (users were told first). */
void pv_gnt_release_all(struct pv_hv *hv, struct pv_domain *d)
{
	if (d->live_maps)
		pv_warn("dom%u: %u grant mappings still live at destroy; released",
			d->domid, d->live_maps);
	for (uint32_t r = 0; r < d->nr_grants && d->pins; r++) {
		if (d->pins[r].readers || d->pins[r].writers)
			__atomic_fetch_and(&d->gnt[r].flags,
					   (uint16_t)~(GTF_reading | GTF_writing), __ATOMIC_RELEASE);
		d->pins[r].readers = d->pins[r].writers = 0;
	}
	d->live_maps = 0;
}
