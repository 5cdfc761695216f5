/* SPDX-License-Identifier: MIT */
/*
 * test_xs.c - the xenstore server, in-process, over its real wire protocol.
 *
 * One loop and one server; guests (domids 1, 2, ...) connect over
 * socketpairs handed to xs_server_add_conn, dom0 through the listening
 * socket in a mkdtemp directory.  A tiny synchronous client sends a request
 * and pumps the loop until the reply arrives, keeping watch events aside.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pvnet/xen.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "hv/xs.h"
#include "back/toolstack.h"
#include "../lib/test.h"

#define HDR sizeof(struct xsd_sockmsg)

struct msg {
	struct xsd_sockmsg h;
	char data[XENSTORE_PAYLOAD_MAX + 1];
};

struct cli {
	int fd;
	uint32_t req;
	char in[4 * (HDR + XENSTORE_PAYLOAD_MAX)];
	size_t in_len;
	int nev;
	struct { char path[512]; char token[64]; } ev[256];
};

static struct pv_loop *L;
static struct xs_server *XS;
static char sockpath[256];
static char R[3 * XENSTORE_PAYLOAD_MAX];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the DIR's own */
}

static void pump(int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (now_ms() < end)
		pv_loop_once(L, 5);
}

static struct cli *cli_guest(unsigned int domid)
{
	struct cli *c = calloc(1, sizeof(*c));
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	c->fd = sv[1];
	if (xs_server_add_conn(XS, sv[0], domid) < 0) {
		close(c->fd);
		free(c);
		return NULL;
	}
	return c;
}

static struct cli *cli_dom0(void)
{
	struct cli *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(sa.sun_path, sockpath);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	return c;
}

static void cli_close(struct cli *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
	pump(20);
}

/* Write all of @len bytes, pumping the loop while the socket is full. */
static int cli_write(struct cli *c, const void *p, size_t len)
{
	const char *b = p;
	uint64_t end = now_ms() + 2000;

	while (len) {
		ssize_t n = send(c->fd, b, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno != EAGAIN || now_ms() > end)
				return -1;
			pv_loop_once(L, 5);
			continue;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Next message from the server: 1, 0 on timeout, -1 when closed. */
static int cli_recv(struct cli *c, struct msg *m, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		if (c->in_len >= HDR) {
			memcpy(&m->h, c->in, HDR);
			if (m->h.len <= XENSTORE_PAYLOAD_MAX && c->in_len >= HDR + m->h.len) {
				memcpy(m->data, c->in + HDR, m->h.len);
				m->data[m->h.len] = '\0';
				c->in_len -= HDR + m->h.len;
				memmove(c->in, c->in + HDR + m->h.len, c->in_len);
				return 1;
			}
		}
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);

		if (n > 0) {
			c->in_len += (size_t)n;
			continue;
		}
		if (n == 0 || errno != EAGAIN)
			return -1;
		if (now_ms() > end)
			return 0;
		pv_loop_once(L, 5);
	}
}

static void cli_keep_event(struct cli *c, const struct msg *m)
{
	size_t pl = strlen(m->data);

	if (c->nev >= 256)
		return;
	snprintf(c->ev[c->nev].path, sizeof(c->ev[0].path), "%.511s", m->data);
	snprintf(c->ev[c->nev].token, sizeof(c->ev[0].token), "%.63s",
		 pl + 1 < m->h.len ? m->data + pl + 1 : "");
	c->nev++;
}

/* Send a raw request; wait for its reply (watch events are kept aside). */
static int cli_raw(struct cli *c, uint32_t type, uint32_t tx, const void *p, size_t len,
		   struct msg *m)
{
	struct xsd_sockmsg h = { type, ++c->req, tx, (uint32_t)len };

	if (cli_write(c, &h, HDR) || (len && cli_write(c, p, len)))
		return -1;
	for (;;) {
		int r = cli_recv(c, m, 2000);

		if (r <= 0)
			return r;
		if (m->h.type == XS_WATCH_EVENT) {
			cli_keep_event(c, m);
			continue;
		}
		if (m->h.req_id == h.req_id)
			return 1;
	}
}

/* The reply as text: NULs become ',', one trailing NUL dropped, errors "!ENAME". */
static const char *res(const struct msg *m)
{
	size_t len = m->h.len, off = 0;

	if (m->h.type == XS_ERROR)
		R[off++] = '!';
	if (len && !m->data[len - 1])
		len--;
	for (size_t i = 0; i < len; i++)
		R[off++] = m->data[i] ? m->data[i] : ',';
	R[off] = '\0';
	return R;
}

/* Request with payload "a\0" + @blen bytes of b. */
static const char *rq(struct cli *c, uint32_t type, uint32_t tx, const char *a,
		      const void *b, size_t blen)
{
	static char buf[2 * XENSTORE_PAYLOAD_MAX];
	static struct msg m;
	size_t al = strlen(a) + 1;
	int r;

	memcpy(buf, a, al);
	if (blen)
		memcpy(buf + al, b, blen);
	r = cli_raw(c, type, tx, buf, al + blen, &m);
	if (r < 0)
		return "<closed>";
	if (r == 0)
		return "<timeout>";
	return res(&m);
}

#define WR(c, tx, p, v)   rq(c, XS_WRITE, tx, p, v, strlen(v))
#define RD(c, tx, p)      rq(c, XS_READ, tx, p, NULL, 0)
#define DIRL(c, tx, p)    rq(c, XS_DIRECTORY, tx, p, NULL, 0)
#define WATCH(c, p, t)    rq(c, XS_WATCH, 0, p, t, strlen(t) + 1)
#define UNWATCH(c, p, t)  rq(c, XS_UNWATCH, 0, p, t, strlen(t) + 1)

#define EXPECT(name, got, want) do {					\
	const char *_g = (got), *_w = (want);				\
	T_CHECK(!strcmp(_g, _w), name, "got '%s', want '%s'", _g, _w);	\
} while (0)

/* Next watch event of @c as "path|token", or "<none>" within @ms. */
static const char *next_event(struct cli *c, int ms)
{
	static char e[600];
	struct msg m;

	while (!c->nev) {
		int r = cli_recv(c, &m, ms);

		if (r <= 0)
			return r ? "<closed>" : "<none>";
		if (m.h.type == XS_WATCH_EVENT)
			cli_keep_event(c, &m);
	}
	snprintf(e, sizeof(e), "%s|%s", c->ev[0].path, c->ev[0].token);
	memmove(&c->ev[0], &c->ev[1], (size_t)--c->nev * sizeof(c->ev[0]));
	return e;
}

static int conn_closed(struct cli *c, int ms)
{
	struct msg m;
	int r;

	while ((r = cli_recv(c, &m, ms)) > 0)
		;
	return r < 0;
}

