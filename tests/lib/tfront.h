/* SPDX-License-Identifier: MIT */
/*
 * tfront.h - a test netfront: a guest (the guest library) that drives one
 * vif's rings by hand, for netback's unit tests (tests/unit/netback_harness.h)
 * and the malicious frontend (tests/helpers/evil_front.c).  Header-only.
 *
 * Guest memory layout (TF_PAGES pages):
 *   page 0        TX shared ring         page 1  RX shared ring
 *   2 .. 257      TX buffer for ring index i & 255 (granted read-only)
 *   258 .. 513    RX buffer for request id 0..255 (granted writable)
 */
#ifndef PVNET_TESTS_TFRONT_H
#define PVNET_TESTS_TFRONT_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest/guest.h"
#include "guest/xsc.h"
#include "pvnet/xen.h"

#define TF_PAGES	520
#define TF_GRANTS	1100
#define TF_TXBUF	2
#define TF_RXBUF	258
#define TF_RING		256

struct nbh;

struct tf {
	struct nbh *nbh;		/* netback_harness.h's host thread (NULL elsewhere) */
	struct pv_guest *g;
	struct xsc *xs;
	unsigned int domid, devid;
	char fe[64], be[64];
	uint8_t mac[6];
	netif_tx_front_ring_t tx;
	netif_rx_front_ring_t rx;
	int tx_ref, rx_ref;
	uint32_t evtchn;
	int txbuf_ref[TF_RING];
	int rxbuf_ref[TF_RING];
	uint16_t rx_id_at[TF_RING];	/* request id posted at each RX ring index */
};

static inline uint64_t tf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void tf_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * tf_register() - register guest @name over the hv socket @hv_path, open
 * its store connection, grant the TX and RX buffers and name the vif's
 * frontend and backend directories (devid t->devid).  0 or -errno.
 */
static inline int tf_register(struct tf *t, const char *hv_path, const char *name)
{
	int err;

	t->g = pv_guest_register(hv_path, name, TF_PAGES, TF_GRANTS, &err);
	if (!t->g)
		return err < 0 ? err : -EIO;
	t->domid = pv_guest_domid(t->g);
	t->xs = xsc_open_fd(pv_guest_xs_connect(t->g));
	if (!t->xs)
		return -EIO;
	for (int i = 0; i < TF_RING; i++) {
		t->txbuf_ref[i] = pv_guest_grant(t->g, 0, TF_TXBUF + (uint32_t)i, 1);
		t->rxbuf_ref[i] = pv_guest_grant(t->g, 0, TF_RXBUF + (uint32_t)i, 0);
		if (t->txbuf_ref[i] < 0 || t->rxbuf_ref[i] < 0)
			return -ENOSPC;
	}
	snprintf(t->fe, sizeof(t->fe), "/local/domain/%u/device/vif/%u", t->domid, t->devid);
	snprintf(t->be, sizeof(t->be), "/local/domain/0/backend/vif/%u/%u", t->domid, t->devid);
	return 0;
}

/* ---- store and xenbus ---- */

static inline int tf_read_state(struct tf *t, const char *dir)
{
	char path[96], buf[16];

	snprintf(path, sizeof(path), "%.63s/state", dir);
	if (xsc_read(t->xs, 0, path, buf, sizeof(buf)) < 0)
		return -1;
	return atoi(buf);
}

/* Wait until the backend's state is @state; 0 or -ETIMEDOUT. */
static inline int tf_wait_be(struct tf *t, int state, unsigned int ms)
{
	uint64_t end = tf_now_ms() + ms;

	while (tf_now_ms() < end) {
		if (tf_read_state(t, t->be) == state)
			return 0;
		tf_sleep_ms(1);
	}
	return -ETIMEDOUT;
}

static inline void tf_set_state(struct tf *t, int state)
{
	char path[96];

	snprintf(path, sizeof(path), "%.63s/state", t->fe);
	xsc_printf(t->xs, 0, path, "%d", state);
}

static inline void tf_key(struct tf *t, uint32_t tx, const char *key, unsigned int v)
{
	char path[128];

	snprintf(path, sizeof(path), "%.63s/%.60s", t->fe, key);
	xsc_printf(t->xs, tx, path, "%u", v);
}

/* An Ethernet header: @dst, @src, EtherType @type. */
static inline void mk_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
}

/* ---- RX requests ---- */

