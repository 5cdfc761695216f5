/* SPDX-License-Identifier: MIT */
/*
 * test_accel.c - the accelerator plugin interface (include/pvnet/accel.h)
 * with the "dummy" plugin pair: a real netfront in the test's thread, a
 * real netback in a host thread, discovery through the real store.
 *
 *   main thread                                 host thread (tests/lib/host.h)
 *   pv_netfront "acc" ---hv.sock, xenstore--->  hv, xs, switch, netback
 *     + dummy frontend plugin                     + dummy backend plugin (NIC "dummy0")
 *       SENT -> wire (side channel, counted)      sink port: every slow-path frame
 *     slow path: netif rings ================>    vif ---> switch ---> sink
 *
 * Every test frame is Ethernet type 0x88b5 with a sequence number, so each
 * frame offered can be found exactly once: on the wire (fast path) or in
 * the sink (slow path).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <time.h>

#include "../lib/test.h"
#include "../lib/host.h"
#include "accel/dummy.h"
#include "accel/plugins.h"
#include "back/accel_back.h"
#include "back/ctl.h"
#include "back/netback.h"
#include "back/port.h"
#include "back/toolstack.h"
#include "front/netfront.h"
#include "front/netfront_priv.h"	/* test_renewal: the client behind netfront */
#include "guest/guest.h"
#include "lib/loop.h"
#include "lib/unix.h"
#include "pvnet/accel.h"

#define MAXSEQ     16384
#define ETH_TEST   0x88b5
#define NIC        "dummy0"

struct sink {
	struct pv_port port;
	uint8_t seen[MAXSEQ];
	unsigned long frames, other;
};

static struct {
	struct test_host *h;
	struct pv_switch *sw;
	struct pv_netback *nb;
	struct sink sink;
	struct pv_dummy_back db;
	struct pv_ctl *ctl;
	char ctl_path[160];
	int host_ok;
} H;

static struct {
	struct pv_loop *loop;
	struct pv_netfront *nf;
	struct pv_dummy_front df;
	uint8_t mac[6];
	int carrier;
	unsigned long tx_ready, rx_frames;
	uint8_t wire[MAXSEQ];
	unsigned long wire_frames;
	char be[128], fe[128];
} F;

/* ---- host side ---- */

static int sink_xmit(struct pv_port *port, const struct pv_frame *f)
{
	struct sink *s = port->priv;
	uint8_t b[18];

	s->frames++;
	if (pv_frame_copy(f, 0, b, sizeof(b)) != sizeof(b) || b[12] != (ETH_TEST >> 8) ||
	    b[13] != (ETH_TEST & 0xff)) {
		s->other++;
		return 0;
	}
	uint32_t seq = (uint32_t)b[14] << 24 | (uint32_t)b[15] << 16 | (uint32_t)b[16] << 8 | b[17];
	if (seq < MAXSEQ && s->seen[seq] < 255)
		s->seen[seq]++;
	return 0;
}

static void sink_flush(struct pv_port *port) { (void)port; }

static const struct pv_port_ops sink_ops = { .kind = "host", .xmit = sink_xmit, .flush = sink_flush };

static int vif_request(struct pv_hv *hv, struct pv_domain *d, const struct pv_hv_vif_request *req,
		       struct pv_hv_vif_reply *rep, void *arg)
{
	struct pv_vif_params p = { .domid = d->domid, .devid = req->devid, .mtu = req->mtu };
	int e;

	memcpy(p.mac, req->mac, 6);
	e = pv_ts_vif_create(H.h->xs, &p);
	if (!e)
		memcpy(rep->mac, p.mac, 6);
	return e;
}

static void host_setup(struct test_host *h, void *arg)
{
	H.sw = pv_switch_new(NULL);
	H.nb = H.sw ? pv_netback_new(h->hv, h->xs, H.sw, h->loop, NULL) : NULL;
	H.sink.port.ops = &sink_ops;
	H.sink.port.priv = &H.sink;
	snprintf(H.sink.port.name, sizeof(H.sink.port.name), "sink");
	/* The guest's test frames go to 02:00:00:00:00:99: the sink's, known to
	 * the bridge, so they are unicast (not floods under storm control). */
	memcpy(H.sink.port.mac, (const uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x99 }, 6);
	H.sink.port.has_mac = 1;
	h->hv->vif_request = vif_request;
	H.host_ok = H.nb && pv_switch_port_add(H.sw, &H.sink.port) >= 0 &&
		    pv_dummy_back_register(&H.db, NIC) == 0;
	if (H.host_ok) {
		struct pv_ctl_ctx ctx = { .loop = h->loop, .hv = h->hv, .xs = h->xs, .sw = H.sw,
					  .nb = H.nb };
		int e;

		snprintf(H.ctl_path, sizeof(H.ctl_path), "%s/" PV_CTL_SOCK_NAME, h->dir);
		H.ctl = pv_ctl_listen(&ctx, H.ctl_path, &e);
		H.host_ok = H.ctl != NULL;
	}
}

static void host_teardown(struct test_host *h, void *arg)
{
	pv_dummy_back_unregister(NIC);
	pv_ctl_close(H.ctl);
	pv_netback_free(H.nb);
	pv_switch_port_del(H.sw, &H.sink.port);
	pv_switch_free(H.sw);
}

struct xs_req { const char *path, *val; char buf[128]; int rc, rm; };

static void xs_fn(struct test_host *h, void *arg)
{
	struct xs_req *r = arg;

	if (r->rm)
		r->rc = xs_server_rm(h->xs, r->path);
	else if (r->val)
		r->rc = xs_server_write(h->xs, r->path, r->val, strlen(r->val));
	else
		r->rc = xs_server_read(h->xs, r->path, r->buf, sizeof(r->buf));
}

static void hs_write(const char *dir, const char *key, const char *val)
{
	char path[192];
	struct xs_req r = { .path = path, .val = val };

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	host_sync(H.h, xs_fn, &r);
}

static void hs_rm(const char *dir, const char *key)
{
	char path[192];
	struct xs_req r = { .path = path, .rm = 1 };

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	host_sync(H.h, xs_fn, &r);
}

/* The key's value, or "-" when it does not exist. */
static const char *hs_read(const char *dir, const char *key)
{
	static char out[128];
	char path[192];
	struct xs_req r = { .path = path };

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	host_sync(H.h, xs_fn, &r);
	snprintf(out, sizeof(out), "%s", r.rc < 0 ? "-" : r.buf);
	return out;
}

struct back_knob { int refuse; unsigned long probes, removes, live; int unreg, reg, rc; };

static void back_fn(struct test_host *h, void *arg)
{
	struct back_knob *k = arg;

	if (k->refuse >= 0)
		H.db.refuse = k->refuse;
	if (k->unreg)
		k->rc = pv_dummy_back_unregister(NIC);
	if (k->reg)
		k->rc = pv_dummy_back_register(&H.db, NIC);
	k->probes = H.db.probes;
	k->removes = H.db.removes;
	k->live = H.db.live;
}

static struct back_knob back(int refuse, int unreg, int reg)
{
	struct back_knob k = { .refuse = refuse, .unreg = unreg, .reg = reg };

	host_sync(H.h, back_fn, &k);
	return k;
}

/* Slow-path arrivals of @seq (copied from the host thread). */
static void sink_fn(struct test_host *h, void *arg) { memcpy(arg, H.sink.seen, MAXSEQ); }
static uint8_t sink_seen[MAXSEQ];
static void sink_snapshot(void) { host_sync(H.h, sink_fn, sink_seen); }

