/* SPDX-License-Identifier: MIT */
/*
 * netfront.c - netfront's data path: the TX and RX rings.
 *
 * Theory of Operation
 * ===================
 *
 * The domain's shareable memory is laid out once at registration:
 *
 *   frame 0      TX shared ring (netif_tx_sring, 256 slots)   granted rw to dom0 per connection
 *   frame 1      RX shared ring (netif_rx_sring, 256 slots)   granted rw to dom0 per connection
 *   frames 2..   256 TX pages, granted read-only to dom0 once, reused
 *   then         256 RX pages, granted writable to dom0 once, reused
 *
 * TX.  A frame (at most 65535 bytes, netif's limit) is copied into free TX
 * pages from offset 0, one request per page (pv_netfront_tx_layout): the
 * first request's size is the frame's length, NETTXF_more_data chains the
 * rest, a GSO frame carries its segment size in an extra-info slot right
 * after the first request.  A TX page id is the request id; it comes back
 * in the response and the page is free again.  Requests are pushed and the
 * backend notified once per batch (pv_netfront_flush), only if it asked
 * (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY).  When pages or ring slots run
 * out, pv_netfront_xmit says -EBUSY and takes nothing; the upper edge stops
 * reading (the TAP's queue holds the frames: backpressure, not loss) until
 * ops->tx_ready.  We ask for a TX event only when half of what is
 * outstanding has been answered, as Linux's netfront did: responses are
 * also collected whenever we transmit.
 *
 * RX.  All 256 RX pages are always posted: the request at ring index i
 * names page i mod 256 (id = i mod 256).  Netback copies a frame into
 * consecutive posted pages and answers each request in place, chaining
 * NETRXF_more_data, a GSO extra-info after the first response.  The chain
 * is copied out of the ring into private slots, validated (ids match their
 * ring index, offset + size within the page, bounded chain length), then
 * handed to the upper edge as an iovec straight over the RX pages, with a
 * virtio-net header built from the flags (pv_netfront_rx_to_vh).  Only
 * then are the pages reposted, at the same ring positions plus 256.
 *
 * What the backend writes is copied once (RING_COPY_RESPONSE), validated,
 * then used.  The backend is trusted, so "impossible" answers (a producer
 * index ahead of our requests, a response id that does not match, a chain
 * longer than netif allows) are bugs: we drop the connection and build a
 * new one (nf_lose).  Plausible failures (an error status, an offset past
 * the page, a checksum we cannot locate) drop the frame and count it.
 *
 * One event channel serves both rings; every wake-up polls both, with
 * RING_FINAL_CHECK_FOR_RESPONSES closing the race with the producer.  Work
 * per wake-up is bounded (NF_RX_BUDGET); leftovers re-run from the loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "front/netfront_priv.h"
#include "front/accel_front.h"
#include "lib/pkt.h"

#define NF_RX_BUDGET     256	/* frames per wake-up before yielding to the loop */
#define NF_RX_PUSH_EVERY 32	/* reposted buffers pushed at least this often */
#define NF_RX_HDR_COPY   PV_PKT_GSO_HDR_MAX	/* header bytes gathered to find L4 */
#define NF_TCP_HDR_MAX   60

_Static_assert(PV_NF_NR_TX <= 65536 && (PV_NF_NR_RX & (PV_NF_NR_RX - 1)) == 0,
	       "ids are 16 bits; RX ids are ring index mod a power of two");
_Static_assert(sizeof(struct netif_extra_info) <= sizeof(netif_tx_request_t) &&
	       sizeof(struct netif_extra_info) <= sizeof(netif_rx_response_t),
	       "an extra-info takes one ring slot");

/* ---- pure helpers ---- */

int pv_netfront_vh_to_tx(const struct virtio_net_hdr *vh, uint16_t *flags,
			 struct netif_extra_info *gso)
{
	uint8_t type;

	*flags = 0;
	memset(gso, 0, sizeof(*gso));
	if (!vh)
		return 0;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		*flags = NETTXF_csum_blank | NETTXF_data_validated;
	else if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID)
		*flags = NETTXF_data_validated;
	switch (vh->gso_type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return 0;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		type = XEN_NETIF_GSO_TYPE_TCPV4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		type = XEN_NETIF_GSO_TYPE_TCPV6;
		break;
	default:		/* UDP, ECN: netif has no words for them */
		return -EOPNOTSUPP;
	}
	/* Netback segments it: it needs an MSS and a checksum to finish. */
	if (!vh->gso_size || !(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return -EINVAL;
	gso->type = XEN_NETIF_EXTRA_TYPE_GSO;
	gso->u.gso.size = vh->gso_size;
	gso->u.gso.type = type;
	return 1;
}

int pv_netfront_tx_layout(uint32_t len, uint16_t flags, int has_extra,
			  netif_tx_request_t *req, unsigned int max)
{
	unsigned int n, i;

	if (len == 0 || len > PV_NF_MAX_FRAME)
		return -EMSGSIZE;
	n = (len + PV_PAGE_SIZE - 1) / PV_PAGE_SIZE;
	if (n > max)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		uint32_t off = i * PV_PAGE_SIZE;
		uint32_t chunk = len - off < PV_PAGE_SIZE ? len - off : PV_PAGE_SIZE;

		memset(&req[i], 0, sizeof(req[i]));
		req[i].offset = 0;
		req[i].size = (uint16_t)(i == 0 ? len : chunk);
		if (i + 1 < n)
			req[i].flags |= NETTXF_more_data;
	}
	req[0].flags |= flags & (NETTXF_csum_blank | NETTXF_data_validated);
	if (has_extra)
		req[0].flags |= NETTXF_extra_info;
	return (int)n;
}

