/* SPDX-License-Identifier: MIT */
/*
 * pvnic_back.c - the backend half of the "pvnic" accelerator pair (see
 * pvnic_back.h and docs/accel-pvnic.md).
 *
 *   probe(vif)  --> VI_ALLOC, SET_MAC(vif MAC),
 *                   accel-frontend = pvnic, accelstate InitWait
 *   frontend accelstate 3 --> read accel-buf-refs, pv_gnt_map each (kept),
 *                   BUF_MAP(guest memfd, chunks 2f, 2f+1), accel-buf-ids,
 *                   accel-vi, accel-mtu, FILTER_ADD(dst MAC), accelstate 4
 *   frontend leaves 3/4 --> FILTER_DEL, buffers and grants released,
 *                   accelstate InitWait
 *   remove(vif) --> FILTER_DEL, VI_FREE, pv_gnt_unmap all, keys deleted
 *   NIC gone    --> every vif: grants unmapped, accel-frontend removed,
 *                   accelstate Closed; reconnect every second, then probe's
 *                   work again
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
#include <unistd.h>

#include "accel/pvnic.h"
#include "accel/pvnic_back.h"
#include "hv/hv.h"
#include "hv/xs.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "nic/nic_client.h"
#include "pvnet/accel.h"
#include "pvnet/xen.h"

#define PB_PATH_MAX	256
#define PB_REFS_MAX	(PVNIC_MAX_PAGES * 12 + 16)

struct pvnic_back;

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
	int filter_ok;
	uint32_t filter_id;

	/* the guest's pages (ready: handshake done) */
	int ready;
	unsigned int nr_pages;
	struct pv_gnt_map maps[PVNIC_MAX_PAGES];
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
	return xs_server_write(pv->pb->xs, path, val, strlen(val));
}

