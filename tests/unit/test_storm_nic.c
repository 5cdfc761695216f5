/* SPDX-License-Identifier: MIT */
/*
 * test_storm_nic.c - storm control on the fast path, in-process: the
 * NIC's per-VI broadcast and multicast limits (SET_STORM, src/nic/vi.c
 * "Storm control", the bucket of src/lib/storm.h).  The test plays a
 * guest A and the host VI H (descriptors in their VI memory) and the wire
 * (an xmit hook that counts).  Counts, not rates: every limit is set with
 * 1 frame/s, so a burst posted at once gets exactly the bucket's burst
 * through even on a loaded machine, and the refill is tested on the
 * check itself with a clock the test gives.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nic/nic.h"
#include "../lib/test.h"
#include "test_nic_util.h"

static unsigned int wire_bcast, wire_mcast, wire_ucast;

static void cap_xmit(void *arg, struct nic_txframe *f, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *d = f[i].hdr;

		if (!memcmp(d, MAC_BCAST, 6))
			wire_bcast++;
		else if (d[0] & 1)
			wire_mcast++;
		else
			wire_ucast++;
		f[i].rc = 0;
	}
}

#define T_NR_BUFS	64
#define T_GBUFS		8

struct guest {
	uint32_t vi;
	struct t_vi v;
	void *vimem;
	int memfd;
	uint8_t *mem;
	uint32_t buf[T_GBUFS];
};

static struct nic *nic;
static int owner;
static struct guest ga, gh;
static const uint8_t MAC_MC[6] = { 0x33, 0x33, 0, 0, 0, 1 };
static const uint8_t MAC_H[6] = { 0x02, 0, 0, 0, 0, 0x77 };

static int guest_setup(struct guest *g, const uint8_t *mac)
{
	uint32_t chunks[T_GBUFS];
	struct pv_nic_set_mac m = { 0 };
	struct nic_region *reg;
	int rc;

	if (nic_vi_alloc(nic, &owner, &g->vi))
		return -1;
	g->vimem = mmap(NULL, PV_NIC_VI_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			nic->vis[g->vi].mem_fd, 0);
	g->memfd = memfd_create("guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (g->vimem == MAP_FAILED || g->memfd < 0 ||
	    ftruncate(g->memfd, T_GBUFS * PV_NIC_BUF_SIZE) < 0)
		return -1;
	g->mem = mmap(NULL, T_GBUFS * PV_NIC_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      g->memfd, 0);
	t_vi_init(&g->v, g->vimem);
	for (unsigned int i = 0; i < T_GBUFS; i++)
		chunks[i] = i;
	reg = nic_region_get(&nic->bt, g->memfd, &rc);
	if (!reg || g->mem == MAP_FAILED ||
	    nic_bufta_map(&nic->bt, g->vi, reg, chunks, T_GBUFS, g->buf))
		return -1;
	nic_region_put(&nic->bt, reg);
	m.vi_id = g->vi;
	memcpy(m.mac, mac, 6);
	return nic_vi_set_mac(nic, &nic->vis[g->vi], &m);
}

/* What became of a burst: its frames' events by kind. */
struct burst {
	unsigned int done, storm, spoof, other;
};

/*
 * @n frames from @dst (source @src) posted at once by @g, each one
 * descriptor naming the same buffer; served; every event read.
 */
static struct burst burst_len(struct guest *g, const uint8_t *dst, const uint8_t *src,
			      unsigned int n, uint32_t plen)
{
	struct burst b = { 0 };
	struct pv_nic_event ev;
	uint8_t fr[PV_NIC_BUF_SIZE];
	uint32_t len = mk_frame(fr, dst, src, 0, ip4("10.0.0.1"), ip4("10.0.0.255"), 17, 9, plen, 0x5a);

	memcpy(g->mem, fr, len);
	for (unsigned int i = 0; i < n; i++)
		t_vi_tx_put(&g->v, i, &(struct pv_nic_desc){ .buf_id = g->buf[0], .len = (uint16_t)len });
	t_vi_tx_post(&g->v, n);
	nic_vi_kick(nic, &nic->vis[g->vi]);
	while (nic_service(nic))
		;
	while (t_vi_event(&g->v, &ev)) {
		if (ev.type == PV_NIC_EV_TX_DONE)
			b.done++;
		else if (ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_TX_STORM)
			b.storm++;
		else if (ev.type == PV_NIC_EV_ERROR && ev.code == PV_NIC_ERR_TX_SPOOF)
			b.spoof++;
		else
			b.other++;
	}
	return b;
}

static struct burst burst(struct guest *g, const uint8_t *dst, const uint8_t *src, unsigned int n)
{
	return burst_len(g, dst, src, n, 60);
}

static int set_storm(struct guest *g, uint32_t bp, uint32_t bb, uint32_t mp, uint32_t mb)
{
	struct pv_nic_set_storm m = { .vi_id = g->vi, .bcast_pps = bp, .bcast_burst = bb,
				      .mcast_pps = mp, .mcast_burst = mb };

	return nic_vi_set_storm(&nic->vis[g->vi], &m);
}

