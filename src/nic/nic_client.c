/* SPDX-License-Identifier: MIT */
/*
 * nic_client.c - pvnet-nicd's control client and the VI user's mapping
 * (see nic_client.h).  The control client is synchronous: one request, then
 * wait for the reply with the same seq; replies to earlier requests that
 * timed out are skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nic_client.h"
#include "lib/unix.h"
#include "lib/seqpacket_call.h"

int nic_client_connect(const char *path)
{
	return pv_unix_connect(path, SOCK_SEQPACKET);
}

_Static_assert(sizeof(struct pv_nic_hdr) == sizeof(struct pv_sp_hdr) &&
	       offsetof(struct pv_nic_hdr, seq) == offsetof(struct pv_sp_hdr, seq) &&
	       offsetof(struct pv_nic_hdr, err) == offsetof(struct pv_sp_hdr, err),
	       "pv_nic_hdr is the seqpacket call header");

int nic_client_call(int fd, uint16_t type, const void *body, uint32_t blen,
		    const int *fds, unsigned int nfds, void *out, uint32_t omax,
		    int *rfds, int timeout_ms)
{
	static __thread uint32_t next_seq;
	const struct pv_sp_reply r = {
		.body = out, .body_max = omax, .recv_max = PV_NIC_MSG_MAX,
		.rfds = rfds, .rfds_max = 3,
	};

	if (rfds)
		rfds[0] = rfds[1] = rfds[2] = -1;
	if (blen > PV_NIC_MSG_MAX)
		return -EINVAL;
	return pv_seqpacket_call(fd, type, ++next_seq, body, blen, fds, nfds, &r, timeout_ms);
}

#define CALL(fd, type, body, out, omax) \
	nic_client_call((fd), (type), (body), sizeof(*(body)), NULL, 0, (out), (omax), NULL, 5000)

static int client_vi_req(int fd, uint16_t type, uint32_t vi_id, void *out, uint32_t omax)
{
	struct pv_nic_vi_req q = { .vi_id = vi_id };

	return CALL(fd, type, &q, out, omax);
}

int nic_client_vi_alloc(int fd, struct nic_client_vi *vi)
{
	return nic_client_vi_alloc_flags(fd, 0, vi);
}

/* A VI with PV_NIC_VI_F_* @flags (only what INFO's features offer; else -EINVAL). */
int nic_client_vi_alloc_flags(int fd, uint32_t flags, struct nic_client_vi *vi)
{
	struct pv_nic_vi_alloc a = { .version = PV_NIC_VERSION, .flags = flags };
	struct pv_nic_vi_alloc_reply ar = { 0 };
	int rfds[3], rc;

	rc = nic_client_call(fd, PV_NIC_VI_ALLOC, &a, sizeof(a), NULL, 0, &ar, sizeof(ar), rfds, 5000);
	if (!rc && (rfds[0] < 0 || rfds[1] < 0 || rfds[2] < 0))
		rc = -EPROTO;
	if (rc) {
		for (int i = 0; i < 3; i++)
			if (rfds[i] >= 0)
				close(rfds[i]);
		return rc;
	}
	*vi = (struct nic_client_vi){ .vi_id = ar.vi_id, .mem_fd = rfds[0],
				      .doorbell_fd = rfds[1], .wake_fd = rfds[2] };
	return 0;
}

int nic_client_vi_free(int fd, uint32_t vi_id)
{
	return client_vi_req(fd, PV_NIC_VI_FREE, vi_id, NULL, 0);
}

int nic_client_vi_reset(int fd, uint32_t vi_id)
{
	return client_vi_req(fd, PV_NIC_VI_RESET, vi_id, NULL, 0);
}

int nic_client_set_host(int fd, uint32_t vi_id)
{
	return client_vi_req(fd, PV_NIC_SET_HOST, vi_id, NULL, 0);
}

int nic_client_stats(int fd, uint32_t vi_id, struct pv_nic_vi_stats *st)
{
	return client_vi_req(fd, PV_NIC_STATS, vi_id, st, sizeof(*st));
}

int nic_client_info(int fd, struct pv_nic_info_reply *info)
{
	return nic_client_call(fd, PV_NIC_INFO, NULL, 0, NULL, 0, info, sizeof(*info), NULL, 5000);
}

int nic_client_buf_map(int fd, uint32_t vi_id, int memfd, const uint32_t *chunk,
		       uint32_t n, uint32_t *ids)
{
	uint32_t req[2 + PV_NIC_MAP_MAX], rep[2 + PV_NIC_MAP_MAX];
	int rc;

	if (n == 0 || n > PV_NIC_MAP_MAX)
		return -EINVAL;
	req[0] = vi_id;
	req[1] = n;
	memcpy(req + 2, chunk, 4 * (size_t)n);
	rc = nic_client_call(fd, PV_NIC_BUF_MAP, req, 8 + 4 * n, &memfd, 1, rep,
			     8 + 4 * n, NULL, 5000);
	if (rc)
		return rc;
	if (rep[1] != n)
		return -EPROTO;
	memcpy(ids, rep + 2, 4 * (size_t)n);
	return 0;
}

int nic_client_buf_unmap(int fd, uint32_t vi_id, const uint32_t *ids, uint32_t n)
{
	uint32_t req[2 + PV_NIC_MAP_MAX];

	if (n == 0 || n > PV_NIC_MAP_MAX)
		return -EINVAL;
	req[0] = vi_id;
	req[1] = n;
	memcpy(req + 2, ids, 4 * (size_t)n);
	return nic_client_call(fd, PV_NIC_BUF_UNMAP, req, 8 + 4 * n, NULL, 0, NULL, 0, NULL, 5000);
}

