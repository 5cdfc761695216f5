/* SPDX-License-Identifier: MIT */
/*
 * fuzz_netback_rx.c - libFuzzer harness for netback's RX path against a
 * hostile guest (src/back/netback_rx.c: nb_port_xmit, the bounded queue,
 * nb_rx_deliver's index checks, grant mapping, GSO extra slots, checksum
 * completion), with the frontend's feature keys fuzzed too.
 *
 * Build and run (see tests/fuzz/README):
 *   make fuzz
 *   build-fuzz/fuzz_netback_rx -max_total_time=120 -rss_limit_mb=4096 \
 *       build-fuzz/corpus/fuzz_netback_rx tests/fuzz/corpus/fuzz_netback_rx
 *
 * Set up once (tests/unit/netback_harness.h): a host running hv + xenstore
 * + switch + netback, inline in the fuzzer's thread (tests/lib/host_inline.h:
 * no thread to wake for each exchange), a frame source port "fz-src" on the switch,
 * a well-behaved frontend B (connected, never touched) and fuzzed
 * frontends M, one per feature set (features & 0x1f, made at first use
 * and kept connected, so that a change of features costs no restart).
 * Input:
 *
 *   [features:1] then ops of 8 bytes [op][a][b][c][d][e][f][g]
 *
 *   features     bit 0 feature-sg, 1 feature-gso-tcpv4, 2 feature-gso-tcpv6,
 *                3 feature-no-csum-offload, 4 feature-ipv6-csum-offload;
 *                bits 5-7: a hostile key (1 request-rx-copy = 0, 2 no
 *                feature-rx-notify, 3 feature-sg = "x", 4
 *                multi-queue-num-queues = 2, 5 feature-gso-tcpv4 = "2",
 *                else none): that M reconnects when they change.
 *   op & 3 = 0   post a % 64 + 1 RX requests: ids sequential (b & 1: from
 *                c,d); grant (b >> 1 & 3) 0-1 the next writable RX buffer,
 *                2 a TX buffer (read-only), 3 raw ref e,f + j (any ref:
 *                not granted, a ring page, reserved, beyond the table);
 *                b & 8 do not publish req_prod, b & 16 do not kick
 *   op & 3 = 1   the switch delivers a frame to M: length a,b by c & 3 (0
 *                up to 1533, 1 up to 65535, 2 65536..65543, 3 a runt);
 *                c >> 2 & 3 the checksum flags; c & 16 a plausible
 *                csum_start/offset, else d,e; gso_type f % 4, gso_size
 *                g,f; IPv4, IPv6 or VLAN (e >> 5); g & 7 + 1 segments
 *   op & 3 = 2   take the responses (check them); a & 1: rsp_event b ahead
 *   op & 3 = 3   a % 4: 0 req_prod := b..e, 1 req_prod := private + b % 8
 *                (unwritten slots), both kicked; 2 a kick; 3 req_event
 *                scribbled
 *
 * Checked (abort() when violated), besides ASan/UBSan in the host thread:
 *  - a response for every request consumed, none beyond (until M lies);
 *  - each frame, whole and in order, from its first data response: the
 *    id of the request at that index, offset 0, the status its length in
 *    that slot (NETIF_RSP_ERROR for a read-only or ungranted ref), the
 *    checksum and more_data flags, the GSO extra slot iff negotiated with
 *    its type and size; the bytes in a writable buffer are the frame's,
 *    those after them untouched;
 *  - a frame accepted only if it fits (MTU, GSO, SG), refused otherwise;
 *  - no write to a page M did not grant writable (its TX buffers, its
 *    ungranted pages) nor anywhere in B;
 *  - M disabled (with a reason) only if it lied (a hostile index, ref or
 *    key); B connected throughout.
 * After each input the state is brought back to "nothing posted, nothing
 * queued" (buffers posted for queued frames, small frames for leftover
 * buffers) or, after a lie or a disable, M starts over (Closed, grants
 * revocable, Connected).  PVNET_FUZZ_TRACE=1 prints what happens.
 */
#include "../unit/netback_harness.h"
#include "../lib/host_inline.h"

/*
 * The harness's own model and checks are not instrumented: coverage and
 * comparisons traced in them (a byte-by-byte compare of every frame, a
 * 64 Ki-entry table per input) cost most of an input's time and guide the
 * fuzzer by the checker instead of by netback.  noinline keeps the
 * attribute from being lost in a caller.
 */
#define MODEL		__attribute__((no_sanitize("coverage"), noinline))

#define OP_LEN		8
#define FIFO_MAX	2048
#define RING		TF_RING
#define CANARY		0xa5
#define SPARE_PAGE	514	/* granted, then ended: a revoked ref */

enum kind { K_W, K_RO, K_UNGRANTED, K_HOSTILE };