static int nf_gso_to_vh(const struct netif_extra_info *gso, struct virtio_net_hdr *vh)
{
	if (gso->type != XEN_NETIF_EXTRA_TYPE_GSO || !gso->u.gso.size)
		return -EINVAL;
	switch (gso->u.gso.type) {
	case XEN_NETIF_GSO_TYPE_TCPV4:
		vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		break;
	case XEN_NETIF_GSO_TYPE_TCPV6:
		vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
		break;
	default:
		return -EINVAL;
	}
	vh->gso_size = gso->u.gso.size;
	return 0;
}

int pv_netfront_rx_to_vh(uint16_t flags, const struct netif_extra_info *gso,
			 const uint8_t *frame, uint32_t len, struct virtio_net_hdr *vh)
{
	uint16_t cs, co;

	memset(vh, 0, sizeof(*vh));
	if (gso && nf_gso_to_vh(gso, vh))
		return -EINVAL;
	if (!(flags & NETRXF_csum_blank) && !gso) {
		if (flags & NETRXF_data_validated)
			vh->flags = VIRTIO_NET_HDR_F_DATA_VALID;
		return 0;
	}
	/* Partial checksum (a GSO frame always is): the guest finishes it. */
	if (pv_pkt_csum_setup(frame, len, &cs, &co))
		return -EINVAL;
	if (gso && co != PV_PKT_TCP_CSUM_OFF)
		return -EINVAL;	/* TCP segmentation of a UDP datagram */
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->csum_start = cs;
	vh->csum_offset = co;
	vh->hdr_len = (uint16_t)(cs + co + 2);
	if (co == PV_PKT_TCP_CSUM_OFF && (uint32_t)cs + 13 <= len)
		vh->hdr_len = (uint16_t)(cs + (frame[cs + 12] >> 4) * 4);
	return 0;
}

int pv_netfront_mac_parse(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6 || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/* ---- setup and teardown ---- */

static void nf_tx_reset(struct pv_netfront *nf)
{
	nf->tx_nfree = PV_NF_NR_TX;
	nf->tx_nlent = 0;
	for (unsigned int i = 0; i < PV_NF_NR_TX; i++)
		nf->tx_free[i] = (uint16_t)(PV_NF_NR_TX - 1 - i);
	memset(nf->tx_busy, 0, sizeof(nf->tx_busy));
	nf->tx_unpushed = nf->rx_unpushed = 0;
}

/**
 * nf_buffers_grant() - grant the TX pages read-only and the RX pages
 * writable to dom0, once per domain
 */
int nf_buffers_grant(struct pv_netfront *nf)
{
	for (unsigned int i = 0; i < PV_NF_NR_TX; i++) {
		int r = pv_guest_grant(nf->g, 0, NF_TX_FRAME(i), 1);

		if (r < 0)
			return r;
		nf->tx_gref[i] = (grant_ref_t)r;
	}
	for (unsigned int i = 0; i < PV_NF_NR_RX; i++) {
		int r = pv_guest_grant(nf->g, 0, NF_RX_FRAME(i), 0);

		if (r < 0)
			return r;
		nf->rx_gref[i] = (grant_ref_t)r;
	}
	nf->buffers_granted = 1;
	return 0;
}

/* Post request @idx of the RX ring: page idx mod 256, id idx mod 256. */
static void nf_rx_post(struct pv_netfront *nf)
{
	RING_IDX idx = nf->rx.req_prod_pvt;
	netif_rx_request_t *req = RING_GET_REQUEST(&nf->rx, idx);
	uint16_t id = (uint16_t)(idx & (PV_NF_NR_RX - 1));

	req->id = id;
	req->pad = 0;
	req->gref = nf->rx_gref[id];
	nf->rx.req_prod_pvt = idx + 1;
	nf->rx_unpushed = 1;
}

static void nf_evtchn_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg);

/**
 * nf_rings_setup() - fresh shared rings, their grants, an event channel,
 * and every RX page posted: what the frontend brings to InitWait
 */
