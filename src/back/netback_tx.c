/* SPDX-License-Identifier: MIT */
/*
 * netback_tx.c - a guest's transmit ring: netif TX requests -> pv_frame ->
 * pv_switch_input().
 *
 * Theory of Operation
 * ===================
 *
 * A pass (nb_tx_poll) reads the shared req_prod once, atomically, and
 * checks it against our private indices before anything else: a guest
 * claiming more outstanding requests than the ring holds, or moving
 * req_prod backwards, is lying (XSA-39) and the vif is disabled.  Frames
 * are then taken up to that index, at most cfg.tx_budget of them.
 *
 * Each frame goes through copy -> validate -> map -> build -> use:
 *
 *  copy      nb_tx_parse(): every slot of the frame (first slot, extra-info
 *            slots, more_data slots) is copied once with RING_COPY_REQUEST
 *            into vif->txs[] / vif->extras[].  Nothing below reads the
 *            shared ring again (XSA-155): a request rewritten after we
 *            copied it changes nothing.
 *  validate  structural lies are fatal (bad extra type, > 20 data slots,
 *            data crossing a page); shape problems of a possible frame are
 *            drops (runt, too long, fragment larger than what remains,
 *            bad GSO, 19 or 20 data slots: Linux's limits).  A chain that is not yet complete (its next slot is
 *            beyond req_prod) is not consumed: we wait for the guest to
 *            publish the rest, arming req_event just past req_prod.
 *  map       each non-empty slot's grant, read-only, through pv_gnt_map().
 *  build     the first min(len, PV_FRAME_HDR_MAX) bytes are copied into the
 *            frame's private header, the rest are segments in the mapped
 *            pages.  Source MAC, checksum and GSO checks use only private
 *            bytes: the header copy, or, when offloads need the L4 header
 *            found, a private linear copy of the whole frame (tx_lin),
 *            which then also backs the segments.  Last, the source
 *            addresses (srcguard.h: the `ip` key or first come first
 *            served; src/lib/srcguard.c, the rule the NIC applies too):
 *            a frame claiming another's IP is dropped before the switch
 *            or the accelerator's frame() can learn anything from it.
 *  credit    with a rate (the "rate" key), the frame's size is charged from
 *            the private copy of its first slot, the one that is sent:
 *            a frame the credit does not cover is left in the ring,
 *            unconsumed, until the credit timer fires.
 *  use       pv_switch_input(); then unmap and respond.
 *  storm     the switch dropped a flood (broadcast, multicast, unknown
 *  pause     unicast) over the vif's storm bucket (-EAGAIN): the frame is
 *            answered (OKAY, as a bridge's drop) and the ring is left
 *            unconsumed for NB_STORM_PAUSE_MS, as for credit.  A guest
 *            flooding at full rate thus costs pvnetd its bucket's rate
 *            plus ~1000 dropped frames a second, not its own rate: its
 *            ring fills, its frontend waits, and the rest of the flood is
 *            dropped in the guest's own kernel.  Its other frames wait
 *            behind the flood in its own ring (a queue of 4,000 drains in
 *            2-4 s); no other vif's.
 *
 * Responses are built privately and copied into the ring in request
 * order: the frame's status for each data slot, NETIF_RSP_NULL for each
 * extra-info slot (as Linux).  One RING_PUSH_RESPONSES_AND_CHECK_NOTIFY
 * and at most one notification per pass; pv_switch_flush() once per pass.
 *
 * Grant failures: a ref beyond the guest's table or a frame beyond its
 * memory cannot come from an honest frontend (fatal); a ref not granted,
 * granted to another domain or revoked may be a frontend racing its own
 * revocation (drop, error response, tx_bad_grant).  Zero-length slots are
 * not mapped at all.  Request ids are echoed, never used as an index.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "netback_priv.h"
#include "lib/pkt.h"

enum nb_tx_verdict { NB_TX_OK, NB_TX_DROP, NB_TX_WAIT, NB_TX_FATAL, NB_TX_CREDIT };

#define NB_STORM_PAUSE_MS	1

static void nb_storm_pause(struct nb_vif *vif);

static int nb_tx_credit_exceeded(struct nb_vif *vif, uint32_t size);

/* A drop: count it under its reason, once, and log (rate-limited). */
static int nb_tx_drop(struct nb_vif *vif, uint64_t *counter, const char *why)
{
	(*counter)++;
	vif->port.st.rx_dropped++;
	pv_log_rl(&vif->rl, PV_LOG_WARN, "%s: tx frame dropped: %s", vif->port.name, why);
	return NB_TX_DROP;
}

