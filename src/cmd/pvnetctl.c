/* SPDX-License-Identifier: MIT */
/*
 * pvnetctl - pvnet's toolstack and operator CLI.
 *
 * Most commands go to pvnetd's control socket (<run-dir>/ctl.sock); the
 * store commands speak xenstore directly on <run-dir>/xenstored.sock.
 * One table, pvnet/ctl.h's (pvnetd serves from the same), drives
 * dispatch, argument checks and the help text.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "guest/xsc.h"
#include "lib/out.h"
#include "lib/unix.h"
#include "pvnet/ctl.h"
#include "pvnet/hv_proto.h"
#include "pvnet/xen.h"

struct opts {
	const char *run_dir;
	int json;
};

typedef int (*cmd_fn)(const struct opts *o, int argc, char **argv);

static int cmd_remote(const struct opts *o, int argc, char **argv);
static int cmd_store_dump(const struct opts *o, int argc, char **argv);

/* Handlers of pv_ctl_cmds' PV_CTL_LOCAL commands; the rest go to pvnetd. */
static const cmd_fn local_fns[PV_CTL_NR_CMDS] = {
	[PV_CTL_STORE_DUMP] = cmd_store_dump,
};

/*
 * An error: rc 2 for usage errors, 1 for refused requests.  With --json it
 * is {"error": MSG, "code": ERRNO} on stdout (what a script parses), and
 * nothing on stderr; else "pvnetctl: [CMD: ]MSG" on stderr.
 */
static int fail(const struct opts *o, int rc, int code, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail(const struct opts *o, int rc, int code, const char *cmd, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (o->json) {
		struct pv_buf b = { 0 };

		pv_buf_printf(&b, "{\"error\": ");
		pv_json_str(&b, msg);
		pv_buf_printf(&b, ", \"code\": %d}\n", code);
		if (b.p)
			fputs(b.p, stdout);
		pv_buf_free(&b);
	} else {
		fprintf(stderr, "pvnetctl: %s%s%s\n", cmd ? cmd : "", cmd ? ": " : "", msg);
	}
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pvnetctl [--run-dir DIR] [--json] COMMAND [ARGS]\n\n"
		   "  -r, --run-dir DIR  pvnetd's run directory (default $PVNET_RUN_DIR or /run/pvnet)\n"
		   "  -j, --json         machine-readable output (errors too: {\"error\": ..., \"code\": ...})\n"
		   "  -h, --help         this text\n\ncommands:\n");
	for (int i = 0; i < PV_CTL_NR_CMDS; i++) {
		const char *args = pv_ctl_cmds[i].args;

		/* Arguments too long for their column: the help goes under them. */
		if (strlen(args) > 52)
			fprintf(f, "  %-12s %s\n  %-12s %-52s %s\n", pv_ctl_cmds[i].name, args, "", "",
				pv_ctl_cmds[i].help);
		else
			fprintf(f, "  %-12s %-52s %s\n", pv_ctl_cmds[i].name, args, pv_ctl_cmds[i].help);
	}
}

static int connect_unix(const char *dir, const char *name)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	return pv_unix_connect(path, SOCK_STREAM);
}

static int cmd_remote(const struct opts *o, int argc, char **argv)
{
	char line[PV_CTL_LINE_MAX], buf[65536];
	struct pv_buf ans = { 0 };
	size_t len;
	ssize_t n;
	int fd, rc;

	len = (size_t)snprintf(line, sizeof(line), "%s", o->json ? "J" : "T");
	for (int i = 0; i < argc; i++) {
		if (strchr(argv[i], '\n') || strchr(argv[i], ' ') || strchr(argv[i], '\t') ||
		    len + strlen(argv[i]) + 2 >= sizeof(line))
			return fail(o, 2, EINVAL, argv[0], "usage: argument too long or with white space");
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %s", argv[i]);
	}
	line[len++] = '\n';
	fd = connect_unix(o->run_dir, PV_CTL_SOCK_NAME);
	if (fd < 0)
		return fail(o, 1, -fd, NULL, "%s/%s: %s (is pvnetd running?)", o->run_dir,
			    PV_CTL_SOCK_NAME, strerror(-fd));
	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
		rc = errno;
		close(fd);
		return fail(o, 1, rc, NULL, "send: %s", strerror(rc));
	}
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		pv_buf_put(&ans, buf, (size_t)n);
	close(fd);
	if (!ans.p || strncmp(ans.p, "ok\n", 3)) {
		/* "error <errno> <message>\n" (pvnet/ctl.h) */
		char *msg = NULL, *nl;
		long code = ans.p && !strncmp(ans.p, "error ", 6) ? strtol(ans.p + 6, &msg, 10) : 0;

		if (msg && *msg == ' ')
			msg++;
		else
			msg = NULL;
		if (msg && (nl = strchr(msg, '\n')))
			*nl = '\0';
		if (!msg)
			rc = fail(o, 1, EPROTO, argv[0], "%s", ans.p ? "bad answer from pvnetd" : "no answer from pvnetd");
		else
			rc = fail(o, strncmp(msg, "usage:", 6) ? 1 : 2, (int)code, argv[0], "%s", msg);
	} else {
		fputs(ans.p + 3, stdout);
		rc = 0;
	}
	pv_buf_free(&ans);
	return rc;
}

