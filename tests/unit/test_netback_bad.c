/* SPDX-License-Identifier: MIT */
/*
 * test_netback_bad.c - a malicious frontend M against netback, BADINPUTS
 * classes 1-7 and 12-17, while a well-behaved pair G1 <-> G2 keeps
 * exchanging frames after every case.
 *
 * Outcomes (see netback.h / netback_tx.c for the rules):
 *   fatal  - the vif is disabled: info.disabled with the reason, backend
 *            state Closing, "disabled-reason" in the store; M then starts
 *            over (Closed, ring grants revocable = unmapped, Initialising,
 *            new rings) and must work again.
 *   drop   - error responses (NULL for extra slots), one drop counted
 *            under the right reason, the vif stays connected.
 *   wait   - an incomplete chain is not consumed: no response, no fatal;
 *            completed later it is served.
 */
#include <pthread.h>
#include <stddef.h>

#include "netback_harness.h"

static struct nbh *n;
static struct tf *m, *g1, *g2;
static uint8_t frame[70000];
static struct tf_rx rx;
static unsigned int seed = 100, nr_fatal;

#define ST(field) offsetof(struct pv_vif_stats, field)

static uint64_t stat_of(const struct pv_vif_info *vi, size_t off)
{
	uint64_t v;

	memcpy(&v, (const uint8_t *)&vi->st + off, sizeof(v));
	return v;
}

/* G1 -> G2 and G2 -> G1 still work, and the host loop answers. */
static void good_pair(const char *ctx)
{
	static uint8_t f[700];
	char name[160];
	int ok = 1;

	for (int dir = 0; dir < 2; dir++) {
		struct tf *from = dir ? g2 : g1, *to = dir ? g1 : g2;

		mk_ip4(f, sizeof(f), to->mac, from->mac, 17, seed++);
		ok &= tf_send(from, f, sizeof(f), NULL) == 0;
		ok &= tf_recv(to, &rx, 3000, 0) == 0 && rx.len == sizeof(f) &&
		      !memcmp(rx.data, f, sizeof(f));
	}
	snprintf(name, sizeof(name), "%s: G1<->G2 unaffected", ctx);
	T_CHECK(ok, name, "good pair broken");
}

static void restart_m(const char *ctx, const struct tf_opts *o)
{
	char name[160], path[128], buf[64] = "";
	int r = tf_reset(m);

	snprintf(name, sizeof(name), "%s: M starts over (Closed, unmapped, InitWait)", ctx);
	T_EQ(r, 0, name);
	snprintf(path, sizeof(path), "%s/disabled-reason", m->be);
	snprintf(name, sizeof(name), "%s: disabled-reason cleared on restart", ctx);
	T_CHECK(nbh_xs_read(n, path, buf, sizeof(buf)) == -ENOENT, name, "still %s", buf);
	snprintf(name, sizeof(name), "%s: M reconnects", ctx);
	T_EQ(tf_connect(m, o), 0, name);
}

/* Wait for M's vif to be disabled; check how, the others, then restart M. */
static void expect_fatal(const char *ctx, const char *reason)
{
	struct pv_vif_info vi;
	uint64_t end = tf_now_ms() + 3000;
	char name[160], path[128], buf[160] = "";

	while (tf_info(m, &vi) == 0 && !vi.disabled && tf_now_ms() < end)
		tf_sleep_ms(1);
	snprintf(name, sizeof(name), "%s: vif disabled (%s)", ctx, reason);
	T_CHECK(vi.disabled && !vi.connected && strstr(vi.reason, reason), name,
		"disabled %d connected %d reason '%s'", vi.disabled, vi.connected, vi.reason);
	nr_fatal++;
	snprintf(name, sizeof(name), "%s: backend Closing", ctx);
	T_EQ(tf_wait_be(m, XenbusStateClosing, 3000), 0, name);
	snprintf(path, sizeof(path), "%s/disabled-reason", m->be);
	snprintf(name, sizeof(name), "%s: disabled-reason in the store", ctx);
	T_CHECK(nbh_xs_read(n, path, buf, sizeof(buf)) > 0 && strstr(buf, reason), name,
		"store has '%s'", buf);
	good_pair(ctx);
	restart_m(ctx, NULL);
}