struct slot {			/* what M posted at a ring index */
	uint16_t id;
	uint8_t kind;
	int page;		/* K_W: the guest frame */
	int dup;		/* K_W: the page was in flight twice */
};

struct xframe {			/* a frame netback accepted for M */
	uint32_t len, seed;
	uint8_t hdr[64];
	uint16_t flags, csum_start, csum_offset, gso_size;
	uint8_t gso_type;
	int gso, fixup;
};

static struct nbh *n;
static struct tf *m, *b;
static struct pv_port src_port;
static struct pv_port *m_port;
static struct slot shadow[RING];
static int inflight[TF_PAGES];
static uint8_t kind_of[65536];
static int page_of[65536];
static struct xframe fifo[FIFO_MAX];
static unsigned int fifo_head, fifo_count;
static uint32_t f_slot, f_off;	/* progress in the head frame */
static int f_extra;		/* the head frame's GSO extra slot comes next */
static uint8_t fbuf[65536 + 16];
/*
 * The frames' bytes: frame seed s is the pattern from pat[s & 255] on
 * (k * 7 + (k >> 8) at k: a frame shifted by one byte, or another
 * frame's bytes, differ everywhere).  Filled by a copy, checked by words.
 */
static uint8_t pat[65536 + 16 + 256];
static uint8_t canary_page[PV_PAGE_SIZE];
static uint8_t *ro_copy;	/* M's TX buffers and spare pages, as they must stay */
static uint8_t *b_copy;		/* all of B's memory */
static int cur_feat = -1, hostile, disabled_ok, trace;
static unsigned int mtu, features, wp, frame_seed;
static uint64_t iters, restarts, by_lie, by_settle;

static void report(void)
{
	fprintf(stderr, "fuzz_netback_rx: %llu inputs, %llu restarts (%llu after a lie or a "
		"disable, %llu not settled)\n", (unsigned long long)iters,
		(unsigned long long)restarts, (unsigned long long)by_lie,
		(unsigned long long)by_settle);
}

static void die0(const char *what)
{
	fprintf(stderr, "fuzz_netback_rx: %s\n", what);
	abort();
}

static void die(const char *fmt, unsigned int a, unsigned int b2)
{
	fprintf(stderr, "fuzz_netback_rx: ");
	fprintf(stderr, fmt, a, b2);
	fprintf(stderr, "\n");
	abort();
}

/* ---- host side ---- */

static int src_xmit(struct pv_port *p, const struct pv_frame *f)
{
	return 0;
}

static const struct pv_port_ops src_ops = { .kind = "uplink", .xmit = src_xmit };

static void add_src_fn(struct test_host *h, void *arg)
{
	src_port.ops = &src_ops;
	snprintf(src_port.name, sizeof(src_port.name), "fz-src");
	if (pv_switch_port_add(n->sw, &src_port) < 0)
		abort();
}

static void find_port_fn(struct test_host *h, void *arg)
{
	char name[32];

	snprintf(name, sizeof(name), "vif%u.%u", m->domid, m->devid);
	m_port = NULL;
	for (int i = 0; i < 256; i++) {
		struct pv_port *p = pv_switch_port(n->sw, i);

		if (p && !strcmp(p->name, name))
			m_port = p;
	}
}

struct inject {
	struct pv_frame f;
	int accepted;
};

static void inject_fn(struct test_host *h, void *arg)
{
	struct inject *r = arg;
	uint64_t before = m_port ? m_port->st.tx_packets : 0;

	pv_switch_input(n->sw, &src_port, &r->f);
	pv_switch_flush(n->sw);
	r->accepted = m_port && m_port->st.tx_packets != before;
}

static void nothing(struct test_host *h, void *arg)
{
}

/* ---- M's connection ---- */

static int fz_wait_be(struct tf *t, int state)
{
	char path[96], buf[16] = "";

	snprintf(path, sizeof(path), "%s/state", t->be);
	for (int i = 0; i < 100000; i++) {
		if (i == 1000)	/* a slow unit's why: inline, one round trip is the rule */
			fprintf(stderr, "fuzz_netback_rx: %s not yet %d after 1000 reads (%s)\n", path,
				state, buf);
		if (nbh_xs_read(n, path, buf, sizeof(buf)) > 0) {
			int s = atoi(buf);

			if (s == state)
				return 0;
			if (state == XenbusStateConnected && s == XenbusStateClosing)
				return -EPIPE;	/* disabled on connect */
		}
	}
	return -ETIMEDOUT;
}

