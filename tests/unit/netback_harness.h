/* SPDX-License-Identifier: MIT */
/*
 * netback_harness.h - netback tests: a host thread running hv + xenstore +
 * switch + netback (tests/lib/host.h), and fake netfronts played by the
 * test's main thread with the guest library, driving the rings by hand.
 *
 *   main thread                                host thread (loop)
 *   tf "A" --hv.sock/xs conn/memfd/eventfd-->  hv, xs, switch, netback
 *   tf "B" ...                                 vifA.0, vifB.0 ports
 *
 * Guest memory layout of a test frontend (TF_PAGES pages):
 *   page 0        TX shared ring         page 1  RX shared ring
 *   2 .. 257      TX buffer for ring index i & 255 (granted read-only)
 *   258 .. 513    RX buffer for request id 0..255 (granted writable)
 */
#ifndef PVNET_NETBACK_HARNESS_H
#define PVNET_NETBACK_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <time.h>

#include "../lib/test.h"
#include "../lib/host.h"
#include "back/netback.h"
#include "back/port.h"
#include "back/toolstack.h"
#include "guest/guest.h"
#include "guest/xsc.h"

#define TF_PAGES	520
#define TF_GRANTS	1100
#define TF_TXBUF	2
#define TF_RXBUF	258
#define TF_RING		256

struct nbh {
	struct test_host *h;
	struct pv_switch *sw;
	struct pv_netback *nb;
};

struct tf {
	struct nbh *nbh;
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

static uint64_t tf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void tf_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* ---- host side ---- */

static void nbh_setup_fn(struct test_host *h, void *arg)
{
	struct nbh *n = arg;

	(void)h;
	n->sw = pv_switch_new(NULL);
	n->nb = n->sw ? pv_netback_new(n->h->hv, n->h->xs, n->sw, n->h->loop, NULL) : NULL;
}

static void nbh_teardown_fn(struct test_host *h, void *arg)
{
	struct nbh *n = arg;

	(void)h;
	pv_netback_free(n->nb);
	pv_switch_free(n->sw);
	n->nb = NULL;
	n->sw = NULL;
}

static struct nbh *nbh_start(void)
{
	struct nbh *n = calloc(1, sizeof(*n));

	n->h = host_start();
	host_sync(n->h, nbh_setup_fn, n);
	if (!n->nb) {
		printf("FAIL: netback setup\n");
		exit(1);
	}
	return n;
}

static void nbh_stop(struct nbh *n)
{
	host_sync(n->h, nbh_teardown_fn, n);
	host_stop(n->h);
	free(n);
}

struct tf_info_req {
	struct nbh *n;
	unsigned int domid, devid;
	struct pv_vif_info vi;
	int rc;
	unsigned int nr_vifs;
};

static void tf_info_fn(struct test_host *h, void *arg)
{
	struct tf_info_req *r = arg;

	(void)h;
	r->rc = pv_netback_vif_info(r->n->nb, r->domid, r->devid, &r->vi);
	r->nr_vifs = pv_netback_nr_vifs(r->n->nb);
}

/* The vif's info as netback has it now (also proves the host loop is alive). */
static int tf_info(struct tf *t, struct pv_vif_info *vi)
{
	struct tf_info_req r = { .n = t->nbh, .domid = t->domid, .devid = t->devid };

	host_sync(t->nbh->h, tf_info_fn, &r);
	*vi = r.vi;
	return r.rc;
}

static unsigned int nbh_nr_vifs(struct nbh *n)
{
	struct tf_info_req r = { .n = n };

	host_sync(n->h, tf_info_fn, &r);
	return r.nr_vifs;
}

struct tf_ts_req {
	struct nbh *n;
	struct pv_vif_params p;
	int destroy;
	int rc;
};

static void tf_ts_fn(struct test_host *h, void *arg)
{
	struct tf_ts_req *r = arg;

	if (r->destroy)
		r->rc = pv_ts_vif_destroy(h->xs, r->p.domid, r->p.devid);
	else
		r->rc = pv_ts_vif_create(h->xs, &r->p);
}

struct tf_xs_req {
	const char *path;
	char buf[256];
	int rc;
};

static void tf_xs_read_fn(struct test_host *h, void *arg)
{
	struct tf_xs_req *r = arg;

	r->rc = xs_server_read(h->xs, r->path, r->buf, sizeof(r->buf));
}

/* Read the store as dom0, in-process: -errno or the length (value in @buf). */
static int nbh_xs_read(struct nbh *n, const char *path, char *buf, size_t size)
{
	struct tf_xs_req r = { .path = path };

	host_sync(n->h, tf_xs_read_fn, &r);
	if (r.rc >= 0 && size) {
		size_t l = strnlen(r.buf, size - 1);

		memcpy(buf, r.buf, l);
		buf[l] = 0;
	}
	return r.rc;
}

/* ---- frontend: store ---- */

static int tf_read_state(struct tf *t, const char *dir)
{
	char path[96], buf[16];

	snprintf(path, sizeof(path), "%s/state", dir);
	if (xsc_read(t->xs, 0, path, buf, sizeof(buf)) < 0)
		return -1;
	return atoi(buf);
}

/* Wait until the backend's state is @state; 0 or -ETIMEDOUT. */
static int tf_wait_be(struct tf *t, int state, unsigned int ms)
{
	uint64_t end = tf_now_ms() + ms;

	while (tf_now_ms() < end) {
		if (tf_read_state(t, t->be) == state)
			return 0;
		tf_sleep_ms(1);
	}
	return -ETIMEDOUT;
}

static void tf_set_state(struct tf *t, int state)
{
	char path[96];

	snprintf(path, sizeof(path), "%s/state", t->fe);
	xsc_printf(t->xs, 0, path, "%d", state);
}

static void tf_key(struct tf *t, uint32_t tx, const char *key, unsigned int v)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", t->fe, key);
	xsc_printf(t->xs, tx, path, "%u", v);
}

