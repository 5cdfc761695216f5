/* SPDX-License-Identifier: MIT */
/*
 * evil_front.c - a malicious netfront outside pvnetd: registers a domain
 * over <run-dir>/hv.sock with the guest library, asks for a vif
 * (PV_HV_VIF_REQUEST), runs the xenbus handshake by hand and then abuses
 * the rings and grants, one BADINPUTS case (classes 1-7, 12-17) at a time.
 * After a case that disables the vif it starts over as netback allows:
 * Closed, ring grants given back, Initialising, new rings, Connected.
 * (The in-process version of the same attacks is tests/unit/test_netback_bad.c;
 * the rings, grants and requests are tests/lib/tfront.h's, as there.)
 *
 *   evil_front RUN_DIR all | CASE...      evil_front --list
 *
 * It is driven line by line by a script (tests/integration/slowpath_evil.sh):
 *
 *   evil -> "READY <domid> <mac>"
 *   per case:
 *   evil -> "CASE <name> <kind> <what>"  kind: fatal (what = reason, spaces
 *           as '~'), drop (what = the pvnetctl counter), ok (what = -)
 *   script -> "go"                       (after reading the counters)
 *   evil -> "POKE <name> <n>"            only for RX cases: the script makes
 *   script -> "poked"                    <n> frames reach this vif, then says so
 *   evil -> "DONE <name> ok|bad <detail>" its own view (responses, state)
 *   script -> "next"                     (after checking pvnetctl)
 *   evil -> "AFTER <name> ok|bad <detail>"   some cases only
 *   evil -> "RESTARTED <name> ok|bad"    after fatal cases: reconnected
 *   evil -> "END <cases> <bad>"
 *
 * The frames it sends go to its own MAC (hairpin: the bridge drops them)
 * unless a case needs otherwise, so nothing reaches the good guests.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest/guest.h"
#include "guest/xsc.h"
#include "pvnet/hv_proto.h"
#include "pvnet/xen.h"
#include "../lib/tfront.h"

static struct tf T, *m = &T;
static uint8_t frame[70000];

/* ---- talking to the script ---- */

static void expect_line(const char *want)
{
	char buf[128];

	if (!fgets(buf, sizeof(buf), stdin)) {
		fprintf(stderr, "evil_front: stdin closed while waiting for '%s'\n", want);
		exit(1);
	}
	buf[strcspn(buf, "\n")] = 0;
	if (strcmp(buf, want)) {
		fprintf(stderr, "evil_front: got '%s', wanted '%s'\n", buf, want);
		exit(1);
	}
}

/* ---- TX and RX, on tests/lib/tfront.h ---- */

/* Queue one frame over @nslots data slots (@sizes, or an even split); returns slots used. */
static unsigned int tx_frame(const uint8_t *data, uint32_t len, unsigned int nslots,
			     const uint32_t *sizes, uint16_t flags, uint8_t gso_type,
			     uint16_t gso_size)
{
	struct tf_send s = { .nslots = nslots, .sizes = sizes, .flags = flags,
			     .gso_type = gso_type, .gso_size = gso_size };

	return tf_tx_frame(m, data, len, &s);
}

static struct tf_rx rx;

/* Take whatever arrived (broadcasts from the good guests), re-post. */
static unsigned int rx_drain(void)
{
	unsigned int n = 0;

	while (tf_rx_avail(m) && tf_recv(m, &rx, 50, 0) == 0)
		n++;
	return n;
}

/* ---- frames ---- */

