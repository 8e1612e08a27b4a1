/*
 * ledger_copy.c - copying a whole ledger into an empty one (nrfca-admin
 * migrate), table by table as data: each table is a query on the source, an
 * insert on the target and the types of its columns.  The rows go through
 * the engines unchanged (the audit log keeps its ids, times and hashes), in
 * one transaction of the target's writer.
 */
#include "ledger_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct copy_table {
	const char *what;       /* for progress */
	enum qid select, insert;
	const char *types;      /* per column: t text, i integer, b bytes */
	int count;              /* column of Q_COPY_COUNTS with the total */
};

static const struct copy_table tables[] = {
	{ "certificates", Q_COPY_CERTS, Q_INSERT_CERT, "ttttttibbtiiitiitbtit", 0 },
	{ "credentials", Q_COPY_CREDS, Q_COPY_CRED_INSERT, "ttbiiiiibt", 2 },
	{ "credential groups", Q_CRED_GROUPS_ALL, Q_GROUP_ADD, "tt", 3 },
	{ "expected devices", Q_COPY_EXPECTED, Q_EXPECTED_ADD, "tttti", 4 },
	{ "audit entries", Q_AUDIT_ALL, Q_AUDIT_INSERT, "iitttbb", 5 },
	{ "CRL state", Q_COPY_CRL, Q_COPY_CRL_SET, "ii", -1 },
};
#define N_TABLES (sizeof(tables) / sizeof(tables[0]))
#define N_COUNTS 6

struct copy_ctx {
	struct ledger *from;
	void (*progress)(const char *what, long long done, long long total, void *arg);
	void *arg;
	long long src[N_COUNTS];
	struct chain head;
	/* during one table */
	struct wctx *w;
	const struct copy_table *t;
	long long done, total;
};

static int read_counts(struct ledger *l, struct lconn *c, long long n[N_COUNTS], struct nrfca_err *err)
{
	struct lq q;
	int i, rc = lq_one(&q, l, c, Q_COPY_COUNTS, err, "");

	if (rc != 1)
		return rc == 0 ? lq_malformed(&q, "count", err) : -1;
	for (i = 0; i < N_COUNTS; i++)
		n[i] = lq_int(&q, i);
	lq_end(&q);
	return 0;
}

/* One source row into the target, column by column as the types say. */
static int copy_row(struct lq *q, void *arg, struct nrfca_err *err)
{
	struct copy_ctx *x = arg;
	struct lval p[LQ_MAX_PARAMS];
	struct lq ins;
	int i;

	memset(p, 0, sizeof(p));
	for (i = 0; x->t->types[i] != '\0'; i++) {
		if (lq_null(q, i))
			continue; /* LV_NULL */
		switch (x->t->types[i]) {
		case 't':
			p[i].t = LV_TEXT;
			p[i].s = lq_str(q, i, &p[i].n);
			break;
		case 'i':
			p[i].t = LV_INT;
			p[i].i = lq_int(q, i);
			break;
		default:
			p[i].t = LV_BLOB;
			p[i].b = lq_blob(q, i, &p[i].n);
			break;
		}
	}
	if (lq_exec_p(&ins, x->w->l, x->w->c, x->t->insert, p, i, err) < 0) {
		nrfca_err_prefix(err, "copying %s", x->t->what);
		return -1;
	}
	x->done++;
	if (x->progress != NULL && (x->done % 500 == 0 || x->done == x->total))
		x->progress(x->t->what, x->done, x->total, x->arg);
	return 0;
}

static int apply_copy(struct wctx *w, void *arg, struct nrfca_err *err)
{
	struct copy_ctx *x = arg;
	long long have[N_COUNTS];
	size_t i;

	if (read_counts(w->l, w->c, have, err) != 0)
		return -1;
	if (have[0] + have[2] + have[4] + have[5] > 0)
		return nrfca_err_set(err, NRFCA_E_EXISTS,
		                     "the target ledger %s is not empty (%lld certificates, %lld credentials, %lld "
		                     "audit entries): migrate copies into an empty ledger only",
		                     ledger_where(w->l), have[0], have[2], have[5]);
	x->w = w;
	for (i = 0; i < N_TABLES; i++) {
		x->t = &tables[i];
		x->done = 0;
		x->total = tables[i].count >= 0 ? x->src[tables[i].count] : 1;
		if (lq_walk(x->from, (int)tables[i].select, NULL, NULL, 0, copy_row, x, err) != 0)
			return -1;
	}
	/* the chain continues where the source's ended */
	w->ch = x->head;
	w->chain_loaded = 1;
	w->chain_dirty = 1;
	return 0;
}

