/* SPDX-License-Identifier: MIT */
/*
 * test_pvnic_back.c - the backend half of the "pvnic" accelerator pair
 * (docs/accel-pvnic.md) against a real pvnet-nicd on a veth in a private
 * network namespace, with a fake frontend played by the test's main thread.
 *
 *   forked child, unshare(CLONE_NEWNET):
 *
 *   main thread: fake frontend          host thread: hv, xs, netback,
 *     guest library + xsc  --hv.sock-->   pvnic backend plugin --nic.sock--+
 *     VI mapped from PV_HV_ACCEL_FDS                                      |
 *        |  RX/TX descriptors, doorbell                 pvnet-nicd --port nA
 *        +------------------------------------------------>  nA  | veth
 *                                                            nB  AF_PACKET: the wire
 *
 * test_flows adds pvnetd's NIC port (the host VI as a switch port), so a
 * frame from the wire that no filter claims reaches the vif through the
 * bridge, as in pvnetd --nic: that is where flow filters are learned.
 *
 * Needs root, network namespaces, veth and build/pvnet-nicd: skips otherwise.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#pragma GCC diagnostic ignored "-Wunused-function"	/* the harness has more than we use */
#include "netback_harness.h"
#include "../lib/nicd.h"
#include "accel/pvnic.h"
#include "accel/pvnic_back.h"
#include "back/nicport.h"
#include "nic/nic_client.h"
#include "pvnet/accel.h"
#include "pvnet/nic.h"

/* PV_HV_ACCEL_FDS for "pvnic": 0 and its three descriptors, or -errno. */
static int pvnic_fds(struct pv_guest *g, unsigned int devid, int fds[PVNIC_NR_FDS])
{
	int n = pv_guest_accel_fds(g, PVNIC_NAME, devid, fds, PVNIC_NR_FDS);

	if (n > 0 && n != PVNIC_NR_FDS) {
		for (int i = 0; i < n; i++)
			close(fds[i]);
		return -EPROTO;
	}
	return n < 0 ? n : 0;
}

static const uint8_t mac_x[6] = { 0x02, 0, 0, 0, 0, 0xee };	/* behind nB */
static const uint8_t mac_spoof[6] = { 0x02, 0, 0, 0, 0, 0x66 };

static char run_dir[] = "/tmp/pvnet-pvnicb.XXXXXX";
static char sock_path[256];
static struct pvnic_back *PB;

/* ---- pvnet-nicd and the wire ---- */

static int if_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
	return rc;
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, s, strlen(s)) < 0)
			(void)0;
		close(fd);
	}
}

static int pkt_sock(const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htobe16(ETH_P_ALL) };
	int one = 1, fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A frame equal to @want on the wire within @ms? */
static int wire_wait(int fd, const uint8_t *want, uint32_t len, int ms)
{
	static uint8_t buf[4096];
	uint64_t end = tf_now_ms() + (uint64_t)ms;

	while (tf_now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == (ssize_t)len && !memcmp(buf, want, len))
			return 1;
	}
	return 0;
}

static uint32_t mk_test(uint8_t *b, const uint8_t *dst, const uint8_t *src, const char *tag,
			uint32_t len)
{
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	b[12] = 0x88;
	b[13] = 0xb5;
	for (uint32_t i = 14; i < len; i++)
		b[i] = (uint8_t)(i * 7);
	memcpy(b + 14, tag, strlen(tag));
	return len;
}

/* ---- host side ---- */

struct kv_req {
	const char *path;
	const char *val;	/* NULL: rm */
};

static void kv_fn(struct test_host *h, void *arg)
{
	struct kv_req *r = arg;

	if (r->val)
		xs_server_write(h->xs, r->path, r->val, strlen(r->val));
	else
		xs_server_rm(h->xs, r->path);
}

static void be_set(struct tf *t, const char *key, const char *val)
{
	char path[160];
	struct kv_req r = { .path = path, .val = val };

	snprintf(path, sizeof(path), "%s/%s", t->be, key);
	host_sync(t->nbh->h, kv_fn, &r);
}

static const char *be_get(struct tf *t, const char *key)
{
	static char out[4097];
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", t->be, key);
	if (xsc_read(t->xs, 0, path, out, sizeof(out)) < 0)
		return "";
	return out;
}

/* Wait until backend key @key reads @want ("" = absent); 1 if it did. */
static int be_wait(struct tf *t, const char *key, const char *want, unsigned int ms)
{
	uint64_t end = tf_now_ms() + ms;

	while (tf_now_ms() < end) {
		if (!strcmp(be_get(t, key), want))
			return 1;
		tf_sleep_ms(2);
	}
	return 0;
}

static void fe_set(struct tf *t, const char *key, const char *val)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", t->fe, key);
	xsc_write(t->xs, 0, path, val, strlen(val));
}

struct pb_req {
	struct pvnic_back_stats st;
	struct pv_hv_stats hv;
	const char *dir;
	int err;
};

static void pb_new_fn(struct test_host *h, void *arg)
{
	struct pb_req *r = arg;

	/* PV_HV_ACCEL_FDS reaches its get_fds through netback's accel host. */
	PB = pvnic_back_new(h->loop, h->hv, h->xs, r->dir, &r->err);
}

static void pb_free_fn(struct test_host *h, void *arg)
{
	(void)arg;
	pvnic_back_free(PB);
	PB = NULL;
}

static void pb_stats_fn(struct test_host *h, void *arg)
{
	struct pb_req *r = arg;

	if (PB)
		pvnic_back_stats(PB, &r->st);
	r->hv = h->hv->st;
}

static struct pb_req pb_stats(struct nbh *n)
{
	struct pb_req r;

	memset(&r, 0, sizeof(r));
	host_sync(n->h, pb_stats_fn, &r);
	return r;
}

struct vi_req {
	unsigned int domid;
	struct pvnic_vif_info vi;
	int rc;
};

static void pb_vif_fn(struct test_host *h, void *arg)
{
	struct vi_req *r = arg;

	(void)h;
	r->rc = PB ? pvnic_back_vif_info(PB, r->domid, 0, &r->vi) : -ENOENT;
}

