/* SPDX-License-Identifier: MIT */
/*
 * netback_xenbus.c - netback's control plane: vifs found in the store,
 * the xenbus backend state machine, connect/disconnect, disabling.
 *
 * See netback.c's Theory of Operation for the whole picture; the rules
 * here: every key the frontend wrote is read once and parsed strictly
 * (a value that is not what netif.h/xenbus.h allow is a lie: the vif is
 * disabled with the key named), keys the toolstack wrote are trusted but
 * still bounded, and nothing is ever written into a directory that is
 * being removed (a write would re-create it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netback_priv.h"
#include "ctl.h"
#include "toolstack.h"
#include "hv/xs.h"

static struct pv_ratelimit nb_rl = PV_RATELIMIT_INIT;

/* ---- store helpers ---- */

/**
 * nb_read() - read @dir/@key into @buf
 * Return: length, or -errno (-ENOENT when missing).
 */
static int nb_read(struct pv_netback *nb, const char *dir, const char *key,
		   char *buf, size_t size)
{
	char path[192];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) >= sizeof(path))
		return -ENAMETOOLONG;
	return xs_server_read(nb->xs, path, buf, size);
}

/**
 * nb_parse_uint() - strict decimal: digits only, no sign, no spaces, <= @max
 * Return: 0 or -EINVAL.  Catches a guest writing "-1", "12abc", "" or huge values.
 */
static int nb_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 10)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/**
 * nb_read_uint() - read and strictly parse an unsigned key
 * Return: 0, -ENOENT (missing), -EINVAL (garbage: a lie).
 */
static int nb_read_uint(struct pv_netback *nb, const char *dir, const char *key,
			unsigned long max, unsigned long *out)
{
	char buf[32];
	int n = nb_read(nb, dir, key, buf, sizeof(buf));

	if (n < 0)
		return n;
	return nb_parse_uint(buf, max, out);
}

/* A boolean feature key: missing or "0" is off, "1" on, anything else a lie. */
static int nb_read_flag(struct pv_netback *nb, const char *dir, const char *key)
{
	unsigned long v;
	int err = nb_read_uint(nb, dir, key, 1, &v);

	if (err == -ENOENT)
		return 0;
	return err < 0 ? err : (int)v;
}

/* ---- connect / disconnect / disable ---- */

/* Map one ring page writable; the pin keeps the guest from revoking it. */
static int nb_map_ring(struct nb_vif *vif, const char *key, struct pv_gnt_map *m)
{
	unsigned long ref;
	int err;

	/* Lie caught: a ring ref that is not a number or not a grant ref. */
	err = nb_read_uint(vif->nb, vif->fe_path, key, UINT32_MAX, &ref);
	if (err < 0) {
		nb_vif_fatal(vif, "%s %s", key, err == -ENOENT ? "missing" : "malformed");
		return err;
	}
	/* Lie caught: a ref not granted to us, out of range, read-only. */
	err = pv_gnt_map(vif->nb->hv, vif->domid, (grant_ref_t)ref, 0, 0, m);
	if (err < 0) {
		nb_vif_fatal(vif, "%s %lu: cannot map: %s", key, ref, strerror(-err));
		return err;
	}
	return 0;
}

/* Bind the frontend's unbound port @key and watch our end. */
static int nb_bind(struct nb_vif *vif, const char *key, pv_loop_cb cb, uint32_t *lport,
		   struct pv_watch **w)
{
	struct pv_netback *nb = vif->nb;
	unsigned long rport;
	struct pv_evtchn *c;
	int p;

	/* Lie caught: a port that is not a number or beyond any port table. */
	if (nb_read_uint(nb, vif->fe_path, key, PV_HV_MAX_PORTS - 1, &rport) < 0) {
		nb_vif_fatal(vif, "%s missing or malformed", key);
		return -EINVAL;
	}
	/* Lie caught: a port not allocated for us, or already bound. */
	p = pv_evtchn_bind_interdomain(nb->hv, 0, vif->domid, (uint32_t)rport);
	if (p < 0) {
		nb_vif_fatal(vif, "%s %lu: cannot bind: %s", key, rport, strerror(-p));
		return p;
	}
	c = pv_evtchn_get(nb->hv, 0, (uint32_t)p);
	*lport = (uint32_t)p;
	*w = c ? pv_loop_add(nb->loop, c->in_fd, EPOLLIN, cb, vif) : NULL;
	if (!*w) {
		nb_vif_fatal(vif, "%s: cannot watch the event channel", key);
		return -ENOMEM;
	}
	return 0;
}

