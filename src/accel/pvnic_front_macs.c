/* SPDX-License-Identifier: MIT */
/*
 * pvnic_front_macs.c - which destinations the "pvnic" frontend sends on the
 * fast path: the MACs learned from frames received on it (a direct-mapped
 * table of PVNIC_LEARN entries; a collision forgets the older MAC), never
 * those of the host's other vifs (accel-local-macs, parsed into a sorted
 * array searched per learning; a new list also forgets those already
 * learned).  See "Learned destinations" at the top of pvnic_front.c.
 */
#define _GNU_SOURCE
#include "accel/pvnic_front_priv.h"

/* ---- the host's other vifs (accel-local-macs) ---- */

static uint64_t pvnic_mac64(const uint8_t *m)
{
	return (uint64_t)m[0] << 40 | (uint64_t)m[1] << 32 | (uint64_t)m[2] << 24 |
	       (uint64_t)m[3] << 16 | (uint64_t)m[4] << 8 | m[5];
}

/* Is @m the MAC of another vif on this host?  Binary search of the sorted list. */
static int pvnic_is_local(const struct pvnic_dev *p, const uint8_t *m)
{
	uint64_t v = pvnic_mac64(m);
	unsigned int lo = 0, hi = p->nlocal;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (p->local[mid] == v)
			return 1;
		if (p->local[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int pvnic_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "aa:bb:cc:dd:ee:ff", exactly, @n bytes at @s; 0 and the MAC in @v, or -EINVAL. */
static int pvnic_parse_mac(const char *s, size_t n, uint64_t *v)
{
	*v = 0;
	if (n != 17)
		return -EINVAL;
	for (unsigned int i = 0; i < 6; i++) {
		int hi = pvnic_hexval(s[3 * i]), lo = pvnic_hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		*v = *v << 8 | (uint64_t)(hi << 4 | lo);
	}
	return 0;
}

static int pvnic_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/*
 * pvnic_local_macs_set() - the value of accel-local-macs (@len bytes at
 * @val; NULL: the key is absent, an empty list): MACs separated by
 * whitespace.  Entries that are not a unicast, non-zero "aa:bb:cc:dd:ee:ff"
 * (and any beyond PVNIC_LOCAL_MAX) are ignored and counted.  Learned
 * destinations on the new list are forgotten: frames to them go slow.
 */
void pvnic_local_macs_set(struct pvnic_dev *p, const char *val, size_t len)
{
	uint64_t macs[PVNIC_LOCAL_MAX] = { 0 };	/* zeroed for the analysers; lists change rarely */
	unsigned int n = 0, k = 0;
	size_t i = 0;

	while (val && i < len) {
		size_t start;
		uint64_t v;

		while (i < len && (val[i] == ' ' || val[i] == '\t' || val[i] == '\n'))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && val[i] != ' ' && val[i] != '\t' && val[i] != '\n')
			i++;
		if (pvnic_parse_mac(val + start, i - start, &v) || !v || (v >> 40 & 1) ||
		    n == PVNIC_LOCAL_MAX) {
			p->local_bad++;
			continue;
		}
		macs[n++] = v;
	}
	if (n > 1)
		qsort(macs, n, sizeof(macs[0]), pvnic_u64_cmp);
	for (unsigned int j = 0; j < n; j++)	/* without repeats */
		if (!k || macs[j] != macs[k - 1])
			macs[k++] = macs[j];
	memcpy(p->local, macs, k * sizeof(macs[0]));
	p->nlocal = k;
	for (unsigned int h = 0; h < PVNIC_LEARN; h++)
		if (p->learn_ok[h] && pvnic_is_local(p, p->learn[h]))
			p->learn_ok[h] = 0;
}

/* ---- the learned destinations ---- */

static unsigned int pvnic_hash(const uint8_t *m)
{
	uint32_t h = ((uint32_t)m[2] << 24 | (uint32_t)m[3] << 16 | (uint32_t)m[4] << 8 | m[5]) ^
		     ((uint32_t)m[0] << 8 | m[1]);

	h *= 0x9e3779b1u;
	return h >> 24 & (PVNIC_LEARN - 1);
}

void pvnic_learn(struct pvnic_dev *p, const uint8_t *src)
{
	unsigned int h = pvnic_hash(src);

	if (p->learn_ok[h] && !memcmp(p->learn[h], src, 6))
		return;		/* known: the common case */
	if ((src[0] & 1) || pvnic_is_local(p, src))
		return;		/* never a destination of ours; guest to guest goes slow */
	memcpy(p->learn[h], src, 6);
	p->learn_ok[h] = 1;
}

int pvnic_learned(const struct pvnic_dev *p, const uint8_t *dst)
{
	unsigned int h = pvnic_hash(dst);

	return p->learn_ok[h] && !memcmp(p->learn[h], dst, 6);
}
