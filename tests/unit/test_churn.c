/* SPDX-License-Identifier: MIT */
/*
 * test_churn.c - 1000 domains registered and destroyed, each with a grant
 * mapped by dom0 and an event channel bound at the moment it dies: pvnetd
 * must end with the descriptors and memory it started with.
 */
#define _GNU_SOURCE
#include <unistd.h>

#include "../lib/test.h"
#include "../lib/host.h"
#include "guest/guest.h"

#define CYCLES 1000

struct churn {
	unsigned int dom;
	grant_ref_t ref;
	int port;
	int ret;
	struct pv_gnt_map m;
	unsigned int live;
};

static void host_use(struct test_host *h, void *arg)
{
	struct churn *c = arg;

	c->ret = pv_gnt_map(h->hv, c->dom, c->ref, 0, 0, &c->m);
	c->port = pv_evtchn_alloc_unbound(h->hv, 0, c->dom);
}

static void host_count(struct test_host *h, void *arg)
{
	struct churn *c = arg;

	c->live = pv_domain_count(h->hv);
	/* dom0 ports left behind for dead guests are the caller's to close. */
	for (uint32_t p = 1; p < PV_HV_MAX_PORTS; p++)
		if (pv_evtchn_get(h->hv, 0, p))
			pv_evtchn_close(h->hv, 0, p);
}

static int one_cycle(struct test_host *h, struct churn *c)
{
	struct pv_guest *g;
	int err, port;

	g = pv_guest_register(h->hv_path, "churn", 8, 32, &err);
	if (!g)
		return err;
	c->dom = pv_guest_domid(g);
	c->ref = (grant_ref_t)pv_guest_grant(g, 0, 2, 0);
	host_sync(h, host_use, c);
	if (c->ret || c->port <= 0) {
		pv_guest_close(g);
		return -1000;
	}
	port = pv_guest_evtchn_bind(g, 0, (uint32_t)c->port);
	if (port <= 0 || pv_guest_end_grant(g, c->ref) != -EBUSY) {
		pv_guest_close(g);
		return -1001;
	}
	pv_guest_close(g);	/* dies with the grant mapped and the channel bound */
	return 0;
}

int main(void)
{
	struct test_host *h = host_start();
	static struct churn c;
	int fds0, fds1, failures = 0, first_err = 0;
	long rss0, rss1;

	/* Warm up allocator and caches before measuring. */
	for (int i = 0; i < 50; i++)
		one_cycle(h, &c);
	usleep(100000);
	host_sync(h, host_count, &c);
	fds0 = count_fds();
	rss0 = rss_kib();
	for (int i = 0; i < CYCLES; i++) {
		int e = one_cycle(h, &c);

		if (e) {
			failures++;
			if (!first_err)
				first_err = e;
		}
		if (i % 100 == 99) {
			usleep(20000);
			host_sync(h, host_count, &c);
		}
	}
	usleep(200000);
	host_sync(h, host_count, &c);
	fds1 = count_fds();
	rss1 = rss_kib();
	T_EQ(failures, 0, "1000 register/use/destroy cycles all succeed");
	if (failures)
		printf("first error %d\n", first_err);
	T_EQ(c.live, 0, "every domain destroyed");
	T_EQ(fds1, fds0, "same number of open descriptors after 1000 cycles");
	if (TEST_ASAN)
		T_SKIP("memory growth over 1000 cycles", "RSS is meaningless under ASan; LeakSanitizer checks instead");
	else
		T_CHECK(rss1 - rss0 < 4096, "memory growth below 4 MiB over 1000 cycles",
			"rss %ld KiB -> %ld KiB", rss0, rss1);
	printf("rss %ld KiB -> %ld KiB, fds %d -> %d\n", rss0, rss1, fds0, fds1);
	host_stop(h);
	return t_done();
}