/*
 * Push what M queued, expect @nrsp responses: every data slot ERROR, extra
 * slots NULL, one more drop under @counter, still connected.
 */
static void expect_drop(const char *ctx, unsigned int nrsp, size_t counter)
{
	struct pv_vif_info v0, v1;
	int16_t st[64];
	char name[160];
	int ok = 1, nerr = 0;

	tf_info(m, &v0);
	tf_tx_push(m);
	snprintf(name, sizeof(name), "%s: responses", ctx);
	T_EQ(tf_tx_wait(m, nrsp, st, NULL, 3000), 0, name);
	for (unsigned int i = 0; i < nrsp; i++) {
		ok &= st[i] == NETIF_RSP_ERROR || st[i] == NETIF_RSP_NULL;
		nerr += st[i] == NETIF_RSP_ERROR;
	}
	snprintf(name, sizeof(name), "%s: error responses", ctx);
	T_CHECK(ok && nerr > 0, name, "statuses not ERROR/NULL");
	tf_info(m, &v1);
	snprintf(name, sizeof(name), "%s: drop counted", ctx);
	T_EQ(stat_of(&v1, counter) - stat_of(&v0, counter), 1, name);
	snprintf(name, sizeof(name), "%s: vif still connected", ctx);
	T_CHECK(v1.connected && !v1.disabled, name, "disabled: %s", v1.reason);
	good_pair(ctx);
}

/* Queue a TX frame of M's (to G1) with explicit slot sizes; the first slot's size is @total. */
static void m_frame(uint32_t total, const uint32_t *sizes, unsigned int nslots, uint16_t flags,
		    uint8_t gso_type, uint16_t gso_size)
{
	struct tf_send s = { .nslots = nslots, .sizes = sizes, .flags = flags,
			     .gso_type = gso_type, .gso_size = gso_size };

	tf_tx_frame(m, frame, total, &s);
}

/* ---- class 1, 2: ring indices ---- */

static void case_indices(void)
{
	/* 1: req_prod more than a ring ahead. */
	m->tx.sring->req_prod = m->tx.req_prod_pvt + TF_RING + 1;
	pv_guest_evtchn_notify(m->g, m->evtchn);
	expect_fatal("1 prod > ring ahead", "impossible req_prod");

	/* 1: ahead by 2^31: only wrap-around arithmetic sees it. */
	m->tx.sring->req_prod = m->tx.req_prod_pvt + 0x80000000u;
	pv_guest_evtchn_notify(m->g, m->evtchn);
	expect_fatal("1 prod across 2^32", "impossible req_prod");

	/* 2: req_prod backwards, after two good frames (to M itself: hairpin, dropped by the bridge). */
	mk_ip4(frame, 100, m->mac, m->mac, 17, 1);
	T_EQ(tf_send(m, frame, 100, NULL), 0, "2 backwards: good frame 1");
	T_EQ(tf_send(m, frame, 100, NULL), 0, "2 backwards: good frame 2");
	m->tx.sring->req_prod = m->tx.req_prod_pvt - 1;
	pv_guest_evtchn_notify(m->g, m->evtchn);
	expect_fatal("2 prod backwards", "impossible req_prod");

	/* 1/2 on the RX ring: checked when a frame is delivered to M. */
	m->rx.sring->req_prod = m->rx.req_prod_pvt + 0x80000000u;
	mk_ip4(frame, 100, m->mac, g1->mac, 17, 2);
	T_EQ(tf_send(g1, frame, 100, NULL), 0, "1 rx prod: G1 sends to M");
	expect_fatal("1 rx prod insane", "rx: impossible req_prod");
}

/* ---- class 3: double fetch ---- */