/* Ethernet + IPv4 + TCP (6) or UDP (17), @len bytes, to @dst from our MAC. */
static void mk_ip4(uint8_t *f, uint32_t len, const uint8_t *dst, uint8_t proto)
{
	uint32_t tot = len - 14;

	mk_eth(f, dst, m->mac, 0x0800);
	memset(f + 14, 0, 40);
	f[14] = 0x45;
	f[16] = (uint8_t)(tot >> 8);
	f[17] = (uint8_t)tot;
	f[22] = 64;
	f[23] = proto;
	f[26] = 198; f[27] = 18; f[28] = 0; f[29] = 66;		/* 198.18.0.66 -> itself */
	f[30] = 198; f[31] = 18; f[32] = 0; f[33] = 66;
	f[34] = 0x30; f[35] = 0x39;
	f[37] = 9;						/* discard */
	if (proto == 6)
		f[46] = 5 << 4;
	else {
		f[38] = (uint8_t)((tot - 20) >> 8);
		f[39] = (uint8_t)(tot - 20);
	}
	for (uint32_t i = 54; i < len; i++)
		f[i] = (uint8_t)(i * 7);
}

/* ---- outcomes ---- */

struct res {
	int ok;
	char detail[200];
};

#define NOTE(r, ...) snprintf((r)->detail, sizeof((r)->detail), __VA_ARGS__)

/* Push what was queued; @n responses, each ERROR or NULL, at least one ERROR. */
static void expect_drop(struct res *r, unsigned int n)
{
	int16_t st[64];
	int nerr = 0;

	tf_tx_push(m);
	if (tf_tx_wait(m, n, st, NULL, 3000) < 0) {
		r->ok = 0;
		NOTE(r, "no_responses");
		return;
	}
	r->ok = 1;
	for (unsigned int i = 0; i < n; i++) {
		r->ok &= st[i] == NETIF_RSP_ERROR || st[i] == NETIF_RSP_NULL;
		nerr += st[i] == NETIF_RSP_ERROR;
	}
	r->ok &= nerr > 0;
	NOTE(r, "%u_responses_%d_errors", n, nerr);
}

static void poke(const char *name, unsigned int n)
{
	printf("POKE %s %u\n", name, n);
	expect_line("poked");
}

/* ---- the cases ---- */

/* 1: req_prod more than a ring ahead. */
static void c_prod_ahead(struct res *r)
{
	m->tx.sring->req_prod = m->tx.req_prod_pvt + TF_RING + 1;
	pv_guest_evtchn_notify(m->g, m->evtchn);
	r->ok = 1;
}

/* 1: ahead by 2^31: only wrap-around arithmetic sees it. */
static void c_prod_wrap(struct res *r)
{
	m->tx.sring->req_prod = m->tx.req_prod_pvt + 0x80000000u;
	pv_guest_evtchn_notify(m->g, m->evtchn);
	r->ok = 1;
}

/* 2: req_prod going backwards after two good frames. */
static void c_prod_back(struct res *r)
{
	mk_ip4(frame, 100, m->mac, 17);
	r->ok = tf_send(m, frame, 100, NULL) == 0 && tf_send(m, frame, 100, NULL) == 0;
	NOTE(r, "good_frames_%s", r->ok ? "okay" : "failed");
	m->tx.sring->req_prod = m->tx.req_prod_pvt - 1;
	pv_guest_evtchn_notify(m->g, m->evtchn);
}

/* 1 on the RX ring: seen when a frame is delivered to us. */
static void c_rx_prod(struct res *r)
{
	m->rx.sring->req_prod = m->rx.req_prod_pvt + 0x80000000u;
	poke("rx_prod", 2);
	r->ok = 1;
}

/* 3: the request rewritten while the backend reads it. */
struct flipper {
	volatile int stop;
};

static void *flip_main(void *arg)
{
	struct flipper *fl = arg;

	while (!fl->stop)
		for (int i = 0; i < TF_RING; i++) {
			netif_tx_request_t *q = &m->tx.sring->ring[i].req;

			__atomic_store_n(&q->size, (uint16_t)(q->size == 1000 ? 60 : 1000),
					 __ATOMIC_RELAXED);
		}
	return NULL;
}

