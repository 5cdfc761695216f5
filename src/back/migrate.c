/* SPDX-License-Identifier: MIT */
/*
 * migrate.c - the host's half of live migration, as Xen's toolstack does
 * it for a vif: the configuration travels as a record, the guest is told
 * through control/shutdown.
 *
 * Theory of Operation
 * ===================
 *
 * pvnetctl's "migrate" (src/cmd/pvnetctl.c) drives these steps, one "mig"
 * control command each, on the source (S) and the destination (D):
 *
 *   S export   snapshot the vif's configuration at PV_MIG_OUTGOING/<mac>:
 *              mac, mtu, bridge, the domain's name, and every backend key
 *              a migration carries (pv_mig_key_carried: all but the keys
 *              the xenbus instance, netback and the accelerator publish
 *              for themselves).  Nothing of the vif changes.
 *   (pvnetctl copies that subtree into D's store at PV_MIG_OFFER/<mac>)
 *   D prepare  check the offer: the MAC free here (no vif, no other
 *              record), MTU, name and every carried key well formed.
 *              Refused: the offer goes, the command fails, S is untouched.
 *              Taken: it becomes PV_MIG_INCOMING/<mac>, which holds the
 *              MAC for PV_MIG_HOLD_S.
 *   S begin    the snapshot becomes S's own PV_MIG_INCOMING/<mac> (the
 *              return record: if the guest comes back, it gets its
 *              configuration back), then the accelerator goes first, as
 *              in the original: the "accel" key is removed, netback removes
 *              the plugin (VI, buffers, filters); traffic is on the slow path.
 *   S suspend  control/migrate-to = D's run directory (pvnet's key), then
 *              control/shutdown = "suspend" (Xen's).  The guest clears
 *              control/shutdown (its acknowledgement), quiesces, closes the
 *              vif and re-registers on D (src/front/netfront_migrate.c).
 *   S abort    (no acknowledgement in time) withdraw the request as libxl
 *              does (control/shutdown = "" if still "suspend"), put the
 *              accelerator back, drop the return record.
 *   D          the guest's vif request carries its MAC; the matching
 *              record (same MAC, same domain name) gives the new vif its
 *              MTU, bridge and carried keys, written before the backend's
 *              "state", and is then dropped (pv_mig_claim/_claimed).
 *   cancel     drop every record of a MAC (pvnetctl, after success or a
 *              refusal); records also expire (pv_mig_sweep, once a second).
 *
 * Failure cases, and where the guest ends up:
 *   - D refuses, or D's ctl.sock does not answer: nothing on S was
 *     touched; the guest runs on S.
 *   - the guest does not acknowledge: pvnetctl aborts; the guest runs on
 *     S, accelerated again if it was.
 *   - D unreachable or refusing after the acknowledgement (D killed, the
 *     record expired): netfront gives up on D after its deadline and
 *     re-registers on S, where the return record restores its vif's
 *     configuration.
 *   - S killed after the suspend: the guest is on its way to D already;
 *     its domain on S went with S.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "migrate.h"
#include "pvnet/hv_proto.h"
#include "toolstack.h"
#include "hv/xs.h"
#include "lib/log.h"
#include "pvnet/accel.h"

struct pv_mig {
	struct xs_server *xs;
	struct pv_mig_stats st;
};

#define MIG_PATH 256

static uint64_t mig_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

struct pv_mig *pv_mig_new(struct xs_server *xs)
{
	struct pv_mig *m = calloc(1, sizeof(*m));

	if (m)
		m->xs = xs;
	return m;
}

void pv_mig_free(struct pv_mig *m) { free(m); }
void pv_mig_stats(const struct pv_mig *m, struct pv_mig_stats *st) { *st = m->st; }

static void mig_hex(const uint8_t mac[6], char out[13])
{
	snprintf(out, 13, "%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static int mig_hex_ok(const char *s)
{
	if (strlen(s) != 12)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static int mig_read(struct pv_mig *m, const char *dir, const char *key, char *buf, size_t size)
{
	char path[MIG_PATH];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) >= sizeof(path))
		return -ENAMETOOLONG;
	return xs_server_read(m->xs, path, buf, size);
}

static int mig_write(struct pv_mig *m, const char *dir, const char *key, const char *val)
{
	char path[MIG_PATH];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) >= sizeof(path))
		return -ENAMETOOLONG;
	return xs_server_write(m->xs, path, val, strlen(val));
}

static int mig_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno || *end || *v > max ? -EINVAL : 0;
}

/*
 * What a migration does not carry, by top-level key of the backend
 * directory: what the destination's toolstack writes anew for the new
 * domain (frontend, handle, state ...; mac, mtu and bridge travel as the
 * record's own fields), and what the drivers publish about themselves and
 * rewrite on any host: netback's feature-* and multi-queue-* offers, its
 * disabled-reason and ip-owned (the addresses it granted here; the
 * destination grants its own from "ip" or what it learns), the
 * accelerator's accelstate and accel-frontend and its plugin's accel-*
 * keys (accel-filter alone is the toolstack's policy).  Everything else travels, whoever wrote it: rate, storm-*,
 * limits/..., accel, Xen's ip, keys written by hand.
 */
