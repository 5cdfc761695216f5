/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pvnic_back.c - libFuzzer harness for the pvnic backend's parsers of
 * what a (hostile) frontend writes in its xenstore directory
 * (src/accel/pvnic_back.c, docs/accel-pvnic.md):
 *
 *   accel-buf-refs   pvnic_back_parse_refs(): "R1 R2 ... RK", the grant
 *                    refs of the pages the NIC's buffers live in
 *   accelstate       pvnic_back_parse_state(): the XenbusState the
 *                    backend's state machine (pb_fe_watch_cb) acts on
 *
 * Build and run (see tests/fuzz/README):
 *   make fuzz
 *   build-fuzz/fuzz_pvnic_back -max_total_time=60 build-fuzz/corpus/fuzz_pvnic_back \
 *       tests/fuzz/corpus/fuzz_pvnic_back
 *
 * Input: [nr_grants:4 LE][value bytes...].  The value, cut at its first
 * NUL and at what pb_bufs_connect() reads (PB_REFS_MAX - 2 bytes), is
 * given to both parsers in a buffer of exactly its size (ASan sees any
 * read past its end); refs go to an array of exactly PVNIC_MAX_PAGES.
 * nr_grants: the top bit of byte 3 set means "small" (8 + the low 12 bits:
 * refs near the table's end are common), else the raw 31-bit value.
 *
 * Checked against a reference reading of the grammar in docs/accel-pvnic.md
 * (written here independently): the parser accepts exactly the strings of
 * 1..PVNIC_MAX_PAGES decimals separated by single spaces, each at least
 * PV_GNT_RESERVED and below nr_grants, none repeated, and returns those
 * refs in order; every refusal is -EINVAL, -ERANGE or -E2BIG.  accelstate:
 * -1, or the decimal 0..99 strtol() reads from the whole value.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel/pvnic.h"
#include "accel/pvnic_back.h"
#include "hv/hv.h"

#define VAL_MAX	(PVNIC_MAX_PAGES * 12 + 16 - 2)	/* pvnic_back.c's PB_REFS_MAX - 2 */

static void fail(const char *what, const char *s)
{
	fprintf(stderr, "fuzz_pvnic_back: %s: '%.200s'\n", what, s);
	abort();
}

/* The reference: refs of @s into @out, or -1 if the string is refused. */
static int ref_refs(const char *s, uint32_t nr_grants, uint32_t *out)
{
	size_t len = strlen(s), i = 0;
	int n = 0;

	if (!len)
		return -1;
	while (i < len) {
		size_t j = i;
		uint64_t v = 0;

		while (j < len && s[j] >= '0' && s[j] <= '9') {
			if (v < (1ull << 40))
				v = v * 10 + (uint64_t)(s[j] - '0');
			j++;
		}
		if (j == i)				/* empty token or not a digit */
			return -1;
		if (j < len && s[j] != ' ')		/* junk after the digits */
			return -1;
		if (j < len && j + 1 == len)		/* trailing space */
			return -1;
		if (v < PV_GNT_RESERVED || v >= nr_grants || n >= PVNIC_MAX_PAGES)
			return -1;
		for (int k = 0; k < n; k++)
			if (out[k] == v)
				return -1;
		out[n++] = (uint32_t)v;
		i = j + 1;
	}
	return n;
}

/* The reference accelstate: whitespace, a sign, digits, the end; 0..99. */
static int ref_state(const char *s)
{
	const char *p = s;
	int neg = 0, digits = 0;
	uint64_t v = 0;

	while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
		p++;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		if (v < 1000)
			v = v * 10 + (uint64_t)(*p - '0');
	if (!digits || *p || v > 99 || (neg && v))
		return -1;
	return (int)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint32_t want[PVNIC_MAX_PAGES];
	uint32_t nr_grants, *refs;
	size_t len;
	char *s;
	int n, r;

	if (size < 4)
		return 0;
	nr_grants = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
		    (uint32_t)data[3] << 24;
	nr_grants = nr_grants & 0x80000000u ? PV_GNT_RESERVED + (nr_grants & 0xfff)
					    : nr_grants & 0x7fffffffu;
	data += 4;
	size -= 4;
	len = strnlen((const char *)data, size < VAL_MAX ? size : VAL_MAX);
	s = malloc(len + 1);
	refs = malloc(PVNIC_MAX_PAGES * sizeof(*refs));
	if (!s || !refs)
		abort();
	memcpy(s, data, len);
	s[len] = '\0';

	n = pvnic_back_parse_refs(s, nr_grants, refs);
	r = ref_refs(s, nr_grants, want);
	if (n < 0 && n != -EINVAL && n != -ERANGE && n != -E2BIG)
		fail("refs: an error code outside -EINVAL/-ERANGE/-E2BIG", s);
	if ((n < 0) != (r < 0))
		fail(n < 0 ? "refs: a well-formed list refused" : "refs: a malformed list accepted", s);
	if (n >= 0) {
		if (n != r || n < 1 || n > PVNIC_MAX_PAGES)
			fail("refs: wrong count", s);
		if (memcmp(refs, want, (size_t)n * sizeof(*refs)))
			fail("refs: wrong refs", s);
	}

	/* accelstate is read into 16 bytes (pb_fe_watch_cb): at most 15 of them. */
	if (len > 15)
		s[15] = '\0';
	if (pvnic_back_parse_state(s) != ref_state(s))
		fail("accelstate: parsed otherwise than the reference", s);
	free(refs);
	free(s);
	return 0;
}
