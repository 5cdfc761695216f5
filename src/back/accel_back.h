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

#include "pvnet/accel.h"

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
	/*
	 * Set to 1 while the attached plugin has a frame() op, 0 otherwise:
	 * netback's per-frame test is one load (NULL: frames never offered).
	 */
	unsigned int *frames_on;
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
/*
 * pv_accel_back_hv_fds() - struct pv_hv's accel_fds hook (@arg unused):
 * hands PV_HV_ACCEL_FDS to the get_fds() of the plugin serving the vif.
 * Return: how many descriptors, -ENOENT (no such vif served under the
 * name @plugin), -EAGAIN, or the plugin's -errno.
 */
int pv_accel_back_hv_fds(struct pv_hv *hv, unsigned int domid, const char *plugin,
			 unsigned int devid, int *fds, unsigned int max, void *arg);
/* The NIC name of the only registered backend plugin; NULL if none or several. */
const char *pv_accel_back_default_nic(void);

/*
 * pv_accel_back_frame() - netback met a frame of @vif on the slow path
 * (accel.h, frame()); call only while *cfg.frames_on.
 */
void pv_accel_back_frame(struct pv_accel_back_vif *vif, enum pv_accel_frame_how how,
			 const uint8_t *hdr, uint32_t hdr_len, uint32_t len);

struct pv_kv;
/*
 * pv_accel_back_show() - for pvnetctl accel D N show: the attached
 * plugin's show() of vif D.N of store @xs into @kv (nothing if none).
 * Return: 0, or -ENOENT if there is no such vif.
 */
int pv_accel_back_show(struct xs_server *xs, unsigned int domid, unsigned int devid,
		       struct pv_kv *kv);
/*
 * pv_accel_back_show_nic() - for pvnetctl nic: the show_nic() of the
 * plugin serving @nic (NULL: the only one registered) into @kv.
 * Return: 0, -ENOENT (no such plugin), -EOPNOTSUPP (it has no show_nic).
 */
int pv_accel_back_show_nic(const char *nic, struct pv_kv *kv);

#endif
