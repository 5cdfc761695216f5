/* SPDX-License-Identifier: MIT */
/*
 * pvnic_back.c - the backend half of the "pvnic" accelerator pair (see
 * pvnic_back.h and docs/accel-pvnic.md).
 *
 * Theory of Operation
 * ===================
 *
 *   probe(vif)  --> accel-local-macs, VI_ALLOC (RX chains if the NIC has
 *                   them), SET_MAC(vif MAC),
 *                   accel-frontend = pvnic, accelstate InitWait
 *   frontend accelstate 3 --> accel-rx-chain asks for RX chains otherwise
 *                   than the VI has them: VI_FREE, VI_ALLOC, SET_MAC;
 *                   read accel-filter, limits/max-filters and
 *                   accel-buf-refs, pv_gnt_map each (kept), BUF_MAP(guest
 *                   memfd, chunks 2f, 2f+1), accel-buf-ids, accel-vi,
 *                   accel-mtu, accel-features, accelstate 4
 *   frontend accelstate 4 --> filters on: "mac" mode FILTER_ADD(dst MAC);
 *                   "flow" mode (default) learns them from frame()
 *   frontend leaves 3/4 --> FILTER_DEL each, buffers and grants released,
 *                   accelstate InitWait
 *   remove(vif) --> VI_FREE (its filters and buffers go with it),
 *                   pv_gnt_unmap all, keys deleted
 *   NIC gone    --> every vif: grants unmapped, accel-frontend removed,
 *                   accelstate Closed; reconnect every second, then probe's
 *                   work again
 *
 * Flow filters, as the original's netback did: netback offers every frame
 * it delivers to a served vif (frame()).  One that came from outside the
 * host's vifs (the NIC's host VI: the flow is not filtered yet), unicast
 * to the vif's MAC, IPv4 TCP or UDP, not a fragment, to one of the guest's
 * own addresses, gets a filter (protocol, destination IPv4, destination
 * port) steering the rest of its flow to the VI.  At most
 * limits/max-filters (default 8, bounded by the NIC's per-VI quota) per
 * vif; when full the oldest is evicted (FIFO: a flow evicted while still
 * active comes back through the slow path and is installed again).
 * Installs are blocking round trips on the control socket, so they are
 * rate limited per vif and in all (token buckets), and the per-frame work
 * is a header parse and a look-up in a small array.
 *
 * The guest's own addresses, and the conflict rule.  They are netback's,
 * not learned here: "ip-owned" in the backend directory (the `ip` key's,
 * or learned first come first served across the vifs of this pvnetd,
 * src/back/srcguard.h), re-read when netback passes a TX frame claiming
 * an address we do not know yet (before the frame goes on: synchronous)
 * and when the key changes (watched).  The same set is programmed into
 * the NIC's TX check for the VI (SET_ADDRS), so the fast path refuses
 * what the slow path refuses.  The rule: no frame from one guest can
 * move another guest's traffic off its fast path.  It holds because a
 * frame claiming an address another vif owns is dropped by netback
 * before frame() sees it (counted tx_ip_conflict / tx_spoof_* on the
 * sender's vif) and by the NIC on the fast path, so the owner's set, and
 * with it its filters, never changes because of another guest.  An
 * address two served vifs both own (only the toolstack can do that,
 * giving two vifs the same `ip`) gets no filter (filter_ip_conflicts):
 * which guest a flow is for is unknown, and its flows stay slow.
 *
 * Any failure is logged and sets accelstate Closed; the slow path is never
 * touched.  Runs on pvnetd's loop thread, as every backend plugin.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "accel/pvnic.h"
#include "accel/pvnic_back.h"
#include "lib/log.h"
#include "lib/srcguard.h"
#include "lib/storm.h"
#include "nic/nic_client.h"
#include "pvnet/accel.h"
#include "pvnet/xen.h"

#define PB_PATH_MAX	256
#define PB_REFS_MAX	(PVNIC_MAX_PAGES * 12 + 16)
#define PB_LOCAL_MACS_STR	(PVNIC_LOCAL_MACS_MAX * 18 + 1)

struct pvnic_back;

/* One installed flow filter. */
struct pb_flow {
	uint32_t ip;		/* destination, network order */
	uint16_t port;		/* destination, host order */
	uint8_t proto;		/* 6 or 17 */
	uint32_t id;		/* the NIC's filter id */
};

/* A token bucket, in thousandths of a token. */
struct pb_bucket {
	uint64_t last_ms;
	uint64_t milli;
};

struct pvnic_vif {
	struct pvnic_back *pb;
	struct pv_accel_back_vif *vif;
	struct pvnic_vif *next;
	unsigned int domid, devid;
	uint8_t mac[6];
	char be[PB_PATH_MAX], fe[PB_PATH_MAX];
	char token[48];
	int watched;

	/* the VI (vi_ok: allocated on the current control connection) */
	int vi_ok;
	struct nic_client_vi vi;
	uint32_t vi_flags;		/* PV_NIC_VI_F_* the VI was allocated with */

	/* filters: only while the frontend reads the VI (fe_connected) */
	int fe_connected;
	int mode_mac;			/* accel-filter = "mac" */
	unsigned int quota;		/* flow filters at most (limits/max-filters) */
	int mac_filter_ok;
	uint32_t mac_filter_id;
	struct pb_flow flows[PVNIC_FILTERS_MAX];	/* FIFO: oldest at flow_head */
	unsigned int nflows, flow_head;
	struct pb_bucket rate;
	struct pv_sg_addrs addrs;	/* the guest's own: netback's ip-owned */
	uint64_t addrs_programmed;	/* SET_ADDRS sent */
	char addrs_token[48];
	int addrs_watched;
	uint32_t storm[2][2];		/* the VI's storm limits: [bcast, mcast][pps, burst] */
	int storm_set;			/* programmed into the NIC (SET_STORM) */
	char storm_token[48];
	int storm_watched;
	struct pvnic_vif_stats st;
	char *local_macs;		/* accel-local-macs as last written */
	int local_macs_ok;

	/* the guest's pages (ready: handshake done) */
	int ready;
	unsigned int nr_pages;
	struct pv_accel_gnt maps[PVNIC_MAX_PAGES];
	uint32_t buf_ids[PVNIC_MAX_PAGES * PVNIC_BUFS_PER_PAGE];
	int failed;		/* refused the frontend's last accelstate 3 */
};

struct pvnic_back {
	struct pv_loop *loop;
	struct pv_hv *hv;
	struct xs_server *xs;
	char sock_path[PATH_MAX];
	int cfd;
	struct pv_watch *cfd_w;
	struct pv_watch *retry_t;
	int retry_logged;
	uint32_t mtu;
	uint32_t features;		/* INFO's PV_NIC_FEAT_* */
	uint32_t vi_filters;		/* INFO's per-VI filter quota */
	struct pb_bucket rate;		/* flow filter installs, all vifs */
	struct pv_ratelimit rl;
	struct pvnic_vif *vifs;
	int registered;
	struct pvnic_back_stats st;
};

static void pb_nic_down(struct pvnic_back *pb, const char *why);

/* ---- xenstore helpers ---- */

