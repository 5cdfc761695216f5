/* SPDX-License-Identifier: MIT */
/*
 * test_netback.c - netback with well-behaved frontends: xenbus handshake,
 * frames between two guests through the switch (single slot, multi-slot,
 * zero-length first slot, GSO + csum_blank), flags and responses,
 * counters, notification suppression, software checksum for a guest
 * without csum offload, reconnect, toolstack destroy, guest death.
 */
#include "netback_harness.h"
#include "lib/pkt.h"

static uint8_t frame[70000];
static struct tf_rx rx;

static void check_same(const char *name, const uint8_t *want, uint32_t len)
{
	T_CHECK(rx.len == len && !memcmp(rx.data, want, len), name,
		"got %u bytes, want %u%s", rx.len, len,
		rx.len == len ? " (content differs)" : "");
}

static void test_handshake(struct tf *a, struct tf *b)
{
	struct pv_vif_info vi;
	char buf[32], path[128];

	T_EQ(tf_connect(a, NULL), 0, "handshake: A connected");
	T_EQ(tf_connect(b, NULL), 0, "handshake: B connected");
	T_EQ(tf_info(a, &vi), 0, "info: A's vif exists");
	T_CHECK(vi.connected && !vi.disabled && vi.be_state == XenbusStateConnected &&
		vi.fe_state == XenbusStateConnected, "info: A connected, states 4/4",
		"connected %d disabled %d be %d fe %d", vi.connected, vi.disabled,
		vi.be_state, vi.fe_state);
	T_CHECK(!memcmp(vi.mac, a->mac, 6), "info: A's MAC from the store", "mac differs");
	T_CHECK((vi.features & (PV_VIF_F_SG | PV_VIF_F_GSO_TCPV4 | PV_VIF_F_CSUM)) ==
		(PV_VIF_F_SG | PV_VIF_F_GSO_TCPV4 | PV_VIF_F_CSUM),
		"info: features negotiated", "features 0x%x", vi.features);
	snprintf(buf, sizeof(buf), "vif%u.0", a->domid);
	T_CHECK(!strcmp(vi.name, buf), "info: port name vifD.N", "name %s", vi.name);
	snprintf(path, sizeof(path), "%s/feature-gso-tcpv4", a->be);
	T_CHECK(xsc_read(a->xs, 0, path, buf, sizeof(buf)) >= 0 && !strcmp(buf, "1"),
		"xenbus: backend advertises feature-gso-tcpv4", "read %s", path);
	T_EQ(nbh_nr_vifs(a->nbh), 2, "two vifs");
}

static void test_single(struct tf *a, struct tf *b)
{
	struct tf_send s = { .flags = NETTXF_data_validated };

	mk_arp(frame, b->mac, 1);
	T_EQ(tf_send(b, frame, 60, NULL), 0, "single: B broadcast TX response OKAY");
	T_EQ(tf_recv(a, &rx, 3000, 0), 0, "single: A receives B's broadcast");
	check_same("single: broadcast bytes identical", frame, 60);
	T_CHECK(rx.flags == 0 && rx.nslots == 1, "single: broadcast flags 0, 1 slot",
		"flags 0x%x slots %u", rx.flags, rx.nslots);

	mk_ip4(frame, 1000, b->mac, a->mac, 6, 2);
	T_EQ(tf_send(a, frame, 1000, &s), 0, "single: A->B unicast OKAY");
	T_EQ(tf_recv(b, &rx, 3000, 0), 0, "single: B receives");
	check_same("single: unicast bytes identical", frame, 1000);
	T_CHECK(rx.flags == NETRXF_data_validated, "single: data_validated carried",
		"flags 0x%x", rx.flags);
	T_CHECK(!tf_rx_avail(a), "single: unicast not flooded to A", "A got something");
}

