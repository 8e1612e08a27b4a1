/*
 * ledger_pg.c - the PostgreSQL engine of the ledger (see ledger_engine.h),
 * on libpq.
 *
 * Target: a libpq URI ("postgresql://user@host/db") or keyword string
 * ("host=/run/postgresql dbname=nrfca user=nrfca").  A password written in
 * it is refused: it comes from cfg->password_file (mode 0600, checked like
 * the PIN file) or from libpq's own PGPASSFILE / PGPASSWORD / ~/.pgpass.
 *
 * Statements run with the extended protocol: the core's queries are prepared
 * once per connection ("q<id>"), parameters are sent as text (integers) or
 * binary (byte strings), results come back in binary format, one row at a
 * time (single-row mode, so a long listing is not held in memory).  Each
 * connection sets lock_timeout to the configured busy timeout, so a writer
 * stuck behind a lock fails with "database is busy" instead of hanging.
 * A connection whose server went away is marked unusable; the core drops it
 * and connects again with backoff.
 */
#include "ledger_engine.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "secretfile.h"

#define PG_PASSWORD_MAX 1024
#define MIGRATE_LOCK_KEY 0x6e726663616c6472LL /* "nrfcaldr": one migration at a time */

/* type OIDs (pg_type.h is a server header) */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25

struct leng {
	char *target;
	char *password;     /* from the password file, or NULL */
	size_t password_len;
	const struct ledger_config *cfg;
	char where[256];    /* without secrets */
};

struct lres {
	struct lconn *c;
	PGresult *row;      /* the current row (single-row mode) */
	long long changes;
	int finished;       /* the last result was read */
	char ints[LQ_MAX_PARAMS][24];
};

struct lconn {
	struct leng *e;
	PGconn *pg;
	unsigned char *prepared; /* by query id */
	int n_prepared;
	int broken;
	int busy;
	char constraint[64];
	struct lres res;
};

/* ---- errors ---- */

static void first_line(const char *in, char *out, size_t n)
{
	size_t k = 0;

	while (in != NULL && in[k] != '\0' && in[k] != '\n' && k + 1 < n) {
		out[k] = in[k];
		k++;
	}
	out[k] = '\0';
}

/* Map a failed result (or a failed call when r is NULL) into err. */
static int pg_fail(struct lconn *c, PGresult *r, const char *what, const char **constraint, struct nrfca_err *err)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *cons;
	char msg[200];

	first_line(r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c->pg), msg, sizeof(msg));
	if (PQstatus(c->pg) != CONNECTION_OK || (state != NULL && (strncmp(state, "08", 2) == 0 ||
	                                                           strncmp(state, "57P", 3) == 0))) {
		c->broken = 1;
		return nrfca_err_set(err, NRFCA_E_DB, "lost the connection to the PostgreSQL ledger %s while %s: %s",
		                     c->e->where, what, msg);
	}
	if (state == NULL)
		return nrfca_err_set(err, NRFCA_E_DB, "database error while %s: %s", what, msg);
	if (strcmp(state, "23505") == 0) {
		cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
		snprintf(c->constraint, sizeof(c->constraint), "%s", cons != NULL ? cons : "");
		if (constraint != NULL)
			*constraint = c->constraint;
		return nrfca_err_set(err, NRFCA_E_EXISTS, "refused by the database: %s", msg);
	}
	if (strncmp(state, "23", 2) == 0 || strcmp(state, "P0001") == 0)
		return nrfca_err_set(err, NRFCA_E_INPUT, "refused by the database while %s: %s", what, msg);
	if (strcmp(state, "55P03") == 0)
		return nrfca_err_set(err, NRFCA_E_DB,
		                     "database is busy: another process held its lock for more than %d ms while %s",
		                     c->e->cfg->busy_timeout_ms, what);
	if (strcmp(state, "53100") == 0)
		return nrfca_err_set(err, NRFCA_E_DB, "database disk is full while %s (%s)", what, c->e->where);
	if (strcmp(state, "25006") == 0)
		return nrfca_err_set(err, NRFCA_E_DB, "database is read-only while %s (%s)", what, c->e->where);
	if (strcmp(state, "53300") == 0)
		return nrfca_err_set(err, NRFCA_E_DB, "the PostgreSQL server %s has no connection slot left: %s",
		                     c->e->where, msg);
	return nrfca_err_set(err, NRFCA_E_DB, "database error while %s: %s (SQLSTATE %s)", what, msg, state);
}