static int pb_write(struct pvnic_vif *pv, const char *dir, const char *key, const char *val)
{
	char path[PB_PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return pv_accel_xs_write(pv->pb->xs, path, val);
}

static void pb_rm(struct pvnic_vif *pv, const char *key)
{
	char path[PB_PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", pv->be, key);
	pv_accel_xs_rm(pv->pb->xs, path);
}

static void pb_rm_keys(struct pvnic_vif *pv)
{
	pb_rm(pv, PVNIC_KEY_BUF_IDS);
	pb_rm(pv, PVNIC_KEY_VI);
	pb_rm(pv, PVNIC_KEY_MTU);
	pb_rm(pv, PVNIC_KEY_FEATURES);
	pb_rm(pv, PVNIC_KEY_SRC_ADDRS);
}

static int pb_transport_err(int e)
{
	return e == -EPIPE || e == -ECONNRESET || e == -ENOTCONN || e == -ETIMEDOUT ||
	       e == -EBADF || e == -ECONNREFUSED;
}

/* A control request failed: if the transport broke, the NIC is gone. */
static int pb_ctl_err(struct pvnic_back *pb, int e, const char *what)
{
	if (pb_transport_err(e))
		pb_nic_down(pb, what);
	return e;
}

/* ---- per-vif buffers (the guest's pages) ---- */

/* Give back the guest's pages: buffer entries first, then the grants. */
static void pb_bufs_release(struct pvnic_vif *pv, int unmap_entries)
{
	struct pvnic_back *pb = pv->pb;

	if (unmap_entries && pv->vi_ok && pv->ready && pb->cfd >= 0) {
		unsigned int n = pv->nr_pages * PVNIC_BUFS_PER_PAGE;

		for (unsigned int i = 0; i < n && pb->cfd >= 0; i += PV_NIC_MAP_MAX) {
			unsigned int k = n - i < PV_NIC_MAP_MAX ? n - i : PV_NIC_MAP_MAX;
			int e = nic_client_buf_unmap(pb->cfd, pv->vi.vi_id, pv->buf_ids + i, k);

			if (e)
				pv_warn("vif%u.%u: pvnic: BUF_UNMAP: %s", pv->domid, pv->devid,
					strerror(-e));
		}
	}
	for (unsigned int i = 0; i < PVNIC_MAX_PAGES; i++)
		pv_accel_gnt_unmap(pb->hv, &pv->maps[i]);
	pv->nr_pages = 0;
	pv->ready = 0;
}

/* Close the VI on our side (the NIC frees it with VI_FREE or our connection). */
static void pb_vi_close_fds(struct pvnic_vif *pv)
{
	if (pv->vi.mem_fd >= 0)
		close(pv->vi.mem_fd);
	if (pv->vi.doorbell_fd >= 0)
		close(pv->vi.doorbell_fd);
	if (pv->vi.wake_fd >= 0)
		close(pv->vi.wake_fd);
	pv->vi.mem_fd = pv->vi.doorbell_fd = pv->vi.wake_fd = -1;
	pv->vi_ok = 0;
	pv->fe_connected = 0;
	pv->mac_filter_ok = 0;	/* the NIC dropped them with the VI */
	pv->nflows = pv->flow_head = 0;
}

/* VI_FREE (its filters go with it) if the NIC is there, then the grants unmapped. */
static void pb_vi_teardown(struct pvnic_vif *pv)
{
	struct pvnic_back *pb = pv->pb;
	int e;

	if (pv->vi_ok && pb->cfd >= 0) {
		e = nic_client_vi_free(pb->cfd, pv->vi.vi_id);
		if (e)
			pv_warn("vif%u.%u: pvnic: VI_FREE: %s", pv->domid, pv->devid, strerror(-e));
		else
			pb->st.vi_frees++;
	}
	/* The VI (with its buffer entries) is gone: now the guest may have its pages back. */
	pb_bufs_release(pv, 0);
	pb_vi_close_fds(pv);
}

/* ---- filters ---- */

/*
 * Filters steer traffic from the wire to the VI, so they exist only while
 * a frontend half reads the VI: from its accelstate 4 until it leaves (a
 * filter without a reader would black-hole the guest's traffic).
 */
static void pb_mac_filter_on(struct pvnic_vif *pv)
{
	struct pvnic_back *pb = pv->pb;
	int e;

	if (pv->mac_filter_ok || pb->cfd < 0)
		return;
	e = nic_client_filter_mac(pb->cfd, pv->vi.vi_id, pv->mac, &pv->mac_filter_id);
	if (e) {
		pv->st.filter_failures++;
		pv_warn("vif%u.%u: pvnic: FILTER_ADD (MAC): %s", pv->domid, pv->devid, strerror(-e));
		pb_ctl_err(pb, e, "FILTER_ADD failed");
		return;
	}
	pv->mac_filter_ok = 1;
	pv->st.filter_installs++;
}

static void pb_filter_del(struct pvnic_vif *pv, uint32_t id)
{
	struct pvnic_back *pb = pv->pb;
	int e;

	if (pb->cfd < 0)
		return;
	e = nic_client_filter_del(pb->cfd, pv->vi.vi_id, id);
	if (e) {
		pv_warn("vif%u.%u: pvnic: FILTER_DEL: %s", pv->domid, pv->devid, strerror(-e));
		pb_ctl_err(pb, e, "FILTER_DEL failed");
	}
}

/* Take the oldest flow filter off the table; its id. */
static uint32_t pb_flow_pop(struct pvnic_vif *pv)
{
	uint32_t id = pv->flows[pv->flow_head].id;

	pv->flow_head = (pv->flow_head + 1) % PVNIC_FILTERS_MAX;
	pv->nflows--;
	return id;
}

/* Every filter of the vif off (the VI stays): the frontend left. */
static void pb_filters_off(struct pvnic_vif *pv)
{
	pv->fe_connected = 0;
	if (pv->mac_filter_ok) {
		pv->mac_filter_ok = 0;
		pb_filter_del(pv, pv->mac_filter_id);
	}
	while (pv->nflows)	/* (a FILTER_DEL finding the NIC gone empties the table) */
		pb_filter_del(pv, pb_flow_pop(pv));
	pv->flow_head = 0;
}

static uint64_t pb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Take a token from @b (@burst tokens, @per_s refilled a second); 1 if there was one. */
static int pb_bucket_take(struct pb_bucket *b, uint64_t now, unsigned int burst,
			  unsigned int per_s)
{
	uint64_t cap = (uint64_t)burst * 1000;

	if (!b->last_ms) {
		b->milli = cap;
	} else {
		b->milli += (now - b->last_ms) * per_s;
		if (b->milli > cap)
			b->milli = cap;
	}
	b->last_ms = now;
	if (b->milli < 1000)
		return 0;
	b->milli -= 1000;
	return 1;
}

/* An address a guest may call its own: unicast, not 0.0.0.0 (network order). */
static int pb_ip_unicast(uint32_t ip_be)
{
	const uint8_t *b = (const uint8_t *)&ip_be;

	return ip_be != 0 && ip_be != 0xffffffffu && (b[0] & 0xf0) != 0xe0;
}

static int pb_ip_own(const struct pvnic_vif *pv, uint32_t ip)
{
	struct pv_sg_addr a;

	pv_sg_addr_v4(&a, (const uint8_t *)&ip);
	return pv_sg_has(&pv->addrs, &a);
}

/*
 * pb_l3() - the EtherType and L3 offset of a frame's header copy, after
 * at most one 802.1Q tag.  Return: the EtherType, 0 if too short.
 */
static uint16_t pb_l3(const uint8_t *h, uint32_t hl, uint32_t *off)
{
	uint16_t type;

	if (hl < 14)
		return 0;
	type = (uint16_t)(h[12] << 8 | h[13]);
	*off = 14;
	if (type == 0x8100) {
		if (hl < 18)
			return 0;
		type = (uint16_t)(h[16] << 8 | h[17]);
		*off = 18;
	}
	return type;
}

/*
 * The guest's own addresses are netback's: "ip-owned" in the backend
 * directory, what the vif owns by its `ip` key or learned first come
 * first served (src/back/srcguard.h).  pvnic_back keeps no learning of
 * its own, so the flow filters and the NIC's TX check follow the one
 * rule the slow path enforces.  Programmed into the NIC (SET_ADDRS) on
 * every change while the VI exists.
 */
static void pb_addrs_program(struct pvnic_vif *pv)
{
	struct pvnic_back *pb = pv->pb;
	uint8_t a[PV_SG_ADDRS_MAX][16];
	int e;

	if (!pv->vi_ok || pb->cfd < 0)
		return;
	if (!(pb->features & PV_NIC_FEAT_SRC_ADDRS)) {
		pv_log_rl(&pb->rl, PV_LOG_WARN, "vif%u.%u: pvnic: the NIC has no SET_ADDRS: "
			  "the fast path checks source MACs only", pv->domid, pv->devid);
		return;
	}
	for (unsigned int i = 0; i < pv->addrs.n; i++)
		memcpy(a[i], pv->addrs.a[i].a, 16);
	e = nic_client_set_addrs(pb->cfd, pv->vi.vi_id, 1, (const uint8_t (*)[16])a, pv->addrs.n);
	if (e) {
		pv_warn("vif%u.%u: pvnic: SET_ADDRS: %s", pv->domid, pv->devid, strerror(-e));
		pb_ctl_err(pb, e, "SET_ADDRS failed");
		return;
	}
	pv->addrs_programmed++;
	{	/* what the NIC enforces now, for the frontend (accel-src-addrs) */
		char s[PV_SG_ADDRS_MAX * PV_SG_ADDR_STR + 1];

		if (pv_sg_addrs_format(&pv->addrs, s, sizeof(s)) >= 0 && pv->vif)
			pb_write(pv, pv->be, PVNIC_KEY_SRC_ADDRS, s);
	}
}

/*
 * Storm control on the fast path: the VI gets its vif's broadcast and
 * multicast limits, the backend keys storm-broadcast and storm-multicast
 * netback reads for the switch ("PPS" or "PPS,BURST", lib/storm.h's
 * defaults when absent or malformed), at the VI's allocation and whenever
 * the keys change (watched).  storm-unknown-unicast has no VI side: the
 * NIC floods nothing (src/nic/vi.c, "Storm control").
 */
static const char *const pb_storm_keys[2] = { "storm-broadcast", "storm-multicast" };

static void pb_storm_program(struct pvnic_vif *pv, int force)
{
	struct pvnic_back *pb = pv->pb;
	uint32_t lim[2][2];
	int e;

	for (int k = 0; k < 2; k++) {
		char path[PB_PATH_MAX + 32], val[64];

		lim[k][0] = pv_storm_default_pps(k ? PV_STORM_MCAST : PV_STORM_BCAST);
		lim[k][1] = 0;
		snprintf(path, sizeof(path), "%s/%s", pv->be, pb_storm_keys[k]);
		if (pv_accel_xs_read(pb->xs, path, val, sizeof(val)) >= 0 &&
		    pv_storm_parse(val, &lim[k][0], &lim[k][1]) < 0) {
			pv_log_rl(&pb->rl, PV_LOG_WARN, "vif%u.%u: pvnic: ignoring malformed %s '%.32s'",
				  pv->domid, pv->devid, pb_storm_keys[k], val);
			lim[k][0] = pv_storm_default_pps(k ? PV_STORM_MCAST : PV_STORM_BCAST);
			lim[k][1] = 0;
		}
	}
	if (!pv->vi_ok || pb->cfd < 0 || (!force && pv->storm_set && !memcmp(lim, pv->storm, sizeof(lim))))
		return;
	if (!(pb->features & PV_NIC_FEAT_TX_STORM)) {
		pv_log_rl(&pb->rl, PV_LOG_WARN, "vif%u.%u: pvnic: the NIC has no SET_STORM: "
			  "broadcasts on the fast path are not limited", pv->domid, pv->devid);
		return;
	}
	e = nic_client_set_storm(pb->cfd, pv->vi.vi_id, lim[0][0], lim[0][1], lim[1][0], lim[1][1]);
	if (e) {
		pv_warn("vif%u.%u: pvnic: SET_STORM: %s", pv->domid, pv->devid, strerror(-e));
		pb_ctl_err(pb, e, "SET_STORM failed");
		return;
	}
	memcpy(pv->storm, lim, sizeof(lim));
	pv->storm_set = 1;
}

static void pb_storm_watch_cb(struct xs_server *xs, const char *path, const char *token, void *arg)
{
	(void)xs;
	(void)path;
	(void)token;
	pb_storm_program(arg, 0);
}

/* Re-read ip-owned; program the NIC if it changed (or @force). */
static void pb_addrs_refresh(struct pvnic_vif *pv, int force)
{
	char path[PB_PATH_MAX + 32], val[PV_SG_ADDRS_MAX * PV_SG_ADDR_STR + 1];
	struct pv_sg_addrs set = { 0 };

	snprintf(path, sizeof(path), "%s/%s", pv->be, PVNIC_KEY_IP_OWNED);
	if (pv_accel_xs_read(pv->pb->xs, path, val, sizeof(val)) >= 0 &&
	    pv_sg_addrs_parse(val, &set) < 0) {
		pv_log_rl(&pv->pb->rl, PV_LOG_WARN, "vif%u.%u: pvnic: bad " PVNIC_KEY_IP_OWNED " '%.64s'",
			  pv->domid, pv->devid, val);
		set.n = 0;
	}
	if (!force && pv_sg_equal(&set, &pv->addrs))
		return;
	pv->addrs = set;
	pb_addrs_program(pv);
}

static void pb_addrs_watch_cb(struct xs_server *xs, const char *path, const char *token, void *arg)
{
	(void)xs;
	(void)path;
	(void)token;
	pb_addrs_refresh(arg, 0);
}

/*
 * The guest sent @h on its slow path, and netback let it through: every
 * address it claims is the vif's (srcguard.h).  One new to us means
 * netback has just learned it and written ip-owned: read it now, so the
 * NIC knows before the guest's next frame can take the fast path.
 */
static void pb_tx_seen(struct pvnic_vif *pv, const uint8_t *h, uint32_t hl, uint32_t len)
{
	struct pv_sg_frame fr;
	enum pv_sg_verdict v = pv_sg_parse(h, hl, len, pv->mac, &fr);

	if (v == PV_SG_NEED_MORE) {
		pb_addrs_refresh(pv, 0);
		return;
	}
	for (unsigned int i = 0; v == PV_SG_PASS && i < fr.nclaims; i++)
		if (!pv_sg_has(&pv->addrs, &fr.claim[i].addr)) {
			pb_addrs_refresh(pv, 0);
			return;
		}
}

/*
 * pb_flow_key() - the flow a frame to the guest belongs to
 * Return: 1 for unicast to @mac, IPv4 TCP or UDP, not a fragment, with a
 * destination port and the headers in @h; else 0.
 */
static int pb_flow_key(const uint8_t *h, uint32_t hl, const uint8_t mac[6], struct pb_flow *k)
{
	uint32_t off, ihl;

	if (hl < 14 || memcmp(h, mac, 6) || pb_l3(h, hl, &off) != 0x0800 || hl < off + 20 ||
	    (h[off] >> 4) != 4)
		return 0;
	ihl = (uint32_t)(h[off] & 0x0f) * 4;
	if (ihl < 20 || hl < off + ihl + 4)
		return 0;
	if ((h[off + 6] & 0x3f) || h[off + 7])	/* MF or an offset: the NIC matches no fragment */
		return 0;
	k->proto = h[off + 9];
	if (k->proto != 6 && k->proto != 17)
		return 0;
	memcpy(&k->ip, h + off + 16, 4);
	k->port = (uint16_t)(h[off + ihl + 2] << 8 | h[off + ihl + 3]);
	return k->port != 0 && pb_ip_unicast(k->ip);
}

static int pb_flow_find(const struct pvnic_vif *pv, const struct pb_flow *k)
{
	for (unsigned int i = 0; i < pv->nflows; i++) {
		const struct pb_flow *f = &pv->flows[(pv->flow_head + i) % PVNIC_FILTERS_MAX];

		if (f->ip == k->ip && f->port == k->port && f->proto == k->proto)
			return 1;
	}
	return 0;
}

/* Install a filter for flow @k: the oldest goes first when the vif is at its quota. */
static void pb_flow_install(struct pvnic_vif *pv, struct pb_flow *k)
{
	struct pvnic_back *pb = pv->pb;
	uint64_t now = pb_now_ms();
	int e;

	if (!pb_bucket_take(&pv->rate, now, PVNIC_RATE_VIF_BURST, PVNIC_RATE_VIF_PER_S) ||
	    !pb_bucket_take(&pb->rate, now, PVNIC_RATE_ALL_BURST, PVNIC_RATE_ALL_PER_S)) {
		pv->st.filter_rate_limited++;
		return;
	}
	if (pv->nflows >= pv->quota) {
		pv->st.filter_evictions++;
		pb_filter_del(pv, pb_flow_pop(pv));
		if (pb->cfd < 0)
			return;
	}
	e = nic_client_filter_ipv4(pb->cfd, pv->vi.vi_id, k->proto, k->ip, k->port, &k->id);
	if (e) {
		/* -EEXIST: another VI has that flow; -ENOSPC: the NIC's table is full. */
		pv->st.filter_failures++;
		pv_log_rl(&pb->rl, PV_LOG_WARN, "vif%u.%u: pvnic: FILTER_ADD (flow): %s", pv->domid,
			  pv->devid, strerror(-e));
		pb_ctl_err(pb, e, "FILTER_ADD failed");
		return;
	}
	pv->flows[(pv->flow_head + pv->nflows) % PVNIC_FILTERS_MAX] = *k;
	pv->nflows++;
	pv->st.filter_installs++;
}

/* A frame netback delivers to the guest from outside the host's vifs. */
static void pb_flow_learn(struct pvnic_vif *pv, const uint8_t *h, uint32_t hl)
{
	struct pb_flow k;

	if (!pb_flow_key(h, hl, pv->mac, &k) || pb_flow_find(pv, &k))
		return;
	if (!pb_ip_own(pv, k.ip)) {
		pv->st.filter_not_own_ip++;
		return;
	}
	for (const struct pvnic_vif *o = pv->pb->vifs; o; o = o->next)
		if (o != pv && pb_ip_own(o, k.ip)) {
			/* Two guests claim it: which one the flow is for is unknown. */
			pv->st.filter_ip_conflicts++;
			return;
		}
	pb_flow_install(pv, &k);
}

/* The vif's filter policy, from its backend keys, for the coming round. */
static void pb_filter_config(struct pvnic_vif *pv)
{
	struct pvnic_back *pb = pv->pb;
	char path[PB_PATH_MAX + 32], val[16], *end;
	unsigned long q = PVNIC_FILTERS_DEFAULT;

	pv->mode_mac = 0;
	snprintf(path, sizeof(path), "%s/%s", pv->be, PVNIC_KEY_FILTER);
	if (pv_accel_xs_read(pb->xs, path, val, sizeof(val)) >= 0) {
		if (!strcmp(val, "mac"))
			pv->mode_mac = 1;
		else if (strcmp(val, "flow"))
			pv_warn("vif%u.%u: pvnic: " PVNIC_KEY_FILTER " '%.15s' unknown: flow filters",
				pv->domid, pv->devid, val);
	}
	snprintf(path, sizeof(path), "%s/%s", pv->be, PVNIC_KEY_MAX_FILTERS);
	if (pv_accel_xs_read(pb->xs, path, val, sizeof(val)) >= 0) {
		errno = 0;
		q = strtoul(val, &end, 10);
		if (errno || end == val || *end || q == 0) {
			pv_warn("vif%u.%u: pvnic: bad " PVNIC_KEY_MAX_FILTERS " '%.15s'", pv->domid,
				pv->devid, val);
			q = PVNIC_FILTERS_DEFAULT;
		}
	}
	if (q > PVNIC_FILTERS_MAX)
		q = PVNIC_FILTERS_MAX;
	if (pb->vi_filters && q > pb->vi_filters)
		q = pb->vi_filters;
	pv->quota = (unsigned int)q;
}

/* ---- the local MACs: the other vifs of this host ---- */

static void pb_local_macs(struct pvnic_vif *pv)
{
	uint8_t macs[PVNIC_LOCAL_MACS_MAX][6];
	char s[PB_LOCAL_MACS_STR];
	unsigned int n = pv_accel_back_local_macs(pv->vif, macs, PVNIC_LOCAL_MACS_MAX);
	size_t off = 0;

	if (n > PVNIC_LOCAL_MACS_MAX) {
		pv_log_rl(&pv->pb->rl, PV_LOG_WARN, "vif%u.%u: pvnic: %u local MACs, only %u published",
			  pv->domid, pv->devid, n, PVNIC_LOCAL_MACS_MAX);
		n = PVNIC_LOCAL_MACS_MAX;
	}
	s[0] = '\0';
	for (unsigned int i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, sizeof(s) - off, "%s%02x:%02x:%02x:%02x:%02x:%02x",
					i ? " " : "", macs[i][0], macs[i][1], macs[i][2],
					macs[i][3], macs[i][4], macs[i][5]);
	if (pv->local_macs_ok && !strcmp(s, pv->local_macs))
		return;
	if (pv_accel_back_write(pv->vif, PVNIC_KEY_LOCAL_MACS, s) == 0) {
		memcpy(pv->local_macs, s, off + 1);
		pv->local_macs_ok = 1;
	}
}

/* ---- probe's work: a VI for the vif ---- */

/*
 * VI_ALLOC with @flags and SET_MAC(vif MAC).  Return: 0, or -errno with
 * the VI freed again (a transport error: the NIC is gone).
 */
static int pb_vi_open(struct pvnic_vif *pv, uint32_t flags)
{
	struct pvnic_back *pb = pv->pb;
	int e;

	if (pb->cfd < 0)
		return -ENOTCONN;
	e = nic_client_vi_alloc_flags(pb->cfd, flags, &pv->vi);
	if (e) {
		pv_warn("vif%u.%u: pvnic: VI_ALLOC: %s", pv->domid, pv->devid, strerror(-e));
		pv->vi.mem_fd = pv->vi.doorbell_fd = pv->vi.wake_fd = -1;
		return pb_ctl_err(pb, e, "VI_ALLOC failed");
	}
	pv->vi_ok = 1;
	pv->vi_flags = flags;
	pb->st.vi_allocs++;
	e = nic_client_set_mac(pb->cfd, pv->vi.vi_id, pv->mac, 0);
	if (e) {
		pv_warn("vif%u.%u: pvnic: SET_MAC: %s", pv->domid, pv->devid, strerror(-e));
		if (pb->cfd >= 0)
			pb_vi_teardown(pv);
		else
			pb_vi_close_fds(pv);
		return pb_ctl_err(pb, e, "setup failed");
	}
	pb_addrs_refresh(pv, 1);	/* the NIC's TX check: the vif's addresses */
	pb_storm_program(pv, 1);	/* and its storm limits */
	return 0;
}

/*
 * The VI's flags for a frontend: RX chains if the NIC has them and the
 * frontend said it reads them (accel-rx-chain = 1).  At probe the
 * frontend is not there yet: chains if the NIC has them (what pvnet's
 * frontend asks for), changed at its accelstate 3 if it asks otherwise.
 */
static uint32_t pb_vi_flags_for(struct pvnic_vif *pv, int fe_chains)
{
	return fe_chains && (pv->pb->features & PV_NIC_FEAT_RX_CHAIN) ? PV_NIC_VI_F_RX_CHAIN : 0;
}

static int pb_vi_setup(struct pvnic_vif *pv)
{
	struct pvnic_back *pb = pv->pb;
	int e;

	e = pb_vi_open(pv, pb_vi_flags_for(pv, 1));
	if (e)
		return e;
	e = pv_accel_back_publish_frontend(pv->vif, PVNIC_NAME);
	if (e) {
		pv_warn("vif%u.%u: pvnic: accel-frontend: %s", pv->domid, pv->devid, strerror(-e));
		goto fail;
	}
	pv_accel_back_set_state(pv->vif, XenbusStateInitWait);
	pv_info("vif%u.%u: pvnic: VI %u, waiting for the frontend", pv->domid, pv->devid,
		pv->vi.vi_id);
	return 0;
fail:
	if (pb->cfd >= 0)
		pb_vi_teardown(pv);
	else
		pb_vi_close_fds(pv);
	return pb_ctl_err(pb, e, "setup failed");
}

/* ---- the frontend's pages ---- */

/* Parse "R1 R2 ... RK": 1..PVNIC_MAX_PAGES decimals below @nr_grants, no repeats. */
int pvnic_back_parse_refs(const char *s, uint32_t nr_grants, grant_ref_t *refs)
{
	unsigned int n = 0;

	while (*s) {
		uint64_t v = 0;
		int digits = 0;

		if (n >= PVNIC_MAX_PAGES)
			return -E2BIG;
		for (; *s >= '0' && *s <= '9'; s++, digits++) {
			v = v * 10 + (uint64_t)(*s - '0');
			if (v >= nr_grants)
				return -ERANGE;
		}
		if (!digits || (*s && *s != ' ') || (*s == ' ' && !s[1]))
			return -EINVAL;
		if (v < PV_GNT_RESERVED)
			return -ERANGE;
		for (unsigned int i = 0; i < n; i++)
			if (refs[i] == v)
				return -EINVAL;
		refs[n++] = (grant_ref_t)v;
		if (*s == ' ')
			s++;
	}
	return n ? (int)n : -EINVAL;
}

static void pb_fail(struct pvnic_vif *pv, const char *what, int e)
{
	pv_warn("vif%u.%u: pvnic: %s: %s; fast path off", pv->domid, pv->devid, what,
		strerror(e < 0 ? -e : e));
	pv->failed = 1;
	if (pv->vif)
		pv_accel_back_set_state(pv->vif, XenbusStateClosed);
}

/*
 * The frontend's accelstate 3: if it reads RX chains otherwise than the
 * VI was given them at probe, a new VI (nothing is on the old one yet:
 * no buffers, no filters).
 */
static int pb_vi_match_frontend(struct pvnic_vif *pv)
{
	char path[PB_PATH_MAX + 32], val[8];
	uint32_t flags;
	int n;

	snprintf(path, sizeof(path), "%s/%s", pv->fe, PVNIC_KEY_RX_CHAIN);
	n = pv_accel_xs_read(pv->pb->xs, path, val, sizeof(val));
	flags = pb_vi_flags_for(pv, n == 1 && val[0] == '1');
	if (flags == pv->vi_flags)
		return 0;
	pb_vi_teardown(pv);
	pv_info("vif%u.%u: pvnic: a new VI, RX chains %s for this frontend", pv->domid, pv->devid,
		flags & PV_NIC_VI_F_RX_CHAIN ? "on" : "off");
	return pb_vi_open(pv, flags);
}

static void pb_bufs_connect(struct pvnic_vif *pv)
{
	struct pvnic_back *pb = pv->pb;
	char refs_s[PB_REFS_MAX], path[PB_PATH_MAX + 32], *ids_s, num[16];
	grant_ref_t refs[PVNIC_MAX_PAGES];
	uint32_t chunks[PVNIC_MAX_PAGES * PVNIC_BUFS_PER_PAGE];
	struct pv_accel_domain dom, *d = pv_accel_domain_info(pb->hv, pv->domid, &dom) ? NULL : &dom;
	unsigned int nbufs;
	size_t off = 0;
	int n, e;

	if (!d) {
		pb_fail(pv, "no such domain", ENOENT);
		return;
	}
	e = pb_vi_match_frontend(pv);
	if (e) {
		pb_fail(pv, "VI for the frontend's " PVNIC_KEY_RX_CHAIN, e);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", pv->fe, PVNIC_KEY_BUF_REFS);
	n = pv_accel_xs_read(pb->xs, path, refs_s, sizeof(refs_s));
	if (n < 0) {
		pb->st.bad_refs++;
		pb_fail(pv, "no " PVNIC_KEY_BUF_REFS, n);
		return;
	}
	if ((size_t)n >= sizeof(refs_s) - 1) {
		pb->st.bad_refs++;
		pb_fail(pv, PVNIC_KEY_BUF_REFS " too long", E2BIG);
		return;
	}
	n = pvnic_back_parse_refs(refs_s, d->nr_grants, refs);
	if (n < 0) {
		pb->st.bad_refs++;
		pb_fail(pv, "malformed " PVNIC_KEY_BUF_REFS, n);
		return;
	}
	for (int i = 0; i < n; i++) {
		e = pv_accel_gnt_map(pb->hv, pv->domid, refs[i], 0, &pv->maps[i]);
		if (e) {
			pb->st.bad_refs++;
			pb_bufs_release(pv, 0);
			pb_fail(pv, "grant map", e);
			return;
		}
		uint32_t frame = pv->maps[i].frame;

		chunks[2 * i] = 2 * frame;
		chunks[2 * i + 1] = 2 * frame + 1;
	}
	pv->nr_pages = (unsigned int)n;
	nbufs = (unsigned int)n * PVNIC_BUFS_PER_PAGE;
	for (unsigned int i = 0; i < nbufs; i += PV_NIC_MAP_MAX) {
		unsigned int k = nbufs - i < PV_NIC_MAP_MAX ? nbufs - i : PV_NIC_MAP_MAX;

		e = pb->cfd >= 0 ? nic_client_buf_map(pb->cfd, pv->vi.vi_id, d->mem_fd, chunks + i,
						      k, pv->buf_ids + i)
				 : -ENOTCONN;
		if (e) {
			/* Entries already mapped go with the VI: reset it to drop them. */
			pb->st.failures++;
			pv_warn("vif%u.%u: pvnic: BUF_MAP: %s", pv->domid, pv->devid, strerror(-e));
			if (i && pb->cfd >= 0 && !pb_transport_err(e)) {
				pv->ready = 1;	/* so that pb_bufs_release unmaps the first i */
				pv->nr_pages = i / PVNIC_BUFS_PER_PAGE;
				pb_bufs_release(pv, 1);
			}
			pb_bufs_release(pv, 0);
			pb_fail(pv, "BUF_MAP", e);
			pb_ctl_err(pb, e, "BUF_MAP failed");
			return;
		}
	}
	pv->ready = 1;

	ids_s = malloc(nbufs * 12 + 1);
	if (!ids_s) {
		pb_bufs_release(pv, 1);
		pb_fail(pv, "out of memory", ENOMEM);
		return;
	}
	ids_s[0] = '\0';
	for (unsigned int i = 0; i < nbufs; i++)
		off += (size_t)snprintf(ids_s + off, nbufs * 12 + 1 - off, i ? " %u" : "%u",
					pv->buf_ids[i]);
	e = pb_write(pv, pv->be, PVNIC_KEY_BUF_IDS, ids_s);
	free(ids_s);
	snprintf(num, sizeof(num), "%u", pv->vi.vi_id);
	if (!e)
		e = pb_write(pv, pv->be, PVNIC_KEY_VI, num);
	snprintf(num, sizeof(num), "%u", pb->mtu);
	if (!e)
		e = pb_write(pv, pv->be, PVNIC_KEY_MTU, num);
	snprintf(num, sizeof(num), "%u",
		 (pb->features & ~PV_NIC_FEAT_RX_CHAIN) |
			 (pv->vi_flags & PV_NIC_VI_F_RX_CHAIN ? PV_NIC_FEAT_RX_CHAIN : 0));
	if (!e)
		e = pb_write(pv, pv->be, PVNIC_KEY_FEATURES, num);
	if (e) {
		pb_bufs_release(pv, 1);
		pb_rm_keys(pv);
		pb_fail(pv, "writing keys", e);
		return;
	}
	pb_filter_config(pv);
	pv_accel_back_set_state(pv->vif, XenbusStateConnected);
	pb->st.connected_vifs++;
	pv_info("vif%u.%u: pvnic: fast path ready (VI %u, %u pages, %s filters, at most %u)",
		pv->domid, pv->devid, pv->vi.vi_id, pv->nr_pages, pv->mode_mac ? "MAC" : "flow",
		pv->mode_mac ? 1 : pv->quota);
}

/* An accelstate value: a decimal 0..99, else -1. */
int pvnic_back_parse_state(const char *val)
{
	char *end;
	long v = strtol(val, &end, 10);

	return end != val && *end == '\0' && v >= 0 && v < 100 ? (int)v : -1;
}

/* The frontend's accelstate changed (or its directory went). */
static void pb_fe_watch_cb(struct xs_server *xs, const char *path, const char *token, void *arg)
{
	struct pvnic_vif *pv = arg;
	char p[PB_PATH_MAX + 32], val[16];
	int state = -1;

	(void)path;
	(void)token;
	snprintf(p, sizeof(p), "%s/%s", pv->fe, PV_ACCEL_KEY_STATE);
	if (pv_accel_xs_read(xs, p, val, sizeof(val)) > 0)
		state = pvnic_back_parse_state(val);
	if (state != XenbusStateInitialised)
		pv->failed = 0;		/* a new 3 is a new chance */
	if (!pv->vi_ok)
		return;
	if (state == XenbusStateInitialised) {
		if (pv->failed)
			return;
		if (pv->ready) {	/* a new round without an intermediate state */
			pb_filters_off(pv);
			pb_bufs_release(pv, 1);
			pb_rm_keys(pv);
		}
		pb_bufs_connect(pv);
	} else if (state == XenbusStateConnected && pv->ready) {
		/* The frontend reads the VI now: traffic may be steered to it. */
		if (!pv->fe_connected) {
			pv->fe_connected = 1;
			if (pv->mode_mac)
				pb_mac_filter_on(pv);
		}
	} else if (state != XenbusStateConnected && pv->ready) {
		/* The frontend left: its traffic back to the bridge, its pages back to it. */
		pb_filters_off(pv);
		pb_bufs_release(pv, 1);
		pb_rm_keys(pv);
		if (pv->pb->cfd >= 0 && pv->vi_ok)
			pv_accel_back_set_state(pv->vif, XenbusStateInitWait);
	}
}

/* ---- the plugin hooks ---- */

static int pb_probe(struct pv_accel_back_vif *vif, void *arg)
{
	struct pvnic_back *pb = arg;
	struct pvnic_vif *pv = calloc(1, sizeof(*pv));
	char p[PB_PATH_MAX + 32];

	if (!pv || !(pv->local_macs = malloc(PB_LOCAL_MACS_STR))) {
		free(pv);
		return -ENOMEM;
	}
	pv->pb = pb;
	pv->vif = vif;
	pv->domid = pv_accel_back_domid(vif);
	pv->devid = pv_accel_back_devid(vif);
	memcpy(pv->mac, pv_accel_back_mac(vif), 6);
	snprintf(pv->be, sizeof(pv->be), "%s", pv_accel_back_path(vif));
	snprintf(pv->fe, sizeof(pv->fe), "%s", pv_accel_back_frontend(vif));
	snprintf(pv->token, sizeof(pv->token), "pvnic-%u-%u", pv->domid, pv->devid);
	pv->vi.mem_fd = pv->vi.doorbell_fd = pv->vi.wake_fd = -1;
	pv_accel_back_set_priv(vif, pv);
	pv->quota = PVNIC_FILTERS_DEFAULT;
	pv->next = pb->vifs;
	pb->vifs = pv;
	pb->st.live_vifs++;

	pb_local_macs(pv);	/* before accel-frontend: the frontend finds it there */
	if (pb->cfd >= 0)
		pb_vi_setup(pv);	/* failures leave it waiting for the NIC */
	if (!pv->vi_ok)
		pv_accel_back_set_state(vif, pb->cfd >= 0 ? XenbusStateClosed : XenbusStateInitWait);
	snprintf(p, sizeof(p), "%s/%s", pv->fe, PV_ACCEL_KEY_STATE);
	pv->watched = pv_accel_xs_watch(pb->xs, p, pv->token, pb_fe_watch_cb, pv) == 0;
	snprintf(pv->addrs_token, sizeof(pv->addrs_token), "pvnic-ip-%u-%u", pv->domid, pv->devid);
	snprintf(p, sizeof(p), "%s/%s", pv->be, PVNIC_KEY_IP_OWNED);
	pv->addrs_watched = pv_accel_xs_watch(pb->xs, p, pv->addrs_token, pb_addrs_watch_cb, pv) == 0;
	snprintf(pv->storm_token, sizeof(pv->storm_token), "pvnic-storm-%u-%u", pv->domid, pv->devid);
	for (int k = 0; k < 2; k++) {
		snprintf(p, sizeof(p), "%s/%s", pv->be, pb_storm_keys[k]);
		pv->storm_watched |= (pv_accel_xs_watch(pb->xs, p, pv->storm_token, pb_storm_watch_cb,
							pv) == 0) << k;
	}
	return 0;
}

static void pb_remove(struct pv_accel_back_vif *vif)
{
	struct pvnic_vif *pv = pv_accel_back_priv(vif);
	struct pvnic_back *pb;
	char p[PB_PATH_MAX + 32];

	if (!pv)
		return;
	pb = pv->pb;
	if (pv->watched) {
		snprintf(p, sizeof(p), "%s/%s", pv->fe, PV_ACCEL_KEY_STATE);
		pv_accel_xs_unwatch(pb->xs, p, pv->token);
	}
	if (pv->addrs_watched) {
		snprintf(p, sizeof(p), "%s/%s", pv->be, PVNIC_KEY_IP_OWNED);
		pv_accel_xs_unwatch(pb->xs, p, pv->addrs_token);
	}
	for (int k = 0; k < 2; k++)
		if (pv->storm_watched & (1 << k)) {
			snprintf(p, sizeof(p), "%s/%s", pv->be, pb_storm_keys[k]);
			pv_accel_xs_unwatch(pb->xs, p, pv->storm_token);
		}
	pb_vi_teardown(pv);
	pb_rm_keys(pv);
	pv_accel_back_rm(vif, PVNIC_KEY_LOCAL_MACS);
	for (struct pvnic_vif **pp = &pb->vifs; *pp; pp = &(*pp)->next)
		if (*pp == pv) {
			*pp = pv->next;
			break;
		}
	pb->st.live_vifs--;
	pv_accel_back_set_priv(vif, NULL);
	pv_info("vif%u.%u: pvnic: removed", pv->domid, pv->devid);
	free(pv->local_macs);
	free(pv);
}

/*
 * pb_frame() - netback met a frame of the vif on the slow path.  Data
 * path: a header parse and a look-up; control work only for a new flow,
 * and rate limited.
 */
static void pb_frame(struct pv_accel_back_vif *vif, enum pv_accel_frame_how how,
		     const uint8_t *hdr, uint32_t hdr_len, uint32_t len)
{
	struct pvnic_vif *pv = pv_accel_back_priv(vif);

	if (!pv)
		return;
	if (how == PV_ACCEL_FRAME_TX)
		pb_tx_seen(pv, hdr, hdr_len, len);
	else if (how == PV_ACCEL_FRAME_RX_EXTERNAL && pv->fe_connected && !pv->mode_mac &&
		 pv->pb->cfd >= 0)
		pb_flow_learn(pv, hdr, hdr_len);
}

static void pb_vifs_changed(struct pv_accel_back_vif *vif)
{
	struct pvnic_vif *pv = pv_accel_back_priv(vif);

	if (pv)
		pb_local_macs(pv);
}

static void pb_show_vi(struct pvnic_vif *pv, struct pv_accel_kv *kv)
{
	struct pvnic_back *pb = pv->pb;
	struct pv_nic_vi_stats st;
	int e;

	if (!pv->vi_ok || pb->cfd < 0)
		return;
	e = nic_client_stats(pb->cfd, pv->vi.vi_id, &st);
	if (e) {
		pv_accel_kv_str(kv, "vi_error", strerror(-e));
		pb_ctl_err(pb, e, "STATS failed");
		return;
	}
#define VI(f) pv_accel_kv_u64(kv, "vi_" #f, st.f)
	pv_accel_kv_u64(kv, "vi_id", st.vi_id);
	VI(fault); VI(nr_bufs); VI(nr_filters);
	VI(tx_frames); VI(tx_bytes); VI(tx_tso); VI(tx_spoofed); VI(tx_runt); VI(tx_too_big);
	VI(tx_port_errors); VI(tx_offload_errors);
	VI(rx_frames); VI(rx_bytes); VI(rx_no_desc); VI(rx_no_evq); VI(rx_too_big); VI(rx_bad_desc);
	VI(desc_errors); VI(doorbells); VI(wakeups); VI(evq_stalls); VI(faults);
	VI(tx_wire_bytes); VI(tx_turns); VI(tx_quantum_stops); VI(tx_wait_max_bytes);
	VI(rx_chains); VI(rx_gso); VI(rx_gso_segmented);
	VI(tx_storm_bcast); VI(tx_storm_mcast); VI(rx_held); VI(rx_held_bytes_max);
#undef VI
}

/* pvnetctl accel D N show: the handshake, the filters, and the VI's counters from the NIC. */
static void pb_show(struct pv_accel_back_vif *vif, struct pv_accel_kv *kv)
{
	struct pvnic_vif *pv = pv_accel_back_priv(vif);
	char ips[PV_SG_ADDRS_MAX * PV_SG_ADDR_STR + 1] = "";

	if (!pv)
		return;
	pv_sg_addrs_format(&pv->addrs, ips, sizeof(ips));
	pv_accel_kv_u64(kv, "nic_up", pv->pb->cfd >= 0);
	pv_accel_kv_u64(kv, "fast_path_ready", (uint64_t)pv->ready);
	pv_accel_kv_u64(kv, "frontend_connected", (uint64_t)pv->fe_connected);
	pv_accel_kv_str(kv, "filter_mode", pv->mode_mac ? "mac" : "flow");
	pv_accel_kv_u64(kv, "filters", pv->nflows + (pv->mac_filter_ok ? 1u : 0u));
	pv_accel_kv_u64(kv, "filter_quota", pv->mode_mac ? 1 : pv->quota);
	pv_accel_kv_u64(kv, "filter_installs", pv->st.filter_installs);
	pv_accel_kv_u64(kv, "filter_evictions", pv->st.filter_evictions);
	pv_accel_kv_u64(kv, "filter_rate_limited", pv->st.filter_rate_limited);
	pv_accel_kv_u64(kv, "filter_failures", pv->st.filter_failures);
	pv_accel_kv_u64(kv, "filter_not_own_ip", pv->st.filter_not_own_ip);
	pv_accel_kv_u64(kv, "filter_ip_conflicts", pv->st.filter_ip_conflicts);
	pv_accel_kv_str(kv, "guest_ips", ips);
	pv_accel_kv_u64(kv, "src_addrs_programmed", pv->addrs_programmed);
	if (pv->storm_set) {	/* the VI's storm limits as the NIC has them (0: none) */
		pv_accel_kv_u64(kv, "storm_bcast_pps", pv->storm[0][0]);
		pv_accel_kv_u64(kv, "storm_mcast_pps", pv->storm[1][0]);
	}
	pv_accel_kv_str(kv, "local_macs", pv->local_macs_ok ? pv->local_macs : "");
	pb_show_vi(pv, kv);
}

static const char *pb_features_str(uint32_t f, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s%s%s%s", f & PV_NIC_FEAT_TX_CHAIN ? "tx-chain " : "",
		 f & PV_NIC_FEAT_TX_CSUM ? "tx-csum " : "", f & PV_NIC_FEAT_TSO ? "tso " : "",
		 f & PV_NIC_FEAT_RX_CHAIN ? "rx-chain " : "", f & PV_NIC_FEAT_RX_GRO ? "rx-gro " : "",
		 f & PV_NIC_FEAT_SRC_ADDRS ? "src-addrs " : "");
	if (buf[0])
		buf[strlen(buf) - 1] = '\0';
	return buf;
}

/* pvnetctl nic: the plugin's connection, and the NIC's INFO. */
static void pb_show_nic(void *arg, struct pv_accel_kv *kv)
{
	struct pvnic_back *pb = arg;
	struct pv_nic_info_reply in;
	char mac[18], feat[80];
	int e;

	pv_accel_kv_str(kv, "socket", pb->sock_path);
	pv_accel_kv_u64(kv, "connected", pb->cfd >= 0);
#define ST(f) pv_accel_kv_u64(kv, #f, pb->st.f)
	ST(connects); ST(disconnects); ST(vi_allocs); ST(vi_frees); ST(connected_vifs);
	ST(bad_refs); ST(failures); ST(fds_given); ST(live_vifs);
#undef ST
	if (pb->cfd < 0)
		return;
	e = nic_client_info(pb->cfd, &in);
	if (e) {
		pv_accel_kv_str(kv, "info_error", strerror(-e));
		pb_ctl_err(pb, e, "INFO failed");
		return;
	}
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", in.mac[0], in.mac[1], in.mac[2],
		 in.mac[3], in.mac[4], in.mac[5]);
	pv_accel_kv_u64(kv, "version", in.version);
	pv_accel_kv_u64(kv, "features", in.features);
	pv_accel_kv_str(kv, "feature_names", pb_features_str(in.features, feat, sizeof(feat)));
	pv_accel_kv_u64(kv, "mtu", in.mtu);
	pv_accel_kv_str(kv, "mac", mac);
#define IN(f) pv_accel_kv_u64(kv, #f, in.f)
	IN(max_vis); IN(vis_active); IN(nr_bufs); IN(bufs_used); IN(max_filters); IN(filters_used);
	IN(vi_filters); IN(port_rx); IN(port_tx); IN(rx_unmatched_dropped); IN(ctl_errors);
	IN(port_rx_kernel_drops);
	IN(gro_frames); IN(gro_segs); IN(gro_not_wanted); IN(gro_close_batch); IN(gro_close_push);
	IN(gro_close_size); IN(gro_close_mismatch); IN(gro_close_other);
#undef IN
}

static int pb_get_fds(struct pv_accel_back_vif *vif, int *fds, unsigned int max);

static const struct pv_accel_back_ops pvnic_back_ops = {
	.version = PV_ACCEL_BACK_VERSION,
	.size = sizeof(struct pv_accel_back_ops),
	.name = PVNIC_NAME,
	.probe = pb_probe,
	.remove = pb_remove,
	.frame = pb_frame,
	.vifs_changed = pb_vifs_changed,
	.show = pb_show,
	.show_nic = pb_show_nic,
	.get_fds = pb_get_fds,
};

/* ---- the control connection ---- */

static void pb_retry_start(struct pvnic_back *pb);

static void pb_nic_down(struct pvnic_back *pb, const char *why)
{
	if (pb->cfd < 0)
		return;
	pv_warn("pvnic: lost pvnet-nicd (%s): fast paths down, reconnecting", why);
	if (pb->cfd_w)
		pv_accel_loop_del(pb->loop, pb->cfd_w);
	pb->cfd_w = NULL;
	close(pb->cfd);		/* the NIC frees our VIs with the connection */
	pb->cfd = -1;
	pb->st.disconnects++;
	pb->st.nic_up = 0;
	for (struct pvnic_vif *pv = pb->vifs; pv; pv = pv->next) {
		char p[PB_PATH_MAX + 32];

		pb_bufs_release(pv, 0);
		pb_vi_close_fds(pv);
		pb_rm_keys(pv);
		snprintf(p, sizeof(p), "%s/%s", pv->be, PV_ACCEL_KEY_FRONTEND);
		pv_accel_xs_rm(pb->xs, p);	/* netfront detaches its half */
		pv_accel_back_set_state(pv->vif, XenbusStateClosed);
	}
	pb_retry_start(pb);
}

static void pb_cfd_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pvnic_back *pb = arg;
	char buf[PV_NIC_MSG_MAX];
	ssize_t n;

	(void)loop;
	/* Nothing is unsolicited on the control socket: data here is noise, EOF is death. */
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || (events & (EPOLLHUP | EPOLLERR)))
		pb_nic_down(pb, n == 0 ? "end of connection" : "socket error");
}

