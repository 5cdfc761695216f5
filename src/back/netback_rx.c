/* SPDX-License-Identifier: MIT */
/*
 * netback_rx.c - a guest's receive ring: the vif port's xmit()/flush(),
 * frames copied once, straight into the pages the guest posted.
 *
 * Theory of Operation
 * ===================
 *
 * xmit(f) decides first whether the guest can take the frame at all (MTU,
 * GSO and SG features; too big: drop rx_too_big).  A frame needs
 * ceil(len / 4096) RX requests, plus one for a GSO extra-info response.
 * The guest's req_prod is read once per attempt and checked sane against
 * our private indices (lie: disable).  With enough requests published,
 * each is copied once (RING_COPY_REQUEST), its grant mapped writable,
 * pv_frame_copy() fills it from offset 0, and the response is built
 * privately and copied into the ring:
 *
 *   rsp[0]  data slot 0   flags: csum, NETRXF_extra_info (GSO), more_data
 *   rsp[1]  GSO extra     (only with GSO; consumes a request, buffer unused)
 *   rsp[2..] data slots   more_data on all but the last
 *
 * A slot whose grant cannot be mapped gets NETIF_RSP_ERROR (the frontend
 * drops the frame) and counts rx_bad_grant; a ref beyond the guest's table
 * is fatal.  Never a partial frame for lack of requests (XSA-392): with too
 * few published, the frame goes to the vif's bounded queue (its bytes
 * copied, since a pv_frame dies when xmit returns) and req_event is armed
 * just past req_prod so the guest's next post wakes us; a full queue drops
 * (rx_queue_full).  Queued frames go first, in order, when the guest posts.
 * flush() pushes the responses and notifies once per burst.
 *
 * CSUM_PARTIAL to a guest that did not accept csum_blank (or IPv6 csum)
 * is completed here in software, from a private linear copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "netback_priv.h"
#include "lib/pkt.h"

/* ---- the bounded queue (frameq.h) ---- */

/*
 * Memory per vif (README, pvnetd.8): the queue's byte ring (rxq_max_bytes,
 * 4 MiB by default; frameq.c says why it costs only what was written) and
 * the two private linear copies (PV_FRAME_MAX_LEN each), an anonymous
 * mapping of their own for the same reason.
 */
