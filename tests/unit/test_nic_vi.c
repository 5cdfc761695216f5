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
 * indices, reset, wake-ups, round-robin fairness and VI free; TX chains
 * (1 to 40 descriptors, over-long, cut off at tx_prod, a bad descriptor
 * inside), CSUM and TSO (what the xmit hook gets, what is refused), event
 * queue room for whole chains, fairness and the double fetch with chains;
 * the private header copy (NIC_TX_HDR_MAX): headers rewritten during the
 * send go out as checked, payload iovecs into guest memory (a 32-descriptor
 * TSO chain), frames of H and H + 1 bytes, headers spanning descriptors,
 * the largest headers (tag + IPv4 and TCP with options).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nic/nic.h"
#include "nic/nic_client.h"
#include "../lib/test.h"
#include "test_nic_util.h"

/* The wire: frames counted, the last one kept with its virtio-net header. */
struct cap {
	unsigned int n;
	uint32_t len;
	struct virtio_net_hdr vh;
	unsigned int niov;		/* the last frame's iovecs: header copy + payload */
	uint32_t hdr_len;
	const void *iov1;		/* its first payload iovec (in guest memory) */
	unsigned int bad_shape;		/* frames whose iovecs were not hdr + payload, summing to len */
	uint8_t last[PV_NIC_TSO_MAX];
};

static void cap_xmit(void *arg, struct nic_txframe *f, unsigned int n)
{
	struct cap *c = arg;

	for (unsigned int i = 0; i < n; i++) {
		uint32_t sum = 0;

		for (unsigned int k = 0; k < f[i].niov; k++)
			sum += (uint32_t)f[i].iov[k].iov_len;
		c->bad_shape += f[i].niov < 1 || f[i].niov > NIC_TX_IOV_MAX || sum != f[i].len ||
				f[i].iov[0].iov_base != f[i].hdr || f[i].iov[0].iov_len != f[i].hdr_len;
		c->n++;
		c->len = f[i].len;
		c->vh = f[i].vnet;
		c->niov = f[i].niov;
		c->hdr_len = f[i].hdr_len;
		c->iov1 = f[i].niov > 1 ? f[i].iov[1].iov_base : NULL;
		t_iov_flatten(f[i].iov, f[i].niov, c->last, sizeof(c->last));
		f[i].rc = 0;
	}
}

#define T_NR_BUFS	256	/* the NIC's buffer table */
#define T_GBUFS		64	/* buffers per guest: chains of 40 and more */

struct guest {
	uint32_t vi;
	struct t_vi v;
	void *vimem;
	int memfd;
	uint8_t *mem;		/* T_GBUFS / 2 pages of "guest memory" */
	uint32_t buf[T_GBUFS];	/* buffer ids of chunks 0.. */
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
	uint32_t chunks[T_GBUFS];
	struct nic_region *reg;
	int rc;

	if (nic_vi_alloc(nic, owner, &g->vi))
		return -1;
	g->vimem = mmap(NULL, PV_NIC_VI_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			nic->vis[g->vi].mem_fd, 0);
	g->memfd = memfd_create("guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (g->vimem == MAP_FAILED || g->memfd < 0 ||
	    ftruncate(g->memfd, T_GBUFS * PV_NIC_BUF_SIZE) < 0)
		return -1;
	g->mem = mmap(NULL, T_GBUFS * PV_NIC_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      g->memfd, 0);
	t_vi_init(&g->v, g->vimem);
	for (unsigned int i = 0; i < T_GBUFS; i++)
		chunks[i] = i;
	reg = nic_region_get(&nic->bt, g->memfd, &rc);
	if (!reg || g->mem == MAP_FAILED ||
	    nic_bufta_map(&nic->bt, g->vi, reg, chunks, T_GBUFS, g->buf))
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
		{ 0, T_NR_BUFS, 0, 100, 0, PV_NIC_ERR_BUF_RANGE, "vi hostile: TX id == table size -> ERROR range" },
		{ 0, 0xffffffffu, 0, 100, 0, PV_NIC_ERR_BUF_RANGE, "vi hostile: TX id 2^32-1 -> ERROR range" },
		{ 0, 2, 2000, 100, 0, PV_NIC_ERR_BUF_BOUNDS, "vi hostile: TX offset+len past buffer -> ERROR bounds" },
		{ 0, 2, 0xffff, 0xffff, 0, PV_NIC_ERR_BUF_BOUNDS, "vi hostile: TX 16-bit overflow -> ERROR bounds" },
		{ 0, 2, 0, 100, 8, PV_NIC_ERR_RESERVED, "vi hostile: TX unknown flag -> ERROR reserved" },
	};
	uint64_t derr0 = nic->vis[ga.vi].st.desc_errors;

	memcpy(gbuf(&ga, 2), fr, len);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t id = cases[i].id_is_b ? gb.buf[cases[i].buf] :
			      cases[i].buf < T_GBUFS ? ga.buf[cases[i].buf] : cases[i].buf;

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
		if (memcmp(f[i].hdr + 6, MAC_A, 6))	/* what goes out first: the header copy */
			(*bad)++;
		f[i].rc = 0;
	}
}

/* Post frame @len of @fr from A: one descriptor in buffer 5, or a TSO chain (buffers 5, 6). */
static void df_post(const uint8_t *fr, uint32_t len, int chain)
{
	if (!chain) {
		t_vi_tx(&ga.v, ga.buf[5], 0, (uint16_t)len, 0);
		return;
	}
	t_vi_tx_put(&ga.v, 0, &(struct pv_nic_desc){ .buf_id = ga.buf[5], .len = 60,
		    .flags = PV_NIC_TX_F_MORE | PV_NIC_TX_F_TSO, .mss = 1448 });
	t_vi_tx_put(&ga.v, 1, &(struct pv_nic_desc){ .buf_id = ga.buf[6], .len = (uint16_t)(len - 60) });
	t_vi_tx_post(&ga.v, 2);
	(void)fr;
}

static void test_double_fetch(int chain)
{
	static uint8_t fr[4096];
	uint32_t len = chain ? mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 1800, 0) :
			       mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 60, 0);
	uint64_t sent0 = nic->vis[ga.vi].st.tx_frames, spoof0 = nic->vis[ga.vi].st.tx_spoofed;
	const char *what = chain ? "double fetch (TSO chain)" : "double fetch";
	unsigned int bad = 0;
	struct pv_nic_event ev;
	char name[128];
	pthread_t th;

	memcpy(gbuf(&ga, 5), fr, chain ? 60 : len);
	if (chain)
		memcpy(gbuf(&ga, 6), fr + 60, len - 60);
	nic_set_xmit(nic, spoof_xmit, &bad, 1500);
	flip_stop = flip_running = 0;
	if (pthread_create(&th, NULL, flipper, gbuf(&ga, 5) + 6) != 0) {
		T_SKIP(what, "no thread");
		nic_set_xmit(nic, cap_xmit, &cap, 1500);
		return;
	}
	while (!flip_running)
		usleep(100);
	/* until the race was seen both ways a good number of times (bounded) */
	for (int round = 0; round < 5000 && (nic->vis[ga.vi].st.tx_spoofed < spoof0 + 50 ||
					    nic->vis[ga.vi].st.tx_frames < sent0 + 50); round++) {
		for (int i = 0; i < 128; i++)
			df_post(fr, len, chain);
		service(&ga);
		while (t_vi_event(&ga.v, &ev))
			;
	}
	flip_stop = 1;
	pthread_join(th, NULL);
	nic_set_xmit(nic, cap_xmit, &cap, 1500);
	snprintf(name, sizeof(name), "%s: a MAC rewritten under the NIC never reaches the wire as B", what);
	T_CHECK(bad == 0, name, "%u frames with B's MAC sent", bad);
	snprintf(name, sizeof(name), "%s: race exercised both ways (sent and refused)", what);
	if (nic->vis[ga.vi].st.tx_spoofed >= spoof0 + 50 && nic->vis[ga.vi].st.tx_frames >= sent0 + 50)
		T_CHECK(1, name, "-");
	else
		T_SKIP(name, "the flipping thread was not seen both ways");
	printf("# %s: sent %llu, refused as spoofed %llu\n", what,
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
	T_EQ(gb.v.sh->evq_cons.armed, 0, "wake: NIC disarmed it");
	T_EQ(nic->vis[gb.vi].st.wakeups, 1, "wake: counted");
	while (t_vi_event(&gb.v, &ev))
		;
}

/*
 * NIC polling (nic.h): tx_cons.armed tells users; vi_user_kick() skips the
 * doorbell while it is set; nic_poll_vis() finds posted TX without one;
 * stopping clears the flag and finds what was posted meanwhile.
 */
static void test_polling(void)
{
	uint8_t fr[2048];
	uint32_t len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 80, 0x33);
	struct nic_vi *va = &nic->vis[ga.vi];
	struct vi_user u = { .sh = ga.v.sh, .doorbell_fd = va->db_fd, .wake_fd = -1 };
	struct pollfd pfd = { .fd = va->db_fd, .events = POLLIN };
	struct pv_nic_event ev;
	uint64_t idle0 = va->db_idle, v;
	unsigned int n0 = cap.n, q;
	uint32_t id;
	int owner_p;

	while (t_vi_event(&ga.v, &ev))
		;
	T_EQ(ga.v.sh->tx_cons.armed, 0, "polling: off, tx_cons.armed 0");
	T_CHECK(vi_user_kick(&u) && poll(&pfd, 1, 0) == 1 && read(pfd.fd, &v, 8) == 8,
		"polling: off, vi_user_kick rings the doorbell", "no doorbell");
	T_EQ(nic_set_polling(nic, true), 0, "polling: on");
	T_EQ(ga.v.sh->tx_cons.armed, 1, "polling: on, tx_cons.armed 1 in an active VI");
	T_CHECK(nic_vi_alloc(nic, &owner_p, &id) == 0 && nic->vis[id].sh->tx_cons.armed == 1,
		"polling: a VI allocated meanwhile is told too", "vi %u", id);
	nic_vi_free(nic, &nic->vis[id]);
	T_EQ(nic_poll_vis(nic), 0, "polling: nothing posted, no VI queued");
	T_EQ(va->db_idle, idle0, "polling: an idle look is no idle doorbell");
	memcpy(gbuf(&ga, 1), fr, len);
	t_vi_tx(&ga.v, ga.buf[1], 0, (uint16_t)len, 0);
	T_CHECK(!vi_user_kick(&u) && poll(&pfd, 1, 0) == 0, "polling: vi_user_kick skips the doorbell",
		"rang");
	q = nic_poll_vis(nic);
	while (nic_service(nic))
		;
	T_CHECK(q == 1 && cap.n == n0 + 1 && t_vi_event(&ga.v, &ev) && ev.type == PV_NIC_EV_TX_DONE,
		"polling: the frame found and sent without a doorbell", "queued %u sent %u", q, cap.n - n0);
	/* Posted while the user still saw 1: stopping finds it. */
	t_vi_tx(&ga.v, ga.buf[1], 0, (uint16_t)len, 0);
	q = nic_set_polling(nic, false);
	while (nic_service(nic))
		;
	T_CHECK(q == 1 && cap.n == n0 + 2 && ga.v.sh->tx_cons.armed == 0,
		"polling: stopping clears the flag and sends what was posted meanwhile",
		"queued %u sent %u armed %u", q, cap.n - n0, ga.v.sh->tx_cons.armed);
	while (t_vi_event(&ga.v, &ev))
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

