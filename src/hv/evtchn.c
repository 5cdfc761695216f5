/* SPDX-License-Identifier: MIT */
/*
 * evtchn.c - event channels over eventfds.
 *
 * Theory of operation
 *
 * A port is a small integer in its domain's table, as in Xen.  Each end
 * holds two eventfds: "in" (readable when the remote notifies) and "out"
 * (the remote's "in").  alloc_unbound creates both eventfds at once, the
 * second one waiting for whoever binds; bind_interdomain gives the binder
 * the same pair crossed over.  So notification needs no daemon round trip:
 * it is a write to an eventfd, and a flood of them coalesces into one
 * counter (an event storm costs the receiver one wake-up, XSA-332).
 *
 * pvnetd keeps its own copy of every descriptor it handed out so that it
 * can hand the pair to the binder and close it on teardown.  A guest may
 * keep its copies after closing; that lets it raise spurious events on its
 * former peer, which Xen's semantics already allow (receivers always check
 * their rings), and nothing else.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv.h"
#include "lib/log.h"

struct pv_evtchn *pv_evtchn_get(struct pv_hv *hv, unsigned int dom, uint32_t port)
{
	struct pv_domain *d = pv_domain_get(hv, dom);

	if (!d || port == 0 || port >= PV_HV_MAX_PORTS)
		return NULL;
	return d->ports[port].state == PV_EVTCHN_FREE ? NULL : &d->ports[port];
}

/* Port 0 is never used, as in Xen. */
static int evtchn_find_free(struct pv_domain *d)
{
	for (uint32_t p = 1; p < PV_HV_MAX_PORTS; p++)
		if (d->ports[p].state == PV_EVTCHN_FREE)
			return (int)p;
	return -ENOSPC;
}

static void evtchn_drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

/**
 * pv_evtchn_alloc_unbound() - EVTCHNOP_alloc_unbound
 * @dom: the allocating domain
 * @remote_dom: the only domain allowed to bind to the new port
 *
 * Return: the new port, or -ESRCH, -ENOSPC, -errno of eventfd().
 */
int pv_evtchn_alloc_unbound(struct pv_hv *hv, unsigned int dom, unsigned int remote_dom)
{
	struct pv_domain *d = pv_domain_get(hv, dom);
	struct pv_evtchn *c;
	int port, in, out;

	if (!d || !pv_domain_get(hv, remote_dom))
		return -ESRCH;
	hv->reclaim.domain[PV_HV_EVTCHN] = pv_evtchn_close_all;	/* ports exist from now */
	port = evtchn_find_free(d);
	if (port < 0)
		return port;
	in = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	out = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (in < 0 || out < 0) {
		int err = -errno;

		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		return err;
	}
	c = &d->ports[port];
	c->state = PV_EVTCHN_UNBOUND;
	c->remote_dom = (pv_domid_t)remote_dom;
	c->remote_port = 0;
	c->in_fd = in;
	c->out_fd = out;
	d->nr_bound++;
	hv->st.evtchn_alloc++;
	return port;
}

/**
 * pv_evtchn_bind_interdomain() - EVTCHNOP_bind_interdomain
 *
 * The remote port must be unbound and reserved for @dom.
 * Return: the local port, or -ESRCH, -EINVAL (remote port not bindable by
 * us), -ENOSPC, -EMFILE.
 */
int pv_evtchn_bind_interdomain(struct pv_hv *hv, unsigned int dom,
			       unsigned int remote_dom, uint32_t remote_port)
{
	struct pv_domain *d = pv_domain_get(hv, dom);
	struct pv_evtchn *r = pv_evtchn_get(hv, remote_dom, remote_port);
	struct pv_evtchn *c;
	int port, in, out;

	if (!d || !pv_domain_get(hv, remote_dom))
		return -ESRCH;
	if (!r || r->state != PV_EVTCHN_UNBOUND || r->remote_dom != dom)
		return -EINVAL;
	hv->reclaim.domain[PV_HV_EVTCHN] = pv_evtchn_close_all;
	port = evtchn_find_free(d);
	if (port < 0)
		return port;
	in = dup(r->out_fd);
	out = dup(r->in_fd);
	if (in < 0 || out < 0) {
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		return -EMFILE;
	}
	/* Whatever the allocator raised before we bound is not ours. */
	evtchn_drain(in);
	c = &d->ports[port];
	c->state = PV_EVTCHN_INTERDOMAIN;
	c->remote_dom = (pv_domid_t)remote_dom;
	c->remote_port = remote_port;
	c->in_fd = in;
	c->out_fd = out;
	r->state = PV_EVTCHN_INTERDOMAIN;
	r->remote_port = (uint32_t)port;
	d->nr_bound++;
	hv->st.evtchn_bind++;
	return port;
}

static void evtchn_free(struct pv_domain *d, struct pv_evtchn *c)
{
	close(c->in_fd);
	close(c->out_fd);
	c->in_fd = c->out_fd = -1;
	c->state = PV_EVTCHN_FREE;
	d->nr_bound--;
}

/*
 * The remote end of a closed interdomain channel goes back to unbound, as
 * in Xen.  It gets a fresh "out" eventfd so that a later binder does not
 * share one with the domain that closed.
 */
static void evtchn_unbind_remote(struct pv_hv *hv, struct pv_evtchn *c)
{
	struct pv_domain *rd = hv->doms[c->remote_dom < PV_MAX_DOMAINS ? c->remote_dom : 0];
	struct pv_evtchn *r;
	int fresh;

	if (c->state != PV_EVTCHN_INTERDOMAIN || !rd || c->remote_port >= PV_HV_MAX_PORTS)
		return;
	r = &rd->ports[c->remote_port];
	if (r->state != PV_EVTCHN_INTERDOMAIN)
		return;
	r->state = PV_EVTCHN_UNBOUND;
	r->remote_port = 0;
	fresh = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fresh >= 0) {
		close(r->out_fd);
		r->out_fd = fresh;
	}
}

/**
 * pv_evtchn_close() - EVTCHNOP_close
 * Return: 0 or -EINVAL (no such port).
 */
int pv_evtchn_close(struct pv_hv *hv, unsigned int dom, uint32_t port)
{
	struct pv_domain *d = pv_domain_get(hv, dom);
	struct pv_evtchn *c = pv_evtchn_get(hv, dom, port);

	if (!d || !c)
		return -EINVAL;
	evtchn_unbind_remote(hv, c);
	evtchn_free(d, c);
	hv->st.evtchn_close++;
	return 0;
}

/**
 * pv_evtchn_notify() - EVTCHNOP_send, for ports pvnetd itself owns
 * Return: 0, or -EINVAL for a port that is not bound.
 */
int pv_evtchn_notify(struct pv_hv *hv, unsigned int dom, uint32_t port)
{
	struct pv_evtchn *c = pv_evtchn_get(hv, dom, port);
	uint64_t one = 1;

	if (!c || c->state != PV_EVTCHN_INTERDOMAIN)
		return -EINVAL;
	/* EAGAIN means the counter is saturated: the remote has events pending anyway. */
	if (write(c->out_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/* Close every port of a domain (teardown); bound remotes become unbound. */
void pv_evtchn_close_all(struct pv_hv *hv, struct pv_domain *d)
{
	for (uint32_t p = 1; p < PV_HV_MAX_PORTS && d->nr_bound; p++) {
		struct pv_evtchn *c = &d->ports[p];

		if (c->state == PV_EVTCHN_FREE)
			continue;
		evtchn_unbind_remote(hv, c);
		evtchn_free(d, c);
		hv->st.evtchn_close++;
	}
}
