/* SPDX-License-Identifier: MIT */
/*
 * pvnic_back.h - the backend half of the "pvnic" accelerator pair, in
 * pvnetd (docs/accel-pvnic.md).  Control work only: VIs, filters and buffer
 * table entries on pvnet-nicd's control socket, the guest's grants kept
 * mapped while the NIC uses its pages, the xenstore handshake, and the
 * answer to PV_HV_ACCEL_FDS.
 *
 * One control connection per instance, kept open (a VI belongs to the
 * connection that allocated it).  If pvnet-nicd goes away every vif's fast
 * path goes down (accel-frontend removed so netfront detaches, grants
 * unmapped, accelstate Closed) and a 1 s timer reconnects; then each vif
 * gets a new VI and accel-frontend again.  The slow path is never touched.
 *
 * Control requests are blocking (nic_client.c, 5 s timeout each) on
 * pvnetd's loop thread, as the original's netback did its control work
 * synchronously; a request that times out counts as the NIC gone.
 */
#ifndef PVNET_ACCEL_PVNIC_BACK_H
#define PVNET_ACCEL_PVNIC_BACK_H

#include <stdint.h>

struct pv_loop;
struct pv_hv;
struct pv_domain;
struct xs_server;
struct pvnic_back;

#define PVNIC_BACK_RETRY_MS	1000

struct pvnic_back_stats {
	uint64_t connects, disconnects;
	uint64_t vi_allocs, vi_frees;
	uint64_t connected_vifs;	/* handshakes completed */
	uint64_t bad_refs;		/* accel-buf-refs refused */
	uint64_t failures;		/* other setup failures */
	uint64_t fds_given;
	int nic_up;
	unsigned int live_vifs;
};

/*
 * pvnic_back_new() - register the backend plugin for NIC "pvnic", reaching
 * pvnet-nicd through @nic_dir/nic.sock (now, or later by retrying).
 * Return: the instance, or NULL with *err.
 */
struct pvnic_back *pvnic_back_new(struct pv_loop *loop, struct pv_hv *hv,
				  struct xs_server *xs, const char *nic_dir, int *err);
/* Unregister (every served vif removed) and free.  NULL is fine. */
void pvnic_back_free(struct pvnic_back *pb);
void pvnic_back_stats(const struct pvnic_back *pb, struct pvnic_back_stats *st);

/*
 * pvnic_back_accel_fds() - struct pv_hv's accel_fds hook (@arg: the
 * instance): dup()s of the VI memfd, doorbell and wake-up eventfds of vif
 * @d.@devid, which the caller closes after sending.
 * Return: 0, -ENOENT (no such vif served), -EAGAIN (fast path not ready).
 */
int pvnic_back_accel_fds(struct pv_hv *hv, struct pv_domain *d, unsigned int devid,
			 int fds[3], void *arg);

#endif
