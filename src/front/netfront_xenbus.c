/* SPDX-License-Identifier: MIT */
/*
 * netfront_xenbus.c - netfront's control plane: becoming a domain, asking
 * for the vif, the xenbus state machine, and surviving pvnetd restarts.
 *
 * Theory of Operation
 * ===================
 *
 * Connecting (nf_connect) is what a Xen guest gets at boot, done over
 * pvnetd's hypervisor socket: register a domain (memory sized for the two
 * rings and 512 buffer pages), grant the buffer pages, ask the toolstack
 * for vif <devid> (PV_HV_VIF_REQUEST; its reply comes once both xenstore
 * directories exist), and watch the frontend directory.
 *
 * The xenbus state machine (nf_xenbus_step) is level-triggered: every
 * watch event, whatever its path, re-reads the backend's state and acts on
 * the pair (frontend state, backend state), as Linux's netfront does in
 * netback_changed():
 *
 *   backend InitWait,  we Initialising/Closed -> rings, channel, RX posted,
 *                                                keys in one transaction,
 *                                                we Connected
 *   backend Connected, we Connected           -> carrier up
 *   backend Closing                           -> stop the rings, we Closed
 *   backend Closed,    we Closed              -> revoke ring grants, we
 *                                                Initialising (reconnect),
 *                                                or done if shutting down
 *   backend gone (directory removed)          -> stop, wait for a new vif
 *
 * A clean shutdown is Linux's xennet_bus_close(): we write Closing, the
 * backend answers Closing, we write Closed, the backend answers Closed.
 *
 * Losing pvnetd (its hypervisor socket or xenstore connection reaches EOF,
 * or a call on them fails) destroys our side of the domain: carrier down,
 * everything closed (nf_lose).  A retry timer then reconnects, 200 ms
 * after the loss, backing off to 1 s: a new domain id, the same MAC, new
 * rings and grants.  The upper edge keeps its device and its addresses,
 * so the guest's TCP connections survive the restart.
 *
 * Calls to pvnetd are synchronous (guest.h, xsc.h); they only happen from
 * loop callbacks, never from the data path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "front/netfront_priv.h"
#include "pvnet/hv_proto.h"

#define NF_RETRY_MIN_MS   200
#define NF_RETRY_MAX_MS   1000
#define NF_TX_TRIES       16	/* xenstore transaction retries on EAGAIN */
#define NF_STEP_ROUNDS    16	/* state machine rounds per wake-up */
#define NF_KEY_MAX        256
#define NF_MTU_MIN        68
#define NF_MTU_MAX        (65535 - 14)

static const char *nf_state_name(int s)
{
	static const char *const names[] = { "Unknown", "Initialising", "InitWait", "Initialised",
					     "Connected", "Closing", "Closed", "Reconfiguring",
					     "Reconfigured" };

	return s >= 0 && s < (int)(sizeof(names) / sizeof(names[0])) ? names[s] : "?";
}

/* Errors that mean the connection to pvnetd is unusable. */
static int nf_fatal(int e)
{
	return e == -EPIPE || e == -ECONNRESET || e == -ENOTCONN || e == -EPROTO || e == -EBADF ||
	       e == -EIO || e == -EBUSY || e == -ENOSPC || e == -ENOMEM;
}

static int nf_key(char *out, const char *dir, const char *key)
{
	int n = snprintf(out, NF_KEY_MAX, "%s/%s", dir, key);

	return n < 0 || n >= NF_KEY_MAX ? -ENAMETOOLONG : 0;
}

static int nf_xs_read(struct pv_netfront *nf, const char *dir, const char *key,
		      char *buf, size_t size)
{
	char path[NF_KEY_MAX];
	int e = nf_key(path, dir, key);

	return e ? e : xsc_read(nf->xs, 0, path, buf, size);
}

/* A number key; -ENOENT if missing, -EINVAL if not a number. */
static int nf_xs_read_uint(struct pv_netfront *nf, const char *dir, const char *key,
			   unsigned long *v)
{
	char buf[32], *end;
	int e = nf_xs_read(nf, dir, key, buf, sizeof(buf));

	if (e < 0)
		return e;
	errno = 0;
	*v = strtoul(buf, &end, 10);
	return end == buf || *end || errno ? -EINVAL : 0;
}

