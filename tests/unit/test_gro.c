/* SPDX-License-Identifier: MIT */
/*
 * test_gro.c - receive coalescing (src/nic/gro.c) on hand-built batches:
 * what merges (in-order segments of one flow, IPv4 and IPv6, tagged or
 * not) and what never does (other flows, gaps, overlaps, control flags,
 * option layouts, IP field changes, unknown checksums), the merged
 * frame's headers and checksums (completed here as a receiver would, and
 * checked with this file's own reference sum), the order frames are
 * delivered in, the 64 KiB limit, and that nothing outlives its batch.
 * A merged frame cut again by pv_pkt_gso_segment() must give back the
 * very segments it was made of.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nic/gro.h"
#include "pvnet/nic.h"
#include "lib/pkt.h"
#include "../lib/test.h"

#define CAP	(PV_NIC_RX_FRAME_MAX + 64)
#define NB	NIC_GRO_BATCH_MAX

static uint8_t bufs[NB][CAP];	/* the batch's frames, each in a buffer of its own */
static uint8_t orig[NB][2048];	/* copies of the segments as built */
static uint32_t orig_len[NB];
static struct nic_gro_pkt pk[NB];
static unsigned int npk;
static struct nic_gro_stats st;

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x0a }, mac_b[6] = { 0x02, 0, 0, 0, 0, 0x0b };
static const uint8_t ip4_a[4] = { 10, 0, 0, 1 }, ip4_b[4] = { 10, 0, 0, 2 };
static const uint8_t ip6_a[16] = { 0xfd, [15] = 1 }, ip6_b[16] = { 0xfd, [15] = 2 };

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }
static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }

/* Reference ones-complement sum (RFC 1071), independent of pkt.c; not inverted. */
static uint32_t ref_sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s += i & 1 ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static uint32_t ref_pseudo(int v6, const uint8_t *src, const uint8_t *dst, uint32_t l4len)
{
	uint8_t ph[40] = { 0 };

	if (!v6) {
		memcpy(ph, src, 4); memcpy(ph + 4, dst, 4); ph[9] = 6; put16(ph + 10, l4len);
		return ref_sum(0, ph, 12);
	}
	memcpy(ph, src, 16); memcpy(ph + 16, dst, 16); put32(ph + 32, l4len); ph[39] = 6;
	return ref_sum(0, ph, 40);
}

/* A segment to build. */
struct seg {
	int v6;
	int vlan;		/* 0: untagged; else the TCI */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;		/* 0: ACK */
	uint32_t plen;
	uint16_t ip_id;
	uint8_t ttl;		/* 0: 64 */
	uint8_t df;
	int ts;			/* 1: NOP NOP TS; 2: TS NOP NOP (another layout); 0: none */
	uint32_t tsval;
	uint16_t win;		/* 0: 1000 */
	uint16_t rx_flags;	/* 0: CSUM_OK; 0xffff: none */
	int partial;		/* checksum field holds the pseudo sum, CSUM_PARTIAL */
	int bad_iphdr;
	int gso;
};

/* Offsets of the frame built from @s: IP header, TCP header, payload. */
static uint32_t l3_of(const struct seg *s) { return s->vlan ? 18 : 14; }
static uint32_t thl_of(const struct seg *s) { return s->ts ? 32 : 20; }
static uint32_t l4_of(const struct seg *s) { return l3_of(s) + (s->v6 ? 40 : 20); }

