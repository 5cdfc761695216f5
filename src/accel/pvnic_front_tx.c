/* SPDX-License-Identifier: MIT */
/*
 * pvnic_front_tx.c - the "pvnic" frontend's start_xmit: every decision is
 * made first on a private copy of the frame's first 256 bytes
 * (pvnic_tx_plan: NOT_SENT, BUSY or one of TSO, SWGSO, CSUM, SWCSUM,
 * PLAIN), then the frame is copied into TX buffers and its descriptors
 * staged past the published tx_prod, published at once when all are there,
 * or taken back (all or nothing).  A BUSY frame is held and sent from poll
 * (pvnic_tx_held).  See "TX policy" at the top of pvnic_front.c.
 */
#define _GNU_SOURCE
#include "accel/pvnic_front_priv.h"

/* ---- TX ---- */

/*
 * Descriptors posted and not yet consumed are buffers in flight, so never
 * more than those: a tx_cons saying otherwise (ahead of tx_prod, or too far
 * behind) is a NIC that lost its mind.  The ring then always has room:
 * NTX <= the ring's size.
 */
static int pvnic_tx_ring_sane(const struct pvnic_dev *p)
{
	uint32_t cons = __atomic_load_n(&p->u.sh->tx_cons.v, __ATOMIC_ACQUIRE);

	return p->u.tx_prod - cons <= PVNIC_NTX - p->ntx_free;
}

/*
 * Write one NIC frame (a chain of @n buffers) of the guest frame being
 * sent, unpublished: pvnic_tx_commit() publishes the guest frame's
 * descriptors at once (vi_user_tx_publish), pvnic_tx_abort() forgets them.
 */
static int pvnic_tx_stage(struct pvnic_dev *p, const struct nic_tx_frag *frag, unsigned int n,
			  uint32_t offload, uint16_t mss)
{
	return vi_user_tx_stage_frame(&p->u, &p->tx_staged, frag, n, offload, mss);
}

/* The next free TX buffer, in flight from now on; the caller counted them. */
static unsigned int pvnic_tx_take(struct pvnic_dev *p)
{
	unsigned int j = p->tx_free[--p->ntx_free];

	p->bst[j] = B_TX;
	p->tx_mark[j] = 0;
	return j;
}

/*
 * A frame's buffers are taken from the free stack (its entries stay in
 * place below ntx_free) and its descriptors staged past the published
 * tx_prod: undoing is putting ntx_free back and forgetting the staged ones.
 */
static void pvnic_tx_abort(struct pvnic_dev *p, unsigned int free0)
{
	for (unsigned int i = p->ntx_free; i < free0; i++)
		p->bst[p->tx_free[i]] = B_TXFREE;
	p->ntx_free = free0;
	p->tx_staged = 0;
}

/* Mark the frame's first and last buffers (for its events) and post it whole. */
static void pvnic_tx_commit(struct pvnic_dev *p, unsigned int free0, uint32_t len)
{
	unsigned int first = p->tx_free[free0 - 1], last = p->tx_free[p->ntx_free];

	p->tx_mark[first] |= PVNIC_TXB_FIRST;
	p->tx_mark[last] |= PVNIC_TXB_LAST;
	p->tx_flen[last] = len;
	vi_user_tx_publish(&p->u, p->tx_staged);
	p->tx_staged = 0;
	p->ring_pending = 1;
}

static uint32_t pvnic_gather(uint8_t *dst, const struct iovec *iov, int iovcnt, uint32_t off,
			     uint32_t len)
{
	uint32_t got = 0;

	for (int i = 0; i < iovcnt && got < len; i++) {
		uint32_t n = (uint32_t)iov[i].iov_len;

		if (off >= n) {
			off -= n;
			continue;
		}
		n -= off;
		if (n > len - got)
			n = len - got;
		if (dst + got != (const uint8_t *)iov[i].iov_base + off)	/* a loan: in place */
			memcpy(dst + got, (const uint8_t *)iov[i].iov_base + off, n);
		got += n;
		off = 0;
	}
	return got;
}

/* A cursor over the frame's iovec: consecutive copies without rescanning. */
struct pvnic_iter {
	const struct iovec *iov;
	int iovcnt, i;
	size_t off;
};

