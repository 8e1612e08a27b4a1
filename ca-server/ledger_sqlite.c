/*
 * ledger_sqlite.c - the SQLite engine of ledger.h.
 *
 * Connections: one writer connection owned by the writer thread, and a pool
 * of read connections (WAL lets readers run beside the writer).  Every
 * change is a request queued to the writer thread; it takes all pending
 * requests, applies each inside a SAVEPOINT of one transaction (so a request
 * that fails for its own reason is undone alone), commits, and only then
 * wakes the callers (group commit: one fsync for the whole batch).
 *
 * The audit chain is continued from the newest stored entry read at the
 * start of each transaction, so another process writing to the same
 * database (nrfca-admin) keeps the chain intact.
 *
 * Queries use $1, $2... parameters in ascending order of first use and plain
 * SQL that PostgreSQL also accepts; the DDL of the migrations is per engine.
 */
#include "ledger.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#define DEFAULT_BUSY_MS 5000
#define DEFAULT_READERS 8
#define DEFAULT_BATCH 256
#define CRED_CACHE_SLOTS 256
#define CRED_CACHE_PROBE 8
#define CRED_CACHE_TTL_S 5
#define ACTOR_MAX 128

/* ---- schema ---- */

struct migration {
	int version;
	const char *sql;
};

static const struct migration migrations[] = {
	{ 1,
	  "CREATE TABLE certificates ("
	  " serial TEXT PRIMARY KEY,"
	  " device_id TEXT NOT NULL,"
	  " uuid TEXT NOT NULL,"
	  " imei TEXT NOT NULL,"
	  " profile TEXT NOT NULL,"
	  " station TEXT NOT NULL,"
	  " sec_tag INTEGER NOT NULL,"
	  " csr_sha256 BLOB NOT NULL UNIQUE,"
	  " pubkey_sha256 BLOB NOT NULL,"
	  " subject TEXT NOT NULL,"
	  " not_before INTEGER NOT NULL,"
	  " not_after INTEGER NOT NULL,"
	  " issued_at INTEGER NOT NULL,"
	  " status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),"
	  " revoked_at INTEGER,"
	  " revocation_reason INTEGER,"
	  " request_id TEXT NOT NULL,"
	  " der BLOB NOT NULL);"
	  "CREATE INDEX certificates_device ON certificates (device_id, status, issued_at);"
	  "CREATE INDEX certificates_status ON certificates (status, serial);"
	  "CREATE INDEX certificates_issued ON certificates (issued_at);"
	  "CREATE TABLE audit_log ("
	  " id INTEGER PRIMARY KEY,"
	  " at INTEGER NOT NULL,"
	  " actor TEXT NOT NULL,"
	  " event TEXT NOT NULL,"
	  " detail TEXT NOT NULL,"
	  " prev_hash BLOB NOT NULL,"
	  " hash BLOB NOT NULL);"
	  "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
	  " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
	  "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
	  " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
	  "CREATE TABLE credentials ("
	  " name TEXT PRIMARY KEY,"
	  " role TEXT NOT NULL,"
	  " token_sha256 BLOB NOT NULL UNIQUE,"
	  " disabled INTEGER NOT NULL,"
	  " created_at INTEGER NOT NULL,"
	  " disabled_at INTEGER);"
	  "CREATE TABLE crl_state ("
	  " id INTEGER PRIMARY KEY CHECK (id = 1),"
	  " crl_number INTEGER NOT NULL);"
	  "INSERT INTO crl_state (id, crl_number) VALUES (1, 0);" },
};
#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))
#define SCHEMA_VERSION 1
/* Versions are 1, 2, ... in table order; add a step, then bump this. */
_Static_assert(N_MIGRATIONS == SCHEMA_VERSION, "one migration per schema version");

int ledger_schema_version(void)
{
	return SCHEMA_VERSION;
}

#define CERT_COLS \
	"serial, device_id, uuid, imei, profile, station, sec_tag, csr_sha256," \
	" pubkey_sha256, subject, not_before, not_after, issued_at, status," \
	" revoked_at, revocation_reason, request_id, der"

/* Statements of the read connections, prepared once per connection. */
enum rstmt {
	RS_PING, RS_GET, RS_BY_CSR, RS_ACTIVE_BY_DEVICE, RS_SERIAL_EXISTS,
	RS_REVOKED_EACH, RS_COUNT, RS_CRED_LOOKUP, RS_CRED_LIST, RS_AUDIT_ALL,
	RS_MAX
};

static const char *const rsql[RS_MAX] = {
	[RS_PING] = "SELECT MAX(version) FROM schema_version",
	[RS_GET] = "SELECT " CERT_COLS " FROM certificates WHERE serial = $1",
	[RS_BY_CSR] = "SELECT " CERT_COLS " FROM certificates WHERE csr_sha256 = $1",
	[RS_ACTIVE_BY_DEVICE] = "SELECT " CERT_COLS " FROM certificates"
		" WHERE device_id = $1 AND status = 'active'"
		" ORDER BY issued_at DESC, serial DESC LIMIT 1",
	[RS_SERIAL_EXISTS] = "SELECT 1 FROM certificates WHERE serial = $1",
	[RS_REVOKED_EACH] = "SELECT serial, revoked_at, revocation_reason"
		" FROM certificates WHERE status = 'revoked' ORDER BY serial",
	/* the revoked count reads only the status index (scraped by /metrics and
	 * polled by the CRL tick) */
	[RS_COUNT] = "SELECT (SELECT COUNT(*) FROM certificates),"
		" (SELECT COUNT(*) FROM certificates WHERE status = 'revoked')",
	[RS_CRED_LOOKUP] = "SELECT name, role, disabled FROM credentials"
		" WHERE token_sha256 = $1",
	[RS_CRED_LIST] = "SELECT name, role, disabled, created_at FROM credentials"
		" ORDER BY name",
	[RS_AUDIT_ALL] = "SELECT id, at, actor, event, detail, prev_hash, hash"
		" FROM audit_log ORDER BY id",
};

/* Statements of the writer connection. */
enum wstmt {
	WS_BEGIN, WS_COMMIT, WS_SAVEPOINT, WS_RELEASE, WS_ROLLBACK_TO,
	WS_LAST_AUDIT, WS_INSERT_AUDIT, WS_INSERT_CERT, WS_REVOKE, WS_CERT_STATUS,
	WS_CRED_ADD, WS_CRED_DISABLE, WS_CRED_STATE, WS_CRL_BUMP, WS_CRL_GET,
	WS_MAX
};

static const char *const wsql[WS_MAX] = {
	[WS_BEGIN] = "BEGIN IMMEDIATE",
	[WS_COMMIT] = "COMMIT",
	[WS_SAVEPOINT] = "SAVEPOINT item",
	[WS_RELEASE] = "RELEASE SAVEPOINT item",
	[WS_ROLLBACK_TO] = "ROLLBACK TO SAVEPOINT item",
	[WS_LAST_AUDIT] = "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
	[WS_INSERT_AUDIT] = "INSERT INTO audit_log (id, at, actor, event, detail, prev_hash, hash)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7)",
	[WS_INSERT_CERT] = "INSERT INTO certificates (" CERT_COLS ") VALUES ($1, $2, $3,"
		" $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
	[WS_REVOKE] = "UPDATE certificates SET status = 'revoked', revoked_at = $1,"
		" revocation_reason = $2 WHERE serial = $3 AND status = 'active'",
	[WS_CERT_STATUS] = "SELECT status FROM certificates WHERE serial = $1",
	[WS_CRED_ADD] = "INSERT INTO credentials (name, role, token_sha256, disabled,"
		" created_at) VALUES ($1, $2, $3, 0, $4)",
	[WS_CRED_DISABLE] = "UPDATE credentials SET disabled = 1, disabled_at = $1"
		" WHERE name = $2 AND disabled = 0",
	[WS_CRED_STATE] = "SELECT disabled FROM credentials WHERE name = $1",
	[WS_CRL_BUMP] = "UPDATE crl_state SET crl_number = crl_number + 1 WHERE id = 1",
	[WS_CRL_GET] = "SELECT crl_number FROM crl_state WHERE id = 1",
};

/* ---- the handle ---- */

struct rconn {
	sqlite3 *db;
	sqlite3_stmt *st[RS_MAX];
	struct rconn *next;
};