static struct xs_stats stats(void)
{
	struct xs_stats st;

	xs_server_stats(XS, &st);
	return st;
}

static void test_basic_ops(struct cli *d0)
{
	struct msg m;

	EXPECT("write", WR(d0, 0, "/a/b/c", "hello"), "OK");
	EXPECT("read", RD(d0, 0, "/a/b/c"), "hello");
	EXPECT("read intermediate created empty", RD(d0, 0, "/a/b"), "");
	EXPECT("directory", DIRL(d0, 0, "/a"), "b");
	EXPECT("mkdir", rq(d0, XS_MKDIR, 0, "/a/d", NULL, 0), "OK");
	EXPECT("mkdir existing ok", rq(d0, XS_MKDIR, 0, "/a/d", NULL, 0), "OK");
	EXPECT("directory order", DIRL(d0, 0, "/a"), "b,d");
	EXPECT("directory empty", DIRL(d0, 0, "/a/d"), "");
	EXPECT("get_perms", rq(d0, XS_GET_PERMS, 0, "/a/b/c", NULL, 0), "n0");
	EXPECT("rm", rq(d0, XS_RM, 0, "/a/d", NULL, 0), "OK");
	EXPECT("read removed", RD(d0, 0, "/a/d"), "!ENOENT");
	EXPECT("rm missing, parent exists", rq(d0, XS_RM, 0, "/a/zz", NULL, 0), "OK");
	EXPECT("rm missing parent", rq(d0, XS_RM, 0, "/nope/x", NULL, 0), "!ENOENT");
	EXPECT("rm root", rq(d0, XS_RM, 0, "/", NULL, 0), "!EINVAL");
	EXPECT("rm subtree", rq(d0, XS_RM, 0, "/a/b", NULL, 0), "OK");
	EXPECT("rm subtree child gone", RD(d0, 0, "/a/b/c"), "!ENOENT");
	EXPECT("write empty value", WR(d0, 0, "/a/e", ""), "OK");
	EXPECT("write overwrite", WR(d0, 0, "/a/e", "v2"), "OK");
	EXPECT("read overwrite", RD(d0, 0, "/a/e"), "v2");
	EXPECT("write binary-ish value", rq(d0, XS_WRITE, 0, "/a/bin", "x\0y", 3), "OK");
	cli_raw(d0, XS_READ, 0, "/a/bin", 7, &m);
	T_CHECK(m.h.len == 3 && !memcmp(m.data, "x\0y", 3), "read value with NUL", "len %u", m.h.len);
	EXPECT("root dir", DIRL(d0, 0, "/"), "local,a");
	EXPECT("initial tree", DIRL(d0, 0, "/local/domain"), "0,1,2");
	EXPECT("relative path dom0", WR(d0, 0, "rel", "r"), "OK");
	EXPECT("relative path dom0 read", RD(d0, 0, "/local/domain/0/rel"), "r");
	EXPECT("get_domain_path", rq(d0, XS_GET_DOMAIN_PATH, 0, "5", NULL, 0), "/local/domain/5");
	EXPECT("get_domain_path bad", rq(d0, XS_GET_DOMAIN_PATH, 0, "5x", NULL, 0), "!EINVAL");
	EXPECT("is_domain_introduced 1", rq(d0, XS_IS_DOMAIN_INTRODUCED, 0, "1", NULL, 0), "T");
	EXPECT("is_domain_introduced 7", rq(d0, XS_IS_DOMAIN_INTRODUCED, 0, "7", NULL, 0), "F");
	EXPECT("control print", rq(d0, XS_CONTROL, 0, "print", "hi", 3), "OK");
	EXPECT("control other", rq(d0, XS_CONTROL, 0, "memreport", NULL, 0), "!ENOSYS");
	EXPECT("introduce unsupported", rq(d0, XS_INTRODUCE, 0, "1", NULL, 0), "!ENOSYS");
}

static void test_perms(struct cli *d0, struct cli *g1, struct cli *g2)
{
	EXPECT("guest relative write", WR(g1, 0, "data/foo", "bar"), "OK");
	EXPECT("guest relative write seen by dom0", RD(d0, 0, "/local/domain/1/data/foo"), "bar");
	EXPECT("guest relative read", RD(g1, 0, "data/foo"), "bar");
	EXPECT("guest owns what it creates", rq(d0, XS_GET_PERMS, 0, "/local/domain/1/data/foo", NULL, 0), "n1");
	EXPECT("intro perms: n0 r2, as libxl", rq(d0, XS_GET_PERMS, 0, "/local/domain/2", NULL, 0), "n0,r2");
	EXPECT("home device: n0 r2", rq(d0, XS_GET_PERMS, 0, "/local/domain/2/device", NULL, 0), "n0,r2");
	EXPECT("home data: the guest's", rq(d0, XS_GET_PERMS, 0, "/local/domain/2/data", NULL, 0), "n2");
	EXPECT("home control/shutdown: the guest's",
	       rq(d0, XS_GET_PERMS, 0, "/local/domain/2/control/shutdown", NULL, 0), "n2");
	EXPECT("guest cannot write its home directly", WR(g2, 0, "x", "1"), "!EACCES");
	EXPECT("guest cannot write device/", WR(g2, 0, "device/x", "1"), "!EACCES");
	EXPECT("guest cannot rm its home", rq(g2, XS_RM, 0, "/local/domain/2", NULL, 0), "!EACCES");
	EXPECT("guest may rm its own data/", rq(g2, XS_RM, 0, "data", NULL, 0), "OK");
	EXPECT("guest cannot recreate data/", WR(g2, 0, "data", ""), "!EACCES");
	EXPECT("dom0 restores data/", WR(d0, 0, "/local/domain/2/data", ""), "OK");
	rq(d0, XS_SET_PERMS, 0, "/local/domain/2/data", "n2", 3);
	EXPECT("guest reads its home", DIRL(g2, 0, "/local/domain/2"), "device,control,attr,feature,drivers,error,data");	/* data/ recreated: last */
	EXPECT("guest writes control/shutdown", WR(g2, 0, "control/shutdown", "poweroff"), "OK");
	EXPECT("dom0 writes guest 2", WR(d0, 0, "/local/domain/2/secret", "s"), "OK");
	EXPECT("g1 cannot read g2", RD(g1, 0, "/local/domain/2/secret"), "!EACCES");
	EXPECT("g1 cannot list g2", DIRL(g1, 0, "/local/domain/2"), "!EACCES");
	EXPECT("g1 probing g2 gets EACCES", RD(g1, 0, "/local/domain/2/nothing"), "!EACCES");
	EXPECT("g1 cannot write g2", WR(g1, 0, "/local/domain/2/x", "1"), "!EACCES");
	EXPECT("g1 cannot write outside", WR(g1, 0, "/x", "1"), "!EACCES");
	EXPECT("g1 cannot write /local/domain/0", WR(g1, 0, "/local/domain/0/x", "1"), "!EACCES");
	EXPECT("g1 cannot mkdir outside", rq(g1, XS_MKDIR, 0, "/local/x", NULL, 0), "!EACCES");
	EXPECT("g1 cannot rm g2", rq(g1, XS_RM, 0, "/local/domain/2/secret", NULL, 0), "!EACCES");
	EXPECT("g1 cannot rm its own home's parent", rq(g1, XS_RM, 0, "/local/domain", NULL, 0), "!EACCES");
	EXPECT("g1 cannot read root", DIRL(g1, 0, "/"), "!EACCES");
	EXPECT("g2 write shared", WR(g2, 0, "data/shared", "hello1"), "OK");
	EXPECT("g1 cannot read shared yet", RD(g1, 0, "/local/domain/2/data/shared"), "!EACCES");
	EXPECT("g2 grants read", rq(g2, XS_SET_PERMS, 0, "data/shared", "n2\0r1", 6), "OK");
	EXPECT("get_perms granted", rq(g2, XS_GET_PERMS, 0, "data/shared", NULL, 0), "n2,r1");
	EXPECT("g1 reads granted", RD(g1, 0, "/local/domain/2/data/shared"), "hello1");
	EXPECT("g1 still cannot write granted", WR(g1, 0, "/local/domain/2/data/shared", "x"), "!EACCES");
	EXPECT("g1 cannot set_perms of g2's", rq(g1, XS_SET_PERMS, 0, "/local/domain/2/data/shared", "b1", 3), "!EACCES");
	EXPECT("g2 cannot give away", rq(g2, XS_SET_PERMS, 0, "data/shared", "n1", 3), "!EPERM");
	EXPECT("bad perms string", rq(g2, XS_SET_PERMS, 0, "data/shared", "x2", 3), "!EINVAL");
	EXPECT("perms unterminated", rq(g2, XS_SET_PERMS, 0, "data/shared", "n2", 2), "!EINVAL");
	EXPECT("g2 grants write", rq(g2, XS_SET_PERMS, 0, "data/shared", "n2\0b1", 6), "OK");
	EXPECT("g1 writes granted", WR(g1, 0, "/local/domain/2/data/shared", "from1"), "OK");
	EXPECT("dom0 reads all", RD(d0, 0, "/local/domain/2/data/shared"), "from1");
	EXPECT("dom0 changes owner", rq(d0, XS_SET_PERMS, 0, "/local/domain/2/data/shared", "n0\0r2", 6), "OK");
	EXPECT("g2 lost write after chown", WR(g2, 0, "data/shared", "x"), "!EACCES");
	EXPECT("g2 keeps read after chown", RD(g2, 0, "data/shared"), "from1");
	EXPECT("guest control", rq(g1, XS_CONTROL, 0, "print", "x", 2), "!EACCES");
}

