/* SPDX-License-Identifier: MIT */
/*
 * test_storm.c - the switch's storm control (port.h, switch.c): a port's
 * broadcast, multicast and unknown-unicast floods are held to its token
 * buckets, counted, and do not touch unicast to learned MACs or other
 * ports' floods; the bucket refills at its rate up to its burst.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "back/port.h"
#include "lib/log.h"
#include "../lib/test.h"

static unsigned int got[3];

static int t_xmit(struct pv_port *port, const struct pv_frame *f)
{
	got[(uintptr_t)port->priv]++;
	return 0;
}

static void t_flush(struct pv_port *port) { }

static const struct pv_port_ops t_ops = { .kind = "test", .xmit = t_xmit, .flush = t_flush };

static void frame(struct pv_frame *f, const uint8_t *dst, const uint8_t *src)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->hdr, dst, 6);
	memcpy(f->hdr + 6, src, 6);
	f->hdr[12] = 0x88, f->hdr[13] = 0xb5;
	f->len = f->hdr_len = 60;
}

static void test_bucket(void)
{
	struct pv_storm_bucket b;
	unsigned int n = 0;

	pv_storm_set(&b, 100, 10);
	for (int i = 0; i < 50; i++)
		n += pv_storm_take(&b, 1000);
	T_EQ(n, 10, "bucket: a burst of 10 at one instant, then nothing");
	n = 0;
	for (int i = 0; i < 50; i++)
		n += pv_storm_take(&b, 1100);	/* 100 ms at 100/s: 10 more */
	T_EQ(n, 10, "bucket: 100 ms later, 10 more (100 frames/s)");
	n = 0;
	for (int i = 0; i < 50; i++)
		n += pv_storm_take(&b, 11100);	/* 10 s: capped at the burst */
	T_EQ(n, 10, "bucket: after 10 s idle, no more than the burst");
	pv_storm_set(&b, 0, 0);
	n = 0;
	for (int i = 0; i < 1000; i++)
		n += pv_storm_take(&b, 11100);
	T_EQ(n, 1000, "bucket: pps 0 is no limit");
	pv_storm_set(&b, 50, 0);
	T_EQ(b.burst, 50u * PV_STORM_BURST_FACTOR, "bucket: burst 0 means the default factor");
}

static void test_switch(void)
{
	static const uint8_t ma[6] = { 2, 0, 0, 0, 0, 0xa }, mb[6] = { 2, 0, 0, 0, 0, 0xb };
	static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t mc[6] = { 0x33, 0x33, 0, 0, 0, 1 }, nobody[6] = { 2, 0, 0, 0, 0, 0x99 };
	struct pv_switch *sw = pv_switch_new(NULL);
	struct pv_port p[3];
	struct pv_frame f;

	T_ASSERT(sw, "switch");
	memset(p, 0, sizeof(p));
	for (uintptr_t i = 0; i < 3; i++) {
		p[i].ops = &t_ops;
		p[i].priv = (void *)i;
		snprintf(p[i].name, sizeof(p[i].name), "p%u", (unsigned int)i);
		T_ASSERT(pv_switch_port_add(sw, &p[i]) == 0, "port added");
	}
	pv_storm_set(&p[0].storm[PV_STORM_BCAST], 10, 20);
	pv_storm_set(&p[0].storm[PV_STORM_MCAST], 10, 5);
	pv_storm_set(&p[0].storm[PV_STORM_UNKNOWN], 10, 7);
	/* port 1 learns mb */
	frame(&f, bc, mb);
	pv_switch_input(sw, &p[1], &f);
	memset(got, 0, sizeof(got));
	frame(&f, bc, ma);
	for (int i = 0; i < 1000; i++)
		pv_switch_input(sw, &p[0], &f);
	T_CHECK(got[1] == 20 && got[2] == 20 && p[0].st.storm_drops[PV_STORM_BCAST] == 980,
		"switch: 1000 broadcasts from p0 at once: its burst of 20 flooded, 980 dropped and counted",
		"p1 %u p2 %u drops %llu", got[1], got[2],
		(unsigned long long)p[0].st.storm_drops[PV_STORM_BCAST]);
	memset(got, 0, sizeof(got));
	frame(&f, mc, ma);
	for (int i = 0; i < 100; i++)
		pv_switch_input(sw, &p[0], &f);
	frame(&f, nobody, ma);
	for (int i = 0; i < 100; i++)
		pv_switch_input(sw, &p[0], &f);
	T_CHECK(got[1] == 12 && p[0].st.storm_drops[PV_STORM_MCAST] == 95 &&
		p[0].st.storm_drops[PV_STORM_UNKNOWN] == 93,
		"switch: multicast and unknown unicast held to their own buckets (5 and 7)",
		"p1 %u mcast drops %llu unknown drops %llu", got[1],
		(unsigned long long)p[0].st.storm_drops[PV_STORM_MCAST],
		(unsigned long long)p[0].st.storm_drops[PV_STORM_UNKNOWN]);
	memset(got, 0, sizeof(got));
	frame(&f, mb, ma);
	for (int i = 0; i < 1000; i++)
		pv_switch_input(sw, &p[0], &f);
	T_CHECK(got[1] == 1000 && got[2] == 0, "switch: unicast to a learned MAC is never limited",
		"p1 %u p2 %u", got[1], got[2]);
	memset(got, 0, sizeof(got));
	frame(&f, bc, mb);
	for (int i = 0; i < 1000; i++)
		pv_switch_input(sw, &p[1], &f);
	T_CHECK(got[0] == 1000 && got[2] == 1000 && p[1].st.storm_drops[PV_STORM_BCAST] == 0,
		"switch: p0's storm spends only p0's bucket: p1's broadcasts all flood",
		"p0 %u p2 %u", got[0], got[2]);
	for (int i = 0; i < 3; i++)
		pv_switch_port_del(sw, &p[i]);
	pv_switch_free(sw);
}

int main(void)
{
	pv_log_init("test_storm", PV_LOG_ERR, 0);
	test_bucket();
	test_switch();
	return t_done();
}