/* Post RX request @id at the next RX ring index (not pushed). */
static inline void tf_rx_post(struct tf *t, uint16_t id, int ref)
{
	netif_rx_request_t *req = RING_GET_REQUEST(&t->rx, t->rx.req_prod_pvt);

	req->id = id;
	req->gref = (grant_ref_t)ref;
	t->rx_id_at[t->rx.req_prod_pvt & (TF_RING - 1)] = id;
	t->rx.req_prod_pvt++;
}

static inline void tf_rx_push(struct tf *t)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&t->rx, notify);
	if (notify)
		pv_guest_evtchn_notify(t->g, t->evtchn);
}

/* ---- connect and reset ---- */

struct tf_opts {
	int rx_post;		/* RX buffers to post at connect (0: all, -1: none) */
	int no_csum;		/* feature-no-csum-offload = 1 */
	int no_gso;
};

/**
 * tf_connect() - fresh rings and channel, keys, Connected; 0 once the
 * backend is Connected (-ETIMEDOUT if not), -ENOSPC without grants or a
 * channel, -EIO when the store refuses.  @o may be NULL.
 */
static inline int tf_connect(struct tf *t, const struct tf_opts *o)
{
	uint8_t *txp = pv_guest_frame(t->g, 0), *rxp = pv_guest_frame(t->g, 1);
	int post = o && o->rx_post ? (o->rx_post < 0 ? 0 : o->rx_post) : TF_RING;
	uint32_t tx;

	memset(txp, 0, PV_PAGE_SIZE);
	memset(rxp, 0, PV_PAGE_SIZE);
	SHARED_RING_INIT((netif_tx_sring_t *)txp);
	SHARED_RING_INIT((netif_rx_sring_t *)rxp);
	FRONT_RING_INIT(&t->tx, (netif_tx_sring_t *)txp, PV_PAGE_SIZE);
	FRONT_RING_INIT(&t->rx, (netif_rx_sring_t *)rxp, PV_PAGE_SIZE);
	t->tx_ref = pv_guest_grant(t->g, 0, 0, 0);
	t->rx_ref = pv_guest_grant(t->g, 0, 1, 0);
	t->evtchn = (uint32_t)pv_guest_evtchn_alloc_unbound(t->g, 0);
	if (t->tx_ref < 0 || t->rx_ref < 0 || (int32_t)t->evtchn < 0)
		return -ENOSPC;
	for (int i = 0; i < post && i < TF_RING; i++)
		tf_rx_post(t, (uint16_t)i, t->rxbuf_ref[i]);
	RING_PUSH_REQUESTS(&t->rx);
	for (int tries = 0;; tries++) {
		int e;

		if (xsc_transaction_start(t->xs, &tx) < 0)
			return -EIO;
		tf_key(t, tx, "tx-ring-ref", (unsigned int)t->tx_ref);
		tf_key(t, tx, "rx-ring-ref", (unsigned int)t->rx_ref);
		tf_key(t, tx, "event-channel", t->evtchn);
		tf_key(t, tx, "request-rx-copy", 1);
		tf_key(t, tx, "feature-rx-notify", 1);
		tf_key(t, tx, "feature-sg", 1);
		tf_key(t, tx, "feature-gso-tcpv4", o && o->no_gso ? 0 : 1);
		tf_key(t, tx, "feature-gso-tcpv6", o && o->no_gso ? 0 : 1);
		tf_key(t, tx, "feature-no-csum-offload", o && o->no_csum ? 1 : 0);
		e = xsc_transaction_end(t->xs, tx, 1);
		if (e == 0)
			break;
		if (e != -EAGAIN || tries > 10)
			return -EIO;
	}
	tf_set_state(t, XenbusStateConnected);
	return tf_wait_be(t, XenbusStateConnected, 5000);
}

/**
 * tf_reset() - Closed, give back the rings (they must be unmapped by
 * now: ending the grants must succeed), Initialising; backend InitWait.
 * Return: 0, or which step failed (1..3).
 */
static inline int tf_reset(struct tf *t)
{
	int rc = 0;

	tf_set_state(t, XenbusStateClosed);
	if (tf_wait_be(t, XenbusStateClosed, 5000) < 0)
		rc = 1;
	if (pv_guest_end_grant(t->g, (grant_ref_t)t->tx_ref) < 0 ||
	    pv_guest_end_grant(t->g, (grant_ref_t)t->rx_ref) < 0)
		rc = rc ? rc : 2;
	pv_guest_evtchn_close(t->g, t->evtchn);
	tf_set_state(t, XenbusStateInitialising);
	if (tf_wait_be(t, XenbusStateInitWait, 5000) < 0)
		rc = rc ? rc : 3;
	return rc;
}