static void pb_rm(struct pvnic_vif *pv, const char *key)
{
	char path[PB_PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", pv->be, key);
	xs_server_rm(pv->pb->xs, path);
}

static void pb_rm_keys(struct pvnic_vif *pv)
{
	pb_rm(pv, PVNIC_KEY_BUF_IDS);
	pb_rm(pv, PVNIC_KEY_VI);
	pb_rm(pv, PVNIC_KEY_MTU);
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
		pv_gnt_unmap(pb->hv, &pv->maps[i]);
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
	pv->filter_ok = 0;
}

static void pb_filter_off(struct pvnic_vif *pv);

/* FILTER_DEL, VI_FREE (if the NIC is there), then the grants unmapped. */
static void pb_vi_teardown(struct pvnic_vif *pv)
{
	struct pvnic_back *pb = pv->pb;
	int e;

	if (pv->vi_ok && pb->cfd >= 0) {
		pb_filter_off(pv);
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

/*
 * The MAC filter steers the vif's traffic from the wire to its VI, so it is
 * on only while a frontend half is there to read the VI: from the moment
 * the frontend's buffers are mapped until the frontend leaves.  (A filter
 * set at probe time would black-hole the vif's traffic whenever the guest
 * has no frontend half.)
 */
static int pb_filter_on(struct pvnic_vif *pv)
{
	struct pvnic_back *pb = pv->pb;
	int e;

	if (pv->filter_ok)
		return 0;
	e = pb->cfd >= 0 ? nic_client_filter_mac(pb->cfd, pv->vi.vi_id, pv->mac, &pv->filter_id)
			 : -ENOTCONN;
	if (e) {
		pv_warn("vif%u.%u: pvnic: FILTER_ADD: %s", pv->domid, pv->devid, strerror(-e));
		return e;
	}
	pv->filter_ok = 1;
	return 0;
}

static void pb_filter_off(struct pvnic_vif *pv)
{
	struct pvnic_back *pb = pv->pb;
	int e;

	if (!pv->filter_ok)
		return;
	pv->filter_ok = 0;
	if (pb->cfd < 0)
		return;
	e = nic_client_filter_del(pb->cfd, pv->vi.vi_id, pv->filter_id);
	if (e)
		pv_warn("vif%u.%u: pvnic: FILTER_DEL: %s", pv->domid, pv->devid, strerror(-e));
}

/* ---- probe's work: a VI for the vif ---- */

static int pb_vi_setup(struct pvnic_vif *pv)
{
	struct pvnic_back *pb = pv->pb;
	int e;

	if (pb->cfd < 0)
		return -ENOTCONN;
	e = nic_client_vi_alloc(pb->cfd, &pv->vi);
	if (e) {
		pv_warn("vif%u.%u: pvnic: VI_ALLOC: %s", pv->domid, pv->devid, strerror(-e));
		pv->vi.mem_fd = pv->vi.doorbell_fd = pv->vi.wake_fd = -1;
		return pb_ctl_err(pb, e, "VI_ALLOC failed");
	}
	pv->vi_ok = 1;
	pb->st.vi_allocs++;
	e = nic_client_set_mac(pb->cfd, pv->vi.vi_id, pv->mac, 0);
	if (e) {
		pv_warn("vif%u.%u: pvnic: SET_MAC: %s", pv->domid, pv->devid, strerror(-e));
		goto fail;
	}
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
static int pb_parse_refs(const char *s, uint32_t nr_grants, grant_ref_t *refs)
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

static void pb_bufs_connect(struct pvnic_vif *pv)
{
	struct pvnic_back *pb = pv->pb;
	char refs_s[PB_REFS_MAX], path[PB_PATH_MAX + 32], *ids_s, num[16];
	grant_ref_t refs[PVNIC_MAX_PAGES];
	uint32_t chunks[PVNIC_MAX_PAGES * PVNIC_BUFS_PER_PAGE];
	struct pv_domain *d = pv_domain_get(pb->hv, pv->domid);
	unsigned int nbufs;
	size_t off = 0;
	int n, e;

	if (!d) {
		pb_fail(pv, "no such domain", ENOENT);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", pv->fe, PVNIC_KEY_BUF_REFS);
	n = xs_server_read(pb->xs, path, refs_s, sizeof(refs_s));
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
	n = pb_parse_refs(refs_s, d->nr_grants, refs);
	if (n < 0) {
		pb->st.bad_refs++;
		pb_fail(pv, "malformed " PVNIC_KEY_BUF_REFS, n);
		return;
	}
	for (int i = 0; i < n; i++) {
		e = pv_gnt_map(pb->hv, pv->domid, refs[i], 0, 0, &pv->maps[i]);
		if (e) {
			pb->st.bad_refs++;
			pb_bufs_release(pv, 0);
			pb_fail(pv, "grant map", e);
			return;
		}
		uint32_t frame = (uint32_t)(((uint8_t *)pv->maps[i].page - d->mem) / PV_NIC_PAGE_SIZE);

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
	if (e) {
		pb_bufs_release(pv, 1);
		pb_rm_keys(pv);
		pb_fail(pv, "writing keys", e);
		return;
	}
	e = pb_filter_on(pv);
	if (e) {
		pb_bufs_release(pv, 1);
		pb_rm_keys(pv);
		pb_fail(pv, "FILTER_ADD", e);
		return;
	}
	pv_accel_back_set_state(pv->vif, XenbusStateConnected);
	pb->st.connected_vifs++;
	pv_info("vif%u.%u: pvnic: fast path ready (VI %u, %u pages)", pv->domid, pv->devid,
		pv->vi.vi_id, pv->nr_pages);
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
	if (xs_server_read(xs, p, val, sizeof(val)) > 0) {
		char *end;
		long v = strtol(val, &end, 10);

		if (end != val && *end == '\0' && v >= 0 && v < 100)
			state = (int)v;
	}
	if (state != XenbusStateInitialised)
		pv->failed = 0;		/* a new 3 is a new chance */
	if (!pv->vi_ok)
		return;
	if (state == XenbusStateInitialised) {
		if (pv->failed)
			return;
		if (pv->ready) {	/* a new round without an intermediate state */
			pb_filter_off(pv);
			pb_bufs_release(pv, 1);
			pb_rm_keys(pv);
		}
		pb_bufs_connect(pv);
	} else if (state != XenbusStateConnected && pv->ready) {
		/* The frontend left: its traffic back to the bridge, its pages back to it. */
		pb_filter_off(pv);
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

	if (!pv)
		return -ENOMEM;
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
	pv->next = pb->vifs;
	pb->vifs = pv;
	pb->st.live_vifs++;

	if (pb->cfd >= 0)
		pb_vi_setup(pv);	/* failures leave it waiting for the NIC */
	if (!pv->vi_ok)
		pv_accel_back_set_state(vif, pb->cfd >= 0 ? XenbusStateClosed : XenbusStateInitWait);
	snprintf(p, sizeof(p), "%s/%s", pv->fe, PV_ACCEL_KEY_STATE);
	pv->watched = xs_server_watch(pb->xs, p, pv->token, pb_fe_watch_cb, pv) == 0;
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
		xs_server_unwatch(pb->xs, p, pv->token);
	}
	pb_vi_teardown(pv);
	pb_rm_keys(pv);
	for (struct pvnic_vif **pp = &pb->vifs; *pp; pp = &(*pp)->next)
		if (*pp == pv) {
			*pp = pv->next;
			break;
		}
	pb->st.live_vifs--;
	pv_accel_back_set_priv(vif, NULL);
	pv_info("vif%u.%u: pvnic: removed", pv->domid, pv->devid);
	free(pv);
}

static const struct pv_accel_back_ops pvnic_back_ops = {
	.version = PV_ACCEL_BACK_VERSION,
	.size = sizeof(struct pv_accel_back_ops),
	.name = PVNIC_NAME,
	.probe = pb_probe,
	.remove = pb_remove,
};

/* ---- the control connection ---- */

static void pb_retry_start(struct pvnic_back *pb);

static void pb_nic_down(struct pvnic_back *pb, const char *why)
{
	if (pb->cfd < 0)
		return;
	pv_warn("pvnic: lost pvnet-nicd (%s): fast paths down, reconnecting", why);
	if (pb->cfd_w)
		pv_loop_del(pb->loop, pb->cfd_w);
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
		xs_server_rm(pb->xs, p);	/* netfront detaches its half */
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
	pb->cfd_w = pv_loop_add(pb->loop, fd, EPOLLIN, pb_cfd_cb, pb);
	if (!pb->cfd_w) {
		close(fd);
		return -ENOMEM;
	}
	pb->cfd = fd;
	pb->mtu = info.mtu;
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
	pv_loop_timer_del(pb->loop, pb->retry_t);
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
		pb->retry_t = pv_loop_timer(pb->loop, PVNIC_BACK_RETRY_MS, PVNIC_BACK_RETRY_MS,
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
		pv_loop_timer_del(pb->loop, pb->retry_t);
	if (pb->cfd_w)
		pv_loop_del(pb->loop, pb->cfd_w);
	if (pb->cfd >= 0)
		close(pb->cfd);
	free(pb);
}

void pvnic_back_stats(const struct pvnic_back *pb, struct pvnic_back_stats *st)
{
	*st = pb->st;
}

int pvnic_back_accel_fds(struct pv_hv *hv, struct pv_domain *d, unsigned int devid,
			 int fds[3], void *arg)
{
	struct pvnic_back *pb = arg;
	struct pvnic_vif *pv;
	int src[3];

	(void)hv;
	if (!pb || !d)
		return -ENOENT;
	for (pv = pb->vifs; pv; pv = pv->next)
		if (pv->domid == d->domid && pv->devid == devid)
			break;
	if (!pv)
		return -ENOENT;
	if (!pv->vi_ok || !pv->ready || pb->cfd < 0)
		return -EAGAIN;
	src[0] = pv->vi.mem_fd;
	src[1] = pv->vi.doorbell_fd;
	src[2] = pv->vi.wake_fd;
	for (int i = 0; i < 3; i++) {
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
	pb->st.fds_given++;
	return 0;
}