/* ---- open / close ---- */

static int pg_open(const char *target, const struct ledger_config *cfg, struct leng **out, struct nrfca_err *err)
{
	PQconninfoOption *opts, *o;
	struct leng *e;
	char *perr = NULL;
	size_t n = 0;
	int bad = 0;

	opts = PQconninfoParse(target, &perr);
	if (opts == NULL) {
		char msg[200];

		first_line(perr, msg, sizeof(msg));
		PQfreemem(perr);
		return nrfca_err_set(err, NRFCA_E_CONFIG, "cannot read the PostgreSQL connection string: %s", msg);
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL || (e->target = strdup(target)) == NULL) {
		free(e);
		PQconninfoFree(opts);
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory opening the ledger");
	}
	e->cfg = cfg;
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0)
			bad = 1;
		else if ((strcmp(o->keyword, "dbname") == 0 || strcmp(o->keyword, "host") == 0 ||
		          strcmp(o->keyword, "port") == 0 || strcmp(o->keyword, "user") == 0) &&
		         n < sizeof(e->where))
			n += (size_t)snprintf(e->where + n, sizeof(e->where) - n, "%s%s=%s", n ? " " : "", o->keyword,
			                      o->val);
	}
	PQconninfoFree(opts);
	if (n == 0)
		snprintf(e->where, sizeof(e->where), "(libpq defaults)");
	if (bad) {
		nrfca_err_set(err, NRFCA_E_CONFIG,
		              "the PostgreSQL connection string holds a password: remove it and name a file holding "
		              "it with database_password_file (mode 0600), or use libpq's PGPASSFILE");
		goto fail;
	}
	if (cfg->password_file != NULL) {
		e->password = malloc(PG_PASSWORD_MAX + 1);
		if (e->password == NULL) {
			nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
			goto fail;
		}
		if (nrfca_secret_file_read(cfg->password_file, "database password file", 0, NULL, e->password,
		                           PG_PASSWORD_MAX + 1, &e->password_len, err) != 0)
			goto fail;
	}
	*out = e;
	return 0;
fail:
	if (e->password != NULL)
		OPENSSL_cleanse(e->password, PG_PASSWORD_MAX + 1);
	free(e->password);
	free(e->target);
	free(e);
	return -1;
}

static void pg_close(struct leng *e)
{
	if (e == NULL)
		return;
	if (e->password != NULL)
		OPENSSL_cleanse(e->password, PG_PASSWORD_MAX + 1);
	free(e->password);
	free(e->target);
	free(e);
}

static const char *pg_where(const struct leng *e)
{
	return e->where;
}

/* ---- connections ---- */

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* NOTICEs (e.g. "relation already exists, skipping") are not ours to print */
}

static int pg_exec(struct lconn *c, const char *sql, const char *what, struct nrfca_err *err)
{
	PGresult *r = PQexec(c->pg, sql);
	int rc = 0;

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = pg_fail(c, r, what, NULL, err);
	PQclear(r);
	return rc;
}

static int pg_connect(struct leng *e, enum lconn_role role, struct lconn **out, struct nrfca_err *err)
{
	const char *kw[5] = { "dbname", "connect_timeout", "application_name", NULL, NULL };
	const char *val[5] = { e->target, "5", "nrfca", NULL, NULL };
	struct lconn *c;
	char sql[96], msg[200];

	(void)role;
	if (e->password != NULL) {
		kw[3] = "password";
		val[3] = e->password;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory opening a database connection");
	c->e = e;
	c->pg = PQconnectdbParams(kw, val, 1);
	if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK) {
		first_line(c->pg != NULL ? PQerrorMessage(c->pg) : "out of memory", msg, sizeof(msg));
		PQfinish(c->pg);
		free(c);
		return nrfca_err_set(err, NRFCA_E_DB, "cannot connect to the PostgreSQL ledger %s: %s", e->where, msg);
	}
	PQsetNoticeProcessor(c->pg, quiet, NULL);
	snprintf(sql, sizeof(sql), "SET lock_timeout = %d", e->cfg->busy_timeout_ms);
	if (pg_exec(c, sql, "configuring the connection", err) != 0) {
		PQfinish(c->pg);
		free(c);
		return -1;
	}
	*out = c;
	return 0;
}

static void pg_disconnect(struct lconn *c)
{
	if (c == NULL)
		return;
	if (c->res.row != NULL)
		PQclear(c->res.row);
	PQfinish(c->pg);
	free(c->prepared);
	free(c);
}

