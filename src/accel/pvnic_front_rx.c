/* SPDX-License-Identifier: MIT */
/*
 * pvnic_front_rx.c - the "pvnic" frontend's poll: reads the VI's events.
 * An event is believed only if its buffer is ours and in the state it needs
 * (else counted as bogus): RX hands the frame to netfront, learns its source
 * and reposts the buffer; with RX chains, an RX_META event opens a frame
 * whose RX events follow, and the frame goes up whole (one iovec of its
 * buffers, its GSO and checksum state as a virtio-net header) at its last; TX_DONE and ERROR free TX buffers, counting a
 * guest frame once at its last buffer's event.  Also the interrupt ops
 * (arm/disarm the wake-up), check_ready and the stats.  See the top of
 * pvnic_front.c.
 */
#define _GNU_SOURCE
#include "accel/pvnic_front_priv.h"

_Static_assert(PV_NIC_RX_MAX_FRAGS <= PV_ACCEL_DELIVER_IOV, "an RX chain is one delivery");

/* ---- poll ---- */

/*
 * An event naming a buffer that is not ours, or not in the state the event
 * needs: a NIC bug or a lie.  Nothing changes; counted, and logged at a
 * limited rate.
 */
static void pvnic_bogus(struct pvnic_dev *p, const struct pv_nic_event *ev)
{
	p->bogus_events++;
	pv_log_rl(&p->rl, PV_LOG_WARN,
		  "pvnic: vif %u: event type %u queue %u for buffer id %u: not ours or not in "
		  "flight; ignored", p->devid, ev->type, ev->queue, ev->buf_id);
}

static void pvnic_rx_repost(struct pvnic_dev *p, unsigned int j)
{
	p->bst[j] = B_RX;
	vi_user_rx_post(&p->u, p->id[j], 0, PV_NIC_BUF_SIZE);
}

/*
 * A frame longer than the vif's MTU (and a VLAN tag) would reach a stack
 * that never asked for it: dropped and counted here, where it is seen.  A
 * GSO frame is as long as its segments allow, each within the MTU.
 */
static int pvnic_rx_fits(struct pvnic_dev *p, uint32_t len, int gso)
{
	unsigned int mtu = pv_accel_front_mtu(p->dev);

	if (gso || !mtu || len <= mtu + PV_PKT_ETH_HLEN + PV_PKT_VLAN_HLEN)
		return 1;
	p->rx_over_mtu++;
	p->pend.rx_dropped++;
	pv_log_rl(&p->rl, PV_LOG_WARN,
		  "pvnic: vif %u: a %u-byte frame does not fit the vif (mtu %u): dropped",
		  p->devid, len, mtu);
	return 0;
}

/* Hand one received frame (@n pieces, @len bytes in all) to netfront. */
static void pvnic_rx_deliver(struct pvnic_dev *p, const struct virtio_net_hdr *vh,
			     const struct iovec *iov, int n, uint32_t len)
{
	pvnic_learn(p, (const uint8_t *)iov[0].iov_base + 6);
	if (pv_accel_front_deliver(p->dev, vh, iov, n, len) == 0) {
		p->pend.rx_packets++;
		p->pend.rx_bytes += len;
	} else {
		p->pend.rx_dropped++;
	}
}

/* A one-descriptor frame: an RX event without MORE and without RX_META. */
static int pvnic_rx_one(struct pvnic_dev *p, const struct pv_nic_event *ev, unsigned int j)
{
	struct virtio_net_hdr vh = { .flags = 0 };
	struct iovec iov;

	if (ev->len < PV_PKT_ETH_HLEN || ev->len > PV_NIC_BUF_SIZE) {
		p->pend.rx_errors++;
		pvnic_rx_repost(p, j);
		return 1;
	}
	if (pvnic_rx_fits(p, ev->len, 0)) {
		iov.iov_base = p->buf[j];
		iov.iov_len = ev->len;
		/* Always a header: the TAP upper edge writes it in front of the frame. */
		if (ev->flags & PV_NIC_RX_F_CSUM_OK)
			vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
		pvnic_rx_deliver(p, &vh, &iov, 1, ev->len);
	}
	if (p->up)
		pvnic_rx_repost(p, j);
	return 1;
}

