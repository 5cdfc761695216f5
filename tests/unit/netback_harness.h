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
 * The frontend's rings, grants and requests: tests/lib/tfront.h.
 */
#ifndef PVNET_NETBACK_HARNESS_H
#define PVNET_NETBACK_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <time.h>

#include "../lib/test.h"
#include "../lib/host.h"
#include "../lib/tfront.h"
#include "back/netback.h"
#include "back/port.h"
#include "back/toolstack.h"
#include "guest/guest.h"
#include "guest/xsc.h"

struct nbh {
	struct test_host *h;
	struct pv_switch *sw;
	struct pv_netback *nb;
};

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
	err = tf_register(t, n->h->hv_path, name);
	if (err < 0) {
		printf("FAIL: register %s: %d\n", name, err);
		exit(1);
	}
	uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x00, (uint8_t)t->domid, last_mac_byte };
	memcpy(t->mac, mac, 6);
	r.p.domid = t->domid;
	r.p.rate_bps = tf_rate_bps;
	memcpy(r.p.mac, mac, 6);
	host_sync(n->h, tf_ts_fn, &r);
	if (r.rc < 0 || tf_wait_be(t, XenbusStateInitWait, 5000) < 0) {
		printf("FAIL: vif for %s: %d / no InitWait\n", name, r.rc);
		exit(1);
	}
	return t;
}

static void tf_free(struct tf *t)
{
	xsc_close(t->xs);
	pv_guest_close(t->g);
	free(t);
}

/* ---- frames ---- */

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
	/* 10.M4.M5.1 (the sender's own: netback's source check, srcguard.h) -> 10.0.0.2 */
	f[26] = 10; f[27] = src[4]; f[28] = src[5]; f[29] = 1;
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

/* A 60-byte ARP request broadcast, as the sender (10.M4.M5.1, its MAC); @seed in the padding. */
static void mk_arp(uint8_t *f, const uint8_t *src, uint32_t seed)
{
	static const uint8_t hdr[8] = { 0, 1, 0x08, 0, 6, 4, 0, 1 };

	mk_eth(f, tf_bcast, src, 0x0806);
	mk_payload(f + 14, 46, seed);
	memcpy(f + 14, hdr, 8);
	memcpy(f + 22, src, 6);
	f[28] = 10; f[29] = src[4]; f[30] = src[5]; f[31] = 1;
	f[38] = 10; f[39] = 0; f[40] = 0; f[41] = (uint8_t)(seed | 1);
}

static inline int tf_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

#endif