struct flipper {
	struct tf *t;
	volatile int stop;
};

static void *flip_main(void *arg)
{
	struct flipper *fl = arg;

	while (!fl->stop)
		for (int i = 0; i < TF_RING; i++) {
			netif_tx_request_t *r = &fl->t->tx.sring->ring[i].req;

			__atomic_store_n(&r->size, (uint16_t)(r->size == 1000 ? 60 : 1000),
					 __ATOMIC_RELAXED);
		}
	return NULL;
}

static void case_double_fetch(void)
{
	struct flipper fl = { .t = m };
	pthread_t th;
	int ok = 1, got = 0;

	mk_ip4(frame, 1000, g1->mac, m->mac, 17, 3);
	pthread_create(&th, NULL, flip_main, &fl);
	for (int i = 0; i < 100; i++) {
		tf_tx_frame(m, frame, 1000, NULL);
		tf_tx_push(m);
		if (tf_tx_wait(m, 1, NULL, NULL, 3000) < 0)
			ok = 0;
	}
	fl.stop = 1;
	pthread_join(th, NULL);
	T_CHECK(ok, "3 double fetch: every rewritten request answered", "timeout");
	while (tf_recv(g1, &rx, 300, 0) == 0) {
		got++;
		/* Delivered length is one of the values read once; bytes match that length. */
		if ((rx.len != 60 && rx.len != 1000) || memcmp(rx.data, frame, rx.len))
			ok = 0;
	}
	T_CHECK(ok && got == 100, "3 double fetch: each frame consistent with one read",
		"got %d frames, bad content or length", got);
	good_pair("3 double fetch");
	/* M's vif may have been disabled by a size read past the page? No: both are valid. */
	struct pv_vif_info vi;

	tf_info(m, &vi);
	T_CHECK(vi.connected, "3 double fetch: M still connected", "disabled: %s", vi.reason);
}

/* ---- class 4: ids and extra-info ---- */

static void case_ids_extras(void)
{
	int16_t st[4];
	uint16_t ids[4];
	uint32_t one[1] = { 0 };

	(void)one;
	/* Out-of-range and repeated ids are echoed, never used. */
	mk_ip4(frame, 200, g1->mac, m->mac, 17, 4);
	memcpy(tf_tx_page(m, m->tx.req_prod_pvt), frame, 200);
	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, 0, 0xffff, 200);
	memcpy(tf_tx_page(m, m->tx.req_prod_pvt), frame, 200);
	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, 0, 7, 200);
	memcpy(tf_tx_page(m, m->tx.req_prod_pvt), frame, 200);
	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, 0, 7, 200);
	tf_tx_push(m);
	T_EQ(tf_tx_wait(m, 3, st, ids, 3000), 0, "4 ids: responses");
	T_CHECK(st[0] == 0 && st[1] == 0 && st[2] == 0 && ids[0] == 0xffff && ids[1] == 7 &&
		ids[2] == 7, "4 ids: OKAY, ids echoed as given", "st %d %d %d ids %u %u %u",
		st[0], st[1], st[2], ids[0], ids[1], ids[2]);
	for (int i = 0; i < 3; i++)
		T_ASSERT(tf_recv(g1, &rx, 3000, 0) == 0 && rx.len == 200, "G1 got frame %d", i);

	/* Extra-info type 0 and type >= MAX: fatal, as Linux. */
	mk_ip4(frame, 200, g1->mac, m->mac, 6, 5);
	memcpy(tf_tx_page(m, m->tx.req_prod_pvt), frame, 200);
	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, NETTXF_extra_info, 1, 200);
	tf_tx_put_extra(m, XEN_NETIF_EXTRA_TYPE_NONE, 0, 0, 0);
	tf_tx_push(m);
	expect_fatal("4 extra type 0", "invalid extra-info type");
	memcpy(tf_tx_page(m, m->tx.req_prod_pvt), frame, 200);
	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, NETTXF_extra_info, 1, 200);
	tf_tx_put_extra(m, XEN_NETIF_EXTRA_TYPE_MAX, 0, 0, 0);
	tf_tx_push(m);
	expect_fatal("4 extra type MAX", "invalid extra-info type");
	/* An endless chain of extras. */
	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, NETTXF_extra_info, 1, 200);
	for (int i = 0; i < 6; i++)
		tf_tx_put_extra(m, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_FLAG_MORE, 0, 0);
	tf_tx_push(m);
	expect_fatal("4 extra chain", "extra-info slots");
}