static void c_double_fetch(struct res *r)
{
	struct flipper fl = { 0 };
	pthread_t th;
	int answered = 0;

	mk_ip4(frame, 1000, m->mac, 17);
	pthread_create(&th, NULL, flip_main, &fl);
	for (int i = 0; i < 100; i++) {
		tx_frame(frame, 1000, 1, NULL, 0, 0, 0);
		tf_tx_push(m);
		answered += tf_tx_wait(m, 1, NULL, NULL, 3000) == 0;
	}
	fl.stop = 1;
	pthread_join(th, NULL);
	r->ok = answered == 100 && tf_wait_be(m, XenbusStateConnected, 10) == 0;
	NOTE(r, "%d_of_100_answered", answered);
}

/* 4: out-of-range and repeated ids are echoed, never used. */
static void c_ids(struct res *r)
{
	int16_t st[3];
	uint16_t ids[3];

	mk_ip4(frame, 200, m->mac, 17);
	for (int i = 0; i < 3; i++)
		memcpy(tf_tx_page(m, m->tx.req_prod_pvt + (RING_IDX)i), frame, 200);
	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, 0, 0xffff, 200);
	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, 0, 7, 200);
	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, 0, 7, 200);
	tf_tx_push(m);
	r->ok = tf_tx_wait(m, 3, st, ids, 3000) == 0 && st[0] == 0 && st[1] == 0 && st[2] == 0 &&
		ids[0] == 0xffff && ids[1] == 7 && ids[2] == 7;
	NOTE(r, "ids_echoed_%s", r->ok ? "yes" : "no");
}

static void extra_frame(uint8_t type, uint8_t flags, int n)
{
	mk_ip4(frame, 200, m->mac, 6);
	memcpy(tf_tx_page(m, m->tx.req_prod_pvt), frame, 200);
	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, NETTXF_extra_info, 1, 200);
	for (int i = 0; i < n; i++)
		tf_tx_put_extra(m, type, flags, 0, 0);
	tf_tx_push(m);
}

static void c_extra_type0(struct res *r)
{
	extra_frame(XEN_NETIF_EXTRA_TYPE_NONE, 0, 1);
	r->ok = 1;
}

static void c_extra_typemax(struct res *r)
{
	extra_frame(XEN_NETIF_EXTRA_TYPE_MAX, 0, 1);
	r->ok = 1;
}

static void c_extra_chain(struct res *r)
{
	extra_frame(XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_FLAG_MORE, 6);
	r->ok = 1;
}

/* 4: the extra-info slot missing at the very end of the ring: wait, then serve. */
static void c_extra_ring_end(struct res *r)
{
	int16_t st[2];
	int waited, served;

	/* Fresh rings, then 255 frames to ourselves: the next request is index 255. */
	if (tf_reset(m) || tf_connect(m, NULL)) {
		r->ok = 0;
		NOTE(r, "cannot_restart");
		return;
	}
	mk_ip4(frame, 60, m->mac, 17);
	for (RING_IDX i = m->tx.req_prod_pvt; i < TF_RING - 1; i++) {
		memcpy(tf_tx_page(m, m->tx.req_prod_pvt), frame, 60);
		tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, 0, 0, 60);
		if ((i & 31) == 31 || i == TF_RING - 2) {
			tf_tx_push(m);
			tf_tx_wait(m, m->tx.req_prod_pvt - m->tx.rsp_cons, NULL, NULL, 3000);
		}
	}
	mk_ip4(frame, 3000, m->mac, 6);
	memcpy(tf_tx_page(m, m->tx.req_prod_pvt), frame, 3000);
	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, NETTXF_extra_info | NETTXF_csum_blank, 1, 3000);
	tf_tx_push(m);
	tf_sleep_ms(100);
	waited = m->tx.sring->rsp_prod == m->tx.rsp_cons &&
		 tf_read_state(m, m->be) == XenbusStateConnected;
	tf_tx_put_extra(m, XEN_NETIF_EXTRA_TYPE_GSO, 0, 1000, XEN_NETIF_GSO_TYPE_TCPV4);
	tf_tx_push(m);
	served = tf_tx_wait(m, 2, st, NULL, 3000) == 0 && st[0] == 0 && st[1] == NETIF_RSP_NULL;
	r->ok = waited && served && m->tx.req_prod_pvt == TF_RING + 1;
	NOTE(r, "waited_%d_served_%d", waited, served);
}

