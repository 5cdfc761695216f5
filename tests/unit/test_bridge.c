/* SPDX-License-Identifier: MIT */
/*
 * test_bridge.c - the bridge's learning table and forwarding decision.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "back/bridge.h"
#include "../lib/test.h"

static const uint8_t test_key[PV_BRIDGE_KEY_LEN] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
};
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
static const uint8_t zero[6];

/* A locally administered unicast MAC numbered n. */
static void mac_n(uint8_t mac[6], uint32_t n)
{
	mac[0] = 0x02; mac[1] = 0x00;
	mac[2] = n >> 24; mac[3] = n >> 16; mac[4] = n >> 8; mac[5] = n;
}

static struct pv_bridge *mk(uint32_t entries, uint32_t cap, uint64_t aging,
			    uint32_t buckets)
{
	struct pv_bridge_config cfg = {
		.max_entries = entries, .port_cap = cap, .aging_ms = aging,
		.buckets = buckets, .max_ports = 8, .hash_key = test_key,
	};
	struct pv_bridge *br = pv_bridge_new(&cfg);

	if (!br) {
		printf("FAIL: pv_bridge_new: errno %d\n", errno);
		exit(1);
	}
	return br;
}

/* Verdict and egress port as one number: port >= 0, -1 flood, -2 drop. */
static int where(struct pv_bridge *br, int in, const uint8_t dst[6], uint64_t now)
{
	int out = 99;
	enum pv_bridge_verdict v = pv_bridge_forward(br, in, dst, now, &out);

	if (v == PV_BRIDGE_FORWARD)
		return out;
	if (out != -1)
		return 100;	/* out_port must be -1 unless forwarding */
	return v == PV_BRIDGE_FLOOD ? -1 : -2;
}

/* The flood targets as a bit mask. */
static unsigned int flood_mask(const struct pv_bridge *br, int in)
{
	unsigned int m = 0;
	int p;

	pv_bridge_foreach_flood(br, in, p)
		m |= 1u << p;
	return m;
}

static struct pv_bridge_port_stats pstats(const struct pv_bridge *br, int port)
{
	struct pv_bridge_port_stats s = { .learned = 12345 };

	pv_bridge_port_stats(br, port, &s);
	return s;
}

static struct pv_bridge_stats gstats(const struct pv_bridge *br)
{
	struct pv_bridge_stats s;

	pv_bridge_stats(br, &s);
	return s;
}

static void test_eth_helpers(void)
{
	uint8_t m[6];

	mac_n(m, 7);
	T_CHECK(pv_eth_is_broadcast(bcast), "eth: broadcast", "not broadcast");
	T_CHECK(!pv_eth_is_broadcast(mcast), "eth: multicast is not broadcast", "said broadcast");
	T_CHECK(pv_eth_is_multicast(bcast) && pv_eth_is_multicast(mcast),
		"eth: broadcast and 01:00:5e are multicast", "not multicast");
	T_CHECK(!pv_eth_is_multicast(m), "eth: 02:.. is unicast", "said multicast");
	T_CHECK(pv_eth_is_zero(zero) && !pv_eth_is_zero(m), "eth: zero", "wrong");
	T_CHECK(pv_eth_is_valid_src(m) && !pv_eth_is_valid_src(zero) &&
		!pv_eth_is_valid_src(mcast) && !pv_eth_is_valid_src(bcast),
		"eth: valid source", "wrong");
	T_EQ(offsetof(struct pv_ethhdr, src), 6, "eth: src offset");
	T_EQ(offsetof(struct pv_ethhdr, type), 12, "eth: type offset");
}

static void test_siphash(void)
{
	static const uint8_t msg[6] = { 0, 1, 2, 3, 4, 5 };
	/* SipHash-2-4 reference vectors.h, vectors_sip64[6]: key 00..0f,
	 * message 00..05, tag ce e3 fe 58 6e 46 c9 cb. */
	T_EQ(pv_bridge_siphash(test_key, msg), 0xcbc9466e58fee3ceULL,
	     "siphash: reference vector, 6-byte message");
}