/* The backend half's view of vif D.0 (zeroes if it serves no such vif). */
static struct pvnic_vif_info pb_vif(struct tf *t)
{
	struct vi_req r = { .domid = t->domid };

	host_sync(t->nbh->h, pb_vif_fn, &r);
	if (r.rc)
		memset(&r.vi, 0, sizeof(r.vi));
	return r.vi;
}

/* Wait until @cond (an expression of struct pvnic_vif_info v) holds; 1 if it did. */
#define VIF_WAIT(t, cond, ms) ({						\
	uint64_t _end = tf_now_ms() + (ms);					\
	struct pvnic_vif_info v = pb_vif(t);					\
	while (!(cond) && tf_now_ms() < _end) {					\
		tf_sleep_ms(2);							\
		v = pb_vif(t);							\
	}									\
	(cond) ? 1 : 0;								\
})

/* ---- the fake frontend's pages ---- */

#define FP0	2	/* frames FP0 .. FP0+63: the harness's unused TX buffer pages */
#define FP_HIGH	514	/* frames 514 .. 519: beyond the harness's (its vif's rings in use) */

struct ff {
	int refs[PVNIC_MAX_PAGES];
	unsigned int n;
	uint32_t ids[PVNIC_MAX_PAGES * 2];
	unsigned int nids;
};

static void ff_grant_at(struct tf *t, struct ff *f, unsigned int n, unsigned int base)
{
	f->n = n;
	for (unsigned int i = 0; i < n; i++)
		f->refs[i] = pv_guest_grant(t->g, 0, base + i, 0);
}

static void ff_grant(struct tf *t, struct ff *f, unsigned int n)
{
	ff_grant_at(t, f, n, FP0);
}

static int ff_end(struct tf *t, struct ff *f)
{
	int busy = 0;

	for (unsigned int i = 0; i < f->n; i++)
		if (f->refs[i] >= 0 && pv_guest_end_grant(t->g, (grant_ref_t)f->refs[i]) < 0)
			busy++;
	f->n = 0;
	return busy;
}

static void ff_refs_str(const struct ff *f, char *s, size_t size)
{
	size_t off = 0;

	s[0] = 0;
	for (unsigned int i = 0; i < f->n && off < size; i++)
		off += (size_t)snprintf(s + off, size - off, i ? " %d" : "%d", f->refs[i]);
}

static int ff_parse_ids(struct ff *f, const char *s)
{
	char *end;

	f->nids = 0;
	while (*s && f->nids < PVNIC_MAX_PAGES * 2) {
		f->ids[f->nids++] = (uint32_t)strtoul(s, &end, 10);
		if (end == s)
			return -1;
		s = end;
		while (*s == ' ')
			s++;
	}
	return (int)f->nids;
}

/* Offer @refs with accelstate 3; wait for backend accelstate @want. */
/* @chains: "1" as pvnet's frontend writes accel-rx-chain, NULL for a frontend without it. */
static int fe_offer_chains(struct tf *t, const char *refs, const char *want, const char *chains)
{
	char path[160];

	fe_set(t, PV_ACCEL_KEY_STATE, "1");
	if (chains) {
		fe_set(t, PVNIC_KEY_RX_CHAIN, chains);
	} else {
		snprintf(path, sizeof(path), "%s/%s", t->fe, PVNIC_KEY_RX_CHAIN);
		xsc_rm(t->xs, 0, path);
	}
	fe_set(t, PVNIC_KEY_BUF_REFS, refs);
	fe_set(t, PV_ACCEL_KEY_STATE, "3");
	return be_wait(t, PV_ACCEL_KEY_STATE, want, 3000);
}

static int fe_offer(struct tf *t, const char *refs, const char *want)
{
	return fe_offer_chains(t, refs, want, "1");
}

static struct pb_req pb_stats(struct nbh *n);

/* A bad offer: refused (backend accelstate 6) and counted as such. */
static int fe_bad_offer(struct tf *t, const char *refs)
{
	uint64_t bad = pb_stats(t->nbh).st.bad_refs, end;

	if (!fe_offer(t, refs, "6"))
		return 0;
	end = tf_now_ms() + 3000;
	while (tf_now_ms() < end) {
		if (pb_stats(t->nbh).st.bad_refs == bad + 1)
			return 1;
		tf_sleep_ms(2);
	}
	return 0;
}

/* ---- the tests ---- */