/* 5: a ref never granted. */
static void c_ref_never(struct res *r)
{
	mk_ip4(frame, 200, m->mac, 17);
	memcpy(tf_tx_page(m, m->tx.req_prod_pvt), frame, 200);
	tf_tx_put(m, 1000, 0, 0, 1, 200);
	expect_drop(r, 1);
}

/* 5: a ref granted to another domain (ourselves), not to the backend. */
static void c_ref_other_dom(struct res *r)
{
	int ref = pv_guest_grant(m->g, m->domid, TF_TXBUF, 1);

	mk_ip4(frame, 200, m->mac, 17);
	memcpy(pv_guest_frame(m->g, TF_TXBUF), frame, 200);
	tf_tx_put(m, (grant_ref_t)ref, 0, 0, 1, 200);
	expect_drop(r, 1);
	pv_guest_end_grant(m->g, (grant_ref_t)ref);
}

/* 6: a TX buffer revoked before the backend got to it; mapped rings cannot be. */
static void c_ref_revoked(struct res *r)
{
	RING_IDX idx = m->tx.req_prod_pvt;
	int busy;

	pv_guest_end_grant(m->g, tf_tx_ref(m, idx));
	tf_tx_put(m, tf_tx_ref(m, idx), 0, 0, 1, 200);
	expect_drop(r, 1);
	m->txbuf_ref[idx & (TF_RING - 1)] =
		pv_guest_grant(m->g, 0, TF_TXBUF + (idx & (TF_RING - 1)), 1);
	busy = pv_guest_end_grant(m->g, (grant_ref_t)m->tx_ref) == -EBUSY;
	r->ok &= busy;
	NOTE(r, "revoked_dropped_ring_pinned_%d", busy);
}

/* 5: a ref beyond the grant table: impossible. */
static void c_ref_range(struct res *r)
{
	tf_tx_put(m, 5000, 0, 0, 1, 200);
	tf_tx_push(m);
	r->ok = 1;
}

/* 7: offsets and sizes across the page. */
static void c_offset_first(struct res *r)
{
	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 4000, 0, 1, 200);
	tf_tx_push(m);
	r->ok = 1;
}

static void c_offset_frag(struct res *r)
{
	uint32_t s2[2] = { 100, 200 };

	mk_ip4(frame, 300, m->mac, 17);
	tx_frame(frame, 300, 2, s2, 0, 0, 0);
	RING_GET_REQUEST(&m->tx, m->tx.req_prod_pvt - 1)->offset = 4000;
	tf_tx_push(m);
	r->ok = 1;
}

static void c_offset_page(struct res *r)
{
	uint32_t s2[2] = { 100, 200 };

	mk_ip4(frame, 300, m->mac, 17);
	tx_frame(frame, 300, 2, s2, 0, 0, 0);
	RING_GET_REQUEST(&m->tx, m->tx.req_prod_pvt - 1)->offset = 4096;
	tf_tx_push(m);
	r->ok = 1;
}

/* 5: a read-only grant posted as an RX buffer: that slot fails. */
static void c_rx_readonly(struct res *r)
{
	int ref;

	if (tf_reset(m) || tf_connect(m, &(struct tf_opts){ .rx_post = -1 })) {
		r->ok = 0;
		NOTE(r, "cannot_restart");
		return;
	}
	ref = pv_guest_grant(m->g, 0, TF_RXBUF, 1);
	tf_rx_post(m, 0, ref);
	tf_rx_push(m);
	poke("rx_readonly", 1);
	r->ok = tf_recv(m, &rx, 3000, 1) == 0 && rx.error;
	NOTE(r, "slot_error_%d", rx.error);
	pv_guest_end_grant(m->g, (grant_ref_t)ref);
}