enum wop { WOP_ISSUE, WOP_REVOKE, WOP_AUDIT, WOP_CRED_ADD, WOP_CRED_DISABLE,
	   WOP_CRL_NUMBER, WOP_MAX };

/* One queued change; lives on the caller's stack until done. */
struct wreq {
	enum wop op;
	const char *actor;
	const struct cert_record *rec;   /* ISSUE */
	const char *serial;              /* REVOKE; ISSUE: supersede (or NULL) */
	int reason;                      /* REVOKE */
	const char *event;               /* AUDIT */
	const char *detail;              /* audit detail (JSON) */
	const char *detail2;             /* ISSUE: detail of the supersede revoke */
	const char *name;                /* CRED_* */
	enum cred_role role;             /* CRED_ADD */
	const unsigned char *hash;       /* CRED_ADD */
	long long out_time;              /* REVOKE: revoked_at */
	unsigned long long out_number;   /* CRL_NUMBER */
	int rc;                          /* 1 pending, 0 done, -1 failed */
	struct nrfca_err err;
	int done;
	pthread_cond_t cv;               /* signalled when done */
	struct wreq *next;
};

struct cred_slot {
	int used;
	unsigned char hash[32];
	char name[LEDGER_CRED_NAME_MAX + 1];
	enum cred_role role;
	int disabled;
	time_t expires;
};

struct ledger {
	char *path;
	struct ledger_config cfg;

	/* writer */
	sqlite3 *wdb;
	sqlite3_stmt *wst[WS_MAX];
	pthread_t writer;
	int writer_started;
	pthread_mutex_t mu;         /* queue, stopping, progress */
	pthread_cond_t q_cv;        /* writer waits for work */
	struct wreq *q_head, *q_tail;
	int stopping;
	time_t last_progress;
	struct ledger_stats stats;
	/* commit delay (see writer_main) */
	int q_len;                  /* requests queued */
	int inflight;               /* callers inside submit() */
	double conc_est;            /* recent peak of inflight, decaying */
	double commit_us;           /* moving average of a transaction's time */

	/* readers */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	struct rconn *pool_free;
	int pool_n;

	/* credential cache */
	pthread_mutex_t cache_mu;
	unsigned long cache_gen;
	struct cred_slot cache[CRED_CACHE_SLOTS];
};

/* ---- errors ---- */

static int db_fail(const struct ledger *l, struct nrfca_err *err, int rc,
                   sqlite3 *db, const char *what)
{
	const char *detail = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return nrfca_err_set(err, NRFCA_E_DB,
		                     "database is busy: another process held its lock for more than %d ms while %s",
		                     l->cfg.busy_timeout_ms, what);
	case SQLITE_FULL:
		return nrfca_err_set(err, NRFCA_E_DB, "database disk is full while %s: free space on the disk of %s",
		                     what, l->path);
	case SQLITE_READONLY:
		return nrfca_err_set(err, NRFCA_E_DB,
		                     "database is read-only while %s: check the permissions of %s and its directory",
		                     what, l->path);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return nrfca_err_set(err, NRFCA_E_DB, "database %s is corrupt or not a database (%s)",
		                     l->path, detail);
	case SQLITE_CANTOPEN:
		if (db != NULL && sqlite3_system_errno(db) != 0)
			return nrfca_err_set(err, NRFCA_E_DB, "cannot open database %s: %s", l->path,
			                     strerror(sqlite3_system_errno(db)));
		return nrfca_err_set(err, NRFCA_E_DB, "cannot open database %s: %s", l->path, detail);
	case SQLITE_IOERR:
		return nrfca_err_set(err, NRFCA_E_DB, "database I/O error while %s on %s (%s)",
		                     what, l->path, detail);
	case SQLITE_NOMEM:
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory while %s", what);
	default:
		return nrfca_err_set(err, NRFCA_E_DB, "database error while %s: %s", what, detail);
	}
}

/* An error that undoes the whole batch rather than the one request. */
static int is_fatal(enum nrfca_errc c)
{
	return c == NRFCA_E_DB || c == NRFCA_E_NOMEM || c == NRFCA_E_INTERNAL;
}

/* ---- small helpers ---- */

static void stmt_done(sqlite3_stmt *st)
{
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static int field_ok(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static int is_hex_serial(const char *s)
{
	size_t i, n;

	if (s == NULL)
		return 0;
	n = strnlen(s, LEDGER_SERIAL_MAX + 1);
	if (n == 0 || n > LEDGER_SERIAL_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int check_actor(const char **actor, struct nrfca_err *err)
{
	size_t i, n;

	if (*actor == NULL)
		*actor = "system";
	n = strnlen(*actor, ACTOR_MAX + 1);
	if (n == 0 || n > ACTOR_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT, "audit actor must be 1 to %d characters", ACTOR_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)(*actor)[i] < 0x20 || (*actor)[i] == 0x7f)
			return nrfca_err_set(err, NRFCA_E_INPUT, "audit actor contains a control character");
	return 0;
}

static int check_cred_name(const char *name, struct nrfca_err *err)
{
	size_t i, n;

	if (name == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "credential name is missing");
	n = strnlen(name, LEDGER_CRED_NAME_MAX + 1);
	if (n == 0 || n > LEDGER_CRED_NAME_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT, "credential name must be 1 to %d characters",
		                     LEDGER_CRED_NAME_MAX);
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return nrfca_err_set(err, NRFCA_E_INPUT,
			                     "credential name may hold only letters, digits, '_', '.' and '-'");
	}
	return 0;
}

/* Copy a TEXT column into a fixed field; a value that does not fit means
 * the row was not written by us. */
static int col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);

	if (s == NULL) {
		dst[0] = '\0';
		return 0;
	}
	if (n < 0 || (size_t)n >= cap)
		return -1;
	memcpy(dst, s, (size_t)n);
	dst[n] = '\0';
	return 0;
}

static int col_hash(sqlite3_stmt *st, int i, unsigned char dst[32])
{
	const void *p = sqlite3_column_blob(st, i);

	if (p == NULL || sqlite3_column_bytes(st, i) != 32)
		return -1;
	memcpy(dst, p, 32);
	return 0;
}

static int row_to_record(const struct ledger *l, sqlite3_stmt *st, struct cert_record *r,
                         struct nrfca_err *err)
{
	const void *der;
	int n, s;

	memset(r, 0, sizeof(*r));
	if (col_text(st, 0, r->serial, sizeof(r->serial)) || col_text(st, 1, r->device_id, sizeof(r->device_id)) ||
	    col_text(st, 2, r->uuid, sizeof(r->uuid)) || col_text(st, 3, r->imei, sizeof(r->imei)) ||
	    col_text(st, 4, r->profile, sizeof(r->profile)) || col_text(st, 5, r->station, sizeof(r->station)) ||
	    col_hash(st, 7, r->csr_sha256) || col_hash(st, 8, r->pubkey_sha256) ||
	    col_text(st, 9, r->subject, sizeof(r->subject)) ||
	    col_text(st, 16, r->request_id, sizeof(r->request_id)))
		goto bad;
	r->sec_tag = sqlite3_column_int64(st, 6);
	r->not_before = sqlite3_column_int64(st, 10);
	r->not_after = sqlite3_column_int64(st, 11);
	r->issued_at = sqlite3_column_int64(st, 12);
	s = cert_status_from_name((const char *)sqlite3_column_text(st, 13));
	if (s < 0)
		goto bad;
	r->status = (enum cert_status)s;
	r->revoked_at = sqlite3_column_type(st, 14) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 14);
	r->revocation_reason = sqlite3_column_type(st, 15) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 15);
	der = sqlite3_column_blob(st, 17);
	n = sqlite3_column_bytes(st, 17);
	if (der == NULL || n <= 0 || n > LEDGER_DER_MAX)
		goto bad;
	r->der = malloc((size_t)n);
	if (r->der == NULL) {
		memset(r, 0, sizeof(*r));
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory reading a certificate");
	}
	memcpy(r->der, der, (size_t)n);
	r->der_len = (size_t)n;
	return 0;
bad:
	memset(r, 0, sizeof(*r));
	return nrfca_err_set(err, NRFCA_E_DB, "database %s holds a malformed certificate record", l->path);
}

/* ---- connections ---- */

static int pragma_exec(struct ledger *l, sqlite3 *db, const char *sql, struct nrfca_err *err)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return db_fail(l, err, rc, db, "configuring the connection");
	return 0;
}