/* ---- RX chains (nic.h "RX chains") ---- */

static uint8_t rxfr[PV_NIC_RX_FRAME_MAX], rxgot[PV_NIC_RX_FRAME_MAX];

/* A frame of @len bytes to MAC_B, EtherType 0x88b5 (nothing the NIC parses), a pattern. */
static void rx_pattern(uint32_t len, uint8_t seed)
{
	memcpy(rxfr, MAC_B, 6);
	memcpy(rxfr + 6, MAC_X, 6);
	rxfr[12] = 0x88, rxfr[13] = 0xb5;
	for (uint32_t i = 14; i < len; i++)
		rxfr[i] = (uint8_t)(i * 7 + seed);
}

/* Post @n of gb's buffers, from buffer @b0, each offering 2 KiB. */
static void rx_post(unsigned int b0, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		t_vi_rx(&gb.v, gb.buf[b0 + i], 0, PV_NIC_BUF_SIZE);
}

/*
 * Read one delivered frame from gb's events into rxgot: its RX_META (if
 * any, into *@me) and RX events.  Return: its length, or -1 if the events
 * were not a well-formed frame (MORE on all but the last, meta's count).
 */
static long rx_read(struct pv_nic_rx_meta *me, int *had_meta, unsigned int b0)
{
	struct pv_nic_event ev;
	uint32_t off = 0;
	unsigned int k = 0;

	*had_meta = 0;
	memset(me, 0, sizeof(*me));
	while (t_vi_event(&gb.v, &ev)) {
		if (ev.type == PV_NIC_EV_RX_META && !*had_meta && !k) {
			memcpy(me, &ev, sizeof(*me));
			*had_meta = 1;
			continue;
		}
		if (ev.type != PV_NIC_EV_RX || ev.buf_id != gb.buf[b0 + k] || off + ev.len > sizeof(rxgot))
			return -1;
		memcpy(rxgot + off, gbuf(&gb, b0 + k), ev.len);
		off += ev.len;
		k++;
		if (!(ev.flags & PV_NIC_RX_F_MORE))
			return *had_meta && me->nr_desc != k ? -1 : (long)off;
	}
	return -1;
}

static void test_rx_chain_sizes(void)
{
	static const uint32_t sizes[] = { 60, 2048, 2049, 9018, 16384, PV_NIC_RX_FRAME_MAX };
	struct nic_vi *vb = &nic->vis[gb.vi];
	struct pv_nic_event ev;

	while (t_vi_event(&gb.v, &ev))
		;
	vb->rx_chain = true;
	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t len = sizes[i], need = (len + PV_NIC_BUF_SIZE - 1) / PV_NIC_BUF_SIZE;
		uint64_t ch0 = vb->st.rx_chains, f0 = vb->st.rx_frames;
		struct pv_nic_rx_meta me;
		int had_meta;
		long got;

		rx_pattern(len, (uint8_t)i);
		rx_post(0, need);
		nic_rx_frame(nic, rxfr, len, 0);
		got = rx_read(&me, &had_meta, 0);
		T_CHECK(got == (long)len && !memcmp(rxgot, rxfr, len) && had_meta == (need > 1) &&
			(!had_meta || (me.frame_len == len && me.nr_desc == need && me.queue == 1 &&
				       me.gso_type == PV_NIC_GSO_NONE)) &&
			vb->st.rx_frames == f0 + 1 && vb->st.rx_chains == ch0 + (need > 1) &&
			gb.v.sh->rx_cons.v == gb.v.rx_prod,
			"rx chain: a frame of the size whole, in its descriptors, bytes as sent",
			"len %u: got %ld, meta %d (frame_len %u nr %u), %u descriptors", len, got, had_meta,
			me.frame_len, me.nr_desc, need);
	}
	vb->rx_chain = false;
}

