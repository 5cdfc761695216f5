/* SPDX-License-Identifier: MIT */
/*
 * toolstack.h - what Xen's toolstack (libxl) does for a vif: write the
 * frontend and backend directories (docs/xenbus.md) and remove them.
 * netback and netfront take it from there.
 */
#ifndef PVNET_TOOLSTACK_H
#define PVNET_TOOLSTACK_H

#include <stdint.h>

#include "pvnet/xen.h"

struct xs_server;

#define PV_TS_DEFAULT_MTU 1500
#define PV_TS_MAX_MTU     9000
#define PV_TS_MAX_DEVID   255
#define PV_TS_IP_MAX      400	/* the `ip` key: 8 addresses, space separated */

struct pv_vif_params {
	unsigned int domid;
	unsigned int devid;
	uint8_t mac[6];		/* all zero: choose 00:16:3e:xx:xx:xx */
	unsigned int mtu;	/* 0: PV_TS_DEFAULT_MTU */
	char bridge[16];	/* "" : "br0" */
	uint64_t rate_bps;	/* TX limit in bit/s, 0: none; "rate" = bytes per 50 ms, as libxl */
	char ip[PV_TS_IP_MAX];	/* "" : no `ip` key (addresses learned); else as xl writes it */
	/*
	 * Migration (migrate.c): a store directory whose keys are copied into
	 * the backend directory before its "state" (the vif's carried
	 * configuration), and whether this vif takes a MAC a migration record
	 * holds for it.  NULL / 0 for an ordinary vif.
	 */
	const char *carried;
	int claims_reserved;
};

/* Create both directories; @p->mac is set to the MAC used.  0 or -errno (-EEXIST). */
int pv_ts_vif_create(struct xs_server *xs, struct pv_vif_params *p);
/* Remove both directories (netback notices and frees the vif). */
int pv_ts_vif_destroy(struct xs_server *xs, unsigned int domid, unsigned int devid);
/*
 * pv_ts_vif_set_ip() - write vif D.N's `ip` key (@ip: as xl writes it;
 * "" removes it: addresses learned).  0, -ENOENT (no such vif), -errno.
 */
int pv_ts_vif_set_ip(struct xs_server *xs, unsigned int domid, unsigned int devid, const char *ip);
/* The same for any backend key @key of vif D.N ("" removes it). */
int pv_ts_vif_set_key(struct xs_server *xs, unsigned int domid, unsigned int devid,
		      const char *key, const char *val);
/* Does a vif other than @domid.@devid have @mac, or does a migration record hold it? */
int pv_ts_mac_in_use(struct xs_server *xs, const uint8_t mac[6], unsigned int domid,
		     unsigned int devid);
/* Copy the subtree below @from into @to (values only, not @from's own); keys copied or -errno. */
int pv_ts_copy_tree(struct xs_server *xs, const char *from, const char *to);
/* "00:16:3e:12:34:56" -> bytes; 0 or -EINVAL. */
int pv_mac_parse(const char *s, uint8_t mac[6]);
void pv_mac_format(const uint8_t mac[6], char out[18]);

#endif
