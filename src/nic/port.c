/* SPDX-License-Identifier: MIT */
/*
 * port.c - the NIC's physical port: a host interface through AF_PACKET.
 *
 * How this works
 * ==============
 *
 * The same socket setup as pvnetd's uplink (src/back/uplink.c): SOCK_RAW,
 * ETH_P_ALL, PACKET_VNET_HDR, PACKET_AUXDATA (VLAN tags the kernel took
 * out are put back), PACKET_IGNORE_OUTGOING (skipped by hand on kernels
 * without it), promiscuous through a PACKET_MR_PROMISC membership.
 *
 * RX: a complete frame has a partial checksum completed
 * (pv_pkt_csum_complete) before nic_rx_frame() steers it; a GSO frame the
 * kernel hands over (GRO on the interface) goes to the device whole with
 * its metadata (nic_rx_frame_meta): a VI with RX chains gets it so, the
 * device cuts it into wire-sized segments for one without (vi.c).
 *
 * Receive coalescing (gro.c; on unless pvnet-nicd --no-gro): the frames of
 * one recvmmsg batch first go through nic_gro_batch(), which merges the
 * in-order TCP segments of a flow into one GSO frame in its first
 * segment's slot (hence the slot's room for a whole RX_FRAME_MAX frame);
 * then the batch is delivered in arrival order, a merged frame where its
 * first segment came, with its metadata (nic_rx_frame_meta), the others
 * as before.  Nothing is held past the batch.  Only flows whose VI takes
 * RX chains are merged (port_gro_want): for a VI without, vi.c would cut
 * the merged frame again, recomputing every segment's checksum in
 * software, and the VI would still get MTU frames.  Measured on 32
 * segments of 1448 bytes with validated checksums (2026-12-01, -O2, this
 * machine): delivering them as they came, 1.9 us; merging then cutting
 * again, 27.6 us; merging for a VI with chains, 7.8 us (with partial
 * checksums, which the port completes one by one otherwise: 36.5, 27.5
 * and 7.0 us).  The NIC's counters (struct nic, INFO) count what merged.
 *
 *   slot:  | headroom (4) | frame, up to 64 KiB (received) ... RX_FRAME_MAX (merged) |
 *   recvmmsg iov: [ struct virtio_net_hdr ][ slot + headroom, 64 KiB ]
 *
 * TX pads a frame shorter than 60 bytes with zeros, as an Ethernet MAC
 * does.  TX sends a VI's batch with one sendmmsg(), each frame behind the
 * virtio-net header the device model made for it (vi.c, txcheck.c), as
 * the iovecs the device model gives: its private copy of the headers, then
 * the payload read from the guest's buffers at send time.  The header: all
 * zero for a complete frame; NEEDS_CSUM with csum_start/offset for a
 * checksum offload; a TSO frame adds GSO TCPV4/TCPV6, gso_size and hdr_len,
 * and goes out as one GSO frame: the kernel segments it in software only
 * if the interface cannot (a veth carries it whole to its peer).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/afpacket.h"
#include "nic.h"
#include "gro.h"
#include "lib/loop.h"
#include "lib/pkt.h"

#define PORT_BATCH	32
#define PORT_BUDGET	256		/* frames per readable callback */
#define PORT_HEADROOM	4
#define PORT_FRAME_MAX	65536u
/* A merged frame grows in its slot: room for the longest frame RX chains carry. */
#define PORT_SLOT	(PORT_HEADROOM + PV_NIC_RX_FRAME_MAX)
#define PORT_SOCKBUF	(4 << 20)
#define PORT_DROPS_MS	1000	/* how often the kernel's drop count is read */
#define PORT_MIN_FRAME	60u		/* without FCS: shorter frames are padded */
_Static_assert(PORT_MIN_FRAME <= NIC_TX_HDR_MAX, "a short frame pads inside its header copy");
_Static_assert(PORT_BATCH <= NIC_GRO_BATCH_MAX, "a batch is one nic_gro_batch()");
_Static_assert(PV_NIC_RX_FRAME_MAX >= PORT_FRAME_MAX, "a received frame fits its slot");