/* Read the frontend's features; refuse what pvnet cannot serve. */
static int nb_read_features(struct nb_vif *vif)
{
	struct pv_netback *nb = vif->nb;
	static const struct { const char *key; unsigned int bit; } f[] = {
		{ "feature-sg", PV_VIF_F_SG },
		{ "feature-gso-tcpv4", PV_VIF_F_GSO_TCPV4 },
		{ "feature-gso-tcpv6", PV_VIF_F_GSO_TCPV6 },
		{ "feature-ipv6-csum-offload", PV_VIF_F_IPV6_CSUM },
	};
	unsigned long nq;
	int v;

	vif->features = 0;
	/* pvnet has no page flipping: request-rx-copy is required. */
	if (nb_read_flag(nb, vif->fe_path, "request-rx-copy") != 1) {
		nb_vif_fatal(vif, "request-rx-copy missing: no page flipping");
		return -EINVAL;
	}
	/* Without rx-notify we could not sleep on a guest that posts no buffers. */
	if (nb_read_flag(nb, vif->fe_path, "feature-rx-notify") != 1) {
		nb_vif_fatal(vif, "feature-rx-notify missing");
		return -EINVAL;
	}
	/* We offered one queue; a frontend asking for more is lying. */
	if (nb_read_uint(nb, vif->fe_path, "multi-queue-num-queues", 1024, &nq) == 0 && nq != 1) {
		nb_vif_fatal(vif, "multi-queue-num-queues %lu: only 1 offered", nq);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		v = nb_read_flag(nb, vif->fe_path, f[i].key);
		if (v < 0) {
			nb_vif_fatal(vif, "%s malformed", f[i].key);
			return -EINVAL;
		}
		if (v)
			vif->features |= f[i].bit;
	}
	v = nb_read_flag(nb, vif->fe_path, "feature-no-csum-offload");
	if (v < 0) {
		nb_vif_fatal(vif, "feature-no-csum-offload malformed");
		return -EINVAL;
	}
	if (!v)
		vif->features |= PV_VIF_F_CSUM;
	return 0;
}

/**
 * nb_vif_connect() - the frontend is Initialised/Connected: map, bind, serve
 *
 * On any failure nb_vif_fatal() has already undone what was done and said why.
 */
static void nb_vif_connect(struct nb_vif *vif)
{
	char buf[16];
	int split;

	if (nb_read_features(vif) < 0 ||
	    nb_map_ring(vif, "tx-ring-ref", &vif->tx_map) < 0 ||
	    nb_map_ring(vif, "rx-ring-ref", &vif->rx_map) < 0)
		return;
	BACK_RING_INIT(&vif->tx, (netif_tx_sring_t *)vif->tx_map.page, PV_PAGE_SIZE);
	BACK_RING_INIT(&vif->rx, (netif_rx_sring_t *)vif->rx_map.page, PV_PAGE_SIZE);
	split = nb_read(vif->nb, vif->fe_path, "event-channel-tx", buf, sizeof(buf)) >= 0;
	if (split) {
		if (nb_bind(vif, "event-channel-tx", nb_evtchn_cb, &vif->evtchn_tx, &vif->w_tx) < 0 ||
		    nb_bind(vif, "event-channel-rx", nb_evtchn_rx_cb, &vif->evtchn_rx,
			    &vif->w_rx) < 0)
			return;
		vif->features |= PV_VIF_F_SPLIT_EVTCHN;
	} else {
		if (nb_bind(vif, "event-channel", nb_evtchn_cb, &vif->evtchn_tx, &vif->w_tx) < 0)
			return;
		vif->evtchn_rx = vif->evtchn_tx;
	}
	if (nb_rxq_alloc(vif) < 0) {
		nb_vif_disconnect(vif);
		pv_log_rl(&nb_rl, PV_LOG_ERR, "%s: out of memory for the RX queue", vif->port.name);
		return;
	}
	vif->connected = 1;
	nb_set_state(vif, XenbusStateConnected);
	pv_info("%s: connected (features 0x%x)", vif->port.name, vif->features);
	/* Requests posted before we bound raised no event we could see. */
	nb_vif_service(vif, 1, 1);
}

