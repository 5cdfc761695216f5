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
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <getopt.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

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
static int cmd_capture(const struct opts *o, int argc, char **argv);
static int cmd_migrate(const struct opts *o, int argc, char **argv);

/* Handlers of pv_ctl_cmds' PV_CTL_LOCAL and _STREAM commands; the rest go to pvnetd. */
static const cmd_fn local_fns[PV_CTL_NR_CMDS] = {
	[PV_CTL_STORE_DUMP] = cmd_store_dump,
	[PV_CTL_CAPTURE] = cmd_capture,
	[PV_CTL_MIGRATE] = cmd_migrate,
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
	fprintf(f, "\noptions of commands:\n"
		   "  --to DEST_RUN_DIR  migrate: the destination host's run directory (its pvnetd)\n");
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

/* ---- capture --------------------------------------------------------- */

static volatile sig_atomic_t cap_stop;

static void cap_sig(int sig)
{
	(void)sig;
	cap_stop = 1;
}

/*
 * Exactly @len bytes from @fd: 1, 0 at EOF (or once a signal asked us to
 * stop), -errno.  poll() with a timeout, so that a signal landing just
 * before a blocking recv() cannot leave us waiting for a frame that never
 * comes.
 */
static int read_full(int fd, void *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if (cap_stop)
			return 0;
		if (poll(&pfd, 1, 200) == 0)
			continue;
		n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0 && errno == EINTR && !cap_stop)
			continue;
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		if (n == 0)
			return 0;
		got += (size_t)n;
	}
	return 1;
}

