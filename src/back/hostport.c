/* SPDX-License-Identifier: MIT */
/*
 * hostport.c - the host port of pvnetd's switch: a TAP device in the
 * host's namespace, so the host's own stack sits on the bridge like a
 * guest.  The TAP is made by lib/tap.c, the helper pvnet-front's eth0 uses
 * too; what the port shares with the uplink is in ifport.c.
 *
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, with TUNSETOFFLOAD csum + TSO4 + TSO6
 * so the host stack hands over 64 KiB frames with partial checksums.  It is
 * read with readv(), one frame per call (a TAP has no batch read); the tag
 * of a VLAN frame is in its data.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "bridge.h"
#include "ifport.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/tap.h"

struct pv_hostport {
	struct pv_ifport ifp;
};


/* Readable TAP: one readv per frame up to the budget, then one flush. */
static void hostport_rx_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_ifport *ifp = arg;
	unsigned int done;

	ifp->xs.wakeups++;
	for (done = 0; done < PV_UPLINK_BUDGET; done++) {
		ssize_t n = readv(fd, ifp->iovs, 2);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				ifport_rx_error(ifp, errno);
			break;
		}
		if ((size_t)n < sizeof(struct virtio_net_hdr)) {
			ifport_rx_drop(ifp, &ifp->xs.rx_bad_vnet, "no virtio-net header");
			continue;
		}
		ifport_input(ifp, ifp->slots, (uint32_t)(n - sizeof(struct virtio_net_hdr)),
			     &ifp->vnet[0], 0, 0);
	}
	if (done >= PV_UPLINK_BUDGET)
		ifp->xs.budget_hits++;
	pv_switch_flush(ifp->sw);
}

static const struct pv_port_ops hostport_ops = {
	.kind = "host", .xmit = ifport_xmit, .flush = ifport_flush,
};


/**
 * hostport_tap() - create the TAP and configure it: offloads, MAC, MTU, up
 * @ifp:	port with ifname set; fd, ifname (as created), ifindex, mtu filled
 * @mac:	MAC to give it, or NULL for the kernel's random one
 * @mtu:	MTU to set, or 0 for the default
 *
 * Return: 0 or -errno.
 */
static int hostport_tap(struct pv_ifport *ifp, const uint8_t *mac, unsigned int mtu)
{
	struct pv_tap t;
	unsigned int got;
	int rc = tap_open(&t, ifp->ifname);

	if (rc)
		return rc;
	ifp->fd = t.fd;		/* the port owns the descriptor from here: ifport_free() */
	snprintf(ifp->ifname, sizeof(ifp->ifname), "%s", t.ifname);
	rc = tap_set_offload(&t, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	if (!rc && mac)
		rc = tap_set_mac(&t, mac);
	if (!rc && mtu)
		rc = tap_set_mtu(&t, mtu);
	if (!rc)
		rc = tap_set_up(&t, 1);
	if (!rc)
		rc = tap_get_mtu(&t, &got);
	if (rc)
		return rc;
	ifp->mtu = got;
	ifp->ifindex = (int)if_nametoindex(ifp->ifname);
	return ifp->ifindex ? 0 : -ENODEV;
}

/**
 * pv_hostport_open() - a TAP device in the host's namespace as a switch port
 * @loop:	pvnetd's loop
 * @sw:		the switch
 * @ifname:	TAP name, e.g. "pvhost0" (may hold a "%d" pattern)
 * @mac:	its MAC, or NULL for a random one
 * @mtu:	its MTU, or 0 for the kernel default (1500)
 * @err:	out, optional: -errno on failure
 *
 * The TAP is created up, with checksum and TSO offloads, so the host's own
 * stack sits on the bridge like a guest; it goes away with the port.  The
 * switch port is named "host:<ifname>", kind "host"; its MAC is learned
 * like any station's (the host may change it).
 *
 * Return: the host port, or NULL.
 */
struct pv_hostport *pv_hostport_open(struct pv_loop *loop, struct pv_switch *sw,
				     const char *ifname, const uint8_t *mac,
				     unsigned int mtu, int *err)
{
	struct pv_hostport *hp = calloc(1, sizeof(*hp));
	struct pv_ifport *ifp;
	int rc = -ENOMEM;

	if (!hp)
		goto fail;
	ifp = &hp->ifp;
	ifp->fd = -1;
	ifp->loop = loop;
	ifp->sw = sw;
	ifp->is_tap = 1;
	ifp->rl = (struct pv_ratelimit)PV_RATELIMIT_INIT;
	rc = -EINVAL;
	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ || mtu > PV_FRAME_MAX_LEN - 18)
		goto fail;
	snprintf(ifp->ifname, sizeof(ifp->ifname), "%s", ifname);
	rc = hostport_tap(ifp, mac, mtu);
	if (!rc)
		rc = ifport_alloc_slots(ifp, 1);
	if (rc)
		goto fail;
	snprintf(ifp->port.name, sizeof(ifp->port.name), "host:%s", ifp->ifname);
	rc = ifport_attach(ifp, &hostport_ops, PV_BRIDGE_PORT_DEFAULT, hostport_rx_cb);
	if (rc)
		goto fail;
	pv_info("%s: up, ifindex %d, mtu %u", ifp->port.name, ifp->ifindex, ifp->mtu);
	return hp;
fail:
	if (err)
		*err = rc;
	pv_hostport_close(hp);
	return NULL;
}

/**
 * pv_hostport_close() - leave the switch and the loop; the TAP disappears
 * @hp:		host port, or NULL
 */
void pv_hostport_close(struct pv_hostport *hp)
{
	if (!hp)
		return;
	ifport_free(&hp->ifp);
	free(hp);
}

/**
 * pv_hostport_port() - the host port's switch port
 * @hp:		host port
 *
 * Return: its port.
 */
struct pv_port *pv_hostport_port(struct pv_hostport *hp)
{
	return &hp->ifp.port;
}

/**
 * pv_hostport_stats() - a snapshot of the host port's counters
 * @hp:		host port
 * @out:	filled
 */
void pv_hostport_stats(const struct pv_hostport *hp, struct pv_uplink_stats *out)
{
	ifport_stats(&hp->ifp, out);
}

/**
 * pv_hostport_ifindex() - the TAP's interface index
 * @hp:		host port
 *
 * Return: ifindex (> 0).
 */
int pv_hostport_ifindex(const struct pv_hostport *hp)
{
	return hp->ifp.ifindex;
}
