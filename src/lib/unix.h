/* SPDX-License-Identifier: MIT */
/*
 * unix.h - Unix socket helpers shared by the daemons, the guest library
 * and the tools: connect by path, send with descriptors attached.
 */
#ifndef PVNET_UNIX_H
#define PVNET_UNIX_H

#include <stddef.h>
#include <sys/uio.h>

#define PV_SCM_MAX_FDS 8

/* Connect a @type (SOCK_STREAM, SOCK_SEQPACKET) socket to @path; fd or -errno. */
int pv_unix_connect(const char *path, int type);
/* sendmsg() of @iov with @nfds descriptors (SCM_RIGHTS); 0 or -errno. */
int pv_unix_send_fds(int fd, const struct iovec *iov, int iovcnt,
		     const int *fds, unsigned int nfds, int flags);

#endif