/* ---- frontend side ---- */

static int up_deliver(void *arg, const struct virtio_net_hdr *vh, const struct iovec *iov,
		      int iovcnt, uint32_t len)
{
	F.rx_frames++;
	return 0;
}

static void up_carrier(void *arg, int up) { F.carrier = up; }
static void up_tx_ready(void *arg) { F.tx_ready++; }
static void up_config(void *arg, const uint8_t mac[6], unsigned int mtu) { memcpy(F.mac, mac, 6); }

static const struct pv_netfront_upper_ops up_ops = {
	.deliver = up_deliver, .carrier = up_carrier, .tx_ready = up_tx_ready, .config = up_config,
};

static void wire_cb(void *arg, const void *frame, uint32_t len)
{
	const uint8_t *b = frame;

	F.wire_frames++;
	if (len >= 18) {
		uint32_t seq = (uint32_t)b[14] << 24 | (uint32_t)b[15] << 16 | (uint32_t)b[16] << 8 | b[17];

		if (seq < MAXSEQ && F.wire[seq] < 255)
			F.wire[seq]++;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run the frontend's loop until @cond holds or @ms pass; 1 if it held. */
#define RUN_UNTIL(cond, ms) ({							\
	uint64_t _end = now_ms() + (ms);					\
	while (!(cond) && now_ms() < _end)					\
		pv_loop_once(F.loop, 5);					\
	(cond) ? 1 : 0;								\
})

/* Run the loop for @ms whatever happens. */
static void run_for(unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end)
		pv_loop_once(F.loop, 5);
}

/* A 60-byte test frame from our MAC carrying @seq. */
static void seq_frame(uint8_t *f, uint32_t seq)
{
	memcpy(f + 6, F.mac, 6);
	f[12] = ETH_TEST >> 8;
	f[13] = ETH_TEST & 0xff;
	f[14] = (uint8_t)(seq >> 24);
	f[15] = (uint8_t)(seq >> 16);
	f[16] = (uint8_t)(seq >> 8);
	f[17] = (uint8_t)seq;
}

static int xmit_seq(uint32_t seq)
{
	uint8_t f[60] = { 0x02, 0, 0, 0, 0, 0x99 };
	int r;

	seq_frame(f, seq);
	r = pv_netfront_xmit(F.nf, NULL, f, sizeof(f));
	pv_netfront_flush(F.nf);
	return r;
}

static int sink_has(uint32_t seq)
{
	sink_snapshot();
	return sink_seen[seq];
}

static struct pv_netfront_stats stats(void)
{
	struct pv_netfront_stats st;

	pv_netfront_get_stats(F.nf, &st);
	return st;
}

static int attach(void)
{
	hs_write(F.be, PV_ACCEL_KEY_NIC, NIC);
	return RUN_UNTIL(F.df.dev != NULL, 3000);
}

static int detach(void)
{
	hs_rm(F.be, PV_ACCEL_KEY_NIC);
	return RUN_UNTIL(F.df.dev == NULL, 3000);
}

/* ---- the tests ---- */

static int old10_new(struct pv_accel_front_dev *dev, void *arg) { return -ENODEV; }
static void old10_remove(struct pv_accel_front_dev *dev) { }
static enum pv_accel_xmit old10_xmit(struct pv_accel_front_dev *dev, const struct virtio_net_hdr *vh,
				     const struct iovec *iov, int iovcnt, uint32_t len)
{
	return PV_ACCEL_NOT_SENT;
}

static void test_registry(void)
{
	struct pv_accel_front_ops bad = { .version = 0x00020000, .size = sizeof(bad), .name = "x" };

	T_CHECK(pv_accel_front_register(&bad, NULL) == -EINVAL, "registry: other major version refused",
		"accepted");
	bad.version = PV_ACCEL_FRONT_VERSION;
	bad.size = 8;
	T_CHECK(pv_accel_front_register(&bad, NULL) == -EINVAL, "registry: short ops table refused",
		"accepted");
	T_CHECK(pv_dummy_front_register(&F.df) == -EEXIST, "registry: a name registers once",
		"registered twice");
	{
		/* A 1.0 table (without flush) still registers; netfront never calls past it. */
		struct pv_accel_front_ops old10 = {
			.name = "old10", .new_device = old10_new, .remove = old10_remove,
			.start_xmit = old10_xmit,
		};

		old10.version = 0x00010000;
		old10.size = PV_ACCEL_FRONT_OPS_SIZE_1_0;
		old10.flush = (void (*)(struct pv_accel_front_dev *))1;	/* beyond size: never called */
		T_CHECK(pv_accel_front_register(&old10, NULL) == 0 &&
			PV_ACCEL_OP(&old10, struct pv_accel_front_ops, flush) == NULL &&
			pv_accel_front_unregister("old10") == 0,
			"registry: a 1.0-sized frontend table registers, its missing flush is NULL",
			"refused or flush seen");
		/* A 1.2 table: the loan ops beyond its size are NULL (no loan). */
		old10.version = 0x00010002;
		old10.size = PV_ACCEL_FRONT_OPS_SIZE_1_2;
		old10.tx_lend = (int (*)(struct pv_accel_front_dev *, struct iovec *, int))1;
		T_CHECK(pv_accel_front_register(&old10, NULL) == 0 &&
			PV_ACCEL_OP(&old10, struct pv_accel_front_ops, tx_lend) == NULL &&
			pv_accel_front_unregister("old10") == 0,
			"registry: a 1.2-sized frontend table registers, its missing tx_lend is NULL",
			"refused or tx_lend seen");
		/* 1.3: the loan's three ops, all or none. */
		old10.version = PV_ACCEL_FRONT_VERSION;
		old10.size = sizeof(old10);
		old10.flush = NULL;
		old10.tx_lent = NULL;
		old10.tx_unlend = NULL;
		T_CHECK(pv_accel_front_register(&old10, NULL) == -EINVAL,
			"registry: tx_lend without tx_lent/tx_unlend refused", "registered");
	}
	T_CHECK(!pv_accel_name_ok("") && !pv_accel_name_ok("a/b") && !pv_accel_name_ok("A") &&
		pv_accel_name_ok("sfc-0.x_y"), "registry: names checked", "name check wrong");
	T_CHECK(pv_accel_load("/nonexistent", "dummy") == -ENOENT && pv_accel_load(NULL, "../x") == -EINVAL,
		"registry: loading a missing or badly named object fails cleanly", "unexpected");
}

/* The plugin descriptor's checks (src/accel/plugins.c), and loading refused objects. */
static int pc_front(const struct pv_accel_env *env, void **state) { *state = NULL; return 0; }

