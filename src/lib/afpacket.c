/* SPDX-License-Identifier: MIT */
/*
 * afpacket.c - the AF_PACKET socket of an uplink or a NIC port.
 */
#include <endian.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
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