/* 5: an RX buffer ref beyond the grant table: impossible. */
static void c_rx_ref_range(struct res *r)
{
	if (tf_reset(m) || tf_connect(m, &(struct tf_opts){ .rx_post = -1 })) {
		r->ok = 0;
		NOTE(r, "cannot_restart");
		return;
	}
	tf_rx_post(m, 0, 5000);
	tf_rx_push(m);
	poke("rx_ref_range", 1);
	r->ok = 1;
}

/* 12, 13, 14: frame shapes (all drops). */
static void c_runt(struct res *r)
{
	mk_ip4(frame, 100, m->mac, 17);
	tx_frame(frame, 10, 1, NULL, 0, 0, 0);
	expect_drop(r, 1);
}

static void c_too_long(struct res *r)
{
	mk_ip4(frame, 2000, m->mac, 17);
	tx_frame(frame, 2000, 1, NULL, 0, 0, 0);
	expect_drop(r, 1);
}

static void c_zero_slots(struct res *r)
{
	uint32_t zero[3] = { 0, 0, 0 };

	tx_frame(frame, 0, 3, zero, 0, 0, 0);
	expect_drop(r, 3);
}

static void c_frag_overrun(struct res *r)
{
	uint32_t over[2] = { 0, 200 };

	mk_ip4(frame, 300, m->mac, 17);
	tx_frame(frame, 100, 2, over, 0, 0, 0);
	expect_drop(r, 2);
}

static void c_over_64k(struct res *r)
{
	uint32_t big[18];

	big[0] = 0;
	for (int i = 1; i < 18; i++)
		big[i] = 4000;
	mk_ip4(frame, 2000, m->mac, 17);
	tx_frame(frame, 65535, 18, big, 0, 0, 0);
	expect_drop(r, 18);
}

/* 16: GSO shapes (all drops, 2 responses: data ERROR, extra NULL). */
static void gso_case(struct res *r, uint8_t proto, uint16_t flags, uint8_t type, uint16_t size)
{
	mk_ip4(frame, 3000, m->mac, proto);
	tx_frame(frame, 3000, 1, NULL, flags, type, size);
	expect_drop(r, 2);
}

static void c_gso_size0(struct res *r)
{
	gso_case(r, 6, NETTXF_csum_blank, XEN_NETIF_GSO_TYPE_TCPV4, 0);
}

static void c_gso_type(struct res *r)
{
	gso_case(r, 6, NETTXF_csum_blank, 7, 1000);
}

static void c_gso_nocsum(struct res *r)
{
	gso_case(r, 6, 0, XEN_NETIF_GSO_TYPE_TCPV4, 1000);
}

static void c_gso_v6_on_v4(struct res *r)
{
	gso_case(r, 6, NETTXF_csum_blank, XEN_NETIF_GSO_TYPE_TCPV6, 1000);
}

static void c_gso_udp(struct res *r)
{
	gso_case(r, 17, NETTXF_csum_blank, XEN_NETIF_GSO_TYPE_TCPV4, 1000);
}

/* Checksum offload on ARP; a spoofed source MAC. */
static void c_csum_arp(struct res *r)
{
	static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	mk_eth(frame, bc, m->mac, 0x0806);
	memset(frame + 14, 0, 46);
	tx_frame(frame, 60, 1, NULL, NETTXF_csum_blank, 0, 0);
	expect_drop(r, 1);
}

static void c_spoofed(struct res *r)
{
	static const uint8_t other[6] = { 0x00, 0x16, 0x3e, 0x7f, 0x00, 0x01 };

	mk_ip4(frame, 200, m->mac, 17);
	memcpy(frame + 6, other, 6);
	tx_frame(frame, 200, 1, NULL, 0, 0, 0);
	expect_drop(r, 1);
}

/* 15: a tiny frame in @n slots (the first of 100 - (n - 1) bytes, the rest 1). */
static void slots_frame(unsigned int n)
{
	uint32_t tiny[21];

	tiny[0] = 100 - (n - 1);
	for (unsigned int i = 1; i < n; i++)
		tiny[i] = 1;
	mk_ip4(frame, 100, m->mac, 17);
	tx_frame(frame, 100, n, tiny, 0, 0, 0);
}