/* ---- TX ---- */

/* Write a raw TX request at the next index (not pushed). */
static inline void tf_tx_put(struct tf *t, grant_ref_t gref, uint16_t offset, uint16_t flags,
			     uint16_t id, uint16_t size)
{
	netif_tx_request_t *r = RING_GET_REQUEST(&t->tx, t->tx.req_prod_pvt);

	r->gref = gref;
	r->offset = offset;
	r->flags = flags;
	r->id = id;
	r->size = size;
	t->tx.req_prod_pvt++;
}

static inline void tf_tx_put_extra(struct tf *t, uint8_t type, uint8_t flags, uint16_t gso_size,
				   uint8_t gso_type)
{
	netif_extra_info_t *e = (netif_extra_info_t *)RING_GET_REQUEST(&t->tx, t->tx.req_prod_pvt);

	memset(e, 0, sizeof(netif_tx_request_t));
	e->type = type;
	e->flags = flags;
	e->u.gso.size = gso_size;
	e->u.gso.type = gso_type;
	t->tx.req_prod_pvt++;
}

/* The TX buffer page for ring index @idx, and its grant. */
static inline uint8_t *tf_tx_page(struct tf *t, RING_IDX idx)
{
	return pv_guest_frame(t->g, TF_TXBUF + (idx & (TF_RING - 1)));
}

static inline grant_ref_t tf_tx_ref(struct tf *t, RING_IDX idx)
{
	return (grant_ref_t)t->txbuf_ref[idx & (TF_RING - 1)];
}

/* Push requests; returns whether the backend asked to be notified. */
static inline int tf_tx_push(struct tf *t)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&t->tx, notify);
	if (notify)
		pv_guest_evtchn_notify(t->g, t->evtchn);
	return notify;
}

struct tf_send {
	unsigned int nslots;	/* data slots (1 = single) */
	uint16_t flags;		/* NETTXF_csum_blank / data_validated */
	uint8_t gso_type;	/* XEN_NETIF_GSO_TYPE_* (0 = none) */
	uint16_t gso_size;
	uint16_t offset;	/* data offset in every slot */
	const uint32_t *sizes;	/* per data slot, or NULL: even split */
};

/*
 * Queue one frame of @len bytes split over data slots (first slot carries
 * the total as its size, per netif.h); a piece that does not fit its page
 * (a malformed request on purpose) is not copied.  Returns slots used.
 */
static inline unsigned int tf_tx_frame(struct tf *t, const uint8_t *data, uint32_t len,
				       const struct tf_send *s)
{
	unsigned int n = s && s->nslots ? s->nslots : 1, used = 0;
	uint16_t off = s ? s->offset : 0;
	uint32_t done = 0;

	for (unsigned int i = 0; i < n; i++) {
		RING_IDX idx = t->tx.req_prod_pvt;
		uint32_t piece = s && s->sizes ? s->sizes[i]
				 : (i == n - 1 ? len - done : len / n);
		uint16_t fl = (uint16_t)(i == n - 1 ? 0 : NETTXF_more_data);

		if (i == 0) {
			fl |= s ? s->flags : 0;
			if (s && s->gso_type)
				fl |= NETTXF_extra_info;
		}
		if (piece && (uint32_t)off + piece <= PV_PAGE_SIZE)
			memcpy(tf_tx_page(t, idx) + off, data + done, piece);
		tf_tx_put(t, tf_tx_ref(t, idx), off, fl, (uint16_t)idx,
			  (uint16_t)(i == 0 ? len : piece));
		used++;
		done += piece;
		if (i == 0 && s && s->gso_type) {
			tf_tx_put_extra(t, XEN_NETIF_EXTRA_TYPE_GSO, 0, s->gso_size, s->gso_type);
			used++;
		}
	}
	return used;
}

