/* SPDX-License-Identifier: MIT */
/*
 * uplink.c - the uplink port of pvnetd's switch: AF_PACKET on a host
 * interface (a NIC, a veth end).  What it shares with the host port
 * (receive slots, frame conversion, transmit) is in ifport.c.
 *
 * An AF_PACKET SOCK_RAW socket, bound to the interface with ETH_P_ALL,
 * PACKET_VNET_HDR on (GSO and partial-checksum frames pass whole),
 * PACKET_IGNORE_OUTGOING (it must not see what it sends; on kernels
 * without it, PACKET_OUTGOING frames are skipped by hand), PACKET_AUXDATA
 * (the kernel strips VLAN tags before packet taps and reports them there:
 * they are put back, so the switch and the guests see the frame as it was
 * on the wire), and the interface promiscuous through a PACKET_MR_PROMISC
 * membership (undone by the kernel when the socket closes).  Received in
 * recvmmsg batches of PV_UPLINK_BATCH.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bridge.h"
#include "ifport.h"
#include "lib/afpacket.h"
#include "lib/log.h"
#include "lib/loop.h"

struct pv_uplink {
	struct pv_ifport ifp;
};


/* Re-arm message @i of the batch: the kernel overwrote its lengths. */
static void uplink_rx_arm(struct pv_ifport *ifp, unsigned int i)
{
	struct msghdr *mh = &ifp->msgs[i].msg_hdr;

	mh->msg_name = &ifp->addrs[i];
	mh->msg_namelen = sizeof(ifp->addrs[i]);
	mh->msg_iov = &ifp->iovs[2 * i];
	mh->msg_iovlen = 2;
	mh->msg_control = ifp->cmsgs[i].buf;
	mh->msg_controllen = sizeof(ifp->cmsgs[i].buf);
	mh->msg_flags = 0;
}

static void uplink_rx_one(struct pv_ifport *ifp, unsigned int i)
{
	struct msghdr *mh = &ifp->msgs[i].msg_hdr;
	unsigned int got = ifp->msgs[i].msg_len;
	uint16_t tpid, tci;

	if (!ifp->ignore_outgoing && ifp->addrs[i].sll_pkttype == PACKET_OUTGOING)
		return;	/* our own transmission, on a kernel before 4.20 */
	if (mh->msg_flags & MSG_TRUNC) {
		ifport_rx_drop(ifp, &ifp->xs.rx_truncated, "longer than 64 KiB");
		return;
	}
	if (got < sizeof(struct virtio_net_hdr)) {
		ifport_rx_drop(ifp, &ifp->xs.rx_bad_vnet, "no virtio-net header");
		return;
	}
	pv_afpacket_vlan(mh, &tpid, &tci);
	ifport_input(ifp, ifp->slots + (size_t)i * PV_IF_SLOT,
		     got - sizeof(struct virtio_net_hdr), &ifp->vnet[i], tpid, tci);
}


/* Readable uplink: batches of recvmmsg up to the budget, then one flush. */
static void uplink_rx_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_ifport *ifp = arg;
	unsigned int done = 0;

	ifp->xs.wakeups++;
	while (done < PV_UPLINK_BUDGET) {
		unsigned int want = PV_UPLINK_BUDGET - done < ifp->nslots ?
				    PV_UPLINK_BUDGET - done : ifp->nslots;
		int n;

		for (unsigned int i = 0; i < want; i++)
			uplink_rx_arm(ifp, i);
		n = recvmmsg(fd, ifp->msgs, want, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				ifport_rx_error(ifp, errno);
			break;
		}
		for (int i = 0; i < n; i++)
			uplink_rx_one(ifp, (unsigned int)i);
		done += (unsigned int)n;
		if ((unsigned int)n < want)
			break;
	}
	if (done >= PV_UPLINK_BUDGET)
		ifp->xs.budget_hits++;
	pv_switch_flush(ifp->sw);
}

static const struct pv_port_ops uplink_ops = {
	.kind = "uplink", .xmit = ifport_xmit, .flush = ifport_flush,
};