/* A GSO frame whole: its metadata and checksum state in RX_META; none on the RX events. */
static void test_rx_chain_gso(void)
{
	struct nic_vi *vb = &nic->vis[gb.vi];
	struct nic_rxmeta m = { .gso_type = PV_NIC_GSO_TCPV4 | PV_NIC_GSO_ECN, .gso_size = 1448,
				.csum_start = 34, .csum_offset = 16 };
	uint32_t len = mk_frame(rxfr, MAC_B, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.2"), 6, 80,
				9000, 0);
	uint64_t g0 = vb->st.rx_gso;
	struct pv_nic_rx_meta me;
	int had_meta;
	long got;

	vb->rx_chain = true;
	rx_post(0, 5);
	nic_rx_frame_meta(nic, rxfr, len, PV_NIC_RX_F_CSUM_PARTIAL, &m);
	got = rx_read(&me, &had_meta, 0);
	T_CHECK(got == (long)len && had_meta && me.frame_len == len && me.nr_desc == 5 &&
		me.gso_type == (PV_NIC_GSO_TCPV4 | PV_NIC_GSO_ECN) && me.gso_size == 1448 &&
		me.csum_start == 34 && me.csum_offset == 16 &&
		(me.flags & PV_NIC_RX_F_CSUM_PARTIAL) && vb->st.rx_gso == g0 + 1 &&
		!memcmp(rxgot, rxfr, len),
		"rx chain gso: a 9054-byte GSO frame whole, RX_META with TCPV4|ECN, 1448, csum 34+16, "
		"CSUM_PARTIAL", "got %ld meta %d type %u size %u start %u off %u flags %#x", got,
		had_meta, me.gso_type, me.gso_size, me.csum_start, me.csum_offset, me.flags);
	/* one buffer and no GSO: one RX event, no meta, as without chains */
	len = mk_frame(rxfr, MAC_B, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.2"), 17, 53, 100, 0);
	rx_post(0, 1);
	nic_rx_frame(nic, rxfr, len, 0);
	got = rx_read(&me, &had_meta, 0);
	T_CHECK(got == (long)len && !had_meta, "rx chain: a one-buffer frame is one RX event, no meta",
		"got %ld meta %d", got, had_meta);
	vb->rx_chain = false;
}

/* Too few posted: dropped whole, counted, nothing consumed; the VI's next frame fine. */
static void test_rx_chain_short(void)
{
	struct nic_vi *vb = &nic->vis[gb.vi];
	struct pv_nic_event ev;
	struct pv_nic_rx_meta me;
	uint64_t nd0 = vb->st.rx_no_desc, tb0 = vb->st.rx_too_big, f0 = vb->st.rx_frames;
	uint32_t cons0;
	int had_meta, nev = 0;
	long got;

	vb->rx_chain = true;
	rx_post(0, 2);
	cons0 = gb.v.sh->rx_cons.v;
	rx_pattern(9018, 3);
	nic_rx_frame(nic, rxfr, 9018, 0);
	while (t_vi_event(&gb.v, &ev))
		nev++;
	T_CHECK(vb->st.rx_no_desc == nd0 + 1 && gb.v.sh->rx_cons.v == cons0 && !nev &&
		vb->st.rx_frames == f0,
		"rx chain: 9018 bytes, 2 buffers posted -> dropped whole (rx_no_desc), nothing consumed, "
		"no event", "no_desc +%llu, cons %u -> %u, %d events",
		(unsigned long long)(vb->st.rx_no_desc - nd0), cons0, gb.v.sh->rx_cons.v, nev);
	rx_post(2, 3);		/* now 5 posted: the next frame goes */
	nic_rx_frame(nic, rxfr, 9018, 0);
	got = rx_read(&me, &had_meta, 0);
	T_CHECK(got == 9018 && !memcmp(rxgot, rxfr, 9018), "rx chain: posted enough, the next frame arrives",
		"got %ld", got);
	/* rooms too small: 40 descriptors of 100 bytes cannot hold 9018 */
	for (unsigned int i = 0; i < PV_NIC_RX_MAX_FRAGS; i++)
		t_vi_rx(&gb.v, gb.buf[i], 0, 100);
	cons0 = gb.v.sh->rx_cons.v;
	nic_rx_frame(nic, rxfr, 9018, 0);
	T_CHECK(vb->st.rx_too_big == tb0 + 1 && gb.v.sh->rx_cons.v == cons0,
		"rx chain: more than PV_NIC_RX_MAX_FRAGS descriptors needed -> dropped (rx_too_big), "
		"nothing consumed", "too_big +%llu", (unsigned long long)(vb->st.rx_too_big - tb0));
	/* give them back: small frames take them one by one */
	for (unsigned int i = 0; i < PV_NIC_RX_MAX_FRAGS; i++) {
		rx_pattern(60, 1);
		nic_rx_frame(nic, rxfr, 60, 0);
	}
	while (t_vi_event(&gb.v, &ev))
		;
	vb->rx_chain = false;
}

/*
 * The RX hold (vi.c): with too few descriptors, frames wait in the VI's
 * receive memory (here 16 KiB: five 3000-byte frames) and come, in order,
 * once it posts enough; the sixth finds it full (rx_no_desc); a hold that
 * delivers nothing for NIC_RX_HOLD_MAX_MS is dropped.
 */
static void test_rx_hold(void)
{
	struct nic_vi *vb = &nic->vis[gb.vi];
	struct pv_nic_event ev;
	struct pv_nic_rx_meta me;
	uint64_t nd0 = vb->st.rx_no_desc, h0 = vb->st.rx_held;
	int had_meta, nev = 0, order = 1;
	long got;

	while (t_vi_event(&gb.v, &ev))
		;
	T_ASSERT(nic_rxhold_init(&vb->hold, 16384) == 0, "rx hold: a 16 KiB hold");
	T_EQ(gb.v.sh->rx_prod.v - gb.v.sh->rx_cons.v, 0, "rx hold: nothing posted to start with");
	vb->rx_chain = true;
	for (uint8_t s = 1; s <= 6; s++) {
		rx_pattern(3000, s);
		nic_rx_frame(nic, rxfr, 3000, 0);
	}
	while (t_vi_event(&gb.v, &ev))
		nev++;
	T_CHECK(vb->st.rx_held - h0 == 5 && vb->st.rx_no_desc - nd0 == 1 && !nev &&
		nic->nr_holding == 1 && vb->st.rx_held_bytes_max >= 15000,
		"rx hold: 6 frames, no descriptor: 5 held, the 6th finds it full (rx_no_desc), no event",
		"held +%llu, no_desc +%llu, %d events, %u holding, max %llu",
		(unsigned long long)(vb->st.rx_held - h0), (unsigned long long)(vb->st.rx_no_desc - nd0),
		nev, nic->nr_holding, (unsigned long long)vb->st.rx_held_bytes_max);
	rx_post(0, 2);
	nic_rx_flush(nic);
	got = rx_read(&me, &had_meta, 0);
	rx_pattern(3000, 1);
	T_CHECK(got == 3000 && !memcmp(rxgot, rxfr, 3000) && t_vi_event(&gb.v, &ev) == 0,
		"rx hold: 2 descriptors posted: the oldest frame comes whole, the others wait", "got %ld", got);
	rx_post(2, 8);
	nic_rx_flush(nic);
	for (uint8_t s = 2; s <= 5; s++) {
		got = rx_read(&me, &had_meta, 2u * (s - 1u));
		rx_pattern(3000, s);
		order &= got == 3000 && !memcmp(rxgot, rxfr, 3000);
	}
	T_CHECK(order && nic->nr_holding == 0 && vb->hold.count == 0,
		"rx hold: 8 more posted: frames 2-5 come in order, the hold is empty", "order %d, holding %u",
		order, nic->nr_holding);
	rx_pattern(3000, 7);
	nic_rx_frame(nic, rxfr, 3000, 0);
	nic_rx_hold_tick(nic, vb->hold_progress_ms + NIC_RX_HOLD_MAX_MS - 1);
	T_EQ(vb->hold.count, 1, "rx hold: a frame held under NIC_RX_HOLD_MAX_MS stays");
	nic_rx_hold_tick(nic, vb->hold_progress_ms + NIC_RX_HOLD_MAX_MS);
	T_CHECK(vb->hold.count == 0 && nic->nr_holding == 0 && vb->st.rx_no_desc - nd0 == 2,
		"rx hold: nothing delivered for NIC_RX_HOLD_MAX_MS: dropped, counted rx_no_desc",
		"held %u, no_desc +%llu", vb->hold.count, (unsigned long long)(vb->st.rx_no_desc - nd0));
	nic_rxhold_fini(&vb->hold);
	vb->rx_chain = false;
}

/* Hostile descriptors inside a chain: refused with their reason, the ones before RX_CHAIN. */
static void test_rx_chain_hostile(void)
{
	static const struct {
		int which;	/* 0 another VI's buffer, 1 beyond the table, 2 past 2 KiB, 3 reserved */
		uint8_t err;
		const char *name;
	} cases[] = {
		{ 0, PV_NIC_ERR_BUF_OWNER, "rx chain hostile: another VI's buffer mid-chain -> BUF_OWNER" },
		{ 1, PV_NIC_ERR_BUF_RANGE, "rx chain hostile: an id beyond the table -> BUF_RANGE" },
		{ 2, PV_NIC_ERR_BUF_BOUNDS, "rx chain hostile: offset + len past the buffer -> BUF_BOUNDS" },
		{ 3, PV_NIC_ERR_RESERVED, "rx chain hostile: flags set on an RX descriptor -> RESERVED" },
	};
	struct nic_vi *vb = &nic->vis[gb.vi];
	struct pv_nic_event ev[4];

	vb->rx_chain = true;
	for (unsigned int c = 0; c < 4; c++) {
		uint64_t bad0 = vb->st.rx_bad_desc, de0 = vb->st.desc_errors, f0 = vb->st.rx_frames;
		uint64_t ga_f0 = nic->vis[ga.vi].st.rx_frames;
		struct pv_nic_desc d = { .buf_id = gb.buf[1], .len = PV_NIC_BUF_SIZE };
		unsigned int n = 0;
		struct pv_nic_event e;

		if (cases[c].which == 0)
			d.buf_id = ga.buf[3];
		else if (cases[c].which == 1)
			d.buf_id = T_NR_BUFS + 5;
		else if (cases[c].which == 2)
			d.offset = 100;
		else
			d.flags = 1;
		rx_post(0, 1);
		gb.v.rxq[gb.v.rx_prod & (PV_NIC_RXQ_SIZE - 1)] = d;
		gb.v.rx_prod++;
		__atomic_store_n(&gb.v.sh->rx_prod.v, gb.v.rx_prod, __ATOMIC_RELEASE);
		rx_post(2, 3);
		rx_pattern(9018, (uint8_t)c);
		nic_rx_frame(nic, rxfr, 9018, 0);
		while (n < 4 && t_vi_event(&gb.v, &ev[n]))
			n++;
		T_CHECK(n == 2 && ev[0].type == PV_NIC_EV_ERROR && ev[0].code == PV_NIC_ERR_RX_CHAIN &&
			ev[1].type == PV_NIC_EV_ERROR && ev[1].code == cases[c].err &&
			vb->st.rx_bad_desc == bad0 + 1 && vb->st.desc_errors == de0 + 1 &&
			vb->st.rx_frames == f0 && nic->vis[ga.vi].st.rx_frames == ga_f0,
			cases[c].name, "%u events: %u/%u %u/%u", n, ev[0].type, ev[0].code, ev[1].type,
			ev[1].code);
		/* the 3 good ones after it still posted: drain them with small frames */
		for (int k = 0; k < 3; k++) {
			rx_pattern(60, 2);
			nic_rx_frame(nic, rxfr, 60, 0);
		}
		while (t_vi_event(&gb.v, &e))
			;
	}
	vb->rx_chain = false;
}

/* Without RX chains: a GSO frame is cut into wire frames, each whole with good checksums. */
static void test_rx_nochain_gso(void)
{
	struct nic_vi *vb = &nic->vis[gb.vi];
	struct nic_rxmeta m = { .gso_type = PV_NIC_GSO_TCPV4, .gso_size = 1448,
				.csum_start = 34, .csum_offset = 16 };
	uint32_t len = mk_frame(rxfr, MAC_B, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.2"), 6, 80,
				8000, 0);
	uint64_t s0 = vb->st.rx_gso_segmented, f0 = vb->st.rx_frames;
	struct pv_nic_event ev;
	unsigned int n = 0, bad = 0, meta = 0;
	uint32_t total = 0;

	rx_post(0, 8);
	nic_rx_frame_meta(nic, rxfr, len, PV_NIC_RX_F_CSUM_PARTIAL, &m);
	while (t_vi_event(&gb.v, &ev)) {
		meta += ev.type == PV_NIC_EV_RX_META;
		if (ev.type != PV_NIC_EV_RX || ev.len > 1514 || (ev.flags & PV_NIC_RX_F_MORE) ||
		    !(ev.flags & PV_NIC_RX_F_CSUM_OK) ||
		    !t_l4_csum_ok(gbuf(&gb, n < 8 ? n : 0), ev.len))
			bad++;
		else
			total += ev.len - 54;
		n++;
	}
	T_CHECK(n == 6 && !bad && !meta && total == 8000 && vb->st.rx_gso_segmented == s0 + 1 &&
		vb->st.rx_frames == f0 + 6,
		"rx no chain: an 8000-byte GSO frame -> 6 wire frames of at most 1514, checksums good, "
		"no RX_META", "%u frames, %u bad, %u meta, payload %u", n, bad, meta, total);
	/* a jumbo frame to a VI without chains: RX_TOO_BIG on the descriptor, counted */
	{
		uint64_t tb0 = vb->st.rx_too_big;
		int got_err = 0;

		rx_pattern(9018, 9);
		rx_post(0, 1);
		nic_rx_frame(nic, rxfr, 9018, 0);
		while (t_vi_event(&gb.v, &ev))
			got_err += ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_RX_TOO_BIG;
		T_CHECK(got_err == 1 && vb->st.rx_too_big == tb0 + 1,
			"rx no chain: a 9018-byte frame -> ERROR RX_TOO_BIG, counted rx_too_big",
			"%d errors", got_err);
	}
}

/* ---- TX chains and offloads ---- */

static uint8_t tfr[PV_NIC_TSO_MAX + 64];

/*
 * post_chain() - @len bytes of @data from guest @g as one frame: @nd
 * descriptors on buffers @b0.., equal shares (the last the rest), @flags
 * and @mss on the first; written, then posted whole.
 */
static void post_chain(struct guest *g, unsigned int b0, const uint8_t *data, uint32_t len,
		       unsigned int nd, uint32_t flags, uint16_t mss)
{
	uint32_t per = (len + nd - 1) / nd, off = 0;

	for (unsigned int j = 0; j < nd; j++) {
		uint32_t n = j + 1 == nd ? len - off : per;
		struct pv_nic_desc d = {
			.buf_id = g->buf[b0 + j], .len = (uint16_t)n,
			.flags = (j + 1 < nd ? PV_NIC_TX_F_MORE : 0) | (j ? 0 : flags),
			.mss = j ? 0 : mss,
		};

		memcpy(gbuf(g, b0 + j), data + off, n);
		t_vi_tx_put(&g->v, j, &d);
		off += n;
	}
	t_vi_tx_post(&g->v, nd);
}

/* Read up to @max events; how many there were. */
static unsigned int events(struct guest *g, struct pv_nic_event *ev, unsigned int max)
{
	unsigned int n = 0;

	while (n < max && t_vi_event(&g->v, &ev[n]))
		n++;
	return n;
}

/*
 * Were the @n events from @ev the ones of a frame of @n descriptors posted
 * at ring index @idx0: type @type, code @code (ERROR), in ring order?
 * Descriptor @bad (if < n) must carry @bad_code instead.
 */
static int frame_events(const struct pv_nic_event *ev, unsigned int n, uint32_t idx0, uint8_t type,
			uint8_t code, unsigned int bad, uint8_t bad_code)
{
	for (unsigned int j = 0; j < n; j++) {
		uint8_t want = j == bad ? bad_code : code;

		if (ev[j].type != type || ev[j].queue != 0 || ev[j].index != idx0 + j ||
		    (type == PV_NIC_EV_ERROR && ev[j].code != want)) {
			printf("# event %u: type %u code %u index %u (want type %u code %u index %u)\n",
			       j, ev[j].type, ev[j].code, ev[j].index, type, want, idx0 + j);
			return 0;
		}
	}
	return 1;
}

/* The frame on the wire is @fr, but for the checksum field at @field the NIC fills (0: none). */
static int wire_is(const uint8_t *fr, uint32_t len, uint32_t field)
{
	if (!field)
		return cap.len == len && !memcmp(cap.last, fr, len);
	return cap.len == len && !memcmp(cap.last, fr, field) &&
	       !memcmp(cap.last + field + 2, fr + field + 2, len - field - 2);
}

/* One frame of @nd descriptors from A: sent whole, one TX_DONE per descriptor. */
static void chain_good(unsigned int nd, uint32_t len, uint32_t flags, uint16_t mss, const char *name)
{
	struct pv_nic_event ev[64];
	struct nic_vi *vi = &nic->vis[ga.vi];
	uint64_t frames0 = vi->st.tx_frames, tso0 = vi->st.tx_tso, bytes0 = vi->st.tx_bytes;
	uint32_t idx0 = ga.v.tx_prod, got_len = 0;
	unsigned int n0 = cap.n, got;
	int ok;

	if (flags)
		len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, len - 54, 0);
	else
		len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, len - 42, 0);
	for (uint32_t i = 54; i < len; i++)
		tfr[i] = (uint8_t)(i * 7 + (i >> 11));
	post_chain(&ga, 0, tfr, len, nd, flags, mss);
	service(&ga);
	got = events(&ga, ev, 64);
	ok = got == nd && frame_events(ev, nd, idx0, PV_NIC_EV_TX_DONE, 0, nd, 0);
	for (unsigned int j = 0; ok && j < nd; j++) {
		ok &= ev[j].buf_id == ga.buf[j];
		got_len += ev[j].len;
	}
	T_CHECK(ok && got_len == len, name, "%u events, lengths add to %u of %u", got, got_len, len);
	T_CHECK(cap.n == n0 + 1 && wire_is(tfr, len, flags ? 50 : 0) &&
		vi->st.tx_frames == frames0 + 1 && vi->st.tx_bytes == bytes0 + len &&
		vi->st.tx_tso == tso0 + !!(flags & PV_NIC_TX_F_TSO),
		"chain: ... one frame on the wire, its bytes in order, counted once",
		"frames %u len %u/%u tx_frames +%llu tso +%llu", cap.n - n0, cap.len, len,
		(unsigned long long)(vi->st.tx_frames - frames0),
		(unsigned long long)(vi->st.tx_tso - tso0));
}

