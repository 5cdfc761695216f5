/* SPDX-License-Identifier: MIT */
/*
 * vi.c - libpvnet layer 1: a VI of one's own (include/pvnet/libpvnet.h).
 *
 * The broker (include/pvnet/broker.h) does everything privileged: it
 * allocates the VI, maps our memfds into the buffer table, installs our
 * filters; we keep its connection open for as long as the VI lives (its
 * closing is what frees the VI).  The rings are driven with
 * src/nic/nic_client.h's vi_user_* helpers, the one implementation of the
 * user's side of the VI ABI (also used by the guests' fast path).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pvnet/broker.h"
#include "pvnet/libpvnet.h"
#include "libpvnet/internal.h"
#include "nic/nic_client.h"
#include "lib/seqpacket_call.h"
#include "lib/unix.h"

struct pvnet_filter {
	struct pvnet_filter *next;
	uint32_t filter_id;
	uint16_t port;
	uint8_t proto;
};

struct pvnet_vi {
	int brk_fd;		/* the broker connection: the VI lives as long as it */
	uint32_t seq;
	struct vi_user u;
	int mem_fd;
	struct pvnet_vi_attr attr;
	uint32_t bufs_used;
	struct pvnet_filter *filters;
};

struct pvnet_memreg {
	uint8_t *base;
	unsigned int n;
	uint32_t *ids;
	uint32_t *hash;		/* open addressing, buf_id -> index + 1 (0: empty) */
	uint32_t hmask;
};

/* One broker call: the reply body into @out (@omax), descriptors into @rfds. */
static int vi_call(struct pvnet_vi *vi, uint16_t type, const void *body, uint32_t blen, int fd,
		   void *out, uint32_t omax, int *rfds, unsigned int nrfds)
{
	const struct pv_sp_reply r = { .body = out, .body_max = omax,
				       .recv_max = PV_BRK_MSG_MAX - sizeof(struct pv_brk_hdr),
				       .rfds = rfds, .rfds_max = nrfds, .body_if_ok = 1 };

	return pv_seqpacket_call(vi->brk_fd, type, ++vi->seq, body, blen, fd >= 0 ? &fd : NULL,
				 fd >= 0 ? 1 : 0, &r, 10000);
}

static const char *vi_broker_path(const char *broker)
{
	const char *env = getenv("PVNET_BROKER");

	if (broker)
		return broker;
	return env && *env ? env : PVNET_BROKER_DEFAULT;
}

int pvnet_vi_open(struct pvnet_vi **out, const char *broker, uint32_t local_ip)
{
	struct pvnet_vi *vi = calloc(1, sizeof(*vi));
	struct pv_brk_open o = { .version = PV_BRK_VERSION, .local_ip = local_ip };
	struct pv_brk_open_reply r = { 0 };
	int rfds[3] = { -1, -1, -1 }, rc;

	*out = NULL;
	if (!vi)
		return -ENOMEM;
	vi->mem_fd = -1;
	vi->brk_fd = pv_unix_connect(vi_broker_path(broker), SOCK_SEQPACKET);
	if (vi->brk_fd < 0) {
		rc = vi->brk_fd;
		free(vi);
		return rc;
	}
	rc = vi_call(vi, PV_BRK_OPEN, &o, sizeof(o), -1, &r, sizeof(r), rfds, 3);
	if (!rc && (rfds[0] < 0 || rfds[1] < 0 || rfds[2] < 0))
		rc = -EPROTO;
	if (!rc)
		rc = vi_user_open(&vi->u, rfds[0], rfds[1], rfds[2]);
	if (rc) {
		for (int i = 0; i < 3; i++)
			if (rfds[i] >= 0)
				close(rfds[i]);
		close(vi->brk_fd);
		free(vi);
		return rc;
	}
	vi->mem_fd = rfds[0];
	vi->attr = (struct pvnet_vi_attr){ .vi_id = r.vi_id, .local_ip = r.local_ip, .mtu = r.mtu,
					   .max_bufs = r.max_bufs };
	memcpy(vi->attr.mac, r.mac, 6);
	*out = vi;
	return 0;
}

void pvnet_vi_close(struct pvnet_vi *vi)
{
	if (!vi)
		return;
	while (vi->filters) {
		struct pvnet_filter *f = vi->filters;

		vi->filters = f->next;
		free(f);
	}
	vi_user_close(&vi->u);
	close(vi->u.doorbell_fd);
	close(vi->u.wake_fd);
	close(vi->mem_fd);
	close(vi->brk_fd);	/* the broker frees the VI, its buffers and filters */
	free(vi);
}

void pvnet_vi_attr(const struct pvnet_vi *vi, struct pvnet_vi_attr *attr)
{
	*attr = vi->attr;
}

/* ---- memory ---- */

