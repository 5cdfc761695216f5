/* SPDX-License-Identifier: MIT */
/*
 * plugins.c - what both hosts (pvnetd, pvnet-front) give accelerator
 * plugins beyond their own registry: the table of built-in plugins, the
 * loader of plugins' shared objects (accel.h's loop calls: host_loop.c).
 *
 * A plugin is a struct pv_accel_plugin.  The hosts start the built-in
 * ones (pv_accel_builtin[] below: the one place they are listed) and the
 * loaded ones (pv_accel_plugins_load, for --accel-plugin PATH) the same
 * way; a loaded plugin takes the place of the built-in one of its name.
 *
 * A plugin's shared object resolves accel.h's functions against the host
 * program, which exports exactly those (linked with --dynamic-list
 * src/accel/host.dynlist); it links private copies of whatever library
 * code it needs, hidden.  dlopen(RTLD_NOW) fails if it needs anything else.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "accel/plugins.h"
#include "accel/pvnic.h"
#include "lib/log.h"

/* The built-in plugins: pvnetd and pvnet-front start these. */
static const struct pv_accel_plugin *const pv_accel_builtin[] = {
	&pvnic_accel_plugin,
};
#define NR_BUILTIN	(sizeof(pv_accel_builtin) / sizeof(pv_accel_builtin[0]))

#define MAX_LOADED	8

static struct pl_run {
	const struct pv_accel_plugin *pl;
	void *dl;			/* loaded: dlopen's handle */
	void *back_state, *front_state;
	int back_on, front_on;
} pl_run[NR_BUILTIN + MAX_LOADED];
static unsigned int pl_nr;

/* ---- the table ---- */

static int version_ok(uint32_t plugin, uint32_t host)
{
	return PV_ACCEL_VERSION_MAJOR(plugin) == PV_ACCEL_VERSION_MAJOR(host) &&
	       (plugin & 0xffffu) <= (host & 0xffffu);
}

const char *pv_accel_plugin_check(const struct pv_accel_plugin *pl)
{
	if (!pl)
		return "no plugin descriptor";
	if (!version_ok(pl->front_version, PV_ACCEL_FRONT_VERSION) ||
	    !version_ok(pl->back_version, PV_ACCEL_BACK_VERSION))
		return "built for another accel.h version";
	if (pl->size < PV_ACCEL_PLUGIN_SIZE_1_2 || pl->reserved)
		return "descriptor of the wrong size";
	if (!pl->name || !pv_accel_name_ok(pl->name))
		return "bad plugin name";
	if (!pl->back_start && !pl->front_start)
		return "neither half";
	return NULL;
}

/* The built-ins first, once. */
static void pl_init(void)
{
	if (pl_nr)
		return;
	for (unsigned int i = 0; i < NR_BUILTIN; i++)
		pl_run[pl_nr++].pl = pv_accel_builtin[i];
}

int pv_accel_plugins_load(const char *path)
{
	const struct pv_accel_plugin *const *sym;
	const struct pv_accel_plugin *pl;
	const char *why;
	struct pl_run *slot = NULL;
	void *dl;

	pl_init();
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		pv_err("accel plugin %s: cannot load: %s", path, dlerror());
		return -ENOENT;
	}
	sym = dlsym(dl, PV_ACCEL_PLUGIN_SYMBOL);
	if (!sym) {
		pv_err("accel plugin %s: no entry symbol '%s': not a pvnet accelerator plugin",
		       path, PV_ACCEL_PLUGIN_SYMBOL);
		dlclose(dl);
		return -ENOEXEC;
	}
	pl = *sym;
	why = pv_accel_plugin_check(pl);
	if (why) {
		if (pl)
			pv_err("accel plugin %s: refused: %s (front %u.%u, back %u.%u; this host "
			       "front %u.%u, back %u.%u)", path, why,
			       pl->front_version >> 16, pl->front_version & 0xffffu,
			       pl->back_version >> 16, pl->back_version & 0xffffu,
			       PV_ACCEL_FRONT_VERSION >> 16, PV_ACCEL_FRONT_VERSION & 0xffffu,
			       PV_ACCEL_BACK_VERSION >> 16, PV_ACCEL_BACK_VERSION & 0xffffu);
		else
			pv_err("accel plugin %s: refused: %s", path, why);
		dlclose(dl);
		return -EPROTO;
	}
	for (unsigned int i = 0; i < pl_nr; i++) {
		if (strcmp(pl_run[i].pl->name, pl->name))
			continue;
		if (pl_run[i].dl || pl_run[i].back_on || pl_run[i].front_on) {
			pv_err("accel plugin %s: a plugin '%s' is loaded already", path, pl->name);
			dlclose(dl);
			return -EEXIST;
		}
		slot = &pl_run[i];	/* the built-in of that name: replaced */
	}
	if (!slot && pl_nr < sizeof(pl_run) / sizeof(pl_run[0]))
		slot = &pl_run[pl_nr++];
	if (!slot) {
		pv_err("accel plugin %s: too many plugins", path);
		dlclose(dl);
		return -ENOSPC;
	}
	*slot = (struct pl_run){ .pl = pl, .dl = dl };
	pv_info("accel plugin '%s' loaded from %s", pl->name, path);
	return 0;
}

static int pl_start(int back, const struct pv_accel_env *env)
{
	int first = 0;

	pl_init();
	for (unsigned int i = 0; i < pl_nr; i++) {
		struct pl_run *r = &pl_run[i];
		int e;

		if (back ? (!r->pl->back_start || r->back_on) : (!r->pl->front_start || r->front_on))
			continue;
		e = back ? r->pl->back_start(env, &r->back_state) : r->pl->front_start(env, &r->front_state);
		if (e) {
			pv_err("accel plugin '%s': %s half: %s", r->pl->name, back ? "backend" : "frontend",
			       strerror(e < 0 ? -e : e));
			if (!first)
				first = e < 0 ? e : -e;
			continue;
		}
		if (back)
			r->back_on = 1;
		else
			r->front_on = 1;
	}
	return first;
}

static void pl_stop(int back)
{
	for (unsigned int i = pl_nr; i-- > 0;) {
		struct pl_run *r = &pl_run[i];

		if (back && r->back_on) {
			if (r->pl->back_stop)
				r->pl->back_stop(r->back_state);
			r->back_on = 0;
			r->back_state = NULL;
		} else if (!back && r->front_on) {
			if (r->pl->front_stop)
				r->pl->front_stop(r->front_state);
			r->front_on = 0;
			r->front_state = NULL;
		}
	}
}

int pv_accel_plugins_start_back(const struct pv_accel_env *env) { return pl_start(1, env); }
void pv_accel_plugins_stop_back(void) { pl_stop(1); }
int pv_accel_plugins_start_front(const struct pv_accel_env *env) { return pl_start(0, env); }
void pv_accel_plugins_stop_front(void) { pl_stop(0); }

void *pv_accel_plugins_state(const struct pv_accel_plugin *pl, int back)
{
	for (unsigned int i = 0; i < pl_nr; i++)
		if (pl_run[i].pl == pl)
			return back ? (pl_run[i].back_on ? pl_run[i].back_state : NULL) :
				      (pl_run[i].front_on ? pl_run[i].front_state : NULL);
	return NULL;
}