static int conn_open(struct ledger *l, int writer, sqlite3 **out, struct nrfca_err *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char sql[96];
	int rc, ret = -1;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;

	if (writer)
		flags |= SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(l->path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		db_fail(l, err, rc, db, "opening");
		goto out;
	}
	sqlite3_busy_timeout(db, l->cfg.busy_timeout_ms);
	if (sqlite3_db_readonly(db, "main") == 1) {
		nrfca_err_set(err, NRFCA_E_DB,
		              "database %s is read-only: the CA must be able to write it and its directory",
		              l->path);
		goto out;
	}
	/* Reading the journal mode is the first access: it catches a file
	 * that is not a database. */
	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		db_fail(l, err, rc, db, "switching to WAL mode");
		goto out;
	}
	if (sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		nrfca_err_set(err, NRFCA_E_DB, "database %s cannot use WAL mode (is it on a network file system?)",
		              l->path);
		goto out;
	}
	if (pragma_exec(l, db, "PRAGMA synchronous=FULL", err))
		goto out;
	if (!writer && pragma_exec(l, db, "PRAGMA query_only=1", err))
		goto out;
	if (writer && l->cfg.max_db_pages > 0) {
		snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%lld", l->cfg.max_db_pages);
		if (pragma_exec(l, db, sql, err))
			goto out;
	}
	*out = db;
	db = NULL;
	ret = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}

static void rconn_free(struct rconn *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < RS_MAX; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close(c->db);
	free(c);
}

static struct rconn *reader_get(struct ledger *l, struct nrfca_err *err)
{
	struct rconn *c = NULL;

	pthread_mutex_lock(&l->pool_mu);
	while (l->pool_free == NULL && l->pool_n >= l->cfg.readers)
		pthread_cond_wait(&l->pool_cv, &l->pool_mu);
	if (l->pool_free != NULL) {
		c = l->pool_free;
		l->pool_free = c->next;
		pthread_mutex_unlock(&l->pool_mu);
		return c;
	}
	l->pool_n++;
	pthread_mutex_unlock(&l->pool_mu);

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory opening a database reader");
	else if (conn_open(l, 0, &c->db, err) != 0) {
		free(c);
		c = NULL;
	}
	if (c == NULL) {
		pthread_mutex_lock(&l->pool_mu);
		l->pool_n--;
		pthread_cond_signal(&l->pool_cv);
		pthread_mutex_unlock(&l->pool_mu);
	}
	return c;
}

static void reader_put(struct ledger *l, struct rconn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&l->pool_mu);
	c->next = l->pool_free;
	l->pool_free = c;
	pthread_cond_signal(&l->pool_cv);
	pthread_mutex_unlock(&l->pool_mu);
}

static sqlite3_stmt *rstmt(struct ledger *l, struct rconn *c, enum rstmt id, struct nrfca_err *err)
{
	int rc;

	if (c->st[id] == NULL) {
		rc = sqlite3_prepare_v3(c->db, rsql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id], NULL);
		if (rc != SQLITE_OK) {
			db_fail(l, err, rc, c->db, "preparing a query");
			return NULL;
		}
	}
	return c->st[id];
}

static sqlite3_stmt *wstmt(struct ledger *l, enum wstmt id, struct nrfca_err *err)
{
	int rc;

	if (l->wst[id] == NULL) {
		rc = sqlite3_prepare_v3(l->wdb, wsql[id], -1, SQLITE_PREPARE_PERSISTENT, &l->wst[id], NULL);
		if (rc != SQLITE_OK) {
			db_fail(l, err, rc, l->wdb, "preparing a change");
			return NULL;
		}
	}
	return l->wst[id];
}

/* Run a writer statement without parameters or result rows. */
static int wexec(struct ledger *l, enum wstmt id, const char *what, struct nrfca_err *err)
{
	sqlite3_stmt *st = wstmt(l, id, err);
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	stmt_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(l, err, rc, l->wdb, what);
	return 0;
}

/* ---- migrations ---- */

/* Each migration runs in its own transaction which first re-reads the
 * version under the write lock, so two processes opening a new database at
 * the same time do not both apply a step. */
static int migrate(struct ledger *l, struct nrfca_err *err)
{
	sqlite3 *db = l->wdb;
	sqlite3_stmt *st = NULL;
	const struct migration *next;
	char sql[128];
	int rc, ret = -1, in_txn = 0;
	long long have;
	size_t i;

	for (;;) {
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			db_fail(l, err, rc, db, "starting the schema check");
			goto out;
		}
		in_txn = 1;
		rc = sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
		                      " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
		                  NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_prepare_v2(db, "SELECT MAX(version) FROM schema_version", -1, &st, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			db_fail(l, err, rc, db, "reading the schema version");
			goto out;
		}
		have = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		st = NULL;
		if (have > SCHEMA_VERSION) {
			nrfca_err_set(err, NRFCA_E_CONFIG,
			              "database %s has schema version %lld, newer than the %d this program knows: run a newer nrfca",
			              l->path, have, SCHEMA_VERSION);
			goto out;
		}
		next = NULL;
		for (i = 0; i < N_MIGRATIONS && next == NULL; i++)
			if (migrations[i].version > have)
				next = &migrations[i];
		if (next != NULL) {
			snprintf(sql, sizeof(sql), "INSERT INTO schema_version (version, applied_at) VALUES (%d, %lld)",
			         next->version, (long long)time(NULL));
			rc = sqlite3_exec(db, next->sql, NULL, NULL, NULL);
			if (rc == SQLITE_OK)
				rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		}
		if (rc == SQLITE_OK || rc == SQLITE_ROW)
			rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			db_fail(l, err, rc, db, "migrating the schema");
			if (next != NULL)
				nrfca_err_prefix(err, "migration to schema version %d failed", next->version);
			goto out;
		}
		in_txn = 0;
		if (next == NULL)
			break;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	if (in_txn && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

/* ---- audit chain ---- */

struct chain {
	long long last_id;
	unsigned char last_hash[32];
};

static void put_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static int audit_hash(const unsigned char prev[32], long long id, long long at,
                      const char *actor, size_t actor_len, const char *event, size_t event_len,
                      const char *detail, size_t detail_len, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char b[16];
	const char *parts[3] = { actor, event, detail };
	size_t lens[3] = { actor_len, event_len, detail_len };
	unsigned int olen = 0;
	int i, ok;

	if (ctx == NULL)
		return -1;
	put_be64(b, (uint64_t)id);
	put_be64(b + 8, (uint64_t)at);
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, prev, 32) &&
	     EVP_DigestUpdate(ctx, b, 16);
	for (i = 0; ok && i < 3; i++) {
		put_be32(b, (uint32_t)lens[i]);
		ok = EVP_DigestUpdate(ctx, b, 4) && (lens[i] == 0 || EVP_DigestUpdate(ctx, parts[i], lens[i]));
	}
	ok = ok && EVP_DigestFinal_ex(ctx, out, &olen) && olen == 32;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int chain_load(struct ledger *l, struct chain *ch, struct nrfca_err *err)
{
	sqlite3_stmt *st = wstmt(l, WS_LAST_AUDIT, err);
	int rc, ret = -1;

	if (st == NULL)
		return -1;
	memset(ch, 0, sizeof(*ch));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		ch->last_id = sqlite3_column_int64(st, 0);
		if (col_hash(st, 1, ch->last_hash) != 0) {
			nrfca_err_set(err, NRFCA_E_DB, "database %s: the newest audit entry has a malformed hash",
			              l->path);
			goto out;
		}
	} else if (rc != SQLITE_DONE) {
		db_fail(l, err, rc, l->wdb, "reading the end of the audit log");
		goto out;
	}
	ret = 0;
out:
	stmt_done(st);
	return ret;
}

static int audit_append(struct ledger *l, struct chain *ch, const char *actor, const char *event,
                        const char *detail, struct nrfca_err *err)
{
	sqlite3_stmt *st = wstmt(l, WS_INSERT_AUDIT, err);
	unsigned char h[32];
	long long id = ch->last_id + 1, at = (long long)time(NULL);
	int rc;

	if (st == NULL)
		return -1;
	if (audit_hash(ch->last_hash, id, at, actor, strlen(actor), event, strlen(event), detail,
	               strlen(detail), h) != 0)
		return nrfca_err_ssl(err, NRFCA_E_INTERNAL, "cannot hash an audit entry");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, at);
	bind_text(st, 3, actor);
	bind_text(st, 4, event);
	bind_text(st, 5, detail);
	sqlite3_bind_blob(st, 6, ch->last_hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, h, 32, SQLITE_STATIC);
	rc = sqlite3_step(st);
	stmt_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(l, err, rc, l->wdb, "appending to the audit log");
	ch->last_id = id;
	memcpy(ch->last_hash, h, 32);
	return 0;
}

