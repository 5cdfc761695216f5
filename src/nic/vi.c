/* SPDX-License-Identifier: MIT */
/*
 * vi.c - the NIC's virtual interfaces: VI memory, TX and RX descriptor
 * processing, event queues, doorbells and wake-ups.
 *
 * How this works
 * ==============
 *
 * Each VI's memory is a memfd the NIC creates, sizes and seals (no
 * shrinking, no growing), maps, and hands out.  The NIC keeps its own
 * indices (tx_cons, rx_cons, evq_prod) privately and only ever stores them
 * to shared memory; it loads the user's (tx_prod, rx_prod, evq_cons,
 * wake_armed) once per use with acquire semantics and checks them against
 * its own with wrap-around arithmetic.
 *
 * TX.  A doorbell (eventfd readable) puts the VI on the run queue.  Each
 * nic_service() pass walks the queue once and gives each VI one turn:
 * whole frames while its deficit lasts (below), at most PV_NIC_TX_BUDGET
 * descriptors, and no more than its event queue has room for (one event
 * per descriptor); a VI stopped by its deficit or the budget goes to the
 * back, one stopped by the event queue waits for its next doorbell.
 *
 * Sharing the port: deficit round robin by wire bytes (Shreedhar and
 * Varghese's DRR, in the form Linux's fq_codel uses: the deficit may go
 * below zero by the last frame of a turn), as a NIC's TX scheduler shares
 * its wire between queues.  A frame costs what it puts on the wire: each
 * segment's bytes (60 at least) plus 24 (preamble, gap, FCS), a TSO frame
 * as the segments the port cuts it into.  A turn adds NIC_TX_QUANTUM to the
 * VI's deficit (never above one quantum: a VI stopped by the descriptor
 * budget saves no more) and sends frames while the deficit is positive;
 * a VI that runs out of work keeps a negative deficit (its debt) but no
 * credit.  So two VIs with work get the same wire bytes over time whatever
 * their frame sizes, a VI that asks for less than its share gets all it
 * asks, and a VI waits, from having work to its turn, for at most
 * NIC_TX_QUANTUM + NIC_TX_COST_MAX wire bytes from each other VI.  The NIC
 * counts, per VI, its wire bytes (tx_wire_bytes), the turns in which it
 * sent (tx_turns: wire bytes per turn stay within a quantum and a frame),
 * the turns its deficit ended (tx_quantum_stops) and the most wire bytes
 * others sent while it waited (tx_wait_max_bytes): the share is visible
 * in its own counters.  A refused frame costs the minimum
 * frame: a VI of bad descriptors is held by the descriptor budget; but a
 * frame refused by storm control (below), whole and valid, costs what it
 * would have put on the wire.
 *
 * A turn, as a list of steps:
 *
 *   1. chains: copy descriptors out of the ring (each once per round) until
 *      one without PV_NIC_TX_F_MORE, or PV_NIC_TX_MAX_FRAGS of them (an
 *      over-long chain: refused TOO_BIG, what follows is a new frame).  A
 *      chain that runs into tx_prod is not consumed: it waits for its rest.
 *   2. descriptors: each copy through nic_bufta_get() (buffer, bounds, and
 *      the flags its place allows: offloads and mss on the first only);
 *      one refused refuses its frame (the others get TX_CHAIN).
 *   3. split: the frame's first min(length, NIC_TX_HDR_MAX) bytes (every
 *      header the NIC decides on, even when they span descriptors) are
 *      copied into the private header copy of its nic->txf entry; the
 *      bytes after them become iovecs pointing into the guest's buffers
 *      (payload only, never read by the NIC itself).  A frame of at most
 *      NIC_TX_HDR_MAX bytes is all private.
 *   4. check the header copy, given only the copy, its length and the
 *      frame's length: source (nic_tx_check), then length and offloads
 *      (nic_tx_offload), which yield the frame's virtio-net header and
 *      put the pseudo-header sum in the checksum field of the copy.
 *   5. send the turn's good frames to the port in one call (sendmmsg:
 *      virtio-net header, header copy, payload iovecs), TSO frames whole:
 *      the port's kernel segments them, reading the payload from the
 *      guest's buffers at send time.
 *   6. events, in ring order: one per descriptor, TX_DONE or the frame's
 *      ERROR; counters once per frame.
 *
 *   txq:  | d0 MORE|TSO | d1 MORE | d2 | d3 | d4 MORE | d5 MORE |  <- tx_prod
 *          <--------- frame ----------> <--> <----- waits ----->
 *   txf[0]: hdr [ d0's headers ] iov: hdr, rest of d0, d1, d2 (guest memory)
 *   txf[1]: hdr [ all of d3 ]    iov: hdr                     (a short frame)
 *
 * A guest that changes a buffer after posting it can change only what
 * the port reads from guest memory, the payload of its own frame (as with
 * DMA on a real NIC): the headers that were checked are the NIC's copy,
 * and they are what goes out.
 *
 * Storm control (SET_STORM).  A VI's root may write broadcast and
 * multicast frames straight onto its TX ring: each reaches every host of
 * the wire, its kernel included.  A frame that passed every check (so a
 * spoofed or malformed one takes no token) and is group-addressed takes a
 * token of its kind's bucket (lib/storm.h, the one the switch uses for a
 * vif: the pvnic backend programs a VI with its vif's limits); without
 * one it is refused TX_STORM, counted tx_storm_bcast / tx_storm_mcast,
 * logged rate-limited, and costs the scheduler what it would have put on
 * the wire: a VI flooding over its limit spends its turn as fast as if
 * its frames went, so refusing them does not buy it more of the NIC's
 * time (turns of cheap refusals) than sending would.  The rule for the kinds: destination ff:ff:ff:ff:ff:ff
 * is broadcast, any other with the group bit multicast, everything else
 * unicast and never limited: the NIC floods nothing (a frame leaves by its
 * one port, and no VI gets another's TX), so it has no "unknown unicast";
 * the slow path's switch has, and limits it.  The host VI is exempt: it
 * carries the bridge's traffic, whose floods the switch already limited
 * per vif, plus the host's own; limiting their sum would let one guest's
 * allowed floods use up the others'.
 *
 * Doorbell storms.  A doorbell costs the NIC a wake-up whether or not it
 * brings work; a VI ringing without posting could keep pvnet-nicd busy on
 * its own (Xen's XSA-332 "event storm", answered there by lateeoi).  A
 * doorbell that finds tx_prod where the NIC already is, or no room for an
 * event (the user reads none), or its VI disabled, counts as idle;
 * NIC_DB_IDLE_MAX idle ones in a row mute the doorbell (off the loop) for
 * NIC_DB_MUTE_MIN_MS, doubling up to NIC_DB_MUTE_MAX_MS while the VI goes
 * on ringing for nothing; at the end of a mute the VI is served once (what
 * it posted meanwhile goes) and the next idle doorbell mutes it again.  A
 * doorbell with work resets both.  A user that rings only after posting
 * (nic.h) never gets muted; one that storms costs a wake-up per mute.
 *
 * RX.  nic_rx_frame() steers a frame (filters, else the host VI), takes
 * that VI's next RX descriptor if it posted one and there is room for the
 * event, checks it, copies the frame into the buffer and posts the event.
 * A VI with RX chains (nic.h) gets every frame whole: the NIC first copies
 * and checks as many posted descriptors as the frame needs, decides
 * (enough of them, event room for all, none refused), and only then
 * consumes them; so a frame never arrives partial, and what is dropped
 * costs the VI nothing but a counter.  The port hands GSO frames whole
 * (nic_rx_frame_meta); a VI with chains gets them so, with their GSO
 * metadata in an RX_META event, as a NIC's LRO would deliver them; a VI
 * without gets them cut into segments here (pv_pkt_gso_segment), each a
 * complete frame of the wire's size.  Receive offload sits in the NIC
 * model rather than in each frontend because the NIC is where the frame
 * is still whole: the port's kernel already coalesced it (GRO on the
 * veth, or LRO on real hardware), and cutting it only to glue it again in
 * the guest costs a copy and a system call per segment.
 *
 * Faults.  Indices that cannot be true (a producer more than a ring ahead,
 * an evq_cons ahead of evq_prod or more than a queue behind) mean the VI's
 * user is broken or hostile: the VI is disabled (fault code in its shared
 * memory and its stats) and touches nothing more until reset or freed.
 * Everything else (bad descriptors, spoofed frames) is the drop-and-count
 * kind: an ERROR event, a counter, a rate-limited log line.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "nic.h"
#include "lib/capstream.h"
#include "lib/loop.h"
#include "lib/pkt.h"

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)

static const char *const fault_names[] = {
	[PV_NIC_FAULT_NONE] = "none",
	[PV_NIC_FAULT_TX_PROD] = "tx_prod beyond the TX ring",
	[PV_NIC_FAULT_RX_PROD] = "rx_prod beyond the RX ring",
	[PV_NIC_FAULT_EVQ_CONS] = "evq_cons outside the event queue",
};

struct nic *nic_new(struct pv_loop *loop, const struct nic_config *cfg)
{
	struct nic *nic = calloc(1, sizeof(*nic));

	if (!nic)
		return NULL;
	nic->loop = loop;
	nic->cfg = *cfg;
	nic->host_vi = PV_NIC_VI_NONE;
	nic->mtu = 1500;
	nic->rl = (struct pv_ratelimit)PV_RATELIMIT_INIT;
	nic->vis = calloc(cfg->max_vis, sizeof(*nic->vis));
	if (!nic->vis || cfg->max_vis == 0 || cfg->max_vis >= PV_NIC_VI_NONE ||
	    nic_bufta_init(&nic->bt, cfg->nr_bufs, cfg->max_vis) < 0 ||
	    nic_filters_init(&nic->fl, cfg->max_filters, cfg->vi_filters, cfg->max_vis) < 0) {
		nic_free(nic);
		return NULL;
	}
	return nic;
}

void nic_free(struct nic *nic)
{
	if (!nic)
		return;
	for (uint32_t i = 0; nic->vis && i < nic->cfg.max_vis; i++)
		if (nic->vis[i].state != NIC_VI_FREE)
			nic_vi_free(nic, &nic->vis[i]);
	nic_bufta_fini(&nic->bt);
	nic_filters_fini(&nic->fl);
	free(nic->vis);
	free(nic);
}

void nic_set_xmit(struct nic *nic, nic_xmit_fn fn, void *arg, uint32_t mtu)
{
	nic->xmit = fn;
	nic->xmit_arg = arg;
	nic->mtu = mtu;
}

/* ---- run queue ---- */

