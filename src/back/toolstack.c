/* SPDX-License-Identifier: MIT */
/*
 * toolstack.c - vif creation and removal in the store, as libxl does it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "toolstack.h"
#include "hv/xs.h"
#include "lib/log.h"

int pv_mac_parse(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

void pv_mac_format(const uint8_t mac[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static int mac_is_zero(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return !memcmp(mac, zero, 6);
}

/*
 * Does a vif other than @domid.@devid have @mac?  The store's backend
 * directories are the toolstack's record of every vif (netback's too).
 */
static int mac_in_use(struct xs_server *xs, const uint8_t mac[6], unsigned int domid,
		      unsigned int devid)
{
	char doms[4096], devs[4096], path[128], val[32], want[18];
	int nd, nv;

	pv_mac_format(mac, want);
	nd = xs_server_directory(xs, "/local/domain/0/backend/vif", doms, sizeof(doms));
	for (int i = 0, off = 0; i < nd; i++, off += (int)strlen(doms + off) + 1) {
		snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%s", doms + off);
		nv = xs_server_directory(xs, path, devs, sizeof(devs));
		for (int k = 0, o2 = 0; k < nv; k++, o2 += (int)strlen(devs + o2) + 1) {
			snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%s/%s/mac",
				 doms + off, devs + o2);
			if (strtoul(doms + off, NULL, 10) == domid && strtoul(devs + o2, NULL, 10) == devid)
				continue;
			if (xs_server_read(xs, path, val, sizeof(val)) >= 0 && !strcasecmp(val, want))
				return 1;
		}
	}
	return 0;
}

/*
 * A migration on its way here holds its MAC (migrate.c keeps the record at
 * PV_MIG_INCOMING/<mac hex>) so that no other vif takes it meanwhile.
 */
