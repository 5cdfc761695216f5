/* SPDX-License-Identifier: MIT */
/*
 * bufta.c - the NIC's buffer table: buffer id -> 2 KiB of a domain's
 * memory, and the VI that owns it.
 *
 * How this works
 * ==============
 *
 * The table is a fixed array of entries plus a stack of free ids.  An
 * entry points into a region: a memory memfd the trusted caller passed,
 * mapped once (deduplicated by device and inode) and sealed against
 * shrinking, so a domain cannot pull pages from under the NIC (SIGBUS).
 * Regions are reference counted by entries and unmapped with the last.
 *
 * nic_bufta_get() is the one checked accessor a descriptor goes through:
 * flags those its ring and place allow (RX none; a TX frame's first
 * descriptor any PV_NIC_TX_F_*; a later one only PV_NIC_TX_F_MORE), mss
 * only with PV_NIC_TX_F_TSO, reserved zero; id in the table, entry in use,
 * owned by the asking VI, offset + length (computed in 32 bits from 16-bit
 * fields: cannot wrap) inside the 2 KiB buffer.  It returns NULL and the
 * reason, never a pointer outside the buffer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nic.h"

#define NIC_REGION_MAX	((size_t)1 << 32)	/* 4 GiB of one domain's memory */

int nic_bufta_init(struct nic_bufta *bt, uint32_t size, uint32_t max_vis)
{
	memset(bt, 0, sizeof(*bt));
	bt->e = calloc(size, sizeof(*bt->e));
	bt->free = calloc(size, sizeof(*bt->free));
	bt->owned = calloc(max_vis, sizeof(*bt->owned));
	if (!bt->e || !bt->free || !bt->owned) {
		nic_bufta_fini(bt);
		return -ENOMEM;
	}
	bt->size = size;
	bt->max_vis = max_vis;
	/* Lowest ids on top of the stack: handed out in order. */
	for (uint32_t i = 0; i < size; i++)
		bt->free[i] = size - 1 - i;
	bt->nfree = size;
	return 0;
}

void nic_bufta_fini(struct nic_bufta *bt)
{
	for (uint32_t i = 0; bt->e && i < bt->size; i++)
		if (bt->e[i].reg)
			nic_region_put(bt, bt->e[i].reg);
	while (bt->regions) {	/* only regions that never got an entry */
		struct nic_region *r = bt->regions;

		bt->regions = r->next;
		munmap(r->base, r->size);
		free(r);
	}
	free(bt->e);
	free(bt->free);
	free(bt->owned);
	memset(bt, 0, sizeof(*bt));
}

/* Seal @fd against shrinking, or find it sealed already. */
static int region_seal(int fd)
{
	int seals;

	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0)
		return 0;
	seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 && (seals & F_SEAL_SHRINK) ? 0 : -EINVAL;
}

/**
 * nic_region_get() - the region of a memory memfd, mapped if new
 * @bt:		table
 * @memfd:	a memfd the trusted caller passed (not kept: the mapping is)
 * @err:	out: -EINVAL (not a sealable memfd, empty, too big), -ENOMEM
 *
 * The caller owns one reference until it gives it to entries or puts it.
 *
 * Return: the region or NULL.
 */
struct nic_region *nic_region_get(struct nic_bufta *bt, int memfd, int *err)
{
	struct nic_region *r;
	struct stat st;

