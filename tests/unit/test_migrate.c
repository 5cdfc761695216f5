/* SPDX-License-Identifier: MIT */
/*
 * test_migrate.c - the toolstack's migration records (src/back/migrate.c)
 * against an in-process store: which backend keys travel, the
 * destination's checks (MAC in use, bad keys), the reservation a guest's
 * vif claims, the source's suspend request and its abort.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/test.h"
#include "back/migrate.h"
#include "back/toolstack.h"
#include "hv/xs.h"
#include "lib/log.h"
#include "lib/loop.h"

static struct xs_server *XS;

static void put(const char *path, const char *val)
{
	xs_server_write(XS, path, val, strlen(val));
}

static int has(const char *path, const char *want)
{
	char buf[128];

	if (xs_server_read(XS, path, buf, sizeof(buf)) < 0)
		return 0;
	return !want || !strcmp(buf, want);
}

/* A vif D.0 with MAC @mac, as the toolstack and netback would leave it. */
static void mk_vif(unsigned int d, const char *mac)
{
	struct pv_vif_params p = { .domid = d };

	pv_mac_parse(mac, p.mac);
	T_ASSERT(pv_ts_vif_create(XS, &p) == 0, "vif %u", d);
}

/* Copy the source's record into the destination's offer (pvnetctl's job), same store. */
static void offer(const char *hex)
{
	char from[128], to[128];

	snprintf(from, sizeof(from), PV_MIG_OUTGOING "/%s", hex);
	snprintf(to, sizeof(to), PV_MIG_OFFER "/%s", hex);
	pv_ts_copy_tree(XS, from, to);
	xs_server_rm(XS, from);
}

static void test_keys(void)
{
	T_CHECK(pv_mig_key_carried("rate") && pv_mig_key_carried("storm-broadcast") &&
		pv_mig_key_carried("limits") && pv_mig_key_carried("accel") &&
		pv_mig_key_carried("ip") && pv_mig_key_carried("accel-filter") &&
		pv_mig_key_carried("something-by-hand"),
		"toolstack keys travel (rate, storm-*, limits, accel, accel-filter, ip, others)", "no");
	T_CHECK(!pv_mig_key_carried("state") && !pv_mig_key_carried("frontend") &&
		!pv_mig_key_carried("feature-sg") && !pv_mig_key_carried("multi-queue-max-queues") &&
		!pv_mig_key_carried("accelstate") && !pv_mig_key_carried("accel-frontend") &&
		!pv_mig_key_carried("accel-local-macs") && !pv_mig_key_carried("mac") &&
		!pv_mig_key_carried("ip-owned"),
		"instance and driver-published keys stay", "no");
}