/* Extra-info slots after the first slot: copy each once, type checked. */
static int nb_tx_extras(struct nb_vif *vif, RING_IDX cons, unsigned int avail,
			unsigned int *i, unsigned int *nextra)
{
	netif_extra_info_t ex;

	do {
		/* Published without its extra slot (yet): wait for the rest. */
		if (*i >= avail)
			return NB_TX_WAIT;
		/* Lie caught: an endless chain of extra-info slots. */
		if (*nextra >= NB_MAX_EXTRAS) {
			nb_vif_fatal(vif, "tx: more than %d extra-info slots", NB_MAX_EXTRAS);
			return NB_TX_FATAL;
		}
		RING_COPY_REQUEST(&vif->tx, cons + *i, &ex);
		(*i)++;
		(*nextra)++;
		/* Lie caught: extra type NONE (0) or beyond netif.h's types (Linux: fatal). */
		if (ex.type == XEN_NETIF_EXTRA_TYPE_NONE || ex.type >= XEN_NETIF_EXTRA_TYPE_MAX) {
			nb_vif_fatal(vif, "tx: invalid extra-info type %u", ex.type);
			return NB_TX_FATAL;
		}
		vif->extras[ex.type - 1] = ex;
		vif->extra_mask |= 1u << (ex.type - 1);
	} while (ex.flags & XEN_NETIF_EXTRA_FLAG_MORE);
	return NB_TX_OK;
}

/**
 * nb_tx_parse() - copy one frame's slots out of the ring and check its structure
 * @avail: requests published beyond req_cons
 * @nslots: out: ring slots the frame occupies
 * @ndata: out: data slots (vif->txs[0 .. ndata-1])
 * @nextra: out: extra-info slots
 * @drop: out: a drop counter if the frame is malformed but possible
 *
 * Return: NB_TX_OK, NB_TX_WAIT (incomplete), NB_TX_FATAL (vif disabled).
 */
static int nb_tx_parse(struct nb_vif *vif, unsigned int avail, unsigned int *nslots,
		       unsigned int *ndata, unsigned int *nextra, uint64_t **drop)
{
	RING_IDX cons = vif->tx.req_cons;
	netif_tx_request_t *first = &vif->txs[0];
	unsigned int i = 1, n = 1;
	uint32_t remaining;
	int more, r;

	*nextra = 0;
	vif->extra_mask = 0;
	RING_COPY_REQUEST(&vif->tx, cons, first);
	if (first->flags & NETTXF_extra_info) {
		r = nb_tx_extras(vif, cons, avail, &i, nextra);
		if (r != NB_TX_OK)
			return r;
	}
	remaining = first->size;
	more = first->flags & NETTXF_more_data;
	while (more) {
		netif_tx_request_t *t = &vif->txs[n];

		/*
		 * Lie caught: more data slots than any frontend sends (XSA-423,
		 * XSA-432); 19 or 20 a frontend might (Linux drops them).
		 */
		if (n >= NB_FATAL_SLOTS) {
			nb_vif_fatal(vif, "tx: more than %d slots in a frame", NB_FATAL_SLOTS);
			return NB_TX_FATAL;
		}
		if (n >= XEN_NETIF_NR_SLOTS_MIN && !*drop)
			*drop = &vif->st.tx_too_many_slots;
		/* The chain goes on beyond req_prod: not published yet, wait. */
		if (i >= avail)
			return NB_TX_WAIT;
		RING_COPY_REQUEST(&vif->tx, cons + i, t);
		i++;
		n++;
		/* Lie caught: a slot's data running off its page. */
		if ((uint32_t)t->offset + t->size > PV_PAGE_SIZE) {
			nb_vif_fatal(vif, "tx: slot offset %u + size %u crosses the page",
				     t->offset, t->size);
			return NB_TX_FATAL;
		}
		/* Lie caught: a fragment larger than what remains of the frame (drop, as Linux). */
		if (t->size > remaining) {
			if (!*drop)
				*drop = &vif->st.tx_frag_overrun;
		} else {
			remaining -= t->size;
		}
		more = t->flags & NETTXF_more_data;
	}
	*nslots = i;
	*ndata = n;
	vif->first_len = *drop ? 0 : remaining;
	/* Lie caught: the first slot's own data running off its page. */
	if (!*drop && (uint32_t)first->offset + remaining > PV_PAGE_SIZE) {
		nb_vif_fatal(vif, "tx: first slot offset %u + size %u crosses the page",
			     first->offset, remaining);
		return NB_TX_FATAL;
	}
	return NB_TX_OK;
}

