/* SPDX-License-Identifier: MIT */
/*
 * gro.c - receive coalescing (a NIC's LRO, Linux's GRO rules) of the
 * frames of one port batch.
 *
 * Why here
 * ========
 *
 * Where the port hands MTU-sized TCP segments (the sender or a switch on
 * the way cut them; a veth whose peer has TSO/GSO off), a guest whose VI
 * takes RX chains would get one RX event set, one TAP write and one trip
 * through its stack per 1448 bytes.  A real NIC answers that with LRO;
 * the SFC4000 of the paper did it in the driver ("SSR").  It lives in the
 * NIC model, not in the frontend plugin, because:
 *   - it is what a NIC does (LRO), and the RX_META ABI already carries
 *     its result (a GSO frame whole, the checksum partial);
 *   - one place serves every VI, the host VI (pvnetd's uplink, hence the
 *     slow path's guests) included, and every VI user (frontends,
 *     libpvnet applications) gets it without code of its own;
 *   - the frame is copied once into the VI's buffers anyway: merging
 *     before that copy costs a copy of each later segment's payload into
 *     the head's slot and saves, per segment, an RX event set in the
 *     shared rings, a wake-up's share, the frontend's TAP write and the
 *     guest stack's per-packet work; the NIC also stops completing each
 *     partial checksum in software (the merged frame's stays partial).
 *   - it sees the batch recvmmsg() returned: it can merge without holding
 *     a frame past the batch, so it adds no latency (no timer, no
 *     warm-up: the first batch merges).
 * A frontend plugin could do it only after the NIC had delivered each
 * segment separately, i.e. after the costs it is meant to save.
 *
 * The rules (after Linux's inet_gro_receive, ipv6_gro_receive and
 * tcp_gro_receive, kept simple)
 * ====================================================================
 *
 * A flow is IP version, addresses, ports and the 802.1Q tag (none or one;
 * the tag is part of the Ethernet header bytes compared).  A frame is a
 * *candidate* when it is TCP over IPv4 without options (IHL 5, header
 * checksum right, not a fragment) or IPv6 without extension headers, the
 * frame ends where its IP datagram does (no padding), its checksum is
 * known good (PV_NIC_RX_F_CSUM_OK: the kernel validated it) or partial at
 * the TCP checksum field (a local sender's; the merged frame stays
 * partial, so nothing trusts bytes nobody summed), it is not a GSO frame
 * already, it carries payload, ACK is set and none of SYN, FIN, RST, URG.
 *
 * The first candidate of a flow opens a merge (its *head*; the MSS is its
 * payload length) unless it has PSH (nothing could follow it).  A later
 * candidate of the flow is appended to the head when all of these hold,
 * as Linux requires them:
 *   - its sequence number is the head's plus the payload so far (no gap,
 *     no overlap), its ack number is the head's;
 *   - its payload is at most the MSS (a shorter one is taken as the last);
 *   - its TCP flags are the head's but for PSH (taken, as the last) and
 *     it has no CWR (a CWR segment may only start a merge, which then
 *     carries PV_NIC_GSO_ECN, as Linux's SKB_GSO_TCP_ECN); its window is
 *     the head's (Linux compares the whole word of data offset, flags
 *     and window);
 *   - its TCP header has the head's length and its options the head's
 *     bytes, except the values of a timestamp option (kind 8, at the same
 *     place): Linux compares every option byte; here a timestamp may
 *     advance within a merge (it ticks every millisecond or so, a merge
 *     would otherwise end with each tick), and the merged frame carries
 *     the last segment's timestamp values (what the receiver would hold
 *     after taking the segments one by one: the newest TSval for PAWS
 *     and ts_recent, the newest TSecr);
 *   - its MAC addresses, and IPv4 TOS, TTL and DF or IPv6 traffic class,
 *     flow label and hop limit, are the head's;
 *   - IPv4: its ID is the head's plus its place in the merge.  Linux also
 *     merges DF datagrams whose ID does not move (SKB_GSO_TCP_FIXEDID);
 *     virtio-net's GSO types cannot say "fixed ID", and re-segmenting
 *     (vi.c, the guest's stack) increments it, so such segments are not
 *     merged here;
 *   - the merged IP datagram, its header included (IPv6 too, so that the
 *     frame fits PV_NIC_RX_FRAME_MAX), stays within 65535 bytes, and the
 *     frame within the head's buffer.
 * A candidate that cannot follow ends the merge and opens the next one;
 * any other frame of the flow (control flags, no payload, unknown
 * checksum...) ends the merge and is delivered as it is, after it.  The
 * batch's end ends every merge: a flow's last segment is never held.
 *
 * A merge of two or more segments becomes one frame in the head's buffer:
 * the later payloads appended, IPv4 total length and header checksum or
 * IPv6 payload length rewritten, PSH if a segment had it, the TCP
 * checksum field holding the pseudo-header sum for the new length
 * (CHECKSUM_PARTIAL, csum_start at the TCP header, offset 16), GSO type
 * TCPV4/TCPV6 with gso_size the MSS: what nic.h's RX_META describes for a
 * GSO frame from the port.  pv_pkt_gso_segment() cuts it back into the
 * same segments (IDs, sequence numbers, PSH on the last).
 *
 * Frames are delivered where they came in the batch, a merged frame where
 * its head came: each flow's segments stay in order (another flow's frame
 * may pass the later segments of a merge, as between NIC queues).
 */
