/* SPDX-License-Identifier: MIT */
/*
 * policy.h - pvnet-broker's policy: which uids may open how many VIs, with
 * how many buffers, on which local IPv4 addresses and UDP/TCP ports.  The
 * file format is in docs/pvnet-broker.8 (and policy.c).
 */
#ifndef PVNET_BROKER_POLICY_H
#define PVNET_BROKER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BRK_ADDR_MAX	8
#define BRK_RANGE_MAX	8
#define BRK_RULES_MAX	256
#define BRK_DEF_VIS	1
#define BRK_DEF_BUFS	512
#define BRK_MAX_BUFS	16384

struct brk_range {
	uint16_t lo, hi;
};

struct brk_rule {
	bool any_uid;		/* "uid *" */
	uid_t uid;
	uint32_t max_vis;	/* VIs open at once, all this uid's connections */
	uint32_t max_bufs;	/* 2 KiB buffers per VI */
	uint32_t addr[BRK_ADDR_MAX];	/* network order */
	unsigned int naddr;
	struct brk_range udp[BRK_RANGE_MAX], tcp[BRK_RANGE_MAX];
	unsigned int nudp, ntcp;
	unsigned int line;	/* in the file, for the log */
};

struct brk_policy {
	struct brk_rule *rules;
	unsigned int n;
};

/* Parse @text (the whole file); 0, or -EINVAL with "line N: why" in @err. */
int brk_policy_parse(struct brk_policy *p, const char *text, char *err, size_t errlen);
/* Read and parse @path; -errno of the read, or brk_policy_parse's. */
int brk_policy_load(struct brk_policy *p, const char *path, char *err, size_t errlen);
void brk_policy_free(struct brk_policy *p);
/* The first rule for @uid (its own line, else "uid *"), or NULL. */
const struct brk_rule *brk_policy_find(const struct brk_policy *p, uid_t uid);
bool brk_rule_addr_ok(const struct brk_rule *r, uint32_t ip);
/* @proto IPPROTO_UDP or IPPROTO_TCP; anything else: false. */
bool brk_rule_port_ok(const struct brk_rule *r, uint8_t proto, uint16_t port);

#endif
