/*
 * ledger_int.h - the ledger core's internals, shared by ledger_*.c only.
 *
 * Layout of the ledger module:
 *   ledger.c          name tables, record and input validation, JSON details
 *   ledger_sql.c      the schema (migrations as data) and every query, once
 *   ledger_core.c     open/close, connection pool, writer thread (group
 *                     commit), migrations runner, ping, info
 *   ledger_query.c    running queries: typed parameters, rows, constraint
 *                     mapping, probe/walk/filter helpers
 *   ledger_audit.c    audit hashing, chain head, append, verify, list, backup
 *   ledger_certs.c    certificates: issuance, revocation, CRL state, reads,
 *                     rate windows
 *   ledger_creds.c    credentials, their cache, groups, expected devices
 *   ledger_copy.c     copying a whole ledger to another (migrate)
 *   ledger_sqlite.c   the SQLite engine        } ledger_engine.h
 *   ledger_pg.c       the PostgreSQL engine    }
 */
#ifndef NRFCA_LEDGER_INT_H
#define NRFCA_LEDGER_INT_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <time.h>

#include <jansson.h>

#include "ledger.h"
#include "ledger_engine.h"

#define CRED_CACHE_SLOTS 256
#define CRED_CACHE_PROBE 8
#define CRED_CACHE_TTL_S 2
#define TOUCH_SLOTS 256
#define TOUCH_INTERVAL_S 60
#define ACTOR_MAX 128

/* ---- queries (ledger_sql.c) ---- */

/* The columns of a certificate row (CERT_COLS in ledger_sql.c); a query may
 * add its own after them. */
#define LEDGER_CERT_NCOLS 21

enum qid {
	Q_SCHEMA_VERSION, Q_SCHEMA_CREATE, Q_SCHEMA_INSERT,
	/* certificates */
	Q_CERT_SELECT, Q_CERT_LIST, Q_CERT_LIST_REVOKED, Q_CERT_LIST_PROFILE, Q_GET, Q_BY_CSR, Q_ACTIVE_BY_DEVICE, Q_HOLDER, Q_CSR_OR_HOLDER, Q_SERIAL_EXISTS, Q_REVOKED_EACH,
	Q_COUNT, Q_INSERT_CERT, Q_REVOKE, Q_CERT_STATUS, Q_REVOCATION_BUMP,
	Q_REVOCATION_MARK, Q_CRL_NEXT, Q_CRL_STATE, Q_CRL_PUBLISHED, Q_CRL_PUBLISH,
	/* audit */
	Q_HEAD_LOAD, Q_HEAD_READ, Q_HEAD_STORE, Q_HEAD_INIT, Q_AUDIT_LAST, Q_AUDIT_INSERT, Q_AUDIT_ALL,
	/* credentials */
	Q_CRED_LOOKUP, Q_CRED_BY_CERT, Q_CRED_BY_SUBJECT, Q_CRED_GET, Q_CRED_ALL,
	Q_CRED_GROUPS_ALL, Q_CRED_GROUPS_OF, Q_CRED_ADD, Q_CRED_DISABLE, Q_CRED_ENABLE,
	Q_CRED_STATE, Q_CRED_ROTATE, Q_CRED_EXPIRY, Q_CRED_BIND, Q_CRED_UNBIND,
	Q_CRED_TOUCH, Q_GROUPS_CLEAR, Q_GROUP_ADD, Q_SHARE_GROUP,
	/* expected devices, rate windows */
	Q_EXPECTED_ADD, Q_EXPECTED_CHECK, Q_RATE_TAKE, Q_RATE_PRUNE,
	/* migration 2 */
	Q_M2_DUPLICATES, Q_M2_DEMOTE,
	/* copying a whole ledger */
	Q_COPY_COUNTS, Q_COPY_CERTS, Q_COPY_CREDS, Q_COPY_CRED_INSERT, Q_COPY_EXPECTED, Q_COPY_CRL,
	Q_COPY_CRL_SET,
	Q_MAX
};
extern const char *const ledger_sql[Q_MAX];

