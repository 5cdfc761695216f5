/* SPDX-License-Identifier: MIT */
/*
 * ifport.h - private to src/back: the port both kernel-facing ports of the
 * switch are made of (ifport.c), used by the uplink (uplink.c) and the host
 * port (hostport.c).  Their public API is uplink.h.
 */
#ifndef PVNET_IFPORT_H
#define PVNET_IFPORT_H

#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "port.h"
#include "uplink.h"
#include "lib/log.h"
#include "lib/loop.h"

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

/* The interface's MTU, or -errno. */
int ifport_if_mtu(const char *name);
int ifport_alloc_slots(struct pv_ifport *ifp, unsigned int n);
void ifport_free(struct pv_ifport *ifp);
void ifport_rx_drop(struct pv_ifport *ifp, uint64_t *reason, const char *why);
void ifport_input(struct pv_ifport *ifp, uint8_t *slot, uint32_t len,
		  const struct virtio_net_hdr *vh, uint16_t tpid, uint16_t tci);
void ifport_rx_error(struct pv_ifport *ifp, int e);
/* The ports' xmit and flush ops (struct pv_port_ops). */
int ifport_xmit(struct pv_port *port, const struct pv_frame *f);
void ifport_flush(struct pv_port *port);
int ifport_attach(struct pv_ifport *ifp, const struct pv_port_ops *ops,
		  unsigned int flags, pv_loop_cb cb);
void ifport_stats(const struct pv_ifport *ifp, struct pv_uplink_stats *out);

#endif