static uint32_t pvnic_iter_copy(struct pvnic_iter *it, uint8_t *dst, uint32_t len)
{
	uint32_t got = 0;

	while (got < len && it->i < it->iovcnt) {
		size_t n = it->iov[it->i].iov_len - it->off;

		if (n > len - got)
			n = len - got;
		if (n && dst + got != (const uint8_t *)it->iov[it->i].iov_base + it->off)
			memcpy(dst + got, (const uint8_t *)it->iov[it->i].iov_base + it->off, n);
		got += (uint32_t)n;
		it->off += n;
		if (it->off == it->iov[it->i].iov_len) {
			it->i++;
			it->off = 0;
		}
	}
	return got;
}

/*
 * A frame as it is, 2 KiB a buffer, one chain: a TSO frame (the NIC
 * segments it) or a frame longer than a buffer (a jumbo frame).
 */
static int pvnic_tx_chain(struct pvnic_dev *p, const struct iovec *iov, int iovcnt, uint32_t len,
			  uint32_t offload, uint16_t mss)
{
	struct pvnic_iter it = { .iov = iov, .iovcnt = iovcnt };
	struct nic_tx_frag frag[PV_NIC_TX_MAX_FRAGS];
	unsigned int nf = 0;

	for (uint32_t off = 0; off < len; off += PV_NIC_BUF_SIZE) {
		uint32_t n = len - off < PV_NIC_BUF_SIZE ? len - off : PV_NIC_BUF_SIZE;
		unsigned int j;

		if (nf == PV_NIC_TX_MAX_FRAGS)
			return -EMSGSIZE;	/* cannot happen: planned */
		j = pvnic_tx_take(p);
		if (pvnic_iter_copy(&it, p->buf[j], n) != n)
			return -EMSGSIZE;	/* the iovec is shorter than len */
		frag[nf++] = (struct nic_tx_frag){ .buf_id = p->id[j], .len = (uint16_t)n };
	}
	return pvnic_tx_stage(p, frag, nf, offload, mss);
}

/*
 * A frame without GSO: as it is, its checksum completed here or by the
 * NIC; in one buffer, or a chain when longer (its software checksum then
 * computed on a linear copy first).
 */
static int pvnic_tx_one(struct pvnic_dev *p, const struct virtio_net_hdr *vh,
			const struct iovec *iov, int iovcnt, uint32_t len, int mode)
{
	uint32_t offload = mode == PVNIC_TXM_CSUM ? PV_NIC_TX_F_CSUM : 0;
	struct iovec lin;
	unsigned int j;

	if (len > PV_NIC_BUF_SIZE) {
		if (mode == PVNIC_TXM_SWCSUM) {
			if (pvnic_gather(p->lin, iov, iovcnt, 0, len) != len ||
			    pv_pkt_csum_complete(p->lin, len, vh->csum_start, vh->csum_offset))
				return -EMSGSIZE;
			lin = (struct iovec){ .iov_base = p->lin, .iov_len = len };
			iov = &lin;
			iovcnt = 1;
		}
		return pvnic_tx_chain(p, iov, iovcnt, len, offload, 0);
	}
	j = pvnic_tx_take(p);
	if (pvnic_gather(p->buf[j], iov, iovcnt, 0, len) != len)
		return -EMSGSIZE;
	if (mode == PVNIC_TXM_SWCSUM &&
	    pv_pkt_csum_complete(p->buf[j], len, vh->csum_start, vh->csum_offset))
		return -EMSGSIZE;
	return pvnic_tx_stage(p, &(struct nic_tx_frag){ .buf_id = p->id[j], .len = (uint16_t)len },
			      1, offload, 0);
}

/* nic_txrule_swgso()'s buffers: the next free TX buffer. */
static int pvnic_swgso_take(void *arg, uint32_t at, uint8_t **buf, uint32_t *buf_id)
{
	struct pvnic_dev *p = arg;
	unsigned int j;

	if (!p->ntx_free)
		return -ENOSPC;		/* cannot happen: planned */
	j = pvnic_tx_take(p);
	*buf = p->buf[j];
	*buf_id = p->id[j];
	return 0;
}