int nic_client_set_mac(int fd, uint32_t vi_id, const uint8_t mac[6], uint32_t src_ip)
{
	return nic_client_set_mac_flags(fd, vi_id, mac, src_ip, 0);
}

int nic_client_set_mac_flags(int fd, uint32_t vi_id, const uint8_t mac[6], uint32_t src_ip,
			     uint16_t flags)
{
	struct pv_nic_set_mac m = { .vi_id = vi_id, .src_ip = src_ip,
				    .flags = (uint16_t)(flags | (src_ip ? PV_NIC_MAC_F_IP : 0)) };

	memcpy(m.mac, mac, 6);
	return CALL(fd, PV_NIC_SET_MAC, &m, NULL, 0);
}

int nic_client_set_addrs(int fd, uint32_t vi_id, int enforce, const uint8_t (*addrs)[16],
			 unsigned int n)
{
	struct pv_nic_set_addrs m = { .vi_id = vi_id, .count = n,
				      .flags = enforce ? PV_NIC_ADDRS_F_ENFORCE : 0 };

	if (n > PV_NIC_ADDRS_MAX)
		return -EINVAL;
	if (n)
		memcpy(m.addr, addrs, (size_t)n * 16);
	return CALL(fd, PV_NIC_SET_ADDRS, &m, NULL, 0);
}

int nic_client_set_storm(int fd, uint32_t vi_id, uint32_t bcast_pps, uint32_t bcast_burst,
			 uint32_t mcast_pps, uint32_t mcast_burst)
{
	struct pv_nic_set_storm m = { .vi_id = vi_id, .bcast_pps = bcast_pps,
				      .bcast_burst = bcast_burst, .mcast_pps = mcast_pps,
				      .mcast_burst = mcast_burst };

	return CALL(fd, PV_NIC_SET_STORM, &m, NULL, 0);
}

static int client_filter(int fd, const struct pv_nic_filter *f, uint32_t *filter_id)
{
	struct pv_nic_filter_reply r = { 0 };
	int rc = CALL(fd, PV_NIC_FILTER_ADD, f, &r, sizeof(r));

	if (!rc && filter_id)
		*filter_id = r.filter_id;
	return rc;
}

int nic_client_filter_mac(int fd, uint32_t vi_id, const uint8_t mac[6], uint32_t *filter_id)
{
	struct pv_nic_filter f = { .vi_id = vi_id, .type = PV_NIC_FILTER_MAC };

	memcpy(f.mac, mac, 6);
	return client_filter(fd, &f, filter_id);
}

int nic_client_filter_ipv4(int fd, uint32_t vi_id, uint8_t proto, uint32_t dst_ip,
			   uint16_t dst_port, uint32_t *filter_id)
{
	struct pv_nic_filter f = { .vi_id = vi_id, .type = PV_NIC_FILTER_IPV4, .proto = proto,
				   .dst_ip = dst_ip, .dst_port = dst_port };

	return client_filter(fd, &f, filter_id);
}

int nic_client_filter_del(int fd, uint32_t vi_id, uint32_t filter_id)
{
	struct pv_nic_filter_del d = { .vi_id = vi_id, .filter_id = filter_id };

	return CALL(fd, PV_NIC_FILTER_DEL, &d, NULL, 0);
}

/* ---- VI user ---- */

int vi_user_open(struct vi_user *u, int mem_fd, int doorbell_fd, int wake_fd)
{
	struct pv_nic_vi_info info;
	void *p;

	memset(u, 0, sizeof(*u));
	p = mmap(NULL, PV_NIC_VI_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	memcpy(&info, p, sizeof(info));
	if (info.magic != PV_NIC_VI_MAGIC || info.version != PV_NIC_VERSION ||
	    info.mem_size != PV_NIC_VI_MEM_SIZE || info.txq_off != PV_NIC_OFF_TXQ ||
	    info.rxq_off != PV_NIC_OFF_RXQ || info.evq_off != PV_NIC_OFF_EVQ) {
		munmap(p, PV_NIC_VI_MEM_SIZE);
		return -EPROTO;
	}
	u->sh = p;
	u->txq = (struct pv_nic_desc *)((uint8_t *)p + PV_NIC_OFF_TXQ);
	u->rxq = (struct pv_nic_desc *)((uint8_t *)p + PV_NIC_OFF_RXQ);
	u->evq = (struct pv_nic_event *)((uint8_t *)p + PV_NIC_OFF_EVQ);
	/* Resume where the NIC is (after a reset, everything is 0). */
	u->tx_prod = __atomic_load_n(&u->sh->tx_prod.v, __ATOMIC_ACQUIRE);
	u->rx_prod = __atomic_load_n(&u->sh->rx_prod.v, __ATOMIC_ACQUIRE);
	u->evq_cons = __atomic_load_n(&u->sh->evq_cons.v, __ATOMIC_ACQUIRE);
	u->doorbell_fd = doorbell_fd;
	u->wake_fd = wake_fd;
	return 0;
}

void vi_user_close(struct vi_user *u)
{
	if (u->sh)
		munmap(u->sh, PV_NIC_VI_MEM_SIZE);
	u->sh = NULL;
}

void vi_user_ring(struct vi_user *u)
{
	uint64_t one = 1;

	if (write(u->doorbell_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, the NIC has a doorbell pending anyway */
	}
}