/* Which refs are which, for M's grants as they are now. */
MODEL static void classify_refs(void)
{
	static int init;

	if (!init) {
		for (unsigned int r = 0; r < 65536; r++)
			kind_of[r] = r >= TF_GRANTS || r < 8 ? K_HOSTILE : K_UNGRANTED;
		init = 1;
	} else {		/* only the refs a frontend's grants can be */
		for (unsigned int r = 0; r < TF_GRANTS; r++)
			kind_of[r] = r < 8 ? K_HOSTILE : K_UNGRANTED;
	}
	for (int i = 0; i < RING; i++) {
		kind_of[m->rxbuf_ref[i]] = K_W;
		page_of[m->rxbuf_ref[i]] = TF_RXBUF + i;
		kind_of[m->txbuf_ref[i]] = K_RO;
	}
	kind_of[(unsigned int)m->tx_ref] = K_HOSTILE;	/* the rings: writable, M's own */
	kind_of[(unsigned int)m->rx_ref] = K_HOSTILE;
}

static int fz_connect(int feat)
{
	static const char *const fkeys[] = { "feature-sg", "feature-gso-tcpv4", "feature-gso-tcpv6",
					     "feature-no-csum-offload", "feature-ipv6-csum-offload" };
	uint8_t *txp = pv_guest_frame(m->g, 0), *rxp = pv_guest_frame(m->g, 1);
	int bad = feat >> 5 & 7;
	char path[128];
	/*
	 * No transaction: xenstore clones its whole store for each one (a
	 * third of this harness's CPU, M reconnecting after most inputs), and
	 * netback reads the keys only when M says Connected, after them all.
	 */
	const uint32_t tx = 0;
	int e;

	memset(txp, 0, PV_PAGE_SIZE);
	memset(rxp, 0, PV_PAGE_SIZE);
	SHARED_RING_INIT((netif_tx_sring_t *)txp);
	SHARED_RING_INIT((netif_rx_sring_t *)rxp);
	FRONT_RING_INIT(&m->tx, (netif_tx_sring_t *)txp, PV_PAGE_SIZE);
	FRONT_RING_INIT(&m->rx, (netif_rx_sring_t *)rxp, PV_PAGE_SIZE);
	m->tx_ref = pv_guest_grant(m->g, 0, 0, 0);
	m->rx_ref = pv_guest_grant(m->g, 0, 1, 0);
	m->evtchn = (uint32_t)pv_guest_evtchn_alloc_unbound(m->g, 0);
	if (m->tx_ref < 0 || m->rx_ref < 0 || (int)m->evtchn <= 0)
		return -EIO;
	tf_key(m, tx, "tx-ring-ref", (unsigned int)m->tx_ref);
	tf_key(m, tx, "rx-ring-ref", (unsigned int)m->rx_ref);
	tf_key(m, tx, "event-channel", m->evtchn);
	tf_key(m, tx, "request-rx-copy", bad == 1 ? 0 : 1);
	if (bad != 2)
		tf_key(m, tx, "feature-rx-notify", 1);
	else {
		snprintf(path, sizeof(path), "%s/feature-rx-notify", m->fe);
		xsc_rm(m->xs, tx, path);
	}
	for (int i = 0; i < 5; i++)
		tf_key(m, tx, fkeys[i], (unsigned int)(feat >> i & 1));
	snprintf(path, sizeof(path), "%s/multi-queue-num-queues", m->fe);
	if (bad == 4)
		xsc_printf(m->xs, tx, path, "2");
	else
		xsc_rm(m->xs, tx, path);
	if (bad == 3) {
		snprintf(path, sizeof(path), "%s/feature-sg", m->fe);
		xsc_printf(m->xs, tx, path, "x");
	}
	if (bad == 5) {
		snprintf(path, sizeof(path), "%s/feature-gso-tcpv4", m->fe);
		xsc_printf(m->xs, tx, path, "2");
	}
	classify_refs();
	tf_set_state(m, XenbusStateConnected);
	e = fz_wait_be(m, XenbusStateConnected);
	if (bad >= 1 && bad <= 5) {
		if (e != -EPIPE)
			die("a hostile feature key (%u) accepted (%u)", (unsigned int)bad,
			    (unsigned int)-e);
		return 1;
	}
	return e;
}

MODEL static void reset_model(void)
{
	memset(inflight, 0, sizeof(inflight));
	memset(shadow, 0, sizeof(shadow));
	fifo_head = fifo_count = 0;
	f_slot = f_off = 0;
	f_extra = 0;
	hostile = disabled_ok = 0;
}

static void connect_m(int feat);

/* M starts over with features @feat: Closed, rings back, Connected. */
static void restart(int feat)
{
	const char *fail = NULL;

	tf_set_state(m, XenbusStateClosed);
	if (fz_wait_be(m, XenbusStateClosed) < 0)
		fail = "backend not Closed";
	else if (pv_guest_end_grant(m->g, (grant_ref_t)m->tx_ref) < 0 ||
		 pv_guest_end_grant(m->g, (grant_ref_t)m->rx_ref) < 0)
		fail = "rings still mapped after Closed";
	pv_guest_evtchn_close(m->g, m->evtchn);
	tf_set_state(m, XenbusStateInitialising);
	if (!fail && fz_wait_be(m, XenbusStateInitWait) < 0)
		fail = "backend not back in InitWait";
	if (fail) {
		fprintf(stderr, "fuzz_netback_rx: restart: %s\n", fail);
		abort();
	}
	restarts++;
	connect_m(feat);
}