static void test_plugin_check(void)
{
	const char *b = getenv("PVNET_BUILD") ? getenv("PVNET_BUILD") : "build";
	struct pv_accel_plugin pl = {
		.front_version = PV_ACCEL_FRONT_VERSION, .back_version = PV_ACCEL_BACK_VERSION,
		.size = sizeof(pl), .name = "pc", .front_start = pc_front,
	};
	char path[512];

	T_CHECK(pv_accel_plugin_check(&pl) == NULL, "plugin: this accel.h's descriptor accepted",
		"%s", pv_accel_plugin_check(&pl));
	pl.front_version = 0x00010001;	/* 1.1: calls only what 1.2 still has */
	T_CHECK(pv_accel_plugin_check(&pl) == NULL, "plugin: an older minor version accepted",
		"%s", pv_accel_plugin_check(&pl));
	pl.front_version = PV_ACCEL_FRONT_VERSION + 1;
	T_CHECK(pv_accel_plugin_check(&pl) != NULL, "plugin: a newer minor version refused", "accepted");
	pl.front_version = PV_ACCEL_FRONT_VERSION;
	pl.back_version = 0x00020002;
	T_CHECK(pv_accel_plugin_check(&pl) != NULL, "plugin: another major version refused", "accepted");
	pl.back_version = PV_ACCEL_BACK_VERSION;
	pl.size = 16;
	T_CHECK(pv_accel_plugin_check(&pl) != NULL, "plugin: a short descriptor refused", "accepted");
	pl.size = sizeof(pl);
	pl.name = "Bad/name";
	T_CHECK(pv_accel_plugin_check(&pl) != NULL, "plugin: a bad name refused", "accepted");
	pl.name = "pc";
	pl.front_start = NULL;
	T_CHECK(pv_accel_plugin_check(&pl) != NULL && pv_accel_plugin_check(NULL) != NULL,
		"plugin: neither half, or no descriptor, refused", "accepted");
	snprintf(path, sizeof(path), "%s/tests/plugins/bad_version.so", b);
	T_CHECK(pv_accel_plugins_load(path) == -EPROTO, "plugin: a 2.0 object refused (-EPROTO)",
		"%s", path);
	snprintf(path, sizeof(path), "%s/tests/plugins/bad_nosym.so", b);
	T_CHECK(pv_accel_plugins_load(path) == -ENOEXEC,
		"plugin: an object without pv_accel_plugin refused (-ENOEXEC)", "%s", path);
	T_CHECK(pv_accel_plugins_load("/nonexistent/pvnet-accel-x.so") == -ENOENT,
		"plugin: a missing object refused (-ENOENT)", "accepted");
}

/* get_fds (1.2): the backend half's descriptors reach the frontend half by its name. */
struct fds_knob { int fd, ready; unsigned long given; unsigned int domid; int other_rc; };

static void fds_fn(struct test_host *h, void *arg)
{
	struct fds_knob *k = arg;

	if (k->fd >= 0) {
		H.db.fd = k->fd;
		H.db.fd_ready = k->ready;
	}
	k->given = H.db.fds_given;
	if (k->domid) {	/* the vif is served, but not under that name */
		int fds[PV_ACCEL_MAX_FDS];

		k->other_rc = pv_accel_back_hv_fds(h->hv, k->domid, "other", 0, fds,
						   PV_ACCEL_MAX_FDS, NULL);
		if (k->other_rc > 0)
			for (int i = 0; i < k->other_rc; i++)
				close(fds[i]);
	}
}

static void test_get_fds(void)
{
	struct fds_knob k = { .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), .ready = 0 };
	uint64_t v = 7, got = 0;
	int fds[PV_ACCEL_MAX_FDS] = { -1, -1, -1, -1 }, n;

	host_sync(H.h, fds_fn, &k);
	T_CHECK(attach(), "get_fds: attached", "not attached");
	n = pv_dummy_front_get_fds(&F.df, fds, PV_ACCEL_MAX_FDS);
	T_CHECK(n == -EAGAIN, "get_fds: not ready -> -EAGAIN over hv.sock", "%d", n);
	k.ready = 1;
	host_sync(H.h, fds_fn, &k);
	n = pv_dummy_front_get_fds(&F.df, fds, PV_ACCEL_MAX_FDS);
	T_CHECK(n == 1 && fds[0] >= 0 && write(fds[0], &v, sizeof(v)) == sizeof(v) &&
		read(k.fd, &got, sizeof(got)) == sizeof(got) && got == 7,
		"get_fds: ready -> the backend's descriptor, the same object", "%d, %llu", n,
		(unsigned long long)got);
	if (n > 0)
		close(fds[0]);
	k.fd = -1;
	k.domid = pv_netfront_domid(F.nf);
	host_sync(H.h, fds_fn, &k);
	k.domid = 0;
	T_CHECK(k.given == 1, "get_fds: counted once by the backend half", "%lu", k.given);
	T_CHECK(k.other_rc == -ENOENT, "get_fds: asked under another plugin's name -> -ENOENT",
		"%d", k.other_rc);
	T_CHECK(detach(), "get_fds: detached", "still attached");
	n = pv_dummy_front_get_fds(&F.df, fds, PV_ACCEL_MAX_FDS);
	T_CHECK(n == -ENODEV, "get_fds: no device, no descriptors", "%d", n);
	k.fd = -1;
	k.ready = 0;
	host_sync(H.h, fds_fn, &k);
}

static void test_discovery(void)
{
	struct back_knob k;

	T_CHECK(!strcmp(hs_read(F.be, PV_ACCEL_KEY_FRONTEND), "-") && F.df.dev == NULL,
		"discovery: no accel key, no accelerator", "accel-frontend %s", hs_read(F.be, PV_ACCEL_KEY_FRONTEND));
	T_CHECK(attach(), "discovery: accel key -> probe -> accel-frontend -> netfront attaches",
		"frontend half never attached");
	k = back(-1, 0, 0);
	T_CHECK(k.probes == 1 && k.live == 1, "discovery: backend plugin probed once",
		"probes %lu live %lu", k.probes, k.live);
	T_CHECK(!strcmp(hs_read(F.be, PV_ACCEL_KEY_FRONTEND), PV_DUMMY_NAME),
		"discovery: backend publishes accel-frontend", "%s", hs_read(F.be, PV_ACCEL_KEY_FRONTEND));
	T_CHECK(!strcmp(hs_read(F.be, PV_ACCEL_KEY_STATE), "4") &&
		!strcmp(hs_read(F.fe, PV_ACCEL_KEY_STATE), "4"),
		"discovery: both accelstate keys Connected", "be %s fe %s",
		hs_read(F.be, PV_ACCEL_KEY_STATE), hs_read(F.fe, PV_ACCEL_KEY_STATE));
	T_CHECK(detach(), "discovery: accel key removed -> netfront detaches", "still attached");
	k = back(-1, 0, 0);
	T_CHECK(k.removes == 1 && k.live == 0 && !strcmp(hs_read(F.be, PV_ACCEL_KEY_FRONTEND), "-"),
		"discovery: backend plugin removed, accel-frontend deleted", "removes %lu live %lu fe %s",
		k.removes, k.live, hs_read(F.be, PV_ACCEL_KEY_FRONTEND));
	T_CHECK(!strcmp(hs_read(F.be, PV_ACCEL_KEY_STATE), "6") &&
		!strcmp(hs_read(F.fe, PV_ACCEL_KEY_STATE), "6"),
		"discovery: both accelstate keys Closed", "be %s fe %s",
		hs_read(F.be, PV_ACCEL_KEY_STATE), hs_read(F.fe, PV_ACCEL_KEY_STATE));
	T_CHECK(F.df.new_devices == 1 && F.df.removes == 1, "discovery: new_device and remove once each",
		"%lu %lu", F.df.new_devices, F.df.removes);
}