/* Logical unique constraints, recognised from what an engine reports. */
enum lcons {
	LCONS_NONE, LCONS_CERT_SERIAL, LCONS_CERT_CSR, LCONS_ONE_ACTIVE, LCONS_CRED_NAME,
	LCONS_CRED_TOKEN, LCONS_CRED_CERT, LCONS_CRED_SUBJECT, LCONS_OTHER
};
enum lcons ledger_constraint(const char *reported);

struct ledger;
struct wctx;

enum mstep_kind { MS_SQL, MS_APPEND_ONLY, MS_FN };
struct mstep {
	enum mstep_kind kind;
	const char *text;   /* MS_SQL: a script; MS_APPEND_ONLY: the table */
	int (*fn)(struct wctx *w, struct nrfca_err *err);
};
struct migration {
	int version;
	const struct mstep *steps; /* ends with text == NULL && fn == NULL */
};
extern const struct migration ledger_migrations[];
extern const int ledger_n_migrations;
#define LEDGER_SCHEMA_VERSION 5

/* Expand {BLOB} {INT} {FOR_UPDATE}; NULL when out of memory. */
char *ledger_sql_expand(const char *sql, const char *const *dialect);

/* ---- the handle ---- */

struct chain {
	long long last_id;
	unsigned char last_hash[32];
};

/* The writer's view of the running transaction. */
struct wctx {
	struct ledger *l;
	struct lconn *c;
	struct chain ch;
	int chain_loaded;   /* the head is read (and locked) */
	int chain_dirty;    /* appended: store the head before COMMIT */
};

typedef int (*apply_fn)(struct wctx *w, void *arg, struct nrfca_err *err);

#define WF_AUDITS 1   /* appends to the audit log: lock the head first */
#define WF_CREDS 2    /* changes credentials: drop the cache after COMMIT */

/* One queued change; lives on the caller's stack until done. */
struct wreq {
	apply_fn fn;
	void *arg;
	unsigned flags;
	int rc;                          /* 1 pending, 0 done, -1 failed */
	struct nrfca_err err;
	/* posted once by the writer when rc and err are final; the caller may
	 * free the request as soon as its sem_wait returns (glibc >= 2.21).
	 * A semaphore, not a condition under the ledger's mu: a woken caller
	 * does not then queue for the lock the writer and new callers take. */
	sem_t done;
	struct wreq *next;
};

struct pconn {
	struct lconn *c;
	struct pconn *next;
};

struct cred_slot {
	int used;
	unsigned long gen;           /* valid while it equals the ledger's cache_gen */
	int by_cert;                 /* keyed by certificate, not by secret */
	unsigned char key[32];       /* secret hash, or hash of (fingerprint, subject) */
	struct ledger_cred_info info;
	time_t expires;
};

struct touch_slot {
	char name[LEDGER_CRED_NAME_MAX + 1];
	time_t at;
};

struct ledger {
	const struct ledger_engine *eng;
	struct leng *e;
	struct ledger_config cfg;
	char *q[Q_MAX];             /* queries expanded for this engine */

	/* writer */
	struct lconn *wc;
	pthread_t writer;
	int writer_started;
	pthread_mutex_t mu;         /* queue, stopping, progress, stats */
	pthread_cond_t q_cv;        /* writer waits for work */
	struct wreq *q_head, *q_tail;
	int stopping;
	time_t last_progress;
	struct ledger_stats stats;
	int q_len;                  /* requests queued */
	atomic_int inflight;        /* callers inside submit() */
	double conc_est;            /* recent peak of inflight, decaying */
	double commit_us;           /* moving average of a transaction's time */
	double retry_at;            /* writer: no reconnect before (monotonic s) */
	double backoff_s;