static void test_config(void)
{
	struct pv_bridge_config bad = { .max_entries = PV_BRIDGE_MAX_ENTRIES + 1 };
	struct pv_bridge_config badports = { .max_ports = PV_BRIDGE_MAX_PORTS + 1 };
	struct pv_bridge *br = pv_bridge_new(NULL);
	struct pv_bridge_stats s;
	int p;

	T_CHECK(br != NULL, "config: NULL config gives defaults", "errno %d", errno);
	if (!br)
		return;
	s = gstats(br);
	T_EQ(s.capacity, PV_BRIDGE_DEFAULT_ENTRIES, "config: default capacity");
	p = pv_bridge_port_add(br, NULL, "vif1.0");
	T_EQ(p, 0, "config: first port id is 0");
	T_EQ(pv_bridge_port_flags(br, p), PV_BRIDGE_PORT_DEFAULT, "config: default port flags");
	/* The default cap: 64 MACs learned, the 65th refused. */
	for (uint32_t i = 0; i < 65; i++) {
		uint8_t m[6];

		mac_n(m, i + 1);
		pv_bridge_learn(br, p, m, 0);
	}
	T_EQ(pstats(br, p).learned, PV_BRIDGE_DEFAULT_PORT_CAP, "config: default per-port cap");
	T_EQ(pstats(br, p).cap_drops, 1, "config: 65th MAC is a cap drop");
	pv_bridge_free(br);

	errno = 0;
	T_CHECK(pv_bridge_new(&bad) == NULL && errno == EINVAL,
		"config: too many entries refused", "errno %d", errno);
	errno = 0;
	T_CHECK(pv_bridge_new(&badports) == NULL && errno == EINVAL,
		"config: too many ports refused", "errno %d", errno);
	pv_bridge_free(NULL);
}

static void test_unicast(void)
{
	struct pv_bridge *br = mk(64, 16, 1000, 0);
	int owner_a, owner_b;
	int a = pv_bridge_port_add(br, &owner_a, "a");
	int b = pv_bridge_port_add(br, &owner_b, "b");
	int c = pv_bridge_port_add(br, NULL, "c");
	uint8_t ma[6], mb[6];

	mac_n(ma, 0xa);
	mac_n(mb, 0xb);
	T_EQ(b, 1, "unicast: second port id is 1");
	T_CHECK(pv_bridge_port_owner(br, b) == &owner_b, "unicast: owner kept", "wrong owner");
	T_CHECK(strcmp(pv_bridge_port_name(br, a), "a") == 0, "unicast: name kept", "wrong name");
	T_EQ(pv_bridge_learn(br, a, ma, 10), PV_BRIDGE_LEARN_NEW, "unicast: learn A on a");
	T_EQ(pv_bridge_learn(br, a, ma, 20), PV_BRIDGE_LEARN_REFRESH, "unicast: relearn is refresh");
	T_EQ(pv_bridge_learn(br, b, mb, 10), PV_BRIDGE_LEARN_NEW, "unicast: learn B on b");
	T_EQ(where(br, a, mb, 30), b, "unicast: a -> B forwards to b");
	T_EQ(where(br, b, ma, 30), a, "unicast: b -> A forwards to a");
	T_EQ(where(br, c, ma, 30), a, "unicast: c -> A forwards to a");
	T_EQ(pstats(br, a).learned, 1, "unicast: port a learned 1");
	T_EQ(gstats(br).entries, 2, "unicast: 2 entries");
	pv_bridge_free(br);
}