/* The frontend starts over: forget the violation, offer ourselves again. */
static void nb_vif_restart(struct nb_vif *vif)
{
	char path[192];

	nb_vif_disconnect(vif);
	if (vif->disabled) {
		vif->disabled = 0;
		snprintf(path, sizeof(path), "%s/disabled-reason", vif->be_path);
		xs_server_rm(vif->nb->xs, path);
	}
	nb_set_state(vif, XenbusStateInitWait);
}

/* ---- the frontend's state ---- */

static int nb_fe_state(struct nb_vif *vif)
{
	unsigned long v;
	int err = nb_read_uint(vif->nb, vif->fe_path, "state", XenbusStateReconfigured, &v);

	if (err == -ENOENT)
		return XenbusStateUnknown;	/* the frontend directory is gone */
	return err < 0 ? -1 : (int)v;
}

static void nb_fe_changed(struct nb_vif *vif)
{
	int fs = nb_fe_state(vif);

	if (fs == vif->fe_state)
		return;
	if (fs < 0) {
		/* Lie caught: a state that is not a XenbusState; ignored, as Linux does. */
		pv_log_rl(&vif->rl, PV_LOG_WARN, "%s: frontend state malformed", vif->port.name);
		return;
	}
	vif->fe_state = fs;
	pv_debug("%s: frontend state %d (backend %d)", vif->port.name, fs, vif->be_state);
	pv_ctl_event_vif_state(vif->domid, vif->devid, vif->be_state, vif->fe_state);
	switch (fs) {
	case XenbusStateInitialising:
		if (vif->be_state == XenbusStateClosing || vif->be_state == XenbusStateClosed)
			nb_vif_restart(vif);
		break;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (vif->be_state == XenbusStateInitWait && !vif->disabled)
			nb_vif_connect(vif);
		break;
	case XenbusStateClosing:
		nb_vif_disconnect(vif);
		nb_set_state(vif, XenbusStateClosing);
		break;
	case XenbusStateClosed:
	case XenbusStateUnknown:
		nb_vif_disconnect(vif);
		if (vif->be_state == XenbusStateConnected)
			nb_set_state(vif, XenbusStateClosing);
		nb_set_state(vif, XenbusStateClosed);
		break;
	default:
		break;		/* InitWait, Reconfiguring: nothing for us */
	}
}

static void nb_fe_watch_cb(struct xs_server *xs, const char *path, const char *token, void *arg)
{
	(void)xs;
	(void)path;
	(void)token;
	nb_fe_changed(arg);
}

/* ---- vif creation and removal ---- */

/*
 * The "rate" key, as Xen's toolstack writes it: "BYTES,USEC" = at most
 * BYTES per USEC of TX from the guest.  Absent or malformed: no limit.
 */
static void nb_vif_read_rate(struct nb_vif *vif)
{
	char buf[64], *end;
	unsigned long long bytes, usec;

	vif->credit_bytes = vif->credit_usec = 0;
	if (nb_read(vif->nb, vif->be_path, "rate", buf, sizeof(buf)) < 0)
		return;
	bytes = strtoull(buf, &end, 10);
	if (*end != ',')
		goto bad;
	usec = strtoull(end + 1, &end, 10);
	if (*end || !bytes || !usec || usec > 10000000ull)
		goto bad;
	vif->credit_bytes = vif->remaining_credit = bytes;
	vif->credit_usec = usec;
	vif->credit_window_start = 0;
	pv_info("%s: TX limited to %llu bytes per %llu us", vif->port.name, bytes, usec);
	return;
bad:
	pv_log_rl(&nb_rl, PV_LOG_WARN, "%s: ignoring malformed rate '%s'", vif->port.name, buf);
}

/*
 * Storm control (lib/storm.h): the backend keys storm-broadcast,
 * storm-multicast and storm-unknown-unicast, each "PPS" or "PPS,BURST"
 * (frames per second this vif may flood, and a burst; "0": no limit).
 * Absent: the defaults, PV_STORM_DEFAULT_*; malformed: the default,
 * logged.  Read at the vif's creation and whenever one of them changes
 * (watched: pvnetctl vif-set, or a toolstack's write).
 */
const char *const nb_storm_keys[PV_STORM_KINDS] = {
	"storm-broadcast", "storm-multicast", "storm-unknown-unicast",
};

