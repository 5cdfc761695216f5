/* SPDX-License-Identifier: MIT */
/*
 * test_nic_vi.c - the NIC's data path in-process, through the VI ABI: the
 * test plays the guests (it maps each VI's memory from the VI's memfd and
 * writes descriptors) and the wire (nic_rx_frame in, an xmit hook out).
 *
 *   guest A --VI A--+                     +-- xmit hook: frames "on the wire"
 *   guest B --VI B--+-- device model -----+
 *   host    --VI H--+                     +-- nic_rx_frame: frames "from the wire"
 *
 * Covers TX and its source check, descriptor validation (another VI's
 * buffer, out of table, offset + length, reserved bits) with "nothing
 * moves", RX steering, event queue wrap and overflow, faults on impossible
 * indices, reset, wake-ups, round-robin fairness and VI free.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nic/nic.h"
#include "../lib/test.h"
#include "test_nic_util.h"

struct cap {
	unsigned int n;
	uint32_t len;
	uint8_t last[2048];
};

static void cap_xmit(void *arg, struct nic_txframe *f, unsigned int n)
{
	struct cap *c = arg;

	for (unsigned int i = 0; i < n; i++) {
		c->n++;
		c->len = f[i].len;
		memcpy(c->last, f[i].data, f[i].len);
		f[i].rc = 0;
	}
}

struct guest {
	uint32_t vi;
	struct t_vi v;
	void *vimem;
	int memfd;
	uint8_t *mem;		/* 16 pages of "guest memory" */
	uint32_t buf[16];	/* buffer ids of chunks 0..15 */
};

static struct nic *nic;
static struct cap cap;
static int owner_a, owner_b, owner_h;
static struct guest ga, gb, gh;

static uint8_t *gbuf(struct guest *g, unsigned int i)
{
	return g->mem + (size_t)i * PV_NIC_BUF_SIZE;
}

static int guest_setup(struct guest *g, void *owner, const uint8_t *mac)
{
	uint32_t chunks[16];
	struct nic_region *reg;
	int rc;

	if (nic_vi_alloc(nic, owner, &g->vi))
		return -1;
	g->vimem = mmap(NULL, PV_NIC_VI_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			nic->vis[g->vi].mem_fd, 0);
	g->memfd = memfd_create("guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (g->vimem == MAP_FAILED || g->memfd < 0 || ftruncate(g->memfd, 16 * 4096) < 0)
		return -1;
	g->mem = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, g->memfd, 0);
	t_vi_init(&g->v, g->vimem);
	for (unsigned int i = 0; i < 16; i++)
		chunks[i] = i;
	reg = nic_region_get(&nic->bt, g->memfd, &rc);
	if (!reg || g->mem == MAP_FAILED || nic_bufta_map(&nic->bt, g->vi, reg, chunks, 16, g->buf))
		return -1;
	nic_region_put(&nic->bt, reg);
	if (mac) {
		struct pv_nic_set_mac m = { .vi_id = g->vi };

		memcpy(m.mac, mac, 6);
		return nic_vi_set_mac(nic, &nic->vis[g->vi], &m);
	}
	return 0;
}

static void service(struct guest *g)
{
	nic_vi_kick(nic, &nic->vis[g->vi]);
	while (nic_service(nic))
		;
}

/* TX one frame from buffer @i of @g; returns its event. */
static struct pv_nic_event tx_one(struct guest *g, unsigned int i, const uint8_t *fr, uint32_t len)
{
	struct pv_nic_event ev = { 0 };

	memcpy(gbuf(g, i), fr, len);
	t_vi_tx(&g->v, g->buf[i], 0, (uint16_t)len, 0);
	service(g);
	if (!t_vi_event(&g->v, &ev))
		ev.type = 0xff;
	return ev;
}

