/* SPDX-License-Identifier: MIT */
/*
 * log.c - levelled logging to stderr or syslog.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static int log_level = PV_LOG_INFO;
static int log_syslog;
static const char *log_ident = "pvnet";

void pv_log_init(const char *ident, int level, int use_syslog)
{
	log_ident = ident;
	log_level = level;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void pv_log_set_level(int level)
{
	log_level = level;
}

int pv_log_enabled(int level)
{
	return level <= log_level;
}

int pv_log_level_parse(const char *s)
{
	static const struct { const char *name; int level; } names[] = {
		{ "err", PV_LOG_ERR }, { "error", PV_LOG_ERR },
		{ "warn", PV_LOG_WARN }, { "warning", PV_LOG_WARN },
		{ "info", PV_LOG_INFO }, { "debug", PV_LOG_DEBUG },
	};
	char *end;
	long n;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].level;
	n = strtol(s, &end, 10);
	if (*s && !*end && n >= 0 && n <= 7)
		return (int)n;
	return -1;
}

void pv_vlog(int level, const char *fmt, va_list ap)
{
	static const char *tags[8] = { "emerg", "alert", "crit", "error",
				       "warning", "notice", "info", "debug" };
	char buf[1024];
	struct timespec ts;

	if (!pv_log_enabled(level))
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_syslog) {
		syslog(level, "%s", buf);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "%lld.%03ld %s[%d]: %s: %s\n", (long long)ts.tv_sec,
		ts.tv_nsec / 1000000, log_ident, (int)getpid(),
		tags[level & 7], buf);
}

void pv_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pv_vlog(level, fmt, ap);
	va_end(ap);
}

int pv_log_rl_ready(const struct pv_ratelimit *rl)
{
	return time(NULL) - rl->begin >= (time_t)rl->interval_s || rl->printed < rl->burst;
}

void pv_log_rl(struct pv_ratelimit *rl, int level, const char *fmt, ...)
{
	time_t now = time(NULL);
	va_list ap;

	if (now - rl->begin >= (time_t)rl->interval_s) {
		if (rl->missed)
			pv_log(level, "%llu similar messages suppressed",
			       (unsigned long long)rl->missed);
		rl->begin = now;
		rl->printed = 0;
		rl->missed = 0;
	}
	if (rl->printed >= rl->burst) {
		rl->missed++;
		return;
	}
	rl->printed++;
	va_start(ap, fmt);
	pv_vlog(level, fmt, ap);
	va_end(ap);
}
