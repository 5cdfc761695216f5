/* SPDX-License-Identifier: MIT */
/*
 * rxhold.c - a VI's receive buffer memory: frames from the wire waiting
 * for the VI's user to post RX descriptors (or to read its events).
 *
 * A NIC does not drop a frame the moment its queue has no descriptor: it
 * holds it in its on-chip RX buffer for the microseconds until the driver
 * refills the ring, and drops only when that memory is full.  pvnet-nicd's
 * users refill their rings when they are scheduled, which on a shared host
 * is milliseconds away: the host VI's 512 descriptors hold 16 GSO frames,
 * 1.4 ms at 6 Gbit/s, a guest's 256 hold 3 ms of 1 Gbit/s datagrams, and
 * every frame beyond was dropped (rx_no_desc; a lost 64 KiB frame is ~45
 * TCP retransmits).  So each VI has NIC_RX_HOLD_BYTES of its own (not
 * shared: one VI that never refills fills only its own), an anonymous
 * mapping whose pages cost memory only once a backlog has used them.
 *
 * Records are contiguous and never wrap: [struct nic_rxhold_rec][bytes],
 * each padded to 16; a record that does not fit before the end starts at 0
 * and the end of the data is remembered in @end.  Order is kept: a frame
 * for a VI that holds frames goes behind them.  What is held and how it
 * drains is vi.c's ("RX hold").
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "nic/nic.h"

#define REC_ALIGN	16u

static uint32_t rec_size(uint32_t len)
{
	return (uint32_t)((sizeof(struct nic_rxhold_rec) + len + REC_ALIGN - 1) & ~(REC_ALIGN - 1));
}

int nic_rxhold_init(struct nic_rxhold *h, uint32_t cap)
{
	memset(h, 0, sizeof(*h));
	h->buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h->buf == MAP_FAILED) {
		h->buf = NULL;
		return -ENOMEM;
	}
	h->cap = h->end = cap;
	return 0;
}

void nic_rxhold_fini(struct nic_rxhold *h)
{
	if (h->buf)
		munmap(h->buf, h->cap);
	memset(h, 0, sizeof(*h));
}

static void rxhold_reset(struct nic_rxhold *h)
{
	h->rd = h->wr = 0;
	h->end = h->cap;
	h->wrapped = false;
	h->count = 0;
	h->bytes = 0;
}

int nic_rxhold_put(struct nic_rxhold *h, const uint8_t *frame, uint32_t len, uint16_t flags,
		   const struct nic_rxmeta *m)
{
	uint32_t need = rec_size(len), at;
	struct nic_rxhold_rec *r;

	if (!h->buf || len > h->cap)
		return -ENOBUFS;
	if (!h->count)
		rxhold_reset(h);
	if (!h->wrapped) {
		if (h->cap - h->wr >= need) {
			at = h->wr;
		} else if (h->rd > need) {	/* the rest starts over at 0 */
			h->end = h->wr;
			h->wrapped = true;
			at = 0;
		} else {
			return -ENOBUFS;
		}
	} else if (h->rd - h->wr > need) {
		at = h->wr;
	} else {
		return -ENOBUFS;
	}
	r = (struct nic_rxhold_rec *)(void *)(h->buf + at);
	r->len = len;
	r->flags = flags;
	r->has_meta = m != NULL;
	if (m)
		r->m = *m;
	memcpy(r + 1, frame, len);
	h->wr = at + need;
	h->count++;
	h->bytes += len;
	if (h->bytes > h->bytes_max)
		h->bytes_max = h->bytes;
	return 0;
}

const struct nic_rxhold_rec *nic_rxhold_peek(const struct nic_rxhold *h)
{
	return h->count ? (const struct nic_rxhold_rec *)(const void *)(h->buf + h->rd) : NULL;
}

void nic_rxhold_pop(struct nic_rxhold *h)
{
	const struct nic_rxhold_rec *r = nic_rxhold_peek(h);

	if (!r)
		return;
	h->bytes -= r->len;
	h->rd += rec_size(r->len);
	if (--h->count == 0) {
		rxhold_reset(h);
		return;
	}
	if (h->wrapped && h->rd >= h->end) {
		h->rd = 0;
		h->end = h->cap;
		h->wrapped = false;
	}
}