int pv_mig_key_carried(const char *key)
{
	static const char *const instance[] = { "frontend", "frontend-id", "handle", "mac", "mtu",
						"bridge", "state", "online", "disabled-reason",
						"hotplug-status", "ip-owned", PV_ACCEL_KEY_STATE };
	static const char *const published[] = { "feature-", "multi-queue-", "accel-" };

	for (size_t i = 0; i < sizeof(instance) / sizeof(instance[0]); i++)
		if (!strcmp(key, instance[i]))
			return 0;
	if (!strcmp(key, "accel-filter"))
		return 1;
	for (size_t i = 0; i < sizeof(published) / sizeof(published[0]); i++)
		if (!strncmp(key, published[i], strlen(published[i])))
			return 0;
	return 1;
}

/* Copy @from's carried children (whole subtrees) to @to; how many nodes, or -errno. */
static int mig_copy_carried(struct pv_mig *m, const char *from, const char *to)
{
	char kids[4096], val[PV_MIG_MAX_VALUE + 1], f[MIG_PATH], t[MIG_PATH];
	int n, copied = 0;

	n = xs_server_directory(m->xs, from, kids, sizeof(kids));
	if (n < 0)
		return n;
	for (int i = 0, off = 0; i < n; i++, off += (int)strlen(kids + off) + 1) {
		int len, e;

		if (!pv_mig_key_carried(kids + off))
			continue;
		if ((size_t)snprintf(f, sizeof(f), "%s/%s", from, kids + off) >= sizeof(f) ||
		    (size_t)snprintf(t, sizeof(t), "%s/%s", to, kids + off) >= sizeof(t))
			return -ENAMETOOLONG;
		len = xs_server_read(m->xs, f, val, sizeof(val));
		if (len < 0)
			return len;
		if (len > PV_MIG_MAX_VALUE)
			return -E2BIG;
		if ((e = xs_server_write(m->xs, t, val, (size_t)len)) < 0 ||
		    (e = pv_ts_copy_tree(m->xs, f, t)) < 0)
			return e;
		copied += 1 + e;
	}
	return copied;
}

static int mig_fail(char *msg, size_t sz, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int mig_fail(char *msg, size_t sz, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sz, fmt, ap);
	va_end(ap);
	return err;
}

/* The vif's backend directory and its MAC (as bytes and hex). */
static int mig_vif(struct pv_mig *m, unsigned int domid, unsigned int devid, char *be,
		   uint8_t mac[6], char hex[13])
{
	char buf[32];

	snprintf(be, MIG_PATH, "/local/domain/0/backend/vif/%u/%u", domid, devid);
	if (mig_read(m, be, "mac", buf, sizeof(buf)) < 0 || pv_mac_parse(buf, mac) < 0)
		return -ENOENT;
	mig_hex(mac, hex);
	return 0;
}