/* Extra-info missing at the very end of the ring: wait, then serve when published. */
static void case_extra_at_ring_end(void)
{
	struct pv_vif_info vi;
	int16_t st[2];
	int ok;

	/* Move M's ring to index 255: 255 frames to itself (hairpin, dropped by the bridge). */
	mk_ip4(frame, 60, m->mac, m->mac, 17, 6);
	for (RING_IDX i = m->tx.req_prod_pvt; i < TF_RING - 1; i++) {
		memcpy(tf_tx_page(m, m->tx.req_prod_pvt), frame, 60);
		tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, 0, 0, 60);
		if ((i & 31) == 31 || i == TF_RING - 2) {
			tf_tx_push(m);
			tf_tx_wait(m, m->tx.req_prod_pvt - m->tx.rsp_cons, NULL, NULL, 3000);
		}
	}
	T_EQ(m->tx.req_prod_pvt, TF_RING - 1, "4 extra at ring end: at index 255");
	mk_ip4(frame, 3000, g1->mac, m->mac, 6, 7);
	memcpy(tf_tx_page(m, m->tx.req_prod_pvt), frame, 3000);
	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, NETTXF_extra_info | NETTXF_csum_blank,
		  1, 3000);
	tf_tx_push(m);
	tf_sleep_ms(100);
	tf_info(m, &vi);
	T_CHECK(vi.connected && m->tx.sring->rsp_prod == m->tx.rsp_cons,
		"4 extra at ring end: not consumed, no fatal", "connected %d rsp_prod %u",
		vi.connected, m->tx.sring->rsp_prod);
	tf_tx_put_extra(m, XEN_NETIF_EXTRA_TYPE_GSO, 0, 1000, XEN_NETIF_GSO_TYPE_TCPV4);
	tf_tx_push(m);
	ok = tf_tx_wait(m, 2, st, NULL, 3000) == 0 && st[0] == 0 && st[1] == NETIF_RSP_NULL;
	T_CHECK(ok, "4 extra at ring end: served once published (OKAY, NULL)",
		"st %d %d", st[0], st[1]);
	ok = tf_recv(g1, &rx, 3000, 0) == 0 && rx.len == 3000 && !memcmp(rx.data, frame, 3000) &&
	     rx.has_gso && rx.gso.u.gso.size == 1000;
	T_CHECK(ok, "4 extra at ring end: G1 gets the GSO frame across the wrap", "len %u", rx.len);
}

/* ---- class 5, 6, 7: grants and offsets ---- */

