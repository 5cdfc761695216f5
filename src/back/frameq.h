/* SPDX-License-Identifier: MIT */
/*
 * frameq.h - a bounded FIFO of frame copies, for the ports that must hold
 * frames a moment after their xmit() returned: netback's per-vif RX queue
 * (the guest has posted too few buffers) and the NIC port's TX backlog
 * (the host VI's TX buffers are all in flight).
 *
 * A frame's bytes go into one byte ring of @cap bytes (a frame may wrap),
 * its metadata into an entry ring of @max entries; both bounds are the
 * caller's and a full queue refuses (-ENOBUFS): the caller counts the drop.
 * The head is read back as a struct pv_frame whose header copy is filled
 * and whose bytes are at most two segments pointing into the ring, valid
 * until the next pop.  No allocation after init.
 */
#ifndef PVNET_FRAMEQ_H
#define PVNET_FRAMEQ_H

#include <stddef.h>
#include <stdint.h>

#include "port.h"

struct pv_frameq_ent {
	uint64_t pos;			/* free-running byte position in the queue */
	uint32_t len;
	uint16_t flags, csum_start, csum_offset, gso_size;
	uint8_t gso_type;
};

struct pv_frameq {
	uint8_t *buf;
	size_t cap;
	struct pv_frameq_ent *ent;
	unsigned int max, head, count;
	uint64_t bytes_head, bytes_tail;
};

/* Room for @max_frames frames of @max_bytes bytes in all: 0 or -ENOMEM. */
int pv_frameq_init(struct pv_frameq *q, unsigned int max_frames, size_t max_bytes);
/* Free it; frames still queued are gone (the caller counts them first). */
void pv_frameq_fini(struct pv_frameq *q);
/* Append a copy of @f (bytes and offload metadata): 0, or -ENOBUFS if full. */
int pv_frameq_put(struct pv_frameq *q, const struct pv_frame *f);
/* The head frame as @f (q->count > 0); its segments are valid until the pop. */
struct pv_frame *pv_frameq_peek(const struct pv_frameq *q, struct pv_frame *f);
/* Drop the head frame (q->count > 0). */
void pv_frameq_pop(struct pv_frameq *q);

/* Bytes queued. */
static inline size_t pv_frameq_bytes(const struct pv_frameq *q)
{
	return (size_t)(q->bytes_head - q->bytes_tail);
}

#endif