#include <string.h>

#include "gro.h"
#include "pvnet/nic.h"
#include "lib/pkt.h"

#define GRO_TCP_HLEN	20u
#define GRO_TCPOPT_TS	8u
#define GRO_TCPOPT_TS_LEN 10u
#define GRO_NONE	(-1)

/* A frame's parse, and what merging needs of it. */
struct gro_seg {
	struct pv_pkt_info pi;
	uint32_t hlen;		/* Ethernet .. TCP options */
	uint32_t plen;		/* TCP payload */
	uint32_t seq, ack;
	uint8_t flags;
	bool cand;		/* may be merged at all */
};

/* A flow seen in this batch; open while a merge is going. */
struct gro_flow {
	unsigned int head;	/* its last head (or first frame): the key's bytes */
	bool open;
	bool wanted;
	struct pv_pkt_info pi;	/* the head's */
	uint32_t hlen, plen;	/* the head's headers; payload merged so far */
	uint32_t next_seq, ack;
	uint16_t mss, segs, ip_id;
	uint8_t flags;
	int ts_off;		/* timestamp option's kind byte from the TCP header, or GRO_NONE */
};

struct gro_batch {
	struct nic_gro_pkt *pk;
	struct nic_gro_stats *st;
	nic_gro_want_fn want;
	void *arg;
	unsigned int nflows;
	struct gro_flow flows[NIC_GRO_BATCH_MAX];
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* Is the frame's checksum state one a merged frame may rest on? */
static bool gro_csum_ok(const struct nic_gro_pkt *p, const struct pv_pkt_info *pi)
{
	if (p->rx_flags & PV_NIC_RX_F_CSUM_OK)
		return true;
	return (p->rx_flags & PV_NIC_RX_F_CSUM_PARTIAL) && p->csum_start == pi->l4_off &&
	       p->csum_offset == PV_PKT_TCP_CSUM_OFF;
}

/* IPv4 without options, not a fragment, header checksum right; IPv6 without extension headers. */
static bool gro_ip_ok(const uint8_t *frame, const struct pv_pkt_info *pi)
{
	const uint8_t *ip = frame + pi->l3_off;

	if (pi->ip_version == 6)
		return pi->l4_off == pi->l3_off + 40;
	return ip[0] == 0x45 && (rd16(ip + 6) & 0x3fff) == 0 &&
	       pv_pkt_csum_fold(pv_pkt_csum_add(0, ip, 20)) == 0;
}

/* Parse @p; false if it is no TCP flow at all (nothing to do with merging). */
static bool gro_parse(const struct nic_gro_pkt *p, struct gro_seg *s)
{
	const struct pv_pkt_info *pi = &s->pi;
	const uint8_t *th;

	if (pv_pkt_parse(p->frame, p->len, &s->pi) || !(pi->flags & PV_PKT_F_PORTS) ||
	    pi->l4_proto != 6 || (pi->flags & PV_PKT_F_FRAG))
		return false;
	th = p->frame + pi->l4_off;
	s->hlen = pi->l4_off + pi->l4_hdr_len;
	s->plen = pi->l3_end - s->hlen;
	s->seq = rd32(th + 4);
	s->ack = rd32(th + 8);
	s->flags = th[13];
	s->cand = !p->gso && p->len == pi->l3_end && s->plen > 0 && gro_csum_ok(p, pi) &&
		  gro_ip_ok(p->frame, pi) && (s->flags & PV_TCP_ACK) &&
		  !(s->flags & (PV_TCP_SYN | PV_TCP_FIN | PV_TCP_RST | PV_TCP_URG)) &&
		  s->hlen <= PV_PKT_GSO_HDR_MAX;
	return true;
}

/* Same flow: IP version, addresses, ports, and the tag (Ethernet header length and bytes 12..). */
static bool gro_same_flow(const uint8_t *fa, const struct pv_pkt_info *a,
			  const uint8_t *fb, const struct pv_pkt_info *b)
{
	size_t alen = a->ip_version == 4 ? 4 : 16;

	return a->ip_version == b->ip_version && a->l3_off == b->l3_off &&
	       memcmp(fa + 12, fb + 12, a->l3_off - 12) == 0 &&
	       a->src_port == b->src_port && a->dst_port == b->dst_port &&
	       memcmp(a->src_ip, b->src_ip, alen) == 0 && memcmp(a->dst_ip, b->dst_ip, alen) == 0;
}

static struct gro_flow *gro_lookup(struct gro_batch *b, const struct nic_gro_pkt *p,
				   const struct gro_seg *s)
{
	for (unsigned int i = 0; i < b->nflows; i++) {
		struct gro_flow *f = &b->flows[i];

		if (gro_same_flow(b->pk[f->head].frame, &f->pi, p->frame, &s->pi))
			return f;
	}
	return NULL;
}

/* The timestamp option's offset from the TCP header, or GRO_NONE. */
static int gro_ts_off(const uint8_t *th, uint32_t thlen)
{
	uint32_t i = GRO_TCP_HLEN;

	while (i < thlen) {
		uint8_t kind = th[i], olen;

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= thlen || (olen = th[i + 1]) < 2 || i + olen > thlen)
			break;
		if (kind == GRO_TCPOPT_TS && olen == GRO_TCPOPT_TS_LEN)
			return (int)i;
		i += olen;
	}
	return GRO_NONE;
}