/* Frame-level shape checks on the private copies: which counter, if any. */
static uint64_t *nb_tx_check_shape(struct nb_vif *vif, const char **why)
{
	uint32_t len = vif->txs[0].size;

	if (len < NB_ETH_HLEN) {
		*why = "shorter than an Ethernet header";
		return &vif->st.tx_runt;
	}
	if (vif->extra_mask & (1u << (XEN_NETIF_EXTRA_TYPE_GSO - 1))) {
		const netif_extra_info_t *g = &vif->extras[XEN_NETIF_EXTRA_TYPE_GSO - 1];

		/* Linux refuses 0; below NB_GSO_SIZE_MIN a frame cuts into too many segments. */
		if (g->u.gso.size < NB_GSO_SIZE_MIN) {
			*why = g->u.gso.size ? "GSO size below 64" : "GSO size 0";
			return &vif->st.tx_gso_bad;
		}
		if (g->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
		    g->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6) {
			*why = "unknown GSO type";
			return &vif->st.tx_gso_bad;
		}
		if (!(vif->txs[0].flags & NETTXF_csum_blank)) {
			*why = "GSO without csum_blank";
			return &vif->st.tx_gso_bad;
		}
		return NULL;
	}
	if (len > vif->mtu + NB_ETH_HLEN + NB_VLAN_HLEN) {
		*why = "longer than the MTU";
		return &vif->st.tx_too_long;
	}
	return NULL;
}

static void nb_tx_unmap(struct nb_vif *vif, unsigned int ndata)
{
	for (unsigned int s = 0; s < ndata; s++)
		pv_gnt_unmap(vif->nb->hv, &vif->txm[s]);
}

/* Bytes of data slot @s (the first slot carries what the others do not). */
static uint32_t nb_tx_slot_len(const struct nb_vif *vif, unsigned int s)
{
	return s ? vif->txs[s].size : vif->first_len;
}

/* Map every non-empty data slot read-only. */
static int nb_tx_map(struct nb_vif *vif, unsigned int ndata)
{
	struct pv_hv *hv = vif->nb->hv;

	for (unsigned int s = 0; s < ndata; s++) {
		int err;

		vif->txm[s].dom = NULL;
		if (!nb_tx_slot_len(vif, s))
			continue;	/* zero-length slot: nothing to read */
		err = pv_gnt_map(hv, vif->domid, vif->txs[s].gref, 0, 1, &vif->txm[s]);
		if (!err)
			continue;
		nb_tx_unmap(vif, s);
		/* Lie caught: a ref beyond the table or a frame beyond memory. */
		if (err == -ERANGE || err == -EFAULT) {
			nb_vif_fatal(vif, "tx: gref %u unusable: %s", vif->txs[s].gref,
				     strerror(-err));
			return NB_TX_FATAL;
		}
		return nb_tx_drop(vif, &vif->st.tx_bad_grant, "grant not mappable");
	}
	return NB_TX_OK;
}

