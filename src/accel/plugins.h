/* SPDX-License-Identifier: MIT */
/*
 * plugins.h - the hosts' side of struct pv_accel_plugin (include/pvnet/
 * accel.h): the one table of built-in plugins, loading a plugin's shared
 * object by path, and starting every plugin's backend half (pvnetd) or
 * frontend half (pvnet-front).  Not a contract: plugins see accel.h only.
 *
 * The hosts' loop thread only.  A loaded plugin replaces the built-in one
 * of the same name; loading the same name twice is refused.
 */
#ifndef PVNET_ACCEL_PLUGINS_H
#define PVNET_ACCEL_PLUGINS_H

#include <stddef.h>

#include "pvnet/accel.h"

/*
 * pv_accel_plugin_check() - whether the host can run @pl (versions, size,
 * name): NULL, or why not (a constant string).
 */
const char *pv_accel_plugin_check(const struct pv_accel_plugin *pl);

/*
 * pv_accel_plugins_load() - dlopen @path, find PV_ACCEL_PLUGIN_SYMBOL,
 * check it; the plugin is started with the others.
 * Return: 0, or -errno with the reason logged as an error: -ENOENT (no
 * such file or not loadable), -ENOEXEC (no entry symbol), -EPROTO
 * (version or size mismatch), -EEXIST (a plugin of that name was loaded
 * already), -ENOSPC.
 */
int pv_accel_plugins_load(const char *path);

/*
 * Start every plugin's backend half (back_start), built-in then loaded;
 * a failure is logged and the others still start.  Return: 0, or the
 * first failure's -errno.
 */
int pv_accel_plugins_start_back(const struct pv_accel_env *env);
void pv_accel_plugins_stop_back(void);
/* The same for the frontend halves (front_start). */
int pv_accel_plugins_start_front(const struct pv_accel_env *env);
void pv_accel_plugins_stop_front(void);

/*
 * pv_accel_plugins_state() - the state back_start/front_start gave the
 * running plugin @pl (the built-in descriptor), NULL if @pl is not
 * running (say a loaded plugin of its name replaced it).
 */
void *pv_accel_plugins_state(const struct pv_accel_plugin *pl, int back);

#endif