static void test_chain_good(void)
{
	chain_good(1, 1000, 0, 0, "chain: 1 descriptor, no offload: one TX_DONE");
	chain_good(2, 1514, PV_NIC_TX_F_CSUM, 0, "chain: 2 descriptors, CSUM: two TX_DONE in ring order");
	chain_good(40, 1514, PV_NIC_TX_F_CSUM, 0, "chain: 40 descriptors of 38 bytes: 40 TX_DONE");
	chain_good(33, 65000, PV_NIC_TX_F_TSO, 1448, "chain: 33 descriptors, 65000-byte TSO frame: 33 TX_DONE");
	chain_good(40, 65000, PV_NIC_TX_F_TSO, 1448, "chain: 40 descriptors, TSO: 40 TX_DONE");
	T_CHECK(cap.vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && le16toh(cap.vh.gso_size) == 1448,
		"chain: the TSO frame went with its GSO metadata", "gso %u/%u", cap.vh.gso_type,
		le16toh(cap.vh.gso_size));
}

/* 41 descriptors with MORE on the first 40: those refused TOO_BIG, the 41st a frame of its own. */
static void test_chain_overlong(void)
{
	struct pv_nic_event ev[64];
	struct nic_vi *vi = &nic->vis[ga.vi];
	uint64_t big0 = vi->st.tx_too_big, frames0 = vi->st.tx_frames, derr0 = vi->st.desc_errors;
	uint32_t idx0 = ga.v.tx_prod, len;
	unsigned int n0 = cap.n, got;

	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 1000, 0x41);
	for (unsigned int j = 0; j < 41; j++) {
		struct pv_nic_desc d = { .buf_id = ga.buf[j], .len = (uint16_t)len,
					 .flags = j < 40 ? PV_NIC_TX_F_MORE : 0 };

		memcpy(gbuf(&ga, j), tfr, len);
		t_vi_tx_put(&ga.v, j, &d);
	}
	t_vi_tx_post(&ga.v, 41);
	service(&ga);
	got = events(&ga, ev, 64);
	T_CHECK(got == 41 && frame_events(ev, 40, idx0, PV_NIC_EV_ERROR, PV_NIC_ERR_TX_TOO_BIG, 40, 0) &&
		frame_events(ev + 40, 1, idx0 + 40, PV_NIC_EV_TX_DONE, 0, 1, 0),
		"chain: 41 descriptors: the first 40 refused TX_TOO_BIG, the 41st sent as a new frame",
		"%u events", got);
	T_CHECK(cap.n == n0 + 1 && cap.len == len && !memcmp(cap.last, tfr, len) &&
		vi->st.tx_too_big == big0 + 1 && vi->st.tx_frames == frames0 + 1 &&
		vi->st.desc_errors == derr0, "chain: over-long chain counted once as too big",
		"sent %u too_big +%llu desc_errors +%llu", cap.n - n0,
		(unsigned long long)(vi->st.tx_too_big - big0),
		(unsigned long long)(vi->st.desc_errors - derr0));
}

/* A chain cut off at tx_prod waits, untouched, and goes once its rest is posted. */
static void test_chain_partial(void)
{
	struct pv_nic_event ev[16];
	uint32_t idx0 = ga.v.tx_prod, len;
	unsigned int n0 = cap.n, got;

	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 100, 0x51);
	memcpy(gbuf(&ga, 10), tfr, len);
	t_vi_tx(&ga.v, ga.buf[10], 0, (uint16_t)len, 0);
	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 1460, 0x52);
	post_chain(&ga, 0, tfr, len, 5, PV_NIC_TX_F_CSUM, 0);
	ga.v.tx_prod -= 2;	/* only 3 of the 5 posted */
	__atomic_store_n(&ga.v.sh->tx_prod.v, ga.v.tx_prod, __ATOMIC_RELEASE);
	service(&ga);
	service(&ga);
	got = events(&ga, ev, 16);
	T_CHECK(got == 1 && ev[0].type == PV_NIC_EV_TX_DONE && ev[0].index == idx0 && cap.n == n0 + 1 &&
		__atomic_load_n(&ga.v.sh->tx_cons.v, __ATOMIC_ACQUIRE) == idx0 + 1,
		"chain: cut off at tx_prod: the frame before it sent, the chain left alone",
		"%u events, sent %u, tx_cons %u", got, cap.n - n0, ga.v.sh->tx_cons.v);
	t_vi_tx_post(&ga.v, 2);
	service(&ga);
	got = events(&ga, ev, 16);
	T_CHECK(got == 5 && frame_events(ev, 5, idx0 + 1, PV_NIC_EV_TX_DONE, 0, 5, 0) &&
		cap.n == n0 + 2 && wire_is(tfr, len, 50),
		"chain: completed chain goes whole, once", "%u events, sent %u", got, cap.n - n0);
}

/* Descriptors refused on their own: their reason; the rest of the frame TX_CHAIN; nothing sent. */
static void chain_bad(unsigned int nd, unsigned int bad, struct pv_nic_desc *over, uint8_t code,
		      const char *name)
{
	struct pv_nic_event ev[16];
	struct nic_vi *vi = &nic->vis[ga.vi];
	uint64_t derr0 = vi->st.desc_errors, frames0 = vi->st.tx_frames;
	uint32_t idx0 = ga.v.tx_prod, len;
	unsigned int n0 = cap.n, got;

	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 1460, 0x61);
	post_chain(&ga, 0, tfr, len, nd, PV_NIC_TX_F_CSUM, 0);
	ga.v.txq[(idx0 + bad) & (PV_NIC_TXQ_SIZE - 1)] = *over;
	service(&ga);
	got = events(&ga, ev, 16);
	T_CHECK(got == nd && frame_events(ev, nd, idx0, PV_NIC_EV_ERROR, PV_NIC_ERR_TX_CHAIN, bad, code) &&
		cap.n == n0 && vi->st.desc_errors == derr0 + 1 && vi->st.tx_frames == frames0,
		name, "%u events, sent %u, desc_errors +%llu", got, cap.n - n0,
		(unsigned long long)(vi->st.desc_errors - derr0));
}