/* ---- the writer: applying one request ---- */

/* UPDATE ... WHERE key AND still-in-state; on no change tell apart
 * "not there" and "already done". */
static int missing_or_conflict(struct ledger *l, enum wstmt probe, const char *key,
                               const char *what, const char *already, struct nrfca_err *err)
{
	sqlite3_stmt *st = wstmt(l, probe, err);
	int rc;

	if (st == NULL)
		return -1;
	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	stmt_done(st);
	if (rc == SQLITE_DONE)
		return nrfca_err_set(err, NRFCA_E_NOTFOUND, "%s %s is not in the ledger", what, key);
	if (rc == SQLITE_ROW)
		return nrfca_err_set(err, NRFCA_E_CONFLICT, "%s %s %s", what, key, already);
	return db_fail(l, err, rc, l->wdb, "reading a state");
}

static int apply_revoke(struct ledger *l, struct chain *ch, const char *serial, int reason,
                        const char *actor, const char *detail, long long *at, struct nrfca_err *err)
{
	sqlite3_stmt *st = wstmt(l, WS_REVOKE, err);
	long long now = (long long)time(NULL);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, reason);
	bind_text(st, 3, serial);
	rc = sqlite3_step(st);
	stmt_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(l, err, rc, l->wdb, "revoking a certificate");
	if (sqlite3_changes(l->wdb) == 0)
		return missing_or_conflict(l, WS_CERT_STATUS, serial, "certificate",
		                           reason == CRL_REASON_SUPERSEDED ? "is no longer active" : "is already revoked",
		                           err);
	if (audit_append(l, ch, actor, "revoke", detail, err) != 0)
		return -1;
	*at = now;
	return 0;
}

static int apply_issue(struct ledger *l, struct chain *ch, struct wreq *r, struct nrfca_err *err)
{
	const struct cert_record *c = r->rec;
	sqlite3_stmt *st = wstmt(l, WS_INSERT_CERT, err);
	long long at;
	int rc, ext;

	if (st == NULL)
		return -1;
	bind_text(st, 1, c->serial);
	bind_text(st, 2, c->device_id);
	bind_text(st, 3, c->uuid);
	bind_text(st, 4, c->imei);
	bind_text(st, 5, c->profile);
	bind_text(st, 6, c->station);
	sqlite3_bind_int64(st, 7, c->sec_tag);
	sqlite3_bind_blob(st, 8, c->csr_sha256, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 9, c->pubkey_sha256, 32, SQLITE_STATIC);
	bind_text(st, 10, c->subject);
	sqlite3_bind_int64(st, 11, c->not_before);
	sqlite3_bind_int64(st, 12, c->not_after);
	sqlite3_bind_int64(st, 13, c->issued_at != 0 ? c->issued_at : (long long)time(NULL));
	bind_text(st, 14, cert_status_name(CERT_ACTIVE));
	sqlite3_bind_null(st, 15);
	sqlite3_bind_null(st, 16);
	bind_text(st, 17, c->request_id);
	sqlite3_bind_blob(st, 18, c->der, (int)c->der_len, SQLITE_STATIC);
	rc = sqlite3_step(st); /* extended result codes: SQLITE_CONSTRAINT_* */
	ext = rc;
	stmt_done(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		if (ext == SQLITE_CONSTRAINT_PRIMARYKEY)
			return nrfca_err_set(err, NRFCA_E_EXISTS, "serial %s is already in the ledger", c->serial);
		if (ext == SQLITE_CONSTRAINT_UNIQUE)
			return nrfca_err_set(err, NRFCA_E_CONFLICT,
			                     "a certificate for this CSR is already recorded");
		return nrfca_err_set(err, NRFCA_E_INPUT, "certificate record refused by the database: %s",
		                     sqlite3_errmsg(l->wdb));
	}
	if (rc != SQLITE_DONE)
		return db_fail(l, err, rc, l->wdb, "recording a certificate");
	if (audit_append(l, ch, r->actor, "issue", r->detail, err) != 0)
		return -1;
	if (r->serial != NULL)
		return apply_revoke(l, ch, r->serial, CRL_REASON_SUPERSEDED, r->actor, r->detail2, &at, err);
	return 0;
}

static int apply_cred_add(struct ledger *l, struct chain *ch, struct wreq *r, struct nrfca_err *err)
{
	sqlite3_stmt *st = wstmt(l, WS_CRED_ADD, err);
	int rc, ext;

	if (st == NULL)
		return -1;
	bind_text(st, 1, r->name);
	bind_text(st, 2, cred_role_name(r->role));
	sqlite3_bind_blob(st, 3, r->hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (long long)time(NULL));
	rc = sqlite3_step(st); /* extended result codes: SQLITE_CONSTRAINT_* */
	ext = rc;
	stmt_done(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		if (ext == SQLITE_CONSTRAINT_PRIMARYKEY)
			return nrfca_err_set(err, NRFCA_E_EXISTS, "credential %s already exists", r->name);
		return nrfca_err_set(err, NRFCA_E_EXISTS, "this secret is already registered: make a new one");
	}
	if (rc != SQLITE_DONE)
		return db_fail(l, err, rc, l->wdb, "adding a credential");
	return audit_append(l, ch, r->actor, "cred_add", r->detail, err);
}

static int apply_cred_disable(struct ledger *l, struct chain *ch, struct wreq *r, struct nrfca_err *err)
{
	sqlite3_stmt *st = wstmt(l, WS_CRED_DISABLE, err);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (long long)time(NULL));
	bind_text(st, 2, r->name);
	rc = sqlite3_step(st);
	stmt_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(l, err, rc, l->wdb, "disabling a credential");
	if (sqlite3_changes(l->wdb) == 0)
		return missing_or_conflict(l, WS_CRED_STATE, r->name, "credential", "is already disabled", err);
	return audit_append(l, ch, r->actor, "cred_disable", r->detail, err);
}

static int apply_crl_number(struct ledger *l, struct wreq *r, struct nrfca_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (wexec(l, WS_CRL_BUMP, "allocating a CRL number", err) != 0)
		return -1;
	st = wstmt(l, WS_CRL_GET, err);
	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r->out_number = (unsigned long long)sqlite3_column_int64(st, 0);
	stmt_done(st);
	if (rc != SQLITE_ROW)
		return db_fail(l, err, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, l->wdb, "reading the CRL number");
	return 0;
}

static int apply(struct ledger *l, struct chain *ch, struct wreq *r, struct nrfca_err *err)
{
	switch (r->op) {
	case WOP_ISSUE:
		return apply_issue(l, ch, r, err);
	case WOP_REVOKE:
		return apply_revoke(l, ch, r->serial, r->reason, r->actor, r->detail, &r->out_time, err);
	case WOP_AUDIT:
		return audit_append(l, ch, r->actor, r->event, r->detail, err);
	case WOP_CRED_ADD:
		return apply_cred_add(l, ch, r, err);
	case WOP_CRED_DISABLE:
		return apply_cred_disable(l, ch, r, err);
	case WOP_CRL_NUMBER:
		return apply_crl_number(l, r, err);
	default:
		return nrfca_err_set(err, NRFCA_E_INTERNAL, "unknown ledger change %d", (int)r->op);
	}
}

static void cache_invalidate(struct ledger *l)
{
	pthread_mutex_lock(&l->cache_mu);
	l->cache_gen++;
	memset(l->cache, 0, sizeof(l->cache));
	pthread_mutex_unlock(&l->cache_mu);
}