/* The record of vif D.N; @migrating: a migration's export (counted, logged), not a keep's snapshot. */
static int mig_record(struct pv_mig *m, unsigned int domid, unsigned int devid, const char *name,
		      char *machex, char *msg, size_t msgsz, bool migrating)
{
	char be[MIG_PATH], rec[MIG_PATH], sub[MIG_PATH], mtu[16], bridge[32] = "br0", mac_s[18], num[16];
	uint8_t mac[6];
	int n;

	if (mig_vif(m, domid, devid, be, mac, machex) < 0)
		return mig_fail(msg, msgsz, -ENOENT, "no such vif");
	if (mig_read(m, be, "mtu", mtu, sizeof(mtu)) < 0)
		snprintf(mtu, sizeof(mtu), "%d", PV_TS_DEFAULT_MTU);
	mig_read(m, be, "bridge", bridge, sizeof(bridge));
	pv_mac_format(mac, mac_s);
	snprintf(rec, sizeof(rec), PV_MIG_OUTGOING "/%s", machex);
	if ((size_t)snprintf(sub, sizeof(sub), "%s/backend", rec) >= sizeof(sub))
		return mig_fail(msg, msgsz, -ENAMETOOLONG, "record path too long");
	snprintf(num, sizeof(num), "%u", domid);
	xs_server_rm(m->xs, rec);
	if (mig_write(m, rec, "mac", mac_s) < 0 || mig_write(m, rec, "name", name) < 0 ||
	    mig_write(m, rec, "mtu", mtu) < 0 || mig_write(m, rec, "bridge", bridge) < 0 ||
	    mig_write(m, rec, "domid", num) < 0 || xs_server_mkdir(m->xs, sub) < 0)
		goto fail;
	n = mig_copy_carried(m, be, sub);
	if (n < 0)
		goto fail;
	if (n > PV_MIG_MAX_KEYS) {
		xs_server_rm(m->xs, rec);
		return mig_fail(msg, msgsz, -E2BIG, "the vif has %d backend keys to carry (at most %d)",
				n, PV_MIG_MAX_KEYS);
	}
	if (migrating) {
		m->st.exported++;
		pv_info("vif %u.%u: exported for migration (mac %s, mtu %s, %d carried keys)", domid,
			devid, mac_s, mtu, n);
	}
	snprintf(msg, msgsz, "%s", rec);
	return 0;
fail:
	xs_server_rm(m->xs, rec);
	return mig_fail(msg, msgsz, -EIO, "cannot write the record %s", rec);
}

int pv_mig_export(struct pv_mig *m, unsigned int domid, unsigned int devid, const char *name,
		  char *machex, char *msg, size_t msgsz)
{
	return mig_record(m, domid, devid, name, machex, msg, msgsz, true);
}

int pv_mig_snapshot(struct pv_mig *m, unsigned int domid, unsigned int devid, const char *name,
		    char *machex, char *msg, size_t msgsz)
{
	return mig_record(m, domid, devid, name, machex, msg, msgsz, false);
}

/* ---- the destination's check ---- */

static int mig_digits_list(const char *v, int max_parts)
{
	int parts = 1;

	if (!*v)
		return 0;
	for (const char *p = v; *p; p++) {
		if (*p == ',') {
			if (++parts > max_parts || p == v || !p[1] || p[1] == ',')
				return 0;
		} else if (*p < '0' || *p > '9') {
			return 0;
		}
	}
	return 1;
}

/*
 * A carried key of a known meaning must be well formed here, as netback
 * and the plugins will read it: a value this host would refuse means the
 * vif could not have its configuration, so the migration is refused.
 */
static const char *mig_value_bad(const char *key, const char *val)
{
	if (!strcmp(key, "rate"))	/* "BYTES,USEC", as libxl writes it */
		return mig_digits_list(val, 2) && strchr(val, ',') ? NULL : "want BYTES,USEC";
	if (!strncmp(key, "storm-", 6))
		return mig_digits_list(val, 2) ? NULL : "want PPS or PPS,BURST";
	if (!strncmp(key, "limits/", 7))
		return mig_digits_list(val, 1) ? NULL : "want a number";
	if (!strcmp(key, PV_ACCEL_KEY_NIC))
		return pv_accel_name_ok(val) ? NULL : "want a NIC name [a-z0-9_.-]{1,31}";
	return NULL;
}