static void nb_vif_read_storm(struct nb_vif *vif)
{
	for (int k = 0; k < PV_STORM_KINDS; k++) {
		uint32_t pps = pv_storm_default_pps((enum pv_storm_kind)k), burst = 0;
		char buf[64];

		if (nb_read(vif->nb, vif->be_path, nb_storm_keys[k], buf, sizeof(buf)) >= 0 &&
		    pv_storm_parse(buf, &pps, &burst) < 0) {
			pv_log_rl(&nb_rl, PV_LOG_WARN, "%s: ignoring malformed %s '%s'", vif->port.name,
				  nb_storm_keys[k], buf);
			pps = pv_storm_default_pps((enum pv_storm_kind)k);
			burst = 0;
		}
		/* Unchanged limits keep their bucket's tokens (the watches fire for any write). */
		if (pps != vif->port.storm[k].pps ||
		    (burst ? burst : pps * PV_STORM_BURST_FACTOR) != vif->port.storm[k].burst)
			pv_storm_set(&vif->port.storm[k], pps, burst);
	}
}

static void nb_storm_watch_cb(struct xs_server *xs, const char *path, const char *token, void *arg)
{
	(void)xs;
	(void)path;
	(void)token;
	nb_vif_read_storm(arg);
}

/* ---- source addresses: the `ip` key (srcguard.h) ---- */

/* Is @a owned by a vif other than the one of @self?  First come, first served. */
bool nb_addr_owned_by_other(const struct pv_srcguard *self, const struct pv_sg_addr *a, void *arg)
{
	struct pv_netback *nb = arg;

	for (const struct nb_vif *o = nb->vifs; o; o = o->next)
		if (&o->sg != self && pv_sg_has(&o->sg.set, a))
			return true;
	return false;
}

/*
 * nb_vif_publish_addrs() - "ip-owned" = what the vif owns now, space
 * separated (the `ip` key's, or learned).  Written by netback only; the
 * pvnic backend reads it to program the NIC's TX check and to know whose
 * address a flow is.  Never written into a directory being removed.
 */
void nb_vif_publish_addrs(struct nb_vif *vif)
{
	char buf[PV_SG_ADDRS_MAX * PV_SG_ADDR_STR + 1], tmp[8];

	if (nb_read(vif->nb, vif->be_path, "frontend", tmp, sizeof(tmp)) == -ENOENT)
		return;
	if (pv_sg_addrs_format(&vif->sg.set, buf, sizeof(buf)) < 0)
		return;
	nb_write(vif->nb, vif->be_path, "ip-owned", buf);
	pv_info("%s: source addresses (%s): %s", vif->port.name,
		vif->sg.fixed ? "ip key" : "learned", buf[0] ? buf : "none yet");
}

/* The `ip` key names addresses the toolstack gave this vif: no other vif keeps them learned. */
static void nb_ip_take_from_learned(struct nb_vif *vif)
{
	for (struct nb_vif *o = vif->nb->vifs; o; o = o->next) {
		struct pv_sg_addrs keep = { 0 };

		if (o == vif || o->sg.fixed)
			continue;
		for (unsigned int i = 0; i < o->sg.set.n; i++)
			if (!pv_sg_has(&vif->sg.set, &o->sg.set.a[i]))
				keep.a[keep.n++] = o->sg.set.a[i];
		if (keep.n == o->sg.set.n)
			continue;
		pv_warn("%s: learned addresses given to %s by its ip key: forgotten", o->port.name,
			vif->port.name);
		o->sg.set = keep;
		nb_vif_publish_addrs(o);
	}
}

/*
 * nb_vif_read_ip() - the `ip` key, as xl writes it: IPv4 and IPv6
 * literals separated by spaces (commas taken too).  Present: the vif may
 * use those and no others (fixed).  Absent: learned mode; addresses the
 * key gave stay the vif's as learned ones.  Malformed (a toolstack bug):
 * fixed with no address at all, so the guest is held to its link-local
 * address rather than let loose; logged.
 */
static int nb_vif_read_ip(struct nb_vif *vif)
{
	char buf[PV_SG_ADDRS_MAX * 64];
	struct pv_sg_addrs set;
	int n = nb_read(vif->nb, vif->be_path, "ip", buf, sizeof(buf));
	int was_fixed = vif->sg.fixed;

	if (n == -ENOENT) {
		vif->sg.fixed = false;
		return was_fixed;
	}
	if (n < 0 || pv_sg_addrs_parse(buf, &set) < 0) {
		pv_log_rl(&nb_rl, PV_LOG_ERR, "%s: malformed ip key '%.64s': no source address allowed",
			  vif->port.name, n < 0 ? "" : buf);
		set.n = 0;
	}
	if (vif->sg.fixed && pv_sg_equal(&set, &vif->sg.set))
		return 0;
	vif->sg.fixed = true;
	vif->sg.set = set;
	return 1;
}

