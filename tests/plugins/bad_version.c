/* SPDX-License-Identifier: MIT */
/*
 * bad_version.c - a plugin built for accel.h 2.0: the hosts must refuse
 * to load it (tests/integration/accel_plugin.sh).
 */
#include "pvnet/accel.h"

static int bad_front_start(const struct pv_accel_env *env, void **state)
{
	*state = NULL;
	return 0;
}

static const struct pv_accel_plugin bad_plugin = {
	.front_version = 0x00020000u,
	.back_version = 0x00020000u,
	.size = sizeof(struct pv_accel_plugin),
	.name = "badversion",
	.front_start = bad_front_start,
};

PV_ACCEL_PLUGIN_EXPORT(bad_plugin);