static int pg_usable(const struct lconn *c)
{
	return !c->broken && PQstatus(c->pg) == CONNECTION_OK;
}

static int pg_begin(struct lconn *c, enum ltxn kind, struct nrfca_err *err)
{
	char sql[160];

	if (kind == LT_WRITE)
		return pg_exec(c, "BEGIN", "starting a transaction", err);
	/* another process may be migrating: wait for it, longer than a lock */
	snprintf(sql, sizeof(sql), "BEGIN; SET LOCAL lock_timeout = '120s'; SELECT pg_advisory_xact_lock(%lld)",
	         MIGRATE_LOCK_KEY);
	return pg_exec(c, sql, "waiting for the schema lock", err);
}

/* ---- statements ---- */

static void drain(struct lconn *c)
{
	PGresult *r;

	while ((r = PQgetResult(c->pg)) != NULL)
		PQclear(r);
}

static int pg_query(struct lconn *c, int id, const char *sql, const struct lval *p, int np, struct lres **out,
                    const char **constraint, struct nrfca_err *err)
{
	const char *values[LQ_MAX_PARAMS];
	int lengths[LQ_MAX_PARAMS], formats[LQ_MAX_PARAMS];
	Oid types[LQ_MAX_PARAMS];
	struct lres *r = &c->res;
	char name[16];
	PGresult *pr;
	unsigned char *grown;
	int i, ok;

	if (c->busy)
		return nrfca_err_set(err, NRFCA_E_INTERNAL, "a query was started while another one runs");
	if (np > LQ_MAX_PARAMS)
		return nrfca_err_set(err, NRFCA_E_INTERNAL, "too many query parameters");
	memset(r, 0, sizeof(*r));
	r->c = c;
	for (i = 0; i < np; i++) {
		formats[i] = 0;
		lengths[i] = 0;
		switch (p[i].t) {
		case LV_TEXT:
			types[i] = OID_TEXT;
			values[i] = p[i].s;
			break;
		case LV_INT:
			types[i] = OID_INT8;
			snprintf(r->ints[i], sizeof(r->ints[i]), "%lld", p[i].i);
			values[i] = r->ints[i];
			break;
		case LV_BLOB:
			types[i] = OID_BYTEA;
			values[i] = p[i].b;
			lengths[i] = (int)p[i].n;
			formats[i] = 1;
			break;
		default:
			types[i] = 0;
			values[i] = NULL;
			break;
		}
	}
	if (id >= 0 && id >= c->n_prepared) {
		grown = realloc(c->prepared, (size_t)id + 16);
		if (grown == NULL)
			return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory preparing a query");
		memset(grown + c->n_prepared, 0, (size_t)(id + 16 - c->n_prepared));
		c->prepared = grown;
		c->n_prepared = id + 16;
	}
	snprintf(name, sizeof(name), "q%d", id);
	if (id >= 0 && !c->prepared[id]) {
		pr = PQprepare(c->pg, name, sql, np, types);
		ok = PQresultStatus(pr) == PGRES_COMMAND_OK;
		if (!ok)
			pg_fail(c, pr, "preparing a query", constraint, err);
		PQclear(pr);
		if (!ok)
			return -1;
		c->prepared[id] = 1;
	}
	if (id >= 0)
		ok = PQsendQueryPrepared(c->pg, name, np, values, lengths, formats, 1);
	else
		ok = PQsendQueryParams(c->pg, sql, np, types, values, lengths, formats, 1);
	if (!ok)
		return pg_fail(c, NULL, "sending a query", constraint, err);
	if (!PQsetSingleRowMode(c->pg)) {
		drain(c);
		return nrfca_err_set(err, NRFCA_E_INTERNAL, "cannot read the PostgreSQL answer row by row");
	}
	c->busy = 1;
	*out = r;
	return 0;
}

static int pg_next(struct lres *r, const char **constraint, struct nrfca_err *err)
{
	struct lconn *c = r->c;
	PGresult *x;
	int rc;

	if (r->row != NULL) {
		PQclear(r->row);
		r->row = NULL;
	}
	if (r->finished)
		return 0;
	x = PQgetResult(c->pg);
	switch (PQresultStatus(x)) {
	case PGRES_SINGLE_TUPLE:
		r->row = x;
		return 1;
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
		r->changes = strtoll(PQcmdTuples(x), NULL, 10);
		rc = 0;
		break;
	default:
		rc = pg_fail(c, x, "running a query", constraint, err);
		break;
	}
	PQclear(x);
	drain(c);
	r->finished = 1;
	return rc;
}