static uint32_t build(uint8_t *b, const struct seg *s)
{
	uint32_t l3 = l3_of(s), l4 = l4_of(s), thl = thl_of(s), len = l4 + thl + s->plen;
	uint8_t *ip = b + l3, *th = b + l4;

	memset(b, 0, len);
	memcpy(b, mac_b, 6);
	memcpy(b + 6, mac_a, 6);
	if (s->vlan) {
		put16(b + 12, 0x8100);
		put16(b + 14, (uint32_t)s->vlan);
	}
	put16(b + l3 - 2, s->v6 ? 0x86dd : 0x0800);
	if (!s->v6) {
		ip[0] = 0x45;
		put16(ip + 2, 20 + thl + s->plen);
		put16(ip + 4, s->ip_id);
		put16(ip + 6, s->df ? 0x4000 : 0);
		ip[8] = s->ttl ? s->ttl : 64;
		ip[9] = 6;
		memcpy(ip + 12, ip4_a, 4);
		memcpy(ip + 16, ip4_b, 4);
		put16(ip + 10, ~ref_sum(0, ip, 20) & 0xffff);
		if (s->bad_iphdr)
			ip[10] ^= 1;
	} else {
		ip[0] = 0x60;
		put16(ip + 4, thl + s->plen);
		ip[6] = 6;
		ip[7] = s->ttl ? s->ttl : 64;
		memcpy(ip + 8, ip6_a, 16);
		memcpy(ip + 24, ip6_b, 16);
	}
	put16(th, s->sport);
	put16(th + 2, s->dport);
	put32(th + 4, s->seq);
	put32(th + 8, s->ack);
	th[12] = (uint8_t)((thl / 4) << 4);
	th[13] = s->flags ? s->flags : PV_TCP_ACK;
	put16(th + 14, s->win ? s->win : 1000);
	if (s->ts == 1) {
		th[20] = 1; th[21] = 1; th[22] = 8; th[23] = 10;
		put32(th + 24, s->tsval); put32(th + 28, 77);
	} else if (s->ts == 2) {
		th[20] = 8; th[21] = 10; put32(th + 22, s->tsval); put32(th + 26, 77);
		th[30] = 1; th[31] = 1;
	}
	for (uint32_t i = 0; i < s->plen; i++)	/* payload: a function of the sequence space */
		th[thl + i] = (uint8_t)((s->seq + i) * 7 + 3);
	if (s->partial)
		put16(th + 16, ref_pseudo(s->v6, s->v6 ? ip6_a : ip4_a, s->v6 ? ip6_b : ip4_b,
					  thl + s->plen));
	else
		put16(th + 16, ~ref_sum(ref_pseudo(s->v6, s->v6 ? ip6_a : ip4_a,
						   s->v6 ? ip6_b : ip4_b, thl + s->plen),
					th, thl + s->plen) & 0xffff);
	return len;
}

static void reset(void)
{
	npk = 0;
	memset(&st, 0, sizeof(st));
}

static void add(const struct seg *s)
{
	struct nic_gro_pkt *p = &pk[npk];
	uint32_t len = build(bufs[npk], s);

	if (len <= sizeof(orig[0])) {
		memcpy(orig[npk], bufs[npk], len);
		orig_len[npk] = len;
	}
	*p = (struct nic_gro_pkt){ .frame = bufs[npk], .len = len, .cap = CAP, .gso = s->gso };
	if (s->partial) {
		p->rx_flags = PV_NIC_RX_F_CSUM_PARTIAL;
		p->csum_start = (uint16_t)l4_of(s);
		p->csum_offset = 16;
	} else {
		p->rx_flags = s->rx_flags == 0xffff ? 0 : PV_NIC_RX_F_CSUM_OK;
	}
	npk++;
}

/* @n segments of one flow from @s (seq, ID advanced), each @s->plen bytes. */
static void add_run(struct seg s, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		add(&s);
		s.seq += s.plen;
		s.ip_id++;
	}
}

static void run(void) { nic_gro_batch(pk, npk, NULL, NULL, &st); }

/* The verdicts as a string: P(ass), H(ead), a(bsorbed). */
static const char *verdicts(void)
{
	static char v[NB + 1];

	for (unsigned int i = 0; i < npk; i++)
		v[i] = pk[i].verdict == NIC_GRO_HEAD ? 'H' : pk[i].verdict == NIC_GRO_PASS ? 'P' : 'a';
	v[npk] = '\0';
	return v;
}

/*
 * Is the merged frame at pk[i] right as a receiver sees it: IP length and
 * (IPv4) header checksum, the TCP checksum once completed from
 * csum_start as virtio-net's NEEDS_CSUM says, @plen payload bytes of the
 * sequence space from @seq?
 */