/* Header copy and segments from the mapped slots. */
static void nb_tx_build(struct nb_vif *vif, unsigned int ndata)
{
	struct pv_frame *f = &vif->frame;
	uint32_t want;

	memset(f, 0, offsetof(struct pv_frame, hdr));
	f->nseg = 0;
	f->flags = 0;
	f->csum_start = f->csum_offset = 0;
	f->gso_type = PV_GSO_NONE;
	f->gso_size = 0;
	f->len = vif->txs[0].size;
	want = f->len < PV_FRAME_HDR_MAX ? f->len : PV_FRAME_HDR_MAX;
	for (unsigned int s = 0; s < ndata; s++) {
		uint32_t l = nb_tx_slot_len(vif, s), h;
		const uint8_t *p;

		if (!l)
			continue;
		p = (const uint8_t *)vif->txm[s].page + vif->txs[s].offset;
		h = want - f->hdr_len < l ? want - f->hdr_len : l;
		memcpy(f->hdr + f->hdr_len, p, h);
		f->hdr_len += h;
		if (l > h) {
			f->seg[f->nseg].p = p + h;
			f->seg[f->nseg].len = l - h;
			f->nseg++;
		}
	}
}

/*
 * The frame's bytes, all private: the header copy suffices when it holds
 * the whole frame; otherwise copy once into tx_lin and let the frame's
 * segment point there (the guest can no longer change what we checked).
 */
static const uint8_t *nb_tx_linear(struct nb_vif *vif)
{
	struct pv_frame *f = &vif->frame;

	if (f->hdr_len == f->len)
		return f->hdr;
	if (f->nseg == 1 && f->seg[0].p == vif->tx_lin + f->hdr_len)
		return vif->tx_lin;	/* linearised already */
	pv_frame_copy(f, 0, vif->tx_lin, f->len);
	f->seg[0].p = vif->tx_lin + f->hdr_len;
	f->seg[0].len = f->len - f->hdr_len;
	f->nseg = 1;
	return vif->tx_lin;
}

/* The counter of each source-address drop reason (lib/srcguard.h). */
static uint64_t *nb_tx_sg_counter(struct nb_vif *vif, enum pv_sg_verdict v)
{
	switch (v) {
	case PV_SG_IPV4: return &vif->st.tx_spoof_ipv4;
	case PV_SG_ARP: return &vif->st.tx_spoof_arp;
	case PV_SG_IPV6: return &vif->st.tx_spoof_ipv6;
	case PV_SG_ND: return &vif->st.tx_spoof_nd;
	case PV_SG_VLAN: return &vif->st.tx_spoof_vlan;
	case PV_SG_CONFLICT: return &vif->st.tx_ip_conflict;
	default: return &vif->st.tx_ip_full;
	}
}

/* The IP source of @f as text in @out (for the log); false, out "", when not IP. */
static bool nb_tx_src_str(const struct pv_frame *f, char out[INET6_ADDRSTRLEN])
{
	struct pv_pkt_info pi;

	out[0] = '\0';
	if (pv_pkt_parse_hdr(f->hdr, f->hdr_len, f->len, &pi) < 0 || !pi.ip_version)
		return false;
	return inet_ntop(pi.ip_version == 4 ? AF_INET : AF_INET6, pi.src_ip, out, INET6_ADDRSTRLEN) != NULL;
}

/*
 * Lie caught: a vif sending as another's IP (srcguard.h: its `ip` key, or
 * what it learned first).  Checked on the private bytes: the header copy,
 * or the whole frame copied when the headers go on past it.  Before
 * anything (the accelerator's frame() included) learns from the frame.
 */
static int nb_tx_srcguard(struct nb_vif *vif)
{
	struct pv_frame *f = &vif->frame;
	enum pv_sg_verdict v;
	bool learned;
	char why[160], src[INET6_ADDRSTRLEN];

	v = pv_srcguard_tx(&vif->sg, f->hdr, f->hdr_len, f->len, nb_addr_owned_by_other, vif->nb,
			   &learned);
	if (v == PV_SG_NEED_MORE)
		v = pv_srcguard_tx(&vif->sg, nb_tx_linear(vif), f->len, f->len,
				   nb_addr_owned_by_other, vif->nb, &learned);
	if (v == PV_SG_PASS) {
		if (learned)
			nb_vif_publish_addrs(vif);
		return NB_TX_OK;
	}
	/* The source is parsed for the log only when the log will print (a flood's frames). */
	src[0] = '\0';
	snprintf(why, sizeof(why), "source address refused (%s%s%s%s)",
		 v == PV_SG_CONFLICT || v == PV_SG_FULL ? "" : "spoof_", pv_sg_verdict_name(v),
		 pv_log_rl_ready(&vif->rl) && nb_tx_src_str(f, src) ? ", from " : "", src);
	return nb_tx_drop(vif, nb_tx_sg_counter(vif, v), why);
}