/* The virtio GSO type as pkt.h's, or -1. */
static int pvnic_gso_type(const struct virtio_net_hdr *vh)
{
	switch (vh->gso_type) {
	case VIRTIO_NET_HDR_GSO_TCPV4: return PV_PKT_GSO_TCPV4;
	case VIRTIO_NET_HDR_GSO_TCPV6: return PV_PKT_GSO_TCPV6;
	default: return -1;
	}
}

/* Software GSO: cut at the port's MTU, checksums computed, a buffer per segment (txrule.c). */
static int pvnic_tx_swgso(struct pvnic_dev *p, const struct virtio_net_hdr *vh,
			  const struct iovec *iov, int iovcnt, uint32_t len, uint16_t mss)
{
	const uint8_t *frame = iov[0].iov_base;
	int n;

	if (iovcnt != 1 || iov[0].iov_len < len) {
		if (pvnic_gather(p->lin, iov, iovcnt, 0, len) != len)
			return -EMSGSIZE;
		frame = p->lin;
	}
	n = nic_txrule_swgso(&p->u, &p->tx_staged, frame, len, mss, pvnic_gso_type(vh), p->mtu,
			     pvnic_swgso_take, p);
	return n < 0 ? n : 0;
}

/*
 * pvnic_tx_send() - post a planned frame whole, or nothing (then -errno:
 * not expected once planned, unless the iovec is shorter than @len).  The
 * caller checked that there are @pl->nbuf free TX buffers.
 */
static int pvnic_tx_send(struct pvnic_dev *p, const struct virtio_net_hdr *vh,
			 const struct iovec *iov, int iovcnt, uint32_t len,
			 const struct pvnic_plan *pl)
{
	unsigned int free0 = p->ntx_free;
	int e;

	p->tx_staged = 0;

	switch (pl->mode) {
	case PVNIC_TXM_TSO:
		e = pvnic_tx_chain(p, iov, iovcnt, len, PV_NIC_TX_F_TSO, pl->mss);
		break;
	case PVNIC_TXM_SWGSO:
		e = pvnic_tx_swgso(p, vh, iov, iovcnt, len, pl->mss);
		break;
	default:
		e = pvnic_tx_one(p, vh, iov, iovcnt, len, pl->mode);
		break;
	}
	if (!e && p->ntx_free == free0)
		e = -EINVAL;		/* nothing to post: cannot happen */
	if (e) {
		pvnic_tx_abort(p, free0);
		return e;
	}
	pvnic_tx_commit(p, free0, len);
	if (!p->kicked) {
		p->kicked = 1;
		pv_accel_front_kick(p->dev);	/* the doorbell: once, from poll */
	}
	return 0;
}

/*
 * The longest frame without TSO (the NIC's rule: MTU + 14, one tag 4
 * more), in one buffer or, with TX chains, in one chain.
 */
static uint32_t pvnic_plain_max(const struct pvnic_dev *p, const uint8_t *hdr, uint32_t avail)
{
	uint32_t max = nic_txrule_max_len(p->mtu, hdr, avail);
	uint32_t room = p->tx_chain ? PV_NIC_TX_MAX_FRAGS * PV_NIC_BUF_SIZE : PV_NIC_BUF_SIZE;

	return max < room ? max : room;
}

/*
 * May the NIC complete this frame's partial checksum?  Its CSUM rule
 * (src/nic/txrule.c: TCP or UDP over IPv4 or IPv6, not a fragment, nothing
 * after the IP datagram), and the checksum the kernel asked for is the
 * one the NIC fills in.
 */
static int pvnic_csum_offload_ok(const struct pvnic_dev *p, const struct virtio_net_hdr *vh,
				 const uint8_t *hdr, uint32_t avail, uint32_t len)
{
	struct pv_pkt_info pi;

	return p->off_csum &&
	       nic_txrule_offload(hdr, avail, len, p->mtu, PV_NIC_TX_F_CSUM, 0, &pi) ==
		       PV_NIC_ERR_NONE &&
	       nic_txrule_csum_at(&pi, vh->csum_start, vh->csum_offset);
}