static void test_flood(void)
{
	struct pv_bridge *br = mk(64, 16, 1000, 0);
	int a = pv_bridge_port_add(br, NULL, "a");
	int b = pv_bridge_port_add(br, NULL, "b");
	int c = pv_bridge_port_add(br, NULL, "c");
	int d = pv_bridge_port_add(br, NULL, "d");
	uint8_t unknown[6];

	mac_n(unknown, 0x99);
	T_EQ(where(br, a, unknown, 0), -1, "flood: unknown unicast floods");
	T_EQ(where(br, a, bcast, 0), -1, "flood: broadcast floods");
	T_EQ(where(br, a, mcast, 0), -1, "flood: multicast floods");
	T_EQ(flood_mask(br, a), (1u << b) | (1u << c) | (1u << d),
	     "flood: all ports but ingress a");
	T_EQ(flood_mask(br, c), (1u << a) | (1u << b) | (1u << d),
	     "flood: all ports but ingress c");
	T_EQ(pv_bridge_port_set_flags(br, d, PV_BRIDGE_PORT_LEARN), 0,
	     "flood: clear FLOOD on d");
	T_EQ(flood_mask(br, a), (1u << b) | (1u << c), "flood: d excluded without FLOOD flag");
	T_EQ(pv_bridge_port_set_flags(br, d, 0x80), -EINVAL, "flood: unknown flag refused");
	T_EQ(pv_bridge_port_flags(br, d), PV_BRIDGE_PORT_LEARN, "flood: flags unchanged by refusal");
	pv_bridge_port_del(br, b);
	T_EQ(flood_mask(br, a), 1u << c, "flood: deleted port b excluded");
	T_EQ(gstats(br).floods, 3, "flood: 3 floods counted");
	T_EQ(gstats(br).lookup_miss, 1, "flood: 1 unicast miss (bcast/mcast are not lookups)");
	pv_bridge_free(br);
}

static void test_hairpin(void)
{
	struct pv_bridge *br = mk(64, 16, 1000, 0);
	int a = pv_bridge_port_add(br, NULL, "a");
	int b = pv_bridge_port_add(br, NULL, "b");
	uint8_t m1[6], m2[6];

	mac_n(m1, 1);
	mac_n(m2, 2);
	pv_bridge_learn(br, a, m1, 0);
	pv_bridge_learn(br, a, m2, 0);
	T_EQ(where(br, a, m2, 1), -2, "hairpin: dst behind ingress dropped");
	T_EQ(where(br, b, m2, 1), a, "hairpin: same dst from b forwards");
	T_EQ(gstats(br).hairpin_drops, 1, "hairpin: counted once");
	T_EQ(where(br, 7, m2, 1), -2, "hairpin: unused ingress port dropped");
	T_EQ(where(br, -1, m2, 1), -2, "hairpin: negative ingress port dropped");
	T_EQ(gstats(br).bad_port_drops, 2, "hairpin: bad ingress counted");
	pv_bridge_free(br);
}

static void test_move(void)
{
	struct pv_bridge *br = mk(64, 2, 1000, 0);
	int a = pv_bridge_port_add(br, NULL, "a");
	int b = pv_bridge_port_add(br, NULL, "b");
	int c = pv_bridge_port_add(br, NULL, "c");
	uint8_t m[6], x[6], y[6];

	mac_n(m, 1);
	mac_n(x, 2);
	mac_n(y, 3);
	pv_bridge_learn(br, a, m, 0);
	T_EQ(where(br, c, m, 1), a, "move: first at a");
	T_EQ(pv_bridge_learn(br, b, m, 2), PV_BRIDGE_LEARN_MOVED, "move: seen on b");
	T_EQ(where(br, c, m, 3), b, "move: now forwarded to b");
	T_EQ(pstats(br, a).learned, 0, "move: a gave it up");
	T_EQ(pstats(br, b).learned, 1, "move: b has it");
	T_EQ(pstats(br, b).moves, 1, "move: b counts a move in");
	T_EQ(gstats(br).moves, 1, "move: global move count");
	T_EQ(gstats(br).entries, 1, "move: still one entry");
	/* b at its cap of 2: a station moving to b is refused, stays at a. */
	pv_bridge_learn(br, a, x, 4);
	pv_bridge_learn(br, b, y, 4);
	T_EQ(pv_bridge_learn(br, b, x, 5), PV_BRIDGE_LEARN_CAP, "move: to a port at cap refused");
	T_EQ(where(br, c, x, 6), a, "move: refused station stays at a");
	T_EQ(pstats(br, b).cap_drops, 1, "move: refusal is a cap drop");
	T_EQ(gstats(br).moves, 1, "move: refusal is not a move");
	pv_bridge_free(br);
}

