/* SPDX-License-Identifier: MIT */
/*
 * pvnic_plugin.c - the "pvnic" pair as one struct pv_accel_plugin: the
 * backend half (pvnic_back.c) for pvnetd, when it has a NIC (--nic DIR),
 * and the frontend half (pvnic_front*.c) for pvnet-front.  Built in, and
 * the entry symbol of build/lib/pvnet-accel-pvnic.so (PVNET_ACCEL_SHARED).
 */
#include <errno.h>

#include "accel/pvnic.h"
#include "accel/pvnic_back.h"
#include "accel/pvnic_front.h"
#include "lib/log.h"
#include "pvnet/accel.h"

/* The shared object's own copy of log.c: log as the host does. */
static void pvnic_log_as_host(const struct pv_accel_env *env)
{
#ifdef PVNET_ACCEL_SHARED
	if (env && env->log_ident)
		pv_log_init(env->log_ident, env->log_level, env->log_syslog);
#else
	(void)env;	/* built in: the host's log.c already */
#endif
}

static int pvnic_back_start(const struct pv_accel_env *env, void **state)
{
	int err = 0;

	*state = NULL;
	pvnic_log_as_host(env);
	if (!env->nic_dir)
		return 0;	/* no pvnet-nicd: nothing to serve */
	*state = pvnic_back_new(env->loop, env->hv, env->xs, env->nic_dir, &err);
	return *state ? 0 : err;
}

static void pvnic_back_stop(void *state)
{
	pvnic_back_free(state);
}

static int pvnic_front_start(const struct pv_accel_env *env, void **state)
{
	*state = NULL;
	pvnic_log_as_host(env);
	return pvnic_front_register();
}

static void pvnic_front_stop(void *state)
{
	(void)state;
	pvnic_front_unregister();
}

const struct pv_accel_plugin pvnic_accel_plugin = {
	.front_version = PV_ACCEL_FRONT_VERSION,
	.back_version = PV_ACCEL_BACK_VERSION,
	.size = sizeof(struct pv_accel_plugin),
	.name = PVNIC_NAME,
	.back_start = pvnic_back_start,
	.back_stop = pvnic_back_stop,
	.front_start = pvnic_front_start,
	.front_stop = pvnic_front_stop,
};

#ifdef PVNET_ACCEL_SHARED
PV_ACCEL_PLUGIN_EXPORT(pvnic_accel_plugin);
#endif
