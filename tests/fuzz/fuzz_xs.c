/* SPDX-License-Identifier: MIT */
/*
 * fuzz_xs.c - libFuzzer harness for pvnetd's xenstore server: the wire
 * protocol (src/hv/xs.c framing, src/hv/xs_proto.c requests,
 * src/hv/xs_store.c tree, permissions, quotas, transactions, watches) as
 * guests and dom0 send it.
 *
 * Build and run (see tests/fuzz/README):
 *   make fuzz
 *   build-fuzz/fuzz_xs -max_total_time=120 -rss_limit_mb=4096 tests/fuzz/corpus/fuzz_xs
 *
 * Each input gets a fresh loop and server (domain 1 introduced, small node
 * quota) and four client connections over socketpairs: 0-2 are domain 1,
 * 3 is domain 0.  The input is a list of chunks, each [ctl:1][len:2][bytes]:
 *   ctl & 3      the connection
 *   ctl & 4      frame it: bytes are [type:1][tx_id:1][payload...] and the
 *                harness prepends a correct xsd_sockmsg header (helps the
 *                fuzzer past framing); otherwise the bytes go out raw, so
 *                headers, split messages and oversized lengths are its own
 *   ctl & 8      hang up that connection afterwards
 * After each chunk the loop is pumped a few times and every reply drained.
 * Checked at the end: memory safety and leaks (ASan/LSan), the server
 * still answers a well-formed READ on a fresh connection, domain 1's node
 * accounting matches the tree, and it is within the quota unless dom0
 * spoke (dom0 may hand nodes to a guest).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../src/hv/xs_store.c"
#include "../../src/hv/xs_proto.c"
#include "../../src/hv/xs.c"

#define NCONN		4
#define MAX_NODES	40
#define PUMPS		4

struct fz {
	struct pv_loop *loop;
	struct xs_server *xs;
	int fd[NCONN];
};

static void drain(struct fz *f)
{
	char buf[8192];

	for (int i = 0; i < NCONN; i++)
		while (f->fd[i] >= 0 && recv(f->fd[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
}

static void pump(struct fz *f)
{
	for (int i = 0; i < PUMPS; i++) {
		pv_loop_once(f->loop, 0);
		drain(f);
	}
}

/* Write all of @len bytes to connection @i, pumping while its socket is full. */
static void put(struct fz *f, int i, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (int tries = 0; len && f->fd[i] >= 0 && tries < 64; tries++) {
		ssize_t n = send(f->fd[i], b, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			b += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN) {
			close(f->fd[i]);	/* the server hung up on it */
			f->fd[i] = -1;
			return;
		}
		pump(f);
	}
}

static int conn_new(struct fz *f, unsigned int domid)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (xs_server_add_conn(f->xs, sv[0], domid) < 0) {
		close(sv[1]);
		return -1;
	}
	return sv[1];
}

/* The server must still serve dom0: READ / (nothing can remove it) on a fresh connection. */
static void check_serves(struct fz *f)
{
	static const char path[] = "/";
	struct { struct xsd_sockmsg h; char p[sizeof(path)]; } m = {
		{ .type = XS_READ, .req_id = 0x5eed, .len = sizeof(path) }, "" };
	struct xsd_sockmsg rh;
	char buf[XS_MSG_MAX];
	size_t have = 0;
	int fd = conn_new(f, 0);

	if (fd < 0)
		abort();
	memcpy(m.p, path, sizeof(path));
	if (send(fd, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		abort();
	for (int i = 0; i < 1000 && have < sizeof(rh); i++) {
		ssize_t n;

		pv_loop_once(f->loop, 1);
		drain(f);
		n = recv(fd, buf + have, sizeof(buf) - have, MSG_DONTWAIT);
		if (n > 0)
			have += (size_t)n;
	}
	if (have < sizeof(rh))
		abort();	/* no reply to a well-formed READ */
	memcpy(&rh, buf, sizeof(rh));
	if (rh.type != XS_READ || rh.req_id != 0x5eed || rh.tx_id != 0)
		abort();
	close(fd);
}

static unsigned int owned_by(const struct xs_node *n, unsigned int domid)
{
	unsigned int c = n->perms[0].id == domid;

	for (unsigned int i = 0; i < n->nkids; i++)
		c += owned_by(n->kids[i], domid);
	return c;
}

static void check_quota(struct fz *f, int dom0_spoke)
{
	struct xs_dom *d = xs_dom_get(f->xs, 1, 0);
	unsigned int have = d ? d->nodes : 0, real = owned_by(f->xs->root, 1);

	if (have != real)
		abort();	/* node accounting out of step with the tree */
	if (!dom0_spoke && have > MAX_NODES)
		abort();	/* a guest beat its node quota */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pv_log_init("fuzz_xs", getenv("PVNET_FUZZ_DEBUG") ? PV_LOG_DEBUG : PV_LOG_ERR, 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_quota q;
	struct fz f;
	size_t i = 0;
	int dom0_spoke = 0;

	xs_quota_default(&q);
	q.max_nodes = MAX_NODES;
	q.max_watches = 8;
	q.max_transactions = 4;
	q.max_requests = 8;
	f.loop = pv_loop_new();
	f.xs = f.loop ? xs_server_new(f.loop, NULL, &q) : NULL;
	if (!f.xs || xs_server_domain_intro(f.xs, 1) < 0)
		abort();
	for (int c = 0; c < NCONN; c++)
		f.fd[c] = conn_new(&f, c == 3 ? 0 : 1);
	while (size - i >= 3) {
		uint8_t ctl = data[i];
		size_t len = data[i + 1] | (size_t)data[i + 2] << 8;
		int c = ctl & 3;

		i += 3;
		if (len > size - i)
			len = size - i;
		dom0_spoke |= c == 3 && len;
		if ((ctl & 4) && len >= 2) {
			struct xsd_sockmsg h = { .type = data[i], .req_id = (uint32_t)i,
						 .tx_id = data[i + 1], .len = (uint32_t)(len - 2) };

			put(&f, c, &h, sizeof(h));
			put(&f, c, data + i + 2, len - 2);
		} else {
			put(&f, c, data + i, len);
		}
		i += len;
		pump(&f);
		if ((ctl & 8) && f.fd[c] >= 0) {
			close(f.fd[c]);
			f.fd[c] = -1;
			pump(&f);
		}
	}
	pump(&f);
	check_serves(&f);
	check_quota(&f, dom0_spoke);
	for (int c = 0; c < NCONN; c++)
		if (f.fd[c] >= 0)
			close(f.fd[c]);
	xs_server_free(f.xs);
	pv_loop_free(f.loop);
	return 0;
}
