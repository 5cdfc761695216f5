/* SPDX-License-Identifier: MIT */
/*
 * uplink.c - the uplink port (AF_PACKET on a host interface) and the host
 * port (a TAP device) of pvnetd's switch.
 *
 * How this works
 * ==============
 *
 * Both ports are a struct pv_ifport: a descriptor speaking frames with a
 * virtio-net header in front, a switch port, and receive slots.
 *
 *   slot:  | headroom (4) | frame, up to PV_FRAME_MAX_LEN bytes ...     |
 *          ^ room to put back an 802.1Q tag the kernel took out
 *   recvmmsg iov: [ struct virtio_net_hdr ][ slot + headroom ]
 *
 * Uplink.  An AF_PACKET SOCK_RAW socket, bound to the interface with
 * ETH_P_ALL, PACKET_VNET_HDR on (GSO and partial-checksum frames pass
 * whole), PACKET_IGNORE_OUTGOING (it must not see what it sends; on kernels
 * without it, PACKET_OUTGOING frames are skipped by hand), PACKET_AUXDATA
 * (the kernel strips VLAN tags before packet taps and reports them there:
 * they are put back, so the switch and the guests see the frame as it was
 * on the wire), and the interface promiscuous through a PACKET_MR_PROMISC
 * membership (undone by the kernel when the socket closes).
 *
 * Host port.  A TAP device, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, with
 * TUNSETOFFLOAD csum + TSO4 + TSO6 so the host stack hands over 64 KiB
 * frames with partial checksums.  It is read with readv(), one frame per
 * call (a TAP has no batch read); the tag of a VLAN frame is in its data.
 *
 * Receive.  Readable -> up to PV_UPLINK_BUDGET frames (in recvmmsg batches
 * of PV_UPLINK_BATCH for the uplink) -> each, with a sane virtio-net
 * header, becomes a pv_frame (private header copy + one segment in the
 * slot) and goes to pv_switch_input() -> pv_switch_flush() once.  The loop
 * is level-triggered: what the budget left is read on the next round,
 * after the other descriptors had their turn.
 *
 * Transmit.  xmit() gathers [virtio-net header][f->hdr][f->seg...] into one
 * sendmsg(MSG_DONTWAIT) / writev() on the non-blocking descriptor, at once:
 * a frame may not be referenced after xmit() returns, and queueing would
 * mean copying it.  Frames longer than MTU + Ethernet header (+ tag)
 * without GSO are dropped; a GSO frame is segmented by the kernel if the
 * device cannot.  Every drop is counted by reason, port.tx_dropped counts
 * them all, and xmit returns -ENOBUFS so the switch does not count it again.
 *
 * The kernel is trusted, but a virtio-net header it should never produce
 * (unknown flags or GSO type, checksum outside the frame, GSO size 0) only
 * drops that frame, counted and logged (rate-limited).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bridge.h"
#include "port.h"
#include "uplink.h"
#include "lib/afpacket.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/pkt.h"

_Static_assert(PV_PKT_GSO_TCPV4 == PV_GSO_TCPV4 && PV_PKT_GSO_TCPV6 == PV_GSO_TCPV6 &&
	       PV_PKT_GSO_NONE == PV_GSO_NONE, "pkt.h and port.h GSO types agree");
_Static_assert(sizeof(struct virtio_net_hdr) == 10, "virtio_net_hdr without num_buffers");

#define PV_IF_HEADROOM	4			/* an 802.1Q tag */
#define PV_IF_SLOT	(PV_IF_HEADROOM + PV_FRAME_MAX_LEN + 5)	/* 8-byte multiple */
#define PV_IF_SOCKBUF	(4 << 20)

union pv_if_cmsg {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
};

struct pv_ifport {
	struct pv_port port;
	struct pv_loop *loop;
	struct pv_switch *sw;
	struct pv_watch *watch;
	int fd;
	int ifindex;
	int is_tap;
	int ignore_outgoing;		/* the kernel filters our own sends */
	uint32_t mtu;
	char ifname[IFNAMSIZ];
	struct pv_uplink_stats xs;	/* .port and .mtu filled by the accessor */
	struct pv_ratelimit rl;
	unsigned int nslots;
	uint8_t *slots;			/* nslots x PV_IF_SLOT */
	struct virtio_net_hdr *vnet;	/* one per slot */
	struct mmsghdr *msgs;		/* uplink only, one per slot */
	struct iovec *iovs;		/* two per slot */
	struct sockaddr_ll *addrs;
	union pv_if_cmsg *cmsgs;
};