static void test_watches(struct cli *d0, struct cli *d0b, struct cli *g1, struct cli *g2)
{
	EXPECT("watch", WATCH(d0, "/w", "tok1"), "OK");
	EXPECT("initial event", next_event(d0, 500), "/w|tok1");
	EXPECT("watch dup", WATCH(d0, "/w", "tok1"), "!EEXIST");
	EXPECT("write below watch", WR(d0b, 0, "/w/x/y", "1"), "OK");
	EXPECT("event for child", next_event(d0, 500), "/w/x/y|tok1");
	WR(d0b, 0, "/other", "1");
	WR(d0b, 0, "/wx", "1");
	EXPECT("no event elsewhere (/other, /wx)", next_event(d0, 100), "<none>");
	EXPECT("watch on descendant", WATCH(d0, "/w/x/y", "deep"), "OK");
	EXPECT("initial event deep", next_event(d0, 500), "/w/x/y|deep");
	EXPECT("rm watched", rq(d0b, XS_RM, 0, "/w", NULL, 0), "OK");
	{
		char a[600], b[600];

		snprintf(a, sizeof(a), "%s", next_event(d0, 500));
		snprintf(b, sizeof(b), "%s", next_event(d0, 500));
		T_CHECK((!strcmp(a, "/w|tok1") && !strcmp(b, "/w/x/y|deep")) ||
			(!strcmp(b, "/w|tok1") && !strcmp(a, "/w/x/y|deep")),
			"rm fires removed path and watched descendants", "got '%s' and '%s'", a, b);
	}
	EXPECT("unwatch", UNWATCH(d0, "/w/x/y", "deep"), "OK");
	EXPECT("unwatch unknown", UNWATCH(d0, "/w/x/y", "deep"), "!ENOENT");
	EXPECT("mkdir fires", rq(d0b, XS_MKDIR, 0, "/w", NULL, 0), "OK");
	EXPECT("mkdir event", next_event(d0, 500), "/w|tok1");
	EXPECT("set_perms fires", rq(d0b, XS_SET_PERMS, 0, "/w", "n0", 3), "OK");
	EXPECT("set_perms event", next_event(d0, 500), "/w|tok1");

	/* Relative watch of a guest: relative event paths. */
	EXPECT("guest relative watch", WATCH(g1, "data", "gt"), "OK");
	EXPECT("guest initial relative event", next_event(g1, 500), "data|gt");
	EXPECT("guest write under watch", WR(g1, 0, "data/k", "v"), "OK");
	EXPECT("guest relative event", next_event(g1, 500), "data/k|gt");
	EXPECT("dom0 write into guest tree", WR(d0b, 0, "/local/domain/1/data/k2", "v"), "OK");
	EXPECT("guest sees dom0 change", next_event(g1, 500), "data/k2|gt");
	EXPECT("guest absolute watch", WATCH(g1, "/local/domain/1/data/abs", "ga"), "OK");
	EXPECT("guest absolute initial", next_event(g1, 500), "/local/domain/1/data/abs|ga");

	/* Guest 2 may watch guest 1's tree but hears nothing it cannot read. */
	EXPECT("g2 watches g1's tree", WATCH(g2, "/local/domain/1", "spy"), "OK");
	EXPECT("g2 initial event", next_event(g2, 500), "/local/domain/1|spy");
	WR(g1, 0, "data/secret", "s");
	next_event(g1, 200);
	EXPECT("g2 gets no event for unreadable node", next_event(g2, 150), "<none>");
	WR(g1, 0, "attr/pub", "p");
	rq(g1, XS_SET_PERMS, 0, "attr/pub", "n1\0r2", 6);
	EXPECT("g2 gets event for readable node", next_event(g2, 500), "/local/domain/1/attr/pub|spy");
	EXPECT("guest cannot watch bad special", WATCH(g2, "@foo", "x"), "!EINVAL");
	EXPECT("g2 watches @releaseDomain", WATCH(g2, "@releaseDomain", "r"), "OK");
	EXPECT("g2 initial special", next_event(g2, 500), "@releaseDomain|r");

	/* RESET_WATCHES drops them all. */
	EXPECT("reset_watches", rq(g1, XS_RESET_WATCHES, 0, "", NULL, 0), "OK");
	WR(d0b, 0, "/local/domain/1/data/k3", "v");
	EXPECT("no event after reset", next_event(g1, 150), "<none>");
	EXPECT("unwatch after reset", UNWATCH(g1, "data", "gt"), "!ENOENT");
	rq(g2, XS_RESET_WATCHES, 0, "", NULL, 0);
	UNWATCH(d0, "/w", "tok1");
	d0->nev = g1->nev = g2->nev = 0;
}