/* Source MAC, checksum and GSO offloads, source IP; on the private bytes only. */
static int nb_tx_offloads(struct nb_vif *vif)
{
	struct pv_frame *f = &vif->frame;
	uint16_t txflags = vif->txs[0].flags;
	const uint8_t *lin;

	/* Lie caught: a vif sending as someone else (spoofed source MAC). */
	if (memcmp(f->hdr + 6, vif->mac, 6))
		return nb_tx_drop(vif, &vif->st.tx_spoofed, "source MAC is not the vif's");
	if (txflags & NETTXF_csum_blank) {
		/*
		 * Headers are parsed from the private copy; only frames whose
		 * headers do not fit in it are linearised (copied) first.
		 */
		int rc = pv_pkt_csum_setup_hdr(f->hdr, f->hdr_len, f->len, &f->csum_start,
					       &f->csum_offset);

		lin = f->hdr;
		if (rc == -EMSGSIZE && f->hdr_len < f->len) {
			lin = nb_tx_linear(vif);
			rc = pv_pkt_csum_setup(lin, f->len, &f->csum_start, &f->csum_offset);
		}
		if (rc < 0)
			return nb_tx_drop(vif, &vif->st.tx_csum, "csum_blank on a non-TCP/UDP frame");
		f->flags |= PV_FRAME_CSUM_PARTIAL;
		if (vif->extra_mask & (1u << (XEN_NETIF_EXTRA_TYPE_GSO - 1))) {
			const netif_extra_info_t *g = &vif->extras[XEN_NETIF_EXTRA_TYPE_GSO - 1];
			int type = g->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4 ? PV_GSO_TCPV4
									    : PV_GSO_TCPV6;

			/* Lie caught: GSO on a frame that is not TCP of that IP version. */
			if (!pv_pkt_is_tcp_gso_ok_hdr(lin, lin == f->hdr ? f->hdr_len : f->len,
						      f->len, type))
				return nb_tx_drop(vif, &vif->st.tx_gso_bad, "GSO on a non-TCP frame");
			f->gso_type = (uint8_t)type;
			f->gso_size = g->u.gso.size;
		}
	} else if (txflags & NETTXF_data_validated) {
		f->flags |= PV_FRAME_CSUM_VALID;
	}
	/* Last: a frame is counted once, under the first reason; shape lies come first. */
	return nb_tx_srcguard(vif);
}

/* Responses for one frame, in request order: data slots get @status, extras NULL. */
static void nb_tx_respond(struct nb_vif *vif, unsigned int ndata, unsigned int nextra,
			  int16_t status)
{
	netif_tx_response_t rsp;

	for (unsigned int s = 0; s < ndata; s++) {
		rsp.id = vif->txs[s].id;
		rsp.status = status;
		memcpy(RING_GET_RESPONSE(&vif->tx, vif->tx.rsp_prod_pvt), &rsp, sizeof(rsp));
		vif->tx.rsp_prod_pvt++;
		for (; s == 0 && nextra; nextra--) {
			rsp.id = 0;
			rsp.status = NETIF_RSP_NULL;
			memcpy(RING_GET_RESPONSE(&vif->tx, vif->tx.rsp_prod_pvt), &rsp, sizeof(rsp));
			vif->tx.rsp_prod_pvt++;
		}
	}
}

/**
 * nb_tx_frame() - take one frame from the ring, forward it, respond
 * @prod: the req_prod this pass read (checked sane)
 */