/* BADINPUTS 20: one port sends 10000 random source MACs. */
static void test_cap_flood(void)
{
	struct pv_bridge *br = mk(4096, 64, 300000, 0);
	int good = pv_bridge_port_add(br, NULL, "good");
	int evil = pv_bridge_port_add(br, NULL, "evil");
	int other = pv_bridge_port_add(br, NULL, "other");
	uint64_t r = 0x9e3779b97f4a7c15ULL;
	unsigned int new = 0, cap = 0, wrong = 0;
	uint8_t g[10][6];

	for (uint32_t i = 0; i < 10; i++) {
		mac_n(g[i], 0x1000 + i);
		pv_bridge_learn(br, good, g[i], 0);
	}
	for (int i = 0; i < 10000; i++) {
		uint8_t m[6];
		int rc;

		r ^= r << 13; r ^= r >> 7; r ^= r << 17;
		for (int j = 0; j < 6; j++)
			m[j] = (uint8_t)(r >> (8 * j));
		m[0] = (m[0] & 0xfc) | 0x02;	/* unicast, local */
		rc = pv_bridge_learn(br, evil, m, 1 + (uint64_t)i);
		if (rc == PV_BRIDGE_LEARN_NEW)
			new++;
		else if (rc == PV_BRIDGE_LEARN_CAP)
			cap++;
		else
			wrong++;
	}
	T_EQ(new, 64, "cap: 64 of 10000 random MACs learned");
	T_EQ(cap, 10000 - 64, "cap: the rest refused at the cap");
	T_EQ(wrong, 0, "cap: no other outcome");
	T_EQ(pstats(br, evil).learned, 64, "cap: evil port holds its cap");
	T_EQ(pstats(br, evil).cap_drops, 10000 - 64, "cap: cap drops counted");
	T_EQ(pstats(br, good).learned, 10, "cap: good port keeps its 10");
	T_EQ(gstats(br).entries, 74, "cap: table holds 10 + 64");
	T_EQ(gstats(br).table_full, 0, "cap: table never full");
	wrong = 0;
	for (int i = 0; i < 10; i++)
		wrong += where(br, other, g[i], 20000) != good;
	T_EQ(wrong, 0, "cap: good port's MACs still forward to it");
	T_EQ(pv_bridge_learn(br, good, g[0], 20001), PV_BRIDGE_LEARN_REFRESH,
	     "cap: good port still learns");
	pv_bridge_free(br);
}

static void test_table_full(void)
{
	struct pv_bridge *br = mk(8, 100, 1000, 0);
	int a = pv_bridge_port_add(br, NULL, "a");
	int b = pv_bridge_port_add(br, NULL, "b");
	int c = pv_bridge_port_add(br, NULL, "c");
	uint8_t m[6];
	unsigned int wrong = 0;

	for (uint32_t i = 0; i < 8; i++) {
		mac_n(m, i + 1);
		pv_bridge_learn(br, i < 4 ? a : b, m, 0);
	}
	T_EQ(gstats(br).entries, 8, "full: 8 of 8 entries");
	mac_n(m, 100);
	T_EQ(pv_bridge_learn(br, c, m, 10), PV_BRIDGE_LEARN_FULL, "full: 9th MAC not learned");
	T_EQ(gstats(br).table_full, 1, "full: table_full counted");
	T_EQ(pstats(br, c).full_drops, 1, "full: port full_drops counted");
	T_EQ(pstats(br, c).learned, 0, "full: nothing learned on c");
	T_EQ(where(br, a, m, 10), -1, "full: unlearned MAC floods");
	for (uint32_t i = 0; i < 8; i++) {
		mac_n(m, i + 1);
		wrong += where(br, c, m, 10) != (i < 4 ? a : b);
	}
	T_EQ(wrong, 0, "full: existing entries not evicted");
	T_EQ(gstats(br).entries, 8, "full: still 8 entries");
	pv_bridge_free(br);
}