/**
 * tf_new() - a guest with one vif (toolstack-created), backend in InitWait
 */
/* TX rate (bit/s) the next tf_new() asks the toolstack for; 0: none. */
static uint64_t tf_rate_bps;

static struct tf *tf_new(struct nbh *n, const char *name, uint8_t last_mac_byte)
{
	struct tf *t = calloc(1, sizeof(*t));
	struct tf_ts_req r = { .n = n };
	int err;

	t->nbh = n;
	t->g = pv_guest_register(n->h->hv_path, name, TF_PAGES, TF_GRANTS, &err);
	if (!t->g) {
		printf("FAIL: register %s: %d\n", name, err);
		exit(1);
	}
	t->domid = pv_guest_domid(t->g);
	t->xs = xsc_open_fd(pv_guest_xs_connect(t->g));
	for (int i = 0; i < TF_RING; i++) {
		t->txbuf_ref[i] = pv_guest_grant(t->g, 0, TF_TXBUF + i, 1);
		t->rxbuf_ref[i] = pv_guest_grant(t->g, 0, TF_RXBUF + i, 0);
	}
	uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x00, (uint8_t)t->domid, last_mac_byte };
	memcpy(t->mac, mac, 6);
	r.p.domid = t->domid;
	r.p.rate_bps = tf_rate_bps;
	memcpy(r.p.mac, mac, 6);
	host_sync(n->h, tf_ts_fn, &r);
	snprintf(t->fe, sizeof(t->fe), "/local/domain/%u/device/vif/0", t->domid);
	snprintf(t->be, sizeof(t->be), "/local/domain/0/backend/vif/%u/0", t->domid);
	if (r.rc < 0 || tf_wait_be(t, XenbusStateInitWait, 5000) < 0) {
		printf("FAIL: vif for %s: %d / no InitWait\n", name, r.rc);
		exit(1);
	}
	return t;
}

/* Post RX request @id at the next RX ring index (not pushed). */
static void tf_rx_post(struct tf *t, uint16_t id, int ref)
{
	netif_rx_request_t *req = RING_GET_REQUEST(&t->rx, t->rx.req_prod_pvt);

	req->id = id;
	req->gref = (grant_ref_t)ref;
	t->rx_id_at[t->rx.req_prod_pvt & (TF_RING - 1)] = id;
	t->rx.req_prod_pvt++;
}

static void tf_rx_push(struct tf *t)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&t->rx, notify);
	if (notify)
		pv_guest_evtchn_notify(t->g, t->evtchn);
}

struct tf_opts {
	int rx_post;		/* RX buffers to post at connect (0: all, -1: none) */
	int no_csum;		/* feature-no-csum-offload = 1 */
	int no_gso;
};

/**
 * tf_connect() - fresh rings and channel, keys, Connected; 0 once the backend is Connected
 */
