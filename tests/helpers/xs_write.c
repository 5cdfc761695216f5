/* SPDX-License-Identifier: MIT */
/*
 * xs_write.c - the toolstack's store writes for integration tests: write
 * (or, with -d, remove) keys through pvnetd's dom0 xenstore socket, as a
 * toolstack sets a vif's backend keys (e.g. the pvnic backend's
 * accel-filter, limits/max-filters: docs/accel-pvnic.md).  Needs no Xen
 * tools (xenstore-write) on the machine.
 *
 *   xs_write SOCK PATH VALUE [PATH VALUE...]
 *   xs_write -d SOCK PATH...
 *
 * SOCK is RUNDIR/xenstored.sock.  Exit status: 0, 1 if a request failed
 * (the store's answer on stderr), 2 on bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "guest/xsc.h"

int main(int argc, char **argv)
{
	int del = argc > 1 && !strcmp(argv[1], "-d"), rc = 0;
	struct xsc *x;

	argv += del;
	argc -= del;
	if (argc < 3 || (!del && (argc - 2) % 2)) {
		fprintf(stderr, "usage: xs_write SOCK PATH VALUE [PATH VALUE...] | xs_write -d SOCK PATH...\n");
		return 2;
	}
	x = xsc_open_path(argv[1]);
	if (!x) {
		fprintf(stderr, "xs_write: %s: cannot connect\n", argv[1]);
		return 1;
	}
	for (int i = 2; i < argc; i += del ? 1 : 2) {
		int e = del ? xsc_rm(x, 0, argv[i]) :
			      xsc_write(x, 0, argv[i], argv[i + 1], strlen(argv[i + 1]));

		if (e < 0) {
			fprintf(stderr, "xs_write: %s %s: %s\n", del ? "rm" : "write", argv[i],
				strerror(-e));
			rc = 1;
		}
	}
	xsc_close(x);
	return rc;
}
