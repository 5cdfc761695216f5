/* SPDX-License-Identifier: MIT */
/*
 * host.h - run pvnetd's hypervisor services and xenstore in a thread of
 * the test process, on a fresh run directory.
 *
 * The host thread owns the loop, hv and xs exclusively while it runs; the
 * test's main thread talks to it only through the sockets, as a guest does.
 * host_sync() runs a function on the host thread, for looking at hv state.
 *
 * host_inline, set before host_start() (a fuzzer, with tests/lib/host_inline.h):
 * no host thread.  The caller's thread runs the loop itself: host_sync()
 * runs every round the loop has ready, then @fn, then the rounds that
 * follow; a blocking wait of the caller's for a reply runs rounds until
 * the reply is there.  One thread: no wake-ups (in a VM each costs more
 * than the work they carry), and the same input does the same thing.
 */
#ifndef PVNET_TEST_HOST_H
#define PVNET_TEST_HOST_H

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv/hv.h"
#include "hv/xs.h"
#include "lib/log.h"

/* Under AddressSanitizer freed memory sits in quarantine: RSS says nothing. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN 0
#endif

struct test_host {
	char dir[64];
	char hv_path[128];
	char xs_path[128];
	struct pv_loop *loop;
	struct pv_hv *hv;
	struct xs_server *xs;
	pthread_t thread;
	int ctl_fd;			/* eventfd: a sync request is waiting */
	struct pv_watch *ctl_w;
	int done_fd;			/* eventfd: it is done */
	void (*fn)(struct test_host *h, void *arg);
	void *arg;
	int stop;
	int inline_loop;	/* host_inline: no thread */
};

static int host_inline;
static struct test_host *host_inline_h;	/* the inline host, for host_inline.h */
static int host_in_loop;		/* in a round: the loop's own calls */

/* One round of the inline host's loop, waiting at most @timeout_ms. */
static inline int host_round(struct test_host *h, int timeout_ms)
{
	int r;

	host_in_loop = 1;
	r = pv_loop_once(h->loop, timeout_ms);
	host_in_loop = 0;
	return r;
}

/* Rounds until nothing is ready; a loop that never goes idle is a bug. */
static inline void host_settle(struct test_host *h)
{
	for (int i = 0; host_round(h, 0) > 0; i++)
		if (i == 100000) {
			fprintf(stderr, "host: the loop never goes idle\n");
			abort();
		}
}

static inline void host_ctl_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct test_host *h = arg;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return;
	if (h->fn)
		h->fn(h, h->arg);
	if (h->stop)
		pv_loop_stop(loop);
	v = 1;
	if (write(h->done_fd, &v, sizeof(v)) != sizeof(v))
		abort();
}

static inline void *host_main(void *arg)
{
	struct test_host *h = arg;

	pv_loop_run(h->loop);
	return NULL;
}

static inline struct test_host *host_start(void)
{
	struct test_host *h = calloc(1, sizeof(*h));
	struct xs_quota q;

	snprintf(h->dir, sizeof(h->dir), "/tmp/pvnet-test.XXXXXX");
	if (!mkdtemp(h->dir))
		abort();
	snprintf(h->hv_path, sizeof(h->hv_path), "%s/hv.sock", h->dir);
	snprintf(h->xs_path, sizeof(h->xs_path), "%s/xenstored.sock", h->dir);
	pv_log_init("test-host", getenv("PVNET_TEST_DEBUG") ? PV_LOG_DEBUG : PV_LOG_ERR, 0);
	h->loop = pv_loop_new();
	xs_quota_default(&q);
	h->xs = xs_server_new(h->loop, h->xs_path, &q);
	h->hv = pv_hv_new(h->loop, h->xs);
	if (!h->loop || !h->xs || !h->hv || pv_hvsock_listen(h->hv, h->hv_path) < 0)
		abort();
	h->ctl_fd = eventfd(0, EFD_CLOEXEC);
	h->done_fd = eventfd(0, EFD_CLOEXEC);
	h->ctl_w = pv_loop_add(h->loop, h->ctl_fd, EPOLLIN, host_ctl_cb, h);
	h->inline_loop = host_inline;
	if (h->inline_loop)
		host_inline_h = h;
	else
		pthread_create(&h->thread, NULL, host_main, h);
	return h;
}

/*
 * Run @fn on the host thread and wait for it.  A signal may interrupt the
 * wait (libFuzzer's -timeout alarm every timeout/2 s): retried.
 */
static inline void host_sync(struct test_host *h, void (*fn)(struct test_host *, void *), void *arg)
{
	uint64_t v = 1;
	ssize_t r;

	if (h->inline_loop) {
		host_settle(h);
		if (fn)
			fn(h, arg);
		host_settle(h);
		return;
	}
	h->fn = fn;
	h->arg = arg;
	while ((r = write(h->ctl_fd, &v, sizeof(v))) < 0 && errno == EINTR)
		;
	if (r != sizeof(v))
		abort();
	while ((r = read(h->done_fd, &v, sizeof(v))) < 0 && errno == EINTR)
		;
	if (r != sizeof(v))
		abort();
	h->fn = NULL;
}

static inline void host_stop(struct test_host *h)
{
	char cmd[128];

	h->stop = 1;
	host_sync(h, NULL, NULL);
	if (h->inline_loop)
		host_inline_h = NULL;
	else
		pthread_join(h->thread, NULL);
	pv_loop_del(h->loop, h->ctl_w);
	pv_hv_free(h->hv);
	xs_server_free(h->xs);
	pv_loop_free(h->loop);
	close(h->ctl_fd);
	close(h->done_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", h->dir);
	free(h);
}

/* Open descriptors of this process. */
static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the DIR's own */
}

/* Resident set of this process, in KiB. */
static inline long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

#endif
