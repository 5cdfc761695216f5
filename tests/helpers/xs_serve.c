/* SPDX-License-Identifier: MIT */
/*
 * xs_serve.c - a standalone xenstore server for integration tests: one
 * loop and one xs_server on SOCKPATH, until SIGTERM or SIGINT.
 *
 * usage: xs_serve SOCKPATH [DOMID...]
 *   each DOMID is introduced (/local/domain/<domid> owned by it).
 *   PVNET_LOG=debug|info|warn|err sets the log level (default info).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/loop.h"
#include "hv/xs.h"

/**
 * xs_serve_signal() - stop the loop on SIGTERM/SIGINT
 */
static void xs_serve_signal(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		pv_loop_stop(loop);
}

int main(int argc, char **argv)
{
	const char *lv = getenv("PVNET_LOG");
	struct xs_server *xs;
	struct pv_loop *loop;
	sigset_t set;
	int sfd, level = lv ? pv_log_level_parse(lv) : PV_LOG_INFO;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SOCKPATH [DOMID...]\n", argv[0]);
		return 2;
	}
	pv_log_init("xs_serve", level < 0 ? PV_LOG_INFO : level, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	loop = pv_loop_new();
	if (sfd < 0 || !loop || !pv_loop_add(loop, sfd, EPOLLIN, xs_serve_signal, NULL))
		return 1;
	xs = xs_server_new(loop, argv[1], NULL);
	if (!xs)
		return 1;
	for (int i = 2; i < argc; i++)
		if (xs_server_domain_intro(xs, (unsigned int)strtoul(argv[i], NULL, 10)))
			pv_err("xs_serve: cannot introduce domain %s", argv[i]);
	pv_info("xs_serve: serving %s", argv[1]);
	pv_loop_run(loop);
	xs_server_free(xs);
	pv_loop_free(loop);
	close(sfd);
	return 0;
}