static int pb_connect(struct pvnic_back *pb)
{
	struct pv_nic_info_reply info;
	int fd, e;

	fd = nic_client_connect(pb->sock_path);
	if (fd < 0)
		return fd;
	e = nic_client_info(fd, &info);
	if (e) {
		close(fd);
		return e;
	}
	pb->cfd_w = pv_accel_loop_add(pb->loop, fd, EPOLLIN, pb_cfd_cb, pb);
	if (!pb->cfd_w) {
		close(fd);
		return -ENOMEM;
	}
	pb->cfd = fd;
	pb->mtu = info.mtu;
	pb->features = info.features;
	pb->vi_filters = info.vi_filters;
	pb->st.connects++;
	pb->st.nic_up = 1;
	pv_info("pvnic: connected to pvnet-nicd at %s (MTU %u)", pb->sock_path, pb->mtu);
	for (struct pvnic_vif *pv = pb->vifs; pv && pb->cfd >= 0; pv = pv->next) {
		pv->failed = 0;
		if (!pv->vi_ok && pb_vi_setup(pv) && pb->cfd >= 0)
			pv_accel_back_set_state(pv->vif, XenbusStateClosed);
	}
	return 0;
}

static void pb_retry_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pvnic_back *pb = arg;
	int e;

	(void)loop;
	(void)fd;
	(void)events;
	pv_accel_loop_timer_del(pb->loop, pb->retry_t);
	pb->retry_t = NULL;
	e = pb_connect(pb);
	if (e) {
		if (!pb->retry_logged)
			pv_warn("pvnic: cannot reach pvnet-nicd at %s: %s; retrying every second",
				pb->sock_path, strerror(-e));
		pb->retry_logged = 1;
		pb_retry_start(pb);
		return;
	}
	pb->retry_logged = 0;
}

