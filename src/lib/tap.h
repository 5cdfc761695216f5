/* SPDX-License-Identifier: MIT */
/*
 * tap.h - a Linux TAP interface with a virtio-net header on every frame:
 * the guest's network device (netfront's upper edge) and pvnetd's host port.
 *
 *   guest stack (TCP/IP) <-> eth0 (TAP, IFF_VNET_HDR) <-> fd <-> pvnet-front
 *   host stack <-> pvhost0 (TAP) <-> fd <-> pvnetd's switch
 *
 * The kernel hands us frames with a struct virtio_net_hdr in front
 * (partial checksums, 64 KiB TSO frames once the offloads are on) and
 * takes frames the same way.  The device lives as long as the descriptor:
 * closing it removes the interface.
 */
#ifndef PVNET_TAP_H
#define PVNET_TAP_H

#include <net/if.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>

struct pv_tap {
	int fd;
	char ifname[IFNAMSIZ];
	unsigned int offload;		/* TUN_F_* in effect */
};

/*
 * The TAP's txqueuelen: how many frames the kernel queues for the reader
 * (pvnet-front, pvnetd) before it drops them, counted in the TAP's
 * tx_dropped.  The tun default (500) overflowed under a 1 Gbit/s UDP
 * burst from the guest while the reader slept (bench: 6.1% loss out).
 */
#define TAP_TXQLEN 4096

/* Open (create) TAP @name: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, non-blocking. */
int tap_open(struct pv_tap *t, const char *name);
/* The same, the carrier off before anyone can see @name (no '%' pattern). */
int tap_open_nocarrier(struct pv_tap *t, const char *name);
void tap_close(struct pv_tap *t);

int tap_set_offload(struct pv_tap *t, unsigned int tun_f);	/* TUN_F_* */
int tap_set_mtu(struct pv_tap *t, unsigned int mtu);
int tap_get_mtu(struct pv_tap *t, unsigned int *mtu);
int tap_set_mac(struct pv_tap *t, const uint8_t mac[6]);
int tap_get_mac(struct pv_tap *t, uint8_t mac[6]);
int tap_set_up(struct pv_tap *t, int up);
int tap_set_carrier(struct pv_tap *t, int on);

/*
 * tap_read() - one frame from the kernel
 * Return: its length (without the header), -EAGAIN if none, -errno.
 */
ssize_t tap_read(struct pv_tap *t, struct virtio_net_hdr *vh, void *buf, size_t size);
/* The most pieces a frame may be read into or written from (after the header). */
#define TAP_IOV_MAX	64
/*
 * tap_readv() - one frame into @iov (at most TAP_IOV_MAX pieces).
 * Return: its length (without the header), -EAGAIN, -EIO (short), -errno.
 */
ssize_t tap_readv(struct pv_tap *t, struct virtio_net_hdr *vh, const struct iovec *iov, int iovcnt);
/*
 * tap_write() - one frame to the kernel, of at most TAP_IOV_MAX pieces
 * (netback's slots, or an RX chain of the fast path): 0, or -errno.
 */
int tap_write(struct pv_tap *t, const struct virtio_net_hdr *vh, const struct iovec *iov,
	      int iovcnt);

#endif
