/* SPDX-License-Identifier: MIT */
/*
 * test_loop.c - the event loop's "soon" timers (0 ms one-shots without a
 * timerfd): order, deletion (also of one already taken by the running
 * round), re-queueing from a callback, no sleeping while one waits, and
 * freeing a loop with soon watches pending.
 */
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/loop.h"
#include "../lib/test.h"

static char trace[64];
static int ntrace;
static struct pv_watch *w_a, *w_b, *w_c, *w_again;
static struct pv_loop *L;

static void note(char c)
{
	if (ntrace < (int)sizeof(trace) - 1)
		trace[ntrace++] = c;
	trace[ntrace] = '\0';
}

static void cb_a(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	note('a');
	pv_loop_timer_del(loop, w_a);
	w_a = NULL;
	if (w_b) {		/* b is in the same round: deleting it skips it */
		pv_loop_timer_del(loop, w_b);
		w_b = NULL;
	}
}

static void cb_b(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	note('b');
	pv_loop_timer_del(loop, w_b);
	w_b = NULL;
}

static void cb_c(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	note('c');
	pv_loop_timer_del(loop, w_c);
	w_c = NULL;
	/* queued from a soon callback: runs in the next round, not this one */
	w_again = pv_loop_timer(loop, 0, 0, cb_b, NULL);
	w_b = w_again;
}

static void cb_fd(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	uint64_t v;

	note('e');
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		note('!');
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int main(void)
{
	struct timespec t0;
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct pv_watch *we;
	int n;

	L = pv_loop_new();
	T_ASSERT(L && efd >= 0, "loop and eventfd");
	we = pv_loop_add(L, efd, EPOLLIN, cb_fd, NULL);

	/* events first, then the soon list in order; a deleted one does not run */
	w_a = pv_loop_timer(L, 0, 0, cb_a, NULL);
	w_b = pv_loop_timer(L, 0, 0, cb_b, NULL);
	w_c = pv_loop_timer(L, 0, 0, cb_c, NULL);
	T_CHECK(w_a && w_b && w_c, "soon: three queued", "a %p b %p c %p", (void *)w_a,
		(void *)w_b, (void *)w_c);
	T_ASSERT(write(efd, &one, sizeof(one)) == sizeof(one), "eventfd write");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = pv_loop_once(L, 5000);
	T_CHECK(ms_since(&t0) < 1000, "soon: the round does not sleep while soon work waits",
		"%ld ms", ms_since(&t0));
	T_CHECK(!strcmp(trace, "eac"), "soon: after the round's events, in order; b deleted by a",
		"trace '%s', n %d", trace, n);
	T_CHECK(w_again != NULL, "soon: queued from a soon callback", "none");
	ntrace = 0;
	trace[0] = '\0';
	n = pv_loop_once(L, 5000);
	T_CHECK(!strcmp(trace, "b"), "soon: the one queued from a callback runs in the next round",
		"trace '%s'", trace);

	/* a queued one deleted before its round never runs */
	ntrace = 0;
	trace[0] = '\0';
	w_b = pv_loop_timer(L, 0, 0, cb_b, NULL);
	pv_loop_timer_del(L, w_b);
	w_b = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = pv_loop_once(L, 50);
	T_CHECK(!strcmp(trace, "") && ms_since(&t0) >= 40, "soon: deleted before its round: "
		"not run, and the loop sleeps again", "trace '%s', %ld ms", trace, ms_since(&t0));

	/* a real timer still works beside them */
	w_c = pv_loop_timer(L, 20, 0, cb_c, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!strchr(trace, 'c') && ms_since(&t0) < 2000)
		pv_loop_once(L, 100);
	T_CHECK(strchr(trace, 'c') && ms_since(&t0) >= 15, "timer: 20 ms one-shot still a timerfd",
		"trace '%s', %ld ms", trace, ms_since(&t0));

	/* freed with a soon watch pending (w_b queued by cb_c): no leak under ASan */
	pv_loop_del(L, we);
	pv_loop_free(L);
	close(efd);
	printf("%d passed, %d failed\n", t_passed, t_failed);
	return t_failed != 0;
}
