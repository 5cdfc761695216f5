/* SPDX-License-Identifier: MIT */
/*
 * tap.c - the TAP device: open, configure (vnet header, offloads, MTU,
 * MAC, link and carrier), read and write frames.  One helper for both TAP
 * users: pvnet-front's eth0 (the guest's device) and pvnetd's host port.
 *
 * The virtio-net header is the legacy 10-byte struct virtio_net_hdr in
 * host byte order (no TUNSETVNETLE: we never cross endianness).  Interface
 * settings go through the classic ioctls on a throw-away datagram socket,
 * which act in the caller's network namespace: the one the TAP lives in.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/tap.h"

static int tap_ifreq(struct pv_tap *t, unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), e = 0;

	if (s < 0)
		return -errno;
	snprintf(ifr->ifr_name, IFNAMSIZ, "%s", t->ifname);
	if (ioctl(s, req, ifr) < 0)
		e = -errno;
	close(s);
	return e;
}

/**
 * tap_open() - create TAP @name with a virtio-net header on every frame
 *
 * The device starts down, with no offloads (tap_set_offload adds them),
 * and a queue of TAP_TXQLEN frames towards its reader (see tap.h).
 */
int tap_open(struct pv_tap *t, const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr = (int)sizeof(struct virtio_net_hdr), e;

	memset(t, 0, sizeof(*t));
	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0 || ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(t->fd, TUNSETOFFLOAD, 0UL) < 0) {
		e = -errno;
		close(t->fd);
		t->fd = -1;
		return e;
	}
	snprintf(t->ifname, sizeof(t->ifname), "%s", ifr.ifr_name);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_qlen = TAP_TXQLEN;
	e = tap_ifreq(t, SIOCSIFTXQLEN, &ifr);
	if (e) {
		tap_close(t);
		return e;
	}
	return 0;
}

/**
 * tap_open_nocarrier() - create TAP @name with its carrier off from birth
 *
 * A TAP is registered by TUNSETIFF with the carrier on, under its final
 * name: someone waiting for the name may bring it up before its owner has
 * given it a MAC or turned the carrier off, and the kernel then starts
 * IPv6 addrconf (and sends from a link-local address) with the random MAC
 * it was born with.  So it is created under a temporary name, its carrier
 * turned off, and only then renamed @name (a device must be down to be
 * renamed: it is).  The owner turns the carrier on with tap_set_carrier().
 * A @name with a '%' pattern cannot be renamed into: -EINVAL.
 */
int tap_open_nocarrier(struct pv_tap *t, const char *name)
{
	struct ifreq ifr = { 0 };
	int e, s;

	if (strchr(name, '%'))
		return -EINVAL;
	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	if (if_nametoindex(name))
		return -EEXIST;		/* TUNSETIFF would have attached to a persistent one */
	e = tap_open(t, "pvtmp%d");
	if (e)
		return e;
	e = tap_set_carrier(t, 0);
	if (!e) {
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", t->ifname);
		snprintf(ifr.ifr_newname, IFNAMSIZ, "%s", name);
		if (s < 0 || ioctl(s, SIOCSIFNAME, &ifr) < 0)
			e = -errno;
		if (s >= 0)
			close(s);
	}
	if (e) {
		tap_close(t);
		return e;
	}
	snprintf(t->ifname, sizeof(t->ifname), "%s", name);
	return 0;
}

void tap_close(struct pv_tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

int tap_set_offload(struct pv_tap *t, unsigned int tun_f)
{
	if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)tun_f) < 0)
		return -errno;
	t->offload = tun_f;
	return 0;
}

int tap_set_mtu(struct pv_tap *t, unsigned int mtu)
{
	struct ifreq ifr = { .ifr_mtu = (int)mtu };

	return tap_ifreq(t, SIOCSIFMTU, &ifr);
}

int tap_get_mtu(struct pv_tap *t, unsigned int *mtu)
{
	struct ifreq ifr = { 0 };
	int e = tap_ifreq(t, SIOCGIFMTU, &ifr);

	if (!e)
		*mtu = (unsigned int)ifr.ifr_mtu;
	return e;
}

int tap_set_mac(struct pv_tap *t, const uint8_t mac[6])
{
	struct ifreq ifr = { 0 };

	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return tap_ifreq(t, SIOCSIFHWADDR, &ifr);
}

int tap_get_mac(struct pv_tap *t, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int e = tap_ifreq(t, SIOCGIFHWADDR, &ifr);

	if (!e)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return e;
}

int tap_set_up(struct pv_tap *t, int up)
{
	struct ifreq ifr = { 0 };
	int e = tap_ifreq(t, SIOCGIFFLAGS, &ifr);

	if (e)
		return e;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return tap_ifreq(t, SIOCSIFFLAGS, &ifr);
}

/* The link's carrier (Linux >= 5.0): the guest's stack sees the cable. */
int tap_set_carrier(struct pv_tap *t, int on)
{
	int v = !!on;

	return ioctl(t->fd, TUNSETCARRIER, &v) < 0 ? -errno : 0;
}

ssize_t tap_read(struct pv_tap *t, struct virtio_net_hdr *vh, void *buf, size_t size)
{
	struct iovec iov = { buf, size };

	return tap_readv(t, vh, &iov, 1);
}

/**
 * tap_readv() - read one frame into @iov (after the virtio-net header)
 * Return: frame length, -EAGAIN, -EIO (short), -errno.
 */
ssize_t tap_readv(struct pv_tap *t, struct virtio_net_hdr *vh, const struct iovec *iov, int iovcnt)
{
	struct iovec v[1 + TAP_IOV_MAX];
	ssize_t n;

	if (iovcnt < 0 || iovcnt > TAP_IOV_MAX)
		return -EINVAL;
	v[0].iov_base = vh;
	v[0].iov_len = sizeof(*vh);
	memcpy(&v[1], iov, sizeof(*iov) * (size_t)iovcnt);
	do
		n = readv(t->fd, v, 1 + iovcnt);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(*vh))
		return -EIO;
	return n - (ssize_t)sizeof(*vh);
}

int tap_write(struct pv_tap *t, const struct virtio_net_hdr *vh, const struct iovec *iov,
	      int iovcnt)
{
	struct iovec v[1 + TAP_IOV_MAX];
	ssize_t n;

	if (iovcnt < 0 || iovcnt > TAP_IOV_MAX)
		return -EINVAL;
	v[0].iov_base = (void *)vh;
	v[0].iov_len = sizeof(*vh);
	memcpy(&v[1], iov, sizeof(*iov) * (size_t)iovcnt);
	do
		n = writev(t->fd, v, 1 + iovcnt);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}
