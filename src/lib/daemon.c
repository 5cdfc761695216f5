/* SPDX-License-Identifier: MIT */
/*
 * daemon.c - start-up and teardown shared by pvnet's daemons (daemon.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "loop.h"

void pv_daemon_init(struct pv_daemon *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->log_level = PV_LOG_INFO;
	d->pid_fd = d->sig_fd = d->report_fd = d->log_fd = -1;
}

int pv_daemon_opt(struct pv_daemon *d, int c, const char *arg)
{
	switch (c) {
	case 'r': d->run_dir = arg; return 1;
	case 'd': d->detach = 1; return 1;
	case 's': d->use_syslog = 1; return 1;
	case 'L':
		if (!*arg) {
			fprintf(stderr, "%s: --log-file wants a file name\n", d->name);
			return -1;
		}
		d->log_file = arg;
		return 1;
	case 'l':
		d->log_level = pv_log_level_parse(arg);
		if (d->log_level < 0) {
			fprintf(stderr, "%s: bad log level '%s'\n", d->name, arg);
			return -1;
		}
		return 1;
	default:
		return 0;
	}
}

int pv_daemon_path(const struct pv_daemon *d, char *buf, size_t size, const char *name)
{
	if ((size_t)snprintf(buf, size, "%s/%s", d->run_dir, name) >= size) {
		pv_err("run directory path too long");
		return -1;
	}
	return 0;
}

/*
 * Fork; the parent waits for the child's start-up status on a pipe and
 * exits with it.  The child leaves the session and goes on starting up.
 */
static int detach(struct pv_daemon *d)
{
	unsigned char st = 1;
	int p[2];
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		pv_err("daemon: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &st, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? st : 1);
	}
	close(p[0]);
	d->report_fd = p[1];
	if (setsid() < 0) {
		pv_err("setsid: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void report(struct pv_daemon *d, unsigned char status)
{
	if (d->report_fd < 0)
		return;
	if (write(d->report_fd, &status, 1) != 1)
		pv_warn("cannot report start-up to the parent: %s", strerror(errno));
	close(d->report_fd);
	d->report_fd = -1;
}

/* The pid file doubles as a lock: one daemon of a kind per run directory. */
static int pidfile_take(struct pv_daemon *d)
{
	char buf[32];
	int n;

	d->pid_fd = open(d->pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (d->pid_fd < 0) {
		pv_err("%s: %s", d->pid_path, strerror(errno));
		return -1;
	}
	if (flock(d->pid_fd, LOCK_EX | LOCK_NB) < 0) {
		pv_err("another %s runs in %s", d->name, d->run_dir);
		close(d->pid_fd);
		d->pid_fd = -1;
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(d->pid_fd, 0) < 0 || pwrite(d->pid_fd, buf, (size_t)n, 0) != n)
		pv_warn("%s: cannot write pid", d->pid_path);
	return 0;
}

/* From now on stderr is the log file. */
static int logfile_take(struct pv_daemon *d)
{
	if (d->log_fd < 0)
		return 0;
	if (dup2(d->log_fd, STDERR_FILENO) < 0) {
		pv_err("log file: %s", strerror(errno));
		return -1;
	}
	close(d->log_fd);
	d->log_fd = -1;
	return 0;
}

/*
 * The log file: --log-file FILE, or DIR/NAME.log for a detached daemon
 * that logs neither to syslog nor to a file of its choosing (a daemon
 * keeps no terminal).  Opened at start-up so that a file that cannot be
 * written is a start-up error, said on the terminal; it becomes stderr at
 * once without --daemon, and when start-up is over with it.
 */
static int logfile_open(struct pv_daemon *d)
{
	char name[64];

	if (!d->log_file && (!d->detach || d->use_syslog))
		return 0;
	if (d->log_file) {
		snprintf(d->log_path, sizeof(d->log_path), "%s", d->log_file);
	} else {
		snprintf(name, sizeof(name), "%s.log", d->name);
		if (pv_daemon_path(d, d->log_path, sizeof(d->log_path), name) < 0)
			return -1;
	}
	d->log_fd = open(d->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (d->log_fd < 0) {
		pv_err("log file %s: %s", d->log_path, strerror(errno));
		return -1;
	}
	if (!d->detach)
		return logfile_take(d);
	return 0;
}

static void signal_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_daemon *d = arg;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	pv_info("signal %u: stopping", si.ssi_signo);
	d->stop = 1;
	pv_loop_stop(loop);
}

int pv_daemon_start(struct pv_daemon *d)
{
	char pid_name[64];

	pv_log_init(d->name, d->log_level, d->use_syslog);
	if (mkdir(d->run_dir, 0755) < 0 && errno != EEXIST) {
		pv_err("%s: %s", d->run_dir, strerror(errno));
		return -1;
	}
	snprintf(pid_name, sizeof(pid_name), "%s.pid", d->name);
	if (pv_daemon_path(d, d->pid_path, sizeof(d->pid_path), pid_name) < 0) {
		d->pid_path[0] = '\0';
		return -1;
	}
	if (logfile_open(d) < 0)
		return -1;
	if (d->detach && detach(d) < 0)
		return -1;
	if (pidfile_take(d) < 0)
		return -1;
	d->loop = pv_loop_new();
	if (!d->loop || (d->sig_fd = pv_loop_signalfd(1)) < 0 ||
	    !(d->sig_watch = pv_loop_add(d->loop, d->sig_fd, EPOLLIN, signal_cb, d))) {
		pv_err("event loop: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * systemd's readiness notification (sd_notify(3), Type=notify): one
 * datagram "READY=1" to the socket $NOTIFY_SOCKET names (a path, or
 * "@name" in the abstract namespace).  Nothing without the variable.
 */
static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || (n = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sa,
			     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
		pv_warn("cannot notify readiness to %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

void pv_daemon_ready(struct pv_daemon *d)
{
	int fd;

	notify_ready();
	if (d->report_fd < 0)
		return;
	/* As daemon(3): off the terminal; the log goes to syslog or the log file. */
	if (d->log_fd >= 0)
		pv_info("detached (pid %d); the log goes on in %s", (int)getpid(), d->log_path);
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (d->log_fd < 0)
			dup2(fd, STDERR_FILENO);
		close(fd);
	}
	if (d->log_fd >= 0 && !logfile_take(d))
		pv_info("detached (pid %d), serving in %s", (int)getpid(), d->run_dir);
	report(d, 0);
}

void pv_daemon_teardown(struct pv_daemon *d)
{
	report(d, 1);
	if (d->log_fd >= 0)
		close(d->log_fd);
	d->log_fd = -1;
	if (d->sig_watch)
		pv_loop_del(d->loop, d->sig_watch);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	if (d->loop)
		pv_loop_free(d->loop);
	d->loop = NULL;
	d->sig_watch = NULL;
	d->sig_fd = -1;
	if (d->pid_fd >= 0) {
		unlink(d->pid_path);
		close(d->pid_fd);
		d->pid_fd = -1;
	}
}