/* One transaction for the whole batch; each request in its own savepoint. */
static void run_batch(struct ledger *l, struct wreq *batch)
{
	struct nrfca_err fatal = { 0 };
	struct chain ch, saved;
	struct wreq *r;
	int creds = 0;

	for (r = batch; r != NULL; r = r->next)
		r->rc = 1;
	if (wexec(l, WS_BEGIN, "starting a transaction", &fatal) != 0)
		goto abort;
	if (chain_load(l, &ch, &fatal) != 0)
		goto abort;
	for (r = batch; r != NULL; r = r->next) {
		saved = ch;
		if (wexec(l, WS_SAVEPOINT, "starting a savepoint", &fatal) != 0)
			goto abort;
		r->rc = apply(l, &ch, r, &r->err);
		if (r->rc == 0) {
			if (wexec(l, WS_RELEASE, "releasing a savepoint", &fatal) != 0)
				goto abort;
			if (r->op == WOP_CRED_ADD || r->op == WOP_CRED_DISABLE)
				creds = 1;
			continue;
		}
		if (is_fatal(r->err.code)) {
			fatal = r->err;
			goto abort;
		}
		ch = saved;
		if (wexec(l, WS_ROLLBACK_TO, "undoing a savepoint", &fatal) != 0 ||
		    wexec(l, WS_RELEASE, "releasing a savepoint", &fatal) != 0)
			goto abort;
	}
	if (wexec(l, WS_COMMIT, "committing", &fatal) != 0)
		goto abort;
	pthread_mutex_lock(&l->mu);
	l->stats.commits++;
	for (r = batch; r != NULL; r = r->next)
		l->stats.changes += r->rc == 0;
	pthread_mutex_unlock(&l->mu);
	if (creds)
		cache_invalidate(l);
	return;
abort:
	if (!sqlite3_get_autocommit(l->wdb))
		sqlite3_exec(l->wdb, "ROLLBACK", NULL, NULL, NULL);
	for (r = batch; r != NULL; r = r->next) {
		if (r->rc >= 0 || is_fatal(r->err.code)) {
			r->rc = -1;
			r->err = fatal;
		}
	}
}

static double mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Commit delay: callers that were answered together come back together.
 * Taking only the requests queued at this instant would split them into
 * two alternating half-size batches (one commits while the other queues).
 * So when fewer requests are queued than callers were recently active, wait
 * for the rest - at most half a commit's time, at most 2 ms.  With one
 * caller there is no wait. */
static void commit_delay(struct ledger *l)
{
	struct timespec until;
	double wait_us;
	long long ns;
	int want = (int)(l->conc_est + 0.5);

	if (want > l->cfg.max_batch)
		want = l->cfg.max_batch;
	if (l->q_len >= want || l->stopping)
		return;
	wait_us = l->commit_us / 2;
	if (wait_us > 2000)
		wait_us = 2000;
	if (wait_us < 1)
		return;
	clock_gettime(CLOCK_MONOTONIC, &until);
	ns = (long long)until.tv_nsec + (long long)(wait_us * 1e3);
	until.tv_sec += (time_t)(ns / 1000000000);
	until.tv_nsec = (long)(ns % 1000000000);
	while (l->q_len < want && !l->stopping)
		if (pthread_cond_timedwait(&l->q_cv, &l->mu, &until) != 0)
			break;
}

static void *writer_main(void *arg)
{
	struct ledger *l = arg;
	struct wreq *batch, *last, *r, *next;
	double t0;
	int n;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (l->q_head == NULL && !l->stopping)
			pthread_cond_wait(&l->q_cv, &l->mu);
		if (l->q_head == NULL)
			break;
		commit_delay(l);
		batch = last = l->q_head;
		for (n = 1; n < l->cfg.max_batch && last->next != NULL; n++)
			last = last->next;
		l->q_head = last->next;
		if (l->q_head == NULL)
			l->q_tail = NULL;
		last->next = NULL;
		l->q_len -= n;
		pthread_mutex_unlock(&l->mu);

		t0 = mono_us();
		run_batch(l, batch);
		t0 = mono_us() - t0;

		pthread_mutex_lock(&l->mu);
		l->commit_us = l->commit_us == 0 ? t0 : 0.9 * l->commit_us + 0.1 * t0;
		/* each caller waits on its own condition: no thundering herd */
		for (r = batch; r != NULL; r = next) {
			next = r->next;
			r->done = 1;
			pthread_cond_signal(&r->cv);
		}
		l->last_progress = time(NULL);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Queue a change and wait until it is committed or has failed. */
static int submit(struct ledger *l, struct wreq *r, struct nrfca_err *err)
{
	r->done = 0;
	r->rc = 1;
	r->next = NULL;
	memset(&r->err, 0, sizeof(r->err));
	if (pthread_cond_init(&r->cv, NULL) != 0)
		return nrfca_err_set(err, NRFCA_E_INTERNAL, "cannot create a condition variable");
	pthread_mutex_lock(&l->mu);
	if (l->stopping) {
		pthread_mutex_unlock(&l->mu);
		pthread_cond_destroy(&r->cv);
		return nrfca_err_set(err, NRFCA_E_INTERNAL, "the ledger is closing");
	}
	if (l->q_tail != NULL)
		l->q_tail->next = r;
	else {
		l->q_head = r;
		l->last_progress = time(NULL);
	}
	l->q_tail = r;
	l->q_len++;
	l->inflight++;
	if (l->inflight > l->conc_est)
		l->conc_est = l->inflight;
	else
		l->conc_est -= (l->conc_est - l->inflight) / 64;
	pthread_cond_signal(&l->q_cv);
	while (!r->done)
		pthread_cond_wait(&r->cv, &l->mu);
	l->inflight--;
	pthread_mutex_unlock(&l->mu);
	pthread_cond_destroy(&r->cv);
	if (r->rc != 0) {
		if (err != NULL)
			*err = r->err;
		return -1;
	}
	return 0;
}

/* ---- open / close ---- */

static const char *url_sqlite_path(const char *url, struct nrfca_err *err)
{
	if (url == NULL) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "no database URL given: expected sqlite:PATH");
		return NULL;
	}
	if (strncmp(url, "sqlite:", 7) == 0) {
		if (url[7] == '\0') {
			nrfca_err_set(err, NRFCA_E_CONFIG, "database URL sqlite: has no path: expected sqlite:PATH");
			return NULL;
		}
		return url + 7;
	}
	if (strncmp(url, "postgresql:", 11) == 0 || strncmp(url, "postgres:", 9) == 0) {
		nrfca_err_set(err, NRFCA_E_CONFIG,
		              "the PostgreSQL ledger engine is not built into this program: use sqlite:PATH");
		return NULL;
	}
	nrfca_err_set(err, NRFCA_E_CONFIG, "unknown database URL scheme: expected sqlite:PATH");
	return NULL;
}

int ledger_open(const char *url, struct ledger **out, struct nrfca_err *err)
{
	return ledger_open_cfg(url, NULL, out, err);
}

int ledger_open_cfg(const char *url, const struct ledger_config *cfg, struct ledger **out,
                    struct nrfca_err *err)
{
	struct ledger *l = NULL;
	const char *path = url_sqlite_path(url, err);
	pthread_condattr_t ca;
	int ret = -1, locks = 0;

	if (path == NULL)
		return -1;
	if (sqlite3_threadsafe() == 0)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "the SQLite library is built without thread support");
	l = calloc(1, sizeof(*l));
	if (l == NULL || (l->path = strdup(path)) == NULL) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory opening the ledger");
		goto out;
	}
	if (cfg != NULL)
		l->cfg = *cfg;
	if (l->cfg.busy_timeout_ms <= 0)
		l->cfg.busy_timeout_ms = DEFAULT_BUSY_MS;
	if (l->cfg.readers <= 0)
		l->cfg.readers = DEFAULT_READERS;
	if (l->cfg.max_batch <= 0)
		l->cfg.max_batch = DEFAULT_BATCH;
	if (pthread_condattr_init(&ca) || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) ||
	    pthread_mutex_init(&l->mu, NULL) || pthread_cond_init(&l->q_cv, &ca) ||
	    pthread_mutex_init(&l->pool_mu, NULL) ||
	    pthread_cond_init(&l->pool_cv, NULL) || pthread_mutex_init(&l->cache_mu, NULL)) {
		nrfca_err_set(err, NRFCA_E_INTERNAL, "cannot create the ledger's locks");
		goto out;
	}
	locks = 1;
	pthread_condattr_destroy(&ca);
	if (conn_open(l, 1, &l->wdb, err) != 0 || migrate(l, err) != 0)
		goto out;
	l->last_progress = time(NULL);
	if (pthread_create(&l->writer, NULL, writer_main, l) != 0) {
		nrfca_err_set(err, NRFCA_E_INTERNAL, "cannot start the ledger writer thread");
		goto out;
	}
	l->writer_started = 1;
	*out = l;
	l = NULL;
	ret = 0;
