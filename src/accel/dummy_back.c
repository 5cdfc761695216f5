/* SPDX-License-Identifier: MIT */
/*
 * dummy_back.c - the backend half of the "dummy" test accelerator (see
 * dummy.h): control only, as every backend plugin.  On probe it publishes
 * accel-frontend so that netfront attaches the frontend half; it can be
 * told to refuse.  Not a fast path: there is no NIC behind it.
 */
#include <errno.h>
#include <fcntl.h>

#include "accel/dummy.h"
#include "pvnet/accel.h"

static int dummy_back_probe(struct pv_accel_back_vif *vif, void *arg)
{
	struct pv_dummy_back *db = arg;
	int e;

	if (db->refuse)
		return -ENODEV;
	e = pv_accel_back_publish_frontend(vif, db->frontend[0] ? db->frontend : PV_DUMMY_NAME);
	if (e)
		return e;
	pv_accel_back_set_priv(vif, db);
	db->probes++;
	db->live++;
	return 0;
}

static void dummy_back_remove(struct pv_accel_back_vif *vif)
{
	struct pv_dummy_back *db = pv_accel_back_priv(vif);

	db->removes++;
	db->live--;
}

/* get_fds (1.2): one descriptor, a dup of the test's @fd, once it says ready. */
static int dummy_back_get_fds(struct pv_accel_back_vif *vif, int *fds, unsigned int max)
{
	struct pv_dummy_back *db = pv_accel_back_priv(vif);

	if (!db->fd_ready)
		return -EAGAIN;
	if (max < 1)
		return -ENOBUFS;
	fds[0] = fcntl(db->fd, F_DUPFD_CLOEXEC, 0);
	if (fds[0] < 0)
		return -errno;
	db->fds_given++;
	return 1;
}

static const struct pv_accel_back_ops dummy_back_ops = {
	.version = PV_ACCEL_BACK_VERSION,
	.size = sizeof(struct pv_accel_back_ops),
	.name = PV_DUMMY_NAME,
	.probe = dummy_back_probe,
	.remove = dummy_back_remove,
	.get_fds = dummy_back_get_fds,
};

/**
 * pv_dummy_back_register() - serve the vifs whose accel key is @nic
 */
int pv_dummy_back_register(struct pv_dummy_back *db, const char *nic)
{
	return pv_accel_back_register(nic, &dummy_back_ops, db);
}

int pv_dummy_back_unregister(const char *nic)
{
	return pv_accel_back_unregister(nic);
}
