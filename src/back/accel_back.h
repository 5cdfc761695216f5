/* SPDX-License-Identifier: MIT */
/*
 * accel_back.h - netback's accelerator host (accel_back.c): what netback
 * and the control socket call.  Not a contract: the plugins' contract is
 * include/pvnet/accel.h.
 */
#ifndef PVNET_ACCEL_BACK_H
#define PVNET_ACCEL_BACK_H

#include <stddef.h>
#include <stdint.h>

struct pv_hv;
struct pv_loop;
struct xs_server;
struct pv_accel_back_vif;

/* What netback knows of a vif; copied. */
struct pv_accel_back_vif_config {
	struct xs_server *xs;
	struct pv_hv *hv;
	struct pv_loop *loop;
	unsigned int domid, devid;
	uint8_t mac[6];
	const char *be_path;
	const char *fe_path;
};

/*
 * pv_accel_back_vif_new() - a vif exists: watch its "accel" key and probe
 * the plugin serving that NIC, now and whenever the key changes.
 * Return: the handle, or NULL (out of memory: the vif stays unaccelerated).
 */
struct pv_accel_back_vif *pv_accel_back_vif_new(const struct pv_accel_back_vif_config *cfg);
/* The vif goes: remove() its plugin, stop watching.  NULL is fine. */
void pv_accel_back_vif_free(struct pv_accel_back_vif *vif);

/*
 * pv_accel_back_status() - for pvnetctl: the plugin serving vif D.N of
 * store @xs ("" if none) and the NIC it was probed for.
 * Return: 0, or -ENOENT if there is no such vif.
 */
int pv_accel_back_status(struct xs_server *xs, unsigned int domid, unsigned int devid,
			 char plugin[32], char nic[32]);
/* The NIC name of the only registered backend plugin; NULL if none or several. */
const char *pv_accel_back_default_nic(void);

#endif
