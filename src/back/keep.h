/* SPDX-License-Identifier: MIT */
/*
 * keep.h - the toolstack's vif settings across a pvnetd restart, kept as
 * migration records in RUN_DIR/vifs.kept (see keep.c).
 */
#ifndef PVNET_BACK_KEEP_H
#define PVNET_BACK_KEEP_H

struct xs_server;
struct pv_mig;

#define PV_KEEP_FILE	"vifs.kept"
#define PV_KEEP_MAX	1024	/* vifs kept at most */

struct pv_keep_vif {
	unsigned int domid, devid;
	const char *name;	/* the domain's name */
};

/*
 * Export @n vifs and write their records to @path atomically (none: @path
 * removed); @final: pvnetd stops (logged).  Return: vifs kept, or -errno.
 */
int pv_keep_save(struct xs_server *xs, struct pv_mig *mig, const struct pv_keep_vif *vifs,
		 unsigned int n, const char *path, int final);
/* At start, before hv.sock listens: records of @path offered and checked, @path removed. */
int pv_keep_load(struct xs_server *xs, struct pv_mig *mig, const char *path);

#endif