int nb_rxq_alloc(struct nb_vif *vif)
{
	void *lin = mmap(NULL, 2 * (size_t)PV_FRAME_MAX_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	vif->tx_lin = lin == MAP_FAILED ? NULL : lin;
	vif->rx_lin = vif->tx_lin ? vif->tx_lin + PV_FRAME_MAX_LEN : NULL;
	if (!vif->tx_lin || pv_frameq_init(&vif->rxq, vif->nb->cfg.rxq_max_frames,
					   vif->nb->cfg.rxq_max_bytes)) {
		nb_rxq_free(vif);
		return -ENOMEM;
	}
	return 0;
}

void nb_rxq_free(struct nb_vif *vif)
{
	/* Frames still queued will never be delivered. */
	vif->st.rx_not_connected += vif->rxq.count;
	pv_frameq_fini(&vif->rxq);
	if (vif->tx_lin)
		munmap(vif->tx_lin, 2 * (size_t)PV_FRAME_MAX_LEN);
	vif->tx_lin = vif->rx_lin = NULL;
}

static int nb_rxq_put(struct nb_vif *vif, const struct pv_frame *f)
{
	int e = pv_frameq_put(&vif->rxq, f);

	vif->st.rx_queued = vif->rxq.count;
	if (vif->rxq.count > vif->st.rx_queued_max)
		vif->st.rx_queued_max = vif->rxq.count;
	return e;
}

/* The queue's head frame as vif->rx_frame (header copied, segments in the ring). */
static struct pv_frame *nb_rxq_peek(struct nb_vif *vif)
{
	return pv_frameq_peek(&vif->rxq, &vif->rx_frame);
}

static void nb_rxq_pop(struct nb_vif *vif)
{
	pv_frameq_pop(&vif->rxq);
	vif->st.rx_queued = vif->rxq.count;
}

/* ---- what the guest can take ---- */

/* The frame's GSO type, if this guest negotiated it. */
static int nb_rx_gso_ok(const struct nb_vif *vif, const struct pv_frame *f)
{
	if (!(vif->features & PV_VIF_F_SG))
		return 0;
	return (f->gso_type == PV_GSO_TCPV4 && (vif->features & PV_VIF_F_GSO_TCPV4)) ||
	       (f->gso_type == PV_GSO_TCPV6 && (vif->features & PV_VIF_F_GSO_TCPV6));
}

static int nb_rx_fits(const struct nb_vif *vif, const struct pv_frame *f)
{
	uint32_t max = nb_rx_gso_ok(vif, f) ? PV_FRAME_MAX_LEN
					     : vif->mtu + NB_ETH_HLEN + NB_VLAN_HLEN;

	if (!(vif->features & PV_VIF_F_SG) && max > PV_PAGE_SIZE)
		max = PV_PAGE_SIZE;
	return f->len >= NB_ETH_HLEN && f->len <= max && f->hdr_len <= f->len;
}

static int nb_rx_is_ipv6(const struct pv_frame *f)
{
	uint32_t t = f->hdr_len >= NB_ETH_HLEN ? (uint32_t)f->hdr[12] << 8 | f->hdr[13] : 0;

	if (t == PV_PKT_ETH_P_8021Q && f->hdr_len >= NB_ETH_HLEN + NB_VLAN_HLEN)
		t = (uint32_t)f->hdr[16] << 8 | f->hdr[17];
	return t == PV_PKT_ETH_P_IPV6;
}

/*
 * A partial checksum this guest cannot take: complete it in a private
 * linear copy and hand that on as checksum-valid.  Returns the frame to use.
 */
static const struct pv_frame *nb_rx_csum_fixup(struct nb_vif *vif, const struct pv_frame *f)
{
	unsigned int need = nb_rx_is_ipv6(f) ? PV_VIF_F_CSUM | PV_VIF_F_IPV6_CSUM : PV_VIF_F_CSUM;
	struct pv_frame *l = &vif->rx_csum_frame;

	if (!(f->flags & PV_FRAME_CSUM_PARTIAL) || (vif->features & need) == need ||
	    nb_rx_gso_ok(vif, f))
		return f;
	pv_frame_copy(f, 0, vif->rx_lin, f->len);
	pv_pkt_csum_complete(vif->rx_lin, f->len, f->csum_start, f->csum_offset);
	pv_frame_linear(l, vif->rx_lin, f->len);
	l->flags = PV_FRAME_CSUM_VALID;
	l->csum_start = l->csum_offset = 0;
	l->gso_type = PV_GSO_NONE;
	l->gso_size = 0;
	return l;
}

/* ---- delivery ---- */

/* Read the RX req_prod once and check it: 1 if sane, 0 if the vif was disabled. */
static int nb_rx_read_prod(struct nb_vif *vif, RING_IDX *prod)
{
	RING_IDX p = __atomic_load_n(&vif->rx.sring->req_prod, __ATOMIC_ACQUIRE);

	/* Lie caught: more RX requests than the ring holds, or req_prod moved back. */
	if (!pv_ring_idx_sane(p, vif->rx.rsp_prod_pvt, NB_RX_RING_SIZE) ||
	    !pv_ring_idx_sane(p, vif->rx.req_cons, NB_RX_RING_SIZE)) {
		nb_vif_fatal(vif, "rx: impossible req_prod %u (req_cons %u)", p, vif->rx.req_cons);
		return 0;
	}
	*prod = p;
	vif->rx_seen_prod = p;
	return 1;
}

static void nb_rx_put_rsp(struct nb_vif *vif, const void *rsp)
{
	memcpy(RING_GET_RESPONSE(&vif->rx, vif->rx.rsp_prod_pvt), rsp, sizeof(netif_rx_response_t));
	vif->rx.rsp_prod_pvt++;
}

/* The GSO extra-info response that follows the first data response. */
static void nb_rx_put_gso(struct nb_vif *vif, const struct pv_frame *f)
{
	netif_extra_info_t ex;

	memset(&ex, 0, sizeof(ex));
	ex.type = XEN_NETIF_EXTRA_TYPE_GSO;
	ex.u.gso.size = f->gso_size;
	ex.u.gso.type = f->gso_type == PV_GSO_TCPV4 ? XEN_NETIF_GSO_TYPE_TCPV4
						    : XEN_NETIF_GSO_TYPE_TCPV6;
	_Static_assert(sizeof(ex) == sizeof(netif_rx_response_t), "extra fills an RX slot");
	nb_rx_put_rsp(vif, &ex);
}

/*
 * Fill one posted buffer with @len bytes from @off.  Return the status
 * for its response: bytes, NETIF_RSP_ERROR, or 1 << 16 if fatal.
 */
static int nb_rx_fill(struct nb_vif *vif, const netif_rx_request_t *req,
		      const struct pv_frame *f, uint32_t off, uint32_t len)
{
	struct pv_gnt_map m;
	int err = pv_gnt_map(vif->nb->hv, vif->domid, req->gref, 0, 0, &m);

	if (err == -ERANGE || err == -EFAULT) {
		/* Lie caught: an RX buffer ref beyond the table or memory. */
		nb_vif_fatal(vif, "rx: gref %u unusable: %s", req->gref, strerror(-err));
		return 1 << 16;
	}
	if (err < 0) {
		/* Not granted, another domain's, read-only: this slot fails. */
		vif->st.rx_bad_grant++;
		pv_log_rl(&vif->rl, PV_LOG_WARN, "%s: rx buffer gref %u: %s", vif->port.name,
			  req->gref, strerror(-err));
		return NETIF_RSP_ERROR;
	}
	pv_frame_copy(f, off, m.page, len);
	pv_gnt_unmap(vif->nb->hv, &m);
	return (int)len;
}

static uint16_t nb_rx_csum_flags(const struct pv_frame *f)
{
	if (f->flags & PV_FRAME_CSUM_PARTIAL)
		return NETRXF_csum_blank | NETRXF_data_validated;
	if (f->flags & PV_FRAME_CSUM_VALID)
		return NETRXF_data_validated;
	return 0;
}

/**
 * nb_rx_deliver() - put one frame on the guest's RX ring, whole or not at all
 *
 * Return: 0 delivered, -ENOSPC too few requests posted, -EPIPE vif disabled.
 */
static int nb_rx_deliver(struct nb_vif *vif, const struct pv_frame *f)
{
	int gso = nb_rx_gso_ok(vif, f);
	uint32_t ndata = (f->len + PV_PAGE_SIZE - 1) / PV_PAGE_SIZE, off = 0;
	netif_rx_request_t req;
	netif_rx_response_t rsp;
	RING_IDX prod;

	if (!nb_rx_read_prod(vif, &prod))
		return -EPIPE;
	if (prod - vif->rx.req_cons < ndata + (gso ? 1u : 0u))
		return -ENOSPC;
	for (uint32_t s = 0; s < ndata; s++) {
		uint32_t len = f->len - off < PV_PAGE_SIZE ? f->len - off : PV_PAGE_SIZE;
		int status;

		RING_COPY_REQUEST(&vif->rx, vif->rx.req_cons, &req);
		vif->rx.req_cons++;
		status = nb_rx_fill(vif, &req, f, off, len);
		if (status == 1 << 16)
			return -EPIPE;
		off += len;
		rsp.id = req.id;
		rsp.offset = 0;
		rsp.flags = (uint16_t)((s == 0 ? nb_rx_csum_flags(f) : 0) |
				       (s == 0 && gso ? NETRXF_extra_info : 0) |
				       (off < f->len ? NETRXF_more_data : 0));
		rsp.status = (int16_t)status;
		nb_rx_put_rsp(vif, &rsp);
		if (s == 0 && gso) {
			/* The extra slot's request is consumed; its buffer stays unused. */
			vif->rx.req_cons++;
			nb_rx_put_gso(vif, f);
		}
	}
	vif->rx_dirty = 1;
	vif->st.rx_packets++;
	vif->st.rx_bytes += f->len;
	return 0;
}

/* Too few requests: wake us when the guest posts past what we saw. */
static void nb_rx_arm(struct nb_vif *vif)
{
	vif->rx.sring->req_event = vif->rx_seen_prod + 1;
	xen_mb();
	if (__atomic_load_n(&vif->rx.sring->req_prod, __ATOMIC_ACQUIRE) != vif->rx_seen_prod)
		nb_vif_schedule(vif);
}

/**
 * nb_rx_drain() - deliver queued frames, in order, while the guest has buffers
 * Return: 1 if @budget ran out with frames deliverable, else 0.
 */
int nb_rx_drain(struct nb_vif *vif, unsigned int budget)
{
	for (unsigned int n = 0; vif->connected && vif->rxq.count; n++) {
		int r;

		if (n >= budget)
			return 1;
		r = nb_rx_deliver(vif, nb_rxq_peek(vif));
		if (r == -ENOSPC) {
			nb_rx_arm(vif);
			return 0;
		}
		if (r < 0)
			return 0;
		nb_rxq_pop(vif);
	}
	return 0;
}

/**
 * nb_rx_push() - publish written RX responses; notify if the guest asked
 */
void nb_rx_push(struct nb_vif *vif)
{
	int notify;

	if (!vif->connected || !vif->rx_dirty)
		return;
	vif->rx_dirty = 0;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&vif->rx, notify);
	if (notify)
		nb_notify(vif, vif->evtchn_rx);
}