static void nb_ip_watch_cb(struct xs_server *xs, const char *path, const char *token, void *arg)
{
	struct nb_vif *vif = arg;

	(void)xs;
	(void)path;
	(void)token;
	if (nb_vif_read_ip(vif)) {
		if (vif->sg.fixed)
			nb_ip_take_from_learned(vif);
		nb_vif_publish_addrs(vif);
	}
}

/* Read what the toolstack wrote; 0 if the directory is complete and usable. */
static int nb_vif_read_config(struct nb_vif *vif)
{
	struct pv_netback *nb = vif->nb;
	char buf[160], want[64];
	unsigned long v;

	if (nb_read_uint(nb, vif->be_path, "frontend-id", DOMID_FIRST_RESERVED - 1, &v) < 0 ||
	    v != vif->domid)
		return -EINVAL;
	if (nb_read(nb, vif->be_path, "frontend", vif->fe_path, sizeof(vif->fe_path)) < 0)
		return -EINVAL;
	/* The frontend must live in its own domain's tree, nowhere else. */
	snprintf(want, sizeof(want), "/local/domain/%u/", vif->domid);
	if (strncmp(vif->fe_path, want, strlen(want)) || strstr(vif->fe_path, ".."))
		return -EINVAL;
	if (nb_read(nb, vif->be_path, "mac", buf, sizeof(buf)) < 0 ||
	    pv_mac_parse(buf, vif->mac) < 0 || (vif->mac[0] & 1))
		return -EINVAL;
	vif->mtu = 1500;
	if (nb_read_uint(nb, vif->be_path, "mtu", PV_FRAME_MAX_LEN - NB_ETH_HLEN - NB_VLAN_HLEN,
			 &v) == 0 && v >= 68)
		vif->mtu = (unsigned int)v;
	nb_vif_read_rate(vif);
	nb_vif_read_storm(vif);
	memcpy(vif->sg.mac, vif->mac, 6);
	nb_vif_read_ip(vif);
	return 0;
}

/* Write what we offer (docs/xenbus.md), then InitWait. */
static void nb_vif_write_features(struct nb_vif *vif)
{
	static const char *const one[] = {
		"feature-sg", "feature-gso-tcpv4", "feature-gso-tcpv6", "feature-rx-copy",
		"feature-ipv6-csum-offload", "feature-rx-notify", "feature-split-event-channels",
		"multi-queue-max-queues",
	};

	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++)
		nb_write(vif->nb, vif->be_path, one[i], "1");
	nb_write(vif->nb, vif->be_path, "feature-rx-flip", "0");
}

/**
 * nb_vif_probe() - a complete backend directory without a vif: make one
 */