static int nb_tx_frame(struct nb_vif *vif, RING_IDX prod)
{
	unsigned int nslots = 0, ndata = 0, nextra = 0;
	uint64_t *drop = NULL;
	const char *why = "fragment larger than the frame";
	int r, storm = 0;

	if (vif->storm_timer)
		return NB_TX_CREDIT;	/* storm pause: the timer reschedules us */
	r = nb_tx_parse(vif, prod - vif->tx.req_cons, &nslots, &ndata, &nextra, &drop);
	if (r != NB_TX_OK)
		return r;
	if (drop == &vif->st.tx_too_many_slots)
		why = "more than 18 data slots";
	if (!drop)
		drop = nb_tx_check_shape(vif, &why);
	/* The credit is charged on the first slot's private copy, the size that is sent. */
	if (vif->credit_bytes && nb_tx_credit_exceeded(vif, vif->txs[0].size))
		return NB_TX_CREDIT;	/* not consumed: the timer reschedules us */
	if (drop) {
		r = nb_tx_drop(vif, drop, why);
	} else if ((r = nb_tx_map(vif, ndata)) == NB_TX_OK) {
		nb_tx_build(vif, ndata);
		r = nb_tx_offloads(vif);
		if (r == NB_TX_OK) {
			if (vif->accel_frames)
				pv_accel_back_frame(vif->accel, PV_ACCEL_FRAME_TX, vif->frame.hdr,
						    vif->frame.hdr_len, vif->frame.len);
			vif->nb->tx_from = vif;	/* a vif's frame: the receivers know */
			storm = pv_switch_input(vif->nb->sw, &vif->port, &vif->frame) == -EAGAIN;
			vif->nb->tx_from = NULL;
			vif->st.tx_packets++;
			vif->st.tx_bytes += vif->frame.len;
		}
		nb_tx_unmap(vif, ndata);
	}
	if (r == NB_TX_FATAL)
		return r;
	nb_tx_respond(vif, ndata, nextra, r == NB_TX_OK ? NETIF_RSP_OKAY : NETIF_RSP_ERROR);
	vif->tx.req_cons += nslots;
	if (storm)
		nb_storm_pause(vif);
	return r;
}

/* Read req_prod once and check it: 1 if sane, 0 if the vif was disabled. */
static int nb_tx_read_prod(struct nb_vif *vif, RING_IDX *prod)
{
	RING_IDX p = __atomic_load_n(&vif->tx.sring->req_prod, __ATOMIC_ACQUIRE);

	/*
	 * Lie caught: more requests outstanding than the ring holds, also
	 * across the 2^32 wrap (XSA-39), or req_prod moved backwards.
	 */
	if (!pv_ring_idx_sane(p, vif->tx.rsp_prod_pvt, NB_TX_RING_SIZE) ||
	    !pv_ring_idx_sane(p, vif->tx.req_cons, NB_TX_RING_SIZE)) {
		nb_vif_fatal(vif, "tx: impossible req_prod %u (req_cons %u)", p, vif->tx.req_cons);
		return 0;
	}
	*prod = p;
	return 1;
}

static uint64_t nb_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* A window's worth of credit, up to the burst limit. */
static void nb_credit_add(struct nb_vif *vif)
{
	uint64_t burst = vif->credit_bytes > 131072 ? vif->credit_bytes : 131072;

	vif->remaining_credit += vif->credit_bytes;
	if (vif->remaining_credit > burst)
		vif->remaining_credit = burst;
}

/* The window we waited for has opened (as Xen's tx_credit_callback). */
static void nb_credit_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct nb_vif *vif = arg;

	pv_loop_timer_del(loop, vif->credit_timer);
	vif->credit_timer = NULL;
	nb_credit_add(vif);
	if (vif->connected)
		nb_vif_schedule(vif);
}

/* Drop the credit timer (disconnect, free, or it fired), and a storm pause's. */
void nb_credit_stop(struct nb_vif *vif)
{
	if (vif->credit_timer)
		pv_loop_timer_del(vif->nb->loop, vif->credit_timer);
	vif->credit_timer = NULL;
	if (vif->storm_timer)
		pv_loop_timer_del(vif->nb->loop, vif->storm_timer);
	vif->storm_timer = NULL;
}