/* 15: 19 and 20 data slots: dropped, as Linux netback (tx_too_many_slots). */
static void c_slots19(struct res *r)
{
	slots_frame(19);
	expect_drop(r, 19);
}

static void c_slots20(struct res *r)
{
	slots_frame(20);
	expect_drop(r, 20);
}

/* 15: 21 data slots: more than fatal_skb_slots (20), fatal. */
static void c_slots21(struct res *r)
{
	slots_frame(21);
	tf_tx_push(m);
	r->ok = 1;
}

/* 15: a chain that never ends is waited for (not consumed, not fatal); grown past 20, fatal. */
static void c_chain_endless(struct res *r)
{
	uint32_t five[5] = { 20, 20, 20, 20, 20 };
	int waited;

	mk_ip4(frame, 100, m->mac, 17);
	tx_frame(frame, 100, 5, five, 0, 0, 0);
	RING_GET_REQUEST(&m->tx, m->tx.req_prod_pvt - 1)->flags |= NETTXF_more_data;
	tf_tx_push(m);
	tf_sleep_ms(200);
	waited = m->tx.sring->rsp_prod == m->tx.rsp_cons &&
		 tf_read_state(m, m->be) == XenbusStateConnected;
	for (int i = 0; i < 16; i++)
		tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, NETTXF_more_data, 1, 0);
	tf_tx_push(m);
	r->ok = waited;
	NOTE(r, "waited_connected_%d", waited);
}

/* 17: one RX buffer, a stream of frames: queued (bounded), never partial; drained later. */
static void c_rx_full(struct res *r)
{
	if (tf_reset(m) || tf_connect(m, &(struct tf_opts){ .rx_post = 1 })) {
		r->ok = 0;
		NOTE(r, "cannot_restart");
		return;
	}
	poke("rx_full", 400);
	tf_sleep_ms(100);
	/* Exactly the one posted buffer was used: one response, whole frames only. */
	r->ok = m->rx.sring->rsp_prod == 1;
	NOTE(r, "rsp_prod_%u", m->rx.sring->rsp_prod);
}

static void c_rx_full_after(struct res *r)
{
	unsigned int got = 0;

	for (int i = 1; i < TF_RING; i++)
		tf_rx_post(m, (uint16_t)i, m->rxbuf_ref[i]);
	tf_rx_push(m);
	while (tf_recv(m, &rx, 500, 0) == 0)
		got++;
	r->ok = got >= 257;	/* the one posted buffer, then the 256 queued */
	NOTE(r, "drained_%u_frames", got);
}

enum kind { K_FATAL, K_DROP, K_OK };

struct evil_case {
	const char *name;
	enum kind kind;
	const char *what;	/* fatal: reason substring; drop: counter */
	void (*fn)(struct res *);
	void (*after)(struct res *);	/* after the script's check */
	int restart;		/* start over afterwards even if not fatal */
};