static int memreg_hash_init(struct pvnet_memreg *mr)
{
	uint32_t size = 1;

	while (size < 2 * mr->n)
		size <<= 1;
	mr->hash = calloc(size, sizeof(*mr->hash));
	if (!mr->hash)
		return -ENOMEM;
	mr->hmask = size - 1;
	for (unsigned int i = 0; i < mr->n; i++) {
		uint32_t h = (mr->ids[i] * 2654435761u) & mr->hmask;

		while (mr->hash[h])
			h = (h + 1) & mr->hmask;
		mr->hash[h] = i + 1;
	}
	return 0;
}

/* A sealed memfd of @bytes, mapped at *base. */
static int memreg_memfd(size_t bytes, uint8_t **base)
{
	int fd = memfd_create("libpvnet", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)bytes) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	*base = p;
	return fd;
}

static int memreg_register(struct pvnet_vi *vi, struct pvnet_memreg *mr, int fd)
{
	struct pv_brk_memreg_reply *rep = malloc(sizeof(*rep));
	int rc = 0;

	if (!rep)
		return -ENOMEM;
	for (unsigned int done = 0; done < mr->n && !rc;) {
		struct pv_brk_memreg q = { .chunk = done,
					   .count = mr->n - done < PV_BRK_MEMREG_MAX ?
						    mr->n - done : PV_BRK_MEMREG_MAX };

		memset(rep, 0, sizeof(*rep));
		rc = vi_call(vi, PV_BRK_MEMREG, &q, sizeof(q), fd, rep, sizeof(*rep), NULL, 0);
		if (!rc && rep->count != q.count)
			rc = -EPROTO;
		if (!rc)
			memcpy(mr->ids + done, rep->buf_id, 4 * (size_t)q.count);
		done += q.count;
	}
	free(rep);
	return rc;
}

int pvnet_memreg_alloc(struct pvnet_memreg **out, struct pvnet_vi *vi, unsigned int nbufs)
{
	struct pvnet_memreg *mr;
	size_t bytes = ((size_t)nbufs * PV_NIC_BUF_SIZE + PV_NIC_PAGE_SIZE - 1) &
		       ~(size_t)(PV_NIC_PAGE_SIZE - 1);
	int fd, rc;

	*out = NULL;
	if (nbufs == 0 || nbufs > BRK_NBUFS_MAX)
		return -EINVAL;
	if (vi->bufs_used + nbufs > vi->attr.max_bufs)
		return -EDQUOT;
	mr = calloc(1, sizeof(*mr));
	if (!mr || !(mr->ids = calloc(nbufs, sizeof(*mr->ids)))) {
		free(mr);
		return -ENOMEM;
	}
	mr->n = nbufs;
	fd = memreg_memfd(bytes, &mr->base);
	if (fd < 0) {
		free(mr->ids);
		free(mr);
		return fd;
	}
	/* The broker and the NIC keep their own references; ours goes with the call. */
	rc = memreg_register(vi, mr, fd);
	close(fd);
	if (!rc)
		rc = memreg_hash_init(mr);
	if (rc) {
		pvnet_memreg_free(mr);
		return rc;
	}
	vi->bufs_used += nbufs;
	*out = mr;
	return 0;
}

void pvnet_memreg_free(struct pvnet_memreg *mr)
{
	if (!mr)
		return;
	if (mr->base) {
		size_t bytes = ((size_t)mr->n * PV_NIC_BUF_SIZE + PV_NIC_PAGE_SIZE - 1) &
			       ~(size_t)(PV_NIC_PAGE_SIZE - 1);

		munmap(mr->base, bytes);
	}
	free(mr->hash);
	free(mr->ids);
	free(mr);
}

unsigned int pvnet_memreg_count(const struct pvnet_memreg *mr)
{
	return mr->n;
}

void *pvnet_memreg_buf(const struct pvnet_memreg *mr, unsigned int i)
{
	return i < mr->n ? mr->base + (size_t)i * PV_NIC_BUF_SIZE : NULL;
}

uint32_t pvnet_memreg_buf_id(const struct pvnet_memreg *mr, unsigned int i)
{
	return i < mr->n ? mr->ids[i] : PV_NIC_VI_NONE;
}

int pvnet_memreg_index(const struct pvnet_memreg *mr, uint32_t buf_id)
{
	for (uint32_t h = (buf_id * 2654435761u) & mr->hmask, k = 0; k <= mr->hmask;
	     h = (h + 1) & mr->hmask, k++) {
		uint32_t v = mr->hash[h];

		if (!v)
			break;
		if (mr->ids[v - 1] == buf_id)
			return (int)(v - 1);
	}
	return -ENOENT;
}

/* ---- rings and events ---- */

unsigned int pvnet_vi_rx_space(const struct pvnet_vi *vi)
{
	return vi_user_rx_space(&vi->u);
}

unsigned int pvnet_vi_tx_space(const struct pvnet_vi *vi)
{
	return vi_user_tx_space(&vi->u);
}

