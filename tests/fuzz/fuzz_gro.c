/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gro.c - libFuzzer harness for src/nic/gro.c: receive coalescing
 * over batches of frames from the wire (untrusted).
 *
 * Build and run (clang with libFuzzer; see tests/fuzz/README):
 *   make fuzz
 *   build-fuzz/fuzz_gro -max_total_time=60 build-fuzz/corpus_gro
 *
 * Random bytes would seldom make two TCP segments of one flow, so the
 * input describes each frame (8 bytes: flow, IP version, tag, sequence
 * step, flags, payload length, ID step, options, checksum state) and the
 * harness builds it valid, then flips the byte the description names:
 * the parser's edges and the merge rules are both reached.  Checked for
 * any input, besides memory safety (ASan/UBSan): every HEAD fits its
 * buffer and 64 KiB, its IPv4 header checksum is right, it starts with its
 * own payload, gso_size is that payload's length, pv_pkt_gso_segment()
 * cuts it into exactly its segment count; the verdicts add up (as many
 * ABSORBED frames as the HEADs took) and so do the bytes (the merged
 * frames' payloads are the payloads of the frames that went into them).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nic/gro.c"

#define FZ_CAP	(PV_NIC_RX_FRAME_MAX + 16)
#define FZ_N	40u

static uint8_t fz_buf[FZ_N][FZ_CAP];
static uint8_t fz_copy[FZ_N][1600];	/* each frame as built, to check payloads against */
static uint32_t fz_copy_len[FZ_N];

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }

/* Frame @i from its 8-byte description @d; the flows' sequence and IDs in @seq/@id. */
static uint32_t fz_build(unsigned int i, const uint8_t *d, uint32_t *seq, uint16_t *id,
			 struct nic_gro_pkt *p)
{
	unsigned int flow = d[0] & 3, v6 = (d[0] >> 2) & 1, vlan = (d[0] >> 3) & 1;
	uint32_t l3 = vlan ? 18 : 14, l4 = l3 + (v6 ? 40 : 20), thl = (d[5] & 1) ? 32 : 20;
	uint32_t plen = d[3] < 200 ? 1200 : (uint32_t)(d[3] - 200) * 20;
	uint8_t *b = fz_buf[i], *ip = b + l3, *th = b + l4;
	uint32_t len = l4 + thl + plen;

	memset(b, 0, len);
	b[0] = 2; b[5] = (uint8_t)flow; b[6] = 2; b[11] = 0x10;
	if (vlan) {
		put16(b + 12, 0x8100);
		put16(b + 14, d[0] >> 4);
	}
	put16(b + l3 - 2, v6 ? 0x86dd : 0x0800);
	if (!v6) {
		ip[0] = 0x45; put16(ip + 2, len - l3); put16(ip + 4, id[flow]);
		put16(ip + 6, 0x4000); ip[8] = 64; ip[9] = 6;
		ip[12] = 10; ip[15] = 1; ip[16] = 10; ip[19] = (uint8_t)(2 + flow);
		put16(ip + 10, pv_pkt_csum_fold(pv_pkt_csum_add(0, ip, 20)));
	} else {
		ip[0] = 0x60; put16(ip + 4, len - l4); ip[6] = 6; ip[7] = 64;
		ip[8] = 0xfd; ip[23] = 1; ip[24] = 0xfd; ip[39] = (uint8_t)(2 + flow);
	}
	put16(th, 1000 + flow); put16(th + 2, 80);
	put32(th + 4, seq[flow]); put32(th + 8, 7);
	th[12] = (uint8_t)((thl / 4) << 4);
	th[13] = d[2];
	put16(th + 14, 100);
	if (thl == 32) {
		th[20] = 1; th[21] = 1; th[22] = 8; th[23] = 10; put32(th + 24, d[5] >> 1);
	}
	for (uint32_t k = 0; k < plen; k++)
		th[thl + k] = (uint8_t)(seq[flow] + k);
	*p = (struct nic_gro_pkt){ .frame = b, .len = len, .cap = FZ_CAP, .gso = (d[6] & 3) == 3 };
	if (d[6] & 1) {
		p->rx_flags = PV_NIC_RX_F_CSUM_PARTIAL;
		p->csum_start = (uint16_t)l4;
		p->csum_offset = (d[6] & 4) ? 6 : 16;
	} else if (d[6] & 2) {
		p->rx_flags = PV_NIC_RX_F_CSUM_OK;
	}
	/* the steps: sequence usually contiguous, ID usually + 1 */
	seq[flow] += d[1] < 200 ? plen : (uint32_t)(d[1] - 200) * 100;
	id[flow] = (uint16_t)(id[flow] + (d[4] < 200 ? 1 : d[4] - 200));
	if (d[7] && len > d[7])	/* one byte flipped, somewhere in the first 256 */
		b[d[7]] ^= d[6] | 1;
	fz_copy_len[i] = len;	/* at most 18 + 40 + 32 + 1200 bytes */
	memcpy(fz_copy[i], b, len);
	return len;
}