static void test_datapath(struct nbh *n, int wire)
{
	struct tf *t = tf_new(n, "pv1", 1);
	struct ff f = { 0 };
	char refs[4096];
	int fds[3] = { -1, -1, -1 }, e;
	struct vi_user u;
	struct pv_nic_event ev = { 0 };
	struct pv_nic_info_reply info0, info1;
	uint8_t fr[256];
	uint32_t len;
	int got, cfd;
	uint64_t end;

	T_CHECK(!strcmp(be_get(t, PV_ACCEL_KEY_FRONTEND), ""), "pvnic: no accel key, no accel-frontend",
		"%s", be_get(t, PV_ACCEL_KEY_FRONTEND));
	be_set(t, PV_ACCEL_KEY_NIC, PVNIC_NAME);
	T_CHECK(be_wait(t, PV_ACCEL_KEY_FRONTEND, PVNIC_NAME, 3000),
		"pvnic: accel=pvnic -> probe -> accel-frontend=pvnic", "'%s'",
		be_get(t, PV_ACCEL_KEY_FRONTEND));
	T_CHECK(pb_stats(n).st.vi_allocs == 1, "pvnic: probe allocated a VI", "allocs %llu",
		(unsigned long long)pb_stats(n).st.vi_allocs);
	e = pvnic_fds(t->g, 0, fds);
	T_CHECK(e == -EAGAIN, "pvnic: ACCEL_FDS before the handshake: -EAGAIN", "%d", e);
	e = pvnic_fds(t->g, 7, fds);
	T_CHECK(e == -ENOENT, "pvnic: ACCEL_FDS for an unknown vif: -ENOENT", "%d", e);

	be_set(t, PVNIC_KEY_FILTER, "mac");	/* all unicast to the vif's MAC to its VI */
	ff_grant(t, &f, PVNIC_NR_PAGES);
	ff_refs_str(&f, refs, sizeof(refs));
	T_CHECK(fe_offer(t, refs, "4"), "pvnic: 32 refs + accelstate 3 -> backend accelstate 4",
		"state '%s'", be_get(t, PV_ACCEL_KEY_STATE));
	cfd = nic_client_connect(sock_path);
	T_ASSERT(cfd >= 0 && nic_client_info(cfd, &info0) == 0, "nic info");
	close(cfd);
	T_CHECK(be_get(t, PVNIC_KEY_FEATURES)[0] &&
		strtoul(be_get(t, PVNIC_KEY_FEATURES), NULL, 10) == info0.features,
		"pvnic: accel-features = the NIC's INFO features", "'%s' vs %u",
		be_get(t, PVNIC_KEY_FEATURES), info0.features);
	T_CHECK(!pb_vif(t).mac_filter, "pvnic: no filter before the frontend reads the VI",
		"MAC filter installed");
	T_CHECK(ff_parse_ids(&f, be_get(t, PVNIC_KEY_BUF_IDS)) == 2 * PVNIC_NR_PAGES,
		"pvnic: accel-buf-ids has 2K ids", "'%s'", be_get(t, PVNIC_KEY_BUF_IDS));
	T_CHECK(be_get(t, PVNIC_KEY_VI)[0] && atoi(be_get(t, PVNIC_KEY_MTU)) == 1500,
		"pvnic: accel-vi and accel-mtu published", "vi '%s' mtu '%s'",
		be_get(t, PVNIC_KEY_VI), be_get(t, PVNIC_KEY_MTU));
	e = ff_end(t, &f);
	T_CHECK(e == PVNIC_NR_PAGES, "pvnic: mapped grants cannot be ended (pinned)", "busy %d", e);
	f.n = PVNIC_NR_PAGES;	/* they are still granted */

	e = pvnic_fds(t->g, 0, fds);
	T_CHECK(e == 0 && fds[0] >= 0 && fds[1] >= 0 && fds[2] >= 0, "pvnic: ACCEL_FDS -> 3 fds",
		"%d", e);
	if (e)
		goto out;
	{
		/* The reply's descriptors are pvnetd's dups: none leaks on either side. */
		int before, more[3], ok = 1, bad[2] = { -1, -1 };
		unsigned int nbad = 0;
		uint8_t shortb[2] = { 0, 0 };

		pb_stats(t->nbh);	/* the host thread is done with the last reply */
		before = count_fds();

		for (int i = 0; i < 50 && ok; i++) {
			ok = pvnic_fds(t->g, 0, more) == 0;
			for (int k = 0; ok && k < 3; k++)
				close(more[k]);
		}
		pb_stats(t->nbh);	/* the host thread is past its last reply (and its closes) */
		T_CHECK(ok && count_fds() == before, "pvnic: 50 ACCEL_FDS calls leak no descriptor",
			"ok %d fds %d -> %d", ok, before, count_fds());
		e = pv_guest_hv_call(pv_guest_hv_fd(t->g), PV_HV_ACCEL_FDS, shortb, sizeof(shortb),
				     NULL, 0, NULL, 0, bad, &nbad);
		T_CHECK(e == -EINVAL && nbad == 0, "pvnic: malformed ACCEL_FDS refused", "%d", e);
	}
	e = vi_user_open(&u, fds[0], fds[1], fds[2]);
	T_CHECK(e == 0 && u.sh->info.vi_id == (uint32_t)atoi(be_get(t, PVNIC_KEY_VI)),
		"pvnic: VI memory maps, its id is accel-vi", "%d", e);
	if (e) {
		for (int i = 0; i < 3; i++)
			close(fds[i]);
		goto out;
	}

	/* RX: a frame for the vif's MAC lands in buffer ids[0] = page 0, first half */
	vi_user_rx_post(&u, f.ids[0], 0, PV_NIC_BUF_SIZE);
	fe_set(t, PV_ACCEL_KEY_STATE, "4");	/* the frontend reads the VI now */
	T_CHECK(VIF_WAIT(t, v.mac_filter && v.fe_connected, 3000),
		"pvnic: accel-filter=mac, frontend Connected -> MAC filter installed", "no filter");
	len = mk_test(fr, t->mac, mac_x, "to-the-guest", 120);
	T_ASSERT(send(wire, fr, len, 0) == (ssize_t)len, "send on nB");
	got = 0;
	end = tf_now_ms() + 2000;
	while (!got && tf_now_ms() < end) {
		if (vi_user_event(&u, &ev))
			got = 1;
		else
			tf_sleep_ms(2);
	}
	T_CHECK(got && ev.type == PV_NIC_EV_RX && ev.buf_id == f.ids[0] && ev.len == len &&
		!memcmp(pv_guest_frame(t->g, FP0), fr, len),
		"pvnic: frame to the vif's MAC arrives in the guest's buffer (RX event)",
		"got %d type %u buf %u len %u", got, ev.type, ev.buf_id, ev.len);

	/* TX with the vif's MAC as source: out on the wire (buffer ids[3] = page 1, half 1) */
	len = mk_test(fr, mac_x, t->mac, "from-the-guest", 100);
	memcpy((uint8_t *)pv_guest_frame(t->g, FP0 + 1) + PV_NIC_BUF_SIZE, fr, len);
	vi_user_tx_post(&u, f.ids[3], 0, (uint16_t)len);
	vi_user_ring(&u);
	T_CHECK(wire_wait(wire, fr, len, 2000), "pvnic: TX from the vif's MAC goes out on the wire",
		"not seen");

	/* TX spoofed: dropped, ERROR event TX_SPOOF */
	len = mk_test(fr, mac_x, mac_spoof, "spoofed", 100);
	memcpy(pv_guest_frame(t->g, FP0 + 2), fr, len);
	vi_user_tx_post(&u, f.ids[4], 0, (uint16_t)len);
	vi_user_ring(&u);
	got = 0;
	end = tf_now_ms() + 2000;
	while (!got && tf_now_ms() < end) {
		if (vi_user_event(&u, &ev) && ev.type == PV_NIC_EV_ERROR)
			got = 1;
		else
			tf_sleep_ms(2);
	}
	T_CHECK(got && ev.code == PV_NIC_ERR_TX_SPOOF && !wire_wait(wire, fr, len, 300),
		"pvnic: spoofed source dropped by the NIC", "got %d code %u", got, ev.code);
	vi_user_close(&u);

	/* accel off: VI freed, filter gone, grants unmapped, keys deleted */
	cfd = nic_client_connect(sock_path);
	T_ASSERT(cfd >= 0 && nic_client_info(cfd, &info0) == 0, "nic info");
	be_set(t, PV_ACCEL_KEY_NIC, NULL);
	T_CHECK(be_wait(t, PV_ACCEL_KEY_FRONTEND, "", 3000) && be_wait(t, PVNIC_KEY_BUF_IDS, "", 10) &&
		be_wait(t, PVNIC_KEY_VI, "", 10) && be_wait(t, PVNIC_KEY_MTU, "", 10) &&
		be_wait(t, PV_ACCEL_KEY_STATE, "6", 10),
		"pvnic: accel off -> keys deleted, accelstate Closed", "fe '%s' ids '%.20s' state '%s'",
		be_get(t, PV_ACCEL_KEY_FRONTEND), be_get(t, PVNIC_KEY_BUF_IDS),
		be_get(t, PV_ACCEL_KEY_STATE));
	T_CHECK(pb_stats(n).st.vi_frees == 1 && pb_stats(n).st.live_vifs == 0,
		"pvnic: accel off -> VI freed", "frees %llu", (unsigned long long)pb_stats(n).st.vi_frees);
	T_CHECK(ff_end(t, &f) == 0, "pvnic: accel off -> grants unmapped, guest ends them", "busy");
	len = mk_test(fr, t->mac, mac_x, "no-filter", 120);
	T_ASSERT(send(wire, fr, len, 0) == (ssize_t)len, "send on nB");
	tf_sleep_ms(200);
	T_CHECK(cfd >= 0 && nic_client_info(cfd, &info1) == 0 &&
		info1.rx_unmatched_dropped > info0.rx_unmatched_dropped,
		"pvnic: accel off -> filter gone (frame for the MAC unmatched)", "unmatched %llu -> %llu",
		(unsigned long long)info0.rx_unmatched_dropped,
		(unsigned long long)info1.rx_unmatched_dropped);
	if (cfd >= 0)
		close(cfd);
	e = pvnic_fds(t->g, 0, fds);
	T_CHECK(e == -ENOENT, "pvnic: accel off -> ACCEL_FDS -ENOENT", "%d", e);
out:
	tf_free(t);
}

