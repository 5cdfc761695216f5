/* SPDX-License-Identifier: MIT */
/*
 * test_grant.c - every rule of the grant check, with a good and a bad case,
 * through the real path: a guest registered over hv.sock writes its grant
 * table; pvnetd's side (the host thread) maps and copies.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>

#include "../lib/test.h"
#include "../lib/host.h"
#include "guest/guest.h"

struct op {
	unsigned int dom;
	grant_ref_t ref;
	int readonly;
	uint32_t offset, len;
	int kind;		/* 0 map (and keep), 1 unmap kept, 2 copy_from, 3 copy_to */
	uint8_t buf[PV_PAGE_SIZE];
	struct pv_gnt_map m;
	int ret;
};

static void host_op(struct test_host *h, void *arg)
{
	struct op *o = arg;

	switch (o->kind) {
	case 0:
		o->ret = pv_gnt_map(h->hv, o->dom, o->ref, 0, o->readonly, &o->m);
		if (o->ret == 0)
			memcpy(o->buf, o->m.page, 16);
		break;
	case 1:
		pv_gnt_unmap(h->hv, &o->m);
		o->ret = 0;
		break;
	case 2:
		o->ret = pv_gnt_copy_from(h->hv, o->dom, o->ref, 0, o->offset, o->len, o->buf);
		break;
	case 3:
		o->ret = pv_gnt_copy_to(h->hv, o->dom, o->ref, 0, o->offset, o->buf, o->len);
		break;
	}
}

static int do_op(struct test_host *h, struct op *o, int kind, grant_ref_t ref, int ro,
		 uint32_t off, uint32_t len)
{
	o->kind = kind;
	o->ref = ref;
	o->readonly = ro;
	o->offset = off;
	o->len = len;
	host_sync(h, host_op, o);
	return o->ret;
}