/* Connect M with @feat and learn what netback made of it. */
static void connect_m(int feat)
{
	struct pv_vif_info vi;
	int e = fz_connect(feat);

	if (e < 0)
		die("connect failed (features 0x%x): %u", (unsigned int)feat, (unsigned int)-e);
	reset_model();
	cur_feat = feat;
	if (tf_info(m, &vi) != 0)
		die0("the vif is gone");
	if (vi.disabled) {
		cur_feat = -1;		/* start over at the next input */
		hostile = 1;
		disabled_ok = 1;
		return;
	}
	mtu = vi.mtu;
	features = vi.features;
	host_sync(n->h, find_port_fn, NULL);
	if (!m_port)
		die0("no switch port for M");
	if (trace)
		fprintf(stderr, "connected: features 0x%x, mtu %u\n", features, mtu);
}

/* ---- the model of what M must see ---- */

MODEL static uint8_t exp_byte(const struct xframe *x, uint32_t i)
{
	if (i < sizeof(x->hdr) && i < x->len)
		return x->hdr[i];
	return pat[(x->seed & 255) + i];
}

/*
 * Where @a and @b first differ in [0, @n), or @n.  Not memcmp(): the
 * sanitizers' memcmp hooks would feed the fuzzer the checker's compares.
 */
MODEL static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			break;
	}
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

static int is_ipv6(const uint8_t *h, uint32_t len)
{
	unsigned int t = len >= 14 ? (unsigned int)h[12] << 8 | h[13] : 0;

	if (t == 0x8100 && len >= 18)
		t = (unsigned int)h[16] << 8 | h[17];
	return t == 0x86dd;
}

MODEL static void fill_frame(uint32_t len)
{
	memcpy(fbuf, pat + (frame_seed & 255), len);
}

MODEL static void check_rsp_flags(const struct xframe *x, uint16_t flags, uint32_t s, uint32_t end)
{
	uint16_t want = 0;

	if (s == 0) {
		uint16_t fl = x->fixup ? PV_FRAME_CSUM_VALID : x->flags;

		want = fl & PV_FRAME_CSUM_PARTIAL ? NETRXF_csum_blank | NETRXF_data_validated :
		       fl & PV_FRAME_CSUM_VALID ? NETRXF_data_validated : 0;
		if (x->gso)
			want |= NETRXF_extra_info;
	}
	if (end < x->len)
		want |= NETRXF_more_data;
	if (flags != want)
		die("response flags 0x%x, want 0x%x", flags, want);
}

/* Check one data response against the head frame; its buffer too. */
MODEL static void check_data(RING_IDX idx, const netif_rx_response_t *r)
{
	struct xframe *x = &fifo[fifo_head];
	struct slot *sl = &shadow[idx & (RING - 1)];
	uint32_t len = x->len - f_off < PV_PAGE_SIZE ? x->len - f_off : PV_PAGE_SIZE;

	if (r->id != sl->id)
		die("response id %u, the request's %u", r->id, sl->id);
	if (r->offset != 0)
		die("response offset %u (slot %u)", r->offset, f_slot);
	check_rsp_flags(x, r->flags, f_slot, f_off + len);
	if (sl->kind == K_W) {
		if (r->status != (int16_t)len)
			die("status %d into a writable buffer, want %u", (unsigned int)r->status, len);
		if (!sl->dup) {
			const uint8_t *pg = pv_guest_frame(m->g, (uint32_t)sl->page);
			const uint8_t *want = pat + (x->seed & 255);
			uint32_t cs = (uint32_t)x->csum_start + x->csum_offset;
			int fixed = x->fixup && cs + 2 <= x->len;	/* completed by netback */
			uint32_t i = 0, d;

			/* The header bytes one by one, the rest by runs up to the checksum. */
			while (i < len) {
				uint32_t at = f_off + i, end = len;

				if (fixed && (at == cs || at == cs + 1)) {
					i++;
					continue;
				}
				if (at < sizeof(x->hdr)) {
					if (pg[i] != exp_byte(x, at))
						die("frame byte %u wrong (slot %u)", at, f_slot);
					i++;
					continue;
				}
				if (fixed && cs > at && cs - f_off < len)
					end = cs - f_off;
				d = i + (uint32_t)first_diff(pg + i, want + at, end - i);
				if (d < end)
					die("frame byte %u wrong (slot %u)", f_off + d, f_slot);
				i = end;
			}
			d = len + (uint32_t)first_diff(pg + len, canary_page, PV_PAGE_SIZE - len);
			if (d < PV_PAGE_SIZE)
				die("buffer written past the data: byte %u of %u", d, len);
		}
	} else if (sl->kind == K_RO || sl->kind == K_UNGRANTED) {
		if (r->status != NETIF_RSP_ERROR)
			die("status %d for a ref not granted writable (kind %u)",
			    (unsigned int)r->status, sl->kind);
	}
	if (sl->kind == K_W)
		inflight[sl->page]--;
	f_off += len;
	f_slot++;
	f_extra = f_slot == 1 && x->gso;
	if (f_off >= x->len && !f_extra) {
		fifo_head = (fifo_head + 1) % FIFO_MAX;
		fifo_count--;
		f_slot = f_off = 0;
	}
}