/* Options equal but for the timestamp's values (at the head's place). */
static bool gro_opts_match(const struct gro_flow *f, const uint8_t *th_head, const uint8_t *th)
{
	uint32_t thlen = f->pi.l4_hdr_len;

	if (f->ts_off == GRO_NONE)
		return memcmp(th_head + GRO_TCP_HLEN, th + GRO_TCP_HLEN, thlen - GRO_TCP_HLEN) == 0;
	return memcmp(th_head + GRO_TCP_HLEN, th + GRO_TCP_HLEN,
		      (uint32_t)f->ts_off + 2 - GRO_TCP_HLEN) == 0 &&
	       memcmp(th_head + f->ts_off + GRO_TCPOPT_TS_LEN, th + f->ts_off + GRO_TCPOPT_TS_LEN,
		      thlen - (uint32_t)f->ts_off - GRO_TCPOPT_TS_LEN) == 0;
}

/* The IP fields that must not change within a merge (lengths, checksum, ID aside). */
static bool gro_ip_match(const struct gro_flow *f, const uint8_t *ip_head, const uint8_t *ip)
{
	if (f->pi.ip_version == 6)	/* version, traffic class, flow label; hop limit */
		return memcmp(ip_head, ip, 4) == 0 && ip_head[7] == ip[7];
	return ip_head[1] == ip[1] && ip_head[8] == ip[8] &&		/* TOS, TTL */
	       rd16(ip_head + 6) == rd16(ip + 6) &&			/* DF (no fragments here) */
	       rd16(ip + 4) == (uint16_t)(f->ip_id + f->segs);
}