static void test_multislot(struct tf *a, struct tf *b)
{
	uint32_t sizes[4] = { 200, 500, 0, 814 };	/* first slot's own data: 200 */
	uint32_t zsizes[3] = { 0, 700, 800 };		/* XSA-448: empty first slot */
	struct tf_send s = { .nslots = 4, .sizes = sizes, .offset = 100 };
	struct tf_send z = { .nslots = 3, .sizes = zsizes };

	mk_ip4(frame, 1514, b->mac, a->mac, 17, 3);
	T_EQ(tf_send(a, frame, 1514, &s), 0, "multislot: 4 slots (one empty) OKAY");
	T_EQ(tf_recv(b, &rx, 3000, 0), 0, "multislot: B receives");
	check_same("multislot: bytes identical", frame, 1514);
	T_CHECK(rx.nslots == 1 && rx.flags == 0, "multislot: one RX slot, no flags",
		"slots %u flags 0x%x", rx.nslots, rx.flags);

	mk_ip4(frame, 1500, b->mac, a->mac, 17, 4);
	T_EQ(tf_send(a, frame, 1500, &z), 0, "multislot: zero-length first slot OKAY");
	T_EQ(tf_recv(b, &rx, 3000, 0), 0, "multislot: B receives it");
	check_same("multislot: zero-length first slot bytes identical", frame, 1500);
}

static void test_gso(struct tf *a, struct tf *b)
{
	struct tf_send s = { .nslots = 6, .flags = NETTXF_csum_blank,
			     .gso_type = XEN_NETIF_GSO_TYPE_TCPV4, .gso_size = 1448 };
	uint32_t len = 20000;

	mk_ip4(frame, len, b->mac, a->mac, 6, 5);
	T_EQ(tf_send(a, frame, len, &s), 0, "gso: 6 slots + GSO extra, responses OKAY/NULL");
	T_EQ(tf_recv(b, &rx, 3000, 0), 0, "gso: B receives");
	check_same("gso: 20000 bytes identical", frame, len);
	T_CHECK(rx.flags == (NETRXF_csum_blank | NETRXF_data_validated | NETRXF_extra_info |
			     NETRXF_more_data), "gso: first RX flags csum|valid|extra|more",
		"flags 0x%x", rx.flags);
	T_CHECK(rx.has_gso && rx.gso.type == XEN_NETIF_EXTRA_TYPE_GSO &&
		rx.gso.u.gso.size == 1448 && rx.gso.u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4,
		"gso: extra-info GSO slot right after the first response",
		"has %d type %u size %u gtype %u", rx.has_gso, rx.gso.type,
		rx.gso.u.gso.size, rx.gso.u.gso.type);
	T_EQ(rx.nslots, 5, "gso: 5 data slots for 20000 bytes");

	/* 64 KiB - 1: the largest frame netif can express, 17 slots. */
	len = 65535;
	s.nslots = 17;
	mk_ip4(frame, len, b->mac, a->mac, 6, 6);
	T_EQ(tf_send(a, frame, len, &s), 0, "gso: 65535-byte frame in 17 slots OKAY");
	T_EQ(tf_recv(b, &rx, 3000, 0), 0, "gso: B receives 64K frame");
	check_same("gso: 65535 bytes identical", frame, len);
}

static void test_counters(struct tf *a, struct tf *b, uint64_t a_tx, uint64_t b_rx)
{
	struct pv_vif_info va, vb;

	tf_info(a, &va);
	tf_info(b, &vb);
	T_EQ(va.st.tx_packets, a_tx, "counters: A tx_packets");
	T_EQ(vb.st.rx_packets, b_rx, "counters: B rx_packets");
	T_EQ(va.st.tx_runt + va.st.tx_too_long + va.st.tx_frag_overrun + va.st.tx_bad_grant +
	     va.st.tx_csum + va.st.tx_gso_bad + va.st.tx_spoofed, 0, "counters: A no drops");
	T_EQ(vb.st.rx_queue_full + vb.st.rx_too_big + vb.st.rx_bad_grant, 0,
	     "counters: B no rx drops");
	T_EQ(va.st.tx_bytes, 1000 + 1514 + 1500 + 20000 + 65535, "counters: A tx_bytes");
	T_EQ(vb.st.rx_bytes, va.st.tx_bytes, "counters: B rx_bytes = A tx_bytes");
	T_EQ(vb.st.tx_packets, 1, "counters: B tx_packets (its broadcast)");
	T_EQ(va.st.rx_packets, 1, "counters: A rx_packets (B's broadcast)");
}

/*
 * Notification suppression: the backend raises the channel only when the
 * frontend asked (rsp_event), and asks for requests itself (req_event).
 */