static struct nic_gro_pkt fz_pk[FZ_N];

static int fz_seg_cb(const struct pv_pkt_seg *seg, void *arg)
{
	(void)seg;
	(*(unsigned int *)arg)++;
	return 0;
}

/* Payload bytes of frame @i as built (before the engine touched it). */
static uint32_t fz_payload(unsigned int i, uint32_t *hlen)
{
	struct pv_pkt_info pi;

	if (pv_pkt_parse(fz_copy[i], fz_copy_len[i], &pi) || !(pi.flags & PV_PKT_F_PORTS))
		abort();	/* merged or absorbed: it parsed in the engine */
	*hlen = pi.l4_off + pi.l4_hdr_len;
	return pi.l3_end - *hlen;
}

/* A HEAD: fits, 64 KiB, IPv4 header checksum, cuts into its segments, starts with its own payload. */
static uint32_t fz_check_head(unsigned int h)
{
	const struct nic_gro_pkt *p = &fz_pk[h];
	struct pv_pkt_info pi;
	unsigned int n = 0;
	uint32_t hlen, ohlen, own = fz_payload(h, &ohlen);

	if (p->len > p->cap || p->segs < 2 || pv_pkt_parse(p->frame, p->len, &pi) ||
	    pi.l3_end != p->len || p->len - pi.l3_off > NIC_GRO_IP_MAX || p->gso_size != own)
		abort();
	if (pi.ip_version == 4 &&
	    pv_pkt_csum_fold(pv_pkt_csum_add(0, p->frame + pi.l3_off, 20)) != 0)
		abort();
	if (pv_pkt_gso_segment(p->frame, p->len, p->gso_size,
			       pi.ip_version == 4 ? PV_PKT_GSO_TCPV4 : PV_PKT_GSO_TCPV6,
			       fz_seg_cb, &n) != p->segs || n != p->segs)
		abort();
	hlen = pi.l4_off + pi.l4_hdr_len;
	if (hlen != ohlen || memcmp(p->frame + hlen, fz_copy[h] + ohlen, own))
		abort();
	return p->len - hlen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seq[4] = { 1, 1000, 1u << 31, 0xfffff000u };
	uint16_t id[4] = { 1, 0xfffe, 300, 0 };
	unsigned int n = 0, absorbed = 0, segs = 0;
	uint64_t out = 0, in = 0;
	struct nic_gro_stats st = { 0 };
	uint32_t hl;

	while (n < FZ_N && size >= 8) {
		fz_build(n, data, seq, id, &fz_pk[n]);
		data += 8;
		size -= 8;
		n++;
	}
	nic_gro_batch(fz_pk, n, NULL, NULL, &st);
	for (unsigned int i = 0; i < n; i++) {
		if (fz_pk[i].verdict == NIC_GRO_HEAD) {
			out += fz_check_head(i);
			in += fz_payload(i, &hl);
			segs += fz_pk[i].segs;
			absorbed += fz_pk[i].segs - 1u;
		} else if (fz_pk[i].verdict == NIC_GRO_ABSORBED) {
			in += fz_payload(i, &hl);
			absorbed--;
		} else if (fz_pk[i].verdict != NIC_GRO_PASS) {
			abort();
		}
	}
	/* every ABSORBED frame in one HEAD, every payload byte in exactly one merged frame */
	if (absorbed != 0 || st.segs != segs || in != out)
		abort();
	return 0;
}
