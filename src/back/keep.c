/* SPDX-License-Identifier: MIT */
/*
 * keep.c - the toolstack's vif settings across a pvnetd restart.
 *
 * A pvnetd restart is a migration from the old pvnetd to the new one on
 * the same host.  At a clean stop (SIGTERM, SIGINT) pvnetd exports every
 * vif as a migration record (pv_mig_export: MAC, MTU, bridge, the
 * domain's name, every carried backend key: "accel", "rate", "ip",
 * storm-*, the limits keys, hand-written keys) and writes the records to
 * RUN_DIR/vifs.kept.  The next pvnetd on that run directory reads the file
 * before it listens on hv.sock, offers each record to itself and checks
 * it as a destination checks an offer (pv_mig_prepare: well formed, MAC
 * free), and deletes the file.  Each pvnet-front reconnects under a new
 * domid with its name and MAC; its vif request claims the record (as a
 * migrated guest's does) and the vif is created with those settings, so
 * acceleration, rate limits and allowed addresses come back.  A record
 * nobody claims expires as a migration's reservation does
 * (PV_MIG_HOLD_S after the start).
 *
 * Not covered: a pvnetd that is killed (SIGKILL, a crash) writes nothing;
 * its guests come back with default settings, as before.
 *
 * The file: one line per store node below the records' directory,
 * "PATH VALUE", PATH relative to it (machex/...), VALUE with backslash,
 * space, newline and bytes outside printable ASCII as \xHH.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keep.h"
#include "migrate.h"
#include "hv/xs.h"
#include "lib/log.h"

#define KEEP_PATH	512
#define KEEP_VALUE	4096
#define KEEP_DEPTH	4

static void keep_escape(FILE *f, const char *v, int len)
{
	for (int i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c <= ' ' || c >= 0x7f || c == '\\')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

/* Every node below @dir (@rel: its path relative to the records' directory), depth first. */
static int keep_dump(struct xs_server *xs, FILE *f, const char *dir, const char *rel, int depth)
{
	char kids[4096], val[KEEP_VALUE], path[KEEP_PATH], r[KEEP_PATH];
	int n, nodes = 0;

	if (depth > KEEP_DEPTH)
		return 0;
	n = xs_server_directory(xs, dir, kids, sizeof(kids));
	if (n < 0)
		return n == -ENOENT ? 0 : n;
	for (int i = 0, off = 0; i < n; i++, off += (int)strlen(kids + off) + 1) {
		int len, e;

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, kids + off) >= sizeof(path) ||
		    (size_t)snprintf(r, sizeof(r), "%s%s%s", rel, *rel ? "/" : "", kids + off) >=
			    sizeof(r))
			return -ENAMETOOLONG;
		len = xs_server_read(xs, path, val, sizeof(val));
		if (len < 0)
			return len;
		fprintf(f, "%s ", r);
		keep_escape(f, val, len < (int)sizeof(val) ? len : (int)sizeof(val));
		fputc('\n', f);
		nodes++;
		e = keep_dump(xs, f, path, r, depth + 1);
		if (e < 0)
			return e;
		nodes += e;
	}
	return nodes;
}

int pv_keep_save(struct xs_server *xs, struct pv_mig *mig, const struct pv_keep_vif *vifs,
		 unsigned int n, const char *path)
{
	char tmp[KEEP_PATH], machex[13], msg[160];
	unsigned int saved = 0;
	FILE *f;
	int nodes;

	for (unsigned int i = 0; i < n; i++) {
		if (pv_mig_export(mig, vifs[i].domid, vifs[i].devid, vifs[i].name, machex, msg,
				  sizeof(msg)) == 0)
			saved++;
		else
			pv_warn("vif %u.%u: its settings cannot be kept: %s", vifs[i].domid,
				vifs[i].devid, msg);
	}
	if (!saved)
		return 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	nodes = keep_dump(xs, f, PV_MIG_OUTGOING, "", 0);
	if (fclose(f) != 0 && nodes >= 0)
		nodes = -EIO;
	if (nodes < 0 || rename(tmp, path) < 0) {
		int e = nodes < 0 ? nodes : -errno;

		unlink(tmp);
		return e;
	}
	xs_server_rm(xs, PV_MIG_OUTGOING);
	pv_info("kept the settings of %u vifs for the next pvnetd (%s)", saved, path);
	return (int)saved;
}

static int keep_unescape(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++) {
		unsigned int c;

		if (*p == '\\') {
			if (p[1] != 'x' || sscanf(p + 2, "%2x", &c) != 1 || !p[2] || !p[3])
				return -EINVAL;
			*o++ = (char)c;
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return (int)(o - s);
}

int pv_keep_load(struct xs_server *xs, struct pv_mig *mig, const char *path)
{
	char line[KEEP_PATH + 4 * KEEP_VALUE + 4], node[KEEP_PATH + 64], msg[160];
	char machex[13] = "", done[PV_KEEP_MAX][13];
	unsigned int ndone = 0, lineno = 0, taken = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' '), *nl = strchr(line, '\n');
		int len;

		lineno++;
		if (!sp || !nl || sp == line) {
			pv_warn("%s:%u: malformed line: ignored", path, lineno);
			continue;
		}
		*sp = *nl = '\0';
		len = keep_unescape(sp + 1);
		if (len < 0 || strstr(line, "..") || line[0] == '/' ||
		    (size_t)snprintf(node, sizeof(node), PV_MIG_OFFER "/%s", line) >= sizeof(node)) {
			pv_warn("%s:%u: malformed line: ignored", path, lineno);
			continue;
		}
		xs_server_write(xs, node, sp + 1, (size_t)len);
		if (!strchr(line, '/') && strlen(line) == 12 && ndone < PV_KEEP_MAX) {
			memcpy(done[ndone], line, 12);
			done[ndone++][12] = '\0';
		}
	}
	fclose(f);
	unlink(path);
	for (unsigned int i = 0; i < ndone; i++) {
		memcpy(machex, done[i], sizeof(machex));
		if (pv_mig_prepare(mig, machex, msg, sizeof(msg)) == 0)
			taken++;
		else
			pv_warn("kept vif settings %s refused: %s", machex, msg);
	}
	if (ndone)
		pv_info("%u of %u kept vif settings wait for their guests (%s)", taken, ndone, path);
	return (int)taken;
}