static void test_transactions(struct cli *d0, struct cli *d0b)
{
	char tx[16], tx2[16];
	uint32_t t;

	EXPECT("watch for txn", WATCH(d0b, "/t", "tt"), "OK");
	next_event(d0b, 500);
	snprintf(tx, sizeof(tx), "%s", rq(d0, XS_TRANSACTION_START, 0, "", NULL, 0));
	t = (uint32_t)strtoul(tx, NULL, 10);
	T_CHECK(t != 0, "transaction_start", "got '%s'", tx);
	EXPECT("write in txn", WR(d0, t, "/t/a", "1"), "OK");
	EXPECT("txn view", RD(d0, t, "/t/a"), "1");
	EXPECT("txn dir view", DIRL(d0, t, "/t"), "a");
	EXPECT("outside view", RD(d0, 0, "/t/a"), "!ENOENT");
	EXPECT("no event before commit", next_event(d0b, 100), "<none>");
	EXPECT("nested start", rq(d0, XS_TRANSACTION_START, t, "", NULL, 0), "!EBUSY");
	EXPECT("end bad arg", rq(d0, XS_TRANSACTION_END, t, "X", NULL, 0), "!EINVAL");
	EXPECT("commit", rq(d0, XS_TRANSACTION_END, t, "T", NULL, 0), "OK");
	EXPECT("committed", RD(d0, 0, "/t/a"), "1");
	EXPECT("event on commit", next_event(d0b, 500), "/t/a|tt");
	EXPECT("txn gone", RD(d0, t, "/t/a"), "!ENOENT");

	/* Conflict: the transaction read a node someone else then changed. */
	snprintf(tx, sizeof(tx), "%s", rq(d0, XS_TRANSACTION_START, 0, "", NULL, 0));
	t = (uint32_t)strtoul(tx, NULL, 10);
	EXPECT("txn read", RD(d0, t, "/t/a"), "1");
	EXPECT("txn write", WR(d0, t, "/t/b", "txn"), "OK");
	EXPECT("concurrent write", WR(d0b, 0, "/t/a", "2"), "OK");
	EXPECT("txn still sees its snapshot", RD(d0, t, "/t/a"), "1");
	EXPECT("conflict -> EAGAIN", rq(d0, XS_TRANSACTION_END, t, "T", NULL, 0), "!EAGAIN");
	EXPECT("conflict applied nothing", RD(d0, 0, "/t/b"), "!ENOENT");
	EXPECT("concurrent value kept", RD(d0, 0, "/t/a"), "2");

	/* Conflict on a directory listing: a sibling appears. */
	snprintf(tx, sizeof(tx), "%s", rq(d0, XS_TRANSACTION_START, 0, "", NULL, 0));
	t = (uint32_t)strtoul(tx, NULL, 10);
	DIRL(d0, t, "/t");
	WR(d0b, 0, "/t/c", "new");
	EXPECT("directory conflict", rq(d0, XS_TRANSACTION_END, t, "T", NULL, 0), "!EAGAIN");

	/* Abort discards. */
	snprintf(tx, sizeof(tx), "%s", rq(d0, XS_TRANSACTION_START, 0, "", NULL, 0));
	t = (uint32_t)strtoul(tx, NULL, 10);
	WR(d0, t, "/t/d", "x");
	rq(d0, XS_RM, t, "/t/a", NULL, 0);
	EXPECT("txn rm view", RD(d0, t, "/t/a"), "!ENOENT");
	EXPECT("abort", rq(d0, XS_TRANSACTION_END, t, "F", NULL, 0), "OK");
	EXPECT("abort discarded write", RD(d0, 0, "/t/d"), "!ENOENT");
	EXPECT("abort discarded rm", RD(d0, 0, "/t/a"), "2");

	/* Two transactions on disjoint nodes both commit. */
	snprintf(tx, sizeof(tx), "%s", rq(d0, XS_TRANSACTION_START, 0, "", NULL, 0));
	snprintf(tx2, sizeof(tx2), "%s", rq(d0b, XS_TRANSACTION_START, 0, "", NULL, 0));
	WR(d0, (uint32_t)atoi(tx), "/t/a", "A");
	WR(d0b, (uint32_t)atoi(tx2), "/t/c", "C");
	EXPECT("disjoint commit 1", rq(d0, XS_TRANSACTION_END, (uint32_t)atoi(tx), "T", NULL, 0), "OK");
	EXPECT("disjoint commit 2", rq(d0b, XS_TRANSACTION_END, (uint32_t)atoi(tx2), "T", NULL, 0), "OK");
	EXPECT("disjoint result", RD(d0, 0, "/t/a"), "A");
	EXPECT("unknown tx id", RD(d0, 4242, "/t/a"), "!ENOENT");
	EXPECT("end unknown tx", rq(d0, XS_TRANSACTION_END, 4242, "T", NULL, 0), "!ENOENT");
	UNWATCH(d0b, "/t", "tt");
	d0b->nev = 0;
}

/* The toolstack's vif directories, as libxl sets them, and what the guest may write. */
static void test_toolstack_perms(struct cli *d0, struct cli *g1)
{
	struct pv_vif_params p = { .domid = 1, .devid = 0 };

	T_EQ(pv_ts_vif_create(XS, &p), 0, "toolstack creates vif 1.0");
	EXPECT("frontend dir: nD r0, as libxl",
	       rq(d0, XS_GET_PERMS, 0, "/local/domain/1/device/vif/0", NULL, 0), "n1,r0");
	EXPECT("device/vif: dom0's, guest reads",
	       rq(d0, XS_GET_PERMS, 0, "/local/domain/1/device/vif", NULL, 0), "n0,r1");
	EXPECT("backend dir: n0 rD",
	       rq(d0, XS_GET_PERMS, 0, "/local/domain/0/backend/vif/1/0", NULL, 0), "n0,r1");
	EXPECT("guest reads its backend path", RD(g1, 0, "device/vif/0/backend"),
	       "/local/domain/0/backend/vif/1/0");
	EXPECT("guest writes frontend state", WR(g1, 0, "device/vif/0/state", "4"), "OK");
	EXPECT("guest writes ring refs", WR(g1, 0, "device/vif/0/tx-ring-ref", "8"), "OK");
	EXPECT("guest writes accelstate", WR(g1, 0, "device/vif/0/accelstate", "1"), "OK");
	EXPECT("guest reads backend state", RD(g1, 0, "/local/domain/0/backend/vif/1/0/state"), "1");
	EXPECT("guest cannot write backend",
	       WR(g1, 0, "/local/domain/0/backend/vif/1/0/state", "4"), "!EACCES");
	EXPECT("guest cannot make itself a vif", WR(g1, 0, "device/vif/1/state", "1"), "!EACCES");
	T_EQ(pv_ts_vif_destroy(XS, 1, 0), 0, "toolstack removes vif 1.0");
}

