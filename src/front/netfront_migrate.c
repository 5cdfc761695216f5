/* SPDX-License-Identifier: MIT */
/*
 * netfront_migrate.c - the guest's side of a live migration: Xen's suspend
 * request, then the move to the destination host.
 *
 * Theory of Operation
 * ===================
 *
 * The toolstack (pvnetctl migrate, src/back/migrate.c) writes pvnet's
 * control/migrate-to (the destination's run directory) and then Xen's
 * control/shutdown = "suspend" in the guest's home.  We watch
 * control/shutdown, as Linux's xenbus shutdown handler does, and:
 *
 *   1. acknowledge: write "" to control/shutdown (what libxl waits for);
 *   2. remove the accelerator (the original's suspend: last stats, hooks
 *      off, remove(); the source's backend removed its half already), so
 *      nothing is left on the fast path;
 *   3. quiesce (NF_MIG_QUIESCE): stop taking frames from the upper edge
 *      (they wait in the TAP's queue; its carrier stays up, see
 *      nf_set_carrier); keep collecting TX responses for at most
 *      NF_MIG_QUIESCE_MS; requests still unanswered then are abandoned
 *      and counted (mig_tx_abandoned), as Linux's netfront frees its
 *      pending skbs on suspend;
 *   4. close the vif (NF_MIG_CLOSING): frontend Closing, the backend
 *      Closing, we Closed, the backend Closed -- bounded by NF_MIG_CLOSE_MS;
 *   5. leave the source (hv.sock closed: the source destroys the domain
 *      and everything it held) and register at the destination
 *      (NF_MIG_MOVING): the same MAC asked for, new rings granted, the
 *      xenbus handshake again -- Linux netfront's resume;
 *   6. connected there (carrier up): done.  The upper edge announces the
 *      guest on every carrier up (gratuitous ARP, unsolicited NA).
 *
 * Failure cases:
 *   - no control/migrate-to: a suspend in place; we come back to the same
 *     pvnetd (a new domain, the same MAC).
 *   - the source's pvnetd dies during 3-4: we go on to the destination.
 *   - the destination cannot be reached, refuses us, or does not bring us
 *     to Connected within NF_MIG_ARRIVE_MS: we go back to the source,
 *     whose return record restores the vif's configuration; from then on
 *     the ordinary reconnection loop keeps trying the source.
 *   - the guest is shut down mid-way: the migration stops there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "front/netfront_priv.h"
#include "pvnet/hv_proto.h"

#define NF_MIG_TICK_MS      5
#define NF_MIG_QUIESCE_MS   300
#define NF_MIG_CLOSE_MS     1000
#define NF_MIG_ARRIVE_MS    10000

static uint64_t nf_mig_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int nf_mig_home_key(const struct pv_netfront *nf, char *out, size_t size, const char *key)
{
	int n = snprintf(out, size, "/local/domain/%u/control/%s", pv_netfront_domid(nf), key);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int nf_mig_watch(struct pv_netfront *nf)
{
	char path[96];
	int e = nf_mig_home_key(nf, path, sizeof(path), "shutdown");

	return e ? e : xsc_watch(nf->xs, path, "ctl");
}

int pv_netfront_migrating(const struct pv_netfront *nf)
{
	return nf->mig.phase != NF_MIG_NONE;
}

int nf_mig_busy(const struct pv_netfront *nf)
{
	return nf->mig.phase == NF_MIG_QUIESCE || nf->mig.phase == NF_MIG_CLOSING;
}

static void nf_mig_tick_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg);

/* The phase's tick: first after @first_ms, then every @period_ms; (0, 0) stops it. */
static void nf_mig_timer(struct pv_netfront *nf, unsigned int first_ms, unsigned int period_ms)
{
	if (nf->mig.timer)
		pv_loop_timer_del(nf->loop, nf->mig.timer);
	nf->mig.timer = period_ms ? pv_loop_timer(nf->loop, first_ms, period_ms, nf_mig_tick_cb, nf)
				  : NULL;
	if (period_ms && !nf->mig.timer)
		pv_err("migration: cannot arm its timer (the move goes on at the next event)");
}