/* A full table of stale entries keeps learning by reusing expired ones. */
static void test_reclaim(void)
{
	struct pv_bridge *br = mk(4, 100, 1000, 1);	/* one bucket: one chain */
	int a = pv_bridge_port_add(br, NULL, "a");
	int b = pv_bridge_port_add(br, NULL, "b");
	uint8_t m[6];

	for (uint32_t i = 0; i < 4; i++) {
		mac_n(m, i + 1);
		pv_bridge_learn(br, a, m, i == 0 ? 0 : 900);
	}
	mac_n(m, 50);
	T_EQ(pv_bridge_learn(br, b, m, 999), PV_BRIDGE_LEARN_FULL, "reclaim: nothing expired yet");
	T_EQ(pv_bridge_learn(br, b, m, 1000), PV_BRIDGE_LEARN_NEW, "reclaim: expired entry reused");
	T_EQ(gstats(br).reclaimed, 1, "reclaim: counted");
	T_EQ(gstats(br).entries, 4, "reclaim: still 4 entries");
	T_EQ(pstats(br, a).learned, 3, "reclaim: a lost its stale MAC");
	T_EQ(pstats(br, b).learned, 1, "reclaim: b gained one");
	T_EQ(where(br, a, m, 1001), b, "reclaim: new MAC forwards");
	mac_n(m, 2);
	T_EQ(where(br, b, m, 1001), a, "reclaim: live MACs of a kept");
	mac_n(m, 51);
	T_EQ(pv_bridge_learn(br, b, m, 1001), PV_BRIDGE_LEARN_FULL, "reclaim: live ones not reused");
	pv_bridge_free(br);
}

static void test_aging(void)
{
	struct pv_bridge *br = mk(64, 16, 1000, 0);
	int a = pv_bridge_port_add(br, NULL, "a");
	int b = pv_bridge_port_add(br, NULL, "b");
	uint8_t m[6], n[6];

	mac_n(m, 1);
	mac_n(n, 2);
	pv_bridge_learn(br, a, m, 5000);
	pv_bridge_learn(br, a, n, 5500);
	T_EQ(where(br, b, m, 5999), a, "aging: live just before aging time");
	T_EQ(where(br, b, m, 6000), -1, "aging: expired entry floods");
	T_EQ(where(br, b, m, 4000), a, "aging: timestamp in the future is fresh");
	T_EQ(gstats(br).entries, 2, "aging: lookup does not remove");
	T_EQ(pv_bridge_age(br, 5999), 0, "aging: age() before expiry removes nothing");
	T_EQ(pv_bridge_age(br, 6000), 1, "aging: age() removes the expired one");
	T_EQ(gstats(br).entries, 1, "aging: 1 entry left");
	T_EQ(gstats(br).aged, 1, "aging: aged counted");
	T_EQ(pstats(br, a).learned, 1, "aging: port count follows");
	T_EQ(where(br, b, m, 6000), -1, "aging: removed entry floods");
	T_EQ(where(br, b, n, 6000), a, "aging: younger entry still forwards");
	/* Refreshing keeps an entry alive past its first aging time. */
	pv_bridge_learn(br, a, n, 6400);
	T_EQ(where(br, b, n, 7000), a, "aging: refreshed entry lives on");
	T_EQ(pv_bridge_age(br, 7400), 1, "aging: refreshed entry expires later");
	T_EQ(gstats(br).entries, 0, "aging: table empty");
	/* An expired entry learned on another port is reused, not a move. */
	pv_bridge_learn(br, a, m, 10000);
	T_EQ(pv_bridge_learn(br, b, m, 11000), PV_BRIDGE_LEARN_NEW, "aging: expired MAC relearned elsewhere");
	T_EQ(gstats(br).moves, 0, "aging: not counted as a move");
	T_EQ(where(br, a, m, 11000), b, "aging: relearned MAC forwards to b");
	pv_bridge_free(br);
}

