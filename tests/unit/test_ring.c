/* SPDX-License-Identifier: MIT */
/*
 * test_ring.c - Xen's ring macros (ring.h, netif.h) on a page shared
 * between two processes, with indices starting just below the 2^32 wrap,
 * and a producer that jumps ahead by more than the ring size.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/test.h"
#include "pvnet/xen.h"

#define NREQ 5000

/* The producer: a frontend pushing NREQ TX requests, then lying about prod. */
static int producer(netif_tx_sring_t *s, int go_fd)
{
	netif_tx_front_ring_t f;
	char c;

	/* Attach without resetting the indices the test placed near the wrap. */
	f.sring = s;
	f.req_prod_pvt = s->req_prod;
	f.rsp_cons = s->rsp_prod;
	f.nr_ents = __RING_SIZE(s, PV_PAGE_SIZE);
	for (uint32_t i = 0; i < NREQ;) {
		int notify;

		while (RING_FULL(&f)) {
			/* Consume responses to free room. */
			RING_IDX rp = s->rsp_prod;

			xen_rmb();
			f.rsp_cons = rp;
			usleep(10);
		}
		netif_tx_request_t *req = RING_GET_REQUEST(&f, f.req_prod_pvt);

		req->gref = i;
		req->offset = (uint16_t)(i & 0xfff);
		req->flags = 0;
		req->id = (uint16_t)i;
		req->size = (uint16_t)(i * 7);
		f.req_prod_pvt++;
		i++;
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f, notify);
		(void)notify;
	}
	if (read(go_fd, &c, 1) != 1)
		return 1;
	/* The lie: claim 1000 more requests than the ring can hold. */
	__atomic_store_n(&s->req_prod, s->req_prod + 1000 + RING_SIZE(&f), __ATOMIC_RELEASE);
	return 0;
}

int main(void)
{
	netif_tx_sring_t *s;
	netif_tx_back_ring_t b;
	int go[2], status = -1, bad = 0;
	RING_IDX start = 0xffffffffu - 100;	/* cross the 2^32 wrap */
	uint32_t got = 0;
	pid_t pid;

	s = mmap(NULL, PV_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED || pipe(go) < 0)
		return 1;
	SHARED_RING_INIT(s);
	s->req_prod = s->rsp_prod = start;
	s->req_event = s->rsp_event = start + 1;
	BACK_RING_ATTACH(&b, s, start, PV_PAGE_SIZE);
	T_EQ(RING_SIZE(&b), 256, "netif TX ring on one page has 256 slots");

	pid = fork();
	if (pid == 0)
		_exit(producer(s, go[0]));

	/* The consumer: a backend, copying each request once (RING_COPY_REQUEST). */
	while (got < NREQ) {
		RING_IDX rp = __atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE);

		if (!pv_ring_idx_sane(rp, b.req_cons, RING_SIZE(&b))) {
			bad++;
			break;
		}
		while (b.req_cons != rp) {
			netif_tx_request_t req;

			RING_COPY_REQUEST(&b, b.req_cons, &req);
			if (req.gref != got || req.id != (uint16_t)got || req.size != (uint16_t)(got * 7))
				bad++;
			b.req_cons++;
			got++;
			netif_tx_response_t *rsp = RING_GET_RESPONSE(&b, b.rsp_prod_pvt);

			rsp->id = req.id;
			rsp->status = NETIF_RSP_OKAY;
			b.rsp_prod_pvt++;
		}
		int notify;

		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b, notify);
		(void)notify;
	}
	T_EQ(got, NREQ, "consumer received every request across the index wrap");
	T_EQ(bad, 0, "every request arrived intact and in order");
	T_CHECK(b.req_cons < start, "indices wrapped past 2^32", "req_cons %u", b.req_cons);

	/* Let the producer lie, then look at the index once, as netback does. */
	if (write(go[1], "g", 1) != 1)
		return 1;
	waitpid(pid, &status, 0);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "producer process finished", "status %#x", status);
	{
		RING_IDX rp = __atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE);

		T_CHECK(!pv_ring_idx_sane(rp, b.req_cons, RING_SIZE(&b)),
			"producer jumping ahead by more than the ring size is detected",
			"prod %u cons %u", rp, b.req_cons);
		T_CHECK(pv_ring_idx_sane(b.req_cons + RING_SIZE(&b), b.req_cons, RING_SIZE(&b)),
			"a full ring (prod - cons == size) is legal", "prod - cons == size judged insane");
		T_CHECK(!pv_ring_idx_sane(b.req_cons - 1, b.req_cons, RING_SIZE(&b)),
			"a producer index moving backwards is detected", "prod = cons - 1 judged sane");
		T_CHECK(RING_REQUEST_PROD_OVERFLOW(&b, rp),
			"ring.h's own overflow check agrees", "RING_REQUEST_PROD_OVERFLOW false");
	}
	return t_done();
}