static void test_quotas(struct cli *d0, struct cli *g1)
{
	char big[400], path[64], tx[4][16];
	const char *r = "OK";
	int i;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	EXPECT("node size quota: ENOSPC, as Xen", WR(g1, 0, "data/big", big), "!ENOSPC");
	EXPECT("node size quota dom0 exempt", WR(d0, 0, "/local/domain/1/data/big", big), "OK");
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "w%d", i);
		EXPECT("watch within quota", WATCH(g1, path, "q"), "OK");
	}
	EXPECT("watch quota: E2BIG, as Xen", WATCH(g1, "w9", "q"), "!E2BIG");
	rq(g1, XS_RESET_WATCHES, 0, "", NULL, 0);
	g1->nev = 0;
	{
		/* Xen counts watches per domain, not per connection. */
		struct cli *g1b = cli_guest(1);

		for (i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "w%d", i);
			EXPECT("per-domain watch within quota", WATCH(g1, path, "q"), "OK");
		}
		EXPECT("second connection: 4th watch of the domain", WATCH(g1b, "w3", "q"), "OK");
		EXPECT("second connection: domain's watch quota", WATCH(g1b, "w4", "q"), "!E2BIG");
		EXPECT("first connection: domain's watch quota", WATCH(g1, "w5", "q"), "!E2BIG");
		cli_close(g1b);
		EXPECT("closing a connection frees its watches", WATCH(g1, "w6", "q"), "OK");
		EXPECT("and the quota holds again", WATCH(g1, "w7", "q"), "!E2BIG");
		rq(g1, XS_RESET_WATCHES, 0, "", NULL, 0);
		EXPECT("reset frees the domain's watches", WATCH(g1, "w8", "q"), "OK");
		rq(g1, XS_RESET_WATCHES, 0, "", NULL, 0);
		g1->nev = 0;
	}
	for (i = 0; i < 2; i++)
		snprintf(tx[i], sizeof(tx[i]), "%s", rq(g1, XS_TRANSACTION_START, 0, "", NULL, 0));
	EXPECT("transaction quota: ENOSPC, as Xen", rq(g1, XS_TRANSACTION_START, 0, "", NULL, 0), "!ENOSPC");
	for (i = 0; i < 2; i++)
		rq(g1, XS_TRANSACTION_END, (uint32_t)atoi(tx[i]), "F", NULL, 0);
	for (i = 0; i < 60 && !strcmp(r, "OK"); i++) {
		snprintf(path, sizeof(path), "data/n/%d", i);
		r = WR(g1, 0, path, "v");
	}
	T_CHECK(!strcmp(r, "!ENOSPC") && i < 60, "node quota: ENOSPC, as Xen", "after %d writes: '%s'", i, r);
	EXPECT("node quota: overwrite still fine", WR(g1, 0, "data/n/0", "w"), "OK");
	EXPECT("node quota released by rm", rq(g1, XS_RM, 0, "data/n", NULL, 0), "OK");
	EXPECT("node quota after rm", WR(g1, 0, "data/n/again", "v"), "OK");
	for (i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "/dom0many/%d", i);
		r = WR(d0, 0, path, "v");
	}
	EXPECT("dom0 exempt from node quota", r, "OK");
	T_CHECK(stats().quota_hits >= 4, "quota hits counted", "%llu",
		(unsigned long long)stats().quota_hits);
	T_CHECK(xs_server_write(XS, "/x", big, XENSTORE_PAYLOAD_MAX + 1) == -E2BIG,
		"in-process payload over max -> E2BIG", "wrong error");
}

static void test_directory_part(struct cli *d0)
{
	static char all[16384];
	char path[64], gen[32] = "", off[16];
	size_t alen = 0;
	unsigned int n = 0;
	struct msg m;
	int ok = 1;

	for (int i = 0; i < 600; i++) {
		snprintf(path, sizeof(path), "/many/child-%04d", i);
		if (xs_server_write(XS, path, "v", 1))
			ok = 0;
	}
	T_CHECK(ok, "600 children", "write failed");
	EXPECT("directory too big", DIRL(d0, 0, "/many"), "!E2BIG");
	for (int rounds = 0; rounds < 20; rounds++) {
		char buf[128];
		size_t gl;

		snprintf(off, sizeof(off), "%zu", alen);
		gl = (size_t)snprintf(buf, sizeof(buf), "/many%c%s", 0, off) + 1;
		if (cli_raw(d0, XS_DIRECTORY_PART, 0, buf, gl, &m) != 1 || m.h.type != XS_DIRECTORY_PART) {
			ok = 0;
			break;
		}
		if (!rounds)
			snprintf(gen, sizeof(gen), "%.31s", m.data);
		else if (strcmp(gen, m.data))
			ok = 0;
		gl = strlen(m.data) + 1;
		T_ASSERT(m.h.len <= XENSTORE_PAYLOAD_MAX, "chunk too long");
		memcpy(all + alen, m.data + gl, m.h.len - gl);
		alen += m.h.len - gl;
		if (alen <= 1 || all[alen - 2] == '\0')
			break;
	}
	for (size_t o = 0; ok && o + 1 < alen; o += strlen(all + o) + 1) {
		snprintf(path, sizeof(path), "child-%04u", n);
		if (strcmp(all + o, path))
			ok = 0;
		n++;
	}
	T_CHECK(ok && n == 600, "directory_part reassembles 600 children in order", "n=%u ok=%d", n, ok);
	T_CHECK(gen[0] >= '0' && gen[0] <= '9', "directory_part generation is decimal", "'%s'", gen);
	cli_raw(d0, XS_DIRECTORY_PART, 0, "/many\0" "99999", 12, &m);
	T_CHECK(m.h.type == XS_DIRECTORY_PART && m.h.len == strlen(m.data) + 2 &&
		!m.data[m.h.len - 1], "directory_part past end -> gen + empty", "len %u", m.h.len);
	EXPECT("directory_part bad offset", rq(d0, XS_DIRECTORY_PART, 0, "/many", "x", 2), "!EINVAL");
	EXPECT("directory_part one arg", rq(d0, XS_DIRECTORY_PART, 0, "/many", NULL, 0), "!EINVAL");
	xs_server_rm(XS, "/many");
}