static void test_notify(struct tf *a, struct tf *b)
{
	int fd = pv_guest_evtchn_fd(a->g, a->evtchn), notify, work;
	struct pv_vif_info v0, v1;

	while (tf_readable(fd, 0))
		pv_guest_evtchn_consume(a->g, a->evtchn);
	tf_info(a, &v0);
	/* The frontend does not want TX completions now. */
	a->tx.sring->rsp_event = a->tx.rsp_cons + 1000;
	mk_ip4(frame, 100, b->mac, a->mac, 17, 7);
	tf_tx_frame(a, frame, 100, NULL);
	notify = tf_tx_push(a);
	T_CHECK(notify, "notify: idle backend asked for requests (req_event)", "no notify");
	T_EQ(tf_tx_wait(a, 1, NULL, NULL, 3000), 0, "notify: response arrives");
	T_EQ(tf_recv(b, &rx, 3000, 0), 0, "notify: B receives");
	tf_info(a, &v1);
	T_CHECK(!tf_readable(fd, 50), "notify: no event when rsp_event not reached",
		"event raised");
	T_EQ(v1.st.evt_out - v0.st.evt_out, 0, "notify: evt_out unchanged");
	/* Now ask, as RING_FINAL_CHECK_FOR_RESPONSES does. */
	RING_FINAL_CHECK_FOR_RESPONSES(&a->tx, work);
	T_EQ(work, 0, "notify: nothing pending before the next frame");
	tf_tx_frame(a, frame, 100, NULL);
	tf_tx_push(a);
	T_EQ(tf_tx_wait(a, 1, NULL, NULL, 3000), 0, "notify: second response");
	T_CHECK(tf_readable(fd, 2000), "notify: event when rsp_event asked", "no event");
	pv_guest_evtchn_consume(a->g, a->evtchn);
	tf_recv(b, &rx, 3000, 0);
}

/* A guest without csum offload gets partial checksums completed. */
static void test_csum_fixup(struct tf *a, struct tf *c)
{
	struct tf_send s = { .flags = NETTXF_csum_blank };
	struct tf_opts o = { .no_csum = 1 };
	uint8_t want[1000];
	uint16_t cs, co;

	T_EQ(tf_connect(c, &o), 0, "csum: C (no csum offload) connected");
	mk_ip4(frame, 1000, c->mac, a->mac, 6, 8);
	frame[50] = 0x12;	/* some pseudo-header sum in the TCP checksum field */
	frame[51] = 0x34;
	memcpy(want, frame, sizeof(want));
	pv_pkt_csum_setup(want, 1000, &cs, &co);
	pv_pkt_csum_complete(want, 1000, cs, co);
	T_EQ(tf_send(a, frame, 1000, &s), 0, "csum: csum_blank frame OKAY");
	T_EQ(tf_recv(c, &rx, 3000, 0), 0, "csum: C receives");
	check_same("csum: checksum completed by netback", want, 1000);
	T_CHECK(rx.flags == NETRXF_data_validated, "csum: C gets data_validated, not csum_blank",
		"flags 0x%x", rx.flags);
}

static void test_reconnect(struct tf *a, struct tf *b)
{
	T_EQ(tf_reset(a), 0, "reconnect: A closed, rings unmapped, InitWait again");
	T_EQ(tf_connect(a, NULL), 0, "reconnect: A connected with new rings");
	mk_ip4(frame, 300, b->mac, a->mac, 17, 9);
	T_EQ(tf_send(a, frame, 300, NULL), 0, "reconnect: A sends");
	T_EQ(tf_recv(b, &rx, 3000, 0), 0, "reconnect: B receives");
	check_same("reconnect: bytes identical", frame, 300);
}