/* Walk @dir (relative names under @rel), checking every key; count in *n. */
static int mig_check_keys(struct pv_mig *m, const char *dir, const char *rel, int depth, int *n,
			  char *msg, size_t msgsz)
{
	char kids[4096], val[PV_MIG_MAX_VALUE + 2], path[MIG_PATH], key[MIG_PATH];
	const char *why;
	int k;

	k = xs_server_directory(m->xs, dir, kids, sizeof(kids));
	if (k < 0)
		return k == -ENOENT ? 0 : k;
	for (int i = 0, off = 0; i < k; i++, off += (int)strlen(kids + off) + 1) {
		int len, e;

		snprintf(path, sizeof(path), "%s/%s", dir, kids + off);
		snprintf(key, sizeof(key), "%s%s%s", rel, *rel ? "/" : "", kids + off);
		if (!*rel && !pv_mig_key_carried(key))
			return mig_fail(msg, msgsz, -EINVAL, "key '%s' is not one a migration carries", key);
		if (++*n > PV_MIG_MAX_KEYS || depth > 4)
			return mig_fail(msg, msgsz, -E2BIG, "too many or too deep keys (at most %d)",
					PV_MIG_MAX_KEYS);
		len = xs_server_read(m->xs, path, val, sizeof(val));
		if (len < 0 || len > PV_MIG_MAX_VALUE)
			return mig_fail(msg, msgsz, -E2BIG, "key '%s': value too long", key);
		val[len] = '\0';
		if ((why = mig_value_bad(key, val)))
			return mig_fail(msg, msgsz, -EINVAL, "key '%s' = '%s': %s", key, val, why);
		if ((e = mig_check_keys(m, path, key, depth + 1, n, msg, msgsz)) < 0)
			return e;
	}
	return 0;
}

