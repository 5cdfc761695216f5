/* SPDX-License-Identifier: MIT */
/*
 * frameq.c - a bounded FIFO of frame copies (frameq.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frameq.h"

int pv_frameq_init(struct pv_frameq *q, unsigned int max_frames, size_t max_bytes)
{
	memset(q, 0, sizeof(*q));
	if (!max_frames || !max_bytes)
		return -EINVAL;
	q->cap = max_bytes;
	q->max = max_frames;
	q->buf = malloc(q->cap);
	q->ent = calloc(q->max, sizeof(*q->ent));
	if (!q->buf || !q->ent) {
		pv_frameq_fini(q);
		return -ENOMEM;
	}
	return 0;
}

void pv_frameq_fini(struct pv_frameq *q)
{
	free(q->buf);
	free(q->ent);
	memset(q, 0, sizeof(*q));
}

int pv_frameq_put(struct pv_frameq *q, const struct pv_frame *f)
{
	struct pv_frameq_ent *e;
	size_t off, first;

	if (!q->ent || q->count >= q->max || pv_frameq_bytes(q) + f->len > q->cap)
		return -ENOBUFS;
	off = q->bytes_head % q->cap;
	first = q->cap - off < f->len ? q->cap - off : f->len;
	pv_frame_copy(f, 0, q->buf + off, (uint32_t)first);
	if (first < f->len)
		pv_frame_copy(f, (uint32_t)first, q->buf, f->len - (uint32_t)first);
	e = &q->ent[(q->head + q->count) % q->max];
	e->pos = q->bytes_head;
	e->len = f->len;
	e->flags = f->flags;
	e->csum_start = f->csum_start;
	e->csum_offset = f->csum_offset;
	e->gso_type = f->gso_type;
	e->gso_size = f->gso_size;
	q->bytes_head += f->len;
	q->count++;
	return 0;
}

struct pv_frame *pv_frameq_peek(const struct pv_frameq *q, struct pv_frame *f)
{
	const struct pv_frameq_ent *e = &q->ent[q->head];
	size_t off = e->pos % q->cap, n;
	uint32_t rest;

	f->len = e->len;
	f->hdr_len = e->len < PV_FRAME_HDR_MAX ? e->len : PV_FRAME_HDR_MAX;
	n = q->cap - off < f->hdr_len ? q->cap - off : f->hdr_len;
	memcpy(f->hdr, q->buf + off, n);
	memcpy(f->hdr + n, q->buf, f->hdr_len - n);
	f->nseg = 0;
	off = (e->pos + f->hdr_len) % q->cap;
	rest = e->len - f->hdr_len;
	if (rest) {
		n = q->cap - off < rest ? q->cap - off : rest;
		f->seg[f->nseg].p = q->buf + off;
		f->seg[f->nseg++].len = (uint32_t)n;
		if (n < rest) {
			f->seg[f->nseg].p = q->buf;
			f->seg[f->nseg++].len = rest - (uint32_t)n;
		}
	}
	f->flags = e->flags;
	f->csum_start = e->csum_start;
	f->csum_offset = e->csum_offset;
	f->gso_type = e->gso_type;
	f->gso_size = e->gso_size;
	return f;
}

void pv_frameq_pop(struct pv_frameq *q)
{
	q->bytes_tail += q->ent[q->head].len;
	q->head = (q->head + 1) % q->max;
	q->count--;
}