static void test_teardown(struct nbh *n, struct tf *a, struct tf *b, struct tf *c)
{
	struct tf_ts_req r = { .n = n, .destroy = 1 };
	struct pv_vif_info vi;
	uint64_t end;

	/* Toolstack destroy of B's vif: netback frees it and unmaps its rings. */
	r.p.domid = b->domid;
	host_sync(n->h, tf_ts_fn, &r);
	T_EQ(r.rc, 0, "teardown: toolstack destroys B's vif");
	end = tf_now_ms() + 3000;
	while (tf_info(b, &vi) == 0 && tf_now_ms() < end)
		tf_sleep_ms(1);
	T_EQ(tf_info(b, &vi), -ENOENT, "teardown: B's vif gone");
	T_EQ(pv_guest_end_grant(b->g, (grant_ref_t)b->tx_ref), 0,
	     "teardown: B's TX ring unmapped (grant revocable)");
	/* A's frames to B's MAC now flood to nobody but C (not connected to B). */
	mk_ip4(frame, 200, b->mac, a->mac, 17, 10);
	T_EQ(tf_send(a, frame, 200, NULL), 0, "teardown: A still sends");
	tf_recv(c, &rx, 500, 0);	/* flooded unknown unicast, if any */

	/* Guest death: A's hv connection goes; its vif and backend dir go too. */
	unsigned int adom = a->domid;
	char path[96], buf[16];

	tf_free(a);
	end = tf_now_ms() + 3000;
	while (nbh_nr_vifs(n) > 1 && tf_now_ms() < end)
		tf_sleep_ms(1);
	T_EQ(nbh_nr_vifs(n), 1, "teardown: dead guest's vif removed (only C left)");
	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u", adom);
	T_CHECK(nbh_xs_read(n, path, buf, sizeof(buf)) == -ENOENT,
		"teardown: dead guest's backend dir removed", "still there");
	tf_free(b);
}

/*
 * Regression: a pass that used up its budget (64) exactly as it caught up
 * with the guest did not re-arm req_event; the next push then raised no
 * event and the frame sat in the ring until something else woke netback.
 */
static void test_budget_rearm(struct tf *a, struct tf *b)
{
	int16_t st[64];
	int ok;

	mk_ip4(frame, 200, b->mac, a->mac, 17, 3);
	for (int i = 0; i < 64; i++)
		tf_tx_frame(a, frame, 200, NULL);
	tf_tx_push(a);
	ok = tf_tx_wait(a, 64, st, NULL, 3000) == 0;
	T_CHECK(ok, "budget: 64 frames in one push all answered", "timed out");
	T_EQ(tf_send(a, frame, 200, NULL), 0,
	     "budget: the next frame after a budget-sized burst is served (req_event re-armed)");
	while (tf_rx_avail(b) && tf_recv(b, &rx, 100, 0) == 0)
		;
}

/*
 * The backend's "rate" key (Xen's credit scheduler): 1 MB/s is 50000 bytes
 * per 50 ms window.  At most 100000 bytes go at once (the first window's
 * credit and a refill), so 300 frames of 1000 bytes need at least four
 * more windows.  Only a lower bound on time is asserted.
 */
static void test_rate(struct nbh *n, struct tf *b)
{
	int16_t st[50];
	struct pv_vif_info vi;
	uint64_t t0, elapsed;
	int ok = 1;
	struct tf *d;

	tf_rate_bps = 8000000;
	d = tf_new(n, "nb-rate", 0xd);
	tf_rate_bps = 0;
	T_EQ(tf_connect(d, NULL), 0, "rate: a vif with a rate connects");
	T_EQ(tf_info(d, &vi), 0, "rate: info");
	T_CHECK(vi.rate_bytes == 50000 && vi.rate_usec == 50000, "rate: 8 Mbit/s is 50000 bytes per 50 ms",
		"%llu bytes per %llu us", (unsigned long long)vi.rate_bytes,
		(unsigned long long)vi.rate_usec);
	mk_ip4(frame, 1000, b->mac, d->mac, 17, 9);
	t0 = tf_now_ms();
	for (int batch = 0; batch < 6; batch++) {
		for (int i = 0; i < 50; i++)
			tf_tx_frame(d, frame, 1000, NULL);
		tf_tx_push(d);
		ok &= tf_tx_wait(d, 50, st, NULL, 5000) == 0 && st[49] == NETIF_RSP_OKAY;
	}
	elapsed = tf_now_ms() - t0;
	T_CHECK(ok, "rate: every frame is sent, in time", "a response was missing or not OKAY");
	T_CHECK(elapsed >= 150, "rate: 300 KB at 1 MB/s takes at least three more 50 ms windows",
		"took %llu ms", (unsigned long long)elapsed);
	T_EQ(tf_info(d, &vi), 0, "rate: info after");
	T_CHECK(vi.st.tx_rate_limited > 0, "rate: throttling counted", "tx_rate_limited 0");
	tf_free(d);
}

