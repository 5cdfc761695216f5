/* SPDX-License-Identifier: MIT */
/*
 * loop.c - epoll event loop with deferred deletion.
 *
 * A one-shot timer of 0 ms ("run this soon": a kick after a budget ran out,
 * work deferred out of a callback) is common on the data path and costs
 * nothing here: no timerfd, no epoll_ctl, just a place on the soon list,
 * which runs after the round's events; while it is not empty, the round
 * does not sleep.  (A timerfd armed and torn down per kick cost pvnet-front
 * a tenth of its CPU time.)
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

struct pv_watch {
	int fd;			/* -1 for a soon watch */
	int dead;
	int is_timer;		/* 1: timerfd, 2: soon (0 ms one-shot) */
	struct pv_watch *soon_next;
	pv_loop_cb cb;
	void *arg;
	struct pv_watch *next_dead;
	struct pv_watch *prev, *next;	/* live watches, freed by pv_loop_free */
};

struct pv_loop {
	struct pv_watch *live;
	int epfd;
	int stop;
	int dispatching;
	struct pv_watch *dead;
	struct pv_watch *soon_head, *soon_tail;
};

struct pv_loop *pv_loop_new(void)
{
	struct pv_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	return loop;
}

static void loop_reap(struct pv_loop *loop)
{
	while (loop->dead) {
		struct pv_watch *w = loop->dead;

		loop->dead = w->next_dead;
		if (w->is_timer == 1)
			close(w->fd);
		free(w);
	}
}

static void loop_link(struct pv_loop *loop, struct pv_watch *w)
{
	w->prev = NULL;
	w->next = loop->live;
	if (w->next)
		w->next->prev = w;
	loop->live = w;
}

static void loop_unlink(struct pv_loop *loop, struct pv_watch *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		loop->live = w->next;
	if (w->next)
		w->next->prev = w->prev;
}

/* Free the loop and any watch still on it (their fds stay the owners'; timers are closed). */
void pv_loop_free(struct pv_loop *loop)
{
	if (!loop)
		return;
	while (loop->live)
		pv_loop_del(loop, loop->live);
	loop_reap(loop);
	close(loop->epfd);
	free(loop);
}

struct pv_watch *pv_loop_add(struct pv_loop *loop, int fd, uint32_t events,
			     pv_loop_cb cb, void *arg)
{
	struct pv_watch *w = calloc(1, sizeof(*w));
	struct epoll_event ev = { .events = events };

	if (!w)
		return NULL;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(w);
		return NULL;
	}
	loop_link(loop, w);
	return w;
}

int pv_loop_mod(struct pv_loop *loop, struct pv_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

static void soon_unqueue(struct pv_loop *loop, struct pv_watch *w)
{
	struct pv_watch *prev = NULL;

	for (struct pv_watch *v = loop->soon_head; v; prev = v, v = v->soon_next) {
		if (v != w)
			continue;
		if (prev)
			prev->soon_next = v->soon_next;
		else
			loop->soon_head = v->soon_next;
		if (loop->soon_tail == v)
			loop->soon_tail = prev;
		w->soon_next = NULL;
		return;
	}
	/*
	 * Not on the list: already taken by the running round (which skips it
	 * once dead, and the dispatch keeps it allocated), or already run.
	 */
}

void pv_loop_del(struct pv_loop *loop, struct pv_watch *w)
{
	if (!w || w->dead)
		return;
	if (w->is_timer == 2)
		soon_unqueue(loop, w);
	else
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	loop_unlink(loop, w);
	w->dead = 1;
	w->next_dead = loop->dead;
	loop->dead = w;
	if (!loop->dispatching)
		loop_reap(loop);
}

static void timer_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_watch *w = arg;
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	w->cb(loop, fd, EPOLLIN, w->arg);
}

struct pv_watch *pv_loop_timer(struct pv_loop *loop, unsigned int first_ms,
			       unsigned int period_ms, pv_loop_cb cb, void *arg)
{
	struct itimerspec its = {
		.it_value = { first_ms / 1000, (long)(first_ms % 1000) * 1000000 },
		.it_interval = { period_ms / 1000, (long)(period_ms % 1000) * 1000000 },
	};
	struct pv_watch *w;
	int fd;

	if (!first_ms && !period_ms) {		/* soon: no timerfd */
		w = calloc(1, sizeof(*w));
		if (!w)
			return NULL;
		w->fd = -1;
		w->is_timer = 2;
		w->cb = cb;
		w->arg = arg;
		if (loop->soon_tail)
			loop->soon_tail->soon_next = w;
		else
			loop->soon_head = w;
		loop->soon_tail = w;
		loop_link(loop, w);
		return w;
	}
	if (!first_ms)
		its.it_value.tv_nsec = 1;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(fd);
		return NULL;
	}
	if (timerfd_settime(fd, 0, &its, NULL) < 0)
		goto fail;
	w->fd = fd;
	w->is_timer = 1;
	w->cb = cb;
	w->arg = arg;
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };

		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			goto fail;
	}
	loop_link(loop, w);
	return w;
fail:
	close(fd);
	free(w);
	return NULL;
}

void pv_loop_timer_del(struct pv_loop *loop, struct pv_watch *w)
{
	pv_loop_del(loop, w);
}

int pv_loop_once(struct pv_loop *loop, int timeout_ms)
{
	struct epoll_event evs[64];
	struct pv_watch *soon;
	int n;

	n = epoll_wait(loop->epfd, evs, 64, loop->soon_head ? 0 : timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	loop->dispatching = 1;
	for (int i = 0; i < n; i++) {
		struct pv_watch *w = evs[i].data.ptr;

		if (w->dead)
			continue;
		if (w->is_timer)
			timer_cb(loop, w->fd, evs[i].events, w);
		else
			w->cb(loop, w->fd, evs[i].events, w->arg);
	}
	/* The soon list as it is now; what these callbacks queue runs next round. */
	soon = loop->soon_head;
	loop->soon_head = loop->soon_tail = NULL;
	while (soon) {
		struct pv_watch *w = soon;

		soon = w->soon_next;
		w->soon_next = NULL;
		if (!w->dead) {
			w->cb(loop, -1, EPOLLIN, w->arg);
			n++;
		}
	}
	loop->dispatching = 0;
	loop_reap(loop);
	return n;
}

int pv_loop_run(struct pv_loop *loop)
{
	loop->stop = 0;
	while (!loop->stop) {
		int r = pv_loop_once(loop, -1);

		if (r < 0)
			return r;
	}
	return 0;
}

static uint64_t loop_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int pv_loop_run_poll(struct pv_loop *loop, unsigned int poll_us)
{
	uint64_t until = 0;

	if (!poll_us)
		return pv_loop_run(loop);
	loop->stop = 0;
	while (!loop->stop) {
		uint64_t now = loop_now_us();
		int r = pv_loop_once(loop, now < until ? 0 : -1);

		if (r < 0)
			return r;
		if (r > 0)
			until = loop_now_us() + poll_us;
		else if (now < until)
			sched_yield();	/* the CPU to whoever the next event waits for */
	}
	return 0;
}

void pv_loop_stop(struct pv_loop *loop)
{
	loop->stop = 1;
}

int pv_loop_signalfd(int hup)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (hup)
		sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}