int nf_rings_setup(struct pv_netfront *nf)
{
	netif_tx_sring_t *txs = pv_guest_frame(nf->g, NF_TX_RING_FRAME);
	netif_rx_sring_t *rxs = pv_guest_frame(nf->g, NF_RX_RING_FRAME);
	int r, fd;

	if (!txs || !rxs)
		return -EINVAL;
	memset(txs, 0, PV_PAGE_SIZE);
	memset(rxs, 0, PV_PAGE_SIZE);
	SHARED_RING_INIT(txs);
	SHARED_RING_INIT(rxs);
	FRONT_RING_INIT(&nf->tx, txs, PV_PAGE_SIZE);
	FRONT_RING_INIT(&nf->rx, rxs, PV_PAGE_SIZE);
	if (RING_SIZE(&nf->tx) != PV_NF_NR_TX || RING_SIZE(&nf->rx) != PV_NF_NR_RX)
		return -EINVAL;
	r = pv_guest_grant(nf->g, 0, NF_TX_RING_FRAME, 0);
	if (r < 0)
		return r;
	nf->tx_ring_ref = r;
	r = pv_guest_grant(nf->g, 0, NF_RX_RING_FRAME, 0);
	if (r < 0)
		return r;
	nf->rx_ring_ref = r;
	r = pv_guest_evtchn_alloc_unbound(nf->g, 0);
	if (r < 0)
		return r;
	nf->port = (uint32_t)r;
	fd = pv_guest_evtchn_fd(nf->g, nf->port);
	nf->ev_w = fd >= 0 ? pv_loop_add(nf->loop, fd, EPOLLIN, nf_evtchn_cb, nf) : NULL;
	if (!nf->ev_w)
		return -ENOMEM;
	nf_tx_reset(nf);
	nf->tx_blocked = 1;	/* the upper edge hears tx_ready once we connect */
	for (unsigned int i = 0; i < PV_NF_NR_RX; i++)
		nf_rx_post(nf);
	RING_PUSH_REQUESTS(&nf->rx);
	nf->rx_unpushed = 0;
	nf->rings_up = 1;
	return 0;
}

/**
 * nf_rings_stop() - stop using the rings (frames in flight are lost);
 * grants and the channel stay until nf_rings_release()
 */
void nf_rings_stop(struct pv_netfront *nf)
{
	nf->rings_up = 0;
	if (nf->ev_w)
		pv_loop_del(nf->loop, nf->ev_w);
	if (nf->kick_w)
		pv_loop_timer_del(nf->loop, nf->kick_w);
	nf->ev_w = nf->kick_w = NULL;
}

/**
 * nf_rings_release() - close the channel and revoke the ring grants
 *
 * Return: 0, or -EBUSY while the backend still has a ring mapped (the
 * grant stays; call again once the backend is Closed).
 */
int nf_rings_release(struct pv_netfront *nf)
{
	int e = 0;

	nf_rings_stop(nf);
	if (nf->port) {
		pv_guest_evtchn_close(nf->g, nf->port);
		nf->port = 0;
	}
	if (nf->tx_ring_ref >= 0) {
		if (pv_guest_end_grant(nf->g, (grant_ref_t)nf->tx_ring_ref) == -EBUSY)
			e = -EBUSY;
		else
			nf->tx_ring_ref = -1;
	}
	if (nf->rx_ring_ref >= 0) {
		if (pv_guest_end_grant(nf->g, (grant_ref_t)nf->rx_ring_ref) == -EBUSY)
			e = -EBUSY;
		else
			nf->rx_ring_ref = -1;
	}
	return e;
}

/* The domain is gone: everything it held went with it. */
void nf_rings_forget(struct pv_netfront *nf)
{
	nf_rings_stop(nf);
	nf->port = 0;
	nf->tx_ring_ref = nf->rx_ring_ref = -1;
	nf->buffers_granted = 0;
}

/* ---- TX ---- */

/* Impossible input from the backend: say so, and rebuild the connection. */
static int nf_proto(struct pv_netfront *nf, const char *what, unsigned int a, unsigned int b)
{
	pv_err("vif%u.%u: backend protocol error: %s (%u, %u); reconnecting",
	       pv_netfront_domid(nf), nf->devid, what, a, b);
	nf->st.rx_errors++;
	return -EPROTO;
}

/**
 * nf_tx_gc() - collect TX responses: free their pages
 *
 * Return: 0, or -EPROTO for an impossible response.
 */