/*
 * pvnic_plan_gso() - a TCP GSO frame: TSO when the NIC has it and takes
 * this frame, else software segmentation; 1: NOT_SENT.  Planned from the
 * header copy: headers longer than it (PV_PKT_GSO_HDR_MAX) go slow.
 */
static int pvnic_plan_gso(const struct pvnic_dev *p, const struct virtio_net_hdr *vh,
			  const uint8_t *hdr, uint32_t avail, uint32_t len, struct pvnic_plan *pl)
{
	int type = pvnic_gso_type(vh);
	struct pv_pkt_info pi, tso;
	uint32_t hlen, pay, mss, mss_max;

	if (type < 0 || !vh->gso_size || !pv_pkt_is_tcp_gso_ok_hdr(hdr, avail, len, type) ||
	    pv_pkt_parse_hdr(hdr, avail, len, &pi))
		return 1;
	hlen = pi.l4_off + pi.l4_hdr_len;
	mss_max = nic_txrule_tso_mss_max(&pi, p->mtu, hdr, avail);	/* segments the port takes */
	if (!mss_max || pi.l3_end < hlen || hlen >= PV_NIC_BUF_SIZE)
		return 1;
	pay = pi.l3_end - hlen;
	mss = vh->gso_size < mss_max ? vh->gso_size : mss_max;
	if (p->off_tso && pay &&
	    nic_txrule_offload(hdr, avail, len, p->mtu, PV_NIC_TX_F_TSO, (uint16_t)mss, &tso) ==
		    PV_NIC_ERR_NONE) {
		pl->mode = PVNIC_TXM_TSO;	/* the NIC's rule, with the mss clamped to it */
		pl->mss = (uint16_t)mss;
		pl->nbuf = (len + PV_NIC_BUF_SIZE - 1) / PV_NIC_BUF_SIZE;
		return pl->nbuf > PV_NIC_TX_MAX_FRAGS;	/* cannot happen: len <= 64 KiB */
	}
	if (mss > PV_NIC_BUF_SIZE - hlen)
		mss = PV_NIC_BUF_SIZE - hlen;
	pl->mode = PVNIC_TXM_SWGSO;
	pl->mss = (uint16_t)mss;
	pl->nbuf = pay ? (pay + mss - 1) / mss : 1;
	return pl->nbuf > PVNIC_NTX;
}

/*
 * pvnic_tx_plan() - every NOT_SENT test past the Ethernet ones: 0 and how
 * the frame goes (@pl), or 1.
 * @hdr: the frame's first @avail bytes (a private copy: avail = min(len, 256))
 */