void nic_vi_kick(struct nic *nic, struct nic_vi *vi)
{
	if (vi->state != NIC_VI_ACTIVE || vi->queued)
		return;
	vi->queued = true;
	vi->run_next = NULL;
	vi->wait_mark = nic->tx_wire_total;
	if (nic->run_tail)
		nic->run_tail->run_next = vi;
	else
		nic->run_head = vi;
	nic->run_tail = vi;
}

static void runq_remove(struct nic *nic, struct nic_vi *vi)
{
	struct nic_vi *prev = NULL;

	if (!vi->queued)
		return;
	for (struct nic_vi *v = nic->run_head; v; prev = v, v = v->run_next) {
		if (v != vi)
			continue;
		if (prev)
			prev->run_next = v->run_next;
		else
			nic->run_head = v->run_next;
		if (nic->run_tail == v)
			nic->run_tail = prev;
		break;
	}
	vi->queued = false;
	vi->run_next = NULL;
}

static struct nic_vi *runq_pop(struct nic *nic)
{
	struct nic_vi *vi = nic->run_head;

	if (!vi)
		return NULL;
	nic->run_head = vi->run_next;
	if (!nic->run_head)
		nic->run_tail = NULL;
	vi->queued = false;
	vi->run_next = NULL;
	return vi;
}

/* ---- events, faults, wake-ups ---- */

static void vi_fault(struct nic *nic, struct nic_vi *vi, enum pv_nic_fault why)
{
	vi->state = NIC_VI_FAULT;
	vi->st.fault = why;
	vi->st.faults++;
	STORE(&vi->sh->fault.v, (uint32_t)why);
	runq_remove(nic, vi);
	pv_log_rl(&nic->rl, PV_LOG_WARN, "vi %u: disabled: %s", vi->id, fault_names[why]);
}

/* Free event slots, or -1 if the user's evq_cons is impossible (VI faulted). */
static int vi_evq_room(struct nic *nic, struct nic_vi *vi)
{
	uint32_t cons = LOAD(&vi->sh->evq_cons.v);
	uint32_t used = vi->evq_prod - cons;

	if (used > PV_NIC_EVQ_SIZE) {
		vi_fault(nic, vi, PV_NIC_FAULT_EVQ_CONS);
		return -1;
	}
	return (int)(PV_NIC_EVQ_SIZE - used);
}

static void vi_event(struct nic_vi *vi, uint8_t type, uint8_t code, uint16_t flags,
		     const struct pv_nic_desc *d, uint16_t len, uint8_t queue, uint32_t index)
{
	struct pv_nic_event ev = {
		.type = type, .code = code, .flags = flags, .buf_id = d->buf_id,
		.len = len, .queue = queue, .index = index,
	};

	memcpy(&vi->evq[vi->evq_prod & (PV_NIC_EVQ_SIZE - 1)], &ev, sizeof(ev));
	vi->evq_prod++;
}

/*
 * Make our indices and events visible, then wake the user if it asked.
 * The seq_cst fence pairs with the user's: it stores wake_armed, fences,
 * then re-reads evq_prod; one of the two sides sees the other.
 */
static void vi_publish(struct nic_vi *vi)
{
	uint64_t one = 1;

	STORE(&vi->sh->tx_cons.v, vi->tx_cons);
	STORE(&vi->sh->rx_cons.v, vi->rx_cons);
	STORE(&vi->sh->evq_prod.v, vi->evq_prod);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!LOAD(&vi->sh->evq_cons.armed))
		return;
	if (LOAD(&vi->sh->evq_cons.v) == vi->evq_prod)
		return;
	STORE(&vi->sh->evq_cons.armed, 0);
	vi->st.wakeups++;
	if (write(vi->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the user is awake anyway */
	}
}

static void vi_desc_error(struct nic *nic, struct nic_vi *vi, enum pv_nic_err err,
			  const struct pv_nic_desc *d, uint8_t queue, uint32_t index)
{
	vi->st.desc_errors++;
	vi_event(vi, PV_NIC_EV_ERROR, (uint8_t)err, 0, d, 0, queue, index);
	pv_log_rl(&nic->rl, PV_LOG_WARN, "vi %u: %s descriptor %u refused (buffer %u, error %d)",
		  vi->id, queue ? "RX" : "TX", index, d->buf_id, (int)err);
}

/* ---- TX ---- */

/* One TX descriptor of a round: its private copy and what became of it. */
struct tx_desc {
	struct pv_nic_desc d;
	uint32_t index;		/* ring index (free-running) */
	enum pv_nic_err err;	/* refused on its own: a buffer or flag reason */
};