static void test_tx(void)
{
	uint8_t fr[2048];
	uint32_t len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 200, 0x5a);
	struct pv_nic_event ev;
	unsigned int n0;

	ev = tx_one(&ga, 0, fr, len);
	T_CHECK(ev.type == PV_NIC_EV_TX_DONE && ev.len == len && ev.index == 0 && ev.queue == 0 &&
		ev.buf_id == ga.buf[0], "vi tx: own frame sent, TX_DONE event", "type %u len %u index %u",
		ev.type, ev.len, ev.index);
	T_CHECK(cap.n == 1 && cap.len == len && !memcmp(cap.last, fr, len), "vi tx: the wire got the frame",
		"n %u len %u", cap.n, cap.len);
	T_EQ(__atomic_load_n(&ga.v.sh->tx_cons.v, __ATOMIC_ACQUIRE), 1, "vi tx: tx_cons published");

	n0 = cap.n;
	len = mk_frame(fr, MAC_X, MAC_B, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 200, 0);
	ev = tx_one(&ga, 1, fr, len);
	T_CHECK(ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_TX_SPOOF, "vi tx: spoofed source -> ERROR event",
		"type %u code %u", ev.type, ev.code);
	len = mk_frame(fr, MAC_X, MAC_B, 12, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 200, 0);
	ev = tx_one(&ga, 1, fr, len);
	T_CHECK(ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_TX_SPOOF, "vi tx: VLAN-tagged spoof -> ERROR event",
		"type %u code %u", ev.type, ev.code);
	ev = tx_one(&ga, 1, fr, 13);
	T_CHECK(ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_TX_RUNT, "vi tx: runt -> ERROR event",
		"type %u code %u", ev.type, ev.code);
	T_CHECK(cap.n == n0 && nic->vis[ga.vi].st.tx_spoofed == 2 && nic->vis[ga.vi].st.tx_runt == 1,
		"vi tx: refused frames dropped and counted", "sent %u spoofed %llu runt %llu", cap.n - n0,
		(unsigned long long)nic->vis[ga.vi].st.tx_spoofed, (unsigned long long)nic->vis[ga.vi].st.tx_runt);

	/* host VI: any source */
	len = mk_frame(fr, MAC_X, MAC_B, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 20, 0);
	ev = tx_one(&gh, 0, fr, len);
	T_CHECK(ev.type == PV_NIC_EV_TX_DONE && cap.n == n0 + 1, "vi tx: host VI sends any source",
		"type %u", ev.type);
}

static void add_filters(void)
{
	struct pv_nic_filter f = { .vi_id = ga.vi, .type = PV_NIC_FILTER_MAC };
	uint32_t fid;

	memcpy(f.mac, MAC_A, 6);
	T_ASSERT(nic_filter_add(&nic->fl, &f, &fid) == 0, "MAC filter A");
	f.vi_id = gb.vi;
	memcpy(f.mac, MAC_B, 6);
	T_ASSERT(nic_filter_add(&nic->fl, &f, &fid) == 0, "MAC filter B");
}