int main(void)
{
	struct test_host *h = host_start();
	static struct op o;
	struct pv_guest *g, *g2;
	grant_entry_v1_t *tab;
	uint8_t *page;
	int err, ref, ro_ref, other_ref;

	g = pv_guest_register(h->hv_path, "granter", 16, 64, &err);
	T_CHECK(g != NULL, "guest registers", "err %d", err);
	g2 = pv_guest_register(h->hv_path, "other", 4, 16, &err);
	T_CHECK(g2 != NULL, "second guest registers", "err %d", err);
	if (!g || !g2)
		return t_done();
	o.dom = pv_guest_domid(g);
	tab = pv_guest_gnttab(g);
	page = pv_guest_frame(g, 3);
	memcpy(page, "guest page three", 16);

	ref = pv_guest_grant(g, 0, 3, 0);
	T_CHECK(ref >= 8, "grant refs start after the reserved ones", "ref %d", ref);

	/* Good: map sees the guest's bytes. */
	T_EQ(do_op(h, &o, 0, ref, 0, 0, 0), 0, "map of a good grant succeeds");
	T_CHECK(!memcmp(o.buf, "guest page three", 16), "mapped page is the granted frame", "got %.16s", o.buf);
	T_CHECK(tab[ref].flags & GTF_writing, "writable map sets GTF_writing", "flags %#x", tab[ref].flags);
	T_EQ(pv_guest_end_grant(g, ref), -EBUSY, "revoke while mapped fails");
	T_EQ(do_op(h, &o, 1, ref, 0, 0, 0), 0, "unmap");
	T_CHECK(!(tab[ref].flags & (GTF_reading | GTF_writing)), "unmap clears GTF_reading/writing",
		"flags %#x", tab[ref].flags);
	T_EQ(pv_guest_end_grant(g, ref), 0, "revoke after unmap succeeds");

	/* Ref out of range. */
	T_EQ(do_op(h, &o, 0, 64, 0, 0, 0), -ERANGE, "ref == nr_grants refused");
	T_EQ(do_op(h, &o, 0, 0xffffffffu, 0, 0, 0), -ERANGE, "ref 0xffffffff refused");
	/* Never granted (and revoked). */
	T_EQ(do_op(h, &o, 0, 20, 1, 0, 0), -ENOENT, "never-granted ref refused");
	T_EQ(do_op(h, &o, 0, ref, 1, 0, 0), -ENOENT, "revoked ref refused");
	/* Wrong grantee. */
	other_ref = pv_guest_grant(g, pv_guest_domid(g2), 3, 0);
	T_EQ(do_op(h, &o, 0, other_ref, 1, 0, 0), -EACCES, "grant to another domain refused to dom0");
	/* Read-only. */
	ro_ref = pv_guest_grant(g, 0, 3, 1);
	T_EQ(do_op(h, &o, 0, ro_ref, 1, 0, 0), 0, "read-only grant mapped read-only");
	T_CHECK((tab[ro_ref].flags & (GTF_reading | GTF_writing)) == GTF_reading,
		"read-only map sets only GTF_reading", "flags %#x", tab[ro_ref].flags);
	do_op(h, &o, 1, ro_ref, 1, 0, 0);
	T_EQ(do_op(h, &o, 0, ro_ref, 0, 0, 0), -EROFS, "read-only grant mapped writable refused");
	memset(o.buf, 'x', 8);
	T_EQ(do_op(h, &o, 3, ro_ref, 0, 0, 8), -EROFS, "copy into a read-only grant refused");
	T_EQ(do_op(h, &o, 2, ro_ref, 0, 0, 8), 0, "copy from a read-only grant allowed");
	/* Frame out of range (the guest writes the entry itself). */
	pv_gnttab_grant_access(&tab[30], 0, 16, 0);
	T_EQ(do_op(h, &o, 0, 30, 1, 0, 0), -EFAULT, "frame == nr_pages refused");
	pv_gnttab_grant_access(&tab[31], 0, 0xfffffff0u, 0);
	T_EQ(do_op(h, &o, 0, 31, 1, 0, 0), -EFAULT, "huge frame refused");
	pv_gnttab_grant_access(&tab[32], 0, 15, 0);
	T_EQ(do_op(h, &o, 0, 32, 1, 0, 0), 0, "last frame accepted");
	do_op(h, &o, 1, 32, 1, 0, 0);
	/* Offset + length. */
	ref = pv_guest_grant(g, 0, 5, 0);
	memset(o.buf, 0xab, sizeof(o.buf));
	T_EQ(do_op(h, &o, 3, ref, 0, 4000, 96), 0, "copy ending exactly at the page end");
	T_CHECK(((uint8_t *)pv_guest_frame(g, 5))[4095] == 0xab, "copy_to reached the guest page", "byte %#x",
		((uint8_t *)pv_guest_frame(g, 5))[4095]);
	T_EQ(do_op(h, &o, 3, ref, 0, 4000, 97), -EINVAL, "copy across the page end refused");
	T_EQ(do_op(h, &o, 2, ref, 0, 4096, 0), 0, "zero-length copy at the page end is in range");
	T_EQ(do_op(h, &o, 2, ref, 0, 4097, 0), -EINVAL, "offset beyond the page refused");
	T_EQ(do_op(h, &o, 2, ref, 0, 0xfffffff0u, 0x20), -EINVAL, "offset+len overflowing 32 bits refused");
	T_EQ(do_op(h, &o, 2, ref, 0, 16, 0xffffffffu), -EINVAL, "len 0xffffffff refused");
	T_CHECK(((uint8_t *)pv_guest_frame(g, 5))[0] == 0, "refused copies wrote nothing", "byte %#x",
		((uint8_t *)pv_guest_frame(g, 5))[0]);
	T_EQ(pv_guest_end_grant(g, ref), 0, "copy leaves no pin behind");
	/* The memfds are sealed: the guest cannot shrink its memory under pvnetd. */
	{
		int mfd = -1;

		for (int fd = 3; fd < 256 && mfd < 0; fd++) {
			char link[256] = "";
			char path[64];
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			n = readlink(path, link, sizeof(link) - 1);
			if (n > 0 && strstr(link, "memfd:pvnet-mem"))
				mfd = fd;
		}
		T_CHECK(mfd >= 0 && ftruncate(mfd, 0) < 0 && errno == EPERM,
			"guest memory memfd is sealed against shrinking", "fd %d errno %d", mfd, errno);
	}
	/* A map left live when the guest dies is reclaimed. */
	ref = pv_guest_grant(g2, 0, 1, 0);
	o.dom = pv_guest_domid(g2);
	T_EQ(do_op(h, &o, 0, ref, 0, 0, 0), 0, "map in the second guest");
	pv_guest_close(g2);
	usleep(100000);
	T_EQ(do_op(h, &o, 0, ref, 0, 0, 0), -ESRCH, "map from a destroyed domain refused");
	pv_guest_close(g);
	host_stop(h);
	return t_done();
}
