/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - what pvnet's daemons (pvnetd, pvnet-nicd) share at start-up
 * and teardown: the common options, the run directory and its pid file
 * (the instance lock), SIGTERM/SIGINT/SIGHUP on the event loop, --daemon,
 * and the teardown of all that.
 *
 *	pv_daemon_init(&dd, "pvnetd");
 *	getopt_long(.., PV_DAEMON_SHORTOPTS "..", { PV_DAEMON_LONGOPTS, .. }):
 *		pv_daemon_opt() takes -r -d -l -s (the main keeps -h: its usage)
 *	pv_daemon_start(&dd)	   logging, DIR, detach, pid file, loop, signals
 *	... the daemon's own services on dd.loop ...
 *	pv_daemon_ready(&dd)	   with --daemon the starting process exits 0 now
 *	... run until dd.stop (or pv_loop_run(dd.loop) returns) ...
 *	... stop the services ...
 *	pv_daemon_teardown(&dd)	   loop, signals, pid file
 *
 * With --daemon the process forks before the pid file is taken; the parent
 * waits on a pipe and exits with the start-up's status (1 if the child
 * fails or dies before pv_daemon_ready), so start-up errors are on stderr
 * and in the exit status of the command that started the daemon.
 */
#ifndef PVNET_DAEMON_H
#define PVNET_DAEMON_H

#include <getopt.h>
#include <limits.h>
#include <stddef.h>

struct pv_loop;
struct pv_watch;

struct pv_daemon {
	const char *name;	/* log ident, NAME.pid, "another NAME runs in DIR" */
	const char *run_dir;	/* -r, --run-dir */
	int detach;		/* -d, --daemon */
	int log_level;		/* -l, --log-level */
	int use_syslog;		/* -s, --syslog */
	const char *log_file;	/* -L, --log-file */
	struct pv_loop *loop;	/* from pv_daemon_start */
	volatile int stop;	/* a signal asked us to stop (the loop is stopped too) */
	/* private */
	char pid_path[PATH_MAX];
	int pid_fd, sig_fd, report_fd;
	int log_fd;		/* the log file, until it becomes stderr */
	char log_path[PATH_MAX];
	struct pv_watch *sig_watch;
};

/* The common options; the main adds its own (and handles -h, --help). */
#define PV_DAEMON_SHORTOPTS "r:dl:sL:h"
#define PV_DAEMON_LONGOPTS \
	{ "run-dir", required_argument, NULL, 'r' }, \
	{ "daemon", no_argument, NULL, 'd' }, \
	{ "log-level", required_argument, NULL, 'l' }, \
	{ "syslog", no_argument, NULL, 's' }, \
	{ "log-file", required_argument, NULL, 'L' }, \
	{ "help", no_argument, NULL, 'h' }
/* Their --help lines (-r's is the daemon's own: what goes in DIR). */
#define PV_DAEMON_USAGE_DETACH \
	"  -d, --daemon           detach and run in the background (once started);\n" \
	"                         then log to DIR/<daemon>.log unless --syslog or --log-file\n"
#define PV_DAEMON_USAGE_LOG \
	"  -l, --log-level LEVEL  err, warn, info (default) or debug\n" \
	"  -s, --syslog           log to syslog instead of stderr\n" \
	"  -L, --log-file FILE    log to FILE (appended) instead of stderr\n"

void pv_daemon_init(struct pv_daemon *d, const char *name);
/* Option @c from getopt: 1 taken, 0 not a common one, -1 bad (said why). */
int pv_daemon_opt(struct pv_daemon *d, int c, const char *arg);
/* "DIR/@name" into @buf; -1 (logged) if too long. */
int pv_daemon_path(const struct pv_daemon *d, char *buf, size_t size, const char *name);
/* Start logging, create DIR, detach, take the pid file, make the loop and
 * watch the signals.  -1 after logging why (then pv_daemon_teardown). */
int pv_daemon_start(struct pv_daemon *d);
/* Start-up is over: a detached daemon's parent exits 0; under systemd
 * (Type=notify, $NOTIFY_SOCKET set) READY=1 is sent. */
void pv_daemon_ready(struct pv_daemon *d);
/* Free the loop (after the services on it), close the signalfd, remove the
 * pid file; a start-up not yet reported ready is reported failed. */
void pv_daemon_teardown(struct pv_daemon *d);

#endif
