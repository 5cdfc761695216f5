/* SPDX-License-Identifier: MIT */
/*
 * dummy_front.c - the frontend half of the "dummy" test accelerator (see
 * dummy.h): a policy knob decides each frame's answer, "sent" frames go to
 * a callback, held frames wait for a release, injected frames come in
 * through an eventfd "interrupt" and poll.  Not a fast path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "accel/dummy.h"
#include "lib/loop.h"
#include "pvnet/accel.h"

#define DUMMY_FRAME_MAX 65535

struct pv_dummy_dev {
	struct pv_dummy_front *df;
	struct pv_accel_front_dev *dev;
	int efd;			/* the "interrupt": injected frames wait */
	struct pv_watch *w;
	int irq_on;
	uint8_t *lin;			/* a frame made contiguous */
	uint8_t *held;			/* the BUSY frame */
	uint8_t *loan;			/* the buffers lent by tx_lend (1.3) */
	struct iovec loan_iov[PV_DUMMY_LEND_MAX];
	int loan_out;			/* iovecs lent now; 0: none */
	uint32_t held_len;
	struct virtio_net_hdr held_vh;
	int has_held, held_has_vh;
	struct { uint8_t *p; uint32_t len; } rxq[PV_DUMMY_RXQ];
	unsigned int rx_head, rx_count;
	struct pv_accel_stats pend;	/* counted since the last get_stats */
};

static uint32_t dummy_linear(uint8_t *dst, const struct iovec *iov, int iovcnt, uint32_t len)
{
	uint32_t got = 0;

	for (int i = 0; i < iovcnt && got < len; i++) {
		uint32_t n = (uint32_t)iov[i].iov_len < len - got ? (uint32_t)iov[i].iov_len : len - got;

		memcpy(dst + got, iov[i].iov_base, n);
		got += n;
	}
	return got;
}

/* "Transmit": the side channel, counted for get_stats. */
static void dummy_wire(struct pv_dummy_dev *d, const uint8_t *frame, uint32_t len)
{
	if (d->df->wire)
		d->df->wire(d->df->warg, frame, len);
	d->pend.tx_packets++;
	d->pend.tx_bytes += len;
	d->df->tx_packets_total++;
}

static void dummy_irq_cb(struct pv_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pv_dummy_dev *d = arg;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	if (d->irq_on)
		pv_accel_front_kick(d->dev);	/* the interrupt: netfront polls us */
}

static void dummy_dev_free(struct pv_dummy_dev *d)
{
	if (d->w)
		pv_loop_del(pv_accel_front_loop(d->dev), d->w);
	if (d->efd >= 0)
		close(d->efd);
	for (unsigned int i = 0; i < d->rx_count; i++)
		free(d->rxq[(d->rx_head + i) % PV_DUMMY_RXQ].p);
	free(d->lin);
	free(d->held);
	free(d->loan);
	free(d);
}

static int dummy_new_device(struct pv_accel_front_dev *dev, void *arg)
{
	struct pv_dummy_front *df = arg;
	struct pv_dummy_dev *d;

	if (df->refuse || df->dev)
		return -ENODEV;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->df = df;
	d->dev = dev;
	d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->lin = malloc(DUMMY_FRAME_MAX);
	d->held = malloc(DUMMY_FRAME_MAX);
	d->loan = malloc(DUMMY_FRAME_MAX);
	d->irq_on = 1;
	if (d->efd >= 0)
		d->w = pv_loop_add(pv_accel_front_loop(dev), d->efd, EPOLLIN, dummy_irq_cb, d);
	if (d->efd < 0 || !d->w || !d->lin || !d->held || !d->loan) {
		dummy_dev_free(d);
		return -ENOMEM;
	}
	pv_accel_front_set_priv(dev, d);
	df->dev = d;
	df->new_devices++;
	return 0;
}

static void dummy_remove(struct pv_accel_front_dev *dev)
{
	struct pv_dummy_dev *d = pv_accel_front_priv(dev);
	struct pv_dummy_front *df = d->df;

	/* A held frame is handed back: the slow path sends it. */
	if (d->has_held) {
		if (pv_accel_front_return(dev, d->held_has_vh ? &d->held_vh : NULL, d->held,
					  d->held_len) == 0)
			df->returned++;
		else
			df->return_failed++;
		d->has_held = 0;
	}
	df->unreported_at_remove += d->pend.tx_packets + d->pend.rx_packets;
	df->removes++;
	df->dev = NULL;
	dummy_dev_free(d);
}