static void test_bad_requests(struct cli *d0, struct cli *g1)
{
	char longp[XENSTORE_ABS_PATH_MAX + 20];
	struct msg m;

	EXPECT("unknown type", rq(d0, 999, 0, "/a", NULL, 0), "!ENOSYS");
	EXPECT("client-sent WATCH_EVENT", rq(d0, XS_WATCH_EVENT, 0, "/a", "t", 2), "!ENOSYS");
	EXPECT("client-sent ERROR", rq(d0, XS_ERROR, 0, "/a", NULL, 0), "!ENOSYS");
	cli_raw(d0, XS_READ, 0, "/a/e", 4, &m);
	EXPECT("unterminated path", res(&m), "!EINVAL");
	cli_raw(d0, XS_READ, 0, NULL, 0, &m);
	EXPECT("empty payload", res(&m), "!EINVAL");
	cli_raw(d0, XS_WRITE, 0, "/a/e", 4, &m);
	EXPECT("write without NUL", res(&m), "!EINVAL");
	EXPECT("two args to read", rq(d0, XS_READ, 0, "/a/e", "x", 2), "!EINVAL");
	EXPECT("watch with one arg", rq(d0, XS_WATCH, 0, "/a", NULL, 0), "!EINVAL");
	longp[0] = '/';
	memset(longp + 1, 'p', sizeof(longp) - 2);
	longp[sizeof(longp) - 1] = '\0';
	EXPECT("overlong absolute path", RD(d0, 0, longp), "!EINVAL");
	EXPECT("overlong relative path", RD(g1, 0, longp + 1), "!EINVAL");
	EXPECT("bad char", RD(d0, 0, "/a b"), "!EINVAL");
	EXPECT("double slash", RD(d0, 0, "/a//b"), "!EINVAL");
	EXPECT("trailing slash", WR(d0, 0, "/a/", "x"), "!EINVAL");
	EXPECT("@ path not a node", WR(d0, 0, "@releaseDomain", "x"), "!EINVAL");
	EXPECT("empty relative", RD(g1, 0, ""), "!EINVAL");
	EXPECT("dot refused, as Xen", WR(d0, 0, "/a/x.y", "1"), "!EINVAL");
	EXPECT("colon refused", WR(d0, 0, "/a/x:y", "1"), "!EINVAL");
	EXPECT("relative dot refused", WR(g1, 0, "data/a.b", "1"), "!EINVAL");
	EXPECT("watch with dot refused", WATCH(d0, "/a/x.y", "t"), "!EINVAL");
	EXPECT("all valid chars", WR(d0, 0, "/a/x_y", "1"), "OK");
	EXPECT("all valid chars 2", WR(d0, 0, "/a/Az09-_@", "1"), "OK");
	EXPECT("still served after bad requests", RD(d0, 0, "/a/x_y"), "1");
}

static void test_bad_conns(struct cli *d0)
{
	struct xs_stats before = stats();
	struct xsd_sockmsg h = { XS_READ, 1, 0, XENSTORE_PAYLOAD_MAX + 1 };
	struct cli *c;

	/* Truncated header, then close. */
	c = cli_dom0();
	cli_write(c, &h, 7);
	pump(30);
	cli_close(c);
	T_CHECK(stats().conns_closed == before.conns_closed + 1 && stats().bad_msgs == before.bad_msgs + 1,
		"truncated header then close: counted", "closed %llu bad %llu",
		(unsigned long long)stats().conns_closed, (unsigned long long)stats().bad_msgs);

	/* Oversized length: closed by the server. */
	c = cli_guest(1);
	cli_write(c, &h, sizeof(h));
	T_CHECK(conn_closed(c, 1000), "len > 4096 -> connection closed", "still open");
	T_CHECK(stats().bad_msgs == before.bad_msgs + 2, "oversized counted", "%llu",
		(unsigned long long)stats().bad_msgs);
	cli_close(c);

	/* Garbage: served with errors or closed, never crashing, others served. */
	c = cli_guest(1);
	{
		unsigned char g[256];

		srand(7);
		for (size_t i = 0; i < sizeof(g); i++)
			g[i] = (unsigned char)rand();
		cli_write(c, g, sizeof(g));
		pump(50);
	}
	EXPECT("served after garbage elsewhere", RD(d0, 0, "/a/x_y"), "1");
	cli_close(c);

	/* Zero bytes of garbage pattern: valid headers with zero type etc. */
	c = cli_guest(1);
	{
		char z[64] = { 0 };

		cli_write(c, z, sizeof(z));
		pump(50);
	}
	EXPECT("served after zeros elsewhere", RD(d0, 0, "/a/x_y"), "1");
	cli_close(c);
}