static int nf_xs_flag(struct pv_netfront *nf, const char *key)
{
	unsigned long v;

	return nf_xs_read_uint(nf, nf->be_path, key, &v) == 0 && v == 1;
}

int nf_write_state(struct pv_netfront *nf, int state)
{
	char path[NF_KEY_MAX];
	int e = nf_key(path, nf->fe_path, "state");

	if (!e)
		e = xsc_printf(nf->xs, 0, path, "%d", state);
	if (e)
		return e;
	pv_debug("vif%u.%u: frontend %s -> %s", pv_netfront_domid(nf), nf->devid,
		 nf_state_name(nf->fe_state), nf_state_name(state));
	nf->fe_state = state;
	return 0;
}

/* The backend must live under dom0's backend directory. */
static int nf_backend_path_ok(const char *p)
{
	static const char prefix[] = "/local/domain/0/backend/vif/";

	if (strncmp(p, prefix, sizeof(prefix) - 1) || strlen(p) >= NF_PATH_MAX - 16)
		return 0;
	for (; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || *p == '/'))
			return 0;
	return 1;
}

/**
 * nf_read_frontend() - the toolstack's keys: backend, mac, mtu; then watch
 * the backend's state and tell the upper edge the MAC and MTU
 *
 * Return: 0, -ENOENT (not written yet), another -errno.
 */
static int nf_read_frontend(struct pv_netfront *nf)
{
	char be[NF_PATH_MAX], buf[32], path[NF_KEY_MAX];
	unsigned long mtu = 1500;
	uint8_t mac[6];
	int e;

	e = nf_xs_read(nf, nf->fe_path, "backend", be, sizeof(be));
	if (e < 0)
		return e;
	if (!nf_backend_path_ok(be)) {
		pv_err("vif%u.%u: refusing backend path \"%s\"", pv_netfront_domid(nf), nf->devid, be);
		return -EINVAL;
	}
	e = nf_xs_read(nf, nf->fe_path, "mac", buf, sizeof(buf));
	if (e < 0)
		return e;
	if (pv_netfront_mac_parse(buf, mac)) {
		pv_err("vif%u.%u: bad mac \"%s\"", pv_netfront_domid(nf), nf->devid, buf);
		return -EINVAL;
	}
	e = nf_xs_read_uint(nf, nf->fe_path, "mtu", &mtu);
	if ((e && e != -ENOENT) || mtu < NF_MTU_MIN || mtu > NF_MTU_MAX) {
		pv_warn("vif%u.%u: bad mtu, using 1500", pv_netfront_domid(nf), nf->devid);
		mtu = 1500;
	}
	snprintf(nf->be_path, sizeof(nf->be_path), "%s", be);
	e = nf_key(path, nf->be_path, "state");
	if (!e)
		e = xsc_watch(nf->xs, path, "be");
	if (e)
		return e;
	nf->be_watched = 1;
	nf_accel_watch(nf, 1);	/* accelerator discovery: <backend>/accel-frontend */
	memcpy(nf->mac, mac, 6);
	memcpy(nf->want_mac, mac, 6);	/* a reconnection asks for the same one */
	nf->mtu = (unsigned int)mtu;
	pv_info("vif%u.%u: backend %s, mac %s, mtu %u", pv_netfront_domid(nf), nf->devid,
		nf->be_path, buf, nf->mtu);
	if (nf->ops.config)
		nf->ops.config(nf->arg, nf->mac, nf->mtu);
	return 0;
}

/* Forget the backend (its directory went away): we wait for a new one. */
static void nf_forget_backend(struct pv_netfront *nf)
{
	char path[NF_KEY_MAX];

	nf_accel_watch(nf, 0);
	if (nf->be_watched && !nf_key(path, nf->be_path, "state"))
		xsc_unwatch(nf->xs, path, "be");
	nf->be_watched = 0;
	nf->be_path[0] = '\0';
	nf->fe_state = XenbusStateInitialising;
}