static enum pv_accel_xmit dummy_start_xmit(struct pv_accel_front_dev *dev,
					   const struct virtio_net_hdr *vh,
					   const struct iovec *iov, int iovcnt, uint32_t len)
{
	struct pv_dummy_dev *d = pv_accel_front_priv(dev);
	struct pv_dummy_front *df = d->df;
	enum pv_dummy_policy p = df->policy;

	df->offered++;
	if (p == PV_DUMMY_CYCLE)
		p = (enum pv_dummy_policy[]){ PV_DUMMY_SENT, PV_DUMMY_NOT_SENT,
					      PV_DUMMY_BUSY }[df->cycle++ % 3];
	/* Every NOT_SENT test before any BUSY test (ORIGINAL.md). */
	if (p == PV_DUMMY_NOT_SENT || len > DUMMY_FRAME_MAX) {
		df->not_sent++;
		return PV_ACCEL_NOT_SENT;
	}
	if (d->has_held) {		/* netfront should have stopped: say so, keep order */
		df->xmit_while_held++;
		df->busy++;
		return PV_ACCEL_BUSY;
	}
	if (p == PV_DUMMY_SENT) {
		dummy_wire(d, d->lin, dummy_linear(d->lin, iov, iovcnt, len));
		df->sent++;
		return PV_ACCEL_SENT;
	}
	d->held_len = dummy_linear(d->held, iov, iovcnt, len);
	d->held_has_vh = vh != NULL;
	if (vh)
		d->held_vh = *vh;
	d->has_held = 1;
	df->busy++;
	if (!df->hold)
		pv_accel_front_kick(dev);	/* "TX done" soon: poll releases it */
	return PV_ACCEL_BUSY;
}

static void dummy_release_held(struct pv_dummy_dev *d)
{
	dummy_wire(d, d->held, d->held_len);
	d->has_held = 0;
	d->df->released++;
}

static int dummy_poll(struct pv_accel_front_dev *dev, int budget)
{
	struct pv_dummy_dev *d = pv_accel_front_priv(dev);
	int n = 0;

	d->df->polls++;
	if (d->has_held && !d->df->hold)
		dummy_release_held(d);
	while (n < budget && d->rx_count) {
		struct iovec iov;
		unsigned int i = d->rx_head;

		iov.iov_base = d->rxq[i].p;
		iov.iov_len = d->rxq[i].len;
		if (pv_accel_front_deliver(dev, NULL, &iov, 1, d->rxq[i].len) == 0) {
			d->pend.rx_packets++;
			d->pend.rx_bytes += d->rxq[i].len;
			d->df->rx_packets_total++;
			d->df->rx_delivered++;
		} else {
			d->pend.rx_dropped++;
			d->df->rx_refused++;
		}
		free(d->rxq[i].p);
		d->rx_head = (i + 1) % PV_DUMMY_RXQ;
		d->rx_count--;
		n++;
	}
	return n;
}

static int dummy_start_irq(struct pv_accel_front_dev *dev)
{
	struct pv_dummy_dev *d = pv_accel_front_priv(dev);

	d->df->start_irqs++;
	d->irq_on = 1;
	return d->rx_count > 0;
}

static void dummy_stop_irq(struct pv_accel_front_dev *dev)
{
	struct pv_dummy_dev *d = pv_accel_front_priv(dev);

	d->df->stop_irqs++;
	d->irq_on = 0;
}

static int dummy_check_ready(struct pv_accel_front_dev *dev)
{
	struct pv_dummy_dev *d = pv_accel_front_priv(dev);

	d->df->check_readys++;
	return !d->has_held;
}

static void dummy_get_stats(struct pv_accel_front_dev *dev, struct pv_accel_stats *delta)
{
	struct pv_dummy_dev *d = pv_accel_front_priv(dev);

	d->df->stats_calls++;
	delta->tx_packets += d->pend.tx_packets;
	delta->tx_bytes += d->pend.tx_bytes;
	delta->rx_packets += d->pend.rx_packets;
	delta->rx_bytes += d->pend.rx_bytes;
	delta->rx_dropped += d->pend.rx_dropped;
	memset(&d->pend, 0, sizeof(d->pend));
}

/*
 * The loan (accel.h 1.3): with df->lend, DUMMY_FRAME_MAX bytes in
 * df->lend-byte iovecs.  The frame read into them gets start_xmit's answer
 * (copied out like any other: this plugin is no fast path).
 */
