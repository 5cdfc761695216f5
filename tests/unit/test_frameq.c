/* SPDX-License-Identifier: MIT */
/*
 * test_frameq.c - the bounded FIFO of frame copies (src/back/frameq.c):
 * frames come back in order with their bytes and offload metadata, across
 * the byte ring's wrap; the frame and byte bounds refuse with -ENOBUFS and
 * leave the queue as it was.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../lib/test.h"
#include "back/frameq.h"
#include "back/port.h"

static uint8_t src[PV_FRAME_MAX_LEN], got[PV_FRAME_MAX_LEN];

/* A frame of @len bytes from src (offset @seed), in three segments past the header. */
static void mk(struct pv_frame *f, uint32_t len, unsigned int seed)
{
	uint32_t rest, a;

	for (uint32_t i = 0; i < len; i++)
		src[i] = (uint8_t)(i * 7 + seed);
	memset(f, 0, sizeof(*f));
	f->len = len;
	f->hdr_len = len < 64 ? len : 64;
	memcpy(f->hdr, src, f->hdr_len);
	rest = len - f->hdr_len;
	a = rest / 3;
	if (a) {
		f->seg[f->nseg++] = (struct pv_seg){ src + f->hdr_len, a };
		f->seg[f->nseg++] = (struct pv_seg){ src + f->hdr_len + a, a };
	}
	if (rest - 2 * a)
		f->seg[f->nseg++] = (struct pv_seg){ src + f->hdr_len + 2 * a, rest - 2 * a };
	f->flags = PV_FRAME_CSUM_PARTIAL;
	f->csum_start = (uint16_t)(34 + seed);
	f->csum_offset = 16;
	f->gso_type = PV_GSO_TCPV4;
	f->gso_size = (uint16_t)(1000 + seed);
}

/* Is the head frame @len bytes of seed @seed with the metadata mk() gave? */
static int head_is(const struct pv_frameq *q, uint32_t len, unsigned int seed)
{
	struct pv_frame f;

	pv_frameq_peek(q, &f);
	if (f.len != len || pv_frame_copy(&f, 0, got, len) != len || f.nseg > 2)
		return 0;
	for (uint32_t i = 0; i < len; i++)
		if (got[i] != (uint8_t)(i * 7 + seed))
			return 0;
	return f.flags == PV_FRAME_CSUM_PARTIAL && f.csum_start == 34 + seed &&
	       f.csum_offset == 16 && f.gso_type == PV_GSO_TCPV4 && f.gso_size == 1000 + seed &&
	       !memcmp(f.hdr, got, f.hdr_len);
}

int main(void)
{
	struct pv_frameq q;
	struct pv_frame f;
	int ok = 1, n = 0;

	T_EQ(pv_frameq_init(&q, 0, 4096), -EINVAL, "no room for frames: refused");
	T_EQ(pv_frameq_init(&q, 8, 10000), 0, "init: 8 frames, 10000 bytes");

	/* in order, across the wrap: frames of 3000 bytes into 10000 */
	for (unsigned int i = 0; i < 40; i++) {
		mk(&f, 3000, i);
		if (pv_frameq_put(&q, &f)) {
			ok = 0;
			break;
		}
		if (q.count == 3) {	/* keep two or three queued: the ring wraps again and again */
			ok &= head_is(&q, 3000, i - 2);
			pv_frameq_pop(&q);
			n++;
		}
	}
	T_CHECK(ok && n == 38, "40 frames of 3000 bytes through 10000: bytes and metadata intact across the wraps",
		"ok %d, %d popped", ok, n);
	while (q.count)
		pv_frameq_pop(&q);
	T_EQ(pv_frameq_bytes(&q), 0, "empty again: no bytes held");

	/* the byte bound */
	mk(&f, 6000, 1);
	T_EQ(pv_frameq_put(&q, &f), 0, "6000 bytes fit");
	mk(&f, 4001, 2);
	T_EQ(pv_frameq_put(&q, &f), -ENOBUFS, "4001 more do not (10000 bytes): -ENOBUFS");
	T_CHECK(q.count == 1 && pv_frameq_bytes(&q) == 6000 && head_is(&q, 6000, 1),
		"a refused frame leaves the queue as it was", "count %u bytes %zu", q.count,
		pv_frameq_bytes(&q));
	pv_frameq_pop(&q);

	/* the frame bound, with tiny frames (shorter than the header copy) */
	for (unsigned int i = 0; i < 8; i++) {
		mk(&f, 20 + i, i);
		ok &= !pv_frameq_put(&q, &f);
	}
	mk(&f, 20, 9);
	T_CHECK(ok && pv_frameq_put(&q, &f) == -ENOBUFS && q.count == 8,
		"8 frames fit, the 9th is refused", "ok %d count %u", ok, q.count);
	for (unsigned int i = 0; i < 8; i++) {
		ok &= head_is(&q, 20 + i, i);
		pv_frameq_pop(&q);
	}
	T_CHECK(ok, "short frames come back whole, in order", "mismatch");
	pv_frameq_fini(&q);
	T_CHECK(!q.buf && !q.ent && !q.count, "fini frees and clears", "buf %p", (void *)q.buf);
	mk(&f, 100, 0);
	T_EQ(pv_frameq_put(&q, &f), -ENOBUFS, "a freed queue takes nothing");
	return t_done();
}