	if (fstat(memfd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (size_t)st.st_size > NIC_REGION_MAX || region_seal(memfd) < 0) {
		*err = -EINVAL;
		return NULL;
	}
	for (r = bt->regions; r; r = r->next) {
		if (r->dev == st.st_dev && r->ino == st.st_ino) {
			r->refs++;
			return r;
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		*err = -ENOMEM;
		return NULL;
	}
	r->size = (size_t)st.st_size;
	r->base = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (r->base == MAP_FAILED) {
		*err = -errno;
		free(r);
		return NULL;
	}
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->refs = 1;
	r->next = bt->regions;
	bt->regions = r;
	return r;
}

void nic_region_put(struct nic_bufta *bt, struct nic_region *reg)
{
	struct nic_region **pp;

	if (--reg->refs)
		return;
	for (pp = &bt->regions; *pp; pp = &(*pp)->next) {
		if (*pp == reg) {
			*pp = reg->next;
			break;
		}
	}
	munmap(reg->base, reg->size);
	free(reg);
}

/**
 * nic_bufta_map() - put @n buffers of @reg into the table for VI @owner
 * @bt:		table
 * @owner:	VI id (< max_vis)
 * @reg:	region; each new entry takes a reference of its own
 * @chunk:	2 KiB chunk index of each buffer in the region
 * @n:		1 .. PV_NIC_MAP_MAX
 * @ids:	out: the ids chosen
 *
 * All or nothing: -EINVAL for a chunk outside the region, -ENOSPC if the
 * table has fewer than @n free entries.
 *
 * Return: 0 or -errno.
 */
int nic_bufta_map(struct nic_bufta *bt, uint32_t owner, struct nic_region *reg,
		  const uint32_t *chunk, uint32_t n, uint32_t *ids)
{
	if (owner >= bt->max_vis || n == 0 || n > PV_NIC_MAP_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if (((uint64_t)chunk[i] + 1) * PV_NIC_BUF_SIZE > reg->size)
			return -EINVAL;
	if (bt->nfree < n)
		return -ENOSPC;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = bt->free[--bt->nfree];

		bt->e[id] = (struct nic_buf){
			.reg = reg, .off = (size_t)chunk[i] * PV_NIC_BUF_SIZE, .owner = owner,
		};
		reg->refs++;
		ids[i] = id;
	}
	bt->owned[owner] += n;
	return 0;
}

static void bufta_release(struct nic_bufta *bt, uint32_t id)
{
	struct nic_buf *b = &bt->e[id];

	bt->owned[b->owner]--;
	nic_region_put(bt, b->reg);
	memset(b, 0, sizeof(*b));
	bt->free[bt->nfree++] = id;
}

/**
 * nic_bufta_unmap() - remove @n entries, all owned by @owner, or none
 *
 * Return: 0, -EINVAL (id beyond the table, or repeated), -EPERM (an entry
 * free or owned by another VI).
 */
int nic_bufta_unmap(struct nic_bufta *bt, uint32_t owner, const uint32_t *ids, uint32_t n)
{
	if (n == 0 || n > PV_NIC_MAP_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (ids[i] >= bt->size)
			return -EINVAL;
		if (!bt->e[ids[i]].reg || bt->e[ids[i]].owner != owner)
			return -EPERM;
		for (uint32_t j = 0; j < i; j++)
			if (ids[j] == ids[i])
				return -EINVAL;
	}
	for (uint32_t i = 0; i < n; i++)
		bufta_release(bt, ids[i]);
	return 0;
}

/* Every entry of VI @owner goes (free, reset, its connection closed). */
void nic_bufta_unmap_owner(struct nic_bufta *bt, uint32_t owner)
{
	if (owner >= bt->max_vis)
		return;
	for (uint32_t id = 0; id < bt->size && bt->owned[owner]; id++)
		if (bt->e[id].reg && bt->e[id].owner == owner)
			bufta_release(bt, id);
}

/**
 * nic_bufta_get() - the bytes a descriptor names, checked
 * @bt:		table
 * @owner:	the VI the descriptor came from
 * @d:		the descriptor, already copied into private memory
 * @flags_ok:	the flags its place allows: NIC_DESC_RX, NIC_DESC_TX_FIRST
 *		or NIC_DESC_TX_NEXT; an mss is allowed with PV_NIC_TX_F_TSO only
 * @err:	out: why not
 *
 * Return: a pointer to d->offset inside the buffer, valid for d->len
 * bytes, or NULL.
 */
uint8_t *nic_bufta_get(const struct nic_bufta *bt, uint32_t owner,
		       const struct pv_nic_desc *d, uint32_t flags_ok, enum pv_nic_err *err)
{
	const struct nic_buf *b;

	/* A future version's flag, an offload past a chain's head, an RX flag. */
	if ((d->flags & ~flags_ok) || (d->mss && !(d->flags & PV_NIC_TX_F_TSO)) || d->reserved) {
		*err = PV_NIC_ERR_RESERVED;
		return NULL;
	}
	if (d->buf_id >= bt->size) {
		*err = PV_NIC_ERR_BUF_RANGE;	/* an id the table never had */
		return NULL;
	}
	b = &bt->e[d->buf_id];
	if (!b->reg || b->owner != owner) {
		*err = PV_NIC_ERR_BUF_OWNER;	/* someone else's memory, or none */
		return NULL;
	}
	if (d->len == 0 || (uint32_t)d->offset + d->len > PV_NIC_BUF_SIZE) {
		*err = PV_NIC_ERR_BUF_BOUNDS;	/* past the buffer, into the next */
		return NULL;
	}
	*err = PV_NIC_ERR_NONE;
	return b->reg->base + b->off + d->offset;
}
