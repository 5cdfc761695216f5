/* SPDX-License-Identifier: MIT */
/*
 * out.h - a growable output buffer and a table renderer that writes the
 * same rows as an aligned text table or as JSON (pvnetctl's --json).
 */
#ifndef PVNET_OUT_H
#define PVNET_OUT_H

#include <stddef.h>
#include <stdint.h>

struct pv_buf {
	char *p;
	size_t len, cap;
	int oom;
};

void pv_buf_printf(struct pv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pv_buf_put(struct pv_buf *b, const void *data, size_t len);
void pv_buf_free(struct pv_buf *b);

#define PV_TABLE_MAX_COLS 16
#define PV_TABLE_MAX_ROWS 4096

/* A column: its name, and whether its values are JSON numbers. */
struct pv_col {
	const char *name;
	int numeric;
};

struct pv_table {
	const struct pv_col *cols;
	unsigned int ncols;
	char **cells;		/* nrows * ncols strings */
	unsigned int nrows, cap;
};

void pv_table_init(struct pv_table *t, const struct pv_col *cols, unsigned int ncols);
/* Add a row: ncols printf-formatted cells, given as already formatted strings. */
int pv_table_row(struct pv_table *t, const char *const *cells);
/* Text: aligned columns with a header.  JSON: an array of objects. */
void pv_table_render(const struct pv_table *t, int json, struct pv_buf *out);
void pv_table_free(struct pv_table *t);

/* Key/value lists (status, stats): text "key: value" lines or one JSON object. */
struct pv_kv {
	struct pv_buf *out;
	int json;
	int n;
};
void pv_kv_begin(struct pv_kv *kv, struct pv_buf *out, int json);
void pv_kv_u64(struct pv_kv *kv, const char *key, uint64_t v);
void pv_kv_str(struct pv_kv *kv, const char *key, const char *v);
void pv_kv_end(struct pv_kv *kv);

/* JSON string escaping into @out. */
void pv_json_str(struct pv_buf *out, const char *s);

#endif