static int nf_tx_gc(struct pv_netfront *nf)
{
	netif_tx_sring_t *s = nf->tx.sring;
	RING_IDX prod, cons;

	do {
		prod = __atomic_load_n(&s->rsp_prod, __ATOMIC_ACQUIRE);
		cons = nf->tx.rsp_cons;
		/* Catches: answers to requests we never pushed. */
		if ((RING_IDX)(prod - cons) > (RING_IDX)(nf->tx.req_prod_pvt - cons))
			return nf_proto(nf, "TX rsp_prod beyond requests", prod, cons);
		for (; cons != prod; cons++) {
			netif_tx_response_t rsp;

			RING_COPY_RESPONSE(&nf->tx, cons, &rsp);
			if (rsp.status == NETIF_RSP_NULL)	/* an extra-info slot's answer */
				continue;
			/* Catches: ids we did not send, or answered twice (a page would leak or double-free). */
			if (rsp.id >= PV_NF_NR_TX || !nf->tx_busy[rsp.id])
				return nf_proto(nf, "TX response id not in flight", rsp.id, cons);
			nf->tx_busy[rsp.id] = 0;
			nf->tx_free[nf->tx_nfree++] = rsp.id;
			if (rsp.status != NETIF_RSP_OKAY)
				nf->st.tx_errors++;
		}
		nf->tx.rsp_cons = prod;
		/* Wake us when half of what is outstanding has been answered. */
		s->rsp_event = prod + ((s->req_prod - prod) >> 1) + 1;
		xen_mb();
	} while (__atomic_load_n(&s->rsp_prod, __ATOMIC_ACQUIRE) != prod);
	return 0;
}

static unsigned int nf_tx_slots(uint32_t len)
{
	return len ? (len + PV_PAGE_SIZE - 1) / PV_PAGE_SIZE : 1;
}

static int nf_tx_fits(const struct pv_netfront *nf, unsigned int pages, unsigned int slots)
{
	return nf->tx_nfree >= pages && RING_FREE_REQUESTS(&nf->tx) >= slots;
}

/**
 * pv_netfront_tx_room() - would a frame of @len bytes (GSO or not) be taken?
 *
 * If not, the upper edge is owed ops->tx_ready.
 */
int pv_netfront_tx_room(struct pv_netfront *nf, uint32_t len)
{
	/* Accelerator: a held (BUSY) or returned frame stops TX too. */
	if (nf_accel_tx_stopped(nf)) {
		nf->tx_blocked = 1;
		return 0;
	}
	return nf_tx_room_slow(nf, len);
}

/* pv_netfront_tx_room() for the slow path alone (also accel_front.c's check). */
int nf_tx_room_slow(struct pv_netfront *nf, uint32_t len)
{
	unsigned int pages = nf_tx_slots(len);

	if (nf_mig_busy(nf)) {		/* suspended: TX stopped; tx_ready once reconnected */
		nf->tx_blocked = 1;
		return 0;
	}
	if (nf->rings_up && nf_tx_fits(nf, pages, pages + 1))
		return 1;
	if (nf->rings_up) {
		if (nf_tx_gc(nf)) {
			nf_fail(nf, "bad TX response");
			return 0;
		}
		if (nf_tx_fits(nf, pages, pages + 1))
			return 1;
		pv_netfront_flush(nf);
	}
	nf->tx_blocked = 1;
	return 0;
}

/*
 * Put the requests (and the extra) on the ring.  With @frame, copy it into
 * free pages; without, the frame is already in the pages lent by
 * pv_netfront_tx_borrow(), in order.
 */
static void nf_tx_post(struct pv_netfront *nf, const uint8_t *frame, netif_tx_request_t *req,
		       int n, const struct netif_extra_info *gso, int has_extra)
{
	for (int i = 0; i < n; i++) {
		uint16_t id = frame ? nf->tx_free[--nf->tx_nfree] : nf->tx_lent[i];
		uint32_t chunk = i == 0 && n > 1 ? PV_PAGE_SIZE : req[i].size;
		netif_tx_request_t *q;

		nf->tx_busy[id] = 1;
		if (frame)
			memcpy(pv_guest_frame(nf->g, NF_TX_FRAME(id)),
			       frame + (size_t)i * PV_PAGE_SIZE, chunk);
		req[i].id = id;
		req[i].gref = nf->tx_gref[id];
		q = RING_GET_REQUEST(&nf->tx, nf->tx.req_prod_pvt++);
		*q = req[i];
		if (i == 0 && has_extra) {
			void *x = RING_GET_REQUEST(&nf->tx, nf->tx.req_prod_pvt++);

			memcpy(x, gso, sizeof(*gso));
		}
	}
	nf->tx_unpushed = 1;
}

/**
 * pv_netfront_tx_borrow() - lend the caller free TX pages to read a frame into
 * @iov: filled with up to @max page-sized buffers, in frame order
 *
 * The caller reads a frame straight into them (readv from the TAP: no
 * copy), then calls pv_netfront_xmit_lent() with its length, or
 * pv_netfront_tx_unborrow().  Only one loan at a time.  With a plugin
 * that lends (accel.h 1.3 tx_lend), the buffers are the plugin's own and
 * need no slow-path room: the frame goes out from them on the fast path, or
 * is copied onto the slow path if the plugin says NOT_SENT (accel_front.c).
 *
 * Return: buffers lent (0 if there is no room for a maximum frame).
 */