out:
	if (l != NULL) {
		if (l->wdb != NULL)
			sqlite3_close(l->wdb);
		if (locks) {
			pthread_mutex_destroy(&l->mu);
			pthread_cond_destroy(&l->q_cv);
			pthread_mutex_destroy(&l->pool_mu);
			pthread_cond_destroy(&l->pool_cv);
			pthread_mutex_destroy(&l->cache_mu);
		}
		free(l->path);
		free(l);
	}
	return ret;
}

void ledger_close(struct ledger *l)
{
	struct rconn *c, *next;
	int i;

	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->stopping = 1;
	pthread_cond_signal(&l->q_cv);
	pthread_mutex_unlock(&l->mu);
	if (l->writer_started)
		pthread_join(l->writer, NULL);
	for (i = 0; i < WS_MAX; i++)
		sqlite3_finalize(l->wst[i]);
	for (c = l->pool_free; c != NULL; c = next) {
		next = c->next;
		rconn_free(c);
	}
	sqlite3_close(l->wdb);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->q_cv);
	pthread_mutex_destroy(&l->pool_mu);
	pthread_cond_destroy(&l->pool_cv);
	pthread_mutex_destroy(&l->cache_mu);
	OPENSSL_cleanse(l->cache, sizeof(l->cache));
	free(l->path);
	free(l);
}

int ledger_ping(struct ledger *l, struct nrfca_err *err)
{
	struct rconn *c = reader_get(l, err);
	sqlite3_stmt *st;
	time_t stuck = 0;
	int rc, limit;

	if (c == NULL)
		return -1;
	st = rstmt(l, c, RS_PING, err);
	if (st == NULL) {
		reader_put(l, c);
		return -1;
	}
	rc = sqlite3_step(st);
	stmt_done(st);
	reader_put(l, c);
	if (rc != SQLITE_ROW)
		return db_fail(l, err, rc, NULL, "checking the database");
	limit = 2 * l->cfg.busy_timeout_ms / 1000 + 10;
	pthread_mutex_lock(&l->mu);
	if (l->q_head != NULL)
		stuck = time(NULL) - l->last_progress;
	pthread_mutex_unlock(&l->mu);
	if (stuck > limit)
		return nrfca_err_set(err, NRFCA_E_DB, "the ledger writer has committed nothing for %lld s",
		                     (long long)stuck);
	return 0;
}

void ledger_get_stats(struct ledger *l, struct ledger_stats *out)
{
	pthread_mutex_lock(&l->mu);
	*out = l->stats;
	pthread_mutex_unlock(&l->mu);
}

/* ---- certificates: changes ---- */

static int check_record(const struct cert_record *c, struct nrfca_err *err)
{
	if (c == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no certificate record given");
	if (!field_ok(c->serial, sizeof(c->serial)) || !is_hex_serial(c->serial))
		return nrfca_err_set(err, NRFCA_E_INPUT, "certificate serial must be 1 to %d lower-case hex digits",
		                     LEDGER_SERIAL_MAX);
	if (!field_ok(c->device_id, sizeof(c->device_id)) || !field_ok(c->uuid, sizeof(c->uuid)) ||
	    !field_ok(c->imei, sizeof(c->imei)) || !field_ok(c->profile, sizeof(c->profile)) ||
	    !field_ok(c->station, sizeof(c->station)) || !field_ok(c->subject, sizeof(c->subject)) ||
	    !field_ok(c->request_id, sizeof(c->request_id)))
		return nrfca_err_set(err, NRFCA_E_INPUT, "a text field of the certificate record is not terminated");
	if (c->device_id[0] == '\0' || c->profile[0] == '\0')
		return nrfca_err_set(err, NRFCA_E_INPUT, "certificate record needs a device id and a profile");
	if (c->status != CERT_ACTIVE)
		return nrfca_err_set(err, NRFCA_E_INPUT, "a newly issued certificate must be active");
	if (c->der == NULL || c->der_len == 0 || c->der_len > LEDGER_DER_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT, "certificate DER must be 1 to %d bytes", LEDGER_DER_MAX);
	return 0;
}

/* Serialise a jansson object to compact text with sorted keys. */
static char *dump(json_t *j, struct nrfca_err *err)
{
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(j);
	if (s == NULL)
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory writing an audit entry");
	return s;
}

static char *revoke_detail(const char *serial, int reason, struct nrfca_err *err)
{
	return dump(json_pack("{s:s, s:i, s:s}", "serial", serial, "reason", reason, "reason_name",
	                      crl_reason_name(reason)),
	            err);
}

int ledger_record_issuance(struct ledger *l, const struct cert_record *rec, const char *actor,
                           const char *supersede_serial, struct nrfca_err *err)
{
	struct wreq r = { 0 };
	char *detail = NULL, *detail2 = NULL;
	int ret = -1;

	if (check_record(rec, err) != 0 || check_actor(&actor, err) != 0)
		return -1;
	if (supersede_serial != NULL &&
	    (!is_hex_serial(supersede_serial) || strcmp(supersede_serial, rec->serial) == 0))
		return nrfca_err_set(err, NRFCA_E_INPUT, "the serial to supersede is malformed");
	detail = dump(json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s?}", "serial", rec->serial, "device_id",
	                        rec->device_id, "profile", rec->profile, "station", rec->station, "sec_tag",
	                        (json_int_t)rec->sec_tag, "subject", rec->subject, "supersedes",
	                        supersede_serial),
	              err);
	if (detail == NULL)
		goto out;
	if (supersede_serial != NULL &&
	    (detail2 = revoke_detail(supersede_serial, CRL_REASON_SUPERSEDED, err)) == NULL)
		goto out;
	r.op = WOP_ISSUE;
	r.rec = rec;
	r.actor = actor;
	r.serial = supersede_serial;
	r.detail = detail;
	r.detail2 = detail2;
	ret = submit(l, &r, err);
out:
	free(detail);
	free(detail2);
	return ret;
}

int ledger_revoke(struct ledger *l, const char *serial, int reason, const char *actor,
                  long long *revoked_at, struct nrfca_err *err)
{
	struct wreq r = { 0 };
	char *detail;
	int ret;

	if (!is_hex_serial(serial))
		return nrfca_err_set(err, NRFCA_E_INPUT, "certificate serial must be 1 to %d lower-case hex digits",
		                     LEDGER_SERIAL_MAX);
	if (crl_reason_name(reason) == NULL || reason == CRL_REASON_REMOVE_FROM_CRL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "revocation reason %d is not allowed", reason);
	if (check_actor(&actor, err) != 0)
		return -1;
	detail = revoke_detail(serial, reason, err);
	if (detail == NULL)
		return -1;
	r.op = WOP_REVOKE;
	r.serial = serial;
	r.reason = reason;
	r.actor = actor;
	r.detail = detail;
	ret = submit(l, &r, err);
	free(detail);
	if (ret == 0 && revoked_at != NULL)
		*revoked_at = r.out_time;
	return ret;
}

int ledger_next_crl_number(struct ledger *l, unsigned long long *out, struct nrfca_err *err)
{
	struct wreq r = { 0 };

	r.op = WOP_CRL_NUMBER;
	if (submit(l, &r, err) != 0)
		return -1;
	*out = r.out_number;
	return 0;
}

/* ---- certificates: reads ---- */

static int lookup_one(struct ledger *l, enum rstmt id, const void *key, int key_is_blob,
                      struct cert_record *out, struct nrfca_err *err)
{
	struct rconn *c = reader_get(l, err);
	sqlite3_stmt *st;
	int rc, ret = -1;

	if (c == NULL)
		return -1;
	st = rstmt(l, c, id, err);
	if (st == NULL)
		goto out;
	if (key_is_blob)
		sqlite3_bind_blob(st, 1, key, 32, SQLITE_STATIC);
	else
		bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		ret = 1;
	else if (rc != SQLITE_ROW)
		db_fail(l, err, rc, c->db, "reading a certificate");
	else if (row_to_record(l, st, out, err) == 0)
		ret = 0;
out:
	stmt_done(st);
	reader_put(l, c);
	return ret;
}