/* A hostile guest A names B's buffers and impossible ones: nothing moves. */
static void test_hostile(void)
{
	uint8_t fr[2048], saved[PV_NIC_BUF_SIZE];
	uint32_t len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 100, 0x11);
	struct pv_nic_event ev;
	unsigned int n0 = cap.n;
	static const struct { uint32_t id_is_b; uint32_t buf; uint16_t off, len; uint32_t flags;
			      uint8_t code; const char *name; } cases[] = {
		{ 1, 3, 0, 100, 0, PV_NIC_ERR_BUF_OWNER, "vi hostile: TX naming VI B's buffer -> ERROR owner" },
		{ 0, 64, 0, 100, 0, PV_NIC_ERR_BUF_RANGE, "vi hostile: TX id == table size -> ERROR range" },
		{ 0, 0xffffffffu, 0, 100, 0, PV_NIC_ERR_BUF_RANGE, "vi hostile: TX id 2^32-1 -> ERROR range" },
		{ 0, 2, 2000, 100, 0, PV_NIC_ERR_BUF_BOUNDS, "vi hostile: TX offset+len past buffer -> ERROR bounds" },
		{ 0, 2, 0xffff, 0xffff, 0, PV_NIC_ERR_BUF_BOUNDS, "vi hostile: TX 16-bit overflow -> ERROR bounds" },
		{ 0, 2, 0, 100, 4, PV_NIC_ERR_RESERVED, "vi hostile: TX flags set -> ERROR reserved" },
	};
	uint64_t derr0 = nic->vis[ga.vi].st.desc_errors;

	memcpy(gbuf(&ga, 2), fr, len);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t id = cases[i].id_is_b ? gb.buf[cases[i].buf] :
			      cases[i].buf < 16 ? ga.buf[cases[i].buf] : cases[i].buf;

		t_vi_tx(&ga.v, id, cases[i].off, cases[i].len, cases[i].flags);
		service(&ga);
		ev.type = 0;
		t_vi_event(&ga.v, &ev);
		T_CHECK(ev.type == PV_NIC_EV_ERROR && ev.code == cases[i].code && ev.buf_id == id &&
			ev.index == ga.v.tx_prod - 1, cases[i].name, "type %u code %u buf %u index %u",
			ev.type, ev.code, ev.buf_id, ev.index);
	}
	T_CHECK(cap.n == n0, "vi hostile: nothing reached the wire", "%u frames sent", cap.n - n0);
	T_EQ(nic->vis[ga.vi].st.desc_errors - derr0, 6, "vi hostile: refused descriptors counted");

	/* RX into B's buffer: B's memory must not change */
	memcpy(saved, gbuf(&gb, 5), sizeof(saved));
	t_vi_rx(&ga.v, gb.buf[5], 0, 2048);
	len = mk_frame(fr, MAC_A, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.1"), 17, 53, 300, 0x77);
	nic_rx_frame(nic, fr, len, 0);
	ev.type = 0;
	t_vi_event(&ga.v, &ev);
	T_CHECK(ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_BUF_OWNER && ev.queue == 1,
		"vi hostile: RX descriptor naming B's buffer -> ERROR owner", "type %u code %u q %u",
		ev.type, ev.code, ev.queue);
	T_CHECK(!memcmp(saved, gbuf(&gb, 5), sizeof(saved)), "vi hostile: B's buffer untouched", "B's memory changed");
	T_EQ(nic->vis[gb.vi].st.rx_frames + nic->vis[gb.vi].st.desc_errors, 0, "vi hostile: B saw nothing");
}