	/* pool */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	struct pconn *pool_free;
	int pool_n;
	double pool_retry_at;       /* no new connection before (monotonic s) */
	double pool_backoff_s;

	/* credential cache and last-used throttle */
	pthread_mutex_t cache_mu;
	unsigned long cache_gen;
	struct cred_slot cache[CRED_CACHE_SLOTS];
	struct touch_slot touched[TOUCH_SLOTS];
	long long rate_pruned;      /* last window pruned */
};

/* ---- queries (ledger_query.c) and core (ledger_core.c) ---- */

/* A query in flight on one connection. */
struct lq {
	struct ledger *l;
	struct lconn *c;
	struct lres *r;
	enum lcons cons;            /* the unique constraint a failure violated */
};

/* Start query id on c with parameters described by fmt, one character each:
 * 't' text, 'T' text or NULL, 'i' long long, 'I' long long or NULL when 0,
 * 'h' 32-byte hash, 'H' hash or NULL, 'b' bytes (const void *, size_t).
 * Then lq_next() / lq_end().  Extra arguments are ignored. */
int lq_run(struct lq *q, struct ledger *l, struct lconn *c, enum qid id, struct nrfca_err *err,
           const char *fmt, ...);
/* lq_exec with a parameter array. */
long long lq_exec_p(struct lq *q, struct ledger *l, struct lconn *c, enum qid id, const struct lval *p, int np,
                    struct nrfca_err *err);
/* The same with a one-off SQL text and a parameter array. */
int lq_run_sql(struct lq *q, struct ledger *l, struct lconn *c, const char *sql,
               const struct lval *p, int np, struct nrfca_err *err);
int lq_next(struct lq *q, struct nrfca_err *err);  /* 1 row, 0 done, -1 */
void lq_end(struct lq *q);
/* Run to completion: rows changed (>= 0), or -1 (q.cons says which
 * constraint when err->code is NRFCA_E_EXISTS). */
long long lq_exec(struct lq *q, struct ledger *l, struct lconn *c, enum qid id,
                  struct nrfca_err *err, const char *fmt, ...);
/* Run and read the first row: 1 row (read columns, then lq_end), 0 none
 * (finished), -1 error (finished). */
int lq_one(struct lq *q, struct ledger *l, struct lconn *c, enum qid id, struct nrfca_err *err,
           const char *fmt, ...);
long long lq_int(struct lq *q, int col);
int lq_null(struct lq *q, int col);
/* Copy a text column into dst; -1 if it does not fit (not written by us). */
int lq_text(struct lq *q, int col, char *dst, size_t cap);
const char *lq_str(struct lq *q, int col, size_t *len);
int lq_hash(struct lq *q, int col, unsigned char dst[32]);
const void *lq_blob(struct lq *q, int col, size_t *len);
/* A malformed row: NRFCA_E_DB naming the database. */
int lq_malformed(struct lq *q, const char *what, struct nrfca_err *err);

/* On a pool connection: run query id with up to two key parameters (k1, k2
 * as fmt says) and tell whether it returned a row. */
int lq_probe(struct ledger *l, enum qid id, int *found, struct nrfca_err *err, const char *fmt, const void *k1,
             const void *k2);
/* On a pool connection: run query id (sql == NULL) or a one-off sql with
 * parameters p, and call row() for each row: 0 continue, 1 stop, -1 error
 * (err set).  0, or -1. */
int lq_walk(struct ledger *l, int id, const char *sql, const struct lval *p, int np,
            int (*row)(struct lq *q, void *ctx, struct nrfca_err *err), void *ctx, struct nrfca_err *err);

/* A one-off query with optional filters: base, then " AND <cond> $n" for
 * each filter added, then the tail (ORDER BY) and a LIMIT. */
