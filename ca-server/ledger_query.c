/*
 * ledger_query.c - running the ledger's queries on an engine connection:
 * typed parameters from a short format string, rows, columns, constraint
 * mapping, and the read helpers (probe, walk, filtered one-off queries)
 * the ledger_*.c files share.
 */
#include "ledger_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- query helpers ---- */

static void lq_init(struct lq *q, struct ledger *l, struct lconn *c)
{
	q->l = l;
	q->c = c;
	q->r = NULL;
	q->cons = LCONS_NONE;
}

static int lq_start(struct lq *q, struct ledger *l, struct lconn *c, int id, const char *sql,
                    const struct lval *p, int np, struct nrfca_err *err)
{
	struct nrfca_err e = { 0 };
	const char *cons = NULL;

	lq_init(q, l, c);
	if (l->eng->query(c, id, sql, p, np, &q->r, &cons, &e) == 0)
		return 0;
	if (e.code == NRFCA_E_EXISTS)
		q->cons = ledger_constraint(cons);
	q->r = NULL;
	if (err != NULL)
		*err = e;
	return -1;
}

static int vparams(const char *fmt, va_list ap, struct lval *p, struct nrfca_err *err)
{
	int n = 0;

	for (; *fmt != '\0'; fmt++, n++) {
		if (n == LQ_MAX_PARAMS)
			return nrfca_err_set(err, NRFCA_E_INTERNAL, "too many query parameters");
		memset(&p[n], 0, sizeof(p[n]));
		switch (*fmt) {
		case 't':
		case 'T':
			p[n].s = va_arg(ap, const char *);
			p[n].t = p[n].s != NULL ? LV_TEXT : LV_NULL;
			break;
		case 'i':
		case 'I':
			p[n].i = va_arg(ap, long long);
			p[n].t = (*fmt == 'i' || p[n].i != 0) ? LV_INT : LV_NULL;
			break;
		case 'b':
			p[n].b = va_arg(ap, const void *);
			p[n].n = va_arg(ap, size_t);
			p[n].t = LV_BLOB;
			break;
		case 'h':
		case 'H':
			p[n].b = va_arg(ap, const unsigned char *);
			p[n].n = 32;
			p[n].t = p[n].b != NULL ? LV_BLOB : LV_NULL;
			break;
		default:
			return nrfca_err_set(err, NRFCA_E_INTERNAL, "bad query parameter type '%c'", *fmt);
		}
	}
	return n;
}

int lq_run(struct lq *q, struct ledger *l, struct lconn *c, enum qid id, struct nrfca_err *err,
           const char *fmt, ...)
{
	struct lval p[LQ_MAX_PARAMS];
	va_list ap;
	int n;

	lq_init(q, l, c);
	va_start(ap, fmt);
	n = vparams(fmt, ap, p, err);
	va_end(ap);
	if (n < 0)
		return -1;
	return lq_start(q, l, c, (int)id, l->q[id], p, n, err);
}

int lq_run_sql(struct lq *q, struct ledger *l, struct lconn *c, const char *sql, const struct lval *p, int np,
               struct nrfca_err *err)
{
	return lq_start(q, l, c, -1, sql, p, np, err);
}

int lq_next(struct lq *q, struct nrfca_err *err)
{
	struct nrfca_err e = { 0 };
	const char *cons = NULL;
	int rc = q->l->eng->next(q->r, &cons, &e);

	if (rc < 0) {
		if (e.code == NRFCA_E_EXISTS)
			q->cons = ledger_constraint(cons);
		if (err != NULL)
			*err = e;
	}
	return rc;
}

void lq_end(struct lq *q)
{
	if (q->r != NULL)
		q->l->eng->end(q->r);
	q->r = NULL;
}

long long lq_exec_p(struct lq *q, struct ledger *l, struct lconn *c, enum qid id, const struct lval *p, int np,
                    struct nrfca_err *err)
{
	long long changed = -1;
	int rc;

	if (lq_start(q, l, c, (int)id, l->q[id], p, np, err) != 0)
		return -1;
	while ((rc = lq_next(q, err)) == 1)
		;
	if (rc == 0)
		changed = l->eng->changes(q->r);
	lq_end(q);
	return changed;
}

long long lq_exec(struct lq *q, struct ledger *l, struct lconn *c, enum qid id, struct nrfca_err *err,
                  const char *fmt, ...)
{
	struct lval p[LQ_MAX_PARAMS];
	va_list ap;
	int n;

	lq_init(q, l, c);
	va_start(ap, fmt);
	n = vparams(fmt, ap, p, err);
	va_end(ap);
	return n < 0 ? -1 : lq_exec_p(q, l, c, id, p, n, err);
}