union port_cmsg {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
};

struct nic_port {
	struct pv_loop *loop;
	struct nic *nic;
	struct pv_watch *watch, *drops_w;
	int fd;
	int ifindex;
	int ignore_outgoing;
	uint32_t mtu;
	char ifname[IFNAMSIZ];
	struct pv_ratelimit rl;
	uint64_t rx_bad, tx_errors, tx_padded;
	uint8_t *slots;
	struct virtio_net_hdr vnet[PORT_BATCH];
	struct mmsghdr msgs[PORT_BATCH];
	struct iovec iovs[2 * PORT_BATCH];
	struct sockaddr_ll addrs[PORT_BATCH];
	union port_cmsg cmsgs[PORT_BATCH];
	/* RX: the batch's good frames for gro.c; which message each came in; its tag shift */
	struct nic_gro_pkt gro[PORT_BATCH];
	unsigned int gro_msg[PORT_BATCH];
	uint32_t gro_shift[PORT_BATCH];
	/* TX: each frame's virtio-net header, then its iovecs (header copy, payload) */
	struct iovec txiov[PV_NIC_TX_BUDGET][1 + NIC_TX_IOV_MAX];
};

static int port_socket(struct nic_port *p)
{
	p->fd = pv_afpacket_open(p->ifindex, PORT_SOCKBUF, &p->ignore_outgoing);
	return p->fd < 0 ? p->fd : 0;
}

/* ---- TX ---- */

/*
 * A batch of frames, one sendmmsg (repeated past a frame the kernel
 * refuses).  Each frame: its virtio-net header, its private header copy,
 * its payload straight from the guest's buffers.
 */
static void port_xmit(void *arg, struct nic_txframe *f, unsigned int n)
{
	struct nic_port *p = arg;
	struct mmsghdr mm[PV_NIC_TX_BUDGET];
	unsigned int i = 0;

	if (n > PV_NIC_TX_BUDGET)
		n = PV_NIC_TX_BUDGET;
	for (unsigned int k = 0; k < n; k++) {
		struct iovec *iov = p->txiov[k];
		unsigned int niov = f[k].niov < NIC_TX_IOV_MAX ? f[k].niov : NIC_TX_IOV_MAX;

		iov[0] = (struct iovec){ &f[k].vnet, sizeof(f[k].vnet) };
		memcpy(iov + 1, f[k].iov, niov * sizeof(*iov));
		/*
		 * A frame under the minimum leaves padded with zeros, as a MAC
		 * pads it: such a frame is all in the header copy (hdr_len = len).
		 */
		if (f[k].len < PORT_MIN_FRAME && niov == 1 && f[k].hdr_len == f[k].len) {
			memset(f[k].hdr + f[k].len, 0, PORT_MIN_FRAME - f[k].len);
			iov[1].iov_len = PORT_MIN_FRAME;
			p->tx_padded++;
		}
		mm[k] = (struct mmsghdr){ .msg_hdr = { .msg_iov = iov, .msg_iovlen = 1 + niov } };
	}
	while (i < n) {
		int r = sendmmsg(p->fd, mm + i, n - i, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r <= 0) {	/* frame i refused: drop it, go on with the rest */
			f[i].rc = r < 0 ? -errno : -EIO;
			p->tx_errors++;
			pv_log_rl(&p->rl, PV_LOG_WARN, "port %s: send: %s", p->ifname,
				  strerror(-f[i].rc));
			i++;
			continue;
		}
		for (int k = 0; k < r; k++)
			f[i + (unsigned int)k].rc = 0;
		i += (unsigned int)r;
	}
}

/* ---- RX ---- */

static void port_bad(struct nic_port *p, const char *why)
{
	p->rx_bad++;
	pv_log_rl(&p->rl, PV_LOG_WARN, "port %s: dropped a received frame: %s", p->ifname, why);
}

