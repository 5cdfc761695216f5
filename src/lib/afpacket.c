/* SPDX-License-Identifier: MIT */
/*
 * afpacket.c - the AF_PACKET socket of an uplink or a NIC port.
 */
#include <endian.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "afpacket.h"

static int sockopt_int(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val)) < 0 ? -errno : 0;
}

int pv_afpacket_open(int ifindex, int sockbuf, int *ignore_outgoing)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET, .sll_protocol = htobe16(ETH_P_ALL),
		.sll_ifindex = ifindex,
	};
	struct packet_mreq mr = { .mr_ifindex = ifindex, .mr_type = PACKET_MR_PROMISC };
	int fd, rc;

	/* Protocol 0: nothing is queued before bind() picks the interface. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = sockopt_int(fd, SOL_PACKET, PACKET_VNET_HDR, 1);
	if (!rc)
		rc = sockopt_int(fd, SOL_PACKET, PACKET_AUXDATA, 1);
	if (rc)
		goto fail;
	*ignore_outgoing = !sockopt_int(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
	if (sockopt_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, sockbuf))
		sockopt_int(fd, SOL_SOCKET, SO_RCVBUF, sockbuf);
	if (sockopt_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, sockbuf))
		sockopt_int(fd, SOL_SOCKET, SO_SNDBUF, sockbuf);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		rc = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return rc;
}

uint64_t pv_afpacket_drops(int fd)
{
	struct tpacket_stats st = { 0 };
	socklen_t len = sizeof(st);

	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return 0;
	return st.tp_drops;
}

void pv_afpacket_vlan(struct msghdr *mh, uint16_t *tpid, uint16_t *tci)
{
	*tpid = *tci = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		struct tpacket_auxdata aux;

		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA ||
		    c->cmsg_len < CMSG_LEN(sizeof(aux)))
			continue;
		memcpy(&aux, CMSG_DATA(c), sizeof(aux));
		if (!(aux.tp_status & TP_STATUS_VLAN_VALID))
			return;
		*tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) && aux.tp_vlan_tpid ?
			aux.tp_vlan_tpid : ETH_P_8021Q;
		*tci = aux.tp_vlan_tci;
	}
}

int pv_if_ioctl(const char *name, unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	if (ioctl(s, req, ifr) < 0)
		rc = -errno;
	close(s);
	return rc;
}