int pvnic_tx_plan(const struct pvnic_dev *p, const struct virtio_net_hdr *vh,
		  const uint8_t *hdr, uint32_t avail, uint32_t len, struct pvnic_plan *pl)
{
	*pl = (struct pvnic_plan){ .mode = PVNIC_TXM_PLAIN, .nbuf = 1 };
	if (vh && vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return pvnic_plan_gso(p, vh, hdr, avail, len, pl);
	if (len > pvnic_plain_max(p, hdr, avail))
		return 1;
	pl->nbuf = (len + PV_NIC_BUF_SIZE - 1) / PV_NIC_BUF_SIZE;
	if (!vh || !(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 0;
	if ((uint32_t)vh->csum_start + vh->csum_offset + 2 > len)
		return 1;
	pl->mode = pvnic_csum_offload_ok(p, vh, hdr, avail, len) ? PVNIC_TXM_CSUM : PVNIC_TXM_SWCSUM;
	return 0;
}

/* BUSY: keep a copy of the frame (and its plan) until TX_DONE events free buffers. */
static enum pv_accel_xmit pvnic_tx_hold(struct pvnic_dev *p, const struct virtio_net_hdr *vh,
					const struct iovec *iov, int iovcnt, uint32_t len,
					const struct pvnic_plan *pl)
{
	if (p->has_held) {	/* netfront stops TX while one is held */
		p->pend.tx_dropped++;
		return PV_ACCEL_BUSY;
	}
	if (pvnic_gather(p->held, iov, iovcnt, 0, len) != len)
		return PV_ACCEL_NOT_SENT;	/* an iovec shorter than len: not a frame */
	p->held_len = len;
	p->held_pl = *pl;
	p->held_has_vh = vh != NULL;
	if (vh)
		p->held_vh = *vh;
	p->has_held = 1;
	if (p->ring_pending && !p->kicked) {
		p->kicked = 1;
		pv_accel_front_kick(p->dev);
	}
	return PV_ACCEL_BUSY;
}

/*
 * Every NOT_SENT test of start_xmit (and of tx_lent): 0 and the plan, or 1.
 * Decided on a private copy of the frame's first bytes (@hdr).
 */
static int pvnic_tx_check(struct pvnic_dev *p, const struct virtio_net_hdr *vh,
			  const struct iovec *iov, int iovcnt, uint32_t len, struct pvnic_plan *pl)
{
	uint8_t hdr[PV_PKT_GSO_HDR_MAX];
	uint32_t avail = len < sizeof(hdr) ? len : (uint32_t)sizeof(hdr);

	if (!p || !p->up || len < PV_PKT_ETH_HLEN || len > PVNIC_FRAME_MAX ||
	    pvnic_gather(hdr, iov, iovcnt, 0, avail) != avail)
		return 1;
	if ((hdr[0] & 1) || memcmp(hdr + 6, p->mac, 6) || !pvnic_learned(p, hdr))
		return 1;
	if (p->src_on && pv_sg_check(hdr, avail, len, p->mac, &p->src) != PV_SG_PASS) {
		p->src_slow++;		/* the NIC would refuse it: the slow path decides */
		return 1;
	}
	if (pvnic_tx_plan(p, vh, hdr, avail, len, pl))
		return 1;
	if (vi_user_fault(&p->u) || !pvnic_tx_ring_sane(p))
		return 1;	/* the NIC disabled the VI, or lost its mind */
	return 0;
}

enum pv_accel_xmit pvnic_start_xmit(struct pv_accel_front_dev *dev,
				    const struct virtio_net_hdr *vh,
				    const struct iovec *iov, int iovcnt, uint32_t len)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);
	struct pvnic_plan pl;

	/* ---- every NOT_SENT test ---- */
	if (pvnic_tx_check(p, vh, iov, iovcnt, len, &pl))
		return PV_ACCEL_NOT_SENT;

	/* ---- BUSY: held until TX_DONE frees enough buffers ---- */
	if (p->has_held || p->ntx_free < pl.nbuf)
		return pvnic_tx_hold(p, vh, iov, iovcnt, len, &pl);
	if (pvnic_tx_send(p, vh, iov, iovcnt, len, &pl))
		return PV_ACCEL_NOT_SENT;	/* nothing posted */
	return PV_ACCEL_SENT;
}

/*
 * ---- the TX loan (accel.h 1.3) ----
 *
 * netfront reads the guest's next frame straight into free TX buffers of
 * the VI: a maximum frame's worth, taken off the free stack in frame order
 * (B_LENT while out).  tx_lent decides exactly as start_xmit does (the same
 * NOT_SENT tests, pvnic_tx_check, while the buffers are still lent); a
 * frame for the fast path then puts the lent buffers back on top of the
 * free stack, lent[0] first to be taken, so that start_xmit's own paths
 * take the very buffers the frame is in and their copies are in place
 * (pvnic_gather and pvnic_iter_copy skip them): TSO chains and plain,
 * checksummed or jumbo frames go out with no copy.  Software GSO and a
 * software checksum over a chain read the frame from p->lin, as they do
 * for start_xmit (a segment may not be written over the data it is cut
 * from).  A frame for the slow path stays in the loan until netfront has
 * copied it out and ends the loan (tx_unlend).  No loan while a frame is
 * held or fewer than a maximum frame's buffers are free: netfront then
 * uses its own pages and start_xmit, as before.
 */
#define PVNIC_LEND_BUFS	((PVNIC_FRAME_MAX + PV_NIC_BUF_SIZE - 1) / PV_NIC_BUF_SIZE)
_Static_assert(PVNIC_LEND_BUFS <= PV_ACCEL_LEND_IOV && PVNIC_LEND_BUFS <= PVNIC_NTX &&
	       PVNIC_LEND_BUFS * PV_NIC_BUF_SIZE >= PVNIC_FRAME_MAX,
	       "a maximum frame fits one loan");

int pvnic_tx_lend(struct pv_accel_front_dev *dev, struct iovec *iov, int max)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (!p || !p->up || p->nlent || p->has_held || max < (int)PVNIC_LEND_BUFS ||
	    p->ntx_free < PVNIC_LEND_BUFS || vi_user_fault(&p->u))
		return 0;
	for (unsigned int i = 0; i < PVNIC_LEND_BUFS; i++) {
		unsigned int j = p->tx_free[--p->ntx_free];

		p->bst[j] = B_LENT;
		p->lent[i] = (uint16_t)j;
		iov[i].iov_base = p->buf[j];
		iov[i].iov_len = PV_NIC_BUF_SIZE;
	}
	p->nlent = PVNIC_LEND_BUFS;
	return (int)PVNIC_LEND_BUFS;
}