/*
 * One frame as the kernel gave it, to the device: a complete frame with
 * its checksum completed, or a GSO frame whole with its GSO metadata and
 * its checksum left partial (the device cuts it for VIs without RX
 * chains, vi.c).
 */
static void port_input(struct nic_port *p, uint8_t *frame, uint32_t len,
		       const struct virtio_net_hdr *vh, uint32_t shift)
{
	unsigned int gso = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	struct nic_rxmeta m = { 0 };
	uint16_t flags = 0;

	if (gso != VIRTIO_NET_HDR_GSO_NONE) {
		int pt = gso == VIRTIO_NET_HDR_GSO_TCPV4 ? PV_PKT_GSO_TCPV4 : PV_PKT_GSO_TCPV6;

		if ((gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6) ||
		    !le16toh(vh->gso_size) || !pv_pkt_is_tcp_gso_ok(frame, len, pt)) {
			port_bad(p, "GSO frame that cannot be segmented");
			return;
		}
		m.gso_type = (uint8_t)vh->gso_type;	/* virtio's values, as nic.h's */
		m.gso_size = le16toh(vh->gso_size);
		if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			m.csum_start = (uint16_t)(le16toh(vh->csum_start) + shift);
			m.csum_offset = le16toh(vh->csum_offset);
			flags = PV_NIC_RX_F_CSUM_PARTIAL;
		}
		nic_rx_frame_meta(p->nic, frame, len, flags, &m);
		return;
	}
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		uint32_t start = le16toh(vh->csum_start) + shift;

		if (pv_pkt_csum_complete(frame, len, (uint16_t)start, le16toh(vh->csum_offset))) {
			port_bad(p, "bad partial checksum");
			return;
		}
		flags = PV_NIC_RX_F_CSUM_OK;
	} else if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		flags = PV_NIC_RX_F_CSUM_OK;
	}
	nic_rx_frame(p->nic, frame, len, flags);
}

/*
 * Message @i of the batch: the frame it holds (its VLAN tag put back), as
 * entry @k of the batch for gro.c, with its checksum state.  false: not
 * a frame for the device (ours, or dropped).
 */
static bool port_rx_one(struct nic_port *p, unsigned int i, unsigned int k)
{
	struct msghdr *mh = &p->msgs[i].msg_hdr;
	const struct virtio_net_hdr *vh = &p->vnet[i];
	uint32_t got = p->msgs[i].msg_len, len, shift = 0;
	uint8_t *slot = p->slots + (size_t)i * PORT_SLOT, *frame = slot + PORT_HEADROOM;
	struct nic_gro_pkt *g = &p->gro[k];
	uint16_t tpid, tci;

	if (!p->ignore_outgoing && p->addrs[i].sll_pkttype == PACKET_OUTGOING)
		return false;
	if ((mh->msg_flags & MSG_TRUNC) || got < sizeof(struct virtio_net_hdr) + 14) {
		port_bad(p, "truncated or runt");
		return false;
	}
	len = got - (uint32_t)sizeof(struct virtio_net_hdr);
	pv_afpacket_vlan(mh, &tpid, &tci);
	if (tpid) {
		if (len + PORT_HEADROOM > PORT_FRAME_MAX) {
			port_bad(p, "too long");
			return false;
		}
		frame -= PORT_HEADROOM;
		memmove(frame, frame + PORT_HEADROOM, 12);
		frame[12] = (uint8_t)(tpid >> 8);
		frame[13] = (uint8_t)tpid;
		frame[14] = (uint8_t)(tci >> 8);
		frame[15] = (uint8_t)tci;
		len += PORT_HEADROOM;
		shift = PORT_HEADROOM;
	}
	*g = (struct nic_gro_pkt){
		.frame = frame, .len = len, .cap = (uint32_t)(slot + PORT_SLOT - frame),
		.gso = vh->gso_type != VIRTIO_NET_HDR_GSO_NONE,
	};
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		g->rx_flags = PV_NIC_RX_F_CSUM_PARTIAL;
		g->csum_start = (uint16_t)(le16toh(vh->csum_start) + shift);
		g->csum_offset = le16toh(vh->csum_offset);
	} else if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		g->rx_flags = PV_NIC_RX_F_CSUM_OK;
	}
	p->gro_msg[k] = i;
	p->gro_shift[k] = shift;
	return true;
}