static void test_port_del(void)
{
	struct pv_bridge *br = mk(64, 16, 1000, 4);
	int a = pv_bridge_port_add(br, NULL, "a");
	int b = pv_bridge_port_add(br, NULL, "b");
	int c = pv_bridge_port_add(br, NULL, "c");
	uint8_t m[6];
	int nb, owner;

	for (uint32_t i = 0; i < 10; i++) {
		mac_n(m, i + 1);
		pv_bridge_learn(br, i % 2 ? a : b, m, 0);
	}
	pv_bridge_learn(br, b, m, 0);	/* one station moved to b */
	T_EQ(pv_bridge_port_del(br, b), 0, "portdel: delete b");
	T_EQ(pv_bridge_port_del(br, b), -EINVAL, "portdel: second delete refused");
	T_EQ(gstats(br).entries, 4, "portdel: b's 6 entries gone, a's 4 left");
	T_EQ(gstats(br).ports, 2, "portdel: 2 ports left");
	T_CHECK(pv_bridge_port_owner(br, b) == NULL, "portdel: no owner", "owner left");
	T_EQ(pv_bridge_learn(br, b, m, 1), -EINVAL, "portdel: learning on deleted port refused");
	nb = pv_bridge_port_add(br, &owner, "b2");
	T_EQ(nb, b, "portdel: id reused");
	T_CHECK(pv_bridge_port_owner(br, nb) == &owner && strcmp(pv_bridge_port_name(br, nb), "b2") == 0,
		"portdel: new owner and name", "stale");
	T_EQ(pstats(br, nb).learned, 0, "portdel: reused port starts empty");
	T_EQ(pstats(br, nb).moves, 0, "portdel: reused port stats reset");
	mac_n(m, 1);	/* odd numbers were on b */
	T_EQ(where(br, c, m, 1), -1, "portdel: old MAC of b floods, not sent to reused id");
	mac_n(m, 2);
	T_EQ(where(br, c, m, 1), a, "portdel: a's MACs unaffected");
	T_EQ(pv_bridge_port_add(br, NULL, "d"), 3, "portdel: next new id");
	pv_bridge_free(br);
}

static void test_bad_src(void)
{
	struct pv_bridge *br = mk(64, 16, 1000, 0);
	int a = pv_bridge_port_add(br, NULL, "a");
	int b = pv_bridge_port_add(br, NULL, "b");
	uint8_t m[6];

	T_EQ(pv_bridge_learn(br, a, bcast, 0), PV_BRIDGE_LEARN_IGNORED, "badsrc: broadcast ignored");
	T_EQ(pv_bridge_learn(br, a, mcast, 0), PV_BRIDGE_LEARN_IGNORED, "badsrc: multicast ignored");
	T_EQ(pv_bridge_learn(br, a, zero, 0), PV_BRIDGE_LEARN_IGNORED, "badsrc: zero ignored");
	T_EQ(gstats(br).entries, 0, "badsrc: nothing learned");
	T_EQ(gstats(br).bad_src, 3, "badsrc: counted");
	T_EQ(where(br, b, zero, 0), -1, "badsrc: zero dst unknown, floods");
	T_EQ(pv_bridge_add_static(br, a, mcast), -EINVAL, "badsrc: static multicast refused");
	/* Learning off: forwarding works, nothing learned. */
	pv_bridge_port_set_flags(br, a, PV_BRIDGE_PORT_FLOOD);
	mac_n(m, 1);
	T_EQ(pv_bridge_learn(br, a, m, 0), PV_BRIDGE_LEARN_IGNORED, "badsrc: learning off ignores");
	T_EQ(gstats(br).entries, 0, "badsrc: learning off learns nothing");
	T_EQ(pv_bridge_learn(br, 9, m, 0), -EINVAL, "badsrc: port out of range refused");
	pv_bridge_free(br);
}

