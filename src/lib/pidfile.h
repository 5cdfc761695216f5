/* SPDX-License-Identifier: MIT */
/*
 * pidfile.h - a pid file that doubles as a lock: one daemon per run directory.
 */
#ifndef PVNET_PIDFILE_H
#define PVNET_PIDFILE_H

/*
 * Open and lock @path, write our pid.  Return the fd (keep it open: it is
 * the lock), or -1 after logging why (@who names the daemon in the message).
 */
int pv_pidfile_take(const char *path, const char *who, const char *run_dir);

#endif
