/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pkt.c - libFuzzer harness for src/lib/pkt.c: the frame parser, the
 * checksum helpers and the software segmenter, over arbitrary frames.
 *
 * Build and run (clang with libFuzzer; see tests/fuzz/README):
 *   make fuzz
 *   build-fuzz/fuzz_pkt -max_total_time=60 -max_len=70000 build-fuzz/corpus_pkt
 *
 * The first input byte picks the GSO type and MSS so that the fuzzer steers
 * those too; the rest is the frame.  Besides memory safety (ASan/UBSan),
 * it checks invariants that must hold for any input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pkt.h"

static uint32_t seg_total;

static int seg_cb(const struct pv_pkt_seg *seg, void *arg)
{
	uint32_t mss = *(uint32_t *)arg;
	volatile uint8_t sink = 0;

	if (seg->payload_len > mss || seg->hdr_len > PV_PKT_GSO_HDR_MAX)
		abort();
	/* Touch every byte so ASan sees any out-of-bounds slice. */
	for (uint32_t i = 0; i < seg->hdr_len; i++)
		sink ^= seg->hdr[i];
	for (uint32_t i = 0; i < seg->payload_len; i++)
		sink ^= seg->payload[i];
	(void)sink;
	seg_total += seg->payload_len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_pkt_info pi;
	uint16_t cs = 0, co = 0;
	uint32_t len, mss;
	uint8_t *frame;
	int gso_type, rc;

	if (size < 1 || size > 70000)
		return 0;
	gso_type = data[0] & 3;
	mss = (data[0] >> 2) * 37u;	/* 0 included: must be refused */
	len = (uint32_t)size - 1;
	/* An exact-size heap copy, so reading one byte past the end is caught. */
	frame = malloc(len ? len : 1);
	if (!frame)
		return 0;
	memcpy(frame, data + 1, len);

	rc = pv_pkt_parse(frame, len, &pi);
	if (rc != 0 && rc != -EINVAL && rc != -EMSGSIZE)
		abort();
	if (!rc && (pi.l3_end > len || pi.l4_off > len ||
		    pi.l4_off + pi.l4_hdr_len > (pi.l3_end ? pi.l3_end : len)))
		abort();

	rc = pv_pkt_csum_setup(frame, len, &cs, &co);
	if (!rc) {
		if ((co != 16 && co != 6) || (uint32_t)cs + co + 2 > len)
			abort();
		if (pv_pkt_csum_complete(frame, len, cs, co))
			abort();
	}
	pv_pkt_csum_complete(frame, len, (uint16_t)(len / 2), (uint16_t)(data[0] & 0x3f));

	(void)pv_pkt_is_tcp_gso_ok(frame, len, gso_type);
	seg_total = 0;
	rc = pv_pkt_gso_segment(frame, len, (uint16_t)mss, gso_type, seg_cb, &mss);
	if (rc > 0 && !pv_pkt_is_tcp_gso_ok(frame, len, gso_type))
		abort();
	if (rc > 0 && seg_total > len)
		abort();
	free(frame);
	return 0;
}