static void test_bad_refs(struct nbh *n)
{
	struct tf *t = tf_new(n, "pv2", 2);
	struct ff f = { 0 };
	char refs[2048];
	size_t off = 0;

	be_set(t, PV_ACCEL_KEY_NIC, PVNIC_NAME);
	T_ASSERT(be_wait(t, PV_ACCEL_KEY_FRONTEND, PVNIC_NAME, 3000), "accel-frontend");

	T_CHECK(fe_bad_offer(t, "garbage"), "pvnic: garbage refs -> accelstate 6", "'%s'",
		be_get(t, PV_ACCEL_KEY_STATE));
	T_CHECK(fe_bad_offer(t, ""), "pvnic: 0 refs -> accelstate 6", "'%s'",
		be_get(t, PV_ACCEL_KEY_STATE));
	T_CHECK(fe_bad_offer(t, "12 -3"), "pvnic: negative ref -> accelstate 6", "'%s'",
		be_get(t, PV_ACCEL_KEY_STATE));
	T_CHECK(fe_bad_offer(t, "99999999999999999999"), "pvnic: huge ref -> accelstate 6", "'%s'",
		be_get(t, PV_ACCEL_KEY_STATE));
	T_CHECK(fe_bad_offer(t, "1050 1051"), "pvnic: refs not granted -> accelstate 6", "'%s'",
		be_get(t, PV_ACCEL_KEY_STATE));
	ff_grant(t, &f, PVNIC_MAX_PAGES);
	ff_refs_str(&f, refs, sizeof(refs));
	off = strlen(refs);
	snprintf(refs + off, sizeof(refs) - off, " %d", f.refs[0] + 100);
	T_CHECK(fe_bad_offer(t, refs), "pvnic: 65 refs -> accelstate 6", "'%s'",
		be_get(t, PV_ACCEL_KEY_STATE));
	snprintf(refs, sizeof(refs), "%d %d", f.refs[0], f.refs[0]);
	T_CHECK(fe_bad_offer(t, refs), "pvnic: repeated ref -> accelstate 6", "'%s'",
		be_get(t, PV_ACCEL_KEY_STATE));
	T_CHECK(ff_end(t, &f) == 0, "pvnic: refused offers leave no grant mapped", "busy");
	struct pb_req r = pb_stats(n);
	T_CHECK(r.hv.gnt.maps == r.hv.gnt.unmaps && r.st.bad_refs >= 6,
		"pvnic: refused offers counted, every map undone", "maps %llu unmaps %llu bad %llu",
		(unsigned long long)r.hv.gnt.maps, (unsigned long long)r.hv.gnt.unmaps,
		(unsigned long long)r.st.bad_refs);

	/* a good offer after bad ones works, from a frontend that does not read RX chains */
	uint64_t allocs = pb_stats(n).st.vi_allocs;
	ff_grant(t, &f, PVNIC_MAX_PAGES);
	ff_refs_str(&f, refs, sizeof(refs));
	T_CHECK(fe_offer_chains(t, refs, "4", NULL) &&
		ff_parse_ids(&f, be_get(t, PVNIC_KEY_BUF_IDS)) == 2 * PVNIC_MAX_PAGES,
		"pvnic: 64 good refs after bad ones -> accelstate 4, 128 ids", "'%s'",
		be_get(t, PV_ACCEL_KEY_STATE));
	T_CHECK(pb_stats(n).st.vi_allocs == allocs + 1 &&
		!(strtoul(be_get(t, PVNIC_KEY_FEATURES), NULL, 10) & PV_NIC_FEAT_RX_CHAIN),
		"pvnic: a frontend without accel-rx-chain -> a new VI without RX chains, "
		"accel-features says so", "allocs %llu -> %llu features '%s'",
		(unsigned long long)allocs, (unsigned long long)pb_stats(n).st.vi_allocs,
		be_get(t, PVNIC_KEY_FEATURES));

	/* the frontend leaves (accelstate 6): its pages come back */
	fe_set(t, PV_ACCEL_KEY_STATE, "6");
	T_CHECK(be_wait(t, PVNIC_KEY_BUF_IDS, "", 3000) && ff_end(t, &f) == 0,
		"pvnic: frontend Closed -> buffers released, grants ended", "ids '%.20s'",
		be_get(t, PVNIC_KEY_BUF_IDS));

	/* guest death with the fast path up: VI freed, no grant left mapped */
	ff_grant(t, &f, PVNIC_NR_PAGES);
	ff_refs_str(&f, refs, sizeof(refs));
	T_CHECK(fe_offer(t, refs, "4"), "pvnic: reconnect -> accelstate 4", "'%s'",
		be_get(t, PV_ACCEL_KEY_STATE));
	T_CHECK(pb_stats(n).st.vi_allocs == allocs + 2 &&
		(strtoul(be_get(t, PVNIC_KEY_FEATURES), NULL, 10) & PV_NIC_FEAT_RX_CHAIN),
		"pvnic: accel-rx-chain = 1 again -> a VI with RX chains again", "allocs %llu features '%s'",
		(unsigned long long)pb_stats(n).st.vi_allocs, be_get(t, PVNIC_KEY_FEATURES));
	uint64_t frees = pb_stats(n).st.vi_frees;
	xsc_close(t->xs);
	pv_guest_close(t->g);
	uint64_t end = tf_now_ms() + 3000;
	while (tf_now_ms() < end && pb_stats(n).st.live_vifs)
		tf_sleep_ms(5);
	r = pb_stats(n);
	T_CHECK(r.st.live_vifs == 0 && r.st.vi_frees == frees + 1 && r.hv.gnt.maps == r.hv.gnt.unmaps,
		"pvnic: guest death -> VI freed, grants unmapped", "live %u frees %llu maps %llu unmaps %llu",
		r.st.live_vifs, (unsigned long long)r.st.vi_frees, (unsigned long long)r.hv.gnt.maps,
		(unsigned long long)r.hv.gnt.unmaps);
	free(t);
}