static void test_rx(void)
{
	uint8_t fr[2048];
	struct pv_nic_event ev;
	uint32_t len;
	uint64_t nodesc;

	t_vi_rx(&ga.v, ga.buf[4], 10, 1600);
	len = mk_frame(fr, MAC_A, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.1"), 17, 53, 1000, 0x42);
	nic_rx_frame(nic, fr, len, PV_NIC_RX_F_CSUM_OK);
	ev.type = 0;
	t_vi_event(&ga.v, &ev);
	T_CHECK(ev.type == PV_NIC_EV_RX && ev.len == len && ev.buf_id == ga.buf[4] &&
		ev.flags == (PV_NIC_RX_F_CSUM_OK | PV_NIC_RX_F_FILTER), "vi rx: frame to A's MAC -> RX event in A",
		"type %u len %u flags %#x", ev.type, ev.len, ev.flags);
	T_CHECK(!memcmp(gbuf(&ga, 4) + 10, fr, len), "vi rx: frame copied at the descriptor's offset", "data differs");

	nodesc = nic->vis[ga.vi].st.rx_no_desc;
	nic_rx_frame(nic, fr, len, 0);
	T_EQ(nic->vis[ga.vi].st.rx_no_desc - nodesc, 1, "vi rx: no descriptor posted -> dropped, counted");
	T_EQ(t_vi_event(&ga.v, &ev), 0, "vi rx: no event for a frame without descriptor");

	t_vi_rx(&ga.v, ga.buf[4], 0, 100);
	nic_rx_frame(nic, fr, len, 0);
	ev.type = 0;
	t_vi_event(&ga.v, &ev);
	T_CHECK(ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_RX_TOO_BIG && nic->vis[ga.vi].st.rx_too_big == 1,
		"vi rx: frame longer than the room -> ERROR, counted", "type %u code %u", ev.type, ev.code);

	/* unmatched unicast and broadcast -> host VI; not to A or B */
	t_vi_rx(&ga.v, ga.buf[4], 0, 2048);
	t_vi_rx(&gh.v, gh.buf[1], 0, 2048);
	t_vi_rx(&gh.v, gh.buf[2], 0, 2048);
	len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.9"), ip4("10.0.0.1"), 17, 53, 64, 0);
	nic_rx_frame(nic, fr, len, 0);
	len = mk_frame(fr, MAC_BCAST, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.1"), 17, 53, 64, 0);
	nic_rx_frame(nic, fr, len, 0);
	T_CHECK(t_vi_event(&gh.v, &ev) && ev.type == PV_NIC_EV_RX && !(ev.flags & PV_NIC_RX_F_FILTER) &&
		t_vi_event(&gh.v, &ev) && ev.type == PV_NIC_EV_RX, "vi rx: unmatched and broadcast -> host VI",
		"type %u", ev.type);
	T_CHECK(!t_vi_event(&ga.v, &ev) && !t_vi_event(&gb.v, &ev), "vi rx: A and B got neither",
		"type %u", ev.type);
	T_CHECK(!memcmp(gbuf(&gh, 2), fr, len), "vi rx: broadcast data in the host VI's buffer", "data differs");
}

/* Event queue: wrap many times; then fill it and see TX stall, RX drop, no overflow. */
static void test_evq(void)
{
	uint8_t fr[2048];
	uint32_t len = mk_frame(fr, MAC_X, MAC_B, 0, ip4("10.0.0.2"), ip4("10.0.0.9"), 17, 53, 60, 0);
	struct pv_nic_event ev;
	uint32_t expect_index, start_prod, stalls0;
	int ok = 1, n = 0;

	memcpy(gbuf(&gb, 0), fr, len);
	expect_index = gb.v.tx_prod;
	for (unsigned int round = 0; round < 3 * PV_NIC_EVQ_SIZE / 256; round++) {
		for (int i = 0; i < 256; i++)
			t_vi_tx(&gb.v, gb.buf[0], 0, (uint16_t)len, 0);
		service(&gb);
		while (t_vi_event(&gb.v, &ev)) {
			ok &= ev.type == PV_NIC_EV_TX_DONE && ev.index == expect_index++;
			n++;
		}
	}
	T_CHECK(ok && n == 3 * PV_NIC_EVQ_SIZE, "evq: 3 wraps of the event queue, events in order",
		"ok %d n %d", ok, n);

	start_prod = gb.v.sh->evq_prod.v;
	stalls0 = (uint32_t)nic->vis[gb.vi].st.evq_stalls;
	for (int i = 0; i < 512; i++)
		t_vi_tx(&gb.v, gb.buf[0], 0, (uint16_t)len, 0);
	service(&gb);
	for (int i = 0; i < 512; i++)
		t_vi_tx(&gb.v, gb.buf[0], 0, (uint16_t)len, 0);
	service(&gb);
	T_EQ(gb.v.sh->evq_prod.v - start_prod, PV_NIC_EVQ_SIZE, "evq: filled exactly to its size");
	t_vi_tx(&gb.v, gb.buf[0], 0, (uint16_t)len, 0);
	service(&gb);
	T_CHECK(gb.v.sh->evq_prod.v - gb.v.evq_cons == PV_NIC_EVQ_SIZE &&
		gb.v.sh->tx_cons.v == gb.v.tx_prod - 1 && nic->vis[gb.vi].st.evq_stalls > stalls0,
		"evq: full queue stalls TX, no overwrite", "outstanding %u tx left %u stalls %llu",
		gb.v.sh->evq_prod.v - gb.v.evq_cons, gb.v.tx_prod - gb.v.sh->tx_cons.v,
		(unsigned long long)nic->vis[gb.vi].st.evq_stalls);
	t_vi_rx(&gb.v, gb.buf[6], 0, 2048);
	len = mk_frame(fr, MAC_B, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.2"), 17, 53, 60, 0);
	nic_rx_frame(nic, fr, len, 0);
	T_EQ(nic->vis[gb.vi].st.rx_no_evq, 1, "evq: RX into a full event queue dropped, counted");
	T_EQ(nic->vis[gb.vi].state, NIC_VI_ACTIVE, "evq: a full queue is not a fault");
	/* the first slot is still the oldest event: not overwritten */
	T_CHECK(gb.v.evq[gb.v.evq_cons & (PV_NIC_EVQ_SIZE - 1)].index == gb.v.tx_prod - 1025,
		"evq: oldest unread event intact", "index %u", gb.v.evq[gb.v.evq_cons & (PV_NIC_EVQ_SIZE - 1)].index);
	while (t_vi_event(&gb.v, &ev))
		;
	service(&gb);	/* the doorbell after reading: the stalled descriptor goes */
	T_CHECK(t_vi_event(&gb.v, &ev) && ev.type == PV_NIC_EV_TX_DONE && ev.index == gb.v.tx_prod - 1,
		"evq: TX resumes after the guest reads and rings", "type %u index %u", ev.type, ev.index);
	/* the posted RX descriptor is still there for the next frame */
	nic_rx_frame(nic, fr, len, 0);
	T_CHECK(t_vi_event(&gb.v, &ev) && ev.type == PV_NIC_EV_RX, "evq: RX resumes", "type %u", ev.type);
}

/*
 * Double fetch: while the NIC works, another thread of guest A keeps
 * rewriting the source MAC in the very buffer it posted, between its own
 * MAC and B's.  What goes on the wire is the copy the NIC checked: never a
 * frame with B's MAC.
 */
static volatile int flip_stop, flip_running;

static void *flipper(void *arg)
{
	volatile uint8_t *src = arg;	/* every store happens: the NIC may look at any time */

	flip_running = 1;
	while (!flip_stop) {
		for (int k = 0; k < 6; k++)
			src[k] = MAC_B[k];
		for (volatile int i = 0; i < 200; i++)
			;
		for (int k = 0; k < 6; k++)
			src[k] = MAC_A[k];
		for (volatile int i = 0; i < 200; i++)
			;
	}
	return NULL;
}

static void spoof_xmit(void *arg, struct nic_txframe *f, unsigned int n)
{
	unsigned int *bad = arg;

	for (unsigned int i = 0; i < n; i++) {
		if (memcmp(f[i].data + 6, MAC_A, 6))
			(*bad)++;
		f[i].rc = 0;
	}
}

static void test_double_fetch(void)
{
	uint8_t fr[2048];
	uint32_t len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 60, 0);
	uint64_t sent0 = nic->vis[ga.vi].st.tx_frames, spoof0 = nic->vis[ga.vi].st.tx_spoofed;
	unsigned int bad = 0;
	struct pv_nic_event ev;
	pthread_t th;

	memcpy(gbuf(&ga, 5), fr, len);
	nic_set_xmit(nic, spoof_xmit, &bad, 1500);
	flip_stop = flip_running = 0;
	if (pthread_create(&th, NULL, flipper, gbuf(&ga, 5) + 6) != 0) {
		T_SKIP("double fetch", "no thread");
		nic_set_xmit(nic, cap_xmit, &cap, 1500);
		return;
	}
	while (!flip_running)
		usleep(100);
	/* until the race was seen both ways a good number of times (bounded) */
	for (int round = 0; round < 5000 && (nic->vis[ga.vi].st.tx_spoofed < spoof0 + 50 ||
					    nic->vis[ga.vi].st.tx_frames < sent0 + 50); round++) {
		for (int i = 0; i < 256; i++)
			t_vi_tx(&ga.v, ga.buf[5], 0, (uint16_t)len, 0);
		service(&ga);
		while (t_vi_event(&ga.v, &ev))
			;
	}
	flip_stop = 1;
	pthread_join(th, NULL);
	nic_set_xmit(nic, cap_xmit, &cap, 1500);
	T_CHECK(bad == 0, "double fetch: a MAC rewritten under the NIC never reaches the wire as B",
		"%u frames with B's MAC sent", bad);
	if (nic->vis[ga.vi].st.tx_spoofed >= spoof0 + 50 && nic->vis[ga.vi].st.tx_frames >= sent0 + 50)
		T_CHECK(1, "double fetch: race exercised both ways (sent and refused)", "-");
	else
		T_SKIP("double fetch: race exercised", "the flipping thread was not seen both ways");
	printf("# double fetch: sent %llu, refused as spoofed %llu\n",
	       (unsigned long long)(nic->vis[ga.vi].st.tx_frames - sent0),
	       (unsigned long long)(nic->vis[ga.vi].st.tx_spoofed - spoof0));
}

/* Wake-ups: armed -> one eventfd signal; not armed -> none. */
static void test_wake(void)
{
	struct pollfd pfd = { .fd = nic->vis[gb.vi].wake_fd, .events = POLLIN };
	uint8_t fr[2048];
	uint32_t len = mk_frame(fr, MAC_B, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.2"), 17, 53, 60, 0);
	struct pv_nic_event ev;
	uint64_t v;

	t_vi_rx(&gb.v, gb.buf[6], 0, 2048);
	t_vi_rx(&gb.v, gb.buf[7], 0, 2048);
	nic_rx_frame(nic, fr, len, 0);
	T_EQ(poll(&pfd, 1, 0), 0, "wake: not armed -> no wake-up");
	while (t_vi_event(&gb.v, &ev))
		;
	T_EQ(t_vi_arm(&gb.v), 0, "wake: armed with nothing pending");
	nic_rx_frame(nic, fr, len, 0);
	T_CHECK(poll(&pfd, 1, 0) == 1 && read(pfd.fd, &v, 8) == 8 && v == 1, "wake: armed -> eventfd signalled once",
		"no signal");
	T_EQ(gb.v.sh->evq_cons.v2, 0, "wake: NIC disarmed it");
	T_EQ(nic->vis[gb.vi].st.wakeups, 1, "wake: counted");
	while (t_vi_event(&gb.v, &ev))
		;
}

/* A VI flooding its TX ring does not hold another VI's frame past one round. */
static void test_fair(void)
{
	uint8_t fr[2048];
	uint32_t lena = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 60, 0);
	struct pv_nic_event ev;
	int b_done = 0, a_done = 0;

	memcpy(gbuf(&ga, 0), fr, lena);
	mk_frame(fr, MAC_X, MAC_B, 0, ip4("10.0.0.2"), ip4("10.0.0.9"), 17, 53, 60, 0);
	memcpy(gbuf(&gb, 0), fr, lena);
	for (int i = 0; i < 500; i++)
		t_vi_tx(&ga.v, ga.buf[0], 0, (uint16_t)lena, 0);
	t_vi_tx(&gb.v, gb.buf[0], 0, (uint16_t)lena, 0);
	nic_vi_kick(nic, &nic->vis[ga.vi]);
	nic_vi_kick(nic, &nic->vis[gb.vi]);
	T_CHECK(nic_service(nic), "fair: flood leaves work after one round", "no work left");
	while (t_vi_event(&gb.v, &ev))
		b_done += ev.type == PV_NIC_EV_TX_DONE;
	while (t_vi_event(&ga.v, &ev))
		a_done++;
	T_CHECK(b_done == 1 && a_done == (int)PV_NIC_TX_BUDGET, "fair: B served in the first round, A held to its budget",
		"b %d a %d", b_done, a_done);
	while (nic_service(nic))
		while (t_vi_event(&ga.v, &ev))
			a_done++;
	while (t_vi_event(&ga.v, &ev))
		a_done++;
	T_EQ(a_done, 500, "fair: A's flood all served in later rounds");
}

static void test_fault_reset(void)
{
	uint8_t fr[2048];
	uint32_t len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 60, 0);
	struct pv_nic_event ev;
	unsigned int n0;

	/* producer more than a ring ahead: impossible */
	__atomic_store_n(&ga.v.sh->tx_prod.v, ga.v.tx_prod + PV_NIC_TXQ_SIZE + 1, __ATOMIC_RELEASE);
	service(&ga);
	T_CHECK(nic->vis[ga.vi].state == NIC_VI_FAULT && ga.v.sh->fault.v == PV_NIC_FAULT_TX_PROD,
		"fault: tx_prod beyond the ring disables the VI", "state %d fault %u",
		nic->vis[ga.vi].state, ga.v.sh->fault.v);
	n0 = cap.n;
	__atomic_store_n(&ga.v.sh->tx_prod.v, ga.v.tx_prod, __ATOMIC_RELEASE);
	memcpy(gbuf(&ga, 0), fr, len);
	t_vi_tx(&ga.v, ga.buf[0], 0, (uint16_t)len, 0);
	service(&ga);
	T_EQ(cap.n, n0, "fault: a disabled VI sends nothing");
	len = mk_frame(fr, MAC_A, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.1"), 17, 53, 60, 0);
	t_vi_rx(&gh.v, gh.buf[3], 0, 2048);
	nic_rx_frame(nic, fr, len, 0);
	T_CHECK(t_vi_event(&gh.v, &ev) && ev.type == PV_NIC_EV_RX, "fault: a disabled VI's traffic falls to the host VI",
		"type %u", ev.type);

	/* B unaffected */
	len = mk_frame(fr, MAC_X, MAC_B, 0, ip4("10.0.0.2"), ip4("10.0.0.9"), 17, 53, 60, 0);
	ev = tx_one(&gb, 0, fr, len);
	T_CHECK(ev.type == PV_NIC_EV_TX_DONE && cap.n == n0 + 1, "fault: other VI keeps sending", "type %u", ev.type);

	nic_vi_reset(nic, &nic->vis[ga.vi]);
	T_CHECK(nic->vis[ga.vi].state == NIC_VI_ACTIVE && ga.v.sh->fault.v == 0 && ga.v.sh->tx_prod.v == 0 &&
		nic->bt.owned[ga.vi] == 0 && nic->fl.per_vi[ga.vi] == 0,
		"reset: VI active, rings zero, buffers and filters gone", "state %d owned %u filters %u",
		nic->vis[ga.vi].state, nic->bt.owned[ga.vi], nic->fl.per_vi[ga.vi]);

	/* evq_cons ahead of evq_prod: impossible */
	__atomic_store_n(&gb.v.sh->evq_cons.v, gb.v.evq_cons + 5, __ATOMIC_RELEASE);
	t_vi_rx(&gb.v, gb.buf[6], 0, 2048);
	len = mk_frame(fr, MAC_B, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.2"), 17, 53, 60, 0);
	nic_rx_frame(nic, fr, len, 0);
	T_CHECK(nic->vis[gb.vi].state == NIC_VI_FAULT && nic->vis[gb.vi].st.fault == PV_NIC_FAULT_EVQ_CONS,
		"fault: evq_cons ahead of evq_prod disables the VI", "state %d", nic->vis[gb.vi].state);
	/* rx_prod far ahead */
	nic_vi_reset(nic, &nic->vis[gb.vi]);
	t_vi_init(&gb.v, gb.vimem);
	{
		struct pv_nic_filter f = { .vi_id = gb.vi, .type = PV_NIC_FILTER_MAC };
		uint32_t fid;

		memcpy(f.mac, MAC_B, 6);
		T_ASSERT(nic_filter_add(&nic->fl, &f, &fid) == 0, "B's filter back");
	}
	__atomic_store_n(&gb.v.sh->rx_prod.v, 0x80000000u, __ATOMIC_RELEASE);
	nic_rx_frame(nic, fr, len, 0);
	T_CHECK(nic->vis[gb.vi].st.fault == PV_NIC_FAULT_RX_PROD && nic->vis[gb.vi].st.faults == 2,
		"fault: rx_prod beyond the ring disables the VI", "fault %u", nic->vis[gb.vi].st.fault);
	nic_vi_reset(nic, &nic->vis[gb.vi]);
}

static void test_free(void)
{
	struct pv_nic_filter f = { .vi_id = gb.vi, .type = PV_NIC_FILTER_MAC };
	uint8_t fr[2048];
	uint32_t fid, len, freebufs = nic->bt.nfree;
	struct pv_nic_event ev;

	memcpy(f.mac, MAC_B, 6);
	T_ASSERT(nic_filter_add(&nic->fl, &f, &fid) == 0, "B's filter");
	T_EQ(nic->bt.owned[gb.vi], 0, "free: B's buffers were dropped by reset");
	nic_vi_free_owner(nic, &owner_b);
	T_CHECK(nic->vis[gb.vi].state == NIC_VI_FREE && nic->fl.per_vi[gb.vi] == 0 && nic->fl.used == 0 &&
		nic->bt.nfree == freebufs, "free: VI gone with its filters and buffer entries",
		"state %d filters %u", nic->vis[gb.vi].state, nic->fl.used);
	len = mk_frame(fr, MAC_B, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.2"), 17, 53, 60, 0);
	t_vi_rx(&gh.v, gh.buf[3], 0, 2048);
	nic_rx_frame(nic, fr, len, 0);
	T_CHECK(t_vi_event(&gh.v, &ev) && ev.type == PV_NIC_EV_RX, "free: freed VI's MAC now reaches the host VI",
		"type %u", ev.type);
	nic_vi_free_owner(nic, &owner_h);
	T_EQ(nic->host_vi, PV_NIC_VI_NONE, "free: host VI freed -> no host VI");
	nic_rx_frame(nic, fr, len, 0);
	T_EQ(nic->rx_unmatched_dropped, 1, "free: without a host VI unmatched frames are dropped, counted");
}

int main(void)
{
	struct nic_config cfg = { .max_vis = 4, .nr_bufs = 64, .max_filters = 16, .vi_filters = 4 };

	pv_log_init("test_nic_vi", PV_LOG_ERR, 0);
	nic = nic_new(NULL, &cfg);
	T_ASSERT(nic != NULL, "nic_new");
	if (!nic)
		return t_done();
	nic_set_xmit(nic, cap_xmit, &cap, 1500);
	T_CHECK(guest_setup(&ga, &owner_a, MAC_A) == 0 && guest_setup(&gb, &owner_b, MAC_B) == 0 &&
		guest_setup(&gh, &owner_h, NULL) == 0 && nic_set_host(nic, gh.vi) == 0,
		"setup: three VIs, 16 buffers each", "failed: %s", strerror(errno));
	T_CHECK(ga.v.sh->info.magic == PV_NIC_VI_MAGIC && ga.v.sh->info.vi_id == ga.vi &&
		ga.v.sh->info.evq_off == PV_NIC_OFF_EVQ, "setup: VI memory header as documented",
		"magic %#x", ga.v.sh->info.magic);
	T_CHECK(fcntl(nic->vis[ga.vi].mem_fd, F_GET_SEALS) & F_SEAL_SHRINK, "setup: VI memfd sealed", "not sealed");
	test_tx();
	add_filters();
	test_hostile();
	test_rx();
	test_evq();
	test_double_fetch();
	test_wake();
	test_fair();
	test_fault_reset();
	test_free();
	nic_free(nic);
	return t_done();
}
