/* SPDX-License-Identifier: MIT */
/*
 * out.c - output buffer, tables and key/value lists, text or JSON.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"

static int buf_reserve(struct pv_buf *b, size_t more)
{
	size_t want = b->len + more + 1;
	char *p;

	if (b->oom)
		return -1;
	if (want <= b->cap)
		return 0;
	if (want < b->cap * 2)
		want = b->cap * 2;
	p = realloc(b->p, want);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = want;
	return 0;
}

void pv_buf_put(struct pv_buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void pv_buf_printf(struct pv_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void pv_buf_free(struct pv_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void pv_json_str(struct pv_buf *out, const char *s)
{
	pv_buf_put(out, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			pv_buf_printf(out, "\\%c", c);
		else if (c < 0x20)
			pv_buf_printf(out, "\\u%04x", c);
		else
			pv_buf_put(out, s, 1);
	}
	pv_buf_put(out, "\"", 1);
}

void pv_table_init(struct pv_table *t, const struct pv_col *cols, unsigned int ncols)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = ncols < PV_TABLE_MAX_COLS ? ncols : PV_TABLE_MAX_COLS;
}

int pv_table_row(struct pv_table *t, const char *const *cells)
{
	if (t->nrows >= PV_TABLE_MAX_ROWS)
		return -1;
	if (t->nrows == t->cap) {
		unsigned int cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, sizeof(char *) * cap * t->ncols);

		if (!c)
			return -1;
		t->cells = c;
		t->cap = cap;
	}
	for (unsigned int i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = strdup(cells[i] ? cells[i] : "");
	t->nrows++;
	return 0;
}

static void table_text(const struct pv_table *t, struct pv_buf *out)
{
	size_t w[PV_TABLE_MAX_COLS];

	for (unsigned int c = 0; c < t->ncols; c++) {
		w[c] = strlen(t->cols[c].name);
		for (unsigned int r = 0; r < t->nrows; r++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t l = s ? strlen(s) : 0;

			if (l > w[c])
				w[c] = l;
		}
	}
	for (unsigned int c = 0; c < t->ncols; c++)
		pv_buf_printf(out, "%-*s%s", c + 1 < t->ncols ? (int)w[c] : 0, t->cols[c].name,
			      c + 1 < t->ncols ? "  " : "\n");
	for (unsigned int r = 0; r < t->nrows; r++)
		for (unsigned int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			pv_buf_printf(out, "%-*s%s", c + 1 < t->ncols ? (int)w[c] : 0, s ? s : "",
				      c + 1 < t->ncols ? "  " : "\n");
		}
}

static void table_json(const struct pv_table *t, struct pv_buf *out)
{
	pv_buf_put(out, "[", 1);
	for (unsigned int r = 0; r < t->nrows; r++) {
		pv_buf_put(out, r ? ",\n {" : "\n {", r ? 4 : 3);
		for (unsigned int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (c)
				pv_buf_put(out, ", ", 2);
			pv_json_str(out, t->cols[c].name);
			pv_buf_put(out, ": ", 2);
			if (t->cols[c].numeric && s && *s)
				pv_buf_printf(out, "%s", s);
			else
				pv_json_str(out, s ? s : "");
		}
		pv_buf_put(out, "}", 1);
	}
	pv_buf_printf(out, "%s]\n", t->nrows ? "\n" : "");
}

void pv_table_render(const struct pv_table *t, int json, struct pv_buf *out)
{
	if (json)
		table_json(t, out);
	else
		table_text(t, out);
}

void pv_table_free(struct pv_table *t)
{
	for (unsigned int i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

void pv_kv_begin(struct pv_kv *kv, struct pv_buf *out, int json)
{
	kv->out = out;
	kv->json = json;
	kv->n = 0;
	if (json)
		pv_buf_put(out, "{", 1);
}

static void kv_key(struct pv_kv *kv, const char *key)
{
	if (kv->json) {
		pv_buf_put(kv->out, kv->n ? ",\n " : "\n ", kv->n ? 3 : 2);
		pv_json_str(kv->out, key);
		pv_buf_put(kv->out, ": ", 2);
	} else {
		pv_buf_printf(kv->out, "%-28s ", key);
	}
	kv->n++;
}

void pv_kv_u64(struct pv_kv *kv, const char *key, uint64_t v)
{
	kv_key(kv, key);
	pv_buf_printf(kv->out, kv->json ? "%llu" : "%llu\n", (unsigned long long)v);
}

void pv_kv_str(struct pv_kv *kv, const char *key, const char *v)
{
	kv_key(kv, key);
	if (kv->json)
		pv_json_str(kv->out, v);
	else
		pv_buf_printf(kv->out, "%s\n", v);
}

void pv_kv_end(struct pv_kv *kv)
{
	if (kv->json)
		pv_buf_put(kv->out, "\n}\n", 3);
}