static int mac_reserved(struct xs_server *xs, const uint8_t mac[6])
{
	char path[128], val[4];

	snprintf(path, sizeof(path), "/local/domain/0/migrate/incoming/%02x%02x%02x%02x%02x%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return xs_server_read(xs, path, val, sizeof(val)) >= 0;
}

int pv_ts_mac_in_use(struct xs_server *xs, const uint8_t mac[6], unsigned int domid,
		     unsigned int devid)
{
	return mac_in_use(xs, mac, domid, devid) || mac_reserved(xs, mac);
}

/* Depth-first copy; @depth bounds a store that a bug made deep. */
static int ts_copy(struct xs_server *xs, const char *from, const char *to, int depth)
{
	char kids[4096], val[1024], f[256], t[256];
	int n, copied = 0;

	n = xs_server_directory(xs, from, kids, sizeof(kids));
	if (n < 0)
		return n;
	for (int i = 0, off = 0; i < n; i++, off += (int)strlen(kids + off) + 1) {
		int len, e;

		if ((size_t)snprintf(f, sizeof(f), "%s/%s", from, kids + off) >= sizeof(f) ||
		    (size_t)snprintf(t, sizeof(t), "%s/%s", to, kids + off) >= sizeof(t))
			return -ENAMETOOLONG;
		len = xs_server_read(xs, f, val, sizeof(val));
		if (len < 0)
			return len;
		if ((e = xs_server_write(xs, t, val, (size_t)len)) < 0)
			return e;
		copied++;
		if (depth < 8 && (e = ts_copy(xs, f, t, depth + 1)) < 0)
			return e;
		copied += e;
	}
	return copied;
}

int pv_ts_copy_tree(struct xs_server *xs, const char *from, const char *to)
{
	return ts_copy(xs, from, to, 0);
}

static void mac_random(uint8_t mac[6])
{
	mac[0] = 0x00;
	mac[1] = 0x16;
	mac[2] = 0x3e;	/* Xen's OUI, as libxl uses */
	if (getrandom(mac + 3, 3, 0) != 3)
		mac[5] ^= (uint8_t)(uintptr_t)mac;
	mac[3] &= 0x7f;
}

/* Write "dir/key" = value, formatted. */
static int ts_key(struct xs_server *xs, const char *dir, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int ts_key(struct xs_server *xs, const char *dir, const char *key, const char *fmt, ...)
{
	char path[256], val[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xs_server_write(xs, path, val, strlen(val));
}

static int ts_write_dir(struct xs_server *xs, const char *dir, const char *peer_key,
			const char *peer, const char *peer_id_key, unsigned int peer_id,
			const struct pv_vif_params *p, const char *mac)
{
	int err = 0;

	err |= ts_key(xs, dir, peer_key, "%s", peer);
	err |= ts_key(xs, dir, peer_id_key, "%u", peer_id);
	err |= ts_key(xs, dir, "handle", "%u", p->devid);
	err |= ts_key(xs, dir, "mac", "%s", mac);
	err |= ts_key(xs, dir, "mtu", "%u", p->mtu);
	return err ? -EIO : 0;
}

/**
 * pv_ts_vif_create() - write a vif's frontend and backend directories
 *
 * The backend's "state" is written last: netback watches the backend
 * tree and starts on a complete directory.  Nothing is written when the
 * request is refused: -EINVAL (devid, mtu), -EADDRNOTAVAIL (a multicast
 * or broadcast MAC), -EEXIST (the vif exists), -EADDRINUSE (another vif
 * has the MAC).
 */
int pv_ts_vif_create(struct xs_server *xs, struct pv_vif_params *p)
{
	char fe[128], be[128], mac[18], perms[32], buf[16];
	int n;

	if (p->devid > PV_TS_MAX_DEVID || p->domid == 0)
		return -EINVAL;
	if (!p->mtu)
		p->mtu = PV_TS_DEFAULT_MTU;
	if (p->mtu < 68 || p->mtu > PV_TS_MAX_MTU)
		return -EINVAL;
	if (!p->bridge[0])
		strcpy(p->bridge, "br0");
	/* A vif's MAC must be a unicast station address no other vif has. */
	if (!mac_is_zero(p->mac) && (p->mac[0] & 1))
		return -EADDRNOTAVAIL;
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vif/%u", p->domid, p->devid);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%u/%u", p->domid, p->devid);
	if (xs_server_read(xs, be, buf, sizeof(buf)) >= 0 || xs_server_read(xs, fe, buf, sizeof(buf)) >= 0)
		return -EEXIST;
	if (mac_is_zero(p->mac)) {
		for (int i = 0; i < 16 && (mac_is_zero(p->mac) ||
					   pv_ts_mac_in_use(xs, p->mac, p->domid, p->devid)); i++)
			mac_random(p->mac);
	}
	if (mac_in_use(xs, p->mac, p->domid, p->devid) ||
	    (!p->claims_reserved && mac_reserved(xs, p->mac)))
		return -EADDRINUSE;
	pv_mac_format(p->mac, mac);

	/*
	 * Frontend: owned by the guest, which writes its keys there; "r0" as
	 * libxl (dom0 has full access anyway).  device/ and device/vif above
	 * it stay dom0's, read-only to the guest (the home's perms).
	 */
	if (xs_server_mkdir(xs, fe) < 0)
		return -EIO;
	n = snprintf(perms, sizeof(perms), "n%u%cr0", p->domid, 0) + 1;
	xs_server_set_perms(xs, fe, perms, (size_t)n);
	if (ts_write_dir(xs, fe, "backend", be, "backend-id", 0, p, mac) < 0 ||
	    ts_key(xs, fe, "state", "%d", XenbusStateInitialising) < 0)
		goto fail;

	/* Backend: owned by dom0, readable by the guest. */
	if (xs_server_mkdir(xs, be) < 0)
		goto fail;
	n = snprintf(perms, sizeof(perms), "n0%cr%u", 0, p->domid) + 1;
	xs_server_set_perms(xs, be, perms, (size_t)n);
	if (ts_write_dir(xs, be, "frontend", fe, "frontend-id", p->domid, p, mac) < 0 ||
	    ts_key(xs, be, "bridge", "%s", p->bridge) < 0 ||
	    (p->rate_bps && ts_key(xs, be, "rate", "%llu,50000",	/* per 50 ms, as libxl */
				   (unsigned long long)(p->rate_bps / 8 / 20 ? p->rate_bps / 8 / 20 : 1)) < 0) ||
	    (p->ip[0] && ts_key(xs, be, "ip", "%s", p->ip) < 0) ||
	    ts_key(xs, be, "online", "1") < 0)
		goto fail;
	/* A migrated vif's configuration, before "state": netback reads it when it starts. */
	if (p->carried && (n = pv_ts_copy_tree(xs, p->carried, be)) < 0)
		goto fail;
	if (ts_key(xs, be, "state", "%d", XenbusStateInitialising) < 0)
		goto fail;
	pv_info("vif %u.%u created: mac %s mtu %u bridge %s%s", p->domid, p->devid, mac, p->mtu,
		p->bridge, p->carried ? " (migrated in, its configuration carried)" : "");
	return 0;
fail:
	xs_server_rm(xs, be);
	xs_server_rm(xs, fe);
	return -EIO;
}

int pv_ts_vif_destroy(struct xs_server *xs, unsigned int domid, unsigned int devid)
{
	char fe[128], be[128];
	int e1, e2;

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vif/%u", domid, devid);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%u/%u", domid, devid);
	e1 = xs_server_rm(xs, be);
	e2 = xs_server_rm(xs, fe);
	if (e1 < 0 && e2 < 0)
		return -ENOENT;
	pv_info("vif %u.%u destroyed", domid, devid);
	return 0;
}

int pv_ts_vif_set_key(struct xs_server *xs, unsigned int domid, unsigned int devid,
		      const char *key, const char *val)
{
	char be[96], path[160], buf[16];

	snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%u/%u", domid, devid);
	snprintf(path, sizeof(path), "%s/frontend", be);
	if (xs_server_read(xs, path, buf, sizeof(buf)) == -ENOENT)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s", be, key);
	if (!*val) {
		int e = xs_server_rm(xs, path);

		return e == -ENOENT ? 0 : e;
	}
	return xs_server_write(xs, path, val, strlen(val));
}

int pv_ts_vif_set_ip(struct xs_server *xs, unsigned int domid, unsigned int devid, const char *ip)
{
	return pv_ts_vif_set_key(xs, domid, devid, "ip", ip);
}
