/* SPDX-License-Identifier: MIT */
/*
 * fuzz_netback_tx.c - libFuzzer harness for netback's TX path against a
 * hostile ring (src/back/netback_tx.c: nb_tx_poll, nb_tx_parse and the
 * checks after it: indices, slot chains, extra-info slots, grants, offsets
 * and sizes, frame shape, checksum and GSO requests).
 *
 * Build and run (see tests/fuzz/README):
 *   make fuzz
 *   build-fuzz/fuzz_netback_tx -max_total_time=120 -rss_limit_mb=4096 tests/fuzz/corpus/fuzz_netback_tx
 *
 * Set up once: a host thread running hv + xenstore + switch + netback, and
 * one connected fake frontend M (tests/unit/netback_harness.h).  Per input,
 * M writes fuzzer-chosen slots into its TX shared ring, publishes req_prod,
 * kicks, and the harness waits for two round trips through the host loop.
 * Input layout:
 *   [hdr:1][nslots:1][req_prod delta:4] then nslots x [ctl:1][slot:12],
 *   then frame bytes.
 *   hdr & 1      publish req_prod = private producer + delta (a lie), else
 *                the private producer
 *   hdr & 2      do not kick (the next input's kick, or none)
 *   hdr & 4      the frame bytes get M's MAC as source (past the spoof check)
 *   hdr & 8      leave the last slot's more_data / extra_info flags as they
 *                are (else cleared on a last data slot: fewer open chains)
 *   ctl & 1      gref := M's TX buffer grant for that ring index (the ctl
 *                bits apply to data slots, not to extra-info slots)
 *   ctl & 2      offset := offset & 0x7ff (with ctl & 4: inside the page)
 *   ctl & 4      size := size & 0x7ff
 *   slot         a raw netif_tx_request_t, or netif_extra_info_t (12 bytes)
 *   frame bytes  copied to the first slot's buffer page at its offset
 *                (up to the end of the page)
 * Checked after each input: the host loop still answers, M's vif exists
 * and is either connected or disabled (not connected) with a reason, no
 * more responses than requests (unless req_prod lied);
 * ASan/UBSan reports in the host thread abort as usual.  When the vif is
 * disabled, or requests are left unanswered (an incomplete chain netback
 * waits on, an unkicked ring), M starts over as test_netback_bad.c does
 * (Closed, grants revocable, Initialising, Connected), so each input meets
 * a fresh, empty ring.
 */
#include "../unit/netback_harness.h"

#define MAX_SLOTS	64
#define SLOT_IN		(1 + sizeof(netif_tx_request_t))

static struct nbh *n;
static struct tf *m;
static uint64_t iters, restarts;
static int trace;	/* PVNET_FUZZ_TRACE: print responses */

static void report(void)
{
	fprintf(stderr, "fuzz_netback_tx: %llu inputs, %llu restarts\n",
		(unsigned long long)iters, (unsigned long long)restarts);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	trace = getenv("PVNET_FUZZ_TRACE") != NULL;
	atexit(report);
	n = nbh_start();
	m = tf_new(n, "fz-m", 0xee);
	if (tf_connect(m, NULL) < 0) {
		fprintf(stderr, "fuzz_netback_tx: frontend does not connect\n");
		abort();
	}
	return 0;
}

static void nothing(struct test_host *h, void *arg)
{
}

/*
 * Wait for the backend to reach @state, reading the store on the host
 * thread: each read is a round trip through the loop, so this waits as
 * long as netback needs and no longer (tf_wait_be sleeps 1 ms a poll).
 */
static int fz_wait_be(int state)
{
	char path[96], buf[16];

	snprintf(path, sizeof(path), "%s/state", m->be);
	for (int i = 0; i < 100000; i++)
		if (nbh_xs_read(n, path, buf, sizeof(buf)) > 0 && atoi(buf) == state)
			return 0;
	return -ETIMEDOUT;
}