static void test_off(void)
{
	struct burst b = burst(&ga, MAC_BCAST, MAC_A, 200);

	T_CHECK(b.done == 200 && wire_bcast == 200 && !nic->vis[ga.vi].st.tx_storm_bcast,
		"nic storm: without SET_STORM a VI's 200 broadcasts all go (behaviour unchanged)",
		"done %u storm %u wire %u", b.done, b.storm, wire_bcast);
}

static void test_limits(void)
{
	struct nic_vi *vi = &nic->vis[ga.vi];
	struct burst b;
	unsigned int w0;

	T_ASSERT(set_storm(&ga, 1, 20, 1, 5) == 0, "SET_STORM");
	w0 = wire_bcast;
	b = burst(&ga, MAC_BCAST, MAC_A, 300);
	T_CHECK(b.done == 20 && b.storm == 280 && b.other == 0 && wire_bcast == w0 + 20 &&
		vi->st.tx_storm_bcast == 280,
		"nic storm: 300 broadcasts at once: the burst of 20 on the wire, 280 refused TX_STORM and counted (tx_storm_bcast)",
		"done %u storm %u other %u wire +%u counted %llu", b.done, b.storm, b.other,
		wire_bcast - w0, (unsigned long long)vi->st.tx_storm_bcast);
	w0 = wire_mcast;
	b = burst(&ga, MAC_MC, MAC_A, 100);
	T_CHECK(b.done == 5 && b.storm == 95 && wire_mcast == w0 + 5 && vi->st.tx_storm_mcast == 95 &&
		vi->st.tx_storm_bcast == 280,
		"nic storm: multicast held to its own bucket (burst 5), counted tx_storm_mcast",
		"done %u storm %u wire +%u mcast %llu bcast %llu", b.done, b.storm, wire_mcast - w0,
		(unsigned long long)vi->st.tx_storm_mcast, (unsigned long long)vi->st.tx_storm_bcast);
	w0 = wire_ucast;
	b = burst(&ga, MAC_X, MAC_A, 400);
	T_CHECK(b.done == 400 && wire_ucast == w0 + 400,
		"nic storm: unicast (to any destination) is never limited: the NIC floods nothing",
		"done %u storm %u", b.done, b.storm);
	T_CHECK(vi->st.tx_port_errors == 0 && vi->st.tx_frames == 200 + 20 + 5 + 400,
		"nic storm: refused frames are not counted as sent or as port errors",
		"tx_frames %llu port_errors %llu", (unsigned long long)vi->st.tx_frames,
		(unsigned long long)vi->st.tx_port_errors);

	/* a spoofed broadcast is refused as spoofed and takes no token */
	T_ASSERT(set_storm(&ga, 1, 10, 1, 0) == 0, "SET_STORM refills");
	b = burst(&ga, MAC_BCAST, MAC_B, 50);
	T_CHECK(b.spoof == 50 && b.storm == 0, "nic storm: spoofed broadcasts are TX_SPOOF, not storm",
		"spoof %u storm %u", b.spoof, b.storm);
	b = burst(&ga, MAC_BCAST, MAC_A, 30);
	T_CHECK(b.done == 10 && b.storm == 20,
		"nic storm: refused frames took no token: the next 30 get the whole burst of 10",
		"done %u storm %u", b.done, b.storm);
	b = burst(&ga, MAC_MC, MAC_A, 10);
	T_CHECK(b.done == 2 && b.storm == 8, "nic storm: burst 0 is PV_STORM_BURST_FACTOR seconds' worth",
		"done %u storm %u (rate 1, factor %d)", b.done, b.storm, PV_STORM_BURST_FACTOR);

	T_ASSERT(set_storm(&ga, 0, 0, 0, 0) == 0, "SET_STORM off");
	b = burst(&ga, MAC_BCAST, MAC_A, 300);
	T_CHECK(b.done == 300, "nic storm: pps 0 turns the limit off", "done %u", b.done);
}

/*
 * A frame refused by storm control costs the scheduler its wire bytes, as
 * if sent: 128 refused 1514-byte broadcasts (one descriptor budget) end
 * turns by the quantum, as 128 sent ones would.
 */