static int pg_is_null(struct lres *r, int col)
{
	return PQgetisnull(r->row, 0, col);
}

static long long pg_col_int(struct lres *r, int col)
{
	const unsigned char *v = (const unsigned char *)PQgetvalue(r->row, 0, col);
	int n = PQgetlength(r->row, 0, col), i;
	uint64_t u = 0;

	if (PQgetisnull(r->row, 0, col) || (n != 1 && n != 2 && n != 4 && n != 8))
		return 0;
	for (i = 0; i < n; i++)
		u = u << 8 | v[i];
	if (n < 8 && (v[0] & 0x80) && PQftype(r->row, col) != OID_BOOL)
		u |= ~(uint64_t)0 << (8 * n); /* sign-extend int2 / int4 */
	return (long long)u;
}

static const char *pg_col_text(struct lres *r, int col, size_t *len)
{
	if (PQgetisnull(r->row, 0, col)) {
		*len = 0;
		return NULL;
	}
	*len = (size_t)PQgetlength(r->row, 0, col);
	return PQgetvalue(r->row, 0, col);
}

static const void *pg_col_blob(struct lres *r, int col, size_t *len)
{
	return pg_col_text(r, col, len);
}

static long long pg_changes(struct lres *r)
{
	return r->changes;
}

static void pg_end(struct lres *r)
{
	if (r->row != NULL)
		PQclear(r->row);
	r->row = NULL;
	if (!r->finished)
		drain(r->c); /* rows left unread: a short listing stopped early */
	r->finished = 1;
	r->c->busy = 0;
}

/* ---- the rest ---- */

static int pg_describe(struct leng *e, struct lconn *c, char *buf, size_t n, struct nrfca_err *err)
{
	const char *v = PQparameterStatus(c->pg, "server_version");

	(void)err;
	snprintf(buf, n, "%s, PostgreSQL %s%s", e->where, v != NULL ? v : "?",
	         e->password != NULL ? ", password from the password file" : "");
	return 0;
}

static int pg_append_only(struct lconn *c, const char *table, struct nrfca_err *err)
{
	static const char *const when[] = { "UPDATE", "DELETE", "TRUNCATE" };
	static const char *const name[] = { "update", "delete", "truncate" };
	char sql[256];
	int i;

	if (pg_exec(c,
	            "CREATE OR REPLACE FUNCTION nrfca_append_only() RETURNS trigger LANGUAGE plpgsql AS"
	            " $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
	            "making a table append-only", err) != 0)
		return -1;
	for (i = 0; i < 3; i++) {
		snprintf(sql, sizeof(sql),
		         "CREATE TRIGGER %s_no_%s BEFORE %s ON %s FOR EACH %s EXECUTE FUNCTION nrfca_append_only()",
		         table, name[i], when[i], table, i == 2 ? "STATEMENT" : "ROW");
		if (pg_exec(c, sql, "making a table append-only", err) != 0)
			return -1;
	}
	return 0;
}

static const char *const pg_dialect[LD_MAX] = {
	[LD_BLOB] = "BYTEA",
	[LD_INT] = "BIGINT",
	[LD_FOR_UPDATE] = "FOR UPDATE",
	[LD_ASYNC_COMMIT] = "SET LOCAL synchronous_commit TO OFF",
	/* PostgreSQL's planner has statistics (autovacuum analyzes) and picks
	 * certificates_list / certificates_revoked itself */
	[LD_IDX_LIST] = "",
	[LD_IDX_REVOKED] = "",
	[LD_IDX_PROFILE] = "",
};

const struct ledger_engine ledger_engine_pg = {
	.name = "postgresql",
	.concurrent_writers = 1,
	.commit_wait = 1,
	.dialect = pg_dialect,
	.open = pg_open,
	.close = pg_close,
	.where = pg_where,
	.describe = pg_describe,
	.connect = pg_connect,
	.disconnect = pg_disconnect,
	.usable = pg_usable,
	.exec = pg_exec,
	.begin = pg_begin,
	.query = pg_query,
	.next = pg_next,
	.is_null = pg_is_null,
	.col_int = pg_col_int,
	.col_text = pg_col_text,
	.col_blob = pg_col_blob,
	.changes = pg_changes,
	.end = pg_end,
	.backup = NULL,
	.integrity = NULL,
	.append_only = pg_append_only,
};