static int nf_read_features(struct pv_netfront *nf)
{
	unsigned int f = 0;

	if (!nf_xs_flag(nf, "feature-rx-copy")) {
		pv_err("vif%u.%u: backend lacks feature-rx-copy (pvnet has no page flipping)",
		       pv_netfront_domid(nf), nf->devid);
		return -EPROTONOSUPPORT;
	}
	f |= nf_xs_flag(nf, "feature-sg") ? PV_NF_BE_SG : 0;
	f |= nf_xs_flag(nf, "feature-gso-tcpv4") ? PV_NF_BE_GSO_TCPV4 : 0;
	f |= nf_xs_flag(nf, "feature-gso-tcpv6") ? PV_NF_BE_GSO_TCPV6 : 0;
	f |= nf_xs_flag(nf, "feature-ipv6-csum-offload") ? PV_NF_BE_IPV6_CSUM : 0;
	f |= nf_xs_flag(nf, "feature-rx-notify") ? PV_NF_BE_RX_NOTIFY : 0;
	nf->features = f;
	return 0;
}

/* Our keys, inside transaction @t. */
static int nf_publish_keys(struct pv_netfront *nf, uint32_t t)
{
	static const char *const flags[] = { "request-rx-copy", "feature-rx-notify", "feature-sg",
					     "feature-gso-tcpv4", "feature-gso-tcpv6",
					     "feature-ipv6-csum-offload" };
	const struct { const char *key; unsigned int val; } nums[] = {
		{ "tx-ring-ref", (unsigned int)nf->tx_ring_ref },
		{ "rx-ring-ref", (unsigned int)nf->rx_ring_ref },
		{ "event-channel", nf->port },
	};
	char path[NF_KEY_MAX];
	int e;

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		e = nf_key(path, nf->fe_path, nums[i].key);
		if (!e)
			e = xsc_printf(nf->xs, t, path, "%u", nums[i].val);
		if (e)
			return e;
	}
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		e = nf_key(path, nf->fe_path, flags[i]);
		if (!e)
			e = xsc_write(nf->xs, t, path, "1", 1);
		if (e)
			return e;
	}
	return 0;
}

static int nf_publish(struct pv_netfront *nf)
{
	for (int tries = 0; tries < NF_TX_TRIES; tries++) {
		uint32_t t;
		int e = xsc_transaction_start(nf->xs, &t);

		if (e)
			return e;
		e = nf_publish_keys(nf, t);
		if (e) {
			xsc_transaction_end(nf->xs, t, 0);
			return e;
		}
		e = xsc_transaction_end(nf->xs, t, 1);
		if (e != -EAGAIN)
			return e;
	}
	return -EAGAIN;
}

/**
 * nf_talk() - talk_to_netback: rings, channel, RX buffers, keys, Connected
 */
static int nf_talk(struct pv_netfront *nf)
{
	int e = nf_read_features(nf);

	if (e)
		return e;
	e = nf_rings_release(nf);	/* the previous connection's, if any */
	if (e)
		return e;
	e = nf_rings_setup(nf);
	if (!e)
		e = nf_publish(nf);
	if (!e)
		e = nf_write_state(nf, XenbusStateConnected);
	if (e) {
		nf_rings_release(nf);
		return e;
	}
	nf->st.connects++;
	pv_info("vif%u.%u: rings connected (tx-ring-ref %d, rx-ring-ref %d, event-channel %u)",
		pv_netfront_domid(nf), nf->devid, nf->tx_ring_ref, nf->rx_ring_ref, nf->port);
	return 0;
}

/* The backend is closing or gone: stop the data path, say Closed. */
static int nf_backend_closing(struct pv_netfront *nf)
{
	char reason[128];

	nf_set_carrier(nf, 0);
	nf_rings_stop(nf);
	if (nf->fe_state == XenbusStateClosed)
		return 0;
	if (nf_xs_read(nf, nf->be_path, "disabled-reason", reason, sizeof(reason)) > 0)
		pv_warn("vif%u.%u: backend disabled the vif: %s", pv_netfront_domid(nf), nf->devid,
			reason);
	return nf_write_state(nf, XenbusStateClosed);
}

static int nf_backend_closed(struct pv_netfront *nf)
{
	int e = nf_backend_closing(nf);

	if (e)
		return e;
	if (nf->shutting_down) {
		nf->closed = 1;
		return 0;
	}
	if (nf_mig_busy(nf)) {		/* suspended for a migration: on to the destination */
		nf_mig_backend_closed(nf);
		return 0;
	}
	/* Reconnect as Linux's frontend does: Initialising after Closed. */
	e = nf_rings_release(nf);
	return e ? e : nf_write_state(nf, XenbusStateInitialising);
}

