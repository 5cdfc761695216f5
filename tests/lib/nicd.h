/* SPDX-License-Identifier: MIT */
/*
 * nicd.h - tests that drive a real pvnet-nicd: start and stop it on port
 * "nA" of the test's namespace, and the main() that gives such a test its
 * own network namespace (root only; skipped without a built pvnet-nicd).
 */
#ifndef PVNET_TEST_NICD_H
#define PVNET_TEST_NICD_H

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static pid_t nicd_pid = -1;

/*
 * nicd_start_vis() - pvnet-nicd @bin on nA, run directory @run_dir, @max_vis
 * VIs and 1024 buffers; ready when @sock_path appears (a killed one leaves
 * its socket behind: removed first).  Return: 0, or -1 (fork failed, or
 * no socket within 3 s).
 */
static inline int nicd_start_vis(const char *bin, const char *run_dir, const char *sock_path,
				 const char *max_vis)
{
	unlink(sock_path);
	nicd_pid = fork();
	if (nicd_pid < 0)
		return -1;
	if (nicd_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);	/* never outlive the test */
		execl(bin, bin, "--run-dir", run_dir, "--port", "nA", "--max-vis", max_vis,
		      "--buffers", "1024", "--log-level", "err", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300; i++) {
		if (access(sock_path, F_OK) == 0)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* Signal @sig, wait up to 3 s, then SIGKILL. */
static inline void nicd_kill(int sig)
{
	if (nicd_pid <= 0)
		return;
	kill(nicd_pid, sig);
	for (int i = 0; i < 300; i++) {
		if (waitpid(nicd_pid, NULL, WNOHANG) == nicd_pid) {
			nicd_pid = -1;
			return;
		}
		usleep(10000);
	}
	kill(nicd_pid, SIGKILL);
	waitpid(nicd_pid, NULL, 0);
	nicd_pid = -1;
}

/*
 * nicd_test_main() - the whole main() of such a test: as root, with
 * $PVNET_BUILD/pvnet-nicd built, @run(bin) runs in a child in a network
 * namespace of its own (its veths die with it); its exit status is ours.
 */
static inline int nicd_test_main(const char *name, void (*run)(const char *bin))
{
	const char *build = getenv("PVNET_BUILD");
	char bin[512];
	int status;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/pvnet-nicd", build && *build ? build : "build");
	if (geteuid() != 0) {
		T_SKIP(name, "needs root");
		return 0;
	}
	if (access(bin, X_OK) != 0) {
		T_SKIP(name, "pvnet-nicd not built");
		return 0;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0) {
			T_SKIP(name, "no network namespaces");
			_exit(0);
		}
		signal(SIGPIPE, SIG_IGN);
		run(bin);
		_exit(t_done());
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) {
		printf("FAIL: %s: test child died (status %d)\n", name, status);
		return 1;
	}
	return WEXITSTATUS(status);
}

#endif