static int nb_rx_refuse(struct nb_vif *vif, uint64_t *counter)
{
	(*counter)++;
	vif->port.st.tx_dropped++;
	return -ENOBUFS;
}

/**
 * nb_port_xmit() - the switch hands this vif a frame for its guest
 */
static int nb_port_xmit(struct pv_port *port, const struct pv_frame *f)
{
	struct nb_vif *vif = port->priv;
	int r;

	if (!vif->connected)
		return nb_rx_refuse(vif, &vif->st.rx_not_connected);
	if (!nb_rx_fits(vif, f)) {
		pv_log_rl(&vif->rl, PV_LOG_WARN, "%s: a %u-byte frame%s does not fit the vif "
			  "(mtu %u%s): dropped", vif->port.name, f->len,
			  f->gso_type != PV_GSO_NONE ? " (GSO)" : "", vif->mtu,
			  f->gso_type != PV_GSO_NONE && !nb_rx_gso_ok(vif, f) ?
			  ", GSO not negotiated" : "");
		return nb_rx_refuse(vif, &vif->st.rx_too_big);
	}
	if (vif->accel_frames)	/* the accelerator learns flows from what comes this way */
		pv_accel_back_frame(vif->accel, vif->nb->tx_from ? PV_ACCEL_FRAME_RX_LOCAL
								  : PV_ACCEL_FRAME_RX_EXTERNAL,
				    f->hdr, f->hdr_len, f->len);
	f = nb_rx_csum_fixup(vif, f);
	/* Queued frames first, so the guest sees frames in order. */
	if (vif->rxq.count)
		nb_rx_drain(vif, vif->rxq.max);
	if (!vif->connected)
		return nb_rx_refuse(vif, &vif->st.rx_not_connected);
	if (!vif->rxq.count) {
		r = nb_rx_deliver(vif, f);
		if (r == 0)
			return 0;
		if (r == -EPIPE)
			return nb_rx_refuse(vif, &vif->st.rx_not_connected);
	}
	if (nb_rxq_put(vif, f) < 0) {
		pv_log_rl(&vif->rl, PV_LOG_WARN, "%s: rx queue full: guest not consuming",
			  vif->port.name);
		return nb_rx_refuse(vif, &vif->st.rx_queue_full);
	}
	nb_rx_arm(vif);
	return 0;
}

static void nb_port_flush(struct pv_port *port)
{
	nb_rx_push(port->priv);
}

const struct pv_port_ops nb_port_ops = {
	.kind = "vif",
	.xmit = nb_port_xmit,
	.flush = nb_port_flush,
};