/**
 * nf_xenbus_step() - act on the current (frontend, backend) states
 *
 * Return: 0, or -errno (nf_fatal() ones drop the connection).
 */
static int nf_xenbus_step(struct pv_netfront *nf)
{
	unsigned long be;
	int e;

	if (!nf->be_path[0]) {
		e = nf_read_frontend(nf);
		if (e)
			return e == -ENOENT ? 0 : e;
	}
	e = nf_xs_read_uint(nf, nf->be_path, "state", &be);
	if (e == -ENOENT)
		be = XenbusStateUnknown;
	else if (e)
		return e;
	if ((int)be != nf->be_state)
		pv_info("vif%u.%u: backend %s (frontend %s)", pv_netfront_domid(nf), nf->devid,
			nf_state_name((int)be), nf_state_name(nf->fe_state));
	nf->be_state = (int)be;
	switch (be) {
	case XenbusStateInitWait:
		if (!nf->shutting_down && !nf_mig_busy(nf) && (nf->fe_state == XenbusStateInitialising ||
					   nf->fe_state == XenbusStateClosed))
			return nf_talk(nf);
		return 0;
	case XenbusStateConnected:
		if (nf->fe_state == XenbusStateConnected && nf->rings_up && !nf->carrier &&
		    !nf_mig_busy(nf)) {	/* suspended: the carrier stays down */
			nf_set_carrier(nf, 1);
			return nf_kick(nf);
		}
		return 0;
	case XenbusStateClosing:
	case XenbusStateClosed:
		/* Already asked to reconnect: the backend has yet to see it. */
		if (!nf->shutting_down && nf->fe_state == XenbusStateInitialising && !nf->rings_up)
			return 0;
		if (be == XenbusStateClosing)
			return nf_backend_closing(nf);	/* closing or not, we say Closed */
		return nf_backend_closed(nf);
	case XenbusStateUnknown:	/* the vif was destroyed */
		nf_set_carrier(nf, 0);
		nf_rings_stop(nf);
		nf_forget_backend(nf);
		if (nf->shutting_down)
			nf->closed = 1;
		if (nf_mig_busy(nf))
			nf_mig_backend_closed(nf);
		return 0;
	default:
		return 0;
	}
}

/* Queued watch events: how many, or -errno if the connection broke. */
static int nf_xs_drain(struct pv_netfront *nf)
{
	char path[NF_KEY_MAX], token[16];
	int n = 0, e;

	for (;;) {
		uint64_t seq = xsc_watch_next(nf->xs);

		e = xsc_read_watch(nf->xs, path, sizeof(path), token, sizeof(token), 0);
		if (e != 1)
			break;
		/*
		 * accel-frontend written or removed: nf_accel_sync.  Not an
		 * event for a write the read behind the attach already saw:
		 * that would look like a renewed backend half.
		 */
		if (!strcmp(token, "accel") && seq >= nf->accel_seen)
			nf->accel_event = 1;
		n++;
	}
	return e < 0 ? e : n;
}

void nf_run(struct pv_netfront *nf)
{
	for (int round = 0; round < NF_STEP_ROUNDS && nf->g; round++) {
		int e = nf_xenbus_step(nf);

		if (e && nf_fatal(e)) {
			nf_lose(nf, strerror(-e));
			return;
		}
		if (e)
			pv_warn("vif%u.%u: xenbus: %s", pv_netfront_domid(nf), nf->devid, strerror(-e));
		nf_accel_sync(nf);	/* attach/detach the accelerator as the store says */
		e = nf_mig_check(nf);	/* the toolstack's control/shutdown */
		if (e && nf_fatal(e)) {
			nf_lose(nf, strerror(-e));
			return;
		}
		e = nf_xs_drain(nf);
		if (e < 0) {
			nf_lose(nf, "xenstore connection lost");
			return;
		}
		if (e == 0)
			return;
	}
}