int main(void)
{
	char dir[] = "/tmp/pvnet-test-mig.XXXXXX", sock[128], hex[13], msg[256], carried[256];
	struct pv_vif_params p;
	struct xs_quota q;
	struct pv_loop *L;
	struct pv_mig *m;
	uint8_t mac[6];

	pv_log_init("test_migrate", PV_LOG_ERR, 0);
	if (!mkdtemp(dir))
		return 2;
	snprintf(sock, sizeof(sock), "%s/xs.sock", dir);
	xs_quota_default(&q);
	L = pv_loop_new();
	XS = xs_server_new(L, sock, &q);
	m = XS ? pv_mig_new(XS) : NULL;
	T_CHECK(m != NULL, "store and records start", "no");
	if (!m)
		return t_done();
	xs_server_domain_intro(XS, 1);
	test_keys();

	/* Export: carried keys only, the vif untouched. */
	mk_vif(1, "00:16:3e:00:00:01");
	put("/local/domain/0/backend/vif/1/0/storm-broadcast", "700,1400");
	put("/local/domain/0/backend/vif/1/0/limits/max-filters", "6");
	put("/local/domain/0/backend/vif/1/0/feature-sg", "1");
	put("/local/domain/0/backend/vif/1/0/accel-frontend", "pvnic");
	T_EQ(pv_mig_export(m, 1, 0, "g1", hex, msg, sizeof(msg)), 0, "export a vif");
	T_CHECK(!strcmp(hex, "00163e000001"), "the record is named by the MAC", "%s", hex);
	T_CHECK(has(PV_MIG_OUTGOING "/00163e000001/backend/storm-broadcast", "700,1400") &&
		has(PV_MIG_OUTGOING "/00163e000001/backend/limits/max-filters", "6") &&
		!has(PV_MIG_OUTGOING "/00163e000001/backend/feature-sg", NULL) &&
		!has(PV_MIG_OUTGOING "/00163e000001/backend/accel-frontend", NULL) &&
		!has(PV_MIG_OUTGOING "/00163e000001/backend/state", NULL) &&
		has(PV_MIG_OUTGOING "/00163e000001/name", "g1"),
		"the record carries storm-broadcast and limits/max-filters, not feature-sg, "
		"accel-frontend or state", "no");
	T_EQ(pv_mig_export(m, 1, 7, "g1", hex, msg, sizeof(msg)), -ENOENT, "no such vif: -ENOENT");

	/* Prepare in the same store: the MAC is in use (vif 1.0 has it). */
	offer("00163e000001");
	T_EQ(pv_mig_prepare(m, "00163e000001", msg, sizeof(msg)), -EADDRINUSE,
	     "the destination refuses a MAC a vif has");
	T_CHECK(!has(PV_MIG_OFFER "/00163e000001", NULL), "a refused offer is removed", "no");

	/* A MAC free here, with a bad key, then good. */
	put(PV_MIG_OFFER "/00163e000009/mac", "00:16:3e:00:00:09");
	put(PV_MIG_OFFER "/00163e000009/mtu", "1500");
	put(PV_MIG_OFFER "/00163e000009/name", "g9");
	put(PV_MIG_OFFER "/00163e000009/bridge", "br0");
	put(PV_MIG_OFFER "/00163e000009/backend/rate", "fast");
	T_EQ(pv_mig_prepare(m, "00163e000009", msg, sizeof(msg)), -EINVAL, "a malformed rate is refused");
	put(PV_MIG_OFFER "/00163e000009/mac", "00:16:3e:00:00:09");
	put(PV_MIG_OFFER "/00163e000009/mtu", "99999");
	put(PV_MIG_OFFER "/00163e000009/name", "g9");
	put(PV_MIG_OFFER "/00163e000009/bridge", "br0");
	T_EQ(pv_mig_prepare(m, "00163e000009", msg, sizeof(msg)), -EINVAL, "an MTU over 9000 is refused");
	put(PV_MIG_OFFER "/00163e000009/mac", "00:16:3e:00:00:09");
	put(PV_MIG_OFFER "/00163e000009/mtu", "9000");
	put(PV_MIG_OFFER "/00163e000009/name", "g9");
	put(PV_MIG_OFFER "/00163e000009/bridge", "br0");
	put(PV_MIG_OFFER "/00163e000009/backend/rate", "125000,50000");
	put(PV_MIG_OFFER "/00163e000009/backend/state", "4");
	T_EQ(pv_mig_prepare(m, "00163e000009", msg, sizeof(msg)), -EINVAL,
	     "an offer carrying a key that does not travel (state) is refused");
	put(PV_MIG_OFFER "/00163e000009/mac", "00:16:3e:00:00:09");
	put(PV_MIG_OFFER "/00163e000009/mtu", "9000");
	put(PV_MIG_OFFER "/00163e000009/name", "g9");
	put(PV_MIG_OFFER "/00163e000009/bridge", "br0");
	put(PV_MIG_OFFER "/00163e000009/backend/rate", "125000,50000");
	T_EQ(pv_mig_prepare(m, "00163e000009", msg, sizeof(msg)), 0, "a good offer is taken");
	pv_mac_parse("00:16:3e:00:00:09", mac);
	T_CHECK(pv_ts_mac_in_use(XS, mac, 0, 0), "the reservation holds the MAC", "no");
	memset(&p, 0, sizeof(p));
	p.domid = 1;
	p.devid = 1;
	memcpy(p.mac, mac, 6);
	T_EQ(pv_ts_vif_create(XS, &p), -EADDRINUSE, "another vif cannot take a reserved MAC");
	T_EQ(pv_mig_claim(m, "other", mac, &p, carried, sizeof(carried)), 0,
	     "a domain of another name does not claim it");
	xs_server_domain_intro(XS, 2);
	memset(&p, 0, sizeof(p));
	p.domid = 2;
	memcpy(p.mac, mac, 6);
	T_EQ(pv_mig_claim(m, "g9", mac, &p, carried, sizeof(carried)), 1, "the migrated guest claims it");
	T_EQ(pv_ts_vif_create(XS, &p), 0, "its vif is created");
	pv_mig_claimed(m, mac, 2, 1);
	T_CHECK(p.mtu == 9000 && has("/local/domain/0/backend/vif/2/0/rate", "125000,50000") &&
		!has(PV_MIG_INCOMING "/00163e000009", NULL),
		"the vif has the carried MTU and rate; the reservation is gone", "mtu %u", p.mtu);

	/* Source: begin removes the accelerator, suspend writes the keys, abort undoes. */
	put("/local/domain/0/backend/vif/1/0/accel", "pvnic");
	T_EQ(pv_mig_export(m, 1, 0, "g1", hex, msg, sizeof(msg)), 0, "export again");
	T_EQ(pv_mig_begin(m, 1, 0, "/run/b", msg, sizeof(msg)), 0, "begin");
	T_CHECK(!has("/local/domain/0/backend/vif/1/0/accel", NULL) &&
		has(PV_MIG_INCOMING "/00163e000001/kind", "return"),
		"begin: the accel key goes, the return record is written", "no");
	T_EQ(pv_mig_suspend(m, 1, 0, msg, sizeof(msg)), 0, "suspend");
	T_CHECK(has("/local/domain/1/control/shutdown", "suspend") &&
		has("/local/domain/1/control/migrate-to", "/run/b"),
		"suspend: control/migrate-to, then control/shutdown = suspend", "no");
	T_EQ(pv_mig_abort(m, 1, 0, msg, sizeof(msg)), 0, "abort an unacknowledged request");
	T_CHECK(has("/local/domain/1/control/shutdown", "") &&
		!has("/local/domain/1/control/migrate-to", NULL) &&
		has("/local/domain/0/backend/vif/1/0/accel", "pvnic") &&
		!has(PV_MIG_INCOMING "/00163e000001", NULL),
		"abort: request withdrawn, accel back, no record", "no");
	T_EQ(pv_mig_abort(m, 1, 0, msg, sizeof(msg)), -EINPROGRESS,
	     "abort after the acknowledgement (key empty): -EINPROGRESS");
	T_EQ(pv_mig_cancel(m, "00163e000001"), -ENOENT, "cancel without records: -ENOENT");
	T_EQ(pv_mig_cancel(m, "nothex"), -EINVAL, "cancel of a bad name: -EINVAL");

	pv_mig_free(m);
	xs_server_free(XS);
	pv_loop_free(L);
	rmdir(dir);
	return t_done();
}