static void test_chain_bad(void)
{
	struct pv_nic_desc d;
	struct pv_nic_event ev = { 0 };

	d = (struct pv_nic_desc){ .buf_id = gb.buf[3], .len = 300, .flags = PV_NIC_TX_F_MORE };
	chain_bad(5, 2, &d, PV_NIC_ERR_BUF_OWNER,
		  "chain: another VI's buffer mid-chain: BUF_OWNER there, TX_CHAIN elsewhere, nothing sent");
	d = (struct pv_nic_desc){ .buf_id = ga.buf[1], .len = 300,
				  .flags = PV_NIC_TX_F_MORE | PV_NIC_TX_F_CSUM };
	chain_bad(3, 1, &d, PV_NIC_ERR_RESERVED, "chain: CSUM on a later descriptor -> RESERVED, rest TX_CHAIN");
	d = (struct pv_nic_desc){ .buf_id = ga.buf[2], .len = 300, .mss = 1448 };
	chain_bad(3, 2, &d, PV_NIC_ERR_RESERVED, "chain: mss on the last descriptor -> RESERVED, rest TX_CHAIN");
	d = (struct pv_nic_desc){ .buf_id = ga.buf[0], .len = 300,
				  .flags = PV_NIC_TX_F_MORE | PV_NIC_TX_F_CSUM, .mss = 1448 };
	chain_bad(3, 0, &d, PV_NIC_ERR_RESERVED, "chain: mss without TSO on the first -> RESERVED, rest TX_CHAIN");
	d = (struct pv_nic_desc){ .buf_id = ga.buf[1], .offset = 2000, .len = 100,
				  .flags = PV_NIC_TX_F_MORE };
	chain_bad(4, 1, &d, PV_NIC_ERR_BUF_BOUNDS, "chain: bounds mid-chain -> BUF_BOUNDS, rest TX_CHAIN");

	/* RX descriptors carry neither flags nor mss (first use up what earlier tests left posted) */
	while (ga.v.rx_prod != __atomic_load_n(&ga.v.sh->rx_cons.v, __ATOMIC_ACQUIRE)) {
		uint32_t len = mk_frame(tfr, MAC_A, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.1"), 17, 53, 10, 0);

		nic_rx_frame(nic, tfr, len, 0);
	}
	while (t_vi_event(&ga.v, &ev))
		;
	ga.v.rxq[ga.v.rx_prod++ & (PV_NIC_RXQ_SIZE - 1)] =
		(struct pv_nic_desc){ .buf_id = ga.buf[20], .len = 2048, .flags = PV_NIC_TX_F_MORE };
	ga.v.rxq[ga.v.rx_prod++ & (PV_NIC_RXQ_SIZE - 1)] =
		(struct pv_nic_desc){ .buf_id = ga.buf[21], .len = 2048, .mss = 1448 };
	__atomic_store_n(&ga.v.sh->rx_prod.v, ga.v.rx_prod, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++) {
		uint32_t len = mk_frame(tfr, MAC_A, MAC_X, 0, ip4("10.0.0.9"), ip4("10.0.0.1"), 17, 53, 100, 0);

		nic_rx_frame(nic, tfr, len, 0);
		ev.type = 0;
		t_vi_event(&ga.v, &ev);
		T_CHECK(ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_RESERVED && ev.queue == 1,
			i ? "chain: RX descriptor with an mss -> RESERVED" :
			    "chain: RX descriptor with a flag -> RESERVED", "type %u code %u", ev.type, ev.code);
	}
}

/* A frame refused as a whole: @code on every descriptor, counted once in *@ctr. */
static void frame_refused(uint32_t len, unsigned int nd, uint32_t flags, uint16_t mss, uint8_t code,
			  const uint64_t *ctr, const char *name)
{
	struct pv_nic_event ev[64];
	uint64_t c0 = *ctr;
	uint32_t idx0 = ga.v.tx_prod;
	unsigned int n0 = cap.n, got;

	post_chain(&ga, 0, tfr, len, nd, flags, mss);
	service(&ga);
	got = events(&ga, ev, 64);
	T_CHECK(got == nd && frame_events(ev, nd, idx0, PV_NIC_EV_ERROR, code, nd, 0) && cap.n == n0 &&
		*ctr == c0 + 1, name, "%u events, sent %u, counter +%llu", got, cap.n - n0,
		(unsigned long long)(*ctr - c0));
}

static void test_chain_refused(void)
{
	struct nic_vi *vi = &nic->vis[ga.vi];
	struct pv_nic_set_mac m = { .vi_id = ga.vi, .flags = PV_NIC_MAC_F_IP, .src_ip = ip4("10.0.0.1") };
	uint32_t len;

	len = mk_frame(tfr, MAC_X, MAC_B, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 60000, 0);
	frame_refused(len, 33, PV_NIC_TX_F_TSO, 1448, PV_NIC_ERR_TX_SPOOF, &vi->st.tx_spoofed,
		      "offload: TSO frame with another source MAC -> TX_SPOOF on all 33");
	memcpy(m.mac, MAC_A, 6);
	T_ASSERT(nic_vi_set_mac(nic, vi, &m) == 0, "A's source IP enforced");
	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.66"), ip4("10.0.0.9"), 6, 80, 60000, 0);
	frame_refused(len, 33, PV_NIC_TX_F_TSO, 1448, PV_NIC_ERR_TX_SPOOF, &vi->st.tx_spoofed,
		      "offload: TSO frame with another source IP -> TX_SPOOF");
	m.flags = 0;
	m.src_ip = 0;
	T_ASSERT(nic_vi_set_mac(nic, vi, &m) == 0, "A's source IP free again");
	/* SET_ADDRS (lib/srcguard.h): the same on a whole TSO chain, IPv4 and IPv6 */
	T_ASSERT(pv_sg_addrs_parse("10.0.0.1 2001:db8::1", &vi->pol.addrs) == 0, "addrs");
	vi->pol.addrs_set = true;
	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.66"), ip4("10.0.0.9"), 6, 80, 60000, 0);
	frame_refused(len, 33, PV_NIC_TX_F_TSO, 1448, PV_NIC_ERR_TX_SPOOF, &vi->st.tx_spoofed,
		      "offload: addrs: TSO frame from an address not the VI's -> TX_SPOOF");
	len = mk_frame6(tfr, MAC_X, MAC_A, 0, 1, 2, 6, 80, 59980, 0x72, 0);	/* as long as the IPv4 one */
	frame_refused(len, 33, PV_NIC_TX_F_TSO, 1428, PV_NIC_ERR_TX_SPOOF, &vi->st.tx_spoofed,
		      "offload: addrs: IPv6 TSO frame from an address not the VI's -> TX_SPOOF");
	vi->pol.addrs_set = false;

	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 30000, 0);
	frame_refused(len, 16, PV_NIC_TX_F_TSO, 1448, PV_NIC_ERR_TX_OFFLOAD, &vi->st.tx_offload_errors,
		      "offload: TSO on UDP -> TX_OFFLOAD");
	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 30000, 0);
	frame_refused(len, 16, PV_NIC_TX_F_TSO, 0, PV_NIC_ERR_TX_OFFLOAD, &vi->st.tx_offload_errors,
		      "offload: TSO with mss 0 -> TX_OFFLOAD");
	frame_refused(len, 16, PV_NIC_TX_F_TSO, 40, PV_NIC_ERR_TX_OFFLOAD, &vi->st.tx_offload_errors,
		      "offload: TSO with mss 40 (below the minimum) -> TX_OFFLOAD");
	frame_refused(len, 16, PV_NIC_TX_F_TSO, 1461, PV_NIC_ERR_TX_TOO_BIG, &vi->st.tx_too_big,
		      "offload: TSO headers + mss over MTU + 14 -> TX_TOO_BIG (nic.h)");
	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 65495, 0);
	frame_refused(len + 5, 33, PV_NIC_TX_F_TSO, 1448, PV_NIC_ERR_TX_TOO_BIG, &vi->st.tx_too_big,
		      "offload: TSO frame over PV_NIC_TSO_MAX -> TX_TOO_BIG (nic.h)");
	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 3000, 0);
	frame_refused(len, 2, PV_NIC_TX_F_CSUM, 0, PV_NIC_ERR_TX_TOO_BIG, &vi->st.tx_too_big,
		      "offload: 3000-byte chain without TSO -> TX_TOO_BIG");
	len = mk_arp(tfr, MAC_A, ip4("10.0.0.1"));
	frame_refused(len, 1, PV_NIC_TX_F_CSUM, 0, PV_NIC_ERR_TX_OFFLOAD, &vi->st.tx_offload_errors,
		      "offload: CSUM on an ARP frame -> TX_OFFLOAD");
	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 0, 0);
	frame_refused(13, 1, PV_NIC_TX_F_TSO, 1448, PV_NIC_ERR_TX_RUNT, &vi->st.tx_runt,
		      "offload: 13-byte TSO frame -> TX_RUNT");
}

/* The virtio-net header the xmit hook gets for a TSO frame. */
static void tso_meta(uint32_t len, uint16_t mss, uint8_t gso, uint16_t start, uint16_t hdr,
		     const char *name)
{
	struct pv_nic_event ev[64];
	unsigned int n0 = cap.n, nd = (len + PV_NIC_BUF_SIZE - 1) / PV_NIC_BUF_SIZE + 1;

	tfr[start + 16] = 0x12;	/* the checksum field may hold anything */
	tfr[start + 17] = 0x34;
	post_chain(&ga, 0, tfr, len, nd, PV_NIC_TX_F_TSO, mss);
	service(&ga);
	events(&ga, ev, 64);
	T_CHECK(cap.n == n0 + 1 && cap.vh.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && cap.vh.gso_type == gso &&
		le16toh(cap.vh.gso_size) == mss && le16toh(cap.vh.csum_start) == start &&
		le16toh(cap.vh.csum_offset) == 16 && le16toh(cap.vh.hdr_len) == hdr &&
		t_vnet_csum_ok(cap.last, cap.len, start, 16), name,
		"sent %u flags %u gso %u/%u start %u off %u hdr %u", cap.n - n0, cap.vh.flags,
		cap.vh.gso_type, le16toh(cap.vh.gso_size), le16toh(cap.vh.csum_start),
		le16toh(cap.vh.csum_offset), le16toh(cap.vh.hdr_len));
}

static void test_tso_meta(void)
{
	uint32_t len;

	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 50000, 0x71);
	tso_meta(len, 1448, VIRTIO_NET_HDR_GSO_TCPV4, 34, 54,
		 "tso meta: IPv4: GSO TCPV4, gso_size, csum 34/16, hdr_len 54, pseudo sum");
	len = mk_frame6(tfr, MAC_X, MAC_A, 0, 1, 2, 6, 80, 40000, 0x72, 0);
	tso_meta(len, 1428, VIRTIO_NET_HDR_GSO_TCPV6, 54, 74,
		 "tso meta: IPv6: GSO TCPV6, csum 54/16, hdr_len 74");
	len = mk_frame(tfr, MAC_X, MAC_A, 42, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 30000, 0x73);
	tso_meta(len, 1460, VIRTIO_NET_HDR_GSO_TCPV4, 38, 58,
		 "tso meta: one VLAN tag: csum 38/16, hdr_len 58, mss 1460 (+4 allowed)");
	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53, 1000, 0x74);
	post_chain(&ga, 0, tfr, len, 3, PV_NIC_TX_F_CSUM, 0);
	service(&ga);
	{
		struct pv_nic_event ev[4];

		events(&ga, ev, 4);
	}
	T_CHECK(cap.vh.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && cap.vh.gso_type == 0 &&
		le16toh(cap.vh.csum_start) == 34 && le16toh(cap.vh.csum_offset) == 6 &&
		t_vnet_csum_ok(cap.last, cap.len, 34, 6), "csum meta: UDP/IPv4 chain: NEEDS_CSUM 34/6, no GSO",
		"flags %u gso %u start %u", cap.vh.flags, cap.vh.gso_type, le16toh(cap.vh.csum_start));
}

/* ---- the private header copy: what is copied, what is sent from guest memory ---- */

/* The 'guest' rewrites buffer 0 of A while the NIC sends (inside the xmit hook). */
static uint8_t *mut_buf;

/* Where the NIC maps buffer @i of @g (its own mapping of the same memory): payload iovecs point there. */
static const void *nic_gbuf(struct guest *g, unsigned int i, uint32_t off)
{
	const struct nic_buf *b = &nic->bt.e[g->buf[i]];

	return b->reg->base + b->off + off;
}

static void mut_xmit(void *arg, struct nic_txframe *f, unsigned int n)
{
	uint32_t spoof_ip = ip4("10.0.0.66");

	memcpy(mut_buf + 6, MAC_B, 6);		/* source MAC */
	memcpy(mut_buf + 26, &spoof_ip, 4);	/* source IP */
	memset(mut_buf + 600, 0xee, 100);	/* payload */
	cap_xmit(arg, f, n);
}

static void test_hdr_payload_change(void)
{
	uint32_t len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 1000, 0x5a);
	uint32_t sip = ip4("10.0.0.1");
	unsigned int n0 = cap.n;
	struct pv_nic_event ev;

	mut_buf = gbuf(&ga, 0);
	nic_set_xmit(nic, mut_xmit, &cap, 1500);
	ev = tx_one(&ga, 0, tfr, len);
	nic_set_xmit(nic, cap_xmit, &cap, 1500);
	T_CHECK(ev.type == PV_NIC_EV_TX_DONE && cap.n == n0 + 1 && cap.len == len,
		"hdr copy: a frame rewritten during the send still goes", "event %u sent %u", ev.type,
		cap.n - n0);
	T_CHECK(!memcmp(cap.last + 6, MAC_A, 6) && !memcmp(cap.last + 26, &sip, 4) &&
		!memcmp(cap.last, tfr, 256),
		"hdr copy: headers rewritten during the send: the checked ones go out (MAC A, 10.0.0.1)",
		"src %02x ip %02x", cap.last[11], cap.last[29]);
	T_CHECK(cap.niov == 2 && cap.hdr_len == NIC_TX_HDR_MAX &&
		cap.iov1 == nic_gbuf(&ga, 0, NIC_TX_HDR_MAX) && cap.last[650] == 0xee &&
		cap.last[599] == 0x5a,
		"hdr copy: the payload is read from the guest's buffer at send time (its change shows)",
		"niov %u hdr %u byte %#x", cap.niov, cap.hdr_len, cap.last[650]);
}