static void nf_xs_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_netfront *nf = arg;
	int e = nf_xs_drain(nf);

	if (e < 0 || (e == 0 && (events & (EPOLLHUP | EPOLLERR)))) {
		nf_lose(nf, "xenstore connection lost");
		return;
	}
	nf_run(nf);
}

static void nf_xs_soon_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_netfront *nf = arg;

	pv_loop_timer_del(loop, nf->xs_soon_w);
	nf->xs_soon_w = NULL;
	nf_run(nf);
}

/**
 * nf_xs_check() - run xenbus soon if watch events wait in the client's queue
 *
 * A request made outside nf_run (an accelerator writing its accelstate from
 * its own callback, a deferred detach) may read watch events off the socket
 * on the way to its reply; they are queued and the socket is no longer
 * readable, so the loop would not call nf_xs_cb for them.  Cheap: call it
 * after any such request.
 */
void nf_xs_check(struct pv_netfront *nf)
{
	if (nf->xs && xsc_pending(nf->xs) && !nf->xs_soon_w)
		nf->xs_soon_w = pv_loop_timer(nf->loop, 0, 0, nf_xs_soon_cb, nf);
}

/* pvnetd never speaks first on hv.sock: anything readable is EOF or junk. */
static void nf_hv_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_netfront *nf = arg;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
		nf_lose(nf, "pvnetd closed the hypervisor socket");
}

static int nf_vif_request(struct pv_netfront *nf)
{
	struct pv_hv_vif_request rq = { .devid = nf->devid, .mtu = nf->want_mtu };
	struct pv_hv_vif_reply rep;
	int e;

	memcpy(rq.mac, nf->want_mac, 6);
	e = pv_guest_hv_call(pv_guest_hv_fd(nf->g), PV_HV_VIF_REQUEST, &rq, sizeof(rq), NULL, 0,
			     &rep, sizeof(rep), NULL, NULL);
	if (e == 0 || e == -EEXIST)
		return 0;
	if (e == -EPIPE || e == -ECONNRESET || e == -ENOTCONN)
		return e;
	pv_warn("domain %u: pvnetd refused the vif request (%s); waiting for the toolstack "
		"to create vif %u", pv_guest_domid(nf->g), strerror(-e), nf->devid);
	return 0;
}

/* Close whatever part of the domain exists, quietly. */
void nf_disconnect(struct pv_netfront *nf)
{
	nf_set_carrier(nf, 0);
	/*
	 * Accelerator: detach while the store is still there; carrier is down
	 * first, so a frame the plugin hands back waits for the next
	 * connection instead of going onto rings about to be forgotten.
	 */
	nf_accel_detach(nf, "disconnected");
	nf_accel_watch(nf, 0);
	nf_rings_forget(nf);
	if (nf->hv_w)
		pv_loop_del(nf->loop, nf->hv_w);
	if (nf->xs_w)
		pv_loop_del(nf->loop, nf->xs_w);
	if (nf->fail_w)
		pv_loop_timer_del(nf->loop, nf->fail_w);
	if (nf->xs_soon_w)
		pv_loop_timer_del(nf->loop, nf->xs_soon_w);
	nf->hv_w = nf->xs_w = nf->fail_w = nf->xs_soon_w = NULL;
	xsc_close(nf->xs);
	pv_guest_close(nf->g);
	nf->xs = NULL;
	nf->accel_event = 0;	/* both counted on the connection just closed */
	nf->accel_seen = 0;
	nf->g = NULL;
	nf->be_path[0] = '\0';
	nf->be_watched = 0;
	nf->fe_state = nf->be_state = XenbusStateUnknown;
}

/**
 * nf_connect() - become a domain, ask for the vif, watch its directory
 */