void nf_mig_free(struct pv_netfront *nf)
{
	nf_mig_timer(nf, 0, 0);
	nf->mig.phase = NF_MIG_NONE;
}

/* The destination's hv.sock from control/migrate-to; the current one if none. */
static int nf_mig_destination(struct pv_netfront *nf)
{
	char path[96], dir[PATH_MAX - 16];
	int n, e = nf_mig_home_key(nf, path, sizeof(path), "migrate-to");

	if (e)
		return e;
	n = xsc_read(nf->xs, 0, path, dir, sizeof(dir));
	if (n == -ENOENT || n == 0) {
		snprintf(nf->mig.dst, sizeof(nf->mig.dst), "%s", nf->hv_path);
		return 0;
	}
	if (n < 0)
		return n;
	if (dir[0] != '/' || (size_t)n >= sizeof(dir) - 1) {
		pv_warn("migration: ignoring control/migrate-to \"%.64s\" (not an absolute path)", dir);
		snprintf(nf->mig.dst, sizeof(nf->mig.dst), "%s", nf->hv_path);
		return 0;
	}
	snprintf(nf->mig.dst, sizeof(nf->mig.dst), "%s/%s", dir, PV_HV_SOCK_NAME);
	return 0;
}

/* Steps 1-3: acknowledge, remove the accelerator, stop TX. */
static int nf_mig_suspend(struct pv_netfront *nf)
{
	char path[96];
	int e = nf_mig_destination(nf);

	if (!e)
		e = nf_mig_home_key(nf, path, sizeof(path), "shutdown");
	if (!e)
		e = xsc_write(nf->xs, 0, path, "", 0);	/* Xen's acknowledgement */
	if (e) {
		pv_warn("migration: cannot acknowledge the suspend request: %s", strerror(-e));
		return e;
	}
	nf->st.mig_suspends++;
	nf->mig.t_req = nf_mig_now();
	snprintf(nf->mig.src, sizeof(nf->mig.src), "%s", nf->hv_path);
	pv_info("domain %u: suspend requested: acknowledged; moving to %s", pv_netfront_domid(nf),
		nf->mig.dst);
	nf_accel_detach(nf, "suspend for migration");	/* before TX stops: held frames go slow */
	nf->mig.phase = NF_MIG_QUIESCE;		/* first: the upper edge keeps its carrier */
	nf_set_carrier(nf, 0);
	nf->mig.deadline = nf->mig.t_req + NF_MIG_QUIESCE_MS;
	nf_mig_timer(nf, 1, NF_MIG_TICK_MS);	/* the first look at once: TX is often idle */
	return 0;
}

int nf_mig_check(struct pv_netfront *nf)
{
	char path[96], val[32];
	int n, e;

	if (nf->mig.phase != NF_MIG_NONE || nf->shutting_down || !nf->xs)
		return 0;
	if ((e = nf_mig_home_key(nf, path, sizeof(path), "shutdown")))
		return e;
	n = xsc_read(nf->xs, 0, path, val, sizeof(val));
	if (n == -ENOENT || n == 0)
		return 0;
	if (n < 0)
		return n;
	if (strcmp(val, "suspend")) {
		pv_debug("control/shutdown = \"%.16s\": not handled here", val);
		return 0;
	}
	return nf_mig_suspend(nf);
}

static unsigned int nf_mig_tx_outstanding(const struct pv_netfront *nf)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < PV_NF_NR_TX; i++)
		n += nf->tx_busy[i];
	return n;
}

/* Step 4: frontend Closing; the state machine answers the backend from there. */
static void nf_mig_close(struct pv_netfront *nf)
{
	unsigned int left = nf->rings_up ? nf_mig_tx_outstanding(nf) : 0;

	if (left) {
		nf->st.mig_tx_abandoned += left;
		pv_warn("migration: %u TX requests unanswered after %u ms: abandoned", left,
			NF_MIG_QUIESCE_MS);
	}
	nf_rings_stop(nf);
	nf->mig.phase = NF_MIG_CLOSING;
	nf->mig.deadline = nf_mig_now() + NF_MIG_CLOSE_MS;
	if (!nf->g || !nf->be_path[0] || nf->be_state == XenbusStateClosed ||
	    nf->be_state == XenbusStateUnknown || nf_write_state(nf, XenbusStateClosing)) {
		nf->mig.deadline = 0;	/* nothing to close: move at the next tick */
		return;
	}
	nf_run(nf);
}

