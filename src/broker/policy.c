/* SPDX-License-Identifier: MIT */
/*
 * policy.c - pvnet-broker's policy file.
 *
 * One rule per line; '#' starts a comment; words separated by blanks:
 *
 *   uid UID|NAME|*  [vis N] [bufs N] addr A.B.C.D[,...] [udp PORTS] [tcp PORTS]
 *
 * PORTS is a comma-separated list of PORT or LO-HI (1 .. 65535).  vis: VIs
 * the uid may have open at once (default 1); bufs: 2 KiB buffers per VI
 * (default 512, at most 16384).  A uid's rule is the first line naming it,
 * else the first "uid *" line; a uid without a rule gets nothing.  A rule
 * without udp or tcp may open a VI but bind nothing of that protocol.
 * Anything not understood fails the whole file: a typo must not quietly
 * give or take away rights.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/policy.h"

static int pol_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!s)
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || *s == '-' || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static const char *pol_uid(struct brk_rule *r, const char *s)
{
	uint32_t v;
	const struct passwd *pw;

	if (!s)
		return "uid needs a value";
	if (!strcmp(s, "*")) {
		r->any_uid = true;
		return NULL;
	}
	if (!pol_u32(s, 0, 0xfffffffeu, &v)) {
		r->uid = (uid_t)v;
		return NULL;
	}
	pw = getpwnam(s);	/* the policy is read once, at start, on one thread */
	if (!pw)
		return "no such user";
	r->uid = pw->pw_uid;
	return NULL;
}

static const char *pol_addrs(struct brk_rule *r, char *s)
{
	char *save = NULL;

	if (!s)
		return "addr needs a value";
	for (char *a = strtok_r(s, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		struct in_addr in;

		if (r->naddr == BRK_ADDR_MAX)
			return "too many addresses";
		if (inet_pton(AF_INET, a, &in) != 1 || in.s_addr == 0)
			return "bad IPv4 address";
		r->addr[r->naddr++] = in.s_addr;
	}
	return NULL;
}

static const char *pol_ports(struct brk_range *rg, unsigned int *n, char *s)
{
	char *save = NULL;

	if (!s)
		return "port list needs a value";
	for (char *a = strtok_r(s, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(a, '-');
		uint32_t lo, hi;

		if (*n == BRK_RANGE_MAX)
			return "too many port ranges";
		if (dash)
			*dash = 0;
		if (pol_u32(a, 1, 65535, &lo) || pol_u32(dash ? dash + 1 : a, 1, 65535, &hi) ||
		    hi < lo)
			return "bad port or range";
		rg[*n] = (struct brk_range){ (uint16_t)lo, (uint16_t)hi };
		(*n)++;
	}
	return NULL;
}

/* One line's words into @r; NULL, or why not. */
static const char *pol_line(struct brk_rule *r, char *line)
{
	char *save = NULL, *w = strtok_r(line, " \t\r", &save);
	bool have_uid = false;

	*r = (struct brk_rule){ .max_vis = BRK_DEF_VIS, .max_bufs = BRK_DEF_BUFS };
	for (; w; w = strtok_r(NULL, " \t\r", &save)) {
		char *v = strtok_r(NULL, " \t\r", &save);
		const char *why = NULL;

		if (!strcmp(w, "uid")) {
			why = have_uid ? "uid twice" : pol_uid(r, v);
			have_uid = true;
		} else if (!strcmp(w, "vis")) {
			why = pol_u32(v, 1, 4096, &r->max_vis) ? "bad vis" : NULL;
		} else if (!strcmp(w, "bufs")) {
			why = pol_u32(v, 1, BRK_MAX_BUFS, &r->max_bufs) ? "bad bufs" : NULL;
		} else if (!strcmp(w, "addr")) {
			why = pol_addrs(r, v);
		} else if (!strcmp(w, "udp")) {
			why = pol_ports(r->udp, &r->nudp, v);
		} else if (!strcmp(w, "tcp")) {
			why = pol_ports(r->tcp, &r->ntcp, v);
		} else {
			why = "unknown keyword";
		}
		if (why)
			return why;
	}
	if (!have_uid)
		return "no uid";
	return r->naddr ? NULL : "no addr";
}

int brk_policy_parse(struct brk_policy *p, const char *text, char *err, size_t errlen)
{
	char *copy = strdup(text);
	unsigned int lineno = 0;
	int rc = 0;

	p->rules = calloc(BRK_RULES_MAX, sizeof(*p->rules));
	p->n = 0;
	if (!copy || !p->rules) {
		free(copy);
		brk_policy_free(p);
		return -ENOMEM;
	}
	/* strtok_r would skip empty lines and lose the numbering: walk by hand */
	for (char *line = copy, *next; line; line = next) {
		const char *why;
		char *hash;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		if ((hash = strchr(line, '#')))
			*hash = 0;
		if (line[strspn(line, " \t\r")] == 0)
			continue;
		why = p->n == BRK_RULES_MAX ? "too many rules" : pol_line(&p->rules[p->n], line);
		if (why) {
			snprintf(err, errlen, "line %u: %s", lineno, why);
			rc = -EINVAL;
			break;
		}
		p->rules[p->n++].line = lineno;
	}
	free(copy);
	if (rc)
		brk_policy_free(p);
	return rc;
}

int brk_policy_load(struct brk_policy *p, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s", strerror(-rc));
		return rc;
	}
	n = getdelim(&text, &cap, 0, f);	/* the whole file (a policy has no NUL) */
	fclose(f);
	rc = brk_policy_parse(p, n < 0 ? "" : text, err, errlen);
	free(text);
	return rc;
}

void brk_policy_free(struct brk_policy *p)
{
	free(p->rules);
	p->rules = NULL;
	p->n = 0;
}

const struct brk_rule *brk_policy_find(const struct brk_policy *p, uid_t uid)
{
	const struct brk_rule *any = NULL;

	for (unsigned int i = 0; i < p->n; i++) {
		if (!p->rules[i].any_uid && p->rules[i].uid == uid)
			return &p->rules[i];
		if (p->rules[i].any_uid && !any)
			any = &p->rules[i];
	}
	return any;
}

bool brk_rule_addr_ok(const struct brk_rule *r, uint32_t ip)
{
	for (unsigned int i = 0; i < r->naddr; i++)
		if (r->addr[i] == ip)
			return true;
	return false;
}

bool brk_rule_port_ok(const struct brk_rule *r, uint8_t proto, uint16_t port)
{
	const struct brk_range *rg = proto == IPPROTO_UDP ? r->udp : r->tcp;
	unsigned int n = proto == IPPROTO_UDP ? r->nudp : proto == IPPROTO_TCP ? r->ntcp : 0;

	for (unsigned int i = 0; i < n; i++)
		if (port >= rg[i].lo && port <= rg[i].hi)
			return true;
	return false;
}