int ledger_get(struct ledger *l, const char *serial, struct cert_record *out, struct nrfca_err *err)
{
	if (!is_hex_serial(serial))
		return nrfca_err_set(err, NRFCA_E_INPUT, "certificate serial must be 1 to %d lower-case hex digits",
		                     LEDGER_SERIAL_MAX);
	return lookup_one(l, RS_GET, serial, 0, out, err);
}

int ledger_find_by_csr(struct ledger *l, const unsigned char csr_sha256[32], struct cert_record *out,
                       struct nrfca_err *err)
{
	return lookup_one(l, RS_BY_CSR, csr_sha256, 1, out, err);
}

int ledger_find_active_by_device(struct ledger *l, const char *device_id, struct cert_record *out,
                                 struct nrfca_err *err)
{
	if (device_id == NULL || device_id[0] == '\0')
		return nrfca_err_set(err, NRFCA_E_INPUT, "no device id given");
	return lookup_one(l, RS_ACTIVE_BY_DEVICE, device_id, 0, out, err);
}

int ledger_serial_exists(struct ledger *l, const char *serial, int *exists, struct nrfca_err *err)
{
	struct rconn *c;
	sqlite3_stmt *st;
	int rc, ret = -1;

	if (!is_hex_serial(serial))
		return nrfca_err_set(err, NRFCA_E_INPUT, "certificate serial must be 1 to %d lower-case hex digits",
		                     LEDGER_SERIAL_MAX);
	c = reader_get(l, err);
	if (c == NULL)
		return -1;
	st = rstmt(l, c, RS_SERIAL_EXISTS, err);
	if (st == NULL)
		goto out;
	bind_text(st, 1, serial);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		*exists = rc == SQLITE_ROW;
		ret = 0;
	} else {
		db_fail(l, err, rc, c->db, "looking up a serial");
	}
out:
	stmt_done(st);
	reader_put(l, c);
	return ret;
}

int ledger_list(struct ledger *l, const struct ledger_filter *f,
                int (*cb)(const struct cert_record *rec, void *arg), void *arg, struct nrfca_err *err)
{
	static const struct ledger_filter none = { 0 };
	struct cert_record rec = { 0 };
	struct rconn *c = NULL;
	sqlite3_stmt *st = NULL;
	const char *binds[6];
	char sql[768];
	size_t len;
	int nb = 0, i, rc, ret = -1, has_after = 0;

	if (f == NULL)
		f = &none;
	if (f->status != NULL && cert_status_from_name(f->status) < 0)
		return nrfca_err_set(err, NRFCA_E_INPUT, "status filter must be \"active\" or \"revoked\"");
	if (f->after_serial != NULL && !is_hex_serial(f->after_serial))
		return nrfca_err_set(err, NRFCA_E_INPUT, "paging serial must be lower-case hex");
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT " CERT_COLS " FROM certificates WHERE 1 = 1");
#define ADD_TEXT(field, col)                                                                   \
	if (f->field != NULL) {                                                                \
		binds[nb] = f->field;                                                          \
		nb++;                                                                          \
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND " col " = $%d", nb); \
	}
	ADD_TEXT(device_id, "device_id")
	ADD_TEXT(status, "status")
	ADD_TEXT(profile, "profile")
	ADD_TEXT(station, "station")
	if (f->after_serial != NULL) {
		binds[nb] = f->after_serial;
		nb++;
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND serial > $%d", nb);
	}
#undef ADD_TEXT
	if (f->issued_after != 0) {
		has_after = 1;
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND issued_at > $%d", nb + 1);
	}
	len += (size_t)snprintf(sql + len, sizeof(sql) - len, " ORDER BY serial");
	if (f->limit > 0)
		snprintf(sql + len, sizeof(sql) - len, " LIMIT %d", f->limit);

	c = reader_get(l, err);
	if (c == NULL)
		return -1;
	rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		db_fail(l, err, rc, c->db, "preparing the certificate list");
		goto out;
	}
	for (i = 0; i < nb; i++)
		bind_text(st, i + 1, binds[i]);
	if (has_after)
		sqlite3_bind_int64(st, nb + 1, f->issued_after);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (row_to_record(l, st, &rec, err) != 0)
			goto out;
		i = cb(&rec, arg);
		cert_record_clear(&rec);
		if (i != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_fail(l, err, rc, c->db, "listing certificates");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	reader_put(l, c);
	return ret;
}

int ledger_revoked_each(struct ledger *l, int (*cb)(const char *serial, long long revoked_at, int reason, void *arg),
                        void *arg, struct nrfca_err *err)
{
	struct rconn *c = reader_get(l, err);
	sqlite3_stmt *st;
	char serial[LEDGER_SERIAL_MAX + 1];
	int rc, ret = -1;

	if (c == NULL)
		return -1;
	st = rstmt(l, c, RS_REVOKED_EACH, err);
	if (st == NULL)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (col_text(st, 0, serial, sizeof(serial)) != 0) {
			nrfca_err_set(err, NRFCA_E_DB, "database %s holds a malformed serial", l->path);
			goto out;
		}
		if (cb(serial, sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2), arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE) {
		db_fail(l, err, rc, c->db, "listing revoked certificates");
		goto out;
	}
	ret = 0;
out:
	stmt_done(st);
	reader_put(l, c);
	return ret;
}

int ledger_count(struct ledger *l, long long *certs, long long *revoked, struct nrfca_err *err)
{
	struct rconn *c = reader_get(l, err);
	sqlite3_stmt *st;
	int rc, ret = -1;

	if (c == NULL)
		return -1;
	st = rstmt(l, c, RS_COUNT, err);
	if (st == NULL)
		goto out;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		db_fail(l, err, rc, c->db, "counting certificates");
		goto out;
	}
	if (certs != NULL)
		*certs = sqlite3_column_int64(st, 0);
	if (revoked != NULL)
		*revoked = sqlite3_column_int64(st, 1);
	ret = 0;
out:
	stmt_done(st);
	reader_put(l, c);
	return ret;
}

/* ---- audit ---- */