MODEL static void take_responses(void)
{
	RING_IDX prod = __atomic_load_n(&m->rx.sring->rsp_prod, __ATOMIC_ACQUIRE);

	/*
	 * After a lie nothing is checked, and rsp_prod may be anywhere beside
	 * our rsp_cons (behind it: a walk of 2^32 indices, 14-29 s an input,
	 * found by fuzzing as slow units): take everything at once.
	 */
	if (hostile) {
		if (trace)
			fprintf(stderr, "rsp_prod %u after a lie (rsp_cons %u): not checked\n", prod,
				m->rx.rsp_cons);
		m->rx.rsp_cons = prod;
		return;
	}
	if ((RING_IDX)(prod - m->rx.rsp_cons) > (RING_IDX)(m->rx.req_prod_pvt - m->rx.rsp_cons))
		die("responses beyond the requests: rsp_prod %u, req_prod %u", prod,
		    m->rx.req_prod_pvt);
	for (; m->rx.rsp_cons != prod; m->rx.rsp_cons++) {
		RING_IDX idx = m->rx.rsp_cons;
		const netif_rx_response_t *r = RING_GET_RESPONSE(&m->rx, idx);

		if (trace)
			fprintf(stderr, "rsp %u: id %u off %u flags 0x%x status %d\n", idx, r->id,
				r->offset, r->flags, r->status);
		if (!fifo_count)
			die("a response (index %u, %u frames) with no frame for it", idx, fifo_count);
		if (f_extra) {
			const struct xframe *x = &fifo[fifo_head];
			netif_extra_info_t e;

			memcpy(&e, r, sizeof(e));
			if (e.type != XEN_NETIF_EXTRA_TYPE_GSO || e.flags != 0 ||
			    e.u.gso.size != x->gso_size ||
			    e.u.gso.type != (x->gso_type == PV_GSO_TCPV4 ? XEN_NETIF_GSO_TYPE_TCPV4
								      : XEN_NETIF_GSO_TYPE_TCPV6))
				die("bad GSO extra slot (type %u, size %u)", e.type, e.u.gso.size);
			if (shadow[idx & (RING - 1)].kind == K_W)
				inflight[shadow[idx & (RING - 1)].page]--;
			f_extra = 0;
			if (f_off >= x->len) {
				fifo_head = (fifo_head + 1) % FIFO_MAX;
				fifo_count--;
				f_slot = f_off = 0;
			}
			continue;
		}
		check_data(idx, r);
	}
}

/* ---- ops ---- */

static void kick(void)
{
	pv_guest_evtchn_notify(m->g, m->evtchn);
	/* The kick is pending before the first sync: two round trips see it served. */
	host_sync(n->h, nothing, NULL);
	host_sync(n->h, nothing, NULL);
}

static void post_one(uint16_t id, uint8_t kind, int page, grant_ref_t ref)
{
	RING_IDX idx = m->rx.req_prod_pvt;
	struct slot *sl = &shadow[idx & (RING - 1)];

	if (idx - m->rx.rsp_cons >= RING)
		hostile = 1;	/* over a slot not answered yet */
	sl->id = id;
	sl->kind = kind;
	sl->page = page;
	sl->dup = 0;
	if (kind == K_W) {
		if (inflight[page]++) {
			sl->dup = 1;
			for (int i = 0; i < RING; i++)	/* the earlier one too */
				if (shadow[i].kind == K_W && shadow[i].page == page)
					shadow[i].dup = 1;
		}
		memset(pv_guest_frame(m->g, (uint32_t)page), CANARY, PV_PAGE_SIZE);
	}
	tf_rx_post(m, id, (int)ref);
}

