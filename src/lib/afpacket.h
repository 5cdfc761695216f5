/* SPDX-License-Identifier: MIT */
/*
 * afpacket.h - the AF_PACKET socket both pvnetd's uplink and pvnet-nicd's
 * physical port use: bound to one interface, all protocols, promiscuous,
 * with virtio-net headers (PACKET_VNET_HDR, so GSO frames pass whole) and
 * auxiliary data (the VLAN tag the kernel strips on receive).
 */
#ifndef PVNET_AFPACKET_H
#define PVNET_AFPACKET_H

/*
 * Open it on @ifindex with @sockbuf bytes of socket buffers (forced when
 * we may).  *@ignore_outgoing says whether PACKET_IGNORE_OUTGOING took (so
 * our own transmissions are not read back).  Return the fd or -errno.
 */
int pv_afpacket_open(int ifindex, int sockbuf, int *ignore_outgoing);

#endif