/* One TX frame of a round: a run of descriptors and the frame's fate. */
struct tx_frame {
	struct tx_desc *td;	/* its n descriptors */
	unsigned int n;
	enum pv_nic_err err;	/* NONE, TX_CHAIN (a descriptor refused), or the frame's reason */
	unsigned int txf;	/* with NONE: its entry in nic->txf */
	uint32_t len;
	uint32_t cost;		/* wire bytes (tx_wire_cost), or a minimum frame's if refused */
};

/* Why a round stopped before the VI's posted descriptors ran out. */
enum tx_stop {
	TX_STOP_NONE,		/* everything posted was taken */
	TX_STOP_CHAIN,		/* a chain cut off at tx_prod: waits for its rest */
	TX_STOP_BUDGET,		/* PV_NIC_TX_BUDGET: the VI goes to the back */
	TX_STOP_QUANTUM,	/* its deficit spent: the VI goes to the back */
	TX_STOP_EVQ,		/* no event room for the next chain: waits for a doorbell */
};

/*
 * The wire bytes a frame costs (see "Sharing the port"): @len bytes, one
 * segment, or, a TSO frame (@vh from nic_tx_offload), its segments of at
 * most gso_size payload behind hdr_len bytes of headers each.
 */
static uint32_t tx_wire_cost(uint32_t len, const struct virtio_net_hdr *vh)
{
	uint32_t hdr = le16toh(vh->hdr_len), mss = le16toh(vh->gso_size), nseg, pay;

	if (vh->gso_type == VIRTIO_NET_HDR_GSO_NONE || !mss || hdr >= len)
		return (len < NIC_WIRE_MIN ? NIC_WIRE_MIN : len) + NIC_WIRE_OVERHEAD;
	pay = len - hdr;
	nseg = (pay + mss - 1) / mss;
	return pay + nseg * ((hdr < NIC_WIRE_MIN ? NIC_WIRE_MIN : hdr) + NIC_WIRE_OVERHEAD);
}

/*
 * vi_tx_chain() - copy the descriptors of the frame at tx_cons + @at into
 * @td, up to the @lim-th posted descriptor; a chain ends at a descriptor
 * without PV_NIC_TX_F_MORE or after PV_NIC_TX_MAX_FRAGS (*@overlong).
 *
 * Return: the frame's descriptor count, or 0 if the chain runs past @lim.
 */
static unsigned int vi_tx_chain(struct nic_vi *vi, struct tx_desc *td, uint32_t at, uint32_t lim,
				bool *overlong)
{
	*overlong = false;
	for (uint32_t k = 0; at + k < lim; k++) {
		uint32_t index = vi->tx_cons + at + k;

		memcpy(&td[k].d, &vi->txq[index & (PV_NIC_TXQ_SIZE - 1)], sizeof(td[k].d));
		td[k].index = index;
		td[k].err = PV_NIC_ERR_NONE;
		if (!(td[k].d.flags & PV_NIC_TX_F_MORE))
			return k + 1;
		if (k + 1 == PV_NIC_TX_MAX_FRAGS) {
			*overlong = true;	/* refused whole; what follows is a new frame */
			return k + 1;
		}
	}
	return 0;
}

static uint64_t nic_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

_Static_assert(PV_NIC_STORM_PPS_MAX == PV_STORM_PPS_MAX &&
	       PV_NIC_STORM_BURST_MAX == PV_STORM_BURST_MAX, "SET_STORM takes what a storm key may say");

enum pv_nic_err nic_vi_storm_check(struct nic_vi *vi, const uint8_t dst[6], uint64_t now_ms)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	enum pv_storm_kind k;

	if (!(dst[0] & 1) || vi->pol.any_source)
		return PV_NIC_ERR_NONE;
	k = memcmp(dst, bcast, 6) ? PV_STORM_MCAST : PV_STORM_BCAST;
	if (pv_storm_take(&vi->storm[k], now_ms))
		return PV_NIC_ERR_NONE;
	if (k == PV_STORM_BCAST)
		vi->st.tx_storm_bcast++;
	else
		vi->st.tx_storm_mcast++;
	pv_log_rl(&vi->nic->rl, PV_LOG_WARN, "vi %u: %s over %u frames/s: dropped (storm control)",
		  vi->id, k == PV_STORM_BCAST ? "broadcast" : "multicast", vi->storm[k].pps);
	return PV_NIC_ERR_TX_STORM;
}

/*
 * vi_tx_frame() - validate a frame's descriptors, copy its headers (the
 * first min(len, NIC_TX_HDR_MAX) bytes) into the private copy of
 * nic->txf[*@nf], check that copy; the rest of the frame becomes iovecs
 * into the guest's buffers.  A frame that passes goes into the batch.
 */
static void vi_tx_frame(struct nic *nic, struct nic_vi *vi, struct tx_frame *fr, bool overlong,
			unsigned int *nf)
{
	const uint8_t *src[PV_NIC_TX_MAX_FRAGS];
	const struct pv_nic_desc *first = &fr->td[0].d;
	struct nic_txframe *txf = &nic->txf[*nf];
	uint32_t hlen, off;
	unsigned int j;
	bool refused = false;

	fr->len = 0;
	for (j = 0; j < fr->n; j++) {
		src[j] = nic_bufta_get(&nic->bt, vi->id, &fr->td[j].d,
				       j ? NIC_DESC_TX_NEXT : NIC_DESC_TX_FIRST, &fr->td[j].err);
		refused |= !src[j];
		fr->len += fr->td[j].d.len;
	}
	fr->err = refused ? PV_NIC_ERR_TX_CHAIN : overlong ? PV_NIC_ERR_TX_TOO_BIG :
		  PV_NIC_ERR_NONE;
	if (fr->err != PV_NIC_ERR_NONE)
		return;
	/*
	 * The headers, possibly spanning descriptors, into the private copy;
	 * the payload after them: iovecs straight into the buffers (their
	 * bounds checked by nic_bufta_get()), one per descriptor it touches.
	 */
	hlen = fr->len < NIC_TX_HDR_MAX ? fr->len : NIC_TX_HDR_MAX;
	txf->iov[0] = (struct iovec){ txf->hdr, hlen };
	txf->niov = 1;
	for (j = 0, off = 0; j < fr->n; off += fr->td[j].d.len, j++) {
		uint32_t dl = fr->td[j].d.len, h = 0;

		if (off < hlen) {
			h = hlen - off < dl ? hlen - off : dl;
			memcpy(txf->hdr + off, src[j], h);
		}
		if (h < dl)
			txf->iov[txf->niov++] = (struct iovec){ (void *)(src[j] + h), dl - h };
	}
	/*
	 * From here on only the header copy is looked at: the guest may
	 * rewrite its buffers at will, which changes at most the payload of
	 * its own frame.  The checks get the copy and the frame's length only.
	 */
	vi->pol.max_len = nic->mtu + PV_PKT_ETH_HLEN;
	fr->err = nic_tx_check(&vi->pol, txf->hdr, hlen, fr->len);
	if (fr->err == PV_NIC_ERR_NONE)
		fr->err = nic_tx_offload(&vi->pol, txf->hdr, hlen, fr->len, first->flags,
					 first->mss, &txf->vnet);
	if (fr->err == PV_NIC_ERR_NONE && (txf->hdr[0] & 1))	/* checked: hlen >= 14 */
		fr->err = nic_vi_storm_check(vi, txf->hdr, nic_now_ms());
	if (fr->err != PV_NIC_ERR_NONE)
		return;
	txf->hdr_len = hlen;
	txf->len = fr->len;
	txf->rc = -ENETDOWN;
	fr->txf = (*nf)++;
}