static void op_post(const uint8_t *o)
{
	unsigned int cnt = o[1] % 64 + 1, how = o[2] >> 1 & 3;
	uint16_t id = (uint16_t)(o[2] & 1 ? (unsigned int)(o[3] | o[4] << 8) : m->rx.req_prod_pvt);

	for (unsigned int j = 0; j < cnt; j++, id++) {
		if (how <= 1) {
			unsigned int k = wp++ % RING;

			post_one(id, K_W, TF_RXBUF + (int)k, (grant_ref_t)m->rxbuf_ref[k]);
		} else if (how == 2) {
			post_one(id, K_RO, 0, (grant_ref_t)m->txbuf_ref[(o[5] + j) % RING]);
		} else {
			unsigned int ref = (o[5] | o[6] << 8) + j;

			ref &= 0xffff;
			if (kind_of[ref] == K_HOSTILE)
				hostile = 1;
			post_one(id, kind_of[ref], page_of[ref], (grant_ref_t)ref);
		}
	}
	if (!(o[2] & 8))
		__atomic_store_n(&m->rx.sring->req_prod, m->rx.req_prod_pvt, __ATOMIC_RELEASE);
	if (!(o[2] & 16))
		kick();
}

/* A frame for M as the switch hands it over; @o == NULL: a small filler frame. */
static void op_frame(const uint8_t *o)
{
	static const uint8_t src_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0xfe, 0x01 };
	static struct inject r;
	struct xframe *x;
	uint32_t l16 = o ? (uint32_t)(o[1] | o[2] << 8) : 46, len, hl, rest, nseg, off;
	unsigned int mode = o ? o[3] & 3 : 0, l3 = o ? o[5] >> 5 : 0;
	int fits, gso;

	len = mode == 0 ? 14 + l16 % 1520 : mode == 1 ? l16 : mode == 2 ? 65536 + l16 % 8 : l16 % 14;
	memset(&r, 0, sizeof(r));
	r.f.len = len;
	r.f.flags = o ? (uint16_t)(o[3] >> 2 & 3) : 0;
	if (o && (o[3] & 16)) {
		r.f.csum_start = (uint16_t)(l3 == 1 ? 54 : l3 == 2 ? 38 : 34);
		r.f.csum_offset = (uint16_t)(o[4] & 1 ? 16 : 6);
	} else if (o) {
		r.f.csum_start = (uint16_t)(o[4] | (o[5] & 0x1f) << 8);
		r.f.csum_offset = o[4] & 0x3e;
	}
	r.f.gso_type = o ? o[6] % 4 : 0;
	r.f.gso_size = o ? (uint16_t)(o[7] | (o[6] & 0xfc) << 6) : 0;
	/* The bytes: Ethernet to M, an IP header's first bytes, then the pattern. */
	frame_seed++;
	fill_frame(len);
	if (len >= 14) {
		uint16_t et = l3 == 1 ? 0x86dd : l3 == 2 ? 0x8100 : 0x0800;

		mk_eth(fbuf, m->mac, src_mac, et);
		if (l3 == 2 && len >= 18) {
			fbuf[16] = 0x08;
			fbuf[17] = 0x00;
		}
		if (l3 == 1 && len >= 21) {
			fbuf[14] = 0x60;
			fbuf[20] = 6;
		} else if (len >= 24) {
			fbuf[l3 == 2 ? 18 : 14] = 0x45;
			fbuf[l3 == 2 ? 27 : 23] = 6;
		}
	}
	hl = len < PV_FRAME_HDR_MAX ? len : PV_FRAME_HDR_MAX;
	if (o && (o[7] & 0x80) && hl > 14)
		hl -= o[7] % (hl - 13);		/* a shorter header copy, as some ports give */
	r.f.hdr_len = hl;
	memcpy(r.f.hdr, fbuf, hl);
	rest = len - hl;
	nseg = o ? (o[7] & 7) + 1u : 1u;
	off = hl;
	for (uint32_t s = 0; s < nseg && rest; s++) {
		uint32_t piece = s == nseg - 1 ? rest : rest / (nseg - s);

		r.f.seg[r.f.nseg].p = fbuf + off;
		r.f.seg[r.f.nseg++].len = piece;
		off += piece;
		rest -= piece;
	}
	/* What netback must decide: nb_rx_fits, read independently. */
	gso = (features & PV_VIF_F_SG) &&
	      ((r.f.gso_type == PV_GSO_TCPV4 && (features & PV_VIF_F_GSO_TCPV4)) ||
	       (r.f.gso_type == PV_GSO_TCPV6 && (features & PV_VIF_F_GSO_TCPV6)));
	{
		uint32_t max = gso ? 65535 : mtu + 18;

		if (!(features & PV_VIF_F_SG) && max > PV_PAGE_SIZE)
			max = PV_PAGE_SIZE;
		fits = len >= 14 && len <= max && hl >= 14;
	}
	host_sync(n->h, inject_fn, &r);
	if (trace)
		fprintf(stderr, "frame %u: len %u hdr %u flags %u csum %u+%u gso %u/%u: %s\n",
			frame_seed, len, hl, r.f.flags, r.f.csum_start, r.f.csum_offset,
			r.f.gso_type, r.f.gso_size, r.accepted ? "accepted" : "refused");
	if (r.accepted && !fits)
		die("a %u-byte frame accepted that does not fit (mtu %u)", len, mtu);
	if (!r.accepted)
		return;
	if (fifo_count == FIFO_MAX)
		die("more than %u frames held (%u)", FIFO_MAX, fifo_count);
	x = &fifo[(fifo_head + fifo_count++) % FIFO_MAX];
	memset(x, 0, sizeof(*x));
	x->len = len;
	x->seed = frame_seed;
	memcpy(x->hdr, fbuf, len < sizeof(x->hdr) ? len : sizeof(x->hdr));
	x->flags = r.f.flags;
	x->csum_start = r.f.csum_start;
	x->csum_offset = r.f.csum_offset;
	x->gso_type = r.f.gso_type;
	x->gso_size = r.f.gso_size;
	x->gso = gso;
	{
		unsigned int need = is_ipv6(fbuf, hl) ? PV_VIF_F_CSUM | PV_VIF_F_IPV6_CSUM
						       : PV_VIF_F_CSUM;

		x->fixup = (r.f.flags & PV_FRAME_CSUM_PARTIAL) && (features & need) != need && !gso;
	}
}