int pv_netfront_tx_borrow(struct pv_netfront *nf, struct iovec *iov, unsigned int max)
{
	unsigned int k = PV_NF_MAX_TX_SLOTS + 1;
	int lent;

	if (max < k || nf->tx_nlent || nf_accel_tx_lending(nf))
		return 0;
	/* The plugin's own buffers first: no slow-path room needed, no copy. */
	lent = nf_accel_tx_lend(nf, iov, (int)max);
	if (lent > 0)
		return lent;
	if (!pv_netfront_tx_room(nf, PV_NF_MAX_FRAME) ||
	    nf->tx_nfree < k)
		return 0;
	for (unsigned int i = 0; i < k; i++) {
		nf->tx_lent[i] = nf->tx_free[--nf->tx_nfree];
		iov[i].iov_base = pv_guest_frame(nf->g, NF_TX_FRAME(nf->tx_lent[i]));
		iov[i].iov_len = PV_PAGE_SIZE;
	}
	nf->tx_nlent = k;
	return (int)k;
}

/* Give back the lent pages from @from on (all of them: 0). */
static void nf_tx_return(struct pv_netfront *nf, unsigned int from)
{
	while (nf->tx_nlent > from)
		nf->tx_free[nf->tx_nfree++] = nf->tx_lent[--nf->tx_nlent];
	nf->tx_nlent = 0;
}

void pv_netfront_tx_unborrow(struct pv_netfront *nf)
{
	nf_accel_tx_unlend(nf);
	nf_tx_return(nf, 0);
}

/*
 * Offer the frame in the lent pages to the accelerator.  It was read from
 * the upper edge already, so it cannot be refused (pv_netfront_tx_borrow
 * lends nothing while the accelerator has TX stopped).  Return: 1 taken.
 */
static int nf_xmit_lent_accel(struct pv_netfront *nf, const struct virtio_net_hdr *vh,
			      uint32_t len)
{
	struct iovec iov[PV_NF_MAX_TX_SLOTS + 1];
	unsigned int n = 0;

	for (uint32_t off = 0; off < len && n < nf->tx_nlent; off += PV_PAGE_SIZE, n++) {
		iov[n].iov_base = pv_guest_frame(nf->g, NF_TX_FRAME(nf->tx_lent[n]));
		iov[n].iov_len = len - off < PV_PAGE_SIZE ? len - off : PV_PAGE_SIZE;
	}
	return nf_accel_xmit(nf, vh, iov, (int)n, len, 0) > 0;
}

/**
 * pv_netfront_xmit_lent() - send the @len-byte frame read into the lent pages
 * Return: as pv_netfront_xmit(); the pages not used go back in all cases.
 */
int pv_netfront_xmit_lent(struct pv_netfront *nf, const struct virtio_net_hdr *vh, uint32_t len)
{
	int r;

	if (nf_accel_tx_lending(nf))	/* read into the plugin's buffers */
		return nf_accel_xmit_lent(nf, vh, len);
	if (!nf->tx_nlent)
		return -EINVAL;
	if (len > PV_NF_MAX_FRAME) {
		nf_tx_return(nf, 0);
		nf->st.tx_dropped++;
		return -EMSGSIZE;
	}
	/* Accelerator first; the lent pages go back when it took the frame. */
	r = nf_xmit_lent_accel(nf, vh, len);
	if (r) {
		nf_tx_return(nf, 0);
		return 0;
	}
	r = nf_xmit(nf, vh, NULL, len);
	if (!nf->rings_up)
		nf->tx_nlent = 0;	/* the free list is rebuilt on reconnect */
	else if (r == 0)
		nf_tx_return(nf, nf_tx_slots(len));
	else
		nf_tx_return(nf, 0);
	return r;
}

int pv_netfront_xmit(struct pv_netfront *nf, const struct virtio_net_hdr *vh,
		     const void *frame, uint32_t len)
{
	struct iovec iov = { .iov_base = (void *)frame, .iov_len = len };
	int r;

	if (!frame)
		return -EINVAL;
	/* Accelerator first (accel_front.c): taken, refused (-EBUSY), or slow path. */
	r = nf_accel_xmit(nf, vh, &iov, 1, len, 1);
	if (r)
		return r > 0 ? 0 : r;
	return nf_xmit(nf, vh, frame, len);
}

/**
 * nf_xmit() - the slow path: the frame onto the TX ring
 * @frame: the frame, or NULL when it is in the lent pages
 */