/* Events and counters for a frame of a sent batch: one event per descriptor, in ring order. */
static void vi_tx_complete(struct nic *nic, struct nic_vi *vi, const struct tx_frame *fr)
{
	enum pv_nic_err err = fr->err;

	if (err == PV_NIC_ERR_NONE && nic->txf[fr->txf].rc < 0)
		err = PV_NIC_ERR_TX_PORT;
	switch (err) {
	case PV_NIC_ERR_NONE:
		if (vi->cap) {
			const struct nic_txframe *txf = &nic->txf[fr->txf];

			pv_capstream_add(vi->cap, PV_CTL_CAP_TX, txf->len, txf->iov, txf->niov);
		}
		vi->st.tx_frames++;
		vi->st.tx_bytes += fr->len;
		vi->st.tx_tso += !!(fr->td[0].d.flags & PV_NIC_TX_F_TSO);
		nic->port_tx++;
		vi->st.tx_wire_bytes += fr->cost;
		nic->tx_wire_total += fr->cost;
		for (unsigned int j = 0; j < fr->n; j++)
			vi_event(vi, PV_NIC_EV_TX_DONE, 0, 0, &fr->td[j].d, fr->td[j].d.len, 0,
				 fr->td[j].index);
		return;
	case PV_NIC_ERR_TX_CHAIN:	/* the refused descriptors their reason, the rest CHAIN */
		for (unsigned int j = 0; j < fr->n; j++)
			if (fr->td[j].err != PV_NIC_ERR_NONE)
				vi_desc_error(nic, vi, fr->td[j].err, &fr->td[j].d, 0, fr->td[j].index);
			else
				vi_event(vi, PV_NIC_EV_ERROR, PV_NIC_ERR_TX_CHAIN, 0, &fr->td[j].d,
					 fr->td[j].d.len, 0, fr->td[j].index);
		return;
	case PV_NIC_ERR_TX_RUNT: vi->st.tx_runt++; break;
	case PV_NIC_ERR_TX_SPOOF: vi->st.tx_spoofed++; break;
	case PV_NIC_ERR_TX_TOO_BIG: vi->st.tx_too_big++; break;
	case PV_NIC_ERR_TX_OFFLOAD: vi->st.tx_offload_errors++; break;
	case PV_NIC_ERR_TX_STORM: break;	/* counted and logged by nic_vi_storm_check() */
	default: vi->st.tx_port_errors++; break;
	}
	for (unsigned int j = 0; j < fr->n; j++)
		vi_event(vi, PV_NIC_EV_ERROR, (uint8_t)err, 0, &fr->td[j].d, fr->td[j].d.len, 0,
			 fr->td[j].index);
	if (err != PV_NIC_ERR_TX_PORT && err != PV_NIC_ERR_TX_STORM)
		pv_log_rl(&nic->rl, PV_LOG_WARN, "vi %u: TX frame of %u descriptors dropped (error %d)",
			  vi->id, fr->n, (int)err);
}

/*
 * Serve one turn: whole frames while the deficit lasts, at most
 * PV_NIC_TX_BUDGET descriptors and no more than the event queue has room
 * for; true if the VI has more now (it goes to the back).
 */
static bool vi_tx(struct nic *nic, struct nic_vi *vi)
{
	struct tx_desc td[PV_NIC_TX_BUDGET];
	struct tx_frame fr[PV_NIC_TX_BUDGET];
	uint32_t prod = LOAD(&vi->sh->tx_prod.v), avail, lim, n = 0;
	uint64_t waited = nic->tx_wire_total - vi->wait_mark, wire0;
	unsigned int nfr = 0, nf = 0;
	enum tx_stop stop = TX_STOP_NONE;
	int64_t deficit;
	int room;

	if (prod - vi->tx_cons > PV_NIC_TXQ_SIZE) {
		vi_fault(nic, vi, PV_NIC_FAULT_TX_PROD);
		return false;
	}
	avail = prod - vi->tx_cons;
	if (!avail)
		goto idle;
	room = vi_evq_room(nic, vi);
	if (room < 0)
		return false;
	if (waited > vi->st.tx_wait_max_bytes)
		vi->st.tx_wait_max_bytes = waited;
	deficit = vi->deficit + NIC_TX_QUANTUM;
	if (deficit > NIC_TX_QUANTUM)
		deficit = NIC_TX_QUANTUM;
	lim = avail < PV_NIC_TX_BUDGET ? avail : PV_NIC_TX_BUDGET;
	while (n < lim) {
		bool overlong;
		unsigned int k, nf0 = nf;

		if (deficit <= 0) {
			stop = TX_STOP_QUANTUM;
			break;
		}
		k = vi_tx_chain(vi, td + n, n, lim, &overlong);
		if (!k) {
			stop = lim == avail ? TX_STOP_CHAIN : TX_STOP_BUDGET;
			break;
		}
		if (n + k > (uint32_t)room) {
			stop = TX_STOP_EVQ;
			break;
		}
		fr[nfr] = (struct tx_frame){ .td = td + n, .n = k };
		vi_tx_frame(nic, vi, &fr[nfr], overlong, &nf);
		/* a storm refusal had its offload header filled in txf[nf0] (vi_tx_frame) */
		fr[nfr].cost = nf > nf0 || fr[nfr].err == PV_NIC_ERR_TX_STORM ?
			       tx_wire_cost(fr[nfr].len, &nic->txf[nf0].vnet) :
			       NIC_WIRE_MIN + NIC_WIRE_OVERHEAD;
		deficit -= fr[nfr++].cost;
		n += k;
	}
	if (n == lim && lim < avail && stop == TX_STOP_NONE)
		stop = TX_STOP_BUDGET;
	if (stop == TX_STOP_EVQ)
		vi->st.evq_stalls++;	/* resumes on the next doorbell */
	if (stop == TX_STOP_QUANTUM)
		vi->st.tx_quantum_stops++;
	/* Work left: the deficit goes on; none: its debt stays, its credit goes. */
	vi->deficit = stop == TX_STOP_QUANTUM || stop == TX_STOP_BUDGET ? deficit :
		      deficit < 0 ? deficit : 0;
	vi->tx_cons += n;
	if (nf && nic->xmit)
		nic->xmit(nic->xmit_arg, nic->txf, nf);
	wire0 = nic->tx_wire_total;
	for (unsigned int i = 0; i < nfr; i++)
		vi_tx_complete(nic, vi, &fr[i]);
	vi->st.tx_turns += nic->tx_wire_total != wire0;
	if (n)
		vi_publish(vi);
	return stop == TX_STOP_BUDGET || stop == TX_STOP_QUANTUM;
idle:
	if (vi->deficit > 0)
		vi->deficit = 0;
	return false;
}

/**
 * nic_service() - one round over the VIs that rang their doorbell
 * @nic:	device
 *
 * Return: true if work is left (the caller polls again without sleeping).
 */
bool nic_service(struct nic *nic)
{
	struct nic_vi *last = nic->run_tail, *vi;

	while (last && (vi = runq_pop(nic))) {
		bool more = vi->state == NIC_VI_ACTIVE && vi_tx(nic, vi);

		if (more)
			nic_vi_kick(nic, vi);
		if (vi == last)
			break;
	}
	return nic->run_head != NULL;
}

/* ---- polling (pvnet-nicd --poll-us; nic.h, "NIC polling") ---- */

/**
 * nic_poll_vis() - put every active VI whose tx_prod moved on the run queue
 * @nic:	device
 *
 * What a doorbell would have done, without one: while polling, users skip
 * it.  A VI that posted nothing is not touched (no idle doorbell counted).
 *
 * Return: how many VIs it queued.
 */