/*
 * gro.c's question for a flow: will its frames reach a VI with RX chains?
 * The steering of nic_rx_frame_meta() (vi.c), asked ahead: group
 * addresses and unmatched frames to the host VI, else the filter's VI.
 * Were the two ever to differ, a merged frame would still be delivered
 * right (cut again for a VI without chains), only dearer.
 */
static bool port_gro_want(void *arg, const uint8_t *frame, uint32_t len)
{
	const struct nic *nic = ((struct nic_port *)arg)->nic;
	uint32_t id = PV_NIC_VI_NONE;

	if (!(frame[0] & 1))
		id = nic_filter_match(&nic->fl, frame, len);
	if (id == PV_NIC_VI_NONE || nic->vis[id].state != NIC_VI_ACTIVE)
		id = nic->host_vi;
	return id != PV_NIC_VI_NONE && nic->vis[id].state == NIC_VI_ACTIVE && nic->vis[id].rx_chain;
}

/* A batch of @n messages: coalesced (gro.c), then delivered in arrival order. */
static void port_rx_batch(struct nic_port *p, unsigned int n)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n; i++)
		k += port_rx_one(p, i, k);
	if (p->nic->cfg.gro)
		nic_gro_batch(p->gro, k, port_gro_want, p, &p->nic->gro_st);
	for (unsigned int j = 0; j < k; j++) {
		const struct nic_gro_pkt *g = &p->gro[j];
		struct nic_rxmeta m;

		if (g->verdict == NIC_GRO_PASS) {
			port_input(p, g->frame, g->len, &p->vnet[p->gro_msg[j]], p->gro_shift[j]);
		} else if (g->verdict == NIC_GRO_HEAD) {
			m = (struct nic_rxmeta){ .gso_type = g->gso_type, .gso_size = g->gso_size,
						 .csum_start = g->out_csum_start,
						 .csum_offset = g->out_csum_offset };
			nic_rx_frame_meta(p->nic, g->frame, g->len, g->rx_flags, &m);
		}
	}
}

/*
 * Frames the port's kernel dropped before pvnet-nicd read them (its
 * socket's buffer full: the NIC was not scheduled in time), read every
 * PORT_DROPS_MS into INFO's port_rx_kernel_drops and logged: a drop no
 * counter shows would be a loss nobody can find.
 */
static void port_drops_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct nic_port *p = arg;
	uint64_t n = pv_afpacket_drops(p->fd);

	(void)loop;
	(void)fd;
	(void)events;
	if (!n)
		return;
	p->nic->port_rx_kernel_drops += n;
	pv_log_rl(&p->rl, PV_LOG_WARN, "port %s: the kernel dropped %llu received frames "
		  "(pvnet-nicd read its socket too late; %llu in all)", p->ifname,
		  (unsigned long long)n, (unsigned long long)p->nic->port_rx_kernel_drops);
}

static void port_rx_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct nic_port *p = arg;
	unsigned int done = 0;

	while (done < PORT_BUDGET) {
		int n;

		for (unsigned int i = 0; i < PORT_BATCH; i++) {
			struct msghdr *mh = &p->msgs[i].msg_hdr;

			mh->msg_name = &p->addrs[i];
			mh->msg_namelen = sizeof(p->addrs[i]);
			mh->msg_iov = &p->iovs[2 * i];
			mh->msg_iovlen = 2;
			mh->msg_control = p->cmsgs[i].buf;
			mh->msg_controllen = sizeof(p->cmsgs[i].buf);
			mh->msg_flags = 0;
		}
		n = recvmmsg(fd, p->msgs, PORT_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ENETDOWN)
				pv_log_rl(&p->rl, PV_LOG_WARN, "port %s: read: %s",
					  p->ifname, strerror(errno));
			break;
		}
		port_rx_batch(p, (unsigned int)n);
		done += (unsigned int)n;
		if (n < PORT_BATCH)
			break;
	}
	nic_rx_flush(p->nic);	/* what the VIs posted meanwhile takes what they hold */
}