static void op_take(const uint8_t *o)
{
	take_responses();
	if (o[1] & 1)
		m->rx.sring->rsp_event = m->rx.rsp_cons + o[2];
}

static void op_lie(const uint8_t *o)
{
	uint32_t v = (uint32_t)(o[2] | o[3] << 8 | o[4] << 16 | (uint32_t)o[5] << 24);

	switch (o[1] % 4) {
	case 0:
		hostile = 1;
		__atomic_store_n(&m->rx.sring->req_prod, v, __ATOMIC_RELEASE);
		kick();
		break;
	case 1:
		hostile = 1;
		__atomic_store_n(&m->rx.sring->req_prod, m->rx.req_prod_pvt + o[2] % 8,
				 __ATOMIC_RELEASE);
		kick();
		break;
	case 2:
		kick();
		break;
	default:
		m->rx.sring->req_event = v;
		break;
	}
}

/* ---- the invariants after an input ---- */

MODEL static void check_pages(void)
{
	size_t ro = (size_t)RING * PV_PAGE_SIZE;

	if (memcmp(pv_guest_frame(m->g, TF_TXBUF), ro_copy, ro) ||
	    memcmp(pv_guest_frame(m->g, SPARE_PAGE), ro_copy + ro,
		   (size_t)(TF_PAGES - SPARE_PAGE) * PV_PAGE_SIZE))
		die0("a page M did not grant writable was written");
	if (memcmp(pv_guest_frame(b->g, 0), b_copy, (size_t)TF_PAGES * PV_PAGE_SIZE))
		die0("B's memory was written");
}

static void check_vifs(void)
{
	struct pv_vif_info vi;

	if (tf_info(b, &vi) != 0 || !vi.connected || vi.disabled)
		die("B's vif is not connected any more (disabled %u)", (unsigned int)vi.disabled, 0);
	if (tf_info(m, &vi) != 0)
		die0("M's vif is gone");
	if (vi.disabled ? vi.connected || !vi.reason[0] : !vi.connected)
		die("M's vif state: connected %u disabled %u", (unsigned int)vi.connected,
		    (unsigned int)vi.disabled);
	if (vi.disabled && !hostile && !disabled_ok) {
		fprintf(stderr, "fuzz_netback_rx: M disabled without a lie: %s\n", vi.reason);
		abort();
	}
	if (trace && vi.disabled)
		fprintf(stderr, "M disabled: %s\n", vi.reason);
	if (vi.disabled)
		cur_feat = -1;
}

/*
 * Back to nothing posted, nothing queued: buffers for the queued frames,
 * filler frames for the buffers left.  Returns 0 if that did not work out.
 */
static int settle(void)
{
	struct pv_vif_info vi;

	for (int round = 0; round < 64; round++) {
		take_responses();
		if (hostile || tf_info(m, &vi) != 0 || vi.disabled)
			return 0;
		if (vi.st.rx_queued) {
			unsigned int room = RING - (m->rx.req_prod_pvt - m->rx.rsp_cons);
			uint8_t o[OP_LEN] = { 0, 63, 0 };

			if (!room)
				return 0;
			o[1] = (uint8_t)((room > 64 ? 64 : room) - 1);
			op_post(o);
			continue;
		}
		if (m->rx.req_prod_pvt != m->rx.rsp_cons) {
			if (__atomic_load_n(&m->rx.sring->req_prod, __ATOMIC_ACQUIRE) !=
			    m->rx.req_prod_pvt) {
				__atomic_store_n(&m->rx.sring->req_prod, m->rx.req_prod_pvt,
						 __ATOMIC_RELEASE);
				kick();
				continue;
			}
			/* One filler per request left (64 bytes: one slot each). */
			for (RING_IDX i = m->rx.rsp_cons; i != m->rx.req_prod_pvt; i++)
				op_frame(NULL);
			take_responses();
			continue;
		}
		return fifo_count == 0 && !f_extra;
	}
	return 0;
}