unsigned int nic_poll_vis(struct nic *nic)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < nic->cfg.max_vis; i++) {
		struct nic_vi *vi = &nic->vis[i];

		if (vi->state != NIC_VI_ACTIVE || vi->queued ||
		    LOAD(&vi->sh->tx_prod.v) == vi->tx_cons)
			continue;
		nic_vi_kick(nic, vi);
		n++;
	}
	nic->poll_kicks += n;
	return n;
}

/**
 * nic_set_polling() - tell the VIs' users whether the NIC polls tx_prod
 * @nic:	device
 * @on:		polling from now on
 *
 * Stores tx_cons.armed in every active VI.  Stopping: 0 first, a seq_cst
 * fence (pairs with vi_user_kick()'s), then every tx_prod once more, so a
 * frame a user posted without ringing while it saw 1 is not left behind.
 *
 * Return: VIs queued by that last look (the caller serves them).
 */
unsigned int nic_set_polling(struct nic *nic, bool on)
{
	if (nic->polling == on)
		return 0;
	nic->polling = on;
	for (uint32_t i = 0; i < nic->cfg.max_vis; i++)
		if (nic->vis[i].state == NIC_VI_ACTIVE)
			STORE(&nic->vis[i].sh->tx_cons.armed, on ? 1u : 0u);
	if (on)
		return 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return nic_poll_vis(nic);
}

/* ---- RX ---- */

/*
 * One frame into one descriptor.  Return: 0 (delivered, or refused and
 * counted), -ENOBUFS (no descriptor posted) or -EAGAIN (no event room):
 * the caller holds it (RX hold) or counts the drop.
 */
static int vi_rx(struct nic *nic, struct nic_vi *vi, const uint8_t *frame, uint32_t len,
		 uint16_t flags)
{
	struct pv_nic_desc d;
	enum pv_nic_err err;
	uint32_t prod, index;
	uint8_t *p;
	int room = vi_evq_room(nic, vi);

	if (room <= 0)
		return room == 0 ? -EAGAIN : 0;	/* < 0: the VI faulted */
	prod = LOAD(&vi->sh->rx_prod.v);
	if (prod - vi->rx_cons > PV_NIC_RXQ_SIZE) {
		vi_fault(nic, vi, PV_NIC_FAULT_RX_PROD);
		return 0;
	}
	if (prod == vi->rx_cons)
		return -ENOBUFS;
	memcpy(&d, &vi->rxq[vi->rx_cons & (PV_NIC_RXQ_SIZE - 1)], sizeof(d));
	index = vi->rx_cons++;
	p = nic_bufta_get(&nic->bt, vi->id, &d, NIC_DESC_RX, &err);
	if (!p) {
		vi->st.rx_bad_desc++;
		vi_desc_error(nic, vi, err, &d, 1, index);
	} else if (len > d.len) {
		vi->st.rx_too_big++;
		vi_event(vi, PV_NIC_EV_ERROR, PV_NIC_ERR_RX_TOO_BIG, 0, &d,
			 (uint16_t)(len > UINT16_MAX ? UINT16_MAX : len), 1, index);
	} else {
		memcpy(p, frame, len);
		vi->st.rx_frames++;
		vi->st.rx_bytes += len;
		vi_event(vi, PV_NIC_EV_RX, 0, flags, &d, (uint16_t)len, 1, index);
	}
	vi_publish(vi);
	return 0;
}

/* The RX_META event of a chained or GSO frame (nic.h "RX chains"). */
static void vi_rx_meta(struct nic_vi *vi, uint32_t len, uint16_t flags, uint32_t ndesc,
		       const struct nic_rxmeta *m)
{
	struct pv_nic_rx_meta me = {
		.type = PV_NIC_EV_RX_META, .flags = flags, .frame_len = len, .queue = 1,
		.nr_desc = (uint8_t)ndesc,
	};

	if (m) {
		me.gso_type = m->gso_type;
		me.gso_size = me.gso_type != PV_NIC_GSO_NONE ? m->gso_size : 0;
		if (flags & PV_NIC_RX_F_CSUM_PARTIAL) {
			me.csum_start = m->csum_start;
			me.csum_offset = m->csum_offset;
		}
	}
	memcpy(&vi->evq[vi->evq_prod & (PV_NIC_EVQ_SIZE - 1)], &me, sizeof(me));
	vi->evq_prod++;
}

/*
 * vi_rx_chain() - a frame whole into as many posted descriptors as it
 * needs; decided on private copies of them before any is consumed.
 * Return: as vi_rx().
 */
static int vi_rx_chain(struct nic *nic, struct nic_vi *vi, const uint8_t *frame, uint32_t len,
			uint16_t flags, const struct nic_rxmeta *m)
{
	struct pv_nic_desc d[PV_NIC_RX_MAX_FRAGS];
	uint8_t *dst[PV_NIC_RX_MAX_FRAGS];
	enum pv_nic_err err = PV_NIC_ERR_NONE;
	uint32_t prod, avail, room = 0, n = 0, off = 0;
	bool gso = m && m->gso_type != PV_NIC_GSO_NONE, meta;
	int evroom = vi_evq_room(nic, vi);

	if (evroom < 0)
		return 0;
	prod = LOAD(&vi->sh->rx_prod.v);
	if (prod - vi->rx_cons > PV_NIC_RXQ_SIZE) {
		vi_fault(nic, vi, PV_NIC_FAULT_RX_PROD);
		return 0;
	}
	avail = prod - vi->rx_cons;
	if (len > PV_NIC_RX_FRAME_MAX) {
		vi->st.rx_too_big++;
		return 0;
	}
	while (room < len) {
		if (n == PV_NIC_RX_MAX_FRAGS) {
			vi->st.rx_too_big++;
			return 0;
		}
		if (n == avail)
			return -ENOBUFS;
		memcpy(&d[n], &vi->rxq[(vi->rx_cons + n) & (PV_NIC_RXQ_SIZE - 1)], sizeof(d[n]));
		dst[n] = nic_bufta_get(&nic->bt, vi->id, &d[n], NIC_DESC_RX, &err);
		if (!dst[n++])
			break;
		room += d[n - 1].len;
	}
	meta = err == PV_NIC_ERR_NONE && (n > 1 || gso);
	if ((uint32_t)evroom < n + meta)
		return -EAGAIN;
	if (err != PV_NIC_ERR_NONE) {	/* the ones before it back to the user, it refused */
		for (uint32_t j = 0; j + 1 < n; j++)
			vi_event(vi, PV_NIC_EV_ERROR, PV_NIC_ERR_RX_CHAIN, 0, &d[j], 0, 1,
				 vi->rx_cons + j);
		vi->st.rx_bad_desc++;
		vi_desc_error(nic, vi, err, &d[n - 1], 1, vi->rx_cons + n - 1);
		vi->rx_cons += n;
		vi_publish(vi);
		return 0;
	}
	if (meta)
		vi_rx_meta(vi, len, flags, n, m);
	for (uint32_t j = 0; j < n; j++) {
		uint32_t c = len - off < d[j].len ? len - off : d[j].len;

		memcpy(dst[j], frame + off, c);
		off += c;
		vi_event(vi, PV_NIC_EV_RX, 0, flags | (j + 1 < n ? PV_NIC_RX_F_MORE : 0), &d[j],
			 (uint16_t)c, 1, vi->rx_cons + j);
	}
	vi->rx_cons += n;
	vi->st.rx_frames++;
	vi->st.rx_bytes += len;
	vi->st.rx_chains += n > 1;
	vi->st.rx_gso += gso;
	vi_publish(vi);
	return 0;
}