static int merged_ok(unsigned int i, const struct seg *s, uint32_t seq, uint32_t plen)
{
	static uint8_t f[CAP];
	const struct nic_gro_pkt *p = &pk[i];
	uint32_t l3 = l3_of(s), l4 = l4_of(s), thl = thl_of(s);
	uint8_t *ip = f + l3, *th = f + l4;
	uint16_t c;

	if (p->verdict != NIC_GRO_HEAD || p->len != l4 + thl + plen ||
	    p->rx_flags != PV_NIC_RX_F_CSUM_PARTIAL || p->out_csum_start != l4 ||
	    p->out_csum_offset != 16 || p->gso_size != s->plen ||
	    (p->gso_type & ~PV_NIC_GSO_ECN) != (s->v6 ? PV_NIC_GSO_TCPV6 : PV_NIC_GSO_TCPV4))
		return 0;
	memcpy(f, p->frame, p->len);
	if (!s->v6 && (be16(ip + 2) != 20 + thl + plen || (ref_sum(0, ip, 20) & 0xffff) != 0xffff))
		return 0;
	if (s->v6 && be16(ip + 4) != thl + plen)
		return 0;
	/* the field holds the pseudo-header sum: complete it over [l4, end) */
	if (be16(th + 16) != ref_pseudo(s->v6, s->v6 ? ip6_a : ip4_a, s->v6 ? ip6_b : ip4_b, thl + plen))
		return 0;
	c = (uint16_t)~ref_sum(0, th, thl + plen);
	put16(th + 16, c ? c : 0xffff);
	if (ref_sum(ref_pseudo(s->v6, s->v6 ? ip6_a : ip4_a, s->v6 ? ip6_b : ip4_b, thl + plen),
		    th, thl + plen) != 0xffff)
		return 0;
	if (be32(th + 4) != seq)
		return 0;
	for (uint32_t k = 0; k < plen; k++)
		if (th[thl + k] != (uint8_t)((seq + k) * 7 + 3))
			return 0;
	return 1;
}

/* Cut pk[i] again: does it give back the original segments first .. first + n - 1? */
struct reseg { unsigned int first, n, bad; };

static int reseg_cb(const struct pv_pkt_seg *sg, void *arg)
{
	struct reseg *r = arg;
	unsigned int k = r->first + sg->index;
	uint32_t len = sg->hdr_len + sg->payload_len;

	if (sg->index >= r->n || len != orig_len[k] || memcmp(sg->hdr, orig[k], sg->hdr_len) ||
	    memcmp(sg->payload, orig[k] + sg->hdr_len, sg->payload_len))
		r->bad++;
	return 0;
}

static int reseg_ok(unsigned int i, unsigned int first, unsigned int n, int v6)
{
	struct reseg r = { first, n, 0 };
	int got = pv_pkt_gso_segment(pk[i].frame, pk[i].len, pk[i].gso_size,
				     v6 ? PV_PKT_GSO_TCPV6 : PV_PKT_GSO_TCPV4, reseg_cb, &r);

	return got == (int)n && r.bad == 0;
}

static struct seg base(int v6)
{
	return (struct seg){ .v6 = v6, .sport = 5001, .dport = 80, .seq = 1000000, .ack = 555,
			     .plen = 1448, .ip_id = 100, .df = 1, .ts = 1, .tsval = 9 };
}

static void test_one_flow(int v6)
{
	struct seg s = base(v6);
	const char *name = v6 ? "IPv6" : "IPv4";
	char t[256];

	reset();
	add_run(s, 4);
	run();
	snprintf(t, sizeof(t), "%s: 4 in-order segments of one flow become one frame (verdicts %s)",
		 name, verdicts());
	T_CHECK(!strcmp(verdicts(), "Haaa") && pk[0].segs == 4, t, "segs %u", pk[0].segs);
	snprintf(t, sizeof(t), "%s: the merged frame: IP length%s, completed TCP checksum, "
		 "payload, GSO metadata right", name, v6 ? "" : " and header checksum");
	T_CHECK(merged_ok(0, &s, s.seq, 4 * s.plen), t, "len %u gso %u/%u", pk[0].len,
		pk[0].gso_type, pk[0].gso_size);
	snprintf(t, sizeof(t), "%s: cut again (pv_pkt_gso_segment) it gives back the 4 segments "
		 "byte for byte", name);
	T_CHECK(reseg_ok(0, 0, 4, v6), t, "no");
	T_CHECK(st.frames == 1 && st.segs == 4 && st.close[NIC_GRO_CLOSE_BATCH] == 1,
		v6 ? "IPv6: counters: 1 frame of 4 segments, ended by the batch" :
		"IPv4: counters: 1 frame of 4 segments, ended by the batch",
		"frames %llu segs %llu", (unsigned long long)st.frames, (unsigned long long)st.segs);
}