/* The offer's own fields: mac (matching its name), mtu, name, bridge. */
static int mig_check_fields(struct pv_mig *m, const char *off, const char *machex, uint8_t mac[6],
			    char *msg, size_t msgsz)
{
	char buf[64], hex[13];
	unsigned long mtu;

	if (mig_read(m, off, "mac", buf, sizeof(buf)) < 0 || pv_mac_parse(buf, mac) < 0)
		return mig_fail(msg, msgsz, -EINVAL, "offer without a valid mac");
	mig_hex(mac, hex);
	if (strcmp(hex, machex) || (mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return mig_fail(msg, msgsz, -EADDRNOTAVAIL, "mac %s: not a unicast station address "
				"matching the offer's name", buf);
	if (mig_read(m, off, "mtu", buf, sizeof(buf)) < 0 || mig_uint(buf, PV_TS_MAX_MTU, &mtu) < 0 ||
	    mtu < 68)
		return mig_fail(msg, msgsz, -EINVAL, "mtu must be 68..%d here", PV_TS_MAX_MTU);
	if (mig_read(m, off, "name", buf, sizeof(buf)) < 0 || !pv_hv_name_ok(buf))
		return mig_fail(msg, msgsz, -EINVAL, "offer without a valid domain name");
	if (mig_read(m, off, "bridge", buf, sizeof(buf)) < 0 || !buf[0] || strlen(buf) > 15)
		return mig_fail(msg, msgsz, -EINVAL, "offer without a valid bridge name");
	return 0;
}

int pv_mig_prepare(struct pv_mig *m, const char *machex, char *msg, size_t msgsz)
{
	char off[MIG_PATH], sub[MIG_PATH], inc[MIG_PATH], num[24], mac_s[18];
	uint8_t mac[6];
	int e, n = 0;

	if (!mig_hex_ok(machex))
		return mig_fail(msg, msgsz, -EINVAL, "usage: bad offer name '%s' (want 12 hex digits)",
				machex);
	snprintf(off, sizeof(off), PV_MIG_OFFER "/%s", machex);
	if ((size_t)snprintf(sub, sizeof(sub), "%s/backend", off) >= sizeof(sub))
		return mig_fail(msg, msgsz, -ENAMETOOLONG, "offer path too long");
	snprintf(inc, sizeof(inc), PV_MIG_INCOMING "/%s", machex);
	if (xs_server_read(m->xs, off, num, sizeof(num)) < 0)
		return mig_fail(msg, msgsz, -ENOENT, "no offer %s", off);
	e = mig_check_fields(m, off, machex, mac, msg, msgsz);
	if (!e)
		e = mig_check_keys(m, sub, "", 0, &n, msg, msgsz);
	pv_mac_format(mac, mac_s);
	if (!e && pv_ts_mac_in_use(m->xs, mac, 0, 0))
		e = mig_fail(msg, msgsz, -EADDRINUSE, "mac %s in use on this host (a vif or another "
			     "migration has it)", mac_s);
	if (!e && ((e = pv_ts_copy_tree(m->xs, off, inc)) < 0 ||
		   (snprintf(num, sizeof(num), "%llu", (unsigned long long)(mig_now_s() + PV_MIG_HOLD_S)),
		    (e = mig_write(m, inc, "expires", num)) < 0) ||
		   (e = mig_write(m, inc, "kind", "arrival")) < 0)) {
		xs_server_rm(m->xs, inc);
		e = mig_fail(msg, msgsz, -EIO, "cannot write the reservation");
	}
	xs_server_rm(m->xs, off);
	if (e) {
		m->st.offers_refused++;
		pv_warn("migration of mac %s refused: %s", mac_s, msg);
		return e;
	}
	m->st.offers_taken++;
	pv_info("migration of mac %s accepted: reserved for %d s, %d carried keys", mac_s,
		PV_MIG_HOLD_S, n);
	snprintf(msg, msgsz, "%s", inc);
	return 0;
}

/* ---- the source's steps ---- */

int pv_mig_begin(struct pv_mig *m, unsigned int domid, unsigned int devid, const char *dest,
		 char *msg, size_t msgsz)
{
	char be[MIG_PATH], out[MIG_PATH], inc[MIG_PATH], hex[13], num[24], nic[64] = "";
	uint8_t mac[6];
	int e;

	if (dest[0] != '/' || strlen(dest) > 200)
		return mig_fail(msg, msgsz, -EINVAL, "usage: the destination must be an absolute run "
				"directory of at most 200 bytes");
	if (mig_vif(m, domid, devid, be, mac, hex) < 0)
		return mig_fail(msg, msgsz, -ENOENT, "no such vif");
	snprintf(out, sizeof(out), PV_MIG_OUTGOING "/%s", hex);
	snprintf(inc, sizeof(inc), PV_MIG_INCOMING "/%s", hex);
	if (xs_server_read(m->xs, out, num, sizeof(num)) < 0)
		return mig_fail(msg, msgsz, -ENOENT, "vif not exported (mig export first)");
	snprintf(num, sizeof(num), "%llu", (unsigned long long)(mig_now_s() + PV_MIG_RETURN_S));
	xs_server_rm(m->xs, inc);
	if ((e = pv_ts_copy_tree(m->xs, out, inc)) < 0 || mig_write(m, inc, "expires", num) < 0 ||
	    mig_write(m, inc, "kind", "return") < 0 || mig_write(m, inc, "to", dest) < 0) {
		xs_server_rm(m->xs, inc);
		return mig_fail(msg, msgsz, -EIO, "cannot write the return record");
	}
	xs_server_rm(m->xs, out);
	m->st.begun++;
	/* The accelerator first: netback removes the plugin as the key goes. */
	if (mig_read(m, be, PV_ACCEL_KEY_NIC, nic, sizeof(nic)) >= 0) {
		char path[MIG_PATH];

		if ((size_t)snprintf(path, sizeof(path), "%s/" PV_ACCEL_KEY_NIC, be) < sizeof(path))
			xs_server_rm(m->xs, path);
		pv_info("vif %u.%u: migrating to %s: accelerator removed (accel was %s); slow path",
			domid, devid, dest, nic);
	} else {
		pv_info("vif %u.%u: migrating to %s (not accelerated)", domid, devid, dest);
	}
	snprintf(msg, msgsz, "%s", nic[0] ? "accelerator removed" : "not accelerated");
	return 0;
}

int pv_mig_suspend(struct pv_mig *m, unsigned int domid, unsigned int devid, char *msg,
		   size_t msgsz)
{
	char be[MIG_PATH], inc[MIG_PATH], home[64], hex[13], to[256], kind[16];
	uint8_t mac[6];

	if (mig_vif(m, domid, devid, be, mac, hex) < 0)
		return mig_fail(msg, msgsz, -ENOENT, "no such vif");
	snprintf(inc, sizeof(inc), PV_MIG_INCOMING "/%s", hex);
	if (mig_read(m, inc, "kind", kind, sizeof(kind)) < 0 || strcmp(kind, "return") ||
	    mig_read(m, inc, "to", to, sizeof(to)) < 0)
		return mig_fail(msg, msgsz, -ENOENT, "migration not begun (mig begin first)");
	snprintf(home, sizeof(home), "/local/domain/%u", domid);
	if (mig_write(m, home, PV_MIG_KEY_TO, to) < 0 ||
	    mig_write(m, home, PV_MIG_KEY_SHUTDOWN, "suspend") < 0)
		return mig_fail(msg, msgsz, -EIO, "cannot write the guest's control keys");
	m->st.suspends++;
	pv_info("domain %u: control/shutdown = suspend (to %s)", domid, to);
	return 0;
}

int pv_mig_abort(struct pv_mig *m, unsigned int domid, unsigned int devid, char *msg,
		 size_t msgsz)
{
	char be[MIG_PATH], inc[MIG_PATH], home[64], hex[13], req[32] = "", nic[64], path[MIG_PATH];
	uint8_t mac[6];

	snprintf(home, sizeof(home), "/local/domain/%u", domid);
	if (mig_read(m, home, PV_MIG_KEY_SHUTDOWN, req, sizeof(req)) < 0)
		return mig_fail(msg, msgsz, -ESRCH, "no such domain");
	/* One loop, one thread: nothing runs between this read and the write. */
	if (strcmp(req, "suspend"))
		return mig_fail(msg, msgsz, -EINPROGRESS, "the guest has acknowledged the request");
	mig_write(m, home, PV_MIG_KEY_SHUTDOWN, "");
	snprintf(path, sizeof(path), "%s/" PV_MIG_KEY_TO, home);
	xs_server_rm(m->xs, path);
	if (mig_vif(m, domid, devid, be, mac, hex) == 0) {
		snprintf(inc, sizeof(inc), PV_MIG_INCOMING "/%s/backend", hex);
		if (mig_read(m, inc, PV_ACCEL_KEY_NIC, nic, sizeof(nic)) >= 0)
			mig_write(m, be, PV_ACCEL_KEY_NIC, nic);	/* the accelerator comes back */
		pv_mig_cancel(m, hex);
	}
	m->st.aborted++;
	pv_warn("domain %u: migration aborted: the suspend request was withdrawn", domid);
	return 0;
}

int pv_mig_cancel(struct pv_mig *m, const char *machex)
{
	static const char *const dirs[] = { PV_MIG_OUTGOING, PV_MIG_OFFER, PV_MIG_INCOMING };
	char path[MIG_PATH], v[4];
	int found = 0;

	if (!mig_hex_ok(machex))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], machex);
		/* Xen's rm of a missing node whose parent exists succeeds: look first. */
		if (xs_server_read(m->xs, path, v, sizeof(v)) >= 0 && xs_server_rm(m->xs, path) == 0)
			found = 1;
	}
	if (found)
		m->st.cancelled++;
	return found ? 0 : -ENOENT;
}