/* Wait, without running netfront, for the host to show @key as @val. */
static int host_shows(const char *dir, const char *key, const char *val, unsigned int ms)
{
	struct timespec ts = { 0, 1000000 };

	for (unsigned int i = 0; i < ms; i++) {
		if (!strcmp(hs_read(dir, key), val))
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void renew_once(int unseen, const char *what)
{
	unsigned long nd = F.df.new_devices, rm = F.df.removes;

	if (unseen)
		hs_rm(F.be, PV_ACCEL_KEY_FRONTEND);
	hs_write(F.be, PV_ACCEL_KEY_FRONTEND, PV_DUMMY_NAME);
	RUN_UNTIL(F.df.removes > rm && F.df.dev != NULL, 3000);
	run_for(200);
	T_CHECK(F.df.new_devices - nd == 1 && F.df.removes - rm == 1 && F.df.dev != NULL, what,
		"new_device +%lu remove +%lu dev %p", F.df.new_devices - nd, F.df.removes - rm,
		(void *)F.df.dev);
}

/*
 * "accel-frontend written again with the same name" means a new backend
 * half: netfront attaches afresh (nf_accel_sync).  The event of the very
 * write an attach read is not that, even when it is met on the way to
 * another request's reply and read only after the attach: once, in CI,
 * the dummy was attached twice for one publish.
 */
static void test_renewal(void)
{
	unsigned long nd = F.df.new_devices, rm = F.df.removes;
	char buf[16];

	/* The publish's event waits in netfront's client queue, met by a request outside nf_run. */
	hs_write(F.be, PV_ACCEL_KEY_NIC, NIC);
	T_CHECK(host_shows(F.be, PV_ACCEL_KEY_FRONTEND, PV_DUMMY_NAME, 3000),
		"renewal: backend published (netfront not run)", "%s",
		hs_read(F.be, PV_ACCEL_KEY_FRONTEND));
	xsc_read(F.nf->xs, 0, F.be, buf, sizeof(buf));	/* as a plugin's or timer's request */
	T_CHECK(xsc_pending(F.nf->xs) >= 1, "renewal: the publish's event met on the way to a reply",
		"%u queued", xsc_pending(F.nf->xs));
	nf_xs_check(F.nf);
	T_CHECK(RUN_UNTIL(F.df.dev != NULL, 3000), "renewal: attached", "not attached");
	run_for(200);
	T_CHECK(F.df.new_devices - nd == 1 && F.df.removes == rm,
		"renewal: one publish, one new_device (its own event is not a new backend half)",
		"new_device +%lu remove +%lu", F.df.new_devices - nd, F.df.removes - rm);

	/* Written again, netfront running: a new backend half, attach afresh once. */
	renew_once(0, "renewal: accel-frontend written again -> detached and attached afresh, once");
	/* Removed and written while netfront did not look (a stopped guest): the same, once. */
	renew_once(1, "renewal: removed and written again unseen -> attached afresh, once");
	T_CHECK(detach(), "renewal: detached", "still attached");
}

static void test_refusals(void)
{
	struct back_knob k;
	uint32_t seq = 100;

	/* The frontend half refuses: accelstate Closed, the slow path carries on. */
	F.df.refuse = 1;
	hs_write(F.be, PV_ACCEL_KEY_NIC, NIC);
	T_CHECK(RUN_UNTIL(!strcmp(hs_read(F.fe, PV_ACCEL_KEY_STATE), "6") && F.df.dev == NULL &&
			  !strcmp(hs_read(F.be, PV_ACCEL_KEY_FRONTEND), PV_DUMMY_NAME), 3000),
		"refusal: frontend plugin refuses, frontend accelstate Closed", "fe %s",
		hs_read(F.fe, PV_ACCEL_KEY_STATE));
	T_CHECK(xmit_seq(seq) == 0 && RUN_UNTIL(sink_has(seq), 3000), "refusal: slow path unaffected",
		"frame %u lost", seq);
	F.df.refuse = 0;
	detach();
	hs_rm(F.be, PV_ACCEL_KEY_NIC);

	/* The backend half refuses: no accel-frontend, accelstate Closed. */
	back(1, 0, 0);
	hs_write(F.be, PV_ACCEL_KEY_NIC, NIC);
	run_for(100);
	T_CHECK(!strcmp(hs_read(F.be, PV_ACCEL_KEY_STATE), "6") &&
		!strcmp(hs_read(F.be, PV_ACCEL_KEY_FRONTEND), "-") && F.df.dev == NULL,
		"refusal: backend plugin refuses, backend accelstate Closed", "be %s accel-frontend %s",
		hs_read(F.be, PV_ACCEL_KEY_STATE), hs_read(F.be, PV_ACCEL_KEY_FRONTEND));
	back(0, 0, 0);
	hs_rm(F.be, PV_ACCEL_KEY_NIC);

	/* A plugin registering late probes the vifs that already name its NIC. */
	k = back(-1, 1, 0);
	hs_write(F.be, PV_ACCEL_KEY_NIC, NIC);
	run_for(100);
	T_CHECK(F.df.dev == NULL, "late registration: no plugin, no accelerator", "attached");
	k = back(-1, 0, 1);
	T_CHECK(k.rc == 0 && RUN_UNTIL(F.df.dev != NULL, 3000),
		"late registration: existing vif probed when the plugin registers", "rc %d", k.rc);
	/* Unregistering the backend plugin detaches too. */
	k = back(-1, 1, 0);
	T_CHECK(RUN_UNTIL(F.df.dev == NULL, 3000), "unregistering the backend plugin detaches",
		"still attached");
	back(-1, 0, 1);
	hs_rm(F.be, PV_ACCEL_KEY_NIC);
	RUN_UNTIL(F.df.dev == NULL, 3000);
}

static void test_hooks(void)
{
	struct pv_netfront_stats st0 = stats(), st;
	unsigned long ready0;

	T_ASSERT(attach(), "attach");
	/* SENT: the fast path's, the slow path never sees it. */
	F.df.policy = PV_DUMMY_SENT;
	T_CHECK(xmit_seq(1) == 0 && F.wire[1] == 1, "hooks: SENT frame taken by the plugin",
		"wire %u", F.wire[1]);
	run_for(50);
	T_CHECK(!sink_has(1) && stats().accel_tx_sent == st0.accel_tx_sent + 1,
		"hooks: SENT frame not on the slow path, counted as fast", "sink %d", sink_has(1));
	/* NOT_SENT: the slow path. */
	F.df.policy = PV_DUMMY_NOT_SENT;
	T_CHECK(xmit_seq(2) == 0 && RUN_UNTIL(sink_has(2), 3000) && F.wire[2] == 0,
		"hooks: NOT_SENT frame goes the slow path", "sink %d wire %d", sink_has(2), F.wire[2]);
	/* BUSY: held, TX stopped until check_ready. */
	F.df.policy = PV_DUMMY_BUSY;
	F.df.hold = 1;
	T_CHECK(xmit_seq(3) == 0 && pv_dummy_front_held(&F.df), "hooks: BUSY frame held", "not held");
	T_CHECK(xmit_seq(4) == -EBUSY && !pv_netfront_tx_room(F.nf, 60),
		"hooks: after BUSY netfront takes nothing more", "took it");
	run_for(50);
	T_CHECK(F.df.xmit_while_held == 0 && F.wire[3] == 0 && !sink_has(3),
		"hooks: held frame stays held", "wire %d sink %d", F.wire[3], sink_has(3));
	ready0 = F.tx_ready;
	F.df.policy = PV_DUMMY_SENT;
	T_CHECK(pv_dummy_front_release(&F.df) == 0 && RUN_UNTIL(F.tx_ready > ready0, 3000),
		"hooks: check_ready says go -> upper edge gets tx_ready", "no tx_ready");
	T_CHECK(F.df.check_readys > 0 && F.wire[3] == 1 && xmit_seq(4) == 0 && F.wire[4] == 1,
		"hooks: TX resumes, held frame sent once", "check_ready %lu wire3 %d wire4 %d",
		F.df.check_readys, F.wire[3], F.wire[4]);
	/* A BUSY frame at detach goes the slow path: not lost, not duplicated. */
	F.df.policy = PV_DUMMY_BUSY;
	st0 = stats();
	T_ASSERT(xmit_seq(5) == 0 && pv_dummy_front_held(&F.df), "held");
	ready0 = F.tx_ready;
	T_CHECK(detach() && RUN_UNTIL(sink_has(5), 3000) && F.wire[5] == 0 && sink_has(5) == 1,
		"hooks: BUSY frame at detach delivered on the slow path once", "sink %d wire %d",
		sink_has(5), F.wire[5]);
	st = stats();
	T_CHECK(st.accel_tx_returned == st0.accel_tx_returned + 1 && st.accel_tx_return_dropped == 0 &&
		F.df.returned >= 1, "hooks: returned frame counted", "returned %llu",
		(unsigned long long)st.accel_tx_returned);
	T_CHECK(RUN_UNTIL(F.tx_ready > ready0, 3000) && xmit_seq(6) == 0 && RUN_UNTIL(sink_has(6), 3000),
		"hooks: after detach TX resumes on the slow path", "tx_ready %lu", F.tx_ready);
	F.df.hold = 0;
	/* RX: the plugin's interrupt -> netfront's poll -> plugin poll -> deliver. */
	T_ASSERT(attach(), "attach");
	{
		uint8_t f[60] = { 0 };
		unsigned long rx0 = F.rx_frames, irq0 = F.df.start_irqs;

		T_CHECK(pv_dummy_front_inject(&F.df, f, sizeof(f)) == 0 &&
			RUN_UNTIL(F.rx_frames == rx0 + 1, 3000),
			"hooks: fast-path RX delivered through netfront's poll", "rx %lu", F.rx_frames);
		T_CHECK(F.df.polls > 0 && F.df.stop_irqs > 0 && F.df.start_irqs > irq0,
			"hooks: stop_irq/start_irq around the poll", "polls %lu stop %lu start %lu",
			F.df.polls, F.df.stop_irqs, F.df.start_irqs);
	}
	detach();
}

/* A frame read into whatever pv_netfront_tx_borrow lent, as pvnet-front's TAP reader does. */
static int borrow_xmit(uint32_t seq, int *k)
{
	uint8_t f[60] = { 0x02, 0, 0, 0, 0, 0x99 };
	struct iovec iov[PV_NF_MAX_TX_SLOTS + 1];
	int r;

	seq_frame(f, seq);
	*k = pv_netfront_tx_borrow(F.nf, iov, PV_NF_MAX_TX_SLOTS + 1);
	if (*k <= 0 || iov[0].iov_len < sizeof(f))
		return -ENOBUFS;
	memcpy(iov[0].iov_base, f, sizeof(f));
	r = pv_netfront_xmit_lent(F.nf, NULL, sizeof(f));
	pv_netfront_flush(F.nf);
	return r;
}

/* accel.h 1.3: the frame is read into the plugin's own TX buffers. */
static void test_lend(void)
{
	struct pv_netfront_stats st0 = stats(), st;
	struct iovec iov[PV_NF_MAX_TX_SLOTS + 1];
	unsigned long lends0 = F.df.lends, unlends0, ready0;
	int k;

	T_ASSERT(attach(), "attach");
	F.df.lend = 16384;
	/* SENT: out from the lent buffers, the slow path's pages untouched. */
	F.df.policy = PV_DUMMY_SENT;
	T_CHECK(borrow_xmit(20, &k) == 0 && k == 4 && F.wire[20] == 1 && F.df.lends == lends0 + 1 &&
		F.df.lent_frames >= 1, "lend: frame read into the plugin's buffers, sent from them",
		"k %d wire %d lends %lu", k, F.wire[20], F.df.lends - lends0);
	run_for(50);
	st = stats();
	T_CHECK(!sink_has(20) && st.accel_tx_lends == st0.accel_tx_lends + 1 &&
		st.accel_tx_sent == st0.accel_tx_sent + 1,
		"lend: counted as lent and fast, not on the slow path", "sink %d lends %llu",
		sink_has(20), (unsigned long long)(st.accel_tx_lends - st0.accel_tx_lends));
	/* NOT_SENT: copied onto the slow path, once, then the loan ends. */
	F.df.policy = PV_DUMMY_NOT_SENT;
	unlends0 = F.df.unlends;
	T_CHECK(borrow_xmit(21, &k) == 0 && k == 4 && F.df.unlends == unlends0 + 1 &&
		RUN_UNTIL(sink_has(21), 3000) && sink_has(21) == 1 && F.wire[21] == 0,
		"lend: NOT_SENT lent frame goes the slow path once, loan given back",
		"sink %d wire %d unlends %lu", sink_has(21), F.wire[21], F.df.unlends - unlends0);
	/* A failed read gives the loan back. */
	unlends0 = F.df.unlends;
	k = pv_netfront_tx_borrow(F.nf, iov, PV_NF_MAX_TX_SLOTS + 1);
	pv_netfront_tx_unborrow(F.nf);
	T_CHECK(k == 4 && F.df.unlends == unlends0 + 1, "lend: unborrow ends the plugin's loan",
		"k %d unlends %lu", k, F.df.unlends - unlends0);
	/* BUSY from a loan: held, TX stops, released, resumes. */
	F.df.policy = PV_DUMMY_BUSY;
	F.df.hold = 1;
	T_CHECK(borrow_xmit(22, &k) == 0 && pv_dummy_front_held(&F.df) &&
		pv_netfront_tx_borrow(F.nf, iov, PV_NF_MAX_TX_SLOTS + 1) == 0,
		"lend: BUSY lent frame held, nothing more lent", "held %d", pv_dummy_front_held(&F.df));
	ready0 = F.tx_ready;
	F.df.policy = PV_DUMMY_SENT;
	T_CHECK(pv_dummy_front_release(&F.df) == 0 && RUN_UNTIL(F.tx_ready > ready0, 3000) &&
		F.wire[22] == 1 && borrow_xmit(23, &k) == 0 && F.wire[23] == 1,
		"lend: released, sent once, TX resumes with a loan", "wire22 %d wire23 %d",
		F.wire[22], F.wire[23]);
	F.df.hold = 0;
	/* A loan too small for a maximum frame is refused: netfront's own pages instead. */
	F.df.lend = 1024;
	st0 = stats();
	unlends0 = F.df.unlends;
	T_CHECK(borrow_xmit(24, &k) == 0 && k == PV_NF_MAX_TX_SLOTS + 1 && F.wire[24] == 1 &&
		F.df.unlends == unlends0 + 1 && stats().accel_tx_lend_refused == st0.accel_tx_lend_refused + 1,
		"lend: short loan refused, frame read into netfront's pages, still fast",
		"k %d wire %d refused %llu", k, F.wire[24],
		(unsigned long long)(stats().accel_tx_lend_refused - st0.accel_tx_lend_refused));
	/* No loan (a 1.2 plugin behaves so): netfront's pages, as before. */
	F.df.lend = 0;
	lends0 = F.df.lends;
	T_CHECK(borrow_xmit(25, &k) == 0 && k == PV_NF_MAX_TX_SLOTS + 1 && F.wire[25] == 1,
		"lend: without a loan, netfront's pages and start_xmit", "k %d wire %d", k, F.wire[25]);
	st = stats();
	T_CHECK(F.df.lend_misuse == 0 && st.accel_tx_lend_dropped == 0,
		"lend: one loan at a time, always ended, nothing dropped", "misuse %lu dropped %llu",
		F.df.lend_misuse, (unsigned long long)st.accel_tx_lend_dropped);
	detach();
	/* Detached: no plugin, no loan. */
	lends0 = F.df.lends;
	T_CHECK(borrow_xmit(26, &k) == 0 && k == PV_NF_MAX_TX_SLOTS + 1 && F.df.lends == lends0 &&
		RUN_UNTIL(sink_has(26), 3000), "lend: detached, slow path pages", "k %d", k);
}

static void test_stats(void)
{
	struct pv_netfront_stats st0, st;
	uint32_t seq = 200;
	uint8_t f[60] = { 0 };

	T_ASSERT(attach(), "attach");
	st0 = stats();
	F.df.policy = PV_DUMMY_SENT;
	for (int i = 0; i < 10; i++)
		xmit_seq(seq++);
	pv_dummy_front_inject(&F.df, f, sizeof(f));
	RUN_UNTIL(F.df.rx_delivered > 0, 1000);
	st = stats();
	T_CHECK(st.accel_fast_tx_packets == F.df.tx_packets_total &&
		st.tx_packets >= st0.tx_packets + 10, "stats: get_stats deltas added to netfront's counters",
		"fast tx %llu dummy %llu", (unsigned long long)st.accel_fast_tx_packets,
		F.df.tx_packets_total);
	/* Counted by the plugin, not yet collected: the final call before remove() gets them. */
	for (int i = 0; i < 5; i++)
		xmit_seq(seq++);
	pv_dummy_front_inject(&F.df, f, sizeof(f));
	T_ASSERT(detach(), "detach");
	st = stats();
	T_CHECK(F.df.unreported_at_remove == 0 && st.accel_fast_tx_packets == F.df.tx_packets_total &&
		st.accel_fast_rx_packets == F.df.rx_packets_total,
		"stats: final get_stats before remove collects the last deltas",
		"unreported %llu fast tx %llu/%llu rx %llu/%llu", F.df.unreported_at_remove,
		(unsigned long long)st.accel_fast_tx_packets, F.df.tx_packets_total,
		(unsigned long long)st.accel_fast_rx_packets, F.df.rx_packets_total);
}

/* One request to pvnetd's control socket, as pvnetctl sends it; the answer in @out. */
static int ctl_request(const char *line, char *out, size_t size)
{
	int fd = pv_unix_connect(H.ctl_path, SOCK_STREAM);
	size_t have = 0;
	ssize_t n;

	if (fd < 0)
		return fd;
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
		close(fd);
		return -errno;
	}
	while (have + 1 < size && (n = recv(fd, out + have, size - 1 - have, 0)) > 0)
		have += (size_t)n;
	out[have] = '\0';
	close(fd);
	return strncmp(out, "ok\n", 3) ? -EINVAL : 0;
}

/* pvnetctl accel D N on|off|show: the operator's switch, through ctl.c. */
static void test_ctl(void)
{
	char line[128], out[1024];
	unsigned int dom = pv_netfront_domid(F.nf);

	snprintf(line, sizeof(line), "T accel %u 0 on " NIC "\n", dom);
	T_CHECK(ctl_request(line, out, sizeof(out)) == 0 && RUN_UNTIL(F.df.dev != NULL, 3000),
		"pvnetctl accel on: attached", "%s", out);
	snprintf(line, sizeof(line), "T accel %u 0 show\n", dom);
	T_CHECK(ctl_request(line, out, sizeof(out)) == 0 && strstr(out, PV_DUMMY_NAME) &&
		strstr(out, NIC), "pvnetctl accel show: plugin and NIC", "%s", out);
	snprintf(line, sizeof(line), "T accel %u 0 off\n", dom);
	T_CHECK(ctl_request(line, out, sizeof(out)) == 0 && RUN_UNTIL(F.df.dev == NULL, 3000),
		"pvnetctl accel off: detached", "%s", out);
	snprintf(line, sizeof(line), "T accel %u 0 on\n", dom);	/* the only NIC registered */
	T_CHECK(ctl_request(line, out, sizeof(out)) == 0 && RUN_UNTIL(F.df.dev != NULL, 3000),
		"pvnetctl accel on without a NIC: the only one registered", "%s", out);
	snprintf(line, sizeof(line), "T accel %u 0 on Bad/Name\n", dom);
	T_CHECK(ctl_request(line, out, sizeof(out)) == -EINVAL, "pvnetctl accel: bad NIC name refused",
		"%s", out);
	snprintf(line, sizeof(line), "T accel 999 0 on\n");
	T_CHECK(ctl_request(line, out, sizeof(out)) == -EINVAL, "pvnetctl accel: no such vif", "%s", out);
	hs_rm(F.be, PV_ACCEL_KEY_NIC);
	RUN_UNTIL(F.df.dev == NULL, 3000);
}

/* ---- the optional backend ops (accel.h 1.1), with plugins of this file ---- */

#define SEEN_NIC "seen0"	/* a 1.1 plugin: records what the host offers it */
#define OLD_NIC  "old0"		/* a 1.0-sized table: the host must not call beyond it */

static struct {
	unsigned long frames[4];	/* by enum pv_accel_frame_how */
	uint8_t last_dst[6];
	uint32_t last_len, last_hdr_len;
	unsigned long vifs_changed;
	unsigned int local_macs;	/* pv_accel_back_local_macs() at the last change */
	uint8_t first_mac[6];
	unsigned long old_calls;	/* ops of the 1.0 table beyond its size: never */
	int rc;
} S;

static int seen_probe(struct pv_accel_back_vif *vif, void *arg)
{
	return pv_accel_back_publish_frontend(vif, PV_DUMMY_NAME);
}

static void seen_remove(struct pv_accel_back_vif *vif) { (void)vif; }

static void seen_frame(struct pv_accel_back_vif *vif, enum pv_accel_frame_how how,
		       const uint8_t *hdr, uint32_t hdr_len, uint32_t len)
{
	if ((unsigned int)how < 4)
		S.frames[how]++;
	if (hdr_len >= 6)
		memcpy(S.last_dst, hdr, 6);
	S.last_len = len;
	S.last_hdr_len = hdr_len;
}

static void seen_vifs_changed(struct pv_accel_back_vif *vif)
{
	uint8_t macs[4][6];

	S.vifs_changed++;
	S.local_macs = pv_accel_back_local_macs(vif, macs, 4);
	if (S.local_macs)
		memcpy(S.first_mac, macs[0], 6);
}

static void seen_show(struct pv_accel_back_vif *vif, struct pv_accel_kv *kv)
{
	pv_accel_kv_str(kv, "seen_tag", "hello");
	pv_accel_kv_u64(kv, "seen_frames_tx", S.frames[PV_ACCEL_FRAME_TX]);
}

static void seen_show_nic(void *arg, struct pv_accel_kv *kv)
{
	pv_accel_kv_str(kv, "seen_nic", (const char *)arg);
}

static void old_frame(struct pv_accel_back_vif *vif, enum pv_accel_frame_how how,
		      const uint8_t *hdr, uint32_t hdr_len, uint32_t len) { S.old_calls++; }
static void old_show(struct pv_accel_back_vif *vif, struct pv_accel_kv *kv) { S.old_calls++; }

static const struct pv_accel_back_ops seen_ops = {
	.version = PV_ACCEL_BACK_VERSION, .size = sizeof(struct pv_accel_back_ops), .name = "seen",
	.probe = seen_probe, .remove = seen_remove, .frame = seen_frame,
	.vifs_changed = seen_vifs_changed, .show = seen_show, .show_nic = seen_show_nic,
};

/* Compiled against 1.1, but claiming 1.0's size: frame and show lie beyond it. */
static const struct pv_accel_back_ops old_ops = {
	.version = 0x00010000, .size = PV_ACCEL_BACK_OPS_SIZE_1_0, .name = "old",
	.probe = seen_probe, .remove = seen_remove, .frame = old_frame, .show = old_show,
};

static void seen_reg_fn(struct test_host *h, void *arg)
{
	struct pv_accel_back_ops shorter = seen_ops;

	shorter.size = PV_ACCEL_BACK_OPS_SIZE_1_0 - 1;
	S.rc = pv_accel_back_register("short0", &shorter, NULL) == -EINVAL ? 0 : -1;
	if (!S.rc)
		S.rc = pv_accel_back_register(SEEN_NIC, &seen_ops, SEEN_NIC);
	if (!S.rc)
		S.rc = pv_accel_back_register(OLD_NIC, &old_ops, NULL);
}

static void seen_unreg_fn(struct test_host *h, void *arg)
{
	pv_accel_back_unregister(SEEN_NIC);
	pv_accel_back_unregister(OLD_NIC);
}

static void seen_copy_fn(struct test_host *h, void *arg) { memcpy(arg, &S, sizeof(S)); }

static typeof(S) seen(void)
{
	typeof(S) c;

	host_sync(H.h, seen_copy_fn, &c);
	return c;
}

/* A frame from the sink port (not a vif) to the guest's MAC. */
static void inject_fn(struct test_host *h, void *arg)
{
	struct pv_frame f = { .len = 60, .hdr_len = 60 };
	const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x77 };

	memcpy(f.hdr, F.mac, 6);
	memcpy(f.hdr + 6, src, 6);
	f.hdr[12] = ETH_TEST >> 8;
	f.hdr[13] = ETH_TEST & 0xff;
	pv_switch_input(H.sw, &H.sink.port, &f);
	pv_switch_flush(H.sw);
}