static void test_partial_and_mixed(void)
{
	struct seg s = base(0);

	reset();
	s.partial = 1;
	add(&s);
	s.seq += s.plen; s.ip_id++; s.partial = 0;	/* CSUM_OK after a partial one */
	add(&s);
	s.seq += s.plen; s.ip_id++; s.partial = 1;
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "Haa") && merged_ok(0, &s, 1000000, 3 * s.plen),
		"partial and validated checksums merge; the merged frame's checksum completes right",
		"verdicts %s", verdicts());

	reset();
	s = base(0);
	add(&s);
	s.seq += s.plen; s.ip_id++; s.rx_flags = 0xffff;	/* checksum state unknown */
	add(&s);
	s.seq += s.plen; s.ip_id++; s.rx_flags = 0;
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "PPP") && st.close[NIC_GRO_CLOSE_OTHER] == 1,
		"a segment whose checksum nobody validated is never merged, and ends its flow's merge",
		"verdicts %s", verdicts());

	reset();
	s = base(0);
	s.partial = 1;
	add(&s);
	pk[0].csum_start = 20;	/* partial, but not at the TCP checksum */
	s.seq += s.plen; s.ip_id++;
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "PP"), "a partial checksum elsewhere than TCP's field: not merged",
		"verdicts %s", verdicts());
}

static void test_flows(void)
{
	struct seg a = base(0), b = base(0), c = base(1);

	b.sport = 5002;
	b.seq = 7000;
	c.seq = 1;
	reset();
	for (int i = 0; i < 3; i++) {
		add(&a); add(&b); add(&c);
		a.seq += a.plen; a.ip_id++;
		b.seq += b.plen; b.ip_id++;
		c.seq += c.plen;
	}
	run();
	a = base(0); b.seq = 7000; c.seq = 1;
	T_CHECK(!strcmp(verdicts(), "HHHaaaaaa") && pk[0].segs == 3 && pk[1].segs == 3 &&
		pk[2].segs == 3, "interleaved flows (2 IPv4, 1 IPv6) each merged on its own, "
		"delivered where their first segments came", "verdicts %s", verdicts());
	T_CHECK(merged_ok(0, &a, a.seq, 3 * a.plen) && merged_ok(1, &b, 7000, 3 * b.plen) &&
		merged_ok(2, &c, 1, 3 * c.plen), "interleaved flows: each merged frame carries only "
		"its own flow's bytes, in order", "no");

	reset();
	a = base(0);
	b = a;
	b.dport = 81;	/* same everything but a port: another flow */
	add(&a); b.seq = a.seq + a.plen; b.ip_id = (uint16_t)(a.ip_id + 1); add(&b);
	run();
	T_CHECK(!strcmp(verdicts(), "PP"), "never across flows: a contiguous segment of another "
		"5-tuple is not merged", "verdicts %s", verdicts());
}

static void test_gaps(void)
{
	struct seg s = base(0);

	reset();
	add_run(s, 2);
	s.seq += 3 * s.plen; s.ip_id = (uint16_t)(s.ip_id + 2);	/* one segment missing */
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "HaP") && pk[0].segs == 2 && st.close[NIC_GRO_CLOSE_MISMATCH] == 1,
		"a sequence gap ends the merge; the segment after it is delivered after it",
		"verdicts %s", verdicts());

	reset();
	s = base(0);
	add_run(s, 2);
	s.seq += s.plen; s.ip_id = (uint16_t)(s.ip_id + 2);	/* the second one again */
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "HaP") && pk[0].segs == 2, "an overlap (a retransmitted "
		"segment) is not merged", "verdicts %s", verdicts());

	reset();
	s = base(0);
	add(&s);
	s.seq += s.plen; s.ip_id++; s.ack += 1000;	/* another ack number */
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "PP"), "a segment with another ack number is not merged",
		"verdicts %s", verdicts());
}