/* The storm pause is over: serve the ring again. */
static void nb_storm_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct nb_vif *vif = arg;

	pv_loop_timer_del(loop, vif->storm_timer);
	vif->storm_timer = NULL;
	if (vif->connected)
		nb_vif_schedule(vif);
}

/* Hold the vif's TX ring for NB_STORM_PAUSE_MS (see "storm pause" above). */
static void nb_storm_pause(struct nb_vif *vif)
{
	if (vif->storm_timer)
		return;
	vif->storm_timer = pv_loop_timer(vif->nb->loop, NB_STORM_PAUSE_MS, 0, nb_storm_cb, vif);
	if (vif->storm_timer)
		vif->st.tx_storm_paused++;
}

/*
 * Xen netback's credit scheduler (tx_credit_exceeded): a window of
 * credit_usec refills credit_bytes (bursts of at least 128 KiB, so one
 * GSO frame always fits); a frame larger than what is left waits, on a
 * timer, for the next window.  Only the guest's own TX is slowed.
 */
static int nb_tx_credit_exceeded(struct nb_vif *vif, uint32_t size)
{
	uint64_t now = nb_now_us(), next = vif->credit_window_start + vif->credit_usec;

	if (vif->credit_timer)
		return 1;
	if (now >= next) {
		vif->credit_window_start = now;
		next = now + vif->credit_usec;
		nb_credit_add(vif);
	}
	if (size <= vif->remaining_credit)
		return 0;
	/* The next window opens at @next (> now): refill then, on a timer. */
	vif->credit_window_start = next;
	vif->credit_timer = pv_loop_timer(vif->nb->loop, (unsigned int)((next - now + 999) / 1000),
					  0, nb_credit_cb, vif);
	vif->st.tx_rate_limited++;
	return 1;
}

/**
 * nb_tx_poll() - one pass over a vif's TX ring
 * @budget: frames at most
 *
 * Return: 1 if requests remain (the caller reschedules), else 0.
 */
int nb_tx_poll(struct nb_vif *vif, unsigned int budget)
{
	unsigned int done = 0, rounds = 0;
	int more = 0, r = NB_TX_OK, work, notify;
	RING_IDX prod;

	while (vif->connected && nb_tx_read_prod(vif, &prod)) {
		/* A guest wiggling req_prod under an incomplete chain gets no more than this. */
		if (++rounds > budget) {
			more = 1;
			break;
		}
		while (vif->tx.req_cons != prod && done < budget) {
			r = nb_tx_frame(vif, prod);
			if (r == NB_TX_CREDIT)
				goto out;	/* the credit timer reschedules us */
			if (r == NB_TX_FATAL || r == NB_TX_WAIT)
				break;
			if (vif->credit_bytes) {
				uint32_t used = vif->txs[0].size;	/* this frame's private copy */

				vif->remaining_credit -= used < vif->remaining_credit ? used
										     : vif->remaining_credit;
			}
			done++;
		}
		if (r == NB_TX_FATAL)
			break;
		if (r == NB_TX_WAIT) {
			/* Ask for an event once anything beyond prod is published. */
			vif->tx.sring->req_event = prod + 1;
			xen_mb();
			if (__atomic_load_n(&vif->tx.sring->req_prod, __ATOMIC_ACQUIRE) == prod)
				break;
			r = NB_TX_OK;
			continue;
		}
		/*
		 * Out of budget with requests left: come back after the others.
		 * Out of budget exactly as we caught up: fall through to the
		 * final check, which re-arms req_event (else a lost wake-up).
		 */
		if (done >= budget && vif->tx.req_cons != prod) {
			more = 1;
			break;
		}
		RING_FINAL_CHECK_FOR_REQUESTS(&vif->tx, work);
		if (!work)
			break;
	}
out:
	if (vif->connected) {
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&vif->tx, notify);
		if (notify)
			nb_notify(vif, vif->evtchn_tx);
	}
	pv_switch_flush(vif->nb->sw);
	return more && vif->connected;
}