/* Step 5: leave the source, register at the destination. */
static void nf_mig_hop(struct pv_netfront *nf)
{
	uint64_t now = nf_mig_now();

	pv_info("domain %u: vif closed on the source %llu ms after the request; registering at %s",
		pv_netfront_domid(nf), (unsigned long long)(now - nf->mig.t_req), nf->mig.dst);
	if (nf->g)
		nf_disconnect(nf);	/* the source destroys the domain and all it held */
	snprintf(nf->hv_path, sizeof(nf->hv_path), "%s", nf->mig.dst);
	nf->mig.phase = NF_MIG_MOVING;
	nf->mig.deadline = now + NF_MIG_ARRIVE_MS;
	nf_mig_timer(nf, 50, 50);
	nf->retry_ms = 200;
	nf_schedule_retry(nf, 0);
}

/* The destination did not take us: back to the source, for good. */
static void nf_mig_return(struct pv_netfront *nf)
{
	pv_warn("migration: not connected at %s within %u ms: going back to %s", nf->mig.dst,
		NF_MIG_ARRIVE_MS, nf->mig.src);
	nf->st.mig_returns++;
	nf_mig_free(nf);
	if (nf->g)
		nf_disconnect(nf);
	nf->ops.carrier(nf->arg, 0);	/* the link kept through the suspend: down now */
	snprintf(nf->hv_path, sizeof(nf->hv_path), "%s", nf->mig.src);
	nf_schedule_retry(nf, 0);
}

static void nf_mig_tick_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_netfront *nf = arg;
	uint64_t now = nf_mig_now();

	switch (nf->mig.phase) {
	case NF_MIG_QUIESCE:
		if (nf->rings_up && nf_kick(nf) < 0)
			nf->mig.deadline = 0;	/* a broken ring has nothing more to give */
		if (!nf->rings_up || !nf_mig_tx_outstanding(nf) || now >= nf->mig.deadline)
			nf_mig_close(nf);
		break;
	case NF_MIG_CLOSING:
		if (now >= nf->mig.deadline) {
			if (nf->mig.deadline)
				pv_warn("migration: the source's backend did not close within %u ms",
					NF_MIG_CLOSE_MS);
			nf_mig_hop(nf);
		}
		break;
	case NF_MIG_MOVING:
		if (now >= nf->mig.deadline)
			nf_mig_return(nf);
		break;
	default:
		nf_mig_timer(nf, 0, 0);
	}
}

void nf_mig_backend_closed(struct pv_netfront *nf)
{
	/* Not from here (nf_run is on the stack, the connection in use): at a tick,
	 * the next one brought forward (it was up to NF_MIG_TICK_MS of the downtime). */
	if (nf->mig.phase == NF_MIG_CLOSING) {
		nf->mig.deadline = 0;
		nf_mig_timer(nf, 1, NF_MIG_TICK_MS);
	}
}

void nf_mig_lost(struct pv_netfront *nf)
{
	if (!nf_mig_busy(nf))
		return;
	pv_warn("migration: the source went away while we suspended: on to %s", nf->mig.dst);
	nf->mig.deadline = 0;
	nf->mig.phase = NF_MIG_CLOSING;	/* the tick hops */
}

void nf_mig_connected(struct pv_netfront *nf)
{
	if (nf->mig.phase != NF_MIG_MOVING)
		return;
	nf->st.migrations++;
	pv_info("domain %u: migrated: connected at %s %llu ms after the suspend request",
		pv_netfront_domid(nf), nf->hv_path, (unsigned long long)(nf_mig_now() - nf->mig.t_req));
	nf_mig_free(nf);
}