static void case_grants(void)
{
	int ref;
	RING_IDX idx;

	mk_ip4(frame, 200, g1->mac, m->mac, 17, 8);
	/* 5: never granted. */
	memcpy(tf_tx_page(m, m->tx.req_prod_pvt), frame, 200);
	tf_tx_put(m, 1000, 0, 0, 1, 200);
	expect_drop("5 never-granted ref", 1, ST(tx_bad_grant));
	/* 5: granted to another domain. */
	ref = pv_guest_grant(m->g, g1->domid, TF_TXBUF, 1);
	tf_tx_put(m, (grant_ref_t)ref, 0, 0, 1, 200);
	expect_drop("5 ref granted to another domain", 1, ST(tx_bad_grant));
	pv_guest_end_grant(m->g, (grant_ref_t)ref);
	/* 6: revoked before the backend got to it. */
	idx = m->tx.req_prod_pvt;
	T_EQ(pv_guest_end_grant(m->g, tf_tx_ref(m, idx)), 0, "6 revoke: TX buffer revoked");
	tf_tx_put(m, tf_tx_ref(m, idx), 0, 0, 1, 200);
	expect_drop("6 revoked ref", 1, ST(tx_bad_grant));
	m->txbuf_ref[idx & (TF_RING - 1)] = pv_guest_grant(m->g, 0, TF_TXBUF + (idx & (TF_RING - 1)), 1);
	/* 6: the ring pages are pinned while mapped: cannot be revoked. */
	T_EQ(pv_guest_end_grant(m->g, (grant_ref_t)m->tx_ref), -EBUSY,
	     "6 revoke: mapped ring page cannot be revoked");
	/* 5: out of range: impossible. */
	tf_tx_put(m, 5000, 0, 0, 1, 200);
	tf_tx_push(m);
	expect_fatal("5 out-of-range ref", "unusable");

	/* 7: first slot's data across the page; a fragment across; offset at the page end. */
	uint32_t s2[2] = { 100, 200 };

	tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 4000, 0, 1, 200);
	tf_tx_push(m);
	expect_fatal("7 first slot across the page", "crosses the page");
	m_frame(300, s2, 2, 0, 0, 0);
	RING_GET_REQUEST(&m->tx, m->tx.req_prod_pvt - 1)->offset = 4000;
	tf_tx_push(m);
	expect_fatal("7 fragment across the page", "crosses the page");
	m_frame(300, s2, 2, 0, 0, 0);
	RING_GET_REQUEST(&m->tx, m->tx.req_prod_pvt - 1)->offset = 4096;
	tf_tx_push(m);
	expect_fatal("7 offset == page size", "crosses the page");

	/* 5: a read-only grant posted as an RX buffer: that slot fails. */
	struct tf_opts none = { .rx_post = -1 };
	struct pv_vif_info v0, v1;

	tf_reset(m);
	T_EQ(tf_connect(m, &none), 0, "5 rx read-only: M connected without buffers");
	ref = pv_guest_grant(m->g, 0, TF_RXBUF, 1);
	tf_rx_post(m, 0, ref);
	tf_rx_push(m);
	tf_info(m, &v0);
	mk_ip4(frame, 300, m->mac, g1->mac, 17, 9);
	T_EQ(tf_send(g1, frame, 300, NULL), 0, "5 rx read-only: G1 sends to M");
	T_CHECK(tf_recv(m, &rx, 3000, 1) == 0 && rx.error, "5 rx read-only: M's slot is ERROR",
		"error %d len %u", rx.error, rx.len);
	tf_info(m, &v1);
	T_EQ(v1.st.rx_bad_grant - v0.st.rx_bad_grant, 1, "5 rx read-only: rx_bad_grant counted");
	good_pair("5 rx read-only");
	pv_guest_end_grant(m->g, (grant_ref_t)ref);
	/* 5: an out-of-range RX buffer ref: impossible. */
	tf_rx_post(m, 1, 5000);
	tf_rx_push(m);
	T_EQ(tf_send(g1, frame, 300, NULL), 0, "5 rx bad ref: G1 sends to M");
	expect_fatal("5 rx out-of-range ref", "rx: gref");
}

/* ---- classes 12-16: frame shape ---- */