int nf_xmit(struct pv_netfront *nf, const struct virtio_net_hdr *vh,
	    const void *frame, uint32_t len)
{
	netif_tx_request_t req[PV_NF_MAX_TX_SLOTS];
	struct netif_extra_info gso;
	uint16_t flags;
	int extra, n;

	if (!nf->rings_up) {
		nf->st.tx_dropped++;
		return -ENOTCONN;
	}
	extra = pv_netfront_vh_to_tx(vh, &flags, &gso);
	n = extra < 0 ? extra : pv_netfront_tx_layout(len, flags, extra, req, PV_NF_MAX_TX_SLOTS);
	if (n > 1 && !(nf->features & PV_NF_BE_SG))
		n = -EMSGSIZE;
	if (extra == 1 && !(nf->features & (gso.u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4 ?
					    PV_NF_BE_GSO_TCPV4 : PV_NF_BE_GSO_TCPV6)))
		n = -EOPNOTSUPP;
	if (n < 0) {
		nf->st.tx_dropped++;
		return n;
	}
	if (!nf_tx_fits(nf, frame ? (unsigned int)n : 0, (unsigned int)(n + extra))) {
		if (nf_tx_gc(nf)) {
			nf_fail(nf, "bad TX response");
			return -ENOTCONN;
		}
		if (!nf_tx_fits(nf, frame ? (unsigned int)n : 0, (unsigned int)(n + extra))) {
			pv_netfront_flush(nf);
			nf->tx_blocked = 1;
			nf->st.tx_busy++;
			return -EBUSY;
		}
	}
	nf_tx_post(nf, frame, req, n, &gso, extra);
	nf->st.tx_packets++;
	nf->st.tx_bytes += len;
	return 0;
}

void pv_netfront_flush(struct pv_netfront *nf)
{
	int ntx = 0, nrx = 0;

	nf_accel_flush(nf);	/* the fast path's doorbell for the batch */
	if (!nf->rings_up)
		return;
	if (nf->tx_unpushed)
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->tx, ntx);
	if (nf->rx_unpushed)
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->rx, nrx);
	nf->tx_unpushed = nf->rx_unpushed = 0;
	if (ntx || nrx) {
		pv_guest_evtchn_notify(nf->g, nf->port);
		nf->st.notifies++;
	}
}

/* ---- RX ---- */

struct nf_rx_slot {
	uint16_t id;
	uint16_t offset;
	uint16_t flags;
	int16_t status;
	RING_IDX idx;
};

struct nf_rx_chain {
	struct nf_rx_slot s[PV_NF_MAX_RX_SLOTS];
	unsigned int n;
	struct netif_extra_info gso;
	int has_gso;
	int bad_extra;
	RING_IDX end;		/* ring index after the chain */
};

/**
 * nf_rx_copy_chain() - copy one frame's responses out of the ring
 *
 * Return: 0, -EAGAIN if the chain is not complete up to @prod yet, or
 * -EPROTO for a chain longer than netif allows.
 */
static int nf_rx_copy_chain(struct pv_netfront *nf, RING_IDX prod, struct nf_rx_chain *c)
{
	RING_IDX i = nf->rx.rsp_cons;
	netif_rx_response_t r;
	uint16_t more;

	c->n = 0;
	c->has_gso = c->bad_extra = 0;
	do {
		if (i == prod)
			return -EAGAIN;
		/* Catches: an endless more_data chain. */
		if (c->n == PV_NF_MAX_RX_SLOTS)
			return nf_proto(nf, "RX chain longer than XEN_NETIF_NR_SLOTS_MIN", c->n, i);
		RING_COPY_RESPONSE(&nf->rx, i, &r);
		c->s[c->n++] = (struct nf_rx_slot){ r.id, r.offset, r.flags, r.status, i };
		i++;
		more = r.flags & NETRXF_more_data;
		if (c->n == 1 && (r.flags & NETRXF_extra_info)) {
			struct netif_extra_info x;
			unsigned int ne = 0;

			do {
				if (i == prod)
					return -EAGAIN;
				/* Catches: an endless extra-info chain. */
				if (++ne > PV_NF_MAX_EXTRAS)
					return nf_proto(nf, "RX extra-info chain too long", ne, i);
				/* One copy out of the ring (an extra-info is not a ring union member). */
				memcpy(&x, (const void *)RING_GET_RESPONSE(&nf->rx, i), sizeof(x));
				i++;
				if (x.type == XEN_NETIF_EXTRA_TYPE_GSO) {
					c->gso = x;
					c->has_gso = 1;
				} else if (x.type == XEN_NETIF_EXTRA_TYPE_NONE ||
					   x.type >= XEN_NETIF_EXTRA_TYPE_MAX) {
					c->bad_extra = 1;
				}
			} while (x.flags & XEN_NETIF_EXTRA_FLAG_MORE);
		}
	} while (more);
	c->end = i;
	return 0;
}

/**
 * nf_rx_validate() - check a copied chain; fill @iov over the RX pages
 *
 * Return: the frame length, 0 to drop it (counted), -EPROTO if impossible.
 */
static int nf_rx_validate(struct pv_netfront *nf, const struct nf_rx_chain *c,
			  struct iovec *iov, int *iovcnt)
{
	static struct pv_ratelimit rl = PV_RATELIMIT_INIT;
	uint32_t total = 0;
	int bad = c->bad_extra;