static int dummy_tx_lend(struct pv_accel_front_dev *dev, struct iovec *iov, int max)
{
	struct pv_dummy_dev *d = pv_accel_front_priv(dev);
	struct pv_dummy_front *df = d->df;
	uint32_t off = 0;
	int n = 0;

	if (d->loan_out)
		df->lend_misuse++;	/* two loans at once: a host bug */
	if (!df->lend || d->has_held)
		return 0;
	for (; off < DUMMY_FRAME_MAX && n < max && n < PV_DUMMY_LEND_MAX; n++) {
		uint32_t c = DUMMY_FRAME_MAX - off < df->lend ? DUMMY_FRAME_MAX - off : df->lend;

		d->loan_iov[n].iov_base = d->loan + off;
		d->loan_iov[n].iov_len = c;
		iov[n] = d->loan_iov[n];
		off += c;
	}
	d->loan_out = n;
	df->lends++;
	return n;
}

static enum pv_accel_xmit dummy_tx_lent(struct pv_accel_front_dev *dev,
					const struct virtio_net_hdr *vh, uint32_t len)
{
	struct pv_dummy_dev *d = pv_accel_front_priv(dev);
	enum pv_accel_xmit r;

	if (!d->loan_out) {
		d->df->lend_misuse++;
		return PV_ACCEL_NOT_SENT;
	}
	r = dummy_start_xmit(dev, vh, d->loan_iov, d->loan_out, len);
	d->df->lent_frames++;
	if (r != PV_ACCEL_NOT_SENT)
		d->loan_out = 0;	/* the plugin's again: it copied the frame */
	return r;
}

static void dummy_tx_unlend(struct pv_accel_front_dev *dev)
{
	struct pv_dummy_dev *d = pv_accel_front_priv(dev);

	if (!d->loan_out)
		d->df->lend_misuse++;
	d->loan_out = 0;
	d->df->unlends++;
}

static const struct pv_accel_front_ops dummy_front_ops = {
	.version = PV_ACCEL_FRONT_VERSION,
	.size = sizeof(struct pv_accel_front_ops),
	.name = PV_DUMMY_NAME,
	.new_device = dummy_new_device,
	.remove = dummy_remove,
	.start_xmit = dummy_start_xmit,
	.poll = dummy_poll,
	.start_irq = dummy_start_irq,
	.stop_irq = dummy_stop_irq,
	.check_ready = dummy_check_ready,
	.get_stats = dummy_get_stats,
	.tx_lend = dummy_tx_lend,
	.tx_lent = dummy_tx_lent,
	.tx_unlend = dummy_tx_unlend,
};

/**
 * pv_dummy_front_register() - register "dummy" with @df as its instance
 */
int pv_dummy_front_register(struct pv_dummy_front *df)
{
	return pv_accel_front_register(&dummy_front_ops, df);
}

int pv_dummy_front_unregister(void)
{
	return pv_accel_front_unregister(PV_DUMMY_NAME);
}

int pv_dummy_front_release(struct pv_dummy_front *df)
{
	if (!df->dev || !df->dev->has_held)
		return -ENOENT;
	dummy_release_held(df->dev);
	pv_accel_front_kick(df->dev->dev);	/* TX may resume: check_ready */
	return 0;
}

int pv_dummy_front_held(const struct pv_dummy_front *df)
{
	return df->dev && df->dev->has_held;
}

int pv_dummy_front_get_fds(struct pv_dummy_front *df, int *fds, unsigned int max)
{
	return df->dev ? pv_accel_front_get_fds(df->dev->dev, fds, max) : -ENODEV;
}

/**
 * pv_dummy_front_inject() - a frame "from the NIC": queued, then the interrupt
 */
int pv_dummy_front_inject(struct pv_dummy_front *df, const void *frame, uint32_t len)
{
	struct pv_dummy_dev *d = df->dev;
	uint64_t one = 1;
	uint8_t *p;

	if (!d)
		return -ENOTCONN;
	if (d->rx_count == PV_DUMMY_RXQ || len > DUMMY_FRAME_MAX || !(p = malloc(len ? len : 1)))
		return -ENOBUFS;
	memcpy(p, frame, len);
	d->rxq[(d->rx_head + d->rx_count) % PV_DUMMY_RXQ].p = p;
	d->rxq[(d->rx_head + d->rx_count) % PV_DUMMY_RXQ].len = len;
	d->rx_count++;
	return write(d->efd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}