/*
 * The chain being read is not a frame (its events broke its RX_META, or a
 * new one began): its buffers go back on the ring, the frame is counted
 * as an RX error, and the NIC's lie as a bogus event.
 */
static void pvnic_rxc_drop(struct pvnic_dev *p, const char *why)
{
	struct pvnic_rxc *c = &p->rxc;

	for (unsigned int i = 0; i < c->n; i++)
		if (p->up)
			pvnic_rx_repost(p, c->part[i]);
		else
			p->bst[c->part[i]] = B_IDLE;
	if (c->left || c->n) {
		p->rx_chain_bad++;
		p->pend.rx_errors++;
		pv_log_rl(&p->rl, PV_LOG_WARN, "pvnic: vif %u: RX chain dropped: %s", p->devid,
			  why);
	}
	c->left = c->n = 0;
	c->got = 0;
	c->skip = 0;
}

/*
 * RX_META opens a chain: believed only as nic.h draws it (its descriptors
 * 1 .. PV_NIC_RX_MAX_FRAGS and enough room for its length; a GSO frame TCP
 * with a segment size and a partial checksum; the checksum inside).
 */
static void pvnic_rx_meta(struct pvnic_dev *p, const struct pv_nic_event *ev)
{
	struct pvnic_rxc *c = &p->rxc;
	const struct pv_nic_rx_meta *m = &c->m;
	unsigned int gso;

	if (c->left)
		pvnic_rxc_drop(p, "a new frame before the last one ended");
	c->skip = 0;
	memcpy(&c->m, ev, sizeof(c->m));
	gso = m->gso_type & ~PV_NIC_GSO_ECN;
	if (!p->rx_chain || m->queue != 1 || !m->nr_desc || m->nr_desc > PV_NIC_RX_MAX_FRAGS ||
	    m->frame_len < PV_PKT_ETH_HLEN || m->frame_len > PV_NIC_RX_FRAME_MAX ||
	    m->frame_len > m->nr_desc * PV_NIC_BUF_SIZE ||
	    (gso != PV_NIC_GSO_NONE &&
	     ((gso != PV_NIC_GSO_TCPV4 && gso != PV_NIC_GSO_TCPV6) || !m->gso_size ||
	      !(m->flags & PV_NIC_RX_F_CSUM_PARTIAL))) ||
	    (gso == PV_NIC_GSO_NONE && m->gso_type) ||
	    ((m->flags & PV_NIC_RX_F_CSUM_PARTIAL) &&
	     (uint32_t)m->csum_start + m->csum_offset + 2 > m->frame_len)) {
		pvnic_bogus(p, ev);
		return;
	}
	c->left = m->nr_desc;
	c->n = 0;
	c->got = 0;
}

/* The virtio-net header of a finished chain, from its RX_META. */
static void pvnic_rxc_vh(const struct pvnic_rxc *c, const uint8_t *first, uint32_t first_len,
			 struct virtio_net_hdr *vh)
{
	const struct pv_nic_rx_meta *m = &c->m;