struct sqlb {
	char sql[1024];
	size_t len;
	struct lval p[LQ_MAX_PARAMS];
	int np;
};
void sqlb_start(struct sqlb *b, const char *base);
void sqlb_raw(struct sqlb *b, const char *cond);                   /* a condition without parameter */
void sqlb_text(struct sqlb *b, const char *cond, const char *v);  /* skipped when v is NULL */
void sqlb_int(struct sqlb *b, const char *cond, long long v);     /* skipped when v is 0 */
void sqlb_end(struct sqlb *b, const char *tail, int limit);

/* Pool connections (readers; on concurrent-writer engines also small writes). */
struct lconn *pool_get(struct ledger *l, struct nrfca_err *err);
void pool_put(struct ledger *l, struct lconn *c);

/* Queue a change to the writer and wait until it is committed or failed. */
int ledger_submit(struct ledger *l, apply_fn fn, void *arg, unsigned flags,
                  struct nrfca_err *err);
/* A small un-audited change: on engines with concurrent writers in its own
 * transaction on a pool connection, else through the writer. */
int ledger_write_small(struct ledger *l, apply_fn fn, void *arg, struct nrfca_err *err);
/* Inside a small write's fn: let its transaction commit without waiting for
 * the disk (LD_ASYNC_COMMIT), for counts a crash may lose (rate windows). */
int ledger_async_commit(struct wctx *w, struct nrfca_err *err);

const char *ledger_where(const struct ledger *l);
/* An error that undoes the whole batch rather than the one request. */
int ledger_is_fatal(enum nrfca_errc c);

/* ---- audit (ledger_audit.c) ---- */

int audit_hash(const unsigned char prev[32], long long id, long long at, const char *actor,
               size_t actor_len, const char *event, size_t event_len, const char *detail,
               size_t detail_len, unsigned char out[32]);
int chain_load(struct wctx *w, struct nrfca_err *err);
int chain_store(struct wctx *w, struct nrfca_err *err);
int audit_append(struct wctx *w, const char *actor, const char *event, const char *detail,
                 struct nrfca_err *err);
/* Migration 2: create the head from the newest entry. */
int audit_head_init(struct wctx *w, struct nrfca_err *err);

/* ---- certificates (ledger_certs.c) ---- */

int ledger_m2_one_active(struct wctx *w, struct nrfca_err *err);
/* After an UPDATE ... WHERE key AND still-in-state changed nothing: tell
 * apart NRFCA_E_NOTFOUND ("<what> <key> is not in the ledger") and
 * NRFCA_E_CONFLICT ("<what> <key> <already>") with the probe query. */
int ledger_missing_or_conflict(struct wctx *w, enum qid probe, const char *key, const char *what,
                               const char *already, struct nrfca_err *err);

/* A single-row read of one or two integers on a pool connection (b may be
 * NULL); "holds a malformed <what>" when there is no row. */
int ledger_read_ints(struct ledger *l, enum qid id, long long *a, long long *b, const char *what,
                     struct nrfca_err *err);

/* ---- credentials (ledger_creds.c) ---- */

void cred_cache_invalidate(struct ledger *l);

/* ---- validation and details (ledger.c) ---- */

int ledger_is_hex_serial(const char *s);
int ledger_field_ok(const char *s, size_t cap);
int ledger_check_actor(const char **actor, struct nrfca_err *err);
int ledger_check_name(const char *what, const char *name, struct nrfca_err *err);
int ledger_check_printable(const char *what, const char *s, size_t max, struct nrfca_err *err);
int ledger_check_event(const char *event, struct nrfca_err *err);
int ledger_check_record(const struct cert_record *c, struct nrfca_err *err);
int ledger_serial_input(const char *serial, struct nrfca_err *err);
/* Serialise a jansson object (consumed) to compact text with sorted keys. */
char *ledger_dump(json_t *j, struct nrfca_err *err);
char *ledger_revoke_detail(const char *serial, int reason, const char *by,
                           struct nrfca_err *err);
long long ledger_now(void);
double ledger_mono_s(void);

#endif