static void case_shapes(void)
{
	uint32_t big[18], tiny[21], over[2] = { 0, 200 }, zero[3] = { 0, 0, 0 };

	mk_ip4(frame, 2000, g1->mac, m->mac, 17, 10);
	/* 13: runt, too long without GSO. */
	m_frame(10, NULL, 1, 0, 0, 0);
	expect_drop("13 frame < 14 bytes", 1, ST(tx_runt));
	m_frame(2000, NULL, 1, 0, 0, 0);
	expect_drop("13 frame > MTU", 1, ST(tx_too_long));
	/* 12: all fragments zero-length (size 0 everywhere). */
	m_frame(0, zero, 3, 0, 0, 0);
	expect_drop("12 all slots zero-length", 3, ST(tx_runt));
	/* 14: a fragment larger than what remains. */
	m_frame(100, over, 2, 0, 0, 0);
	expect_drop("14 fragment > remaining", 2, ST(tx_frag_overrun));
	/* 13: more than 64 KiB of slots behind a 65535 declaration. */
	big[0] = 0;
	for (int i = 1; i < 18; i++)
		big[i] = 4000;
	m_frame(65535, big, 18, 0, 0, 0);
	expect_drop("13 slots sum > 64 KiB", 18, ST(tx_frag_overrun));
	/* 16: GSO size 0, unknown type, on UDP, without csum_blank. */
	mk_ip4(frame, 3000, g1->mac, m->mac, 6, 11);
	m_frame(3000, NULL, 1, NETTXF_csum_blank, XEN_NETIF_GSO_TYPE_TCPV4, 0);
	expect_drop("16 GSO size 0", 2, ST(tx_gso_bad));
	m_frame(3000, NULL, 1, NETTXF_csum_blank, XEN_NETIF_GSO_TYPE_TCPV4, 1);
	expect_drop("16 GSO size 1 (below 64)", 2, ST(tx_gso_bad));
	m_frame(3000, NULL, 1, NETTXF_csum_blank, XEN_NETIF_GSO_TYPE_TCPV4, 63);
	expect_drop("16 GSO size 63 (below 64)", 2, ST(tx_gso_bad));
	m_frame(3000, NULL, 1, NETTXF_csum_blank, 7, 1000);
	expect_drop("16 GSO unknown type", 2, ST(tx_gso_bad));
	m_frame(3000, NULL, 1, 0, XEN_NETIF_GSO_TYPE_TCPV4, 1000);
	expect_drop("16 GSO without csum_blank", 2, ST(tx_gso_bad));
	m_frame(3000, NULL, 1, NETTXF_csum_blank, XEN_NETIF_GSO_TYPE_TCPV6, 1000);
	expect_drop("16 GSO TCPV6 on IPv4", 2, ST(tx_gso_bad));
	mk_ip4(frame, 3000, g1->mac, m->mac, 17, 12);
	m_frame(3000, NULL, 1, NETTXF_csum_blank, XEN_NETIF_GSO_TYPE_TCPV4, 1000);
	expect_drop("16 GSO on UDP", 2, ST(tx_gso_bad));
	/* Checksum offload on a non-IP frame; a spoofed source MAC. */
	mk_arp(frame, m->mac, 13);
	m_frame(60, NULL, 1, NETTXF_csum_blank, 0, 0);
	expect_drop("csum_blank on ARP", 1, ST(tx_csum));
	mk_ip4(frame, 200, g1->mac, g2->mac, 17, 14);
	m_frame(200, NULL, 1, 0, 0, 0);
	expect_drop("spoofed source MAC", 1, ST(tx_spoofed));
	T_CHECK(tf_recv(g1, &rx, 100, 0) == -ETIMEDOUT, "spoofed: G1 got nothing from M",
		"G1 received %u bytes", rx.len);

	/*
	 * 15: a tiny frame in 19, 20, 21 slots: as Linux netback, more than 18
	 * data slots are dropped (error responses, tx_too_many_slots), more
	 * than 20 (fatal_skb_slots) are fatal.
	 */
	mk_ip4(frame, 100, g1->mac, m->mac, 17, 15);
	tiny[0] = 82;
	for (int i = 1; i < 19; i++)
		tiny[i] = 1;
	m_frame(100, tiny, 19, 0, 0, 0);
	expect_drop("15 tiny frame in 19 slots", 19, ST(tx_too_many_slots));
	tiny[0] = 81;
	for (int i = 1; i < 20; i++)
		tiny[i] = 1;
	m_frame(100, tiny, 20, 0, 0, 0);
	expect_drop("15 tiny frame in 20 slots", 20, ST(tx_too_many_slots));
	tiny[0] = 80;
	for (int i = 1; i < 21; i++)
		tiny[i] = 1;
	m_frame(100, tiny, 21, 0, 0, 0);
	tf_tx_push(m);
	expect_fatal("15 tiny frame in 21 slots", "more than 20 slots");

	/* 15: a chain that never ends: waited for, never consumed, never fatal. */
	struct pv_vif_info vi;
	uint32_t five[5] = { 20, 20, 20, 20, 20 };

	m_frame(100, five, 5, 0, 0, 0);
	RING_GET_REQUEST(&m->tx, m->tx.req_prod_pvt - 1)->flags |= NETTXF_more_data;
	tf_tx_push(m);
	tf_sleep_ms(100);
	tf_info(m, &vi);
	T_CHECK(vi.connected && m->tx.sring->rsp_prod == m->tx.rsp_cons,
		"15 endless chain: waiting, not consumed, not fatal", "connected %d", vi.connected);
	good_pair("15 endless chain");
	/* ...and grown past 20 slots it is fatal. */
	for (int i = 0; i < 16; i++)
		tf_tx_put(m, tf_tx_ref(m, m->tx.req_prod_pvt), 0, NETTXF_more_data, 1, 0);
	tf_tx_push(m);
	expect_fatal("15 endless chain grown", "more than 20 slots");
}

