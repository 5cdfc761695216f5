/* SPDX-License-Identifier: MIT */
/*
 * afpacket.h - the AF_PACKET socket both pvnetd's uplink and pvnet-nicd's
 * physical port use: bound to one interface, all protocols, promiscuous,
 * with virtio-net headers (PACKET_VNET_HDR, so GSO frames pass whole) and
 * auxiliary data (the VLAN tag the kernel strips on receive).
 */
#ifndef PVNET_AFPACKET_H
#define PVNET_AFPACKET_H

#include <stdint.h>

/*
 * Open it on @ifindex with @sockbuf bytes of socket buffers (forced when
 * we may).  *@ignore_outgoing says whether PACKET_IGNORE_OUTGOING took (so
 * our own transmissions are not read back).  Return the fd or -errno.
 */
int pv_afpacket_open(int ifindex, int sockbuf, int *ignore_outgoing);
/*
 * pv_afpacket_drops() - frames the kernel dropped on socket @fd (its
 * receive buffer full: the reader was late) since the last call
 * (PACKET_STATISTICS, which the kernel resets on each read); 0 on error.
 */
uint64_t pv_afpacket_drops(int fd);

struct msghdr;
struct ifreq;
/*
 * The VLAN tag the kernel stripped from a received frame, from its
 * PACKET_AUXDATA: *@tpid 0 when it had none.
 */
void pv_afpacket_vlan(struct msghdr *mh, uint16_t *tpid, uint16_t *tci);
/* ioctl @req (SIOCGIFMTU, SIOCSIFFLAGS, ...) on interface @name; 0 or -errno. */
int pv_if_ioctl(const char *name, unsigned long req, struct ifreq *ifr);

#endif
