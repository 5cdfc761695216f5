/* SPDX-License-Identifier: MIT */
/*
 * log.h - levelled logging to stderr or syslog, with rate limiting for
 * anything a guest can trigger.
 */
#ifndef PVNET_LOG_H
#define PVNET_LOG_H

#include <stdarg.h>
#include <stdint.h>
#include <time.h>

enum pv_log_level { PV_LOG_ERR = 3, PV_LOG_WARN = 4, PV_LOG_INFO = 6, PV_LOG_DEBUG = 7 };

void pv_log_init(const char *ident, int level, int use_syslog);
void pv_log_set_level(int level);
int pv_log_level_parse(const char *s);	/* "err", "warn", "info", "debug" or a number; -1 if bad */
int pv_log_enabled(int level);
void pv_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pv_vlog(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define pv_err(...)   pv_log(PV_LOG_ERR, __VA_ARGS__)
#define pv_warn(...)  pv_log(PV_LOG_WARN, __VA_ARGS__)
#define pv_info(...)  pv_log(PV_LOG_INFO, __VA_ARGS__)
#define pv_debug(...) do { if (pv_log_enabled(PV_LOG_DEBUG)) pv_log(PV_LOG_DEBUG, __VA_ARGS__); } while (0)

/*
 * struct pv_ratelimit - at most @burst messages per @interval_s seconds.
 * Messages beyond that are counted and summarised when logging resumes.
 */
struct pv_ratelimit {
	unsigned int interval_s;
	unsigned int burst;
	time_t begin;
	unsigned int printed;
	uint64_t missed;
};
#define PV_RATELIMIT_INIT { .interval_s = 5, .burst = 10 }

void pv_log_rl(struct pv_ratelimit *rl, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Would pv_log_rl() on @rl print now?  For a message that costs work to build (a flood's). */
int pv_log_rl_ready(const struct pv_ratelimit *rl);

#endif
