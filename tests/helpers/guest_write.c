/* SPDX-License-Identifier: MIT */
/*
 * guest_write - a test guest: register with pvnetd, write KEY=VALUE under
 * the domain's own store path, print "domid N", then hold the domain until
 * stdin closes or HOLD seconds pass.
 *
 * usage: guest_write HV_SOCK NAME KEY VALUE [HOLD]
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/guest.h"
#include "guest/xsc.h"

int main(int argc, char **argv)
{
	struct pv_guest *g;
	struct xsc *x;
	int err, hold;

	if (argc < 5) {
		fprintf(stderr, "usage: guest_write HV_SOCK NAME KEY VALUE [HOLD]\n");
		return 2;
	}
	hold = argc > 5 ? atoi(argv[5]) : 0;
	g = pv_guest_register(argv[1], argv[2], 4, 16, &err);
	if (!g) {
		fprintf(stderr, "guest_write: register: %d\n", err);
		return 1;
	}
	x = xsc_open_fd(dup(pv_guest_xs_fd(g)));
	err = x ? xsc_write(x, 0, argv[3], argv[4], strlen(argv[4])) : -1;
	if (err) {
		fprintf(stderr, "guest_write: write %s: %d\n", argv[3], err);
		return 1;
	}
	printf("domid %u\n", pv_guest_domid(g));
	fflush(stdout);
	if (hold) {
		struct pollfd p = { .fd = 0, .events = POLLIN };

		poll(&p, 1, hold * 1000);
	}
	xsc_close(x);
	pv_guest_close(g);
	return 0;
}