/* tf_connect(), waiting with fz_wait_be(). */
static int fz_connect(void)
{
	uint8_t *txp = pv_guest_frame(m->g, 0), *rxp = pv_guest_frame(m->g, 1);
	uint32_t tx;

	memset(txp, 0, PV_PAGE_SIZE);
	memset(rxp, 0, PV_PAGE_SIZE);
	SHARED_RING_INIT((netif_tx_sring_t *)txp);
	SHARED_RING_INIT((netif_rx_sring_t *)rxp);
	FRONT_RING_INIT(&m->tx, (netif_tx_sring_t *)txp, PV_PAGE_SIZE);
	FRONT_RING_INIT(&m->rx, (netif_rx_sring_t *)rxp, PV_PAGE_SIZE);
	m->tx_ref = pv_guest_grant(m->g, 0, 0, 0);
	m->rx_ref = pv_guest_grant(m->g, 0, 1, 0);
	m->evtchn = (uint32_t)pv_guest_evtchn_alloc_unbound(m->g, 0);
	for (int i = 0; i < TF_RING; i++)
		tf_rx_post(m, (uint16_t)i, m->rxbuf_ref[i]);
	RING_PUSH_REQUESTS(&m->rx);
	if (m->tx_ref < 0 || m->rx_ref < 0 || (int)m->evtchn <= 0 ||
	    xsc_transaction_start(m->xs, &tx) < 0)
		return -EIO;
	tf_key(m, tx, "tx-ring-ref", (unsigned int)m->tx_ref);
	tf_key(m, tx, "rx-ring-ref", (unsigned int)m->rx_ref);
	tf_key(m, tx, "event-channel", m->evtchn);
	tf_key(m, tx, "request-rx-copy", 1);
	tf_key(m, tx, "feature-rx-notify", 1);
	tf_key(m, tx, "feature-sg", 1);
	tf_key(m, tx, "feature-gso-tcpv4", 1);
	tf_key(m, tx, "feature-gso-tcpv6", 1);
	tf_key(m, tx, "feature-no-csum-offload", 0);
	if (xsc_transaction_end(m->xs, tx, 1) < 0)
		return -EIO;
	tf_set_state(m, XenbusStateConnected);
	return fz_wait_be(XenbusStateConnected);
}

/*
 * Bring M back to a fresh Connected ring, as tf_reset() + tf_connect();
 * any failure is a bug in netback: it must unmap the rings once Closed.
 */
static void restart(void)
{
	const char *fail = NULL;

	tf_set_state(m, XenbusStateClosed);
	if (fz_wait_be(XenbusStateClosed) < 0)
		fail = "backend not Closed";
	else if (pv_guest_end_grant(m->g, (grant_ref_t)m->tx_ref) < 0 ||
		 pv_guest_end_grant(m->g, (grant_ref_t)m->rx_ref) < 0)
		fail = "rings still mapped after Closed";
	pv_guest_evtchn_close(m->g, m->evtchn);
	tf_set_state(m, XenbusStateInitialising);
	if (!fail && fz_wait_be(XenbusStateInitWait) < 0)
		fail = "backend not back in InitWait";
	if (!fail && fz_connect() < 0)
		fail = "reconnect failed";
	if (fail) {
		fprintf(stderr, "fuzz_netback_tx: restart: %s\n", fail);
		abort();
	}
	restarts++;
}

/*
 * Write @nslots slots from @in at M's private producer; return the first
 * index.  Unless @open_end, a last slot that netback will read as a data
 * slot has more_data and extra_info cleared: random flags leave most
 * chains open, and an open chain costs a restart.
 */
static RING_IDX put_slots(const uint8_t *in, unsigned int nslots, int open_end)
{
	RING_IDX first = m->tx.req_prod_pvt;
	int extra_next = 0;	/* netback reads the next slot as extra info */

	for (unsigned int j = 0; j < nslots; j++, in += SLOT_IN) {
		RING_IDX idx = m->tx.req_prod_pvt++;
		netif_tx_request_t r;

		memcpy(&r, in + 1, sizeof(r));
		if (extra_next) {
			netif_extra_info_t e;

			memcpy(&e, &r, sizeof(e));
			extra_next = e.flags & XEN_NETIF_EXTRA_FLAG_MORE;
		} else {
			if (in[0] & 1)
				r.gref = tf_tx_ref(m, idx);
			if (in[0] & 2)
				r.offset &= 0x7ff;
			if (in[0] & 4)
				r.size &= 0x7ff;
			if (j == nslots - 1 && !open_end)
				r.flags &= (uint16_t)~(NETTXF_more_data | NETTXF_extra_info);
			extra_next = !!(r.flags & NETTXF_extra_info);
		}
		memcpy(RING_GET_REQUEST(&m->tx, idx), &r, sizeof(r));
	}
	return first;
}