/* The loan's buffers back on the free stack, lent[0] on top (taken first). */
void pvnic_lend_end(struct pvnic_dev *p)
{
	while (p->nlent) {
		unsigned int j = p->lent[--p->nlent];

		p->bst[j] = B_TXFREE;
		p->tx_free[p->ntx_free++] = (uint16_t)j;
	}
}

void pvnic_tx_unlend(struct pv_accel_front_dev *dev)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (p)
		pvnic_lend_end(p);
}

enum pv_accel_xmit pvnic_tx_lent(struct pv_accel_front_dev *dev, const struct virtio_net_hdr *vh,
				 uint32_t len)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);
	struct iovec iov[PVNIC_LEND_BUFS];
	struct pvnic_plan pl;
	int n = 0;

	if (!p || !p->nlent || len > p->nlent * PV_NIC_BUF_SIZE)
		return PV_ACCEL_NOT_SENT;	/* no loan (netfront holds the frame) */
	for (uint32_t off = 0; off < len; off += PV_NIC_BUF_SIZE, n++) {
		iov[n].iov_base = p->buf[p->lent[n]];
		iov[n].iov_len = len - off < PV_NIC_BUF_SIZE ? len - off : PV_NIC_BUF_SIZE;
	}
	if (pvnic_tx_check(p, vh, iov, n, len, &pl))
		return PV_ACCEL_NOT_SENT;	/* stays lent: netfront copies it out */
	pvnic_lend_end(p);
	if (pl.mode == PVNIC_TXM_SWGSO) {	/* segments are written over the loan */
		if (pvnic_gather(p->lin, iov, n, 0, len) != len)
			return PV_ACCEL_NOT_SENT;	/* cannot happen: the loan holds len */
		iov[0] = (struct iovec){ .iov_base = p->lin, .iov_len = len };
		n = 1;
	}
	if (p->has_held || p->ntx_free < pl.nbuf)
		return pvnic_tx_hold(p, vh, iov, n, len, &pl);
	if (pvnic_tx_send(p, vh, iov, n, len, &pl)) {
		p->pend.tx_dropped++;	/* cannot happen once planned; the loan may be overwritten */
		return PV_ACCEL_SENT;
	}
	p->tx_lent_frames++;
	return PV_ACCEL_SENT;
}

/* A held frame goes once there are buffers for all of it (planned when held). */
void pvnic_tx_held(struct pvnic_dev *p)
{
	struct iovec iov = { .iov_base = p->held, .iov_len = p->held_len };

	if (!p->has_held || p->ntx_free < p->held_pl.nbuf)
		return;
	p->has_held = 0;
	if (pvnic_tx_send(p, p->held_has_vh ? &p->held_vh : NULL, &iov, 1, p->held_len,
			  &p->held_pl))
		p->pend.tx_dropped++;	/* cannot happen: it was planned */
}

/*
 * flush (accel.h 1.1): netfront's upper edge ended its batch: one doorbell
 * for the frames start_xmit published in it, now rather than from the
 * poll that start_xmit's kick asks for (which still reaps the TX events).
 */
void pvnic_flush(struct pv_accel_front_dev *dev)
{
	struct pvnic_dev *p = pv_accel_front_priv(dev);

	if (p && p->up && p->ring_pending)
		pvnic_ring(p);
}
