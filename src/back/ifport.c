/* SPDX-License-Identifier: MIT */
/*
 * ifport.c - what pvnetd's two kernel-facing ports share: the uplink
 * (uplink.c, AF_PACKET on a host interface) and the host port (hostport.c,
 * a TAP device).
 *
 * How this works
 * ==============
 *
 * Both ports are a struct pv_ifport (ifport.h): a descriptor speaking frames
 * with a virtio-net header in front, a switch port, and receive slots.
 *
 *   slot:  | headroom (4) | frame, up to PV_FRAME_MAX_LEN bytes ...     |
 *          ^ room to put back an 802.1Q tag the kernel took out
 *   recvmmsg iov: [ struct virtio_net_hdr ][ slot + headroom ]
 *
 * Receive.  Readable -> up to PV_UPLINK_BUDGET frames (in recvmmsg batches
 * of PV_UPLINK_BATCH for the uplink) -> each, with a sane virtio-net
 * header, becomes a pv_frame (private header copy + one segment in the
 * slot) and goes to pv_switch_input() -> pv_switch_flush() once.  The loop
 * is level-triggered: what the budget left is read on the next round,
 * after the other descriptors had their turn.  Each port's readable
 * callback is its own (uplink.c, hostport.c); ifport_input() is shared.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bridge.h"
#include "ifport.h"
#include "lib/afpacket.h"
#include "lib/log.h"
#include "lib/pkt.h"

_Static_assert(PV_PKT_GSO_TCPV4 == PV_GSO_TCPV4 && PV_PKT_GSO_TCPV6 == PV_GSO_TCPV6 &&
	       PV_PKT_GSO_NONE == PV_GSO_NONE, "pkt.h and port.h GSO types agree");
_Static_assert(sizeof(struct virtio_net_hdr) == 10, "virtio_net_hdr without num_buffers");

/* ---- helpers ---- */

/* The interface's MTU, or -errno. */
int ifport_if_mtu(const char *name)
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
int ifport_alloc_slots(struct pv_ifport *ifp, unsigned int n)
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

void ifport_free(struct pv_ifport *ifp)
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

void ifport_rx_drop(struct pv_ifport *ifp, uint64_t *reason, const char *why)
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
void ifport_input(struct pv_ifport *ifp, uint8_t *slot, uint32_t len,
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
		uint8_t *tag;

		frame -= PV_IF_HEADROOM;
		memmove(frame, frame + PV_IF_HEADROOM, 2 * PV_ETH_ALEN);
		len += PV_IF_HEADROOM;
		tag = pv_pkt_getw(frame, len, 2 * PV_ETH_ALEN, PV_IF_HEADROOM);
		tag[0] = tpid >> 8;
		tag[1] = tpid & 0xff;
		tag[2] = tci >> 8;
		tag[3] = tci & 0xff;
		shift = PV_IF_HEADROOM;
	}
	if (vnet_to_frame(vh, len, shift, &f)) {
		ifport_rx_drop(ifp, &ifp->xs.rx_bad_vnet, "bad virtio-net header");
		return;
	}
	pv_frame_linear(&f, frame, len);
	pv_switch_input(ifp->sw, &ifp->port, &f);
}

void ifport_rx_error(struct pv_ifport *ifp, int e)
{
	if (e == ENETDOWN) {	/* reported once per link-down event */
		pv_info("%s: link down", ifp->port.name);
		return;
	}
	ifp->xs.rx_errors++;
	pv_log_rl(&ifp->rl, PV_LOG_WARN, "%s: read: %s", ifp->port.name, strerror(e));
}

/* ---- transmit: switch -> kernel ---- */

/* Bytes of Ethernet..TCP headers of a GSO frame, as far as the header copy tells. */
static uint16_t frame_gso_hdr_len(const struct pv_frame *f)
{
	uint32_t th = f->csum_start, n;
	const uint8_t *tcp;

	if (!(f->flags & PV_FRAME_CSUM_PARTIAL))
		return 0;	/* the kernel works it out */
	tcp = pv_pkt_get(f->hdr, f->hdr_len, th, 13);	/* through the data offset */
	n = tcp ? th + (tcp[12] >> 4) * 4u : th + f->csum_offset + 2;
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
	const uint8_t *type = pv_pkt_get(f->hdr, f->hdr_len, 2 * PV_ETH_ALEN, 2);

	if (f->gso_type != PV_GSO_NONE)
		return 1;
	if (type && type[0] == 0x81 && type[1] == 0x00)
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

int ifport_xmit(struct pv_port *port, const struct pv_frame *f)
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
void ifport_flush(struct pv_port *port)
{
}

/**
 * ifport_attach() - join the switch and the loop
 * @ifp:	port with fd, name and slots ready
 * @ops:	uplink_ops or hostport_ops
 * @flags:	bridge port flags
 * @cb:		readable callback
 *
 * Return: 0 or -errno.
 */
int ifport_attach(struct pv_ifport *ifp, const struct pv_port_ops *ops,
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

void ifport_stats(const struct pv_ifport *ifp, struct pv_uplink_stats *out)
{
	*out = ifp->xs;
	out->port = ifp->port.st;
	out->mtu = ifp->mtu;
}