/* Wait for @n TX responses (beyond rsp_cons); collect their statuses. */
static inline int tf_tx_wait(struct tf *t, unsigned int n, int16_t *status, uint16_t *ids,
			     unsigned int ms)
{
	uint64_t end = tf_now_ms() + ms;
	unsigned int got = 0;

	while (got < n) {
		RING_IDX prod = __atomic_load_n(&t->tx.sring->rsp_prod, __ATOMIC_ACQUIRE);

		while (t->tx.rsp_cons != prod && got < n) {
			netif_tx_response_t r;

			RING_COPY_RESPONSE(&t->tx, t->tx.rsp_cons, &r);
			t->tx.rsp_cons++;
			if (status)
				status[got] = r.status;
			if (ids)
				ids[got] = r.id;
			got++;
		}
		if (got >= n)
			break;
		if (tf_now_ms() >= end)
			return -ETIMEDOUT;
		tf_sleep_ms(1);
	}
	return 0;
}

/* Send one frame and wait for its responses; 0 if all data slots are OKAY. */
static inline int tf_send(struct tf *t, const uint8_t *data, uint32_t len,
			  const struct tf_send *s)
{
	int16_t st[64];
	unsigned int used = tf_tx_frame(t, data, len, s);

	tf_tx_push(t);
	if (tf_tx_wait(t, used, st, NULL, 3000) < 0)
		return -ETIMEDOUT;
	for (unsigned int i = 0; i < used; i++)
		if (st[i] != NETIF_RSP_OKAY && st[i] != NETIF_RSP_NULL)
			return st[i];
	return 0;
}

/* ---- RX ---- */

struct tf_rx {
	uint8_t data[70000];
	uint32_t len;
	uint16_t flags;		/* first response's flags */
	int has_gso;
	netif_extra_info_t gso;
	unsigned int nslots;
	int error;		/* a slot had a negative status */
};

static inline int tf_rx_avail(struct tf *t)
{
	return __atomic_load_n(&t->rx.sring->rsp_prod, __ATOMIC_ACQUIRE) != t->rx.rsp_cons;
}

/* Next response (waits until @end); 0 or -ETIMEDOUT. */
static inline int tf_rx_next(struct tf *t, netif_rx_response_t *r, uint64_t end)
{
	while (!tf_rx_avail(t)) {
		if (tf_now_ms() >= end)
			return -ETIMEDOUT;
		tf_sleep_ms(1);
	}
	RING_COPY_RESPONSE(&t->rx, t->rx.rsp_cons, r);
	t->rx.rsp_cons++;
	return 0;
}

/*
 * Receive one frame; re-post the buffers it used unless @no_repost.
 * Return: 0, -ETIMEDOUT, -EPROTO (inconsistent responses).
 */
static inline int tf_recv(struct tf *t, struct tf_rx *out, unsigned int ms, int no_repost)
{
	uint64_t end = tf_now_ms() + ms;
	netif_rx_response_t r;
	int more = 1, first = 1;

	out->len = 0;
	out->flags = 0;
	out->has_gso = 0;
	out->nslots = 0;
	out->error = 0;
	while (more) {
		RING_IDX idx = t->rx.rsp_cons;
		uint16_t id = t->rx_id_at[idx & (TF_RING - 1)];

		if (tf_rx_next(t, &r, end) < 0)
			return -ETIMEDOUT;
		if (r.id != id || id >= TF_RING)
			return -EPROTO;
		if (r.status < 0) {
			out->error = 1;
		} else if (r.offset + (uint32_t)r.status <= PV_PAGE_SIZE &&
			   out->len + (uint32_t)r.status <= sizeof(out->data)) {
			memcpy(out->data + out->len,
			       (uint8_t *)pv_guest_frame(t->g, TF_RXBUF + id) + r.offset,
			       (size_t)r.status);
			out->len += (uint32_t)r.status;
		}
		out->nslots++;
		if (!no_repost)
			tf_rx_post(t, id, t->rxbuf_ref[id]);
		more = r.flags & NETRXF_more_data;
		if (first) {
			out->flags = r.flags;
			if (r.flags & NETRXF_extra_info) {
				RING_IDX eidx = t->rx.rsp_cons;
				uint16_t eid = t->rx_id_at[eidx & (TF_RING - 1)];

				if (tf_rx_next(t, (netif_rx_response_t *)&out->gso, end) < 0)
					return -ETIMEDOUT;
				out->has_gso = 1;
				if (!no_repost)
					tf_rx_post(t, eid, t->rxbuf_ref[eid]);
			}
		}
		first = 0;
	}
	if (!no_repost)
		tf_rx_push(t);
	return 0;
}

#endif