/* May segment @s (a candidate of flow @f) follow the merge?  GRO_NONE, or why not. */
static int gro_can_follow(const struct gro_batch *b, const struct gro_flow *f,
			  const struct nic_gro_pkt *p, const struct gro_seg *s)
{
	const struct nic_gro_pkt *h = &b->pk[f->head];
	const uint8_t *th_head = h->frame + f->pi.l4_off, *th = p->frame + s->pi.l4_off;

	if ((uint64_t)f->hlen - f->pi.l3_off + f->plen + s->plen > NIC_GRO_IP_MAX ||
	    (uint64_t)f->hlen + f->plen + s->plen > h->cap)
		return NIC_GRO_CLOSE_SIZE;
	if (s->seq != f->next_seq || s->ack != f->ack || s->plen > f->mss ||
	    (s->flags & PV_TCP_CWR) || ((s->flags ^ f->flags) & ~(PV_TCP_PSH | PV_TCP_CWR)) ||
	    memcmp(th_head + 14, th + 14, 2) != 0 ||	/* window */
	    s->pi.l4_hdr_len != f->pi.l4_hdr_len || memcmp(h->frame, p->frame, 12) != 0 ||
	    !gro_opts_match(f, th_head, th) ||
	    !gro_ip_match(f, h->frame + f->pi.l3_off, p->frame + s->pi.l3_off))
		return NIC_GRO_CLOSE_MISMATCH;
	return GRO_NONE;
}

/* Segment @s's payload to the end of the head; its timestamp values and PSH to the head's header. */
static void gro_append(struct gro_batch *b, struct gro_flow *f, unsigned int i,
		       const struct gro_seg *s)
{
	struct nic_gro_pkt *p = &b->pk[i];
	uint8_t *hf = b->pk[f->head].frame;
	uint8_t *th_head = hf + f->pi.l4_off;
	const uint8_t *th = p->frame + s->pi.l4_off;

	memcpy(hf + f->hlen + f->plen, p->frame + s->hlen, s->plen);
	if (f->ts_off != GRO_NONE)
		memcpy(th_head + f->ts_off + 2, th + f->ts_off + 2, 8);
	th_head[13] |= s->flags & PV_TCP_PSH;
	f->plen += s->plen;
	f->next_seq += s->plen;
	f->segs++;
	p->verdict = NIC_GRO_ABSORBED;
}

/* The merged frame's IP lengths, IPv4 header checksum, pseudo-header sum; its metadata. */
static void gro_finish(struct gro_batch *b, struct gro_flow *f)
{
	struct nic_gro_pkt *h = &b->pk[f->head];
	uint8_t *ip = h->frame + f->pi.l3_off, *th = h->frame + f->pi.l4_off;
	uint32_t ip_len = f->hlen - f->pi.l3_off + f->plen, l4_len = f->pi.l4_hdr_len + f->plen;
	uint8_t ph[40] = { 0 };
	uint32_t phlen = 12;

	if (f->pi.ip_version == 4) {
		wr16(ip + 2, (uint16_t)ip_len);
		wr16(ip + 10, 0);
		wr16(ip + 10, pv_pkt_csum_fold(pv_pkt_csum_add(0, ip, 20)));
		memcpy(ph, f->pi.src_ip, 4);
		memcpy(ph + 4, f->pi.dst_ip, 4);
		ph[9] = 6;
		wr16(ph + 10, (uint16_t)l4_len);
	} else {
		wr16(ip + 4, (uint16_t)(ip_len - 40));
		memcpy(ph, f->pi.src_ip, 16);
		memcpy(ph + 16, f->pi.dst_ip, 16);
		wr16(ph + 34, (uint16_t)l4_len);
		ph[39] = 6;
		phlen = 40;
	}
	wr16(th + PV_PKT_TCP_CSUM_OFF, (uint16_t)~pv_pkt_csum_fold(pv_pkt_csum_add(0, ph, phlen)));
	h->len = f->hlen + f->plen;
	h->verdict = NIC_GRO_HEAD;
	h->segs = f->segs;
	h->rx_flags = PV_NIC_RX_F_CSUM_PARTIAL;
	h->gso_type = (uint8_t)((f->pi.ip_version == 4 ? PV_NIC_GSO_TCPV4 : PV_NIC_GSO_TCPV6) |
				(f->flags & PV_TCP_CWR ? PV_NIC_GSO_ECN : 0));
	h->gso_size = f->mss;
	h->out_csum_start = (uint16_t)f->pi.l4_off;
	h->out_csum_offset = PV_PKT_TCP_CSUM_OFF;
	b->st->frames++;
	b->st->segs += f->segs;
}