struct vif2_req { unsigned int domid; int destroy, rc; };

static void vif2_fn(struct test_host *h, void *arg)
{
	struct vif2_req *r = arg;
	struct pv_vif_params p = { .domid = r->domid, .mac = { 0x00, 0x16, 0x3e, 0xaa, 0xbb, 0xcc } };

	r->rc = r->destroy ? pv_ts_vif_destroy(h->xs, r->domid, 0) : pv_ts_vif_create(h->xs, &p);
}

static void test_optional_ops(void)
{
	static const uint8_t mac2[6] = { 0x00, 0x16, 0x3e, 0xaa, 0xbb, 0xcc };
	char line[128], out[2048];
	unsigned int dom = pv_netfront_domid(F.nf);
	struct vif2_req vr = { 0 };
	struct pv_guest *g2;
	unsigned long rx0, ch0;
	typeof(S) c;
	int e;

	host_sync(H.h, seen_reg_fn, NULL);
	T_CHECK(S.rc == 0, "1.1: a 1.0-sized table registers, a shorter one does not", "rc %d", S.rc);

	/* The 1.0 table: attached and used, its ops beyond 1.0 never called. */
	F.df.policy = PV_DUMMY_NOT_SENT;
	hs_write(F.be, PV_ACCEL_KEY_NIC, OLD_NIC);
	T_CHECK(RUN_UNTIL(F.df.dev != NULL, 3000) && xmit_seq(400) == 0 &&
		RUN_UNTIL(sink_has(400), 3000), "1.0 table: attaches, frames flow", "dev %p",
		(void *)F.df.dev);
	snprintf(line, sizeof(line), "T accel %u 0 show\n", dom);
	T_CHECK(ctl_request(line, out, sizeof(out)) == 0 && seen().old_calls == 0,
		"1.0 table: frame and show beyond its size never called", "calls %lu",
		seen().old_calls);
	T_CHECK(ctl_request("T nic " OLD_NIC "\n", out, sizeof(out)) == -EINVAL,
		"pvnetctl nic: a plugin without show_nic says so", "%s", out);
	detach();

	/* The 1.1 plugin: frames the guest sends, frames to the guest from a non-vif port. */
	hs_write(F.be, PV_ACCEL_KEY_NIC, SEEN_NIC);
	T_ASSERT(RUN_UNTIL(F.df.dev != NULL, 3000), "attach seen0");
	c = seen();
	T_CHECK(xmit_seq(401) == 0 && RUN_UNTIL(sink_has(401), 3000) &&
		seen().frames[PV_ACCEL_FRAME_TX] == c.frames[PV_ACCEL_FRAME_TX] + 1,
		"frame(): the guest's slow-path TX offered as TX", "tx %lu",
		seen().frames[PV_ACCEL_FRAME_TX]);
	rx0 = F.rx_frames;
	host_sync(H.h, inject_fn, NULL);
	c = seen();
	T_CHECK(c.frames[PV_ACCEL_FRAME_RX_EXTERNAL] == 1 && c.frames[PV_ACCEL_FRAME_RX_LOCAL] == 0 &&
		!memcmp(c.last_dst, F.mac, 6) && c.last_len == 60 && c.last_hdr_len == 60 &&
		RUN_UNTIL(F.rx_frames == rx0 + 1, 3000),
		"frame(): a frame to the guest from a non-vif port offered as RX_EXTERNAL, then delivered",
		"ext %lu local %lu len %u", c.frames[PV_ACCEL_FRAME_RX_EXTERNAL],
		c.frames[PV_ACCEL_FRAME_RX_LOCAL], c.last_len);

	/* Another vif comes and goes: vifs_changed, and the local MACs say so. */
	ch0 = seen().vifs_changed;
	g2 = pv_guest_register(H.h->hv_path, "acc2", 16, 16, &e);
	T_ASSERT(g2, "second guest");
	vr.domid = pv_guest_domid(g2);
	host_sync(H.h, vif2_fn, &vr);
	T_CHECK(vr.rc == 0 && RUN_UNTIL(seen().vifs_changed > ch0, 3000) &&
		seen().local_macs == 1 && !memcmp(seen().first_mac, mac2, 6),
		"vifs_changed(): a new vif, its MAC among the local ones", "rc %d changes %lu macs %u",
		vr.rc, seen().vifs_changed - ch0, seen().local_macs);
	ch0 = seen().vifs_changed;
	vr.destroy = 1;
	host_sync(H.h, vif2_fn, &vr);
	T_CHECK(RUN_UNTIL(seen().vifs_changed > ch0, 3000) && seen().local_macs == 0,
		"vifs_changed(): the vif gone, no other local MAC", "changes %lu macs %u",
		seen().vifs_changed - ch0, seen().local_macs);
	pv_guest_close(g2);

	/* show() and show_nic() through the control socket. */
	snprintf(line, sizeof(line), "J accel %u 0 show\n", dom);
	T_CHECK(ctl_request(line, out, sizeof(out)) == 0 && strstr(out, "\"seen_tag\": \"hello\"") &&
		strstr(out, "\"seen_frames_tx\""), "pvnetctl accel show: the plugin's own keys", "%s",
		out);
	T_CHECK(ctl_request("T nic " SEEN_NIC "\n", out, sizeof(out)) == 0 &&
		strstr(out, "seen_nic") && strstr(out, SEEN_NIC), "pvnetctl nic NIC: the plugin's show_nic",
		"%s", out);
	T_CHECK(ctl_request("T nic nosuch0\n", out, sizeof(out)) == -EINVAL,
		"pvnetctl nic: unknown NIC refused", "%s", out);
	detach();
	T_CHECK(xmit_seq(402) == 0 && RUN_UNTIL(sink_has(402), 3000) &&
		seen().frames[PV_ACCEL_FRAME_TX] == c.frames[PV_ACCEL_FRAME_TX],
		"frame(): nothing offered once the plugin is detached", "tx %lu",
		seen().frames[PV_ACCEL_FRAME_TX]);
	host_sync(H.h, seen_unreg_fn, NULL);
}