static void test_static(void)
{
	struct pv_bridge *br = mk(64, 1, 1000, 0);
	int a = pv_bridge_port_add(br, NULL, "a");
	int b = pv_bridge_port_add(br, NULL, "b");
	uint8_t m[6], x[6];

	mac_n(m, 1);
	mac_n(x, 2);
	pv_bridge_learn(br, b, m, 0);	/* learned on b first */
	T_EQ(pv_bridge_add_static(br, a, m), 0, "static: pin to a");
	T_EQ(pv_bridge_add_static(br, a, m), 0, "static: pinning again is fine");
	T_EQ(pv_bridge_add_static(br, b, m), -EEXIST, "static: pin elsewhere refused");
	T_EQ(pstats(br, b).learned, 0, "static: replaced b's learned entry");
	T_EQ(pstats(br, a).statics, 1, "static: counted as static on a");
	T_EQ(pv_bridge_learn(br, b, m, 10), PV_BRIDGE_LEARN_DENIED, "static: b cannot steal it");
	T_EQ(pstats(br, b).move_denied, 1, "static: denial counted");
	T_EQ(where(br, b, m, 10), a, "static: still forwards to a");
	T_EQ(pv_bridge_learn(br, a, x, 10), PV_BRIDGE_LEARN_NEW, "static: not charged to the cap of 1");
	T_EQ(pv_bridge_age(br, 1000000), 1, "static: age() removes only the learned one");
	T_EQ(where(br, b, m, 1000000), a, "static: never ages");
	T_EQ(pv_bridge_del_mac(br, m), 0, "static: del_mac");
	T_EQ(pv_bridge_del_mac(br, m), -ENOENT, "static: del_mac again");
	T_EQ(gstats(br).entries, 0, "static: table empty");
	pv_bridge_free(br);
}

struct dump {
	unsigned int n, statics, on_b;
	uint64_t age_sum;
};

static int dump_cb(const struct pv_bridge_entry_info *e, void *arg)
{
	struct dump *d = arg;

	d->n++;
	d->statics += e->is_static;
	d->on_b += e->port == 1;
	d->age_sum += e->age_ms;
	return 0;
}

static int stop_cb(const struct pv_bridge_entry_info *e, void *arg)
{
	(void)e;
	return ++*(int *)arg == 2 ? 42 : 0;
}

static void test_dump(void)
{
	struct pv_bridge *br = mk(64, 16, 1000, 0);
	int a = pv_bridge_port_add(br, NULL, "a");
	int b = pv_bridge_port_add(br, NULL, "b");
	struct dump d = { 0 };
	uint8_t m[6];
	int calls = 0;

	for (uint32_t i = 0; i < 5; i++) {
		mac_n(m, i + 1);
		pv_bridge_learn(br, i < 3 ? a : b, m, 100 * i);
	}
	mac_n(m, 77);
	pv_bridge_add_static(br, b, m);
	/* At 1050 the entry seen at 0 is expired; the others are 950, 850,
	 * 750 and 650 ms old, the static one 0. */
	T_EQ(pv_bridge_foreach_entry(br, 1050, dump_cb, &d), 0, "dump: returns 0");
	T_EQ(d.n, 5, "dump: 5 live entries");
	T_EQ(d.statics, 1, "dump: 1 static");
	T_EQ(d.on_b, 3, "dump: 3 on b");
	T_EQ(d.age_sum, 950 + 850 + 750 + 650, "dump: ages");
	T_EQ(pv_bridge_foreach_entry(br, 1050, stop_cb, &calls), 42, "dump: callback stops it");
	T_EQ(calls, 2, "dump: stopped after 2");
	pv_bridge_free(br);
}