struct pv_uplink {
	struct pv_ifport ifp;
};

struct pv_hostport {
	struct pv_ifport ifp;
};

/* ---- helpers ---- */

/* The interface's MTU, or -errno. */
static int if_get_mtu(const char *name)
{
	struct ifreq ifr = { 0 };
	int rc = pv_if_ioctl(name, SIOCGIFMTU, &ifr);

	return rc ? rc : ifr.ifr_mtu;
}

/**
 * ifport_alloc_slots() - receive slots, with their iovecs and headers
 * @ifp:	port
 * @n:		slots (1 for a TAP, PV_UPLINK_BATCH for an uplink)
 *
 * Return: 0 or -ENOMEM.
 */
static int ifport_alloc_slots(struct pv_ifport *ifp, unsigned int n)
{
	ifp->nslots = n;
	ifp->slots = malloc((size_t)n * PV_IF_SLOT);
	ifp->vnet = calloc(n, sizeof(*ifp->vnet));
	ifp->iovs = calloc(2 * (size_t)n, sizeof(*ifp->iovs));
	ifp->msgs = calloc(n, sizeof(*ifp->msgs));
	ifp->addrs = calloc(n, sizeof(*ifp->addrs));
	ifp->cmsgs = calloc(n, sizeof(*ifp->cmsgs));
	if (!ifp->slots || !ifp->vnet || !ifp->iovs || !ifp->msgs ||
	    !ifp->addrs || !ifp->cmsgs)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		ifp->iovs[2 * i] = (struct iovec){ &ifp->vnet[i], sizeof(ifp->vnet[i]) };
		ifp->iovs[2 * i + 1] = (struct iovec){
			ifp->slots + (size_t)i * PV_IF_SLOT + PV_IF_HEADROOM,
			PV_FRAME_MAX_LEN };
	}
	return 0;
}

static void ifport_free(struct pv_ifport *ifp)
{
	if (ifp->watch)
		pv_loop_del(ifp->loop, ifp->watch);
	if (ifp->port.ops && ifp->sw)
		pv_switch_port_del(ifp->sw, &ifp->port);
	if (ifp->fd >= 0)
		close(ifp->fd);
	free(ifp->slots);
	free(ifp->vnet);
	free(ifp->iovs);
	free(ifp->msgs);
	free(ifp->addrs);
	free(ifp->cmsgs);
}

/* ---- receive: kernel -> switch ---- */

/**
 * vnet_to_frame() - offload metadata of a received frame
 * @vh:		the kernel's virtio-net header (little endian)
 * @len:	frame length, VLAN tag included
 * @shift:	bytes inserted before the L3 header since the kernel wrote @vh
 *		(a VLAN tag put back): csum_start moves by as much
 * @f:		flags, csum_start/offset, gso_type/size set
 *
 * Return: 0, or -EINVAL for a header the kernel should never produce.
 */
static int vnet_to_frame(const struct virtio_net_hdr *vh, uint32_t len,
			 uint32_t shift, struct pv_frame *f)
{
	unsigned int gso = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	f->flags = 0;
	f->csum_start = f->csum_offset = 0;
	f->gso_type = PV_GSO_NONE;
	f->gso_size = 0;
	if (vh->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return -EINVAL;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		uint32_t start = le16toh(vh->csum_start) + shift;
		uint32_t off = le16toh(vh->csum_offset);

		if (start > UINT16_MAX || start + off + 2 > len)
			return -EINVAL;
		f->flags |= PV_FRAME_CSUM_PARTIAL;
		f->csum_start = (uint16_t)start;
		f->csum_offset = (uint16_t)off;
	} else if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		f->flags |= PV_FRAME_CSUM_VALID;
	}
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return 0;
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4)
		f->gso_type = PV_GSO_TCPV4;
	else if (gso == VIRTIO_NET_HDR_GSO_TCPV6)
		f->gso_type = PV_GSO_TCPV6;
	else
		return -EINVAL;	/* UDP fragmentation offload, USO: not offered */
	f->gso_size = le16toh(vh->gso_size);
	return f->gso_size ? 0 : -EINVAL;
}