	*iovcnt = 0;
	for (unsigned int k = 0; k < c->n; k++) {
		const struct nf_rx_slot *s = &c->s[k];

		/* Catches: a response for a page other than the one posted there. */
		if (s->id != (s->idx & (PV_NF_NR_RX - 1)))
			return nf_proto(nf, "RX response id does not match its slot", s->id, s->idx);
		if (s->status < 0) {	/* the backend's own error: drop */
			bad = 1;
			continue;
		}
		/* Plausible but wrong: data past the end of the page.  Drop. */
		if ((uint32_t)s->offset + (uint32_t)s->status > PV_PAGE_SIZE) {
			pv_log_rl(&rl, PV_LOG_WARN, "RX slot offset %u + size %d beyond the page",
				  s->offset, s->status);
			bad = 1;
			continue;
		}
		if (s->status == 0)
			continue;
		iov[*iovcnt].iov_base = (uint8_t *)pv_guest_frame(nf->g, NF_RX_FRAME(s->id)) + s->offset;
		iov[*iovcnt].iov_len = (size_t)s->status;
		(*iovcnt)++;
		total += (uint32_t)s->status;
	}
	if (bad || total < PV_PKT_ETH_HLEN) {
		nf->st.rx_errors++;
		return 0;
	}
	return (int)total;
}

/* Gather the first @want bytes of the frame into nf->rx_lin. */
static uint32_t nf_rx_gather(struct pv_netfront *nf, const struct iovec *iov, int iovcnt,
			     uint32_t want)
{
	uint32_t got = 0;

	for (int k = 0; k < iovcnt && got < want; k++) {
		uint32_t n = (uint32_t)iov[k].iov_len < want - got ? (uint32_t)iov[k].iov_len : want - got;

		memcpy(nf->rx_lin + got, iov[k].iov_base, n);
		got += n;
	}
	return got;
}

/**
 * nf_rx_vh() - the virtio-net header, locating L4 without linearising
 *
 * A frame wholly in its first page is parsed in place.  Otherwise the
 * headers (PV_PKT_GSO_HDR_MAX bytes) are gathered into a private buffer
 * as long as the frame; a result that needed bytes past those gathered
 * is redone over the whole frame (pathological header chains only).
 */
static int nf_rx_vh(struct pv_netfront *nf, uint16_t flags, const struct nf_rx_chain *c,
		    const struct iovec *iov, int iovcnt, uint32_t len, struct virtio_net_hdr *vh)
{
	const struct netif_extra_info *gso = c->has_gso ? &c->gso : NULL;
	uint32_t got;
	int e;

	if (!(flags & NETRXF_csum_blank) && !gso)
		return pv_netfront_rx_to_vh(flags, NULL, NULL, len, vh);
	if (iov[0].iov_len == len)
		return pv_netfront_rx_to_vh(flags, gso, iov[0].iov_base, len, vh);
	got = nf_rx_gather(nf, iov, iovcnt, NF_RX_HDR_COPY);
	e = pv_netfront_rx_to_vh(flags, gso, nf->rx_lin, len, vh);
	if ((e || (uint32_t)vh->csum_start + NF_TCP_HDR_MAX > got) && got < len) {
		nf_rx_gather(nf, iov, iovcnt, len);
		e = pv_netfront_rx_to_vh(flags, gso, nf->rx_lin, len, vh);
	}
	return e;
}

/**
 * nf_rx_frame() - take one frame off the RX ring, deliver it, repost its pages
 *
 * Return: 0, -EAGAIN (chain incomplete), -EPROTO.
 */
static int nf_rx_frame(struct pv_netfront *nf, RING_IDX prod)
{
	static struct pv_ratelimit rl = PV_RATELIMIT_INIT;
	struct iovec iov[PV_NF_MAX_RX_SLOTS];
	struct nf_rx_chain c;
	struct virtio_net_hdr vh;
	int len, iovcnt, e;

	e = nf_rx_copy_chain(nf, prod, &c);
	if (e)
		return e;
	len = nf_rx_validate(nf, &c, iov, &iovcnt);
	if (len < 0)
		return len;
	if (len > 0) {
		if (nf_rx_vh(nf, c.s[0].flags, &c, iov, iovcnt, (uint32_t)len, &vh)) {
			pv_log_rl(&rl, PV_LOG_WARN, "RX frame of %d bytes: partial checksum or GSO "
				  "on a frame that is not TCP/UDP over IP; dropped", len);
			nf->st.rx_dropped++;
		} else if (nf->ops.deliver(nf->arg, &vh, iov, iovcnt, (uint32_t)len)) {
			nf->st.rx_dropped++;
		} else {
			nf->st.rx_packets++;
			nf->st.rx_bytes += (uint64_t)len;
		}
	}
	/* The pages are ours again: repost them at the same positions, 256 on. */
	for (RING_IDX i = nf->rx.rsp_cons; i != c.end; i++)
		nf_rx_post(nf);
	nf->rx.rsp_cons = c.end;
	return 0;
}