/* ---- arrival ---- */

int pv_mig_claim(struct pv_mig *m, const char *name, const uint8_t mac[6],
		 struct pv_vif_params *p, char *carried, size_t carriedsz)
{
	char inc[MIG_PATH], buf[64], hex[13];
	unsigned long mtu;

	mig_hex(mac, hex);
	snprintf(inc, sizeof(inc), PV_MIG_INCOMING "/%s", hex);
	if (mig_read(m, inc, "name", buf, sizeof(buf)) < 0 || strcmp(buf, name))
		return 0;	/* not ours: the vif request meets the reservation (in use) */
	if (mig_read(m, inc, "mtu", buf, sizeof(buf)) >= 0 && !mig_uint(buf, PV_TS_MAX_MTU, &mtu))
		p->mtu = (unsigned int)mtu;
	if (mig_read(m, inc, "bridge", buf, sizeof(buf)) > 0 && strlen(buf) < sizeof(p->bridge))
		memcpy(p->bridge, buf, strlen(buf) + 1);
	snprintf(carried, carriedsz, "%s/backend", inc);
	p->carried = carried;
	p->claims_reserved = 1;
	return 1;
}

void pv_mig_claimed(struct pv_mig *m, const uint8_t mac[6], unsigned int domid, int ok)
{
	char inc[MIG_PATH], kind[16] = "", hex[13], mac_s[18];

	if (!ok)
		return;		/* the record stays until it expires: the guest may retry */
	mig_hex(mac, hex);
	pv_mac_format(mac, mac_s);
	snprintf(inc, sizeof(inc), PV_MIG_INCOMING "/%s", hex);
	mig_read(m, inc, "kind", kind, sizeof(kind));
	xs_server_rm(m->xs, inc);
	if (!strcmp(kind, "return")) {
		m->st.returned++;
		pv_warn("domain %u: mac %s came back (its migration did not complete); "
			"configuration restored", domid, mac_s);
		pv_ctl_event("migrated-back", (int)domid, -1, "mac", mac_s, PV_EV_END);
	} else {
		m->st.arrived++;
		pv_info("domain %u: mac %s migrated in; configuration carried", domid, mac_s);
		pv_ctl_event("migrated-in", (int)domid, -1, "mac", mac_s, PV_EV_END);
	}
}