static void ifport_rx_drop(struct pv_ifport *ifp, uint64_t *reason, const char *why)
{
	(*reason)++;
	ifp->port.st.rx_dropped++;
	pv_log_rl(&ifp->rl, PV_LOG_WARN, "%s: dropped a received frame: %s",
		  ifp->port.name, why);
}

/**
 * ifport_input() - one received frame into the switch
 * @ifp:	port
 * @slot:	the frame's slot; the frame starts at slot + PV_IF_HEADROOM
 * @len:	frame length as received
 * @vh:		its virtio-net header
 * @tpid:	0, or the TPID of a VLAN tag the kernel took out of the frame
 * @tci:	that tag's TCI
 */
static void ifport_input(struct pv_ifport *ifp, uint8_t *slot, uint32_t len,
			 const struct virtio_net_hdr *vh, uint16_t tpid, uint16_t tci)
{
	uint8_t *frame = slot + PV_IF_HEADROOM;
	uint32_t shift = 0;
	struct pv_frame f;

	if (len < PV_ETH_HLEN) {
		ifport_rx_drop(ifp, &ifp->xs.rx_bad_vnet, "runt");
		return;
	}
	if (tpid) {
		if (len + PV_IF_HEADROOM > PV_FRAME_MAX_LEN) {
			ifport_rx_drop(ifp, &ifp->xs.rx_truncated, "too long");
			return;
		}
		frame -= PV_IF_HEADROOM;
		memmove(frame, frame + PV_IF_HEADROOM, 2 * PV_ETH_ALEN);
		frame[12] = tpid >> 8;
		frame[13] = tpid & 0xff;
		frame[14] = tci >> 8;
		frame[15] = tci & 0xff;
		len += PV_IF_HEADROOM;
		shift = PV_IF_HEADROOM;
	}
	if (vnet_to_frame(vh, len, shift, &f)) {
		ifport_rx_drop(ifp, &ifp->xs.rx_bad_vnet, "bad virtio-net header");
		return;
	}
	pv_frame_linear(&f, frame, len);
	pv_switch_input(ifp->sw, &ifp->port, &f);
}

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