/**
 * nf_rx_poll() - deliver what the backend has put on the RX ring
 * @done: frames handled (what is left of the budget goes to the accelerator)
 *
 * Return: 0 done, 1 budget exhausted (more to do), -EPROTO.
 */
static int nf_rx_poll(struct pv_netfront *nf, unsigned int *done)
{
	unsigned int frames = 0, since_push = 0;
	int more;

	for (;;) {
		RING_IDX prod = __atomic_load_n(&nf->rx.sring->rsp_prod, __ATOMIC_ACQUIRE);

		/* Catches: answers to more requests than we posted. */
		if ((RING_IDX)(prod - nf->rx.rsp_cons) > (RING_IDX)(nf->rx.req_prod_pvt - nf->rx.rsp_cons))
			return nf_proto(nf, "RX rsp_prod beyond posted requests", prod, nf->rx.rsp_cons);
		while (nf->rx.rsp_cons != prod) {
			RING_IDX before = nf->rx.rsp_cons;
			int e = nf_rx_frame(nf, prod);

			if (e == -EAGAIN)
				break;
			if (e)
				return e;
			*done = frames + 1;
			since_push += nf->rx.rsp_cons - before;
			if (since_push >= NF_RX_PUSH_EVERY) {
				pv_netfront_flush(nf);
				since_push = 0;
			}
			if (++frames >= NF_RX_BUDGET)
				return 1;
		}
		if (nf->rx.rsp_cons != prod) {
			/* Half a chain: sleep until the backend pushes the rest. */
			nf->rx.sring->rsp_event = prod + 1;
			xen_mb();
			if (__atomic_load_n(&nf->rx.sring->rsp_prod, __ATOMIC_ACQUIRE) == prod)
				return 0;
			continue;
		}
		RING_FINAL_CHECK_FOR_RESPONSES(&nf->rx, more);
		if (!more)
			return 0;
	}
}

static void nf_kick_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_netfront *nf = arg;

	pv_loop_timer_del(loop, nf->kick_w);
	nf->kick_w = NULL;
	if (nf_kick(nf))
		nf_fail(nf, "backend protocol error");
}

/**
 * nf_kick() - poll both rings, push and notify once, wake the upper edge
 *
 * Return: 0, or -EPROTO (the caller drops the connection).
 */
int nf_kick(struct pv_netfront *nf)
{
	unsigned int done = 0;
	int r;

	if (!nf->rings_up)
		return 0;
	nf_accel_irq(nf, 0);		/* accelerator: stop_irq around the poll */
	r = nf_rx_poll(nf, &done);
	if (r < 0)
		return r;
	/* The accelerator's poll gets the budget the slow path left. */
	r |= nf_accel_poll(nf, (int)(NF_RX_BUDGET - done));
	r |= nf_accel_irq(nf, 1);	/* start_irq: events already pending? */
	nf_accel_stats(nf);
	if (r == 1 && !nf->kick_w)	/* budget spent: come back after the loop's other work */
		nf->kick_w = pv_loop_timer(nf->loop, 0, 0, nf_kick_cb, nf);
	if (nf_tx_gc(nf))
		return -EPROTO;
	nf_accel_tx_resume(nf);		/* a returned frame first; check_ready */
	if (nf->after_kick)		/* a plugin's store request queued watch events? */
		nf->after_kick(nf);
	pv_netfront_flush(nf);
	if (nf->tx_blocked && nf->carrier && !nf_accel_tx_stopped(nf) &&
	    nf_tx_fits(nf, PV_NF_MAX_TX_SLOTS, PV_NF_MAX_TX_SLOTS + 1)) {
		nf->tx_blocked = 0;
		if (nf->ops.tx_ready)
			nf->ops.tx_ready(nf->arg);
	}
	return 0;
}

/* Poll from the loop soon (the accelerator's interrupt, a deferred resume). */
void nf_kick_soon(struct pv_netfront *nf)
{
	if (nf->rings_up && !nf->kick_w)
		nf->kick_w = pv_loop_timer(nf->loop, 0, 0, nf_kick_cb, nf);
}

static void nf_evtchn_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_netfront *nf = arg;

	nf->st.events++;
	pv_guest_evtchn_consume(nf->g, nf->port);
	if (nf_kick(nf))
		nf_fail(nf, "backend protocol error");
}

unsigned int pv_netfront_tun_offload(unsigned int be_features)
{
	unsigned int f = TUN_F_CSUM;

	/* A TSO frame is many pages: without scatter-gather netback takes one. */
	if (be_features & PV_NF_BE_SG) {
		if (be_features & PV_NF_BE_GSO_TCPV4)
			f |= TUN_F_TSO4;
		if (be_features & PV_NF_BE_GSO_TCPV6)
			f |= TUN_F_TSO6;
	}
	return f;
}