/* ---- class 17: a guest that does not consume RX ---- */

static void case_rx_exhaustion(void)
{
	struct tf_opts one = { .rx_post = 1 };
	struct tf_send gso = { .nslots = 5, .flags = NETTXF_csum_blank,
			       .gso_type = XEN_NETIF_GSO_TYPE_TCPV4, .gso_size = 1448 };
	static uint8_t big[20000];
	struct pv_vif_info vi;
	int ok = 1;

	tf_reset(m);
	T_EQ(tf_connect(m, &one), 0, "17: M connected with one RX buffer");
	/* XSA-392: one slot free, a frame needing six: queued, never partial. */
	mk_ip4(big, sizeof(big), m->mac, g1->mac, 6, 16);
	T_EQ(tf_send(g1, big, sizeof(big), &gso), 0, "17: G1 sends a 20000-byte GSO frame to M");
	for (int i = 0; i < 300; i++) {
		mk_ip4(frame, 600, m->mac, g1->mac, 17, 1000u + (unsigned int)i);
		ok &= tf_send(g1, frame, 600, NULL) == 0;
	}
	T_CHECK(ok, "17: G1's 300 frames to M all answered OKAY", "a TX response failed");
	tf_info(m, &vi);
	T_CHECK(m->rx.sring->rsp_prod == 0, "17 XSA-392: no partial frame on M's ring",
		"rsp_prod %u", m->rx.sring->rsp_prod);
	T_EQ(vi.st.rx_queued, 256, "17: queue bounded at 256 frames");
	T_EQ(vi.st.rx_queue_full, 301 - 256, "17: overflow counted as rx_queue_full");
	good_pair("17 M not consuming");
	/* M posts buffers: the queue drains in order, GSO frame first, whole. */
	for (int i = 1; i < TF_RING; i++)
		tf_rx_post(m, (uint16_t)i, m->rxbuf_ref[i]);
	tf_rx_push(m);
	ok = tf_recv(m, &rx, 3000, 0) == 0 && rx.len == sizeof(big) &&
	     !memcmp(rx.data, big, sizeof(big)) && rx.has_gso;
	T_CHECK(ok, "17: M gets the GSO frame whole once it posts", "len %u", rx.len);
	for (int i = 0; i < 255 && ok; i++) {
		mk_ip4(frame, 600, m->mac, g1->mac, 17, 1000u + (unsigned int)i);
		ok = tf_recv(m, &rx, 3000, 0) == 0 && rx.len == 600 && !memcmp(rx.data, frame, 600);
		if (!ok)
			printf("# frame %d: len %u\n", i, rx.len);
	}
	T_CHECK(ok, "17: the 255 queued frames follow, in order, as M re-posts", "order broken");
	tf_info(m, &vi);
	T_EQ(vi.st.rx_queued, 0, "17: queue empty again");

	/*
	 * Emptied, the queue starts again at its ring's first bytes: M
	 * stops posting (takes every buffer without re-posting, until a
	 * frame queues: no buffer left posted), frames of other sizes
	 * queue behind it, and all come out whole and in order once M posts.
	 */
	ok = 0;
	for (int i = 0; i <= TF_RING && !ok; i++) {
		mk_ip4(frame, 80, m->mac, g1->mac, 17, 3000u);
		if (tf_send(g1, frame, 80, NULL) != 0)
			break;
		tf_info(m, &vi);
		if (vi.st.rx_queued)
			ok = 1;
		else if (tf_recv(m, &rx, 3000, 1) != 0)
			break;
	}
	T_CHECK(ok, "17: M takes every posted buffer, re-posting none; the next frame queues",
		"queued %llu", (unsigned long long)vi.st.rx_queued);
	for (int i = 0; i < 20 && ok; i++) {
		mk_ip4(frame, 200u + 37u * (unsigned int)i, m->mac, g1->mac, 17, 4000u + (unsigned int)i);
		ok = tf_send(g1, frame, 200u + 37u * (unsigned int)i, NULL) == 0;
	}
	tf_info(m, &vi);
	T_EQ(vi.st.rx_queued, 21, "17: 21 frames queued again");
	for (int i = 0; i < TF_RING; i++)
		tf_rx_post(m, (uint16_t)i, m->rxbuf_ref[i]);
	tf_rx_push(m);
	mk_ip4(frame, 80, m->mac, g1->mac, 17, 3000u);
	ok = tf_recv(m, &rx, 3000, 0) == 0 && rx.len == 80 && !memcmp(rx.data, frame, 80);
	for (int i = 0; i < 20 && ok; i++) {
		uint32_t len = 200u + 37u * (unsigned int)i;

		mk_ip4(frame, len, m->mac, g1->mac, 17, 4000u + (unsigned int)i);
		ok = tf_recv(m, &rx, 3000, 0) == 0 && rx.len == len && !memcmp(rx.data, frame, len);
	}
	T_CHECK(ok, "17: queued again after emptying, the frames come out whole, in order",
		"len %u", rx.len);
	tf_info(m, &vi);
	T_EQ(vi.st.rx_queued, 0, "17: queue empty once more");
}