/* 100 attaches and 100 detaches while frames flow: each frame exactly once. */
static void test_churn(void)
{
	uint32_t first = 1000, seq = first;
	struct pv_netfront_stats st0 = stats(), st;
	unsigned long att0 = F.df.new_devices, busy_refusals = 0;
	int bad = 0, missing = 0, dup = 0;

	F.df.policy = PV_DUMMY_CYCLE;
	F.df.hold = 0;
	for (int cycle = 0; cycle < 200; cycle++) {
		int want_attached = cycle % 2 == 0;
		uint64_t end = now_ms() + 3000;

		if (want_attached)
			hs_write(F.be, PV_ACCEL_KEY_NIC, NIC);
		else
			hs_rm(F.be, PV_ACCEL_KEY_NIC);
		/*
		 * Send while the change travels through the store, and a little
		 * after; at most this cycle's share of the sequence numbers left
		 * (then only wait for the change), so that slow cycles (a
		 * sanitizer build, a loaded machine) cannot use them up and cut
		 * the later cycles short.
		 */
		int share = (int)((MAXSEQ - seq) / (uint32_t)(200 - cycle));

		for (int sent = 0; (sent < 20 || (F.df.dev != NULL) != want_attached) &&
		     now_ms() < end;) {
			int r;

			if ((sent >= 20 && sent >= share) || seq >= MAXSEQ) {
				pv_loop_once(F.loop, 5);
				continue;
			}
			r = xmit_seq(seq);

			if (r == 0) {
				seq++;
				sent++;
			} else if (r == -EBUSY) {
				busy_refusals++;
			} else {
				bad++;
			}
			pv_loop_once(F.loop, 0);
		}
	}
	hs_rm(F.be, PV_ACCEL_KEY_NIC);
	RUN_UNTIL(F.df.dev == NULL, 3000);
	/* Wait for the slow path to deliver everything. */
	for (uint64_t end = now_ms() + 5000; now_ms() < end;) {
		uint32_t s;

		run_for(20);
		sink_snapshot();
		for (s = first; s < seq && sink_seen[s] + F.wire[s] >= 1; s++)
			;
		if (s == seq)
			break;
	}
	sink_snapshot();
	for (uint32_t s = first; s < seq; s++) {
		int n = sink_seen[s] + F.wire[s];

		missing += n == 0;
		dup += n > 1;
	}
	st = stats();
	T_CHECK(F.df.new_devices - att0 == 100 && F.df.removes == F.df.new_devices,
		"churn: 100 attaches, 100 detaches", "attaches %lu removes %lu", F.df.new_devices - att0,
		F.df.removes);
	T_CHECK(bad == 0 && seq - first >= 4000, "churn: frames offered while attaching and detaching",
		"%u frames, %d errors", seq - first, bad);
	T_CHECK(missing == 0 && dup == 0, "churn: every frame delivered exactly once (fast or slow)",
		"%d missing, %d duplicated of %u", missing, dup, seq - first);
	T_CHECK(st.tx_dropped == st0.tx_dropped && st.accel_tx_return_dropped == 0 &&
		F.df.xmit_while_held == 0 && F.df.return_failed == 0,
		"churn: nothing dropped, no transmit while a frame was held",
		"dropped %llu, return_dropped %llu, xmit_while_held %lu",
		(unsigned long long)(st.tx_dropped - st0.tx_dropped),
		(unsigned long long)st.accel_tx_return_dropped, F.df.xmit_while_held);
	printf("# churn: %u frames, %llu sent fast, %llu held, %llu returned to the slow path, "
	       "%lu -EBUSY refusals\n", seq - first,
	       (unsigned long long)(st.accel_tx_sent - st0.accel_tx_sent),
	       (unsigned long long)(st.accel_tx_busy - st0.accel_tx_busy),
	       (unsigned long long)(st.accel_tx_returned - st0.accel_tx_returned), busy_refusals);
	T_CHECK(st.accel_tx_busy > st0.accel_tx_busy && st.accel_tx_sent > st0.accel_tx_sent,
		"churn: SENT and BUSY both exercised", "sent %llu busy %llu",
		(unsigned long long)st.accel_tx_sent, (unsigned long long)st.accel_tx_busy);
}