/*
 * One frontend per feature set (features & 0x1f), created at first use and
 * kept connected: an input changes M, not M's features, so only a lie or a
 * hostile key costs a restart.
 */
#define NR_M	32

static struct mslot {
	struct tf *t;
	struct pv_port *port;
	unsigned int mtu, features;
	int feat;
} ms[NR_M];
static int cur_m = -1;

static void use_m(int feat)
{
	struct mslot *x = &ms[feat & (NR_M - 1)];

	if (cur_m >= 0) {	/* what the last input left of its M */
		ms[cur_m].port = m_port;
		ms[cur_m].mtu = mtu;
		ms[cur_m].features = features;
		ms[cur_m].feat = cur_feat;
	}
	cur_m = feat & (NR_M - 1);
	if (!x->t) {
		char name[16];
		int spare;

		snprintf(name, sizeof(name), "fz-m%d", cur_m);
		m = x->t = tf_new(n, name, (uint8_t)(0xc0 + cur_m));
		/* A revoked ref: granted, then ended (classify_refs: not granted). */
		spare = pv_guest_grant(m->g, 0, SPARE_PAGE, 0);
		if (spare < 0 || pv_guest_end_grant(m->g, (grant_ref_t)spare) < 0)
			die0("spare grant");
		for (int i = 0; i < RING; i++)
			mk_payload(pv_guest_frame(m->g, TF_TXBUF + (uint32_t)i), PV_PAGE_SIZE,
				   (uint32_t)i);
		if (memcmp(pv_guest_frame(m->g, TF_TXBUF), ro_copy,
			   (size_t)RING * PV_PAGE_SIZE))
			die0("TX pages differ between frontends");
		connect_m(feat);
		return;
	}
	m = x->t;
	m_port = x->port;
	mtu = x->mtu;
	features = x->features;
	cur_feat = x->feat;
	classify_refs();
	reset_model();
	if (feat != cur_feat)
		restart(feat);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t ro = (size_t)RING * PV_PAGE_SIZE;

	trace = getenv("PVNET_FUZZ_TRACE") != NULL;
	for (size_t k = 0; k < sizeof(pat); k++)
		pat[k] = (uint8_t)(k * 7 + (k >> 8));
	memset(canary_page, CANARY, sizeof(canary_page));
	atexit(report);
	host_inline = 1;
	n = nbh_start();
	host_sync(n->h, add_src_fn, NULL);
	b = tf_new(n, "fz-b", 0xbb);
	if (tf_connect(b, NULL) < 0)
		die0("B does not connect");
	ro_copy = malloc(ro + (size_t)(TF_PAGES - SPARE_PAGE) * PV_PAGE_SIZE);
	b_copy = malloc((size_t)TF_PAGES * PV_PAGE_SIZE);
	if (!ro_copy || !b_copy)
		abort();
	/* M's TX buffers hold this pattern, its pages past SPARE_PAGE zeros: they must stay. */
	for (int i = 0; i < RING; i++)
		mk_payload(ro_copy + (size_t)i * PV_PAGE_SIZE, PV_PAGE_SIZE, (uint32_t)i);
	memset(ro_copy + ro, 0, (size_t)(TF_PAGES - SPARE_PAGE) * PV_PAGE_SIZE);
	host_sync(n->h, nothing, NULL);
	memcpy(b_copy, pv_guest_frame(b->g, 0), (size_t)TF_PAGES * PV_PAGE_SIZE);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	use_m(data[0]);
	data++;
	size--;
	wp = 0;
	frame_seed = 0;
	for (; size >= OP_LEN && cur_feat >= 0; data += OP_LEN, size -= OP_LEN) {
		switch (data[0] & 3) {
		case 0: op_post(data); break;
		case 1: op_frame(data); break;
		case 2: op_take(data); break;
		default: op_lie(data); break;
		}
	}
	take_responses();
	check_vifs();
	check_pages();
	if (cur_feat < 0 || hostile) {
		by_lie++;
		cur_feat = -1;		/* the next input starts over */
	} else if (!settle()) {
		by_settle++;
		cur_feat = -1;
	}
	if (cur_feat >= 0)
		check_vifs();
	iters++;
	return 0;
}
