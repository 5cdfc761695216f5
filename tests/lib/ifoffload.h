/* SPDX-License-Identifier: MIT */
/*
 * ifoffload.h - tests: switch an interface's TSO, GSO and TX checksum
 * offloads on or off (legacy ethtool ioctls), so a test can see whole GSO
 * frames cross a veth, or the kernel segment and sum them.
 */
#ifndef PVNET_TEST_IFOFFLOAD_H
#define PVNET_TEST_IFOFFLOAD_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Return: 0, or -errno of the socket or of the last switch refused. */
static inline int if_offloads(const char *name, uint32_t on)
{
	const uint32_t cmds[] = { ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_STXCSUM };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	for (size_t i = 0; s >= 0 && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct ethtool_value ev = { .cmd = cmds[i], .data = on };
		struct ifreq ifr = { 0 };

		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		ifr.ifr_data = (void *)&ev;
		if (ioctl(s, SIOCETHTOOL, &ifr) < 0)
			rc = -errno;
	}
	if (s >= 0)
		close(s);
	return s < 0 ? -errno : rc;
}

#endif