/* ---- RX hold (rxhold.c: the VI's receive memory) ----
 *
 * A frame that finds too few descriptors posted (or no event room) is not
 * dropped at once: it waits in the VI's hold, and every later frame for
 * that VI waits behind it, so order is kept.  The hold is retried before
 * each new frame for the VI, at the end of each port batch, while the NIC
 * polls, and by a 1 ms timer that runs only while some VI holds frames.
 * A frame is dropped (rx_no_desc, or rx_no_evq if that is what stopped it)
 * only when the hold is full, or when the hold has delivered nothing for
 * NIC_RX_HOLD_MAX_MS (a user that stopped reading: then all it held goes,
 * and an idle NIC has no timer left).  One VI's hold is its own: a VI that
 * never refills costs others nothing.
 */
static int vi_rx_try(struct nic *nic, struct nic_vi *vi, const uint8_t *frame, uint32_t len,
		     uint16_t flags, const struct nic_rxmeta *m)
{
	return vi->rx_chain ? vi_rx_chain(nic, vi, frame, len, flags, m)
			    : vi_rx(nic, vi, frame, len, flags);
}

static void hold_timer_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg);

/* The hold became empty or not: the count of holding VIs, the timer. */
static void vi_hold_account(struct nic *nic, struct nic_vi *vi, bool was_holding)
{
	bool holding = vi->hold.count > 0;

	if (holding == was_holding)
		return;
	if (holding) {
		vi->hold_progress_ms = nic_now_ms();
		if (nic->nr_holding++ == 0 && nic->loop && !nic->hold_w)
			nic->hold_w = pv_loop_timer(nic->loop, NIC_RX_HOLD_TICK_MS, NIC_RX_HOLD_TICK_MS,
						    hold_timer_cb, nic);
	} else if (--nic->nr_holding == 0 && nic->hold_w) {
		pv_loop_timer_del(nic->loop, nic->hold_w);
		nic->hold_w = NULL;
	}
}

/* Everything the VI holds is dropped (counted rx_no_desc): it faulted, reset, went, or stalled. */
static void vi_hold_drop(struct nic *nic, struct nic_vi *vi)
{
	bool was = vi->hold.count > 0;

	while (nic_rxhold_peek(&vi->hold)) {
		vi->st.rx_no_desc++;
		nic_rxhold_pop(&vi->hold);
	}
	vi_hold_account(nic, vi, was);
}

/* Deliver from the hold, oldest first, while the VI takes them. */
static void vi_hold_drain(struct nic *nic, struct nic_vi *vi)
{
	const struct nic_rxhold_rec *r;
	bool was = vi->hold.count > 0, moved = false;

	if (vi->state != NIC_VI_ACTIVE) {
		vi_hold_drop(nic, vi);
		return;
	}
	while ((r = nic_rxhold_peek(&vi->hold))) {
		if (vi_rx_try(nic, vi, (const uint8_t *)(r + 1), r->len, r->flags,
			      r->has_meta ? &r->m : NULL) < 0)
			break;
		nic_rxhold_pop(&vi->hold);
		moved = true;
	}
	if (moved)
		vi->hold_progress_ms = nic_now_ms();
	vi_hold_account(nic, vi, was);
}

/* A frame for @vi: delivered now, or held behind what it holds already. */
static void vi_rx_take(struct nic *nic, struct nic_vi *vi, const uint8_t *frame, uint32_t len,
		       uint16_t flags, const struct nic_rxmeta *m)
{
	bool was;
	int r = -ENOBUFS;

	if (vi->hold.count)
		vi_hold_drain(nic, vi);
	if (!vi->hold.count && (r = vi_rx_try(nic, vi, frame, len, flags, m)) == 0)
		return;
	if (vi->state != NIC_VI_ACTIVE)
		return;
	was = vi->hold.count > 0;
	if (nic_rxhold_put(&vi->hold, frame, len, flags, m) < 0) {
		if (r == -EAGAIN)
			vi->st.rx_no_evq++;
		else
			vi->st.rx_no_desc++;
		return;
	}
	vi->st.rx_held++;
	if (vi->hold.bytes_max > vi->st.rx_held_bytes_max)
		vi->st.rx_held_bytes_max = vi->hold.bytes_max;
	vi_hold_account(nic, vi, was);
}

void nic_rx_flush(struct nic *nic)
{
	for (uint32_t i = 0; nic->nr_holding && i < nic->cfg.max_vis; i++)
		if (nic->vis[i].hold.count)
			vi_hold_drain(nic, &nic->vis[i]);
}

static void hold_timer_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	nic_rx_hold_tick(arg, nic_now_ms());
}

/* The hold timer's work at @now (ms, monotonic): retry, then drop what stalled. */
void nic_rx_hold_tick(struct nic *nic, uint64_t now)
{
	nic_rx_flush(nic);
	for (uint32_t i = 0; nic->nr_holding && i < nic->cfg.max_vis; i++) {
		struct nic_vi *vi = &nic->vis[i];

		if (vi->hold.count && now - vi->hold_progress_ms >= NIC_RX_HOLD_MAX_MS) {
			pv_log_rl(&nic->rl, PV_LOG_WARN, "vi %u: %u received frames held %u ms "
				  "without RX descriptors: dropped (rx_no_desc)", vi->id,
				  vi->hold.count, NIC_RX_HOLD_MAX_MS);
			vi_hold_drop(nic, vi);
		}
	}
}

/* A GSO frame's segments, one by one, to a VI without RX chains. */
struct rx_seg_arg {
	struct nic *nic;
	struct nic_vi *vi;
	uint16_t flags;
};

static int vi_rx_seg_cb(const struct pv_pkt_seg *seg, void *arg)
{
	struct rx_seg_arg *a = arg;
	uint32_t len = seg->hdr_len + seg->payload_len;

	if (len > sizeof(a->nic->segbuf))
		return -EMSGSIZE;
	memcpy(a->nic->segbuf, seg->hdr, seg->hdr_len);
	memcpy(a->nic->segbuf + seg->hdr_len, seg->payload, seg->payload_len);
	vi_rx_take(a->nic, a->vi, a->nic->segbuf, len, a->flags, NULL);
	return 0;
}

static void vi_deliver(struct nic *nic, struct nic_vi *vi, const uint8_t *frame, uint32_t len,
		       uint16_t flags, const struct nic_rxmeta *m)
{
	unsigned int gso = m ? m->gso_type & ~PV_NIC_GSO_ECN : PV_NIC_GSO_NONE;
	struct rx_seg_arg a = {
		nic, vi, (uint16_t)((flags & ~PV_NIC_RX_F_CSUM_PARTIAL) | PV_NIC_RX_F_CSUM_OK),
	};

	if (vi->cap) {
		struct iovec iov = { (void *)frame, len };

		pv_capstream_add(vi->cap, PV_CTL_CAP_RX, len, &iov, 1);
	}
	if (vi->rx_chain) {
		vi_rx_take(nic, vi, frame, len, flags, m);
		return;
	}
	if (gso == PV_NIC_GSO_NONE) {
		vi_rx_take(nic, vi, frame, len, flags, NULL);
		return;
	}
	vi->st.rx_gso_segmented++;
	if ((gso != PV_NIC_GSO_TCPV4 && gso != PV_NIC_GSO_TCPV6) ||
	    pv_pkt_gso_segment(frame, len, m->gso_size,
			       gso == PV_NIC_GSO_TCPV4 ? PV_PKT_GSO_TCPV4 : PV_PKT_GSO_TCPV6,
			       vi_rx_seg_cb, &a) < 0) {
		vi->st.rx_too_big++;
		pv_log_rl(&nic->rl, PV_LOG_WARN, "vi %u: a GSO frame of %u bytes (gso_size %u) "
			  "could not be cut into segments: dropped", vi->id, len, m->gso_size);
	}
}