int pvnet_vi_rx_post(struct pvnet_vi *vi, uint32_t buf_id, uint16_t len)
{
	if (len == 0 || len > PV_NIC_BUF_SIZE)
		return -EINVAL;
	if (!vi_user_rx_space(&vi->u))
		return -ENOSPC;
	vi_user_rx_post(&vi->u, buf_id, 0, len);
	return 0;
}

int pvnet_vi_transmitv(struct pvnet_vi *vi, const struct pvnet_frag *frag, unsigned int n)
{
	struct nic_tx_frag f[PV_NIC_TX_MAX_FRAGS];
	int rc;

	if (n == 0 || n > PV_NIC_TX_MAX_FRAGS)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		if ((uint32_t)frag[i].off + frag[i].len > PV_NIC_BUF_SIZE || !frag[i].len)
			return -EINVAL;
		f[i] = (struct nic_tx_frag){ frag[i].buf_id, frag[i].off, frag[i].len };
	}
	rc = vi_user_tx_post_frame(&vi->u, f, n, 0, 0);
	if (!rc)
		vi_user_kick(&vi->u);	/* no doorbell while the NIC polls (nic.h) */
	return rc;
}

int pvnet_vi_transmit(struct pvnet_vi *vi, uint32_t buf_id, uint16_t off, uint16_t len)
{
	const struct pvnet_frag f = { buf_id, off, len };

	return pvnet_vi_transmitv(vi, &f, 1);
}

int pvnet_vi_poll(struct pvnet_vi *vi, struct pvnet_event *ev, int max)
{
	struct pv_nic_event e;
	int n = 0;

	if (vi_user_fault(&vi->u))
		return -EIO;
	while (n < max && vi_user_event(&vi->u, &e)) {
		/* Without RX chains (we never ask for them) there is no RX_META. */
		ev[n++] = (struct pvnet_event){ .type = e.type, .error = e.code, .rx = e.queue == 1,
						.buf_id = e.buf_id, .len = e.len, .flags = e.flags };
	}
	return n;
}

int pvnet_vi_prime(struct pvnet_vi *vi)
{
	return vi_user_arm(&vi->u) ? 1 : 0;
}

void pvnet_vi_spin_pause(const struct pvnet_vi *vi)
{
	if (__atomic_load_n(&vi->u.sh->tx_cons.armed, __ATOMIC_RELAXED)) {
		sched_yield();
		return;
	}
	for (int i = 0; i < 64; i++) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#elif defined(__aarch64__)
		__asm__ __volatile__("yield");
#endif
	}
}

int pvnet_vi_wake_fd(const struct pvnet_vi *vi)
{
	return vi->u.wake_fd;
}

int pvnet_vi_wait(struct pvnet_vi *vi, int timeout_ms)
{
	struct pollfd p = { .fd = vi->u.wake_fd, .events = POLLIN };
	uint64_t v;
	int n;

	if (pvnet_vi_prime(vi))
		return 0;
	n = poll(&p, 1, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ETIMEDOUT;
	if (read(vi->u.wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int pvnet_vi_stats(struct pvnet_vi *vi, struct pv_nic_vi_stats *st)
{
	memset(st, 0, sizeof(*st));
	return vi_call(vi, PV_BRK_STATS, NULL, 0, -1, st, sizeof(*st), NULL, 0);
}

/* ---- filters ---- */

int pvnet_vi_filter_add(struct pvnet_vi *vi, const struct pvnet_filter_spec *spec,
			struct pvnet_filter **out)
{
	struct pvnet_filter *f;
	struct pv_brk_filter q = { .proto = spec->proto,
				   .local_ip = spec->local_ip ? spec->local_ip : vi->attr.local_ip };
	struct pv_brk_filter_reply r = { 0 };
	int rc;

	*out = NULL;
	if (spec->proto != IPPROTO_UDP && spec->proto != IPPROTO_TCP)
		return -EPROTONOSUPPORT;
	if (q.local_ip != vi->attr.local_ip)
		return -EADDRNOTAVAIL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	q.local_port = spec->local_port;
	rc = vi_call(vi, PV_BRK_FILTER, &q, sizeof(q), -1, &r, sizeof(r), NULL, 0);
	if (!rc && (!r.local_port || (spec->local_port && r.local_port != spec->local_port)))
		rc = -EPROTO;
	if (rc) {
		free(f);
		return rc;
	}
	f->filter_id = r.filter_id;
	f->port = r.local_port;
	f->proto = spec->proto;
	f->next = vi->filters;
	vi->filters = f;
	*out = f;
	return 0;
}

uint16_t pvnet_filter_port(const struct pvnet_filter *f)
{
	return f->port;
}

int pvnet_vi_filter_del(struct pvnet_vi *vi, struct pvnet_filter *f)
{
	struct pv_brk_filter_del d = { .filter_id = f->filter_id };
	int rc = vi_call(vi, PV_BRK_FILTER_DEL, &d, sizeof(d), -1, NULL, 0, NULL, 0);

	for (struct pvnet_filter **p = &vi->filters; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			break;
		}
	}
	free(f);
	return rc;
}