static void test_flags(void)
{
	static const struct { uint8_t f; const char *name; } fl[] = {
		{ PV_TCP_SYN | PV_TCP_ACK, "SYN" }, { PV_TCP_FIN | PV_TCP_ACK, "FIN" },
		{ PV_TCP_RST | PV_TCP_ACK, "RST" }, { PV_TCP_URG | PV_TCP_ACK, "URG" },
	};
	char t[256];

	for (unsigned int k = 0; k < sizeof(fl) / sizeof(fl[0]); k++) {
		struct seg s = base(0);

		reset();
		add_run(s, 2);
		s.seq += 2 * s.plen; s.ip_id = (uint16_t)(s.ip_id + 2);
		s.flags = fl[k].f;
		add(&s);
		s.seq += s.plen; s.ip_id++; s.flags = 0;
		add_run(s, 2);
		run();
		snprintf(t, sizeof(t), "%s: never merged; the merge before it ends and is delivered "
			 "before it, a new one starts after it (verdicts %s)", fl[k].name, verdicts());
		T_CHECK(!strcmp(verdicts(), "HaPHa") && pk[0].segs == 2 && pk[3].segs == 2 &&
			st.close[NIC_GRO_CLOSE_OTHER] == 1, t, "segs %u %u", pk[0].segs, pk[3].segs);
	}
	{
		struct seg s = base(0);

		reset();
		add(&s);
		s.seq += s.plen; s.ip_id++; s.flags = PV_TCP_ACK | PV_TCP_PSH;
		add(&s);
		s.seq += s.plen; s.ip_id++; s.flags = 0;
		add_run(s, 2);
		run();
		s = base(0);
		T_CHECK(!strcmp(verdicts(), "HaHa") &&
			(pk[0].frame[l4_of(&s) + 13] & PV_TCP_PSH) && st.close[NIC_GRO_CLOSE_PUSH] == 1 &&
			merged_ok(0, &s, s.seq, 2 * s.plen),
			"PSH ends a merge, taken as its last (the merged frame has PSH); the next "
			"segment starts another", "verdicts %s", verdicts());
		T_CHECK(reseg_ok(0, 0, 2, 0), "a merge ended by PSH cuts back into the same segments "
			"(PSH on the last only)", "no");
	}
	{
		struct seg s = base(0);

		reset();
		add(&s);
		s.seq += s.plen; s.ip_id++; s.plen = 100;	/* short: the sender's write ended */
		add(&s);
		s.seq += s.plen; s.ip_id++; s.plen = 1448;
		add(&s);
		run();
		T_CHECK(!strcmp(verdicts(), "HaP") && pk[0].len == l4_of(&s) + 32 + 1548 &&
			reseg_ok(0, 0, 2, 0),
			"a segment shorter than the MSS is taken as the last of a merge, never in the middle",
			"verdicts %s", verdicts());

		reset();
		s = base(0);
		s.plen = 100;
		add(&s);
		s.seq += s.plen; s.ip_id++; s.plen = 1448;	/* longer than the head's: not merged */
		add(&s);
		run();
		T_CHECK(!strcmp(verdicts(), "PP"), "a segment longer than the head's (the MSS) is not "
			"merged", "verdicts %s", verdicts());

		reset();
		s = base(0);
		add(&s);
		s.seq += s.plen; s.ip_id++; s.plen = 0;	/* a pure ACK of the flow */
		add(&s);
		s.plen = 1448;
		add(&s);
		run();
		T_CHECK(!strcmp(verdicts(), "PPP"), "a pure ACK of the flow ends its merge: nothing "
			"after it is merged before it", "verdicts %s", verdicts());

		reset();
		s = base(0);
		add(&s);
		s.seq += s.plen; s.ip_id++; s.flags = PV_TCP_ACK | PV_TCP_CWR;
		add(&s);
		s.seq += s.plen; s.ip_id++; s.flags = 0;
		add(&s);
		run();
		T_CHECK(!strcmp(verdicts(), "PHa") && (pk[1].gso_type & PV_NIC_GSO_ECN),
			"CWR: never merged into a merge, may start one (GSO type with ECN)",
			"verdicts %s gso_type %u", verdicts(), pk[1].gso_type);
	}
}