static void ifport_rx_error(struct pv_ifport *ifp, int e)
{
	if (e == ENETDOWN) {	/* reported once per link-down event */
		pv_info("%s: link down", ifp->port.name);
		return;
	}
	ifp->xs.rx_errors++;
	pv_log_rl(&ifp->rl, PV_LOG_WARN, "%s: read: %s", ifp->port.name, strerror(e));
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

/* ---- transmit: switch -> kernel ---- */

/* Bytes of Ethernet..TCP headers of a GSO frame, as far as the header copy tells. */
static uint16_t frame_gso_hdr_len(const struct pv_frame *f)
{
	uint32_t th = f->csum_start, n;

	if (!(f->flags & PV_FRAME_CSUM_PARTIAL))
		return 0;	/* the kernel works it out */
	n = th + f->csum_offset + 2;
	if (th + 13 < f->hdr_len)
		n = th + (f->hdr[th + 12] >> 4) * 4u;
	return n <= f->len && n <= UINT16_MAX ? (uint16_t)n : 0;
}

/**
 * frame_to_vnet() - the virtio-net header for a frame to send
 * @f:		frame
 * @vh:		out
 *
 * Return: 0, or -EINVAL for metadata the kernel would refuse or misread.
 */
static int frame_to_vnet(const struct pv_frame *f, struct virtio_net_hdr *vh)
{
	memset(vh, 0, sizeof(*vh));
	if (f->flags & PV_FRAME_CSUM_PARTIAL) {
		if ((uint32_t)f->csum_start + f->csum_offset + 2 > f->len)
			return -EINVAL;
		vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->csum_start = htole16(f->csum_start);
		vh->csum_offset = htole16(f->csum_offset);
	} else if (f->flags & PV_FRAME_CSUM_VALID) {
		vh->flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	switch (f->gso_type) {
	case PV_GSO_NONE:
		return 0;
	case PV_GSO_TCPV4:
		vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		break;
	case PV_GSO_TCPV6:
		vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
		break;
	default:
		return -EINVAL;
	}
	if (!f->gso_size)
		return -EINVAL;
	vh->gso_size = htole16(f->gso_size);
	vh->hdr_len = htole16(frame_gso_hdr_len(f));
	return 0;
}

/**
 * frame_iov() - gather list for a frame: virtio-net header, header copy, segments
 * @f:		frame
 * @vh:		its virtio-net header
 * @iov:	out, 2 + PV_FRAME_MAX_SEGS entries
 *
 * Return: entries used, or -EINVAL if the frame's lengths do not add up.
 */
static int frame_iov(const struct pv_frame *f, struct virtio_net_hdr *vh, struct iovec *iov)
{
	uint64_t total = f->hdr_len;
	int n = 0;

	if (f->hdr_len > PV_FRAME_HDR_MAX || f->nseg > PV_FRAME_MAX_SEGS)
		return -EINVAL;
	iov[n++] = (struct iovec){ vh, sizeof(*vh) };
	iov[n++] = (struct iovec){ (void *)f->hdr, f->hdr_len };
	for (unsigned int i = 0; i < f->nseg; i++) {
		if (!f->seg[i].len)
			continue;
		iov[n++] = (struct iovec){ (void *)f->seg[i].p, f->seg[i].len };
		total += f->seg[i].len;
	}
	return total == f->len && f->len >= PV_ETH_HLEN ? n : -EINVAL;
}

/* Does a frame without GSO fit the MTU (plus Ethernet header, plus a tag)? */
static int ifport_fits_mtu(const struct pv_ifport *ifp, const struct pv_frame *f)
{
	uint32_t max = ifp->mtu + PV_ETH_HLEN;

	if (f->gso_type != PV_GSO_NONE)
		return 1;
	if (f->hdr_len >= PV_ETH_HLEN && f->hdr[12] == 0x81 && f->hdr[13] == 0x00)
		max += PV_IF_HEADROOM;
	return f->len <= max;
}

static int ifport_tx_drop(struct pv_ifport *ifp, uint64_t *reason)
{
	(*reason)++;
	ifp->port.st.tx_dropped++;
	return -ENOBUFS;
}

/* Count a failed send by its reason; the frame is dropped either way. */
static int ifport_tx_error(struct pv_ifport *ifp, int e)
{
	switch (e) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case ENOBUFS:
		return ifport_tx_drop(ifp, &ifp->xs.tx_busy);
	case ENETDOWN:
	case ENXIO:
	case EIO:	/* a TAP whose interface is down */
		return ifport_tx_drop(ifp, &ifp->xs.tx_down);
	case EMSGSIZE:
		return ifport_tx_drop(ifp, &ifp->xs.tx_too_big);
	case EINVAL:
		pv_log_rl(&ifp->rl, PV_LOG_WARN, "%s: kernel refused a frame", ifp->port.name);
		return ifport_tx_drop(ifp, &ifp->xs.tx_bad_frame);
	default:
		pv_log_rl(&ifp->rl, PV_LOG_WARN, "%s: send: %s", ifp->port.name, strerror(e));
		return ifport_tx_drop(ifp, &ifp->xs.tx_errors);
	}
}

/**
 * ifport_xmit() - pv_port_ops.xmit of both kinds: send one frame now
 * @port:	the uplink's or host port's switch port
 * @f:		frame
 *
 * Return: 0 if the kernel took it; -ENOBUFS if dropped (counted here).
 */
#define PV_ETH_MIN_FRAME	60u	/* without FCS */
static const uint8_t up_zero_pad[PV_ETH_MIN_FRAME];

static int ifport_xmit(struct pv_port *port, const struct pv_frame *f)
{
	struct pv_ifport *ifp = port->priv;
	struct iovec iov[3 + PV_FRAME_MAX_SEGS];
	struct virtio_net_hdr vh;
	ssize_t r;
	int n;

	if (frame_to_vnet(f, &vh))
		return ifport_tx_drop(ifp, &ifp->xs.tx_bad_frame);
	n = frame_iov(f, &vh, iov);
	if (n < 0)
		return ifport_tx_drop(ifp, &ifp->xs.tx_bad_frame);
	if (!ifport_fits_mtu(ifp, f))
		return ifport_tx_drop(ifp, &ifp->xs.tx_too_big);
	/* The wire's minimum: a shorter frame leaves padded with zeros, as a MAC pads it. */
	if (!ifp->is_tap && f->len < PV_ETH_MIN_FRAME)
		iov[n++] = (struct iovec){ (void *)up_zero_pad, PV_ETH_MIN_FRAME - f->len };
	if (ifp->is_tap) {
		r = writev(ifp->fd, iov, n);
	} else {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };

		r = sendmsg(ifp->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	if (r < 0)
		return ifport_tx_error(ifp, errno);
	return 0;
}

/* Nothing is queued: every xmit went to the kernel at once. */
static void ifport_flush(struct pv_port *port)
{
}

static const struct pv_port_ops uplink_ops = {
	.kind = "uplink", .xmit = ifport_xmit, .flush = ifport_flush,
};

static const struct pv_port_ops hostport_ops = {
	.kind = "host", .xmit = ifport_xmit, .flush = ifport_flush,
};

/**
 * ifport_attach() - join the switch and the loop
 * @ifp:	port with fd, name and slots ready
 * @ops:	uplink_ops or hostport_ops
 * @flags:	bridge port flags
 * @cb:		readable callback
 *
 * Return: 0 or -errno.
 */
static int ifport_attach(struct pv_ifport *ifp, const struct pv_port_ops *ops,
			 unsigned int flags, pv_loop_cb cb)
{
	int rc;

	ifp->port.priv = ifp;
	ifp->port.br_port = -1;
	rc = pv_switch_port_add(ifp->sw, &ifp->port);
	if (rc < 0)
		return rc;
	ifp->port.ops = ops;	/* set after the add: ifport_free() deletes only then */
	pv_bridge_port_set_flags(pv_switch_bridge(ifp->sw), ifp->port.br_port, flags);
	ifp->watch = pv_loop_add(ifp->loop, ifp->fd, EPOLLIN, cb, ifp);
	return ifp->watch ? 0 : -ENOMEM;
}

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

static void ifport_stats(const struct pv_ifport *ifp, struct pv_uplink_stats *out)
{
	*out = ifp->xs;
	out->port = ifp->port.st;
	out->mtu = ifp->mtu;
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
	int mtu = if_get_mtu(up->ifp.ifname);

	if (mtu > 0)
		up->ifp.mtu = (uint32_t)mtu;
	return mtu;
}

/* ---- host port ---- */

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
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdrsz = sizeof(struct virtio_net_hdr), rc;

	ifp->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (ifp->fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifp->ifname);
	if (ioctl(ifp->fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(ifp->fd, TUNSETVNETHDRSZ, &hdrsz) < 0 ||
	    ioctl(ifp->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0)
		return -errno;
	snprintf(ifp->ifname, sizeof(ifp->ifname), "%.*s", IFNAMSIZ - 1, ifr.ifr_name);
	if (mac) {
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memcpy(ifr.ifr_hwaddr.sa_data, mac, PV_ETH_ALEN);
		if ((rc = pv_if_ioctl(ifp->ifname, SIOCSIFHWADDR, &ifr)))
			return rc;
	}
	if (mtu) {
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_mtu = (int)mtu;
		if ((rc = pv_if_ioctl(ifp->ifname, SIOCSIFMTU, &ifr)))
			return rc;
	}
	memset(&ifr, 0, sizeof(ifr));
	if ((rc = pv_if_ioctl(ifp->ifname, SIOCGIFFLAGS, &ifr)))
		return rc;
	ifr.ifr_flags |= IFF_UP;
	if ((rc = pv_if_ioctl(ifp->ifname, SIOCSIFFLAGS, &ifr)))
		return rc;
	ifp->ifindex = (int)if_nametoindex(ifp->ifname);
	rc = if_get_mtu(ifp->ifname);
	if (rc < 0)
		return rc;
	ifp->mtu = (uint32_t)rc;
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