int main(void)
{
	struct pv_netfront_config cfg = { .name = "acc", .devid = 0 };
	int err;

	H.h = host_start();
	host_sync(H.h, host_setup, NULL);
	if (!H.host_ok) {
		printf("FAIL: host setup\n");
		return 1;
	}
	F.loop = pv_loop_new();
	F.df.wire = wire_cb;
	T_ASSERT(pv_dummy_front_register(&F.df) == 0, "register");
	cfg.run_dir = H.h->dir;
	F.nf = pv_netfront_new(F.loop, &cfg, &up_ops, NULL, &err);
	T_CHECK(F.nf && RUN_UNTIL(pv_netfront_connected(F.nf), 5000), "netfront connects",
		"err %d", err);
	if (!F.nf || !pv_netfront_connected(F.nf))
		return 1;
	snprintf(F.be, sizeof(F.be), "/local/domain/0/backend/vif/%u/0", pv_netfront_domid(F.nf));
	snprintf(F.fe, sizeof(F.fe), "/local/domain/%u/device/vif/0", pv_netfront_domid(F.nf));

	test_registry();
	test_plugin_check();
	test_discovery();
	test_renewal();
	test_get_fds();
	test_refusals();
	test_hooks();
	test_lend();
	test_stats();
	test_ctl();
	test_optional_ops();
	test_churn();

	/* Guest goes away while attached: netfront detaches, netback removes. */
	T_ASSERT(attach(), "attach");
	pv_netfront_free(F.nf);
	T_CHECK(F.df.dev == NULL && F.df.removes == F.df.new_devices, "free while attached: plugin removed",
		"dev %p", (void *)F.df.dev);
	for (int i = 0; i < 100 && back(-1, 0, 0).live; i++)
		usleep(10000);
	T_CHECK(back(-1, 0, 0).live == 0, "guest gone: backend plugin removed", "live %lu",
		back(-1, 0, 0).live);
	T_CHECK(pv_dummy_front_unregister() == 0, "unregister frontend plugin", "busy");
	host_sync(H.h, host_teardown, NULL);
	host_stop(H.h);
	pv_loop_free(F.loop);
	printf("%d passed, %d failed\n", t_passed, t_failed);
	return t_failed ? 1 : 0;
}