static void test_options_and_ip(void)
{
	struct seg s = base(0);
	const uint8_t *th;

	reset();
	add(&s);
	s.seq += s.plen; s.ip_id++; s.tsval = 10;	/* timestamp moves on */
	add(&s);
	run();
	th = pk[0].frame + l4_of(&s);
	T_CHECK(!strcmp(verdicts(), "Ha") && be32(th + 24) == 10 && merged_ok(0, &s, 1000000, 2 * s.plen),
		"timestamp values may change within a merge: the merged frame carries the last's",
		"verdicts %s tsval %u", verdicts(), be32(th + 24));

	reset();
	s = base(0);
	add(&s);
	s.seq += s.plen; s.ip_id++; s.win = 2000;	/* a window update */
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "PP") && st.close[NIC_GRO_CLOSE_MISMATCH] == 1,
		"a window change is not merged (as Linux)", "verdicts %s", verdicts());

	reset();
	s = base(0);
	add(&s);
	s.seq += s.plen; s.ip_id++; s.ts = 2;	/* same length, another layout */
	add(&s);
	s.seq += s.plen; s.ip_id++; s.ts = 0;	/* no options: another header length */
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "PPP") && st.close[NIC_GRO_CLOSE_MISMATCH] == 2,
		"an options layout change (same length, or another length) is not merged",
		"verdicts %s", verdicts());

	reset();
	s = base(0);
	add(&s);
	s.seq += s.plen; s.ip_id = (uint16_t)(s.ip_id + 2);	/* ID not +1 */
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "PP"), "IPv4: an ID that is not the head's + 1 is not merged",
		"verdicts %s", verdicts());

	reset();
	s = base(0);
	s.ip_id = 0;
	add(&s);
	s.seq += s.plen;			/* DF with a fixed ID 0 (Linux's FIXEDID) */
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "PP"), "IPv4: DF with a fixed ID is not merged (virtio-net "
		"cannot say FIXEDID)", "verdicts %s", verdicts());

	reset();
	s = base(0);
	s.ip_id = 0xffff;
	add_run(s, 3);
	run();
	T_CHECK(!strcmp(verdicts(), "Haa") && reseg_ok(0, 0, 3, 0),
		"IPv4: the ID may wrap within a merge", "verdicts %s", verdicts());

	reset();
	s = base(0);
	add(&s);
	s.seq += s.plen; s.ip_id++; s.ttl = 63;
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "PP"), "IPv4: a TTL change is not merged", "verdicts %s",
		verdicts());

	reset();
	s = base(1);
	add(&s);
	s.seq += s.plen; s.ttl = 1;
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "PP"), "IPv6: a hop limit change is not merged", "verdicts %s",
		verdicts());

	reset();
	s = base(1);
	add(&s);
	s.seq += s.plen;
	add(&s);
	pk[1].frame[14 + 3] = 0x42;	/* flow label (its checksum does not cover it) */
	run();
	T_CHECK(!strcmp(verdicts(), "PP"), "IPv6: a flow label change is not merged", "verdicts %s",
		verdicts());

	reset();
	s = base(0);
	add(&s);
	s.seq += s.plen; s.ip_id++; s.bad_iphdr = 1;
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "PP"), "IPv4: a bad header checksum is never merged (the NIC "
		"would otherwise rewrite it good)", "verdicts %s", verdicts());

	reset();
	s = base(0);
	add(&s);
	s.seq += s.plen; s.ip_id++; s.gso = 1;
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "PP"), "a frame that is already GSO is never merged",
		"verdicts %s", verdicts());
}

static void test_limits(void)
{
	struct seg s = base(0);
	uint32_t ipmax = 0;
	unsigned int segs = 0;

	reset();
	add_run(s, 50);
	run();
	for (unsigned int i = 0; i < npk; i++)
		if (pk[i].verdict == NIC_GRO_HEAD) {
			uint32_t l = be16(pk[i].frame + 14 + 2);

			ipmax = l > ipmax ? l : ipmax;
			segs += pk[i].segs;
		}
	/* (65535 - 20 - 32) / 1448 = 45 segments fit one datagram */
	T_CHECK(pk[0].verdict == NIC_GRO_HEAD && pk[0].segs == 45 && pk[45].verdict == NIC_GRO_HEAD &&
		pk[45].segs == 5 && ipmax <= 65535 && segs == 50 && st.close[NIC_GRO_CLOSE_SIZE] == 1,
		"64 KiB: 50 segments of 1448 become 45 (a 65212-byte datagram) and 5",
		"segs %u %u, largest datagram %u", pk[0].segs, pk[45].segs, ipmax);
	T_CHECK(merged_ok(0, &s, s.seq, 45 * s.plen) && reseg_ok(0, 0, 45, 0),
		"64 KiB: the largest merged frame is right and cuts back into its 45 segments", "no");

	reset();
	s = base(1);
	add_run(s, 47);
	run();
	/* IPv6: the whole datagram, its 40-byte header too, within 65535 (RX_FRAME_MAX) */
	T_CHECK(pk[0].verdict == NIC_GRO_HEAD && pk[0].segs == 45 && pk[45].segs == 2 && 40 + be16(pk[0].frame + 14 + 4) <= 65535 &&
		merged_ok(0, &s, s.seq, 45 * s.plen) && reseg_ok(0, 0, 45, 1),
		"64 KiB, IPv6: 47 segments become 45 (a 65212-byte datagram) and 2, each right",
		"segs %u %u", pk[0].segs, pk[45].segs);

	reset();
	s = base(0);
	add_run(s, 4);
	pk[0].cap = pk[0].len + 2 * s.plen;	/* the head's buffer takes 2 more payloads */
	run();
	T_CHECK(!strcmp(verdicts(), "HaaP") && pk[0].segs == 3 &&
		st.close[NIC_GRO_CLOSE_SIZE] == 1, "a merge stays within the head's buffer",
		"verdicts %s", verdicts());
}