static void test_stall_and_flood(struct cli *d0)
{
	struct xs_tuning tune = { .partial_ms = 200, .stall_ms = 1000, .outq_max = 64 * 1024 };
	struct xsd_sockmsg h = { XS_READ, 1, 0, 10 };
	struct cli *stall = cli_guest(2), *flood = cli_guest(2), *deaf;
	uint64_t t0;
	size_t sent = 0, got = 0;
	char req[HDR + 7];
	struct msg m;
	uint64_t closed_before;
	int closed;

	xs_server_tune(XS, &tune);
	/* A half message sits in its buffer; the others are served meanwhile. */
	cli_write(stall, &h, sizeof(h));
	cli_write(stall, "/local", 6);
	t0 = now_ms();
	EXPECT("served while another stalls", RD(d0, 0, "/a/x_y"), "1");
	T_CHECK(now_ms() - t0 < 150, "stall does not delay others", "%llu ms",
		(unsigned long long)(now_ms() - t0));
	closed = conn_closed(stall, 1500);
	T_CHECK(closed, "stalled half message times out", "still open");
	cli_close(stall);

	/* Flood of requests without reading any reply. */
	h = (struct xsd_sockmsg){ XS_READ, 0, 0, 7 };
	memcpy(req, &h, HDR);
	memcpy(req + HDR, "device", 7);
	for (int i = 0; i < 200000; i++) {
		ssize_t n;

		((struct xsd_sockmsg *)req)->req_id = (uint32_t)i;
		n = send(flood->fd, req, sizeof(req), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			pump(20);
			n = send(flood->fd, req, sizeof(req), MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0)
				break;
		}
		if (n != (ssize_t)sizeof(req)) {
			T_ASSERT(n == (ssize_t)sizeof(req), "partial send %zd", n);
			break;
		}
		sent++;
		if (!(i & 63))
			pv_loop_once(L, 0);
	}
	T_CHECK(sent < 200000, "flooder is throttled (server stops reading)", "sent %zu", sent);
	t0 = now_ms();
	EXPECT("served during flood", RD(d0, 0, "/a/x_y"), "1");
	T_CHECK(now_ms() - t0 < 200, "flood does not delay others", "%llu ms",
		(unsigned long long)(now_ms() - t0));
	while (got < sent && cli_recv(flood, &m, 500) == 1)
		got += m.h.type == XS_READ && m.h.req_id == got;
	T_CHECK(got == sent, "flooder gets every reply, in order, once it reads", "%zu of %zu", got, sent);
	cli_close(flood);

	/* A pipelined burst larger than the server's input buffer, most of it
	 * arriving while the client is throttled: all served, in order. */
	flood = cli_guest(2);
	{
		static char burst[600 * (HDR + 7)];
		size_t off = 0;

		for (uint32_t i = 0; i < 600; i++) {
			h = (struct xsd_sockmsg){ XS_READ, i, 0, 7 };
			memcpy(burst + off, &h, HDR);
			memcpy(burst + off + HDR, "device", 7);
			off += HDR + 7;
		}
		T_CHECK(cli_write(flood, burst, off) == 0, "pipelined burst sent", "send failed");
		pump(20);
		got = 0;
		while (got < 600 && cli_recv(flood, &m, 500) == 1)
			got += m.h.type == XS_READ && m.h.req_id == got;
		T_EQ(got, 600, "pipelined burst fully answered in order");
	}
	cli_close(flood);

	/* A watcher that never reads is cut off at the output bound. */
	deaf = cli_guest(2);
	WATCH(deaf, "/local/domain/2", "deaf");
	closed_before = stats().conns_closed;
	for (int i = 0; i < 100000 && stats().conns_closed == closed_before; i++) {
		char p[64];

		snprintf(p, sizeof(p), "/local/domain/2/spam%d", i % 50);
		xs_server_write(XS, p, "0123456789012345678901234567890123456789", 40);
		if (!(i % 100))
			pump(1);
	}
	pump(20);
	/* The client's socket buffer holds some; the server's queue the rest. */
	T_CHECK(conn_closed(deaf, 200), "deaf watcher closed at the output bound", "still open");
	cli_close(deaf);
	for (int i = 0; i < 50; i++) {
		char p[64];

		snprintf(p, sizeof(p), "/local/domain/2/spam%d", i);
		xs_server_rm(XS, p);
	}
	/* The defaults: a half message is dropped after 5 s (checked within 6). */
	tune = (struct xs_tuning){ .partial_ms = 5000, .stall_ms = 30000, .outq_max = 1 << 20 };
	xs_server_tune(XS, &tune);
	stall = cli_guest(2);
	h = (struct xsd_sockmsg){ XS_READ, 1, 0, 10 };
	cli_write(stall, &h, sizeof(h));
	cli_write(stall, "/local", 6);
	t0 = now_ms();
	closed = conn_closed(stall, 7000);
	T_CHECK(closed && now_ms() - t0 >= 4500 && now_ms() - t0 < 6500,
		"default: stalled half message closed after 5..6 s", "closed %d after %llu ms",
		closed, (unsigned long long)(now_ms() - t0));
	cli_close(stall);
}

static void test_fds(void)
{
	int before = count_fds(), p[2], after;
	struct cli *c = cli_dom0();
	union { char buf[CMSG_SPACE(3 * sizeof(int))]; struct cmsghdr a; } cb;
	char payload[HDR + 7];
	struct xsd_sockmsg h = { XS_READ, 77, 0, 7 };
	struct iovec iov = { payload, sizeof(payload) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cb.buf, .msg_controllen = sizeof(cb.buf) };
	struct cmsghdr *cm;
	int fds[3];
	struct msg m;

	if (pipe(p))
		abort();
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = dup(p[0]);
	memcpy(payload, &h, HDR);
	memcpy(payload + HDR, "/a/x_y", 7);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	T_CHECK(sendmsg(c->fd, &mh, 0) == (ssize_t)sizeof(payload), "sendmsg with fds", "%s", strerror(errno));
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	T_CHECK(cli_recv(c, &m, 1000) == 1 && m.h.req_id == 77 && !strcmp(res(&m), "1"),
		"request with fds attached is served", "'%s'", res(&m));
	cli_close(c);
	after = count_fds();
	T_EQ(after, before, "received fds closed, none leaked");
}

static int cb_count;
static char cb_last[256];

static void inproc_cb(struct xs_server *xs, const char *path, const char *token, void *arg)
{
	cb_count++;
	snprintf(cb_last, sizeof(cb_last), "%s|%s", path, token);
	/* Reentering the store from a callback is allowed. */
	if (!strcmp(path, "/ip/trigger"))
		xs_server_write(xs, "/ip/echo", "e", 1);
}

static void test_inprocess(struct cli *d0)
{
	char buf[64];

	T_EQ(xs_server_write(XS, "/ip/a", "va", 2), 0, "api write");
	T_EQ(xs_server_read(XS, "/ip/a", buf, sizeof(buf)), 2, "api read length");
	EXPECT("api read value", buf, "va");
	T_EQ(xs_server_read(XS, "/ip/a", buf, 2), 1, "api read truncated");
	T_EQ(xs_server_printf(XS, "/ip/n", "%d-%s", 42, "x"), 0, "api printf");
	EXPECT("api printf seen by client", RD(d0, 0, "/ip/n"), "42-x");
	T_EQ(xs_server_mkdir(XS, "/ip/dir"), 0, "api mkdir");
	T_EQ(xs_server_set_perms(XS, "/ip/dir", "n1\0r2", 6), 0, "api set_perms");
	EXPECT("api set_perms seen", rq(d0, XS_GET_PERMS, 0, "/ip/dir", NULL, 0), "n1,r2");
	T_EQ(xs_server_set_perms(XS, "/ip/dir", "q", 2), -EINVAL, "api set_perms bad");
	T_EQ(xs_server_rm(XS, "/ip/dir"), 0, "api rm");
	T_EQ(xs_server_read(XS, "/ip/dir", buf, sizeof(buf)), -ENOENT, "api read missing");
	T_EQ(xs_server_write(XS, "bad path/", "x", 1), -EINVAL, "api bad path");

	cb_count = 0;
	T_EQ(xs_server_watch(XS, "/ip", "T1", inproc_cb, NULL), 0, "api watch");
	T_EQ(cb_count, 0, "api watch callback deferred");
	pump(20);
	T_EQ(cb_count, 1, "api initial event");
	EXPECT("api initial event path", cb_last, "/ip|T1");
	xs_server_write(XS, "/ip/b", "1", 1);
	T_EQ(cb_count, 1, "api event not run inside the write");
	pump(20);
	EXPECT("api event", cb_last, "/ip/b|T1");
	WR(d0, 0, "/ip/c", "x");
	pump(20);
	EXPECT("api event from socket write", cb_last, "/ip/c|T1");
	cb_count = 0;
	xs_server_write(XS, "/ip/trigger", "1", 1);
	pump(20);
	T_EQ(cb_count, 2, "callback may write (reentrant store use)");
	EXPECT("event of callback's own write", cb_last, "/ip/echo|T1");
	xs_server_write(XS, "/ip/d", "1", 1);
	T_EQ(xs_server_unwatch(XS, "/ip", "T1"), 0, "api unwatch");
	cb_count = 0;
	pump(20);
	T_EQ(cb_count, 0, "api unwatch drops queued events");
	T_EQ(xs_server_unwatch(XS, "/ip", "T1"), -ENOENT, "api unwatch unknown");
	xs_server_rm(XS, "/ip");
}