/**
 * nic_rx_frame_meta() - a frame from the wire, with what the port knows of it
 * @nic:	device
 * @frame:	the frame: a complete one, or a GSO frame whole (@m)
 * @len:	its length (at most PV_NIC_RX_FRAME_MAX)
 * @rx_flags:	PV_NIC_RX_F_CSUM_OK if the port knows the checksum is good;
 *		PV_NIC_RX_F_CSUM_PARTIAL with @m's csum_start and csum_offset
 * @m:		GSO type and size, partial checksum place; NULL: none
 *
 * Group addresses go to the host VI; unicast to the VI a filter names,
 * else to the host VI; without a host VI, unmatched frames are dropped.
 */
void nic_rx_frame_meta(struct nic *nic, const uint8_t *frame, uint32_t len, uint16_t rx_flags,
		       const struct nic_rxmeta *m)
{
	uint32_t id = PV_NIC_VI_NONE;

	nic->port_rx++;
	if (len >= 14 && !(frame[0] & 1))
		id = nic_filter_match(&nic->fl, frame, len);
	if (id != PV_NIC_VI_NONE && nic->vis[id].state == NIC_VI_ACTIVE)
		rx_flags |= PV_NIC_RX_F_FILTER;
	else
		id = nic->host_vi;
	if (id == PV_NIC_VI_NONE || nic->vis[id].state != NIC_VI_ACTIVE || len < 14 ||
	    len > PV_NIC_RX_FRAME_MAX) {
		nic->rx_unmatched_dropped++;
		return;
	}
	vi_deliver(nic, &nic->vis[id], frame, len, rx_flags, m);
}

/* A complete frame from the wire (see nic_rx_frame_meta()). */
void nic_rx_frame(struct nic *nic, const uint8_t *frame, uint32_t len, uint16_t rx_flags)
{
	nic_rx_frame_meta(nic, frame, len, rx_flags & ~PV_NIC_RX_F_CSUM_PARTIAL, NULL);
}

/* ---- allocation, reset, free ---- */

static void vi_db_unmute_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct nic_vi *vi = arg;

	pv_loop_timer_del(loop, vi->db_mute_w);
	vi->db_mute_w = NULL;
	if (vi->db_watch)
		pv_loop_mod(loop, vi->db_watch, EPOLLIN);
	nic_vi_kick(vi->nic, vi);	/* what it posted while muted */
}

/* Idle doorbells in a row: off the loop for a while (see "Doorbell storms"). */
static void vi_db_mute(struct nic *nic, struct nic_vi *vi)
{
	vi->db_backoff_ms = vi->db_backoff_ms ? vi->db_backoff_ms * 2 : NIC_DB_MUTE_MIN_MS;
	if (vi->db_backoff_ms > NIC_DB_MUTE_MAX_MS)
		vi->db_backoff_ms = NIC_DB_MUTE_MAX_MS;
	vi->db_mute_w = pv_loop_timer(nic->loop, vi->db_backoff_ms, 0, vi_db_unmute_cb, vi);
	if (!vi->db_mute_w)
		return;		/* no timer: stay on the loop rather than lose the VI */
	pv_loop_mod(nic->loop, vi->db_watch, 0);
	vi->db_idle = NIC_DB_IDLE_MAX - 1;	/* the next idle one mutes again, longer */
	if (vi->db_mutes++ == 0)
		pv_log_rl(&nic->rl, PV_LOG_WARN, "vi %u: doorbell rung with no work %u times in a row: "
			  "muted for %u ms at a time", vi->id, NIC_DB_IDLE_MAX, vi->db_backoff_ms);
}

static void vi_doorbell_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct nic_vi *vi = arg;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return;
	vi->st.doorbells++;
	/* Idle: nothing posted, no room for a single event, or a VI the NIC disabled. */
	if (vi->state != NIC_VI_ACTIVE || LOAD(&vi->sh->tx_prod.v) == vi->tx_cons ||
	    vi_evq_room(vi->nic, vi) <= 0) {
		if (++vi->db_idle >= NIC_DB_IDLE_MAX && !vi->db_mute_w)
			vi_db_mute(vi->nic, vi);
		return;		/* nothing to send: no round for it */
	}
	vi->db_idle = 0;
	vi->db_backoff_ms = 0;
	nic_vi_kick(vi->nic, vi);
}

