/* SPDX-License-Identifier: MIT */
/*
 * keep.c - the toolstack's vif settings across a pvnetd restart.
 *
 * A pvnetd restart is a migration from the old pvnetd to the new one on
 * the same host.  pvnetd exports every vif as a migration record
 * (pv_mig_export: MAC, MTU, bridge, the domain's name, every carried
 * backend key: "accel", "rate", "ip", storm-*, the limits keys,
 * hand-written keys) and writes the records to RUN_DIR/vifs.kept: at a
 * clean stop (SIGTERM, SIGINT), and while it runs, within a second of
 * any change of a vif (an event of `pvnetctl monitor`: a vif created,
 * connected, set, accelerated or not, gone), so that a pvnetd that is
 * killed or crashes leaves its last settings too.  The file is replaced
 * atomically (a temporary file, fsync, rename, the directory's fsync):
 * a crash leaves the old file or the new one, never half of one.  The next pvnetd on that run directory reads the file
 * before it listens on hv.sock, offers each record to itself and checks
 * it as a destination checks an offer (pv_mig_prepare: well formed, MAC
 * free), and deletes the file.  Each pvnet-front reconnects under a new
 * domid with its name and MAC; its vif request claims the record (as a
 * migrated guest's does) and the vif is created with those settings, so
 * acceleration, rate limits and allowed addresses come back.  A record
 * nobody claims expires as a migration's reservation does
 * (PV_MIG_HOLD_S after the start).
 *
 * Not covered: keys written straight into the store (xenstore-write) are
 * kept at the next change of any vif or at a clean stop, not at once.
 *
 * The file: one line per store node below the records' directory,
 * "PATH VALUE", PATH relative to it (machex/...), VALUE with backslash,
 * space, newline and bytes outside printable ASCII as \xHH.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keep.h"
#include "migrate.h"
#include "toolstack.h"
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

/* Write @path's content atomically: @tmp written, flushed to disk, renamed over @path. */
static int keep_commit(FILE *f, const char *tmp, const char *path)
{
	char dir[KEEP_PATH], *slash;
	int e = 0, dfd;

	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		e = -errno;
	if (fclose(f) != 0 && !e)
		e = -EIO;
	if (!e && rename(tmp, path) < 0)
		e = -errno;
	if (e) {
		unlink(tmp);
		return e;
	}
	/* The rename itself on disk: the directory's fsync. */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int pv_keep_save(struct xs_server *xs, struct pv_mig *mig, const struct pv_keep_vif *vifs,
		 unsigned int n, const char *path, int final)
{
	char tmp[KEEP_PATH], rec[KEEP_PATH], machex[13], msg[160], mac[32], be[96];
	unsigned int saved = 0;
	FILE *f;
	int nodes = 0, e;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	for (unsigned int i = 0; i < n && nodes >= 0; i++) {
		uint8_t m[6];
		int ongoing;

		/*
		 * A record already in PV_MIG_OUTGOING is a migration's (begun,
		 * not finished): written as it is, not exported again (which
		 * would rewrite it) nor removed afterwards.
		 */
		snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%u/%u/mac", vifs[i].domid,
			 vifs[i].devid);
		if (xs_server_read(xs, be, mac, sizeof(mac) - 1) < 0 || pv_mac_parse(mac, m) < 0)
			continue;
		snprintf(machex, sizeof(machex), "%02x%02x%02x%02x%02x%02x", m[0], m[1], m[2], m[3],
			 m[4], m[5]);
		snprintf(rec, sizeof(rec), PV_MIG_OUTGOING "/%s", machex);
		ongoing = xs_server_read(xs, rec, msg, sizeof(msg)) >= 0;
		if (!ongoing && pv_mig_snapshot(mig, vifs[i].domid, vifs[i].devid, vifs[i].name, machex,
						msg, sizeof(msg)) < 0) {
			pv_warn("vif %u.%u: its settings cannot be kept: %s", vifs[i].domid,
				vifs[i].devid, msg);
			continue;
		}
		fprintf(f, "%s \n", machex);	/* the record's own node: what pv_keep_load counts */
		nodes = keep_dump(xs, f, rec, machex, 1);
		if (!ongoing)
			xs_server_rm(xs, rec);
		saved++;
	}
	if (nodes < 0) {
		fclose(f);
		unlink(tmp);
		return nodes;
	}
	if (!saved) {
		/* Nothing to keep: no file (an old one would give stale settings back). */
		fclose(f);
		unlink(tmp);
		return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	}
	if ((e = keep_commit(f, tmp, path)) < 0)
		return e;
	if (final)
		pv_info("kept the settings of %u vifs for the next pvnetd (%s)", saved, path);
	else
		pv_debug("%s: the settings of %u vifs", path, saved);
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
