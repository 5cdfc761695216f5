/* SPDX-License-Identifier: MIT */
/*
 * bad_nosym.c - a shared object without the entry symbol
 * (PV_ACCEL_PLUGIN_SYMBOL): the hosts must refuse it.
 */
int pvnet_not_a_plugin(void);

int pvnet_not_a_plugin(void)
{
	return 0;
}