/* A TSO chain of 32 descriptors: header copy + 32 payload iovecs, the bytes in order. */
static void test_hdr_tso32(void)
{
	struct pv_nic_event ev[64];
	uint32_t len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 64000 - 54, 0);
	unsigned int n0 = cap.n, got;

	for (uint32_t i = 54; i < len; i++)
		tfr[i] = (uint8_t)(i * 13 + (i >> 9));
	post_chain(&ga, 0, tfr, len, 32, PV_NIC_TX_F_TSO, 1448);	/* 32 x 2000 bytes */
	service(&ga);
	got = events(&ga, ev, 64);
	T_CHECK(got == 32 && frame_events(ev, 32, ga.v.tx_prod - 32, PV_NIC_EV_TX_DONE, 0, 32, 0) &&
		cap.n == n0 + 1, "hdr copy: TSO chain of 32 descriptors: sent, 32 TX_DONE",
		"%u events, sent %u", got, cap.n - n0);
	T_CHECK(cap.niov == 33 && cap.hdr_len == NIC_TX_HDR_MAX &&
		cap.iov1 == nic_gbuf(&ga, 0, NIC_TX_HDR_MAX) && !cap.bad_shape,
		"hdr copy: TSO chain of 32: header copy + 32 payload iovecs into the buffers",
		"niov %u hdr %u", cap.niov, cap.hdr_len);
	T_CHECK(wire_is(tfr, len, 34 + 16) && t_vnet_csum_ok(cap.last, cap.len, 34, 16),
		"hdr copy: TSO chain of 32: the hook sees the frame's bytes in order, checksum right",
		"len %u/%u", cap.len, len);
}

/* Frames of exactly NIC_TX_HDR_MAX bytes (all private) and one more (one payload byte). */
static void test_hdr_edges(void)
{
	uint32_t len;
	struct pv_nic_event ev;
	unsigned int n0 = cap.n;

	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53,
		       NIC_TX_HDR_MAX - 42, 0x31);
	ev = tx_one(&ga, 1, tfr, len);
	T_CHECK(len == NIC_TX_HDR_MAX && ev.type == PV_NIC_EV_TX_DONE && cap.n == n0 + 1 &&
		cap.niov == 1 && cap.hdr_len == len && wire_is(tfr, len, 0),
		"hdr copy: a frame of exactly NIC_TX_HDR_MAX bytes: all private, no payload iovec",
		"len %u event %u niov %u", len, ev.type, cap.niov);
	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53,
		       NIC_TX_HDR_MAX + 1 - 42, 0x32);
	tfr[len - 1] = 0x99;
	ev = tx_one(&ga, 1, tfr, len);
	T_CHECK(ev.type == PV_NIC_EV_TX_DONE && cap.n == n0 + 2 && cap.niov == 2 &&
		cap.hdr_len == NIC_TX_HDR_MAX && cap.iov1 == nic_gbuf(&ga, 1, NIC_TX_HDR_MAX) &&
		wire_is(tfr, len, 0), "hdr copy: NIC_TX_HDR_MAX + 1 bytes: header copy + a 1-byte payload iovec",
		"event %u niov %u hdr %u", ev.type, cap.niov, cap.hdr_len);
	post_chain(&ga, 2, tfr, len, 1, PV_NIC_TX_F_CSUM, 0);
	service(&ga);
	T_CHECK(t_vi_event(&ga.v, &ev) && ev.type == PV_NIC_EV_TX_DONE && cap.n == n0 + 3 &&
		t_vnet_csum_ok(cap.last, cap.len, 34, 6),
		"hdr copy: NIC_TX_HDR_MAX + 1 bytes, CSUM: checksum over the payload from guest memory",
		"event %u", ev.type);
	len = mk_frame(tfr, MAC_X, MAC_B, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53,
		       NIC_TX_HDR_MAX + 1 - 42, 0x33);
	ev = tx_one(&ga, 1, tfr, len);
	T_CHECK(ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_TX_SPOOF && cap.n == n0 + 3,
		"hdr copy: NIC_TX_HDR_MAX + 1 bytes from B's MAC -> SPOOF", "event %u code %u",
		ev.type, ev.code);
}

/* B with a source IPv4 enforced (10.0.0.2), or not. */
static void gb_ip(bool on)
{
	struct pv_nic_set_mac m = { .vi_id = gb.vi };

	memcpy(m.mac, MAC_B, 6);
	if (on) {
		m.flags = PV_NIC_MAC_F_IP;
		m.src_ip = ip4("10.0.0.2");
	}
	nic_vi_set_mac(nic, &nic->vis[gb.vi], &m);
}

/* One frame from B as descriptors of the lengths @dl (0-terminated; then full buffers). */
static struct pv_nic_event tx_split(const uint8_t *fr, uint32_t len, const uint16_t *dl,
				    uint32_t flags, uint16_t mss, unsigned int *nd_out)
{
	struct pv_nic_event ev = { .type = 0xff }, e;
	uint32_t off = 0;
	unsigned int nd = 0, k = 0;

	while (off < len) {
		uint32_t want = dl[k] ? dl[k++] : PV_NIC_BUF_SIZE;
		uint32_t n = want < len - off ? want : len - off;
		bool last = off + n == len;

		memcpy(gbuf(&gb, nd), fr + off, n);
		t_vi_tx_put(&gb.v, nd, &(struct pv_nic_desc){ .buf_id = gb.buf[nd], .len = (uint16_t)n,
			    .flags = (last ? 0 : PV_NIC_TX_F_MORE) | (nd ? 0 : flags), .mss = nd ? 0 : mss });
		off += n;
		nd++;
	}
	t_vi_tx_post(&gb.v, nd);
	service(&gb);
	for (unsigned int j = 0; j < nd; j++)
		if (t_vi_event(&gb.v, &e) && (j == 0 || e.type == PV_NIC_EV_ERROR))
			ev = e;
	*nd_out = nd;
	return ev;
}

/* Headers spread over descriptors shorter than them: copied, checked, sent as one. */
static void test_hdr_span(void)
{
	static const uint16_t tiny[] = { 10, 18, 3, 25, 0 };	/* MAC, IP source, TCP split */
	static const uint16_t one[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
					1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };
	uint32_t len;
	unsigned int n0 = cap.n, nd;
	struct pv_nic_event ev;

	gb_ip(true);
	len = mk_frame(tfr, MAC_X, MAC_B, 0, ip4("10.0.0.2"), ip4("10.0.0.9"), 6, 80, 1200, 0x41);
	for (uint32_t i = 54; i < len; i++)
		tfr[i] = (uint8_t)(i * 3);
	ev = tx_split(tfr, len, tiny, PV_NIC_TX_F_CSUM, 0, &nd);
	T_CHECK(nd == 5 && ev.type == PV_NIC_EV_TX_DONE && cap.n == n0 + 1 && cap.hdr_len == NIC_TX_HDR_MAX &&
		cap.niov == 2 && cap.iov1 == nic_gbuf(&gb, 4, NIC_TX_HDR_MAX - 56) &&
		wire_is(tfr, len, 34 + 16) && t_vnet_csum_ok(cap.last, cap.len, 34, 16) && !cap.bad_shape,
		"hdr copy: headers over descriptors of 10, 18, 3, 25 bytes: copied whole, checked, sent",
		"nd %u event %u code %u niov %u", nd, ev.type, ev.code, cap.niov);
	len = mk_frame(tfr, MAC_X, MAC_B, 0, ip4("10.0.0.66"), ip4("10.0.0.9"), 6, 80, 1200, 0x42);
	ev = tx_split(tfr, len, tiny, 0, 0, &nd);
	T_CHECK(ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_TX_SPOOF && cap.n == n0 + 1,
		"hdr copy: a spoofed source IP split over two descriptors -> SPOOF", "event %u code %u",
		ev.type, ev.code);
	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.2"), ip4("10.0.0.9"), 6, 80, 1200, 0x43);
	ev = tx_split(tfr, len, tiny, 0, 0, &nd);
	T_CHECK(ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_TX_SPOOF && cap.n == n0 + 1,
		"hdr copy: another source MAC split over two descriptors -> SPOOF", "event %u code %u",
		ev.type, ev.code);
	len = mk_frame(tfr, MAC_X, MAC_B, 0, ip4("10.0.0.2"), ip4("10.0.0.9"), 6, 80, 1200, 0x44);
	ev = tx_split(tfr, len, one, PV_NIC_TX_F_CSUM, 0, &nd);
	T_CHECK(nd == 39 && ev.type == PV_NIC_EV_TX_DONE && cap.n == n0 + 2 && cap.niov == 2 &&
		wire_is(tfr, len, 34 + 16) && t_vnet_csum_ok(cap.last, cap.len, 34, 16),
		"hdr copy: 38 one-byte descriptors then the rest: headers gathered, payload one iovec",
		"nd %u event %u code %u niov %u", nd, ev.type, ev.code, cap.niov);
	gb_ip(false);
}

/*
 * The largest headers: 802.1Q + IPv4 with 40 bytes of options + TCP with
 * 40 bytes of options, 138 bytes, fit the header copy: checked (source IP
 * behind the options) and offloaded.
 */
