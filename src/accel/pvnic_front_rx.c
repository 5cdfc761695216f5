/* SPDX-License-Identifier: MIT */
/*
 * pvnic_front_rx.c - the "pvnic" frontend's poll: reads the VI's events.
 * An event is believed only if its buffer is ours and in the state it needs
 * (else counted as bogus): RX hands the frame to netfront, learns its source
 * and reposts the buffer; TX_DONE and ERROR free TX buffers, counting a
 * guest frame once at its last buffer's event.  Also the interrupt ops
 * (arm/disarm the wake-up), check_ready and the stats.  See the top of
 * pvnic_front.c.
 */
#define _GNU_SOURCE
#include "accel/pvnic_front_priv.h"

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

static int pvnic_rx(struct pvnic_dev *p, const struct pv_nic_event *ev)
{
	struct virtio_net_hdr vh = { .flags = 0 };
	struct iovec iov;
	int j = pvnic_buf_lookup(p, ev->buf_id);

	if (j < 0 || p->bst[j] != B_RX) {
		pvnic_bogus(p, ev);
		return 0;
	}
	p->bst[j] = B_IDLE;
	if (ev->len < PV_PKT_ETH_HLEN || ev->len > PV_NIC_BUF_SIZE) {
		p->pend.rx_errors++;
		pvnic_rx_repost(p, (unsigned int)j);
		return 1;
	}
	pvnic_learn(p, p->buf[j] + 6);
	iov.iov_base = p->buf[j];
	iov.iov_len = ev->len;
	/* Always a header: the TAP upper edge writes it in front of the frame. */
	if (ev->flags & PV_NIC_RX_F_CSUM_OK)
		vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	if (pv_accel_front_deliver(p->dev, &vh, &iov, 1, ev->len) == 0) {
		p->pend.rx_packets++;
		p->pend.rx_bytes += ev->len;
	} else {
		p->pend.rx_dropped++;
	}
	if (p->up)
		pvnic_rx_repost(p, (unsigned int)j);
	return 1;
}

/* An RX descriptor refused: the buffer goes back on the ring. */
static void pvnic_rx_error(struct pvnic_dev *p, const struct pv_nic_event *ev)
{
	int j = pvnic_buf_lookup(p, ev->buf_id);

	if (j < 0 || p->bst[j] != B_RX) {
		pvnic_bogus(p, ev);
		return;
	}
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
		__atomic_store_n(&p->u.sh->evq_cons.v2, 0, __ATOMIC_RELEASE);
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