struct storm_key {
	const char *path, *val;
};

static void storm_key_fn(struct test_host *h, void *arg)
{
	struct storm_key *k = arg;

	xs_server_write(h->xs, k->path, k->val, strlen(k->val));
}

/*
 * Storm pause: over its storm-broadcast bucket (10/s, burst 4), each
 * broadcast the switch drops holds the vif's TX ring for a millisecond.
 * 40 broadcasts pushed at once: 4 pass, the other 36 are dropped (OKAY
 * responses, as a bridge's drop), each one pausing the ring, so the 40
 * take at least 36 ms, all answered; a unicast behind them goes.
 */
static void test_storm_pause(struct nbh *n, struct tf *b)
{
	char path[128];
	struct storm_key k = { path, "10,4" };
	struct pv_vif_info vi;
	int16_t st[40];
	uint64_t t0, elapsed, rx0;
	struct tf *d = tf_new(n, "nb-storm", 0xe);
	
	int ok = 1, got = 0;

	T_EQ(tf_connect(d, NULL), 0, "storm: a vif connects");
	snprintf(path, sizeof(path), "%s/storm-broadcast", d->be);
	host_sync(n->h, storm_key_fn, &k);
	while (tf_recv(b, &rx, 100, 0) == 0)
		;
	T_EQ(tf_info(b, &vi), 0, "storm: B's info");
	rx0 = vi.st.rx_packets;
	memset(frame, 0, 60);
	memset(frame, 0xff, 6);
	memcpy(frame + 6, d->mac, 6);
	frame[12] = 0x88;	/* local experimental: no source address to check */
	frame[13] = 0xb5;
	t0 = tf_now_ms();
	for (int i = 0; i < 40; i++)
		tf_tx_frame(d, frame, 60, NULL);
	tf_tx_push(d);
	ok = tf_tx_wait(d, 40, st, NULL, 5000) == 0;
	elapsed = tf_now_ms() - t0;
	for (int i = 0; ok && i < 40; i++)
		ok = st[i] == NETIF_RSP_OKAY;
	T_CHECK(ok, "storm: 40 broadcasts over the bucket all answered OKAY", "a response missing or not OKAY");
	T_EQ(tf_info(d, &vi), 0, "storm: info");
	T_CHECK(vi.st.tx_storm_bcast == 36, "storm: 36 of 40 dropped over 10/s, burst 4",
		"tx_storm_bcast %llu", (unsigned long long)vi.st.tx_storm_bcast);
	T_CHECK(vi.st.tx_storm_paused == 36, "storm: the ring held after each drop",
		"tx_storm_paused %llu", (unsigned long long)vi.st.tx_storm_paused);
	T_CHECK(elapsed >= 36, "storm: 36 pauses of 1 ms take at least 36 ms",
		"took %llu ms", (unsigned long long)elapsed);
	while (tf_recv(b, &rx, 200, 0) == 0)
		got++;
	T_EQ(tf_info(b, &vi), 0, "storm: B's info after");
	T_CHECK(got == 4 && vi.st.rx_packets - rx0 == 4, "storm: B got the 4 the bucket let through",
		"B took %d, rx_packets +%llu", got, (unsigned long long)(vi.st.rx_packets - rx0));
	mk_ip4(frame, 300, b->mac, d->mac, 17, 9);
	T_EQ(tf_send(d, frame, 300, NULL), 0, "storm: a unicast after the flood goes (OKAY)");
	T_EQ(tf_recv(b, &rx, 2000, 0), 0, "storm: B receives the unicast");
	tf_free(d);
}

int main(void)
{
	struct nbh *n = nbh_start();
	struct tf *a = tf_new(n, "nb-a", 0xa), *b = tf_new(n, "nb-b", 0xb), *c;

	test_handshake(a, b);
	test_single(a, b);
	test_multislot(a, b);
	test_gso(a, b);
	test_counters(a, b, 5, 5);
	test_notify(a, b);
	c = tf_new(n, "nb-c", 0xc);
	test_csum_fixup(a, c);
	test_reconnect(a, b);
	test_budget_rearm(a, b);
	test_rate(n, b);
	test_storm_pause(n, b);
	test_teardown(n, a, b, c);
	tf_free(c);
	nbh_stop(n);
	return t_done();
}