static uint32_t mk_big_hdr(uint8_t *f, const uint8_t *src, uint32_t sip, uint32_t plen)
{
	uint32_t dip = ip4("10.0.0.9"), tot = 60 + 60 + plen;
	uint8_t *ip = f + 18, *tcp = f + 78;

	memcpy(f, MAC_X, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x81; f[13] = 0x00; f[14] = 0; f[15] = 7;
	f[16] = 0x08; f[17] = 0x00;
	memset(ip, 1, 60);		/* options: NOPs */
	memset(ip, 0, 20);
	ip[0] = 0x4f;			/* IHL 15: 60 bytes */
	ip[2] = (uint8_t)(tot >> 8); ip[3] = (uint8_t)tot;
	ip[8] = 64; ip[9] = 6;
	memcpy(ip + 12, &sip, 4);
	memcpy(ip + 16, &dip, 4);
	memset(tcp, 1, 60);
	memset(tcp, 0, 20);
	tcp[0] = 0x30; tcp[1] = 0x39; tcp[3] = 80;
	tcp[12] = 0xf0;			/* data offset 15: 60 bytes */
	tcp[13] = 0x10;
	for (uint32_t i = 0; i < plen; i++)
		tcp[60 + i] = (uint8_t)(i * 5 + 1);
	return 138 + plen;
}

static void test_hdr_largest(void)
{
	static const uint16_t split[] = { 100, 0 };
	uint32_t len;
	unsigned int n0 = cap.n, nd;
	struct pv_nic_event ev;

	_Static_assert(14 + 4 + 60 + 60 <= NIC_TX_HDR_MAX, "largest IPv4/TCP headers fit the copy");
	gb_ip(true);
	len = mk_big_hdr(tfr, MAC_B, ip4("10.0.0.2"), 20000);
	ev = tx_split(tfr, len, split, PV_NIC_TX_F_TSO, 1300, &nd);
	T_CHECK(ev.type == PV_NIC_EV_TX_DONE && cap.n == n0 + 1 && le16toh(cap.vh.hdr_len) == 138 &&
		le16toh(cap.vh.csum_start) == 78 && cap.vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 &&
		wire_is(tfr, len, 78 + 16) && t_vnet_csum_ok(cap.last, cap.len, 78, 16),
		"hdr copy: tag + IPv4 with 40 option bytes + TCP with 40: TSO, hdr_len 138, csum 78/16",
		"event %u code %u hdr %u start %u", ev.type, ev.code, le16toh(cap.vh.hdr_len),
		le16toh(cap.vh.csum_start));
	len = mk_big_hdr(tfr, MAC_B, ip4("10.0.0.66"), 20000);
	ev = tx_split(tfr, len, split, PV_NIC_TX_F_TSO, 1300, &nd);
	T_CHECK(ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_TX_SPOOF && cap.n == n0 + 1,
		"hdr copy: largest headers with a spoofed source IP -> SPOOF", "event %u code %u",
		ev.type, ev.code);
	gb_ip(false);
}

/* The event queue has room for 3: a single frame goes, a 5-descriptor chain waits whole. */
static void test_chain_evq(void)
{
	struct nic_vi *vi = &nic->vis[gb.vi];
	struct pv_nic_event ev;
	uint32_t len = mk_frame(tfr, MAC_X, MAC_B, 0, ip4("10.0.0.2"), ip4("10.0.0.9"), 17, 53, 60, 0);
	uint32_t idx, stalls0 = (uint32_t)vi->st.evq_stalls;
	unsigned int n0, got = 0;

	while (t_vi_event(&gb.v, &ev))
		;
	memcpy(gbuf(&gb, 0), tfr, len);
	for (int i = 0; i < 512; i++)
		t_vi_tx(&gb.v, gb.buf[0], 0, (uint16_t)len, 0);
	service(&gb);
	for (unsigned int i = 0; i < PV_NIC_EVQ_SIZE - 512 - 3; i++)
		t_vi_tx(&gb.v, gb.buf[0], 0, (uint16_t)len, 0);
	service(&gb);
	T_EQ(gb.v.sh->evq_prod.v - gb.v.evq_cons, PV_NIC_EVQ_SIZE - 3, "chain evq: room for 3 events left");
	idx = gb.v.tx_prod;
	t_vi_tx(&gb.v, gb.buf[0], 0, (uint16_t)len, 0);
	len = mk_frame(tfr, MAC_X, MAC_B, 0, ip4("10.0.0.2"), ip4("10.0.0.9"), 6, 80, 1460, 0x81);
	post_chain(&gb, 1, tfr, len, 5, PV_NIC_TX_F_CSUM, 0);
	n0 = cap.n;
	service(&gb);
	T_CHECK(gb.v.sh->tx_cons.v == idx + 1 && gb.v.sh->evq_prod.v - gb.v.evq_cons == PV_NIC_EVQ_SIZE - 2 &&
		cap.n == n0 + 1 && vi->st.evq_stalls > stalls0,
		"chain evq: the single frame went, the 5-descriptor chain not even in part (stall counted)",
		"tx_cons %u (want %u) outstanding %u sent %u", gb.v.sh->tx_cons.v, idx + 1,
		gb.v.sh->evq_prod.v - gb.v.evq_cons, cap.n - n0);
	while (t_vi_event(&gb.v, &ev))
		if (ev.index >= idx + 1)
			got++;
	service(&gb);	/* the doorbell after reading */
	while (t_vi_event(&gb.v, &ev))
		got += ev.type == PV_NIC_EV_TX_DONE && ev.index > idx;
	T_CHECK(got == 5 && cap.n == n0 + 2 && gb.v.sh->tx_cons.v == gb.v.tx_prod,
		"chain evq: after the guest reads and rings, the chain goes whole", "%u events, sent %u",
		got, cap.n - n0);
}

/* A flood of TSO chains from A holds B's frame no longer than one round; A never half a chain. */
static void test_chain_fair(void)
{
	struct pv_nic_event ev;
	uint32_t len;
	unsigned int a_done = 0, a_bad = 0, b_done = 0, rounds = 0;
	uint64_t tso0 = nic->vis[ga.vi].st.tx_tso;

	while (t_vi_event(&ga.v, &ev))
		;
	while (t_vi_event(&gb.v, &ev))
		;
	len = mk_frame(tfr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 6, 80, 60000, 0);
	for (int i = 0; i < 15; i++)
		post_chain(&ga, 0, tfr, len, 33, PV_NIC_TX_F_TSO, 1448);
	len = mk_frame(tfr, MAC_X, MAC_B, 0, ip4("10.0.0.2"), ip4("10.0.0.9"), 17, 53, 60, 0);
	memcpy(gbuf(&gb, 0), tfr, len);
	t_vi_tx(&gb.v, gb.buf[0], 0, (uint16_t)len, 0);
	nic_vi_kick(nic, &nic->vis[ga.vi]);
	nic_vi_kick(nic, &nic->vis[gb.vi]);
	T_CHECK(nic_service(nic), "chain fair: flood of chains leaves work after one round", "no work left");
	while (t_vi_event(&gb.v, &ev))
		b_done += ev.type == PV_NIC_EV_TX_DONE;
	while (t_vi_event(&ga.v, &ev))
		a_done++;
	/* 60,054 bytes cut at 1448 are 42 segments, 63,222 wire bytes: two spend a quantum. */
	T_CHECK(b_done == 1 && a_done == 2 * 33, "chain fair: B served in the first round, A held to "
		"whole chains within its quantum (2 x 33)", "b %u a %u", b_done, a_done);
	while (nic_service(nic) && rounds++ < 100)
		while (t_vi_event(&ga.v, &ev))
			a_done++, a_bad += ev.type != PV_NIC_EV_TX_DONE;
	while (t_vi_event(&ga.v, &ev))
		a_done++, a_bad += ev.type != PV_NIC_EV_TX_DONE;
	T_CHECK(a_done == 15 * 33 && !a_bad && nic->vis[ga.vi].st.tx_tso == tso0 + 15,
		"chain fair: A's 15 TSO chains all sent in later rounds", "a %u bad %u", a_done, a_bad);
}

/*
 * Deficit round robin by wire bytes.  Keep the ring of @g full of frames:
 * @tso, 60,000-byte TSO chains of 30 descriptors; else single @len-byte
 * frames.  What it posted and what it was told: its TX_DONE events.
 */
static unsigned int drr_fill(struct guest *g, const uint8_t *src, int tso, uint32_t len,
			     unsigned int *done)
{
	struct pv_nic_event ev;
	unsigned int posted = 0;

	while (t_vi_event(&g->v, &ev))
		*done += ev.type == PV_NIC_EV_TX_DONE;
	for (;;) {
		uint32_t used = g->v.tx_prod - g->v.sh->tx_cons.v;

		if (tso) {
			if (used + 30 > PV_NIC_TXQ_SIZE)
				break;
			post_chain(g, 0, src, len, 30, PV_NIC_TX_F_TSO, 1448);
		} else {
			if (used + 1 > PV_NIC_TXQ_SIZE)
				break;
			t_vi_tx(&g->v, g->buf[0], 0, (uint16_t)len, 0);
		}
		posted++;
	}
	nic_vi_kick(nic, &nic->vis[g->vi]);
	return posted;
}

/*
 * Two VIs kept busy, one of 600-byte frames (128 descriptors: 79,872 wire
 * bytes a turn under a descriptor budget), one of 60,000-byte TSO chains:
 * the same wire bytes each over 200 passes, within one quantum and frame;
 * every turn of each within a quantum and its largest frame; the waits of
 * each within the other's one turn.
 */
static void test_drr_share(void)
{
	static uint8_t big[60100];
	uint8_t small[600];
	struct pv_nic_event ev;
	struct nic_vi *va = &nic->vis[ga.vi], *vb = &nic->vis[gb.vi];
	uint32_t lsmall = mk_frame(small, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53,
				   600 - 42, 0);
	uint32_t lbig = mk_frame(big, MAC_X, MAC_B, 0, ip4("10.0.0.2"), ip4("10.0.0.9"), 6, 80,
				 60000, 0);
	uint64_t wa0, wb0, ta0, tb0, qa0, qb0, wa, wb, ta, tb;
	unsigned int a_done = 0, b_done = 0;
	uint64_t cost_b = (lbig - 54) + ((lbig - 54 + 1447) / 1448) * (54 + NIC_WIRE_OVERHEAD);
	double ratio;

	while (t_vi_event(&ga.v, &ev))
		;
	while (t_vi_event(&gb.v, &ev))
		;
	memcpy(gbuf(&ga, 0), small, lsmall);
	wa0 = va->st.tx_wire_bytes, wb0 = vb->st.tx_wire_bytes;
	ta0 = va->st.tx_turns, tb0 = vb->st.tx_turns;
	qa0 = va->st.tx_quantum_stops, qb0 = vb->st.tx_quantum_stops;
	va->st.tx_wait_max_bytes = vb->st.tx_wait_max_bytes = 0;
	for (int pass = 0; pass < 200; pass++) {
		drr_fill(&ga, small, 0, lsmall, &a_done);
		drr_fill(&gb, big, 1, lbig, &b_done);
		nic_service(nic);
	}
	wa = va->st.tx_wire_bytes - wa0, wb = vb->st.tx_wire_bytes - wb0;
	ta = va->st.tx_turns - ta0, tb = vb->st.tx_turns - tb0;
	ratio = (double)wa / (double)wb;
	printf("# drr share: 600-byte VI %llu wire bytes in %llu turns, TSO VI %llu in %llu; ratio %.3f\n",
	       (unsigned long long)wa, (unsigned long long)ta, (unsigned long long)wb,
	       (unsigned long long)tb, ratio);
	T_CHECK(wa + NIC_TX_QUANTUM + cost_b >= wb && wb + NIC_TX_QUANTUM + cost_b >= wa,
		"drr share: busy VIs of 600-byte frames and of TSO chains get the same wire bytes "
		"(within a quantum and a frame)", "%llu vs %llu", (unsigned long long)wa,
		(unsigned long long)wb);
	T_CHECK(ta == 200 && tb == 200 && wa <= ta * (NIC_TX_QUANTUM + 624) &&
		wb <= tb * (NIC_TX_QUANTUM + cost_b),
		"drr share: one turn a pass each, every turn within a quantum and its largest frame",
		"turns %llu %llu", (unsigned long long)ta, (unsigned long long)tb);
	T_CHECK(va->st.tx_quantum_stops - qa0 >= 190 && vb->st.tx_quantum_stops - qb0 >= 190,
		"drr share: both held by their quantum (tx_quantum_stops)", "%llu %llu",
		(unsigned long long)(va->st.tx_quantum_stops - qa0),
		(unsigned long long)(vb->st.tx_quantum_stops - qb0));
	T_CHECK(va->st.tx_wait_max_bytes <= NIC_TX_QUANTUM + cost_b &&
		vb->st.tx_wait_max_bytes <= NIC_TX_QUANTUM + 624 && vb->st.tx_wait_max_bytes > 0,
		"drr share: each waited at most one turn of the other (tx_wait_max_bytes)",
		"a %llu b %llu", (unsigned long long)va->st.tx_wait_max_bytes,
		(unsigned long long)vb->st.tx_wait_max_bytes);
	/* drain: everything posted goes, the events read as a guest would */
	for (int i = 0; i < 200 && (ga.v.sh->tx_cons.v != ga.v.tx_prod ||
				    gb.v.sh->tx_cons.v != gb.v.tx_prod); i++) {
		while (t_vi_event(&ga.v, &ev))
			;
		while (t_vi_event(&gb.v, &ev))
			;
		nic_vi_kick(nic, va);
		nic_vi_kick(nic, vb);
		nic_service(nic);
	}
	while (t_vi_event(&ga.v, &ev))
		;
	while (t_vi_event(&gb.v, &ev))
		;
	T_CHECK(ga.v.sh->tx_cons.v == ga.v.tx_prod && gb.v.sh->tx_cons.v == gb.v.tx_prod,
		"drr share: both rings drained once the flood stops", "a %u/%u b %u/%u",
		ga.v.sh->tx_cons.v, ga.v.tx_prod, gb.v.sh->tx_cons.v, gb.v.tx_prod);
}

/*
 * A VI asking for less than its share gets all it asks, every pass, while
 * another floods; a VI that emptied its ring saves no credit (its next
 * turn is one quantum, not two).
 */
static void test_drr_light(void)
{
	uint8_t fr[1514];
	struct pv_nic_event ev;
	struct nic_vi *vb = &nic->vis[gb.vi];
	uint32_t len = mk_frame(fr, MAC_X, MAC_A, 0, ip4("10.0.0.1"), ip4("10.0.0.9"), 17, 53,
				1514 - 42, 0);
	unsigned int a_done = 0, b_ok = 1, b_sent = 0;
	uint64_t qb0 = vb->st.tx_quantum_stops, w0, t0;

	memcpy(gbuf(&ga, 0), fr, len);
	mk_frame(fr, MAC_X, MAC_B, 0, ip4("10.0.0.2"), ip4("10.0.0.9"), 17, 53, 1514 - 42, 0);
	memcpy(gbuf(&gb, 0), fr, len);
	while (t_vi_event(&gb.v, &ev))
		;
	for (int pass = 0; pass < 50; pass++) {
		unsigned int got = 0;

		drr_fill(&ga, NULL, 0, len, &a_done);
		for (int k = 0; k < 10; k++)	/* 15,380 wire bytes: under a quantum */
			t_vi_tx(&gb.v, gb.buf[0], 0, (uint16_t)len, 0);
		nic_vi_kick(nic, vb);
		nic_service(nic);
		while (t_vi_event(&gb.v, &ev))
			got += ev.type == PV_NIC_EV_TX_DONE;
		b_ok &= got == 10;
		b_sent += got;
	}
	T_CHECK(b_ok && vb->st.tx_quantum_stops == qb0,
		"drr light: 10 frames a pass beside a flood, all sent in the pass they were posted",
		"sent %u of 500, quantum stops +%llu", b_sent,
		(unsigned long long)(vb->st.tx_quantum_stops - qb0));
	/* B idle for passes, then a burst: its turn is one quantum, nothing saved. */
	for (int pass = 0; pass < 5; pass++) {
		drr_fill(&ga, NULL, 0, len, &a_done);
		nic_service(nic);
	}
	for (int k = 0; k < 100; k++)
		t_vi_tx(&gb.v, gb.buf[0], 0, (uint16_t)len, 0);
	nic_vi_kick(nic, vb);
	w0 = vb->st.tx_wire_bytes, t0 = vb->st.tx_turns;
	drr_fill(&ga, NULL, 0, len, &a_done);
	nic_service(nic);
	T_CHECK(vb->st.tx_turns == t0 + 1 && vb->st.tx_wire_bytes - w0 < NIC_TX_QUANTUM + 1538 &&
		vb->st.tx_wire_bytes - w0 >= NIC_TX_QUANTUM,
		"drr light: after idle passes, a burst gets one quantum's turn (no saved credit)",
		"%llu wire bytes", (unsigned long long)(vb->st.tx_wire_bytes - w0));
	for (int i = 0; i < 100 && nic_service(nic); i++)
		while (t_vi_event(&ga.v, &ev) || t_vi_event(&gb.v, &ev))
			;
	while (t_vi_event(&ga.v, &ev) || t_vi_event(&gb.v, &ev))
		;
}

/* nic_client.h's vi_user_tx_post_frame(), as the host VI's user: a chain posted whole. */
static void test_client_post_frame(void)
{
	struct nic_tx_frag frag[PV_NIC_TX_MAX_FRAGS + 1];
	struct pv_nic_event ev[8];
	struct vi_user u;
	uint32_t len, idx0;
	unsigned int n0 = cap.n, got;
	int rc;

	if (vi_user_open(&u, nic->vis[gh.vi].mem_fd, -1, -1)) {
		T_CHECK(0, "client: vi_user_open on the host VI", "failed");
		return;
	}
	u.tx_prod = gh.v.tx_prod;	/* the test's guest side posted before */
	u.evq_cons = gh.v.evq_cons;
	for (unsigned int j = 0; j <= PV_NIC_TX_MAX_FRAGS; j++)
		frag[j] = (struct nic_tx_frag){ .buf_id = gh.buf[j], .len = 100 };
	rc = vi_user_tx_post_frame(&u, frag, 0, 0, 0) == -EINVAL &&
	     vi_user_tx_post_frame(&u, frag, PV_NIC_TX_MAX_FRAGS + 1, 0, 0) == -EINVAL &&
	     vi_user_tx_post_frame(&u, frag, 2, PV_NIC_TX_F_MORE, 0) == -EINVAL &&
	     vi_user_tx_post_frame(&u, frag, 2, PV_NIC_TX_F_CSUM, 1448) == -EINVAL;
	T_CHECK(rc && u.tx_prod == gh.v.tx_prod, "client: post_frame refuses bad counts, flags, mss",
		"rc %d", rc);
	u.tx_prod += PV_NIC_TXQ_SIZE - 2;	/* pretend the ring is nearly full */
	rc = vi_user_tx_post_frame(&u, frag, 3, 0, 0);
	u.tx_prod -= PV_NIC_TXQ_SIZE - 2;
	T_EQ(rc, -ENOSPC, "client: post_frame without ring room -> -ENOSPC");

	len = mk_frame(tfr, MAC_X, MAC_B, 0, ip4("10.0.0.2"), ip4("10.0.0.9"), 6, 80, 1200, 0x91);
	for (unsigned int j = 0; j < 3; j++) {
		frag[j] = (struct nic_tx_frag){ .buf_id = gh.buf[10 + j], .off = 8,
						.len = (uint16_t)(j < 2 ? 500 : len - 1000) };
		memcpy(gbuf(&gh, 10 + j) + 8, tfr + 500 * j, frag[j].len);
	}
	idx0 = u.tx_prod;
	rc = vi_user_tx_post_frame(&u, frag, 3, PV_NIC_TX_F_CSUM, 0);
	service(&gh);
	got = 0;
	while (got < 8 && vi_user_event(&u, &ev[got]))
		got++;
	T_CHECK(rc == 0 && got == 3 && frame_events(ev, 3, idx0, PV_NIC_EV_TX_DONE, 0, 3, 0) &&
		cap.n == n0 + 1 && wire_is(tfr, len, 50) && cap.vh.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM,
		"client: post_frame: a 3-piece CSUM frame posted whole, sent as one",
		"rc %d events %u sent %u", rc, got, cap.n - n0);
	gh.v.tx_prod = u.tx_prod;
	gh.v.evq_cons = u.evq_cons;
	vi_user_close(&u);
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
	struct nic_config cfg = { .max_vis = 4, .nr_bufs = T_NR_BUFS, .max_filters = 16, .vi_filters = 4 };

	pv_log_init("test_nic_vi", PV_LOG_ERR, 0);
	nic = nic_new(NULL, &cfg);
	T_ASSERT(nic != NULL, "nic_new");
	if (!nic)
		return t_done();
	nic_set_xmit(nic, cap_xmit, &cap, 1500);
	T_CHECK(guest_setup(&ga, &owner_a, MAC_A) == 0 && guest_setup(&gb, &owner_b, MAC_B) == 0 &&
		guest_setup(&gh, &owner_h, NULL) == 0 && nic_set_host(nic, gh.vi) == 0,
		"setup: three VIs, 64 buffers each", "failed: %s", strerror(errno));
	T_CHECK(ga.v.sh->info.magic == PV_NIC_VI_MAGIC && ga.v.sh->info.vi_id == ga.vi &&
		ga.v.sh->info.evq_off == PV_NIC_OFF_EVQ, "setup: VI memory header as documented",
		"magic %#x", ga.v.sh->info.magic);
	T_CHECK(fcntl(nic->vis[ga.vi].mem_fd, F_GET_SEALS) & F_SEAL_SHRINK, "setup: VI memfd sealed", "not sealed");
	test_tx();
	add_filters();
	test_hostile();
	test_rx();
	test_evq();
	test_double_fetch(0);
	test_double_fetch(1);
	test_wake();
	test_polling();
	test_rx_chain_sizes();
	test_rx_chain_gso();
	test_rx_chain_short();
	test_rx_hold();
	test_rx_chain_hostile();
	test_rx_nochain_gso();
	test_fair();
	test_chain_good();
	test_chain_overlong();
	test_chain_partial();
	test_chain_bad();
	test_chain_refused();
	test_tso_meta();
	test_hdr_payload_change();
	test_hdr_tso32();
	test_hdr_edges();
	test_hdr_span();
	test_hdr_largest();
	test_chain_evq();
	test_chain_fair();
	test_drr_share();
	test_drr_light();
	test_client_post_frame();
	test_fault_reset();
	test_free();
	nic_free(nic);
	return t_done();
}