static void pb_retry_start(struct pvnic_back *pb)
{
	if (!pb->retry_t)
		pb->retry_t = pv_accel_loop_timer(pb->loop, PVNIC_BACK_RETRY_MS, PVNIC_BACK_RETRY_MS,
					    pb_retry_cb, pb);
	if (!pb->retry_t)
		pv_err("pvnic: no retry timer: %s", strerror(errno));
}

/* ---- public ---- */

struct pvnic_back *pvnic_back_new(struct pv_loop *loop, struct pv_hv *hv,
				  struct xs_server *xs, const char *nic_dir, int *err)
{
	struct pvnic_back *pb;
	int e;

	if (!loop || !hv || !xs || !nic_dir ||
	    strlen(nic_dir) + sizeof("/" PV_NIC_SOCK_NAME) > sizeof(pb->sock_path)) {
		*err = -EINVAL;
		return NULL;
	}
	pb = calloc(1, sizeof(*pb));
	if (!pb) {
		*err = -ENOMEM;
		return NULL;
	}
	pb->loop = loop;
	pb->hv = hv;
	pb->xs = xs;
	pb->cfd = -1;
	pb->rl = (struct pv_ratelimit)PV_RATELIMIT_INIT;
	snprintf(pb->sock_path, sizeof(pb->sock_path), "%s/%s", nic_dir, PV_NIC_SOCK_NAME);
	e = pb_connect(pb);
	if (e) {
		pv_warn("pvnic: cannot reach pvnet-nicd at %s: %s; retrying every second",
			pb->sock_path, strerror(-e));
		pb->retry_logged = 1;
		pb_retry_start(pb);
	}
	e = pv_accel_back_register(PVNIC_NAME, &pvnic_back_ops, pb);
	if (e) {
		pvnic_back_free(pb);
		*err = e;
		return NULL;
	}
	pb->registered = 1;
	*err = 0;
	return pb;
}