static void gro_close(struct gro_batch *b, struct gro_flow *f, int why)
{
	f->open = false;
	b->st->close[why]++;
	if (f->segs >= 2)
		gro_finish(b, f);
}

static void gro_open(struct gro_batch *b, struct gro_flow *f, unsigned int i,
		     const struct gro_seg *s)
{
	const uint8_t *frame = b->pk[i].frame;

	f->head = i;
	f->open = true;
	f->pi = s->pi;
	f->hlen = s->hlen;
	f->plen = s->plen;
	f->next_seq = s->seq + s->plen;
	f->ack = s->ack;
	f->mss = (uint16_t)s->plen;
	f->segs = 1;
	f->ip_id = s->pi.ip_version == 4 ? rd16(frame + s->pi.l3_off + 4) : 0;
	f->flags = s->flags;
	f->ts_off = gro_ts_off(frame + s->pi.l4_off, s->pi.l4_hdr_len);
}

/* Frame @i of the batch: append it, or end its flow's merge, open one, or leave it. */
static void gro_one(struct gro_batch *b, unsigned int i)
{
	struct nic_gro_pkt *p = &b->pk[i];
	struct gro_flow *f;
	struct gro_seg s;
	int why;

	p->verdict = NIC_GRO_PASS;
	if (!gro_parse(p, &s))
		return;
	f = gro_lookup(b, p, &s);
	if (f && !f->wanted)
		return;
	if (f && f->open) {
		why = s.cand ? gro_can_follow(b, f, p, &s) : NIC_GRO_CLOSE_OTHER;
		if (why == GRO_NONE) {
			gro_append(b, f, i, &s);
			if ((s.flags & PV_TCP_PSH) || s.plen < f->mss)
				gro_close(b, f, NIC_GRO_CLOSE_PUSH);
			return;
		}
		gro_close(b, f, why);
	}
	if (!s.cand || (s.flags & PV_TCP_PSH) || s.plen > UINT16_MAX)
		return;
	if (!f) {
		f = &b->flows[b->nflows++];
		*f = (struct gro_flow){ .head = i, .pi = s.pi };
		f->wanted = !b->want || b->want(b->arg, p->frame, p->len);
		if (!f->wanted) {
			b->st->not_wanted++;
			return;
		}
	}
	gro_open(b, f, i, &s);
}

/**
 * nic_gro_batch() - merge the mergeable TCP segments of one batch
 * @pk:		the batch's frames, in arrival order (verdicts written)
 * @n:		how many (at most NIC_GRO_BATCH_MAX; more are left PASS)
 * @want:	asked once per flow before it first merges; NULL: always
 * @arg:	for @want
 * @st:		counters, added to (NULL: none kept)
 *
 * Every merge ends before this returns: nothing is held between batches.
 */
void nic_gro_batch(struct nic_gro_pkt *pk, unsigned int n, nic_gro_want_fn want, void *arg,
		   struct nic_gro_stats *st)
{
	struct nic_gro_stats dummy = { 0 };
	struct gro_batch b = { .pk = pk, .st = st ? st : &dummy, .want = want, .arg = arg };

	for (unsigned int i = 0; i < n; i++) {
		pk[i].verdict = NIC_GRO_PASS;
		if (i < NIC_GRO_BATCH_MAX)
			gro_one(&b, i);
	}
	for (unsigned int k = 0; k < b.nflows; k++)
		if (b.flows[k].open)
			gro_close(&b, &b.flows[k], NIC_GRO_CLOSE_BATCH);
}