/* ---- flow filters and local MACs ---- */

#define IP_GUEST	0xc6120004u	/* 198.18.0.4 */
#define IP_OTHER	0xc6120005u	/* 198.18.0.5: the second guest */
#define IP_EXT		0xc6120064u	/* 198.18.0.100: behind nB */

static struct pv_nicport *NP;

static void np_open_fn(struct test_host *h, void *arg)
{
	int e;

	NP = pv_nicport_open(h->loop, ((struct nbh *)arg)->sw, run_dir, &e);
}

static void np_close_fn(struct test_host *h, void *arg)
{
	(void)h;
	(void)arg;
	pv_nicport_close(NP);
	NP = NULL;
}

static void np_conn_fn(struct test_host *h, void *arg)
{
	(void)h;
	*(int *)arg = NP && pv_nicport_connected(NP);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Ethernet + IPv4 (checksummed) + TCP or UDP header, @len bytes in all. */
static uint32_t mk_flow(uint8_t *b, const uint8_t *dst, const uint8_t *src, uint8_t proto,
			uint32_t sip, uint32_t dip, uint16_t sport, uint16_t dport, uint32_t len)
{
	uint32_t sum = 0;

	memset(b, 0, len);
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	b[12] = 0x08;
	b[14] = 0x45;
	b[16] = (uint8_t)((len - 14) >> 8);
	b[17] = (uint8_t)(len - 14);
	b[22] = 64;
	b[23] = proto;
	put32(b + 26, sip);
	put32(b + 30, dip);
	for (int i = 14; i < 34; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	b[24] = (uint8_t)(~sum >> 8);
	b[25] = (uint8_t)~sum;
	b[34] = (uint8_t)(sport >> 8);
	b[35] = (uint8_t)sport;
	b[36] = (uint8_t)(dport >> 8);
	b[37] = (uint8_t)dport;
	if (proto == 6) {
		b[46] = 5 << 4;
	} else {
		b[38] = (uint8_t)((len - 34) >> 8);
		b[39] = (uint8_t)(len - 34);
	}
	return len;
}

/* A frame equal to @want delivered on @t's netif RX ring (the slow path) within @ms? */
static int slow_rx(struct tf *t, const uint8_t *want, uint32_t len, unsigned int ms)
{
	static struct tf_rx rx;
	uint64_t end = tf_now_ms() + ms;

	while (tf_now_ms() < end)
		if (tf_recv(t, &rx, 50, 0) == 0 && rx.len == len && !memcmp(rx.data, want, len))
			return 1;
	return 0;
}

/* A frame of @len bytes from the wire to the guest's VI (RX event) within @ms? */
static int vi_rx(struct vi_user *u, uint32_t len, unsigned int ms)
{
	struct pv_nic_event ev;
	uint64_t end = tf_now_ms() + ms;

	while (tf_now_ms() < end) {
		if (!vi_user_event(u, &ev)) {
			tf_sleep_ms(2);
			continue;
		}
		vi_user_rx_post(u, ev.buf_id, 0, PV_NIC_BUF_SIZE);	/* the buffer again */
		if (ev.type == PV_NIC_EV_RX && ev.len == len)
			return 1;
	}
	return 0;
}

static uint32_t nic_filters_used(void)
{
	struct pv_nic_info_reply in = { 0 };
	int fd = nic_client_connect(sock_path);

	if (fd >= 0) {
		nic_client_info(fd, &in);
		close(fd);
	}
	return in.filters_used;
}

/* From the wire to the guest: sent on nB, arrives on the slow path (no filter claims it)? */
static int wire_to_slow(struct tf *t, int wire, uint8_t proto, uint32_t dip, uint16_t dport)
{
	uint8_t fr[128];
	uint32_t len = mk_flow(fr, t->mac, mac_x, proto, IP_EXT, dip, 40000, dport, 90);

	return send(wire, fr, len, 0) == (ssize_t)len && slow_rx(t, fr, len, 2000);
}

static void mac_str(const uint8_t *m, char *out)
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void test_local_macs(struct nbh *n, struct tf *t, struct tf *o)
{
	char mo[18], mt[18], m3[18], want[64];
	struct tf *third;

	mac_str(o->mac, mo);
	mac_str(t->mac, mt);
	T_CHECK(!strcmp(be_get(t, PVNIC_KEY_LOCAL_MACS), mo),
		"pvnic: accel-local-macs = the other vif's MAC (not its own)", "'%s' (own %s)",
		be_get(t, PVNIC_KEY_LOCAL_MACS), mt);
	third = tf_new(n, "pv6", 6);
	mac_str(third->mac, m3);
	snprintf(want, sizeof(want), "%s %s", m3, mo);	/* newest vif first */
	T_CHECK(be_wait(t, PVNIC_KEY_LOCAL_MACS, want, 3000),
		"pvnic: a new vif on the host -> accel-local-macs updated", "'%s' want '%s'",
		be_get(t, PVNIC_KEY_LOCAL_MACS), want);
	tf_free(third);
	T_CHECK(be_wait(t, PVNIC_KEY_LOCAL_MACS, mo, 3000),
		"pvnic: that guest dies -> its MAC leaves accel-local-macs", "'%s'",
		be_get(t, PVNIC_KEY_LOCAL_MACS));
}

static void test_flows(struct nbh *n, int wire)
{
	struct tf *t = tf_new(n, "pv4", 4), *o = tf_new(n, "pv5", 5);
	struct pvnic_vif_info v0, v1;
	struct pv_vif_info ni0, ni1;
	struct vi_user u;
	struct ff f = { 0 };
	int fds[3] = { -1, -1, -1 }, up = 0, e;
	uint8_t fr[128];
	uint32_t len, f0 = nic_filters_used();
	char refs[256];

	T_ASSERT(tf_connect(t, NULL) == 0 && tf_connect(o, NULL) == 0, "both vifs connected");
	host_sync(n->h, np_open_fn, n);
	for (uint64_t end = tf_now_ms() + 3000; !up && tf_now_ms() < end; tf_sleep_ms(5))
		host_sync(n->h, np_conn_fn, &up);
	T_ASSERT(up, "pvnetd's NIC port on the bridge");

	be_set(t, PVNIC_KEY_MAX_FILTERS, "3");
	be_set(t, PV_ACCEL_KEY_NIC, PVNIC_NAME);
	T_ASSERT(be_wait(t, PV_ACCEL_KEY_FRONTEND, PVNIC_NAME, 3000), "accel-frontend");
	test_local_macs(n, t, o);
	ff_grant_at(t, &f, 4, FP_HIGH);
	ff_refs_str(&f, refs, sizeof(refs));
	T_ASSERT(fe_offer(t, refs, "4") && ff_parse_ids(&f, be_get(t, PVNIC_KEY_BUF_IDS)) == 8,
		 "handshake");
	e = pvnic_fds(t->g, 0, fds);
	T_ASSERT(e == 0 && vi_user_open(&u, fds[0], fds[1], fds[2]) == 0, "VI mapped");
	for (unsigned int i = 0; i < f.nids; i++)
		vi_user_rx_post(&u, f.ids[i], 0, PV_NIC_BUF_SIZE);
	fe_set(t, PV_ACCEL_KEY_STATE, "4");
	T_CHECK(VIF_WAIT(t, v.fe_connected && !v.mac_filter && v.quota == 3 && !v.mode_mac, 3000),
		"pvnic: default accel-filter is flow: no MAC filter; limits/max-filters=3 read",
		"quota %u mac %d", pb_vif(t).quota, pb_vif(t).mac_filter);

	/* Not the guest's address (yet): nothing installed. */
	T_CHECK(wire_to_slow(t, wire, 6, IP_GUEST, 5001) && pb_vif(t).flows == 0 &&
		pb_vif(t).st.filter_not_own_ip == 1,
		"pvnic: a flow to an address the guest never used installs nothing", "flows %u",
		pb_vif(t).flows);
	len = mk_flow(fr, mac_x, t->mac, 17, IP_GUEST, IP_EXT, 5353, 53, 80);
	T_CHECK(tf_send(t, fr, len, NULL) == 0 && VIF_WAIT(t, v.nips == 1, 2000),
		"pvnic: the guest's address learned from its slow-path TX", "nips %u",
		pb_vif(t).nips);

	/* A flow from the wire: one filter; its next frame goes to the VI. */
	T_CHECK(wire_to_slow(t, wire, 6, IP_GUEST, 5001) && VIF_WAIT(t, v.flows == 1, 2000) &&
		pb_vif(t).st.filter_installs == 1,
		"pvnic: a TCP flow from the wire (slow path) installs one filter", "flows %u",
		pb_vif(t).flows);
	len = mk_flow(fr, t->mac, mac_x, 6, IP_EXT, IP_GUEST, 40000, 5001, 90);
	T_ASSERT(send(wire, fr, len, 0) == (ssize_t)len, "send");
	T_CHECK(vi_rx(&u, len, 2000) && !slow_rx(t, fr, len, 200) &&
		pb_vif(t).st.filter_installs == 1 && pb_vif(t).flows == 1,
		"pvnic: the same flow again: on the VI (not netback), nothing installed", "installs %llu",
		(unsigned long long)pb_vif(t).st.filter_installs);

	/* What installs nothing: another address, non-IP, broadcast, another guest's frames. */
	v0 = pb_vif(t);
	T_CHECK(wire_to_slow(t, wire, 6, IP_OTHER, 5002), "slow path: to another address", "lost");
	len = mk_test(fr, t->mac, mac_x, "not-ip", 90);
	T_CHECK(send(wire, fr, len, 0) == (ssize_t)len && slow_rx(t, fr, len, 2000),
		"slow path: non-IP", "lost");
	len = mk_flow(fr, tf_bcast, mac_x, 17, IP_EXT, IP_GUEST, 40000, 5002, 90);
	T_CHECK(send(wire, fr, len, 0) == (ssize_t)len && slow_rx(t, fr, len, 2000),
		"slow path: broadcast UDP to the guest's address", "lost");
	len = mk_flow(fr, t->mac, o->mac, 6, IP_OTHER, IP_GUEST, 40000, 5002, 90);
	T_CHECK(tf_send(o, fr, len, NULL) == 0 && slow_rx(t, fr, len, 2000),
		"slow path: TCP from the other guest", "lost");
	v1 = pb_vif(t);
	T_CHECK(v1.flows == v0.flows && v1.st.filter_installs == v0.st.filter_installs &&
		v1.st.filter_not_own_ip == v0.st.filter_not_own_ip + 1,
		"pvnic: another address, non-IP, broadcast, another guest's TCP: nothing installed",
		"flows %u installs %llu", v1.flows, (unsigned long long)v1.st.filter_installs);

	/*
	 * The other guest, served too, claims the same address: netback
	 * refuses it (first come, first served: src/back/srcguard.h) before
	 * the plugin sees it, so the guest keeps its address, its filters and
	 * its fast path; nothing is counted as a conflict.
	 */
	be_set(o, PV_ACCEL_KEY_NIC, PVNIC_NAME);
	T_ASSERT(be_wait(o, PV_ACCEL_KEY_FRONTEND, PVNIC_NAME, 3000), "second vif served");
	v0 = pb_vif(t);
	T_ASSERT(tf_info(o, &ni0) == 0, "o's vif info");
	len = mk_flow(fr, mac_x, o->mac, 17, IP_GUEST, IP_EXT, 5353, 53, 80);
	e = tf_send(o, fr, len, NULL);
	T_CHECK(tf_info(o, &ni1) == 0 && ni1.st.tx_ip_conflict == ni0.st.tx_ip_conflict + 1 &&
		ni1.st.tx_packets == ni0.st.tx_packets && !ni1.addrs_fixed,
		"netback: counted on the claimant's vif as tx_ip_conflict (learned mode)",
		"conflict %llu -> %llu", (unsigned long long)ni0.st.tx_ip_conflict,
		(unsigned long long)ni1.st.tx_ip_conflict);
	/* The toolstack's ip key on o: the same frame is a spoof; o's own address passes. */
	be_set(o, "ip", "198.18.0.5");
	for (uint64_t end = tf_now_ms() + 2000; tf_info(o, &ni0) == 0 && !ni0.addrs_fixed &&
	     tf_now_ms() < end; tf_sleep_ms(5))
		;	/* netback's watch of the key runs from its loop */
	T_CHECK(ni0.addrs_fixed &&
		tf_send(o, fr, len, NULL) == NETIF_RSP_ERROR && tf_info(o, &ni1) == 0 &&
		ni1.st.tx_spoof_ipv4 == ni0.st.tx_spoof_ipv4 + 1,
		"netback: with o's ip key, t's address from o: tx_spoof_ipv4", "fixed %d spoof %llu",
		ni0.addrs_fixed, (unsigned long long)ni1.st.tx_spoof_ipv4);
	be_set(o, "ip", NULL);
	for (uint64_t end = tf_now_ms() + 2000; tf_info(o, &ni1) == 0 && ni1.addrs_fixed &&
	     tf_now_ms() < end; tf_sleep_ms(5))
		;
	T_CHECK(!ni1.addrs_fixed, "netback: ip key removed: learned again",
		"fixed %d", ni1.addrs_fixed);
	T_CHECK(e == NETIF_RSP_ERROR && pb_vif(o).nips == 1,
		"pvnic: another guest claiming the guest's address: refused by netback, not learned",
		"tf_send %d nips %u", e, pb_vif(o).nips);
	snprintf(refs, sizeof(refs), "%.64s", be_get(t, PVNIC_KEY_IP_OWNED));
	T_CHECK(!strcmp(refs, "198.18.0.4") && !strcmp(be_get(o, PVNIC_KEY_IP_OWNED), "198.18.0.5"),
		"pvnic: ip-owned: the address stays the first claimant's (the other has its own)",
		"'%s' / '%s'", refs, be_get(o, PVNIC_KEY_IP_OWNED));
	len = mk_flow(fr, t->mac, mac_x, 6, IP_EXT, IP_GUEST, 40000, 5001, 90);
	T_ASSERT(send(wire, fr, len, 0) == (ssize_t)len, "send");
	T_CHECK(vi_rx(&u, len, 2000) && !slow_rx(t, fr, len, 200) &&
		pb_vif(t).st.filter_ip_conflicts == v0.st.filter_ip_conflicts &&
		pb_vif(t).flows == v0.flows,
		"pvnic: the guest's flow stays on its VI: no conflict, no filter lost", "conflicts %llu flows %u",
		(unsigned long long)pb_vif(t).st.filter_ip_conflicts, pb_vif(t).flows);
	be_set(o, PV_ACCEL_KEY_NIC, NULL);
	T_ASSERT(be_wait(o, PV_ACCEL_KEY_FRONTEND, "", 3000), "second vif no longer served");

	/* UDP, then the quota (3): the oldest goes. */
	T_CHECK(wire_to_slow(t, wire, 17, IP_GUEST, 5004) && VIF_WAIT(t, v.flows == 2, 2000),
		"pvnic: a UDP flow installs a second filter", "flows %u", pb_vif(t).flows);
	T_CHECK(wire_to_slow(t, wire, 6, IP_GUEST, 5005) && VIF_WAIT(t, v.flows == 3, 2000) &&
		wire_to_slow(t, wire, 6, IP_GUEST, 5006) &&
		VIF_WAIT(t, v.st.filter_installs == 4 && v.st.filter_evictions == 1, 2000) &&
		pb_vif(t).flows == 3 && nic_filters_used() == f0 + 3,
		"pvnic: at the quota a new flow evicts one; count stays at the quota (NIC agrees)",
		"flows %u evictions %llu nic %u (was %u)", pb_vif(t).flows,
		(unsigned long long)pb_vif(t).st.filter_evictions, nic_filters_used(), f0);
	T_CHECK(wire_to_slow(t, wire, 6, IP_GUEST, 5001) &&
		VIF_WAIT(t, v.st.filter_evictions == 2 && v.flows == 3, 2000),
		"pvnic: the evicted one was the oldest: its flow is back on the slow path, reinstalled",
		"evictions %llu", (unsigned long long)pb_vif(t).st.filter_evictions);

	/* A flood of new flows: installs rate limited, the quota kept. */
	v0 = pb_vif(t);
	for (uint16_t p = 0; p < 40; p++) {
		len = mk_flow(fr, t->mac, mac_x, 6, IP_EXT, IP_GUEST, 40000, (uint16_t)(6000 + p), 90);
		send(wire, fr, len, 0);
	}
	VIF_WAIT(t, v.st.filter_installs + v.st.filter_rate_limited >=
		     v0.st.filter_installs + v0.st.filter_rate_limited + 40, 3000);
	v1 = pb_vif(t);
	T_CHECK(v1.st.filter_installs - v0.st.filter_installs <= 16 &&
		v1.st.filter_rate_limited - v0.st.filter_rate_limited >= 24 && v1.flows == 3,
		"pvnic: 40 new flows at once: installs rate limited, still 3 filters",
		"installs +%llu limited +%llu flows %u",
		(unsigned long long)(v1.st.filter_installs - v0.st.filter_installs),
		(unsigned long long)(v1.st.filter_rate_limited - v0.st.filter_rate_limited), v1.flows);

	/* The frontend leaves: every filter goes. */
	fe_set(t, PV_ACCEL_KEY_STATE, "6");
	T_CHECK(VIF_WAIT(t, !v.fe_connected && v.flows == 0 && !v.ready, 3000) &&
		nic_filters_used() == f0, "pvnic: frontend Closed -> its filters removed from the NIC",
		"flows %u nic %u (was %u)", pb_vif(t).flows, nic_filters_used(), f0);
	vi_user_close(&u);
	be_set(t, PV_ACCEL_KEY_NIC, NULL);
	be_wait(t, PV_ACCEL_KEY_FRONTEND, "", 3000);
	T_CHECK(!strcmp(be_get(t, PVNIC_KEY_LOCAL_MACS), ""), "pvnic: accel off -> accel-local-macs gone",
		"'%s'", be_get(t, PVNIC_KEY_LOCAL_MACS));
	host_sync(n->h, np_close_fn, NULL);
	tf_free(o);
	tf_free(t);
}

static void test_nic_death(struct nbh *n, const char *bin)
{
	struct tf *t = tf_new(n, "pv3", 3);
	struct ff f = { 0 };
	char refs[4096];

	be_set(t, PV_ACCEL_KEY_NIC, PVNIC_NAME);
	T_ASSERT(be_wait(t, PV_ACCEL_KEY_FRONTEND, PVNIC_NAME, 3000), "accel-frontend");
	ff_grant(t, &f, PVNIC_NR_PAGES);
	ff_refs_str(&f, refs, sizeof(refs));
	T_ASSERT(fe_offer(t, refs, "4"), "connected");
	nicd_kill(SIGKILL);
	T_CHECK(be_wait(t, PV_ACCEL_KEY_FRONTEND, "", 3000) && be_wait(t, PV_ACCEL_KEY_STATE, "6", 100),
		"pvnic: NIC killed -> accel-frontend removed, accelstate Closed", "fe '%s' state '%s'",
		be_get(t, PV_ACCEL_KEY_FRONTEND), be_get(t, PV_ACCEL_KEY_STATE));
	T_CHECK(ff_end(t, &f) == 0, "pvnic: NIC killed -> grants unmapped", "busy");
	fe_set(t, PV_ACCEL_KEY_STATE, "6");	/* the frontend detached */
	T_ASSERT(nicd_start_vis(bin, run_dir, sock_path, "8") == 0, "pvnet-nicd restarted");
	T_CHECK(be_wait(t, PV_ACCEL_KEY_FRONTEND, PVNIC_NAME, 4000),
		"pvnic: NIC back -> accel-frontend published again", "'%s'",
		be_get(t, PV_ACCEL_KEY_FRONTEND));
	ff_grant(t, &f, PVNIC_NR_PAGES);
	ff_refs_str(&f, refs, sizeof(refs));
	T_CHECK(fe_offer(t, refs, "4"), "pvnic: handshake again after the NIC restart", "'%s'",
		be_get(t, PV_ACCEL_KEY_STATE));
	tf_free(t);
}

static void run(const char *bin)
{
	struct nbh *n;
	struct pb_req r = { .dir = run_dir };
	int wire;

	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	if (system("ip link add nA type veth peer name nB >/dev/null 2>&1") != 0) {
		T_SKIP("pvnic_back", "cannot create a veth pair (ip, veth)");
		return;
	}
	T_ASSERT(if_up("nA") == 0 && if_up("nB") == 0, "veth up");
	if (!mkdtemp(run_dir)) {
		T_CHECK(0, "pvnic: mkdtemp", "%s", strerror(errno));
		return;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/%s", run_dir, PV_NIC_SOCK_NAME);
	T_CHECK(nicd_start_vis(bin, run_dir, sock_path, "8") == 0, "pvnic: pvnet-nicd up on nA", "no %s", sock_path);
	wire = pkt_sock("nB");
	T_ASSERT(wire >= 0, "socket on nB");

	n = nbh_start();
	host_sync(n->h, pb_new_fn, &r);
	T_CHECK(PB && pb_stats(n).st.nic_up, "pvnic: backend plugin registered, NIC connected",
		"err %d", r.err);
	if (PB && wire >= 0) {
		test_datapath(n, wire);
		test_bad_refs(n);
		test_flows(n, wire);
		test_nic_death(n, bin);
	}
	host_sync(n->h, pb_free_fn, NULL);
	nbh_stop(n);
	if (wire >= 0)
		close(wire);
	nicd_kill(SIGTERM);
	unlink(sock_path);
	rmdir(run_dir);
}

int main(void)
{
	return nicd_test_main("pvnic_back", run);
}