static void test_sched(void)
{
	struct nic_vi *vi = &nic->vis[ga.vi];
	uint64_t stops0 = vi->st.tx_quantum_stops, wire0 = vi->st.tx_wire_bytes;
	struct burst b;

	T_ASSERT(set_storm(&ga, 1, 1, 0, 0) == 0, "SET_STORM");
	b = burst_len(&ga, MAC_BCAST, MAC_A, 128, 1514 - 42);
	T_CHECK(b.done == 1 && b.storm == 127 && vi->st.tx_quantum_stops >= stops0 + 2 &&
		vi->st.tx_wire_bytes == wire0 + 1514 + NIC_WIRE_OVERHEAD,
		"nic storm: refused 1514-byte broadcasts cost their wire bytes: turns end by the quantum, only the sent one on the wire",
		"done %u storm %u quantum stops +%llu wire +%llu", b.done, b.storm,
		(unsigned long long)(vi->st.tx_quantum_stops - stops0),
		(unsigned long long)(vi->st.tx_wire_bytes - wire0));
	T_ASSERT(set_storm(&ga, 0, 0, 0, 0) == 0, "SET_STORM off");
}

static void test_host(void)
{
	struct burst b;

	T_ASSERT(nic_set_host(nic, gh.vi) == 0, "host VI");
	T_ASSERT(set_storm(&gh, 1, 1, 1, 1) == 0, "SET_STORM on the host VI");
	b = burst(&gh, MAC_BCAST, MAC_H, 300);
	T_CHECK(b.done == 300 && !nic->vis[gh.vi].st.tx_storm_bcast,
		"nic storm: the host VI (the bridge's floods, each vif limited there) is not limited",
		"done %u storm %u", b.done, b.storm);
	T_ASSERT(nic_set_host(nic, PV_NIC_VI_NONE) == 0, "no host VI");
	b = burst(&gh, MAC_BCAST, MAC_H, 10);
	T_CHECK(b.done == 1 && b.storm == 9, "nic storm: no longer the host VI: its own limits apply",
		"done %u storm %u", b.done, b.storm);
}

static void test_refill(void)
{
	struct nic_vi *vi = &nic->vis[ga.vi];
	unsigned int ok = 0;

	T_ASSERT(set_storm(&ga, 100, 10, 0, 0) == 0, "SET_STORM 100/s");
	for (int i = 0; i < 50; i++)
		ok += nic_vi_storm_check(vi, MAC_BCAST, 1000) == PV_NIC_ERR_NONE;
	T_EQ(ok, 10, "nic storm: at one instant, the burst of 10");
	ok = 0;
	for (int i = 0; i < 50; i++)
		ok += nic_vi_storm_check(vi, MAC_BCAST, 1100) == PV_NIC_ERR_NONE;
	T_EQ(ok, 10, "nic storm: 100 ms later at 100/s, 10 more");
	ok = 0;
	for (int i = 0; i < 50; i++)
		ok += nic_vi_storm_check(vi, MAC_BCAST, 61100) == PV_NIC_ERR_NONE;
	T_EQ(ok, 10, "nic storm: a minute later, never more than the burst");
	T_EQ(nic_vi_storm_check(vi, MAC_A, 61100), PV_NIC_ERR_NONE, "nic storm: the check passes unicast");
}

static void test_set_bad(void)
{
	struct nic_vi *vi = &nic->vis[ga.vi];
	struct pv_nic_set_storm bad[] = {
		{ .vi_id = ga.vi, .flags = 1 },
		{ .vi_id = ga.vi, .reserved = { 0, 1 } },
		{ .vi_id = ga.vi, .bcast_pps = PV_NIC_STORM_PPS_MAX + 1 },
		{ .vi_id = ga.vi, .mcast_pps = 1, .mcast_burst = PV_NIC_STORM_BURST_MAX + 1 },
		{ .vi_id = ga.vi, .bcast_burst = 5 },
	};
	unsigned int n = 0;

	T_ASSERT(set_storm(&ga, 1, 3, 1, 3) == 0, "SET_STORM");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		n += nic_vi_set_storm(vi, &bad[i]) == -EINVAL;
	T_EQ(n, sizeof(bad) / sizeof(bad[0]),
	     "nic storm: SET_STORM refuses flags, reserved bits, rates and bursts past the maximum, a burst without a rate");
	T_CHECK(vi->storm[PV_STORM_BCAST].pps == 1 && vi->storm[PV_STORM_BCAST].burst == 3,
		"nic storm: a refused SET_STORM changes nothing", "pps %u burst %u",
		vi->storm[PV_STORM_BCAST].pps, vi->storm[PV_STORM_BCAST].burst);
}

int main(void)
{
	struct nic_config cfg = { .max_vis = 4, .nr_bufs = T_NR_BUFS, .max_filters = 16,
				  .vi_filters = 4 };

	pv_log_init("test_storm_nic", PV_LOG_ERR, 0);
	nic = nic_new(NULL, &cfg);
	T_ASSERT(nic, "nic");
	if (!nic)
		return t_done();
	nic_set_xmit(nic, cap_xmit, NULL, 1500);
	T_ASSERT(guest_setup(&ga, MAC_A) == 0 && guest_setup(&gh, MAC_H) == 0, "guests");
	test_off();
	test_limits();
	test_sched();
	test_host();
	test_refill();
	test_set_bad();
	nic_vi_free_owner(nic, &owner);
	nic_free(nic);
	return t_done();
}