static int nf_connect(struct pv_netfront *nf)
{
	int e, fd;

	nf->g = pv_guest_register(nf->hv_path, nf->name, PV_NF_NR_DOM_PAGES, PV_NF_NR_GRANTS, &e);
	if (!nf->g)
		return e;
	fd = fcntl(pv_guest_xs_fd(nf->g), F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	nf->xs = xsc_open_fd(fd);
	if (!nf->xs)
		return -ENOMEM;
	nf->hv_w = pv_loop_add(nf->loop, pv_guest_hv_fd(nf->g), EPOLLIN | EPOLLRDHUP, nf_hv_cb, nf);
	nf->xs_w = pv_loop_add(nf->loop, xsc_fd(nf->xs), EPOLLIN, nf_xs_cb, nf);
	if (!nf->hv_w || !nf->xs_w)
		return -ENOMEM;
	e = nf_buffers_grant(nf);
	if (!e)
		e = nf_vif_request(nf);
	if (e)
		return e;
	snprintf(nf->fe_path, sizeof(nf->fe_path), "/local/domain/%u/device/vif/%u",
		 pv_guest_domid(nf->g), nf->devid);
	nf->fe_state = XenbusStateInitialising;	/* what the toolstack wrote */
	nf->be_state = XenbusStateUnknown;
	nf->ever_registered = 1;
	pv_info("registered with pvnetd at %s as domain %u (%s)", nf->hv_path, pv_guest_domid(nf->g),
		nf->name);
	e = xsc_watch(nf->xs, nf->fe_path, "fe");
	return e ? e : nf_mig_watch(nf);
}

static void nf_retry_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg);

void nf_schedule_retry(struct pv_netfront *nf, unsigned int ms)
{
	if (!nf->retry_w)
		nf->retry_w = pv_loop_timer(nf->loop, ms, 0, nf_retry_cb, nf);
	if (!nf->retry_w)
		pv_err("cannot arm the reconnection timer");
}

static void nf_retry_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_netfront *nf = arg;
	int e;

	pv_loop_timer_del(loop, nf->retry_w);
	nf->retry_w = NULL;
	if (nf->shutting_down || nf->g)
		return;
	e = nf_connect(nf);
	if (e) {
		nf_disconnect(nf);
		if (nf->retry_ms == NF_RETRY_MIN_MS)
			pv_warn("cannot reach pvnetd at %s (%s); retrying", nf->hv_path, strerror(-e));
		nf->retry_ms = nf->retry_ms * 2 > NF_RETRY_MAX_MS ? NF_RETRY_MAX_MS : nf->retry_ms * 2;
		nf_schedule_retry(nf, nf->retry_ms);
		return;
	}
	nf->retry_ms = NF_RETRY_MIN_MS;
	nf_run(nf);
}

/**
 * nf_lose() - pvnetd is gone (or unusable): drop the domain, reconnect later
 */
void nf_lose(struct pv_netfront *nf, const char *why)
{
	if (!nf->g)
		return;
	pv_warn("domain %u: lost pvnetd: %s", pv_guest_domid(nf->g), why);
	nf_disconnect(nf);
	if (nf->shutting_down) {
		nf->closed = 1;
		return;
	}
	nf_mig_lost(nf);	/* suspended for a migration: the retry goes to the destination */
	nf->st.reconnects++;
	nf->retry_ms = NF_RETRY_MIN_MS;
	nf_schedule_retry(nf, NF_RETRY_MIN_MS);
}

static void nf_fail_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_netfront *nf = arg;

	pv_loop_timer_del(loop, nf->fail_w);
	nf->fail_w = NULL;
	nf_lose(nf, "backend protocol error");
}

void nf_fail(struct pv_netfront *nf, const char *why)
{
	if (!nf->g || nf->fail_w)
		return;
	pv_err("domain %u: %s; dropping the connection", pv_guest_domid(nf->g), why);
	nf_rings_stop(nf);
	nf_set_carrier(nf, 0);
	nf->fail_w = pv_loop_timer(nf->loop, 0, 0, nf_fail_cb, nf);
}

void nf_set_carrier(struct pv_netfront *nf, int up)
{
	if (nf->carrier == up)
		return;
	nf->carrier = up;
	pv_info("vif%u.%u: carrier %s", pv_netfront_domid(nf), nf->devid, up ? "up" : "down");
	/*
	 * Suspended for a migration: the upper edge keeps its link.  Linux's
	 * linkwatch handles carrier changes at most once a second (non-urgent
	 * events), and a TAP whose carrier went down and up within that
	 * second kept the guest's TX queue stopped for up to a second after
	 * the move.  TX stops in netfront instead (nf_tx_room_slow).
	 */
	if (!up && nf_mig_busy(nf))
		return;
	nf->ops.carrier(nf->arg, up);
	if (up)
		nf_mig_connected(nf);
}

