/* SPDX-License-Identifier: MIT */
/*
 * accel_front.h - netfront's accelerator host (accel_front.c): what
 * netfront.c and netfront_xenbus.c call.  Not a contract: the plugins'
 * contract is include/pvnet/accel.h.
 *
 * Every function is a no-op on a netfront without an attached plugin.
 */
#ifndef PVNET_ACCEL_FRONT_H
#define PVNET_ACCEL_FRONT_H

#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>

struct pv_netfront;

/* Life of the host inside a netfront. */
int nf_accel_new(struct pv_netfront *nf);
void nf_accel_free(struct pv_netfront *nf);

/* Control plane (netfront_xenbus.c, loop callbacks only). */
int nf_accel_watch(struct pv_netfront *nf, int on);	/* <backend>/accel-frontend */
void nf_accel_sync(struct pv_netfront *nf);		/* attach/detach as the store says */
void nf_accel_detach(struct pv_netfront *nf, const char *why);

/*
 * nf_accel_xmit() - offer a frame to the attached plugin
 * @may_refuse: 0 when the frame cannot be given back to the upper edge
 *
 * Return: 1 taken (SENT, or BUSY: held), 0 not taken (slow path),
 * -EBUSY nothing taken: TX is stopped (a held frame, or a returned one
 * waiting for the slow path) and the upper edge is owed tx_ready.
 */
int nf_accel_xmit(struct pv_netfront *nf, const struct virtio_net_hdr *vh,
		  const struct iovec *iov, int iovcnt, uint32_t len, int may_refuse);
/* TX stopped on the plugin's account (held or returned frame). */
int nf_accel_tx_stopped(const struct pv_netfront *nf);
/* The plugin's TX buffers lent for one upper-edge read (accel.h 1.3). */
int nf_accel_tx_lend(struct pv_netfront *nf, struct iovec *iov, int max);
int nf_accel_tx_lending(const struct pv_netfront *nf);
void nf_accel_tx_unlend(struct pv_netfront *nf);
int nf_accel_xmit_lent(struct pv_netfront *nf, const struct virtio_net_hdr *vh, uint32_t len);
/* From netfront's poll: a returned frame to the slow path; check_ready. */
void nf_accel_tx_resume(struct pv_netfront *nf);

/* From netfront's poll: stop_irq (@on 0) / start_irq (@on 1, returns pending). */
int nf_accel_irq(struct pv_netfront *nf, int on);
/* The plugin's poll with @budget: 1 if it may have more. */
int nf_accel_poll(struct pv_netfront *nf, int budget);
void nf_accel_flush(struct pv_netfront *nf);
/* Collect the plugin's counter deltas into netfront's stats. */
void nf_accel_stats(struct pv_netfront *nf);

#endif