int main(void)
{
	struct pv_vif_info vi;

	n = nbh_start();
	m = tf_new(n, "nb-mal", 0xee);
	g1 = tf_new(n, "nb-g1", 0x01);
	g2 = tf_new(n, "nb-g2", 0x02);
	T_EQ(tf_connect(m, NULL), 0, "setup: M connected");
	T_EQ(tf_connect(g1, NULL), 0, "setup: G1 connected");
	T_EQ(tf_connect(g2, NULL), 0, "setup: G2 connected");
	good_pair("setup");

	case_indices();
	case_double_fetch();
	case_ids_extras();
	case_extra_at_ring_end();
	case_grants();
	case_shapes();
	case_rx_exhaustion();

	tf_info(m, &vi);
	T_EQ(vi.st.fatal, nr_fatal, "every fatal case counted once");
	tf_info(g1, &vi);
	T_CHECK(!vi.disabled && vi.st.fatal == 0, "G1 never disabled", "G1: %s", vi.reason);
	good_pair("end");
	tf_free(m);
	tf_free(g1);
	tf_free(g2);
	for (uint64_t end = tf_now_ms() + 3000; nbh_nr_vifs(n) && tf_now_ms() < end;)
		tf_sleep_ms(1);
	T_EQ(nbh_nr_vifs(n), 0, "all vifs gone with their guests");
	nbh_stop(n);
	return t_done();
}
