/* SPDX-License-Identifier: MIT */
/*
 * test_seqpacket.c - pv_seqpacket_call() (src/lib/seqpacket_call.c) while
 * signals arrive: a SIGALRM every 5 ms, its handler installed without
 * SA_RESTART (as libFuzzer's -timeout alarm is), must neither fail a call
 * whose reply comes later (it returned -EINTR: fuzz_netback_tx found it)
 * nor keep a call without a reply from timing out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../lib/test.h"
#include "lib/seqpacket_call.h"

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The peer: take one request, answer it after 100 ms with body "ok". */
static void *peer(void *arg)
{
	int fd = *(int *)arg;
	struct { struct pv_sp_hdr h; char b[16]; } m;
	ssize_t n = recv(fd, &m, sizeof(m), 0);
	struct timespec d = { 0, 100 * 1000000 };

	if (n < (ssize_t)sizeof(m.h))
		return NULL;
	while (nanosleep(&d, &d) < 0 && errno == EINTR)
		;
	m.h.len = 2;
	m.h.err = 0;
	memcpy(m.b, "ok", 2);
	if (send(fd, &m, sizeof(m.h) + 2, MSG_NOSIGNAL) < 0)
		return NULL;
	return NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = { { 0, 5000 }, { 0, 5000 } };
	char body[8] = { 0 };
	struct pv_sp_reply r = { .body = body, .body_max = sizeof(body), .recv_max = 64 };
	int sv[2], rc;
	pthread_t th;
	uint64_t t0;
	sigset_t block;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		return 1;
	}
	/* The alarms go to the main thread, the caller. */
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	pthread_create(&th, NULL, peer, &sv[1]);
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);

	rc = pv_seqpacket_call(sv[0], 7, 42, "hi", 2, NULL, 0, &r, 2000);
	T_EQ(rc, 0, "a reply 100 ms late, signals meanwhile: the call succeeds");
	T_CHECK(!memcmp(body, "ok", 2), "... with the reply's body", "body '%.2s'", body);
	T_CHECK(alarms > 0, "... and signals did arrive during it", "%d alarms", (int)alarms);
	pthread_join(th, NULL);

	t0 = now_ms();
	rc = pv_seqpacket_call(sv[0], 7, 43, "hi", 2, NULL, 0, &r, 200);
	T_EQ(rc, -ETIMEDOUT, "no reply, signals every 5 ms: the call still times out");
	T_CHECK(now_ms() - t0 < 1500, "... within its timeout (200 ms), not later",
		"%llu ms", (unsigned long long)(now_ms() - t0));

	it.it_value.tv_usec = it.it_interval.tv_usec = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	close(sv[0]);
	close(sv[1]);
	return t_done();
}