/* The source's chain head, read before the copy's transaction. */
static int source_head(struct ledger *from, struct chain *ch, struct nrfca_err *err)
{
	struct lconn *c = pool_get(from, err);
	struct lq q;
	int rc;

	if (c == NULL)
		return -1;
	rc = lq_one(&q, from, c, Q_HEAD_READ, err, "");
	if (rc == 1) {
		ch->last_id = lq_int(&q, 0);
		rc = lq_hash(&q, 1, ch->last_hash) == 0 ? 1 : -2;
		lq_end(&q);
	}
	pool_put(from, c);
	if (rc != 1)
		return rc == -1 ? -1 : nrfca_err_set(err, NRFCA_E_DB, "the source ledger's audit chain head is unreadable");
	return 0;
}

static int counts_of(struct ledger *l, long long n[N_COUNTS], struct nrfca_err *err)
{
	struct lconn *c = pool_get(l, err);
	int rc;

	if (c == NULL)
		return -1;
	rc = read_counts(l, c, n, err);
	pool_put(l, c);
	return rc;
}

int ledger_copy(struct ledger *from, struct ledger *to,
                void (*progress)(const char *what, long long done, long long total, void *arg), void *arg,
                struct ledger_copy_stats *out, struct nrfca_err *err)
{
	static const char *const names[N_COUNTS] = { "certificates", "revoked certificates", "credentials",
	                                             "credential groups", "expected devices", "audit entries" };
	struct copy_ctx x = { .from = from, .progress = progress, .arg = arg };
	struct ledger_info src = { 0 };
	long long have[N_COUNTS], entries = 0, broken = 0, crl_from = 0, crl_to = 0;
	char why[200], *detail;
	int i, rc;

	if (from == NULL || to == NULL || from == to)
		return nrfca_err_set(err, NRFCA_E_INPUT, "copying needs two different ledgers");
	if (ledger_info(from, &src, err) != 0 || counts_of(from, x.src, err) != 0 ||
	    source_head(from, &x.head, err) != 0 ||
	    ledger_read_ints(from, Q_COPY_CRL, &crl_from, NULL, "CRL state", err) != 0)
		return -1;
	if (ledger_submit(to, apply_copy, &x, WF_AUDITS, err) != 0)
		return -1;

	/* the target, checked as a whole */
	if (counts_of(to, have, err) != 0)
		return -1;
	for (i = 0; i < N_COUNTS; i++)
		if (have[i] != x.src[i])
			return nrfca_err_set(err, NRFCA_E_DB, "after the copy the target holds %lld %s, the source %lld",
			                     have[i], names[i], x.src[i]);
	rc = ledger_audit_verify(to, &entries, &broken, why, sizeof(why), err);
	if (rc < 0)
		return -1;
	if (rc != 0 || entries != x.src[5])
		return nrfca_err_set(err, NRFCA_E_DB, "the copied audit chain does not verify: %s", why);
	if (ledger_read_ints(to, Q_COPY_CRL, &crl_to, NULL, "CRL state", err) != 0)
		return -1;
	if (crl_to != crl_from)
		return nrfca_err_set(err, NRFCA_E_DB, "the copied CRL number is %lld, the source's %lld", crl_to, crl_from);

	detail = ledger_dump(json_pack("{s:s, s:s, s:I, s:I, s:I}", "from_engine", src.engine, "from", src.connection,
	                               "certificates", (json_int_t)have[0], "audit_entries", (json_int_t)entries,
	                               "crl_number", (json_int_t)crl_to),
	                     err);
	rc = detail != NULL ? ledger_audit(to, "nrfca-admin", "ledger.migrated", detail, err) : -1;
	free(detail);
	if (rc != 0)
		return -1;
	if (out != NULL) {
		out->certificates = have[0];
		out->revoked = have[1];
		out->credentials = have[2];
		out->groups = have[3];
		out->expected = have[4];
		out->audit_entries = entries;
		out->crl_number = (unsigned long long)crl_to;
	}
	return 0;
}
