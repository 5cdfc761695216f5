/* SPDX-License-Identifier: MIT */
/*
 * loop.h - a small epoll event loop shared by pvnet's daemons.
 *
 * Every daemon is one thread around one loop: descriptors are watched with
 * a callback each, and timers are timerfds on the same loop.  Callbacks may
 * add and delete watches (also their own) freely: deletion is deferred
 * until the current dispatch round is over.
 */
#ifndef PVNET_LOOP_H
#define PVNET_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct pv_loop;
struct pv_watch;

typedef void (*pv_loop_cb)(struct pv_loop *loop, int fd, uint32_t events, void *arg);

struct pv_loop *pv_loop_new(void);
void pv_loop_free(struct pv_loop *loop);

/* Watch @fd for @events (EPOLLIN, EPOLLOUT, ...); returns a handle or NULL. */
struct pv_watch *pv_loop_add(struct pv_loop *loop, int fd, uint32_t events,
			     pv_loop_cb cb, void *arg);
int pv_loop_mod(struct pv_loop *loop, struct pv_watch *w, uint32_t events);
/* Stop watching; does not close the fd.  Safe from within any callback. */
void pv_loop_del(struct pv_loop *loop, struct pv_watch *w);

/*
 * A periodic or one-shot timer (@period_ms 0 = one-shot).  Returns a watch
 * whose fd is a timerfd the loop owns; pv_loop_timer_del closes it.  A
 * one-shot of 0 ms is "soon": no timerfd; its callback (fd -1) runs after
 * the current round's events, and the loop does not sleep while one waits.
 * Either way the caller deletes the watch (also from its own callback).
 */
struct pv_watch *pv_loop_timer(struct pv_loop *loop, unsigned int first_ms,
			       unsigned int period_ms, pv_loop_cb cb, void *arg);
void pv_loop_timer_del(struct pv_loop *loop, struct pv_watch *w);

/* Run until pv_loop_stop(); returns 0, or -errno on an epoll failure. */
int pv_loop_run(struct pv_loop *loop);
/* Run one round, waiting at most @timeout_ms (-1 = forever). */
int pv_loop_once(struct pv_loop *loop, int timeout_ms);
void pv_loop_stop(struct pv_loop *loop);
/*
 * pv_loop_run(), but bounded adaptive polling: for @poll_us after a pass
 * that dispatched anything, the loop does not sleep in epoll (it looks
 * again at once, and yields the CPU on an empty pass); with nothing for
 * @poll_us it sleeps as pv_loop_run() does.  An idle loop costs nothing;
 * what it saves is the wake-up of a sleeping process (and of an idle CPU)
 * for events that come close behind each other.  0: pv_loop_run().
 */
int pv_loop_run_poll(struct pv_loop *loop, unsigned int poll_us);

/*
 * Block SIGTERM and SIGINT (and SIGHUP with @hup), ignore SIGPIPE, and
 * return a non-blocking signalfd for them to watch on the loop; -1 on error.
 */
int pv_loop_signalfd(int hup);

#endif