static const struct evil_case cases[] = {
	{ "prod_ahead", K_FATAL, "impossible req_prod", c_prod_ahead, NULL, 0 },
	{ "prod_wrap", K_FATAL, "impossible req_prod", c_prod_wrap, NULL, 0 },
	{ "prod_back", K_FATAL, "impossible req_prod", c_prod_back, NULL, 0 },
	{ "rx_prod", K_FATAL, "rx: impossible req_prod", c_rx_prod, NULL, 0 },
	{ "double_fetch", K_OK, "-", c_double_fetch, NULL, 0 },
	{ "ids", K_OK, "-", c_ids, NULL, 0 },
	{ "extra_type0", K_FATAL, "invalid extra-info type", c_extra_type0, NULL, 0 },
	{ "extra_typemax", K_FATAL, "invalid extra-info type", c_extra_typemax, NULL, 0 },
	{ "extra_chain", K_FATAL, "extra-info slots", c_extra_chain, NULL, 0 },
	{ "extra_ring_end", K_OK, "-", c_extra_ring_end, NULL, 0 },
	{ "ref_never", K_DROP, "tx_bad_grant", c_ref_never, NULL, 0 },
	{ "ref_other_dom", K_DROP, "tx_bad_grant", c_ref_other_dom, NULL, 0 },
	{ "ref_revoked", K_DROP, "tx_bad_grant", c_ref_revoked, NULL, 0 },
	{ "ref_range", K_FATAL, "unusable", c_ref_range, NULL, 0 },
	{ "offset_first", K_FATAL, "crosses the page", c_offset_first, NULL, 0 },
	{ "offset_frag", K_FATAL, "crosses the page", c_offset_frag, NULL, 0 },
	{ "offset_page", K_FATAL, "crosses the page", c_offset_page, NULL, 0 },
	{ "rx_readonly", K_DROP, "rx_bad_grant", c_rx_readonly, NULL, 1 },
	{ "rx_ref_range", K_FATAL, "rx: gref", c_rx_ref_range, NULL, 0 },
	{ "runt", K_DROP, "tx_runt", c_runt, NULL, 0 },
	{ "too_long", K_DROP, "tx_too_long", c_too_long, NULL, 0 },
	{ "zero_slots", K_DROP, "tx_runt", c_zero_slots, NULL, 0 },
	{ "frag_overrun", K_DROP, "tx_frag_overrun", c_frag_overrun, NULL, 0 },
	{ "over_64k", K_DROP, "tx_frag_overrun", c_over_64k, NULL, 0 },
	{ "gso_size0", K_DROP, "tx_gso_bad", c_gso_size0, NULL, 0 },
	{ "gso_type", K_DROP, "tx_gso_bad", c_gso_type, NULL, 0 },
	{ "gso_nocsum", K_DROP, "tx_gso_bad", c_gso_nocsum, NULL, 0 },
	{ "gso_v6_on_v4", K_DROP, "tx_gso_bad", c_gso_v6_on_v4, NULL, 0 },
	{ "gso_udp", K_DROP, "tx_gso_bad", c_gso_udp, NULL, 0 },
	{ "csum_arp", K_DROP, "tx_csum", c_csum_arp, NULL, 0 },
	{ "spoofed", K_DROP, "tx_spoofed", c_spoofed, NULL, 0 },
	{ "slots19", K_DROP, "tx_too_many_slots", c_slots19, NULL, 0 },
	{ "slots20", K_DROP, "tx_too_many_slots", c_slots20, NULL, 0 },
	{ "slots21", K_FATAL, "more than 20 slots", c_slots21, NULL, 0 },
	{ "chain_endless", K_FATAL, "more than 20 slots", c_chain_endless, NULL, 0 },
	{ "rx_full", K_OK, "-", c_rx_full, c_rx_full_after, 1 },
};
#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

static const char *kind_name(enum kind k)
{
	return k == K_FATAL ? "fatal" : k == K_DROP ? "drop" : "ok";
}

/* Register, ask for the vif, handshake: 0 once Connected. */
static int setup(const char *run_dir)
{
	struct pv_hv_vif_request rq = { .devid = 0 };
	struct pv_hv_vif_reply rep;
	char hv[4096];
	int err;

	snprintf(hv, sizeof(hv), "%s/%s", run_dir, PV_HV_SOCK_NAME);
	err = tf_register(m, hv, "evil");
	if (err < 0) {
		fprintf(stderr, "evil_front: register: %s\n", strerror(-err));
		return -1;
	}
	err = pv_guest_hv_call(pv_guest_hv_fd(m->g), PV_HV_VIF_REQUEST, &rq, sizeof(rq), NULL, 0,
			       &rep, sizeof(rep), NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "evil_front: vif request: %s\n", strerror(-err));
		return -1;
	}
	memcpy(m->mac, rep.mac, 6);
	if (tf_wait_be(m, XenbusStateInitWait, 5000) < 0) {
		fprintf(stderr, "evil_front: backend never reached InitWait\n");
		return -1;
	}
	if (tf_connect(m, NULL) < 0) {
		fprintf(stderr, "evil_front: backend never Connected\n");
		return -1;
	}
	return 0;
}