/* The VI's memory: a memfd of the fixed layout, sealed, mapped. */
static int vi_mem_create(struct nic_vi *vi)
{
	vi->mem_fd = memfd_create("pvnet-vi", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (vi->mem_fd < 0)
		return -errno;
	if (ftruncate(vi->mem_fd, PV_NIC_VI_MEM_SIZE) < 0 ||
	    fcntl(vi->mem_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	vi->sh = mmap(NULL, PV_NIC_VI_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      vi->mem_fd, 0);
	if (vi->sh == MAP_FAILED) {
		vi->sh = NULL;
		return -errno;
	}
	vi->txq = (struct pv_nic_desc *)((uint8_t *)vi->sh + PV_NIC_OFF_TXQ);
	vi->rxq = (struct pv_nic_desc *)((uint8_t *)vi->sh + PV_NIC_OFF_RXQ);
	vi->evq = (struct pv_nic_event *)((uint8_t *)vi->sh + PV_NIC_OFF_EVQ);
	vi->sh->info = (struct pv_nic_vi_info){
		.magic = PV_NIC_VI_MAGIC, .version = PV_NIC_VERSION, .vi_id = vi->id,
		.mem_size = PV_NIC_VI_MEM_SIZE, .txq_size = PV_NIC_TXQ_SIZE,
		.rxq_size = PV_NIC_RXQ_SIZE, .evq_size = PV_NIC_EVQ_SIZE,
		.txq_off = PV_NIC_OFF_TXQ, .rxq_off = PV_NIC_OFF_RXQ,
		.evq_off = PV_NIC_OFF_EVQ, .buf_size = PV_NIC_BUF_SIZE,
	};
	return 0;
}

static void vi_release(struct nic *nic, struct nic_vi *vi)
{
	vi_hold_drop(nic, vi);
	nic_rxhold_fini(&vi->hold);
	if (vi->cap)
		pv_capstream_end(vi->cap, "VI freed");
	if (vi->db_mute_w)
		pv_loop_timer_del(nic->loop, vi->db_mute_w);
	if (vi->db_watch)
		pv_loop_del(nic->loop, vi->db_watch);
	if (vi->sh)
		munmap(vi->sh, PV_NIC_VI_MEM_SIZE);
	if (vi->mem_fd >= 0)
		close(vi->mem_fd);
	if (vi->db_fd >= 0)
		close(vi->db_fd);
	if (vi->wake_fd >= 0)
		close(vi->wake_fd);
	memset(vi, 0, sizeof(*vi));
	vi->mem_fd = vi->db_fd = vi->wake_fd = -1;
}

/**
 * nic_vi_alloc() - a new VI, belonging to @owner
 * @nic:	device
 * @owner:	the control connection (freed with it), or NULL
 * @id:		out: its id
 *
 * Return: 0, -ENOSPC (all VIs taken), or -errno of the memfd/eventfds.
 */
int nic_vi_alloc(struct nic *nic, void *owner, uint32_t *id)
{
	struct nic_vi *vi = NULL;
	int rc;

	for (uint32_t i = 0; i < nic->cfg.max_vis && !vi; i++)
		if (nic->vis[i].state == NIC_VI_FREE)
			vi = &nic->vis[i];
	if (!vi)
		return -ENOSPC;
	memset(vi, 0, sizeof(*vi));
	vi->nic = nic;
	vi->id = (uint32_t)(vi - nic->vis);
	vi->owner = owner;
	vi->db_fd = vi->wake_fd = -1;
	rc = vi_mem_create(vi);
	if (!rc && nic->cfg.rx_hold_bytes)
		rc = nic_rxhold_init(&vi->hold, nic->cfg.rx_hold_bytes);
	if (rc)
		goto fail;
	vi->db_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vi->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	rc = -errno;
	if (vi->db_fd < 0 || vi->wake_fd < 0)
		goto fail;
	rc = -ENOMEM;
	if (nic->loop && !(vi->db_watch = pv_loop_add(nic->loop, vi->db_fd, EPOLLIN,
						      vi_doorbell_cb, vi)))
		goto fail;
	vi->st.vi_id = vi->id;
	vi->state = NIC_VI_ACTIVE;
	STORE(&vi->sh->tx_cons.armed, nic->polling ? 1u : 0u);
	nic->nr_active++;
	*id = vi->id;
	return 0;
fail:
	vi_release(nic, vi);
	return rc;
}

/**
 * nic_vi_lookup() - VI @id, if it exists and belongs to @owner
 *
 * Return: the VI, or NULL with *err -ENOENT or -EPERM.
 */
struct nic_vi *nic_vi_lookup(struct nic *nic, uint32_t id, void *owner, int *err)
{
	if (id >= nic->cfg.max_vis || nic->vis[id].state == NIC_VI_FREE) {
		*err = -ENOENT;
		return NULL;
	}
	if (nic->vis[id].owner != owner) {
		*err = -EPERM;
		return NULL;
	}
	return &nic->vis[id];
}

struct nic_vi *nic_vi_any(struct nic *nic, uint32_t id, int *err)
{
	if (id >= nic->cfg.max_vis || nic->vis[id].state == NIC_VI_FREE) {
		*err = -ENOENT;
		return NULL;
	}
	return &nic->vis[id];
}

/* The reader went: the VI has no capture any more. */
static void vi_capture_gone(void *arg)
{
	struct nic_vi *vi = arg;

	vi->cap = NULL;
}

int nic_vi_capture(struct nic *nic, struct nic_vi *vi, int fd)
{
	char name[32];
	int e = -ENOMEM;

	if (vi->cap || !nic->loop) {
		close(fd);
		return vi->cap ? -EBUSY : -EOPNOTSUPP;
	}
	snprintf(name, sizeof(name), "vi %u", vi->id);
	vi->cap = pv_capstream_start(nic->loop, fd, name, "ok\n", vi_capture_gone, vi, &e);
	return vi->cap ? 0 : e;
}

/* What a VI's user and the trusted caller programmed goes: buffers, filters. */
static void vi_forget(struct nic *nic, struct nic_vi *vi)
{
	nic_bufta_unmap_owner(&nic->bt, vi->id);
	nic_filter_del_vi(&nic->fl, vi->id);
}

void nic_vi_free(struct nic *nic, struct nic_vi *vi)
{
	runq_remove(nic, vi);
	vi_forget(nic, vi);
	if (nic->host_vi == vi->id)
		nic->host_vi = PV_NIC_VI_NONE;
	nic->nr_active--;
	vi_release(nic, vi);
}

/* Rings back to empty, fault cleared; buffers and filters removed; MAC and counters kept. */
void nic_vi_reset(struct nic *nic, struct nic_vi *vi)
{
	struct pv_nic_vi_shared *sh = vi->sh;
	uint64_t v;

	runq_remove(nic, vi);
	vi_forget(nic, vi);
	vi_hold_drop(nic, vi);	/* for buffers that are gone */
	memset((uint8_t *)sh + sizeof(sh->info), 0, PV_NIC_VI_MEM_SIZE - sizeof(sh->info));
	vi->tx_cons = vi->rx_cons = vi->evq_prod = 0;
	vi->st.fault = PV_NIC_FAULT_NONE;
	vi->state = NIC_VI_ACTIVE;
	STORE(&sh->tx_cons.armed, nic->polling ? 1u : 0u);
	while (read(vi->db_fd, &v, sizeof(v)) == sizeof(v))
		;
}

void nic_vi_free_owner(struct nic *nic, void *owner)
{
	for (uint32_t i = 0; i < nic->cfg.max_vis; i++)
		if (nic->vis[i].state != NIC_VI_FREE && nic->vis[i].owner == owner)
			nic_vi_free(nic, &nic->vis[i]);
}

/* Return: 0, or -EINVAL for a group or zero MAC, unknown flags, reserved bits. */
int nic_vi_set_mac(struct nic *nic, struct nic_vi *vi, const struct pv_nic_set_mac *m)
{
	static const uint8_t zero[6];

	if ((m->mac[0] & 1) || !memcmp(m->mac, zero, 6) ||
	    (m->flags & ~(PV_NIC_MAC_F_IP | PV_NIC_MAC_F_PORTS)) ||
	    ((m->flags & PV_NIC_MAC_F_PORTS) && !(m->flags & PV_NIC_MAC_F_IP)) ||
	    m->reserved || ((m->flags & PV_NIC_MAC_F_IP) ? !m->src_ip : m->src_ip != 0))
		return -EINVAL;
	memcpy(vi->pol.mac, m->mac, 6);
	vi->pol.mac_set = true;
	vi->pol.ip_set = m->flags & PV_NIC_MAC_F_IP;
	vi->pol.ip = m->src_ip;
	/* Source ports: those of the VI's own filters, looked up per frame (txcheck.c). */
	vi->pol.ports_set = m->flags & PV_NIC_MAC_F_PORTS;
	vi->pol.fl = &nic->fl;
	vi->pol.vi = vi->id;
	return 0;
}

/*
 * SET_STORM: see nic.h.  Return: 0, or -EINVAL (flags or reserved bits, a
 * rate or burst past the maximum, a burst without a rate).
 */
int nic_vi_set_storm(struct nic_vi *vi, const struct pv_nic_set_storm *m)
{
	if (m->flags || m->reserved[0] || m->reserved[1] ||
	    m->bcast_pps > PV_NIC_STORM_PPS_MAX || m->mcast_pps > PV_NIC_STORM_PPS_MAX ||
	    m->bcast_burst > PV_NIC_STORM_BURST_MAX || m->mcast_burst > PV_NIC_STORM_BURST_MAX ||
	    (!m->bcast_pps && m->bcast_burst) || (!m->mcast_pps && m->mcast_burst))
		return -EINVAL;
	pv_storm_set(&vi->storm[PV_STORM_BCAST], m->bcast_pps, m->bcast_burst);
	pv_storm_set(&vi->storm[PV_STORM_MCAST], m->mcast_pps, m->mcast_burst);
	return 0;
}

/* The host VI gets unmatched and group traffic and may send any source. */
int nic_set_host(struct nic *nic, uint32_t vi_id)
{
	if (vi_id != PV_NIC_VI_NONE &&
	    (vi_id >= nic->cfg.max_vis || nic->vis[vi_id].state == NIC_VI_FREE))
		return -ENOENT;
	if (nic->host_vi != PV_NIC_VI_NONE)
		nic->vis[nic->host_vi].pol.any_source = false;
	nic->host_vi = vi_id;
	if (vi_id != PV_NIC_VI_NONE)
		nic->vis[vi_id].pol.any_source = true;
	return 0;
}

void nic_vi_stats(struct nic *nic, struct nic_vi *vi, struct pv_nic_vi_stats *st)
{
	*st = vi->st;
	st->vi_id = vi->id;
	st->nr_bufs = nic->bt.owned[vi->id];
	st->nr_filters = nic->fl.per_vi[vi->id];
}