static void nb_vif_probe(struct pv_netback *nb, unsigned int domid, unsigned int devid)
{
	struct nb_vif *vif = calloc(1, sizeof(*vif));
	char path[192];
	int err;

	if (!vif)
		return;
	vif->nb = nb;
	vif->domid = domid;
	vif->devid = devid;
	vif->port.br_port = -1;
	vif->be_state = XenbusStateInitialising;
	vif->fe_state = -1;
	vif->rl = (struct pv_ratelimit)PV_RATELIMIT_INIT;
	snprintf(vif->be_path, sizeof(vif->be_path), PV_NETBACK_BASE "/%u/%u", domid, devid);
	snprintf(vif->port.name, sizeof(vif->port.name), "vif%u.%u", domid, devid);
	if (nb_vif_read_config(vif) < 0) {
		pv_log_rl(&nb_rl, PV_LOG_WARN, "%s: backend directory incomplete or bad; ignored",
			  vif->port.name);
		free(vif);
		return;
	}
	vif->port.ops = &nb_port_ops;
	vif->port.priv = vif;
	memcpy(vif->port.mac, vif->mac, 6);
	vif->port.has_mac = 1;
	err = pv_switch_port_add(nb->sw, &vif->port);
	if (err < 0) {
		pv_log_rl(&nb_rl, PV_LOG_ERR, "%s: cannot join the switch: %s", vif->port.name,
			  strerror(-err));
		free(vif);
		return;
	}
	vif->next = nb->vifs;
	nb->vifs = vif;
	nb->nr_vifs++;
	nb_vif_write_features(vif);
	nb_set_state(vif, XenbusStateInitWait);
	snprintf(vif->fe_token, sizeof(vif->fe_token), "netback-fe-%u-%u", domid, devid);
	snprintf(path, sizeof(path), "%s/state", vif->fe_path);
	vif->fe_watched = xs_server_watch(nb->xs, path, vif->fe_token, nb_fe_watch_cb, vif) == 0;
	/* The `ip` key, set at run time too (pvnetctl vif-set): watched; the watch fires once now. */
	if (vif->sg.fixed)
		nb_ip_take_from_learned(vif);
	nb_vif_publish_addrs(vif);
	snprintf(vif->ip_token, sizeof(vif->ip_token), "netback-ip-%u-%u", domid, devid);
	snprintf(path, sizeof(path), "%s/ip", vif->be_path);
	vif->ip_watched = xs_server_watch(nb->xs, path, vif->ip_token, nb_ip_watch_cb, vif) == 0;
	/* The storm keys, set at run time too: watched (each watch fires once now). */
	snprintf(vif->storm_token, sizeof(vif->storm_token), "netback-storm-%u-%u", domid, devid);
	for (int k = 0; k < PV_STORM_KINDS; k++) {
		snprintf(path, sizeof(path), "%s/%s", vif->be_path, nb_storm_keys[k]);
		vif->storm_watched += xs_server_watch(nb->xs, path, vif->storm_token,
						      nb_storm_watch_cb, vif) == 0;
	}
	pv_info("%s: new vif, frontend %s", vif->port.name, vif->fe_path);
	/* Accelerator discovery: the "accel" key names the NIC; its plugin is probed. */
	vif->accel = pv_accel_back_vif_new(&(struct pv_accel_back_vif_config){
		.xs = nb->xs, .hv = nb->hv, .loop = nb->loop, .domid = domid, .devid = devid,
		.mac = { vif->mac[0], vif->mac[1], vif->mac[2], vif->mac[3], vif->mac[4], vif->mac[5] },
		.be_path = vif->be_path, .fe_path = vif->fe_path, .frames_on = &vif->accel_frames });
}

/* Make our list agree with the store for vif D.N. */
static void nb_reconcile(struct pv_netback *nb, unsigned int domid, unsigned int devid)
{
	struct nb_vif *vif = nb_vif_find(nb, domid, devid);
	char be[64], buf[16];
	unsigned long st;

	snprintf(be, sizeof(be), PV_NETBACK_BASE "/%u/%u", domid, devid);
	if (vif) {
		/* Directory removed by the toolstack: the vif goes. */
		if (nb_read(nb, be, "frontend", buf, sizeof(buf)) == -ENOENT)
			nb_vif_free(vif);
		return;
	}
	/* Start on a complete directory: the toolstack writes state last. */
	if (nb_read_uint(nb, be, "state", XenbusStateReconfigured, &st) == 0 &&
	    st == XenbusStateInitialising && pv_domain_get(nb->hv, domid))
		nb_vif_probe(nb, domid, devid);
}

void nb_base_watch_cb(struct xs_server *xs, const char *path, const char *token, void *arg)
{
	size_t bl = strlen(PV_NETBACK_BASE);
	unsigned long domid, devid;
	char comp[2][12];
	const char *p;

	(void)xs;
	(void)token;
	if (strncmp(path, PV_NETBACK_BASE, bl) || path[bl] != '/')
		return;
	p = path + bl + 1;
	for (int i = 0; i < 2; i++) {
		size_t n = strcspn(p, "/");

		if (!n || n >= sizeof(comp[i]))
			return;
		memcpy(comp[i], p, n);
		comp[i][n] = 0;
		p += n;
		if (i == 0 && *p++ != '/')
			return;
	}
	if (nb_parse_uint(comp[0], DOMID_FIRST_RESERVED - 1, &domid) < 0 ||
	    nb_parse_uint(comp[1], PV_TS_MAX_DEVID, &devid) < 0 || domid == 0)
		return;
	nb_reconcile(arg, (unsigned int)domid, (unsigned int)devid);
}

/* A guest is dying: unmap and close before the hv reclaims, then clean the store. */
