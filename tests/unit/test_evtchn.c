/* SPDX-License-Identifier: MIT */
/*
 * test_evtchn.c - event channels between two guest processes and between
 * a guest and dom0: bind, notify, mask/unmask, close, refusals.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/test.h"
#include "../lib/host.h"
#include "guest/guest.h"

static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static void xwrite(int fd, uint32_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		abort();
}

static uint32_t xread(int fd)
{
	uint32_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0xffffffffu;
	return v;
}

/*
 * Guest B, in its own process: register, tell A its domid, bind to A's
 * port, notify A, wait for A's notification, report, exit.
 */
static int guest_b(const char *hv, int to_a, int from_a)
{
	struct pv_guest *g;
	int err, port;
	uint32_t aport;

	g = pv_guest_register(hv, "guest-b", 2, 16, &err);
	if (!g)
		return 10;
	xwrite(to_a, pv_guest_domid(g));
	aport = xread(from_a);
	port = pv_guest_evtchn_bind(g, 1000, aport);	/* wrong remote domain */
	if (port != -EINVAL && port != -ESRCH)
		return 11;
	port = pv_guest_evtchn_bind(g, xread(from_a), aport);
	xwrite(to_a, (uint32_t)port);
	if (port <= 0)
		return 12;
	/* Round 1: one notification.  Round 2: three while A is masked. */
	for (int round = 0; round < 2; round++) {
		if (xread(from_a) != 100u + round)
			return 13;
		for (int i = 0; i < (round ? 3 : 1); i++)
			pv_guest_evtchn_notify(g, (uint32_t)port);
		xwrite(to_a, 200u + round);
	}
	/* Wait for A's notification to us. */
	if (!readable(pv_guest_evtchn_fd(g, (uint32_t)port), 5000) ||
	    pv_guest_evtchn_consume(g, (uint32_t)port) != 1)
		return 14;
	xwrite(to_a, 300);
	/* A closes; then we close too. */
	if (xread(from_a) != 400)
		return 15;
	if (pv_guest_evtchn_close(g, (uint32_t)port) != 0)
		return 16;
	pv_guest_close(g);
	return 0;
}

struct d0op {
	unsigned int guest;
	int port;		/* dom0's port */
	int ret;
};

static void d0_alloc(struct test_host *h, void *arg)
{
	struct d0op *o = arg;

	o->port = pv_evtchn_alloc_unbound(h->hv, 0, o->guest);
}

static void d0_notify(struct test_host *h, void *arg)
{
	struct d0op *o = arg;

	o->ret = pv_evtchn_notify(h->hv, 0, (uint32_t)o->port);
}

static void d0_pending(struct test_host *h, void *arg)
{
	struct d0op *o = arg;
	struct pv_evtchn *c = pv_evtchn_get(h->hv, 0, (uint32_t)o->port);
	uint64_t v = 0;

	o->ret = c && readable(c->in_fd, 1000) && read(c->in_fd, &v, sizeof(v)) == sizeof(v) ? (int)v : -1;
}

static void d0_state(struct test_host *h, void *arg)
{
	struct d0op *o = arg;
	struct pv_evtchn *c = pv_evtchn_get(h->hv, 0, (uint32_t)o->port);

	o->ret = c ? (int)c->state : -1;
}