static int tf_connect(struct tf *t, const struct tf_opts *o)
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
	for (int i = 0; i < post && i < TF_RING; i++)
		tf_rx_post(t, (uint16_t)i, t->rxbuf_ref[i]);
	RING_PUSH_REQUESTS(&t->rx);
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
	if (xsc_transaction_end(t->xs, tx, 1) < 0)
		return -EIO;
	tf_set_state(t, XenbusStateConnected);
	return tf_wait_be(t, XenbusStateConnected, 5000);
}

/**
 * tf_reset() - Closed, give back the rings (they must be unmapped by
 * now: ending the grants must succeed), Initialising; backend InitWait.
 * Return: 0, or which step failed (1..3).
 */
static int tf_reset(struct tf *t)
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

static void tf_free(struct tf *t)
{
	xsc_close(t->xs);
	pv_guest_close(t->g);
	free(t);
}

/* ---- frontend: TX ---- */

/* Write a raw TX request at the next index (not pushed). */
static void tf_tx_put(struct tf *t, grant_ref_t gref, uint16_t offset, uint16_t flags,
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

static void tf_tx_put_extra(struct tf *t, uint8_t type, uint8_t flags, uint16_t gso_size,
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

/* The TX buffer page for the next request, and its grant. */
static uint8_t *tf_tx_page(struct tf *t, RING_IDX idx)
{
	return pv_guest_frame(t->g, TF_TXBUF + (idx & (TF_RING - 1)));
}

static grant_ref_t tf_tx_ref(struct tf *t, RING_IDX idx)
{
	return (grant_ref_t)t->txbuf_ref[idx & (TF_RING - 1)];
}

/* Push requests; returns whether the backend asked to be notified. */
static int tf_tx_push(struct tf *t)
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
 * the total as its size, per netif.h).  Returns slots used.
 */
static unsigned int tf_tx_frame(struct tf *t, const uint8_t *data, uint32_t len,
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
		if (piece)
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
static int tf_tx_wait(struct tf *t, unsigned int n, int16_t *status, uint16_t *ids,
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
static int tf_send(struct tf *t, const uint8_t *data, uint32_t len, const struct tf_send *s)
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

/* ---- frontend: RX ---- */

struct tf_rx {
	uint8_t data[70000];
	uint32_t len;
	uint16_t flags;		/* first response's flags */
	int has_gso;
	netif_extra_info_t gso;
	unsigned int nslots;
	int error;		/* a slot had a negative status */
};

static int tf_rx_avail(struct tf *t)
{
	return __atomic_load_n(&t->rx.sring->rsp_prod, __ATOMIC_ACQUIRE) != t->rx.rsp_cons;
}

/* Next response (waits); 0 or -ETIMEDOUT. */
static int tf_rx_next(struct tf *t, netif_rx_response_t *r, uint64_t end)
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
static int tf_recv(struct tf *t, struct tf_rx *out, unsigned int ms, int no_repost)
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

/* ---- frames ---- */

static void mk_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
}

static void mk_payload(uint8_t *p, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

/* Ethernet + IPv4 + TCP (proto 6) or UDP (17), @len bytes in all. */
static void mk_ip4(uint8_t *f, uint32_t len, const uint8_t *dst, const uint8_t *src,
		   uint8_t proto, uint32_t seed)
{
	uint32_t tot = len - 14;

	mk_eth(f, dst, src, 0x0800);
	memset(f + 14, 0, 20);
	f[14] = 0x45;
	f[16] = (uint8_t)(tot >> 8);
	f[17] = (uint8_t)tot;
	f[22] = 64;
	f[23] = proto;
	f[26] = 10; f[29] = 1;		/* 10.0.0.1 -> 10.0.0.2 */
	f[30] = 10; f[33] = 2;
	memset(f + 34, 0, 20);
	f[34] = 0x30; f[35] = 0x39;	/* ports 12345 -> 80 */
	f[37] = 80;
	if (proto == 6)
		f[46] = 5 << 4;		/* TCP data offset */
	else {
		f[38] = (uint8_t)((tot - 20) >> 8);
		f[39] = (uint8_t)(tot - 20);
	}
	mk_payload(f + 54, len - 54, seed);
}

static const uint8_t tf_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* A 60-byte ARP-like broadcast. */
static void mk_arp(uint8_t *f, const uint8_t *src, uint32_t seed)
{
	mk_eth(f, tf_bcast, src, 0x0806);
	mk_payload(f + 14, 46, seed);
}

static inline int tf_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

#endif