/* Walk the store as xenstore-ls does, one "path = value" line per node, or JSON. */
static void dump_node(struct xsc *x, const char *path, int depth, const struct opts *o, int *first)
{
	char val[XENSTORE_PAYLOAD_MAX + 1], kids[XENSTORE_PAYLOAD_MAX + 1];
	int n = xsc_read(x, 0, path, val, sizeof(val)), k;

	if (n < 0)
		val[0] = '\0';
	if (o->json) {
		struct pv_buf b = { 0 };

		pv_buf_printf(&b, "%s\n {\"path\": ", *first ? "" : ",");
		pv_json_str(&b, path);
		pv_buf_printf(&b, ", \"value\": ");
		pv_json_str(&b, val);
		pv_buf_printf(&b, "}");
		fputs(b.p, stdout);
		pv_buf_free(&b);
		*first = 0;
	} else {
		const char *base = strrchr(path, '/');

		printf("%*s%s = \"%s\"\n", depth, "", depth ? base + 1 : path, val);
	}
	k = xsc_directory(x, 0, path, kids, sizeof(kids));
	for (int i = 0, off = 0; i < k && depth < 32; i++) {
		char child[XENSTORE_ABS_PATH_MAX + 1];

		snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") ? path : "", kids + off);
		off += (int)strlen(kids + off) + 1;
		dump_node(x, child, depth + 1, o, first);
	}
}

static int cmd_store_dump(const struct opts *o, int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : "/";
	int fd = connect_unix(o->run_dir, PV_XS_SOCK_NAME), first = 1;
	struct xsc *x;

	char val[XENSTORE_PAYLOAD_MAX + 1];
	int n;

	if (root[0] != '/')
		return fail(o, 2, EINVAL, argv[0], "usage: store-dump [PATH]: PATH must be absolute, not '%s'", root);
	if (fd < 0)
		return fail(o, 1, -fd, argv[0], "%s/%s: %s (is pvnetd running?)", o->run_dir,
			    PV_XS_SOCK_NAME, strerror(-fd));
	x = xsc_open_fd(fd);
	if (!x) {	/* it closed @fd */
		return fail(o, 1, ENOMEM, argv[0], "cannot talk xenstore");
	}
	n = xsc_read(x, 0, root, val, sizeof(val));
	if (n < 0) {
		xsc_close(x);
		if (n == -ENOENT)
			return fail(o, 1, ENOENT, argv[0], "%s: no such node", root);
		return fail(o, 1, -n, argv[0], "%s: %s", root, strerror(-n));
	}
	if (o->json)
		fputs("[", stdout);
	dump_node(x, root, 0, o, &first);
	if (o->json)
		fputs("\n]\n", stdout);
	xsc_close(x);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .run_dir = getenv("PVNET_RUN_DIR") };
	const struct pv_ctl_cmd *cmd;
	int c;

	if (!o.run_dir)
		o.run_dir = "/run/pvnet";
	while ((c = getopt_long(argc, argv, "+r:jh", lopts, NULL)) != -1) {
		switch (c) {
		case 'r': o.run_dir = optarg; break;
		case 'j': o.json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = pv_ctl_cmd_find(argv[optind]);
	if (cmd) {
		int nargs = argc - optind - 1;

		if (nargs < cmd->min_args || nargs > cmd->max_args)
			return fail(&o, 2, EINVAL, cmd->name, "usage: pvnetctl %s %s", cmd->name, cmd->args);
		if (cmd->where == PV_CTL_REMOTE)
			return cmd_remote(&o, argc - optind, argv + optind);
		return local_fns[cmd - pv_ctl_cmds](&o, argc - optind, argv + optind);
	}
	if (o.json)
		return fail(&o, 2, EINVAL, NULL, "usage: unknown command '%s'", argv[optind]);
	fprintf(stderr, "pvnetctl: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return 2;
}