void pvnic_back_free(struct pvnic_back *pb)
{
	if (!pb)
		return;
	if (pb->registered)
		pv_accel_back_unregister(PVNIC_NAME);	/* removes every vif */
	while (pb->vifs)		/* not reached: unregister removed them */
		pb_remove(pb->vifs->vif);
	if (pb->retry_t)
		pv_accel_loop_timer_del(pb->loop, pb->retry_t);
	if (pb->cfd_w)
		pv_accel_loop_del(pb->loop, pb->cfd_w);
	if (pb->cfd >= 0)
		close(pb->cfd);
	free(pb);
}

void pvnic_back_stats(const struct pvnic_back *pb, struct pvnic_back_stats *st)
{
	*st = pb->st;
}

int pvnic_back_vif_info(const struct pvnic_back *pb, unsigned int domid, unsigned int devid,
			struct pvnic_vif_info *out)
{
	for (const struct pvnic_vif *pv = pb->vifs; pv; pv = pv->next) {
		if (pv->domid != domid || pv->devid != devid)
			continue;
		*out = (struct pvnic_vif_info){
			.vi_ok = pv->vi_ok, .ready = pv->ready, .fe_connected = pv->fe_connected,
			.mode_mac = pv->mode_mac, .vi_id = pv->vi.vi_id, .flows = pv->nflows,
			.quota = pv->quota, .mac_filter = pv->mac_filter_ok, .nips = pv->addrs.n,
			.st = pv->st,
		};
		return 0;
	}
	return -ENOENT;
}

/* get_fds (accel.h 1.2): dup()s of vif's VI memfd, doorbell and wake-up eventfds. */
static int pb_get_fds(struct pv_accel_back_vif *vif, int *fds, unsigned int max)
{
	struct pvnic_vif *pv = pv_accel_back_priv(vif);
	int src[PVNIC_NR_FDS];

	if (!pv)
		return -ENOENT;
	if (max < PVNIC_NR_FDS)
		return -ENOBUFS;
	if (!pv->vi_ok || !pv->ready || pv->pb->cfd < 0)
		return -EAGAIN;
	src[PVNIC_FD_VI_MEM] = pv->vi.mem_fd;
	src[PVNIC_FD_DOORBELL] = pv->vi.doorbell_fd;
	src[PVNIC_FD_WAKE] = pv->vi.wake_fd;
	for (int i = 0; i < PVNIC_NR_FDS; i++) {
		fds[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 0);
		if (fds[i] < 0) {
			int e = -errno;

			while (i-- > 0) {
				close(fds[i]);
				fds[i] = -1;
			}
			return e;
		}
	}
	pv->pb->st.fds_given++;
	return PVNIC_NR_FDS;
}