/* ---- uplink ---- */

/**
 * uplink_socket() - the AF_PACKET socket, bound and promiscuous
 * @ifp:	port with ifindex set; fd and ignore_outgoing filled
 *
 * Return: 0 or -errno.
 */
static int uplink_socket(struct pv_ifport *ifp)
{
	ifp->fd = pv_afpacket_open(ifp->ifindex, PV_IF_SOCKBUF, &ifp->ignore_outgoing);
	return ifp->fd < 0 ? ifp->fd : 0;
}

/**
 * pv_uplink_open() - make a host interface a port of the switch
 * @loop:	pvnetd's loop
 * @sw:		the switch
 * @ifname:	existing interface (a NIC, a veth end); set promiscuous
 * @err:	out, optional: -errno on failure
 *
 * The port is named "uplink:<ifname>" and flagged PV_BRIDGE_PORT_UPLINK.
 *
 * Return: the uplink, or NULL (-ENODEV: no such interface; -EPERM: needs
 * CAP_NET_RAW; -EBUSY: the switch is full; ...).
 */
struct pv_uplink *pv_uplink_open(struct pv_loop *loop, struct pv_switch *sw,
				 const char *ifname, int *err)
{
	struct pv_uplink *up = calloc(1, sizeof(*up));
	struct pv_ifport *ifp;
	int rc = -ENOMEM;

	if (!up)
		goto fail;
	ifp = &up->ifp;
	ifp->fd = -1;
	ifp->loop = loop;
	ifp->sw = sw;
	ifp->rl = (struct pv_ratelimit)PV_RATELIMIT_INIT;
	rc = -EINVAL;
	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
		goto fail;
	snprintf(ifp->ifname, sizeof(ifp->ifname), "%s", ifname);
	snprintf(ifp->port.name, sizeof(ifp->port.name), "uplink:%s", ifname);
	ifp->ifindex = (int)if_nametoindex(ifname);
	rc = -ENODEV;
	if (!ifp->ifindex)
		goto fail;
	rc = pv_uplink_refresh_mtu(up);
	if (rc >= 0)
		rc = uplink_socket(ifp);
	if (!rc)
		rc = ifport_alloc_slots(ifp, PV_UPLINK_BATCH);
	if (!rc)
		rc = ifport_attach(ifp, &uplink_ops, PV_BRIDGE_PORT_ALL, uplink_rx_cb);
	if (rc)
		goto fail;
	pv_info("%s: up, ifindex %d, mtu %u%s", ifp->port.name, ifp->ifindex, ifp->mtu,
		ifp->ignore_outgoing ? "" : ", filtering own frames by hand");
	return up;
fail:
	if (err)
		*err = rc;
	pv_uplink_close(up);
	return NULL;
}

/**
 * pv_uplink_close() - leave the switch and the loop, close the socket
 * @up:		uplink, or NULL
 *
 * The kernel drops the promiscuous membership with the socket.
 */
void pv_uplink_close(struct pv_uplink *up)
{
	if (!up)
		return;
	ifport_free(&up->ifp);
	free(up);
}

/**
 * pv_uplink_port() - the uplink's switch port
 * @up:		uplink
 *
 * Return: its port (name, counters, br_port).
 */
struct pv_port *pv_uplink_port(struct pv_uplink *up)
{
	return &up->ifp.port;
}


/**
 * pv_uplink_stats() - a snapshot of the uplink's counters
 * @up:		uplink
 * @out:	filled
 */
void pv_uplink_stats(const struct pv_uplink *up, struct pv_uplink_stats *out)
{
	ifport_stats(&up->ifp, out);
}

/**
 * pv_uplink_refresh_mtu() - read the interface MTU again (after a change)
 * @up:		uplink
 *
 * Return: the MTU, or -errno (the old value stays).
 */
int pv_uplink_refresh_mtu(struct pv_uplink *up)
{
	int mtu = ifport_if_mtu(up->ifp.ifname);

	if (mtu > 0)
		up->ifp.mtu = (uint32_t)mtu;
	return mtu;
}