/* Records of @dir past "expires" go; ones without it get one (offers, snapshots). */
static void mig_sweep_dir(struct pv_mig *m, const char *dir, uint64_t now, uint64_t ttl)
{
	char kids[4096], rec[MIG_PATH], buf[24];
	int n = xs_server_directory(m->xs, dir, kids, sizeof(kids));

	for (int i = 0, off = 0; i < n; i++, off += (int)strlen(kids + off) + 1) {
		unsigned long long exp;

		snprintf(rec, sizeof(rec), "%s/%s", dir, kids + off);
		if (mig_read(m, rec, "expires", buf, sizeof(buf)) < 0) {
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(now + ttl));
			mig_write(m, rec, "expires", buf);
			continue;
		}
		exp = strtoull(buf, NULL, 10);
		if (now <= exp)
			continue;
		xs_server_rm(m->xs, rec);
		m->st.expired++;
		pv_warn("migration record %s expired", rec);
	}
}

/* @dir goes if it has no children: the store holds what it held before a migration. */
static void mig_prune(struct pv_mig *m, const char *dir)
{
	char kids[64];

	if (xs_server_directory(m->xs, dir, kids, sizeof(kids)) == 0)
		xs_server_rm(m->xs, dir);
}

void pv_mig_sweep(struct pv_mig *m)
{
	uint64_t now = mig_now_s();

	mig_sweep_dir(m, PV_MIG_OUTGOING, now, PV_MIG_HOLD_S);
	mig_sweep_dir(m, PV_MIG_OFFER, now, PV_MIG_HOLD_S);
	mig_sweep_dir(m, PV_MIG_INCOMING, now, PV_MIG_HOLD_S);
	mig_prune(m, PV_MIG_OUTGOING);
	mig_prune(m, PV_MIG_OFFER);
	mig_prune(m, PV_MIG_INCOMING);
	mig_prune(m, PV_MIG_DIR);
}