static void test_two_processes(struct test_host *h)
{
	int ab[2], ba[2], status = -1, err;
	struct pv_guest *a;
	uint32_t bdom;
	int port, bport, fd;
	pid_t pid;

	if (pipe(ab) < 0 || pipe(ba) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		close(ab[1]);
		close(ba[0]);
		_exit(guest_b(h->hv_path, ba[1], ab[0]));
	}
	close(ab[0]);
	close(ba[1]);
	a = pv_guest_register(h->hv_path, "guest-a", 2, 16, &err);
	T_CHECK(a != NULL, "guest A registers", "err %d", err);
	bdom = xread(ba[0]);
	port = pv_guest_evtchn_alloc_unbound(a, bdom);
	T_CHECK(port > 0, "alloc_unbound for guest B", "port %d", port);
	xwrite(ab[1], (uint32_t)port);
	xwrite(ab[1], pv_guest_domid(a));
	bport = (int)xread(ba[0]);
	T_CHECK(bport > 0, "guest B binds to A's port from its own process", "port %d", bport);
	fd = pv_guest_evtchn_fd(a, (uint32_t)port);
	T_CHECK(!readable(fd, 0), "no event before any notify", "fd readable");

	xwrite(ab[1], 100);
	T_EQ(xread(ba[0]), 200, "B notified");
	T_CHECK(readable(fd, 2000), "A's port fires on B's notify", "not readable");
	T_EQ(pv_guest_evtchn_consume(a, (uint32_t)port), 1, "A consumes the event");
	T_EQ(pv_guest_evtchn_consume(a, (uint32_t)port), 0, "and it is gone");

	pv_guest_evtchn_mask(a, (uint32_t)port);
	xwrite(ab[1], 101);
	T_EQ(xread(ba[0]), 201, "B notified three times");
	T_EQ(pv_guest_evtchn_consume(a, (uint32_t)port), 0, "a masked port delivers nothing");
	T_EQ(pv_guest_evtchn_unmask(a, (uint32_t)port), 1, "unmask reports the events held while masked");
	T_EQ(pv_guest_evtchn_consume(a, (uint32_t)port), 0, "three notifies coalesced into one event");

	T_EQ(pv_guest_evtchn_notify(a, (uint32_t)port), 0, "A notifies B");
	T_EQ(xread(ba[0]), 300, "B's port fired");
	xwrite(ab[1], 400);
	waitpid(pid, &status, 0);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "guest B process ran its side",
		"status %#x", status);
	T_EQ(pv_guest_evtchn_bind(a, bdom, (uint32_t)bport), -ESRCH, "bind to a dead domain refused");
	T_EQ(pv_guest_evtchn_close(a, (uint32_t)port), 0, "close");
	T_EQ(pv_guest_evtchn_close(a, (uint32_t)port), -EINVAL, "double close refused");
	T_EQ(pv_guest_evtchn_notify(a, 999), -EINVAL, "notify on an unknown port refused");
	pv_guest_close(a);
	close(ab[1]);
	close(ba[0]);
}

static void test_dom0(struct test_host *h)
{
	struct d0op o = { 0 };
	struct pv_guest *g;
	int err, port, p2;

	g = pv_guest_register(h->hv_path, "dom0-peer", 2, 16, &err);
	if (!g) {
		T_CHECK(0, "guest registers", "err %d", err);
		return;
	}
	o.guest = pv_guest_domid(g);
	host_sync(h, d0_alloc, &o);
	T_CHECK(o.port > 0, "dom0 allocates an unbound port for the guest", "port %d", o.port);
	port = pv_guest_evtchn_bind(g, 0, (uint32_t)o.port);
	T_CHECK(port > 0, "guest binds to dom0's port", "port %d", port);
	p2 = pv_guest_evtchn_bind(g, 0, (uint32_t)o.port);
	T_CHECK(p2 < 0, "binding an already bound port refused", "port %d", p2);
	host_sync(h, d0_notify, &o);
	T_EQ(o.ret, 0, "dom0 notifies");
	T_CHECK(readable(pv_guest_evtchn_fd(g, (uint32_t)port), 2000) &&
		pv_guest_evtchn_consume(g, (uint32_t)port) == 1, "guest receives dom0's event", "no event");
	pv_guest_evtchn_notify(g, (uint32_t)port);
	pv_guest_evtchn_notify(g, (uint32_t)port);
	host_sync(h, d0_pending, &o);
	T_EQ(o.ret, 2, "dom0 receives the guest's two notifies (counted by the eventfd)");
	pv_guest_evtchn_close(g, (uint32_t)port);
	host_sync(h, d0_state, &o);
	T_EQ(o.ret, PV_EVTCHN_UNBOUND, "guest close leaves dom0's end unbound");
	host_sync(h, d0_notify, &o);
	T_EQ(o.ret, -EINVAL, "notify on an unbound port refused");
	port = pv_guest_evtchn_bind(g, 0, (uint32_t)o.port);
	T_CHECK(port > 0, "the unbound port can be bound again", "port %d", port);
	pv_guest_close(g);
	usleep(50000);
	host_sync(h, d0_state, &o);
	T_EQ(o.ret, PV_EVTCHN_UNBOUND, "guest death leaves dom0's end unbound");
}

int main(void)
{
	struct test_host *h = host_start();

	test_two_processes(h);
	test_dom0(h);
	host_stop(h);
	return t_done();
}