/* ---- the public face ---- */

static int nf_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= PV_HV_NAME_LEN)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

struct pv_netfront *pv_netfront_new(struct pv_loop *loop, const struct pv_netfront_config *cfg,
				    const struct pv_netfront_upper_ops *ops, void *arg, int *err)
{
	const char *name = cfg->name ? cfg->name : "pvnet-front";
	struct pv_netfront *nf;
	int n;

	*err = -EINVAL;
	if (!cfg->run_dir || !ops->deliver || !ops->carrier || !nf_name_ok(name) ||
	    cfg->devid > 255 || (cfg->mtu && (cfg->mtu < NF_MTU_MIN || cfg->mtu > NF_MTU_MAX)))
		return NULL;
	nf = calloc(1, sizeof(*nf));
	if (!nf || !(nf->rx_lin = malloc(PV_NF_MAX_FRAME + 1)) || nf_accel_new(nf)) {
		if (nf)
			free(nf->rx_lin);
		free(nf);
		*err = -ENOMEM;
		return NULL;
	}
	n = snprintf(nf->hv_path, sizeof(nf->hv_path), "%s/%s", cfg->run_dir, PV_HV_SOCK_NAME);
	if (n < 0 || (size_t)n >= sizeof(nf->hv_path)) {
		pv_netfront_free(nf);
		*err = -ENAMETOOLONG;
		return NULL;
	}
	nf->loop = loop;
	nf->ops = *ops;
	nf->arg = arg;
	snprintf(nf->name, sizeof(nf->name), "%s", name);
	nf->devid = cfg->devid;
	memcpy(nf->want_mac, cfg->mac, 6);
	nf->want_mtu = cfg->mtu;
	nf->tx_ring_ref = nf->rx_ring_ref = -1;
	nf->retry_ms = NF_RETRY_MIN_MS;
	nf->after_kick = nf_xs_check;	/* the data path calls it without knowing xenbus */
	/* Connect from the loop, so no callback runs before the caller has @nf. */
	nf_schedule_retry(nf, 0);
	if (!nf->retry_w) {
		pv_netfront_free(nf);
		*err = -ENOMEM;
		return NULL;
	}
	*err = 0;
	return nf;
}

void pv_netfront_free(struct pv_netfront *nf)
{
	if (!nf)
		return;
	if (nf->g)
		nf_disconnect(nf);
	if (nf->retry_w)
		pv_loop_timer_del(nf->loop, nf->retry_w);
	nf_mig_free(nf);
	nf_accel_free(nf);
	free(nf->rx_lin);
	free(nf);
}

void pv_netfront_shutdown(struct pv_netfront *nf)
{
	int e;

	if (nf->shutting_down)
		return;
	nf->shutting_down = 1;
	nf_mig_free(nf);	/* a migration in progress stops where it is */
	if (nf->retry_w) {
		pv_loop_timer_del(nf->loop, nf->retry_w);
		nf->retry_w = NULL;
	}
	if (!nf->g) {
		nf->closed = 1;
		return;
	}
	nf_set_carrier(nf, 0);
	nf_rings_stop(nf);
	if (!nf->be_path[0] || nf->be_state == XenbusStateClosed ||
	    nf->be_state == XenbusStateUnknown) {
		if (nf->be_path[0])
			nf_write_state(nf, XenbusStateClosed);
		nf->closed = 1;
		return;
	}
	e = nf_write_state(nf, XenbusStateClosing);
	if (e)
		nf_lose(nf, strerror(-e));
	else
		nf_run(nf);
}

int pv_netfront_closed(const struct pv_netfront *nf) { return nf->closed; }
int pv_netfront_connected(const struct pv_netfront *nf) { return nf->rings_up && nf->carrier; }
unsigned int pv_netfront_features(const struct pv_netfront *nf) { return nf->features; }

unsigned int pv_netfront_domid(const struct pv_netfront *nf)
{
	return nf->g ? pv_guest_domid(nf->g) : 0;
}

void pv_netfront_get_stats(struct pv_netfront *nf, struct pv_netfront_stats *st)
{
	nf_accel_stats(nf);	/* the accelerator's deltas since the last call */
	*st = nf->st;
}