int lq_one(struct lq *q, struct ledger *l, struct lconn *c, enum qid id, struct nrfca_err *err,
           const char *fmt, ...)
{
	struct lval p[LQ_MAX_PARAMS];
	va_list ap;
	int n, rc;

	lq_init(q, l, c);
	va_start(ap, fmt);
	n = vparams(fmt, ap, p, err);
	va_end(ap);
	if (n < 0 || lq_start(q, l, c, (int)id, l->q[id], p, n, err) != 0)
		return -1;
	rc = lq_next(q, err);
	if (rc != 1)
		lq_end(q);
	return rc;
}

long long lq_int(struct lq *q, int col)
{
	return q->l->eng->col_int(q->r, col);
}

int lq_null(struct lq *q, int col)
{
	return q->l->eng->is_null(q->r, col);
}

const char *lq_str(struct lq *q, int col, size_t *len)
{
	return q->l->eng->col_text(q->r, col, len);
}

int lq_text(struct lq *q, int col, char *dst, size_t cap)
{
	size_t n = 0;
	const char *s = lq_str(q, col, &n);

	if (s == NULL) {
		dst[0] = '\0';
		return 0;
	}
	if (n >= cap || memchr(s, '\0', n) != NULL)
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

const void *lq_blob(struct lq *q, int col, size_t *len)
{
	return q->l->eng->col_blob(q->r, col, len);
}

int lq_hash(struct lq *q, int col, unsigned char dst[32])
{
	size_t n = 0;
	const void *p = lq_blob(q, col, &n);

	if (p == NULL || n != 32)
		return -1;
	memcpy(dst, p, 32);
	return 0;
}

int lq_malformed(struct lq *q, const char *what, struct nrfca_err *err)
{
	return nrfca_err_set(err, NRFCA_E_DB, "database %s holds a malformed %s", ledger_where(q->l), what);
}

int lq_probe(struct ledger *l, enum qid id, int *found, struct nrfca_err *err, const char *fmt, const void *k1,
             const void *k2)
{
	struct lconn *c = pool_get(l, err);
	struct lq q;
	int rc;

	if (c == NULL)
		return -1;
	rc = lq_one(&q, l, c, id, err, fmt, k1, k2);
	if (rc == 1)
		lq_end(&q);
	pool_put(l, c);
	if (rc < 0)
		return -1;
	*found = rc;
	return 0;
}

int lq_walk(struct ledger *l, int id, const char *sql, const struct lval *p, int np,
            int (*row)(struct lq *q, void *ctx, struct nrfca_err *err), void *ctx, struct nrfca_err *err)
{
	struct lconn *c = pool_get(l, err);
	struct lq q;
	int rc;

	if (c == NULL)
		return -1;
	rc = lq_start(&q, l, c, id, sql != NULL ? sql : l->q[id], p, np, err);
	while (rc == 0 && (rc = lq_next(&q, err)) == 1)
		rc = row(&q, ctx, err);
	lq_end(&q);
	pool_put(l, c);
	return rc < 0 ? -1 : 0;
}

void sqlb_start(struct sqlb *b, const char *base)
{
	memset(b, 0, sizeof(*b));
	b->len = (size_t)snprintf(b->sql, sizeof(b->sql), "%s WHERE 1 = 1", base);
}

static void sqlb_add(struct sqlb *b, const char *cond)
{
	b->np++;
	b->len += (size_t)snprintf(b->sql + b->len, sizeof(b->sql) - b->len, " AND %s $%d", cond, b->np);
}

void sqlb_raw(struct sqlb *b, const char *cond)
{
	b->len += (size_t)snprintf(b->sql + b->len, sizeof(b->sql) - b->len, " AND %s", cond);
}

void sqlb_text(struct sqlb *b, const char *cond, const char *v)
{
	if (v == NULL)
		return;
	b->p[b->np].t = LV_TEXT;
	b->p[b->np].s = v;
	sqlb_add(b, cond);
}

void sqlb_int(struct sqlb *b, const char *cond, long long v)
{
	if (v == 0)
		return;
	b->p[b->np].t = LV_INT;
	b->p[b->np].i = v;
	sqlb_add(b, cond);
}

void sqlb_end(struct sqlb *b, const char *tail, int limit)
{
	b->len += (size_t)snprintf(b->sql + b->len, sizeof(b->sql) - b->len, " %s", tail);
	if (limit > 0)
		snprintf(b->sql + b->len, sizeof(b->sql) - b->len, " LIMIT %d", limit);
}