static int check_event(const char *event, struct nrfca_err *err)
{
	size_t i, n;

	if (event == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no audit event name given");
	n = strnlen(event, 65);
	if (n == 0 || n > 64)
		return nrfca_err_set(err, NRFCA_E_INPUT, "audit event name must be 1 to 64 characters");
	for (i = 0; i < n; i++) {
		char ch = event[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return nrfca_err_set(err, NRFCA_E_INPUT,
			                     "audit event name may hold only a-z, 0-9, '_', '.' and '-'");
	}
	return 0;
}

int ledger_audit(struct ledger *l, const char *actor, const char *event, const char *detail_json,
                 struct nrfca_err *err)
{
	struct wreq r = { 0 };
	json_error_t jerr;
	json_t *j;
	char *detail;
	size_t n;
	int ret;

	if (check_actor(&actor, err) != 0 || check_event(event, err) != 0)
		return -1;
	if (detail_json == NULL)
		detail_json = "{}";
	n = strnlen(detail_json, LEDGER_AUDIT_DETAIL_MAX + 1);
	if (n > LEDGER_AUDIT_DETAIL_MAX)
		return nrfca_err_set(err, NRFCA_E_TOO_LARGE, "audit detail is over %d bytes", LEDGER_AUDIT_DETAIL_MAX);
	j = json_loadb(detail_json, n, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return nrfca_err_set(err, NRFCA_E_INPUT, "audit detail must be a JSON object");
	}
	detail = dump(j, err);
	if (detail == NULL)
		return -1;
	r.op = WOP_AUDIT;
	r.actor = actor;
	r.event = event;
	r.detail = detail;
	ret = submit(l, &r, err);
	free(detail);
	return ret;
}

int ledger_audit_verify(struct ledger *l, long long *entries, long long *first_broken_id, char *why,
                        size_t whylen, struct nrfca_err *err)
{
	static const unsigned char zero[32];
	struct rconn *c = reader_get(l, err);
	sqlite3_stmt *st;
	unsigned char prev[32], stored_prev[32], h[32], calc[32];
	char msg[160] = "";
	long long n = 0, id = 0, prev_id = 0, at;
	int rc, ret = -1, broken = 0;

	if (c == NULL)
		return -1;
	memcpy(prev, zero, 32);
	st = rstmt(l, c, RS_AUDIT_ALL, err);
	if (st == NULL)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		at = sqlite3_column_int64(st, 1);
		n++;
		if (col_hash(st, 5, stored_prev) != 0 || col_hash(st, 6, h) != 0) {
			snprintf(msg, sizeof(msg), "entry %lld: malformed hash fields", id);
			broken = 1;
			break;
		}
		if (id != prev_id + 1) {
			snprintf(msg, sizeof(msg), "entry %lld: follows entry %lld, entries are missing", id, prev_id);
			broken = 1;
			break;
		}
		if (audit_hash(stored_prev, id, at, (const char *)sqlite3_column_text(st, 2),
		               (size_t)sqlite3_column_bytes(st, 2), (const char *)sqlite3_column_text(st, 3),
		               (size_t)sqlite3_column_bytes(st, 3), (const char *)sqlite3_column_text(st, 4),
		               (size_t)sqlite3_column_bytes(st, 4), calc) != 0) {
			nrfca_err_ssl(err, NRFCA_E_INTERNAL, "cannot hash an audit entry");
			goto out;
		}
		if (CRYPTO_memcmp(calc, h, 32) != 0) {
			snprintf(msg, sizeof(msg), "entry %lld: hash does not match its contents", id);
			broken = 1;
			break;
		}
		if (CRYPTO_memcmp(stored_prev, prev, 32) != 0) {
			if (prev_id == 0)
				snprintf(msg, sizeof(msg), "entry %lld: prev_hash of the first entry is not zero", id);
			else
				snprintf(msg, sizeof(msg), "entry %lld: prev_hash does not match entry %lld", id, prev_id);
			broken = 1;
			break;
		}
		memcpy(prev, h, 32);
		prev_id = id;
	}
	if (!broken && rc != SQLITE_DONE) {
		db_fail(l, err, rc, c->db, "reading the audit log");
		goto out;
	}
	if (entries != NULL)
		*entries = n;
	if (broken) {
		if (first_broken_id != NULL)
			*first_broken_id = id;
		ret = 1;
	} else {
		if (first_broken_id != NULL)
			*first_broken_id = 0;
		snprintf(msg, sizeof(msg), "%lld entries, chain intact", n);
		ret = 0;
	}
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", msg);
out:
	stmt_done(st);
	reader_put(l, c);
	return ret;
}

/* ---- credentials ---- */

static char *cred_detail(const char *name, const char *role, struct nrfca_err *err)
{
	if (role != NULL)
		return dump(json_pack("{s:s, s:s}", "name", name, "role", role), err);
	return dump(json_pack("{s:s}", "name", name), err);
}

int ledger_cred_add(struct ledger *l, const char *name, enum cred_role role, const unsigned char hash[32],
                    const char *actor, struct nrfca_err *err)
{
	struct wreq r = { 0 };
	char *detail;
	int ret;

	if (check_cred_name(name, err) != 0 || check_actor(&actor, err) != 0)
		return -1;
	if (cred_role_name(role) == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "unknown credential role %d", (int)role);
	if (hash == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no credential hash given");
	detail = cred_detail(name, cred_role_name(role), err);
	if (detail == NULL)
		return -1;
	r.op = WOP_CRED_ADD;
	r.name = name;
	r.role = role;
	r.hash = hash;
	r.actor = actor;
	r.detail = detail;
	ret = submit(l, &r, err);
	free(detail);
	return ret;
}

int ledger_cred_disable(struct ledger *l, const char *name, const char *actor, struct nrfca_err *err)
{
	struct wreq r = { 0 };
	char *detail;
	int ret;

	if (check_cred_name(name, err) != 0 || check_actor(&actor, err) != 0)
		return -1;
	detail = cred_detail(name, NULL, err);
	if (detail == NULL)
		return -1;
	r.op = WOP_CRED_DISABLE;
	r.name = name;
	r.actor = actor;
	r.detail = detail;
	ret = submit(l, &r, err);
	free(detail);
	return ret;
}

static unsigned cache_index(const unsigned char hash[32])
{
	return ((unsigned)hash[0] | (unsigned)hash[1] << 8) % CRED_CACHE_SLOTS;
}

static int cache_get(struct ledger *l, const unsigned char hash[32], struct cred_slot *out,
                     unsigned long *gen)
{
	time_t now = time(NULL);
	unsigned i, idx = cache_index(hash);
	int found = 0;

	pthread_mutex_lock(&l->cache_mu);
	*gen = l->cache_gen;
	for (i = 0; i < CRED_CACHE_PROBE; i++) {
		struct cred_slot *s = &l->cache[(idx + i) % CRED_CACHE_SLOTS];
		if (s->used && s->expires > now && CRYPTO_memcmp(s->hash, hash, 32) == 0) {
			*out = *s;
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&l->cache_mu);
	return found;
}

static void cache_put(struct ledger *l, const struct cred_slot *v, unsigned long gen)
{
	time_t now = time(NULL);
	unsigned i, idx = cache_index(v->hash);
	struct cred_slot *s = NULL;

	pthread_mutex_lock(&l->cache_mu);
	if (gen == l->cache_gen) { /* nothing changed since we read the database */
		for (i = 0; i < CRED_CACHE_PROBE; i++) {
			struct cred_slot *t = &l->cache[(idx + i) % CRED_CACHE_SLOTS];
			if (!t->used || t->expires <= now || memcmp(t->hash, v->hash, 32) == 0) {
				s = t;
				break;
			}
		}
		if (s == NULL)
			s = &l->cache[idx];
		*s = *v;
		s->used = 1;
		s->expires = now + CRED_CACHE_TTL_S;
	}
	pthread_mutex_unlock(&l->cache_mu);
}

int ledger_cred_lookup(struct ledger *l, const unsigned char hash[32], char name[LEDGER_CRED_NAME_MAX + 1],
                       enum cred_role *role, int *disabled, struct nrfca_err *err)
{
	struct cred_slot v = { 0 };
	struct rconn *c = NULL;
	sqlite3_stmt *st = NULL;
	unsigned long gen;
	int rc, r, ret = -1;

	if (hash == NULL)
		return nrfca_err_set(err, NRFCA_E_INPUT, "no credential hash given");
	if (!cache_get(l, hash, &v, &gen)) {
		c = reader_get(l, err);
		if (c == NULL)
			return -1;
		st = rstmt(l, c, RS_CRED_LOOKUP, err);
		if (st == NULL)
			goto out;
		sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			ret = 1;
			goto out;
		}
		if (rc != SQLITE_ROW) {
			db_fail(l, err, rc, c->db, "looking up a credential");
			goto out;
		}
		r = cred_role_from_name((const char *)sqlite3_column_text(st, 1));
		if (col_text(st, 0, v.name, sizeof(v.name)) != 0 || r < 0) {
			nrfca_err_set(err, NRFCA_E_DB, "database %s holds a malformed credential", l->path);
			goto out;
		}
		memcpy(v.hash, hash, 32);
		v.role = (enum cred_role)r;
		v.disabled = sqlite3_column_int(st, 2) != 0;
		cache_put(l, &v, gen);
	}
	memcpy(name, v.name, sizeof(v.name));
	*role = v.role;
	*disabled = v.disabled;
	ret = 0;
out:
	stmt_done(st);
	reader_put(l, c);
	return ret;
}

int ledger_cred_list(struct ledger *l,
                     int (*cb)(const char *name, enum cred_role role, int disabled, long long created, void *arg),
                     void *arg, struct nrfca_err *err)
{
	struct rconn *c = reader_get(l, err);
	sqlite3_stmt *st;
	char name[LEDGER_CRED_NAME_MAX + 1];
	int rc, r, ret = -1;

	if (c == NULL)
		return -1;
	st = rstmt(l, c, RS_CRED_LIST, err);
	if (st == NULL)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = cred_role_from_name((const char *)sqlite3_column_text(st, 1));
		if (col_text(st, 0, name, sizeof(name)) != 0 || r < 0) {
			nrfca_err_set(err, NRFCA_E_DB, "database %s holds a malformed credential", l->path);
			goto out;
		}
		if (cb(name, (enum cred_role)r, sqlite3_column_int(st, 2) != 0, sqlite3_column_int64(st, 3), arg) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE) {
		db_fail(l, err, rc, c->db, "listing credentials");
		goto out;
	}
	ret = 0;
out:
	stmt_done(st);
	reader_put(l, c);
	return ret;
}