static void special_cb(struct xs_server *xs, const char *path, const char *token, void *arg)
{
	int *n = arg;

	(*n)++;
}

static void test_domains(struct cli *d0)
{
	struct cli *g3, *g3b;
	int rel = 0, intro = 0;
	char path[32];
	int i;

	EXPECT("dom0 watches @releaseDomain", WATCH(d0, "@releaseDomain", "rel"), "OK");
	EXPECT("special initial", next_event(d0, 500), "@releaseDomain|rel");
	EXPECT("dom0 watches @introduceDomain", WATCH(d0, "@introduceDomain", "int"), "OK");
	EXPECT("special initial 2", next_event(d0, 500), "@introduceDomain|int");
	xs_server_watch(XS, "@releaseDomain", "r", special_cb, &rel);
	xs_server_watch(XS, "@introduceDomain", "i", special_cb, &intro);
	pump(20);
	rel = intro = 0;
	T_EQ(xs_server_domain_intro(XS, 3), 0, "intro 3");
	EXPECT("@introduceDomain fired", next_event(d0, 500), "@introduceDomain|int");
	EXPECT("intro node perms", rq(d0, XS_GET_PERMS, 0, "/local/domain/3", NULL, 0), "n0,r3");
	g3 = cli_guest(3);
	g3b = cli_guest(3);
	for (i = 0; i < 30; i++) {
		snprintf(path, sizeof(path), "data/x/%d", i);
		WR(g3, 0, path, "v");
	}
	EXPECT("g3 writes home", RD(g3, 0, "data/x/0"), "v");
	WR(g3, 0, "/local/domain/1/data/from3", "x");
	WATCH(g3b, "data/x", "w3");
	rq(g3b, XS_TRANSACTION_START, 0, "", NULL, 0);
	xs_server_domain_release(XS, 3);
	T_CHECK(conn_closed(g3, 500) && conn_closed(g3b, 500), "release closes the domain's connections", "still open");
	EXPECT("release removes home", RD(d0, 0, "/local/domain/3"), "!ENOENT");
	EXPECT("@releaseDomain fired", next_event(d0, 500), "@releaseDomain|rel");
	pump(20);
	T_CHECK(rel == 1 && intro == 1, "in-process special watches", "rel %d intro %d", rel, intro);
	EXPECT("not introduced after release", rq(d0, XS_IS_DOMAIN_INTRODUCED, 0, "3", NULL, 0), "F");
	cli_close(g3);
	cli_close(g3b);
	/* Accounting released: a new domain 3 starts with a clean quota. */
	xs_server_domain_intro(XS, 3);
	g3 = cli_guest(3);
	/* 6 home nodes are the guest's (data, attr, ...): 6 + data/y + 40 <= 50. */
	for (i = 0; i < 40; i++) {
		snprintf(path, sizeof(path), "data/y/%d", i);
		if (strcmp(WR(g3, 0, path, "v"), "OK"))
			break;
	}
	T_EQ(i, 40, "node accounting released with the domain");
	cli_close(g3);
	xs_server_domain_release(XS, 3);
	T_EQ(xs_server_domain_intro(XS, 0), -EINVAL, "intro dom0 refused");
	UNWATCH(d0, "@releaseDomain", "rel");
	UNWATCH(d0, "@introduceDomain", "int");
	xs_server_unwatch(XS, "@releaseDomain", "r");
	xs_server_unwatch(XS, "@introduceDomain", "i");
	d0->nev = 0;
}

static void test_conn_quota(void)
{
	struct cli *c[9];
	int n = 0;

	for (int i = 0; i < 9; i++)
		if ((c[i] = cli_guest(5)))
			n++;
	T_EQ(n, 8, "connections per domain quota");
	for (int i = 0; i < 9; i++)
		cli_close(c[i]);
}

int main(void)
{
	struct xs_quota q;
	char dir[] = "/tmp/test_xs.XXXXXX";
	struct cli *d0, *d0b, *g1, *g2;
	int fds_before;

	pv_log_init("test_xs", PV_LOG_WARN, 0);
	fds_before = count_fds();
	if (!mkdtemp(dir))
		return 2;
	snprintf(sockpath, sizeof(sockpath), "%s/xs.sock", dir);
	xs_quota_default(&q);
	q.max_nodes = 50;
	q.max_node_size = 256;
	q.max_watches = 4;
	q.max_transactions = 2;
	q.max_requests = 8;
	L = pv_loop_new();
	XS = xs_server_new(L, sockpath, &q);
	T_CHECK(XS != NULL, "server starts", "xs_server_new failed");
	if (!XS)
		return t_done();
	T_EQ(xs_server_domain_intro(XS, 1), 0, "intro 1");
	T_EQ(xs_server_domain_intro(XS, 2), 0, "intro 2");
	d0 = cli_dom0();
	d0b = cli_dom0();
	g1 = cli_guest(1);
	g2 = cli_guest(2);

	test_basic_ops(d0);
	test_perms(d0, g1, g2);
	test_watches(d0, d0b, g1, g2);
	test_transactions(d0, d0b);
	test_toolstack_perms(d0, g1);
	test_quotas(d0, g1);
	test_directory_part(d0);
	test_bad_requests(d0, g1);
	test_bad_conns(d0);
	test_stall_and_flood(d0);
	test_fds();
	test_inprocess(d0);
	test_domains(d0);
	test_conn_quota();
	EXPECT("still serving at the end", RD(g1, 0, "data/foo"), "bar");

	cli_close(d0);
	cli_close(d0b);
	cli_close(g1);
	cli_close(g2);
	xs_server_free(XS);
	pv_loop_free(L);
	rmdir(dir);
	T_EQ(count_fds(), fds_before, "no fd leaked overall");
	return t_done();
}