/* Wait for the vif to be disabled: backend Closing, our reason in the store. */
static void wait_fatal(const struct evil_case *c, struct res *r)
{
	char path[128], buf[160] = "";
	int closing = tf_wait_be(m, XenbusStateClosing, 3000) == 0;
	int n;

	snprintf(path, sizeof(path), "%.63s/disabled-reason", m->be);
	n = xsc_read(m->xs, 0, path, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	r->ok = r->ok && closing && n > 0 && strstr(buf, c->what);
	for (char *p = buf; *p; p++)
		if (*p == ' ')
			*p = '_';
	snprintf(r->detail, sizeof(r->detail), "closing_%d_reason_%s", closing, n > 0 ? buf : "none");
}

static int run_case(const struct evil_case *c)
{
	struct res r = { .ok = 1, .detail = "-" };
	char what[64];
	int bad = 0;

	rx_drain();
	snprintf(what, sizeof(what), "%s", c->what);
	for (char *p = what; *p; p++)
		if (*p == ' ')
			*p = '~';
	printf("CASE %s %s %s\n", c->name, kind_name(c->kind), what);
	expect_line("go");
	c->fn(&r);
	if (c->kind == K_FATAL)
		wait_fatal(c, &r);
	else if (tf_read_state(m, m->be) != XenbusStateConnected) {
		r.ok = 0;
		snprintf(r.detail, sizeof(r.detail), "backend_state_%d", tf_read_state(m, m->be));
	}
	printf("DONE %s %s %s\n", c->name, r.ok ? "ok" : "bad", r.detail);
	bad += !r.ok;
	expect_line("next");
	if (c->after) {
		struct res a = { .ok = 1, .detail = "-" };

		c->after(&a);
		printf("AFTER %s %s %s\n", c->name, a.ok ? "ok" : "bad", a.detail);
		bad += !a.ok;
	}
	if (c->kind == K_FATAL || c->restart) {
		int rs = tf_reset(m), cn = rs ? -1 : tf_connect(m, NULL);

		printf("RESTARTED %s %s reset_%d_connect_%d\n", c->name, !rs && !cn ? "ok" : "bad",
		       rs, cn);
		bad += rs || cn;
	}
	return bad;
}

int main(int argc, char **argv)
{
	unsigned int nr = 0, bad = 0;
	char mac[18];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < NR_CASES; i++)
			printf("%s %s %s\n", cases[i].name, kind_name(cases[i].kind), cases[i].what);
		return 0;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: evil_front RUN_DIR all|CASE...\n       evil_front --list\n");
		return 2;
	}
	for (int a = 2; a < argc; a++) {
		int found = !strcmp(argv[a], "all");

		for (size_t i = 0; i < NR_CASES; i++)
			found |= !strcmp(argv[a], cases[i].name);
		if (!found) {
			fprintf(stderr, "evil_front: no case '%s' (--list)\n", argv[a]);
			return 2;
		}
	}
	if (setup(argv[1]) < 0)
		return 1;
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m->mac[0], m->mac[1],
		 m->mac[2], m->mac[3], m->mac[4], m->mac[5]);
	printf("READY %u %s\n", m->domid, mac);
	for (size_t i = 0; i < NR_CASES; i++) {
		int want = 0;

		for (int a = 2; a < argc; a++)
			want |= !strcmp(argv[a], "all") || !strcmp(argv[a], cases[i].name);
		if (!want)
			continue;
		nr++;
		bad += (unsigned int)run_case(&cases[i]);
	}
	printf("END %u %u\n", nr, bad);
	expect_line("bye");
	xsc_close(m->xs);
	pv_guest_close(m->g);
	return bad ? 1 : 0;
}