static void test_batch_end(void)
{
	struct seg s = base(0);
	unsigned int accounted = 0;

	reset();
	add_run(s, 5);
	run();
	for (unsigned int i = 0; i < npk; i++)
		accounted += pk[i].verdict == NIC_GRO_HEAD ? pk[i].segs : pk[i].verdict == NIC_GRO_PASS;
	T_CHECK(!strcmp(verdicts(), "Haaaa") && accounted == 5 && merged_ok(0, &s, s.seq, 5 * s.plen),
		"the flow's last segment of the batch is in a frame delivered with the batch "
		"(nothing held)", "verdicts %s accounted %u", verdicts(), accounted);

	/* the next batch: nothing from the last one is merged into */
	s.seq += 5 * s.plen;
	s.ip_id = (uint16_t)(s.ip_id + 5);
	reset();
	add(&s);
	run();
	T_CHECK(!strcmp(verdicts(), "P") && pk[0].len == orig_len[0] &&
		!memcmp(pk[0].frame, orig[0], orig_len[0]),
		"a batch of one segment: delivered untouched (no state kept between batches)",
		"verdicts %s", verdicts());

	reset();
	nic_gro_batch(pk, 0, NULL, NULL, &st);
	T_CHECK(st.frames == 0, "an empty batch does nothing", "frames %llu",
		(unsigned long long)st.frames);
}

static void test_vlan(void)
{
	struct seg a = base(0), b;

	a.vlan = 7;
	reset();
	add_run(a, 3);
	run();
	T_CHECK(!strcmp(verdicts(), "Haa") && merged_ok(0, &a, a.seq, 3 * a.plen) &&
		reseg_ok(0, 0, 3, 0) && pk[0].out_csum_start == 18 + 20,
		"one 802.1Q tag: tagged segments of one flow and tag merge (csum_start after the tag)",
		"verdicts %s", verdicts());

	reset();
	b = a;
	b.vlan = 8;
	add(&a);
	b.seq = a.seq + a.plen; b.ip_id = (uint16_t)(a.ip_id + 1);
	add(&b);
	b.vlan = 0;
	b.seq += b.plen; b.ip_id++;
	add(&b);
	run();
	T_CHECK(!strcmp(verdicts(), "PPP"), "another tag, or no tag, is another flow: not merged",
		"verdicts %s", verdicts());

	reset();
	a = base(1);
	a.vlan = 9;
	add_run(a, 2);
	run();
	T_CHECK(!strcmp(verdicts(), "Ha") && merged_ok(0, &a, a.seq, 2 * a.plen),
		"one 802.1Q tag, IPv6: merged", "verdicts %s", verdicts());
}

static bool want_none(void *arg, const uint8_t *frame, uint32_t len)
{
	(*(unsigned int *)arg)++;
	(void)frame;
	(void)len;
	return false;
}

static void test_want(void)
{
	struct seg s = base(0);
	unsigned int asked = 0;

	reset();
	add_run(s, 4);
	nic_gro_batch(pk, npk, want_none, &asked, &st);
	T_CHECK(!strcmp(verdicts(), "PPPP") && asked == 1 && st.not_wanted == 1,
		"want() says no: nothing merged, asked once for the flow", "verdicts %s asked %u",
		verdicts(), asked);
	T_CHECK(!memcmp(pk[0].frame, orig[0], orig_len[0]) && pk[0].len == orig_len[0],
		"want() says no: the frames are untouched", "no");
}

int main(void)
{
	test_one_flow(0);
	test_one_flow(1);
	test_partial_and_mixed();
	test_flows();
	test_gaps();
	test_flags();
	test_options_and_ip();
	test_limits();
	test_batch_end();
	test_vlan();
	test_want();
	return t_done();
}