/* One frame as a line: time, direction, length, Ethernet, and IPv4/ARP if it is. */
static void cap_print(const struct pv_ctl_cap_rec *r, const uint8_t *p)
{
	time_t sec = (time_t)(r->ts_ns / 1000000000u);
	char tbuf[16], a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	struct tm tm;
	uint16_t et;

	localtime_r(&sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
	printf("%s.%06u %s %5u", tbuf, (unsigned int)(r->ts_ns % 1000000000u / 1000),
	       r->dir == PV_CTL_CAP_TX ? "tx" : "rx", r->len);
	if (r->caplen < 14) {
		printf(" (runt)\n");
		return;
	}
	et = (uint16_t)(p[12] << 8 | p[13]);
	printf(" %02x:%02x:%02x:%02x:%02x:%02x > %02x:%02x:%02x:%02x:%02x:%02x", p[6], p[7], p[8],
	       p[9], p[10], p[11], p[0], p[1], p[2], p[3], p[4], p[5]);
	if (et == 0x0800 && r->caplen >= 34) {
		unsigned int hl = (p[14] & 15u) * 4, proto = p[23];

		inet_ntop(AF_INET, p + 26, a, sizeof(a));
		inet_ntop(AF_INET, p + 30, b, sizeof(b));
		printf(" IPv4 %s > %s", a, b);
		if ((proto == 6 || proto == 17) && r->caplen >= 14 + hl + 4)
			printf(" %s %u > %u", proto == 6 ? "TCP" : "UDP",
			       (unsigned int)(p[14 + hl] << 8 | p[15 + hl]),
			       (unsigned int)(p[16 + hl] << 8 | p[17 + hl]));
		else if (proto == 1 && r->caplen >= 14 + hl + 1)
			printf(" ICMP type %u", p[14 + hl]);
		else
			printf(" proto %u", proto);
	} else if (et == 0x0806 && r->caplen >= 42) {
		inet_ntop(AF_INET, p + 28, a, sizeof(a));
		inet_ntop(AF_INET, p + 38, b, sizeof(b));
		printf(" ARP %s %s > %s", p[21] == 1 ? "request" : "reply", a, b);
	} else if (et == 0x86dd && r->caplen >= 54) {
		inet_ntop(AF_INET6, p + 22, a, sizeof(a));
		inet_ntop(AF_INET6, p + 38, b, sizeof(b));
		printf(" IPv6 %s > %s next %u", a, b, p[20]);
	} else {
		printf(" ethertype 0x%04x", et);
	}
	putchar('\n');
}

struct cap_args {
	unsigned long count;	/* 0: until interrupted */
	const char *file;	/* -w: pcap; NULL: lines */
	int nwords;		/* 2: DOMID DEVID; 1: PORT */
	char filter[1024];	/* a pcap-filter(7) expression, or "" */
};

static int all_digits(const char *p)
{
	if (!*p)
		return 0;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

/*
 * DOMID DEVID (digits first) or PORT (a switch port's name: vifD.N, or
 * KIND:NAME), then -c COUNT and -w FILE, then the filter's words (after
 * "--" if one starts with '-').
 */
static int cap_parse(const struct opts *o, int argc, char **argv, struct cap_args *a)
{
	const char *usage = pv_ctl_cmds[PV_CTL_CAPTURE].args;
	int i;

	if (all_digits(argv[1]))
		a->nwords = 2;
	else if (strchr(argv[1], ':') || !strncmp(argv[1], "vif", 3))
		a->nwords = 1;
	else
		return fail(o, 2, EINVAL, argv[0], "usage: bad DOMID or PORT '%s' (pvnetctl capture %s)",
			    argv[1], usage);
	if (a->nwords == 2 && argc < 3)
		return fail(o, 2, EINVAL, argv[0], "usage: pvnetctl capture %s", usage);
	for (i = 1 + a->nwords; i < argc; i += 2) {
		char *end;

		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (strcmp(argv[i], "-c") && strcmp(argv[i], "-w")) {
			if (argv[i][0] == '-')
				return fail(o, 2, EINVAL, argv[0], "usage: pvnetctl capture %s (not '%s')",
					    usage, argv[i]);
			break;		/* the filter's first word */
		}
		if (i + 1 >= argc)
			return fail(o, 2, EINVAL, argv[0], "usage: %s wants a value (pvnetctl capture %s)",
				    argv[i], usage);
		if (argv[i][1] == 'w') {
			a->file = argv[i + 1];
			continue;
		}
		errno = 0;
		a->count = strtoul(argv[i + 1], &end, 10);
		if (errno || !*argv[i + 1] || *end || argv[i + 1][0] == '-' || !a->count)
			return fail(o, 2, EINVAL, argv[0], "usage: bad COUNT '%s' (want 1 or more)", argv[i + 1]);
	}
	for (size_t n = 0; i < argc; i++) {
		int w = snprintf(a->filter + n, sizeof(a->filter) - n, "%s%s", n ? " " : "", argv[i]);

		if (w < 0 || (size_t)w >= sizeof(a->filter) - n)
			return fail(o, 2, EINVAL, argv[0], "usage: FILTER too long (%zu bytes at most)",
				    sizeof(a->filter) - 1);
		n += (size_t)w;
	}
	return 0;
}

/* The answer's first line: "ok", or the error (rc 1 or 2, said). */
static int cap_answer(const struct opts *o, int fd, const char *cmd)
{
	char line[PV_CTL_LINE_MAX];
	size_t n = 0;
	long code;
	char *msg;

	while (n < sizeof(line) - 1 && read_full(fd, line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	if (!strcmp(line, "ok"))
		return 0;
	if (strncmp(line, "error ", 6))
		return fail(o, 1, EPROTO, cmd, "%s", n ? "bad answer from pvnetd" : "no answer from pvnetd");
	code = strtol(line + 6, &msg, 10);
	msg += *msg == ' ';
	return fail(o, strncmp(msg, "usage:", 6) ? 1 : 2, (int)code, cmd, "%s", msg);
}

static int cap_loop(int fd, const struct cap_args *a, const struct bpf_program *bpf,
		    pcap_dumper_t *d, uint64_t *frames, uint64_t *unmatched, uint32_t *drops)
{
	static uint8_t data[PV_CTL_CAP_SNAPLEN];
	struct pv_ctl_cap_rec r;
	int e;

	while (!cap_stop && (!a->count || *frames < a->count)) {
		if ((e = read_full(fd, &r, sizeof(r))) <= 0)
			return e;
		if (r.caplen > sizeof(data) || (r.type != PV_CTL_CAP_FRAME && r.type != PV_CTL_CAP_DROPS))
			return -EPROTO;
		if (r.caplen && (e = read_full(fd, data, r.caplen)) <= 0)
			return e;
		*drops = r.drops;
		if (r.type != PV_CTL_CAP_FRAME)
			continue;
		struct pcap_pkthdr h = { .caplen = r.caplen, .len = r.len };

		h.ts.tv_sec = (time_t)(r.ts_ns / 1000000000u);
		h.ts.tv_usec = (suseconds_t)(r.ts_ns % 1000000000u / 1000);
		if (bpf && !pcap_offline_filter(bpf, &h, data)) {
			++*unmatched;
			continue;
		}
		++*frames;
		if (d) {
			pcap_dump((u_char *)d, &h, data);
			pcap_dump_flush(d);	/* a reader on a pipe sees each frame */
		} else {
			cap_print(&r, data);
			fflush(stdout);
		}
	}
	return 0;
}

/*
 * capture DOMID DEVID|PORT [-c COUNT] [-w FILE] [FILTER]: pvnetd streams
 * the port's frames (pvnet/ctl.h); here they go through the filter
 * (libpcap's compiler, pcap_offline_filter) and become lines or a pcap
 * file (libpcap's pcap_dump; "-" is standard output).  Ends after COUNT
 * matching frames, on SIGINT/SIGTERM, or when the port goes; then the
 * summary on stderr.
 */
static int cmd_capture(const struct opts *o, int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = cap_sig };	/* no SA_RESTART: recv returns */
	struct cap_args a = { 0 };
	struct bpf_program bpf = { 0 };
	pcap_dumper_t *d = NULL;
	pcap_t *pc = NULL;
	uint64_t frames = 0, unmatched = 0;
	uint32_t drops = 0;
	char line[PV_CTL_LINE_MAX];
	int fd = -1, rc, e;

	if ((rc = cap_parse(o, argc, argv, &a)))
		return rc;
	if (a.nwords == 2)
		snprintf(line, sizeof(line), "T %s %s %s\n", argv[0], argv[1], argv[2]);
	else
		snprintf(line, sizeof(line), "T %s %s\n", argv[0], argv[1]);
	if (strchr(argv[1], ' ') || (a.nwords == 2 && strchr(argv[2], ' ')))
		return fail(o, 2, EINVAL, argv[0], "usage: argument with white space");
	pc = pcap_open_dead(DLT_EN10MB, PV_CTL_CAP_SNAPLEN);
	if (!pc)
		return fail(o, 1, ENOMEM, argv[0], "pcap_open_dead failed");
	if (a.filter[0] && pcap_compile(pc, &bpf, a.filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		rc = fail(o, 2, EINVAL, argv[0], "usage: bad FILTER '%s': %s", a.filter, pcap_geterr(pc));
		goto out;
	}
	if (a.file && !(d = pcap_dump_open(pc, a.file))) {
		rc = fail(o, 1, EIO, argv[0], "%s: %s", a.file, pcap_geterr(pc));
		goto out;
	}
	fd = connect_unix(o->run_dir, PV_CTL_SOCK_NAME);
	if (fd < 0) {
		rc = fail(o, 1, -fd, NULL, "%s/%s: %s (is pvnetd running?)", o->run_dir,
			  PV_CTL_SOCK_NAME, strerror(-fd));
		goto out;
	}
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) != (ssize_t)strlen(line)) {
		rc = fail(o, 1, errno, argv[0], "send: %s", strerror(errno));
		goto out;
	}
	if ((rc = cap_answer(o, fd, argv[0])))
		goto out;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	e = cap_loop(fd, &a, a.filter[0] ? &bpf : NULL, d, &frames, &unmatched, &drops);
	if (a.filter[0])
		fprintf(stderr, "pvnetctl: capture: %llu frames, %u dropped by the capture (reader too slow), "
			"%llu not matching the filter\n", (unsigned long long)frames, drops,
			(unsigned long long)unmatched);
	else
		fprintf(stderr, "pvnetctl: capture: %llu frames, %u dropped by the capture (reader too slow)\n",
			(unsigned long long)frames, drops);
	if (e < 0)
		rc = fail(o, 1, -e, argv[0], "%s", e == -EPROTO ? "bad record from pvnetd" : strerror(-e));
out:
	if (fd >= 0)
		close(fd);
	if (d)
		pcap_dump_close(d);
	if (a.filter[0])
		pcap_freecode(&bpf);
	pcap_close(pc);
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

/* ---- migrate: the toolstack's side, driving "mig" on both hosts ---- */

#define MIG_ACCEL_WAIT_MS 3000	/* the source's accelerator going */
#define MIG_ACK_WAIT_MS   5000	/* the guest clearing control/shutdown */
#define MIG_ARRIVE_MS     15000	/* the vif Connected on the destination (netfront gives up at 10 s) */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * One request to the pvnetd of @dir, as cmd_remote sends it: 0 and the
 * output in @out, or -errno with the message in @out (-EHOSTUNREACH: no
 * pvnetd answers there).
 */
static int ctl_call(const char *dir, struct pv_buf *out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int ctl_call(const char *dir, struct pv_buf *out, const char *fmt, ...)
{
	char line[PV_CTL_LINE_MAX], buf[4096];
	struct pv_buf ans = { 0 };
	va_list ap;
	int fd, n, e = 0;
	ssize_t got;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return -ENAMETOOLONG;
	line[n++] = '\n';
	out->len = 0;
	if (out->p)
		out->p[0] = '\0';
	fd = connect_unix(dir, PV_CTL_SOCK_NAME);
	if (fd < 0) {
		pv_buf_printf(out, "%s/%s: %s (is pvnetd running there?)", dir, PV_CTL_SOCK_NAME,
			      strerror(-fd));
		return -EHOSTUNREACH;
	}
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		close(fd);
		pv_buf_printf(out, "%s: send: %s", dir, strerror(errno));
		return -EHOSTUNREACH;
	}
	while ((got = recv(fd, buf, sizeof(buf), 0)) > 0)
		pv_buf_put(&ans, buf, (size_t)got);
	close(fd);
	if (ans.p && !strncmp(ans.p, "ok\n", 3)) {
		pv_buf_printf(out, "%s", ans.p + 3);
	} else if (ans.p && !strncmp(ans.p, "error ", 6)) {
		char *msg;
		long code = strtol(ans.p + 6, &msg, 10);
		char *nl = strchr(msg, '\n');

		if (nl)
			*nl = '\0';
		pv_buf_printf(out, "%s", *msg == ' ' ? msg + 1 : msg);
		e = code > 0 ? -(int)code : -EPROTO;
	} else {
		pv_buf_printf(out, "%s: no answer from pvnetd", dir);
		e = -EHOSTUNREACH;
	}
	pv_buf_free(&ans);
	return e;
}

static struct xsc *store_open(const char *dir)
{
	int fd = connect_unix(dir, PV_XS_SOCK_NAME);

	return fd < 0 ? NULL : xsc_open_fd(fd);
}

/* Copy a record's subtree between two stores (the "expires" stamps stay behind). */
static int store_copy(struct xsc *from, struct xsc *to, const char *fp, const char *tp, int depth)
{
	char kids[XENSTORE_PAYLOAD_MAX + 1], val[XENSTORE_PAYLOAD_MAX + 1], f[512], t[512];
	int n = xsc_directory(from, 0, fp, kids, sizeof(kids));

	if (n < 0)
		return n;
	for (int i = 0, off = 0; i < n; i++, off += (int)strlen(kids + off) + 1) {
		int len, e;

		if (!depth && !strcmp(kids + off, "expires"))
			continue;
		snprintf(f, sizeof(f), "%s/%s", fp, kids + off);
		snprintf(t, sizeof(t), "%s/%s", tp, kids + off);
		if ((len = xsc_read(from, 0, f, val, sizeof(val))) < 0)
			return len;
		if ((e = xsc_write(to, 0, t, val, (size_t)len)) < 0)
			return e;
		if (depth < 8 && (e = store_copy(from, to, f, t, depth + 1)) < 0)
			return e;
	}
	return 0;
}

/*
 * The vif with @mac in @dir's store whose backend is Connected: its domid,
 * or 0 if none is.
 */
static unsigned int store_connected_vif(struct xsc *x, const char *mac)
{
	char doms[XENSTORE_PAYLOAD_MAX + 1], devs[XENSTORE_PAYLOAD_MAX + 1], p[256], v[32];
	int nd = x ? xsc_directory(x, 0, "/local/domain/0/backend/vif", doms, sizeof(doms)) : -1;

	for (int i = 0, o1 = 0; i < nd; i++, o1 += (int)strlen(doms + o1) + 1) {
		snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%s", doms + o1);
		int nv = xsc_directory(x, 0, p, devs, sizeof(devs));

		for (int k = 0, o2 = 0; k < nv; k++, o2 += (int)strlen(devs + o2) + 1) {
			snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%s/%s/mac", doms + o1, devs + o2);
			if (xsc_read(x, 0, p, v, sizeof(v)) < 0 || strcasecmp(v, mac))
				continue;
			snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%s/%s/state", doms + o1, devs + o2);
			if (xsc_read(x, 0, p, v, sizeof(v)) >= 0 && atoi(v) == XenbusStateConnected)
				return (unsigned int)strtoul(doms + o1, NULL, 10);
		}
	}
	return 0;
}

struct mig {
	const struct opts *o;
	unsigned long dom, dev;
	const char *src, *dst;
	char hex[13], mac[18], rec[256];
	struct xsc *sx, *dx;
	struct pv_buf b;
	uint64_t t0, t_ack, t_arrive;
};

static void mig_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int mig_fail(struct mig *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int mig_fail(struct mig *m, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fail(m->o, 1, EIO, "migrate", "%s", msg);
}

/* Steps 1-2: the source's snapshot, offered to the destination; nothing on the source changes. */
static int mig_offer(struct mig *m)
{
	char off[256];
	int e;

	e = ctl_call(m->src, &m->b, "T mig export %lu %lu", m->dom, m->dev);
	if (e || sscanf(m->b.p ? m->b.p : "", "%12s %255s", m->hex, m->rec) != 2)
		return mig_fail(m, "source: %s", m->b.p ? m->b.p : "no answer");
	for (int i = 0; i < 6; i++)
		snprintf(m->mac + 3 * i, 4, "%.2s%s", m->hex + 2 * i, i < 5 ? ":" : "");
	m->sx = store_open(m->src);
	m->dx = store_open(m->dst);
	if (!m->dx) {
		ctl_call(m->src, &m->b, "T mig cancel %s", m->hex);
		return mig_fail(m, "destination %s: no xenstore there (is pvnetd running?); "
			     "the guest stays on the source", m->dst);
	}
	snprintf(off, sizeof(off), "/local/domain/0/migrate/offer/%s", m->hex);
	xsc_rm(m->dx, 0, off);
	if (!m->sx || store_copy(m->sx, m->dx, m->rec, off, 0) < 0) {
		ctl_call(m->src, &m->b, "T mig cancel %s", m->hex);
		return mig_fail(m, "cannot copy the vif's record to the destination");
	}
	e = ctl_call(m->dst, &m->b, "T mig prepare %s", m->hex);
	if (e) {
		char why[512];

		snprintf(why, sizeof(why), "%s", m->b.p ? m->b.p : "");
		ctl_call(m->src, &m->b, "T mig cancel %s", m->hex);
		xsc_rm(m->dx, 0, off);
		return mig_fail(m, "destination refused: %s; the guest stays on the source, untouched", why);
	}
	return 0;
}

/* Step 3: the return record and the accelerator's removal; wait for it to go. */
static int mig_begin(struct mig *m)
{
	char p[256], v[64];
	uint64_t end;

	if (ctl_call(m->src, &m->b, "T mig begin %lu %lu %s", m->dom, m->dev, m->dst)) {
		char why[512];

		snprintf(why, sizeof(why), "%s", m->b.p ? m->b.p : "");
		ctl_call(m->dst, &m->b, "T mig cancel %s", m->hex);
		return mig_fail(m, "source: %s", why);
	}
	snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%lu/%lu/accel-frontend", m->dom, m->dev);
	for (end = now_ms() + MIG_ACCEL_WAIT_MS; now_ms() < end; mig_sleep_ms(20))
		if (xsc_read(m->sx, 0, p, v, sizeof(v)) == -ENOENT)
			return 0;
	fprintf(stderr, "pvnetctl: migrate: the accelerator is slow to go; the guest removes it "
		"when it suspends\n");
	return 0;
}

/* Steps 4-5: the suspend request and its acknowledgement (or the abort). */
static int mig_suspend(struct mig *m)
{
	char p[64], v[32];
	uint64_t end;

	if (ctl_call(m->src, &m->b, "T mig suspend %lu %lu", m->dom, m->dev)) {
		char why[512];

		snprintf(why, sizeof(why), "%s", m->b.p ? m->b.p : "");
		ctl_call(m->src, &m->b, "T mig abort %lu %lu", m->dom, m->dev);
		ctl_call(m->dst, &m->b, "T mig cancel %s", m->hex);
		return mig_fail(m, "source: %s", why);
	}
	snprintf(p, sizeof(p), "/local/domain/%lu/control/shutdown", m->dom);
	for (end = now_ms() + MIG_ACK_WAIT_MS; now_ms() < end; mig_sleep_ms(5)) {
		int n = xsc_read(m->sx, 0, p, v, sizeof(v));

		if (n == 0 || n == -ENOENT || n == -EPIPE || n == -ECONNRESET) {
			m->t_ack = now_ms();	/* cleared, or the domain (or the source) is gone */
			return 0;
		}
	}
	/* No answer: withdraw, unless the guest took it meanwhile. */
	if (ctl_call(m->src, &m->b, "T mig abort %lu %lu", m->dom, m->dev) == -EINPROGRESS) {
		m->t_ack = now_ms();
		return 0;
	}
	ctl_call(m->dst, &m->b, "T mig cancel %s", m->hex);
	return mig_fail(m, "the guest did not acknowledge the suspend request within %d ms; "
		     "request withdrawn, the guest stays on the source", MIG_ACK_WAIT_MS);
}

/* Step 6: the guest connected on the destination, or back on the source. */
static int mig_arrive(struct mig *m)
{
	unsigned int d = 0, back = 0;
	uint64_t end;

	for (end = now_ms() + MIG_ARRIVE_MS; now_ms() < end; mig_sleep_ms(10)) {
		if ((d = store_connected_vif(m->dx, m->mac)))
			break;
		back = store_connected_vif(m->sx, m->mac);
		if (back && back != m->dom)
			break;
		back = 0;
	}
	m->t_arrive = now_ms();
	if (d) {
		ctl_call(m->src, &m->b, "T mig cancel %s", m->hex);	/* the return record */
		printf("domain %lu (mac %s) migrated to %s as domain %u: acknowledged after %llu ms, "
		       "connected there after %llu ms\n", m->dom, m->mac, m->dst, d,
		       (unsigned long long)(m->t_ack - m->t0), (unsigned long long)(m->t_arrive - m->t0));
		return 0;
	}
	ctl_call(m->dst, &m->b, "T mig cancel %s", m->hex);
	if (back)
		return mig_fail(m, "the guest could not connect on the destination and came back: "
			     "it runs on the source as domain %u", back);
	return mig_fail(m, "the guest is not connected on the destination after %d ms (it goes "
		     "back to the source when it gives up; see pvnet-front's log)", MIG_ARRIVE_MS);
}

/* migrate DOMID [devid=N] --to DEST_RUN_DIR */
static int cmd_migrate(const struct opts *o, int argc, char **argv)
{
	struct mig m = { .o = o, .src = o->run_dir };
	char *end;
	int rc;

	errno = 0;
	m.dom = strtoul(argv[1], &end, 10);
	if (errno || *end || !m.dom || m.dom >= 1024)
		return fail(o, 2, EINVAL, "migrate", "usage: bad DOMID '%s'", argv[1]);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--to") && i + 1 < argc) {
			m.dst = argv[++i];
		} else if (!strncmp(argv[i], "devid=", 6)) {
			m.dev = strtoul(argv[i] + 6, &end, 10);
			if (*end || m.dev > 255 || !argv[i][6])
				return fail(o, 2, EINVAL, "migrate", "usage: bad devid '%s'", argv[i] + 6);
		} else {
			return fail(o, 2, EINVAL, "migrate", "usage: pvnetctl migrate %s",
				    pv_ctl_cmds[PV_CTL_MIGRATE].args);
		}
	}
	if (!m.dst || m.dst[0] != '/')
		return fail(o, 2, EINVAL, "migrate", "usage: --to wants an absolute run directory");
	m.t0 = now_ms();
	rc = mig_offer(&m);
	if (!rc)
		rc = mig_begin(&m);
	if (!rc)
		rc = mig_suspend(&m);
	if (!rc)
		rc = mig_arrive(&m);
	xsc_close(m.sx);
	xsc_close(m.dx);
	pv_buf_free(&m.b);
	return rc;
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