/**
 * nic_port_open() - make host interface @ifname the NIC's physical port
 * @loop:	the daemon's loop
 * @nic:	the device: its xmit hook, MTU and port MAC are set here
 * @ifname:	an existing interface (set promiscuous)
 * @err:	out: -ENODEV, -EPERM (needs CAP_NET_RAW), ...
 *
 * Return: the port or NULL.
 */
struct nic_port *nic_port_open(struct pv_loop *loop, struct nic *nic, const char *ifname, int *err)
{
	struct nic_port *p = calloc(1, sizeof(*p));
	struct ifreq ifr = { 0 };
	int rc = -ENOMEM;

	if (!p)
		goto fail;
	p->fd = -1;
	p->loop = loop;
	p->nic = nic;
	p->rl = (struct pv_ratelimit)PV_RATELIMIT_INIT;
	rc = -EINVAL;
	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
		goto fail;
	snprintf(p->ifname, sizeof(p->ifname), "%s", ifname);
	rc = -ENODEV;
	p->ifindex = (int)if_nametoindex(ifname);
	if (!p->ifindex)
		goto fail;
	rc = pv_if_ioctl(ifname, SIOCGIFMTU, &ifr);
	if (rc)
		goto fail;
	p->mtu = (uint32_t)ifr.ifr_mtu;
	if (pv_if_ioctl(ifname, SIOCGIFHWADDR, &ifr) == 0)
		memcpy(nic->port_mac, ifr.ifr_hwaddr.sa_data, 6);
	/* A port that is down sends nothing ("Network is down"): up, as a driver's open. */
	memset(&ifr, 0, sizeof(ifr));
	rc = pv_if_ioctl(ifname, SIOCGIFFLAGS, &ifr);
	if (rc)
		goto fail;
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		rc = pv_if_ioctl(ifname, SIOCSIFFLAGS, &ifr);
		if (rc)
			goto fail;
		pv_info("port %s was down: brought it up", ifname);
	}
	rc = -ENOMEM;
	p->slots = malloc((size_t)PORT_BATCH * PORT_SLOT);
	if (!p->slots)
		goto fail;
	for (unsigned int i = 0; i < PORT_BATCH; i++) {
		p->iovs[2 * i] = (struct iovec){ &p->vnet[i], sizeof(p->vnet[i]) };
		p->iovs[2 * i + 1] = (struct iovec){
			p->slots + (size_t)i * PORT_SLOT + PORT_HEADROOM, PORT_FRAME_MAX };
	}
	rc = port_socket(p);
	if (rc)
		goto fail;
	rc = -ENOMEM;
	p->watch = pv_loop_add(loop, p->fd, EPOLLIN, port_rx_cb, p);
	if (p->watch)
		p->drops_w = pv_loop_timer(loop, PORT_DROPS_MS, PORT_DROPS_MS, port_drops_cb, p);
	if (!p->watch)
		goto fail;
	nic_set_xmit(nic, port_xmit, p, p->mtu);
	return p;
fail:
	if (err)
		*err = rc;
	nic_port_close(p);
	return NULL;
}

void nic_port_close(struct nic_port *p)
{
	if (!p)
		return;
	if (p->drops_w)
		pv_loop_timer_del(p->loop, p->drops_w);
	if (p->watch)
		pv_loop_del(p->loop, p->watch);
	if (p->nic && p->nic->xmit_arg == p)
		nic_set_xmit(p->nic, NULL, NULL, p->nic->mtu);
	if (p->fd >= 0)
		close(p->fd);
	free(p->slots);
	free(p);
}