	memset(vh, 0, sizeof(*vh));
	if (m->flags & PV_NIC_RX_F_CSUM_PARTIAL) {
		vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->csum_start = m->csum_start;
		vh->csum_offset = m->csum_offset;
		vh->hdr_len = (uint16_t)(m->csum_start + m->csum_offset + 2);
		if (m->csum_offset == PV_PKT_TCP_CSUM_OFF && (uint32_t)m->csum_start + 13 <= first_len)
			vh->hdr_len = (uint16_t)(m->csum_start + (first[m->csum_start + 12] >> 4) * 4);
	} else if (m->flags & PV_NIC_RX_F_CSUM_OK) {
		vh->flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	if ((m->gso_type & ~PV_NIC_GSO_ECN) != PV_NIC_GSO_NONE) {
		/* nic.h's GSO values are virtio-net's */
		vh->gso_type = m->gso_type;
		vh->gso_size = m->gso_size;
	}
}

/* One RX event of the open chain; at its last, the frame goes up whole. */
static int pvnic_rxc_part(struct pvnic_dev *p, const struct pv_nic_event *ev, unsigned int j)
{
	struct pvnic_rxc *c = &p->rxc;
	struct iovec iov[PV_NIC_RX_MAX_FRAGS];
	struct virtio_net_hdr vh;
	int last = !(ev->flags & PV_NIC_RX_F_MORE);

	c->part[c->n] = (uint16_t)j;
	c->plen[c->n++] = ev->len;
	if (!ev->len || ev->len > PV_NIC_BUF_SIZE || c->got + ev->len > c->m.frame_len ||
	    last != (c->left == 1)) {
		pvnic_rxc_drop(p, "RX events do not match RX_META");
		c->skip = !last;	/* the rest of this frame's pieces follow */
		return 0;
	}
	c->got += ev->len;
	if (--c->left)
		return 0;
	if (c->got != c->m.frame_len || c->plen[0] < PV_PKT_ETH_HLEN) {
		pvnic_rxc_drop(p, "a frame shorter than RX_META says");
		return 0;
	}
	for (unsigned int i = 0; i < c->n; i++) {
		iov[i].iov_base = p->buf[c->part[i]];
		iov[i].iov_len = c->plen[i];
	}
	if (pvnic_rx_fits(p, c->got, c->m.gso_type != PV_NIC_GSO_NONE)) {
		pvnic_rxc_vh(c, p->buf[c->part[0]], c->plen[0], &vh);
		pvnic_rx_deliver(p, &vh, iov, (int)c->n, c->got);
	}
	for (unsigned int i = 0; i < c->n; i++)
		if (p->up)
			pvnic_rx_repost(p, c->part[i]);
	c->n = 0;
	c->got = 0;
	return 1;
}

/*
 * pvnic_rx() - an RX event: a frame of one buffer, or a piece of the open
 * chain (RX chains, nic.h).  Return: frames handed up (for the budget).
 */
static int pvnic_rx(struct pvnic_dev *p, const struct pv_nic_event *ev)
{
	int j = pvnic_buf_lookup(p, ev->buf_id);

	if (j < 0 || p->bst[j] != B_RX) {
		pvnic_bogus(p, ev);
		return 0;
	}
	p->bst[j] = B_IDLE;
	if (p->rxc.left)
		return pvnic_rxc_part(p, ev, (unsigned int)j);
	if (p->rxc.skip || (ev->flags & PV_NIC_RX_F_MORE)) {
		/* pieces of a frame without a (believable) RX_META: to its last piece */
		if (!p->rxc.skip) {
			p->rxc.part[0] = (uint16_t)j;
			p->rxc.n = 1;
			pvnic_rxc_drop(p, "an RX chain without a valid RX_META");
		} else {
			pvnic_rx_repost(p, (unsigned int)j);
		}
		p->rxc.skip = !!(ev->flags & PV_NIC_RX_F_MORE);
		return 0;
	}
	return pvnic_rx_one(p, ev, (unsigned int)j);
}

/* An RX descriptor refused: the buffer goes back on the ring. */
static void pvnic_rx_error(struct pvnic_dev *p, const struct pv_nic_event *ev)
{
	int j = pvnic_buf_lookup(p, ev->buf_id);

	if (j < 0 || p->bst[j] != B_RX) {
		pvnic_bogus(p, ev);
		return;
	}
	if (p->rxc.left)	/* the NIC consumes a chain whole or refuses it before its events */
		pvnic_rxc_drop(p, "an ERROR inside an RX chain");
	p->nic_errors[ev->code < PV_NIC_ERR_MAX ? ev->code : PV_NIC_ERR_NONE]++;
	p->pend.rx_errors++;
	pvnic_rx_repost(p, (unsigned int)j);
}

/*
 * pvnic_tx_event() - TX_DONE or ERROR for one TX descriptor: its buffer is
 * free again.  The NIC reports every descriptor of a frame, in ring order
 * (nic.h), so the guest frame (a chain, or the segments of a software GSO
 * frame) is counted once, at its last buffer's event: sent if none of its
 * events was an ERROR, else one tx_error.  ERROR codes are counted per
 * event (nic_errors[code]).  A NIC reporting out of ring order could skew
 * these counts, never the buffers.
 */
static void pvnic_tx_event(struct pvnic_dev *p, const struct pv_nic_event *ev)
{
	int j = pvnic_buf_lookup(p, ev->buf_id);

	if (j < 0 || p->bst[j] != B_TX) {
		pvnic_bogus(p, ev);
		return;
	}
	p->bst[j] = B_TXFREE;
	p->tx_free[p->ntx_free++] = (uint16_t)j;	/* each in-flight buffer once: fits */
	if (p->tx_mark[j] & PVNIC_TXB_FIRST)
		p->txa_err = 0;
	if (ev->type == PV_NIC_EV_ERROR) {
		p->txa_err = 1;
		p->nic_errors[ev->code < PV_NIC_ERR_MAX ? ev->code : PV_NIC_ERR_NONE]++;
	}
	if (p->tx_mark[j] & PVNIC_TXB_LAST) {
		if (p->txa_err) {
			p->pend.tx_errors++;
		} else {
			p->pend.tx_packets++;
			p->pend.tx_bytes += p->tx_flen[j];
		}
		p->txa_err = 0;
	}
}

int pvnic_poll(struct pv_accel_front_dev *dev, int budget)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);
	struct pv_nic_event ev;
	unsigned int events = 0;
	int n = 0;

	if (!p || !p->up)
		return 0;
	if (vi_user_fault(&p->u)) {
		pv_warn("pvnic: vif %u: the NIC disabled the VI (fault %u)", p->devid,
			vi_user_fault(&p->u));
		pvnic_vi_down(p, "VI fault");
		pv_accel_front_set_state(dev, XenbusStateClosing);
		return 0;
	}
	while (n < budget && p->up && vi_user_event(&p->u, &ev)) {
		events++;
		if (ev.type == PV_NIC_EV_RX)
			n += pvnic_rx(p, &ev);
		else if (ev.type == PV_NIC_EV_RX_META)
			pvnic_rx_meta(p, &ev);
		else if (ev.type == PV_NIC_EV_TX_DONE || (ev.type == PV_NIC_EV_ERROR && ev.queue == 0))
			pvnic_tx_event(p, &ev);
		else if (ev.type == PV_NIC_EV_ERROR && ev.queue == 1)
			pvnic_rx_error(p, &ev);
		else
			pvnic_bogus(p, &ev);
	}
	if (!p->up)
		return n;
	pvnic_tx_held(p);
	/* One doorbell for the burst; also when the NIC may have stalled on our events. */
	if (p->ring_pending ||
	    (events && __atomic_load_n(&p->u.sh->tx_cons.v, __ATOMIC_ACQUIRE) != p->u.tx_prod))
		pvnic_ring(p);
	return n;
}

int pvnic_start_irq(struct pv_accel_front_dev *dev)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (!p || !p->up)
		return 0;
	if (p->ring_pending)
		pvnic_ring(p);
	p->irq_on = 1;
	return vi_user_arm(&p->u);
}

void pvnic_stop_irq(struct pv_accel_front_dev *dev)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (!p)
		return;
	p->irq_on = 0;
	if (p->up)
		__atomic_store_n(&p->u.sh->evq_cons.armed, 0, __ATOMIC_RELEASE);
}

int pvnic_check_ready(struct pv_accel_front_dev *dev)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	return !p || !p->has_held;
}

void pvnic_get_stats(struct pv_accel_front_dev *dev, struct pv_accel_stats *delta)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (!p)
		return;
	delta->tx_packets += p->pend.tx_packets;
	delta->tx_bytes += p->pend.tx_bytes;
	delta->tx_dropped += p->pend.tx_dropped;
	delta->tx_errors += p->pend.tx_errors;
	delta->rx_packets += p->pend.rx_packets;
	delta->rx_bytes += p->pend.rx_bytes;
	delta->rx_dropped += p->pend.rx_dropped;
	delta->rx_errors += p->pend.rx_errors;
	memset(&p->pend, 0, sizeof(p->pend));
}