/* Frame bytes into the first slot's page, at its offset if that is in the page. */
static void put_frame(RING_IDX first, const uint8_t *p, size_t len, int own_mac)
{
	netif_tx_request_t r;
	uint8_t *page = tf_tx_page(m, first);

	memcpy(&r, RING_GET_REQUEST(&m->tx, first), sizeof(r));
	if (r.offset >= PV_PAGE_SIZE)
		r.offset = 0;
	if (len > PV_PAGE_SIZE - r.offset)
		len = PV_PAGE_SIZE - r.offset;
	memcpy(page + r.offset, p, len);
	if (own_mac && len >= 12)
		memcpy(page + r.offset + 6, m->mac, 6);
}

static void check_vif(struct pv_vif_info *vi)
{
	if (tf_info(m, vi) != 0) {
		fprintf(stderr, "fuzz_netback_tx: the vif is gone\n");
		abort();
	}
	if (vi->disabled ? vi->connected || !vi->reason[0] : !vi->connected) {
		fprintf(stderr, "fuzz_netback_tx: vif state: connected %d disabled %d reason '%s'\n",
			vi->connected, vi->disabled, vi->reason);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_vif_info vi;
	unsigned int nslots;
	uint32_t delta;
	uint8_t hdr;
	RING_IDX first, rsp;

	if (size < 6)
		return 0;
	hdr = data[0];
	nslots = data[1] % (MAX_SLOTS + 1);
	memcpy(&delta, data + 2, sizeof(delta));
	data += 6;
	size -= 6;
	if (nslots > size / SLOT_IN)
		nslots = (unsigned int)(size / SLOT_IN);
	first = put_slots(data, nslots, hdr & 8);
	data += nslots * SLOT_IN;
	size -= nslots * SLOT_IN;
	if (nslots && size)
		put_frame(first, data, size, hdr & 4);
	__atomic_store_n(&m->tx.sring->req_prod,
			 m->tx.req_prod_pvt + (hdr & 1 ? delta : 0), __ATOMIC_RELEASE);
	if (!(hdr & 2))
		pv_guest_evtchn_notify(m->g, m->evtchn);
	/* The kick is pending before the first sync: two round trips see it served. */
	host_sync(n->h, nothing, NULL);
	host_sync(n->h, nothing, NULL);
	check_vif(&vi);
	rsp = __atomic_load_n(&m->tx.sring->rsp_prod, __ATOMIC_ACQUIRE);
	if (!(hdr & 1 && delta) &&
	    (RING_IDX)(rsp - m->tx.rsp_cons) > (RING_IDX)(m->tx.req_prod_pvt - m->tx.rsp_cons)) {
		fprintf(stderr, "fuzz_netback_tx: responses beyond the requests: rsp_prod %u, "
			"%u requests\n", (unsigned int)rsp, (unsigned int)m->tx.req_prod_pvt);
		abort();
	}
	if (trace)
		for (RING_IDX i = m->tx.rsp_cons; i != rsp; i++)
			fprintf(stderr, "response %u: id %u status %d\n", (unsigned int)i,
				RING_GET_RESPONSE(&m->tx, i)->id, RING_GET_RESPONSE(&m->tx, i)->status);
	if (trace && vi.disabled)
		fprintf(stderr, "vif disabled: %s\n", vi.reason);
	m->tx.rsp_cons = rsp;
	if (vi.disabled || rsp != m->tx.req_prod_pvt || (hdr & 1 && delta)) {
		if (trace)
			fprintf(stderr, "restart: %s\n", vi.disabled ? vi.reason :
				rsp != m->tx.req_prod_pvt ? "requests unanswered" : "req_prod lie");
		restart();
	}
	iters++;
	return 0;
}