static void test_stats_and_input(void)
{
	struct pv_bridge *br = mk(64, 16, 1000, 0);
	int a = pv_bridge_port_add(br, NULL, "a");
	int b = pv_bridge_port_add(br, NULL, "b");
	struct pv_ethhdr ab, ba, abc;
	struct pv_bridge_stats s;
	int out = 7;

	mac_n(ab.src, 0xa);
	mac_n(ab.dst, 0xb);
	memcpy(ba.src, ab.dst, 6);
	memcpy(ba.dst, ab.src, 6);
	memcpy(abc.src, ab.src, 6);
	memcpy(abc.dst, bcast, 6);
	T_EQ(pv_bridge_input(br, a, &ab, 0, &out), PV_BRIDGE_FLOOD, "input: A->B floods at first");
	T_EQ(out, -1, "input: no egress port on flood");
	T_EQ(pv_bridge_input(br, b, &ba, 1, &out), PV_BRIDGE_FORWARD, "input: B->A forwards");
	T_EQ(out, a, "input: to a");
	T_EQ(pv_bridge_input(br, a, &ab, 2, &out), PV_BRIDGE_FORWARD, "input: A->B now forwards");
	T_EQ(out, b, "input: to b");
	T_EQ(pv_bridge_input(br, a, &abc, 3, &out), PV_BRIDGE_FLOOD, "input: broadcast floods");
	T_EQ(pv_bridge_input(br, b, &ab, 4, &out), PV_BRIDGE_DROP, "input: A moved to b, B on b: hairpin");
	s = gstats(br);
	T_EQ(s.entries, 2, "stats: entries");
	T_EQ(s.ports, 2, "stats: ports");
	T_EQ(s.lookup_hit, 3, "stats: lookup hits");
	T_EQ(s.lookup_miss, 1, "stats: lookup misses");
	T_EQ(s.forwards, 2, "stats: forwards");
	T_EQ(s.floods, 2, "stats: floods");
	T_EQ(s.hairpin_drops, 1, "stats: hairpin drops");
	T_EQ(s.moves, 1, "stats: moves");
	T_EQ(pstats(br, b).learned, 2, "stats: b learned 2");
	T_EQ(pstats(br, a).learned, 0, "stats: a learned 0");
	T_EQ(pv_bridge_port_stats(br, 5, &(struct pv_bridge_port_stats){ 0 }), -EINVAL,
	     "stats: bad port refused");
	pv_bridge_free(br);
}

static void test_ports_full(void)
{
	struct pv_bridge *br = mk(64, 16, 1000, 0);	/* max_ports 8 */
	int last = -1;

	for (int i = 0; i < 8; i++)
		last = pv_bridge_port_add(br, NULL, "a-very-long-port-name");
	T_EQ(last, 7, "ports: 8 ports");
	T_EQ(pv_bridge_port_add(br, NULL, "x"), -ENOSPC, "ports: 9th refused");
	T_EQ(strlen(pv_bridge_port_name(br, 0)), PV_BRIDGE_NAME_LEN - 1, "ports: name truncated");
	T_EQ(pv_bridge_port_set_cap(br, 0, 0), -EINVAL, "ports: cap 0 refused");
	T_EQ(pv_bridge_port_set_cap(br, 0, 1), 0, "ports: cap 1 set");
	pv_bridge_free(br);
}

/* The keyed hash spreads sequential MACs: no chain grows long. */
static void test_hash_spread(void)
{
	struct pv_bridge *br = mk(4096, 4096, 1000, 4096);
	int a = pv_bridge_port_add(br, NULL, "a");
	uint8_t m[6];
	unsigned int got = 0, longest;

	for (uint32_t i = 0; i < 4096; i++) {
		mac_n(m, i + 1);
		got += pv_bridge_learn(br, a, m, 0) == PV_BRIDGE_LEARN_NEW;
	}
	longest = pv_bridge_longest_chain(br);
	T_EQ(got, 4096, "hash: 4096 MACs learned");
	/* Balls into bins at load 1: the longest chain is ~7 with high
	 * probability; a weak hash of sequential MACs would do far worse. */
	T_CHECK(longest >= 2 && longest <= 12, "hash: longest chain short",
		"longest chain %u", longest);
	pv_bridge_free(br);
}

int main(void)
{
	test_eth_helpers();
	test_siphash();
	test_config();
	test_unicast();
	test_flood();
	test_hairpin();
	test_move();
	test_cap_flood();
	test_table_full();
	test_reclaim();
	test_aging();
	test_port_del();
	test_bad_src();
	test_static();
	test_dump();
	test_stats_and_input();
	test_ports_full();
	test_hash_spread();
	return t_done();
}
