/* SPDX-License-Identifier: MIT */
/*
 * filter.c - RX filters: which VI a frame from the wire goes to.
 *
 * How this works
 * ==============
 *
 * A fixed array of filters, each in one hash chain keyed by what it
 * matches (destination MAC; or protocol + destination IPv4 + destination
 * port).  A frame is looked up twice at most: first its IPv4 key (the more
 * specific filter wins: a flow filter steers a flow away from the VI that
 * owns the MAC), then its destination MAC.  Broadcast and multicast never
 * match (the slow path takes them).  The same key twice is -EEXIST; each VI
 * has a quota, and the table a size: filter churn cannot grow memory.
 * Filter ids are slot indices.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nic.h"
#include "lib/pkt.h"

#define FLT_END	PV_NIC_VI_NONE

int nic_filters_init(struct nic_filters *fl, uint32_t max, uint32_t quota, uint32_t max_vis)
{
	memset(fl, 0, sizeof(*fl));
	fl->f = calloc(max, sizeof(*fl->f));
	fl->per_vi = calloc(max_vis, sizeof(*fl->per_vi));
	if (!fl->f || !fl->per_vi) {
		nic_filters_fini(fl);
		return -ENOMEM;
	}
	fl->max = max;
	fl->quota = quota;
	fl->max_vis = max_vis;
	for (unsigned int i = 0; i < NIC_FLT_BUCKETS; i++)
		fl->bucket[i] = FLT_END;
	return 0;
}

void nic_filters_fini(struct nic_filters *fl)
{
	free(fl->f);
	free(fl->per_vi);
	memset(fl, 0, sizeof(*fl));
}

static uint32_t flt_hash_mac(const uint8_t *mac)
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 16777619u;
	return (h ^ (h >> 16)) % NIC_FLT_BUCKETS;
}

static uint32_t flt_hash_ip(uint8_t proto, uint32_t ip, uint16_t port)
{
	uint32_t h = ip * 2654435761u ^ ((uint32_t)port << 8 | proto) * 40503u;

	return (h ^ (h >> 15)) % NIC_FLT_BUCKETS;
}

static uint32_t flt_hash(const struct nic_filter *f)
{
	return f->type == PV_NIC_FILTER_MAC ? flt_hash_mac(f->mac) :
	       flt_hash_ip(f->proto, f->dst_ip, f->dst_port);
}

static bool flt_same(const struct nic_filter *a, const struct nic_filter *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == PV_NIC_FILTER_MAC)
		return !memcmp(a->mac, b->mac, 6);
	return a->proto == b->proto && a->dst_ip == b->dst_ip && a->dst_port == b->dst_port;
}

/* Is the request well formed?  Fields the type does not use must be zero. */
static int flt_check(const struct pv_nic_filter *r)
{
	static const uint8_t zero[6];

	if (r->reserved)
		return -EINVAL;
	switch (r->type) {
	case PV_NIC_FILTER_MAC:
		if (r->proto || r->dst_port || r->dst_ip || !memcmp(r->mac, zero, 6) ||
		    (r->mac[0] & 1))
			return -EINVAL;	/* group addresses take the slow path */
		return 0;
	case PV_NIC_FILTER_IPV4:
		if ((r->proto != 6 && r->proto != 17) || !r->dst_port || !r->dst_ip ||
		    memcmp(r->mac, zero, 6))
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

/**
 * nic_filter_add() - steer what @req matches to VI @req->vi_id
 *
 * Return: 0 with *id set; -EINVAL (malformed), -EEXIST (that key is taken,
 * by this VI or another), -EDQUOT (the VI's quota), -ENOSPC (table full).
 */
int nic_filter_add(struct nic_filters *fl, const struct pv_nic_filter *req, uint32_t *id)
{
	struct nic_filter nf = {
		.type = req->type, .proto = req->proto, .dst_port = req->dst_port,
		.dst_ip = req->dst_ip, .vi = req->vi_id, .next = FLT_END,
	};
	uint32_t h, slot;
	int rc = flt_check(req);

	if (rc)
		return rc;
	if (req->vi_id >= fl->max_vis)
		return -EINVAL;
	memcpy(nf.mac, req->mac, 6);
	h = flt_hash(&nf);
	for (uint32_t i = fl->bucket[h]; i != FLT_END; i = fl->f[i].next)
		if (flt_same(&fl->f[i], &nf))
			return -EEXIST;
	if (fl->per_vi[req->vi_id] >= fl->quota)
		return -EDQUOT;
	if (fl->used >= fl->max)
		return -ENOSPC;
	for (slot = 0; slot < fl->max && fl->f[slot].type; slot++)
		;
	nf.next = fl->bucket[h];
	fl->f[slot] = nf;
	fl->bucket[h] = slot;
	fl->used++;
	fl->per_vi[req->vi_id]++;
	*id = slot;
	return 0;
}

static void flt_unlink(struct nic_filters *fl, uint32_t id)
{
	uint32_t *pp = &fl->bucket[flt_hash(&fl->f[id])];

	while (*pp != FLT_END && *pp != id)
		pp = &fl->f[*pp].next;
	if (*pp == id)
		*pp = fl->f[id].next;
	fl->per_vi[fl->f[id].vi]--;
	fl->used--;
	memset(&fl->f[id], 0, sizeof(fl->f[id]));
}

/* Return: 0, -ENOENT (no such filter), -EPERM (another VI's). */
int nic_filter_del(struct nic_filters *fl, uint32_t vi, uint32_t id)
{
	if (id >= fl->max || !fl->f[id].type)
		return -ENOENT;
	if (fl->f[id].vi != vi)
		return -EPERM;
	flt_unlink(fl, id);
	return 0;
}

void nic_filter_del_vi(struct nic_filters *fl, uint32_t vi)
{
	for (uint32_t i = 0; i < fl->max && vi < fl->max_vis && fl->per_vi[vi]; i++)
		if (fl->f[i].type && fl->f[i].vi == vi)
			flt_unlink(fl, i);
}

static uint32_t flt_lookup(const struct nic_filters *fl, const struct nic_filter *key)
{
	for (uint32_t i = fl->bucket[flt_hash(key)]; i != FLT_END; i = fl->f[i].next)
		if (flt_same(&fl->f[i], key))
			return fl->f[i].vi;
	return PV_NIC_VI_NONE;
}

bool nic_filter_owns(const struct nic_filters *fl, uint32_t vi, uint8_t proto, uint32_t ip,
		     uint16_t port)
{
	const struct nic_filter key = { .type = PV_NIC_FILTER_IPV4, .proto = proto,
					.dst_ip = ip, .dst_port = port };

	return vi != PV_NIC_VI_NONE && flt_lookup(fl, &key) == vi;
}

/**
 * nic_filter_match() - the VI a frame from the wire is steered to
 * @fl:		filters
 * @frame:	the frame
 * @len:	its length (>= 14)
 *
 * Return: a VI id, or PV_NIC_VI_NONE (group address, or no filter matches).
 */
uint32_t nic_filter_match(const struct nic_filters *fl, const uint8_t *frame, uint32_t len)
{
	struct nic_filter key = { .type = PV_NIC_FILTER_IPV4 };
	struct pv_pkt_info pi;
	uint32_t vi;

	if (len < PV_PKT_ETH_HLEN || (frame[0] & 1) || !fl->used)
		return PV_NIC_VI_NONE;
	if (pv_pkt_parse(frame, len, &pi) == 0 && pi.ip_version == 4 &&
	    (pi.flags & PV_PKT_F_PORTS) && !(pi.flags & PV_PKT_F_FRAG)) {
		key.proto = pi.l4_proto;
		memcpy(&key.dst_ip, pi.dst_ip, 4);
		key.dst_port = pi.dst_port;
		vi = flt_lookup(fl, &key);
		if (vi != PV_NIC_VI_NONE)
			return vi;
	}
	key = (struct nic_filter){ .type = PV_NIC_FILTER_MAC };
	memcpy(key.mac, frame, 6);
	return flt_lookup(fl, &key);
}
